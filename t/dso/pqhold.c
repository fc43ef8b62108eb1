/*
 * LD_PRELOAD for the CLI: holds it between two of its statements, so that
 * a signal comes exactly there, and tells what it sends after.
 *
 * Once a statement (PQexec, PQexecParams) whose text holds
 * BBT_PQHOLD_AFTER has returned, and BBT_PQHOLD_LATER (default 0) more
 * have, the CLI makes the file BBT_PQHOLD_MARK and waits until the file
 * BBT_PQHOLD_GATE exists (polling; a signal's handler runs meanwhile).
 * From then on, each statement it sends has its first line appended to
 * BBT_PQHOLD_LOG.  Without BBT_PQHOLD_AFTER: libpq as it is.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* libpq's, as its header declares them. */
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef unsigned int Oid;

static int bbt_seen;   /* the statement named was sent */
static int bbt_later;  /* statements since, to go */
static int bbt_passed; /* held, and let go */

static void bbt_log(const char *sql)
{
    const char *log = getenv("BBT_PQHOLD_LOG");
    size_t n = strcspn(sql, "\n");
    FILE *f;

    if (!bbt_passed || !log || !(f = fopen(log, "a"))) {
        return;
    }
    fprintf(f, "%.*s\n", (int)(n > 200 ? 200 : n), sql);
    fclose(f);
}

static void bbt_hold(const char *sql)
{
    const char *after = getenv("BBT_PQHOLD_AFTER");
    const char *mark = getenv("BBT_PQHOLD_MARK");
    const char *gate = getenv("BBT_PQHOLD_GATE");
    struct timespec t = {0, 20000000};
    int fd;

    if (bbt_passed || !after || !mark || !gate) {
        return;
    }
    if (!bbt_seen) {
        if (!strstr(sql, after)) {
            return;
        }
        bbt_seen = 1;
        bbt_later =
            getenv("BBT_PQHOLD_LATER") ? atoi(getenv("BBT_PQHOLD_LATER")) : 0;
    } else {
        bbt_later--;
    }
    if (bbt_later > 0) {
        return;
    }
    if ((fd = open(mark, O_WRONLY | O_CREAT, 0644)) >= 0) {
        close(fd);
    }
    while (access(gate, F_OK) != 0) {
        nanosleep(&t, NULL);
    }
    bbt_passed = 1;
}

PGresult *PQexec(PGconn *conn, const char *sql)
{
    static PGresult *(*real)(PGconn *, const char *);
    PGresult *res;

    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "PQexec");
    }
    bbt_log(sql);
    res = real(conn, sql);
    bbt_hold(sql);
    return res;
}

PGresult *PQexecParams(PGconn *conn, const char *sql, int n, const Oid *types,
                       const char *const *values, const int *lengths,
                       const int *formats, int result_format)
{
    static PGresult *(*real)(PGconn *, const char *, int, const Oid *,
                             const char *const *, const int *, const int *,
                             int);
    PGresult *res;

    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "PQexecParams");
    }
    bbt_log(sql);
    res = real(conn, sql, n, types, values, lengths, formats, result_format);
    bbt_hold(sql);
    return res;
}
