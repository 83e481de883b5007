/* reaper CMD ARGS...: runs CMD as the child of a child subreaper, reaping
 * orphans at once (as containerd-shim does for a runtime) until CMD ends,
 * and exits with its status. runsc's delete waits for its sandbox to be
 * reaped, which a slow pid 1 delays. */
#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2 || prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return 2;
    pid_t child = fork();
    if (child == 0) {
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int rc = 0, st;
    for (;;) {
        pid_t p = wait(&st);
        if (p < 0 && errno == EINTR) continue;
        if (p < 0) break;
        if (p == child) {
            rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
    }
    return rc;
}
