/* journal.c - the IXFR journal (RFC 1995): when the daemon recompiles a zone, the
 * difference between the version it replaced and the new one is stored as one step in
 * the `xfr` DBI, bounded per zone by a number of steps and a size; outgoing IXFR
 * answers stream the steps from a client's serial to the current one.
 *
 * Writer: the daemon's main thread, the one writer, inside the compile's own write
 * transaction (zones_journal_hook(), zones_compile_opts.on_write: the old version's
 * nodes are still there, and the zone never commits without its step); or, for
 * zones_journal_add(), right after a compile from a read transaction opened before it. Readers (zones_journal_open...): a worker's
 * transfer, inside the same read transaction as the zone's nodes, so journal and zone
 * always agree. Layout: docs/lmdb-schema.md, "xfr". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "zones/xfr_internal.h"

#define TYPE_SOA 6

/* Value of a journal step: this header, then the records in IXFR order: old SOA,
 * deleted records, new SOA, added records. Each record: owner (wire, lower case),
 * type (u16), TTL (u32), RDLENGTH (u16), RDATA; integers in network order. */
struct disk_step {
	uint32_t from;
	uint32_t to;
	uint32_t records;
	uint32_t reserved;
};
static_assert(sizeof(struct disk_step) == 16, "journal step layout");

/* The handle of the `xfr` DBI: one zone database per process (the daemon's). */
static MDB_env *xfr_env;
static MDB_dbi xfr_dbi;
static bool xfr_dbi_ok;

bool
zones__xfr_dbi(struct zones_db *db, MDB_dbi *dbi)
{
	if (!xfr_dbi_ok || xfr_env != db->env)
		return false;
	*dbi = xfr_dbi;
	return true;
}

int
zones_journal_init(struct zones_db *db)
{
	MDB_txn *txn;
	if (xfr_dbi_ok && xfr_env == db->env)
		return 0;
	if (db->rdonly)
		return -EROFS;
	int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
	if (rc != 0)
		return zones__mdb_err(rc);
	rc = mdb_dbi_open(txn, "xfr", MDB_CREATE, &xfr_dbi);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return zones__mdb_err(rc);
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0)
		return zones__mdb_err(rc);
	xfr_env = db->env;
	xfr_dbi_ok = true;
	return 0;
}

/* ---- keys ------------------------------------------------------------------------------- */

/* 'j', the length of the apex key, the apex key; then a u32 big-endian step number. */
static size_t
zone_prefix(const uint8_t *apex, uint8_t *out)
{
	uint8_t key[DNAME_KEY_MAXLEN];
	size_t kl = dname_key(apex, key);
	if (kl > ZONES_MAXKEY - 6)
		return 0;       /* too long for an LMDB key with the step number: no journal */
	out[0] = XFR_KEY_JOURNAL;
	out[1] = (uint8_t)kl;
	memcpy(out + 2, key, kl);
	return 2 + kl;
}

static bool
has_prefix(const MDB_val *k, const uint8_t *prefix, size_t plen)
{
	return k->mv_size == plen + 4 && memcmp(k->mv_data, prefix, plen) == 0;
}

static uint32_t
step_number(const MDB_val *k)
{
	const uint8_t *p = (const uint8_t *)k->mv_data + k->mv_size - 4;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- building a step ----------------------------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t len, cap;
	uint32_t records;
	bool oom;
};

static void
buf_put(struct buf *b, const void *data, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void
put_record(struct buf *b, const uint8_t *owner, uint16_t type, uint32_t ttl, const uint8_t *rd,
           uint16_t rdlen)
{
	uint8_t h[8] = {(uint8_t)(type >> 8), (uint8_t)type, (uint8_t)(ttl >> 24),
	                (uint8_t)(ttl >> 16), (uint8_t)(ttl >> 8), (uint8_t)ttl,
	                (uint8_t)(rdlen >> 8), (uint8_t)rdlen};
	buf_put(b, owner, dname_len(owner));
	buf_put(b, h, sizeof(h));
	buf_put(b, rd, rdlen);
	b->records++;
}

static bool
rrset_has(const struct zones_rrset *set, const uint8_t *rd, uint16_t rdlen)
{
	size_t off = 0;
	for (uint16_t i = 0; i < set->count; i++) {
		const uint8_t *p = set->rdata + off;
		uint16_t l = (uint16_t)(p[0] << 8 | p[1]);
		if (l == rdlen && memcmp(p + 2, rd, rdlen) == 0)
			return true;
		off += 2u + l;
	}
	return false;
}

/* Records of a's RRsets that b lacks (all of an RRset whose TTL changed) go to out. */
static void
diff_node(struct buf *out, const uint8_t *owner, const struct zones_node *a,
          const struct zones_node *b)
{
	struct zones_rrset rr, other;
	size_t pos = 0;
	if (a == NULL)
		return;
	while (zones_node_next(a, &pos, &rr)) {
		if (rr.type == TYPE_SOA)
			continue;       /* the step's SOAs stand for it */
		bool have = b != NULL && zones_node_rrset(b, rr.type, rr.covers, &other) &&
		            other.ttl == rr.ttl;
		size_t off = 0;
		for (uint16_t i = 0; i < rr.count; i++) {
			const uint8_t *p = rr.rdata + off;
			uint16_t l = (uint16_t)(p[0] << 8 | p[1]);
			if (!have || !rrset_has(&other, p + 2, l))
				put_record(out, owner, rr.type, rr.ttl, p + 2, l);
			off += 2u + l;
		}
	}
}

struct walk {
	MDB_cursor *cur;
	uint8_t prefix[ZONES_ID_LEN];
	MDB_val k, v;
	bool end;
};

static int
walk_step(struct walk *w, bool first)
{
	int rc;
	if (first) {
		w->k = (MDB_val){ZONES_ID_LEN, w->prefix};
		rc = mdb_cursor_get(w->cur, &w->k, &w->v, MDB_SET_RANGE);
	} else {
		rc = mdb_cursor_get(w->cur, &w->k, &w->v, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND || (rc == 0 && (w->k.mv_size < ZONES_ID_LEN ||
	                                       memcmp(w->k.mv_data, w->prefix, ZONES_ID_LEN) != 0))) {
		w->end = true;
		return 0;
	}
	return rc == 0 ? 0 : zones__mdb_err(rc);
}

static int
key_cmp(const MDB_val *a, const MDB_val *b)
{
	size_t la = a->mv_size - ZONES_ID_LEN, lb = b->mv_size - ZONES_ID_LEN;
	int c = memcmp((const uint8_t *)a->mv_data + ZONES_ID_LEN,
	               (const uint8_t *)b->mv_data + ZONES_ID_LEN, la < lb ? la : lb);
	if (c == 0)
		c = (la > lb) - (la < lb);
	return c;
}

static void
set_prefix(uint8_t *p, uint32_t id)
{
	p[0] = (uint8_t)(id >> 24);
	p[1] = (uint8_t)(id >> 16);
	p[2] = (uint8_t)(id >> 8);
	p[3] = (uint8_t)id;
}

/* Walks both versions in canonical order (a merge of two sorted key ranges). */
static int
diff_versions(MDB_cursor *oc, uint32_t oid, MDB_cursor *nc, uint32_t nid, struct buf *del,
              struct buf *add)
{
	struct walk o = {.cur = oc}, n = {.cur = nc};
	uint8_t owner[DNAME_MAXLEN];
	set_prefix(o.prefix, oid);
	set_prefix(n.prefix, nid);
	int rc = walk_step(&o, true);
	if (rc == 0)
		rc = walk_step(&n, true);
	while (rc == 0 && (!o.end || !n.end)) {
		int c = o.end ? 1 : n.end ? -1 : key_cmp(&o.k, &n.k);
		struct zones_node on, nn;
		const MDB_val *k = c <= 0 ? &o.k : &n.k;
		if (dname_from_key((const uint8_t *)k->mv_data + ZONES_ID_LEN,
		                   k->mv_size - ZONES_ID_LEN, owner) == 0)
			return SP_ESTORE;
		bool ho = c <= 0 && zones__node_decode(&o.v, &on);
		bool hn = c >= 0 && zones__node_decode(&n.v, &nn);
		diff_node(del, owner, ho ? &on : NULL, hn ? &nn : NULL);
		diff_node(add, owner, hn ? &nn : NULL, ho ? &on : NULL);
		if (c <= 0)
			rc = walk_step(&o, false);
		if (rc == 0 && c >= 0)
			rc = walk_step(&n, false);
	}
	return rc;
}

/* ---- writing a step -------------------------------------------------------------------------- */

static int
clear_zone(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t plen)
{
	MDB_cursor *cur;
	MDB_val k = {plen, (void *)prefix}, v;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != 0)
		return zones__mdb_err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && has_prefix(&k, prefix, plen)) {
		rc = mdb_cursor_del(cur, 0);
		k = (MDB_val){plen, (void *)prefix};
		if (rc == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : zones__mdb_err(rc);
}

/* Appends the step and trims the zone's journal to max_versions steps and max_size
 * octets, oldest first. */
static int
store_step(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t plen, const struct buf *step,
           uint32_t from, unsigned max_versions, uint64_t max_size)
{
	MDB_cursor *cur;
	MDB_val k = {plen, (void *)prefix}, v;
	unsigned count = 0;
	uint64_t size = 0;
	uint32_t last = 0, last_to = 0;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != 0)
		return zones__mdb_err(rc);
	for (int op = MDB_SET_RANGE; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0; op = MDB_NEXT) {
		if (!has_prefix(&k, prefix, plen))
			break;
		struct disk_step h;
		if (v.mv_size < sizeof(h))
			break;
		memcpy(&h, v.mv_data, sizeof(h));
		count++;
		size += v.mv_size;
		last = step_number(&k);
		last_to = h.to;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return zones__mdb_err(rc);
	if (count > 0 && last_to != from) {
		/* The chain is broken (a version the daemon did not see, e.g. compiled by
		 * the tool): older steps lead nowhere now. */
		rc = clear_zone(txn, dbi, prefix, plen);
		if (rc != 0)
			return rc;
		count = 0;
		size = 0;
	}
	uint8_t key[ZONES_MAXKEY + 1];
	memcpy(key, prefix, plen);
	uint32_t seq = last + 1;
	key[plen] = (uint8_t)(seq >> 24);
	key[plen + 1] = (uint8_t)(seq >> 16);
	key[plen + 2] = (uint8_t)(seq >> 8);
	key[plen + 3] = (uint8_t)seq;
	k = (MDB_val){plen + 4, key};
	v = (MDB_val){step->len, step->p};
	rc = mdb_put(txn, dbi, &k, &v, 0);
	if (rc != 0)
		return zones__mdb_err(rc);
	count++;
	size += step->len;
	/* Trim the oldest steps. */
	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != 0)
		return zones__mdb_err(rc);
	k = (MDB_val){plen, (void *)prefix};
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && has_prefix(&k, prefix, plen) && count > 1 &&
	       (count > max_versions || size > max_size)) {
		size -= v.mv_size;
		count--;
		rc = mdb_cursor_del(cur, 0);
		k = (MDB_val){plen, (void *)prefix};
		if (rc == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : zones__mdb_err(rc);
}

/* One side of a step: a version's nodes (a cursor on the nodes DBI), id, serial and SOA. */
struct version {
	MDB_cursor *cur;
	uint32_t id;
	uint32_t serial;
	uint32_t soa_ttl;
	const uint8_t *soa_rd;
	uint16_t soa_rdlen;
};

/* Builds the step from o to n (in o's and n's transactions; every record is copied
 * before anything is written) and stores it in txn. */
static int
journal_step(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t plen,
             const uint8_t *apex, const struct version *o, const struct version *n,
             unsigned max_versions, uint64_t max_size)
{
	struct buf step = {0}, del = {0}, add = {0};
	int rc = diff_versions(o->cur, o->id, n->cur, n->id, &del, &add);
	if (rc == 0) {
		struct disk_step h = {.from = o->serial, .to = n->serial,
		                      .records = del.records + add.records + 2};
		buf_put(&step, &h, sizeof(h));
		put_record(&step, apex, TYPE_SOA, o->soa_ttl, o->soa_rd, o->soa_rdlen);
		buf_put(&step, del.p, del.len);
		put_record(&step, apex, TYPE_SOA, n->soa_ttl, n->soa_rd, n->soa_rdlen);
		buf_put(&step, add.p, add.len);
		if (step.oom || del.oom || add.oom)
			rc = -ENOMEM;
	}
	if (rc == 0 && step.len > max_size)
		rc = clear_zone(txn, dbi, prefix, plen);   /* larger than the whole journal */
	else if (rc == 0)
		rc = store_step(txn, dbi, prefix, plen, &step, o->serial, max_versions, max_size);
	free(step.p);
	free(del.p);
	free(add.p);
	return rc;
}

int
zones_journal_add(struct zones_db *db, struct zones_iter *old, unsigned max_versions,
                  uint64_t max_size)
{
	MDB_dbi dbi;
	MDB_txn *txn = NULL;
	MDB_cursor *nc = NULL;
	uint8_t prefix[ZONES_MAXKEY], zkey[DNAME_KEY_MAXLEN + 1];
	struct zones_zone nz;
	struct zones_rrset nsoa;

	if (!zones__xfr_dbi(db, &dbi))
		return SP_ESTORE;
	size_t plen = zone_prefix(old->zone.apex, prefix);
	if (plen == 0)
		return 0;
	int rc = zones__mdb_err(mdb_txn_begin(db->env, NULL, 0, &txn));
	if (rc != 0)
		return rc;
	MDB_val k = {zones__zone_key(old->zone.apex, zkey), zkey}, v;
	rc = mdb_get(txn, db->zones, &k, &v);
	if (rc != 0 || !zones__zone_decode(&v, &nz, &nsoa, NULL)) {
		/* The zone is gone: so is its journal. */
		rc = clear_zone(txn, dbi, prefix, plen);
		goto commit;
	}
	if (nz.id == old->zone.id)
		goto out;       /* not recompiled */
	if (nz.serial == old->zone.serial || max_versions == 0) {
		/* Same serial, new data (secondaries cannot tell): no step can describe it. */
		rc = clear_zone(txn, dbi, prefix, plen);
		goto commit;
	}
	rc = zones__mdb_err(mdb_cursor_open(txn, db->nodes, &nc));
	if (rc == 0) {
		struct version o = {old->cur, old->zone.id, old->zone.serial, old->soa.ttl,
		                    old->soa.rdata + 2, (uint16_t)(old->soa.len - 2)};
		struct version n = {nc, nz.id, nz.serial, nsoa.ttl, nsoa.rdata + 2,
		                    (uint16_t)(nsoa.len - 2)};
		rc = journal_step(txn, dbi, prefix, plen, old->zone.apex, &o, &n, max_versions,
		                  max_size);
	}
commit:
	if (nc != NULL)
		mdb_cursor_close(nc);
	nc = NULL;
	if (rc == 0) {
		rc = zones__mdb_err(mdb_txn_commit(txn));
		txn = NULL;
	}
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

/* The SOA of version id of the zone apex, read from its apex node in txn. */
static bool
version_soa(MDB_txn *txn, MDB_dbi nodes, const uint8_t *apex, uint32_t id, struct version *ver)
{
	uint8_t key[ZONES_ID_LEN + DNAME_KEY_MAXLEN];
	struct zones_node node;
	struct zones_rrset soa;
	set_prefix(key, id);
	size_t kl = dname_key(apex, key + ZONES_ID_LEN);
	MDB_val k = {ZONES_ID_LEN + kl, key}, v;
	if (mdb_get(txn, nodes, &k, &v) != 0 || !zones__node_decode(&v, &node) ||
	    !zones_node_rrset(&node, TYPE_SOA, 0, &soa) || soa.count != 1 || soa.len < 2)
		return false;
	ver->id = id;
	ver->soa_ttl = soa.ttl;
	ver->soa_rdlen = (uint16_t)(soa.rdata[0] << 8 | soa.rdata[1]);
	if (ver->soa_rdlen + 2u > soa.len)
		return false;
	ver->soa_rd = soa.rdata + 2;
	ver->serial = zones__soa_serial(ver->soa_rd, ver->soa_rdlen);
	return true;
}

int
zones_journal_hook(void *ctx, struct zones_db *db, MDB_txn *txn, const uint8_t *apex,
                   uint32_t old_id, uint32_t new_id)
{
	const struct zones_journal_limits *lim = ctx;
	struct version o = {0}, n = {0};
	uint8_t prefix[ZONES_MAXKEY];
	MDB_dbi dbi;

	if (!zones__xfr_dbi(db, &dbi))
		return 0;               /* no journal in this process: nothing to keep */
	size_t plen = zone_prefix(apex, prefix);
	if (plen == 0)
		return 0;
	if (old_id == 0 || lim == NULL || lim->max_versions == 0 ||
	    !version_soa(txn, db->nodes, apex, old_id, &o) ||
	    !version_soa(txn, db->nodes, apex, new_id, &n) || o.serial == n.serial)
		/* A new zone, no journal wanted, or the same serial with new data
		 * (secondaries cannot tell): no step can describe it. */
		return clear_zone(txn, dbi, prefix, plen);
	int rc = zones__mdb_err(mdb_cursor_open(txn, db->nodes, &o.cur));
	if (rc == 0)
		rc = zones__mdb_err(mdb_cursor_open(txn, db->nodes, &n.cur));
	if (rc == 0)
		rc = journal_step(txn, dbi, prefix, plen, apex, &o, &n, lim->max_versions,
		                  lim->max_size);
	if (o.cur != NULL)
		mdb_cursor_close(o.cur);
	if (n.cur != NULL)
		mdb_cursor_close(n.cur);
	if (rc == -ENOMEM || rc == SP_ESTORE) {
		/* The step could not be built: no journal beats a wrong one, and the zone
		 * itself must not fail for it (IXFR falls back to the whole zone). */
		log_warn("zones: IXFR journal step not kept (%s): IXFR falls back to AXFR",
		         sp_strerror(rc));
		rc = clear_zone(txn, dbi, prefix, plen);
	}
	return rc;
}

/* ---- reading ------------------------------------------------------------------------------- */

struct zones_journal {
	MDB_cursor *cur;
	uint8_t prefix[ZONES_MAXKEY];
	size_t plen;
	const uint8_t *p, *end;
	size_t cur_len;             /* octets of the record peeked at */
};

static void
set_value(struct zones_journal *j, const MDB_val *v)
{
	j->p = (const uint8_t *)v->mv_data + sizeof(struct disk_step);
	j->end = (const uint8_t *)v->mv_data + v->mv_size;
}

int
zones_journal_open(struct zones_iter *it, uint32_t from, struct zones_journal **out)
{
	MDB_dbi dbi;
	MDB_val k, v, start = {0};
	uint8_t startkey[ZONES_MAXKEY + 1];
	uint32_t expect = 0;
	bool found = false;

	*out = NULL;
	if (!zones__xfr_dbi(it->db, &dbi))
		return SP_ENOZONE;
	struct zones_journal *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	j->plen = zone_prefix(it->zone.apex, j->prefix);
	int rc = j->plen == 0 ? MDB_NOTFOUND : mdb_cursor_open(it->txn, dbi, &j->cur);
	/* Find the step from `from`, then check the steps after it chain up to the
	 * version the iterator sees. */
	k = (MDB_val){j->plen, j->prefix};
	for (int op = MDB_SET_RANGE; rc == 0 && (rc = mdb_cursor_get(j->cur, &k, &v, op)) == 0;
	     op = MDB_NEXT) {
		struct disk_step h;
		if (!has_prefix(&k, j->prefix, j->plen) || v.mv_size < sizeof(h))
			break;
		memcpy(&h, v.mv_data, sizeof(h));
		if (!found && h.from == from) {
			found = true;
			memcpy(startkey, k.mv_data, k.mv_size);
			start = (MDB_val){k.mv_size, startkey};
		} else if (found && h.from != expect) {
			found = false;      /* a gap: cannot happen once add() clears, but check */
			break;
		}
		expect = h.to;
	}
	if (found && expect == it->zone.serial) {
		rc = mdb_cursor_get(j->cur, &start, &v, MDB_SET_KEY);
		if (rc == 0) {
			set_value(j, &v);
			*out = j;
			return 0;
		}
	}
	zones_journal_close(j);
	return rc != 0 && rc != MDB_NOTFOUND ? zones__mdb_err(rc) : SP_ENOZONE;
}

int
zones_journal_peek(struct zones_journal *j, struct zones_journal_rr *rr)
{
	while (j->p >= j->end) {
		MDB_val k, v;
		int rc = mdb_cursor_get(j->cur, &k, &v, MDB_NEXT);
		if (rc == MDB_NOTFOUND || (rc == 0 && !has_prefix(&k, j->prefix, j->plen)))
			return 0;
		if (rc != 0)
			return zones__mdb_err(rc);
		if (v.mv_size < sizeof(struct disk_step))
			return SP_ESTORE;
		set_value(j, &v);
	}
	const uint8_t *p = j->p;
	size_t left = (size_t)(j->end - p), n = 0;
	while (n < left && p[n] != 0 && n < DNAME_MAXLEN)
		n += p[n] + 1u;
	n++;
	if (n > left || n > DNAME_MAXLEN || left - n < 8)
		return SP_ESTORE;
	rr->owner = p;
	rr->type = (uint16_t)(p[n] << 8 | p[n + 1]);
	rr->ttl = (uint32_t)p[n + 2] << 24 | (uint32_t)p[n + 3] << 16 | (uint32_t)p[n + 4] << 8 |
	          p[n + 5];
	rr->rdlen = (uint16_t)(p[n + 6] << 8 | p[n + 7]);
	if (left - n - 8 < rr->rdlen)
		return SP_ESTORE;
	rr->rdata = p + n + 8;
	j->cur_len = n + 8 + rr->rdlen;
	return 1;
}

void
zones_journal_advance(struct zones_journal *j)
{
	j->p += j->cur_len;
	j->cur_len = 0;
}

void
zones_journal_close(struct zones_journal *j)
{
	if (j == NULL)
		return;
	if (j->cur != NULL)
		mdb_cursor_close(j->cur);
	free(j);
}

/* ---- secondary state ------------------------------------------------------------------------- */

static size_t
state_key(const uint8_t *apex, uint8_t *out)
{
	uint8_t key[DNAME_KEY_MAXLEN];
	size_t kl = dname_key(apex, key);
	if (kl > ZONES_MAXKEY - 1)
		return 0;
	out[0] = XFR_KEY_STATE;
	memcpy(out + 1, key, kl);
	return 1 + kl;
}

int
zones_xfr_state_put(struct zones_db *db, const uint8_t *apex, const void *val, size_t len)
{
	MDB_dbi dbi;
	MDB_txn *txn;
	uint8_t key[ZONES_MAXKEY + 1];
	size_t kl = state_key(apex, key);
	if (!zones__xfr_dbi(db, &dbi) || kl == 0)
		return SP_ESTORE;
	int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
	if (rc != 0)
		return zones__mdb_err(rc);
	MDB_val k = {kl, key}, v = {len, (void *)val};
	rc = mdb_put(txn, dbi, &k, &v, 0);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return zones__mdb_err(rc);
	}
	return zones__mdb_err(mdb_txn_commit(txn));
}

int
zones_xfr_state_get(struct zones_db *db, const uint8_t *apex, void *val, size_t cap, size_t *len)
{
	MDB_dbi dbi;
	MDB_txn *txn;
	uint8_t key[ZONES_MAXKEY + 1];
	size_t kl = state_key(apex, key);
	if (!zones__xfr_dbi(db, &dbi) || kl == 0)
		return SP_ENOZONE;
	int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return zones__mdb_err(rc);
	MDB_val k = {kl, key}, v;
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc == 0) {
		*len = v.mv_size < cap ? v.mv_size : cap;
		memcpy(val, v.mv_data, *len);
	}
	mdb_txn_abort(txn);
	return zones__mdb_err(rc);
}
