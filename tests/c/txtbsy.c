/* ETXTBSY: a running program cannot be opened for writing, and a file
 * open for writing cannot be run. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1) {
        pause();
        return 0;
    }
    char path[] = "/tmp/moat-txt-XXXXXX";
    int out = mkstemp(path);
    int in = open("/proc/self/exe", O_RDONLY);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) write(out, buf, n);
    fchmod(out, 0755);
    errno = 0;
    char *args[] = {path, "wait", NULL};
    pid_t c = fork();
    if (c == 0) {
        execv(path, args);
        printf("exec while open for writing: %s\n", strerror(errno));
        _exit(1);
    }
    int st;
    waitpid(c, &st, 0);
    close(out);
    c = fork();
    if (c == 0) {
        execv(path, args);
        _exit(2);
    }
    usleep(300000);
    errno = 0;
    int w = open(path, O_WRONLY);
    printf("open for writing while it runs: %d %s\n", w < 0 ? -1 : 0, strerror(errno));
    kill(c, SIGKILL);
    waitpid(c, &st, 0);
    w = open(path, O_WRONLY);
    printf("after it ended: %d\n", w < 0 ? -1 : 0);
    unlink(path);
    return 0;
}
