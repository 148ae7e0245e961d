/*
 * Attack programs for the security suite (tests/it/attacks*.rs): each
 * subcommand tries one way around the supervisor and prints what happened,
 * one "NAME: OUTCOME" line per attempt, so that a test asserts the outcome.
 *
 * Usage: attack CMD ARGS...   (one subcommand per run)
 * Built static with musl-gcc by tests/it/util.rs.  Raw syscalls are used
 * wherever musl has no wrapper, so that exactly the syscall named is made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_NAME "attack"
#include "common.h"

/* <linux/filter.h> and <linux/seccomp.h>, which musl-gcc does not see. */
struct sock_filter {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};
struct sock_fprog {
	unsigned short len;
	struct sock_filter *filter;
};
struct seccomp_data {
	int nr;
	uint32_t arch;
	uint64_t instruction_pointer;
	uint64_t args[6];
};
#define BPF_LD 0x00
#define BPF_W 0x00
#define BPF_ABS 0x20
#define BPF_JMP 0x05
#define BPF_JEQ 0x10
#define BPF_K 0x00
#define BPF_RET 0x06
#define BPF_STMT(code, k) { (uint16_t)(code), 0, 0, k }
#define BPF_JUMP(code, k, jt, jf) { (uint16_t)(code), jt, jf, k }
#define SECCOMP_SET_MODE_FILTER 1
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#define SECCOMP_RET_TRAP 0x00030000U
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#define SECCOMP_RET_ALLOW 0x7fff0000U

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- bypass attempts ----------------------------------------------- */

/* io-uring: io_uring_setup (refused by the default posture). */
static void cmd_io_uring(char **a)
{
	(void)a;
	unsigned char params[120];
	memset(params, 0, sizeof params);
	long fd = syscall(SYS_io_uring_setup, 4, params);
	result("io_uring_setup", fd);
}

/* handles PATH: name_to_handle_at PATH, then open_by_handle_at with the
 * handle (or, if none could be made, with a forged inode handle), and
 * read the file: "read: N bytes" if the file was opened. */
static void cmd_handles(char **a)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[128];
	} h;
	int mount_id;
	struct stat st;
	memset(&h, 0, sizeof h);
	h.fh.handle_bytes = 128;
	long r = syscall(SYS_name_to_handle_at, AT_FDCWD, a[0], &h.fh, &mount_id, 0);
	result("name_to_handle_at", r);
	if (r < 0) {
		/* FILEID_INO32_GEN: the inode number, generation 0. */
		if (stat("/", &st) < 0)
			st.st_ino = 2;
		h.fh.handle_type = 1;
		h.fh.handle_bytes = 8;
		uint32_t ino = 12;
		memcpy(h.fh.f_handle, &ino, 4);
	}
	int mfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long fd = syscall(SYS_open_by_handle_at, mfd, &h.fh, O_RDONLY | O_CLOEXEC);
	result("open_by_handle_at", fd);
	if (fd >= 0) {
		char buf[4096];
		ssize_t n = read((int)fd, buf, sizeof buf);
		printf("read: %zd bytes\n", n);
	}
}

/* mount-bind SRC DST: a bind mount (a second name for SRC). */
static void cmd_mount_bind(char **a)
{
	result("mount", mount(a[0], a[1], NULL, MS_BIND, NULL));
	result("open_tree", syscall(SYS_open_tree, AT_FDCWD, a[0], 0x80000 /* CLOEXEC */));
	result("umount2", umount2(a[1], MNT_DETACH));
}

/* chroot DIR */
static void cmd_chroot(char **a)
{
	result("chroot", chroot(a[0]));
}

/* link SRC DST: a hard link (link and linkat). */
static void cmd_link(char **a)
{
	result("link", link(a[0], a[1]));
	result("linkat", linkat(AT_FDCWD, a[0], AT_FDCWD, a[1], 0));
}

/* mknod DIR: a regular file, a character device, a FIFO. */
static void cmd_mknod(char **a)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/regular", a[0]);
	result("mknod-regular", mknod(p, S_IFREG | 0600, 0));
	snprintf(p, sizeof p, "%s/null", a[0]);
	result("mknod-chardev", mknod(p, S_IFCHR | 0600, makedev(1, 3)));
	snprintf(p, sizeof p, "%s/fifo", a[0]);
	result("mknod-fifo", mknod(p, S_IFIFO | 0600, 0));
	/* Upper bits set in the mode register: the kernel ignores them. */
	snprintf(p, sizeof p, "%s/regular2", a[0]);
	result("mknodat-upper-bits",
	       syscall(SYS_mknodat, AT_FDCWD, p, 0x100000000UL | S_IFREG | 0600, 0));
}

/* truncate PATH */
static void cmd_truncate(char **a)
{
	result("truncate", truncate(a[0], 0));
}

/* fanotify */
static void cmd_fanotify(char **a)
{
	(void)a;
	result("fanotify_init", syscall(SYS_fanotify_init, 0, O_RDONLY));
}

/* setns: join our own network namespace again. */
static void cmd_setns(char **a)
{
	(void)a;
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open /proc/self/ns/net");
	result("setns", setns(fd, 0));
}

/* mount-ns: the ways to a new mount namespace (which would change the
 * root paths are resolved from): unshare and clone with CLONE_NEWNS, and
 * clone3, whose flags the filter cannot read; then a thread and a fork,
 * which must still work (libc falls back from clone3 to clone). */
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
static void *thread_ok(void *p)
{
	return p;
}
static void child_result(const char *label, long pid)
{
	if (pid == 0)
		syscall(SYS_exit_group, 0);
	if (pid > 0) {
		int st;
		if (waitpid((pid_t)pid, &st, __WALL) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("child status");
	}
	result(label, pid);
}
static void cmd_mount_ns(char **a)
{
	(void)a;
	result("unshare-newns", unshare(CLONE_NEWNS));
	child_result("clone-newns", syscall(SYS_clone, (long)(CLONE_NEWNS | SIGCHLD), 0L, 0L, 0L, 0L));
	uint64_t args[8] = { 0 }; /* struct clone_args, version 0 */
	args[4] = SIGCHLD;        /* exit_signal */
	child_result("clone3", syscall(SYS_clone3, args, sizeof args));
	pthread_t t;
	errno = pthread_create(&t, NULL, thread_ok, NULL);
	result("thread", errno ? -1 : 0);
	if (errno == 0)
		pthread_join(t, NULL);
	pid_t pid = fork();
	child_result("fork", pid);
}

/* chroot-open DIR PATH: one trapped call (an open of "/"), then chroot to
 * DIR, then an open of PATH, resolved from the new root. */
static void cmd_chroot_open(char **a)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open /");
	close(fd);
	if (chroot(a[0]) < 0)
		die("chroot");
	fd = open(a[1], O_RDONLY | O_CLOEXEC);
	result("open-after-chroot", fd);
}

/* upper-bits PATH: the path's dirfd argument with the upper 32 bits set
 * to look like another descriptor: the kernel (and so the supervisor)
 * only reads the low 32 bits. */
static void cmd_upper_bits(char **a)
{
	long fd = syscall(SYS_openat, (long)(0x0000000300000000UL | (unsigned)AT_FDCWD), a[0], O_RDONLY);
	result("openat-upper-bits", fd);
}

#include <netinet/in.h>

/* listen: listen() on an unbound TCP socket (the kernel would pick a
 * port on 0.0.0.0), then on one bound to 127.0.0.1:0 through bind. */
static void cmd_listen(char **a)
{
	(void)a;
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	result("listen-unbound", listen(s, 5));
	memset(&sin, 0, sizeof sin);
	getsockname(s, (struct sockaddr *)&sin, &len);
	printf("port-after: %s\n", sin.sin_port ? "bound" : "none");
	int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	result("bind", bind(t, (struct sockaddr *)&sin, sizeof sin));
	result("listen-bound", listen(t, 5));
	result("listen-not-a-socket", listen(1, 5));
}

static int install(struct sock_filter *f, unsigned short n, unsigned long flags)
{
	struct sock_fprog prog = { n, f };
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))

/* own-filter-allow PATH: a filter of the program's own that allows
 * everything explicitly, then open PATH. */
static void cmd_own_filter_allow(char **a)
{
	struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	result("own-filter", install(f, 1, 0));
	result("open-after-allow-filter", open(a[0], O_RDONLY));
}

static volatile long trap_result = -2, trap_errno, traps;
static const char *trap_path;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	traps++;
	/* Retry from the handler with the magic mode the filter allows. */
	trap_result = syscall(SYS_openat, AT_FDCWD, trap_path, O_RDONLY, 0x1234);
	trap_errno = errno;
}

/* own-filter-trap PATH: the program's own SECCOMP_RET_TRAP for openat
 * (unless its mode argument is 0x1234) and a SIGSYS handler that redoes
 * the call with that mode: the supervisor still decides. */
static void cmd_own_filter_trap(char **a)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
	trap_path = a[0];
	struct sock_filter g[] = {
		LD_NR,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x1234, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	result("own-filter", install(g, sizeof g / sizeof g[0], 0));
	long r = syscall(SYS_openat, AT_FDCWD, a[0], O_RDONLY, 0);
	printf("traps: %ld\n", traps);
	errno = (int)trap_errno;
	result("open-from-sigsys-handler", trap_result);
	(void)r;
}

/* second-listener: a filter of its own with NEW_LISTENER (refused by the
 * kernel: one listener per filter chain), then without a listener. */
static void cmd_second_listener(char **a)
{
	struct sock_filter f[] = {
		LD_NR,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	result("new-listener", install(f, 4, SECCOMP_FILTER_FLAG_NEW_LISTENER));
	/* Without a listener of its own: its notify wins the tie, no one
	 * answers, the call fails (ENOSYS): never a pass. */
	result("notify-filter-without-listener", install(f, 4, 0));
	result("open-under-own-notify", syscall(SYS_openat, AT_FDCWD, a[0], O_RDONLY));
}

/* ptrace-parent: attach to the supervisor. */
static void cmd_ptrace_parent(char **a)
{
	(void)a;
	pid_t pp = getppid();
	result("ptrace-attach", syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, pp, 0, 0));
	result("ptrace-seize", syscall(SYS_ptrace, 0x4206 /* PTRACE_SEIZE */, pp, 0, 0));
}

/* pidfd-parent: pidfd_getfd every descriptor number of the supervisor,
 * then pidfd_send_signal it. */
static void cmd_pidfd_parent(char **a)
{
	(void)a;
	long pidfd = syscall(SYS_pidfd_open, getppid(), 0);
	result("pidfd_open", pidfd);
	if (pidfd < 0)
		return;
	int taken = 0, last = 0;
	for (int n = 0; n < 256; n++) {
		long fd = syscall(SYS_pidfd_getfd, (int)pidfd, n, 0);
		if (fd >= 0) {
			taken++;
			close((int)fd);
		} else if (errno != EBADF) {
			last = errno;
		}
	}
	printf("pidfd_getfd: taken=%d error=%s\n", taken, ename(last));
	result("pidfd_send_signal", syscall(SYS_pidfd_send_signal, (int)pidfd, SIGKILL, NULL, 0));
}

/* process-vm-parent: read the supervisor's memory. */
static void cmd_process_vm_parent(char **a)
{
	(void)a;
	char buf[16];
	struct iovec local = { buf, sizeof buf };
	/* The supervisor's stack is somewhere; any address will do: the
	 * permission check comes first. */
	struct iovec remote = { (void *)&buf, sizeof buf };
	result("process_vm_readv", process_vm_readv(getppid(), &local, 1, &remote, 1, 0));
	result("process_vm_writev", process_vm_writev(getppid(), &local, 1, &remote, 1, 0));
}

/* kill-parent: signal the supervisor (kill, tgkill, rt_sigqueueinfo, and
 * SIGIO through F_SETOWN with F_SETSIG set to SIGKILL). */
static void cmd_kill_parent(char **a)
{
	(void)a;
	pid_t pp = getppid();
	result("kill", kill(pp, SIGKILL));
	result("tgkill", syscall(SYS_tgkill, pp, pp, SIGKILL));
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	result("rt_sigqueueinfo", syscall(SYS_rt_sigqueueinfo, pp, SIGKILL, &si));
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	result("f_setown", fcntl(p[0], F_SETOWN, pp));
	fcntl(p[0], F_SETSIG, SIGKILL);
	fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK);
	if (write(p[1], "x", 1) != 1)
		die("write");
	sleep_ms(200);
	/* Had the supervisor died, the death signal would have killed us. */
	printf("still running: %s\n", getppid() == pp ? "yes" : "reparented");
}

/* proc-parent: open the supervisor's /proc files: mem, environ, every
 * fd/N, cwd/. */
static void cmd_proc_parent(char **a)
{
	(void)a;
	char p[128];
	pid_t pp = getppid();
	snprintf(p, sizeof p, "/proc/%d/mem", pp);
	long fd = open(p, O_RDWR | O_CLOEXEC);
	result("proc-mem", fd);
	snprintf(p, sizeof p, "/proc/%d/environ", pp);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char b[64];
		fd = read((int)fd, b, sizeof b);
	}
	result("proc-environ", fd);
	snprintf(p, sizeof p, "/proc/%d/task/%d/mem", pp, pp);
	result("proc-task-mem", open(p, O_RDONLY | O_CLOEXEC));
	snprintf(p, sizeof p, "/proc/%d/cwd/.", pp);
	result("proc-cwd", open(p, O_RDONLY | O_CLOEXEC));
	int taken = 0;
	for (int n = 0; n < 64; n++) {
		snprintf(p, sizeof p, "/proc/%d/fd/%d", pp, n);
		long f = open(p, O_RDONLY | O_CLOEXEC);
		if (f < 0)
			f = open(p, O_PATH | O_CLOEXEC);
		if (f >= 0) {
			taken++;
			close((int)f);
		}
	}
	printf("proc-fds-opened: %d\n", taken);
}

/* ---- pointer races ----------------------------------------------------- */

#define BUFSZ 256

/* The flipped buffer: a path, or a sockaddr_un for connect. */
static char *flip_buf;
static char flip_src[2][BUFSZ];
static size_t flip_len;
static volatile int race_stop;

static void flip_forever(void)
{
	unsigned long i = 0;
	while (!race_stop)
		memcpy(flip_buf, flip_src[i++ & 1], flip_len);
}

static void *flipper(void *arg)
{
	(void)arg;
	flip_forever();
	return NULL;
}

struct counts {
	long iterations, ok, denied, other, leaks, mismatched;
};

/* One attempt of OP on flip_buf; A is the allowed path, B the denied
 * one, identified by (bdev, bino). */
static void attempt(const char *op, const char *A, const char *dst, unsigned long long bdev,
		    unsigned long long bino, unsigned long long adev, unsigned long long aino,
		    struct counts *c)
{
	struct stat st;
	long r;
	if (!strcmp(op, "open")) {
		r = open(flip_buf, O_RDONLY | O_CLOEXEC);
		if (r >= 0) {
			if (fstat((int)r, &st) < 0)
				_exit(3);
			close((int)r);
		}
	} else if (!strcmp(op, "stat")) {
		r = stat(flip_buf, &st);
	} else if (!strcmp(op, "unlink")) {
		r = unlink(flip_buf);
		if (r == 0) {
			/* Whatever went, put A back (B must never go). */
			int fd = open(A, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd >= 0)
				close(fd);
		}
	} else if (!strcmp(op, "rename")) {
		r = rename(flip_buf, dst);
		if (r == 0)
			rename(dst, A);
	} else { /* connect */
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		r = connect(s, (struct sockaddr *)flip_buf, sizeof(struct sockaddr_un));
		if (r == 0) {
			struct sockaddr_un peer;
			socklen_t len = sizeof peer;
			memset(&peer, 0, sizeof peer);
			if (getpeername(s, (struct sockaddr *)&peer, &len) < 0)
				_exit(3);
			/* Identify the peer by its name. */
			st.st_dev = 0;
			st.st_ino = !strcmp(peer.sun_path, A) ? aino : bino;
			st.st_dev = !strcmp(peer.sun_path, A) ? adev : bdev;
			if (strcmp(peer.sun_path, A) && strcmp(peer.sun_path, dst))
				st.st_ino = 0;
		} else {
			r = -1;
		}
		int e = errno;
		close(s);
		errno = e;
	}
	c->iterations++;
	if (r < 0) {
		if (errno == EACCES)
			c->denied++;
		else
			c->other++;
		return;
	}
	if (!strcmp(op, "unlink") || !strcmp(op, "rename")) {
		c->ok++; /* B's survival is checked by the test */
		return;
	}
	if ((unsigned long long)st.st_dev == bdev && (unsigned long long)st.st_ino == bino)
		c->leaks++;
	else if ((unsigned long long)st.st_dev == adev && (unsigned long long)st.st_ino == aino)
		c->ok++;
	else
		c->mismatched++;
}

static struct counts shared_counts;

/*
 * race KIND OP A B DST ADEV AINO BDEV BINO ITERS MILLIS
 *
 * KIND: thread (a second thread rewrites the buffer), vfork (a vfork
 * child makes the calls while a thread of the parent rewrites the shared
 * buffer), memfd (the buffer lives in a MAP_SHARED memfd that another
 * process rewrites).  OP: open, stat, unlink, rename (to DST), connect
 * (A and B are unix socket paths; DST is the name B's peer reports).  The
 * buffer alternates between A (allowed) and B (denied by the policy).
 */
static void cmd_race(char **a)
{
	const char *kind = a[0], *op = a[1], *A = a[2], *B = a[3], *dst = a[4];
	unsigned long long adev = strtoull(a[5], NULL, 10), aino = strtoull(a[6], NULL, 10);
	unsigned long long bdev = strtoull(a[7], NULL, 10), bino = strtoull(a[8], NULL, 10);
	long iters = strtol(a[9], NULL, 10), millis = strtol(a[10], NULL, 10);
	static char static_buf[BUFSZ];
	int connect_op = !strcmp(op, "connect");
	pid_t writer = -1;

	memset(flip_src, 0, sizeof flip_src);
	if (connect_op) {
		struct sockaddr_un *u0 = (void *)flip_src[0], *u1 = (void *)flip_src[1];
		u0->sun_family = u1->sun_family = AF_UNIX;
		snprintf(u0->sun_path, sizeof u0->sun_path, "%s", A);
		snprintf(u1->sun_path, sizeof u1->sun_path, "%s", B);
		flip_len = sizeof(struct sockaddr_un);
	} else {
		snprintf(flip_src[0], BUFSZ, "%s", A);
		snprintf(flip_src[1], BUFSZ, "%s", B);
		flip_len = BUFSZ;
	}
	if (!strcmp(kind, "memfd")) {
		int mfd = memfd_create("race", MFD_CLOEXEC);
		if (mfd < 0 || ftruncate(mfd, 4096) < 0)
			die("memfd");
		flip_buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
		if (flip_buf == MAP_FAILED)
			die("mmap");
		memcpy(flip_buf, flip_src[0], flip_len);
		writer = fork();
		if (writer < 0)
			die("fork");
		if (writer == 0) {
			/* Another process, the same page. */
			char *mine = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
			if (mine == MAP_FAILED)
				_exit(3);
			flip_buf = mine;
			flip_forever();
			_exit(0);
		}
	} else {
		flip_buf = static_buf;
		memcpy(flip_buf, flip_src[0], flip_len);
	}
	pthread_t t;
	if (writer < 0 && pthread_create(&t, NULL, flipper, NULL) != 0)
		die("pthread_create");

	struct counts *c = &shared_counts;
	memset(c, 0, sizeof *c);
	long deadline = now_ms() + millis;
	if (!strcmp(kind, "vfork")) {
		pid_t pid = vfork();
		if (pid < 0)
			die("vfork");
		if (pid == 0) {
			/* The child shares the parent's memory: the counts too. */
			while (c->iterations < iters && now_ms() < deadline)
				attempt(op, A, dst, bdev, bino, adev, aino, c);
			_exit(0);
		}
		int status;
		waitpid(pid, &status, 0);
	} else {
		while (c->iterations < iters && now_ms() < deadline)
			attempt(op, A, dst, bdev, bino, adev, aino, c);
	}
	race_stop = 1;
	if (writer > 0) {
		kill(writer, SIGKILL);
		waitpid(writer, NULL, 0);
	} else {
		pthread_join(t, NULL);
	}
	printf("race %s %s: iterations=%ld ok=%ld denied=%ld other=%ld leaks=%ld mismatched=%ld\n",
	       kind, op, c->iterations, c->ok, c->denied, c->other, c->leaks, c->mismatched);
}

/* ---- paths ------------------------------------------------------------ */

/* dotdot DIR: ".." escapes from a directory descriptor, plain and through
 * a symlink, towards /etc/shadow. */
static void cmd_dotdot(char **a)
{
	int d = open(a[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		die("open dir");
	result("dotdot", openat(d, "../../../../../../../../../../etc/shadow", O_RDONLY | O_CLOEXEC));
	if (symlinkat("../../../../../../../../../../etc", d, "up") < 0 && errno != EEXIST)
		die("symlinkat");
	result("dotdot-symlink", openat(d, "up/shadow", O_RDONLY | O_CLOEXEC));
	result("dotdot-symlink-dotdot", openat(d, "up/../etc/shadow", O_RDONLY | O_CLOEXEC));
}

/*
 * dir-race DIR NAME SECRET_DEV SECRET_INO MILLIS
 *
 * openat(DIR, NAME) again and again while the test moves DIR's parent in
 * and out of the allowed tree: a descriptor on the secret is a leak.
 */
static void cmd_dir_race(char **a)
{
	unsigned long long sdev = strtoull(a[2], NULL, 10), sino = strtoull(a[3], NULL, 10);
	long millis = strtol(a[4], NULL, 10);
	/* The test is already moving DIR's parent: while it is outside the
	 * allowed tree (or in flight) the open is denied; try again. */
	int d = -1;
	for (int i = 0; i < 1000 && d < 0; i++) {
		d = open(a[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d < 0)
			usleep(1000);
	}
	if (d < 0)
		die("open dir");
	struct counts c;
	memset(&c, 0, sizeof c);
	long deadline = now_ms() + millis;
	while (now_ms() < deadline) {
		int fd = openat(d, a[1], O_RDONLY | O_CLOEXEC);
		c.iterations++;
		if (fd < 0) {
			if (errno == EACCES)
				c.denied++;
			else
				c.other++;
			continue;
		}
		struct stat st;
		fstat(fd, &st);
		if ((unsigned long long)st.st_dev == sdev && (unsigned long long)st.st_ino == sino)
			c.leaks++;
		else
			c.ok++;
		close(fd);
	}
	printf("dir-race: iterations=%ld ok=%ld denied=%ld other=%ld leaks=%ld\n", c.iterations, c.ok,
	       c.denied, c.other, c.leaks);
}

static int same_file(int fd, const struct stat *want)
{
	struct stat st;
	return fstat(fd, &st) == 0 && st.st_dev == want->st_dev && st.st_ino == want->st_ino;
}

/* magic FILE DIR: /proc/self/fd/N, /dev/fd/N, /proc/thread-self/fd/N
 * for the program's descriptor N on FILE; /proc/self/cwd/NAME after
 * chdir(DIR), where DIR holds FILE's name. */
static void cmd_magic(char **a)
{
	struct stat want;
	/* Push N above the numbers the supervisor's own descriptors use. */
	for (int i = 0; i < 20; i++)
		if (open("/dev/null", O_RDONLY) < 0)
			die("open /dev/null");
	int fd = open(a[0], O_RDONLY);
	if (fd < 0 || fstat(fd, &want) < 0)
		die("open file");
	char p[256];
	const char *forms[] = { "/proc/self/fd/%d", "/dev/fd/%d", "/proc/thread-self/fd/%d" };
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, forms[i], fd);
		int f = open(p, O_RDONLY | O_CLOEXEC);
		printf("%.*s: %s\n", (int)(strlen(forms[i]) - 3), forms[i],
		       f < 0 ? ename(errno) : same_file(f, &want) ? "the program's file" : "ANOTHER FILE");
	}
	if (chdir(a[1]) < 0)
		die("chdir");
	const char *base = strrchr(a[0], '/');
	snprintf(p, sizeof p, "/proc/self/cwd/%s", base ? base + 1 : a[0]);
	int f = open(p, O_RDONLY | O_CLOEXEC);
	printf("/proc/self/cwd: %s\n",
	       f < 0 ? ename(errno) : same_file(f, &want) ? "the program's file" : "ANOTHER FILE");
	fflush(stdout);
}

/* cat PATH: print the file. */
static void cmd_cat(char **a)
{
	char buf[4096];
	int fd = open(a[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("cat %s: %s\n", a[0], ename(errno));
		return;
	}
	ssize_t n = read(fd, buf, sizeof buf);
	printf("cat %s: [%.*s]\n", a[0], (int)(n < 0 ? 0 : n), buf);
}

/* umask DIR: creates under umask 027: a file (open 0666, creat 0666) and
 * a directory (mkdir 0777); prints their modes. */
static void cmd_umask(char **a)
{
	char p[4200];
	struct stat st;
	umask(027);
	snprintf(p, sizeof p, "%s/open", a[0]);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0 || fstat(fd, &st) < 0)
		die("open");
	printf("open: %o\n", st.st_mode & 07777);
	snprintf(p, sizeof p, "%s/creat", a[0]);
	fd = syscall(SYS_creat, p, 0666);
	if (fd < 0 || fstat(fd, &st) < 0)
		die("creat");
	printf("creat: %o\n", st.st_mode & 07777);
	snprintf(p, sizeof p, "%s/dir", a[0]);
	if (mkdir(p, 0777) < 0)
		die("mkdir");
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		die("open dir");
	printf("mkdir: %o\n", st.st_mode & 07777);
}

/* ---- resource abuse ------------------------------------------------------ */

static volatile long signals_seen;

static void on_usr1(int sig)
{
	(void)sig;
	signals_seen++;
}

static volatile int storm_stop;
static pid_t storm_tid;

static void *stormer(void *arg)
{
	(void)arg;
	pid_t me = getpid();
	while (!storm_stop)
		syscall(SYS_tgkill, me, storm_tid, SIGUSR1);
	return NULL;
}

/* signal-storm DIR N: with SA_RESTART SIGUSR1 sent to this thread without
 * pause, create and unlink DIR/fK N times: every call must succeed once. */
static void cmd_signal_storm(char **a)
{
	long n = strtol(a[1], NULL, 10), errors = 0, eintr = 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	storm_tid = syscall(SYS_gettid);
	pthread_t t;
	if (pthread_create(&t, NULL, stormer, NULL) != 0)
		die("pthread_create");
	char p[4200];
	/* The storm is on before the first call. */
	while (signals_seen == 0)
		sched_yield();
	for (long i = 0; i < n; i++) {
		snprintf(p, sizeof p, "%s/f%ld", a[0], i);
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			errors++;
			eintr += errno == EINTR;
			continue;
		}
		close(fd);
		if (unlink(p) < 0) {
			errors++;
			eintr += errno == EINTR;
		}
	}
	storm_stop = 1;
	pthread_join(t, NULL);
	printf("signal-storm: calls=%ld errors=%ld eintr=%ld signals=%ld\n", 2 * n, errors, eintr,
	       (long)signals_seen);
}

static pthread_barrier_t herd;
static const char *herd_dir;

static void *herd_thread(void *arg)
{
	long i = (long)arg;
	char p[4200], want[32], got[32];
	pthread_barrier_wait(&herd);
	snprintf(p, sizeof p, "%s/f%ld", herd_dir, i % 8);
	snprintf(want, sizeof want, "content %ld\n", i % 8);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return (void *)1;
	ssize_t n = read(fd, got, sizeof got - 1);
	close(fd);
	if (n < 0)
		return (void *)1;
	got[n] = 0;
	return (void *)(long)(strcmp(got, want) != 0);
}

/* herd DIR N: N threads released at once, each opening and reading
 * DIR/f(i%8), which holds "content K\n". */
static void cmd_herd(char **a)
{
	long n = strtol(a[1], NULL, 10), bad = 0, started = 0;
	pthread_t *t = calloc(n, sizeof *t);
	pthread_attr_t attr;
	herd_dir = a[0];
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_barrier_init(&herd, NULL, n);
	for (long i = 0; i < n; i++) {
		if (pthread_create(&t[i], &attr, herd_thread, (void *)i) != 0)
			die("pthread_create");
		started++;
	}
	for (long i = 0; i < started; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	printf("herd: threads=%ld bad=%ld\n", started, bad);
}

/* fork-bomb PATH: every process opens PATH and forks, forever. */
static void cmd_fork_bomb(char **a)
{
	for (;;) {
		int fd = open(a[0], O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
		fork();
	}
}

/* soak N FILE: N mapped calls on FILE (open+close, stat, access, an open
 * of a missing name: four kinds of answer), then "soak: calls=N errors=E". */
static void cmd_soak(char **a)
{
	long n = strtol(a[0], NULL, 10), errors = 0;
	char missing[4200];
	struct stat st;
	snprintf(missing, sizeof missing, "%s.missing", a[1]);
	for (long i = 0; i < n; i++) {
		int fd;
		switch (i & 3) {
		case 0:
			fd = open(a[1], O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				errors++;
			else
				close(fd);
			break;
		case 1:
			errors += stat(a[1], &st) < 0;
			break;
		case 2:
			errors += access(a[1], R_OK) < 0;
			break;
		default:
			errors += !(open(missing, O_RDONLY | O_CLOEXEC) < 0 && errno == ENOENT);
		}
	}
	printf("soak: calls=%ld errors=%ld\n", n, errors);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		sleep_ms(1000);
	return NULL;
}

/* family PIDFILE: a thread, a child, and a detached grandchild (its own
 * session) write their ids to PIDFILE ("kind id" lines), then everyone
 * idles, making a mapped call now and then. */
static void cmd_family(char **a)
{
	pthread_t t;
	if (pthread_create(&t, NULL, idle_thread, NULL) != 0)
		die("pthread_create");
	int fd = open(a[0], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		die("open pidfile");
	dprintf(fd, "main %d\n", getpid());
	pid_t child = fork();
	if (child == 0) {
		pid_t gc = fork();
		if (gc == 0) {
			setsid();
			signal(SIGHUP, SIG_IGN);
			dprintf(fd, "grandchild %d\n", getpid());
			for (;;) {
				sleep_ms(100);
				struct stat st;
				stat("/", &st);
			}
		}
		dprintf(fd, "child %d\n", getpid());
		for (;;)
			sleep_ms(1000);
	}
	sleep_ms(300);
	dprintf(fd, "ready\n");
	close(fd);
	for (;;)
		sleep_ms(1000);
}

/* fifo-open PIDFILE FIFO: records its pid, then opens FIFO (which has no
 * writer: the open blocks). */
static void cmd_fifo_open(char **a)
{
	int fd = open(a[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("open pidfile");
	dprintf(fd, "%d\n", getpid());
	close(fd);
	result("fifo-open", open(a[1], O_RDONLY | O_CLOEXEC));
}

/*
 * pid-reuse TRIGGER: a child stats TRIGGER (the policy takes its time to
 * answer with made-up fields); meanwhile the parent kills the child and
 * starts another process with the same pid (ns_last_pid) whose buffer
 * at the same address holds a marker: the late answer must not land in it.
 */
static struct stat victim;

static void cmd_pid_reuse(char **a)
{
	int last = open("/proc/sys/kernel/ns_last_pid", O_RDWR | O_CLOEXEC);
	if (last < 0)
		die("open ns_last_pid");
	pid_t c = fork();
	if (c == 0) {
		stat(a[0], &victim);
		_exit(0);
	}
	sleep_ms(500);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	char num[32];
	int n = snprintf(num, sizeof num, "%d", c - 1);
	pid_t y = -1;
	for (int tries = 0; tries < 20 && y != c; tries++) {
		if (y > 0)
			waitpid(y, NULL, 0);
		if (pwrite(last, num, n, 0) != n)
			die("write ns_last_pid");
		y = fork();
		if (y == 0) {
			if (getpid() != c)
				_exit(7);
			memset(&victim, 0x5a, sizeof victim);
			sleep_ms(4000);
			const unsigned char *b = (const void *)&victim;
			for (size_t i = 0; i < sizeof victim; i++)
				if (b[i] != 0x5a)
					_exit(1);
			_exit(0);
		}
	}
	int status;
	waitpid(y, &status, 0);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
	printf("pid-reuse: reused=%s intact=%s\n", y == c && code != 7 ? "yes" : "no",
	       code == 0 ? "yes" : "no");
}

/* ---- dispatch -------------------------------------------------------- */

static const struct probe_cmd cmds[] = {
	{ "io-uring", 0, cmd_io_uring },
	{ "handles", 1, cmd_handles },
	{ "mount-bind", 2, cmd_mount_bind },
	{ "chroot", 1, cmd_chroot },
	{ "link", 2, cmd_link },
	{ "mknod", 1, cmd_mknod },
	{ "truncate", 1, cmd_truncate },
	{ "fanotify", 0, cmd_fanotify },
	{ "setns", 0, cmd_setns },
	{ "mount-ns", 0, cmd_mount_ns },
	{ "chroot-open", 2, cmd_chroot_open },
	{ "upper-bits", 1, cmd_upper_bits },
	{ "listen", 0, cmd_listen },
	{ "own-filter-allow", 1, cmd_own_filter_allow },
	{ "own-filter-trap", 1, cmd_own_filter_trap },
	{ "second-listener", 1, cmd_second_listener },
	{ "ptrace-parent", 0, cmd_ptrace_parent },
	{ "pidfd-parent", 0, cmd_pidfd_parent },
	{ "process-vm-parent", 0, cmd_process_vm_parent },
	{ "kill-parent", 0, cmd_kill_parent },
	{ "proc-parent", 0, cmd_proc_parent },
	{ "race", 11, cmd_race },
	{ "dotdot", 1, cmd_dotdot },
	{ "dir-race", 5, cmd_dir_race },
	{ "magic", 2, cmd_magic },
	{ "cat", 1, cmd_cat },
	{ "umask", 1, cmd_umask },
	{ "signal-storm", 2, cmd_signal_storm },
	{ "herd", 2, cmd_herd },
	{ "fork-bomb", 1, cmd_fork_bomb },
	{ "soak", 2, cmd_soak },
	{ "family", 1, cmd_family },
	{ "fifo-open", 2, cmd_fifo_open },
	{ "pid-reuse", 1, cmd_pid_reuse },
};

int main(int argc, char **argv)
{
	return run_one_cmd("attack", cmds, NCMDS(cmds), argc, argv);
}
