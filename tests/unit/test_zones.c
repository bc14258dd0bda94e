/* test_zones.c - zones/: master file checks, compiling into LMDB, and lookups.
 * Every fixture is a zone written to a temporary file and compiled into a temporary
 * database; assertions are on what zones_lookup() and the reports really return. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <ldns/ldns.h>
#include <lmdb.h>

#include "lib/dname.h"
#include "lib/errors.h"
#include "lib/log.h"
#include "zones/zones.h"
#include "zones/internal.h"  /* the snapshot's caches, for the parked-snapshot tests */

#define N(s) ((const uint8_t *)(s))

/* ---- fixture helpers ---------------------------------------------------------------- */

struct msg {
	enum zones_severity sev;
	char file[64];
	unsigned line;
	char text[512];
};

struct fixture {
	char dir[64];
	char dbdir[80];
	struct zones_db *db;
	struct zones_snapshot *snap;
	struct zones_report rep;
	struct msg msgs[32];
	unsigned nmsgs;
};

static void
collect(void *ctx, enum zones_severity sev, const char *file, unsigned line, const char *text)
{
	struct fixture *f = ctx;
	if (f->nmsgs == sizeof(f->msgs) / sizeof(f->msgs[0]))
		return;
	struct msg *m = &f->msgs[f->nmsgs++];
	const char *base = strrchr(file, '/');
	m->sev = sev;
	snprintf(m->file, sizeof(m->file), "%s", base ? base + 1 : file);
	m->line = line;
	snprintf(m->text, sizeof(m->text), "%s", text);
}

static void
reset_report(struct fixture *f)
{
	f->rep = (struct zones_report){.fn = collect, .ctx = f};
	f->nmsgs = 0;
}

/* The message of severity sev at file:line containing text, or fail. */
static void
expect_msg(struct fixture *f, enum zones_severity sev, const char *file, unsigned line,
           const char *text)
{
	for (unsigned i = 0; i < f->nmsgs; i++) {
		struct msg *m = &f->msgs[i];
		if (m->sev == sev && m->line == line && strcmp(m->file, file) == 0 &&
		    strstr(m->text, text) != NULL)
			return;
	}
	for (unsigned i = 0; i < f->nmsgs; i++)
		print_message("  got %s:%u: %s: %s\n", f->msgs[i].file, f->msgs[i].line,
		              f->msgs[i].sev == ZONES_ERROR ? "error" : "warning", f->msgs[i].text);
	fail_msg("expected %s at %s:%u containing '%s'",
	         sev == ZONES_ERROR ? "error" : "warning", file, line, text);
}

static void
write_file(struct fixture *f, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static int
compile_text(struct fixture *f, const char *origin, const char *name, const char *text,
             const struct zones_compile_opts *o)
{
	char path[256];
	write_file(f, name, text);
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	reset_report(f);
	return zones_compile_file(f->db, origin, path, o, &f->rep);
}

static int
check_text(struct fixture *f, const char *text)
{
	char path[256];
	write_file(f, "z.zone", text);
	snprintf(path, sizeof(path), "%s/z.zone", f->dir);
	reset_report(f);
	return zones_check_file("example.", path, NULL, &f->rep);
}

static int
setup_empty(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_zones.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->dbdir, sizeof(f->dbdir), "%s/db", f->dir);
	assert_int_equal(zones_db_open(f->dbdir, 0, 64u << 20, &f->db), 0);
	f->snap = zones_snapshot_new(f->db);
	assert_non_null(f->snap);
	reset_report(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	zones_snapshot_free(f->snap);
	zones_db_close(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static const char example_zone[] =
	"$ORIGIN example.\n"
	"$TTL 3600\n"
	"@       SOA ns1 hostmaster (\n"
	"            2024010101 ; serial\n"
	"            7200 3600 1209600 300 )\n"
	"@       NS ns1\n"
	"@       NS ns2.example.net.\n"
	"ns1     A 192.0.2.1\n"
	"www     A 192.0.2.10\n"
	"        AAAA 2001:db8::10\n"
	"alias   CNAME www\n"
	"*.wild  TXT \"wild; not a comment\"\n"
	"*.wild  MX 10 www\n"
	"x.wild  A 192.0.2.20\n"
	"a.b.ent A 192.0.2.30\n"
	"*.ent   A 192.0.2.31\n"
	"sub     NS ns.sub\n"
	"sub     DS 12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE3D9C4D8E0E2C6F8B1E3C0A1B\n"
	"ns.sub  A 192.0.2.40\n"
	"d       DNAME target.example.net.\n"
	"esc\\.dot A 192.0.2.50\n"
	"UPPER   A 192.0.2.51\n";

static int
setup_example(void **state)
{
	setup_empty(state);
	struct fixture *f = *state;
	assert_int_equal(compile_text(f, "example.", "example.zone", example_zone, NULL), 0);
	assert_int_equal(f->rep.errors, 0);
	assert_int_equal(f->rep.warnings, 0);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	return 0;
}

static int
lookup(struct fixture *f, const char *name, uint16_t type, struct zones_result *res)
{
	uint8_t w[DNAME_MAXLEN];
	assert_true(dname_from_str(name, w) > 0);
	return zones_lookup(f->snap, w, type, res);
}

/* First record's RDATA of an RRset. */
static const uint8_t *
first_rdata(const struct zones_rrset *rr, uint16_t *len)
{
	*len = (uint16_t)(rr->rdata[0] << 8 | rr->rdata[1]);
	return rr->rdata + 2;
}

/* ---- lookups ------------------------------------------------------------------------ */

static void
exact_match_finds_the_rrset_and_the_soa(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	uint16_t len;
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.type, LDNS_RR_TYPE_A);
	assert_int_equal(r.rrset.count, 1);
	assert_int_equal(r.rrset.ttl, 3600);
	const uint8_t *a = first_rdata(&r.rrset, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(a, "\xc0\x00\x02\x0a", 4);
	assert_int_equal(r.soa.type, LDNS_RR_TYPE_SOA);
	assert_int_equal(r.soa.count, 1);
	assert_int_equal(r.zone.serial, 2024010101u);
	assert_int_equal(r.zone.apex_labels, 1);
	assert_false(r.wildcard);
	assert_int_equal(lookup(f, "example.", LDNS_RR_TYPE_NS, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.count, 2);
	assert_true(r.node.flags & ZONES_NODE_APEX);
}

static void
missing_type_gives_nodata(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_MX, &r), ZONES_NODATA);
	assert_int_equal(r.soa.type, LDNS_RR_TYPE_SOA);
	assert_int_equal(r.node_labels, 2);
}

static void
missing_name_gives_nxdomain_with_the_closest_encloser(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	assert_int_equal(lookup(f, "a.b.www.example.", LDNS_RR_TYPE_A, &r), ZONES_NXDOMAIN);
	assert_int_equal(r.node_labels, 2);             /* www.example. */
	assert_true(zones_node_rrset(&r.node, LDNS_RR_TYPE_A, 0, &r.rrset));
	assert_int_equal(lookup(f, "nope.example.", LDNS_RR_TYPE_A, &r), ZONES_NXDOMAIN);
	assert_int_equal(r.node_labels, 1);
	assert_true(r.node.flags & ZONES_NODE_APEX);
	/* Sorts after every name in the zone: the predecessor is the last node. */
	assert_int_equal(lookup(f, "zzzz.example.", LDNS_RR_TYPE_A, &r), ZONES_NXDOMAIN);
	assert_int_equal(r.node_labels, 1);
	assert_int_equal(r.soa.count, 1);
}

static void
wildcard_matches_a_missing_name(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	assert_int_equal(lookup(f, "anything.wild.example.", LDNS_RR_TYPE_TXT, &r), ZONES_FOUND);
	assert_true(r.wildcard);
	assert_int_equal(r.node_labels, 3);             /* *.wild.example. */
	assert_int_equal(r.rrset.type, LDNS_RR_TYPE_TXT);
	assert_int_equal(lookup(f, "a.b.wild.example.", LDNS_RR_TYPE_MX, &r), ZONES_FOUND);
	assert_true(r.wildcard);
	assert_int_equal(lookup(f, "other.wild.example.", LDNS_RR_TYPE_AAAA, &r), ZONES_NODATA);
	assert_true(r.wildcard);
}

static void
wildcard_does_not_match_an_existing_name(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	assert_int_equal(lookup(f, "x.wild.example.", LDNS_RR_TYPE_TXT, &r), ZONES_NODATA);
	assert_false(r.wildcard);
	/* Below x.wild the closest encloser is x.wild, which has no wildcard child. */
	assert_int_equal(lookup(f, "y.x.wild.example.", LDNS_RR_TYPE_TXT, &r), ZONES_NXDOMAIN);
	assert_int_equal(r.node_labels, 3);
}

static void
wildcard_is_blocked_by_an_empty_non_terminal(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	/* b.ent exists (it has a.b.ent below it), so *.ent does not apply (RFC 4592 2.2.2). */
	assert_int_equal(lookup(f, "b.ent.example.", LDNS_RR_TYPE_A, &r), ZONES_NODATA);
	assert_false(r.wildcard);
	assert_true(r.node.flags & ZONES_NODE_ENT);
	assert_int_equal(lookup(f, "c.b.ent.example.", LDNS_RR_TYPE_A, &r), ZONES_NXDOMAIN);
	assert_int_equal(r.node_labels, 3);
	assert_int_equal(lookup(f, "z.ent.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_true(r.wildcard);
}

static void
empty_non_terminal_gives_nodata(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	assert_int_equal(lookup(f, "ent.example.", LDNS_RR_TYPE_A, &r), ZONES_NODATA);
	assert_true(r.node.flags & ZONES_NODE_ENT);
	assert_int_equal(r.node.nrrsets, 0);
}

static void
delegation_is_given_at_and_below_the_cut(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	assert_int_equal(lookup(f, "sub.example.", LDNS_RR_TYPE_A, &r), ZONES_DELEGATION);
	assert_int_equal(r.rrset.type, LDNS_RR_TYPE_NS);
	assert_int_equal(r.node_labels, 2);
	assert_int_equal(lookup(f, "www.sub.example.", LDNS_RR_TYPE_A, &r), ZONES_DELEGATION);
	assert_int_equal(r.rrset.type, LDNS_RR_TYPE_NS);
	assert_int_equal(r.node_labels, 2);
	/* Glue is not authoritative data: a query for it is referred too. */
	assert_int_equal(lookup(f, "ns.sub.example.", LDNS_RR_TYPE_A, &r), ZONES_DELEGATION);
	assert_int_equal(r.node_labels, 2);
	assert_int_equal(lookup(f, "a.ns.sub.example.", LDNS_RR_TYPE_A, &r), ZONES_DELEGATION);
	assert_int_equal(lookup(f, "sub.example.", LDNS_RR_TYPE_NS, &r), ZONES_DELEGATION);
}

static void
ds_at_the_cut_is_answered_from_the_parent(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	assert_int_equal(lookup(f, "sub.example.", LDNS_RR_TYPE_DS, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.type, LDNS_RR_TYPE_DS);
	/* DS below the cut belongs to the child: referral. */
	assert_int_equal(lookup(f, "x.sub.example.", LDNS_RR_TYPE_DS, &r), ZONES_DELEGATION);
}

static void
glue_is_found_by_find_node(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	struct zones_node n;
	struct zones_rrset rr;
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_true(zones_find_node(f->snap, &r.zone, N("\2ns\3sub\7example"), &n));
	assert_true(n.flags & ZONES_NODE_OCCLUDED);
	assert_int_equal(n.redirect_labels, 2);
	assert_true(zones_node_rrset(&n, LDNS_RR_TYPE_A, 0, &rr));
	assert_false(zones_find_node(f->snap, &r.zone, N("\2no\7example"), &n));
}

static void
name_below_a_dname_gives_the_dname(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	assert_int_equal(lookup(f, "x.d.example.", LDNS_RR_TYPE_A, &r), ZONES_DNAME);
	assert_int_equal(r.rrset.type, LDNS_RR_TYPE_DNAME);
	assert_int_equal(r.node_labels, 2);
	assert_int_equal(lookup(f, "a.b.d.example.", LDNS_RR_TYPE_A, &r), ZONES_DNAME);
	assert_int_equal(lookup(f, "d.example.", LDNS_RR_TYPE_DNAME, &r), ZONES_FOUND);
	assert_int_equal(lookup(f, "d.example.", LDNS_RR_TYPE_A, &r), ZONES_NODATA);
}

static void
cname_is_reported_not_followed(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	uint16_t len;
	assert_int_equal(lookup(f, "alias.example.", LDNS_RR_TYPE_A, &r), ZONES_CNAME);
	assert_int_equal(r.rrset.type, LDNS_RR_TYPE_CNAME);
	const uint8_t *t = first_rdata(&r.rrset, &len);
	assert_int_equal(len, sizeof("\3www\7example"));
	assert_memory_equal(t, "\3www\7example", len);
	assert_int_equal(lookup(f, "alias.example.", LDNS_RR_TYPE_CNAME, &r), ZONES_FOUND);
}

static void
escaped_dots_and_upper_case_names_are_found(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	assert_int_equal(zones_lookup(f->snap, N("\7esc.dot\7example"), LDNS_RR_TYPE_A, &r),
	                 ZONES_FOUND);
	/* "esc.dot.example." (two labels) is another name. */
	assert_int_equal(lookup(f, "esc.dot.example.", LDNS_RR_TYPE_A, &r), ZONES_NXDOMAIN);
	assert_int_equal(lookup(f, "upper.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(zones_lookup(f->snap, N("\3WwW\7EXAMPLE"), LDNS_RR_TYPE_A, &r),
	                 ZONES_FOUND);
}

static void
name_outside_every_zone_is_not_ours(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	struct zones_zone z;
	assert_int_equal(lookup(f, "www.example.org.", LDNS_RR_TYPE_A, &r), ZONES_NOT_OURS);
	assert_int_equal(lookup(f, "com.", LDNS_RR_TYPE_A, &r), ZONES_NOT_OURS);
	assert_int_equal(lookup(f, ".", LDNS_RR_TYPE_NS, &r), ZONES_NOT_OURS);
	assert_false(zones_find_zone(f->snap, N("\3foo"), &z));
	assert_true(zones_find_zone(f->snap, N("\1a\1b\1c\7example"), &z));
	assert_int_equal(z.apex_labels, 1);
}

static void
nsec_predecessor_is_found(void **state)
{
	struct fixture *f = *state;
	static const char zone[] =
		"$ORIGIN s.test.\n"
		"@ 300 SOA ns h 1 2 3 4 5\n"
		"@ 300 NS ns\n"
		"@ 300 NSEC a.s.test. SOA NS NSEC\n"
		"ns 300 A 192.0.2.1\n"
		"ns 300 NSEC z.s.test. A NSEC\n"
		"z 300 TXT z\n";
	struct zones_zone z;
	struct zones_node n;
	uint8_t owner[DNAME_MAXLEN];
	assert_int_equal(compile_text(f, "s.test.", "s.zone", zone, NULL), 0);
	zones_snapshot_begin(f->snap);
	assert_true(zones_find_zone(f->snap, N("\1q\1s\4test"), &z));
	assert_true(zones_find_nsec(f->snap, &z, N("\1q\1s\4test"), &n, owner));
	assert_true(dname_equal(owner, N("\2ns\1s\4test")));
	assert_true(zones_find_nsec(f->snap, &z, N("\1b\1s\4test"), &n, owner));
	assert_true(dname_equal(owner, N("\1s\4test")));
	/* z has no NSEC: the walk goes back to ns. */
	assert_true(zones_find_nsec(f->snap, &z, N("\1z\1s\4test"), &n, owner));
	assert_true(dname_equal(owner, N("\2ns\1s\4test")));
}

/* ---- several zones ------------------------------------------------------------------ */

static const char child_zone[] =
	"$ORIGIN sub.example.\n"
	"@ 300 SOA ns h 7 2 3 4 5\n"
	"@ 300 NS ns\n"
	"@ 300 DS 1 8 2 AAAA\n"          /* a DS at the child apex: must not be answered */
	"ns 300 A 192.0.2.40\n"
	"www 300 A 192.0.2.41\n";

static void
nested_zones_answer_from_the_closest_zone(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	static const char org[] =
		"example.org. 300 SOA ns.example.org. h 1 2 3 4 5\n"
		"example.org. 300 NS ns.example.net.\n"
		"www.example.org. 300 A 198.51.100.1\n";
	assert_int_equal(compile_text(f, "sub.example.", "sub.zone", child_zone, NULL), 0);
	assert_int_equal(compile_text(f, "example.org", "org.zone", org, NULL), 0);
	zones_snapshot_begin(f->snap);
	assert_int_equal(lookup(f, "www.sub.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.zone.apex_labels, 2);
	assert_int_equal(r.zone.serial, 7);
	assert_int_equal(lookup(f, "sub.example.", LDNS_RR_TYPE_NS, &r), ZONES_FOUND);
	assert_int_equal(r.zone.apex_labels, 2);
	/* DS at the child apex comes from the parent zone, which we also serve. */
	assert_int_equal(lookup(f, "sub.example.", LDNS_RR_TYPE_DS, &r), ZONES_FOUND);
	assert_int_equal(r.zone.apex_labels, 1);
	assert_int_equal(r.zone.serial, 2024010101u);
	assert_int_equal(r.rrset.type, LDNS_RR_TYPE_DS);
	assert_int_equal(lookup(f, "www.example.org.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.zone.apex_labels, 2);
	/* example.org. has no served parent: DS at its apex is the zone's own NODATA. */
	assert_int_equal(lookup(f, "example.org.", LDNS_RR_TYPE_DS, &r), ZONES_NODATA);
	assert_int_equal(r.zone.apex_labels, 2);
	assert_int_equal(lookup(f, "nope.example.org.", LDNS_RR_TYPE_A, &r), ZONES_NXDOMAIN);
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.zone.apex_labels, 1);
}

static void
ds_at_a_child_apex_stays_in_the_child_when_the_parent_has_no_cut(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	static const char other[] =
		"$ORIGIN other.example.\n"
		"@ 300 SOA ns h 3 2 3 4 5\n"
		"@ 300 NS ns.example.net.\n";
	/* example. serves, but does not delegate, other.example. */
	assert_int_equal(compile_text(f, "other.example.", "other.zone", other, NULL), 0);
	zones_snapshot_begin(f->snap);
	assert_int_equal(lookup(f, "other.example.", LDNS_RR_TYPE_DS, &r), ZONES_NODATA);
	assert_int_equal(r.zone.apex_labels, 2);
	assert_int_equal(r.zone.serial, 3);
}

static void
root_zone_serves_referrals_to_tlds(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	static const char root[] =
		". 86400 SOA a.root-servers.test. nstld.test. 1 1800 900 604800 86400\n"
		". 518400 NS a.root-servers.test.\n"
		"a.root-servers.test. 518400 A 127.0.0.1\n"
		"test. 172800 NS a.root-servers.test.\n"
		"com. 172800 NS ns.com.\n"
		"ns.com. 172800 A 127.0.0.2\n";
	assert_int_equal(compile_text(f, ".", "root.zone", root, NULL), 0);
	zones_snapshot_begin(f->snap);
	assert_int_equal(lookup(f, ".", LDNS_RR_TYPE_SOA, &r), ZONES_FOUND);
	assert_int_equal(r.zone.apex_labels, 0);
	assert_int_equal(lookup(f, "www.example.com.", LDNS_RR_TYPE_A, &r), ZONES_DELEGATION);
	assert_int_equal(r.node_labels, 1);
	assert_int_equal(lookup(f, "nope.", LDNS_RR_TYPE_A, &r), ZONES_NXDOMAIN);
	assert_int_equal(r.node_labels, 0);
	/* example. is served too: it is closer than the root for its names. */
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.zone.apex_labels, 1);
	assert_int_equal(lookup(f, "a.root-servers.test.", LDNS_RR_TYPE_A, &r), ZONES_DELEGATION);
}

static int
count_zones(void *ctx, const struct zones_info *info)
{
	(void)info;
	(*(int *)ctx)++;
	return 0;
}

static void
zones_are_listed_in_canonical_order_with_info(void **state)
{
	struct fixture *f = *state;
	struct zones_info info;
	int n = 0;
	assert_int_equal(compile_text(f, "sub.example.", "sub.zone", child_zone, NULL), 0);
	assert_int_equal(zones_list(f->db, count_zones, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(zones_info_get(f->db, "sub.example.", &info), 0);
	assert_string_equal(info.name, "sub.example.");
	assert_int_equal(info.serial, 7);
	assert_int_equal(info.records, 5);
	assert_non_null(strstr(info.source, "sub.zone"));
	assert_true(info.source_size > 0);
	assert_true(info.compiled_at > 0);
	assert_int_equal(zones_info_get(f->db, "nope.", &info), SP_ENOZONE);
}

/* ---- replacing, failing, deleting --------------------------------------------------- */

/* Counts nodes stored under zone id (raw LMDB), at most 200. LMDB must not be opened
 * twice in one process (closing the second handle drops the first one's locks), so a
 * child process does it, like any other reader would. */
static size_t
nodes_with_id(struct fixture *f, uint32_t id)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		MDB_env *env;
		MDB_txn *txn;
		MDB_dbi dbi;
		MDB_cursor *cur;
		MDB_val k, v;
		size_t n = 0;
		uint8_t p[4] = {id >> 24, id >> 16, id >> 8, id};
		if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 4) != 0 ||
		    mdb_env_set_mapsize(env, 64u << 20) != 0 ||
		    mdb_env_open(env, f->dbdir, MDB_RDONLY | MDB_NOTLS, 0) != 0 ||
		    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0 ||
		    mdb_dbi_open(txn, "nodes", 0, &dbi) != 0 || mdb_cursor_open(txn, dbi, &cur) != 0)
			_exit(255);
		for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT)
			n += memcmp(k.mv_data, p, 4) == 0;
		_exit(n > 200 ? 200 : (int)n);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 255);
	return (size_t)WEXITSTATUS(status);
}

static void
recompiling_replaces_the_zone_under_a_new_id(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	struct zones_info before, after;
	static const char v2[] =
		"$ORIGIN example.\n"
		"@ 300 SOA ns1 h 2024010102 2 3 4 5\n"
		"@ 300 NS ns1\n"
		"ns1 300 A 192.0.2.1\n"
		"new 300 A 192.0.2.99\n";
	assert_int_equal(zones_info_get(f->db, "example.", &before), 0);
	assert_true(nodes_with_id(f, before.id) > 10);
	/* A snapshot begun before the compile keeps seeing the old zone. */
	assert_int_equal(compile_text(f, "example.", "v2.zone", v2, NULL), 0);
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	zones_snapshot_end(f->snap);
	zones_snapshot_begin(f->snap);
	assert_int_equal(zones_info_get(f->db, "example.", &after), 0);
	assert_true(after.id > before.id);
	assert_int_equal(after.serial, 2024010102u);
	assert_int_equal(nodes_with_id(f, before.id), 0);
	assert_int_equal(nodes_with_id(f, after.id), 3);
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), ZONES_NXDOMAIN);
	assert_int_equal(lookup(f, "new.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.zone.id, after.id);
}

static void
failed_compile_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	struct zones_info before, after;
	static const char bad[] =
		"$ORIGIN example.\n"
		"@ 300 SOA ns1 h 9 2 3 4 5\n"
		"ns1 300 A 192.0.2.1\n";       /* no NS */
	assert_int_equal(zones_info_get(f->db, "example.", &before), 0);
	assert_int_equal(compile_text(f, "example.", "bad.zone", bad, NULL), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "bad.zone", 0, "no NS records");
	assert_int_equal(compile_text(f, "example.", "missing.zone", "x A 1.2.3\n", NULL),
	                 SP_EZONE);
	zones_snapshot_end(f->snap);
	zones_snapshot_begin(f->snap);
	assert_int_equal(zones_info_get(f->db, "example.", &after), 0);
	assert_int_equal(after.id, before.id);
	assert_int_equal(after.serial, 2024010101u);
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
}

static void
deleted_zone_is_gone(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	struct zones_info info;
	assert_int_equal(zones_info_get(f->db, "example.", &info), 0);
	zones_snapshot_end(f->snap);
	assert_int_equal(zones_delete(f->db, "example."), 0);
	zones_snapshot_begin(f->snap);
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), ZONES_NOT_OURS);
	assert_int_equal(zones_info_get(f->db, "example.", &info), SP_ENOZONE);
	assert_int_equal(zones_delete(f->db, "example."), SP_ENOZONE);
	assert_int_equal(nodes_with_id(f, info.id), 0);
}

static void
zone_compiled_by_another_process_is_seen_at_the_next_snapshot(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	assert_int_equal(lookup(f, "www.sub.example.", LDNS_RR_TYPE_A, &r), ZONES_DELEGATION);
	write_file(f, "sub.zone", child_zone);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A new process with its own environment, like the signpost-zone tool. */
		struct zones_db *db;
		char path[256];
		snprintf(path, sizeof(path), "%s/sub.zone", f->dir);
		if (zones_db_open(f->dbdir, 0, 64u << 20, &db) != 0)
			_exit(2);
		int rc = zones_compile_file(db, "sub.example.", path, NULL, NULL);
		zones_db_close(db);
		_exit(rc == 0 ? 0 : 3);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(lookup(f, "www.sub.example.", LDNS_RR_TYPE_A, &r), ZONES_DELEGATION);
	zones_snapshot_end(f->snap);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	assert_int_equal(lookup(f, "www.sub.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.zone.apex_labels, 2);
}

/* ---- the database ------------------------------------------------------------------- */

static void
database_of_another_schema_version_is_refused(void **state)
{
	struct fixture *f = *state;
	struct zones_db *db = NULL;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	uint32_t version = 99;
	zones_snapshot_free(f->snap);
	f->snap = NULL;
	zones_db_close(f->db);
	f->db = NULL;
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 4);
	assert_int_equal(mdb_env_open(env, f->dbdir, 0, 0644), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	MDB_val k = {6, "schema"}, v = {4, &version};
	assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(zones_db_open(f->dbdir, 0, 0, &db), SP_ESCHEMA);
	assert_null(db);
	assert_int_equal(zones_db_open(f->dbdir, ZONES_DB_RDONLY, 0, &db), SP_ESCHEMA);
}

static void
unwritable_directory_gives_eacces(void **state)
{
	struct fixture *f = *state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/ro", f->dir);
	assert_int_equal(mkdir(dir, 0555), 0);
	chmod(f->dir, 0755);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct zones_db *db;
		/* Root ignores permissions: test as nobody. */
		if (getuid() == 0 && setuid(65534) != 0)
			_exit(10);
		int rc = zones_db_open(dir, 0, 0, &db);
		_exit(rc == -EACCES ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
missing_database_read_only_is_an_error(void **state)
{
	struct fixture *f = *state;
	struct zones_db *db = NULL;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/none", f->dir);
	assert_true(zones_db_open(dir, ZONES_DB_RDONLY, 0, &db) < 0);
	assert_null(db);
}

static void
full_map_gives_storefull_and_keeps_the_old_zone(void **state)
{
	struct fixture *f = *state;
	struct zones_db *db = NULL;
	struct zones_info info;
	char dir[128], path[256];
	snprintf(dir, sizeof(dir), "%s/small", f->dir);
	assert_int_equal(zones_db_open(dir, 0, 256u << 10, &db), 0);
	snprintf(path, sizeof(path), "%s/big.zone", f->dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "example. 300 SOA ns h 1 2 3 4 5\nexample. 300 NS ns.example.net.\n");
	for (int i = 0; i < 20000; i++)
		fprintf(fp, "host%d.example. 300 TXT \"some text to fill the map %d\"\n", i, i);
	fclose(fp);
	reset_report(f);
	assert_int_equal(zones_compile_file(db, "example.", path, NULL, &f->rep), SP_ESTOREFULL);
	assert_int_equal(zones_info_get(db, "example.", &info), SP_ENOZONE);
	zones_db_close(db);
}

/* ---- dump --------------------------------------------------------------------------- */

static void
dump_reads_back_with_ldns_and_starts_with_the_soa(void **state)
{
	struct fixture *f = *state;
	char path[256];
	snprintf(path, sizeof(path), "%s/dump.zone", f->dir);
	FILE *out = fopen(path, "w");
	assert_non_null(out);
	assert_int_equal(zones_dump(f->db, "example.", out), 0);
	fclose(out);
	FILE *in = fopen(path, "r");
	ldns_zone *z = NULL;
	int line = 0;
	assert_int_equal(ldns_zone_new_frm_fp_l(&z, in, NULL, 0, LDNS_RR_CLASS_IN, &line),
	                 LDNS_STATUS_OK);
	fclose(in);
	assert_non_null(ldns_zone_soa(z));
	/* 17 records besides the SOA in example_zone. */
	assert_int_equal(ldns_rr_list_rr_count(ldns_zone_rrs(z)), 17);
	ldns_zone_deep_free(z);
	/* And it compiles again to the same zone. */
	reset_report(f);
	assert_int_equal(zones_check_file("example.", path, NULL, &f->rep), 0);
	assert_int_equal(f->rep.warnings, 0);
	assert_int_equal(zones_dump(f->db, "nope.", stdout), SP_ENOZONE);
}

/* ---- validation --------------------------------------------------------------------- */

#define HEAD "$ORIGIN example.\n$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
/* HEAD is lines 1-5; a test's own records start at line 6. */

static void
zone_without_soa_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, "$ORIGIN example.\n@ 300 NS ns1\nns1 300 A 192.0.2.1\n"),
	                 SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 0, "no SOA");
}

static void
second_soa_is_an_error_at_its_line(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "@ SOA ns1 h 2 2 3 4 5\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "more than one SOA");
}

static void
soa_below_the_apex_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "www A 192.0.2.2\nwww SOA ns1 h 1 2 3 4 5\n"),
	                 SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 7, "not the zone apex");
}

static void
zone_without_apex_ns_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, "$ORIGIN example.\n@ 300 SOA ns1 h 1 2 3 4 5\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 0, "no NS records");
}

static void
cname_beside_other_data_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "x CNAME www\nx A 192.0.2.2\nwww A 192.0.2.3\n"),
	                 SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "CNAME and other data");
	/* RRSIG and NSEC may sit beside a CNAME (RFC 4035 2.5). */
	assert_int_equal(check_text(f, HEAD "x CNAME www\nx NSEC www.example. CNAME RRSIG NSEC\n"
	                                    "www A 192.0.2.3\n"), 0);
}

static void
two_cnames_or_dnames_are_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "x CNAME a.example.net.\nx CNAME b.example.net.\n"),
	                 SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 7, "more than one CNAME");
	assert_int_equal(check_text(f, HEAD "x DNAME a.example.net.\nx DNAME b.example.net.\n"),
	                 SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 7, "more than one DNAME");
}

static void
out_of_zone_data_is_an_error(void **state)
{
	struct fixture *f = *state;
	struct zones_info info;
	assert_int_equal(compile_text(f, "example.", "z.zone", HEAD "www.example.org. A 192.0.2.9\n"
	                              "www A 192.0.2.8\n", NULL), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "out-of-zone data (www.example.org.");
	assert_int_equal(zones_info_get(f->db, "example.", &info), SP_ENOZONE);
	/* A relative name under another $ORIGIN is out of the zone too. */
	assert_int_equal(check_text(f, HEAD "$ORIGIN example.net.\nwww A 192.0.2.8\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 7, "out-of-zone data (www.example.net.");
}

static void
rdata_that_ldns_would_truncate_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "@ CAA 256 issue \"ca.example.net\"\n"
	                                    "_s._tcp SRV 10 10 70000 ns1\n"
	                                    "k DS 1 13 2 0123456789ABCDEF0\n"
	                                    "u TYPE65280 \\# 2 zzzz\n"
	                                    "v TYPE65280 \\# 3 0102\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "CAA field 1: 256 is out of range");
	expect_msg(f, ZONES_ERROR, "z.zone", 7, "SRV field 3: 70000 is out of range");
	expect_msg(f, ZONES_ERROR, "z.zone", 8, "DS field 4: not an even number of hex");
	expect_msg(f, ZONES_ERROR, "z.zone", 9, "not hex");
	expect_msg(f, ZONES_ERROR, "z.zone", 10, "4 hex digits for length 3");
	assert_int_equal(f->rep.errors, 5);
	assert_int_equal(check_text(f, HEAD "big 4294967296 TXT x\nbig2 4294967296 A 192.0.2.1\n"
	                                    "$TTL 4294967296\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 8, "bad $TTL");
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "bad TTL 4294967296");
	expect_msg(f, ZONES_ERROR, "z.zone", 7, "bad TTL 4294967296");
	/* A DS digest split by blanks is fine (RFC 4034 5.3). */
	assert_int_equal(check_text(f, HEAD "k DS 1 13 2 01234567 89ABCDEF\n"), 0);
}

/* Found by tests/fuzz/fuzz_zonefile: ldns 1.8.3 leaks the field when it refuses a CERT
 * type of 0, and wraps a signed or too large one into 16 bits. Run under ASan
 * (--enable-sanitizers), LeakSanitizer fails this test without the check. */
static void
cert_type_zero_or_out_of_range_is_an_error_without_a_leak(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "c0 CERT 0 1 8 AAAA\n"
	                                    "c1 CERT 00 1 8 AAAA\n"
	                                    "c2 CERT -1 1 8 AAAA\n"
	                                    "c3 CERT 65537 1 8 AAAA\n"
	                                    "c4 CERT +0 1 A AAAA\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "CERT field 1: 0 is out of range (1-65535)");
	expect_msg(f, ZONES_ERROR, "z.zone", 7, "CERT field 1: 00 is out of range");
	expect_msg(f, ZONES_ERROR, "z.zone", 8, "CERT field 1: -1 is out of range");
	expect_msg(f, ZONES_ERROR, "z.zone", 9, "CERT field 1: 65537 is out of range");
	expect_msg(f, ZONES_ERROR, "z.zone", 10, "CERT field 1: +0 is out of range");
	assert_int_equal(f->rep.errors, 5);
	/* The limits themselves and mnemonics still load. */
	assert_int_equal(check_text(f, HEAD "c CERT 1 1 8 AAAA\nd CERT 65535 0 0 AAAA\n"
	                                    "e CERT PKIX 1 RSASHA256 AAAA\n"), 0);
}

/* Found by tests/fuzz/fuzz_zonefile (a stack overflow in the A/AAAA fast path): ldns
 * appends the origin to a relative name without checking the 255-octet limit, so an
 * owner, a previous owner or an RDATA name could be longer than any buffer for names. */
#define L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
static void
names_longer_than_255_octets_after_the_origin_are_errors(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "$ORIGIN " L63 "." L63 "." L63 "\n"
	                                    L63 " TXT x\n"          /* 265 octets */
	                                    "  A 192.0.2.1\n"       /* the same owner, fast path */
	                                    "ok NS " L63 "\n"       /* RDATA name, 265 octets */
	                                    "$ORIGIN " L63 "\n"     /* the origin itself, 265 */
	                                    "@ A 192.0.2.2\n"
	                                    "@ TXT y\n"
	                                    "  AAAA 2001:db8::1\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 7, "owner name longer than 255 octets");
	expect_msg(f, ZONES_ERROR, "z.zone", 8, "owner name longer than 255 octets");
	expect_msg(f, ZONES_ERROR, "z.zone", 9, "name in the RDATA longer than 255 octets");
	expect_msg(f, ZONES_ERROR, "z.zone", 11, "owner name longer than 255 octets");
	expect_msg(f, ZONES_ERROR, "z.zone", 12, "owner name longer than 255 octets");
	expect_msg(f, ZONES_ERROR, "z.zone", 13, "owner name longer than 255 octets");
	assert_int_equal(f->rep.errors, 6);
	/* 255 octets exactly is fine: 3 x 64 + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" (54)
	 * + "example." (9). */
	assert_int_equal(check_text(f, HEAD "$ORIGIN " L63 "." L63 "." L63 "\n"
	                                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa A 192.0.2.1\n"
	                                    "  TXT z\n"), 0);
}

/* Found by tests/fuzz/fuzz_zonefile (the dump of a zone that checked did not check):
 * ldns reads an unknown type mnemonic without RDATA as type 0 and accepts it. */
static void
unknown_type_without_rdata_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "x FOO\n"
	                                    "y A:\n"
	                                    "z TYPE0\n"
	                                    "w 300 IN TYPE0 \\# 0\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "unknown RR type");
	expect_msg(f, ZONES_ERROR, "z.zone", 7, "unknown RR type");
	expect_msg(f, ZONES_ERROR, "z.zone", 8, "unknown RR type");
	expect_msg(f, ZONES_ERROR, "z.zone", 9, "unknown RR type");
	assert_int_equal(f->rep.errors, 4);
	/* Other unknown types in RFC 3597 form still load. */
	assert_int_equal(check_text(f, HEAD "x TYPE65280 \\# 2 0102\n"), 0);
}

/* Found by tests/fuzz/fuzz_zonefile (the dump of a good zone did not check): an owner
 * with octets that are not printable is dumped with \DDD escapes, 4 characters an
 * octet, and ldns reads at most 255 characters of owner. */
#define E16 "\\200\\201\\202\\203\\204\\205\\206\\207\\210\\211\\212\\213\\214\\215\\216\\217"
static void
owner_written_with_escapes_over_255_characters_loads_and_round_trips(void **state)
{
	struct fixture *f = *state;
	char path[256];
	/* 64 escaped octets in two labels: 256 characters before the dots. */
	static const char zone[] = HEAD E16 E16 "." E16 E16 " A 192.0.2.7\n"
	                           "  TXT \"same owner\"\n"
	                           E16 E16 E16 "." E16 ".example. MX 10 ns1\n"
	                           "a\\." E16 E16 E16 "." E16 " TXT \"relative, escaped dot\"\n"
	                           /* 255 characters exactly: ldns stops at 254. */
	                           E16 E16 E16 ".xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	                           ".example. TXT \"255\"\n";
	assert_int_equal(compile_text(f, "example.", "z.zone", zone, NULL), 0);
	assert_int_equal(f->rep.errors, 0);
	snprintf(path, sizeof(path), "%s/dump.zone", f->dir);
	FILE *out = fopen(path, "w");
	assert_non_null(out);
	assert_int_equal(zones_dump(f->db, "example.", out), 0);
	fclose(out);
	reset_report(f);
	assert_int_equal(zones_check_file("example.", path, NULL, &f->rep), 0);
	/* Longer than 255 octets with the origin: an error, not a crash. */
	assert_int_equal(check_text(f, HEAD E16 E16 E16 E16 "." E16 E16 E16 E16 "."
	                                    E16 E16 E16 E16 "." E16 E16 E16 " A 192.0.2.8\n"),
	                 SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "bad owner name");
}

/* Found by tests/fuzz/fuzz_zonefile (the dump of a good zone did not check): ldns prints
 * '"', '$' and '@' inside names bare, and reads them back as a quote, a directive or the
 * origin. */
static void
names_with_quote_dollar_or_at_round_trip_through_the_dump(void **state)
{
	struct fixture *f = *state;
	char path[256], text[4096];
	static const char zone[] = HEAD "a\\\"b A 192.0.2.2\n"
	                           "c CNAME x\\\"y\n"
	                           "\\$d TXT t\n"
	                           "\\@ MX 10 \\@\n";
	assert_int_equal(compile_text(f, "example.", "z.zone", zone, NULL), 0);
	snprintf(path, sizeof(path), "%s/dump.zone", f->dir);
	FILE *out = fopen(path, "w");
	assert_non_null(out);
	assert_int_equal(zones_dump(f->db, "example.", out), 0);
	fclose(out);
	FILE *in = fopen(path, "r");
	assert_non_null(in);
	size_t n = fread(text, 1, sizeof(text) - 1, in);
	fclose(in);
	text[n] = 0;
	assert_non_null(strstr(text, "a\\\"b.example.\t"));
	assert_non_null(strstr(text, "CNAME\tx\\\"y.example.\n"));
	assert_non_null(strstr(text, "\n\\$d.example.\t"));
	reset_report(f);
	assert_int_equal(zones_check_file("example.", path, NULL, &f->rep), 0);
	assert_int_equal(f->rep.errors, 0);
}

/* Found by tests/fuzz/fuzz_zonefile (a zone that checked could not be dumped): ldns
 * reads "SOA \\# hostmaster 2 ..." as an SOA of 5 fields instead of refusing it. */
static void
rfc3597_data_without_a_length_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, "$ORIGIN example.\n$TTL 300\n"
	                                "@ SOA \\# hostmaster 2 3600 600 86400 60\n"
	                                "@ NS ns1\nns1 A 192.0.2.1\n"
	                                "x MX \\# mail 10\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 3, "RFC 3597 data needs a length");
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "RFC 3597 data needs a length");
	/* With a length it is fine, for a known type too. */
	assert_int_equal(check_text(f, HEAD "x MX \\# 6 000a026d7800\n"), 0);
}

static void
data_below_a_delegation_that_is_not_glue_is_a_warning(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "sub NS ns.sub\nns.sub A 192.0.2.5\n"
	                                    "txt.sub TXT hidden\n"), 0);
	expect_msg(f, ZONES_WARNING, "z.zone", 8, "occluded by the delegation at sub.example.");
	assert_int_equal(f->rep.warnings, 1);
}

static void
missing_glue_is_an_error_at_the_ns_line(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "sub NS ns.sub\nsub NS ns.example.net.\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "ns.sub.example. has no address records");
	assert_int_equal(f->rep.errors, 1);
	/* An out-of-zone NS target needs no glue. */
	assert_int_equal(check_text(f, HEAD "sub NS ns.example.net.\n"), 0);
}

static void
ttl_above_the_maximum_is_an_error(void **state)
{
	struct fixture *f = *state;
	struct zones_compile_opts o = {.ttl_max = 86400};
	char path[256];
	write_file(f, "z.zone", HEAD "big 86401 A 192.0.2.2\nok 86400 A 192.0.2.3\n");
	snprintf(path, sizeof(path), "%s/z.zone", f->dir);
	reset_report(f);
	assert_int_equal(zones_check_file("example.", path, &o, &f->rep), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "TTL 86401 is above the maximum 86400");
	assert_int_equal(f->rep.errors, 1);
	/* The default maximum is 2^31 - 1 (RFC 2181 8). */
	assert_int_equal(check_text(f, HEAD "big 2147483648 A 192.0.2.2\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "above the maximum 2147483647");
}

static void
class_other_than_in_is_an_error(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "x CH A 192.0.2.2\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "class 3 is not supported");
}

static void
names_below_a_dname_are_a_warning(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "d DNAME example.net.\nx.d A 192.0.2.2\n"), 0);
	expect_msg(f, ZONES_WARNING, "z.zone", 7, "occluded by the DNAME at d.example.");
}

static void
duplicate_records_are_merged_silently(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	struct zones_info info;
	assert_int_equal(compile_text(f, "example.", "z.zone", HEAD "x A 192.0.2.2\n"
	                              "x A 192.0.2.2\nx A 192.0.2.3\n", NULL), 0);
	assert_int_equal(f->rep.warnings + f->rep.errors, 0);
	zones_snapshot_begin(f->snap);
	assert_int_equal(lookup(f, "x.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.count, 2);
	assert_int_equal(zones_info_get(f->db, "example.", &info), 0);
	assert_int_equal(info.records, 5);
}

static void
rrset_ttl_mismatch_is_a_warning_and_the_lowest_wins(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	assert_int_equal(compile_text(f, "example.", "z.zone", HEAD "x 600 A 192.0.2.2\n"
	                              "x 100 A 192.0.2.3\n", NULL), 0);
	expect_msg(f, ZONES_WARNING, "z.zone", 7, "TTL 100 differs from 600");
	zones_snapshot_begin(f->snap);
	assert_int_equal(lookup(f, "x.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.ttl, 100);
}

static void
ns_mx_srv_targets_that_are_cnames_are_a_warning(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "alias CNAME ns1\n@ MX 10 alias\n"
	                                    "_sip._udp SRV 0 0 5060 alias\n"), 0);
	expect_msg(f, ZONES_WARNING, "z.zone", 7, "MX target alias.example. is a CNAME");
	expect_msg(f, ZONES_WARNING, "z.zone", 8, "SRV target alias.example. is a CNAME");
}

static void
warnings_can_be_made_fatal(void **state)
{
	struct fixture *f = *state;
	struct zones_compile_opts o = {.warnings_fatal = true};
	struct zones_info info;
	assert_int_equal(compile_text(f, "example.", "z.zone", HEAD "x 600 A 192.0.2.2\n"
	                              "x 100 A 192.0.2.3\n", &o), SP_EZONE);
	assert_int_equal(zones_info_get(f->db, "example.", &info), SP_ENOZONE);
}

static void
syntax_errors_name_the_included_file_and_line(void **state)
{
	struct fixture *f = *state;
	write_file(f, "inc.zone", "; included\n\nbad A 1.2.3\nok A 192.0.2.7\n");
	assert_int_equal(check_text(f, HEAD "$INCLUDE inc.zone\nafter A 300.1.1.1\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "inc.zone", 3, "");
	expect_msg(f, ZONES_ERROR, "z.zone", 7, "");
	assert_int_equal(f->rep.errors, 2);
}

static void
include_with_origin_and_relative_path_works(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/sub", f->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	write_file(f, "sub/hosts.zone", "$TTL 60\nwww A 192.0.2.60\n$ORIGIN deeper\nx A 192.0.2.61\n");
	assert_int_equal(compile_text(f, "example.", "z.zone",
	                              HEAD "$INCLUDE sub/hosts.zone lab\nafter A 192.0.2.62\n",
	                              NULL), 0);
	zones_snapshot_begin(f->snap);
	assert_int_equal(lookup(f, "www.lab.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.ttl, 60);
	assert_int_equal(lookup(f, "x.deeper.lab.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	/* The origin reverts after the included file (RFC 1035 5.1). */
	assert_int_equal(lookup(f, "after.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
}

static void
include_loops_are_refused(void **state)
{
	struct fixture *f = *state;
	write_file(f, "a.zone", "$INCLUDE b.zone\n");
	write_file(f, "b.zone", "x A 192.0.2.1\n$INCLUDE a.zone\n");
	assert_int_equal(check_text(f, HEAD "$INCLUDE a.zone\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "b.zone", 2, "$INCLUDE loop");
	assert_int_equal(check_text(f, HEAD "$INCLUDE nonexistent.zone\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "cannot open");
}

static void
line_numbers_count_multi_line_records_and_comments(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(check_text(f, HEAD "txt TXT ( \"a\" ; comment )\n"
	                                    "  \"b\" )\n"
	                                    "\n"
	                                    "x CNAME www ; line 9\n"
	                                    "x A 192.0.2.1\n"
	                                    "www A 192.0.2.2\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 9, "CNAME and other data");
	assert_int_equal(check_text(f, HEAD "x TXT ( \"unbalanced\"\n"), SP_EZONE);
	expect_msg(f, ZONES_ERROR, "z.zone", 6, "'(' without ')'");
}

static void
every_common_type_and_rfc3597_form_compiles(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	static const char zone[] = HEAD
		"a AAAA 2001:db8::1\n"
		"d DNAME example.net.\n"
		"m MX 10 ns1\n"
		"t TXT \"v=spf1 -all\" \"two\"\n"
		"_sip._tcp SRV 10 5 5060 ns1\n"
		"4.3.2.1 PTR ns1\n"
		"@ CAA 0 issue \"ca.example.net\"\n"
		"n NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.\n"
		"s SSHFP 1 1 0123456789abcdef0123456789abcdef01234567\n"
		"_443._tcp TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
		"svc SVCB 1 . alpn=h2 port=8443\n"
		"@ HTTPS 1 . alpn=h2,h3\n"
		"@ DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n"
		"@ RRSIG SOA 13 1 300 20300101000000 20200101000000 12345 example. "
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
		"@ NSEC a.example. SOA NS RRSIG NSEC DNSKEY\n"
		"@ NSEC3PARAM 1 0 0 -\n"
		"1avvqn74sg75ukfvf25dgcethgq638ek NSEC3 1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s A\n"
		"k DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118\n"
		"u TYPE65534 \\# 3 010203\n";
	assert_int_equal(compile_text(f, "example.", "z.zone", zone, NULL), 0);
	assert_int_equal(f->rep.errors, 0);
	zones_snapshot_begin(f->snap);
	assert_int_equal(lookup(f, "u.example.", 65534, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.len, 5);
	assert_memory_equal(r.rrset.rdata, "\0\3\1\2\3", 5);
	assert_int_equal(lookup(f, "svc.example.", LDNS_RR_TYPE_SVCB, &r), ZONES_FOUND);
	assert_int_equal(lookup(f, "example.", LDNS_RR_TYPE_RRSIG, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.covers, LDNS_RR_TYPE_SOA);
	struct zones_rrset rr;
	assert_true(zones_node_rrset(&r.node, LDNS_RR_TYPE_RRSIG, LDNS_RR_TYPE_SOA, &rr));
	assert_false(zones_node_rrset(&r.node, LDNS_RR_TYPE_RRSIG, LDNS_RR_TYPE_A, &rr));
}

static void
plain_address_records_and_ldns_parsed_ones_share_owner_and_ttl_rules(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	/* A/AAAA lines take a fast path; the others go through ldns. Blank owners must
	 * follow the previous line whichever path parsed it. */
	static const char zone[] = HEAD
		"a 60 IN A 192.0.2.10\n"
		"  TXT \"owner from a fast line\"\n"
		"\tAAAA 2001:db8::a\n"
		"@ A 192.0.2.11\n"
		"Abs.Example. 0 a 192.0.2.12\n"
		"$TTL 77\n"
		"b A 192.0.2.13\n"
		"c IN 5 A 192.0.2.14\n"       /* class before TTL (RFC 1035 5.1) */
		"c in 5 TXT \"ldns path\"\n";
	assert_int_equal(compile_text(f, "example.", "z.zone", zone, NULL), 0);
	zones_snapshot_begin(f->snap);
	assert_int_equal(lookup(f, "a.example.", LDNS_RR_TYPE_TXT, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.ttl, 300);
	assert_int_equal(lookup(f, "a.example.", LDNS_RR_TYPE_AAAA, &r), ZONES_FOUND);
	assert_int_equal(lookup(f, "a.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.ttl, 60);
	assert_int_equal(lookup(f, "example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(lookup(f, "abs.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.ttl, 0);
	assert_int_equal(lookup(f, "b.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.ttl, 77);
	assert_memory_equal(r.rrset.rdata, "\0\4\xc0\0\2\x0d", 6);
	assert_int_equal(lookup(f, "c.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.ttl, 5);
	assert_int_equal(lookup(f, "c.example.", LDNS_RR_TYPE_TXT, &r), ZONES_FOUND);
	assert_int_equal(r.rrset.ttl, 5);
}

/* ---- parked snapshots (zones_snapshot_park()/_release()) and the lookup caches -------- */
/* A worker keeps its read transaction open between batches, and zones/lookup.c keeps the
 * last zone, apex and closest encloser for the transaction. These tests fail if a parked
 * snapshot resumed a version that is no longer the newest, if a renewal kept a cache
 * from the old transaction, or if a cache answered for another zone. */

/* Asserts that name/type looks up to kind and, when a is not NULL, that the first
 * record is the IPv4 address a (four octets). */
static void
expect_lookup(struct fixture *f, const char *name, uint16_t type, int kind, const char *a,
              struct zones_result *r)
{
	int got = lookup(f, name, type, r);
	if (got != kind)
		fail_msg("%s type %u: kind %d, expected %d", name, type, got, kind);
	if (a != NULL) {
		uint16_t len;
		const uint8_t *p = first_rdata(&r->rrset, &len);
		assert_int_equal(r->rrset.type, LDNS_RR_TYPE_A);
		assert_int_equal(len, 4);
		assert_memory_equal(p, a, 4);
	}
}

/* Runs fn(db, origin, path) in a child process with its own environment on the same database,
 * like the signpost-zone tool or the daemon's reload, and asserts it returned 0. */
static void
in_child(struct fixture *f, int (*fn)(struct zones_db *, const char *, const char *),
         const char *origin, const char *path)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct zones_db *db;
		if (zones_db_open(f->dbdir, 0, 64u << 20, &db) != 0)
			_exit(2);
		int rc = fn(db, origin, path);
		zones_db_close(db);
		_exit(rc == 0 ? 0 : 3);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int
child_compile(struct zones_db *db, const char *origin, const char *path)
{
	return zones_compile_file(db, origin, path, NULL, NULL);
}

static int
child_delete(struct zones_db *db, const char *origin, const char *path)
{
	(void)path;
	return zones_delete(db, origin);
}

/* Compiles text as zone origin, in this process or in a child one. */
static void
replace_zone(struct fixture *f, const char *origin, const char *text, bool other_process)
{
	char path[256];
	write_file(f, "replace.zone", text);
	snprintf(path, sizeof(path), "%s/replace.zone", f->dir);
	if (other_process) {
		in_child(f, child_compile, origin, path);
		return;
	}
	reset_report(f);
	assert_int_equal(zones_compile_file(f->db, origin, path, NULL, &f->rep), 0);
}

struct readers {
	long pid;
	int live;               /* this process's slots holding a version */
	long long txnid;        /* the version the last of them holds */
};

static int
reader_line(const char *msg, void *ctx)
{
	struct readers *r = ctx;
	long pid;
	size_t tid;
	char txn[32];
	if (sscanf(msg, "%ld %zx %31s", &pid, &tid, txn) == 3 && pid == r->pid &&
	    strcmp(txn, "-") != 0) {
		r->live++;
		r->txnid = atoll(txn);
	}
	return 0;
}

/* The LMDB reader table as another process sees it: how many of this process's reader
 * slots pin a version (a reset transaction shows "-"), and which version. Read by a
 * child because an environment must not be opened twice in one process. */
static struct readers
pinned(struct fixture *f)
{
	struct readers r = {.pid = (long)getpid()};
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		MDB_env *env;
		close(fd[0]);
		if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 8) != 0 ||
		    mdb_env_set_mapsize(env, 64u << 20) != 0 ||
		    mdb_env_open(env, f->dbdir, MDB_RDONLY | MDB_NOTLS, 0) != 0 ||
		    mdb_reader_list(env, reader_line, &r) < 0)
			_exit(2);
		_exit(write(fd[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 3);
	}
	close(fd[1]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(read(fd[0], &r, sizeof(r)), (ssize_t)sizeof(r));
	close(fd[0]);
	return r;
}

static const char example_v2[] =
	"$ORIGIN example.\n"
	"$TTL 600\n"
	"@       SOA ns1 hostmaster 2024010102 7200 3600 1209600 300\n"
	"@       NS ns1\n"
	"ns1     A 192.0.2.1\n"
	"www     A 192.0.2.77\n"
	"*.b.ent A 192.0.2.78\n"
	"wild    TXT \"a leaf now\"\n";

/* Looks up names that fill every cache of example_zone: the zone, its apex (closest
 * encloser of nope.), a closest encloser below it (the ENT b.ent., then wild.). */
static void
prime_v1(struct fixture *f)
{
	struct zones_result r;
	expect_lookup(f, "www.example.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x0a", &r);
	expect_lookup(f, "nope.example.", LDNS_RR_TYPE_A, ZONES_NXDOMAIN, NULL, &r);
	assert_int_equal(r.node_labels, 1);
	assert_true(zones_node_rrset(&r.node, LDNS_RR_TYPE_NS, 0, &r.rrset));
	assert_int_equal(r.rrset.count, 2);
	expect_lookup(f, "q.b.ent.example.", LDNS_RR_TYPE_A, ZONES_NXDOMAIN, NULL, &r);
	assert_int_equal(r.node_labels, 3);
	assert_true(r.node.flags & ZONES_NODE_ENT);
	expect_lookup(f, "zzz.wild.example.", LDNS_RR_TYPE_TXT, ZONES_FOUND, NULL, &r);
	assert_true(r.wildcard);
	assert_int_equal(r.soa.ttl, 3600);
}

/* The same names answered from example_v2 (zone id id): every one differs. */
static void
expect_v2(struct fixture *f, uint32_t id)
{
	struct zones_result r;
	expect_lookup(f, "www.example.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x4d", &r);
	assert_int_equal(r.zone.id, id);
	assert_int_equal(r.zone.serial, 2024010102u);
	assert_int_equal(r.rrset.ttl, 600);
	expect_lookup(f, "nope.example.", LDNS_RR_TYPE_A, ZONES_NXDOMAIN, NULL, &r);
	assert_int_equal(r.node_labels, 1);
	assert_true(zones_node_rrset(&r.node, LDNS_RR_TYPE_NS, 0, &r.rrset));
	assert_int_equal(r.rrset.count, 1);
	assert_int_equal(r.soa.ttl, 600);
	expect_lookup(f, "q.b.ent.example.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x4e", &r);
	assert_true(r.wildcard);
	expect_lookup(f, "zzz.wild.example.", LDNS_RR_TYPE_TXT, ZONES_NXDOMAIN, NULL, &r);
	assert_int_equal(r.node_labels, 2);
	assert_true(zones_node_rrset(&r.node, LDNS_RR_TYPE_TXT, 0, &r.rrset));
	expect_lookup(f, "alias.example.", LDNS_RR_TYPE_A, ZONES_NXDOMAIN, NULL, &r);
}

static void
parked_lookup_is_refused_not_answered_from_the_old_batch(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	prime_v1(f);
	zones_snapshot_park(f->snap);
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), SP_ESTORE);
	/* Parking twice, or a snapshot that is not active, changes nothing. */
	zones_snapshot_park(f->snap);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	prime_v1(f);
	zones_snapshot_end(f->snap);
	zones_snapshot_park(f->snap);
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), SP_ESTORE);
	assert_int_equal(pinned(f).live, 0);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	prime_v1(f);
}

static void
begin_after_park_without_a_commit_resumes_the_same_version(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	prime_v1(f);
	struct readers before = pinned(f);
	assert_int_equal(before.live, 1);
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	const uint8_t *rdata = r.rrset.rdata;
	uint32_t id = r.zone.id;
	zones_snapshot_park(f->snap);
	/* A failed compile commits nothing: the parked version is still the newest. */
	assert_int_equal(compile_text(f, "example.", "bad.zone", "$ORIGIN example.\n"
	                              "@ 300 SOA ns1 h 9 2 3 4 5\n", NULL), SP_EZONE);
	struct readers parked = pinned(f);
	assert_int_equal(parked.live, 1);
	assert_true(parked.txnid == before.txnid);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	/* Resumed, not renewed: the zone found in the last batch is still cached. */
	assert_true(f->snap->zc_ok);
	assert_true(pinned(f).txnid == before.txnid);
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_ptr_equal(r.rrset.rdata, rdata);
	assert_int_equal(r.zone.id, id);
	prime_v1(f);
	/* Many batches in a row stay on it. */
	for (int i = 0; i < 5; i++) {
		zones_snapshot_park(f->snap);
		assert_int_equal(zones_snapshot_begin(f->snap), 0);
		prime_v1(f);
	}
	assert_true(pinned(f).txnid == before.txnid);
}

static void
commit_while_parked_is_seen(void **state, bool other_process)
{
	struct fixture *f = *state;
	struct zones_result r;
	struct zones_info info;
	prime_v1(f);
	long long t0 = pinned(f).txnid;
	zones_snapshot_park(f->snap);
	replace_zone(f, "example.", example_v2, other_process);
	/* The parked transaction still pins the old version until the next batch... */
	struct readers p = pinned(f);
	assert_int_equal(p.live, 1);
	assert_true(p.txnid == t0);
	/* ...which renews it: new data, no cache of the old transaction used. */
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	assert_true(pinned(f).txnid > t0);
	assert_int_equal(zones_info_get(f->db, "example.", &info), 0);
	expect_v2(f, info.id);
	/* Parked again with nothing committed: the new version is resumed. */
	zones_snapshot_park(f->snap);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	expect_v2(f, info.id);
	/* And back to the first text, compiled while parked once more. */
	zones_snapshot_park(f->snap);
	replace_zone(f, "example.", example_zone, other_process);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	prime_v1(f);
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), ZONES_FOUND);
	assert_true(r.zone.id > info.id);
}

static void
compile_in_this_process_while_parked_is_seen_at_the_next_begin(void **state)
{
	commit_while_parked_is_seen(state, false);
}

static void
compile_by_another_process_while_parked_is_seen_at_the_next_begin(void **state)
{
	commit_while_parked_is_seen(state, true);
}

static void
new_child_zone_compiled_by_another_process_while_parked_is_seen(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	char path[256];
	/* The zone cache holds example. with the key after it: the new zone sorts between. */
	expect_lookup(f, "www.sub.example.", LDNS_RR_TYPE_A, ZONES_DELEGATION, NULL, &r);
	expect_lookup(f, "www.example.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x0a", &r);
	zones_snapshot_park(f->snap);
	write_file(f, "sub.zone", child_zone);
	snprintf(path, sizeof(path), "%s/sub.zone", f->dir);
	in_child(f, child_compile, "sub.example.", path);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	expect_lookup(f, "www.sub.example.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x29", &r);
	assert_int_equal(r.zone.apex_labels, 2);
	expect_lookup(f, "www.example.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x0a", &r);
	expect_lookup(f, "www.sub.example.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x29", &r);
}

static void
release_unpins_the_version_and_begin_sees_new_data(void **state)
{
	struct fixture *f = *state;
	struct zones_info info;
	struct zones_result r;
	prime_v1(f);
	/* Release of an active snapshot is a no-op: the batch goes on. */
	zones_snapshot_release(f->snap);
	expect_lookup(f, "www.example.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x0a", &r);
	long long t0 = pinned(f).txnid;
	zones_snapshot_park(f->snap);
	assert_int_equal(pinned(f).live, 1);
	zones_snapshot_release(f->snap);
	assert_int_equal(pinned(f).live, 0);
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), SP_ESTORE);
	zones_snapshot_release(f->snap);        /* twice: still nothing */
	replace_zone(f, "example.", example_v2, true);
	assert_int_equal(pinned(f).live, 0);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	assert_true(pinned(f).txnid > t0);
	assert_int_equal(zones_info_get(f->db, "example.", &info), 0);
	expect_v2(f, info.id);
	/* Release right after a commit in this process, too; and end releases a parked
	 * snapshot. */
	zones_snapshot_park(f->snap);
	zones_snapshot_release(f->snap);
	replace_zone(f, "example.", example_zone, false);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	prime_v1(f);
	zones_snapshot_park(f->snap);
	zones_snapshot_end(f->snap);
	assert_int_equal(pinned(f).live, 0);
	assert_int_equal(lookup(f, "www.example.", LDNS_RR_TYPE_A, &r), SP_ESTORE);
}

static void
deleted_zone_is_not_ours_after_a_parked_begin(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	prime_v1(f);
	zones_snapshot_park(f->snap);
	assert_int_equal(zones_delete(f->db, "example."), 0);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	expect_lookup(f, "www.example.", LDNS_RR_TYPE_A, ZONES_NOT_OURS, NULL, &r);
	expect_lookup(f, "nope.example.", LDNS_RR_TYPE_A, ZONES_NOT_OURS, NULL, &r);
	expect_lookup(f, "example.", LDNS_RR_TYPE_SOA, ZONES_NOT_OURS, NULL, &r);
	/* Compiled again and deleted by another process while parked. */
	zones_snapshot_park(f->snap);
	replace_zone(f, "example.", example_zone, true);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	prime_v1(f);
	zones_snapshot_park(f->snap);
	in_child(f, child_delete, "example.", NULL);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	expect_lookup(f, "www.example.", LDNS_RR_TYPE_A, ZONES_NOT_OURS, NULL, &r);
	expect_lookup(f, "q.b.ent.example.", LDNS_RR_TYPE_A, ZONES_NOT_OURS, NULL, &r);
}

/* Two nested zones whose names are built so that every cache would give a wrong answer
 * if it answered for the other zone: w. has a wildcard in a. but not in b.a., e. the
 * other way round; the apexes differ in their NS sets. */
static const char zone_a[] =
	"$ORIGIN a.\n"
	"$TTL 300\n"
	"@    SOA ns1 h 1 2 3 4 5\n"
	"@    NS ns1\n"
	"@    NS ns2\n"
	"ns1  A 192.0.2.1\n"
	"ns2  A 192.0.2.2\n"
	"b    NS ns.b\n"
	"b    DS 12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE3D9C4D8E0E2C6F8B1E3C0A1B\n"
	"ns.b A 192.0.2.3\n"
	"*.w  A 192.0.2.4\n"
	"x.e  A 192.0.2.5\n"
	"c    A 192.0.2.6\n";

static const char zone_b_a[] =
	"$ORIGIN b.a.\n"
	"$TTL 300\n"
	"@    SOA ns h 7 2 3 4 5\n"
	"@    NS ns\n"
	"ns   A 192.0.2.3\n"
	"x.w  A 192.0.2.40\n"
	"*.e  A 192.0.2.50\n"
	"c    A 192.0.2.60\n";

static int
setup_nested(void **state)
{
	setup_empty(state);
	struct fixture *f = *state;
	assert_int_equal(compile_text(f, "a.", "a.zone", zone_a, NULL), 0);
	assert_int_equal(compile_text(f, "b.a.", "b.a.zone", zone_b_a, NULL), 0);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	return 0;
}

/* Alternates between the zones so that each lookup follows one that filled the caches
 * with the other zone's zone, apex or closest encloser. */
static void
expect_nested(struct fixture *f)
{
	struct zones_result r;
	for (int round = 0; round < 2; round++) {
		expect_lookup(f, "q.w.a.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x04", &r);
		assert_true(r.wildcard);
		assert_int_equal(r.zone.serial, 1);
		expect_lookup(f, "q.w.b.a.", LDNS_RR_TYPE_A, ZONES_NXDOMAIN, NULL, &r);
		assert_int_equal(r.zone.serial, 7);
		assert_int_equal(r.node_labels, 3);
		assert_true(r.node.flags & ZONES_NODE_ENT);
		expect_lookup(f, "r.w.a.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x04", &r);
		expect_lookup(f, "q.e.b.a.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x32", &r);
		assert_true(r.wildcard);
		assert_int_equal(r.zone.serial, 7);
		expect_lookup(f, "q.e.a.", LDNS_RR_TYPE_A, ZONES_NXDOMAIN, NULL, &r);
		assert_int_equal(r.zone.serial, 1);
		assert_int_equal(r.node_labels, 2);
		expect_lookup(f, "r.e.b.a.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x32", &r);
		/* Apexes: closest encloser of a missing name in each zone. */
		expect_lookup(f, "nope.a.", LDNS_RR_TYPE_A, ZONES_NXDOMAIN, NULL, &r);
		assert_int_equal(r.node_labels, 1);
		assert_true(zones_node_rrset(&r.node, LDNS_RR_TYPE_NS, 0, &r.rrset));
		assert_int_equal(r.rrset.count, 2);
		expect_lookup(f, "nope.b.a.", LDNS_RR_TYPE_A, ZONES_NXDOMAIN, NULL, &r);
		assert_int_equal(r.node_labels, 2);
		assert_true(r.node.flags & ZONES_NODE_APEX);
		assert_true(zones_node_rrset(&r.node, LDNS_RR_TYPE_NS, 0, &r.rrset));
		assert_int_equal(r.rrset.count, 1);
		expect_lookup(f, "nope.a.", LDNS_RR_TYPE_A, ZONES_NXDOMAIN, NULL, &r);
		assert_int_equal(r.node_labels, 1);
		/* Exact names on both sides of the child zone's keys. */
		expect_lookup(f, "c.a.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x06", &r);
		expect_lookup(f, "c.b.a.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x3c", &r);
		expect_lookup(f, "ns1.a.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x01", &r);
		/* DS at the child apex comes from the parent, and moves the zone cache there:
		 * the next name below the cut must still go to the child. */
		expect_lookup(f, "b.a.", LDNS_RR_TYPE_DS, ZONES_FOUND, NULL, &r);
		assert_int_equal(r.zone.serial, 1);
		expect_lookup(f, "c.b.a.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x3c", &r);
		assert_int_equal(r.zone.serial, 7);
		expect_lookup(f, "b.a.", LDNS_RR_TYPE_A, ZONES_NODATA, NULL, &r);
		assert_int_equal(r.zone.serial, 7);
	}
}

static void
nested_zones_never_answer_from_each_others_caches(void **state)
{
	struct fixture *f = *state;
	struct zones_result r;
	expect_nested(f);
	/* Across parked batches, resumed and renewed. */
	zones_snapshot_park(f->snap);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	expect_nested(f);
	zones_snapshot_park(f->snap);
	replace_zone(f, "b.a.", zone_b_a, true);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	expect_nested(f);
	/* The child deleted while parked: its names fall back to the parent's cut. */
	expect_lookup(f, "q.e.b.a.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x32", &r);
	zones_snapshot_park(f->snap);
	assert_int_equal(zones_delete(f->db, "b.a."), 0);
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	expect_lookup(f, "q.e.b.a.", LDNS_RR_TYPE_A, ZONES_DELEGATION, NULL, &r);
	assert_int_equal(r.zone.serial, 1);
	assert_int_equal(r.node_labels, 2);
	expect_lookup(f, "c.b.a.", LDNS_RR_TYPE_A, ZONES_DELEGATION, NULL, &r);
	expect_lookup(f, "nope.b.a.", LDNS_RR_TYPE_A, ZONES_DELEGATION, NULL, &r);
	expect_lookup(f, "q.w.a.", LDNS_RR_TYPE_A, ZONES_FOUND, "\xc0\x00\x02\x04", &r);
}

int
main(void)
{
	log_init("test_zones", LOG_LVL_ERR, false);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(exact_match_finds_the_rrset_and_the_soa, setup_example, teardown),
		cmocka_unit_test_setup_teardown(missing_type_gives_nodata, setup_example, teardown),
		cmocka_unit_test_setup_teardown(missing_name_gives_nxdomain_with_the_closest_encloser, setup_example, teardown),
		cmocka_unit_test_setup_teardown(wildcard_matches_a_missing_name, setup_example, teardown),
		cmocka_unit_test_setup_teardown(wildcard_does_not_match_an_existing_name, setup_example, teardown),
		cmocka_unit_test_setup_teardown(wildcard_is_blocked_by_an_empty_non_terminal, setup_example, teardown),
		cmocka_unit_test_setup_teardown(empty_non_terminal_gives_nodata, setup_example, teardown),
		cmocka_unit_test_setup_teardown(delegation_is_given_at_and_below_the_cut, setup_example, teardown),
		cmocka_unit_test_setup_teardown(ds_at_the_cut_is_answered_from_the_parent, setup_example, teardown),
		cmocka_unit_test_setup_teardown(glue_is_found_by_find_node, setup_example, teardown),
		cmocka_unit_test_setup_teardown(name_below_a_dname_gives_the_dname, setup_example, teardown),
		cmocka_unit_test_setup_teardown(cname_is_reported_not_followed, setup_example, teardown),
		cmocka_unit_test_setup_teardown(escaped_dots_and_upper_case_names_are_found, setup_example, teardown),
		cmocka_unit_test_setup_teardown(name_outside_every_zone_is_not_ours, setup_example, teardown),
		cmocka_unit_test_setup_teardown(nsec_predecessor_is_found, setup_example, teardown),
		cmocka_unit_test_setup_teardown(nested_zones_answer_from_the_closest_zone, setup_example, teardown),
		cmocka_unit_test_setup_teardown(ds_at_a_child_apex_stays_in_the_child_when_the_parent_has_no_cut, setup_example, teardown),
		cmocka_unit_test_setup_teardown(root_zone_serves_referrals_to_tlds, setup_example, teardown),
		cmocka_unit_test_setup_teardown(zones_are_listed_in_canonical_order_with_info, setup_example, teardown),
		cmocka_unit_test_setup_teardown(recompiling_replaces_the_zone_under_a_new_id, setup_example, teardown),
		cmocka_unit_test_setup_teardown(failed_compile_changes_nothing, setup_example, teardown),
		cmocka_unit_test_setup_teardown(deleted_zone_is_gone, setup_example, teardown),
		cmocka_unit_test_setup_teardown(zone_compiled_by_another_process_is_seen_at_the_next_snapshot, setup_example, teardown),
		cmocka_unit_test_setup_teardown(database_of_another_schema_version_is_refused, setup_example, teardown),
		cmocka_unit_test_setup_teardown(unwritable_directory_gives_eacces, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(missing_database_read_only_is_an_error, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(full_map_gives_storefull_and_keeps_the_old_zone, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(dump_reads_back_with_ldns_and_starts_with_the_soa, setup_example, teardown),
		cmocka_unit_test_setup_teardown(zone_without_soa_is_an_error, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(second_soa_is_an_error_at_its_line, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(soa_below_the_apex_is_an_error, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(zone_without_apex_ns_is_an_error, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(cname_beside_other_data_is_an_error, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(two_cnames_or_dnames_are_an_error, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(out_of_zone_data_is_an_error, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(rdata_that_ldns_would_truncate_is_an_error, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(rfc3597_data_without_a_length_is_an_error, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(names_with_quote_dollar_or_at_round_trip_through_the_dump, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(owner_written_with_escapes_over_255_characters_loads_and_round_trips, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(unknown_type_without_rdata_is_an_error, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(names_longer_than_255_octets_after_the_origin_are_errors, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(cert_type_zero_or_out_of_range_is_an_error_without_a_leak, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(data_below_a_delegation_that_is_not_glue_is_a_warning, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(missing_glue_is_an_error_at_the_ns_line, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(ttl_above_the_maximum_is_an_error, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(class_other_than_in_is_an_error, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(names_below_a_dname_are_a_warning, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(duplicate_records_are_merged_silently, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(rrset_ttl_mismatch_is_a_warning_and_the_lowest_wins, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(ns_mx_srv_targets_that_are_cnames_are_a_warning, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(warnings_can_be_made_fatal, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(syntax_errors_name_the_included_file_and_line, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(include_with_origin_and_relative_path_works, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(include_loops_are_refused, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(line_numbers_count_multi_line_records_and_comments, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(every_common_type_and_rfc3597_form_compiles, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(plain_address_records_and_ldns_parsed_ones_share_owner_and_ttl_rules, setup_empty, teardown),
		cmocka_unit_test_setup_teardown(parked_lookup_is_refused_not_answered_from_the_old_batch, setup_example, teardown),
		cmocka_unit_test_setup_teardown(begin_after_park_without_a_commit_resumes_the_same_version, setup_example, teardown),
		cmocka_unit_test_setup_teardown(compile_in_this_process_while_parked_is_seen_at_the_next_begin, setup_example, teardown),
		cmocka_unit_test_setup_teardown(compile_by_another_process_while_parked_is_seen_at_the_next_begin, setup_example, teardown),
		cmocka_unit_test_setup_teardown(new_child_zone_compiled_by_another_process_while_parked_is_seen, setup_example, teardown),
		cmocka_unit_test_setup_teardown(release_unpins_the_version_and_begin_sees_new_data, setup_example, teardown),
		cmocka_unit_test_setup_teardown(deleted_zone_is_not_ours_after_a_parked_begin, setup_example, teardown),
		cmocka_unit_test_setup_teardown(nested_zones_never_answer_from_each_others_caches, setup_nested, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
