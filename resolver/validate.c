/* validate.c - DNSSEC signature checks: one RRset against its RRSIGs and a DNSKEY set
 * (RFC 4035 5.3), and a DNSKEY set against a DS set or trust anchor (RFC 4035 5.2).
 *
 * Canonical form and signed data are built here (RFC 4034 3.1.8.1, 6.2, 6.3); the public-key
 * operation is ldns_verify_rrsig_buffers_raw(), which converts DNSKEY and signature formats
 * and calls OpenSSL EVP. Denial proofs are in nsec.c and nsec3.c. Runs on resolver threads;
 * no state outside the arguments. Allocates (not the answer path). */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "resolver/dnssec.h"

/* Unbound's caps after CVE-2023-50387: a handful of signatures per RRset, a few colliding
 * keys, and a per-query total far below what a KeyTrap packet asks for. */
void
dnssec_config_default(struct dnssec_config *cfg)
{
	*cfg = (struct dnssec_config){
		.skew = 300,
		.nsec3_max_iter = 150,
		.nsec3_bogus_iter = 0,
		.allow_sha1 = true,
		.max_verify_per_call = 8,
		.max_key_collisions = 4,
		.max_nsec3_hash_per_call = 32,
		.max_rrsigs = 8,
		.max_verify_per_denial = 16,
	};
}

void
dnssec_budget_init(struct dnssec_budget *b)
{
	*b = (struct dnssec_budget){ .verify_left = 64, .hash_left = 128 };
}

const char *
dnssec_result_str(enum dnssec_result r)
{
	switch (r) {
	case DNSSEC_SECURE: return "secure";
	case DNSSEC_INSECURE: return "insecure";
	case DNSSEC_BOGUS: return "bogus";
	case DNSSEC_INDETERMINATE: return "indeterminate";
	}
	return "?";
}

void
dnssec__status_set(struct dnssec_status *st, enum dnssec_result r, int ede, const char *fmt, ...)
{
	va_list ap;

	st->result = r;
	st->ede = ede;
	va_start(ap, fmt);
	vsnprintf(st->reason, sizeof(st->reason), fmt, ap);
	va_end(ap);
}

static void
status_clear(struct dnssec_status *st)
{
	*st = (struct dnssec_status){ .result = DNSSEC_INDETERMINATE, .ede = DNSSEC_EDE_NONE };
}

ldns_rr_list *
dnssec__sigs_for(const ldns_rr_list *sigs, const ldns_rdf *owner, ldns_rr_type type)
{
	ldns_rr_list *out = ldns_rr_list_new();

	if (out == NULL || sigs == NULL)
		return out;
	for (size_t i = 0; i < ldns_rr_list_rr_count(sigs); i++) {
		ldns_rr *rr = ldns_rr_list_rr(sigs, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG || ldns_rr_rd_count(rr) != 9)
			continue;
		if (ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(rr)) != type)
			continue;
		if (ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
			continue;
		ldns_rr_list_push_rr(out, rr);
	}
	return out;
}

/* Algorithms this build validates (RFC 8624 3.1: 8, 10, 13, 14, 15, 16 are MUST or
 * RECOMMENDED for validation; RSASHA1 5/7 are still MUST for validation and Unbound on
 * Debian 12 validates them, so allow_sha1 defaults on). 1 (RSAMD5), 3 (DSA) and 6
 * (DSA-NSEC3-SHA1) are MUST NOT, 12 (GOST) MAY and absent from OpenSSL 3: treated as
 * unknown, which makes a zone insecure, not bogus (RFC 4035 5.2). */
static bool
alg_supported(const struct dnssec_config *cfg, unsigned alg)
{
	switch (alg) {
	case LDNS_RSASHA256: case LDNS_RSASHA512: case LDNS_ECDSAP256SHA256:
	case LDNS_ECDSAP384SHA384: case LDNS_ED25519: case LDNS_ED448:
		return true;
	case LDNS_RSASHA1: case LDNS_RSASHA1_NSEC3:
		return cfg->allow_sha1;
	default:
		return false;
	}
}

static unsigned
rdf_u8(const ldns_rdf *rdf)
{
	return rdf != NULL && ldns_rdf_size(rdf) >= 1 ? ldns_rdf_data(rdf)[0] : 0;
}

/* RSA moduli of 512 to 4096 bits only (RFC 3110 2, RFC 5702 2): a huge key makes every
 * verification expensive, the KeyTrap cost by another route. */
static bool
rsa_size_ok(const ldns_rr *k)
{
	unsigned alg = rdf_u8(ldns_rr_rdf(k, 2));
	if (alg != LDNS_RSASHA1 && alg != LDNS_RSASHA1_NSEC3 && alg != LDNS_RSASHA256 &&
	    alg != LDNS_RSASHA512)
		return true;
	const ldns_rdf *key = ldns_rr_rdf(k, 3);
	const uint8_t *p = ldns_rdf_data(key);
	size_t len = ldns_rdf_size(key), explen, hdr;
	if (len < 1)
		return false;
	if (p[0] != 0) {
		explen = p[0];
		hdr = 1;
	} else {
		if (len < 3)
			return false;
		explen = (size_t)p[1] << 8 | p[2];
		hdr = 3;
	}
	if (hdr + explen >= len)
		return false;
	size_t modlen = len - hdr - explen;
	return modlen >= 64 && modlen <= 512;
}

/* A DNSKEY usable to verify (RFC 4034 2.1.1: Zone Key flag set; 2.1.2: protocol 3). */
static bool
key_usable(const ldns_rr *k)
{
	return ldns_rr_get_type(k) == LDNS_RR_TYPE_DNSKEY && ldns_rr_rd_count(k) == 4 &&
	       (ldns_rdf2native_int16(ldns_rr_rdf(k, 0)) & LDNS_KEY_ZONE_KEY) != 0 &&
	       rdf_u8(ldns_rr_rdf(k, 1)) == 3 && rsa_size_ok(k);
}

struct sigdata {
	ldns_buffer *buf;       /* the signed data of RFC 4034 3.1.8.1 */
};

struct rrwire {
	uint8_t *p;
	size_t len, rdata;      /* total length; offset of the RDATA */
};

/* RFC 4034 6.3: canonical order compares RDATA as left-justified octet strings. */
static int
rrwire_cmp(const void *a, const void *b)
{
	const struct rrwire *x = a, *y = b;
	size_t lx = x->len - x->rdata, ly = y->len - y->rdata;
	int c = memcmp(x->p + x->rdata, y->p + y->rdata, lx < ly ? lx : ly);
	if (c != 0)
		return c;
	return (lx > ly) - (lx < ly);
}

/* The owner used in the signed data: "*." plus the rightmost labels labels when the
 * RRset was expanded from a wildcard (RFC 4035 5.3.2). Caller frees. */
static ldns_rdf *
signed_owner(const ldns_rdf *owner, unsigned labels)
{
	unsigned have = ldns_dname_label_count(owner);
	if (labels >= have)
		return ldns_rdf_clone(owner);
	ldns_rdf *suffix = ldns_dname_clone_from(owner, (uint16_t)(have - labels));
	ldns_rdf *star = ldns_dname_new_frm_str("*");
	ldns_rdf *out = NULL;
	if (suffix != NULL && star != NULL)
		out = ldns_dname_cat_clone(star, suffix);
	ldns_rdf_deep_free(suffix);
	ldns_rdf_deep_free(star);
	return out;
}

/* Builds RRSIG_RDATA | RR(1) | RR(2)... (RFC 4034 3.1.8.1) into a new buffer: RRSIG fields
 * but the signature, signer lower-cased; each RR with the signed owner, original TTL,
 * names in RDATA lower-cased for the RFC 4034 6.2 types, sorted, duplicates removed. */
static ldns_buffer *
build_signed_data(const ldns_rr_list *rrset, const ldns_rr *sig)
{
	size_t n = ldns_rr_list_rr_count(rrset);
	ldns_buffer *out = ldns_buffer_new(1024);
	struct rrwire *w = calloc(n, sizeof(*w));
	ldns_rdf *owner = signed_owner(ldns_rr_owner(ldns_rr_list_rr(rrset, 0)),
	                               rdf_u8(ldns_rr_rrsig_labels(sig)));
	uint32_t ottl = ldns_rdf2native_int32(ldns_rr_rrsig_origttl(sig));
	bool ok = out != NULL && w != NULL && owner != NULL;

	for (size_t i = 0; ok && i < 8; i++)
		ok = ldns_rdf2buffer_wire_canonical(out, ldns_rr_rdf(sig, i)) == LDNS_STATUS_OK;
	for (size_t i = 0; ok && i < n; i++) {
		ldns_rr *c = ldns_rr_clone(ldns_rr_list_rr(rrset, i));
		ldns_buffer *b = ldns_buffer_new(256);
		ok = c != NULL && b != NULL;
		if (ok) {
			ldns_rdf_deep_free(ldns_rr_owner(c));
			ldns_rr_set_owner(c, ldns_rdf_clone(owner));
			ldns_rr_set_ttl(c, ottl);
			ok = ldns_rr2buffer_wire_canonical(b, c, LDNS_SECTION_ANSWER) == LDNS_STATUS_OK;
		}
		if (ok) {
			w[i].len = ldns_buffer_position(b);
			w[i].rdata = ldns_rdf_size(owner) + 10;
			w[i].p = ldns_buffer_export(b);
			ok = w[i].p != NULL && w[i].len >= w[i].rdata;
		}
		ldns_buffer_free(b);
		ldns_rr_free(c);
	}
	if (ok)
		qsort(w, n, sizeof(*w), rrwire_cmp);
	for (size_t i = 0; ok && i < n; i++) {
		if (i > 0 && rrwire_cmp(&w[i - 1], &w[i]) == 0)
			continue;       /* RFC 4034 6.3: duplicates are not signed twice */
		ok = ldns_buffer_reserve(out, w[i].len);
		if (ok)
			ldns_buffer_write(out, w[i].p, w[i].len);
	}
	for (size_t i = 0; w != NULL && i < n; i++)
		free(w[i].p);
	free(w);
	ldns_rdf_deep_free(owner);
	if (!ok) {
		ldns_buffer_free(out);
		return NULL;
	}
	/* ldns_verify_rrsig_buffers_raw() hashes begin..position: leave the position at the end. */
	return out;
}

/* Per-call work: the budget of the client query plus this call's own cap. */
struct work {
	const struct dnssec_config *cfg;
	struct dnssec_budget *b;
	unsigned calls;         /* verifications this call */
	bool out_query, out_call;
};

static bool
spend_verify(struct work *wk)
{
	if (wk->b->verify_left == 0) {
		wk->out_query = true;
		return false;
	}
	if (wk->calls >= wk->cfg->max_verify_per_call) {
		wk->out_call = true;
		return false;
	}
	wk->b->verify_left--;
	wk->b->verify_used++;
	wk->calls++;
	return true;
}

/* Why the best RRSIG failed, in order of usefulness to an operator. */
enum fail { F_NONE, F_NOSIG, F_UNSUPP, F_NOKEY, F_CRYPTO, F_NOTYET, F_EXPIRED, F_SHAPE };

struct outcome {
	enum fail fail;
	uint32_t ttl_limit;
	char what[96];
};

static void
note(struct outcome *o, enum fail f, const char *what, unsigned tag)
{
	/* Keep the most specific failure: a time window error says more than "no key". */
	if (f < o->fail)
		return;
	o->fail = f;
	snprintf(o->what, sizeof(o->what), "%s (key tag %u)", what, tag);
}

/* RFC 4035 5.3.1 checks on one RRSIG that need no key. */
static enum fail
sig_precheck(const struct dnssec_config *cfg, const ldns_rr *sig, const ldns_rr *first,
             uint32_t now, struct outcome *o)
{
	const ldns_rdf *owner = ldns_rr_owner(first), *signer = ldns_rr_rrsig_signame(sig);
	unsigned labels = rdf_u8(ldns_rr_rrsig_labels(sig));
	unsigned have = ldns_dname_label_count(owner);

	if (ldns_rr_get_class(sig) != ldns_rr_get_class(first))
		return F_SHAPE;
	if (ldns_dname_compare(signer, owner) != 0 && !ldns_dname_is_subdomain(owner, signer))
		return F_SHAPE;
	if (ldns_dname_is_wildcard(owner))
		have--;         /* RFC 4034 3.1.3: the "*" label is not counted */
	if (labels > have)
		return F_SHAPE;
	if (!alg_supported(cfg, rdf_u8(ldns_rr_rrsig_algorithm(sig))))
		return F_UNSUPP;
	uint32_t inc = ldns_rdf2native_int32(ldns_rr_rrsig_inception(sig));
	uint32_t exp = ldns_rdf2native_int32(ldns_rr_rrsig_expiration(sig));
	/* Serial arithmetic (RFC 4034 3.1.5): differences as signed 32-bit values. */
	if ((int32_t)(exp - now) < -(int32_t)cfg->skew)
		return F_EXPIRED;
	if ((int32_t)(inc - now) > (int32_t)cfg->skew)
		return F_NOTYET;
	uint32_t left = (int32_t)(exp - now) > 0 ? exp - now : 0;
	uint32_t ottl = ldns_rdf2native_int32(ldns_rr_rrsig_origttl(sig));
	o->ttl_limit = left < ottl ? left : ottl;
	return F_NONE;
}

/* The public-key operation. ldns wants ECDSA signatures DER-encoded, while RRSIGs carry
 * r|s (RFC 6605 4); the other algorithms go as they are. */
static bool
verify_raw(const ldns_rr *sig, unsigned alg, ldns_buffer *data, const ldns_rdf *key)
{
	const ldns_rdf *sb = ldns_rr_rrsig_sig(sig);
	ldns_buffer *der = NULL;
	uint8_t *sp = ldns_rdf_data(sb);
	size_t sl = ldns_rdf_size(sb);

	if (alg == LDNS_ECDSAP256SHA256 || alg == LDNS_ECDSAP384SHA384) {
		der = ldns_buffer_new(128);
		if (der == NULL || ldns_convert_ecdsa_rrsig_rdf2asn1(der, sb) != LDNS_STATUS_OK) {
			ldns_buffer_free(der);
			return false;
		}
		sp = ldns_buffer_begin(der);
		sl = ldns_buffer_position(der);
	}
	bool ok = ldns_verify_rrsig_buffers_raw(sp, sl, data, ldns_rdf_data(key), ldns_rdf_size(key),
	                                        (uint8_t)alg) == LDNS_STATUS_OK;
	ldns_buffer_free(der);
	return ok;
}

/* Tries one RRSIG with the matching keys. Returns true when it verifies. */
static bool
try_sig(struct work *wk, const ldns_rr_list *rrset, const ldns_rr *sig, const ldns_rr_list *keys,
        uint32_t now, struct outcome *o)
{
	unsigned tag = ldns_rdf2native_int16(ldns_rr_rrsig_keytag(sig));
	unsigned alg = rdf_u8(ldns_rr_rrsig_algorithm(sig));
	enum fail f = sig_precheck(wk->cfg, sig, ldns_rr_list_rr(rrset, 0), now, o);

	if (f != F_NONE) {
		note(o, f, f == F_EXPIRED ? "signature expired" : f == F_NOTYET ?
		     "signature not yet valid" : f == F_UNSUPP ? "unsupported algorithm" :
		     "RRSIG does not fit the RRset", tag);
		return false;
	}
	ldns_buffer *data = NULL;
	unsigned tried = 0;
	bool good = false;
	for (size_t i = 0; !good && keys != NULL && i < ldns_rr_list_rr_count(keys); i++) {
		ldns_rr *k = ldns_rr_list_rr(keys, i);
		if (!key_usable(k) || rdf_u8(ldns_rr_rdf(k, 2)) != alg || ldns_calc_keytag(k) != tag)
			continue;
		if (ldns_dname_compare(ldns_rr_owner(k), ldns_rr_rrsig_signame(sig)) != 0)
			continue;
		/* KeyTrap: many keys sharing a tag make every RRSIG cost that many checks. */
		if (tried++ >= wk->cfg->max_key_collisions)
			break;
		if (!spend_verify(wk))
			break;
		if (data == NULL && (data = build_signed_data(rrset, sig)) == NULL)
			break;
		good = verify_raw(sig, alg, data, ldns_rr_rdf(k, 3));
	}
	ldns_buffer_free(data);
	if (!good)
		note(o, tried == 0 ? F_NOKEY : F_CRYPTO,
		     tried == 0 ? "no DNSKEY matches the RRSIG" : "signature does not verify", tag);
	return good;
}

static bool
keys_have_supported(const struct dnssec_config *cfg, const ldns_rr_list *keys)
{
	for (size_t i = 0; keys != NULL && i < ldns_rr_list_rr_count(keys); i++) {
		ldns_rr *k = ldns_rr_list_rr(keys, i);
		if (key_usable(k) && alg_supported(cfg, rdf_u8(ldns_rr_rdf(k, 2))))
			return true;
	}
	return false;
}

static bool
rrset_shape_ok(const ldns_rr_list *rrset)
{
	size_t n = rrset != NULL ? ldns_rr_list_rr_count(rrset) : 0;
	if (n == 0)
		return false;
	ldns_rr *a = ldns_rr_list_rr(rrset, 0);
	for (size_t i = 1; i < n; i++) {
		ldns_rr *r = ldns_rr_list_rr(rrset, i);
		if (ldns_rr_get_type(r) != ldns_rr_get_type(a) ||
		    ldns_rr_get_class(r) != ldns_rr_get_class(a) ||
		    ldns_dname_compare(ldns_rr_owner(r), ldns_rr_owner(a)) != 0)
			return false;
	}
	return true;
}

/* Turns what verify() saw into a result, EDE and reason. */
static void
report(const struct work *wk, const ldns_rr *first, const ldns_rr_list *keys, size_t nsigs,
       bool good, const struct outcome *o, struct dnssec_status *st)
{
	static const int ede[] = {
		[F_NONE] = DNSSEC_EDE_BOGUS, [F_NOSIG] = DNSSEC_EDE_RRSIGS_MISSING,
		[F_UNSUPP] = DNSSEC_EDE_UNSUPPORTED_ALG, [F_NOKEY] = DNSSEC_EDE_DNSKEY_MISSING,
		[F_CRYPTO] = DNSSEC_EDE_BOGUS, [F_NOTYET] = DNSSEC_EDE_SIG_NOT_YET_VALID,
		[F_EXPIRED] = DNSSEC_EDE_SIG_EXPIRED, [F_SHAPE] = DNSSEC_EDE_BOGUS,
	};
	char name[64];
	char *nm = ldns_rdf2str(ldns_rr_owner(first));
	char *ty = ldns_rr_type2str(ldns_rr_get_type(first));

	snprintf(name, sizeof(name), "%s/%s", nm != NULL ? nm : "?", ty != NULL ? ty : "?");
	free(nm);
	free(ty);
	if (good) {
		st->ttl_limit = o->ttl_limit;
		dnssec__status_set(st, DNSSEC_SECURE, DNSSEC_EDE_NONE, "%s: signature verified", name);
	} else if (wk->out_query) {
		dnssec__status_set(st, DNSSEC_INDETERMINATE, DNSSEC_EDE_BOGUS,
		                   "%s: signature validation budget of the query exhausted", name);
	} else if (wk->out_call) {
		dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_BOGUS,
		                   "%s: too many signature checks for one RRset", name);
	} else if (nsigs == 0) {
		dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_RRSIGS_MISSING, "%s: no RRSIG", name);
	} else if (o->fail == F_UNSUPP && keys_have_supported(wk->cfg, keys)) {
		/* Only unknown algorithms signed this, yet the zone has a key we validate:
		 * someone stripped the usable RRSIGs. */
		dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_RRSIGS_MISSING,
		                   "%s: no RRSIG of a supported algorithm", name);
	} else if (o->fail == F_UNSUPP) {
		/* RFC 4035 5.2: nothing here we can validate, so it counts as unsigned. */
		dnssec__status_set(st, DNSSEC_INSECURE, DNSSEC_EDE_UNSUPPORTED_ALG,
		                   "%s: only unsupported algorithms", name);
	} else {
		dnssec__status_set(st, DNSSEC_BOGUS, ede[o->fail], "%s: %s", name, o->what);
	}
}

static enum dnssec_result
verify(struct work *wk, const ldns_rr_list *rrset, const ldns_rr_list *sigs,
       const ldns_rr_list *keys, uint32_t now, struct dnssec_status *st)
{
	status_clear(st);
	if (!rrset_shape_ok(rrset)) {
		dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_BOGUS, "malformed RRset");
		return st->result;
	}
	ldns_rr *first = ldns_rr_list_rr(rrset, 0);
	ldns_rr_list *mine = dnssec__sigs_for(sigs, ldns_rr_owner(first), ldns_rr_get_type(first));
	struct outcome o = { .fail = F_NONE };
	size_t n = mine != NULL ? ldns_rr_list_rr_count(mine) : 0;
	bool good = false;

	if (mine == NULL) {
		dnssec__status_set(st, DNSSEC_INDETERMINATE, DNSSEC_EDE_NONE, "out of memory");
		return st->result;
	}
	for (size_t i = 0; !good && i < n && i < wk->cfg->max_rrsigs; i++) {
		ldns_rr *sig = ldns_rr_list_rr(mine, i);
		good = try_sig(wk, rrset, sig, keys, now, &o);
		if (good) {
			unsigned labels = rdf_u8(ldns_rr_rrsig_labels(sig));
			unsigned have = ldns_dname_label_count(ldns_rr_owner(first));
			if (!ldns_dname_is_wildcard(ldns_rr_owner(first)) && labels < have) {
				st->wildcard = true;
				st->wildcard_labels = (uint8_t)labels;
			}
		}
		if (wk->out_query || wk->out_call)
			break;
	}
	ldns_rr_list_free(mine);
	report(wk, first, keys, n, good, &o, st);
	return st->result;
}

enum dnssec_result
dnssec_verify_rrset(const struct dnssec_config *cfg, struct dnssec_budget *b,
                    const ldns_rr_list *rrset, const ldns_rr_list *sigs,
                    const ldns_rr_list *keys, uint32_t now, struct dnssec_status *st)
{
	struct work wk = { .cfg = cfg, .b = b };
	return verify(&wk, rrset, sigs, keys, now, st);
}

static bool
digest_supported(const struct dnssec_config *cfg, unsigned type)
{
	return type == LDNS_SHA256 || type == LDNS_SHA384 || (type == LDNS_SHA1 && cfg->allow_sha1);
}

/* DS digest = H(owner | DNSKEY RDATA), owner in canonical form (RFC 4034 5.1.4). */
static bool
ds_matches(const ldns_rr *ds, const ldns_rr *key)
{
	unsigned type = rdf_u8(ldns_rr_rdf(ds, 2));
	const EVP_MD *md = type == LDNS_SHA1 ? EVP_sha1() : type == LDNS_SHA256 ? EVP_sha256() :
	                   type == LDNS_SHA384 ? EVP_sha384() : NULL;
	ldns_buffer *b = ldns_buffer_new(512);
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	bool ok = md != NULL && b != NULL &&
	          ldns_rdf2buffer_wire_canonical(b, ldns_rr_owner(key)) == LDNS_STATUS_OK;

	for (size_t i = 0; ok && i < 4; i++)
		ok = ldns_rdf2buffer_wire(b, ldns_rr_rdf(key, i)) == LDNS_STATUS_OK;
	ok = ok && EVP_Digest(ldns_buffer_begin(b), ldns_buffer_position(b), dig, &len, md, NULL);
	ldns_buffer_free(b);
	const ldns_rdf *want = ldns_rr_rdf(ds, 3);
	return ok && ldns_rdf_size(want) == len && memcmp(ldns_rdf_data(want), dig, len) == 0;
}

static bool
same_rdata(const ldns_rr *a, const ldns_rr *b)
{
	if (ldns_rr_rd_count(a) != ldns_rr_rd_count(b))
		return false;
	for (size_t i = 0; i < ldns_rr_rd_count(a); i++) {
		if (ldns_rdf_compare(ldns_rr_rdf(a, i), ldns_rr_rdf(b, i)) != 0)
			return false;
	}
	return true;
}

/* Does trust record t (DS or anchor DNSKEY) vouch for key k? */
static bool
trusts(const struct dnssec_config *cfg, const ldns_rr *t, const ldns_rr *k, bool have_sha2)
{
	if (!key_usable(k) || ldns_dname_compare(ldns_rr_owner(t), ldns_rr_owner(k)) != 0)
		return false;
	if (ldns_rr_get_type(t) == LDNS_RR_TYPE_DNSKEY)
		return same_rdata(t, k);
	unsigned dt = rdf_u8(ldns_rr_rdf(t, 2));
	/* RFC 4509 3: with a SHA-256 DS present, SHA-1 DS records are ignored. */
	if (!digest_supported(cfg, dt) || (dt == LDNS_SHA1 && have_sha2))
		return false;
	return ldns_rdf2native_int16(ldns_rr_rdf(t, 0)) == ldns_calc_keytag(k) &&
	       rdf_u8(ldns_rr_rdf(t, 1)) == rdf_u8(ldns_rr_rdf(k, 2)) && ds_matches(t, k);
}

/* Counts trust records we could use; sets *ede to why the others are useless. */
static size_t
usable_trust(const struct dnssec_config *cfg, const ldns_rr_list *trust, bool *have_sha2, int *ede)
{
	size_t n = 0;

	*have_sha2 = false;
	*ede = DNSSEC_EDE_NONE;
	for (size_t i = 0; i < ldns_rr_list_rr_count(trust); i++) {
		ldns_rr *t = ldns_rr_list_rr(trust, i);
		if (ldns_rr_get_type(t) == LDNS_RR_TYPE_DS && ldns_rr_rd_count(t) == 4) {
			unsigned dt = rdf_u8(ldns_rr_rdf(t, 2));
			*have_sha2 |= dt == LDNS_SHA256 || dt == LDNS_SHA384;
			if (!digest_supported(cfg, dt)) {
				*ede = DNSSEC_EDE_UNSUPPORTED_DIGEST;
				continue;
			}
			if (!alg_supported(cfg, rdf_u8(ldns_rr_rdf(t, 1)))) {
				*ede = DNSSEC_EDE_UNSUPPORTED_ALG;
				continue;
			}
			n++;
		} else if (ldns_rr_get_type(t) == LDNS_RR_TYPE_DNSKEY && ldns_rr_rd_count(t) == 4) {
			if (!alg_supported(cfg, rdf_u8(ldns_rr_rdf(t, 2)))) {
				*ede = DNSSEC_EDE_UNSUPPORTED_ALG;
				continue;
			}
			n++;
		}
	}
	return n;
}

enum dnssec_result
dnssec_verify_dnskeys(const struct dnssec_config *cfg, struct dnssec_budget *b,
                      const ldns_rr_list *trust, const ldns_rr_list *dnskeys,
                      const ldns_rr_list *sigs, uint32_t now, struct dnssec_status *st)
{
	struct work wk = { .cfg = cfg, .b = b };
	bool have_sha2;
	int ede;

	status_clear(st);
	if (trust == NULL || ldns_rr_list_rr_count(trust) == 0) {
		dnssec__status_set(st, DNSSEC_INSECURE, DNSSEC_EDE_NONE, "no DS or trust anchor");
		return st->result;
	}
	if (usable_trust(cfg, trust, &have_sha2, &ede) == 0) {
		dnssec__status_set(st, DNSSEC_INSECURE, ede, ede == DNSSEC_EDE_UNSUPPORTED_DIGEST ?
		                   "no DS with a supported digest type" :
		                   "no DS or anchor with a supported algorithm");
		return st->result;
	}
	ldns_rr_list *set = ldns_rr_list_new();     /* the DNSKEY RRset itself */
	ldns_rr_list *sep = ldns_rr_list_new();     /* keys the trust vouches for */
	if (set == NULL || sep == NULL) {
		dnssec__status_set(st, DNSSEC_INDETERMINATE, DNSSEC_EDE_NONE, "out of memory");
		goto out;
	}
	for (size_t i = 0; dnskeys != NULL && i < ldns_rr_list_rr_count(dnskeys); i++) {
		ldns_rr *k = ldns_rr_list_rr(dnskeys, i);
		if (ldns_rr_get_type(k) != LDNS_RR_TYPE_DNSKEY)
			continue;
		ldns_rr_list_push_rr(set, k);
		for (size_t j = 0; j < ldns_rr_list_rr_count(trust); j++) {
			if (trusts(cfg, ldns_rr_list_rr(trust, j), k, have_sha2)) {
				ldns_rr_list_push_rr(sep, k);
				break;
			}
		}
	}
	if (ldns_rr_list_rr_count(set) == 0) {
		dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_DNSKEY_MISSING, "no DNSKEY RRset");
	} else if (ldns_rr_list_rr_count(sep) == 0) {
		dnssec__status_set(st, DNSSEC_BOGUS, DNSSEC_EDE_DNSKEY_MISSING,
		                   "no DNSKEY matches the DS or trust anchor");
	} else if (verify(&wk, set, sigs, sep, now, st) == DNSSEC_SECURE) {
		dnssec__status_set(st, DNSSEC_SECURE, DNSSEC_EDE_NONE,
		                   "DNSKEY RRset signed by a key the DS or anchor vouches for");
	}
out:
	ldns_rr_list_free(set);
	ldns_rr_list_free(sep);
	return st->result;
}
