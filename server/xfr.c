/* xfr.c - the transfer runtime on the main loop: publishes the transfer settings to
 * the workers, gives compiles of zones with provide-xfr the IXFR journal hook
 * (xfr_journal_opts(): the step is written in the compile's own transaction), and
 * around every reload (at start and on SIGHUP) remembers the zones' serials so that
 * the secondaries of each changed zone get a NOTIFY.
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
};

static bool journal_ok;        /* the xfr DBI could be opened (xfr_runtime_start()) */

struct xfr_runtime {
	uv_loop_t *loop;
	struct zones_db *db;
	bool journal;                   /* the xfr DBI could be opened */
	struct notify_sender *notify;
	struct xfr_in *in;              /* secondary zones */
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
	journal_ok = rt->journal;
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

bool
xfr_journal_opts(const char *name, struct zones_compile_opts *o,
                 struct zones_journal_limits *lim)
{
	uint8_t apex[DNAME_MAXLEN];
	const struct xfr_conf *xc = xfr_published();
	if (!journal_ok || xc == NULL || dname_from_str(name, apex) == 0)
		return false;
	const struct xfr_zone *z = xfr_conf_zone(xc, apex);
	if (z == NULL || z->nprovide == 0)
		return false;
	lim->max_versions = xc->journal_versions;
	lim->max_size = xc->journal_size;
	o->on_write = zones_journal_hook;
	o->on_write_ctx = lim;
	return true;
}

static void
olds_free(struct xfr_runtime *rt)
{
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
		struct zones_iter *it = NULL;
		memcpy(o->apex, z->apex, dname_len(z->apex));
		if (zones_iter_new(rt->db, z->apex, &it) != 0)
			continue;
		struct zones_zone zone;
		zones_iter_zone(it, &zone, NULL);
		o->present = true;
		o->serial = zone.serial;
		zones_iter_free(it);
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
	/* The journal steps were written by the compiles themselves (xfr_journal_opts()). */
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
