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
#include <sys/syscall.h>
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

static const struct {
	const char *name;
	int nargs;
	void (*fn)(char **);
} cmds[] = {
	{ "open", 2, cmd_open },
	{ "chmod-nofollow", 2, cmd_chmod_nofollow },
	{ "linkat-empty", 2, cmd_linkat_empty },
};

int main(int argc, char **argv)
{
	int i = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (i < argc) {
		size_t k;
		for (k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
			if (strcmp(argv[i], cmds[k].name) == 0)
				break;
		if (k == sizeof cmds / sizeof cmds[0] || cmds[k].nargs > argc - i - 1) {
			fprintf(stderr, "opath: bad command %s\n", argv[i]);
			return 2;
		}
		cmds[k].fn(argv + i + 1);
		i += 1 + cmds[k].nargs;
	}
	return 0;
}
