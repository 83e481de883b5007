/* Symlinks: loops, dangling links, relative targets, lstat vs stat. */
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
        long r_ = (long)(call);                                 \
        printf("%-30s %ld %s\n", what, r_ < 0 ? -1L : 0L, r_ < 0 ? strerror(errno) : ""); \
    } while (0)

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char base[] = "/tmp/moat-links-XXXXXX";
    mkdtemp(base);
    chdir(base);
    mkdir("d", 0755);
    close(open("d/f", O_CREAT | O_WRONLY, 0644));
    symlink("d/f", "rel");
    symlink("../d/f", "d/up");
    symlink("loop2", "loop1");
    symlink("loop1", "loop2");
    symlink("nowhere", "dangling");
    symlink("d", "dirlink");
    struct stat st;
    TRY("stat rel", stat("rel", &st));
    printf("is regular: %d\n", S_ISREG(st.st_mode));
    TRY("lstat rel", lstat("rel", &st));
    printf("is link: %d\n", S_ISLNK(st.st_mode));
    TRY("stat d/up (relative ..)", stat("d/up", &st));
    TRY("stat loop", stat("loop1", &st));
    TRY("open loop", open("loop1", O_RDONLY));
    TRY("stat dangling", stat("dangling", &st));
    TRY("lstat dangling", lstat("dangling", &st));
    TRY("open rel O_NOFOLLOW", open("rel", O_RDONLY | O_NOFOLLOW));
    TRY("open through dirlink", open("dirlink/f", O_RDONLY));
    TRY("create through dangling", open("dangling", O_CREAT | O_WRONLY, 0644));
    TRY("stat what it created", stat("nowhere", &st));
    TRY("create excl on a link", open("rel", O_CREAT | O_EXCL | O_WRONLY, 0644));
    char buf[64] = {0};
    TRY("readlink d/up", readlink("d/up", buf, sizeof buf));
    printf("target: %s\n", buf);
    TRY("mkdir over a link", mkdir("rel", 0755));
    TRY("rmdir through dirlink/", rmdir("dirlink/"));
    TRY("unlink the link", unlink("dirlink"));
    TRY("dir survived", stat("d", &st));
    system("/bin/busybox rm -rf /tmp/moat-links-*");
    return 0;
}
