/* ops.h - what the operator sees of a running daemon: the control socket
 * (server/control.c, on the main loop), the HTTP metrics and status server
 * (server/metrics.c, its own libmicrohttpd thread) and the counters both read
 * (server/stats.c).
 *
 * Neither touches the answer path: they read the workers' counters with relaxed loads,
 * look zones up through their own snapshots and talk to GSLB through its command API. */
#ifndef SP_SERVER_OPS_H
#define SP_SERVER_OPS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "server/daemon.h"

/* What control and metrics see of the daemon. Pointers are the daemon's (main.c keeps
 * them alive until control_stop() and metrics_stop() returned). The GSLB runtime is
 * sh->gslb (NULL without a gslb: section); main.c stops it only after both stopped, as
 * gslb_runtime_stop() must not race a command. */
struct ops_env {
	struct zones_db *db;
	struct daemon_shared *sh;
	struct worker *workers;
	unsigned nworkers;
	/* The configuration in force; main.c replaces *conf on reload. Main thread only. */
	struct daemon_conf *const *conf;
	/* A full reload, as SIGHUP does it (main thread). */
	void (*reload)(void *arg);
	void *arg;
	time_t started;
};

/* ---- growing text buffers (stats.c) ---------------------------------------------------- */

/* A malloc'd string that grows; a failed allocation sets oom and later writes do nothing. */
struct ops_buf {
	char *s;
	size_t len, cap;
	bool oom;
};

void ops_buf_printf(struct ops_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends one unlabelled Prometheus sample with its HELP and TYPE (type "counter" or
 * "gauge") lines: the metrics server's and the resolver's single-value metrics. */
void ops_buf_metric(struct ops_buf *b, const char *name, const char *type, const char *help,
                    uint64_t v);
/* Appends s as a JSON string, quotes included (RFC 8259 7). NULL appends null. */
void ops_buf_json_str(struct ops_buf *b, const char *s);
/* Appends s with HTML's special characters escaped. */
void ops_buf_html(struct ops_buf *b, const char *s);
void ops_buf_free(struct ops_buf *b);

/* ---- counters (stats.c) ------------------------------------------------------------------ */

struct stats_total {
	struct answer_stats a;
	struct worker_latency lat;
};

/* Sums every worker's counters (relaxed loads: a concurrent batch may be half counted).
 * Any thread. */
void stats_sum(struct worker *ws, unsigned n, struct stats_total *out);
/* "A", "AAAA", ... or NULL for a type without a mnemonic; rcode names likewise. */
const char *stats_type_name(unsigned type);
const char *stats_rcode_name(unsigned rcode);

/* ---- the control socket (control.c) ------------------------------------------------------ */

struct control;

/* Creates the Unix socket c->control_socket (or <state-dir>/control.sock) with the
 * configured mode and group, refusing one a live daemon answers on, and serves it on
 * loop. Keeps env until control_stop(). Returns 0 or a negative code (logged). */
int control_start(uv_loop_t *loop, const struct ops_env *env, struct control **out);
/* Closes the listener and the open connections and removes the socket file. The loop
 * must run afterwards for the handles to close (main.c's final uv_run). NULL: no-op. */
void control_stop(struct control *ctl);

/* The protocol, one request per connection: the client writes one line,
 *     FORMAT TAB COMMAND [TAB ARG]... LF      (FORMAT "text" or "json")
 * and the daemon answers with one line holding the exit status for signpostctl (0 done,
 * 1 refused: bad argument, unknown zone/pool/member; nothing changed), then the body in
 * the requested format, then closes. */
#define CONTROL_REQUEST_MAX 4096
#define CONTROL_STATUS_OK 0
#define CONTROL_STATUS_REFUSED 1

/* ---- HTTP metrics, status page, health (metrics.c) ----------------------------------------- */

struct metrics;

/* Starts libmicrohttpd on c->metrics_listen with its own polling thread. Returns 0 (also
 * when metrics are disabled: *out is then NULL) or a negative code (logged). Keeps env
 * until metrics_stop(). */
int metrics_start(const struct daemon_conf *c, const struct ops_env *env, struct metrics **out);
/* Gives the metrics thread the zone list of configuration c (copied; main thread, at
 * start and after each reload). */
void metrics_set_conf(struct metrics *m, const struct daemon_conf *c);
/* /health answers 200 only while serving is true (set once the workers run, cleared
 * when stopping). */
void metrics_set_serving(struct metrics *m, bool serving);
void metrics_stop(struct metrics *m);

#endif
