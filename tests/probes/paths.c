/*
 * The path-call probe (issue 15): chmod and its siblings, each printing
 * "LABEL: OK" or "LABEL: ENAME", and `show`, which prints what a file is
 * (type, mode, owner, size, times, link count, symlink text), so that a
 * supervised run can be compared byte for byte with a native one.
 *
 * Usage: paths CMD ARGS... [CMD ARGS...]...
 * Every command has a fixed number of arguments.  Built static with
 * musl-gcc and dynamic with gcc (glibc); raw syscalls where the two libcs
 * differ, so that both issue exactly the syscall named.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PROBE_NAME "paths"
#include "common.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static int dir_arg(const char *d)
{
	if (strcmp(d, ".") == 0)
		return AT_FDCWD;
	int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open dir");
	return fd;
}

static int at_flags(const char *f)
{
	int fl = 0;
	if (strstr(f, "nofollow"))
		fl |= AT_SYMLINK_NOFOLLOW;
	if (strstr(f, "empty"))
		fl |= AT_EMPTY_PATH;
	if (strstr(f, "follow") && !strstr(f, "nofollow"))
		fl |= AT_SYMLINK_FOLLOW;
	if (strstr(f, "bogus"))
		fl |= 0x40000000;
	return fl;
}

static long mode_arg(const char *m)
{
	return strtol(m, NULL, 8);
}

/* " -> TARGET" of the symlink at path (nothing if it cannot be read). */
static void print_link_target(const char *path)
{
	char t[4200];
	ssize_t n = readlink(path, t, sizeof t - 1);
	if (n >= 0) {
		t[n] = 0;
		printf(" -> %s", t);
	}
}

/* show PATH: what lstat says of PATH (mtime only if asked by the caller's
 * fixture: times are compared by the utime commands). */
static void cmd_show(char **a)
{
	struct stat st;
	const char *label = cmd_label("show", a, 1);
	if (lstat(a[0], &st) < 0) {
		printf("%s: %s\n", label, ename(errno));
		return;
	}
	char type = S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l'
		: S_ISFIFO(st.st_mode) ? 'p' : S_ISSOCK(st.st_mode) ? 's' : S_ISCHR(st.st_mode) ? 'c' : 'b';
	printf("%s: %c %04o uid=%u gid=%u size=%lld nlink=%lu mtime=%lld.%09ld", label, type,
	       (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
	       (long long)st.st_size, (unsigned long)st.st_nlink, (long long)st.st_mtim.tv_sec,
	       st.st_mtim.tv_nsec);
	/* Reading a symlink or listing a directory sets its atime. */
	if (S_ISREG(st.st_mode))
		printf(" atime=%lld.%09ld", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
	if (S_ISLNK(st.st_mode))
		print_link_target(a[0]);
	printf("\n");
}

/* kind PATH: what a new name is (no times: they are the run's). */
static void cmd_kind(char **a)
{
	struct stat st;
	if (lstat(a[0], &st) < 0) {
		printf("kind %s: %s\n", a[0], ename(errno));
		return;
	}
	char type = S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l'
		: S_ISFIFO(st.st_mode) ? 'p' : S_ISSOCK(st.st_mode) ? 's' : 'o';
	printf("kind %s: %c %04o uid=%u gid=%u size=%lld nlink=%lu", a[0], type,
	       (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
	       (long long)st.st_size, (unsigned long)st.st_nlink);
	if (S_ISLNK(st.st_mode))
		print_link_target(a[0]);
	printf("\n");
}

/* ---- chmod ---- */

static void cmd_chmod(char **a)
{
	const char *label = cmd_label("chmod", a, 2);
	result(label, syscall(SYS_chmod, a[0], mode_arg(a[1])));
}

/* fchmodat DIR PATH MODE: the three-argument syscall. */
static void cmd_fchmodat(char **a)
{
	const char *label = cmd_label("fchmodat", a, 3);
	int d = dir_arg(a[0]);
	result(label, syscall(SYS_fchmodat, d, a[1], mode_arg(a[2])));
	if (d >= 0)
		close(d);
}

/* fchmodat2 DIR PATH MODE FLAGS (nofollow, empty, 0, bogus). */
static void cmd_fchmodat2(char **a)
{
	const char *label = cmd_label("fchmodat2", a, 4);
	int d = dir_arg(a[0]);
	result(label, syscall(SYS_fchmodat2, d, a[1], mode_arg(a[2]), at_flags(a[3])));
	if (d >= 0)
		close(d);
}

/* fchmod-empty FILE MODE: fchmodat2(fd, "", AT_EMPTY_PATH) on a descriptor
 * of FILE (glibc's fchmodat(AT_SYMLINK_NOFOLLOW) does this on an O_PATH
 * one; brokered O_PATH opens are issue 15's other half). */
static void cmd_fchmod_empty(char **a)
{
	const char *label = cmd_label("fchmod-empty", a, 2);
	int fd = open(a[0], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		printf("%s: %s\n", label, ename(errno));
		return;
	}
	result(label, syscall(SYS_fchmodat2, fd, "", mode_arg(a[1]), AT_EMPTY_PATH));
	close(fd);
}

/* ---- chown ---- */

/* chown PATH UID GID, lchown PATH UID GID (-1: unchanged) */
static void cmd_chown(char **a)
{
	const char *label = cmd_label("chown", a, 3);
	result(label, syscall(SYS_chown, a[0], atoi(a[1]), atoi(a[2])));
}

static void cmd_lchown(char **a)
{
	const char *label = cmd_label("lchown", a, 3);
	result(label, syscall(SYS_lchown, a[0], atoi(a[1]), atoi(a[2])));
}

/* fchownat DIR PATH UID GID FLAGS */
static void cmd_fchownat(char **a)
{
	const char *label = cmd_label("fchownat", a, 5);
	int d = dir_arg(a[0]);
	result(label, syscall(SYS_fchownat, d, a[1], atoi(a[2]), atoi(a[3]), at_flags(a[4])));
	if (d >= 0)
		close(d);
}

/* ---- utime ---- */

/* A time argument: "now", "omit", or SECONDS. */
static struct timespec ts_arg(const char *t)
{
	struct timespec ts = {0, 0};
	if (!strcmp(t, "now"))
		ts.tv_nsec = UTIME_NOW;
	else if (!strcmp(t, "omit"))
		ts.tv_nsec = UTIME_OMIT;
	else if (!strcmp(t, "bad"))
		ts.tv_nsec = 2000000000L;
	else {
		ts.tv_sec = strtol(t, NULL, 10);
		ts.tv_nsec = 123456789;
	}
	return ts;
}

/* utimensat DIR PATH ATIME MTIME FLAGS ("null" times: both now) */
static void cmd_utimensat(char **a)
{
	const char *label = cmd_label("utimensat", a, 5);
	struct timespec ts[2] = {ts_arg(a[2]), ts_arg(a[3])};
	int d = dir_arg(a[0]);
	int null = !strcmp(a[2], "null");
	result(label, syscall(SYS_utimensat, d, a[1], null ? NULL : ts, at_flags(a[4])));
	if (d >= 0)
		close(d);
}

/* utimes PATH SECONDS|null, futimesat DIR PATH SECONDS|null, utime PATH SECONDS|null */
static void cmd_utimes(char **a)
{
	const char *label = cmd_label("utimes", a, 2);
	struct timeval tv[2] = {{strtol(a[1], NULL, 10), 250000}, {strtol(a[1], NULL, 10), 500000}};
	if (!strcmp(a[1], "bad"))
		tv[0].tv_usec = 1000000;
	result(label, syscall(SYS_utimes, a[0], !strcmp(a[1], "null") ? NULL : tv));
}

static void cmd_futimesat(char **a)
{
	const char *label = cmd_label("futimesat", a, 3);
	struct timeval tv[2] = {{strtol(a[2], NULL, 10), 1}, {strtol(a[2], NULL, 10), 2}};
	int d = dir_arg(a[0]);
	result(label, syscall(SYS_futimesat, d, a[1], !strcmp(a[2], "null") ? NULL : tv));
	if (d >= 0)
		close(d);
}

static void cmd_utime(char **a)
{
	const char *label = cmd_label("utime", a, 2);
	long long ub[2] = {strtoll(a[1], NULL, 10), strtoll(a[1], NULL, 10) + 1};
	result(label, syscall(SYS_utime, a[0], !strcmp(a[1], "null") ? NULL : ub));
}

/* ---- truncate ---- */

static void cmd_truncate(char **a)
{
	const char *label = cmd_label("truncate", a, 2);
	result(label, syscall(SYS_truncate, a[0], strtol(a[1], NULL, 10)));
}

/* ---- xattr ---- */

/* setxattr PATH NAME VALUE FLAGS (create, replace, 0), lsetxattr likewise */
static void cmd_setxattr(char **a)
{
	const char *label = cmd_label("setxattr", a, 4);
	int fl = !strcmp(a[3], "create") ? 1 : !strcmp(a[3], "replace") ? 2 : 0;
	result(label, syscall(SYS_setxattr, a[0], a[1], a[2], strlen(a[2]), fl));
}

static void cmd_lsetxattr(char **a)
{
	const char *label = cmd_label("lsetxattr", a, 4);
	int fl = !strcmp(a[3], "create") ? 1 : !strcmp(a[3], "replace") ? 2 : 0;
	result(label, syscall(SYS_lsetxattr, a[0], a[1], a[2], strlen(a[2]), fl));
}

static void cmd_removexattr(char **a)
{
	const char *label = cmd_label("removexattr", a, 2);
	result(label, syscall(SYS_removexattr, a[0], a[1]));
}

static void cmd_lremovexattr(char **a)
{
	const char *label = cmd_label("lremovexattr", a, 2);
	result(label, syscall(SYS_lremovexattr, a[0], a[1]));
}

/* getxattr PATH NAME: prints the value (untrapped: to check the others). */
static void cmd_getxattr(char **a)
{
	char v[256];
	ssize_t n = syscall(SYS_lgetxattr, a[0], a[1], v, sizeof v - 1);
	if (n < 0) {
		printf("getxattr %s %s: %s\n", a[0], a[1], ename(errno));
		return;
	}
	v[n] = 0;
	printf("getxattr %s %s: \"%s\"\n", a[0], a[1], v);
}

/* ---- symlink, link, mknod ---- */

static void cmd_symlink(char **a)
{
	const char *label = cmd_label("symlink", a, 2);
	result(label, syscall(SYS_symlink, a[0], a[1]));
}

/* symlinkat TARGET DIR PATH */
static void cmd_symlinkat(char **a)
{
	const char *label = cmd_label("symlinkat", a, 3);
	int d = dir_arg(a[1]);
	result(label, syscall(SYS_symlinkat, a[0], d, a[2]));
	if (d >= 0)
		close(d);
}

static void cmd_link(char **a)
{
	const char *label = cmd_label("link", a, 2);
	result(label, syscall(SYS_link, a[0], a[1]));
}

/* linkat ODIR OLD NDIR NEW FLAGS (follow, empty, 0, bogus); with "empty"
 * OLD is opened (O_RDONLY) and passed as the descriptor with "". */
static void cmd_linkat(char **a)
{
	const char *label = cmd_label("linkat", a, 5);
	int fl = at_flags(a[4]);
	int od, nd = dir_arg(a[2]);
	const char *old = a[1];
	if (fl & AT_EMPTY_PATH) {
		od = open(a[1], O_RDONLY | O_CLOEXEC);
		if (od < 0) {
			printf("%s: %s\n", label, ename(errno));
			return;
		}
		old = "";
	} else {
		od = dir_arg(a[0]);
	}
	result(label, syscall(SYS_linkat, od, old, nd, a[3], fl));
	if (od >= 0)
		close(od);
	if (nd >= 0)
		close(nd);
}

/* A mknod type: fifo, sock, reg, zero (type 0), chr, dir. */
static long node_mode(const char *t)
{
	if (!strcmp(t, "fifo"))
		return S_IFIFO | 0640;
	if (!strcmp(t, "sock"))
		return S_IFSOCK | 0640;
	if (!strcmp(t, "reg"))
		return S_IFREG | 0640;
	if (!strcmp(t, "zero"))
		return 0604;
	if (!strcmp(t, "chr"))
		return S_IFCHR | 0640;
	if (!strcmp(t, "upper"))
		return 0x100000000L | S_IFIFO | 0600;
	return S_IFDIR | 0640;
}

static void cmd_mknod(char **a)
{
	const char *label = cmd_label("mknod", a, 2);
	long dev = !strcmp(a[1], "chr") ? (long)((1 << 8) | 3) : 0;
	result(label, syscall(SYS_mknod, a[0], node_mode(a[1]), dev));
}

/* mknodat DIR PATH TYPE */
static void cmd_mknodat(char **a)
{
	const char *label = cmd_label("mknodat", a, 3);
	int d = dir_arg(a[0]);
	result(label, syscall(SYS_mknodat, d, a[1], node_mode(a[2]), 0));
	if (d >= 0)
		close(d);
}

/* ---- the other calls naming their last component (trailing slashes,
 * "." and "..", dangling symlinks) ---- */

/* mkdir PATH */
static void cmd_mkdir(char **a)
{
	const char *label = cmd_label("mkdir", a, 1);
	result(label, syscall(SYS_mkdir, a[0], 0755));
}

/* mkdirat DIR PATH */
static void cmd_mkdirat(char **a)
{
	const char *label = cmd_label("mkdirat", a, 2);
	int d = dir_arg(a[0]);
	result(label, syscall(SYS_mkdirat, d, a[1], 0755));
	if (d >= 0)
		close(d);
}

/* unlink PATH */
static void cmd_unlink(char **a)
{
	const char *label = cmd_label("unlink", a, 1);
	result(label, syscall(SYS_unlink, a[0]));
}

/* rmdir PATH */
static void cmd_rmdir(char **a)
{
	const char *label = cmd_label("rmdir", a, 1);
	result(label, syscall(SYS_rmdir, a[0]));
}

/* rename FROM TO HOW   HOW: 0 | noreplace | exchange (renameat2) */
static void cmd_rename(char **a)
{
	const char *label = cmd_label("rename", a, 3);
	unsigned fl = !strcmp(a[2], "noreplace") ? 1 : !strcmp(a[2], "exchange") ? 2 : 0;
	result(label, syscall(SYS_renameat2, AT_FDCWD, a[0], AT_FDCWD, a[1], fl));
}

/* creat PATH HOW   HOW: creat (O_CREAT) | excl (O_CREAT|O_EXCL) | dir (O_DIRECTORY) */
static void cmd_creat(char **a)
{
	const char *label = cmd_label("creat", a, 2);
	int fl = O_CLOEXEC;
	if (!strcmp(a[1], "dir"))
		fl |= O_RDONLY | O_DIRECTORY;
	else
		fl |= O_WRONLY | O_CREAT | (!strcmp(a[1], "excl") ? O_EXCL : 0);
	long fd = syscall(SYS_openat, AT_FDCWD, a[0], fl, 0644);
	result(label, fd);
	if (fd >= 0)
		close(fd);
}

/* bind PATH: a unix stream socket bound to PATH */
static void cmd_bind(char **a)
{
	const char *label = cmd_label("bind", a, 1);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	strncpy(sun.sun_path, a[0], sizeof sun.sun_path - 1);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket");
	result(label, bind(s, (struct sockaddr *)&sun, sizeof sun));
	close(s);
}

/* ---- on a descriptor ---- */

/* open-fd FILE: opens FILE read-only; the fd commands below use it, and
 * an argument "@" stands for its /proc/self/fd link. */
static int last_fd = -1;
static char fd_link[64] = "@";

static void cmd_open_fd(char **a)
{
	if (last_fd >= 0)
		close(last_fd);
	last_fd = open(a[0], O_RDONLY | O_CLOEXEC);
	printf("open-fd %s: %s\n", a[0], last_fd < 0 ? ename(errno) : "OK");
	snprintf(fd_link, sizeof fd_link, "/proc/self/fd/%d", last_fd);
}

/* open-path FILE: the same with O_PATH (fchmod, … on it: EBADF). */
static void cmd_open_path(char **a)
{
	if (last_fd >= 0)
		close(last_fd);
	last_fd = open(a[0], O_PATH | O_CLOEXEC);
	printf("open-path %s: %s\n", a[0], last_fd < 0 ? ename(errno) : "OK");
	snprintf(fd_link, sizeof fd_link, "/proc/self/fd/%d", last_fd);
}

static void cmd_fchmod(char **a)
{
	const char *label = cmd_label("fchmod", a, 1);
	result(label, syscall(SYS_fchmod, last_fd, mode_arg(a[0])));
}

static void cmd_fchown(char **a)
{
	const char *label = cmd_label("fchown", a, 2);
	result(label, syscall(SYS_fchown, last_fd, atoi(a[0]), atoi(a[1])));
}

/* futimens SECONDS|null: utimensat(fd, NULL, …) */
static void cmd_futimens(char **a)
{
	const char *label = cmd_label("futimens", a, 1);
	struct timespec ts[2] = {{strtol(a[0], NULL, 10), 5}, {strtol(a[0], NULL, 10), 6}};
	result(label, syscall(SYS_utimensat, last_fd, NULL, !strcmp(a[0], "null") ? NULL : ts, 0));
}

static void cmd_fsetxattr(char **a)
{
	const char *label = cmd_label("fsetxattr", a, 2);
	result(label, syscall(SYS_fsetxattr, last_fd, a[0], a[1], strlen(a[1]), 0));
}

static void cmd_fremovexattr(char **a)
{
	const char *label = cmd_label("fremovexattr", a, 1);
	result(label, syscall(SYS_fremovexattr, last_fd, a[0]));
}

/* setxattrat DIR PATH NAME VALUE FLAGS (Linux 6.13; "null" PATH) */
static void cmd_setxattrat(char **a)
{
	const char *label = cmd_label("setxattrat", a, 5);
	struct {
		uint64_t value;
		uint32_t size, flags;
	} args = {(uint64_t)(uintptr_t)a[3], (uint32_t)strlen(a[3]), 0};
	int d = !strcmp(a[0], "fd") ? last_fd : dir_arg(a[0]);
	const char *p = !strcmp(a[1], "null") ? NULL : a[1];
	result(label, syscall(463, d, p, at_flags(a[4]), a[2], &args, sizeof args));
	if (d >= 0 && d != last_fd)
		close(d);
}

/* ---- races ---- */

/* Does OP make a new name (PATH is then the new name)? */
static int creates(const char *op)
{
	return !strcmp(op, "symlink") || !strcmp(op, "link") || !strcmp(op, "mknod");
}

/* The call raced: OP on PATH (its argument taken from the buffer). */
static long race_call(const char *op, const char *path, long i)
{
	if (!strcmp(op, "chmod"))
		return syscall(SYS_chmod, path, (i & 1) ? 0600 : 0640);
	if (!strcmp(op, "chown"))
		return syscall(SYS_chown, path, 4242, 4242);
	if (!strcmp(op, "utimensat")) {
		struct timespec ts[2] = {{1234, 0}, {1234, 0}};
		return syscall(SYS_utimensat, AT_FDCWD, path, ts, 0);
	}
	if (!strcmp(op, "truncate"))
		return syscall(SYS_truncate, path, 1);
	/* The calls making a new name: PATH is the new name. */
	if (!strcmp(op, "symlink"))
		return syscall(SYS_symlink, "anything", path);
	if (!strcmp(op, "link"))
		return syscall(SYS_link, "f", path);
	if (!strcmp(op, "mknod"))
		return syscall(SYS_mknod, path, S_IFIFO | 0600, 0);
	if (!strcmp(op, "setxattr"))
		return syscall(SYS_setxattr, path, "user.race", "x", 1, 0);
	errno = ENOSYS;
	return -1;
}

/*
 * race OP MODE ALLOWED SECRET ITERS MILLIS
 *
 * MODE "buffer": a second thread keeps rewriting the path buffer with
 * ALLOWED and SECRET while this thread calls OP on the buffer.
 * MODE "symlink": ALLOWED and SECRET are directories; a second thread keeps
 * replacing ./link (by renaming a fresh symlink over it) to point at one and
 * the other, while this thread calls OP on link/target (link/new for the
 * calls making a name: symlink, link, mknod; the allowed one is removed
 * after each success).
 * Prints the counts; the test checks SECRET (or SECRET/target) untouched.
 */
static void cmd_race(char **a)
{
	const char *op = a[0], *mode = a[1];
	long iters = strtol(a[4], NULL, 10), millis = strtol(a[5], NULL, 10);
	char target[4200];
	const char *path;
	static struct flipper f;

	if (!strcmp(mode, "buffer")) {
		start_buffer_flips(&f, a[2], a[3]);
		path = f.buf;
	} else {
		snprintf(target, sizeof target, "link/%s", creates(op) ? "new" : "target");
		path = target;
		start_symlink_flips(&f, "link", "link.new", a[2], a[3]);
	}
	char cleanup[4200];
	if (!strcmp(mode, "buffer"))
		snprintf(cleanup, sizeof cleanup, "%s", a[2]);
	else
		snprintf(cleanup, sizeof cleanup, "%s/new", a[2]);
	long ok = 0, denied = 0, other = 0, i;
	long deadline = now_ms() + millis;
	for (i = 0; i < iters && now_ms() < deadline; i++) {
		if (race_call(op, path, i) == 0) {
			ok++;
			/* The allowed new name, removed for the next round. */
			if (creates(op))
				unlink(cleanup);
		}
		else if (errno == EACCES)
			denied++;
		else
			other++;
	}
	stop_flips(&f);
	printf("race %s %s: iterations=%ld ok=%ld denied=%ld other=%ld\n", op, mode, i, ok, denied,
	       other);
}

static const struct probe_cmd COMMANDS[] = {
	{"show", 1, cmd_show},
	{"kind", 1, cmd_kind},
	{"chmod", 2, cmd_chmod},
	{"fchmodat", 3, cmd_fchmodat},
	{"fchmodat2", 4, cmd_fchmodat2},
	{"fchmod-empty", 2, cmd_fchmod_empty},
	{"chown", 3, cmd_chown},
	{"lchown", 3, cmd_lchown},
	{"fchownat", 5, cmd_fchownat},
	{"utimensat", 5, cmd_utimensat},
	{"utimes", 2, cmd_utimes},
	{"futimesat", 3, cmd_futimesat},
	{"utime", 2, cmd_utime},
	{"truncate", 2, cmd_truncate},
	{"setxattr", 4, cmd_setxattr},
	{"lsetxattr", 4, cmd_lsetxattr},
	{"removexattr", 2, cmd_removexattr},
	{"lremovexattr", 2, cmd_lremovexattr},
	{"getxattr", 2, cmd_getxattr},
	{"symlink", 2, cmd_symlink},
	{"symlinkat", 3, cmd_symlinkat},
	{"link", 2, cmd_link},
	{"linkat", 5, cmd_linkat},
	{"mknod", 2, cmd_mknod},
	{"mknodat", 3, cmd_mknodat},
	{"mkdir", 1, cmd_mkdir},
	{"mkdirat", 2, cmd_mkdirat},
	{"unlink", 1, cmd_unlink},
	{"rmdir", 1, cmd_rmdir},
	{"rename", 3, cmd_rename},
	{"creat", 2, cmd_creat},
	{"bind", 1, cmd_bind},
	{"open-fd", 1, cmd_open_fd},
	{"open-path", 1, cmd_open_path},
	{"fchmod", 1, cmd_fchmod},
	{"fchown", 2, cmd_fchown},
	{"futimens", 1, cmd_futimens},
	{"fsetxattr", 2, cmd_fsetxattr},
	{"fremovexattr", 1, cmd_fremovexattr},
	{"setxattrat", 5, cmd_setxattrat},
	{"race", 6, cmd_race},
};

/* "@": the /proc/self/fd link of the last open-fd. */
static void at_fd_link(char **a, int nargs)
{
	for (int k = 0; k < nargs; k++)
		if (!strcmp(a[k], "@"))
			a[k] = fd_link;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	return run_cmds("paths", COMMANDS, NCMDS(COMMANDS), argc, argv, at_fd_link);
}
