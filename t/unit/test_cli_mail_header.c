/* bbtoken notify's header values without a database (cli/mail.c): which
 * addresses may go into a header, the Subject's RFC 2047 encoding and
 * folding, the Date and the Message-ID.  The whole message is
 * test_cli_mail_compose.c's, sendmail test_cli_mail_sendmail.c's. */
#define _GNU_SOURCE
#include "mail.h"
#include "tap.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* s with its control characters as C escapes, for a test's name. */
static const char *shown(const char *s)
{
    static char buf[512];
    size_t o = 0;

    for (; *s && o + 5 < sizeof(buf); s++) {
        if ((unsigned char)*s < 0x20) {
            o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\\x%02x",
                                  (unsigned char)*s);
        } else {
            buf[o++] = *s;
        }
    }
    buf[o] = '\0';
    return buf;
}

static void test_addr(void)
{
    static const char *const good[] = {"a@b", "alice@example.com",
                                       "first.last+tag@mail.example.co",
                                       "x!#$%&'*+/=?^_`{|}~-@a-b.c"};
    static const char *const bad[] = {
        "",       "a",           "@b",         "a@",
        "a@@b",   "a@b@c",       "a b@c",      "a,b@c",
        "a@b,c",  "<a@b>",       "\"a\"@b",    "a@b\nBcc: c@d",
        "a@b\r",  "a.@b",        ".a@b",       "a..b@c",
        "a@b..c", "a@.b",        "a@b.",       "a@b c",
        "a@b:25", "a@[1.2.3.4]", "\xc3\xa9@b", "a@\xc3\xa9.example",
        "a@b\t"};
    char big[300];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(*good); i++) {
        ok(bbtoken_mail_addr_ok(good[i]), "address ok: %s", good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        ok(!bbtoken_mail_addr_ok(bad[i]), "address refused: '%s'",
           shown(bad[i]));
    }
    ok(!bbtoken_mail_addr_ok(NULL), "address refused: NULL");
    memset(big, 'x', sizeof(big));
    big[0] = 'a';
    big[1] = '@';
    big[254] = '\0';
    ok(bbtoken_mail_addr_ok(big), "254 bytes: ok");
    big[254] = 'x';
    big[255] = '\0';
    ok(!bbtoken_mail_addr_ok(big), "255 bytes: refused");
}

/* A Subject's encoded words decoded and joined; each word must decode to
 * whole UTF-8 characters.  0, or -1 for a malformed one. */
static int decode_subject(const char *enc, char *out, size_t len,
                          int *split_char, int *longest)
{
    const char *p = enc;
    size_t o = 0;
    int first = 1;

    *split_char = 0;
    *longest = 0;
    while (*p) {
        const char *e;
        unsigned char buf[128];
        int n, pad, line;

        if (!first) {
            if (strncmp(p, "\n ", 2) != 0) {
                return -1;
            }
            p += 2;
        }
        if (strncmp(p, "=?UTF-8?B?", 10) != 0 || !(e = strstr(p + 10, "?=")) ||
            e - (p + 10) > 100) {
            return -1;
        }
        line = (int)(e + 2 - p) + (first ? 9 : 1);
        *longest = line > *longest ? line : *longest;
        n = EVP_DecodeBlock(buf, (const unsigned char *)p + 10,
                            (int)(e - (p + 10)));
        if (n < 0) {
            return -1;
        }
        pad = (e[-1] == '=') + (e[-2] == '=');
        n -= pad;
        if (n > 0 && ((buf[0] & 0xc0) == 0x80 ||
                      ((buf[n - 1] & 0x80) && (buf[n - 1] & 0xc0) == 0xc0))) {
            *split_char = 1;
        }
        if (o + (size_t)n >= len) {
            return -1;
        }
        memcpy(out + o, buf, (size_t)n);
        o += (size_t)n;
        p = e + 2;
        first = 0;
    }
    out[o] = '\0';
    return 0;
}

static void check_encoded(const char *what, const char *in, const char *want)
{
    char *s = bbtoken_mail_subject(in), got[2048];
    int split, longest;

    if (!ok(s != NULL, "%s: encoded", what)) {
        return;
    }
    ok(strncmp(s, "=?UTF-8?B?", 10) == 0, "%s: as encoded words", what);
    is_int(decode_subject(s, got, sizeof(got), &split, &longest), 0,
           "%s: well-formed words, folded with LF and a space", what);
    is_str(got, want, "%s: decodes to the text", what);
    ok(!split, "%s: no character split between words", what);
    ok(longest <= 76, "%s: no line over 76 (longest %d)", what, longest);
    ok(!strchr(s, '\r') && !strstr(s, "\n\n"), "%s: no CR, no empty line",
       what);
    free(s);
}

static void test_subject(void)
{
    char *s, name[1200], want[1300];
    int i;

    s = bbtoken_mail_subject("Access token \"ci\" has expired");
    is_str(s, "Access token \"ci\" has expired", "short ASCII: as it is");
    free(s);
    /* Plain only while "Subject: " and the text fit one 76-column line:
     * 9 + 67 does, 9 + 68 does not. */
    memset(name, 'a', 67);
    name[67] = '\0';
    s = bbtoken_mail_subject(name);
    is_str(s, name, "67 ASCII characters (76 columns): as they are");
    free(s);
    memset(name, 'a', 68);
    name[68] = '\0';
    check_encoded("68 ASCII characters (77 columns)", name, name);
    check_encoded("UTF-8", "Access token \"caf\xc3\xa9\" has expired",
                  "Access token \"caf\xc3\xa9\" has expired");
    check_encoded("=? in the text", "Access token \"=?x?=\" has expired",
                  "Access token \"=?x?=\" has expired");
    check_encoded("control characters", "a\r\nBcc: x@y\tz", "a??Bcc: x@y?z");
    memset(name, 'n', 255);
    name[255] = '\0';
    snprintf(want, sizeof(want), "Access token \"%s\" has expired", name);
    check_encoded("long ASCII", want, want);
    /* Four-byte characters: a word boundary must fall between them. */
    name[0] = '\0';
    for (i = 0; i < 60; i++) {
        strcat(name, "\xf0\x9f\x94\x91");
    }
    check_encoded("4-byte characters", name, name);
    strcpy(name, "x");
    for (i = 0; i < 100; i++) {
        strcat(name, "\xc3\xa9");
    }
    check_encoded("2-byte characters off by one", name, name);
}

static void test_date_id(void)
{
    char buf[64], a[128], b[128];
    struct tm tm;
    const char *end;

    bbtoken_mail_date(buf, sizeof(buf));
    memset(&tm, 0, sizeof(tm));
    end = strptime(buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    ok(end && !*end, "Date: RFC 5322 in UTC: %s", buf);
    is_int(bbtoken_mail_message_id("tokens@git.example.com", a, sizeof(a)), 0,
           "a Message-ID");
    ok(strncmp(a, "bbtoken.", 8) == 0 && strlen(a) > 40 &&
           strcmp(a + strlen(a) - 16, "@git.example.com") == 0,
       "  bbtoken.TIME.RANDOM@ the sender's domain: %s", a);
    bbtoken_mail_message_id("tokens@git.example.com", b, sizeof(b));
    ok(strcmp(a, b) != 0, "  another one differs");
}

int main(void)
{
    test_addr();
    test_subject();
    test_date_id();
    return done_testing();
}
