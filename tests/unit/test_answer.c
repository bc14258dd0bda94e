/* test_answer.c - server/query.c and server/answer*.c: answers from zones compiled in
 * code into a temporary store, queries built with ldns (or as bytes when malformed), and
 * the responses parsed with ldns_wire2pkt and checked field by field. */
#define _XOPEN_SOURCE 700
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>
#include <cmocka.h>

#include <ldns/ldns.h>

#include "gslb/gslb.h"
#include "lib/dname.h"
#include "server/internal.h"

static const char example_zone[] =
	"$ORIGIN example.\n"
	"$TTL 3600\n"
	"@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
	"@ NS ns1\n"
	"@ NS ns2\n"
	"@ MX 10 mail\n"
	"ns1 A 192.0.2.1\n"
	"ns2 A 192.0.2.2\n"
	"mail A 192.0.2.25\n"
	"mail AAAA 2001:db8::25\n"
	"www A 192.0.2.80\n"
	"www AAAA 2001:db8::80\n"
	"alias CNAME www\n"
	"chain1 CNAME chain2\n"
	"chain2 CNAME www\n"
	"loop1 CNAME loop2\n"
	"loop2 CNAME loop1\n"
	"gone CNAME nothere\n"
	"toother CNAME www.other.\n"
	"dn DNAME target\n"
	"x.target A 192.0.2.30\n"
	"long DNAME " "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.\n"
	"*.wild A 192.0.2.100\n"
	"*.wcent A 192.0.2.101\n"
	"x.y.wcent A 192.0.2.102\n"
	"sub NS ns1.sub\n"
	"sub NS ns.deleg2\n"
	"sub DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE9EAA13A1A8A2A4A4AF2F1C8A\n"
	"ns1.sub A 192.0.2.201\n"
	"deleg2 NS ns.deleg2\n"
	"ns.deleg2 A 192.0.2.220\n"
	"_sip._udp SRV 0 5 5060 sip\n"
	"sip A 192.0.2.50\n"
	"big TXT \"" "0123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"" "1123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"" "2123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"" "3123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"" "4123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"" "5123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"" "6123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"" "7123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"bigalias CNAME big\n"
	"fat NS ns01.fat\n"
	"ns01.fat A 192.0.2.1\n"
	"fat NS ns02.fat\n"
	"ns02.fat A 192.0.2.2\n"
	"fat NS ns03.fat\n"
	"ns03.fat A 192.0.2.3\n"
	"fat NS ns04.fat\n"
	"ns04.fat A 192.0.2.4\n"
	"fat NS ns05.fat\n"
	"ns05.fat A 192.0.2.5\n"
	"fat NS ns06.fat\n"
	"ns06.fat A 192.0.2.6\n"
	"fat NS ns07.fat\n"
	"ns07.fat A 192.0.2.7\n"
	"fat NS ns08.fat\n"
	"ns08.fat A 192.0.2.8\n"
	"fat NS ns09.fat\n"
	"ns09.fat A 192.0.2.9\n"
	"fat NS ns10.fat\n"
	"ns10.fat A 192.0.2.10\n"
	"fat NS ns11.fat\n"
	"ns11.fat A 192.0.2.11\n"
	"fat NS ns12.fat\n"
	"ns12.fat A 192.0.2.12\n"
	"fat NS ns13.fat\n"
	"ns13.fat A 192.0.2.13\n"
	"fat NS ns14.fat\n"
	"ns14.fat A 192.0.2.14\n"
	"fat NS ns15.fat\n"
	"ns15.fat A 192.0.2.15\n"
	"fat NS ns16.fat\n"
	"ns16.fat A 192.0.2.16\n"
	"fat NS ns17.fat\n"
	"ns17.fat A 192.0.2.17\n"
	"fat NS ns18.fat\n"
	"ns18.fat A 192.0.2.18\n"
	"fat NS ns19.fat\n"
	"ns19.fat A 192.0.2.19\n"
	"fat NS ns20.fat\n"
	"ns20.fat A 192.0.2.20\n"
	"wide NS h01.hosts\n"
	"h01.hosts A 198.18.0.1\n"
	"wide NS h02.hosts\n"
	"h02.hosts A 198.18.0.2\n"
	"wide NS h03.hosts\n"
	"h03.hosts A 198.18.0.3\n"
	"wide NS h04.hosts\n"
	"h04.hosts A 198.18.0.4\n"
	"wide NS h05.hosts\n"
	"h05.hosts A 198.18.0.5\n"
	"wide NS h06.hosts\n"
	"h06.hosts A 198.18.0.6\n"
	"wide NS h07.hosts\n"
	"h07.hosts A 198.18.0.7\n"
	"wide NS h08.hosts\n"
	"h08.hosts A 198.18.0.8\n"
	"wide NS h09.hosts\n"
	"h09.hosts A 198.18.0.9\n"
	"wide NS h10.hosts\n"
	"h10.hosts A 198.18.0.10\n"
	"wide NS h11.hosts\n"
	"h11.hosts A 198.18.0.11\n"
	"wide NS h12.hosts\n"
	"h12.hosts A 198.18.0.12\n"
	"wide NS h13.hosts\n"
	"h13.hosts A 198.18.0.13\n"
	"wide NS h14.hosts\n"
	"h14.hosts A 198.18.0.14\n"
	"wide NS h15.hosts\n"
	"h15.hosts A 198.18.0.15\n"
	"wide NS h16.hosts\n"
	"h16.hosts A 198.18.0.16\n"
	"wide NS h17.hosts\n"
	"h17.hosts A 198.18.0.17\n"
	"wide NS h18.hosts\n"
	"h18.hosts A 198.18.0.18\n"
	"wide NS h19.hosts\n"
	"h19.hosts A 198.18.0.19\n"
	"wide NS h20.hosts\n"
	"h20.hosts A 198.18.0.20\n";

static const char other_zone[] =
	"$ORIGIN other.\n"
	"$TTL 600\n"
	"@ SOA ns1.example. hostmaster.example. 1 7200 3600 1209600 60\n"
	"@ NS ns1.example.\n"
	"www A 198.51.100.80\n";

/* A signed zone with stand-in signatures: the answer path copies RRSIG and NSEC
 * records, it never checks them. */
#define SIG(t, l, ttl) " RRSIG " t " 13 " l " " ttl " 20300101000000 20200101000000 1 signed. AAAA\n"
static const char signed_zone[] =
	"$ORIGIN signed.\n"
	"$TTL 3600\n"
	"@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
	"@" SIG("SOA", "1", "3600")
	"@ NS ns1\n"
	"@" SIG("NS", "1", "3600")
	"@ NSEC insecure.signed. NS SOA RRSIG NSEC\n"
	"@" SIG("NSEC", "1", "300")
	"insecure NS ns.insecure\n"
	"insecure NSEC ns1.signed. NS RRSIG NSEC\n"
	"insecure" SIG("NSEC", "2", "300")
	"ns.insecure A 192.0.2.202\n"
	"secure NS ns.secure\n"
	"secure DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE9EAA13A1A8A2A4A4AF2F1C8A\n"
	"secure" SIG("DS", "2", "3600")
	"secure NSEC *.wc.signed. NS DS RRSIG NSEC\n"
	"secure" SIG("NSEC", "2", "300")
	"ns.secure A 192.0.2.201\n"
	"*.wc A 192.0.2.100\n"
	"*.wc" SIG("A", "2", "3600")
	"*.wc NSEC www.signed. A RRSIG NSEC\n"
	"*.wc" SIG("NSEC", "2", "300")
	"ns1 A 192.0.2.1\n"
	"ns1" SIG("A", "2", "3600")
	"ns1 NSEC secure.signed. A RRSIG NSEC\n"
	"ns1" SIG("NSEC", "2", "300")
	"www A 192.0.2.80\n"
	"www" SIG("A", "2", "3600")
	"www NSEC signed. A RRSIG NSEC\n"
	"www" SIG("NSEC", "2", "300");

struct fixture {
	char dir[64];
	struct zones_db *db;
	struct zones_snapshot *snap;
	struct answer_conf conf;
	struct answer_stats stats;
	struct answer_ctx ctx;
	uint8_t out[65535];
	size_t outlen;
	ldns_pkt *last;         /* the last response, freed by the next ask */
};

enum {
	ASK_EDNS = 1 << 0,
	ASK_DO = 1 << 1,
	ASK_TCP = 1 << 2,
	ASK_RD = 1 << 3,
};

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static void
compile(struct fixture *f, const char *origin, const char *text)
{
	char path[128];
	struct zones_report rep = {0};
	snprintf(path, sizeof(path), "%s/%szone", f->dir, origin);
	write_file(path, text);
	assert_int_equal(zones_compile_file(f->db, origin, path, NULL, &rep), 0);
}

static int
group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_answer.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char dbdir[128];
	snprintf(dbdir, sizeof(dbdir), "%s/db", f->dir);
	assert_int_equal(zones_db_open(dbdir, 0, (size_t)64 << 20, &f->db), 0);
	compile(f, "example.", example_zone);
	compile(f, "other.", other_zone);
	compile(f, "signed.", signed_zone);
	f->snap = zones_snapshot_new(f->db);
	assert_non_null(f->snap);
	f->ctx = (struct answer_ctx){ .zsnap = f->snap, .conf = &f->conf, .stats = &f->stats };
	*state = f;
	return 0;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
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
	f->conf = (struct answer_conf){ .edns_size = ANSWER_DEFAULT_EDNS_SIZE };
	memset(&f->stats, 0, sizeof(f->stats));
	return zones_snapshot_begin(f->snap);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	zones_snapshot_end(f->snap);
	return 0;
}

/* Answers the bytes q; returns the parsed response, or NULL when nothing is sent. */
static ldns_pkt *
ask_wire(struct fixture *f, const uint8_t *q, size_t qlen, bool tcp)
{
	struct answer_client cl = { .addr = NULL, .tcp = tcp };
	ldns_pkt_free(f->last);
	f->last = NULL;
	f->outlen = answer_query(&f->ctx, &cl, q, qlen, f->out, sizeof(f->out));
	if (f->outlen == 0)
		return NULL;
	assert_int_equal(ldns_wire2pkt(&f->last, f->out, f->outlen), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(f->last), ldns_read_uint16(q));
	return f->last;
}

static ldns_pkt *
ask_class(struct fixture *f, const char *name, ldns_rr_type type, ldns_rr_class class,
          unsigned flags, uint16_t payload)
{
	ldns_rdf *qname = ldns_dname_new_frm_str(name);
	assert_non_null(qname);
	ldns_pkt *q = ldns_pkt_query_new(qname, type, class, (flags & ASK_RD) ? LDNS_RD : 0);
	assert_non_null(q);
	ldns_pkt_set_id(q, 0x5150);
	if (flags & (ASK_EDNS | ASK_DO)) {
		ldns_pkt_set_edns_udp_size(q, payload);
		ldns_pkt_set_edns_do(q, (flags & ASK_DO) != 0);
	}
	uint8_t *wire;
	size_t len;
	assert_int_equal(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
	ldns_pkt_free(q);
	ldns_pkt *r = ask_wire(f, wire, len, (flags & ASK_TCP) != 0);
	free(wire);
	return r;
}

static ldns_pkt *
ask(struct fixture *f, const char *name, ldns_rr_type type, unsigned flags)
{
	return ask_class(f, name, type, LDNS_RR_CLASS_IN, flags, 1232);
}

/* Counts the records of section with the given owner (presentation, any case) and type. */
static size_t
count(ldns_rr_list *section, const char *owner, ldns_rr_type type)
{
	ldns_rdf *o = ldns_dname_new_frm_str(owner);
	size_t n = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(section); i++) {
		ldns_rr *rr = ldns_rr_list_rr(section, i);
		if (ldns_rr_get_type(rr) == type && ldns_dname_compare(ldns_rr_owner(rr), o) == 0)
			n++;
	}
	ldns_rdf_deep_free(o);
	return n;
}

static ldns_rr *
first(ldns_rr_list *section, ldns_rr_type type)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(section); i++) {
		if (ldns_rr_get_type(ldns_rr_list_rr(section, i)) == type)
			return ldns_rr_list_rr(section, i);
	}
	fail_msg("no record of type %d", type);
	return NULL;
}

static void
assert_owner(ldns_rr *rr, const char *text)
{
	char *s = ldns_rdf2str(ldns_rr_owner(rr));
	assert_string_equal(s, text);
	free(s);
}

/* ---- RFC 1034 4.3.2 ----------------------------------------------------------------- */

static void
an_exact_match_is_answered_authoritatively(void **state)
{
	ldns_pkt *r = ask(*state, "www.example.", LDNS_RR_TYPE_A, ASK_RD);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	assert_true(ldns_pkt_qr(r));
	assert_true(ldns_pkt_rd(r));
	assert_false(ldns_pkt_ra(r));
	assert_int_equal(ldns_pkt_ancount(r), 1);
	assert_int_equal(count(ldns_pkt_answer(r), "www.example.", LDNS_RR_TYPE_A), 1);
	/* Minimal responses: no NS in authority, nothing in additional. */
	assert_int_equal(ldns_pkt_nscount(r), 0);
	assert_int_equal(ldns_pkt_arcount(r), 0);
}

static void
a_cname_chain_is_followed_inside_the_zone(void **state)
{
	ldns_pkt *r = ask(*state, "chain1.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 3);
	assert_int_equal(count(ldns_pkt_answer(r), "chain1.example.", LDNS_RR_TYPE_CNAME), 1);
	assert_int_equal(count(ldns_pkt_answer(r), "chain2.example.", LDNS_RR_TYPE_CNAME), 1);
	assert_int_equal(count(ldns_pkt_answer(r), "www.example.", LDNS_RR_TYPE_A), 1);
	/* No additional addresses for CNAME targets. */
	assert_int_equal(ldns_pkt_arcount(r), 0);
}

static void
a_cname_loop_stops_when_a_name_repeats(void **state)
{
	ldns_pkt *r = ask(*state, "loop1.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 2);
	assert_int_equal(count(ldns_pkt_answer(r), "loop1.example.", LDNS_RR_TYPE_CNAME), 1);
	assert_int_equal(count(ldns_pkt_answer(r), "loop2.example.", LDNS_RR_TYPE_CNAME), 1);
}

static void
a_cname_into_another_served_zone_is_followed_with_aa_from_the_first(void **state)
{
	ldns_pkt *r = ask(*state, "toother.example.", LDNS_RR_TYPE_A, 0);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 2);
	assert_int_equal(count(ldns_pkt_answer(r), "www.other.", LDNS_RR_TYPE_A), 1);
}

static void
a_cname_to_a_missing_name_is_nxdomain_with_the_chain_and_aa(void **state)
{
	ldns_pkt *r = ask(*state, "gone.example.", LDNS_RR_TYPE_A, 0);
	/* RFC 6604 3: the RCODE describes the last name of the chain. */
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(count(ldns_pkt_answer(r), "gone.example.", LDNS_RR_TYPE_CNAME), 1);
	assert_int_equal(count(ldns_pkt_authority(r), "example.", LDNS_RR_TYPE_SOA), 1);
}

static void
a_dname_synthesises_a_cname_with_the_dname_ttl(void **state)
{
	ldns_pkt *r = ask(*state, "x.dn.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(count(ldns_pkt_answer(r), "dn.example.", LDNS_RR_TYPE_DNAME), 1);
	ldns_rr *cname = first(ldns_pkt_answer(r), LDNS_RR_TYPE_CNAME);
	assert_owner(cname, "x.dn.example.");
	assert_int_equal(ldns_rr_ttl(cname), 3600);
	char *target = ldns_rdf2str(ldns_rr_rdf(cname, 0));
	assert_string_equal(target, "x.target.example.");
	free(target);
	assert_int_equal(count(ldns_pkt_answer(r), "x.target.example.", LDNS_RR_TYPE_A), 1);
}

static void
a_dname_substitution_longer_than_255_octets_is_yxdomain(void **state)
{
	/* 63 + 1 + 4 + 1 = 69 octets of prefix on a 209-octet target: 277. */
	ldns_pkt *r = ask(*state, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.cccc."
	                  "long.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_YXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	assert_int_equal(count(ldns_pkt_answer(r), "long.example.", LDNS_RR_TYPE_DNAME), 1);
}

static void
a_wildcard_answer_is_owned_by_the_query_name(void **state)
{
	ldns_pkt *r = ask(*state, "Foo.Bar.wild.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 1);
	/* The owner is the query name, even its case (a pointer to the question). */
	assert_owner(ldns_rr_list_rr(ldns_pkt_answer(r), 0), "Foo.Bar.wild.example.");
}

static void
an_empty_non_terminal_is_nodata_and_blocks_the_wildcard(void **state)
{
	ldns_pkt *r = ask(*state, "y.wcent.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_int_equal(count(ldns_pkt_authority(r), "example.", LDNS_RR_TYPE_SOA), 1);
	r = ask(*state, "z.wcent.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(count(ldns_pkt_answer(r), "z.wcent.example.", LDNS_RR_TYPE_A), 1);
}

static void
nxdomain_has_the_soa_with_the_minimum_ttl(void **state)
{
	ldns_pkt *r = ask(*state, "nothere.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 0);
	ldns_rr *soa = first(ldns_pkt_authority(r), LDNS_RR_TYPE_SOA);
	assert_int_equal(ldns_rr_ttl(soa), 300);   /* min(3600, MINIMUM 300) */
}

static void
nodata_has_the_soa_with_the_smaller_of_ttl_and_minimum(void **state)
{
	/* other.: SOA TTL 600, MINIMUM 60 */
	ldns_pkt *r = ask(*state, "www.other.", LDNS_RR_TYPE_TXT, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_int_equal(ldns_rr_ttl(first(ldns_pkt_authority(r), LDNS_RR_TYPE_SOA)), 60);
}

static void
a_referral_has_ns_in_authority_glue_in_additional_and_no_aa(void **state)
{
	ldns_pkt *r = ask(*state, "host.sub.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_false(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_int_equal(count(ldns_pkt_authority(r), "sub.example.", LDNS_RR_TYPE_NS), 2);
	assert_int_equal(count(ldns_pkt_additional(r), "ns1.sub.example.", LDNS_RR_TYPE_A), 1);
	/* Glue below another cut of the zone is included too (as NSD does). */
	assert_int_equal(count(ldns_pkt_additional(r), "ns.deleg2.example.", LDNS_RR_TYPE_A), 1);
	/* No DS without DO. */
	assert_int_equal(count(ldns_pkt_authority(r), "sub.example.", LDNS_RR_TYPE_DS), 0);
}

static void
in_domain_glue_that_does_not_fit_truncates_a_referral(void **state)
{
	/* RFC 9471 3.1: 20 NS names below the cut; their glue does not fit in 512. */
	ldns_pkt *r = ask(*state, "host.fat.example.", LDNS_RR_TYPE_A, 0);
	assert_true(ldns_pkt_tc(r));
	assert_int_equal(count(ldns_pkt_authority(r), "fat.example.", LDNS_RR_TYPE_NS), 20);
	r = ask(*state, "host.fat.example.", LDNS_RR_TYPE_A, ASK_EDNS);
	assert_false(ldns_pkt_tc(r));
	assert_int_equal(ldns_pkt_arcount(r), 20);   /* ldns does not count the OPT */
}

static void
addresses_of_ns_names_outside_the_cut_are_left_out_without_tc(void **state)
{
	/* RFC 9471 3.2 / RFC 2181 9: only required glue sets TC. */
	ldns_pkt *r = ask(*state, "host.wide.example.", LDNS_RR_TYPE_A, 0);
	assert_false(ldns_pkt_tc(r));
	assert_int_equal(count(ldns_pkt_authority(r), "wide.example.", LDNS_RR_TYPE_NS), 20);
	assert_true(ldns_pkt_arcount(r) > 0);
	assert_true(ldns_pkt_arcount(r) < 20);
}

static void
ds_at_a_cut_is_answered_from_the_parent(void **state)
{
	ldns_pkt *r = ask(*state, "sub.example.", LDNS_RR_TYPE_DS, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(count(ldns_pkt_answer(r), "sub.example.", LDNS_RR_TYPE_DS), 1);
	assert_int_equal(ldns_pkt_nscount(r), 0);
}

static void
mx_targets_get_their_addresses_in_additional(void **state)
{
	ldns_pkt *r = ask(*state, "example.", LDNS_RR_TYPE_MX, 0);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	assert_int_equal(count(ldns_pkt_additional(r), "mail.example.", LDNS_RR_TYPE_A), 1);
	assert_int_equal(count(ldns_pkt_additional(r), "mail.example.", LDNS_RR_TYPE_AAAA), 1);
}

static void
names_outside_our_zones_are_refused_without_aa(void **state)
{
	ldns_pkt *r = ask(*state, "www.example.com.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	assert_false(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_qdcount(r), 1);
	assert_int_equal(ldns_pkt_ancount(r) + ldns_pkt_nscount(r), 0);
}

static void
any_is_answered_with_one_rrset(void **state)
{
	ldns_pkt *r = ask(*state, "www.example.", LDNS_RR_TYPE_ANY, ASK_TCP);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 1);   /* A or AAAA, not both (RFC 8482) */
}

/* ---- the message: case, compression, EDNS, truncation -------------------------------- */

static void
the_question_case_is_preserved(void **state)
{
	struct fixture *f = *state;
	ldns_pkt *r = ask(f, "wWw.ExAmPlE.", LDNS_RR_TYPE_A, 0);
	char *q = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(r), 0)));
	assert_string_equal(q, "wWw.ExAmPlE.");
	free(q);
	assert_owner(ldns_rr_list_rr(ldns_pkt_answer(r), 0), "wWw.ExAmPlE.");
	/* ...because the owner is a pointer to the question at offset 12. */
	assert_memory_equal(f->out + 12 + 13 + 4, "\xc0\x0c", 2);
}

static void
names_in_mx_and_ns_rdata_are_compressed(void **state)
{
	struct fixture *f = *state;
	ask(f, "example.", LDNS_RR_TYPE_MX, 0);
	/* header 12, question 9 + 4; the MX: owner pointer 2, type/class/ttl 8, RDLENGTH */
	size_t at = 12 + 9 + 4 + 2 + 8;
	uint16_t rdlen = ldns_read_uint16(f->out + at);
	assert_int_equal(rdlen, 2 + 5 + 2);          /* preference, "\4mail", pointer */
	assert_int_equal(f->out[at + 2 + 2 + 5] & 0xc0, 0xc0);
	ask(f, "example.", LDNS_RR_TYPE_NS, 0);
	assert_int_equal(ldns_read_uint16(f->out + at), 4 + 2);   /* "\3ns1" + pointer */
}

static void
names_in_srv_rdata_are_not_compressed(void **state)
{
	struct fixture *f = *state;
	ldns_pkt *r = ask(f, "_sip._udp.example.", LDNS_RR_TYPE_SRV, 0);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	size_t at = 12 + 19 + 4 + 2 + 8;
	/* RFC 3597 4 / RFC 2782: the target stays whole: 6 + "\3sip\7example\0". */
	assert_int_equal(ldns_read_uint16(f->out + at), 6 + 13);
	/* ...and its address still goes to additional (RFC 2782). */
	assert_int_equal(count(ldns_pkt_additional(r), "sip.example.", LDNS_RR_TYPE_A), 1);
}

static void
edns_is_echoed_with_our_payload_size_and_the_do_bit(void **state)
{
	struct fixture *f = *state;
	f->conf.edns_size = 1400;
	ldns_pkt *r = ask(f, "www.example.", LDNS_RR_TYPE_A, ASK_DO);
	assert_true(ldns_pkt_edns(r));
	assert_int_equal(ldns_pkt_edns_udp_size(r), 1400);
	assert_true(ldns_pkt_edns_do(r));
	assert_int_equal(ldns_pkt_edns_version(r), 0);
	r = ask(f, "www.example.", LDNS_RR_TYPE_A, 0);
	assert_false(ldns_pkt_edns(r));
}

static void
without_edns_an_rrset_over_512_octets_truncates_to_an_empty_answer(void **state)
{
	ldns_pkt *r = ask(*state, "big.example.", LDNS_RR_TYPE_TXT, 0);
	assert_true(ldns_pkt_tc(r));
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_int_equal(ldns_pkt_qdcount(r), 1);
}

static void
truncation_keeps_the_whole_rrsets_that_fit(void **state)
{
	ldns_pkt *r = ask(*state, "bigalias.example.", LDNS_RR_TYPE_TXT, 0);
	assert_true(ldns_pkt_tc(r));
	assert_int_equal(ldns_pkt_ancount(r), 1);
	assert_int_equal(count(ldns_pkt_answer(r), "bigalias.example.", LDNS_RR_TYPE_CNAME), 1);
}

static void
with_edns_the_same_rrset_fits_and_is_not_truncated(void **state)
{
	ldns_pkt *r = ask(*state, "big.example.", LDNS_RR_TYPE_TXT, ASK_EDNS);
	assert_false(ldns_pkt_tc(r));
	assert_int_equal(ldns_pkt_ancount(r), 8);
}

static void
a_truncated_edns_answer_keeps_its_opt(void **state)
{
	struct fixture *f = *state;
	ldns_pkt *r = ask_class(f, "big.example.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, ASK_EDNS, 600);
	assert_true(ldns_pkt_tc(r));
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_true(ldns_pkt_edns(r));
	assert_true(f->outlen <= 600);
	assert_int_equal(f->stats.truncated, 1);
}

static void
over_tcp_nothing_is_truncated(void **state)
{
	ldns_pkt *r = ask(*state, "big.example.", LDNS_RR_TYPE_TXT, ASK_TCP);
	assert_false(ldns_pkt_tc(r));
	assert_int_equal(ldns_pkt_ancount(r), 8);
}

static void
a_client_payload_below_512_counts_as_512(void **state)
{
	struct fixture *f = *state;
	ldns_pkt *r = ask_class(f, "example.", LDNS_RR_TYPE_MX, LDNS_RR_CLASS_IN, ASK_EDNS, 100);
	assert_false(ldns_pkt_tc(r));
	assert_int_equal(ldns_pkt_ancount(r), 1);
}

/* Builds "www.example. A" with id 0x5150 and the given flag octets and counts. */
static size_t
raw_query(uint8_t *buf, uint8_t f1, uint8_t f2, uint16_t qd, uint16_t ar)
{
	static const uint8_t q[] = "\3www\7example\0\0\1\0\1";
	uint8_t h[12] = { 0x51, 0x50, f1, f2, 0, (uint8_t)qd, 0, 0, 0, 0, 0, (uint8_t)ar };
	memcpy(buf, h, 12);
	memcpy(buf + 12, q, sizeof(q) - 1);
	return 12 + sizeof(q) - 1;
}

/* Appends an OPT RR: payload, version, DO, options. */
static size_t
put_opt(uint8_t *p, uint16_t payload, uint8_t version, bool dnssec_ok, const uint8_t *opts,
        uint16_t optlen)
{
	uint8_t rr[11] = { 0, 0, 41, (uint8_t)(payload >> 8), (uint8_t)payload, 0, version,
	                   dnssec_ok ? 0x80 : 0, 0, (uint8_t)(optlen >> 8), (uint8_t)optlen };
	memcpy(p, rr, 11);
	if (optlen > 0)
		memcpy(p + 11, opts, optlen);
	return 11 + (size_t)optlen;
}

static void
edns_version_1_gets_badvers_with_an_opt_of_version_0(void **state)
{
	uint8_t q[128];
	size_t n = raw_query(q, 0, 0, 1, 1);
	n += put_opt(q + n, 1232, 1, true, NULL, 0);
	ldns_pkt *r = ask_wire(*state, q, n, false);
	assert_non_null(r);
	/* BADVERS = 16: 0 in the header, 1 in the OPT's extended RCODE (RFC 6891 6.1.3). */
	assert_int_equal(ldns_pkt_get_rcode(r), 0);
	assert_true(ldns_pkt_edns(r));
	assert_int_equal(ldns_pkt_edns_extended_rcode(r), 1);
	assert_int_equal(ldns_pkt_edns_version(r), 0);
	assert_true(ldns_pkt_edns_do(r));
	assert_int_equal(ldns_pkt_ancount(r), 0);
}

static void
two_opt_records_get_formerr(void **state)
{
	uint8_t q[128];
	size_t n = raw_query(q, 0, 0, 1, 2);
	n += put_opt(q + n, 1232, 0, false, NULL, 0);
	n += put_opt(q + n, 1232, 0, false, NULL, 0);
	ldns_pkt *r = ask_wire(*state, q, n, false);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_FORMERR);
	assert_int_equal(ldns_pkt_ancount(r), 0);
}

static void
a_packet_with_qr_set_is_dropped(void **state)
{
	struct fixture *f = *state;
	uint8_t q[64];
	size_t n = raw_query(q, 0x80, 0, 1, 0);
	assert_null(ask_wire(f, q, n, false));
	assert_int_equal(f->stats.dropped, 1);
	assert_null(ask_wire(f, q, 11, false));
}

static void
two_questions_get_formerr(void **state)
{
	uint8_t q[64];
	size_t n = raw_query(q, 0, 0, 2, 0);
	memcpy(q + n, q + 12, n - 12);
	ldns_pkt *r = ask_wire(*state, q, n + n - 12, false);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_FORMERR);
}

static void
a_compression_loop_in_the_question_gets_formerr(void **state)
{
	static const uint8_t q[] = { 0x51, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
	                             1, 'a', 0xc0, 12, 0, 1, 0, 1 };
	ldns_pkt *r = ask_wire(*state, q, sizeof(q), false);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_FORMERR);
	assert_int_equal(ldns_pkt_qdcount(r), 0);
}

static void
trailing_octets_after_the_question_are_ignored(void **state)
{
	uint8_t q[64];
	size_t n = raw_query(q, 0, 0, 1, 0);
	memset(q + n, 0xab, 5);
	ldns_pkt *r = ask_wire(*state, q, n + 5, false);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 1);
}

static void
a_notify_gets_notimp(void **state)
{
	uint8_t q[64];
	size_t n = raw_query(q, 4 << 3, 0, 1, 0);
	ldns_pkt *r = ask_wire(*state, q, n, false);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOTIMPL);
	assert_int_equal(ldns_pkt_get_opcode(r), LDNS_PACKET_NOTIFY);
	assert_false(ldns_pkt_aa(r));
}

static void
axfr_is_notimp_over_udp_and_refused_over_tcp(void **state)
{
	ldns_pkt *r = ask(*state, "example.", LDNS_RR_TYPE_AXFR, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOTIMPL);
	r = ask(*state, "example.", LDNS_RR_TYPE_AXFR, ASK_TCP);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
}

static void
chaos_version_is_refused_by_default(void **state)
{
	ldns_pkt *r = ask_class(*state, "version.bind.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, 0, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
	assert_int_equal(ldns_pkt_ancount(r), 0);
}

static void
chaos_version_and_identity_are_answered_when_configured(void **state)
{
	struct fixture *f = *state;
	f->conf.version = "signpost-test";
	f->conf.identity = "ns1.example";
	ldns_pkt *r = ask_class(f, "VERSION.bind.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, 0, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	ldns_rr *txt = first(ldns_pkt_answer(r), LDNS_RR_TYPE_TXT);
	assert_int_equal(ldns_rr_get_class(txt), LDNS_RR_CLASS_CH);
	char *s = ldns_rdf2str(ldns_rr_rdf(txt, 0));
	assert_string_equal(s, "\"signpost-test\"");
	free(s);
	r = ask_class(f, "id.server.", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, 0, 0);
	s = ldns_rdf2str(ldns_rr_rdf(first(ldns_pkt_answer(r), LDNS_RR_TYPE_TXT), 0));
	assert_string_equal(s, "\"ns1.example\"");
	free(s);
}

static void
nsid_is_sent_when_asked_and_configured(void **state)
{
	struct fixture *f = *state;
	static const uint8_t nsid_opt[4] = { 0, 3, 0, 0 };
	uint8_t q[128];
	size_t n = raw_query(q, 0, 0, 1, 1);
	n += put_opt(q + n, 1232, 0, false, nsid_opt, 4);
	f->conf.nsid = (const uint8_t *)"node-7";
	f->conf.nsid_len = 6;
	assert_non_null(ask_wire(f, q, n, false));
	/* The OPT is the last record: its RDATA is option 3, length 6, "node-7". */
	assert_memory_equal(f->out + f->outlen - 10, "\0\3\0\6node-7", 10);
	assert_memory_equal(f->out + f->outlen - 12, "\0\12", 2);  /* RDLENGTH 10 */
	/* Not asked: not sent. */
	n = raw_query(q, 0, 0, 1, 1);
	n += put_opt(q + n, 1232, 0, false, NULL, 0);
	assert_non_null(ask_wire(f, q, n, false));
	assert_memory_equal(f->out + f->outlen - 2, "\0\0", 2);
}

/* ---- DNSSEC ------------------------------------------------------------------------- */

static void
do_adds_the_rrsig_of_the_answer(void **state)
{
	ldns_pkt *r = ask(*state, "www.signed.", LDNS_RR_TYPE_A, ASK_DO);
	assert_int_equal(count(ldns_pkt_answer(r), "www.signed.", LDNS_RR_TYPE_A), 1);
	assert_int_equal(count(ldns_pkt_answer(r), "www.signed.", LDNS_RR_TYPE_RRSIG), 1);
	r = ask(*state, "www.signed.", LDNS_RR_TYPE_A, ASK_EDNS);
	assert_int_equal(count(ldns_pkt_answer(r), "www.signed.", LDNS_RR_TYPE_RRSIG), 0);
}

static void
do_nxdomain_proves_the_name_and_the_wildcard_absent(void **state)
{
	/* Canonical order: signed. insecure ns1 secure *.wc www; x sorts after www. */
	ldns_pkt *r = ask(*state, "x.signed.", LDNS_RR_TYPE_A, ASK_DO);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	ldns_rr_list *auth = ldns_pkt_authority(r);
	assert_int_equal(count(auth, "signed.", LDNS_RR_TYPE_SOA), 1);
	/* www NSEC signed. covers x; the apex NSEC covers *.signed. */
	assert_int_equal(count(auth, "www.signed.", LDNS_RR_TYPE_NSEC), 1);
	assert_int_equal(count(auth, "signed.", LDNS_RR_TYPE_NSEC), 1);
	assert_int_equal(count(auth, "www.signed.", LDNS_RR_TYPE_RRSIG), 1);
	assert_int_equal(count(auth, "signed.", LDNS_RR_TYPE_RRSIG), 2);   /* SOA, NSEC */
	/* RFC 4034 3: the SOA's RRSIG has the SOA's (negative) TTL. */
	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
		    ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) == LDNS_RR_TYPE_SOA)
			assert_int_equal(ldns_rr_ttl(rr), 300);
	}
}

static void
do_nxdomain_writes_an_nsec_proving_both_only_once(void **state)
{
	/* The apex NSEC (signed. -> insecure) covers both a.signed. and *.signed. */
	ldns_pkt *r = ask(*state, "a.signed.", LDNS_RR_TYPE_A, ASK_DO);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(count(ldns_pkt_authority(r), "signed.", LDNS_RR_TYPE_NSEC), 1);
	assert_int_equal(ldns_pkt_nscount(r), 4);   /* SOA, RRSIG, NSEC, RRSIG */
}

static void
do_nodata_shows_the_nsec_of_the_name(void **state)
{
	ldns_pkt *r = ask(*state, "www.signed.", LDNS_RR_TYPE_TXT, ASK_DO);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_int_equal(count(ldns_pkt_authority(r), "www.signed.", LDNS_RR_TYPE_NSEC), 1);
	assert_int_equal(count(ldns_pkt_authority(r), "www.signed.", LDNS_RR_TYPE_RRSIG), 1);
}

static void
do_wildcard_answer_proves_the_query_name_absent(void **state)
{
	ldns_pkt *r = ask(*state, "foo.wc.signed.", LDNS_RR_TYPE_A, ASK_DO);
	assert_int_equal(count(ldns_pkt_answer(r), "foo.wc.signed.", LDNS_RR_TYPE_A), 1);
	assert_int_equal(count(ldns_pkt_answer(r), "foo.wc.signed.", LDNS_RR_TYPE_RRSIG), 1);
	assert_int_equal(count(ldns_pkt_authority(r), "*.wc.signed.", LDNS_RR_TYPE_NSEC), 1);
}

static void
do_referral_to_a_signed_child_carries_the_ds_and_its_rrsig(void **state)
{
	ldns_pkt *r = ask(*state, "www.secure.signed.", LDNS_RR_TYPE_A, ASK_DO);
	assert_false(ldns_pkt_aa(r));
	ldns_rr_list *auth = ldns_pkt_authority(r);
	assert_int_equal(count(auth, "secure.signed.", LDNS_RR_TYPE_NS), 1);
	assert_int_equal(count(auth, "secure.signed.", LDNS_RR_TYPE_DS), 1);
	assert_int_equal(count(auth, "secure.signed.", LDNS_RR_TYPE_RRSIG), 1);
	assert_int_equal(count(auth, "secure.signed.", LDNS_RR_TYPE_NSEC), 0);
	assert_int_equal(count(ldns_pkt_additional(r), "ns.secure.signed.", LDNS_RR_TYPE_A), 1);
}

static void
do_referral_to_an_unsigned_child_proves_the_ds_absent(void **state)
{
	ldns_pkt *r = ask(*state, "www.insecure.signed.", LDNS_RR_TYPE_A, ASK_DO);
	ldns_rr_list *auth = ldns_pkt_authority(r);
	assert_int_equal(count(auth, "insecure.signed.", LDNS_RR_TYPE_NS), 1);
	assert_int_equal(count(auth, "insecure.signed.", LDNS_RR_TYPE_DS), 0);
	assert_int_equal(count(auth, "insecure.signed.", LDNS_RR_TYPE_NSEC), 1);
	assert_int_equal(count(auth, "insecure.signed.", LDNS_RR_TYPE_RRSIG), 1);
	/* Without DO: the NS only. */
	r = ask(*state, "www.insecure.signed.", LDNS_RR_TYPE_A, ASK_EDNS);
	assert_int_equal(ldns_pkt_nscount(r), 1);
}

/* ---- counters ------------------------------------------------------------------------- */

static void
counters_count_queries_by_transport_rcode_and_type(void **state)
{
	struct fixture *f = *state;
	ask(f, "www.example.", LDNS_RR_TYPE_A, 0);
	ask(f, "nothere.example.", LDNS_RR_TYPE_AAAA, ASK_TCP | ASK_EDNS);
	ask(f, "www.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(f->stats.queries_udp, 2);
	assert_int_equal(f->stats.queries_tcp, 1);
	assert_int_equal(f->stats.rcode[LDNS_RCODE_NOERROR], 2);
	assert_int_equal(f->stats.rcode[LDNS_RCODE_NXDOMAIN], 1);
	assert_int_equal(f->stats.qtype[LDNS_RR_TYPE_A], 2);
	assert_int_equal(f->stats.qtype[LDNS_RR_TYPE_AAAA], 1);
	assert_int_equal(f->stats.edns, 1);
}

/* ---- EDNS Client Subnet (RFC 7871) and dynamic (GSLB) names ------------------------- */

/* A query for www.example. A with one option in its OPT. */
static size_t
ecs_query(uint8_t *q, const uint8_t *opt, uint16_t optlen)
{
	size_t n = raw_query(q, 0, 0, 1, 1);
	return n + put_opt(q + n, 1232, 0, false, opt, optlen);
}

static void
a_well_formed_ecs_is_echoed_with_scope_0_on_static_data(void **state)
{
	struct fixture *f = *state;
	static const uint8_t ecs[] = { 0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2 };
	uint8_t q[128];
	ldns_pkt *r = ask_wire(f, q, ecs_query(q, ecs, sizeof(ecs)), false);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 1);
	/* The OPT is last and carries only the option: family, source 24, scope 0, address
	 * as sent (RFC 7871 7.2.1). */
	static const uint8_t echo[] = { 0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2 };
	assert_true(f->outlen > sizeof(echo));
	assert_memory_equal(f->out + f->outlen - sizeof(echo), echo, sizeof(echo));
	assert_int_equal(f->stats.ecs, 1);
}

static void
malformed_ecs_options_get_formerr(void **state)
{
	static const struct { uint8_t len; uint8_t opt[24]; } bad[] = {
		{ 9, { 0, 8, 0, 5, 0, 1, 33, 0, 10 } },                 /* v4 source above 32 */
		{ 7, { 0, 8, 0, 3, 0, 1, 24 } },                        /* shorter than 4 octets */
		{ 10, { 0, 8, 0, 6, 0, 1, 20, 0, 10, 1 } },             /* too few address octets */
		{ 11, { 0, 8, 0, 7, 0, 1, 20, 0, 10, 1, 0x0f } },       /* bits beyond the prefix */
		{ 11, { 0, 8, 0, 7, 0, 1, 24, 24, 10, 1, 2 } },         /* scope set in a query */
		{ 11, { 0, 8, 0, 7, 0, 1, 16, 0, 10, 1, 0 } },          /* too many address octets */
		{ 9, { 0, 8, 0, 5, 0, 3, 8, 0, 10 } },                  /* unknown family */
		{ 16, { 0, 8, 0, 4, 0, 1, 0, 0, 0, 8, 0, 4, 0, 1, 0, 0 } },  /* two ECS options */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t q[128];
		ldns_pkt *r = ask_wire(*state, q, ecs_query(q, bad[i].opt, bad[i].len), false);
		assert_non_null(r);
		if (ldns_pkt_get_rcode(r) != LDNS_RCODE_FORMERR)
			fail_msg("case %zu: rcode %d, want FORMERR", i, ldns_pkt_get_rcode(r));
	}
}

/* A GSLB runtime without checks over the example zone's names; the caller's ctx reads
 * its snapshot like a worker inside a batch. */
struct dyn {
	struct gslb_runtime *rt;
	struct gslb_reader *reader;
};

static void
dyn_start(struct fixture *f, struct dyn *d, const char *policy)
{
	char text[1024];
	struct gslb_conf *conf;
	snprintf(text, sizeof(text),
	         "gslb:\n  pools:\n    web:\n      ttl: 42\n      max-answers: 2\n"
	         "      members:\n"
	         "        - { name: a, address: 203.0.113.1 }\n"
	         "        - { name: b, address: 203.0.113.2 }\n"
	         "  names:\n"
	         "    - { name: dyn.example., pool: web, policy: %s }\n"
	         "    - { name: www.example., pool: web, policy: %s }\n"
	         "    - { name: x.wild.example., pool: web, policy: %s }\n", policy, policy, policy);
	assert_int_equal(gslb_conf_load("test", text, &conf), 0);
	assert_int_equal(gslb_runtime_start(conf, &(struct gslb_runtime_opts){ 0 }, &d->rt), 0);
	d->reader = gslb_reader_register(d->rt);
	assert_non_null(d->reader);
	f->ctx.gslb = gslb_state_acquire(d->rt);
}

static void
dyn_stop(struct fixture *f, struct dyn *d)
{
	f->ctx.gslb = NULL;
	gslb_reader_unregister(d->reader);
	gslb_runtime_stop(d->rt);
}

static void
a_dynamic_name_answers_from_its_pool_with_the_pool_ttl(void **state)
{
	struct fixture *f = *state;
	struct dyn d;
	dyn_start(f, &d, "weighted");
	/* not in the zone file: it exists all the same */
	ldns_pkt *r = ask(f, "dyn.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(count(ldns_pkt_answer(r), "dyn.example.", LDNS_RR_TYPE_A), 2);
	assert_int_equal(ldns_rr_ttl(first(ldns_pkt_answer(r), LDNS_RR_TYPE_A)), 42);
	/* the pool wins over the zone's own A at the name */
	r = ask(f, "www.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(count(ldns_pkt_answer(r), "www.example.", LDNS_RR_TYPE_A), 2);
	/* other types: the zone's data at the name ... */
	r = ask(f, "www.example.", LDNS_RR_TYPE_AAAA, 0);
	assert_int_equal(count(ldns_pkt_answer(r), "www.example.", LDNS_RR_TYPE_A), 0);
	assert_int_equal(ldns_pkt_nscount(r), 1);   /* no member has AAAA: NODATA */
	r = ask(f, "dyn.example.", LDNS_RR_TYPE_TXT, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_int_equal(count(ldns_pkt_authority(r), "example.", LDNS_RR_TYPE_SOA), 1);
	/* ... never a wildcard's: the dynamic name exists (RFC 4592) */
	r = ask(f, "x.wild.example.", LDNS_RR_TYPE_TXT, 0);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(r), 0);
	r = ask(f, "x.wild.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(count(ldns_pkt_answer(r), "x.wild.example.", LDNS_RR_TYPE_A), 2);
	/* a CNAME inside our zones to a dynamic name ends in the pool's addresses */
	r = ask(f, "alias.example.", LDNS_RR_TYPE_A, 0);
	assert_int_equal(count(ldns_pkt_answer(r), "www.example.", LDNS_RR_TYPE_A), 2);
	assert_int_equal(f->stats.gslb_answers, 4);
	assert_int_equal(f->stats.gslb_fallback, 0);
	dyn_stop(f, &d);
}

static void
a_hashed_dynamic_answer_echoes_ecs_with_the_hashed_prefix(void **state)
{
	struct fixture *f = *state;
	struct dyn d;
	dyn_start(f, &d, "hash");
	static const uint8_t ecs[] = { 0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2 };
	uint8_t q[128];
	ldns_pkt *r = ask_wire(f, q, ecs_query(q, ecs, sizeof(ecs)), false);  /* www.example. */
	assert_int_equal(count(ldns_pkt_answer(r), "www.example.", LDNS_RR_TYPE_A), 2);
	static const uint8_t echo[] = { 0, 8, 0, 7, 0, 1, 24, 24, 192, 0, 2 };
	assert_memory_equal(f->out + f->outlen - sizeof(echo), echo, sizeof(echo));
	dyn_stop(f, &d);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(an_exact_match_is_answered_authoritatively),
		T(a_cname_chain_is_followed_inside_the_zone),
		T(a_cname_loop_stops_when_a_name_repeats),
		T(a_cname_into_another_served_zone_is_followed_with_aa_from_the_first),
		T(a_cname_to_a_missing_name_is_nxdomain_with_the_chain_and_aa),
		T(a_dname_synthesises_a_cname_with_the_dname_ttl),
		T(a_dname_substitution_longer_than_255_octets_is_yxdomain),
		T(a_wildcard_answer_is_owned_by_the_query_name),
		T(an_empty_non_terminal_is_nodata_and_blocks_the_wildcard),
		T(nxdomain_has_the_soa_with_the_minimum_ttl),
		T(nodata_has_the_soa_with_the_smaller_of_ttl_and_minimum),
		T(a_referral_has_ns_in_authority_glue_in_additional_and_no_aa),
		T(in_domain_glue_that_does_not_fit_truncates_a_referral),
		T(addresses_of_ns_names_outside_the_cut_are_left_out_without_tc),
		T(ds_at_a_cut_is_answered_from_the_parent),
		T(mx_targets_get_their_addresses_in_additional),
		T(names_outside_our_zones_are_refused_without_aa),
		T(any_is_answered_with_one_rrset),
		T(the_question_case_is_preserved),
		T(names_in_mx_and_ns_rdata_are_compressed),
		T(names_in_srv_rdata_are_not_compressed),
		T(edns_is_echoed_with_our_payload_size_and_the_do_bit),
		T(without_edns_an_rrset_over_512_octets_truncates_to_an_empty_answer),
		T(truncation_keeps_the_whole_rrsets_that_fit),
		T(with_edns_the_same_rrset_fits_and_is_not_truncated),
		T(a_truncated_edns_answer_keeps_its_opt),
		T(over_tcp_nothing_is_truncated),
		T(a_client_payload_below_512_counts_as_512),
		T(edns_version_1_gets_badvers_with_an_opt_of_version_0),
		T(two_opt_records_get_formerr),
		T(a_packet_with_qr_set_is_dropped),
		T(two_questions_get_formerr),
		T(a_compression_loop_in_the_question_gets_formerr),
		T(trailing_octets_after_the_question_are_ignored),
		T(a_notify_gets_notimp),
		T(axfr_is_notimp_over_udp_and_refused_over_tcp),
		T(chaos_version_is_refused_by_default),
		T(chaos_version_and_identity_are_answered_when_configured),
		T(nsid_is_sent_when_asked_and_configured),
		T(do_adds_the_rrsig_of_the_answer),
		T(do_nxdomain_proves_the_name_and_the_wildcard_absent),
		T(do_nxdomain_writes_an_nsec_proving_both_only_once),
		T(do_nodata_shows_the_nsec_of_the_name),
		T(do_wildcard_answer_proves_the_query_name_absent),
		T(do_referral_to_a_signed_child_carries_the_ds_and_its_rrsig),
		T(do_referral_to_an_unsigned_child_proves_the_ds_absent),
		T(counters_count_queries_by_transport_rcode_and_type),
		T(a_well_formed_ecs_is_echoed_with_scope_0_on_static_data),
		T(malformed_ecs_options_get_formerr),
		T(a_dynamic_name_answers_from_its_pool_with_the_pool_ttl),
		T(a_hashed_dynamic_answer_echoes_ecs_with_the_hashed_prefix),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
