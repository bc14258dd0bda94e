/* test_resolver_transport.c - resolver/transport.c on real sockets: the resolver asks a
 * tiny authoritative responder (a thread in this test, UDP and TCP on 127.0.0.1, free
 * port) that records the source address, port and ID of every query. Checks fresh random
 * source ports and IDs, loopback binding, TC -> TCP, spoofed replies ignored, timeouts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <ldns/ldns.h>

#include "lib/log.h"
#include "resolver/resolver.h"

#define MAX_SEEN 256

struct seen {
	uint16_t port, id;
	uint32_t src;
	bool tcp;
	char qname[256];
};

struct responder {
	int udp, tcp, stop[2];
	uint16_t port;
	pthread_t thread;
	pthread_mutex_t lock;
	struct seen seen[MAX_SEEN];
	unsigned nseen;
	bool spoof_first;           /* send a wrong-ID reply with 6.6.6.6 before the real one */
	bool silent;
};

/* Answers q: the root NS for ". NS", TC=1 over UDP for big.test., else one A record. */
static size_t
make_reply(struct responder *rs, const uint8_t *q, size_t len, bool tcp, bool spoof,
           uint8_t *out, size_t cap)
{
	ldns_pkt *qp = NULL, *rp;
	if (ldns_wire2pkt(&qp, q, len) != LDNS_STATUS_OK)
		return 0;
	(void)rs;
	ldns_rr *question = ldns_rr_list_rr(ldns_pkt_question(qp), 0);
	char *name = ldns_rdf2str(ldns_rr_owner(question));
	rp = ldns_pkt_new();
	ldns_pkt_set_id(rp, spoof ? (uint16_t)(ldns_pkt_id(qp) ^ 0x5a5a) : ldns_pkt_id(qp));
	ldns_pkt_set_qr(rp, true);
	ldns_pkt_set_aa(rp, true);
	ldns_pkt_push_rr(rp, LDNS_SECTION_QUESTION, ldns_rr_clone(question));
	ldns_rr *rr = NULL;
	char text[512];
	if (ldns_rr_get_type(question) == LDNS_RR_TYPE_NS && strcmp(name, ".") == 0) {
		ldns_rr_new_frm_str(&rr, ". 3600 IN NS a.root.", 0, NULL, NULL);
		ldns_pkt_push_rr(rp, LDNS_SECTION_ANSWER, rr);
		ldns_rr_new_frm_str(&rr, "a.root. 3600 IN A 127.0.0.1", 0, NULL, NULL);
		ldns_pkt_push_rr(rp, LDNS_SECTION_ADDITIONAL, rr);
	} else if (strcasecmp(name, "big.test.") == 0 && !tcp) {
		ldns_pkt_set_tc(rp, true);
	} else {
		snprintf(text, sizeof(text), "%s 300 IN A %s", name, spoof ? "6.6.6.6" : "192.0.2.7");
		ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL);
		ldns_pkt_push_rr(rp, LDNS_SECTION_ANSWER, rr);
	}
	uint8_t *wire = NULL;
	size_t n = 0;
	if (ldns_pkt2wire(&wire, rp, &n) != LDNS_STATUS_OK || n > cap)
		n = 0;
	else
		memcpy(out, wire, n);
	free(wire);
	free(name);
	ldns_pkt_free(rp);
	ldns_pkt_free(qp);
	return n;
}

static void
record(struct responder *rs, const struct sockaddr_in *from, const uint8_t *q, size_t len,
       bool tcp)
{
	ldns_pkt *qp = NULL;
	pthread_mutex_lock(&rs->lock);
	if (rs->nseen < MAX_SEEN && len >= 12 && ldns_wire2pkt(&qp, q, len) == LDNS_STATUS_OK) {
		struct seen *s = &rs->seen[rs->nseen++];
		s->port = ntohs(from->sin_port);
		s->src = ntohl(from->sin_addr.s_addr);
		s->id = (uint16_t)(q[0] << 8 | q[1]);
		s->tcp = tcp;
		char *n = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(qp), 0)));
		snprintf(s->qname, sizeof(s->qname), "%s", n);
		free(n);
	}
	ldns_pkt_free(qp);
	pthread_mutex_unlock(&rs->lock);
}

static void
serve_tcp(struct responder *rs)
{
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	int c = accept(rs->tcp, (struct sockaddr *)&from, &fl);
	if (c < 0)
		return;
	struct timeval tv = { 2, 0 };
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	uint8_t lenb[2], q[65535], out[65535 + 2];
	if (recv(c, lenb, 2, MSG_WAITALL) == 2) {
		size_t ql = (size_t)lenb[0] << 8 | lenb[1];
		if (recv(c, q, ql, MSG_WAITALL) == (ssize_t)ql) {
			record(rs, &from, q, ql, true);
			size_t n = make_reply(rs, q, ql, true, false, out + 2, sizeof(out) - 2);
			out[0] = (uint8_t)(n >> 8);
			out[1] = (uint8_t)n;
			if (n > 0 && send(c, out, n + 2, 0) < 0)
				n = 0;
		}
	}
	close(c);
}

static void *
responder_main(void *arg)
{
	struct responder *rs = arg;
	uint8_t q[4096], out[4096];

	for (;;) {
		struct pollfd p[3] = { { rs->udp, POLLIN, 0 }, { rs->tcp, POLLIN, 0 },
		                       { rs->stop[0], POLLIN, 0 } };
		if (poll(p, 3, 5000) <= 0 || p[2].revents)
			break;
		if (p[1].revents)
			serve_tcp(rs);
		if (!p[0].revents)
			continue;
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(rs->udp, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			continue;
		record(rs, &from, q, (size_t)n, false);
		if (rs->silent)
			continue;
		if (rs->spoof_first) {
			size_t m = make_reply(rs, q, (size_t)n, false, true, out, sizeof(out));
			sendto(rs->udp, out, m, 0, (struct sockaddr *)&from, fl);
		}
		size_t m = make_reply(rs, q, (size_t)n, false, false, out, sizeof(out));
		sendto(rs->udp, out, m, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

/* UDP and TCP on the same free port of 127.0.0.1. */
static void
responder_start(struct responder *rs)
{
	memset(rs, 0, sizeof(*rs));
	pthread_mutex_init(&rs->lock, NULL);
	for (int attempt = 0; attempt < 50; attempt++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t al = sizeof(a);
		rs->udp = socket(AF_INET, SOCK_DGRAM, 0);
		assert_int_equal(bind(rs->udp, (struct sockaddr *)&a, sizeof(a)), 0);
		getsockname(rs->udp, (struct sockaddr *)&a, &al);
		rs->tcp = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(rs->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(rs->tcp, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(rs->tcp, 8) == 0) {
			rs->port = ntohs(a.sin_port);
			break;
		}
		close(rs->udp);
		close(rs->tcp);
	}
	assert_true(rs->port != 0);
	assert_int_equal(pipe(rs->stop), 0);
	assert_int_equal(pthread_create(&rs->thread, NULL, responder_main, rs), 0);
}

static void
responder_stop(struct responder *rs)
{
	assert_int_equal(write(rs->stop[1], "x", 1), 1);
	pthread_join(rs->thread, NULL);
	close(rs->udp);
	close(rs->tcp);
	close(rs->stop[0]);
	close(rs->stop[1]);
	pthread_mutex_destroy(&rs->lock);
}

struct fixture {
	uv_loop_t loop;
	struct responder rs;
	struct resolver_conf *conf;
	struct resolver_cache *cache;
	struct resolver_transport *t;
	struct resolver *r;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char hint[64];
	uv_loop_init(&f->loop);
	responder_start(&f->rs);
	assert_int_equal(resolver_conf_new(&f->conf), 0);
	snprintf(hint, sizeof(hint), "127.0.0.1@%u", f->rs.port);
	assert_int_equal(resolver_addr_parse(hint, 53, &f->conf->hints[0]), 0);
	f->conf->nhints = 1;
	f->conf->enable = true;
	f->conf->qname_minimisation = false;
	f->conf->serve_stale = false;
	f->conf->query_timeout_ms = 300;
	assert_int_equal(resolver_cache_new(1 << 20, &f->cache), 0);
	assert_int_equal(resolver_transport_udp_tcp(&f->loop, &f->t), 0);
	assert_int_equal(resolver_new(&f->loop, f->conf, f->cache, f->t, &f->r), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	resolver_free(f->r);
	resolver_transport_free(f->t);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	responder_stop(&f->rs);
	resolver_cache_free(f->cache);
	resolver_conf_free(f->conf);
	free(f);
	return 0;
}

struct outcome {
	bool called;
	uint8_t rcode;
	char a[64];
};

static void
on_done(void *arg, const struct resolver_result *res)
{
	struct outcome *o = arg;
	ldns_pkt *p = NULL;
	o->called = true;
	o->rcode = res->rcode;
	assert_int_equal(ldns_wire2pkt(&p, res->wire, res->len), LDNS_STATUS_OK);
	ldns_rr_list *an = ldns_pkt_answer(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A) {
			char *s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
			snprintf(o->a, sizeof(o->a), "%s", s);
			free(s);
		}
	}
	ldns_pkt_free(p);
}

static void
resolve(struct fixture *f, const char *name, struct outcome *o)
{
	struct resolver_question q = { .qtype = LDNS_RR_TYPE_A, .qclass = LDNS_RR_CLASS_IN };
	assert_true(dname_from_str(name, q.qname) > 0);
	memset(o, 0, sizeof(*o));
	assert_int_equal(resolver_query(f->r, &q, on_done, o), 0);
	for (int i = 0; i < 100000 && !o->called; i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_true(o->called);
}

static int
cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static unsigned
distinct(uint16_t *v, unsigned n)
{
	unsigned d = n ? 1 : 0;
	qsort(v, n, sizeof(*v), cmp_u16);
	for (unsigned i = 1; i < n; i++)
		d += v[i] != v[i - 1];
	return d;
}

static void
each_query_has_a_fresh_port_and_a_random_id(void **state)
{
	struct fixture *f = *state;
	struct outcome o;
	for (int i = 0; i < 24; i++) {
		char name[64];
		snprintf(name, sizeof(name), "host%d.test.", i);
		resolve(f, name, &o);
		assert_int_equal(o.rcode, LDNS_RCODE_NOERROR);
		assert_string_equal(o.a, "192.0.2.7");
	}
	uint16_t ports[MAX_SEEN], ids[MAX_SEEN];
	unsigned n = f->rs.nseen, consecutive = 0;
	assert_true(n >= 24);
	for (unsigned i = 0; i < n; i++) {
		ports[i] = f->rs.seen[i].port;
		ids[i] = f->rs.seen[i].id;
		/* Bound to the loopback address, as the server is on loopback. */
		assert_int_equal(f->rs.seen[i].src, INADDR_LOOPBACK);
		if (i > 0 && (uint16_t)(ports[i] - ports[i - 1]) == 1)
			consecutive++;
	}
	/* A new socket per query: ports and IDs differ (a birthday collision or two is
	 * possible among ~28000 ports and 65536 IDs), and ports do not simply count up. */
	assert_true(consecutive < n / 2);
	assert_true(distinct(ports, n) >= n - 2);
	assert_true(distinct(ids, n) >= n - 2);
}

static void
truncated_answer_is_fetched_over_tcp(void **state)
{
	struct fixture *f = *state;
	struct outcome o;
	resolve(f, "big.test.", &o);
	assert_int_equal(o.rcode, LDNS_RCODE_NOERROR);
	assert_string_equal(o.a, "192.0.2.7");
	bool udp = false, tcp = false;
	for (unsigned i = 0; i < f->rs.nseen; i++) {
		if (strcmp(f->rs.seen[i].qname, "big.test.") == 0) {
			udp |= !f->rs.seen[i].tcp;
			tcp |= f->rs.seen[i].tcp;
		}
	}
	assert_true(udp && tcp);
}

static void
reply_with_the_wrong_id_is_dropped_and_the_real_one_used(void **state)
{
	struct fixture *f = *state;
	struct outcome o;
	f->rs.spoof_first = true;
	resolve(f, "bank.test.", &o);
	assert_int_equal(o.rcode, LDNS_RCODE_NOERROR);
	assert_string_equal(o.a, "192.0.2.7");
}

static void
silent_server_times_out(void **state)
{
	struct fixture *f = *state;
	struct outcome o;
	f->rs.silent = true;
	f->conf->query_timeout_ms = 50;
	resolve(f, "quiet.test.", &o);
	assert_int_equal(o.rcode, LDNS_RCODE_SERVFAIL);
	struct resolver_stats st;
	resolver_get_stats(f->r, &st);
	assert_true(st.upstream_timeouts >= 2);
}

int
main(void)
{
	log_init("test_resolver_transport", LOG_LVL_ERR, false);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(each_query_has_a_fresh_port_and_a_random_id, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(truncated_answer_is_fetched_over_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(reply_with_the_wrong_id_is_dropped_and_the_real_one_used,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(silent_server_times_out, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
