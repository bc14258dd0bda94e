/* nsec3.c - authenticated denial with NSEC3 (RFC 5155 8): closest encloser proof, name
 * error, NODATA, DS denial with opt-out, wildcard proofs; iteration limits (RFC 9276).
 *
 * Hashing is the CPU cost an attacker controls (CVE-2023-50868): every name hashed is
 * counted against the per-call cap and the query's budget, and responses whose iteration
 * count is above the configured limit are not hashed at all. Called from nsec.c on resolver
 * threads; no state outside the arguments. */

#include <stdio.h>
#include <string.h>

#include "lib/nsec3hash.h"
#include "resolver/dnssec.h"

#define HASHLEN NSEC3HASH_SHA1_LEN
#define CACHE 8

struct n3ctx {
	struct dnssec__denial *d;
	ldns_rdf *zone;                         /* the zone the records speak for */
	uint16_t iter;
	uint8_t salt_len;
	const uint8_t *salt;
	bool shape[DNSSEC__DENIAL_MAX];         /* same zone and parameters, parseable */
	uint8_t owner[DNSSEC__DENIAL_MAX][HASHLEN];
	unsigned hashes;                        /* names hashed in this call */
	bool out_call;
	struct { ldns_rdf *name; uint8_t h[HASHLEN]; } cache[CACHE];
	unsigned ncache;
};

/* The hash an NSEC3 owner's first label spells in base32hex (RFC 5155 3.3). */
static bool
owner_hash(const ldns_rdf *owner, uint8_t out[HASHLEN])
{
	const uint8_t *p = ldns_rdf_data(owner);
	size_t len = ldns_rdf_size(owner) > 0 ? p[0] : 0;

	if (len != 32)          /* 20 octets are exactly 32 base32 digits */
		return false;
	return nsec3hash_b32_decode((const char *)p + 1, len, out, HASHLEN) == HASHLEN;
}

static unsigned
u8(const ldns_rdf *rdf)
{
	return rdf != NULL && ldns_rdf_size(rdf) >= 1 ? ldns_rdf_data(rdf)[0] : 0;
}

static const uint8_t *
next_hash(const ldns_rr *rr)
{
	const ldns_rdf *nx = ldns_rr_rdf(rr, 4);
	if (ldns_rdf_size(nx) != HASHLEN + 1 || ldns_rdf_data(nx)[0] != HASHLEN)
		return NULL;
	return ldns_rdf_data(nx) + 1;
}

static bool
optout(const ldns_rr *rr)
{
	return (u8(ldns_rr_rdf(rr, 1)) & 1) != 0;
}

static bool
has_type(const ldns_rr *rr, ldns_rr_type t)
{
	const ldns_rdf *bm = ldns_nsec_get_bitmap(rr);
	return bm != NULL && ldns_nsec_bitmap_covers_type(bm, t);
}

/* Accepts the records of c->zone that share the first one's parameters; records of an
 * unknown hash algorithm or with unknown flags are ignored (RFC 5155 8.1, 8.2). */
static bool
setup(struct n3ctx *c)
{
	struct dnssec__denial *d = c->d;
	bool have = false;

	for (size_t i = 0; i < d->n; i++) {
		ldns_rr *rr = d->rr[i];
		const ldns_rdf *salt = ldns_rr_rdf(rr, 3);
		const uint8_t *s = ldns_rdf_data(salt);
		if (u8(ldns_rr_rdf(rr, 0)) != 1 || (u8(ldns_rr_rdf(rr, 1)) & 0xfe) != 0 ||
		    ldns_rdf_size(salt) < 1 || (size_t)s[0] + 1 > ldns_rdf_size(salt) ||
		    next_hash(rr) == NULL || !owner_hash(ldns_rr_owner(rr), c->owner[i]))
			continue;
		ldns_rdf *parent = ldns_dname_left_chop(ldns_rr_owner(rr));
		bool same = parent != NULL && ldns_dname_compare(c->zone, parent) == 0;
		ldns_rdf_deep_free(parent);
		uint16_t iter = ldns_rdf2native_int16(ldns_rr_rdf(rr, 2));
		if (same && !have) {
			c->iter = iter;
			c->salt_len = s[0];
			c->salt = s + 1;
			have = true;
		}
		c->shape[i] = same && iter == c->iter && s[0] == c->salt_len &&
		              memcmp(s + 1, c->salt, c->salt_len) == 0;
	}
	return have;
}

/* H(name) per RFC 5155 5: IH(salt, x, 0) = H(x || salt), then k more rounds. */
static bool
hash_name(struct n3ctx *c, const ldns_rdf *name, uint8_t out[HASHLEN])
{
	for (unsigned i = 0; i < c->ncache; i++) {
		if (ldns_dname_compare(c->cache[i].name, name) == 0) {
			memcpy(out, c->cache[i].h, HASHLEN);
			return true;
		}
	}
	struct dnssec_budget *b = c->d->b;
	if (b->hash_left == 0) {
		c->d->budget_out = true;
		dnssec__status_set(&c->d->fail, DNSSEC_INDETERMINATE, DNSSEC_EDE_BOGUS,
		                   "NSEC3 hash budget of the query exhausted");
		return false;
	}
	if (c->hashes >= c->d->cfg->max_nsec3_hash_per_call) {
		c->out_call = true;
		return false;
	}
	b->hash_left--;
	b->hash_used++;
	c->hashes++;

	size_t len = ldns_rdf_size(name);
	if (len > LDNS_MAX_DOMAINLEN + 1)
		return false;
	nsec3hash_sha1(ldns_rdf_data(name), len, c->salt, c->salt_len, c->iter, out);
	if (c->ncache < CACHE) {
		c->cache[c->ncache].name = ldns_rdf_clone(name);
		if (c->cache[c->ncache].name != NULL)
			memcpy(c->cache[c->ncache++].h, out, HASHLEN);
	}
	return true;
}

static int
find_match(struct n3ctx *c, const uint8_t h[HASHLEN])
{
	for (size_t i = 0; i < c->d->n; i++) {
		if (c->shape[i] && memcmp(c->owner[i], h, HASHLEN) == 0 &&
		    dnssec__denial_usable(c->d, i))
			return (int)i;
	}
	return -1;
}

/* owner < h < next, or the last NSEC3 of the chain wrapping round (RFC 5155 8.3). */
static int
find_cover(struct n3ctx *c, const uint8_t h[HASHLEN])
{
	for (size_t i = 0; i < c->d->n; i++) {
		if (!c->shape[i])
			continue;
		const uint8_t *o = c->owner[i], *nx = next_hash(c->d->rr[i]);
		bool after = memcmp(o, h, HASHLEN) < 0, before = memcmp(h, nx, HASHLEN) < 0;
		bool cov = memcmp(o, nx, HASHLEN) < 0 ? after && before : after || before;
		if (cov && dnssec__denial_usable(c->d, i))
			return (int)i;
	}
	return -1;
}

static ldns_rdf *
suffix(const ldns_rdf *name, unsigned labels)
{
	return ldns_dname_clone_from(name, (uint16_t)(ldns_dname_label_count(name) - labels));
}

enum ce_result { CE_OK, CE_QNAME_EXISTS, CE_FAIL };

/* Closest encloser proof (RFC 5155 8.3): the longest ancestor of qname with a matching
 * NSEC3, and an NSEC3 covering the next closer name. Sets *ce_labels and *nc. */
static enum ce_result
ce_proof(struct n3ctx *c, const ldns_rdf *qname, unsigned *ce_labels, int *nc)
{
	unsigned q = ldns_dname_label_count(qname), zl = ldns_dname_label_count(c->zone);
	uint8_t prev[HASHLEN], h[HASHLEN];

	for (unsigned k = q; k + 1 > zl && k <= q; k--) {
		ldns_rdf *name = suffix(qname, k);
		bool ok = name != NULL && hash_name(c, name, h);
		ldns_rdf_deep_free(name);
		if (!ok)
			return CE_FAIL;
		int m = find_match(c, h);
		if (m >= 0) {
			if (k == q)
				return CE_QNAME_EXISTS;
			/* RFC 5155 8.3: a cut or DNAME cannot be the closest encloser. */
			ldns_rr *rr = c->d->rr[m];
			if ((has_type(rr, LDNS_RR_TYPE_NS) && !has_type(rr, LDNS_RR_TYPE_SOA)) ||
			    has_type(rr, LDNS_RR_TYPE_DNAME))
				return CE_FAIL;
			*ce_labels = k;
			*nc = find_cover(c, prev);
			return *nc >= 0 ? CE_OK : CE_FAIL;
		}
		memcpy(prev, h, HASHLEN);
		if (k == 0)
			break;
	}
	return CE_FAIL;
}

/* Hashes "*." + the ce_labels rightmost labels of qname into h. */
static bool
hash_wildcard(struct n3ctx *c, const ldns_rdf *qname, unsigned ce_labels, uint8_t h[HASHLEN])
{
	ldns_rdf *ce = suffix(qname, ce_labels), *star = ldns_dname_new_frm_str("*");
	ldns_rdf *wc = ce != NULL && star != NULL ? ldns_dname_cat_clone(star, ce) : NULL;
	bool ok = wc != NULL && hash_name(c, wc, h);
	ldns_rdf_deep_free(ce);
	ldns_rdf_deep_free(star);
	ldns_rdf_deep_free(wc);
	return ok;
}

static bool
nodata_bitmap_ok(const ldns_rr *rr, ldns_rr_type qtype)
{
	if (has_type(rr, qtype) || has_type(rr, LDNS_RR_TYPE_CNAME))
		return false;
	if (qtype == LDNS_RR_TYPE_DS)
		return !has_type(rr, LDNS_RR_TYPE_SOA);
	return !has_type(rr, LDNS_RR_TYPE_NS) || has_type(rr, LDNS_RR_TYPE_SOA);
}

static enum dnssec_result
done(struct dnssec_status *st, enum dnssec_result r, enum dnssec_denial den, const char *why)
{
	st->denial = den;
	dnssec__status_set(st, r, DNSSEC_EDE_NONE, "%s", why);
	return r;
}

static enum dnssec_result
fail(struct n3ctx *c, struct dnssec_status *st, const char *what)
{
	if (c->out_call && !c->d->budget_out) {
		dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_BOGUS,
		                   "%s: too many NSEC3 hash computations for one response", what);
		st->denial = DNSSEC_DENY_NONE;
		return st->result;
	}
	return dnssec__denial_fail(c->d, st, what);
}

static enum dnssec_result
nxdomain(struct n3ctx *c, const ldns_rdf *qname, struct dnssec_status *st)
{
	unsigned ce;
	int nc;
	uint8_t h[HASHLEN];
	enum ce_result r = ce_proof(c, qname, &ce, &nc);

	if (r == CE_QNAME_EXISTS)
		return fail(c, st, "an NSEC3 matches the name said not to exist");
	if (r != CE_OK)
		return fail(c, st, "no NSEC3 closest encloser proof");
	if (!hash_wildcard(c, qname, ce, h) || find_cover(c, h) < 0)
		return fail(c, st, "no NSEC3 proves the wildcard does not exist");
	/* With opt-out the next closer name may be an unsigned delegation, so the name
	 * error is not authenticated (as Unbound: insecure, not secure). */
	if (optout(c->d->rr[nc]))
		return done(st, DNSSEC_INSECURE, DNSSEC_DENY_NXDOMAIN, "NSEC3 NXDOMAIN under opt-out");
	return done(st, DNSSEC_SECURE, DNSSEC_DENY_NXDOMAIN, "NSEC3 proves NXDOMAIN");
}

static enum dnssec_result
nodata(struct n3ctx *c, const ldns_rdf *qname, ldns_rr_type qtype, bool for_ds,
       struct dnssec_status *st)
{
	uint8_t h[HASHLEN];
	if (!hash_name(c, qname, h))
		return fail(c, st, "cannot hash the name");
	int m = find_match(c, h);
	if (m >= 0) {
		ldns_rr *rr = c->d->rr[m];
		if (!nodata_bitmap_ok(rr, qtype))
			return done(st, DNSSEC_BOGUS, DNSSEC_DENY_NONE,
			            "the NSEC3 at the name lists the type, a CNAME or a cut");
		if (for_ds && has_type(rr, LDNS_RR_TYPE_NS))
			return done(st, DNSSEC_INSECURE, DNSSEC_DENY_NO_DS,
			            "NSEC3 proves an insecure delegation (NS without DS)");
		return done(st, DNSSEC_SECURE, DNSSEC_DENY_NODATA, "NSEC3 proves NODATA");
	}
	unsigned ce;
	int nc;
	if (ce_proof(c, qname, &ce, &nc) != CE_OK)
		return fail(c, st, "no NSEC3 matches the name and no closest encloser proof");
	/* RFC 5155 8.6: a DS query answered by an opt-out span: an insecure delegation. */
	if (qtype == LDNS_RR_TYPE_DS && optout(c->d->rr[nc]))
		return done(st, DNSSEC_INSECURE, DNSSEC_DENY_NO_DS,
		            "NSEC3 opt-out covers the delegation");
	if (for_ds)
		return fail(c, st, "the NSEC3 covering the delegation is not opt-out");
	/* RFC 5155 8.7: wildcard NODATA. */
	if (!hash_wildcard(c, qname, ce, h))
		return fail(c, st, "cannot hash the wildcard");
	m = find_match(c, h);
	if (m >= 0 && nodata_bitmap_ok(c->d->rr[m], qtype))
		return done(st, DNSSEC_SECURE, DNSSEC_DENY_NODATA, "NSEC3 proves wildcard NODATA");
	return fail(c, st, "no NSEC3 proves NODATA");
}

/* RFC 5155 8.8: the next closer name of the wildcard's parent must be covered. */
static enum dnssec_result
wildcard(struct n3ctx *c, const ldns_rdf *qname, unsigned labels, struct dnssec_status *st)
{
	uint8_t h[HASHLEN];
	if (labels >= ldns_dname_label_count(qname))
		return done(st, DNSSEC_BOGUS, DNSSEC_DENY_NONE, "not a wildcard expansion");
	ldns_rdf *nc = suffix(qname, labels + 1);
	bool ok = nc != NULL && hash_name(c, nc, h);
	ldns_rdf_deep_free(nc);
	int cov = ok ? find_cover(c, h) : -1;
	if (cov < 0)
		return fail(c, st, "no NSEC3 covers the next closer name of the wildcard");
	if (optout(c->d->rr[cov]))
		return done(st, DNSSEC_INSECURE, DNSSEC_DENY_WILDCARD,
		            "NSEC3 wildcard proof under opt-out");
	return done(st, DNSSEC_SECURE, DNSSEC_DENY_WILDCARD, "NSEC3 proves the wildcard expansion");
}

/* RFC 9276 3.2: too many iterations may be treated as insecure (or bogus). A forged
 * record must not downgrade a zone, so the record has to verify first. */
static bool
iterations_too_high(struct n3ctx *c, struct dnssec_status *st)
{
	const struct dnssec_config *cfg = c->d->cfg;
	bool bogus = cfg->nsec3_bogus_iter != 0 && c->iter > cfg->nsec3_bogus_iter;
	if (c->iter <= cfg->nsec3_max_iter && !bogus)
		return false;
	for (size_t i = 0; i < c->d->n; i++) {
		if (c->shape[i] && dnssec__denial_usable(c->d, i)) {
			dnssec__status_set(st, bogus ? DNSSEC_BOGUS : DNSSEC_INSECURE,
			                   DNSSEC_EDE_UNSUPPORTED_NSEC3_ITER,
			                   "NSEC3 iterations %u above the limit %u", c->iter,
			                   bogus ? cfg->nsec3_bogus_iter : cfg->nsec3_max_iter);
			st->denial = DNSSEC_DENY_NONE;
			return true;
		}
	}
	fail(c, st, "no valid NSEC3 record");
	return true;
}

enum dnssec_result
dnssec__nsec3_prove(struct dnssec__denial *d, enum dnssec_denial want, const ldns_rdf *qname,
                    ldns_rr_type qtype, unsigned wildcard_labels, struct dnssec_status *st)
{
	struct n3ctx c = { .d = d };
	enum dnssec_result r;

	/* Without keys (trusted cached records) the zone is the parent of the first owner. */
	c.zone = d->zone != NULL ? ldns_rdf_clone(d->zone) : ldns_dname_left_chop(ldns_rr_owner(d->rr[0]));
	if (c.zone == NULL || !setup(&c)) {
		ldns_rdf_deep_free(c.zone);
		return dnssec__denial_fail(d, st, "no usable NSEC3 record (hash, flags or owner)");
	}
	if (!ldns_dname_is_subdomain(qname, c.zone) && ldns_dname_compare(qname, c.zone) != 0) {
		r = done(st, DNSSEC_BOGUS, DNSSEC_DENY_NONE, "name is outside the NSEC3 zone");
		goto out;
	}
	if (iterations_too_high(&c, st)) {
		r = st->result;
		goto out;
	}
	switch (want) {
	case DNSSEC_DENY_NXDOMAIN: r = nxdomain(&c, qname, st); break;
	case DNSSEC_DENY_NODATA: r = nodata(&c, qname, qtype, false, st); break;
	case DNSSEC_DENY_NO_DS: r = nodata(&c, qname, LDNS_RR_TYPE_DS, true, st); break;
	case DNSSEC_DENY_WILDCARD: r = wildcard(&c, qname, wildcard_labels, st); break;
	default: r = done(st, DNSSEC_BOGUS, DNSSEC_DENY_NONE, "nothing to prove"); break;
	}
out:
	ldns_rdf_deep_free(c.zone);
	for (unsigned i = 0; i < c.ncache; i++)
		ldns_rdf_deep_free(c.cache[i].name);
	return r;
}
