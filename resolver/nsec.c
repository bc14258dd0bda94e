/* nsec.c - authenticated denial with NSEC (RFC 4035 5.4, RFC 6840 4), aggressive use of
 * cached NSEC records (RFC 8198), and the entry point that sends NSEC3 responses to nsec3.c.
 *
 * A response's NSEC records are collected once and each is verified only when a proof needs
 * it, so a response stuffed with records costs no more signature checks than the proof
 * uses. Runs on resolver threads; no state outside the arguments. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/dnssec.h"

bool
dnssec__denial_usable(struct dnssec__denial *d, size_t i)
{
	if (d->ok[i] != 0)
		return d->ok[i] > 0;
	if (d->keys == NULL) {
		d->ok[i] = 1;
		return true;
	}
	/* A response stuffed with bogus denial records must not spend the whole query's
	 * budget in one proof. */
	if (d->budget_out || d->call_out)
		return false;
	if (d->b->verify_used - d->used_at_start >= d->cfg->max_verify_per_denial) {
		d->call_out = true;
		return false;
	}
	ldns_rr *rr = d->rr[i];
	ldns_rr_list *set = ldns_rr_list_new();
	if (set == NULL)
		return false;
	for (size_t j = 0; j < ldns_rr_list_rr_count(d->auth); j++) {
		ldns_rr *x = ldns_rr_list_rr(d->auth, j);
		if (ldns_rr_get_type(x) == ldns_rr_get_type(rr) &&
		    ldns_dname_compare(ldns_rr_owner(x), ldns_rr_owner(rr)) == 0)
			ldns_rr_list_push_rr(set, x);
	}
	struct dnssec_status st;
	enum dnssec_result r = dnssec_verify_rrset(d->cfg, d->b, set, d->auth, d->keys, d->now, &st);
	ldns_rr_list_free(set);
	if (r == DNSSEC_INDETERMINATE) {
		d->budget_out = true;
		d->fail = st;
		return false;           /* not marked: nothing was learnt about the record */
	}
	/* One verdict for the whole RRset: records sharing owner and type are not redone. */
	for (size_t j = 0; j < d->n; j++) {
		if (ldns_rr_get_type(d->rr[j]) == ldns_rr_get_type(rr) &&
		    ldns_dname_compare(ldns_rr_owner(d->rr[j]), ldns_rr_owner(rr)) == 0)
			d->ok[j] = r == DNSSEC_SECURE ? 1 : -1;
	}
	if (r != DNSSEC_SECURE)
		d->fail = st;
	return r == DNSSEC_SECURE;
}

enum dnssec_result
dnssec__denial_fail(struct dnssec__denial *d, struct dnssec_status *st, const char *what)
{
	if (d->budget_out) {
		*st = d->fail;
		st->result = DNSSEC_INDETERMINATE;
	} else if (d->call_out) {
		dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_BOGUS,
		                   "%s; too many signature checks for one denial proof", what);
	} else if (d->fail.result == DNSSEC_BOGUS) {
		dnssec__status_set(st, DNSSEC_BOGUS, d->fail.ede, "%s; a denial record is bogus: %s",
		                   what, d->fail.reason);
	} else {
		dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_NSEC_MISSING, "%s", what);
	}
	st->denial = DNSSEC_DENY_NONE;
	return st->result;
}

static bool
has_type(const ldns_rr *nsec, ldns_rr_type t)
{
	const ldns_rdf *bm = ldns_nsec_get_bitmap(nsec);
	return bm != NULL && ldns_nsec_bitmap_covers_type(bm, t);
}

static const ldns_rdf *
nsec_next(const ldns_rr *nsec)
{
	return ldns_rr_rdf(nsec, 0);
}

/* owner < name < next in canonical order (RFC 4034 6.1). The last NSEC of a zone points
 * back to the apex: it covers every name after its owner that is under the apex. */
static bool
covers(const ldns_rr *nsec, const ldns_rdf *name)
{
	const ldns_rdf *owner = ldns_rr_owner(nsec), *next = nsec_next(nsec);
	bool after_owner = ldns_dname_compare(owner, name) < 0;

	if (ldns_dname_compare(owner, next) < 0)
		return after_owner && ldns_dname_compare(name, next) < 0;
	return after_owner && ldns_dname_is_subdomain(name, next);
}

/* An NSEC at a delegation point (NS without SOA) or at a DNAME says nothing about names
 * below its owner: those belong to another zone or are redirected (RFC 6840 4.1). */
static bool
blocks_below(const ldns_rr *nsec, const ldns_rdf *name)
{
	const ldns_rdf *owner = ldns_rr_owner(nsec);
	if (!ldns_dname_is_subdomain(name, owner))
		return false;
	return (has_type(nsec, LDNS_RR_TYPE_NS) && !has_type(nsec, LDNS_RR_TYPE_SOA)) ||
	       has_type(nsec, LDNS_RR_TYPE_DNAME);
}

/* Number of rightmost labels a and b share. */
static unsigned
common_labels(const ldns_rdf *a, const ldns_rdf *b)
{
	unsigned la = ldns_dname_label_count(a), lb = ldns_dname_label_count(b);
	unsigned n = 0;

	while (n < la && n < lb) {
		ldns_rdf *x = ldns_dname_clone_from(a, (uint16_t)(la - n - 1));
		ldns_rdf *y = ldns_dname_clone_from(b, (uint16_t)(lb - n - 1));
		bool same = x != NULL && y != NULL && ldns_dname_compare(x, y) == 0;
		ldns_rdf_deep_free(x);
		ldns_rdf_deep_free(y);
		if (!same)
			break;
		n++;
	}
	return n;
}

/* The closest encloser an NSEC covering qname implies: the longest ancestor of qname
 * that is an ancestor of the NSEC's owner or next name (both exist). Caller frees. */
static ldns_rdf *
closest_encloser(const ldns_rr *nsec, const ldns_rdf *qname)
{
	unsigned a = common_labels(qname, ldns_rr_owner(nsec));
	unsigned b = common_labels(qname, nsec_next(nsec));
	unsigned q = ldns_dname_label_count(qname);
	return ldns_dname_clone_from(qname, (uint16_t)(q - (a > b ? a : b)));
}

static ldns_rdf *
wildcard_of(const ldns_rdf *ce)
{
	ldns_rdf *star = ldns_dname_new_frm_str("*");
	ldns_rdf *wc = star != NULL ? ldns_dname_cat_clone(star, ce) : NULL;
	ldns_rdf_deep_free(star);
	return wc;
}

/* Index of a usable NSEC that covers name (and may speak for it), or -1. */
static int
find_cover(struct dnssec__denial *d, const ldns_rdf *name)
{
	for (size_t i = 0; i < d->n; i++) {
		if (covers(d->rr[i], name) && !blocks_below(d->rr[i], name) &&
		    dnssec__denial_usable(d, i))
			return (int)i;
	}
	return -1;
}

/* Index of a usable NSEC owned by name, or -1. */
static int
find_match(struct dnssec__denial *d, const ldns_rdf *name)
{
	for (size_t i = 0; i < d->n; i++) {
		if (ldns_dname_compare(ldns_rr_owner(d->rr[i]), name) == 0 &&
		    dnssec__denial_usable(d, i))
			return (int)i;
	}
	return -1;
}

/* qname does not exist; returns the closest encloser (caller frees) or NULL. An NSEC
 * whose next name is below qname shows qname is an empty non-terminal: it exists. */
static ldns_rdf *
prove_no_name(struct dnssec__denial *d, const ldns_rdf *qname)
{
	int c = find_cover(d, qname);
	if (c < 0 || ldns_dname_is_subdomain(nsec_next(d->rr[c]), qname))
		return NULL;
	return closest_encloser(d->rr[c], qname);
}

/* The NSEC at qname (or the wildcard) shows no qtype and no CNAME; checks the side of a
 * zone cut the NSEC comes from (RFC 6840 4.4: a parent-side NSEC only denies DS; a
 * child apex NSEC cannot deny DS). */
static bool
nodata_bitmap_ok(const ldns_rr *nsec, ldns_rr_type qtype)
{
	if (has_type(nsec, qtype) || has_type(nsec, LDNS_RR_TYPE_CNAME))
		return false;
	bool cut = has_type(nsec, LDNS_RR_TYPE_NS) && !has_type(nsec, LDNS_RR_TYPE_SOA);
	if (qtype == LDNS_RR_TYPE_DS)
		return !has_type(nsec, LDNS_RR_TYPE_SOA) ||
		       ldns_dname_label_count(ldns_rr_owner(nsec)) == 0;
	return !cut;
}

static enum dnssec_result
nsec_nxdomain(struct dnssec__denial *d, const ldns_rdf *qname, struct dnssec_status *st)
{
	ldns_rdf *ce = prove_no_name(d, qname);
	if (ce == NULL)
		return dnssec__denial_fail(d, st, "no NSEC proves the name does not exist");
	ldns_rdf *wc = wildcard_of(ce);
	bool ok = wc != NULL && find_cover(d, wc) >= 0;
	ldns_rdf_deep_free(ce);
	ldns_rdf_deep_free(wc);
	if (!ok)
		return dnssec__denial_fail(d, st, "no NSEC proves the wildcard does not exist");
	st->denial = DNSSEC_DENY_NXDOMAIN;
	dnssec__status_set(st, DNSSEC_SECURE, DNSSEC_EDE_NONE, "NSEC proves NXDOMAIN");
	return st->result;
}

static enum dnssec_result
nsec_nodata(struct dnssec__denial *d, const ldns_rdf *qname, ldns_rr_type qtype,
            struct dnssec_status *st)
{
	int m = find_match(d, qname);
	if (m >= 0) {
		if (!nodata_bitmap_ok(d->rr[m], qtype)) {
			dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_BOGUS,
			                   "the NSEC at the name lists the type, a CNAME or a cut");
			return st->result;
		}
		st->denial = DNSSEC_DENY_NODATA;
		dnssec__status_set(st, DNSSEC_SECURE, DNSSEC_EDE_NONE, "NSEC proves NODATA");
		return st->result;
	}
	/* An empty non-terminal has no NSEC of its own: the NSEC covering it points to a
	 * name below it (RFC 4035 3.1.3.2 via RFC 4034 4.1.1). */
	int c = find_cover(d, qname);
	if (c >= 0 && ldns_dname_is_subdomain(nsec_next(d->rr[c]), qname)) {
		st->denial = DNSSEC_DENY_NODATA;
		dnssec__status_set(st, DNSSEC_SECURE, DNSSEC_EDE_NONE,
		                   "NSEC proves NODATA at an empty non-terminal");
		return st->result;
	}
	/* Wildcard NODATA (RFC 4035 3.1.3.4): qname does not exist, *.ce does, without qtype. */
	ldns_rdf *ce = c >= 0 ? closest_encloser(d->rr[c], qname) : NULL;
	ldns_rdf *wc = ce != NULL ? wildcard_of(ce) : NULL;
	int w = wc != NULL ? find_match(d, wc) : -1;
	ldns_rdf_deep_free(ce);
	ldns_rdf_deep_free(wc);
	if (w >= 0 && nodata_bitmap_ok(d->rr[w], qtype)) {
		st->denial = DNSSEC_DENY_NODATA;
		dnssec__status_set(st, DNSSEC_SECURE, DNSSEC_EDE_NONE, "NSEC proves wildcard NODATA");
		return st->result;
	}
	return dnssec__denial_fail(d, st, "no NSEC proves NODATA");
}

static enum dnssec_result
nsec_no_ds(struct dnssec__denial *d, const ldns_rdf *qname, struct dnssec_status *st)
{
	int m = find_match(d, qname);
	if (m < 0)
		return dnssec__denial_fail(d, st, "no NSEC at the delegation");
	ldns_rr *n = d->rr[m];
	if (has_type(n, LDNS_RR_TYPE_DS) || !nodata_bitmap_ok(n, LDNS_RR_TYPE_DS)) {
		dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_BOGUS,
		                   "the NSEC at the delegation lists DS, CNAME or is the child's");
		return st->result;
	}
	if (!has_type(n, LDNS_RR_TYPE_NS)) {
		st->denial = DNSSEC_DENY_NODATA;
		dnssec__status_set(st, DNSSEC_SECURE, DNSSEC_EDE_NONE, "NSEC: no DS and no zone cut");
		return st->result;
	}
	st->denial = DNSSEC_DENY_NO_DS;
	dnssec__status_set(st, DNSSEC_INSECURE, DNSSEC_EDE_NONE,
	                   "NSEC proves an insecure delegation (NS without DS)");
	return st->result;
}

/* RFC 4035 5.3.4: a wildcard expansion is valid only if qname itself does not exist and
 * the closest encloser is the wildcard's parent (no closer name could have matched). */
static enum dnssec_result
nsec_wildcard(struct dnssec__denial *d, const ldns_rdf *qname, unsigned labels,
              struct dnssec_status *st)
{
	unsigned q = ldns_dname_label_count(qname);
	if (labels >= q) {
		dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_BOGUS, "not a wildcard expansion");
		return st->result;
	}
	for (size_t i = 0; i < d->n; i++) {
		if (!covers(d->rr[i], qname) || blocks_below(d->rr[i], qname))
			continue;
		ldns_rdf *ce = closest_encloser(d->rr[i], qname);
		bool fits = ce != NULL && ldns_dname_label_count(ce) == labels;
		ldns_rdf_deep_free(ce);
		if (fits && dnssec__denial_usable(d, i)) {
			st->denial = DNSSEC_DENY_WILDCARD;
			dnssec__status_set(st, DNSSEC_SECURE, DNSSEC_EDE_NONE,
			                   "NSEC proves the wildcard expansion");
			return st->result;
		}
	}
	return dnssec__denial_fail(d, st, "no NSEC proves the wildcard expansion");
}

/* Collects the NSEC (or, if any is present, NSEC3) records of auth. With keys, records
 * outside the keys' zone are dropped: a zone speaks only for its own names. */
static bool
collect(struct dnssec__denial *d, bool *nsec3)
{
	*nsec3 = false;
	for (size_t i = 0; d->auth != NULL && i < ldns_rr_list_rr_count(d->auth); i++)
		*nsec3 |= ldns_rr_get_type(ldns_rr_list_rr(d->auth, i)) == LDNS_RR_TYPE_NSEC3;
	ldns_rr_type want = *nsec3 ? LDNS_RR_TYPE_NSEC3 : LDNS_RR_TYPE_NSEC;
	for (size_t i = 0; d->auth != NULL && i < ldns_rr_list_rr_count(d->auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(d->auth, i);
		/* An NSEC3 of an empty non-terminal has no type bitmap: 5 fields are enough. */
		if (ldns_rr_get_type(rr) != want || ldns_rr_rd_count(rr) < (*nsec3 ? 5 : 1))
			continue;
		if (d->zone != NULL && !ldns_dname_is_subdomain(ldns_rr_owner(rr), d->zone) &&
		    ldns_dname_compare(ldns_rr_owner(rr), d->zone) != 0)
			continue;
		if (d->n == DNSSEC__DENIAL_MAX)
			break;      /* more than any proof needs: ignore the rest */
		d->rr[d->n++] = rr;
	}
	return d->n > 0;
}

static const ldns_rdf *
zone_of(const ldns_rr_list *keys)
{
	for (size_t i = 0; keys != NULL && i < ldns_rr_list_rr_count(keys); i++) {
		if (ldns_rr_get_type(ldns_rr_list_rr(keys, i)) == LDNS_RR_TYPE_DNSKEY)
			return ldns_rr_owner(ldns_rr_list_rr(keys, i));
	}
	return NULL;
}

static enum dnssec_result
prove(struct dnssec__denial *d, enum dnssec_denial want, const ldns_rdf *qname,
      ldns_rr_type qtype, unsigned wildcard_labels, struct dnssec_status *st)
{
	bool nsec3;

	*st = (struct dnssec_status){ .result = DNSSEC_BOGUS, .ede = DNSSEC_EDE_NONE };
	if (d->keys != NULL && d->zone == NULL) {
		dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_DNSKEY_MISSING,
		                   "no DNSKEY to verify the denial with");
		return st->result;
	}
	if (d->zone != NULL && !ldns_dname_is_subdomain(qname, d->zone) &&
	    ldns_dname_compare(qname, d->zone) != 0) {
		dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_BOGUS, "name is outside the zone");
		return st->result;
	}
	if (!collect(d, &nsec3))
		return dnssec__denial_fail(d, st, "no NSEC or NSEC3 records");
	if (nsec3)
		return dnssec__nsec3_prove(d, want, qname, qtype, wildcard_labels, st);
	switch (want) {
	case DNSSEC_DENY_NXDOMAIN: return nsec_nxdomain(d, qname, st);
	case DNSSEC_DENY_NODATA: return nsec_nodata(d, qname, qtype, st);
	case DNSSEC_DENY_NO_DS: return nsec_no_ds(d, qname, st);
	case DNSSEC_DENY_WILDCARD: return nsec_wildcard(d, qname, wildcard_labels, st);
	case DNSSEC_DENY_NONE: break;
	}
	dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_BOGUS, "nothing to prove");
	return st->result;
}

enum dnssec_result
dnssec_prove_denial(const struct dnssec_config *cfg, struct dnssec_budget *b,
                    enum dnssec_denial want, const ldns_rdf *qname, ldns_rr_type qtype,
                    unsigned wildcard_labels, const ldns_rr_list *auth, const ldns_rr_list *keys,
                    uint32_t now, struct dnssec_status *st)
{
	struct dnssec__denial d = {
		.cfg = cfg, .b = b, .auth = auth, .keys = keys, .zone = zone_of(keys), .now = now,
		.used_at_start = b->verify_used,
	};
	return prove(&d, want, qname, qtype, wildcard_labels, st);
}

enum dnssec_result
dnssec_aggressive_nsec(const struct dnssec_config *cfg, const ldns_rdf *qname, ldns_rr_type qtype,
                       const ldns_rr_list *cached, struct dnssec_status *st)
{
	struct dnssec_budget b;         /* unused: cached records need no signature checks */
	dnssec_budget_init(&b);
	ldns_rr_list *nsecs = ldns_rr_list_new();
	if (nsecs == NULL) {
		dnssec__status_set(st, DNSSEC_INDETERMINATE, DNSSEC_EDE_NONE, "out of memory");
		return st->result;
	}
	for (size_t i = 0; cached != NULL && i < ldns_rr_list_rr_count(cached); i++) {
		ldns_rr_type t = ldns_rr_get_type(ldns_rr_list_rr(cached, i));
		if (t == LDNS_RR_TYPE_NSEC || t == LDNS_RR_TYPE_NSEC3)
			ldns_rr_list_push_rr(nsecs, ldns_rr_list_rr(cached, i));
	}
	/* RFC 8198 5.1/5.2: a name covered by an NSEC (and its wildcard covered) does not
	 * exist; an NSEC at the name without the type means NODATA. Only a SECURE proof
	 * counts: an NSEC3 opt-out span or too many iterations give INSECURE, and RFC 8198
	 * 4.2 leaves those to the authority. NSEC3 hashing is bounded by the per-call cap. */
	struct dnssec__denial d = { .cfg = cfg, .b = &b, .auth = nsecs };
	enum dnssec_result r = prove(&d, DNSSEC_DENY_NXDOMAIN, qname, qtype, 0, st);
	if (r != DNSSEC_SECURE) {
		d = (struct dnssec__denial){ .cfg = cfg, .b = &b, .auth = nsecs };
		r = prove(&d, DNSSEC_DENY_NODATA, qname, qtype, 0, st);
	}
	ldns_rr_list_free(nsecs);
	if (r != DNSSEC_SECURE) {
		dnssec__status_set(st, DNSSEC_INDETERMINATE, DNSSEC_EDE_NONE,
		                   "cached NSEC records prove nothing for this name");
		st->denial = DNSSEC_DENY_NONE;
	}
	return st->result;
}
