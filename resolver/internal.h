/* internal.h - what the files of resolver/ share: cache entries and composition, the
 * server (infrastructure) table, clocks. Nothing outside resolver/ (and its unit tests)
 * includes this. */
#ifndef SP_RESOLVER_INTERNAL_H
#define SP_RESOLVER_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resolver/resolver.h"

/* Credibility of cached data (RFC 2181 5.4.1), lowest first. New data replaces what is
 * cached only at the same or a higher rank, or when the old entry has expired. */
enum cache_rank {
	RANK_GLUE = 1,              /* additional section of a referral */
	RANK_AUTH_NONAA,            /* NS of a referral (the parent's copy) */
	RANK_ANSWER_NONAA,          /* answer section without AA */
	RANK_AUTH_AA,               /* authority section of an authoritative answer (SOA) */
	RANK_ANSWER_AA,             /* answer section of an authoritative answer */
};

/* What validation said of an entry; the answer path serves only checked entries when
 * validation is on (and sets AD when all are secure). */
enum cache_sec {
	CACHE_SEC_UNCHECKED = 0,
	CACHE_SEC_SECURE,
	CACHE_SEC_INSECURE,
	CACHE_SEC_BOGUS,
};

enum cache_kind {
	CACHE_POS = 0,              /* an RRset */
	CACHE_NODATA,               /* name exists, type does not (RFC 2308 2.2) */
	CACHE_NXDOMAIN,             /* name does not exist: stored with type 0 (RFC 2308 2.1) */
};

/* A cached RRset or negative entry. Immutable once inserted; readers in the resolver
 * hold a reference (cache__get/cache__put), the answer path copies under the shard lock.
 * data: POS - n times [u16 rdlen][rdata] (names in RDATA uncompressed, case kept);
 *       NODATA/NXDOMAIN - [SOA owner name][u16 rdlen][SOA rdata], n is 1 (0: no SOA). */
struct cache_entry {
	struct cache_entry *hnext, *lprev, *lnext;
	_Atomic unsigned refs;          /* 1 for the table while linked, +1 per reader */
	bool linked;
	uint32_t hash;
	uint16_t type, rclass;
	uint8_t rank, kind;
	uint8_t synth_labels;           /* CNAME synthesized from the DNAME owned by the
	                                   suffix of this many labels; 0: a real CNAME */
	uint16_t n;
	uint32_t ttl;                   /* clamped TTL at insertion */
	int64_t expire_ms;              /* cache clock */
	_Atomic uint32_t hits;          /* since insertion, for prefetch */
	_Atomic uint8_t sec;            /* enum cache_sec */
	uint8_t name[DNAME_MAXLEN];     /* lower case */
	uint16_t nsig;                  /* RRSIGs covering a POS RRset, after data[datalen]: */
	size_t siglen;                  /* nsig times [u16 rdlen][rdata], as for the RRset;
	                                   negative entries: nsig whole proof RRs */
	uint16_t nproof;                /* POS expanded from a wildcard: the NSEC/NSEC3 proof
	                                   that qname does not exist (RFC 4035 3.1.3.3), nproof
	                                   whole RRs after the RRSIGs, prooflen bytes */
	size_t prooflen;
	size_t namelen, datalen;
	uint8_t data[];
};

/* The cache clock in milliseconds (CLOCK_MONOTONIC plus an offset tests move). */
int64_t cache__now_ms(struct resolver_cache *c);
void cache__advance(struct resolver_cache *c, int64_t ms);
void cache__set_clamps(struct resolver_cache *c, uint32_t ttl_min, uint32_t ttl_max,
                       uint32_t neg_ttl_max, uint32_t stale_max_age);
void cache__set_prefetch(struct resolver_cache *c, bool on);
/* With validation on, resolver_cache_answer() serves only validated entries. */
void cache__set_validating(struct resolver_cache *c, bool on);
/* Records validation's verdict on name/type (type 0: the NXDOMAIN entry). */
void cache__mark(struct resolver_cache *c, const uint8_t *name, uint16_t type, uint16_t rclass,
                 uint8_t sec);

/* Inserts an RRset (rdata: n blobs in the POS layout) owned by name, unless an entry of
 * higher rank is still fresh. Returns 0, 1 (kept the better one) or -ENOMEM. */
int cache__put_rrset(struct resolver_cache *c, const uint8_t *name, uint16_t type,
                     uint16_t rclass, uint32_t ttl, uint8_t rank, const uint8_t *rdata,
                     size_t rdatalen, uint16_t n);
/* The same for a CNAME synthesized from a DNAME whose owner has synth_labels labels. */
int cache__put_rrset_synth(struct resolver_cache *c, const uint8_t *name, uint16_t type,
                           uint16_t rclass, uint32_t ttl, uint8_t rank, const uint8_t *rdata,
                           size_t rdatalen, uint16_t n, unsigned synth_labels);
/* The same with the RRSIGs that cover the RRset (returned to DO=1 clients). */
int cache__put_rrset_full(struct resolver_cache *c, const uint8_t *name, uint16_t type,
                          uint16_t rclass, uint32_t ttl, uint8_t rank, const uint8_t *rdata,
                          size_t rdatalen, uint16_t n, const uint8_t *sigs, size_t siglen,
                          uint16_t nsig, unsigned synth_labels);
/* The same with proof: whole RRs in the layout of cache__put_negative() (the authority
 * section's NSEC/NSEC3/RRSIG records of a wildcard-expanded answer), returned in the
 * authority section to DO=1 clients and used by validation (RFC 4035 5.3.4). */
int cache__put_rrset_proven(struct resolver_cache *c, const uint8_t *name, uint16_t type,
                            uint16_t rclass, uint32_t ttl, uint8_t rank, const uint8_t *rdata,
                            size_t rdatalen, uint16_t n, const uint8_t *sigs, size_t siglen,
                            uint16_t nsig, const uint8_t *proof, size_t prooflen,
                            uint16_t nproof);
/* Inserts a negative entry (kind NODATA with type, or NXDOMAIN) with the SOA that proves
 * it: TTL min(SOA TTL, SOA MINIMUM) (RFC 2308 5). proof: nproof whole RRs ([owner][type]
 * [class][ttl][rdlen][rdata], names uncompressed) - the NSEC/NSEC3/RRSIG records of the
 * authority section, returned to DO=1 clients and used by validation. */
int cache__put_negative(struct resolver_cache *c, const uint8_t *name, uint16_t type,
                        uint16_t rclass, uint8_t kind, const uint8_t *soa_owner,
                        uint32_t soa_ttl, const uint8_t *soa_rdata, size_t soa_rdlen,
                        uint8_t rank, const uint8_t *proof, size_t prooflen, uint16_t nproof);

/* Looks name/type up; returns a referenced entry fresh (or stale up to stale_ms past
 * expiry when stale_ms > 0) of at least min_rank, or NULL. Release with cache__put(). */
const struct cache_entry *cache__get(struct resolver_cache *c, const uint8_t *name,
                                     uint16_t type, uint16_t rclass, uint8_t min_rank,
                                     int64_t stale_ms);
void cache__put(struct resolver_cache *c, const struct cache_entry *e);
/* Drops name/type (used when a better answer replaces a referral's NS copy, and tests). */
void cache__remove(struct resolver_cache *c, const uint8_t *name, uint16_t type, uint16_t rclass);

/* Builds the response for q from the cache into buf. stale_ms > 0 accepts entries that
 * expired at most that long ago (their TTL is written as 30, RFC 8767 4) and sets *stale
 * if one was used; stale_ms < 0 accepts entries expired at most -stale_ms ago with TTL 0
 * (the resolution that just fetched TTL-0 data). Returns the length or 0 (a miss, incomplete chain or too small a
 * buffer). When a name has an entry close to expiry that is popular, sets *prefetch. */
size_t cache__compose(struct resolver_cache *c, const struct resolver_question *q, uint8_t *buf,
                      size_t cap, int64_t stale_ms, uint8_t *rcode, bool *stale, bool *prefetch);

/* Helpers on wire RDATA. */
uint32_t rr__soa_minimum(const uint8_t *rdata, size_t rdlen);

#endif
