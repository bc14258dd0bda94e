/* answer_dnssec.c - the DNSSEC records of an authoritative answer (worker threads, no
 * allocation): RRSIGs next to the RRsets they cover (RFC 4035 3.1.1), NSEC denial of
 * names and types (3.1.3), and the DS or its absence at referrals (3.1.4). Called by
 * answer.c only for queries with DO set.
 *
 * The zone is signed offline: we copy the stored RRSIG and NSEC records, never sign.
 * Zones with an apex NSEC3PARAM get NSEC3 denial from answer_nsec3.c instead. */
#include <string.h>

#include "lib/dname.h"
#include "server/answer_nsec3.h"
#include "server/internal.h"

void
answer__put_rrsig(struct resp *rs, const struct zones_node *node, const uint8_t *owner,
                  uint16_t type, uint32_t ttl, bool required)
{
	struct zones_rrset sig;

	if (!zones_node_rrset(node, TYPE_RRSIG, type, &sig))
		return;
	/* RFC 4034 3: an RRSIG's TTL is that of the RRset it covers; for the SOA of a
	 * negative answer that is the RFC 2308 one (NSD and Knot do the same). */
	if (required)
		answer__add(rs, owner, &sig, ttl);
	else
		(void)answer__put_rrset(rs, owner, &sig, ttl);
}

/* Writes the NSEC of node (owned by owner) and its RRSIG; false if not written. The
 * deferred wildcard proofs of NSEC3 zones come here too: an NSEC3 node, its NSEC3. */
static bool
put_nsec(struct resp *rs, const struct zones_node *node, const uint8_t *owner)
{
	struct zones_rrset nsec;

	if (!zones_node_rrset(node, TYPE_NSEC, 0, &nsec) &&
	    !zones_node_rrset(node, TYPE_NSEC3, 0, &nsec))
		return false;
	if (!answer__add(rs, owner, &nsec, nsec.ttl))
		return false;
	answer__put_rrsig(rs, node, owner, nsec.type, nsec.ttl, true);
	return true;
}

bool
answer__wildcard_at(const uint8_t *name, unsigned labels, uint8_t *out)
{
	const uint8_t *ce = dname_suffix(name, labels);
	size_t len = dname_len(ce);
	if (len + 2 > DNAME_MAXLEN)
		return false;
	out[0] = 1;
	out[1] = '*';
	memcpy(out + 2, ce, len);
	return true;
}

void
answer__put_denial(struct resp *rs, const struct zones_result *res, const uint8_t *name,
                   int kind)
{
	struct zones_snapshot *snap = rs->ctx->zsnap;
	uint8_t owner1[DNAME_MAXLEN], owner2[DNAME_MAXLEN], wild[DNAME_MAXLEN];
	struct zones_node n1, n2;

	if (answer__nsec3_denial(rs, res, name, kind))
		return;
	rs->section = 1;
	/* NXDOMAIN: the NSEC covering the name; NODATA: the NSEC at the name, showing
	 * the type absent (for an empty non-terminal: the NSEC covering it). An
	 * unsigned or NSEC3 zone has none: nothing to add. */
	if (!zones_find_nsec(snap, &res->zone, name, &n1, owner1) || !put_nsec(rs, &n1, owner1))
		return;
	/* NXDOMAIN also proves there is no wildcard at the closest encloser (RFC 4035
	 * 3.1.3.2); a wildcard NODATA adds the NSEC at the wildcard showing the type
	 * absent there (3.1.3.4). One NSEC may do both: then it is written once. */
	if (kind != ZONES_NXDOMAIN && !res->wildcard)
		return;
	if (!answer__wildcard_at(name, res->node_labels, wild))
		return;
	if (zones_find_nsec(snap, &res->zone, wild, &n2, owner2) && !dname_equal(owner1, owner2))
		put_nsec(rs, &n2, owner2);
}

void
answer__want_wildcard_proof(struct resp *rs, const struct zones_result *res,
                            const uint8_t *name)
{
	if (answer__nsec3_wildcard_proof(rs, res, name) || rs->nproofs >= ANSWER_MAX_PROOFS)
		return;
	/* RFC 4035 3.1.3.3: a wildcard expansion needs the NSEC proving that the query
	 * name itself does not exist. It is looked up now (name may be a synthesised
	 * DNAME target that does not outlive the chain) and written after the answer. */
	if (zones_find_nsec(rs->ctx->zsnap, &res->zone, name, &rs->proofs[rs->nproofs].node,
	                    rs->proofs[rs->nproofs].owner))
		rs->nproofs++;
}

void
answer__put_proofs(struct resp *rs)
{
	rs->section = 1;
	for (unsigned i = 0; i < rs->nproofs; i++) {
		bool dup = false;
		for (unsigned j = 0; j < i && !dup; j++)
			dup = dname_equal(rs->proofs[i].owner, rs->proofs[j].owner);
		if (!dup)
			put_nsec(rs, &rs->proofs[i].node, rs->proofs[i].owner);
	}
}

void
answer__put_referral_ds(struct resp *rs, const struct zones_result *res, const uint8_t *cut)
{
	struct zones_rrset ds, sig;

	/* Only for a signed parent: an unsigned zone's referral carries no DNSSEC. */
	if (zones_node_rrset(&res->node, TYPE_DS, 0, &ds)) {
		if (zones_node_rrset(&res->node, TYPE_RRSIG, TYPE_DS, &sig) &&
		    answer__add(rs, cut, &ds, ds.ttl))
			answer__add(rs, cut, &sig, sig.ttl);
		return;
	}
	/* RFC 4035 3.1.4.1: no DS: the NSEC at the cut shows it absent (an insecure
	 * delegation); in an NSEC3 zone the NSEC3 of the cut, or the opt-out proof. */
	if (!answer__nsec3_referral(rs, res, cut))
		put_nsec(rs, &res->node, cut);
}
