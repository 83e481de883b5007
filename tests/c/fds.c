/* Descriptors: dup family, F_DUPFD, close-on-exec, shared offsets, O_APPEND. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = open("/etc/passwd", O_RDONLY);
    int d = dup(fd);
    char a[5] = {0}, b[5] = {0};
    read(fd, a, 4);
    read(d, b, 4);
    printf("dup shares the offset: %d\n", strcmp(a, b) != 0 && lseek(fd, 0, SEEK_CUR) == 8);
    printf("dup2 onto 50: %d\n", dup2(fd, 50));
    printf("F_DUPFD from 60: %d\n", fcntl(fd, F_DUPFD, 60));
    int c = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    printf("F_DUPFD_CLOEXEC flag: %d\n", fcntl(c, F_GETFD) & FD_CLOEXEC);
    printf("dup3 O_CLOEXEC: %d\n", fcntl(dup3(fd, 70, O_CLOEXEC), F_GETFD));
    errno = 0;
    printf("dup3 bad flags: %d %s\n", dup3(fd, 71, 1), strerror(errno));
    printf("F_GETFL access mode: %d\n", fcntl(fd, F_GETFL) & O_ACCMODE);
    int p[2];
    pipe(p);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    printf("F_SETFL O_NONBLOCK kept: %d\n", (fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0);
    fcntl(70, F_SETFD, 0);
    fcntl(50, F_SETFD, FD_CLOEXEC);
    pid_t k = fork();
    if (k == 0) {
        execl("/bin/busybox", "sh", "-c", "ls /proc/self/fd/70 >/dev/null 2>&1 && echo 70 open; "
              "(exec 3</proc/self/fd/50) 2>/dev/null && echo 50 open || echo 50 closed by exec", (char *)0);
        _exit(99);
    }
    int st;
    waitpid(k, &st, 0);
    close(fd);
    errno = 0;
    printf("closed fd reads: %zd %s\n", read(fd, a, 1), strerror(errno));
    printf("the dup still reads: %zd\n", read(d, a, 1));
    printf("lseek SEEK_END of /etc/hostname: %d\n", lseek(open("/etc/hostname", O_RDONLY), 0, SEEK_END) > 0);
    return 0;
}
