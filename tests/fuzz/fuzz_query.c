/* fuzz_query.c - libFuzzer target for the authoritative answer path: each input is a
 * query given to answer_query() as if it came over UDP and over TCP, against zones
 * compiled once at start (wildcards, CNAME chains and loops, DNAME, delegations with
 * glue, a signed zone with NSEC). Checks what must hold for any input:
 *   - the response fits the buffer and, over UDP, the size the client may receive
 *     (512, or its EDNS size capped by ours: RFC 6891 6.2.3 and 6.2.5);
 *   - nothing is sent to a message with QR set or shorter than a header, and
 *     otherwise a response is sent that ldns_wire2pkt() parses, with the query's ID,
 *     QR set and, for a parsed query, the question echoed octet for octet;
 *   - differentially against ldns: a message ldns rejects gets FORMERR or nothing, and
 *     a well-formed one-question query ldns accepts never gets FORMERR, except for the
 *     stricter checks listed in README.md (well_formed() encodes them).
 * One thread (the fuzzer's); the zones live in a scratch LMDB removed at exit. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <ldns/ldns.h>

#include "lib/dname.h"
#include "server/internal.h"
#include "tests/fuzz/fuzz_util.h"

static const char example_zone[] =
	"$ORIGIN example.\n"
	"$TTL 3600\n"
	"@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
	"@ NS ns1\n"
	"@ NS ns2\n"
	"@ MX 10 mail\n"
	"@ TXT \"v=spf1 -all\"\n"
	"ns1 A 192.0.2.1\n"
	"ns2 A 192.0.2.2\n"
	"ns2 AAAA 2001:db8::2\n"
	"mail A 192.0.2.25\n"
	"mail AAAA 2001:db8::25\n"
	"www A 192.0.2.80\n"
	"www AAAA 2001:db8::80\n"
	"alias CNAME www\n"
	"chain1 CNAME chain2\n"
	"chain2 CNAME chain3\n"
	"chain3 CNAME alias\n"
	"loop1 CNAME loop2\n"
	"loop2 CNAME loop1\n"
	"gone CNAME nothere\n"
	"toother CNAME www.other.\n"
	"tosigned CNAME www.signed.\n"
	"todname CNAME x.dn\n"
	"dn DNAME target\n"
	"x.target A 192.0.2.30\n"
	"self DNAME self.self\n"
	"long DNAME aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.\n"
	"toout DNAME other.\n"
	"*.wild A 192.0.2.100\n"
	"*.wild MX 10 mail\n"
	"*.wcname CNAME www\n"
	"*.wcent A 192.0.2.101\n"
	"x.y.wcent A 192.0.2.102\n"
	"sub NS ns1.sub\n"
	"sub NS ns.deleg2\n"
	"sub DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE9EAA13A1A8A2A4A4AF2F1C8A\n"
	"ns1.sub A 192.0.2.201\n"
	"ns1.sub AAAA 2001:db8::201\n"
	"deleg2 NS ns.deleg2\n"
	"ns.deleg2 A 192.0.2.220\n"
	"_sip._udp SRV 0 5 5060 sip\n"
	"_sip._tcp SRV 0 5 5060 sip.other.\n"
	"sip A 192.0.2.50\n"
	"ptr PTR www\n"
	"caa CAA 0 issue \"ca.example\"\n"
	"unk TYPE65000 \\# 3 010203\n"
	"big TXT \"0123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"1123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"2123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"3123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"4123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"5123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"6123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"big TXT \"7123456789012345678901234567890123456789012345678901234567890123456789\"\n"
	"bigalias CNAME big\n"
	"wide NS h01.hosts\n"
	"wide NS h02.hosts\n"
	"wide NS h03.hosts\n"
	"wide NS h04.hosts\n"
	"wide NS h05.hosts\n"
	"wide NS h06.hosts\n"
	"wide NS h07.hosts\n"
	"wide NS h08.hosts\n"
	"wide NS h09.hosts\n"
	"wide NS h10.hosts\n"
	"wide NS h11.hosts\n"
	"wide NS h12.hosts\n"
	"h01.hosts A 198.18.0.1\n"
	"h02.hosts A 198.18.0.2\n"
	"h03.hosts A 198.18.0.3\n"
	"h04.hosts A 198.18.0.4\n"
	"h05.hosts A 198.18.0.5\n"
	"h06.hosts A 198.18.0.6\n"
	"h07.hosts A 198.18.0.7\n"
	"h08.hosts A 198.18.0.8\n"
	"h09.hosts A 198.18.0.9\n"
	"h10.hosts AAAA 2001:db8::10\n"
	"h11.hosts AAAA 2001:db8::11\n"
	"h12.hosts AAAA 2001:db8::12\n";

static const char other_zone[] =
	"$ORIGIN other.\n"
	"$TTL 600\n"
	"@ SOA ns1.example. hostmaster.example. 1 7200 3600 1209600 60\n"
	"@ NS ns1.example.\n"
	"www A 198.51.100.80\n"
	"sip A 198.51.100.50\n"
	"back CNAME www.example.\n";

/* The parent of sub.example. is served too: DS queries at the cut are answered by the
 * parent, the rest by the child (RFC 4035 3.1.4.1). */
static const char child_zone[] =
	"$ORIGIN sub.example.\n"
	"$TTL 300\n"
	"@ SOA ns1 hostmaster 7 7200 3600 1209600 60\n"
	"@ NS ns1\n"
	"@ NS ns.deleg2.example.\n"
	"ns1 A 192.0.2.201\n"
	"ns1 AAAA 2001:db8::201\n"
	"host A 192.0.2.202\n";

/* Stand-in signatures: the answer path copies RRSIG and NSEC, it never verifies. */
#define SIG(t, l, ttl) " RRSIG " t " 13 " l " " ttl " 20300101000000 20200101000000 1 signed. AAAA\n"
static const char signed_zone[] =
	"$ORIGIN signed.\n"
	"$TTL 3600\n"
	"@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
	"@" SIG("SOA", "1", "3600")
	"@ NS ns1\n"
	"@" SIG("NS", "1", "3600")
	"@ DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n"
	"@" SIG("DNSKEY", "1", "3600")
	"@ NSEC a.signed. NS SOA RRSIG NSEC DNSKEY\n"
	"@" SIG("NSEC", "1", "300")
	"a CNAME www\n"
	"a" SIG("CNAME", "2", "3600")
	"a NSEC deleg.signed. CNAME RRSIG NSEC\n"
	"a" SIG("NSEC", "2", "300")
	"deleg NS ns.deleg\n"
	"deleg DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE9EAA13A1A8A2A4A4AF2F1C8A\n"
	"deleg" SIG("DS", "2", "3600")
	"deleg NSEC insecure.signed. NS DS RRSIG NSEC\n"
	"deleg" SIG("NSEC", "2", "300")
	"ns.deleg A 192.0.2.150\n"
	"insecure NS ns.insecure\n"
	"insecure NSEC ns1.signed. NS RRSIG NSEC\n"
	"insecure" SIG("NSEC", "2", "300")
	"ns.insecure A 192.0.2.151\n"
	"ns1 A 192.0.2.1\n"
	"ns1" SIG("A", "2", "3600")
	"ns1 NSEC *.wc.signed. A RRSIG NSEC\n"
	"ns1" SIG("NSEC", "2", "300")
	"*.wc A 192.0.2.100\n"
	"*.wc" SIG("A", "2", "3600")
	"*.wc NSEC www.signed. A RRSIG NSEC\n"
	"*.wc" SIG("NSEC", "2", "300")
	"www A 192.0.2.80\n"
	"www" SIG("A", "2", "3600")
	"www NSEC signed. A RRSIG NSEC\n"
	"www" SIG("NSEC", "2", "300");

static const struct {
	const char *origin, *text;
} zones[] = {
	{ "example.", example_zone },
	{ "other.", other_zone },
	{ "sub.example.", child_zone },
	{ "signed.", signed_zone },
};

/* ldns 1.8.3's ldns_wire2pkt() leaks the first TSIG RR of a message that has two
 * (ldns_pkt_set_tsig() does not free the one it replaces). Only this target's reference
 * parse uses ldns on the query side, the answer path never calls it, so leaks from
 * inside libldns are ldns's and are not reported here (README.md). */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libldns.so\n";
}

static void print_stats(void);

static struct zones_db *db;
static struct zones_snapshot *snap;
static struct answer_conf conf;
static struct answer_stats stats;
static struct answer_ctx ctx;
static uint8_t out[65535];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char dbdir[128];
	snprintf(dbdir, sizeof(dbdir), "%s/db", fuzz_dir());
	if (mkdir(dbdir, 0700) != 0 || zones_db_open(dbdir, 0, (size_t)64 << 20, &db) != 0) {
		fprintf(stderr, "fuzz_query: cannot create the zone store in %s\n", dbdir);
		abort();
	}
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct zones_report rep = { 0 };   /* fn NULL: errors go to stderr */
		const char *path = fuzz_write("zone", zones[i].text, strlen(zones[i].text));
		int rc = zones_compile_file(db, zones[i].origin, path, NULL, &rep);
		if (rc != 0) {
			fprintf(stderr, "fuzz_query: zone %s does not compile (%d)\n",
			        zones[i].origin, rc);
			abort();
		}
	}
	snap = zones_snapshot_new(db);
	if (snap == NULL)
		abort();
	static const uint8_t nsid[] = { 'f', 'u', 'z', 'z' };
	conf = (struct answer_conf){
		.edns_size = ANSWER_DEFAULT_EDNS_SIZE, .identity = "fuzz.signpost",
		.version = "signpost-fuzz", .nsid = nsid, .nsid_len = sizeof(nsid),
	};
	ctx = (struct answer_ctx){ .zsnap = snap, .conf = &conf, .stats = &stats };
	if (getenv("FUZZ_STATS") != NULL)
		atexit(print_stats);
	return 0;
}

/* ---- an independent walk for the exceptions to "ldns accepts, so do we" ------------- */

struct walk {
	bool ok;            /* the structure walked (ldns accepted it, so it should) */
	bool strict;        /* one of our deliberate stricter rules applies: may be FORMERR */
	bool other_rdata;   /* records whose RDATA we skip by RDLENGTH and ldns parses */
};

/* Skips a name at *pos; sets *fwd for a pointer that does not point before itself
 * (ldns follows those; we, like NSD and Knot, refuse them). */
static bool
walk_name(const uint8_t *p, size_t len, size_t *pos, bool *fwd)
{
	size_t at = *pos, end = 0;
	bool jumped = false;
	for (unsigned hops = 0; hops < 256; hops++) {
		if (at >= len)
			return false;
		uint8_t c = p[at];
		if (c == 0) {
			*pos = jumped ? end : at + 1;
			return true;
		}
		if ((c & 0xc0) == 0xc0) {
			if (at + 1 >= len)
				return false;
			size_t ptr = (size_t)(c & 0x3f) << 8 | p[at + 1];
			if (ptr >= at)
				*fwd = true;
			if (!jumped)
				end = at + 2;
			jumped = true;
			at = ptr;
			continue;
		}
		if ((c & 0xc0) != 0)
			return false;
		at += 1u + c;
	}
	return false;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 8945 4.2 layout, names uncompressed (RFC 3597 4: no compression in new types). */
static bool
tsig_ok(const uint8_t *p, size_t len)
{
	size_t pos = 0;
	bool fwd = false;
	/* Inside the RDATA alone a pointer can only go forward or out: both refused. */
	if (!walk_name(p, len, &pos, &fwd) || fwd || pos + 10 > len)
		return false;
	pos += 8;
	size_t mac = get16(p + pos);
	pos += 2 + mac;
	if (pos + 6 > len)
		return false;
	pos += 4;
	size_t other = get16(p + pos);
	pos += 2 + other;
	return pos == len;
}

/* RFC 7873 4 and 5.2.2: a COOKIE option is a client cookie of 8 octets, optionally
 * with a server cookie of 8 to 32; any other length is FORMERR. */
static bool
cookie_ok(uint16_t len)
{
	return len == 8 || (len >= 16 && len <= 40);
}

/* RFC 7871 6 and 7.1.2: one ECS option, family 1 or 2, a source prefix within the
 * family, SCOPE 0 in a query, exactly the address octets the prefix needs and no bits
 * set past it; anything else is FORMERR. */
static bool
ecs_ok(const uint8_t *o, uint16_t len)
{
	if (len < 4)
		return false;
	uint16_t family = get16(o);
	unsigned source = o[2], scope = o[3], max = family == 1 ? 32 : family == 2 ? 128 : 0;
	size_t alen = (source + 7) / 8;
	if (max == 0 || source > max || scope != 0 || len - 4u != alen)
		return false;
	return source % 8 == 0 || (o[4 + alen - 1] & (0xff >> (source % 8))) == 0;
}

static void
walk(const uint8_t *p, size_t len, struct walk *w)
{
	uint16_t qd = get16(p + 4), an = get16(p + 6), ns = get16(p + 8), ar = get16(p + 10);
	unsigned opcode = p[2] >> 3 & 0xf;
	size_t pos = 12;
	bool fwd = false;

	memset(w, 0, sizeof(*w));
	if (qd != 1) {
		w->strict = true;       /* RFC 9619 */
		w->ok = true;
		return;
	}
	if (!walk_name(p, len, &pos, &fwd) || pos + 4 > len)
		return;
	uint16_t qtype = get16(p + pos);
	pos += 4;
	w->ok = true;
	if (fwd) {
		w->strict = true;
		return;
	}
	if (opcode != 0)
		return;                 /* NOTIMP: the rest is not read */
	if ((p[3] & 0xf) != 0 || an != 0 || (ns != 0 && qtype != LDNS_RR_TYPE_IXFR)) {
		w->strict = true;
		return;
	}
	bool seen_opt = false;
	unsigned total = ns + ar;
	for (unsigned i = 0; i < total; i++) {
		bool additional = i >= ns, last = i + 1 == total;
		size_t owner = pos;
		if (!walk_name(p, len, &pos, &fwd) || pos + 10 > len) {
			w->ok = false;
			return;
		}
		uint16_t type = get16(p + pos), rdlen = get16(p + pos + 8);
		pos += 10;
		if (pos + rdlen > len) {
			w->ok = false;
			return;
		}
		if (fwd)
			w->strict = true;
		if (type == LDNS_RR_TYPE_OPT) {
			/* RFC 6891 6.1.1: one, in the additional section, owned by the root. */
			if (!additional || seen_opt || p[owner] != 0)
				w->strict = true;
			seen_opt = true;
			size_t o = pos, end = pos + rdlen;
			unsigned n_ecs = 0;
			while (o < end) {
				if (o + 4 > end || o + 4 + get16(p + o + 2) > end) {
					w->strict = true;       /* options past the RDATA */
					break;
				}
				/* ldns does not look inside options; server/query.c checks
				 * COOKIE and CLIENT-SUBNET as their RFCs ask. */
				uint16_t code = get16(p + o), olen = get16(p + o + 2);
				if (code == 10 && !cookie_ok(olen))
					w->strict = true;
				if (code == 8 && (n_ecs++ > 0 || !ecs_ok(p + o + 4, olen)))
					w->strict = true;
				o += 4 + olen;
			}
		} else if (type == LDNS_RR_TYPE_TSIG) {
			if (!additional || !last || !tsig_ok(p + pos, rdlen))
				w->strict = true;
		} else {
			w->other_rdata = true;
		}
		pos += rdlen;
	}
}

/* How often each side of the differential was exercised: printed at exit when
 * FUZZ_STATS is set, to see that a corpus reaches both (README.md). */
static unsigned long n_ldns_rejects, n_ldns_accepts_plain, n_ldns_accepts_strict;

static void
print_stats(void)
{
	fprintf(stderr, "fuzz_query: ldns rejects %lu (all FORMERR/dropped/excused), ldns accepts "
	        "%lu checked not FORMERR + %lu under a stricter rule\n", n_ldns_rejects,
	        n_ldns_accepts_plain, n_ldns_accepts_strict);
}

/* ---- one exchange ------------------------------------------------------------------- */

static void
exchange(const uint8_t *data, size_t size, bool tcp, ldns_status lst)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(53000),
	                           .sin_addr.s_addr = htonl(0x7f000001) };
	struct answer_client cl = { .addr = (const struct sockaddr *)&sin, .tcp = tcp };
	const char *how = tcp ? "TCP" : "UDP";

	size_t n = answer_query(&ctx, &cl, data, size, out, sizeof(out));
	FUZZ_CHECK(n <= sizeof(out), "%s: response of %zu octets", how, n);
	if (size < 12 || (data[2] & 0x80) != 0) {
		FUZZ_CHECK(n == 0, "%s: answered a message with QR set or no header", how);
		return;
	}
	struct query q;
	enum query_verdict v = query_parse(&q, data, size);
	/* answer.c drops, over TCP, a FORMERR message too short for the question it
	 * announces (under 17 octets), as NSD and Knot do. */
	if (n == 0 && tcp && size < 17 && v == QUERY_FORMERR)
		return;
	FUZZ_CHECK(n >= 12, "%s: no response (%zu octets) to a %zu-octet query", how, n, size);
	if (!tcp) {
		size_t limit = 512;
		if (q.edns && q.edns_size > limit)
			limit = q.edns_size < conf.edns_size ? q.edns_size : conf.edns_size;
		FUZZ_CHECK(n <= limit, "UDP: %zu octets over the limit %zu", n, limit);
	}

	ldns_pkt *resp = NULL;
	ldns_status rst = ldns_wire2pkt(&resp, out, n);
	FUZZ_CHECK(rst == LDNS_STATUS_OK, "%s: ldns cannot parse our response: %s", how,
	           ldns_get_errorstr_by_id(rst));
	FUZZ_CHECK(memcmp(out, data, 2) == 0, "%s: ID not copied", how);
	FUZZ_CHECK(ldns_pkt_qr(resp), "%s: QR clear in a response", how);
	unsigned rcode = (unsigned)(out[3] & 0xf) | (unsigned)ldns_pkt_edns_extended_rcode(resp) << 4;
	ldns_pkt_free(resp);

	/* RFC 1035 7.2 / RFC 6895: the question comes back as asked, case included. */
	if (v == QUERY_OK && get16(out + 4) == 1) {
		size_t qlen = 12 + q.qname_len + 4;
		FUZZ_CHECK(n >= qlen && memcmp(out + 12, q.qname, q.qname_len) == 0,
		           "%s: the question is not echoed", how);
	}

	/* Differential: ldns is the reference for what is well-formed. */
	unsigned opcode = data[2] >> 3 & 0xf;
	struct walk w;
	if (lst != LDNS_STATUS_OK) {
		walk(data, size, &w);
		n_ldns_rejects++;
		FUZZ_CHECK(rcode == RCODE_FORMERR || opcode != 0 || w.other_rdata,
		           "%s: ldns rejects the query (%s) but we answered rcode %u", how,
		           ldns_get_errorstr_by_id(lst), rcode);
	} else {
		walk(data, size, &w);
		if (w.ok && !w.strict)
			n_ldns_accepts_plain++;
		else
			n_ldns_accepts_strict++;
		FUZZ_CHECK(!w.ok || w.strict || rcode != RCODE_FORMERR,
		           "%s: FORMERR to a query ldns accepts and no stricter rule refuses", how);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65535)
		return -1;      /* not a DNS message over either transport */
	/* ldns is the slow part: parse once for both transports. */
	ldns_pkt *lp = NULL;
	ldns_status lst = size >= 12 ? ldns_wire2pkt(&lp, data, size) : LDNS_STATUS_PACKET_OVERFLOW;
	ldns_pkt_free(lp);

	if (zones_snapshot_begin(snap) != 0)
		abort();
	exchange(data, size, false, lst);
	exchange(data, size, true, lst);
	zones_snapshot_end(snap);
	return 0;
}
