/* xfr_out.c - outgoing zone transfers on a worker's TCP connection: AXFR (RFC 5936) and
 * IXFR (RFC 1995) answers, checked against the zone's provide-xfr rules and TSIG
 * (RFC 8945), streamed message by message from one read transaction.
 *
 * Runs on the worker thread that owns the connection (tcp.c asks for one message at a
 * time as the socket drains, so a large zone never sits in memory and other queries
 * on the worker keep being answered). A transfer is not the answer path: it allocates
 * its state once, and logs refusals and completed transfers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "server/config.h"
#include "server/internal.h"
#include "server/xfr.h"

enum xfr_state { XO_ERROR, XO_FULL, XO_DIFF, XO_DONE };

struct xfr_out {
	enum xfr_state state;
	uint8_t err[1024];              /* the one error message (XO_ERROR) */
	size_t err_len;

	struct zones_iter *it;          /* XO_FULL: the zone's version being sent */
	struct zones_journal *jr;       /* XO_DIFF: the differences being sent */
	struct zones_zone zone;
	struct zones_rrset soa;
	bool is_ixfr;
	uint32_t client_serial;

	struct tsig_key key;            /* a copy: the published conf may be replaced */
	struct tsig_ctx tsig;
	bool signing;

	uint16_t id;
	uint8_t qname[DNAME_MAXLEN];
	uint16_t qtype, qclass;
	bool first;                     /* the next message is the first (carries the question) */
	bool head_sent;                 /* the opening SOA went out */

	/* Where the walk stopped: the node, the RRset (zones_node_next position) and the
	 * record inside it still to send. */
	bool have_node;
	uint8_t owner[DNAME_MAXLEN];
	struct zones_node node;
	size_t pos, next_pos;
	struct zones_rrset rr;
	bool have_rr;
	uint16_t rec;                   /* records of rr already sent */
	size_t rec_off;                 /* their octets */

	char peer[80];
	char zname[DNAME_MAXLEN * 4 + 2];
	uint64_t msgs, records;
	struct timespec t0;
	size_t room;                    /* UDP: octets a message may take before its TSIG */
};

bool
xfr_out_is_transfer(const uint8_t *msg, size_t len)
{
	struct wire_reader r;
	if (len < 12 || (msg[2] & 0x80) != 0 || ((msg[2] >> 3) & 0xf) != 0 ||
	    msg[4] != 0 || msg[5] != 1)
		return false;
	wire_reader_init(&r, msg, len);
	r.pos = 12;
	uint16_t qtype;
	if (wire_skip_name(&r) != 0 || wire_read_u16(&r, &qtype) != 0)
		return false;
	return qtype == TYPE_AXFR || qtype == TYPE_IXFR;
}

static uint64_t
now_s(void)
{
	return (uint64_t)time(NULL);
}

/* ---- message building ------------------------------------------------------------------- */

static void
header(struct xfr_out *x, struct wire_writer *w, uint16_t rcode, bool question)
{
	wire_put_u16(w, x->id);
	wire_put_u16(w, (uint16_t)(0x8000 | 0x0400 | (rcode & 0xf)));  /* QR, AA */
	wire_put_u16(w, question ? 1 : 0);
	wire_put_u16(w, 0);
	wire_put_u16(w, 0);
	wire_put_u16(w, 0);
	if (question) {
		wire_put_name(w, x->qname);
		wire_put_u16(w, x->qtype);
		wire_put_u16(w, x->qclass);
		wire_writer_remember(w, 12);
	}
}

static bool
put_rr(struct wire_writer *w, const uint8_t *owner, uint16_t type, uint32_t ttl,
       const uint8_t *rdata, uint16_t rdlen)
{
	struct wire_mark m = wire_writer_mark(w);
	wire_put_name_comp(w, owner);
	wire_put_u16(w, type);
	wire_put_u16(w, CLASS_IN);
	wire_put_u32(w, ttl);
	wire_put_u16(w, rdlen);
	wire_put_bytes(w, rdata, rdlen);
	if (w->overflow) {
		wire_writer_rollback(w, m);
		return false;
	}
	return true;
}

/* Our SOA (x->soa, the version being sent), which opens and closes every transfer
 * (RFC 5936 2.2, RFC 1995 4). */
static bool
put_soa(struct xfr_out *x, struct wire_writer *w, uint16_t *count)
{
	if (!put_rr(w, x->zone.apex, TYPE_SOA, x->soa.ttl, x->soa.rdata + 2,
	            (uint16_t)(x->soa.len - 2)))
		return false;
	(*count)++;
	return true;
}

/* Starts a message in w: the header, and in the first message our opening SOA. False
 * when that SOA does not fit. */
static bool
open_msg(struct xfr_out *x, struct wire_writer *w, uint16_t *count)
{
	header(x, w, RCODE_NOERROR, x->first);
	x->first = false;
	if (!x->head_sent) {
		if (!put_soa(x, w, count))
			return false;
		x->head_sent = true;
	}
	return true;
}

/* Signs (when the request was signed) and finishes a message in w. */
static size_t
finish(struct xfr_out *x, struct wire_writer *w, size_t cap, uint16_t ancount)
{
	wire_patch_u16(w, 6, ancount);
	size_t len = w->len;
	if (x->signing && tsig_sign(&x->tsig, w->buf, &len, cap, now_s(), 0) != 0)
		return 0;
	x->msgs++;
	x->records += ancount;
	return len;
}

/* Error answers: the question, an rcode, and the TSIG RFC 8945 5.3.2 asks for. */
static void
set_error(struct xfr_out *x, uint16_t rcode, const struct tsig_rr *rr, enum tsig_verdict v)
{
	struct wire_writer w;
	wire_writer_init(&w, x->err, sizeof(x->err) - TSIG_RR_MAX);
	header(x, &w, rcode, x->qtype != 0);
	w.buf[2] &= (uint8_t)~0x04;     /* errors speak for no zone: AA off */
	size_t len = w.len;
	if (v == TSIG_ERR_BADKEY || v == TSIG_ERR_BADSIG || v == TSIG_ERR_BADTRUNC) {
		uint16_t e = v == TSIG_ERR_BADKEY ? TSIG_BADKEY
		             : v == TSIG_ERR_BADSIG ? TSIG_BADSIG : TSIG_BADTRUNC;
		(void)tsig_append_error(rr, x->err, &len, sizeof(x->err), now_s(), e);
	} else if (v == TSIG_ERR_BADTIME) {
		(void)tsig_sign(&x->tsig, x->err, &len, sizeof(x->err), now_s(), TSIG_BADTIME);
	} else if (x->signing) {
		(void)tsig_sign(&x->tsig, x->err, &len, sizeof(x->err), now_s(), 0);
	}
	x->err_len = len;
	x->state = XO_ERROR;
}

/* ---- starting: parse, TSIG, ACL ---------------------------------------------------------- */

/* RFC 1995 3: the SOA in the authority section of an IXFR request carries the serial the
 * client has. Returns false when it is missing or malformed. */
static bool
ixfr_client_serial(const uint8_t *msg, size_t len, uint32_t *serial)
{
	struct wire_reader r;
	uint16_t type, class, rdlen;
	uint32_t ttl;
	const uint8_t *skip;

	if (len < 12 || (msg[8] << 8 | msg[9]) < 1)
		return false;
	wire_reader_init(&r, msg, len);
	r.pos = 12;
	if (wire_skip_name(&r) != 0 || wire_read_bytes(&r, 4, &skip) != 0 ||
	    wire_skip_name(&r) != 0 || wire_read_u16(&r, &type) != 0 ||
	    wire_read_u16(&r, &class) != 0 || wire_read_u32(&r, &ttl) != 0 ||
	    wire_read_u16(&r, &rdlen) != 0 || type != TYPE_SOA)
		return false;
	size_t end = r.pos + rdlen;
	if (end > len || wire_skip_name(&r) != 0 || wire_skip_name(&r) != 0 ||
	    wire_read_u32(&r, serial) != 0 || r.pos > end)
		return false;
	return true;
}

static const char *
verdict_text(enum tsig_verdict v)
{
	switch (v) {
	case TSIG_ERR_BADKEY:
		return "BADKEY (unknown key or algorithm)";
	case TSIG_ERR_BADSIG:
		return "BADSIG (wrong MAC)";
	case TSIG_ERR_BADTIME:
		return "BADTIME (clock skew beyond the fudge)";
	case TSIG_ERR_BADTRUNC:
		return "BADTRUNC";
	default:
		return "FORMERR (malformed TSIG)";
	}
}

/* RFC 1982: s1 < s2 in serial number arithmetic. */
static bool
serial_lt(uint32_t s1, uint32_t s2)
{
	return s1 != s2 && (uint32_t)(s2 - s1) < 0x80000000u;
}

static void
start(struct xfr_out *x, struct zones_db *db, const struct sockaddr *peer, const uint8_t *msg,
      size_t len)
{
	struct query q;
	struct tsig_rr rr;
	const struct xfr_conf *xc = xfr_published();

	enum query_verdict qv = query_parse(&q, msg, len);
	x->id = (uint16_t)(msg[0] << 8 | msg[1]);
	if (q.has_question) {
		memcpy(x->qname, q.qname, q.qname_len);
		x->qtype = q.qtype;
		x->qclass = q.qclass;
		dname_to_str(q.qname, x->zname, sizeof(x->zname));
	}
	if (qv != QUERY_OK && qv != QUERY_NOTAUTH) {
		set_error(x, RCODE_FORMERR, NULL, TSIG_NONE);
		return;
	}
	/* TSIG first: its errors take precedence (RFC 8945 5.2). */
	enum tsig_verdict v = tsig_verify_request_fudge(xc ? xc->keys : NULL, xc ? xc->nkeys : 0,
	                                                msg, len, now_s(), xc ? xc->fudge : 0,
	                                                &x->tsig, &rr);
	if (v == TSIG_OK || v == TSIG_ERR_BADTIME) {
		/* Keep the key with the transfer: the ctx points at our copy. */
		x->key = *x->tsig.key;
		x->tsig.key = &x->key;
	}
	if (v != TSIG_OK && v != TSIG_NONE) {
		log_notice("xfr: %s from %s for %s refused: TSIG %s", x->qtype == TYPE_IXFR ? "IXFR"
		           : "AXFR", x->peer, x->zname, verdict_text(v));
		set_error(x, v == TSIG_FORMERR ? RCODE_FORMERR : RCODE_NOTAUTH, &rr, v);
		return;
	}
	x->signing = v == TSIG_OK;
	if (q.qclass != CLASS_IN) {
		set_error(x, RCODE_REFUSED, NULL, TSIG_NONE);
		return;
	}
	x->is_ixfr = q.qtype == TYPE_IXFR;
	if (x->is_ixfr && !ixfr_client_serial(msg, len, &x->client_serial)) {
		set_error(x, RCODE_FORMERR, NULL, TSIG_NONE);
		return;
	}
	uint8_t apex[DNAME_MAXLEN];
	dname_copy_lower(apex, q.qname);
	const struct xfr_zone *z = xfr_conf_zone(xc, apex);
	if (z == NULL || !xfr_acl_allows(xc, z->provide, z->nprovide, peer,
	                                 x->signing ? &x->key : NULL)) {
		log_notice("xfr: %s from %s for %s refused by provide-xfr%s%s",
		           x->is_ixfr ? "IXFR" : "AXFR", x->peer, x->zname,
		           x->signing ? " (key " : "", x->signing ? x->key.text : "");
		set_error(x, RCODE_REFUSED, NULL, TSIG_NONE);
		return;
	}
	int rc = zones_iter_new(db, apex, &x->it);
	if (rc != 0) {
		/* RFC 5936 2.2.1: not authoritative for the zone. */
		set_error(x, rc == SP_ENOZONE ? RCODE_NOTAUTH : RCODE_SERVFAIL, NULL, TSIG_NONE);
		return;
	}
	zones_iter_zone(x->it, &x->zone, &x->soa);
	x->first = true;
	x->state = XO_FULL;
	if (x->is_ixfr) {
		if (!serial_lt(x->client_serial, x->zone.serial)) {
			/* RFC 1995 4: up to date: the answer is our SOA alone. */
			x->state = XO_DIFF;
		} else if (zones_journal_open(x->it, x->client_serial, &x->jr) == 0) {
			x->state = XO_DIFF;
		}
		/* else: the serial aged out of the journal (or none is kept): the whole zone,
		 * AXFR-style, inside the IXFR answer (RFC 1995 4). */
	}
	log_info("xfr: %s%s of %s serial %u to %s%s%s", x->is_ixfr ? "IXFR" : "AXFR",
	         x->is_ixfr && x->state == XO_FULL ? " (full: no journal from that serial)" : "",
	         x->zname, x->zone.serial, x->peer, x->signing ? " key " : "",
	         x->signing ? x->key.text : "");
}

struct xfr_out *
xfr_out_new(struct zones_db *db, const struct sockaddr *peer, const uint8_t *msg, size_t len)
{
	struct xfr_out *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &x->t0);
	conf_format_addr(peer, x->peer, sizeof(x->peer));
	snprintf(x->zname, sizeof(x->zname), "?");
	start(x, db, peer, msg, len);
	return x;
}

void
xfr_out_free(struct xfr_out *x)
{
	if (x == NULL)
		return;
	if (x->state != XO_ERROR && x->state != XO_DONE && x->it != NULL)
		log_notice("xfr: transfer of %s to %s ended early after %llu messages", x->zname,
		           x->peer, (unsigned long long)x->msgs);
	zones_journal_close(x->jr);
	zones_iter_free(x->it);
	tsig_ctx_deinit(&x->tsig);
	free(x);
}

/* ---- the full zone ------------------------------------------------------------------------ */

/* The next record of the walk into w; false when the message is full. Sets *end at the
 * end of the zone. */
static bool
put_next(struct xfr_out *x, struct wire_writer *w, uint16_t *count, bool *end)
{
	for (;;) {
		if (!x->have_node) {
			int rc = zones_iter_next(x->it, x->owner, &x->node);
			if (rc <= 0) {
				*end = true;
				return true;
			}
			x->have_node = true;
			x->pos = 0;
			x->have_rr = false;
		}
		if (!x->have_rr) {
			if (!zones_node_next(&x->node, &x->pos, &x->rr)) {
				x->have_node = false;
				continue;
			}
			/* The SOA opens and closes the transfer instead (RFC 5936 2.2). */
			if (x->rr.type == TYPE_SOA && (x->node.flags & ZONES_NODE_APEX))
				continue;
			x->have_rr = true;
			x->rec = 0;
			x->rec_off = 0;
		}
		if (x->rec == x->rr.count) {
			x->have_rr = false;
			continue;
		}
		const uint8_t *p = x->rr.rdata + x->rec_off;
		uint16_t rdlen = (uint16_t)(p[0] << 8 | p[1]);
		if (!put_rr(w, x->owner, x->rr.type, x->rr.ttl, p + 2, rdlen))
			return false;
		(*count)++;
		x->rec++;
		x->rec_off += 2u + rdlen;
		return true;
	}
}

static size_t
next_full(struct xfr_out *x, uint8_t *buf, size_t cap)
{
	struct wire_writer w;
	uint16_t count = 0;
	bool end = false;

	wire_writer_init(&w, buf, cap - TSIG_RR_MAX);
	if (!open_msg(x, &w, &count))
		return 0;
	while (w.len < XFR_MSG_TARGET && !end) {
		if (!put_next(x, &w, &count, &end))
			break;
	}
	if (end) {
		if (put_soa(x, &w, &count))
			x->state = XO_DONE;
		/* else the closing SOA goes in the next message */
	}
	return finish(x, &w, cap, count);
}

/* ---- differences (IXFR) ------------------------------------------------------------------ */

/* RFC 1995 4: our SOA, then for each version step the old SOA, the deleted records, the
 * new SOA and the added records, then our SOA again. The journal gives the records of
 * the steps in that order, SOAs included. */
static size_t
next_diff(struct xfr_out *x, uint8_t *buf, size_t cap)
{
	struct wire_writer w;
	uint16_t count = 0;

	size_t room = cap - TSIG_RR_MAX;
	wire_writer_init(&w, buf, x->room != 0 && x->room < room ? x->room : room);
	if (!open_msg(x, &w, &count))
		return 0;
	if (x->jr == NULL) {
		x->state = XO_DONE;     /* up to date: the one SOA */
		return finish(x, &w, cap, count);
	}
	bool end = false;
	while (w.len < XFR_MSG_TARGET) {
		struct zones_journal_rr jrr;
		int rc = zones_journal_peek(x->jr, &jrr);
		if (rc <= 0) {
			end = true;
			break;
		}
		if (!put_rr(&w, jrr.owner, jrr.type, jrr.ttl, jrr.rdata, jrr.rdlen))
			break;
		count++;
		zones_journal_advance(x->jr);
	}
	if (end && put_soa(x, &w, &count))
		x->state = XO_DONE;
	return finish(x, &w, cap, count);
}

size_t
xfr_out_next(struct xfr_out *x, uint8_t *buf, size_t cap)
{
	size_t len = 0;
	switch (x->state) {
	case XO_ERROR:
		memcpy(buf, x->err, x->err_len);
		x->state = XO_DONE;
		return x->err_len;
	case XO_FULL:
		len = next_full(x, buf, cap);
		break;
	case XO_DIFF:
		len = next_diff(x, buf, cap);
		break;
	case XO_DONE:
		return 0;
	}
	if (x->state == XO_DONE) {
		struct timespec t1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double ms = (double)(t1.tv_sec - x->t0.tv_sec) * 1e3 +
		            (double)(t1.tv_nsec - x->t0.tv_nsec) / 1e6;
		log_info("xfr: %s of %s serial %u to %s done: %llu records in %llu messages, %.0f ms",
		         x->is_ixfr ? "IXFR" : "AXFR", x->zname, x->zone.serial, x->peer,
		         (unsigned long long)x->records, (unsigned long long)x->msgs, ms);
	}
	if (len == 0)
		x->state = XO_DONE;     /* could not build a message: end the answer */
	return len;
}

/* ---- signed queries ------------------------------------------------------------------------ */

#define SIGNED_QUERY_MAX 4096

/* Room for the answer to a signed query: over UDP, the size the client can take (RFC 6891
 * 6.2.5, as answer_query() computes it) less the TSIG RR we append, so that the signed
 * answer still fits (RFC 8945 5.3); over TCP, cap less any TSIG. */
static size_t
signed_room(const struct answer_ctx *ctx, const struct answer_client *cl, const uint8_t *q,
            size_t qlen, const struct tsig_ctx *tc, size_t cap)
{
	size_t room = cap - TSIG_RR_MAX;
	if (cl->tcp)
		return room;
	struct query query;
	size_t limit = 512;
	if (query_parse(&query, q, qlen) == QUERY_OK && query.edns) {
		uint16_t ours = ctx->conf->edns_size ? ctx->conf->edns_size : ANSWER_DEFAULT_EDNS_SIZE;
		limit = query.edns_size < ours ? query.edns_size : ours;
		if (limit < 512)
			limit = 512;
	}
	size_t tsig = tsig_sign_size(tc, 0);
	limit = limit > tsig + 12 ? limit - tsig : 12;
	return limit < room ? limit : room;
}

/* RFC 8945 5.3: when the TSIG cannot be added without truncating, the answer is the
 * question alone with TC and NOERROR, signed; the client retries over TCP. out holds an
 * answer with TC set (len octets); returns the new length, 0 if it is malformed. */
static size_t
question_only(uint8_t *out, size_t len)
{
	size_t p = 12;
	if ((out[4] << 8 | out[5]) != 1)
		return 0;
	while (p < len && out[p] != 0 && (out[p] & 0xc0) == 0)
		p += out[p] + 1u;
	if (p >= len || out[p] != 0 || p + 5 > len)
		return 0;
	out[3] &= 0xf0;                     /* RCODE NOERROR */
	memset(out + 6, 0, 6);              /* no answer, authority or additional */
	return p + 5;
}

size_t
xfr_signed_answer(struct answer_ctx *ctx, const struct answer_client *cl, const uint8_t *q,
                  size_t qlen, uint8_t *out, size_t cap)
{
	const struct xfr_conf *xc = xfr_published();
	uint8_t plain[SIGNED_QUERY_MAX];
	struct tsig_ctx tc;
	struct tsig_rr rr;
	size_t len;

	if (qlen > sizeof(plain) || cap < 512 + TSIG_RR_MAX)
		return answer_query(ctx, cl, q, qlen, out, cap);
	enum tsig_verdict v = tsig_verify_request_fudge(xc ? xc->keys : NULL, xc ? xc->nkeys : 0, q,
	                                                qlen, (uint64_t)time(NULL),
	                                                xc ? xc->fudge : 0, &tc, &rr);
	if (v == TSIG_OK) {
		/* The query as it was before it was signed: ARCOUNT one less, original ID. */
		memcpy(plain, q, rr.offset);
		uint16_t ar = (uint16_t)((plain[10] << 8 | plain[11]) - 1);
		plain[10] = (uint8_t)(ar >> 8);
		plain[11] = (uint8_t)ar;
		len = answer_query(ctx, cl, plain, rr.offset, out,
		                   signed_room(ctx, cl, plain, rr.offset, &tc, cap));
		if (len > 0 && !cl->tcp && (out[2] & 0x02) != 0)
			len = question_only(out, len);
		if (len > 0 && tsig_sign(&tc, out, &len, cap, (uint64_t)time(NULL), 0) != 0)
			len = 0;
		tsig_ctx_deinit(&tc);
		return len;
	}
	/* Not verified: the answer already written says NOTAUTH (or FORMERR); add the TSIG
	 * RFC 8945 5.3.2 asks for. */
	len = answer_query(ctx, cl, q, qlen, out, cap - TSIG_RR_MAX);
	if (len < 12 || v == TSIG_NONE || v == TSIG_FORMERR)
		return len;
	if (v == TSIG_ERR_BADTIME) {
		(void)tsig_sign(&tc, out, &len, cap, (uint64_t)time(NULL), TSIG_BADTIME);
		tsig_ctx_deinit(&tc);
	} else {
		uint16_t e = v == TSIG_ERR_BADKEY ? TSIG_BADKEY
		             : v == TSIG_ERR_BADSIG ? TSIG_BADSIG : TSIG_BADTRUNC;
		(void)tsig_append_error(&rr, out, &len, cap, (uint64_t)time(NULL), e);
	}
	return len;
}

/* ---- IXFR over UDP ---------------------------------------------------------------------------- */

/* The UDP payload the client can take (RFC 6891 6.2.5 as answer_query() computes it;
 * 512 without EDNS, RFC 1035 4.2.1). */
static size_t
udp_size(const struct answer_ctx *ctx, const uint8_t *q, size_t qlen)
{
	struct query query;
	size_t limit = 512;
	enum query_verdict v = query_parse(&query, q, qlen);
	if ((v == QUERY_OK || v == QUERY_NOTAUTH) && query.edns) {
		uint16_t ours = ctx->conf->edns_size ? ctx->conf->edns_size : ANSWER_DEFAULT_EDNS_SIZE;
		limit = query.edns_size < ours ? query.edns_size : ours;
		if (limit < 512)
			limit = 512;
	}
	return limit;
}

/* True when an unsigned IXFR q from addr would be refused by the zone's provide-xfr (so
 * the refusal stays the answer path's, without a log line per spoofable datagram). */
static bool
udp_ixfr_refused(const uint8_t *q, size_t qlen, const struct sockaddr *addr)
{
	const struct xfr_conf *xc = xfr_published();
	uint8_t apex[DNAME_MAXLEN];
	struct query query;
	if (xc == NULL || query_parse(&query, q, qlen) != QUERY_OK || !query.has_question)
		return true;
	dname_copy_lower(apex, query.qname);
	const struct xfr_zone *z = xfr_conf_zone(xc, apex);
	return z == NULL || !xfr_acl_allows(xc, z->provide, z->nprovide, addr, NULL);
}

size_t
xfr_udp_ixfr_answer(struct answer_ctx *ctx, const struct answer_client *cl, const uint8_t *q,
                    size_t qlen, uint8_t *out, size_t cap)
{
	struct zones_db *db = zones_snapshot_db(ctx->zsnap);
	bool is_signed = (q[10] | q[11]) != 0;
	if (!is_signed && udp_ixfr_refused(q, qlen, cl->addr))
		return answer_query(ctx, cl, q, qlen, out, cap);
	size_t limit = udp_size(ctx, q, qlen), len;
	struct xfr_out *x = xfr_out_new(db, cl->addr, q, qlen);
	if (x == NULL)
		return 0;
	if (x->state == XO_DIFF && x->jr != NULL) {
		/* RFC 1995 2: the whole answer over UDP if it fits, TSIG included. */
		size_t tsig = x->signing ? tsig_sign_size(&x->tsig, 0) : 0;
		x->room = limit > tsig + 12 ? limit - tsig : 12;
		len = xfr_out_next(x, out, cap);
		if (x->state == XO_DONE && len > 0 && len <= limit) {
			xfr_out_free(x);
			return len;
		}
		/* It does not fit: start again (the TSIG chain must begin anew) for the SOA. */
		x->state = XO_DONE;
		xfr_out_free(x);
		x = xfr_out_new(db, cl->addr, q, qlen);
		if (x == NULL)
			return 0;
	}
	if (x->state == XO_FULL || x->state == XO_DIFF) {
		/* Our SOA alone: the client is up to date, or must use TCP (RFC 1995 2; the
		 * whole zone, when the journal does not reach its serial, is a TCP matter). */
		zones_journal_close(x->jr);
		x->jr = NULL;
		x->state = XO_DIFF;
	}
	len = xfr_out_next(x, out, cap);
	xfr_out_free(x);
	return len;
}

size_t
xfr_answer(struct answer_ctx *ctx, const struct answer_client *cl, const uint8_t *q, size_t qlen,
           uint8_t *out, size_t cap)
{
	if (((q[2] >> 3) & 0xf) == 4)
		return xfr_notify_answer(cl, q, qlen, out, cap);
	if (!cl->tcp && ((q[2] >> 3) & 0xf) == 0 && xfr_query_qtype(q, qlen) == TYPE_IXFR)
		return xfr_udp_ixfr_answer(ctx, cl, q, qlen, out, cap);
	return xfr_signed_answer(ctx, cl, q, qlen, out, cap);
}
