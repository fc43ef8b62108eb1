/*
 * libFuzzer target: bbtoken's command line (cli/args.c, values.c) from
 * hostile words, as a confused user or a script could pass them.  The
 * input is a selector byte, then NUL-separated words.  Held to its
 * contract:
 *
 * - the global options and a command's options are parsed, or refused
 *   with one line of reason (no control character) and the usage; a value
 *   given before the hostile words (--db's conninfo, --name's) is never
 *   repeated in what is printed;
 * - what is parsed is what the command takes: as many operands as it
 *   says, only its own options, at most BBTOKEN_MAX_PERMS --perm and
 *   BBT_NETS_MAX --allow-from, never a value and its --no- option;
 * - a DURATION is 1 to 6 digits and a unit in seconds; --revoke-unused-
 *   after is none or 1d to 36500d; a WHEN is a duration ago or a date of
 *   its shape; a TARGET is a canonical key and a slug; a number is in its
 *   range.
 *
 * Any broken rule aborts.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define FZ_WORDS 40
/* A value given before the hostile words; nothing printed may hold it. */
#define FZ_SECRET "pw=Zq8sEcReT"

static char *fz_said;
static size_t fz_said_len, fz_mark;

/* Print to memory instead of stderr and stdout; ASan's reports still go
 * to fd 2. */
static FILE *fz_capture(void)
{
    FILE *f;

    free(fz_said);
    fz_said = NULL;
    fz_mark = 0;
    if (!(f = open_memstream(&fz_said, &fz_said_len))) {
        abort();
    }
    stderr = f;
    stdout = f;
    return f;
}

static void fz_release(FILE *f, FILE *err, FILE *out)
{
    fclose(f);
    stderr = err;
    stdout = out;
}

/* A refusal: "bbtoken: REASON" on one line, first in what was printed
 * since the last. */
static void fz_refused(void)
{
    const char *said, *nl;
    size_t i;

    fflush(stderr);
    said = fz_said + fz_mark;
    if (strncmp(said, "bbtoken: ", 9) != 0 || !(nl = strchr(said, '\n'))) {
        abort();
    }
    fz_mark = fz_said_len;
    for (i = 0; said + i < nl; i++) {
        unsigned char c = (unsigned char)said[i];

        if (c < 0x20 || c == 0x7f) {
            abort();
        }
    }
}

static int fz_in(char **argv, int argc, const char *s)
{
    int i;

    for (i = 0; i < argc; i++) {
        if (argv[i] && strstr(argv[i], s)) {
            return 1;
        }
    }
    return 0;
}

static void fz_values(const char *w)
{
    bbtoken_target_t t;
    bbtoken_when_t when;
    char secs[32], key[BBT_KEY_BUF];
    long long d = bbtoken_duration(w);
    size_t n = strspn(w, "0123456789");
    long v;

    if (d >= 0) {
        const char *unit = w + n;
        long long num = strtoll(w, NULL, 10);
        long long mul = !*unit || *unit == 'd' ? 86400
                        : *unit == 'h'         ? 3600
                        : *unit == 'w'         ? 7 * 86400
                                               : -1;

        if (n == 0 || n > 6 || mul < 0 || (*unit && unit[1]) ||
            d != num * mul) {
            abort();
        }
    }
    if (bbtoken_check_unused(w, secs, sizeof(secs)) == 0) {
        if (strcmp(secs, "none") &&
            (bbt_input_number(secs, 8 * 86400, 36500L * 86400, &v) != 0 ||
             v != d)) {
            abort();
        }
    } else {
        fz_refused();
    }
    if (bbtoken_when(w, "--since", &when) == 0) {
        if (!when.abs == !when.ago) {
            abort();
        }
        if (when.ago && (d < 0 || strtoll(when.ago, NULL, 10) != d)) {
            abort();
        }
        if (when.abs) {
            static const char shape[] = "dddd-dd-dd dd:dd:dd";
            size_t i, len = strlen(when.abs);

            if (len != 16 && len != 19) {
                abort();
            }
            for (i = 0; i < len; i++) {
                if (shape[i] == 'd' ? !bbt_is_digit((unsigned char)when.abs[i])
                                    : when.abs[i] != shape[i]) {
                    abort();
                }
            }
        }
    } else {
        fz_refused();
    }
    if (bbtoken_parse_target(w, &t) == 0) {
        if (bbt_input_key(t.key, strlen(t.key), key) != 0 ||
            strcmp(key, t.key) ||
            (t.slug && !bbt_input_slug(t.slug, strlen(t.slug))) ||
            (!t.slug && strchr(w, '/'))) {
            abort();
        }
    } else {
        fz_refused();
    }
    if (bbtoken_check_number("--max-tokens", w, BBT_POLICY_MAX_TOKENS, 1) ==
        0) {
        if (strcmp(w, "none") &&
            bbt_input_number(w, 1, BBT_POLICY_MAX_TOKENS, NULL) != 0) {
            abort();
        }
    } else {
        fz_refused();
    }
}

static void fz_args(const bbtoken_cmd_t *cmd, int argc, char **argv)
{
    bbtoken_args_t a;
    int rc, i;

    rc = bbtoken_parse_args(cmd, argc, argv, &a);
    if (rc == BBTOKEN_EXIT_USAGE) {
        fz_refused();
        return;
    }
    if (rc == BBTOKEN_EXIT_OK) {
        return;
    }
    if (rc != BBTOKEN_GO_ON) {
        abort();
    }
    if (cmd->noperands < 0 ? a.noperands > 1 : a.noperands != cmd->noperands) {
        abort();
    }
    for (i = 0; i < a.noperands; i++) {
        if (!a.operands[i]) {
            abort();
        }
    }
    if (a.nperms > BBTOKEN_MAX_PERMS || a.nnets > BBT_NETS_MAX ||
        (a.email && a.no_email) || (a.display_name && a.no_display_name) ||
        (a.nnets && a.nets_any)) {
        abort();
    }
    if ((a.label && !(cmd->opts & BBTOKEN_BIT(BBTOKEN_OPT_NAME))) ||
        (a.admin && !(cmd->opts & BBTOKEN_BIT(BBTOKEN_OPT_ADMIN))) ||
        (a.nperms && !(cmd->opts & BBTOKEN_BIT(BBTOKEN_OPT_PERM))) ||
        (a.email && !(cmd->opts & BBTOKEN_BIT(BBTOKEN_OPT_EMAIL))) ||
        (a.repo && !(cmd->opts & BBTOKEN_BIT(BBTOKEN_OPT_REPO))) ||
        (a.revoke && !(cmd->opts & BBTOKEN_BIT(BBTOKEN_OPT_REVOKE)))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *argv[FZ_WORDS + 6], *given[FZ_WORDS + 6], *p, *end;
    int argc = 0, words, i;
    unsigned char sel;
    bbtoken_cmd_t cmd;
    FILE *err = stderr, *out = stdout, *f;
    const char *db;
    int cmdi;

    if (size < 1) {
        return 0;
    }
    sel = data[0];
    if (!(buf = malloc(size + 1))) {
        return 0;
    }
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    end = buf + size - 1;
    argv[argc++] = "bbtoken";
    /* A value before the words: --db's (global) or --name's (command). */
    argv[argc++] = (sel & 1) ? "--db" : "--name";
    argv[argc++] = FZ_SECRET;
    words = argc;
    for (p = buf; p <= end && argc < FZ_WORDS; p += strlen(p) + 1) {
        argv[argc++] = p;
    }
    argv[argc] = NULL;
    /* getopt permutes argv: the words as given. */
    memcpy(given, argv, sizeof(given));

    f = fz_capture();
    if (sel & 1) {
        int rc = bbtoken_parse_global(argc, argv, &db, &cmdi);

        fflush(f);
        if (rc == BBTOKEN_EXIT_USAGE) {
            fz_refused();
        } else if (rc == BBTOKEN_GO_ON &&
                   (strcmp(db, FZ_SECRET) &&
                    !fz_in(given + words, argc - words, db))) {
            abort();
        }
    } else {
        memset(&cmd, 0, sizeof(cmd));
        cmd.name = "fuzz";
        cmd.usage = "USAGE fuzz\n";
        cmd.full = "fuzz";
        cmd.operands = "what it takes";
        cmd.noperands = (int)(sel >> 1 & 3) - 1;
        /* The command's options: all, or every other one. */
        cmd.opts = (sel & 8) ? ~0ull : 0x5555555555555555ull;
        fz_args(&cmd, argc, argv);
    }
    fflush(f);
    if (!fz_in(given + words, argc - words, "Zq8s") &&
        memmem(fz_said, fz_said_len, "Zq8s", 4)) {
        fz_release(f, err, out);
        fputs(fz_said, stderr);
        abort();
    }
    /* The values' own rules, on each word, in the same capture: what a
     * word printed is what follows the mark.  A stream of its own for
     * each word would be a fresh buffer each, most of this target's time
     * under ASan. */
    for (i = words; i < argc; i++) {
        fflush(f);
        fz_mark = fz_said_len;
        fz_values(given[i]);
    }
    fz_release(f, err, out);
    free(buf);
    return 0;
}
