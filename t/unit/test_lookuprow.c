/* A token's packed lookup row (bbt_lookuprow.h): every field read as the
 * database writes it, and every other shape refused whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_lookuprow.h"
#include "tap.h"

enum {
    F_VERSION,
    F_SALT,
    F_HASH,
    F_REVOKED,
    F_ACTIVE,
    F_USER_ID,
    F_EXPIRES,
    F_LAST_USE,
    F_REFUSED,
    F_PROJECT_PERM,
    F_REPO_PERM,
    F_TOKEN_NAME,
    F_USER_NAME,
    F_KEY,
    F_SLUG,
    F_NETS,
    F_SEEN,
    F_LEVELS,
    F_COUNT
};

/* Text field t as the database writes it ("length:t"), kept for the
 * test's life and freed at its end (memcheck finds none lost). */
static char *kept[256];
static size_t nkept;

static void free_kept(void)
{
    while (nkept > 0) {
        free(kept[--nkept]);
    }
}

static const char *T(const char *t)
{
    size_t n = strlen(t) + 24;
    char *s = malloc(n);

    if (!s || nkept == sizeof(kept) / sizeof(kept[0])) {
        abort();
    }
    if (nkept == 0) {
        atexit(free_kept);
    }
    snprintf(s, n, "%zu:%s", strlen(t), t);
    kept[nkept++] = s;
    return s;
}

static const char *personal[F_COUNT];

static void base(const char **f)
{
    memcpy(f, personal, sizeof(personal));
}

/* The fields joined as the column holds them, into buf. */
static size_t join(const char **f, int n, char *buf, size_t cap)
{
    size_t len = 0;
    int i;

    buf[0] = '\0';
    for (i = 0; i < n; i++) {
        len +=
            (size_t)snprintf(buf + len, cap - len, "%s%s", i ? " " : "", f[i]);
    }
    return len;
}

static char buf[BBT_LOOKUPROW_LEVELS_MAX + 8192];
static bbt_lookuprow_t row;

static int parse_n(const char **f, int n)
{
    return (int)bbt_lookuprow_parse(buf, join(f, n, buf, sizeof(buf)), &row);
}

static int parse(const char **f)
{
    return parse_n(f, F_COUNT);
}

/* The base row with field i set to v. */
static int with(int i, const char *v)
{
    const char *f[F_COUNT];

    base(f);
    f[i] = v;
    return parse(f);
}

static int zeroed(void)
{
    static const bbt_lookuprow_t zero;

    return memcmp(&row, &zero, sizeof(row)) == 0;
}

/* Field i set to v is refused, and leaves nothing behind. */
static void bad(int i, const char *v, const char *what)
{
    ok(with(i, v) == BBT_LOOKUPROW_MALFORMED && zeroed(), "refused: %s", what);
}

static void good(int i, const char *v, const char *what)
{
    ok(with(i, v) == BBT_LOOKUPROW_OK, "read: %s", what);
}

static void project_fields(const char **f)
{
    base(f);
    f[F_ACTIVE] = "-";
    f[F_USER_ID] = "-";
    f[F_USER_NAME] = "-";
    f[F_KEY] = T("PROJ");
    f[F_LEVELS] = "-";
}

int main(void)
{
    const char *f[F_COUNT];
    char salt[BBT_SALT_HEX_LEN + 2], hash[BBT_HASH_HEX_LEN + 2];
    char big[BBT_LOOKUPROW_LEVELS_MAX + 2];
    unsigned char want[BBT_HASH_LEN];
    size_t n;

    memset(salt, 'a', sizeof(salt));
    salt[BBT_SALT_HEX_LEN] = '\0';
    memset(hash, '0', sizeof(hash));
    hash[BBT_HASH_HEX_LEN] = '\0';
    hash[0] = 'f';
    hash[BBT_HASH_HEX_LEN - 1] = '9';
    personal[F_VERSION] = "1";
    personal[F_SALT] = salt;
    personal[F_HASH] = hash;
    personal[F_REVOKED] = "f";
    personal[F_ACTIVE] = "t";
    personal[F_USER_ID] = "42";
    personal[F_EXPIRES] = "-";
    personal[F_LAST_USE] = "1700000000000000";
    personal[F_REFUSED] = "-";
    personal[F_PROJECT_PERM] = T("PROJECT_READ");
    personal[F_REPO_PERM] = T("REPO_WRITE");
    personal[F_TOKEN_NAME] = T("my laptop 1:2 - 5:x");
    personal[F_USER_NAME] = T("alice");
    personal[F_KEY] = "-";
    personal[F_SLUG] = "-";
    personal[F_NETS] = "-";
    personal[F_SEEN] = T("10.1.2.0/24 2001:db8:1:2::/64");
    personal[F_LEVELS] = T("~alice:3 PROJ:2");

    /* A personal token's row, field by field. */
    base(f);
    is_int(parse(f), BBT_LOOKUPROW_OK, "a personal token's row");
    memset(want, 0xaa, BBT_SALT_LEN);
    ok(memcmp(row.salt, want, BBT_SALT_LEN) == 0, "  salt, as bytes");
    memset(want, 0, BBT_HASH_LEN);
    want[0] = 0xf0;
    want[BBT_HASH_LEN - 1] = 0x09;
    ok(memcmp(row.hash, want, BBT_HASH_LEN) == 0, "  hash, as bytes");
    is_int(row.revoked, 0, "  not revoked");
    is_int(row.user_active, 1, "  owner active");
    is_int(row.user_id, 42, "  owner id");
    is_int(row.expires_us, 0, "  no expiry: 0");
    is_int(row.last_use_us, 1700000000000000LL, "  last use");
    is_int(row.refused_us, 0, "  no refusal: 0");
    is_int(row.tok_project, BBT_LEVEL_READ, "  PROJECT_READ");
    is_int(row.tok_repo, BBT_LEVEL_WRITE, "  REPO_WRITE");
    is_str(row.token_name, "my laptop 1:2 - 5:x",
           "  a name holding spaces, colons, a dash and a length");
    is_str(row.user_name, "alice", "  owner name");
    is_int(row.scope.kind, BBT_KIND_PERSONAL, "  personal");
    is_str(row.nets, "", "  no allow-list: any address");
    is_int(row.ngroups, 2, "  two address groups");
    is_int(row.groups[1].family, 6, "  the second IPv6");
    is_str(row.levels, "~alice:3 PROJ:2", "  level map");
    ok(row.token_name > buf && row.token_name < buf + sizeof(buf),
       "  strings point into the column, cut in place");
    is_int(row.expired + row.stale + row.refusal_due, 0,
           "  the clock's fields are the caller's");

    /* The values each field may take. */
    ok(with(F_REVOKED, "t") == 0 && row.revoked == 1, "revoked");
    ok(with(F_ACTIVE, "f") == 0 && row.user_active == 0, "owner disabled");
    ok(with(F_EXPIRES, "1800000000000000") == 0 &&
           row.expires_us == 1800000000000000LL,
       "an expiry");
    ok(with(F_EXPIRES, "0") == 0 && row.expires_us == -1,
       "an expiry at the epoch is a time (-1), not none");
    ok(with(F_EXPIRES, "-86400000000") == 0 && row.expires_us == -86400000000LL,
       "an expiry before the epoch");
    ok(with(F_REFUSED, "1700000000000001") == 0 &&
           row.refused_us == 1700000000000001LL,
       "a refusal audited");
    ok(with(F_LAST_USE, "-") == 0 && row.last_use_us == 0, "never used: 0");
    ok(with(F_LAST_USE, "9223372036854775807") == 0 &&
           row.last_use_us == INT64_MAX,
       "the largest bigint");
    ok(with(F_LAST_USE, "-9223372036854775808") == 0 &&
           row.last_use_us == INT64_MIN,
       "the smallest bigint");
    ok(with(F_PROJECT_PERM, T("PROJECT_ADMIN")) == 0 &&
           row.tok_project == BBT_LEVEL_ADMIN,
       "PROJECT_ADMIN");
    ok(with(F_NETS, T("10.0.0.0/8 ::1/128")) == 0 &&
           strcmp(row.nets, "10.0.0.0/8 ::1/128") == 0,
       "an allow-list");
    ok(with(F_SEEN, T("")) == 0 && row.ngroups == 0, "no address group");
    ok(with(F_LEVELS, "-") == 0 && row.levels == NULL,
       "no level map (too many grants): NULL");
    ok(with(F_LEVELS, T("")) == 0 && row.levels && !row.levels[0],
       "an empty level map (a disabled owner) is not NULL");
    ok(with(F_LEVELS, T("")) == 0 && row.user_name &&
           strcmp(row.user_name, "alice") == 0,
       "  the field before it still ends where it should");
    memset(big, 'x', BBT_USER_MAX);
    big[BBT_USER_MAX] = '\0';
    good(F_USER_NAME, T(big), "a user name of BBT_USER_MAX bytes");
    big[BBT_USER_MAX] = 'x';
    big[BBT_USER_MAX + 1] = '\0';
    bad(F_USER_NAME, T(big), "a user name longer than BBT_USER_MAX");

    /* A project's and a repository's tokens. */
    project_fields(f);
    ok(parse(f) == 0 && row.scope.kind == BBT_KIND_PROJECT &&
           strcmp(row.scope.key, "PROJ") == 0 && row.user_name == NULL &&
           row.user_id == 0 && row.user_active == 0 && row.levels == NULL,
       "a project's token: no owner, its key");
    f[F_KEY] = T("~alice");
    ok(parse(f) == 0 && strcmp(row.scope.key, "~alice") == 0,
       "a personal project's token");
    project_fields(f);
    f[F_PROJECT_PERM] = "-";
    f[F_SLUG] = T("repo.x-1");
    ok(parse(f) == 0 && row.scope.kind == BBT_KIND_REPO &&
           strcmp(row.scope.slug, "repo.x-1") == 0 &&
           row.tok_project == BBT_LEVEL_NONE,
       "a repository's token: no project level");

    /* Owner and kind, as the database makes them together. */
    project_fields(f);
    f[F_USER_ID] = "7";
    is_int(parse(f), BBT_LOOKUPROW_MALFORMED,
           "a project's token with an owner id");
    project_fields(f);
    f[F_USER_NAME] = T("alice");
    is_int(parse(f), BBT_LOOKUPROW_MALFORMED,
           "a project's token with an owner name");
    project_fields(f);
    f[F_ACTIVE] = "t";
    is_int(parse(f), BBT_LOOKUPROW_MALFORMED,
           "a project's token with an owner state");
    project_fields(f);
    f[F_LEVELS] = T("*:3");
    is_int(parse(f), BBT_LOOKUPROW_MALFORMED,
           "a project's token with a level map");
    project_fields(f);
    f[F_KEY] = "-";
    f[F_SLUG] = T("repo");
    is_int(parse(f), BBT_LOOKUPROW_MALFORMED, "a slug without a key");
    project_fields(f);
    f[F_KEY] = T("proj x");
    is_int(parse(f), BBT_LOOKUPROW_MALFORMED, "a key that is no key");
    project_fields(f);
    f[F_KEY] = T("");
    is_int(parse(f), BBT_LOOKUPROW_MALFORMED, "an empty key");
    bad(F_KEY, T("PROJ"), "a personal token (an owner) with a key");
    bad(F_USER_ID, "-", "an owner's name and state without an id");
    bad(F_ACTIVE, "-", "an owner without a state");
    bad(F_USER_NAME, "-", "an owner without a name");
    bad(F_USER_NAME, T(""), "an empty owner name");
    bad(F_USER_ID, "0", "owner id 0 (0 means none)");
    bad(F_USER_ID, "-5", "a negative owner id");

    /* A personal token whose owner's row is gone (a user deleted where
     * no cascade fired): none of the owner's fields, no level map.  Said
     * as such, never read as a token without an owner's limits. */
    base(f);
    f[F_ACTIVE] = f[F_USER_ID] = f[F_USER_NAME] = f[F_LEVELS] = "-";
    ok(parse(f) == BBT_LOOKUPROW_ORPHAN && zeroed(),
       "a personal token without an owner: its own status, nothing left");
    f[F_LEVELS] = T("~alice:3");
    ok(parse(f) == BBT_LOOKUPROW_MALFORMED && zeroed(),
       "  with a level map still: malformed");
    f[F_LEVELS] = "-";
    f[F_ACTIVE] = "t";
    ok(parse(f) == BBT_LOOKUPROW_MALFORMED && zeroed(),
       "  with an owner's state alone: malformed");
    f[F_ACTIVE] = "-";
    f[F_PROJECT_PERM] = T("PROJECT_NOPE");
    ok(parse(f) == BBT_LOOKUPROW_MALFORMED && zeroed(),
       "  with an unknown permission: malformed");

    /* The version. */
    ok(with(F_VERSION, "2") == BBT_LOOKUPROW_UNKNOWN && zeroed(),
       "version 2: another format's, said so");
    is_int(with(F_VERSION, "10"), BBT_LOOKUPROW_UNKNOWN, "version 10");
    is_int(with(F_VERSION, "01"), BBT_LOOKUPROW_UNKNOWN, "version 01");
    bad(F_VERSION, "v1", "a version that is no number");
    bad(F_VERSION, "", "no version");
    bad(F_VERSION, "1x", "a version with more after it");

    /* Shapes of the whole. */
    is_int(bbt_lookuprow_parse(strcpy(buf, ""), 0, &row),
           BBT_LOOKUPROW_MALFORMED, "an empty column (SQL NULL)");
    is_int(bbt_lookuprow_parse(strcpy(buf, "1"), 1, &row),
           BBT_LOOKUPROW_MALFORMED, "a version alone");
    is_int(bbt_lookuprow_parse(strcpy(buf, "1 "), 2, &row),
           BBT_LOOKUPROW_MALFORMED, "a version and a space");
    base(f);
    is_int(parse_n(f, F_COUNT - 1), BBT_LOOKUPROW_MALFORMED, "a field short");
    n = join(f, F_COUNT, buf, sizeof(buf));
    strcpy(buf + n, " -");
    is_int(bbt_lookuprow_parse(buf, n + 2, &row), BBT_LOOKUPROW_MALFORMED,
           "a field more");
    n = join(f, F_COUNT, buf, sizeof(buf));
    strcpy(buf + n, " ");
    is_int(bbt_lookuprow_parse(buf, n + 1, &row), BBT_LOOKUPROW_MALFORMED,
           "a trailing space");
    n = join(f, F_COUNT, buf, sizeof(buf));
    buf[n] = 'x';
    buf[n + 1] = '\0';
    is_int(bbt_lookuprow_parse(buf, n, &row), BBT_LOOKUPROW_MALFORMED,
           "a column not ended by a NUL where its length says");
    is_int(bbt_lookuprow_parse(NULL, 0, &row), BBT_LOOKUPROW_MALFORMED,
           "no column");
    n = join(f, F_COUNT, buf, sizeof(buf));
    buf[n - 1] = '\0';
    is_int(bbt_lookuprow_parse(buf, n - 1, &row), BBT_LOOKUPROW_MALFORMED,
           "a column cut short by one byte");
    base(f);
    f[F_SALT] = "";
    is_int(parse(f), BBT_LOOKUPROW_MALFORMED, "two spaces (an empty field)");

    /* The salt and the hash: exactly their length of lower-case hex. */
    salt[BBT_SALT_HEX_LEN - 1] = '\0';
    bad(F_SALT, salt, "a salt one digit short");
    salt[BBT_SALT_HEX_LEN - 1] = 'a';
    salt[BBT_SALT_HEX_LEN] = 'a';
    salt[BBT_SALT_HEX_LEN + 1] = '\0';
    bad(F_SALT, salt, "a salt one digit long");
    salt[BBT_SALT_HEX_LEN] = '\0';
    salt[3] = 'A';
    bad(F_SALT, salt, "an upper-case digit in the salt");
    salt[3] = 'g';
    bad(F_SALT, salt, "a salt that is not hex");
    salt[3] = 'a';
    hash[BBT_HASH_HEX_LEN - 1] = '\0';
    bad(F_HASH, hash, "a hash one digit short");
    hash[BBT_HASH_HEX_LEN - 1] = '0';
    hash[BBT_HASH_HEX_LEN] = '0';
    hash[BBT_HASH_HEX_LEN + 1] = '\0';
    bad(F_HASH, hash, "a hash one digit long");
    hash[BBT_HASH_HEX_LEN] = '\0';
    hash[10] = ' ';
    bad(F_HASH, hash, "a space in the hash");
    hash[10] = '0';
    good(F_HASH, hash, "(the hash restored reads)");

    /* Flags. */
    bad(F_REVOKED, "-", "revoked NULL");
    bad(F_REVOKED, "T", "revoked T");
    bad(F_REVOKED, "true", "revoked true");
    bad(F_REVOKED, "", "revoked empty");
    bad(F_ACTIVE, "1", "owner state 1");
    bad(F_ACTIVE, "tf", "owner state tf");

    /* Integers. */
    bad(F_USER_ID, "042", "a leading zero");
    bad(F_EXPIRES, "00", "two zeros");
    bad(F_EXPIRES, "-0", "-0");
    bad(F_EXPIRES, "+5", "a plus sign");
    bad(F_EXPIRES, "--5", "two minus signs");
    bad(F_EXPIRES, "- 5", "a minus sign alone before a space");
    bad(F_EXPIRES, "1e6", "an exponent");
    bad(F_EXPIRES, "1.5", "a fraction");
    bad(F_EXPIRES, "", "no digit");
    bad(F_LAST_USE, "9223372036854775808", "one past the largest bigint");
    bad(F_LAST_USE, "-9223372036854775809", "one past the smallest bigint");
    bad(F_LAST_USE, "99999999999999999999999", "far past the largest");
    bad(F_REFUSED, "1x", "a digit and a letter");

    /* Text. */
    bad(F_TOKEN_NAME, "20:my laptop 1:2 - 5:x", "a length one too long");
    bad(F_TOKEN_NAME, "18:my laptop 1:2 - 5:x", "a length one too short");
    bad(F_TOKEN_NAME, "019:my laptop 1:2 - 5:x",
        "a length with a leading zero");
    bad(F_TOKEN_NAME, "19my laptop 1:2 - 5:x", "no colon after the length");
    bad(F_TOKEN_NAME, ":my laptop", "no length");
    bad(F_TOKEN_NAME, "-1:x", "a negative length");
    bad(F_TOKEN_NAME, "99999999999999999999999:x", "a length far too long");
    bad(F_TOKEN_NAME, "-", "no token name");
    bad(F_TOKEN_NAME, T(""), "an empty token name");
    bad(F_LEVELS, "9999:~alice:3", "a length past the column's end");
    memset(big, 'n', BBT_LOOKUPROW_LEVELS_MAX + 1);
    big[BBT_LOOKUPROW_LEVELS_MAX + 1] = '\0';
    bad(F_LEVELS, T(big), "a level map longer than the bound");
    big[BBT_LOOKUPROW_LEVELS_MAX] = '\0';
    good(F_LEVELS, T(big), "a level map as long as the bound (read as text)");
    memset(big, 'n', BBT_AGROUPS_MAX * BBT_AGROUP_TEXT + 1);
    big[BBT_AGROUPS_MAX * BBT_AGROUP_TEXT + 1] = '\0';
    bad(F_SEEN, T(big), "address groups longer than the database keeps");
    bad(F_SEEN, "-", "no address groups: NULL is not what the database says");
    bad(F_NETS, T(""), "an empty allow-list is not read as any address");
    bad(F_REPO_PERM, "-", "no repository permission");
    bad(F_REPO_PERM, T("REPO_READX"), "an unknown permission");
    bad(F_REPO_PERM, T("repo_read"), "a permission in lower case");
    bad(F_REPO_PERM, T("PROJECT_READ"),
        "a project permission as the repository's");
    bad(F_PROJECT_PERM, T("REPO_READ"),
        "a repository permission as the project's");
    bad(F_PROJECT_PERM, T("PROJECT_ADMIN_"), "a permission name too long");

    /* A NUL inside a text field's bytes. */
    base(f);
    f[F_LEVELS] = "5:ab@de";
    n = join(f, F_COUNT, buf, sizeof(buf));
    *strchr(buf + n - 5, '@') = '\0';
    is_int(bbt_lookuprow_parse(buf, n, &row), BBT_LOOKUPROW_MALFORMED,
           "a NUL inside a text");
    return done_testing();
}
