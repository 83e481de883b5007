/* inotify on the sandbox's own changes: a watched directory sees
 * creations, writes, closes, moves and deletions with names; a watched
 * file sees its writes; readiness in poll; rm_watch and IN_IGNORED;
 * blocking reads woken by another process; the error cases. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static int dwd, fwd;

static void drain(int fd, const char *what) {
    char buf[4096];
    int n = read(fd, buf, sizeof buf);
    printf("%s:", what);
    if (n < 0) {
        printf(" -1 %s\n", strerrorname_np(errno));
        return;
    }
    for (char *p = buf; p < buf + n;) {
        struct inotify_event *e = (struct inotify_event *)p;
        const char *who = e->wd == dwd ? "dir" : e->wd == fwd ? "file" : "?";
        printf(" [%s %x%s%s%s]", who, e->mask, e->len ? " " : "", e->len ? e->name : "", e->cookie ? " cookie" : "");
        p += sizeof *e + e->len;
    }
    printf("\n");
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    char dir[64], f[96], g[96], sub[96];
    snprintf(dir, sizeof dir, "/tmp/moat-inotify-%d", getpid());
    snprintf(f, sizeof f, "%s/file", dir);
    snprintf(g, sizeof g, "%s/moved", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    mkdir(dir, 0755);
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    show("inotify_init1", in >= 0 ? 0 : -1);
    dwd = inotify_add_watch(in, dir, IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO);
    show("watch the directory", dwd);
    show("nothing yet", read(in, f, 0) < 0 && errno == EINVAL ? 0 : -1);
    drain(in, "empty");

    int fd = open(f, O_WRONLY | O_CREAT, 0644);
    write(fd, "a", 1);
    write(fd, "b", 1);
    close(fd);
    struct pollfd p = {in, POLLIN, 0};
    show("poll", poll(&p, 1, 0));
    drain(in, "create, write, close");

    fwd = inotify_add_watch(in, f, IN_MODIFY | IN_DELETE_SELF);
    show("watch the file", fwd);
    show("same file, same wd", inotify_add_watch(in, f, IN_MODIFY | IN_MASK_ADD) == fwd);
    fd = open(f, O_WRONLY | O_APPEND);
    write(fd, "c", 1);
    close(fd);
    drain(in, "append");
    mkdir(sub, 0755);
    rename(f, g);
    drain(in, "mkdir, rename");
    unlink(g);
    rmdir(sub);
    drain(in, "unlink, rmdir");
    show("rm_watch", inotify_rm_watch(in, dwd));
    show("rm_watch again", inotify_rm_watch(in, dwd));
    drain(in, "after rm_watch");

    /* A blocking read woken by a change made in another process. */
    int b = inotify_init();
    dwd = inotify_add_watch(b, dir, IN_CREATE);
    fwd = -2;
    pid_t c = fork();
    if (c == 0) {
        usleep(20000);
        close(open(f, O_WRONLY | O_CREAT, 0600));
        _exit(0);
    }
    drain(b, "blocking");
    waitpid(c, 0, 0);

    /* Errors. */
    show("no events asked", inotify_add_watch(b, dir, 0));
    show("missing path", inotify_add_watch(b, "/tmp/moat-nothing-here", IN_CREATE));
    show("IN_ONLYDIR on a file", inotify_add_watch(b, "/etc/passwd", IN_CREATE | IN_ONLYDIR));
    show("not an inotify fd", inotify_add_watch(1, dir, IN_CREATE));
    show("bad flags", inotify_init1(0x1));
    char small[8];
    close(open(g, O_WRONLY | O_CREAT, 0600));
    show("buffer too small", read(b, small, sizeof small));
    unlink(f);
    unlink(g);
    rmdir(dir);
    return 0;
}
