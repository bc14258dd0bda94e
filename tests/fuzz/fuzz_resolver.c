/* fuzz_resolver.c - libFuzzer target for the resolver's handling of upstream replies
 * (resolver/iter.c: matching, referral/answer/CNAME/negative classification, glue and
 * NS fetches, TCP retry; resolver/cache.c: inserting and answering from what came back;
 * resolver/validate.c: signed replies against a root trust anchor).
 *
 * One client query per input through a fresh resolver, cache and loop, with a scripted
 * transport instead of sockets (as tests/unit/test_resolver.c): the reply to the first
 * upstream question - or to every one - is the fuzz input; the others time out at once.
 * Input: octet 0 is a knob, the rest the reply.
 *   bit 0  patch: the reply's ID and question are replaced by the query's (its own first
 *          question, if it has one that can be skipped, is dropped), so the input passes
 *          matching and reaches the parser; clear: the octets go as they are
 *   bit 1  every upstream question gets the input (else only the first)
 *   bits 2-4  the client's QTYPE (A AAAA NS MX CNAME DS DNSKEY TXT)
 *   bit 5  DO, bit 6 CD, bit 7 the QNAME (www.example.com. or example.com.)
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

/* The real root KSK-2017 DS as trust anchor, so signed replies go through validation
 * (no input can sign with it: what they reach is the bogus and insecure paths). */
static const char root_anchor[] =
	". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D";

struct fuzz_transport {
	struct resolver_transport t;
	uv_loop_t *loop;
	const uint8_t *input;
	size_t input_len;
	bool patch, every;
	unsigned sent;
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

static void *
ft_send(void *ctx, const struct resolver_upstream_query *uq, resolver_reply_fn *done, void *arg)
{
	struct fuzz_transport *ft = ctx;
	bool answer = ft->every || ft->sent == 0;
	size_t cap = answer ? ft->input_len + uq->len + 16 : 0;
	struct fq *q = calloc(1, sizeof(*q) + cap);

	CHECK(uq->wire != NULL && uq->len >= 12, "the resolver sends a message");
	if (q == NULL)
		return NULL;
	ft->sent++;
	q->ft = ft;
	q->done = done;
	q->arg = arg;
	if (answer) {
		q->len = build_reply(ft, uq, q->reply);
		q->status = 0;
	} else {
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

static struct resolver_conf *conf;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	(void)argc;
	(void)argv;
	log_init("fuzz_resolver", getenv("FUZZ_VERBOSE") ? LOG_LVL_DEBUG : LOG_LVL_ERR, false);
	CHECK(resolver_conf_new(&conf) == 0, "conf");
	conf->enable = true;
	CHECK(resolver_addr_parse("127.0.0.1", 53, &conf->hints[0]) == 0, "hint");
	CHECK(resolver_addr_parse("::1", 53, &conf->hints[1]) == 0, "hint");
	conf->nhints = 2;
	conf->query_timeout_ms = 30;
	conf->request_timeout_ms = 1000;
	conf->stale_answer_timeout_ms = 200;
	conf->anchors = dnssec_anchors_new();
	CHECK(conf->anchors != NULL, "anchors");
	CHECK(dnssec_anchors_add_text(conf->anchors, root_anchor, err, sizeof(err)) == 0, err);
	conf->validation = true;
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
	CHECK(dname_from_str(knob & 0x80 ? "example.com." : "www.example.com.", q.qname) > 0,
	      "qname");
	q.qtype = qtypes[(knob >> 2) & 7];
	q.qclass = LDNS_RR_CLASS_IN;
	q.dnssec_ok = knob & 0x20;
	q.checking_disabled = knob & 0x40;
	CHECK(resolver_addr_parse("127.0.0.1@5000", 53, &q.client) == 0, "client");

	CHECK(uv_loop_init(&loop) == 0, "loop");
	CHECK(resolver_cache_new(1 << 18, &cache) == 0, "cache");
	CHECK(resolver_new(&loop, conf, cache, &ft.t, &r) == 0, "resolver");
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
