/* mmap, munmap, mprotect, brk patterns and their errors. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096

/* Runs `call` first, then prints its result and errno: printf's arguments
 * have no evaluation order. */
#define SHOW(what, call)                                          \
    do {                                                          \
        errno = 0;                                                \
        long r_ = (long)(call);                                   \
        printf("%s: %ld %s\n", what, r_, strerror(errno));        \
    } while (0)

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("anon mapping zeroed: %d\n", a[0] == 0 && a[4 * PG - 1] == 0);
    memset(a, 7, 4 * PG);
    printf("munmap middle: %d\n", munmap(a + PG, PG));
    char *f = mmap(a + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("MAP_FIXED into the hole: %d zero=%d\n", f == a + PG, f[0] == 0);
    SHOW("NOREPLACE over a mapping",
         mmap(a, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED);
    printf("kept contents: %d %d\n", a[0], a[3 * PG]);
    SHOW("mmap len 0", mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
    SHOW("munmap unaligned", munmap(a + 1, PG));
    SHOW("mprotect unaligned", mprotect(a + 1, PG, PROT_READ));
    SHOW("bad flags", mmap(NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
    SHOW("mprotect none", mprotect(a, PG, PROT_NONE));
    SHOW("mprotect read-write", mprotect(a, PG, PROT_READ | PROT_WRITE));
    a[0] = 9;
    printf("writable again: %d\n", a[0]);

    /* No output between the break calls: stdio must not move it. */
    char *b0 = sbrk(0);
    char *b1 = sbrk(3 * PG + 5);
    memset(b1, 1, 3 * PG + 5);
    char *b2 = sbrk(0);
    int shrunk = brk(b0) == 0 && sbrk(0) == b0;
    printf("sbrk returns the old break: %d\n", b1 == b0);
    printf("break moved by the increment: %ld\n", (long)(b2 - b0));
    printf("shrink: %d\n", shrunk);

    size_t big = (size_t)1 << 40;
    SHOW("1 TiB NORESERVE map", mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) != MAP_FAILED);
    FILE *fp = fopen("/etc/passwd", "r");
    char *m = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fileno(fp), 0);
    char line[16] = {0};
    fread(line, 1, 8, fp);
    printf("file mapping matches read: %d\n", memcmp(m, line, 8) == 0);
    SHOW("map offset unaligned", mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fileno(fp), 1) == MAP_FAILED);
    /* Touching the guard page past a mapping faults: the status shows it. */
    char *g = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(g + PG, PG, PROT_NONE);
    g[PG - 1] = 1;
    printf("guard page next\n");
    g[PG] = 1;
    return 0;
}
