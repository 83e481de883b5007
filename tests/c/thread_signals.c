/* Signals and threads: per-thread masks (a process-directed signal goes to
 * the one thread not blocking it), pthread_kill, tgkill and raise running
 * the handler in the target thread, per-thread pending sets, sigwait in a
 * dedicated thread for signals blocked everywhere, masks inherited by new
 * threads and changed per thread, pthread_sigmask's old mask, dispositions
 * shared by all threads, and tgkill/tkill errors. Which thread handled a
 * signal is found by comparing pthread_self() with the stored handles. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int failures;
static void expect(const char *what, long r, long want) {
    int e = errno;
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(e));
    else printf("%s: %ld\n", what, r);
    if ((r < 0 ? -e : r) != want) {
        printf("FAILED: %s\n", what);
        failures++;
    }
}

#define T 4
static const char *names[T + 1] = {"main", "A", "B", "C", "D"};
static pthread_t ids[T + 1];
static pid_t tids[T + 1];
static volatile sig_atomic_t handled_by[NSIG];
static volatile sig_atomic_t handled_count[NSIG];

static int me(void) {
    pthread_t s = pthread_self();
    for (int i = 0; i <= T; i++)
        if (pthread_equal(ids[i], s)) return i;
    return -1;
}

static void handler(int sig) {
    handled_by[sig] = me();
    handled_count[sig]++;
}

static void pause_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, 0);
}

static void await(int sig) {
    for (int i = 0; i < 2000 && !handled_count[sig]; i++) pause_ms(1);
}

static void report(const char *what, int sig, int want) {
    int by = handled_by[sig];
    printf("%s: handled %d time(s), by %s\n", what, (int)handled_count[sig], by >= 0 ? names[by] : "nobody");
    if (by != want || handled_count[sig] != 1) failures++;
    handled_count[sig] = 0;
    handled_by[sig] = -1;
}

static pthread_barrier_t ready;
static volatile int stop;
static volatile int mask_seen[T + 1];
static volatile int pending_seen[T + 1];
static volatile int a_armed;

static sigset_t one(int sig) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    return s;
}

static void *worker(void *arg) {
    int i = (int)(long)arg;
    ids[i] = pthread_self();
    tids[i] = (pid_t)syscall(SYS_gettid);
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, 0, &cur);
    mask_seen[i] = sigismember(&cur, SIGUSR1);
    /* B takes SIGUSR1; everyone else keeps it blocked, as main does. */
    if (i == 2) {
        sigset_t s = one(SIGUSR1);
        pthread_sigmask(SIG_UNBLOCK, &s, 0);
    }
    pthread_barrier_wait(&ready);
    while (!stop) {
        if (i == 1 && a_armed) {
            /* A: sees its own pending SIGUSR1 once main has sent it. */
            sigset_t p;
            sigpending(&p);
            if (sigismember(&p, SIGUSR1) && !pending_seen[1]) {
                pending_seen[1] = 1;
                sigset_t s = one(SIGUSR1);
                pthread_sigmask(SIG_UNBLOCK, &s, 0);
                pthread_sigmask(SIG_BLOCK, &s, 0);
            }
        }
        pause_ms(1);
    }
    return 0;
}

static volatile int waited_sigs[4];
static volatile int waited_value;
static void *sigwaiter(void *arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGHUP);
    sigaddset(&s, SIGRTMIN);
    pthread_barrier_wait(&ready);
    int sig;
    sigwait(&s, &sig);
    waited_sigs[0] = sig;
    siginfo_t si;
    waited_sigs[1] = sigwaitinfo(&s, &si);
    waited_value = si.si_value.sival_int;
    return 0;
}

static void *child_mask(void *arg) {
    sigset_t cur, s = one(SIGUSR2);
    pthread_sigmask(SIG_SETMASK, 0, &cur);
    int *out = arg;
    out[0] = sigismember(&cur, SIGUSR1);
    out[1] = sigismember(&cur, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, 0);
    pthread_sigmask(SIG_SETMASK, 0, &cur);
    out[2] = sigismember(&cur, SIGUSR2);
    struct sigaction sa = {0};
    sa.sa_handler = SIG_IGN;
    sigaction(SIGWINCH, &sa, 0);
    return 0;
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    ids[0] = pthread_self();
    tids[0] = (pid_t)syscall(SYS_gettid);
    for (int s = 0; s < NSIG; s++) handled_by[s] = -1;
    struct sigaction sa = {0};
    sa.sa_handler = handler;
    sigaction(SIGUSR1, &sa, 0);
    sigaction(SIGUSR2, &sa, 0);

    sigset_t s = one(SIGUSR1), old;
    sigaddset(&s, SIGHUP);
    sigaddset(&s, SIGRTMIN);
    expect("pthread_sigmask block USR1 HUP RTMIN", pthread_sigmask(SIG_BLOCK, &s, &old), 0);
    printf("old mask had USR1 %d\n", sigismember(&old, SIGUSR1));
    sigset_t s2 = one(SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s2, &old);
    printf("old mask has USR1 %d HUP %d RTMIN %d USR2 %d\n", sigismember(&old, SIGUSR1), sigismember(&old, SIGHUP),
           sigismember(&old, SIGRTMIN), sigismember(&old, SIGUSR2));
    pthread_sigmask(SIG_UNBLOCK, &s2, &old);
    printf("old mask has USR2 %d\n", sigismember(&old, SIGUSR2));
    expect("pthread_sigmask bad how", pthread_sigmask(99, &s2, 0) ? -(errno = EINVAL) : 0, -EINVAL);

    pthread_barrier_init(&ready, 0, T + 2);
    pthread_t t[T], w;
    for (long i = 1; i <= T; i++) pthread_create(&t[i - 1], 0, worker, (void *)i);
    pthread_create(&w, 0, sigwaiter, 0);
    pthread_barrier_wait(&ready);
    printf("threads inherited USR1 blocked: %d %d %d %d\n", mask_seen[1], mask_seen[2], mask_seen[3], mask_seen[4]);

    kill(getpid(), SIGUSR1);
    await(SIGUSR1);
    report("kill(getpid(), SIGUSR1), only B unblocks it", SIGUSR1, 2);

    pthread_kill(t[2], SIGUSR2);
    await(SIGUSR2);
    report("pthread_kill(C, SIGUSR2)", SIGUSR2, 3);
    syscall(SYS_tgkill, getpid(), tids[4], SIGUSR2);
    await(SIGUSR2);
    report("tgkill(D, SIGUSR2)", SIGUSR2, 4);
    syscall(SYS_tkill, tids[3], SIGUSR2);
    await(SIGUSR2);
    report("tkill(C, SIGUSR2)", SIGUSR2, 3);
    raise(SIGUSR2);
    report("raise(SIGUSR2) in main", SIGUSR2, 0);

    /* Thread-directed to A, which blocks it: pending on A only. */
    a_armed = 1;
    pthread_kill(t[0], SIGUSR1);
    sigset_t p;
    sigpending(&p);
    printf("main sees USR1 pending: %d\n", sigismember(&p, SIGUSR1));
    await(SIGUSR1);
    printf("A saw it pending: %d\n", pending_seen[1]);
    report("pthread_kill(A, SIGUSR1), A unblocks it", SIGUSR1, 1);

    /* Pending on main while blocked, delivered when main unblocks. */
    pthread_kill(pthread_self(), SIGUSR1);
    sigpending(&p);
    printf("main sees its own USR1 pending: %d, handled yet %d\n", sigismember(&p, SIGUSR1), (int)handled_count[SIGUSR1]);
    sigset_t u = one(SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &u, 0);
    pthread_sigmask(SIG_BLOCK, &u, 0);
    report("main unblocks its pending USR1", SIGUSR1, 0);

    kill(getpid(), SIGHUP);
    union sigval v = {.sival_int = 31337};
    sigqueue(getpid(), SIGRTMIN, v);
    pthread_join(w, 0);
    printf("sigwait thread got HUP %d, then RTMIN %d with value %d\n", waited_sigs[0] == SIGHUP,
           waited_sigs[1] == SIGRTMIN, waited_value);
    if (waited_sigs[0] != SIGHUP || waited_sigs[1] != SIGRTMIN || waited_value != 31337) failures++;

    int seen[3];
    pthread_t c;
    pthread_create(&c, 0, child_mask, seen);
    pthread_join(c, 0);
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, 0, &cur);
    printf("new thread: USR1 blocked %d, USR2 blocked %d, after blocking %d; main's USR2 still unblocked %d\n",
           seen[0], seen[1], seen[2], !sigismember(&cur, SIGUSR2));
    struct sigaction q;
    sigaction(SIGWINCH, 0, &q);
    printf("SIGWINCH ignored by the thread is ignored for main %d\n", q.sa_handler == SIG_IGN);

    expect("tgkill, signal 0", syscall(SYS_tgkill, getpid(), tids[1], 0), 0);
    expect("tgkill, wrong tgid", syscall(SYS_tgkill, 0x3ffffff0, tids[1], SIGUSR2), -ESRCH);
    expect("tgkill, no such tid", syscall(SYS_tgkill, getpid(), 0x3ffffff0, SIGUSR2), -ESRCH);
    expect("tgkill, tgid 0", syscall(SYS_tgkill, 0, tids[1], SIGUSR2), -EINVAL);
    expect("tgkill, tid -1", syscall(SYS_tgkill, getpid(), -1, SIGUSR2), -EINVAL);
    expect("tgkill, bad signal", syscall(SYS_tgkill, getpid(), tids[1], 99), -EINVAL);
    expect("tkill, tid 0", syscall(SYS_tkill, 0, SIGUSR2), -EINVAL);
    expect("pthread_kill, bad signal", -pthread_kill(t[0], 99), -EINVAL);
    printf("no stray handler runs: %d\n", (int)handled_count[SIGUSR2]);

    stop = 1;
    for (int i = 0; i < T; i++) pthread_join(t[i], 0);
    /* A joined thread's tid goes away (perhaps not at once). */
    long r = 0;
    for (int i = 0; i < 2000; i++) {
        r = syscall(SYS_tgkill, getpid(), tids[1], 0);
        if (r < 0) break;
        pause_ms(1);
    }
    expect("tgkill to a joined thread, eventually", r, -ESRCH);
    if (failures) return 1;
    printf("ok\n");
    return 0;
}
