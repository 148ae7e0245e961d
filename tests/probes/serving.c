/* serving: many threads of a program making calls at once, for the tests
 * of the supervisor's serving threads (tests/it/serving.rs).
 *
 *   serving opens DIR T N   T threads, each N rounds of: open DIR/f<t> and
 *                           read it back (its own content: the descriptor
 *                           answered is the file asked for), open
 *                           DIR/secret (EACCES under the tests' rules),
 *                           then create, stat, unlink, stat (ENOENT) and
 *                           create again DIR/t<t>-<i> (a thread's calls
 *                           in order), unlink.  Prints "opens: ok=… bad=…".
 *   serving fifo DIR T N    one thread opens the FIFO DIR/fifo for reading
 *                           (blocks: nobody writes) with a SIGUSR1 handler
 *                           without SA_RESTART; T other threads make N
 *                           opens each meanwhile and finish while it still
 *                           blocks; then SIGUSR1 interrupts the open.
 *                           Prints "fifo: served=… open=EINTR handled=1".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static long rounds;
static atomic_long ok, bad;

static void fail(const char *what, long t, long i, int e) {
    fprintf(stderr, "thread %ld round %ld: %s: %s\n", t, i, what, strerror(e));
    atomic_fetch_add(&bad, 1);
}

static void *opener(void *arg) {
    long t = (long)arg;
    char own[4096], secret[4096], tmp[4096], want[64], got[64];
    snprintf(own, sizeof own, "%s/f%ld", dir, t);
    snprintf(secret, sizeof secret, "%s/secret", dir);
    snprintf(want, sizeof want, "file %ld\n", t);
    for (long i = 0; i < rounds; i++) {
        int fd = open(own, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fail("open own", t, i, errno);
            continue;
        }
        ssize_t n = read(fd, got, sizeof got - 1);
        close(fd);
        if (n < 0 || (got[n < 0 ? 0 : n] = 0, strcmp(got, want) != 0)) {
            fprintf(stderr, "thread %ld round %ld: read another file: %s\n", t, i, n < 0 ? "?" : got);
            atomic_fetch_add(&bad, 1);
            continue;
        }
        fd = open(secret, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 || errno != EACCES) {
            fail("open secret (want EACCES)", t, i, fd >= 0 ? 0 : errno);
            if (fd >= 0) close(fd);
            continue;
        }
        snprintf(tmp, sizeof tmp, "%s/t%ld-%ld", dir, t, i);
        struct stat st;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) { fail("create", t, i, errno); continue; }
        close(fd);
        if (stat(tmp, &st) != 0) { fail("stat after create", t, i, errno); continue; }
        if (unlink(tmp) != 0) { fail("unlink", t, i, errno); continue; }
        if (stat(tmp, &st) == 0 || errno != ENOENT) { fail("stat after unlink (want ENOENT)", t, i, errno); continue; }
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) { fail("create again", t, i, errno); continue; }
        close(fd);
        if (unlink(tmp) != 0) { fail("unlink again", t, i, errno); continue; }
        atomic_fetch_add(&ok, 1);
    }
    return NULL;
}

static int run_threads(long threads) {
    pthread_t th[256];
    if (threads < 1 || threads > 256) return -1;
    for (long t = 0; t < threads; t++)
        if (pthread_create(&th[t], NULL, opener, (void *)t) != 0) return -1;
    for (long t = 0; t < threads; t++) pthread_join(th[t], NULL);
    return 0;
}

static atomic_int handled, fifo_done;
static int fifo_errno;
static void on_usr1(int sig) { (void)sig; atomic_store(&handled, 1); }

static void *fifo_reader(void *arg) {
    (void)arg;
    char path[4096];
    snprintf(path, sizeof path, "%s/fifo", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    fifo_errno = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd);
    atomic_store(&fifo_done, 1);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: serving opens|fifo DIR T N\n");
        return 2;
    }
    dir = argv[2];
    long threads = atol(argv[3]);
    rounds = atol(argv[4]);
    if (!strcmp(argv[1], "opens")) {
        if (run_threads(threads) != 0) return 2;
        printf("opens: ok=%ld bad=%ld\n", atomic_load(&ok), atomic_load(&bad));
        return atomic_load(&bad) ? 1 : 0;
    }
    if (!strcmp(argv[1], "fifo")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1; /* no SA_RESTART: the open fails EINTR */
        sigaction(SIGUSR1, &sa, NULL);
        pthread_t r;
        if (pthread_create(&r, NULL, fifo_reader, NULL) != 0) return 2;
        /* The others are served while the reader's open blocks. */
        if (run_threads(threads) != 0) return 2;
        int blocked = !atomic_load(&fifo_done);
        /* Until it is interrupted (a signal before the open began only
         * runs the handler). */
        while (!atomic_load(&fifo_done)) {
            pthread_kill(r, SIGUSR1);
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        pthread_join(r, NULL);
        printf("fifo: served=%ld bad=%ld blocked-meanwhile=%d open=%s handled=%d\n",
               atomic_load(&ok), atomic_load(&bad), blocked,
               fifo_errno == EINTR ? "EINTR" : fifo_errno ? strerror(fifo_errno) : "opened",
               atomic_load(&handled));
        return atomic_load(&bad) ? 1 : 0;
    }
    fprintf(stderr, "serving: unknown operation %s\n", argv[1]);
    return 2;
}
