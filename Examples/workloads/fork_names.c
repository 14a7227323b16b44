// Task names as perf tracks them: a child that forks without exec keeps its parent's
// name; a child that spins, then execs `hot_split` is credited to its old name before the
// exec and to the new one after; a thread renames itself. Usage: fork_names HOT_SPLIT_PATH
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static volatile unsigned long sink;
__attribute__((noinline)) static void spin(double seconds) {
    for (double end = now() + seconds; now() < end;) for (int i = 0; i < 100000; i++) sink += i;
}
static void *renamed_thread(void *arg) {
    (void)arg;
    prctl(PR_SET_NAME, "renamed_worker");
    spin(0.3);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: fork_names HOT_SPLIT_PATH\n"); return 2; }
    pid_t plain = fork();
    if (plain == 0) { spin(0.3); _exit(0); }                                       // no exec: "fork_names"
    pid_t execs = fork();
    if (execs == 0) { spin(0.3); execl(argv[1], "hot_split", "0.3", (char *)NULL); _exit(127); }   // then "hot_split"
    pthread_t t;
    pthread_create(&t, NULL, renamed_thread, NULL);
    pthread_join(t, NULL);
    waitpid(plain, NULL, 0);
    waitpid(execs, NULL, 0);
    return 0;
}
