/* control.c - the control socket: a Unix stream socket whose file permissions decide who
 * may operate the daemon (signpostctl(8)). One request per connection, one line in, a
 * status line and a text or JSON body out (protocol in server/ops.h).
 *
 * Runs on the main thread's libuv loop, beside the signal handlers, so a command sees the
 * configuration and the zone database writer exactly as SIGHUP does and never races a
 * reload. Commands that wait (GSLB operator commands wait for the checker thread) are
 * short. The commands are in control_cmd.c and control_explain.c. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "server/control.h"

#define CONTROL_MAX_CONNS 16
#define CONTROL_TIMEOUT_MS 10000    /* a client must send its request within this */

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

struct gslb_runtime *
control__gslb(const struct control *ctl)
{
	return atomic_load(&ctl->env.sh->gslb);
}

/* Refuses the request: status 1 and the message (text or {"error": ...}). */
void
control__refuse(struct req *r, const char *fmt, ...)
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

void
control__fmt_time(time_t t, char *out, size_t len)
{
	struct tm tm;
	if (t <= 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(out, len, "-");
		return;
	}
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static void
dispatch(struct req *r)
{
	const char *cmd = r->argc > 0 ? r->argv[0] : "";
	if (strcmp(cmd, "status") == 0 && r->argc == 1)
		control__status(r);
	else if (strcmp(cmd, "stats") == 0 && r->argc == 1)
		control__stats(r);
	else if (strcmp(cmd, "zone") == 0)
		control__zone(r);
	else if (strcmp(cmd, "reload") == 0)
		control__reload(r);
	else if (strcmp(cmd, "gslb") == 0)
		control__gslb_cmd(r);
	else if (strcmp(cmd, "explain") == 0)
		control__explain(r);
	else if (strcmp(cmd, "cache") == 0 && r->argc >= 2 && strcmp(r->argv[1], "flush") == 0 &&
	         r->argc <= 3)
		control__cache_flush(r);
	else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "stats") == 0)
		control__refuse(r, "usage: %s (no arguments)", cmd);
	else
		control__refuse(r, "unknown command '%s' (status, stats, reload, zone, gslb, "
		                   "explain, cache)", cmd);
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
		control__refuse(&r, "malformed request (expected FORMAT<TAB>COMMAND[<TAB>ARG]...)");
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
