/* Named Unix sockets: bind to paths and abstract names, listen, accept,
 * connect (from another process), the names and credentials each side
 * sees, readiness of a listening socket, datagrams to a name, and the
 * error cases. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static socklen_t path_addr(struct sockaddr_un *a, const char *p) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, p);
    return offsetof(struct sockaddr_un, sun_path) + strlen(p) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *n) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path + 1, n, strlen(n));
    return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(n);
}

int main(void) {
    char path[64], cpath[64], buf[64];
    snprintf(path, sizeof path, "/tmp/moat-named-%d", getpid());
    snprintf(cpath, sizeof cpath, "/tmp/moat-named-client-%d", getpid());
    struct sockaddr_un a, got;
    socklen_t alen = path_addr(&a, path), len;
    umask(022);

    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    show("bind", bind(srv, (struct sockaddr *)&a, alen));
    struct stat st;
    stat(path, &st);
    printf("socket file %d, mode %o\n", S_ISSOCK(st.st_mode), st.st_mode & 0777);
    show("bind again", bind(srv, (struct sockaddr *)&a, alen));
    char fresh[80];
    snprintf(fresh, sizeof fresh, "%s.second", path);
    struct sockaddr_un a2;
    show("bind a bound socket to a free path", bind(srv, (struct sockaddr *)&a2, path_addr(&a2, fresh)));
    show("that path left no file", stat(fresh, &st));
    int other = socket(AF_UNIX, SOCK_STREAM, 0);
    show("bind a taken path", bind(other, (struct sockaddr *)&a, alen));
    len = sizeof got;
    getsockname(srv, (struct sockaddr *)&got, &len);
    printf("name is the path %d, len is its length %d\n", strcmp(got.sun_path, path) == 0, len == alen);
    show("connect before listen", connect(other, (struct sockaddr *)&a, alen));
    show("listen", listen(srv, 4));
    show("read a listening socket", read(srv, buf, 1));
    show("write a listening socket", write(srv, "x", 1));
    show("accept4 bad flags", accept4(srv, 0, 0, 0x1));
    struct pollfd p = {srv, POLLIN, 0};
    show("poll, nobody waiting", poll(&p, 1, 0));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    epoll_ctl(ep, EPOLL_CTL_ADD, srv, &ev);

    /* A client in another process, bound to a name of its own. */
    pid_t c = fork();
    if (c == 0) {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un ca;
        bind(s, (struct sockaddr *)&ca, path_addr(&ca, cpath));
        if (connect(s, (struct sockaddr *)&a, alen) < 0) _exit(1);
        struct sockaddr_un peer;
        socklen_t pl = sizeof peer;
        getpeername(s, (struct sockaddr *)&peer, &pl);
        struct ucred cr;
        socklen_t cl = sizeof cr;
        getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
        char msg[128];
        int n = snprintf(msg, sizeof msg, "peer is the server's path %d, peer is my parent %d",
                         strcmp(peer.sun_path, path) == 0, cr.pid == getppid());
        send(s, msg, n, 0);
        recv(s, msg, sizeof msg, 0);
        _exit(0);
    }
    show("epoll sees the connection", epoll_wait(ep, &ev, 1, 5000));
    len = sizeof got;
    memset(&got, 0, sizeof got);
    int conn = accept(srv, (struct sockaddr *)&got, &len);
    show("accept", conn >= 0 ? 0 : -1);
    printf("client name [%s]\n", strcmp(got.sun_path, cpath) == 0 ? "the client's path" : got.sun_path);
    memset(buf, 0, sizeof buf);
    recv(conn, buf, sizeof buf - 1, 0);
    printf("client says: %s\n", buf);
    struct ucred cr;
    len = sizeof cr;
    getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &len);
    printf("peer is the child %d\n", cr.pid == c);
    len = sizeof got;
    getsockname(conn, (struct sockaddr *)&got, &len);
    printf("accepted socket's own name is the server's: %d\n", strcmp(got.sun_path, path) == 0);
    send(conn, "bye", 3, 0);
    waitpid(c, 0, 0);
    close(conn);
    show("poll, nobody waiting again", poll(&p, 1, 0));
    struct sockaddr_un x;
    fcntl(srv, F_SETFL, O_NONBLOCK);
    show("accept on a non-blocking listener, none waiting", accept(srv, 0, 0));
    fcntl(srv, F_SETFL, 0);

    /* Errors. */
    int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect to nothing", connect(s2, (struct sockaddr *)&x, path_addr(&x, "/tmp/moat-nowhere")));
    show("connect to a directory", connect(s2, (struct sockaddr *)&x, path_addr(&x, "/tmp")));
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("wrong type", connect(d, (struct sockaddr *)&a, alen));
    show("listen on a datagram socket", listen(d, 1));
    show("accept on a plain socket", accept(s2, 0, 0));
    show("bad family", bind(s2, (struct sockaddr *)&(struct sockaddr){.sa_family = AF_INET}, 16));
    show("short address", bind(s2, (struct sockaddr *)&a, 1));
    int s3 = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect", connect(s3, (struct sockaddr *)&a, alen));
    show("connect again", connect(s3, (struct sockaddr *)&a, alen));
    len = sizeof got;
    show("getpeername unconnected", getpeername(s2, (struct sockaddr *)&got, &len));
    unlink(path);
    show("connect after unlink", connect(s2, (struct sockaddr *)&a, alen));
    unlink(cpath);
    close(srv);

    /* Abstract names, and autobind. */
    int ab = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    socklen_t ablen = abstract_addr(&x, "moat-test-abstract");
    show("bind abstract", bind(ab, (struct sockaddr *)&x, ablen));
    listen(ab, 1);
    int ac = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    show("connect abstract", connect(ac, (struct sockaddr *)&x, ablen));
    int as = accept(ab, 0, 0);
    send(ac, "one", 3, 0);
    send(ac, "two!", 4, 0);
    show("seqpacket 1", recv(as, buf, sizeof buf, 0));
    show("seqpacket 2", recv(as, buf, sizeof buf, 0));
    int auto_ = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr fam = {.sa_family = AF_UNIX};
    show("autobind", bind(auto_, &fam, sizeof(sa_family_t)));
    len = sizeof got;
    getsockname(auto_, (struct sockaddr *)&got, &len);
    printf("autobind name length %u, abstract %d\n", len, got.sun_path[0] == 0);
    show("connect to a free abstract name", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&x,
                                                     abstract_addr(&x, "moat-nobody-listens")));

    /* Datagrams to a name. */
    int ds = socket(AF_UNIX, SOCK_DGRAM, 0);
    char dpath[80];
    snprintf(dpath, sizeof dpath, "%s.dgram", path);
    socklen_t dlen = path_addr(&x, dpath);
    show("bind datagram", bind(ds, (struct sockaddr *)&x, dlen));
    int dc = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("sendto the name", sendto(dc, "first", 5, 0, (struct sockaddr *)&x, dlen));
    show("connect datagram", connect(dc, (struct sockaddr *)&x, dlen));
    show("send", send(dc, "second", 6, 0));
    len = sizeof got;
    show("recvfrom 1", recvfrom(ds, buf, sizeof buf, 0, (struct sockaddr *)&got, &len));
    printf("sender address length %u\n", len);
    show("recv 2", recv(ds, buf, sizeof buf, 0));
    unlink(dpath);
    return 0;
}
