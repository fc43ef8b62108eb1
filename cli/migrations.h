/*
 * The schema's migrations, compiled in (migrations.c).
 */
#ifndef BBTOKEN_MIGRATIONS_H
#define BBTOKEN_MIGRATIONS_H

typedef struct {
    int version;
    const char *name;
    const char *sql;
} bbtoken_migration_t;

extern const bbtoken_migration_t *const bbtoken_migration_list;
extern const int bbtoken_migration_count;
#define BBTOKEN_SCHEMA_LATEST                                                  \
    (bbtoken_migration_list[bbtoken_migration_count - 1].version)

#endif
