/* What a program learns about its system: ids, limits, CPUs, uname. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("uid %d euid %d gid %d egid %d\n", getuid(), geteuid(), getgid(), getegid());
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    printf("resuid %d %d %d, groups %d\n", r, e, s, getgroups(0, NULL));
    printf("page size %ld, clock ticks %ld, online CPUs %ld\n", sysconf(_SC_PAGESIZE), sysconf(_SC_CLK_TCK),
           sysconf(_SC_NPROCESSORS_ONLN));
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    printf("affinity CPUs %d\n", CPU_COUNT(&set));
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("nofile %lu/%lu\n", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
    getrlimit(RLIMIT_STACK, &rl);
    printf("stack %lu\n", (unsigned long)rl.rlim_cur);
    struct utsname u;
    uname(&u);
    printf("sysname %s machine %s\n", u.sysname, u.machine);
    printf("priority %d\n", getpriority(PRIO_PROCESS, 0));
    printf("umask %o\n", (umask(022), umask(022)));
    return 0;
}
