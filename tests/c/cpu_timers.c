/* ITIMER_VIRTUAL and ITIMER_PROF fire after the process used the CPU time,
 * re-arm with their interval, stand still while it sleeps, and are not
 * inherited by fork. Prints facts, not figures. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int vt, prof;

static void on_vt(int s) {
    (void)s;
    vt++;
}

static void on_prof(int s) {
    (void)s;
    prof++;
}

/* Spins until `target` (a counter a handler bumps) reaches `n`, or 10 s. */
static int spin_until(volatile int *target, int n) {
    time_t start = time(NULL);
    volatile unsigned long x = 0;
    while (*target < n) {
        for (int i = 0; i < 100000; i++)
            x = x * 31 + i;
        if (time(NULL) - start > 10)
            return 0;
    }
    return 1;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGVTALRM, on_vt);
    signal(SIGPROF, on_prof);
    struct itimerval it = {{0, 20000}, {0, 50000}}, cur;
    printf("set virtual: %d\n", setitimer(ITIMER_VIRTUAL, &it, NULL));
    getitimer(ITIMER_VIRTUAL, &cur);
    /* Linux adds one kernel tick to the value of a CPU-time timer. */
    printf("armed: value in (0, 60 ms] %d, interval 20 ms %d\n",
           cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0 && cur.it_value.tv_usec <= 60000,
           cur.it_interval.tv_sec == 0 && cur.it_interval.tv_usec == 20000);
    /* Sleeping uses no CPU: the virtual timer does not fire. */
    struct timespec nap = {0, 150 * 1000 * 1000};
    nanosleep(&nap, NULL);
    printf("after sleeping 150 ms: fired %d\n", vt);
    printf("spinning: it fires and re-arms: %d\n", spin_until(&vt, 3));
    struct itimerval off = {{0, 0}, {0, 0}}, old;
    setitimer(ITIMER_VIRTUAL, &off, &old);
    printf("disarm returns the interval: %d\n", old.it_interval.tv_usec == 20000);
    getitimer(ITIMER_VIRTUAL, &cur);
    printf("disarmed: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);

    struct itimerval once = {{0, 0}, {0, 30000}};
    setitimer(ITIMER_PROF, &once, NULL);
    printf("prof fires: %d\n", spin_until(&prof, 1));
    getitimer(ITIMER_PROF, &cur);
    printf("one-shot prof is spent: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);

    struct itimerval long_one = {{0, 0}, {100, 0}};
    setitimer(ITIMER_PROF, &long_one, NULL);
    pid_t c = fork();
    if (c == 0) {
        getitimer(ITIMER_PROF, &cur);
        printf("child inherits no timer: %d\n", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    getitimer(ITIMER_PROF, &cur);
    printf("parent keeps its timer: %d\n", cur.it_value.tv_sec >= 99);
    errno = 0;
    int r = setitimer(7, &it, NULL);
    printf("unknown timer: %d %s\n", r, strerror(errno));
    return 0;
}
