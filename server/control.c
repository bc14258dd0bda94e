/* control.c - the control socket: a Unix stream socket whose file permissions decide who
 * may operate the daemon (signpostctl(8)). One request per connection, one line in, a
 * status line and a text or JSON body out (protocol in server/ops.h).
 *
 * Runs on the main thread's libuv loop, beside the signal handlers, so a command sees the
 * configuration and the zone database writer exactly as SIGHUP does and never races a
 * reload. Commands that wait (GSLB operator commands wait for the checker thread) are
 * short; `explain` answers with the real answer_query() through the control's own zone
 * snapshot, never a worker's. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "gslb/gslb.h"
#include "lib/errors.h"
#include "lib/log.h"
#include "server/ops.h"

#define CONTROL_MAX_CONNS 16
#define CONTROL_TIMEOUT_MS 10000    /* a client must send its request within this */
#define CONTROL_MAX_ARGS 16

struct control;

struct conn {
	struct control *ctl;
	uv_pipe_t h;
	uv_timer_t timer;
	uv_write_t wreq;
	char in[CONTROL_REQUEST_MAX];
	size_t in_len;
	struct ops_buf out;
	bool answered;
	int closing;                /* handles still to close */
	struct conn *next, *prev;
};

struct control {
	uv_loop_t *loop;
	struct ops_env env;
	uv_pipe_t listener;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct zones_snapshot *zsnap;   /* for explain */
	struct conn *conns;
	unsigned nconns;
	bool bound;                 /* the socket file is ours to remove */
	bool stopping;
};

/* A request being answered. */
struct req {
	struct control *ctl;
	bool json;
	int argc;
	char *argv[CONTROL_MAX_ARGS];
	struct ops_buf *out;
	int status;
};

static struct gslb_runtime *
gslb_rt(const struct control *ctl)
{
	return atomic_load(&ctl->env.sh->gslb);
}

/* Refuses the request: status 1 and the message (text or {"error": ...}). */
static void __attribute__((format(printf, 2, 3)))
refuse(struct req *r, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->status = CONTROL_STATUS_REFUSED;
	if (r->json) {
		ops_buf_printf(r->out, "{\"error\":");
		ops_buf_json_str(r->out, msg);
		ops_buf_printf(r->out, "}\n");
	} else {
		ops_buf_printf(r->out, "%s\n", msg);
	}
}

static void
fmt_time(time_t t, char *out, size_t len)
{
	struct tm tm;
	if (t <= 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(out, len, "-");
		return;
	}
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- status, stats ------------------------------------------------------------------ */

static void
cmd_status(struct req *r)
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
	fmt_time(ctl->env.started, started, sizeof(started));
	long uptime = (long)(time(NULL) - ctl->env.started);
	uint64_t q = t.a.queries_udp + t.a.queries_tcp;
	if (r->json) {
		ops_buf_printf(r->out, "{\"version\":\"%s\",\"pid\":%ld,\"started\":\"%s\","
		               "\"uptime_seconds\":%ld,\"workers\":%u,\"zones_configured\":%zu,"
		               "\"zones_loaded\":%zu,\"queries\":%" PRIu64 ",\"gslb\":%s,\"config\":",
		               PACKAGE_VERSION, (long)getpid(), started, uptime, ctl->env.nworkers,
		               c->nzones, loaded, q, gslb_rt(ctl) != NULL ? "true" : "false");
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
	               gslb_rt(ctl) != NULL ? "configured" : "not configured",
	               c->metrics_enabled ? c->metrics_listen.text : "disabled");
}

static void
cmd_stats(struct req *r)
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
	fmt_time(errt, when, sizeof(when));
	fmt_time(loaded ? (time_t)info.compiled_at : 0, at, sizeof(at));

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

static void
cmd_zone(struct req *r)
{
	const struct daemon_conf *c = *r->ctl->env.conf;
	if (r->argc == 2 && strcmp(r->argv[1], "list") == 0) {
		if (r->json)
			ops_buf_printf(r->out, "{\"zones\":[");
		for (size_t i = 0; i < c->nzones; i++)
			put_zone(r, &c->zones[i], true, i == 0);
		if (r->json)
			ops_buf_printf(r->out, "]}\n");
		else if (c->nzones == 0)
			ops_buf_printf(r->out, "no zones configured\n");
		return;
	}
	if (r->argc == 3 && strcmp(r->argv[1], "status") == 0) {
		const struct conf_zone *z = conf_zone_find(c, r->argv[2]);
		if (z == NULL) {
			refuse(r, "unknown zone '%s' (not in the configuration; see `zone list`)",
			       r->argv[2]);
			return;
		}
		put_zone(r, z, false, true);
		if (r->json)
			ops_buf_printf(r->out, "\n");
		return;
	}
	refuse(r, "usage: zone list | zone status ZONE");
}

/* ---- reload -------------------------------------------------------------------------------- */

static void
cmd_reload(struct req *r)
{
	struct control *ctl = r->ctl;
	const struct daemon_conf *c = *ctl->env.conf;

	if (r->argc > 2) {
		refuse(r, "usage: reload [ZONE]");
		return;
	}
	if (r->argc == 2) {
		const struct conf_zone *z = conf_zone_find(c, r->argv[1]);
		if (z == NULL) {
			refuse(r, "unknown zone '%s' (not in the configuration; nothing reloaded)",
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
			refuse(r, "zone %s not reloaded: %s; the previous version keeps serving",
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
			refuse(r, "configuration not reloaded: %s; the running configuration stays",
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
	fmt_time(st->since, since, sizeof(since));
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
		ops_buf_printf(r->out, "}");
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
		refuse(r, "gslb: cannot read the pools: %s", sp_strerror(rc));
		return false;
	}
	if (sw.matched == 0) {
		refuse(r, "unknown pool '%s' (see `gslb status`); nothing changed", pool);
		return false;
	}
	if (member != NULL && !sw.member_found) {
		refuse(r, "unknown member '%s' in pool '%s' (see `gslb status %s`); nothing changed",
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
		refuse(r, "usage: gslb %s POOL MEMBER%s", op, weight ? " WEIGHT" : "");
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
			refuse(r, "weight must be a number from 1 to 65535, not '%s'; nothing changed",
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
		refuse(r, "gslb %s %s %s: %s; nothing changed", op, pool, member, sp_strerror(rc));
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

static void
cmd_gslb(struct req *r)
{
	struct gslb_runtime *rt = gslb_rt(r->ctl);
	if (r->argc < 2) {
		refuse(r, "usage: gslb status [POOL] | gslb drain|restore POOL MEMBER | "
		          "gslb weight POOL MEMBER N");
		return;
	}
	const char *op = r->argv[1];
	bool known = strcmp(op, "status") == 0 || strcmp(op, "drain") == 0 ||
	             strcmp(op, "restore") == 0 || strcmp(op, "weight") == 0;
	if (!known) {
		refuse(r, "unknown gslb command '%s' (status, drain, restore, weight)", op);
		return;
	}
	if (rt == NULL) {
		refuse(r, "GSLB is not configured (no gslb: section in the configuration)");
		return;
	}
	if (strcmp(op, "status") != 0) {
		gslb_command(r, rt);
		return;
	}
	if (r->argc > 3) {
		refuse(r, "usage: gslb status [POOL]");
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
		refuse(r, "gslb: cannot read the pools: %s", sp_strerror(rc));
	}
}

/* ---- explain --------------------------------------------------------------------------------- */

struct explain_args {
	const char *name, *type, *client, *ecs;
	uint8_t qname[LDNS_MAX_DOMAINLEN + 1];
	size_t qname_len;
	uint16_t qtype;
	struct sockaddr_storage addr;
	bool has_ecs;
	uint16_t ecs_family;
	uint8_t ecs_source;
	uint8_t ecs_addr[16];
};

static bool
explain_parse(struct req *r, struct explain_args *x)
{
	for (int i = 1; i < r->argc; i++) {
		if (strcmp(r->argv[i], "--client") == 0 && i + 1 < r->argc)
			x->client = r->argv[++i];
		else if (strcmp(r->argv[i], "--ecs") == 0 && i + 1 < r->argc)
			x->ecs = r->argv[++i];
		else if (x->name == NULL && r->argv[i][0] != '-')
			x->name = r->argv[i];
		else if (x->type == NULL && r->argv[i][0] != '-')
			x->type = r->argv[i];
		else {
			refuse(r, "explain: unexpected argument '%s'", r->argv[i]);
			return false;
		}
	}
	if (x->name == NULL || x->type == NULL || x->client == NULL) {
		refuse(r, "usage: explain NAME TYPE --client ADDR [--ecs SUBNET]");
		return false;
	}
	ldns_rdf *d = NULL;
	if (ldns_str2rdf_dname(&d, x->name) != LDNS_STATUS_OK || ldns_rdf_size(d) > sizeof(x->qname)) {
		ldns_rdf_deep_free(d);
		refuse(r, "explain: not a domain name: '%s'", x->name);
		return false;
	}
	x->qname_len = ldns_rdf_size(d);
	memcpy(x->qname, ldns_rdf_data(d), x->qname_len);
	ldns_rdf_deep_free(d);
	x->qtype = (uint16_t)ldns_get_rr_type_by_name(x->type);
	if (x->qtype == 0) {
		refuse(r, "explain: unknown record type '%s'", x->type);
		return false;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&x->addr;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&x->addr;
	if (inet_pton(AF_INET, x->client, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, x->client, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
	} else {
		refuse(r, "explain: --client needs an IPv4 or IPv6 address, not '%s'", x->client);
		return false;
	}
	if (x->ecs == NULL)
		return true;
	char a[64];
	const char *slash = strchr(x->ecs, '/');
	size_t alen = slash != NULL ? (size_t)(slash - x->ecs) : strlen(x->ecs);
	if (alen >= sizeof(a))
		goto bad_ecs;
	memcpy(a, x->ecs, alen);
	a[alen] = '\0';
	unsigned long prefix;
	if (inet_pton(AF_INET, a, x->ecs_addr) == 1) {
		x->ecs_family = 1;
		prefix = 32;
	} else if (inet_pton(AF_INET6, a, x->ecs_addr) == 1) {
		x->ecs_family = 2;
		prefix = 128;
	} else {
		goto bad_ecs;
	}
	if (slash != NULL) {
		char *end;
		unsigned long max = prefix;
		prefix = strtoul(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || prefix > max)
			goto bad_ecs;
	}
	x->ecs_source = (uint8_t)prefix;
	x->has_ecs = true;
	return true;
bad_ecs:
	refuse(r, "explain: --ecs needs ADDRESS/PREFIX (e.g. 192.0.2.0/24), not '%s'", x->ecs);
	return false;
}

/* Builds the query a resolver would send: RD clear, EDNS (RFC 6891) and, with --ecs, an
 * EDNS Client Subnet option whose address is cut to the source prefix (RFC 7871 6). */
static size_t
explain_query(const struct explain_args *x, uint8_t *q, size_t cap)
{
	size_t n = 0;
	static const uint8_t hdr[12] = { 0x5e, 0x1f, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1 };
	memcpy(q, hdr, sizeof(hdr));
	n = sizeof(hdr);
	memcpy(q + n, x->qname, x->qname_len);
	n += x->qname_len;
	q[n++] = (uint8_t)(x->qtype >> 8);
	q[n++] = (uint8_t)x->qtype;
	q[n++] = 0;
	q[n++] = 1;  /* IN */
	size_t addr_len = x->has_ecs ? (x->ecs_source + 7u) / 8u : 0;
	size_t optlen = x->has_ecs ? 4 + 4 + addr_len : 0;
	uint8_t opt[11] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, (uint8_t)(optlen >> 8),
	                    (uint8_t)optlen };
	memcpy(q + n, opt, sizeof(opt));
	n += sizeof(opt);
	if (x->has_ecs && n + optlen <= cap) {
		q[n++] = 0;
		q[n++] = 8;  /* EDNS Client Subnet */
		q[n++] = (uint8_t)((4 + addr_len) >> 8);
		q[n++] = (uint8_t)(4 + addr_len);
		q[n++] = (uint8_t)(x->ecs_family >> 8);
		q[n++] = (uint8_t)x->ecs_family;
		q[n++] = x->ecs_source;
		q[n++] = 0;  /* scope: 0 in queries */
		memcpy(q + n, x->ecs_addr, addr_len);
		if (addr_len > 0 && x->ecs_source % 8 != 0)
			q[n + addr_len - 1] &= (uint8_t)(0xff << (8 - x->ecs_source % 8));
		n += addr_len;
	}
	return n;
}

static const char *
kind_name(int kind)
{
	switch (kind) {
	case ZONES_NOT_OURS: return "not ours (no served zone contains the name: REFUSED)";
	case ZONES_FOUND: return "found";
	case ZONES_CNAME: return "CNAME";
	case ZONES_NODATA: return "NODATA (the name exists, the type does not)";
	case ZONES_NXDOMAIN: return "NXDOMAIN";
	case ZONES_DELEGATION: return "delegation (referral)";
	case ZONES_DNAME: return "DNAME";
	default: return "lookup error";
	}
}

/* The "why" of a dynamic name: which members the policy picks for this client now (one
 * draw: weighted and round-robin policies differ from draw to draw) and their health. */
struct explain_gslb {
	struct req *r;
	const struct gslb_answer *ans;
	struct ops_buf picked;
	const char *pool;
	unsigned idx;
};

static void
explain_member(void *arg, const struct gslb_member_status *st)
{
	struct explain_gslb *eg = arg;
	for (unsigned i = 0; i < eg->ans->count; i++) {
		if (eg->ans->member[i] != eg->idx)
			continue;
		eg->pool = eg->pool != NULL ? eg->pool : st->pool;
		if (eg->r->json) {
			ops_buf_printf(&eg->picked, "%s{\"pool\":", eg->picked.len > 0 ? "," : "");
			ops_buf_json_str(&eg->picked, st->pool);
			ops_buf_printf(&eg->picked, ",\"member\":");
			ops_buf_json_str(&eg->picked, st->member);
			ops_buf_printf(&eg->picked, ",\"up\":%s,\"drained\":%s,\"weight\":%u,\"reason\":",
			               st->up ? "true" : "false", st->drained ? "true" : "false",
			               st->weight);
			ops_buf_json_str(&eg->picked, st->reason);
			ops_buf_printf(&eg->picked, "}");
		} else {
			ops_buf_printf(&eg->picked, "  picked %s/%s: %s%s, weight %u%s%s\n", st->pool,
			               st->member, st->up ? "up" : "DOWN", st->drained ? ", drained" : "",
			               st->weight, st->reason != NULL && st->reason[0] ? ", " : "",
			               st->reason != NULL ? st->reason : "");
		}
		break;
	}
	eg->idx++;
}

/* gs: the snapshot the answer below is computed from (NULL without GSLB); seed: the
 * generator seed the answer will use, so this pick and the answer's are the same draw. */
static void
explain_gslb(struct req *r, const struct explain_args *x, const struct gslb_state *gs,
             uint64_t seed)
{
	struct gslb_runtime *rt = gslb_rt(r->ctl);
	if (rt == NULL || gs == NULL) {
		if (r->json)
			ops_buf_printf(r->out, ",\"gslb\":null");
		return;
	}
	struct gslb_client gc = { .addr = (const struct sockaddr *)&x->addr, .has_ecs = x->has_ecs,
	                          .ecs_family = x->ecs_family, .ecs_source = x->ecs_source };
	memcpy(gc.ecs_addr, x->ecs_addr, sizeof(gc.ecs_addr));
	struct gslb_answer ans;
	gslb_pick_seed(seed);
	int rc = gslb_pick(gs, x->qname, x->qtype, &gc, &ans);
	if (rc != 0) {
		if (r->json)
			ops_buf_printf(r->out, ",\"gslb\":{\"dynamic\":false}");
		else
			ops_buf_printf(r->out, "gslb:    not a dynamic name\n");
		return;
	}
	struct explain_gslb eg = { .r = r, .ans = &ans };
	gslb_status(rt, explain_member, &eg);
	const char *fb = (ans.flags & GSLB_ANSWER_SORRY) != 0      ? "sorry pool"
	                 : (ans.flags & GSLB_ANSWER_FALLBACK) != 0 ? "fallback"
	                                                            : NULL;
	if (r->json) {
		ops_buf_printf(r->out, ",\"gslb\":{\"dynamic\":true,\"pool\":");
		ops_buf_json_str(r->out, eg.pool);
		ops_buf_printf(r->out, ",\"addresses\":%u,\"ttl\":%" PRIu32 ",\"ecs_scope\":%u,"
		               "\"fallback\":", ans.count, ans.ttl, ans.scope);
		ops_buf_json_str(r->out, fb);
		ops_buf_printf(r->out, ",\"picked\":[%s]}", eg.picked.s != NULL ? eg.picked.s : "");
	} else {
		ops_buf_printf(r->out, "gslb:    dynamic name of pool %s: %u address(es), TTL %" PRIu32
		               ", ECS scope /%u%s%s\n%s", eg.pool != NULL ? eg.pool : "?", ans.count,
		               ans.ttl, ans.scope, fb != NULL ? ", answered by the " : "",
		               fb != NULL ? fb : "", eg.picked.s != NULL ? eg.picked.s : "");
	}
	ops_buf_free(&eg.picked);
}

static void
explain_print_answer(struct req *r, const uint8_t *resp, size_t len)
{
	ldns_pkt *p = NULL;
	if (len == 0 || ldns_wire2pkt(&p, resp, len) != LDNS_STATUS_OK) {
		if (r->json)
			ops_buf_printf(r->out, ",\"response\":null");
		else
			ops_buf_printf(r->out, "answer:  (no response: the query would be dropped)\n");
		return;
	}
	char *rc = ldns_pkt_rcode2str(ldns_pkt_get_rcode(p));
	ldns_rr_list *sec[3] = { ldns_pkt_answer(p), ldns_pkt_authority(p), ldns_pkt_additional(p) };
	static const char *names[3] = { "answer", "authority", "additional" };
	if (r->json) {
		ops_buf_printf(r->out, ",\"response\":{\"rcode\":\"%s\",\"aa\":%s,\"tc\":%s", rc,
		               ldns_pkt_aa(p) ? "true" : "false", ldns_pkt_tc(p) ? "true" : "false");
	} else {
		ops_buf_printf(r->out, "rcode:   %s%s%s\n", rc, ldns_pkt_aa(p) ? ", authoritative" : "",
		               ldns_pkt_tc(p) ? ", truncated" : "");
	}
	for (int s = 0; s < 3; s++) {
		if (r->json)
			ops_buf_printf(r->out, ",\"%s\":[", names[s]);
		else if (ldns_rr_list_rr_count(sec[s]) > 0)
			ops_buf_printf(r->out, "%s:\n", names[s]);
		for (size_t i = 0; i < ldns_rr_list_rr_count(sec[s]); i++) {
			char *t = ldns_rr2str(ldns_rr_list_rr(sec[s], i));
			if (t == NULL)
				continue;
			t[strcspn(t, "\n")] = '\0';
			if (r->json) {
				ops_buf_printf(r->out, "%s", i > 0 ? "," : "");
				ops_buf_json_str(r->out, t);
			} else {
				ops_buf_printf(r->out, "  %s\n", t);
			}
			free(t);
		}
		if (r->json)
			ops_buf_printf(r->out, "]");
	}
	if (r->json)
		ops_buf_printf(r->out, "}");
	free(rc);
	ldns_pkt_free(p);
}

static void
cmd_explain(struct req *r)
{
	struct control *ctl = r->ctl;
	struct explain_args x = { 0 };
	if (!explain_parse(r, &x))
		return;
	if (ctl->zsnap == NULL || zones_snapshot_begin(ctl->zsnap) != 0) {
		refuse(r, "explain: cannot read the zone database");
		return;
	}
	struct zones_result res;
	int kind = zones_lookup(ctl->zsnap, x.qname, x.qtype, &res);
	char apex[LDNS_MAX_DOMAINLEN * 4 + 2] = "-";
	if (kind > ZONES_NOT_OURS) {
		ldns_rdf *a = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, dname_len(res.zone.apex),
		                                    res.zone.apex);
		char *s = a != NULL ? ldns_rdf2str(a) : NULL;
		if (s != NULL)
			snprintf(apex, sizeof(apex), "%s", s);
		free(s);
		ldns_rdf_deep_free(a);
	}

	/* The real answer path, as a worker runs it, on this client's query (over "TCP" so
	 * the whole answer shows, not a truncated one), with a GSLB snapshot read like a
	 * worker reads it: this thread registers as a reader for the moment. */
	static uint8_t q[512], resp[TCP_MSG_MAX];
	struct answer_stats scratch = { 0 };
	struct answer_ctx actx = { .zsnap = ctl->zsnap, .conf = atomic_load(&ctl->env.sh->conf),
	                           .stats = &scratch };
	struct answer_client cl = { .addr = (const struct sockaddr *)&x.addr, .tcp = true };
	struct gslb_runtime *rt = gslb_rt(ctl);
	struct gslb_reader *rd = rt != NULL && actx.conf->gslb ? gslb_reader_register(rt) : NULL;
	if (rd != NULL)
		actx.gslb = gslb_state_acquire(rt);
	uint64_t seed = (uint64_t)time(NULL) * 2654435761u + (uint64_t)getpid();
	gslb_pick_seed(seed);
	size_t qlen = explain_query(&x, q, sizeof(q));
	size_t rlen = answer_query(&actx, &cl, q, qlen, resp, sizeof(resp));
	zones_snapshot_end(ctl->zsnap);

	char type[16];
	const char *tn = stats_type_name(x.qtype);
	snprintf(type, sizeof(type), tn != NULL ? "%s" : "TYPE%s", tn != NULL ? tn : x.type);
	if (r->json) {
		ops_buf_printf(r->out, "{\"name\":");
		ops_buf_json_str(r->out, x.name);
		ops_buf_printf(r->out, ",\"type\":");
		ops_buf_json_str(r->out, x.type);
		ops_buf_printf(r->out, ",\"client\":");
		ops_buf_json_str(r->out, x.client);
		ops_buf_printf(r->out, ",\"ecs\":");
		ops_buf_json_str(r->out, x.ecs);
		ops_buf_printf(r->out, ",\"zone\":");
		ops_buf_json_str(r->out, kind > ZONES_NOT_OURS ? apex : NULL);
		if (kind > ZONES_NOT_OURS)
			ops_buf_printf(r->out, ",\"serial\":%" PRIu32 ",\"wildcard\":%s", res.zone.serial,
			               res.wildcard ? "true" : "false");
		ops_buf_printf(r->out, ",\"result\":");
		ops_buf_json_str(r->out, kind_name(kind));
	} else {
		ops_buf_printf(r->out, "query:   %s %s from %s%s%s\n", x.name, x.type, x.client,
		               x.ecs != NULL ? " with ECS " : "", x.ecs != NULL ? x.ecs : "");
		if (kind > ZONES_NOT_OURS)
			ops_buf_printf(r->out, "zone:    %s (serial %" PRIu32 ")\nresult:  %s%s\n", apex,
			               res.zone.serial, kind_name(kind),
			               res.wildcard ? " (from a wildcard)" : "");
		else
			ops_buf_printf(r->out, "zone:    none\nresult:  %s\n", kind_name(kind));
	}
	explain_gslb(r, &x, actx.gslb, seed);
	gslb_reader_unregister(rd);     /* nothing of the snapshot is used below */
	explain_print_answer(r, resp, rlen);
	if (r->json)
		ops_buf_printf(r->out, "}\n");
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static void
dispatch(struct req *r)
{
	const char *cmd = r->argc > 0 ? r->argv[0] : "";
	if (strcmp(cmd, "status") == 0 && r->argc == 1)
		cmd_status(r);
	else if (strcmp(cmd, "stats") == 0 && r->argc == 1)
		cmd_stats(r);
	else if (strcmp(cmd, "zone") == 0)
		cmd_zone(r);
	else if (strcmp(cmd, "reload") == 0)
		cmd_reload(r);
	else if (strcmp(cmd, "gslb") == 0)
		cmd_gslb(r);
	else if (strcmp(cmd, "explain") == 0)
		cmd_explain(r);
	else if (strcmp(cmd, "cache") == 0 && r->argc >= 2 && strcmp(r->argv[1], "flush") == 0 &&
	         r->argc <= 3)
		refuse(r, "no resolver configured: there is no cache to flush");
	else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "stats") == 0)
		refuse(r, "usage: %s (no arguments)", cmd);
	else
		refuse(r, "unknown command '%s' (status, stats, reload, zone, gslb, explain, cache)",
		       cmd);
}

/* Splits the request line in place. Returns false if it is malformed. */
static bool
parse_request(char *line, struct req *r)
{
	char *save = NULL;
	char *fmt = strtok_r(line, "\t", &save);
	if (fmt == NULL || (strcmp(fmt, "text") != 0 && strcmp(fmt, "json") != 0))
		return false;
	r->json = strcmp(fmt, "json") == 0;
	for (char *a; (a = strtok_r(NULL, "\t", &save)) != NULL;) {
		if (r->argc == CONTROL_MAX_ARGS)
			return false;
		r->argv[r->argc++] = a;
	}
	return r->argc > 0;
}

/* ---- connections ------------------------------------------------------------------------ */

static void
on_conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (--c->closing > 0)
		return;
	ops_buf_free(&c->out);
	free(c);
}

static void
conn_close(struct conn *c)
{
	if (c->closing > 0)
		return;
	struct control *ctl = c->ctl;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ctl->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ctl->nconns--;
	c->closing = 2;
	uv_close((uv_handle_t *)&c->timer, on_conn_closed);
	uv_close((uv_handle_t *)&c->h, on_conn_closed);
}

static void
on_written(uv_write_t *w, int status)
{
	conn_close(w->data);
}

static void
conn_answer(struct conn *c, const char *line)
{
	char copy[CONTROL_REQUEST_MAX];
	struct ops_buf body = { 0 };
	struct req r = { .ctl = c->ctl, .out = &body };

	c->answered = true;
	uv_read_stop((uv_stream_t *)&c->h);
	uv_timer_stop(&c->timer);
	snprintf(copy, sizeof(copy), "%s", line);
	if (!parse_request(copy, &r))
		refuse(&r, "malformed request (expected FORMAT<TAB>COMMAND[<TAB>ARG]...)");
	else
		dispatch(&r);
	ops_buf_printf(&c->out, "%d\n", body.oom ? 3 : r.status);
	ops_buf_printf(&c->out, "%s", body.oom ? "out of memory\n" : body.s != NULL ? body.s : "");
	ops_buf_free(&body);
	if (c->out.oom) {
		conn_close(c);
		return;
	}
	uv_buf_t b = uv_buf_init(c->out.s, (unsigned)c->out.len);
	c->wreq.data = c;
	if (uv_write(&c->wreq, (uv_stream_t *)&c->h, &b, 1, on_written) != 0)
		conn_close(c);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;
	size_t room = sizeof(c->in) - c->in_len;
	*buf = uv_buf_init(c->in + c->in_len, (unsigned)room);
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	if (n < 0) {
		conn_close(c);
		return;
	}
	c->in_len += (size_t)n;
	char *nl = memchr(c->in, '\n', c->in_len);
	if (nl != NULL) {
		*nl = '\0';
		conn_answer(c, c->in);
	} else if (c->in_len == sizeof(c->in)) {
		log_warn("control: request longer than %d octets; connection closed",
		         CONTROL_REQUEST_MAX);
		conn_close(c);
	}
}

static void
on_timeout(uv_timer_t *t)
{
	conn_close(t->data);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct control *ctl = server->data;
	if (status != 0 || ctl->stopping)
		return;
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->ctl = ctl;
	uv_pipe_init(ctl->loop, &c->h, 0);
	uv_timer_init(ctl->loop, &c->timer);
	c->h.data = c;
	c->timer.data = c;
	c->next = ctl->conns;
	if (ctl->conns != NULL)
		ctl->conns->prev = c;
	ctl->conns = c;
	ctl->nconns++;
	if (uv_accept(server, (uv_stream_t *)&c->h) != 0 || ctl->nconns > CONTROL_MAX_CONNS) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timeout, CONTROL_TIMEOUT_MS, 0);
	uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read);
}

/* ---- the socket ------------------------------------------------------------------------------ */

/* A socket file left by a daemon that died is removed; one that a live daemon answers on
 * is not ours to take. */
static int
clear_stale(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("control: %s exists and is not a socket; not replacing it", path);
		return -EEXIST;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0) {
		log_err("control: %s: another signpostd is running there", path);
		return -EADDRINUSE;
	}
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int
set_permissions(const char *path, const struct daemon_conf *c)
{
	if (c->control_group != NULL) {
		struct group *gr = getgrnam(c->control_group);
		if (gr == NULL) {
			log_err("control.group: no such group '%s'", c->control_group);
			return -ENOENT;
		}
		if (chown(path, (uid_t)-1, gr->gr_gid) != 0) {
			int rc = -errno;
			log_err("control: %s: cannot give it to group %s: %s", path, c->control_group,
			        strerror(errno));
			return rc;
		}
	}
	if (chmod(path, c->control_mode) != 0) {
		int rc = -errno;
		log_err("control: %s: chmod: %s", path, strerror(errno));
		return rc;
	}
	return 0;
}

int
control_start(uv_loop_t *loop, const struct ops_env *env, struct control **out)
{
	const struct daemon_conf *c = *env->conf;
	struct control *ctl = calloc(1, sizeof(*ctl));
	int rc;

	*out = NULL;
	if (ctl == NULL)
		return -ENOMEM;
	ctl->loop = loop;
	ctl->env = *env;
	if (!ops_conf_control_path(c, ctl->path, sizeof(ctl->path))) {
		log_err("control: socket path longer than %zu characters (set control.socket)",
		        sizeof(ctl->path) - 1);
		free(ctl);
		return -ENAMETOOLONG;
	}
	if ((rc = clear_stale(ctl->path)) != 0) {
		if (rc != -EADDRINUSE && rc != -EEXIST)
			log_err("control: %s: %s", ctl->path, strerror(-rc));
		free(ctl);
		return rc;
	}
	ctl->zsnap = zones_snapshot_new(env->db);
	uv_pipe_init(loop, &ctl->listener, 0);
	ctl->listener.data = ctl;
	/* Nobody else may connect in the moment between bind and chmod. */
	mode_t old = umask(0177);
	rc = uv_pipe_bind(&ctl->listener, ctl->path);
	umask(old);
	ctl->bound = rc == 0;
	if (rc == 0)
		rc = set_permissions(ctl->path, c);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&ctl->listener, 8, on_connection);
	if (rc != 0) {
		if (rc != -ENOENT)
			log_err("control: cannot listen on %s: %s", ctl->path, sp_strerror(rc));
		control_stop(ctl);
		return rc;
	}
	log_info("control socket %s (mode %04o%s%s)", ctl->path, c->control_mode,
	         c->control_group != NULL ? ", group " : "",
	         c->control_group != NULL ? c->control_group : "");
	*out = ctl;
	return 0;
}

static void
on_listener_closed(uv_handle_t *h)
{
	struct control *ctl = h->data;
	zones_snapshot_free(ctl->zsnap);
	free(ctl);
}

void
control_stop(struct control *ctl)
{
	if (ctl == NULL)
		return;
	ctl->stopping = true;
	while (ctl->conns != NULL)
		conn_close(ctl->conns);
	if (ctl->bound)
		unlink(ctl->path);
	uv_close((uv_handle_t *)&ctl->listener, on_listener_closed);
}
