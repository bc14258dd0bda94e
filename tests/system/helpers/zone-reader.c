/* zone-reader.c - test helper for tests/system/test_zone_store.py: reads one zone over and
 * over through the answer path's read API while another process recompiles it, and prints
 * a line for every snapshot whose contents disagree with its SOA serial.
 *
 * The zone the test writes for serial S has names n0 .. n(count(S) - 1) below the origin,
 * each with one TXT record "serial-S", and no other nK names; count(S) = (S * 7) % max + 1.
 * A reader that ever sees a name missing, extra, or holding another serial has seen a mix
 * of two versions: exactly what one write transaction per compile must prevent.
 *
 * Usage: zone-reader DB ORIGIN MAX STOPFILE [SECONDS]
 * Runs until STOPFILE exists (or SECONDS pass, default 120), then prints
 * "snapshots=N serials=M inconsistencies=K" and exits 0 (1 if the db would not open).
 * One thread. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/dname.h"
#include "lib/errors.h"
#include "zones/zones.h"

#define MAX_NAMES 512
#define MAX_SERIALS 4096

struct reader {
	struct zones_snapshot *snap;
	uint8_t origin[DNAME_MAXLEN];
	uint8_t names[MAX_NAMES][DNAME_MAXLEN];
	unsigned max;
	uint32_t serials[MAX_SERIALS];
	unsigned nserials;
	uint64_t snapshots;
	uint64_t bad;
};

static unsigned
names_for(uint32_t serial, unsigned max)
{
	return (unsigned)(((uint64_t)serial * 7) % max) + 1;
}

static void
saw_serial(struct reader *r, uint32_t serial)
{
	for (unsigned i = 0; i < r->nserials; i++) {
		if (r->serials[i] == serial)
			return;
	}
	if (r->nserials < MAX_SERIALS)
		r->serials[r->nserials++] = serial;
}

static void
inconsistent(struct reader *r, uint32_t serial, unsigned i, const char *what)
{
	r->bad++;
	printf("INCONSISTENT serial=%" PRIu32 " name=n%u: %s\n", serial, i, what);
	fflush(stdout);
}

/* Skips a wire name inside rdata; returns its length or 0 if it runs past end. */
static size_t
skip_name(const uint8_t *p, size_t avail)
{
	size_t off = 0;

	while (off < avail) {
		uint8_t l = p[off];
		off += 1 + (size_t)l;
		if (l == 0)
			return off <= avail ? off : 0;
	}
	return 0;
}

/* The SERIAL field of the zone's SOA RRset (RFC 1035 3.3.13), or false if malformed. */
static bool
soa_serial(const struct zones_rrset *soa, uint32_t *serial)
{
	if (soa->count != 1 || soa->len < 2)
		return false;
	const uint8_t *p = soa->rdata + 2;
	size_t avail = soa->len - 2;
	size_t n1 = skip_name(p, avail);
	if (n1 == 0)
		return false;
	size_t n2 = skip_name(p + n1, avail - n1);
	if (n2 == 0 || avail < n1 + n2 + 20)
		return false;
	p += n1 + n2;
	*serial = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return true;
}

static void
check_name(struct reader *r, uint32_t serial, unsigned i, bool present)
{
	struct zones_result res;
	char want[32], msg[160];
	int kind = zones_lookup(r->snap, r->names[i], 16 /* TXT */, &res);

	if (!present) {
		if (kind != ZONES_NXDOMAIN) {
			snprintf(msg, sizeof(msg), "expected NXDOMAIN, lookup gave %d", kind);
			inconsistent(r, serial, i, msg);
		}
		return;
	}
	if (kind != ZONES_FOUND) {
		snprintf(msg, sizeof(msg), "expected a TXT record, lookup gave %d", kind);
		inconsistent(r, serial, i, msg);
		return;
	}
	if (res.zone.serial != serial) {
		snprintf(msg, sizeof(msg), "lookup reports zone serial %" PRIu32, res.zone.serial);
		inconsistent(r, serial, i, msg);
		return;
	}
	int wl = snprintf(want, sizeof(want), "serial-%" PRIu32, serial);
	const uint8_t *rd = res.rrset.rdata;
	/* One record: RDLENGTH, then one character-string (length octet + text). */
	if (res.rrset.count != 1 || res.rrset.len != 2 + 1 + wl || rd[0] != 0 ||
	    rd[1] != 1 + wl || rd[2] != wl || memcmp(rd + 3, want, (size_t)wl) != 0) {
		int tl = res.rrset.len >= 3 ? rd[2] : 0;
		if (tl > res.rrset.len - 3)
			tl = res.rrset.len - 3;
		snprintf(msg, sizeof(msg), "TXT holds \"%.*s\" (%u records)", tl,
		         res.rrset.len >= 3 ? (const char *)rd + 3 : "", res.rrset.count);
		inconsistent(r, serial, i, msg);
	}
}

static void
check_snapshot(struct reader *r)
{
	struct zones_zone zone;
	struct zones_result res;
	uint32_t soa;

	if (!zones_find_zone(r->snap, r->origin, &zone))
		return;  /* not compiled yet */
	r->snapshots++;
	saw_serial(r, zone.serial);
	/* The apex SOA as the answer path sees it must carry the serial the zone record has. */
	if (zones_lookup(r->snap, r->origin, 6 /* SOA */, &res) != ZONES_FOUND ||
	    !soa_serial(&res.rrset, &soa) || soa != zone.serial) {
		inconsistent(r, zone.serial, 0, "apex SOA serial differs from the zone's serial");
		return;
	}
	unsigned count = names_for(zone.serial, r->max);
	for (unsigned i = 0; i < r->max; i++)
		check_name(r, zone.serial, i, i < count);
}

int
main(int argc, char **argv)
{
	static struct reader r;
	struct zones_db *db = NULL;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: zone-reader DB ORIGIN MAX STOPFILE [SECONDS]\n");
		return 2;
	}
	r.max = (unsigned)strtoul(argv[3], NULL, 10);
	if (r.max == 0 || r.max > MAX_NAMES || dname_from_str(argv[2], r.origin) == 0) {
		fprintf(stderr, "zone-reader: bad MAX or ORIGIN\n");
		return 2;
	}
	for (unsigned i = 0; i < r.max; i++) {
		char text[1100];
		snprintf(text, sizeof(text), "n%u.%s", i, argv[2]);
		if (dname_from_str(text, r.names[i]) == 0) {
			fprintf(stderr, "zone-reader: bad name %s\n", text);
			return 2;
		}
	}
	int rc = zones_db_open(argv[1], ZONES_DB_RDONLY, 0, &db);
	if (rc != 0) {
		fprintf(stderr, "zone-reader: open %s: %s\n", argv[1], sp_strerror(rc));
		return 1;
	}
	r.snap = zones_snapshot_new(db);
	if (r.snap == NULL) {
		fprintf(stderr, "zone-reader: no snapshot\n");
		zones_db_close(db);
		return 1;
	}
	time_t deadline = time(NULL) + (argc == 6 ? atoi(argv[5]) : 120);
	/* The stop file is polled between snapshots, never inside one. */
	printf("ready\n");
	fflush(stdout);
	for (uint64_t iter = 0;; iter++) {
		if (iter % 16 == 0 && (access(argv[4], F_OK) == 0 || time(NULL) > deadline))
			break;
		rc = zones_snapshot_begin(r.snap);
		if (rc != 0) {
			printf("ERROR snapshot_begin: %s\n", sp_strerror(rc));
			r.bad++;
			break;
		}
		check_snapshot(&r);
		zones_snapshot_end(r.snap);
	}
	printf("snapshots=%" PRIu64 " serials=%u inconsistencies=%" PRIu64 "\n", r.snapshots,
	       r.nserials, r.bad);
	zones_snapshot_free(r.snap);
	zones_db_close(db);
	return 0;
}
