/* Exits of threads and of the group, each in a forked child whose wait
 * status the parent prints: main's pthread_exit leaves the others running
 * and a later exit(7) ends the process with 7; exit() in one thread ends
 * the others blocked in read(), sleep() and pthread_join promptly, after
 * the atexit handlers; the last thread's pthread_exit gives status 0;
 * returning from main ends running threads; raw SYS_exit ends one thread
 * (pthread_join still sees it go, through CLONE_CHILD_CLEARTID) and when
 * all threads do, the status is the last one's code; SIGKILL, an unhandled SIGTERM to one thread
 * and a SIGSEGV in one thread kill them all. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

/* Runs f in a child; prints its wait status as "exited N"/"killed by N". */
static void in_child(const char *what, void (*f)(void), const char *want) {
    double t0 = now();
    pid_t c = fork();
    if (c == 0) {
        prctl(PR_SET_DUMPABLE, 0);
        f();
        _exit(99);
    }
    int st;
    waitpid(c, &st, 0);
    char got[64];
    if (WIFEXITED(st)) snprintf(got, sizeof got, "exited %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) snprintf(got, sizeof got, "killed by %s", sigabbrev_np(WTERMSIG(st)));
    else snprintf(got, sizeof got, "status %#x", st);
    double t = now() - t0;
    printf("%s: %s, within 2 s %d\n", what, got, t < 2);
    if (strcmp(got, want) || t >= 2) {
        printf("FAILED: %s, wanted %s\n", what, want);
        failures++;
    }
}

static void *later_exit7(void *arg) {
    (void)arg;
    pause_ms(50);
    printf("  worker still runs after main's pthread_exit\n");
    exit(7);
}
static void main_pthread_exit_then_exit7(void) {
    pthread_t t;
    pthread_create(&t, 0, later_exit7, 0);
    pthread_exit(0);
}

static int pipefd[2];
static void *blocked_read(void *arg) {
    (void)arg;
    char b;
    read(pipefd[0], &b, 1);
    printf("  read returned\n");
    return 0;
}
static void *blocked_sleep(void *arg) {
    (void)arg;
    sleep(30);
    printf("  sleep returned\n");
    return 0;
}
static void at_exit(void) { printf("  atexit handler ran\n"); }
static void *exit5(void *arg) {
    (void)arg;
    pause_ms(30);
    exit(5);
}
static void exit_from_a_thread(void) {
    pipe(pipefd);
    atexit(at_exit);
    pthread_t r, s, e;
    pthread_create(&r, 0, blocked_read, 0);
    pthread_create(&s, 0, blocked_sleep, 0);
    pthread_create(&e, 0, exit5, 0);
    pthread_join(r, 0);
    printf("  join returned\n");
}

static void *raw_exit_group(void *arg) {
    (void)arg;
    pause_ms(20);
    syscall(SYS_exit_group, 6);
    return 0;
}
static void exit_group_from_a_thread(void) {
    pthread_t r, e;
    pipe(pipefd);
    pthread_create(&r, 0, blocked_read, 0);
    pthread_create(&e, 0, raw_exit_group, 0);
    sleep(30);
}

static void *last_one(void *arg) {
    (void)arg;
    pause_ms(30);
    printf("  last thread leaves with pthread_exit\n");
    pthread_exit((void *)1);
}
static void last_thread_pthread_exit(void) {
    pthread_t t;
    pthread_create(&t, 0, last_one, 0);
    pthread_exit(0);
}

static void return_from_main(void) {
    pthread_t t;
    pipe(pipefd);
    pthread_create(&t, 0, blocked_read, 0);
    pthread_create(&t, 0, blocked_sleep, 0);
    pause_ms(20);
    exit(9); /* what returning from main does */
}

static void *raw_exit3(void *arg) {
    (void)arg;
    syscall(SYS_exit, 3);
    return 0;
}
static void raw_exit_of_one_thread(void) {
    pthread_t t;
    pthread_create(&t, 0, raw_exit3, 0);
    int r = pthread_join(t, 0);
    printf("  join of a thread that used SYS_exit: %d, process goes on\n", r);
    exit(0);
}

static void *raw_exit6_later(void *arg) {
    (void)arg;
    pause_ms(30);
    syscall(SYS_exit, 6);
    return 0;
}
static void last_code_wins(void) {
    pthread_t t;
    pthread_create(&t, 0, raw_exit6_later, 0);
    syscall(SYS_exit, 4);
}

static void *forever(void *arg) {
    (void)arg;
    for (;;) pause();
    return 0;
}
static void wait_to_be_killed(void) {
    pthread_t t;
    pipe(pipefd);
    pthread_create(&t, 0, forever, 0);
    pthread_create(&t, 0, blocked_read, 0);
    pause();
}

static void *sigterm_sibling(void *arg) {
    pthread_t *main_thread = arg;
    pause_ms(20);
    pthread_kill(*main_thread, SIGTERM);
    pause();
    return 0;
}
static void unhandled_sigterm_to_one_thread(void) {
    static pthread_t self;
    self = pthread_self();
    pthread_t t;
    pthread_create(&t, 0, sigterm_sibling, &self);
    pthread_create(&t, 0, forever, 0);
    pthread_join(t, 0);
}

static void *segv(void *arg) {
    (void)arg;
    pause_ms(20);
    *(volatile int *)16 = 1;
    return 0;
}
static void sigsegv_in_one_thread(void) {
    pthread_t t;
    pthread_create(&t, 0, forever, 0);
    pthread_create(&t, 0, segv, 0);
    pause();
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    in_child("main pthread_exit, then exit(7) in a thread", main_pthread_exit_then_exit7, "exited 7");
    in_child("exit(5) in a thread, others in read/sleep/join", exit_from_a_thread, "exited 5");
    in_child("SYS_exit_group(6) in a thread", exit_group_from_a_thread, "exited 6");
    in_child("the last thread's pthread_exit", last_thread_pthread_exit, "exited 0");
    in_child("exit(9) from main while threads block", return_from_main, "exited 9");
    in_child("SYS_exit of one thread", raw_exit_of_one_thread, "exited 0");
    /* The last thread's code: Linux since synchronize_group_exit() in
     * do_exit (5.19 or so); older kernels reported the leader's 4. */
    in_child("leader SYS_exit(4), last thread SYS_exit(6)", last_code_wins, "exited 6");

    double t0 = now();
    pid_t c = fork();
    if (c == 0) wait_to_be_killed();
    pause_ms(30);
    kill(c, SIGKILL);
    int st;
    waitpid(c, &st, 0);
    printf("SIGKILL to a process of three threads: killed by %s, within 2 s %d\n",
           WIFSIGNALED(st) ? sigabbrev_np(WTERMSIG(st)) : "-", now() - t0 < 2);
    c = fork();
    if (c == 0) wait_to_be_killed();
    pause_ms(30);
    kill(c, SIGTERM);
    waitpid(c, &st, 0);
    printf("SIGTERM with no handler: killed by %s\n", WIFSIGNALED(st) ? sigabbrev_np(WTERMSIG(st)) : "-");
    in_child("unhandled SIGTERM to the main thread by a thread", unhandled_sigterm_to_one_thread, "killed by TERM");
    in_child("SIGSEGV in one thread", sigsegv_in_one_thread, "killed by SEGV");
    if (failures) return 1;
    printf("ok\n");
    return 0;
}
