/* xfr.c - the transfer runtime on the main loop: publishes the transfer settings to
 * the workers, and around every reload (at start and on SIGHUP) keeps a snapshot of the
 * zones' previous versions so that each recompiled zone gets its IXFR journal step
 * (zones_journal_add()) and its secondaries a NOTIFY.
 *
 * Main thread only: reloads run there, and so does the NOTIFY sender. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>
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

/* ---- catalog zones (RFC 9432), producer side --------------------------------------------- */

/* RFC 9432 4.1: member node labels must be unique within the catalog; a hash of the
 * member's name keeps them stable across regenerations (what Knot does too). */
static uint64_t
member_id(const uint8_t *apex)
{
	uint64_t h = 14695981039346656037ull;
	for (const uint8_t *p = apex; p < apex + dname_len(apex); p++)
		h = (h ^ (uint8_t)(*p | (*p >= 'A' && *p <= 'Z' ? 0x20 : 0))) * 1099511628211ull;
	return h;
}

static char *
catalog_text(const struct xfr_conf *x, const struct xfr_zone *cat, uint32_t serial)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL)
		return NULL;
	/* RFC 9432 4: SOA and NS are required but meaningless: invalid. and TTL 0. */
	fprintf(f, "$ORIGIN %s\n@ 0 IN SOA invalid. invalid. %u 3600 600 2147483646 0\n"
	        "@ 0 IN NS invalid.\nversion 0 IN TXT \"2\"\n", cat->name, serial);
	for (size_t i = 0; i < x->nzones; i++) {
		const struct xfr_zone *z = &x->zones[i];
		uint8_t wire[DNAME_MAXLEN];
		if (z->catalog_zone == NULL || dname_from_str(z->catalog_zone, wire) == 0 ||
		    !dname_equal(wire, cat->apex))
			continue;
		fprintf(f, "%016llx.zones 0 IN PTR %s\n", (unsigned long long)member_id(z->apex),
		        z->name);
	}
	fclose(f);
	return buf;
}

/* Regenerates each catalog: producer zone from the zones that name it; compiles it (as
 * any zone: journal step and NOTIFY follow) when its member list changed. */
static void
catalogs_produce(struct xfr_runtime *rt, const struct daemon_conf *c)
{
	const struct xfr_conf *x = c->xfr;
	for (size_t i = 0; x != NULL && i < x->nzones; i++) {
		const struct xfr_zone *cat = &x->zones[i];
		char path[PATH_MAX];
		if (!cat->producer)
			continue;
		struct zones_info info;
		bool have = zones_info_get(rt->db, cat->name, &info) == 0;
		uint32_t serial = have ? info.serial : (uint32_t)time(NULL);
		char *now = catalog_text(x, cat, serial);
		if (now == NULL)
			continue;
		snprintf(path, sizeof(path), "%.3000s/catalog-%.1000szone", c->state_dir, cat->name);
		char *old = NULL;
		size_t oldlen = 0;
		FILE *f = fopen(path, "r");
		if (f != NULL) {
			old = calloc(1, strlen(now) + 2);
			if (old != NULL)
				oldlen = fread(old, 1, strlen(now) + 1, f);
			fclose(f);
		}
		bool same = have && old != NULL && oldlen == strlen(now) && memcmp(old, now, oldlen) == 0;
		free(old);
		if (!same) {
			if (have) {
				free(now);
				now = catalog_text(x, cat, serial + 1);     /* RFC 1982: one step up */
			}
			f = now != NULL ? fopen(path, "w") : NULL;
			bool ok = f != NULL && fputs(now, f) >= 0;
			if (f != NULL && fclose(f) != 0)
				ok = false;
			struct zones_compile_opts opts = {0};
			int rc = ok ? zones_compile_file(rt->db, cat->name, path, &opts, NULL) : -EIO;
			if (rc != 0)
				log_err("xfr: catalog %s: cannot generate %s: %s", cat->name, path,
				        sp_strerror(rc));
			else
				log_info("xfr: catalog %s regenerated", cat->name);
		}
		free(now);
	}
}

void
xfr_runtime_after_reload(struct xfr_runtime *rt, const struct daemon_conf *c)
{
	if (rt == NULL)
		return;
	catalogs_produce(rt, c);
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
