/* xfr.c - the transfer runtime on the main loop: publishes the transfer settings to
 * the workers, and around every reload (at start and on SIGHUP) keeps a snapshot of the
 * zones' previous versions so that each recompiled zone gets its IXFR journal step
 * (zones_journal_add()) and its secondaries a NOTIFY.
 *
 * Main thread only: reloads run there, and so does the NOTIFY sender. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "server/xfr.h"

struct old_version {
	uint8_t apex[DNAME_MAXLEN];
	bool present;
	uint32_t serial;
	struct zones_iter *it;          /* NULL when the zone was absent */
};

struct xfr_runtime {
	uv_loop_t *loop;
	struct zones_db *db;
	bool journal;                   /* the xfr DBI could be opened */
	struct notify_sender *notify;
	struct xfr_in *in;              /* secondary zones */
	struct zones_iter *base;        /* the read transaction of the previous versions */
	struct old_version *olds;
	size_t nolds;
};

int
xfr_runtime_start(uv_loop_t *loop, struct zones_db *db, const struct daemon_conf *c,
                  struct xfr_runtime **out)
{
	struct xfr_runtime *rt = calloc(1, sizeof(*rt));
	*out = NULL;
	if (rt == NULL)
		return -ENOMEM;
	rt->loop = loop;
	rt->db = db;
	int rc = zones_journal_init(db);
	if (rc != 0)
		log_warn("xfr: no IXFR journal (%s): IXFR requests get the whole zone",
		         sp_strerror(rc));
	rt->journal = rc == 0;
	rc = notify_sender_new(loop, &rt->notify);
	if (rc == 0)
		rc = xfr_publish(c);
	if (rc == 0)
		rc = xfr_in_start(loop, db, c->state_dir, rt->notify, &rt->in);
	if (rc != 0) {
		xfr_runtime_stop(rt);
		return rc;
	}
	xfr_in_apply(rt->in);
	*out = rt;
	return 0;
}

static void
olds_free(struct xfr_runtime *rt)
{
	for (size_t i = 0; i < rt->nolds; i++) {
		if (rt->olds[i].it != rt->base)
			zones_iter_free(rt->olds[i].it);
	}
	zones_iter_free(rt->base);
	rt->base = NULL;
	free(rt->olds);
	rt->olds = NULL;
	rt->nolds = 0;
}

void
xfr_runtime_before_reload(struct xfr_runtime *rt)
{
	const struct xfr_conf *xc = xfr_published();
	if (rt == NULL || xc == NULL || xc->nzones == 0)
		return;
	olds_free(rt);
	rt->olds = calloc(xc->nzones, sizeof(*rt->olds));
	if (rt->olds == NULL)
		return;
	for (size_t i = 0; i < xc->nzones; i++) {
		const struct xfr_zone *z = &xc->zones[i];
		struct old_version *o = &rt->olds[rt->nolds++];
		memcpy(o->apex, z->apex, dname_len(z->apex));
		/* One read transaction for all (the first zone found opens it): it keeps
		 * every previous version's pages alive until the journal steps are written. */
		int rc = rt->base == NULL ? zones_iter_new(rt->db, z->apex, &o->it)
		                          : zones_iter_new_at(rt->base, z->apex, &o->it);
		if (rc != 0)
			continue;
		if (rt->base == NULL)
			rt->base = o->it;
		struct zones_zone zone;
		zones_iter_zone(o->it, &zone, NULL);
		o->present = true;
		o->serial = zone.serial;
	}
}

static const struct old_version *
old_of(const struct xfr_runtime *rt, const uint8_t *apex)
{
	for (size_t i = 0; i < rt->nolds; i++) {
		if (dname_equal(rt->olds[i].apex, apex))
			return &rt->olds[i];
	}
	return NULL;
}

/* RFC 1982 serial arithmetic is not needed here: any change of serial is news. */
static void
after_zone(struct xfr_runtime *rt, const struct xfr_conf *xc, const struct xfr_zone *z)
{
	const struct old_version *o = old_of(rt, z->apex);
	struct zones_iter *now = NULL;
	if (zones_iter_new(rt->db, z->apex, &now) != 0)
		return;     /* not served (failed its first load, or deleted) */
	struct zones_zone zone;
	struct zones_rrset soa;
	zones_iter_zone(now, &zone, &soa);
	if (o == NULL || !o->present || o->serial != zone.serial) {
		if (o != NULL && o->present)
			log_notice("xfr: %s serial %u -> %u", z->name, o->serial, zone.serial);
		if (z->nnotify > 0)
			notify_send(rt->notify, xc, z, &soa, zone.serial);
	}
	zones_iter_free(now);
}

void
xfr_runtime_after_reload(struct xfr_runtime *rt, const struct daemon_conf *c)
{
	if (rt == NULL)
		return;
	catalog_produce(rt->db, c);
	/* Journal steps first, while the previous versions are still readable. */
	const struct xfr_conf *prev = xfr_published();
	for (size_t i = 0; rt->journal && prev != NULL && i < rt->nolds; i++) {
		struct old_version *o = &rt->olds[i];
		const struct xfr_zone *z = xfr_conf_zone(prev, o->apex);
		if (o->it == NULL || z == NULL || z->nprovide == 0)
			continue;
		int rc = zones_journal_add(rt->db, o->it, prev->journal_versions, prev->journal_size);
		if (rc != 0)
			log_warn("xfr: %s: IXFR journal not updated (%s): IXFR falls back to AXFR",
			         z->name, sp_strerror(rc));
	}
	if (xfr_publish(c) != 0)
		log_err("xfr: out of memory: the previous transfer settings stay in force");
	const struct xfr_conf *xc = xfr_published();
	for (size_t i = 0; xc != NULL && i < xc->nzones; i++) {
		if (!xc->zones[i].secondary)
			after_zone(rt, xc, &xc->zones[i]);
	}
	olds_free(rt);
	xfr_in_apply(rt->in);
}

void
xfr_runtime_stop(struct xfr_runtime *rt)
{
	if (rt == NULL)
		return;
	olds_free(rt);
	xfr_in_stop(rt->in);
	notify_sender_close(rt->notify);
	free(rt);
}
