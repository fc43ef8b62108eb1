/*
 * The database session (db.h).  Every command but `db` first checks that
 * the database is at the schema version this program knows, and tells the
 * database who is acting (the session settings bbtoken.source and
 * bbtoken.actor) for the audit trail its triggers keep.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bbt_sessionsql.h"
#include "db.h"

/* libpq's own test for "this dbname is really a connection string". */
static int bbtoken_is_conninfo(const char *s)
{
    return strncmp(s, "postgresql://", 13) == 0 ||
           strncmp(s, "postgres://", 11) == 0 || strchr(s, '=') != NULL;
}

/* The most of a login name, and of the sudo user's, the actor holds; and
 * the actor's room: both, " (sudo from ", ")" and the NUL. */
#define BBTOKEN_ACTOR_NAME 128
#define BBTOKEN_ACTOR_SUDO 64
#define BBTOKEN_ACTOR_LEN (BBTOKEN_ACTOR_NAME + BBTOKEN_ACTOR_SUDO + 16)

/* s as it may be shown (bbt_input_shown: the actor goes to the database
 * as UTF-8, which refuses the whole session for one byte that is not),
 * cut to at most max bytes between characters, into w (max + 1 bytes).
 * Returns the length written. */
static size_t bbtoken_actor_part(char *w, const char *s, size_t max)
{
    /* Shown, a character of up to four bytes is one byte at least: the
     * first 4 * max bytes of s show as max bytes or more, and those are
     * the same as all of s would show as. */
    char raw[4 * BBTOKEN_ACTOR_NAME + 1], shown[sizeof(raw)];
    size_t n;

    snprintf(raw, sizeof(raw), "%.*s", (int)(4 * max), s);
    n = bbt_input_shown(raw, shown);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)shown[n] & 0xc0) == 0x80) {
            n--;
        }
    }
    memcpy(w, shown, n);
    w[n] = '\0';
    return n;
}

/* Who runs this, for the audit trail: the login name of the real user, and
 * under sudo the user who ran sudo.  Self-reported, as any client's claim
 * is; the audit also records the database role, which is not. */
static void bbtoken_actor(char buf[BBTOKEN_ACTOR_LEN])
{
    static const char from[] = " (sudo from ";
    struct passwd *pw = getpwuid(getuid());
    const char *sudo = getenv("SUDO_USER");
    char uid[32];
    size_t n;

    snprintf(uid, sizeof(uid), "uid %lu", (unsigned long)getuid());
    n = bbtoken_actor_part(buf, pw && pw->pw_name ? pw->pw_name : uid,
                           BBTOKEN_ACTOR_NAME);
    if (getuid() == 0 && sudo && *sudo) {
        memcpy(buf + n, from, sizeof(from) - 1);
        n += sizeof(from) - 1;
        n += bbtoken_actor_part(buf + n, sudo, BBTOKEN_ACTOR_SUDO);
        memcpy(buf + n, ")", 2);
    }
}

/* Whether the database has the schema's version table: a statement that
 * named it while it is missing would fail as a whole. */
#define BBTOKEN_SQL_NO_SCHEMA "pg_catalog.to_regclass('bbtoken_schema') IS NULL"

/* The version the schema records, once its table is known to be there. */
static int bbtoken_schema_recorded(bbtoken_ctx_t *ctx, int *version)
{
    PGresult *res = bbtoken_exec_once(
        ctx, "reading the schema version",
        "SELECT COALESCE(max(version), 0) FROM bbtoken_schema", 0, NULL);

    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    *version = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int bbtoken_schema_version(bbtoken_ctx_t *ctx, int *version)
{
    PGresult *res = bbtoken_exec_once(ctx, "reading the schema version",
                                      "SELECT " BBTOKEN_SQL_NO_SCHEMA, 0, NULL);
    int none;

    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    none = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (none) {
        *version = -1;
        return 0;
    }
    return bbtoken_schema_recorded(ctx, version);
}

/* Where the session's session_replication_role (srr, read by the
 * session's first statement) is not origin, set it (bbt_sessionsql.h): 0,
 * or BBTOKEN_EXIT_FAIL where the role may not, before anything is
 * written. */
static int bbtoken_session_origin(bbtoken_ctx_t *ctx, const char *srr)
{
    PGresult *res;
    int ok;

    if (strcmp(srr, "origin") == 0) {
        return 0;
    }
    res = PQexec(ctx->conn, BBT_SESSION_ORIGIN_SQL("false"));
    ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok && bbtoken_classify(res) != BBT_SQL_PRIVILEGE) {
        return bbtoken_db_fail(ctx, res, "setting session_replication_role");
    }
    PQclear(res);
    if (!ok) {
        return bbtoken_fail(
            "session_replication_role is %s (from PGOPTIONS, "
            "ALTER ROLE or ALTER DATABASE ... SET), " BBT_SESSION_SRR_REFUSED
            ": connect without that setting",
            srr);
    }
    return 0;
}

/* Tell the database who acts (its audit triggers read these), and check
 * that it has the schema this program speaks.  JIT off for the session: on
 * a big site the planner's estimates for the reports, the bulk revocations
 * and notify's notices pass jit_above_cost, and compiling a statement
 * costs more than its run ever wins back (README, The CLI). */
static int bbtoken_session(bbtoken_ctx_t *ctx)
{
    /* The columns after the settings of bbt_sessionsql.h. */
    enum {
        COL_NONE = BBT_SESSION_SETTINGS_COLS,
        COL_JIT,
        COL_ISOLATION,
        COL_SUPER,
        COL_SCS,
        COL_SRR
    };
    char actor[BBTOKEN_ACTOR_LEN];
    const char *params[1] = {actor};
    PGresult *res;
    int version, none, rc;

    bbtoken_actor(actor);
    /* One round trip: the settings, and whether there is a schema.  Every
     * setting the schema's triggers read is the CLI's own, or none (''),
     * whatever PGOPTIONS or an ALTER ROLE or DATABASE ... SET gave the
     * session (bbt_sessionsql.h).  READ COMMITTED whatever the database's
     * default: the lookup's triggers order a change of a user or a grant
     * and a token created meanwhile only there, each statement reading
     * what was committed when it began (README, The schema); a
     * transaction that wants a snapshot (db check, notify) asks for it in
     * its BEGIN.  standard_conforming_strings on whatever the database
     * sets (its owner may): off, the schema's names' pattern 'bbtoken\_%'
     * reads _ as any character, and a superuser's db upgrade gave the
     * tables' owner another's table named like ours. */
    res = bbtoken_exec_once(
        ctx, "starting the session",
        "SELECT " BBT_SESSION_SETTINGS_SQL(
            "'cli'", "$1", "''",
            "false") ", " BBTOKEN_SQL_NO_SCHEMA
                     ", pg_catalog.set_config('jit', 'off', false),"
                     " pg_catalog.set_config('default_transaction_isolation',"
                     " 'read committed', false),"
                     " EXISTS (SELECT FROM (" BBTOKEN_POWER_ROLES_SQL
                     " UNION ALL " BBTOKEN_READ_ROLES_SQL ") p"
                     " WHERE pg_catalog.pg_has_role(session_user, p.oid, "
                     "'MEMBER')),"
                     " pg_catalog.set_config('standard_conforming_strings', "
                     "'on', false),"
                     " " BBT_SESSION_SRR_SQL,
        1, params);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    none = PQgetvalue(res, 0, COL_NONE)[0] == 't';
    ctx->super_session = PQgetvalue(res, 0, COL_SUPER)[0] == 't';
    rc = bbtoken_session_origin(ctx, PQgetvalue(res, 0, COL_SRR));
    PQclear(res);
    if (rc != 0) {
        return rc;
    }
    /* Before anything of the schema's is read (every name this statement
     * used is qualified): a superuser's session would run the code of
     * whoever may reach the schema. */
    if (bbtoken_owner_guard(ctx) != 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (ctx->any_schema) {
        return 0;
    }
    if (none) {
        return bbtoken_fail("this database has no mod_bbtoken schema "
                            "(bbtoken db upgrade --init creates it)");
    }
    if (bbtoken_schema_recorded(ctx, &version) != 0) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (version < BBTOKEN_SCHEMA_LATEST) {
        return bbtoken_fail("the database schema is version %d, this bbtoken "
                            "needs %d: run bbtoken db upgrade",
                            version, BBTOKEN_SCHEMA_LATEST);
    }
    if (version > BBTOKEN_SCHEMA_LATEST) {
        return bbtoken_fail("the database schema is version %d, newer than "
                            "this bbtoken knows (%d): use a newer bbtoken",
                            version, BBTOKEN_SCHEMA_LATEST);
    }
    return 0;
}

/* What stands in libpq's message for a value --db gave. */
#define BBTOKEN_DB_VALUE "(a value from --db)"
/* The server cuts a user or database name at NAMEDATALEN - 1 bytes before
 * it quotes it in a FATAL. */
#define BBTOKEN_DB_NAMELEN 63
/* A value this short is masked only where it stands alone (not inside a
 * word): masked everywhere, a port "1" or a dbname "a" would leave none of
 * the message's own words readable. */
#define BBTOKEN_DB_SHORT 4
/* A part of a value (a word of it, what follows an "=" in it) is masked
 * only from this length, and then wherever it stands: a shorter one is
 * most often the setting's own word ("-c", "on", "1"), which masked would
 * hide the message's own words, and gives away three characters at
 * most. */
#define BBTOKEN_DB_PART BBTOKEN_DB_SHORT

typedef struct {
    const char *s;
    size_t len;
} bbtoken_piece_t;

/* The pieces, and in buf the words of the values as the server reads
 * them, without their escaping backslashes, which some pieces point into:
 * used of its size bytes (the values' lengths, which their words never
 * exceed). */
typedef struct {
    bbtoken_piece_t *p;
    size_t n, cap;
    char *buf;
    size_t used, size;
} bbtoken_pieces_t;

static int bbtoken_db_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static void bbtoken_piece_add(bbtoken_pieces_t *ps, const char *s, size_t len,
                              size_t min)
{
    while (len && bbtoken_db_space(*s)) {
        s++;
        len--;
    }
    while (len && bbtoken_db_space(s[len - 1])) {
        len--;
    }
    if (len && len >= min && ps->n < ps->cap) {
        ps->p[ps->n].s = s;
        ps->p[ps->n++].len = len;
    }
}

/* What follows each "=" of s[0..len): the server quotes a setting's value
 * from options (-cwork_mem=64MBpassword=S3CRET is quoted from 64MB on). */
static void bbtoken_tails_add(bbtoken_pieces_t *ps, const char *s, size_t len)
{
    const char *eq;

    while (len && (eq = memchr(s, '=', len)) != NULL) {
        len -= (size_t)(eq + 1 - s);
        s = eq + 1;
        bbtoken_piece_add(ps, s, len, BBTOKEN_DB_PART);
    }
}

/* A word of options as the server reads a setting in it: it quotes what
 * follows a switch (-c, -S...) or -- apart ("-c S3CRETpw requires a
 * value", of -cS3CRETpw), and the setting's name, up to its first "="
 * ("unrecognized configuration parameter" of -cHunter2secret=on). */
static void bbtoken_setting_add(bbtoken_pieces_t *ps, const char *s, size_t len)
{
    const char *eq;

    if (len > 2 && s[0] == '-') {
        s += 2;
        len -= 2;
        bbtoken_piece_add(ps, s, len, BBTOKEN_DB_PART);
    }
    if ((eq = memchr(s, '=', len)) != NULL) {
        bbtoken_piece_add(ps, s, (size_t)(eq - s), BBTOKEN_DB_PART);
    }
}

/* The next word of *v as the server splits options into words
 * (pg_split_opts): up to a space that no backslash escapes, each backslash
 * taken for the character after it ("-c work_mem=S3CRET\ pw" is one word,
 * quoted as "S3CRET pw").  It is written into ps->buf, where it is left
 * for the pieces to point into; NULL at the end of *v. */
static const char *bbtoken_word_next(bbtoken_pieces_t *ps, const char **v,
                                     size_t *len)
{
    const char *s = *v;
    char *out = ps->buf + ps->used;
    size_t n = 0;
    int escaped = 0;

    for (; *s && bbtoken_db_space(*s); s++) {
    }
    if (!*s) {
        return NULL;
    }
    for (; *s && (escaped || !bbtoken_db_space(*s)); s++) {
        if (!escaped && *s == '\\') {
            escaped = 1;
            continue;
        }
        escaped = 0;
        if (ps->used + n < ps->size) {
            out[n++] = *s;
        }
    }
    ps->used += n;
    *v = s;
    *len = n;
    return out;
}

/* A value as libpq or the server may quote it: whole, each item of a list
 * (host=a,b names a and b one by one), each word as the server reads it,
 * what follows each "=" and the parts of a setting (options holds a
 * server's command line, each of its settings quoted apart), and the name
 * the server cut: at most 5 + 3 * strlen(v) pieces (one word of "="
 * alone), and at most strlen(v) bytes of ps->buf. */
static void bbtoken_value_add(bbtoken_pieces_t *ps, const char *v)
{
    size_t len = strlen(v), cut = BBTOKEN_DB_NAMELEN, w;
    const char *item = v, *comma, *word, *rest = v;

    bbtoken_piece_add(ps, v, len, 1);
    while ((comma = strchr(item, ',')) != NULL) {
        bbtoken_piece_add(ps, item, (size_t)(comma - item), 1);
        item = comma + 1;
    }
    if (item != v) {
        bbtoken_piece_add(ps, item, strlen(item), 1);
    }
    bbtoken_tails_add(ps, v, len);
    while ((word = bbtoken_word_next(ps, &rest, &w)) != NULL) {
        bbtoken_piece_add(ps, word, w, BBTOKEN_DB_PART);
        bbtoken_tails_add(ps, word, w);
        bbtoken_setting_add(ps, word, w);
    }
    if (len > cut) {
        bbtoken_piece_add(ps, v, cut, 1);
    }
}

static int bbtoken_piece_longer(const void *a, const void *b)
{
    size_t x = ((const bbtoken_piece_t *)a)->len;
    size_t y = ((const bbtoken_piece_t *)b)->len;

    return x < y ? 1 : x > y ? -1 : 0;
}

/* An ASCII letter or digit.  A byte outside ASCII is a boundary: a
 * translated message quotes with marks such as German's. */
static int bbtoken_wordy(const char *s, size_t i)
{
    unsigned char c = (unsigned char)s[i];

    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Whether msg holds piece p at its start, in any case, and a "-" of p as
 * "-" or "_" (the server quotes a setting's name from options with its
 * hyphens as underscores). */
static int bbtoken_piece_same(const char *msg, const bbtoken_piece_t *p)
{
    size_t i;

    for (i = 0; i < p->len; i++) {
        unsigned char m = (unsigned char)msg[i], c = (unsigned char)p->s[i];

        /* ASCII letters in any case: a name may be folded. */
        m = m >= 'A' && m <= 'Z' ? m | 0x20 : m;
        c = c >= 'A' && c <= 'Z' ? c | 0x20 : c;
        if (m != c && !(c == '-' && m == '_')) {
            return 0;
        }
    }
    return 1;
}

/* Whether the piece stands at msg[i], and a short one only where it is
 * not part of a longer word. */
static int bbtoken_piece_at(const char *msg, size_t i, size_t mlen,
                            const bbtoken_piece_t *p)
{
    if (p->len > mlen - i || !bbtoken_piece_same(msg + i, p)) {
        return 0;
    }
    if (p->len >= BBTOKEN_DB_SHORT) {
        return 1;
    }
    if (i > 0 && bbtoken_wordy(p->s, 0) && bbtoken_wordy(msg, i - 1)) {
        return 0;
    }
    return !(i + p->len < mlen && bbtoken_wordy(p->s, p->len - 1) &&
             bbtoken_wordy(msg, i + p->len));
}

/* libpq's message with every value --db gave replaced by a marker: its
 * messages quote the values they could not use, and a password with an
 * unencoded "/" or "@" in a URI, or a missing space in a connection
 * string, is parsed into the port, the host or the database name.  Which
 * value holds a piece of the password cannot be known, so all are
 * masked, the longest first (a value holding another is masked whole),
 * in one pass (a marker is not searched again).  A --db that is no
 * connection string to libpq is the database name, whatever it looks
 * like (a URI mistyped: POSTGRESQL://, postgresql:/, a space before it),
 * and the server quotes it: it is masked as a value.  NULL if a
 * connection string does not parse or memory runs out: then nothing of
 * the message is shown. */
static char *bbtoken_masked(const char *db, const char *msg)
{
    PQconninfoOption *opts = NULL, *o;
    bbtoken_pieces_t ps = {NULL, 0, 0, NULL, 0, 0};
    size_t n = 5 + 3 * strlen(db), mlen = strlen(msg), size = strlen(db);
    size_t mk = strlen(BBTOKEN_DB_VALUE), i, j;
    char *out = NULL, *w;

    if (bbtoken_is_conninfo(db) && !(opts = PQconninfoParse(db, NULL))) {
        return NULL;
    }
    for (o = opts; o && o->keyword; o++) {
        n += o->val ? 5 + 3 * strlen(o->val) : 0;
        size += o->val ? strlen(o->val) : 0;
    }
    ps.cap = n;
    ps.size = size;
    ps.p = calloc(n, sizeof(*ps.p));
    ps.buf = malloc(size + 1);
    if (!ps.p || !ps.buf || mlen > ((size_t)-1 - 1) / mk) {
        goto done;
    }
    if (opts) {
        bbtoken_piece_add(&ps, db, strlen(db), 1);
    } else {
        bbtoken_value_add(&ps, db);
    }
    for (o = opts; o && o->keyword; o++) {
        if (o->val) {
            bbtoken_value_add(&ps, o->val);
        }
    }
    qsort(ps.p, ps.n, sizeof(*ps.p), bbtoken_piece_longer);
    if (!(out = w = malloc(mlen * mk + 1))) {
        goto done;
    }
    for (i = 0; i < mlen;) {
        for (j = 0; j < ps.n && !bbtoken_piece_at(msg, i, mlen, &ps.p[j]);
             j++) {
        }
        if (j < ps.n) {
            memcpy(w, BBTOKEN_DB_VALUE, mk);
            w += mk;
            i += ps.p[j].len;
        } else {
            *w++ = msg[i++];
        }
    }
    *w = '\0';
done:
    free(ps.p);
    free(ps.buf);
    if (opts) {
        PQconninfoFree(opts);
    }
    return out;
}

int bbtoken_connect(bbtoken_ctx_t *ctx)
{
    /* dbname with expand_dbname takes a conninfo, a URI or a bare database
     * name; a NULL value is skipped, leaving libpq's environment. */
    const char *const keys[] = {"dbname", "fallback_application_name",
                                "client_encoding", NULL};
    /* Labels travel as UTF-8 whatever the terminal, PGCLIENTENCODING or
     * --db say (JSON needs it): set in the startup packet, a later key
     * than dbname's, it overrides theirs without a round trip of its own. */
    const char *const vals[] = {ctx->db, "bbtoken", "UTF8", NULL};
    char *masked;
    int rc;

    if (ctx->db && bbtoken_is_conninfo(ctx->db)) {
        /* libpq's parse errors quote the text around the fault, which may
         * be a password: check first and say less. */
        char *err = NULL;
        PQconninfoOption *opts = PQconninfoParse(ctx->db, &err);

        PQfreemem(err);
        if (!opts) {
            return bbtoken_fail("--db: not a valid connection string (not "
                                "quoted: it may hold a password)");
        }
        rc = bbtoken_db_unnamed(ctx->db, opts);
        PQconninfoFree(opts);
        if (rc != 0) {
            return rc;
        }
    }
    ctx->conn = PQconnectdbParams(keys, vals, 1);
    if (!ctx->conn) {
        return bbtoken_fail("out of memory");
    }
    if (PQstatus(ctx->conn) == CONNECTION_OK) {
        return bbtoken_session(ctx);
    }
    if (!ctx->db) {
        /* libpq's environment: the administrator's own settings, no
         * command line's. */
        return bbtoken_fail("cannot connect to the database: %s",
                            PQerrorMessage(ctx->conn));
    }
    if (!(masked = bbtoken_masked(ctx->db, PQerrorMessage(ctx->conn)))) {
        return bbtoken_fail("cannot connect to the database (libpq's "
                            "message not shown: it may quote --db)");
    }
    rc = bbtoken_fail("cannot connect to the database: %s", masked);
    free(masked);
    return rc;
}

int bbtoken_analyze(bbtoken_ctx_t *ctx, const char *tables)
{
    /* Stale: no rows in pages (the state above), or more rows changed
     * since the last ANALYZE than autovacuum lets pass.  A table another
     * holds a lock on that ANALYZE's conflicts with is skipped, not waited
     * for, and without the warning: most often that is autovacuum or
     * another command mending the same statistics. */
    static const char fmt[] =
        "DO $bbtoken$ DECLARE t regclass; BEGIN"
        " IF pg_is_in_recovery() THEN RETURN; END IF;"
        " PERFORM set_config('client_min_messages', 'error', true);"
        " FOR t IN SELECT c.oid FROM pg_class c"
        " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
        " WHERE c.oid IN (SELECT to_regclass(n)"
        " FROM unnest(string_to_array('%s', ',')) n)"
        " AND pg_has_role(c.relowner, 'USAGE')"
        " AND ((c.reltuples = 0 AND c.relpages > 0)"
        " OR s.n_mod_since_analyze >"
        " current_setting('autovacuum_analyze_threshold')::float8"
        " + current_setting('autovacuum_analyze_scale_factor')::float8"
        " * greatest(c.reltuples, 0))"
        " ORDER BY c.relname"
        " LOOP EXECUTE format('ANALYZE (SKIP_LOCKED) %%s', t); END LOOP;"
        " END $bbtoken$";
    char sql[1024];
    PGresult *res;

    if ((size_t)snprintf(sql, sizeof(sql), fmt, tables) >= sizeof(sql)) {
        return bbtoken_fail("internal error: too many tables to analyze");
    }
    if (!(res = bbtoken_exec(ctx, "updating the planner's statistics", sql, 0,
                             NULL))) {
        return BBTOKEN_EXIT_FAIL;
    }
    PQclear(res);
    return 0;
}

bbt_sql_class_t bbtoken_classify(const PGresult *res)
{
    return bbt_sql_classify(PQresultErrorField(res, PG_DIAG_SQLSTATE),
                            PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME),
                            PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
}

/* Only the server's primary message is shown, and for a refusal only what
 * bbt_sql_message makes of it: DETAIL may repeat the failing row (a token
 * row holds the salt and the hash), and a rule's name is not for people. */
int bbtoken_db_fail(bbtoken_ctx_t *ctx, PGresult *res, const char *what)
{
    const char *msg =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state, *constraint, *text, *enc;
    int rc;

    if (!msg) {
        /* No server message: libpq's own (connection lost, out of
         * memory), which carries no row data.  A transaction whose
         * COMMIT was never sent was not committed. */
        if (ctx->begun && PQstatus(ctx->conn) == CONNECTION_BAD) {
            rc = bbtoken_fail("%s: not done: the connection was lost before "
                              "its transaction's COMMIT, so nothing was "
                              "changed (safe to run again): %s",
                              what, PQerrorMessage(ctx->conn));
        } else {
            rc = bbtoken_fail("%s: %s", what, PQerrorMessage(ctx->conn));
        }
        PQclear(res);
        return rc;
    }
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    if (ctx->in_tx && bbtoken_classify(res) == BBT_SQL_CONFLICT) {
        /* Not yet a failure: bbtoken_tx may run the transaction again. */
        snprintf(ctx->aborted, sizeof(ctx->aborted), "%s", state);
        PQclear(res);
        return BBTOKEN_EXIT_FAIL;
    }
    switch (bbtoken_classify(res)) {
    case BBT_SQL_POLICY:
        /* The schema's own rules: their messages are written for people. */
        rc = bbtoken_fail("%s", bbt_sql_message(state, constraint, msg));
        break;
    case BBT_SQL_NAME_TAKEN:
        rc = bbtoken_fail("%s: the owner already has a token with that name",
                          what);
        break;
    case BBT_SQL_UNSTORABLE:
        /* The server's message names bytes; the database is the reason. */
        enc = PQparameterStatus(ctx->conn, "server_encoding");
        rc = bbtoken_fail("%s: %s (%s): a database in UTF8 holds every "
                          "character",
                          what, bbt_sql_message(state, constraint, msg),
                          enc ? enc : "unknown");
        break;
    case BBT_SQL_FAULT:
    case BBT_SQL_PRIVILEGE:
        /* For the administrator: what the server said went wrong. */
        rc = bbtoken_fail("%s: %s", what, msg);
        break;
    default:
        text = bbt_sql_message(state, constraint, msg);
        rc = bbtoken_fail("%s: %s%s", what,
                          state && strncmp(state, "23", 2) == 0
                              ? "the database refused: "
                              : "",
                          text);
        break;
    }
    PQclear(res);
    return rc;
}

PGresult *bbtoken_exec_once(bbtoken_ctx_t *ctx, const char *what,
                            const char *sql, int n, const char *const *params)
{
    PGresult *res =
        PQexecParams(ctx->conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        bbtoken_db_fail(ctx, res, what);
        return NULL;
    }
    return res;
}

void bbtoken_exec_quiet(bbtoken_ctx_t *ctx, const char *sql)
{
    PQclear(PQexec(ctx->conn, sql));
}

const char *bbtoken_get(const PGresult *res, int row, int col, const char *null)
{
    return PQgetisnull(res, row, col) ? null : PQgetvalue(res, row, col);
}
