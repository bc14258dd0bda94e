/* transport.c - the real upstream transport: one new connect()ed UDP socket per query
 * (so the kernel picks a fresh random source port each time, RFC 5452 9.2), bound to the
 * loopback address when the server is on loopback, and TCP (RFC 7766) when the resolver
 * asks for it after truncation. A reply counts only when it comes from the server's address
 * and port (the connected socket and a check) and echoes the ID and the question octet
 * for octet; anything else is dropped and the query keeps waiting (RFC 5452 9.1).
 * Resolver loop thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/dname.h"
#include "resolver/resolver.h"

struct rt;

struct rq {
	struct rq *next, *prev;
	struct rt *rt;
	resolver_reply_fn *done;
	void *arg;
	struct resolver_addr server;
	bool tcp, finished;
	unsigned open;                  /* handles not yet closed */
	union {
		uv_udp_t udp;
		uv_tcp_t tcp;
	} h;
	uv_timer_t timer;
	uv_connect_t conn;
	uv_write_t wr;
	uint8_t *rbuf;                  /* TCP: accumulated stream */
	size_t rlen, rcap;
	size_t len;
	uint8_t wire[];                 /* TCP: 2-octet length, then the query */
};

struct rt {
	struct resolver_transport pub;
	uv_loop_t *loop;
	struct rq *list;
};

static const uint8_t *
query_of(const struct rq *q)
{
	return q->wire + 2;
}

static void
on_closed(uv_handle_t *h)
{
	struct rq *q = h->data;
	if (--q->open == 0) {
		free(q->rbuf);
		free(q);
	}
}

/* Stops q: unlinks it and closes its handles; done is not called here. */
static void
stop(struct rq *q)
{
	if (q->finished)
		return;
	q->finished = true;
	if (q->prev != NULL)
		q->prev->next = q->next;
	else if (q->rt != NULL)
		q->rt->list = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	q->rt = NULL;
	uv_timer_stop(&q->timer);
	uv_close((uv_handle_t *)&q->timer, on_closed);
	uv_close((uv_handle_t *)&q->h, on_closed);
}

static void
finish(struct rq *q, int status, const uint8_t *reply, size_t len)
{
	if (q->finished)
		return;
	resolver_reply_fn *done = q->done;
	void *arg = q->arg;
	stop(q);
	done(arg, status, reply, len);
}

/* The ID and the question section as sent (RFC 5452 9.1). */
static bool
reply_matches(const struct rq *q, const uint8_t *r, size_t len)
{
	const uint8_t *s = query_of(q);
	size_t qlen = dname_len(s + 12) + 4;

	return len >= 12 + qlen && r[0] == s[0] && r[1] == s[1] && (r[2] & 0x80) &&
	       r[4] == 0 && r[5] == 1 && memcmp(r + 12, s + 12, qlen) == 0;
}

static void
on_timeout(uv_timer_t *t)
{
	finish(t->data, -ETIMEDOUT, NULL, 0);
}

static void
alloc_udp(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	(void)h;
	(void)sz;
	static char buf[65536];         /* loop thread only; each datagram is handled at once */
	*b = uv_buf_init(buf, sizeof(buf));
}

static void
on_udp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
            unsigned flags)
{
	struct rq *q = u->data;
	(void)flags;

	if (n < 0) {
		finish(q, (int)n, NULL, 0);
		return;
	}
	if (n == 0 || from == NULL)
		return;
	struct resolver_addr fa = { .len = q->server.len };
	memcpy(&fa.u, from, q->server.len);
	if (!resolver_addr_equal(&fa, &q->server) || !reply_matches(q, (uint8_t *)b->base, (size_t)n))
		return;     /* spoofed or stray: keep waiting for the real one */
	finish(q, 0, (uint8_t *)b->base, (size_t)n);
}

static int
bind_local(struct rq *q, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	bool loop = resolver_addr_is_loopback(&q->server);
	if (q->server.u.sa.sa_family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;
		s->sin_family = AF_INET;
		s->sin_addr.s_addr = htonl(loop ? INADDR_LOOPBACK : INADDR_ANY);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
		s->sin6_family = AF_INET6;
		s->sin6_addr = loop ? in6addr_loopback : in6addr_any;
	}
	return 0;
}

static int
start_udp(struct rt *rt, struct rq *q)
{
	struct sockaddr_storage local;
	int rc = uv_udp_init(rt->loop, &q->h.udp);
	if (rc != 0)
		return rc;
	q->open++;
	q->h.udp.data = q;
	bind_local(q, &local);
	/* Port 0: the kernel picks a random ephemeral port for this query alone. */
	rc = uv_udp_bind(&q->h.udp, (struct sockaddr *)&local, 0);
	if (rc == 0)
		rc = uv_udp_connect(&q->h.udp, &q->server.u.sa);
	if (rc == 0)
		rc = uv_udp_recv_start(&q->h.udp, alloc_udp, on_udp_recv);
	if (rc == 0) {
		uv_buf_t b = uv_buf_init((char *)query_of(q), (unsigned)q->len);
		int sent = uv_udp_try_send(&q->h.udp, &b, 1, NULL);
		rc = sent < 0 ? sent : 0;
	}
	return rc;
}

static void
alloc_tcp(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	struct rq *q = h->data;
	(void)sz;
	if (q->rcap - q->rlen < 4096) {
		size_t nc = q->rcap ? q->rcap * 2 : 8192;
		uint8_t *nb = nc <= 65537 * 2 ? realloc(q->rbuf, nc) : NULL;
		if (nb == NULL) {
			*b = uv_buf_init(NULL, 0);
			return;
		}
		q->rbuf = nb;
		q->rcap = nc;
	}
	*b = uv_buf_init((char *)q->rbuf + q->rlen, (unsigned)(q->rcap - q->rlen));
}

static void
on_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct rq *q = s->data;
	(void)b;

	if (n < 0) {
		finish(q, n == UV_EOF ? -ECONNRESET : (int)n, NULL, 0);
		return;
	}
	q->rlen += (size_t)n;
	while (q->rlen >= 2) {
		size_t ml = (size_t)q->rbuf[0] << 8 | q->rbuf[1];
		if (q->rlen < 2 + ml)
			return;
		if (reply_matches(q, q->rbuf + 2, ml)) {
			finish(q, 0, q->rbuf + 2, ml);
			return;
		}
		memmove(q->rbuf, q->rbuf + 2 + ml, q->rlen - 2 - ml);
		q->rlen -= 2 + ml;
	}
}

static void
on_tcp_written(uv_write_t *w, int status)
{
	struct rq *q = w->data;
	if (status != 0)
		finish(q, status, NULL, 0);
}

static void
on_tcp_connect(uv_connect_t *c, int status)
{
	struct rq *q = c->data;

	if (status == UV_ECANCELED || q->finished)
		return;
	if (status != 0) {
		finish(q, status, NULL, 0);
		return;
	}
	uv_buf_t b = uv_buf_init((char *)q->wire, (unsigned)(q->len + 2));
	q->wr.data = q;
	int rc = uv_write(&q->wr, (uv_stream_t *)&q->h.tcp, &b, 1, on_tcp_written);
	if (rc == 0)
		rc = uv_read_start((uv_stream_t *)&q->h.tcp, alloc_tcp, on_tcp_read);
	if (rc != 0)
		finish(q, rc, NULL, 0);
}

static int
start_tcp(struct rt *rt, struct rq *q)
{
	struct sockaddr_storage local;
	int rc = uv_tcp_init(rt->loop, &q->h.tcp);
	if (rc != 0)
		return rc;
	q->open++;
	q->h.tcp.data = q;
	bind_local(q, &local);
	rc = uv_tcp_bind(&q->h.tcp, (struct sockaddr *)&local, 0);
	q->conn.data = q;
	if (rc == 0)
		rc = uv_tcp_connect(&q->conn, &q->h.tcp, &q->server.u.sa, on_tcp_connect);
	return rc;
}

static void *
rt_send(void *ctx, const struct resolver_upstream_query *uq, resolver_reply_fn *done, void *arg)
{
	struct rt *rt = ctx;
	struct rq *q = calloc(1, sizeof(*q) + uq->len + 2);

	if (q == NULL || uq->len < 12 || uq->len > 65535) {
		free(q);
		return NULL;
	}
	q->done = done;
	q->arg = arg;
	q->server = *uq->server;
	q->tcp = uq->tcp;
	q->len = uq->len;
	q->wire[0] = (uint8_t)(uq->len >> 8);
	q->wire[1] = (uint8_t)uq->len;
	memcpy(q->wire + 2, uq->wire, uq->len);
	uv_timer_init(rt->loop, &q->timer);
	q->timer.data = q;
	q->open = 1;
	int rc = q->tcp ? start_tcp(rt, q) : start_udp(rt, q);
	if (rc != 0) {
		q->finished = true;
		uv_close((uv_handle_t *)&q->timer, on_closed);
		if (q->open > 1)
			uv_close((uv_handle_t *)&q->h, on_closed);
		return NULL;
	}
	uv_timer_start(&q->timer, on_timeout, uq->timeout_ms ? uq->timeout_ms : 1, 0);
	q->rt = rt;
	q->next = rt->list;
	if (rt->list != NULL)
		rt->list->prev = q;
	rt->list = q;
	return q;
}

static void
rt_cancel(void *ctx, void *handle)
{
	(void)ctx;
	stop(handle);
}

int
resolver_transport_udp_tcp(uv_loop_t *loop, struct resolver_transport **out)
{
	struct rt *rt = calloc(1, sizeof(*rt));
	if (rt == NULL)
		return -ENOMEM;
	rt->loop = loop;
	rt->pub.ctx = rt;
	rt->pub.send = rt_send;
	rt->pub.cancel = rt_cancel;
	rt->pub.random16 = NULL;
	*out = &rt->pub;
	return 0;
}

void
resolver_transport_free(struct resolver_transport *t)
{
	if (t == NULL)
		return;
	struct rt *rt = t->ctx;
	while (rt->list != NULL)
		stop(rt->list);
	free(rt);
}
