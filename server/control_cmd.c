/* control_cmd.c - the control socket's commands about the running daemon: status, stats,
 * zone list/status (zones from files, secondary zones and catalog members with their
 * transfer state), reload [ZONE], gslb status/drain/restore/weight (signpostctl(8)).
 *
 * Main thread (the control socket runs on the main loop), so reload is the same reload as
 * SIGHUP and never races it; GSLB commands wait briefly for the checker thread. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gslb/gslb.h"
#include "lib/errors.h"
#include "lib/log.h"
#include "server/control.h"
#include "server/xfr.h"

/* ---- status, stats ------------------------------------------------------------------ */

void
control__status(struct req *r)
{
	struct control *ctl = r->ctl;
	const struct daemon_conf *c = *ctl->env.conf;
	struct stats_total t;
	stats_sum(ctl->env.workers, ctl->env.nworkers, &t);
	size_t loaded = 0;
	for (size_t i = 0; i < c->nzones; i++) {
		struct zones_info info;
		if (zones_info_get(ctl->env.db, c->zones[i].name, &info) == 0)
			loaded++;
	}
	char started[32];
	control__fmt_time(ctl->env.started, started, sizeof(started));
	long uptime = (long)(time(NULL) - ctl->env.started);
	uint64_t q = t.a.queries_udp + t.a.queries_tcp;
	if (r->json) {
		ops_buf_printf(r->out, "{\"version\":\"%s\",\"pid\":%ld,\"started\":\"%s\","
		               "\"uptime_seconds\":%ld,\"workers\":%u,\"zones_configured\":%zu,"
		               "\"zones_loaded\":%zu,\"queries\":%" PRIu64 ",\"gslb\":%s,\"config\":",
		               PACKAGE_VERSION, (long)getpid(), started, uptime, ctl->env.nworkers,
		               c->nzones, loaded, q, control__gslb(ctl) != NULL ? "true" : "false");
		ops_buf_json_str(r->out, c->path);
		ops_buf_printf(r->out, ",\"metrics\":");
		ops_buf_json_str(r->out, c->metrics_enabled ? c->metrics_listen.text : NULL);
		ops_buf_printf(r->out, "}\n");
		return;
	}
	ops_buf_printf(r->out,
	               "signpostd %s running (pid %ld) since %s (%ld s)\n"
	               "config:  %s\n"
	               "workers: %u\n"
	               "zones:   %zu configured, %zu loaded\n"
	               "queries: %" PRIu64 " (%" PRIu64 " UDP, %" PRIu64 " TCP)\n"
	               "gslb:    %s\n"
	               "metrics: %s\n",
	               PACKAGE_VERSION, (long)getpid(), started, uptime,
	               c->path != NULL ? c->path : "(built-in default)", ctl->env.nworkers,
	               c->nzones, loaded, q, t.a.queries_udp, t.a.queries_tcp,
	               control__gslb(ctl) != NULL ? "configured" : "not configured",
	               c->metrics_enabled ? c->metrics_listen.text : "disabled");
}

void
control__stats(struct req *r)
{
	struct stats_total t;
	stats_sum(r->ctl->env.workers, r->ctl->env.nworkers, &t);
	const struct answer_stats *a = &t.a;
	double avg_us = t.lat.count > 0 ? (double)t.lat.sum_ns / (double)t.lat.count / 1000.0 : 0;
	if (r->json) {
		ops_buf_printf(r->out, "{\"queries_udp\":%" PRIu64 ",\"queries_tcp\":%" PRIu64
		               ",\"dropped\":%" PRIu64 ",\"truncated\":%" PRIu64 ",\"edns\":%" PRIu64
		               ",\"badvers\":%" PRIu64 ",\"answer_avg_us\":%.2f,\"rcode\":{",
		               a->queries_udp, a->queries_tcp, a->dropped, a->truncated, a->edns,
		               a->badvers, avg_us);
		bool first = true;
		for (unsigned i = 0; i < 16; i++) {
			if (a->rcode[i] == 0)
				continue;
			const char *n = stats_rcode_name(i);
			if (n != NULL)
				ops_buf_printf(r->out, "%s\"%s\":%" PRIu64, first ? "" : ",", n, a->rcode[i]);
			else
				ops_buf_printf(r->out, "%s\"RCODE%u\":%" PRIu64, first ? "" : ",", i,
				               a->rcode[i]);
			first = false;
		}
		ops_buf_printf(r->out, "},\"qtype\":{");
		first = true;
		for (unsigned i = 0; i < 256; i++) {
			if (a->qtype[i] == 0)
				continue;
			const char *n = stats_type_name(i);
			if (n != NULL)
				ops_buf_printf(r->out, "%s\"%s\":%" PRIu64, first ? "" : ",", n, a->qtype[i]);
			else
				ops_buf_printf(r->out, "%s\"TYPE%u\":%" PRIu64, first ? "" : ",", i, a->qtype[i]);
			first = false;
		}
		if (a->qtype_other > 0)
			ops_buf_printf(r->out, "%s\"other\":%" PRIu64, first ? "" : ",", a->qtype_other);
		ops_buf_printf(r->out, "}}\n");
		return;
	}
	ops_buf_printf(r->out, "queries:   %" PRIu64 " UDP, %" PRIu64 " TCP\n", a->queries_udp,
	               a->queries_tcp);
	ops_buf_printf(r->out, "dropped:   %" PRIu64 "\ntruncated: %" PRIu64 "\nedns:      %" PRIu64
	               "\nbadvers:   %" PRIu64 "\nanswer time: %.2f us on average\nrcodes:",
	               a->dropped, a->truncated, a->edns, a->badvers, avg_us);
	for (unsigned i = 0; i < 16; i++) {
		if (a->rcode[i] > 0) {
			const char *n = stats_rcode_name(i);
			if (n != NULL)
				ops_buf_printf(r->out, " %s=%" PRIu64, n, a->rcode[i]);
			else
				ops_buf_printf(r->out, " RCODE%u=%" PRIu64, i, a->rcode[i]);
		}
	}
	ops_buf_printf(r->out, "\nqtypes:");
	for (unsigned i = 0; i < 256; i++) {
		if (a->qtype[i] > 0) {
			const char *n = stats_type_name(i);
			if (n != NULL)
				ops_buf_printf(r->out, " %s=%" PRIu64, n, a->qtype[i]);
			else
				ops_buf_printf(r->out, " TYPE%u=%" PRIu64, i, a->qtype[i]);
		}
	}
	if (a->qtype_other > 0)
		ops_buf_printf(r->out, " other=%" PRIu64, a->qtype_other);
	ops_buf_printf(r->out, "\n");
}

/* ---- zones ----------------------------------------------------------------------------- */

static const struct conf_zone *
conf_zone_find(const struct daemon_conf *c, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < c->nzones; i++) {
		const char *z = c->zones[i].name;
		/* "example.com" and "example.com." name the same zone. */
		if (strcasecmp(z, name) == 0 ||
		    (strlen(z) == n + 1 && strncasecmp(z, name, n) == 0 && name[n - 1] != '.'))
			return &c->zones[i];
	}
	return NULL;
}

/* One zone, as a JSON object or a text block (status) or line (list). */
static void
put_zone(struct req *r, const struct conf_zone *z, bool line, bool first)
{
	struct zones_info info;
	bool loaded = zones_info_get(r->ctl->env.db, z->name, &info) == 0;
	char err[RELOAD_ERRLEN], when[32], at[32];
	time_t errt = 0;
	bool has_err = reload_zone_error(z->name, err, sizeof(err), &errt);
	control__fmt_time(errt, when, sizeof(when));
	control__fmt_time(loaded ? (time_t)info.compiled_at : 0, at, sizeof(at));

	if (r->json) {
		ops_buf_printf(r->out, "%s{\"name\":", first ? "" : ",");
		ops_buf_json_str(r->out, z->name);
		ops_buf_printf(r->out, ",\"loaded\":%s", loaded ? "true" : "false");
		if (loaded)
			ops_buf_printf(r->out, ",\"serial\":%" PRIu32 ",\"records\":%" PRIu64
			               ",\"loaded_at\":\"%s\"", info.serial, info.records, at);
		ops_buf_printf(r->out, ",\"file\":");
		ops_buf_json_str(r->out, z->file);
		ops_buf_printf(r->out, ",\"last_error\":");
		ops_buf_json_str(r->out, has_err ? err : NULL);
		if (has_err)
			ops_buf_printf(r->out, ",\"last_error_at\":\"%s\"", when);
		ops_buf_printf(r->out, "}");
		return;
	}
	if (line) {
		if (loaded)
			ops_buf_printf(r->out, "%-30s serial %-10" PRIu32 " %s%s\n", z->name, info.serial,
			               at, has_err ? "  (last reload FAILED)" : "");
		else
			ops_buf_printf(r->out, "%-30s NOT LOADED%s\n", z->name,
			               has_err ? "  (load failed)" : "");
		return;
	}
	ops_buf_printf(r->out, "zone:       %s\n", z->name);
	if (loaded)
		ops_buf_printf(r->out, "serial:     %" PRIu32 "\nrecords:    %" PRIu64
		               "\nloaded at:  %s\n", info.serial, info.records, at);
	else
		ops_buf_printf(r->out, "serial:     - (not loaded)\n");
	ops_buf_printf(r->out, "file:       %s\n", z->file);
	if (has_err)
		ops_buf_printf(r->out, "last error: %s (at %s)\n", err, when);
	else
		ops_buf_printf(r->out, "last error: none\n");
}

/* ---- secondary zones and catalog members (docs/transfers.md) ------------------------------ */

/* A zone that comes from primaries, not from a file: a secondary zone of the
 * configuration (catalog consumers included), or a member of a catalog we consume. */
struct xzone {
	char name[DNAME_MAXLEN * 4 + 2];
	const uint8_t *apex;
	const struct xfr_zone *conf;    /* its own settings; a member's are its catalog's */
	bool member;
};

/* The i-th such zone of the published transfer configuration and catalogs (main thread:
 * both are published here); false past the last. */
static bool
xzone_at(size_t i, struct xzone *out)
{
	const struct xfr_conf *xc = xfr_published();
	const struct xfr_members *m = atomic_load(&xfr__members);
	for (size_t k = 0; xc != NULL && k < xc->nzones; k++) {
		if (!xc->zones[k].secondary)
			continue;
		if (i-- == 0) {
			*out = (struct xzone){.apex = xc->zones[k].apex, .conf = &xc->zones[k]};
			dname_to_str(out->apex, out->name, sizeof(out->name));
			return true;
		}
	}
	if (m == NULL || i >= m->n)
		return false;
	*out = (struct xzone){.apex = m->e[i].apex, .conf = m->e[i].catalog, .member = true};
	dname_to_str(out->apex, out->name, sizeof(out->name));
	return true;
}

static void
put_primaries(struct req *r, const struct xfr_zone *z)
{
	const struct xfr_conf *xc = xfr_published();
	for (size_t i = 0; i < z->nprimaries; i++) {
		const struct xfr_remote *p = &z->primaries[i];
		/* The published copy keeps the key's index, not the name as written. */
		const char *key = p->key >= 0 && xc != NULL && (size_t)p->key < xc->nkeys
		                  ? xc->keys[p->key].text : NULL;
		char one[DNAME_MAXLEN * 4 + 100];
		snprintf(one, sizeof(one), "%s%s%s", p->addr.text, key ? " key " : "", key ? key : "");
		if (r->json) {
			ops_buf_printf(r->out, "%s", i == 0 ? "" : ",");
			ops_buf_json_str(r->out, one);
		} else {
			ops_buf_printf(r->out, "%s%s", i == 0 ? "" : ", ", one);
		}
	}
}

/* One secondary zone or catalog member: its zone store entry and its transfer state
 * (xfr_secondary_status(), kept in LMDB). */
static void
put_xzone(struct req *r, const struct xzone *x, bool line, bool first)
{
	struct zones_info info;
	struct xfr_secondary_status st;
	bool loaded = zones_info_get(r->ctl->env.db, x->name, &info) == 0;
	bool state = xfr_secondary_status(r->ctl->env.db, x->apex, &st) == 0;
	bool expired = state && st.expired;
	char last[32], next[32], exp[32], at[32];
	control__fmt_time(state ? (time_t)st.last_refresh : 0, last, sizeof(last));
	control__fmt_time(state ? (time_t)st.next_refresh : 0, next, sizeof(next));
	control__fmt_time(state ? (time_t)st.expire_at : 0, exp, sizeof(exp));
	control__fmt_time(loaded ? (time_t)info.compiled_at : 0, at, sizeof(at));
	const char *err = state && st.last_error[0] != '\0' ? st.last_error : NULL;
	const char *kind = x->member ? "catalog member" : x->conf->catalog ? "catalog" : "secondary";

	if (r->json) {
		ops_buf_printf(r->out, "%s{\"name\":", first ? "" : ",");
		ops_buf_json_str(r->out, x->name);
		ops_buf_printf(r->out, ",\"type\":");
		ops_buf_json_str(r->out, x->member ? "catalog-member" : x->conf->catalog ? "catalog"
		                                                                  : "secondary");
		ops_buf_printf(r->out, ",\"catalog\":");
		ops_buf_json_str(r->out, x->member ? x->conf->name : NULL);
		ops_buf_printf(r->out, ",\"loaded\":%s", loaded ? "true" : "false");
		if (loaded)
			ops_buf_printf(r->out, ",\"serial\":%" PRIu32 ",\"records\":%" PRIu64
			               ",\"loaded_at\":\"%s\"", info.serial, info.records, at);
		ops_buf_printf(r->out, ",\"primaries\":[");
		put_primaries(r, x->conf);
		ops_buf_printf(r->out, "],\"last_refresh\":");
		ops_buf_json_str(r->out, state && st.last_refresh > 0 ? last : NULL);
		ops_buf_printf(r->out, ",\"next_refresh\":");
		ops_buf_json_str(r->out, state && st.next_refresh > 0 ? next : NULL);
		ops_buf_printf(r->out, ",\"expires_at\":");
		ops_buf_json_str(r->out, state && st.expire_at > 0 ? exp : NULL);
		ops_buf_printf(r->out, ",\"expired\":%s,\"last_error\":", expired ? "true" : "false");
		ops_buf_json_str(r->out, err);
		ops_buf_printf(r->out, "}");
		return;
	}
	if (line) {
		if (loaded)
			ops_buf_printf(r->out, "%-30s serial %-10" PRIu32 " %s  %s, next refresh %s%s%s\n",
			               x->name, info.serial, at, kind, next,
			               expired ? "  (EXPIRED: SERVFAIL)" : "",
			               err != NULL ? "  (last check FAILED)" : "");
		else
			ops_buf_printf(r->out, "%-30s NOT LOADED  %s, next refresh %s%s\n", x->name, kind,
			               next, err != NULL ? "  (last check FAILED)" : "");
		return;
	}
	ops_buf_printf(r->out, "zone:         %s\n", x->name);
	if (x->member)
		ops_buf_printf(r->out, "type:         catalog member of %s\n", x->conf->name);
	else
		ops_buf_printf(r->out, "type:         %s\n", kind);
	if (loaded)
		ops_buf_printf(r->out, "serial:       %" PRIu32 "\nrecords:      %" PRIu64
		               "\nloaded at:    %s\n", info.serial, info.records, at);
	else
		ops_buf_printf(r->out, "serial:       - (not loaded)\n");
	ops_buf_printf(r->out, "primaries:    ");
	put_primaries(r, x->conf);
	ops_buf_printf(r->out, "\nlast refresh: %s\nnext refresh: %s\nexpires at:   %s%s\n",
	               last, next, exp, expired ? " (EXPIRED: answers SERVFAIL)" : "");
	ops_buf_printf(r->out, "last error:   %s\n", err != NULL ? err : "none");
}

/* The secondary zone or member named name (presentation form, dot optional). */
static bool
xzone_find(const char *name, struct xzone *out)
{
	uint8_t wire[DNAME_MAXLEN];
	if (dname_from_str(name, wire) == 0)
		return false;
	for (size_t i = 0; xzone_at(i, out); i++) {
		if (dname_equal(out->apex, wire))
			return true;
	}
	return false;
}

void
control__zone(struct req *r)
{
	const struct daemon_conf *c = *r->ctl->env.conf;
	if (r->argc == 2 && strcmp(r->argv[1], "list") == 0) {
		struct xzone x;
		size_t n = 0;
		if (r->json)
			ops_buf_printf(r->out, "{\"zones\":[");
		for (size_t i = 0; i < c->nzones; i++)
			put_zone(r, &c->zones[i], true, n++ == 0);
		for (size_t i = 0; xzone_at(i, &x); i++)
			put_xzone(r, &x, true, n++ == 0);
		if (r->json)
			ops_buf_printf(r->out, "]}\n");
		else if (n == 0)
			ops_buf_printf(r->out, "no zones configured\n");
		return;
	}
	if (r->argc == 3 && strcmp(r->argv[1], "status") == 0) {
		const struct conf_zone *z = conf_zone_find(c, r->argv[2]);
		struct xzone x;
		if (z == NULL && xzone_find(r->argv[2], &x)) {
			put_xzone(r, &x, false, true);
			if (r->json)
				ops_buf_printf(r->out, "\n");
			return;
		}
		if (z == NULL) {
			control__refuse(r, "unknown zone '%s' (not in the configuration; see `zone list`)",
			       r->argv[2]);
			return;
		}
		put_zone(r, z, false, true);
		if (r->json)
			ops_buf_printf(r->out, "\n");
		return;
	}
	control__refuse(r, "usage: zone list | zone status ZONE");
}

/* ---- reload -------------------------------------------------------------------------------- */

void
control__reload(struct req *r)
{
	struct control *ctl = r->ctl;
	const struct daemon_conf *c = *ctl->env.conf;

	if (r->argc > 2) {
		control__refuse(r, "usage: reload [ZONE]");
		return;
	}
	if (r->argc == 2) {
		const struct conf_zone *z = conf_zone_find(c, r->argv[1]);
		if (z == NULL) {
			control__refuse(r, "unknown zone '%s' (not in the configuration; nothing reloaded)",
			       r->argv[1]);
			return;
		}
		log_notice("control: reload %s", z->name);
		int rc = reload_one_zone(ctl->env.db, c, z->name);
		if (rc != 0) {
			char err[RELOAD_ERRLEN];
			time_t when;
			if (!reload_zone_error(z->name, err, sizeof(err), &when))
				snprintf(err, sizeof(err), "%s", sp_strerror(rc));
			control__refuse(r, "zone %s not reloaded: %s; the previous version keeps serving",
			       z->name, err);
			return;
		}
		struct zones_info info;
		uint32_t serial = zones_info_get(ctl->env.db, z->name, &info) == 0 ? info.serial : 0;
		if (r->json)
			ops_buf_printf(r->out, "{\"reloaded\":[\"%s\"],\"serial\":%" PRIu32 "}\n", z->name,
			               serial);
		else
			ops_buf_printf(r->out, "zone %s reloaded, serial %" PRIu32 "\n", z->name, serial);
		return;
	}
	/* Check the file first so that the operator reads why a reload would fail; the
	 * reload itself then parses it again (and keeps the running one if it changed to
	 * something broken in between). */
	if (c->path != NULL) {
		char err[CONF_ERRLEN];
		struct daemon_conf *nc = NULL;
		if (daemon_conf_load(c->path, &nc, err, sizeof(err)) != 0) {
			control__refuse(r, "configuration not reloaded: %s; the running configuration stays",
			       err);
			return;
		}
		daemon_conf_free(nc);
	}
	log_notice("control: reload");
	ctl->env.reload(ctl->env.arg);
	c = *ctl->env.conf;
	unsigned failed = 0;
	struct ops_buf fails = { 0 };
	for (size_t i = 0; i < c->nzones; i++) {
		char err[RELOAD_ERRLEN];
		time_t when;
		if (reload_zone_error(c->zones[i].name, err, sizeof(err), &when)) {
			failed++;
			if (r->json) {
				ops_buf_printf(&fails, "%s{\"zone\":", failed > 1 ? "," : "");
				ops_buf_json_str(&fails, c->zones[i].name);
				ops_buf_printf(&fails, ",\"error\":");
				ops_buf_json_str(&fails, err);
				ops_buf_printf(&fails, "}");
			} else {
				ops_buf_printf(&fails, "  %s: %s\n", c->zones[i].name, err);
			}
		}
	}
	if (r->json)
		ops_buf_printf(r->out, "{\"zones\":%zu,\"failed\":[%s]}\n", c->nzones,
		               fails.s != NULL ? fails.s : "");
	else
		ops_buf_printf(r->out, "reloaded: %zu zones, %u failed%s\n%s", c->nzones, failed,
		               failed > 0 ? " (they keep their previous version):" : "",
		               fails.s != NULL ? fails.s : "");
	ops_buf_free(&fails);
	if (failed > 0)
		r->status = CONTROL_STATUS_REFUSED;
}

/* ---- gslb ------------------------------------------------------------------------------------ */

struct status_walk {
	struct req *r;
	const char *pool;
	unsigned matched;
	bool member_found;
	const char *member;
};

static void
put_member(void *arg, const struct gslb_member_status *st)
{
	struct status_walk *sw = arg;
	struct req *r = sw->r;
	if (sw->pool != NULL && strcmp(sw->pool, st->pool) != 0)
		return;
	char since[32];
	control__fmt_time(st->since, since, sizeof(since));
	if (r->json) {
		ops_buf_printf(r->out, "%s{\"pool\":", sw->matched > 0 ? "," : "");
		ops_buf_json_str(r->out, st->pool);
		ops_buf_printf(r->out, ",\"member\":");
		ops_buf_json_str(r->out, st->member);
		ops_buf_printf(r->out, ",\"check\":");
		ops_buf_json_str(r->out, st->check);
		ops_buf_printf(r->out, ",\"up\":%s,\"drained\":%s,\"weight\":%u,\"rtt_us\":%" PRId64
		               ",\"since\":\"%s\",\"last_ok\":%s,\"reason\":",
		               st->up ? "true" : "false", st->drained ? "true" : "false", st->weight,
		               st->rtt_us, since, st->last_ok ? "true" : "false");
		ops_buf_json_str(r->out, st->reason);
		ops_buf_printf(r->out, ",\"last_result\":");
		ops_buf_json_str(r->out, st->last_result);
		ops_buf_printf(r->out, ",\"state_changes\":%" PRIu64 "}", st->transitions);
	} else {
		if (sw->matched == 0)
			ops_buf_printf(r->out, "%-16s %-16s %-5s %-7s %6s %9s  %-20s %s\n", "POOL", "MEMBER",
			               "STATE", "DRAINED", "WEIGHT", "RTT", "SINCE", "LAST CHECK / REASON");
		char rtt[24];
		if (st->rtt_us >= 0)
			snprintf(rtt, sizeof(rtt), "%.1fms", (double)st->rtt_us / 1000.0);
		else
			snprintf(rtt, sizeof(rtt), "-");
		ops_buf_printf(r->out, "%-16s %-16s %-5s %-7s %6u %9s  %-20s %s%s%s\n", st->pool,
		               st->member, st->up ? "up" : "DOWN", st->drained ? "yes" : "no",
		               st->weight, rtt, since,
		               st->check == NULL ? "(no check)" : st->last_result != NULL ? st->last_result : "-",
		               st->reason != NULL && st->reason[0] != '\0' ? " / " : "",
		               st->reason != NULL ? st->reason : "");
	}
	sw->matched++;
}

static void
find_member(void *arg, const struct gslb_member_status *st)
{
	struct status_walk *sw = arg;
	if (strcmp(sw->pool, st->pool) == 0) {
		sw->matched++;
		if (sw->member != NULL && strcmp(sw->member, st->member) == 0)
			sw->member_found = true;
	}
}

/* Checks pool (and member) exist, so an error names which one is unknown. */
static bool
gslb_check_names(struct req *r, struct gslb_runtime *rt, const char *pool, const char *member)
{
	struct status_walk sw = { .r = r, .pool = pool, .member = member };
	int rc = gslb_status(rt, find_member, &sw);
	if (rc != 0) {
		control__refuse(r, "gslb: cannot read the pools: %s", sp_strerror(rc));
		return false;
	}
	if (sw.matched == 0) {
		control__refuse(r, "unknown pool '%s' (see `gslb status`); nothing changed", pool);
		return false;
	}
	if (member != NULL && !sw.member_found) {
		control__refuse(r, "unknown member '%s' in pool '%s' (see `gslb status %s`); nothing changed",
		       member, pool, pool);
		return false;
	}
	return true;
}

static void
gslb_command(struct req *r, struct gslb_runtime *rt)
{
	const char *op = r->argv[1];
	bool weight = strcmp(op, "weight") == 0;
	if (r->argc != (weight ? 5 : 4)) {
		control__refuse(r, "usage: gslb %s POOL MEMBER%s", op, weight ? " WEIGHT" : "");
		return;
	}
	const char *pool = r->argv[2], *member = r->argv[3];
	unsigned long w = 0;
	if (weight) {
		char *end;
		errno = 0;
		w = strtoul(r->argv[4], &end, 10);
		if (r->argv[4][0] < '0' || r->argv[4][0] > '9' || *end != '\0' || errno != 0 ||
		    w < 1 || w > 65535) {
			control__refuse(r, "weight must be a number from 1 to 65535, not '%s'; nothing changed",
			       r->argv[4]);
			return;
		}
	}
	if (!gslb_check_names(r, rt, pool, member))
		return;
	int rc;
	if (strcmp(op, "drain") == 0)
		rc = gslb_drain(rt, pool, member);
	else if (strcmp(op, "restore") == 0)
		rc = gslb_restore(rt, pool, member);
	else
		rc = gslb_set_weight(rt, pool, member, (unsigned)w);
	if (rc != 0) {
		control__refuse(r, "gslb %s %s %s: %s; nothing changed", op, pool, member, sp_strerror(rc));
		return;
	}
	log_notice("control: gslb %s %s %s%s%s", op, pool, member, weight ? " " : "",
	           weight ? r->argv[4] : "");
	if (r->json) {
		ops_buf_printf(r->out, "{\"done\":\"%s\",\"pool\":", op);
		ops_buf_json_str(r->out, pool);
		ops_buf_printf(r->out, ",\"member\":");
		ops_buf_json_str(r->out, member);
		if (weight)
			ops_buf_printf(r->out, ",\"weight\":%lu", w);
		ops_buf_printf(r->out, "}\n");
	} else if (weight) {
		ops_buf_printf(r->out, "%s/%s: weight %lu\n", pool, member, w);
	} else {
		ops_buf_printf(r->out, "%s/%s: %s\n", pool, member,
		               strcmp(op, "drain") == 0 ? "drained (no longer answered; persists "
		                                          "across restarts)" : "restored");
	}
}

void
control__gslb_cmd(struct req *r)
{
	struct gslb_runtime *rt = control__gslb(r->ctl);
	if (r->argc < 2) {
		control__refuse(r, "usage: gslb status [POOL] | gslb drain|restore POOL MEMBER | "
		          "gslb weight POOL MEMBER N");
		return;
	}
	const char *op = r->argv[1];
	bool known = strcmp(op, "status") == 0 || strcmp(op, "drain") == 0 ||
	             strcmp(op, "restore") == 0 || strcmp(op, "weight") == 0;
	if (!known) {
		control__refuse(r, "unknown gslb command '%s' (status, drain, restore, weight)", op);
		return;
	}
	if (rt == NULL) {
		control__refuse(r, "GSLB is not configured (no gslb: section in the configuration)");
		return;
	}
	if (strcmp(op, "status") != 0) {
		gslb_command(r, rt);
		return;
	}
	if (r->argc > 3) {
		control__refuse(r, "usage: gslb status [POOL]");
		return;
	}
	const char *pool = r->argc == 3 ? r->argv[2] : NULL;
	if (pool != NULL && !gslb_check_names(r, rt, pool, NULL))
		return;
	struct status_walk sw = { .r = r, .pool = pool };
	if (r->json)
		ops_buf_printf(r->out, "{\"members\":[");
	int rc = gslb_status(rt, put_member, &sw);
	if (r->json)
		ops_buf_printf(r->out, "]}\n");
	if (rc != 0) {
		r->out->len = 0;
		control__refuse(r, "gslb: cannot read the pools: %s", sp_strerror(rc));
	}
}
