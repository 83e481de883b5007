/* Setting ids as root and then as another user (in a child): what is
 * allowed, what is EPERM, and what the get calls report. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static void ids(const char *when) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    printf("%s: uid %u %u %u gid %u %u %u\n", when, r, e, s, gr, ge, gs);
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    ids("start");
    show("setresuid(-1, 0, -1)", setresuid(-1, 0, -1));
    show("setuid(0)", setuid(0));
    show("setgid(0)", setgid(0));
    gid_t g[2] = {0, 4};
    show("setgroups", setgroups(2, g));
    printf("groups %d\n", getgroups(0, 0));
    show("setfsuid reports", setfsuid(-1));
    show("setuid(-1)", setuid(-1));
    pid_t c = fork();
    if (c == 0) {
        show("child setgid(1000)", setgid(1000));
        show("child setuid(1000)", setuid(1000));
        ids("dropped");
        show("setuid back to 0", setuid(0));
        show("setresuid to own ids", setresuid(1000, 1000, 1000));
        show("setreuid(-1, 0)", setreuid(-1, 0));
        show("setgroups as a user", setgroups(0, 0));
        show("setgid(0) as a user", setgid(0));
        ids("end");
        _exit(0);
    }
    waitpid(c, 0, 0);
    return 0;
}
