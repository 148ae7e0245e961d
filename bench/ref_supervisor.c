/* ref_supervisor: the smallest seccomp user-notification supervisor that
 * does the same job as `supervisor`, used as the floor the benchmark
 * compares against.
 *
 *   ref_supervisor [--no-sync] [--count] MODE -- PROGRAM ARGS...
 *
 * MODE
 *   continue           every request: SECCOMP_USER_NOTIF_FLAG_CONTINUE
 *   broker             open/openat: read the path (process_vm_readv), check
 *                      the id is still valid, open it here (relative paths
 *                      through /proc/<pid>/cwd or /proc/<pid>/fd/<dirfd>),
 *                      SECCOMP_IOCTL_NOTIF_ADDFD, then SECCOMP_IOCTL_NOTIF_SEND
 *                      with the fd number; everything else: CONTINUE
 *   broker-addfd-send  the same, with SECCOMP_ADDFD_FLAG_SEND (one ioctl)
 *   allow              no listener: a one-instruction SECCOMP_RET_ALLOW filter,
 *                      the cost of merely being under seccomp
 * --no-sync            do not set SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
 * --count              at exit, print the number of notifications to stderr
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

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

static void send_fd(int sock, int fd) {
    char byte = 0, cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (sendmsg(sock, &msg, 0) != 1) _exit(125);
}

static int recv_fd(int sock) {
    char byte, cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
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

enum mode { CONTINUE, BROKER, BROKER_ADDFD_SEND, ALLOW };

/* Performs open/openat for the program; answers the notification. */
static void broker_open(int listener, const struct seccomp_notif *req, enum mode mode) {
    struct seccomp_notif_resp resp = {.id = req->id};
    const __u64 *a = req->data.args;
    int is_openat = req->data.nr == SYS_openat;
    int dirfd = is_openat ? (int)a[0] : AT_FDCWD;
    unsigned long ptr = is_openat ? a[1] : a[0];
    int flags = (int)(is_openat ? a[2] : a[1]);
    mode_t fmode = (mode_t)(is_openat ? a[3] : a[2]);
    char path[4096], full[4096 + 64];
    int r = read_path(req->pid, ptr, path, sizeof path);
    /* The copy is only trusted if the thread is still in this very call. */
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0) return;
    if (r == 0 && path[0] != '/') {
        if (dirfd == AT_FDCWD)
            snprintf(full, sizeof full, "/proc/%d/cwd/%s", req->pid, path);
        else
            snprintf(full, sizeof full, "/proc/%d/fd/%d/%s", req->pid, dirfd, path);
    } else if (r == 0) {
        memcpy(full, path, strlen(path) + 1);
    }
    int fd = r < 0 ? r : openat(AT_FDCWD, full, flags | O_CLOEXEC, fmode);
    if (fd < 0) {
        resp.error = r < 0 ? r : -errno;
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
        return;
    }
    struct seccomp_notif_addfd add = {
        .id = req->id,
        .flags = mode == BROKER_ADDFD_SEND ? SECCOMP_ADDFD_FLAG_SEND : 0,
        .srcfd = (__u32)fd,
        .newfd_flags = (__u32)(flags & O_CLOEXEC),
    };
    int newfd = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
    int err = errno;
    close(fd);
    if (mode == BROKER_ADDFD_SEND) return; /* answered (or gone) */
    if (newfd < 0) {
        if (err == ENOENT) return; /* the thread is gone */
        resp.error = -err;
    } else {
        resp.val = newfd;
    }
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

int main(int argc, char **argv) {
    int sync_wake = 1, i = 1;
    enum mode mode;
    for (; i < argc && !strncmp(argv[i], "--", 2) && argv[i][2]; i++) {
        if (!strcmp(argv[i], "--no-sync")) sync_wake = 0;
        else if (!strcmp(argv[i], "--count")) count_requests = 1;
        else die("unknown option %s", argv[i]);
    }
    if (i + 2 >= argc || strcmp(argv[i + 1], "--"))
        die("usage: ref_supervisor [--no-sync] [--count] continue|broker|broker-addfd-send|allow -- PROGRAM ARGS...");
    if (!strcmp(argv[i], "continue")) mode = CONTINUE;
    else if (!strcmp(argv[i], "broker")) mode = BROKER;
    else if (!strcmp(argv[i], "broker-addfd-send")) mode = BROKER_ADDFD_SEND;
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

    for (;;) {
        struct seccomp_notif req;
        memset(&req, 0, sizeof req); /* the kernel wants it zeroed */
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
            if (errno == EINTR || errno == ENOENT) continue;
            die("SECCOMP_IOCTL_NOTIF_RECV: %m");
        }
        requests++;
        if (mode != CONTINUE && (req.data.nr == SYS_open || req.data.nr == SYS_openat)) {
            broker_open(listener, &req, mode);
            continue;
        }
        struct seccomp_notif_resp resp = {.id = req.id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
}
