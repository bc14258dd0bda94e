/* xfr.c - walking one version of a zone for an outgoing transfer (AXFR, and the full
 * form of an IXFR answer): a read transaction of its own, so the transfer sees one
 * consistent version from its first message to its last, even when the zone is
 * recompiled meanwhile (the writer appends a new id; the old id's pages stay alive
 * for this reader, docs/lmdb-schema.md).
 *
 * Runs on whichever thread serves the transfer (a worker's TCP connection); never on
 * the answer path proper (it allocates the iterator). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "zones/xfr_internal.h"


struct zones_db *
zones_snapshot_db(struct zones_snapshot *s)
{
	return s->db;
}

static int iter_open(struct zones_iter *it, const uint8_t *apex);

int
zones_iter_new(struct zones_db *db, const uint8_t *apex, struct zones_iter **out)
{
	struct zones_iter *it = calloc(1, sizeof(*it));
	int rc;

	*out = NULL;
	if (it == NULL)
		return -ENOMEM;
	rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &it->txn);
	if (rc != 0) {
		free(it);
		return zones__mdb_err(rc);
	}
	it->own_txn = true;
	it->db = db;
	rc = iter_open(it, apex);
	if (rc != 0) {
		zones_iter_free(it);
		return rc;
	}
	*out = it;
	return 0;
}

int
zones_iter_new_at(struct zones_iter *base, const uint8_t *apex, struct zones_iter **out)
{
	struct zones_iter *it = calloc(1, sizeof(*it));
	*out = NULL;
	if (it == NULL)
		return -ENOMEM;
	it->txn = base->txn;
	it->db = base->db;
	int rc = iter_open(it, apex);
	if (rc != 0) {
		zones_iter_free(it);
		return rc;
	}
	*out = it;
	return 0;
}

static int
iter_open(struct zones_iter *it, const uint8_t *apex)
{
	uint8_t zkey[DNAME_KEY_MAXLEN + 1];
	struct zones_db *db = it->db;
	int rc;
	MDB_val k = {zones__zone_key(apex, zkey), zkey}, v;
	rc = mdb_get(it->txn, db->zones, &k, &v);
	if (rc != 0)
		return zones__mdb_err(rc);
	if (!zones__zone_decode(&v, &it->zone, &it->soa, NULL))
		return SP_ESTORE;
	rc = mdb_cursor_open(it->txn, db->nodes, &it->cur);
	if (rc != 0)
		return zones__mdb_err(rc);
	uint32_t id = it->zone.id;
	it->prefix[0] = (uint8_t)(id >> 24);
	it->prefix[1] = (uint8_t)(id >> 16);
	it->prefix[2] = (uint8_t)(id >> 8);
	it->prefix[3] = (uint8_t)id;
	return 0;
}

void
zones_iter_free(struct zones_iter *it)
{
	if (it == NULL)
		return;
	if (it->cur != NULL)
		mdb_cursor_close(it->cur);
	if (it->own_txn && it->txn != NULL)
		mdb_txn_abort(it->txn);
	free(it);
}

void
zones_iter_zone(const struct zones_iter *it, struct zones_zone *zone, struct zones_rrset *soa)
{
	if (zone != NULL)
		*zone = it->zone;
	if (soa != NULL)
		*soa = it->soa;
}

int
zones_iter_next(struct zones_iter *it, uint8_t *owner, struct zones_node *node)
{
	MDB_val k, v;
	int rc;

	if (it->done)
		return 0;
	if (!it->started) {
		k = (MDB_val){sizeof(it->prefix), it->prefix};
		rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
		it->started = true;
	} else {
		rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size < ZONES_ID_LEN ||
	                                       memcmp(k.mv_data, it->prefix, ZONES_ID_LEN) != 0))) {
		it->done = true;
		return 0;
	}
	if (rc != 0)
		return zones__mdb_err(rc);
	const uint8_t *key = (const uint8_t *)k.mv_data + ZONES_ID_LEN;
	size_t keylen = k.mv_size - ZONES_ID_LEN;
	if (dname_from_key(key, keylen, owner) == 0 || !zones__node_decode(&v, node))
		return SP_ESTORE;
	return 1;
}
