/* fuzz_zonefile.c - libFuzzer target for the zone-file loader and its checks (zones/):
 * each input is a master file, checked with zones_check_file() for the origin named by
 * its first "$ORIGIN" line (or example.). It must never crash or leak, and must say
 * SP_EZONE exactly when it reported an error. When the check passes, the round trip
 * must hold: the zone compiles into a scratch LMDB store, its dump checks clean, and
 * the dump compiled and dumped again is the same text (dump is a fixed point). Runs in
 * the fuzzer's one thread; the store lives in the scratch directory removed at exit.
 * ($INCLUDE reads real files; only regular files are read, so a fuzzed path cannot
 * hang on a device.) */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/errors.h"
#include "zones/internal.h"
#include "tests/fuzz/fuzz_util.h"

static struct zones_db *db;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char dbdir[128];
	snprintf(dbdir, sizeof(dbdir), "%s/db", fuzz_dir());
	if (mkdir(dbdir, 0700) != 0 || zones_db_open(dbdir, 0, (size_t)256 << 20, &db) != 0) {
		fprintf(stderr, "fuzz_zonefile: cannot create the zone store in %s\n", dbdir);
		abort();
	}
	/* A scratch store: durability buys nothing here and fsync would dominate. */
	mdb_env_set_flags(db->env, MDB_NOSYNC | MDB_NOMETASYNC, 1);
	return 0;
}

/* The origin the file names first ("$ORIGIN name" at the start of a line), so seeds
 * from the test zones load for the zone they were written for. */
static void
pick_origin(const char *text, char *origin, size_t cap)
{
	snprintf(origin, cap, "example.");
	for (const char *p = text; p != NULL && *p != 0; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncasecmp(p, "$ORIGIN", 7) != 0 || (p[7] != ' ' && p[7] != '\t'))
			continue;
		p += 7;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strcspn(p, " \t\r\n;");
		if (n > 0 && n < cap) {
			memcpy(origin, p, n);
			origin[n] = 0;
		}
		return;
	}
}

/* Dumps origin from the store into a malloc'd string (*len octets). */
static char *
dump(const char *origin, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (f == NULL)
		abort();
	int rc = zones_dump(db, origin, f);
	fclose(f);
	FUZZ_CHECK(rc == 0, "zones_dump of a compiled zone: %s; it wrote:\n%s", sp_strerror(rc),
	           buf ? buf : "");
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return -1;
	char *text = malloc(size + 1);
	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = 0;
	char origin[300];
	pick_origin(text, origin, sizeof(origin));
	const char *path = fuzz_write("input.zone", data, size);
	struct zones_compile_opts opts = { 0 };
	struct zones_report rep;

	fuzz_report_init(&rep);
	int rc = zones_check_file(origin, path, &opts, &rep);
	FUZZ_CHECK(rc == 0 || rc == SP_EZONE || rc == -ENOMEM || rc == -E2BIG,
	           "zones_check_file returned %d (%s)", rc, sp_strerror(rc));
	FUZZ_CHECK((rc == SP_EZONE) == (rep.errors > 0),
	           "rc %d with %u errors reported", rc, rep.errors);
	if (rc != 0) {
		free(text);
		return 0;
	}

	/* Round trip: compile, dump, re-check the dump, compile it, dump again. */
	fuzz_report_init(&rep);
	rc = zones_compile_file(db, origin, path, &opts, &rep);
	FUZZ_CHECK(rc == 0, "a zone that checks does not compile: %s", sp_strerror(rc));
	size_t len1 = 0, len2 = 0;
	char *d1 = dump(origin, &len1);
	const char *dpath = fuzz_write("dump.zone", d1, len1);
	fuzz_report_init(&rep);
	rc = zones_check_file(origin, dpath, &opts, &rep);
	FUZZ_CHECK(rc == 0, "the dump of a good zone does not check: %s (%u errors)\n%s",
	           sp_strerror(rc), rep.errors, d1);
	fuzz_report_init(&rep);
	rc = zones_compile_file(db, origin, dpath, &opts, &rep);
	FUZZ_CHECK(rc == 0, "the dump does not compile: %s", sp_strerror(rc));
	char *d2 = dump(origin, &len2);
	FUZZ_CHECK(len1 == len2 && memcmp(d1, d2, len1) == 0,
	           "dump is not a fixed point:\n--- first\n%s--- second\n%s", d1, d2);
	rc = zones_delete(db, origin);
	FUZZ_CHECK(rc == 0, "zones_delete: %s", sp_strerror(rc));
	free(d1);
	free(d2);
	free(text);
	return 0;
}
