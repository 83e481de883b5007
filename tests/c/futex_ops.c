/* Raw futex(2): WAIT with a stale value, timeouts and bad timeouts, WAKE
 * counts, WAIT_BITSET/WAKE_BITSET matching, REQUEUE and CMP_REQUEUE moving
 * waiters between words, WAKE_OP changing a word and waking by its
 * comparison, private and shared keys (also between processes over a
 * MAP_SHARED page), a wait interrupted by a handler, and EFAULT, EINVAL and
 * ENOSYS. A waiter is known to be asleep when a requeue of its word onto
 * itself (which wakes nobody) counts it. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;
static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAILED: %s\n", what);
        failures++;
    }
}

static long show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
    return r;
}

/* Shows the result, and checks it against want (a count, or -errno). */
static void expect(const char *what, long r, long want) {
    int e = errno;
    show(what, r);
    if ((r < 0 ? -e : r) != want) {
        printf("FAILED: %s, wanted %ld\n", what, want);
        failures++;
    }
}

static long futex(void *addr, int op, int val, const void *timeout, void *addr2, int val3) {
    return syscall(SYS_futex, addr, op, val, timeout, addr2, val3);
}

static long wake(void *addr, int flags, int n) { return futex(addr, FUTEX_WAKE | flags, n, 0, 0, 0); }

static void pause_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, 0);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* How many are asleep on the word: a requeue onto itself wakes none. */
static long sleepers(int *addr, int flags) {
    return futex(addr, FUTEX_REQUEUE | flags, 0, (void *)(long)INT_MAX, addr, 0);
}

/* Waits until n are asleep on the word (counting on Linux's answer above,
 * with a time-based fallback). */
static void await_sleepers(int *addr, int flags, int n) {
    pause_ms(20);
    for (int i = 0; i < 400; i++) {
        long s = sleepers(addr, flags);
        if (s < 0) {
            pause_ms(100);
            return;
        }
        if (s >= n) return;
        pause_ms(5);
    }
    printf("(%d sleepers never showed)\n", n);
}

struct waiter {
    int *addr;
    int op, val;
    unsigned bitset;
    const struct timespec *timeout;
    long ret;
    int err;
    pthread_t t;
};
static int returned;

static void *wait_thread(void *arg) {
    struct waiter *w = arg;
    w->ret = futex(w->addr, w->op, w->val, w->timeout, 0, w->bitset);
    w->err = w->ret < 0 ? errno : 0;
    __atomic_fetch_add(&returned, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static void start(struct waiter *w, int *addr, int op, int val, unsigned bitset) {
    w->ret = 0;
    w->err = 0;
    w->addr = addr;
    w->op = op;
    w->val = val;
    w->bitset = bitset;
    w->timeout = 0;
    pthread_create(&w->t, 0, wait_thread, w);
}

static void finish(const char *what, struct waiter *w) {
    pthread_join(w->t, 0);
    if (w->ret < 0) printf("%s: waiter got -1 %s\n", what, strerrorname_np(w->err));
    else printf("%s: waiter got %ld\n", what, w->ret);
}

static void on_usr1(int s) { (void)s; }

static int words[16] __attribute__((aligned(64)));

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    int *a = &words[0], *b = &words[4];
    const int flag[2] = {FUTEX_PRIVATE_FLAG, 0};
    const char *name[2] = {"private", "shared"};

    for (int k = 0; k < 2; k++) {
        int f = flag[k];
        printf("-- %s\n", name[k]);
        *a = 1;
        expect("WAIT, value differs", futex(a, FUTEX_WAIT | f, 0, 0, 0, 0), -EAGAIN);
        struct timespec ts = {0, 50000000};
        double t0 = now();
        expect("WAIT 50 ms", futex(a, FUTEX_WAIT | f, 1, &ts, 0, 0), -ETIMEDOUT);
        double t = now() - t0;
        printf("  waited enough %d, not too long %d\n", t >= 0.045, t < 1.5);
        expect("WAKE, nobody waits", wake(a, f, 1), 0);
        struct waiter w;
        *a = 0;
        start(&w, a, FUTEX_WAIT | f, 0, 0);
        await_sleepers(a, f, 1);
        expect("WAKE the waiter", wake(a, f, 5), 1);
        finish("WAKE", &w);
        expect("WAKE again", wake(a, f, 5), 0);
    }
    struct timespec ts = {0, 1000000000};
    expect("WAIT, tv_nsec 1e9", futex(a, FUTEX_WAIT_PRIVATE, 0, &ts, 0, 0), -EINVAL);
    ts = (struct timespec){-1, 0};
    expect("WAIT, negative timeout", futex(a, FUTEX_WAIT_PRIVATE, 0, &ts, 0, 0), -EINVAL);
    expect("WAIT, timeout pointer bad", futex(a, FUTEX_WAIT_PRIVATE, 0, (void *)8, 0, 0), -EFAULT);

    printf("-- bitsets\n");
    struct waiter w, w2;
    *a = 0;
    start(&w, a, FUTEX_WAIT_BITSET_PRIVATE, 0, 0x1);
    start(&w2, a, FUTEX_WAIT_BITSET_PRIVATE, 0, 0x6);
    await_sleepers(a, FUTEX_PRIVATE_FLAG, 2);
    expect("WAKE_BITSET 0x8, nobody matches", futex(a, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, 0, 0, 0x8), 0);
    expect("WAKE_BITSET 0x1", futex(a, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, 0, 0, 0x1), 1);
    finish("bitset 0x1", &w);
    expect("sleepers left", sleepers(a, FUTEX_PRIVATE_FLAG), 1);
    expect("plain WAKE matches any bitset", wake(a, FUTEX_PRIVATE_FLAG, INT_MAX), 1);
    finish("bitset 0x6", &w2);
    expect("WAIT_BITSET, bitset 0", futex(a, FUTEX_WAIT_BITSET_PRIVATE, 0, 0, 0, 0), -EINVAL);
    expect("WAKE_BITSET, bitset 0", futex(a, FUTEX_WAKE_BITSET_PRIVATE, 1, 0, 0, 0), -EINVAL);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 30000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    expect("WAIT_BITSET, absolute monotonic deadline", futex(a, FUTEX_WAIT_BITSET_PRIVATE, 0, &ts, 0, -1), -ETIMEDOUT);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec -= 1;
    expect("WAIT_BITSET, realtime deadline passed",
         futex(a, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &ts, 0, -1), -ETIMEDOUT);

    printf("-- requeue\n");
    struct waiter r[3];
    for (int k = 0; k < 2; k++) {
        int f = flag[k];
        *a = 0;
        *b = 0;
        returned = 0;
        for (int i = 0; i < 3; i++) start(&r[i], a, FUTEX_WAIT | f, 0, 0);
        await_sleepers(a, f, 3);
        expect(k ? "REQUEUE shared, wake 1, move the rest" : "REQUEUE, wake 1, move the rest",
               futex(a, FUTEX_REQUEUE | f, 1, (void *)(long)INT_MAX, b, 0), 3);
        while (__atomic_load_n(&returned, __ATOMIC_SEQ_CST) < 1) pause_ms(1);
        pause_ms(10);
        printf("returned after the requeue %d\n", __atomic_load_n(&returned, __ATOMIC_SEQ_CST));
        check(returned == 1, "one woken by the requeue");
        expect("WAKE the first word", wake(a, f, INT_MAX), 0);
        expect("sleepers on the second word", sleepers(b, f), 2);
        expect("WAKE the second word", wake(b, f, INT_MAX), 2);
        for (int i = 0; i < 3; i++) pthread_join(r[i].t, 0);
        printf("waits returned 0: %d %d %d\n", r[0].ret == 0, r[1].ret == 0, r[2].ret == 0);
    }

    *a = 7;
    *b = 0;
    returned = 0;
    for (int i = 0; i < 3; i++) start(&r[i], a, FUTEX_WAIT_PRIVATE, 7, 0);
    await_sleepers(a, FUTEX_PRIVATE_FLAG, 3);
    expect("CMP_REQUEUE, val3 stale", futex(a, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)(long)INT_MAX, b, 6), -EAGAIN);
    expect("CMP_REQUEUE, nr_wake negative", futex(a, FUTEX_CMP_REQUEUE_PRIVATE, -1, (void *)(long)1, b, 7), -EINVAL);
    expect("CMP_REQUEUE, move 2", futex(a, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)(long)2, b, 7), 2);
    printf("returned %d\n", __atomic_load_n(&returned, __ATOMIC_SEQ_CST));
    expect("sleepers on the first word", sleepers(a, FUTEX_PRIVATE_FLAG), 1);
    expect("sleepers on the second word", sleepers(b, FUTEX_PRIVATE_FLAG), 2);
    expect("WAKE the second word (shared key misses)", wake(b, 0, INT_MAX), 0);
    expect("WAKE the second word", wake(b, FUTEX_PRIVATE_FLAG, INT_MAX), 2);
    expect("WAKE the first word", wake(a, FUTEX_PRIVATE_FLAG, INT_MAX), 1);
    for (int i = 0; i < 3; i++) pthread_join(r[i].t, 0);
    printf("waits returned 0: %d %d %d\n", r[0].ret == 0, r[1].ret == 0, r[2].ret == 0);

    printf("-- wake_op\n");
    *a = 0;
    *b = 5;
    expect("WAKE_OP, nobody waits", futex(a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, b,
                                        FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 5)), 0);
    printf("second word %d\n", *b);
    start(&w, a, FUTEX_WAIT_PRIVATE, 0, 0);
    start(&w2, b, FUTEX_WAIT_PRIVATE, 8, 0);
    await_sleepers(a, FUTEX_PRIVATE_FLAG, 1);
    await_sleepers(b, FUTEX_PRIVATE_FLAG, 1);
    expect("WAKE_OP ADD 3, old == 5 fails", futex(a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, b,
                                                FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 5)), 1);
    printf("second word %d\n", *b);
    finish("first word", &w);
    expect("sleepers on the second word", sleepers(b, FUTEX_PRIVATE_FLAG), 1);
    expect("WAKE_OP OR 1<<4, old > 10 holds", futex(a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, b,
                                                  FUTEX_OP(FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT, 4, FUTEX_OP_CMP_GT, 10)), 1);
    printf("second word %d\n", *b);
    finish("second word", &w2);
    expect("WAKE_OP SET 1, CMP_NE 0", futex(a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, b,
                                          FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_NE, 0)), 0);
    printf("second word %d\n", *b);
    expect("WAKE_OP XOR 3, old <= 0 fails", futex(a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, b, FUTEX_OP(FUTEX_OP_XOR, 3, FUTEX_OP_CMP_LE, 0)), 0);
    printf("second word %d\n", *b);
    expect("WAKE_OP ANDN 2", futex(a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, b, FUTEX_OP(FUTEX_OP_ANDN, 2, FUTEX_OP_CMP_GE, 0)), 0);
    printf("second word %d\n", *b);
    expect("WAKE_OP, bad op", futex(a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, b, 0x70000000), -ENOSYS);
    printf("second word %d\n", *b);
    expect("WAKE_OP, second word bad", futex(a, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, (void *)8, 0), -EFAULT);

    printf("-- between processes\n");
    int *sh = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    sh[0] = 0;
    sh[1] = 0;
    pid_t c = fork();
    if (c == 0) {
        __atomic_store_n(&sh[1], 1, __ATOMIC_SEQ_CST);
        long r = futex(&sh[0], FUTEX_WAIT, 0, 0, 0, 0);
        _exit(r == 0 ? 10 : 20 + errno);
    }
    while (!__atomic_load_n(&sh[1], __ATOMIC_SEQ_CST)) pause_ms(1);
    await_sleepers(&sh[0], 0, 1);
    expect("private WAKE misses the other process", wake(&sh[0], FUTEX_PRIVATE_FLAG, 1), 0);
    long n;
    while ((n = wake(&sh[0], 0, 1)) == 0) pause_ms(2);
    expect("shared WAKE", n, 1);
    int st;
    waitpid(c, &st, 0);
    printf("child exit %d\n", WEXITSTATUS(st));
    check(WIFEXITED(st) && WEXITSTATUS(st) == 10, "child woken");

    printf("-- signals\n");
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, 0);
    *a = 0;
    start(&w, a, FUTEX_WAIT_PRIVATE, 0, 0);
    await_sleepers(a, FUTEX_PRIVATE_FLAG, 1);
    pthread_kill(w.t, SIGUSR1);
    finish("WAIT with a handler (no SA_RESTART)", &w);
    check(w.ret == -1 && w.err == EINTR, "EINTR");

    printf("-- errors\n");
    expect("WAIT, NULL", futex(0, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0), -EFAULT);
    expect("WAIT, unmapped", futex((void *)4096, FUTEX_WAIT, 0, 0, 0, 0), -EFAULT);
    expect("WAKE private, unmapped", futex((void *)4096, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0), 0);
    expect("WAKE shared, unmapped", futex((void *)4096, FUTEX_WAKE, 1, 0, 0, 0), -EFAULT);
    expect("WAIT, unaligned", futex((char *)a + 1, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0), -EINVAL);
    expect("WAKE, unaligned", futex((char *)a + 2, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0), -EINVAL);
    expect("REQUEUE, second unaligned", futex(a, FUTEX_REQUEUE_PRIVATE, 0, (void *)1L, (char *)b + 1, 0), -EINVAL);
    expect("unknown op 99", futex(a, 99, 0, 0, 0, 0), -ENOSYS);
    expect("unknown op 99, private", futex(a, 99 | FUTEX_PRIVATE_FLAG, 0, 0, 0, 0), -ENOSYS);
    expect("WAKE with CLOCK_REALTIME", futex(a, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, 0, 0, 0), -ENOSYS);
    if (failures) return 1;
    printf("ok\n");
    return 0;
}
