/* Authorization header parser tests. */
#define _GNU_SOURCE /* memmem */
#include "bbt_cred.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define TOKEN "BBDC-MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU"

static char buf[BBT_CRED_MAX_HEADER];
static char hdr[BBT_CRED_MAX_HEADER * 2 + 64];

/* "Basic " (or another scheme) + base64 of n bytes at plain. */
static const char *basic_n(const char *scheme, const void *plain, size_t n)
{
    size_t sl = strlen(scheme);

    memcpy(hdr, scheme, sl);
    EVP_EncodeBlock((unsigned char *)hdr + sl, plain, (int)n);
    return hdr;
}

static const char *basic(const char *plain)
{
    return basic_n("Basic ", plain, strlen(plain));
}

static bbt_cred_kind_t parse(const char *h, bbt_cred_t *c)
{
    return bbt_cred_parse(h, buf, sizeof(buf), c);
}

static int inside(const void *p, const void *base, size_t n)
{
    return (const char *)p >= (const char *)base &&
           (const char *)p < (const char *)base + n;
}

/* A reason is short, printable ASCII and quotes none of the input. */
static int why_clean(const char *why, const char *input)
{
    size_t i;

    if (!why || !*why || strlen(why) > 60)
        return 0;
    for (i = 0; why[i]; i++)
        if (why[i] < 0x20 || why[i] > 0x7e)
            return 0;
    /* No run of 8 input bytes appears in the reason. */
    if (input) {
        size_t n = strlen(input);
        char run[9];

        for (i = 0; i + 8 <= n; i++) {
            memcpy(run, input + i, 8);
            run[8] = '\0';
            if (strstr(why, run))
                return 0;
        }
    }
    return 1;
}

static void malformed(const char *h, const char *name, const char *why_want)
{
    bbt_cred_t c;
    bbt_cred_kind_t k = parse(h, &c);

    ok(k == BBT_CRED_MALFORMED && c.kind == k && c.user == NULL &&
           c.secret == NULL && why_clean(c.why, h),
       "malformed: %s", name);
    if (k != BBT_CRED_MALFORMED)
        diag("kind %d", (int)k);
    if (why_want)
        is_str(c.why, why_want, "  reason: %s", why_want);
}

static void test_none_other(void)
{
    bbt_cred_t c;

    memset(&c, 0x55, sizeof(c));
    is_int(parse(NULL, &c), BBT_CRED_NONE, "NULL header: NONE");
    ok(c.kind == BBT_CRED_NONE && c.user == NULL && c.secret == NULL &&
           c.why == NULL,
       "NONE leaves nothing set");
    is_int(bbt_cred_parse(NULL, NULL, 0, &c), BBT_CRED_NONE,
           "NULL header with no buffer: NONE");
    /* What libcurl sends for a clone URL's user name before git has asked
     * for the password: no credential, so that git gets a 401 and asks. */
    is_int(parse(basic("alice:"), &c), BBT_CRED_NONE,
           "Basic user without a password: NONE");
    ok(c.user == NULL && c.secret == NULL && c.user_len == 0 &&
           c.secret_len == 0 && c.why == NULL,
       "  nothing set");
    is_int(parse(basic(":"), &c), BBT_CRED_NONE, "Basic colon alone: NONE");

    is_int(parse("Digest username=\"alice\", realm=\"Git\", nonce=\"x\"", &c),
           BBT_CRED_OTHER, "Digest: OTHER");
    ok(c.user == NULL && c.secret == NULL, "OTHER sets no credential");
    is_int(parse("Negotiate YIIGhgYJKoZIhvcSAQICAQBuggZ1", &c), BBT_CRED_OTHER,
           "Negotiate: OTHER");
    is_int(
        parse("NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==",
              &c),
        BBT_CRED_OTHER, "NTLM: OTHER");
    is_int(parse("Negotiate", &c), BBT_CRED_OTHER, "bare scheme: OTHER");
    is_int(parse("Basicx YWxpY2U6cHc=", &c), BBT_CRED_OTHER,
           "'Basicx' is another scheme");
    is_int(parse("Bear abc", &c), BBT_CRED_OTHER, "'Bear' is another scheme");
    is_int(parse("Bearer-Token abc", &c), BBT_CRED_OTHER,
           "'Bearer-Token' is another scheme");
    is_int(parse("Token abc", &c), BBT_CRED_OTHER, "'Token': OTHER");
}

static void test_basic_ok(void)
{
    bbt_cred_t c;
    const char *h;

    h = basic("alice:" TOKEN);
    is_int(parse(h, &c), BBT_CRED_BASIC, "Basic alice:token");
    is_str(c.user, "alice", "user");
    is_int((long long)c.user_len, 5, "user_len");
    is_str(c.secret, TOKEN, "secret");
    is_int((long long)c.secret_len, (long long)strlen(TOKEN), "secret_len");
    ok(inside(c.user, buf, sizeof(buf)) && inside(c.secret, buf, sizeof(buf)),
       "user and secret point into buf");
    ok(c.why == NULL, "no reason on success");

    h = basic_n("basic ", "bob:pw", 6);
    is_int(parse(h, &c), BBT_CRED_BASIC, "scheme 'basic'");
    is_str(c.user, "bob", "  user");
    h = basic_n("BASIC ", "bob:pw", 6);
    is_int(parse(h, &c), BBT_CRED_BASIC, "scheme 'BASIC'");
    h = basic_n("bAsIc ", "bob:pw", 6);
    is_int(parse(h, &c), BBT_CRED_BASIC, "scheme 'bAsIc'");
    h = basic_n("Basic    ", "bob:pw", 6);
    is_int(parse(h, &c), BBT_CRED_BASIC, "several spaces after the scheme");
    is_str(c.secret, "pw", "  secret");

    h = basic("alice:a:b:c");
    is_int(parse(h, &c), BBT_CRED_BASIC, "colons in the password");
    is_str(c.user, "alice", "  split at the first colon: user");
    is_str(c.secret, "a:b:c", "  split at the first colon: secret");

    h = basic("a.b-c_d@example.com:x");
    is_int(parse(h, &c), BBT_CRED_BASIC, "e-mail-like user");
    is_str(c.user, "a.b-c_d@example.com", "  user");
    is_str(c.secret, "x", "  one-byte password");

    h = basic("alice:p\xc3\xa4ss");
    is_int(parse(h, &c), BBT_CRED_BASIC,
           "non-ASCII password passes (the token check refuses it)");
    is_int((long long)c.secret_len, 5, "  secret_len counts bytes");

    h = basic("alice:pass word");
    is_int(parse(h, &c), BBT_CRED_BASIC, "space inside the password");
}

static void test_bearer_ok(void)
{
    bbt_cred_t c;
    const char *h;

    h = "Bearer " TOKEN;
    is_int(parse(h, &c), BBT_CRED_BEARER, "Bearer token");
    ok(c.user == NULL && c.user_len == 0, "Bearer has no user");
    is_str(c.secret, TOKEN, "secret");
    ok(c.secret == h + 7, "secret points into the header");
    is_int((long long)c.secret_len, (long long)strlen(TOKEN), "secret_len");

    is_int(parse("bearer " TOKEN, &c), BBT_CRED_BEARER, "scheme 'bearer'");
    is_int(parse("BEARER " TOKEN, &c), BBT_CRED_BEARER, "scheme 'BEARER'");
    is_int(parse("Bearer   " TOKEN, &c), BBT_CRED_BEARER,
           "several spaces after the scheme");
    is_str(c.secret, TOKEN, "  secret");
    is_int(parse("Bearer abc==", &c), BBT_CRED_BEARER, "token68 padding");
    is_int(parse("Bearer a-b.c_d~e+f/g", &c), BBT_CRED_BEARER,
           "every token68 punctuation");
    is_int(parse("Bearer x", &c), BBT_CRED_BEARER, "one-character token");
}

static void test_malformed(void)
{
    char plain[512];

    malformed("Basic x, Bearer y", "two credentials",
              "more than one credential");
    malformed("Basic YWxpY2U6cHc=, Basic Ym9iOnB3", "two Basic credentials",
              "more than one credential");
    malformed("Bearer " TOKEN ", Bearer " TOKEN, "two Bearer tokens",
              "more than one credential");
    malformed("Bearer " TOKEN ",", "trailing comma",
              "more than one credential");
    malformed("Bearer a,b", "comma in a token", "more than one credential");
    malformed("Bearer " TOKEN " ", "trailing space", NULL);
    malformed("Bearer " TOKEN " x", "text after the token", NULL);
    malformed("Basic YWxpY2U6cHc= x", "text after Basic", NULL);

    malformed("", "empty header", NULL);
    malformed("Basic", "Basic without credential", "empty credential");
    malformed("Bearer", "Bearer without credential", "empty credential");
    malformed("Basic ", "Basic and a space", "empty credential");
    malformed("Bearer    ", "Bearer and spaces", "empty credential");
    malformed(" Bearer " TOKEN, "leading space", NULL);
    malformed("Basic: YWxpY2U6cHc=", "colon after scheme", NULL);
    malformed("\"Basic\" YWxpY2U6cHc=", "quoted scheme", NULL);

    /* Control bytes and non-ASCII in the header itself. */
    malformed("Basic\tYWxpY2U6cHc=", "tab separator", NULL);
    malformed("Bearer " TOKEN "\r\nX-Evil: 1", "CRLF injection", NULL);
    malformed("Bearer \x01" TOKEN, "SOH", NULL);
    malformed("Bearer " TOKEN "\x7f", "DEL", NULL);
    malformed("Bearer \x80" TOKEN, "0x80", NULL);
    malformed("Bearer " TOKEN "\xff", "0xff", NULL);
    malformed("Bearer \xc3\xa4" TOKEN, "UTF-8", NULL);
    malformed("Digest a=\x01", "control byte under another scheme", NULL);
    malformed("Negotiate \xff", "high byte under another scheme",
              "Authorization header contains a non-ASCII byte");
    /* The first offending byte names the reason. */
    malformed("Bearer \x01" TOKEN "\xff", "control byte, then high byte",
              "Authorization header contains a control character");
    malformed("Bearer \xff" TOKEN "\x01", "high byte, then control byte",
              "Authorization header contains a non-ASCII byte");
    malformed("Bearer " TOKEN "\x7f", "DEL at the end",
              "Authorization header contains a control character");

    /* Bearer syntax. */
    malformed("Bearer =abc", "Bearer starting with '='", NULL);
    malformed("Bearer ab=c", "Bearer '=' in the middle", NULL);
    malformed("Bearer ===", "Bearer of padding only", NULL);
    malformed("Bearer abc%2F", "Bearer with '%'", NULL);
    malformed("Bearer abc%", "Bearer ending with '%'", NULL);
    malformed("Bearer abc=%", "Bearer with '%' after padding", NULL);
    malformed("Bearer abc==x", "Bearer with data after padding", NULL);
    malformed("Bearer \"abc\"", "quoted Bearer", NULL);
    malformed("Bearer a;b", "Bearer with ';'", NULL);
    malformed("Bearer a:b", "Bearer with ':'", NULL);

    /* Basic base64. */
    malformed("Basic YWxpY2U6cHc", "missing padding",
              "Basic credential is not valid base64");
    malformed("Basic YWxpY2U6cHc==", "extra padding", NULL);
    malformed("Basic YWxp=Y2U6cHc=", "padding in the middle", NULL);
    malformed("Basic YWxpY2U6cHd=", "non-zero pad bits", NULL);
    malformed("Basic YWxpY2U-cHc=", "URL-safe alphabet", NULL);
    malformed("Basic abc", "three characters", NULL);
    malformed("Basic YW.pY2U6cHc=", "'.' in base64", NULL);
    malformed("Basic ~~~~", "'~' in base64", NULL);

    /* Decoded content. */
    malformed(basic("alice"), "no colon", "Basic credential has no colon");
    malformed(basic(":" TOKEN), "empty user",
              "Basic credential has an empty user name");
    malformed(basic_n("Basic ", "alice\0:pw", 9), "NUL in the user", NULL);
    malformed(basic_n("Basic ", "alice:p\0w", 9), "NUL in the password", NULL);
    malformed(basic_n("Basic ", "alice:pw\0", 9), "trailing NUL", NULL);
    malformed(basic("alice:pw\n"), "LF in the password", NULL);
    malformed(basic("alice\r\n:pw"), "CRLF in the user", NULL);
    malformed(basic("al\tice:pw"), "tab in the user", NULL);
    malformed(basic("alice:p\x7fw"), "DEL in the password", NULL);
    malformed(basic("alice:\x1b[31m"), "escape sequence", NULL);
    malformed(basic("\xe4lice:pw"), "user not UTF-8 (Latin-1)",
              "Basic user name is not UTF-8");
    malformed(basic("al\xc3ice:pw"), "user with a cut UTF-8 sequence",
              "Basic user name is not UTF-8");
    malformed(basic("\xc0\xa1lice:pw"), "user with an overlong encoding",
              "Basic user name is not UTF-8");
    malformed(basic("al\xc2\x9bice:pw"), "user with a C1 control (CSI)",
              "Basic user name is not UTF-8");
    {
        bbt_cred_t c;
        is_int(parse(basic("\xc3\xa4lice:pw"), &c), BBT_CRED_BASIC,
               "UTF-8 user (the challenge's charset): a password user's");
        is_str(c.user, "\xc3\xa4lice", "  user as sent");
        is_str(c.secret, "pw", "  secret");
        ok(bbt_cred_is_password(&c), "  a password for the providers");
        is_int(parse(basic("\xc3\xa4lice:" TOKEN), &c), BBT_CRED_BASIC,
               "UTF-8 user with a token");
        ok(bbt_cred_carries_token(&c) && !bbt_cred_is_password(&c),
           "  a token, never a password");
    }

    /* User name length: 255 is fine, 256 is not. */
    memset(plain, 'u', 255);
    memcpy(plain + 255, ":pw", 4);
    {
        bbt_cred_t c;
        is_int(parse(basic(plain), &c), BBT_CRED_BASIC, "255-byte user name");
        is_int((long long)c.user_len, 255, "  user_len 255");
    }
    memset(plain, 'u', 256);
    memcpy(plain + 256, ":pw", 4);
    malformed(basic(plain), "256-byte user name",
              "Basic user name is too long");

    /* Header length: exactly the cap is read, one more is refused. */
    memcpy(hdr, "Bearer ", 7);
    memset(hdr + 7, 'a', BBT_CRED_MAX_HEADER - 7);
    hdr[BBT_CRED_MAX_HEADER] = '\0';
    {
        bbt_cred_t c;
        is_int(parse(hdr, &c), BBT_CRED_BEARER, "Bearer of exactly the cap");
        is_int((long long)c.secret_len, BBT_CRED_MAX_HEADER - 7,
               "  whole secret");
    }
    hdr[BBT_CRED_MAX_HEADER] = 'a';
    hdr[BBT_CRED_MAX_HEADER + 1] = '\0';
    malformed(hdr, "Bearer one byte over the cap",
              "Authorization header is too long");
    memset(hdr + 7, 'a', sizeof(hdr) - 8);
    hdr[sizeof(hdr) - 1] = '\0';
    malformed(hdr, "Bearer twice the cap", "Authorization header is too long");

    /* Basic of exactly the cap: "Basic" + 3 spaces + 4088 base64 chars. */
    {
        static char big[3066];
        bbt_cred_t c;

        memcpy(big, "u:", 2);
        memset(big + 2, 'p', sizeof(big) - 2);
        basic_n("Basic   ", big, sizeof(big));
        is_int((long long)strlen(hdr), BBT_CRED_MAX_HEADER,
               "(big Basic header is exactly the cap)");
        is_int(parse(hdr, &c), BBT_CRED_BASIC, "Basic of exactly the cap");
        is_int((long long)c.secret_len, (long long)sizeof(big) - 2,
               "  whole secret");
        hdr[4] = 'C';
        hdr[5] = 'X';
        is_int(parse(hdr, &c), BBT_CRED_OTHER, "  (and an unknown scheme)");
    }
}

static void test_buffers(void)
{
    char small[100];
    bbt_cred_t c;
    const char *h = basic("alice:" TOKEN);

    is_int(bbt_cred_parse(h, small, sizeof(small), &c), BBT_CRED_MALFORMED,
           "scratch buffer below the minimum is refused");
    is_int(bbt_cred_parse(h, NULL, BBT_CRED_MAX_HEADER, &c), BBT_CRED_MALFORMED,
           "NULL scratch buffer is refused");
    is_int(bbt_cred_parse(h, buf, sizeof(buf), NULL), BBT_CRED_MALFORMED,
           "NULL out is refused");

    /* A refused Basic credential is wiped from the scratch buffer. */
    memset(buf, 0, sizeof(buf));
    h = basic("alice\x01:s3cretpassw0rd");
    is_int(parse(h, &c), BBT_CRED_MALFORMED, "control byte refused");
    ok(memmem(buf, sizeof(buf), "s3cretpassw0rd", 14) == NULL,
       "  and the decoded password is wiped from buf");
    memset(buf, 0, sizeof(buf));
    h = basic("s3cretpassw0rd");
    is_int(parse(h, &c), BBT_CRED_MALFORMED, "no colon refused");
    ok(memmem(buf, sizeof(buf), "s3cretpassw0rd", 14) == NULL,
       "  and the decoded bytes are wiped from buf");

    /* A heap copy, exactly sized: valgrind sees any overread. */
    {
        size_t n = strlen("Bearer " TOKEN) + 1;
        char *p = malloc(n);

        if (p) {
            memcpy(p, "Bearer " TOKEN, n);
            is_int(parse(p, &c), BBT_CRED_BEARER, "exactly sized heap copy");
            free(p);
        }
    }
}

/* Whether a credential carries a token: what the REST API refuses. */
static void test_carries_token_cases(void)
{
    bbt_cred_t c;

    ok(!bbt_cred_carries_token(NULL), "carries_token(NULL): 0");
    parse(NULL, &c);
    ok(!bbt_cred_carries_token(&c), "no header: no token");
    parse("Bearer " TOKEN, &c);
    ok(bbt_cred_carries_token(&c), "Bearer token: a token");
    parse("Bearer not-a-token", &c);
    ok(bbt_cred_carries_token(&c), "any Bearer credential counts as a token");
    parse(basic("alice:" TOKEN), &c);
    ok(bbt_cred_carries_token(&c), "a token as the Basic password");
    parse(basic("alice:MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU"), &c);
    ok(bbt_cred_carries_token(&c), "  without its BBDC- prefix");
    parse(basic("alice:s3cretpassw0rd"), &c);
    ok(!bbt_cred_carries_token(&c), "a Basic password: no token");
    parse(basic("alice:BBDC-MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwV"), &c);
    ok(!bbt_cred_carries_token(&c),
       "a mistyped token (bad checksum) as a password: no token");
    parse(basic("alice:" TOKEN "x"), &c);
    ok(!bbt_cred_carries_token(&c), "a token with a byte more: no token");
    parse("Digest username=\"alice\"", &c);
    ok(!bbt_cred_carries_token(&c), "another scheme: no token");
    parse("Bearer " TOKEN ", Bearer " TOKEN, &c);
    ok(!bbt_cred_carries_token(&c), "a malformed header: no token");
    memset(&c, 0, sizeof(c));
    c.kind = BBT_CRED_BASIC;
    ok(!bbt_cred_carries_token(&c), "Basic without a secret: no token");
    memset(buf, 0, sizeof(buf));
}

/* Which credentials carry a token, and which are passwords. */
static void kinds(const char *h, const char *name, int carries, int token_ok,
                  int password)
{
    bbt_cred_t c;
    bbt_token_t tok;

    parse(h, &c);
    is_int(bbt_cred_carries_token(&c), carries, "%s: %s a token", name,
           carries ? "carries" : "carries no");
    is_int(bbt_cred_token(&c, &tok) == BBT_TOKEN_OK, token_ok,
           "  bbt_cred_token %s", token_ok ? "finds it" : "finds none");
    if (token_ok)
        ok(memcmp(tok.id, "000000000042", 12) == 0, "  with its id");
    bbt_token_wipe(&tok);
    is_int(bbt_cred_is_password(&c), password, "  %s for the providers",
           password ? "a password" : "nothing");
}

#define TOKEN_BARE "MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU"
/* The same with its last character changed: the checksum fails. */
#define TOKEN_TYPO "MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwV"

static void test_carries_token(void)
{
    kinds("Bearer " TOKEN, "Bearer token", 1, 1, 0);
    kinds("Bearer " TOKEN_BARE, "Bearer token without the prefix", 1, 1, 0);
    kinds("Bearer hunter2", "Bearer non-token", 1, 0, 0);
    kinds(basic("alice:" TOKEN), "Basic token", 1, 1, 0);
    kinds(basic("alice:" TOKEN_BARE), "Basic token without the prefix", 1, 1,
          0);
    kinds(basic("alice:hunter2"), "Basic password", 0, 0, 1);
    kinds(basic("alice:BBDC-" TOKEN_TYPO), "Basic mistyped token", 0, 0, 0);
    kinds(basic("alice:BBDC-hunter2"), "Basic password with the prefix", 0, 0,
          0);
    kinds(basic("alice:" TOKEN_TYPO), "Basic mistyped token without the prefix",
          0, 0, 0);
    kinds(basic("alice:BBD"), "Basic password shorter than the prefix", 0, 0,
          1);
    kinds(NULL, "no header", 0, 0, 0);
    kinds("Digest username=\"x\"", "another scheme", 0, 0, 0);
    kinds("Basic !!!!", "a malformed header", 0, 0, 0);
    /* A token typed into the user name field is shown to no provider:
     * mod_authn_file would log it as a user it does not know. */
    kinds(basic(TOKEN ":hunter2"), "a token as the Basic user name", 0, 0, 0);
    kinds(basic(TOKEN_BARE ":hunter2"), "  without the prefix", 0, 0, 0);
    kinds(basic(TOKEN_TYPO ":hunter2"), "  mistyped, without the prefix", 0, 0,
          0);
    kinds(basic("BBDC-MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkK:hunter2"),
          "  one cut short, with the prefix", 0, 0, 0);
    /* A user name is judged as names are: BBDC-deploy may be a user's. */
    kinds(basic("BBDC-deploy:hunter2"), "a user name with the prefix", 0, 0, 1);
    kinds(basic("alice:BBDC-x"), "  but a password with it is none", 0, 0, 0);
    kinds(basic("alice-laptop:hunter2"), "an ordinary user name", 0, 0, 1);
    /* White space typed into a token is read past, as names' is: a no-break
     * space (U+00A0), a thin space (U+2009), a narrow no-break space
     * (U+202F) or an ideographic space (U+3000), anywhere in it. */
    {
        static const char *const sp[] = {"\xc2\xa0", "\xe2\x80\x89",
                                         "\xe2\x80\xaf", "\xe3\x80\x80"};
        static const size_t cuts[] = {3, 7, 12, 20, 25, 30, 40};
        char user[128];
        size_t i, k, given = 0;
        bbt_cred_t c;

        for (i = 0; i < 4; i++) {
            for (k = 0; k < sizeof(cuts) / sizeof(*cuts); k++) {
                snprintf(user, sizeof(user), "%.*s%s%s:hunter2", (int)cuts[k],
                         TOKEN, sp[i], TOKEN + cuts[k]);
                given += parse(basic(user), &c) != BBT_CRED_BASIC ||
                         bbt_cred_is_password(&c);
            }
        }
        ok(given == 0,
           "a token with a non-ASCII space in it as the Basic user name: "
           "shown to no provider (%zu of 28 were)",
           given);
    }
    is_int(bbt_cred_carries_token(NULL), 0, "NULL carries no token");
    is_int(bbt_cred_is_password(NULL), 0, "NULL is no password");
}

/* What the error page of a request httpd refused before the module saw
 * it is not handed (bbt_private.c): anything shaped like a token, however
 * the header is spelled; a password and other schemes' credentials are
 * that page's to read. */
static void holds(const char *h, int want, const char *name)
{
    is_int(bbt_cred_holds_token(h), want, "%s: %s", name,
           want ? "holds a token" : "holds none");
}

/* basic(plain) as a lenient encoder or a hand may spell it: without its
 * padding, in the URL-safe alphabet, with padding bits left set, or cut
 * in two by a space. */
enum { NO_PAD, URL_SAFE, PAD_BITS, CUT, VTAB };

static const char *spelled(const char *plain, int how)
{
    char *b = (char *)basic(plain) + 6;
    size_t n = strlen(b), i;

    switch (how) {
    case NO_PAD:
        while (n && b[n - 1] == '=')
            b[--n] = '\0';
        break;
    case URL_SAFE:
        for (i = 0; i < n; i++)
            b[i] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
        break;
    case PAD_BITS:
        while (n && b[n - 1] == '=')
            n--;
        b[n - 1] = b[n - 1] == 'A' ? 'B' : (char)(b[n - 1] + 1);
        break;
    case CUT:
        memmove(b + 11, b + 10, n - 10 + 1);
        b[10] = ' ';
        break;
    case VTAB:
        b[-1] = '\v';
        break;
    }
    return hdr;
}

static void test_holds_token(void)
{
    static char two[BBT_CRED_MAX_HEADER * 3];
    static char plain[5100];

    holds(NULL, 0, "no header");
    holds("Bearer " TOKEN, 1, "a Bearer token");
    holds("Bearer " TOKEN_BARE, 1, "  without its prefix");
    holds("Bearer " TOKEN_TYPO, 1, "  mistyped");
    holds("bearer   BBDC-hunter2", 1, "  anything with the prefix");
    holds("Bearer " TOKEN " x", 1, "  with text after it (malformed)");
    holds("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl", 0,
          "another issuer's Bearer credential (a JWT)");
    holds(basic("alice:" TOKEN), 1, "a token as the Basic password");
    holds(basic("alice:" TOKEN_TYPO), 1, "  mistyped, without its prefix");
    holds(basic("alice:BBDC-hunter2"), 1, "  a password with the prefix");
    holds(basic(TOKEN ":hunter2"), 1, "  in the user name");
    holds(basic(TOKEN ":"), 1, "  in the user name, with no password");
    holds(basic(TOKEN), 1, "  with no colon (malformed)");
    /* The user is judged as names are, as bbt_cred_is_password does. */
    holds(basic("BBDC-deploy:hunter2"), 0,
          "a user named with the prefix, and a password");
    holds(basic("bbdc-deploy:hunter2"), 0, "  in lower case");
    holds(basic("BBDC-" TOKEN_BARE ":hunter2"), 1, "  but a token as the user");
    /* What httpd's own decoder (apr_base64_decode) and a CGI's library
     * read all the same, the module's strict one does not. */
    holds(spelled("alice:" TOKEN, NO_PAD), 1, "  base64 without its padding");
    holds(spelled("al~ce:" TOKEN, URL_SAFE), 1, "  base64 in the URL alphabet");
    holds(spelled("alice:" TOKEN, PAD_BITS), 1,
          "  base64 with the bits padding leaves set");
    holds(spelled("alice:" TOKEN, CUT), 1, "  base64 cut in two by a space");
    holds(spelled("alice:" TOKEN, VTAB), 1,
          "  after the scheme and a vertical tab");
    holds(spelled("alice: " TOKEN, NO_PAD), 1,
          "  after a space, base64 without its padding");
    holds(spelled("alice:hunter2", NO_PAD), 0,
          "a Basic password, base64 without its padding");
    holds(spelled("al~ce:hunter2", URL_SAFE), 0, "  in the URL alphabet");
    holds(spelled("alice:hunter2", CUT), 0, "  cut in two by a space");
    holds(spelled("alice:hunter2", VTAB), 0,
          "  after the scheme and a vertical tab");
    holds(basic("alice:hunter2"), 0, "a Basic password");
    holds(basic("carol:carol-Pa55-word"), 0, "  another");
    holds(basic("alice:"), 0, "a Basic user with no password");
    holds("Basic carol:carol-Pa55-word", 0,
          "a password not in base64 (malformed)");
    holds("Basic alice:" TOKEN, 1, "a token not in base64 (malformed)");
    holds(TOKEN, 1, "a token with no scheme");
    holds("Digest username=\"alice\", "
          "response=\"6629fae49393a05397450978507c4ef1\"",
          0, "a Digest credential");
    holds("Digest username=\"" TOKEN "\"", 1, "  with a token as its user");
    holds("Negotiate YIIBhgYGKwYBBQUCoIIBejCCAXagMDAuBgkqhkiC9xIBAgIGCSqGSIb3",
          0, "a Negotiate credential");
    snprintf(two, sizeof(two), "Basic dXNlcjpwdw==, %s", basic("alice:" TOKEN));
    holds(two, 1, "two Basic credentials joined, the second a token's");
    /* 6004 base64 characters decode to more than the scratch buffer. */
    memset(two, 'a', 7 + 6004);
    memcpy(two, "Bearer ", 7);
    snprintf(two + 7 + 6004, sizeof(two) - 7 - 6004, " %s",
             basic("alice:" TOKEN));
    holds(two, 1, "a token after a word too long to decode");
    memset(two, 'A', 6 + BBT_CRED_MAX_HEADER * 2);
    memcpy(two, "Basic ", 6);
    two[6 + BBT_CRED_MAX_HEADER * 2] = '\0';
    holds(two, 0,
          "a word of base64 longer than the scratch buffer, holding "
          "none");
    /* A token in Basic credentials that decode to more than the scratch
     * buffer (a header httpd takes, 8190 bytes by default): before a long
     * password, or after a long user, as the strict decoder and the
     * forgiving ones read it. */
    memset(plain, 'x', sizeof(plain));
    memcpy(plain, TOKEN ":", strlen(TOKEN) + 1);
    plain[5000] = '\0';
    holds(basic(plain), 1, "a token user before a long password");
    holds(spelled(plain, NO_PAD), 1, "  base64 without its padding");
    holds(spelled(plain, CUT), 1, "  cut in two by a space");
    memset(plain, 'x', sizeof(plain));
    plain[4800] = ':';
    memcpy(plain + 4801, TOKEN, strlen(TOKEN) + 1);
    holds(basic(plain), 1, "a token password after a 4,800-byte user");
    holds(spelled(plain, URL_SAFE), 1, "  base64 in the URL alphabet");
    memset(plain, 'x', sizeof(plain));
    plain[4800] = ':';
    plain[5000] = '\0';
    holds(basic(plain), 0, "  control: the same without the token");
}

int main(void)
{
    test_none_other();
    test_basic_ok();
    test_bearer_ok();
    test_malformed();
    test_buffers();
    test_carries_token_cases();
    test_carries_token();
    test_holds_token();
    return done_testing();
}
