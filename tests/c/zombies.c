/* Zombies: visible in /proc as Z until reaped, then gone. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char state_of(pid_t p) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", p);
    FILE *f = fopen(path, "r");
    if (!f) return '-';
    if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
    fclose(f);
    char *close = strrchr(buf, ')');
    return close && close[1] ? close[2] : '?';
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t c = fork();
    if (c == 0) _exit(0);
    usleep(200000);
    printf("exited, not reaped: %c\n", state_of(c));
    waitpid(c, NULL, 0);
    printf("after wait: %c\n", state_of(c));
    printf("self: %c\n", state_of(getpid()) == 'R' || state_of(getpid()) == 'S' ? 'A' : 'X');
    return 0;
}
