/* xfr_in.h - what the files of the secondary side share (server/xfr_in.c: timers, NOTIFY
 * in, state; server/xfr_in_fetch.c: the SOA check and transfer in the thread pool;
 * server/catalog.c: catalog zones). Nothing outside these files includes it. */
#ifndef SP_SERVER_XFR_IN_H
#define SP_SERVER_XFR_IN_H

#include <limits.h>
#include <stdatomic.h>

#include "server/xfr.h"

#define STATE_VERSION 1
#define IO_TIMEOUT_MS 10000
#define SOA_TIMEOUT_MS 2000
#define TIMER_MIN_S 1u
#define TIMER_MAX_S (7u * 86400)

/* What is kept in LMDB per secondary zone (host byte order, like the rest of the file). */
struct sec_state {
	uint32_t version;
	uint32_t serial;
	int64_t last_refresh;       /* last successful check (Unix time) */
	int64_t next_refresh;
	int64_t expire_at;          /* 0: never had the zone */
	uint32_t refresh, retry, expire;
	uint8_t have;               /* a version is compiled */
	uint8_t expired;
	char last_error[200];
};

struct sec_zone {
	struct xfr_in *in;
	uint8_t apex[DNAME_MAXLEN];
	char name[DNAME_MAXLEN * 4 + 2];
	const struct xfr_zone *conf;    /* in the published conf (lives until exit) */
	const struct xfr_conf *xc;
	uv_timer_t timer;
	bool busy, again, gone;
	bool closed;                    /* its timer closed (at stop): freed when idle */
	struct sec_zone *catalog_of;    /* a member: the catalog zone that lists it */
	struct sec_state st;
};

struct xfr_in {
	uv_loop_t *loop;
	struct zones_db *db;
	struct notify_sender *notify;   /* our secondaries' NOTIFY (xfr.c owns it) */
	char dir[PATH_MAX];
	uv_async_t wake;
	struct sec_zone **zones;
	size_t nzones;
	bool stopping;
	unsigned open_handles;
	unsigned jobs;
};

/* One check of a zone, run in libuv's thread pool (xfr_in_fetch.c): copies of what it
 * needs in, the outcome out; the main loop compiles what it wrote (xfr_in.c). */
struct xfr_job {
	uv_work_t req;
	struct sec_zone *z;
	/* inputs */
	struct zones_db *db;
	uint8_t apex[DNAME_MAXLEN];
	char name[DNAME_MAXLEN * 4 + 2];
	struct xfr_remote prim[16];
	struct tsig_key keys[16];
	size_t nprim;
	uint16_t fudge;                 /* transfers.tsig-fudge */
	bool have;
	uint32_t serial;
	char path[PATH_MAX];
	/* outputs */
	bool ok, updated, ixfr;
	bool refused;                   /* the last answer was an error rcode */
	uint32_t new_serial, refresh, retry, expire;
	uint64_t records, msgs;
	char from[80];
	char err[200];
};

/* Set at stop: checks in the thread pool give up within half a second. */
extern _Atomic bool xfr_in__cancelled;

/* xfr_in_fetch.c: the thread pool's part of a check (uv_work_cb). */
void xfr_in__job_work(uv_work_t *req);
/* RFC 1982: s1 < s2 in serial number arithmetic. */
bool xfr_in__serial_lt(uint32_t s1, uint32_t s2);

/* xfr_in.c, for catalog.c (main loop). */
struct sec_zone *xfr_in__zone_add_named(struct xfr_in *in, const struct xfr_conf *xc,
                                        const struct xfr_zone *c, const uint8_t *apex);
struct sec_zone *xfr_in__zone_find(struct xfr_in *in, const uint8_t *apex);
void xfr_in__check_now(struct sec_zone *z);
void xfr_in__schedule(struct sec_zone *z, uint64_t in_s);

/* catalog.c (main loop): after a catalog zone changed, provisions and removes its members;
 * publishes the members for NOTIFY on the workers. */
void xfr_in__catalog_sync(struct sec_zone *cat);
void xfr_in__publish_members(struct xfr_in *in);
void xfr_in__members_unpublish(void);

#endif
