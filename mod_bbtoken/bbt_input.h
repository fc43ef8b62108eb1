/*
 * The input rules: what a user name, a token name, a token id, a project
 * key, a repository slug and a count of days may be, and the limits that go
 * with them.  The module, the REST API, the CLI and the unit tests all use
 * these, and the schema's CHECK constraints say the same (sql/migrations),
 * so a value is accepted or refused alike wherever it arrives.
 *
 * Nothing here knows httpd, APR, libpq or OpenSSL.
 */
#ifndef BBT_INPUT_H
#define BBT_INPUT_H

#include <stddef.h>
#include <string.h>

/* A token id: 12 random decimal digits, kept as text. */
#define BBT_TOKEN_ID_LEN 12
/* A user name: 1 to 255 bytes. */
#define BBT_USER_MAX 255
/* A project key (not a personal one): 1 to 128 bytes. */
#define BBT_KEY_MAX 128
/* A canonical key buffer: "~" and a user name, and the NUL. */
#define BBT_KEY_BUF (BBT_USER_MAX + 2)
/* A repository slug: 1 to 128 bytes. */
#define BBT_SLUG_MAX 128
/* A token name, and a user's display name: 1 to 255 characters (UTF-8
 * code points, as PostgreSQL's char_length counts them). */
#define BBT_NAME_MAX 255
/* A user's e-mail address: at most 254 bytes, the longest address SMTP
 * can carry (RFC 5321's path limit less its angle brackets). */
#define BBT_EMAIL_MAX 254
/* An expiry: 1 to 36500 days (a hundred years). */
#define BBT_EXPIRY_DAYS_MAX 36500
/* The policy's cap on live tokens per user, as its CHECK says
 * (sql/migrations/0002_lifecycle.sql). */
#define BBT_POLICY_MAX_TOKENS 1000000
/* A token id is 12 random digits; a fresh one collides about never, and a
 * few more draws make that never, without looping forever on a broken
 * random generator. */
#define BBT_MINT_TRIES 5
/* Seconds a client should wait after a 503 for an unreachable database. */
#define BBT_RETRY_AFTER_SECS 10
#define BBT_RETRY_AFTER "10"
/* Revoking leaked tokens by value, without a login: at most this many
 * tokens in one request, and this many requests per client address (IPv6:
 * per /64) in a window of this many seconds (GitHub's revocation API takes
 * 1,000 tokens and 60 calls an hour). */
#define BBT_LEAK_TOKENS_MAX 100
#define BBT_LEAK_CALLS 30
#define BBT_LEAK_WINDOW_SECS 3600
/* A token's allow-list: at most this many networks (the schema's CHECK
 * says the same), each at most this long as text ("addr/bits", an IPv6
 * address with an IPv4 tail included). */
#define BBT_NETS_MAX 16
#define BBT_NET_TEXT_MAX 50
/* The whole list as text, space-separated. */
#define BBT_NETS_TEXT_MAX (BBT_NETS_MAX * (BBT_NET_TEXT_MAX + 1))

/* The permission names, for messages. */
#define BBT_PERM_NAMES                                                         \
    "PROJECT_READ, PROJECT_WRITE, PROJECT_ADMIN, REPO_READ, REPO_WRITE or "    \
    "REPO_ADMIN"
/* What a grant gives: those, or a project's REPO_CREATE. */
#define BBT_GRANT_NAMES                                                        \
    "PROJECT_READ, PROJECT_WRITE, REPO_CREATE, PROJECT_ADMIN, REPO_READ, "     \
    "REPO_WRITE or REPO_ADMIN"

/* ASCII character classes: locale-free, unlike <ctype.h>. */
static inline int bbt_is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static inline int bbt_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline int bbt_is_alnum(unsigned char c)
{
    return bbt_is_alpha(c) || bbt_is_digit(c);
}

static inline unsigned char bbt_to_upper(unsigned char c)
{
    return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 'a' + 'A') : c;
}

static inline unsigned char bbt_to_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* The OR of tbl[b] over the n bytes b at s: whether any of them is of a
 * class tbl marks.  Four bytes a step and no branch per byte: every
 * credential of every request is looked at this way. */
static inline unsigned bbt_bytes_or(const unsigned char tbl[256],
                                    const unsigned char *s, size_t n)
{
    unsigned acc = 0;
    size_t i = 0;

    for (; i + 4 <= n; i += 4) {
        acc |= tbl[s[i]] | tbl[s[i + 1]] | tbl[s[i + 2]] | tbl[s[i + 3]];
    }
    for (; i < n; i++) {
        acc |= tbl[s[i]];
    }
    return acc;
}

/* RFC 9110 tchar: what a token (a method name, an auth-scheme) may hold. */
static inline int bbt_is_tchar(unsigned char c)
{
    return bbt_is_alnum(c) || (c && c < 0x80 && strchr("!#$%&'*+-.^_`|~", c));
}

/* 1 if s[0..len) is a user name: an ASCII letter or digit, then letters,
 * digits and ". _ @ -", at most BBT_USER_MAX bytes. */
int bbt_input_user_name(const char *s, size_t len);

/* A user's slug, Bitbucket's URL form of a user name: the name in lower
 * case with "@" replaced by "_" (carol.Smith@corp is carol.smith_corp).
 * Two users may not share one (the schema's unique index on
 * bbtoken_users.slug), so a slug names one user.  Writes it into out
 * (BBT_USER_MAX + 1 bytes) and returns 0, or -1 (out empty) if s[0..len) is
 * not a user name.  A slug is a user name itself, and its own slug. */
int bbt_input_user_slug(const char *s, size_t len, char *out);

/* SQL true when the user name col is param in any case: A-Z as a-z and no
 * other change, as strcasecmp in the C locale and bbt_input_user_slug take
 * it.  Plain lower() follows the database's LC_CTYPE (under tr_TR it makes
 * "I" a dotless i), COLLATE "C" does not; the schema's indexes on names
 * (version 58) are on this expression, so they serve it. */
#define BBT_SQL_NAME_ANY_CASE(col, param)                                      \
    "lower(" col " COLLATE \"C\") = lower(" param " COLLATE \"C\")"

/* 1 if code point cp is a control character: Unicode's general category
 * Cc, U+0000 to U+001F, U+007F and U+0080 to U+009F.  The schema's
 * bbtoken_token_name_problem (sql/migrations/0005, 0020) says the same. */
static inline int bbt_is_control(long cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* 1 if code point cp is an invisible formatting character, one that
 * reorders, hides or breaks the text around it (U+202E shows what follows
 * reversed): Unicode's default-ignorable code points but the variation
 * selectors, U+2028, U+2029 and U+FFF9 to U+FFFB.  The list is in
 * bbt_input.c; the schema's bbtoken_token_name_problem (sql/migrations/0022)
 * says the same. */
int bbt_is_invisible(long cp);

/* How many bytes, from the first of the len at s, are one character of
 * Unicode's White_Space in UTF-8 (U+0020, U+00A0, U+3000, ... : 1 to 3),
 * or 0: the rule of white space at a name's ends. */
size_t bbt_input_white_space(const char *s, size_t len);

/* The NUL-terminated s as it may be shown on a terminal or in a page:
 * each control character, invisible formatting character and byte that
 * is not UTF-8 becomes "?".  For text that no rule held when it was
 * stored: an audit record's detail written before a rule, an actor a
 * client named.  Writes into out, which holds strlen(s) + 1 bytes (no
 * character grows), and returns the length written. */
size_t bbt_input_shown(const char *s, char *out);

/* 1 if the NUL-terminated s is UTF-8 with no control character
 * (bbt_is_control); the empty string is. */
int bbt_input_utf8(const char *s);

/* NULL if the NUL-terminated s is a valid token name, else a static English
 * reason: empty, not valid UTF-8, a control character (bbt_is_control), an
 * invisible formatting character (bbt_is_invisible), white space (Unicode's
 * White_Space) first or last, longer than BBT_NAME_MAX characters, or
 * shaped like a token (bbt_token_in_name), asked in that order; the reason
 * never repeats s.  The database's CHECK and trigger on bbtoken_tokens
 * apply the same rule with the same words, but for the last clause, which
 * is the CLI's and the REST API's alone. */
const char *bbt_input_token_name(const char *s);

/* A user's display name: the token name's rule but white space at its
 * ends, with its own messages (the database's CHECK, likewise, has no
 * clause of a token's shape). */
const char *bbt_input_display_name(const char *s);

/* NULL if the NUL-terminated s is an acceptable e-mail address, else a
 * static English reason: exactly one "@" with something on either side,
 * UTF-8 with no control characters (bbt_is_control) or spaces, at most
 * BBT_EMAIL_MAX bytes.  Whether the
 * address exists is nobody's to check here. */
const char *bbt_input_email(const char *s);

/* 1 if s[0..len) is a token id: exactly BBT_TOKEN_ID_LEN (12) ASCII
 * digits. */
int bbt_input_token_id(const char *s, size_t len);

/* Parse s as a whole number from lo to hi: ASCII digits only, so " 7",
 * "+7", "7x" and "0x7" are refused rather than guessed.  0 and *out set,
 * or -1. */
int bbt_input_number(const char *s, long lo, long hi, long *out);

/* Canonicalize a project key into out (BBT_KEY_BUF bytes): a project key
 * (a letter, then letters, digits and "_", at most BBT_KEY_MAX) in upper
 * case, or a personal project ("~" and a user name or slug) as "~" and the
 * user's slug (bbt_input_user_slug: ~Carol.Smith@Corp is
 * ~carol.smith_corp), Bitbucket's key of it.  0, or -1 (out empty) if it
 * is not a key. */
int bbt_input_key(const char *key, size_t len, char *out);

/* 1 if s[0..len) is a repository slug: ASCII letters, digits and "_ - .",
 * starting with a letter or digit, at most BBT_SLUG_MAX, not ending ".git"
 * (git-http-backend tries "x.git" when asked for "x"). */
int bbt_input_slug(const char *s, size_t len);

/* What is wrong with s[0..len) as one network of an allow-list, in words,
 * or NULL.  It must be 1 to BBT_NET_TEXT_MAX hex digits, dots, colons and
 * at most one slash, and one that APR can match at request time
 * (apr_ipsubnet_create): not an IPv4-mapped IPv6 address or network
 * ("::ffff:10.0.0.0/104", which APR refuses: it matches a mapped client
 * with the IPv4 network, "10.0.0.0/8"), and not /0.  The database's cidr
 * type is the judge of the rest (it refuses a host part beside a mask,
 * "10.0.0.1/8"), and refuses what this refuses (migration 14).  NULL s
 * is not a network. */
const char *bbt_input_net_problem(const char *s, size_t len);

/* 1 if bbt_input_net_problem finds nothing wrong with s[0..len). */
int bbt_input_net(const char *s, size_t len);

#endif
