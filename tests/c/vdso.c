/* Time through the vDSO: it is announced in the auxiliary vector, listed
 * in /proc/self/maps, and its answers agree with the system calls. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    printf("AT_SYSINFO_EHDR set %d\n", getauxval(AT_SYSINFO_EHDR) != 0);
    FILE *m = fopen("/proc/self/maps", "r");
    char line[512];
    int vdso = 0;
    while (fgets(line, sizeof line, m))
        if (strstr(line, "[vdso]")) vdso++;
    printf("[vdso] in maps %d\n", vdso);
    struct timespec a, b, s;
    clock_gettime(CLOCK_MONOTONIC, &a);
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &s);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long ta = a.tv_sec * 1000000000LL + a.tv_nsec, tb = b.tv_sec * 1000000000LL + b.tv_nsec,
              ts = s.tv_sec * 1000000000LL + s.tv_nsec;
    printf("monotonic: the system call's answer lies between the vDSO's %d\n", ta <= ts && ts <= tb);
    struct timeval tv;
    gettimeofday(&tv, 0);
    time_t t = time(0);
    printf("time agrees with gettimeofday %d\n", t - tv.tv_sec <= 1 && tv.tv_sec - t <= 1);
    struct timespec cpu;
    printf("process CPU clock %d\n", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0);
    unsigned c = 99;
    printf("getcpu %d\n", getcpu(&c, 0) == 0 && c < 1024);
    return 0;
}
