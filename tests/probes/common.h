/*
 * What every probe shares: errno names, "LABEL: OK|ENAME" lines, a
 * monotonic clock, dying with a message, its commands' table and main(),
 * a second thread flipping a path buffer or a symlink.
 * A probe defines PROBE_NAME (its name, for die()) before including this.
 * Everything here is static inline: a probe that does not use a helper
 * gets no warning (-Wall -Werror).
 */
#ifndef PROBES_COMMON_H
#define PROBES_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Syscalls newer than some libc headers. */
#ifndef SYS_renameat2
#define SYS_renameat2 316
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif

#ifndef PROBE_NAME
#define PROBE_NAME "probe"
#endif

/* The name of errno value e ("OK" for 0, "E#n" for one not listed). */
static inline const char *ename(int e)
{
	static char buf[32];
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case ENOEXEC: return "ENOEXEC";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EXDEV: return "EXDEV";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case EMFILE: return "EMFILE";
	case ENOTTY: return "ENOTTY";
	case ETXTBSY: return "ETXTBSY";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case EROFS: return "EROFS";
	case EMLINK: return "EMLINK";
	case EPIPE: return "EPIPE";
	case ERANGE: return "ERANGE";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ELOOP: return "ELOOP";
	case ENODATA: return "ENODATA";
	case ENOTSOCK: return "ENOTSOCK";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENETUNREACH: return "ENETUNREACH";
	case EISCONN: return "EISCONN";
	case ENOTCONN: return "ENOTCONN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case EINPROGRESS: return "EINPROGRESS";
	}
	snprintf(buf, sizeof buf, "E#%d", e);
	return buf;
}

/* "LABEL: OK" or "LABEL: ENAME" for a syscall's result r (errno when < 0). */
static inline void result(const char *label, long r)
{
	printf("%s: %s\n", label, r < 0 ? ename(errno) : "OK");
	fflush(stdout);
}

/* "NAME A0 A1 ... A(n-1)": the label of a command's line (in a buffer of
 * its own, which the next call overwrites). */
static inline const char *cmd_label(const char *name, char **a, int n)
{
	static char buf[8400];
	size_t len = snprintf(buf, sizeof buf, "%s", name);
	for (int k = 0; k < n && len < sizeof buf; k++)
		len += snprintf(buf + len, sizeof buf - len, " %s", a[k]);
	return buf;
}

/* Milliseconds of CLOCK_MONOTONIC. */
static inline long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Prints "PROBE_NAME: what: ENAME" and exits 2. */
static inline void die(const char *what)
{
	printf("%s: %s: %s\n", PROBE_NAME, what, ename(errno));
	fflush(stdout);
	exit(2);
}

/* A probe's command: its name, how many arguments it takes, what runs it
 * (given its arguments). */
struct probe_cmd {
	const char *name;
	int nargs;
	void (*fn)(char **);
};

#define NCMDS(cmds) (sizeof(cmds) / sizeof((cmds)[0]))

/* The command called name among cmds[0..n), or NULL. */
static inline const struct probe_cmd *find_cmd(const struct probe_cmd *cmds, size_t n,
					       const char *name)
{
	for (size_t k = 0; k < n; k++)
		if (strcmp(name, cmds[k].name) == 0)
			return &cmds[k];
	return NULL;
}

/* main() of a probe running "CMD ARGS... [CMD ARGS...]...": each command
 * of cmds[0..n) with its arguments, in order, after fix (if not NULL) has
 * seen them.  No command, an unknown one or one short of arguments: a
 * line on stderr naming the probe (prog), exit code 2. */
static inline int run_cmds(const char *prog, const struct probe_cmd *cmds, size_t n, int argc,
			   char **argv, void (*fix)(char **a, int nargs))
{
	int i = 1;
	if (argc < 2) {
		fprintf(stderr, "usage: %s CMD ARGS... [CMD ARGS...]...\n", prog);
		return 2;
	}
	while (i < argc) {
		const struct probe_cmd *c = find_cmd(cmds, n, argv[i]);
		if (!c) {
			fprintf(stderr, "%s: unknown command %s\n", prog, argv[i]);
			return 2;
		}
		if (c->nargs > argc - i - 1) {
			fprintf(stderr, "%s: %s needs %d arguments\n", prog, argv[i], c->nargs);
			return 2;
		}
		if (fix)
			fix(argv + i + 1, c->nargs);
		c->fn(argv + i + 1);
		i += 1 + c->nargs;
	}
	fflush(stdout);
	return 0;
}

/* main() of a probe running one command, "CMD ARGS...", with exactly its
 * arguments; otherwise a line on stderr naming the probe (prog), exit
 * code 2. */
static inline int run_one_cmd(const char *prog, const struct probe_cmd *cmds, size_t n, int argc,
			      char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CMD ARGS...\n", prog);
		return 2;
	}
	const struct probe_cmd *c = find_cmd(cmds, n, argv[1]);
	if (!c) {
		fprintf(stderr, "%s: unknown command %s\n", prog, argv[1]);
		return 2;
	}
	if (c->nargs != argc - 2) {
		fprintf(stderr, "%s: %s needs %d arguments\n", prog, argv[1], c->nargs);
		return 2;
	}
	c->fn(argv + 2);
	fflush(stdout);
	return 0;
}

/* ---- races: a second thread changing what a path names ---------------- */

/* A path buffer that a second thread rewrites with paths[0] and paths[1]
 * in turn, or a symlink `link` it re-points at targets[0] and targets[1]
 * in turn (a fresh symlink `tmp` renamed over it), until stop. */
struct flipper {
	volatile int stop;
	pthread_t thread;
	char buf[4096];
	const char *paths[2];
	size_t lens[2];
	char tmp[4200], link[4200];
	const char *targets[2];
};

static inline void *flip_buffer(void *arg)
{
	struct flipper *f = arg;
	unsigned long i = 0;
	while (!f->stop) {
		int k = i++ & 1;
		memcpy(f->buf, f->paths[k], f->lens[k] + 1);
	}
	return NULL;
}

static inline void *flip_symlink(void *arg)
{
	struct flipper *f = arg;
	unsigned long i = 0;
	while (!f->stop) {
		const char *target = f->targets[i++ & 1];
		if (symlink(target, f->tmp) < 0 && errno != EEXIST)
			continue;
		rename(f->tmp, f->link);
	}
	return NULL;
}

/* Starts rewriting f->buf (a to begin with) with a and b in turn. */
static inline void start_buffer_flips(struct flipper *f, const char *a, const char *b)
{
	f->stop = 0;
	f->paths[0] = a;
	f->paths[1] = b;
	f->lens[0] = strlen(a);
	f->lens[1] = strlen(b);
	memcpy(f->buf, a, f->lens[0] + 1);
	if (pthread_create(&f->thread, NULL, flip_buffer, f) != 0)
		die("pthread_create");
}

/* Makes the symlink `link` to a, then starts re-pointing it at a and b in
 * turn through the fresh symlink `tmp`. */
static inline void start_symlink_flips(struct flipper *f, const char *link, const char *tmp,
				       const char *a, const char *b)
{
	f->stop = 0;
	snprintf(f->link, sizeof f->link, "%s", link);
	snprintf(f->tmp, sizeof f->tmp, "%s", tmp);
	f->targets[0] = a;
	f->targets[1] = b;
	if (symlink(a, f->link) < 0)
		die("symlink");
	if (pthread_create(&f->thread, NULL, flip_symlink, f) != 0)
		die("pthread_create");
}

static inline void stop_flips(struct flipper *f)
{
	f->stop = 1;
	pthread_join(f->thread, NULL);
}

#endif
