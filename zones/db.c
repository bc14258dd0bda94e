/* db.c - the LMDB environment of the zone store: opening with the schema check, error
 * translation, per-thread snapshots, and the zone records (list, info, delete).
 *
 * zones_db_open/close run at start-up; snapshots are begun and ended by each worker
 * thread on the answer path (no allocation there: the read transaction is created once
 * and renewed); list/info/delete run in tools and the reload thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "zones/internal.h"

int
zones__mdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_MAP_FULL:
		return SP_ESTOREFULL;
	case MDB_NOTFOUND:
		return SP_ENOZONE;
	case MDB_VERSION_MISMATCH:
	case MDB_INVALID:
		return SP_ESCHEMA;
	case MDB_READERS_FULL:
	case MDB_TXN_FULL:
		return SP_EBUSY;
	}
	if (rc > 0)
		return -rc;          /* LMDB passes errno values through */
	return SP_ESTORE;
}

size_t
zones__zone_key(const uint8_t *apex, uint8_t *key)
{
	key[0] = ZONES_ZKEY_PREFIX;
	return 1 + dname_key(apex, key + 1);
}

bool
zones__zone_decode(const MDB_val *v, struct zones_zone *zone, struct zones_rrset *soa,
                   struct disk_zone *hdr)
{
	struct disk_zone h;
	if (v->mv_size < sizeof(h))
		return false;
	memcpy(&h, v->mv_data, sizeof(h));
	if (sizeof(h) + (size_t)h.apex_len + h.soa_len + h.source_len > v->mv_size ||
	    h.soa_len < 2)
		return false;
	const uint8_t *p = (const uint8_t *)v->mv_data + sizeof(h);
	if (zone != NULL) {
		zone->id = h.id;
		zone->serial = h.serial;
		zone->apex = p;
		zone->apex_labels = h.apex_labels;
	}
	if (soa != NULL) {
		*soa = (struct zones_rrset){
			.type = 6, .ttl = h.soa_ttl, .count = 1, .len = h.soa_len,
			.rdata = p + h.apex_len,
		};
	}
	if (hdr != NULL)
		*hdr = h;
	return true;
}

bool
zones__node_decode(const MDB_val *v, struct zones_node *node)
{
	struct disk_node h;
	if (v->mv_size < sizeof(h))
		return false;
	memcpy(&h, v->mv_data, sizeof(h));
	node->flags = h.flags;
	node->redirect_labels = h.redirect_labels;
	node->nrrsets = h.nrrsets;
	node->data = (const uint8_t *)v->mv_data + sizeof(h);
	node->len = v->mv_size - sizeof(h);
	return true;
}

static int
check_schema(struct zones_db *db, MDB_txn *txn, const char *dir)
{
	MDB_val k = {6, (void *)"schema"}, v;
	uint32_t version = ZONES_SCHEMA_VERSION;
	int rc = mdb_get(txn, db->meta, &k, &v);

	if (rc == MDB_NOTFOUND) {
		if (db->rdonly) {
			log_err("%s: not a Signpost zone database (no schema version)", dir);
			return SP_ESCHEMA;
		}
		v = (MDB_val){sizeof(version), &version};
		return zones__mdb_err(mdb_put(txn, db->meta, &k, &v, 0));
	}
	if (rc != 0)
		return zones__mdb_err(rc);
	if (v.mv_size == sizeof(version))
		memcpy(&version, v.mv_data, sizeof(version));
	else
		version = 0;
	if (version != ZONES_SCHEMA_VERSION) {
		log_err("%s: zone database has schema version %u, this build reads version %u; "
		        "recompile the zones into a new database", dir, version, ZONES_SCHEMA_VERSION);
		return SP_ESCHEMA;
	}
	return 0;
}

static int
open_dbis(struct zones_db *db, const char *dir)
{
	MDB_txn *txn = NULL;
	unsigned create = db->rdonly ? 0 : MDB_CREATE;
	int rc = mdb_txn_begin(db->env, NULL, db->rdonly ? MDB_RDONLY : 0, &txn);
	if (rc != 0)
		return zones__mdb_err(rc);
	rc = mdb_dbi_open(txn, "meta", create, &db->meta);
	if (rc == MDB_NOTFOUND) {
		log_err("%s: not a Signpost zone database", dir);
		rc = SP_ESCHEMA;
		goto fail;
	}
	if (rc == 0)
		rc = mdb_dbi_open(txn, "zones", create, &db->zones);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "nodes", create, &db->nodes);
	if (rc == 0) {
		/* Added without a schema bump (docs/lmdb-schema.md "nsec3"): a read-only
		 * open of a database written before it has no NSEC3 index, and serves NSEC3
		 * zones without NSEC3 denial until they are recompiled. */
		int r3 = mdb_dbi_open(txn, "nsec3", create, &db->nsec3);
		db->has_nsec3 = r3 == 0;
		if (r3 != 0 && r3 != MDB_NOTFOUND)
			rc = r3;
	}
	rc = zones__mdb_err(rc);
	if (rc == 0)
		rc = check_schema(db, txn, dir);
	if (rc != 0)
		goto fail;
	return zones__mdb_err(mdb_txn_commit(txn));
fail:
	mdb_txn_abort(txn);
	return rc;
}

int
zones_db_open(const char *dir, unsigned flags, size_t mapsize, struct zones_db **out)
{
	struct zones_db *db = calloc(1, sizeof(*db));
	int rc;

	*out = NULL;
	if (db == NULL)
		return -ENOMEM;
	db->rdonly = flags & ZONES_DB_RDONLY;
	if (!db->rdonly && mkdir(dir, 0755) != 0 && errno != EEXIST) {
		rc = -errno;
		log_err("%s: cannot create the zone database directory: %s", dir, strerror(errno));
		goto fail;
	}
	rc = mdb_env_create(&db->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(db->env, 5);
	if (rc == 0)
		rc = mdb_env_set_mapsize(db->env, mapsize ? mapsize : ZONES_DEFAULT_MAPSIZE);
	/* MDB_NOTLS: a worker's read transaction is reset and renewed per batch and may move
	 * between threads; sync stays on, so a crash mid-compile keeps the old zone. */
	if (rc == 0)
		rc = mdb_env_open(db->env, dir, MDB_NOTLS | (db->rdonly ? MDB_RDONLY : 0), 0644);
	if (rc != 0) {
		log_err("%s: cannot open the zone database: %s", dir, mdb_strerror(rc));
		rc = zones__mdb_err(rc);
		goto fail;
	}
	rc = open_dbis(db, dir);
	if (rc != 0)
		goto fail;
	*out = db;
	return 0;
fail:
	zones_db_close(db);
	return rc;
}

void
zones_db_close(struct zones_db *db)
{
	if (db == NULL)
		return;
	if (db->env != NULL)
		mdb_env_close(db->env);
	free(db);
}

void
zones__settle(struct zones_db *db)
{
	/* LMDB keeps the previous committed version intact (the second meta page), so the
	 * pages a transaction frees are reused only after a later commit. Without this small
	 * commit the next replace of a big zone could reuse nothing that the last one freed,
	 * and the file would hold three versions of the zone instead of two. */
	MDB_txn *txn;
	int64_t now = (int64_t)time(NULL);
	if (mdb_txn_begin(db->env, NULL, 0, &txn) != 0)
		return;
	MDB_val k = {7, (void *)"settled"}, v = {sizeof(now), &now};
	if (mdb_put(txn, db->meta, &k, &v, 0) != 0) {
		mdb_txn_abort(txn);
		return;
	}
	(void)mdb_txn_commit(txn);
}

/* ---- snapshots ---------------------------------------------------------------------- */

struct zones_snapshot *
zones_snapshot_new(struct zones_db *db)
{
	struct zones_snapshot *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->db = db;
	if (mdb_txn_begin(db->env, NULL, MDB_RDONLY, &s->txn) != 0)
		goto fail;
	if (mdb_cursor_open(s->txn, db->zones, &s->zcur) != 0 ||
	    mdb_cursor_open(s->txn, db->nodes, &s->ncur) != 0 ||
	    (db->has_nsec3 && mdb_cursor_open(s->txn, db->nsec3, &s->n3cur) != 0))
		goto fail;
	mdb_txn_reset(s->txn);
	return s;
fail:
	zones_snapshot_free(s);
	return NULL;
}

void
zones_snapshot_free(struct zones_snapshot *s)
{
	if (s == NULL)
		return;
	if (s->zcur != NULL)
		mdb_cursor_close(s->zcur);
	if (s->ncur != NULL)
		mdb_cursor_close(s->ncur);
	if (s->n3cur != NULL)
		mdb_cursor_close(s->n3cur);
	if (s->txn != NULL)
		mdb_txn_abort(s->txn);
	free(s);
}

int
zones_snapshot_begin(struct zones_snapshot *s)
{
	if (s->active)
		zones_snapshot_end(s);
	if (s->parked) {
		/* The newest version is still the parked one: resume it. A commit right
		 * after this check is seen by the next batch, as if this one had begun
		 * a moment earlier. */
		MDB_envinfo info;
		s->parked = false;
		if (mdb_env_info(s->db->env, &info) == 0 &&
		    info.me_last_txnid == mdb_txn_id(s->txn)) {
			s->active = true;
			return 0;
		}
		mdb_txn_reset(s->txn);
	}
	s->zc_ok = s->ap_ok = s->ce_ok = false;
	int rc = mdb_txn_renew(s->txn);
	if (rc == 0)
		rc = mdb_cursor_renew(s->txn, s->zcur);
	if (rc == 0)
		rc = mdb_cursor_renew(s->txn, s->ncur);
	if (rc == 0 && s->n3cur != NULL)
		rc = mdb_cursor_renew(s->txn, s->n3cur);
	if (rc != 0) {
		mdb_txn_reset(s->txn);
		return zones__mdb_err(rc);
	}
	s->active = true;
	return 0;
}

void
zones_snapshot_end(struct zones_snapshot *s)
{
	if (!s->active && !s->parked)
		return;
	mdb_txn_reset(s->txn);
	s->active = s->parked = s->zc_ok = s->ap_ok = s->ce_ok = false;
}

void
zones_snapshot_park(struct zones_snapshot *s)
{
	if (!s->active)
		return;
	s->active = false;
	s->parked = true;
}

void
zones_snapshot_release(struct zones_snapshot *s)
{
	if (s->parked)
		zones_snapshot_end(s);
}

/* ---- zone records ------------------------------------------------------------------- */

static void
info_fill(const MDB_val *v, struct zones_info *info)
{
	struct zones_zone z;
	struct disk_zone h;
	memset(info, 0, sizeof(*info));
	if (!zones__zone_decode(v, &z, NULL, &h))
		return;
	dname_to_str(z.apex, info->name, sizeof(info->name));
	info->serial = h.serial;
	info->id = h.id;
	info->records = h.records;
	info->compiled_at = h.compiled_at;
	info->source_mtime_ns = h.source_mtime_ns;
	info->source_size = h.source_size;
	const char *src = (const char *)v->mv_data + sizeof(h) + h.apex_len + h.soa_len;
	size_t n = h.source_len < sizeof(info->source) - 1 ? h.source_len : sizeof(info->source) - 1;
	memcpy(info->source, src, n);
	info->source[n] = 0;
}

static int
origin_key(const char *origin, uint8_t *key, size_t *keylen)
{
	uint8_t name[DNAME_MAXLEN];
	if (dname_from_str(origin, name) == 0)
		return SP_EPARSE;
	*keylen = zones__zone_key(name, key);
	return 0;
}

int
zones_list(struct zones_db *db, zones_list_fn *fn, void *ctx)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	struct zones_info *info = malloc(sizeof(*info));
	int rc = info ? mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn) : ENOMEM;

	if (rc == 0)
		rc = mdb_cursor_open(txn, db->zones, &cur);
	if (rc != 0) {
		rc = zones__mdb_err(rc);
		goto out;
	}
	for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
		info_fill(&v, info);
		if ((rc = fn(ctx, info)) != 0)
			break;
	}
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	free(info);
	return rc;
}

int
zones_info_get(struct zones_db *db, const char *origin, struct zones_info *info)
{
	uint8_t key[DNAME_KEY_MAXLEN + 1];
	size_t kl;
	MDB_txn *txn = NULL;
	int rc = origin_key(origin, key, &kl);
	if (rc != 0)
		return rc;
	rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return zones__mdb_err(rc);
	MDB_val k = {kl, key}, v;
	rc = mdb_get(txn, db->zones, &k, &v);
	if (rc == 0)
		info_fill(&v, info);
	mdb_txn_abort(txn);
	return zones__mdb_err(rc);
}

/* Deletes every node of zone id (inside the caller's write transaction). */
int
zones__delete_nodes(MDB_txn *txn, MDB_dbi nodes, uint32_t id)
{
	MDB_cursor *cur;
	uint8_t prefix[ZONES_ID_LEN] = {id >> 24, id >> 16, id >> 8, id};
	MDB_val k = {sizeof(prefix), prefix}, v;
	int rc = mdb_cursor_open(txn, nodes, &cur);
	if (rc != 0)
		return zones__mdb_err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size >= sizeof(prefix) &&
	       memcmp(k.mv_data, prefix, sizeof(prefix)) == 0) {
		rc = mdb_cursor_del(cur, 0);
		k = (MDB_val){sizeof(prefix), prefix};
		if (rc == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : zones__mdb_err(rc);
}

/* The NSEC3 index keys of a version are its id then the hash: the same range delete. */
int
zones__delete_nsec3(struct zones_db *db, MDB_txn *txn, uint32_t id)
{
	return db->has_nsec3 ? zones__delete_nodes(txn, db->nsec3, id) : 0;
}

int
zones_delete(struct zones_db *db, const char *origin)
{
	uint8_t key[DNAME_KEY_MAXLEN + 1];
	size_t kl;
	MDB_txn *txn = NULL;
	struct disk_zone h;
	int rc = origin_key(origin, key, &kl);
	if (rc != 0)
		return rc;
	if (db->rdonly)
		return -EROFS;
	rc = mdb_txn_begin(db->env, NULL, 0, &txn);
	if (rc != 0)
		return zones__mdb_err(rc);
	MDB_val k = {kl, key}, v;
	rc = mdb_get(txn, db->zones, &k, &v);
	if (rc != 0) {
		rc = zones__mdb_err(rc);
		goto fail;
	}
	if (!zones__zone_decode(&v, NULL, NULL, &h)) {
		rc = SP_ESTORE;
		goto fail;
	}
	rc = zones__delete_nodes(txn, db->nodes, h.id);
	if (rc == 0)
		rc = zones__delete_nsec3(db, txn, h.id);
	if (rc == 0)
		rc = zones__mdb_err(mdb_del(txn, db->zones, &k, NULL));
	if (rc != 0)
		goto fail;
	rc = zones__mdb_err(mdb_txn_commit(txn));
	if (rc == 0)
		zones__settle(db);
	return rc;
fail:
	mdb_txn_abort(txn);
	return rc;
}
