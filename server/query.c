/* query.c - the narrow query parser of the answer path: header, question and the EDNS
 * OPT record, straight from the packet into a struct query (worker threads; no
 * allocation). What to answer is answer.c's business; this file only decides whether
 * the packet is a well-formed query.
 *
 * The verdicts follow ldns_wire2pkt() so that fuzzing one against the other agrees:
 * names through wire_read_name() (same label, pointer and length rules), every record
 * of every section must be complete. On top of ldns we reject, like NSD, what the RFCs
 * make FORMERR and ldns lets through: QDCOUNT other than 1 (RFC 9619), a non-zero RCODE
 * or records in the answer/authority sections of a query, two OPT records, an OPT not
 * owned by the root (RFC 6891 6.1.1), OPT options running past the RDATA, a forward
 * compression pointer, a malformed or misplaced TSIG. */
#include <string.h>

#include "lib/wire.h"
#include "server/internal.h"


/* EDNS Client Subnet (RFC 7871 6): FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH and
 * the address truncated to the source prefix. FORMERR, as 7.1.2 and section 6 ask and as
 * Knot Resolver and PowerDNS answer, for: a family other than IPv4 (1) or IPv6 (2), a
 * source prefix longer than the family's address, an address of another length than
 * the prefix needs ("too few or too many ADDRESS octets"), address bits set beyond the
 * prefix, a non-zero SCOPE PREFIX-LENGTH (it MUST be 0 in queries), and a second ECS
 * option (one client subnet per query: two would make the answer's scope ambiguous). */
static enum query_verdict
parse_ecs(struct query *q, const uint8_t *p, uint16_t len)
{
	if (q->ecs || len < 4)
		return QUERY_FORMERR;
	uint16_t family = (uint16_t)(p[0] << 8 | p[1]);
	uint8_t source = p[2], scope = p[3];
	unsigned max = family == 1 ? 32 : family == 2 ? 128 : 0;
	size_t alen = ((size_t)source + 7) / 8;
	if (max == 0 || source > max || scope != 0 || len - 4u != alen)
		return QUERY_FORMERR;
	if (source % 8 != 0 && (p[4 + alen - 1] & (0xff >> (source % 8))) != 0)
		return QUERY_FORMERR;
	memset(q->ecs_addr, 0, sizeof(q->ecs_addr));
	memcpy(q->ecs_addr, p + 4, alen);
	q->ecs = true;
	q->ecs_family = family;
	q->ecs_source = source;
	q->ecs_addr_len = (uint8_t)alen;
	return QUERY_OK;
}

/* DNS COOKIE (RFC 7873 4): a client cookie of 8 octets, optionally followed by a server
 * cookie of 8 to 32; any other length is FORMERR (5.2.2). Only the first COOKIE option
 * is used (5.2: the others are ignored). */
static enum query_verdict
parse_cookie(struct query *q, const uint8_t *p, uint16_t len)
{
	if (len != COOKIE_CLIENT_LEN && (len < 16 || len > COOKIE_MAX_LEN))
		return QUERY_FORMERR;
	if (q->cookie_len == 0) {
		memcpy(q->cookie, p, len);
		q->cookie_len = (uint8_t)len;
	}
	return QUERY_OK;
}

/* Parses the options of an OPT RR's RDATA (RFC 6891 6.1.2); unknown options are
 * skipped (6.1.2: "MUST be ignored"). */
static enum query_verdict
parse_options(struct query *q, const uint8_t *p, size_t len)
{
	struct wire_reader r;
	wire_reader_init(&r, p, len);
	while (wire_reader_left(&r) > 0) {
		uint16_t code, olen;
		const uint8_t *data;
		if (wire_read_u16(&r, &code) != 0 || wire_read_u16(&r, &olen) != 0 ||
		    wire_read_bytes(&r, olen, &data) != 0)
			return QUERY_FORMERR;
		/* RFC 5001 2.1: the query carries NSID with an empty payload; a server
		 * ignores any payload it has. */
		if (code == OPT_NSID)
			q->nsid = true;
		else if (code == OPT_ECS && parse_ecs(q, data, olen) != QUERY_OK)
			return QUERY_FORMERR;
		else if (code == OPT_COOKIE && parse_cookie(q, data, olen) != QUERY_OK)
			return QUERY_FORMERR;
	}
	return QUERY_OK;
}

/* RFC 8945 4.2: a TSIG RR's RDATA is the algorithm name, 48-bit time, fudge, MAC size
 * and MAC, original ID, error, other-data length and data; it must fill RDLENGTH. NSD and
 * Knot say FORMERR to a TSIG that does not. */
static bool
tsig_well_formed(const uint8_t *p, size_t len)
{
	struct wire_reader r;
	uint16_t n;
	const uint8_t *skip;

	wire_reader_init(&r, p, len);
	if (wire_skip_name(&r) != 0 || wire_read_bytes(&r, 8, &skip) != 0 ||
	    wire_read_u16(&r, &n) != 0 || wire_read_bytes(&r, n, &skip) != 0 ||
	    wire_read_bytes(&r, 4, &skip) != 0 || wire_read_u16(&r, &n) != 0 ||
	    wire_read_bytes(&r, n, &skip) != 0)
		return false;
	return wire_reader_left(&r) == 0;
}

/* Reads one resource record of section (1 answer, 2 authority, 3 additional); last is
 * set for the final record of the message. */
static enum query_verdict
parse_rr(struct query *q, struct wire_reader *r, int section, bool last)
{
	uint8_t owner[DNAME_MAXLEN];
	size_t owner_len;
	uint16_t type, class, rdlen;
	uint32_t ttl;
	const uint8_t *rdata;

	if (wire_read_name(r, owner, &owner_len) != 0 || wire_read_u16(r, &type) != 0 ||
	    wire_read_u16(r, &class) != 0 || wire_read_u32(r, &ttl) != 0 ||
	    wire_read_u16(r, &rdlen) != 0 || wire_read_bytes(r, rdlen, &rdata) != 0)
		return QUERY_FORMERR;
	if (type == TYPE_TSIG) {
		/* RFC 8945 5.1: the TSIG RR is the last one of the additional section.
		 * We have no keys yet: a well-formed one gets NOTAUTH (BADKEY, 5.2.2). */
		if (section != 3 || !last || !tsig_well_formed(rdata, rdlen))
			return QUERY_FORMERR;
		return QUERY_NOTAUTH;
	}
	if (type != TYPE_OPT)
		return QUERY_OK;
	/* RFC 6891 6.1.1: one OPT at most, in the additional section, owned by root. */
	if (section != 3 || q->edns || owner_len != 1)
		return QUERY_FORMERR;
	q->edns = true;
	q->edns_size = class;
	q->edns_version = (uint8_t)(ttl >> 16);
	q->dnssec_ok = (ttl & 0x8000) != 0;
	return parse_options(q, rdata, rdlen);
}

enum query_verdict
query_parse(struct query *q, const uint8_t *pkt, size_t len)
{
	struct wire_reader r;
	uint16_t flags, counts[4];

	/* Field by field: zeroing the whole struct (qname included) costs more than
	 * the parse of a typical query. */
	q->has_question = q->edns = q->dnssec_ok = q->nsid = q->ecs = false;
	q->qname_len = 0;
	q->qtype = q->qclass = q->edns_size = 0;
	q->edns_version = 0;
	q->cookie_len = 0;
	if (len < 12 || (pkt[2] & 0x80) != 0)
		return QUERY_DROP;  /* nothing to answer, or an answer: never reply to one */

	wire_reader_init(&r, pkt, len);
	(void)wire_read_u16(&r, &q->id);
	(void)wire_read_u16(&r, &flags);
	for (int i = 0; i < 4; i++)
		(void)wire_read_u16(&r, &counts[i]);
	q->opcode = (uint8_t)(flags >> 11 & 0xf);
	q->rd = (flags & 0x0100) != 0;
	q->cd = (flags & 0x0010) != 0;

	/* RFC 9619: a QUERY carries exactly one question; NSD says FORMERR (Knot drops). */
	if (counts[0] != 1)
		return QUERY_FORMERR;
	if (wire_read_name(&r, q->qname, &q->qname_len) != 0 ||
	    wire_read_u16(&r, &q->qtype) != 0 || wire_read_u16(&r, &q->qclass) != 0)
		return QUERY_FORMERR;
	q->has_question = true;
	/* Other opcodes get NOTIMP from answer.c; their sections (UPDATE's prerequisites,
	 * NOTIFY's SOA) mean something else, so they are not read. */
	if (q->opcode != 0)
		return QUERY_OK;
	/* A query has no RCODE, no answers and no authority records, except the SOA of an
	 * IXFR (RFC 1995 3). NSD answers FORMERR to these; Knot ignores them. */
	if ((flags & 0xf) != 0 || counts[1] != 0 || (counts[2] != 0 && q->qtype != TYPE_IXFR))
		return QUERY_FORMERR;

	enum query_verdict verdict = QUERY_OK;
	for (int s = 2; s <= 3; s++) {
		for (unsigned i = 0; i < counts[s]; i++) {
			bool last = s == 3 && i + 1 == counts[s];
			enum query_verdict v = parse_rr(q, &r, s, last);
			if (v == QUERY_NOTAUTH)
				verdict = v;
			else if (v != QUERY_OK)
				return v;
		}
	}
	/* Octets after the last counted record are ignored (NSD and ldns do; Knot says
	 * FORMERR). */
	if (verdict == QUERY_OK && q->edns && q->edns_version != 0)
		return QUERY_BADVERS;
	return verdict;
}
