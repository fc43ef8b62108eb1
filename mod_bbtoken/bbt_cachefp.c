/*
 * The database's identity as libpq's options say it (see bbt_cache.h,
 * bbt_cache_fingerprint): the listener's, and each virtual host's, so that
 * a host whose DBDParams name another database is not answered from the
 * listener's cache.  Apart from the cache's state: it needs none.
 */
#include <string.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "bbt_cache.h"

void bbt_cache_fingerprint(const PQconninfoOption *opts, unsigned char out[32])
{
    /* Options that say how to connect, not what is read there. */
    static const char *const ignored[] = {"password",
                                          "sslpassword",
                                          "passfile",
                                          "application_name",
                                          "fallback_application_name",
                                          "connect_timeout",
                                          NULL};
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const PQconninfoOption *o;
    int i, skip;

    memset(out, 0, 32);
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        return;
    }
    for (o = opts; o && o->keyword; o++) {
        for (skip = 0, i = 0; ignored[i] && !skip; i++) {
            skip = strcmp(o->keyword, ignored[i]) == 0;
        }
        if (!skip && o->val && *o->val) {
            /* With their lengths, so no two lists spell the same bytes. */
            size_t kl = strlen(o->keyword) + 1, vl = strlen(o->val) + 1;

            EVP_DigestUpdate(md, o->keyword, kl);
            EVP_DigestUpdate(md, o->val, vl);
        }
    }
    EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
}
