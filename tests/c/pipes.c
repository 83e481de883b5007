/* Pipes: large writes across processes, EPIPE and SIGPIPE, O_NONBLOCK. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2], st;
    pipe(p);
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        char buf[4096];
        memset(buf, 'z', sizeof buf);
        for (int i = 0; i < 256; i++) write(p[1], buf, sizeof buf);
        _exit(0);
    }
    close(p[1]);
    long total = 0;
    char buf[8192];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0) total += n;
    waitpid(c, &st, 0);
    printf("read %ld bytes, then EOF %zd\n", total, n);
    close(p[0]);

    pipe(p);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    ssize_t wr = write(p[1], "x", 1);
    printf("write to closed pipe: %zd %s\n", wr, strerror(errno));
    signal(SIGPIPE, SIG_DFL);
    c = fork();
    if (c == 0) {
        write(p[1], "x", 1);
        _exit(0);
    }
    waitpid(c, &st, 0);
    printf("default SIGPIPE: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));
    close(p[1]);

    pipe2(p, O_NONBLOCK);
    errno = 0;
    ssize_t rd = read(p[0], buf, 1);
    printf("empty nonblocking read: %zd %s\n", rd, strerror(errno));
    long w = 0;
    while ((n = write(p[1], buf, sizeof buf)) > 0) w += n;
    printf("nonblocking pipe filled at %ld, then %s\n", w, strerror(errno));
    printf("flags: %d\n", (fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0);
    errno = 0;
    int pr = pipe(NULL);
    printf("pipe(NULL): %d %s\n", pr, strerror(errno));
    return 0;
}
