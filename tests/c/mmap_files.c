/* File mappings: private and shared, coherence with read/write and between
 * mappers and processes, msync, mincore, memfd, access checks, SIGBUS past
 * the end of the file, MADV_DONTNEED on a private file mapping. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[64];
static sigjmp_buf jump;

static void on_bus(int sig) { siglongjmp(jump, sig); }

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: ok\n", what);
}

static int fresh(const char *content) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { perror("open"); _exit(1); }
    if (write(fd, content, strlen(content)) < 0) _exit(1);
    return fd;
}

int main(void) {
    snprintf(path, sizeof path, "/tmp/moat-mmap-%d", getpid());
    long page = sysconf(_SC_PAGESIZE);

    /* Private: sees the file, its writes stay private. */
    int fd = fresh("hello file");
    char *p = mmap(0, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    printf("private sees: %.10s\n", p);
    pwrite(fd, "J", 1, 0);
    printf("private sees a write to an untouched page: %.10s\n", p);
    p[0] = 'X';
    pwrite(fd, "K", 1, 1);
    char buf[16] = {0};
    pread(fd, buf, 10, 0);
    printf("private copy: %.10s, file: %s\n", p, buf);
    madvise(p, page, MADV_DONTNEED);
    printf("after MADV_DONTNEED the file again: %.10s\n", p);
    munmap(p, page);

    /* Shared: both ways, and between two mappings. */
    char *s1 = mmap(0, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *s2 = mmap(0, page, PROT_READ, MAP_SHARED, fd, 0);
    memcpy(s1, "shared!", 7);
    memset(buf, 0, sizeof buf);
    pread(fd, buf, 10, 0);
    printf("read sees a store: %s; other mapping: %.10s\n", buf, s2);
    pwrite(fd, "WRITTEN", 7, 0);
    printf("mapping sees a write: %.10s\n", s1);
    show("msync MS_SYNC", msync(s1, page, MS_SYNC));
    show("msync both", msync(s1, page, MS_SYNC | MS_ASYNC));
    unsigned char vec[2] = {9, 9};
    show("mincore", mincore(s1, page, vec));
    printf("resident: %d\n", vec[0] & 1);

    /* A child's store through the shared mapping reaches the parent. */
    pid_t c = fork();
    if (c == 0) { memcpy(s1, "child", 5); _exit(0); }
    waitpid(c, 0, 0);
    printf("after the child: %.10s\n", s2);
    munmap(s1, page);
    munmap(s2, page);
    memset(buf, 0, sizeof buf);
    pread(fd, buf, 10, 0);
    printf("file after munmap: %s\n", buf);

    /* Access checks. */
    int ro = open(path, O_RDONLY);
    int wo = open(path, O_WRONLY);
    show("shared writable of O_RDONLY", (long)mmap(0, page, PROT_WRITE, MAP_SHARED, ro, 0));
    show("private writable of O_RDONLY", (long)mmap(0, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0));
    show("any mapping of O_WRONLY", (long)mmap(0, page, PROT_READ, MAP_PRIVATE, wo, 0));
    char *r = mmap(0, page, PROT_READ, MAP_SHARED, ro, 0);
    show("mprotect PROT_WRITE of shared O_RDONLY", mprotect(r, page, PROT_READ | PROT_WRITE));
    show("zero length", (long)mmap(0, 0, PROT_READ, MAP_PRIVATE, fd, 0));
    show("unaligned offset", (long)mmap(0, page, PROT_READ, MAP_PRIVATE, fd, 1));
    show("bad descriptor", (long)mmap(0, page, PROT_READ, MAP_PRIVATE, 999, 0));

    /* Past the end of the file: SIGBUS; ftruncate makes it zeroes. */
    char *big = mmap(0, 3 * page, PROT_READ, MAP_SHARED, fd, 0);
    signal(SIGBUS, on_bus);
    int sig = sigsetjmp(jump, 1);
    if (sig == 0) {
        volatile char v = big[2 * page];
        printf("no fault past the end: %d\n", v);
    } else {
        printf("fault past the end: %s\n", sigabbrev_np(sig));
    }
    ftruncate(fd, 3 * page);
    printf("after ftruncate: %d\n", big[2 * page]);
    munmap(big, 3 * page);

    /* memfd: mapped, written, read back. */
    int m = memfd_create("moat-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    show("memfd_create", m);
    ftruncate(m, page);
    char *mm = mmap(0, page, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    strcpy(mm, "in a memfd");
    memset(buf, 0, sizeof buf);
    pread(m, buf, 10, 0);
    printf("memfd read: %s\n", buf);
    char link[64] = {0}, fdpath[32];
    snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", m);
    readlink(fdpath, link, sizeof link - 1);
    printf("memfd link: %s\n", link);
    show("memfd bad flags", memfd_create("x", 0x100));
    show("add a write seal", fcntl(m, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK));
    printf("seals %x\n", fcntl(m, F_GET_SEALS));
    show("write to a sealed memfd", write(m, "x", 1));
    int etc = open("/etc/passwd", O_RDONLY);
    show("seals of a file on a disk", fcntl(etc, F_GET_SEALS));
    munmap(mm, page);

    unlink(path);
    return 0;
}
