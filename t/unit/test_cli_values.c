/* The bbtoken CLI's checks of values, without a database: TARGETs,
 * DURATIONs, WHENs, numbers, names, ids and permissions (cli/values.c),
 * with the exact one-line messages and exit statuses t/22-cli.t and the t/3x
 * tests see from the whole program. */
#include "cli.h"
#include "cli_capture.h"
#include "tap.h"

#include <string.h>

#include "bbt_token.h"

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A check that must fail with exactly this one line on stderr. */
#define REFUSED(call, line, what)                                              \
    do {                                                                       \
        int rc_;                                                               \
        capture_start();                                                       \
        rc_ = (call);                                                          \
        capture_end();                                                         \
        is_int(rc_, BBTOKEN_EXIT_FAIL, "%s: exit 1", what);                    \
        is_str(capture_err, "bbtoken: " line "\n", "%s: says why", what);      \
    } while (0)

#define ACCEPTED(call, what)                                                   \
    do {                                                                       \
        int rc_;                                                               \
        capture_start();                                                       \
        rc_ = (call);                                                          \
        capture_end();                                                         \
        ok(rc_ == 0 && capture_err[0] == '\0', "%s: accepted", what);          \
    } while (0)

/* What a key that begins with '/' is told. */
#define TILDE_HINT                                                             \
    " (the shell's expansion of an unquoted ~name, where a local account "     \
    "of that name exists? quote it: '~name')"

static void test_target(void)
{
    bbtoken_target_t t;
    char key[BBT_KEY_MAX + 2];
    int rc;

    ACCEPTED(bbtoken_parse_target("proj", &t), "proj");
    is_str(t.key, "PROJ", "proj is PROJ");
    ok(t.slug == NULL, "a project: no slug");
    ACCEPTED(bbtoken_parse_target("proj/Repo.x-1_", &t), "proj/Repo.x-1_");
    is_str(t.key, "PROJ", "the key canonical");
    is_str(t.slug, "Repo.x-1_", "the slug exactly as given");
    ACCEPTED(bbtoken_parse_target("~Bob.Smith@x-1/x", &t), "~Bob.Smith@x-1/x");
    is_str(t.key, "~bob.smith_x-1", "a personal key as the slug");
    REFUSED(bbtoken_parse_target("1BAD", &t), "invalid project key: 1BAD",
            "a key starting with a digit");
    REFUSED(bbtoken_parse_target("", &t),
            "invalid project key: ", "an empty key");
    REFUSED(bbtoken_parse_target("/x", &t),
            "invalid project key: /x" TILDE_HINT, "an empty key before a slug");
    REFUSED(bbtoken_parse_target("/nonexistent", &t),
            "invalid project key: /nonexistent" TILDE_HINT,
            "the shell's ~nobody (Debian)");
    REFUSED(bbtoken_parse_target("/home/alice/x", &t),
            "invalid project key: /home/alice/x" TILDE_HINT,
            "the shell's ~alice/x");
    REFUSED(bbtoken_parse_target("~/x", &t), "invalid project key: ~/x",
            "~ alone");
    REFUSED(bbtoken_parse_target("x=1", &t),
            "invalid project key: (not repeated: a connection string "
            "without its --db?)",
            "a connection string");
    REFUSED(bbtoken_parse_target("PROJ/x.git", &t),
            "invalid repository slug: x.git (name the repository without "
            ".git)",
            "a slug ending in .git");
    REFUSED(bbtoken_parse_target("PROJ/.git", &t),
            "invalid repository slug: .git", "the slug .git");
    REFUSED(bbtoken_parse_target("PROJ/-x", &t), "invalid repository slug: -x",
            "a slug starting with -");
    REFUSED(bbtoken_parse_target("PROJ/a/b", &t),
            "invalid repository slug: a/b", "a nested slug");
    REFUSED(bbtoken_parse_target("PROJ/", &t),
            "invalid repository slug: ", "an empty slug");
    memset(key, 'K', BBT_KEY_MAX + 1);
    key[BBT_KEY_MAX + 1] = '\0';
    capture_start();
    rc = bbtoken_parse_target(key, &t);
    capture_end();
    ok(rc == BBTOKEN_EXIT_FAIL &&
           starts(capture_err, "bbtoken: invalid project key: KKKK"),
       "a %d-character key is refused", BBT_KEY_MAX + 1);
    ACCEPTED(bbtoken_parse_target(key + 1, &t), "a 128-character key");
}

static int when(const char *s, bbtoken_when_t *w)
{
    int rc;

    capture_start();
    rc = bbtoken_when(s, "--since", w);
    capture_end();
    return rc;
}

static void test_durations_and_when(void)
{
    bbtoken_when_t w;
    static const char *const bad_durations[] = {
        "",   "x",    "d",   "7x", "-1d",     "+7",  " 7",
        "7 ", "1.5d", "7dd", "7D", "1234567", "0x7", "7m"};
    static const char *const bad_whens[] = {"soon",
                                            "2020-1-1",
                                            "20200101",
                                            "2020-01-01T12",
                                            "2020-01-01 12:34",
                                            "2020-01-01T12:34:5",
                                            "2020-01-01T12:34:567",
                                            "2020/01/01",
                                            "2020-01-01ZZ",
                                            "Z",
                                            ""};
    size_t i;

    is_int(bbtoken_duration("7d"), 7 * 86400, "7d");
    is_int(bbtoken_duration("7"), 7 * 86400, "a bare 7 is days");
    is_int(bbtoken_duration("12h"), 12 * 3600, "12h");
    is_int(bbtoken_duration("2w"), 14 * 86400, "2w");
    is_int(bbtoken_duration("0"), 0, "0");
    is_int(bbtoken_duration("0h"), 0, "0h");
    is_int(bbtoken_duration("007d"), 7 * 86400, "007d");
    is_int(bbtoken_duration("999999w"), 999999LL * 7 * 86400,
           "six digits, the most");
    for (i = 0; i < sizeof(bad_durations) / sizeof(*bad_durations); i++) {
        is_int(bbtoken_duration(bad_durations[i]), -1, "not a duration: '%s'",
               bad_durations[i]);
    }

    is_int(when("90d", &w), 0, "WHEN 90d");
    ok(w.abs == NULL, "  no date");
    is_str(w.ago, "7776000", "  90 days ago, in seconds");
    is_int(when("2026-02-01", &w), 0, "WHEN 2026-02-01");
    ok(w.ago == NULL, "  no duration");
    is_str(w.abs, "2026-02-01 00:00", "  midnight UTC");
    is_int(when("2026-02-01T13:14", &w), 0, "WHEN 2026-02-01T13:14");
    is_str(w.abs, "2026-02-01 13:14", "  to the minute");
    is_int(when("2026-02-01T13:14:15Z", &w), 0, "WHEN 2026-02-01T13:14:15Z");
    is_str(w.abs, "2026-02-01 13:14:15", "  to the second, Z dropped");
    is_int(when("2026-02-30", &w), 0,
           "WHEN 2026-02-30: the shape is checked here, the calendar by the "
           "database");
    for (i = 0; i < sizeof(bad_whens) / sizeof(*bad_whens); i++) {
        char want[200];

        is_int(when(bad_whens[i], &w), BBTOKEN_EXIT_FAIL, "not a WHEN: '%s'",
               bad_whens[i]);
        snprintf(want, sizeof(want),
                 "bbtoken: --since: not a date (YYYY-MM-DD, "
                 "YYYY-MM-DDTHH:MM:SSZ, UTC) or a duration ago (7d, 12h, 2w): "
                 "%s\n",
                 bad_whens[i]);
        is_str(capture_err, want, "  says why, naming the option");
    }
}

static void test_values(void)
{
    char name[4 * BBT_NAME_MAX + 2];
    size_t i;

    ACCEPTED(
        bbtoken_check_number("--expiry-days", "30", BBT_EXPIRY_DAYS_MAX, 0),
        "--expiry-days 30");
    ACCEPTED(
        bbtoken_check_number("--expiry-days", "36500", BBT_EXPIRY_DAYS_MAX, 0),
        "--expiry-days 36500");
    ACCEPTED(bbtoken_check_number("--max-expiry-days", "none",
                                  BBT_EXPIRY_DAYS_MAX, 1),
             "--max-expiry-days none");
    REFUSED(bbtoken_check_number("--expiry-days", "0", BBT_EXPIRY_DAYS_MAX, 0),
            "--expiry-days must be a whole number from 1 to 36500: 0",
            "--expiry-days 0");
    REFUSED(
        bbtoken_check_number("--expiry-days", "36501", BBT_EXPIRY_DAYS_MAX, 0),
        "--expiry-days must be a whole number from 1 to 36500: 36501",
        "--expiry-days 36501");
    REFUSED(
        bbtoken_check_number("--expiry-days", "none", BBT_EXPIRY_DAYS_MAX, 0),
        "--expiry-days must be a whole number from 1 to 36500: none",
        "--expiry-days none");
    REFUSED(bbtoken_check_number("--expiry-days", " 7", BBT_EXPIRY_DAYS_MAX, 0),
            "--expiry-days must be a whole number from 1 to 36500:  7",
            "--expiry-days ' 7'");
    REFUSED(
        bbtoken_check_number("--expiry-days", "1.5", BBT_EXPIRY_DAYS_MAX, 0),
        "--expiry-days must be a whole number from 1 to 36500: 1.5",
        "--expiry-days 1.5");
    REFUSED(
        bbtoken_check_number("--max-expiry-days", "-1", BBT_EXPIRY_DAYS_MAX, 1),
        "--max-expiry-days must be a whole number from 1 to 36500, or "
        "none: -1",
        "--max-expiry-days -1");
    REFUSED(bbtoken_check_number("--max-tokens", "1000001",
                                 BBT_POLICY_MAX_TOKENS, 0),
            "--max-tokens must be a whole number from 1 to 1000000: 1000001",
            "--max-tokens 1000001");

    {
        char secs[32];

        ACCEPTED(bbtoken_check_unused("90d", secs, sizeof(secs)),
                 "--revoke-unused-after 90d");
        is_str(secs, "7776000", "  in seconds");
        ACCEPTED(bbtoken_check_unused("192h", secs, sizeof(secs)),
                 "--revoke-unused-after 192h (the least)");
        is_str(secs, "691200", "  in seconds");
        ACCEPTED(bbtoken_check_unused("36500d", secs, sizeof(secs)),
                 "--revoke-unused-after 36500d (the most)");
        ACCEPTED(bbtoken_check_unused("none", secs, sizeof(secs)),
                 "--revoke-unused-after none");
        is_str(secs, "none", "  none");
        REFUSED(bbtoken_check_unused("191h", secs, sizeof(secs)),
                "--revoke-unused-after must be a duration from 8d to 36500d "
                "(90d, 2160h, 13w), or none: 191h",
                "--revoke-unused-after 191h (no room for the warning)");
        REFUSED(bbtoken_check_unused("7d", secs, sizeof(secs)),
                "--revoke-unused-after must be a duration from 8d to 36500d "
                "(90d, 2160h, 13w), or none: 7d",
                "--revoke-unused-after 7d");
        REFUSED(bbtoken_check_unused("36501d", secs, sizeof(secs)),
                "--revoke-unused-after must be a duration from 8d to 36500d "
                "(90d, 2160h, 13w), or none: 36501d",
                "--revoke-unused-after 36501d");
        REFUSED(bbtoken_check_unused("soon", secs, sizeof(secs)),
                "--revoke-unused-after must be a duration from 8d to 36500d "
                "(90d, 2160h, 13w), or none: soon",
                "--revoke-unused-after soon");
    }

    ACCEPTED(bbtoken_check_user("Bob.Smith@x-1"), "user Bob.Smith@x-1");
    REFUSED(bbtoken_check_user("bad name"), "invalid user name: bad name",
            "user 'bad name'");
    REFUSED(bbtoken_check_user("~alice"), "invalid user name: ~alice",
            "user '~alice'");

    ACCEPTED(bbtoken_check_id("123456789012"), "id 123456789012");
    REFUSED(bbtoken_check_id("12345"), "not a token id (12 digits): 12345",
            "id 12345");
    REFUSED(bbtoken_check_id("12345678901x"),
            "not a token id (12 digits): 12345678901x", "id 12345678901x");
    REFUSED(bbtoken_check_id("1234567890123"),
            "not a token id (12 digits): 1234567890123", "a 13-digit id");

    ACCEPTED(bbtoken_check_label("deploy key \xe2\x9c\x93"), "a UTF-8 name");
    REFUSED(bbtoken_check_label(""), "token name must not be empty",
            "an empty name");
    REFUSED(bbtoken_check_label("a\tb"),
            "token name must not contain control characters", "a tab");
    REFUSED(bbtoken_check_label("ci\xe2\x80\xaeyolped"),
            "token name must not contain invisible formatting characters",
            "U+202E");
    for (i = 0; i < BBT_NAME_MAX; i++) {
        memcpy(name + 2 * i, "\xc3\xa9", 2);
    }
    name[2 * BBT_NAME_MAX] = '\0';
    ACCEPTED(bbtoken_check_label(name), "255 two-byte characters");
    memcpy(name + 2 * BBT_NAME_MAX, "x", 2);
    REFUSED(bbtoken_check_label(name),
            "token name is longer than 255 characters", "256 characters");

    ACCEPTED(bbtoken_check_email("carol.smith@corp.example"),
             "e-mail carol.smith@corp.example");
    REFUSED(bbtoken_check_email("carol"),
            "e-mail address must be one @ with a name before it and a "
            "domain after it",
            "e-mail without @");
    REFUSED(bbtoken_check_email("carol smith@corp"),
            "e-mail address must not contain spaces or control characters",
            "e-mail with a space");
    ACCEPTED(bbtoken_check_display_name("Carol Smith"),
             "display name Carol Smith");
    REFUSED(bbtoken_check_display_name("a\nb"),
            "display name must not contain control characters",
            "display name with a newline");
    REFUSED(bbtoken_check_display_name("Carol\xe2\x80\x8b"),
            "display name must not contain invisible formatting characters",
            "display name with U+200B");
    REFUSED(bbtoken_check_display_name(""), "display name must not be empty",
            "an empty display name");
}

static void perms(const char *p1, const char *p2, const char *want,
                  const char *err)
{
    bbtoken_args_t a;
    bbt_level_t project = 0, repo = 0;
    char got[64];
    int rc;

    memset(&a, 0, sizeof(a));
    if (p1) {
        a.perms[a.nperms++] = p1;
    }
    if (p2) {
        a.perms[a.nperms++] = p2;
    }
    capture_start();
    rc = bbtoken_perm_pair(&a, &project, &repo);
    capture_end();
    if (want) {
        snprintf(got, sizeof(got), "%s %s",
                 bbt_perm_name(BBT_SCOPE_PROJECT, project),
                 bbt_perm_name(BBT_SCOPE_REPO, repo));
        ok(rc == 0 && strcmp(got, want) == 0 && !capture_err[0],
           "--perm %s %s: %s", p1 ? p1 : "(none)", p2 ? p2 : "", want);
    } else {
        is_int(rc, BBTOKEN_EXIT_FAIL, "--perm %s %s: refused", p1,
               p2 ? p2 : "");
        ok(starts(capture_err, err) &&
               strchr(capture_err, '\n') ==
                   capture_err + strlen(capture_err) - 1,
           "  one line: %s", err);
    }
}

static void test_perms(void)
{
    perms(NULL, NULL, "PROJECT_ADMIN REPO_ADMIN", NULL);
    perms("REPO_WRITE", NULL, "PROJECT_READ REPO_WRITE", NULL);
    perms("PROJECT_WRITE", NULL, "PROJECT_WRITE REPO_WRITE", NULL);
    perms("REPO_ADMIN", "PROJECT_WRITE", "PROJECT_WRITE REPO_ADMIN", NULL);
    /* Inherited: the repository level raised to the project's. */
    perms("PROJECT_WRITE", "REPO_READ", "PROJECT_WRITE REPO_WRITE", NULL);
    perms("REPO_WRITE", "PROJECT_ADMIN", "PROJECT_ADMIN REPO_ADMIN", NULL);
    perms("REPO_READ", "REPO_WRITE", NULL, "bbtoken: invalid permissions: ");
    perms("REPO_SUPER", NULL, NULL,
          "bbtoken: unknown permission REPO_SUPER: expected PROJECT_READ, "
          "PROJECT_WRITE, PROJECT_ADMIN, REPO_READ, REPO_WRITE or "
          "REPO_ADMIN\n");
    perms("project_read", NULL, NULL,
          "bbtoken: unknown permission project_read: ");
}
/* A token where a value belongs (`bbtoken revoke TOKEN`, the token leaked)
 * is never repeated, whichever check refuses it, nor a key or slug made
 * of its characters; where an id belongs, the id it carries is told. */
static void test_tokens(void)
{
    char tok[BBT_TOKEN_MAX_LEN + 1], id[BBT_TOKEN_ID_LEN + 1];
    char want[256], typo[BBT_TOKEN_MAX_LEN + 1], buf[256];
    const char *body = tok + BBT_TOKEN_PREFIX_LEN;
    bbtoken_target_t t;
    bbt_token_t parsed;
    size_t i;
    int rc;

    if (bbt_token_generate(tok, id) != 0) {
        ok(0, "a token is made");
        return;
    }
    /* The last character changed: its checksum wrong, its id still told
     * by none. */
    memcpy(typo, tok, sizeof(typo));
    typo[BBT_TOKEN_MAX_LEN - 1] =
        typo[BBT_TOKEN_MAX_LEN - 1] == 'A' ? 'B' : 'A';
    ok(bbt_token_parse(typo, strlen(typo), &parsed) == BBT_TOKEN_BAD_CHECKSUM,
       "the mistyped token's checksum is wrong");
    bbt_token_wipe(&parsed);

    snprintf(want, sizeof(want),
             "bbtoken: not a token id (12 digits) but a token (not repeated: "
             "it is secret); its id is %s\n",
             id);
    for (i = 0; i < 2; i++) {
        capture_start();
        rc = bbtoken_check_id(i ? body : tok);
        capture_end();
        is_int(rc, BBTOKEN_EXIT_FAIL, "a token%s for an id: exit 1",
               i ? " without its prefix" : "");
        is_str(capture_err, want, "  its id told, not the token");
    }
    REFUSED(bbtoken_check_id(typo),
            "not a token id (12 digits): (not repeated: it looks like a "
            "token)",
            "a token mistyped for an id: no id told");
    memcpy(buf, tok, 40);
    buf[40] = '\0';
    REFUSED(bbtoken_check_id(buf),
            "not a token id (12 digits): (not repeated: it looks like a "
            "token)",
            "a token cut short for an id");

    is_str(bbtoken_repeatable(tok), "(not repeated: it looks like a token)",
           "bbtoken_repeatable: a token");
    is_str(bbtoken_repeatable(body), "(not repeated: it looks like a token)",
           "bbtoken_repeatable: a token without its prefix");
    is_str(bbtoken_repeatable("alice"), "alice", "bbtoken_repeatable: a name");
    /* A '/' in its secret, as base64 has: no user name. */
    memcpy(buf, tok, sizeof(tok));
    buf[BBT_TOKEN_MAX_LEN - 2] = '/';
    REFUSED(bbtoken_check_user(buf),
            "invalid user name: (not repeated: it looks like a token)",
            "a token with a '/' for a user name");
    REFUSED(bbtoken_check_number("--max-tokens", tok, 10, 0),
            "--max-tokens must be a whole number from 1 to 10: (not "
            "repeated: it looks like a token)",
            "a token for a number");
    REFUSED(bbtoken_perm_parse(tok, &(bbt_perm_t){0}),
            "unknown permission (not repeated: it looks like a token): "
            "expected " BBT_PERM_NAMES,
            "a token for a permission");

    /* Its body is a valid key (read in upper case) and a valid slug. */
    REFUSED(bbtoken_parse_target(body, &t),
            "not a project KEY or KEY/slug: (not repeated: it looks like a "
            "token)",
            "a token's body for a key");
    snprintf(buf, sizeof(buf), "PROJ/%s", tok);
    REFUSED(bbtoken_parse_target(buf, &t),
            "not a project KEY or KEY/slug: (not repeated: it looks like a "
            "token)",
            "a token for a slug");
    ACCEPTED(bbtoken_parse_target("PROJ/BBDC-tools", &t),
             "a slug that starts with the prefix alone");
}

int main(void)
{
    test_tokens();
    test_target();
    test_durations_and_when();
    test_values();
    test_perms();
    return done_testing();
}
