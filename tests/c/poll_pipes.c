/* poll on pipes: timeouts, readiness, POLLHUP and POLLNVAL. */
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2];
    pipe(p);
    struct pollfd f[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
    printf("ready at once: %d (in %x, out %x)\n", poll(f, 2, 0), f[0].revents, f[1].revents);
    printf("empty read side times out: %d\n", poll(f, 1, 50));
    write(p[1], "x", 1);
    printf("readable: %d %x\n", poll(f, 1, 1000), f[0].revents);
    close(p[1]);
    char c;
    read(p[0], &c, 1);
    printf("hang-up after the writer closes: %d %x\n", poll(f, 1, 1000), f[0].revents);
    struct pollfd bad = {999, POLLIN, 0};
    printf("unknown descriptor: %d %x\n", poll(&bad, 1, 0), bad.revents);
    struct pollfd neg = {-1, POLLIN, 0};
    printf("negative descriptor ignored: %d %x\n", poll(&neg, 1, 10), neg.revents);
    return 0;
}
