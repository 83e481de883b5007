/* clone3 as fork, glibc's posix_spawn (which tries clone3 first), and
 * clone3's argument checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static long clone3_(struct clone_args *a, size_t size) { return syscall(SYS_clone3, a, size); }

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    struct clone_args a;
    memset(&a, 0, sizeof a);
    a.exit_signal = SIGCHLD;
    pid_t parent = getpid();
    int pipefd[2];
    pipe(pipefd);
    long c = clone3_(&a, sizeof a);
    if (c == 0) {
        int ok = getppid() == parent;
        write(pipefd[1], &ok, sizeof ok);
        _exit(7);
    }
    int st = 0, ok = 0;
    read(pipefd[0], &ok, sizeof ok);
    waitpid(c, &st, 0);
    printf("clone3 child: parent right %d, exit %d\n", ok, WEXITSTATUS(st));

    pid_t p;
    char *argv[] = {"/bin/busybox", "sh", "-c", "exit 5", 0};
    show("posix_spawn", posix_spawn(&p, "/bin/busybox", 0, 0, argv, environ));
    waitpid(p, &st, 0);
    printf("spawned exit %d\n", WEXITSTATUS(st));

    show("too small", clone3_(&a, 32));
    struct {
        struct clone_args a;
        uint64_t extra;
    } big;
    memset(&big, 0, sizeof big);
    big.a.exit_signal = SIGCHLD;
    big.extra = 1;
    show("unknown field set", clone3_(&big.a, sizeof big));
    a.exit_signal = 99;
    show("bad exit signal", clone3_(&a, sizeof a));
    a.exit_signal = SIGCHLD;
    a.stack = (uint64_t)(uintptr_t)&st;
    show("stack without a size", clone3_(&a, sizeof a));
    a.stack = 0;
    a.flags = CLONE_SIGHAND;
    show("CLONE_SIGHAND without CLONE_VM", clone3_(&a, sizeof a));
    show("bad pointer", clone3_((struct clone_args *)8, sizeof a));
    return 0;
}
