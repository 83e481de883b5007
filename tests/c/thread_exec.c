/* execve and fork in a multithreaded process. execve from a non-main
 * thread while the others sleep: the new image (this program again, from
 * /proc/self/exe) has the old pid, the old parent, is the only thread
 * (/proc/self/task has one entry, gettid() == getpid()) and keeps the
 * exec'ing thread's signal mask; a failed execve in a thread leaves the
 * process alone. fork() from a thread: the child has one thread, which can
 * make and join threads of its own and exit with its own status. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

static int tasks(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* The count once joined threads are gone (they may linger a moment
 * after pthread_join returns). */
static int settled_tasks(int want) {
    int n = tasks();
    for (int i = 0; i < 1000 && n != want; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, 0);
        n = tasks();
    }
    return n;
}

static pid_t tid(void) { return (pid_t)syscall(SYS_gettid); }

static void pause_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, 0);
}

static void status(const char *what, int st, int want_code) {
    if (WIFEXITED(st)) printf("%s: exited %d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) printf("%s: killed by %s\n", what, sigabbrev_np(WTERMSIG(st)));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != want_code) failures++;
}

static void *count_tasks(void *arg) {
    (void)arg;
    return (void *)(long)tasks();
}

/* The re-executed image. */
static int exec_child(char **argv) {
    pid_t old_pid = atoi(argv[2]), old_parent = atoi(argv[3]);
    sigset_t m;
    sigprocmask(SIG_SETMASK, 0, &m);
    printf("  new image: same pid %d, same parent %d, tid == pid %d, tasks %d\n", getpid() == old_pid,
           getppid() == old_parent, tid() == getpid(), tasks());
    printf("  new image: USR2 blocked (the exec'ing thread's mask) %d, HUP blocked (main's) %d\n",
           sigismember(&m, SIGUSR2), sigismember(&m, SIGHUP));
    pthread_t t;
    int r = pthread_create(&t, 0, count_tasks, 0);
    void *ret;
    pthread_join(t, &ret);
    printf("  new image: a new thread runs %d and sees %ld tasks\n", r == 0, (long)ret);
    return 3;
}

static void *sleeper(void *arg) {
    (void)arg;
    sleep(30);
    printf("  a sleeper woke up\n");
    return 0;
}

static char self_pid[16], parent_pid[16];
static void *execer(void *arg) {
    int fail_first = (int)(long)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, 0);
    pause_ms(20); /* the sleepers are asleep by now, most likely */
    if (fail_first) {
        char *av[] = {"nothing", 0};
        int r = execv("/nonexistent/program", av);
        printf("  failed execve in a thread: %d %s, tasks %d\n", r, strerrorname_np(errno), tasks());
        return 0;
    }
    char *av[] = {"thread_exec", "exec-child", self_pid, parent_pid, 0};
    execv("/proc/self/exe", av);
    printf("  execve: %s\n", strerrorname_np(errno));
    _exit(100);
}

static void exec_from_a_thread(int fail_first) {
    pid_t c = fork();
    if (c == 0) {
        snprintf(self_pid, sizeof self_pid, "%d", getpid());
        snprintf(parent_pid, sizeof parent_pid, "%d", getppid());
        pthread_t t;
        pthread_create(&t, 0, sleeper, 0);
        pthread_create(&t, 0, sleeper, 0);
        pthread_create(&t, 0, execer, (void *)(long)fail_first);
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &s, 0);
        pthread_join(t, 0);
        printf("  the process goes on with %d tasks\n", settled_tasks(3));
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    status(fail_first ? "failed exec" : "exec from a thread", st, fail_first ? 0 : 3);
}

static pid_t original_pid;
static void *forker(void *arg) {
    (void)arg;
    pid_t c = fork();
    if (c == 0) {
        printf("  forked child: tasks %d, tid == pid %d, parent is the process %d\n", tasks(), tid() == getpid(),
               getppid() == original_pid);
        pthread_t t[3];
        long seen = 0;
        for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, count_tasks, 0);
        for (int i = 0; i < 3; i++) {
            void *r;
            pthread_join(t[i], &r);
            seen += (long)r >= 2;
        }
        char *p = malloc(100000);
        memset(p, 1, 100000);
        printf("  forked child: its threads saw company %ld/3, malloc works %d\n", seen, p[99999] == 1);
        free(p);
        exit(4);
    }
    int st;
    waitpid(c, &st, 0);
    return (void *)(long)st;
}

int main(int argc, char **argv) {
    setvbuf(stdout, 0, _IONBF, 0);
    if (argc > 3 && !strcmp(argv[1], "exec-child")) return exec_child(argv);
    original_pid = getpid();
    printf("tasks at the start %d\n", tasks());
    exec_from_a_thread(1);
    exec_from_a_thread(0);

    pthread_t s, f;
    pthread_create(&s, 0, sleeper, 0);
    pthread_create(&f, 0, forker, 0);
    void *st;
    pthread_join(f, &st);
    status("fork from a thread", (int)(long)st, 4);
    printf("tasks here: %d\n", settled_tasks(2));
    if (failures) return 1;
    printf("ok\n");
    /* The sleeper is still asleep: returning from main ends it. */
    return 0;
}
