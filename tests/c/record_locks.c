/* fcntl record locks between processes: F_GETLK reports, F_SETLK
 * conflicts, F_SETLKW waits, ranges split and merge, any close releases a
 * process's POSIX locks, OFD locks belong to the open file, and the error
 * cases. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[64];

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static int lk(int fd, int cmd, short type, short whence, off_t start, off_t len) {
    struct flock l = {.l_type = type, .l_whence = whence, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &l);
}

/* What another process sees with F_GETLK over the whole file. */
static void probe(const char *what, short type) {
    pid_t me = getpid();
    pid_t c = fork();
    if (c == 0) {
        int fd = open(path, O_RDWR);
        struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
        fcntl(fd, F_GETLK, &l);
        const char *t = l.l_type == F_UNLCK ? "none" : l.l_type == F_RDLCK ? "read" : "write";
        printf("%s: %s", what, t);
        if (l.l_type != F_UNLCK)
            printf(" %ld+%ld by %s", (long)l.l_start, (long)l.l_len,
                   l.l_pid == me ? "the parent" : l.l_pid == -1 ? "an open file" : "someone else");
        printf("\n");
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, 0, 0);
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    snprintf(path, sizeof path, "/tmp/moat-locks-%d", getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    write(fd, "0123456789", 10);

    probe("nothing locked", F_WRLCK);
    show("write lock 0..99", lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 100));
    probe("seen by another process", F_RDLCK);
    show("unlock 40..59", lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 40, 20));
    probe("split", F_RDLCK);
    show("unlock all", lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
    show("read 0..9", lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 0, 10));
    show("read 10..19", lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 10, 10));
    probe("merged", F_WRLCK);
    probe("readers share", F_RDLCK);
    show("upgrade to write, from the end backwards", lk(fd, F_SETLK, F_WRLCK, SEEK_END, -10, -5));
    probe("after the upgrade", F_WRLCK);
    lseek(fd, 3, SEEK_SET);
    show("from the current offset to EOF", lk(fd, F_SETLK, F_WRLCK, SEEK_CUR, 0, 0));
    probe("to EOF", F_RDLCK);

    /* A conflicting lock in a child: EAGAIN, then F_SETLKW waits. */
    int pp[2];
    pipe(pp);
    pid_t c = fork();
    if (c == 0) {
        int f2 = open(path, O_RDWR);
        show("child F_SETLK", lk(f2, F_SETLK, F_RDLCK, SEEK_SET, 5, 1));
        write(pp[1], "t", 1);
        show("child F_SETLKW (waits for the parent)", lk(f2, F_SETLKW, F_RDLCK, SEEK_SET, 5, 1));
        _exit(0);
    }
    char b;
    read(pp[0], &b, 1);
    usleep(30000);
    lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0);
    waitpid(c, 0, 0);

    /* Closing any descriptor of the file drops the process's locks. */
    lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1);
    int other = open(path, O_RDONLY);
    close(other);
    probe("after closing another descriptor", F_WRLCK);

    /* OFD locks: owned by the open file, conflicting even with this
     * process's own POSIX locks. */
    int o1 = open(path, O_RDWR);
    show("OFD write lock", lk(o1, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10));
    probe("OFD lock seen", F_RDLCK);
    show("POSIX lock over it, same process", lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
    int o2 = open(path, O_RDWR);
    show("another open file's OFD lock", lk(o2, F_OFD_SETLK, F_WRLCK, SEEK_SET, 5, 1));
    int dupd = dup(o1);
    close(o1);
    probe("still held through the dup", F_RDLCK);
    close(dupd);
    probe("gone with the last close", F_RDLCK);
    struct flock bad = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_pid = 1};
    show("OFD with l_pid set", fcntl(o2, F_OFD_SETLK, &bad));

    /* Errors. */
    show("bad type", lk(fd, F_SETLK, 7, SEEK_SET, 0, 1));
    show("bad whence", lk(fd, F_SETLK, F_RDLCK, 9, 0, 1));
    show("negative start", lk(fd, F_SETLK, F_RDLCK, SEEK_SET, -5, 1));
    int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY);
    show("write lock on a read-only descriptor", lk(ro, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
    show("read lock on a write-only descriptor", lk(wo, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
    show("F_GETLK of F_UNLCK", lk(fd, F_GETLK, F_UNLCK, SEEK_SET, 0, 1));
    show("bad pointer", fcntl(fd, F_SETLK, (void *)8));
    unlink(path);
    return 0;
}
