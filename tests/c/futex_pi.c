/* Priority-inheritance futexes: PTHREAD_PRIO_INHERIT mutexes contended by
 * 4 threads, trylock and timedlock on one held elsewhere, and the raw
 * FUTEX_LOCK_PI / FUTEX_TRYLOCK_PI / FUTEX_UNLOCK_PI calls: the word holds
 * the owner's tid, FUTEX_WAITERS appears when someone blocks, unlock hands
 * the word to the waiter, and the EDEADLK, EAGAIN, EPERM, ESRCH,
 * ETIMEDOUT, EINVAL and EFAULT cases. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int failures;

static long futex(void *addr, int op, int val, const void *timeout) {
    return syscall(SYS_futex, addr, op, val, timeout, 0, 0);
}

/* Shows the result, and checks it against want (0 or -errno). */
static void expect(const char *what, long r, long want) {
    int e = errno;
    if (r < 0) printf("%s: -1 %s (%d)\n", what, strerrorname_np(e), e);
    else printf("%s: %ld\n", what, r);
    if ((r < 0 ? -e : r) != want) {
        printf("FAILED: %s, wanted %ld\n", what, want);
        failures++;
    }
}
static void expect_err(const char *what, int err, int want) {
    printf("%s: %s\n", what, err ? strerrorname_np(err) : "0");
    if (err != want) {
        printf("FAILED: %s\n", what);
        failures++;
    }
}
static void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "yes" : "no");
    if (!ok) failures++;
}

static pid_t tid(void) { return (pid_t)syscall(SYS_gettid); }

static void pause_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, 0);
}

static pthread_mutex_t pm;
static long counter;
static void *incr(void *arg) {
    (void)arg;
    for (int i = 0; i < 50000; i++) {
        pthread_mutex_lock(&pm);
        counter++;
        pthread_mutex_unlock(&pm);
    }
    return 0;
}

static int held_err[2];
static void *try_held(void *arg) {
    (void)arg;
    held_err[0] = pthread_mutex_trylock(&pm);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    held_err[1] = pthread_mutex_timedlock(&pm, &ts);
    return 0;
}

static uint32_t word __attribute__((aligned(64)));

/* Runs one raw operation on the word in another thread. */
struct op {
    int op;
    const struct timespec *timeout;
    long ret;
    int err;
    int got_word_is_me;
};
static void *raw_op(void *arg) {
    struct op *o = arg;
    o->ret = futex(&word, o->op, 0, o->timeout);
    o->err = o->ret < 0 ? errno : 0;
    o->got_word_is_me = (word & FUTEX_TID_MASK) == (uint32_t)tid();
    if (o->ret == 0 && (o->op & 127) != FUTEX_UNLOCK_PI) futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, 0);
    return 0;
}
static struct op in_thread(int op, const struct timespec *timeout) {
    struct op o = {op, timeout, 0, 0, 0};
    pthread_t t;
    pthread_create(&t, 0, raw_op, &o);
    pthread_join(t, 0);
    return o;
}
static void show_op(const char *what, struct op o, int want_err) {
    if (o.ret < 0) printf("%s: -1 %s\n", what, strerrorname_np(o.err));
    else printf("%s: %ld\n", what, o.ret);
    if ((o.ret < 0 ? o.err : 0) != want_err) {
        printf("FAILED: %s\n", what);
        failures++;
    }
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
    int proto = -1;
    pthread_mutexattr_getprotocol(&ma, &proto);
    printf("protocol is PRIO_INHERIT: %d\n", proto == PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&pm, &ma);

    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, incr, 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
    printf("PI mutex counter %ld\n", counter);
    if (counter != 200000) failures++;

    pthread_mutex_lock(&pm);
    pthread_t h;
    pthread_create(&h, 0, try_held, 0);
    pthread_join(h, 0);
    expect_err("PI trylock held by another thread", held_err[0], EBUSY);
    expect_err("PI timedlock held by another thread", held_err[1], ETIMEDOUT);
    pthread_mutex_unlock(&pm);
    expect_err("PI trylock when free", pthread_mutex_trylock(&pm), 0);
    pthread_mutex_unlock(&pm);

    printf("-- raw\n");
    word = 0;
    expect("LOCK_PI on a free word", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, 0), 0);
    check("word == gettid()", word == (uint32_t)tid());
    expect("LOCK_PI again by the owner", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, 0), -EDEADLK);
    expect("TRYLOCK_PI by the owner", futex(&word, FUTEX_TRYLOCK_PI_PRIVATE, 0, 0), -EDEADLK);
    struct op o = in_thread(FUTEX_TRYLOCK_PI_PRIVATE, 0);
    printf("TRYLOCK_PI held by another: %ld errno %d (EAGAIN is %d)\n", o.ret, o.err, EAGAIN);
    if (o.err != EAGAIN) failures++;
    o = in_thread(FUTEX_UNLOCK_PI_PRIVATE, 0);
    show_op("UNLOCK_PI by a non-owner", o, EPERM);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 30000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    o = in_thread(FUTEX_LOCK_PI_PRIVATE, &ts);
    show_op("LOCK_PI with a realtime deadline, held", o, ETIMEDOUT);
    check("word still names me", (word & FUTEX_TID_MASK) == (uint32_t)tid());
    printf("FUTEX_WAITERS left behind by the timed-out waiter: %d\n", !!(word & FUTEX_WAITERS));
    expect("UNLOCK_PI by the owner", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, 0), 0);
    printf("word after unlock %u\n", word);
    expect("UNLOCK_PI of a free word", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, 0), -EPERM);

    o = in_thread(FUTEX_TRYLOCK_PI_PRIVATE, 0);
    show_op("TRYLOCK_PI on a free word in a thread", o, 0);
    check("the word named that thread", o.got_word_is_me);
    printf("word after it unlocked %u\n", word);

    /* A waiter blocks: the word grows FUTEX_WAITERS; unlock hands over. */
    expect("LOCK_PI", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, 0), 0);
    struct op w = {FUTEX_LOCK_PI_PRIVATE, 0, 0, 0, 0};
    pthread_t wt;
    pthread_create(&wt, 0, raw_op, &w);
    int i;
    for (i = 0; i < 2000 && !(__atomic_load_n(&word, __ATOMIC_SEQ_CST) & FUTEX_WAITERS); i++) pause_ms(1);
    check("FUTEX_WAITERS set with a waiter", word == (tid() | FUTEX_WAITERS));
    expect("UNLOCK_PI with a waiter", futex(&word, FUTEX_UNLOCK_PI_PRIVATE, 0, 0), 0);
    pthread_join(wt, 0);
    show_op("the waiter's LOCK_PI", w, 0);
    check("the word named the waiter", w.got_word_is_me);
    printf("word at the end %u\n", word);

    /* Shared (no PRIVATE flag) works the same. */
    expect("LOCK_PI shared", futex(&word, FUTEX_LOCK_PI, 0, 0), 0);
    o = in_thread(FUTEX_TRYLOCK_PI, 0);
    show_op("TRYLOCK_PI shared, held", o, EAGAIN);
    expect("UNLOCK_PI shared", futex(&word, FUTEX_UNLOCK_PI, 0, 0), 0);

    printf("-- errors\n");
    word = 0x3ffffff0;
    expect("LOCK_PI, the word names no thread", futex(&word, FUTEX_LOCK_PI_PRIVATE, 0, 0), -ESRCH);
    printf("word now %#x\n", word);
    word = 0;
    expect("LOCK_PI, unaligned", futex((char *)&word + 1, FUTEX_LOCK_PI_PRIVATE, 0, 0), -EINVAL);
    expect("LOCK_PI, unmapped", futex((void *)4096, FUTEX_LOCK_PI_PRIVATE, 0, 0), -EFAULT);
    expect("UNLOCK_PI, unmapped", futex((void *)4096, FUTEX_UNLOCK_PI_PRIVATE, 0, 0), -EFAULT);
    expect("TRYLOCK_PI, unmapped", futex((void *)4096, FUTEX_TRYLOCK_PI_PRIVATE, 0, 0), -EFAULT);
    if (failures) return 1;
    printf("ok\n");
    return 0;
}
