/* check.c - health checks on the checker thread: one probe per checked member, fired by a
 * libuv timer every interval; TCP connects here, HTTP(S) in check_http.c; external state
 * from gslb_set_external() or a watched file. Results pass through rise/fall counters
 * before a member changes state; every change is logged with its reason and marks the
 * runtime dirty, so the loop publishes a new snapshot at the end of the iteration. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gslb/internal.h"
#include "lib/log.h"

#define EXT_FILE_MAX (1024 * 1024)

struct gslb_probe {
	struct gslb_runtime *rt;
	unsigned midx;
	const struct gslb_check_conf *ck;
	struct sockaddr_storage addr;
	uv_timer_t timer;
	void *op;                   /* the check in flight, if any */
	bool is_tcp;
	struct gslb_probe *next;
};

struct gslb_watch {
	struct gslb_runtime *rt;
	int check;
	uv_timer_t timer;
	struct stat last;
	bool have_last;
	struct gslb_watch *next;
};

/* ---- results ------------------------------------------------------------------------- */

void
gslb__set_health(struct gslb_runtime *rt, unsigned midx, bool up, const char *reason)
{
	struct gslb_member_rt *r = &rt->mem[midx];
	const struct gslb_member_conf *m = &rt->conf->members[midx];

	if (r->up == up)
		return;
	r->up = up;
	r->since = time(NULL);
	r->transitions++;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	rt->dirty = true;
	log_notice("gslb: pool %s member %s is %s: %s", rt->conf->pools[m->pool].name, m->name,
	           up ? "up" : "down", reason);
}

void
gslb__check_result(struct gslb_runtime *rt, unsigned midx, bool ok, const char *reason,
                   int64_t rtt_us)
{
	struct gslb_member_rt *r = &rt->mem[midx];
	const struct gslb_check_conf *ck = &rt->conf->checks[rt->conf->members[midx].check];

	r->last_ok = ok;
	snprintf(r->last_result, sizeof(r->last_result), "%s", ok ? "ok" : reason);
	if (!ok) {
		r->ok_run = 0;
		if (r->fail_run < ck->fall)
			r->fail_run++;
		if (r->fail_run >= ck->fall)
			gslb__set_health(rt, midx, false, reason);
		return;
	}
	if (rtt_us >= 0) {
		int64_t old = r->srtt_us;
		/* Smoothed like TCP's SRTT (RFC 6298 2.3, alpha = 1/8). */
		r->srtt_us = old < 0 ? rtt_us : (7 * old + rtt_us) / 8;
		int64_t d = r->srtt_us - old;
		if (old < 0 || (d < 0 ? -d : d) * 10 > old)
			rt->dirty = true;   /* publish moves of 10% or more for lowest-rtt */
	}
	r->fail_run = 0;
	if (r->ok_run < ck->rise)
		r->ok_run++;
	if (r->ok_run >= ck->rise)
		gslb__set_health(rt, midx, true, "check passed");
}

/* ---- TCP connect ------------------------------------------------------------------------ */

struct tcp_op {
	struct gslb_probe *p;       /* NULL once cancelled */
	uv_tcp_t tcp;
	uv_connect_t req;
	uv_timer_t timer;
	uint64_t start_us;
	int open_handles;
	bool finished;
};

static void
tcp_op_closed(uv_handle_t *h)
{
	struct tcp_op *op = h->data;
	if (--op->open_handles == 0)
		free(op);
}

static void
tcp_finish(struct tcp_op *op, bool ok, const char *reason)
{
	if (op->finished)
		return;
	op->finished = true;
	struct gslb_probe *p = op->p;
	if (p) {
		int64_t rtt = ok ? (int64_t)(uv_hrtime() / 1000 - op->start_us) : -1;
		p->op = NULL;
		gslb__check_result(p->rt, p->midx, ok, reason, rtt);
	}
	uv_timer_stop(&op->timer);
	uv_close((uv_handle_t *)&op->tcp, tcp_op_closed);
	uv_close((uv_handle_t *)&op->timer, tcp_op_closed);
}

static void
on_tcp_connect(uv_connect_t *req, int status)
{
	struct tcp_op *op = req->data;
	/* Closing a connecting handle calls us with UV_ECANCELED after tcp_finish(). */
	tcp_finish(op, status == 0, status == 0 ? "connected" : uv_strerror(status));
}

static void
on_tcp_timeout(uv_timer_t *t)
{
	tcp_finish(t->data, false, "timeout");
}

static void *
tcp_start(struct gslb_probe *p)
{
	struct tcp_op *op = calloc(1, sizeof(*op));
	if (op == NULL) {
		gslb__check_result(p->rt, p->midx, false, "out of memory", -1);
		return NULL;
	}
	op->p = p;
	op->start_us = uv_hrtime() / 1000;
	uv_tcp_init(&p->rt->loop, &op->tcp);
	uv_timer_init(&p->rt->loop, &op->timer);
	op->open_handles = 2;
	op->tcp.data = op->timer.data = op->req.data = op;
	p->op = op;
	int rc = uv_tcp_connect(&op->req, &op->tcp, (struct sockaddr *)&p->addr, on_tcp_connect);
	if (rc != 0) {
		tcp_finish(op, false, uv_strerror(rc));
		return NULL;
	}
	uv_timer_start(&op->timer, on_tcp_timeout, p->ck->timeout_ms, 0);
	return op;
}

static void
tcp_cancel(struct tcp_op *op)
{
	op->p = NULL;
	tcp_finish(op, false, "cancelled");
}

/* ---- probes ------------------------------------------------------------------------------ */

static void
on_http_done(void *arg, bool ok, const char *reason, int64_t rtt_us)
{
	struct gslb_probe *p = arg;
	p->op = NULL;
	gslb__check_result(p->rt, p->midx, ok, reason, rtt_us);
}

static void
on_probe_timer(uv_timer_t *t)
{
	struct gslb_probe *p = t->data;

	if (p->op)
		return;     /* still running (timeout <= interval makes this rare) */
	if (p->is_tcp) {
		tcp_start(p);
	} else {
		p->op = gslb__http_start(p->rt, p->ck, (struct sockaddr *)&p->addr, on_http_done, p);
	}
}

static void
probe_target(const struct gslb_conf *c, const struct gslb_member_conf *m,
             const struct gslb_check_conf *ck, struct sockaddr_storage *ss)
{
	uint16_t port = m->check_port ? m->check_port : ck->port;
	if (port == 0)
		port = ck->type == GSLB_CHECK_HTTPS ? 443 : 80;
	memset(ss, 0, sizeof(*ss));
	int family = m->has_check_addr ? m->check_family : m->has4 ? AF_INET : AF_INET6;
	const uint8_t *a = m->has_check_addr ? m->check_addr : m->has4 ? m->addr4 : m->addr6;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a, 16);
	}
}

static void
probe_closed(uv_handle_t *h)
{
	free(h->data);
}

/* ---- external state files ----------------------------------------------------------------- */

static bool
ext_member_matches(const struct gslb_conf *c, unsigned i, int check, const char *who)
{
	const struct gslb_member_conf *m = &c->members[i];
	if (m->check != check)
		return false;
	const char *slash = strchr(who, '/');
	if (slash == NULL)
		return strcmp(who, m->name) == 0;
	const char *pool = c->pools[m->pool].name;
	return strlen(pool) == (size_t)(slash - who) && strncmp(who, pool, slash - who) == 0 &&
	       strcmp(slash + 1, m->name) == 0;
}

/* Reads "MEMBER up|down" (or "POOL/MEMBER up|down") lines; '#' starts a comment. A
 * malformed file is reported and changes nothing. */
static void
ext_read(struct gslb_runtime *rt, int check, const char *path)
{
	const struct gslb_conf *c = rt->conf;
	char line[512], who[2 * GSLB_NAME_MAX + 2], word[16], extra[2];
	unsigned lineno = 0, n = 0;
	struct { char who[2 * GSLB_NAME_MAX + 2]; bool up; } *ent;

	FILE *fp = fopen(path, "r");
	if (fp == NULL) {
		log_warn("gslb: external state %s: %s; member states unchanged", path, strerror(errno));
		return;
	}
	ent = calloc(EXT_FILE_MAX / 8, sizeof(*ent));
	if (ent == NULL) {
		fclose(fp);
		return;
	}
	bool bad = false;
	long total = 0;
	while (!bad && fgets(line, sizeof(line), fp)) {
		lineno++;
		total += (long)strlen(line);
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		int k = sscanf(line, "%127s %15s %1s", who, word, extra);
		if (k <= 0)
			continue;
		if (total > EXT_FILE_MAX || n == EXT_FILE_MAX / 8) {
			log_err("gslb: %s: larger than %d bytes; member states unchanged", path,
			        EXT_FILE_MAX);
			bad = true;
		} else if (k != 2 || (strcmp(word, "up") != 0 && strcmp(word, "down") != 0)) {
			log_err("gslb: %s:%u: expected \"MEMBER up|down\"; member states unchanged",
			        path, lineno);
			bad = true;
		} else {
			snprintf(ent[n].who, sizeof(ent[n].who), "%s", who);
			ent[n++].up = word[0] == 'u';
		}
	}
	fclose(fp);
	for (unsigned e = 0; !bad && e < n; e++) {
		bool found = false;
		for (unsigned i = 0; i < c->n_members; i++) {
			if (!ext_member_matches(c, i, check, ent[e].who))
				continue;
			found = true;
			rt->mem[i].ext_set = true;
			gslb__set_health(rt, i, ent[e].up, ent[e].up ? "external file: up" :
			                 "external file: down");
		}
		if (!found)
			log_warn("gslb: %s: no member %s uses check %s", path, ent[e].who,
			         c->checks[check].name);
	}
	free(ent);
}

static void
on_watch_timer(uv_timer_t *t)
{
	struct gslb_watch *w = t->data;
	const char *path = w->rt->conf->checks[w->check].file;
	struct stat st;

	if (stat(path, &st) != 0) {
		if (w->have_last)
			log_warn("gslb: external state %s: %s; member states unchanged", path,
			         strerror(errno));
		w->have_last = false;
		return;
	}
	if (w->have_last && st.st_ino == w->last.st_ino && st.st_size == w->last.st_size &&
	    st.st_mtim.tv_sec == w->last.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == w->last.st_mtim.tv_nsec)
		return;
	w->last = st;
	w->have_last = true;
	ext_read(w->rt, w->check, path);
}

/* ---- start / stop ------------------------------------------------------------------------ */

int
gslb__checks_start(struct gslb_runtime *rt)
{
	const struct gslb_conf *c = rt->conf;

	for (unsigned i = 0; i < c->n_checks; i++) {
		if (c->checks[i].type != GSLB_CHECK_EXTERNAL || c->checks[i].file == NULL)
			continue;
		struct gslb_watch *w = calloc(1, sizeof(*w));
		if (w == NULL)
			return -ENOMEM;
		w->rt = rt;
		w->check = (int)i;
		uv_timer_init(&rt->loop, &w->timer);
		w->timer.data = w;
		w->next = rt->watches;
		rt->watches = w;
		on_watch_timer(&w->timer);      /* the file decides the first state */
		uv_timer_start(&w->timer, on_watch_timer, c->checks[i].interval_ms,
		               c->checks[i].interval_ms);
	}
	for (unsigned i = 0; i < c->n_members; i++) {
		const struct gslb_member_conf *m = &c->members[i];
		if (m->check < 0 || c->checks[m->check].type == GSLB_CHECK_EXTERNAL)
			continue;
		struct gslb_probe *p = calloc(1, sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		p->rt = rt;
		p->midx = i;
		p->ck = &c->checks[m->check];
		p->is_tcp = p->ck->type == GSLB_CHECK_TCP;
		probe_target(c, m, p->ck, &p->addr);
		uv_timer_init(&rt->loop, &p->timer);
		p->timer.data = p;
		p->next = rt->probes;
		rt->probes = p;
		/* Spread the first checks over a tenth of the interval so a big pool does not
		 * probe everything in the same millisecond. */
		uint64_t first = 1 + (uint64_t)(i * 7919u) % (p->ck->interval_ms / 10 + 1);
		uv_timer_start(&p->timer, on_probe_timer, first, p->ck->interval_ms);
	}
	return 0;
}

void
gslb__checks_stop(struct gslb_runtime *rt)
{
	while (rt->probes) {
		struct gslb_probe *p = rt->probes;
		rt->probes = p->next;
		if (p->op && p->is_tcp)
			tcp_cancel(p->op);
		else if (p->op)
			gslb__http_cancel(rt, p->op);
		p->op = NULL;
		uv_timer_stop(&p->timer);
		uv_close((uv_handle_t *)&p->timer, probe_closed);
	}
	while (rt->watches) {
		struct gslb_watch *w = rt->watches;
		rt->watches = w->next;
		uv_timer_stop(&w->timer);
		uv_close((uv_handle_t *)&w->timer, probe_closed);
	}
}
