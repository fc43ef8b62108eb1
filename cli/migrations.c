/*
 * The schema's migrations, compiled in: bbtoken_migrations.h is made at
 * build time by cli/embed-sql.sh from sql/migrations/NNNN_name.sql, so
 * `bbtoken db upgrade` needs no files, and every other command knows the
 * schema version it speaks.
 */
#include "migrations.h"

#include "bbtoken_migrations.h"

const bbtoken_migration_t *const bbtoken_migration_list = bbtoken_migrations;
const int bbtoken_migration_count =
    (int)(sizeof(bbtoken_migrations) / sizeof(bbtoken_migrations[0]));
