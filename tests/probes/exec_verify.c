/*
 * What the kernel offers for deciding execve (docs/security.md, "Exec: the
 * design"), shown with the smallest supervisor that uses it: a program
 * races its own execve against a policy that allows binary A and denies
 * binary D, and D must never run.
 *
 * Usage: exec_verify A D MARKER TRIALS
 *   For each trial a child installs a notify filter on execve (with
 *   WAIT_KILLABLE_RECV, as the supervisor's), then execs A while a thread
 *   flips the path buffer between A and D; after a denial it tries again.
 *   The parent, for each notification: copies the path, checks ID_VALID;
 *   D is answered EACCES; for A it holds an O_PATH descriptor of A,
 *   PTRACE_SEIZEs the thread (PTRACE_O_TRACEEXEC), PTRACE_INTERRUPTs it,
 *   answers CONTINUE and waits: a PTRACE_EVENT_EXEC stop comes before the
 *   first instruction of the new image, where /proc/<pid>/exe is compared
 *   with the held A (dev, ino): equal, detach; different, SIGKILL.  A
 *   PTRACE_EVENT_STOP instead means the exec failed: detach.
 *   Prints "verified=N killed=N denied=N failed=N".  A and D, run as
 *   "exec_verify --ran MARKER NAME", append NAME to MARKER.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

static char path[4096];
static const char *pa, *pd;

static void *flipper(void *arg)
{
	(void)arg;
	for (unsigned i = 0;; i++)
		strcpy(path, (i & 1) ? pd : pa);
	return NULL;
}

static void child(int wfd, const char *marker)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_execve, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { 4, f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		_exit(90);
	int fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			 SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
	if (fd < 0)
		_exit(91);
	if (write(wfd, &fd, sizeof fd) != sizeof fd)
		_exit(92);
	strcpy(path, pa);
	pthread_t t;
	pthread_create(&t, NULL, flipper, NULL);
	char *av[] = { path, "--ran", (char *)marker, "exec", NULL };
	for (;;) {
		syscall(SYS_execve, path, av, NULL);
		if (errno != EACCES && errno != ENOENT)
			_exit(93);
	}
}

static int same_file(const char *a, int fd)
{
	struct stat x, y;
	return stat(a, &x) == 0 && fstat(fd, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--ran")) {
		/* The new image: record which binary ran. */
		int m = open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0644);
		char exe[4096];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		exe[n > 0 ? n : 0] = 0;
		dprintf(m, "%s\n", exe);
		return 0;
	}
	if (argc != 5) {
		fprintf(stderr, "usage: exec_verify A D MARKER TRIALS\n");
		return 2;
	}
	pa = argv[1], pd = argv[2];
	int trials = atoi(argv[4]);
	int verified = 0, killed = 0, denied = 0, failed = 0;
	int held = open(pa, O_PATH | O_CLOEXEC);
	if (held < 0)
		return 3;
	for (int i = 0; i < trials; i++) {
		int p[2];
		if (pipe(p))
			return 4;
		pid_t pid = fork();
		if (pid == 0) {
			close(p[0]);
			child(p[1], argv[3]);
		}
		close(p[1]);
		int fd;
		if (read(p[0], &fd, sizeof fd) != sizeof fd)
			return 5;
		close(p[0]);
		int pidfd = syscall(SYS_pidfd_open, pid, 0);
		int lfd = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
		if (lfd < 0)
			return 6;
		for (;;) {
			struct seccomp_notif n;
			memset(&n, 0, sizeof n);
			if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &n))
				return 7;
			char copy[4096] = { 0 };
			struct iovec l = { copy, sizeof copy - 1 }, r = { (void *)n.data.args[0], sizeof copy - 1 };
			ssize_t got = process_vm_readv(n.pid, &l, 1, &r, 1, 0);
			if (got <= 0 || ioctl(lfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &n.id))
				return 8;
			struct seccomp_notif_resp resp = { .id = n.id };
			if (strcmp(copy, pa) != 0) {
				resp.error = -EACCES;
				denied++;
				if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp))
					return 9;
				continue;
			}
			/* Allowed: verify at the exec event. */
			if (ptrace(PTRACE_SEIZE, n.pid, 0, PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL))
				return 10;
			if (ptrace(PTRACE_INTERRUPT, n.pid, 0, 0))
				return 11;
			resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
			if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp))
				return 12;
			int st;
			/* A non-leader thread that execs takes the leader's pid. */
			pid_t w;
			for (;;) {
				w = waitpid(n.pid, &st, __WALL | WNOHANG);
				if (w == 0 && n.pid != (__u32)pid)
					w = waitpid(pid, &st, __WALL | WNOHANG);
				if (w != 0)
					break;
				usleep(100);
			}
			if (w < 0)
				return 13;
			int event = st >> 16;
			if (WIFSTOPPED(st) && event == PTRACE_EVENT_EXEC) {
				char exe[64];
				snprintf(exe, sizeof exe, "/proc/%d/exe", w);
				if (same_file(exe, held)) {
					verified++;
					ptrace(PTRACE_DETACH, w, 0, 0);
				} else {
					killed++;
					kill(w, SIGKILL);
				}
				break;
			}
			if (WIFSTOPPED(st) && event == PTRACE_EVENT_STOP) {
				failed++;
				ptrace(PTRACE_DETACH, w, 0, 0);
				continue;
			}
			return 14;
		}
		int st;
		waitpid(pid, &st, 0);
		close(lfd);
		close(pidfd);
	}
	printf("verified=%d killed=%d denied=%d failed=%d\n", verified, killed, denied, failed);
	return 0;
}
