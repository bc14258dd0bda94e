/* runtime.c - the GSLB runtime: its checker thread and libuv loop, the operator commands
 * (drain, restore, weight, external state, status, reload) and the drain/weight state file.
 * Commands come from any thread (the control socket, the reload path): each is queued under
 * a mutex, the loop is woken with uv_async_send(), and the caller waits for the result, so
 * all member state is only ever touched by the checker thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gslb/internal.h"
#include "lib/errors.h"
#include "lib/log.h"

#define STATE_FILE "gslb-state"

enum req_op { REQ_DRAIN, REQ_RESTORE, REQ_WEIGHT, REQ_EXTERNAL, REQ_STATUS, REQ_APPLY };

struct status_copy {
	char pool[GSLB_NAME_MAX + 1], member[GSLB_NAME_MAX + 1], check[GSLB_NAME_MAX + 1];
	char reason[GSLB_REASON_MAX], last[GSLB_REASON_MAX];
	struct gslb_member_status st;
};

struct gslb_request {
	enum req_op op;
	const char *pool, *member;
	unsigned weight;
	bool up;
	struct gslb_conf *conf;
	struct status_copy *status;
	unsigned n_status;
	int rc;
	bool done;
	struct gslb_request *next;
};

/* ---- persistence ------------------------------------------------------------------------ */

static void
state_save(struct gslb_runtime *rt)
{
	char path[4096], tmp[4100];
	const struct gslb_conf *c = rt->conf;

	if (rt->state_dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", rt->state_dir, STATE_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *fp = fopen(tmp, "w");
	if (fp == NULL) {
		log_err("gslb: %s: %s; drains will not survive a restart", tmp, strerror(errno));
		return;
	}
	fprintf(fp, "# signpost gslb operator state: drain POOL MEMBER | weight POOL MEMBER N\n");
	for (unsigned i = 0; i < c->n_members; i++) {
		const char *pool = c->pools[c->members[i].pool].name, *mem = c->members[i].name;
		if (rt->mem[i].drained)
			fprintf(fp, "drain %s %s\n", pool, mem);
		if (rt->mem[i].weight_set)
			fprintf(fp, "weight %s %s %u\n", pool, mem, rt->mem[i].weight);
	}
	/* Write, flush, sync, then rename: a crash leaves the old file or the new one. */
	bool ok = fflush(fp) == 0 && fsync(fileno(fp)) == 0;
	ok = fclose(fp) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		log_err("gslb: writing %s: %s", path, strerror(errno));
		unlink(tmp);
	}
}

static void
state_load(struct gslb_runtime *rt)
{
	char path[4096], line[512], verb[16], pool[GSLB_NAME_MAX + 1], mem[GSLB_NAME_MAX + 1];
	unsigned lineno = 0, w;

	if (rt->state_dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", rt->state_dir, STATE_FILE);
	FILE *fp = fopen(path, "r");
	if (fp == NULL) {
		if (errno != ENOENT)
			log_err("gslb: %s: %s", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		int n = sscanf(line, "%15s %63s %63s %u", verb, pool, mem, &w);
		int mi = n >= 3 ? gslb__member_find(rt->conf, pool, mem) : -1;
		if (n >= 3 && mi < 0) {
			log_notice("gslb: %s:%u: %s/%s is no longer configured; ignored", path, lineno,
			           pool, mem);
		} else if (n == 3 && strcmp(verb, "drain") == 0) {
			rt->mem[mi].drained = true;
		} else if (n == 4 && strcmp(verb, "weight") == 0 && w >= 1 && w <= 65535) {
			rt->mem[mi].weight = w;
			rt->mem[mi].weight_set = true;
		} else {
			log_warn("gslb: %s:%u: malformed line ignored", path, lineno);
		}
	}
	fclose(fp);
}

/* ---- member records ------------------------------------------------------------------- */

static void
member_init(const struct gslb_conf *c, unsigned i, struct gslb_member_rt *r)
{
	const struct gslb_member_conf *m = &c->members[i];
	*r = (struct gslb_member_rt){
		.up = m->check < 0 || c->checks[m->check].initial_up, .weight = m->weight,
		.srtt_us = -1, .since = time(NULL), .last_ok = true,
	};
	snprintf(r->reason, sizeof(r->reason), "%s", m->check < 0 ? "no check" : "initial state");
}

/* New records for conf, carrying over the state of members that keep their pool and name. */
static struct gslb_member_rt *
members_carry(const struct gslb_conf *oldc, const struct gslb_member_rt *old,
              const struct gslb_conf *c)
{
	struct gslb_member_rt *mem = calloc(c->n_members + 1, sizeof(*mem));
	if (mem == NULL)
		return NULL;
	for (unsigned i = 0; i < c->n_members; i++) {
		const struct gslb_member_conf *m = &c->members[i];
		member_init(c, i, &mem[i]);
		int oi = oldc ? gslb__member_find(oldc, c->pools[m->pool].name, m->name) : -1;
		if (oi < 0)
			continue;
		const struct gslb_member_conf *om = &oldc->members[oi];
		unsigned w = mem[i].weight;
		mem[i] = old[oi];
		/* An operator's weight outlives a reload unless the configured weight changed:
		 * then the configuration is the newer word. */
		if (!old[oi].weight_set || om->weight != m->weight) {
			mem[i].weight = w;
			mem[i].weight_set = false;
		}
		if (m->check < 0) {
			mem[i].up = true;
			snprintf(mem[i].reason, sizeof(mem[i].reason), "no check");
		}
	}
	return mem;
}

/* ---- requests (checker thread) --------------------------------------------------------- */

static int
do_status(struct gslb_runtime *rt, struct gslb_request *rq)
{
	const struct gslb_conf *c = rt->conf;
	rq->status = calloc(c->n_members + 1, sizeof(*rq->status));
	if (rq->status == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < c->n_members; i++) {
		const struct gslb_member_conf *m = &c->members[i];
		const struct gslb_member_rt *r = &rt->mem[i];
		struct status_copy *s = &rq->status[i];
		snprintf(s->pool, sizeof(s->pool), "%s", c->pools[m->pool].name);
		snprintf(s->member, sizeof(s->member), "%s", m->name);
		snprintf(s->check, sizeof(s->check), "%s", m->check >= 0 ? c->checks[m->check].name : "");
		snprintf(s->reason, sizeof(s->reason), "%s", r->reason);
		snprintf(s->last, sizeof(s->last), "%s", r->last_result[0] ? r->last_result : "none yet");
		s->st = (struct gslb_member_status){
			.up = r->up, .drained = r->drained, .weight = r->weight, .rtt_us = r->srtt_us,
			.since = r->since, .last_ok = r->last_ok, .transitions = r->transitions,
		};
	}
	rq->n_status = c->n_members;
	return 0;
}

static int
do_apply(struct gslb_runtime *rt, struct gslb_conf *c)
{
	struct gslb_member_rt *mem = members_carry(rt->conf, rt->mem, c);
	if (mem == NULL) {
		gslb_conf_free(c);
		return -ENOMEM;
	}
	gslb__checks_stop(rt);
	struct gslb_conf *oldc = rt->conf;
	free(rt->mem);
	rt->conf = c;
	rt->mem = mem;
	int rc = gslb__checks_start(rt);
	gslb__publish(rt);
	gslb_conf_free(oldc);   /* snapshots still pointing at it hold their own references */
	state_save(rt);
	log_notice("gslb: configuration applied: %u pools, %u members, %u names", c->n_pools,
	           c->n_members, c->n_names);
	return rc;
}

static int
do_request(struct gslb_runtime *rt, struct gslb_request *rq)
{
	if (rq->op == REQ_STATUS)
		return do_status(rt, rq);
	if (rq->op == REQ_APPLY)
		return do_apply(rt, rq->conf);
	int mi = gslb__member_find(rt->conf, rq->pool, rq->member);
	if (mi < 0)
		return -ENOENT;
	struct gslb_member_rt *r = &rt->mem[mi];
	const struct gslb_member_conf *m = &rt->conf->members[mi];
	switch (rq->op) {
	case REQ_DRAIN:
	case REQ_RESTORE:
		r->drained = rq->op == REQ_DRAIN;
		log_notice("gslb: pool %s member %s %s by operator", rq->pool, rq->member,
		           r->drained ? "drained" : "restored");
		break;
	case REQ_WEIGHT:
		if (rq->weight < 1 || rq->weight > 65535)
			return -EINVAL;
		r->weight = rq->weight;
		r->weight_set = true;
		log_notice("gslb: pool %s member %s weight set to %u by operator", rq->pool,
		           rq->member, rq->weight);
		break;
	case REQ_EXTERNAL:
		if (m->check < 0 || rt->conf->checks[m->check].type != GSLB_CHECK_EXTERNAL)
			return -EINVAL;
		r->ext_set = true;
		gslb__set_health(rt, (unsigned)mi, rq->up, rq->up ? "set up externally" :
		                 "set down externally");
		break;
	default:
		return -EINVAL;
	}
	gslb__publish(rt);
	if (rq->op != REQ_EXTERNAL)
		state_save(rt);
	return 0;
}

static void
on_async(uv_async_t *h)
{
	struct gslb_runtime *rt = h->data;

	pthread_mutex_lock(&rt->lock);
	struct gslb_request *list = rt->requests;
	rt->requests = NULL;
	bool stopping = rt->stopping;
	pthread_mutex_unlock(&rt->lock);

	/* Oldest first: requests were pushed on the front. */
	struct gslb_request *rev = NULL;
	while (list) {
		struct gslb_request *n = list->next;
		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		struct gslb_request *rq = rev;
		rev = rev->next;
		int rc = do_request(rt, rq);
		pthread_mutex_lock(&rt->lock);
		rq->rc = rc;
		rq->done = true;
		pthread_cond_broadcast(&rt->done);
		pthread_mutex_unlock(&rt->lock);
	}
	if (stopping) {
		gslb__checks_stop(rt);
		gslb__http_deinit(rt);
		uv_close((uv_handle_t *)&rt->async, NULL);
		uv_close((uv_handle_t *)&rt->check, NULL);
		uv_close((uv_handle_t *)&rt->tick, NULL);
	}
}

static void
on_check(uv_check_t *h)
{
	struct gslb_runtime *rt = h->data;
	if (rt->dirty)
		gslb__publish(rt);
}

static void
on_tick(uv_timer_t *h)
{
	gslb__reclaim(h->data);
}

static void
thread_main(void *arg)
{
	struct gslb_runtime *rt = arg;
	uv_run(&rt->loop, UV_RUN_DEFAULT);
}

static int
submit(struct gslb_runtime *rt, struct gslb_request *rq)
{
	pthread_mutex_lock(&rt->lock);
	rq->next = rt->requests;
	rt->requests = rq;
	pthread_mutex_unlock(&rt->lock);
	uv_async_send(&rt->async);
	pthread_mutex_lock(&rt->lock);
	while (!rq->done)
		pthread_cond_wait(&rt->done, &rt->lock);
	pthread_mutex_unlock(&rt->lock);
	return rq->rc;
}

/* Frees rt once its loop is closed and its thread gone (or never started): the member
 * and published state, the configuration it took, its lock. */
static void
runtime_free(struct gslb_runtime *rt)
{
	gslb__reclaim_all(rt);
	free(rt->mem);
	free(rt->state_dir);
	gslb_conf_free(rt->conf);
	pthread_cond_destroy(&rt->done);
	pthread_mutex_destroy(&rt->lock);
	free(rt);
}

/* ---- public API ---------------------------------------------------------------------------- */

int
gslb_runtime_start(struct gslb_conf *conf, const struct gslb_runtime_opts *opts,
                   struct gslb_runtime **out)
{
	struct gslb_runtime *rt = calloc(1, sizeof(*rt));
	int rc = -ENOMEM;

	*out = NULL;
	if (rt == NULL) {
		gslb_conf_free(conf);
		return -ENOMEM;
	}
	rt->conf = conf;
	pthread_mutex_init(&rt->lock, NULL);
	pthread_cond_init(&rt->done, NULL);
	atomic_init(&rt->current, NULL);
	atomic_init(&rt->epoch, 1);
	if (opts && opts->state_dir && (rt->state_dir = strdup(opts->state_dir)) == NULL)
		goto fail;
	if ((rt->mem = members_carry(NULL, NULL, conf)) == NULL)
		goto fail;
	state_load(rt);
	if ((rc = uv_loop_init(&rt->loop)) != 0)
		goto fail;
	uv_async_init(&rt->loop, &rt->async, on_async);
	uv_check_init(&rt->loop, &rt->check);
	uv_timer_init(&rt->loop, &rt->tick);
	rt->async.data = rt->check.data = rt->tick.data = rt;
	uv_check_start(&rt->check, on_check);
	uv_timer_start(&rt->tick, on_tick, 100, 100);
	if ((rc = gslb__http_init(rt)) != 0 || (rc = gslb__checks_start(rt)) != 0 ||
	    (rc = gslb__publish(rt)) != 0)
		goto fail_loop;
	if ((rc = uv_thread_create(&rt->thread, thread_main, rt)) != 0)
		goto fail_loop;
	rt->thread_started = true;
	*out = rt;
	return 0;
fail_loop:
	rt->stopping = true;
	on_async(&rt->async);
	uv_run(&rt->loop, UV_RUN_DEFAULT);
	uv_loop_close(&rt->loop);
fail:
	log_err("gslb: cannot start: %s", sp_strerror(rc));
	runtime_free(rt);
	return rc;
}

void
gslb_runtime_stop(struct gslb_runtime *rt)
{
	if (rt == NULL)
		return;
	pthread_mutex_lock(&rt->lock);
	rt->stopping = true;
	pthread_mutex_unlock(&rt->lock);
	uv_async_send(&rt->async);
	uv_thread_join(&rt->thread);
	if (uv_loop_close(&rt->loop) != 0)
		log_warn("gslb: loop closed with handles still open");
	if (rt->readers)
		log_err("gslb: stopped with readers still registered");
	runtime_free(rt);
}

int
gslb_runtime_apply(struct gslb_runtime *rt, struct gslb_conf *new_conf)
{
	struct gslb_request rq = { .op = REQ_APPLY, .conf = new_conf };
	return submit(rt, &rq);
}

static int
member_cmd(struct gslb_runtime *rt, enum req_op op, const char *pool, const char *member,
           unsigned weight, bool up)
{
	if (rt == NULL || pool == NULL || member == NULL)
		return -EINVAL;
	struct gslb_request rq = { .op = op, .pool = pool, .member = member, .weight = weight,
	                           .up = up };
	return submit(rt, &rq);
}

int
gslb_drain(struct gslb_runtime *rt, const char *pool, const char *member)
{
	return member_cmd(rt, REQ_DRAIN, pool, member, 0, false);
}

int
gslb_restore(struct gslb_runtime *rt, const char *pool, const char *member)
{
	return member_cmd(rt, REQ_RESTORE, pool, member, 0, false);
}

int
gslb_set_weight(struct gslb_runtime *rt, const char *pool, const char *member, unsigned weight)
{
	return member_cmd(rt, REQ_WEIGHT, pool, member, weight, false);
}

int
gslb_set_external(struct gslb_runtime *rt, const char *pool, const char *member, bool up)
{
	return member_cmd(rt, REQ_EXTERNAL, pool, member, 0, up);
}

int
gslb_status(struct gslb_runtime *rt, gslb_status_fn *fn, void *arg)
{
	struct gslb_request rq = { .op = REQ_STATUS };
	int rc = submit(rt, &rq);

	for (unsigned i = 0; rc == 0 && i < rq.n_status; i++) {
		struct status_copy *s = &rq.status[i];
		s->st.pool = s->pool;
		s->st.member = s->member;
		s->st.check = s->check[0] ? s->check : NULL;
		s->st.reason = s->reason;
		s->st.last_result = s->last;
		fn(arg, &s->st);
	}
	free(rq.status);
	return rc;
}
