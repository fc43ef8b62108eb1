/* bbtoken notify's sendmail without a database (cli/sendmail.c): its exit
 * status through stand-in mailers, the arguments and message it is given,
 * and its deadline: one that never answers is stopped with what it
 * started, at the deadline or when the caller's stop (an interrupt) says
 * so. */
#include "cli_capture.h"
#include "mail.h"
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A stand-in mailer: a shell script in dir. */
static void script(const char *dir, const char *name, const char *body,
                   char *path, size_t len)
{
    FILE *f;

    snprintf(path, len, "%s/%s", dir, name);
    f = fopen(path, "w");
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0755);
}

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

    if (f) {
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

/* 1 once process pid is gone (or a zombie: dead, not yet reaped by
 * whoever inherited it), polling for up to a minute. */
static int gone(pid_t pid)
{
    char path[64], *p;
    int i;

    for (i = 0; i < 6000; i++) {
        snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
        p = slurp(path);
        if (!*p || ((p = strrchr(p, ')')) && (p[2] == 'Z' || p[2] == 'X'))) {
            return 1;
        }
        usleep(10000);
    }
    return 0;
}

/* gone(), and a process still there after it is killed: a check that
 * failed leaves none of the mailers' children behind.  pid is this test's
 * own (a stand-in mailer's child), and still running, so not reused. */
static int gone_else_kill(pid_t pid)
{
    if (pid <= 0) {
        return 0;
    }
    if (gone(pid)) {
        return 1;
    }
    kill(pid, SIGKILL);
    return 0;
}

/* The envelope sender every message here is sent with. */
#define SENDER "bbtoken@example.com"

/* A mailer that never answers, as notify's deadline stops it: whether it
 * reads the message or not, and what it started with it. */
static void test_sendmail_timeout(void)
{
    char dir[] = "/tmp/bbt-unit-mail-XXXXXX", path[256], file[256], cmd[512];
    static const char msg[] = "To: a@b\nSubject: x\n\nbody\n";
    size_t big_len = 1 << 20;
    char *big = malloc(big_len);
    long bg;
    int rc;

    if (!ok(mkdtemp(dir) != NULL, "a temporary directory")) {
        free(big);
        return;
    }
    memset(big, 'x', big_len);
    snprintf(cmd, sizeof(cmd),
             "sleep 600 & echo $! > %s/bg; cat > /dev/null; sleep 600", dir);
    script(dir, "hang", cmd, path, sizeof(path));
    errno = 0;
    rc = bbtoken_sendmail(path, SENDER, msg, strlen(msg), 1, NULL);
    is_int(rc, -1, "a mailer that reads and never ends: -1");
    is_int(errno, ETIMEDOUT, "  ETIMEDOUT");
    snprintf(file, sizeof(file), "%s/bg", dir);
    bg = atol(slurp(file));
    ok(gone_else_kill((pid_t)bg), "  what it started is stopped too (%ld)", bg);
    script(dir, "deaf", "exec sleep 600", path, sizeof(path));
    errno = 0;
    rc = bbtoken_sendmail(path, SENDER, big, big_len, 1, NULL);
    is_int(rc, -1, "one that never reads a big message: -1");
    is_int(errno, ETIMEDOUT, "  ETIMEDOUT");
    /* Deaf to SIGTERM, and so is what it starts (an ignored signal is
     * inherited): only a SIGKILL to the whole group ends the child too,
     * a wrapper's sendmail or postdrop that would otherwise live on. */
    snprintf(file, sizeof(file), "%s/bg", dir);
    unlink(file);
    snprintf(cmd, sizeof(cmd),
             "trap '' TERM; sleep 600 & echo $! > %s/bg; cat > /dev/null; "
             "wait",
             dir);
    script(dir, "stubborn", cmd, path, sizeof(path));
    errno = 0;
    rc = bbtoken_sendmail(path, SENDER, msg, strlen(msg), 1, NULL);
    is_int(rc, -1, "one that ignores SIGTERM: -1 (killed)");
    is_int(errno, ETIMEDOUT, "  ETIMEDOUT");
    bg = atol(slurp(file));
    ok(gone_else_kill((pid_t)bg),
       "  its child, deaf to SIGTERM too, is killed with it (%ld)", bg);
    script(dir, "ok", "cat > /dev/null", path, sizeof(path));
    is_int(bbtoken_sendmail(path, SENDER, big, big_len, 1, NULL), 0,
           "one that takes a big message in time: 0");
    free(big);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        diag("could not remove %s", dir);
    }
}

/* notify's stop: an interrupt of the CLI, here once the file named
 * exists (the mailer made it, and waits). */
static char stop_file[256];

static int stop_once_there(void)
{
    return access(stop_file, F_OK) == 0;
}

/* A mailer that never answers, given up when stop says so, well before
 * its deadline: stopped as at the deadline, the message not sent. */
static void test_sendmail_stop(void)
{
    char dir[] = "/tmp/bbt-unit-mail-XXXXXX", path[256], cmd[512];
    static const char msg[] = "To: a@b\nSubject: x\n\nbody\n";
    size_t big_len = 1 << 20;
    char *big = malloc(big_len);
    long bg;
    int rc;

    if (!ok(mkdtemp(dir) != NULL, "a temporary directory")) {
        free(big);
        return;
    }
    memset(big, 'x', big_len);
    snprintf(stop_file, sizeof(stop_file), "%s/bg", dir);
    snprintf(cmd, sizeof(cmd),
             "sleep 600 & echo $! > %s/bg.tmp; mv %s/bg.tmp %s/bg; "
             "cat > /dev/null; sleep 600",
             dir, dir, dir);
    script(dir, "hang", cmd, path, sizeof(path));
    errno = 0;
    rc = bbtoken_sendmail(path, SENDER, msg, strlen(msg), 600, stop_once_there);
    is_int(rc, -1, "stopped while a mailer that read it waits: -1");
    is_int(errno, ECANCELED, "  ECANCELED, not its deadline");
    bg = atol(slurp(stop_file));
    ok(gone_else_kill((pid_t)bg), "  what it started is stopped too (%ld)", bg);
    snprintf(stop_file, sizeof(stop_file), "%s/deaf", dir);
    snprintf(cmd, sizeof(cmd), "touch %s/deaf; exec sleep 600", dir);
    script(dir, "deaf", cmd, path, sizeof(path));
    errno = 0;
    rc = bbtoken_sendmail(path, SENDER, big, big_len, 600, stop_once_there);
    is_int(rc, -1,
           "stopped while one that never reads a big message waits: "
           "-1");
    is_int(errno, ECANCELED, "  ECANCELED");
    free(big);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        diag("could not remove %s", dir);
    }
}

static void test_sendmail(void)
{
    char dir[] = "/tmp/bbt-unit-mail-XXXXXX", path[256], file[256], cmd[512];
    static const char msg[] = "To: a@b\nSubject: x\n\nbody\n.\nmore\n";
    size_t big_len = 1 << 20;
    char *big = malloc(big_len);
    int rc;

    if (!ok(mkdtemp(dir) != NULL, "a temporary directory")) {
        return;
    }
    memset(big, 'x', big_len);
    snprintf(cmd, sizeof(cmd),
             "printf '%%s\\n' \"$@\" > %s/args; cat > %s/msg; echo to-stdout",
             dir, dir);
    script(dir, "ok", cmd, path, sizeof(path));
    capture_start();
    rc = bbtoken_sendmail(path, SENDER, msg, strlen(msg), 60, NULL);
    capture_end();
    is_int(rc, 0, "a mailer that takes it: 0");
    snprintf(file, sizeof(file), "%s/msg", dir);
    is_str(slurp(file), msg, "  it got the whole message");
    snprintf(file, sizeof(file), "%s/args", dir);
    is_str(slurp(file), "-f\n" SENDER "\n-t\n-oi\n",
           "  run as -f SENDER -t -oi: the envelope sender set");
    is_str(capture_out, "", "  its output is not on our stdout");
    is_str(capture_err, "to-stdout\n", "  but on stderr");
    capture_start();
    rc = bbtoken_sendmail(path, "-oQ/tmp/q@example.com", msg, strlen(msg), 60,
                          NULL);
    capture_end();
    is_int(rc, 0, "a sender that reads like an option: taken");
    is_str(slurp(file), "-f\n-oQ/tmp/q@example.com\n-t\n-oi\n",
           "  -f's own argument, the next one");

    script(dir, "fail", "exit 3", path, sizeof(path));
    is_int(bbtoken_sendmail(path, SENDER, big, big_len, 60, NULL), 3,
           "a mailer that fails without reading: its exit status (no "
           "SIGPIPE)");
    script(dir, "liar", "exit 0", path, sizeof(path));
    errno = 0;
    is_int(bbtoken_sendmail(path, SENDER, big, big_len, 60, NULL), -1,
           "one that says 0 without reading the message: -1");
    is_int(errno, EPIPE, "  EPIPE");
    errno = 0;
    is_int(bbtoken_sendmail(path, SENDER, msg, strlen(msg), 60, NULL), -1,
           "  and a message that fits in the pipe: -1");
    is_int(errno, EPIPE, "  EPIPE");
    script(dir, "half", "dd bs=1 count=10 of=/dev/null 2>/dev/null", path,
           sizeof(path));
    errno = 0;
    is_int(bbtoken_sendmail(path, SENDER, msg, strlen(msg), 60, NULL), -1,
           "one that says 0 having read part of it: -1");
    is_int(errno, EPIPE, "  EPIPE");
    script(dir, "killed", "kill -9 $$", path, sizeof(path));
    is_int(bbtoken_sendmail(path, SENDER, msg, strlen(msg), 60, NULL), 128 + 9,
           "one killed by a signal: 128 + the signal");
    snprintf(path, sizeof(path), "%s/missing", dir);
    errno = 0;
    rc = bbtoken_sendmail(path, SENDER, msg, strlen(msg), 60, NULL);
    /* glibc's posix_spawn reports a failed exec; others (valgrind's)
     * leave it to the child, which exits 127 as a shell would. */
    ok((rc == -1 && errno == ENOENT) || rc == 127,
       "no mailer there: -1 and ENOENT (or 127): %d, %s", rc, strerror(errno));
    free(big);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        diag("could not remove %s", dir);
    }
}

int main(void)
{
    test_sendmail();
    test_sendmail_timeout();
    test_sendmail_stop();
    return done_testing();
}
