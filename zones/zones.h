/* zones.h - the zone store: master files compiled into LMDB (write side, zones/compile.c)
 * and looked up by the answer path (read side, zones/lookup.c).
 *
 * One LMDB environment holds every zone. Workers look names up in a per-thread snapshot
 * (a reusable read transaction); lookups never allocate or write, and everything they
 * return points into the memory map, valid until zones_snapshot_end(). The schema is
 * described in docs/lmdb-schema.md. */
#ifndef SP_ZONES_H
#define SP_ZONES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct zones_db;        /* one per process: the LMDB environment */
struct zones_snapshot;  /* one per worker thread: a reusable read transaction */

/* ---- the database ------------------------------------------------------------------ */

enum {
	ZONES_DB_RDONLY = 1 << 0,  /* open read-only (never creates or writes) */
};

#define ZONES_DEFAULT_MAPSIZE ((size_t)8 << 30)  /* address space, not disk: 8 GiB */

/* Opens (creating if needed, unless RDONLY) the database in directory dir. Refuses a
 * database of another schema version with SP_ESCHEMA. mapsize 0 takes the default.
 * Returns 0 and sets *out, or a negative code. Any thread; the db is shared by all. */
int zones_db_open(const char *dir, unsigned flags, size_t mapsize, struct zones_db **out);
void zones_db_close(struct zones_db *db);

/* ---- reading: snapshots and lookups (answer path) ---------------------------------- */

struct zones_snapshot *zones_snapshot_new(struct zones_db *db);  /* NULL on failure */
void zones_snapshot_free(struct zones_snapshot *s);
/* Starts (renews) the read transaction: the snapshot then sees the newest committed
 * version of every zone until zones_snapshot_end(). */
int zones_snapshot_begin(struct zones_snapshot *s);
void zones_snapshot_end(struct zones_snapshot *s);
/* Ends the batch's use of the snapshot like zones_snapshot_end(), but keeps the read
 * transaction open so that the next zones_snapshot_begin() resumes it when nothing was
 * committed since, instead of renewing it (a renewal costs more than answering a query:
 * LMDB marks every named DBI stale and looks each up again). Nothing the snapshot
 * returned may be used after this. A parked transaction pins the version it sees, so the
 * caller must zones_snapshot_release() it when idle; begin and end release it too. */
void zones_snapshot_park(struct zones_snapshot *s);
/* Closes (resets) a parked transaction; no-op otherwise. */
void zones_snapshot_release(struct zones_snapshot *s);

/* An RRset ready to copy into a response: count records, each as a 16-bit network-order
 * RDLENGTH followed by RDATA with names uncompressed; len octets in all. */
struct zones_rrset {
	uint16_t type;
	uint16_t covers;        /* for RRSIG sets: the type covered; otherwise 0 */
	uint32_t ttl;
	uint16_t count;
	uint16_t len;
	const uint8_t *rdata;
};

/* Node flags (docs/lmdb-schema.md). */
enum {
	ZONES_NODE_APEX = 1 << 0,      /* the zone apex */
	ZONES_NODE_CUT = 1 << 1,       /* NS below the apex: a delegation point */
	ZONES_NODE_DNAME = 1 << 2,     /* has a DNAME RRset */
	ZONES_NODE_WILDKID = 1 << 3,   /* has a child "*" (a wildcard below it) */
	ZONES_NODE_OCCLUDED = 1 << 4,  /* below a cut or a DNAME: glue/occluded data only */
	ZONES_NODE_ENT = 1 << 5,       /* empty non-terminal: no RRsets */
};

#define ZONES_NO_REDIRECT 0xff

/* A name in a zone as stored: its RRsets, one after another. */
struct zones_node {
	uint8_t flags;
	/* Labels of the highest proper ancestor that is a cut or owns a DNAME, or
	 * ZONES_NO_REDIRECT: queries at or below this node are redirected there. */
	uint8_t redirect_labels;
	uint16_t nrrsets;
	const uint8_t *data;    /* the RRsets, walked by zones_node_rrset() */
	size_t len;
};

struct zones_zone {
	uint32_t id;            /* the zone's current generation (changes on every compile) */
	uint32_t serial;
	const uint8_t *apex;    /* wire name, lower case, in the map */
	uint8_t apex_labels;
};

/* Finds the RRset of type (for RRSIG: the signatures covering covers) at node.
 * Returns false if the node has none. */
bool zones_node_rrset(const struct zones_node *node, uint16_t type, uint16_t covers,
                      struct zones_rrset *rr);
/* Iterates a node's RRsets: *pos starts at 0; returns false after the last one. */
bool zones_node_next(const struct zones_node *node, size_t *pos, struct zones_rrset *rr);

/* Outcome of zones_lookup(). Not errors: DNS outcomes. */
enum zones_result_kind {
	ZONES_NOT_OURS = 0,  /* no served zone contains the name */
	ZONES_FOUND,         /* rrset holds the RRset of qtype at the (possibly wildcard) node */
	ZONES_CNAME,         /* the node has a CNAME (rrset) and qtype is not CNAME */
	ZONES_NODATA,        /* the name exists, but not with qtype */
	ZONES_NXDOMAIN,      /* the name does not exist; node is the closest encloser */
	ZONES_DELEGATION,    /* the name is at or below a cut; rrset is the cut's NS */
	ZONES_DNAME,         /* the name is below a DNAME owner; rrset is the DNAME */
};

struct zones_result {
	struct zones_zone zone;
	struct zones_node node;         /* the node the answer comes from (see kinds) */
	uint8_t node_labels;            /* labels of that node's owner name */
	bool wildcard;                  /* FOUND/CNAME/NODATA synthesised from "*.<node_labels>" */
	struct zones_rrset rrset;
	struct zones_rrset soa;         /* the zone's SOA (always filled when the zone is ours) */
};

/* Looks qname/qtype up following RFC 1034 4.3.2 inside the closest enclosing zone:
 * delegations (except DS at the cut, answered from the parent as RFC 4035 3.1.4.1
 * says, preferring a served parent zone over a served child for DS), DNAME, exact
 * match, wildcard at the closest encloser, NXDOMAIN. CNAMEs are reported, not followed.
 * Returns the kind (>= 0) or a negative code. */
int zones_lookup(struct zones_snapshot *s, const uint8_t *qname, uint16_t qtype,
                 struct zones_result *res);

/* Finds the node named exactly name inside zone, ignoring cuts (for glue and
 * additional-section addresses). */
bool zones_find_node(struct zones_snapshot *s, const struct zones_zone *zone,
                     const uint8_t *name, struct zones_node *node);

/* For DNSSEC denial (NSEC, RFC 4035 3.1.3): finds the node with the greatest owner name
 * <= name in canonical order inside zone that has an NSEC RRset, writing that owner's
 * wire name to owner (DNAME_MAXLEN octets). The walk back skips at most a bounded number
 * of nodes without NSEC (ENTs, glue); returns false if none is found. */
bool zones_find_nsec(struct zones_snapshot *s, const struct zones_zone *zone,
                     const uint8_t *name, struct zones_node *node, uint8_t *owner);

/* Finds the zone that is the closest enclosing zone of name. */
bool zones_find_zone(struct zones_snapshot *s, const uint8_t *name, struct zones_zone *zone);

/* ---- writing: compile, check, delete (tools and the daemon's reload thread) ---------- */

enum zones_severity { ZONES_ERROR, ZONES_WARNING };

typedef void zones_report_fn(void *ctx, enum zones_severity sev, const char *file,
                             unsigned line, const char *msg);

/* Collects what a check or compile found. fn NULL prints "file:line: error: msg" to
 * stderr. */
struct zones_report {
	unsigned errors;
	unsigned warnings;
	zones_report_fn *fn;
	void *ctx;
};

struct MDB_txn;
/* Called by a compile inside its write transaction txn, after the new version's nodes
 * (id new_id) are written and before the previous version's (old_id, 0 when the zone is
 * new) are deleted: both are readable in txn. Whatever it writes commits or aborts with
 * the zone (the IXFR journal: zones_journal_hook()). A non-zero return aborts the
 * compile with that code. */
typedef int zones_compile_hook(void *ctx, struct zones_db *db, struct MDB_txn *txn,
                               const uint8_t *apex, uint32_t old_id, uint32_t new_id);

struct zones_compile_opts {
	uint32_t ttl_max;       /* refuse records with a larger TTL (0 = 2^31 - 1, RFC 2181) */
	bool warnings_fatal;
	zones_compile_hook *on_write;   /* optional, with its ctx */
	void *on_write_ctx;
};

/* Parses and validates the master file path for zone origin (presentation form).
 * Returns 0, SP_EZONE (the problems went to rep) or another negative code. */
int zones_check_file(const char *origin, const char *path, const struct zones_compile_opts *o,
                     struct zones_report *rep);
/* Checks the file and, if it is valid, replaces the zone in db in one write
 * transaction: readers see the old zone or the new one. A zone with errors changes
 * nothing. */
int zones_compile_file(struct zones_db *db, const char *origin, const char *path,
                       const struct zones_compile_opts *o, struct zones_report *rep);
/* Removes a zone (SP_ENOZONE if absent). */
int zones_delete(struct zones_db *db, const char *origin);

/* What the database records about a zone. */
struct zones_info {
	char name[1024];        /* presentation form */
	uint32_t serial;
	uint32_t id;
	uint64_t records;
	int64_t compiled_at;    /* Unix time */
	char source[1024];      /* the master file it came from */
	int64_t source_mtime_ns;
	int64_t source_size;
};

typedef int zones_list_fn(void *ctx, const struct zones_info *info);
/* Calls fn for each zone in canonical order; stops early if fn returns non-zero and
 * returns that value. */
int zones_list(struct zones_db *db, zones_list_fn *fn, void *ctx);
/* Fills *info for origin; SP_ENOZONE if absent. */
int zones_info_get(struct zones_db *db, const char *origin, struct zones_info *info);
/* Writes the zone as a master file in canonical order, one record a line, absolute names. */
int zones_dump(struct zones_db *db, const char *origin, FILE *out);

/* ---- transfers ---- */
/* Zone transfers (server/xfr_*.c; docs/transfers.md): walking one version of a zone in
 * canonical order from a read transaction of its own (a consistent snapshot however
 * long the transfer takes, even while the zone is being replaced: zones/xfr.c), and
 * the IXFR journal and secondary state kept in the `xfr` DBI (zones/journal.c). */

struct zones_iter;

/* Opens a read transaction and positions it before the first node of the zone whose
 * apex is apex (wire). Returns 0, SP_ENOZONE, or a negative code. The iterator holds
 * an LMDB reader slot until zones_iter_free(): keep transfers bounded. Any thread. */
int zones_iter_new(struct zones_db *db, const uint8_t *apex, struct zones_iter **out);
void zones_iter_free(struct zones_iter *it);
/* The zone as the iterator sees it (pointers valid until zones_iter_free()). */
void zones_iter_zone(const struct zones_iter *it, struct zones_zone *zone,
                     struct zones_rrset *soa);
/* The next node: its owner (wire, lower case) into owner (DNAME_MAXLEN octets) and
 * node. Returns 1, 0 after the last node, or a negative code. */
int zones_iter_next(struct zones_iter *it, uint8_t *owner, struct zones_node *node);
/* The database a snapshot reads (for transfers started on a worker). */
struct zones_db *zones_snapshot_db(struct zones_snapshot *s);
/* Opens an iterator over another zone in the same read transaction as base (one
 * snapshot for many zones); base must outlive it. Same results as zones_iter_new(). */
int zones_iter_new_at(struct zones_iter *base, const uint8_t *apex, struct zones_iter **out);

/* The IXFR journal (RFC 1995): per zone, the differences between consecutive versions
 * compiled by the daemon, each stored as the records of one IXFR step in answer order
 * (old SOA, deleted records, new SOA, added records), in the `xfr` DBI. */
struct zones_journal;
struct zones_journal_rr {
	const uint8_t *owner;   /* wire, lower case */
	uint16_t type;
	uint32_t ttl;
	uint16_t rdlen;
	const uint8_t *rdata;
};

/* Creates the `xfr` DBI if needed (a writer, once, before readers use the journal).
 * Returns 0 or a negative code. */
int zones_journal_init(struct zones_db *db);
/* Diffs old (an iterator over the zone's previous version, opened before the compile
 * and not yet walked) against the zone's version now committed, and appends the step to
 * the journal in one write transaction; then drops the oldest steps beyond max_versions
 * or max_size octets. A step that breaks the chain (the previous step does not end at
 * old's serial) clears the zone's journal first. Returns 0 or a negative code; on
 * failure the journal of the zone is cleared, so IXFR falls back to AXFR. Writer only. */
int zones_journal_add(struct zones_db *db, struct zones_iter *old, unsigned max_versions,
                      uint64_t max_size);
/* The journal's compile hook (zones_compile_opts.on_write, ctx a struct
 * zones_journal_limits): the step from old_id to new_id is written in the compile's own
 * write transaction, so a zone is never committed without its step (a crash cannot lose
 * one). Same rules as zones_journal_add(): a same-serial recompile, a new zone or a step
 * that cannot be built (out of memory, larger than max_size) clears the zone's journal
 * instead; only an LMDB error fails (and so aborts) the compile. No-op when the `xfr`
 * DBI was never created. */
struct zones_journal_limits {
	unsigned max_versions;
	uint64_t max_size;
};
zones_compile_hook zones_journal_hook;
/* Opens, in it's read transaction, the steps that lead from serial from to it's version.
 * Returns 0, or SP_ENOZONE when the journal has no unbroken chain from that serial. */
int zones_journal_open(struct zones_iter *it, uint32_t from, struct zones_journal **out);
/* The record at the reader's position: 1, 0 at the end, or a negative code. */
int zones_journal_peek(struct zones_journal *j, struct zones_journal_rr *rr);
void zones_journal_advance(struct zones_journal *j);
void zones_journal_close(struct zones_journal *j);

/* Secondary zones' state (serial, refresh times, last error: server/xfr_in.c), a small
 * value per zone in the `xfr` DBI so that it survives restarts. put writes it in its
 * own transaction (writer); get copies at most cap octets and sets *len (SP_ENOZONE
 * when none is stored). */
int zones_xfr_state_put(struct zones_db *db, const uint8_t *apex, const void *val, size_t len);
int zones_xfr_state_get(struct zones_db *db, const uint8_t *apex, void *val, size_t cap,
                        size_t *len);

/* ---- NSEC3 (RFC 5155) ---- */
/* NSEC3 denial for the answer path (zones/nsec3.c; docs/lmdb-schema.md "NSEC3 index"). The
 * compiler flags the nodes that own NSEC3 records (ZONES_NODE_NSEC3: not names of the zone
 * for lookups, RFC 5155 7.1) and indexes the chain named by the apex NSEC3PARAM by hash. */

#define ZONES_NODE_NSEC3 (1 << 6)    /* owns NSEC3 records: outside the normal namespace */
#define ZONES_NSEC3_HASH_MAX 39      /* octets of a hash that fits a 63-octet base32 label */
#define ZONES_NSEC3_MAX_ITERATIONS 2500u  /* RFC 5155 10.3 (4096-bit keys); above: no proofs */

struct zones_nsec3_params {
	uint8_t alg;            /* 1: SHA-1, the only one defined */
	uint8_t flags;
	uint16_t iterations;
	uint8_t salt_len;
	uint8_t salt[255];
};

/* The apex NSEC3PARAM (the first with flags 0 and hash algorithm 1, RFC 5155 4.1.2) of
 * zone, or false when the zone has none. Answer path: one exact get. */
bool zones_nsec3_params(struct zones_snapshot *s, const struct zones_zone *zone,
                        struct zones_nsec3_params *p);
/* RFC 5155 5: the iterated SHA-1 of name (wire, any case) with p's salt into out (20
 * octets). Returns the hash length (20), or 0 for an unknown algorithm. No allocation. */
size_t zones_nsec3_hash(const struct zones_nsec3_params *p, const uint8_t *name, uint8_t *out);
/* Finds in zone's NSEC3 index the record whose hash is the greatest <= hash (wrapping
 * around to the last one for a hash below the first): that NSEC3 matches the hash when
 * *exact, else covers it. Writes its node (NSEC3 and RRSIG sets) and owner (wire,
 * DNAME_MAXLEN octets). False when the zone has no index. One MDB_SET_RANGE (+ PREV). */
bool zones_find_nsec3(struct zones_snapshot *s, const struct zones_zone *zone,
                      const uint8_t *hash, size_t hashlen, struct zones_node *node,
                      uint8_t *owner, bool *exact);

#endif
