/*
 * A tiny TAP producer for the C unit tests.  One test program per file;
 * include this once.  End main() with `return done_testing();`: it prints
 * the plan ("1..N") and returns non-zero if any test failed.
 */
#ifndef BBT_TAP_H
#define BBT_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_run = 0;
static int tap_failed = 0;
static int tap_planned = -1;

#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Declare the number of tests up front (optional). */
static inline void plan(int n)
{
    tap_planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
}

static inline void tap_vdiag(const char *fmt, va_list ap)
{
    fputs("# ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
}

/* A comment line; TAP harnesses show it but do not parse it. */
static inline TAP_PRINTF(1, 2) void diag(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tap_vdiag(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static inline int tap_vok(int pass, const char *fmt, va_list ap)
{
    tap_run++;
    if (!pass)
        tap_failed++;
    printf("%sok %d - ", pass ? "" : "not ", tap_run);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
    return pass;
}

/* One test: passes if pass is true.  Returns pass. */
static inline TAP_PRINTF(2, 3) int ok(int pass, const char *fmt, ...)
{
    va_list ap;
    int rv;

    va_start(ap, fmt);
    rv = tap_vok(pass ? 1 : 0, fmt, ap);
    va_end(ap);
    return rv;
}

static inline TAP_PRINTF(3, 4) int is_int(long long got, long long want,
                                          const char *fmt, ...)
{
    va_list ap;
    int rv;

    va_start(ap, fmt);
    rv = tap_vok(got == want, fmt, ap);
    va_end(ap);
    if (!rv)
        diag("     got: %lld\n#   expected: %lld", got, want);
    return rv;
}

/* Strings are equal, or both NULL. */
static inline TAP_PRINTF(3, 4) int is_str(const char *got, const char *want,
                                          const char *fmt, ...)
{
    va_list ap;
    int rv, same;

    same = (got == NULL || want == NULL) ? got == want : !strcmp(got, want);
    va_start(ap, fmt);
    rv = tap_vok(same, fmt, ap);
    va_end(ap);
    if (!rv)
        diag("     got: %s%s%s\n#   expected: %s%s%s", got ? "'" : "",
             got ? got : "NULL", got ? "'" : "", want ? "'" : "",
             want ? want : "NULL", want ? "'" : "");
    return rv;
}

/* 1 when t/10-unit-valgrind runs the program under memcheck (it sets
 * BBT_UNIT_MEMCHECK=1).  A sweep that runs the same code over a million
 * values or thousands of random ones may then take a slice of them that
 * still goes down every path of that code: memcheck slows each value
 * some thirty times and finds its faults in the paths taken, not in how
 * many values take them.  The program's own run (t/NN-unit-*.t) takes
 * the whole sweep. */
static inline int tap_memcheck(void)
{
    const char *v = getenv("BBT_UNIT_MEMCHECK");

    return v && *v && strcmp(v, "0") != 0;
}

/* Print the plan if none was declared; 0 if every test passed. */
static inline int done_testing(void)
{
    if (tap_run == 0) {
        diag("no tests ran");
        fflush(stdout);
        return 1;
    }
    if (tap_planned < 0) {
        printf("1..%d\n", tap_run);
    } else if (tap_planned != tap_run) {
        diag("planned %d tests but ran %d", tap_planned, tap_run);
        fflush(stdout);
        return 1;
    }
    if (tap_failed)
        diag("failed %d of %d tests", tap_failed, tap_run);
    fflush(stdout);
    return tap_failed ? 1 : 0;
}

#endif
