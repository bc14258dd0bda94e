/* xfr.h - zone transfers in the daemon (docs/transfers.md): the keys: and transfers:
 * configuration and the per-zone transfer keys (xfr_conf.c), AXFR/IXFR out on a
 * worker's TCP connection (xfr_out.c), NOTIFY out (notify.c), and the runtime on the
 * main loop that ties them to reloads (xfr.c).
 *
 * Threads: configuration is parsed on the main thread and published (xfr_publish());
 * workers read the published struct xfr_conf when a transfer starts; NOTIFY runs on
 * the main loop. */
#ifndef SP_SERVER_XFR_H
#define SP_SERVER_XFR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>
#include <yaml.h>

#include "lib/dname.h"
#include "lib/tsig.h"
#include "server/config.h"
#include "server/internal.h"
#include "zones/zones.h"

#define XFR_NOTIFY_RETRIES 5            /* NOTIFY sends after the first (RFC 1996 3.6) */
#define XFR_NOTIFY_TIMEOUT_MS 2000      /* then doubled per retry */
#define XFR_MSG_TARGET 16384            /* an AXFR message is closed past this size */
#define XFR_QUEUE_AT 65536              /* octets of messages queued per TCP write */
#define XFR_JOURNAL_VERSIONS 20         /* IXFR differences kept per zone by default */
#define XFR_JOURNAL_SIZE (16u << 20)    /* ... and their total size by default */

/* One ACL rule: an address prefix (any address when any_addr) and optionally a key
 * that must have signed the request. */
struct xfr_acl {
	struct sockaddr_storage addr;
	unsigned prefix;
	bool any_addr;
	int key;                /* index into xfr_conf.keys, or -1: no key required */
	char *key_name;         /* as written (resolved in xfr_conf_finish()) */
};

/* A server we talk to: a secondary we NOTIFY, or a primary we pull from. */
struct xfr_remote {
	struct conf_listen addr;
	int key;                /* index into xfr_conf.keys, or -1 */
	char *key_name;
};

struct xfr_zone {
	size_t conf_index;      /* its place in daemon_conf.zones */
	char *name;             /* presentation form (filled by xfr_conf_finish()) */
	uint8_t apex[DNAME_MAXLEN];
	struct xfr_acl *provide;        /* provide-xfr: who may transfer it from us */
	size_t nprovide;
	struct xfr_remote *notify;      /* notify: secondaries told of a new serial */
	size_t nnotify;
	/* A secondary zone (no file: it comes from its primaries, xfr_in.c). */
	struct xfr_remote *primaries;   /* primaries: tried in order */
	size_t nprimaries;
	struct xfr_acl *allow_notify;   /* allow-notify: who may NOTIFY us (default: the
	                                 * primaries' addresses, with their keys) */
	size_t nallow_notify;
	bool secondary;                 /* listed without a file, with primaries */
	bool catalog;                   /* catalog: consumer - a catalog zone (RFC 9432):
	                                 * its members become secondary zones */
};

#define XFR_NO_INDEX ((size_t)-1)       /* conf_index of a secondary zone */

struct xfr_conf {
	struct tsig_key *keys;
	size_t nkeys;
	struct xfr_zone *zones;
	size_t nzones;
	uint16_t fudge;                 /* transfers.tsig-fudge (seconds) */
	unsigned journal_versions;      /* transfers.ixfr-versions */
	uint64_t journal_size;          /* transfers.ixfr-size (octets) */
	unsigned notify_retries;
	uint64_t notify_timeout_ms;
};

/* ---- configuration (xfr_conf.c, main thread) ----------------------------------------- */

/* keys: [{name, algorithm, secret}] and transfers: {tsig-fudge, ixfr-versions,
 * ixfr-size, notify-retries, notify-timeout}. */
int xfr_conf_parse_keys(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c);
int xfr_conf_parse_transfers(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c);
/* True for the zone keys this module parses (provide-xfr, notify, primaries,
 * allow-notify). */
bool xfr_conf_is_zone_key(const char *key);
/* True when the zone being parsed at index zi listed primaries: it needs no file. */
bool xfr_conf_is_secondary(struct daemon_conf *c, size_t zi);
/* Takes the zone at index zi (name in wire form) as a secondary zone: it stays out of
 * c->zones (nothing to compile from a file) and lives in c->xfr. */
int xfr_conf_secondary(struct conf_ctx *cx, struct daemon_conf *c, size_t zi,
                       yaml_node_t *name_node, const uint8_t *wire);
/* Parses zone key key (value v) of the zone at index zi of c->zones, path "zones[i]". */
int xfr_conf_zone_key(struct conf_ctx *cx, struct daemon_conf *c, size_t zi, const char *path,
                      const char *key, yaml_node_t *v);
/* After the whole file: names the zones and resolves key names. */
int xfr_conf_finish(struct conf_ctx *cx, struct daemon_conf *c);
void xfr_conf_free(struct xfr_conf *x);

/* The zone whose apex is apex (wire), or NULL. */
const struct xfr_zone *xfr_conf_zone(const struct xfr_conf *x, const uint8_t *apex);
/* True when a rule of acl (n rules) lets addr in with key (NULL: unsigned request). */
bool xfr_acl_allows(const struct xfr_conf *x, const struct xfr_acl *acl, size_t n,
                    const struct sockaddr *addr, const struct tsig_key *key);

/* ---- publication ------------------------------------------------------------------- */

/* Publishes a copy of c's transfer configuration for the workers (main thread); the
 * previous copies stay allocated until xfr_unpublish_all() at exit, because a worker
 * may hold one for as long as a transfer runs. Returns 0 or -ENOMEM. */
int xfr_publish(const struct daemon_conf *c);
/* The configuration in force (an atomic load), NULL before the first publish. */
const struct xfr_conf *xfr_published(void);
void xfr_unpublish_all(void);

/* ---- AXFR/IXFR out (xfr_out.c, a worker's thread) ------------------------------------- */

struct xfr_out;

/* True when msg (len octets) asks for a transfer (opcode QUERY, QTYPE AXFR or IXFR):
 * tcp.c hands such a query to xfr_out_new() instead of answer_query(). */
bool xfr_out_is_transfer(const uint8_t *msg, size_t len);
/* Starts answering the transfer request msg from peer: checks TSIG and the zone's
 * provide-xfr rules, and opens the zone's snapshot. Returns NULL only when out of
 * memory; refusals and errors become one error message from xfr_out_next(). */
struct xfr_out *xfr_out_new(struct zones_db *db, const struct sockaddr *peer,
                            const uint8_t *msg, size_t len);
/* Writes the next message of the answer into buf (cap octets, at least 65535) and
 * returns its length; 0 when the answer is complete. */
size_t xfr_out_next(struct xfr_out *x, uint8_t *buf, size_t cap);
void xfr_out_free(struct xfr_out *x);

/* ---- signed queries (xfr_out.c, a worker's thread) ---------------------------------------- */

/* True when the answer a that answer_query() wrote for q is a refusal that is ours to
 * replace: NOTAUTH for a query that carried a TSIG (the answer path has no keys), or
 * NOTIMP for a NOTIFY (opcode 4). A cheap test on the answer just written, so plain
 * queries pay nothing; xfr_answer() then answers instead. */
static inline bool
xfr_answer_is_ours(const uint8_t *q, size_t qlen, const uint8_t *a, size_t alen)
{
	if (alen < 12 || qlen < 12)
		return false;
	unsigned rcode = a[3] & 0xf;
	return (rcode == RCODE_NOTAUTH && (q[10] | q[11]) != 0) ||
	       (rcode == RCODE_NOTIMP && ((q[2] >> 3) & 0xf) == 4);
}
/* Answers q instead: a NOTIFY (xfr_notify_answer()) or a signed query
 * (xfr_signed_answer()). Not the answer path proper: allocates (HMAC), may log. */
size_t xfr_answer(struct answer_ctx *ctx, const struct answer_client *cl, const uint8_t *q,
                  size_t qlen, uint8_t *out, size_t cap);
/* Answers a TSIG-signed query q (SOA checks of secondaries, RFC 8945): verifies it with
 * the published keys, answers the query without its TSIG through answer_query() and
 * signs the answer; BADKEY/BADSIG/BADTIME answers as RFC 8945 5.3.2 says. Writes into
 * out (cap octets) and returns the length (0: send nothing). Allocates (HMAC context):
 * signed queries take this slow path, never the plain answer path. */
size_t xfr_signed_answer(struct answer_ctx *ctx, const struct answer_client *cl,
                         const uint8_t *q, size_t qlen, uint8_t *out, size_t cap);

/* ---- secondary zones (xfr_in.c) --------------------------------------------------------------- */

struct xfr_in;

/* Zones that expired (no primary reachable past the SOA expire): published for the
 * answer path, which answers SERVFAIL for them (as NSD and Knot do). */
struct xfr_expired {
	size_t n;
	uint8_t apex[][DNAME_MAXLEN];
};
extern _Atomic(const struct xfr_expired *) xfr__expired;

/* True when apex (wire) is an expired secondary zone. One atomic load when none is. */
static inline bool
xfr_zone_expired(const uint8_t *apex)
{
	const struct xfr_expired *e = atomic_load_explicit(&xfr__expired, memory_order_acquire);
	for (size_t i = 0; e != NULL && i < e->n; i++) {
		if (dname_equal(e->apex[i], apex))
			return true;
	}
	return false;
}

/* Member zones of catalogs (RFC 9432), published for NOTIFY on the workers: each with the
 * catalog zone whose primaries, keys and allow-notify it uses. */
struct xfr_members {
	size_t n;
	struct {
		uint8_t apex[DNAME_MAXLEN];
		const struct xfr_zone *catalog;
	} e[];
};
extern _Atomic(const struct xfr_members *) xfr__members;

/* Starts the secondary side on the main loop (zone files in <state_dir>/secondary). */
int xfr_in_start(uv_loop_t *loop, struct zones_db *db, const char *state_dir,
                 struct xfr_in **out);
/* Follows the published configuration: new secondary zones are checked now (or at the
 * refresh time their saved state says), dropped ones deleted. Main thread. */
void xfr_in_apply(struct xfr_in *in);
void xfr_in_stop(struct xfr_in *in);
void xfr_in_unpublish_all(void);
/* Answers a NOTIFY (RFC 1996) on a worker: from an allowed primary (allow-notify, or
 * the primaries' addresses and keys) it wakes the zone's check; others get REFUSED or
 * NOTAUTH and are logged. Returns the answer's length. */
size_t xfr_notify_answer(const struct answer_client *cl, const uint8_t *q, size_t qlen,
                         uint8_t *out, size_t cap);

/* ---- NOTIFY out (notify.c, main loop) ------------------------------------------------------ */

struct notify_sender;

int notify_sender_new(uv_loop_t *loop, struct notify_sender **out);
/* Sends NOTIFY for zone z (its new SOA, serial) to each of z's notify: remotes, with
 * xc's keys and retry settings (copied: xc may go). */
void notify_send(struct notify_sender *ns, const struct xfr_conf *xc, const struct xfr_zone *z,
                 const struct zones_rrset *soa, uint32_t serial);
/* Drops pending NOTIFYs and closes the sockets; the memory goes when the loop has run
 * the close callbacks. */
void notify_sender_close(struct notify_sender *ns);

/* ---- the runtime (xfr.c, notify.c, main loop) --------------------------------------------- */

struct xfr_runtime;

/* Starts the transfer runtime on the main loop: publishes c's transfer settings and
 * remembers each zone's serial. Returns 0 or a negative code. */
int xfr_runtime_start(uv_loop_t *loop, struct zones_db *db, const struct daemon_conf *c,
                      struct xfr_runtime **out);
/* Before a reload compiles zones: opens a read snapshot of the versions in force, so
 * that the IXFR journal can be computed from old and new versions afterwards. */
void xfr_runtime_before_reload(struct xfr_runtime *rt);
/* After the reload: publishes c, journals and NOTIFYs every zone whose serial changed. */
void xfr_runtime_after_reload(struct xfr_runtime *rt, const struct daemon_conf *c);
void xfr_runtime_stop(struct xfr_runtime *rt);

#endif
