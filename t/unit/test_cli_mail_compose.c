/* bbtoken notify's message without a database (cli/mail.c): the whole
 * message for every kind of notice (headers, 7bit or base64 body), a
 * project's token told to its admins, names that could break a line or
 * read as another, and refusals of anything that could add a header. */
#include "mail.h"
#include "tap.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    test_compose_one();
    test_compose_kinds();
    test_compose_holder();
    test_compose_encodings();
    test_compose_refusals();
    return done_testing();
}
