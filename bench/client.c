/* client: the measured program.  Built static with musl-gcc, so that no
 * dynamic loader opens anything before main.
 *
 *   client open N FILE    N x (open(FILE, O_RDONLY) + close)
 *   client stat N FILE    N x stat(FILE)
 *   client getppid N      N x getppid()   (not trapped)
 *   client readzero N     N x read(1 byte) from one /dev/zero descriptor
 *                         (not trapped; the one open happens before timing)
 *   client par N FILE P T P processes x T threads, each N x (open + close);
 *                         all start together (a pipe barrier, untrapped);
 *                         prints the wall-clock ns per operation of the
 *                         whole (the inverse of the throughput)
 *   client stall N FILE   one thread N x (open + close), timing each; prints
 *                         the 99th percentile in ns, while a second thread is
 *                         blocked in a connect that never completes: to a
 *                         loopback listener whose accept queue is full (its
 *                         SYNs are dropped, the connect retries for minutes)
 *   client idle N FILE    the same with the second thread blocked in a read
 *                         of a pipe instead (untrapped): the baseline
 *
 * Prints the mean elapsed nanoseconds per operation on stdout (par, stall,
 * idle: see above).  A short warm-up (N/10, at most 1000 operations)
 * precedes the timed loop.
 *
 * Every call must succeed; with CLIENT_EXPECT=ENAME (e.g. EACCES) every
 * open/stat must fail with that errno instead.  Otherwise the client exits
 * with status 1, so that a broken configuration never yields a number. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int expect; /* 0: success expected; else the expected errno */

static void check(int ok, const char *what) {
    if (expect == 0 && !ok) {
        fprintf(stderr, "client: %s failed: %s\n", what, strerror(errno));
        exit(1);
    }
    if (expect != 0 && (ok || errno != expect)) {
        fprintf(stderr, "client: %s: expected %s, got %s\n", what, strerror(expect),
                ok ? "success" : strerror(errno));
        exit(1);
    }
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void op_open(long n, const char *file) {
    for (long i = 0; i < n; i++) {
        int fd = open(file, O_RDONLY);
        check(fd >= 0, "open");
        if (fd >= 0) close(fd);
    }
}

static void op_stat(long n, const char *file) {
    struct stat st;
    for (long i = 0; i < n; i++) check(stat(file, &st) == 0, "stat");
}

static void op_getppid(long n, const char *unused) {
    (void)unused;
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
}

static int zero_fd = -1;

static void op_readzero(long n, const char *unused) {
    (void)unused;
    char c;
    for (long i = 0; i < n; i++)
        if (read(zero_fd, &c, 1) != 1) {
            perror("client: read /dev/zero");
            exit(1);
        }
}

static long warm_count(long n) { return n / 10 < 1000 ? n / 10 : 1000; }

/* ---- par: P processes x T threads */

static const char *par_file;
static long par_n;
static int go_pipe[2], ready_pipe[2];

static void *par_thread(void *arg) {
    (void)arg;
    op_open(warm_count(par_n), par_file);
    char c = 0;
    if (write(ready_pipe[1], &c, 1) != 1) exit(1);
    if (read(go_pipe[0], &c, 1) != 0) exit(1); /* EOF: go */
    op_open(par_n, par_file);
    return NULL;
}

static void par_process(int threads) {
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, par_thread, NULL)) {
            fprintf(stderr, "client: pthread_create failed\n");
            exit(1);
        }
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
}

static int op_par(long n, const char *file, int procs, int threads) {
    par_file = file;
    par_n = n;
    if (pipe(go_pipe) || pipe(ready_pipe)) {
        perror("client: pipe");
        return 1;
    }
    pid_t kids[64];
    for (int i = 0; i < procs; i++) {
        kids[i] = fork();
        if (kids[i] < 0) {
            perror("client: fork");
            return 1;
        }
        if (kids[i] == 0) {
            close(go_pipe[1]);
            par_process(threads);
            _exit(0);
        }
    }
    close(go_pipe[0]);
    char c;
    for (int i = 0; i < procs * threads; i++)
        if (read(ready_pipe[0], &c, 1) != 1) {
            fprintf(stderr, "client: a worker died before the start\n");
            return 1;
        }
    long long t0 = now_ns();
    close(go_pipe[1]); /* every worker reads EOF: go */
    int failed = 0;
    for (int i = 0; i < procs; i++) {
        int st;
        if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st)) failed = 1;
    }
    long long t1 = now_ns();
    if (failed) {
        fprintf(stderr, "client: a worker failed\n");
        return 1;
    }
    printf("%.1f\n", (double)(t1 - t0) / ((double)n * procs * threads));
    return 0;
}

/* ---- stall / idle: p99 of one thread's opens while another is blocked */

static struct sockaddr_in stall_addr;
static volatile int stall_done;
static int idle_pipe[2];

static void *stall_thread(void *arg) {
    if (arg) { /* idle: a read that never completes, untrapped */
        char c;
        if (read(idle_pipe[0], &c, 1) < 0) { /* nothing to do */ }
    } else {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        connect(fd, (struct sockaddr *)&stall_addr, sizeof stall_addr);
    }
    stall_done = 1;
    return NULL;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static int op_stall(long n, const char *file, int idle) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    stall_addr.sin_family = AF_INET;
    stall_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof stall_addr;
    if (l < 0 || bind(l, (struct sockaddr *)&stall_addr, sl) || listen(l, 0) ||
        getsockname(l, (struct sockaddr *)&stall_addr, &sl)) {
        perror("client: listener");
        return 1;
    }
    /* Fill the accept queue (backlog 0: one connection), then some: later
     * SYNs are dropped and a blocking connect retries for minutes. */
    for (int i = 0; i < 4; i++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        connect(c, (struct sockaddr *)&stall_addr, sizeof stall_addr);
    }
    usleep(100000);
    if (pipe(idle_pipe)) {
        perror("client: pipe");
        return 1;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, stall_thread, idle ? (void *)1 : NULL)) {
        fprintf(stderr, "client: pthread_create failed\n");
        return 1;
    }
    usleep(200000); /* the connect is in flight (or the read blocked) */
    long long *lat = malloc(sizeof *lat * (size_t)n);
    if (!lat) return 1;
    op_open(warm_count(n), file);
    for (long i = 0; i < n; i++) {
        long long t0 = now_ns();
        int fd = open(file, O_RDONLY);
        lat[i] = now_ns() - t0;
        check(fd >= 0, "open");
        close(fd);
    }
    if (stall_done) {
        fprintf(stderr, "client: the blocked %s completed during the measurement\n",
                idle ? "read" : "connect");
        return 1;
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_ll);
    printf("%lld\n", lat[(n * 99) / 100]);
    fflush(stdout);
    _exit(0); /* the other thread is still blocked */
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: client open|stat N FILE | getppid N | readzero N | par N FILE P T"
                        " | stall|idle N FILE\n");
        return 2;
    }
    const char *op = argv[1], *file = argc > 3 ? argv[3] : NULL;
    long n = atol(argv[2]);
    void (*run)(long, const char *);
    int par = !strcmp(op, "par"), stall = !strcmp(op, "stall"), idle = !strcmp(op, "idle");
    if (par || stall || idle) run = op_open; /* the operation measured */
    else if (!strcmp(op, "open")) run = op_open;
    else if (!strcmp(op, "stat")) run = op_stat;
    else if (!strcmp(op, "getppid")) run = op_getppid;
    else if (!strcmp(op, "readzero")) run = op_readzero;
    else {
        fprintf(stderr, "client: unknown operation %s\n", op);
        return 2;
    }
    if ((run == op_open || run == op_stat) && !file) {
        fprintf(stderr, "client: %s needs a FILE\n", op);
        return 2;
    }
    if (n <= 0) {
        fprintf(stderr, "client: N must be positive\n");
        return 2;
    }
    const char *e = getenv("CLIENT_EXPECT");
    if (e && !strcmp(e, "EACCES")) expect = EACCES;
    else if (e && !strcmp(e, "ENOENT")) expect = ENOENT;
    else if (e && *e) {
        fprintf(stderr, "client: unsupported CLIENT_EXPECT=%s\n", e);
        return 2;
    }
    if (par) {
        int procs = argc > 5 ? atoi(argv[4]) : 0, threads = argc > 5 ? atoi(argv[5]) : 0;
        if (procs < 1 || procs > 64 || threads < 1 || threads > 64) {
            fprintf(stderr, "client: par needs P and T in 1..64\n");
            return 2;
        }
        return op_par(n, file, procs, threads);
    }
    if (stall || idle) return op_stall(n, file, idle);
    if (run == op_readzero && (zero_fd = open("/dev/zero", O_RDONLY)) < 0) {
        perror("client: open /dev/zero");
        return 1;
    }
    run(warm_count(n), file);
    long long t0 = now_ns();
    run(n, file);
    long long t1 = now_ns();
    printf("%.1f\n", (double)(t1 - t0) / (double)n);
    return 0;
}
