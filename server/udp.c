/* udp.c - UDP on a worker: each worker has its own socket per listen address
 * (SO_REUSEPORT: the kernel spreads datagrams over the workers, no shared queue), read
 * with recvmmsg and answered with sendmmsg in batches of WORKER_BATCH, driven by uv_poll
 * on the raw fd.
 *
 * udp_socket_open() runs on the main thread before privileges are dropped; the rest on
 * the worker's thread. The answer path here allocates nothing: the batch buffers belong
 * to the worker. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"
#include "server/daemon.h"
#include "server/recurse.h"
#include "server/xfr.h"

static bool
is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
	return IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr);
}

/* Socket options both transports want. */
static int
socket_common(int fd, const struct conf_listen *l)
{
	int on = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
		return -errno;
	/* "::" must not also take the IPv4 port: 0.0.0.0 may be listed beside it. */
	if (l->addr.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0)
		return -errno;
	return 0;
}

int
udp_socket_open(const struct conf_listen *l)
{
	int on = 1, rc;
	int fd = socket(l->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = socket_common(fd, l);
	if (rc == 0 && is_wildcard(&l->addr)) {
		/* A wildcard socket must learn which address each query came to, so the
		 * answer leaves from it (the client matches on it). */
		if (l->addr.ss_family == AF_INET)
			rc = setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
		else
			rc = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
		rc = rc != 0 ? -errno : 0;
	}
	/* Room for bursts: a worker drains 64 datagrams per call. */
	int size = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (rc == 0 && bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) != 0)
		rc = -errno;
	if (rc != 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* Builds the control message that makes the answer leave from the address the query
 * was sent to: the kernel's choice on a wildcard socket could differ. */
static socklen_t
reply_pktinfo(const struct msghdr *rx, union udp_ctrl *tx)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(rx); cm != NULL;
	     cm = CMSG_NXTHDR((struct msghdr *)rx, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo in, out = { 0 };
			memcpy(&in, CMSG_DATA(cm), sizeof(in));
			out.ipi_spec_dst = in.ipi_addr;
			struct cmsghdr *o = &tx->align;
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(out));
			memcpy(CMSG_DATA(o), &out, sizeof(out));
			return CMSG_SPACE(sizeof(out));
		}
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo in;
			memcpy(&in, CMSG_DATA(cm), sizeof(in));
			/* Keep the interface: a link-local destination needs it. */
			struct cmsghdr *o = &tx->align;
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(in));
			memcpy(CMSG_DATA(o), &in, sizeof(in));
			return CMSG_SPACE(sizeof(in));
		}
	}
	return 0;
}

/* recvmmsg and sendmmsg as plain system calls: glibc's wrappers are cancellation points
 * and switch asynchronous cancellation on and off around every call, about 90
 * instructions per batch of one at moderate rates; workers are never cancelled. Same
 * results and errno as the wrappers. */
static inline int
sys_recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	return (int)syscall(SYS_recvmmsg, fd, v, n, flags, NULL);
}

static inline int
sys_sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	return (int)syscall(SYS_sendmmsg, fd, v, n, flags);
}

/* What the rx headers of this thread's worker were last set up for, and how many of them
 * recvmmsg has filled since (it rewrites msg_namelen, msg_controllen and msg_flags of
 * those only). Setting up all WORKER_BATCH headers costs about 900 instructions, more
 * than parsing and answering a query; at moderate rates a batch is one or two
 * datagrams, so only the used ones are reset. Thread-local: one worker per thread. */
static _Thread_local const struct udp_sock *rx_setup_for;
static _Thread_local unsigned rx_used;

/* Reads up to WORKER_BATCH datagrams into the worker's rx buffers. */
static int
udp_recv_batch(struct udp_sock *u)
{
	struct worker *w = u->w;
	if (rx_setup_for == u) {
		socklen_t ctrl = u->pktinfo ? sizeof(w->rx_ctrl[0].buf) : 0;
		for (unsigned i = 0; i < rx_used; i++) {
			struct msghdr *h = &w->rx_msgs[i].msg_hdr;
			h->msg_namelen = sizeof(w->peer[i]);
			h->msg_controllen = ctrl;
			h->msg_flags = 0;
		}
		goto receive;
	}
	rx_setup_for = u;
	for (size_t i = 0; i < WORKER_BATCH; i++) {
		struct msghdr *h = &w->rx_msgs[i].msg_hdr;
		h->msg_name = &w->peer[i];
		h->msg_namelen = sizeof(w->peer[i]);
		h->msg_iov = &w->rx_iov[i];
		h->msg_iovlen = 1;
		h->msg_control = u->pktinfo ? w->rx_ctrl[i].buf : NULL;
		h->msg_controllen = u->pktinfo ? sizeof(w->rx_ctrl[i].buf) : 0;
		h->msg_flags = 0;
		w->rx_iov[i].iov_base = w->rxbuf[i];
		w->rx_iov[i].iov_len = UDP_RX_SIZE;
	}
	int n;
receive:
	do {
		n = sys_recvmmsg(u->fd, w->rx_msgs, WORKER_BATCH, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	rx_used = n > 0 ? (unsigned)n : 0;
	return n;
}

/* Sends the first n prepared answers; a full socket buffer drops the rest (UDP may). */
static void
udp_send_batch(struct udp_sock *u, unsigned n)
{
	struct worker *w = u->w;
	unsigned sent = 0;

	while (sent < n) {
		int r = sys_sendmmsg(u->fd, w->tx_msgs + sent, n - sent, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			/* EAGAIN, or an error for the first datagram (e.g. an unreachable
			 * peer): skip that one and carry on with the others. */
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				w->stats.dropped += n - sent;
				return;
			}
			w->stats.dropped++;
			sent++;
			continue;
		}
		sent += (unsigned)r;
	}
}

/* One batch: read, answer each datagram inside one snapshot, send. Returns the number
 * of datagrams read (0: nothing waiting). */
static int
udp_batch(struct udp_sock *u)
{
	struct worker *w = u->w;
	int n = udp_recv_batch(u);
	if (n <= 0)
		return 0;

	if (!worker_batch_begin(w)) {
		w->stats.dropped += (uint64_t)n;
		return n;
	}
	unsigned out = 0;
	for (int i = 0; i < n; i++) {
		struct msghdr *rh = &w->rx_msgs[i].msg_hdr;
		if ((rh->msg_flags & MSG_TRUNC) != 0) {
			w->stats.dropped++;
			continue;
		}
		struct answer_client cl = { .addr = (struct sockaddr *)&w->peer[i], .tcp = false };
		size_t len = answer_query(&w->actx, &cl, w->rxbuf[i], w->rx_msgs[i].msg_len,
		                          w->txbuf[out], UDP_TX_SIZE);
		if (xfr_answer_is_ours(w->rxbuf[i], w->rx_msgs[i].msg_len, w->txbuf[out], len))
			len = xfr_answer(&w->actx, &cl, w->rxbuf[i], w->rx_msgs[i].msg_len,
			                 w->txbuf[out], UDP_TX_SIZE);
		if (w->rw != NULL)  /* recursion: RA, cache answers, misses sent later */
			len = recurse_udp(w, u->fd, rh, &cl, w->rxbuf[i], w->rx_msgs[i].msg_len,
			                  w->txbuf[out], UDP_TX_SIZE, len);
		if (len == 0)
			continue;
		struct msghdr *th = &w->tx_msgs[out].msg_hdr;
		w->tx_iov[out].iov_base = w->txbuf[out];
		w->tx_iov[out].iov_len = len;
		th->msg_name = &w->peer[i];
		th->msg_namelen = rh->msg_namelen;
		th->msg_iov = &w->tx_iov[out];
		th->msg_iovlen = 1;
		th->msg_flags = 0;
		th->msg_control = NULL;
		th->msg_controllen = 0;
		if (u->pktinfo) {
			socklen_t cl_len = reply_pktinfo(rh, &w->tx_ctrl[out]);
			if (cl_len > 0) {
				th->msg_control = w->tx_ctrl[out].buf;
				th->msg_controllen = cl_len;
			}
		}
		out++;
	}
	worker_batch_end(w);
	udp_send_batch(u, out);
	return n;
}

static void
on_udp_readable(uv_poll_t *p, int status, int events)
{
	struct udp_sock *u = p->data;

	if (status < 0)
		return;
	/* Bounded: after a few full batches the loop's other handles get their turn;
	 * the poll is level-triggered and calls again. */
	for (int i = 0; i < WORKER_BATCHES_PER_WAKE; i++) {
		if (udp_batch(u) < WORKER_BATCH)
			break;
	}
}

int
udp_sock_init(struct worker *w, struct udp_sock *u, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	u->w = w;
	u->fd = fd;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		close(fd);
		u->fd = -1;
		return -errno;
	}
	u->family = ss.ss_family;
	u->pktinfo = is_wildcard(&ss);
	int rc = uv_poll_init(&w->loop, &u->poll, fd);
	if (rc != 0) {
		close(fd);
		u->fd = -1;
		return rc;
	}
	u->poll.data = u;
	return uv_poll_start(&u->poll, UV_READABLE, on_udp_readable);
}

static void
on_poll_closed(uv_handle_t *h)
{
	struct udp_sock *u = h->data;
	close(u->fd);
	u->fd = -1;
}

void
udp_sock_close(struct udp_sock *u)
{
	if (u->w == NULL || u->fd < 0 || uv_is_closing((uv_handle_t *)&u->poll))
		return;
	uv_close((uv_handle_t *)&u->poll, on_poll_closed);
}

socklen_t
udp__reply_pktinfo(const struct msghdr *rx, union udp_ctrl *tx)
{
	return reply_pktinfo(rx, tx);
}
