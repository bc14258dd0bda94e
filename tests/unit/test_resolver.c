/* test_resolver.c - resolver/: iteration, cache and limits against a scripted upstream.
 * The transport maps (server, question) to canned replies built with ldns and records
 * what was asked, so each test checks both the client's answer and the questions the
 * resolver sent. Also the `resolver:` config section and the ACL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <time.h>
#include <cmocka.h>

#include <ldns/ldns.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "resolver/dnssec.h"
#include "resolver/internal.h"
#include "resolver/resolver.h"

/* ---- the scripted upstream ----------------------------------------------------------- */

enum behaviour { B_NORMAL, B_SILENT, B_TC_UDP, B_FORMERR_EDNS, B_WRONG_ID, B_WRONG_QUESTION,
                 B_DROP_EDNS, B_LOWER_CASE, B_GARBAGE };

struct entry {
	const char *server;         /* "127.0.0.3" */
	const char *qname;          /* exact name, or with suffix: this name and below */
	bool suffix;
	uint16_t qtype;             /* 0: any */
	enum behaviour b;
	uint8_t rcode;
	bool aa;
	const char *an, *ns, *ar;   /* records, one per line */
};

#define MAX_ENTRIES 64
#define MAX_ASKED 512

struct asked {
	char server[64];
	char qname[300];
	char raw[300];                  /* as sent (0x20 case) */
	uint16_t qtype;
	bool tcp, edns;
};

struct script {
	struct resolver_transport t;
	uv_loop_t *loop;
	struct entry e[MAX_ENTRIES];
	unsigned ne;
	struct asked asked[MAX_ASKED];
	unsigned nasked;
	bool all_silent;
};

struct sq {
	uv_timer_t timer;
	resolver_reply_fn *done;
	void *arg;
	uint8_t *reply;
	size_t len;
	int status;
};

static void
sq_closed(uv_handle_t *h)
{
	struct sq *q = h->data;
	free(q->reply);
	free(q);
}

static void
sq_fire(uv_timer_t *tm)
{
	struct sq *q = tm->data;
	q->done(q->arg, q->status, q->reply, q->len);
	uv_close((uv_handle_t *)&q->timer, sq_closed);
}

static void
add_rrs(ldns_pkt *p, ldns_pkt_section sec, const char *text)
{
	if (text == NULL)
		return;
	char *copy = strdup(text), *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, line, 3600, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, sec, rr);
	}
	free(copy);
}

static bool
entry_matches(const struct entry *e, const char *server, const ldns_rdf *qname, uint16_t qtype)
{
	if (strcmp(e->server, server) != 0 || (e->qtype != 0 && e->qtype != qtype))
		return false;
	ldns_rdf *en = ldns_dname_new_frm_str(e->qname);
	bool m = e->suffix ? (ldns_dname_compare(en, qname) == 0 || ldns_dname_is_subdomain(qname, en))
	                   : ldns_dname_compare(en, qname) == 0;
	ldns_rdf_deep_free(en);
	return m;
}

static void *
script_send(void *ctx, const struct resolver_upstream_query *uq, resolver_reply_fn *done, void *arg)
{
	struct script *s = ctx;
	char server[64];
	ldns_pkt *qp = NULL;

	if (uq->server->u.sa.sa_family == AF_INET6)
		inet_ntop(AF_INET6, &uq->server->u.sin6.sin6_addr, server, sizeof(server));
	else
		inet_ntop(AF_INET, &uq->server->u.sin.sin_addr, server, sizeof(server));
	assert_int_equal(ldns_wire2pkt(&qp, uq->wire, uq->len), LDNS_STATUS_OK);
	ldns_rr *question = ldns_rr_list_rr(ldns_pkt_question(qp), 0);
	ldns_rdf *qname = ldns_rr_owner(question);
	uint16_t qtype = ldns_rr_get_type(question);
	if (s->nasked < MAX_ASKED) {
		struct asked *a = &s->asked[s->nasked++];
		snprintf(a->server, sizeof(a->server), "%s", server);
		ldns_rdf *lower = ldns_rdf_clone(qname);
		ldns_dname2canonical(lower);
		char *str = ldns_rdf2str(lower);
		snprintf(a->qname, sizeof(a->qname), "%s", str);
		free(str);
		str = ldns_rdf2str(qname);
		snprintf(a->raw, sizeof(a->raw), "%s", str);
		free(str);
		ldns_rdf_deep_free(lower);
		a->qtype = qtype;
		a->tcp = uq->tcp;
		a->edns = ldns_pkt_edns(qp);
	}
	struct sq *q = calloc(1, sizeof(*q));
	q->done = done;
	q->arg = arg;
	uv_timer_init(s->loop, &q->timer);
	q->timer.data = q;

	const struct entry *e = NULL;
	for (unsigned i = 0; i < s->ne && e == NULL; i++) {
		if (entry_matches(&s->e[i], server, qname, qtype))
			e = &s->e[i];
	}
	if (s->all_silent || (e != NULL && e->b == B_SILENT) ||
	    (e != NULL && e->b == B_DROP_EDNS && ldns_pkt_edns(qp))) {
		q->status = -ETIMEDOUT;
		uv_timer_start(&q->timer, sq_fire, uq->timeout_ms, 0);
		ldns_pkt_free(qp);
		return q;
	}
	ldns_pkt *rp = ldns_pkt_new();
	ldns_pkt_set_id(rp, ldns_pkt_id(qp));
	ldns_pkt_set_qr(rp, true);
	ldns_pkt_push_rr(rp, LDNS_SECTION_QUESTION, ldns_rr_clone(question));
	if (e == NULL) {
		ldns_pkt_set_rcode(rp, LDNS_RCODE_REFUSED);
	} else if (e->b == B_TC_UDP && !uq->tcp) {
		ldns_pkt_set_tc(rp, true);
	} else if (e->b == B_FORMERR_EDNS && ldns_pkt_edns(qp)) {
		ldns_pkt_set_rcode(rp, LDNS_RCODE_FORMERR);
	} else {
		ldns_pkt_set_rcode(rp, e->rcode);
		ldns_pkt_set_aa(rp, e->aa);
		add_rrs(rp, LDNS_SECTION_ANSWER, e->an);
		add_rrs(rp, LDNS_SECTION_AUTHORITY, e->ns);
		add_rrs(rp, LDNS_SECTION_ADDITIONAL, e->ar);
		if (e->b == B_WRONG_ID)
			ldns_pkt_set_id(rp, (uint16_t)(ldns_pkt_id(qp) + 1));
		if (e->b == B_LOWER_CASE)
			ldns_dname2canonical(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(rp), 0)));
		if (e->b == B_WRONG_QUESTION) {
			ldns_rr *wq = ldns_rr_list_rr(ldns_pkt_question(rp), 0);
			ldns_rdf *evil = ldns_dname_new_frm_str("evil.example.com.");
			ldns_rdf_deep_free(ldns_rr_owner(wq));
			ldns_rr_set_owner(wq, evil);
		}
	}
	assert_int_equal(ldns_pkt2wire(&q->reply, rp, &q->len), LDNS_STATUS_OK);
	if (e != NULL && e->b == B_GARBAGE) {
		/* Right ID and question, then an answer record cut off in its RDATA. */
		q->reply[7] = 1;
		q->len -= 3;
	}
	ldns_pkt_free(rp);
	ldns_pkt_free(qp);
	uv_timer_start(&q->timer, sq_fire, 0, 0);
	return q;
}

static void
script_cancel(void *ctx, void *handle)
{
	struct sq *q = handle;
	(void)ctx;
	uv_timer_stop(&q->timer);
	uv_close((uv_handle_t *)&q->timer, sq_closed);
}

static uint16_t
script_random(void *ctx)
{
	(void)ctx;
	return 0;       /* deterministic server choice: the first of the fastest band */
}

static void
add(struct script *s, struct entry e)
{
	assert_true(s->ne < MAX_ENTRIES);
	s->e[s->ne++] = e;
}

static void
dump_asked(struct script *s)
{
	if (getenv("TEST_RESOLVER_DUMP") == NULL)
		return;
	for (unsigned i = 0; i < s->nasked; i++)
		fprintf(stderr, "  asked %s %s %u%s%s\n", s->asked[i].server, s->asked[i].qname,
		        s->asked[i].qtype, s->asked[i].tcp ? " tcp" : "", s->asked[i].edns ? " edns" : "");
}

static void
add_front(struct script *s, struct entry e)
{
	assert_true(s->ne < MAX_ENTRIES);
	memmove(&s->e[1], &s->e[0], s->ne * sizeof(s->e[0]));
	s->e[0] = e;
	s->ne++;
}

static unsigned
count_asked(struct script *s, const char *server, const char *qname)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->nasked; i++) {
		if ((server == NULL || strcmp(s->asked[i].server, server) == 0) &&
		    (qname == NULL || strcmp(s->asked[i].qname, qname) == 0))
			n++;
	}
	return n;
}

/* ---- fixture ----------------------------------------------------------------------- */

struct fixture {
	uv_loop_t loop;
	struct resolver_conf *conf;
	struct resolver_cache *cache;
	struct script s;
	struct resolver *r;
};

#define ROOT "127.0.0.1"
#define COM "127.0.0.2"
#define EXAMPLE "127.0.0.3"
#define NET "127.0.0.4"
#define ORG "127.0.0.5"

static const char example_soa[] =
	"example.com. 3600 IN SOA ns1.example.com. h.example.com. 1 3600 600 86400 60";

/* root -> com/net/org -> example.com on 127.0.0.3 with www A 192.0.2.1. */
static void
base_hierarchy(struct script *s)
{
	add(s, (struct entry){ ROOT, ".", false, LDNS_RR_TYPE_NS, .aa = true,
	                       .an = ". 518400 IN NS a.root.", .ar = "a.root. 518400 IN A 127.0.0.1" });
	add(s, (struct entry){ ROOT, "com.", true, .ns = "com. 172800 IN NS ns1.com.",
	                       .ar = "ns1.com. 172800 IN A 127.0.0.2" });
	add(s, (struct entry){ ROOT, "net.", true, .ns = "net. 172800 IN NS ns1.net.",
	                       .ar = "ns1.net. 172800 IN A 127.0.0.4" });
	add(s, (struct entry){ ROOT, "org.", true, .ns = "org. 172800 IN NS ns1.org.",
	                       .ar = "ns1.org. 172800 IN A 127.0.0.5" });
}

static void
example_delegation(struct script *s)
{
	add(s, (struct entry){ COM, "example.com.", true,
	                       .ns = "example.com. 86400 IN NS ns1.example.com.",
	                       .ar = "ns1.example.com. 86400 IN A 127.0.0.3" });
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uv_loop_init(&f->loop);
	assert_int_equal(resolver_conf_new(&f->conf), 0);
	f->conf->enable = true;
	assert_int_equal(resolver_addr_parse(ROOT, 53, &f->conf->hints[0]), 0);
	f->conf->nhints = 1;
	f->conf->serve_stale = false;
	f->conf->query_timeout_ms = 30;
	f->conf->stale_answer_timeout_ms = 200;
	assert_int_equal(resolver_cache_new(1 << 20, &f->cache), 0);
	f->s.loop = &f->loop;
	f->s.t = (struct resolver_transport){ .ctx = &f->s, .send = script_send,
	                                      .cancel = script_cancel, .random16 = script_random };
	base_hierarchy(&f->s);
	*state = f;
	return 0;
}

static void
start(struct fixture *f)
{
	assert_int_equal(resolver_new(&f->loop, f->conf, f->cache, &f->s.t, &f->r), 0);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	resolver_free(f->r);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	resolver_cache_free(f->cache);
	resolver_conf_free(f->conf);
	free(f);
	return 0;
}

struct outcome {
	bool called;
	int ede;
	bool stale, ad;
	ldns_pkt *p;
};

static void
on_done(void *arg, const struct resolver_result *res)
{
	struct outcome *o = arg;
	assert_false(o->called);
	o->called = true;
	o->ede = res->ede;
	o->stale = res->stale;
	o->ad = res->ad;
	assert_int_equal(ldns_wire2pkt(&o->p, res->wire, res->len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_ad(o->p), res->ad);
	assert_int_equal(ldns_pkt_get_rcode(o->p), res->rcode);
}

static void
question(struct resolver_question *q, const char *name, uint16_t type)
{
	memset(q, 0, sizeof(*q));
	assert_true(dname_from_str(name, q->qname) > 0);
	q->qtype = type;
	q->qclass = LDNS_RR_CLASS_IN;
	resolver_addr_parse("127.0.0.1", 5000, &q->client);
}

/* Resolves name/type and returns the response (caller frees). */
static ldns_pkt *
resolve(struct fixture *f, const char *name, uint16_t type, struct outcome *o)
{
	struct resolver_question q;
	struct outcome local = { 0 };

	if (o == NULL)
		o = &local;
	question(&q, name, type);
	assert_int_equal(resolver_query(f->r, &q, on_done, o), 0);
	assert_false(o->called);        /* never before returning */
	for (int i = 0; i < 10000 && !o->called; i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_true(o->called);
	dump_asked(&f->s);
	return o->p;
}

/* Text of the first answer record of type, or "" */
static const char *
answer_rdata(ldns_pkt *p, uint16_t type, char *buf, size_t len)
{
	buf[0] = 0;
	ldns_rr_list *an = ldns_pkt_answer(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == type) {
			char *s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
			snprintf(buf, len, "%s", s);
			free(s);
			break;
		}
	}
	return buf;
}

static uint32_t
answer_ttl(ldns_pkt *p, uint16_t type)
{
	ldns_rr_list *an = ldns_pkt_answer(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		if (ldns_rr_get_type(ldns_rr_list_rr(an, i)) == type)
			return ldns_rr_ttl(ldns_rr_list_rr(an, i));
	}
	return UINT32_MAX;
}

static void
www_answer(struct script *s, const char *server)
{
	add(s, (struct entry){ server, "www.example.com.", false, LDNS_RR_TYPE_A, .aa = true,
	                       .an = "www.example.com. 300 IN A 192.0.2.1" });
}

/* ---- tests ------------------------------------------------------------------------- */

static void
referral_chain_from_the_root_reaches_the_answer(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	example_delegation(&f->s);
	www_answer(&f->s, EXAMPLE);
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	assert_true(ldns_pkt_qr(p) && ldns_pkt_ra(p));
	assert_int_equal(count_asked(&f->s, ROOT, "com."), 1);
	assert_int_equal(count_asked(&f->s, COM, "example.com."), 1);
	assert_int_equal(count_asked(&f->s, EXAMPLE, "www.example.com."), 1);
	assert_int_equal(count_asked(&f->s, ROOT, "."), 1);    /* priming */
	ldns_pkt_free(p);
	/* A second time comes from the cache: nothing more is asked. */
	unsigned before = f->s.nasked;
	p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	assert_int_equal(f->s.nasked, before);
	ldns_pkt_free(p);
}

static void
rrsigs_are_cached_and_returned_only_with_do(void **state)
{
	struct fixture *f = *state;
	example_delegation(&f->s);
	add(&f->s, (struct entry){ EXAMPLE, "www.example.com.", false, LDNS_RR_TYPE_A, .aa = true,
	                           .an = "www.example.com. 300 IN A 192.0.2.1\n"
	                                 "www.example.com. 300 IN RRSIG A 13 3 300 20300101000000 "
	                                 "20200101000000 4711 example.com. AAAAAAAA\n"
	                                 "www.example.com. 300 IN RRSIG TXT 13 3 300 20300101000000 "
	                                 "20200101000000 4711 example.com. BBBBBBBB" });
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 1);
	ldns_pkt_free(p);
	struct resolver_question q;
	uint8_t wire[512], rcode;
	bool refresh;
	question(&q, "www.example.com.", LDNS_RR_TYPE_A);
	q.dnssec_ok = true;
	size_t n = resolver_cache_answer(f->cache, &q, wire, sizeof(wire), &rcode, &refresh);
	assert_true(n > 0);
	assert_int_equal(ldns_wire2pkt(&p, wire, n), LDNS_STATUS_OK);
	ldns_rr_list *an = ldns_pkt_answer(p);
	assert_int_equal(ldns_rr_list_rr_count(an), 2);     /* the A and its RRSIG, not TXT's */
	ldns_rr *sig = ldns_rr_list_rr(an, 1);
	assert_int_equal(ldns_rr_get_type(sig), LDNS_RR_TYPE_RRSIG);
	assert_int_equal(ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(sig)), LDNS_RR_TYPE_A);
	assert_int_equal(ldns_rr_ttl(sig), 300);
	ldns_pkt_free(p);
}

static void
qname_minimisation_asks_one_label_at_a_time(void **state)
{
	struct fixture *f = *state;
	example_delegation(&f->s);
	add(&f->s, (struct entry){ EXAMPLE, "a.b.c.example.com.", false, LDNS_RR_TYPE_AAAA,
	                           .aa = true, .an = "a.b.c.example.com. 60 IN AAAA 2001:db8::1" });
	add(&f->s, (struct entry){ EXAMPLE, "example.com.", true, .aa = true, .ns = example_soa });
	start(f);
	ldns_pkt *p = resolve(f, "A.b.c.Example.COM.", LDNS_RR_TYPE_AAAA, NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 1);
	ldns_pkt_free(p);
	/* RFC 9156: the root sees only "com.", .com only "example.com.", all with QTYPE A;
	 * the full name and type go to example.com's server only, after c. and b.c. */
	static const char *const want[][3] = {
		{ ROOT, "com.", "A" }, { COM, "example.com.", "A" },
		{ EXAMPLE, "c.example.com.", "A" }, { EXAMPLE, "b.c.example.com.", "A" },
		{ EXAMPLE, "a.b.c.example.com.", "AAAA" },
	};
	unsigned k = 0;
	for (unsigned i = 0; i < f->s.nasked && k < 5; i++) {
		struct asked *a = &f->s.asked[i];
		if (strcmp(a->qname, ".") == 0)
			continue;   /* priming */
		assert_string_equal(a->server, want[k][0]);
		assert_string_equal(a->qname, want[k][1]);
		assert_int_equal(a->qtype, strcmp(want[k][2], "A") == 0 ? LDNS_RR_TYPE_A
		                                                          : LDNS_RR_TYPE_AAAA);
		k++;
	}
	assert_int_equal(k, 5);
}

static void
out_of_bailiwick_glue_is_ignored(void **state)
{
	struct fixture *f = *state;
	/* .com refers to ns.evil.net with an address for it: .com may not vouch for .net. */
	add(&f->s, (struct entry){ COM, "example.com.", true,
	                           .ns = "example.com. 86400 IN NS ns.evil.net.",
	                           .ar = "ns.evil.net. 86400 IN A 127.0.0.66" });
	add(&f->s, (struct entry){ NET, "ns.evil.net.", false, LDNS_RR_TYPE_A, .aa = true,
	                           .an = "ns.evil.net. 3600 IN A 127.0.0.9" });
	add(&f->s, (struct entry){ NET, "evil.net.", true, .aa = true,
	                           .ns = "net. 900 IN SOA a.net. b.net. 1 2 3 4 900" });
	www_answer(&f->s, "127.0.0.9");
	start(f);
	char buf[64];
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	ldns_pkt_free(p);
	assert_int_equal(count_asked(&f->s, "127.0.0.66", NULL), 0);
	assert_int_equal(count_asked(&f->s, NET, "ns.evil.net."), 1);
	/* And the bogus address was never cached. */
	const struct cache_entry *e = cache__get(f->cache, (const uint8_t *)"\2ns\4evil\3net",
	                                         LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, RANK_GLUE, 0);
	assert_non_null(e);
	assert_int_equal(e->data[2 + 3], 9);
	cache__put(f->cache, e);
}

static void
glueless_delegation_resolves_the_ns_name(void **state)
{
	struct fixture *f = *state;
	add(&f->s, (struct entry){ COM, "example.com.", true,
	                           .ns = "example.com. 86400 IN NS ns.dns-host.org." });
	add(&f->s, (struct entry){ ORG, "ns.dns-host.org.", false, LDNS_RR_TYPE_A, .aa = true,
	                           .an = "ns.dns-host.org. 3600 IN A 127.0.0.7" });
	add(&f->s, (struct entry){ ORG, "dns-host.org.", true, .aa = true,
	                           .ns = "org. 900 IN SOA a.org. b.org. 1 2 3 4 900" });
	www_answer(&f->s, "127.0.0.7");
	start(f);
	char buf[64];
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	assert_int_equal(count_asked(&f->s, ORG, "ns.dns-host.org."), 1);
	assert_int_equal(count_asked(&f->s, "127.0.0.7", "www.example.com."), 1);
	ldns_pkt_free(p);
}

static void
cname_chain_is_followed_into_another_zone(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	example_delegation(&f->s);
	add(&f->s, (struct entry){ EXAMPLE, "www.example.com.", false, .aa = true,
	                           .an = "www.example.com. 300 IN CNAME web.example.org." });
	add(&f->s, (struct entry){ ORG, "example.org.", true,
	                           .ns = "example.org. 86400 IN NS ns1.example.org.",
	                           .ar = "ns1.example.org. 86400 IN A 127.0.0.10" });
	add(&f->s, (struct entry){ "127.0.0.10", "web.example.org.", false, LDNS_RR_TYPE_A,
	                           .aa = true, .an = "web.example.org. 60 IN A 192.0.2.80" });
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_CNAME, buf, sizeof(buf)), "web.example.org.");
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.80");
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 2);
	ldns_pkt_free(p);
}

static void
dname_is_synthesized_and_followed(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	example_delegation(&f->s);
	/* Only the DNAME comes back (no CNAME): the resolver synthesizes it (RFC 6672). */
	add(&f->s, (struct entry){ EXAMPLE, "x.example.com.", false, .aa = true,
	                           .an = "example.com. 300 IN DNAME example.net." });
	add(&f->s, (struct entry){ NET, "example.net.", true,
	                           .ns = "example.net. 86400 IN NS ns1.example.net.",
	                           .ar = "ns1.example.net. 86400 IN A 127.0.0.11" });
	add(&f->s, (struct entry){ "127.0.0.11", "x.example.net.", false, LDNS_RR_TYPE_A,
	                           .aa = true, .an = "x.example.net. 60 IN A 192.0.2.11" });
	start(f);
	ldns_pkt *p = resolve(f, "x.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_CNAME, buf, sizeof(buf)), "x.example.net.");
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.11");
	assert_int_equal(answer_ttl(p, LDNS_RR_TYPE_CNAME), 300);
	/* The DNAME itself comes first, then the CNAME, then the data (RFC 6672 3.1). */
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_DNAME, buf, sizeof(buf)), "example.net.");
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), LDNS_RR_TYPE_DNAME);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 3);
	ldns_pkt_free(p);
}

static void
truncated_udp_answer_is_asked_again_over_tcp(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	example_delegation(&f->s);
	add(&f->s, (struct entry){ EXAMPLE, "www.example.com.", false, LDNS_RR_TYPE_A, B_TC_UDP,
	                           .aa = true, .an = "www.example.com. 300 IN A 192.0.2.1" });
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	ldns_pkt_free(p);
	assert_int_equal(count_asked(&f->s, EXAMPLE, "www.example.com."), 2);
	struct asked *last = &f->s.asked[f->s.nasked - 1];
	assert_true(last->tcp);
	assert_false(f->s.asked[f->s.nasked - 2].tcp);
}

static void
formerr_to_edns_is_asked_again_without_edns(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	example_delegation(&f->s);
	add(&f->s, (struct entry){ EXAMPLE, "www.example.com.", false, LDNS_RR_TYPE_A,
	                           B_FORMERR_EDNS, .aa = true,
	                           .an = "www.example.com. 300 IN A 192.0.2.1" });
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	ldns_pkt_free(p);
	assert_int_equal(count_asked(&f->s, EXAMPLE, "www.example.com."), 2);
	assert_true(f->s.asked[f->s.nasked - 2].edns);
	assert_false(f->s.asked[f->s.nasked - 1].edns);
}

static void
server_dropping_edns_queries_is_asked_without_edns(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	example_delegation(&f->s);
	add(&f->s, (struct entry){ EXAMPLE, "example.com.", true, LDNS_RR_TYPE_A, B_DROP_EDNS,
	                           .aa = true, .an = "www.example.com. 300 IN A 192.0.2.1" });
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	ldns_pkt_free(p);
	assert_int_equal(count_asked(&f->s, EXAMPLE, NULL), 2);
	assert_true(f->s.asked[f->s.nasked - 2].edns);
	assert_false(f->s.asked[f->s.nasked - 1].edns);
	struct resolver_stats st;
	resolver_get_stats(f->r, &st);
	assert_int_equal(st.edns_fallbacks, 1);
}

static void
stale_answer_is_sent_after_the_timeout_while_resolution_goes_on(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	f->conf->serve_stale = true;
	f->conf->stale_answer_timeout_ms = 100;
	example_delegation(&f->s);
	www_answer(&f->s, EXAMPLE);
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	ldns_pkt_free(p);
	cache__advance(f->cache, 400 * 1000);
	f->conf->query_timeout_ms = 5000;
	f->s.all_silent = true;
	struct outcome o = { 0 };
	uv_update_time(&f->loop);
	uint64_t t0 = uv_now(&f->loop);
	p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, &o);
	uint64_t took = uv_now(&f->loop) - t0;
	/* RFC 8767 5: answered from stale data after stale-answer-timeout, not after the
	 * upstream timeout. */
	assert_true(took >= 100 && took < 1000);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	assert_int_equal(o.ede, RESOLVER_EDE_STALE_ANSWER);
	ldns_pkt_free(p);
}

static void
popular_names_are_prefetched_near_expiry(void **state)
{
	struct fixture *f = *state;
	f->conf->prefetch = true;
	example_delegation(&f->s);
	www_answer(&f->s, EXAMPLE);
	start(f);
	for (int i = 0; i < 5; i++)
		ldns_pkt_free(resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL));
	assert_int_equal(count_asked(&f->s, EXAMPLE, "www.example.com."), 1);
	cache__advance(f->cache, 200 * 1000);       /* 100 of 300 s left: not yet */
	ldns_pkt_free(resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL));
	for (int i = 0; i < 100; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(count_asked(&f->s, EXAMPLE, "www.example.com."), 1);
	cache__advance(f->cache, 80 * 1000);        /* 20 s left: the last tenth */
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(answer_ttl(p, LDNS_RR_TYPE_A), 20);
	ldns_pkt_free(p);
	for (int i = 0; i < 1000 && count_asked(&f->s, EXAMPLE, "www.example.com.") < 2; i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(count_asked(&f->s, EXAMPLE, "www.example.com."), 2);
	for (int i = 0; i < 100; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	/* The refreshed copy has its full TTL again. */
	p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(answer_ttl(p, LDNS_RR_TYPE_A), 300);
	ldns_pkt_free(p);
}

/* example.com served by a bad first server (listed first, picked first) and a good one. */
static void
two_servers(struct script *s, enum behaviour bad, const char *bad_an)
{
	add(s, (struct entry){ COM, "example.com.", true,
	                       .ns = "example.com. 86400 IN NS ns1.example.com.\n"
	                             "example.com. 86400 IN NS ns2.example.com.",
	                       .ar = "ns1.example.com. 86400 IN A 127.0.0.3\n"
	                             "ns2.example.com. 86400 IN A 127.0.0.8" });
	if (bad_an != NULL || bad != B_NORMAL)
		add(s, (struct entry){ EXAMPLE, "example.com.", true, 0, bad, .aa = true, .an = bad_an });
	add(s, (struct entry){ "127.0.0.8", "www.example.com.", false, LDNS_RR_TYPE_A, .aa = true,
	                       .an = "www.example.com. 300 IN A 192.0.2.1" });
	add(s, (struct entry){ "127.0.0.8", "mail.example.com.", false, LDNS_RR_TYPE_A, .aa = true,
	                       .an = "mail.example.com. 300 IN A 192.0.2.25" });
}

static void
timeout_moves_on_to_another_server(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	two_servers(&f->s, B_SILENT, NULL);
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	ldns_pkt_free(p);
	assert_int_equal(count_asked(&f->s, EXAMPLE, "www.example.com."), 1);
	assert_int_equal(count_asked(&f->s, "127.0.0.8", "www.example.com."), 1);
	struct resolver_stats st;
	resolver_get_stats(f->r, &st);
	assert_int_equal(st.upstream_timeouts, 1);
	/* Its timeout backed off (RFC 6298 5.5): the next query waits twice as long on it. */
	p = resolve(f, "mail.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.25");
	ldns_pkt_free(p);
	resolver_get_stats(f->r, &st);
	assert_true(st.upstream_timeouts <= 2);
}

static void
lame_server_is_skipped(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	/* ns1 answers without AA and without a referral: lame for example.com. */
	add(&f->s, (struct entry){ EXAMPLE, "example.com.", true, .aa = false,
	                           .ns = ". 518400 IN NS a.root." });
	two_servers(&f->s, B_NORMAL, NULL);
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	ldns_pkt_free(p);
	assert_int_equal(count_asked(&f->s, EXAMPLE, NULL), 1);
	p = resolve(f, "mail.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.25");
	ldns_pkt_free(p);
	assert_int_equal(count_asked(&f->s, EXAMPLE, NULL), 1);     /* not asked again */
}

static uint16_t
alternating_random(void *ctx)
{
	(void)ctx;
	return 0x5554;          /* even: the first server; mixed bits: mixed case */
}

static void
use_0x20_mixes_case_and_rejects_replies_that_do_not_echo_it(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	f->conf->use_0x20 = true;
	f->s.t.random16 = alternating_random;
	two_servers(&f->s, B_LOWER_CASE, "www.example.com. 86400 IN A 6.6.6.6");
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	ldns_pkt_free(p);
	struct asked *last = &f->s.asked[f->s.nasked - 1];
	assert_string_equal(last->qname, "www.example.com.");
	assert_string_not_equal(last->raw, "www.example.com.");     /* mixed case on the wire */
	struct resolver_stats st;
	resolver_get_stats(f->r, &st);
	assert_int_equal(st.rejected_replies, 1);    /* ns1 answered in lower case */
}

static void
ipv6_only_glueless_name_server_is_found_by_aaaa(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	add(&f->s, (struct entry){ COM, "example.com.", true,
	                           .ns = "example.com. 86400 IN NS ns.v6host.org." });
	add(&f->s, (struct entry){ ORG, "ns.v6host.org.", false, LDNS_RR_TYPE_AAAA, .aa = true,
	                           .an = "ns.v6host.org. 3600 IN AAAA ::ffff:127.0.0.13" });
	add(&f->s, (struct entry){ ORG, "v6host.org.", true, .aa = true,
	                           .ns = "org. 900 IN SOA a.org. b.org. 1 2 3 4 900" });
	www_answer(&f->s, "::ffff:127.0.0.13");
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	ldns_pkt_free(p);
	/* The A lookup found nothing, so the AAAA was asked and the v6 address used. */
	unsigned aaaa = 0;
	for (unsigned i = 0; i < f->s.nasked; i++)
		aaaa += strcmp(f->s.asked[i].qname, "ns.v6host.org.") == 0 &&
		        f->s.asked[i].qtype == LDNS_RR_TYPE_AAAA;
	assert_int_equal(aaaa, 1);
	assert_int_equal(count_asked(&f->s, "::ffff:127.0.0.13", "www.example.com."), 1);
}

static void
submit_from_another_thread_answers_on_the_loop(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	example_delegation(&f->s);
	www_answer(&f->s, EXAMPLE);
	start(f);
	struct resolver_question q;
	struct outcome o = { 0 };
	question(&q, "www.example.com.", LDNS_RR_TYPE_A);
	assert_int_equal(resolver_submit(f->r, &q, on_done, &o), 0);
	for (int i = 0; i < 1000 && !o.called; i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_true(o.called);
	assert_string_equal(answer_rdata(o.p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	ldns_pkt_free(o.p);
}

static void
assert_not_poisoned(struct fixture *f)
{
	char buf[64];
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 1);
	ldns_pkt_free(p);
	struct resolver_stats st;
	resolver_get_stats(f->r, &st);
	assert_int_equal(st.rejected_replies, 1);
}

static void
reply_with_wrong_id_is_not_believed(void **state)
{
	struct fixture *f = *state;
	two_servers(&f->s, B_WRONG_ID, "www.example.com. 86400 IN A 6.6.6.6");
	start(f);
	assert_not_poisoned(f);
}

static void
malformed_reply_is_not_believed(void **state)
{
	struct fixture *f = *state;
	two_servers(&f->s, B_GARBAGE, "www.example.com. 86400 IN A 6.6.6.6");
	start(f);
	assert_not_poisoned(f);
}

static void
reply_with_wrong_question_is_not_believed(void **state)
{
	struct fixture *f = *state;
	two_servers(&f->s, B_WRONG_QUESTION, "www.example.com. 86400 IN A 6.6.6.6");
	start(f);
	assert_not_poisoned(f);
}

static void
unsolicited_records_are_not_cached(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	example_delegation(&f->s);
	add(&f->s, (struct entry){ EXAMPLE, "www.example.com.", false, LDNS_RR_TYPE_A, .aa = true,
	                           .an = "www.example.com. 300 IN A 192.0.2.1\n"
	                                 "www.bank.com. 86400 IN A 6.6.6.6",
	                           .ns = "bank.com. 86400 IN NS ns.evil.example.com.",
	                           .ar = "ns.bank.com. 86400 IN A 6.6.6.6\n"
	                                 "mail.example.com. 86400 IN A 6.6.6.6" });
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 1);
	ldns_pkt_free(p);
	static const char *const names[] = { "www.bank.com.", "ns.bank.com.", "mail.example.com." };
	for (int i = 0; i < 3; i++) {
		struct resolver_question q;
		uint8_t wire[512], rcode;
		bool refresh;
		question(&q, names[i], LDNS_RR_TYPE_A);
		assert_int_equal(resolver_cache_answer(f->cache, &q, wire, sizeof(wire), &rcode,
		                                       &refresh), 0);
		const struct cache_entry *e = cache__get(f->cache, q.qname, LDNS_RR_TYPE_A,
		                                         LDNS_RR_CLASS_IN, RANK_GLUE, 0);
		assert_null(e);
	}
	const struct cache_entry *e = cache__get(f->cache, (const uint8_t *)"\4bank\3com",
	                                         LDNS_RR_TYPE_NS, LDNS_RR_CLASS_IN, RANK_GLUE, 0);
	assert_null(e);
}

static void
nxns_delegation_is_capped(void **state)
{
	struct fixture *f = *state;
	char ns[100 * 64], *w = ns;
	for (int i = 0; i < 100; i++)
		w += sprintf(w, "example.com. 86400 IN NS ns%d.nonexistent.net.\n", i);
	add(&f->s, (struct entry){ COM, "example.com.", true, .ns = ns });
	add(&f->s, (struct entry){ NET, "net.", true, .rcode = LDNS_RCODE_NXDOMAIN, .aa = true,
	                           .ns = "net. 900 IN SOA a.net. b.net. 1 2 3 4 900" });
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	/* priming, root, .com, then at most max_ns_fetch (4) names, two questions each. */
	unsigned net = count_asked(&f->s, NET, NULL);
	assert_true(net >= 1);
	assert_true(net <= 2 * f->conf->limits.max_ns_fetch);
	assert_true(f->s.nasked <= 3 + 1 + 2 * f->conf->limits.max_ns_fetch);
}

static void
upstream_query_cap_stops_a_resolution(void **state)
{
	struct fixture *f = *state;
	f->conf->limits.max_upstream_queries = 2;
	example_delegation(&f->s);
	www_answer(&f->s, EXAMPLE);
	start(f);
	struct outcome o = { 0 };
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, &o);
	/* Priming is its own request; the client request needs 3: root, com, example. */
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
	assert_int_equal(count_asked(&f->s, EXAMPLE, NULL), 0);
}

static void
nxdomain_is_cached_for_the_soa_minimum(void **state)
{
	struct fixture *f = *state;
	example_delegation(&f->s);
	add(&f->s, (struct entry){ EXAMPLE, "example.com.", true, .rcode = LDNS_RCODE_NXDOMAIN,
	                           .aa = true, .ns = example_soa });
	start(f);
	ldns_pkt *p = resolve(f, "nx.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ldns_rr_list *auth = ldns_pkt_authority(p);
	assert_int_equal(ldns_rr_list_rr_count(auth), 1);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(auth, 0)), LDNS_RR_TYPE_SOA);
	/* RFC 2308 5: min(SOA TTL 3600, MINIMUM 60). */
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(auth, 0)), 60);
	ldns_pkt_free(p);
	unsigned before = f->s.nasked;
	cache__advance(f->cache, 30 * 1000);
	p = resolve(f, "nx.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_authority(p), 0)), 30);
	ldns_pkt_free(p);
	assert_int_equal(f->s.nasked, before);
	cache__advance(f->cache, 31 * 1000);
	p = resolve(f, "nx.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(p);
	assert_int_equal(f->s.nasked, before + 1);
}

static void
nodata_is_cached_per_type(void **state)
{
	struct fixture *f = *state;
	example_delegation(&f->s);
	www_answer(&f->s, EXAMPLE);
	add(&f->s, (struct entry){ EXAMPLE, "www.example.com.", false, LDNS_RR_TYPE_MX,
	                           .aa = true, .ns = example_soa });
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_MX, NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 0);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_authority(p)), 1);
	ldns_pkt_free(p);
	char buf[64];
	p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	ldns_pkt_free(p);
}

static void
ttls_count_down_in_cached_answers(void **state)
{
	struct fixture *f = *state;
	example_delegation(&f->s);
	www_answer(&f->s, EXAMPLE);
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(answer_ttl(p, LDNS_RR_TYPE_A), 300);
	ldns_pkt_free(p);
	cache__advance(f->cache, 100 * 1000);
	struct resolver_question q;
	uint8_t wire[512], rcode;
	bool refresh;
	question(&q, "WWW.example.com.", LDNS_RR_TYPE_A);
	size_t n = resolver_cache_answer(f->cache, &q, wire, sizeof(wire), &rcode, &refresh);
	assert_true(n > 0);
	assert_int_equal(ldns_wire2pkt(&p, wire, n), LDNS_STATUS_OK);
	assert_int_equal(answer_ttl(p, LDNS_RR_TYPE_A), 200);
	/* The question is echoed in the client's case (RFC 1035 7.2... 4.1.2). */
	char *qs = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0)));
	assert_string_equal(qs, "WWW.example.com.");
	free(qs);
	ldns_pkt_free(p);
}

static void
ttl_max_clamps_cached_ttls(void **state)
{
	struct fixture *f = *state;
	f->conf->ttl_max = 100;
	example_delegation(&f->s);
	www_answer(&f->s, EXAMPLE);
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(answer_ttl(p, LDNS_RR_TYPE_A), 100);
	ldns_pkt_free(p);
}

static void
stale_data_answers_when_the_authority_goes_silent(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	f->conf->serve_stale = true;
	example_delegation(&f->s);
	www_answer(&f->s, EXAMPLE);
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	ldns_pkt_free(p);
	cache__advance(f->cache, 400 * 1000);
	f->s.all_silent = true;
	struct outcome o = { 0 };
	p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	assert_int_equal(answer_ttl(p, LDNS_RR_TYPE_A), 30);   /* RFC 8767 4 */
	assert_int_equal(o.ede, RESOLVER_EDE_STALE_ANSWER);
	assert_true(o.stale);
	ldns_pkt_free(p);
	/* Older than stale-max-age: SERVFAIL. */
	cache__advance(f->cache, 86400 * 1000LL);
	p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);
}

static void
without_serve_stale_a_silent_authority_gives_servfail(void **state)
{
	struct fixture *f = *state;
	example_delegation(&f->s);
	www_answer(&f->s, EXAMPLE);
	start(f);
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL);
	ldns_pkt_free(p);
	cache__advance(f->cache, 400 * 1000);
	f->s.all_silent = true;
	struct outcome o = { 0 };
	p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	assert_int_equal(o.ede, RESOLVER_EDE_NO_REACHABLE_AUTHORITY);
	ldns_pkt_free(p);
}

static void
identical_questions_share_one_resolution(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	example_delegation(&f->s);
	www_answer(&f->s, EXAMPLE);
	start(f);
	struct resolver_question q;
	struct outcome o[3] = { 0 };
	question(&q, "www.example.com.", LDNS_RR_TYPE_A);
	for (int i = 0; i < 3; i++)
		assert_int_equal(resolver_query(f->r, &q, on_done, &o[i]), 0);
	for (int i = 0; i < 1000 && !(o[0].called && o[1].called && o[2].called); i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	for (int i = 0; i < 3; i++) {
		assert_true(o[i].called);
		assert_string_equal(answer_rdata(o[i].p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
		ldns_pkt_free(o[i].p);
	}
	assert_int_equal(count_asked(&f->s, EXAMPLE, "www.example.com."), 1);
	struct resolver_stats st;
	resolver_get_stats(f->r, &st);
	assert_int_equal(st.joined, 2);
}

static void
per_client_limit_refuses_more_work(void **state)
{
	struct fixture *f = *state;
	f->conf->limits.max_per_client = 2;
	example_delegation(&f->s);
	start(f);
	struct resolver_question q;
	struct outcome o[3] = { 0 };
	static const char *const names[] = { "a.example.com.", "b.example.com.", "c.example.com." };
	for (int i = 0; i < 3; i++) {
		question(&q, names[i], LDNS_RR_TYPE_A);
		assert_int_equal(resolver_query(f->r, &q, on_done, &o[i]), i < 2 ? 0 : -EBUSY);
	}
	for (int i = 0; i < 1000 && !(o[0].called && o[1].called); i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	for (int i = 0; i < 2; i++)
		ldns_pkt_free(o[i].p);
	assert_false(o[2].called);
}

static void
cache_stays_within_its_size_with_eviction(void **state)
{
	(void)state;
	struct resolver_cache *c;
	assert_int_equal(resolver_cache_new(256 * 1024, &c), 0);
	uint8_t rdata[2 + 4] = { 0, 4, 192, 0, 2, 1 };
	for (int i = 0; i < 20000; i++) {
		char name[64];
		uint8_t wire[DNAME_MAXLEN];
		snprintf(name, sizeof(name), "host%d.example.com.", i);
		assert_true(dname_from_str(name, wire) > 0);
		assert_int_equal(cache__put_rrset(c, wire, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 3600,
		                                  RANK_ANSWER_AA, rdata, sizeof(rdata), 1), 0);
	}
	struct resolver_cache_stats st;
	resolver_cache_stats(c, &st);
	assert_true(st.bytes <= 256 * 1024);
	assert_true(st.evictions > 0);
	assert_int_equal(st.entries + st.evictions, 20000);
	/* The most recent is there, the oldest was evicted first (LRU). */
	const struct cache_entry *e = cache__get(c, (const uint8_t *)"\11host19999\7example\3com",
	                                         1, 1, 1, 0);
	assert_non_null(e);
	cache__put(c, e);
	assert_null(cache__get(c, (const uint8_t *)"\5host0\7example\3com", 1, 1, 1, 0));
	resolver_cache_free(c);
}

static void
better_ranked_data_is_not_replaced_by_glue(void **state)
{
	(void)state;
	struct resolver_cache *c;
	assert_int_equal(resolver_cache_new(1 << 20, &c), 0);
	const uint8_t *name = (const uint8_t *)"\3ns1\7example\3com";
	uint8_t good[] = { 0, 4, 192, 0, 2, 1 }, bad[] = { 0, 4, 6, 6, 6, 6 };
	assert_int_equal(cache__put_rrset(c, name, 1, 1, 3600, RANK_ANSWER_AA, good, 6, 1), 0);
	assert_int_equal(cache__put_rrset(c, name, 1, 1, 3600, RANK_GLUE, bad, 6, 1), 1);
	const struct cache_entry *e = cache__get(c, name, 1, 1, RANK_GLUE, 0);
	assert_int_equal(e->data[2], 192);
	cache__put(c, e);
	resolver_cache_free(c);
}

static void
reply_finish_sets_id_flags_opt_ede_and_truncates(void **state)
{
	struct fixture *f = *state;
	example_delegation(&f->s);
	www_answer(&f->s, EXAMPLE);
	start(f);
	ldns_pkt_free(resolve(f, "www.example.com.", LDNS_RR_TYPE_A, NULL));
	struct resolver_question q;
	uint8_t wire[1024], rcode;
	bool refresh;
	question(&q, "www.example.com.", LDNS_RR_TYPE_A);
	size_t n = resolver_cache_answer(f->cache, &q, wire, sizeof(wire), &rcode, &refresh);
	assert_true(n > 0);
	struct resolver_reply_params rp = { .id = 0xbeef, .rd = true, .edns = true,
	                                    .dnssec_ok = true, .max_size = 1232,
	                                    .our_edns_size = 1232 };
	size_t m = resolver_reply_finish(wire, n, sizeof(wire), &rp, RESOLVER_EDE_STALE_ANSWER);
	assert_true(m > n);
	ldns_pkt *p = NULL;
	assert_int_equal(ldns_wire2pkt(&p, wire, m), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(p), 0xbeef);
	assert_true(ldns_pkt_rd(p) && ldns_pkt_ra(p) && ldns_pkt_qr(p));
	assert_false(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_int_equal(ldns_pkt_edns_udp_size(p), 1232);
	assert_true(ldns_pkt_edns_do(p));
	ldns_rdf *opt = ldns_pkt_edns_data(p);
	assert_non_null(opt);
	static const uint8_t ede3[] = { 0, 15, 0, 2, 0, 3 };
	assert_int_equal(ldns_rdf_size(opt), 6);
	assert_memory_equal(ldns_rdf_data(opt), ede3, 6);
	ldns_pkt_free(p);
	/* The server's own options (NSID, COOKIE) go before the EDE. */
	n = resolver_cache_answer(f->cache, &q, wire, sizeof(wire), &rcode, &refresh);
	static const uint8_t nsid[] = { 0, 3, 0, 2, 'a', 'b' };
	rp.opts_len = sizeof(nsid);
	memcpy(rp.opts, nsid, sizeof(nsid));
	m = resolver_reply_finish(wire, n, sizeof(wire), &rp, RESOLVER_EDE_STALE_ANSWER);
	assert_int_equal(ldns_wire2pkt(&p, wire, m), LDNS_STATUS_OK);
	opt = ldns_pkt_edns_data(p);
	assert_non_null(opt);
	static const uint8_t both[] = { 0, 3, 0, 2, 'a', 'b', 0, 15, 0, 2, 0, 3 };
	assert_int_equal(ldns_rdf_size(opt), sizeof(both));
	assert_memory_equal(ldns_rdf_data(opt), both, sizeof(both));
	ldns_pkt_free(p);
	/* Too big for the client's size: header and question with TC. */
	n = resolver_cache_answer(f->cache, &q, wire, sizeof(wire), &rcode, &refresh);
	rp = (struct resolver_reply_params){ .id = 1, .max_size = 40 };
	m = resolver_reply_finish(wire, n, sizeof(wire), &rp, -1);
	assert_int_equal(m, 12 + 17 + 4);
	assert_int_equal(ldns_wire2pkt(&p, wire, m), LDNS_STATUS_OK);
	assert_true(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 0);
	ldns_pkt_free(p);
}

/* ---- configuration and ACL ------------------------------------------------------------ */

/* ---- DNSSEC: a signed hierarchy built in the test ----------------------------------- */

struct zkey {
	ldns_key_list *kl;
	ldns_rr *dnskey, *ds;
};

#define MAX_TEXTS 32
static char *texts[MAX_TEXTS];
static unsigned ntexts;

static const char *
keep(char *t)
{
	assert_true(ntexts < MAX_TEXTS);
	texts[ntexts++] = t;
	return t;
}

static void
zkey_new(struct zkey *z, const char *zone)
{
	ldns_key *k = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);
	assert_non_null(k);
	ldns_key_set_pubkey_owner(k, ldns_dname_new_frm_str(zone));
	ldns_key_set_flags(k, 257);
	ldns_key_set_inception(k, (uint32_t)time(NULL) - 3600);
	ldns_key_set_expiration(k, (uint32_t)time(NULL) + 30 * 86400);
	z->dnskey = ldns_key2rr(k);
	ldns_rr_set_ttl(z->dnskey, 3600);
	ldns_key_set_keytag(k, ldns_calc_keytag(z->dnskey));
	z->kl = ldns_key_list_new();
	ldns_key_list_push_key(z->kl, k);
	z->ds = ldns_key_rr2ds(z->dnskey, LDNS_SHA256);
	ldns_rr_set_ttl(z->ds, 3600);
}

static void
zkey_free(struct zkey *z)
{
	ldns_key_list_free(z->kl);
	ldns_rr_free(z->dnskey);
	ldns_rr_free(z->ds);
}

static char *
rr_text(const ldns_rr *rr)
{
	char *t = ldns_rr2str(rr);
	size_t n = strlen(t);
	if (n > 0 && t[n - 1] == '\n')
		t[n - 1] = 0;
	return t;
}

/* The records of text (one RRset) and their RRSIG by z, one per line; sigs_only leaves
 * the records out (to pair a signature with other data). */
static const char *
signed_text(struct zkey *z, const char *text, bool sigs_only)
{
	ldns_rr_list *set = ldns_rr_list_new();
	char *copy = strdup(text), *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, l, 3600, NULL, NULL), LDNS_STATUS_OK);
		ldns_rr_list_push_rr(set, rr);
	}
	free(copy);
	ldns_rr_list *sigs = ldns_sign_public(set, z->kl);
	assert_non_null(sigs);
	char *out = calloc(1, 16384);
	for (size_t i = 0; !sigs_only && i < ldns_rr_list_rr_count(set); i++) {
		char *t = rr_text(ldns_rr_list_rr(set, i));
		strcat(strcat(out, t), "\n");
		free(t);
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(sigs); i++) {
		char *t = rr_text(ldns_rr_list_rr(sigs, i));
		strcat(strcat(out, t), "\n");
		free(t);
	}
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_deep_free(set);
	return keep(out);
}

static const char *
signed_rr(struct zkey *z, const ldns_rr *rr)
{
	char *t = rr_text(rr);
	const char *s = signed_text(z, t, false);
	free(t);
	return s;
}

static const char *
cat(const char *a, const char *b)
{
	char *out = malloc(strlen(a) + strlen(b) + 2);
	sprintf(out, "%s\n%s", a, b);
	return keep(out);
}

struct signed_fixture {
	struct zkey root, com, example;
};

/* root, com and example.com signed (anchor: the root's DS); plain.com delegated without
 * DS (an NSEC from .com proves it); bad.example.com carries a signature over other data. */
static void
signed_hierarchy(struct fixture *f, struct signed_fixture *z)
{
	zkey_new(&z->root, ".");
	zkey_new(&z->com, "com.");
	zkey_new(&z->example, "example.com.");
	char *anchor = rr_text(z->root.ds);
	f->conf->anchors = dnssec_anchors_new();
	char err[256];
	assert_int_equal(dnssec_anchors_add_text(f->conf->anchors, anchor, err, sizeof(err)), 0);
	free(anchor);

	struct script *s = &f->s;
	add_front(s, (struct entry){ ROOT, ".", false, LDNS_RR_TYPE_DNSKEY, .aa = true,
	                             .an = signed_rr(&z->root, z->root.dnskey) });
	add_front(s, (struct entry){ ROOT, "com.", false, LDNS_RR_TYPE_DS, .aa = true,
	                             .an = signed_rr(&z->root, z->com.ds) });
	add(s, (struct entry){ COM, "com.", false, LDNS_RR_TYPE_DNSKEY, .aa = true,
	                       .an = signed_rr(&z->com, z->com.dnskey) });
	add(s, (struct entry){ COM, "example.com.", false, LDNS_RR_TYPE_DS, .aa = true,
	                       .an = signed_rr(&z->com, z->example.ds) });
	add(s, (struct entry){ COM, "plain.com.", false, LDNS_RR_TYPE_DS, .aa = true,
	                       .ns = cat(signed_text(&z->com, "com. 900 IN SOA a.com. b.com. 1 2 3 4 900",
	                                             false),
	                                 signed_text(&z->com, "plain.com. 900 IN NSEC zzz.com. NS RRSIG NSEC",
	                                             false)) });
	example_delegation(s);
	add(s, (struct entry){ COM, "plain.com.", true, .ns = "plain.com. 86400 IN NS ns1.plain.com.",
	                       .ar = "ns1.plain.com. 86400 IN A 127.0.0.12" });
	add(s, (struct entry){ EXAMPLE, "example.com.", false, LDNS_RR_TYPE_DNSKEY, .aa = true,
	                       .an = signed_rr(&z->example, z->example.dnskey) });
	add(s, (struct entry){ EXAMPLE, "www.example.com.", false, LDNS_RR_TYPE_A, .aa = true,
	                       .an = signed_text(&z->example, "www.example.com. 300 IN A 192.0.2.1",
	                                         false) });
	add(s, (struct entry){ EXAMPLE, "bad.example.com.", false, LDNS_RR_TYPE_A, .aa = true,
	                       .an = cat("bad.example.com. 300 IN A 6.6.6.6",
	                                 signed_text(&z->example, "bad.example.com. 300 IN A 192.0.2.9",
	                                             true)) });
	add(s, (struct entry){ "127.0.0.12", "www.plain.com.", false, LDNS_RR_TYPE_A, .aa = true,
	                       .an = "www.plain.com. 300 IN A 192.0.2.12" });
}

static void
signed_teardown(struct signed_fixture *z)
{
	zkey_free(&z->root);
	zkey_free(&z->com);
	zkey_free(&z->example);
	for (unsigned i = 0; i < ntexts; i++)
		free(texts[i]);
	ntexts = 0;
}

static void
secure_answer_gets_ad_and_is_served_with_ad_from_the_cache(void **state)
{
	struct fixture *f = *state;
	struct signed_fixture z;
	char buf[64];
	signed_hierarchy(f, &z);
	start(f);
	struct outcome o = { 0 };
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.1");
	assert_true(o.ad);
	ldns_pkt_free(p);
	/* The chain of trust was fetched: DNSKEY of each zone, DS from each parent. */
	assert_int_equal(count_asked(&f->s, ROOT, "com.") >= 2, 1);
	struct resolver_question q;
	uint8_t wire[1024], rcode;
	bool refresh;
	question(&q, "www.example.com.", LDNS_RR_TYPE_A);
	size_t n = resolver_cache_answer(f->cache, &q, wire, sizeof(wire), &rcode, &refresh);
	assert_true(n > 0);
	assert_int_equal(ldns_wire2pkt(&p, wire, n), LDNS_STATUS_OK);
	assert_true(ldns_pkt_ad(p));
	ldns_pkt_free(p);
	signed_teardown(&z);
}

static void
bogus_answer_is_servfail_with_ede_and_cd_gets_the_data(void **state)
{
	struct fixture *f = *state;
	struct signed_fixture z;
	char buf[64];
	signed_hierarchy(f, &z);
	start(f);
	struct outcome o = { 0 };
	ldns_pkt *p = resolve(f, "bad.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	assert_int_equal(o.ede, RESOLVER_EDE_DNSSEC_BOGUS);
	assert_false(o.ad);
	ldns_pkt_free(p);
	/* Not served from the cache by the answer path either... */
	struct resolver_question q;
	uint8_t wire[1024], rcode;
	bool refresh;
	question(&q, "bad.example.com.", LDNS_RR_TYPE_A);
	assert_int_equal(resolver_cache_answer(f->cache, &q, wire, sizeof(wire), &rcode, &refresh), 0);
	/* ...but CD=1 gets the data, unvalidated (RFC 4035 3.2.2). */
	q.checking_disabled = true;
	struct outcome o2 = { 0 };
	assert_int_equal(resolver_query(f->r, &q, on_done, &o2), 0);
	for (int i = 0; i < 1000 && !o2.called; i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_true(o2.called);
	assert_int_equal(ldns_pkt_get_rcode(o2.p), LDNS_RCODE_NOERROR);
	assert_string_equal(answer_rdata(o2.p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "6.6.6.6");
	assert_false(o2.ad);
	ldns_pkt_free(o2.p);
	/* Expired bogus data is never served stale (RFC 8767 with validation). */
	f->conf->serve_stale = true;
	cache__advance(f->cache, 400 * 1000);
	f->s.all_silent = true;
	struct outcome o3 = { 0 };
	p = resolve(f, "bad.example.com.", LDNS_RR_TYPE_A, &o3);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	assert_false(o3.stale);
	ldns_pkt_free(p);
	signed_teardown(&z);
}

static void
key_not_matching_the_parent_ds_makes_the_zone_bogus(void **state)
{
	struct fixture *f = *state;
	struct signed_fixture z;
	struct zkey other;
	signed_hierarchy(f, &z);
	zkey_new(&other, "example.com.");
	/* .com vouches (correctly signed) for a key example.com does not use. */
	for (unsigned i = 0; i < f->s.ne; i++) {
		struct entry *e = &f->s.e[i];
		if (strcmp(e->server, COM) == 0 && strcmp(e->qname, "example.com.") == 0 &&
		    e->qtype == LDNS_RR_TYPE_DS)
			e->an = signed_rr(&z.com, other.ds);
	}
	start(f);
	struct outcome o = { 0 };
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	assert_true(o.ede >= 0);
	ldns_pkt_free(p);
	zkey_free(&other);
	signed_teardown(&z);
}

static void
missing_ds_without_proof_is_bogus_not_insecure(void **state)
{
	struct fixture *f = *state;
	struct signed_fixture z;
	signed_hierarchy(f, &z);
	/* The NSEC is stripped: "no DS" is only claimed, so this is no insecure delegation
	 * (a downgrade attempt, RFC 4035 5.2). */
	for (unsigned i = 0; i < f->s.ne; i++) {
		struct entry *e = &f->s.e[i];
		if (strcmp(e->server, COM) == 0 && strcmp(e->qname, "plain.com.") == 0 &&
		    e->qtype == LDNS_RR_TYPE_DS)
			e->ns = signed_text(&z.com, "com. 900 IN SOA a.com. b.com. 1 2 3 4 900", false);
	}
	start(f);
	struct outcome o = { 0 };
	ldns_pkt *p = resolve(f, "www.plain.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	assert_false(o.ad);
	ldns_pkt_free(p);
	signed_teardown(&z);
}

static void
secure_denials_get_ad(void **state)
{
	struct fixture *f = *state;
	struct signed_fixture z;
	signed_hierarchy(f, &z);
	/* example.com's NSEC chain: example.com -> bad -> www -> example.com. */
	const char *soa = signed_text(&z.example, "example.com. 300 IN SOA ns1.example.com. "
	                                          "h.example.com. 1 3600 600 86400 60", false);
	const char *apex = signed_text(&z.example, "example.com. 300 IN NSEC bad.example.com. "
	                                           "NS SOA RRSIG NSEC DNSKEY", false);
	const char *bad = signed_text(&z.example, "bad.example.com. 300 IN NSEC www.example.com. "
	                                          "A RRSIG NSEC", false);
	const char *www = signed_text(&z.example, "www.example.com. 300 IN NSEC example.com. "
	                                          "A RRSIG NSEC", false);
	add_front(&f->s, (struct entry){ EXAMPLE, "nx.example.com.", true, .aa = true,
	                                 .rcode = LDNS_RCODE_NXDOMAIN,
	                                 .ns = cat(soa, cat(apex, bad)) });
	add_front(&f->s, (struct entry){ EXAMPLE, "www.example.com.", false, LDNS_RR_TYPE_MX,
	                                 .aa = true, .ns = cat(soa, www) });
	start(f);
	struct outcome o = { 0 };
	ldns_pkt *p = resolve(f, "nx.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_true(o.ad);
	ldns_pkt_free(p);
	memset(&o, 0, sizeof(o));
	p = resolve(f, "www.example.com.", LDNS_RR_TYPE_MX, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(p)), 0);
	assert_true(o.ad);
	ldns_pkt_free(p);
	/* With DO, the proof goes to the client too (RFC 4035 3.1.3). */
	struct resolver_question q;
	uint8_t wire[4096], rcode;
	bool refresh;
	question(&q, "nx.example.com.", LDNS_RR_TYPE_A);
	q.dnssec_ok = true;
	size_t n = resolver_cache_answer(f->cache, &q, wire, sizeof(wire), &rcode, &refresh);
	assert_true(n > 0);
	assert_int_equal(ldns_wire2pkt(&p, wire, n), LDNS_STATUS_OK);
	assert_true(ldns_pkt_ad(p));
	unsigned nsec = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_authority(p)); i++)
		nsec += ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_authority(p), i)) == LDNS_RR_TYPE_NSEC;
	assert_int_equal(nsec, 2);
	ldns_pkt_free(p);
	signed_teardown(&z);
}

/* RFC 8198: after a validated NXDOMAIN, other names inside the same NSEC ranges are
 * answered NXDOMAIN (and a type the NSEC at a name lacks, NODATA) with AD from the cache,
 * without asking example.com's server; a name outside the known ranges is asked. */
static void
cached_nsec_ranges_answer_without_asking(void **state)
{
	struct fixture *f = *state;
	struct signed_fixture z;
	signed_hierarchy(f, &z);
	const char *soa = signed_text(&z.example, "example.com. 300 IN SOA ns1.example.com. "
	                                          "h.example.com. 1 3600 600 86400 60", false);
	const char *apex = signed_text(&z.example, "example.com. 300 IN NSEC bad.example.com. "
	                                           "NS SOA RRSIG NSEC DNSKEY", false);
	const char *bad = signed_text(&z.example, "bad.example.com. 300 IN NSEC www.example.com. "
	                                          "A RRSIG NSEC", false);
	/* Any name below example.com that is not scripted otherwise: the same NXDOMAIN. */
	const char *www = signed_text(&z.example, "www.example.com. 300 IN NSEC example.com. "
	                                          "A RRSIG NSEC", false);
	add_front(&f->s, (struct entry){ EXAMPLE, "nx.example.com.", true, .aa = true,
	                                 .rcode = LDNS_RCODE_NXDOMAIN,
	                                 .ns = cat(soa, cat(apex, bad)) });
	add_front(&f->s, (struct entry){ EXAMPLE, "again.example.com.", true, .aa = true,
	                                 .rcode = LDNS_RCODE_NXDOMAIN,
	                                 .ns = cat(soa, cat(apex, bad)) });
	add_front(&f->s, (struct entry){ EXAMPLE, "zzz.example.com.", true, .aa = true,
	                                 .rcode = LDNS_RCODE_NXDOMAIN,
	                                 .ns = cat(soa, cat(apex, www)) });
	start(f);
	struct outcome o = { 0 };
	ldns_pkt *p = resolve(f, "nx.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_true(o.ad);
	ldns_pkt_free(p);
	unsigned before = f->s.nasked;

	memset(&o, 0, sizeof(o));
	p = resolve(f, "other.example.com.", LDNS_RR_TYPE_AAAA, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_true(o.ad);
	ldns_pkt_free(p);
	memset(&o, 0, sizeof(o));
	p = resolve(f, "deep.below.cat.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_true(o.ad);
	ldns_pkt_free(p);
	memset(&o, 0, sizeof(o));
	p = resolve(f, "bad.example.com.", LDNS_RR_TYPE_TXT, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_true(o.ad);
	ldns_pkt_free(p);
	assert_int_equal(f->s.nasked, before);          /* nothing was asked */
	struct resolver_stats st;
	resolver_get_stats(f->r, &st);
	assert_int_equal(st.aggressive_nsec, 3);
	/* The answer path serves them too, with AD and (DO) the proof. */
	struct resolver_question q;
	uint8_t wire[4096], rcode;
	bool refresh;
	question(&q, "other.example.com.", LDNS_RR_TYPE_AAAA);
	q.dnssec_ok = true;
	size_t n = resolver_cache_answer(f->cache, &q, wire, sizeof(wire), &rcode, &refresh);
	assert_true(n > 0);
	assert_int_equal(ldns_wire2pkt(&p, wire, n), LDNS_STATUS_OK);
	assert_true(ldns_pkt_ad(p));
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(p);

	/* Past the known ranges (www -> apex was never seen): asked. */
	memset(&o, 0, sizeof(o));
	p = resolve(f, "zzz.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_true(o.ad);
	ldns_pkt_free(p);
	assert_int_equal(count_asked(&f->s, EXAMPLE, "zzz.example.com."), 1);
	/* The records expire with their TTL (300 s): then the name is asked. */
	cache__advance(f->cache, 301 * 1000);
	memset(&o, 0, sizeof(o));
	p = resolve(f, "again.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_true(o.ad);
	ldns_pkt_free(p);
	assert_int_equal(count_asked(&f->s, EXAMPLE, "again.example.com."), 1);
	signed_teardown(&z);
}

/* text with every line's owner "*.example.com." replaced by owner (a wildcard expansion
 * as an authority sends it: the RRSIG keeps the wildcard's label count). */
static const char *
expanded(const char *text, const char *owner)
{
	char *out = calloc(1, strlen(text) * 2 + 64);
	const char *wc = "*.example.com.";
	for (const char *l = text; *l; ) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l + 1) : strlen(l);
		if (strncmp(l, wc, strlen(wc)) == 0) {
			strcat(out, owner);
			strncat(out, l + strlen(wc), n - strlen(wc));
		} else {
			strncat(out, l, n);
		}
		l += n;
	}
	return keep(out);
}

/* A wildcard-expanded answer is secure with the NSEC proving that the name itself does not
 * exist (RFC 4035 5.3.4): AD from the resolution and from the answer path, the proof in the
 * authority section for DO; without the proof no AD; with an NSEC that does not cover the
 * name, bogus. */
static void
wildcard_answer_with_its_nsec_proof_gets_ad(void **state)
{
	struct fixture *f = *state;
	struct signed_fixture z;
	char buf[64];
	signed_hierarchy(f, &z);
	const char *wild = signed_text(&z.example, "*.example.com. 300 IN A 192.0.2.77", false);
	/* NSEC chain: example.com -> *.example.com -> bad -> www -> example.com; bad's NSEC
	 * covers foo.example.com, whose closest encloser example.com has the RRSIG's 2 labels. */
	const char *bad = signed_text(&z.example, "bad.example.com. 300 IN NSEC www.example.com. "
	                                          "A RRSIG NSEC", false);
	const char *www = signed_text(&z.example, "www.example.com. 300 IN NSEC example.com. "
	                                          "A RRSIG NSEC", false);
	add_front(&f->s, (struct entry){ EXAMPLE, "foo.example.com.", false, LDNS_RR_TYPE_A,
	                                 .aa = true, .an = expanded(wild, "foo.example.com."),
	                                 .ns = bad });
	add_front(&f->s, (struct entry){ EXAMPLE, "nop.example.com.", false, LDNS_RR_TYPE_A,
	                                 .aa = true, .an = expanded(wild, "nop.example.com.") });
	add_front(&f->s, (struct entry){ EXAMPLE, "lie.example.com.", false, LDNS_RR_TYPE_A,
	                                 .aa = true, .an = expanded(wild, "lie.example.com."),
	                                 .ns = www });
	start(f);
	struct outcome o = { 0 };
	ldns_pkt *p = resolve(f, "foo.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.77");
	assert_true(o.ad);
	ldns_pkt_free(p);
	struct resolver_question q;
	uint8_t wire[4096], rcode;
	bool refresh;
	question(&q, "foo.example.com.", LDNS_RR_TYPE_A);
	q.dnssec_ok = true;
	size_t n = resolver_cache_answer(f->cache, &q, wire, sizeof(wire), &rcode, &refresh);
	assert_true(n > 0);
	assert_int_equal(ldns_wire2pkt(&p, wire, n), LDNS_STATUS_OK);
	assert_true(ldns_pkt_ad(p));
	unsigned nsec = 0, sig = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_authority(p)); i++) {
		ldns_rr_type t = ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_authority(p), i));
		nsec += t == LDNS_RR_TYPE_NSEC;
		sig += t == LDNS_RR_TYPE_RRSIG;
	}
	assert_int_equal(nsec, 1);
	assert_int_equal(sig, 1);
	ldns_pkt_free(p);
	/* Without DO the authority section stays empty. */
	q.dnssec_ok = false;
	n = resolver_cache_answer(f->cache, &q, wire, sizeof(wire), &rcode, &refresh);
	assert_int_equal(ldns_wire2pkt(&p, wire, n), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_nscount(p), 0);
	ldns_pkt_free(p);

	memset(&o, 0, sizeof(o));
	p = resolve(f, "nop.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_false(o.ad);
	ldns_pkt_free(p);

	memset(&o, 0, sizeof(o));
	p = resolve(f, "lie.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	assert_int_equal(o.ede, DNSSEC_EDE_NSEC_MISSING);
	ldns_pkt_free(p);
	signed_teardown(&z);
}

static void
zone_cut_hidden_by_one_server_for_parent_and_child_is_found(void **state)
{
	struct fixture *f = *state;
	struct signed_fixture z;
	signed_hierarchy(f, &z);
	f->conf->qname_minimisation = false;
	/* The root's server also serves com. and example.com: it answers everything with AA
	 * and never refers, so the cache knows no cut below the root; the signer of each DS
	 * shows the chain (. -> com. -> example.com.). */
	struct entry e[] = {
		{ ROOT, "www.example.com.", false, LDNS_RR_TYPE_A, .aa = true,
		  .an = signed_text(&z.example, "www.example.com. 300 IN A 192.0.2.1", false) },
		{ ROOT, "example.com.", false, LDNS_RR_TYPE_DNSKEY, .aa = true,
		  .an = signed_rr(&z.example, z.example.dnskey) },
		{ ROOT, "example.com.", false, LDNS_RR_TYPE_DS, .aa = true,
		  .an = signed_rr(&z.com, z.example.ds) },
		{ ROOT, "com.", false, LDNS_RR_TYPE_DNSKEY, .aa = true,
		  .an = signed_rr(&z.com, z.com.dnskey) },
	};
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++)
		add_front(&f->s, e[i]);
	start(f);
	struct outcome o = { 0 };
	ldns_pkt *p = resolve(f, "www.example.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_true(o.ad);
	ldns_pkt_free(p);
	assert_int_equal(count_asked(&f->s, COM, NULL), 0);
	assert_int_equal(count_asked(&f->s, EXAMPLE, NULL), 0);
	signed_teardown(&z);
}

static void
unsigned_data_behind_a_hidden_insecure_delegation_is_insecure(void **state)
{
	struct fixture *f = *state;
	struct signed_fixture z;
	signed_hierarchy(f, &z);
	f->conf->qname_minimisation = false;
	/* The root's server answers for com. and plain.com. too: www.plain.com comes unsigned
	 * with AA and no referral, so the resolver must prove, label by label, where the
	 * signed tree ends (.com's NSEC: plain.com has no DS). */
	struct entry e[] = {
		{ ROOT, "www.plain.com.", false, LDNS_RR_TYPE_A, .aa = true,
		  .an = "www.plain.com. 300 IN A 192.0.2.12" },
		{ ROOT, "plain.com.", false, LDNS_RR_TYPE_DS, .aa = true,
		  .ns = cat(signed_text(&z.com, "com. 900 IN SOA a.com. b.com. 1 2 3 4 900", false),
		            signed_text(&z.com, "plain.com. 900 IN NSEC zzz.com. NS RRSIG NSEC", false)) },
		{ ROOT, "com.", false, LDNS_RR_TYPE_DNSKEY, .aa = true,
		  .an = signed_rr(&z.com, z.com.dnskey) },
	};
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++)
		add_front(&f->s, e[i]);
	start(f);
	struct outcome o = { 0 };
	char buf[64];
	ldns_pkt *p = resolve(f, "www.plain.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.12");
	assert_false(o.ad);
	ldns_pkt_free(p);
	signed_teardown(&z);
}

static void
insecure_delegation_answers_without_ad(void **state)
{
	struct fixture *f = *state;
	struct signed_fixture z;
	char buf[64];
	signed_hierarchy(f, &z);
	start(f);
	struct outcome o = { 0 };
	ldns_pkt *p = resolve(f, "www.plain.com.", LDNS_RR_TYPE_A, &o);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_string_equal(answer_rdata(p, LDNS_RR_TYPE_A, buf, sizeof(buf)), "192.0.2.12");
	assert_false(o.ad);
	ldns_pkt_free(p);
	assert_int_equal(count_asked(&f->s, COM, "plain.com."), 2);    /* the referral, the DS */
	signed_teardown(&z);
}

static int
parse_text_as(const char *text, const char *file, struct resolver_conf **out)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	assert_true(yaml_parser_load(&parser, &doc));
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	yaml_node_t *sec = NULL;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&doc, p->key);
		if (strcmp((char *)k->data.scalar.value, "resolver") == 0)
			sec = yaml_document_get_node(&doc, p->value);
	}
	int rc = resolver_conf_parse(&doc, sec, file, out);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

static int
parse_text(const char *text, struct resolver_conf **out)
{
	return parse_text_as(text, "test.conf", out);
}

static void
config_section_sets_every_key(void **state)
{
	(void)state;
	struct resolver_conf *c = NULL;
	assert_int_equal(parse_text("resolver:\n"
	                            "  enable: true\n"
	                            "  allow: [10.0.0.0/8, \"2001:db8::/32\"]\n"
	                            "  root-hints: [127.0.0.1@5300, \"::1@5301\", 127.0.0.2]\n"
	                            "  validation: off\n"
	                            "  qname-minimisation: no\n"
	                            "  use-0x20: yes\n"
	                            "  cache-size: 32m\n"
	                            "  ttl-min: 5\n"
	                            "  ttl-max: 3600\n"
	                            "  serve-stale: true\n"
	                            "  stale-answer-timeout: 1800ms\n"
	                            "  prefetch: on\n"
	                            "  limits:\n"
	                            "    upstream-queries: 40\n"
	                            "    ns-fetch: 3\n", &c), 0);
	assert_true(c->enable);
	assert_int_equal(c->allow.n, 2);
	assert_int_equal(c->nhints, 3);
	char buf[64];
	assert_string_equal(resolver_addr_str(&c->hints[0], buf, sizeof(buf)), "127.0.0.1@5300");
	assert_string_equal(resolver_addr_str(&c->hints[1], buf, sizeof(buf)), "::1@5301");
	assert_string_equal(resolver_addr_str(&c->hints[2], buf, sizeof(buf)), "127.0.0.2@53");
	assert_false(c->validation);
	assert_false(c->qname_minimisation);
	assert_true(c->use_0x20);
	assert_int_equal(c->cache_size, 32u << 20);
	assert_int_equal(c->ttl_min, 5);
	assert_int_equal(c->ttl_max, 3600);
	assert_int_equal(c->stale_answer_timeout_ms, 1800);
	assert_true(c->prefetch);
	assert_int_equal(c->limits.max_upstream_queries, 40);
	assert_int_equal(c->limits.max_ns_fetch, 3);
	assert_int_equal(c->limits.max_cname, 12);
	resolver_conf_free(c);
}

static void
config_errors_are_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"resolver:\n  enable: maybe\n",
		"resolver:\n  allow: [10.0.0.1/8]\n",
		"resolver:\n  root-hints: [127.0.0.1@99999]\n",
		"resolver:\n  enable: true\n",                   /* no hints */
		"resolver:\n  ttl-min: 100\n  ttl-max: 50\n",
		"resolver:\n  limits:\n    upstream-queries: 0\n",
		"resolver:\n  limits:\n    bogus: 1\n",
		"resolver:\n  colour: blue\n",
		"resolver:\n  root-hints: /nonexistent/hints\n",
		"resolver:\n  stale-answer-timeout: soon\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct resolver_conf *c = (struct resolver_conf *)0x1;
		assert_int_equal(parse_text(bad[i], &c), SP_ECONFIG);
		assert_ptr_equal(c, (struct resolver_conf *)0x1);
	}
}

static void
trust_anchor_is_loaded_inline_or_refused_with_its_problem(void **state)
{
	(void)state;
	struct resolver_conf *c = NULL;
	assert_int_equal(parse_text("resolver:\n"
	                            "  trust-anchor: \". 172800 IN DS 20326 8 2 "
	                            "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\"\n",
	                            &c), 0);
	assert_non_null(c->anchors);
	assert_int_equal(dnssec_anchors_count(c->anchors), 1);
	assert_true(c->trust_anchor_inline);
	resolver_conf_free(c);
	c = (struct resolver_conf *)0x1;
	assert_int_equal(parse_text("resolver:\n  trust-anchor: /nonexistent/root.key\n", &c),
	                 SP_ECONFIG);
	assert_int_equal(parse_text("resolver:\n  trust-anchor: \". IN DS 1 2 3 zz\"\n", &c),
	                 SP_ECONFIG);
	assert_ptr_equal(c, (struct resolver_conf *)0x1);
}

static void
hints_file_in_master_form_is_read(void **state)
{
	(void)state;
	char path[] = "/tmp/test_resolver_hintsXXXXXX";
	int fd = mkstemp(path);
	const char text[] = "; root hints\n"
	                    ".  3600000 NS A.ROOT-SERVERS.NET.\n"
	                    "A.ROOT-SERVERS.NET. 3600000 A 127.0.0.1\n"
	                    "A.ROOT-SERVERS.NET. 3600000 AAAA ::1\n"
	                    "127.0.0.2@5353\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	struct resolver_addr a[4];
	assert_int_equal(resolver_hints_load(path, a, 4), 3);
	char buf[64];
	assert_string_equal(resolver_addr_str(&a[0], buf, sizeof(buf)), "127.0.0.1@53");
	assert_string_equal(resolver_addr_str(&a[1], buf, sizeof(buf)), "::1@53");
	assert_string_equal(resolver_addr_str(&a[2], buf, sizeof(buf)), "127.0.0.2@5353");
	unlink(path);
}

/* root-hints and trust-anchor files are relative to the configuration file's directory,
 * like zone files: found there whatever the working directory is. */
static void
hints_and_anchor_paths_are_relative_to_the_config_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_resolver_confXXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], conf[256];
	snprintf(path, sizeof(path), "%s/hints", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("a.root. 3600 A 127.0.0.9\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/anchor", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(". 3600 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n", f);
	fclose(f);
	snprintf(conf, sizeof(conf), "%s/signpost.conf", dir);

	struct resolver_conf *c = NULL;
	const char *text = "resolver:\n  enable: true\n  root-hints: hints\n  trust-anchor: anchor\n";
	assert_int_equal(parse_text_as(text, conf, &c), 0);
	assert_int_equal(c->nhints, 1);
	char buf[64];
	assert_string_equal(resolver_addr_str(&c->hints[0], buf, sizeof(buf)), "127.0.0.9@53");
	snprintf(path, sizeof(path), "%s/hints", dir);
	assert_string_equal(c->hints_file, path);
	snprintf(path, sizeof(path), "%s/anchor", dir);
	assert_string_equal(c->trust_anchor, path);
	assert_int_equal(dnssec_anchors_count(c->anchors), 1);
	resolver_conf_free(c);
	/* The same text with the configuration file elsewhere: the files are not found. */
	c = NULL;
	assert_int_equal(parse_text_as(text, "/nonexistent-dir/signpost.conf", &c), SP_ECONFIG);
	assert_null(c);
	/* Absolute names stay as they are. */
	char abs[512];
	snprintf(abs, sizeof(abs), "resolver:\n  root-hints: %s/hints\n", dir);
	assert_int_equal(parse_text_as(abs, "/nonexistent-dir/signpost.conf", &c), 0);
	assert_int_equal(c->nhints, 1);
	resolver_conf_free(c);
	snprintf(path, sizeof(path), "%s/hints", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/anchor", dir);
	unlink(path);
	rmdir(dir);
}

static void
acl_is_closed_by_default_and_matches_prefixes(void **state)
{
	(void)state;
	struct resolver_conf *c;
	assert_int_equal(resolver_conf_new(&c), 0);
	struct resolver_addr a;
	assert_int_equal(resolver_addr_parse("127.3.4.5", 53, &a), 0);
	assert_true(resolver_acl_match(&c->allow, &a.u.sa));
	assert_int_equal(resolver_addr_parse("::1", 53, &a), 0);
	assert_true(resolver_acl_match(&c->allow, &a.u.sa));
	assert_int_equal(resolver_addr_parse("::ffff:127.0.0.1", 53, &a), 0);
	assert_true(resolver_acl_match(&c->allow, &a.u.sa));
	assert_int_equal(resolver_addr_parse("192.0.2.1", 53, &a), 0);
	assert_false(resolver_acl_match(&c->allow, &a.u.sa));
	assert_int_equal(resolver_addr_parse("::2", 53, &a), 0);
	assert_false(resolver_acl_match(&c->allow, &a.u.sa));
	resolver_conf_free(c);

	struct resolver_prefix p[2];
	assert_int_equal(resolver_prefix_parse("10.128.0.0/9", &p[0]), 0);
	assert_int_equal(resolver_prefix_parse("2001:db8::/33", &p[1]), 0);
	struct resolver_acl acl = { p, 2 };
	assert_int_equal(resolver_addr_parse("10.200.1.1", 53, &a), 0);
	assert_true(resolver_acl_match(&acl, &a.u.sa));
	assert_int_equal(resolver_addr_parse("10.127.1.1", 53, &a), 0);
	assert_false(resolver_acl_match(&acl, &a.u.sa));
	assert_int_equal(resolver_addr_parse("2001:db8:7fff::1", 53, &a), 0);
	assert_true(resolver_acl_match(&acl, &a.u.sa));
	assert_int_equal(resolver_addr_parse("2001:db8:8000::1", 53, &a), 0);
	assert_false(resolver_acl_match(&acl, &a.u.sa));
	assert_int_equal(resolver_prefix_parse("10.0.0.0/33", &p[0]), SP_EPARSE);
	assert_int_equal(resolver_prefix_parse("nonsense", &p[0]), SP_EPARSE);
}

int
main(void)
{
	log_init("test_resolver", getenv("TEST_RESOLVER_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERR, false);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(referral_chain_from_the_root_reaches_the_answer),
		T(rrsigs_are_cached_and_returned_only_with_do),
		T(qname_minimisation_asks_one_label_at_a_time),
		T(out_of_bailiwick_glue_is_ignored),
		T(glueless_delegation_resolves_the_ns_name),
		T(cname_chain_is_followed_into_another_zone),
		T(dname_is_synthesized_and_followed),
		T(truncated_udp_answer_is_asked_again_over_tcp),
		T(formerr_to_edns_is_asked_again_without_edns),
		T(server_dropping_edns_queries_is_asked_without_edns),
		T(stale_answer_is_sent_after_the_timeout_while_resolution_goes_on),
		T(popular_names_are_prefetched_near_expiry),
		T(timeout_moves_on_to_another_server),
		T(lame_server_is_skipped),
		T(use_0x20_mixes_case_and_rejects_replies_that_do_not_echo_it),
		T(ipv6_only_glueless_name_server_is_found_by_aaaa),
		T(submit_from_another_thread_answers_on_the_loop),
		T(reply_with_wrong_id_is_not_believed),
		T(reply_with_wrong_question_is_not_believed),
		T(malformed_reply_is_not_believed),
		T(unsolicited_records_are_not_cached),
		T(nxns_delegation_is_capped),
		T(upstream_query_cap_stops_a_resolution),
		T(nxdomain_is_cached_for_the_soa_minimum),
		T(nodata_is_cached_per_type),
		T(ttls_count_down_in_cached_answers),
		T(ttl_max_clamps_cached_ttls),
		T(stale_data_answers_when_the_authority_goes_silent),
		T(without_serve_stale_a_silent_authority_gives_servfail),
		T(identical_questions_share_one_resolution),
		T(secure_answer_gets_ad_and_is_served_with_ad_from_the_cache),
		T(bogus_answer_is_servfail_with_ede_and_cd_gets_the_data),
		T(key_not_matching_the_parent_ds_makes_the_zone_bogus),
		T(missing_ds_without_proof_is_bogus_not_insecure),
		T(secure_denials_get_ad),
		T(wildcard_answer_with_its_nsec_proof_gets_ad),
		T(cached_nsec_ranges_answer_without_asking),
		T(zone_cut_hidden_by_one_server_for_parent_and_child_is_found),
		T(unsigned_data_behind_a_hidden_insecure_delegation_is_insecure),
		T(insecure_delegation_answers_without_ad),
		T(per_client_limit_refuses_more_work),
		T(reply_finish_sets_id_flags_opt_ede_and_truncates),
		cmocka_unit_test(cache_stays_within_its_size_with_eviction),
		cmocka_unit_test(better_ranked_data_is_not_replaced_by_glue),
		cmocka_unit_test(config_section_sets_every_key),
		cmocka_unit_test(config_errors_are_refused),
		cmocka_unit_test(trust_anchor_is_loaded_inline_or_refused_with_its_problem),
		cmocka_unit_test(hints_file_in_master_form_is_read),
		cmocka_unit_test(hints_and_anchor_paths_are_relative_to_the_config_file),
		cmocka_unit_test(acl_is_closed_by_default_and_matches_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
