/* SIGSEGV handlers see the faulting address and the right si_code. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf env;
static volatile void *seen_addr;
static volatile int seen_code, seen_signo;

static void handler(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    seen_signo = sig;
    seen_code = si->si_code;
    seen_addr = si->si_addr;
    siglongjmp(env, 1);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);

    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(p + 4096, 4096);
    if (sigsetjmp(env, 1) == 0) {
        p[4096 + 24] = 1; /* unmapped */
    }
    printf("unmapped: sig=%d code=%s offset=%ld\n", seen_signo, seen_code == SEGV_MAPERR ? "MAPERR" : "other",
           (long)((char *)seen_addr - p));
    mprotect(p, 4096, PROT_READ);
    if (sigsetjmp(env, 1) == 0) {
        p[100] = 1; /* read-only */
    }
    printf("read-only: sig=%d code=%s offset=%ld\n", seen_signo, seen_code == SEGV_ACCERR ? "ACCERR" : "other",
           (long)((char *)seen_addr - p));
    if (sigsetjmp(env, 1) == 0) {
        *(volatile int *)0 = 1; /* null */
    }
    printf("null: sig=%d addr=%p\n", seen_signo, (void *)seen_addr);
    /* The mask was saved by sigsetjmp(env, 1): SIGSEGV is unblocked again. */
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("segv blocked after longjmp: %d\n", sigismember(&now, SIGSEGV));
    /* Without a handler, a fault kills: the status comes from the parent. */
    signal(SIGSEGV, SIG_DFL);
    fflush(stdout);
    *(volatile int *)16 = 1;
    return 0;
}
