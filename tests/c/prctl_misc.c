/* prctl: dumpable, timer slack, the capability bounding set, the parent
 * death signal, and child subreapers (an orphan's new parent, and its
 * wait), all compared with Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static int report[2];
static void on_usr1(int s) {
    (void)s;
    write(report[1], "U", 1);
}

int main(void) {
    show("get dumpable", prctl(PR_GET_DUMPABLE));
    show("set dumpable 0", prctl(PR_SET_DUMPABLE, 0));
    show("get dumpable", prctl(PR_GET_DUMPABLE));
    show("set dumpable 2", prctl(PR_SET_DUMPABLE, 2));
    prctl(PR_SET_DUMPABLE, 1);

    show("default slack", prctl(PR_GET_TIMERSLACK));
    prctl(PR_SET_TIMERSLACK, 123456);
    show("slack", prctl(PR_GET_TIMERSLACK));
    pid_t c = fork();
    if (c == 0) _exit(prctl(PR_GET_TIMERSLACK) == 123456 ? 7 : 8);
    int st;
    waitpid(c, &st, 0);
    printf("child inherits slack: %d\n", WEXITSTATUS(st) == 7);
    prctl(PR_SET_TIMERSLACK, 0);
    show("slack reset", prctl(PR_GET_TIMERSLACK));

    show("capbset CHOWN", prctl(PR_CAPBSET_READ, 0));
    show("capbset 200", prctl(PR_CAPBSET_READ, 200));
    show("unknown option", prctl(12345));

    int sig = -1;
    prctl(PR_GET_PDEATHSIG, &sig);
    printf("pdeathsig %d\n", sig);
    show("bad pdeathsig", prctl(PR_SET_PDEATHSIG, 99));
    int v = -1;
    prctl(PR_GET_CHILD_SUBREAPER, &v);
    printf("subreaper %d\n", v);

    /* A grandchild whose parent dies: it gets its death signal and
     * becomes this process's child, this process being a subreaper. */
    show("set subreaper", prctl(PR_SET_CHILD_SUBREAPER, 1));
    prctl(PR_GET_CHILD_SUBREAPER, &v);
    printf("subreaper %d\n", v);
    pipe(report);
    int ready[2];
    pipe(ready);
    pid_t me = getpid();
    pid_t mid = fork();
    if (mid == 0) {
        pid_t g = fork();
        if (g == 0) {
            signal(SIGUSR1, on_usr1);
            prctl(PR_SET_PDEATHSIG, SIGUSR1);
            int s = 0;
            prctl(PR_GET_PDEATHSIG, &s);
            write(ready[1], "r", 1);
            /* Wait for the parent's death, then say who adopted us. */
            while (getppid() != me) usleep(1000);
            char msg[64];
            int n = snprintf(msg, sizeof msg, "pdeathsig set %d, adopted by the subreaper\n", s);
            write(report[1], msg, n);
            _exit(5);
        }
        char b;
        read(ready[0], &b, 1);
        _exit(0);
    }
    waitpid(mid, 0, 0);
    char buf[128] = {0};
    int got = 0;
    while (got < 2) {
        int n = read(report[0], buf + got, sizeof buf - 1 - got);
        if (n <= 0) break;
        got += n;
        if (strchr(buf, '\n')) break;
    }
    printf("grandchild says: %s", buf);
    pid_t w = waitpid(-1, &st, 0);
    printf("reaped the orphan: %d, status %d\n", w > 0 && w != mid, WEXITSTATUS(st));
    show("no more children", waitpid(-1, 0, WNOHANG));
    return 0;
}
