/* fuzz_util.c - scratch files, quiet reports and the invariant abort for the libFuzzer
 * targets (the fuzzing thread only). */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_util.h"

static char scratch[64];
static pid_t scratch_owner;

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void
fuzz_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
cleanup(void)
{
	/* -fork/-jobs children inherit atexit handlers: only the creator removes it. */
	if (scratch[0] != 0 && getpid() == scratch_owner)
		fuzz_rmtree(scratch);
}

const char *
fuzz_dir(void)
{
	if (scratch[0] != 0)
		return scratch;
	struct stat st;
	const char *base = (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)) ? "/dev/shm" : "/tmp";
	snprintf(scratch, sizeof(scratch), "%s/signpost-fuzz-XXXXXX", base);
	if (mkdtemp(scratch) == NULL) {
		perror("mkdtemp");
		abort();
	}
	scratch_owner = getpid();
	atexit(cleanup);
	return scratch;
}

const char *
fuzz_write(const char *name, const void *data, size_t len)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n <= 0) {
			perror(path);
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	return path;
}

static void
report_print(void *ctx, enum zones_severity sev, const char *file, unsigned line,
             const char *msg)
{
	(void)ctx;
	fprintf(stderr, "%s:%u: %s: %s\n", file, line, sev == ZONES_ERROR ? "error" : "warning",
	        msg);
}

static void
report_none(void *ctx, enum zones_severity sev, const char *file, unsigned line,
            const char *msg)
{
	(void)ctx;
	(void)sev;
	(void)file;
	(void)line;
	(void)msg;
}

void
fuzz_report_init(struct zones_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->fn = getenv("FUZZ_VERBOSE") ? report_print : report_none;
}

void
fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "\n%s:%d: invariant failed: %s\n  ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
