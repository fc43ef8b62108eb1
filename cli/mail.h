/*
 * Mail for `bbtoken notify`: composing one owner's message (mail.c) and
 * handing it to the system's sendmail (sendmail.c).  No libpq here: both
 * are unit-tested alone (t/unit/test_cli_mail_*.c).
 *
 * A message names tokens by name and id only; nothing here ever sees a
 * token's value.  Header values are built only from addresses that pass
 * bbtoken_mail_addr_ok, fixed text and RFC 2047 encoded words, so no
 * value can start a header of its own.
 */
#ifndef BBTOKEN_MAIL_H
#define BBTOKEN_MAIL_H

#include <stddef.h>

/* What one notice is about; its database name is bbtoken_note_kinds[]. */
typedef enum {
    BBTOKEN_NOTE_REVOKED_LEAKED,
    BBTOKEN_NOTE_REVOKED_ADMIN,
    BBTOKEN_NOTE_ROTATED_ADMIN,
    BBTOKEN_NOTE_REVOKED_UNUSED,
    BBTOKEN_NOTE_EXPIRED,
    BBTOKEN_NOTE_EXPIRES_7D,
    BBTOKEN_NOTE_EXPIRES_30D,
    BBTOKEN_NOTE_UNUSED,
    BBTOKEN_NOTE_KINDS
} bbtoken_note_kind_t;

/* One notice.  Times are ISO 8601 in UTC, as the CLI prints them. */
typedef struct {
    bbtoken_note_kind_t kind;
    const char *id;   /* the token's 12 digits */
    const char *name; /* the token's name (UTF-8) */
    /* EXPIRES_*, EXPIRED: the expiry; REVOKED_*, ROTATED_*: the
     * revocation; UNUSED: the last use, or the creation when never_used */
    const char *when;
    int never_used;      /* UNUSED */
    const char *until;   /* UNUSED: revoked on or after this */
    const char *after;   /* UNUSED, REVOKED_UNUSED: "90 days" */
    const char *address; /* REVOKED_LEAKED: who reported it, or NULL */
    const char *holder;  /* "project KEY", "repository KEY/slug" for such a
                            token (told to the project's admins); NULL for
                            the reader's own */
} bbtoken_note_t;

/* One owner's message. */
typedef struct {
    const char *from;         /* bbtoken_mail_addr_ok */
    const char *to;           /* bbtoken_mail_addr_ok */
    const char *user;         /* the owner's user name */
    const char *display_name; /* or NULL */
    const char *date;         /* RFC 5322, bbtoken_mail_date */
    const char *message_id;   /* without <>, bbtoken_mail_message_id */
    const bbtoken_note_t *notes;
    size_t nnotes; /* at least one */
} bbtoken_mail_t;

/* Whether an address may be written into To: or From: as it is: an ASCII
 * dot-atom local part, @, and a domain of letters, digits, hyphens and
 * dots; at most 254 bytes.  Stricter than what a user's e-mail column
 * accepts: a comma, a space, quotes or angle brackets could name more
 * recipients or start another header. */
int bbtoken_mail_addr_ok(const char *addr);

/* The message, headers and body, lines ending in LF as sendmail -t reads
 * them; malloc'd and NUL-terminated, its length in *len.  NULL when an
 * address is refused by bbtoken_mail_addr_ok, the date or the Message-ID
 * is not printable ASCII, there are no notices, or memory ran out. */
char *bbtoken_mail_compose(const bbtoken_mail_t *m, size_t *len);

/* The Subject header's value: as is when it is short printable ASCII,
 * else RFC 2047 encoded words (UTF-8, base64) folded onto continuation
 * lines, each line at most 76 characters.  malloc'd, or NULL. */
char *bbtoken_mail_subject(const char *text);

/* Now as an RFC 5322 date in UTC, into buf (at least 32 bytes). */
void bbtoken_mail_date(char *buf, size_t len);

/* A fresh <local@domain> without the brackets, for the sender's domain,
 * into buf (at least 64 bytes more than the domain).  0, or -1 when the
 * random number generator fails. */
int bbtoken_mail_message_id(const char *from, char *buf, size_t len);

/* sendmail.c: pipe msg into `path -f from -t -oi` (the envelope sender
 * from, which bbtoken_mail_addr_ok accepted; recipients from the headers;
 * a line of "." does not end the message), run with our environment but
 * PGPASSWORD in a process group of its own, and wait, timeout seconds at
 * most.  Returns its exit status (0 is sent), 128 + the signal that killed
 * it, or -1 when it could not be run (errno set), exited 0 without reading
 * the whole message, however short (errno EPIPE), or had not finished by
 * then (errno ETIMEDOUT; it and its process group are then stopped, SIGTERM
 * and then SIGKILL), or had not when stop (NULL: none), asked while it
 * waits, said to give up (errno ECANCELED; stopped the same way). */
int bbtoken_sendmail(const char *path, const char *from, const char *msg,
                     size_t len, int timeout, int (*stop)(void));

#endif
