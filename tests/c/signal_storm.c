/* Signals arriving while the process forks, execs and waits: every call
 * completes or restarts, nothing is lost that must not be. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int hits;
static void on_usr1(int s) { (void)s; hits++; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    pid_t me = getpid();
    pid_t sender = fork();
    if (sender == 0) {
        for (int i = 0; i < 300; i++) {
            kill(me, SIGUSR1);
            usleep(500);
        }
        _exit(0);
    }
    int ok = 0;
    for (int i = 0; i < 60; i++) {
        pid_t c = fork();
        if (c == 0) _exit(i % 7);
        int st;
        while (waitpid(c, &st, 0) < 0 && errno == EINTR) {}
        if (WIFEXITED(st) && WEXITSTATUS(st) == i % 7) ok++;
    }
    int st;
    while (waitpid(sender, &st, 0) < 0 && errno == EINTR) {}
    printf("children reaped with the right status: %d of 60\n", ok);
    printf("handler ran: %d\n", hits > 0);
    return 0;
}
