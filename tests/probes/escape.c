/*
 * Escape attempts of issue 17 (tests/it/attack_escapes.rs): each
 * subcommand tries one way around the supervisor and prints one
 * "NAME: OUTCOME" line (or "NAME: a=N b=N" counters) per attempt; the
 * test asserts the outcome on the other side (a receiver counting
 * datagrams, a listener counting accepts, files untouched).
 *
 * Usage: escape CMD ARGS...   Built static with musl-gcc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#ifndef AF_NETLINK
#define AF_NETLINK 16
#endif

/* An IPv4 address with sin_family = AF_UNSPEC: udp_sendmsg reads it as
 * AF_INET. */
static struct sockaddr_in unspec4(const char *ip, int port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_UNSPEC;
	a.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

/* unspec-udp IP PORT: sendto and sendmsg of a datagram to IP:PORT given as
 * AF_UNSPEC. */
static void cmd_unspec_udp(char **a)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = unspec4(a[0], atoi(a[1]));
	result("sendto", sendto(s, "x", 1, 0, (struct sockaddr *)&to, sizeof to));
	struct iovec iov = { "y", 1 };
	struct msghdr m = { .msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov, .msg_iovlen = 1 };
	result("sendmsg", sendmsg(s, &m, 0));
}

/* unspec-dns IP: a DNS query for "example.test" (A) sent to IP:53 given as
 * AF_UNSPEC; prints the answer's rcode and answer count, or the error. */
static void cmd_unspec_dns(char **a)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = { 5, 0 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	unsigned char q[64] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
	size_t n = 12;
	const char *labels[] = { "example", "test" };
	for (int i = 0; i < 2; i++) {
		q[n++] = strlen(labels[i]);
		memcpy(q + n, labels[i], strlen(labels[i]));
		n += strlen(labels[i]);
	}
	q[n++] = 0;
	q[n++] = 0, q[n++] = 1; /* A */
	q[n++] = 0, q[n++] = 1; /* IN */
	struct sockaddr_in to = unspec4(a[0], 53);
	long r = sendto(s, q, n, 0, (struct sockaddr *)&to, sizeof to);
	result("send", r);
	if (r < 0)
		return;
	unsigned char ans[512];
	r = recv(s, ans, sizeof ans, 0);
	if (r < 12) {
		result("answer", -1);
		return;
	}
	printf("answer: rcode=%d answers=%d\n", ans[3] & 15, ans[6] << 8 | ans[7]);
}

/* The descriptor-swap attacks: a thread keeps dup2-ing `decoy` (a socket
 * the supervisor would pass through) and `real` onto the number FD while
 * the main thread makes the call on FD. */
#define FD 100
static volatile int decoy, real, stop;
static struct msghdr flip_msg;
static void *flip_name;

static void *swapper(void *unused)
{
	(void)unused;
	while (!stop) {
		dup2(decoy, FD);
		if (flip_name)
			flip_msg.msg_name = NULL;
		sched_yield();
		dup2(real, FD);
		if (flip_name)
			flip_msg.msg_name = flip_name;
		sched_yield();
	}
	return NULL;
}

static void start_swapper(pthread_t *t)
{
	stop = 0;
	pthread_create(t, NULL, swapper, NULL);
}

static void stop_swapper(pthread_t t)
{
	stop = 1;
	pthread_join(t, NULL);
}

/* Makes the decoy (a netlink socket) and the real socket (DOMAIN, TYPE),
 * then starts swapping them on FD; 0, or -1 (said) when a socket fails. */
static int swap_sockets(int domain, int type, pthread_t *t)
{
	decoy = socket(AF_NETLINK, SOCK_RAW, 0);
	real = socket(domain, type, 0);
	if (decoy < 0 || real < 0) {
		result("sockets", -1);
		return -1;
	}
	start_swapper(t);
	return 0;
}

/* swap-unix PATH MS: connect(FD, PATH) for MS milliseconds while FD flips
 * between a netlink socket and a unix stream socket. */
static void cmd_swap_unix(char **a)
{
	struct sockaddr_un to = { .sun_family = AF_UNIX };
	strncpy(to.sun_path, a[0], sizeof to.sun_path - 1);
	long end = now_ms() + atol(a[1]);
	int tries = 0, connected = 0;
	pthread_t t;
	if (swap_sockets(AF_UNIX, SOCK_STREAM, &t) < 0)
		return;
	while (now_ms() < end) {
		tries++;
		if (connect(FD, (struct sockaddr *)&to, sizeof to) == 0) {
			connected++;
			stop_swapper(t);
			close(real);
			real = socket(AF_UNIX, SOCK_STREAM, 0);
			start_swapper(&t);
		}
	}
	stop_swapper(t);
	printf("swap-unix: tries=%d connected=%d\n", tries, connected);
}

/* swap-udp IP PORT MS: sendto(FD, IP:PORT) for MS milliseconds while FD
 * flips between a netlink socket and a UDP socket. */
static void cmd_swap_udp(char **a)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(atoi(a[1])) };
	inet_pton(AF_INET, a[0], &to.sin_addr);
	long end = now_ms() + atol(a[2]);
	int tries = 0, sent = 0;
	pthread_t t;
	if (swap_sockets(AF_INET, SOCK_DGRAM, &t) < 0)
		return;
	while (now_ms() < end) {
		tries++;
		if (sendto(FD, "z", 1, 0, (struct sockaddr *)&to, sizeof to) == 1)
			sent++;
	}
	stop_swapper(t);
	printf("swap-udp: tries=%d sent=%d\n", tries, sent);
}

/* swap-stream IP PORT MS: sendmsg(FD) for MS milliseconds while FD flips
 * between a connected unix stream socket (whose sends name no destination)
 * and a UDP socket, and msg_name between NULL and IP:PORT. */
static void cmd_swap_stream(char **a)
{
	static struct sockaddr_in to;
	to.sin_family = AF_INET;
	to.sin_port = htons(atoi(a[1]));
	inet_pton(AF_INET, a[0], &to.sin_addr);
	long end = now_ms() + atol(a[2]);
	int tries = 0, pair[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0) {
		result("socketpair", -1);
		return;
	}
	decoy = pair[0];
	real = socket(AF_INET, SOCK_DGRAM, 0);
	static struct iovec iov = { "s", 1 };
	flip_msg.msg_iov = &iov;
	flip_msg.msg_iovlen = 1;
	flip_msg.msg_namelen = sizeof to;
	flip_name = &to;
	pthread_t t;
	start_swapper(&t);
	char sink[4096];
	while (now_ms() < end) {
		tries++;
		/* The raw call: musl's sendmsg copies the msghdr first. */
		syscall(SYS_sendmsg, FD, &flip_msg, MSG_DONTWAIT);
		/* Keep the unix peer's buffer from filling. */
		while (recv(pair[1], sink, sizeof sink, MSG_DONTWAIT) > 0)
			;
	}
	stop_swapper(t);
	printf("swap-stream: tries=%d\n", tries);
}

/* nl-group FAMILY: binds a netlink socket of protocol FAMILY to
 * multicast group 1 (the kernel checks the caller's capabilities for most
 * families). */
static void cmd_nl_group(char **a)
{
	struct {
		unsigned short nl_family, nl_pad;
		uint32_t nl_pid, nl_groups;
	} nl = { AF_NETLINK, 0, 0, 1 };
	int s = socket(AF_NETLINK, SOCK_RAW, atoi(a[0]));
	if (s < 0) {
		result("socket", -1);
		return;
	}
	result("bind", bind(s, (struct sockaddr *)&nl, sizeof nl));
}

/* bind-unix PATH: binds a unix socket at PATH (a file created). */
static void cmd_bind_unix(char **a)
{
	struct sockaddr_un to = { .sun_family = AF_UNIX };
	strncpy(to.sun_path, a[0], sizeof to.sun_path - 1);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	result("bind", bind(s, (struct sockaddr *)&to, sizeof to));
}

/* read PATH: reads up to 64 bytes of PATH, printing them. */
static void cmd_read(char **a)
{
	int fd = open(a[0], O_RDONLY);
	result("open", fd);
	if (fd < 0)
		return;
	char buf[65];
	long n = read(fd, buf, 64);
	if (n < 0) {
		result("read", n);
		return;
	}
	buf[n] = 0;
	printf("read: %s\n", buf);
}

/* rename-read FROM TO FILE: renames FROM to TO, then reads TO/FILE. */
static void cmd_rename_read(char **a)
{
	result("rename", rename(a[0], a[1]));
	char p[4096];
	snprintf(p, sizeof p, "%s/%s", a[1], a[2]);
	cmd_read((char *[]){ p });
}

/* mv-read FROM TO: renames FROM to TO, then reads TO. */
static void cmd_mv_read(char **a)
{
	result("rename", rename(a[0], a[1]));
	cmd_read(&a[1]);
}

static const struct probe_cmd cmds[] = {
	{ "unspec-udp", 2, cmd_unspec_udp },
	{ "unspec-dns", 1, cmd_unspec_dns },
	{ "swap-unix", 2, cmd_swap_unix },
	{ "swap-udp", 3, cmd_swap_udp },
	{ "swap-stream", 3, cmd_swap_stream },
	{ "bind-unix", 1, cmd_bind_unix },
	{ "nl-group", 1, cmd_nl_group },
	{ "read", 1, cmd_read },
	{ "rename-read", 3, cmd_rename_read },
	{ "mv-read", 2, cmd_mv_read },
};

int main(int argc, char **argv)
{
	return run_one_cmd("escape", cmds, NCMDS(cmds), argc, argv);
}
