/*
 * Posture probe for the security suite (tests/it/attack_posture.rs,
 * attack_terminal.rs, attack_memory.rs): calls the filter decides on its
 * own (unknown syscalls, socket families, terminal ioctls, userfaultfd),
 * the summary's bounds, and a path in a never-served userfaultfd page.
 * One "NAME: OUTCOME" line per attempt.
 *
 * Usage: posture CMD ARGS...   Built static with musl-gcc (and with gcc).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PROBE_NAME "posture"
#include "common.h"

#ifndef TIOCSTI
#define TIOCSTI 0x5412
#endif
#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif
/* <linux/userfaultfd.h>, which musl-gcc does not see. */
#define UFFD_API 0xAAULL
#define UFFDIO_API 0xc018aa3fUL
#define UFFDIO_REGISTER 0xc020aa00UL
#define UFFDIO_REGISTER_MODE_MISSING 1ULL
#define USERFAULTFD_IOC_NEW 0xaa00UL
#define UFFD_USER_MODE_ONLY 1
struct uffdio_api { uint64_t api, features, ioctls; };
struct uffdio_range { uint64_t start, len; };
struct uffdio_register { struct uffdio_range range; uint64_t mode, ioctls; };

/* syscall NR: the syscall with no arguments (all zero). */
static void cmd_syscall(char **a)
{
	long nr = strtol(a[0], NULL, 0);
	char label[48];
	snprintf(label, sizeof label, "syscall %ld", nr);
	result(label, syscall(nr, 0, 0, 0, 0, 0, 0));
}

/* open-tree-attr PATH: open_tree_attr(AT_FDCWD, PATH, OPEN_TREE_CLOEXEC,
 * NULL, 0), then fstat through the handle. */
static void cmd_open_tree_attr(char **a)
{
	long fd = syscall(467, AT_FDCWD, a[0], O_CLOEXEC, NULL, 0);
	result("open_tree_attr", fd);
	if (fd >= 0) {
		struct stat st;
		result("fstat", fstat(fd, &st));
	}
	/* open_tree(2), its elder, for comparison. */
	result("open_tree", syscall(428, AT_FDCWD, a[0], O_CLOEXEC));
}

/* socket FAMILY TYPE [PROTO]: socket(2) and socketpair(2). */
static void cmd_socket(char **a)
{
	int family = atoi(a[0]), type = atoi(a[1]), proto = atoi(a[2]);
	char label[48];
	snprintf(label, sizeof label, "socket %d", family);
	result(label, socket(family, type, proto));
	int sv[2];
	snprintf(label, sizeof label, "socketpair %d", family);
	result(label, socketpair(family, type, proto, sv));
}

/* getifaddrs: the interfaces (a NETLINK_ROUTE dump), and getaddrinfo
 * with AI_ADDRCONFIG (glibc asks netlink which families are configured). */
static void cmd_getifaddrs(char **a)
{
	(void)a;
	struct ifaddrs *ifa;
	if (getifaddrs(&ifa) < 0) {
		result("getifaddrs", -1);
	} else {
		int n = 0, lo = 0;
		for (struct ifaddrs *i = ifa; i; i = i->ifa_next, n++)
			if (!strcmp(i->ifa_name, "lo"))
				lo = 1;
		printf("getifaddrs: OK n=%d lo=%s\n", n, lo ? "yes" : "no");
		freeifaddrs(ifa);
	}
	struct addrinfo hints = { .ai_flags = AI_ADDRCONFIG | AI_NUMERICHOST, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	int r = getaddrinfo("127.0.0.1", "80", &hints, &res);
	printf("addrconfig: %s\n", r == 0 ? "OK" : gai_strerror(r));
	if (r == 0)
		freeaddrinfo(res);
	fflush(stdout);
}

/* deny-many N LEN: N opens of distinct paths of LEN bytes under /denied/
 * (the policy denies them), then "done" and wait for stdin's end. */
static void cmd_deny_many(char **a)
{
	long n = atol(a[0]);
	size_t len = (size_t)atol(a[1]);
	char *p = malloc(len + 64);
	if (!p)
		die("malloc");
	long denied = 0, other = 0;
	int first = 0;
	for (long i = 0; i < n; i++) {
		int k = snprintf(p, len + 64, "/denied/%ld/", i);
		memset(p + k, 'x', len > (size_t)k ? len - k : 0);
		p[len > (size_t)k ? len : (size_t)k] = 0;
		int fd = open(p, O_RDONLY);
		if (fd >= 0)
			close(fd), other++;
		else if (errno == EACCES)
			denied++;
		else if (!other++)
			first = errno;
	}
	printf("denied=%ld other=%ld\n", denied, other);
	if (other)
		printf("first-other: %s\n", ename(first));
	printf("done\n");
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
}

/* tiocsti TEXT: pushes TEXT into the terminal on stdin with TIOCSTI, one
 * byte a call; then TIOCLINUX (paste the selection), and what a tty
 * program needs still works (ttyname, tcgetpgrp, tcsetpgrp). */
static void cmd_tiocsti(char **a)
{
	long worst = 0;
	int err = 0;
	for (const char *c = a[0]; *c; c++) {
		long r = ioctl(0, TIOCSTI, c);
		if (r < 0) {
			worst = r;
			err = errno;
		}
	}
	errno = err;
	result("TIOCSTI", worst);
	char sub = 3; /* TIOCL_PASTESEL */
	result("TIOCLINUX", ioctl(0, TIOCLINUX, &sub));
	/* TIOCSTI with the upper half of the request register set: the kernel
	 * reads the low 32 bits. */
	result("TIOCSTI-upper", syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, a[0]));
	char *name = ttyname(0);
	printf("ttyname: %s\n", name ? name : ename(errno));
	pid_t fg = tcgetpgrp(0);
	result("tcgetpgrp", fg);
	result("tcsetpgrp", fg < 0 ? -1 : tcsetpgrp(0, fg));
	fflush(stdout);
}

/* userfaultfd: the syscall, and the ioctl of /dev/userfaultfd. */
static void cmd_userfaultfd(char **a)
{
	(void)a;
	long fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	result("userfaultfd", fd);
	long fd2 = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	result("userfaultfd-user-mode", fd2);
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	result("open-dev", dev);
	if (dev >= 0)
		result("USERFAULTFD_IOC_NEW", ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC));
}

/* A page registered with a userfaultfd and never served. */
static char *stalled_page(void)
{
	long fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd < 0) {
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		if (dev >= 0)
			fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC);
	}
	if (fd < 0)
		die("userfaultfd");
	struct uffdio_api api = { .api = UFFD_API };
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		die("UFFDIO_API");
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die("mmap");
	struct uffdio_register reg = { .range = { (uint64_t)(uintptr_t)(m + pg), pg },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
		die("UFFDIO_REGISTER");
	/* A path whose end lies in the unserved page. */
	memcpy(m + pg - 5, "/tmp/", 5);
	return m + pg - 5;
}

static char *stall_path;

static void *stalled_open(void *arg)
{
	(void)arg;
	long r = open(stall_path, O_RDONLY);
	printf("stalled-open: %s\n", r < 0 ? ename(errno) : "OK");
	fflush(stdout);
	return NULL;
}

/* uffd-stall FILE: a thread opens a path that ends in a never-served
 * userfaultfd page; meanwhile the main thread opens FILE ten times
 * ("others: N/10 in MS ms"), prints "ready" and waits for stdin's end. */
static void cmd_uffd_stall(char **a)
{
	stall_path = stalled_page();
	pthread_t t;
	if (pthread_create(&t, NULL, stalled_open, NULL) != 0)
		die("pthread_create");
	struct timespec ts = { 0, 200 * 1000000L };
	nanosleep(&ts, NULL);
	long start = now_ms();
	int ok = 0;
	for (int i = 0; i < 10; i++) {
		int fd = open(a[0], O_RDONLY);
		if (fd >= 0)
			ok++, close(fd);
	}
	printf("others: %d/10 in %ld ms\nready\n", ok, now_ms() - start);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
}

static const struct probe_cmd cmds[] = {
	{ "syscall", 1, cmd_syscall },
	{ "open-tree-attr", 1, cmd_open_tree_attr },
	{ "socket", 3, cmd_socket },
	{ "deny-many", 2, cmd_deny_many },
	{ "getifaddrs", 0, cmd_getifaddrs },
	{ "tiocsti", 1, cmd_tiocsti },
	{ "userfaultfd", 0, cmd_userfaultfd },
	{ "uffd-stall", 1, cmd_uffd_stall },
};

int main(int argc, char **argv)
{
	return run_one_cmd("posture", cmds, NCMDS(cmds), argc, argv);
}
