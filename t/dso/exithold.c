/*
 * LD_PRELOAD for httpd: a process that calls exit() while other threads of
 * it still run (an httpd child: mod_watchdog's thread is never joined) says
 * so on stderr, which is httpd's error log ("bbt-exithold: pid N exits"),
 * and is held BBT_EXIT_HOLD seconds before it exits.  Its pool is gone by
 * then: what those threads do meanwhile is what they would do in the
 * moments the process takes to end, made long enough to be seen.  Without
 * BBT_EXIT_HOLD, or a process without other threads: exit() as it is.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int bbt_other_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    if (!d) {
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n - 1;
}

void exit(int status)
{
    static void (*real)(int);
    const char *hold = getenv("BBT_EXIT_HOLD");
    struct timespec t;
    int others;

    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "exit");
    }
    if (hold && atoi(hold) > 0 && (others = bbt_other_threads()) > 0) {
        fprintf(stderr, "bbt-exithold: pid %d exits, %d other threads\n",
                (int)getpid(), others);
        fflush(stderr);
        /* The whole time, whatever signal ends a sleep early (httpd's
         * parent repeats SIGTERM while it waits for its children). */
        t.tv_sec = atoi(hold);
        t.tv_nsec = 0;
        while (nanosleep(&t, &t) != 0) {
        }
    }
    real(status);
    abort();
}
