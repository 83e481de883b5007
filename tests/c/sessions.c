/* Process groups and sessions. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2];
    pipe(p);
    pid_t c = fork();
    if (c == 0) {
        char x;
        read(p[0], &x, 1);
        printf("child pgid is its pid: %d\n", getpgid(0) == getpid());
        printf("setsid: %d\n", setsid() == getpid());
        printf("sid is pid: %d, pgid is pid: %d\n", getsid(0) == getpid(), getpgrp() == getpid());
        errno = 0;
        printf("setpgid on a session leader: %d %s\n", setpgid(0, 0), strerror(errno));
        _exit(0);
    }
    printf("setpgid child into its own group: %d\n", setpgid(c, c));
    printf("child's group: %d\n", getpgid(c) == c);
    printf("same session: %d\n", getsid(c) == getsid(0));
    write(p[1], "x", 1);
    int st;
    waitpid(c, &st, 0);
    errno = 0;
    printf("getpgid of a reaped child: %d %s\n", getpgid(c), strerror(errno));
    errno = 0;
    printf("setpgid of a stranger: %d %s\n", setpgid(1, 1), strerror(errno));
    c = fork();
    if (c == 0) {
        setpgid(0, 0);
        _exit(3);
    }
    setpgid(c, c);
    waitpid(-c, &st, 0);
    printf("wait for a group: %d\n", WEXITSTATUS(st));
    return 0;
}
