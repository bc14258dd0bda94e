/* control.h - what the files of the control socket share (control.c: the socket, the
 * connections and the dispatch; control_cmd.c: status, stats, zone, reload, gslb;
 * control_explain.c: explain). Main thread only, like everything of the control socket.
 * Nothing outside these files includes this. */
#ifndef SP_SERVER_CONTROL_H
#define SP_SERVER_CONTROL_H

#include <stdbool.h>
#include <sys/un.h>
#include <time.h>

#include "server/ops.h"

#define CONTROL_MAX_ARGS 16

struct conn;

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

/* Refuses the request: status 1 and the message (text, or {"error": ...} for JSON). */
void control__refuse(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* t as 2026-01-31T12:00:00Z ("-" for 0). */
void control__fmt_time(time_t t, char *out, size_t len);
/* The GSLB runtime, NULL without a gslb: section. */
struct gslb_runtime *control__gslb(const struct control *ctl);

/* The commands (r->argv[0] is the command's name); each writes its answer to r->out and
 * sets r->status when it refuses. */
void control__status(struct req *r);
void control__stats(struct req *r);
void control__zone(struct req *r);
void control__reload(struct req *r);
void control__gslb_cmd(struct req *r);
void control__explain(struct req *r);
/* cache flush [NAME] (server/recurse.c does the work). */
void control__cache_flush(struct req *r);

#endif
