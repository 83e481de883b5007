/* alarm, setitimer/getitimer, sleeps interrupted by signals, RLIMIT_NOFILE. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile int alarms;
static void on_alarm(int s) { (void)s; alarms++; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);

    alarm(1);
    pause();
    printf("alarm fired: %d\n", alarms);

    printf("alarm(5) then alarm(0) returns %u\n", (alarm(5), alarm(0)));

    struct itimerval it = {.it_interval = {0, 50000}, .it_value = {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
    struct itimerval cur;
    getitimer(ITIMER_REAL, &cur);
    printf("getitimer: interval %ld us, value within it: %d\n", (long)cur.it_interval.tv_usec,
           cur.it_value.tv_sec == 0 && cur.it_value.tv_usec <= 50000);
    sigset_t none;
    sigemptyset(&none);
    alarms = 0;
    while (alarms < 3) sigsuspend(&none);
    printf("interval timer fired %d times\n", alarms);
    struct itimerval off = {0};
    setitimer(ITIMER_REAL, &off, NULL);
    getitimer(ITIMER_REAL, &cur);
    printf("disarmed: %ld %ld\n", (long)cur.it_value.tv_sec, (long)cur.it_value.tv_usec);


    alarm(1);
    struct timespec req = {5, 0}, rem = {0, 0};
    errno = 0;
    int r = nanosleep(&req, &rem);
    printf("nanosleep interrupted: %d %s, time left between 3 and 5 s: %d\n", r, strerror(errno),
           rem.tv_sec >= 3 && rem.tv_sec < 5);

    struct rlimit rl = {8, 8};
    setrlimit(RLIMIT_NOFILE, &rl);
    int n = 0;
    while (open("/etc/hostname", O_RDONLY) >= 0) n++;
    printf("opened %d more under RLIMIT_NOFILE 8: %s\n", n, strerror(errno));
    return 0;
}
