/*
 * LD_PRELOAD for httpd: OpenSSL's hashing failing on demand, as it may
 * when memory runs short.  The file BBT_CRYPTO_FAIL names says what fails
 * (read at each call, so a test turns the fault on and off in a running
 * httpd by writing it): "hmac", every EVP_MAC_final (a token's HMAC, and
 * any other MAC); "checksum", EVP_DigestUpdate of a token's checksum
 * message, which starts with the codec's label (bbt_token.c), and no other
 * digest (libpq's SCRAM, mod_ssl's, the cache's); "hmac-reused", an
 * EVP_MAC_final under a key not set afresh since the last one
 * (EVP_MAC_init with no key): in a leak report, the hash of a token found
 * (bbt_token_hash_hex reuses the salt bbt_token_verify_fresh keyed), and
 * not the check before it.  No file, or anything else in it: nothing
 * fails.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#define LABEL "bbtoken-v1:"

/* Whether the file names this fault. */
static int bbt_failing(const char *what)
{
    const char *path = getenv("BBT_CRYPTO_FAIL");
    size_t n = strlen(what);
    char buf[16];
    ssize_t got;
    int fd;

    if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        return 0;
    }
    got = read(fd, buf, sizeof(buf));
    close(fd);
    return got >= (ssize_t)n && memcmp(buf, what, n) == 0 &&
           (got == (ssize_t)n || buf[n] == '\n');
}

/* Whether this thread's last EVP_MAC_init set a key. */
static __thread int bbt_keyed;

int EVP_MAC_init(EVP_MAC_CTX *ctx, const unsigned char *key, size_t keylen,
                 const OSSL_PARAM params[])
{
    static int (*real)(EVP_MAC_CTX *, const unsigned char *, size_t,
                       const OSSL_PARAM[]);

    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "EVP_MAC_init");
    }
    bbt_keyed = key != NULL;
    return real(ctx, key, keylen, params);
}

int EVP_MAC_final(EVP_MAC_CTX *ctx, unsigned char *out, size_t *outl,
                  size_t outsize)
{
    static int (*real)(EVP_MAC_CTX *, unsigned char *, size_t *, size_t);

    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "EVP_MAC_final");
    }
    if (bbt_failing("hmac") || (!bbt_keyed && bbt_failing("hmac-reused"))) {
        return 0;
    }
    return real(ctx, out, outl, outsize);
}

int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt)
{
    static int (*real)(EVP_MD_CTX *, const void *, size_t);

    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "EVP_DigestUpdate");
    }
    if (cnt >= sizeof(LABEL) - 1 && memcmp(d, LABEL, sizeof(LABEL) - 1) == 0 &&
        bbt_failing("checksum")) {
        return 0;
    }
    return real(ctx, d, cnt);
}
