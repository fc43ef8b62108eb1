/*
 * The fence between mod_watchdog's thread and the child's exit (see
 * bbt_wdcall.h).
 *
 * The lock and the marks are the module's own, not a pool's: the thread
 * may call after the child's pool is gone, and the module stays loaded
 * until the process ends.
 */
#include "httpd.h"
#include "http_log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bbt_mono.h"
#include "bbt_wdcall.h"

APLOG_USE_MODULE(bbtoken);

/* How long the child waits for a call in progress.  A call waits on the
 * listener's own connection for at most 80 ms, for a place among the
 * module's pooled connections for 1 s and on a pooled one's answers for
 * 2 s (bbt_lsession.c); only connecting blocks for longer
 * (libpq's connect_timeout, which the README's DBDParams set to 3 s, and
 * a name's look-up).  Past it the child exits without waiting, as if
 * unfenced, rather than hang its stop. */
#define BBT_WDCALL_WAIT_US 5000000
/* How long it waits for the thread to end once the fence is closed:
 * mod_watchdog looks whether the child is stopping every 100 ms. */
#define BBT_WDCALL_GONE_US 2000000
#define BBT_WDCALL_POLL_US 1000

static pthread_mutex_t bbt_wdcall_lock = PTHREAD_MUTEX_INITIALIZER;
static int bbt_wdcall_closed;
/* The kernel's id of the thread that called (0: none has). */
static pid_t bbt_wdcall_tid;
static void (*bbt_wdcall_end)(void);
static server_rec *bbt_wdcall_s;

int bbt_wdcall_enter(void)
{
    pthread_mutex_lock(&bbt_wdcall_lock);
    if (__atomic_load_n(&bbt_wdcall_closed, __ATOMIC_ACQUIRE)) {
        pthread_mutex_unlock(&bbt_wdcall_lock);
        return 0;
    }
    bbt_wdcall_tid = (pid_t)syscall(SYS_gettid);
    return 1;
}

void bbt_wdcall_leave(void)
{
    pthread_mutex_unlock(&bbt_wdcall_lock);
}

/* Whether thread tid of this process still runs. */
static int bbt_wdcall_alive(pid_t tid)
{
    return syscall(SYS_tgkill, getpid(), tid, 0) == 0 || errno != ESRCH;
}

/* A pre-cleanup: it runs before pchild's subpools (mod_dbd's) and its
 * other cleanups. */
static apr_status_t bbt_wdcall_exit(void *data)
{
    int64_t until = bbt_mono_now() + BBT_WDCALL_WAIT_US;
    pid_t tid;
    int locked;

    (void)data;
    /* Polled, not a timed lock: that one waits on the wall clock. */
    while (!(locked = pthread_mutex_trylock(&bbt_wdcall_lock) == 0) &&
           bbt_mono_now() < until) {
        apr_sleep(BBT_WDCALL_POLL_US);
    }
    if (locked) {
        bbt_wdcall_end();
    } else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, bbt_wdcall_s,
                     "BBT313: the token cache's listener is still in a call "
                     "after %d s: this child exits without waiting for it",
                     BBT_WDCALL_WAIT_US / 1000000);
    }
    __atomic_store_n(&bbt_wdcall_closed, 1, __ATOMIC_RELEASE);
    tid = bbt_wdcall_tid;
    if (locked) {
        pthread_mutex_unlock(&bbt_wdcall_lock);
    }
    /* The thread that called ends too before the exit handlers run: its
     * libraries' per-thread state (OpenSSL's random generators, from
     * libpq's SCRAM) is freed as it ends, and OpenSSL's cleanup at exit
     * frees what that state points to. */
    if (locked && tid && tid != (pid_t)syscall(SYS_gettid)) {
        until = bbt_mono_now() + BBT_WDCALL_GONE_US;
        while (bbt_wdcall_alive(tid) && bbt_mono_now() < until) {
            apr_sleep(BBT_WDCALL_POLL_US);
        }
    }
    return APR_SUCCESS;
}

void bbt_wdcall_child_init(apr_pool_t *pchild, server_rec *s, void (*end)(void))
{
    bbt_wdcall_end = end;
    bbt_wdcall_s = s;
    apr_pool_pre_cleanup_register(pchild, NULL, bbt_wdcall_exit);
}
