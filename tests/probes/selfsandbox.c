/*
 * Self-sandboxing probe (tests/it/selfsandbox.rs, issue 22): the sequence
 * Chromium's zygote performs to sandbox itself, and the ways a program in
 * a user namespace of its own could try to give a denied file an allowed
 * name.  One "NAME: OUTCOME" line per step.
 *
 * Usage: selfsandbox CMD ARGS...   Built static with musl-gcc.
 *
 *   zygote PAGE EMPTY   clone(CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET) as
 *                       Chromium's namespace sandbox does; the child writes
 *                       its setgroups, uid_map and gid_map (one id, its
 *                       own), prints PAGE (read through an open), unshares
 *                       a nested user namespace and maps it again (the
 *                       zygote's MoveToNewUserNS), chroots into the empty
 *                       directory EMPTY from a CLONE_FS child (Chromium's
 *                       ChrootToSafeEmptyDir), then opens PAGE again: it
 *                       is out of its reach now (ENOENT).
 *   mount-attacks DENIED ALLOWED DIR
 *                       after unshare(CLONE_NEWUSER) (and CLONE_NEWNS):
 *                       a bind mount of DENIED onto ALLOWED, pivot_root
 *                       into DIR, an open_tree clone of DENIED attached
 *                       with move_mount onto ALLOWED, fsopen; then ALLOWED
 *                       is read: never DENIED's content.
 *   userns-open PATH    unshare(CLONE_NEWUSER), its maps, then read PATH.
 *   chroot-link DIR     chroot into DIR (which holds "link", a symlink to
 *                       the denied file, absolute, and "up", relative,
 *                       climbing out) and read both and "/link" by an
 *                       absolute path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#define OPEN_TREE_CLONE 1
#define MOVE_MOUNT_F_EMPTY_PATH 4

static const char *ename(int e)
{
	static char buf[32];
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EINVAL: return "EINVAL";
	case ENOSYS: return "ENOSYS";
	case EBUSY: return "EBUSY";
	case ENOTDIR: return "ENOTDIR";
	case EROFS: return "EROFS";
	}
	snprintf(buf, sizeof buf, "E#%d", e);
	return buf;
}

static void result(const char *label, long r)
{
	printf("%s: %s\n", label, r < 0 ? ename(errno) : "OK");
	fflush(stdout);
}

/* "LABEL: <first line of PATH>" or "LABEL: ERRNO". */
static void show(const char *label, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		result(label, -1);
		return;
	}
	char buf[256];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0) {
		result(label, -1);
		return;
	}
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	printf("%s: content %s\n", label, buf);
	fflush(stdout);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	int e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The maps of a user namespace just made: setgroups deny, one id each. */
static int map_ids(const char *label, uid_t uid, gid_t gid)
{
	char line[64], l2[64];
	snprintf(l2, sizeof l2, "%s-setgroups", label);
	int r = write_file("/proc/self/setgroups", "deny");
	result(l2, r);
	snprintf(line, sizeof line, "%u %u 1\n", uid, uid);
	snprintf(l2, sizeof l2, "%s-uid_map", label);
	int u = write_file("/proc/self/uid_map", line);
	result(l2, u);
	snprintf(line, sizeof line, "%u %u 1\n", gid, gid);
	snprintf(l2, sizeof l2, "%s-gid_map", label);
	int g = write_file("/proc/self/gid_map", line);
	result(l2, g);
	return r | u | g;
}

static const char *empty_dir;

/* Chromium's ChrootToSafeEmptyDir: a child sharing our fs_struct
 * (CLONE_FS) chroots, so that we are chrooted too. */
static int chroot_child(void *arg)
{
	(void)arg;
	if (chroot(empty_dir) < 0)
		_exit(errno);
	if (chdir("/") < 0)
		_exit(errno);
	_exit(0);
}

static void cmd_zygote(char **a)
{
	const char *page = a[0];
	empty_dir = a[1];
	uid_t uid = getuid();
	gid_t gid = getgid();
	pid_t pid = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | SIGCHLD,
			    NULL, NULL, NULL, NULL);
	if (pid < 0) {
		result("clone-newuser-newpid-newnet", pid);
		return;
	}
	if (pid > 0) {
		/* After the child's lines, so that the output has one order. */
		int st;
		waitpid(pid, &st, 0);
		result("clone-newuser-newpid-newnet", 0);
		printf("zygote-exit: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		fflush(stdout);
		return;
	}
	printf("pid-in-namespace: %d\n", (int)getpid());
	if (map_ids("outer", uid, gid) < 0)
		_exit(1);
	printf("uid-inside: %u\n", (unsigned)getuid());
	show("page", page);
	/* The zygote moves to a nested user namespace (drops its capabilities
	 * over the first one). */
	result("unshare-newuser", unshare(CLONE_NEWUSER));
	map_ids("nested", uid, gid);
	static char stack[64 * 1024] __attribute__((aligned(16)));
	pid_t c = clone(chroot_child, stack + sizeof stack, CLONE_FS | SIGCHLD, NULL);
	int st = 0;
	if (c > 0)
		waitpid(c, &st, 0);
	errno = WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
	result("chroot-empty", c > 0 && errno == 0 ? 0 : -1);
	show("page-after-chroot", page);
	show("passwd-after-chroot", "/etc/passwd");
	_exit(0);
}

static void cmd_mount_attacks(char **a)
{
	const char *denied = a[0], *allowed = a[1], *dir = a[2];
	result("unshare-newuser-newns", unshare(CLONE_NEWUSER | CLONE_NEWNS));
	result("unshare-newuser", unshare(CLONE_NEWUSER));
	result("unshare-newns", unshare(CLONE_NEWNS));
	result("bind-mount", mount(denied, allowed, NULL, MS_BIND, NULL));
	result("pivot_root", syscall(SYS_pivot_root, dir, dir));
	long t = syscall(SYS_open_tree, AT_FDCWD, denied, OPEN_TREE_CLONE | O_CLOEXEC);
	result("open_tree-clone", t);
	if (t >= 0)
		result("move_mount", syscall(SYS_move_mount, (int)t, "", AT_FDCWD, allowed,
					     MOVE_MOUNT_F_EMPTY_PATH));
	result("fsopen", syscall(SYS_fsopen, "tmpfs", 0));
	show("allowed", allowed);
	show("denied", denied);
}

static void cmd_chroot_link(char **a)
{
	/* Unprivileged: a user namespace of our own first (as root the
	 * chroot works without it, and the unshare changes nothing). */
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (uid != 0) {
		result("unshare-newuser", unshare(CLONE_NEWUSER));
		map_ids("map", uid, gid);
	}
	result("chroot", chroot(a[0]));
	result("chdir", chdir("/"));
	show("link", "link");
	show("abs-link", "/link");
	show("up", "up");
	show("inside", "/inside");
}

/* userns-open PATH: a user namespace of our own (all capabilities in it),
 * then an open of PATH for reading. */
static void cmd_userns_open(char **a)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	result("unshare-newuser", unshare(CLONE_NEWUSER));
	map_ids("map", uid, gid);
	show("open", a[0]);
}

static const struct {
	const char *name;
	int nargs;
	void (*fn)(char **);
} CMDS[] = {
	{ "zygote", 2, cmd_zygote },
	{ "mount-attacks", 3, cmd_mount_attacks },
	{ "chroot-link", 1, cmd_chroot_link },
	{ "userns-open", 1, cmd_userns_open },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return 2;
	for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++) {
		if (strcmp(argv[1], CMDS[i].name))
			continue;
		if (argc - 2 < CMDS[i].nargs) {
			fprintf(stderr, "selfsandbox %s: %d arguments\n", CMDS[i].name, CMDS[i].nargs);
			return 2;
		}
		CMDS[i].fn(argv + 2);
		return 0;
	}
	fprintf(stderr, "selfsandbox: unknown command %s\n", argv[1]);
	return 2;
}
