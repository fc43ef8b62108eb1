/*
 * Handing a message to the system's mailer (mail.h): the sendmail
 * interface every MTA provides (Postfix, Exim, OpenSMTPD, msmtp...), run
 * without a shell as `PATH -f FROM -t -oi` with the message on its standard
 * input.  -f sets the envelope sender, where bounces go: without it the
 * mailer takes the login that runs us (postgres, from its cron), and a
 * smarthost that checks the sender refuses the message.
 * Its output goes to our stderr, so stdout keeps notify's report alone.
 * Each call has a deadline: a mailer that never answers (a queue on a hung
 * mount, an SMTP relay that accepts and then says nothing) would otherwise
 * hold notify, and its lock, for good, and every later run would stop at
 * the lock with nothing mailed or revoked.  An interrupt of the CLI
 * (interrupt.c) ends the wait as the deadline does, so that Ctrl-C is
 * not kept waiting for it; the terminal's Ctrl-C itself does not reach
 * the mailer, which leads a process group of its own.
 *
 * A mailer's exit status 0 says it took the message only if it read it:
 * a wrapper that exits 0 at once, or --sendmail /bin/true, would have every
 * notice recorded as told and the unused tokens revoked with nobody warned.
 * A message that fits in the pipe's buffer is written whole whether the
 * mailer reads it or not, so we keep a read end of the pipe of our own and
 * look, once the mailer is gone, whether any of the message is left in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mail.h"

extern char **environ;

/* A mailer past its deadline is asked to stop (SIGTERM), then killed
 * (SIGKILL) this much later; once killed, it is waited for as long again,
 * and left to init if it is still not gone (stuck in the kernel). */
#define BBTOKEN_MAILER_GRACE_MS 2000

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
 * the mailer gets the default, as from any shell.  It leads a process group
 * of its own, so that one past its deadline is stopped with whatever it
 * started (a wrapper script's sendmail, Postfix's postdrop). */
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
        (rc = posix_spawnattr_setpgroup(&at, 0)) == 0 &&
        (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF |
                                                POSIX_SPAWN_SETPGROUP)) == 0 &&
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

/* The time ms milliseconds from now, on the monotonic clock. */
static void bbtoken_deadline(struct timespec *end, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, end);
    end->tv_sec += ms / 1000;
    end->tv_nsec += (ms % 1000) * 1000000L;
    if (end->tv_nsec >= 1000000000L) {
        end->tv_sec++;
        end->tv_nsec -= 1000000000L;
    }
}

/* Milliseconds left before end, 0 once it is past. */
static int bbtoken_ms_left(const struct timespec *end)
{
    struct timespec now;
    long long ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (long long)(end->tv_sec - now.tv_sec) * 1000 +
         (end->tv_nsec - now.tv_nsec) / 1000000;
    return ms <= 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Whether the mailer has exited (left a zombie, so its pid stays ours). */
static int bbtoken_mailer_exited(pid_t pid)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           si.si_pid == pid;
}

/* Write buf to the mailer's end of the pipe (non-blocking) before end: 0,
 * or -1 with errno (ETIMEDOUT: the mailer stopped reading; ECANCELED: stop
 * said so meanwhile; EPIPE: it exited with the pipe full).  We hold a read
 * end ourselves, so a mailer gone is no EPIPE from write: it is looked
 * for while the pipe is full. */
static int bbtoken_mailer_feed(int fd, pid_t pid, const char *buf, size_t len,
                               const struct timespec *end, int (*stop)(void))
{
    struct pollfd p;
    ssize_t n;
    int ms, nap = 1;

    while (len > 0) {
        if ((n = write(fd, buf, len)) >= 0) {
            buf += n;
            len -= (size_t)n;
            nap = 1;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return -1;
        }
        if (bbtoken_mailer_exited(pid)) {
            errno = EPIPE;
            return -1;
        }
        if ((ms = bbtoken_ms_left(end)) == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (stop && stop()) {
            errno = ECANCELED;
            return -1;
        }
        p.fd = fd;
        p.events = POLLOUT;
        p.revents = 0;
        /* Polled, to see the mailer exit: nothing else wakes us then. */
        if (poll(&p, 1, nap < ms ? nap : ms) < 0 && errno != EINTR) {
            return -1;
        }
        if (nap < 50) {
            nap *= 2;
        }
    }
    return 0;
}

/* Wait for the mailer to end, until end or until stop (NULL: none) says
 * so: 0 with si filled in, 1 when it is still running at end, 2 when stop
 * said so, -1 with errno.
 * reap 0 leaves it a zombie (WNOWAIT), which keeps its pid and process
 * group from being anyone else's. */
static int bbtoken_mailer_wait(pid_t pid, int reap, siginfo_t *si,
                               const struct timespec *end, int (*stop)(void))
{
    int nap = 1, left;

    for (;;) {
        memset(si, 0, sizeof(*si));
        if (waitid(P_PID, (id_t)pid, si,
                   WEXITED | WNOHANG | (reap ? 0 : WNOWAIT)) != 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (si->si_pid == pid) {
            return 0;
        }
        if ((left = bbtoken_ms_left(end)) == 0) {
            return 1;
        }
        if (stop && stop()) {
            return 2;
        }
        /* Polled: most mailers are done in a few milliseconds. */
        poll(NULL, 0, nap < left ? nap : left);
        if (nap < 50) {
            nap *= 2;
        }
    }
}

/* A mailer past its deadline, and its process group: asked to stop, then
 * killed, and reaped. */
static void bbtoken_mailer_stop(pid_t pid)
{
    struct timespec end;
    siginfo_t si;

    kill(-pid, SIGTERM);
    kill(-pid, SIGCONT); /* a stopped one hears the SIGTERM */
    bbtoken_deadline(&end, BBTOKEN_MAILER_GRACE_MS);
    bbtoken_mailer_wait(pid, 0, &si, &end, NULL);
    /* What it started may live on without it: the group, while its
     * leader is a zombie still ours. */
    kill(-pid, SIGKILL);
    bbtoken_deadline(&end, BBTOKEN_MAILER_GRACE_MS);
    bbtoken_mailer_wait(pid, 1, &si, &end, NULL);
}

/* The mailer's exit status is what says a message was taken, once it read
 * the whole message (what is left in the pipe, through our read end).  With
 * SIGCHLD ignored (a scheduler or a wrapper may start us so, and an ignored
 * signal is inherited across exec) the kernel reaps the child itself and
 * waitpid fails with ECHILD: a message sendmail took would count as
 * refused, and go out again on every run.  So SIGCHLD is the default while
 * the mailer runs, for it too (Postfix's sendmail waits for its own
 * postdrop). */
static int bbtoken_sendmail_run(const char *path, const char *from,
                                const char *msg, size_t len, char **env,
                                int timeout, int (*stop)(void))
{
    /* from is an argument of its own, after -f: one that starts with "-"
     * is still -f's value, not an option. */
    char *argv[] = {(char *)path, "-f", (char *)from, "-t", "-oi", NULL};
    struct timespec end;
    int fds[2], keep, rc, saved, waited, unread = 0;
    siginfo_t si;
    pid_t pid;

    if (pipe(fds) != 0) {
        return -1;
    }
    /* Close-on-exec: the mailer has the pipe once, as its standard input,
     * and sees the end of the message when we close our write end. */
    keep = fcntl(fds[0], F_DUPFD_CLOEXEC, 0);
    rc = 0;
    if (keep < 0 ||
        fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK) != 0 ||
        (rc = bbtoken_mailer_spawn(&pid, path, argv, env, fds)) != 0) {
        saved = errno;
        if (keep >= 0) {
            close(keep);
        }
        close(fds[0]);
        close(fds[1]);
        errno = rc ? rc : saved;
        return -1;
    }
    close(fds[0]);
    bbtoken_deadline(&end, (long)timeout * 1000);

    rc = bbtoken_mailer_feed(fds[1], pid, msg, len, &end, stop);
    saved = errno;
    if (rc != 0 && (saved == ETIMEDOUT || saved == ECANCELED)) {
        /* Stopped before the end of the message is in the pipe, which
         * a mailer could take for a whole message and send. */
        close(keep);
        bbtoken_mailer_stop(pid);
        close(fds[1]);
        errno = saved;
        return -1;
    }
    close(fds[1]);
    switch ((waited = bbtoken_mailer_wait(pid, 1, &si, &end, stop))) {
    case 0:
        break;
    case 1:
    case 2:
        close(keep);
        bbtoken_mailer_stop(pid);
        errno = waited == 1 ? ETIMEDOUT : ECANCELED;
        return -1;
    default:
        saved = errno;
        close(keep);
        errno = saved;
        return -1;
    }
    /* Unknown is not read: fail closed. */
    if (rc == 0 && ioctl(keep, FIONREAD, &unread) != 0) {
        rc = -1;
        saved = errno;
    }
    close(keep);
    if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) {
        return 128 + si.si_status;
    }
    if (si.si_status == 0 && (rc != 0 || unread > 0)) {
        /* It said yes without reading the whole message: not sent. */
        errno = rc != 0 ? saved : EPIPE;
        return -1;
    }
    return si.si_status;
}

int bbtoken_sendmail(const char *path, const char *from, const char *msg,
                     size_t len, int timeout, int (*stop)(void))
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
    rc = bbtoken_sendmail_run(path, from, msg, len, env, timeout, stop);
    saved = errno;
    sigaction(SIGCHLD, &old, NULL);
    free(env);
    errno = saved;
    return rc;
}
