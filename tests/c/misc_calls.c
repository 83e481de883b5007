/* sigtimedwait, sigqueue values, select, FIONREAD, madvise, mremap, and
 * getdents64 over 5,000 entries. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile int got_value;
static void on_rt(int s, siginfo_t *si, void *u) {
    (void)s;
    (void)u;
    got_value = si->si_value.sival_int;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR1);
    siginfo_t info;
    int s = sigwaitinfo(&set, &info);
    printf("sigwaitinfo: %d code_is_tkill=%d\n", s, info.si_code == SI_TKILL);
    struct timespec short_wait = {0, 50000000};
    errno = 0;
    int r = sigtimedwait(&set, &info, &short_wait);
    printf("sigtimedwait with nothing pending: %d %s\n", r, strerror(errno));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_rt;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGRTMIN, &sa, NULL);
    union sigval v = {.sival_int = 4242};
    sigqueue(getpid(), SIGRTMIN, v);
    printf("sigqueue value: %d\n", got_value);

    int p[2];
    pipe(p);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    struct timeval tv = {0, 20000};
    printf("select on empty pipe: %d\n", select(p[0] + 1, &rd, NULL, NULL, &tv));
    write(p[1], "hello", 5);
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    tv.tv_sec = 1;
    printf("select on ready pipe: %d isset=%d\n", select(p[0] + 1, &rd, NULL, NULL, &tv), FD_ISSET(p[0], &rd));
    int avail = 0;
    ioctl(p[0], FIONREAD, &avail);
    printf("FIONREAD: %d\n", avail);

    char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(m, 1, 8192);
    madvise(m, 4096, MADV_DONTNEED);
    printf("after DONTNEED: %d %d\n", m[0], m[4096]);
    char *g = mremap(m, 8192, 65536, MREMAP_MAYMOVE);
    printf("mremap grew: %d kept=%d new-zero=%d\n", g != MAP_FAILED, g[4096], g[65535]);
    errno = 0;
    void *bad = mremap(g, 4096, 8192, 0x100);
    printf("mremap bad flags: %d %s\n", bad == MAP_FAILED, strerror(errno));

    char dir[] = "/tmp/moat-getdents-XXXXXX";
    mkdtemp(dir);
    char path[128];
    for (int i = 0; i < 5000; i++) {
        snprintf(path, sizeof path, "%s/f%05d", dir, i);
        close(open(path, O_CREAT | O_WRONLY, 0644));
    }
    DIR *d = opendir(dir);
    int n = 0, dots = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') dots++;
        else n++;
    }
    closedir(d);
    printf("getdents: %d files, %d dot entries\n", n, dots);
    for (int i = 0; i < 5000; i++) {
        snprintf(path, sizeof path, "%s/f%05d", dir, i);
        unlink(path);
    }
    printf("rmdir: %d\n", rmdir(dir));
    return 0;
}
