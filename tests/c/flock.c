/* flock: locks belong to the open file description: a separate open
 * conflicts, a dup or a forked copy shares the lock, the last close frees
 * it; a blocked flock waits for the release and a signal interrupts it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *path = "/tmp/flock-test-file";

static void show(const char *what, int r) {
    printf("%s: %d %s\n", what, r, r < 0 ? strerror(errno) : "-");
}

static void on_alarm(int s) {
    (void)s;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    unlink(path);
    int a = open(path, O_RDWR | O_CREAT, 0600);
    int b = open(path, O_RDWR);
    show("a exclusive", flock(a, LOCK_EX | LOCK_NB));
    show("b exclusive, separate open", flock(b, LOCK_EX | LOCK_NB));
    show("b shared, separate open", flock(b, LOCK_SH | LOCK_NB));
    int a2 = dup(a);
    show("dup of a converts to shared", flock(a2, LOCK_SH | LOCK_NB));
    show("b shared now", flock(b, LOCK_SH | LOCK_NB));
    show("a exclusive again while b shares", flock(a, LOCK_EX | LOCK_NB));
    show("b unlock", flock(b, LOCK_UN));
    show("a exclusive again", flock(a, LOCK_EX | LOCK_NB));

    /* A forked child shares a's lock through the inherited descriptor. */
    pid_t c = fork();
    if (c == 0) {
        show("child: inherited a unlocks the shared lock", flock(a, LOCK_UN));
        _exit(0);
    }
    waitpid(c, NULL, 0);
    show("b exclusive after the child unlocked", flock(b, LOCK_EX | LOCK_NB));

    /* A blocked flock waits until the holder lets go. */
    int ready[2];
    pipe(ready);
    c = fork();
    if (c == 0) {
        int d = open(path, O_RDWR);
        write(ready[1], "w", 1);
        int r = flock(d, LOCK_EX);
        printf("child: blocking flock returned %d once the parent unlocked\n", r);
        _exit(0);
    }
    char ch;
    read(ready[0], &ch, 1);
    usleep(100 * 1000);
    printf("parent: unlocking\n");
    flock(b, LOCK_UN);
    waitpid(c, NULL, 0);

    /* The last close frees the lock. */
    show("a exclusive", flock(a, LOCK_EX | LOCK_NB));
    close(a);
    show("b exclusive while dup a2 still holds it", flock(b, LOCK_EX | LOCK_NB));
    close(a2);
    show("b exclusive after the last close", flock(b, LOCK_EX | LOCK_NB));

    /* A signal interrupts a blocked flock (no SA_RESTART). */
    int e = open(path, O_RDWR);
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 50 * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
    show("blocked flock and a signal", flock(e, LOCK_EX));

    show("bad operation", flock(b, 3));
    show("LOCK_NB alone", flock(b, LOCK_NB));
    show("closed descriptor", flock(99, LOCK_EX));
    unlink(path);
    return 0;
}
