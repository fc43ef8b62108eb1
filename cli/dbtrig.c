/*
 * The triggers the compiled-in migrations make (dbtrig.h), read from their
 * scripts: each CREATE TRIGGER and DROP TRIGGER that begins a line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbtrig.h"
#include "migrations.h"

#define BBTOKEN_IDENT_CHARS                                                    \
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"

/* The statement at s, up to its ';', on one line: each run of white space
 * and comments one space, a quoted literal as it is.  *end is set after
 * the ';'.  NULL when out of memory or the script ends first. */
static char *bbtoken_stmt_line(const char *s, const char **end)
{
    size_t cap = strlen(s) + 1, n = 0;
    char *out = malloc(cap);
    int space = 0;

    if (!out) {
        return NULL;
    }
    while (*s && *s != ';') {
        if (s[0] == '-' && s[1] == '-') {
            s += strcspn(s, "\n");
            space = 1;
            continue;
        }
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
            s++;
            space = 1;
            continue;
        }
        if (space && n) {
            out[n++] = ' ';
        }
        space = 0;
        if (*s == '\'') {
            size_t q = 1 + strcspn(s + 1, "'");

            q += s[q] == '\'';
            memcpy(out + n, s, q);
            n += q;
            s += q;
            continue;
        }
        out[n++] = *s++;
    }
    if (*s != ';') {
        free(out);
        return NULL;
    }
    out[n++] = ';';
    out[n] = '\0';
    *end = s + 1;
    return out;
}

/* The identifier after the first word w in stmt (" ON " and the like),
 * into buf; 0, or -1 when there is none. */
static int bbtoken_ident_after(const char *stmt, const char *w, char *buf,
                               size_t size)
{
    const char *p = strstr(stmt, w);
    size_t n;

    if (!p) {
        return -1;
    }
    p += strlen(w);
    n = strspn(p, BBTOKEN_IDENT_CHARS);
    if (n == 0 || n >= size) {
        return -1;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    return 0;
}

static void bbtoken_trigdef_drop(bbtoken_trigdefs_t *d, const char *name,
                                 const char *table)
{
    size_t i;

    for (i = 0; i < d->n; i++) {
        if (strcmp(d->v[i].name, name) == 0 &&
            strcmp(d->v[i].table, table) == 0) {
            free(d->v[i].sql);
            d->v[i] = d->v[--d->n];
            return;
        }
    }
}

/* One statement that begins a line of migration version v: a trigger
 * made or dropped.  0, or -1 when out of memory. */
static int bbtoken_trigdef_stmt(bbtoken_trigdefs_t *d, size_t *cap, int v,
                                char *stmt)
{
    static const char create[] = "CREATE TRIGGER ", drop[] = "DROP TRIGGER ";
    bbtoken_trigdef_t t, *grown;
    char *sql;
    int len;

    memset(&t, 0, sizeof(t));
    if (strncmp(stmt, drop, sizeof(drop) - 1) == 0) {
        if (bbtoken_ident_after(
                stmt,
                strncmp(stmt + sizeof(drop) - 1, "IF EXISTS ", 10) == 0
                    ? "IF EXISTS "
                    : drop,
                t.name, sizeof(t.name)) == 0 &&
            bbtoken_ident_after(stmt, " ON ", t.table, sizeof(t.table)) == 0) {
            bbtoken_trigdef_drop(d, t.name, t.table);
        }
        free(stmt);
        return 0;
    }
    if (bbtoken_ident_after(stmt, create, t.name, sizeof(t.name)) != 0 ||
        bbtoken_ident_after(stmt, " ON ", t.table, sizeof(t.table)) != 0 ||
        (bbtoken_ident_after(stmt, " EXECUTE FUNCTION ", t.func,
                             sizeof(t.func)) != 0 &&
         bbtoken_ident_after(stmt, " EXECUTE PROCEDURE ", t.func,
                             sizeof(t.func)) != 0)) {
        free(stmt);
        return 0;
    }
    /* As every migration makes a trigger of the schema's: firing always
     * (sql/migrations/0026_lookup.sql says why). */
    len = snprintf(NULL, 0, "%s ALTER TABLE %s ENABLE ALWAYS TRIGGER %s;", stmt,
                   t.table, t.name);
    if (!(sql = malloc((size_t)len + 1))) {
        free(stmt);
        return -1;
    }
    snprintf(sql, (size_t)len + 1,
             "%s ALTER TABLE %s ENABLE ALWAYS TRIGGER %s;", stmt, t.table,
             t.name);
    free(stmt);
    if (d->n == *cap) {
        if (!(grown = realloc(d->v, (*cap * 2 + 16) * sizeof(*grown)))) {
            free(sql);
            return -1;
        }
        d->v = grown;
        *cap = *cap * 2 + 16;
    }
    t.version = v;
    t.sql = sql;
    d->v[d->n++] = t;
    return 0;
}

int bbtoken_trigdefs(bbtoken_trigdefs_t *d)
{
    const char *p, *end;
    size_t cap = 0;
    char *stmt;
    int i;

    d->v = NULL;
    d->n = 0;
    for (i = 0; i < bbtoken_migration_count; i++) {
        const bbtoken_migration_t *m = &bbtoken_migration_list[i];

        for (p = m->sql; *p; p = end) {
            end = p + strcspn(p, "\n");
            end += *end == '\n';
            if ((p != m->sql && p[-1] != '\n') ||
                (strncmp(p, "CREATE TRIGGER ", 15) != 0 &&
                 strncmp(p, "DROP TRIGGER ", 13) != 0)) {
                continue;
            }
            /* Out of memory, or a script that ends without the
             * statement's ';' (which `db upgrade` would have refused). */
            if (!(stmt = bbtoken_stmt_line(p, &end)) ||
                bbtoken_trigdef_stmt(d, &cap, m->version, stmt) != 0) {
                bbtoken_trigdefs_free(d);
                return -1;
            }
        }
    }
    return 0;
}

void bbtoken_trigdefs_free(bbtoken_trigdefs_t *d)
{
    size_t i;

    for (i = 0; i < d->n; i++) {
        free(d->v[i].sql);
    }
    free(d->v);
    d->v = NULL;
    d->n = 0;
}

int bbtoken_trigdefs_arrays(const bbtoken_trigdefs_t *d, char *arrays[4])
{
    /* Each item an identifier or a number: nothing to quote. */
    size_t size = 3 + d->n * (sizeof(d->v[0].name) + 1), i;
    int k;

    for (k = 0; k < 4; k++) {
        if (!(arrays[k] = malloc(size))) {
            while (k--) {
                free(arrays[k]);
                arrays[k] = NULL;
            }
            return -1;
        }
        strcpy(arrays[k], "{");
    }
    for (i = 0; i < d->n; i++) {
        const char *sep = i ? "," : "";
        char num[16];

        snprintf(num, sizeof(num), "%d", d->v[i].version);
        strcat(strcat(arrays[0], sep), d->v[i].name);
        strcat(strcat(arrays[1], sep), d->v[i].table);
        strcat(strcat(arrays[2], sep), d->v[i].func);
        strcat(strcat(arrays[3], sep), num);
    }
    for (k = 0; k < 4; k++) {
        strcat(arrays[k], "}");
    }
    return 0;
}
