/* Four threads pass a token round a ring through futexes: each waits on its
 * own word until the previous thread sets it, then wakes the next. Every
 * hand-over is one FUTEX_WAKE and (usually) one FUTEX_WAIT. Prints the mean
 * time per hand-over in ns. Usage: futex_pingpong ROUNDS */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define N 4
static int words[N];
static long rounds;

static void *ring(void *arg) {
    long me = (long)arg;
    for (long r = 0; r < rounds; r++) {
        while (__atomic_load_n(&words[me], __ATOMIC_ACQUIRE) == 0)
            syscall(SYS_futex, &words[me], FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
        __atomic_store_n(&words[me], 0, __ATOMIC_RELEASE);
        long next = (me + 1) % N;
        __atomic_store_n(&words[next], 1, __ATOMIC_RELEASE);
        syscall(SYS_futex, &words[next], FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
    }
    return 0;
}

int main(int argc, char **argv) {
    rounds = argc > 1 ? atol(argv[1]) : 1000;
    pthread_t t[N];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < N; i++) pthread_create(&t[i], 0, ring, (void *)i);
    __atomic_store_n(&words[0], 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &words[0], FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
    for (int i = 0; i < N; i++) pthread_join(t[i], 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("futex_handover %.0f\n", ns / (rounds * N));
    return 0;
}
