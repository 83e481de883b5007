/* The raw cost moat's getppid is held to: one PTRACE_SYSEMU round trip
 * (resume, stop, GETREGS, SETREGS) with tracer and tracee on one CPU. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof set, &set);
    pid_t c = fork();
    if (c == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        for (;;) syscall(SYS_getppid);
    }
    waitpid(c, NULL, 0);
    ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD);
    struct user_regs_struct r;
    long n = 100000;
    struct timespec a, b;
    for (long i = 0; i < n + n / 10; i++) {
        if (i == n / 10) clock_gettime(CLOCK_MONOTONIC, &a);
        ptrace(PTRACE_SYSEMU, c, 0, 0);
        waitpid(c, NULL, __WALL);
        ptrace(PTRACE_GETREGS, c, 0, &r);
        r.rax = 1;
        ptrace(PTRACE_SETREGS, c, 0, &r);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("ptrace_roundtrip %.0f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
    kill(c, SIGKILL);
    return 0;
}
