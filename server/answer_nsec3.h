/* answer_nsec3.h - NSEC3 denial of the authoritative answer path (server/answer_nsec3.c),
 * called from answer_dnssec.c for queries with DO set. Worker threads; no allocation. */
#ifndef SP_SERVER_ANSWER_NSEC3_H
#define SP_SERVER_ANSWER_NSEC3_H

#include <stdbool.h>
#include <stdint.h>

#include "server/internal.h"

/* Names hashed for one proof at most (the closest provable encloser walk included); a
 * query's proofs are a handful of these calls, so the SHA-1 work per query is bounded by
 * a few times this times (iterations + 1). */
#define ANSWER_NSEC3_MAX_HASHES 8

/* Each returns false when the zone of res is not NSEC3-signed (no usable apex
 * NSEC3PARAM), leaving the NSEC code to answer; true when it is (whatever it wrote). */

/* RFC 5155 7.2.2-7.2.5: NXDOMAIN, NODATA (DS and empty non-terminals included) and
 * wildcard NODATA proofs for name, written to authority. */
bool answer__nsec3_denial(struct resp *rs, const struct zones_result *res,
                          const uint8_t *name, int kind);
/* RFC 5155 7.2.6: for an answer synthesised from a wildcard, finds the NSEC3 covering
 * the next closer name and keeps it in rs->proofs (written by answer__put_proofs()). */
bool answer__nsec3_wildcard_proof(struct resp *rs, const struct zones_result *res,
                                  const uint8_t *name);
/* RFC 5155 7.2.7: a referral without DS: the NSEC3 matching the cut, or the closest
 * provable encloser proof whose covering NSEC3 has opt-out. */
bool answer__nsec3_referral(struct resp *rs, const struct zones_result *res,
                            const uint8_t *cut);

#endif
