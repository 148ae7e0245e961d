/*
 * The network probe: socket calls and name lookups, each printing what it
 * got (values and errno names) for the integration tests.
 *
 * Usage: netprobe CMD ARGS... [CMD ARGS...]...
 * Addresses are written KIND:ADDRESS with KIND one of tcp, udp (IPv4 or
 * [IPv6]:port), unix, unixdg (a path; a leading '@' makes it abstract).
 * Built static with musl-gcc and dynamic with gcc (glibc).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

struct addr {
	int family, type;
	socklen_t len;
	struct sockaddr_storage sa;
};

static void usage_die(const char *what, const char *arg)
{
	fprintf(stderr, "netprobe: %s: %s\n", what, arg);
	exit(2);
}

/* Parses KIND:ADDRESS. */
static struct addr parse(const char *spec)
{
	struct addr a;
	const char *colon = strchr(spec, ':');
	memset(&a, 0, sizeof a);
	if (!colon)
		usage_die("bad address", spec);
	size_t kl = colon - spec;
	const char *rest = colon + 1;
	if ((kl == 4 && !strncmp(spec, "unix", 4)) || (kl == 6 && !strncmp(spec, "unixdg", 6))) {
		struct sockaddr_un *u = (struct sockaddr_un *)&a.sa;
		size_t n = strlen(rest);
		a.family = AF_UNIX;
		a.type = kl == 4 ? SOCK_STREAM : SOCK_DGRAM;
		u->sun_family = AF_UNIX;
		if (n >= sizeof u->sun_path)
			usage_die("path too long", rest);
		memcpy(u->sun_path, rest, n);
		if (rest[0] == '@') {
			u->sun_path[0] = 0;
			a.len = offsetof(struct sockaddr_un, sun_path) + n;
		} else {
			a.len = offsetof(struct sockaddr_un, sun_path) + n + 1;
		}
		return a;
	}
	if (kl == 3 && !strncmp(spec, "tcp", 3))
		a.type = SOCK_STREAM;
	else if (kl == 3 && !strncmp(spec, "udp", 3))
		a.type = SOCK_DGRAM;
	else
		usage_die("bad kind", spec);
	char host[128];
	const char *port;
	if (rest[0] == '[') {
		const char *end = strchr(rest, ']');
		if (!end || end[1] != ':' || (size_t)(end - rest - 1) >= sizeof host)
			usage_die("bad address", spec);
		memcpy(host, rest + 1, end - rest - 1);
		host[end - rest - 1] = 0;
		port = end + 2;
	} else {
		const char *c = strrchr(rest, ':');
		if (!c || (size_t)(c - rest) >= sizeof host)
			usage_die("bad address", spec);
		memcpy(host, rest, c - rest);
		host[c - rest] = 0;
		port = c + 1;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a.sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a.sa;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		a.family = v4->sin_family = AF_INET;
		v4->sin_port = htons(atoi(port));
		a.len = sizeof *v4;
	} else {
		char *pct = strchr(host, '%');
		if (pct) {
			*pct = 0;
			v6->sin6_scope_id = atoi(pct + 1);
		}
		if (inet_pton(AF_INET6, host, &v6->sin6_addr) != 1)
			usage_die("bad IP address", host);
		a.family = v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(atoi(port));
		a.len = sizeof *v6;
	}
	return a;
}

static int sock_for(const struct addr *a, int extra)
{
	int fd = socket(a->family, a->type | SOCK_CLOEXEC | extra, 0);
	if (fd < 0) {
		printf("socket: %s\n", ename(errno));
		fflush(stdout);
		exit(2);
	}
	return fd;
}

/* Prints what arrives on fd within 3 s. */
static void print_incoming(const char *label, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256];
	if (poll(&p, 1, 3000) <= 0) {
		printf("%s: (nothing)\n", label);
		return;
	}
	ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
	if (n < 0) {
		printf("%s: %s\n", label, ename(errno));
		return;
	}
	buf[n] = 0;
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	printf("%s: %s\n", label, buf);
}

static void cmd_connect(char **a)
{
	struct addr ad = parse(a[0]);
	int fd = sock_for(&ad, 0);
	int r = connect(fd, (struct sockaddr *)&ad.sa, ad.len);
	printf("connect: %s\n", r < 0 ? ename(errno) : "OK");
	if (r == 0 && ad.type == SOCK_STREAM)
		print_incoming("read", fd);
	close(fd);
}

static void cmd_connect_nonblock(char **a)
{
	struct addr ad = parse(a[0]);
	int fd = sock_for(&ad, SOCK_NONBLOCK);
	int r = connect(fd, (struct sockaddr *)&ad.sa, ad.len);
	printf("connect: %s\n", r < 0 ? ename(errno) : "OK");
	if (r < 0 && errno == EINPROGRESS) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int err = 0;
		socklen_t l = sizeof err;
		poll(&p, 1, 3000);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
		printf("so_error: %s\n", ename(err));
	}
	close(fd);
}

static void cmd_bind(char **a)
{
	struct addr ad = parse(a[0]);
	int fd = sock_for(&ad, 0);
	int r = bind(fd, (struct sockaddr *)&ad.sa, ad.len);
	printf("bind: %s\n", r < 0 ? ename(errno) : "OK");
	close(fd);
}

static void cmd_bind_recv(char **a)
{
	struct addr ad = parse(a[0]);
	int fd = sock_for(&ad, 0);
	int r = bind(fd, (struct sockaddr *)&ad.sa, ad.len);
	printf("bind: %s\n", r < 0 ? ename(errno) : "OK");
	if (r == 0)
		print_incoming("recv", fd);
	close(fd);
}

/* Binds a unix socket file and prints its permission bits. */
static void cmd_bind_mode(char **a)
{
	struct addr ad = parse(a[0]);
	int fd = sock_for(&ad, 0);
	struct stat st;
	umask(077);
	int r = bind(fd, (struct sockaddr *)&ad.sa, ad.len);
	printf("bind: %s\n", r < 0 ? ename(errno) : "OK");
	if (r == 0 && stat(((struct sockaddr_un *)&ad.sa)->sun_path, &st) == 0)
		printf("mode: %o\n", st.st_mode & 07777);
	close(fd);
}

static void cmd_sendto(char **a)
{
	struct addr ad = parse(a[0]);
	int fd = sock_for(&ad, 0);
	ssize_t r = sendto(fd, a[1], strlen(a[1]), 0, (struct sockaddr *)&ad.sa, ad.len);
	if (r < 0)
		printf("sendto: %s\n", ename(errno));
	else
		printf("sendto: %zd\n", r);
	close(fd);
}

static void cmd_sendmsg(char **a)
{
	struct addr ad = parse(a[0]);
	int fd = sock_for(&ad, 0);
	struct iovec iov = { .iov_base = a[1], .iov_len = strlen(a[1]) };
	struct msghdr m = { .msg_name = &ad.sa, .msg_namelen = ad.len, .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r = sendmsg(fd, &m, 0);
	if (r < 0)
		printf("sendmsg: %s\n", ename(errno));
	else
		printf("sendmsg: %zd\n", r);
	close(fd);
}

static void cmd_sendmmsg(char **a)
{
	struct addr ad = parse(a[0]);
	int fd = sock_for(&ad, 0);
	struct iovec iov = { .iov_base = a[1], .iov_len = strlen(a[1]) };
	struct mmsghdr m[2];
	memset(m, 0, sizeof m);
	for (int i = 0; i < 2; i++) {
		m[i].msg_hdr.msg_name = &ad.sa;
		m[i].msg_hdr.msg_namelen = ad.len;
		m[i].msg_hdr.msg_iov = &iov;
		m[i].msg_hdr.msg_iovlen = 1;
	}
	int r = sendmmsg(fd, m, 2, 0);
	if (r < 0)
		printf("sendmmsg: %s\n", ename(errno));
	else
		printf("sendmmsg: %d (first %u bytes)\n", r, m[0].msg_len);
	close(fd);
}

/* Connects a datagram socket, then sends on it without an address. */
static void cmd_connected_send(char **a)
{
	struct addr ad = parse(a[0]);
	int fd = sock_for(&ad, 0);
	int r = connect(fd, (struct sockaddr *)&ad.sa, ad.len);
	printf("connect: %s\n", r < 0 ? ename(errno) : "OK");
	ssize_t n = send(fd, a[1], strlen(a[1]), 0);
	if (n < 0)
		printf("send: %s\n", ename(errno));
	else
		printf("send: %zd\n", n);
	struct iovec iov = { .iov_base = a[1], .iov_len = strlen(a[1]) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	n = sendmsg(fd, &m, 0);
	if (n < 0)
		printf("sendmsg: %s\n", ename(errno));
	else
		printf("sendmsg: %zd\n", n);
	close(fd);
}

static struct sockaddr_in stall_addr;
static volatile int stall_done;

static void *stall_connector(void *arg)
{
	(void)arg;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	connect(fd, (struct sockaddr *)&stall_addr, sizeof stall_addr);
	stall_done = 1;
	return NULL;
}

/*
 * A listener on a loopback port (in stall_addr) whose accept queue is full
 * after FILL connects: later SYNs are dropped, a connect to it waits.
 * Returns the listener, or -1 after printing why.
 */
static int stall_listener(int flags, int fill)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	stall_addr.sin_family = AF_INET;
	stall_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof stall_addr;
	if (bind(l, (struct sockaddr *)&stall_addr, sl) < 0 || listen(l, 0) < 0 ||
	    getsockname(l, (struct sockaddr *)&stall_addr, &sl) < 0) {
		printf("listener: %s\n", ename(errno));
		return -1;
	}
	for (int i = 0; i < fill; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		connect(c, (struct sockaddr *)&stall_addr, sizeof stall_addr);
	}
	usleep(200000);
	return l;
}

/*
 * A thread connects to a listener whose accept queue is full (the peer
 * never answers), while the main thread opens FILE N times.  Prints the
 * time the opens took and whether the connect was still pending.
 */
static void cmd_connect_stall(char **a)
{
	if (stall_listener(0, 4) < 0)
		return;
	pthread_t t;
	pthread_create(&t, NULL, stall_connector, NULL);
	usleep(500000);
	int n = atoi(a[1]);
	long t0 = now_ms();
	for (int i = 0; i < n; i++) {
		int fd = open(a[0], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			printf("open: %s\n", ename(errno));
			return;
		}
		close(fd);
	}
	long dt = now_ms() - t0;
	printf("opens: %d in %ld ms\n", n, dt);
	printf("connect pending: %s\n", stall_done ? "no" : "yes");
	fflush(stdout);
	_exit(0);
}

static volatile sig_atomic_t handled;
static volatile int connected;

static void on_signal(int sig)
{
	(void)sig;
	handled++;
}

static int sig_listener;
static pthread_t main_thread;

/* Signals the main thread, then accepts every connection until the main
 * thread's connect is done (freeing the accept queue for its next SYN). */
static void *signaller(void *arg)
{
	(void)arg;
	usleep(700000);
	pthread_kill(main_thread, SIGUSR1);
	while (!connected) {
		int c = accept4(sig_listener, NULL, NULL, SOCK_NONBLOCK);
		if (c < 0)
			usleep(10000);
	}
	return NULL;
}

/*
 * A blocking connect to a peer that does not answer (full accept queue),
 * interrupted by a handled signal.  MODE: "eintr" (SIGUSR1 to the thread,
 * no SA_RESTART: the connect fails with EINTR), "restart" (SA_RESTART, and
 * the queue is drained after the signal: the connect completes), "alarm"
 * (a single-threaded program's SIGALRM, no SA_RESTART).  Prints the
 * connect's result, how many times the handler ran, and whether it all took
 * less than 20 s (the connect's own time-out is minutes).
 */
static void cmd_connect_signal(char **a)
{
	int restart = !strcmp(a[0], "restart"), alarmed = !strcmp(a[0], "alarm");
	int l = stall_listener(SOCK_NONBLOCK, 4);
	if (l < 0)
		return;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(alarmed ? SIGALRM : SIGUSR1, &sa, NULL);
	sig_listener = l;
	main_thread = pthread_self();
	pthread_t t;
	if (alarmed)
		alarm(1);
	else
		pthread_create(&t, NULL, signaller, NULL);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	long t0 = now_ms();
	int r = connect(fd, (struct sockaddr *)&stall_addr, sizeof stall_addr);
	int e = errno;
	long dt = now_ms() - t0;
	connected = 1;
	printf("connect: %s handled: %d in time: %s\n", r ? ename(e) : "OK", (int)handled,
	       dt < 20000 ? "yes" : "no");
	fflush(stdout);
	_exit(0);
}

/* The number of SYN_SENT TCP sockets connecting to PORT on loopback. */
static int syn_sent_to(int port)
{
	FILE *f = fopen("/proc/net/tcp", "re");
	char line[512];
	int n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned rport, st;
		if (sscanf(line, "%*d: %*8x:%*4x %*8x:%4x %2x", &rport, &st) == 2 &&
		    (int)rport == port && st == 2)
			n++;
	}
	fclose(f);
	return n;
}

/*
 * A child blocks in a connect to a peer that does not answer and is killed
 * with SIGKILL.  Prints the number of sockets still trying to connect to
 * the peer before and after: the child's socket must be gone with it.
 */
static void cmd_connect_abandon(char **a)
{
	(void)a;
	if (stall_listener(0, 2) < 0)
		return;
	int port = ntohs(stall_addr.sin_port);
	int before = syn_sent_to(port);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		connect(fd, (struct sockaddr *)&stall_addr, sizeof stall_addr);
		_exit(0);
	}
	usleep(700000);
	int during = syn_sent_to(port);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* The watch looks every few ms; give it ample time. */
	usleep(500000);
	printf("connecting: %d, with the child: %d, after it was killed: %d\n", before, during,
	       syn_sent_to(port));
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static const char *gai_name(int e)
{
	switch (e) {
	case EAI_NONAME: return "EAI_NONAME";
	case EAI_AGAIN: return "EAI_AGAIN";
	case EAI_FAIL: return "EAI_FAIL";
#ifdef EAI_NODATA
	case EAI_NODATA: return "EAI_NODATA";
#endif
	case EAI_SYSTEM: return "EAI_SYSTEM";
	case EAI_FAMILY: return "EAI_FAMILY";
	case EAI_SERVICE: return "EAI_SERVICE";
	}
	return "EAI_OTHER";
}

/* getaddrinfo(NAME, NULL) with AF_UNSPEC/SOCK_STREAM: the sorted addresses. */
static void cmd_resolve(char **a)
{
	struct addrinfo hints, *res, *p;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int r = getaddrinfo(a[0], NULL, &hints, &res);
	if (r != 0) {
		printf("gai: %s\n", gai_name(r));
		return;
	}
	char *list[64];
	int n = 0;
	for (p = res; p && n < 64; p = p->ai_next) {
		char buf[INET6_ADDRSTRLEN];
		const void *src = p->ai_family == AF_INET
			? (const void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr
			: (const void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr;
		inet_ntop(p->ai_family, src, buf, sizeof buf);
		list[n++] = strdup(buf);
	}
	qsort(list, n, sizeof list[0], cmp_str);
	for (int i = 0; i < n; i++)
		printf("addr: %s\n", list[i]);
	freeaddrinfo(res);
}

static const struct probe_cmd cmds[] = {
	{ "connect", 1, cmd_connect },
	{ "connect-nonblock", 1, cmd_connect_nonblock },
	{ "bind", 1, cmd_bind },
	{ "bind-recv", 1, cmd_bind_recv },
	{ "bind-mode", 1, cmd_bind_mode },
	{ "sendto", 2, cmd_sendto },
	{ "sendmsg", 2, cmd_sendmsg },
	{ "sendmmsg", 2, cmd_sendmmsg },
	{ "connected-send", 2, cmd_connected_send },
	{ "connect-stall", 2, cmd_connect_stall },
	{ "connect-signal", 1, cmd_connect_signal },
	{ "connect-abandon", 1, cmd_connect_abandon },
	{ "resolve", 1, cmd_resolve },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	return run_cmds("netprobe", cmds, NCMDS(cmds), argc, argv, NULL);
}
