/* Per-operation cost of common system calls, printed as "name ns_per_op".
 * Run natively, under moat do, and under runsc do, in the same harness run. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts); /* no vDSO: the same call everywhere */
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#define BENCH(name, n, body)                                  \
    do {                                                      \
        for (long i_ = 0; i_ < (n) / 10; i_++) { body; }      \
        double t0_ = now();                                   \
        for (long i_ = 0; i_ < (n); i_++) { body; }           \
        printf("%s %.0f\n", name, (now() - t0_) / (n));       \
    } while (0)

int main(int argc, char **argv) {
    long scale = argc > 1 ? atol(argv[1]) : 1;
    const char *file = argc > 2 ? argv[2] : "/etc/hostname";
    char buf[4096];
    struct stat st;
    BENCH("getppid", 20000 * scale, syscall(SYS_getppid));
    struct timespec ts_;
    BENCH("clock_gettime", 200000 * scale, clock_gettime(CLOCK_MONOTONIC, &ts_));
    BENCH("open_read_close", 2000 * scale, {
        int fd = open(file, O_RDONLY);
        read(fd, buf, sizeof buf);
        close(fd);
    });
    BENCH("stat", 2000 * scale, stat(file, &st));
    BENCH("fork_exit_wait", 20 * scale, {
        pid_t p = fork();
        if (p == 0) _exit(0);
        waitpid(p, NULL, 0);
    });
    /* 1 GiB through a pipe, in 64 KiB writes, as ns per MiB. */
    int fds[2];
    pipe(fds);
    static char chunk[65536];
    long total = 1L << 30;
    double t0 = now();
    pid_t p = fork();
    if (p == 0) {
        close(fds[0]);
        for (long done = 0; done < total; done += sizeof chunk) write(fds[1], chunk, sizeof chunk);
        _exit(0);
    }
    close(fds[1]);
    long got = 0;
    ssize_t n;
    while ((n = read(fds[0], chunk, sizeof chunk)) > 0) got += n;
    waitpid(p, NULL, 0);
    printf("pipe_1gib_per_mib %.0f\n", (now() - t0) / (got >> 20));
    return 0;
}
