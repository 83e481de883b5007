/* openat2: struct open_how checks and each RESOLVE_* restriction. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static long o2(int dirfd, const char *path, unsigned long long flags, unsigned long long mode,
               unsigned long long resolve, size_t size) {
    struct { struct open_how how; char pad[16]; } h;
    memset(&h, 0, sizeof h);
    h.how.flags = flags;
    h.how.mode = mode;
    h.how.resolve = resolve;
    return syscall(SYS_openat2, dirfd, path, &h, size);
}

/* What the resulting descriptor names, relative to the test directory. */
static void show(const char *what, long fd, const char *base) {
    if (fd < 0) {
        printf("%-42s -1 %s\n", what, strerror(errno));
        return;
    }
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%ld", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n < 0 ? 0 : n] = 0;
    size_t bl = strlen(base);
    printf("%-42s ok %s\n", what, strncmp(target, base, bl) == 0 ? target + bl : target);
    close(fd);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char base[] = "/tmp/moat-openat2-XXXXXX";
    if (!mkdtemp(base)) return 1;
    chdir(base);
    mkdir("root", 0755);
    mkdir("root/d", 0755);
    close(open("root/d/f", O_CREAT | O_WRONLY, 0644));
    close(open("outside", O_CREAT | O_WRONLY, 0644));
    symlink("d/f", "root/rel");
    symlink("/d/f", "root/abs");
    symlink("../outside", "root/escape");
    symlink("../../outside", "root/d/deep");
    int root = open("root", O_RDONLY | O_DIRECTORY);
    size_t sz = sizeof(struct open_how);

    show("plain", o2(root, "d/f", O_RDONLY, 0, 0, sz), base);
    show("size too small", o2(root, "d/f", O_RDONLY, 0, 0, 16), base);
    show("size larger, zero tail", o2(root, "d/f", O_RDONLY, 0, 0, sz + 16), base);
    show("unknown flag", o2(root, "d/f", 1ULL << 40, 0, 0, sz), base);
    show("mode without O_CREAT", o2(root, "d/f", O_RDONLY, 0644, 0, sz), base);
    show("unknown resolve bit", o2(root, "d/f", O_RDONLY, 0, 0x100, sz), base);
    show("BENEATH|IN_ROOT", o2(root, "d/f", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT, sz), base);
    show("O_PATH|O_RDWR", o2(root, "d/f", O_PATH | O_RDWR, 0, 0, sz), base);
    show("CACHED with O_CREAT", o2(root, "new", O_CREAT | O_WRONLY, 0644, RESOLVE_CACHED, sz), base);

    show("NO_SYMLINKS plain", o2(root, "d/f", O_RDONLY, 0, RESOLVE_NO_SYMLINKS, sz), base);
    show("NO_SYMLINKS link", o2(root, "rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS, sz), base);
    show("NO_SYMLINKS magic", o2(AT_FDCWD, "/proc/self/fd/0", O_RDONLY, 0, RESOLVE_NO_SYMLINKS, sz), base);
    show("NO_MAGICLINKS ordinary link", o2(root, "rel", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS, sz), base);
    show("NO_MAGICLINKS fd link", o2(AT_FDCWD, "/proc/self/fd/3", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS, sz), base);
    show("NO_MAGICLINKS exe", o2(AT_FDCWD, "/proc/self/exe", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS, sz), base);

    show("BENEATH inside", o2(root, "d/../d/f", O_RDONLY, 0, RESOLVE_BENEATH, sz), base);
    show("BENEATH dotdot out", o2(root, "../outside", O_RDONLY, 0, RESOLVE_BENEATH, sz), base);
    show("BENEATH absolute path", o2(root, "/etc/passwd", O_RDONLY, 0, RESOLVE_BENEATH, sz), base);
    show("BENEATH absolute link", o2(root, "abs", O_RDONLY, 0, RESOLVE_BENEATH, sz), base);
    show("BENEATH escaping link", o2(root, "escape", O_RDONLY, 0, RESOLVE_BENEATH, sz), base);
    show("BENEATH relative link", o2(root, "rel", O_RDONLY, 0, RESOLVE_BENEATH, sz), base);

    show("IN_ROOT absolute path", o2(root, "/d/f", O_RDONLY, 0, RESOLVE_IN_ROOT, sz), base);
    show("IN_ROOT absolute link", o2(root, "abs", O_RDONLY, 0, RESOLVE_IN_ROOT, sz), base);
    show("IN_ROOT dotdot clamps", o2(root, "../../d/f", O_RDONLY, 0, RESOLVE_IN_ROOT, sz), base);
    show("IN_ROOT escaping link clamps", o2(root, "escape", O_RDONLY, 0, RESOLVE_IN_ROOT, sz), base);
    show("IN_ROOT deep link clamps", o2(root, "d/deep", O_RDONLY, 0, RESOLVE_IN_ROOT, sz), base);

    show("NO_XDEV same fs", o2(root, "d/f", O_RDONLY, 0, RESOLVE_NO_XDEV, sz), base);
    show("NO_XDEV into /proc", o2(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_XDEV, sz), base);
    show("NO_XDEV dotdot out of /proc", o2(open("/proc", O_RDONLY), "../etc/passwd", O_RDONLY, 0,
                                           RESOLVE_NO_XDEV, sz), base);

    show("O_CREAT BENEATH", o2(root, "d/made", O_CREAT | O_WRONLY, 0600, RESOLVE_BENEATH, sz), base);
    show("O_CREAT BENEATH via abs link", o2(root, "abs", O_CREAT | O_WRONLY, 0600, RESOLVE_BENEATH, sz), base);
    show("O_CREAT NO_SYMLINKS via link", o2(root, "rel", O_CREAT | O_WRONLY, 0600, RESOLVE_NO_SYMLINKS, sz), base);
    symlink("/d/new-in-root", "root/absnew");
    show("O_CREAT IN_ROOT via abs link", o2(root, "absnew", O_CREAT | O_WRONLY, 0600, RESOLVE_IN_ROOT, sz), base);
    struct stat st;
    printf("created in root: %d\n", stat("root/d/new-in-root", &st) == 0);

    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    return system(cmd) == 0 ? 0 : 1;
}
