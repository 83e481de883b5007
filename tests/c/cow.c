/* fork copies memory: writes after fork are private to each side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int global = 1;

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char *heap = malloc(1 << 20);
    memset(heap, 'p', 1 << 20);
    char *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    anon[0] = 'p';
    char *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    shared[0] = 'p';
    int stackvar = 1;
    pid_t c = fork();
    if (c == 0) {
        global = 2;
        heap[12345] = 'c';
        anon[0] = 'c';
        shared[0] = 'c';
        stackvar = 2;
        printf("child sees its writes: %d %c %c %c %d\n", global, heap[12345], anon[0], shared[0], stackvar);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    printf("parent keeps its own: %d %c %c %d\n", global, heap[12345], anon[0], stackvar);
    printf("shared anonymous memory is shared: %c\n", shared[0]);
    return 0;
}
