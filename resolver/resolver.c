/* resolver.c - client questions: the cache first, then one resolution per distinct
 * question with every identical one joined to it, the per-client and global caps, the
 * answer composed from the cache, serve-stale (RFC 8767: stale answer after
 * stale-answer-timeout, or when resolution fails), prefetch, and resolver_submit() for
 * worker threads. Resolver loop thread, except resolver_submit(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/wire.h"
#include "resolver/iter.h"

#define RESPONSE_MAX 65535
#define JUST_RESOLVED_MS 5000   /* entries this far past expiry still answer the
                                   resolution that fetched them (TTL 0 data) */

static void on_async(uv_async_t *a);

int
resolver_new(uv_loop_t *loop, const struct resolver_conf *conf, struct resolver_cache *cache,
             struct resolver_transport *t, struct resolver **out)
{
	struct resolver *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->loop = loop;
	r->conf = conf;
	r->cache = cache;
	r->t = t;
	cache__set_clamps(cache, conf->ttl_min, conf->ttl_max, conf->neg_ttl_max,
	                  conf->stale_max_age);
	cache__set_prefetch(cache, conf->prefetch);
	cache__set_validating(cache, conf->validation && conf->anchors != NULL);
	dnssec_config_default(&r->dcfg);
	pthread_mutex_init(&r->qlock, NULL);
	int rc = uv_async_init(loop, &r->async, on_async);
	if (rc != 0) {
		pthread_mutex_destroy(&r->qlock);
		free(r);
		return rc;
	}
	r->async.data = r;
	*out = r;
	return 0;
}

static void
on_async_closed(uv_handle_t *h)
{
	struct resolver *r = h->data;
	pthread_mutex_destroy(&r->qlock);
	secure__fini(r);
	iter__infra_free(r);
	free(r);
}

static void request_finish(struct request *req, bool ok);
static void background_refresh(struct resolver *r, const struct resolver_question *q);

/* Empties the queue other threads submit to (resolver_submit()), returning its nodes. */
static struct submit_node *
take_submitted(struct resolver *r)
{
	pthread_mutex_lock(&r->qlock);
	struct submit_node *n = r->qhead;
	r->qhead = r->qtail = NULL;
	pthread_mutex_unlock(&r->qlock);
	return n;
}

void
resolver_free(struct resolver *r)
{
	if (r == NULL)
		return;
	r->closing = true;
	while (r->requests != NULL) {
		struct request *req = r->requests;
		req->background = false;
		request_finish(req, false);
	}
	struct submit_node *n = take_submitted(r);
	while (n != NULL) {
		struct submit_node *nx = n->next;
		free(n);
		n = nx;
	}
	for (int i = 0; i < 256; i++) {
		for (struct client_count *c = r->clients[i], *nx; c != NULL; c = nx) {
			nx = c->next;
			free(c);
		}
	}
	uv_close((uv_handle_t *)&r->async, on_async_closed);
}

void
resolver_get_stats(const struct resolver *r, struct resolver_stats *out)
{
	*out = r->stats;
}

/* ---- per-client counts ------------------------------------------------------------- */

static unsigned
addr_bucket(const struct resolver_addr *a)
{
	const uint8_t *p;
	size_t n;
	uint32_t h = 2166136261u;

	if (a->u.sa.sa_family == AF_INET6) {
		p = (const uint8_t *)&a->u.sin6.sin6_addr;
		n = 16;
	} else {
		p = (const uint8_t *)&a->u.sin.sin_addr;
		n = 4;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h & 255;
}

/* Adjusts the count of resolutions waited on by a's host (port ignored). */
static bool
client_add(struct resolver *r, const struct resolver_addr *a, int delta)
{
	struct resolver_addr host = *a;
	host.u.sin.sin_port = 0;
	if (host.len == 0)
		return true;
	struct client_count **pp = &r->clients[addr_bucket(&host)];
	for (; *pp != NULL; pp = &(*pp)->next) {
		if (resolver_addr_equal(&(*pp)->addr, &host))
			break;
	}
	if (*pp == NULL) {
		if (delta < 0)
			return true;
		struct client_count *c = calloc(1, sizeof(*c));
		if (c == NULL)
			return false;
		c->addr = host;
		*pp = c;
	}
	struct client_count *c = *pp;
	if (delta > 0 && c->n >= r->conf->limits.max_per_client)
		return false;
	c->n += (unsigned)delta;
	if (c->n == 0) {
		*pp = c->next;
		free(c);
	}
	return true;
}

/* ---- answering --------------------------------------------------------------------- */

/* SERVFAIL with the question, for a resolution that failed with nothing stale to give. */
static size_t
servfail(const struct resolver_question *q, uint8_t *buf, size_t cap)
{
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, 0x8180 | LDNS_RCODE_SERVFAIL);
	wire_put_u16(&w, 1);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, 0);
	wire_put_name(&w, q->qname);
	wire_put_u16(&w, q->qtype);
	wire_put_u16(&w, q->qclass);
	return w.overflow ? 0 : w.len;
}

/* Answers one waiter from the cache (fresh, or stale when allow_stale), else SERVFAIL;
 * validation's verdict decides AD or SERVFAIL (RFC 4035 5.5). */
static void
answer_waiter(struct request *req, struct waiter *w, bool resolved, bool allow_stale)
{
	struct resolver *r = req->r;
	static uint8_t buf[RESPONSE_MAX];   /* loop thread only; borrowed by done() */
	struct resolver_result res = { .wire = buf, .ede = RESOLVER_EDE_NONE };
	bool stale = false, prefetch = false;
	int64_t grace = resolved ? -JUST_RESOLVED_MS : 0;

	res.len = cache__compose(r->cache, &w->q, buf, sizeof(buf), grace, &res.rcode, &stale,
	                         &prefetch);
	if (res.len == 0 && allow_stale && r->conf->serve_stale) {
		res.len = cache__compose(r->cache, &w->q, buf, sizeof(buf),
		                         (int64_t)r->conf->stale_max_age * 1000, &res.rcode, &stale,
		                         &prefetch);
		if (res.len != 0) {
			res.stale = true;
			res.ede = RESOLVER_EDE_STALE_ANSWER;
			r->stats.stale_answers++;
		}
	}
	if (req->sec == DNSSEC_BOGUS) {
		res.len = servfail(&w->q, buf, sizeof(buf));
		res.rcode = LDNS_RCODE_SERVFAIL;
		res.ede = req->sec_ede >= 0 ? req->sec_ede : RESOLVER_EDE_DNSSEC_BOGUS;
		res.stale = false;
		r->stats.bogus++;
	} else if (res.len == 0) {
		res.len = servfail(&w->q, buf, sizeof(buf));
		res.rcode = LDNS_RCODE_SERVFAIL;
		res.ede = RESOLVER_EDE_NO_REACHABLE_AUTHORITY;
		r->stats.servfail++;
	}
	res.ad = req->sec == DNSSEC_SECURE && res.rcode != LDNS_RCODE_SERVFAIL && !res.stale;
	if (res.ad) {
		buf[3] |= 0x20;
		r->stats.secure++;
	}
	w->answered = true;
	w->done(w->arg, &res);
	if (prefetch && !r->closing)
		background_refresh(r, &w->q);
}

static void
on_timer_closed(uv_handle_t *h)
{
	struct request *req = h->data;
	if (--req->timers_open > 0)
		return;
	for (unsigned i = 0; i < req->ntasks; i++)
		free(req->tasks[i]);
	free(req);
}

static unsigned
key_bucket(const struct resolver_question *k)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0, n = dname_len(k->qname); i < n; i++)
		h = (h ^ k->qname[i]) * 16777619u;     /* keys are lower case */
	h = (h ^ k->qtype) * 16777619u;
	return h % REQ_BUCKETS;
}

static void
request_unlink(struct request *req)
{
	struct resolver *r = req->r;
	struct request **pp = &r->rtab[req->bucket];
	while (*pp != NULL && *pp != req)
		pp = &(*pp)->hnext;
	if (*pp == req)
		*pp = req->hnext;
	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		r->requests = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	r->nrequests--;
}

/* Ends req: every task stops, every waiter not yet answered is answered (from the cache
 * when ok; stale data or SERVFAIL otherwise), and the memory goes once the timers have
 * closed (so callers up the stack may still look at their task). */
static void
request_finish(struct request *req, bool ok)
{
	struct resolver *r = req->r;

	if (req->finished)
		return;
	req->finished = true;
	if (req->vjob != NULL) {
		secure__detach(req->vjob);
		req->vjob = NULL;
	}
	for (unsigned i = 0; i < req->ntasks; i++)
		iter__task_cancel(req->tasks[i]);
	request_unlink(req);
	uv_timer_stop(&req->stale_timer);
	uv_timer_stop(&req->timeout_timer);
	uv_timer_stop(&req->start_timer);
	struct waiter *w = req->waiters;
	req->waiters = NULL;
	while (w != NULL) {
		struct waiter *nx = w->next;
		if (!w->answered && !r->closing)
			answer_waiter(req, w, ok, !ok);
		else if (!w->answered)
			answer_waiter(req, w, false, false);
		client_add(r, &w->q.client, -1);
		free(w);
		w = nx;
	}
	uv_close((uv_handle_t *)&req->stale_timer, on_timer_closed);
	uv_close((uv_handle_t *)&req->timeout_timer, on_timer_closed);
	uv_close((uv_handle_t *)&req->start_timer, on_timer_closed);
}

void
resolver__request_done(struct request *req, bool ok)
{
	if (ok && !req->finished && req->vjob == NULL && secure__wanted(req))
		secure__start(req);     /* it calls resolver__request_finish() */
	else
		request_finish(req, ok);
}

void
resolver__request_finish(struct request *req, bool ok)
{
	request_finish(req, ok);
}

/* RFC 8767 5: the client gets stale data after stale-answer-timeout; resolution goes on
 * and refreshes the cache for the next client. */
static void
on_stale_timer(uv_timer_t *tm)
{
	struct request *req = tm->data;
	struct resolver *r = req->r;
	static uint8_t buf[RESPONSE_MAX];

	for (struct waiter *w = req->waiters; w != NULL; w = w->next) {
		if (w->answered)
			continue;
		struct resolver_result res = { .wire = buf, .ede = RESOLVER_EDE_STALE_ANSWER };
		bool stale, prefetch;
		res.len = cache__compose(r->cache, &w->q, buf, sizeof(buf),
		                         (int64_t)r->conf->stale_max_age * 1000, &res.rcode, &stale,
		                         &prefetch);
		if (res.len == 0)
			continue;
		res.stale = stale;
		r->stats.stale_answers++;
		w->answered = true;
		w->done(w->arg, &res);
	}
}

static void
on_request_timeout(uv_timer_t *tm)
{
	request_finish(tm->data, false);
}

static void
on_start_timer(uv_timer_t *tm)
{
	struct request *req = tm->data;
	iter__task_start(req->tasks[0]);
}

/* Starts the root task on the next loop turn, so done() never runs inside
 * resolver_query() and a deep call chain never builds up. */
static void
request_go(struct request *req)
{
	uv_timer_start(&req->start_timer, on_start_timer, 0, 0);
}

static struct request *
request_find(struct resolver *r, const struct resolver_question *key)
{
	for (struct request *req = r->rtab[key_bucket(key)]; req != NULL; req = req->hnext) {
		if (req->key.qtype == key->qtype && req->key.qclass == key->qclass &&
		    req->key.checking_disabled == key->checking_disabled &&
		    dname_equal(req->key.qname, key->qname))
			return req;
	}
	return NULL;
}

static struct request *
request_new(struct resolver *r, const struct resolver_question *key)
{
	struct request *req = calloc(1, sizeof(*req));
	if (req == NULL)
		return NULL;
	req->r = r;
	req->key = *key;
	req->sec = -1;
	req->sec_ede = -1;
	req->started_ms = cache__now_ms(r->cache);
	uv_timer_init(r->loop, &req->stale_timer);
	uv_timer_init(r->loop, &req->timeout_timer);
	uv_timer_init(r->loop, &req->start_timer);
	req->stale_timer.data = req->timeout_timer.data = req->start_timer.data = req;
	req->timers_open = 3;
	req->next = r->requests;
	if (r->requests != NULL)
		r->requests->prev = req;
	r->requests = req;
	req->bucket = key_bucket(key);
	req->hnext = r->rtab[req->bucket];
	r->rtab[req->bucket] = req;
	r->nrequests++;
	return req;
}

/* Starts a resolution of key with no waiter yet (client, prefetch or priming). */
static struct request *
request_start(struct resolver *r, const struct resolver_question *key)
{
	struct request *req = request_new(r, key);
	if (req == NULL)
		return NULL;
	struct task *t = iter__task_new(req, NULL, key->qname, key->qtype, key->qclass);
	if (t == NULL) {
		request_finish(req, false);
		return NULL;
	}
	uv_timer_start(&req->timeout_timer, on_request_timeout, r->conf->request_timeout_ms, 0);
	if (r->conf->serve_stale)
		uv_timer_start(&req->stale_timer, on_stale_timer, r->conf->stale_answer_timeout_ms, 0);
	return req;
}

/* Priming (RFC 8109): ask the hints for the root NS set once, so the root servers and
 * their addresses come from the root itself rather than from configuration. */
static void
prime(struct resolver *r)
{
	/* CD=1: priming data serve iteration only, so they are not validated. */
	struct resolver_question pq = { .qname = { 0 }, .qtype = LDNS_RR_TYPE_NS,
	                                 .qclass = LDNS_RR_CLASS_IN, .checking_disabled = true };
	r->primed = true;
	struct request *req = request_start(r, &pq);
	if (req != NULL) {
		req->background = true;
		request_go(req);
	}
}

static void
background_refresh(struct resolver *r, const struct resolver_question *q)
{
	struct resolver_question key = *q;
	dname_copy_lower(key.qname, q->qname);
	if (request_find(r, &key) != NULL || r->nrequests >= r->conf->limits.max_pending)
		return;
	struct request *req = request_start(r, &key);
	if (req == NULL)
		return;
	req->background = true;
	r->stats.prefetches++;
	/* Skip the cache for this one: the point is to fetch a fresh copy. */
	req->tasks[0]->refresh = true;
	request_go(req);
}

int
resolver_query(struct resolver *r, const struct resolver_question *q, resolver_done_fn *done,
               void *arg)
{
	struct resolver_question key = *q;

	r->stats.requests++;
	dname_copy_lower(key.qname, q->qname);
	if (!r->primed && r->conf->nhints > 0)
		prime(r);
	struct request *req = request_find(r, &key);
	if (req == NULL && r->nrequests >= r->conf->limits.max_pending) {
		r->stats.limit_hits++;
		return -EBUSY;
	}
	if (!client_add(r, &q->client, 1)) {
		r->stats.limit_hits++;
		return -EBUSY;
	}
	struct waiter *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		client_add(r, &q->client, -1);
		return -ENOMEM;
	}
	w->done = done;
	w->arg = arg;
	w->q = *q;
	if (req != NULL) {
		r->stats.joined++;
		w->next = req->waiters;
		req->waiters = w;
		return 0;
	}
	req = request_start(r, &key);
	if (req == NULL) {
		client_add(r, &q->client, -1);
		free(w);
		return -ENOMEM;
	}
	req->waiters = w;
	request_go(req);
	return 0;
}

/* ---- resolver_submit() ------------------------------------------------------------- */

int
resolver_submit(struct resolver *r, const struct resolver_question *q, resolver_done_fn *done,
                void *arg)
{
	struct submit_node *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	n->q = *q;
	n->done = done;
	n->arg = arg;
	pthread_mutex_lock(&r->qlock);
	if (r->qtail != NULL)
		r->qtail->next = n;
	else
		r->qhead = n;
	r->qtail = n;
	pthread_mutex_unlock(&r->qlock);
	return uv_async_send(&r->async);
}

static void
on_async(uv_async_t *a)
{
	struct resolver *r = a->data;

	struct submit_node *n = take_submitted(r);
	while (n != NULL) {
		struct submit_node *nx = n->next;
		if (n->done == NULL) {
			background_refresh(r, &n->q);
		} else if (resolver_query(r, &n->q, n->done, n->arg) != 0) {
			/* Over a limit: the client gets SERVFAIL now rather than nothing. */
			static uint8_t buf[DNAME_MAXLEN + 16];
			struct resolver_result res = { .wire = buf, .rcode = LDNS_RCODE_SERVFAIL,
			                               .ede = RESOLVER_EDE_NONE };
			res.len = servfail(&n->q, buf, sizeof(buf));
			n->done(n->arg, &res);
		}
		free(n);
		n = nx;
	}
}

int
resolver_prefetch(struct resolver *r, const struct resolver_question *q)
{
	return resolver_submit(r, q, NULL, NULL);
}
