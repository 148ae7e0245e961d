/*
 * O_PATH descriptors: what a program does with one, printed so that a
 * supervised run can be compared line for line with a native one.
 *
 * Usage: opath CMD ARGS... [CMD ARGS...]...
 *   open PATH HOW        HOW: follow | nofollow | dir | nofollow-dir
 *                        opens PATH with O_PATH (and O_NOFOLLOW, O_DIRECTORY)
 *                        and uses the descriptor: fstat, fstatat(AT_EMPTY_PATH)
 *                        compared with lstat/stat of PATH, readlinkat(fd, ""),
 *                        fchownat(fd, "", AT_EMPTY_PATH),
 *                        openat relative to it, the /proc/self/fd link and a
 *                        reopen through it, fchdir, fchmod through
 *                        /proc/self/fd (glibc's fchmodat(AT_SYMLINK_NOFOLLOW))
 *   chmod-nofollow PATH MODE   fchmodat(AT_FDCWD, PATH, MODE, AT_SYMLINK_NOFOLLOW)
 *   linkat-empty PATH NEW  linkat(O_PATH|O_NOFOLLOW of PATH, "", NEW, AT_EMPTY_PATH)
 *                        through libc (glibc 2.36 emulates it with O_PATH)
 *   symfd LINK NEW ID    every call a program makes with an empty path on
 *                        LINK's O_PATH|O_NOFOLLOW descriptor (a symlink's):
 *                        fstat, fstatat, statx, readlinkat, fchownat to
 *                        ID:ID, utimensat, fchmodat(2), linkat to NEW,
 *                        the xattr calls, fstatfs, fcntl, fchdir, and the
 *                        /proc/self/fd link (readlink, stat, reopen)
 *   readlinkat-in DIR NAME  readlinkat(O_PATH of DIR, NAME) and (…, ""),
 *                        readlinkat(AT_FDCWD, NAME)
 *
 * Built static with musl-gcc and dynamic with gcc.  The open is a raw
 * openat so that both builds issue exactly the same call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common.h"

static const char *type(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	case S_IFCHR: return "chr";
	default: return "other";
	}
}

static void cmd_open(char **a)
{
	const char *path = a[0], *how = a[1];
	int flags = O_PATH | O_CLOEXEC;
	if (strstr(how, "nofollow"))
		flags |= O_NOFOLLOW;
	if (strstr(how, "dir"))
		flags |= O_DIRECTORY;
	long fd = syscall(SYS_openat, AT_FDCWD, path, flags, 0);
	if (fd < 0) {
		printf("open %s %s: %s\n", path, how, ename(errno));
		return;
	}
	printf("open %s %s: OK\n", path, how);

	struct stat st, want;
	int r = (flags & O_NOFOLLOW) ? lstat(path, &want) : stat(path, &want);
	if (r < 0)
		printf("  stat by path: %s\n", ename(errno));
	if (fstat(fd, &st) < 0) {
		printf("  fstat: %s\n", ename(errno));
	} else {
		printf("  fstat: %s mode %o size %lld same-inode %s\n", type(st.st_mode),
		       (unsigned)(st.st_mode & 07777), (long long)st.st_size,
		       st.st_dev == want.st_dev && st.st_ino == want.st_ino ? "yes" : "no");
	}
	struct stat st2;
	if (fstatat(fd, "", &st2, AT_EMPTY_PATH) < 0)
		printf("  fstatat empty: %s\n", ename(errno));
	else
		printf("  fstatat empty: %s same-inode %s\n", type(st2.st_mode),
		       st2.st_ino == want.st_ino ? "yes" : "no");

	char buf[4096];
	ssize_t n = readlinkat(fd, "", buf, sizeof buf - 1);
	if (n < 0)
		printf("  readlinkat empty: %s\n", ename(errno));
	else
		printf("  readlinkat empty: %.*s\n", (int)n, buf);

	/* Owner unchanged (the caller's own): what the call says is compared. */
	if (fchownat(fd, "", -1, -1, AT_EMPTY_PATH) < 0)
		printf("  fchownat empty: %s\n", ename(errno));
	else
		printf("  fchownat empty: OK\n");

	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%ld", fd);
	n = readlink(link, buf, sizeof buf - 1);
	if (n < 0)
		printf("  readlink %s: %s\n", "/proc/self/fd/N", ename(errno));
	else
		printf("  readlink /proc/self/fd/N: %.*s\n", (int)n, buf);

	int child = openat(fd, "child", O_RDONLY | O_CLOEXEC);
	if (child < 0) {
		printf("  openat(fd, child): %s\n", ename(errno));
	} else {
		n = read(child, buf, sizeof buf - 1);
		printf("  openat(fd, child): OK %.*s\n", n > 0 ? (int)n : 0, buf);
		close(child);
	}

	int again = open(link, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (again < 0) {
		printf("  reopen /proc/self/fd/N: %s\n", ename(errno));
	} else {
		struct stat st3;
		fstat(again, &st3);
		printf("  reopen /proc/self/fd/N: OK %s same-inode %s\n", type(st3.st_mode),
		       st3.st_ino == want.st_ino ? "yes" : "no");
		close(again);
	}

	int cwd = open(".", O_PATH | O_CLOEXEC);
	if (fchdir(fd) < 0) {
		printf("  fchdir: %s\n", ename(errno));
	} else {
		char here[4096];
		printf("  fchdir: OK cwd %s\n", getcwd(here, sizeof here) ? here : "?");
		int c = open("child", O_RDONLY | O_CLOEXEC);
		printf("  open(child) after fchdir: %s\n", c < 0 ? ename(errno) : "OK");
		if (c >= 0)
			close(c);
	}
	if (cwd >= 0) {
		if (fchdir(cwd) < 0)
			printf("  fchdir back: %s\n", ename(errno));
		close(cwd);
	}
	close(fd);
}

static void cmd_chmod_nofollow(char **a)
{
	mode_t mode = strtol(a[1], NULL, 8);
	int r = fchmodat(AT_FDCWD, a[0], mode, AT_SYMLINK_NOFOLLOW);
	printf("chmod-nofollow %s %s: %s\n", a[0], a[1], r < 0 ? ename(errno) : "OK");
	struct stat st;
	if (r == 0 && lstat(a[0], &st) == 0)
		printf("  mode now %o\n", (unsigned)(st.st_mode & 07777));
}

/* linkat-empty PATH NEW: a new name for PATH's symlink itself, through
 * its O_PATH|O_NOFOLLOW descriptor (linkat AT_EMPTY_PATH). */
static void cmd_linkat_empty(char **a)
{
	long fd = syscall(SYS_openat, AT_FDCWD, a[0], O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0) {
		printf("linkat-empty %s %s: open %s\n", a[0], a[1], ename(errno));
		return;
	}
	int r = linkat(fd, "", AT_FDCWD, a[1], AT_EMPTY_PATH);
	printf("linkat-empty %s %s: %s\n", a[0], a[1], r < 0 ? ename(errno) : "OK");
	struct stat st, want;
	if (r == 0 && lstat(a[1], &st) == 0 && lstat(a[0], &want) == 0)
		printf("  same-inode %s\n", st.st_ino == want.st_ino ? "yes" : "no");
	close(fd);
}

/* "  LABEL: OK" or "  LABEL: ENAME". */
static void said(const char *label, long r)
{
	printf("  %s: %s\n", label, r < 0 ? ename(errno) : "OK");
}

/* "  LABEL: TYPE mode M size S owner U:G same-inode yes|no" for st. */
static void show(const char *label, const struct stat *st, const struct stat *want)
{
	printf("  %s: %s mode %o size %lld owner %u:%u same-inode %s\n", label,
	       type(st->st_mode), (unsigned)(st->st_mode & 07777), (long long)st->st_size,
	       (unsigned)st->st_uid, (unsigned)st->st_gid,
	       st->st_dev == want->st_dev && st->st_ino == want->st_ino ? "yes" : "no");
}

static void stat_fd(const char *label, long fd, const char *path, int flags,
		    const struct stat *want)
{
	struct stat st;
	if (fstatat(fd, path, &st, flags) < 0)
		printf("  %s: %s\n", label, ename(errno));
	else
		show(label, &st, want);
}

/* symfd LINK NEW ID: see the header. */
static void cmd_symfd(char **a)
{
	const char *path = a[0], *new = a[1];
	unsigned id = strtoul(a[2], NULL, 10);
	long fd = syscall(SYS_openat, AT_FDCWD, path, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0) {
		printf("symfd %s: %s\n", path, ename(errno));
		return;
	}
	printf("symfd %s: OK\n", path);
	struct stat want, st;
	if (lstat(path, &want) < 0)
		die("lstat");

	if (fstat(fd, &st) < 0)
		printf("  fstat: %s\n", ename(errno));
	else
		show("fstat", &st, &want);
	stat_fd("fstatat empty", fd, "", AT_EMPTY_PATH, &want);
	stat_fd("fstatat empty nofollow", fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, &want);
	stat_fd("fstatat no flag", fd, "", 0, &want);
	/* struct statx by its offsets (musl 1.2.3 has no struct statx):
	 * uid 20, gid 24, mode 28, ino 32, size 40. */
	unsigned char sx[256];
	long r = syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, 0x7ffu, sx);
	if (r < 0) {
		printf("  statx empty: %s\n", ename(errno));
	} else {
		unsigned uid, gid;
		unsigned short mode;
		unsigned long long ino, size;
		memcpy(&uid, sx + 20, 4);
		memcpy(&gid, sx + 24, 4);
		memcpy(&mode, sx + 28, 2);
		memcpy(&ino, sx + 32, 8);
		memcpy(&size, sx + 40, 8);
		printf("  statx empty: %s size %llu owner %u:%u same-inode %s\n", type(mode), size,
		       uid, gid, ino == want.st_ino ? "yes" : "no");
	}

	char buf[4096];
	ssize_t n = syscall(SYS_readlinkat, fd, "", buf, sizeof buf - 1);
	if (n < 0)
		printf("  readlinkat empty: %s\n", ename(errno));
	else
		printf("  readlinkat empty: %.*s\n", (int)n, buf);
	n = syscall(SYS_readlinkat, fd, "", buf, 1);
	if (n < 0)
		printf("  readlinkat empty 1 byte: %s\n", ename(errno));
	else
		printf("  readlinkat empty 1 byte: %zd %.*s\n", n, (int)n, buf);
	said("readlinkat empty 0 bytes", syscall(SYS_readlinkat, fd, "", buf, 0));
	said("readlinkat empty bad buffer", syscall(SYS_readlinkat, fd, "", (char *)8, 64));
	said("readlinkat relative", syscall(SYS_readlinkat, fd, "x", buf, sizeof buf));

	said("fchownat empty", fchownat(fd, "", id, id, AT_EMPTY_PATH));
	said("fchownat no flag", fchownat(fd, "", id, id, 0));
	said("fchown", fchown(fd, id, id));
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	said("utimensat empty", syscall(SYS_utimensat, fd, "", ts, AT_EMPTY_PATH));
	said("utimensat empty nofollow",
	     syscall(SYS_utimensat, fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
	said("utimensat null", syscall(SYS_utimensat, fd, NULL, ts, 0));
	said("fchmod", fchmod(fd, 0600));
	said("fchmodat empty", syscall(SYS_fchmodat, fd, "", 0600));
	said("fchmodat2 empty", syscall(452, fd, "", 0600, AT_EMPTY_PATH));
	said("fchmodat2 empty nofollow",
	     syscall(452, fd, "", 0600, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));
	if (lstat(path, &st) < 0)
		die("lstat");
	printf("  now: %s mode %o owner %u:%u mtime %lld\n", type(st.st_mode),
	       (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
	       (long long)st.st_mtime);

	said("linkat empty", syscall(SYS_linkat, fd, "", AT_FDCWD, new, AT_EMPTY_PATH));
	if (lstat(new, &st) == 0)
		show("new name", &st, &want);

	said("faccessat2 empty", syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH));
	char *argv[] = { "x", NULL }, *envp[] = { NULL };
	said("execveat empty", syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH));
	/* setxattrat, getxattrat (Linux 6.13): struct xattr_args
	 * { value, size, flags }. */
	unsigned long long xargs[2] = { (unsigned long)"1", 1 };
	said("setxattrat empty", syscall(463, fd, "", AT_EMPTY_PATH, "user.x", xargs, 16));
	xargs[0] = (unsigned long)buf;
	xargs[1] = sizeof buf;
	said("getxattrat empty", syscall(464, fd, "", AT_EMPTY_PATH, "user.x", xargs, 16));
	said("fgetxattr", fgetxattr(fd, "user.x", buf, sizeof buf));
	said("flistxattr", flistxattr(fd, buf, sizeof buf));
	said("fsetxattr", fsetxattr(fd, "user.x", "1", 1, 0));
	said("fremovexattr", fremovexattr(fd, "user.x"));

	struct statfs fs;
	if (fstatfs(fd, &fs) < 0)
		printf("  fstatfs: %s\n", ename(errno));
	else
		printf("  fstatfs: type %lx\n", (unsigned long)fs.f_type);
	int fl = fcntl(fd, F_GETFL);
	printf("  fcntl getfl: %s\n", fl < 0 ? ename(errno) : (fl & O_PATH) ? "O_PATH" : "not O_PATH");
	said("fchdir", fchdir(fd));
	said("openat relative", openat(fd, "x", O_RDONLY | O_CLOEXEC));
	said("read", read(fd, buf, 1));
	said("lseek", lseek(fd, 0, SEEK_SET));

	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%ld", fd);
	n = readlink(link, buf, sizeof buf - 1);
	if (n < 0)
		printf("  readlink /proc/self/fd/N: %s\n", ename(errno));
	else
		printf("  readlink /proc/self/fd/N: %.*s\n", (int)n, buf);
	stat_fd("stat /proc/self/fd/N", AT_FDCWD, link, 0, &want);
	stat_fd("lstat /proc/self/fd/N", AT_FDCWD, link, AT_SYMLINK_NOFOLLOW, &want);
	said("reopen /proc/self/fd/N", open(link, O_RDONLY | O_CLOEXEC));
	long again = syscall(SYS_openat, AT_FDCWD, link, O_PATH | O_CLOEXEC, 0);
	if (again < 0) {
		printf("  reopen /proc/self/fd/N O_PATH: %s\n", ename(errno));
	} else {
		printf("  reopen /proc/self/fd/N O_PATH: OK\n");
		stat_fd("  its fstatat empty", again, "", AT_EMPTY_PATH, &want);
		n = syscall(SYS_readlinkat, again, "", buf, sizeof buf - 1);
		if (n < 0)
			printf("    its readlinkat empty: %s\n", ename(errno));
		else
			printf("    its readlinkat empty: %.*s\n", (int)n, buf);
		close(again);
	}
	close(fd);
}

/* readlinkat-in DIR NAME: a path relative to a descriptor (not
 * AT_FDCWD), and the directory's own empty path. */
static void cmd_readlinkat_in(char **a)
{
	int dir = open(a[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		printf("readlinkat-in %s: %s\n", a[0], ename(errno));
		return;
	}
	char buf[4096];
	ssize_t n = readlinkat(dir, a[1], buf, sizeof buf);
	if (n < 0)
		printf("readlinkat-in %s %s: %s\n", a[0], a[1], ename(errno));
	else
		printf("readlinkat-in %s %s: %.*s\n", a[0], a[1], (int)n, buf);
	said("readlinkat empty", readlinkat(dir, "", buf, sizeof buf));
	said("readlinkat AT_FDCWD", syscall(SYS_readlinkat, (long)AT_FDCWD, a[1], buf, sizeof buf));
	close(dir);
}

static const struct probe_cmd cmds[] = {
	{ "open", 2, cmd_open },
	{ "chmod-nofollow", 2, cmd_chmod_nofollow },
	{ "linkat-empty", 2, cmd_linkat_empty },
	{ "symfd", 3, cmd_symfd },
	{ "readlinkat-in", 2, cmd_readlinkat_in },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	return run_cmds("opath", cmds, NCMDS(cmds), argc, argv, NULL);
}
