/*
 * Token kinds and their scope (see bbt_kind.h).
 */
#include <stdio.h>
#include <string.h>

#include "bbt_kind.h"

static int bbt_kind_key_ok(const char *key)
{
    char canon[BBT_KEY_BUF];
    size_t n = strlen(key);

    /* A stored key is canonical already: the rule must give it back. */
    return n < BBT_KEY_BUF && bbt_input_key(key, n, canon) == 0 &&
           strcmp(canon, key) == 0;
}

int bbt_kind_valid(const bbt_tokscope_t *s)
{
    size_t klen = strnlen(s->key, sizeof(s->key));
    size_t slen = strnlen(s->slug, sizeof(s->slug));

    if (klen == sizeof(s->key) || slen == sizeof(s->slug)) {
        return 0;
    }
    switch (s->kind) {
    case BBT_KIND_PERSONAL:
        return klen == 0 && slen == 0;
    case BBT_KIND_PROJECT:
        return bbt_kind_key_ok(s->key) && slen == 0;
    case BBT_KIND_REPO:
        return bbt_kind_key_ok(s->key) && bbt_input_slug(s->slug, slen);
    case BBT_KIND_INVALID:
        break;
    }
    return 0;
}

int bbt_kind_from_row(const char *key, const char *slug, bbt_tokscope_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!key && !slug) {
        out->kind = BBT_KIND_PERSONAL;
        return 0;
    }
    out->kind = BBT_KIND_INVALID;
    if (!key || strlen(key) >= sizeof(out->key) ||
        (slug && strlen(slug) >= sizeof(out->slug))) {
        return -1;
    }
    strcpy(out->key, key);
    if (slug) {
        strcpy(out->slug, slug);
    }
    out->kind = slug ? BBT_KIND_REPO : BBT_KIND_PROJECT;
    if (!bbt_kind_valid(out)) {
        memset(out, 0, sizeof(*out));
        out->kind = BBT_KIND_INVALID;
        return -1;
    }
    return 0;
}

int bbt_kind_perms_valid(bbt_kind_t kind, bbt_level_t project, bbt_level_t repo)
{
    switch (kind) {
    case BBT_KIND_PERSONAL:
    case BBT_KIND_PROJECT:
        return bbt_perm_combination_valid(project, repo);
    case BBT_KIND_REPO:
        return project == BBT_LEVEL_NONE &&
               bbt_perm_combination_valid(BBT_LEVEL_READ, repo);
    case BBT_KIND_INVALID:
        break;
    }
    return 0;
}

const char *bbt_kind_perm_names(bbt_kind_t kind, bbt_level_t project,
                                bbt_level_t repo)
{
    /* Indexed [project][repo]; a repository token's row is NONE's.  Only
     * the pairs bbt_kind_perms_valid lets through are read: the gaps
     * (create, a repository level below the project's) are never reached,
     * and the unit test holds every entry to bbt_perm_name's spelling. */
    static const char *const names[BBT_LEVEL_ADMIN + 1][BBT_LEVEL_ADMIN + 1] = {
        [BBT_LEVEL_NONE] =
            {
                [BBT_LEVEL_READ] = "REPO_READ",
                [BBT_LEVEL_WRITE] = "REPO_WRITE",
                [BBT_LEVEL_ADMIN] = "REPO_ADMIN",
            },
        [BBT_LEVEL_READ] =
            {
                [BBT_LEVEL_READ] = "PROJECT_READ REPO_READ",
                [BBT_LEVEL_WRITE] = "PROJECT_READ REPO_WRITE",
                [BBT_LEVEL_ADMIN] = "PROJECT_READ REPO_ADMIN",
            },
        [BBT_LEVEL_WRITE] =
            {
                [BBT_LEVEL_WRITE] = "PROJECT_WRITE REPO_WRITE",
                [BBT_LEVEL_ADMIN] = "PROJECT_WRITE REPO_ADMIN",
            },
        [BBT_LEVEL_ADMIN] =
            {
                [BBT_LEVEL_ADMIN] = "PROJECT_ADMIN REPO_ADMIN",
            },
    };

    if (!bbt_kind_perms_valid(kind, project, repo)) {
        return NULL;
    }
    return names[project][repo];
}

int bbt_kind_perms_from_list(bbt_kind_t kind, const bbt_perm_t *list, size_t n,
                             bbt_level_t *project, bbt_level_t *repo,
                             const char **why)
{
    size_t i;

    if (kind != BBT_KIND_REPO) {
        return bbt_perm_from_list(list, n, project, repo, why);
    }
    *project = BBT_LEVEL_NONE;
    *repo = BBT_LEVEL_NONE;
    for (i = 0; i < n; i++) {
        if (list[i].scope != BBT_SCOPE_REPO) {
            *why = "a repository token has no project permission";
            return -1;
        }
    }
    /* The project level the list would default to is not kept. */
    if (bbt_perm_from_list(list, n, project, repo, why) != 0) {
        return -1;
    }
    *project = BBT_LEVEL_NONE;
    return 0;
}

int bbt_kind_covers(const bbt_tokscope_t *s, const bbt_target_t *t)
{
    switch (s->kind) {
    case BBT_KIND_PERSONAL:
        return 1;
    case BBT_KIND_PROJECT:
        /* Keys are canonical on both sides: the route rewrote the URL's. */
        return s->key[0] && strcmp(s->key, t->key) == 0;
    case BBT_KIND_REPO:
        /* Slugs are compared exactly, as the filesystem does. */
        return s->key[0] && s->slug[0] && strcmp(s->key, t->key) == 0 &&
               strcmp(s->slug, t->slug) == 0;
    case BBT_KIND_INVALID:
        break;
    }
    return 0;
}

bbt_decision_t bbt_kind_decide(bbt_kind_t kind, bbt_perm_t need,
                               bbt_level_t project, bbt_level_t repo,
                               bbt_level_t owner)
{
    switch (kind) {
    case BBT_KIND_PERSONAL:
        return bbt_perm_decide(need, project, repo, owner);
    case BBT_KIND_PROJECT:
        return bbt_perm_decide(need, project, repo, BBT_LEVEL_ADMIN);
    case BBT_KIND_REPO:
        if (need.scope != BBT_SCOPE_REPO || project != BBT_LEVEL_NONE) {
            return BBT_DECIDE_TOKEN_SCOPE;
        }
        /* The matrix wants a project level beside the repository one; the
         * lowest stands in, and a repository need never reads it. */
        return bbt_perm_decide(need, BBT_LEVEL_READ, repo, BBT_LEVEL_ADMIN);
    case BBT_KIND_INVALID:
        break;
    }
    return BBT_DECIDE_TOKEN_SCOPE;
}

/* The scope's target after the kind's word: "<project><key>" or
 * "<repo><key>/<slug>"; empty for a personal token. */
static const char *bbt_kind_named(const bbt_tokscope_t *s, const char *project,
                                  const char *repo, char *buf, size_t len)
{
    switch (s->kind) {
    case BBT_KIND_PROJECT:
        snprintf(buf, len, "%s%s", project, s->key);
        break;
    case BBT_KIND_REPO:
        snprintf(buf, len, "%s%s/%s", repo, s->key, s->slug);
        break;
    default:
        if (len) {
            buf[0] = '\0';
        }
        break;
    }
    return buf;
}

const char *bbt_kind_identity(const bbt_tokscope_t *s, char *buf, size_t len)
{
    return bbt_kind_named(s, "project:", "repo:", buf, len);
}

const char *bbt_kind_describe(const bbt_tokscope_t *s, char *buf, size_t len)
{
    return bbt_kind_named(s, "project ", "repository ", buf, len);
}
