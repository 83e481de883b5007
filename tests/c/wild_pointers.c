/* Every call handed a wild pointer: the result and errno must be Linux's,
 * and the program must live on. Pointers: NULL+8 (unmapped), a kernel
 * address, and a read-only page where the call writes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, long r) {
    printf("%-22s %ld %s\n", what, r < 0 ? -1L : r > 0 ? 1L : 0L, r < 0 ? strerror(errno) : "");
}

#define CALL(what, ...)                                \
    do {                                               \
        errno = 0;                                     \
        long r_ = syscall(__VA_ARGS__);                \
        show(what, r_);                                \
    } while (0)

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *bad[] = {(void *)8, (void *)0xffff800000000000UL, ro};
    const char *names[] = {"low", "kernel", "read-only"};
    int fd = open("/etc/hostname", O_RDONLY);
    int p[2];
    pipe(p);
    write(p[1], "abc", 3);
    for (int i = 0; i < 3; i++) {
        void *b = bad[i];
        printf("-- %s\n", names[i]);
        CALL("read", SYS_read, fd, b, 4);
        lseek(fd, 0, SEEK_SET);
        CALL("write", SYS_write, p[1], b, 4);
        CALL("readv", SYS_readv, fd, b, 1);
        CALL("writev", SYS_writev, p[1], b, 1);
        CALL("pread64", SYS_pread64, fd, b, 4, 0);
        CALL("open", SYS_open, b, O_RDONLY);
        CALL("openat", SYS_openat, AT_FDCWD, b, O_RDONLY);
        CALL("stat", SYS_stat, b, b);
        CALL("stat buf", SYS_stat, "/etc/hostname", b);
        CALL("lstat", SYS_lstat, "/etc/hostname", b);
        CALL("fstat", SYS_fstat, fd, b);
        CALL("newfstatat", SYS_newfstatat, AT_FDCWD, "/etc", b, 0);
        CALL("statx", SYS_statx, AT_FDCWD, "/etc", 0, 0x7ff, b);
        CALL("access", SYS_access, b, F_OK);
        CALL("readlink", SYS_readlink, "/bin", b, 16);
        CALL("readlink path", SYS_readlink, b, ro, 16);
        CALL("getcwd", SYS_getcwd, b, 64);
        CALL("chdir", SYS_chdir, b);
        CALL("getdents64", SYS_getdents64, open("/", O_RDONLY | O_DIRECTORY), b, 4096);
        CALL("pipe", SYS_pipe, b);
        CALL("pipe2", SYS_pipe2, b, 0);
        CALL("uname", SYS_uname, b);
        CALL("getrandom", SYS_getrandom, b, 8, 0);
        CALL("clock_gettime", SYS_clock_gettime, CLOCK_MONOTONIC, b);
        CALL("clock_getres", SYS_clock_getres, CLOCK_MONOTONIC, b);
        CALL("gettimeofday", SYS_gettimeofday, b, NULL);
        CALL("nanosleep", SYS_nanosleep, b, NULL);
        CALL("getrlimit", SYS_getrlimit, RLIMIT_NOFILE, b);
        CALL("setrlimit", SYS_setrlimit, RLIMIT_NOFILE, b);
        CALL("prlimit64 old", SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, b);
        CALL("rt_sigaction act", SYS_rt_sigaction, SIGUSR1, b, NULL, 8);
        CALL("rt_sigaction old", SYS_rt_sigaction, SIGUSR1, NULL, b, 8);
        CALL("rt_sigprocmask set", SYS_rt_sigprocmask, SIG_BLOCK, b, NULL, 8);
        CALL("rt_sigprocmask old", SYS_rt_sigprocmask, SIG_BLOCK, NULL, b, 8);
        CALL("rt_sigpending", SYS_rt_sigpending, b, 8);
        CALL("sigaltstack", SYS_sigaltstack, b, NULL);
        CALL("poll", SYS_poll, b, 1, 0);
        CALL("wait4 status", SYS_wait4, -1, b, WNOHANG, NULL);
        CALL("execve", SYS_execve, b, NULL, NULL);
        CALL("execve argv", SYS_execve, "/bin/busybox", b, NULL);
        CALL("mkdir", SYS_mkdir, b, 0755);
        CALL("unlink", SYS_unlink, b);
        CALL("rename", SYS_rename, b, b);
        CALL("symlink", SYS_symlink, b, "/tmp/x");
        CALL("chmod", SYS_chmod, b, 0644);
        CALL("utimensat", SYS_utimensat, AT_FDCWD, "/tmp", b, 0);
        CALL("statfs", SYS_statfs, "/", b);
        CALL("fstatfs", SYS_fstatfs, fd, b);
        CALL("arch_prctl get", SYS_arch_prctl, 0x1003, b);
        CALL("prctl name", SYS_prctl, PR_SET_NAME, b);
        CALL("set_tid_address", SYS_set_tid_address, b);
    }
    CALL("brk wild", SYS_brk, (void *)8);
    CALL("munmap wild", SYS_munmap, (void *)0x1000, 4096);
    CALL("mprotect unmapped", SYS_mprotect, (void *)0x1000, 4096, PROT_READ);
    printf("still alive\n");
    return 0;
}
