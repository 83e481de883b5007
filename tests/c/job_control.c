/* Stop and continue: wait statuses with WUNTRACED and WCONTINUED, signals
 * held while stopped, SIGKILL of a stopped process. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, int st) {
    if (WIFEXITED(st)) printf("%s: exited %d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) printf("%s: killed by %d\n", what, WTERMSIG(st));
    else if (WIFSTOPPED(st)) printf("%s: stopped by %d\n", what, WSTOPSIG(st));
    else if (WIFCONTINUED(st)) printf("%s: continued\n", what);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int st, go[2];
    pipe(go);
    pid_t c = fork();
    if (c == 0) {
        char x;
        raise(SIGSTOP);
        read(go[0], &x, 1); /* exits only after the parent saw it continue */
        _exit(5);
    }
    waitpid(c, &st, WUNTRACED);
    report("child", st);
    printf("WNOHANG while stopped: %d\n", (int)waitpid(c, &st, WNOHANG | WUNTRACED));
    kill(c, SIGCONT);
    waitpid(c, &st, WCONTINUED);
    report("child", st);
    write(go[1], "x", 1);
    waitpid(c, &st, 0);
    report("child", st);

    /* In a process group of its own, whose parent (this program) is in
     * another group of the same session: not orphaned, so SIGTSTP stops it
     * even when this test itself runs in an orphaned group (a CI job
     * started with setsid), where Linux discards it. */
    c = fork();
    if (c == 0) {
        setpgid(0, 0);
        for (;;) pause();
    }
    setpgid(c, c);
    kill(c, SIGTSTP);
    waitpid(c, &st, WUNTRACED);
    report("tstp", st);
    kill(c, SIGTERM); /* held until continued */
    usleep(100000);
    printf("still stopped: %d\n", (int)waitpid(c, &st, WNOHANG));
    kill(c, SIGCONT);
    waitpid(c, &st, 0);
    report("after continue", st);

    c = fork();
    if (c == 0) {
        raise(SIGSTOP);
        _exit(0);
    }
    waitpid(c, &st, WUNTRACED);
    kill(c, SIGKILL);
    waitpid(c, &st, 0);
    report("killed while stopped", st);
    return 0;
}
