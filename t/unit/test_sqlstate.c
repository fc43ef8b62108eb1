/* The SQLSTATE reading (bbt_sqlstate): what each state and constraint means
 * to the caller, and the one line people are told. */
#include "bbt_sqlstate.h"
#include "tap.h"

#include <string.h>

static void test_sql_line(void)
{
    char buf[64], tiny[8], line[256];

    is_str(bbt_sql_line(buf, sizeof(buf),
                        "server closed the connection "
                        "unexpectedly\n\tThis probably means\n",
                        "x"),
           "server closed the connection unexpectedly This probably means",
           "libpq's newline and tab become one space; the last one goes");
    is_str(bbt_sql_line(buf, sizeof(buf), "  \n lead \r\n", "x"), "lead",
           "white space at either end goes");
    is_str(bbt_sql_line(buf, sizeof(buf), "\n\t \n", "none"), "none",
           "only white space: the fallback");
    is_str(bbt_sql_line(buf, sizeof(buf), NULL, "none"), "none",
           "no message: the fallback");
    is_str(bbt_sql_line(tiny, sizeof(tiny), "abcdefghijk", "x"), "abcdefg",
           "a long message is cut to the buffer, terminated");
    is_str(bbt_sql_line(tiny, sizeof(tiny), "abcdef gh", "x"), "abcdef",
           "a space is not left at the cut");
    is_str(bbt_sql_line(line, sizeof(line),
                        "ERROR:  user "
                        "BBDC-MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU2 "
                        "already has 1 live tokens\n",
                        "x"),
           "ERROR: user (not repeated: it looks like a token) already has 1 "
           "live tokens",
           "a user named like a token, as a log line: not repeated");
}

static void test_sqlstate(void)
{
    is_int(bbt_sql_classify("23505", "bbtoken_tokens_pkey", "dup"),
           BBT_SQL_ID_TAKEN, "a taken id: mint again");
    is_int(bbt_sql_classify("23514", "bbtoken_policy_fresh_id", "used"),
           BBT_SQL_ID_TAKEN, "an id used before: mint again");
    is_int(bbt_sql_classify("23505", "bbtoken_tokens_live_name", "dup"),
           BBT_SQL_NAME_TAKEN, "a live name taken");
    is_int(bbt_sql_classify("23514", "bbtoken_policy_max_expiry", "at most"),
           BBT_SQL_POLICY, "the policy speaks for itself");
    is_int(bbt_sql_classify("23514", "bbtoken_tokens_fixed", "fixed"),
           BBT_SQL_POLICY, "fixed columns speak for themselves");
    is_int(bbt_sql_classify("23514", "bbtoken_tokens_name", "check"),
           BBT_SQL_REFUSED, "another CHECK: refused input");
    is_int(bbt_sql_classify("22001", NULL, "too long"), BBT_SQL_REFUSED,
           "class 22: refused input");
    is_int(bbt_sql_classify("42501", NULL, "permission denied"),
           BBT_SQL_PRIVILEGE, "insufficient_privilege: a missing GRANT");
    is_int(bbt_sql_classify("BT001", NULL, "not permitted"),
           BBT_SQL_NOT_PERMITTED, "BT001: the API refuses the caller");
    is_int(bbt_sql_classify("BT002", NULL, "no such user: bob"),
           BBT_SQL_NO_SUCH_USER, "BT002: no such user");
    is_int(bbt_sql_classify("BT003", NULL, "no such token: 1"),
           BBT_SQL_NO_SUCH_TOKEN, "BT003: no such token");
    is_int(bbt_sql_classify("P0002", NULL, "no such user: bob"), BBT_SQL_FAULT,
           "P0002 (an old schema's code): a fault");
    is_int(bbt_sql_classify(NULL, NULL, NULL), BBT_SQL_FAULT,
           "no SQLSTATE (connection lost): a fault");
    is_int(bbt_sql_classify("57014", NULL, "canceling statement"),
           BBT_SQL_FAULT, "statement timeout: a fault");
    is_int(bbt_sql_classify("08006", NULL, "connection failure"), BBT_SQL_FAULT,
           "connection failure: a fault");
    is_int(bbt_sql_classify("42P01", NULL, "no such table"), BBT_SQL_FAULT,
           "undefined table: a fault");
    is_int(bbt_sql_classify("22P05", NULL, "character ... has no equivalent"),
           BBT_SQL_UNSTORABLE,
           "untranslatable_character: text the database cannot store");
    is_int(bbt_sql_classify("40P01", NULL, "deadlock detected"),
           BBT_SQL_CONFLICT, "a deadlock broken: run it again");
    is_int(bbt_sql_classify("40001", NULL, "could not serialize access"),
           BBT_SQL_CONFLICT, "a serialization failure: run it again");
    is_int(bbt_sql_classify("40002", NULL, "integrity constraint"),
           BBT_SQL_FAULT, "another rollback of class 40: a fault");
    is_int(bbt_sql_classify("23514", "bbtoken_policy_required_needs_max",
                            "new row violates"),
           BBT_SQL_REFUSED, "the policy table's own CHECK: refused input");
    is_int(bbt_sql_read_only("25006"), 1,
           "read_only_sql_transaction: a read-only database");
    is_int(bbt_sql_read_only("25001"), 0, "another of class 25: not that");
    is_int(bbt_sql_read_only("42501"), 0, "permission denied: not that");
    is_int(bbt_sql_read_only(NULL), 0, "no SQLSTATE: not that");
    is_int(bbt_sql_lock_given_up("55P03"), 1,
           "lock_not_available: a lock given up on");
    is_int(bbt_sql_lock_given_up("57014"), 0,
           "a statement cancelled: not that");
    is_int(bbt_sql_lock_given_up(NULL), 0, "no SQLSTATE: not that");
    is_int(bbt_sql_waited_out("55P03") && bbt_sql_waited_out("57014"), 1,
           "either limit waited out");
}

/* What people are told: never a constraint's name, never the row. */
static void test_sqlstate_messages(void)
{
    static const struct {
        const char *state, *constraint, *message, *want;
    } cases[] = {
        {"23514", "bbtoken_tokens_name",
         "new row for relation \"bbtoken_tokens\" violates check constraint "
         "\"bbtoken_tokens_name\"",
         "token name must not be empty, longer than 255 characters, begin or "
         "end with white space or contain control or invisible formatting "
         "characters"},
        {"23514", "bbtoken_policy_name",
         "token name must not contain control characters",
         "token name must not contain control characters"},
        {"23514", "bbtoken_policy_name",
         "token name must not contain invisible formatting characters",
         "token name must not contain invisible formatting characters"},
        {"23514", "bbtoken_tokens_combination",
         "new row for relation \"bbtoken_tokens\" violates check constraint "
         "\"bbtoken_tokens_combination\"",
         "invalid permissions: the repository permission must be at least the "
         "project permission"},
        {"23514", "bbtoken_tokens_expires_finite",
         "new row for relation \"bbtoken_tokens\" violates check constraint "
         "\"bbtoken_tokens_expires_finite\"",
         "the expiry must be a date before the year 100000"},
        {"23514", "bbtoken_tokens_fixed",
         "update of token 1 violates bbtoken_tokens_fixed: a revocation is for "
         "good",
         "a revocation is for good"},
        {"23514", "bbtoken_policy_max_expiry",
         "the token policy allows an expiry of at most 30 days",
         "the token policy allows an expiry of at most 30 days"},
        {"23505", "bbtoken_tokens_live_name",
         "duplicate key value violates unique constraint "
         "\"bbtoken_tokens_live_name\"",
         "a token with that name already exists"},
        {"23503", "bbtoken_tokens_user_id_fkey",
         "insert or update on table \"bbtoken_tokens\" violates foreign key "
         "constraint \"bbtoken_tokens_user_id_fkey\"",
         "the database refused the value: it breaks a rule of the schema"},
        {"22021", NULL, "invalid byte sequence for encoding \"UTF8\": 0xff",
         "invalid byte sequence for encoding \"UTF8\": 0xff"},
        {"22P05", NULL,
         "character with byte sequence 0xe6 0x97 0xa5 in encoding \"UTF8\" "
         "has no equivalent in encoding \"LATIN1\"",
         "a character of the text has no equivalent in the database's "
         "encoding"},
        {"BT001", NULL, "not permitted to manage the tokens of bob",
         "not permitted to manage the tokens of bob"},
        {"42501", NULL, "permission denied for function bbtoken_api_create",
         NULL},
        {"57014", NULL, "canceling statement due to statement timeout", NULL},
        {"40P01", NULL, "deadlock detected",
         "the database gave way to another change made at the same moment, "
         "and did nothing: try again"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = bbt_sql_message(cases[i].state, cases[i].constraint,
                                          cases[i].message);

        is_str(got, cases[i].want, "message for %s %s", cases[i].state,
               cases[i].constraint ? cases[i].constraint : "-");
        ok(!got || !strstr(got, "bbtoken_"), "  names no rule of the schema");
    }
}

int main(void)
{
    test_sqlstate();
    test_sql_line();
    test_sqlstate_messages();
    return done_testing();
}
