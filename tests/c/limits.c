/* RLIMIT_FSIZE and SIGXFSZ, brk growth and limits, /proc/self/maps. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int xfsz;
static void on_xfsz(int s) { (void)s; xfsz++; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char path[] = "/tmp/moat-limits-XXXXXX";
    int fd = mkstemp(path);
    signal(SIGXFSZ, on_xfsz);
    struct rlimit rl = {1000, 1000};
    setrlimit(RLIMIT_FSIZE, &rl);
    char buf[700];
    memset(buf, 'x', sizeof buf);
    printf("first write: %zd\n", write(fd, buf, sizeof buf));
    printf("second write cut at the limit: %zd\n", write(fd, buf, sizeof buf));
    errno = 0;
    ssize_t w = write(fd, buf, 1);
    printf("third write: %zd %s, SIGXFSZ seen: %d\n", w, strerror(errno), xfsz);
    pid_t c = fork();
    if (c == 0) {
        signal(SIGXFSZ, SIG_DFL);
        write(fd, buf, 1);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    printf("default SIGXFSZ: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));
    unlink(path);

    char *b0 = sbrk(0);
    int grew = 0;
    for (int i = 0; i < 64; i++) {
        if (sbrk(1 << 20) == (void *)-1) break;
        grew++;
    }
    printf("brk grew by 64 MiB in 1 MiB steps: %d\n", grew);
    memset(b0, 1, 64 << 20);
    printf("break back down: %d\n", brk(b0));

    FILE *m = fopen("/proc/self/maps", "r");
    char line[512];
    int heap = 0, stack = 0, exe = 0;
    while (fgets(line, sizeof line, m)) {
        heap |= strstr(line, "[heap]") != NULL;
        stack |= strstr(line, "[stack]") != NULL;
        exe |= strstr(line, "c-limits") != NULL && strstr(line, "r-xp") != NULL;
    }
    printf("maps show heap %d stack %d executable text %d\n", heap, stack, exe);
    return 0;
}
