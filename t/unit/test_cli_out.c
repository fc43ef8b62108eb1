/* What the bbtoken CLI prints (cli/out.c): the one-line failure whatever
 * the reason holds, a failure held to be part of another line, the usage
 * error, the one table printer that list, expiring and audit share, and
 * the JSON output, whole or an array's element at a time. */
#include "cli.h"
#include "cli_capture.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static void said(const char *reason, const char *want, const char *what)
{
    int rc;

    capture_start();
    rc = bbtoken_fail("%s", reason);
    capture_end();
    is_int(rc, BBTOKEN_EXIT_FAIL, "%s: exit 1", what);
    is_str(capture_err, want, "%s", what);
}

static void test_messages(void)
{
    int rc;

    said("plain", "bbtoken: plain\n", "a plain reason");
    said("server said:\n\tDETAIL x", "bbtoken: server said: DETAIL x\n",
         "a run of control characters is one space");
    said("a\nb", "bbtoken: a b\n", "a newline between words is a space");
    said("a \n b", "bbtoken: a  b\n", "the reason's own spaces are kept");
    said("\r\nlead", "bbtoken: lead\n", "leading control characters go");
    said("tail\n", "bbtoken: tail\n", "trailing control characters go");
    said("del\x7f", "bbtoken: del\n", "DEL goes too");
    said("caf\xc3\xa9", "bbtoken: caf\xc3\xa9\n", "UTF-8 is kept");

    capture_start();
    rc = bbtoken_usage_error("Usage: x\n", "bad %s", "thing");
    capture_end();
    is_int(rc, BBTOKEN_EXIT_USAGE, "usage error: exit 2");
    is_str(capture_err, "bbtoken: bad thing\n\nUsage: x\n",
           "the reason, a blank line, the usage");
    is_str(capture_out, "", "nothing on stdout");
}

/* What is said while held goes into the holder's buffer, as it would be
 * shown, and nothing to stderr: the reconnection after a lost COMMIT
 * (xact.c) makes its failure part of the command's one line. */
static void test_held(void)
{
    char held[64];
    int rc;

    capture_start();
    bbtoken_say_hold(held, sizeof(held));
    rc = bbtoken_fail("cannot connect:\n\tFATAL: \x1b[2Jno");
    bbtoken_warn("and %s", "more");
    bbtoken_say_hold(NULL, 0);
    capture_end();
    is_int(rc, BBTOKEN_EXIT_FAIL, "held: still exit 1");
    is_str(held, "cannot connect: FATAL: [2Jno; and more",
           "held: each reason as shown, joined by \"; \"");
    is_str(capture_err, "", "held: nothing on stderr");

    capture_start();
    bbtoken_say_hold(held, 8);
    bbtoken_fail("a long reason");
    bbtoken_say_hold(NULL, 0);
    bbtoken_fail("after");
    capture_end();
    is_str(held, "a long ", "held: cut to the buffer");
    is_str(capture_err, "bbtoken: after\n", "let go: stderr again");
}

/* A held step inside another's hold gives the outer one back, its text
 * kept: the reconnection after a lost COMMIT inside db upgrade's
 * hand-back (owner.c), whose refusal holds what it says. */
static void test_held_nested(void)
{
    char outer[64], inner[64], *was;
    size_t size;

    capture_start();
    bbtoken_say_hold(outer, sizeof(outer));
    bbtoken_warn("first");
    was = bbtoken_say_held(&size);
    bbtoken_say_hold(inner, sizeof(inner));
    bbtoken_fail("inner");
    bbtoken_say_resume(was, size);
    bbtoken_warn("then %s", inner);
    bbtoken_say_hold(NULL, 0);
    capture_end();
    is_str(outer, "first; then inner", "nested: the outer text kept");
    is_str(capture_err, "", "nested: nothing on stderr");
    was = bbtoken_say_held(&size);
    ok(was == NULL && size == 0, "let go: nothing held");
}

static const char *tail_of(void *arg)
{
    return arg;
}

/* A failure's line on stderr ends with the tail (a commit the standby did
 * not confirm, db.c), said once; a warning, a usage error and held text
 * do not. */
static void test_tail(void)
{
    char held[64];

    bbtoken_say_tail(tail_of, "standby");
    capture_start();
    bbtoken_fail("lost %s", "it");
    bbtoken_warn("a warning");
    bbtoken_usage_error("Usage: x\n", "bad");
    capture_end();
    is_str(capture_err,
           "bbtoken: lost it; standby\nbbtoken: a warning\nbbtoken: bad\n\n"
           "Usage: x\n",
           "tail: after a failure's reason only");

    capture_start();
    bbtoken_say_hold(held, sizeof(held));
    bbtoken_fail("held");
    bbtoken_say_hold(NULL, 0);
    bbtoken_fail("%s, then", held);
    capture_end();
    is_str(held, "held", "tail: not in held text");
    is_str(capture_err, "bbtoken: held, then; standby\n",
           "tail: once, in the line that says the held text");

    bbtoken_say_tail(tail_of, "");
    capture_start();
    bbtoken_fail("none");
    capture_end();
    is_str(capture_err, "bbtoken: none\n", "tail: an empty one adds nothing");
    bbtoken_say_tail(NULL, NULL);
}

static void test_table(void)
{
    static const char *const cells[3][4] = {
        {"ID", "NAME", "PERMISSIONS", "FROM"},
        {"123456789012", "caf\xc3\xa9 \xe2\x9c\x93", "P,R", ""},
        {"000000000001", "x", "PROJECT_ADMIN,REPO_ADMIN", "192.0.2.1"}};
    static const int min[] = {12, 0, 24, 0};

    is_int(bbtoken_width("caf\xc3\xa9 \xe2\x9c\x93"), 6,
           "width: a column for each of these");
    is_int(bbtoken_width(""), 0, "width of nothing");

    capture_start();
    bbtoken_table(&cells[0][0], 3, 4, NULL);
    capture_end();
    is_str(
        capture_out,
        "ID            NAME    PERMISSIONS               FROM\n"
        "123456789012  caf\xc3\xa9 \xe2\x9c\x93  P,R                       \n"
        "000000000001  x       PROJECT_ADMIN,REPO_ADMIN  192.0.2.1\n",
        "columns as wide as their widest cell, two spaces apart, the last "
        "not padded");

    capture_start();
    bbtoken_table(&cells[0][0], 1, 4, min);
    capture_end();
    is_str(capture_out, "ID            NAME  PERMISSIONS               FROM\n",
           "a header alone keeps the minimum widths");

    capture_start();
    bbtoken_table(&cells[1][0], 1, 1, NULL);
    capture_end();
    is_str(capture_out, "123456789012\n", "one column: no padding at all");

    {
        /* An audit record from before the rules: a name with U+202E (and
         * U+2066), an actor with an escape sequence, a stray byte. */
        static const char *const old[2][3] = {
            {"renamed", "'ci\xe2\x80\xaeyolped' -> 'x'", "a"},
            {"created", "\x1b[2Jmallory\xff", "b\xe2\x81\xa6"}};

        capture_start();
        bbtoken_table(&old[0][0], 2, 3, NULL);
        capture_end();
        is_str(capture_out,
               "renamed  'ci?yolped' -> 'x'  a\n"
               "created  ?[2Jmallory?        b?\n",
               "a table shows controls, invisible formatting characters and "
               "bytes that are not UTF-8 as ?, aligned");
    }
}

/* A terminal draws an East Asian wide or fullwidth character in two
 * columns and a combining mark in none: a name made of them, measured a
 * column per code point, put text of its own under PERMISSIONS and the
 * token's permissions under the next header. */
static void test_width(void)
{
    /* "ｄｅｐｌｏｙ", 18 U+3000, " PROJECT_READ,REPO_READ": what stands
     * under PERMISSIONS, measured a column per code point. */
    static const char name[] =
        "\xef\xbd\x84\xef\xbd\x85\xef\xbd\x90\xef\xbd\x8c\xef\xbd\x8f"
        "\xef\xbd\x99"
        "\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80"
        "\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80"
        "\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80"
        "\xe3\x80\x80\xe3\x80\x80\xe3\x80\x80"
        " PROJECT_READ,REPO_READ";
    const char *const cells[3][3] = {
        {"NAME", "PERMISSIONS", "CREATED"},
        {"ci-readonly", "PROJECT_READ,REPO_READ", "2026-01-01"},
        {name, "PROJECT_ADMIN,REPO_ADMIN", "2026-01-02"}};
    char want[512];

    is_int(bbtoken_width("\xef\xbc\xa1"), 2, "width: U+FF21 takes two");
    is_int(bbtoken_width("\xe3\x80\x80"), 2, "width: U+3000 takes two");
    is_int(bbtoken_width("\xe4\xb8\xad\xe6\x96\x87"), 4,
           "width: two ideographs take four");
    is_int(bbtoken_width("e\xcc\x81"), 1, "width: a combining mark none");
    is_int(bbtoken_width(name), 6 * 2 + 18 * 2 + 23, "width: the name's");

    snprintf(want, sizeof(want),
             "NAME%*s  PERMISSIONS               CREATED\n"
             "ci-readonly%*s  PROJECT_READ,REPO_READ    2026-01-01\n"
             "%s  PROJECT_ADMIN,REPO_ADMIN  2026-01-02\n",
             71 - 4, "", 71 - 11, "", name);
    capture_start();
    bbtoken_table(&cells[0][0], 3, 3, NULL);
    capture_end();
    is_str(capture_out, want,
           "a wide name's column is as wide as a terminal draws it");

    {
        /* U+FDD0 is no character; U+0378 none yet. */
        static const char *const odd[1][2] = {{"a\xef\xb7\x90"
                                               "b\xcd\xb8"
                                               "c",
                                               "x"}};

        capture_start();
        bbtoken_table(&odd[0][0], 1, 2, NULL);
        capture_end();
        is_str(capture_out, "a?b?c  x\n",
               "a character of no known width is shown as ?");
    }

    /* No UTF-8 locale: every width but ASCII's unknown, so every other
     * character is shown as ?, and the rows stay aligned. */
    is_int(bbtoken_width_locale("xx_XX.no-such-locale"), -1,
           "a locale that cannot be made");
    is_int(bbtoken_width(name), 6 + 18 + 23, "without it: a column for each ?");
    snprintf(want, sizeof(want),
             "NAME%*s  PERMISSIONS               CREATED\n"
             "ci-readonly%*s  PROJECT_READ,REPO_READ    2026-01-01\n"
             "%.24s%s  PROJECT_ADMIN,REPO_ADMIN  2026-01-02\n",
             47 - 4, "", 47 - 11, "", "????????????????????????????????",
             " PROJECT_READ,REPO_READ");
    capture_start();
    bbtoken_table(&cells[0][0], 3, 3, NULL);
    capture_end();
    is_str(capture_out, want, "without it: every non-ASCII character as ?");
    is_int(bbtoken_width_locale("C.UTF-8"), 0, "C.UTF-8 again");
}

/* A row of the grid test: the id from arg, the other two cells written
 * into the row's own buffers. */
static void grid_row(bbtoken_grid_t *g, int i, const char **row,
                     const void *arg)
{
    const char *const *ids = arg;

    snprintf(bbtoken_grid_buf(g, i, 0), BBTOKEN_CELL_MAX, "P%d,R%d", i, i);
    snprintf(bbtoken_grid_buf(g, i, 1), BBTOKEN_CELL_MAX, "day %d", i);
    row[0] = ids[i];
    row[1] = bbtoken_grid_buf(g, i, 0);
    row[2] = bbtoken_grid_buf(g, i, 1);
}

/* The builder both token tables use: the header copied, each row filled
 * in place, its cells written into buffers of its own (a shared buffer
 * would show the last row's text in every row), printed as bbtoken_table
 * prints. */
static void test_grid(void)
{
    static const char *const head[3] = {"ID", "PERMISSIONS", "EXPIRES"};
    static const char *const ids[2] = {"1", "000000000002"};
    static const int min[3] = {12, 0, 0};
    int rc;

    capture_start();
    rc = bbtoken_grid_table(head, 3, min, 2, 2, grid_row, ids);
    capture_end();
    is_int(rc, 0, "grid: printed");
    is_str(capture_out,
           "ID            PERMISSIONS  EXPIRES\n"
           "1             P0,R0        day 0\n"
           "000000000002  P1,R1        day 1\n",
           "grid: the header, then each row's own cells, as bbtoken_table");

    capture_start();
    rc = bbtoken_grid_table(head, 3, min, 0, 2, grid_row, ids);
    capture_end();
    is_int(rc, 0, "grid: an empty one is no failure");
    is_str(capture_out, "ID            PERMISSIONS  EXPIRES\n",
           "grid: no rows, the header alone");
}

static void test_json(void)
{
    int rc;

    capture_start();
    rc = bbtoken_json_out(
        json_pack("{s:s, s:[i]}", "name", "caf\xc3\xa9", "n", 1));
    capture_end();
    is_int(rc, 0, "JSON: 0");
    is_str(capture_out,
           "{\n  \"name\": \"caf\xc3\xa9\",\n  \"n\": [\n    1\n  ]\n}\n",
           "indented by two, a newline after");
    capture_start();
    rc = bbtoken_json_out(NULL);
    capture_end();
    is_int(rc, BBTOKEN_EXIT_FAIL, "no value (a failed json_pack): exit 1");
    is_str(capture_err, "bbtoken: out of memory\n", "  says so");
    is_str(capture_out, "", "  and prints nothing");
}

/* The elements of arr printed one at a time at depth, after pre and
 * followed by the array's closing as bbtoken_json_element's caller
 * writes it, then post: the bytes json_dumps makes of doc. */
static void elements_are(json_t *doc, json_t *arr, int depth, size_t flags,
                         const char *pre, const char *post, const char *what)
{
    char *want = json_dumps(doc, flags);
    size_t i;
    int rc = 0;

    capture_start();
    fputs(pre, stdout);
    for (i = 0; i < json_array_size(arr); i++) {
        rc |=
            bbtoken_json_element(json_array_get(arr, i), flags, depth, i == 0);
    }
    if (json_array_size(arr) == 0) {
        fputs("[]", stdout);
    } else {
        printf("\n%*s]", 2 * (depth - 1), "");
    }
    fputs(post, stdout);
    capture_end();
    is_int(rc, 0, "%s: 0", what);
    is_str(capture_out, want ? want : "(null)", "%s: as json_dumps", what);
    free(want);
}

static void test_json_element(void)
{
    size_t flags[2] = {JSON_INDENT(2), JSON_INDENT(2) | JSON_ENSURE_ASCII};
    json_t *arr, *doc;
    int k;

    for (k = 0; k < 2; k++) {
        /* Nested objects and arrays, and a string holding a newline: it
         * is escaped, so it gets no indentation. */
        arr = json_pack("[{s:s, s:[s, s], s:{s:[]}}, i, [], {}, s]", "kind",
                        "missing", "columns", "salt", "line\none", "x", "y", 7,
                        "caf\xc3\xa9");
        elements_are(arr, arr, 1, flags[k], "", "",
                     k ? "the document's own array, ASCII"
                       : "the document's own array");
        doc = json_pack("{s:i, s:O}", "tokens", 3, "findings", arr);
        elements_are(doc, arr, 2, flags[k],
                     "{\n  \"tokens\": 3,\n  \"findings\": ", "\n}",
                     k ? "an object's member, ASCII" : "an object's member");
        json_decref(doc);
        json_decref(arr);
    }
    arr = json_array();
    doc = json_pack("{s:i, s:O}", "tokens", 0, "findings", arr);
    elements_are(doc, arr, 2, JSON_INDENT(2),
                 "{\n  \"tokens\": 0,\n  \"findings\": ", "\n}",
                 "an empty member");
    json_decref(doc);
    json_decref(arr);
}

/* list split at sep, as compact JSON. */
static void split_is(const char *list, const char *sep, const char *want)
{
    json_t *v = bbtoken_json_split(list, sep);
    char *got = v ? json_dumps(v, JSON_COMPACT) : NULL;

    is_str(got ? got : "(null)", want, "split \"%s\" at \"%s\"", list, sep);
    free(got);
    json_decref(v);
}

static void test_split(void)
{
    split_is("", ",", "[]");
    split_is("a", ",", "[\"a\"]");
    split_is("10.0.0.0/8,::1/128", ",", "[\"10.0.0.0/8\",\"::1/128\"]");
    split_is("packed, revoked, salt", ", ",
             "[\"packed\",\"revoked\",\"salt\"]");
    split_is("a,b", ", ", "[\"a,b\"]");
    split_is("a,,b", ",", "[\"a\",\"\",\"b\"]");
    split_is("\xff", ",", "(null)");
}

int main(void)
{
    test_messages();
    test_held();
    test_held_nested();
    test_tail();
    test_table();
    test_width();
    test_grid();
    test_json();
    test_json_element();
    test_split();
    return done_testing();
}
