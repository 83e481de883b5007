/* Handler flags, masks, nesting, FP state across handlers, sigaltstack. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int hits, nested_depth, max_depth;
static char altstack[65536];
static volatile int on_alt;
static volatile double fpsink;

static void counting(int sig) {
    (void)sig;
    hits++;
}

static volatile int raised;

static void nesting(int sig) {
    nested_depth++;
    if (nested_depth > max_depth) max_depth = nested_depth;
    /* Re-raise twice in all: nests with SA_NODEFER, runs after with it. */
    if (raised < 2) {
        raised++;
        raise(sig);
    }
    nested_depth--;
}

static void fp_clobber(int sig) {
    (void)sig;
    volatile double x = 1.0;
    for (int i = 0; i < 100; i++) x = x * 1.5 + 0.25;
    fpsink = x;
}

static void where(int sig) {
    (void)sig;
    char here;
    on_alt = (uintptr_t)&here >= (uintptr_t)altstack && (uintptr_t)&here < (uintptr_t)altstack + sizeof altstack;
}

static void set(int sig, void (*h)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigaction(sig, &sa, NULL);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    set(SIGUSR1, counting, 0);
    raise(SIGUSR1);
    raise(SIGUSR1);
    printf("two raises, two hits: %d\n", hits);

    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &old);
    raise(SIGUSR1);
    raise(SIGUSR1);
    sigset_t pend;
    sigpending(&pend);
    printf("blocked: pending=%d hits=%d\n", sigismember(&pend, SIGUSR1), hits);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("unblocked: coalesced to one more: %d\n", hits);

    set(SIGUSR2, nesting, 0);
    raise(SIGUSR2);
    printf("without NODEFER max depth %d\n", max_depth);
    max_depth = 0;
    raised = 0;
    set(SIGUSR2, nesting, SA_NODEFER);
    raise(SIGUSR2);
    printf("with NODEFER max depth %d\n", max_depth);

    set(SIGHUP, counting, SA_RESETHAND);
    raise(SIGHUP);
    struct sigaction cur;
    sigaction(SIGHUP, NULL, &cur);
    printf("RESETHAND: handler now default: %d\n", cur.sa_handler == SIG_DFL);

    set(SIGALRM, fp_clobber, 0);
    volatile double a = 3.25, b = 7.5;
    double before = a * b + 1.0 / 3.0;
    raise(SIGALRM);
    double after = a * b + 1.0 / 3.0;
    printf("fp preserved: %d (%.6f)\n", before == after, after);

    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    set(SIGWINCH, where, SA_ONSTACK);
    raise(SIGWINCH);
    printf("SA_ONSTACK handler on the alternate stack: %d\n", on_alt);
    set(SIGWINCH, where, 0);
    raise(SIGWINCH);
    printf("without SA_ONSTACK: %d\n", on_alt);
    stack_t small = {.ss_sp = altstack, .ss_size = 100, .ss_flags = 0};
    printf("tiny altstack: %d\n", sigaltstack(&small, NULL));

    printf("sigaction(SIGKILL): %d\n", sigaction(SIGKILL, &cur, NULL));
    printf("sigaction(65): %d\n", sigaction(65, &cur, NULL));
    fflush(stdout);
    signal(SIGTERM, SIG_IGN);
    raise(SIGTERM);
    printf("ignored SIGTERM survived\n");
    fflush(stdout);
    signal(SIGTERM, SIG_DFL);
    raise(SIGTERM);
    printf("not reached\n");
    return 0;
}
