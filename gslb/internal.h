/* internal.h - what the files of gslb/ share: the parsed configuration, the published
 * snapshot and the checker thread's runtime. Only gslb/ and its unit tests include this. */
#ifndef SP_GSLB_INTERNAL_H
#define SP_GSLB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <uv.h>

#include "gslb/gslb.h"
#include "lib/dname.h"

#define GSLB_MAX_REGIONS 64
#define GSLB_MAX_STATUS 16          /* expect-status entries */
#define GSLB_BODY_MAX (64 * 1024)   /* bytes of a health-check body we read at most */

/* ---- configuration (immutable after gslb_conf_parse(); shared by snapshots) ---------- */

enum gslb_check_type { GSLB_CHECK_TCP, GSLB_CHECK_HTTP, GSLB_CHECK_HTTPS, GSLB_CHECK_EXTERNAL };
enum gslb_fallback { GSLB_FALLBACK_ALL, GSLB_FALLBACK_POOL, GSLB_FALLBACK_NONE };

struct gslb_check_conf {
	char name[GSLB_NAME_MAX + 1];
	int line;
	enum gslb_check_type type;
	char *path, *host, *expect_body, *user_agent, *ca_file, *sni, *file;
	uint16_t expect_status[GSLB_MAX_STATUS];
	unsigned n_expect;
	bool tls_verify;
	uint32_t interval_ms, timeout_ms;
	unsigned rise, fall;
	bool initial_up;
	uint16_t port;              /* 0: the type's default (or the member's check-port) */
};

struct gslb_member_conf {
	char name[GSLB_NAME_MAX + 1];
	int line;
	unsigned pool;
	bool has4, has6;
	uint8_t addr4[4], addr6[16];
	unsigned weight;            /* 1..65535 */
	unsigned priority;
	int region;                 /* index into conf->regions, -1: none */
	int check;                  /* index into conf->checks, -1: always up */
	bool has_check_addr;
	int check_family;           /* AF_INET / AF_INET6 of check_addr */
	uint8_t check_addr[16];
	uint16_t check_port;        /* 0: the check's port */
	uint64_t id_hash;           /* of "pool/member": the member's rendezvous identity */
};

struct gslb_pool_conf {
	char name[GSLB_NAME_MAX + 1];
	int line;
	uint32_t ttl;
	unsigned max_answers, min_healthy;
	enum gslb_fallback fallback;
	int sorry;                  /* pool index for GSLB_FALLBACK_POOL */
	unsigned first, n;          /* members[first .. first + n) */
};

struct gslb_topo_entry {
	uint8_t family;             /* 4 or 6 */
	uint8_t prefix;
	uint8_t addr[16];
	int region;
	int line;
};

struct gslb_name {
	uint8_t wire[DNAME_MAXLEN];
	char text[DNAME_MAXLEN * 4 + 2];
	int line;
	unsigned pool;
	enum gslb_policy policy;
	uint8_t hash4, hash6;       /* prefix lengths hashed by the hash policy */
};

struct gslb_region_order {
	unsigned n;
	int order[GSLB_MAX_REGIONS];
};

struct gslb_conf {
	_Atomic int refs;           /* the owner plus every snapshot that points here */
	char *file;
	struct gslb_check_conf *checks;
	unsigned n_checks;
	struct gslb_member_conf *members;
	unsigned n_members;
	struct gslb_pool_conf *pools;
	unsigned n_pools;
	struct gslb_name *names;
	unsigned n_names;
	uint32_t *name_slots;       /* open addressing: name index + 1, 0 empty */
	uint32_t name_mask;
	struct gslb_topo_entry *topo;   /* sorted by prefix length, longest first */
	unsigned n_topo;
	char regions[GSLB_MAX_REGIONS][GSLB_NAME_MAX + 1];
	unsigned n_regions;
	struct gslb_region_order order[GSLB_MAX_REGIONS];   /* per region; n == 0: unset */
	struct gslb_region_order global_order;
	char *geoip_path;
	void *geoip;                /* MMDB_s when built with libmaxminddb */
	struct { char cc[3]; int region; } *countries;
	unsigned n_countries;
};

struct gslb_conf *gslb__conf_ref(struct gslb_conf *c);
uint64_t gslb__name_hash(const uint8_t *wire);
/* Index of the member named pool/member, or -1. */
int gslb__member_find(const struct gslb_conf *c, const char *pool, const char *member);

/* ---- the snapshot ------------------------------------------------------------------ */

struct gslb_mstate {
	bool up, drained;
	uint16_t weight;
	int64_t rtt_us;             /* smoothed; -1 unmeasured */
};

struct gslb_state {
	struct gslb_conf *conf;     /* holds a reference */
	uint64_t generation;
	unsigned n;
	struct gslb_mstate m[];     /* indexed like conf->members */
};

/* Builds a snapshot of conf with member states m (n == conf->n_members). */
struct gslb_state *gslb__state_new(struct gslb_conf *conf, const struct gslb_mstate *m);
void gslb__state_free(struct gslb_state *st);
/* Region of a client address for the topology policy; *prefix gets the matched prefix
 * length. -1 when no entry matches. */
int gslb__topo_region(const struct gslb_conf *c, int family, const uint8_t *addr,
                      uint8_t *prefix);

/* ---- the runtime (checker thread) --------------------------------------------------- */

struct gslb_reader {
	struct gslb_runtime *rt;
	_Atomic uint64_t seen;      /* epoch at the last quiescent point */
	_Atomic bool online;
	struct gslb_reader *next;
};

struct gslb_retired {
	struct gslb_state *st;
	uint64_t epoch;             /* free once every online reader has seen this epoch */
	struct gslb_retired *next;
};

struct gslb_probe;
struct gslb_http;
struct gslb_watch;

struct gslb_member_rt {
	bool up, drained, last_ok, weight_set, ext_set;
	unsigned weight;
	int64_t srtt_us;
	time_t since;
	unsigned ok_run, fail_run;
	uint64_t transitions;               /* health state changes since start */
	char reason[GSLB_REASON_MAX];       /* of the last state change */
	char last_result[GSLB_REASON_MAX];  /* of the last check */
};

struct gslb_request;

struct gslb_runtime {
	uv_loop_t loop;
	uv_async_t async;
	uv_check_t check;           /* publishes once per loop iteration when dirty */
	uv_timer_t tick;            /* reclaims snapshots readers have left */
	uv_thread_t thread;
	bool thread_started, stopping;

	pthread_mutex_t lock;       /* requests, readers, done */
	pthread_cond_t done;
	struct gslb_request *requests;
	struct gslb_reader *readers;

	_Atomic(struct gslb_state *) current;
	_Atomic uint64_t epoch;
	uint64_t generation;
	struct gslb_retired *retired;

	/* Owned by the checker thread. */
	struct gslb_conf *conf;
	struct gslb_member_rt *mem;
	bool dirty;
	char *state_dir;
	struct gslb_probe *probes;
	struct gslb_watch *watches;
	struct gslb_http *http;
};

/* state.c */
int gslb__publish(struct gslb_runtime *rt);
void gslb__reclaim(struct gslb_runtime *rt);
void gslb__reclaim_all(struct gslb_runtime *rt);

/* check.c: start and stop every probe of rt->conf; results land in rt->mem. */
int gslb__checks_start(struct gslb_runtime *rt);
void gslb__checks_stop(struct gslb_runtime *rt);
/* A check result for member midx: ok, reason when not, rtt_us when measured (>= 0). */
void gslb__check_result(struct gslb_runtime *rt, unsigned midx, bool ok, const char *reason,
                        int64_t rtt_us);
void gslb__set_health(struct gslb_runtime *rt, unsigned midx, bool up, const char *reason);

/* check_http.c: one curl multi handle driven by the loop. */
typedef void gslb_http_done_fn(void *arg, bool ok, const char *reason, int64_t rtt_us);
int gslb__http_init(struct gslb_runtime *rt);
void gslb__http_deinit(struct gslb_runtime *rt);
/* Starts one GET for check c against addr; calls done exactly once unless cancelled. Returns
 * an opaque handle for gslb__http_cancel(), or NULL (done was then called with the error). */
void *gslb__http_start(struct gslb_runtime *rt, const struct gslb_check_conf *c,
                       const struct sockaddr *addr, gslb_http_done_fn *done, void *arg);
void gslb__http_cancel(struct gslb_runtime *rt, void *op);

#endif
