/* SA_RESTART vs EINTR for reads, waits and sleeps. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void on_alarm(int s) { (void)s; }

static void arm(int restart) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2];
    char c;
    pipe(p);
    arm(0);
    errno = 0;
    ssize_t r = read(p[0], &c, 1);
    printf("read without SA_RESTART: %zd %s\n", r, strerror(errno));

    pid_t w = fork();
    if (w == 0) {
        usleep(300000);
        write(p[1], "z", 1);
        _exit(0);
    }
    arm(1);
    errno = 0;
    r = read(p[0], &c, 1);
    printf("read with SA_RESTART: %zd %c\n", r, c);
    waitpid(w, NULL, 0);

    pid_t k = fork();
    if (k == 0) {
        usleep(300000);
        _exit(4);
    }
    arm(0);
    int st;
    errno = 0;
    printf("waitpid without SA_RESTART: %d %s\n", (int)waitpid(k, &st, 0), strerror(errno));
    arm(1);
    printf("waitpid with SA_RESTART: %d\n", waitpid(k, &st, 0) == k && WEXITSTATUS(st) == 4);

    arm(1);
    struct timespec req = {1, 0}, rem;
    errno = 0;
    printf("nanosleep even with SA_RESTART: %d %s\n", nanosleep(&req, &rem), strerror(errno));
    return 0;
}
