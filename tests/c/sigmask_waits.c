/* ppoll and pselect6 wait under their own signal mask and put the old one
 * back; SA_NOCLDSTOP silences SIGCHLD for stops and continues only. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int usr1, chld, chld_codes;
static volatile int usr1_blocked_in_handler, usr2_blocked_in_handler;

static void on_usr1(int s) {
    (void)s;
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    usr1_blocked_in_handler = sigismember(&now, SIGUSR1);
    usr2_blocked_in_handler = sigismember(&now, SIGUSR2);
    usr1++;
}

static void on_chld(int s, siginfo_t *si, void *uc) {
    (void)s;
    (void)uc;
    chld++;
    chld_codes |= 1 << si->si_code;
}

static int blocked(int sig) {
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, sig);
}

static void report(const char *what, int r) {
    printf("%s: %d %s, handled %d (usr1 %d usr2 %d in handler), usr1 blocked after %d, usr2 blocked after %d\n", what,
           r, r < 0 ? strerror(errno) : "-", usr1, usr1_blocked_in_handler, usr2_blocked_in_handler, blocked(SIGUSR1),
           blocked(SIGUSR2));
    usr1 = usr1_blocked_in_handler = usr2_blocked_in_handler = 0;
}

/* Each step waits on a pipe the other side writes only after the step, so
 * every SIGCHLD is pending (and handled) before the line that counts it. */
static void child_stops(int flags) {
    struct sigaction sa = {0};
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | flags;
    sigaction(SIGCHLD, &sa, NULL);
    chld = chld_codes = 0;
    int resumed[2], go[2];
    pipe(resumed);
    pipe(go);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        raise(SIGSTOP);
        write(resumed[1], "r", 1);
        read(go[0], &c, 1);
        _exit(3);
    }
    int st;
    char c;
    waitpid(pid, &st, WUNTRACED);
    printf("  stopped %d, SIGCHLDs %d codes %#x\n", WIFSTOPPED(st), chld, chld_codes);
    kill(pid, SIGCONT);
    read(resumed[0], &c, 1);
    printf("  running again, SIGCHLDs %d codes %#x\n", chld, chld_codes);
    waitpid(pid, &st, WCONTINUED);
    printf("  continued %d, SIGCHLDs %d codes %#x\n", WIFCONTINUED(st), chld, chld_codes);
    write(go[1], "g", 1);
    waitpid(pid, &st, 0);
    printf("  exited %d, SIGCHLDs %d codes %#x\n", WEXITSTATUS(st), chld, chld_codes);
    close(resumed[0]);
    close(resumed[1]);
    close(go[0]);
    close(go[1]);
}

static void on_alarm(int s) {
    (void)s;
}

static long ms_of(struct timespec *ts) {
    return ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

/* The timeout argument comes back holding the time still to wait. */
static void time_left(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    int p[2];
    pipe(p);
    struct pollfd f = {p[0], POLLIN, 0};
    struct timespec ts = {0, 20 * 1000 * 1000};
    int r = ppoll(&f, 1, &ts, NULL);
    printf("ppoll timed out: %d, left %ld ns\n", r, ts.tv_nsec + ts.tv_sec);
    struct itimerval it = {{0, 0}, {0, 50 * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
    ts.tv_sec = 5;
    ts.tv_nsec = 0;
    errno = 0;
    r = syscall(SYS_ppoll, &f, 1, &ts, NULL, 8);
    printf("ppoll interrupted: %d %s, left between 4 and 5 s: %d\n", r, strerror(errno),
           ms_of(&ts) > 4000 && ms_of(&ts) < 5000);
    setitimer(ITIMER_REAL, &it, NULL);
    struct timeval tv = {5, 0};
    fd_set in;
    FD_ZERO(&in);
    FD_SET(p[0], &in);
    errno = 0;
    r = select(p[0] + 1, &in, NULL, NULL, &tv);
    printf("select interrupted: %d %s, left between 4 and 5 s: %d, usec in range %d\n", r, strerror(errno),
           tv.tv_sec == 4, tv.tv_usec >= 0 && tv.tv_usec < 1000000);
    setitimer(ITIMER_REAL, &it, NULL);
    ts.tv_sec = 5;
    ts.tv_nsec = 0;
    FD_SET(p[0], &in);
    errno = 0;
    r = syscall(SYS_pselect6, p[0] + 1, &in, NULL, NULL, &ts, NULL);
    printf("pselect6 interrupted: %d %s, left between 4 and 5 s: %d\n", r, strerror(errno),
           ms_of(&ts) > 4000 && ms_of(&ts) < 5000);
    write(p[1], "x", 1);
    ts.tv_sec = 5;
    ts.tv_nsec = 0;
    r = ppoll(&f, 1, &ts, NULL);
    printf("ppoll ready at once: %d, left over 4 s: %d\n", r, ms_of(&ts) > 4000);
    tv.tv_sec = 0;
    tv.tv_usec = 20000;
    FD_ZERO(&in);
    r = select(0, NULL, NULL, NULL, &tv);
    printf("select timed out: %d, left %ld\n", r, tv.tv_sec + tv.tv_usec);
    close(p[0]);
    close(p[1]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t usr1_only, none, usr2_only;
    sigemptyset(&none);
    sigemptyset(&usr1_only);
    sigaddset(&usr1_only, SIGUSR1);
    sigemptyset(&usr2_only);
    sigaddset(&usr2_only, SIGUSR2);
    sigprocmask(SIG_SETMASK, &usr1_only, NULL);

    raise(SIGUSR1);
    struct timespec short_wait = {0, 30 * 1000 * 1000}, long_wait = {5, 0};
    report("ppoll with the pending signal still blocked", ppoll(NULL, 0, &short_wait, &usr1_only));
    report("ppoll unblocking it", ppoll(NULL, 0, &long_wait, &usr2_only));
    report("ppoll without a mask", ppoll(NULL, 0, &short_wait, NULL));

    raise(SIGUSR1);
    report("pselect with the pending signal still blocked", pselect(0, NULL, NULL, NULL, &short_wait, &usr1_only));
    report("pselect unblocking it", pselect(0, NULL, NULL, NULL, &long_wait, &usr2_only));

    /* A pipe already readable: the call returns it and the old mask is back
     * with the signal still pending. */
    int p[2];
    pipe(p);
    write(p[1], "x", 1);
    raise(SIGUSR1);
    struct pollfd f = {p[0], POLLIN, 0};
    report("ppoll on a ready pipe", ppoll(&f, 1, &long_wait, &usr1_only));
    sigprocmask(SIG_SETMASK, &none, NULL);
    report("unblocked afterwards", 0);
    sigprocmask(SIG_SETMASK, &usr1_only, NULL);

    errno = 0;
    report("ppoll with a wrong sigset size", syscall(SYS_ppoll, NULL, 0, &short_wait, &none, 4));
    report("ppoll with a bad mask pointer", syscall(SYS_ppoll, NULL, 0, &short_wait, (void *)8, 8));
    unsigned long bad_arg[2] = {8, 8};
    report("pselect6 with a bad mask pointer", syscall(SYS_pselect6, 0, NULL, NULL, NULL, &short_wait, bad_arg));
    report("pselect6 with a bad argument block", syscall(SYS_pselect6, 0, NULL, NULL, NULL, &short_wait, (void *)8));

    time_left();

    printf("SIGCHLD handler without SA_NOCLDSTOP:\n");
    child_stops(0);
    printf("SIGCHLD handler with SA_NOCLDSTOP:\n");
    child_stops(SA_NOCLDSTOP);
    return 0;
}
