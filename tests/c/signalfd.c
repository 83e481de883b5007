/* signalfd: reads of pending signals of its mask, readiness in poll and
 * epoll, a mask changed in place, a blocking read woken by another
 * process, queued values, and the error cases. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static int ready(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0);
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, 0);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    int s = signalfd(-1, &one, SFD_NONBLOCK | SFD_CLOEXEC);
    show("signalfd", s >= 0 ? 0 : -1);
    struct signalfd_siginfo si[2];
    show("read, nothing pending", read(s, si, sizeof si));
    printf("ready %d\n", ready(s));
    kill(getpid(), SIGUSR1);
    printf("ready %d\n", ready(s));
    show("read", read(s, si, sizeof si));
    printf("signo %u, from me %d, code %d\n", si[0].ssi_signo, si[0].ssi_pid == (unsigned)getpid(), si[0].ssi_code);
    printf("ready %d\n", ready(s));

    kill(getpid(), SIGUSR2);
    show("read, USR2 not in the mask", read(s, si, sizeof si));
    show("widen the mask in place", signalfd(s, &set, 0));
    printf("ready %d\n", ready(s));
    kill(getpid(), SIGUSR1);
    show("read two", read(s, si, sizeof si));
    printf("signals %u %u\n", si[0].ssi_signo, si[1].ssi_signo);

    union sigval v = {.sival_int = 4242};
    sigqueue(getpid(), SIGUSR1, v);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 5};
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    show("epoll", epoll_wait(ep, &ev, 1, 1000));
    show("read queued", read(s, si, sizeof si));
    printf("value %d, code is SI_QUEUE %d\n", si[0].ssi_int, si[0].ssi_code == SI_QUEUE);

    /* A blocking read woken by another process's kill. */
    int b = signalfd(-1, &set, 0);
    pid_t c = fork();
    if (c == 0) {
        usleep(20000);
        kill(getppid(), SIGUSR2);
        _exit(0);
    }
    show("blocking read", read(b, si, sizeof si[0]));
    printf("signo %u from the child %d\n", si[0].ssi_signo, si[0].ssi_pid == (unsigned)c);
    waitpid(c, 0, 0);

    /* Errors. */
    show("short buffer", read(s, si, 100));
    show("write", write(s, si, sizeof si[0]));
    show("bad flags", signalfd(-1, &set, 0x1));
    show("bad size", syscall(289, -1, &set, 4, 0));
    show("not a signalfd", signalfd(1, &set, 0));
    sigset_t kill_set;
    sigemptyset(&kill_set);
    sigaddset(&kill_set, SIGKILL);
    show("SIGKILL in the mask", signalfd(-1, &kill_set, 0) >= 0 ? 0 : -1);
    return 0;
}
