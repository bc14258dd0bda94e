/* test_nsec3.c - NSEC3 (RFC 5155) in the zone store and the answer path: base32hex, the
 * iterated hash (RFC 5155 Appendix A vectors, checked against ldns-nsec3-hash), the
 * compiler's checks of NSEC3 owners, the hash index (zones_find_nsec3()), lookups that
 * ignore NSEC3 owner names, and the proofs answer_query() writes, including the closest
 * provable encloser proof of an opt-out span (an insecure delegation without NSEC3). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <ldns/ldns.h>

#include "lib/dname.h"
#include "lib/errors.h"
#include "lib/nsec3hash.h"
#include "server/internal.h"
#include "zones/zones.h"

/* ---- base32hex and the hash --------------------------------------------------------- */

static void
b32hex_round_trips_rfc4648_vectors_and_refuses_bad_input(void **state)
{
	(void)state;
	/* RFC 4648 10, base32hex, lower case and without padding. */
	static const struct { const char *in, *out; } v[] = {
		{"", ""}, {"f", "co"}, {"fo", "cpng"}, {"foo", "cpnmu"}, {"foob", "cpnmuog"},
		{"fooba", "cpnmuoj1"}, {"foobar", "cpnmuoj1e8"},
	};
	char out[64];
	uint8_t back[64];
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = nsec3hash_b32_encode((const uint8_t *)v[i].in, strlen(v[i].in), out);
		assert_int_equal(n, strlen(v[i].out));
		assert_memory_equal(out, v[i].out, n);
		assert_int_equal(nsec3hash_b32_decode(v[i].out, n, back, sizeof(back)),
		                 (int)strlen(v[i].in));
		assert_memory_equal(back, v[i].in, strlen(v[i].in));
	}
	assert_int_equal(nsec3hash_b32_decode("CPNMUOJ1E8", 10, back, sizeof(back)), 6);
	assert_memory_equal(back, "foobar", 6);
	assert_int_equal(nsec3hash_b32_decode("cw", 2, back, sizeof(back)), -1);   /* 'w' */
	assert_int_equal(nsec3hash_b32_decode("c", 1, back, sizeof(back)), -1);    /* length */
	assert_int_equal(nsec3hash_b32_decode("cp", 2, back, sizeof(back)), -1);   /* bits left */
	assert_int_equal(nsec3hash_b32_decode("cpnmuoj1e8", 10, back, 5), -1);     /* room */
}

static void
hash_str(const struct zones_nsec3_params *p, const char *name, char *out)
{
	uint8_t wire[DNAME_MAXLEN], h[20];
	assert_true(dname_from_str(name, wire) > 0);
	assert_int_equal(zones_nsec3_hash(p, wire, h), 20);
	out[nsec3hash_b32_encode(h, 20, out)] = '\0';
}

static void
hashes_match_rfc5155_appendix_a(void **state)
{
	(void)state;
	struct zones_nsec3_params p = {.alg = 1, .iterations = 12, .salt_len = 4,
	                               .salt = {0xaa, 0xbb, 0xcc, 0xdd}};
	char h[40];
	/* RFC 5155 Appendix A (the same as ldns-nsec3-hash -s aabbccdd -t 12). */
	hash_str(&p, "example.", h);
	assert_string_equal(h, "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom");
	hash_str(&p, "a.example.", h);
	assert_string_equal(h, "35mthgpgcu1qg68fab165klnsnk3dpvl");
	hash_str(&p, "A.EXAMPLE.", h);          /* canonical form: lower case */
	assert_string_equal(h, "35mthgpgcu1qg68fab165klnsnk3dpvl");
	hash_str(&p, "*.w.example.", h);
	assert_string_equal(h, "r53bq7cc2uvmubfu5ocmm6pers9tk9en");
	struct zones_nsec3_params none = {.alg = 1};
	hash_str(&none, "example.", h);         /* ldns-nsec3-hash -t 0 example. */
	assert_string_equal(h, "3msev9usmd4br9s97v51r2tdvmr9iqo1");
	uint8_t wire[DNAME_MAXLEN], out[20];
	struct zones_nsec3_params bad = {.alg = 2};
	assert_true(dname_from_str("example.", wire) > 0);
	assert_int_equal(zones_nsec3_hash(&bad, wire, out), 0);
}

/* ---- a zone with an NSEC3 chain ------------------------------------------------------ */

/* n3.: NSEC3 with salt aabbccdd, 2 iterations, opt-out: every name has an NSEC3 except
 * the insecure delegation x.n3. (and its glue), which the opt-out span covers. The
 * NSEC3 next-hash fields and signatures are fillers: the store does not check them. */
static const char *const chain_names[] = {
	"n3.", "www.n3.", "b.n3.", "a.b.n3.", "wc.n3.", "*.wc.n3.",
};
#define NCHAIN (sizeof(chain_names) / sizeof(chain_names[0]))

struct fixture {
	char dir[64];
	struct zones_db *db;
	struct zones_snapshot *snap;
	struct answer_conf conf;
	struct answer_stats stats;
	struct answer_ctx ctx;
	struct zones_nsec3_params p;
	uint8_t hash[NCHAIN][20];
	uint8_t out[65535];
	ldns_pkt *last;
};

static int
compile_text(struct fixture *f, const char *name, const char *text)
{
	char path[128];
	struct zones_report rep = {0};
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return zones_compile_file(f->db, "n3.", path, NULL, &rep);
}

static const char zone_head[] =
	"$ORIGIN n3.\n$TTL 3600\n"
	"@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
	"@ NS ns1\n"
	"@ NSEC3PARAM 1 0 2 aabbccdd\n"
	"ns1 A 192.0.2.1\n"
	"www A 192.0.2.80\n"
	"a.b A 192.0.2.90\n"
	"*.wc A 192.0.2.100\n"
	"x NS ns.x\n"
	"ns.x A 192.0.2.200\n";

static void
chain_owner(struct fixture *f, size_t i, char *out)
{
	out[nsec3hash_b32_encode(f->hash[i], 20, out)] = '\0';
	strcat(out, ".n3.");
}

static void
build_zone(struct fixture *f, char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap, "%s", zone_head);
	for (size_t i = 0; i < NCHAIN; i++) {
		char owner[80];
		uint8_t wire[DNAME_MAXLEN];
		assert_true(dname_from_str(chain_names[i], wire) > 0);
		assert_int_equal(zones_nsec3_hash(&f->p, wire, f->hash[i]), 20);
		chain_owner(f, i, owner);
		n += (size_t)snprintf(buf + n, cap - n,
		                      "%s 300 NSEC3 1 1 2 aabbccdd 00000000000000000000000000000000 A RRSIG\n"
		                      "%s 300 RRSIG NSEC3 13 2 300 20300101000000 20200101000000 1 n3. "
		                      "AAAA\n", owner, owner);
	}
	n += (size_t)snprintf(buf + n, cap - n,
	                      "@ RRSIG SOA 13 1 3600 20300101000000 20200101000000 1 n3. AAAA\n");
	assert_true(n < cap);
}

static int
group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char buf[8192], dbdir[128];
	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_nsec3.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(dbdir, sizeof(dbdir), "%s/db", f->dir);
	assert_int_equal(zones_db_open(dbdir, 0, (size_t)64 << 20, &f->db), 0);
	f->p = (struct zones_nsec3_params){.alg = 1, .iterations = 2, .salt_len = 4,
	                                   .salt = {0xaa, 0xbb, 0xcc, 0xdd}};
	build_zone(f, buf, sizeof(buf));
	assert_int_equal(compile_text(f, "n3.zone", buf), 0);
	f->snap = zones_snapshot_new(f->db);
	assert_non_null(f->snap);
	f->ctx = (struct answer_ctx){.zsnap = f->snap, .conf = &f->conf, .stats = &f->stats};
	f->conf = (struct answer_conf){.edns_size = ANSWER_DEFAULT_EDNS_SIZE};
	*state = f;
	return 0;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static int
group_teardown(void **state)
{
	struct fixture *f = *state;
	ldns_pkt_free(f->last);
	zones_snapshot_free(f->snap);
	zones_db_close(f->db);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int
setup(void **state)
{
	struct fixture *f = *state;
	return zones_snapshot_begin(f->snap);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	zones_snapshot_end(f->snap);
	return 0;
}

static void
zone_of(struct fixture *f, struct zones_zone *z)
{
	uint8_t apex[DNAME_MAXLEN];
	assert_true(dname_from_str("n3.", apex) > 0);
	assert_true(zones_find_zone(f->snap, apex, z));
}

/* Index of the chain hash that is the greatest <= h (wrapping to the greatest). */
static size_t
expected_cover(struct fixture *f, const uint8_t *h)
{
	size_t best = NCHAIN, last = 0;
	for (size_t i = 0; i < NCHAIN; i++) {
		if (memcmp(f->hash[i], f->hash[last], 20) > 0)
			last = i;
		if (memcmp(f->hash[i], h, 20) <= 0 &&
		    (best == NCHAIN || memcmp(f->hash[i], f->hash[best], 20) > 0))
			best = i;
	}
	return best == NCHAIN ? last : best;
}

static void
assert_found(struct fixture *f, const uint8_t *h, size_t want, bool want_exact)
{
	struct zones_zone z;
	struct zones_node node;
	struct zones_rrset rr;
	uint8_t owner[DNAME_MAXLEN], wowner[DNAME_MAXLEN];
	char text[80];
	bool exact = !want_exact;
	zone_of(f, &z);
	assert_true(zones_find_nsec3(f->snap, &z, h, 20, &node, owner, &exact));
	assert_int_equal(exact, want_exact);
	chain_owner(f, want, text);
	assert_true(dname_from_str(text, wowner) > 0);
	assert_true(dname_equal(owner, wowner));
	assert_true(zones_node_rrset(&node, 50, 0, &rr));
	assert_true(zones_node_rrset(&node, 46, 50, &rr));
}

static void
index_gives_the_matching_or_covering_nsec3_and_wraps_around(void **state)
{
	struct fixture *f = *state;
	struct zones_nsec3_params p;
	struct zones_zone z;
	zone_of(f, &z);
	assert_true(zones_nsec3_params(f->snap, &z, &p));
	assert_int_equal(p.iterations, 2);
	assert_int_equal(p.salt_len, 4);
	assert_memory_equal(p.salt, f->p.salt, 4);
	for (size_t i = 0; i < NCHAIN; i++)
		assert_found(f, f->hash[i], i, true);
	uint8_t h[20];
	memset(h, 0, sizeof(h));                /* below the first: the last covers it */
	assert_found(f, h, expected_cover(f, h), false);
	memset(h, 0xff, sizeof(h));             /* above the last */
	assert_found(f, h, expected_cover(f, h), false);
	for (size_t i = 0; i < NCHAIN; i++) {   /* just after each: that one covers */
		memcpy(h, f->hash[i], 20);
		h[19] ^= 1;
		if (h[19] & 1)
			assert_found(f, h, i, false);
	}
	/* A hash of another length than the chain's: still a range search. */
	bool exact;
	struct zones_node node;
	uint8_t owner[DNAME_MAXLEN];
	assert_true(zones_find_nsec3(f->snap, &z, h, 3, &node, owner, &exact));
	assert_false(exact);
	assert_false(zones_find_nsec3(f->snap, &z, h, 0, &node, owner, &exact));
}

/* RFC 5155 7.1: NSEC3 owner names are not names of the zone. */
static void
nsec3_owner_names_do_not_exist_for_lookups(void **state)
{
	struct fixture *f = *state;
	struct zones_result res;
	char text[128];
	uint8_t name[DNAME_MAXLEN];

	chain_owner(f, 1, text);
	assert_true(dname_from_str(text, name) > 0);
	assert_int_equal(zones_lookup(f->snap, name, 50, &res), ZONES_NXDOMAIN);
	assert_int_equal(res.node_labels, 1);
	assert_int_equal(zones_lookup(f->snap, name, 1, &res), ZONES_NXDOMAIN);
	snprintf(text, sizeof(text), "below.");
	chain_owner(f, 2, text + strlen(text));
	assert_true(dname_from_str(text, name) > 0);
	assert_int_equal(zones_lookup(f->snap, name, 1, &res), ZONES_NXDOMAIN);
	assert_int_equal(res.node_labels, 1);   /* the apex, not the NSEC3 owner */
	assert_true(dname_from_str("www.n3.", name) > 0);
	assert_int_equal(zones_lookup(f->snap, name, 1, &res), ZONES_FOUND);
}

static void
bad_nsec3_owners_are_refused_and_change_nothing(void **state)
{
	struct fixture *f = *state;
	static const char base[] =
		"$ORIGIN n3.\n$TTL 3600\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
		"@ NSEC3PARAM 1 0 0 -\n";
	char buf[1024];
	/* Not directly below the apex. */
	snprintf(buf, sizeof(buf), "%s0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.sub NSEC3 1 0 0 - "
	         "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A\n", base);
	assert_int_equal(compile_text(f, "bad1.zone", buf), SP_EZONE);
	/* Not base32hex. */
	snprintf(buf, sizeof(buf), "%snot-a-hash NSEC3 1 0 0 - 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A\n",
	         base);
	assert_int_equal(compile_text(f, "bad2.zone", buf), SP_EZONE);
	/* Other data at the owner. */
	snprintf(buf, sizeof(buf), "%s0p9mhaveqvm6t7vbl5lop2u3t2rp3tom NSEC3 1 0 0 - "
	         "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A\n0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A 192.0.2.9\n",
	         base);
	assert_int_equal(compile_text(f, "bad3.zone", buf), SP_EZONE);
	/* The refused files changed nothing: the chain is still served. */
	assert_int_equal(zones_snapshot_begin(f->snap), 0);
	struct zones_zone z;
	struct zones_node node;
	uint8_t owner[DNAME_MAXLEN];
	bool exact;
	zone_of(f, &z);
	assert_true(zones_find_nsec3(f->snap, &z, f->hash[0], 20, &node, owner, &exact));
	assert_true(exact);
}

/* ---- answers ------------------------------------------------------------------------ */

static ldns_pkt *
ask(struct fixture *f, const char *name, ldns_rr_type type, bool dnssec)
{
	struct answer_client cl = {.addr = NULL, .tcp = false};
	ldns_rdf *qname = ldns_dname_new_frm_str(name);
	ldns_pkt *q = ldns_pkt_query_new(qname, type, LDNS_RR_CLASS_IN, 0);
	uint8_t *wire;
	size_t len;
	ldns_pkt_set_id(q, 0x5150);
	ldns_pkt_set_edns_udp_size(q, 1232);
	ldns_pkt_set_edns_do(q, dnssec);
	assert_int_equal(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
	ldns_pkt_free(q);
	ldns_pkt_free(f->last);
	f->last = NULL;
	size_t n = answer_query(&f->ctx, &cl, wire, len, f->out, sizeof(f->out));
	free(wire);
	assert_true(n > 0);
	assert_int_equal(ldns_wire2pkt(&f->last, f->out, n), LDNS_STATUS_OK);
	return f->last;
}

/* The authority section holds exactly the NSEC3 records of these chain indexes (each
 * once, each with its RRSIG). */
static void
assert_nsec3s(struct fixture *f, ldns_pkt *r, const size_t *want, size_t nwant)
{
	ldns_rr_list *auth = ldns_pkt_authority(r);
	size_t n3 = 0, sigs = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NSEC3) {
			char *o = ldns_rdf2str(ldns_rr_owner(rr));
			bool ok = false;
			for (size_t k = 0; k < nwant && !ok; k++) {
				char text[80];
				chain_owner(f, want[k], text);
				ok = strcasecmp(o, text) == 0;
			}
			if (!ok)
				fail_msg("unexpected NSEC3 %s", o);
			free(o);
			n3++;
		} else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
		           ldns_rdf2native_int16(ldns_rr_rrsig_typecovered(rr)) == LDNS_RR_TYPE_NSEC3) {
			sigs++;
		}
	}
	assert_int_equal(n3, nwant);
	assert_int_equal(sigs, nwant);
}

static size_t
cover_of(struct fixture *f, const char *name)
{
	uint8_t wire[DNAME_MAXLEN], h[20];
	assert_true(dname_from_str(name, wire) > 0);
	zones_nsec3_hash(&f->p, wire, h);
	return expected_cover(f, h);
}

/* want[] without duplicates (one NSEC3 may serve two purposes: written once). */
static size_t
uniq(size_t *want, size_t n)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t j = 0; j < m; j++)
			dup |= want[j] == want[i];
		if (!dup)
			want[m++] = want[i];
	}
	return m;
}

static void
nxdomain_and_nodata_carry_the_rfc5155_proofs(void **state)
{
	struct fixture *f = *state;
	/* 7.2.2: apex matches, covers for nothere.n3. and *.n3. */
	ldns_pkt *r = ask(f, "nothere.n3.", LDNS_RR_TYPE_A, true);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	size_t w[3] = {0, cover_of(f, "nothere.n3."), cover_of(f, "*.n3.")};
	assert_nsec3s(f, r, w, uniq(w, 3));
	/* Below an empty non-terminal: the ENT b.n3. is the closest encloser. */
	r = ask(f, "x.b.n3.", LDNS_RR_TYPE_A, true);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	size_t w2[3] = {2, cover_of(f, "x.b.n3."), cover_of(f, "*.b.n3.")};
	assert_nsec3s(f, r, w2, uniq(w2, 3));
	/* 7.2.3: NODATA, and at an ENT: the NSEC3 matching the name. */
	r = ask(f, "www.n3.", LDNS_RR_TYPE_TXT, true);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	size_t w3[1] = {1};
	assert_nsec3s(f, r, w3, 1);
	r = ask(f, "b.n3.", LDNS_RR_TYPE_A, true);
	size_t w4[1] = {2};
	assert_nsec3s(f, r, w4, 1);
	/* Without DO: no NSEC3 at all. */
	r = ask(f, "nothere.n3.", LDNS_RR_TYPE_A, false);
	assert_nsec3s(f, r, NULL, 0);
}

static void
wildcard_answers_carry_the_next_closer_cover(void **state)
{
	struct fixture *f = *state;
	/* 7.2.6: the answer from *.wc.n3. and the NSEC3 covering the next closer name. */
	ldns_pkt *r = ask(f, "foo.wc.n3.", LDNS_RR_TYPE_A, true);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(r)), 1);   /* A (unsigned here) */
	size_t w[1] = {cover_of(f, "foo.wc.n3.")};
	assert_nsec3s(f, r, w, 1);
	r = ask(f, "a.b.foo.wc.n3.", LDNS_RR_TYPE_A, true);
	assert_nsec3s(f, r, w, 1);              /* next closer: foo.wc.n3. again */
	/* 7.2.5: wildcard NODATA: wc.n3. matches, foo.wc.n3. covered, *.wc.n3. matches. */
	r = ask(f, "foo.wc.n3.", LDNS_RR_TYPE_TXT, true);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	size_t w2[3] = {4, cover_of(f, "foo.wc.n3."), 5};
	assert_nsec3s(f, r, w2, uniq(w2, 3));
}

static void
opt_out_delegations_get_the_closest_provable_encloser_proof(void **state)
{
	struct fixture *f = *state;
	/* 7.2.7: x.n3. is an insecure delegation without an NSEC3 (opt-out): the closest
	 * provable encloser proof, n3. matching and x.n3. covered. */
	ldns_pkt *r = ask(f, "y.x.n3.", LDNS_RR_TYPE_A, true);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(r)), 0);
	size_t w[2] = {0, cover_of(f, "x.n3.")};
	assert_nsec3s(f, r, w, uniq(w, 2));
	/* 7.2.4: DS at it: the same proof. */
	r = ask(f, "x.n3.", LDNS_RR_TYPE_DS, true);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_nsec3s(f, r, w, uniq(w, 2));
}

int
main(void)
{
	const struct CMUnitTest plain[] = {
		cmocka_unit_test(b32hex_round_trips_rfc4648_vectors_and_refuses_bad_input),
		cmocka_unit_test(hashes_match_rfc5155_appendix_a),
	};
	const struct CMUnitTest store[] = {
		cmocka_unit_test_setup_teardown(index_gives_the_matching_or_covering_nsec3_and_wraps_around,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(nsec3_owner_names_do_not_exist_for_lookups, setup, teardown),
		cmocka_unit_test_setup_teardown(nxdomain_and_nodata_carry_the_rfc5155_proofs, setup, teardown),
		cmocka_unit_test_setup_teardown(wildcard_answers_carry_the_next_closer_cover, setup, teardown),
		cmocka_unit_test_setup_teardown(opt_out_delegations_get_the_closest_provable_encloser_proof,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(bad_nsec3_owners_are_refused_and_change_nothing, NULL, teardown),
	};
	int rc = cmocka_run_group_tests_name("nsec3", plain, NULL, NULL);
	return rc | cmocka_run_group_tests_name("nsec3 store", store, group_setup, group_teardown);
}
