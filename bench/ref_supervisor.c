/* ref_supervisor: the smallest seccomp user-notification supervisor that
 * does the same job as `supervisor`, used as the floor the benchmark
 * compares against.
 *
 *   ref_supervisor [--no-sync] [--count] [--poll] MODE -- PROGRAM ARGS...
 *
 * MODE
 *   continue           every request: SECCOMP_USER_NOTIF_FLAG_CONTINUE
 *   inspect            read the path argument (process_vm_readv), check the
 *                      id is still valid, then CONTINUE: the least a
 *                      supervisor showing its policy the arguments does
 *   broker             open/openat: read the path, check the id is still
 *                      valid, open it here (relative paths through
 *                      /proc/<pid>/cwd or /proc/<pid>/fd/<dirfd>), install it
 *                      and answer with its number in one
 *                      SECCOMP_IOCTL_NOTIF_ADDFD (SECCOMP_ADDFD_FLAG_SEND);
 *                      stat/lstat/newfstatat: read the path, check, stat it
 *                      here, write the result with process_vm_writev, SEND;
 *                      everything else: CONTINUE
 *   broker-two-step    the same, with ADDFD then a separate SEND of the number
 *   allow              no listener: a one-instruction SECCOMP_RET_ALLOW filter,
 *                      the cost of merely being under seccomp
 * --no-sync            do not set SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
 * --count              at exit, print the number of notifications to stderr
 * --poll               poll() the listener, a pidfd of the child and a signalfd
 *                      before every RECV, as an event loop that waits for other
 *                      things too would (the cost of not blocking in RECV)
 *
 * The child sets no_new_privs, loads the filter (NEW_LISTENER |
 * WAIT_KILLABLE_RECV), hands the listener over with SCM_RIGHTS and execs.
 * The parent answers in a blocking RECV loop (no poll: the true floor) and
 * exits with the program's status from its SIGCHLD handler.
 * Only the single process started is expected (no grandchildren). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

#define die(...) (fprintf(stderr, "ref_supervisor: " __VA_ARGS__), fputc('\n', stderr), exit(125))

/* The syscalls `supervisor` traps on x86_64 (bpf/src/syscalls.rs). */
static const int trapped[] = {
    SYS_open,   SYS_creat,  SYS_openat,     SYS_openat2,   SYS_unlink,
    SYS_unlinkat, SYS_rmdir, SYS_rename,    SYS_renameat,  SYS_renameat2,
    SYS_stat,   SYS_lstat,  SYS_newfstatat, SYS_statx,     SYS_access,
    SYS_faccessat, SYS_faccessat2, SYS_mkdir, SYS_mkdirat,
};
#define NTRAPPED ((int)(sizeof trapped / sizeof trapped[0]))

static int load_filter(void) {
    /* arch check, x32 check, one JEQ per trapped number, ALLOW, NOTIFY, KILL */
    struct sock_filter f[4 + NTRAPPED + 3];
    int n = 0;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, NTRAPPED + 4);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, NTRAPPED + 2, 0);
    for (int i = 0; i < NTRAPPED; i++) /* match: jump to NOTIFY */
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, trapped[i], NTRAPPED - i, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                        SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
}

static int load_allow_filter(void) {
    struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {.len = 1, .filter = f};
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static pid_t child;
static int count_requests;
static volatile unsigned long requests;

static void on_sigchld(int sig) {
    (void)sig;
    int st;
    if (waitpid(child, &st, WNOHANG) != child) return;
    if (count_requests) { /* async-signal-safe formatting */
        char buf[64], *p = buf + sizeof buf;
        const char tail[] = " notifications\n";
        p -= sizeof tail - 1;
        memcpy(p, tail, sizeof tail - 1);
        unsigned long n = requests;
        do *--p = (char)('0' + n % 10); while (n /= 10);
        p -= 16;
        memcpy(p, "ref_supervisor: ", 16);
        if (write(2, p, (size_t)(buf + sizeof buf - p)) < 0) { /* nothing to do */ }
    }
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/* Reads the NUL-terminated string at addr in pid, page by page. */
static int read_path(pid_t pid, unsigned long addr, char *buf, size_t size) {
    size_t got = 0;
    while (got < size) {
        size_t want = 4096 - ((addr + got) % 4096);
        if (want > size - got) want = size - got;
        struct iovec l = {.iov_base = buf + got, .iov_len = want};
        struct iovec r = {.iov_base = (void *)(addr + got), .iov_len = want};
        if (process_vm_readv(pid, &l, 1, &r, 1, 0) != (ssize_t)want) return -EFAULT;
        if (memchr(buf + got, 0, want)) return 0;
        got += want;
    }
    return -ENAMETOOLONG;
}

enum mode { CONTINUE, INSPECT, BROKER, BROKER_TWO_STEP, ALLOW };

/* The path argument of a trapped call: its register, and the dirfd of the
 * *at calls (AT_FDCWD otherwise). */
static unsigned long path_arg(const struct seccomp_notif *req, int *dirfd) {
    const __u64 *a = req->data.args;
    *dirfd = AT_FDCWD;
    switch (req->data.nr) {
    case SYS_openat: case SYS_openat2: case SYS_newfstatat: case SYS_statx:
    case SYS_unlinkat: case SYS_renameat: case SYS_renameat2: case SYS_faccessat:
    case SYS_faccessat2: case SYS_mkdirat:
        *dirfd = (int)a[0];
        return a[1];
    default:
        return a[0];
    }
}

/* Reads the path argument and checks the notification is still valid;
 * the full name to use here in `full`.  Returns 0, a negative errno, or 1
 * when the notification is gone (nothing to answer). */
static int take_path(int listener, const struct seccomp_notif *req, char *full, size_t size) {
    int dirfd;
    char path[4096];
    unsigned long ptr = path_arg(req, &dirfd);
    int r = read_path(req->pid, ptr, path, sizeof path);
    /* The copy is only trusted if the thread is still in this very call. */
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0) return 1;
    if (r < 0) return r;
    if (path[0] == '/')
        snprintf(full, size, "%s", path);
    else if (dirfd == AT_FDCWD)
        snprintf(full, size, "/proc/%d/cwd/%s", req->pid, path);
    else
        snprintf(full, size, "/proc/%d/fd/%d/%s", req->pid, dirfd, path);
    return 0;
}

static void send_resp(int listener, __u64 id, long val, int error) {
    struct seccomp_notif_resp resp = {.id = id, .val = val, .error = error};
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

/* Performs open/openat for the program; answers the notification. */
static void broker_open(int listener, const struct seccomp_notif *req, enum mode mode) {
    const __u64 *a = req->data.args;
    int is_openat = req->data.nr == SYS_openat;
    int flags = (int)(is_openat ? a[2] : a[1]);
    mode_t fmode = (mode_t)(is_openat ? a[3] : a[2]);
    char full[4096 + 64];
    int r = take_path(listener, req, full, sizeof full);
    if (r == 1) return;
    int fd = r < 0 ? r : openat(AT_FDCWD, full, flags | O_CLOEXEC, fmode);
    if (fd < 0) {
        send_resp(listener, req->id, 0, r < 0 ? r : -errno);
        return;
    }
    struct seccomp_notif_addfd add = {
        .id = req->id,
        .flags = mode == BROKER ? SECCOMP_ADDFD_FLAG_SEND : 0,
        .srcfd = (__u32)fd,
        .newfd_flags = (__u32)(flags & O_CLOEXEC),
    };
    int newfd = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
    int err = errno;
    close(fd);
    if (newfd < 0 && err == ENOENT) return; /* the thread is gone */
    if (newfd >= 0 && mode == BROKER) return; /* installed and answered */
    send_resp(listener, req->id, newfd < 0 ? 0 : newfd, newfd < 0 ? -err : 0);
}

/* Performs stat/lstat/newfstatat for the program; answers it. */
static void broker_stat(int listener, const struct seccomp_notif *req) {
    const __u64 *a = req->data.args;
    int nr = req->data.nr;
    unsigned long out = nr == SYS_newfstatat ? a[2] : a[1];
    int flags = nr == SYS_lstat ? AT_SYMLINK_NOFOLLOW : nr == SYS_newfstatat ? (int)a[3] : 0;
    if (flags & ~AT_SYMLINK_NOFOLLOW) { /* AT_EMPTY_PATH and the like: not here */
        struct seccomp_notif_resp resp = {.id = req->id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
        return;
    }
    char full[4096 + 64];
    struct stat st;
    int r = take_path(listener, req, full, sizeof full);
    if (r == 1) return;
    if (r == 0 && fstatat(AT_FDCWD, full, &st, flags) < 0) r = -errno;
    if (r == 0) {
        struct iovec l = {.iov_base = &st, .iov_len = sizeof st};
        struct iovec rv = {.iov_base = (void *)out, .iov_len = sizeof st};
        if (process_vm_writev(req->pid, &l, 1, &rv, 1, 0) != (ssize_t)sizeof st) r = -EFAULT;
    }
    send_resp(listener, req->id, 0, r);
}

int main(int argc, char **argv) {
    int sync_wake = 1, use_poll = 0, i = 1;
    enum mode mode;
    for (; i < argc && !strncmp(argv[i], "--", 2) && argv[i][2]; i++) {
        if (!strcmp(argv[i], "--no-sync")) sync_wake = 0;
        else if (!strcmp(argv[i], "--count")) count_requests = 1;
        else if (!strcmp(argv[i], "--poll")) use_poll = 1;
        else die("unknown option %s", argv[i]);
    }
    if (i + 2 >= argc || strcmp(argv[i + 1], "--"))
        die("usage: ref_supervisor [--no-sync] [--count] [--poll] "
            "continue|inspect|broker|broker-two-step|allow -- PROGRAM ARGS...");
    if (!strcmp(argv[i], "continue")) mode = CONTINUE;
    else if (!strcmp(argv[i], "inspect")) mode = INSPECT;
    else if (!strcmp(argv[i], "broker")) mode = BROKER;
    else if (!strcmp(argv[i], "broker-two-step")) mode = BROKER_TWO_STEP;
    else if (!strcmp(argv[i], "allow")) mode = ALLOW;
    else die("unknown mode %s", argv[i]);
    char **prog = argv + i + 2;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) die("socketpair: %m");
    struct sigaction sa = {.sa_handler = on_sigchld}; /* no SA_RESTART: RECV returns EINTR */
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old); /* until `child` is set */

    child = fork();
    if (child < 0) die("fork: %m");
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) _exit(125);
        if (mode == ALLOW) {
            if (load_allow_filter()) _exit(125);
        } else {
            int l = load_filter();
            if (l < 0) _exit(125);
            send_fd(sv[1], l);
            close(l);
        }
        execvp(prog[0], prog);
        _exit(127);
    }
    close(sv[1]);
    if (mode == ALLOW) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        for (;;) pause(); /* the SIGCHLD handler exits */
    }
    int listener = recv_fd(sv[0]);
    if (listener < 0) die("the child did not hand over the listener");
    close(sv[0]);
    if (sync_wake && ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP))
        die("SECCOMP_IOCTL_NOTIF_SET_FLAGS: %m");
    sigprocmask(SIG_SETMASK, &old, NULL);

    struct pollfd pfd[3] = {{.fd = listener, .events = POLLIN}, {.fd = -1}, {.fd = -1}};
    if (use_poll) {
        sigset_t watched;
        sigemptyset(&watched);
        sigaddset(&watched, SIGUSR2); /* never sent: only the cost of watching */
        pfd[1].fd = (int)syscall(SYS_pidfd_open, child, 0);
        pfd[2].fd = signalfd(-1, &watched, SFD_CLOEXEC | SFD_NONBLOCK);
        if (pfd[1].fd < 0 || pfd[2].fd < 0) die("pidfd_open/signalfd: %m");
        pfd[1].events = pfd[2].events = POLLIN;
    }
    for (;;) {
        struct seccomp_notif req;
        if (use_poll) {
            if (poll(pfd, 3, -1) < 0) continue; /* EINTR */
            if (!(pfd[0].revents & POLLIN)) {
                if (pfd[0].revents & (POLLHUP | POLLERR)) pause(); /* SIGCHLD exits */
                continue;
            }
        }
        memset(&req, 0, sizeof req); /* the kernel wants it zeroed */
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
            if (errno == EINTR || errno == ENOENT) continue;
            die("SECCOMP_IOCTL_NOTIF_RECV: %m");
        }
        requests++;
        int nr = req.data.nr;
        if ((mode == BROKER || mode == BROKER_TWO_STEP) && (nr == SYS_open || nr == SYS_openat)) {
            broker_open(listener, &req, mode);
            continue;
        }
        if ((mode == BROKER || mode == BROKER_TWO_STEP) &&
            (nr == SYS_stat || nr == SYS_lstat || nr == SYS_newfstatat)) {
            broker_stat(listener, &req);
            continue;
        }
        if (mode == INSPECT) {
            char full[4096 + 64];
            if (take_path(listener, &req, full, sizeof full) == 1) continue; /* gone */
        }
        struct seccomp_notif_resp resp = {.id = req.id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
}
