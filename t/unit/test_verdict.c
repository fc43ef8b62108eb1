/* The verdict on a presented token: each refusal, and their order. */
#include "bbt_verdict.h"
#include "tap.h"

static bbt_tokrow_t good(void)
{
    bbt_tokrow_t r;

    r.kind = BBT_KIND_PERSONAL;
    r.user_name = "alice";
    r.key = NULL;
    r.user_active = 1;
    r.revoked = 0;
    r.expired = 0;
    r.tok_project = BBT_LEVEL_READ;
    r.tok_repo = BBT_LEVEL_WRITE;
    return r;
}

int main(void)
{
    bbt_tokrow_t r = good();

    is_int(bbt_verdict(&r, 1, NULL), BBT_VERDICT_OK, "a good token, Bearer");
    is_int(bbt_verdict(&r, 1, "alice"), BBT_VERDICT_OK, "Basic, the owner");
    is_int(bbt_verdict(&r, 1, "ALICE"), BBT_VERDICT_OK,
           "Basic, the owner in another case");
    is_int(bbt_verdict(&r, 1, "bob"), BBT_VERDICT_NOT_OWNER,
           "Basic, another user");
    is_int(bbt_verdict(&r, 1, "alic"), BBT_VERDICT_NOT_OWNER,
           "Basic, a prefix of the owner");
    is_int(bbt_verdict(NULL, 1, NULL), BBT_VERDICT_UNKNOWN, "no row");
    is_int(bbt_verdict(NULL, 0, "bob"), BBT_VERDICT_UNKNOWN,
           "no row: unknown whatever else");
    is_int(bbt_verdict(&r, 0, NULL), BBT_VERDICT_WRONG_SECRET, "wrong secret");

    /* A wrong secret hides everything else about the row. */
    r.revoked = 1;
    r.expired = 1;
    r.user_active = 0;
    is_int(bbt_verdict(&r, 0, "bob"), BBT_VERDICT_WRONG_SECRET,
           "wrong secret before revoked, expired, disabled, not owner");
    is_int(bbt_verdict(&r, 1, "bob"), BBT_VERDICT_REVOKED,
           "revoked before expired, disabled, not owner");
    r.revoked = 0;
    is_int(bbt_verdict(&r, 1, "bob"), BBT_VERDICT_EXPIRED,
           "expired before disabled, not owner");
    r.expired = 0;
    is_int(bbt_verdict(&r, 1, "bob"), BBT_VERDICT_DISABLED,
           "disabled before not owner");
    r.user_active = 1;
    r.tok_repo = BBT_LEVEL_NONE;
    is_int(bbt_verdict(&r, 1, "bob"), BBT_VERDICT_NOT_OWNER,
           "not owner before a broken row");
    is_int(bbt_verdict(&r, 1, NULL), BBT_VERDICT_BROKEN,
           "a row without a repository level is broken");
    r = good();
    r.tok_project = BBT_LEVEL_ADMIN;
    r.tok_repo = BBT_LEVEL_READ;
    is_int(bbt_verdict(&r, 1, NULL), BBT_VERDICT_BROKEN,
           "an impossible combination is broken");
    r = good();
    r.user_name = NULL;
    is_int(bbt_verdict(&r, 1, "alice"), BBT_VERDICT_NOT_OWNER,
           "no owner name: not the owner");

    /* A project's or a repository's token: no owner, x-token-auth. */
    r = good();
    r.kind = BBT_KIND_PROJECT;
    r.user_name = NULL;
    r.user_active = 0;
    is_int(bbt_verdict(&r, 1, NULL), BBT_VERDICT_OK,
           "a project token: in, with no owner to be active");
    is_int(bbt_verdict(&r, 1, "x-token-auth"), BBT_VERDICT_OK,
           "  Basic as x-token-auth");
    is_int(bbt_verdict(&r, 1, "X-TOKEN-AUTH"), BBT_VERDICT_OK, "  in any case");
    is_int(bbt_verdict(&r, 1, "alice"), BBT_VERDICT_NOT_OWNER,
           "  Basic as a user: refused");
    r.expired = 1;
    is_int(bbt_verdict(&r, 1, NULL), BBT_VERDICT_EXPIRED, "  expired");
    r.expired = 0;
    r.kind = BBT_KIND_REPO;
    is_int(bbt_verdict(&r, 1, NULL), BBT_VERDICT_BROKEN,
           "a repository token with a project level is broken");
    r.tok_project = BBT_LEVEL_NONE;
    is_int(bbt_verdict(&r, 1, NULL), BBT_VERDICT_OK,
           "a repository token with none: in");
    /* A personal project's: only while ~name's owner is active. */
    r = good();
    r.kind = BBT_KIND_PROJECT;
    r.user_name = NULL;
    r.key = "PROJ";
    r.user_active = 0;
    is_int(bbt_verdict(&r, 1, NULL), BBT_VERDICT_OK,
           "an ordinary project's token: no owner to be active");
    r.key = "~alice";
    is_int(bbt_verdict(&r, 1, NULL), BBT_VERDICT_DISABLED,
           "~alice's token, alice disabled or gone: refused");
    is_int(bbt_verdict(&r, 1, "bob"), BBT_VERDICT_DISABLED,
           "  disabled before not owner");
    r.kind = BBT_KIND_REPO;
    r.tok_project = BBT_LEVEL_NONE;
    is_int(bbt_verdict(&r, 1, NULL), BBT_VERDICT_DISABLED,
           "  a repository token of ~alice too");
    r.user_active = 1;
    is_int(bbt_verdict(&r, 1, NULL), BBT_VERDICT_OK, "  alice active: in");
    r.revoked = 1;
    is_int(bbt_verdict(&r, 1, NULL), BBT_VERDICT_REVOKED,
           "  revoked before disabled");
    r = good();
    r.user_name = "x-token-auth";
    is_int(bbt_verdict(&r, 1, "x-token-auth"), BBT_VERDICT_OK,
           "a personal token of a user named x-token-auth is theirs");
    r.user_name = "alice";
    is_int(bbt_verdict(&r, 1, "x-token-auth"), BBT_VERDICT_NOT_OWNER,
           "x-token-auth with someone else's personal token: refused");
    r.kind = BBT_KIND_INVALID;
    r.revoked = 1;
    is_int(bbt_verdict(&r, 1, NULL), BBT_VERDICT_BROKEN,
           "a row of no kind is broken before anything but the secret");
    is_int(bbt_verdict(&r, 0, NULL), BBT_VERDICT_WRONG_SECRET,
           "  and the secret still comes first");

    /* What the throttle counts: what a guess can get, and a right token
     * from outside its allow-list, which must look like a wrong one. */
    is_int(bbt_verdict_counted(BBT_VERDICT_UNKNOWN), 1, "unknown id: a guess");
    is_int(bbt_verdict_counted(BBT_VERDICT_WRONG_SECRET), 1,
           "wrong secret: a guess");
    is_int(bbt_verdict_counted(BBT_VERDICT_ADDRESS), 1,
           "outside the allow-list: counted as a wrong secret");
    is_int(bbt_verdict_counted(BBT_VERDICT_REVOKED), 0,
           "revoked: the secret proved right");
    is_int(bbt_verdict_counted(BBT_VERDICT_EXPIRED), 0, "expired: too");
    is_int(bbt_verdict_counted(BBT_VERDICT_DISABLED), 0, "disabled: too");
    is_int(bbt_verdict_counted(BBT_VERDICT_NOT_OWNER), 0, "not owner: too");
    is_int(bbt_verdict_counted(BBT_VERDICT_BROKEN), 0, "broken: too");
    is_int(bbt_verdict_counted(BBT_VERDICT_OK), 0, "OK: no refusal");

    /* What a client outside the allow-list turns into its refusal: a right
     * token, whatever the user name and whatever became of it, so that it
     * is counted as a wrong secret is and says nothing of its life. */
    is_int(bbt_verdict_fenceable(BBT_VERDICT_OK), 1, "OK: fenced");
    is_int(bbt_verdict_fenceable(BBT_VERDICT_NOT_OWNER), 1,
           "not the owner's name: fenced too");
    is_int(bbt_verdict_fenceable(BBT_VERDICT_UNKNOWN), 0, "unknown id: stands");
    is_int(bbt_verdict_fenceable(BBT_VERDICT_WRONG_SECRET), 0,
           "wrong secret: stands");
    is_int(bbt_verdict_fenceable(BBT_VERDICT_REVOKED), 1, "revoked: fenced");
    is_int(bbt_verdict_fenceable(BBT_VERDICT_EXPIRED), 1, "expired: fenced");
    is_int(bbt_verdict_fenceable(BBT_VERDICT_DISABLED), 1,
           "owner disabled: fenced");
    is_int(bbt_verdict_fenceable(BBT_VERDICT_BROKEN), 0, "broken: stands");

    is_str(bbt_verdict_str(BBT_VERDICT_REVOKED), "token revoked", "reason");
    is_str(bbt_verdict_str(BBT_VERDICT_OK), "", "no reason for OK");
    is_str(bbt_verdict_str((bbt_verdict_t)99), "refused",
           "an unknown verdict still reads as a refusal");
    return done_testing();
}
