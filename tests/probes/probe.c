/*
 * The integration tests' probe: one program, many subcommands, each printing
 * its results (values and errno names) so that a supervised run can be
 * compared byte for byte with a native one.
 *
 * Usage: probe CMD ARGS... [CMD ARGS...]...
 * Every subcommand has a fixed number of arguments, so several can follow
 * each other in one run.  Built twice by the tests: static with musl-gcc and
 * dynamic with gcc (glibc).  Raw syscalls are used where the two libcs
 * differ (statx, openat2, faccessat2, renameat2, creat) so that both builds
 * issue exactly the syscall named.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_NAME "probe"
#include "common.h"

#ifndef SYS_statx
#define SYS_statx 332
#endif
#ifndef AT_EACCESS
#define AT_EACCESS 0x200
#endif

/* The kernel's struct statx (include/uapi/linux/stat.h). */
struct kstatx_ts {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t reserved;
};
struct kstatx {
	uint32_t stx_mask;
	uint32_t stx_blksize;
	uint64_t stx_attributes;
	uint32_t stx_nlink;
	uint32_t stx_uid;
	uint32_t stx_gid;
	uint16_t stx_mode;
	uint16_t spare0;
	uint64_t stx_ino;
	uint64_t stx_size;
	uint64_t stx_blocks;
	uint64_t stx_attributes_mask;
	struct kstatx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
	uint32_t stx_rdev_major, stx_rdev_minor;
	uint32_t stx_dev_major, stx_dev_minor;
	uint64_t spare2[14];
};
#define KSTATX_BASIC_STATS 0x7ffU

/* The kernel's struct open_how (include/uapi/linux/openat2.h). */
struct kopen_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};
#define K_RESOLVE_NO_XDEV 0x01
#define K_RESOLVE_NO_MAGICLINKS 0x02
#define K_RESOLVE_NO_SYMLINKS 0x04
#define K_RESOLVE_BENEATH 0x08
#define K_RESOLVE_IN_ROOT 0x10

/* Prints "LABEL: OK" or "LABEL: ENAME" for a -1/errno style result. */
/* Reads all of fd into a malloc'd NUL-terminated buffer. */
static char *slurp(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap + 1);
	for (;;) {
		ssize_t k = read(fd, b + n, cap - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			free(b);
			return NULL;
		}
		if (k == 0)
			break;
		n += k;
		if (n == cap)
			b = realloc(b, (cap *= 2) + 1);
	}
	b[n] = 0;
	if (len)
		*len = n;
	return b;
}

static void print_content(const char *label, int fd)
{
	size_t n;
	char *b = slurp(fd, &n);
	if (!b) {
		printf("%s: read %s\n", label, ename(errno));
		return;
	}
	printf("%s: [", label);
	fwrite(b, 1, n, stdout);
	printf("]\n");
	free(b);
}

static void print_stat(const char *label, const struct stat *st)
{
	printf("%s: size=%lld nlink=%lu mode=%o uid=%u gid=%u mtime=%lld.%09ld"
	       " ino=%llu dev=%llx blocks=%lld\n",
	       label, (long long)st->st_size, (unsigned long)st->st_nlink,
	       (unsigned)st->st_mode, (unsigned)st->st_uid, (unsigned)st->st_gid,
	       (long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec,
	       (unsigned long long)st->st_ino, (unsigned long long)st->st_dev,
	       (long long)st->st_blocks);
}

static void print_statx(const char *label, const struct kstatx *x)
{
	printf("%s: mask=%x size=%llu nlink=%u mode=%o uid=%u gid=%u mtime=%lld.%09u"
	       " ino=%llu dev=%u:%u blocks=%llu\n",
	       label, x->stx_mask & KSTATX_BASIC_STATS,
	       (unsigned long long)x->stx_size, x->stx_nlink,
	       (unsigned)x->stx_mode, x->stx_uid, x->stx_gid,
	       (long long)x->stx_mtime.tv_sec, x->stx_mtime.tv_nsec,
	       (unsigned long long)x->stx_ino, x->stx_dev_major, x->stx_dev_minor,
	       (unsigned long long)x->stx_blocks);
}

/* ---- subcommands ---------------------------------------------------- */

static void cmd_cat(char **a)
{
	char label[4200];
	snprintf(label, sizeof label, "cat %s", a[0]);
	int fd = open(a[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("%s: %s\n", label, ename(errno));
		return;
	}
	print_content(label, fd);
	close(fd);
}

static void cmd_stat(char **a)
{
	const char *p = a[0];
	char label[4200];
	struct stat st;
	struct kstatx x;

	snprintf(label, sizeof label, "stat %s", p);
	if (stat(p, &st) < 0)
		printf("%s: %s\n", label, ename(errno));
	else
		print_stat(label, &st);

	snprintf(label, sizeof label, "lstat %s", p);
	if (lstat(p, &st) < 0)
		printf("%s: %s\n", label, ename(errno));
	else
		print_stat(label, &st);

	snprintf(label, sizeof label, "statx %s", p);
	memset(&x, 0, sizeof x);
	if (syscall(SYS_statx, AT_FDCWD, p, 0, KSTATX_BASIC_STATS, &x) < 0)
		printf("%s: %s\n", label, ename(errno));
	else
		print_statx(label, &x);

	snprintf(label, sizeof label, "statx-nofollow %s", p);
	memset(&x, 0, sizeof x);
	if (syscall(SYS_statx, AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, KSTATX_BASIC_STATS, &x) < 0)
		printf("%s: %s\n", label, ename(errno));
	else
		print_statx(label, &x);

	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	snprintf(label, sizeof label, "fstat %s", p);
	if (fd < 0) {
		printf("%s: %s\n", label, ename(errno));
		return;
	}
	if (fstat(fd, &st) < 0)
		printf("%s: %s\n", label, ename(errno));
	else
		print_stat(label, &st);
	snprintf(label, sizeof label, "fstatat-empty %s", p);
	if (fstatat(fd, "", &st, AT_EMPTY_PATH) < 0)
		printf("%s: %s\n", label, ename(errno));
	else
		print_stat(label, &st);
	snprintf(label, sizeof label, "statx-empty %s", p);
	memset(&x, 0, sizeof x);
	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, KSTATX_BASIC_STATS, &x) < 0)
		printf("%s: %s\n", label, ename(errno));
	else
		print_statx(label, &x);
	close(fd);
}

static int parse_amode(const char *m)
{
	int mode = 0;
	if (strcmp(m, "f") == 0)
		return F_OK;
	for (; *m; m++)
		mode |= *m == 'r' ? R_OK : *m == 'w' ? W_OK : *m == 'x' ? X_OK : 0;
	return mode;
}

static void cmd_access(char **a)
{
	char label[4200];
	int mode = parse_amode(a[1]);
	snprintf(label, sizeof label, "access %s %s", a[0], a[1]);
	result(label, access(a[0], mode));
	snprintf(label, sizeof label, "faccessat-eaccess %s %s", a[0], a[1]);
	result(label, syscall(SYS_faccessat2, AT_FDCWD, a[0], mode, AT_EACCESS));
	snprintf(label, sizeof label, "faccessat2-nofollow %s %s", a[0], a[1]);
	result(label, syscall(SYS_faccessat2, AT_FDCWD, a[0], mode, AT_SYMLINK_NOFOLLOW));
}

static void cmd_mkdir(char **a)
{
	char label[4200];
	snprintf(label, sizeof label, "mkdir %s %s", a[0], a[1]);
	result(label, mkdir(a[0], strtoul(a[1], NULL, 8)));
}

static void cmd_rename(char **a)
{
	char label[8400];
	snprintf(label, sizeof label, "rename %s %s", a[0], a[1]);
	result(label, rename(a[0], a[1]));
}

static void cmd_renameat2(char **a)
{
	char label[8400];
	unsigned flags = 0;
	if (strcmp(a[2], "noreplace") == 0)
		flags = 1; /* RENAME_NOREPLACE */
	else if (strcmp(a[2], "exchange") == 0)
		flags = 2; /* RENAME_EXCHANGE */
	snprintf(label, sizeof label, "renameat2 %s %s %s", a[0], a[1], a[2]);
	result(label, syscall(SYS_renameat2, AT_FDCWD, a[0], AT_FDCWD, a[1], flags));
}

static void cmd_unlink(char **a)
{
	char label[4200];
	snprintf(label, sizeof label, "unlink %s", a[0]);
	result(label, unlink(a[0]));
}

static void cmd_rmdir(char **a)
{
	char label[4200];
	snprintf(label, sizeof label, "rmdir %s", a[0]);
	result(label, rmdir(a[0]));
}

/* unlinkat DIR NAME file|dir: relative to a directory descriptor. */
static void cmd_unlinkat(char **a)
{
	char label[8400];
	snprintf(label, sizeof label, "unlinkat %s %s %s", a[0], a[1], a[2]);
	int d = open(a[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0) {
		printf("%s: open dir %s\n", label, ename(errno));
		return;
	}
	result(label, unlinkat(d, a[1], strcmp(a[2], "dir") == 0 ? AT_REMOVEDIR : 0));
	close(d);
}

/* mkdirat DIR NAME: relative to a directory descriptor. */
static void cmd_mkdirat(char **a)
{
	char label[8400];
	snprintf(label, sizeof label, "mkdirat %s %s", a[0], a[1]);
	int d = open(a[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0) {
		printf("%s: open dir %s\n", label, ename(errno));
		return;
	}
	result(label, mkdirat(d, a[1], 0750));
	close(d);
}

/* write PATH CONTENT: O_CREAT|O_TRUNC, mode 0640 (before umask). */
static void cmd_write(char **a)
{
	char label[8400];
	snprintf(label, sizeof label, "write %s", a[0]);
	int fd = open(a[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		printf("%s: %s\n", label, ename(errno));
		return;
	}
	size_t n = strlen(a[1]);
	result(label, write(fd, a[1], n) == (ssize_t)n ? 0 : -1);
	close(fd);
}

static void cmd_creat(char **a)
{
	char label[4200];
	snprintf(label, sizeof label, "creat %s", a[0]);
	long fd = syscall(SYS_creat, a[0], 0604);
	result(label, fd);
	if (fd >= 0)
		close(fd);
}

static void cmd_openat(char **a)
{
	char label[8400];
	snprintf(label, sizeof label, "openat %s %s", a[0], a[1]);
	int d = open(a[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0) {
		printf("%s: open dir %s\n", label, ename(errno));
		return;
	}
	int fd = openat(d, a[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		printf("%s: %s\n", label, ename(errno));
	else {
		print_content(label, fd);
		close(fd);
	}
	close(d);
}

/* openat2 DIR NAME RESOLVE: RESOLVE is "0" or a comma list of
 * beneath,in_root,no_symlinks,no_magiclinks,no_xdev. */
static void cmd_openat2(char **a)
{
	char label[8400];
	struct kopen_how how = { .flags = O_RDONLY | O_CLOEXEC };
	char spec[256], *save = NULL, *tok;
	snprintf(spec, sizeof spec, "%s", a[2]);
	for (tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "beneath"))
			how.resolve |= K_RESOLVE_BENEATH;
		else if (!strcmp(tok, "in_root"))
			how.resolve |= K_RESOLVE_IN_ROOT;
		else if (!strcmp(tok, "no_symlinks"))
			how.resolve |= K_RESOLVE_NO_SYMLINKS;
		else if (!strcmp(tok, "no_magiclinks"))
			how.resolve |= K_RESOLVE_NO_MAGICLINKS;
		else if (!strcmp(tok, "no_xdev"))
			how.resolve |= K_RESOLVE_NO_XDEV;
	}
	snprintf(label, sizeof label, "openat2 %s %s %s", a[0], a[1], a[2]);
	int d = open(a[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0) {
		printf("%s: open dir %s\n", label, ename(errno));
		return;
	}
	long fd = syscall(SYS_openat2, d, a[1], &how, sizeof how);
	if (fd < 0)
		printf("%s: %s\n", label, ename(errno));
	else {
		print_content(label, (int)fd);
		close((int)fd);
	}
	close(d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ls DIR: like ls -la, sorted by name, stats relative to the directory fd. */
static void cmd_ls(char **a)
{
	DIR *d = opendir(a[0]);
	if (!d) {
		printf("ls %s: %s\n", a[0], ename(errno));
		return;
	}
	char *names[1024];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 1024)
		names[n++] = strdup(e->d_name);
	qsort(names, n, sizeof *names, cmp_str);
	printf("ls %s: %d entries\n", a[0], n);
	for (int i = 0; i < n; i++) {
		struct stat st;
		char label[600];
		snprintf(label, sizeof label, "  %s", names[i]);
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			printf("%s: %s\n", label, ename(errno));
		} else {
			print_stat(label, &st);
			if (S_ISLNK(st.st_mode)) {
				char buf[4096];
				ssize_t k = readlinkat(dirfd(d), names[i], buf, sizeof buf - 1);
				buf[k < 0 ? 0 : k] = 0;
				printf("  %s -> %s\n", names[i], buf);
			}
		}
		free(names[i]);
	}
	closedir(d);
}

static void cmd_getppid(char **a)
{
	(void)a;
	printf("getppid: %ld\n", (long)getppid());
}

/* The i386 ABI from a 64-bit process: getpid is 20 there. */
static void cmd_int80(char **a)
{
	(void)a;
	long r;
	fflush(stdout);
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	printf("int80: survived, returned %ld\n", r);
}

/* The x32 ABI: getpid (39) with the x32 bit. */
static void cmd_x32(char **a)
{
	(void)a;
	fflush(stdout);
	long r = syscall(39 | 0x40000000);
	printf("x32: survived, returned %ld (%s)\n", r, r < 0 ? ename(errno) : "OK");
}

/* ---- threads --------------------------------------------------------- */

#define NTHREADS 8
#define THREAD_ROUNDS 50

static const char *threads_dir;

static void *thread_opener(void *arg)
{
	long id = (long)arg;
	long bad = 0;
	char path[4200], want[64];
	for (int round = 0; round < THREAD_ROUNDS; round++) {
		for (int j = 0; j < NTHREADS; j++) {
			int k = (j + id) % NTHREADS;
			snprintf(path, sizeof path, "%s/f%d", threads_dir, k);
			snprintf(want, sizeof want, "content %d\n", k);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				bad++;
				continue;
			}
			size_t n;
			char *b = slurp(fd, &n);
			if (!b || strcmp(b, want) != 0)
				bad++;
			free(b);
			struct stat st;
			if (stat(path, &st) < 0 || st.st_size != (off_t)strlen(want))
				bad++;
			close(fd);
		}
	}
	return (void *)bad;
}

/* threads DIR: 8 threads open, read and stat DIR/f0..f7 concurrently;
 * DIR/fK must hold "content K\n". */
static void cmd_threads(char **a)
{
	pthread_t t[NTHREADS];
	long bad = 0;
	threads_dir = a[0];
	for (long i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, thread_opener, (void *)i) != 0)
			die("pthread_create");
	for (int i = 0; i < NTHREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	printf("threads: %d opens, %ld bad\n", NTHREADS * NTHREADS * THREAD_ROUNDS, bad);
}

/* vfork-exec PROG FILE: vfork, exec PROG cat FILE in the child (a
 * multi-call binary such as busybox), wait for it. */
static void cmd_vfork_exec(char **a)
{
	fflush(stdout);
	pid_t pid = vfork();
	if (pid < 0)
		die("vfork");
	if (pid == 0) {
		char *argv[] = { a[0], "cat", a[1], NULL };
		execv(a[0], argv);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");
	printf("vfork-exec: child status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* ---- races ----------------------------------------------------------- */

/* One open of a race: its descriptor and status (*st), or -1, the failure
 * counted (EACCES in *denied, any other in *other). */
static int race_open(const char *path, struct stat *st, long *denied, long *other)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EACCES)
			++*denied;
		else
			++*other;
		return -1;
	}
	if (fstat(fd, st) < 0)
		die("fstat");
	return fd;
}

/*
 * race-open ALLOWED SECRET SECRET_DEV SECRET_INO ITERS MILLIS
 *
 * A second thread keeps rewriting one path buffer with ALLOWED and SECRET
 * while this thread opens the buffer.  Every descriptor obtained is checked:
 * fstat dev/ino equal to SECRET's (given as decimal numbers, taken outside
 * the sandbox) is a leak; content other than ALLOWED's is a mismatch.
 */
static void cmd_race_open(char **a)
{
	unsigned long long sdev = strtoull(a[2], NULL, 10), sino = strtoull(a[3], NULL, 10);
	long iters = strtol(a[4], NULL, 10), millis = strtol(a[5], NULL, 10);
	struct stat ast;
	int afd = open(a[0], O_RDONLY | O_CLOEXEC);
	if (afd < 0)
		die("open allowed");
	if (fstat(afd, &ast) < 0)
		die("fstat allowed");
	char *want = slurp(afd, NULL);
	close(afd);

	static struct flipper f;
	start_buffer_flips(&f, a[0], a[1]);

	long opens = 0, denied = 0, other = 0, leaks = 0, mismatched = 0, i;
	long deadline = now_ms() + millis;
	for (i = 0; i < iters && now_ms() < deadline; i++) {
		struct stat st;
		int fd = race_open(f.buf, &st, &denied, &other);
		if (fd < 0)
			continue;
		if ((unsigned long long)st.st_dev == sdev && (unsigned long long)st.st_ino == sino)
			leaks++;
		char *b = slurp(fd, NULL);
		if (st.st_dev != ast.st_dev || st.st_ino != ast.st_ino || !b || strcmp(b, want) != 0)
			mismatched++;
		else
			opens++;
		free(b);
		close(fd);
	}
	stop_flips(&f);
	printf("race-open: iterations=%ld opens=%ld denied=%ld other=%ld leaks=%ld mismatched=%ld\n",
	       i, opens, denied, other, leaks, mismatched);
}

/*
 * symlink-race DIR ALLOWED_DIR SECRET_DEV SECRET_INO ITERS MILLIS
 *
 * A second thread keeps replacing DIR/link (a symlink, by an atomic rename
 * of a fresh symlink over it) so that it points alternately at ALLOWED_DIR
 * and at /etc, while this thread opens DIR/link/passwd.  fstat dev/ino equal
 * to SECRET_DEV/SECRET_INO (those of /etc/passwd) is a leak; a descriptor on
 * ALLOWED_DIR/passwd is an allowed open; anything else is a mismatch.
 */
static void cmd_symlink_race(char **a)
{
	unsigned long long sdev = strtoull(a[2], NULL, 10), sino = strtoull(a[3], NULL, 10);
	long iters = strtol(a[4], NULL, 10), millis = strtol(a[5], NULL, 10);
	char target[4200], allowed_file[4200];
	snprintf(allowed_file, sizeof allowed_file, "%s/passwd", a[1]);
	snprintf(target, sizeof target, "%s/link/passwd", a[0]);
	char lnk[4200], tmp[4200];
	snprintf(tmp, sizeof tmp, "%s/link.new", a[0]);
	snprintf(lnk, sizeof lnk, "%s/link", a[0]);
	struct stat ast;
	if (stat(allowed_file, &ast) < 0)
		die("stat allowed");
	static struct flipper f;
	start_symlink_flips(&f, lnk, tmp, a[1], "/etc");

	long opens = 0, denied = 0, other = 0, leaks = 0, mismatched = 0, i;
	long deadline = now_ms() + millis;
	for (i = 0; i < iters && now_ms() < deadline; i++) {
		struct stat st;
		int fd = race_open(target, &st, &denied, &other);
		if (fd < 0)
			continue;
		if ((unsigned long long)st.st_dev == sdev && (unsigned long long)st.st_ino == sino)
			leaks++;
		else if (st.st_dev == ast.st_dev && st.st_ino == ast.st_ino)
			opens++;
		else
			mismatched++;
		close(fd);
	}
	stop_flips(&f);
	printf("symlink-race: iterations=%ld opens=%ld denied=%ld other=%ld leaks=%ld mismatched=%ld\n",
	       i, opens, denied, other, leaks, mismatched);
}


/* ---- bad input ---------------------------------------------------------- */

/* Calls with bad pointers, unterminated and over-long paths, read-only
 * result buffers and an exhausted descriptor table; prints the errno of
 * each so that a supervised run compares with a native one. */
static void cmd_abuse(char **a)
{
	const char *file = a[0];
	long page = sysconf(_SC_PAGESIZE);
	char *two = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *big = malloc(3 * 4096);
	char *ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct stat st;
	struct rlimit rl;
	int fd, last = -1;

	if (two == MAP_FAILED || ro == MAP_FAILED || !big)
		die("mmap");
	result("abuse-null-path", syscall(SYS_openat, AT_FDCWD, (char *)0, O_RDONLY));
	result("abuse-wild-path", syscall(SYS_openat, AT_FDCWD, (char *)1, O_RDONLY));
	result("abuse-null-stat-path", syscall(SYS_newfstatat, AT_FDCWD, (char *)0, &st, 0));
	/* A path running into an unmapped page without a NUL. */
	memset(two, 'a', page);
	munmap(two + page, page);
	result("abuse-unterminated-at-hole", open(two + page - 16, O_RDONLY));
	munmap(two, page);
	result("abuse-unmapped-path", open(two, O_RDONLY));
	/* No NUL within PATH_MAX bytes. */
	memset(big, 'b', 3 * 4096);
	result("abuse-overlong-path", open(big, O_RDONLY));
	result("abuse-overlong-mkdir", mkdir(big, 0755));
	/* Results into read-only or NULL buffers. */
	result("abuse-stat-ro-buffer", syscall(SYS_stat, file, ro));
	result("abuse-fstatat-ro-buffer", syscall(SYS_newfstatat, AT_FDCWD, file, ro, 0));
	result("abuse-statx-ro-buffer", syscall(SYS_statx, AT_FDCWD, file, 0, 0x7ffU, ro));
	result("abuse-stat-null-buffer", syscall(SYS_newfstatat, AT_FDCWD, file, NULL, 0));
	/* Upper 32 bits set in a directory descriptor argument are ignored. */
	fd = syscall(SYS_openat, (long)(0xdead00000000UL | (unsigned)AT_FDCWD), file, O_RDONLY);
	result("abuse-dirfd-upper-bits", fd);
	if (fd >= 0)
		close(fd);
	result("abuse-bad-dirfd", openat(987, "relative", O_RDONLY));
	result("abuse-openat2-small-how", syscall(SYS_openat2, AT_FDCWD, file, big, 8));
	/* The descriptor table full: a brokered open cannot be installed. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	rl.rlim_cur = 16;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit");
	while ((fd = open("/dev/null", O_RDONLY)) >= 0)
		last = fd;
	result("abuse-fill-table", fd);
	result("abuse-open-at-fd-limit", open(file, O_RDONLY));
	for (fd = 3; fd <= last; fd++)
		close(fd);
	fd = open(file, O_RDONLY);
	result("abuse-open-after-close", fd);
	if (fd >= 0)
		close(fd);
	free(big);
}

/* ---- init scripts ------------------------------------------------------ */

/* ptrace: PTRACE_TRACEME (0) through the raw syscall; prints "ptrace: OK"
 * or "ptrace: EPERM" (a filter from seccomp_compile). */
static void cmd_ptrace(char **a)
{
	(void)a;
	result("ptrace", syscall(SYS_ptrace, 0L, 0L, 0L, 0L));
}

/* ---- signals during a blocking open ---------------------------------- */

static volatile sig_atomic_t fifo_handled;
static pthread_t fifo_main;
static const char *fifo_path;

static void fifo_on_signal(int sig)
{
	(void)sig;
	fifo_handled++;
}

/* Signals the main thread after 0.5 s; for "restart", then opens the FIFO
 * for writing so that the restarted open finds its peer. */
static void *fifo_signaller(void *arg)
{
	usleep(500000);
	pthread_kill(fifo_main, SIGUSR1);
	if (arg) {
		usleep(300000);
		open(fifo_path, O_WRONLY | O_CLOEXEC);
	}
	return NULL;
}

/* fifo-signal MODE FIFO: opens FIFO (made here) for reading, which blocks
 * until a writer comes; a handled SIGUSR1 arrives meanwhile.  MODE
 * "eintr": no SA_RESTART, the open fails with EINTR; "restart":
 * SA_RESTART, and a writer comes after the signal: the open succeeds.
 * Prints the open's result and how many times the handler ran. */
static void cmd_fifo_signal(char **a)
{
	int restart = !strcmp(a[0], "restart");
	fifo_path = a[1];
	if (mkfifo(fifo_path, 0600) < 0) {
		printf("mkfifo: %s\n", ename(errno));
		return;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fifo_on_signal;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(SIGUSR1, &sa, NULL);
	fifo_main = pthread_self();
	pthread_t t;
	pthread_create(&t, NULL, fifo_signaller, restart ? (void *)1 : NULL);
	int fd = open(fifo_path, O_RDONLY | O_CLOEXEC);
	printf("open: %s handled: %d\n", fd < 0 ? ename(errno) : "OK", (int)fifo_handled);
	pthread_join(t, NULL);
}

/* ---- dispatch -------------------------------------------------------- */

static const struct probe_cmd cmds[] = {
	{ "cat", 1, cmd_cat },
	{ "stat", 1, cmd_stat },
	{ "access", 2, cmd_access },
	{ "mkdir", 2, cmd_mkdir },
	{ "mkdirat", 2, cmd_mkdirat },
	{ "rename", 2, cmd_rename },
	{ "renameat2", 3, cmd_renameat2 },
	{ "unlink", 1, cmd_unlink },
	{ "unlinkat", 3, cmd_unlinkat },
	{ "rmdir", 1, cmd_rmdir },
	{ "write", 2, cmd_write },
	{ "creat", 1, cmd_creat },
	{ "openat", 2, cmd_openat },
	{ "openat2", 3, cmd_openat2 },
	{ "ls", 1, cmd_ls },
	{ "getppid", 0, cmd_getppid },
	{ "int80", 0, cmd_int80 },
	{ "x32", 0, cmd_x32 },
	{ "threads", 1, cmd_threads },
	{ "vfork-exec", 2, cmd_vfork_exec },
	{ "race-open", 6, cmd_race_open },
	{ "symlink-race", 6, cmd_symlink_race },
	{ "abuse", 1, cmd_abuse },
	{ "ptrace", 0, cmd_ptrace },
	{ "fifo-signal", 2, cmd_fifo_signal },
};

int main(int argc, char **argv)
{
	return run_cmds("probe", cmds, NCMDS(cmds), argc, argv, NULL);
}
