/* Unix socketpairs: stream, datagram and seqpacket semantics, flags,
 * shutdown and EPIPE, descriptors passed with SCM_RIGHTS (to another
 * process, sharing the open file), control truncation, SO_PEERCRED, names,
 * readiness, and the error cases. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static volatile sig_atomic_t pipes;
static void on_pipe(int s) { (void)s; pipes++; }

static int send_fds(int sock, const int *fds, int n) {
    char data = 'F';
    struct iovec iov = {&data, 1};
    char control[CMSG_SPACE(sizeof(int) * 4)];
    memset(control, 0, sizeof control);
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    return sendmsg(sock, &m, 0);
}

/* Receives up to 4 descriptors into `out` with a control buffer of
 * `room` bytes; returns how many arrived, -1 on error. */
static int recv_fds(int sock, int *out, size_t room, int *flags) {
    char data;
    struct iovec iov = {&data, 1};
    char control[256];
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = room};
    if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) < 0) return -1;
    *flags = m.msg_flags;
    int n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_type == SCM_RIGHTS) {
            int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(out + n, CMSG_DATA(c), sizeof(int) * k);
            n += k;
        }
    }
    return n;
}

int main(void) {
    signal(SIGPIPE, on_pipe);
    char buf[64];
    int s[2];

    /* Stream. */
    show("socketpair stream", socketpair(AF_UNIX, SOCK_STREAM, 0, s));
    show("send", send(s[0], "hello world", 11, 0));
    show("peek", recv(s[1], buf, 5, MSG_PEEK));
    show("recv", recv(s[1], buf, sizeof buf, 0));
    printf("got [%.11s]\n", buf);
    show("recv nothing, dontwait", recv(s[1], buf, sizeof buf, MSG_DONTWAIT));
    write(s[1], "back", 4);
    show("read the other way", read(s[0], buf, sizeof buf));
    int type = 0;
    socklen_t len = sizeof type;
    getsockopt(s[0], SOL_SOCKET, SO_TYPE, &type, &len);
    printf("SO_TYPE stream %d\n", type == SOCK_STREAM);
    struct ucred cred;
    len = sizeof cred;
    show("SO_PEERCRED", getsockopt(s[1], SOL_SOCKET, SO_PEERCRED, &cred, &len));
    printf("peer is me %d, uid %u, gid %u, len %u\n", cred.pid == getpid(), cred.uid, cred.gid, len);
    struct sockaddr_un name;
    len = sizeof name;
    show("getsockname", getsockname(s[0], (struct sockaddr *)&name, &len));
    printf("family %d len %u\n", name.sun_family, len);
    len = sizeof name;
    show("getpeername", getpeername(s[0], (struct sockaddr *)&name, &len));
    struct pollfd p = {s[1], POLLIN, 0};
    show("poll empty", poll(&p, 1, 0));
    send(s[0], "x", 1, 0);
    show("poll ready", poll(&p, 1, 0));
    recv(s[1], buf, 1, 0);
    show("shutdown write", shutdown(s[0], SHUT_WR));
    show("recv at EOF", recv(s[1], buf, sizeof buf, 0));
    show("send after shutdown", send(s[0], "x", 1, 0));
    printf("SIGPIPEs %d\n", pipes);
    show("send after shutdown, MSG_NOSIGNAL", send(s[0], "x", 1, MSG_NOSIGNAL));
    printf("SIGPIPEs %d\n", pipes);
    show("bad shutdown", shutdown(s[0], 7));
    show("sendto with an address", sendto(s[1], "x", 1, 0, (struct sockaddr *)&name, sizeof(sa_family_t) + 2));
    close(s[0]);
    close(s[1]);

    /* Datagram: boundaries and truncation. */
    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, s);
    send(s[0], "first", 5, 0);
    send(s[0], "second!", 7, 0);
    show("dgram 1", recv(s[1], buf, sizeof buf, 0));
    show("dgram 2, truncated, real length", recv(s[1], buf, 3, MSG_TRUNC));
    send(s[0], "third", 5, 0);
    struct iovec iov = {buf, 2};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    show("recvmsg truncated", recvmsg(s[1], &m, 0));
    printf("MSG_TRUNC %d\n", (m.msg_flags & MSG_TRUNC) != 0);
    close(s[0]);
    close(s[1]);

    /* Seqpacket: boundaries, then EOF. */
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s);
    send(s[0], "ab", 2, 0);
    send(s[0], "cde", 3, 0);
    show("seqpacket 1", recv(s[1], buf, sizeof buf, 0));
    show("seqpacket 2", recv(s[1], buf, sizeof buf, 0));
    close(s[0]);
    show("seqpacket EOF", recv(s[1], buf, sizeof buf, 0));
    close(s[1]);

    /* SCM_RIGHTS to another process: a pipe's write end. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    int pp[2];
    pipe(pp);
    pid_t c = fork();
    if (c == 0) {
        close(s[0]);
        int got[4], fl;
        int n = recv_fds(s[1], got, 256, &fl);
        char msg[64];
        int k = snprintf(msg, sizeof msg, "child got %d fd(s), cloexec %d", n, fcntl(got[0], F_GETFD) & FD_CLOEXEC);
        write(got[0], msg, k);
        _exit(0);
    }
    close(s[1]);
    show("send a descriptor", send_fds(s[0], &pp[1], 1));
    close(pp[1]);
    waitpid(c, 0, 0);
    memset(buf, 0, sizeof buf);
    read(pp[0], buf, sizeof buf);
    printf("[%s]\n", buf);
    close(pp[0]);
    close(s[0]);

    /* The received descriptor is the same open file: one offset. */
    socketpair(AF_UNIX, SOCK_DGRAM, 0, s);
    char path[64];
    snprintf(path, sizeof path, "/tmp/moat-unix-%d", getpid());
    int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    write(f, "0123456789", 10);
    lseek(f, 2, SEEK_SET);
    int two[2] = {f, f};
    send_fds(s[0], two, 2);
    int got[4], fl = 0;
    show("received", recv_fds(s[1], got, 256, &fl));
    lseek(got[0], 7, SEEK_SET);
    printf("sender's offset follows: %ld\n", (long)lseek(f, 0, SEEK_CUR));
    printf("received cloexec %d\n", fcntl(got[1], F_GETFD) & FD_CLOEXEC);
    close(got[0]);
    close(got[1]);
    /* Not enough control room: MSG_CTRUNC, and only what fits. */
    int three[3] = {f, f, f};
    send_fds(s[0], three, 3);
    show("received in a small buffer", recv_fds(s[1], got, CMSG_SPACE(sizeof(int)), &fl));
    printf("MSG_CTRUNC %d\n", (fl & MSG_CTRUNC) != 0);
    close(got[0]);
    int bad = 999;
    show("send a bad descriptor", send_fds(s[0], &bad, 1));
    unlink(path);
    close(f);

    /* A blocking receive woken by another process. */
    c = fork();
    if (c == 0) {
        usleep(20000);
        send(s[0], "late", 4, 0);
        _exit(0);
    }
    show("blocking recv", recv(s[1], buf, sizeof buf, 0));
    waitpid(c, 0, 0);

    /* Errors. */
    show("inet socketpair", socketpair(AF_INET, SOCK_STREAM, 0, s));
    show("raw unix", socketpair(AF_UNIX, SOCK_RAW, 0, s));
    show("bad protocol", socketpair(AF_UNIX, SOCK_STREAM, 5, s));
    show("bad family", socketpair(12345, SOCK_STREAM, 0, s));
    show("send on a pipe", send(pp[0] = dup(1), "x", 1, 0));
    show("bad pointer", socketpair(AF_UNIX, SOCK_STREAM, 0, (int *)8));
    int u = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("unix socket", u >= 0 ? 0 : -1);
    show("send unconnected", send(u, "x", 1, 0));
    return 0;
}
