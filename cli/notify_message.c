/*
 * One owner's message for notify (notify.h), from the rows of the notices
 * due: each row a notice, the owner's address and name from the first;
 * composed by mail.c.
 */
#include <stdlib.h>
#include <string.h>

#include "mail.h"
#include "notify.h"

static bbtoken_note_kind_t bbtoken_note_kind(const PGresult *res, int row)
{
    const char *kind = PQgetvalue(res, row, BBTOKEN_N_KIND);
    const char *event = PQgetvalue(res, row, BBTOKEN_N_EVENT);

    if (strcmp(kind, "revoked") == 0) {
        return strcmp(event, "revoked_leaked") == 0
                   ? BBTOKEN_NOTE_REVOKED_LEAKED
               : strcmp(event, "revoked_unused") == 0
                   ? BBTOKEN_NOTE_REVOKED_UNUSED
               : strcmp(event, "rotated") == 0 ? BBTOKEN_NOTE_ROTATED_ADMIN
                                               : BBTOKEN_NOTE_REVOKED_ADMIN;
    }
    return strcmp(kind, "expired") == 0       ? BBTOKEN_NOTE_EXPIRED
           : strcmp(kind, "expires_7d") == 0  ? BBTOKEN_NOTE_EXPIRES_7D
           : strcmp(kind, "expires_30d") == 0 ? BBTOKEN_NOTE_EXPIRES_30D
                                              : BBTOKEN_NOTE_UNUSED;
}

int bbtoken_notify_message(const char *from, const PGresult *res, int first,
                           int end, char **msg, size_t *len)
{
    int count = end - first, i;
    char date[64], msgid[400];
    bbtoken_note_t *notes;
    bbtoken_mail_t m;

    if (!(notes = calloc((size_t)count, sizeof(*notes)))) {
        return bbtoken_fail("out of memory");
    }
    for (i = first; i < end; i++) {
        bbtoken_note_t *o = &notes[i - first];

        o->kind = bbtoken_note_kind(res, i);
        o->id = PQgetvalue(res, i, BBTOKEN_N_ID);
        o->name = PQgetvalue(res, i, BBTOKEN_N_NAME);
        o->when = PQgetvalue(res, i, BBTOKEN_N_WHEN);
        o->never_used = PQgetvalue(res, i, BBTOKEN_N_NEVER)[0] == 't';
        o->until = bbtoken_get(res, i, BBTOKEN_N_UNTIL, NULL);
        o->address = bbtoken_get(res, i, BBTOKEN_N_ADDR, NULL);
        o->after = bbtoken_get(res, i, BBTOKEN_N_AFTER, NULL);
        o->holder = bbtoken_get(res, i, BBTOKEN_N_HOLDER, NULL);
    }
    bbtoken_mail_date(date, sizeof(date));
    if (bbtoken_mail_message_id(from, msgid, sizeof(msgid)) != 0) {
        free(notes);
        return bbtoken_fail("the random number generator failed");
    }
    m.from = from;
    m.to = bbtoken_get(res, first, BBTOKEN_N_EMAIL, NULL);
    m.user = PQgetvalue(res, first, BBTOKEN_N_USER);
    m.display_name = bbtoken_get(res, first, BBTOKEN_N_DISPLAY, NULL);
    m.date = date;
    m.message_id = msgid;
    m.notes = notes;
    m.nnotes = (size_t)count;
    *msg = bbtoken_mail_compose(&m, len);
    free(notes);
    if (!*msg) {
        return bbtoken_fail("out of memory");
    }
    return 0;
}
