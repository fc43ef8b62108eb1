/* Loose git objects: a file is the object its name says, or why not.  The
 * ids are git's own (git hash-object, SHA-1 and SHA-256 repositories). */
#include "bbt_gitobj.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <zlib.h>

#define HELLO1 "ce013625030ba8dba906f756967f9e9ca394464a"
#define HELLO256                                                               \
    "2cf8d83d9ee29543b34a87727421fdecb7e3f3a183d337639025de576db9ebb4"
#define EMPTY_BLOB "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
#define EMPTY_TREE "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

static char dir[] = "/tmp/bbt-gitobj-XXXXXX";

/* raw (n bytes) deflated, then tail (m bytes) after the stream, into a
 * file of this test's; its path. */
static const char *obj(const char *name, const void *raw, size_t n,
                       const void *tail, size_t m)
{
    static char path[256];
    uLongf zn = compressBound((uLong)n);
    unsigned char *z = malloc(zn);
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!z || compress(z, &zn, raw, (uLong)n) != Z_OK ||
        !(f = fopen(path, "wb"))) {
        diag("cannot write %s", path);
        exit(1);
    }
    fwrite(z, 1, zn, f);
    if (m)
        fwrite(tail, 1, m, f);
    fclose(f);
    free(z);
    return path;
}

static const char *raw_file(const char *name, const void *bytes, size_t n)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(f = fopen(path, "wb"))) {
        diag("cannot write %s", path);
        exit(1);
    }
    fwrite(bytes, 1, n, f);
    fclose(f);
    return path;
}

static void is_why(const char *got, const char *want, const char *name)
{
    if (!want) {
        ok(got == NULL, "%s: the object", name);
        if (got)
            diag("refused: %s", got);
        return;
    }
    ok(got && strstr(got, want), "%s: refused, %s", name, want);
    if (!got || !strstr(got, want))
        diag("got: %s", got ? got : "(accepted)");
}

static size_t len_of(const char *s)
{
    return s ? strlen(s) : 0;
}

#define OBJ(name, lit, tail) obj(name, lit, sizeof(lit) - 1, tail, len_of(tail))

static void test_objects(void)
{
    const char *p = OBJ("hello", "blob 6\0hello\n", NULL);

    is_why(bbt_gitobj_check(p, HELLO1, NULL), NULL, "hello, SHA-1");
    is_why(bbt_gitobj_check(p, HELLO256, NULL), NULL, "hello, SHA-256");
    is_why(bbt_gitobj_check(p, EMPTY_BLOB, NULL), "another object's",
           "hello named as the empty blob");
    is_why(bbt_gitobj_check(OBJ("empty", "blob 0\0", NULL), EMPTY_BLOB, NULL),
           NULL, "the empty blob");
    is_why(bbt_gitobj_check(OBJ("tree", "tree 0\0", NULL), EMPTY_TREE, NULL),
           NULL, "the empty tree");
    is_why(bbt_gitobj_check(OBJ("tree-as-blob", "tree 0\0", NULL), EMPTY_BLOB,
                            NULL),
           "another object's", "the empty tree named as the empty blob");
}

static void test_refused(void)
{
    static const char garbage[] = "not deflated at all, just bytes\n";
    const char *p;
    char big[40];

    is_why(bbt_gitobj_check(raw_file("garbage", garbage, sizeof(garbage)),
                            HELLO1, NULL),
           "not a deflated stream", "bytes that are not deflated");
    is_why(
        bbt_gitobj_check(OBJ("short", "blob 7\0hello\n", NULL), HELLO1, NULL),
        "shorter than its header", "a body shorter than its size");
    is_why(bbt_gitobj_check(OBJ("long", "blob 5\0hello\n", NULL), HELLO1, NULL),
           "longer than its header", "a body longer than its size");
    is_why(bbt_gitobj_check(OBJ("type", "blub 6\0hello\n", NULL), HELLO1, NULL),
           "header", "an unknown type");
    is_why(
        bbt_gitobj_check(OBJ("zero", "blob 06\0hello\n", NULL), HELLO1, NULL),
        "header", "a size with a leading zero");
    is_why(
        bbt_gitobj_check(OBJ("nosize", "blob \0hello\n", NULL), HELLO1, NULL),
        "header", "no size");
    is_why(
        bbt_gitobj_check(OBJ("sign", "blob +6\0hello\n", NULL), HELLO1, NULL),
        "header", "a signed size");
    is_why(bbt_gitobj_check(OBJ("huge", "blob 99999999999999999999\0x", NULL),
                            HELLO1, NULL),
           "header", "a size past the limit");
    memset(big, 'a', sizeof(big));
    big[sizeof(big) - 1] = '\0';
    is_why(bbt_gitobj_check(obj("nonul", big, sizeof(big) - 1, NULL, 0), HELLO1,
                            NULL),
           "header", "no NUL in the first bytes");
    is_why(bbt_gitobj_check(OBJ("tail", "blob 6\0hello\n", "x"), HELLO1, NULL),
           "bytes follow", "a byte after the stream");
    p = OBJ("cut", "blob 6\0hello\n", NULL);
    if (truncate(p, 8) != 0)
        diag("truncate failed");
    is_why(bbt_gitobj_check(p, HELLO1, NULL), "cut short",
           "a stream cut short");
    is_why(bbt_gitobj_check(raw_file("nothing", "", 0), HELLO1, NULL),
           "cut short", "an empty file");
}

/* The limit on SIZE (BBT_GITOBJ_MAX, 2 GiB) is the largest size taken:
 * each size up to it is read as one (its body, a few bytes, then found
 * short), the next is not. */
static void test_limit(void)
{
    static const char *const taken[] = {"2147483639", "2147483640",
                                        "2147483647", "2147483648", NULL};
    static const char *const past[] = {"2147483649", "2147483650", "4294967296",
                                       "9999999999", NULL};
    char raw[64], name[64];
    size_t n, i;

    ok(BBT_GITOBJ_MAX == 2147483648ULL, "the limit is 2 GiB");
    for (i = 0; taken[i]; i++) {
        n = (size_t)snprintf(raw, sizeof(raw), "blob %s", taken[i]) + 1;
        memcpy(raw + n, "hello\n", 6);
        snprintf(name, sizeof(name), "size-%s", taken[i]);
        is_why(bbt_gitobj_check(obj(name, raw, n + 6, NULL, 0), HELLO1, NULL),
               "shorter than its header", taken[i]);
    }
    for (i = 0; past[i]; i++) {
        n = (size_t)snprintf(raw, sizeof(raw), "blob %s", past[i]) + 1;
        memcpy(raw + n, "hello\n", 6);
        snprintf(name, sizeof(name), "size-%s", past[i]);
        is_why(bbt_gitobj_check(obj(name, raw, n + 6, NULL, 0), HELLO1, NULL),
               "its header is not", past[i]);
    }
}

/* The file read is said: the one checked, whatever takes its name after. */
static void test_read(void)
{
    const char *p = OBJ("stat", "blob 6\0hello\n", NULL);
    struct stat want, got;

    memset(&got, 0, sizeof(got));
    ok(stat(p, &want) == 0 && bbt_gitobj_check(p, HELLO1, &got) == NULL &&
           got.st_ino == want.st_ino && got.st_dev == want.st_dev,
       "the file checked is said (its device and inode)");
}

/* The object's file is given still open; a file that is not, never. */
static void test_keep(void)
{
    const char *p = OBJ("kept", "blob 6\0hello\n", NULL);
    struct stat want, got;
    int fd = -2;

    ok(stat(p, &want) == 0 &&
           bbt_gitobj_check_keep(p, HELLO1, NULL, &fd) == NULL && fd >= 0 &&
           fstat(fd, &got) == 0 && got.st_ino == want.st_ino &&
           got.st_dev == want.st_dev,
       "the object's file is kept open: the one checked");
    if (fd >= 0) {
        close(fd);
    }
    fd = -2;
    is_why(bbt_gitobj_check_keep(p, EMPTY_BLOB, NULL, &fd), "another object's",
           "another object's id");
    ok(fd == -1, "a file that is not the object is not kept");
    fd = -2;
    is_why(bbt_gitobj_check_keep(NULL, HELLO1, NULL, &fd), "cannot be opened",
           "no path");
    ok(fd == -1, "nothing opened, nothing kept");
}

static void test_names_and_files(void)
{
    const char *p = OBJ("named", "blob 6\0hello\n", NULL);
    char link[256], sub[256];

    is_why(
        bbt_gitobj_check(p, "CE013625030BA8DBA906F756967F9E9CA394464A", NULL),
        "not an object id", "an id in upper case");
    is_why(bbt_gitobj_check(p, "ce013625030ba8dba906f756967f9e9ca394464", NULL),
           "not an object id", "39 digits");
    is_why(
        bbt_gitobj_check(p, "ce013625030ba8dba906f756967f9e9ca394464g", NULL),
        "not an object id", "a letter past f");
    is_why(bbt_gitobj_check(p, "", NULL), "not an object id", "no id");
    is_why(bbt_gitobj_check(p, NULL, NULL), "not an object id", "a NULL id");
    is_why(bbt_gitobj_check(NULL, HELLO1, NULL), "cannot be opened", "no path");
    snprintf(link, sizeof(link), "%s/link", dir);
    if (symlink(p, link) != 0)
        diag("symlink failed");
    is_why(bbt_gitobj_check(link, HELLO1, NULL), "cannot be opened",
           "a symbolic link to the object, not followed");
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    mkdir(sub, 0700);
    is_why(bbt_gitobj_check(sub, HELLO1, NULL), "not a file", "a directory");
    snprintf(sub, sizeof(sub), "%s/none", dir);
    is_why(bbt_gitobj_check(sub, HELLO1, NULL), "cannot be opened", "no file");
}

/* An object larger than one read: its id is SHA-1 of what git hashes. */
static void test_large(void)
{
    size_t n = 300000, h;
    char *raw = malloc(n + 32), id[41];
    unsigned char md[SHA_DIGEST_LENGTH];
    size_t i;

    h = (size_t)sprintf(raw, "blob %zu", n) + 1;
    for (i = 0; i < n; i++)
        raw[h + i] = (char)('a' + (i * 7 + i / 13) % 26);
    SHA1((unsigned char *)raw, h + n, md);
    for (i = 0; i < SHA_DIGEST_LENGTH; i++)
        sprintf(id + 2 * i, "%02x", md[i]);
    is_why(bbt_gitobj_check(obj("large", raw, h + n, NULL, 0), id, NULL), NULL,
           "a 300 kB blob");
    {
        /* Zeros deflate a thousandfold: the whole input is read at once,
         * and inflate gives it out in many buffers before it ends. */
        size_t zn = 5 * 1024 * 1024, zh;
        char *zeros = calloc(1, zn + 32), zid[41];

        zh = (size_t)sprintf(zeros, "blob %zu", zn) + 1;
        memset(zeros + zh, 0, zn);
        SHA1((unsigned char *)zeros, zh + zn, md);
        for (i = 0; i < SHA_DIGEST_LENGTH; i++)
            sprintf(zid + 2 * i, "%02x", md[i]);
        is_why(
            bbt_gitobj_check(obj("zeros", zeros, zh + zn, NULL, 0), zid, NULL),
            NULL, "5 MB of zeros, deflated to a few kB");
        free(zeros);
    }
    raw[h + n / 2] ^= 1;
    is_why(bbt_gitobj_check(obj("large2", raw, h + n, NULL, 0), id, NULL),
           "another object's", "one bit changed");
    free(raw);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        diag("mkdtemp failed");
        return 1;
    }
    test_objects();
    test_refused();
    test_limit();
    test_read();
    test_keep();
    test_names_and_files();
    test_large();
    {
        char cmd[64];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            diag("cleanup failed");
    }
    return done_testing();
}
