// storm: the workload of procotel's storm harness. It forks W workers; each
// runs fork (+ exec of a tiny static program) + exit cycles as fast as it can
// for the given time, reaping every child. It prints its ground truth as JSON:
// how many processes it created, exec'd and reaped, and how long it took.
//
// usage: storm MODE WORKERS SECONDS TRUE_PATH
//   MODE: fork (fork+exit) or exec (fork+exec+exit)
// When argv[0] ends in "storm-true" it is the exec target: exit 0 at once.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct counts { long forks, execs, failed_waits; };

int main(int argc, char **argv) {
	size_t n = strlen(argv[0]);
	if (n >= 10 && strcmp(argv[0] + n - 10, "storm-true") == 0) return 0;
	if (argc != 5) {
		fprintf(stderr, "usage: storm fork|exec WORKERS SECONDS TRUE_PATH\n");
		return 2;
	}
	int exec_mode = strcmp(argv[1], "exec") == 0;
	int workers = atoi(argv[2]);
	double seconds = atof(argv[3]);
	char *true_path = argv[4];
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
			char *cargv[] = {"storm-true", NULL};
			char *cenv[] = {NULL};
			while (now() < end) {
				pid_t k = fork();
				if (k < 0) { perror("fork"); _exit(1); }
				if (k == 0) {
					if (exec_mode) { execve(true_path, cargv, cenv); _exit(127); }
					_exit(0);
				}
				c[w].forks++;
				if (exec_mode) c[w].execs++;
				int st;
				if (waitpid(k, &st, 0) != k || !WIFEXITED(st) || WEXITSTATUS(st) != 0) c[w].failed_waits++;
			}
			_exit(0);
		}
	}
	for (int w = 0; w < workers; w++) {
		int st;
		if (wait(&st) < 0) { perror("wait"); return 1; }
	}
	double elapsed = now() - start;
	long forks = 0, execs = 0, bad = 0;
	for (int w = 0; w < workers; w++) { forks += c[w].forks; execs += c[w].execs; bad += c[w].failed_waits; }
	printf("{\"pid\":%d,\"workers\":%d,\"cycles\":%ld,\"execs\":%ld,\"bad_exits\":%ld,\"elapsed\":%.6f}\n",
	       getpid(), workers, forks, execs, bad, elapsed);
	return bad ? 1 : 0;
}
