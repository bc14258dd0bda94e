/* iter.h - the iterator's shared structures (resolver/iter.c, resolver/servers.c,
 * resolver/resolver.c). Internal to resolver/. Everything here runs on the resolver's
 * loop thread. */
#ifndef SP_RESOLVER_ITER_H
#define SP_RESOLVER_ITER_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include <ldns/ldns.h>

#include "resolver/dnssec.h"
#include "resolver/internal.h"

#define ITER_MAX_SERVERS 16     /* NS names (and addresses) used per delegation */
#define ITER_MAX_TRIES 2        /* sends to one server per task before it is skipped */
#define ITER_RTT_BAND 400       /* ms: servers this close to the fastest are chosen at random */
#define ITER_RTT_UNKNOWN 376    /* ms: assumed RTT of a server never asked (as Unbound) */
#define ITER_RTO_MAX 12000
#define ITER_LAME_TTL 900       /* s: a server lame for a zone is skipped this long */

#define ITER_LAME_SLOTS 4       /* zones one address can be remembered lame for */
#define INFRA_BUCKETS 1024
#define INFRA_MAX 4096          /* addresses remembered; idle ones are evicted past this */

/* What we know of one upstream address (the "infrastructure cache"). Allocated one by
 * one, so pointers stay valid until the entry is evicted (never while queries to it are
 * outstanding). */
struct infra {
	struct infra *hnext;
	struct resolver_addr addr;
	uint32_t srtt, rttvar, rto;     /* ms */
	bool known;                     /* answered at least once */
	bool no_edns;                   /* failed EDNS: ask without OPT (RFC 6891 7) */
	unsigned outstanding;
	unsigned timeouts;              /* consecutive */
	struct {
		uint8_t zone[DNAME_MAXLEN];
		int64_t until_ms;
	} lame[ITER_LAME_SLOTS];
};

/* One NS of the delegation being used. */
struct nserver {
	uint8_t name[DNAME_MAXLEN];
	struct resolver_addr addr;
	bool has_addr;
	bool fetching, fetched;         /* address sub-query started / finished */
	bool want_aaaa;                 /* the A fetch gave nothing: try AAAA */
	unsigned tries;
};

struct request;

/* One name/type being resolved: the client's question, or an NS name's address. */
struct task {
	struct request *req;
	struct task *parent;            /* waiting for this NS address, or NULL */
	unsigned parent_ns;             /* index in parent->ns */
	uint8_t qname[DNAME_MAXLEN];    /* current name (moves along CNAMEs) */
	uint16_t qtype, qclass;
	uint8_t zone[DNAME_MAXLEN];     /* the zone cut being asked */
	struct nserver ns[ITER_MAX_SERVERS];
	unsigned nns;
	unsigned ns_fetches;            /* glueless fetches started for this delegation */
	unsigned pending;               /* sub-tasks outstanding */
	unsigned qmin_labels;           /* labels of the name asked, 0: full name */
	bool qmin_off;
	/* the query in flight */
	void *handle;
	struct infra *inf;
	unsigned cur;                   /* index in ns */
	uint8_t sent[320];              /* header, question, OPT: at most 12+255+4+11 */
	size_t sentlen;
	uint8_t sname[DNAME_MAXLEN];    /* name as sent (0x20 case) */
	uint16_t stype, sid;
	bool edns, tcp;
	uint64_t sent_at_ms;
	bool done, failed;
	bool refresh;                   /* prefetch: skip the cache once */
	bool probe_noedns;              /* next try to a silent new server goes without OPT */
};

struct waiter {
	struct waiter *next;
	resolver_done_fn *done;
	void *arg;
	struct resolver_question q;
	bool answered;
};

#define REQ_MAX_TASKS 48

#define REQ_BUCKETS 4096

struct request {
	struct request *next, *prev;    /* every request (for shutdown) */
	struct request *hnext;          /* same bucket of resolver.rtab (for joins) */
	unsigned bucket;
	struct resolver *r;
	struct resolver_question key;   /* lower-case qname */
	struct waiter *waiters;
	struct task *tasks[REQ_MAX_TASKS];
	unsigned ntasks;
	unsigned queries, referrals, cnames, ns_fetches;
	bool finished, answered, background;
	uv_timer_t stale_timer, timeout_timer, start_timer;
	unsigned timers_open;
	int64_t started_ms;
	int sec;                        /* enum dnssec_result once validated, -1 before */
	int sec_ede;
	void *vjob;                     /* validation in progress (secure.c) */
};

struct client_count {
	struct client_count *next;
	struct resolver_addr addr;
	unsigned n;
};

struct submit_node {
	struct submit_node *next;
	struct resolver_question q;
	resolver_done_fn *done;
	void *arg;
};

struct resolver {
	uv_loop_t *loop;
	const struct resolver_conf *conf;
	struct resolver_cache *cache;
	struct resolver_transport *t;
	struct resolver_stats stats;
	struct infra *infra[INFRA_BUCKETS];
	size_t ninfra;
	unsigned infra_cursor;          /* where eviction looks next */
	struct request *requests;
	struct request *rtab[REQ_BUCKETS];
	unsigned nrequests;
	struct client_count *clients[256];
	bool primed, priming;
	struct keyzone *keyzones;       /* validated zone keys (secure.c) */
	struct nseczone *nseczones;     /* validated NSEC/NSEC3 records (secure.c, RFC 8198) */
	struct dnssec_config dcfg;
	/* resolver_submit() */
	uv_async_t async;
	pthread_mutex_t qlock;
	struct submit_node *qhead, *qtail;
	bool closing;
};

/* servers.c */
/* The entry for a (created when new), or NULL when out of memory or full of busy ones. */
struct infra *iter__infra(struct resolver *r, const struct resolver_addr *a);
void iter__infra_free(struct resolver *r);
void iter__rtt_update(struct infra *inf, uint32_t rtt_ms);
void iter__timeout(struct infra *inf);
bool iter__is_lame(struct resolver *r, const uint8_t *zone, const struct resolver_addr *a);
void iter__set_lame(struct resolver *r, const uint8_t *zone, const struct resolver_addr *a);
/* Picks a server of t by RTT band with exploration; -1 when none is usable now. */
int iter__select(struct resolver *r, struct task *t);
uint16_t iter__random16(struct resolver *r);

/* iter.c */
void iter__task_start(struct task *t);
struct task *iter__task_new(struct request *req, struct task *parent, const uint8_t *qname,
                            uint16_t qtype, uint16_t qclass);
void iter__task_cancel(struct task *t);

/* resolver.c: the root task of req ended (ok or not); then validation, if wanted. */
void resolver__request_done(struct request *req, bool ok);
/* resolver.c: answers every waiter (from the cache when ok) and ends req. */
void resolver__request_finish(struct request *req, bool ok);

/* secure.c */
bool secure__wanted(const struct request *req);
void secure__start(struct request *req);
void secure__detach(void *job);
void secure__fini(struct resolver *r);
/* Aggressive use of validated NSEC/NSEC3 records (RFC 8198): when the records remembered
 * for the zone of t's name prove it has no t->qtype (or does not exist), caches the
 * negative answer with that proof (validation checks it again like any upstream answer)
 * and returns true: no upstream query is needed. */
bool secure__aggressive(struct task *t);

#endif
