/* tcp.c - DNS over TCP on a worker (RFC 7766): a listener per listen address
 * (SO_REUSEPORT socket handed to uv_tcp_open), 2-octet length-prefixed messages, many
 * queries per connection answered in order (pipelining), idle and per-message timeouts,
 * limits on connections in total and per client address.
 *
 * tcp_socket_open() runs on the main thread before privileges are dropped; the rest on
 * the worker's thread. Buffers belong to the connection (allocated when it is accepted,
 * grown at most to the largest message); queries are answered into the worker's
 * scratch buffer and copied to the connection's output. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "server/daemon.h"
#include "server/recurse.h"
#include "server/xfr.h"

#define TCP_IN_INITIAL 4096
#define TCP_OUT_INITIAL 4096
#define TCP_BACKLOG 256

struct tcp_conn {
	struct worker *w;
	struct tcp_conn *prev, *next;
	uv_tcp_t h;
	uv_timer_t timer;
	uv_write_t wreq;
	struct sockaddr_storage peer;
	uint32_t bucket;
	bool counted;           /* holds a place in tcp_per_client[bucket] */
	unsigned open_handles;  /* freed when both h and timer have closed */

	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_len, out_cap;

	bool writing;           /* out is being written: not touched, reading paused */
	bool eof;               /* the client half-closed: answer what we have, then close */
	bool closing;
	bool msg_timer;         /* the timer bounds the message being received */
	struct xfr_out *xfr;    /* an AXFR/IXFR answer being streamed (xfr_out.c) */

	/* Recursion (server/recurse.c): answers that come later, out of order (RFC 7766
	 * 7: the IDs match them up), found by id; they wait in late while a write runs. */
	uint64_t id;
	unsigned recursing;     /* resolutions this connection still waits for */
	uint8_t *late;
	size_t late_len, late_cap;
};

static _Atomic uint64_t conn_ids;

int
tcp_socket_open(const struct conf_listen *l)
{
	int on = 1, rc = 0;
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
	    (l->addr.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
	    bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) != 0 ||
	    listen(fd, TCP_BACKLOG) != 0)
		rc = -errno;
	if (rc != 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* ---- per-client accounting ----------------------------------------------------------- */

static uint32_t
client_bucket(const struct sockaddr_storage *ss)
{
	const uint8_t *p;
	size_t n;
	if (ss->ss_family == AF_INET6) {
		p = (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
		n = 16;
	} else {
		p = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
		n = 4;
	}
	uint32_t h = 2166136261u;  /* FNV-1a over the address, not the port */
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % TCP_CLIENT_BUCKETS;
}

/* ---- closing --------------------------------------------------------------------------- */

static void
on_conn_handle_closed(uv_handle_t *h)
{
	struct tcp_conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	struct worker *w = c->w;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	w->nconns--;
	atomic_fetch_sub(&w->sh->tcp_total, 1);
	if (c->counted)
		atomic_fetch_sub(&w->sh->tcp_per_client[c->bucket], 1);
	xfr_out_free(c->xfr);
	free(c->late);
	free(c->in);
	free(c->out);
	free(c);
	if (w->stopping && w->nconns == 0 && !uv_is_closing((uv_handle_t *)&w->grace))
		uv_close((uv_handle_t *)&w->grace, NULL);
}

static void
conn_close(struct tcp_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->h, on_conn_handle_closed);
}

/* ---- answering ---------------------------------------------------------------------------- */

static void conn_process(struct tcp_conn *c);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void
on_timeout(uv_timer_t *t)
{
	struct tcp_conn *c = t->data;
	log_debug("tcp: closing a connection after a timeout");
	conn_close(c);
}

/* The timer bounds, in this order: a write the client does not read, a message that
 * has started to arrive (it does not restart with every segment, so a trickle cannot
 * hold the connection: RFC 7766 6.2.3 / slowloris), and an idle connection. */
static void
conn_arm_timer(struct tcp_conn *c)
{
	uint64_t idle = atomic_load(&c->w->sh->tcp_idle_ms);
	if (c->writing) {
		c->msg_timer = false;
		uv_timer_start(&c->timer, on_timeout, idle, 0);
	} else if (c->in_len > 0) {
		if (!c->msg_timer) {
			c->msg_timer = true;
			uv_timer_start(&c->timer, on_timeout,
			               idle < TCP_MSG_TIMEOUT_MS ? idle : TCP_MSG_TIMEOUT_MS, 0);
		}
	} else {
		c->msg_timer = false;
		uv_timer_start(&c->timer, on_timeout, idle, 0);
	}
}

static void
on_write(uv_write_t *req, int status)
{
	struct tcp_conn *c = req->data;
	c->writing = false;
	c->out_len = 0;
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (!c->eof && !c->w->stopping &&
	    uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read) != 0) {
		conn_close(c);
		return;
	}
	conn_process(c);
}

/* Appends one answer (length prefix + message) to the output. Grows the buffer only
 * for an answer larger than any before on this connection. */
static bool
conn_queue(struct tcp_conn *c, const uint8_t *msg, size_t len)
{
	if (c->out_len + 2 + len > c->out_cap) {
		size_t cap = c->out_len + 2 + len;
		uint8_t *p = realloc(c->out, cap);
		if (p == NULL)
			return false;
		c->out = p;
		c->out_cap = cap;
	}
	c->out[c->out_len] = (uint8_t)(len >> 8);
	c->out[c->out_len + 1] = (uint8_t)len;
	if (msg != NULL)
		memcpy(c->out + c->out_len + 2, msg, len);
	c->out_len += 2 + len;
	return true;
}

/* Queues the next messages of the transfer in progress (a write's worth: the rest
 * follows as the client reads), and ends it once complete. */
static bool
conn_xfr_fill(struct tcp_conn *c)
{
	while (c->xfr != NULL && c->out_len < XFR_QUEUE_AT) {
		size_t len = xfr_out_next(c->xfr, c->w->tcp_scratch, TCP_MSG_MAX);
		if (len == 0) {
			xfr_out_free(c->xfr);
			c->xfr = NULL;
		} else if (!conn_queue(c, c->w->tcp_scratch, len)) {
			return false;
		}
	}
	return true;
}

/* Answers every complete message in the input, in order, then writes the answers in
 * one uv_write and pauses reading until it is done. A transfer request (AXFR, IXFR)
 * goes to xfr_out.c, and the queries after it wait until its answer is complete. */
static void
conn_process(struct tcp_conn *c)
{
	struct worker *w = c->w;
	size_t pos = 0;
	bool begun = false;

	if (c->writing || c->closing)
		return;
	if (c->late_len > 0) {
		/* Late answers, already length-prefixed: first out, they waited longest. */
		if (!conn_queue(c, NULL, c->late_len)) {
			conn_close(c);
			return;
		}
		c->out_len -= 2 + c->late_len;
		memcpy(c->out + c->out_len, c->late, c->late_len);
		c->out_len += c->late_len;
		c->late_len = 0;
	}
	while (c->xfr == NULL && c->in_len - pos >= 2 && c->out_len < TCP_FLUSH_AT) {
		size_t mlen = (size_t)c->in[pos] << 8 | c->in[pos + 1];
		if (c->in_len - pos - 2 < mlen)
			break;
		const uint8_t *q = c->in + pos + 2;
		pos += 2 + mlen;
		if (xfr_out_is_transfer(q, mlen)) {
			c->xfr = xfr_out_new(zones_snapshot_db(w->zsnap), (struct sockaddr *)&c->peer,
			                     q, mlen);
			if (c->xfr == NULL) {
				if (begun)
					worker_batch_end(w);
				conn_close(c);
				return;
			}
			w->stats.queries_tcp++;
			break;
		}
		if (!begun) {
			if (!worker_batch_begin(w)) {
				w->stats.dropped++;
				continue;
			}
			begun = true;
		}
		struct answer_client cl = { .addr = (struct sockaddr *)&c->peer, .tcp = true };
		size_t alen = answer_query(&w->actx, &cl, q, mlen, w->tcp_scratch, TCP_MSG_MAX);
		if (xfr_answer_is_ours(q, mlen, w->tcp_scratch, alen))
			alen = xfr_answer(&w->actx, &cl, q, mlen, w->tcp_scratch, TCP_MSG_MAX);
		if (w->rw != NULL) {
			bool later;
			alen = recurse_tcp(w, c->id, &cl, q, mlen, w->tcp_scratch, TCP_MSG_MAX, alen,
			                   &later);
			if (later)
				c->recursing++;
		}
		if (alen > 0 && !conn_queue(c, w->tcp_scratch, alen)) {
			if (begun)
				worker_batch_end(w);
			conn_close(c);
			return;
		}
	}
	if (begun)
		worker_batch_end(w);
	if (pos > 0) {
		memmove(c->in, c->in + pos, c->in_len - pos);
		c->in_len -= pos;
		c->msg_timer = false;   /* a new message starts now */
	}
	if (c->xfr != NULL && !conn_xfr_fill(c)) {
		conn_close(c);
		return;
	}
	if (c->out_len > 0) {
		uv_buf_t b = uv_buf_init((char *)c->out, (unsigned)c->out_len);
		c->wreq.data = c;
		if (uv_write(&c->wreq, (uv_stream_t *)&c->h, &b, 1, on_write) != 0) {
			conn_close(c);
			return;
		}
		c->writing = true;
		uv_read_stop((uv_stream_t *)&c->h);
	} else if ((c->eof || w->stopping) && c->recursing == 0) {
		/* Everything asked has been answered. */
		conn_close(c);
		return;
	}
	conn_arm_timer(c);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tcp_conn *c = h->data;

	/* Grow once for a message larger than the first buffer; at most one message
	 * is ever incomplete here, so 2 + 65535 octets always suffice. */
	if (c->in_len >= 2) {
		size_t need = 2 + ((size_t)c->in[0] << 8 | c->in[1]);
		if (need > c->in_cap) {
			uint8_t *p = realloc(c->in, 2 + TCP_MSG_MAX);
			if (p != NULL) {
				c->in = p;
				c->in_cap = 2 + TCP_MSG_MAX;
			}
		}
	}
	*buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tcp_conn *c = s->data;

	if (nread == 0 || c->closing)
		return;
	if (nread < 0) {
		if (nread != UV_EOF) {
			conn_close(c);
			return;
		}
		/* Half-closed (RFC 7766 6.2.4 allows it): still answer what was sent. */
		c->eof = true;
		uv_read_stop(s);
		conn_process(c);
		return;
	}
	c->in_len += (size_t)nread;
	conn_process(c);
}

/* ---- accepting -------------------------------------------------------------------------------- */

static struct tcp_conn *
conn_new(struct worker *w)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->in = malloc(TCP_IN_INITIAL);
	c->out = malloc(TCP_OUT_INITIAL);
	if (c->in == NULL || c->out == NULL) {
		free(c->in);
		free(c->out);
		free(c);
		return NULL;
	}
	c->in_cap = TCP_IN_INITIAL;
	c->out_cap = TCP_OUT_INITIAL;
	c->w = w;
	c->id = atomic_fetch_add(&conn_ids, 1) + 1;
	return c;
}

static void
on_rejected_closed(uv_handle_t *h)
{
	free(h);
}

/* Accepts and closes at once: over a limit, or out of memory. */
static void
reject(uv_stream_t *server)
{
	uv_tcp_t *t = malloc(sizeof(*t));
	if (t == NULL)
		return;  /* the connection stays in the backlog; the next accept takes it */
	uv_tcp_init(server->loop, t);
	uv_accept(server, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, on_rejected_closed);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct tcp_listener *l = server->data;
	struct worker *w = l->w;
	struct daemon_shared *sh = w->sh;

	if (status < 0 || w->stopping)
		return;
	unsigned total = atomic_fetch_add(&sh->tcp_total, 1);
	if (total >= atomic_load(&sh->tcp_max_connections)) {
		atomic_fetch_sub(&sh->tcp_total, 1);
		log_debug("tcp: connection limit (%u) reached", total);
		reject(server);
		return;
	}
	struct tcp_conn *c = conn_new(w);
	if (c == NULL) {
		atomic_fetch_sub(&sh->tcp_total, 1);
		reject(server);
		return;
	}
	uv_tcp_init(&w->loop, &c->h);
	uv_timer_init(&w->loop, &c->timer);
	c->h.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;

	int plen = sizeof(c->peer);
	if (uv_accept(server, (uv_stream_t *)&c->h) != 0 ||
	    uv_tcp_getpeername(&c->h, (struct sockaddr *)&c->peer, &plen) != 0) {
		conn_close(c);
		return;
	}
	c->bucket = client_bucket(&c->peer);
	c->counted = true;
	unsigned mine = atomic_fetch_add(&sh->tcp_per_client[c->bucket], 1);
	if (mine >= atomic_load(&sh->tcp_max_per_client)) {
		log_debug("tcp: per-client limit reached");
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->h, 1);
	if (uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read) != 0) {
		conn_close(c);
		return;
	}
	conn_arm_timer(c);
}

int
tcp_listener_init(struct worker *w, struct tcp_listener *t, int fd)
{
	t->fd = -1;
	int rc = uv_tcp_init(&w->loop, &t->h);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	t->w = w;   /* from here on the handle must be closed */
	t->fd = fd;
	t->h.data = t;
	rc = uv_tcp_open(&t->h, fd);
	if (rc != 0) {
		close(fd);
		t->fd = -1;
	}
	return rc;
}

int
tcp_listener_start(struct tcp_listener *t)
{
	if (t->fd < 0)
		return -EBADF;
	return uv_listen((uv_stream_t *)&t->h, TCP_BACKLOG, on_connection);
}

void
tcp_listener_close(struct tcp_listener *t)
{
	if (t->w == NULL || uv_is_closing((uv_handle_t *)&t->h))
		return;
	/* uv_close closes the fd it was given by uv_tcp_open. */
	uv_close((uv_handle_t *)&t->h, NULL);
	t->fd = -1;
}

void
tcp_conns_drain(struct worker *w)
{
	struct tcp_conn *next;
	for (struct tcp_conn *c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (c->closing)
			continue;
		uv_read_stop((uv_stream_t *)&c->h);
		conn_process(c);     /* answers complete queries, or closes when done */
	}
}

void
tcp_conns_close_all(struct worker *w)
{
	struct tcp_conn *next;
	for (struct tcp_conn *c = w->conns; c != NULL; c = next) {
		next = c->next;
		conn_close(c);
	}
}

/* ---- late answers (server/recurse.c) ----------------------------------------------------- */

static struct tcp_conn *
conn_find(struct worker *w, uint64_t id)
{
	for (struct tcp_conn *c = w->conns; c != NULL; c = c->next) {
		if (c->id == id)
			return c->closing ? NULL : c;
	}
	return NULL;
}

void
tcp_conn_release(struct worker *w, uint64_t conn_id)
{
	struct tcp_conn *c = conn_find(w, conn_id);
	if (c == NULL)
		return;
	if (c->recursing > 0)
		c->recursing--;
	conn_process(c);    /* closes a half-closed connection that has nothing more to wait for */
}

bool
tcp_conn_deliver(struct worker *w, uint64_t conn_id, const uint8_t *msg, size_t len)
{
	struct tcp_conn *c = conn_find(w, conn_id);
	if (c == NULL)
		return false;
	if (c->recursing > 0)
		c->recursing--;
	if (c->late_len + 2 + len > c->late_cap) {
		size_t cap = c->late_len + 2 + len;
		uint8_t *p = realloc(c->late, cap);
		if (p == NULL) {
			conn_close(c);
			return false;
		}
		c->late = p;
		c->late_cap = cap;
	}
	c->late[c->late_len] = (uint8_t)(len >> 8);
	c->late[c->late_len + 1] = (uint8_t)len;
	memcpy(c->late + c->late_len + 2, msg, len);
	c->late_len += 2 + len;
	conn_process(c);    /* writes now unless a write is running (on_write comes back) */
	return true;
}
