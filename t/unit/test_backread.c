/* A routed path as a backend may read it (bbt_backread.h), over the
 * built-in dav set: a path is routed only when every reading gives the
 * route it matched, on the same target.  Paths are written as httpd hands
 * them over (r->uri: decoded once, a %2F kept under AllowEncodedSlashes
 * NoDecode, a %25XX come out as %XX); t/43-encoded-slashes sends them. */
#include "bbt_backread.h"
#include "tap.h"
#include "rules_fixture.h"

#include <string.h>

typedef struct {
    const char *method, *path;
    int agrees;
} bbt_case_t;

static const bbt_case_t cases[] = {
    /* Nothing a backend reads otherwise. */
    {"GET", "/dav/PROJ/repo/raw/file", 1},
    {"DELETE", "/dav/PROJ/repo/x", 1},
    /* Read otherwise, but still the same route on the same target. */
    {"GET", "/dav/PROJ/repo/raw/\\lead.txt", 1},
    {"GET", "/dav/PROJ/repo/raw/a%41;b%2Fc", 1},
    {"GET", "/dav/PROJ/repo/raw\\sub;v=1/file", 1},
    {"GET", "/dav/PROJ/repo/raw%2Fsub%2Ffile", 1},
    {"GET", "/dav/PROJ/repo/raw/100% done.txt", 1},
    {"PUT", "/dav/PROJ/repo/x;v=1/file", 1},
    /* Another place, or a dot segment, to some backend. */
    {"GET", "/dav/PROJ/repo/raw%2F..%2F..%2F..%2FOTHER%2Fsecret%2Fraw", 0},
    {"GET", "/dav/PROJ/repo/raw\\..\\..\\..\\OTHER\\secret\\raw", 0},
    {"GET", "/dav/PROJ/repo/raw/..;/..;/..;/OTHER/secret/raw", 0},
    {"GET", "/dav/PROJ/repo/x;%2F..%2F..%2F..%2FOTHER%2Fsecret%2Fraw", 0},
    {"GET", "/dav/PROJ/repo/x/%2e%2e/%2e%2e/%2e%2e/OTHER/secret/raw", 0},
    {"GET", "/dav/PROJ/repo/raw/..%3B/..%3B/..%3B/OTHER/secret/raw", 0},
    {"GET", "/dav/PROJ/repo/raw%5Cz%5Cz2%2F..%2F..%2Fother%2Fraw", 0},
    /* Another route on the same target: the repository itself. */
    {"DELETE", "/dav/PROJ/repo/;x", 0},
    {"DELETE", "/dav/PROJ/repo/%2F", 0},
    /* A ;parameter dropped before its escapes are decoded ends at the
     * next slash sent as one: the repository itself to a servlet
     * container, where the reading that decodes first is inside it. */
    {"DELETE", "/dav/PROJ/repo/;\\x", 0},
    {"DELETE", "/dav/PROJ/repo/;%2Fx", 0},
    {"DELETE", "/dav/PROJ/repo/;%5Cx", 0},
    {"DELETE", "/dav/PROJ/repo/;%252Fx", 0},
    {"DELETE", "/dav/PROJ/repo/;v=1\\x", 0},
    {"DELETE", "/dav/~alice/repo/;\\x", 0},
    {"PROPPATCH", "/dav/PROJ/repo/;\\x", 0},
    {"MOVE", "/dav/PROJ/repo/;%2Fx", 0},
    {"MKCOL", "/dav/PROJ/newrepo/;\\x", 0},
    {"LOCK", "/dav/PROJ/newrepo/;%5Cx", 0},
    {"DELETE", "/dav/PROJ/repo/;\\..", 0},
    /* Dropped so deeper in, it stays inside the repository. */
    {"DELETE", "/dav/PROJ/repo/x/;\\y", 1},
    {"PUT", "/dav/PROJ/repo/x;\\y/file", 1},
    /* An escape left after three decodings; a NUL. */
    {"GET", "/dav/PROJ/repo/raw/%2525252e", 0},
    {"GET", "/dav/PROJ/repo/raw/a%00b", 0},
    {"GET", "/dav/PROJ/repo/raw/a%25zz%00b", 0},
};

int main(void)
{
    bbt_rules_t *rs = builtin_rules("dav", "/dav");
    size_t i;

    if (!ok(rs != NULL, "the dav set loads"))
        return done_testing();
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const bbt_case_t *c = &cases[i];
        bbt_match_t m;

        if (!ok(bbt_rules_match(rs, c->method, c->path, NULL, 0, &m) ==
                        BBT_ROUTE_MATCH &&
                    m.key_exact,
                "%s %s matches a route", c->method, c->path))
            continue;
        is_int(bbt_backread_agrees(rs, c->method, c->path, NULL, 0, &m),
               c->agrees, "  %s to a backend", c->agrees ? "the same" : "not");
    }
    bbt_rules_free(rs);
    return done_testing();
}
