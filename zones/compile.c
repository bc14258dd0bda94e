/* compile.c - the write side of the zone store: check a master file, and replace a zone
 * in the database in one LMDB write transaction (docs/lmdb-schema.md).
 *
 * A compile gives the zone a new id, appends its nodes in key order (MDB_APPEND: dense
 * pages, no B-tree splits in the middle), points the zone record at the new id and
 * deletes the old id's nodes, then commits: readers see the old zone or the new one. An
 * optional hook (zones_compile_opts.on_write) writes in the same transaction while both
 * versions are there: the IXFR journal step (zones/journal.c).
 * Runs in the signpost-zone tool or the daemon's reload thread; LMDB serialises writers
 * across processes. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <ldns/ldns.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "zones/internal.h"

static int
load(const char *origin, const char *path, const struct zones_compile_opts *o,
     struct zones_report *rep, struct zonefile **zf)
{
	int rc = zones__zonefile_read(origin, path, o, rep, zf);
	if (rc == 0)
		rc = zones__zonefile_check(*zf);
	return rc;
}

int
zones_check_file(const char *origin, const char *path, const struct zones_compile_opts *o,
                 struct zones_report *rep)
{
	struct zones_report local = {0};
	struct zonefile *zf = NULL;
	int rc = load(origin, path, o, rep ? rep : &local, &zf);
	zones__zonefile_free(zf);
	return rc;
}

/* Octets of the node value for n. */
size_t
zones__node_size(const struct zonefile *zf, const struct cnode *n)
{
	size_t size = sizeof(struct disk_node);
	for (size_t k = n->first; k < n->first + n->count; k++) {
		const struct zrec *r = zf->recs[k];
		if (k == n->first || r->type != zf->recs[k - 1]->type ||
		    r->covers != zf->recs[k - 1]->covers)
			size += sizeof(struct disk_rrset);
		if (!r->dup)
			size += 2u + r->rdlen;
	}
	return size;
}

void
zones__node_write(const struct zonefile *zf, const struct cnode *n, uint8_t *out)
{
	struct disk_node h = {.flags = n->flags, .redirect_labels = n->redirect,
	                      .nrrsets = n->nrrsets};
	memcpy(out, &h, sizeof(h));
	uint8_t *p = out + sizeof(h);
	size_t k = n->first, end = n->first + n->count;
	while (k < end) {
		const struct zrec *first = zf->recs[k];
		struct disk_rrset rs = {.type = first->type, .covers = first->covers,
		                        .ttl = first->ttl};
		uint8_t *hdr = p;
		p += sizeof(rs);
		for (; k < end && zf->recs[k]->type == first->type &&
		       zf->recs[k]->covers == first->covers; k++) {
			const struct zrec *r = zf->recs[k];
			if (r->dup)
				continue;
			p[0] = (uint8_t)(r->rdlen >> 8);
			p[1] = (uint8_t)r->rdlen;
			memcpy(p + 2, zrec_rdata(r), r->rdlen);
			p += 2u + r->rdlen;
			rs.count++;
			rs.len = (uint16_t)(rs.len + 2u + r->rdlen);
		}
		memcpy(hdr, &rs, sizeof(rs));
	}
}

static int
put_nodes(MDB_txn *txn, MDB_dbi dbi, const struct zonefile *zf, uint32_t id)
{
	MDB_cursor *cur;
	uint8_t key[ZONES_MAXKEY];
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != 0)
		return zones__mdb_err(rc);
	key[0] = (uint8_t)(id >> 24);
	key[1] = (uint8_t)(id >> 16);
	key[2] = (uint8_t)(id >> 8);
	key[3] = (uint8_t)id;
	for (size_t i = 0; i < zf->nnodes && rc == 0; i++) {
		const struct cnode *n = &zf->nodes[i];
		memcpy(key + ZONES_ID_LEN, n->key, n->keylen);
		MDB_val k = {ZONES_ID_LEN + n->keylen, key};
		MDB_val v = {zones__node_size(zf, n), NULL};
		/* Keys arrive in order and the id is above every id in the DBI. */
		rc = mdb_cursor_put(cur, &k, &v, MDB_APPEND | MDB_RESERVE);
		if (rc == 0)
			zones__node_write(zf, n, v.mv_data);
	}
	mdb_cursor_close(cur);
	return zones__mdb_err(rc);
}

uint32_t
zones__soa_serial(const uint8_t *rd, size_t len)
{
	size_t p = 0;
	for (int names = 0; names < 2; names++) {
		while (p < len && rd[p] != 0)
			p += rd[p] + 1u;
		p++;
	}
	if (p + 4 > len)
		return 0;
	return (uint32_t)rd[p] << 24 | (uint32_t)rd[p + 1] << 16 | (uint32_t)rd[p + 2] << 8 | rd[p + 3];
}

/* Builds the `zones` record value into a malloc'd buffer. */
static void *
zone_record(const struct zonefile *zf, const char *path, uint32_t id, size_t *len)
{
	const struct cnode *apex = &zf->nodes[0];
	const struct zrec *soa = NULL;
	char real[PATH_MAX];
	struct stat st = {0};

	for (size_t k = apex->first; k < apex->first + apex->count; k++) {
		if (zf->recs[k]->type == LDNS_RR_TYPE_SOA && !zf->recs[k]->dup) {
			soa = zf->recs[k];
			break;
		}
	}
	if (realpath(path, real) == NULL)
		snprintf(real, sizeof(real), "%s", path);
	(void)stat(path, &st);
	size_t apex_len = dname_len(zf->apex), src_len = strlen(real);
	struct disk_zone h = {
		.records = zf->nunique, .compiled_at = (int64_t)time(NULL),
		.source_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
		.source_size = (int64_t)st.st_size, .id = id,
		.serial = zones__soa_serial(zrec_rdata(soa), soa->rdlen), .soa_ttl = soa->ttl,
		.soa_len = (uint16_t)(2u + soa->rdlen), .source_len = (uint16_t)src_len,
		.apex_len = (uint8_t)apex_len, .apex_labels = (uint8_t)zf->apex_labels,
	};
	*len = sizeof(h) + apex_len + h.soa_len + src_len;
	uint8_t *buf = malloc(*len);
	if (buf == NULL)
		return NULL;
	uint8_t *p = buf;
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	memcpy(p, zf->apex, apex_len);
	p += apex_len;
	p[0] = (uint8_t)(soa->rdlen >> 8);
	p[1] = (uint8_t)soa->rdlen;
	memcpy(p + 2, zrec_rdata(soa), soa->rdlen);
	p += h.soa_len;
	memcpy(p, real, src_len);
	return buf;
}

static int
meta_u32(MDB_txn *txn, MDB_dbi meta, const char *name, uint32_t *val)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc = mdb_get(txn, meta, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return zones__mdb_err(rc);
	if (v.mv_size != sizeof(*val))
		return SP_ESTORE;
	memcpy(val, v.mv_data, sizeof(*val));
	return 0;
}

/* Replaces the zone in one write transaction; nothing is visible until the commit, and
 * an abort (or a crash) leaves the previous version as it was. */
static int
write_zone(struct zones_db *db, const struct zonefile *zf, const char *path,
           const struct zones_compile_opts *o)
{
	MDB_txn *txn = NULL;
	uint8_t zkey[DNAME_KEY_MAXLEN + 1];
	size_t zklen = zones__zone_key(zf->apex, zkey), reclen = 0;
	uint32_t next = 1;
	void *rec = NULL;
	int rc = mdb_txn_begin(db->env, NULL, 0, &txn);

	if (rc != 0)
		return zones__mdb_err(rc);
	rc = meta_u32(txn, db->meta, "next-id", &next);
	if (rc == 0 && (next == 0 || next == UINT32_MAX))
		rc = SP_ESTORE;          /* four billion compiles: the ids are exhausted */
	if (rc == 0)
		rc = put_nodes(txn, db->nodes, zf, next);
	if (rc == 0 && db->has_nsec3)
		rc = zones__nsec3_index_put(txn, db->nsec3, zf, next);
	MDB_val k = {zklen, zkey}, v;
	uint32_t old_id = 0;            /* ids start at 1: 0 is no previous version */
	if (rc == 0) {
		int g = mdb_get(txn, db->zones, &k, &v);
		struct disk_zone old;
		if (g == 0 && zones__zone_decode(&v, NULL, NULL, &old))
			old_id = old.id;
		else if (g != 0 && g != MDB_NOTFOUND)
			rc = zones__mdb_err(g);
	}
	/* Both versions are readable here; what the hook writes (the IXFR journal step)
	 * commits with the zone or not at all. */
	if (rc == 0 && o != NULL && o->on_write != NULL)
		rc = o->on_write(o->on_write_ctx, db, txn, zf->apex, old_id, next);
	if (rc == 0 && old_id != 0) {
		rc = zones__delete_nodes(txn, db->nodes, old_id);
		if (rc == 0)
			rc = zones__delete_nsec3(db, txn, old_id);
	}
	if (rc == 0) {
		rec = zone_record(zf, path, next, &reclen);
		rc = rec ? 0 : -ENOMEM;
	}
	if (rc == 0) {
		v = (MDB_val){reclen, rec};
		rc = zones__mdb_err(mdb_put(txn, db->zones, &k, &v, 0));
	}
	if (rc == 0) {
		uint32_t after = next + 1;
		MDB_val mk = {7, (void *)"next-id"}, mv = {sizeof(after), &after};
		rc = zones__mdb_err(mdb_put(txn, db->meta, &mk, &mv, 0));
	}
	free(rec);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	rc = zones__mdb_err(mdb_txn_commit(txn));
	if (rc == 0)
		zones__settle(db);
	return rc;
}

int
zones_compile_file(struct zones_db *db, const char *origin, const char *path,
                   const struct zones_compile_opts *o, struct zones_report *rep)
{
	struct zones_report local = {0};
	struct zonefile *zf = NULL;

	if (db->rdonly)
		return -EROFS;
	int rc = load(origin, path, o, rep ? rep : &local, &zf);
	if (rc == 0)
		rc = write_zone(db, zf, path, o);
	if (rc == SP_ESTOREFULL)
		log_err("%s: the zone database map is full; raise the map size", path);
	zones__zonefile_free(zf);
	return rc;
}
