/* Random system calls with hostile arguments, run only under moat (never
 * natively: they could harm the host). The Sentry must answer each and
 * stay up; the program may die of its own doing, the sandbox must not.
 * Calls that would end the run early or block are skipped. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
static unsigned long long x = 88172645463325252ULL;
static unsigned long long rnd(void) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x; }
static unsigned long long arg(void) {
    switch (rnd() % 6) {
    case 0: return 0;
    case 1: return rnd() % 64;
    case 2: return (unsigned long long)-1;
    case 3: return 0x7fff00000000ULL + (rnd() & 0xffffff);
    case 4: return rnd();
    default: return 8;
    }
}
int main(int argc, char **argv) {
    x += argc > 1 ? atoi(argv[1]) : 0;
    for (int s = 1; s < 32; s++) signal(s, SIG_IGN);
    for (int i = 0; i < 3000; i++) {
        long nr = rnd() % 460;
        switch (nr) {
        case SYS_exit: case SYS_exit_group: case SYS_kill: case SYS_tkill: case SYS_tgkill:
        case SYS_fork: case SYS_vfork: case SYS_clone: case SYS_clone3: case SYS_execve: case SYS_execveat:
        case SYS_rt_sigreturn: case SYS_pause: case SYS_rt_sigsuspend: case SYS_nanosleep:
        case SYS_clock_nanosleep: case SYS_read: case SYS_readv: case SYS_pread64: case SYS_wait4:
        case SYS_waitid: case SYS_poll: case SYS_ppoll: case SYS_select: case SYS_pselect6:
        case SYS_rt_sigtimedwait: case SYS_epoll_wait: case SYS_epoll_pwait: case SYS_epoll_pwait2:
        case SYS_accept: case SYS_accept4: case SYS_connect: case SYS_recvfrom: case SYS_recvmsg:
        case SYS_recvmmsg: case SYS_sendto: case SYS_sendmsg: case SYS_sendmmsg: case SYS_splice:
        case SYS_tee: case SYS_sendfile: case SYS_flock:
       
        case SYS_alarm: case SYS_setitimer:
       
        case SYS_write: case SYS_writev: case SYS_pwrite64:
        case SYS_unlink: case SYS_unlinkat: case SYS_rmdir: case SYS_rename: case SYS_renameat: case SYS_renameat2:
        case SYS_truncate: case SYS_ftruncate: case SYS_chmod: case SYS_fchmod: case SYS_fchmodat: case SYS_chown: case SYS_lchown: case SYS_fchown: case SYS_fchownat:
            continue;
        }
        syscall(nr, arg(), arg(), arg(), arg(), arg(), arg());
    }
    printf("fuzz survived\n");
    return 0;
}
