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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static const char *ename(int e)
{
	static char buf[32];
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EBADF: return "EBADF";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EEXIST: return "EEXIST";
	case EXDEV: return "EXDEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case EFBIG: return "EFBIG";
	case ETXTBSY: return "ETXTBSY";
	case EROFS: return "EROFS";
	case EMLINK: return "EMLINK";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case ELOOP: return "ELOOP";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENODATA: return "ENODATA";
	case ERANGE: return "ERANGE";
	}
	snprintf(buf, sizeof buf, "E#%d", e);
	return buf;
}

static void result(const char *label, long r)
{
	printf("%s: %s\n", label, r < 0 ? ename(errno) : "OK");
}

static void die(const char *what)
{
	printf("paths: %s: %s\n", what, ename(errno));
	fflush(stdout);
	exit(2);
}

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

/* show PATH: what lstat says of PATH (mtime only if asked by the caller's
 * fixture: times are compared by the utime commands). */
static void cmd_show(char **a)
{
	struct stat st;
	char label[4200];
	snprintf(label, sizeof label, "show %s", a[0]);
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
	if (S_ISLNK(st.st_mode)) {
		char t[4200];
		ssize_t n = readlink(a[0], t, sizeof t - 1);
		if (n >= 0) {
			t[n] = 0;
			printf(" -> %s", t);
		}
	}
	printf("\n");
}

/* ---- chmod ---- */

static void cmd_chmod(char **a)
{
	char label[4200];
	snprintf(label, sizeof label, "chmod %s %s", a[0], a[1]);
	result(label, syscall(SYS_chmod, a[0], mode_arg(a[1])));
}

/* fchmodat DIR PATH MODE: the three-argument syscall. */
static void cmd_fchmodat(char **a)
{
	char label[4200];
	snprintf(label, sizeof label, "fchmodat %s %s %s", a[0], a[1], a[2]);
	int d = dir_arg(a[0]);
	result(label, syscall(SYS_fchmodat, d, a[1], mode_arg(a[2])));
	if (d >= 0)
		close(d);
}

/* fchmodat2 DIR PATH MODE FLAGS (nofollow, empty, 0, bogus). */
static void cmd_fchmodat2(char **a)
{
	char label[4200];
	snprintf(label, sizeof label, "fchmodat2 %s %s %s %s", a[0], a[1], a[2], a[3]);
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
	char label[4200];
	snprintf(label, sizeof label, "fchmod-empty %s %s", a[0], a[1]);
	int fd = open(a[0], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		printf("%s: %s\n", label, ename(errno));
		return;
	}
	result(label, syscall(SYS_fchmodat2, fd, "", mode_arg(a[1]), AT_EMPTY_PATH));
	close(fd);
}

/* ---- races ---- */

static volatile int race_stop;
static char race_buf[4096];
static const char *race_paths[2];
static size_t race_lens[2];

static void *buffer_flipper(void *arg)
{
	(void)arg;
	unsigned long i = 0;
	while (!race_stop) {
		int k = i++ & 1;
		memcpy(race_buf, race_paths[k], race_lens[k] + 1);
	}
	return NULL;
}

static char sym_tmp[4200], sym_link[4200];
static const char *sym_targets[2];

static void *symlink_flipper(void *arg)
{
	(void)arg;
	unsigned long i = 0;
	while (!race_stop) {
		const char *target = sym_targets[i++ & 1];
		if (symlink(target, sym_tmp) < 0 && errno != EEXIST)
			continue;
		rename(sym_tmp, sym_link);
	}
	return NULL;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* The call raced: OP on PATH (its argument taken from the buffer). */
static long race_call(const char *op, const char *path, long i)
{
	if (!strcmp(op, "chmod"))
		return syscall(SYS_chmod, path, (i & 1) ? 0600 : 0640);
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
 * the other, while this thread calls OP on link/target.
 * Prints the counts; the test checks SECRET (or SECRET/target) untouched.
 */
static void cmd_race(char **a)
{
	const char *op = a[0], *mode = a[1];
	long iters = strtol(a[4], NULL, 10), millis = strtol(a[5], NULL, 10);
	char target[4200];
	const char *path;
	pthread_t t;

	if (!strcmp(mode, "buffer")) {
		race_paths[0] = a[2];
		race_paths[1] = a[3];
		race_lens[0] = strlen(a[2]);
		race_lens[1] = strlen(a[3]);
		memcpy(race_buf, a[2], race_lens[0] + 1);
		path = race_buf;
		if (pthread_create(&t, NULL, buffer_flipper, NULL) != 0)
			die("pthread_create");
	} else {
		snprintf(sym_tmp, sizeof sym_tmp, "link.new");
		snprintf(sym_link, sizeof sym_link, "link");
		sym_targets[0] = a[2];
		sym_targets[1] = a[3];
		if (symlink(a[2], sym_link) < 0)
			die("symlink");
		snprintf(target, sizeof target, "link/target");
		path = target;
		if (pthread_create(&t, NULL, symlink_flipper, NULL) != 0)
			die("pthread_create");
	}
	long ok = 0, denied = 0, other = 0, i;
	long deadline = now_ms() + millis;
	for (i = 0; i < iters && now_ms() < deadline; i++) {
		if (race_call(op, path, i) == 0)
			ok++;
		else if (errno == EACCES)
			denied++;
		else
			other++;
	}
	race_stop = 1;
	pthread_join(t, NULL);
	printf("race %s %s: iterations=%ld ok=%ld denied=%ld other=%ld\n", op, mode, i, ok, denied,
	       other);
}

struct command {
	const char *name;
	int nargs;
	void (*run)(char **);
};

static const struct command COMMANDS[] = {
	{"show", 1, cmd_show},
	{"chmod", 2, cmd_chmod},
	{"fchmodat", 3, cmd_fchmodat},
	{"fchmodat2", 4, cmd_fchmodat2},
	{"fchmod-empty", 2, cmd_fchmod_empty},
	{"race", 6, cmd_race},
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	int i = 1;
	while (i < argc) {
		const struct command *c = NULL;
		for (size_t k = 0; k < sizeof COMMANDS / sizeof COMMANDS[0]; k++)
			if (!strcmp(COMMANDS[k].name, argv[i]))
				c = &COMMANDS[k];
		if (!c) {
			fprintf(stderr, "paths: unknown command %s\n", argv[i]);
			return 2;
		}
		if (i + c->nargs > argc - 1) {
			fprintf(stderr, "paths: %s needs %d arguments\n", argv[i], c->nargs);
			return 2;
		}
		c->run(&argv[i + 1]);
		i += 1 + c->nargs;
	}
	return 0;
}
