/*
 * The triggers the schema's migrations make, as they make them (dbtrig.c):
 * `db check` finds those of the lookup that do not exist, and says with
 * which statements to make them again.  A trigger dropped cannot be
 * enabled, and no upgrade makes it again (the migrations it came from ran
 * once); the compiled-in migrations are the one home of its definition.
 */
#ifndef BBTOKEN_DBTRIG_H
#define BBTOKEN_DBTRIG_H

#include <stddef.h>

/* A trigger made by a migration and not dropped by a later one. */
typedef struct {
    int version;   /* the migration's */
    char name[64]; /* as written there: plain identifiers */
    char table[64];
    char func[64]; /* what it executes */
    char *sql;     /* its CREATE TRIGGER, then the ALTER TABLE that
                    * makes it fire always, on one line */
} bbtoken_trigdef_t;

typedef struct {
    bbtoken_trigdef_t *v;
    size_t n;
} bbtoken_trigdefs_t;

/* Every trigger the compiled-in migrations make into *d, its
 * name, table, function and statement read from its CREATE TRIGGER; one
 * a later DROP TRIGGER drops is left out.  0, or -1 when out of memory
 * or a script cannot be read so (*d then empty). */
int bbtoken_trigdefs(bbtoken_trigdefs_t *d);

void bbtoken_trigdefs_free(bbtoken_trigdefs_t *d);

/* d's names, tables, functions and versions as four PostgreSQL array
 * literals ({a,b}), for a statement's parameters; each freed by the
 * caller.  0, or -1 when out of memory (all NULL). */
int bbtoken_trigdefs_arrays(const bbtoken_trigdefs_t *d, char *arrays[4]);

#endif
