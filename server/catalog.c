/* catalog.c - catalog zones (RFC 9432). Consumer: after each transfer of a catalog zone
 * (catalog: consumer), the member zones it lists become secondary zones with the catalog's
 * primaries and keys, and members it no longer lists are deleted. Producer (catalog:
 * producer): at each reload the catalog is regenerated from the zones that name it in
 * catalog-zone, and compiled when its member list changed.
 *
 * Main loop only: the consumer runs when a catalog's transfer has been compiled
 * (xfr_in.c), the producer during reloads (xfr.c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "server/xfr_in.h"

/* ---- catalog zones (RFC 9432), consumer side --------------------------------------------- */

_Atomic(const struct xfr_members *) xfr__members;
static struct xfr_members **members_history;
static size_t nmembers_history;

void
xfr_in__publish_members(struct xfr_in *in)
{
	size_t n = 0;
	for (size_t i = 0; i < in->nzones; i++)
		n += in->zones[i]->catalog_of != NULL && !in->zones[i]->gone;
	struct xfr_members *m = calloc(1, sizeof(*m) + n * sizeof(m->e[0]));
	struct xfr_members **h = realloc(members_history, (nmembers_history + 1) * sizeof(*h));
	if (h != NULL)
		members_history = h;
	if (m == NULL || h == NULL) {
		free(m);
		log_err("xfr-in: out of memory publishing catalog members");
		return;
	}
	for (size_t i = 0; i < in->nzones; i++) {
		struct sec_zone *z = in->zones[i];
		if (z->catalog_of == NULL || z->gone)
			continue;
		memcpy(m->e[m->n].apex, z->apex, dname_len(z->apex));
		m->e[m->n++].catalog = z->catalog_of->conf;
	}
	members_history[nmembers_history++] = m;
	atomic_store(&xfr__members, m);
}


/* The member zones a catalog lists now: the PTR targets of <id>.zones.<catalog>
 * (RFC 9432 4.1), at most max of them, into names (DNAME_MAXLEN each). */
static size_t
catalog_members(struct xfr_in *in, const struct sec_zone *cat, uint8_t (*names)[DNAME_MAXLEN],
                size_t max)
{
	struct zones_iter *it = NULL;
	uint8_t owner[DNAME_MAXLEN], zones_apex[DNAME_MAXLEN + 6] = "\5zones";
	struct zones_node node;
	struct zones_rrset rr;
	size_t n = 0;
	unsigned labels = dname_labels(cat->apex);

	memcpy(zones_apex + 6, cat->apex, dname_len(cat->apex));
	if (zones_iter_new(in->db, cat->apex, &it) != 0)
		return 0;
	while (n < max && zones_iter_next(it, owner, &node) == 1) {
		if (dname_labels(owner) != labels + 2 ||
		    !dname_equal(dname_suffix(owner, labels + 1), zones_apex) ||
		    !zones_node_rrset(&node, 12 /* PTR */, 0, &rr) || rr.count != 1)
			continue;       /* RFC 9432 4.1: exactly one PTR per member node */
		const uint8_t *target = rr.rdata + 2;
		dname_copy_lower(names[n], target);
		if (dname_is_subdomain(names[n], cat->apex))
			continue;       /* a member inside the catalog would shadow it */
		n++;
	}
	zones_iter_free(it);
	return n;
}

/* Brings the members of catalog cat in line with what it lists: new members become
 * secondary zones from the catalog's primaries, members no longer listed are removed
 * (RFC 9432 5.3, 5.4). A name that is also configured as a zone is left alone. */
void
xfr_in__catalog_sync(struct sec_zone *cat)
{
	struct xfr_in *in = cat->in;
	const size_t max = 10000;
	uint8_t (*names)[DNAME_MAXLEN] = malloc(max * DNAME_MAXLEN);
	if (names == NULL)
		return;
	size_t n = catalog_members(in, cat, names, max);
	const struct xfr_conf *xc = xfr_published();
	bool changed = false;
	for (size_t i = 0; i < in->nzones; i++) {
		struct sec_zone *z = in->zones[i];
		if (z->catalog_of != cat || z->gone)
			continue;
		bool listed = false;
		for (size_t k = 0; k < n && !listed; k++)
			listed = dname_equal(names[k], z->apex);
		if (!listed) {
			z->gone = true;
			uv_timer_stop(&z->timer);
			(void)zones_delete(in->db, z->name);
			log_notice("xfr-in: catalog %s no longer lists %s: removed", cat->name, z->name);
			changed = true;
		}
	}
	for (size_t k = 0; k < n; k++) {
		struct zones_info info;
		char text[DNAME_MAXLEN * 4 + 2];
		if (xfr_in__zone_find(in, names[k]) != NULL || xfr_conf_zone(xc, names[k]) != NULL)
			continue;
		dname_to_str(names[k], text, sizeof(text));
		/* A configured primary zone of that name (compiled from a file) wins. */
		if (zones_info_get(in->db, text, &info) == 0 &&
		    strstr(info.source, "/secondary/") == NULL)
			continue;
		struct sec_zone *z = xfr_in__zone_add_named(in, xc, cat->conf, names[k]);
		if (z == NULL)
			break;
		z->catalog_of = cat;
		changed = true;
		log_notice("xfr-in: catalog %s provisions %s", cat->name, z->name);
		int64_t now = (int64_t)time(NULL);
		if (z->st.have && z->st.next_refresh > now)
			xfr_in__schedule(z, (uint64_t)(z->st.next_refresh - now));
		else
			xfr_in__check_now(z);
	}
	free(names);
	if (changed)
		xfr_in__publish_members(in);
}


void
xfr_in__members_unpublish(void)
{
	atomic_store(&xfr__members, NULL);
	for (size_t i = 0; i < nmembers_history; i++)
		free(members_history[i]);
	free(members_history);
	members_history = NULL;
	nmembers_history = 0;
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
void
catalog_produce(struct zones_db *db, const struct daemon_conf *c)
{
	const struct xfr_conf *x = c->xfr;
	for (size_t i = 0; x != NULL && i < x->nzones; i++) {
		const struct xfr_zone *cat = &x->zones[i];
		char path[PATH_MAX];
		if (!cat->producer)
			continue;
		struct zones_info info;
		bool have = zones_info_get(db, cat->name, &info) == 0;
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
			struct zones_journal_limits lim;
			(void)xfr_journal_opts(cat->name, &opts, &lim);
			int rc = ok ? zones_compile_file(db, cat->name, path, &opts, NULL) : -EIO;
			if (rc != 0)
				log_err("xfr: catalog %s: cannot generate %s: %s", cat->name, path,
				        sp_strerror(rc));
			else
				log_info("xfr: catalog %s regenerated", cat->name);
		}
		free(now);
	}
}
