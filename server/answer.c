/* answer.c - the authoritative answer path: from a parsed query to a response in the
 * worker's buffer (worker threads; no allocation, no locks, bounded loops).
 *
 * query.c parses; this file classifies (opcode, class, meta types, CHAOS), runs the RFC
 * 1034 4.3.2 algorithm on top of zones_lookup() (which finds one step: exact match,
 * wildcard, CNAME, DNAME, cut), follows CNAME/DNAME chains, and writes the sections with
 * name compression, EDNS and truncation by whole RRsets. DNSSEC records (RRSIG, NSEC
 * denial) come from answer_dnssec.c. Choices where NSD and Knot differ are listed in
 * docs/conformance.md. Dynamic (GSLB) names inside our zones are answered from the
 * batch's GSLB snapshot (answer_dynamic(); docs/gslb.md "Names in zones"), and every
 * answer to a query with EDNS Client Subnet echoes the option (RFC 7871 7.2.1). */
#include <string.h>

#include "gslb/gslb.h"
#include "lib/dname.h"
#include "lib/wire.h"
#include "server/internal.h"
#include "server/xfr.h"

/* ---- writing RRsets ------------------------------------------------------------------ */

/* Length of the uncompressed name at p within n octets, or 0 if it runs past them. */
static size_t
rdata_name_len(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && p[i] != 0) {
		if (p[i] > 63)
			return 0;
		i += 1 + (size_t)p[i];
	}
	return (i < n && i < DNAME_MAXLEN) ? i + 1 : 0;
}

/* Writes one record's RDATA, compressing the names of the RFC 1035 types only: RFC 3597
 * section 4 forbids compressing names in the RDATA of any other type (SRV, DNAME...). */
static void
put_rdata(struct wire_writer *w, uint16_t type, const uint8_t *p, size_t n)
{
	size_t l1, l2, fixed = 0;

	switch (type) {
	case TYPE_MX:
		fixed = 2;
		/* fall through */
	case TYPE_NS: case TYPE_MD: case TYPE_MF: case TYPE_CNAME: case TYPE_MB:
	case TYPE_MG: case TYPE_MR: case TYPE_PTR:
		if (n < fixed || (l1 = rdata_name_len(p + fixed, n - fixed)) != n - fixed)
			break;
		wire_put_bytes(w, p, fixed);
		wire_put_name_comp(w, p + fixed);
		return;
	case TYPE_SOA: case TYPE_MINFO:
		if ((l1 = rdata_name_len(p, n)) == 0 || (l2 = rdata_name_len(p + l1, n - l1)) == 0)
			break;
		if (n - l1 - l2 != (type == TYPE_SOA ? 20u : 0u))
			break;
		wire_put_name_comp(w, p);
		wire_put_name_comp(w, p + l1);
		wire_put_bytes(w, p + l1 + l2, n - l1 - l2);
		return;
	default:
		break;
	}
	wire_put_bytes(w, p, n);
}

int
answer__put_rrset(struct resp *rs, const uint8_t *owner, const struct zones_rrset *rr,
                  uint32_t ttl)
{
	struct wire_mark m = wire_writer_mark(&rs->w);
	const uint8_t *p = rr->rdata, *end = rr->rdata + rr->len;
	/* An owner that is the question's name (answer_query() wrote it at offset 12, first
	 * in the compression table) is the pointer the table search would find, without
	 * the search; the root stays one octet. */
	bool qowner = owner == rs->q->qname && rs->q->has_question && owner[0] != 0;

	for (unsigned i = 0; i < rr->count; i++) {
		if (end - p < 2)
			goto bad;
		size_t rdlen = (size_t)(p[0] << 8 | p[1]);
		p += 2;
		if ((size_t)(end - p) < rdlen)
			goto bad;
		if (qowner)
			wire_put_u16(&rs->w, 0xc000 | 12);
		else
			wire_put_name_comp(&rs->w, owner);
		wire_put_u16(&rs->w, rr->type);
		wire_put_u16(&rs->w, rs->rrclass);
		wire_put_u32(&rs->w, ttl);
		size_t rdlen_at = rs->w.len;
		wire_put_u16(&rs->w, 0);
		put_rdata(&rs->w, rr->type, p, rdlen);
		if (rs->w.overflow) {
			wire_writer_rollback(&rs->w, m);
			return -1;
		}
		wire_patch_u16(&rs->w, rdlen_at, (uint16_t)(rs->w.len - rdlen_at - 2));
		p += rdlen;
	}
	rs->count[rs->section] += rr->count;
	return 0;
bad:
	/* The compiler wrote this RRset: damage means a corrupt store. Leave it out
	 * rather than send a broken record. */
	wire_writer_rollback(&rs->w, m);
	return 0;
}

bool
answer__add(struct resp *rs, const uint8_t *owner, const struct zones_rrset *rr, uint32_t ttl)
{
	if (rs->tc)
		return false;
	if (answer__put_rrset(rs, owner, rr, ttl) == 0)
		return true;
	/* RFC 2181 9: an RRset of the answer or authority section that does not fit
	 * truncates the message; keep the whole RRsets before it (as Knot does). */
	rs->tc = true;
	return false;
}

/* Remembers the names an RRset points to for the additional section (RFC 1035 3.3.9,
 * 3.3.11, RFC 2782): NS, MX and SRV targets; never CNAME targets. cut is set for the
 * NS of a referral, whose in-domain addresses are required glue (RFC 9471). */
static void
want_targets(struct resp *rs, const struct zones_rrset *rr, const struct zones_zone *zone,
             const uint8_t *cut)
{
	size_t skip;
	switch (rr->type) {
	case TYPE_NS: skip = 0; break;
	case TYPE_MX: skip = 2; break;
	case TYPE_SRV: skip = 6; break;
	default: return;
	}
	const uint8_t *p = rr->rdata, *end = rr->rdata + rr->len;
	for (unsigned i = 0; i < rr->count && rs->naddl < ANSWER_MAX_ADDL; i++) {
		if (end - p < 2)
			return;
		size_t rdlen = (size_t)(p[0] << 8 | p[1]);
		if ((size_t)(end - p - 2) < rdlen)
			return;
		if (rdlen > skip && rdata_name_len(p + 2 + skip, rdlen - skip) == rdlen - skip) {
			rs->addl[rs->naddl++] = (struct addl){
				.name = p + 2 + skip, .zone = *zone, .cut = cut,
			};
		}
		p += 2 + rdlen;
	}
}

/* ---- the additional section ------------------------------------------------------------ */

static void
put_additional(struct resp *rs)
{
	static const uint16_t types[2] = { TYPE_A, TYPE_AAAA };

	rs->section = 2;
	for (unsigned i = 0; i < rs->naddl && !rs->tc; i++) {
		const struct addl *a = &rs->addl[i];
		bool dup = false;
		for (unsigned j = 0; j < i && !dup; j++)
			dup = dname_equal(rs->addl[j].name, a->name) && rs->addl[j].zone.id == a->zone.id;
		if (dup || !dname_is_subdomain(a->name, a->zone.apex))
			continue;
		struct zones_node node;
		if (!zones_find_node(rs->ctx->zsnap, &a->zone, a->name, &node))
			continue;
		/* Below a cut an address is glue: only referrals carry it (NSD also adds
		 * glue found below other cuts of the zone; so do we). */
		bool occluded = (node.flags & ZONES_NODE_OCCLUDED) != 0;
		if (occluded && a->cut == NULL)
			continue;
		bool required = a->cut != NULL && dname_is_subdomain(a->name, a->cut);
		for (int t = 0; t < 2; t++) {
			struct zones_rrset rr;
			if (!zones_node_rrset(&node, types[t], 0, &rr))
				continue;
			if (answer__put_rrset(rs, a->name, &rr, rr.ttl) != 0) {
				/* RFC 2181 9 and RFC 9471 3.1: only missing in-domain glue
				 * truncates; other additional data is just left out. */
				if (required)
					rs->tc = true;
				continue;
			}
			if (rs->q->dnssec_ok && !occluded)
				answer__put_rrsig(rs, &node, a->name, types[t], rr.ttl, false);
		}
	}
}

/* ---- the RFC 1034 4.3.2 algorithm ------------------------------------------------------ */

static uint32_t
soa_negative_ttl(const struct zones_rrset *soa)
{
	/* RFC 2308 3: the SOA in a negative answer has TTL min(SOA TTL, MINIMUM). */
	if (soa->len < 2 + 20)
		return soa->ttl;
	size_t rdlen = (size_t)(soa->rdata[0] << 8 | soa->rdata[1]);
	if (rdlen < 20 || rdlen + 2 > soa->len)
		return soa->ttl;
	const uint8_t *m = soa->rdata + 2 + rdlen - 4;
	uint32_t min = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
	return min < soa->ttl ? min : soa->ttl;
}

/* NXDOMAIN or NODATA: the zone's SOA in authority (RFC 2308 2.1, 2.2), and with DO the
 * NSEC proofs. */
static void
put_negative(struct resp *rs, const struct zones_result *res, const uint8_t *name, int kind)
{
	uint32_t ttl = soa_negative_ttl(&res->soa);

	rs->section = 1;
	if (!answer__add(rs, res->zone.apex, &res->soa, ttl))
		return;
	if (!rs->q->dnssec_ok)
		return;
	struct zones_node apex;
	if (zones_find_node(rs->ctx->zsnap, &res->zone, res->zone.apex, &apex))
		answer__put_rrsig(rs, &apex, res->zone.apex, TYPE_SOA, ttl, true);
	answer__put_denial(rs, res, name, kind);
}

/* A referral: the cut's NS in authority with AA clear (RFC 1034 4.3.2 step 3b), the
 * DS or its NSEC denial with DO (RFC 4035 3.1.4), and glue in additional. */
static void
put_referral(struct resp *rs, const struct zones_result *res, const uint8_t *name)
{
	const uint8_t *cut = dname_suffix(name, res->node_labels);

	/* Rate limiting counts referrals per delegation; a cut inside a DNAME's synthesised
	 * name (answer_zones()' stack) does not live long enough: the zone then. */
	rs->rrl_name = name == rs->q->qname ? cut : res->zone.apex;
	rs->section = 1;
	if (!answer__add(rs, cut, &res->rrset, res->rrset.ttl))
		return;
	want_targets(rs, &res->rrset, &res->zone, cut);
	if (rs->q->dnssec_ok)
		answer__put_referral_ds(rs, res, cut);
}

/* RFC 8482 4.2: ANY gets one RRset of the node, the first in the store's order
 * (signatures and NSEC skipped), over UDP and TCP alike as NSD and Knot do; with DO,
 * its RRSIG. QTYPE RRSIG (RFC 4035 3.1.5 leaves it open) gets every RRSIG RRset of the
 * node, as NSD does. A node with neither is NODATA. */
static void
put_node_sets(struct resp *rs, const struct zones_result *res, const uint8_t *name)
{
	size_t pos = 0;
	struct zones_rrset rr;
	unsigned n = 0;
	bool sigs = rs->q->qtype == TYPE_RRSIG;

	for (unsigned i = 0; i < 1024 && zones_node_next(&res->node, &pos, &rr); i++) {
		if (sigs != (rr.type == TYPE_RRSIG))
			continue;
		if (!sigs && (rr.type == TYPE_NSEC || rr.type == TYPE_NSEC3))
			continue;
		if (!answer__add(rs, name, &rr, rr.ttl))
			return;
		n++;
		if (sigs)
			continue;
		want_targets(rs, &rr, &res->zone, NULL);
		if (rs->q->dnssec_ok)
			answer__put_rrsig(rs, &res->node, name, rr.type, rr.ttl, true);
		break;
	}
	if (n == 0)
		put_negative(rs, res, name, ZONES_NODATA);
}

/* ---- dynamic names (GSLB) ------------------------------------------------------------- */

/* The negative answer of a dynamic name: it exists (it is configured), so NODATA with the
 * zone's SOA (RFC 2308 2.2) even where the zone file has no node for it. No NSEC denial:
 * dynamic data is not signed, and the zone's NSEC chain does not know the name. */
static void
put_dynamic_nodata(struct resp *rs, const struct zones_result *res)
{
	uint32_t ttl = soa_negative_ttl(&res->soa);

	rs->section = 1;
	if (!answer__add(rs, res->zone.apex, &res->soa, ttl) || !rs->q->dnssec_ok)
		return;
	struct zones_node apex;
	if (zones_find_node(rs->ctx->zsnap, &res->zone, res->zone.apex, &apex))
		answer__put_rrsig(rs, &apex, res->zone.apex, TYPE_SOA, ttl, true);
}

/* Picks the pool's addresses for qtype (A or AAAA) and writes them as one RRset with the
 * pool's TTL, in the order the policy gave. Returns false when the pick was empty. */
static bool
put_dynamic_addresses(struct resp *rs, const struct gslb_name *gn, const uint8_t *name,
                      uint16_t qtype)
{
	const struct query *q = rs->q;
	struct gslb_client cl = { .addr = rs->client, .has_ecs = q->ecs };
	struct gslb_answer a;
	uint8_t rdata[GSLB_MAX_ANSWERS * (2 + 16)];

	if (q->ecs) {
		cl.ecs_family = q->ecs_family;
		cl.ecs_source = q->ecs_source;
		memcpy(cl.ecs_addr, q->ecs_addr, sizeof(cl.ecs_addr));
	}
	gslb_pick_name(rs->ctx->gslb, gn, qtype, &cl, &a);
	/* The scope is what the choice depended on (RFC 7871 7.2.1); over a CNAME chain
	 * through several dynamic names, the narrowest (longest) one covers them all. */
	if (a.scope > rs->ecs_scope)
		rs->ecs_scope = a.scope;
	if (a.count == 0)
		return false;
	struct answer_stats *st = rs->ctx->stats;
	st->gslb_answers++;
	if (a.flags & GSLB_ANSWER_FALLBACK)
		st->gslb_fallback++;
	if (a.flags & GSLB_ANSWER_SORRY)
		st->gslb_sorry++;
	size_t alen = a.qtype == TYPE_A ? 4 : 16, n = 0;
	unsigned count = a.count <= GSLB_MAX_ANSWERS ? a.count : GSLB_MAX_ANSWERS;
	for (unsigned i = 0; i < count; i++) {
		rdata[n++] = 0;
		rdata[n++] = (uint8_t)alen;
		memcpy(rdata + n, a.addr[i], alen);
		n += alen;
	}
	struct zones_rrset rr = {
		.type = a.qtype, .ttl = a.ttl, .count = (uint16_t)count, .len = (uint16_t)n,
		.rdata = rdata,
	};
	rs->section = 0;
	answer__add(rs, name, &rr, a.ttl);
	return true;
}

/* Answers name, a dynamic name inside one of our zones (res: the zone lookup of name).
 * A and AAAA come from the pool; ANY gets the pool's A (or AAAA) set, one RRset as RFC
 * 8482 allows, else the node's first RRset; other types get what the zone holds at the
 * name itself (a TXT, say), never a wildcard's synthesis, since the name exists (RFC
 * 4592 2.2.1); else NODATA. Returns without following anything: a dynamic name has no
 * CNAME (the loader refuses one). */
static void
answer_dynamic(struct resp *rs, const struct zones_result *res, int kind,
               const struct gslb_name *gn, const uint8_t *name)
{
	uint16_t qtype = rs->q->qtype;
	bool own_node = (kind == ZONES_FOUND || kind == ZONES_NODATA) && !res->wildcard;

	if (qtype == TYPE_A || qtype == TYPE_AAAA) {
		if (!put_dynamic_addresses(rs, gn, name, qtype))
			put_dynamic_nodata(rs, res);
		return;
	}
	if (qtype == TYPE_ANY) {
		if (put_dynamic_addresses(rs, gn, name, TYPE_A) ||
		    put_dynamic_addresses(rs, gn, name, TYPE_AAAA))
			return;
		if (own_node) {
			put_node_sets(rs, res, name);
			return;
		}
	} else if (kind == ZONES_FOUND && !res->wildcard) {
		rs->section = 0;
		if (!answer__add(rs, name, &res->rrset, res->rrset.ttl))
			return;
		want_targets(rs, &res->rrset, &res->zone, NULL);
		if (rs->q->dnssec_ok)
			answer__put_rrsig(rs, &res->node, name, qtype, res->rrset.ttl, true);
		return;
	}
	put_dynamic_nodata(rs, res);
}

/* The target of the single CNAME at p (RDLENGTH + RDATA), or NULL if malformed. */
static const uint8_t *
cname_target(const struct zones_rrset *rr)
{
	if (rr->count < 1 || rr->len < 3)
		return NULL;
	size_t rdlen = (size_t)(rr->rdata[0] << 8 | rr->rdata[1]);
	if (rdlen + 2 > rr->len || rdata_name_len(rr->rdata + 2, rdlen) != rdlen)
		return NULL;
	return rr->rdata + 2;
}

/* RFC 6672 2.2: writes the DNAME and the CNAME synthesised from it (TTL = the DNAME's,
 * 3.1) and returns the new name in synth (as RDLENGTH + name: a one-record RRset), or
 * NULL after setting YXDOMAIN when the substituted name would exceed 255 octets. */
static const uint8_t *
follow_dname(struct resp *rs, const struct zones_result *res, const uint8_t *name,
             uint8_t *synth)
{
	const uint8_t *owner = dname_suffix(name, res->node_labels);
	const uint8_t *target = cname_target(&res->rrset);
	if (target == NULL)
		return NULL;
	if (!answer__add(rs, owner, &res->rrset, res->rrset.ttl))
		return NULL;
	if (rs->q->dnssec_ok)
		answer__put_rrsig(rs, &res->node, owner, TYPE_DNAME, res->rrset.ttl, true);

	size_t prefix = (size_t)(owner - name), tlen = dname_len(target);
	if (prefix + tlen > DNAME_MAXLEN) {
		rs->rcode = RCODE_YXDOMAIN;
		return NULL;
	}
	memcpy(synth + 2, name, prefix);
	memcpy(synth + 2 + prefix, target, tlen);
	synth[0] = (uint8_t)((prefix + tlen) >> 8);
	synth[1] = (uint8_t)(prefix + tlen);
	struct zones_rrset cname = {
		.type = TYPE_CNAME, .ttl = res->rrset.ttl, .count = 1,
		.len = (uint16_t)(2 + prefix + tlen), .rdata = synth,
	};
	/* The synthesised CNAME is unsigned: validators rebuild it from the DNAME
	 * (RFC 6672 5.3.1). */
	if (!answer__add(rs, name, &cname, cname.ttl))
		return NULL;
	return synth + 2;
}

static bool
seen_before(const uint8_t *const *seen, unsigned n, const uint8_t *name)
{
	for (unsigned i = 0; i < n; i++) {
		if (dname_equal(seen[i], name))
			return true;
	}
	return false;
}

/* Runs the lookup for the question and the chain of CNAME/DNAME it leads to, writing
 * the answer and authority sections. Returns false if the first name is in no zone of
 * ours (the caller answers REFUSED). */
static bool
answer_zones(struct resp *rs)
{
	uint8_t synth[ANSWER_MAX_CHAIN][2 + DNAME_MAXLEN];
	const uint8_t *seen[ANSWER_MAX_CHAIN + 1];
	const uint8_t *name = rs->q->qname;
	uint16_t qtype = rs->q->qtype;
	struct zones_result res;

	for (unsigned hop = 0;; hop++) {
		seen[hop] = name;
		/* A dynamic name answers from GSLB only where a served zone holds it outside
		 * any cut: the lookup below says so (and gives the SOA for NODATA). */
		const struct gslb_name *gn = rs->ctx->gslb != NULL
		                                 ? gslb_name_find(rs->ctx->gslb, name) : NULL;
		int kind = zones_lookup(rs->ctx->zsnap, name, qtype, &res);
		if (kind < 0) {
			if (hop == 0)
				rs->rcode = RCODE_SERVFAIL;
			return true;
		}
		if (hop == 0) {
			if (kind == ZONES_NOT_OURS)
				return false;
			/* An expired secondary zone (server/xfr_in.c) answers SERVFAIL, as NSD
			 * and Knot do (RFC 1034 4.3.5: expired data is not to be served). */
			if (xfr_zone_expired(res.zone.apex)) {
				rs->rcode = RCODE_SERVFAIL;
				return true;
			}
			/* AA describes the first owner name in the answer (RFC 1035 4.1.1),
			 * whatever zone the chain leads to (RFC 6604 does not change AA). */
			rs->aa = kind != ZONES_DELEGATION;
		}
		rs->section = 0;
		if (gn != NULL && kind != ZONES_NOT_OURS && kind != ZONES_DELEGATION &&
		    kind != ZONES_DNAME) {
			answer_dynamic(rs, &res, kind, gn, name);
			return true;
		}
		const uint8_t *next = NULL;
		switch (kind) {
		case ZONES_NOT_OURS:
			/* The chain left our zones: a resolver follows it (RFC 1034 4.3.2
			 * step 3a ends in "go back to step 1" only for our own data). */
			return true;
		case ZONES_FOUND:
			if (qtype == TYPE_ANY || qtype == TYPE_RRSIG) {
				put_node_sets(rs, &res, name);
				break;
			}
			if (!answer__add(rs, name, &res.rrset, res.rrset.ttl))
				return true;
			want_targets(rs, &res.rrset, &res.zone, NULL);
			if (rs->q->dnssec_ok)
				answer__put_rrsig(rs, &res.node, name, qtype, res.rrset.ttl, true);
			break;
		case ZONES_CNAME:
			if (!answer__add(rs, name, &res.rrset, res.rrset.ttl))
				return true;
			if (rs->q->dnssec_ok)
				answer__put_rrsig(rs, &res.node, name, TYPE_CNAME, res.rrset.ttl, true);
			/* RFC 1034 3.6.2: ANY matches the CNAME itself; nothing to follow. */
			if (qtype != TYPE_ANY)
				next = cname_target(&res.rrset);
			break;
		case ZONES_DNAME:
			next = follow_dname(rs, &res, name, synth[hop < ANSWER_MAX_CHAIN ? hop : 0]);
			break;
		case ZONES_NODATA:
			if (qtype == TYPE_RRSIG || qtype == TYPE_ANY)
				put_node_sets(rs, &res, name);
			else
				put_negative(rs, &res, name, kind);
			break;
		case ZONES_NXDOMAIN:
			/* RFC 6604 3: after a CNAME chain the RCODE describes the last name. */
			rs->rcode = RCODE_NXDOMAIN;
			rs->rrl_name = res.zone.apex;   /* RRL: per zone */
			put_negative(rs, &res, name, kind);
			break;
		case ZONES_DELEGATION:
			put_referral(rs, &res, name);
			break;
		default:
			rs->rcode = RCODE_SERVFAIL;
			return true;
		}
		if (res.wildcard && rs->q->dnssec_ok && kind != ZONES_NODATA)
			answer__want_wildcard_proof(rs, &res, name);
		/* Bounded (Knot and NSD stop chains too) and loop-safe: a name seen before
		 * ends the chain with what was written so far. */
		if (next == NULL || hop + 1 >= ANSWER_MAX_CHAIN || seen_before(seen, hop + 1, next))
			return true;
		name = next;
	}
}

/* ---- CHAOS --------------------------------------------------------------------------- */

/* version.bind, version.server, id.server, hostname.bind TXT CH (the BIND convention,
 * RFC 4892 for id.server). REFUSED unless configured, so a server tells nothing about
 * itself by default. */
static void
answer_chaos(struct resp *rs)
{
	static const uint8_t *const names[4] = {
		(const uint8_t *)"\7version\4bind", (const uint8_t *)"\7version\6server",
		(const uint8_t *)"\2id\6server", (const uint8_t *)"\10hostname\4bind",
	};
	const char *text = NULL;
	for (int i = 0; i < 4; i++) {
		if (dname_equal(rs->q->qname, names[i]))
			text = i < 2 ? rs->ctx->conf->version : rs->ctx->conf->identity;
	}
	/* Only TXT: ANY is REFUSED too (Knot; NSD answers it). */
	if (text == NULL || rs->q->qtype != TYPE_TXT) {
		rs->rcode = RCODE_REFUSED;
		return;
	}
	/* TXT RDATA: character-strings of at most 255 octets (RFC 1035 3.3.14). */
	uint8_t rdata[2 + 512];
	size_t tlen = strlen(text), n = 2;
	if (tlen > 500)
		tlen = 500;
	do {
		size_t chunk = tlen > 255 ? 255 : tlen;
		rdata[n++] = (uint8_t)chunk;
		memcpy(rdata + n, text, chunk);
		n += chunk;
		text += chunk;
		tlen -= chunk;
	} while (tlen > 0);
	rdata[0] = (uint8_t)((n - 2) >> 8);
	rdata[1] = (uint8_t)(n - 2);
	struct zones_rrset rr = {
		.type = TYPE_TXT, .ttl = 0, .count = 1, .len = (uint16_t)n, .rdata = rdata,
	};
	/* No AA: these are not zone data (NSD and Knot leave it clear). */
	rs->rrclass = CLASS_CH;
	rs->section = 0;
	answer__add(rs, rs->q->qname, &rr, 0);
}

/* ---- the response -------------------------------------------------------------------- */

/* RFC 6891 6.2.5: over UDP, the client's advertised size capped by ours, never below
 * 512; without EDNS, 512 (RFC 1035 4.2.1). */
static size_t
size_limit(const struct answer_ctx *ctx, const struct answer_client *cl,
           const struct query *q, size_t cap)
{
	size_t limit = 65535;
	if (!cl->tcp) {
		limit = 512;
		if (q->edns) {
			uint16_t ours = ctx->conf->edns_size ? ctx->conf->edns_size
			                                     : ANSWER_DEFAULT_EDNS_SIZE;
			limit = q->edns_size < ours ? q->edns_size : ours;
			if (limit < 512)
				limit = 512;
		}
	}
	return limit < cap ? limit : cap;
}

static size_t
opt_size(const struct resp *rs)
{
	const struct answer_conf *conf = rs->ctx->conf;
	size_t n = 11;
	if (rs->q->nsid && conf->nsid != NULL && conf->nsid_len > 0)
		n += 4 + conf->nsid_len;
	if (rs->q->ecs)
		n += 4 + 4 + rs->q->ecs_addr_len;
	if (rs->cookie_len > 0)
		n += 4u + rs->cookie_len;
	return n;
}

/* The OPT RR (RFC 6891 6.1.2): our payload size, the upper bits of the RCODE, version
 * 0, DO echoed (RFC 3225 3), NSID when asked and configured (RFC 5001 2.2), and the
 * client subnet when the query had one: RFC 7871 7.2.1 has FAMILY, SOURCE PREFIX-LENGTH
 * and ADDRESS echoed and SCOPE PREFIX-LENGTH set to what the answer depended on, 0 for
 * data that is the same for every client (static zone data, negative answers). */
static void
put_opt(struct resp *rs)
{
	const struct answer_conf *conf = rs->ctx->conf;
	const struct query *q = rs->q;
	bool nsid = q->nsid && conf->nsid != NULL && conf->nsid_len > 0;
	size_t rdlen = (nsid ? 4 + conf->nsid_len : 0) + (q->ecs ? 8u + q->ecs_addr_len : 0) +
	               (rs->cookie_len > 0 ? 4u + rs->cookie_len : 0);

	wire_put_u8(&rs->w, 0);
	wire_put_u16(&rs->w, TYPE_OPT);
	wire_put_u16(&rs->w, conf->edns_size ? conf->edns_size : ANSWER_DEFAULT_EDNS_SIZE);
	wire_put_u8(&rs->w, (uint8_t)(rs->rcode >> 4));
	wire_put_u8(&rs->w, 0);
	wire_put_u16(&rs->w, rs->q->dnssec_ok ? 0x8000 : 0);
	wire_put_u16(&rs->w, (uint16_t)rdlen);
	if (nsid) {
		wire_put_u16(&rs->w, OPT_NSID);
		wire_put_u16(&rs->w, (uint16_t)conf->nsid_len);
		wire_put_bytes(&rs->w, conf->nsid, conf->nsid_len);
	}
	if (q->ecs) {
		wire_put_u16(&rs->w, OPT_ECS);
		wire_put_u16(&rs->w, (uint16_t)(4 + q->ecs_addr_len));
		wire_put_u16(&rs->w, q->ecs_family);
		wire_put_u8(&rs->w, q->ecs_source);
		wire_put_u8(&rs->w, rs->ecs_scope);
		wire_put_bytes(&rs->w, q->ecs_addr, q->ecs_addr_len);
	}
	if (rs->cookie_len > 0) {
		/* RFC 7873 5.2.3-5.2.5: the client cookie and our server cookie. */
		wire_put_u16(&rs->w, OPT_COOKIE);
		wire_put_u16(&rs->w, rs->cookie_len);
		wire_put_bytes(&rs->w, rs->cookie, rs->cookie_len);
	}
	if (!rs->w.overflow)
		rs->count[2]++;
}

static void
put_header(struct resp *rs)
{
	const struct query *q = rs->q;
	uint8_t *h = rs->w.buf;

	h[0] = (uint8_t)(q->id >> 8);
	h[1] = (uint8_t)q->id;
	/* QR; opcode echoed; RD copied (RFC 1035 4.1.1); RA clear: no recursion here. */
	h[2] = (uint8_t)(0x80 | q->opcode << 3 | (rs->aa ? 0x04 : 0) | (rs->tc ? 0x02 : 0) |
	                 (q->rd ? 0x01 : 0));
	/* CD is not copied: RFC 4035 3.1.6 gives it meaning only for resolvers, and
	 * NSD and Knot both leave it clear in authoritative answers. RA, AD clear. */
	h[3] = (uint8_t)(rs->rcode & 0xf);
	h[4] = 0;
	h[5] = q->has_question ? 1 : 0;
	for (int i = 0; i < 3; i++) {
		h[6 + 2 * i] = (uint8_t)(rs->count[i] >> 8);
		h[7 + 2 * i] = (uint8_t)rs->count[i];
	}
}

/* Decides what kind of query this is and writes the sections for it. */
static void
answer_sections(struct resp *rs, enum query_verdict v)
{
	const struct query *q = rs->q;

	if (v == QUERY_FORMERR) {
		rs->rcode = RCODE_FORMERR;
		return;
	}
	if (v == QUERY_BADVERS) {
		rs->rcode = RCODE_BADVERS;  /* RFC 6891 6.1.3: nothing else is answered */
		return;
	}
	if (v == QUERY_NOTAUTH) {
		rs->rcode = RCODE_NOTAUTH;  /* TSIG with a key we do not have (BADKEY) */
		return;
	}
	if (q->opcode != 0) {
		/* IQUERY, STATUS, NOTIFY, UPDATE, DSO: not (yet) implemented (RFC 1035
		 * 4.1.1). NSD says REFUSED to NOTIFY, Knot NOTAUTH: see conformance.md. */
		rs->rcode = RCODE_NOTIMP;
		return;
	}
	switch (q->qtype) {
	case 0:
		/* TYPE0 is reserved (RFC 6895 3.1): NOTIMP like Knot (NSD: NODATA). */
		rs->rcode = RCODE_NOTIMP;
		return;
	case TYPE_AXFR:
		/* RFC 5936 4.2: AXFR is a TCP matter; over UDP both peers say NOTIMP.
		 * Over TCP: REFUSED until transfers land (a later issue). */
		rs->rcode = rs->tcp ? RCODE_REFUSED : RCODE_NOTIMP;
		return;
	case TYPE_IXFR:
		rs->rcode = RCODE_REFUSED;
		return;
	default:
		/* Other meta-types (OPT, TSIG, MAILA...) are looked up like data types
		 * and find nothing: NODATA, as NSD and Knot answer. */
		break;
	}
	if (q->qclass == CLASS_CH) {
		answer_chaos(rs);
		return;
	}
	if (q->qclass != CLASS_IN && q->qclass != CLASS_ANY) {
		rs->rcode = RCODE_REFUSED;
		return;
	}
	if (!answer_zones(rs)) {
		rs->rcode = RCODE_REFUSED;
		rs->ctx->not_ours = true;   /* a resolver may take it (server/recurse.c) */
		return;
	}
	/* QCLASS * (RFC 6895 3.2): answered from IN, but not authoritatively, since
	 * the answer may not be complete for every class (NSD; Knot sets AA). */
	if (q->qclass == CLASS_ANY)
		rs->aa = false;
	answer__put_proofs(rs);
	if (!rs->tc)
		put_additional(rs);
}

static void
count_query(struct answer_stats *st, const struct answer_client *cl, const struct query *q)
{
	if (cl->tcp)
		st->queries_tcp++;
	else
		st->queries_udp++;
	if (q->has_question) {
		if (q->qtype < 256)
			st->qtype[q->qtype]++;
		else
			st->qtype_other++;
	}
	if (q->edns)
		st->edns++;
	if (q->ecs)
		st->ecs++;
}

size_t
answer_query(struct answer_ctx *ctx, const struct answer_client *cl, const uint8_t *q,
             size_t qlen, uint8_t *out, size_t cap)
{
	struct query query;
	struct resp rs;

	ctx->not_ours = false;
	enum query_verdict v = query_parse(&query, q, qlen);
	/* Over TCP, a message too short to hold the question it announces gets no
	 * answer: NSD drops TCP messages under 17 octets, Knot any without its question,
	 * and neither replies. */
	if (cl->tcp && qlen < 12 + 5 && v == QUERY_FORMERR && (q[4] | q[5]) != 0)
		v = QUERY_DROP;
	if (v == QUERY_DROP || cap < 12) {
		ctx->stats->dropped++;
		return 0;
	}
	count_query(ctx->stats, cl, &query);

	/* Not a compound literal: that would zero the whole struct (kilobytes of
	 * additional-section and proof slots) for every query. */
	rs.q = &query;
	rs.ctx = ctx;
	rs.rrclass = CLASS_IN;
	rs.tcp = cl->tcp;
	rs.tc = rs.aa = false;
	rs.ecs_scope = 0;
	rs.client = cl->addr;
	rs.rcode = 0;
	rs.section = 0;
	rs.count[0] = rs.count[1] = rs.count[2] = 0;
	rs.naddl = rs.nproofs = 0;
	rs.rrl_name = NULL;
	rs.cookie_len = 0;
	enum cookie_state cookie = v == QUERY_OK ? answer__cookie(&rs, cl) : COOKIE_NONE;
	/* A FORMERR carries no OPT: the OPT may be what was malformed. */
	bool edns = query.edns && v != QUERY_FORMERR;
	size_t limit = size_limit(ctx, cl, &query, cap);
	size_t reserve = edns ? opt_size(&rs) : 0;
	if (reserve + 12 > limit)
		reserve = 0, edns = false;
	wire_writer_init(&rs.w, out, limit - reserve);
	wire_put_bytes(&rs.w, q, 12);   /* rewritten by put_header() */
	if (query.has_question) {
		wire_put_bytes(&rs.w, query.qname, query.qname_len);
		wire_put_u16(&rs.w, query.qtype);
		wire_put_u16(&rs.w, query.qclass);
		if (rs.w.overflow) {
			ctx->stats->dropped++;
			return 0;
		}
		/* Owner names equal to the qname become pointers to it: the question's
		 * case is kept (RFC 4343 4.1). */
		wire_writer_remember(&rs.w, 12);
	}
	struct wire_mark qend = wire_writer_mark(&rs.w);

	if (!answer__cookie_required(&rs, cl, cookie))
		answer_sections(&rs, v);
	if (!answer__rrl(&rs, cl, cookie, qend))
		return 0;

	if (edns) {
		rs.w.cap = limit;
		put_opt(&rs);
	}
	put_header(&rs);
	if (rs.rcode < 16)
		ctx->stats->rcode[rs.rcode]++;
	else if (rs.rcode == RCODE_BADVERS)
		ctx->stats->badvers++;
	if (rs.tc)
		ctx->stats->truncated++;
	return rs.w.len;
}
