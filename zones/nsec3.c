/* nsec3.c - NSEC3 (RFC 5155) in the zone store: the hash index written by the compiler
 * (the compiler's thread: signpost-zone or the daemon's reload thread) and, on the answer
 * path (worker threads), the apex NSEC3PARAM, the iterated SHA-1 and the index lookup
 * "the NSEC3 whose hash is the greatest <= H" (docs/lmdb-schema.md "NSEC3 index").
 *
 * The index is the `nsec3` DBI: keys are the zone version's id (big-endian) then the raw
 * hash octets, values a copy of the NSEC3 owner's node (its NSEC3 and RRSIG sets). A DBI
 * of its own, so that both it and the nodes DBI are written with MDB_APPEND (ids only
 * grow). The answer-path functions never allocate, lock or log. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/nsec3hash.h"
#include "zones/internal.h"

#define RR_NSEC3 50
#define RR_NSEC3PARAM 51
#define SHA1_LEN NSEC3HASH_SHA1_LEN

/* ---- hashing (RFC 5155 5) ------------------------------------------------------------ */

size_t
zones_nsec3_hash(const struct zones_nsec3_params *p, const uint8_t *name, uint8_t *out)
{
	if (p->alg != 1)
		return 0;
	nsec3hash_sha1(name, dname_len(name), p->salt, p->salt_len, p->iterations, out);
	return SHA1_LEN;
}

/* Parses NSEC3PARAM RDATA, or the leading fields of an NSEC3's (same layout: algorithm,
 * flags, iterations, salt length, salt). */
static bool
params_parse(const uint8_t *rd, size_t rdlen, struct zones_nsec3_params *p)
{
	if (rdlen < 5 || rdlen < 5u + rd[4])
		return false;
	p->alg = rd[0];
	p->flags = rd[1];
	p->iterations = (uint16_t)(rd[2] << 8 | rd[3]);
	p->salt_len = rd[4];
	memcpy(p->salt, rd + 5, rd[4]);
	return true;
}

/* The NSEC3PARAM servers use: hash algorithm 1 with flags 0 (RFC 5155 4.1.2: one with
 * other flags is ignored). rr is the NSEC3PARAM RRset in stored form. */
static bool
params_pick(const struct zones_rrset *rr, struct zones_nsec3_params *p)
{
	const uint8_t *q = rr->rdata, *end = rr->rdata + rr->len;
	for (unsigned i = 0; i < rr->count && end - q >= 2; i++) {
		size_t rdlen = (size_t)(q[0] << 8 | q[1]);
		if ((size_t)(end - q - 2) < rdlen)
			return false;
		if (params_parse(q + 2, rdlen, p) && p->alg == 1 && p->flags == 0)
			return true;
		q += 2 + rdlen;
	}
	return false;
}

static bool
params_equal(const struct zones_nsec3_params *a, const struct zones_nsec3_params *b)
{
	return a->alg == b->alg && a->iterations == b->iterations &&
	       a->salt_len == b->salt_len && memcmp(a->salt, b->salt, a->salt_len) == 0;
}

/* ---- reading (answer path) ----------------------------------------------------------- */

bool
zones_nsec3_params(struct zones_snapshot *s, const struct zones_zone *zone,
                   struct zones_nsec3_params *p)
{
	struct zones_node apex;
	struct zones_rrset rr;
	if (!zones_find_node(s, zone, zone->apex, &apex) ||
	    !zones_node_rrset(&apex, RR_NSEC3PARAM, 0, &rr))
		return false;
	return params_pick(&rr, p);
}

static void
index_prefix(uint8_t *key, uint32_t id)
{
	key[0] = (uint8_t)(id >> 24);
	key[1] = (uint8_t)(id >> 16);
	key[2] = (uint8_t)(id >> 8);
	key[3] = (uint8_t)id;
}

/* owner = base32hex(hash) "." apex */
static bool
owner_of(const struct zones_zone *zone, const uint8_t *hash, size_t hlen, uint8_t *owner)
{
	size_t alen = dname_len(zone->apex);
	if (hlen == 0 || hlen > ZONES_NSEC3_HASH_MAX)
		return false;
	size_t n = nsec3hash_b32_encode(hash, hlen, (char *)owner + 1);
	if (1 + n + alen > DNAME_MAXLEN)
		return false;
	owner[0] = (uint8_t)n;
	memcpy(owner + 1 + n, zone->apex, alen);
	return true;
}

static bool
in_index(const MDB_val *k, const uint8_t *prefix)
{
	return k->mv_size > ZONES_ID_LEN && memcmp(k->mv_data, prefix, ZONES_ID_LEN) == 0;
}

bool
zones_find_nsec3(struct zones_snapshot *s, const struct zones_zone *zone,
                 const uint8_t *hash, size_t hashlen, struct zones_node *node,
                 uint8_t *owner, bool *exact)
{
	uint8_t key[ZONES_ID_LEN + ZONES_NSEC3_HASH_MAX];
	MDB_val k, v;
	int rc;

	if (!s->active || s->n3cur == NULL || hashlen == 0 || hashlen > ZONES_NSEC3_HASH_MAX)
		return false;
	index_prefix(key, zone->id);
	memcpy(key + ZONES_ID_LEN, hash, hashlen);
	k = (MDB_val){ZONES_ID_LEN + hashlen, key};
	rc = mdb_cursor_get(s->n3cur, &k, &v, MDB_SET_RANGE);
	*exact = rc == 0 && k.mv_size == ZONES_ID_LEN + hashlen &&
	         memcmp(k.mv_data, key, k.mv_size) == 0;
	if (!*exact) {
		rc = mdb_cursor_get(s->n3cur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
		if (rc != 0 || !in_index(&k, key)) {
			/* Below the first hash: the last NSEC3 of the chain covers it (RFC
			 * 5155 3.1.7, the chain is circular). Its key is the greatest one
			 * before the next id's index range. */
			uint8_t next[ZONES_ID_LEN];
			uint32_t nid = zone->id + 1;
			next[0] = (uint8_t)(nid >> 24);
			next[1] = (uint8_t)(nid >> 16);
			next[2] = (uint8_t)(nid >> 8);
			next[3] = (uint8_t)nid;
			k = (MDB_val){sizeof(next), next};
			rc = mdb_cursor_get(s->n3cur, &k, &v, MDB_SET_RANGE);
			rc = mdb_cursor_get(s->n3cur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
			if (rc != 0 || !in_index(&k, key))
				return false;   /* no index for this zone */
		}
	}
	if (!zones__node_decode(&v, node))
		return false;
	return owner_of(zone, (const uint8_t *)k.mv_data + ZONES_ID_LEN,
	                k.mv_size - ZONES_ID_LEN, owner);
}

/* ---- writing (compiler) -------------------------------------------------------------- */

/* The hash of an NSEC3 owner node: its first label (the last label of its key, as the
 * node is a child of the apex), base32hex-decoded. Returns the length or -1. */
int
zones__nsec3_owner_hash(const struct zonefile *zf, const struct cnode *n, uint8_t *out)
{
	if (n->labels != zf->apex_labels + 1 || n->keylen < zf->apex_keylen + 2)
		return -1;
	const char *label = (const char *)n->key + zf->apex_keylen;
	return nsec3hash_b32_decode(label, n->keylen - zf->apex_keylen - 1, out,
	                           ZONES_NSEC3_HASH_MAX);
}

/* Does n own an NSEC3 record of the chain p? */
static bool
node_in_chain(const struct zonefile *zf, const struct cnode *n,
              const struct zones_nsec3_params *p)
{
	for (size_t k = n->first; k < n->first + n->count; k++) {
		const struct zrec *r = zf->recs[k];
		struct zones_nsec3_params q;
		if (r->type == RR_NSEC3 && !r->dup && params_parse(zrec_rdata(r), r->rdlen, &q) &&
		    params_equal(&q, p))
			return true;
	}
	return false;
}

struct ientry {
	uint8_t hash[ZONES_NSEC3_HASH_MAX];
	uint8_t len;
	const struct cnode *node;
};

static int
ientry_cmp(const void *pa, const void *pb)
{
	const struct ientry *a = pa, *b = pb;
	int c = memcmp(a->hash, b->hash, a->len < b->len ? a->len : b->len);
	if (c != 0)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

/* The apex NSEC3PARAM of the zone being compiled (as zones_nsec3_params() picks it). */
bool
zones__nsec3_zone_params(const struct zonefile *zf, struct zones_nsec3_params *p)
{
	if (zf->nnodes == 0)
		return false;
	const struct cnode *apex = &zf->nodes[0];
	for (size_t k = apex->first; k < apex->first + apex->count; k++) {
		const struct zrec *r = zf->recs[k];
		if (r->type == RR_NSEC3PARAM && !r->dup && params_parse(zrec_rdata(r), r->rdlen, p) &&
		    p->alg == 1 && p->flags == 0)
			return true;
	}
	return false;
}

int
zones__nsec3_index_put(MDB_txn *txn, MDB_dbi dbi, const struct zonefile *zf, uint32_t id)
{
	struct zones_nsec3_params p;
	struct ientry *e = NULL;
	size_t n = 0;
	MDB_cursor *cur = NULL;
	int rc = 0;

	if (!zones__nsec3_zone_params(zf, &p))
		return 0;               /* not an NSEC3 zone: no index */
	for (size_t i = 0; i < zf->nnodes; i++)
		n += (zf->nodes[i].flags & ZONES_NODE_NSEC3) != 0;
	if (n == 0)
		return 0;
	e = calloc(n, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < zf->nnodes; i++) {
		const struct cnode *c = &zf->nodes[i];
		if (!(c->flags & ZONES_NODE_NSEC3) || !node_in_chain(zf, c, &p))
			continue;
		int len = zones__nsec3_owner_hash(zf, c, e[n].hash);
		if (len <= 0)
			continue;           /* the checks refuse these; never index them */
		e[n].len = (uint8_t)len;
		e[n].node = c;
		n++;
	}
	qsort(e, n, sizeof(*e), ientry_cmp);
	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != 0) {
		free(e);
		return zones__mdb_err(rc);
	}
	uint8_t key[ZONES_ID_LEN + ZONES_NSEC3_HASH_MAX];
	index_prefix(key, id);
	for (size_t i = 0; i < n && rc == 0; i++) {
		memcpy(key + ZONES_ID_LEN, e[i].hash, e[i].len);
		MDB_val k = {ZONES_ID_LEN + e[i].len, key};
		MDB_val v = {zones__node_size(zf, e[i].node), NULL};
		/* The id is above every id in the DBI and the hashes come sorted. */
		rc = mdb_cursor_put(cur, &k, &v, MDB_APPEND | MDB_RESERVE);
		if (rc == 0)
			zones__node_write(zf, e[i].node, v.mv_data);
	}
	mdb_cursor_close(cur);
	free(e);
	return zones__mdb_err(rc);
}
