/* Permission checks against the caller's credentials, run as root: chown
 * and chgrp (CAP_CHOWN, the owner's own group), chmod (the owner or
 * CAP_FOWNER, the set-group-id bit without CAP_FSETID), and kill (matching
 * ids or CAP_KILL), each after dropping capabilities or ids in a child. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64], file[96], other[96];

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static void drop_cap(int cap) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    d[cap / 32].effective &= ~(1u << (cap % 32));
    d[cap / 32].permitted &= ~(1u << (cap % 32));
    syscall(SYS_capset, &h, d);
}

static void owner(const char *what, const char *path) {
    struct stat st;
    if (stat(path, &st) == 0) printf("%s: uid %u gid %u mode %o\n", what, st.st_uid, st.st_gid, st.st_mode & 07777);
}

static void in_child(void (*f)(void)) {
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        f();
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, 0, 0);
}

static void without_chown(void) {
    drop_cap(CAP_CHOWN);
    show("chown to 1000 without CAP_CHOWN", chown(file, 1000, -1));
    show("chown to own uid without CAP_CHOWN", chown(file, 0, -1));
    show("chgrp to a group of ours", chown(file, -1, 0));
    show("chgrp to a foreign group", chown(file, -1, 1234));
    show("chown -1 -1", chown(file, -1, -1));
    int fd = open(file, O_RDONLY);
    show("fchown to 1000", fchown(fd, 1000, -1));
    close(fd);
    show("chown of a file owned by 1000", chown(other, -1, 0));
    owner("file", file);
}

static void with_chown(void) {
    show("chown to 1000 with CAP_CHOWN", chown(file, 1000, 1000));
    owner("file", file);
    show("chown back", chown(file, 0, 0));
}

static void without_fowner(void) {
    drop_cap(CAP_FOWNER);
    show("chmod own file", chmod(file, 0640));
    show("chmod a file owned by 1000", chmod(other, 0600));
    int fd = open(other, O_RDONLY);
    show("fchmod a file owned by 1000", fchmod(fd, 0600));
    close(fd);
    owner("other", other);
}

static void without_fsetid(void) {
    drop_cap(CAP_FSETID);
    show("chmod g+s, group not ours", chmod(other, 02755));
    owner("other (owned by 1000, group 1234)", other);
    show("chmod g+s on own file, our group", chmod(file, 02755));
    owner("file", file);
}

static void kills(void) {
    pid_t target = fork();
    if (target == 0) {
        /* Nobody here may kill it once it is uid 2000: it leaves by itself,
         * closing the output it shares first. */
        setresuid(2000, 2000, 2000);
        close(1);
        close(2);
        sleep(1);
        _exit(0);
    }
    usleep(50000);
    show("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000));
    show("kill a process of uid 2000, signal 0", kill(target, 0));
    show("kill a process of uid 2000", kill(target, SIGTERM));
    show("kill ourselves, signal 0", kill(getpid(), 0));
    show("kill our parent (root)", kill(getppid(), 0));
    fflush(stdout);
    _exit(0);
}

static void kills_with_cap(void) {
    pid_t target = fork();
    if (target == 0) {
        setresuid(2000, 2000, 2000);
        pause();
        _exit(0);
    }
    usleep(50000);
    show("root kills uid 2000", kill(target, SIGTERM));
    int st;
    waitpid(target, &st, 0);
    printf("target killed by %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    target = fork();
    if (target == 0) {
        setresuid(2000, 2000, 2000);
        pause();
        _exit(0);
    }
    usleep(50000);
    drop_cap(CAP_KILL);
    show("without CAP_KILL, signal 0", kill(target, 0));
    show("without CAP_KILL", kill(target, SIGTERM));
    /* The child's real id is ours to match: setresuid to its saved id. */
    prctl(PR_SET_KEEPCAPS, 1);
    show("setresuid(-1, 2000, -1)", setresuid(-1, 2000, -1));
    show("now matching the target's ids", kill(target, SIGTERM));
    waitpid(target, &st, 0);
    printf("target killed by %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int main(void) {
    setvbuf(stdout, 0, _IOLBF, 0);
    strcpy(dir, "/tmp/moat-capchk-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    snprintf(file, sizeof file, "%s/mine", dir);
    snprintf(other, sizeof other, "%s/theirs", dir);
    close(open(file, O_CREAT | O_WRONLY, 0644));
    close(open(other, O_CREAT | O_WRONLY, 0644));
    chown(other, 1000, 1234);
    in_child(without_chown);
    in_child(with_chown);
    in_child(without_fowner);
    in_child(without_fsetid);
    in_child(kills);
    in_child(kills_with_cap);
    unlink(file);
    unlink(other);
    rmdir(dir);
    return 0;
}
