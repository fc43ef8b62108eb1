/*
 * The one reading of a refused statement (bbt_sqlstate.h).  The names are
 * the schema's own: sql/migrations/0001 (bbtoken_tokens_pkey and the
 * columns' CHECKs), 0002 (bbtoken_policy_*, bbtoken_tokens_fixed,
 * bbtoken_tokens_live_name), 0005 (bbtoken_tokens_name, and the API
 * functions' class BT), 0019 (bbtoken_tokens_expires_finite), 0022 (the
 * name's invisible formatting characters), 0045 (white space at its
 * ends).
 */
#include "bbt_sqlstate.h"

#include <string.h>

#include "bbt_tokshape.h"

/* The schema's CHECK constraints, in words.  PostgreSQL's own message for
 * them quotes the constraint's name, and its DETAIL the row. */
static const struct {
    const char *constraint;
    const char *text;
} bbt_sql_checks[] = {
    {"bbtoken_tokens_name",
     "token name must not be empty, longer than 255 characters, begin or "
     "end with white space or contain control or invisible formatting "
     "characters"},
    {"bbtoken_tokens_combination",
     "invalid permissions: the repository permission must be at least the "
     "project permission"},
    {"bbtoken_tokens_project_perm_check", "not a project permission"},
    {"bbtoken_tokens_repo_perm_check", "not a repository permission"},
    {"bbtoken_tokens_expires_at_check",
     "the expiry must be after the creation time"},
    {"bbtoken_tokens_expires_finite",
     "the expiry must be a date before the year 100000"},
    {"bbtoken_users_name_check", "not a valid user name"},
    {"bbtoken_users_name_key", "a user of that name exists"},
    {"bbtoken_project_grants_project_key_check", "not a valid project key"},
    {"bbtoken_repo_grants_project_key_check", "not a valid project key"},
    {"bbtoken_repo_grants_repo_slug_check", "not a valid repository slug"},
    {"bbtoken_project_grants_permission_check", "not a project permission"},
    {"bbtoken_repo_grants_permission_check", "not a repository permission"},
    {"bbtoken_policy_max_expiry_days_check",
     "the maximum expiry must be 1 to 36500 days"},
    {"bbtoken_policy_max_tokens_per_user_check",
     "the maximum number of tokens must be 1 to 1000000"},
    {"bbtoken_policy_required_needs_max",
     "a required expiry needs a maximum expiry"},
    {"bbtoken_policy_singleton_check", "the token policy is one row"},
    {"bbtoken_policy_pkey", "the token policy is one row"},
};

#define BBT_SQL_NCHECKS (sizeof(bbt_sql_checks) / sizeof(bbt_sql_checks[0]))

static int bbt_is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

int bbt_sql_read_only(const char *state)
{
    return bbt_is(state, "25006");
}

int bbt_sql_stmt_exists(const char *state)
{
    return bbt_is(state, "42P05");
}

int bbt_sql_lock_given_up(const char *state)
{
    return bbt_is(state, "55P03");
}

int bbt_sql_waited_out(const char *state)
{
    return bbt_is(state, "57014") || bbt_sql_lock_given_up(state);
}

bbt_sql_class_t bbt_sql_classify(const char *state, const char *constraint,
                                 const char *message)
{
    (void)message;
    if (!state) {
        return BBT_SQL_FAULT;
    }
    /* A random id already in use, or used once and purged: draw again. */
    if ((bbt_is(state, "23505") && bbt_is(constraint, "bbtoken_tokens_pkey")) ||
        (bbt_is(state, "23514") &&
         bbt_is(constraint, "bbtoken_policy_fresh_id"))) {
        return BBT_SQL_ID_TAKEN;
    }
    /* Class 40, transaction rollback: a deadlock broken, or a serializable
     * transaction (a hot standby's conflict with recovery too) aborted. */
    if (bbt_is(state, "40P01") || bbt_is(state, "40001")) {
        return BBT_SQL_CONFLICT;
    }
    /* PostgreSQL's own "permission denied": a GRANT is missing. */
    if (bbt_is(state, "42501")) {
        return BBT_SQL_PRIVILEGE;
    }
    if (bbt_is(state, "BT001")) {
        return BBT_SQL_NOT_PERMITTED;
    }
    if (bbt_is(state, "BT002")) {
        return BBT_SQL_NO_SUCH_USER;
    }
    if (bbt_is(state, "BT003")) {
        return BBT_SQL_NO_SUCH_TOKEN;
    }
    if (bbt_is(state, "23505") &&
        bbt_is(constraint, "bbtoken_tokens_live_name")) {
        return BBT_SQL_NAME_TAKEN;
    }
    if (constraint && (strncmp(constraint, "bbtoken_policy_", 15) == 0 ||
                       strcmp(constraint, "bbtoken_tokens_fixed") == 0)) {
        /* The policy table's own CHECKs are plain constraints. */
        size_t i;

        for (i = 0; i < BBT_SQL_NCHECKS; i++) {
            if (strcmp(constraint, bbt_sql_checks[i].constraint) == 0) {
                return BBT_SQL_REFUSED;
            }
        }
        return BBT_SQL_POLICY;
    }
    /* untranslatable_character: the connection speaks UTF-8 (bbt_dbenc.h,
     * the CLI's), so the text was valid, and only the database's own
     * encoding lacks it. */
    if (bbt_is(state, "22P05")) {
        return BBT_SQL_UNSTORABLE;
    }
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0) {
        return BBT_SQL_REFUSED;
    }
    return BBT_SQL_FAULT;
}

const char *bbt_sql_message(const char *state, const char *constraint,
                            const char *message)
{
    const char *after;
    size_t i;

    switch (bbt_sql_classify(state, constraint, message)) {
    case BBT_SQL_FAULT:
    case BBT_SQL_PRIVILEGE:
        return NULL;
    case BBT_SQL_ID_TAKEN:
        return "the new token's id was taken: try again";
    case BBT_SQL_CONFLICT:
        return "the database gave way to another change made at the same "
               "moment, and did nothing: try again";
    case BBT_SQL_NAME_TAKEN:
        return "a token with that name already exists";
    case BBT_SQL_NOT_PERMITTED:
    case BBT_SQL_NO_SUCH_USER:
    case BBT_SQL_NO_SUCH_TOKEN:
        /* The API functions' words, written for the caller. */
        return message ? message : "refused by the database";
    case BBT_SQL_POLICY:
        /* The schema's rules speak for themselves; one that names itself
         * ("... violates bbtoken_tokens_fixed: why") is told by its why. */
        if (message && (after = strstr(message, constraint)) != NULL &&
            strncmp(after + strlen(constraint), ": ", 2) == 0) {
            return after + strlen(constraint) + 2;
        }
        return message ? message : "refused by the token policy";
    case BBT_SQL_UNSTORABLE:
        /* The server's message names bytes, not the character. */
        return "a character of the text has no equivalent in the "
               "database's encoding";
    case BBT_SQL_REFUSED:
        break;
    }
    for (i = 0; constraint && i < BBT_SQL_NCHECKS; i++) {
        if (strcmp(constraint, bbt_sql_checks[i].constraint) == 0) {
            return bbt_sql_checks[i].text;
        }
    }
    /* A value the server could not take (class 22) is named in its message,
     * which quotes no rule; a rule of class 23 that is not ours to name
     * (a foreign key, a NOT NULL) is not shown. */
    if (strncmp(state, "22", 2) == 0 && message) {
        return message;
    }
    return "the database refused the value: it breaks a rule of the schema";
}

const char *bbt_sql_line(char *buf, size_t n, const char *message,
                         const char *fallback)
{
    size_t o = 0;
    int space = 0;

    for (; message && *message && o + 1 < n; message++) {
        char ch = *message;

        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            space = o > 0;
            continue;
        }
        if (space) {
            if (o + 2 >= n) {
                break;
            }
            buf[o++] = ' ';
            space = 0;
        }
        buf[o++] = ch;
    }
    buf[o] = '\0';
    bbt_token_mask(buf, n);
    return o > 0 ? buf : fallback;
}
