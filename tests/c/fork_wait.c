/* fork chains, exit statuses, waitpid options, orphans. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, int st) {
    if (WIFEXITED(st)) printf("%s: exited %d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) printf("%s: killed by %d core=%d\n", what, WTERMSIG(st), WCOREDUMP(st) ? 1 : 0);
    else printf("%s: other %x\n", what, st);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int st;
    pid_t c = fork();
    if (c == 0) _exit(42);
    waitpid(c, &st, 0);
    report("child", st);

    c = fork();
    if (c == 0) {
        pid_t g = fork();
        if (g == 0) {
            pid_t gg = fork();
            if (gg == 0) _exit(3);
            waitpid(gg, &st, 0);
            _exit(WEXITSTATUS(st) + 1);
        }
        waitpid(g, &st, 0);
        _exit(WEXITSTATUS(st) + 1);
    }
    waitpid(c, &st, 0);
    report("three deep", st);

    c = fork();
    if (c == 0) {
        raise(SIGTERM);
        _exit(0);
    }
    waitpid(c, &st, 0);
    report("raised SIGTERM", st);

    c = fork();
    if (c == 0) abort();
    waitpid(c, &st, 0);
    report("abort", st);

    int pipefd[2];
    pipe(pipefd);
    c = fork();
    if (c == 0) {
        char x;
        read(pipefd[0], &x, 1);
        _exit(7);
    }
    printf("WNOHANG before exit: %d\n", (int)waitpid(c, &st, WNOHANG));
    write(pipefd[1], "x", 1);
    waitpid(c, &st, 0);
    report("after WNOHANG", st);
    printf("no children left: %d\n", (int)waitpid(-1, &st, 0));

    /* An orphan is adopted by another process (init, or a subreaper). */
    c = fork();
    if (c == 0) {
        pid_t parent = getpid();
        pid_t g = fork();
        if (g == 0) {
            while (getppid() == parent) usleep(1000);
            printf("orphan reparented\n");
            fflush(stdout);
            _exit(0);
        }
        _exit(0);
    }
    waitpid(c, &st, 0);
    sleep(1);

    c = fork();
    if (c == 0) {
        execl("/bin/busybox", "busybox", "sh", "-c", "exit 9", (char *)0);
        _exit(127);
    }
    waitpid(c, &st, 0);
    report("exec'd shell", st);
    pid_t v = vfork();
    if (v == 0) _exit(5);
    waitpid(v, &st, 0);
    report("vfork", st);
    return 0;
}
