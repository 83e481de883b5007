/* Scheduling policy calls and the robust futex list head: what is set is
 * reported back, priorities are checked against the policy, and a child
 * inherits its parent's policy. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    int policies[] = {SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, 42};
    for (int i = 0; i < 6; i++) {
        printf("policy %d: ", policies[i]);
        show("max", sched_get_priority_max(policies[i]));
        printf("policy %d: ", policies[i]);
        show("min", sched_get_priority_min(policies[i]));
    }
    show("getscheduler", sched_getscheduler(0));
    struct sched_param p = {0};
    show("set SCHED_BATCH", sched_setscheduler(0, SCHED_BATCH, &p));
    show("getscheduler", sched_getscheduler(0));
    pid_t c = fork();
    if (c == 0) _exit(sched_getscheduler(0));
    int st;
    waitpid(c, &st, 0);
    printf("child's policy %d\n", WEXITSTATUS(st));
    p.sched_priority = 5;
    show("priority 5 for SCHED_OTHER", sched_setscheduler(0, SCHED_OTHER, &p));
    show("unknown policy", sched_setscheduler(0, 42, &p));
    show("negative pid", sched_getscheduler(-1));
    show("null param", sched_setscheduler(0, SCHED_OTHER, NULL));
    p.sched_priority = 0;
    show("setparam", sched_setparam(0, &p));
    p.sched_priority = 9;
    show("getparam", sched_getparam(0, &p));
    printf("priority %d\n", p.sched_priority);
    show("back to SCHED_OTHER", sched_setscheduler(0, SCHED_OTHER, &p));
    struct timespec ts;
    show("rr interval", sched_rr_get_interval(0, &ts));

    struct robust_list_head head;
    show("set_robust_list", syscall(SYS_set_robust_list, &head, sizeof head));
    void *got = 0;
    size_t len = 0;
    show("get_robust_list", syscall(SYS_get_robust_list, 0, &got, &len));
    printf("head is ours %d, len %zu\n", got == &head, len);
    show("bad length", syscall(SYS_set_robust_list, &head, 7));
    return 0;
}
