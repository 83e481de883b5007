/* preadv, pwritev, preadv2, pwritev2: offsets, the file position, pipes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define SHOW(what, call)                                                          \
    do {                                                                          \
        errno = 0;                                                                \
        long r_ = (long)(call);                                                   \
        printf("%-36s %ld %s\n", what, r_, r_ < 0 ? strerror(errno) : "");       \
    } while (0)

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char path[] = "/tmp/moat-vio-XXXXXX";
    int fd = mkstemp(path);
    char a[] = "hello ", b[] = "world";
    struct iovec w[2] = {{a, 6}, {b, 5}};
    SHOW("pwritev at 4", pwritev(fd, w, 2, 4));
    SHOW("position after pwritev", lseek(fd, 0, SEEK_CUR));
    char x[4] = {0}, y[8] = {0};
    struct iovec r[2] = {{x, 3}, {y, 7}};
    SHOW("preadv at 4", preadv(fd, r, 2, 4));
    printf("got [%s][%s]\n", x, y);
    SHOW("preadv past end", preadv(fd, r, 2, 100));
    SHOW("preadv negative offset", preadv(fd, r, 2, -5));
    SHOW("pwritev2 at -1 (position)", pwritev2(fd, w, 2, -1, 0));
    SHOW("position after pwritev2", lseek(fd, 0, SEEK_CUR));
    SHOW("pwritev2 RWF_DSYNC at 0", pwritev2(fd, w, 1, 0, RWF_DSYNC));
    lseek(fd, 0, SEEK_SET);
    memset(x, 0, sizeof x);
    memset(y, 0, sizeof y);
    SHOW("preadv2 at -1", preadv2(fd, r, 2, -1, 0));
    printf("got [%s][%s]\n", x, y);
    SHOW("position after preadv2", lseek(fd, 0, SEEK_CUR));
    SHOW("preadv2 unknown flag", preadv2(fd, r, 2, 0, 0x10000));
    SHOW("preadv bad iovec pointer", preadv(fd, (struct iovec *)8, 1, 0));
    SHOW("preadv too many iovecs", preadv(fd, r, 5000, 0));
    SHOW("preadv bad fd", preadv(99, r, 2, 0));
    int p[2];
    pipe(p);
    SHOW("pwritev on a pipe", pwritev(p[1], w, 2, 0));
    SHOW("pwritev2 -1 on a pipe", pwritev2(p[1], w, 2, -1, 0));
    SHOW("preadv on a pipe", preadv(p[0], r, 2, 0));
    int ro = open(path, O_RDONLY);
    SHOW("pwritev on a read-only fd", pwritev(ro, w, 2, 0));
    unlink(path);
    return 0;
}
