/*
 * The listener's word on the triggers (see bbt_ltrig.h).
 */
#include "httpd.h"
#include "http_log.h"

#include <stdlib.h>
#include <string.h>

#include "bbt_cache.h"
#include "bbt_listensql.h"
#include "bbt_ltrig.h"
#include "bbt_schema.h"

APLOG_USE_MODULE(bbtoken);

void bbt_ltrig_init(bbt_ltrig_t *t)
{
    memset(t, 0, sizeof(*t));
    t->lookup_told = -1;
}

/* Whether every notifying trigger fires always (the identity starts with
 * their count); said once when they do not.  The heartbeat is withheld
 * meanwhile: nothing is believed until they fire again, and then the
 * identity has changed, so every entry is forgotten first. */
int bbt_ltrig_notify(bbt_ltrig_t *t, server_rec *s, const char *tables)
{
    const char *slash = strchr(tables, '/');
    int n = atoi(tables);
    int wanted = slash ? atoi(slash + 1) : 0;

    /* Never fewer than the oldest schema's: a count that did not read
     * wants them all the same. */
    if (wanted < BBT_LISTEN_TRIGGERS_MIN) {
        wanted = BBT_LISTEN_TRIGGERS_MIN;
    }
    if (n >= wanted) {
        t->told_notify = 0;
        return 1;
    }
    bbt_cache_listener_down();
    ap_log_error(APLOG_MARK, t->told_notify ? APLOG_DEBUG : APLOG_WARNING, 0, s,
                 "BBT710: %d of the %d triggers that notify the token cache "
                 "fire always (dropped, disabled, or enabled for ordinary "
                 "sessions only: a restore?  ALTER TABLE ... ENABLE ALWAYS "
                 "TRIGGER): the cache is not believed until they do",
                 n, wanted);
    t->told_notify = 1;
    return 0;
}

/* Whether every trigger that keeps bbtoken_lookup fires always; said
 * once until their number changes.  The cache is believed all the same,
 * unlike when a notifying trigger is off: a change the lookup's triggers
 * miss still notifies (and forgets every entry), and what a miss then
 * reads is that same stale table, which is what every request reads with
 * the cache off.  Not believing the cache would move every request to
 * that table and change no answer; a notifying trigger off is the other
 * way round (the table true, the entries stale).  What helps is the
 * administrator: enable the triggers and run `bbtoken db check
 * --repair`.  A row written again notifies (bbtoken_lookup's own
 * triggers, sql/migrations/0038), whether the repair or the token's next
 * last use writes it, so that the entries made from the stale row go
 * too. */
void bbt_ltrig_lookup(bbt_ltrig_t *t, server_rec *s, int now, int wanted)
{
    int n = now < 0 || now > wanted ? wanted : now;

    if (n == t->lookup_told && wanted == t->lookup_told_wanted) {
        return;
    }
    /* The first count this listener reads is what the start found, which
     * the first child to read the schema says too (bbt_schema_note), and
     * a listener that takes over from an exited child reads it again:
     * said once per start, by whichever comes first.  A change after that
     * only the listener sees, and says. */
    if (t->lookup_told < 0) {
        bbt_schema_lookup_start(s, n, wanted);
    } else {
        bbt_schema_lookup_warn(s, n, wanted);
    }
    t->lookup_told = n;
    t->lookup_told_wanted = wanted;
}
