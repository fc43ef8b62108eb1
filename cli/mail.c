/*
 * Composing `bbtoken notify`'s messages (mail.h): one owner's notices as
 * one text/plain message in UTF-8.  The body goes 7bit when it is ASCII
 * with short lines, base64 otherwise (token names may be UTF-8 and up to
 * 255 characters, which 8bit would need the MTA's 8BITMIME for and could
 * stretch a line past SMTP's 998 octets); the Subject, which carries a
 * token's name when there is one notice, is RFC 2047 encoded whenever it
 * is not short plain ASCII.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "bbt_input.h"
#include "mail.h"

/* An encoded word's payload: 39 bytes make 52 base64 characters, so that
 * "Subject: =?UTF-8?B?...?=" fits 76 columns on the first line too. */
#define BBTOKEN_MAIL_WORD 39
#define BBTOKEN_MAIL_LINE 76
/* "Subject: " and the subject, unencoded, within BBTOKEN_MAIL_LINE. */
#define BBTOKEN_MAIL_PLAIN_MAX 67
/* Longer body lines go base64: SMTP allows 998 octets. */
#define BBTOKEN_MAIL_BODY_LINE 998

int bbtoken_mail_addr_ok(const char *addr)
{
    static const char atext[] = "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789!#$%&'*+/=?^_`{|}~-";
    static const char dtext[] = "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789-";
    const char *at, *p;
    size_t n;

    if (!addr || strlen(addr) > 254 || !(at = strchr(addr, '@')) ||
        at == addr || !at[1]) {
        return 0;
    }
    /* dot-atom: atoms of atext joined by single dots.  atext has no @,
     * so no atom runs past it. */
    for (p = addr;; p++) {
        if ((n = strspn(p, atext)) == 0) {
            return 0;
        }
        p += n;
        if (p == at) {
            break;
        }
        if (*p != '.') {
            return 0;
        }
    }
    /* A domain: labels of letters, digits and hyphens, joined by dots. */
    for (p = at + 1;; p += n + 1) {
        n = strspn(p, dtext);
        if (n == 0 || (p[n] != '.' && p[n] != '\0')) {
            return 0;
        }
        if (p[n] == '\0') {
            return 1;
        }
    }
}

/* Text from the database as it may be shown (bbt_input_shown): a control
 * or an invisible formatting character (which the schema's rules already
 * keep out of names), or a byte that is not UTF-8, becomes '?'. */
static void bbtoken_mail_text(FILE *f, const char *s)
{
    char *shown;

    if (!s || !*s) {
        return;
    }
    if (!(shown = malloc(strlen(s) + 1))) {
        fputc('?', f);
        return;
    }
    bbt_input_shown(s, shown);
    fputs(shown, f);
    free(shown);
}

/* fprintf with every %s argument through bbtoken_mail_text is more than
 * the few formats below need: each takes its strings in turn. */
static void bbtoken_mail_put(FILE *f, const char *fmt, const char *a,
                             const char *b)
{
    const char *args[2] = {a, b};
    int i = 0;

    for (; *fmt; fmt++) {
        if (fmt[0] == '%' && fmt[1] == 's' && i < 2) {
            bbtoken_mail_text(f, args[i++]);
            fmt++;
        } else {
            fputc(*fmt, f);
        }
    }
}

/* Printable ASCII, and something: fit for a header as it is. */
static int bbtoken_mail_printable(const char *s)
{
    if (!s || !*s) {
        return 0;
    }
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* ---- the text of a notice ----------------------------------------------- */

static const char *const bbtoken_note_subjects[BBTOKEN_NOTE_KINDS] = {
    "Access token \"%s\" was revoked as leaked",
    "Access token \"%s\" was revoked by an administrator",
    "Access token \"%s\" was rotated by an administrator",
    "Access token \"%s\" was revoked: not used for %s",
    "Access token \"%s\" has expired",
    "Access token \"%s\" expires on %s",
    "Access token \"%s\" expires on %s",
    "Unused access token \"%s\" will be revoked on %s"};

static void bbtoken_note_body(FILE *f, const bbtoken_note_t *n)
{
    const char *again = "  Make a new token if you still need one.\n";
    const char *replace =
        "  Make a new token and put it in this one's place before then:\n"
        "  an expiry cannot be extended.\n";

    bbtoken_mail_put(f, "Token \"%s\" (id %s)", n->name, n->id);
    if (n->holder) {
        bbtoken_mail_put(f, " of %s", n->holder, NULL);
    }
    fputc('\n', f);
    switch (n->kind) {
    case BBTOKEN_NOTE_REVOKED_LEAKED:
        bbtoken_mail_put(f,
                         "  was revoked on %s because its value was "
                         "reported as leaked",
                         n->when, NULL);
        if (n->address) {
            bbtoken_mail_put(f, " (reported from %s)", n->address, NULL);
        }
        fputs(".\n  It no longer works.  Anyone who saw it could have used "
              "it: find out\n  where it was exposed.\n",
              f);
        fputs(again, f);
        break;
    case BBTOKEN_NOTE_REVOKED_ADMIN:
        bbtoken_mail_put(f,
                         "  was revoked by an administrator on %s.  It no "
                         "longer works.\n",
                         n->when, NULL);
        fputs(again, f);
        break;
    case BBTOKEN_NOTE_ROTATED_ADMIN:
        bbtoken_mail_put(f,
                         "  was rotated by an administrator on %s: a new "
                         "token with the same name\n  and permissions "
                         "replaces it, and this one no longer works.\n",
                         n->when, NULL);
        fputs("  Ask the administrator for the new token, or make a new "
              "one.\n",
              f);
        break;
    case BBTOKEN_NOTE_REVOKED_UNUSED:
        bbtoken_mail_put(f,
                         "  was revoked on %s because it had not been used "
                         "for %s.\n",
                         n->when, n->after);
        fputs(again, f);
        break;
    case BBTOKEN_NOTE_EXPIRED:
        bbtoken_mail_put(f, "  expired on %s and no longer works.\n", n->when,
                         NULL);
        fputs(again, f);
        break;
    case BBTOKEN_NOTE_EXPIRES_7D:
    case BBTOKEN_NOTE_EXPIRES_30D:
        bbtoken_mail_put(f, "  expires on %s, in less than %s days.\n", n->when,
                         n->kind == BBTOKEN_NOTE_EXPIRES_7D ? "7" : "30");
        fputs(replace, f);
        break;
    case BBTOKEN_NOTE_UNUSED:
        bbtoken_mail_put(f,
                         n->never_used
                             ? "  has never been used since it was created "
                               "on %s.\n"
                             : "  has not been used since %s.\n",
                         n->when, NULL);
        bbtoken_mail_put(f,
                         "  Tokens unused for %s are revoked: this one will be "
                         "revoked\n  on or after %s unless it is used before "
                         "then.\n",
                         n->after, n->until);
        break;
    default:
        break;
    }
}

/* ---- headers ------------------------------------------------------------ */

char *bbtoken_mail_subject(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t len = strlen(text), i, start, end;
    unsigned char word[BBTOKEN_MAIL_WORD];
    char b64[4 * ((BBTOKEN_MAIL_WORD + 2) / 3) + 1];
    char *out = NULL;
    size_t outlen = 0;
    FILE *f;
    int plain = len <= BBTOKEN_MAIL_PLAIN_MAX && !strstr(text, "=?");

    for (i = 0; plain && i < len; i++) {
        plain = s[i] >= 0x20 && s[i] < 0x7f;
    }
    if (plain) {
        return strdup(text);
    }
    if (!(f = open_memstream(&out, &outlen))) {
        return NULL;
    }
    for (start = 0; start < len; start = end) {
        end = start + BBTOKEN_MAIL_WORD < len ? start + BBTOKEN_MAIL_WORD : len;
        /* Never split a character: back off to the start of one. */
        while (end > start + 1 && end < len && (s[end] & 0xc0) == 0x80) {
            end--;
        }
        for (i = start; i < end; i++) {
            word[i - start] = s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
        }
        EVP_EncodeBlock((unsigned char *)b64, word, (int)(end - start));
        fprintf(f, "%s=?UTF-8?B?%s?=", start ? "\n " : "", b64);
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

void bbtoken_mail_date(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    /* The C locale (the CLI never sets another): English names. */
    strftime(buf, len, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

int bbtoken_mail_message_id(const char *from, char *buf, size_t len)
{
    const char *domain = strchr(from, '@');
    unsigned char r[12];
    char hex[2 * sizeof(r) + 1];
    size_t i;

    if (RAND_bytes(r, sizeof(r)) != 1) {
        return -1;
    }
    for (i = 0; i < sizeof(r); i++) {
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    }
    snprintf(buf, len, "bbtoken.%lld.%s@%s", (long long)time(NULL), hex,
             domain ? domain + 1 : "localhost");
    return 0;
}

/* ---- the message ----------------------------------------------------------
 */

static char *bbtoken_mail_body(const bbtoken_mail_t *m, size_t *len)
{
    char *body = NULL;
    FILE *f = open_memstream(&body, len);
    size_t i;

    if (!f) {
        return NULL;
    }
    bbtoken_mail_put(f, "Hello %s,\n\n",
                     m->display_name ? m->display_name : m->user, NULL);
    for (i = 0; i < m->nnotes && !m->notes[i].holder; i++) {
    }
    bbtoken_mail_put(f,
                     i == m->nnotes
                         ? "this is about your personal access tokens (user "
                           "%s).\n"
                         : "this is about access tokens you own or whose "
                           "project you administer\n(user %s).\n",
                     m->user, NULL);
    for (i = 0; i < m->nnotes; i++) {
        fputc('\n', f);
        bbtoken_note_body(f, &m->notes[i]);
    }
    fputs("\nA token itself is never sent by mail: this message names tokens "
          "by their\nname and id.  If anything here surprises you, tell your "
          "administrators.\n"
          "-- \nbbtoken notify\n",
          f);
    if (fclose(f) != 0) {
        free(body);
        return NULL;
    }
    return body;
}

/* ASCII, no line over SMTP's limit: then the body can go as it is. */
static int bbtoken_mail_7bit(const char *body, size_t len)
{
    size_t i, line = 0;

    for (i = 0; i < len; i++) {
        if ((unsigned char)body[i] >= 0x80 || ++line > BBTOKEN_MAIL_BODY_LINE) {
            return 0;
        }
        if (body[i] == '\n') {
            line = 0;
        }
    }
    return 1;
}

static void bbtoken_mail_base64(FILE *f, const char *body, size_t len)
{
    /* 57 bytes make one 76-character line. */
    unsigned char line[BBTOKEN_MAIL_LINE + 1];
    size_t i, n;

    for (i = 0; i < len; i += n) {
        n = len - i < 57 ? len - i : 57;
        EVP_EncodeBlock(line, (const unsigned char *)body + i, (int)n);
        fprintf(f, "%s\n", line);
    }
}

char *bbtoken_mail_compose(const bbtoken_mail_t *m, size_t *len)
{
    char *subject_text = NULL, *subject = NULL, *body = NULL, *out = NULL;
    size_t subject_len = 0, body_len = 0;
    FILE *f = NULL;
    int seven;

    *len = 0;
    if (m->nnotes == 0 || !bbtoken_mail_addr_ok(m->from) ||
        !bbtoken_mail_addr_ok(m->to) || !bbtoken_mail_printable(m->date) ||
        !bbtoken_mail_printable(m->message_id)) {
        return NULL;
    }
    if (!(f = open_memstream(&subject_text, &subject_len))) {
        return NULL;
    }
    if (m->nnotes == 1) {
        const bbtoken_note_t *n = &m->notes[0];
        char day[11];

        /* The date alone, for the expiry and the revocation to come. */
        snprintf(day, sizeof(day), "%s", n->until ? n->until : n->when);
        bbtoken_mail_put(f, bbtoken_note_subjects[n->kind], n->name,
                         n->kind == BBTOKEN_NOTE_REVOKED_UNUSED ? n->after
                                                                : day);
    } else {
        fprintf(f, "%zu notices about your access tokens", m->nnotes);
    }
    if (fclose(f) != 0 || !(subject = bbtoken_mail_subject(subject_text)) ||
        !(body = bbtoken_mail_body(m, &body_len)) ||
        !(f = open_memstream(&out, len))) {
        goto done;
    }
    seven = bbtoken_mail_7bit(body, body_len);
    /* The addresses passed bbtoken_mail_addr_ok; the subject is fixed
     * text, plain ASCII or encoded words; the rest is ours. */
    fprintf(f,
            "From: %s\n"
            "To: %s\n"
            "Subject: %s\n"
            "Date: %s\n"
            "Message-ID: <%s>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: %s\n"
            "Auto-Submitted: auto-generated\n"
            "\n",
            m->from, m->to, subject, m->date, m->message_id,
            seven ? "7bit" : "base64");
    if (seven) {
        fwrite(body, 1, body_len, f);
    } else {
        bbtoken_mail_base64(f, body, body_len);
    }
    if (fclose(f) != 0) {
        free(out);
        out = NULL;
        *len = 0;
    }
done:
    free(subject_text);
    free(subject);
    free(body);
    return out;
}
