/* recurse.c - the recursive resolver in the daemon: the resolver thread (one libuv loop
 * running resolver/'s struct resolver), and the dispatch between it and the workers.
 *
 * A worker answers a query for a name outside our zones, from a client the ACL allows,
 * from the shared cache on its own answer path (resolver_cache_answer(): no allocation,
 * one shard mutex); a miss is copied into a struct pending (one allocation: a miss is
 * no longer the answer path) and submitted. The resolver thread's done() copies the
 * response into the pending and appends it to the owning worker's list; the worker's
 * uv_async_t callback finishes each for its client (resolver_reply_finish()) and sends
 * it from the same UDP socket and local address, or on the same TCP connection.
 * Recursive answers carry the EDNS options the authoritative answer had (NSID, cookie,
 * ECS with scope 0); a CNAME chain of our zones that leaves them is completed with the
 * target's answer for clients allowed recursion (chain_leaves(), chain_splice()).
 *
 * Threads: recurse_start/reload/stop/flush on the main thread; resolver thread: on_ctl,
 * on_done; workers: recurse_udp/tcp and on_replies; metrics: recurse_metrics (atomics).
 * The daemon has one resolver, so its state is this file's (like the log). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/dname.h"
#include "lib/errors.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "resolver/resolver.h"
#include "server/daemon.h"
#include "server/ops.h"
#include "server/recurse.h"

#define REPLY_SLACK (64 + RESOLVER_REPLY_OPTS_MAX) /* room resolver_reply_finish() may add:
                                                    OPT, NSID, COOKIE, EDE */
#define ACL_RETIRED_MAX 256     /* ACLs replaced by reloads, freed at exit */

/* A published recursion ACL (a copy: the conf it came from dies at the next reload). */
struct acl_copy {
	struct resolver_acl acl;
	struct acl_copy *older;
};

struct recurse {
	struct resolver_conf *conf;         /* the resolver borrows it; limits change on
	                                       the resolver thread only */
	struct resolver_cache *cache;
	struct resolver_transport *t;
	struct resolver *r;
	uv_loop_t loop;
	uv_thread_t thread;
	uv_async_t ctl;                     /* main -> resolver thread: limits, stop */
	pthread_mutex_t lock;               /* guards the two below */
	bool stop;
	bool have_limits;
	struct resolver_limits limits;      /* from a reload, applied by on_ctl */
	uint32_t query_timeout_ms, request_timeout_ms;

	_Atomic(struct acl_copy *) acl;     /* read per query by the workers */

	/* Counters (relaxed atomics: workers and the resolver thread write them). */
	_Atomic uint64_t cache_answers, submitted, answered, busy, norec, secure_hits;
};

/* An authoritative answer whose CNAME chain leaves our zones (answer.c stops there, RFC
 * 1034 4.3.2 step 3.a), for a client allowed recursion: the target is resolved and its
 * answer appended, as BIND does when one server has both roles (docs/conformance.md).
 * Names are kept uncompressed. */
#define CHAIN_PREFIX_MAX 2048

struct chain_out {
	uint8_t target[DNAME_MAXLEN];       /* where the chain leaves our zones */
	uint8_t question[DNAME_MAXLEN + 4]; /* the client's question (name, type, class) */
	size_t qlen;
	uint8_t prefix[CHAIN_PREFIX_MAX];   /* our answer RRs: [owner][type][class][ttl][rdlen]
	                                       [rdata], CNAME/DNAME targets uncompressed */
	size_t prefixlen;
	uint16_t prefixn;
};

/* A question handed to the resolver, and then its answer on the way back. */
struct pending {
	struct pending *next;
	struct recurse_worker *rw;
	bool tcp;
	int fd;                             /* UDP: the socket the query came in on */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	union udp_ctrl ctrl;                /* UDP: leave from the address asked */
	socklen_t ctrllen;
	uint64_t conn_id;                   /* TCP */
	struct resolver_reply_params params;
	uint8_t *buf;                       /* the response, then the reply */
	size_t len, cap;
	int ede;
	uint8_t rcode;
	struct chain_out *chain;            /* a CNAME of ours out of our zones (owned), or NULL */
};

struct recurse_worker {
	struct worker *w;
	uv_async_t async;
	pthread_mutex_t lock;               /* guards closed and the list */
	bool closed;
	struct pending *head, *tail;
};

static struct recurse *rec;             /* set before the workers start, cleared after */

/* ---- the resolver thread ------------------------------------------------------------ */

static void
close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void
on_ctl(uv_async_t *a)
{
	struct recurse *rc = a->data;

	pthread_mutex_lock(&rc->lock);
	bool stop = rc->stop;
	if (rc->have_limits) {
		/* The resolver reads its (borrowed) conf on this thread only. */
		rc->conf->limits = rc->limits;
		rc->conf->query_timeout_ms = rc->query_timeout_ms;
		rc->conf->request_timeout_ms = rc->request_timeout_ms;
		rc->have_limits = false;
	}
	pthread_mutex_unlock(&rc->lock);
	if (!stop)
		return;
	/* Every resolution still running gets SERVFAIL through on_done (workers that have
	 * stopped drop it), then the transport's sockets close in the loop. */
	resolver_free(rc->r);
	rc->r = NULL;
	resolver_transport_free(rc->t);
	rc->t = NULL;
	uv_walk(&rc->loop, close_walk, NULL);
}

static void
resolver_main(void *arg)
{
	struct recurse *rc = arg;
	uv_run(&rc->loop, UV_RUN_DEFAULT);
}

/* ---- ACL ------------------------------------------------------------------------------- */

static struct acl_copy *
acl_copy_new(const struct resolver_acl *src, struct acl_copy *older)
{
	struct acl_copy *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	if (src->n > 0) {
		a->acl.v = malloc(src->n * sizeof(*a->acl.v));
		if (a->acl.v == NULL) {
			free(a);
			return NULL;
		}
		memcpy(a->acl.v, src->v, src->n * sizeof(*a->acl.v));
	}
	a->acl.n = src->n;
	a->older = older;
	return a;
}

static bool
client_allowed(const struct sockaddr *sa)
{
	const struct acl_copy *a = atomic_load_explicit(&rec->acl, memory_order_acquire);
	return a != NULL && resolver_acl_match(&a->acl, sa);
}

/* ---- start, reload, stop (main thread) ------------------------------------------------ */

bool
recurse_enabled(void)
{
	return rec != NULL;
}

int
recurse_start(struct daemon_conf *c)
{
	struct resolver_conf *conf = c->resolver;
	int rc;

	if (conf == NULL || !conf->enable)
		return 0;
	if (conf->nhints == 0) {
		log_err("resolver: enabled without root-hints: nothing to resolve from");
		return SP_ECONFIG;
	}
	struct recurse *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	c->resolver = NULL;
	r->conf = conf;
	struct acl_copy *acl = acl_copy_new(&conf->allow, NULL);
	if (acl == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	atomic_init(&r->acl, acl);
	if ((rc = resolver_cache_new(conf->cache_size, &r->cache)) != 0 ||
	    (rc = uv_loop_init(&r->loop)) != 0)
		goto fail;
	r->loop.data = r;
	if ((rc = resolver_transport_udp_tcp(&r->loop, &r->t)) != 0 ||
	    (rc = resolver_new(&r->loop, conf, r->cache, r->t, &r->r)) != 0 ||
	    (rc = uv_async_init(&r->loop, &r->ctl, on_ctl)) != 0)
		goto fail_loop;
	r->ctl.data = r;
	if ((rc = uv_thread_create(&r->thread, resolver_main, r)) != 0)
		goto fail_loop;
	rec = r;
	char from[64];
	resolver_addr_str(&conf->hints[0], from, sizeof(from));
	log_notice("resolver: recursion for %zu prefix(es), %zu root hint(s) (first %s), "
	           "validation %s, cache %zu bytes", conf->allow.n, conf->nhints, from,
	           conf->validation && conf->anchors != NULL ? "on" : "off", conf->cache_size);
	return 0;
fail_loop:
	log_err("resolver: cannot start: %s", sp_strerror(rc));
	resolver_free(r->r);
	resolver_transport_free(r->t);
	uv_walk(&r->loop, close_walk, NULL);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	uv_loop_close(&r->loop);
	resolver_cache_free(r->cache);
	free(acl->acl.v);
	free(acl);
	resolver_conf_free(conf);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return rc;
fail:
	log_err("resolver: cannot start: %s", sp_strerror(rc));
	resolver_cache_free(r->cache);
	if (acl != NULL) {
		free(acl->acl.v);
		free(acl);
	}
	resolver_conf_free(conf);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return rc;
}

static bool
hints_differ(const struct resolver_conf *a, const struct resolver_conf *b)
{
	if (a->nhints != b->nhints)
		return true;
	for (size_t i = 0; i < a->nhints; i++) {
		if (!resolver_addr_equal(&a->hints[i], &b->hints[i]))
			return true;
	}
	return false;
}

static bool
str_differ(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a != b : strcmp(a, b) != 0;
}

void
recurse_reload(struct daemon_conf *c)
{
	struct resolver_conf *n = c->resolver;
	c->resolver = NULL;
	if (rec == NULL) {
		if (n != NULL && n->enable)
			log_warn("resolver: enabled by the reload; restart signpostd to start it");
		resolver_conf_free(n);
		return;
	}
	if (n == NULL || !n->enable) {
		/* Turning recursion off: close the ACL now (everyone gets REFUSED); the
		 * thread itself goes at the next restart. */
		struct resolver_acl none = { 0 };
		struct acl_copy *a = acl_copy_new(&none, atomic_load(&rec->acl));
		if (a != NULL) {
			atomic_store_explicit(&rec->acl, a, memory_order_release);
			log_notice("resolver: disabled by the reload: recursion refused to everyone "
			           "(restart to stop the resolver thread)");
		}
		resolver_conf_free(n);
		return;
	}
	const struct resolver_conf *o = rec->conf;
	/* What the resolver and cache were built with: only a restart changes it. */
	if (hints_differ(o, n) || str_differ(o->trust_anchor, n->trust_anchor) ||
	    o->validation != n->validation || o->cache_size != n->cache_size ||
	    o->qname_minimisation != n->qname_minimisation || o->use_0x20 != n->use_0x20 ||
	    o->ttl_min != n->ttl_min || o->ttl_max != n->ttl_max ||
	    o->neg_ttl_max != n->neg_ttl_max || o->serve_stale != n->serve_stale ||
	    o->stale_max_age != n->stale_max_age ||
	    o->stale_answer_timeout_ms != n->stale_answer_timeout_ms || o->prefetch != n->prefetch)
		log_warn("resolver: root-hints, trust-anchor, validation, cache-size, TTL clamps, "
		         "serve-stale, prefetch, qname-minimisation or use-0x20 changed; restart "
		         "signpostd to apply those (allow, limits and timeouts apply now)");
	/* The ACLs replaced stay allocated until exit: a worker may be reading one, and
	 * reloads are few (bounded below). */
	unsigned depth = 0;
	for (struct acl_copy *a = atomic_load(&rec->acl); a != NULL; a = a->older)
		depth++;
	if (depth >= ACL_RETIRED_MAX) {
		log_err("resolver: too many reloads since start to change the ACL again; "
		        "restart signpostd");
	} else {
		struct acl_copy *a = acl_copy_new(&n->allow, atomic_load(&rec->acl));
		if (a != NULL)
			atomic_store_explicit(&rec->acl, a, memory_order_release);
		else
			log_err("resolver: out of memory: the previous ACL stays");
	}
	pthread_mutex_lock(&rec->lock);
	rec->limits = n->limits;
	rec->query_timeout_ms = n->query_timeout_ms;
	rec->request_timeout_ms = n->request_timeout_ms;
	rec->have_limits = true;
	pthread_mutex_unlock(&rec->lock);
	uv_async_send(&rec->ctl);
	resolver_conf_free(n);
}

void
recurse_stop(void)
{
	struct recurse *r = rec;
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_mutex_unlock(&r->lock);
	uv_async_send(&r->ctl);
	uv_thread_join(&r->thread);
	if (uv_loop_close(&r->loop) != 0)
		log_warn("resolver: loop still busy at exit");
	rec = NULL;
	resolver_cache_free(r->cache);
	for (struct acl_copy *a = atomic_load(&r->acl), *o; a != NULL; a = o) {
		o = a->older;
		free(a->acl.v);
		free(a);
	}
	resolver_conf_free(r->conf);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- control and metrics ------------------------------------------------------------------ */

int
recurse_flush(const char *name, size_t *flushed, char *msg, size_t msglen)
{
	uint8_t wire[DNAME_MAXLEN];

	*flushed = 0;
	if (rec == NULL) {
		snprintf(msg, msglen, "no resolver configured: there is no cache to flush");
		return -ENOENT;
	}
	if (name != NULL && dname_from_str(name, wire) == 0) {
		snprintf(msg, msglen, "'%s' is not a domain name", name);
		return -EINVAL;
	}
	*flushed = resolver_cache_flush(rec->cache, name != NULL ? wire : NULL);
	if (name != NULL)
		snprintf(msg, msglen, "flushed %zu cache entr%s of %s", *flushed,
		         *flushed == 1 ? "y" : "ies", name);
	else
		snprintf(msg, msglen, "flushed the whole cache (%zu entr%s)", *flushed,
		         *flushed == 1 ? "y" : "ies");
	return 0;
}

static void
counter(struct ops_buf *b, const char *name, const char *help, uint64_t v)
{
	ops_buf_metric(b, name, "counter", help, v);
}

void
recurse_metrics(struct ops_buf *b)
{
	struct recurse *r = rec;
	if (r == NULL)
		return;
	struct resolver_cache_stats cs;
	resolver_cache_stats(r->cache, &cs);
	/* The resolver's own counters are written by its thread: a relaxed, possibly torn,
	 * view, as for the workers' (ops.h). */
	struct resolver_stats rs = { 0 };
	if (r->r != NULL)
		resolver_get_stats(r->r, &rs);
	counter(b, "signpost_resolver_cache_answers_total",
	        "Recursive queries answered by a worker from the cache.",
	        atomic_load_explicit(&r->cache_answers, memory_order_relaxed));
	counter(b, "signpost_resolver_cache_misses_total",
	        "Recursive queries handed to the resolver thread.",
	        atomic_load_explicit(&r->submitted, memory_order_relaxed));
	counter(b, "signpost_resolver_resolved_total",
	        "Resolutions answered to clients after a cache miss.",
	        atomic_load_explicit(&r->answered, memory_order_relaxed));
	counter(b, "signpost_resolver_busy_total",
	        "Recursive queries answered SERVFAIL because the hand-over to the resolver failed.",
	        atomic_load_explicit(&r->busy, memory_order_relaxed));
	ops_buf_metric(b, "signpost_resolver_cache_entries", "gauge",
	               "Entries in the resolver cache.", cs.entries);
	ops_buf_metric(b, "signpost_resolver_cache_bytes", "gauge",
	               "Bytes held by the resolver cache.", cs.bytes);
	counter(b, "signpost_resolver_cache_evictions_total", "Cache entries evicted.",
	        cs.evictions);
	counter(b, "signpost_resolver_requests_total", "Questions the resolver thread took.",
	        rs.requests);
	counter(b, "signpost_resolver_joined_total",
	        "Questions joined to an identical one in flight.", rs.joined);
	counter(b, "signpost_resolver_upstream_queries_total", "Queries sent to authorities.",
	        rs.upstream_queries);
	counter(b, "signpost_resolver_upstream_timeouts_total", "Upstream queries timed out.",
	        rs.upstream_timeouts);
	counter(b, "signpost_resolver_tcp_retries_total", "Upstream queries retried over TCP.",
	        rs.tcp_retries);
	counter(b, "signpost_resolver_rejected_replies_total",
	        "Upstream replies rejected (wrong ID, question, malformed).", rs.rejected_replies);
	counter(b, "signpost_resolver_servfail_total", "Resolutions ending in SERVFAIL.",
	        rs.servfail);
	counter(b, "signpost_resolver_stale_answers_total", "Answers from stale data (RFC 8767).",
	        rs.stale_answers);
	counter(b, "signpost_resolver_limit_hits_total",
	        "Resolutions stopped by a work limit (NXNS, upstream queries, ...).", rs.limit_hits);
	counter(b, "signpost_resolver_prefetches_total", "Prefetches started.", rs.prefetches);
	counter(b, "signpost_resolver_validation_bogus_total",
	        "Answers DNSSEC validation found bogus (SERVFAIL).", rs.bogus);
	counter(b, "signpost_resolver_validation_secure_total",
	        "Answers DNSSEC validation found secure (AD), from resolutions and the cache.",
	        rs.secure + atomic_load_explicit(&r->secure_hits, memory_order_relaxed));
	counter(b, "signpost_resolver_aggressive_nsec_total",
	        "Negative answers proven from cached NSEC/NSEC3 records, not asked (RFC 8198).",
	        rs.aggressive_nsec);
}

/* ---- the worker side ---------------------------------------------------------------------- */

static void on_replies(uv_async_t *a);

int
recurse_worker_init(struct worker *w)
{
	if (rec == NULL)
		return 0;
	struct recurse_worker *rw = calloc(1, sizeof(*rw));
	if (rw == NULL)
		return -ENOMEM;
	rw->w = w;
	pthread_mutex_init(&rw->lock, NULL);
	int rc = uv_async_init(&w->loop, &rw->async, on_replies);
	if (rc != 0) {
		pthread_mutex_destroy(&rw->lock);
		free(rw);
		return rc;
	}
	rw->async.data = rw;
	w->rw = rw;
	return 0;
}

static void
pending_free(struct pending *p)
{
	free(p->buf);
	free(p->chain);
	free(p);
}

void
recurse_worker_stop(struct worker *w)
{
	struct recurse_worker *rw = w->rw;
	if (rw == NULL)
		return;
	pthread_mutex_lock(&rw->lock);
	rw->closed = true;
	pthread_mutex_unlock(&rw->lock);
	if (!uv_is_closing((uv_handle_t *)&rw->async))
		uv_close((uv_handle_t *)&rw->async, NULL);
}

void
recurse_worker_deinit(struct worker *w)
{
	struct recurse_worker *rw = w->rw;
	if (rw == NULL)
		return;
	/* The resolver thread has stopped (recurse_stop() came first): nobody appends. */
	for (struct pending *p = rw->head, *n; p != NULL; p = n) {
		n = p->next;
		pending_free(p);
	}
	pthread_mutex_destroy(&rw->lock);
	free(rw);
	w->rw = NULL;
}

/* ---- CNAME chains leaving our zones --------------------------------------------------- */

/* Reads the RR at r (in msg) and writes it uncompressed to w: owner, and the target of a
 * CNAME or DNAME; other RDATA as it is (names in the RDATA of the types the resolver and
 * answer.c write are never compressed there, RFC 3597 4 / RFC 4034). Sets *type and
 * owner. Returns false on a parse error or when it does not fit. */
static bool
rr_copy(struct wire_reader *r, const uint8_t *msg, size_t len, struct wire_writer *w,
        uint8_t *owner, uint16_t *type, uint8_t *target)
{
	uint8_t name[DNAME_MAXLEN];
	size_t nlen, tlen = 0;
	uint16_t rclass, rdlen;
	uint32_t ttl;
	const uint8_t *rd;

	if (wire_read_name(r, name, &nlen) != 0 || wire_read_u16(r, type) != 0 ||
	    wire_read_u16(r, &rclass) != 0 || wire_read_u32(r, &ttl) != 0 ||
	    wire_read_u16(r, &rdlen) != 0)
		return false;
	size_t rdpos = r->pos;
	if (wire_read_bytes(r, rdlen, &rd) != 0)
		return false;
	if (*type == 5 || *type == 39) {               /* CNAME, DNAME */
		struct wire_reader t;
		wire_reader_init(&t, msg, len);
		t.pos = rdpos;
		if (wire_read_name(&t, target, &tlen) != 0)
			return false;
	}
	if (owner != NULL)
		memcpy(owner, name, nlen);
	wire_put_name_comp(w, name);
	wire_put_u16(w, *type);
	wire_put_u16(w, rclass);
	wire_put_u32(w, ttl);
	if (tlen > 0) {
		wire_put_u16(w, (uint16_t)tlen);
		wire_put_bytes(w, target, tlen);
	} else {
		wire_put_u16(w, rdlen);
		wire_put_bytes(w, rd, rdlen);
	}
	return !w->overflow;
}

/* True when m (our authoritative answer, len octets) answers qtype with a CNAME chain whose
 * last target has no data here and no SOA says why: the target is outside our zones (a
 * NODATA or NXDOMAIN inside them carries the SOA, RFC 2308 2). Fills c. */
static bool
chain_leaves(const uint8_t *m, size_t len, struct chain_out *c)
{
	struct wire_reader r;
	struct wire_writer w;
	uint8_t cur[DNAME_MAXLEN], owner[DNAME_MAXLEN], target[DNAME_MAXLEN];
	size_t clen;
	uint16_t type, ty, cl, rdl;
	uint32_t ttl;
	const uint8_t *rd;

	uint16_t qtype;
	if (len < 12 || (m[2] & 0x06) != 0x04 || (m[3] & 0x0f) != 0 ||   /* AA, no TC, NOERROR */
	    (m[4] << 8 | m[5]) != 1)
		return false;
	uint16_t an = (uint16_t)(m[6] << 8 | m[7]), ns = (uint16_t)(m[8] << 8 | m[9]);
	if (an == 0)
		return false;
	wire_reader_init(&r, m, len);
	r.pos = 12;
	if (wire_read_name(&r, cur, &clen) != 0 || wire_read_u16(&r, &qtype) != 0 ||
	    wire_read_u16(&r, &cl) != 0 || r.pos - 12 > sizeof(c->question) ||
	    qtype == 5 || qtype == 255)
		return false;
	/* The common case leaves here: the first answer RR is no CNAME or DNAME. */
	size_t first = r.pos;
	if (wire_skip_name(&r) != 0 || wire_read_u16(&r, &ty) != 0 || (ty != 5 && ty != 39))
		return false;
	r.pos = first;
	memcpy(c->question, m + 12, r.pos - 12);
	c->qlen = r.pos - 12;
	wire_writer_init(&w, c->prefix, sizeof(c->prefix));
	c->prefixn = 0;
	for (uint16_t i = 0; i < an; i++, c->prefixn++) {
		if (!rr_copy(&r, m, len, &w, NULL, &type, target))
			return false;
	}
	c->prefixlen = w.len;
	for (uint16_t i = 0; i < ns; i++) {
		if (wire_skip_name(&r) != 0 || wire_read_u16(&r, &ty) != 0 ||
		    wire_read_u16(&r, &cl) != 0 || wire_read_u32(&r, &ttl) != 0 ||
		    wire_read_u16(&r, &rdl) != 0 || wire_read_bytes(&r, rdl, &rd) != 0 || ty == 6)
			return false;
	}
	/* Follow the chain through the copied RRs (uncompressed now). */
	bool moved = false;
	for (unsigned hop = 0; hop < 16; hop++) {
		struct wire_reader p;
		bool next = false;
		wire_reader_init(&p, c->prefix, c->prefixlen);
		for (uint16_t i = 0; i < c->prefixn; i++) {
			size_t ol;
			if (wire_read_name(&p, owner, &ol) != 0 || wire_read_u16(&p, &ty) != 0 ||
			    wire_read_u16(&p, &cl) != 0 || wire_read_u32(&p, &ttl) != 0 ||
			    wire_read_u16(&p, &rdl) != 0 || wire_read_bytes(&p, rdl, &rd) != 0)
				return false;
			if (!dname_equal(owner, cur))
				continue;
			if (ty == qtype)
				return false;           /* the chain ends in data here */
			if (ty == 5 && !next) {
				struct wire_reader t;
				wire_reader_init(&t, rd, rdl);
				if (wire_read_name(&t, target, &ol) != 0)
					return false;
				next = true;
			}
		}
		if (!next)
			break;
		memcpy(cur, target, dname_len(target));
		moved = true;
	}
	if (!moved)
		return false;
	memcpy(c->target, cur, dname_len(cur));
	return true;
}

/* Our chain, then the resolver's answer for its target (resp: header, one question,
 * answer and authority, as resolver_cache_answer() and struct resolver_result give them),
 * for the client's question, into out (cap octets): a response in the same form for
 * resolver_reply_finish(). AA is not set (part of the answer is not ours) and neither is
 * AD (our own zone data was not validated). Returns the length or 0. */
static size_t
chain_splice(const uint8_t *resp, size_t rlen, const struct chain_out *c, uint8_t *out, size_t cap)
{
	struct wire_reader r, p;
	struct wire_writer w;
	uint8_t owner[DNAME_MAXLEN], target[DNAME_MAXLEN];
	uint16_t type;
	uint32_t skip;

	if (rlen < 12 || (resp[4] << 8 | resp[5]) != 1)
		return 0;
	uint16_t an = (uint16_t)(resp[6] << 8 | resp[7]), ns = (uint16_t)(resp[8] << 8 | resp[9]);
	wire_writer_init(&w, out, cap);
	wire_put_u16(&w, 0);
	wire_put_u8(&w, resp[2] & (uint8_t)~0x04);
	wire_put_u8(&w, resp[3] & (uint8_t)~0x20);
	wire_put_u16(&w, 1);
	wire_put_u16(&w, (uint16_t)(c->prefixn + an));
	wire_put_u16(&w, ns);
	wire_put_u16(&w, 0);
	wire_put_bytes(&w, c->question, c->qlen);
	wire_writer_remember(&w, 12);
	wire_reader_init(&p, c->prefix, c->prefixlen);
	for (uint16_t i = 0; i < c->prefixn; i++) {
		if (!rr_copy(&p, c->prefix, c->prefixlen, &w, owner, &type, target))
			return 0;
	}
	wire_reader_init(&r, resp, rlen);
	r.pos = 12;
	if (wire_skip_name(&r) != 0 || wire_read_u32(&r, &skip) != 0)
		return 0;
	for (unsigned i = 0; i < (unsigned)an + ns; i++) {
		if (!rr_copy(&r, resp, rlen, &w, owner, &type, target))
			return 0;
	}
	return w.overflow ? 0 : w.len;
}

/* Resolver thread: keeps a copy of the response and passes it to the worker. */
static void
on_done(void *arg, const struct resolver_result *res)
{
	struct pending *p = arg;
	struct recurse_worker *rw = p->rw;

	if (p->chain != NULL) {
		/* Names come out uncompressed from the splice: room for the largest message. */
		p->cap = 65535 + REPLY_SLACK;
		p->buf = malloc(p->cap);
		if (p->buf != NULL)
			p->len = chain_splice(res->wire, res->len, p->chain, p->buf, 65535);
		if (p->buf != NULL && p->len == 0) {
			free(p->buf);
			p->buf = NULL;
		}
	} else {
		p->cap = res->len + REPLY_SLACK;
		p->buf = malloc(p->cap);
		if (p->buf != NULL) {
			memcpy(p->buf, res->wire, res->len);
			p->len = res->len;
		}
	}
	p->ede = res->ede;
	p->rcode = res->rcode;
	pthread_mutex_lock(&rw->lock);
	if (rw->closed) {
		pthread_mutex_unlock(&rw->lock);
		pending_free(p);
		return;
	}
	p->next = NULL;
	if (rw->tail != NULL)
		rw->tail->next = p;
	else
		rw->head = p;
	rw->tail = p;
	/* Under the lock: the worker cannot close the handle in between. */
	uv_async_send(&rw->async);
	pthread_mutex_unlock(&rw->lock);
}

static void
deliver(struct worker *w, struct pending *p)
{
	size_t len = 0;
	/* Out of memory in on_done: no reply, the client asks again. */
	if (p->buf != NULL)
		len = resolver_reply_finish(p->buf, p->len, p->cap, &p->params, p->ede);
	if (len == 0) {
		if (p->tcp)
			tcp_conn_release(w, p->conn_id);
		return;
	}
	uint8_t rcode = p->buf[3] & 0x0f;
	w->stats.rcode[rcode]++;
	if (p->buf[2] & 0x02)
		w->stats.truncated++;
	atomic_fetch_add_explicit(&rec->answered, 1, memory_order_relaxed);
	if (p->tcp) {
		tcp_conn_deliver(w, p->conn_id, p->buf, len);
		return;
	}
	struct iovec iov = { .iov_base = p->buf, .iov_len = len };
	struct msghdr mh = {
		.msg_name = &p->peer, .msg_namelen = p->peerlen, .msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = p->ctrllen > 0 ? p->ctrl.buf : NULL, .msg_controllen = p->ctrllen,
	};
	/* One datagram, non-blocking: a full socket buffer drops it, as for any answer. */
	if (sendmsg(p->fd, &mh, MSG_DONTWAIT) < 0)
		w->stats.dropped++;
}

static void
on_replies(uv_async_t *a)
{
	struct recurse_worker *rw = a->data;

	pthread_mutex_lock(&rw->lock);
	struct pending *p = rw->head;
	rw->head = rw->tail = NULL;
	pthread_mutex_unlock(&rw->lock);
	while (p != NULL) {
		struct pending *n = p->next;
		if (!rw->w->stopping || p->tcp)
			deliver(rw->w, p);
		pending_free(p);
		p = n;
	}
}

/* ---- the answer path: cache hits here, misses submitted ------------------------------------- */

/* The client's reply limits (RFC 6891 6.2.5: UDP at least 512, at most our size). */
static void
reply_params(const struct query *q, const uint8_t *pkt, bool tcp, uint16_t ours,
             struct resolver_reply_params *p)
{
	p->id = q->id;
	p->rd = q->rd;
	p->cd = q->cd;
	/* RFC 6840 5.8: AD to clients that set DO or AD. */
	p->ad_ok = q->dnssec_ok || (pkt[3] & 0x20) != 0;
	p->edns = q->edns;
	p->dnssec_ok = q->dnssec_ok;
	p->our_edns_size = ours;
	if (tcp) {
		p->max_size = 65535;
	} else if (!q->edns) {
		p->max_size = 512;
	} else {
		uint16_t m = q->edns_size < ours ? q->edns_size : ours;
		p->max_size = m < 512 ? 512 : m;
	}
}

/* The EDNS options the authoritative path put in its answer m (the REFUSED for a name
 * outside our zones), for the recursive answer to carry the same: NSID when asked and
 * configured (RFC 5001), our server COOKIE when cookies are on (RFC 7873 5.2), and the
 * client subnet echoed with SCOPE PREFIX-LENGTH 0: the resolver sends no ECS upstream,
 * so the answer is the same for every client (RFC 7871 7.2.1), which is what Unbound
 * answers without its subnet module too. Not an EDE the authoritative path may have
 * added: the resolver has its own. */
static void
copy_opts(const uint8_t *m, size_t len, struct resolver_reply_params *p)
{
	struct wire_reader r;
	uint16_t qd, n, type, rclass, rdlen;
	uint32_t ttl;
	const uint8_t *rd;

	p->opts_len = 0;
	if (len < 12)
		return;
	qd = (uint16_t)(m[4] << 8 | m[5]);
	n = (uint16_t)((m[6] << 8 | m[7]) + (m[8] << 8 | m[9]) + (m[10] << 8 | m[11]));
	wire_reader_init(&r, m, len);
	r.pos = 12;
	for (uint16_t i = 0; i < qd; i++) {
		if (wire_skip_name(&r) != 0 || wire_read_u32(&r, &ttl) != 0)
			return;
	}
	for (uint16_t i = 0; i < n; i++) {
		if (wire_skip_name(&r) != 0 || wire_read_u16(&r, &type) != 0 ||
		    wire_read_u16(&r, &rclass) != 0 || wire_read_u32(&r, &ttl) != 0 ||
		    wire_read_u16(&r, &rdlen) != 0 || wire_read_bytes(&r, rdlen, &rd) != 0)
			return;
		if (type != 41)
			continue;
		for (size_t o = 0; o + 4 <= rdlen;) {
			uint16_t code = (uint16_t)(rd[o] << 8 | rd[o + 1]);
			size_t ol = 4 + (size_t)(rd[o + 2] << 8 | rd[o + 3]);
			if (o + ol > rdlen)
				return;
			if (code != 15 /* EDE */ && p->opts_len + ol <= sizeof(p->opts)) {
				memcpy(p->opts + p->opts_len, rd + o, ol);
				if (code == OPT_ECS && ol >= 8)
					p->opts[p->opts_len + 7] = 0;       /* SCOPE 0 */
				p->opts_len = (uint16_t)(p->opts_len + ol);
			}
			o += ol;
		}
		return;
	}
}

enum route { ROUTE_AS_IS, ROUTE_DONE, ROUTE_LATER };

/* The common part of recurse_udp() and recurse_tcp(): decides, answers a hit into out
 * (*len), or submits a miss with a copy of origin (where the reply goes). */
static enum route
route(struct worker *w, const struct answer_client *cl, const uint8_t *pkt, size_t qlen,
      uint8_t *out, size_t cap, size_t *len, const struct pending *origin)
{
	if (*len < 12 || !client_allowed(cl->addr))
		return ROUTE_AS_IS;
	/* RA: recursion is available to this client (RFC 1035 4.1.1), on authoritative
	 * answers too, as BIND sets it when one server has both roles. */
	out[3] |= 0x80;
	/* Rate limiting slipped the answer (TC=1): as it is. Our zones answered: as it is,
	 * unless a CNAME chain left them (then its target is resolved and appended). */
	struct chain_out chain;
	bool via_chain = false;
	if ((out[2] & 0x02) != 0)
		return ROUTE_AS_IS;
	if (!w->actx.not_ours) {
		if (!chain_leaves(out, *len, &chain))
			return ROUTE_AS_IS;
		via_chain = true;
	}

	struct query q;
	if (query_parse(&q, pkt, qlen) != QUERY_OK || q.opcode != 0 || q.qclass != CLASS_IN ||
	    (via_chain && !q.rd))
		return ROUTE_AS_IS;
	struct resolver_question rq;
	if (via_chain)
		memcpy(rq.qname, chain.target, dname_len(chain.target));
	else
		memcpy(rq.qname, q.qname, q.qname_len);
	rq.qtype = q.qtype;
	rq.qclass = q.qclass;
	rq.dnssec_ok = q.dnssec_ok;
	rq.checking_disabled = q.cd;
	size_t alen = cl->addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                              : sizeof(struct sockaddr_in);
	memcpy(&rq.client.u, cl->addr, alen);
	rq.client.len = (socklen_t)alen;
	uint16_t ours = w->actx.conf->edns_size ? w->actx.conf->edns_size
	                                         : ANSWER_DEFAULT_EDNS_SIZE;
	struct resolver_reply_params params;
	reply_params(&q, pkt, cl->tcp, ours, &params);

	/* The REFUSED answer, kept: a cache miss may have scribbled on out, and RD=0 or a
	 * failed hand-over answer from it. It is a header, the question and an OPT. */
	uint8_t saved[1024];        /* header, question, OPT with NSID (at most 512) */
	if (*len > sizeof(saved))
		return ROUTE_AS_IS;
	memcpy(saved, out, *len);
	copy_opts(saved, *len, &params);
	/* The answer path already counted a REFUSED (or the NOERROR of a chain leaving our
	 * zones) for this query: it is ours now. */
	uint8_t counted = via_chain ? RCODE_NOERROR : RCODE_REFUSED;
	w->stats.rcode[counted]--;
	uint8_t rcode;
	bool refresh = false;
	size_t n;
	if (via_chain) {
		/* The target's cached answer into the upper half of out, then ours and it
		 * together into the lower half. */
		size_t half = cap / 2;
		n = resolver_cache_answer(rec->cache, &rq, out + half, half, &rcode, &refresh);
		if (n > 0)
			n = chain_splice(out + half, n, &chain, out, half - REPLY_SLACK);
	} else {
		n = resolver_cache_answer(rec->cache, &rq, out, cap, &rcode, &refresh);
	}
	if (n > 0) {
		/* AD in the cached response: validation found it secure (the client sees AD
		 * only with DO or AD, RFC 6840 5.8). */
		if (n >= 12 && (out[3] & 0x20) != 0)
			atomic_fetch_add_explicit(&rec->secure_hits, 1, memory_order_relaxed);
		n = resolver_reply_finish(out, n, cap, &params, -1);
		if (n > 0) {
			if (refresh)
				resolver_prefetch(rec->r, &rq);
			atomic_fetch_add_explicit(&rec->cache_answers, 1, memory_order_relaxed);
			w->stats.rcode[out[3] & 0x0f]++;
			if (out[2] & 0x02)
				w->stats.truncated++;
			*len = n;
			return ROUTE_DONE;
		}
	}
	/* RD=0 (RFC 1034 4.3.1): the cache may answer, but nothing is resolved for it; a
	 * miss keeps its REFUSED. Unbound's "allow_snoop" answers from the cache the same
	 * way; its plain "allow" refuses every RD=0 query (docs/conformance.md). */
	if (!q.rd) {
		memcpy(out, saved, *len);
		w->stats.rcode[RCODE_REFUSED]++;
		atomic_fetch_add_explicit(&rec->norec, 1, memory_order_relaxed);
		return ROUTE_DONE;
	}
	struct pending *p = malloc(sizeof(*p));
	if (p == NULL)
		goto servfail;
	*p = *origin;
	p->next = NULL;
	p->buf = NULL;
	p->chain = NULL;
	if (via_chain && (p->chain = malloc(sizeof(chain))) == NULL) {
		free(p);
		goto servfail;
	}
	if (via_chain)
		*p->chain = chain;
	p->rw = w->rw;
	p->tcp = cl->tcp;
	p->params = params;
	int rc = resolver_submit(rec->r, &rq, on_done, p);
	if (rc != 0) {
		/* resolver_submit() queues: a full resolver answers -EBUSY through on_done
		 * only later; here only allocation fails. */
		free(p->chain);
		free(p);
		goto servfail;
	}
	atomic_fetch_add_explicit(&rec->submitted, 1, memory_order_relaxed);
	return ROUTE_LATER;
servfail:
	atomic_fetch_add_explicit(&rec->busy, 1, memory_order_relaxed);
	memcpy(out, saved, *len);
	if (via_chain) {
		/* Our own answer, the chain without its target's data, rather than SERVFAIL. */
		w->stats.rcode[counted]++;
		return ROUTE_DONE;
	}
	out[3] = (uint8_t)((out[3] & 0xf0) | RCODE_SERVFAIL);
	w->stats.rcode[RCODE_SERVFAIL]++;
	return ROUTE_DONE;
}

size_t
recurse_udp(struct worker *w, int fd, const struct msghdr *rx, const struct answer_client *cl,
            const uint8_t *q, size_t qlen, uint8_t *out, size_t cap, size_t len)
{
	if (rec == NULL || w->rw == NULL)
		return len;
	struct pending origin;
	origin.fd = fd;
	origin.peerlen = rx->msg_namelen <= sizeof(origin.peer) ? rx->msg_namelen
	                                                         : sizeof(origin.peer);
	memcpy(&origin.peer, rx->msg_name, origin.peerlen);
	origin.ctrllen = rx->msg_controllen > 0 ? udp__reply_pktinfo(rx, &origin.ctrl) : 0;
	origin.conn_id = 0;
	return route(w, cl, q, qlen, out, cap, &len, &origin) == ROUTE_LATER ? 0 : len;
}

size_t
recurse_tcp(struct worker *w, uint64_t conn_id, const struct answer_client *cl,
            const uint8_t *q, size_t qlen, uint8_t *out, size_t cap, size_t len, bool *later)
{
	*later = false;
	if (rec == NULL || w->rw == NULL)
		return len;
	struct pending origin;
	origin.fd = -1;
	origin.peerlen = 0;
	origin.ctrllen = 0;
	origin.conn_id = conn_id;
	if (route(w, cl, q, qlen, out, cap, &len, &origin) != ROUTE_LATER)
		return len;
	*later = true;
	return 0;
}
