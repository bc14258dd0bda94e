/* answer_nsec3.c - NSEC3 denial of existence in authoritative answers (RFC 5155 7.2),
 * for queries with DO set in zones with an apex NSEC3PARAM (worker threads; no
 * allocation, no locks, a bounded number of hashes and B-tree searches per call).
 *
 * Names are hashed with the zone's salt and iterations (zones_nsec3_hash()) and looked
 * up in the zone's NSEC3 index (zones_find_nsec3()): the NSEC3 whose hash is the greatest
 * <= the name's hash either matches the name (same hash) or covers it. The lookup already
 * knows the closest encloser, so a proof hashes the encloser, the next closer name and
 * the wildcard; only where opt-out left an encloser without an NSEC3 (an empty
 * non-terminal above insecure delegations only) does the walk go further up, to the
 * closest provable encloser (RFC 5155 7.2.1), at most ANSWER_NSEC3_MAX_HASHES names. */
#include <string.h>

#include "lib/dname.h"
#include "server/answer_nsec3.h"
#include "server/internal.h"

#define WRITTEN_MAX 4

struct n3 {
	struct resp *rs;
	const struct zones_zone *zone;
	struct zones_nsec3_params p;
	unsigned budget;            /* names that may still be hashed */
	unsigned nwritten;
	const uint8_t *written[WRITTEN_MAX];    /* owners written by this proof (in `owners`) */
	uint8_t owners[WRITTEN_MAX][DNAME_MAXLEN];
};

/* False when the zone is not NSEC3-signed. A zone whose iterations are above the RFC
 * 5155 10.3 bound is NSEC3-signed but gets no proofs (budget 0): hashing it would cost
 * too much per query, and the compiler warned about it. */
static bool
n3_begin(struct n3 *c, struct resp *rs, const struct zones_zone *zone)
{
	if (!zones_nsec3_params(rs->ctx->zsnap, zone, &c->p))
		return false;
	c->rs = rs;
	c->zone = zone;
	c->budget = c->p.iterations <= ZONES_NSEC3_MAX_ITERATIONS ? ANSWER_NSEC3_MAX_HASHES : 0;
	c->nwritten = 0;
	rs->section = 1;
	return true;
}

/* The NSEC3 matching (*exact) or covering name, into node and owner. */
static bool
n3_find(struct n3 *c, const uint8_t *name, struct zones_node *node, uint8_t *owner,
        bool *exact)
{
	uint8_t hash[ZONES_NSEC3_HASH_MAX];
	if (c->budget == 0)
		return false;
	c->budget--;
	size_t hl = zones_nsec3_hash(&c->p, name, hash);
	return hl > 0 && zones_find_nsec3(c->rs->ctx->zsnap, c->zone, hash, hl, node, owner, exact);
}

/* Writes the NSEC3 RRset at node and its RRSIG, once per proof. */
static void
n3_put(struct n3 *c, const struct zones_node *node, const uint8_t *owner)
{
	struct zones_rrset rr;
	for (unsigned i = 0; i < c->nwritten; i++) {
		if (dname_equal(c->written[i], owner))
			return;
	}
	if (!zones_node_rrset(node, TYPE_NSEC3, 0, &rr) || !answer__add(c->rs, owner, &rr, rr.ttl))
		return;
	/* RFC 5155 7.2: every NSEC3 goes with its RRSIG (required: it truncates). */
	answer__put_rrsig(c->rs, node, owner, TYPE_NSEC3, rr.ttl, true);
	if (c->nwritten < WRITTEN_MAX) {
		dname_copy_lower(c->owners[c->nwritten], owner);
		c->written[c->nwritten] = c->owners[c->nwritten];
		c->nwritten++;
	}
}

/* RFC 5155 7.2.1: the closest (provable) encloser proof for name, starting at its
 * ancestor of from labels (the closest encloser the lookup found): the NSEC3 matching
 * the encloser and the one covering the next closer name. Returns the encloser's labels,
 * or -1 when no proof could be made (a broken chain, the hash budget). */
static int
closest_proof(struct n3 *c, const uint8_t *name, unsigned from)
{
	struct zones_node node;
	uint8_t owner[DNAME_MAXLEN];
	bool exact = false;
	unsigned qlabels = dname_labels(name), l = from;

	if (from > qlabels || from < c->zone->apex_labels)
		return -1;
	for (;;) {
		if (!n3_find(c, dname_suffix(name, l), &node, owner, &exact))
			return -1;
		if (exact)
			break;
		/* An encloser without an NSEC3 of its own: opt-out spans it; go up. */
		if (l == c->zone->apex_labels)
			return -1;
		l--;
	}
	n3_put(c, &node, owner);
	if (l < qlabels && n3_find(c, dname_suffix(name, l + 1), &node, owner, &exact) && !exact)
		n3_put(c, &node, owner);
	return (int)l;
}

bool
answer__nsec3_denial(struct resp *rs, const struct zones_result *res, const uint8_t *name,
                     int kind)
{
	struct n3 c;
	struct zones_node node;
	uint8_t owner[DNAME_MAXLEN], wild[DNAME_MAXLEN];
	bool exact = false;
	unsigned qlabels = dname_labels(name);

	if (!n3_begin(&c, rs, &res->zone))
		return false;
	if (kind == ZONES_NXDOMAIN) {
		/* 7.2.2: the closest encloser proof, and the NSEC3 covering the wildcard at
		 * the closest encloser (its absence: NXDOMAIN rather than a synthesis). */
		int ce = closest_proof(&c, name, res->node_labels);
		if (ce >= 0 && answer__wildcard_at(name, (unsigned)ce, wild) &&
		    n3_find(&c, wild, &node, owner, &exact) && !exact)
			n3_put(&c, &node, owner);
		return true;
	}
	if (res->wildcard) {
		/* 7.2.5: wildcard NODATA: the closest encloser proof (the wildcard's
		 * parent) and the NSEC3 matching the wildcard, showing the type absent. */
		int ce = closest_proof(&c, name, res->node_labels - 1u);
		if (ce >= 0 && answer__wildcard_at(name, (unsigned)ce, wild) &&
		    n3_find(&c, wild, &node, owner, &exact) && exact)
			n3_put(&c, &node, owner);
		return true;
	}
	/* 7.2.3 NODATA, 7.2.4 DS NODATA: the NSEC3 matching the name. Without one (an
	 * empty non-terminal or a delegation inside an opt-out span), the closest provable
	 * encloser proof, whose covering NSEC3 has opt-out set. */
	if (n3_find(&c, name, &node, owner, &exact) && exact) {
		n3_put(&c, &node, owner);
		return true;
	}
	if (qlabels > res->zone.apex_labels)
		(void)closest_proof(&c, name, qlabels - 1);
	return true;
}

bool
answer__nsec3_wildcard_proof(struct resp *rs, const struct zones_result *res,
                             const uint8_t *name)
{
	struct n3 c;
	bool exact = false;

	if (!n3_begin(&c, rs, &res->zone))
		return false;
	if (rs->nproofs >= ANSWER_MAX_PROOFS || res->node_labels > dname_labels(name))
		return true;
	/* 7.2.6: the NSEC3 covering the next closer name (the closest encloser is the
	 * wildcard's parent, implied by the RRSIG labels field). Looked up now, written
	 * after the answer (answer__put_proofs()). */
	if (n3_find(&c, dname_suffix(name, res->node_labels), &rs->proofs[rs->nproofs].node,
	            rs->proofs[rs->nproofs].owner, &exact) && !exact)
		rs->nproofs++;
	return true;
}

bool
answer__nsec3_referral(struct resp *rs, const struct zones_result *res, const uint8_t *cut)
{
	struct n3 c;
	struct zones_node node;
	uint8_t owner[DNAME_MAXLEN];
	bool exact = false;

	if (!n3_begin(&c, rs, &res->zone))
		return false;
	/* 7.2.7: the NSEC3 matching the delegation (its bitmap: NS, no DS); a delegation
	 * inside an opt-out span has none: the closest provable encloser proof then. */
	if (n3_find(&c, cut, &node, owner, &exact) && exact) {
		n3_put(&c, &node, owner);
		return true;
	}
	unsigned labels = dname_labels(cut);
	if (labels > res->zone.apex_labels)
		(void)closest_proof(&c, cut, labels - 1);
	return true;
}
