/* dnssec.h - DNSSEC validation library for the resolver (RFC 4033-4035, 5155, 8198, 9276).
 *
 * Pure functions over RRsets held as ldns_rr_list: the resolver parses a response with ldns,
 * splits it into RRsets and asks these functions whether an RRset is signed by a DNSKEY set,
 * whether a DNSKEY set is vouched for by a DS set or trust anchor, and whether NSEC/NSEC3
 * records prove a denial. Nothing here does I/O, keeps state between calls or touches
 * globals other than read-only tables, so any resolver thread may call any function at once
 * with its own arguments. Functions allocate (ldns, OpenSSL): this is not the answer path.
 *
 * Ownership: every ldns argument is borrowed for the call and never modified or kept.
 * Results go into a caller-provided struct dnssec_status (no pointers into the arguments).
 *
 * Work caps (CVE-2023-50387 KeyTrap, CVE-2023-50868 NSEC3): each call spends from a
 * struct dnssec_budget the resolver keeps for one client query; a call that would exceed it,
 * or the per-call limits in struct dnssec_config, stops at once and returns INDETERMINATE
 * (the per-query budget is spent) or BOGUS (one RRset needed too much work), with the EDE
 * code and a reason that says so. */
#ifndef SP_RESOLVER_DNSSEC_H
#define SP_RESOLVER_DNSSEC_H

#include <stdbool.h>
#include <stdint.h>

#include <ldns/ldns.h>

/* RFC 4035 4.3 security states. INDETERMINATE also covers "the budget ran out". */
enum dnssec_result {
	DNSSEC_SECURE = 0,
	DNSSEC_INSECURE,
	DNSSEC_BOGUS,
	DNSSEC_INDETERMINATE,
};

/* Extended DNS Error info codes this library reports (RFC 8914 4). */
enum dnssec_ede {
	DNSSEC_EDE_NONE = -1,
	DNSSEC_EDE_UNSUPPORTED_ALG = 1,
	DNSSEC_EDE_UNSUPPORTED_DIGEST = 2,
	DNSSEC_EDE_BOGUS = 6,
	DNSSEC_EDE_SIG_EXPIRED = 7,
	DNSSEC_EDE_SIG_NOT_YET_VALID = 8,
	DNSSEC_EDE_DNSKEY_MISSING = 9,
	DNSSEC_EDE_RRSIGS_MISSING = 10,
	DNSSEC_EDE_NSEC_MISSING = 12,
	DNSSEC_EDE_UNSUPPORTED_NSEC3_ITER = 27,
};

/* What a denial proof (or an aggressive-NSEC lookup) established. */
enum dnssec_denial {
	DNSSEC_DENY_NONE = 0,
	DNSSEC_DENY_NXDOMAIN,   /* qname does not exist and no wildcard could match */
	DNSSEC_DENY_NODATA,     /* qname (or the wildcard that matches it) lacks qtype */
	DNSSEC_DENY_NO_DS,      /* qname is a delegation without DS: the child is insecure */
	DNSSEC_DENY_WILDCARD,   /* qname does not exist exactly, so a wildcard answer is fine */
};

/* Limits and policy; fill with dnssec_config_default(), then change fields. Read-only
 * during calls, so one struct may be shared by every thread. */
struct dnssec_config {
	uint32_t skew;                  /* seconds of clock skew allowed on either side of the
	                                   RRSIG validity window (default 300) */
	uint16_t nsec3_max_iter;        /* NSEC3 iterations above this: INSECURE, EDE 27
	                                   (RFC 9276 3.2; default 150 like Unbound) */
	uint16_t nsec3_bogus_iter;      /* above this: BOGUS, EDE 27 (0 = never; default 0) */
	bool allow_sha1;                /* validate RSASHA1 (5, 7) and accept DS digest 1
	                                   (RFC 8624 allows validation; default true, as Unbound) */
	unsigned max_verify_per_call;   /* signature verifications one call may try (default 8) */
	unsigned max_key_collisions;    /* DNSKEYs with one key tag+algorithm tried per RRSIG
	                                   (default 4) */
	unsigned max_nsec3_hash_per_call; /* NSEC3 hash computations per call (default 32) */
	unsigned max_rrsigs;            /* RRSIGs considered per RRset (default 8) */
	unsigned max_verify_per_denial; /* signature verifications one denial proof may spend
	                                   over all its NSEC/NSEC3 records (default 16) */
};

/* Work left for one client query; dnssec_budget_init() fills it from defaults. The
 * resolver keeps one per client query, passes it to every call and may read the counters. */
struct dnssec_budget {
	unsigned verify_left;           /* signature verifications (default 64) */
	unsigned hash_left;             /* NSEC3 names hashed, each at most nsec3_max_iter + 1
	                                   SHA-1 runs (default 128) */
	unsigned verify_used;           /* counters: what was spent so far */
	unsigned hash_used;
};

/* Outcome of one call. reason is a short English phrase for logs and EDE EXTRA-TEXT. */
struct dnssec_status {
	enum dnssec_result result;
	int ede;                        /* enum dnssec_ede value, DNSSEC_EDE_NONE if none */
	enum dnssec_denial denial;      /* what a denial call proved */
	bool wildcard;                  /* set by dnssec_verify_rrset() when the RRset was
	                                   expanded from a wildcard ... */
	uint8_t wildcard_labels;        /* ... with this RRSIG label count, to pass to
	                                   dnssec_prove_denial(DNSSEC_DENY_WILDCARD) */
	uint32_t ttl_limit;             /* min(original TTL, expiration - now) of the
	                                   signature that validated: an upper bound on caching
	                                   (RFC 4035 5.3.3); 0 when not secure */
	char reason[160];
};

void dnssec_config_default(struct dnssec_config *cfg);
void dnssec_budget_init(struct dnssec_budget *b);
/* Static name of a result ("secure", "insecure", "bogus", "indeterminate"). */
const char *dnssec_result_str(enum dnssec_result r);

/* Verifies rrset (one owner/class/type, at least one RR) against the RRSIGs in sigs that
 * cover it (other records in sigs are ignored, so a whole section may be passed) with the
 * DNSKEYs in keys (a validated DNSKEY RRset of the signer zone; non-DNSKEY records are
 * ignored). now is the validation time (seconds since the epoch, compared with serial
 * arithmetic, RFC 4034 3.1.5). SECURE when one RRSIG of a supported algorithm verifies with a
 * zone key whose owner is the RRSIG's signer name and the signer is the owner or an ancestor.
 * BOGUS otherwise (EDE 10 no RRSIG, 9 no matching key, 7/8 validity, 6 bad signature);
 * INSECURE when every RRSIG and every key use algorithms this build does not validate
 * (EDE 1, RFC 4035 5.2); unsupported RRSIGs beside a supported key are BOGUS (EDE 10), as
 * stripping the usable signatures must not downgrade an answer. Also bounded: at most
 * max_rrsigs RRSIGs, max_key_collisions keys per RRSIG, max_verify_per_call checks, RSA
 * keys of 512-4096 bits. Wildcard expansion sets st->wildcard and st->wildcard_labels: the
 * caller must then prove with dnssec_prove_denial(DNSSEC_DENY_WILDCARD) that qname itself
 * does not exist. */
enum dnssec_result dnssec_verify_rrset(const struct dnssec_config *cfg, struct dnssec_budget *b,
                                       const ldns_rr_list *rrset, const ldns_rr_list *sigs,
                                       const ldns_rr_list *keys, uint32_t now,
                                       struct dnssec_status *st);

/* Validates a zone's DNSKEY RRset (dnskeys, with its RRSIGs in sigs) against trust: a DS
 * RRset from the validated parent, or trust anchor records (DS and/or DNSKEY, as returned
 * by dnssec_anchors_find()). SECURE when a DNSKEY with the Zone Key flag matches a DS
 * (digest types 2, 4, and 1 if allowed) or equals an anchor DNSKEY, and that key signs the
 * DNSKEY RRset. INSECURE when no DS uses a supported digest and algorithm
 * (RFC 4035 5.2; EDE 1 or 2). BOGUS otherwise (EDE 9 no DNSKEY matches, 6 ...). */
enum dnssec_result dnssec_verify_dnskeys(const struct dnssec_config *cfg, struct dnssec_budget *b,
                                         const ldns_rr_list *trust, const ldns_rr_list *dnskeys,
                                         const ldns_rr_list *sigs, uint32_t now,
                                         struct dnssec_status *st);

/* Proves a denial with the NSEC or NSEC3 records in auth (a response's authority section:
 * NSEC/NSEC3 records and their RRSIGs; other records are ignored). Each NSEC/NSEC3 RRset
 * used is first verified with keys (the zone's validated DNSKEY RRset); keys == NULL means
 * the records were validated before (e.g. taken from the cache) and are trusted as given.
 * want says what the response claims:
 *   DNSSEC_DENY_NXDOMAIN  qname does not exist (RFC 4035 5.4, RFC 5155 8.4);
 *   DNSSEC_DENY_NODATA    qname has no qtype, also via an empty non-terminal or a
 *                         wildcard (RFC 4035 5.4, RFC 5155 8.5-8.7);
 *   DNSSEC_DENY_NO_DS     a referral to qname without DS (qtype ignored; RFC 4035 5.2,
 *                         RFC 5155 8.6 and opt-out);
 *   DNSSEC_DENY_WILDCARD  a positive answer for qname was expanded from a wildcard with
 *                         wildcard_labels labels (RFC 4035 5.3.4, RFC 5155 8.8).
 * SECURE: proven. INSECURE: proven only through NSEC3 opt-out, or NSEC3 iterations above
 * cfg->nsec3_max_iter (EDE 27); for DNSSEC_DENY_NO_DS a proven insecure delegation is also
 * INSECURE (st->denial = DNSSEC_DENY_NO_DS), while SECURE with st->denial = NODATA means
 * qname is no zone cut. BOGUS: no valid proof (EDE 12 when records are missing). */
enum dnssec_result dnssec_prove_denial(const struct dnssec_config *cfg, struct dnssec_budget *b,
                                       enum dnssec_denial want, const ldns_rdf *qname,
                                       ldns_rr_type qtype, unsigned wildcard_labels,
                                       const ldns_rr_list *auth, const ldns_rr_list *keys,
                                       uint32_t now, struct dnssec_status *st);

/* Aggressive use of the cache (RFC 8198): given validated NSEC or NSEC3 records of one zone
 * that the resolver cached (other records, e.g. RRSIGs, are ignored), tries to prove that
 * qname/qtype has no answer. SECURE with st->denial = NXDOMAIN or NODATA when the cached
 * records prove it, so the resolver can answer without asking; INDETERMINATE when they do
 * not (ask upstream), including NSEC3 opt-out spans and iteration counts above the limit. */
enum dnssec_result dnssec_aggressive_nsec(const struct dnssec_config *cfg, const ldns_rdf *qname,
                                          ldns_rr_type qtype, const ldns_rr_list *cached,
                                          struct dnssec_status *st);

/* Trust anchors: DS and DNSKEY records from master files or text, several zones allowed. */
struct dnssec_anchors;

struct dnssec_anchors *dnssec_anchors_new(void);
void dnssec_anchors_free(struct dnssec_anchors *a);
/* Adds the DS/DNSKEY records of a master file (comments, $ORIGIN, $TTL allowed). On error
 * returns SP_EPARSE or -errno, writes "path:line: what" into err (errlen bytes) and adds
 * nothing from the file. */
int dnssec_anchors_add_file(struct dnssec_anchors *a, const char *path, char *err, size_t errlen);
/* As above for text holding one or more records (e.g. from the configuration). */
int dnssec_anchors_add_text(struct dnssec_anchors *a, const char *text, char *err, size_t errlen);
/* Number of anchor records held. */
size_t dnssec_anchors_count(const struct dnssec_anchors *a);
/* The anchor records (DS and DNSKEY) of the closest anchor at or above name, or NULL when
 * name is under no anchor. The list belongs to a, valid until the next add or free; read
 * only, so several threads may use it once loading is done. */
const ldns_rr_list *dnssec_anchors_find(const struct dnssec_anchors *a, const ldns_rdf *name);

/* Internals shared by resolver/validate.c, nsec.c, nsec3.c (not for the resolver). */

/* The NSEC or NSEC3 records of one response, each verified only when a proof uses it. */
#define DNSSEC__DENIAL_MAX 16
struct dnssec__denial {
	const struct dnssec_config *cfg;
	struct dnssec_budget *b;
	const ldns_rr_list *auth, *keys;        /* keys NULL: records are trusted */
	const ldns_rdf *zone;                   /* owner of keys, NULL if unknown */
	uint32_t now;
	ldns_rr *rr[DNSSEC__DENIAL_MAX];
	int8_t ok[DNSSEC__DENIAL_MAX];          /* 0 unchecked, 1 verified, -1 bogus */
	size_t n;
	unsigned used_at_start;                 /* b->verify_used when the proof began */
	bool budget_out;                        /* the query's budget ran out */
	bool call_out;                          /* this proof's cap ran out */
	struct dnssec_status fail;              /* why the last record failed to verify */
};
/* True when d->rr[i] is signed by the zone (verifying it the first time). */
bool dnssec__denial_usable(struct dnssec__denial *d, size_t i);
/* The NSEC3 half of dnssec_prove_denial(): d holds NSEC3 records. */
enum dnssec_result dnssec__nsec3_prove(struct dnssec__denial *d, enum dnssec_denial want,
                                       const ldns_rdf *qname, ldns_rr_type qtype,
                                       unsigned wildcard_labels, struct dnssec_status *st);
/* Ends a failed proof: the failure of a record's signature, the budget, or "missing". */
enum dnssec_result dnssec__denial_fail(struct dnssec__denial *d, struct dnssec_status *st,
                                       const char *what);
void dnssec__status_set(struct dnssec_status *st, enum dnssec_result r, int ede,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The RRSIGs in sigs covering owner/type. Caller frees the list (not the records) with
 * ldns_rr_list_free(). */
ldns_rr_list *dnssec__sigs_for(const ldns_rr_list *sigs, const ldns_rdf *owner, ldns_rr_type type);

#endif
