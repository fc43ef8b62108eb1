/*
 * The checks of the values given on the command line, before any database
 * is asked: user and token names, token ids, numbers, permissions,
 * TARGETs, DURATIONs and WHENs.  The rules are the shared ones
 * (bbt_input.h, bbt_perm.h); what is here is their messages.
 *
 * No libpq here: tested alone by t/unit/test_cli_values.c.
 */
#include <stdio.h>
#include <string.h>

#include "bbt_token.h"
#include "cli.h"

/* The schema's user name rule, checked here for a clearer message. */
int bbtoken_check_user(const char *name)
{
    size_t n = strlen(name);

    if (!bbt_input_user_name(name, n)) {
        return bbtoken_fail("invalid user name: %s", bbtoken_repeatable(name));
    }
    return 0;
}

int bbtoken_check_label(const char *label)
{
    const char *why = bbt_input_token_name(label);

    if (why) {
        return bbtoken_fail("%s", why);
    }
    return 0;
}

int bbtoken_check_email(const char *email)
{
    const char *why = bbt_input_email(email);

    return why ? bbtoken_fail("%s", why) : 0;
}

int bbtoken_check_display_name(const char *display_name)
{
    const char *why = bbt_input_display_name(display_name);

    return why ? bbtoken_fail("%s", why) : 0;
}

/* A token where its id belongs (`bbtoken revoke TOKEN`, the token leaked)
 * is not repeated, but the id it carries is told, when its checksum says
 * the id is the one it was made with: the id is no secret (list shows it,
 * httpd logs it), and is what revoke, update, rotate and audit take. */
int bbtoken_check_id(const char *id)
{
    char tid[BBT_TOKEN_ID_LEN + 1];
    bbt_token_t tok;
    int parsed;

    if (bbt_input_token_id(id, strlen(id))) {
        return 0;
    }
    if (!bbtoken_token_like(id)) {
        return bbtoken_fail("not a token id (12 digits): %s",
                            bbtoken_repeatable(id));
    }
    parsed = bbt_token_parse(id, strlen(id), &tok) == BBT_TOKEN_OK;
    memcpy(tid, tok.id, sizeof(tid));
    bbt_token_wipe(&tok);
    if (parsed) {
        return bbtoken_fail("not a token id (12 digits) but a token (not "
                            "repeated: it is secret); its id is %s",
                            tid);
    }
    return bbtoken_fail("not a token id (12 digits): %s",
                        bbtoken_tokenless(id));
}

int bbtoken_check_number(const char *opt, const char *s, long hi, int none_ok)
{
    if (none_ok && strcmp(s, "none") == 0) {
        return 0;
    }
    if (bbt_input_number(s, 1, hi, NULL) != 0) {
        return bbtoken_fail("%s must be a whole number from 1 to %ld%s: %s",
                            opt, hi, none_ok ? ", or none" : "",
                            bbtoken_repeatable(s));
    }
    return 0;
}

int bbtoken_perm_parse(const char *name, bbt_perm_t *p)
{
    if (bbt_perm_parse(name, p) != 0) {
        return bbtoken_fail("unknown permission %s: expected " BBT_PERM_NAMES,
                            bbtoken_repeatable(name));
    }
    return 0;
}

int bbtoken_kind_perm_pair(const bbtoken_args_t *a, bbt_kind_t kind,
                           bbt_level_t *project, bbt_level_t *repo)
{
    bbt_perm_t list[BBTOKEN_MAX_PERMS];
    const char *why = NULL;
    size_t i;
    int rc;

    for (i = 0; i < a->nperms; i++) {
        if ((rc = bbtoken_perm_parse(a->perms[i], &list[i]))) {
            return rc;
        }
    }
    if (bbt_kind_perms_from_list(kind, list, a->nperms, project, repo, &why) !=
        0) {
        return bbtoken_fail("invalid permissions: %s", why ? why : "refused");
    }
    return 0;
}

int bbtoken_perm_pair(const bbtoken_args_t *a, bbt_level_t *project,
                      bbt_level_t *repo)
{
    return bbtoken_kind_perm_pair(a, BBT_KIND_PERSONAL, project, repo);
}

/* What a key starting with '/' most likely is: a shell expands an
 * unquoted ~name to the home directory of a local account of that name
 * (on Debian, ~nobody is /nonexistent). */
#define BBTOKEN_TILDE_HINT                                                     \
    " (the shell's expansion of an unquoted ~name, where a local account "     \
    "of that name exists? quote it: '~name')"

/* The key is canonicalized the way the module canonicalizes URLs, so a
 * grant typed as "proj" matches /scm/PROJ/... */
int bbtoken_parse_target(const char *arg, bbtoken_target_t *t)
{
    const char *slash = strchr(arg, '/');
    size_t klen = slash ? (size_t)(slash - arg) : strlen(arg);

    /* A token's characters make a key (read in upper case) or a slug:
     * refused, as no real one is shaped so, before either is repeated. */
    if (bbtoken_token_like(arg)) {
        return bbtoken_fail("not a project KEY or KEY/slug: %s",
                            bbtoken_tokenless(arg));
    }
    if (bbt_input_key(arg, klen, t->key) != 0) {
        /* The whole value: a key cut at its first '/' is empty for the
         * path the shell made of an unquoted ~name. */
        return bbtoken_fail("invalid project key: %s%s",
                            bbtoken_repeatable(arg),
                            arg[0] == '/' ? BBTOKEN_TILDE_HINT : "");
    }
    t->slug = NULL;
    if (slash) {
        const char *s = slash + 1;
        size_t n = strlen(s);

        if (!bbt_input_slug(s, n)) {
            if (n > 4 && strcmp(s + n - 4, ".git") == 0) {
                return bbtoken_fail("invalid repository slug: %s (name the "
                                    "repository without .git)",
                                    bbtoken_repeatable(s));
            }
            return bbtoken_fail("invalid repository slug: %s",
                                bbtoken_repeatable(s));
        }
        t->slug = s;
    }
    return 0;
}

int bbtoken_holder_args(const bbtoken_cmd_t *cmd, const bbtoken_args_t *a,
                        bbt_kind_t *kind, bbtoken_target_t *t)
{
    if ((a->noperands > 0) + !!a->project + !!a->repo != 1) {
        return bbtoken_usage_error(cmd->usage,
                                   "%s takes one NAME, or --project KEY, or "
                                   "--repo KEY/slug",
                                   cmd->full);
    }
    memset(t, 0, sizeof(*t));
    *kind = BBT_KIND_PERSONAL;
    if (a->project) {
        *kind = BBT_KIND_PROJECT;
        /* One starting with '/' is no repository: the key's refusal
         * says what it is more likely. */
        if (strchr(a->project, '/') && a->project[0] != '/') {
            return bbtoken_fail("--project takes a project KEY (a repository "
                                "is --repo KEY/slug): %s",
                                bbtoken_repeatable(a->project));
        }
        return bbtoken_parse_target(a->project, t);
    }
    if (a->repo) {
        *kind = BBT_KIND_REPO;
        if (!strchr(a->repo, '/')) {
            return bbtoken_fail("--repo takes a repository, KEY/slug: %s",
                                bbtoken_repeatable(a->repo));
        }
        return bbtoken_parse_target(a->repo, t);
    }
    return 0;
}

void bbtoken_scope_of(bbt_kind_t kind, const bbtoken_target_t *t,
                      bbt_tokscope_t *s)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    snprintf(s->key, sizeof(s->key), "%s", t->key);
    snprintf(s->slug, sizeof(s->slug), "%s", t->slug ? t->slug : "");
}

/* ---- times and durations ---------------------------------------------- */

long long bbtoken_duration(const char *s)
{
    size_t n = strspn(s, "0123456789");
    char num[7];
    long days;
    long long v;

    /* At most six digits, then the unit or nothing. */
    if (n == 0 || n >= sizeof(num)) {
        return -1;
    }
    memcpy(num, s, n);
    num[n] = '\0';
    if (bbt_input_number(num, 0, 999999, &days) != 0) {
        return -1;
    }
    v = days;
    switch (s[n]) {
    case '\0':
    case 'd':
        v *= 86400;
        break;
    case 'h':
        v *= 3600;
        break;
    case 'w':
        v *= 7 * 86400;
        break;
    default:
        return -1;
    }
    if (s[n] != '\0' && s[n + 1] != '\0') {
        return -1;
    }
    return v;
}

int bbtoken_check_unused(const char *s, char *secs, size_t len)
{
    long long v;

    if (strcmp(s, "none") == 0) {
        snprintf(secs, len, "none");
        return 0;
    }
    v = bbtoken_duration(s);
    /* Room for the warning, 7 days before (bbtoken_policy's CHECK). */
    if (v < 8 * 86400 || v > 36500LL * 86400) {
        return bbtoken_fail("--revoke-unused-after must be a duration from 8d "
                            "to 36500d (90d, 2160h, 13w), or none: %s",
                            bbtoken_repeatable(s));
    }
    snprintf(secs, len, "%lld", v);
    return 0;
}

/* YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z], taken as UTC, or a DURATION ago.
 * The database checks the ranges of the fields. */
int bbtoken_when(const char *s, const char *opt, bbtoken_when_t *w)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t n = strlen(s), i;
    long long secs;

    w->abs = w->ago = NULL;
    if ((secs = bbtoken_duration(s)) >= 0) {
        snprintf(w->agobuf, sizeof(w->agobuf), "%lld", secs);
        w->ago = w->agobuf;
        return 0;
    }
    if (n && s[n - 1] == 'Z') {
        n--;
    }
    if (n != 10 && n != 16 && n != 19) {
        goto bad;
    }
    for (i = 0; i < n; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i]) {
            goto bad;
        }
    }
    snprintf(w->absbuf, sizeof(w->absbuf), "%.10s %.*s", s,
             n > 10 ? (int)(n - 11) : 5, n > 10 ? s + 11 : "00:00");
    w->abs = w->absbuf;
    return 0;
bad:
    return bbtoken_fail("%s: not a date (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, "
                        "UTC) or a duration ago (7d, 12h, 2w): %s",
                        opt, bbtoken_repeatable(s));
}
