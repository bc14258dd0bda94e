/* lookup.c - the read side of the zone store: finds the zone, the node and the RRset
 * that answer a question, inside a worker's snapshot (docs/lmdb-schema.md).
 *
 * Answer path: every function here runs on worker threads per query. They do not
 * allocate, lock or log; each is a bounded number of B-tree searches (O(log n)), and
 * everything returned points into the memory map until zones_snapshot_end(). */
#include <string.h>

#include "lib/errors.h"
#include "zones/internal.h"

#define RR_DS 43
#define RR_CNAME 5
#define RR_NS 2
#define RR_DNAME 39
#define RR_RRSIG 46
#define RR_NSEC 47
#define RR_ANY 255

/* Bound on nodes skipped backwards by zones_find_nsec(). */
#define NSEC_WALK_MAX 256

static void
rrset_at(const uint8_t *p, struct zones_rrset *rr)
{
	struct disk_rrset h;
	memcpy(&h, p, sizeof(h));
	*rr = (struct zones_rrset){.type = h.type, .covers = h.covers, .ttl = h.ttl,
	                           .count = h.count, .len = h.len, .rdata = p + sizeof(h)};
}

bool
zones_node_next(const struct zones_node *node, size_t *pos, struct zones_rrset *rr)
{
	if (*pos + sizeof(struct disk_rrset) > node->len)
		return false;
	rrset_at(node->data + *pos, rr);
	if (*pos + sizeof(struct disk_rrset) + rr->len > node->len)
		return false;           /* damaged value: stop rather than read past it */
	*pos += sizeof(struct disk_rrset) + rr->len;
	return true;
}

bool
zones_node_rrset(const struct zones_node *node, uint16_t type, uint16_t covers,
                 struct zones_rrset *rr)
{
	size_t pos = 0;
	struct zones_rrset x;
	while (zones_node_next(node, &pos, &x)) {
		if (x.type == type && (type != RR_RRSIG || x.covers == covers)) {
			*rr = x;
			return true;
		}
		if (x.type > type)
			break;              /* RRsets are sorted by type */
	}
	return false;
}

static void
id_prefix(uint8_t *key, uint32_t id)
{
	key[0] = (uint8_t)(id >> 24);
	key[1] = (uint8_t)(id >> 16);
	key[2] = (uint8_t)(id >> 8);
	key[3] = (uint8_t)id;
}

/* ---- zones -------------------------------------------------------------------------- */

/* Decodes the zone record the zone cursor is on and remembers it, with the key after
 * it, for the next search (find_zone_key()). */
static bool
zone_found(struct zones_snapshot *s, const MDB_val *k, const MDB_val *v,
           struct zones_zone *zone, struct zones_rrset *soa)
{
	s->zc_ok = false;
	if (!zones__zone_decode(v, &s->zc_zone, &s->zc_soa, NULL))
		return false;
	*zone = s->zc_zone;
	if (soa != NULL)
		*soa = s->zc_soa;
	s->zc_key = *k;
	MDB_val nk, nv;
	int rc = mdb_cursor_get(s->zcur, &nk, &nv, MDB_NEXT);
	if (rc == 0)
		s->zc_next = nk;
	else
		s->zc_next = (MDB_val){0, NULL};
	s->zc_ok = rc == 0 || rc == MDB_NOTFOUND;
	return true;
}

/* The closest enclosing zone: the longest zone key that is a label-prefix of the name's
 * key. The greatest zone key <= the name's key is either that zone, or shares a shorter
 * prefix with the name, in which case the search repeats with that prefix: each round
 * drops at least one label. key: the zone key of name (zones__zone_key()), kl octets. */
static bool
find_zone_key(struct zones_snapshot *s, const uint8_t *name, const uint8_t *key, size_t kl,
              struct zones_zone *zone, struct zones_rrset *soa)
{
	/* The zone found last in this transaction answers again when the name is below its
	 * apex (its key a prefix: zone keys end on a label) and sorts before the next key of
	 * the zones DBI: no other zone key lies between the apex and the name, so no closer
	 * zone exists. Most queries of a batch, and of a parked snapshot's batches, ask
	 * about the same zone; the two B-tree searches cost a tenth of a query. */
	if (s->zc_ok && kl <= ZONES_MAXKEY && kl >= s->zc_key.mv_size &&
	    memcmp(key, s->zc_key.mv_data, s->zc_key.mv_size) == 0) {
		const MDB_val *nx = &s->zc_next;
		size_t m = kl < nx->mv_size ? kl : nx->mv_size;
		int c = nx->mv_data == NULL ? -1 : memcmp(key, nx->mv_data, m);
		if (c < 0 || (c == 0 && kl < nx->mv_size)) {
			*zone = s->zc_zone;
			if (soa != NULL)
				*soa = s->zc_soa;
			return true;
		}
	}
	/* No zone apex has a key this long (the compiler refuses them): start lower. */
	for (unsigned l = dname_labels(name); kl > ZONES_MAXKEY && l > 0; l--)
		kl = 1 + dname_key_prefix(key + 1, kl - 1, l - 1);

	for (unsigned round = 0; round <= DNAME_MAXLABELS + 1; round++) {
		MDB_val k = {kl, (void *)key}, v;
		int rc = mdb_cursor_get(s->zcur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && k.mv_size == kl && memcmp(k.mv_data, key, kl) == 0)
			return zone_found(s, &k, &v, zone, soa);
		rc = mdb_cursor_get(s->zcur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
		if (rc != 0 || k.mv_size < 1)
			return false;
		size_t common = 1 + zones__key_common((const uint8_t *)k.mv_data + 1,
		                                      k.mv_size - 1, key + 1, kl - 1);
		if (common == k.mv_size)
			return zone_found(s, &k, &v, zone, soa);
		if (common >= kl)
			return false;
		kl = common;
	}
	return false;
}

static bool
find_zone(struct zones_snapshot *s, const uint8_t *name, struct zones_zone *zone,
          struct zones_rrset *soa)
{
	uint8_t key[DNAME_KEY_MAXLEN + 1];
	return find_zone_key(s, name, key, zones__zone_key(name, key), zone, soa);
}

bool
zones_find_zone(struct zones_snapshot *s, const uint8_t *name, struct zones_zone *zone)
{
	return find_zone(s, name, zone, NULL);
}

/* ---- nodes -------------------------------------------------------------------------- */

static bool
node_get(struct zones_snapshot *s, const uint8_t *key, size_t keylen, struct zones_node *node)
{
	MDB_val k = {keylen, (void *)key}, v;
	if (mdb_get(s->txn, s->db->nodes, &k, &v) != 0)
		return false;
	return zones__node_decode(&v, node);
}

/* Node key of name in zone; false if the name is too long to be stored. */
static bool
node_key(const struct zones_zone *zone, const uint8_t *name, uint8_t *key, size_t *keylen)
{
	id_prefix(key, zone->id);
	*keylen = ZONES_ID_LEN + dname_key(name, key + ZONES_ID_LEN);
	return *keylen <= ZONES_MAXKEY;
}

bool
zones_find_node(struct zones_snapshot *s, const struct zones_zone *zone, const uint8_t *name,
                struct zones_node *node)
{
	uint8_t key[ZONES_ID_LEN + DNAME_KEY_MAXLEN];
	size_t kl;
	if (!node_key(zone, name, key, &kl))
		return false;
	return node_get(s, key, kl, node);
}

bool
zones_find_nsec(struct zones_snapshot *s, const struct zones_zone *zone, const uint8_t *name,
                struct zones_node *node, uint8_t *owner)
{
	uint8_t key[ZONES_ID_LEN + DNAME_KEY_MAXLEN];
	size_t kl;
	struct zones_rrset rr;
	if (!node_key(zone, name, key, &kl))
		return false;
	MDB_val k = {kl, key}, v;
	int rc = mdb_cursor_get(s->ncur, &k, &v, MDB_SET_RANGE);
	if (rc != 0 || k.mv_size != kl || memcmp(k.mv_data, key, kl) != 0)
		rc = mdb_cursor_get(s->ncur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
	for (unsigned i = 0; rc == 0 && i < NSEC_WALK_MAX; i++) {
		if (k.mv_size < ZONES_ID_LEN || memcmp(k.mv_data, key, ZONES_ID_LEN) != 0)
			return false;       /* left the zone */
		if (zones__node_decode(&v, node) && zones_node_rrset(node, RR_NSEC, 0, &rr)) {
			return dname_from_key((const uint8_t *)k.mv_data + ZONES_ID_LEN,
			                      k.mv_size - ZONES_ID_LEN, owner) > 0;
		}
		rc = mdb_cursor_get(s->ncur, &k, &v, MDB_PREV);
	}
	return false;
}

/* ---- the lookup --------------------------------------------------------------------- */

/* Fills res from the ancestor (labels labels) that redirects queries below it. */
static int
redirect(struct zones_snapshot *s, const uint8_t *key, size_t keylen, unsigned labels,
         struct zones_result *res)
{
	size_t plen = ZONES_ID_LEN + dname_key_prefix(key + ZONES_ID_LEN, keylen - ZONES_ID_LEN,
	                                              labels);
	if (!node_get(s, key, plen, &res->node))
		return SP_ESTORE;
	res->node_labels = (uint8_t)labels;
	if (res->node.flags & ZONES_NODE_DNAME) {
		zones_node_rrset(&res->node, RR_DNAME, 0, &res->rrset);
		return ZONES_DNAME;
	}
	zones_node_rrset(&res->node, RR_NS, 0, &res->rrset);
	return ZONES_DELEGATION;
}

/* Answers from a node that exists and is not redirected (RFC 1034 4.3.2 step 3a). */
static int
answer_at(const struct zones_node *node, uint16_t qtype, struct zones_result *res)
{
	if (qtype == RR_ANY || qtype == RR_RRSIG) {
		size_t pos = 0;
		struct zones_rrset rr;
		while (zones_node_next(node, &pos, &rr)) {
			if (qtype == RR_ANY || rr.type == RR_RRSIG) {
				res->rrset = rr;
				return ZONES_FOUND;
			}
		}
		return ZONES_NODATA;
	}
	if (zones_node_rrset(node, qtype, 0, &res->rrset))
		return ZONES_FOUND;
	if (zones_node_rrset(node, RR_CNAME, 0, &res->rrset))
		return ZONES_CNAME;
	return ZONES_NODATA;
}

static int
exact(struct zones_snapshot *s, const uint8_t *key, size_t kl, uint16_t qtype,
      struct zones_result *res)
{
	const struct zones_node *n = &res->node;
	if (n->redirect_labels != ZONES_NO_REDIRECT)
		return redirect(s, key, kl, n->redirect_labels, res);
	if (n->flags & ZONES_NODE_CUT) {
		/* DS lives on the parent side of the cut (RFC 4035 3.1.4.1). */
		if (qtype == RR_DS)
			return answer_at(n, qtype, res) == ZONES_FOUND ? ZONES_FOUND : ZONES_NODATA;
		zones_node_rrset(n, RR_NS, 0, &res->rrset);
		return ZONES_DELEGATION;
	}
	return answer_at(n, qtype, res);
}

/* The node at key (len octets): from the value in hand when that is the key of pred,
 * the name's predecessor (often the closest encloser itself, or the wildcard below it),
 * else one B-tree search. */
static bool
node_at(struct zones_snapshot *s, const uint8_t *key, size_t len, const MDB_val *pred,
        const MDB_val *predv, struct zones_node *node)
{
	if (pred->mv_size == len && memcmp(pred->mv_data, key, len) == 0)
		return zones__node_decode(predv, node);
	return node_get(s, key, len, node);
}

/* The apex node of zone, whose node key is key (len octets): the closest encloser of
 * most names that do not exist, so kept for the transaction like the zone itself. */
static bool
apex_get(struct zones_snapshot *s, const struct zones_zone *zone, const uint8_t *key,
         size_t len, struct zones_node *node)
{
	if (!s->ap_ok || s->ap_id != zone->id) {
		MDB_val k = {len, (void *)key};
		s->ap_ok = false;
		if (mdb_get(s->txn, s->db->nodes, &k, &s->ap_val) != 0)
			return false;
		s->ap_ok = true;
		s->ap_id = zone->id;
	}
	return zones__node_decode(&s->ap_val, node);
}

/* The closest encloser below the apex at key (len octets), kept for the transaction
 * like the apex: names that do not exist under one wildcard or empty non-terminal share
 * it. Found from pred's value when that is it (pointers into the map either way). */
static bool
ce_get(struct zones_snapshot *s, const uint8_t *key, size_t len, const MDB_val *pred,
       const MDB_val *predv, struct zones_node *node)
{
	if (!s->ce_ok || s->ce_key.mv_size != len || memcmp(s->ce_key.mv_data, key, len) != 0) {
		MDB_val k = {len, (void *)key}, v;
		if (pred->mv_size == len && memcmp(pred->mv_data, key, len) == 0) {
			k = *pred;
			v = *predv;
		} else if (mdb_cursor_get(s->ncur, &k, &v, MDB_SET_KEY) != 0) {
			return false;
		}
		s->ce_key = k;
		s->ce_val = v;
		s->ce_ok = true;
	}
	return zones__node_decode(&s->ce_val, node);
}

/* The name is not in the zone. Its closest encloser is the longest common ancestor of
 * the name and its predecessor, which exists because ancestors of stored names are
 * stored too (empty non-terminals; proof in docs/lmdb-schema.md). */
static int
below(struct zones_snapshot *s, const uint8_t *key, size_t kl, const MDB_val *pred,
      const MDB_val *predv, uint16_t qtype, struct zones_result *res)
{
	size_t ce = ZONES_ID_LEN + zones__key_common((const uint8_t *)pred->mv_data + ZONES_ID_LEN,
	                                             pred->mv_size - ZONES_ID_LEN,
	                                             key + ZONES_ID_LEN, kl - ZONES_ID_LEN);
	unsigned ce_labels = dname_key_labels(key + ZONES_ID_LEN, ce - ZONES_ID_LEN);
	if (ce_labels < res->zone.apex_labels)
		return SP_ESTORE;       /* the apex is always stored: a damaged zone */
	if (!(ce_labels == res->zone.apex_labels ? apex_get(s, &res->zone, key, ce, &res->node)
	                                         : ce_get(s, key, ce, pred, predv, &res->node)))
		return SP_ESTORE;
	if ((res->node.flags & ZONES_NODE_NSEC3) && ce_labels > res->zone.apex_labels) {
		/* RFC 5155 7.1: an NSEC3 owner (a child of the apex, check.c) is not a name
		 * of the zone: the apex is the closest encloser instead. */
		ce = ZONES_ID_LEN + dname_key_prefix(key + ZONES_ID_LEN, kl - ZONES_ID_LEN,
		                                     res->zone.apex_labels);
		ce_labels = res->zone.apex_labels;
		if (!apex_get(s, &res->zone, key, ce, &res->node))
			return SP_ESTORE;
	}
	res->node_labels = (uint8_t)ce_labels;
	const struct zones_node *n = &res->node;
	if (n->redirect_labels != ZONES_NO_REDIRECT)
		return redirect(s, key, kl, n->redirect_labels, res);
	if (n->flags & (ZONES_NODE_CUT | ZONES_NODE_DNAME))
		return redirect(s, key, kl, ce_labels, res);
	if (n->flags & ZONES_NODE_WILDKID) {
		/* RFC 4592 3.3.1: the source of synthesis is "*" at the closest encloser. */
		uint8_t wkey[ZONES_ID_LEN + DNAME_KEY_MAXLEN + 2];
		memcpy(wkey, key, ce);
		wkey[ce] = '*';
		wkey[ce + 1] = 0;
		if (ce + 2 <= ZONES_MAXKEY && node_at(s, wkey, ce + 2, pred, predv, &res->node)) {
			res->wildcard = true;
			res->node_labels = (uint8_t)(ce_labels + 1);
			return answer_at(&res->node, qtype, res);
		}
	}
	return ZONES_NXDOMAIN;
}

int
zones_lookup(struct zones_snapshot *s, const uint8_t *qname, uint16_t qtype,
             struct zones_result *res)
{
	uint8_t key[ZONES_ID_LEN + DNAME_KEY_MAXLEN];
	size_t kl;

	memset(res, 0, sizeof(*res));
	if (!s->active)
		return SP_ESTORE;
	/* The name's canonical key is built once (it was a tenth of a query's cost) and
	 * serves as the zone key, with the prefix octet just before it, and then as the
	 * node key, with the zone id written over that octet and the three before. */
	size_t dkl = dname_key(qname, key + ZONES_ID_LEN);
	key[ZONES_ID_LEN - 1] = ZONES_ZKEY_PREFIX;
	if (!find_zone_key(s, qname, key + ZONES_ID_LEN - 1, 1 + dkl, &res->zone, &res->soa))
		return ZONES_NOT_OURS;
	unsigned labels = dname_labels(qname);
	if (qtype == RR_DS && labels == res->zone.apex_labels && labels > 0) {
		/* DS at a child apex: the parent answers it when we serve the parent too and it
		 * has the delegation (otherwise the child's own NODATA is the better answer). */
		struct zones_zone parent;
		struct zones_rrset psoa;
		struct zones_node cut;
		if (find_zone(s, dname_suffix(qname, labels - 1), &parent, &psoa) &&
		    zones_find_node(s, &parent, qname, &cut) && (cut.flags & ZONES_NODE_CUT)) {
			res->zone = parent;
			res->soa = psoa;
		}
	}
	id_prefix(key, res->zone.id);
	kl = ZONES_ID_LEN + dkl;
	if (kl > ZONES_MAXKEY)
		return ZONES_NXDOMAIN;  /* cannot be stored, so it does not exist */
	MDB_val k = {kl, key}, v;
	int rc = mdb_cursor_get(s->ncur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && k.mv_size == kl && memcmp(k.mv_data, key, kl) == 0) {
		if (!zones__node_decode(&v, &res->node))
			return SP_ESTORE;
		res->node_labels = (uint8_t)labels;
		/* An NSEC3 owner name does not exist for queries (RFC 5155 7.1, Knot). */
		if (res->node.flags & ZONES_NODE_NSEC3)
			return below(s, key, kl, &k, &v, qtype, res);
		return exact(s, key, kl, qtype, res);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return zones__mdb_err(rc);
	rc = mdb_cursor_get(s->ncur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
	if (rc != 0 || k.mv_size < ZONES_ID_LEN || memcmp(k.mv_data, key, ZONES_ID_LEN) != 0)
		return SP_ESTORE;
	return below(s, key, kl, &k, &v, qtype, res);
}

