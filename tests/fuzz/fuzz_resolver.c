/* fuzz_resolver.c - libFuzzer target for the resolver's handling of upstream replies
 * (resolver/iter.c: matching, referral/answer/CNAME/negative classification, glue and
 * NS fetches, TCP retry; resolver/cache.c: inserting and answering from what came back;
 * resolver/validate.c: signed replies against a root trust anchor).
 *
 * One client query per input through a fresh resolver, cache and loop, with a scripted
 * transport instead of sockets (as tests/unit/test_resolver.c). The root priming query
 * (". NS") gets a fixed good answer (a.root. at 127.0.0.1) unless every question gets
 * the input; the first other upstream question - or every one - gets the fuzz input as
 * its reply; the rest time out at once. Input: octet 0 is a knob, the rest the reply.
 *   bit 0  patch: the reply's ID and question are replaced by the query's (its own first
 *          question, if it has one that can be skipped, is dropped), so the input passes
 *          matching and reaches the parser; clear: the octets go as they are
 *   bit 1  every upstream question gets the input, the priming query too
 *   bits 2-4  the client's QTYPE (A AAAA NS MX CNAME DS DNSKEY TXT) for www.example.com.
 *   bit 5  DO, and validation against the root trust anchor (without it validation is off,
 *          so answers reach the cache and the client; with it they come out bogus or
 *          insecure, as no input can sign with the real root key)
 *   bit 6 CD, bit 7 QNAME minimisation off (the first question after priming
 *          is then the client's own: www.example.com. to the root)
 * The loop runs until the callback came or a bounded number of steps; then the resolver
 * is freed (which answers SERVFAIL if it had not). Checks: no crash, leak or UB; the
 * callback is called exactly once, never inside resolver_query(); its response parses
 * with ldns, carries the result's rcode and AD bit and echoes the client's question.
 * One thread (the fuzzer's); the resolver's loop is run on it. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>
#include <uv.h>

#include "lib/dname.h"
#include "lib/log.h"
#include "resolver/dnssec.h"
#include "resolver/resolver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(cond, what) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: invariant failed: %s: %s\n", __FILE__, __LINE__, \
			        #cond, what); \
			abort(); \
		} \
	} while (0)

#define MAX_STEPS 2000
#define MAX_REPLY 65535

/* The real root KSK-2017 DS as trust anchor (knob bit 5), so signed replies go through
 * validation. */
static const char root_anchor[] =
	". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D";

struct fuzz_transport {
	struct resolver_transport t;
	uv_loop_t *loop;
	const uint8_t *input;
	size_t input_len;
	bool patch, every;
	unsigned sent;              /* questions other than priming */
	unsigned outstanding;
};

struct fq {
	uv_timer_t timer;
	struct fuzz_transport *ft;
	resolver_reply_fn *done;
	void *arg;
	int status;
	size_t len;
	uint8_t reply[];
};

static void
fq_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
fq_fire(uv_timer_t *tm)
{
	struct fq *q = tm->data;
	q->ft->outstanding--;
	q->done(q->arg, q->status, q->status == 0 ? q->reply : NULL, q->status == 0 ? q->len : 0);
	uv_close((uv_handle_t *)&q->timer, fq_closed);
}

/* Length of the name at p[pos..len) (labels up to a zero or a pointer), 0 if it runs out. */
static size_t
name_len(const uint8_t *p, size_t len, size_t pos)
{
	size_t start = pos;
	while (pos < len) {
		uint8_t l = p[pos];
		if (l == 0)
			return pos + 1 - start;
		if ((l & 0xc0) == 0xc0)
			return pos + 2 <= len ? pos + 2 - start : 0;
		if (l & 0xc0)
			return 0;
		pos += 1 + (size_t)l;
	}
	return 0;
}

/* The reply: the input, or with patch the input's header under the query's ID, QDCOUNT 1,
 * the query's question octet for octet, then what followed the input's own question. */
static size_t
build_reply(const struct fuzz_transport *ft, const struct resolver_upstream_query *uq,
            uint8_t *out)
{
	const uint8_t *in = ft->input;
	size_t n = ft->input_len;

	if (!ft->patch || uq->len < 12) {
		memcpy(out, in, n);
		return n;
	}
	size_t qn = name_len(uq->wire, uq->len, 12);
	if (qn == 0 || 12 + qn + 4 > uq->len) {
		memcpy(out, in, n);
		return n;
	}
	size_t qlen = qn + 4;
	uint8_t hdr[12] = { 0 };
	memcpy(hdr, in, n < 12 ? n : 12);
	size_t rest = n < 12 ? n : 12;
	if (n >= 12 && (in[4] | in[5]) != 0) {
		size_t skip = name_len(in, n, 12);
		if (skip != 0 && 12 + skip + 4 <= n)
			rest = 12 + skip + 4;
	}
	memcpy(out, hdr, 12);
	out[0] = uq->wire[0];
	out[1] = uq->wire[1];
	out[4] = 0;
	out[5] = 1;
	memcpy(out + 12, uq->wire + 12, qlen);
	size_t tail = n - rest;
	if (12 + qlen + tail > MAX_REPLY)
		tail = MAX_REPLY - 12 - qlen;
	memcpy(out + 12 + qlen, in + rest, tail);
	return 12 + qlen + tail;
}

/* FUZZ_VERBOSE=1: each upstream question and the outcome on stderr (to see how far an
 * input gets). */
static bool verbose;

static void
trace_query(const struct resolver_upstream_query *uq, int answer)
{
	ldns_pkt *p = NULL;
	char addr[64];

	if (ldns_wire2pkt(&p, uq->wire, uq->len) != LDNS_STATUS_OK)
		return;
	char *qs = ldns_rr_list2str(ldns_pkt_question(p));
	fprintf(stderr, "upstream %s%s: %s -> %s", resolver_addr_str(uq->server, addr, sizeof(addr)),
	        uq->tcp ? " tcp" : "", qs ? qs : "?", answer == 2 ? "good priming reply\n" : answer ? "the input\n" : "timeout\n");
	free(qs);
	ldns_pkt_free(p);
}

/* The good priming reply without its header and question: built once (ldns), glued
 * behind the query's header and question. The question is the root (5 octets, any
 * case), so the compression offsets of the tail stay right. */
static uint8_t *priming_tail;
static size_t priming_tail_len;
static uint8_t priming_flags[2];

static void
priming_build(void)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *rr = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;

	CHECK(p != NULL, "pkt");
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_aa(p, true);
	CHECK(ldns_rr_new_frm_str(&rr, ". 518400 IN NS a.root.", 0, NULL, NULL) == LDNS_STATUS_OK,
	      "rr");
	ldns_rr *qrr = ldns_rr_clone(rr);
	ldns_rr_set_question(qrr, true);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, qrr);
	ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	CHECK(ldns_rr_new_frm_str(&rr, "a.root. 518400 IN A 127.0.0.1", 0, NULL, NULL) ==
	      LDNS_STATUS_OK, "rr");
	ldns_pkt_push_rr(p, LDNS_SECTION_ADDITIONAL, rr);
	CHECK(ldns_pkt2wire(&wire, p, &len) == LDNS_STATUS_OK && len > 17, "priming wire");
	memcpy(priming_flags, wire + 2, 2);
	priming_tail_len = len - 12;
	priming_tail = malloc(priming_tail_len);
	CHECK(priming_tail != NULL, "malloc");
	memcpy(priming_tail, wire + 12, priming_tail_len);
	free(wire);
	ldns_pkt_free(p);
}

/* True for ". NS IN" (the resolver's priming query, RFC 8109). */
static bool
is_priming(const struct resolver_upstream_query *uq)
{
	static const uint8_t root_ns[5] = { 0, 0, 2, 0, 1 };
	return uq->len >= 17 && uq->wire[4] == 0 && uq->wire[5] == 1 &&
	       memcmp(uq->wire + 12, root_ns, 5) == 0;
}

static void
trace_reply(const uint8_t *wire, size_t len)
{
	ldns_pkt *p = NULL;
	ldns_status st = ldns_wire2pkt(&p, wire, len);

	if (st != LDNS_STATUS_OK) {
		fprintf(stderr, "  reply does not parse: %s\n", ldns_get_errorstr_by_id(st));
		return;
	}
	char *s = ldns_pkt2str(p);
	fprintf(stderr, "%s", s ? s : "?\n");
	free(s);
	ldns_pkt_free(p);
}

static void *
ft_send(void *ctx, const struct resolver_upstream_query *uq, resolver_reply_fn *done, void *arg)
{
	struct fuzz_transport *ft = ctx;
	bool priming = !ft->every && is_priming(uq);
	bool answer = ft->every || ft->sent == 0;
	size_t cap = priming ? 12 + priming_tail_len : answer ? ft->input_len + uq->len + 16 : 0;
	struct fq *q = calloc(1, sizeof(*q) + cap);

	CHECK(uq->wire != NULL && uq->len >= 12, "the resolver sends a message");
	if (q == NULL)
		return NULL;
	if (verbose)
		trace_query(uq, priming ? 2 : answer ? 1 : 0);
	q->ft = ft;
	q->done = done;
	q->arg = arg;
	q->status = 0;
	if (priming) {
		memcpy(q->reply, uq->wire, 12);
		memcpy(q->reply + 2, priming_flags, 2);
		q->reply[6] = 0;
		q->reply[7] = 1;        /* ANCOUNT 1, ARCOUNT 1 (NSCOUNT 0) */
		q->reply[8] = 0;
		q->reply[9] = 0;
		q->reply[10] = 0;
		q->reply[11] = 1;
		memcpy(q->reply + 12, priming_tail, priming_tail_len);
		memcpy(q->reply + 12, uq->wire + 12, 5);
		q->len = 12 + priming_tail_len;
	} else if (answer) {
		ft->sent++;
		q->len = build_reply(ft, uq, q->reply);
		if (verbose)
			trace_reply(q->reply, q->len);
	} else {
		ft->sent++;
		q->status = -ETIMEDOUT;
	}
	uv_timer_init(ft->loop, &q->timer);
	q->timer.data = q;
	/* Delivered on a later loop iteration, never inside send() (the contract). */
	uv_timer_start(&q->timer, fq_fire, 0, 0);
	ft->outstanding++;
	return q;
}

static void
ft_cancel(void *ctx, void *handle)
{
	struct fq *q = handle;
	(void)ctx;
	q->ft->outstanding--;
	uv_timer_stop(&q->timer);
	uv_close((uv_handle_t *)&q->timer, fq_closed);
}

static uint16_t
ft_random(void *ctx)
{
	(void)ctx;
	return 0x1234;      /* deterministic: IDs and server choice repeat for an input */
}

struct outcome {
	unsigned calls;
	const struct resolver_question *q;
};

static void
on_done(void *arg, const struct resolver_result *res)
{
	struct outcome *o = arg;
	ldns_pkt *p = NULL;

	o->calls++;
	if (verbose)
		fprintf(stderr, "result: rcode %u ad %d stale %d ede %d, %zu octets\n", res->rcode,
		        res->ad, res->stale, res->ede, res->len);
	CHECK(o->calls == 1, "the callback is called exactly once");
	CHECK(res->wire != NULL && res->len >= 12 && res->len <= 65535, "a response");
	CHECK(ldns_wire2pkt(&p, res->wire, res->len) == LDNS_STATUS_OK, "the response parses");
	CHECK(ldns_pkt_get_rcode(p) == res->rcode, "rcode as reported");
	CHECK(ldns_pkt_ad(p) == res->ad, "AD as reported");
	CHECK(ldns_pkt_qr(p), "QR set");
	CHECK(ldns_pkt_qdcount(p) == 1, "one question");
	ldns_rr *qrr = ldns_rr_list_rr(ldns_pkt_question(p), 0);
	CHECK(ldns_rr_get_type(qrr) == o->q->qtype, "question type echoed");
	CHECK(ldns_rr_get_class(qrr) == o->q->qclass, "question class echoed");
	uint8_t wire[DNAME_MAXLEN];
	const ldns_rdf *owner = ldns_rr_owner(qrr);
	CHECK(ldns_rdf_size(owner) <= sizeof(wire), "question name length");
	memcpy(wire, ldns_rdf_data(owner), ldns_rdf_size(owner));
	CHECK(ldns_rdf_size(owner) == dname_len(o->q->qname) &&
	      memcmp(wire, o->q->qname, ldns_rdf_size(owner)) == 0, "question name echoed");
	ldns_pkt_free(p);
}

/* [qname minimisation off][validation on] */
static struct resolver_conf *confs[2][2];

static struct resolver_conf *
conf_make(bool qmin, bool validate)
{
	struct resolver_conf *c = NULL;
	char err[256];

	CHECK(resolver_conf_new(&c) == 0, "conf");
	c->enable = true;
	CHECK(resolver_addr_parse("127.0.0.1", 53, &c->hints[0]) == 0, "hint");
	CHECK(resolver_addr_parse("::1", 53, &c->hints[1]) == 0, "hint");
	c->nhints = 2;
	c->query_timeout_ms = 30;
	c->request_timeout_ms = 1000;
	c->stale_answer_timeout_ms = 200;
	c->qname_minimisation = qmin;
	c->validation = validate;
	if (validate) {
		c->anchors = dnssec_anchors_new();
		CHECK(c->anchors != NULL, "anchors");
		CHECK(dnssec_anchors_add_text(c->anchors, root_anchor, err, sizeof(err)) == 0, err);
	}
	return c;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	log_init("fuzz_resolver", verbose ? LOG_LVL_DEBUG : LOG_LVL_ERR, false);
	for (int noqmin = 0; noqmin < 2; noqmin++) {
		for (int val = 0; val < 2; val++)
			confs[noqmin][val] = conf_make(!noqmin, val);
	}
	priming_build();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t qtypes[8] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_NS,
	                                    LDNS_RR_TYPE_MX, LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_DS,
	                                    LDNS_RR_TYPE_DNSKEY, LDNS_RR_TYPE_TXT };
	uv_loop_t loop;
	struct resolver_cache *cache = NULL;
	struct resolver *r = NULL;
	struct resolver_question q;
	struct outcome o = { 0, &q };

	if (size < 1 || size > MAX_REPLY)
		return 0;
	uint8_t knob = data[0];
	struct fuzz_transport ft = {
		.t = { .ctx = &ft, .send = ft_send, .cancel = ft_cancel, .random16 = ft_random },
		.loop = &loop, .input = data + 1, .input_len = size - 1,
		.patch = knob & 1, .every = knob & 2,
	};

	memset(&q, 0, sizeof(q));
	CHECK(dname_from_str("www.example.com.", q.qname) > 0, "qname");
	q.qtype = qtypes[(knob >> 2) & 7];
	q.qclass = LDNS_RR_CLASS_IN;
	q.dnssec_ok = knob & 0x20;
	q.checking_disabled = knob & 0x40;
	CHECK(resolver_addr_parse("127.0.0.1@5000", 53, &q.client) == 0, "client");

	CHECK(uv_loop_init(&loop) == 0, "loop");
	CHECK(resolver_cache_new(1 << 18, &cache) == 0, "cache");
	CHECK(resolver_new(&loop, confs[!!(knob & 0x80)][!!(knob & 0x20)], cache, &ft.t, &r) == 0,
	      "resolver");
	CHECK(resolver_query(r, &q, on_done, &o) == 0, "query");
	CHECK(o.calls == 0, "never called before resolver_query() returns");
	/* Replies arrive on zero timers; stop early when nothing is in flight (the resolver
	 * waits on its own timer: retry or request timeout) - freeing it answers SERVFAIL. */
	for (int i = 0; i < MAX_STEPS && o.calls == 0; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		if (ft.outstanding == 0 && o.calls == 0)
			break;
	}
	resolver_free(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(o.calls == 1, "the callback is called exactly once (after free at the latest)");
	CHECK(ft.outstanding == 0, "every upstream query finished or was cancelled");
	CHECK(uv_loop_close(&loop) == 0, "every handle closed");
	resolver_cache_free(cache);
	return 0;
}
