/* Setting the wall clock: EINVAL for a bad time or a clock that cannot be
 * set, EPERM without CAP_SYS_TIME, and success for root setting the clock
 * to the time it already shows (natively that changes the host's clock by
 * the microseconds between the read and the write, which is why the time
 * set is always the one just read). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CAP_SYS_TIME_BIT 25

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static long set_now_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return syscall(SYS_clock_settime, CLOCK_REALTIME, &ts);
}

static long set_now_tod(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return syscall(SYS_settimeofday, &tv, NULL);
}

static void probes(const char *who) {
    printf("--- %s\n", who);
    show("clock_settime(REALTIME, now)", set_now_clock());
    show("settimeofday(now)", set_now_tod());
    struct timespec bad = {1, 1000000000};
    show("clock_settime(REALTIME, nsec 1e9)", syscall(SYS_clock_settime, CLOCK_REALTIME, &bad));
    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    show("clock_settime(MONOTONIC, now)", syscall(SYS_clock_settime, CLOCK_MONOTONIC, &mono));
    struct timeval badtv = {1, 1000000};
    show("settimeofday(usec 1e6)", syscall(SYS_settimeofday, &badtv, NULL));
    struct timezone far = {2000, 0};
    show("settimeofday(NULL, 2000 minutes west)", syscall(SYS_settimeofday, NULL, &far));
    show("settimeofday(NULL, NULL)", syscall(SYS_settimeofday, NULL, NULL));
    fflush(stdout);
}

static void drop_sys_time(void) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    d[0].effective &= ~(1u << CAP_SYS_TIME_BIT);
    d[0].permitted &= ~(1u << CAP_SYS_TIME_BIT);
    syscall(SYS_capset, &h, d);
}

int main(void) {
    probes("root");
    pid_t p = fork();
    if (p == 0) {
        drop_sys_time();
        probes("root without CAP_SYS_TIME");
        _exit(0);
    }
    waitpid(p, NULL, 0);
    p = fork();
    if (p == 0) {
        if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)) _exit(9);
        probes("uid 1000");
        _exit(0);
    }
    waitpid(p, NULL, 0);
    return 0;
}
