/* getrusage, wait4's rusage and times: a child's CPU time and peak memory
 * reach its parent only when reaped, survive execve, and add up through
 * grandchildren. Prints facts, not figures, so native and moat compare. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long ms(struct rusage *r) {
    return (r->ru_utime.tv_sec + r->ru_stime.tv_sec) * 1000 + (r->ru_utime.tv_usec + r->ru_stime.tv_usec) / 1000;
}

/* Spins until this process has used `target` ms of CPU (or 20 s passed). */
static int burn(long target) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    volatile unsigned long x = 0;
    for (;;) {
        for (int i = 0; i < 2000000; i++)
            x = x * 31 + i;
        struct rusage r;
        getrusage(RUSAGE_SELF, &r);
        if (ms(&r) >= target)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 20)
            return 0;
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct rusage r;
    if (argc > 1 && strcmp(argv[1], "after-exec") == 0) {
        getrusage(RUSAGE_SELF, &r);
        printf("after execve the CPU time is kept: %d\n", ms(&r) >= 150);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        pid_t g = fork();
        if (g == 0) {
            _exit(burn(150) ? 0 : 1);
        }
        int st;
        waitpid(g, &st, 0);
        getrusage(RUSAGE_CHILDREN, &r);
        printf("child: grandchild reaped, its time counted: %d\n", ms(&r) >= 150);
        printf("child: burned 150 ms: %d\n", burn(150));
        struct timespec pt, tt, res;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &pt);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &tt);
        clock_getres(CLOCK_PROCESS_CPUTIME_ID, &res);
        printf("child: CPU clocks past 100 ms: process %d thread %d clock() %d; resolution %ld ns\n",
               pt.tv_sec * 1000 + pt.tv_nsec / 1000000 >= 100, tt.tv_sec * 1000 + tt.tv_nsec / 1000000 >= 100,
               clock() >= CLOCKS_PER_SEC / 10, res.tv_nsec);
        fflush(stdout);
        execl("/proc/self/exe", argv[0], "after-exec", (char *)NULL);
        return 99;
    }
    getrusage(RUSAGE_SELF, &r);
    printf("ru_maxrss of a running process is set: %d\n", r.ru_maxrss > 0);
    pid_t c = fork();
    if (c == 0) {
        execl("/proc/self/exe", argv[0], "child", (char *)NULL);
        _exit(98);
    }
    siginfo_t si;
    struct rusage peek;
    /* The raw call's fifth argument: the waited child's usage. */
    syscall(SYS_waitid, P_PID, c, &si, WEXITED | WNOWAIT, &peek);
    printf("waitid's usage holds the child's time: %d\n", ms(&peek) >= 300);
    getrusage(RUSAGE_CHILDREN, &r);
    printf("an unreaped child counts for nothing: %d\n", ms(&r) == 0 && r.ru_maxrss == 0);
    int st;
    struct rusage child;
    pid_t got = wait4(c, &st, 0, &child);
    printf("wait4 reaped it: %d, status %d\n", got == c, WEXITSTATUS(st));
    printf("wait4's usage holds the child's and grandchild's time: %d\n", ms(&child) >= 300);
    getrusage(RUSAGE_CHILDREN, &r);
    printf("RUSAGE_CHILDREN now: time %d\n", ms(&r) >= 300);
    struct tms t;
    times(&t);
    long tck = sysconf(_SC_CLK_TCK);
    printf("times: children %d, self under the children %d\n", (t.tms_cutime + t.tms_cstime) * 1000 / tck >= 290,
           t.tms_utime + t.tms_stime < t.tms_cutime + t.tms_cstime);
    /* Peak memory: a child that touches 64 MiB and exits, without execve
     * (across execve Linux's accounting of the peak is its own matter). */
    c = fork();
    if (c == 0) {
        char *volatile big = malloc(64 << 20);
        memset((char *)big, 1, 64 << 20);
        _exit(big[12345] == 1 ? 0 : 1);
    }
    wait4(c, &st, 0, &child);
    printf("wait4's usage holds the child's peak memory: %d\n", child.ru_maxrss >= 60000);
    getrusage(RUSAGE_CHILDREN, &r);
    printf("RUSAGE_CHILDREN holds it too: %d\n", r.ru_maxrss >= 60000);
    printf("bad who: %d\n", getrusage(7, &r));
    return 0;
}
