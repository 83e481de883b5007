/* Directories on the sandbox's /tmp: make, list, rename, remove, errnos. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRY(what, call)                                         \
    do {                                                        \
        errno = 0;                                              \
        int r_ = (call);                                        \
        printf("%-28s %d %s\n", what, r_, r_ < 0 ? strerror(errno) : ""); \
    } while (0)

static int count(const char *d) {
    DIR *dir = opendir(d);
    int n = 0;
    while (readdir(dir)) n++;
    closedir(dir);
    return n;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char base[] = "/tmp/moat-dirs-XXXXXX";
    mkdtemp(base);
    chdir(base);
    TRY("mkdir a", mkdir("a", 0755));
    TRY("mkdir a again", mkdir("a", 0755));
    TRY("mkdir a/b/c", mkdir("a/b/c", 0755));
    TRY("mkdir a/b", mkdir("a/b", 0700));
    TRY("create a/b/f", close(open("a/b/f", O_CREAT | O_WRONLY, 0644)));
    TRY("rmdir non-empty a", rmdir("a"));
    TRY("rename a/b -> c", rename("a/b", "c"));
    TRY("rename c -> c/sub", rename("c", "c/sub"));
    TRY("rename file over dir", rename("c/f", "a"));
    TRY("rename dir over file", rename("a", "c/f"));
    TRY("unlink a dir", unlink("a"));
    TRY("rmdir a file", rmdir("c/f"));
    TRY("rmdir .", rmdir("."));
    printf("entries in c: %d\n", count("c"));
    TRY("chdir c", chdir("c"));
    char cwd[256];
    printf("getcwd ends in /c: %d\n", strcmp(strrchr(getcwd(cwd, sizeof cwd), '/'), "/c") == 0);
    TRY("chdir ..", chdir(".."));
    TRY("unlink c/f", unlink("c/f"));
    TRY("rmdir c", rmdir("c"));
    TRY("rmdir a", rmdir("a"));
    chdir("/");
    TRY("rmdir base", rmdir(base));
    return 0;
}
