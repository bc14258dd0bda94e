/* gslb.h - global server load balancing: pools of members behind dynamic names, the
 * policies that choose among them, and the health checks that filter them.
 *
 * Three sides, three threads:
 *   - configuration (start-up / reload thread): gslb_conf_parse() turns the `gslb:` YAML
 *     node into a struct gslb_conf; nothing else reads YAML.
 *   - runtime (its own checker thread with its own libuv loop): gslb_runtime_start() runs
 *     the health checks, applies operator commands (drain, weight, external state) and
 *     publishes an immutable struct gslb_state with one atomic pointer store.
 *   - answer path (worker threads): gslb_state_acquire(), gslb_name_find(), gslb_pick();
 *     no allocation, no lock, bounded loops. Workers register a struct gslb_reader and call
 *     gslb_reader_quiesce() once per batch, after which the snapshots they held may be freed
 *     (quiescent-state-based reclamation).
 *
 * Errors are negative: -errno (-ENOENT for an unknown pool or member, -EINVAL for a bad
 * argument, -ENOMEM) or SP_ECONFIG (details logged as file:line: path: message). */
#ifndef SP_GSLB_H
#define SP_GSLB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <yaml.h>

#define GSLB_MAX_MEMBERS 64     /* per pool: bounds every loop of the answer path */
#define GSLB_MAX_ANSWERS 16     /* addresses in one answer (max-answers) */
#define GSLB_NAME_MAX 63        /* pool, member, check and region names */
#define GSLB_REASON_MAX 128

struct gslb_conf;       /* parsed configuration (immutable once parsed) */
struct gslb_runtime;    /* the checker thread and everything it owns */
struct gslb_state;      /* one published, immutable snapshot of pools and health */
struct gslb_reader;     /* one per worker thread that reads snapshots */
struct gslb_name;       /* a dynamic name inside a snapshot */

enum gslb_policy {
	GSLB_WEIGHTED = 0,      /* random in proportion to weight */
	GSLB_ROUND_ROBIN,       /* rotate the order per query */
	GSLB_FAILOVER,          /* priority groups: first group with min-healthy members */
	GSLB_HASH,              /* rendezvous hash of the client subnet / ECS address */
	GSLB_TOPOLOGY,          /* client subnet / ECS -> region -> members, region-order */
	GSLB_LOWEST_RTT,        /* lowest smoothed RTT measured by the checks */
};

/* ---- configuration ------------------------------------------------------------------ */

/* Parses the `gslb:` mapping node of doc; file names the YAML file in messages. Logs
 * every error as "file:line: gslb.pools.web.members[2].weight: must be 1..65535" and
 * returns SP_ECONFIG, or -ENOMEM. On success *out is a new configuration (the caller owns
 * it until it hands it to gslb_runtime_start() or gslb_runtime_apply()). */
int gslb_conf_parse(yaml_document_t *doc, yaml_node_t *node, const char *file,
                    struct gslb_conf **out);
/* Convenience for tools and tests: loads a YAML file or string whose top-level mapping
 * holds a `gslb:` key (text != NULL: parse text, file is only used in messages). */
int gslb_conf_load(const char *file, const char *text, struct gslb_conf **out);
void gslb_conf_free(struct gslb_conf *conf);

/* Calls fn for each dynamic name, in configuration order, with its wire form (lower
 * case), its presentation form and the YAML line that declared it, so the loader can
 * check that each name lies inside a served zone. Stops at and returns the first
 * non-zero value fn returns; 0 when all were visited. */
typedef int gslb_name_fn(void *arg, const uint8_t *wire, const char *text, int line);
int gslb_conf_foreach_name(const struct gslb_conf *conf, gslb_name_fn *fn, void *arg);

/* ---- the runtime (control side; any thread except the checker's own) ------------------ */

struct gslb_runtime_opts {
	const char *state_dir;  /* where drain/weight overrides persist; NULL: not persisted */
};

/* Takes conf (also on failure). Restores persisted drains, publishes the first snapshot
 * (so gslb_state_acquire() has one on return), then starts the checker thread. */
int gslb_runtime_start(struct gslb_conf *conf, const struct gslb_runtime_opts *opts,
                       struct gslb_runtime **out);
/* Stops the checks and the thread and frees everything. Every reader must have been
 * unregistered and no other thread may be inside (or later call) a command. NULL is a
 * no-op. */
void gslb_runtime_stop(struct gslb_runtime *rt);
/* Reload: takes new_conf. Members that still exist (same pool and member names) keep
 * their health, RTT, drain state and weight override; checks of removed members and
 * pools stop. Returns once the new snapshot is published. */
int gslb_runtime_apply(struct gslb_runtime *rt, struct gslb_conf *new_conf);

/* Operator commands. Each is posted to the checker loop and waits for its result: 0, or
 * -ENOENT for an unknown pool or member, -EINVAL for a bad value (weight 1..65535). The
 * change is published before the call returns; drains and weights are persisted. */
int gslb_drain(struct gslb_runtime *rt, const char *pool, const char *member);
int gslb_restore(struct gslb_runtime *rt, const char *pool, const char *member);
int gslb_set_weight(struct gslb_runtime *rt, const char *pool, const char *member,
                    unsigned weight);
/* Sets the state of a member whose check is of type external (-EINVAL otherwise). */
int gslb_set_external(struct gslb_runtime *rt, const char *pool, const char *member, bool up);

struct gslb_member_status {
	const char *pool, *member, *check;  /* check: NULL when the member is always up */
	bool up, drained;
	unsigned weight;
	int64_t rtt_us;                     /* smoothed; -1 if never measured */
	time_t since;                       /* when the current health state began */
	bool last_ok;                       /* result of the last check */
	const char *reason;                 /* why the last state change ("status 503") */
	const char *last_result;            /* what the last check said, even without a change */
	uint64_t transitions;               /* health state changes (up <-> down) since start */
};
/* Calls fn once per member, in configuration order, in the caller's thread, from a copy
 * taken on the checker thread (strings valid during the call only). */
typedef void gslb_status_fn(void *arg, const struct gslb_member_status *st);
int gslb_status(struct gslb_runtime *rt, gslb_status_fn *fn, void *arg);

/* ---- readers (worker threads) --------------------------------------------------------- */

/* Registers the calling thread as a reader (allocates: call at thread start, not on the
 * answer path). A reader is online once registered. */
struct gslb_reader *gslb_reader_register(struct gslb_runtime *rt);
void gslb_reader_unregister(struct gslb_reader *r);
/* Quiescent point: the reader holds no snapshot pointer acquired before this call. Call
 * once per batch. Lock-free, wait-free. */
void gslb_reader_quiesce(struct gslb_reader *r);
/* A reader about to block for a long time goes offline so it does not delay frees;
 * it must hold no snapshot pointer while offline. */
void gslb_reader_offline(struct gslb_reader *r);
void gslb_reader_online(struct gslb_reader *r);

/* The current snapshot (one atomic load). Valid until the caller's next quiescent point. */
const struct gslb_state *gslb_state_acquire(struct gslb_runtime *rt);

/* ---- the answer path ------------------------------------------------------------------ */

/* Looks qname (wire form, any case) up in the snapshot's name table: NULL when the name is
 * not dynamic. */
const struct gslb_name *gslb_name_find(const struct gslb_state *st, const uint8_t *qname);

struct gslb_client {
	const struct sockaddr *addr;        /* the client (or resolver) address; may be NULL */
	/* EDNS Client Subnet (RFC 7871) when the query carried one: family 1 (IPv4) or 2
	 * (IPv6) as in the option, the address bytes and the source prefix length. */
	bool has_ecs;
	uint16_t ecs_family;
	uint8_t ecs_source;
	uint8_t ecs_addr[16];
};

enum {
	GSLB_ANSWER_FALLBACK = 1,   /* no member was healthy: the pool's fallback answered */
	GSLB_ANSWER_SORRY = 2,      /* ... from the sorry pool */
};

struct gslb_answer {
	unsigned count;             /* addresses below; 0 = NODATA (see gslb_pick()) */
	uint16_t qtype;             /* A or AAAA */
	uint32_t ttl;
	uint8_t scope;              /* ECS scope prefix length for the response (RFC 7871 7.2.1) */
	unsigned flags;             /* GSLB_ANSWER_* */
	uint8_t addr[GSLB_MAX_ANSWERS][16];  /* RDATA: 4 octets for A, 16 for AAAA */
	uint16_t member[GSLB_MAX_ANSWERS];   /* global member index of each address */
};

/* Chooses the addresses for qname/qtype. Returns 0 and fills out, or -ENOENT when qname is
 * not dynamic. out->count is 0 (answer NODATA) only when qtype is not A/AAAA, no member of
 * the pool has an address of that family, or the pool says `fallback: none` and nothing is
 * healthy. Never allocates, never locks; loops are bounded by GSLB_MAX_MEMBERS. */
int gslb_pick(const struct gslb_state *st, const uint8_t *qname, uint16_t qtype,
              const struct gslb_client *cl, struct gslb_answer *out);
/* Same, with the name already found. */
void gslb_pick_name(const struct gslb_state *st, const struct gslb_name *name,
                    uint16_t qtype, const struct gslb_client *cl, struct gslb_answer *out);

/* ---- explain (the control thread; not the answer path) ----------------------------------- */

#define GSLB_TRACE_MAX (2 * GSLB_MAX_MEMBERS)  /* the pool's members and its sorry pool's */

enum gslb_trace_state {
	GSLB_TM_CANDIDATE = 0,  /* healthy and not drained: the policy could choose it */
	GSLB_TM_DOWN,           /* its health check says down */
	GSLB_TM_DRAINED,        /* drained by an operator: skipped */
	GSLB_TM_NO_FAMILY,      /* no address of the query's family */
	GSLB_TM_ZERO_WEIGHT,    /* weight 0 */
};

/* One member as the decision saw it. Strings point into the snapshot's configuration:
 * valid while the caller holds the snapshot. */
struct gslb_trace_member {
	const char *pool, *name;
	const char *region;         /* NULL: no region */
	unsigned index;             /* global member index, as in gslb_answer.member */
	enum gslb_trace_state state;
	bool up, drained;
	unsigned weight, priority;
	int64_t rtt_us;             /* smoothed check RTT; -1 unmeasured */
	bool scored;                /* hash: score is set */
	double score;               /* hash: rendezvous score weight / -ln(u); highest wins */
	int answer;                 /* position in the answer; -1 not in it */
};

enum gslb_trace_region_source { GSLB_REGION_NONE = 0, GSLB_REGION_CIDR, GSLB_REGION_GEOIP };

enum {
	GSLB_STEP_NONE = -2,        /* topology did not run */
	GSLB_STEP_ANY = -1,         /* no region had a candidate: all candidates */
	/* 0: the client's own region answered; n >= 1: entry n of the region-order */
};

/* Why gslb_pick() chose what it chose, filled by gslb_explain() from the same code. */
struct gslb_trace {
	enum gslb_policy policy;
	const char *name, *pool;    /* the dynamic name (presentation form) and its pool */
	unsigned min_healthy, max_answers;
	bool not_address_type;      /* qtype is not A/AAAA: NODATA */
	bool no_family;             /* no member has an address of the family: NODATA */
	unsigned candidates;        /* healthy, undrained members of the pool (family's) */
	unsigned drained;           /* members of the pool skipped because drained */
	/* The client address the decision used: the ECS prefix when present (RFC 7871),
	 * else the source address; family 0: unknown. */
	int client_family;
	bool client_ecs;
	uint8_t client_addr[16];
	uint8_t client_source;
	/* hash: the subnet hashed (client_addr cut to hash_prefix bits) and its key. */
	uint8_t hash_prefix;
	uint64_t hash_key;
	/* topology */
	enum gslb_trace_region_source region_source;
	const char *region;         /* the client's region; NULL: no match */
	uint8_t region_prefix;      /* of the matched CIDR entry or GeoIP network */
	uint8_t region_net[16];     /* the matched CIDR entry's network */
	int region_line;            /* YAML line of the matched CIDR entry */
	char region_country[3];     /* the GeoIP country code that matched */
	bool order_global;          /* the region-order used is the global one */
	int region_step;            /* GSLB_STEP_* or n >= 0 (see above) */
	const char *answered_region;
	/* failover: the priority groups in ascending order, their candidates, and the one
	 * that answered (group_under_min: none had min-healthy, the first with any did) */
	unsigned n_groups;
	struct { unsigned priority, healthy; } groups[GSLB_MAX_MEMBERS];
	bool group_chosen, group_under_min;
	unsigned group;
	/* fallback: flags as in gslb_answer; fallback_none: `fallback: none` left it empty;
	 * fail_open: every undrained member (or every member) answered */
	unsigned flags;
	bool fallback_none, fail_open;
	const char *sorry_pool;
	uint8_t scope;
	unsigned n;
	struct gslb_trace_member m[GSLB_TRACE_MAX];
};

/* gslb_pick() that also fills tr (which may be NULL) with why: it runs the very code
 * gslb_pick() runs, so the two cannot disagree (given the same generator seed for the
 * weighted and round-robin draws). Returns 0, or -ENOENT when qname is not dynamic. */
int gslb_explain(const struct gslb_state *st, const uint8_t *qname, uint16_t qtype,
                 const struct gslb_client *cl, struct gslb_answer *out, struct gslb_trace *tr);

/* Seeds the calling thread's generator (tests; threads otherwise seed themselves from
 * getrandom() on first use). */
void gslb_pick_seed(uint64_t seed);

#endif
