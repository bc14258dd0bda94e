/* state.c - the published snapshot and its reclamation. The checker thread builds an
 * immutable struct gslb_state from its member records and publishes it with one atomic
 * exchange; workers load it with one atomic load and never lock. An old snapshot is freed
 * by the checker thread once every online reader has passed a quiescent point after the
 * exchange (quiescent-state-based reclamation: each reader records the global epoch it
 * last saw; a snapshot retired at epoch E is safe when every online reader has seen E). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gslb/internal.h"
#include "lib/log.h"

struct gslb_state *
gslb__state_new(struct gslb_conf *conf, const struct gslb_mstate *m)
{
	struct gslb_state *st = malloc(sizeof(*st) + conf->n_members * sizeof(st->m[0]));
	if (st == NULL)
		return NULL;
	st->conf = gslb__conf_ref(conf);
	st->generation = 0;
	st->n = conf->n_members;
	memcpy(st->m, m, conf->n_members * sizeof(st->m[0]));
	return st;
}

void
gslb__state_free(struct gslb_state *st)
{
	if (st == NULL)
		return;
	gslb_conf_free(st->conf);
	free(st);
}

/* Builds a snapshot from rt->mem and swaps it in; the old one is retired. Checker thread
 * (or the starting thread before the checker exists). */
int
gslb__publish(struct gslb_runtime *rt)
{
	struct gslb_conf *c = rt->conf;
	struct gslb_mstate *m = calloc(c->n_members + 1, sizeof(*m));
	struct gslb_retired *ret = malloc(sizeof(*ret));

	if (m == NULL || ret == NULL) {
		free(m);
		free(ret);
		log_err("gslb: out of memory publishing state; workers keep the previous one");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < c->n_members; i++) {
		const struct gslb_member_rt *r = &rt->mem[i];
		m[i] = (struct gslb_mstate){
			.up = r->up, .drained = r->drained, .weight = (uint16_t)r->weight,
			.rtt_us = r->srtt_us,
		};
	}
	struct gslb_state *st = gslb__state_new(c, m);
	free(m);
	if (st == NULL) {
		free(ret);
		log_err("gslb: out of memory publishing state; workers keep the previous one");
		return -ENOMEM;
	}
	st->generation = ++rt->generation;
	rt->dirty = false;
	/* Exchange first, then advance the epoch: a reader that quiesces after seeing the new
	 * epoch has necessarily loaded (if anything) the new pointer since. */
	struct gslb_state *old = atomic_exchange(&rt->current, st);
	uint64_t e = atomic_fetch_add(&rt->epoch, 1) + 1;
	if (old) {
		*ret = (struct gslb_retired){ .st = old, .epoch = e, .next = rt->retired };
		rt->retired = ret;
	} else {
		free(ret);
	}
	gslb__reclaim(rt);
	return 0;
}

void
gslb__reclaim(struct gslb_runtime *rt)
{
	uint64_t min_seen = UINT64_MAX;

	pthread_mutex_lock(&rt->lock);
	for (struct gslb_reader *r = rt->readers; r; r = r->next) {
		if (!atomic_load(&r->online))
			continue;
		uint64_t s = atomic_load(&r->seen);
		if (s < min_seen)
			min_seen = s;
	}
	pthread_mutex_unlock(&rt->lock);
	for (struct gslb_retired **pp = &rt->retired; *pp;) {
		struct gslb_retired *ret = *pp;
		if (ret->epoch <= min_seen) {
			*pp = ret->next;
			gslb__state_free(ret->st);
			free(ret);
		} else {
			pp = &ret->next;
		}
	}
}

/* At shutdown, when no reader is left. */
void
gslb__reclaim_all(struct gslb_runtime *rt)
{
	while (rt->retired) {
		struct gslb_retired *ret = rt->retired;
		rt->retired = ret->next;
		gslb__state_free(ret->st);
		free(ret);
	}
	gslb__state_free(atomic_exchange(&rt->current, NULL));
}

/* ---- readers --------------------------------------------------------------------------- */

struct gslb_reader *
gslb_reader_register(struct gslb_runtime *rt)
{
	struct gslb_reader *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->rt = rt;
	atomic_init(&r->seen, atomic_load(&rt->epoch));
	atomic_init(&r->online, true);
	pthread_mutex_lock(&rt->lock);
	r->next = rt->readers;
	rt->readers = r;
	pthread_mutex_unlock(&rt->lock);
	return r;
}

void
gslb_reader_unregister(struct gslb_reader *r)
{
	if (r == NULL)
		return;
	struct gslb_runtime *rt = r->rt;
	pthread_mutex_lock(&rt->lock);
	for (struct gslb_reader **pp = &rt->readers; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&rt->lock);
	free(r);
}

void
gslb_reader_quiesce(struct gslb_reader *r)
{
	atomic_store(&r->seen, atomic_load(&r->rt->epoch));
}

void
gslb_reader_offline(struct gslb_reader *r)
{
	atomic_store(&r->online, false);
}

void
gslb_reader_online(struct gslb_reader *r)
{
	/* seen first: the reclaimer must not see an online reader with a stale epoch. */
	atomic_store(&r->seen, atomic_load(&r->rt->epoch));
	atomic_store(&r->online, true);
}

const struct gslb_state *
gslb_state_acquire(struct gslb_runtime *rt)
{
	return atomic_load(&rt->current);
}
