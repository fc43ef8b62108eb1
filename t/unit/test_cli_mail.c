/* bbtoken notify's mail without a database (cli/mail.c, cli/sendmail.c):
 * which addresses may go into a header, the Subject's RFC 2047 encoding
 * and folding, the whole message for every kind of notice (headers, 7bit
 * or base64 body), refusals of anything that could add a header, the Date
 * and Message-ID, and sendmail's exit status through stand-in mailers,
 * and its deadline: one that never answers is stopped with what it started,
 * at the deadline or when the caller's stop (an interrupt) says so. */
#define _GNU_SOURCE
#include "cli.h"
#include "cli_capture.h"
#include "mail.h"
#include "tap.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

#define FROM "tokens@git.example.com"
#define DATE "Mon, 30 Nov 2026 07:00:00 +0000"
#define MSGID "bbtoken.1.abc@git.example.com"

static char *compose(const bbtoken_note_t *notes, size_t n, const char *to,
                     const char *display, size_t *len)
{
    bbtoken_mail_t m = {FROM, to, "alice", display, DATE, MSGID, notes, n};

    return bbtoken_mail_compose(&m, len);
}

static void test_compose_one(void)
{
    bbtoken_note_t n = {BBTOKEN_NOTE_EXPIRED,
                        "123456789012",
                        "ci",
                        "2026-11-29T07:00:00Z",
                        0,
                        NULL,
                        NULL,
                        NULL,
                        NULL};
    size_t len;
    char *msg = compose(&n, 1, "alice@example.com", NULL, &len);

    if (!ok(msg != NULL, "one notice: composed")) {
        return;
    }
    is_int((long long)len, (long long)strlen(msg), "its length");
    is_str(msg,
           "From: " FROM "\n"
           "To: alice@example.com\n"
           "Subject: Access token \"ci\" has expired\n"
           "Date: " DATE "\n"
           "Message-ID: <" MSGID ">\n"
           "MIME-Version: 1.0\n"
           "Content-Type: text/plain; charset=UTF-8\n"
           "Content-Transfer-Encoding: 7bit\n"
           "Auto-Submitted: auto-generated\n"
           "\n"
           "Hello alice,\n"
           "\n"
           "this is about your personal access tokens (user alice).\n"
           "\n"
           "Token \"ci\" (id 123456789012)\n"
           "  expired on 2026-11-29T07:00:00Z and no longer works.\n"
           "  Make a new token if you still need one.\n"
           "\n"
           "A token itself is never sent by mail: this message names tokens "
           "by their\n"
           "name and id.  If anything here surprises you, tell your "
           "administrators.\n"
           "-- \n"
           "bbtoken notify\n",
           "the whole message: headers, a blank line, the body");
    free(msg);
}

/* A project's token, told to the project's admins: which project, and an
 * opening that does not call it theirs. */
static void test_compose_holder(void)
{
    bbtoken_note_t n[] = {{BBTOKEN_NOTE_EXPIRED, "123456789012", "mine",
                           "2026-11-29T07:00:00Z", 0, NULL, NULL, NULL, NULL},
                          {BBTOKEN_NOTE_EXPIRES_7D, "123456789013", "ci",
                           "2026-12-01T07:00:00Z", 0, NULL, NULL, NULL,
                           "project PROJ"}};
    size_t len;
    char *msg = compose(n, 2, "alice@example.com", NULL, &len);

    if (!ok(msg != NULL, "a project's token: composed")) {
        return;
    }
    ok(strstr(msg, "\nthis is about access tokens you own or whose project "
                   "you administer\n(user alice).\n") != NULL,
       "the opening says whose");
    ok(strstr(msg, "\nToken \"mine\" (id 123456789012)\n") != NULL,
       "the user's own token as before");
    ok(strstr(msg, "\nToken \"ci\" (id 123456789013) of project PROJ\n  "
                   "expires on") != NULL,
       "the project's token says which project");
    free(msg);
}

static void test_compose_kinds(void)
{
    bbtoken_note_t n[] = {
        {BBTOKEN_NOTE_REVOKED_LEAKED, "100000000001", "l1",
         "2026-11-30T01:00:00Z", 0, NULL, NULL, "192.0.2.7", NULL},
        {BBTOKEN_NOTE_REVOKED_LEAKED, "100000000002", "l2",
         "2026-11-30T01:00:00Z", 0, NULL, NULL, NULL, NULL},
        {BBTOKEN_NOTE_REVOKED_ADMIN, "100000000003", "a",
         "2026-11-30T02:00:00Z", 0, NULL, NULL, NULL, NULL},
        {BBTOKEN_NOTE_ROTATED_ADMIN, "100000000009", "r",
         "2026-11-30T02:30:00Z", 0, NULL, NULL, NULL, NULL},
        {BBTOKEN_NOTE_REVOKED_UNUSED, "100000000004", "u",
         "2026-11-30T03:00:00Z", 0, NULL, "97 days", NULL, NULL},
        {BBTOKEN_NOTE_EXPIRES_7D, "100000000005", "s", "2026-12-05T00:00:00Z",
         0, NULL, NULL, NULL, NULL},
        {BBTOKEN_NOTE_EXPIRES_30D, "100000000006", "m", "2026-12-25T00:00:00Z",
         0, NULL, NULL, NULL, NULL},
        {BBTOKEN_NOTE_UNUSED, "100000000007", "w", "2026-08-01T00:00:00Z", 0,
         "2026-12-07T00:00:00Z", "90 days", NULL, NULL},
        {BBTOKEN_NOTE_UNUSED, "100000000008", "v", "2026-08-02T00:00:00Z", 1,
         "2026-12-08T00:00:00Z", "90 days", NULL, NULL},
    };
    static const char *const want[] = {
        "Token \"l1\" (id 100000000001)\n  was revoked on 2026-11-30T01:00:00Z "
        "because its value was reported as leaked (reported from "
        "192.0.2.7).\n  It no longer works.",
        "Token \"l2\" (id 100000000002)\n  was revoked on 2026-11-30T01:00:00Z "
        "because its value was reported as leaked.\n",
        "Token \"a\" (id 100000000003)\n  was revoked by an administrator on "
        "2026-11-30T02:00:00Z.  It no longer works.\n",
        "Token \"r\" (id 100000000009)\n  was rotated by an administrator on "
        "2026-11-30T02:30:00Z: a new token with the same name\n  and "
        "permissions replaces it, and this one no longer works.\n",
        "Token \"u\" (id 100000000004)\n  was revoked on 2026-11-30T03:00:00Z "
        "because it had not been used for 97 days.\n",
        "Token \"s\" (id 100000000005)\n  expires on 2026-12-05T00:00:00Z, in "
        "less than 7 days.\n  Make a new token and put it",
        "Token \"m\" (id 100000000006)\n  expires on 2026-12-25T00:00:00Z, in "
        "less than 30 days.\n",
        "Token \"w\" (id 100000000007)\n  has not been used since "
        "2026-08-01T00:00:00Z.\n  Tokens unused for 90 days are revoked: this "
        "one will be revoked\n  on or after 2026-12-07T00:00:00Z unless it is "
        "used before then.\n",
        "Token \"v\" (id 100000000008)\n  has never been used since it was "
        "created on 2026-08-02T00:00:00Z.\n"};
    static const char *const subjects[] = {
        "Subject: Access token \"l1\" was revoked as leaked\n",
        "",
        "Subject: Access token \"a\" was revoked by an administrator\n",
        "Subject: Access token \"r\" was rotated by an administrator\n",
        "Subject: Access token \"u\" was revoked: not used for 97 days\n",
        "Subject: Access token \"s\" expires on 2026-12-05\n",
        "Subject: Access token \"m\" expires on 2026-12-25\n",
        "Subject: Unused access token \"w\" will be revoked on 2026-12-07\n",
        ""};
    size_t len, i;
    const char *prev = NULL, *at;
    char *msg = compose(n, 9, "alice@example.com", "Alice", &len);

    if (!ok(msg != NULL, "every kind: composed")) {
        return;
    }
    ok(strstr(msg, "\nSubject: 9 notices about your access tokens\n") != NULL,
       "several: the Subject counts them");
    ok(strstr(msg, "\n\nHello Alice,\n") != NULL, "greets the display name");
    for (i = 0; i < 9; i++) {
        at = strstr(msg, want[i]);
        ok(at != NULL, "notice %zu's text", i + 1);
        ok(at && (!prev || at > prev), "notice %zu in the order given", i + 1);
        prev = at;
    }
    free(msg);
    for (i = 0; i < 9; i++) {
        if (!*subjects[i]) {
            continue;
        }
        msg = compose(&n[i], 1, "alice@example.com", NULL, &len);
        ok(msg && strstr(msg, subjects[i]), "one notice's Subject: %.*s",
           (int)strlen(subjects[i]) - 1, subjects[i]);
        free(msg);
    }
}

static void test_compose_encodings(void)
{
    char name[300], *msg, *body, *dec, *h;
    bbtoken_note_t n = {BBTOKEN_NOTE_REVOKED_ADMIN,
                        "123456789012",
                        "d\xc3\xa9ploiement \xf0\x9f\x94\x91",
                        "2026-11-29T07:00:00Z",
                        0,
                        NULL,
                        NULL,
                        NULL,
                        NULL};
    size_t len, i;
    int n64, longest = 0, line = 0;

    msg = compose(&n, 1, "alice@example.com", NULL, &len);
    if (!ok(msg != NULL, "a UTF-8 name: composed")) {
        return;
    }
    ok(strstr(msg, "\nContent-Transfer-Encoding: base64\n") != NULL,
       "the body goes base64");
    ok(strstr(msg, "\nSubject: =?UTF-8?B?") != NULL, "the Subject encoded");
    body = strstr(msg, "\n\n") + 2;
    for (i = 0; body[i]; i++) {
        line = body[i] == '\n' ? 0 : line + 1;
        longest = line > longest ? line : longest;
    }
    ok(longest <= 76, "base64 lines of at most 76 (%d)", longest);
    dec = calloc(1, strlen(body));
    for (h = body, n64 = 0; *h;) {
        char *nl = strchr(h, '\n');
        int k = EVP_DecodeBlock((unsigned char *)dec + n64,
                                (const unsigned char *)h, (int)(nl - h));

        n64 += k - (nl[-1] == '=') - (nl[-2] == '=');
        h = nl + 1;
    }
    dec[n64] = '\0';
    ok(strstr(dec, "Token \"d\xc3\xa9ploiement \xf0\x9f\x94\x91\" (id "
                   "123456789012)\n  was revoked by an administrator") != NULL,
       "the decoded body names it in UTF-8");
    free(dec);
    free(msg);

    /* A display name in UTF-8 makes the body UTF-8 too. */
    n.name = "plain";
    msg = compose(&n, 1, "alice@example.com", "Ren\xc3\xa9", &len);
    ok(msg && strstr(msg, "Transfer-Encoding: base64\n"),
       "a UTF-8 display name: base64");
    free(msg);

    /* The longest ASCII name: 7bit still, the Subject encoded and folded. */
    memset(name, 'n', 255);
    name[255] = '\0';
    n.name = name;
    msg = compose(&n, 1, "alice@example.com", NULL, &len);
    ok(msg && strstr(msg, "Transfer-Encoding: 7bit\n"),
       "a 255-character ASCII name: 7bit");
    ok(msg && strstr(msg, "\nSubject: =?UTF-8?B?"), "  the Subject encoded");
    for (h = msg, longest = 0; h && h < strstr(msg, "\n\n");) {
        char *nl = strchr(h, '\n');

        longest = nl - h > longest ? (int)(nl - h) : longest;
        h = nl + 1;
    }
    ok(longest <= 76, "  no header line over 76 (%d)", longest);
    free(msg);

    /* A name with a control character cannot break a line. */
    n.name = "a\nBcc: evil@example.net";
    msg = compose(&n, 1, "alice@example.com", NULL, &len);
    ok(msg && !strstr(msg, "\nBcc:"), "a newline in a name starts nothing");
    ok(msg && strstr(msg, "Token \"a?Bcc: evil@example.net\""),
       "  it shows as ?");
    free(msg);

    /* Nor can one with U+202E read as another (a name stored before the
     * schema refused it). */
    n.name = "ci\xe2\x80\xaeyolped";
    msg = compose(&n, 1, "alice@example.com", NULL, &len);
    ok(msg && strstr(msg, "Token \"ci?yolped\"") &&
           !strstr(msg, "\xe2\x80\xae"),
       "a right-to-left override in a name shows as ?");
    free(msg);
}

static void test_compose_refusals(void)
{
    bbtoken_note_t n = {BBTOKEN_NOTE_EXPIRED,
                        "123456789012",
                        "ci",
                        "2026-11-29T07:00:00Z",
                        0,
                        NULL,
                        NULL,
                        NULL,
                        NULL};
    bbtoken_mail_t m = {
        FROM, "alice@example.com", "alice", NULL, DATE, MSGID, &n, 1};
    size_t len = 99;
    char *msg;

    m.to = "alice@example.com\nBcc: evil@example.net";
    ok(!(msg = bbtoken_mail_compose(&m, &len)) && len == 0,
       "a To with a newline: refused");
    free(msg);
    m.to = "evil,alice@example.com";
    ok(!(msg = bbtoken_mail_compose(&m, &len)), "a To with a comma: refused");
    free(msg);
    m.to = "alice@example.com";
    m.from = "x";
    ok(!(msg = bbtoken_mail_compose(&m, &len)), "a bad From: refused");
    free(msg);
    m.from = FROM;
    m.date = DATE "\nBcc: x@y";
    ok(!(msg = bbtoken_mail_compose(&m, &len)),
       "a Date with a newline: refused");
    free(msg);
    m.date = DATE;
    m.message_id = "a@b\r";
    ok(!(msg = bbtoken_mail_compose(&m, &len)),
       "a Message-ID with a CR: refused");
    free(msg);
    m.message_id = MSGID;
    m.nnotes = 0;
    ok(!(msg = bbtoken_mail_compose(&m, &len)), "no notices: nothing");
    free(msg);
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

/* A stand-in mailer: a shell script in dir. */
static void script(const char *dir, const char *name, const char *body,
                   char *path, size_t len)
{
    FILE *f;

    snprintf(path, len, "%s/%s", dir, name);
    f = fopen(path, "w");
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0755);
}

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

    if (f) {
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

/* 1 once process pid is gone (or a zombie: dead, not yet reaped by
 * whoever inherited it), polling for up to a minute. */
static int gone(pid_t pid)
{
    char path[64], *p;
    int i;

    for (i = 0; i < 6000; i++) {
        snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
        p = slurp(path);
        if (!*p || ((p = strrchr(p, ')')) && (p[2] == 'Z' || p[2] == 'X'))) {
            return 1;
        }
        usleep(10000);
    }
    return 0;
}

/* The envelope sender every message here is sent with. */
#define SENDER "bbtoken@example.com"

/* A mailer that never answers, as notify's deadline stops it: whether it
 * reads the message or not, and what it started with it. */
static void test_sendmail_timeout(void)
{
    char dir[] = "/tmp/bbt-unit-mail-XXXXXX", path[256], file[256], cmd[512];
    static const char msg[] = "To: a@b\nSubject: x\n\nbody\n";
    size_t big_len = 1 << 20;
    char *big = malloc(big_len);
    long bg;
    int rc;

    if (!ok(mkdtemp(dir) != NULL, "a temporary directory")) {
        free(big);
        return;
    }
    memset(big, 'x', big_len);
    snprintf(cmd, sizeof(cmd),
             "sleep 600 & echo $! > %s/bg; cat > /dev/null; sleep 600", dir);
    script(dir, "hang", cmd, path, sizeof(path));
    errno = 0;
    rc = bbtoken_sendmail(path, SENDER, msg, strlen(msg), 1, NULL);
    is_int(rc, -1, "a mailer that reads and never ends: -1");
    is_int(errno, ETIMEDOUT, "  ETIMEDOUT");
    snprintf(file, sizeof(file), "%s/bg", dir);
    bg = atol(slurp(file));
    ok(bg > 0 && gone((pid_t)bg), "  what it started is stopped too (%ld)", bg);
    script(dir, "deaf", "exec sleep 600", path, sizeof(path));
    errno = 0;
    rc = bbtoken_sendmail(path, SENDER, big, big_len, 1, NULL);
    is_int(rc, -1, "one that never reads a big message: -1");
    is_int(errno, ETIMEDOUT, "  ETIMEDOUT");
    script(dir, "stubborn", "trap '' TERM; cat > /dev/null; sleep 600 & wait",
           path, sizeof(path));
    errno = 0;
    rc = bbtoken_sendmail(path, SENDER, msg, strlen(msg), 1, NULL);
    is_int(rc, -1, "one that ignores SIGTERM: -1 (killed)");
    is_int(errno, ETIMEDOUT, "  ETIMEDOUT");
    script(dir, "ok", "cat > /dev/null", path, sizeof(path));
    is_int(bbtoken_sendmail(path, SENDER, big, big_len, 1, NULL), 0,
           "one that takes a big message in time: 0");
    free(big);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        diag("could not remove %s", dir);
    }
}

/* notify's stop: an interrupt of the CLI, here once the file named
 * exists (the mailer made it, and waits). */
static char stop_file[256];

static int stop_once_there(void)
{
    return access(stop_file, F_OK) == 0;
}

/* A mailer that never answers, given up when stop says so, well before
 * its deadline: stopped as at the deadline, the message not sent. */
static void test_sendmail_stop(void)
{
    char dir[] = "/tmp/bbt-unit-mail-XXXXXX", path[256], cmd[512];
    static const char msg[] = "To: a@b\nSubject: x\n\nbody\n";
    size_t big_len = 1 << 20;
    char *big = malloc(big_len);
    long bg;
    int rc;

    if (!ok(mkdtemp(dir) != NULL, "a temporary directory")) {
        free(big);
        return;
    }
    memset(big, 'x', big_len);
    snprintf(stop_file, sizeof(stop_file), "%s/bg", dir);
    snprintf(cmd, sizeof(cmd),
             "sleep 600 & echo $! > %s/bg.tmp; mv %s/bg.tmp %s/bg; "
             "cat > /dev/null; sleep 600",
             dir, dir, dir);
    script(dir, "hang", cmd, path, sizeof(path));
    errno = 0;
    rc = bbtoken_sendmail(path, SENDER, msg, strlen(msg), 600, stop_once_there);
    is_int(rc, -1, "stopped while a mailer that read it waits: -1");
    is_int(errno, ECANCELED, "  ECANCELED, not its deadline");
    bg = atol(slurp(stop_file));
    ok(bg > 0 && gone((pid_t)bg), "  what it started is stopped too (%ld)", bg);
    snprintf(stop_file, sizeof(stop_file), "%s/deaf", dir);
    snprintf(cmd, sizeof(cmd), "touch %s/deaf; exec sleep 600", dir);
    script(dir, "deaf", cmd, path, sizeof(path));
    errno = 0;
    rc = bbtoken_sendmail(path, SENDER, big, big_len, 600, stop_once_there);
    is_int(rc, -1,
           "stopped while one that never reads a big message waits: "
           "-1");
    is_int(errno, ECANCELED, "  ECANCELED");
    free(big);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        diag("could not remove %s", dir);
    }
}

static void test_sendmail(void)
{
    char dir[] = "/tmp/bbt-unit-mail-XXXXXX", path[256], file[256], cmd[512];
    static const char msg[] = "To: a@b\nSubject: x\n\nbody\n.\nmore\n";
    size_t big_len = 1 << 20;
    char *big = malloc(big_len);
    int rc;

    if (!ok(mkdtemp(dir) != NULL, "a temporary directory")) {
        return;
    }
    memset(big, 'x', big_len);
    snprintf(cmd, sizeof(cmd),
             "printf '%%s\\n' \"$@\" > %s/args; cat > %s/msg; echo to-stdout",
             dir, dir);
    script(dir, "ok", cmd, path, sizeof(path));
    capture_start();
    rc = bbtoken_sendmail(path, SENDER, msg, strlen(msg), 60, NULL);
    capture_end();
    is_int(rc, 0, "a mailer that takes it: 0");
    snprintf(file, sizeof(file), "%s/msg", dir);
    is_str(slurp(file), msg, "  it got the whole message");
    snprintf(file, sizeof(file), "%s/args", dir);
    is_str(slurp(file), "-f\n" SENDER "\n-t\n-oi\n",
           "  run as -f SENDER -t -oi: the envelope sender set");
    is_str(capture_out, "", "  its output is not on our stdout");
    is_str(capture_err, "to-stdout\n", "  but on stderr");
    capture_start();
    rc = bbtoken_sendmail(path, "-oQ/tmp/q@example.com", msg, strlen(msg), 60,
                          NULL);
    capture_end();
    is_int(rc, 0, "a sender that reads like an option: taken");
    is_str(slurp(file), "-f\n-oQ/tmp/q@example.com\n-t\n-oi\n",
           "  -f's own argument, the next one");

    script(dir, "fail", "exit 3", path, sizeof(path));
    is_int(bbtoken_sendmail(path, SENDER, big, big_len, 60, NULL), 3,
           "a mailer that fails without reading: its exit status (no "
           "SIGPIPE)");
    script(dir, "liar", "exit 0", path, sizeof(path));
    errno = 0;
    is_int(bbtoken_sendmail(path, SENDER, big, big_len, 60, NULL), -1,
           "one that says 0 without reading the message: -1");
    is_int(errno, EPIPE, "  EPIPE");
    errno = 0;
    is_int(bbtoken_sendmail(path, SENDER, msg, strlen(msg), 60, NULL), -1,
           "  and a message that fits in the pipe: -1");
    is_int(errno, EPIPE, "  EPIPE");
    script(dir, "half", "dd bs=1 count=10 of=/dev/null 2>/dev/null", path,
           sizeof(path));
    errno = 0;
    is_int(bbtoken_sendmail(path, SENDER, msg, strlen(msg), 60, NULL), -1,
           "one that says 0 having read part of it: -1");
    is_int(errno, EPIPE, "  EPIPE");
    script(dir, "killed", "kill -9 $$", path, sizeof(path));
    is_int(bbtoken_sendmail(path, SENDER, msg, strlen(msg), 60, NULL), 128 + 9,
           "one killed by a signal: 128 + the signal");
    snprintf(path, sizeof(path), "%s/missing", dir);
    errno = 0;
    rc = bbtoken_sendmail(path, SENDER, msg, strlen(msg), 60, NULL);
    /* glibc's posix_spawn reports a failed exec; others (valgrind's)
     * leave it to the child, which exits 127 as a shell would. */
    ok((rc == -1 && errno == ENOENT) || rc == 127,
       "no mailer there: -1 and ENOENT (or 127): %d, %s", rc, strerror(errno));
    free(big);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        diag("could not remove %s", dir);
    }
}

int main(void)
{
    test_addr();
    test_subject();
    test_compose_one();
    test_compose_kinds();
    test_compose_holder();
    test_compose_encodings();
    test_compose_refusals();
    test_date_id();
    test_sendmail();
    test_sendmail_timeout();
    test_sendmail_stop();
    return done_testing();
}
