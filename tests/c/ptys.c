/* Pseudo-terminals: posix_openpt, grantpt, unlockpt, ptsname, ttyname, the
 * line discipline between the two ends, termios and window size, and the
 * slave's end when the master closes. Pty numbers differ between hosts and
 * sandboxes, so only their shape is printed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    printf("posix_openpt: %s\n", m >= 0 ? "ok" : strerror(errno));
    int g = grantpt(m);
    int u = unlockpt(m);
    printf("grantpt: %d unlockpt: %d\n", g, u);
    char *name = ptsname(m);
    printf("ptsname shape: %s\n", name && strncmp(name, "/dev/pts/", 9) == 0 ? "/dev/pts/N" : "bad");
    int s = open(name, O_RDWR | O_NOCTTY);
    printf("open slave: %s\n", s >= 0 ? "ok" : strerror(errno));
    printf("isatty master %d slave %d\n", isatty(m), isatty(s));
    char *tn = ttyname(s);
    printf("ttyname(slave) == ptsname: %d\n", tn && strcmp(tn, name) == 0);
    struct termios t;
    int r = tcgetattr(s, &t);
    printf("tcgetattr: %d echo %d icanon %d\n", r, !!(t.c_lflag & ECHO), !!(t.c_lflag & ICANON));
    /* Canonical mode: a line goes through with its newline. */
    write(m, "hello\n", 6);
    char buf[64] = {0};
    ssize_t n = read(s, buf, sizeof buf - 1);
    printf("slave read %zd: %s", n, buf);
    /* The echo comes back to the master. */
    memset(buf, 0, sizeof buf);
    n = read(m, buf, sizeof buf - 1);
    printf("master got echo %zd bytes\n", n);
    cfmakeraw(&t);
    r = tcsetattr(s, TCSANOW, &t);
    printf("tcsetattr raw: %d\n", r);
    tcgetattr(s, &t);
    printf("after: echo %d icanon %d\n", !!(t.c_lflag & ECHO), !!(t.c_lflag & ICANON));
    write(m, "x", 1);
    memset(buf, 0, sizeof buf);
    n = read(s, buf, sizeof buf - 1);
    printf("raw read %zd: %s\n", n, buf);
    struct winsize ws = {.ws_row = 24, .ws_col = 100};
    r = ioctl(m, TIOCSWINSZ, &ws);
    printf("TIOCSWINSZ: %d\n", r);
    memset(&ws, 0, sizeof ws);
    ioctl(s, TIOCGWINSZ, &ws);
    printf("slave sees %dx%d\n", ws.ws_row, ws.ws_col);
    int ptn = -1;
    r = ioctl(m, TIOCGPTN, &ptn);
    printf("TIOCGPTN: %d (matches name: %d)\n", r, ptn >= 0 && atoi(name + 9) == ptn);
    errno = 0;
    r = ioctl(s, TIOCGPTN, &ptn);
    printf("TIOCGPTN on the slave: %d %s\n", r, strerror(errno));
    close(m);
    errno = 0;
    n = read(s, buf, 1);
    printf("read after master closed: %zd %s\n", n, n < 0 ? strerror(errno) : "");
    return 0;
}
