/* syscost: the CPU cost on this machine of each syscall the supervisor makes
 * per request beyond what the C reference makes, so that BENCHMARKS.md can
 * say where a gap to a floor goes.
 *
 *   syscost N FILE
 *
 * FILE is an existing file in a directory that is not on procfs.  Prints
 * one line per call, "name ns", the CPU time (CLOCK_THREAD_CPUTIME_ID: the
 * other work on the machine is not counted) per call, the mean of N calls.
 * The calls act on a second process (a child that pauses), as the
 * supervisor's act on the program. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdpass.h"

static long long cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

#define MEASURE(name, n, ...)                                                  \
    do {                                                                       \
        long long t0_ = cpu_ns();                                              \
        for (long i_ = 0; i_ < (n); i_++) { __VA_ARGS__; }                     \
        printf("%s %.0f\n", name, (double)(cpu_ns() - t0_) / (double)(n));     \
    } while (0)

static void child_main(int sock) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_acct, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int l = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (l < 0) _exit(1);
    send_fd(sock, l);
    for (;;) pause();
}

static char path_buf[4096] = "/a/path/of/some/length/as/programs/pass/them";

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: syscost N FILE\n");
        return 2;
    }
    long n = atol(argv[1]);
    const char *file = argv[2];
    char dir[4096], name[256];
    const char *slash = strrchr(file, '/');
    if (n <= 0 || !slash || slash == file || strlen(slash + 1) >= sizeof name) {
        fprintf(stderr, "syscost: N > 0 and an absolute FILE in a directory\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - file), file);
    snprintf(name, sizeof name, "%s", slash + 1);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) return 1;
    pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) child_main(sv[1]);
    int listener = recv_fd(sv[0]);
    if (listener < 0) {
        fprintf(stderr, "syscost: no listener\n");
        return 1;
    }
    int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    int parent = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (proc < 0 || root < 0 || parent < 0) {
        perror("syscost: open");
        return 1;
    }
    char root_link[64];
    snprintf(root_link, sizeof root_link, "%d/root", child);
    struct statx sx;
    struct statfs sf;
    struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS};
    __u64 bogus = 1;
    char out[4096];
    /* As the supervisor reads a path: to the end of its page. */
    size_t len = 4096 - ((unsigned long)path_buf % 4096);
    struct iovec l = {.iov_base = out, .iov_len = len}, r = {.iov_base = path_buf, .iov_len = len};

    MEASURE("process_vm_readv", n, process_vm_readv(child, &l, 1, &r, 1, 0));
    MEASURE("id_valid", n, ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &bogus));
    MEASURE("statx_proc_root", n, statx(proc, root_link, 0, STATX_INO | STATX_MNT_ID, &sx));
    MEASURE("openat2_parent_close", n, {
        int fd = (int)syscall(SYS_openat2, root, dir + 1, &how, sizeof how);
        close(fd);
    });
    MEASURE("fstatfs", n, fstatfs(parent, &sf));
    MEASURE("statx_name", n,
            statx(parent, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO | STATX_MNT_ID, &sx));
    struct pollfd p[3] = {{.fd = listener, .events = POLLIN}, {.fd = proc, .events = POLLIN},
                          {.fd = root, .events = POLLIN}};
    MEASURE("poll3", n, poll(p, 3, 0));
    MEASURE("getppid", n, syscall(SYS_getppid));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}
