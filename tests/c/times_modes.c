/* umask on new files, utimensat with UTIME_NOW / UTIME_OMIT, chmod bits. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char base[] = "/tmp/moat-modes-XXXXXX";
    mkdtemp(base);
    chdir(base);
    struct stat st;
    umask(027);
    close(open("f", O_CREAT | O_WRONLY, 0666));
    mkdir("d", 0777);
    stat("f", &st);
    printf("file mode under umask 027: %o\n", st.st_mode & 07777);
    stat("d", &st);
    printf("dir mode under umask 027: %o\n", st.st_mode & 07777);
    umask(0);
    chmod("f", 04755);
    stat("f", &st);
    printf("chmod 4755: %o\n", st.st_mode & 07777);
    struct timespec t[2] = {{1000000000, 5}, {1200000000, 7}};
    utimensat(AT_FDCWD, "f", t, 0);
    stat("f", &st);
    printf("times set: %ld.%ld %ld.%ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec,
           st.st_mtim.tv_nsec);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {1300000000, 0}};
    utimensat(AT_FDCWD, "f", omit, 0);
    stat("f", &st);
    printf("atime omitted, mtime set: %ld %ld\n", (long)st.st_atim.tv_sec, (long)st.st_mtim.tv_sec);
    struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    utimensat(AT_FDCWD, "f", now, 0);
    stat("f", &st);
    printf("atime now: %d\n", st.st_atim.tv_sec > 1600000000);
    system("/bin/busybox rm -rf /tmp/moat-modes-*");
    return 0;
}
