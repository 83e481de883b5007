/* execve: argv, envp and auxv as a program sees them; #! scripts; errors. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv, char **envp) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        printf("argc=%d", argc);
        for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
        int n = 0;
        for (char **e = envp; *e; e++) n++;
        printf(" envc=%d FOO=%s\n", n, getenv("FOO") ? getenv("FOO") : "(none)");
        printf("pagesz=%lu clktck=%lu secure=%lu random=%d execfn=%s\n", getauxval(AT_PAGESZ),
               getauxval(AT_CLKTCK), getauxval(AT_SECURE), getauxval(AT_RANDOM) != 0,
               (char *)getauxval(AT_EXECFN));
        printf("hwcap same as parent's: %s\n", argv[2]);
        return 0;
    }
    char hw[32];
    snprintf(hw, sizeof hw, "%lx", getauxval(AT_HWCAP));
    pid_t c = fork();
    if (c == 0) {
        char *args[] = {argv[0], "child", hw, "with space", "", NULL};
        char *env[] = {"FOO=bar", "EMPTY=", NULL};
        execve("/proc/self/exe", args, env);
        _exit(99);
    }
    int st;
    waitpid(c, &st, 0);
    printf("child status %d\n", WEXITSTATUS(st));

    errno = 0;
    char *none[] = {"x", NULL};
    execve("/etc/passwd", none, none);
    printf("exec of a non-executable: %s\n", strerror(errno));
    errno = 0;
    execve("/nonexistent", none, none);
    printf("exec of a missing file: %s\n", strerror(errno));
    errno = 0;
    execve("/etc", none, none);
    printf("exec of a directory: %s\n", strerror(errno));

    static char big[200000];
    memset(big, 'x', sizeof big - 1);
    char *bigargs[] = {"x", big, NULL};
    errno = 0;
    execve("/bin/busybox", bigargs, none);
    printf("exec with a 200 KB argument: %s\n", strerror(errno));

    c = fork();
    if (c == 0) {
        char *sh[] = {"sh", "-c", "echo from a shell: $0 $1", "zero", "one", NULL};
        execve("/bin/busybox", sh, envp);
        _exit(99);
    }
    waitpid(c, &st, 0);
    return 0;
}
