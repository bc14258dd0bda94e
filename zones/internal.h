/* internal.h - what the files of zones/ share: the on-disk layout (docs/lmdb-schema.md),
 * the database handle, and the in-memory form of a parsed zone file used by the writer.
 * Nothing here is for other modules. */
#ifndef SP_ZONES_INTERNAL_H
#define SP_ZONES_INTERNAL_H

#include <assert.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/dname.h"
#include "zones/zones.h"

/* ---- on-disk layout (schema version 1) ---------------------------------------------- */

#define ZONES_SCHEMA_VERSION 1u

/* Key prefix of every record in the `zones` DBI. LMDB refuses empty keys, and the key of
 * the root zone's apex is empty, so each zone key starts with this octet. */
#define ZONES_ZKEY_PREFIX '.'
/* Node keys: 4-octet big-endian zone id, then dname_key(owner). */
#define ZONES_ID_LEN 4
/* LMDB's default maximum key size (mdb_env_get_maxkeysize()). */
#define ZONES_MAXKEY 511

/* Integers in the headers below are in host byte order (like LMDB's own pages, the file
 * is not portable between byte orders); RDATA is in network order. Read with memcpy:
 * values in the map are not aligned. */
struct disk_node {
	uint8_t flags;           /* ZONES_NODE_* */
	uint8_t redirect_labels; /* or ZONES_NO_REDIRECT */
	uint16_t nrrsets;
};
static_assert(sizeof(struct disk_node) == 4, "node header layout");

struct disk_rrset {
	uint16_t type;
	uint16_t covers;
	uint32_t ttl;
	uint16_t count;
	uint16_t len;            /* octets of records that follow */
};
static_assert(sizeof(struct disk_rrset) == 12, "rrset header layout");

/* Value of a `zones` record; followed by apex[apex_len], soa[soa_len] (RDLENGTH + RDATA
 * of the one SOA record) and source[source_len] (no NUL). */
struct disk_zone {
	uint64_t records;
	int64_t compiled_at;
	int64_t source_mtime_ns;
	int64_t source_size;
	uint32_t id;
	uint32_t serial;
	uint32_t soa_ttl;
	uint16_t soa_len;
	uint16_t source_len;
	uint8_t apex_len;
	uint8_t apex_labels;
	uint8_t reserved[6];
};
static_assert(sizeof(struct disk_zone) == 56, "zone record layout");

struct zones_db {
	MDB_env *env;
	MDB_dbi meta, zones, nodes;
	MDB_dbi nsec3;           /* the NSEC3 index (zones/nsec3.c); valid when has_nsec3 */
	bool has_nsec3;          /* absent from databases no NSEC3-aware writer opened */
	bool rdonly;
};

struct zones_snapshot {
	struct zones_db *db;
	MDB_txn *txn;
	MDB_cursor *zcur;        /* zones DBI */
	MDB_cursor *ncur;        /* nodes DBI */
	MDB_cursor *n3cur;       /* nsec3 DBI, or NULL when the database has none */
	bool active;
	bool parked;             /* txn open between batches (zones_snapshot_park()) */
	/* The last zone find_zone() found in this transaction (lookup.c): its key and
	 * record, and the next key of the zones DBI (NULL: none), all in the map. */
	bool zc_ok;
	MDB_val zc_key, zc_next;
	struct zones_zone zc_zone;
	struct zones_rrset zc_soa;
	/* The apex node of zone ap_id in this transaction (lookup.c: closest encloser of
	 * most names that do not exist). */
	bool ap_ok;
	uint32_t ap_id;
	MDB_val ap_val;
	/* The last closest encloser below an apex (lookup.c: names under one wildcard or
	 * empty non-terminal share it): its key and value in the map. */
	bool ce_ok;
	MDB_val ce_key, ce_val;
};

/* Translates an LMDB (or errno) result to a Signpost code: the one place that does. */
int zones__mdb_err(int rc);

/* Key of the zone record for apex (wire): ZONES_ZKEY_PREFIX + dname_key(). */
size_t zones__zone_key(const uint8_t *apex, uint8_t *key);
/* Decodes a zone record into zone (pointers into v) and optionally its SOA. */
bool zones__zone_decode(const MDB_val *v, struct zones_zone *zone, struct zones_rrset *soa,
                        struct disk_zone *hdr);
/* Decodes a node value. */
bool zones__node_decode(const MDB_val *v, struct zones_node *node);
/* Commits a tiny write after a replace or delete so that the pages it freed can be
 * reused by the next one (db.c). Failures are harmless and ignored. */
void zones__settle(struct zones_db *db);
/* Deletes every node of zone id inside the caller's write transaction. */
int zones__delete_nodes(MDB_txn *txn, MDB_dbi nodes, uint32_t id);
/* Common leading labels of two canonical keys, as a key length (label-aligned). */
size_t zones__key_common(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* The serial of SOA RDATA rd (len octets, uncompressed names: MNAME and RNAME are
 * skipped), or 0 when rd is too short (compile.c; the compiler and the journal). */
uint32_t zones__soa_serial(const uint8_t *rd, size_t len);

/* ---- the writer's view of a zone file -------------------------------------------------- */

/* One record as parsed, in zonefile.arena; followed by key[keylen] and rdata[rdlen]. */
struct zrec {
	uint32_t line;
	uint32_t ttl;
	uint16_t file;           /* index into zonefile.files */
	uint16_t type;
	uint16_t covers;         /* RRSIG: type covered */
	uint16_t rdlen;
	uint16_t keylen;
	uint8_t labels;
	uint8_t dup;             /* set when merged away as a duplicate */
};

/* A node of the zone being compiled: a run of sorted records, or an empty non-terminal. */
struct cnode {
	const uint8_t *key;
	size_t first, count;     /* indexes into zonefile.recs (sorted) */
	uint16_t keylen;
	uint16_t nrrsets;
	uint8_t labels;
	uint8_t flags;
	uint8_t redirect;
};

struct zonefile {
	uint8_t apex[DNAME_MAXLEN];
	uint8_t apex_key[DNAME_KEY_MAXLEN];
	size_t apex_keylen;
	unsigned apex_labels;
	uint32_t ttl_max;
	char **files;            /* [0] is the main file */
	size_t nfiles;
	uint8_t *arena;
	size_t used, cap;
	struct zrec **recs;      /* sorted by key, type, covers, rdata after zonefile_sort() */
	size_t nrecs, recs_cap;
	size_t nunique;          /* records left after merging duplicates */
	struct cnode *nodes;
	size_t nnodes, nodes_cap;
	struct zones_report *rep;
	const struct zones_compile_opts *opts;
	bool gave_up;            /* stopped after too many errors */
	int rc;                  /* first hard failure (not a zone error): -ENOMEM, ... */
};

static inline const uint8_t *
zrec_key(const struct zrec *r)
{
	return (const uint8_t *)(r + 1);
}

static inline const uint8_t *
zrec_rdata(const struct zrec *r)
{
	return (const uint8_t *)(r + 1) + r->keylen;
}

/* Checks the RDATA text of a record entry where ldns 1.8.3 is lax (rdatacheck.c):
 * numbers out of range, odd hex, RFC 3597 data. False with a message in why. */
bool zones__rdata_strict(const char *entry, char *why, size_t wlen);
/* Rewrites "owner CLASS TTL type ..." as "owner TTL CLASS type ..." in place. */
void zones__entry_normalize(char *entry);

void zones__report(struct zones_report *rep, enum zones_severity sev, const char *file,
                   unsigned line, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Parses path for origin into a new zonefile (zonefile.c); syntax errors go to rep.
 * Returns 0, SP_EZONE or a negative code; *out is set whenever memory was allocated. */
int zones__zonefile_read(const char *origin, const char *path,
                         const struct zones_compile_opts *o, struct zones_report *rep,
                         struct zonefile **out);
void zones__zonefile_free(struct zonefile *zf);
/* Sorts, merges duplicates, builds nodes and runs the semantic checks (check.c).
 * Returns 0, SP_EZONE or a negative code. */
int zones__zonefile_check(struct zonefile *zf);
/* Finds a node by key in zf->nodes (binary search), or NULL. */
struct cnode *zones__cnode_find(struct zonefile *zf, const uint8_t *key, size_t keylen);
/* Octets of the stored value of node n, and writing it (compile.c). */
size_t zones__node_size(const struct zonefile *zf, const struct cnode *n);
void zones__node_write(const struct zonefile *zf, const struct cnode *n, uint8_t *out);

/* NSEC3 (nsec3.c): the apex NSEC3PARAM servers use; the hash in an NSEC3 owner node's
 * first label (-1 when it is not a child of the apex or not base32hex); the hash index
 * of zone version id, written in the compile's transaction. */
bool zones__nsec3_zone_params(const struct zonefile *zf, struct zones_nsec3_params *p);
int zones__nsec3_owner_hash(const struct zonefile *zf, const struct cnode *n, uint8_t *out);
int zones__nsec3_index_put(MDB_txn *txn, MDB_dbi dbi, const struct zonefile *zf, uint32_t id);
/* Deletes the NSEC3 index of zone version id (db.c), if the database has the DBI. */
int zones__delete_nsec3(struct zones_db *db, MDB_txn *txn, uint32_t id);

#endif
