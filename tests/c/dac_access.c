/* Discretionary access checks on files: the owner/group/other classes of
 * the mode (only one class applies, even when "other" would allow more),
 * search permission on directories, access() against the real ids versus
 * faccessat(AT_EACCESS), exec bits (even root needs one), creating and
 * removing in directories, the sticky bit, set-group-id directories, the
 * clearing of set-user-id/set-group-id on write, truncate and chown,
 * utimensat's ownership rules, and what CAP_DAC_OVERRIDE,
 * CAP_DAC_READ_SEARCH, CAP_FOWNER and CAP_FSETID each add for root. Each
 * part runs in a forked child with its credentials changed, by numeric ids
 * (the host need not know the users). The tree is a private directory
 * under /tmp whose name is never printed. No O_CREAT of existing files in
 * sticky directories and no hard links, so fs.protected_regular and
 * fs.protected_hardlinks do not matter. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIT(c) (1ull << (c))

static void show(const char *what, long r) {
    if (r < 0) printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else printf("%s: %ld\n", what, r);
}

/* A compact result for tables: "ok" or the errno's name. */
static const char *res(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

/* Opens print 0, not the descriptor, whose number depends on what the
 * runner left open. */
static long opened(int fd) {
    if (fd >= 0) close(fd);
    return fd < 0 ? -1 : 0;
}

static void stat_line(const char *what, const char *path) {
    struct stat st;
    if (stat(path, &st) < 0) show(what, -1);
    else printf("%s: mode %04o uid %u gid %u\n", what, st.st_mode & 07777, st.st_uid, st.st_gid);
}

/* Setup as root: a directory when text is NULL, else a file holding
 * text; chown before chmod, since chown clears set-id bits. */
static void make(const char *name, int mode, int uid, int gid, const char *text) {
    int fd = text ? open(name, O_CREAT | O_EXCL | O_WRONLY, 0600) : mkdir(name, 0700);
    if (fd < 0 || (text && write(fd, text, strlen(text)) < 0) || chown(name, uid, gid) ||
        chmod(name, mode)) {
        printf("setup %s failed\n", name);
        exit(1);
    }
    if (text) close(fd);
}

/* Who a child becomes: uid -1 stays root and drops the capabilities in
 * `drop`; otherwise all three uids and gids change (which clears root's
 * capabilities) and the only supplementary group is `group`, if any. */
struct who {
    const char *name;
    int uid, gid, group;
    unsigned long long drop;
};
static const struct who ROOT = {"root", -1, 0, -1, 0};
static const struct who U1000 = {"uid 1000 gid 1000", 1000, 1000, -1, 0};
static const struct who U1000G = {"uid 1000 gid 2000 groups 1000", 1000, 2000, 1000, 0};
static const struct who U1000X = {"uid 1000 gid 2000", 1000, 2000, -1, 0};
static const struct who U2000 = {"uid 2000 gid 2000", 2000, 2000, -1, 0};
static const struct who NO_OVR = {"root without DAC_OVERRIDE", -1, 0, -1, BIT(CAP_DAC_OVERRIDE)};
static const struct who NO_DAC = {"root without DAC_OVERRIDE, DAC_READ_SEARCH", -1, 0, -1,
                                  BIT(CAP_DAC_OVERRIDE) | BIT(CAP_DAC_READ_SEARCH)};
static const struct who NO_FOWNER = {"root without FOWNER", -1, 0, -1, BIT(CAP_FOWNER)};
static const struct who NO_FSETID = {"root without FSETID", -1, 0, -1, BIT(CAP_FSETID)};

static void become(const struct who *w) {
    int ok = 1;
    if (w->uid >= 0) {
        gid_t g = w->group;
        ok = setgroups(w->group >= 0, &g) == 0 && setresgid(w->gid, w->gid, w->gid) == 0 &&
             setresuid(w->uid, w->uid, w->uid) == 0;
    } else if (w->drop) {
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        ok = syscall(SYS_capget, &h, d) == 0;
        for (int i = 0; i < 2; i++) {
            unsigned keep = ~(unsigned)(w->drop >> (32 * i));
            d[i].effective &= keep;
            d[i].permitted &= keep;
            d[i].inheritable &= keep;
        }
        ok = ok && syscall(SYS_capset, &h, d) == 0;
    }
    if (!ok) {
        printf("becoming %s failed\n", w->name);
        fflush(stdout);
        _exit(99);
    }
}

/* Runs fn in a child with w's credentials; the child leaves with `code`
 * (or whatever a program it executes exits with), which is printed. */
static void run(const char *label, const struct who *w, void (*fn)(void), int code) {
    printf("--- %s, as %s\n", label, w->name);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        become(w);
        fn();
        fflush(stdout);
        _exit(code);
    }
    int st;
    waitpid(c, &st, 0);
    if (WIFEXITED(st)) printf("exit %d\n", WEXITSTATUS(st));
    else printf("killed by %d\n", WTERMSIG(st));
}

/* 1. open() against each class of the mode. */
static const int modes[] = {0600, 0640, 0604, 0000};
static const int owners[][2] = {{0, 0}, {1000, 1000}, {0, 1000}};

static void open_table(void) {
    char name[32];
    static const int flags[] = {O_RDONLY, O_WRONLY, O_RDWR};
    for (int m = 0; m < 4; m++)
        for (int o = 0; o < 3; o++) {
            snprintf(name, sizeof name, "m%04o.%d.%d", modes[m], owners[o][0], owners[o][1]);
            printf("%04o %d:%d", modes[m], owners[o][0], owners[o][1]);
            for (int f = 0; f < 3; f++) {
                int fd = open(name, flags[f]);
                printf(" %s=%s", (const char *[]){"r", "w", "rw"}[f], res(fd));
                if (fd >= 0) close(fd);
            }
            printf("\n");
        }
}

/* 2. Search (x) and read (r) permission on directories. */
static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static void list(const char *what, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return show(what, -1);
    char *names[16];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 16)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp); /* readdir's order is the fs's own */
    printf("%s:", what);
    for (int i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");
}

static void search_user(void) {
    struct stat st;
    show("stat s700/f", stat("s700/f", &st));
    show("open s700/f", opened(open("s700/f", O_RDONLY)));
    list("list s700", "s700");
    show("stat s711/f (x only)", stat("s711/f", &st));
    show("open s711/f", opened(open("s711/f", O_RDONLY)));
    list("list s711", "s711");
    list("list s744 (r only)", "s744");
    show("stat s744/f", stat("s744/f", &st));
    show("open s744/f", opened(open("s744/f", O_RDONLY)));
    show("chdir s744", chdir("s744"));
    show("chdir s711", chdir("s711"));
    show("open f relative to s711", opened(open("f", O_RDONLY)));
}

static void search_root(void) {
    struct stat st;
    show("stat u700/f (dir 0700 of uid 1000)", stat("u700/f", &st));
    show("open u700/f read", opened(open("u700/f", O_RDONLY)));
    show("open u700/f write", opened(open("u700/f", O_WRONLY)));
    list("list u700", "u700");
    show("create u700/new", opened(open("u700/new", O_CREAT | O_EXCL | O_WRONLY, 0644)));
}

/* 3. access() uses the real ids, faccessat(AT_EACCESS) the effective ones. */
static void access_table(void) {
    static const char *files[] = {"a0644", "a0744", "a0000", "d0000", "m0600.0.0", "m0600.1000.1000"};
    static const int how[] = {R_OK, W_OK, X_OK};
    for (int i = 0; i < 6; i++) {
        printf("%s", files[i]);
        for (int h = 0; h < 3; h++) {
            const char *k = (const char *[]){"R", "W", "X"}[h];
            printf(" %s=%s", k, res(access(files[i], how[h])));
            printf(" e%s=%s", k, res(faccessat(AT_FDCWD, files[i], how[h], AT_EACCESS)));
        }
        printf("\n");
    }
}

static void access_mixed(void) {
    /* Real uid 1000, effective root: root keeps its capabilities. */
    show("setresuid(1000, 0, 0)", setresuid(1000, 0, 0));
    access_table();
}

/* 4. execve needs an x bit, for root too, and then the class's x bit. */
static const char *exec_path;
static void exec_it(void) {
    char *argv[] = {(char *)exec_path, NULL}, *envp[] = {NULL};
    execve(exec_path, argv, envp);
    show(exec_path, -1);
}
static void run_exec(const char *path, const struct who *w) {
    char label[48];
    snprintf(label, sizeof label, "4. execve %s", path);
    exec_path = path;
    run(label, w, exec_it, 100);
}

/* 5. Creating needs write and search permission on the directory. */
static void create_user(void) {
    show("create c755/f", opened(open("c755/f", O_CREAT | O_EXCL | O_WRONLY, 0644)));
    show("mkdir c755/d", mkdir("c755/d", 0755));
    show("symlink c755/l", symlink("x", "c755/l"));
    show("mkfifo c755/p", mkfifo("c755/p", 0644));
    show("create c777/f", opened(open("c777/f", O_CREAT | O_EXCL | O_WRONLY, 0666)));
    show("mkdir c777/d", mkdir("c777/d", 0777));
    stat_line("c777/f", "c777/f");
    stat_line("c777/d", "c777/d");
}

/* 6. Removing and renaming need write permission on the directory; in a
 * sticky one also ownership of the file or directory, or CAP_FOWNER. */
static void remove_user(void) {
    show("unlink w755/f", unlink("w755/f"));
    show("unlink w755/mine (own file)", unlink("w755/mine"));
    show("rmdir w755/d", rmdir("w755/d"));
    show("rename w755/f to w755/g", rename("w755/f", "w755/g"));
    show("rename w755/mine to c777/mine", rename("w755/mine", "c777/mine"));
    show("unlink st/root", unlink("st/root"));
    show("rename st/u1000 over st/root", rename("st/u1000", "st/root"));
    show("rename st/root to st/moved", rename("st/root", "st/moved"));
    show("rmdir st/rootdir", rmdir("st/rootdir"));
    show("create st/new", opened(open("st/new", O_CREAT | O_EXCL | O_WRONLY, 0644)));
    show("rename st/new to st/new2", rename("st/new", "st/new2"));
    show("unlink st/new2", unlink("st/new2"));
    show("unlink st/u1000", unlink("st/u1000"));
    stat_line("st/root still", "st/root");
}

static void remove_no_fowner(void) {
    show("unlink st2/a (dir of 2000, file of 1000)", unlink("st2/a"));
    show("rename st2/a to st2/z", rename("st2/a", "st2/z"));
    show("unlink st/x1000 (dir of root)", unlink("st/x1000"));
    show("unlink w755/f (no sticky bit)", unlink("w755/f"));
}

static void remove_dir_owner(void) { show("unlink st2/b (dir owner)", unlink("st2/b")); }

/* 7. Set-group-id directories hand down their group, and to directories
 * the bit too; a new file keeps S_ISGID only for a member or CAP_FSETID. */
static void sgid_root(void) {
    close(open("sg/f", O_CREAT | O_EXCL | O_WRONLY, 0644));
    mkdir("sg/d", 0755);
    close(open("sg/x", O_CREAT | O_EXCL | O_WRONLY, 02755));
    stat_line("sg/f", "sg/f");
    stat_line("sg/d", "sg/d");
    stat_line("sg/x", "sg/x");
}

static void sgid_member(void) {
    close(open("sg2/m", O_CREAT | O_EXCL | O_WRONLY, 02755));
    stat_line("sg2/m", "sg2/m");
}

static void sgid_stranger(void) {
    close(open("sg2/s", O_CREAT | O_EXCL | O_WRONLY, 02755));
    mkdir("sg2/sd", 0700);
    stat_line("sg2/s", "sg2/s");
    stat_line("sg2/sd", "sg2/sd");
}

/* 8. Writing clears S_ISUID, and S_ISGID with group exec, unless the
 * writer has CAP_FSETID; truncate too; chown always does. */
static void write_one(const char *path) {
    int fd = open(path, O_WRONLY | O_APPEND);
    show("write one byte", fd < 0 ? -1 : write(fd, "x", 1));
    close(fd);
    stat_line(path, path);
}
static void write_sx(void) { write_one("sx"); }
static void write_sgl(void) { write_one("sgl"); }
static void truncate_sx(void) {
    show("truncate sx", truncate("sx", 1));
    stat_line("sx", "sx");
}

/* 9. utimensat: write permission suffices for "now", explicit times need
 * the owner or CAP_FOWNER, and omitting both needs nothing. */
static void times_user(void) {
    struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    struct timespec set[2] = {{100, 0}, {200, 0}};
    struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    show("t0666 NULL", utimensat(AT_FDCWD, "t0666", NULL, 0));
    show("t0666 UTIME_NOW", utimensat(AT_FDCWD, "t0666", now, 0));
    show("t0666 explicit", utimensat(AT_FDCWD, "t0666", set, 0));
    show("t0644 NULL", utimensat(AT_FDCWD, "t0644", NULL, 0));
    show("t0644 UTIME_NOW", utimensat(AT_FDCWD, "t0644", now, 0));
    show("t0644 UTIME_OMIT", utimensat(AT_FDCWD, "t0644", omit, 0));
    show("t1000 (own, 0444) explicit", utimensat(AT_FDCWD, "t1000", set, 0));
    struct stat st;
    stat("t1000", &st);
    printf("t1000 atime %ld mtime %ld\n", (long)st.st_atime, (long)st.st_mtime);
    show("t1000 NULL", utimensat(AT_FDCWD, "t1000", NULL, 0));
}

static void times_no_fowner(void) {
    struct timespec set[2] = {{100, 0}, {200, 0}};
    show("t1000 explicit", utimensat(AT_FDCWD, "t1000", set, 0));
    show("t1000 NULL", utimensat(AT_FDCWD, "t1000", NULL, 0));
}

/* 10. truncate needs write permission; ftruncate a descriptor open for it. */
static void truncate_user(void) {
    show("truncate t0644", truncate("t0644", 0));
    show("truncate t0666", truncate("t0666", 2));
    int fd = open("t0666", O_RDONLY);
    show("ftruncate read-only fd", ftruncate(fd, 0));
    close(fd);
    show("truncate c777 (dir)", truncate("c777", 0));
}

static void truncate_no_ovr(void) {
    show("truncate m0600.1000.1000", truncate("m0600.1000.1000", 0));
    show("truncate a0000 (own)", truncate("a0000", 0));
}

static void truncate_root(void) { show("truncate a0000", truncate("a0000", 0)); }

static int rm(const char *p, const struct stat *s, int t, struct FTW *f) { return remove(p); }

int main(void) {
    setvbuf(stdout, 0, _IOLBF, 0);
    /* Root's own groups come from whoever started us: make them known. */
    setgroups(0, NULL);
    setresgid(0, 0, 0);
    umask(022);
    char top[] = "/tmp/dac.XXXXXX";
    if (!mkdtemp(top) || chmod(top, 0755) || chdir(top)) return 1;

    char name[32];
    for (int m = 0; m < 4; m++)
        for (int o = 0; o < 3; o++) {
            snprintf(name, sizeof name, "m%04o.%d.%d", modes[m], owners[o][0], owners[o][1]);
            make(name, modes[m], owners[o][0], owners[o][1], "data\n");
        }
    const struct who *table_who[] = {&ROOT, &U1000, &U1000G, &U1000X, &NO_OVR, &NO_DAC};
    for (int i = 0; i < 6; i++) run("1. open by class", table_who[i], open_table, 1);

    make("s700", 0700, 0, 0, NULL);
    make("s711", 0711, 0, 0, NULL);
    make("s744", 0744, 0, 0, NULL);
    make("u700", 0700, 1000, 1000, NULL);
    make("s700/f", 0644, 0, 0, "");
    make("s711/f", 0644, 0, 0, "");
    make("s744/f", 0644, 0, 0, "");
    make("s744/g", 0644, 0, 0, "");
    make("u700/f", 0644, 1000, 1000, "");
    run("2. search permission", &U1000, search_user, 2);
    run("2. search permission", &NO_OVR, search_root, 2);
    run("2. search permission", &NO_DAC, search_root, 2);

    make("a0644", 0644, 0, 0, "");
    make("a0744", 0744, 0, 0, "");
    make("a0000", 0000, 0, 0, "");
    make("d0000", 0000, 0, 0, NULL);
    run("3. access and faccessat(AT_EACCESS)", &ROOT, access_table, 3);
    run("3. access and faccessat(AT_EACCESS)", &U1000, access_table, 3);
    run("3. access and faccessat(AT_EACCESS)", &ROOT, access_mixed, 3);

    const char *script = "#!/bin/sh\nexit 7\n";
    make("x0644", 0644, 0, 0, script);
    make("x0000", 0000, 0, 0, script);
    make("x0100", 0100, 0, 0, script);
    make("x0700", 0700, 0, 0, script);
    make("x0755", 0755, 0, 0, script);
    make("c755", 0755, 0, 0, NULL);
    run_exec("./x0644", &ROOT);
    run_exec("./x0000", &ROOT);
    run_exec("./x0100", &ROOT);
    run_exec("./x0700", &ROOT);
    run_exec("./x0700", &U1000);
    run_exec("./x0755", &U1000);
    run_exec("./c755", &ROOT); /* a directory */

    make("c777", 0777, 0, 0, NULL);
    run("5. create", &U1000, create_user, 5);

    make("w755", 0755, 0, 0, NULL);
    make("w755/f", 0644, 0, 0, "");
    make("w755/mine", 0644, 1000, 1000, "");
    make("w755/d", 0755, 0, 0, NULL);
    make("st", 01777, 0, 0, NULL);
    make("st/root", 0666, 0, 0, "");
    make("st/u1000", 0644, 1000, 1000, "");
    make("st/x1000", 0644, 1000, 1000, "");
    make("st/rootdir", 0777, 0, 0, NULL);
    make("st2", 01777, 2000, 2000, NULL);
    make("st2/a", 0666, 1000, 1000, "");
    make("st2/b", 0666, 1000, 1000, "");
    run("6. remove and rename", &U1000, remove_user, 6);
    run("6. remove and rename", &NO_FOWNER, remove_no_fowner, 6);
    run("6. remove and rename", &U2000, remove_dir_owner, 6);

    make("sg", 02775, 0, 1000, NULL);
    make("sg2", 02777, 0, 1000, NULL);
    run("7. set-group-id directory", &ROOT, sgid_root, 7);
    run("7. set-group-id directory", &U1000G, sgid_member, 7);
    run("7. set-group-id directory", &U1000X, sgid_stranger, 7);

    make("sx", 06755, 1000, 1000, "");
    make("sgl", 02745, 1000, 1000, ""); /* S_ISGID without group exec */
    run("8. write", &U1000, write_sx, 8);
    run("8. write", &U1000, write_sgl, 8);
    chmod("sx", 06755);
    run("8. write", &ROOT, write_sx, 8);
    run("8. write", &NO_FSETID, write_sx, 8);
    chmod("sx", 06755);
    run("8. truncate", &U1000, truncate_sx, 8);
    chmod("sx", 06755);
    show("8. root chown sx to 0:0", chown("sx", 0, 0));
    stat_line("sx", "sx");
    chmod("sx", 06745); /* S_ISGID without group exec stays */
    show("8. root chown sx to 1000:1000", chown("sx", 1000, 1000));
    stat_line("sx", "sx");

    make("t0666", 0666, 0, 0, "data\n");
    make("t0644", 0644, 0, 0, "data\n");
    make("t1000", 0444, 1000, 1000, "data\n");
    run("9. utimensat", &U1000, times_user, 9);
    run("9. utimensat", &NO_FOWNER, times_no_fowner, 9);

    run("10. truncate", &U1000, truncate_user, 10);
    run("10. truncate", &NO_OVR, truncate_no_ovr, 10);
    run("10. truncate", &ROOT, truncate_root, 10);

    chdir("/");
    show("remove the tree", nftw(top, rm, 16, FTW_DEPTH | FTW_PHYS));
    return 0;
}
