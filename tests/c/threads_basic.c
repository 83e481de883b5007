/* Threads, the basics: pthread_create/join of 8 threads summing into their
 * own slots with values returned through pthread_join; gettid differs from
 * getpid in a thread while getpid is the same everywhere and the main
 * thread's tid is the pid; a detached thread posting a semaphore; __thread
 * variables independent per thread; pthread_once running once among many
 * threads; pthread_exit with a value, also from a nested call. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define N 8

static int failures;
static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAILED: %s\n", what);
        failures++;
    }
}

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static pid_t tid(void) { return (pid_t)syscall(SYS_gettid); }

static long slots[N];
static pid_t main_pid;

struct seen {
    int tid_is_pid;
    int pid_same;
    int tid_matches_libc;
};
static struct seen seen[N];

static void *summer(void *arg) {
    long i = (long)arg;
    long s = 0;
    for (long k = 1; k <= 1000 * (i + 1); k++) s += k;
    slots[i] = s;
    seen[i].tid_is_pid = tid() == getpid();
    seen[i].pid_same = getpid() == main_pid;
    seen[i].tid_matches_libc = tid() == gettid();
    return (void *)(s % 1000003 + i);
}

static sem_t done;
static int detached_ran;
static void *detached(void *arg) {
    (void)arg;
    detached_ran = 1;
    sem_post(&done);
    return 0;
}

static __thread int tls_counter = 5;
static __thread char tls_name[16] = "initial";
static int tls_seen[4];
static char tls_names[4][16];
static pthread_barrier_t tls_barrier;
static void *tls_user(void *arg) {
    long i = (long)arg;
    int start = tls_counter;
    tls_counter += (int)i * 10;
    snprintf(tls_name, sizeof tls_name, "thread%ld", i);
    /* All threads have written their copies before any reads them back. */
    pthread_barrier_wait(&tls_barrier);
    tls_seen[i] = start * 1000 + tls_counter;
    memcpy(tls_names[i], tls_name, sizeof tls_name);
    return 0;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_count;
static void once_init(void) {
    __atomic_fetch_add(&once_count, 1, __ATOMIC_SEQ_CST);
    usleep(10000);
}
static void *once_user(void *arg) {
    (void)arg;
    pthread_once(&once, once_init);
    /* Everyone returns after the initializer finished. */
    return (void *)(long)__atomic_load_n(&once_count, __ATOMIC_SEQ_CST);
}

static void deep(int n) {
    if (n == 0) pthread_exit((void *)4242);
    deep(n - 1);
}
static void *exiter(void *arg) {
    if (arg) deep(5);
    pthread_exit((void *)77);
    return (void *)1;
}

static void *self_checker(void *arg) {
    (void)arg;
    return (void *)pthread_self();
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    main_pid = getpid();
    printf("main tid == pid: %d\n", tid() == getpid());

    pthread_t t[N];
    for (long i = 0; i < N; i++) show("create", pthread_create(&t[i], 0, summer, (void *)i));
    long total = 0;
    for (int i = 0; i < N; i++) {
        void *ret;
        int r = pthread_join(t[i], &ret);
        printf("join %d: %d ret %ld slot %ld tid==pid %d same pid %d gettid ok %d\n", i, r, (long)ret, slots[i],
               seen[i].tid_is_pid, seen[i].pid_same, seen[i].tid_matches_libc);
        total += slots[i];
    }
    printf("total %ld\n", total);
    check(total == 102018000, "sum of the slots");
    for (int i = 0; i < N; i++) check(!seen[i].tid_is_pid && seen[i].pid_same && seen[i].tid_matches_libc, "ids in a thread");

    sem_init(&done, 0, 0);
    pthread_t d;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    show("create detached", pthread_create(&d, &attr, detached, 0));
    pthread_attr_destroy(&attr);
    sem_wait(&done);
    printf("detached ran %d\n", detached_ran);
    pthread_t d2;
    detached_ran = 0;
    pthread_create(&d2, 0, detached, 0);
    show("pthread_detach", pthread_detach(d2));
    sem_wait(&done);
    printf("detached after start ran %d\n", detached_ran);

    pthread_barrier_init(&tls_barrier, 0, 4);
    pthread_t tt[4];
    for (long i = 0; i < 4; i++) pthread_create(&tt[i], 0, tls_user, (void *)i);
    for (int i = 0; i < 4; i++) pthread_join(tt[i], 0);
    for (int i = 0; i < 4; i++) printf("tls %d: %d %s\n", i, tls_seen[i], tls_names[i]);
    printf("main tls: %d %s\n", tls_counter, tls_name);

    pthread_t ot[6];
    for (int i = 0; i < 6; i++) pthread_create(&ot[i], 0, once_user, 0);
    int once_ok = 1;
    for (int i = 0; i < 6; i++) {
        void *r;
        pthread_join(ot[i], &r);
        if ((long)r != 1) once_ok = 0;
    }
    pthread_once(&once, once_init);
    printf("once ran %d times, everyone saw it done %d\n", once_count, once_ok);
    check(once_count == 1 && once_ok, "pthread_once");

    pthread_t e;
    void *ret;
    pthread_create(&e, 0, exiter, 0);
    show("join pthread_exit", pthread_join(e, &ret));
    printf("value %ld\n", (long)ret);
    pthread_create(&e, 0, exiter, (void *)1);
    pthread_join(e, &ret);
    printf("value from a nested pthread_exit %ld\n", (long)ret);
    check(ret == (void *)4242, "nested pthread_exit value");

    pthread_t s;
    pthread_create(&s, 0, self_checker, 0);
    pthread_join(s, &ret);
    printf("pthread_self in the thread equals its handle %d\n", pthread_equal((pthread_t)ret, s) != 0);
    printf("main equals itself %d, differs from the thread %d\n", pthread_equal(pthread_self(), pthread_self()) != 0,
           pthread_equal(pthread_self(), s) == 0);

    /* Many short-lived threads, created and joined in waves. */
    long wave_total = 0;
    for (int w = 0; w < 20; w++) {
        pthread_t wt[N];
        for (long i = 0; i < N; i++) pthread_create(&wt[i], 0, summer, (void *)i);
        for (int i = 0; i < N; i++) {
            pthread_join(wt[i], &ret);
            wave_total += (long)ret;
        }
    }
    printf("waves total %ld\n", wave_total);

    int err = pthread_join(pthread_self(), 0);
    printf("join self: %s\n", strerrorname_np(err));
    for (int i = 0; i < 4; i++) check(tls_seen[i] == 5005 + 10 * i, "__thread values");
    check(tls_counter == 5, "main's __thread value");
    if (failures) return 1;
    printf("ok\n");
    return 0;
}
