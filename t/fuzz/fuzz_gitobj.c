/*
 * libFuzzer target: an upload checked as the loose git object its name
 * says (bbt_gitobj_check_keep): the header read from the inflated bytes,
 * the body counted, the whole hashed.  The first byte chooses what the
 * rest is: with bit 0, the file itself, hostile zlib; else with bit 5, a
 * blob's content, repeated past one read's 64 kB and made an object here
 * as git makes one; else the object inflated.  The last two are deflated
 * here at the level bits 3-4 pick, one byte more after the stream when
 * bit 2 is set.  Bit 1: a SHA-256 name, else a SHA-1 one.
 *
 * Held to a model of git's loose objects written here (the four types,
 * SIZE in decimal without a leading zero and at most BBT_GITOBJ_MAX, the
 * header's NUL within its first 32 bytes, SIZE bytes after it; the size
 * compared with the limit as text, not computed): an object deflated here
 * gets exactly the model's verdict (its header refused, longer or shorter
 * than it says, bytes after the stream, another object's under a wrong
 * name, or taken), and the blob git would make of some content is taken;
 * a hostile file is taken exactly when zlib inflates it whole, as one
 * stream with nothing after, into what the model takes, named by its
 * hash.  A file taken is given still open, the one at the path; one
 * refused never.  Any broken rule aborts.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "bbt_gitobj.h"

/* The header with its NUL, at most (git's MAX_HEADER_LEN too). */
#define HEAD_MAX 32
/* Past any inflation of libFuzzer's longest input (-max_len=6000). */
#define INFLATED_MAX (16u << 20)

typedef enum { HEAD_BAD, LONGER, SHORTER, WHOLE } verdict_t;

static char dir[4096], path[4200];
static unsigned char *inflated;

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

/* The file checked, under the suite's directory for the run (build/
 * test.sh's, in memory where it can be). */
static void setup(void)
{
    const char *tmp = getenv("BBT_TMPDIR");

    if (!tmp || !*tmp)
        tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/bbt-fuzz-gitobj-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof(path), "%s/obj", dir);
    atexit(cleanup);
    if (!(inflated = malloc(INFLATED_MAX)))
        abort();
}

/* The header's text (n bytes, before its NUL) as git writes one whose
 * size the module takes: the size compared with the limit as digits. */
static int head_ok(const unsigned char *h, size_t n)
{
    static const char *const types[] = {"blob ", "tree ", "commit ", "tag "};
    char limit[32];
    size_t i, t, d;

    for (i = 0; i < 4; i++) {
        t = strlen(types[i]);
        if (n >= t && memcmp(h, types[i], t) == 0)
            break;
    }
    if (i == 4)
        return 0;
    h += t;
    n -= t;
    for (d = 0; d < n; d++) {
        if (h[d] < '0' || h[d] > '9')
            return 0;
    }
    if (n == 0 || (h[0] == '0' && n > 1))
        return 0;
    snprintf(limit, sizeof(limit), "%llu", (unsigned long long)BBT_GITOBJ_MAX);
    return n < strlen(limit) ||
           (n == strlen(limit) && memcmp(h, limit, n) <= 0);
}

/* The model's verdict on n inflated bytes. */
static verdict_t model(const unsigned char *b, size_t n)
{
    const unsigned char *nul = memchr(b, '\0', n < HEAD_MAX ? n : HEAD_MAX);
    unsigned long long size, body;
    size_t h;

    if (!nul)
        return n > HEAD_MAX ? HEAD_BAD : SHORTER;
    h = (size_t)(nul - b);
    if (!head_ok(b, h))
        return HEAD_BAD;
    size =
        strtoull((const char *)b + strcspn((const char *)b, " ") + 1, NULL, 10);
    body = n - h - 1;
    return body > size ? LONGER : body < size ? SHORTER : WHOLE;
}

static void hexid(const unsigned char *b, size_t n, int sha256, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0, i;

    if (EVP_Digest(b, n, md, &len, sha256 ? EVP_sha256() : EVP_sha1(), NULL) !=
        1)
        abort();
    for (i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* A new file each time: ext4 writes a file out at once when it is
 * truncated to nothing and written again. */
static void put(const unsigned char *b, size_t n)
{
    int fd;

    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || (n && write(fd, b, n) != (ssize_t)n) || close(fd) != 0)
        abort();
}

/* The file at path checked under id: NULL, or why not; a file taken is
 * the one at the path, still open; one refused is not kept. */
static const char *check(const char *id)
{
    struct stat read, now, kept;
    const char *why;
    int fd = -2;

    memset(&read, 0, sizeof(read));
    why = bbt_gitobj_check_keep(path, id, &read, &fd);
    if (why) {
        if (fd != -1 || !*why)
            abort();
        return why;
    }
    if (fd < 0 || fstat(fd, &kept) != 0 || stat(path, &now) != 0 ||
        kept.st_ino != read.st_ino || now.st_ino != read.st_ino ||
        kept.st_dev != now.st_dev)
        abort();
    close(fd);
    return NULL;
}

static int says(const char *why, const char *words)
{
    return why && strstr(why, words) != NULL;
}

/* The object o (n bytes, inflated) deflated here: the model's verdict,
 * exactly, in the order the module meets each fault. */
static void deflated(const unsigned char *o, size_t n, unsigned sel)
{
    static const int levels[] = {0, 1, 6, 9};
    uLongf zn = compressBound((uLong)n) + 1;
    unsigned char *z = malloc(zn);
    int tail = (sel >> 2) & 1, sha256 = (sel >> 1) & 1;
    char id[2 * EVP_MAX_MD_SIZE + 1];
    const char *why;
    verdict_t v = model(o, n);

    if (!z || compress2(z, &zn, o, (uLong)n, levels[(sel >> 3) & 3]) != Z_OK)
        abort();
    if (tail)
        z[zn++] = 'x';
    put(z, zn);
    free(z);
    hexid(o, n, sha256, id);
    why = check(id);
    if (v == HEAD_BAD  ? !says(why, "header is not")
        : v == LONGER  ? !says(why, "longer than")
        : tail         ? !says(why, "bytes follow")
        : v == SHORTER ? !says(why, "shorter than")
                       : why != NULL)
        abort();
    if (v == WHOLE && !tail) {
        /* Any other name: another object's. */
        id[strlen(id) - 1] = id[strlen(id) - 1] == '0' ? '1' : '0';
        if (!says(check(id), "another object's"))
            abort();
    }
}

/* Inflate f (n bytes) whole, as one stream: the bytes, or NULL when it is
 * not one stream ending exactly at f's end (or inflates past the cap). */
static unsigned char *inflate_whole(const unsigned char *f, size_t n,
                                    size_t *len, int *capped)
{
    unsigned char *out = inflated;
    z_stream z;
    int rc;

    memset(&z, 0, sizeof(z));
    if (inflateInit(&z) != Z_OK)
        abort();
    z.next_in = (Bytef *)f;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = INFLATED_MAX;
    rc = inflate(&z, Z_FINISH);
    *len = INFLATED_MAX - z.avail_out;
    *capped = rc == Z_BUF_ERROR && z.avail_out == 0;
    inflateEnd(&z);
    return rc == Z_STREAM_END && z.avail_in == 0 ? out : NULL;
}

/* A hostile file: taken exactly when it is one stream of an object the
 * model takes, named by its hash. */
static void hostile(const unsigned char *f, size_t n, unsigned sel)
{
    int sha256 = (sel >> 1) & 1, capped;
    char id[2 * EVP_MAX_MD_SIZE + 1];
    size_t len = 0;
    unsigned char *o = inflate_whole(f, n, &len, &capped);
    const char *why;

    if (capped)
        return;
    put(f, n);
    if (o) {
        hexid(o, len, sha256, id);
    } else {
        memset(id, 'a', sha256 ? 64 : 40);
        id[sha256 ? 64 : 40] = '\0';
    }
    why = check(id);
    if ((why == NULL) != (o && model(o, len) == WHOLE))
        abort();
    if (o && model(o, len) == HEAD_BAD && !says(why, "header is not"))
        abort();
}

/* A blob of the n bytes c, repeated past one read, as git makes it. */
static void blob(const unsigned char *c, size_t n, unsigned sel)
{
    size_t body = n ? 65536 + 7 * n : 0, h, i;
    unsigned char *o = malloc(body + 32);

    if (!o)
        abort();
    h = (size_t)sprintf((char *)o, "blob %zu", body) + 1;
    for (i = 0; i < body; i++)
        o[h + i] = c[i % n];
    if (model(o, h + body) != WHOLE)
        abort();
    deflated(o, h + body, sel);
    free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        setup();
    if (size < 1)
        return 0;
    if (data[0] & 1)
        hostile(data + 1, size - 1, data[0]);
    else if (data[0] & 32)
        blob(data + 1, size - 1, data[0]);
    else
        deflated(data + 1, size - 1, data[0]);
    return 0;
}
