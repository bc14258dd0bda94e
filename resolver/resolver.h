/* resolver.h - the recursive resolver: iterative resolution from configured root hints,
 * a cache shared by every worker, the `resolver:` configuration section and the recursion
 * ACL. DNSSEC validation is a separate library in this directory (resolver/dnssec.h).
 *
 * Threads. One struct resolver runs on ONE libuv loop (the "resolver thread", created
 * by the integrator): resolver_new(), resolver_query(), resolver_free() and every
 * callback run on that loop's thread. Workers reach it with resolver_submit(), the one
 * thread-safe entry besides the cache. The cache (struct resolver_cache) is shared: the
 * resolver writes it, workers read it with resolver_cache_answer() on their answer path
 * (no allocation, no I/O; one shard mutex held for a copy - see docs/resolver.md).
 *
 * Upstream I/O goes only through struct resolver_transport, so unit tests script the
 * upstream servers; resolver_transport_udp_tcp() is the real one (resolver/transport.c). */
#ifndef SP_RESOLVER_H
#define SP_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <uv.h>
#include <yaml.h>

#include "lib/dname.h"
#include "lib/addr.h"

struct resolver;
struct resolver_cache;
struct dnssec_anchors;          /* resolver/dnssec.h */

/* ---- addresses and the ACL ---------------------------------------------------------- */

/* An upstream or client address: IPv4 or IPv6 with port. */
struct resolver_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} u;
	socklen_t len;
};

/* Parses "ADDR", "ADDR@PORT" (IPv4 or IPv6) with port default_port. */
int resolver_addr_parse(const char *text, uint16_t default_port, struct resolver_addr *out);
bool resolver_addr_equal(const struct resolver_addr *a, const struct resolver_addr *b);
bool resolver_addr_is_loopback(const struct resolver_addr *a);
/* "127.0.0.1@5353" style; returns out. */
char *resolver_addr_str(const struct resolver_addr *a, char *out, size_t outlen);

/* An address prefix: lib/addr.c parses and matches it (the gslb topology's too). */
struct resolver_prefix {
	struct addr_prefix p;
};

/* A list of prefixes (`resolver.allow`). Read-only once built; any thread. */
struct resolver_acl {
	struct resolver_prefix *v;
	size_t n;
};

/* Parses "10.0.0.0/8", "::1", "2001:db8::/32" (host bits must be zero). */
int resolver_prefix_parse(const char *text, struct resolver_prefix *out);
/* True when sa (IPv4, IPv6 or v4-mapped IPv6) is inside one of the prefixes. No allocation. */
bool resolver_acl_match(const struct resolver_acl *acl, const struct sockaddr *sa);

/* ---- configuration ---------------------------------------------------------------- */

#define RESOLVER_MAX_HINTS 32

struct resolver_limits {
	unsigned max_upstream_queries;      /* per client query (default 64) */
	unsigned max_referrals;             /* delegations followed per client query (30) */
	unsigned max_cname;                 /* CNAME/DNAME chain length (12) */
	unsigned max_ns_fetch;              /* glueless NS names resolved per delegation (4) */
	unsigned max_ns_fetch_total;        /* ... and per client query (12) */
	unsigned max_validations;           /* signature checks per client query (handed on) */
	unsigned max_per_server;            /* outstanding queries per upstream server (64) */
	unsigned max_per_client;            /* concurrent resolutions per client address (32) */
	unsigned max_pending;               /* concurrent resolutions in all (10000) */
};

struct resolver_conf {
	bool enable;
	struct resolver_acl allow;          /* default 127.0.0.0/8, ::1 */
	struct resolver_addr hints[RESOLVER_MAX_HINTS];     /* root server addresses */
	size_t nhints;
	char *hints_file;                   /* where hints came from, or NULL (a list) */
	char *trust_anchor;                 /* a file name or inline DS/DNSKEY text, or NULL */
	bool trust_anchor_inline;
	struct dnssec_anchors *anchors;     /* loaded from trust_anchor (owned), or NULL */
	bool validation;
	bool qname_minimisation;            /* RFC 9156, relaxed */
	bool use_0x20;
	size_t cache_size;                  /* bytes of cached data (default 64 MiB) */
	uint32_t ttl_min, ttl_max;          /* clamps for positive data (0, 86400) */
	uint32_t neg_ttl_max;               /* clamp for negative entries (3600) */
	bool serve_stale;                   /* RFC 8767 */
	uint32_t stale_max_age;             /* seconds past expiry still served (86400) */
	uint32_t stale_answer_timeout_ms;   /* client answer from stale data after (1800) */
	bool prefetch;
	uint32_t query_timeout_ms;          /* first try to one server (400), doubled on retry */
	uint32_t request_timeout_ms;        /* whole resolution gives up after (10000) */
	struct resolver_limits limits;
};

/* A conf with the defaults above (disabled, closed ACL, no hints); the caller owns it. */
int resolver_conf_new(struct resolver_conf **out);
/* Parses the `resolver:` mapping node of doc into a new conf (defaults for keys left
 * out). Every error is logged as "file:line: resolver.key: problem" and the result is
 * SP_ECONFIG with *out untouched; -ENOMEM on allocation failure. Keys: docs/resolver.md. */
int resolver_conf_parse(yaml_document_t *doc, yaml_node_t *node, const char *file,
                        struct resolver_conf **out);
/* Reads a hints file in master-file form: the A/AAAA records of the root's NS names
 * (port 53), plus, as an extension, "@PORT" after the address in a comment-free
 * "ADDR@PORT" line. Returns the count or a negative code; logs file:line errors. */
int resolver_hints_load(const char *path, struct resolver_addr *out, size_t max);
/* Frees c and what it holds; NULL is a no-op. */
void resolver_conf_free(struct resolver_conf *c);

/* ---- upstream transport ------------------------------------------------------------ */

/* What the transport reports: 0 and a reply, or -ETIMEDOUT, -ECONNREFUSED, ... The
 * reply is borrowed for the call. */
typedef void resolver_reply_fn(void *arg, int status, const uint8_t *reply, size_t len);

struct resolver_upstream_query {
	const struct resolver_addr *server;
	const uint8_t *wire;        /* the query message (ID and question set by the resolver) */
	size_t len;
	bool tcp;                   /* send over TCP (after TC=1) */
	uint32_t timeout_ms;
};

/* Functions set at creation (STYLE.md). send() is called on the resolver's loop thread;
 * it must not call done before returning (deliver on a later loop iteration) and calls
 * done exactly once unless cancel() came first. The transport drops replies that do not
 * come from the server's address and port or that do not echo the ID and question
 * octet for octet (0x20 case included) and keeps waiting. It returns a handle for
 * cancel(), or NULL (nothing will be called) on a local failure. */
struct resolver_transport {
	void *ctx;
	void *(*send)(void *ctx, const struct resolver_upstream_query *q, resolver_reply_fn *done,
	              void *arg);
	void (*cancel)(void *ctx, void *handle);
	/* Returns the next query ID (random); NULL uses getrandom(). */
	uint16_t (*random16)(void *ctx);
};

/* The real transport on loop: a new connect()ed UDP socket per query (random source
 * port from the kernel, bound to the loopback address when the server is on loopback),
 * TCP after truncation, IDs from getrandom(). Free with resolver_transport_free(). */
int resolver_transport_udp_tcp(uv_loop_t *loop, struct resolver_transport **out);
/* Closes sockets of queries still open (their done is not called) and frees t after the
 * loop has run their close callbacks; call before the loop ends. */
void resolver_transport_free(struct resolver_transport *t);

/* ---- the cache --------------------------------------------------------------------- */

/* Creates a cache of about max_bytes (entries are evicted least recently used first).
 * Shared by every thread; free it after the resolver and every worker stop using it. */
int resolver_cache_new(size_t max_bytes, struct resolver_cache **out);
void resolver_cache_free(struct resolver_cache *c);

struct resolver_cache_stats {
	uint64_t entries, bytes, hits, misses, evictions, inserts;
};
void resolver_cache_stats(struct resolver_cache *c, struct resolver_cache_stats *out);
/* Removes the entries of name (every type; wire form, any case), or all entries when name
 * is NULL (`signpostctl cache flush [NAME]`). Returns how many went. Any thread. */
size_t resolver_cache_flush(struct resolver_cache *c, const uint8_t *name);

/* ---- queries ---------------------------------------------------------------------- */

/* A client question. qname is the case the client sent (echoed in the question). */
struct resolver_question {
	uint8_t qname[DNAME_MAXLEN];
	uint16_t qtype, qclass;
	bool dnssec_ok;             /* DO: include RRSIGs (when validation supplies them) */
	bool checking_disabled;     /* CD: return data without validation (RFC 4035 3.2.2) */
	struct resolver_addr client;  /* for the per-client limit */
};

/* Extended DNS Error codes we produce (RFC 8914). */
enum {
	RESOLVER_EDE_NONE = -1,
	RESOLVER_EDE_STALE_ANSWER = 3,
	RESOLVER_EDE_DNSSEC_BOGUS = 6,
	RESOLVER_EDE_NETWORK_ERROR = 23,
	RESOLVER_EDE_NO_REACHABLE_AUTHORITY = 22,
	RESOLVER_EDE_PROHIBITED = 18,
};

/* The outcome: a complete DNS response in wire form, ID 0, QR=1 RD=1 RA=1, the question
 * as asked, answer and authority sections, no additional section and no OPT: the server
 * patches the ID and RD bit, adds its OPT (with the EDE if ede >= 0) and truncates for
 * UDP: resolver_reply_finish() does all of that. wire is borrowed for the call of done(). */
struct resolver_result {
	const uint8_t *wire;
	size_t len;
	uint8_t rcode;
	bool ad;
	bool stale;                 /* served from expired data (RFC 8767) */
	int ede;                    /* RESOLVER_EDE_* or -1 */
};

typedef void resolver_done_fn(void *arg, const struct resolver_result *res);

/* Creates a resolver on loop (its thread runs everything of it). Borrows conf, cache and
 * transport until resolver_free(). */
int resolver_new(uv_loop_t *loop, const struct resolver_conf *conf, struct resolver_cache *cache,
                 struct resolver_transport *t, struct resolver **out);
/* Cancels every resolution (their done gets SERVFAIL) and frees r. Loop thread. */
void resolver_free(struct resolver *r);

/* Resolves q (copied) and calls done(arg, res) once, on the loop thread, possibly after
 * a long time but never before returning. Identical questions in flight share one
 * resolution. Returns 0, or -EBUSY (per-client or global limit; done is not called), or
 * -ENOMEM. */
int resolver_query(struct resolver *r, const struct resolver_question *q, resolver_done_fn *done,
                   void *arg);

/* Thread-safe: queues q for the resolver thread (which calls resolver_query()); done runs
 * on the resolver thread, so a worker passes a done that posts back to its own loop.
 * Allocates one small node (not the answer path: only cache misses come here). */
int resolver_submit(struct resolver *r, const struct resolver_question *q, resolver_done_fn *done,
                    void *arg);

/* The answer path's fast path, any thread: writes the cached response to q (same format
 * as struct resolver_result, ID 0, AD clear) into buf and returns its length, or 0 on a
 * miss (the caller then uses resolver_submit()). Never allocates, never blocks on I/O;
 * takes one cache shard mutex per name for a copy. *rcode gets the rcode; *refresh is set
 * when prefetch is on and a popular entry is in the last tenth of its TTL: the caller
 * answers and also calls resolver_prefetch(). */
size_t resolver_cache_answer(struct resolver_cache *c, const struct resolver_question *q,
                             uint8_t *buf, size_t cap, uint8_t *rcode, bool *refresh);

/* Thread-safe: refreshes q in the background (RFC 8767-style prefetch, as Unbound's). */
int resolver_prefetch(struct resolver *r, const struct resolver_question *q);

/* How one client's reply differs from the shared response. */
#define RESOLVER_REPLY_OPTS_MAX 560   /* NSID (at most 512 octets) and a COOKIE, with headers */

struct resolver_reply_params {
	uint16_t id;
	bool rd, cd;                /* echoed from the query */
	bool ad_ok;                 /* the query had DO or AD: AD may be kept (RFC 6840 5.8) */
	bool edns;                  /* the query had OPT: the reply gets one */
	bool dnssec_ok;             /* DO, echoed in the OPT */
	uint16_t max_size;          /* UDP: min(client's size, ours), at least 512 (RFC 6891
	                               6.2.5) or 512 without EDNS; TCP: 65535 */
	uint16_t our_edns_size;     /* advertised in our OPT (1232) */
	/* More EDNS options for the OPT, in wire form (code, length, data), before the EDE:
	 * what the server adds to every answer for this client (NSID, RFC 5001; its COOKIE,
	 * RFC 7873). opts_len 0: none. */
	uint16_t opts_len;
	uint8_t opts[RESOLVER_REPLY_OPTS_MAX];
};

/* Finishes a response from resolver_cache_answer() or struct resolver_result (copied to
 * buf, len octets, cap the buffer size) for one client, in place: ID, RD, CD, AD, OPT
 * with the EDE option when ede >= 0 (RFC 8914), and TC with the question only when it does
 * not fit max_size. Returns the new length, or 0 if buf holds no such response. Any
 * thread, no allocation. */
size_t resolver_reply_finish(uint8_t *buf, size_t len, size_t cap,
                             const struct resolver_reply_params *p, int ede);

/* Counters of one resolver (loop thread writes, readers take a relaxed view). */
struct resolver_stats {
	uint64_t requests, joined, upstream_queries, upstream_timeouts, tcp_retries, edns_fallbacks;
	uint64_t servfail, stale_answers, limit_hits, prefetches, rejected_replies, bogus;
	uint64_t secure;            /* answers validation found secure (AD) */
	uint64_t aggressive_nsec;   /* negative answers proven from cached NSEC/NSEC3 records
	                               without asking (RFC 8198) */
};
void resolver_get_stats(const struct resolver *r, struct resolver_stats *out);

#endif
