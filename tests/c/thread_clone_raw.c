/* clone(2) by hand, through glibc's wrapper, with children that make only
 * raw system calls (they have no TLS of their own): a CLONE_THREAD thread
 * with CLONE_PARENT_SETTID, CLONE_CHILD_SETTID and CLONE_CHILD_CLEARTID
 * (the tid words are set, and cleared with a futex wake at exit), sharing
 * descriptors (CLONE_FILES), cwd (CLONE_FS) and handlers (CLONE_SIGHAND)
 * with the parent, in the parent's thread group and not waitable; a
 * CLONE_VM process and a CLONE_VFORK one writing the parent's memory; a
 * CLONE_FILES process closing the parent's descriptor; and the EINVAL
 * flag combinations. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;
static void expect(const char *what, long r, long want) {
    int e = errno;
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(e));
    else printf("%s: %ld\n", what, r);
    if ((r < 0 ? -e : r) != want) {
        printf("FAILED: %s\n", what);
        failures++;
    }
}
static void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "yes" : "no");
    if (!ok) failures++;
}

/* A system call with no errno, for children without TLS. */
static long raw(long n, long a, long b, long c, long d) {
    register long r10 __asm__("r10") = d;
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return r;
}

static volatile int stage, go;
static volatile long child_pid, child_tid, child_fd, child_sigaction;
static int ptid_word, ctid_word;

struct ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    unsigned long mask;
};

static int thread_child(void *arg) {
    (void)arg;
    child_pid = raw(SYS_getpid, 0, 0, 0, 0);
    child_tid = raw(SYS_gettid, 0, 0, 0, 0);
    child_fd = raw(SYS_openat, AT_FDCWD, (long)"/", O_RDONLY | O_DIRECTORY, 0);
    raw(SYS_chdir, (long)"/dev", 0, 0, 0);
    struct ksigaction sa = {SIG_IGN, 0, 0, 0};
    child_sigaction = raw(SYS_rt_sigaction, SIGUSR2, (long)&sa, 0, 8);
    static const char msg[] = "  the thread writes through raw write\n";
    raw(SYS_write, 1, (long)msg, sizeof msg - 1, 0);
    __atomic_store_n(&stage, 1, __ATOMIC_SEQ_CST);
    raw(SYS_futex, (long)&stage, FUTEX_WAKE_PRIVATE, 1, 0);
    while (!__atomic_load_n(&go, __ATOMIC_SEQ_CST)) raw(SYS_futex, (long)&go, FUTEX_WAIT_PRIVATE, 0, 0);
    return 0; /* glibc's wrapper then calls SYS_exit */
}

static int quick_child(void *arg) {
    (void)arg;
    return 0;
}

static volatile int shared_value;
static int vm_child(void *arg) {
    shared_value = (int)(long)arg;
    return 5;
}

static int files_child(void *arg) {
    raw(SYS_close, (long)arg, 0, 0, 0);
    return 6;
}

static char *stack_top(void) {
    char *s = malloc(256 * 1024);
    return s + 256 * 1024;
}

/* Waits for a futex word to become 0, as pthread_join does. */
static void await_zero(int *w) {
    int v;
    while ((v = __atomic_load_n(w, __ATOMIC_SEQ_CST)) != 0) syscall(SYS_futex, w, FUTEX_WAIT, v, 0, 0, 0);
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    char cwd[256];
    getcwd(cwd, sizeof cwd);
    int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    ctid_word = 0x7fffffff;
    int t = clone(thread_child, stack_top(), flags, 0, &ptid_word, 0, &ctid_word);
    int ptid_right = ptid_word == t;
    while (!__atomic_load_n(&stage, __ATOMIC_SEQ_CST)) syscall(SYS_futex, &stage, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
    check("clone of a thread succeeded", t > 0);
    check("CLONE_PARENT_SETTID word is the new tid as clone returns", ptid_right);
    check("CLONE_CHILD_SETTID word is the new tid", __atomic_load_n(&ctid_word, __ATOMIC_SEQ_CST) == t);
    check("the thread's getpid is ours", child_pid == getpid());
    check("the thread's gettid is what clone returned", child_tid == t);
    check("the thread's tid is not our pid", child_tid != getpid());
    struct stat st;
    check("its descriptor is ours (CLONE_FILES)", child_fd >= 0 && fstat(child_fd, &st) == 0 && S_ISDIR(st.st_mode));
    char now[256];
    getcwd(now, sizeof now);
    printf("our cwd after its chdir (CLONE_FS): %s\n", now);
    if (strcmp(now, "/dev")) failures++;
    struct sigaction q;
    sigaction(SIGUSR2, 0, &q);
    check("its SIG_IGN is ours (CLONE_SIGHAND)", child_sigaction == 0 && q.sa_handler == SIG_IGN);
    expect("tgkill(us, it, 0)", syscall(SYS_tgkill, getpid(), t, 0), 0);
    expect("waitpid on our own thread", waitpid(t, 0, __WALL | WNOHANG), -ECHILD);
    __atomic_store_n(&go, 1, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, &go, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
    await_zero(&ctid_word);
    check("CLONE_CHILD_CLEARTID word cleared at exit", ctid_word == 0);
    long r = 0;
    for (int i = 0; i < 1000; i++) {
        r = syscall(SYS_tgkill, getpid(), t, 0);
        if (r < 0) break;
        usleep(1000);
    }
    expect("tgkill once it is gone", r, -ESRCH);
    close(child_fd);
    chdir(cwd);
    signal(SIGUSR2, SIG_DFL);

    /* Only CLEARTID: the word was set by us, cleared by the kernel. */
    ctid_word = 12345;
    t = clone(quick_child, stack_top(), CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                                            CLONE_CHILD_CLEARTID, 0, 0, 0, &ctid_word);
    await_zero(&ctid_word);
    check("a quick thread's CLEARTID word cleared", t > 0 && ctid_word == 0);

    int wst;
    pid_t c = clone(vm_child, stack_top(), CLONE_VM | SIGCHLD, (void *)42);
    waitpid(c, &wst, 0);
    printf("CLONE_VM process: exited %d, wrote our memory %d\n", WEXITSTATUS(wst), shared_value);
    if (shared_value != 42 || WEXITSTATUS(wst) != 5) failures++;
    c = clone(vm_child, stack_top(), CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)43);
    int seen_at_return = shared_value;
    waitpid(c, &wst, 0);
    printf("CLONE_VFORK process: value seen as clone returned %d, exited %d\n", seen_at_return, WEXITSTATUS(wst));
    if (seen_at_return != 43) failures++;

    int fd = open("/", O_RDONLY);
    c = clone(files_child, stack_top(), CLONE_FILES | SIGCHLD, (void *)(long)fd);
    waitpid(c, &wst, 0);
    printf("CLONE_FILES process: exited %d\n", WEXITSTATUS(wst));
    expect("our descriptor after it closed it", fcntl(fd, F_GETFD), -EBADF);
    fd = open("/", O_RDONLY);
    c = clone(files_child, stack_top(), SIGCHLD, (void *)(long)fd);
    waitpid(c, &wst, 0);
    expect("without CLONE_FILES it stays open", fcntl(fd, F_GETFD) >= 0, 1);
    close(fd);

    char *sp = stack_top();
    expect("CLONE_THREAD without CLONE_SIGHAND",
           syscall(SYS_clone, CLONE_VM | CLONE_THREAD, sp, 0, 0, 0), -EINVAL);
    expect("CLONE_SIGHAND without CLONE_VM", syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, sp, 0, 0, 0), -EINVAL);
    expect("CLONE_THREAD|CLONE_SIGHAND without CLONE_VM",
           syscall(SYS_clone, CLONE_THREAD | CLONE_SIGHAND, sp, 0, 0, 0), -EINVAL);
    expect("CLONE_FS with CLONE_NEWNS", syscall(SYS_clone, CLONE_FS | CLONE_NEWNS | SIGCHLD, sp, 0, 0, 0), -EINVAL);
    expect("CLONE_NEWUSER with CLONE_THREAD",
           syscall(SYS_clone, CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM, sp, 0, 0, 0), -EINVAL);
    if (failures) return 1;
    printf("ok\n");
    return 0;
}
