/*
 * Loose git objects (see bbt_gitobj.h): inflated as they are read, the
 * header parsed from the first bytes, everything hashed, nothing kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "bbt_gitobj.h"

#define BBT_GITOBJ_BUF 65536
/* "commit 2147483648\0" and room to spare: a longer header is none. */
#define BBT_GITOBJ_HEAD 32

typedef struct {
    char head[BBT_GITOBJ_HEAD];
    size_t head_len;
    int head_done;
    unsigned long long size, body; /* declared, seen */
} bbt_gitobj_t;

/* Whether head (NUL-terminated) is "TYPE SIZE" as git writes it: one of
 * the four types, and SIZE in decimal without a leading zero, at most
 * BBT_GITOBJ_MAX (git itself takes any size its unsigned long holds). */
static int bbt_gitobj_head(const char *head, unsigned long long *size)
{
    static const char *const types[] = {"blob ", "tree ", "commit ", "tag ",
                                        NULL};
    const char *d = NULL;
    size_t i;

    for (i = 0; types[i]; i++) {
        if (strncmp(head, types[i], strlen(types[i])) == 0) {
            d = head + strlen(types[i]);
            break;
        }
    }
    if (!d || !*d || (d[0] == '0' && d[1]) ||
        strspn(d, "0123456789") != strlen(d)) {
        return 0;
    }
    for (*size = 0; *d; d++) {
        unsigned long long digit = (unsigned long long)(*d - '0');

        /* size * 10 + digit <= BBT_GITOBJ_MAX, asked without overflow:
         * the limit itself is a size, and every size below it one. */
        if (*size > (BBT_GITOBJ_MAX - digit) / 10) {
            return 0;
        }
        *size = *size * 10 + digit;
    }
    return 1;
}

/* Take n inflated bytes: the header first, then the body, counted. */
static const char *bbt_gitobj_take(bbt_gitobj_t *o, const unsigned char *b,
                                   size_t n)
{
    while (n && !o->head_done) {
        if (o->head_len == sizeof(o->head)) {
            return "its header is not a git object's";
        }
        o->head[o->head_len++] = (char)*b;
        if (*b == '\0') {
            if (!bbt_gitobj_head(o->head, &o->size)) {
                return "its header is not a git object's";
            }
            o->head_done = 1;
        }
        b++;
        n--;
    }
    o->body += n;
    if (o->body > o->size) {
        return "it is longer than its header says";
    }
    return NULL;
}

/* Inflate fd's whole content into o and the digest d: input read when
 * inflate has given all it can from what it has (its output not filled),
 * as zlib's own example does; a stream that has not ended at the file's
 * end is cut short. */
static const char *bbt_gitobj_inflate(int fd, bbt_gitobj_t *o, EVP_MD_CTX *d,
                                      unsigned char *in, unsigned char *out)
{
    z_stream z;
    const char *why = NULL;
    ssize_t got;
    int rc = Z_OK;

    memset(&z, 0, sizeof(z));
    if (inflateInit(&z) != Z_OK) {
        return "zlib cannot start";
    }
    while (!why && rc != Z_STREAM_END) {
        do {
            got = read(fd, in, BBT_GITOBJ_BUF);
        } while (got < 0 && errno == EINTR);
        if (got <= 0) {
            why = got < 0 ? "it cannot be read"
                          : "its deflated stream is cut short";
            break;
        }
        z.next_in = in;
        z.avail_in = (uInt)got;
        do {
            z.next_out = out;
            z.avail_out = BBT_GITOBJ_BUF;
            rc = inflate(&z, Z_NO_FLUSH);
            /* Z_BUF_ERROR: no progress without more input, not an error. */
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
                why = "it is not a deflated stream";
            } else if (EVP_DigestUpdate(d, out, BBT_GITOBJ_BUF - z.avail_out) !=
                       1) {
                why = "it cannot be hashed";
            } else {
                why = bbt_gitobj_take(o, out, BBT_GITOBJ_BUF - z.avail_out);
            }
        } while (!why && rc != Z_STREAM_END && z.avail_out == 0);
    }
    /* git refuses a loose object with anything after its stream. */
    if (!why && (z.avail_in > 0 || read(fd, in, 1) != 0)) {
        why = "bytes follow its deflated stream";
    }
    inflateEnd(&z);
    return why;
}

const char *bbt_gitobj_check(const char *path, const char *hexid,
                             struct stat *read)
{
    return bbt_gitobj_check_keep(path, hexid, read, NULL);
}

const char *bbt_gitobj_check_keep(const char *path, const char *hexid,
                                  struct stat *read, int *keep)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned char *in = NULL, *out = NULL;
    const EVP_MD *alg;
    EVP_MD_CTX *d = NULL;
    bbt_gitobj_t o;
    const char *why = NULL;
    unsigned int mdlen = 0, i;
    struct stat st;
    int fd, isfile;

    if (keep) {
        *keep = -1;
    }
    if (!hexid || strspn(hexid, hex) != strlen(hexid)) {
        return "its name is not an object id";
    }
    if (strlen(hexid) == 40) {
        alg = EVP_sha1();
    } else if (strlen(hexid) == 64) {
        alg = EVP_sha256();
    } else {
        return "its name is not an object id";
    }
    fd = path ? open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (fd < 0) {
        return "it cannot be opened";
    }
    memset(&o, 0, sizeof(o));
    isfile = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (isfile && read) {
        *read = st;
    }
    if (!isfile) {
        why = "it is not a file";
    } else if (!(in = OPENSSL_malloc(BBT_GITOBJ_BUF)) ||
               !(out = OPENSSL_malloc(BBT_GITOBJ_BUF)) ||
               !(d = EVP_MD_CTX_new()) ||
               EVP_DigestInit_ex(d, alg, NULL) != 1) {
        why = "out of memory";
    } else if (!(why = bbt_gitobj_inflate(fd, &o, d, in, out))) {
        if (!o.head_done || o.body != o.size) {
            why = "it is shorter than its header says";
        } else if (EVP_DigestFinal_ex(d, md, &mdlen) != 1 ||
                   mdlen * 2 != strlen(hexid)) {
            why = "it cannot be hashed";
        }
        for (i = 0; !why && i < mdlen; i++) {
            if (hexid[2 * i] != hex[md[i] >> 4] ||
                hexid[2 * i + 1] != hex[md[i] & 15]) {
                why = "its content is another object's";
            }
        }
    }
    EVP_MD_CTX_free(d);
    OPENSSL_free(in);
    OPENSSL_free(out);
    if (!why && keep) {
        *keep = fd;
    } else {
        close(fd);
    }
    return why;
}
