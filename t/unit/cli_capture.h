/*
 * For the CLI's unit tests: run code with stdout and stderr going to
 * temporary files, and get back what it printed.  Report with tap.h only
 * after capture_end().
 */
#ifndef BBT_CLI_CAPTURE_H
#define BBT_CLI_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char capture_out[16384];
static char capture_err[16384];
static FILE *capture_files[2];
static int capture_saved[2];

static inline void capture_start(void)
{
    int i;

    fflush(stdout);
    fflush(stderr);
    for (i = 0; i < 2; i++) {
        if (!(capture_files[i] = tmpfile()) ||
            (capture_saved[i] = dup(i + 1)) < 0 ||
            dup2(fileno(capture_files[i]), i + 1) < 0) {
            perror("capture_start");
            exit(2);
        }
    }
}

static inline void capture_end(void)
{
    char *bufs[2] = {capture_out, capture_err};
    size_t n;
    int i;

    fflush(stdout);
    fflush(stderr);
    for (i = 0; i < 2; i++) {
        dup2(capture_saved[i], i + 1);
        close(capture_saved[i]);
        rewind(capture_files[i]);
        n = fread(bufs[i], 1, sizeof(capture_out) - 1, capture_files[i]);
        bufs[i][n] = '\0';
        fclose(capture_files[i]);
    }
}

#endif
