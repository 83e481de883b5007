/* POSIX message queues: open and its errors, priorities, full and empty
 * queues (EAGAIN, ETIMEDOUT), attributes, notification by signal, poll,
 * unlink, and a queue shared by a parent and its child. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t notified, notified_code;
static void on_usr1(int sig, siginfo_t *si, void *ctx) {
    (void)sig; (void)ctx;
    notified = si->si_value.sival_int;
    notified_code = si->si_code;
}

#define SHOW(what, call)                                                       \
    do {                                                                       \
        errno = 0;                                                             \
        long r_ = (long)(call);                                                \
        printf("%-34s %ld %s\n", what, r_, r_ < 0 ? strerror(errno) : "");    \
    } while (0)

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char name[64];
    snprintf(name, sizeof name, "/moat-test-%d", getpid());
    struct mq_attr attr = {.mq_maxmsg = 3, .mq_msgsize = 32};
    SHOW("open missing", mq_open(name, O_RDWR));
    SHOW("open bad name", mq_open("/a/b", O_RDWR | O_CREAT, 0600, &attr));
    struct mq_attr bad = {.mq_maxmsg = 0, .mq_msgsize = 32};
    SHOW("open maxmsg 0", mq_open(name, O_RDWR | O_CREAT, 0600, &bad));
    mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    printf("open: %s\n", q >= 0 ? "ok" : strerror(errno));
    SHOW("open excl again", mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr));
    struct mq_attr got;
    mq_getattr(q, &got);
    printf("attr: maxmsg %ld msgsize %ld curmsgs %ld flags %ld\n", got.mq_maxmsg, got.mq_msgsize, got.mq_curmsgs, got.mq_flags);
    struct pollfd p = {.fd = q, .events = POLLIN};
    SHOW("poll empty", poll(&p, 1, 0));
    struct sigaction sa = {0};
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
    ev.sigev_value.sival_int = 77;
    SHOW("notify", mq_notify(q, &ev));
    SHOW("notify again", mq_notify(q, &ev));
    SHOW("send low", mq_send(q, "low", 3, 1));
    printf("notified %d code %d\n", (int)notified, (int)notified_code);
    SHOW("send high", mq_send(q, "high", 4, 9));
    SHOW("send mid", mq_send(q, "mid", 3, 5));
    SHOW("poll with messages", poll(&p, 1, 0));
    printf("revents %#x\n", p.revents);
    mq_getattr(q, &got);
    printf("curmsgs %ld\n", got.mq_curmsgs);
    struct timespec soon;
    clock_gettime(CLOCK_REALTIME, &soon);
    soon.tv_nsec += 20000000;
    if (soon.tv_nsec >= 1000000000) { soon.tv_sec++; soon.tv_nsec -= 1000000000; }
    SHOW("timedsend full", mq_timedsend(q, "x", 1, 0, &soon));
    SHOW("send too big", mq_send(q, "0123456789012345678901234567890123", 34, 0));
    SHOW("send bad prio", mq_send(q, "x", 1, 40000));
    char buf[64];
    unsigned prio;
    SHOW("receive small buffer", mq_receive(q, buf, 8, &prio));
    for (int i = 0; i < 3; i++) {
        memset(buf, 0, sizeof buf);
        ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
        printf("received %zd %s prio %u\n", n, buf, prio);
    }
    struct mq_attr nb = {.mq_flags = O_NONBLOCK};
    mq_setattr(q, &nb, NULL);
    SHOW("receive empty nonblocking", mq_receive(q, buf, sizeof buf, &prio));
    nb.mq_flags = 0;
    mq_setattr(q, &nb, NULL);
    clock_gettime(CLOCK_REALTIME, &soon);
    soon.tv_nsec += 20000000;
    if (soon.tv_nsec >= 1000000000) { soon.tv_sec++; soon.tv_nsec -= 1000000000; }
    SHOW("timedreceive empty", mq_timedreceive(q, buf, sizeof buf, &prio, &soon));
    struct timespec badts = {.tv_sec = 0, .tv_nsec = 2000000000};
    SHOW("timedreceive bad timeout", mq_timedreceive(q, buf, sizeof buf, &prio, &badts));
    /* A child sends; the parent blocks until it arrives. */
    pid_t c = fork();
    if (c == 0) {
        usleep(50000);
        mqd_t cq = mq_open(name, O_WRONLY);
        mq_send(cq, "from child", 10, 3);
        _exit(0);
    }
    memset(buf, 0, sizeof buf);
    ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
    printf("blocking receive %zd %s prio %u\n", n, buf, prio);
    waitpid(c, NULL, 0);
    SHOW("read on a queue", read(q, buf, 8));
    SHOW("unlink", mq_unlink(name));
    SHOW("unlink again", mq_unlink(name));
    SHOW("close", mq_close(q));
    return 0;
}
