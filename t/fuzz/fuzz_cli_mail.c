/*
 * libFuzzer target: `bbtoken notify`'s mail (cli/mail.c) from hostile
 * names, display names, addresses and times, as a database row could hold
 * them.  The input is NUL-separated fields.  Held to mail.h's contract:
 *
 * - an address bbtoken_mail_addr_ok takes is printable ASCII with nothing
 *   that could name another recipient, and one a user's e-mail column
 *   takes too (it is the stricter rule);
 * - a Subject is printable ASCII, lines of at most 76 columns folded with
 *   a space, and says the text back (control characters as '?');
 * - a message is composed exactly when its addresses, date and Message-ID
 *   are fit, and then has exactly its nine headers, printable ASCII (no CR,
 *   no header a value could start), and a 7bit body of short ASCII lines
 *   or a base64 one with no control character but LF inside.
 *
 * Any broken rule aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bbt_input.h"
#include "mail.h"

#define FZ_FIELDS 14

static int fz_printable(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

static void fz_addr(const char *a)
{
    if (!bbtoken_mail_addr_ok(a)) {
        return;
    }
    if (!fz_printable(a, strlen(a)) || strpbrk(a, " ,;:<>\"()[]\\") ||
        bbt_input_email(a) != NULL) {
        abort();
    }
}

/* The bytes base64 text stands for; n set.  Aborts on what is not
 * base64. */
static unsigned char *fz_unbase64(const char *b, size_t blen, size_t *n)
{
    unsigned char *out;
    int got;

    if (blen % 4 || !(out = malloc(blen / 4 * 3 + 1))) {
        abort();
    }
    if ((got = EVP_DecodeBlock(out, (const unsigned char *)b, (int)blen)) < 0) {
        abort();
    }
    *n = (size_t)got;
    /* EVP_DecodeBlock counts the padding's bytes too. */
    if (blen >= 1 && b[blen - 1] == '=') {
        (*n)--;
    }
    if (blen >= 2 && b[blen - 2] == '=') {
        (*n)--;
    }
    return out;
}

static void fz_subject(const char *text)
{
    char *sub = bbtoken_mail_subject(text), *line, *nl;
    size_t len = strlen(text), got = 0, i, first = 1;
    unsigned char *back;

    if (!sub) {
        abort();
    }
    if (strncmp(sub, "=?UTF-8?B?", 10) != 0) {
        /* As it is: only printable, short, and no encoded word. */
        if (strcmp(sub, text) || len > 67 || strstr(text, "=?") ||
            !fz_printable(sub, len)) {
            abort();
        }
        free(sub);
        return;
    }
    if (!(back = malloc(len + 1))) {
        abort();
    }
    for (line = sub; line; line = nl ? nl + 1 : NULL, first = 0) {
        size_t n, wlen;
        unsigned char *w;

        nl = strchr(line, '\n');
        n = nl ? (size_t)(nl - line) : strlen(line);
        if (!fz_printable(line, n) || n + (first ? 9 : 0) > 76) {
            abort();
        }
        if (!first) {
            if (line[0] != ' ') {
                abort();
            }
            line++, n--;
        }
        if (n < 12 || strncmp(line, "=?UTF-8?B?", 10) ||
            strncmp(line + n - 2, "?=", 2)) {
            abort();
        }
        w = fz_unbase64(line + 10, n - 12, &wlen);
        if (got + wlen > len) {
            abort();
        }
        memcpy(back + got, w, wlen);
        got += wlen;
        free(w);
    }
    if (got != len) {
        abort();
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];

        if (back[i] != (c < 0x20 || c == 0x7f ? '?' : c)) {
            abort();
        }
    }
    free(back);
    free(sub);
}

static void fz_compose(char **f, unsigned char sel)
{
    static const char *const heads[] = {
        "From: ",          "To: ",
        "Subject: ",       "Date: ",
        "Message-ID: <",   "MIME-Version: 1.0",
        "Content-Type: ",  "Content-Transfer-Encoding: ",
        "Auto-Submitted: "};
    bbtoken_note_t notes[2];
    bbtoken_mail_t m;
    size_t len = 0, i, h = 0, n;
    char *msg, *p, *end, *nl;
    int fit, seven;

    memset(notes, 0, sizeof(notes));
    memset(&m, 0, sizeof(m));
    for (i = 0; i < 2; i++) {
        notes[i].kind = (bbtoken_note_kind_t)((sel >> (i * 3)) % 8);
        notes[i].id = f[4];
        notes[i].name = f[5 + i];
        notes[i].when = f[7];
        notes[i].never_used = sel & 1;
        notes[i].until = (sel & 2) ? f[8] : NULL;
        notes[i].after = f[9];
        notes[i].address = (sel & 4) ? f[10] : NULL;
        notes[i].holder = (sel & 8) ? f[11] : NULL;
    }
    m.from = f[0];
    m.to = f[1];
    m.user = f[2];
    m.display_name = (sel & 16) ? f[3] : NULL;
    m.date = f[12];
    m.message_id = f[13];
    m.notes = notes;
    m.nnotes = (sel & 32) ? 2 : 1;
    msg = bbtoken_mail_compose(&m, &len);
    fit = bbtoken_mail_addr_ok(m.from) && bbtoken_mail_addr_ok(m.to) &&
          *m.date && fz_printable(m.date, strlen(m.date)) && *m.message_id &&
          fz_printable(m.message_id, strlen(m.message_id));
    if (!msg) {
        /* Refused only for what is not fit (memory aside). */
        if (fit) {
            abort();
        }
        return;
    }
    if (!fit || strlen(msg) != len || !(end = strstr(msg, "\n\n"))) {
        abort();
    }
    /* The headers: the nine, in order, a Subject's folds between. */
    for (p = msg; p <= end; p = nl + 1) {
        nl = strchr(p, '\n');
        n = (size_t)(nl - p);
        if (!fz_printable(p, n)) {
            abort();
        }
        if (p[0] == ' ') {
            if (h != 3) {
                abort();
            }
            continue;
        }
        if (h >= 9 || strncmp(p, heads[h], strlen(heads[h]))) {
            abort();
        }
        if ((h == 0 &&
             (n != 6 + strlen(m.from) || strncmp(p + 6, m.from, n - 6))) ||
            (h == 1 &&
             (n != 4 + strlen(m.to) || strncmp(p + 4, m.to, n - 4)))) {
            abort();
        }
        h++;
    }
    if (h != 9) {
        abort();
    }
    seven = strstr(msg, "\nContent-Transfer-Encoding: 7bit\n") != NULL &&
            strstr(msg, "\nContent-Transfer-Encoding: 7bit\n") < end;
    p = end + 2;
    if (seven) {
        for (n = 0; *p; p++) {
            unsigned char c = (unsigned char)*p;

            if (c >= 0x80 || c == '\r' || (c < 0x20 && c != '\n') ||
                c == 0x7f) {
                abort();
            }
            n = c == '\n' ? 0 : n + 1;
            if (n > 998) {
                abort();
            }
        }
        free(msg);
        return;
    }
    for (; *p; p = nl + 1) {
        unsigned char *b;
        size_t blen;

        if (!(nl = strchr(p, '\n')) || nl - p > 76) {
            abort();
        }
        b = fz_unbase64(p, (size_t)(nl - p), &blen);
        for (i = 0; i < blen; i++) {
            if ((b[i] < 0x20 && b[i] != '\n') || b[i] == 0x7f) {
                abort();
            }
        }
        free(b);
    }
    free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *f[FZ_FIELDS], *p;
    size_t i;

    if (size < 1) {
        return 0;
    }
    if (!(buf = malloc(size + FZ_FIELDS))) {
        return 0;
    }
    memcpy(buf, data + 1, size - 1);
    memset(buf + size - 1, 0, FZ_FIELDS + 1);
    for (i = 0, p = buf; i < FZ_FIELDS; i++) {
        f[i] = p;
        if (p < buf + size - 1) {
            p += strlen(p) + 1;
        }
    }
    fz_addr(f[0]);
    fz_subject(f[5]);
    fz_compose(f, data[0]);
    free(buf);
    return 0;
}
