/* The shared input rules (bbt_input: names, slugs, e-mail addresses) and
 * token minting (bbt_token_mint). The SQLSTATE reading is
 * t/unit/test_sqlstate.c's. */
#include "bbt_input.h"
#include "bbt_token.h"
#include "tap.h"

#include <string.h>

static void user(const char *s, int want)
{
    is_int(bbt_input_user_name(s, strlen(s)), want, "user name '%s' %s", s,
           want ? "accepted" : "refused");
}

static void test_user_names(void)
{
    char longest[BBT_USER_MAX + 2];

    user("alice", 1);
    user("A", 1);
    user("0", 1);
    user("carol.smith@corp", 1);
    user("a_b-c.d@e", 1);
    user("", 0);
    user(".alice", 0);
    user("_alice", 0);
    user("@alice", 0);
    user("-alice", 0);
    user("al ice", 0);
    user("al/ice", 0);
    user("al:ice", 0);
    user("ali\xc3\xa9", 0);
    user("ali\tce", 0);
    memset(longest, 'a', sizeof(longest));
    longest[BBT_USER_MAX] = '\0';
    is_int(bbt_input_user_name(longest, BBT_USER_MAX), 1,
           "a %d-byte user name is accepted", BBT_USER_MAX);
    is_int(bbt_input_user_name(longest, BBT_USER_MAX + 1), 0,
           "a %d-byte user name is refused", BBT_USER_MAX + 1);
    is_int(bbt_input_user_name("alice\0x", 7), 0,
           "a NUL inside the length is refused");
    is_int(bbt_input_user_name(NULL, 3), 0, "NULL is refused");
}

/* UTF-8 of code point cp into buf (5 bytes), NUL-terminated. */
static void utf8(long cp, char *buf)
{
    unsigned char *b = (unsigned char *)buf;

    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        b[1] = 0;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        b[2] = 0;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        b[3] = 0;
    } else {
        b[0] = (unsigned char)(0xf0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f));
        b[4] = 0;
    }
}

/* The invisible formatting characters, written out again from Unicode's
 * DerivedCoreProperties (Default_Ignorable_Code_Point but the variation
 * selectors FE00..FE0F, E0100..E01EF and the Mongolian free ones) and its
 * General_Category (Zl, Zp; the interlinear annotation Cf FFF9..FFFB): the
 * rule says the same, or this test fails. */
static int invisible(long cp)
{
    return cp == 0xad || cp == 0x34f || cp == 0x61c ||
           (cp >= 0x115f && cp <= 0x1160) || (cp >= 0x17b4 && cp <= 0x17b5) ||
           cp == 0x180e || (cp >= 0x200b && cp <= 0x200f) ||
           (cp >= 0x2028 && cp <= 0x2029) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2060 && cp <= 0x206f) || cp == 0x3164 || cp == 0xfeff ||
           cp == 0xffa0 || (cp >= 0xfff0 && cp <= 0xfff8) ||
           (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0x1bca0 && cp <= 0x1bca3) ||
           (cp >= 0x1d173 && cp <= 0x1d17a) ||
           (cp >= 0xe0000 && cp <= 0xe00ff) || (cp >= 0xe01f0 && cp <= 0xe0fff);
}

/* Unicode's White_Space (PropList.txt), written out again. */
static int white(long cp)
{
    return (cp >= 0x9 && cp <= 0xd) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* One rule with the database (bbtoken_token_name_problem): Unicode's
 * controls, C0, DEL and C1, and the invisible formatting characters, and
 * nothing else; and only valid UTF-8. */
static void test_token_name_controls(void)
{
    static const char *const bad_utf8[] = {"a\xff",
                                           "a\xc3",
                                           "\xc0\x80",
                                           "\xc1\xbf",
                                           "\xe0\x80\x80",
                                           "\xed\xa0\x80",
                                           "\xf4\x90\x80\x80",
                                           "\xf8\x88\x80\x80\x80",
                                           "a\x80"
                                           "b"};
    const char *ctl = "token name must not contain control characters";
    const char *inv =
        "token name must not contain invisible formatting characters";
    const char *edge = "token name must not begin or end with white space";
    char buf[16];
    long cp, wrong = 0, refused = 0, hidden = 0, wrong_edge = 0, spaced = 0;
    size_t i;
    /* Under memcheck (tap.h), every control, invisible and white space
     * code point (what the counts below count) and, of the rest, those of
     * one and two bytes and one in 61 above: every length and plane. */
    int memcheck = tap_memcheck();

    is_str(bbt_input_token_name("a\xc2\x85"), ctl, "U+0085 (NEL) refused");
    is_str(bbt_input_token_name("\xc2\x80x"), ctl, "U+0080 refused");
    is_str(bbt_input_token_name("x\xc2\x9f"), ctl, "U+009F refused");
    is_str(bbt_input_token_name("x\xc2\xa0y"), NULL,
           "U+00A0 (no-break space) accepted inside a name");
    is_str(bbt_input_token_name("x\xe2\x80\xa8"), inv,
           "U+2028 (a line separator) refused as invisible formatting");
    is_str(bbt_input_token_name("ci\xe2\x80\xaeyolped"), inv,
           "U+202E (right-to-left override) refused");
    is_str(bbt_input_token_name("ci\xe2\x81\xa6x\xe2\x81\xa9"), inv,
           "U+2066..U+2069 (isolates) refused");
    is_str(bbt_input_token_name("de\xe2\x80\x8bploy"), inv,
           "U+200B (zero-width space) refused");
    is_str(bbt_input_token_name("\xef\xbb\xbf"
                                "ci"),
           inv, "U+FEFF (byte order mark) refused");
    is_str(bbt_input_token_name("ci\xf3\xa0\x80\x81\xf3\xa0\x81\xbf"), inv,
           "tag characters refused");
    is_str(bbt_input_token_name("ok \xe2\x9c\x94\xef\xb8\x8f"), NULL,
           "a variation selector (U+FE0F after a check mark) accepted");
    is_str(bbt_input_token_name("x\xf3\xa0\x84\x80"), NULL,
           "a variation selector above the BMP (U+E0100) accepted");
    is_str(bbt_input_token_name("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d ci"), NULL,
           "right-to-left letters (Hebrew) accepted: only the invisible "
           "characters go");
    is_str(bbt_input_token_name("\xf0\x9f\x94\x91 key"), NULL,
           "a four-byte character accepted");
    for (i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
        is_str(bbt_input_token_name(bad_utf8[i]),
               "token name is not valid UTF-8", "invalid UTF-8 #%zu refused",
               i);
    }
    /* Every scalar value inside a name: refused exactly when it is in Cc,
     * or invisible, each with its reason.  First or last: white space is
     * refused too, after those two. */
    for (cp = 1; cp <= 0x10ffff; cp++) {
        const char *why, *first, *last;
        int cc = cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f);
        int inv_cp = invisible(cp);
        const char *edge_want = cc          ? ctl
                                : inv_cp    ? inv
                                : white(cp) ? edge
                                            : NULL;
        size_t len;

        if (cp >= 0xd800 && cp <= 0xdfff) {
            continue;
        }
        if (memcheck && !cc && !inv_cp && !white(cp) && cp >= 0x800 &&
            cp % 61 != 0) {
            continue;
        }
        buf[0] = 'n';
        utf8(cp, buf + 1);
        len = strlen(buf);
        last = bbt_input_token_name(buf);
        buf[len] = 'n';
        buf[len + 1] = '\0';
        why = bbt_input_token_name(buf);
        first = bbt_input_token_name(buf + 1);
        refused += why != NULL && cc;
        hidden += why != NULL && inv_cp;
        if ((cc || inv_cp) ? (why == NULL || strcmp(why, cc ? ctl : inv) != 0)
                           : why != NULL) {
            if (wrong++ < 5) {
                diag("U+%04lX: %s", cp, why ? why : "accepted");
            }
        }
        if (!same(first, edge_want) || !same(last, edge_want)) {
            if (wrong_edge++ < 5) {
                diag("U+%04lX first: %s, last: %s", cp,
                     first ? first : "accepted", last ? last : "accepted");
            }
        }
        spaced += first != NULL && last != NULL && !strcmp(first, edge) &&
                  !strcmp(last, edge);
    }
    is_int(wrong, 0,
           "every code point inside a name: refused exactly when a control "
           "or invisible");
    is_int(wrong_edge, 0,
           "every code point first and last: refused exactly when a control, "
           "invisible or white space");
    is_int(spaced, 1 + 1 + 1 + 11 + 1 + 1 + 1,
           "17 white space characters refused first and last (U+0020, "
           "U+00A0, U+1680, U+2000-U+200A, U+202F, U+205F, U+3000)");
    is_int(refused, 31 + 1 + 32, "64 controls refused (C0 but NUL, DEL, C1)");
    is_int(hidden,
           1 + 1 + 1 + 2 + 2 + 1 + 5 + 7 + 16 + 1 + 1 + 1 + 12 + 4 + 8 + 256 +
               3600,
           "3919 invisible formatting characters refused");
    is_int(bbt_is_invisible(0x202e) && bbt_is_invisible(0xe0fff) &&
               !bbt_is_invisible(0xe1000) && !bbt_is_invisible(0xfe0f) &&
               !bbt_is_invisible(0x2027) && !bbt_is_invisible(0xac),
           1, "bbt_is_invisible's edges");
    is_int(bbt_is_control(0x9f) && !bbt_is_control(0xa0) &&
               bbt_is_control(0x7f) && !bbt_is_control(0x7e),
           1, "bbt_is_control's edges");
}

static void test_token_names(void)
{
    char name[4 * BBT_NAME_MAX + 8];
    size_t i;

    is_str(bbt_input_token_name("ci"), NULL, "token name 'ci'");
    is_str(bbt_input_token_name("deploy key \xe2\x9c\x93"), NULL,
           "UTF-8 and spaces are fine");
    is_str(bbt_input_token_name("deploy "),
           "token name must not begin or end with white space",
           "a space last refused ('deploy' and 'deploy ' read alike)");
    is_str(bbt_input_token_name(" deploy"),
           "token name must not begin or end with white space",
           "a space first refused");
    is_str(bbt_input_token_name(" "),
           "token name must not begin or end with white space",
           "a space alone refused");
    is_str(bbt_input_token_name("\xe3\x80\x80"),
           "token name must not begin or end with white space",
           "an ideographic space (U+3000) alone refused");
    is_str(bbt_input_token_name(" \t"),
           "token name must not contain control characters",
           "a control before white space at the ends, as the database asks");
    is_str(bbt_input_token_name("a\xe2\x80\xae\x01"),
           "token name must not contain control characters",
           "a control after an invisible character: the control is said, "
           "as the database asks");
    is_str(bbt_input_token_name(""), "token name must not be empty",
           "empty name refused");
    is_str(bbt_input_token_name(NULL), "token name must not be empty",
           "NULL name refused");
    is_str(bbt_input_token_name("a\tb"),
           "token name must not contain control characters", "tab refused");
    is_str(bbt_input_token_name("a\x7f"),
           "token name must not contain control characters", "DEL refused");
    is_str(bbt_input_token_name("a\nb"),
           "token name must not contain control characters", "newline refused");
    is_str(bbt_input_token_name(
               "BBDC-MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU"),
           "token name must not look like a token: a name is listed and kept "
           "in the audit trail, and a token is a secret",
           "a token refused, not repeated");
    is_str(bbt_input_token_name("ci MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwN"),
           "token name must not look like a token: a name is listed and kept "
           "in the audit trail, and a token is a secret",
           "one cut short, without its prefix, after a word: refused");
    is_str(bbt_input_token_name("BBDC"), NULL, "the prefix's letters: a name");
    is_str(bbt_input_token_name("BBDC-deploy"), NULL,
           "the prefix and a word: a name");
    is_str(bbt_input_token_name("BBDC-prod read-only"), NULL,
           "  and words after it");
    is_str(bbt_input_token_name("deploy (BBDC-1234)"), NULL,
           "the prefix inside a name, after a parenthesis");
    is_str(bbt_input_token_name(
               "BBDC-MDAwMDAwMDAwMDQyO gABAgMEBQYHCAkKCwwNDg/w0LwU"),
           "token name must not look like a token: a name is listed and kept "
           "in the audit trail, and a token is a secret",
           "a token with a space typed into it: refused");
    is_str(bbt_input_token_name("deploy (BBDC-MDAwMDAwMDAwMDQyOgABAgMEBQYH)"),
           "token name must not look like a token: a name is listed and kept "
           "in the audit trail, and a token is a secret",
           "a token cut short inside a name: refused");
    is_str(bbt_input_token_name("ci MDAwMDAwMDAwMDQyOgAB"),
           "token name must not look like a token: a name is listed and kept "
           "in the audit trail, and a token is a secret",
           "ending with a token's id, which a message's next words would "
           "make a token of: refused");
    memset(name, 'x', BBT_NAME_MAX);
    name[BBT_NAME_MAX] = '\0';
    is_str(bbt_input_token_name(name), NULL, "%d characters accepted",
           BBT_NAME_MAX);
    name[BBT_NAME_MAX] = 'x';
    name[BBT_NAME_MAX + 1] = '\0';
    is_str(bbt_input_token_name(name),
           "token name is longer than 255 characters", "%d characters refused",
           BBT_NAME_MAX + 1);
    name[BBT_NAME_MAX] = ' ';
    is_str(bbt_input_token_name(name),
           "token name must not begin or end with white space",
           "white space last asked before the length, as the database asks");
    /* Characters, not bytes: 255 two-byte characters are 510 bytes. */
    for (i = 0; i < BBT_NAME_MAX; i++) {
        name[2 * i] = '\xc3';
        name[2 * i + 1] = '\xa9';
    }
    name[2 * BBT_NAME_MAX] = '\0';
    is_str(bbt_input_token_name(name), NULL,
           "255 two-byte characters accepted");
    test_token_name_controls();
}

static void slug(const char *name, const char *want)
{
    char out[BBT_USER_MAX + 1];
    int rc;

    memset(out, 'x', sizeof(out));
    rc = bbt_input_user_slug(name, strlen(name), out);
    if (!want) {
        ok(rc == -1 && out[0] == '\0', "no slug for '%s'", name);
        return;
    }
    ok(rc == 0 && strcmp(out, want) == 0, "slug of '%s' is '%s'", name, want);
    if (rc != 0 || strcmp(out, want) != 0)
        diag("rc %d, got '%s'", rc, out);
}

static void test_user_slugs(void)
{
    char longest[BBT_USER_MAX + 1], out[BBT_USER_MAX + 1];

    slug("alice", "alice");
    slug("Alice", "alice");
    slug("carol.smith@corp", "carol.smith_corp");
    slug("Carol.Smith@Corp.EXAMPLE", "carol.smith_corp.example");
    slug("a@b@c", "a_b_c");
    slug("x_y-z.0", "x_y-z.0");
    /* Two names, one slug: the schema keeps them from both existing. */
    slug("a_b", "a_b");
    slug("A@B", "a_b");
    slug("", NULL);
    slug("@alice", NULL);
    slug("al ice", NULL);
    slug("al%40ice", NULL);
    slug("ali\xc3\xa9", NULL);
    memset(longest, 'A', sizeof(longest));
    longest[BBT_USER_MAX - 1] = '@';
    ok(bbt_input_user_slug(longest, BBT_USER_MAX, out) == 0 &&
           strlen(out) == BBT_USER_MAX && out[0] == 'a' &&
           out[BBT_USER_MAX - 1] == '_',
       "the longest name has a slug as long");
    ok(bbt_input_user_slug(longest, BBT_USER_MAX + 1, out) == -1,
       "a name one byte too long has none");
    ok(bbt_input_user_slug("alice", 5, NULL) == -1, "no buffer: -1");
    ok(bbt_input_user_slug("carol.smith_corp", 16, out) == 0 &&
           bbt_input_user_name(out, strlen(out)),
       "a slug is a user name");
}

static void test_display_names(void)
{
    char name[BBT_NAME_MAX + 2];

    is_str(bbt_input_display_name("Carol Smith"), NULL, "'Carol Smith'");
    is_str(bbt_input_display_name("J\xc3\xbcrgen M\xc3\xbcller"), NULL,
           "UTF-8 and spaces are fine");
    is_str(bbt_input_display_name(""), "display name must not be empty",
           "empty refused");
    is_str(bbt_input_display_name("a\tb"),
           "display name must not contain control characters", "tab refused");
    is_str(bbt_input_display_name("Mallory \xe2\x80\xaenimda"),
           "display name must not contain invisible formatting characters",
           "U+202E refused, as in a token name");
    is_str(bbt_input_display_name(
               "BBDC-MDAwMDAwMDAwMDQyOgABAgMEBQYHCAkKCwwNDg/w0LwU"),
           "display name must not look like a token: a name is shown and "
           "kept in the audit trail, and a token is a secret",
           "a token refused");
    is_str(bbt_input_display_name("BBDC-Jenkins"), NULL,
           "the prefix and a word: a display name");
    is_str(bbt_input_display_name(" Carol Smith "), NULL,
           "white space at its ends accepted: the token name's rule only");
    memset(name, 'x', BBT_NAME_MAX + 1);
    name[BBT_NAME_MAX + 1] = '\0';
    is_str(bbt_input_display_name(name),
           "display name is longer than 255 characters",
           "%d characters refused, as for a token name", BBT_NAME_MAX + 1);
    name[BBT_NAME_MAX] = '\0';
    is_str(bbt_input_display_name(name), NULL, "%d accepted", BBT_NAME_MAX);
}

/* name: how the test calls s (it may hold control characters). */
/* UTF-8 text: the token name's rule without its length. */
static void test_utf8_text(void)
{
    char cp[5];

    is_int(bbt_input_utf8(""), 1, "utf8: empty");
    is_int(bbt_input_utf8("J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x94\x91"), 1,
           "utf8: two-, three- and four-byte characters");
    is_int(bbt_input_utf8("a\xff"), 0, "utf8: a byte that starts nothing");
    is_int(bbt_input_utf8("a\xc3"), 0, "utf8: a cut sequence");
    is_int(bbt_input_utf8("\xc0\xa1"), 0, "utf8: an overlong encoding");
    is_int(bbt_input_utf8("\xed\xa0\x80"), 0, "utf8: a surrogate");
    is_int(bbt_input_utf8("a\tb"), 0, "utf8: a C0 control");
    is_int(bbt_input_utf8("a\x7f"), 0, "utf8: DEL");
    utf8(0x9b, cp);
    is_int(bbt_input_utf8(cp), 0, "utf8: a C1 control (CSI)");
    utf8(0xa0, cp);
    is_int(bbt_input_utf8(cp), 1, "utf8: U+00A0, the first after C1");
    is_int(bbt_input_utf8(NULL), 0, "utf8: NULL");
}

static void email(const char *s, int good, const char *name)
{
    const char *why = bbt_input_email(s);

    ok(good ? why == NULL : why != NULL, "e-mail %s %s", name,
       good ? "accepted" : "refused");
    if (good && why)
        diag("%s", why);
}

static void test_emails(void)
{
    char addr[BBT_EMAIL_MAX + 2];

    email("carol.smith@corp.example", 1, "carol.smith@corp.example");
    email("c+tag@x", 1, "c+tag@x");
    email("j\xc3\xbc"
          "rgen@b\xc3\xbc"
          "cher.example",
          1, "in UTF-8");
    email(NULL, 0, "NULL");
    email("", 0, "empty");
    email("carol", 0, "without @");
    email("@corp", 0, "without a name");
    email("carol@", 0, "without a domain");
    email("a@b@c", 0, "with two @");
    email("carol smith@corp", 0, "with a space");
    email("carol@corp\n", 0, "with a newline");
    email("carol@corp\x7f", 0, "with DEL");
    email("carol\t@corp", 0, "with a tab");
    /* Unicode's other control characters (Cc), as in a token name: CSI
     * would start a terminal's escape sequence where the address is
     * shown, NEL a new line. */
    email("carol\xc2\x9b"
          "31m@corp",
          0, "with U+009B (CSI)");
    email("carol@corp\xc2\x85", 0, "with U+0085 (NEL)");
    email("carol\xc2\x80@corp", 0, "with U+0080");
    email("carol\xc2\xa0@corp", 1, "with U+00A0 (no control character)");
    email("carol\xc2@corp", 0, "not UTF-8");
    /* An address is shown to administrators and mailed to: what reorders
     * or hides text could make it read as another one. */
    email("carol@corp\xe2\x80\xae"
          "elpmaxe.",
          0, "with U+202E (right-to-left override)");
    email("ca\xe2\x80\x8brol@corp", 0, "with U+200B (zero-width space)");
    email("carol@corp\xef\xbb\xbf", 0, "with U+FEFF");
    email("carol@corp\xf3\xa0\x80\x81", 0, "with U+E0001 (a tag)");
    is_str(bbt_input_email("carol\xe2\x81\xa0@corp"),
           "e-mail address must not contain invisible formatting characters",
           "the refusal says why");
    email("carol@corp\xef\xb8\x8f", 1, "with U+FE0F (a variation selector)");
    memset(addr, 'a', sizeof(addr));
    addr[1] = '@';
    addr[BBT_EMAIL_MAX] = '\0';
    is_str(bbt_input_email(addr), NULL, "a %d-byte address accepted",
           BBT_EMAIL_MAX);
    addr[BBT_EMAIL_MAX] = 'a';
    addr[BBT_EMAIL_MAX + 1] = '\0';
    is_str(bbt_input_email(addr), "e-mail address is longer than 254 bytes",
           "a %d-byte address refused", BBT_EMAIL_MAX + 1);
}

static void test_ids_and_numbers(void)
{
    long v = -1;

    is_int(bbt_input_token_id("012345678901", 12), 1, "12 digits: an id");
    is_int(bbt_input_token_id("01234567890", 11), 0, "11 digits: not an id");
    is_int(bbt_input_token_id("0123456789012", 13), 0, "13 digits: not an id");
    is_int(bbt_input_token_id("01234567890a", 12), 0, "a letter: not an id");
    is_int(bbt_input_token_id("-12345678901", 12), 0, "a sign: not an id");

    ok(bbt_input_number("90", 1, BBT_EXPIRY_DAYS_MAX, &v) == 0 && v == 90,
       "90 days");
    ok(bbt_input_number("36500", 1, BBT_EXPIRY_DAYS_MAX, &v) == 0 && v == 36500,
       "36500 days: the most");
    is_int(bbt_input_number("36501", 1, BBT_EXPIRY_DAYS_MAX, &v), -1,
           "36501 refused");
    is_int(bbt_input_number("0", 1, BBT_EXPIRY_DAYS_MAX, &v), -1, "0 refused");
    is_int(bbt_input_number("", 1, 10, &v), -1, "empty refused");
    is_int(bbt_input_number(" 7", 1, 10, &v), -1, "' 7' refused");
    is_int(bbt_input_number("+7", 1, 10, &v), -1, "'+7' refused");
    is_int(bbt_input_number("7x", 1, 10, &v), -1, "'7x' refused");
    is_int(bbt_input_number("-7", -10, 10, &v), -1, "'-7' refused");
    is_int(bbt_input_number("99999999999999999999999", 0, 10, &v), -1,
           "an overflowing number refused");
    ok(bbt_input_number("007", 1, 10, &v) == 0 && v == 7,
       "leading zeros are digits");
}

static void test_mint(void)
{
    bbt_minted_t a, b;
    bbt_token_t tok;

    ok(bbt_token_mint(&a) == 0, "mint a token");
    ok(bbt_token_mint(&b) == 0, "mint another");
    is_int((long long)strlen(a.token), BBT_TOKEN_MAX_LEN,
           "a minted token has the prefix and 44 characters");
    ok(strncmp(a.token, BBT_TOKEN_PREFIX, BBT_TOKEN_PREFIX_LEN) == 0,
       "and starts BBDC-");
    ok(bbt_input_token_id(a.id, strlen(a.id)), "its id is an id");
    ok(bbt_token_parse(a.token, strlen(a.token), &tok) == BBT_TOKEN_OK &&
           strcmp(tok.id, a.id) == 0,
       "it parses, to its own id");
    ok(bbt_token_verify(a.salt, a.hash, &tok), "its hash verifies it");
    ok(!bbt_token_verify(b.salt, b.hash, &tok),
       "another token's hash does not");
    ok(strcmp(a.salt, b.salt) != 0 && strcmp(a.token, b.token) != 0,
       "two mints share neither salt nor token");
    bbt_token_wipe(&tok);
    bbt_minted_wipe(&a);
    ok(a.token[0] == '\0' && a.hash[0] == '\0', "wiped");
    ok(bbt_token_mint(NULL) == -1, "NULL refused");
    bbt_minted_wipe(&b);
}

/* The shape of an allow-list's network, and what APR cannot match; the
 * database judges the rest. */
static void test_nets(void)
{
    static const char *const good[] = {
        "10.0.0.0/8", "127.0.0.1", "::1",      "2001:DB8::/32",
        "::/8",       "::1.2.3.4", "0.0.0.0/1"};
    /* APR refuses an IPv4-mapped address (it matches a mapped client with
     * the IPv4 network instead) and a /0, however spelled. */
    static const char *const unmatchable[] = {
        "::ffff:1.2.3.4/128", "::ffff:10.0.0.0/104",
        "::FFFF:10.0.0.0",    "0:0:0:0:0:ffff:a00:0/104",
        "::ffff:0:0/96",      "0:0:0:0:0:ffff::/80",
        "0.0.0.0/0",          "::/0",
        "10.0.0.0/00",        "10.0.0.0/0000000000000000000"};
    const char *why;
    static const char *const bad[] = {
        "",    "/8",           "10.0.0.0/",   "10.0.0.0/8/8", "10.0.0.0 /8",
        "a,b", "host.example", "10.0.0.0/8\n"};
    char longest[BBT_NET_TEXT_MAX + 2];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ok(bbt_input_net(good[i], strlen(good[i])), "a network: %s", good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(!bbt_input_net(bad[i], strlen(bad[i])), "not one: '%s'", bad[i]);
        why = bbt_input_net_problem(bad[i], strlen(bad[i]));
        ok(why && strstr(why, "not a network"), "  in words: %s",
           why ? why : "(none)");
    }
    for (i = 0; i < sizeof(unmatchable) / sizeof(unmatchable[0]); i++) {
        ok(!bbt_input_net(unmatchable[i], strlen(unmatchable[i])),
           "not one APR can match: %s", unmatchable[i]);
    }
    why = bbt_input_net_problem("::ffff:10.0.0.0/104", 19);
    ok(why && strstr(why, "IPv4-mapped") && strstr(why, "10.0.0.0/8"),
       "a mapped network: says so, and how to write it");
    why = bbt_input_net_problem("0.0.0.0/0", 9);
    ok(why && strstr(why, "/0"), "a /0: says so");
    ok(!bbt_input_net(NULL, 0) && bbt_input_net_problem(NULL, 3),
       "NULL: not one");
    memset(longest, '1', sizeof(longest));
    ok(bbt_input_net(longest, BBT_NET_TEXT_MAX), "BBT_NET_TEXT_MAX long");
    ok(!bbt_input_net(longest, BBT_NET_TEXT_MAX + 1), "one more: not");
}

/* bbt_input_white_space, asked at every byte of a message, tells most
 * bytes without decoding them: still every scalar value's UTF-8 is white
 * space exactly when Unicode says so, its whole length, and never when cut
 * short. */
static void test_white_space(void)
{
    char buf[8];
    long cp, wrong = 0, found = 0;
    size_t len;
    int memcheck = tap_memcheck();

    for (cp = 0; cp <= 0x10ffff; cp++) {
        if ((cp >= 0xd800 && cp <= 0xdfff) ||
            (memcheck && !white(cp) && cp >= 0x800 && cp % 61 != 0)) {
            continue;
        }
        utf8(cp, buf);
        len = cp ? strlen(buf) : 1;
        buf[len] = 'x';
        found += bbt_input_white_space(buf, len + 1) != 0;
        if (bbt_input_white_space(buf, len + 1) != (white(cp) ? len : 0) ||
            bbt_input_white_space(buf, len) != (white(cp) ? len : 0) ||
            (len > 1 && bbt_input_white_space(buf, len - 1) != 0)) {
            if (wrong++ < 5) {
                diag("U+%04lX: %zu", cp, bbt_input_white_space(buf, len + 1));
            }
        }
    }
    is_int(wrong, 0,
           "every code point: white space exactly when Unicode's White_Space");
    is_int(found, 25, "  25 of them (6 ASCII, 19 more)");
}

int main(void)
{
    test_user_names();
    test_token_names();
    test_user_slugs();
    test_display_names();
    test_utf8_text();
    test_white_space();
    test_emails();
    test_ids_and_numbers();
    test_mint();
    test_nets();
    return done_testing();
}
