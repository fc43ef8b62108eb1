/*
 * notify's statement of the notices due (notify.h), the cursors the run
 * reads it through: by owner, for the messages (notify_owner.c), and by
 * notice, to record them as told (notify_record.c); and whether a row's
 * owner can be mailed.
 */
#include "mail.h"
#include "notify.h"
#include "stream.h"

/* A copy that counts (BBTOKEN_COPY_COUNTS) for a row of the notices due
 * (n). */
#define BBTOKEN_NOTE_COPY_COUNTS BBTOKEN_COPY_COUNTS("n.kind", "n.at")
/* ... and for a live token's (l) warning: its first copy that counts starts
 * the week before the revocation (notify_unused.c), so an admin whose copy
 * goes out late is given that date. */
#define BBTOKEN_UNUSED_COPY_COUNTS BBTOKEN_COPY_COUNTS("'unused'", "l.idle")
/* ... and a live token's warning told. */
#define BBTOKEN_UNUSED_TOLD_FROM BBTOKEN_UNUSED_FROM("l.idle")

/* Every notice due, one row each, by owner.  Expiry: the stage a token is
 * in now, unless it was created inside it (a 20-day token gets no 30-day
 * notice).  Unused: the warning, once per idle spell, unless the token
 * expires before it would be revoked (at, the date the warning gives: a
 * week after its first copy, or from now).  Revoked: the revocation's most
 * telling audit event (a reason over a plain 'revoked'; of 'revoked' and
 * 'rotated' the later, so a rotation's old token is told as rotated, and its
 * new one, revoked later, as revoked), unless the owner revoked or rotated it
 * over HTTP themself: the record's actor is its user_name, both names as they
 * were then, which a rename since does not change.  A project's or a
 * repository's token whose project has no active admin to tell gets one row
 * without a user, grouped by holder: left out, its notices would never be
 * settled, and revoke-unused-after, which waits for a recorded warning, would
 * never revoke it.  The policy is read as one row the planner can count
 * on: bbtoken_policy has one, but no ANALYZE ever runs on it (autovacuum
 * waits for 50 changes), and unanalysed it is planned as some 1,500 rows,
 * each multiplying the unused notices the planner expects. */
/* Whom a notice goes to: its token's owner; for a token without one, the
 * personal project's owner and the project's admins, each found by an
 * index (one join with their OR read every user for every notice). */
#define BBTOKEN_NOTE_USER                                                      \
    "SELECT u.id, u.name, u.display_name, u.email, u.active"
/* A revocation its owner made over the API is no news to them: the actor is
 * the owner, the name in any case. */
#define BBTOKEN_BY_OWNER                                                       \
    BBT_SQL_NAME_ANY_CASE("r.actor", "COALESCE(r.owner, '')")
#define BBTOKEN_NOTES                                                          \
    "WITH p AS (SELECT (SELECT revoke_unused_after FROM bbtoken_policy)"       \
    " AS after),"                                                              \
    " live AS (SELECT t.*, " BBTOKEN_IDLE " AS idle FROM bbtoken_tokens t"     \
    " WHERE t.revoked_at IS NULL),"                                            \
    " stage AS (SELECT l.*, CASE WHEN l.expires_at <= now() THEN 'expired'"    \
    " WHEN l.expires_at <= now() + interval '7 days' THEN 'expires_7d'"        \
    " WHEN l.expires_at <= now() + interval '30 days' THEN 'expires_30d'"      \
    " END AS kind FROM live l WHERE l.expires_at IS NOT NULL),"                \
    " notes AS ("                                                              \
    "SELECT s.kind, NULL::text AS event, s.id, s.user_id, s.expires_at AS at," \
    " false AS never_used, NULL::timestamptz AS until, NULL::inet AS addr,"    \
    " NULL::text AS after FROM stage s"                                        \
    " WHERE s.kind IS NOT NULL AND (s.kind = 'expired' OR s.created_at"        \
    " < s.expires_at - CASE s.kind WHEN 'expires_7d' THEN interval '7 days'"   \
    " ELSE interval '30 days' END)"                                            \
    " AND NOT EXISTS (SELECT 1 FROM bbtoken_notices n"                         \
    " WHERE n.token_id = s.id AND n.kind = s.kind)"                            \
    " UNION ALL "                                                              \
    "SELECT 'unused', NULL, l.id, l.user_id, l.idle,"                          \
    " l.last_authenticated IS NULL, r.at, NULL,"                               \
    " bbtoken_duration_text(p.after) FROM live l CROSS JOIN p"                 \
    " CROSS JOIN LATERAL (SELECT GREATEST(l.idle + p.after, COALESCE((SELECT"  \
    " min(c.sent_at) FROM bbtoken_notice_copies c WHERE c.token_id = l.id"     \
    " AND c.kind = 'unused' AND " BBTOKEN_UNUSED_COPY_COUNTS                   \
    "), now()) + " BBTOKEN_UNUSED_NOTICE ") AS at) r"                          \
    " WHERE p.after IS NOT NULL"                                               \
    " AND l.idle + p.after - " BBTOKEN_UNUSED_NOTICE " <= now()"               \
    " AND (l.expires_at IS NULL OR l.expires_at > r.at)"                       \
    " AND NOT EXISTS (SELECT 1 FROM bbtoken_notices n WHERE n.token_id = l.id" \
    " AND n.kind = 'unused' AND n.sent_at >= " BBTOKEN_UNUSED_TOLD_FROM ")"    \
    " UNION ALL "                                                              \
    "SELECT 'revoked', r.event, r.id, r.user_id, r.at, false, NULL, r.addr,"   \
    " (extract(epoch FROM r.at - r.idle)::bigint / 86400) || ' days'"          \
    " FROM (SELECT DISTINCT ON (t.id) t.id, t.user_id, a.user_name AS owner,"  \
    " " BBTOKEN_IDLE " AS idle, a.event, a.source, a.actor, a.at,"             \
    " a.client_addr AS addr"                                                   \
    " FROM bbtoken_tokens t JOIN bbtoken_audit a ON a.token_id = t.id"         \
    " AND a.event IN ('revoked', 'revoked_unused', 'revoked_leaked',"          \
    " 'rotated')"                                                              \
    " WHERE t.revoked_at IS NOT NULL AND NOT EXISTS (SELECT 1"                 \
    " FROM bbtoken_notices n WHERE n.token_id = t.id AND n.kind = 'revoked')"  \
    " ORDER BY t.id, a.event IN ('revoked', 'rotated'), a.id DESC) r"          \
    " WHERE r.event NOT IN ('revoked', 'rotated') OR r.source <> 'http'"       \
    " OR r.user_id IS NULL OR NOT (" BBTOKEN_BY_OWNER "))"                     \
    " SELECT n.kind, n.event, n.id, t.name,"                                   \
    " to_char(n.at AT TIME ZONE 'UTC', " BBTOKEN_ISO "), n.never_used,"        \
    " to_char(n.until AT TIME ZONE 'UTC', " BBTOKEN_ISO "), host(n.addr),"     \
    " n.after, u.id, u.name, u.display_name, u.email, u.active,"               \
    " CASE WHEN t.repo_slug IS NOT NULL"                                       \
    " THEN 'repository ' || t.project_key || '/' || t.repo_slug"               \
    " WHEN t.user_id IS NULL THEN 'project ' || t.project_key END"             \
    " FROM notes n JOIN bbtoken_tokens t ON t.id = n.id"                       \
    " LEFT JOIN LATERAL (" BBTOKEN_NOTE_USER " FROM bbtoken_users u"           \
    " WHERE u.id = n.user_id"                                                  \
    " UNION " BBTOKEN_NOTE_USER " FROM bbtoken_users u"                        \
    " WHERE n.user_id IS NULL AND u.active AND left(t.project_key, 1) = '~'"   \
    " AND u.slug = substr(t.project_key, 2)"                                   \
    " UNION " BBTOKEN_NOTE_USER " FROM bbtoken_project_grants g"               \
    " JOIN bbtoken_users u ON u.id = g.user_id"                                \
    " WHERE n.user_id IS NULL AND u.active AND g.project_key = t.project_key"  \
    " AND g.permission = 'PROJECT_ADMIN') u ON true"
/* By owner, for the messages: one owner's rows in a row, in the order
 * their message lists them; not the copies already sent (a run before was
 * stopped, or sendmail refused another recipient's). */
const char bbtoken_notes_sql[] = BBTOKEN_NOTES
    " WHERE NOT EXISTS (SELECT 1 FROM bbtoken_notice_copies c"
    " WHERE c.token_id = n.id AND c.kind = n.kind AND c.user_id = u.id"
    " AND " BBTOKEN_NOTE_COPY_COUNTS ")"
    " ORDER BY u.id, CASE WHEN u.id IS NULL THEN t.project_key END,"
    " CASE WHEN u.id IS NULL THEN t.repo_slug END,"
    " CASE WHEN n.event = 'revoked_leaked' THEN 0"
    " WHEN n.event IN ('revoked', 'rotated') THEN 1"
    " WHEN n.event = 'revoked_unused' THEN 2"
    " WHEN n.kind = 'expired' THEN 3 WHEN n.kind = 'expires_7d' THEN 4"
    " WHEN n.kind = 'expires_30d' THEN 5 ELSE 6 END, n.id";
/* By notice, for telling those whose recipients have their copies, or
 * nobody could be mailed: a notice's recipients in a row. */
static const char bbtoken_settle_sql[] = BBTOKEN_NOTES " ORDER BY n.id, n.kind";

int bbtoken_notify_mailable(const PGresult *res, int row)
{
    return PQgetvalue(res, row, BBTOKEN_N_ACTIVE)[0] == 't' &&
           bbtoken_mail_addr_ok(bbtoken_get(res, row, BBTOKEN_N_EMAIL, NULL));
}

/* The notices due, two cursors over one snapshot, which outlive its
 * transaction: notify records each message's copies as it goes, and
 * reads them by owner a group at a time, and then, to tell those whose
 * copies are all sent or that nobody could be mailed, by notice.  The
 * server holds the rows. */
int bbtoken_notes_body(bbtoken_ctx_t *ctx, void *arg)
{
    (void)arg;
    if (bbtoken_stream_hold(ctx, "finding the notices due", "bbtoken_notes",
                            bbtoken_notes_sql)) {
        return BBTOKEN_EXIT_FAIL;
    }
    return bbtoken_stream_hold(ctx, "finding the notices due", "bbtoken_settle",
                               bbtoken_settle_sql);
}
