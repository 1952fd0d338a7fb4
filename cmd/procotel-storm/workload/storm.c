// storm: the workload of procotel's storm harness. It forks W workers; each
// runs cycles of one kind as fast as it can (or at a fixed rate) for the
// given time, reaping every child. It prints its ground truth as JSON: how
// many cycles, processes, execs, failed execs, signals and threads it
// caused, the CPU time its whole tree used, and how long it took.
//
// usage: storm MODE WORKERS SECONDS TRUE_PATH [RATE]
//   MODE: fork     fork + exit
//         exec     fork + exec + exit
//         execfail fork + failed exec (ENOENT) + exit
//         signal   fork + kill(SIGTERM) of the child + reap
//         thread   pthread_create + join (no new process)
//         build    fork + exec of a compiler driver that forks and execs
//                  three tools with compiler-like command lines
//   RATE: total cycles per second over all workers; 0 (default) = fastest.
//        storm hold N keeps N sleeping processes until stdin closes.
//        storm syscalls N times N getppid() calls and prints the best
//        nanoseconds per call of five runs: what a monitor adds to every
//        system call of every process.
// When argv[0] ends in "storm-true" it is the exec target: exit 0 at once;
// when it ends in "storm-cc" it is the compiler driver of the build mode.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int ends_with(const char *s, const char *suffix) {
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

struct counts { long cycles, forks, execs, failed_execs, signals, threads, bad; };

/* The build mode's tools, as a compiler driver runs them. */
#define TOOLS 3

static int driver(const char *true_path) {
	char *tools[TOOLS][16] = {
		{"storm-true", "-quiet", "-imultiarch", "x86_64-linux-gnu", "-D_GNU_SOURCE", "unit.c",
		 "-quiet", "-dumpbase", "unit.c", "-mtune=generic", "-march=x86-64", "-O2", "-o",
		 "/tmp/ccX1.s", NULL},
		{"storm-true", "--64", "-o", "/tmp/ccX1.o", "/tmp/ccX1.s", NULL},
		{"storm-true", "-plugin", "liblto_plugin.so", "--build-id", "--eh-frame-hdr", "-m",
		 "elf_x86_64", "-dynamic-linker", "/lib64/ld-linux-x86-64.so.2", "-o", "unit",
		 "/tmp/ccX1.o", "-lc", NULL},
	};
	char *env[] = {"PATH=/usr/bin:/bin", "LANG=C", NULL};
	for (int i = 0; i < TOOLS; i++) {
		pid_t k = fork();
		if (k < 0) return 1;
		if (k == 0) { execve(true_path, tools[i], env); _exit(127); }
		int st;
		if (waitpid(k, &st, 0) != k || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
	}
	return 0;
}

static void *thread_main(void *arg) { return arg; }

/* cycle runs one cycle of mode and counts what it caused. */
static void cycle(const char *mode, const char *self, const char *true_path, struct counts *c) {
	if (strcmp(mode, "thread") == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, thread_main, NULL) != 0 || pthread_join(t, NULL) != 0) c->bad++;
		c->threads++;
		c->cycles++;
		return;
	}
	int exec_mode = strcmp(mode, "exec") == 0, fail_mode = strcmp(mode, "execfail") == 0;
	int signal_mode = strcmp(mode, "signal") == 0, build_mode = strcmp(mode, "build") == 0;
	char *cargv[] = {"storm-true", NULL};
	char *dargv[] = {"storm-cc", "-O2", "-c", "unit.c", "-o", "unit.o", NULL};
	char *cenv[] = {NULL};
	pid_t k = fork();
	if (k < 0) { perror("fork"); _exit(1); }
	if (k == 0) {
		if (exec_mode) execve(true_path, cargv, cenv);
		else if (fail_mode) { execve("/nonexistent/storm-missing", cargv, cenv); _exit(errno == ENOENT ? 0 : 1); }
		else if (build_mode) execve(self, dargv, cenv);
		else if (signal_mode) { for (;;) pause(); }
		else _exit(0);
		_exit(127);
	}
	c->forks++;
	if (exec_mode) c->execs++;
	if (fail_mode) c->failed_execs++;
	if (build_mode) { c->forks += TOOLS; c->execs += 1 + TOOLS; }
	if (signal_mode) {
		if (kill(k, SIGTERM) != 0) c->bad++;
		c->signals++;
	}
	int st;
	int ok = waitpid(k, &st, 0) == k;
	if (signal_mode) ok = ok && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM;
	else ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!ok) c->bad++;
	c->cycles++;
}

/* syscalls times n raw getppid calls, five times, and prints the best ns per call. */
static int syscalls(long n) {
	double best = 0;
	for (int r = 0; r < 5; r++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (long i = 0; i < n; i++) syscall(SYS_getppid);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
		if (r == 0 || ns < best) best = ns;
	}
	printf("{\"ns_per_syscall\":%.1f}\n", best);
	return 0;
}

/*
 * hold keeps n sleeping processes alive until its stdin closes: the
 * population of procotel's start-up check. It prints "ready" when all exist.
 */
static int hold(int n) {
	pid_t *kids = calloc(n, sizeof(pid_t));
	if (!kids) return 1;
	for (int i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] < 0) { perror("fork"); n = i; break; }
		if (kids[i] == 0) { for (;;) pause(); }
	}
	printf("ready %d\n", n);
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof(buf)) > 0) {}
	for (int i = 0; i < n; i++) kill(kids[i], SIGKILL);
	for (int i = 0; i < n; i++) waitpid(kids[i], NULL, 0);
	return 0;
}

int main(int argc, char **argv) {
	if (ends_with(argv[0], "storm-true")) return 0;
	if (ends_with(argv[0], "storm-cc")) {
		char true_path[4096];
		ssize_t n = readlink("/proc/self/exe", true_path, sizeof(true_path) - 16);
		if (n < 0) return 1;
		true_path[n] = 0;
		char *slash = strrchr(true_path, '/');
		strcpy(slash ? slash + 1 : true_path, "storm-true");
		return driver(true_path);
	}
	if (argc == 3 && strcmp(argv[1], "hold") == 0) return hold(atoi(argv[2]));
	if (argc == 3 && strcmp(argv[1], "syscalls") == 0) return syscalls(atol(argv[2]));
	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: storm fork|exec|execfail|signal|thread|build WORKERS SECONDS TRUE_PATH [RATE]\n");
		return 2;
	}
	const char *mode = argv[1];
	int workers = atoi(argv[2]);
	double seconds = atof(argv[3]);
	char *true_path = argv[4];
	double rate = argc == 6 ? atof(argv[5]) : 0;
	/* The driver is reached through a link named storm-cc beside storm-true. */
	char driver_path[4096];
	snprintf(driver_path, sizeof(driver_path), "%s", true_path);
	char *slash = strrchr(driver_path, '/');
	strcpy(slash ? slash + 1 : driver_path, "storm-cc");

	struct counts *c = mmap(NULL, sizeof(struct counts) * workers, PROT_READ | PROT_WRITE,
	                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED) { perror("mmap"); return 1; }
	memset(c, 0, sizeof(struct counts) * workers);
	double start = now();
	for (int w = 0; w < workers; w++) {
		pid_t p = fork();
		if (p < 0) { perror("fork"); return 1; }
		if (p == 0) {
			double end = start + seconds;
			double period = rate > 0 ? workers / rate : 0;
			double next = start + (period * w) / workers;
			for (;;) {
				double t = now();
				if (t >= end) break;
				if (period > 0) {
					if (t < next) {
						double d = next - t;
						struct timespec ts = {(time_t)d, (long)((d - (time_t)d) * 1e9)};
						nanosleep(&ts, NULL);
						continue;
					}
					next += period;
				}
				cycle(mode, driver_path, true_path, &c[w]);
			}
			_exit(0);
		}
	}
	for (int w = 0; w < workers; w++) {
		int st;
		if (wait(&st) < 0) { perror("wait"); return 1; }
	}
	double elapsed = now() - start;
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	struct counts t = {0};
	for (int w = 0; w < workers; w++) {
		t.cycles += c[w].cycles; t.forks += c[w].forks; t.execs += c[w].execs;
		t.failed_execs += c[w].failed_execs; t.signals += c[w].signals;
		t.threads += c[w].threads; t.bad += c[w].bad;
	}
	printf("{\"pid\":%d,\"workers\":%d,\"cycles\":%ld,\"forks\":%ld,\"execs\":%ld,\"failed_execs\":%ld,"
	       "\"signals\":%ld,\"threads\":%ld,\"bad\":%ld,\"cpu\":%.6f,\"elapsed\":%.6f}\n",
	       getpid(), workers, t.cycles, t.forks, t.execs, t.failed_execs, t.signals, t.threads, t.bad,
	       cpu, elapsed);
	return t.bad ? 1 : 0;
}
