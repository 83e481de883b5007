/* eventfd, timerfd and epoll: counters and semaphore mode, non-blocking
 * reads, timer expirations and settings, level and edge triggering,
 * EPOLLONESHOT, nested epoll, the error cases, epoll_pwait's mask, and a
 * wake-up from another process. Prints nothing that depends on timing. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int s) { (void)s; got_usr1 = 1; }

int main(void) {
    uint64_t v;

    /* eventfd: a counter; semaphore mode; EAGAIN when empty. */
    int e = eventfd(3, EFD_NONBLOCK);
    show("eventfd", e >= 0 ? 0 : -1);
    v = 4;
    show("write 4", write(e, &v, 8));
    show("read", read(e, &v, 8));
    printf("counter was %llu\n", (unsigned long long)v);
    show("read empty", read(e, &v, 8));
    show("short read", read(e, &v, 4));
    v = UINT64_MAX;
    show("write max", write(e, &v, 8));
    int s = eventfd(2, EFD_SEMAPHORE | EFD_CLOEXEC);
    read(s, &v, 8);
    printf("semaphore gives %llu\n", (unsigned long long)v);
    show("bad flags", eventfd(0, 0x10));
    char link[64] = {0}, p[32];
    snprintf(p, sizeof p, "/proc/self/fd/%d", e);
    readlink(p, link, sizeof link - 1);
    printf("link: %s\n", link);

    /* timerfd: settings read back; expirations counted. */
    int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    show("timerfd_create", t >= 0 ? 0 : -1);
    struct itimerspec its = {{0, 0}, {100, 0}}, old, cur;
    show("settime", timerfd_settime(t, 0, &its, &old));
    printf("old value %ld\n", (long)old.it_value.tv_sec);
    timerfd_gettime(t, &cur);
    printf("armed: %d\n", cur.it_value.tv_sec > 90 && cur.it_value.tv_sec <= 100);
    struct itimerspec soon = {{0, 0}, {0, 20 * 1000 * 1000}};
    timerfd_settime(t, 0, &soon, 0);
    show("blocking read of one expiration", read(t, &v, 8));
    printf("expirations %llu\n", (unsigned long long)v);
    struct itimerspec bad = {{0, 0}, {0, 1000000000}};
    show("bad nanoseconds", timerfd_settime(t, 0, &bad, 0));
    show("settime on an eventfd", timerfd_settime(e, 0, &its, 0));
    show("bad clock", timerfd_create(12345, 0));

    /* epoll: level-triggered on a pipe. */
    int pp[2];
    pipe(pp);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ull}, out[4];
    show("add pipe", epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev));
    show("add again", epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev));
    show("wait empty", epoll_wait(ep, out, 4, 0));
    write(pp[1], "x", 1);
    show("wait level 1", epoll_wait(ep, out, 4, 0));
    printf("data %llx events %x\n", (unsigned long long)out[0].data.u64, out[0].events);
    show("wait level 2", epoll_wait(ep, out, 4, 0));
    /* Edge-triggered: one report per new write. */
    ev.events = EPOLLIN | EPOLLET;
    show("mod to edge", epoll_ctl(ep, EPOLL_CTL_MOD, pp[0], &ev));
    show("wait edge 1", epoll_wait(ep, out, 4, 0));
    show("wait edge 2", epoll_wait(ep, out, 4, 0));
    write(pp[1], "y", 1);
    show("wait edge after write", epoll_wait(ep, out, 4, 0));
    /* One-shot: disarmed after one report until modified. */
    ev.events = EPOLLIN | EPOLLONESHOT;
    epoll_ctl(ep, EPOLL_CTL_MOD, pp[0], &ev);
    show("wait oneshot 1", epoll_wait(ep, out, 4, 0));
    show("wait oneshot 2", epoll_wait(ep, out, 4, 0));
    epoll_ctl(ep, EPOLL_CTL_MOD, pp[0], &ev);
    show("wait oneshot rearmed", epoll_wait(ep, out, 4, 0));
    show("del", epoll_ctl(ep, EPOLL_CTL_DEL, pp[0], 0));
    show("del again", epoll_ctl(ep, EPOLL_CTL_DEL, pp[0], 0));
    /* eventfd and timerfd in epoll; nested epoll. */
    ev.events = EPOLLIN;
    ev.data.u64 = 7;
    epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev);
    int outer = epoll_create(1);
    ev.data.u64 = 9;
    show("nest", epoll_ctl(outer, EPOLL_CTL_ADD, ep, &ev));
    show("outer empty", epoll_wait(outer, out, 4, 0));
    v = 1;
    write(e, &v, 8);
    show("outer sees inner", epoll_wait(outer, out, 4, 0));
    printf("outer data %llu\n", (unsigned long long)out[0].data.u64);
    show("loop", epoll_ctl(ep, EPOLL_CTL_ADD, outer, &ev));
    /* Errors. */
    int f = open("/proc/self/exe", O_RDONLY);
    show("regular file", epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev));
    show("itself", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
    show("not an epoll", epoll_ctl(pp[0], EPOLL_CTL_ADD, e, &ev));
    show("bad fd", epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev));
    show("bad op", epoll_ctl(ep, 99, pp[1], &ev));
    show("maxevents 0", epoll_wait(ep, out, 0, 0));
    show("create1 bad flags", epoll_create1(1));
    show("create size 0", epoll_create(0));
    show("bad event pointer", epoll_ctl(ep, EPOLL_CTL_ADD, pp[1], (void *)8));

    /* A wake-up from another process, blocking. */
    read(e, &v, 8);
    pid_t c = fork();
    if (c == 0) {
        usleep(20000);
        v = 5;
        write(e, &v, 8);
        _exit(0);
    }
    show("blocking wait woken by a child", epoll_wait(ep, out, 4, -1));
    printf("woken data %llu\n", (unsigned long long)out[0].data.u64);
    waitpid(c, 0, 0);
    read(e, &v, 8);

    /* A closed descriptor leaves the interest list with its file. */
    int e2 = eventfd(1, 0);
    ev.data.u64 = 42;
    epoll_ctl(ep, EPOLL_CTL_ADD, e2, &ev);
    close(e2);
    show("closed one gone", epoll_wait(ep, out, 4, 0));

    /* epoll_pwait: a blocked signal is let in for the wait only. */
    signal(SIGUSR1, on_usr1);
    sigset_t block, none;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, 0);
    kill(getpid(), SIGUSR1);
    show("pwait with the signal blocked", epoll_pwait(ep, out, 4, 0, &block));
    sigemptyset(&none);
    show("pwait letting it in", epoll_pwait(ep, out, 4, 1000, &none));
    printf("handler ran: %d\n", got_usr1);
    return 0;
}
