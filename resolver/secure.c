/* secure.c - DNSSEC validation of finished resolutions with the validator library
 * (resolver/dnssec.h): the chain of trust from the configured anchor down to each signer
 * zone (DS from the parent, then the zone's DNSKEY set, RFC 4035 5), fetched with
 * internal CD=1 questions through the normal iterator and kept in a small key table; then
 * every RRset of the answer is checked against its signer's keys and a negative answer's
 * NSEC/NSEC3 proof is checked (RFC 4035 5.4, RFC 5155 8). The verdict marks the cached
 * entries (so the answer path may serve them, with AD when secure) and decides the
 * client's answer: AD, plain, or SERVFAIL with an Extended DNS Error (RFC 8914).
 * Wildcard expansions are checked with the proof that the name itself does not exist
 * (RFC 4035 5.3.4); the NSEC/NSEC3 records of secure denials are remembered per zone and
 * used to answer other names in their ranges without asking (RFC 8198).
 * Resolver loop thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "resolver/dnssec.h"
#include "resolver/iter.h"

#define KEY_TTL_MAX 3600        /* s: validated key sets are re-checked at least hourly */
#define KEY_TTL_NEG 300         /* s: insecure / bogus verdicts for a zone */
#define NSEC_PER_ZONE 8         /* validated NSEC/NSEC3 records remembered per zone; a
                                   proof built from them stays under the validator's 16
                                   denial records per response */
#define NSEC_ZONES 256          /* zones remembered (least recently added dropped) */

/* Validated denial records of one signed zone, for aggressive use (RFC 8198). */
struct nseczone {
	struct nseczone *next;
	uint8_t zone[DNAME_MAXLEN];
	ldns_rr *soa;               /* the zone's SOA, from the last negative answer */
	int64_t soa_expire_ms;
	struct {
		ldns_rr *rr;                /* NSEC or NSEC3 (owned) */
		ldns_rr_list *sigs;         /* its RRSIGs (owned) */
		int64_t expire_ms;          /* min(TTL, RRSIG ttl limit) from when it was seen */
	} rec[NSEC_PER_ZONE];
	unsigned n, next_slot;
};

struct keyzone {
	struct keyzone *next;
	uint8_t zone[DNAME_MAXLEN];
	enum dnssec_result status;
	int ede;
	ldns_rr_list *keys;         /* SECURE: the validated DNSKEY set (owned) */
	int64_t expire_ms;
};

#define MAX_SIGNERS 8

struct vjob {
	struct request *req;
	struct resolver *r;
	ldns_pkt *resp;
	struct dnssec_budget budget;
	uint8_t need[MAX_SIGNERS][DNAME_MAXLEN];
	bool need_all[MAX_SIGNERS];
	unsigned nneed, ineed;
	uint8_t chain[DNAME_MAXLABELS + 1][DNAME_MAXLEN];
	unsigned nchain, ichain;
	const ldns_rr_list *anchor;
	ldns_rr_list *trust;        /* DS set of chain[ichain] once verified (owned) */
	bool want_dnskey;
};

static void walk(struct vjob *j);

/* ---- the key table ---------------------------------------------------------------------- */

static struct keyzone *
kz_find(struct resolver *r, const uint8_t *zone)
{
	int64_t now = cache__now_ms(r->cache);
	for (struct keyzone *k = r->keyzones; k != NULL; k = k->next) {
		if (k->expire_ms > now && dname_equal(k->zone, zone))
			return k;
	}
	return NULL;
}

static void
kz_store(struct resolver *r, const uint8_t *zone, enum dnssec_result st, int ede,
         const ldns_rr_list *keys, uint32_t ttl)
{
	struct keyzone **pp = &r->keyzones;
	unsigned n = 0;
	int64_t now = cache__now_ms(r->cache);

	/* Drop expired entries and an old one for the zone; keep at most 1000 zones. */
	while (*pp != NULL) {
		struct keyzone *k = *pp;
		if (k->expire_ms <= now || dname_equal(k->zone, zone) || ++n > 1000) {
			*pp = k->next;
			ldns_rr_list_deep_free(k->keys);
			free(k);
			continue;
		}
		pp = &k->next;
	}
	struct keyzone *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return;
	dname_copy_lower(k->zone, zone);
	k->status = st;
	k->ede = ede;
	k->keys = keys ? ldns_rr_list_clone(keys) : NULL;
	/* A bogus verdict may be a passing failure: retry after a minute (Unbound's
	 * val-bogus-ttl is 60 s too). */
	if (st == DNSSEC_BOGUS && ttl > 60)
		ttl = 60;
	k->expire_ms = now + (int64_t)ttl * 1000;
	k->next = r->keyzones;
	r->keyzones = k;
}

static void
nz_free(struct nseczone *z)
{
	for (unsigned i = 0; i < z->n; i++) {
		ldns_rr_free(z->rec[i].rr);
		ldns_rr_list_deep_free(z->rec[i].sigs);
	}
	ldns_rr_free(z->soa);
	free(z);
}

void
secure__fini(struct resolver *r)
{
	while (r->nseczones != NULL) {
		struct nseczone *z = r->nseczones;
		r->nseczones = z->next;
		nz_free(z);
	}
	while (r->keyzones != NULL) {
		struct keyzone *k = r->keyzones;
		r->keyzones = k->next;
		ldns_rr_list_deep_free(k->keys);
		free(k);
	}
}

/* ---- helpers -------------------------------------------------------------------------- */

static uint32_t
now_s(void)
{
	return (uint32_t)time(NULL);
}

/* The RRs of list owned by owner with type (pointers into list; free with
 * ldns_rr_list_free()). */
static ldns_rr_list *
rrset_of(const ldns_rr_list *list, const ldns_rdf *owner, ldns_rr_type type)
{
	ldns_rr_list *out = ldns_rr_list_new();
	for (size_t i = 0; out != NULL && i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (ldns_rr_get_type(rr) == type && ldns_dname_compare(ldns_rr_owner(rr), owner) == 0)
			ldns_rr_list_push_rr(out, rr);
	}
	return out;
}

/* The signer of the first RRSIG in list covering owner/type, or NULL. */
static const ldns_rdf *
signer_of(const ldns_rr_list *list, const ldns_rdf *owner, ldns_rr_type type)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG && ldns_rr_rd_count(rr) >= 8 &&
		    ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) == type &&
		    ldns_dname_compare(ldns_rr_owner(rr), owner) == 0)
			return ldns_rr_rrsig_signame(rr);
	}
	return NULL;
}

/* Adds a zone whose keys the verdict needs. all: the name of unsigned data, whose chain
 * has to be followed label by label until a proven insecure delegation (or the proof that
 * the data should have been signed): its zone cuts may be unknown to the cache. */
static void
need_zone(struct vjob *j, const uint8_t *zone, bool all)
{
	for (unsigned i = 0; i < j->nneed; i++) {
		if (dname_equal(j->need[i], zone)) {
			j->need_all[i] |= all;
			return;
		}
	}
	if (j->nneed < MAX_SIGNERS) {
		j->need_all[j->nneed] = all;
		dname_copy_lower(j->need[j->nneed++], zone);
	}
}

static void
need_signer(struct vjob *j, const ldns_rr_list *sec, const ldns_rdf *owner, ldns_rr_type type)
{
	const ldns_rdf *s = signer_of(sec, owner, type);

	if (s != NULL && (ldns_dname_is_subdomain(owner, s) || ldns_dname_compare(owner, s) == 0))
		need_zone(j, ldns_rdf_data(s), false);
	else if (s == NULL)
		need_zone(j, ldns_rdf_data(owner), true);
}

/* ---- the chain of trust --------------------------------------------------------------- */

static void on_fetch(void *arg, const struct resolver_result *res);

static void
fetch(struct vjob *j, const uint8_t *name, uint16_t type)
{
	struct resolver_question q = { .qtype = type, .qclass = LDNS_RR_CLASS_IN,
	                               .dnssec_ok = true, .checking_disabled = true };
	memcpy(q.qname, name, dname_len(name));
	if (j->r->closing || resolver_query(j->r, &q, on_fetch, j) != 0) {
		kz_store(j->r, name, DNSSEC_BOGUS, DNSSEC_EDE_DNSKEY_MISSING, NULL, KEY_TTL_NEG);
		walk(j);
	}
}

/* The zones from the anchor down to S that are zone cuts as far as the cache knows. */
static bool
build_chain(struct vjob *j, const uint8_t *s, bool all)
{
	ldns_rdf *sn = ldns_dname_new_frm_data((uint16_t)dname_len(s), s);
	j->anchor = sn ? dnssec_anchors_find(j->r->conf->anchors, sn) : NULL;
	ldns_rdf_deep_free(sn);
	if (j->anchor == NULL || ldns_rr_list_rr_count(j->anchor) == 0)
		return false;
	const uint8_t *a = ldns_rdf_data(ldns_rr_owner(ldns_rr_list_rr(j->anchor, 0)));
	unsigned al = dname_labels(a), sl = dname_labels(s);
	j->nchain = 0;
	dname_copy_lower(j->chain[j->nchain++], a);
	for (unsigned l = al + 1; l <= sl; l++) {
		const uint8_t *x = dname_suffix(s, l);
		const struct cache_entry *e = l == sl || all ? NULL :
			cache__get(j->r->cache, x, LDNS_RR_TYPE_NS, LDNS_RR_CLASS_IN, RANK_AUTH_NONAA, 0);
		if (l == sl || all || e != NULL)
			dname_copy_lower(j->chain[j->nchain++], x);
		cache__put(j->r->cache, e);
	}
	j->ichain = 0;
	return true;
}

static void evaluate(struct vjob *j);

/* Advances along the chain of the current signer; fetches what is missing. */
static void
walk(struct vjob *j)
{
	while (j->ineed < j->nneed) {
		if (j->nchain == 0 && !build_chain(j, j->need[j->ineed], j->need_all[j->ineed])) {
			j->ineed++;     /* no anchor covers it: insecure (RFC 4035 4.3) */
			continue;
		}
		for (; j->ichain < j->nchain; j->ichain++) {
			struct keyzone *k = kz_find(j->r, j->chain[j->ichain]);
			if (k == NULL)
				break;
			if (k->status != DNSSEC_SECURE) {
				j->ichain = j->nchain;      /* insecure or bogus from here down */
				break;
			}
		}
		if (j->ichain == j->nchain) {
			j->ineed++;
			j->nchain = 0;
			continue;
		}
		j->want_dnskey = j->ichain == 0;
		fetch(j, j->chain[j->ichain], j->want_dnskey ? LDNS_RR_TYPE_DNSKEY : LDNS_RR_TYPE_DS);
		return;
	}
	evaluate(j);
}

static uint32_t
set_ttl(const ldns_rr_list *l)
{
	uint32_t ttl = KEY_TTL_MAX;
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		if (ldns_rr_ttl(ldns_rr_list_rr(l, i)) < ttl)
			ttl = ldns_rr_ttl(ldns_rr_list_rr(l, i));
	}
	return ttl < 5 ? 5 : ttl;
}

static void
got_dnskey(struct vjob *j, const uint8_t *x, ldns_pkt *p)
{
	struct dnssec_status st;
	ldns_rdf *xn = ldns_dname_new_frm_data((uint16_t)dname_len(x), x);
	ldns_rr_list *keys = rrset_of(ldns_pkt_answer(p), xn, LDNS_RR_TYPE_DNSKEY);
	const ldns_rr_list *trust = j->ichain == 0 ? j->anchor : j->trust;
	enum dnssec_result res = DNSSEC_BOGUS;

	memset(&st, 0, sizeof(st));
	st.ede = DNSSEC_EDE_DNSKEY_MISSING;
	if (keys != NULL && ldns_rr_list_rr_count(keys) > 0 && trust != NULL)
		res = dnssec_verify_dnskeys(&j->r->dcfg, &j->budget, trust, keys, ldns_pkt_answer(p),
		                            now_s(), &st);
	if (res == DNSSEC_INDETERMINATE)
		res = DNSSEC_BOGUS;
	kz_store(j->r, x, res, st.ede, res == DNSSEC_SECURE ? keys : NULL,
	         res == DNSSEC_SECURE ? set_ttl(keys) : KEY_TTL_NEG);
	log_debug("resolver: DNSKEY %s: %s", dnssec_result_str(res), st.reason);
	ldns_rr_list_free(keys);
	ldns_rdf_deep_free(xn);
	ldns_rr_list_deep_free(j->trust);
	j->trust = NULL;
}

/* The DS set of chain[ichain] from its parent: verified with the parent's keys, or its
 * absence proven (an insecure delegation), or not a zone cut after all. */
/* The zone that signed a DS answer (or its denial): its parent as the server sees it. */
static const ldns_rdf *
ds_signer(ldns_pkt *p, const ldns_rdf *xn)
{
	const ldns_rdf *s = signer_of(ldns_pkt_answer(p), xn, LDNS_RR_TYPE_DS);
	ldns_rr_list *auth = ldns_pkt_authority(p);
	for (size_t i = 0; s == NULL && i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG && ldns_rr_rd_count(rr) >= 8)
			s = ldns_rr_rrsig_signame(rr);
	}
	return s;
}

/* A zone cut the cache did not know of (one server answering for parent and child hides
 * referrals): when the DS of x is signed by a zone between the chain's previous zone and
 * x, that zone goes into the chain first. Returns true if it did. */
static bool
insert_signer(struct vjob *j, ldns_pkt *p, const ldns_rdf *xn)
{
	const ldns_rdf *s = ds_signer(p, xn);
	if (s == NULL || j->nchain > DNAME_MAXLABELS)
		return false;
	const uint8_t *sw = ldns_rdf_data(s), *prev = j->chain[j->ichain - 1];
	if (dname_equal(sw, prev) || !dname_is_subdomain(sw, prev) ||
	    !dname_is_subdomain(ldns_rdf_data(xn), sw) || dname_equal(sw, ldns_rdf_data(xn)))
		return false;
	memmove(j->chain[j->ichain + 1], j->chain[j->ichain],
	        (j->nchain - j->ichain) * sizeof(j->chain[0]));
	dname_copy_lower(j->chain[j->ichain], sw);
	j->nchain++;
	return true;
}

static void
got_ds(struct vjob *j, const uint8_t *x, ldns_pkt *p)
{
	struct keyzone *parent = kz_find(j->r, j->chain[j->ichain - 1]);
	struct dnssec_status st;
	ldns_rdf *xn = ldns_dname_new_frm_data((uint16_t)dname_len(x), x);
	ldns_rr_list *ds = rrset_of(ldns_pkt_answer(p), xn, LDNS_RR_TYPE_DS);
	enum dnssec_result res = DNSSEC_BOGUS;
	bool removed = false;

	memset(&st, 0, sizeof(st));
	st.ede = DNSSEC_EDE_BOGUS;
	if (xn != NULL && insert_signer(j, p, xn)) {
		ldns_rr_list_free(ds);
		ldns_rdf_deep_free(xn);
		return;     /* walk() fetches the signer zone's DS and keys first */
	}
	if (parent == NULL || parent->keys == NULL || ds == NULL) {
		res = DNSSEC_BOGUS;
	} else if (ldns_rr_list_rr_count(ds) > 0) {
		res = dnssec_verify_rrset(&j->r->dcfg, &j->budget, ds, ldns_pkt_answer(p), parent->keys,
		                          now_s(), &st);
		if (res == DNSSEC_SECURE) {
			j->trust = ldns_rr_list_clone(ds);
			j->want_dnskey = true;
		}
	} else if (ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR ||
	           ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN) {
		res = dnssec_prove_denial(&j->r->dcfg, &j->budget, DNSSEC_DENY_NO_DS, xn,
		                          LDNS_RR_TYPE_DS, 0, ldns_pkt_authority(p), parent->keys,
		                          now_s(), &st);
		if (res == DNSSEC_SECURE && st.denial != DNSSEC_DENY_NO_DS) {
			/* Proven not a delegation: x is inside its parent's zone. */
			memmove(j->chain[j->ichain], j->chain[j->ichain + 1],
			        (j->nchain - j->ichain - 1) * sizeof(j->chain[0]));
			j->nchain--;
			removed = true;
		} else if (res == DNSSEC_SECURE) {
			res = DNSSEC_INSECURE;
		}
	}
	if (!removed && !(res == DNSSEC_SECURE && j->want_dnskey)) {
		/* Insecure, or bogus (a secure verdict without the DS verified is impossible
		 * here; the budget running out counts as bogus, as Unbound does). */
		if (res == DNSSEC_SECURE || res == DNSSEC_INDETERMINATE)
			res = DNSSEC_BOGUS;
		kz_store(j->r, x, res, st.ede, NULL, KEY_TTL_NEG);
	}
	log_debug("resolver: DS %s: %s", dnssec_result_str(res), st.reason);
	ldns_rr_list_free(ds);
	ldns_rdf_deep_free(xn);
}

static void
job_free(struct vjob *j)
{
	ldns_pkt_free(j->resp);
	ldns_rr_list_deep_free(j->trust);
	free(j);
}

static void
on_fetch(void *arg, const struct resolver_result *res)
{
	struct vjob *j = arg;
	ldns_pkt *p = NULL;

	if (j->req == NULL || j->r->closing) {
		if (j->req != NULL)
			j->req->vjob = NULL;
		job_free(j);
		return;
	}
	const uint8_t *x = j->chain[j->ichain];
	bool was_dnskey = j->want_dnskey;
	if (ldns_wire2pkt(&p, res->wire, res->len) != LDNS_STATUS_OK) {
		kz_store(j->r, x, DNSSEC_BOGUS, DNSSEC_EDE_DNSKEY_MISSING, NULL, KEY_TTL_NEG);
	} else if (was_dnskey) {
		got_dnskey(j, x, p);
	} else {
		got_ds(j, x, p);
		if (j->want_dnskey) {
			ldns_pkt_free(p);
			fetch(j, j->chain[j->ichain], LDNS_RR_TYPE_DNSKEY);
			return;
		}
	}
	ldns_pkt_free(p);
	walk(j);
}

/* ---- aggressive use of NSEC/NSEC3 (RFC 8198) --------------------------------------------- */

static struct nseczone *
nz_get(struct resolver *r, const uint8_t *zone, bool create)
{
	unsigned n = 0;
	for (struct nseczone *z = r->nseczones; z != NULL; z = z->next, n++) {
		if (dname_equal(z->zone, zone))
			return z;
	}
	if (!create)
		return NULL;
	if (n >= NSEC_ZONES) {
		/* Full: drop the oldest zone (new ones go to the front). */
		struct nseczone **pp = &r->nseczones;
		while ((*pp)->next != NULL)
			pp = &(*pp)->next;
		nz_free(*pp);
		*pp = NULL;
	}
	struct nseczone *z = calloc(1, sizeof(*z));
	if (z == NULL)
		return NULL;
	dname_copy_lower(z->zone, zone);
	z->next = r->nseczones;
	r->nseczones = z;
	return z;
}

/* Remembers the NSEC/NSEC3 records (with their RRSIGs) and the SOA of a denial that
 * validation found SECURE for zone: RFC 8198 4 allows only validated records. */
static void
remember_nsec(struct vjob *j, const uint8_t *zone, const ldns_rr_list *auth)
{
	struct resolver *r = j->r;
	int64_t now = cache__now_ms(r->cache);
	struct nseczone *z = NULL;

	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		if ((t != LDNS_RR_TYPE_NSEC && t != LDNS_RR_TYPE_NSEC3 && t != LDNS_RR_TYPE_SOA) ||
		    !dname_is_subdomain(ldns_rdf_data(ldns_rr_owner(rr)), zone))
			continue;
		if (z == NULL && (z = nz_get(r, zone, true)) == NULL)
			return;
		int64_t exp = now + (int64_t)ldns_rr_ttl(rr) * 1000;
		if (t == LDNS_RR_TYPE_SOA) {
			ldns_rr_free(z->soa);
			z->soa = ldns_rr_clone(rr);
			z->soa_expire_ms = exp;
			continue;
		}
		unsigned slot = z->n;
		for (unsigned k = 0; k < z->n; k++) {
			if (ldns_rr_get_type(z->rec[k].rr) == t &&
			    ldns_dname_compare(ldns_rr_owner(z->rec[k].rr), ldns_rr_owner(rr)) == 0)
				slot = k;       /* the same record seen again: refreshed */
		}
		if (slot == NSEC_PER_ZONE) {
			slot = z->next_slot;    /* full: replace the oldest */
			z->next_slot = (z->next_slot + 1) % NSEC_PER_ZONE;
		}
		if (slot < z->n) {
			ldns_rr_free(z->rec[slot].rr);
			ldns_rr_list_deep_free(z->rec[slot].sigs);
		} else {
			z->n++;
		}
		z->rec[slot].rr = ldns_rr_clone(rr);
		ldns_rr_list *sigs = dnssec__sigs_for(auth, ldns_rr_owner(rr), t);
		z->rec[slot].sigs = sigs != NULL ? ldns_rr_list_clone(sigs) : NULL;
		ldns_rr_list_free(sigs);
		/* Not past the signatures' original TTL either (RFC 8198 5.4 via RFC 4035
		 * 5.3.3): the smallest TTL of the record and its RRSIGs. */
		for (size_t k = 0; z->rec[slot].sigs != NULL &&
		     k < ldns_rr_list_rr_count(z->rec[slot].sigs); k++) {
			int64_t se = now + (int64_t)ldns_rr_ttl(ldns_rr_list_rr(z->rec[slot].sigs, k)) * 1000;
			if (se < exp)
				exp = se;
		}
		z->rec[slot].expire_ms = exp;
	}
}

/* Appends rr as a whole RR ([owner][type][class][ttl][rdlen][rdata]) with TTL ttl to buf. */
static bool
put_whole(ldns_buffer *b, const ldns_rr *rr, uint32_t ttl, uint8_t *buf, size_t cap, size_t *len)
{
	const ldns_rdf *o = ldns_rr_owner(rr);
	ldns_buffer_clear(b);
	if (ldns_rr_rdata2buffer_wire(b, rr) != LDNS_STATUS_OK)
		return false;
	size_t ol = ldns_rdf_size(o), rl = ldns_buffer_position(b);
	if (*len + ol + 10 + rl > cap)
		return false;
	uint8_t *h = buf + *len;
	memcpy(h, ldns_rdf_data(o), ol);
	h += ol;
	uint16_t ty = ldns_rr_get_type(rr), cl = ldns_rr_get_class(rr);
	uint8_t hd[10] = { (uint8_t)(ty >> 8), (uint8_t)ty, (uint8_t)(cl >> 8), (uint8_t)cl,
	                   (uint8_t)(ttl >> 24), (uint8_t)(ttl >> 16), (uint8_t)(ttl >> 8),
	                   (uint8_t)ttl, (uint8_t)(rl >> 8), (uint8_t)rl };
	memcpy(h, hd, 10);
	memcpy(h + 10, ldns_buffer_begin(b), rl);
	*len += ol + 10 + rl;
	return true;
}

bool
secure__aggressive(struct task *t)
{
	struct request *req = t->req;
	struct resolver *r = req->r;
	int64_t now = cache__now_ms(r->cache);

	if (!secure__wanted(req) || r->nseczones == NULL || t->qclass != LDNS_RR_CLASS_IN ||
	    t->qtype == LDNS_RR_TYPE_DS)
		return false;
	/* The deepest zone with records at or above the name whose keys are still secure
	 * (DS is answered by the parent: left to iteration). */
	struct nseczone *z = NULL;
	for (unsigned l = dname_labels(t->qname) + 1; l-- > 0;) {
		const uint8_t *zn = dname_suffix(t->qname, l);
		struct nseczone *c = nz_get(r, zn, false);
		struct keyzone *k = kz_find(r, zn);
		if (c != NULL && k != NULL && k->status == DNSSEC_SECURE && c->soa != NULL &&
		    c->soa_expire_ms > now) {
			z = c;
			break;
		}
		/* A zone known below the one with records (keys checked, or proven
		 * insecure): it would answer the name, not its parent. */
		if (k != NULL)
			break;
	}
	if (z == NULL)
		return false;
	ldns_rr_list *recs = ldns_rr_list_new();
	for (unsigned i = 0; recs != NULL && i < z->n; i++) {
		if (z->rec[i].expire_ms > now)
			ldns_rr_list_push_rr(recs, z->rec[i].rr);
	}
	ldns_rdf *qn = ldns_dname_new_frm_data((uint16_t)dname_len(t->qname), t->qname);
	struct dnssec_status st;
	memset(&st, 0, sizeof(st));
	enum dnssec_result res = recs != NULL && qn != NULL && ldns_rr_list_rr_count(recs) > 0
	                         ? dnssec_aggressive_nsec(&r->dcfg, qn, (ldns_rr_type)t->qtype,
	                                                  recs, &st)
	                         : DNSSEC_INDETERMINATE;
	ldns_rdf_deep_free(qn);
	ldns_rr_list_free(recs);
	if (res != DNSSEC_SECURE || (st.denial != DNSSEC_DENY_NXDOMAIN &&
	                             st.denial != DNSSEC_DENY_NODATA))
		return false;

	/* The negative answer as if the zone had sent it: SOA, every live record of the zone
	 * with its RRSIGs (validation picks what proves it), TTLs what is left of them. */
	size_t cap = 16384, len = 0;
	uint8_t *proof = malloc(cap);
	ldns_buffer *b = ldns_buffer_new(512);
	uint16_t n = 0;
	int64_t min_exp = z->soa_expire_ms;
	for (unsigned i = 0; proof != NULL && b != NULL && i < z->n; i++) {
		if (z->rec[i].expire_ms <= now)
			continue;
		uint32_t ttl = (uint32_t)((z->rec[i].expire_ms - now + 999) / 1000);
		if (z->rec[i].expire_ms < min_exp)
			min_exp = z->rec[i].expire_ms;
		if (put_whole(b, z->rec[i].rr, ttl, proof, cap, &len))
			n++;
		for (size_t k = 0; z->rec[i].sigs != NULL && k < ldns_rr_list_rr_count(z->rec[i].sigs);
		     k++) {
			if (put_whole(b, ldns_rr_list_rr(z->rec[i].sigs, k), ttl, proof, cap, &len))
				n++;
		}
	}
	bool ok = false;
	if (b != NULL)
		ldns_buffer_clear(b);
	if (proof != NULL && b != NULL && ldns_rr_rdata2buffer_wire(b, z->soa) == LDNS_STATUS_OK) {
		/* RFC 8198 5.4: the smaller of the SOA's TTL, its MINIMUM and the NSEC's TTL;
		 * cache__put_negative() takes min(soa_ttl, MINIMUM). */
		uint32_t ttl = (uint32_t)((min_exp - now + 999) / 1000);
		uint8_t owner[DNAME_MAXLEN];
		dname_copy_lower(owner, ldns_rdf_data(ldns_rr_owner(z->soa)));
		uint8_t kind = st.denial == DNSSEC_DENY_NXDOMAIN ? CACHE_NXDOMAIN : CACHE_NODATA;
		ok = cache__put_negative(r->cache, t->qname, t->qtype, t->qclass, kind, owner, ttl,
		                         ldns_buffer_begin(b), ldns_buffer_position(b), RANK_AUTH_AA,
		                         proof, len, n) == 0;
	}
	ldns_buffer_free(b);
	free(proof);
	if (ok) {
		r->stats.aggressive_nsec++;
		log_debug("resolver: %s from cached NSEC records (RFC 8198)",
		          st.denial == DNSSEC_DENY_NXDOMAIN ? "NXDOMAIN" : "NODATA");
	}
	return ok;
}

/* ---- the verdict ---------------------------------------------------------------------- */

/* The status of zone s from the key table: its keys when secure. */
static enum dnssec_result
zone_status(struct vjob *j, const uint8_t *s, const ldns_rr_list **keys, int *ede)
{
	ldns_rdf *sn = ldns_dname_new_frm_data((uint16_t)dname_len(s), s);
	const ldns_rr_list *a = sn ? dnssec_anchors_find(j->r->conf->anchors, sn) : NULL;
	ldns_rdf_deep_free(sn);
	if (a == NULL)
		return DNSSEC_INSECURE;
	unsigned al = ldns_dname_label_count(ldns_rr_owner(ldns_rr_list_rr(a, 0)));
	for (int l = (int)dname_labels(s); l >= (int)al; l--) {
		struct keyzone *k = kz_find(j->r, dname_suffix(s, (unsigned)l));
		if (k == NULL)
			continue;
		/* The deepest zone the walk settled decides: below a secure zone with no
		 * further delegation proven, data must be signed by that zone's keys. */
		*keys = k->keys;
		*ede = k->ede;
		return k->status;
	}
	return DNSSEC_INDETERMINATE;
}

static enum dnssec_result
combine(enum dnssec_result a, enum dnssec_result b)
{
	if (a == DNSSEC_BOGUS || b == DNSSEC_BOGUS)
		return DNSSEC_BOGUS;
	if (a == DNSSEC_SECURE)
		return b;
	return a == DNSSEC_INSECURE && b == DNSSEC_INDETERMINATE ? b : a;
}

/* An RRset expanded from a wildcard with labels labels is secure only with the proof that
 * owner itself does not exist and no closer name could have matched (RFC 4035 5.3.4, RFC
 * 5155 8.8): the NSEC/NSEC3 records the cache kept with it, in the authority section of
 * the composed response, verified with the zone's keys. No records at all (the cache
 * could not keep them) leaves the answer unproven (no AD) rather than bogus; records that
 * do not prove it make it bogus, as Unbound does. */
static enum dnssec_result
check_wildcard(struct vjob *j, const ldns_rdf *owner, ldns_rr_type type, unsigned labels,
               const ldns_rr_list *keys, int *ede, bool *unproven)
{
	ldns_rr_list *auth = ldns_pkt_authority(j->resp);
	bool any = false;
	struct dnssec_status st;

	for (size_t i = 0; i < ldns_rr_list_rr_count(auth) && !any; i++) {
		ldns_rr_type t = ldns_rr_get_type(ldns_rr_list_rr(auth, i));
		any = t == LDNS_RR_TYPE_NSEC || t == LDNS_RR_TYPE_NSEC3;
	}
	if (!any) {
		*unproven = true;
		return DNSSEC_SECURE;
	}
	memset(&st, 0, sizeof(st));
	enum dnssec_result res = dnssec_prove_denial(&j->r->dcfg, &j->budget, DNSSEC_DENY_WILDCARD,
	                                             owner, type, labels, auth, keys, now_s(), &st);
	log_debug("resolver: wildcard proof %s: %s", dnssec_result_str(res), st.reason);
	if (res == DNSSEC_INDETERMINATE)
		res = DNSSEC_BOGUS;
	if (res == DNSSEC_BOGUS)
		*ede = st.ede >= 0 ? st.ede : DNSSEC_EDE_NSEC_MISSING;
	return res;
}

/* Checks one RRset of the answer with its signer's keys. */
static enum dnssec_result
check_rrset(struct vjob *j, ldns_rr *first, int *ede, bool *wildcard)
{
	ldns_rr_list *an = ldns_pkt_answer(j->resp);
	ldns_rdf *owner = ldns_rr_owner(first);
	ldns_rr_type type = ldns_rr_get_type(first);
	const ldns_rdf *signer = signer_of(an, owner, type);
	uint8_t zone[DNAME_MAXLEN];
	const ldns_rr_list *keys = NULL;
	struct dnssec_status st;

	dname_copy_lower(zone, ldns_rdf_data(signer != NULL ? signer : owner));
	enum dnssec_result res = zone_status(j, zone, &keys, ede);
	if (res != DNSSEC_SECURE) {
		if (res == DNSSEC_BOGUS && *ede < 0)
			*ede = DNSSEC_EDE_BOGUS;
		return res;
	}
	ldns_rr_list *set = rrset_of(an, owner, type);
	memset(&st, 0, sizeof(st));
	res = dnssec_verify_rrset(&j->r->dcfg, &j->budget, set, an, keys, now_s(), &st);
	ldns_rr_list_free(set);
	if (res == DNSSEC_SECURE && st.wildcard)
		return check_wildcard(j, owner, type, st.wildcard_labels, keys, ede, wildcard);
	if (res == DNSSEC_BOGUS)
		*ede = st.ede >= 0 ? st.ede : DNSSEC_EDE_BOGUS;
	return res;
}

/* The signer name of the first RRSIG in p's authority section (the zone a negative
 * answer speaks for), or NULL when there is none. */
static const ldns_rdf *
authority_signer(const ldns_pkt *p)
{
	const ldns_rr_list *auth = ldns_pkt_authority(p);
	const ldns_rdf *signer = NULL;
	for (size_t i = 0; i < ldns_rr_list_rr_count(auth) && signer == NULL; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(auth, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG && ldns_rr_rd_count(rr) >= 8)
			signer = ldns_rr_rrsig_signame(rr);
	}
	return signer;
}

/* The name the CNAME chain of the answer ends at, and whether it has qtype data. */
static const ldns_rdf *
chain_end(ldns_pkt *p, ldns_rr_type qtype, bool *has_data)
{
	ldns_rr_list *an = ldns_pkt_answer(p);
	const ldns_rdf *cur = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0));

	*has_data = false;
	for (unsigned hop = 0; hop < 16; hop++) {
		const ldns_rdf *next = NULL;
		for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
			ldns_rr *rr = ldns_rr_list_rr(an, i);
			if (ldns_dname_compare(ldns_rr_owner(rr), cur) != 0)
				continue;
			if (ldns_rr_get_type(rr) == qtype)
				*has_data = true;
			else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && ldns_rr_rd_count(rr) == 1)
				next = ldns_rr_rdf(rr, 0);
		}
		if (*has_data || next == NULL)
			break;
		cur = next;
	}
	return cur;
}

static void
mark(struct vjob *j, enum dnssec_result res)
{
	uint8_t sec = res == DNSSEC_SECURE ? CACHE_SEC_SECURE :
	              res == DNSSEC_BOGUS ? CACHE_SEC_BOGUS : CACHE_SEC_INSECURE;
	ldns_rr_list *an = ldns_pkt_answer(j->resp);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG)
			cache__mark(j->r->cache, ldns_rdf_data(ldns_rr_owner(rr)), ldns_rr_get_type(rr),
			            ldns_rr_get_class(rr), sec);
	}
	bool has;
	const ldns_rdf *end = chain_end(j->resp, j->req->key.qtype, &has);
	if (!has) {
		uint16_t t = ldns_pkt_get_rcode(j->resp) == LDNS_RCODE_NXDOMAIN ? 0 : j->req->key.qtype;
		cache__mark(j->r->cache, ldns_rdf_data(end), t, j->req->key.qclass, sec);
	}
}

static void
evaluate(struct vjob *j)
{
	enum dnssec_result res = DNSSEC_SECURE;
	int ede = -1;
	bool wildcard = false;
	ldns_rr_list *an = ldns_pkt_answer(j->resp);

	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		bool first = true;
		for (size_t k = 0; k < i && first; k++) {
			ldns_rr *o = ldns_rr_list_rr(an, k);
			first = !(ldns_rr_get_type(o) == ldns_rr_get_type(rr) &&
			          ldns_dname_compare(ldns_rr_owner(o), ldns_rr_owner(rr)) == 0);
		}
		if (first && ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG &&
		    ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNAME)
			res = combine(res, check_rrset(j, rr, &ede, &wildcard));
		else if (first && ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNAME)
			res = combine(res, check_rrset(j, rr, &ede, &wildcard));
	}
	/* A wildcard expansion whose proof the cache did not keep: not claimed secure (no
	 * AD), not bogus. */
	if (res == DNSSEC_SECURE && wildcard)
		res = DNSSEC_INDETERMINATE;
	bool has;
	const ldns_rdf *end = chain_end(j->resp, j->req->key.qtype, &has);
	if (!has && res != DNSSEC_BOGUS) {
		ldns_rr_list *auth = ldns_pkt_authority(j->resp);
		const ldns_rdf *signer = authority_signer(j->resp);
		uint8_t zone[DNAME_MAXLEN];
		const ldns_rr_list *keys = NULL;
		dname_copy_lower(zone, ldns_rdf_data(signer != NULL ? signer : end));
		enum dnssec_result zs = zone_status(j, zone, &keys, &ede);
		if (zs == DNSSEC_SECURE) {
			struct dnssec_status st;
			memset(&st, 0, sizeof(st));
			enum dnssec_denial want = ldns_pkt_get_rcode(j->resp) == LDNS_RCODE_NXDOMAIN
			                          ? DNSSEC_DENY_NXDOMAIN : DNSSEC_DENY_NODATA;
			zs = dnssec_prove_denial(&j->r->dcfg, &j->budget, want, end,
			                         (ldns_rr_type)j->req->key.qtype, 0, auth, keys, now_s(),
			                         &st);
			if (zs == DNSSEC_BOGUS)
				ede = st.ede >= 0 ? st.ede : DNSSEC_EDE_NSEC_MISSING;
			else if (zs == DNSSEC_SECURE && signer != NULL)
				remember_nsec(j, zone, auth);
		}
		res = combine(res, zs);
	}
	if (res == DNSSEC_BOGUS && ede < 0)
		ede = DNSSEC_EDE_BOGUS;
	mark(j, res);
	struct request *req = j->req;
	req->sec = (int)res;
	req->sec_ede = res == DNSSEC_BOGUS ? ede : -1;
	req->vjob = NULL;
	job_free(j);
	resolver__request_finish(req, true);
}

/* ---- entry ------------------------------------------------------------------------------ */

/* The request ended first (timeout, shutdown): the job frees itself at its next callback. */
void
secure__detach(void *job)
{
	((struct vjob *)job)->req = NULL;
}

bool
secure__wanted(const struct request *req)
{
	const struct resolver_conf *c = req->r->conf;
	return c->validation && c->anchors != NULL && !req->key.checking_disabled;
}

void
secure__start(struct request *req)
{
	struct resolver *r = req->r;
	struct vjob *j = calloc(1, sizeof(*j));
	static uint8_t buf[65535];
	struct resolver_question q = req->key;
	uint8_t rcode;
	bool stale, prefetch;

	q.dnssec_ok = true;
	q.checking_disabled = true;
	size_t n = cache__compose(r->cache, &q, buf, sizeof(buf), -5000, &rcode, &stale, &prefetch);
	if (j == NULL || n == 0 || ldns_wire2pkt(&j->resp, buf, n) != LDNS_STATUS_OK) {
		free(j);
		resolver__request_finish(req, n != 0);
		return;
	}
	j->req = req;
	j->r = r;
	dnssec_budget_init(&j->budget);
	j->budget.verify_left = r->conf->limits.max_validations;
	req->vjob = j;
	ldns_rr_list *an = ldns_pkt_answer(j->resp);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG)
			need_signer(j, an, ldns_rr_owner(rr), ldns_rr_get_type(rr));
	}
	bool has;
	const ldns_rdf *end = chain_end(j->resp, req->key.qtype, &has);
	if (!has) {
		const ldns_rdf *signer = authority_signer(j->resp);
		if (signer != NULL && (ldns_dname_is_subdomain(end, signer) ||
		                       ldns_dname_compare(end, signer) == 0))
			need_zone(j, ldns_rdf_data(signer), false);
		else
			need_zone(j, ldns_rdf_data(end), true);
	}
	walk(j);
}
