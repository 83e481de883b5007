/* Threads in blocking I/O at once: one in read() on a pipe, one in
 * epoll_wait on an eventfd, one in accept() on a Unix socket, one in poll(),
 * one in write() to a full pipe; main wakes each in turn. A thread in
 * nanosleep while another streams 1 MB through a pipe; close() by one
 * thread of a descriptor another is blocked reading (Linux lets the read
 * finish) or has open; shutdown() of a listening socket waking accept(). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int failures;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pause_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, 0);
}

struct job {
    int fd, fd2;
    volatile pid_t tid;
    long ret;
    int err;
    char buf[64];
    pthread_t t;
};

/* Waits until the thread is asleep (by /proc state, else by time). */
static void await_blocked(struct job *j) {
    while (!__atomic_load_n(&j->tid, __ATOMIC_SEQ_CST)) pause_ms(1);
    char path[64], s[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", j->tid);
    for (int i = 0; i < 1000; i++) {
        int fd = open(path, O_RDONLY);
        if (fd < 0) break;
        int n = read(fd, s, sizeof s - 1);
        close(fd);
        s[n > 0 ? n : 0] = 0;
        char *p = strrchr(s, ')');
        if (p && p[1] == ' ' && p[2] == 'S') break;
        pause_ms(1);
    }
    pause_ms(20);
}

static void begin(struct job *j) { __atomic_store_n(&j->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST); }
static void end(struct job *j, long r) {
    j->ret = r;
    j->err = r < 0 ? errno : 0;
}

static void *do_read(void *arg) {
    struct job *j = arg;
    begin(j);
    end(j, read(j->fd, j->buf, sizeof j->buf - 1));
    return 0;
}
static void *do_epoll(void *arg) {
    struct job *j = arg;
    struct epoll_event ev;
    begin(j);
    long r = epoll_wait(j->fd, &ev, 1, 5000);
    end(j, r);
    if (r == 1) snprintf(j->buf, sizeof j->buf, "data %lu", (unsigned long)ev.data.u64);
    return 0;
}
static void *do_accept(void *arg) {
    struct job *j = arg;
    begin(j);
    long c = accept(j->fd, 0, 0);
    end(j, c);
    if (c >= 0) {
        int n = read(c, j->buf, sizeof j->buf - 1);
        if (n > 0) j->buf[n] = 0;
        write(c, "pong", 4);
        close(c);
        j->ret = 0;
    }
    return 0;
}
static void *do_poll(void *arg) {
    struct job *j = arg;
    struct pollfd p = {j->fd, POLLIN, 0};
    begin(j);
    long r = poll(&p, 1, 5000);
    end(j, r);
    snprintf(j->buf, sizeof j->buf, "revents %#x", p.revents);
    return 0;
}
static void *do_write(void *arg) {
    struct job *j = arg;
    static char big[8192];
    begin(j);
    end(j, write(j->fd, big, sizeof big));
    return 0;
}

static void *do_close(void *arg) { return (void *)(long)close((int)(long)arg); }

static void finish(const char *what, struct job *j, long want) {
    pthread_join(j->t, 0);
    if (j->ret < 0) printf("%s: -1 %s\n", what, strerrorname_np(j->err));
    else printf("%s: %ld%s%s\n", what, j->ret, j->buf[0] ? " " : "", j->buf);
    if ((j->ret < 0 ? -j->err : j->ret) != want) {
        printf("FAILED: %s\n", what);
        failures++;
    }
}

static void *sleeper(void *arg) {
    double t0 = now();
    struct timespec ts = {0, 100000000};
    long r = nanosleep(&ts, 0);
    double t = now() - t0;
    *(int *)arg = r == 0 && t >= 0.095 && t < 2;
    return 0;
}
static void *streamer(void *arg) {
    int fd = (int)(long)arg;
    char chunk[1000];
    for (int i = 0; i < 1000; i++) {
        memset(chunk, 'a' + i % 26, sizeof chunk);
        for (size_t off = 0; off < sizeof chunk;) off += write(fd, chunk + off, sizeof chunk - off);
    }
    close(fd);
    return 0;
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    struct job jr = {0}, je = {0}, ja = {0}, jp = {0}, jw = {0};

    int p[2];
    pipe(p);
    jr.fd = p[0];
    pthread_create(&jr.t, 0, do_read, &jr);

    int efd = eventfd(0, 0), ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 77};
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    je.fd = ep;
    pthread_create(&je.t, 0, do_epoll, &je);

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "/tmp/moat-threads-io-%d", getpid());
    unlink(addr.sun_path);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(ls, (struct sockaddr *)&addr, sizeof addr);
    listen(ls, 4);
    ja.fd = ls;
    pthread_create(&ja.t, 0, do_accept, &ja);

    int pp[2];
    pipe(pp);
    jp.fd = pp[0];
    pthread_create(&jp.t, 0, do_poll, &jp);

    int wp[2];
    pipe2(wp, O_NONBLOCK);
    char fill[4096];
    memset(fill, 'f', sizeof fill);
    long filled = 0, n;
    while ((n = write(wp[1], fill, sizeof fill)) > 0) filled += n;
    fcntl(wp[0], F_SETFL, 0);
    fcntl(wp[1], F_SETFL, 0);
    printf("pipe full at %ld bytes\n", filled);
    jw.fd = wp[1];
    pthread_create(&jw.t, 0, do_write, &jw);

    await_blocked(&jr);
    await_blocked(&je);
    await_blocked(&ja);
    await_blocked(&jp);
    await_blocked(&jw);
    write(p[1], "hello", 5);
    finish("read woken by a write", &jr, 5);
    uint64_t one = 1;
    write(efd, &one, sizeof one);
    finish("epoll_wait woken by an eventfd write", &je, 1);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    printf("connect: %d\n", connect(c, (struct sockaddr *)&addr, sizeof addr));
    write(c, "ping", 4);
    char b[8] = {0};
    read(c, b, 4);
    finish("accept woken by a connect", &ja, 0);
    printf("reply %s\n", b);
    close(c);
    write(pp[1], "x", 1);
    finish("poll woken by a write", &jp, 1);
    long drained = 0;
    while (drained < filled + 8192) {
        n = read(wp[0], fill, sizeof fill);
        if (n <= 0) break;
        drained += n;
    }
    finish("write to a full pipe woken by reads", &jw, 8192);
    printf("drained %ld\n", drained);
    if (drained != filled + 8192) failures++;

    /* nanosleep in one thread while another streams 1 MB. */
    int ok = 0, s[2];
    pipe(s);
    pthread_t ts, tw;
    pthread_create(&ts, 0, sleeper, &ok);
    pthread_create(&tw, 0, streamer, (void *)(long)s[1]);
    long total = 0, sum = 0;
    char buf[4096];
    while ((n = read(s[0], buf, sizeof buf)) > 0) {
        total += n;
        for (int i = 0; i < n; i++) sum += buf[i];
    }
    pthread_join(ts, 0);
    pthread_join(tw, 0);
    printf("streamed %ld bytes, sum %ld; the sleeper slept its 100 ms %d\n", total, sum, ok);
    if (total != 1000000 || !ok) failures++;
    close(s[0]);

    /* close() of a descriptor another thread is blocked reading. */
    int q[2];
    pipe(q);
    struct job jc = {0};
    jc.fd = q[0];
    pthread_create(&jc.t, 0, do_read, &jc);
    await_blocked(&jc);
    printf("close from another thread: %d\n", close(q[0]));
    long r = fcntl(q[0], F_GETFD);
    printf("the descriptor is gone: %ld %s\n", r, strerrorname_np(errno));
    write(q[1], "still", 5);
    finish("the blocked read still completes", &jc, 5);
    close(q[1]);

    /* A descriptor opened by one thread, closed by another. */
    struct job jo = {0};
    pipe(q);
    jo.fd = q[0];
    pthread_t closer;
    pthread_create(&closer, 0, do_close, (void *)(long)q[1]);
    pthread_join(closer, 0);
    pthread_create(&jo.t, 0, do_read, &jo);
    finish("read after another thread closed the write end", &jo, 0);
    close(q[0]);

    /* shutdown() of the listening socket wakes a blocked accept(). */
    struct job js = {0};
    js.fd = ls;
    pthread_create(&js.t, 0, do_accept, &js);
    await_blocked(&js);
    printf("shutdown of the listener: %d\n", shutdown(ls, SHUT_RDWR));
    pthread_join(js.t, 0);
    printf("accept after shutdown: %ld %s\n", js.ret, js.ret < 0 ? strerrorname_np(js.err) : "-");
    close(ls);
    unlink(addr.sun_path);
    if (failures) return 1;
    printf("ok\n");
    return 0;
}
