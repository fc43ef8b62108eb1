/*
 * Users and their grants: user add, user set, user show, user disable,
 * user enable, grant, ungrant.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bbt_kind.h"
#include "bbt_tokshape.h"
#include "db.h"
#include "lookup.h"
#include "mail.h"
#include "tx.h"

/* ---- user ------------------------------------------------------------- */

/* The user named $1, in any case. */
#define BBTOKEN_NAME_IS BBT_SQL_NAME_ANY_CASE("name", "$1")

/* user add changed nothing: say which user is in the way, the same name in
 * another case, or another name with the same slug (a@corp and A_corp). */
static int bbtoken_user_taken(bbtoken_ctx_t *ctx, const char *name)
{
    char slug[BBT_USER_MAX + 1];
    const char *params[2] = {name, slug};
    PGresult *res;
    int rc;

    bbt_input_user_slug(name, strlen(name), slug);
    res = bbtoken_exec(ctx, "adding the user",
                       "SELECT name, " BBTOKEN_NAME_IS
                       " FROM bbtoken_users WHERE " BBTOKEN_NAME_IS
                       " OR slug = $2",
                       2, params);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (PQntuples(res) == 0 || PQgetvalue(res, 0, 1)[0] == 't') {
        rc = bbtoken_fail("user already exists: %s",
                          bbtoken_user_repeatable(name));
    } else if (bbtoken_user_like(name)) {
        /* The slug is the name in lower case: not repeated either. */
        rc = bbtoken_fail("user %s has the slug of the name given (%s) "
                          "already: Bitbucket's clients could not tell the "
                          "two apart",
                          bbtoken_user_repeatable(PQgetvalue(res, 0, 0)),
                          BBT_TOKSHAPE_HIDDEN);
    } else {
        rc = bbtoken_fail("user %s has the slug %s already: Bitbucket's "
                          "clients could not tell %s from them",
                          bbtoken_user_repeatable(PQgetvalue(res, 0, 0)), slug,
                          name);
    }
    PQclear(res);
    return rc;
}

/* The address is kept (the REST API shows it), but notify, which writes it
 * into a mail header as it is, cannot send to it: said now, not at the
 * first notice that goes unmailed. */
static void bbtoken_email_mailable(const char *user, const char *email)
{
    /* A name that looks like a token is not repeated. */
    const char *who = bbtoken_user_like(user) ? "this user" : user;

    if (email && !bbtoken_mail_addr_ok(email)) {
        bbtoken_warn("warning: %s's e-mail address cannot go into a mail "
                     "header as it is (a plain ASCII address: no quotes, "
                     "brackets or letters outside ASCII): notify will not "
                     "mail %s",
                     who, who);
    }
}

int bbtoken_cmd_user_add(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                         const bbtoken_args_t *a)
{
    const char *params[4] = {a->operands[0], a->admin ? "true" : "false",
                             a->email, a->display_name};
    long rows;
    int rc;

    (void)cmd;
    if ((rc = bbtoken_check_user(params[0]))) {
        return rc;
    }
    /* A user's name is in the access log of each of its requests (its
     * token's too), in its clone URLs, in the audit trail and the REST
     * API's answers: a token pasted for it would be in all of them.  A
     * user so named before is found and served as any other.  The rule
     * of a token's name: one the server's messages quote whole. */
    if (bbt_token_in_name(params[0], strlen(params[0]))) {
        return bbtoken_fail("invalid user name: it looks like a token (not "
                            "repeated): a user's name is logged with each "
                            "of its requests and kept in the audit trail");
    }
    /* Basic with this name presents a project's or a repository's token:
     * a person of that name would be mistaken for one in the logs. */
    if (strcasecmp(params[0], BBT_KIND_BASIC_USER) == 0) {
        return bbtoken_fail("user name %s is reserved: project and "
                            "repository tokens are presented with it",
                            params[0]);
    }
    if ((a->email && (rc = bbtoken_check_email(a->email))) ||
        (a->display_name &&
         (rc = bbtoken_check_display_name(a->display_name))) ||
        (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    /* No conflict target: names are unique in any case and by slug. */
    rc = bbtoken_exec_audited(ctx, "adding the user",
                              "INSERT INTO bbtoken_users"
                              " (name, is_admin, email, display_name)"
                              " VALUES ($1, $2::boolean, $3, $4)"
                              " ON CONFLICT DO NOTHING",
                              4, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_user_taken(ctx, params[0]);
    }
    if (rc == 0) {
        bbtoken_email_mailable(params[0], a->email);
    }
    return rc;
}

/* user set: each detail given is set, each --no- one cleared, the others
 * kept.  The admin flag is here too: taking it away is how a global admin
 * is demoted, and the triggers make every httpd refuse what it gave at
 * once, as for a disabled user. */
int bbtoken_cmd_user_details(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                             const bbtoken_args_t *a)
{
    const char *admin = a->admin ? "true" : a->no_admin ? "false" : NULL;
    const char *params[6] = {a->operands[0],
                             a->email,
                             a->email || a->no_email ? "true" : "false",
                             a->display_name,
                             a->display_name || a->no_display_name ? "true"
                                                                   : "false",
                             admin};
    long rows;
    int rc;

    if (!a->email && !a->no_email && !a->display_name && !a->no_display_name &&
        !a->admin && !a->no_admin) {
        return bbtoken_usage_error(cmd->usage,
                                   "user set needs --email, --no-email, "
                                   "--display-name, --no-display-name, "
                                   "--admin or --no-admin");
    }
    if ((rc = bbtoken_check_user(params[0])) ||
        (a->email && (rc = bbtoken_check_email(a->email))) ||
        (a->display_name &&
         (rc = bbtoken_check_display_name(a->display_name))) ||
        (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    rc = bbtoken_exec_audited(
        ctx, "changing the user",
        "UPDATE bbtoken_users SET"
        " email = CASE WHEN $3::boolean THEN $2 ELSE email END,"
        " display_name = CASE WHEN $5::boolean THEN $4 ELSE display_name END,"
        " is_admin = coalesce($6::boolean, is_admin)"
        " WHERE " BBTOKEN_NAME_IS,
        6, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_fail("no such user: %s",
                          bbtoken_user_repeatable(params[0]));
    }
    if (rc == 0) {
        bbtoken_email_mailable(params[0], a->email);
    }
    return rc;
}

int bbtoken_cmd_user_show(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                          const bbtoken_args_t *a)
{
    const char *params[1] = {a->operands[0]};
    PGresult *res;
    int rc;

    (void)cmd;
    if ((rc = bbtoken_check_user(params[0])) || (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    res = bbtoken_exec(ctx, "reading the user",
                       "SELECT name, slug, active, is_admin, email,"
                       " display_name FROM bbtoken_users"
                       " WHERE " BBTOKEN_NAME_IS,
                       1, params);
    if (!res) {
        return BBTOKEN_EXIT_FAIL;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return bbtoken_fail("no such user: %s",
                            bbtoken_user_repeatable(params[0]));
    }
    if (a->json) {
        /* Bitbucket's names for what it has; "admin" is ours. */
        rc = bbtoken_json_out(
            json_pack("{s:s, s:s, s:b, s:b, s:s*, s:s*}", "name",
                      PQgetvalue(res, 0, 0), "slug", PQgetvalue(res, 0, 1),
                      "active", PQgetvalue(res, 0, 2)[0] == 't', "admin",
                      PQgetvalue(res, 0, 3)[0] == 't', "emailAddress",
                      bbtoken_get(res, 0, 4, NULL), "displayName",
                      bbtoken_get(res, 0, 5, NULL)));
    } else {
        printf("name: %s\nslug: %s\nactive: %s\nadmin: %s\n"
               "email: %s\ndisplay-name: %s\n",
               PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
               PQgetvalue(res, 0, 2)[0] == 't' ? "yes" : "no",
               PQgetvalue(res, 0, 3)[0] == 't' ? "yes" : "no",
               bbtoken_get(res, 0, 4, "none"), bbtoken_get(res, 0, 5, "none"));
        rc = 0;
    }
    PQclear(res);
    return rc;
}

/* user disable and user enable. */
int bbtoken_cmd_user_set(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                         const bbtoken_args_t *a)
{
    const char *params[2] = {
        a->operands[0], strcmp(cmd->name, "enable") == 0 ? "true" : "false"};
    long rows;
    int rc;

    if ((rc = bbtoken_check_user(params[0])) || (rc = bbtoken_connect(ctx))) {
        return rc;
    }
    rc = bbtoken_exec_audited(ctx, "changing the user",
                              "UPDATE bbtoken_users SET active = $2::boolean"
                              " WHERE " BBTOKEN_NAME_IS,
                              2, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_fail("no such user: %s",
                          bbtoken_user_repeatable(params[0]));
    }
    return rc;
}

/* ---- grant, ungrant --------------------------------------------------- */

/* The grantee's row ($1, its id), FOR SHARE, before the grant's: the
 * triggers that rewrite the user's lookup rows take it so after the grant
 * changes, and a deletion of the user, which holds the user's row,
 * deletes its grants (sql/migrations/0035_lookup_order.sql).  Taken in
 * this order, neither holds what the other waits for; a user deleted
 * meanwhile leaves no row. */
#define BBTOKEN_SQL_GRANTEE                                                    \
    "WITH u AS (SELECT id FROM bbtoken_users WHERE id = $1 FOR SHARE) "

/* A grant on a personal project ~slug ($2) takes the row of user slug
 * (bbtoken_tokens_personal: the project keeps a user, which a rename or a
 * deletion of the user, a change of its key, would end) before the
 * grantee's, as a rename or a deletion of that user holds its row, then
 * takes its grantees' (t/76-lock-circle-personal).  FOR KEY SHARE, as
 * that trigger takes it for a grant: what is held while the grantee's
 * row is waited for conflicts with no rotation of the user's tokens
 * (FOR NO KEY UPDATE), only with a rename or a deletion of the user and,
 * on PostgreSQL 15, with any other update of its row (a disable: each
 * is a key update there, as migration 35 notes).  The subquery on o gates the
 * scan of u, so o's row is locked first; MATERIALIZED keeps each lock on its
 * own scan. */
#define BBTOKEN_SQL_GRANT_ROWS                                                 \
    "WITH o AS MATERIALIZED (SELECT 1 FROM bbtoken_users"                      \
    " WHERE $2 LIKE '~%' AND slug = substr($2, 2) FOR KEY SHARE),"             \
    " u AS MATERIALIZED (SELECT id FROM bbtoken_users"                         \
    " WHERE id = $1 AND (SELECT count(*) FROM o) >= 0 FOR SHARE) "
#define BBTOKEN_SQL_GRANT_REPO                                                 \
    BBTOKEN_SQL_GRANT_ROWS                                                     \
    "INSERT INTO bbtoken_repo_grants (user_id, project_key, permission,"       \
    " repo_slug) SELECT id, $2, $3, $4 FROM u"                                 \
    " ON CONFLICT (user_id, project_key, repo_slug) DO UPDATE"                 \
    " SET permission = EXCLUDED.permission"
#define BBTOKEN_SQL_GRANT_PROJECT                                              \
    BBTOKEN_SQL_GRANT_ROWS                                                     \
    "INSERT INTO bbtoken_project_grants (user_id, project_key, permission)"    \
    " SELECT id, $2, $3 FROM u"                                                \
    " ON CONFLICT (user_id, project_key) DO UPDATE"                            \
    " SET permission = EXCLUDED.permission"

int bbtoken_cmd_grant(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                      const bbtoken_args_t *a)
{
    char *const *arg = a->operands;
    bbtoken_target_t t;
    bbtoken_user_t u;
    bbt_perm_t perm;
    const char *params[4];
    long rows;
    int rc;

    (void)cmd;
    if (bbt_perm_parse_grant(arg[1], &perm) != 0) {
        return bbtoken_fail("unknown permission %s: expected " BBT_GRANT_NAMES,
                            bbtoken_repeatable(arg[1]));
    }
    if ((rc = bbtoken_parse_target(arg[2], &t))) {
        return rc;
    }
    /* A project grant on a repository (or the reverse) has no meaning in
     * the schema; say so rather than guess which was intended. */
    if (perm.scope == BBT_SCOPE_PROJECT && t.slug) {
        return bbtoken_fail("%s is a project permission: TARGET must be a "
                            "project KEY, not %s",
                            arg[1], bbtoken_repeatable(arg[2]));
    }
    if (perm.scope == BBT_SCOPE_REPO && !t.slug) {
        return bbtoken_fail("%s is a repository permission: TARGET must be "
                            "KEY/slug, not %s",
                            arg[1], bbtoken_repeatable(arg[2]));
    }
    if ((rc = bbtoken_connect_user(ctx, arg[0], &u))) {
        return rc;
    }
    params[0] = u.id;
    params[1] = t.key;
    params[2] = bbt_perm_name(perm.scope, perm.level);
    params[3] = t.slug;
    rc = bbtoken_exec_audited(ctx, "granting",
                              t.slug ? BBTOKEN_SQL_GRANT_REPO
                                     : BBTOKEN_SQL_GRANT_PROJECT,
                              t.slug ? 4 : 3, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_fail("no such user: %s", bbtoken_repeatable(u.name));
    }
    return rc;
}

int bbtoken_cmd_ungrant(bbtoken_ctx_t *ctx, const bbtoken_cmd_t *cmd,
                        const bbtoken_args_t *a)
{
    bbtoken_target_t t;
    bbtoken_user_t u;
    const char *params[3];
    long rows;
    int rc;

    (void)cmd;
    if ((rc = bbtoken_parse_target(a->operands[1], &t)) ||
        (rc = bbtoken_connect_user(ctx, a->operands[0], &u))) {
        return rc;
    }
    params[0] = u.id;
    params[1] = t.key;
    params[2] = t.slug;
    rc = bbtoken_exec_audited(
        ctx, "removing the grant",
        t.slug ? BBTOKEN_SQL_GRANTEE "DELETE FROM bbtoken_repo_grants"
                                     " WHERE user_id = (SELECT id FROM u)"
                                     " AND project_key = $2 AND repo_slug = $3"
               : BBTOKEN_SQL_GRANTEE "DELETE FROM bbtoken_project_grants"
                                     " WHERE user_id = (SELECT id FROM u)"
                                     " AND project_key = $2",
        t.slug ? 3 : 2, params, &rows);
    if (rc == 0 && rows == 0) {
        rc = bbtoken_fail("%s has no grant on %s%s%s",
                          bbtoken_repeatable(u.name), t.key, t.slug ? "/" : "",
                          t.slug ? t.slug : "");
    }
    return rc;
}
