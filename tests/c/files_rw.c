/* Reads and writes: pread/pwrite, readv/writev, O_APPEND, holes, truncate. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char path[] = "/tmp/moat-rw-XXXXXX";
    int fd = mkstemp(path);
    struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cdef", 4}};
    printf("writev: %zd\n", writev(fd, iov, 3));
    printf("pwrite at 10: %zd\n", pwrite(fd, "XY", 2, 10));
    struct stat st;
    fstat(fd, &st);
    printf("size with a hole: %ld\n", (long)st.st_size);
    char buf[16] = {0};
    printf("pread 12 from 0: %zd hole-is-zero=%d\n", pread(fd, buf, 12, 0), buf[7] == 0);
    char a[3] = {0}, b[5] = {0};
    struct iovec rv[2] = {{a, 2}, {b, 4}};
    lseek(fd, 0, SEEK_SET);
    printf("readv: %zd [%s][%s]\n", readv(fd, rv, 2), a, b);
    printf("offset after readv: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    int ap = open(path, O_WRONLY | O_APPEND);
    lseek(ap, 0, SEEK_SET);
    write(ap, "END", 3);
    fstat(fd, &st);
    printf("O_APPEND writes at the end: %ld\n", (long)st.st_size);
    printf("ftruncate to 4: %d\n", ftruncate(fd, 4));
    memset(buf, 0, sizeof buf);
    printf("after truncate: %zd [%s]\n", pread(fd, buf, 16, 0), buf);
    printf("SEEK_END: %ld\n", (long)lseek(fd, 0, SEEK_END));
    printf("read at EOF: %zd\n", read(fd, buf, 4));
    unlink(path);
    printf("fstat after unlink: nlink=%ld\n", (fstat(fd, &st), (long)st.st_nlink));
    return 0;
}
