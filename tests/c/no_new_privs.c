/* prctl no_new_privs: its argument checks, set once, kept by fork and
 * execve. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1) {
        printf("after execve: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        return 0;
    }
    int before = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    errno = 0;
    int bad = prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0);
    printf("set 2: %d %s\n", bad, strerror(errno));
    errno = 0;
    bad = prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0);
    printf("get with an argument: %d %s\n", bad, strerror(errno));
    int set = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    printf("before %d, set: %d, now %d\n", before, set, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    pid_t c = fork();
    if (c == 0) {
        printf("in a fork: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        execl("/proc/self/exe", argv[0], "again", (char *)0);
        _exit(127);
    }
    int st;
    waitpid(c, &st, 0);
    printf("child: %d\n", WEXITSTATUS(st));
    return 0;
}
