/* The transparency probe: LTP-style cases of the mapped file and socket
 * calls, each printing one line with everything a program can observe of
 * its outcome (return value, errno, the owner, group and mode of what it
 * created, its file status flags, socket names and peer credentials), so
 * that a run natively, under CONTINUE and under a brokering policy can be
 * compared line by line.
 *
 *   transparency STEP ARGS... [STEP ARGS...]...
 *
 * Paths are used as given (the tests pass relative ones, the probe runs
 * in a fixture directory).  Flags are comma lists (see parse_flags). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

struct k_open_how {
	unsigned long long flags, mode, resolve;
};

static const struct {
	const char *name;
	int bit;
} flag_names[] = {
	{ "rdonly", O_RDONLY }, { "wronly", O_WRONLY }, { "rdwr", O_RDWR },
	{ "creat", O_CREAT }, { "excl", O_EXCL }, { "trunc", O_TRUNC },
	{ "append", O_APPEND }, { "noatime", O_NOATIME }, { "directory", O_DIRECTORY },
	{ "nofollow", O_NOFOLLOW }, { "path", O_PATH }, { "nonblock", O_NONBLOCK },
	{ "tmpfile", O_TMPFILE }, { "sync", O_SYNC }, { "cloexec", O_CLOEXEC },
};

static int parse_flags(const char *s)
{
	char buf[256], *save = NULL, *tok;
	int f = 0;
	snprintf(buf, sizeof buf, "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;
		for (i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++)
			if (!strcmp(tok, flag_names[i].name))
				break;
		if (i == sizeof flag_names / sizeof flag_names[0]) {
			fprintf(stderr, "transparency: unknown flag %s\n", tok);
			exit(2);
		}
		f |= flag_names[i].bit;
	}
	return f;
}

/* The owner, group and mode of PATH (not followed), or its errno. */
static void print_owner(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		printf(" [%s: %s]", path, ename(errno));
	else
		printf(" [%s: %u:%u %06o]", path, st.st_uid, st.st_gid, st.st_mode);
}

static void print_res(const char *label, long r)
{
	if (r < 0)
		printf("%s: %s", label, ename(errno));
	else
		printf("%s: %ld", label, r);
}

/* What an open returned: the descriptor's flags and the file's owner. */
static void print_fd(const char *label, long fd)
{
	if (fd < 0) {
		printf("%s: %s\n", label, ename(errno));
		return;
	}
	int fl = fcntl((int)fd, F_GETFL);
	int fdfl = fcntl((int)fd, F_GETFD);
	struct stat st;
	fstat((int)fd, &st);
	printf("%s: fd getfl=%#o cloexec=%d %u:%u %06o\n", label, fl, fdfl & FD_CLOEXEC, st.st_uid,
	       st.st_gid, st.st_mode);
	close((int)fd);
}

static void print_stat(const char *label, long r, const struct stat *st)
{
	if (r < 0)
		printf("%s: %s\n", label, ename(errno));
	else
		printf("%s: %u:%u %06o nlink=%lu size=%ld\n", label, st->st_uid, st->st_gid,
		       st->st_mode, (unsigned long)st->st_nlink, (long)st->st_size);
}

static int dir_fd(const char *d)
{
	int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		printf("[dir %s: %s] ", d, ename(errno));
	return fd; /* -1: the *at call then says EBADF */
}

static socklen_t unix_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof a->sun_path, "%s", path);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static void print_name(const char *what, int fd, int peer)
{
	struct sockaddr_un a;
	socklen_t len = sizeof a;
	memset(&a, 0, sizeof a);
	int r = peer ? getpeername(fd, (struct sockaddr *)&a, &len) : getsockname(fd, (struct sockaddr *)&a, &len);
	if (r < 0)
		printf(" %s=%s", what, ename(errno));
	else if (len <= offsetof(struct sockaddr_un, sun_path))
		printf(" %s=unnamed", what);
	else
		printf(" %s=%s", what, a.sun_path);
}

static int sock_type(const char *t)
{
	return !strcmp(t, "dgram") ? SOCK_DGRAM : !strcmp(t, "seqpacket") ? SOCK_SEQPACKET : SOCK_STREAM;
}

/* ---- two threads with different credentials ---------------------------- */

/* The second thread takes nobody's credentials with raw syscalls (this
 * thread only: the libc wrappers would change every thread), then it and
 * the main thread open the same path in turn, each waiting for the other. */
static const char *tt_path;
static int tt_rounds, tt_go[2], tt_done[2];

static void *tt_thread(void *arg)
{
	(void)arg;
	char c;
	if (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setresgid, 65534, 65534, 65534) < 0 ||
	    syscall(SYS_setresuid, 65534, 65534, 65534) < 0)
		return (void *)1;
	for (int i = 0; i < tt_rounds; i++) {
		if (read(tt_go[0], &c, 1) != 1)
			break;
		int fd = open(tt_path, O_RDONLY | O_CLOEXEC);
		printf(" thread=%s", fd < 0 ? ename(errno) : "0");
		if (fd >= 0)
			close(fd);
		fflush(stdout);
		if (write(tt_done[1], "x", 1) != 1)
			break;
	}
	return NULL;
}

/* Credential changes by raw syscalls (this thread only), for the cases of
 * the supervisor's credentials kept per thread: each is followed by
 * brokered calls that must see the new credentials, and only in the
 * thread that changed them. */
static const char *rt_path;
static int rt_uid, rt_gid, rt_n;
static gid_t rt_groups[32];

static const char *try_open(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return ename(errno);
	close(fd);
	return "0";
}

static void *rt_thread(void *arg)
{
	(void)arg;
	printf(" thread=%s", try_open(rt_path, O_RDONLY));
	if (syscall(SYS_setresuid, 0, 0, -1) < 0 || syscall(SYS_setgroups, rt_n, rt_groups) < 0 ||
	    syscall(SYS_setresgid, rt_gid, rt_gid, -1) < 0 || syscall(SYS_setresuid, rt_uid, rt_uid, -1) < 0)
		return (void *)1;
	printf(" thread=%s", try_open(rt_path, O_RDONLY));
	return NULL;
}

/* One short-lived thread of a series: odd ones drop to nobody first. */
static void *tr_thread(void *arg)
{
	long i = (long)arg;
	if (i % 2 && syscall(SYS_setresuid, 65534, 65534, -1) < 0)
		return (void *)1;
	printf(" %ld=%s", i, try_open(rt_path, O_RDONLY));
	return (void *)(long)syscall(SYS_gettid);
}

/* A thread alive across the libc's set*id of another thread (which makes
 * every thread of the process change its own credentials). */
static int bc_go[2], bc_done[2];

static void *bc_thread(void *arg)
{
	(void)arg;
	char c;
	printf(" thread=%s", try_open(rt_path, O_RDONLY));
	fflush(stdout);
	if (write(bc_done[1], "x", 1) != 1 || read(bc_go[0], &c, 1) != 1)
		return (void *)1;
	printf(" thread=%s", try_open(rt_path, O_RDONLY));
	return NULL;
}

static char **exec_args;

/* A thread that is not the leader execs: it takes the process's pid. */
static void *te_thread(void *arg)
{
	execv((const char *)arg, exec_args);
	printf("threadexec %s: %s\n", (const char *)arg, ename(errno));
	exit(3);
}

struct k_cap_header {
	unsigned int version;
	int pid;
};
struct k_cap_data {
	unsigned int effective, permitted, inheritable;
};

/* This thread's effective capabilities: `mask` applied (and) or all the
 * permitted ones (all). */
static int cap_effective(unsigned long long mask, int all)
{
	struct k_cap_header h = { 0x20080522, 0 };
	struct k_cap_data d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	for (int i = 0; i < 2; i++)
		d[i].effective = all ? d[i].permitted : d[i].effective & (unsigned int)(mask >> (32 * i));
	return (int)syscall(SYS_capset, &h, d);
}

static int parse_groups(const char *s, gid_t *groups)
{
	int n = 0;
	if (strcmp(s, "-")) {
		char buf[256], *save = NULL, *tok;
		snprintf(buf, sizeof buf, "%s", s);
		for (tok = strtok_r(buf, ",", &save); tok && n < 32; tok = strtok_r(NULL, ",", &save))
			groups[n++] = (gid_t)atoi(tok);
	}
	return n;
}

/* ---- steps ----------------------------------------------------------- */

static char label[8400];

static int step(char **a)
{
	const char *c = a[0];
	struct stat st;
	if (!strcmp(c, "drop")) { /* drop UID GID GROUPS(comma list or -) */
		gid_t groups[32];
		int n = parse_groups(a[3], groups);
		if (setgroups(n, groups) < 0 || setresgid(atoi(a[2]), atoi(a[2]), atoi(a[2])) < 0 ||
		    setresuid(atoi(a[1]), atoi(a[1]), atoi(a[1])) < 0) {
			printf("drop: %s\n", ename(errno));
			exit(3);
		}
		printf("drop: %s %s %s\n", a[1], a[2], a[3]);
		return 4;
	}
	if (!strcmp(c, "as")) { /* as UID GID GROUPS: saved ids stay 0, so "as" may follow */
		gid_t groups[32];
		int n = parse_groups(a[3], groups);
		if (setresuid(0, 0, -1) < 0 || setgroups(n, groups) < 0 ||
		    setresgid(atoi(a[2]), atoi(a[2]), -1) < 0 || setresuid(atoi(a[1]), atoi(a[1]), -1) < 0) {
			printf("as: %s\n", ename(errno));
			exit(3);
		}
		printf("as: %s %s %s\n", a[1], a[2], a[3]);
		return 4;
	}
	if (!strcmp(c, "twothreads")) { /* twothreads PATH ROUNDS: root and nobody threads */
		pthread_t t;
		char x;
		void *r = NULL;
		tt_path = a[1];
		tt_rounds = atoi(a[2]);
		if (pipe(tt_go) < 0 || pipe(tt_done) < 0 || pthread_create(&t, NULL, tt_thread, NULL)) {
			printf("twothreads: setup failed\n");
			exit(3);
		}
		printf("twothreads %s:", a[1]);
		for (int i = 0; i < tt_rounds; i++) {
			if (write(tt_go[1], "x", 1) != 1 || read(tt_done[0], &x, 1) != 1)
				break;
			int fd = open(tt_path, O_RDONLY | O_CLOEXEC);
			printf(" main=%s", fd < 0 ? ename(errno) : "0");
			if (fd >= 0)
				close(fd);
		}
		close(tt_go[1]);
		pthread_join(t, &r);
		printf("%s\n", r ? " thread-setup-failed" : "");
		close(tt_go[0]);
		close(tt_done[0]);
		close(tt_done[1]);
		return 3;
	}
	if (!strcmp(c, "rawthread")) { /* rawthread PATH UID GID GROUPS: main, thread, thread changed, main */
		pthread_t t;
		void *r = NULL;
		rt_path = a[1];
		rt_uid = atoi(a[2]);
		rt_gid = atoi(a[3]);
		rt_n = parse_groups(a[4], rt_groups);
		printf("rawthread %s %s %s %s: main=%s", a[1], a[2], a[3], a[4], try_open(rt_path, O_RDONLY));
		if (pthread_create(&t, NULL, rt_thread, NULL) || pthread_join(t, &r))
			r = (void *)1;
		printf(" main=%s%s\n", try_open(rt_path, O_RDONLY), r ? " thread-failed" : "");
		return 5;
	}
	if (!strcmp(c, "threads")) { /* threads PATH N: N threads one after the other, odd ones nobody */
		int n = atoi(a[2]), fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
		long prev = 0;
		rt_path = a[1];
		printf("threads %s:", a[1]);
		for (long i = 0; i < n; i++) {
			pthread_t t;
			void *r = NULL;
			if (prev > 1 && fd >= 0) {
				/* Ask for the last thread's number again (best effort:
				 * another process may take it first). */
				char num[32];
				int len = snprintf(num, sizeof num, "%ld", prev - 1);
				if (pwrite(fd, num, (size_t)len, 0) < 0)
					prev = 0;
			}
			if (pthread_create(&t, NULL, tr_thread, (void *)i) || pthread_join(t, &r) || r == (void *)1) {
				printf(" failed\n");
				exit(3);
			}
			prev = (long)r;
		}
		if (fd >= 0)
			close(fd);
		printf("\n");
		return 3;
	}
	if (!strcmp(c, "bcast")) { /* bcast PATH UID: a thread opens, main setresuid (libc, every thread), the thread opens */
		pthread_t t;
		char x;
		void *r = NULL;
		rt_path = a[1];
		printf("bcast %s %s:", a[1], a[2]);
		if (pipe(bc_go) < 0 || pipe(bc_done) < 0 || pthread_create(&t, NULL, bc_thread, NULL) ||
		    read(bc_done[0], &x, 1) != 1) {
			printf(" failed\n");
			exit(3);
		}
		if (setresuid(atoi(a[2]), atoi(a[2]), -1) < 0)
			printf(" setresuid=%s", ename(errno));
		printf(" main=%s", try_open(rt_path, O_RDONLY));
		fflush(stdout);
		if (write(bc_go[1], "x", 1) != 1 || pthread_join(t, &r))
			r = (void *)1;
		printf("%s\n", r ? " thread-failed" : "");
		close(bc_go[0]);
		close(bc_go[1]);
		close(bc_done[0]);
		close(bc_done[1]);
		return 3;
	}
	if (!strcmp(c, "fsuid")) { /* fsuid UID: raw setfsuid */
		syscall(SYS_setfsuid, atoi(a[1]));
		printf("fsuid %s: %ld\n", a[1], (long)syscall(SYS_setfsuid, -1));
		return 2;
	}
	if (!strcmp(c, "rawuid")) { /* rawuid R E S: raw setresuid (-1 keeps) */
		long r = syscall(SYS_setresuid, atoi(a[1]), atoi(a[2]), atoi(a[3]));
		printf("rawuid %s %s %s: %s\n", a[1], a[2], a[3], r < 0 ? ename(errno) : "0");
		return 4;
	}
	if (!strcmp(c, "capdrop")) { /* capdrop N: capability N out of the effective set */
		int r = cap_effective(~(1ULL << atoi(a[1])), 0);
		printf("capdrop %s: %s\n", a[1], r < 0 ? ename(errno) : "0");
		return 2;
	}
	if (!strcmp(c, "capall")) { /* capall: effective = permitted */
		int r = cap_effective(0, 1);
		printf("capall: %s\n", r < 0 ? ename(errno) : "0");
		return 1;
	}
	if (!strcmp(c, "nnp")) { /* nnp: no_new_privs, as under the supervisor */
		int r = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		printf("nnp: %s\n", r < 0 ? ename(errno) : "0");
		return 1;
	}
	if (!strcmp(c, "userns")) { /* userns: raw unshare(CLONE_NEWUSER) */
		long r = syscall(SYS_unshare, CLONE_NEWUSER);
		printf("userns: %s\n", r < 0 ? ename(errno) : "0");
		return 1;
	}
	if (!strcmp(c, "suidcopy")) { /* suidcopy DEST: this binary, setuid root */
		char buf[65536];
		ssize_t n;
		int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		int out = open(a[1], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
		int ok = in >= 0 && out >= 0;
		while (ok && (n = read(in, buf, sizeof buf)) > 0)
			ok = write(out, buf, (size_t)n) == n;
		ok = ok && fchown(out, 0, 0) == 0 && fchmod(out, 04755) == 0;
		printf("suidcopy %s: %s\n", a[1], ok ? "0" : ename(errno));
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		return 2;
	}
	if (!strcmp(c, "threadexec")) { /* threadexec PATH: as exec, from a second thread */
		pthread_t t;
		fflush(stdout);
		exec_args[0] = a[1];
		if (pthread_create(&t, NULL, te_thread, a[1])) {
			printf("threadexec: setup failed\n");
			exit(3);
		}
		pthread_join(t, NULL);
		exit(3);
	}
	if (!strcmp(c, "exec")) { /* exec PATH: the rest of the steps in a new image of PATH */
		fflush(stdout);
		exec_args[0] = a[1];
		execv(a[1], exec_args);
		printf("exec %s: %s\n", a[1], ename(errno));
		exit(3);
	}
	if (!strcmp(c, "cd")) { /* chdir is not trapped */
		if (chdir(a[1]) < 0) {
			printf("cd %s: %s\n", a[1], ename(errno));
			exit(3);
		}
		return 2;
	}
	if (!strcmp(c, "chroot")) { /* chroot PATH, then chdir("/") */
		if (chroot(a[1]) < 0 || chdir("/") < 0) {
			printf("chroot %s: %s\n", a[1], ename(errno));
			exit(3);
		}
		return 2;
	}
	if (!strcmp(c, "umask")) {
		umask(strtoul(a[1], NULL, 8));
		return 2;
	}
	if (!strcmp(c, "open")) { /* open PATH FLAGS MODE */
		snprintf(label, sizeof label, "open %s %s %s", a[1], a[2], a[3]);
		print_fd(label, open(a[1], parse_flags(a[2]), strtoul(a[3], NULL, 8)));
		if (parse_flags(a[2]) & O_CREAT) {
			printf("  created:");
			print_owner(a[1]);
			printf("\n");
		}
		return 4;
	}
	if (!strcmp(c, "openat")) { /* openat DIR NAME FLAGS MODE */
		int d = dir_fd(a[1]);
		snprintf(label, sizeof label, "openat %s %s %s %s", a[1], a[2], a[3], a[4]);
		print_fd(label, openat(d, a[2], parse_flags(a[3]), strtoul(a[4], NULL, 8)));
		close(d);
		return 5;
	}
	if (!strcmp(c, "openat2")) { /* openat2 DIR NAME FLAGS MODE RESOLVE(hex) */
		int d = dir_fd(a[1]);
		struct k_open_how how = { .flags = (unsigned)parse_flags(a[3]),
					  .mode = strtoul(a[4], NULL, 8),
					  .resolve = strtoul(a[5], NULL, 16) };
		snprintf(label, sizeof label, "openat2 %s %s %s %s %s", a[1], a[2], a[3], a[4], a[5]);
		print_fd(label, syscall(SYS_openat2, d, a[2], &how, sizeof how));
		close(d);
		return 6;
	}
	if (!strcmp(c, "creat")) { /* creat PATH MODE */
		snprintf(label, sizeof label, "creat %s %s", a[1], a[2]);
		print_fd(label, creat(a[1], strtoul(a[2], NULL, 8)));
		printf("  created:");
		print_owner(a[1]);
		printf("\n");
		return 3;
	}
	if (!strcmp(c, "stat")) { /* stat PATH: stat, lstat, fstatat, statx */
		/* struct statx by offsets: musl's headers may not have it. */
		unsigned char x[256];
		unsigned uid, gid;
		unsigned short mode;
		long r;
		snprintf(label, sizeof label, "stat %s", a[1]);
		r = stat(a[1], &st);
		print_stat(label, r, &st);
		snprintf(label, sizeof label, "lstat %s", a[1]);
		r = lstat(a[1], &st);
		print_stat(label, r, &st);
		snprintf(label, sizeof label, "fstatat %s", a[1]);
		r = fstatat(AT_FDCWD, a[1], &st, AT_SYMLINK_NOFOLLOW);
		print_stat(label, r, &st);
		memset(x, 0, sizeof x);
		r = syscall(SYS_statx, AT_FDCWD, a[1], 0, 0x7ffu, x);
		memcpy(&uid, x + 20, 4);
		memcpy(&gid, x + 24, 4);
		memcpy(&mode, x + 28, 2);
		if (r < 0)
			printf("statx %s: %s\n", a[1], ename(errno));
		else
			printf("statx %s: %u:%u %06o\n", a[1], uid, gid, mode);
		return 2;
	}
	if (!strcmp(c, "access")) { /* access PATH MODE(rwxf) */
		int m = 0;
		const char *p;
		for (p = a[2]; *p; p++)
			m |= *p == 'r' ? R_OK : *p == 'w' ? W_OK : *p == 'x' ? X_OK : 0;
		snprintf(label, sizeof label, "access %s %s", a[1], a[2]);
		print_res(label, access(a[1], m));
		print_res(" faccessat", faccessat(AT_FDCWD, a[1], m, 0));
		print_res(" faccessat2-eaccess", syscall(SYS_faccessat2, AT_FDCWD, a[1], m, AT_EACCESS));
		printf("\n");
		return 3;
	}
	if (!strcmp(c, "mkdir")) { /* mkdir PATH MODE */
		snprintf(label, sizeof label, "mkdir %s %s", a[1], a[2]);
		print_res(label, mkdir(a[1], strtoul(a[2], NULL, 8)));
		print_owner(a[1]);
		printf("\n");
		return 3;
	}
	if (!strcmp(c, "mkdirat")) { /* mkdirat DIR NAME MODE */
		int d = dir_fd(a[1]);
		snprintf(label, sizeof label, "mkdirat %s %s %s", a[1], a[2], a[3]);
		print_res(label, mkdirat(d, a[2], strtoul(a[3], NULL, 8)));
		close(d);
		printf("\n");
		return 4;
	}
	if (!strcmp(c, "rmdir") || !strcmp(c, "unlink")) {
		snprintf(label, sizeof label, "%s %s", c, a[1]);
		print_res(label, !strcmp(c, "rmdir") ? rmdir(a[1]) : unlink(a[1]));
		print_owner(a[1]);
		printf("\n");
		return 2;
	}
	if (!strcmp(c, "unlinkat")) { /* unlinkat DIR NAME file|dir */
		int d = dir_fd(a[1]);
		snprintf(label, sizeof label, "unlinkat %s %s %s", a[1], a[2], a[3]);
		print_res(label, unlinkat(d, a[2], !strcmp(a[3], "dir") ? AT_REMOVEDIR : 0));
		close(d);
		printf("\n");
		return 4;
	}
	if (!strcmp(c, "rename")) { /* rename A B */
		snprintf(label, sizeof label, "rename %s %s", a[1], a[2]);
		print_res(label, rename(a[1], a[2]));
		print_owner(a[1]);
		print_owner(a[2]);
		printf("\n");
		return 3;
	}
	if (!strcmp(c, "renameat")) { /* renameat DIR A B FLAGS(0,1,2,4) */
		int d = dir_fd(a[1]);
		snprintf(label, sizeof label, "renameat2 %s %s %s %s", a[1], a[2], a[3], a[4]);
		long r = atoi(a[4]) ? syscall(SYS_renameat2, d, a[2], d, a[3], atoi(a[4]))
				     : renameat(d, a[2], d, a[3]);
		print_res(label, r);
		close(d);
		printf("\n");
		return 5;
	}
	if (!strcmp(c, "chmod")) { /* chmod PATH MODE */
		snprintf(label, sizeof label, "chmod %s %s", a[1], a[2]);
		print_res(label, chmod(a[1], strtoul(a[2], NULL, 8)));
		print_owner(a[1]);
		printf("\n");
		return 3;
	}
	if (!strcmp(c, "chown")) { /* chown PATH UID GID (-1 keeps) */
		snprintf(label, sizeof label, "chown %s %s %s", a[1], a[2], a[3]);
		print_res(label, chown(a[1], (uid_t)atol(a[2]), (gid_t)atol(a[3])));
		print_owner(a[1]);
		printf("\n");
		return 4;
	}
	if (!strcmp(c, "utime")) { /* utime PATH SECS: both times */
		struct timespec ts[2] = { { atol(a[2]), 0 }, { atol(a[2]), 0 } };
		snprintf(label, sizeof label, "utime %s %s", a[1], a[2]);
		long r = utimensat(AT_FDCWD, a[1], ts, 0);
		print_res(label, r);
		/* The time set (a file's own time differs from run to run). */
		if (r == 0 && stat(a[1], &st) == 0)
			printf(" mtime=%lld", (long long)st.st_mtime);
		printf("\n");
		return 3;
	}
	if (!strcmp(c, "truncate")) { /* truncate PATH LENGTH */
		snprintf(label, sizeof label, "truncate %s %s", a[1], a[2]);
		print_res(label, truncate(a[1], atol(a[2])));
		if (stat(a[1], &st) == 0)
			printf(" size=%lld", (long long)st.st_size);
		printf("\n");
		return 3;
	}
	if (!strcmp(c, "symlink")) { /* symlink TARGET PATH */
		snprintf(label, sizeof label, "symlink %s %s", a[1], a[2]);
		print_res(label, symlink(a[1], a[2]));
		print_owner(a[2]);
		printf("\n");
		return 3;
	}
	if (!strcmp(c, "link")) { /* link OLD NEW */
		snprintf(label, sizeof label, "link %s %s", a[1], a[2]);
		print_res(label, link(a[1], a[2]));
		print_owner(a[2]);
		printf("\n");
		return 3;
	}
	if (!strcmp(c, "mkfifo")) { /* mkfifo PATH MODE: mknod of a FIFO */
		snprintf(label, sizeof label, "mkfifo %s %s", a[1], a[2]);
		print_res(label, mknod(a[1], S_IFIFO | strtoul(a[2], NULL, 8), 0));
		print_owner(a[1]);
		printf("\n");
		return 3;
	}
	if (!strcmp(c, "bind")) { /* bind PATH TYPE: name, file, owner */
		struct sockaddr_un sa;
		int s = socket(AF_UNIX, sock_type(a[2]) | SOCK_CLOEXEC, 0);
		snprintf(label, sizeof label, "bind %s %s", a[1], a[2]);
		print_res(label, bind(s, (struct sockaddr *)&sa, unix_addr(&sa, a[1])));
		print_name("name", s, 0);
		print_owner(a[1]);
		printf("\n");
		close(s);
		return 3;
	}
	if (!strcmp(c, "bind-port")) { /* bind-port PORT: any address */
		struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(atoi(a[1])),
					  .sin_addr.s_addr = htonl(INADDR_ANY) };
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(label, sizeof label, "bind-port %s", a[1]);
		print_res(label, bind(s, (struct sockaddr *)&in, sizeof in));
		printf("\n");
		close(s);
		return 2;
	}
	if (!strcmp(c, "peer")) { /* peer PATH: listen, connect, accept: names and peer creds */
		struct sockaddr_un sa;
		socklen_t len = unix_addr(&sa, a[1]);
		int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(label, sizeof label, "peer %s", a[1]);
		print_res(label, bind(l, (struct sockaddr *)&sa, len));
		print_res(" listen", listen(l, 4));
		print_res(" connect", connect(s, (struct sockaddr *)&sa, len));
		int c2 = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		print_res(" accept", c2 < 0 ? -1 : 0);
		if (c2 >= 0) {
			struct ucred u;
			socklen_t ul = sizeof u;
			if (getsockopt(c2, SOL_SOCKET, SO_PEERCRED, &u, &ul) == 0)
				printf(" peercred=%u:%u%s", u.uid, u.gid,
				       u.pid == (pid_t)getpid() ? "" : " pid-not-mine");
			close(c2);
		}
		print_name("listener", l, 0);
		print_name("client", s, 0);
		print_name("peer", s, 1);
		printf("\n");
		close(s);
		close(l);
		return 2;
	}
	if (!strcmp(c, "dgram")) { /* dgram PATH sendto|sendmsg: blocking send, creds */
		struct sockaddr_un sa;
		socklen_t len = unix_addr(&sa, a[1]);
		int r = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		int one = 1;
		snprintf(label, sizeof label, "dgram %s %s", a[1], a[2]);
		print_res(label, bind(r, (struct sockaddr *)&sa, len));
		setsockopt(r, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
		long n;
		if (!strcmp(a[2], "sendto")) {
			n = sendto(s, "hello", 5, 0, (struct sockaddr *)&sa, len);
		} else {
			struct iovec iov = { .iov_base = "hello", .iov_len = 5 };
			struct msghdr m = { .msg_name = &sa, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1 };
			n = sendmsg(s, &m, 0);
		}
		print_res(" send", n);
		if (n > 0) {
			char data[16], ctl[CMSG_SPACE(sizeof(struct ucred))];
			struct iovec iov = { .iov_base = data, .iov_len = sizeof data };
			struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
					    .msg_controllen = sizeof ctl };
			long got = recvmsg(r, &m, MSG_DONTWAIT);
			print_res(" recv", got);
			struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
			if (got > 0 && cm && cm->cmsg_type == SCM_CREDENTIALS) {
				struct ucred u;
				memcpy(&u, CMSG_DATA(cm), sizeof u);
				printf(" creds=%u:%u%s", u.uid, u.gid,
				       u.pid == (pid_t)getpid() ? "" : " pid-not-mine");
			}
		}
		print_owner(a[1]);
		printf("\n");
		close(s);
		close(r);
		return 3;
	}
	if (!strcmp(c, "connect")) { /* connect PATH: to a server elsewhere */
		struct sockaddr_un sa;
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(label, sizeof label, "connect %s", a[1]);
		print_res(label, connect(s, (struct sockaddr *)&sa, unix_addr(&sa, a[1])));
		if (s >= 0) {
			char buf[128];
			size_t got = 0;
			long n;
			while (got < sizeof buf - 1 && (n = read(s, buf + got, sizeof buf - 1 - got)) > 0)
				got += (size_t)n;
			buf[got] = 0;
			if (got > 0)
				printf(" server-says=%s", buf);
		}
		printf("\n");
		close(s);
		return 2;
	}
	if (!strcmp(c, "bindmany")) { /* bindmany PREFIX N: bind PREFIX0..PREFIX<N-1>, count */
		long n = atol(a[2]), ok = 0, denied = 0, other = 0, misnamed = 0;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < n; i++) {
			char path[108];
			struct sockaddr_un sa, got;
			socklen_t len = sizeof got;
			snprintf(path, sizeof path, "%s%ld", a[1], i);
			int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (bind(s, (struct sockaddr *)&sa, unix_addr(&sa, path)) == 0) {
				ok++;
				memset(&got, 0, sizeof got);
				if (getsockname(s, (struct sockaddr *)&got, &len) < 0 || strcmp(got.sun_path, path))
					misnamed++;
			} else if (errno == EACCES) {
				denied++;
			} else {
				other++;
			}
			close(s);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long long ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
		printf("bindmany %s: ok=%ld denied=%ld other=%ld misnamed=%ld ns-per-bind=%lld\n", a[1], ok,
		       denied, other, misnamed, n > 0 ? ns / n : 0);
		return 3;
	}
	fprintf(stderr, "transparency: unknown step %s\n", c);
	exit(2);
}

int main(int argc, char **argv)
{
	int i = 1;
	while (i < argc) {
		/* For exec: the new image gets the steps after it. */
		exec_args = argv + i + 1;
		i += step(argv + i);
	}
	fflush(stdout);
	return 0;
}
