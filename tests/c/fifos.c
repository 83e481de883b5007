/* Named pipes: mkfifo and mknod, opens that wait for the other end (and
 * the non-blocking forms that do not), data and EOF between processes,
 * EPIPE, O_RDWR, the buffer dropped with the last close, and a FIFO that
 * is unlinked while open. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static volatile sig_atomic_t pipes;
static void on_pipe(int s) { (void)s; pipes++; }

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    signal(SIGPIPE, on_pipe);
    char path[64], other[64], buf[64];
    snprintf(path, sizeof path, "/tmp/moat-fifo-%d", getpid());
    snprintf(other, sizeof other, "/tmp/moat-fifo2-%d", getpid());
    umask(022);
    show("mkfifo", mkfifo(path, 0666));
    show("mkfifo again", mkfifo(path, 0666));
    show("mknod S_IFIFO", mknod(other, S_IFIFO | 0600, 0));
    struct stat st;
    stat(path, &st);
    printf("is a fifo %d, mode %o, size %ld\n", S_ISFIFO(st.st_mode), st.st_mode & 0777, (long)st.st_size);

    /* Non-blocking opens. */
    show("writer, no reader, O_NONBLOCK", open(path, O_WRONLY | O_NONBLOCK));
    int r = open(path, O_RDONLY | O_NONBLOCK);
    show("reader, O_NONBLOCK", r >= 0 ? 0 : -1);
    show("read with no writer", read(r, buf, sizeof buf));
    int w = open(path, O_WRONLY | O_NONBLOCK);
    show("writer with a reader", w >= 0 ? 0 : -1);
    show("read, writer there, empty", read(r, buf, sizeof buf));
    write(w, "abc", 3);
    show("read", read(r, buf, sizeof buf));
    close(w);
    show("read at EOF", read(r, buf, sizeof buf));
    close(r);

    /* A blocking reader waits for a writer in another process. */
    pid_t c = fork();
    if (c == 0) {
        usleep(30000);
        int fd = open(path, O_WRONLY);
        write(fd, "from the child", 14);
        _exit(0);
    }
    r = open(path, O_RDONLY);
    show("blocking reader opened", r >= 0 ? 0 : -1);
    memset(buf, 0, sizeof buf);
    int n = 0, k;
    while ((k = read(r, buf + n, sizeof buf - 1 - n)) > 0) n += k;
    printf("read [%s] then EOF %d\n", buf, k);
    close(r);
    waitpid(c, 0, 0);

    /* A blocking writer waits for a reader. */
    c = fork();
    if (c == 0) {
        usleep(30000);
        int fd = open(path, O_RDONLY);
        char b[32] = {0};
        read(fd, b, sizeof b - 1);
        printf("child read [%s]\n", b);
        _exit(0);
    }
    w = open(path, O_WRONLY);
    show("blocking writer opened", w >= 0 ? 0 : -1);
    write(w, "to the child", 12);
    waitpid(c, 0, 0);
    show("write with the reader gone", write(w, "x", 1));
    printf("SIGPIPEs %d\n", pipes);
    close(w);

    /* O_RDWR never waits; the buffer goes with the last close. */
    int rw = open(path, O_RDWR);
    show("O_RDWR", rw >= 0 ? 0 : -1);
    write(rw, "kept?", 5);
    close(rw);
    rw = open(path, O_RDWR | O_NONBLOCK);
    show("read after every end closed", read(rw, buf, sizeof buf));
    close(rw);

    /* O_CREAT on an existing FIFO opens it; unlinking keeps it working. */
    r = open(path, O_RDONLY | O_NONBLOCK);
    w = open(path, O_WRONLY | O_CREAT, 0600);
    show("O_CREAT open of the fifo", w >= 0 ? 0 : -1);
    unlink(path);
    write(w, "after unlink", 12);
    memset(buf, 0, sizeof buf);
    read(r, buf, sizeof buf - 1);
    printf("read [%s]\n", buf);
    unlink(other);
    return 0;
}
