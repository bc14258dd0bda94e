/* notify.c - NOTIFY out (RFC 1996): when a zone's serial changes, each secondary listed
 * in the zone's notify: gets a NOTIFY (opcode 4, the zone's SOA in the answer section,
 * TSIG-signed when a key is given) over UDP, retried with a doubling timeout until it
 * answers or the retries run out (3.6).
 *
 * Main loop only (the reload that changed the serial runs there). One UDP socket per
 * address family, opened on first use; a NOTIFY for a zone and secondary that is still
 * pending replaces the older one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "server/internal.h"
#include "server/xfr.h"

#define OPCODE_NOTIFY 4
#define NOTIFY_MSG_MAX 1024

struct notify_job {
	struct notify_sender *ns;
	struct notify_job *next;
	uv_timer_t timer;
	uint8_t apex[DNAME_MAXLEN];
	char zname[DNAME_MAXLEN * 4 + 2];
	struct conf_listen to;
	struct tsig_key key;            /* a copy; has_key false: unsigned */
	bool has_key;
	uint16_t fudge;                 /* transfers.tsig-fudge */
	struct tsig_ctx tsig;
	uint32_t serial;
	uint16_t id;
	unsigned tries, retries;
	uint64_t timeout_ms;
	uint8_t msg[NOTIFY_MSG_MAX];
	size_t len;
	bool done;
};

struct notify_sender {
	uv_loop_t *loop;
	uv_udp_t udp4, udp6;
	bool have4, have6;
	struct notify_job *jobs;
	unsigned open_handles;
	bool closing;
	uint64_t sent, answered, failed;
};

/* ---- jobs ---------------------------------------------------------------------------------- */

static void
on_job_closed(uv_handle_t *h)
{
	struct notify_job *j = h->data;
	tsig_ctx_deinit(&j->tsig);
	free(j);
}

static void
job_end(struct notify_job *j)
{
	struct notify_sender *ns = j->ns;
	for (struct notify_job **p = &ns->jobs; *p != NULL; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			break;
		}
	}
	j->done = true;
	uv_close((uv_handle_t *)&j->timer, on_job_closed);
}

static uint16_t
random_id(void)
{
	uint16_t id;
	if (getentropy(&id, sizeof(id)) != 0)
		id = (uint16_t)(time(NULL) ^ (uintptr_t)&id);
	return id;
}

/* Builds the NOTIFY: header (opcode 4, AA), the question (apex SOA IN), the SOA in the
 * answer section (RFC 1996 3.7: a hint of the new serial), TSIG when keyed. */
static bool
job_build(struct notify_job *j, const struct zones_rrset *soa)
{
	struct wire_writer w;
	wire_writer_init(&w, j->msg, sizeof(j->msg) - TSIG_RR_MAX);
	wire_put_u16(&w, j->id);
	wire_put_u16(&w, (uint16_t)(OPCODE_NOTIFY << 11 | 0x0400));
	wire_put_u16(&w, 1);
	wire_put_u16(&w, 1);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, 0);
	wire_put_name(&w, j->apex);
	wire_put_u16(&w, TYPE_SOA);
	wire_put_u16(&w, CLASS_IN);
	wire_writer_remember(&w, 12);
	wire_put_name_comp(&w, j->apex);
	wire_put_u16(&w, TYPE_SOA);
	wire_put_u16(&w, CLASS_IN);
	wire_put_u32(&w, soa->ttl);
	wire_put_u16(&w, (uint16_t)(soa->len - 2));
	wire_put_bytes(&w, soa->rdata + 2, soa->len - 2u);
	if (w.overflow)
		return false;
	j->len = w.len;
	if (j->has_key) {
		tsig_ctx_init(&j->tsig, &j->key, j->fudge);
		if (tsig_sign(&j->tsig, j->msg, &j->len, sizeof(j->msg), (uint64_t)time(NULL), 0) != 0)
			return false;
	}
	return true;
}

static void on_job_timer(uv_timer_t *t);

static void
job_send(struct notify_job *j)
{
	struct notify_sender *ns = j->ns;
	uv_udp_t *u = j->to.addr.ss_family == AF_INET6 ? &ns->udp6 : &ns->udp4;
	uv_buf_t b = uv_buf_init((char *)j->msg, (unsigned)j->len);
	j->tries++;
	ns->sent++;
	if (uv_udp_try_send(u, &b, 1, (const struct sockaddr *)&j->to.addr) < 0)
		log_debug("notify: send to %s failed", j->to.text);
	uv_timer_start(&j->timer, on_job_timer, j->timeout_ms, 0);
}

static void
on_job_timer(uv_timer_t *t)
{
	struct notify_job *j = t->data;
	if (j->tries > j->retries) {
		log_warn("notify: %s serial %u: no answer from %s after %u tries", j->zname,
		         j->serial, j->to.text, j->tries);
		j->ns->failed++;
		job_end(j);
		return;
	}
	j->timeout_ms *= 2;     /* RFC 1996 3.6: back off between retransmissions */
	job_send(j);
}

/* ---- answers ---------------------------------------------------------------------------------- */

static bool
same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static uint8_t rx[4096];   /* main loop only: one read at a time */
	(void)h;
	(void)suggested;
	*buf = uv_buf_init((char *)rx, sizeof(rx));
}

static void
on_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
        unsigned flags)
{
	struct notify_sender *ns = u->data;
	const uint8_t *m = (const uint8_t *)buf->base;
	(void)flags;
	if (n < 12 || from == NULL)
		return;
	uint16_t id = (uint16_t)(m[0] << 8 | m[1]);
	struct notify_job *j = ns->jobs;
	while (j != NULL && !(j->id == id && same_addr(from, &j->to.addr)))
		j = j->next;
	/* Only the answer to a NOTIFY we sent, from where we sent it (QR, opcode 4). */
	if (j == NULL || (m[2] & 0x80) == 0 || ((m[2] >> 3) & 0xf) != OPCODE_NOTIFY)
		return;
	unsigned rcode = m[3] & 0xf;
	if (j->has_key) {
		uint16_t err;
		enum tsig_verdict v = tsig_verify_response(&j->tsig, m, (size_t)n,
		                                           (uint64_t)time(NULL), &err);
		if (v != TSIG_OK) {
			log_warn("notify: %s: answer from %s fails TSIG (error %u); retrying",
			         j->zname, j->to.text, err);
			return;     /* a forged or broken answer: the timer keeps running */
		}
	}
	if (rcode != RCODE_NOERROR)
		log_warn("notify: %s serial %u: %s answered rcode %u", j->zname, j->serial,
		         j->to.text, rcode);
	else
		log_info("notify: %s serial %u: acknowledged by %s", j->zname, j->serial, j->to.text);
	ns->answered++;
	job_end(j);
}

static int
open_udp(struct notify_sender *ns, int family)
{
	uv_udp_t *u = family == AF_INET6 ? &ns->udp6 : &ns->udp4;
	bool *have = family == AF_INET6 ? &ns->have6 : &ns->have4;
	if (*have)
		return 0;
	struct sockaddr_storage any = {0};
	any.ss_family = (sa_family_t)family;
	int rc = uv_udp_init(ns->loop, u);
	if (rc != 0)
		return rc;
	*have = true;
	ns->open_handles++;
	u->data = ns;
	rc = uv_udp_bind(u, (const struct sockaddr *)&any, 0);
	if (rc == 0)
		rc = uv_udp_recv_start(u, on_alloc, on_recv);
	return rc;
}

/* ---- the sender ----------------------------------------------------------------------------------- */

int
notify_sender_new(uv_loop_t *loop, struct notify_sender **out)
{
	struct notify_sender *ns = calloc(1, sizeof(*ns));
	*out = ns;
	if (ns == NULL)
		return -ENOMEM;
	ns->loop = loop;
	return 0;
}

void
notify_send(struct notify_sender *ns, const struct xfr_conf *xc, const struct xfr_zone *z,
            const struct zones_rrset *soa, uint32_t serial)
{
	for (size_t i = 0; i < z->nnotify; i++) {
		const struct xfr_remote *r = &z->notify[i];
		/* A newer serial replaces a NOTIFY still pending to the same secondary. */
		for (struct notify_job *o = ns->jobs; o != NULL; o = o->next) {
			if (dname_equal(o->apex, z->apex) && strcmp(o->to.text, r->addr.text) == 0) {
				job_end(o);
				break;
			}
		}
		if (open_udp(ns, r->addr.addr.ss_family) != 0) {
			log_err("notify: %s: no socket to reach %s", z->name, r->addr.text);
			continue;
		}
		struct notify_job *j = calloc(1, sizeof(*j));
		if (j == NULL) {
			log_err("notify: out of memory");
			return;
		}
		j->ns = ns;
		memcpy(j->apex, z->apex, dname_len(z->apex));
		snprintf(j->zname, sizeof(j->zname), "%s", z->name);
		j->to = r->addr;
		j->has_key = r->key >= 0;
		if (j->has_key)
			j->key = xc->keys[r->key];
		j->serial = serial;
		j->fudge = xc->fudge;
		j->id = random_id();
		j->retries = xc->notify_retries;
		j->timeout_ms = xc->notify_timeout_ms;
		if (!job_build(j, soa)) {
			log_err("notify: %s: cannot build the message", z->name);
			tsig_ctx_deinit(&j->tsig);
			free(j);
			continue;
		}
		uv_timer_init(ns->loop, &j->timer);
		j->timer.data = j;
		j->next = ns->jobs;
		ns->jobs = j;
		log_info("notify: %s serial %u to %s%s%s", z->name, serial, r->addr.text,
		         j->has_key ? " key " : "", j->has_key ? j->key.text : "");
		job_send(j);
	}
}

static void
on_udp_closed(uv_handle_t *h)
{
	struct notify_sender *ns = h->data;
	if (--ns->open_handles == 0)
		free(ns);
}

void
notify_sender_close(struct notify_sender *ns)
{
	if (ns == NULL)
		return;
	while (ns->jobs != NULL)
		job_end(ns->jobs);
	if (ns->open_handles == 0) {
		free(ns);
		return;
	}
	if (ns->have4)
		uv_close((uv_handle_t *)&ns->udp4, on_udp_closed);
	if (ns->have6)
		uv_close((uv_handle_t *)&ns->udp6, on_udp_closed);
}
