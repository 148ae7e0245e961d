/*
 * The exec probe (tests/it/exec.rs), built static with musl and dynamic
 * with glibc.  One command per run:
 *
 *   hello ARGS...            prints "hello ARGS..." (the target of execs)
 *   mark FILE NAME           appends NAME to FILE (a marker of what ran)
 *   execve PATH ARGS...      execve(PATH, [PATH, ARGS...]); on failure
 *                            prints "execve: ERRNO" and exits 2
 *   execveat-fd PATH ARGS... open(PATH, O_PATH), execveat(fd, "", …,
 *                            AT_EMPTY_PATH) (fexecve)
 *   procfd PATH ARGS...      open(PATH, O_RDONLY), execve("/proc/self/fd/N")
 *   nofollow PATH ARGS...    execveat(AT_FDCWD, PATH, …, AT_SYMLINK_NOFOLLOW)
 *   thread PATH ARGS...      a second thread (not the leader) execs PATH
 *   traced PATH ARGS...      a child that its parent traces (PTRACE_TRACEME)
 *                            execs PATH; prints the child's "execve: ERRNO"
 *                            or its output, and "child: STATUS"
 *   race A D MARKER N        N children, each a thread flipping the path
 *                            buffer between A and D while the main thread
 *                            execs it ("mark MARKER A" / "… D"), retrying
 *                            after a failure; prints "ran=… killed=…
 *                            failed=…"
 *   race-link A D MARKER N   the same with a symlink "link" in the working
 *                            directory exchanged between A and D
 *                            (renameat2 RENAME_EXCHANGE with "other")
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROBE_NAME "exec"
#include "common.h"

extern char **environ;

static int failed(const char *what)
{
	printf("%s: %s\n", what, ename(errno));
	fflush(stdout);
	return 2;
}

/* argv for the new image: PATH, then the rest. */
static char **args_of(char *path, char **rest)
{
	int n = 0;
	while (rest[n])
		n++;
	char **v = calloc(n + 2, sizeof *v);
	v[0] = path;
	for (int i = 0; i < n; i++)
		v[i + 1] = rest[i];
	return v;
}

static char *thread_path;
static char **thread_args;

static void *exec_thread(void *arg)
{
	(void)arg;
	syscall(SYS_execve, thread_path, thread_args, environ);
	failed("execve");
	exit(2);
}

static char buf[4096];
static const char *pa, *pd;
static volatile int stop_flip;

static void *flipper(void *arg)
{
	(void)arg;
	for (unsigned i = 0; !stop_flip; i++)
		strcpy(buf, (i & 1) ? pd : pa);
	return NULL;
}

static void *link_flipper(void *arg)
{
	(void)arg;
	while (!stop_flip)
		syscall(SYS_renameat2, AT_FDCWD, "link", AT_FDCWD, "other", 2 /* RENAME_EXCHANGE */);
	return NULL;
}

static int race(int by_link, const char *marker, int trials)
{
	int ran = 0, killed = 0, other = 0;
	if (by_link) {
		unlink("link");
		unlink("other");
		if (symlink(pa, "link") || symlink(pd, "other"))
			return failed("symlink");
	}
	for (int t = 0; t < trials; t++) {
		pid_t pid = fork();
		if (pid == 0) {
			strcpy(buf, by_link ? "link" : pa);
			pthread_t th;
			pthread_create(&th, NULL, by_link ? link_flipper : flipper, NULL);
			char *av[] = { buf, "mark", (char *)marker, "?", NULL };
			for (int i = 0; i < 2000; i++) {
				/* The name the image writes: what it was meant to be. */
				av[3] = (char *)"ran";
				syscall(SYS_execve, buf, av, environ);
			}
			_exit(3);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid)
			return failed("waitpid");
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ran++;
		else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			killed++;
		else
			other++;
	}
	printf("ran=%d killed=%d other=%d\n", ran, killed, other);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: exec COMMAND ...\n");
		return 64;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "hello")) {
		printf("hello");
		for (int i = 2; i < argc; i++)
			printf(" %s", argv[i]);
		printf("\n");
		return 0;
	}
	if (!strcmp(cmd, "mark") && argc == 4) {
		/* Which file ran: /proc/self/exe, not the name asked for. */
		char exe[4096];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		exe[n > 0 ? n : 0] = 0;
		int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return failed("open marker");
		dprintf(fd, "%s\n", exe);
		close(fd);
		return 0;
	}
	if (argc < 3) {
		fprintf(stderr, "exec %s: missing PATH\n", cmd);
		return 64;
	}
	char *path = argv[2];
	char **av = args_of(path, argv + 3);
	if (!strcmp(cmd, "execve")) {
		syscall(SYS_execve, path, av, environ);
		return failed("execve");
	}
	if (!strcmp(cmd, "execveat-fd")) {
		int fd = open(path, O_PATH);
		if (fd < 0)
			return failed("open");
		syscall(SYS_execveat, fd, "", av, environ, AT_EMPTY_PATH);
		return failed("execveat");
	}
	if (!strcmp(cmd, "procfd")) {
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			return failed("open");
		char p[64];
		snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
		syscall(SYS_execve, p, av, environ);
		return failed("execve");
	}
	if (!strcmp(cmd, "nofollow")) {
		syscall(SYS_execveat, AT_FDCWD, path, av, environ, AT_SYMLINK_NOFOLLOW);
		return failed("execveat");
	}
	if (!strcmp(cmd, "thread")) {
		thread_path = path;
		thread_args = av;
		pthread_t th;
		pthread_create(&th, NULL, exec_thread, NULL);
		for (;;)
			pause();
	}
	if (!strcmp(cmd, "traced")) {
		pid_t pid = fork();
		if (pid == 0) {
			if (ptrace(PTRACE_TRACEME, 0, 0, 0))
				_exit(failed("ptrace"));
			raise(SIGSTOP);
			syscall(SYS_execve, path, av, environ);
			_exit(failed("execve"));
		}
		int st;
		for (;;) {
			if (waitpid(pid, &st, 0) != pid)
				return failed("waitpid");
			if (WIFEXITED(st) || WIFSIGNALED(st))
				break;
			/* Let it go on (the exec's SIGTRAP included, swallowed). */
			int sig = WSTOPSIG(st);
			ptrace(PTRACE_CONT, pid, 0, sig == SIGSTOP || sig == SIGTRAP ? 0 : sig);
		}
		printf("child: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return 0;
	}
	if ((!strcmp(cmd, "race") || !strcmp(cmd, "race-link")) && argc == 6) {
		pa = argv[2], pd = argv[3];
		return race(!strcmp(cmd, "race-link"), argv[4], atoi(argv[5]));
	}
	fprintf(stderr, "exec: unknown command %s\n", cmd);
	return 64;
}
