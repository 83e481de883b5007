/* #! scripts: nesting, interpreter arguments, and what is not runnable. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *path, const char *text, int mode) {
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);
    write(fd, text, strlen(text));
    close(fd);
    chmod(path, mode);
}

static void run(char *path) {
    pid_t c = fork();
    if (c == 0) {
        char *argv[] = {path, "arg1", NULL};
        char *envp[] = {NULL};
        execve(path, argv, envp);
        printf("execve %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    int st;
    waitpid(c, &st, 0);
    printf("status %d\n", WEXITSTATUS(st));
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char base[] = "/tmp/moat-scripts-XXXXXX";
    mkdtemp(base);
    chdir(base);
    put("s1", "#!/bin/busybox sh\necho s1 got \"$0\" \"$1\"\nexit 3\n", 0755);
    put("s2", "#!./s1\n", 0755);
    put("s3", "#!/bin/busybox  echo   spaced args \n", 0755);
    put("noexec", "#!/bin/busybox sh\necho no\n", 0644);
    put("garbage", "this is not a program\n", 0755);
    put("badinterp", "#!/nonexistent/interpreter\n", 0755);
    run("./s1");
    run("./s2");
    run("./s3");
    run("./noexec");
    run("./garbage");
    run("./badinterp");
    system("/bin/busybox rm -rf /tmp/moat-scripts-*");
    return 0;
}
