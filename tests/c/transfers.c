/* sendfile, copy_file_range, splice, tee, fadvise64, fallocate, getcpu:
 * what they move, the offsets they update, and their error cases. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

static char dir[64];

static int file_with(const char *name, const char *content) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (content) write(fd, content, strlen(content));
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static void dump(const char *what, int fd) {
    char buf[128] = {0};
    pread(fd, buf, sizeof buf - 1, 0);
    printf("%s: [%s]\n", what, buf);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/moat-transfers-%d", getpid());
    mkdir(dir, 0700);
    int src = file_with("src", "0123456789abcdefghij");
    int dst = file_with("dst", 0);

    /* sendfile with and without an offset. */
    off_t off = 5;
    show("sendfile at offset", sendfile(dst, src, &off, 6));
    printf("offset now %ld, src position %ld\n", (long)off, (long)lseek(src, 0, SEEK_CUR));
    show("sendfile from position", sendfile(dst, src, 0, 4));
    printf("src position %ld\n", (long)lseek(src, 0, SEEK_CUR));
    dump("dst", dst);
    int pp[2];
    pipe(pp);
    show("sendfile to a pipe", sendfile(pp[1], src, 0, 3));
    char b[16] = {0};
    read(pp[0], b, sizeof b);
    printf("pipe got [%s]\n", b);
    show("sendfile from a pipe", sendfile(dst, pp[0], 0, 3));
    int ro = open("/proc/self/exe", O_RDONLY);
    show("sendfile to a read-only fd", sendfile(ro, src, 0, 3));
    show("sendfile past the end", sendfile(dst, src, &(off_t){100}, 3));

    /* copy_file_range. */
    int c = file_with("copy", 0);
    loff_t in = 10, out = 2;
    show("copy_file_range", copy_file_range(src, &in, c, &out, 5, 0));
    printf("offsets %ld %ld\n", (long)in, (long)out);
    char cb[16] = {0};
    show("copy size", pread(c, cb, sizeof cb - 1, 0));
    printf("copy from 2: [%s], first byte %d\n", cb + 2, cb[0]);
    show("copy_file_range flags", copy_file_range(src, 0, c, 0, 5, 1));
    show("copy_file_range to a pipe", copy_file_range(src, 0, pp[1], 0, 5, 0));
    show("copy_file_range from write-only", copy_file_range(open("/dev/null", O_WRONLY), 0, c, 0, 5, 0));

    /* splice file -> pipe -> file, tee between pipes. */
    loff_t so = 0;
    show("splice file to pipe", splice(src, &so, pp[1], 0, 8, 0));
    printf("splice offset %ld\n", (long)so);
    int q[2];
    pipe(q);
    show("tee", tee(pp[0], q[1], 100, 0));
    int sp = file_with("spliced", 0);
    show("splice pipe to file", splice(pp[0], 0, sp, 0, 100, 0));
    dump("spliced", sp);
    memset(b, 0, sizeof b);
    read(q[0], b, sizeof b);
    printf("tee copy [%s]\n", b);
    show("splice without a pipe", splice(src, 0, dst, 0, 4, 0));
    show("splice offset on a pipe", splice(pp[0], &so, dst, 0, 4, 0));
    show("tee empty nonblock", tee(pp[0], q[1], 10, SPLICE_F_NONBLOCK));
    show("tee on files", tee(src, dst, 10, 0));
    /* A blocking splice woken by a writer in another process. */
    pid_t k = fork();
    if (k == 0) {
        usleep(20000);
        write(pp[1], "late", 4);
        _exit(0);
    }
    int late = file_with("late", 0);
    show("blocking splice", splice(pp[0], 0, late, 0, 10, 0));
    waitpid(k, 0, 0);
    dump("late", late);
    close(pp[1]);
    show("splice at end of pipe", splice(pp[0], 0, late, 0, 10, 0));

    /* A pipe's buffer size. */
    show("pipe size", fcntl(q[0], F_GETPIPE_SZ));
    show("set pipe size", fcntl(q[0], F_SETPIPE_SZ, 1 << 20));
    show("pipe size of a file", fcntl(src, F_GETPIPE_SZ));

    /* fadvise64, fallocate. */
    show("fadvise", posix_fadvise(src, 0, 0, POSIX_FADV_SEQUENTIAL) ? -1 : 0);
    printf("fadvise bad advice: %s\n", strerrorname_np(posix_fadvise(src, 0, 0, 99)));
    printf("fadvise pipe: %s\n", strerrorname_np(posix_fadvise(q[0], 0, 0, 0)));
    int fa = file_with("alloc", 0);
    show("fallocate", fallocate(fa, 0, 0, 8192));
    struct stat st;
    fstat(fa, &st);
    printf("size after fallocate %ld\n", (long)st.st_size);
    show("fallocate keep size", fallocate(fa, FALLOC_FL_KEEP_SIZE, 8192, 4096));
    fstat(fa, &st);
    printf("size kept %ld\n", (long)st.st_size);
    show("fallocate bad length", fallocate(fa, 0, 0, 0));
    show("fallocate read-only", fallocate(ro, 0, 0, 10));

    /* getcpu agrees with sched_getcpu and the affinity mask. */
    unsigned cpu = 99, node = 99;
    show("getcpu", getcpu(&cpu, &node));
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    printf("cpu allowed %d, node %u\n", CPU_ISSET(cpu, &set), node);

    char p[160];
    const char *names[] = {"src", "dst", "copy", "spliced", "late", "alloc"};
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}
