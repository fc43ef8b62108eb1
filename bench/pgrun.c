/*
 * For bench/pgprofile.pl: prepare one statement as the pgsql driver does
 * (its parameters of type varchar; "NULL" for SQL NULL), run it N times on
 * one connection, and print the backend's process id.
 *
 *   pgrun CONNINFO SQLFILE N [PARAM...]
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PGRUN_MAX_PARAMS 16
#define PGRUN_VARCHAR_OID 1043

int main(int argc, char **argv)
{
    static char sql[65536];
    const char *values[PGRUN_MAX_PARAMS];
    Oid types[PGRUN_MAX_PARAMS];
    PGconn *c;
    PGresult *r;
    FILE *f;
    size_t len;
    long n, i;
    int np, j;

    if (argc < 4 || argc - 4 > PGRUN_MAX_PARAMS) {
        fprintf(stderr, "usage: pgrun CONNINFO SQLFILE N [PARAM...]\n");
        return 2;
    }
    if (!(f = fopen(argv[2], "r"))) {
        perror(argv[2]);
        return 1;
    }
    len = fread(sql, 1, sizeof(sql) - 1, f);
    sql[len] = '\0';
    fclose(f);
    n = atol(argv[3]);
    np = argc - 4;
    for (j = 0; j < np; j++) {
        values[j] = strcmp(argv[4 + j], "NULL") == 0 ? NULL : argv[4 + j];
        types[j] = PGRUN_VARCHAR_OID;
    }
    c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "%s", PQerrorMessage(c));
        return 1;
    }
    r = PQprepare(c, "pgrun", sql, np, types);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "%s", PQerrorMessage(c));
        return 1;
    }
    PQclear(r);
    for (i = 0; i < n; i++) {
        r = PQexecPrepared(c, "pgrun", np, values, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "%s", PQerrorMessage(c));
            return 1;
        }
        PQclear(r);
    }
    printf("%d\n", PQbackendPID(c));
    PQfinish(c);
    return 0;
}
