/*
 * What bbtoken prints: the one-line reason on stderr that every failure
 * gets, the tables and JSON of the reports on stdout, and the new token,
 * written to fd 1 without stdio.
 */
/* wcwidth is X/Open's. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "bbt_tokshape.h"
#include "cli.h"

/* Where what is said goes while a caller holds it (bbtoken_say_hold),
 * else NULL: stderr. */
static char *bbtoken_held;
static size_t bbtoken_held_size;

/* What ends a failure's line on stderr (bbtoken_say_tail). */
static bbtoken_tail_fn *bbtoken_tail;
static void *bbtoken_tail_arg;

void bbtoken_say_hold(char *buf, size_t size)
{
    bbtoken_held = size ? buf : NULL;
    bbtoken_held_size = size;
    if (bbtoken_held) {
        buf[0] = '\0';
    }
}

char *bbtoken_say_held(size_t *size)
{
    *size = bbtoken_held_size;
    return bbtoken_held;
}

void bbtoken_say_resume(char *buf, size_t size)
{
    bbtoken_held = size ? buf : NULL;
    bbtoken_held_size = size;
}

void bbtoken_say_tail(bbtoken_tail_fn *fn, void *arg)
{
    bbtoken_tail = fn;
    bbtoken_tail_arg = arg;
}

/* Print "bbtoken: REASON" as exactly one line: control characters from
 * argv or server messages become spaces, so a script reading stderr line
 * by line sees one line per failure.  What else would act on a terminal
 * rather than show (a C1 control such as CSI, an invisible formatting
 * character, a byte that is not UTF-8) is shown as a table shows it
 * (bbt_input_shown): the reason may repeat what a wrapper script was
 * given by someone else.  Nothing shaped like a token is said
 * (bbt_token_mask): a server's message quotes the names it was given (a
 * user named like a token before such names were refused), and stderr
 * goes out by mail from cron.  Held (bbtoken_say_hold), the same text is
 * added to the holder's buffer instead.  A failure's line said on
 * stderr ends with the tail, if any (bbtoken_say_tail); a held one is
 * part of a later line, which does. */
static void bbtoken_vsay(int failure, const char *fmt, va_list ap)
{
    char buf[2048], shown[sizeof(buf)];
    const char *tail;
    char *r, *w;
    int pending = 0;
    size_t len;

    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (failure && !bbtoken_held && bbtoken_tail &&
        (tail = bbtoken_tail(bbtoken_tail_arg)) && *tail) {
        len = strlen(buf);
        snprintf(buf + len, sizeof(buf) - len, "; %s", tail);
    }
    for (r = w = buf; *r; r++) {
        unsigned char c = (unsigned char)*r;

        /* A run of control characters (libpq's "\n\t") is one space;
         * the reader's own spaces are kept. */
        if (c < 0x20 || c == 0x7f) {
            pending = 1;
            continue;
        }
        if (pending && w != buf && w[-1] != ' ' && c != ' ') {
            *w++ = ' ';
        }
        pending = 0;
        *w++ = (char)c;
    }
    *w = '\0';
    bbt_token_mask(buf, sizeof(buf));
    bbt_input_shown(buf, shown);
    if (bbtoken_held) {
        size_t len = strlen(bbtoken_held);

        snprintf(bbtoken_held + len, bbtoken_held_size - len, "%s%s",
                 len ? "; " : "", shown);
        return;
    }
    fprintf(stderr, "bbtoken: %s\n", shown);
}

int bbtoken_stdout_written(int *err)
{
    /* The reason only when this flush found it: errno may be a database
     * call's since an earlier write failed. */
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout)) {
        *err = 0;
        return 0;
    }
    *err = errno;
    return -1;
}

int bbtoken_token_like(const char *v)
{
    return v && bbt_token_shaped(v, strlen(v));
}

const char *bbtoken_tokenless(const char *v)
{
    return bbtoken_token_like(v) ? BBT_TOKSHAPE_HIDDEN : v;
}

/* bbtoken_repeatable, with token_like the rule of a token. */
static const char *bbtoken_repeatable_by(const char *v, int token_like)
{
    if (token_like) {
        return BBT_TOKSHAPE_HIDDEN;
    }
    if (v && (strchr(v, '=') || strstr(v, "://"))) {
        return "(not repeated: a connection string without its --db?)";
    }
    return v;
}

const char *bbtoken_repeatable(const char *v)
{
    return bbtoken_repeatable_by(v, bbtoken_token_like(v));
}

int bbtoken_user_like(const char *v)
{
    return v && bbt_token_in_name(v, strlen(v));
}

const char *bbtoken_user_repeatable(const char *v)
{
    return bbtoken_repeatable_by(v, bbtoken_user_like(v));
}

int bbtoken_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    bbtoken_vsay(1, fmt, ap);
    va_end(ap);
    return BBTOKEN_EXIT_FAIL;
}

void bbtoken_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    bbtoken_vsay(0, fmt, ap);
    va_end(ap);
}

int bbtoken_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    bbtoken_vsay(0, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage);
    return BBTOKEN_EXIT_USAGE;
}

/* The locale a table's widths are measured in (bbtoken_width_locale),
 * made on first use; (locale_t)0 where it could not be. */
static locale_t bbtoken_width_loc;
static int bbtoken_width_made;

int bbtoken_width_locale(const char *name)
{
    if (bbtoken_width_loc) {
        freelocale(bbtoken_width_loc);
    }
    bbtoken_width_loc = newlocale(LC_CTYPE_MASK, name, (locale_t)0);
    bbtoken_width_made = 1;
    return bbtoken_width_loc ? 0 : -1;
}

/* The columns s takes on a terminal, as a table shows it; with out (which
 * may be s itself: what is written never outruns what is read) what it
 * shows is written there.  A cell counted wrong moves the cells after it
 * from under their headers, and a token name may be made to: padded with
 * fullwidth characters until text of its own ("PROJECT_READ,REPO_READ")
 * stands under PERMISSIONS.  So the C library's wcwidth counts, in a
 * UTF-8 LC_CTYPE of its own (the CLI runs in the C locale, whatever the
 * environment says, and there wcwidth knows ASCII alone): two for an
 * East Asian wide or fullwidth character, none for a combining mark.  A
 * character it gives no width (one assigned after its Unicode tables,
 * which a newer terminal may draw two columns wide) is shown as "?".
 * Without that locale no non-ASCII character's width can be trusted, so
 * each is shown as "?" rather than counted as a column and maybe not. */
static int bbtoken_columns(const char *s, char *out)
{
    locale_t loc, old = (locale_t)0;
    size_t left = strlen(s), n;
    mbstate_t st;
    wchar_t wc;
    int cols = 0, x;

    if (!bbtoken_width_made) {
        bbtoken_width_locale("C.UTF-8");
    }
    if ((loc = bbtoken_width_loc)) {
        old = uselocale(loc);
    }
    memset(&st, 0, sizeof(st));
    while (left) {
        x = -1;
        if (!loc) {
            n = 1;
            if ((unsigned char)*s < 0x80) {
                x = 1;
            } else {
                /* A character's continuation bytes go with its "?". */
                while ((s[n] & 0xc0) == 0x80) {
                    n++;
                }
            }
        } else if ((n = mbrtowc(&wc, s, left, &st)) == 0 ||
                   n > (size_t)MB_LEN_MAX) {
            /* Not UTF-8 (bbt_input_shown leaves none): a byte at a time. */
            n = 1;
            memset(&st, 0, sizeof(st));
        } else {
            x = wcwidth(wc);
        }
        if (out) {
            if (x < 0) {
                *out++ = '?';
            } else {
                memmove(out, s, n);
                out += n;
            }
        }
        cols += x < 0 ? 1 : x;
        s += n;
        left -= n;
    }
    if (out) {
        *out = '\0';
    }
    if (loc) {
        uselocale(old);
    }
    return cols;
}

int bbtoken_width(const char *s)
{
    return bbtoken_columns(s, NULL);
}

/* A table goes to a terminal: what a cell holds is shown as it reads
 * (bbt_input_shown), so an old audit record's name with U+202E, or an
 * actor holding an escape sequence, cannot reorder or restyle the rows,
 * and with no character whose columns are not known (bbtoken_columns).
 * A cell is shown into buf when it fits, else into memory of its own
 * (*own, to free); NULL is out of memory. */
static const char *bbtoken_shown(const char *raw, char *buf, size_t len,
                                 char **own)
{
    const char *v = raw ? raw : "";
    size_t need = strlen(v) + 1;

    *own = NULL;
    if (need > len && !(buf = *own = malloc(need))) {
        return NULL;
    }
    bbt_input_shown(v, buf);
    bbtoken_columns(buf, buf);
    return buf;
}

int bbtoken_table_measure(const char *const *row, int cols, int *w)
{
    char buf[512], *own;
    const char *v;
    int c, x;

    for (c = 0; c < cols && c < BBTOKEN_TABLE_COLS; c++) {
        if (!(v = bbtoken_shown(row[c], buf, sizeof(buf), &own))) {
            return bbtoken_fail("out of memory");
        }
        if ((x = bbtoken_width(v)) > w[c]) {
            w[c] = x;
        }
        free(own);
    }
    return 0;
}

int bbtoken_table_row(const char *const *row, int cols, const int *w)
{
    char buf[512], *own;
    const char *v;
    int c, x;

    for (c = 0; c < cols; c++) {
        if (!(v = bbtoken_shown(row[c], buf, sizeof(buf), &own))) {
            return bbtoken_fail("out of memory");
        }
        if (c == cols - 1) {
            printf("%s\n", v);
        } else {
            x = c < BBTOKEN_TABLE_COLS ? w[c] - bbtoken_width(v) : 0;
            printf("%s%*s  ", v, x > 0 ? x : 0, "");
        }
        free(own);
    }
    return 0;
}

void bbtoken_table(const char *const *raw, int rows, int cols, const int *min)
{
    int w[BBTOKEN_TABLE_COLS] = {0}, r, c;

    for (c = 0; c < cols && c < BBTOKEN_TABLE_COLS; c++) {
        w[c] = min ? min[c] : 0;
    }
    for (r = 0; r < rows; r++) {
        if (bbtoken_table_measure(raw + (size_t)r * (size_t)cols, cols, w)) {
            return;
        }
    }
    for (r = 0; r < rows; r++) {
        if (bbtoken_table_row(raw + (size_t)r * (size_t)cols, cols, w)) {
            return;
        }
    }
}

char *bbtoken_grid_buf(bbtoken_grid_t *g, int i, int k)
{
    return g->scratch +
           ((size_t)i * (size_t)g->nscratch + (size_t)k) * BBTOKEN_CELL_MAX;
}

int bbtoken_grid_table(const char *const *head, int cols, const int *min,
                       int rows, int nscratch, bbtoken_grid_fill_fn *fill,
                       const void *arg)
{
    bbtoken_grid_t g = {NULL, NULL, rows, cols, nscratch};
    int i, rc = 0;

    g.cells = calloc((size_t)(rows + 1) * (size_t)cols, sizeof(*g.cells));
    /* One byte more: an empty table is not out of memory. */
    g.scratch =
        calloc((size_t)rows * (size_t)nscratch * BBTOKEN_CELL_MAX + 1, 1);
    if (!g.cells || !g.scratch) {
        rc = bbtoken_fail("out of memory");
        goto done;
    }
    memcpy(g.cells, head, (size_t)cols * sizeof(*g.cells));
    for (i = 0; i < rows; i++) {
        fill(&g, i, g.cells + (size_t)(i + 1) * (size_t)cols, arg);
    }
    bbtoken_table(g.cells, rows + 1, cols, min);
done:
    free(g.cells);
    free(g.scratch);
    return rc;
}

/* jansson escapes C0 controls only: text the database holds from before
 * its CHECKs (an audit record quotes a name as it was) may carry a C1
 * control or a bidirectional override, which a terminal would act on.
 * On a terminal every non-ASCII character is written as \uXXXX, which a
 * JSON reader takes as the same string; a pipe gets UTF-8 as it is. */
size_t bbtoken_json_flags(void)
{
    return JSON_INDENT(2) | (isatty(STDOUT_FILENO) ? JSON_ENSURE_ASCII : 0);
}

int bbtoken_json_out(json_t *v)
{
    char *out = v ? json_dumps(v, bbtoken_json_flags()) : NULL;

    json_decref(v);
    if (!out) {
        return bbtoken_fail("out of memory");
    }
    puts(out);
    free(out);
    return 0;
}

/* Each level indents by two spaces.  A JSON text's strings hold no raw
 * newline, so each newline is the layout's.  An element may be a number
 * or a string, which json_dumps refuses without JSON_ENCODE_ANY. */
int bbtoken_json_element(json_t *v, size_t flags, int depth, int first)
{
    char *out = json_dumps(v, flags | JSON_ENCODE_ANY), *p;

    if (!out) {
        return -1;
    }
    printf("%s\n%*s", first ? "[" : ",", 2 * depth, "");
    for (p = out; *p; p++) {
        putchar(*p);
        if (*p == '\n') {
            printf("%*s", 2 * depth, "");
        }
    }
    free(out);
    return 0;
}

/* No copy of a token is left behind in a stdio buffer, and a failure is
 * known before the commit (mint's token on stdout); a mailer that exits
 * without reading all of its message makes this fail with EPIPE (sendmail,
 * SIGPIPE ignored meanwhile). */
int bbtoken_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

json_t *bbtoken_json_split(const char *list, const char *sep)
{
    json_t *arr = json_array();
    size_t seplen = strlen(sep);
    const char *p = list, *at;

    while (arr && *p) {
        at = strstr(p, sep);
        if (json_array_append_new(
                arr, json_stringn(p, at ? (size_t)(at - p) : strlen(p))) != 0) {
            json_decref(arr);
            return NULL;
        }
        p = at ? at + seplen : p + strlen(p);
    }
    return arr;
}

json_t *bbtoken_perms_json(const char *project, const char *repo)
{
    return project ? json_pack("[s,s]", project, repo) : json_pack("[s]", repo);
}

int bbtoken_holder_json(json_t *obj, const char *user, int active,
                        const char *key, const char *slug)
{
    json_t *h;

    if (user) {
        h = active < 0
                ? json_pack("{s:s}", "name", user)
                : json_pack("{s:s, s:b}", "name", user, "active", active);
        return json_object_set_new(obj, "user", h);
    }
    if (!key) {
        return -1;
    }
    if (!slug) {
        return json_object_set_new(obj, "project",
                                   json_pack("{s:s}", "key", key));
    }
    return json_object_set_new(
        obj, "repository",
        json_pack("{s:s, s:{s:s}}", "slug", slug, "project", "key", key));
}
