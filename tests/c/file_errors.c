/* errno of file calls: bad paths, bad descriptors, bad pointers. (EROFS
 * is covered where the native side can be read-only too.) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRY(what, call)                                                   \
    do {                                                                  \
        errno = 0;                                                        \
        long r_ = (long)(call);                                           \
        printf("%-34s %ld %s\n", what, r_ < 0 ? -1L : 0L, strerror(errno)); \
    } while (0)

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct stat st;
    char buf[64];
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    TRY("open missing", open("/nonexistent/x", O_RDONLY));
    TRY("open through a file", open("/etc/passwd/x", O_RDONLY));
    TRY("open dir for writing", open("/etc", O_WRONLY));
    TRY("open file as directory", open("/etc/passwd", O_RDONLY | O_DIRECTORY));
    TRY("open symlink with NOFOLLOW", open("/bin", O_RDONLY | O_NOFOLLOW));
    TRY("exclusive create of existing", open("/etc/passwd", O_WRONLY | O_CREAT | O_EXCL, 0644));
    TRY("name too long", open(longname, O_RDONLY));
    TRY("bad path pointer", open((char *)8, O_RDONLY));
    TRY("stat bad buffer", stat("/etc/passwd", (struct stat *)8));
    TRY("stat ok", stat("/etc/passwd", &st));
    TRY("lstat of symlink", lstat("/bin", &st));
    printf("is link: %d\n", S_ISLNK(st.st_mode));
    TRY("read bad fd", read(99, buf, 1));
    int fd = open("/etc/hostname", O_RDONLY);
    TRY("read into bad buffer", read(fd, (char *)8, 4));
    TRY("write to read-only fd", write(fd, "x", 1));
    TRY("lseek bad whence", lseek(fd, 0, 99));
    TRY("lseek negative", lseek(fd, -5, SEEK_SET));
    TRY("close twice", (close(fd), close(fd)));
    TRY("dup2 to same", dup2(1, 1));
    TRY("dup3 to same", dup3(1, 1, 0));
    TRY("fcntl bad cmd", fcntl(1, 9999));
    TRY("getcwd small buffer", getcwd(buf, 1) == NULL ? -1 : 0);
    TRY("chdir to file", chdir("/etc/passwd"));
    TRY("readlink not a link", readlink("/etc/passwd", buf, sizeof buf));
    TRY("access X_OK plain file", access("/etc/passwd", X_OK));
    TRY("access missing", access("/nonexistent", F_OK));
    return 0;
}
