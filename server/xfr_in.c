/* xfr_in.c - secondary zones: a zone listed with primaries: and no file is pulled from its
 * primaries. The SOA's refresh, retry and expire drive a timer per zone (RFC 1034 4.3.5);
 * an allowed NOTIFY (RFC 1996) makes the check immediate. A check asks each primary's SOA
 * (TSIG-signed when a key is given) and, when the primary's serial is newer (RFC 1982),
 * transfers: IXFR (RFC 1995) applied to the zone we have, else AXFR (RFC 5936). The
 * result is written as a master file under <state-dir>/secondary/ and compiled into LMDB
 * in one transaction: a failed, partial or invalid transfer changes nothing. A zone whose
 * primaries stay unreachable past expire answers SERVFAIL. The state (serial, last and
 * next refresh, expiry, last error) is kept in LMDB and survives restarts.
 *
 * Threads: timers, NOTIFY wake-ups and compiles on the main loop (this file); the network
 * part of a check (blocking sockets with timeouts) runs in libuv's thread pool, one job per
 * zone at a time (xfr_in_fetch.c); catalog members are provisioned by catalog.c. Workers answer NOTIFY (xfr_notify_answer()) and wake the main loop through
 * an atomic flag and uv_async_send(). */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "server/xfr_in.h"

#define NOTIFY_SLOTS 1024

/* NOTIFY from workers: a flag per hashed apex, and the main loop's wake-up handle. */
static _Atomic uint8_t notify_flags[NOTIFY_SLOTS];
static _Atomic(uv_async_t *) wake_handle;

/* Expired zones, published for the answer path (xfr_zone_expired()). */
_Atomic(const struct xfr_expired *) xfr__expired;
static struct xfr_expired **expired_history;
static size_t nexpired_history;

static unsigned
apex_slot(const uint8_t *apex)
{
	uint32_t h = 2166136261u;
	for (const uint8_t *p = apex; p < apex + dname_len(apex); p++)
		h = (h ^ (uint8_t)(*p | (*p >= 'A' && *p <= 'Z' ? 0x20 : 0))) * 16777619u;
	return h % NOTIFY_SLOTS;
}

static uint32_t
clamp(uint32_t v)
{
	return v < TIMER_MIN_S ? TIMER_MIN_S : v > TIMER_MAX_S ? TIMER_MAX_S : v;
}
/* ---- the main loop's side ----------------------------------------------------------------------- */


static void
state_save(struct sec_zone *z)
{
	int rc = zones_xfr_state_put(z->in->db, z->apex, &z->st, sizeof(z->st));
	if (rc != 0)
		log_warn("xfr-in: %s: cannot save the secondary state: %s", z->name, sp_strerror(rc));
}

static void
publish_expired(struct xfr_in *in)
{
	size_t n = 0;
	for (size_t i = 0; i < in->nzones; i++)
		n += in->zones[i]->st.expired && !in->zones[i]->gone;
	struct xfr_expired *e = calloc(1, sizeof(*e) + n * sizeof(e->apex[0]));
	struct xfr_expired **h = realloc(expired_history,
	                                 (nexpired_history + 1) * sizeof(*h));
	if (e == NULL || h == NULL) {
		free(e);
		if (h != NULL)
			expired_history = h;
		log_err("xfr-in: out of memory publishing expired zones");
		return;
	}
	expired_history = h;
	for (size_t i = 0; i < in->nzones; i++) {
		struct sec_zone *z = in->zones[i];
		if (z->st.expired && !z->gone)
			memcpy(e->apex[e->n++], z->apex, dname_len(z->apex));
	}
	expired_history[nexpired_history++] = e;
	atomic_store(&xfr__expired, e);
}

static void
on_job_done(uv_work_t *req, int status)
{
	struct xfr_job *j = req->data;
	struct sec_zone *z = j->z;
	struct xfr_in *in = z->in;
	int64_t now = (int64_t)time(NULL);
	bool was_expired = z->st.expired;

	in->jobs--;
	z->busy = false;
	if (z->closed) {
		/* Stopped while the job ran: the zone (and perhaps the runtime) go now. */
		free(j);
		free(z);
		if (--in->open_handles == 0)
			free(in);
		return;
	}
	if (status == 0 && j->ok && j->updated && !in->stopping && !z->gone) {
		struct zones_report rep = {0};
		struct zones_compile_opts opts = {0};
		struct zones_journal_limits lim = {z->xc->journal_versions, z->xc->journal_size};
		/* Passed on to our own secondaries: the IXFR journal step is written in the
		 * compile's transaction, as for a zone from a file. */
		if (z->conf->nprovide > 0) {
			opts.on_write = zones_journal_hook;
			opts.on_write_ctx = &lim;
		}
		int rc = zones_compile_file(in->db, z->name, j->path, &opts, &rep);
		if (rc == 0 && z->catalog_of == NULL && z->conf->nnotify > 0 && in->notify != NULL) {
			struct zones_iter *cur = NULL;
			if (zones_iter_new(in->db, z->apex, &cur) == 0) {
				struct zones_zone nz;
				struct zones_rrset soa;
				zones_iter_zone(cur, &nz, &soa);
				notify_send(in->notify, z->xc, z->conf, &soa, nz.serial);
				zones_iter_free(cur);
			}
		}
		if (rc != 0) {
			j->ok = false;
			snprintf(j->err, sizeof(j->err), "%s: the transferred zone is invalid (%s)",
			         j->from, sp_strerror(rc));
		} else {
			log_notice("xfr-in: %s serial %u from %s by %s: %llu records, %llu messages",
			           z->name, j->new_serial, j->from, j->ixfr ? "IXFR" : "AXFR",
			           (unsigned long long)j->records, (unsigned long long)j->msgs);
		}
	}
	if (in->stopping || z->gone) {
		free(j);
		return;
	}
	if (j->ok) {
		z->st.serial = j->new_serial;
		z->st.have = 1;
		z->st.last_refresh = now;
		z->st.refresh = clamp(j->refresh);
		z->st.retry = clamp(j->retry);
		z->st.expire = clamp(j->expire);
		z->st.expire_at = now + z->st.expire;
		z->st.next_refresh = now + z->st.refresh;
		z->st.expired = 0;
		z->st.last_error[0] = '\0';
		if (!j->updated)
			log_info("xfr-in: %s serial %u is current (%s)", z->name, j->new_serial, j->from);
	} else {
		snprintf(z->st.last_error, sizeof(z->st.last_error), "%s", j->err);
		uint32_t retry = z->st.retry ? z->st.retry : 10;
		z->st.next_refresh = now + retry;
		log_warn("xfr-in: %s: refresh failed: %s; retry in %us", z->name, j->err, retry);
		if (z->st.have && z->st.expire_at != 0 && now >= z->st.expire_at && !z->st.expired) {
			z->st.expired = 1;
			log_err("xfr-in: %s expired: no primary answered for %us; answering SERVFAIL",
			        z->name, z->st.expire);
		}
	}
	if (was_expired != (bool)z->st.expired)
		publish_expired(in);
	state_save(z);
	if (j->ok && j->updated && z->conf->catalog && z->catalog_of == NULL)
		xfr_in__catalog_sync(z);
	bool again = z->again;
	z->again = false;
	free(j);
	if (again)
		xfr_in__check_now(z);
	else
		xfr_in__schedule(z, (uint64_t)(z->st.next_refresh > now ? z->st.next_refresh - now : 0));
}

void
xfr_in__check_now(struct sec_zone *z)
{
	struct xfr_in *in = z->in;
	if (in->stopping || z->gone)
		return;
	if (z->busy) {
		z->again = true;
		return;
	}
	struct xfr_job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		xfr_in__schedule(z, 10);
		return;
	}
	j->req.data = j;
	j->z = z;
	j->db = in->db;
	memcpy(j->apex, z->apex, dname_len(z->apex));
	snprintf(j->name, sizeof(j->name), "%s", z->name);
	for (size_t i = 0; i < z->conf->nprimaries && j->nprim < 16; i++) {
		j->prim[j->nprim] = z->conf->primaries[i];
		if (z->conf->primaries[i].key >= 0)
			j->keys[j->nprim] = z->xc->keys[z->conf->primaries[i].key];
		j->nprim++;
	}
	j->have = z->st.have;
	j->fudge = z->xc->fudge;
	j->serial = z->st.serial;
	j->refresh = z->st.refresh;
	j->retry = z->st.retry;
	j->expire = z->st.expire;
	snprintf(j->path, sizeof(j->path), "%.3000s/%.1000szone", in->dir, z->name);
	if (uv_queue_work(in->loop, &j->req, xfr_in__job_work, on_job_done) != 0) {
		free(j);
		xfr_in__schedule(z, 10);
		return;
	}
	z->busy = true;
	in->jobs++;
}

static void
on_timer(uv_timer_t *t)
{
	xfr_in__check_now(t->data);
}

void
xfr_in__schedule(struct sec_zone *z, uint64_t in_s)
{
	/* The expiry deadline may come before the next refresh. */
	int64_t now = (int64_t)time(NULL);
	if (z->st.have && !z->st.expired && z->st.expire_at > now &&
	    (uint64_t)(z->st.expire_at - now) < in_s)
		in_s = (uint64_t)(z->st.expire_at - now);
	uv_timer_start(&z->timer, on_timer, in_s * 1000, 0);
}

static void
on_wake(uv_async_t *a)
{
	struct xfr_in *in = a->data;
	for (size_t i = 0; i < in->nzones; i++) {
		struct sec_zone *z = in->zones[i];
		if (!z->gone && atomic_exchange(&notify_flags[apex_slot(z->apex)], 0) != 0)
			xfr_in__check_now(z);
	}
}

static void
on_zone_closed(uv_handle_t *h)
{
	struct sec_zone *z = h->data;
	struct xfr_in *in = z->in;
	z->closed = true;
	if (z->busy)
		return;         /* on_job_done() frees it */
	free(z);
	if (--in->open_handles == 0)
		free(in);
}

static struct sec_zone *
zone_add(struct xfr_in *in, const struct xfr_conf *xc, const struct xfr_zone *c)
{
	return xfr_in__zone_add_named(in, xc, c, c->apex);
}

/* A secondary zone apex taking its settings (primaries, keys, allow-notify) from c. */
struct sec_zone *
xfr_in__zone_add_named(struct xfr_in *in, const struct xfr_conf *xc, const struct xfr_zone *c,
                       const uint8_t *apex)
{
	struct sec_zone **zs = realloc(in->zones, (in->nzones + 1) * sizeof(*zs));
	struct sec_zone *z = calloc(1, sizeof(*z));
	if (zs != NULL)
		in->zones = zs;
	if (zs == NULL || z == NULL) {
		free(z);
		return NULL;
	}
	z->in = in;
	memcpy(z->apex, apex, dname_len(apex));
	dname_to_str(apex, z->name, sizeof(z->name));
	z->conf = c;
	z->xc = xc;
	uv_timer_init(in->loop, &z->timer);
	z->timer.data = z;
	in->open_handles++;
	in->zones[in->nzones++] = z;
	size_t len = 0;
	struct sec_state st;
	if (zones_xfr_state_get(in->db, z->apex, &st, sizeof(st), &len) == 0 &&
	    len == sizeof(st) && st.version == STATE_VERSION) {
		z->st = st;
		struct zones_info info;
		if (zones_info_get(in->db, z->name, &info) != 0)
			z->st.have = 0;     /* the state outlived the zone (deleted by hand) */
	}
	z->st.version = STATE_VERSION;
	return z;
}

struct sec_zone *
xfr_in__zone_find(struct xfr_in *in, const uint8_t *apex)
{
	for (size_t i = 0; i < in->nzones; i++) {
		if (!in->zones[i]->gone && dname_equal(in->zones[i]->apex, apex))
			return in->zones[i];
	}
	return NULL;
}

/* Brings the set of secondary zones in line with the published configuration. */
void
xfr_in_apply(struct xfr_in *in)
{
	const struct xfr_conf *xc = xfr_published();
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < in->nzones; i++) {
		struct sec_zone *z = in->zones[i];
		if (z->gone || z->catalog_of != NULL)
			continue;
		const struct xfr_zone *c = xfr_conf_zone(xc, z->apex);
		if (c == NULL || !c->secondary) {
			z->gone = true;
			uv_timer_stop(&z->timer);
			int rc = zones_delete(in->db, z->name);
			log_notice("xfr-in: %s is no longer a secondary zone%s", z->name,
			           rc == 0 ? ": removed" : "");
			continue;
		}
		z->conf = c;
		z->xc = xc;
	}
	/* Members follow their catalog: its new settings, or its removal. */
	for (size_t i = 0; i < in->nzones; i++) {
		struct sec_zone *z = in->zones[i];
		if (z->gone || z->catalog_of == NULL)
			continue;
		if (z->catalog_of->gone || !z->catalog_of->conf->catalog) {
			z->gone = true;
			uv_timer_stop(&z->timer);
			(void)zones_delete(in->db, z->name);
			log_notice("xfr-in: %s: its catalog is gone: removed", z->name);
			continue;
		}
		z->conf = z->catalog_of->conf;
		z->xc = xc;
	}
	for (size_t i = 0; xc != NULL && i < xc->nzones; i++) {
		const struct xfr_zone *c = &xc->zones[i];
		if (!c->secondary || xfr_in__zone_find(in, c->apex) != NULL)
			continue;
		struct sec_zone *z = zone_add(in, xc, c);
		if (z == NULL) {
			log_err("xfr-in: out of memory");
			return;
		}
		log_info("xfr-in: %s: secondary of %s%s", z->name, c->primaries[0].addr.text,
		         z->st.have ? "" : " (no copy yet)");
		if (z->st.have && z->st.next_refresh > now)
			xfr_in__schedule(z, (uint64_t)(z->st.next_refresh - now));
		else
			xfr_in__check_now(z);
		if (c->catalog && z->st.have)
			xfr_in__catalog_sync(z);    /* the members the stored catalog lists */
	}
	publish_expired(in);
	xfr_in__publish_members(in);
}

int
xfr_in_start(uv_loop_t *loop, struct zones_db *db, const char *state_dir,
             struct notify_sender *notify, struct xfr_in **out)
{
	struct xfr_in *in = calloc(1, sizeof(*in));
	*out = NULL;
	if (in == NULL)
		return -ENOMEM;
	in->loop = loop;
	in->db = db;
	in->notify = notify;
	snprintf(in->dir, sizeof(in->dir), "%s/secondary", state_dir);
	if (mkdir(in->dir, 0750) != 0 && errno != EEXIST) {
		int rc = -errno;
		log_err("xfr-in: cannot create %s: %s", in->dir, strerror(errno));
		free(in);
		return rc;
	}
	int rc = uv_async_init(loop, &in->wake, on_wake);
	if (rc != 0) {
		free(in);
		return rc;
	}
	in->wake.data = in;
	in->open_handles = 1;
	atomic_store(&xfr_in__cancelled, false);
	atomic_store(&wake_handle, &in->wake);
	*out = in;
	return 0;
}

static void
on_wake_closed(uv_handle_t *h)
{
	struct xfr_in *in = h->data;
	if (--in->open_handles == 0)
		free(in);
}

void
xfr_in_stop(struct xfr_in *in)
{
	if (in == NULL)
		return;
	in->stopping = true;
	in->notify = NULL;      /* closed right after us */
	atomic_store(&xfr_in__cancelled, true);
	atomic_store(&wake_handle, NULL);
	/* Jobs still in the pool finish on their own (bounded by the I/O timeouts); their
	 * completions run before the loop closes and find stopping set. */
	for (size_t i = 0; i < in->nzones; i++)
		uv_close((uv_handle_t *)&in->zones[i]->timer, on_zone_closed);
	free(in->zones);
	in->zones = NULL;
	in->nzones = 0;
	uv_close((uv_handle_t *)&in->wake, on_wake_closed);
}

void
xfr_in_unpublish_all(void)
{
	xfr_in__members_unpublish();
	atomic_store(&xfr__expired, NULL);
	for (size_t i = 0; i < nexpired_history; i++)
		free(expired_history[i]);
	free(expired_history);
	expired_history = NULL;
	nexpired_history = 0;
}

/* ---- NOTIFY in (a worker's thread) ------------------------------------------------------------ */

static bool
notify_allowed(const struct xfr_conf *xc, const struct xfr_zone *z, const struct sockaddr *from,
               const struct tsig_key *key)
{
	if (z->nallow_notify > 0)
		return xfr_acl_allows(xc, z->allow_notify, z->nallow_notify, from, key);
	/* By default the primaries may, with their keys (RFC 1996 3.10: only from a
	 * known primary). */
	for (size_t i = 0; i < z->nprimaries; i++) {
		struct xfr_acl a = {.addr = z->primaries[i].addr.addr, .key = z->primaries[i].key};
		a.prefix = a.addr.ss_family == AF_INET ? 32 : 128;
		if (xfr_acl_allows(xc, &a, 1, from, key))
			return true;
	}
	return false;
}

size_t
xfr_notify_answer(const struct answer_client *cl, const uint8_t *q, size_t qlen, uint8_t *out,
                  size_t cap)
{
	const struct xfr_conf *xc = xfr_published();
	struct wire_reader r;
	uint8_t qname[DNAME_MAXLEN], apex[DNAME_MAXLEN];
	size_t nlen;
	uint16_t qtype, qclass;
	struct tsig_ctx tc;
	struct tsig_rr rr;
	char from[80], zname[DNAME_MAXLEN * 4 + 2];

	if (qlen < 12 || cap < 512 + TSIG_RR_MAX || (q[4] << 8 | q[5]) != 1)
		return 0;
	wire_reader_init(&r, q, qlen);
	r.pos = 12;
	if (wire_read_name(&r, qname, &nlen) != 0 || wire_read_u16(&r, &qtype) != 0 ||
	    wire_read_u16(&r, &qclass) != 0)
		return 0;
	conf_format_addr(cl->addr, from, sizeof(from));
	dname_to_str(qname, zname, sizeof(zname));
	enum tsig_verdict v = tsig_verify_request_fudge(xc ? xc->keys : NULL, xc ? xc->nkeys : 0, q,
	                                                qlen, (uint64_t)time(NULL),
	                                                xc ? xc->fudge : 0, &tc, &rr);
	uint16_t rcode = RCODE_NOERROR;
	dname_copy_lower(apex, qname);
	const struct xfr_zone *z = xfr_conf_zone(xc, apex);
	const struct xfr_members *mem = atomic_load(&xfr__members);
	for (size_t i = 0; z == NULL && mem != NULL && i < mem->n; i++) {
		if (dname_equal(mem->e[i].apex, apex))
			z = mem->e[i].catalog;  /* a catalog member: its catalog's rules */
	}
	if (v == TSIG_FORMERR) {
		rcode = RCODE_FORMERR;
	} else if (v != TSIG_OK && v != TSIG_NONE) {
		rcode = RCODE_NOTAUTH;
		log_notice("xfr-in: NOTIFY for %s from %s ignored: bad TSIG", zname, from);
	} else if (z == NULL || !z->secondary) {
		rcode = RCODE_NOTAUTH;      /* not a secondary for that zone (RFC 1996 3.10) */
		log_notice("xfr-in: NOTIFY for %s from %s ignored: not a secondary zone here",
		           zname, from);
	} else if (!notify_allowed(xc, z, cl->addr, v == TSIG_OK ? tc.key : NULL)) {
		rcode = RCODE_REFUSED;
		log_notice("xfr-in: NOTIFY for %s from %s ignored: not allowed (allow-notify)",
		           zname, from);
	} else {
		log_info("xfr-in: NOTIFY for %s from %s: checking now", zname, from);
		atomic_store(&notify_flags[apex_slot(apex)], 1);
		uv_async_t *wake = atomic_load(&wake_handle);
		if (wake != NULL)
			uv_async_send(wake);
	}
	/* The answer: the header with QR (and AA when accepted), the question. */
	struct wire_writer w;
	wire_writer_init(&w, out, cap - TSIG_RR_MAX);
	wire_put_bytes(&w, q, 2);
	wire_put_u16(&w, (uint16_t)(0x8000 | 4 << 11 | (rcode == 0 ? 0x0400 : 0) | rcode));
	wire_put_u16(&w, 1);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, 0);
	wire_put_name(&w, qname);
	wire_put_u16(&w, qtype);
	wire_put_u16(&w, qclass);
	size_t len = w.len;
	uint64_t now = (uint64_t)time(NULL);
	if (v == TSIG_OK)
		(void)tsig_sign(&tc, out, &len, cap, now, 0);
	else if (v == TSIG_ERR_BADTIME)
		(void)tsig_sign(&tc, out, &len, cap, now, TSIG_BADTIME);
	else if (v == TSIG_ERR_BADKEY || v == TSIG_ERR_BADSIG)
		(void)tsig_append_error(&rr, out, &len, cap, now,
		                        v == TSIG_ERR_BADKEY ? TSIG_BADKEY : TSIG_BADSIG);
	if (v == TSIG_OK || v == TSIG_ERR_BADTIME)
		tsig_ctx_deinit(&tc);
	return len;
}

/* ---- status for the control tool ------------------------------------------------------------- */

int
xfr_secondary_status(struct zones_db *db, const uint8_t *apex, struct xfr_secondary_status *out)
{
	struct sec_state st;
	size_t len = 0;
	int rc = zones_xfr_state_get(db, apex, &st, sizeof(st), &len);
	if (rc != 0)
		return rc;
	if (len != sizeof(st) || st.version != STATE_VERSION)
		return SP_ENOZONE;
	*out = (struct xfr_secondary_status){
		.serial = st.serial, .have = st.have, .expired = st.expired,
		.last_refresh = st.last_refresh, .next_refresh = st.next_refresh,
		.expire_at = st.expire_at,
	};
	snprintf(out->last_error, sizeof(out->last_error), "%s", st.last_error);
	return 0;
}
