/* fuzz_util.h - what the libFuzzer targets of tests/fuzz/ share: a private scratch
 * directory (on tmpfs when there is one) removed at exit, files written into it, a
 * zones_report that counts without printing, and the abort used for broken invariants.
 * Single-threaded: libFuzzer runs each target in one thread (use -jobs for more). */
#ifndef SP_FUZZ_UTIL_H
#define SP_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "zones/zones.h"

/* libFuzzer's entry points (declared here for -Wmissing-prototypes). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scratch directory, created on the first call and removed (with what is in it)
 * at exit. */
const char *fuzz_dir(void);
/* Writes len octets to fuzz_dir()/name and returns the path (static storage, valid
 * until the next call). Aborts on I/O failure: that is the machine, not a finding. */
const char *fuzz_write(const char *name, const void *data, size_t len);
/* Removes a directory tree (the LMDB directories of a target). */
void fuzz_rmtree(const char *path);
/* A report that keeps quiet: the counts are all the targets look at. Set FUZZ_VERBOSE
 * in the environment to print the messages (when reproducing a finding). */
void fuzz_report_init(struct zones_report *rep);

/* Aborts with a message when an invariant fails: libFuzzer then saves the input. Not
 * assert(): it must hold in every build. */
#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)
void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

#endif
