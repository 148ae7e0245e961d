/* client: the measured program.  Built static with musl-gcc, so that no
 * dynamic loader opens anything before main.
 *
 *   client open N FILE    N x (open(FILE, O_RDONLY) + close)
 *   client stat N FILE    N x stat(FILE)
 *   client getppid N      N x getppid()   (not trapped)
 *   client readzero N     N x read(1 byte) from one /dev/zero descriptor
 *                         (not trapped; the one open happens before timing)
 *
 * Prints the mean elapsed nanoseconds per operation on stdout.  A short
 * warm-up (N/10, at most 1000 operations) precedes the timed loop.
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
#include <sys/stat.h>
#include <sys/syscall.h>
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

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: client open|stat N FILE | getppid N | readzero N\n");
        return 2;
    }
    const char *op = argv[1], *file = argc > 3 ? argv[3] : NULL;
    long n = atol(argv[2]);
    void (*run)(long, const char *);
    if (!strcmp(op, "open")) run = op_open;
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
    if (run == op_readzero && (zero_fd = open("/dev/zero", O_RDONLY)) < 0) {
        perror("client: open /dev/zero");
        return 1;
    }
    long warm = n / 10 < 1000 ? n / 10 : 1000;
    run(warm, file);
    long long t0 = now_ns();
    run(n, file);
    long long t1 = now_ns();
    printf("%.1f\n", (double)(t1 - t0) / (double)n);
    return 0;
}
