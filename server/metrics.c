/* metrics.c - the HTTP side of operations, served by libmicrohttpd on its own polling
 * thread (MHD_USE_INTERNAL_POLLING_THREAD), loopback by default:
 *   /metrics      Prometheus text format 0.0.4: queries by protocol, type and rcode, the
 *                 answer latency histogram, zone serials, GSLB member health
 *   /status       a small HTML page: zones, pools with their members' health, recent
 *                 state changes (no script: it renders in any browser and in text mode)
 *   /status.json  the same for scripts
 *   /health       200 while the daemon serves, 503 otherwise
 *
 * The libmicrohttpd thread reads the workers' counters with relaxed loads (stats.c),
 * zone information through the zone store's own read transactions and GSLB health through
 * gslb_status(); the zone list comes from the main thread under a mutex
 * (metrics_set_conf()). Nothing here is on the answer path. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "gslb/gslb.h"
#include "lib/errors.h"
#include "lib/log.h"
#include "server/ops.h"
#include "server/recurse.h"

#define METRICS_MAX_CONNECTIONS 32
#define METRICS_TIMEOUT_S 10
#define METRICS_RECENT_CHANGES 10

struct mzone {
	char *name, *file;
};

struct metrics {
	struct MHD_Daemon *mhd;
	struct ops_env env;
	_Atomic bool serving;
	pthread_mutex_t lock;       /* guards zones (metrics thread vs. main thread) */
	struct mzone *zones;
	size_t nzones;
};

/* A copy of one member's status (gslb_status() strings live for the callback only). */
struct member {
	char pool[GSLB_NAME_MAX + 1], member[GSLB_NAME_MAX + 1];
	bool has_check, up, drained, last_ok;
	unsigned weight;
	int64_t rtt_us;
	time_t since;
	uint64_t transitions;
	char reason[GSLB_REASON_MAX], last[GSLB_REASON_MAX];
};

struct members {
	struct member *m;
	size_t n, cap;
};

/* A copy of one zone's information, taken under the lock. */
struct zone_view {
	char name[256];
	char file[1024];
	bool loaded, failed;
	uint32_t serial;
	uint64_t records;
	int64_t compiled_at;
	char err[RELOAD_ERRLEN];
};

static void
collect_member(void *arg, const struct gslb_member_status *st)
{
	struct members *ms = arg;
	if (ms->n == ms->cap) {
		size_t cap = ms->cap != 0 ? ms->cap * 2 : 32;
		struct member *m = realloc(ms->m, cap * sizeof(*m));
		if (m == NULL)
			return;
		ms->m = m;
		ms->cap = cap;
	}
	struct member *m = &ms->m[ms->n++];
	snprintf(m->pool, sizeof(m->pool), "%s", st->pool);
	snprintf(m->member, sizeof(m->member), "%s", st->member);
	m->has_check = st->check != NULL;
	m->up = st->up;
	m->drained = st->drained;
	m->last_ok = st->last_ok;
	m->weight = st->weight;
	m->rtt_us = st->rtt_us;
	m->since = st->since;
	m->transitions = st->transitions;
	snprintf(m->reason, sizeof(m->reason), "%s", st->reason != NULL ? st->reason : "");
	snprintf(m->last, sizeof(m->last), "%s", st->last_result != NULL ? st->last_result : "");
}

/* false: GSLB is not configured. */
static bool
get_members(struct metrics *m, struct members *ms)
{
	struct gslb_runtime *rt = atomic_load(&m->env.sh->gslb);
	*ms = (struct members){ 0 };
	if (rt == NULL)
		return false;
	if (gslb_status(rt, collect_member, ms) != 0)
		ms->n = 0;
	return true;
}

static size_t
get_zones(struct metrics *m, struct zone_view **out)
{
	pthread_mutex_lock(&m->lock);
	size_t n = m->nzones;
	struct zone_view *zv = calloc(n > 0 ? n : 1, sizeof(*zv));
	for (size_t i = 0; zv != NULL && i < n; i++) {
		snprintf(zv[i].name, sizeof(zv[i].name), "%s", m->zones[i].name);
		snprintf(zv[i].file, sizeof(zv[i].file), "%s", m->zones[i].file);
	}
	pthread_mutex_unlock(&m->lock);
	if (zv == NULL) {
		*out = NULL;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct zones_info info;
		time_t when;
		if (zones_info_get(m->env.db, zv[i].name, &info) == 0) {
			zv[i].loaded = true;
			zv[i].serial = info.serial;
			zv[i].records = info.records;
			zv[i].compiled_at = info.compiled_at;
		}
		zv[i].failed = reload_zone_error(zv[i].name, zv[i].err, sizeof(zv[i].err), &when);
	}
	*out = zv;
	return n;
}

static void
fmt_time(time_t t, char *out, size_t len)
{
	struct tm tm;
	if (t <= 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(out, len, "-");
	else
		strftime(out, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* ---- /metrics ------------------------------------------------------------------------- */

/* A label value: backslash, double quote and line feed are escaped (exposition format). */
static void
label(struct ops_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			ops_buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			ops_buf_printf(b, "\\n");
		else
			ops_buf_printf(b, "%c", *s);
	}
}

static void
help(struct ops_buf *b, const char *name, const char *type, const char *text)
{
	ops_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void
metrics_queries(struct metrics *m, struct ops_buf *b)
{
	struct stats_total t;
	stats_sum(m->env.workers, m->env.nworkers, &t);
	const struct answer_stats *a = &t.a;

	help(b, "signpost_queries_total", "counter", "Queries answered, by transport.");
	ops_buf_printf(b, "signpost_queries_total{proto=\"udp\"} %" PRIu64 "\n", a->queries_udp);
	ops_buf_printf(b, "signpost_queries_total{proto=\"tcp\"} %" PRIu64 "\n", a->queries_tcp);
	help(b, "signpost_queries_by_type_total", "counter", "Queries by QTYPE.");
	for (unsigned i = 0; i < 256; i++) {
		if (a->qtype[i] == 0)
			continue;
		const char *n = stats_type_name(i);
		if (n != NULL)
			ops_buf_printf(b, "signpost_queries_by_type_total{type=\"%s\"} %" PRIu64 "\n", n,
			               a->qtype[i]);
		else
			ops_buf_printf(b, "signpost_queries_by_type_total{type=\"TYPE%u\"} %" PRIu64 "\n",
			               i, a->qtype[i]);
	}
	ops_buf_printf(b, "signpost_queries_by_type_total{type=\"other\"} %" PRIu64 "\n",
	               a->qtype_other);
	help(b, "signpost_responses_total", "counter", "Responses by RCODE.");
	for (unsigned i = 0; i < 16; i++) {
		const char *n = stats_rcode_name(i);
		if (n != NULL && (a->rcode[i] > 0 || i <= 5))
			ops_buf_printf(b, "signpost_responses_total{rcode=\"%s\"} %" PRIu64 "\n", n,
			               a->rcode[i]);
		else if (a->rcode[i] > 0)
			ops_buf_printf(b, "signpost_responses_total{rcode=\"RCODE%u\"} %" PRIu64 "\n", i,
			               a->rcode[i]);
	}
	ops_buf_printf(b, "signpost_responses_total{rcode=\"BADVERS\"} %" PRIu64 "\n", a->badvers);
	ops_buf_printf(b, "signpost_responses_total{rcode=\"BADCOOKIE\"} %" PRIu64 "\n",
	               a->badcookie);
	ops_buf_metric(b, "signpost_dropped_total", "counter",
	               "Queries dropped unanswered (responses, unparseable, failed snapshots).",
	               a->dropped);
	ops_buf_metric(b, "signpost_truncated_total", "counter",
	               "Responses sent with TC.", a->truncated);
	ops_buf_metric(b, "signpost_edns_queries_total", "counter",
	               "Queries with an EDNS OPT record.", a->edns);
	ops_buf_metric(b, "signpost_gslb_answers_total", "counter",
	               "Answers for dynamic names.", a->gslb_answers);
	ops_buf_metric(b, "signpost_gslb_fallback_answers_total", "counter",
	               "Dynamic answers given while no member was healthy (the pool's fallback).",
	               a->gslb_fallback);
	ops_buf_metric(b, "signpost_gslb_sorry_answers_total", "counter",
	               "Dynamic answers given from a sorry pool.", a->gslb_sorry);
	ops_buf_printf(b, "signpost_gslb_answers_total{kind=\"fallback\"} %" PRIu64 "\n",
	               a->gslb_fallback);
	ops_buf_printf(b, "signpost_gslb_answers_total{kind=\"sorry\"} %" PRIu64 "\n", a->gslb_sorry);
	/* rrl: and cookies: (docs/abuse.md). */
	ops_buf_metric(b, "signpost_rrl_limited_total", "counter",
	               "UDP answers over the rate limit (rrl:), dropped or slipped.",
	               a->rrl_limited);
	ops_buf_metric(b, "signpost_rrl_slipped_total", "counter",
	               "Rate-limited answers sent as the question alone with TC=1.",
	               a->rrl_slipped);
	help(b, "signpost_cookie_queries_total", "counter",
	     "Queries with a DNS COOKIE: a valid server cookie, or a new one handed out.");
	ops_buf_printf(b, "signpost_cookie_queries_total{state=\"valid\"} %" PRIu64 "\n",
	               a->cookies_valid);
	ops_buf_printf(b, "signpost_cookie_queries_total{state=\"new\"} %" PRIu64 "\n",
	               a->cookies_new);

	/* Prometheus buckets are cumulative, in seconds. */
	help(b, "signpost_answer_duration_seconds", "histogram",
	     "Time to answer a query inside the server (batch time divided over its queries).");
	uint64_t cum = 0;
	for (unsigned i = 0; i < LATENCY_BUCKETS; i++) {
		cum += t.lat.bucket[i];
		if (i == LATENCY_BUCKETS - 1)
			ops_buf_printf(b, "signpost_answer_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64
			               "\n", cum);
		else
			ops_buf_printf(b, "signpost_answer_duration_seconds_bucket{le=\"%g\"} %" PRIu64
			               "\n", latency_bucket_us[i] / 1e6, cum);
	}
	ops_buf_printf(b, "signpost_answer_duration_seconds_sum %.9f\n", (double)t.lat.sum_ns / 1e9);
	ops_buf_printf(b, "signpost_answer_duration_seconds_count %" PRIu64 "\n", t.lat.count);
}

static void
metrics_zones(struct metrics *m, struct ops_buf *b)
{
	struct zone_view *zv;
	size_t n = get_zones(m, &zv);
	help(b, "signpost_zone_serial", "gauge", "SOA serial of each served zone.");
	for (size_t i = 0; i < n; i++) {
		if (!zv[i].loaded)
			continue;
		ops_buf_printf(b, "signpost_zone_serial{zone=\"");
		label(b, zv[i].name);
		ops_buf_printf(b, "\"} %" PRIu32 "\n", zv[i].serial);
	}
	help(b, "signpost_zone_loaded", "gauge", "1 when the configured zone is being served.");
	help(b, "signpost_zone_load_failed", "gauge", "1 when the zone's last load failed.");
	for (size_t i = 0; i < n; i++) {
		ops_buf_printf(b, "signpost_zone_loaded{zone=\"");
		label(b, zv[i].name);
		ops_buf_printf(b, "\"} %d\nsignpost_zone_load_failed{zone=\"", zv[i].loaded);
		label(b, zv[i].name);
		ops_buf_printf(b, "\"} %d\n", zv[i].failed);
	}
	free(zv);
}

static void
member_labels(struct ops_buf *b, const char *name, const struct member *x)
{
	ops_buf_printf(b, "%s{pool=\"", name);
	label(b, x->pool);
	ops_buf_printf(b, "\",member=\"");
	label(b, x->member);
	ops_buf_printf(b, "\"} ");
}

static void
metrics_gslb(struct metrics *m, struct ops_buf *b)
{
	struct members ms;
	if (!get_members(m, &ms))
		return;
	help(b, "signpost_gslb_member_up", "gauge", "1 when the member passes its health check.");
	for (size_t i = 0; i < ms.n; i++) {
		member_labels(b, "signpost_gslb_member_up", &ms.m[i]);
		ops_buf_printf(b, "%d\n", ms.m[i].up);
	}
	help(b, "signpost_gslb_member_drained", "gauge", "1 when an operator drained the member.");
	for (size_t i = 0; i < ms.n; i++) {
		member_labels(b, "signpost_gslb_member_drained", &ms.m[i]);
		ops_buf_printf(b, "%d\n", ms.m[i].drained);
	}
	help(b, "signpost_gslb_member_weight", "gauge", "Weight in force.");
	for (size_t i = 0; i < ms.n; i++) {
		member_labels(b, "signpost_gslb_member_weight", &ms.m[i]);
		ops_buf_printf(b, "%u\n", ms.m[i].weight);
	}
	help(b, "signpost_gslb_check_rtt_seconds", "gauge", "Smoothed health check round trip.");
	for (size_t i = 0; i < ms.n; i++) {
		if (ms.m[i].rtt_us < 0)
			continue;
		member_labels(b, "signpost_gslb_check_rtt_seconds", &ms.m[i]);
		ops_buf_printf(b, "%.6f\n", (double)ms.m[i].rtt_us / 1e6);
	}
	help(b, "signpost_gslb_member_state_since_seconds", "gauge",
	     "Unix time of the member's last health state change.");
	for (size_t i = 0; i < ms.n; i++) {
		member_labels(b, "signpost_gslb_member_state_since_seconds", &ms.m[i]);
		ops_buf_printf(b, "%lld\n", (long long)ms.m[i].since);
	}
	/* A counter, so rate() shows flapping that the up gauge, sampled, can miss. */
	help(b, "signpost_gslb_member_state_changes_total", "counter",
	     "Health state changes (up to down or down to up) since the daemon started.");
	for (size_t i = 0; i < ms.n; i++) {
		member_labels(b, "signpost_gslb_member_state_changes_total", &ms.m[i]);
		ops_buf_printf(b, "%" PRIu64 "\n", ms.m[i].transitions);
	}
	free(ms.m);
}

static void
page_metrics(struct metrics *m, struct ops_buf *b)
{
	help(b, "signpost_build_info", "gauge", "Version of the running signpostd.");
	ops_buf_printf(b, "signpost_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	help(b, "signpost_start_time_seconds", "gauge", "Unix time signpostd started.");
	ops_buf_printf(b, "signpost_start_time_seconds %lld\n", (long long)m->env.started);
	help(b, "signpost_serving", "gauge", "1 while the daemon answers queries.");
	ops_buf_printf(b, "signpost_serving %d\n", atomic_load(&m->serving) ? 1 : 0);
	metrics_queries(m, b);
	metrics_zones(m, b);
	metrics_gslb(m, b);
	recurse_metrics(b);     /* the resolver's counters (server/recurse.c) */
}

/* ---- /status.json ------------------------------------------------------------------------ */

static void
page_status_json(struct metrics *m, struct ops_buf *b)
{
	struct stats_total t;
	stats_sum(m->env.workers, m->env.nworkers, &t);
	ops_buf_printf(b, "{\"version\":\"%s\",\"serving\":%s,\"started\":%lld,\"uptime_seconds\":%lld,"
	               "\"queries\":{\"udp\":%" PRIu64 ",\"tcp\":%" PRIu64 "},\"zones\":[",
	               PACKAGE_VERSION, atomic_load(&m->serving) ? "true" : "false",
	               (long long)m->env.started, (long long)(time(NULL) - m->env.started),
	               t.a.queries_udp, t.a.queries_tcp);
	struct zone_view *zv;
	size_t n = get_zones(m, &zv);
	for (size_t i = 0; i < n; i++) {
		ops_buf_printf(b, "%s{\"name\":", i > 0 ? "," : "");
		ops_buf_json_str(b, zv[i].name);
		ops_buf_printf(b, ",\"loaded\":%s", zv[i].loaded ? "true" : "false");
		if (zv[i].loaded)
			ops_buf_printf(b, ",\"serial\":%" PRIu32 ",\"records\":%" PRIu64 ",\"loaded_at\":%lld",
			               zv[i].serial, zv[i].records, (long long)zv[i].compiled_at);
		ops_buf_printf(b, ",\"file\":");
		ops_buf_json_str(b, zv[i].file);
		ops_buf_printf(b, ",\"last_error\":");
		ops_buf_json_str(b, zv[i].failed ? zv[i].err : NULL);
		ops_buf_printf(b, "}");
	}
	free(zv);
	ops_buf_printf(b, "],\"gslb\":");
	struct members ms;
	if (!get_members(m, &ms)) {
		ops_buf_printf(b, "null}\n");
		return;
	}
	ops_buf_printf(b, "{\"members\":[");
	for (size_t i = 0; i < ms.n; i++) {
		const struct member *x = &ms.m[i];
		ops_buf_printf(b, "%s{\"pool\":", i > 0 ? "," : "");
		ops_buf_json_str(b, x->pool);
		ops_buf_printf(b, ",\"member\":");
		ops_buf_json_str(b, x->member);
		ops_buf_printf(b, ",\"up\":%s,\"drained\":%s,\"weight\":%u,\"rtt_us\":%" PRId64
		               ",\"since\":%lld,\"checked\":%s,\"last_ok\":%s,\"state_changes\":%"
		               PRIu64 ",\"reason\":",
		               x->up ? "true" : "false", x->drained ? "true" : "false", x->weight,
		               x->rtt_us, (long long)x->since, x->has_check ? "true" : "false",
		               x->last_ok ? "true" : "false", x->transitions);
		ops_buf_json_str(b, x->reason);
		ops_buf_printf(b, ",\"last_result\":");
		ops_buf_json_str(b, x->last);
		ops_buf_printf(b, "}");
	}
	ops_buf_printf(b, "]}}\n");
	free(ms.m);
}

/* ---- /status -------------------------------------------------------------------------------- */

static const char page_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<meta http-equiv=\"refresh\" content=\"10\">\n<title>signpostd status</title>\n<style>\n"
	"body{font-family:sans-serif;margin:1.5em;color:#222}\n"
	"table{border-collapse:collapse;margin-bottom:1.5em}\n"
	"th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}\n"
	"th{background:#eee}\n.up{background:#cfc}\n.down{background:#fcc}\n"
	".drained{background:#ffd}\n.failed{color:#a00}\n</style></head>\n<body>\n";

static const char *
member_state(const struct member *x)
{
	if (x->drained)
		return "drained";
	return x->up ? "up" : "down";
}

static void
status_zones(struct metrics *m, struct ops_buf *b)
{
	struct zone_view *zv;
	size_t n = get_zones(m, &zv);
	ops_buf_printf(b, "<h2>Zones</h2>\n<table id=\"zones\">\n<tr><th>Zone</th><th>Serial</th>"
	                  "<th>Records</th><th>Loaded at</th><th>Last error</th></tr>\n");
	for (size_t i = 0; i < n; i++) {
		char at[40];
		fmt_time(zv[i].loaded ? (time_t)zv[i].compiled_at : 0, at, sizeof(at));
		ops_buf_printf(b, "<tr class=\"zone\"><td>");
		ops_buf_html(b, zv[i].name);
		if (zv[i].loaded)
			ops_buf_printf(b, "</td><td class=\"serial\">%" PRIu32 "</td><td>%" PRIu64
			               "</td><td>%s</td>", zv[i].serial, zv[i].records, at);
		else
			ops_buf_printf(b, "</td><td class=\"serial failed\">not loaded</td><td></td>"
			                  "<td></td>");
		ops_buf_printf(b, "<td class=\"failed\">");
		ops_buf_html(b, zv[i].failed ? zv[i].err : "");
		ops_buf_printf(b, "</td></tr>\n");
	}
	if (n == 0)
		ops_buf_printf(b, "<tr><td colspan=\"5\">no zones configured</td></tr>\n");
	ops_buf_printf(b, "</table>\n");
	free(zv);
}

static int
by_since_desc(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	return x->since < y->since ? 1 : x->since > y->since ? -1 : 0;
}

static void
status_pools(struct metrics *m, struct ops_buf *b)
{
	struct members ms;
	ops_buf_printf(b, "<h2>GSLB pools</h2>\n");
	if (!get_members(m, &ms)) {
		ops_buf_printf(b, "<p id=\"gslb\">GSLB is not configured.</p>\n");
		return;
	}
	for (size_t i = 0; i < ms.n; i++) {
		const struct member *x = &ms.m[i];
		if (i == 0 || strcmp(x->pool, ms.m[i - 1].pool) != 0) {
			if (i > 0)
				ops_buf_printf(b, "</table>\n");
			ops_buf_printf(b, "<h3>Pool ");
			ops_buf_html(b, x->pool);
			ops_buf_printf(b, "</h3>\n<table class=\"pool\" data-pool=\"");
			ops_buf_html(b, x->pool);
			ops_buf_printf(b, "\">\n<tr><th>Member</th><th>State</th><th>Weight</th>"
			                  "<th>RTT</th><th>Since</th><th>Last check</th></tr>\n");
		}
		char since[40], rtt[24];
		fmt_time(x->since, since, sizeof(since));
		if (x->rtt_us >= 0)
			snprintf(rtt, sizeof(rtt), "%.1f ms", (double)x->rtt_us / 1000.0);
		else
			snprintf(rtt, sizeof(rtt), "-");
		ops_buf_printf(b, "<tr class=\"member\"><td class=\"name\">");
		ops_buf_html(b, x->member);
		ops_buf_printf(b, "</td><td class=\"state %s\">%s</td><td>%u</td><td>%s</td><td>%s</td>"
		                  "<td>", member_state(x), member_state(x), x->weight, rtt, since);
		ops_buf_html(b, x->has_check ? x->last : "no check");
		ops_buf_printf(b, "</td></tr>\n");
	}
	if (ms.n > 0)
		ops_buf_printf(b, "</table>\n");
	qsort(ms.m, ms.n, sizeof(ms.m[0]), by_since_desc);
	ops_buf_printf(b, "<h2>Recent state changes</h2>\n<table id=\"changes\">\n<tr><th>When</th>"
	                  "<th>Pool</th><th>Member</th><th>Now</th><th>Why</th></tr>\n");
	for (size_t i = 0; i < ms.n && i < METRICS_RECENT_CHANGES; i++) {
		const struct member *x = &ms.m[i];
		if (x->since <= 0)
			continue;
		char since[40];
		fmt_time(x->since, since, sizeof(since));
		ops_buf_printf(b, "<tr><td>%s</td><td>", since);
		ops_buf_html(b, x->pool);
		ops_buf_printf(b, "</td><td>");
		ops_buf_html(b, x->member);
		ops_buf_printf(b, "</td><td>%s</td><td>", x->up ? "up" : "down");
		ops_buf_html(b, x->reason);
		ops_buf_printf(b, "</td></tr>\n");
	}
	ops_buf_printf(b, "</table>\n");
	free(ms.m);
}

static void
page_status(struct metrics *m, struct ops_buf *b)
{
	struct stats_total t;
	stats_sum(m->env.workers, m->env.nworkers, &t);
	char started[40];
	fmt_time(m->env.started, started, sizeof(started));
	ops_buf_printf(b, "%s<h1>signpostd %s</h1>\n<p id=\"summary\">%s since %s &middot; %u workers "
	               "&middot; %" PRIu64 " queries (%" PRIu64 " UDP, %" PRIu64 " TCP)</p>\n",
	               page_head, PACKAGE_VERSION, atomic_load(&m->serving) ? "Serving" : "NOT serving",
	               started, m->env.nworkers, t.a.queries_udp + t.a.queries_tcp, t.a.queries_udp,
	               t.a.queries_tcp);
	status_zones(m, b);
	status_pools(m, b);
	ops_buf_printf(b, "<p><a href=\"/metrics\">metrics</a> &middot; "
	                  "<a href=\"/status.json\">status.json</a></p>\n</body></html>\n");
}

/* ---- the HTTP server ----------------------------------------------------------------------- */

static enum MHD_Result
send_text(struct MHD_Connection *conn, unsigned code, const char *type, struct ops_buf *b)
{
	if (b->oom) {
		ops_buf_free(b);
		return MHD_NO;
	}
	size_t len = b->len;
	char *s = b->s != NULL ? b->s : strdup("");
	*b = (struct ops_buf){ 0 };
	if (s == NULL)
		return MHD_NO;
	struct MHD_Response *r = MHD_create_response_from_buffer(len, s, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct metrics *m = cls;
	struct ops_buf b = { 0 };

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		ops_buf_printf(&b, "only GET and HEAD\n");
		return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", &b);
	}
	if (strcmp(url, "/metrics") == 0) {
		page_metrics(m, &b);
		return send_text(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &b);
	}
	if (strcmp(url, "/status") == 0 || strcmp(url, "/") == 0) {
		page_status(m, &b);
		return send_text(conn, MHD_HTTP_OK, "text/html; charset=utf-8", &b);
	}
	if (strcmp(url, "/status.json") == 0) {
		page_status_json(m, &b);
		return send_text(conn, MHD_HTTP_OK, "application/json", &b);
	}
	if (strcmp(url, "/health") == 0) {
		bool ok = atomic_load(&m->serving);
		ops_buf_printf(&b, ok ? "ok\n" : "not serving\n");
		return send_text(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", &b);
	}
	ops_buf_printf(&b, "not found: try /metrics, /status, /status.json or /health\n");
	return send_text(conn, MHD_HTTP_NOT_FOUND, "text/plain", &b);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_warn("metrics: %s", msg);
}

int
metrics_start(const struct daemon_conf *c, const struct ops_env *env, struct metrics **out)
{
	*out = NULL;
	if (!c->metrics_enabled)
		return 0;
	struct metrics *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->env = *env;
	pthread_mutex_init(&m->lock, NULL);
	metrics_set_conf(m, c);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	if (c->metrics_listen.addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m,
	                          MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&c->metrics_listen.addr,
	                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_MAX_CONNECTIONS,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_S,
	                          MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	                          MHD_OPTION_END);
	if (m->mhd == NULL) {
		log_err("metrics: cannot serve HTTP on %s (port in use?); continuing without "
		        "/metrics, /status and /health", c->metrics_listen.text);
		metrics_stop(m);
		return -EADDRINUSE;
	}
	log_info("metrics: http://%s/metrics, /status, /status.json, /health",
	         c->metrics_listen.text);
	*out = m;
	return 0;
}

static void
free_zones(struct mzone *z, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(z[i].name);
		free(z[i].file);
	}
	free(z);
}

void
metrics_set_conf(struct metrics *m, const struct daemon_conf *c)
{
	if (m == NULL)
		return;
	struct mzone *z = calloc(c->nzones > 0 ? c->nzones : 1, sizeof(*z));
	size_t n = 0;
	for (; z != NULL && n < c->nzones; n++) {
		z[n].name = strdup(c->zones[n].name);
		z[n].file = strdup(c->zones[n].file);
		if (z[n].name == NULL || z[n].file == NULL) {
			free_zones(z, n + 1);
			return;  /* out of memory: keep the previous list */
		}
	}
	if (z == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	struct mzone *old = m->zones;
	size_t nold = m->nzones;
	m->zones = z;
	m->nzones = n;
	pthread_mutex_unlock(&m->lock);
	free_zones(old, nold);
}

void
metrics_set_serving(struct metrics *m, bool serving)
{
	if (m != NULL)
		atomic_store(&m->serving, serving);
}

void
metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	if (m->mhd != NULL)
		MHD_stop_daemon(m->mhd);
	free_zones(m->zones, m->nzones);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
