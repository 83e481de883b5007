/* Synchronisation between threads: a contended mutex (4 x 100,000
 * increments), a condition-variable producer/consumer queue of 10,000
 * items, a barrier reused over rounds, a rwlock with readers overlapping and
 * writers excluding, semaphores handing turns between threads, and timeouts
 * of pthread_cond_timedwait, pthread_mutex_timedlock, sem_timedwait and
 * pthread_rwlock_timedwrlock (ETIMEDOUT after about 50 ms). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, int err) { printf("%s: %s\n", what, err ? strerrorname_np(err) : "0"); }

static int failures;
static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAILED: %s\n", what);
        failures++;
    }
}

static double now(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct timespec in_ms(clockid_t c, int ms) {
    struct timespec ts;
    clock_gettime(c, &ts);
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

/* Elapsed time as a coarse, deterministic verdict. */
static const char *waited(double t) { return t >= 0.045 ? (t < 1.5 ? "about right" : "too long") : "too short"; }

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static void *incr(void *arg) {
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        pthread_mutex_lock(&m);
        counter++;
        pthread_mutex_unlock(&m);
    }
    return 0;
}

#define QN 16
#define ITEMS 10000
static int q[QN], qhead, qlen, produced_done;
static pthread_mutex_t qm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static void *producer(void *arg) {
    long base = (long)arg;
    for (int i = 1; i <= ITEMS / 2; i++) {
        pthread_mutex_lock(&qm);
        while (qlen == QN) pthread_cond_wait(&not_full, &qm);
        q[(qhead + qlen++) % QN] = (int)(base + i);
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&qm);
    }
    pthread_mutex_lock(&qm);
    produced_done++;
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&qm);
    return 0;
}
static void *consumer(void *arg) {
    long sum = 0, n = 0;
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&qm);
        while (qlen == 0 && produced_done < 2) pthread_cond_wait(&not_empty, &qm);
        if (qlen == 0) {
            pthread_mutex_unlock(&qm);
            break;
        }
        sum += q[qhead];
        qhead = (qhead + 1) % QN;
        qlen--;
        n++;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&qm);
    }
    long *out = malloc(2 * sizeof(long));
    out[0] = sum;
    out[1] = n;
    return out;
}

static pthread_barrier_t bar;
static int round_arrivals[10];
static int serial_count;
static void *barrier_user(void *arg) {
    (void)arg;
    for (int r = 0; r < 10; r++) {
        __atomic_fetch_add(&round_arrivals[r], 1, __ATOMIC_SEQ_CST);
        int s = pthread_barrier_wait(&bar);
        if (s == PTHREAD_BARRIER_SERIAL_THREAD) __atomic_fetch_add(&serial_count, 1, __ATOMIC_SEQ_CST);
        /* Everyone arrived at this round before anyone left it. */
        if (__atomic_load_n(&round_arrivals[r], __ATOMIC_SEQ_CST) != 4) return (void *)1;
    }
    return 0;
}

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static int readers_in, max_readers, writer_violations;
static long rw_value;
static pthread_barrier_t rbar;
static void *reader(void *arg) {
    (void)arg;
    pthread_rwlock_rdlock(&rw);
    __atomic_add_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
    /* All three readers hold the lock at once. */
    pthread_barrier_wait(&rbar);
    int n = __atomic_load_n(&readers_in, __ATOMIC_SEQ_CST);
    pthread_barrier_wait(&rbar);
    if (n == 3) __atomic_fetch_add(&max_readers, 1, __ATOMIC_SEQ_CST);
    __atomic_sub_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
    pthread_rwlock_unlock(&rw);
    return 0;
}
static void *writer(void *arg) {
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        pthread_rwlock_wrlock(&rw);
        if (__atomic_load_n(&readers_in, __ATOMIC_SEQ_CST)) writer_violations++;
        rw_value++;
        pthread_rwlock_unlock(&rw);
        pthread_rwlock_rdlock(&rw);
        __atomic_add_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
        long v = rw_value;
        (void)v;
        __atomic_sub_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
        pthread_rwlock_unlock(&rw);
    }
    return 0;
}

static sem_t ping, pong;
static char trace[64];
static int trace_len;
static void *ponger(void *arg) {
    (void)arg;
    for (int i = 0; i < 10; i++) {
        sem_wait(&ping);
        trace[trace_len++] = 'b';
        sem_post(&pong);
    }
    return 0;
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static sem_t holder_has_it, holder_may_go;
static void *holder(void *arg) {
    (void)arg;
    pthread_mutex_lock(&held);
    sem_post(&holder_has_it);
    sem_wait(&holder_may_go);
    pthread_mutex_unlock(&held);
    return 0;
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, incr, 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
    printf("mutex counter %ld\n", counter);
    check(counter == 400000, "mutex counter");

    pthread_t p1, p2, c1, c2;
    pthread_create(&c1, 0, consumer, 0);
    pthread_create(&c2, 0, consumer, 0);
    pthread_create(&p1, 0, producer, (void *)0);
    pthread_create(&p2, 0, producer, (void *)100000);
    pthread_join(p1, 0);
    pthread_join(p2, 0);
    long *r1, *r2;
    pthread_join(c1, (void **)&r1);
    pthread_join(c2, (void **)&r2);
    printf("queue: items %ld sum %ld left %d\n", r1[1] + r2[1], r1[0] + r2[0], qlen);
    check(r1[1] + r2[1] == ITEMS && r1[0] + r2[0] == 525005000, "queue items and sum");
    free(r1);
    free(r2);

    pthread_barrier_init(&bar, 0, 4);
    for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, barrier_user, 0);
    long bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    printf("barrier: 10 rounds, early leavers %ld, serial threads %d\n", bad, serial_count);
    check(bad == 0 && serial_count == 10, "barrier");
    pthread_barrier_destroy(&bar);

    pthread_barrier_init(&rbar, 0, 3);
    for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, reader, 0);
    for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
    printf("rwlock: readers that saw all three inside %d\n", max_readers);
    for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, writer, 0);
    for (int i = 0; i < 3; i++) pthread_join(t[i], 0);
    printf("rwlock: writes %ld, writer saw readers %d\n", rw_value, writer_violations);
    check(rw_value == 60000 && writer_violations == 0, "rwlock writers");
    pthread_rwlock_rdlock(&rw);
    show("rwlock: trywrlock while read-locked", pthread_rwlock_trywrlock(&rw));
    show("rwlock: tryrdlock while read-locked", pthread_rwlock_tryrdlock(&rw));
    pthread_rwlock_unlock(&rw);
    pthread_rwlock_unlock(&rw);
    pthread_rwlock_rdlock(&rw);
    struct timespec ts = in_ms(CLOCK_REALTIME, 50);
    double t0 = now(CLOCK_MONOTONIC);
    show("rwlock: timedwrlock while read-locked", pthread_rwlock_timedwrlock(&rw, &ts));
    printf("  waited %s\n", waited(now(CLOCK_MONOTONIC) - t0));
    pthread_rwlock_unlock(&rw);
    show("rwlock: trywrlock when free", pthread_rwlock_trywrlock(&rw));
    pthread_rwlock_unlock(&rw);

    sem_init(&ping, 0, 0);
    sem_init(&pong, 0, 0);
    pthread_t pp;
    pthread_create(&pp, 0, ponger, 0);
    for (int i = 0; i < 10; i++) {
        trace[trace_len++] = 'a';
        sem_post(&ping);
        sem_wait(&pong);
    }
    pthread_join(pp, 0);
    printf("semaphores: %s\n", trace);
    check(!strcmp(trace, "abababababababababab"), "semaphore turns");
    int v, r;
    sem_getvalue(&ping, &v);
    r = sem_trywait(&ping);
    printf("sem value %d, trywait: %d %s\n", v, r, strerrorname_np(errno));
    ts = in_ms(CLOCK_REALTIME, 50);
    t0 = now(CLOCK_MONOTONIC);
    errno = 0;
    r = sem_timedwait(&ping, &ts);
    printf("sem_timedwait: %d %s, waited %s\n", r, strerrorname_np(errno), waited(now(CLOCK_MONOTONIC) - t0));
    sem_post(&ping);
    sem_post(&ping);
    sem_getvalue(&ping, &v);
    printf("after two posts %d, trywait %d\n", v, sem_trywait(&ping));

    pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    pthread_mutex_lock(&cm);
    ts = in_ms(CLOCK_REALTIME, 50);
    t0 = now(CLOCK_MONOTONIC);
    show("cond_timedwait", pthread_cond_timedwait(&cv, &cm, &ts));
    printf("  waited %s, mutex held again: trylock %s\n", waited(now(CLOCK_MONOTONIC) - t0),
           strerrorname_np(pthread_mutex_trylock(&cm)));
    pthread_mutex_unlock(&cm);

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_t cvm;
    pthread_cond_init(&cvm, &ca);
    pthread_mutex_lock(&cm);
    ts = in_ms(CLOCK_MONOTONIC, 50);
    t0 = now(CLOCK_MONOTONIC);
    show("cond_timedwait on CLOCK_MONOTONIC", pthread_cond_timedwait(&cvm, &cm, &ts));
    printf("  waited %s\n", waited(now(CLOCK_MONOTONIC) - t0));
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec -= 1;
    show("cond_timedwait already past", pthread_cond_timedwait(&cvm, &cm, &ts));
    ts.tv_nsec = 1000000000;
    show("cond_timedwait with tv_nsec 1e9", pthread_cond_timedwait(&cvm, &cm, &ts));
    pthread_mutex_unlock(&cm);

    sem_init(&holder_has_it, 0, 0);
    sem_init(&holder_may_go, 0, 0);
    pthread_t h;
    pthread_create(&h, 0, holder, 0);
    sem_wait(&holder_has_it);
    show("mutex_trylock held elsewhere", pthread_mutex_trylock(&held));
    ts = in_ms(CLOCK_REALTIME, 50);
    t0 = now(CLOCK_MONOTONIC);
    show("mutex_timedlock", pthread_mutex_timedlock(&held, &ts));
    printf("  waited %s\n", waited(now(CLOCK_MONOTONIC) - t0));
    sem_post(&holder_may_go);
    ts = in_ms(CLOCK_REALTIME, 1000);
    show("mutex_timedlock once released", pthread_mutex_timedlock(&held, &ts));
    pthread_mutex_unlock(&held);
    pthread_join(h, 0);

    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_t em;
    pthread_mutex_init(&em, &ma);
    pthread_mutex_lock(&em);
    show("errorcheck relock", pthread_mutex_lock(&em));
    pthread_mutex_unlock(&em);
    show("errorcheck unlock unowned", pthread_mutex_unlock(&em));
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_t rm;
    pthread_mutex_init(&rm, &ma);
    show("recursive lock", pthread_mutex_lock(&rm));
    show("recursive lock again", pthread_mutex_lock(&rm));
    show("recursive unlock", pthread_mutex_unlock(&rm));
    show("recursive unlock", pthread_mutex_unlock(&rm));
    show("recursive unlock too many", pthread_mutex_unlock(&rm));
    if (failures) return 1;
    printf("ok\n");
    return 0;
}
