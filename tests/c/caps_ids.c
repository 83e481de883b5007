/* Credentials as Linux changes them, run as root: real / effective / saved /
 * file-system ids through the set*id calls, the capability sets through
 * those changes (PR_SET_KEEPCAPS, setfsuid), capget / capset, the bounding
 * set (PR_CAPBSET_DROP), ambient capabilities, and what execve makes of
 * them, each step in a child, as /proc/self/status and the calls report. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static void status(const char *when) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    printf("[%s]", when);
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) || !strncmp(line, "Cap", 3) ||
            !strncmp(line, "NoNewPrivs:", 11)) {
            line[strcspn(line, "\n")] = 0;
            for (char *p = line; *p; p++) if (*p == '\t') *p = ' ';
            printf(" %s;", line);
        }
    }
    if (f) fclose(f);
    printf("\n");
}

static int capget_v3(struct __user_cap_data_struct d[2]) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    return syscall(SYS_capget, &h, d);
}

static int capset_v3(struct __user_cap_data_struct d[2]) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    return syscall(SYS_capset, &h, d);
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

static void effective_moves(void) {
    show("setresuid(-1, 1000, -1)", setresuid(-1, 1000, -1));
    status("euid 1000");
    show("setresuid(-1, 0, -1)", setresuid(-1, 0, -1));
    status("euid 0 again");
    show("setreuid(1000, 2000)", setreuid(1000, 2000));
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    printf("ids %u %u %u, getuid %u geteuid %u\n", r, e, s, getuid(), geteuid());
    status("all ids left 0");
    show("setuid(0)", setuid(0));
    show("setreuid(-1, 1000)", setreuid(-1, 1000));
    show("setresuid(2000, 1000, 1000)", setresuid(2000, 1000, 1000));
}

static void keep_caps(void) {
    show("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
    show("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
    show("setuid(1000)", setuid(1000));
    status("kept");
    struct __user_cap_data_struct d[2];
    capget_v3(d);
    d[0].effective = 1 << CAP_CHOWN;
    d[1].effective = 0;
    show("capset: effective CHOWN", capset_v3(d));
    status("chown effective");
    d[0].effective = 1 << CAP_CHOWN;
    d[0].permitted = 1 << CAP_CHOWN;
    d[1].permitted = 0;
    show("capset: permitted CHOWN alone", capset_v3(d));
    d[0].permitted |= 1 << CAP_KILL;
    show("capset: regain KILL", capset_v3(d));
    status("end");
}

static void fs_ids(void) {
    show("setfsuid(1000) returns", setfsuid(1000));
    status("fsuid 1000");
    show("setfsuid(0) returns", setfsuid(0));
    status("fsuid 0");
    show("setfsgid(55) returns", setfsgid(55));
    show("setfsgid(-1) returns", setfsgid(-1));
    gid_t g[3] = {4, 24, 27};
    show("setgroups", setgroups(3, g));
    show("setresgid(10, 20, 30)", setresgid(10, 20, 30));
    status("groups");
    show("setgid(7)", setgid(7));
    show("setuid(1000)", setuid(1000));
    show("setgroups as a user", setgroups(0, 0));
    show("setgid(10) as a user", setgid(10));
    show("setregid(7, 7) as a user", setregid(7, 7));
    status("user");
}

static void bounding_and_capget(void) {
    show("PR_CAPBSET_READ NET_RAW", prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0));
    show("PR_CAPBSET_DROP NET_RAW", prctl(PR_CAPBSET_DROP, CAP_NET_RAW, 0, 0, 0));
    show("PR_CAPBSET_READ NET_RAW", prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0));
    show("PR_CAPBSET_READ 99", prctl(PR_CAPBSET_READ, 99, 0, 0, 0));
    show("PR_CAPBSET_DROP 99", prctl(PR_CAPBSET_DROP, 99, 0, 0, 0));
    struct __user_cap_header_struct h = {0x12345678, 0};
    struct __user_cap_data_struct d[2];
    show("capget, bad version", syscall(SYS_capget, &h, d));
    printf("version written back %#x\n", h.version);
    h.version = _LINUX_CAPABILITY_VERSION_1;
    show("capget v1", syscall(SYS_capget, &h, d));
    printf("v1 permitted %#x\n", d[0].permitted);
    struct __user_cap_header_struct h3 = {_LINUX_CAPABILITY_VERSION_3, 0};
    show("capget, null data", syscall(SYS_capget, &h3, 0));
    capget_v3(d);
    d[0].permitted &= ~(1u << CAP_SYS_ADMIN);
    d[0].effective &= ~(1u << CAP_SYS_ADMIN);
    show("capset: drop SYS_ADMIN", capset_v3(d));
    d[0].permitted |= 1u << CAP_SYS_ADMIN;
    show("capset: take it back", capset_v3(d));
    d[0].permitted &= ~(1u << CAP_SYS_ADMIN);
    d[0].effective |= 1u << CAP_SYS_ADMIN;
    show("capset: effective beyond permitted", capset_v3(d));
    status("bounding");
}

static void ambient(void) {
    struct __user_cap_data_struct d[2];
    show("raise ambient NET_BIND_SERVICE, not inheritable",
         prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0));
    capget_v3(d);
    d[0].inheritable = 1 << CAP_NET_BIND_SERVICE;
    show("capset: inheritable NET_BIND_SERVICE", capset_v3(d));
    show("raise ambient", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0));
    show("ambient is set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0));
    show("ambient bad cap", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 99, 0, 0));
    status("ambient");
    show("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
    show("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000));
    status("ambient after leaving root");
}

static void exec_user(void) {
    struct __user_cap_data_struct d[2];
    capget_v3(d);
    d[0].inheritable = 1 << CAP_NET_BIND_SERVICE;
    capset_v3(d);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0);
    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
    setresuid(1000, 1000, 1000);
    char *argv[] = {"/proc/self/exe", "--status", "exec as 1000 with ambient", 0};
    execv("/proc/self/exe", argv);
    printf("execv: %s\n", strerror(errno));
}

static void exec_euid_user(void) {
    /* Real id 0, effective 1000: permitted from the bounding set, nothing
     * effective. */
    setresuid(0, 1000, 1000);
    char *argv[] = {"/proc/self/exe", "--status", "exec with ruid 0, euid 1000", 0};
    execv("/proc/self/exe", argv);
    printf("execv: %s\n", strerror(errno));
}

int main(int argc, char **argv) {
    setvbuf(stdout, 0, _IOLBF, 0);
    if (argc == 3 && !strcmp(argv[1], "--status")) {
        status(argv[2]);
        return 0;
    }
    status("start");
    in_child(effective_moves);
    in_child(keep_caps);
    in_child(fs_ids);
    in_child(bounding_and_capget);
    in_child(ambient);
    in_child(exec_user);
    in_child(exec_euid_user);
    return 0;
}
