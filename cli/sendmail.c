/*
 * Handing a message to the system's mailer (mail.h): the sendmail
 * interface every MTA provides (Postfix, Exim, OpenSMTPD, msmtp...), run
 * without a shell as `PATH -t -oi` with the message on its standard input.
 * Its output goes to our stderr, so stdout keeps notify's report alone.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "mail.h"

extern char **environ;

/* Our environment but the database password: PGPASSWORD was given to
 * bbtoken for libpq (README: The CLI), and the mailer, or a wrapper that
 * logs what it is run with, has no use for it.  The strings stay environ's;
 * the caller frees the array. */
static char **bbtoken_mailer_env(void)
{
    static const char pw[] = "PGPASSWORD=";
    size_t n = 0, i, k = 0;
    char **env;

    while (environ[n]) {
        n++;
    }
    if (!(env = calloc(n + 1, sizeof(*env)))) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (strncmp(environ[i], pw, sizeof(pw) - 1) != 0) {
            env[k++] = environ[i];
        }
    }
    return env;
}

/* Start the mailer reading the pipe fds (its standard output is our
 * standard error): 0, or an errno.  The CLI ignores SIGPIPE (its writes
 * fail with EPIPE instead), and an ignored signal is inherited across exec:
 * the mailer gets the default, as from any shell. */
static int bbtoken_mailer_spawn(pid_t *pid, const char *path, char **argv,
                                char **env, const int fds[2])
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t dfl;
    int rc;

    if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
        return rc;
    }
    if ((rc = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    if ((rc = posix_spawnattr_setsigdefault(&at, &dfl)) == 0 &&
        (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF)) == 0 &&
        (rc = posix_spawn_file_actions_adddup2(&fa, fds[0], 0)) == 0 &&
        (rc = posix_spawn_file_actions_adddup2(&fa, 2, 1)) == 0 &&
        (rc = posix_spawn_file_actions_addclose(&fa, fds[0])) == 0 &&
        (rc = posix_spawn_file_actions_addclose(&fa, fds[1])) == 0) {
        rc = posix_spawn(pid, path, &fa, &at, argv, env);
    }
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* The mailer's exit status is what says a message was taken.  With SIGCHLD
 * ignored (a scheduler or a wrapper may start us so, and an ignored signal
 * is inherited across exec) the kernel reaps the child itself and waitpid
 * fails with ECHILD: a message sendmail took would count as refused, and
 * go out again on every run.  So SIGCHLD is the default while the mailer
 * runs, for it too (Postfix's sendmail waits for its own postdrop). */
static int bbtoken_sendmail_run(const char *path, const char *msg, size_t len,
                                char **env)
{
    char *argv[] = {(char *)path, "-t", "-oi", NULL};
    struct sigaction ign, old;
    int fds[2], rc, status, saved;
    pid_t pid;

    if (pipe(fds) != 0) {
        return -1;
    }
    if ((rc = bbtoken_mailer_spawn(&pid, path, argv, env, fds)) != 0) {
        close(fds[0]);
        close(fds[1]);
        errno = rc;
        return -1;
    }
    close(fds[0]);

    /* A mailer that quits early is EPIPE, whatever the caller does with
     * SIGPIPE (main ignores it; another caller, a test, may not). */
    ign.sa_handler = SIG_IGN;
    ign.sa_flags = 0;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    rc = bbtoken_write_all(fds[1], msg, len);
    saved = errno;
    close(fds[1]);
    sigaction(SIGPIPE, &old, NULL);

    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    if (WEXITSTATUS(status) == 0 && rc != 0) {
        /* It said yes without reading the whole message: not sent. */
        errno = saved;
        return -1;
    }
    return WEXITSTATUS(status);
}

int bbtoken_sendmail(const char *path, const char *msg, size_t len)
{
    struct sigaction dfl, old;
    char **env;
    int rc, saved;

    if (!(env = bbtoken_mailer_env())) {
        errno = ENOMEM;
        return -1;
    }
    dfl.sa_handler = SIG_DFL;
    dfl.sa_flags = 0;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, &old);
    rc = bbtoken_sendmail_run(path, msg, len, env);
    saved = errno;
    sigaction(SIGCHLD, &old, NULL);
    free(env);
    errno = saved;
    return rc;
}
