/* Robust mutexes and robust lists: a thread exiting with a robust mutex
 * locked gives the next locker EOWNERDEAD, then pthread_mutex_consistent
 * makes it usable (and without it ENOTRECOVERABLE); the same for a
 * robust PI mutex and across processes with a pshared robust mutex in a
 * MAP_SHARED page whose holder _exit()s or is SIGKILLed; a raw robust list
 * marking the dead owner's word FUTEX_OWNER_DIED and waking a waiter; and
 * set_robust_list/get_robust_list. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;
static void expect(const char *what, int err, int want) {
    printf("%s: %s\n", what, err ? strerrorname_np(err) : "0");
    if (err != want) {
        printf("FAILED: %s\n", what);
        failures++;
    }
}
/* For raw calls: -1 with errno. */
static void expect_r(const char *what, long r, long want) {
    expect(what, r < 0 ? errno : (int)r, (int)want);
}

static void pause_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, 0);
}

static void *lock_and_leave(void *arg) {
    pthread_mutex_lock(arg);
    return 0;
}

static void robust_in_threads(const char *what, int protocol) {
    printf("-- %s\n", what);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_setprotocol(&ma, protocol);
    pthread_mutex_t m;
    pthread_mutex_init(&m, &ma);
    pthread_t t;
    pthread_create(&t, 0, lock_and_leave, &m);
    pthread_join(t, 0);
    expect("lock after the owner exited", pthread_mutex_lock(&m), EOWNERDEAD);
    expect("consistent", pthread_mutex_consistent(&m), 0);
    expect("unlock", pthread_mutex_unlock(&m), 0);
    expect("lock", pthread_mutex_lock(&m), 0);
    expect("consistent when already consistent", pthread_mutex_consistent(&m), EINVAL);
    expect("unlock", pthread_mutex_unlock(&m), 0);

    pthread_create(&t, 0, lock_and_leave, &m);
    pthread_join(t, 0);
    expect("trylock after the owner exited again", pthread_mutex_trylock(&m), EOWNERDEAD);
    expect("unlock without consistent", pthread_mutex_unlock(&m), 0);
    expect("lock now", pthread_mutex_lock(&m), ENOTRECOVERABLE);
    expect("trylock now", pthread_mutex_trylock(&m), ENOTRECOVERABLE);
}

static void robust_across_processes(int by_kill) {
    printf("-- pshared, holder %s\n", by_kill ? "SIGKILLed" : "calls _exit");
    pthread_mutex_t *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(m, &ma);
    int p[2], q[2];
    pipe(p);
    pipe(q);
    pid_t c = fork();
    if (c == 0) {
        pthread_mutex_lock(m);
        write(p[1], "l", 1);
        if (by_kill) pause();
        char b;
        read(q[0], &b, 1);
        _exit(3);
    }
    char b;
    read(p[0], &b, 1);
    expect("trylock while the child holds it", pthread_mutex_trylock(m), EBUSY);
    if (by_kill) kill(c, SIGKILL);
    else write(q[1], "x", 1);
    int st;
    waitpid(c, &st, 0);
    printf("child %s %d\n", WIFSIGNALED(st) ? "killed by" : "exited", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    expect("lock after the child died", pthread_mutex_lock(m), EOWNERDEAD);
    expect("consistent", pthread_mutex_consistent(m), 0);
    expect("unlock", pthread_mutex_unlock(m), 0);
    expect("lock", pthread_mutex_lock(m), 0);
    expect("unlock", pthread_mutex_unlock(m), 0);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
    munmap(m, 4096);
}

struct entry {
    struct robust_list next;
    uint32_t word;
};

static uint32_t *shared_word;
static long waiter_ret;
static int waiter_err;
static void *wait_on_word(void *arg) {
    uint32_t v = (uint32_t)(long)arg;
    waiter_ret = syscall(SYS_futex, shared_word, FUTEX_WAIT, v, 0, 0, 0);
    waiter_err = waiter_ret < 0 ? errno : 0;
    return 0;
}

static void raw_robust_list(void) {
    printf("-- a raw robust list\n");
    struct entry *e = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    shared_word = &e[0].word;
    int p[2], q[2];
    pipe(p);
    pipe(q);
    pid_t c = fork();
    if (c == 0) {
        static struct robust_list_head head;
        pid_t me = (pid_t)syscall(SYS_gettid);
        e[0].word = me | FUTEX_WAITERS; /* owned, with a waiter */
        e[1].word = me;                 /* owned */
        e[2].word = 0x3ffffff0;         /* someone else's */
        head.list.next = &e[0].next;
        e[0].next.next = &e[1].next;
        e[1].next.next = &e[2].next;
        e[2].next.next = &head.list;
        head.futex_offset = offsetof(struct entry, word);
        head.list_op_pending = 0;
        long r = syscall(SYS_set_robust_list, &head, sizeof head);
        write(p[1], &r, sizeof r);
        char b;
        read(q[0], &b, 1);
        _exit(0);
    }
    long r;
    read(p[0], &r, sizeof r);
    printf("child's set_robust_list: %ld\n", r);
    uint32_t owned = e[0].word;
    pthread_t t;
    pthread_create(&t, 0, wait_on_word, (void *)(long)owned);
    /* Wait until the waiter sleeps: a requeue onto the same word counts it. */
    for (int i = 0; i < 400; i++) {
        pause_ms(5);
        if (syscall(SYS_futex, shared_word, FUTEX_REQUEUE, 0, INT_MAX, shared_word, 0) >= 1) break;
    }
    write(q[1], "x", 1);
    int st;
    waitpid(c, &st, 0);
    pthread_join(t, 0);
    expect_r("the waiter's FUTEX_WAIT", waiter_ret < 0 ? (errno = waiter_err, -1) : waiter_ret, 0);
    printf("words after the owner died: %#x %#x %#x\n", e[0].word, e[1].word, e[2].word);
    if (e[0].word != (FUTEX_WAITERS | FUTEX_OWNER_DIED) || e[1].word != FUTEX_OWNER_DIED) failures++;
    munmap(e, 4096);
    close(p[0]);
    close(p[1]);
    close(q[0]);
    close(q[1]);
}

static void *heads(void *arg) {
    struct robust_list_head *h = 0, *h2 = 0;
    size_t len = 0, len2 = 0;
    long r = syscall(SYS_get_robust_list, 0, &h, &len);
    long r2 = syscall(SYS_get_robust_list, syscall(SYS_gettid), &h2, &len2);
    struct robust_list_head **out = arg;
    *out = h;
    printf("in a thread: get_robust_list(0) %ld len %zu, by own tid the same %d\n", r, len, r2 == 0 && h2 == h && len2 == len);
    return 0;
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    robust_in_threads("robust mutex between threads", PTHREAD_PRIO_NONE);
    robust_in_threads("robust PI mutex between threads", PTHREAD_PRIO_INHERIT);
    robust_across_processes(0);
    robust_across_processes(1);
    raw_robust_list();

    printf("-- set_robust_list/get_robust_list\n");
    struct robust_list_head *glibc_head = 0, *h = 0;
    size_t len = 0;
    expect_r("get_robust_list(0)", syscall(SYS_get_robust_list, 0, &glibc_head, &len), 0);
    printf("head set by glibc %d, len %zu\n", glibc_head != 0, len);
    struct robust_list_head *thread_head = 0;
    pthread_t t;
    pthread_create(&t, 0, heads, &thread_head);
    pthread_join(t, 0);
    printf("a thread's head differs from main's %d\n", thread_head && thread_head != glibc_head);
    static struct robust_list_head mine;
    mine.list.next = &mine.list;
    expect_r("set_robust_list(mine, 24)", syscall(SYS_set_robust_list, &mine, sizeof mine), 0);
    len = 0;
    syscall(SYS_get_robust_list, 0, &h, &len);
    printf("get_robust_list gives mine %d, len %zu\n", h == &mine, len);
    expect_r("set_robust_list, len 23", syscall(SYS_set_robust_list, &mine, 23), EINVAL);
    expect_r("set_robust_list, len 25", syscall(SYS_set_robust_list, &mine, 25), EINVAL);
    expect_r("get_robust_list, no such pid", syscall(SYS_get_robust_list, 0x3ffffff0, &h, &len), ESRCH);
    expect_r("get_robust_list, bad head pointer", syscall(SYS_get_robust_list, 0, (void *)8, &len), EFAULT);
    expect_r("get_robust_list, bad len pointer", syscall(SYS_get_robust_list, 0, &h, (void *)8), EFAULT);
    expect_r("set_robust_list, glibc's head back", syscall(SYS_set_robust_list, glibc_head, 24), 0);

    int p[2];
    pipe(p);
    pid_t c = fork();
    if (c == 0) {
        struct robust_list_head *ch = 0;
        size_t cl = 0;
        syscall(SYS_get_robust_list, 0, &ch, &cl);
        char ok = ch == glibc_head && cl == 24;
        write(p[1], &ok, 1);
        _exit(0);
    }
    char ok = 0;
    read(p[0], &ok, 1);
    waitpid(c, 0, 0);
    printf("a forked child has the same head registered %d\n", ok);
    if (failures) return 1;
    printf("ok\n");
    return 0;
}
