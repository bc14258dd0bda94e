/* worker.c - a worker thread: one libuv loop over the worker's own UDP sockets and TCP
 * listeners (one each per listen address, SO_REUSEPORT), and the publication of the
 * answer configuration to the workers.
 *
 * The main thread builds a worker (worker_init), starts it, and later stops and joins
 * it; everything else here runs on the worker's thread. The main thread publishes a new
 * struct answer_conf with one atomic store and frees the old one only when
 * workers_past() says no worker is still inside a batch that began before it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "server/daemon.h"
#include "server/recurse.h"

/* ---- the published answer configuration --------------------------------------------- */

struct answer_conf *
daemon_answer_conf_new(const struct daemon_conf *c)
{
	size_t idlen = c->identity != NULL ? strlen(c->identity) + 1 : 0;
	size_t verlen = c->version != NULL ? strlen(c->version) + 1 : 0;
	size_t abuse = abuse_publish_size(&c->abuse);
	size_t n = sizeof(struct answer_conf) + abuse + idlen + verlen + c->nsid_len;

	/* One block, so retiring it is one free() and the strings die with it. */
	struct answer_conf *ac = calloc(1, n);
	if (ac == NULL)
		return NULL;
	/* The rate-limit table and the cookie settings first, where the block is aligned. */
	abuse_publish(&c->abuse, ac + 1, &ac->rrl, &ac->cookies);
	char *p = (char *)(ac + 1) + abuse;
	ac->edns_size = c->edns_size;
	if (idlen > 0) {
		memcpy(p, c->identity, idlen);
		ac->identity = p;
		p += idlen;
	}
	if (verlen > 0) {
		memcpy(p, c->version, verlen);
		ac->version = p;
		p += verlen;
	}
	if (c->nsid_len > 0) {
		memcpy(p, c->nsid, c->nsid_len);
		ac->nsid = (const uint8_t *)p;
		ac->nsid_len = c->nsid_len;
	}
	ac->gslb = c->gslb_enabled;
	return ac;
}

/* ---- answer latency (two clock reads per batch: vDSO, no system call) --------------- */

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
latency_count(struct worker *w)
{
	uint64_t n = w->stats.queries_udp + w->stats.queries_tcp - w->batch_q0;
	if (n == 0)
		return;
	uint64_t spent = now_ns() - w->batch_t0_ns;
	uint64_t per_us = spent / n / 1000;
	unsigned b = 0;
	while (b < LATENCY_BUCKETS - 1 && per_us > latency_bucket_us[b])
		b++;
	w->lat.bucket[b] += n;
	w->lat.sum_ns += spent;
	w->lat.count += n;
}

/* ---- the parked snapshot (zones_snapshot_park() in zones/zones.h) ----------------------------------------------- */

/* A batch parks the zone snapshot instead of closing it: at moderate rates a batch is one
 * query, and renewing the LMDB read transaction cost more than answering it. A parked
 * transaction pins the version it sees (LMDB cannot reuse pages freed after it), so this
 * timer closes it once a whole period has passed without a batch: an idle worker holds
 * no old version longer than two periods. Thread-local: one worker per thread, and
 * struct worker (server/daemon.h) is not this file's to extend. Unreferenced, so it never
 * keeps the loop running. */
#define PARK_RELEASE_MS 100
static _Thread_local uv_timer_t park_timer;
static _Thread_local bool park_timer_ok;
static _Thread_local uint64_t park_batches;

static void
on_park_timer(uv_timer_t *t)
{
	struct worker *w = t->data;
	if (park_batches != 0) {
		park_batches = 0;
		return;
	}
	zones_snapshot_release(w->zsnap);
	uv_timer_stop(t);
}

static void
park_timer_init(struct worker *w)
{
	if (uv_timer_init(&w->loop, &park_timer) != 0)
		return;
	park_timer.data = w;
	uv_unref((uv_handle_t *)&park_timer);
	park_timer_ok = true;
}

static void
park_timer_close(struct worker *w)
{
	if (!park_timer_ok)
		return;
	park_timer_ok = false;
	uv_close((uv_handle_t *)&park_timer, NULL);
	uv_run(&w->loop, UV_RUN_NOWAIT);       /* runs the close: the handle is ours */
	zones_snapshot_release(w->zsnap);
}

bool
worker_batch_begin(struct worker *w)
{
	/* Announce the generation before loading the pointer: the publisher stores the
	 * pointer before bumping gen, so whoever reads an old gen here is seen by
	 * workers_past() and keeps the old conf alive (all seq_cst). */
	atomic_store(&w->active_gen, atomic_load(&w->sh->gen));
	w->actx.conf = atomic_load(&w->sh->conf);
	w->batch_t0_ns = now_ns();
	w->batch_q0 = w->stats.queries_udp + w->stats.queries_tcp;
	if (zones_snapshot_begin(w->zsnap) != 0) {
		atomic_store(&w->active_gen, 0);
		return false;
	}
	w->actx.gslb = NULL;
	struct gslb_runtime *rt = atomic_load(&w->sh->gslb);
	if (rt != NULL && w->actx.conf->gslb) {
		/* Once per thread: GSLB came with a reload after this worker started. */
		if (w->greader == NULL && (w->greader = gslb_reader_register(rt)) != NULL)
			gslb_reader_offline(w->greader);
		if (w->greader != NULL) {
			gslb_reader_online(w->greader);
			w->actx.gslb = gslb_state_acquire(rt);
		}
	}
	return true;
}

void
worker_batch_end(struct worker *w)
{
	if (park_timer_ok && w->zsnap != NULL) {
		zones_snapshot_park(w->zsnap);
		park_batches++;
		if (!uv_is_active((uv_handle_t *)&park_timer))
			uv_timer_start(&park_timer, on_park_timer, PARK_RELEASE_MS, PARK_RELEASE_MS);
	} else {
		zones_snapshot_end(w->zsnap);
	}
	if (w->actx.gslb != NULL) {
		/* Quiescent, then offline until the next batch: no snapshot pointer is kept
		 * past here, and a worker asleep in epoll delays no free. */
		w->actx.gslb = NULL;
		gslb_reader_quiesce(w->greader);
		gslb_reader_offline(w->greader);
	}
	atomic_store(&w->active_gen, 0);
	latency_count(w);
}

bool
workers_past(struct worker *ws, unsigned n, uint64_t gen)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t g = atomic_load(&ws[i].active_gen);
		if (g != 0 && g < gen)
			return false;
	}
	return true;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static void
on_grace_end(uv_timer_t *t)
{
	struct worker *w = t->data;
	if (w->nconns > 0)
		log_debug("worker %u: closing %u TCP connections at the end of the grace period",
		          w->id, w->nconns);
	tcp_conns_close_all(w);
	uv_close((uv_handle_t *)&w->grace, NULL);
}

static void
on_wake(uv_async_t *a)
{
	struct worker *w = a->data;

	if (!atomic_load(&w->stop_requested) || w->stopping)
		return;
	w->stopping = true;
	/* Stop taking work: UDP sockets and listeners close now, connections finish
	 * the answers they owe (RFC 7766 6.2.3 lets a server close idle connections). */
	for (size_t i = 0; i < w->nsock; i++) {
		udp_sock_close(&w->udp[i]);
		tcp_listener_close(&w->tcpl[i]);
	}
	uv_close((uv_handle_t *)&w->wake, NULL);
	recurse_worker_stop(w);
	tcp_conns_drain(w);
	if (w->nconns > 0) {
		uv_timer_start(&w->grace, on_grace_end, SHUTDOWN_GRACE_MS, 0);
	} else {
		uv_close((uv_handle_t *)&w->grace, NULL);
	}
}

int
worker_init(struct worker *w, unsigned id, struct daemon_shared *sh, struct zones_db *db,
            const struct daemon_conf *c, const int *udp_fds, const int *tcp_fds)
{
	int rc;

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->sh = sh;
	w->nsock = c->nlisten;
	w->zsnap = zones_snapshot_new(db);
	w->udp = calloc(c->nlisten, sizeof(*w->udp));
	w->tcpl = calloc(c->nlisten, sizeof(*w->tcpl));
	w->rxbuf = malloc(sizeof(*w->rxbuf) * WORKER_BATCH);
	w->txbuf = malloc(sizeof(*w->txbuf) * WORKER_BATCH);
	w->tcp_scratch = malloc(TCP_MSG_MAX);
	if (w->zsnap == NULL || w->udp == NULL || w->tcpl == NULL || w->rxbuf == NULL ||
	    w->txbuf == NULL || w->tcp_scratch == NULL) {
		for (size_t i = 0; i < c->nlisten; i++) {
			close(udp_fds[i]);
			close(tcp_fds[i]);
		}
		w->nsock = 0;
		return -ENOMEM;
	}
	w->actx.zsnap = w->zsnap;
	w->actx.stats = &w->stats;
	w->actx.conf = atomic_load(&sh->conf);

	rc = uv_loop_init(&w->loop);
	if (rc != 0)
		return rc;
	w->loop.data = w;
	uv_async_init(&w->loop, &w->wake, on_wake);
	w->wake.data = w;
	uv_timer_init(&w->loop, &w->grace);
	w->grace.data = w;
	if ((rc = recurse_worker_init(w)) != 0)
		return rc;
	for (size_t i = 0; i < c->nlisten; i++) {
		int r1 = udp_sock_init(w, &w->udp[i], udp_fds[i]);
		int r2 = tcp_listener_init(w, &w->tcpl[i], tcp_fds[i]);
		if (rc == 0)
			rc = r1 != 0 ? r1 : r2;
	}
	return rc;
}

static void
worker_main(void *arg)
{
	struct worker *w = arg;
	struct gslb_runtime *rt = atomic_load(&w->sh->gslb);
	/* Register here, not on the answer path (it allocates); offline until a batch. */
	if (rt != NULL && (w->greader = gslb_reader_register(rt)) != NULL)
		gslb_reader_offline(w->greader);
	for (size_t i = 0; i < w->nsock; i++) {
		if (tcp_listener_start(&w->tcpl[i]) != 0)
			log_err("worker %u: cannot listen on TCP socket %zu", w->id, i);
	}
	park_timer_init(w);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	park_timer_close(w);
	/* Before the main thread stops the runtime (after joining us). */
	gslb_reader_unregister(w->greader);
	w->greader = NULL;
}

int
worker_start(struct worker *w)
{
	return uv_thread_create(&w->thread, worker_main, w);
}

void
worker_stop(struct worker *w)
{
	atomic_store(&w->stop_requested, true);
	uv_async_send(&w->wake);
}

void
worker_join(struct worker *w)
{
	uv_thread_join(&w->thread);
}

static void
close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void
worker_deinit(struct worker *w)
{
	if (w->loop.data == w) {
		/* A worker that never ran (start-up failed) still has open handles. */
		for (size_t i = 0; i < w->nsock && !w->stopping; i++) {
			udp_sock_close(&w->udp[i]);
			tcp_listener_close(&w->tcpl[i]);
		}
		uv_walk(&w->loop, close_walk, NULL);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&w->loop) != 0)
			log_warn("worker %u: loop still busy at exit", w->id);
	}
	recurse_worker_deinit(w);
	zones_snapshot_free(w->zsnap);
	free(w->udp);
	free(w->tcpl);
	free(w->rxbuf);
	free(w->txbuf);
	free(w->tcp_scratch);
	memset(w, 0, sizeof(*w));
}
