/* test_gslb_pick.c - gslb/pick.c: every policy on snapshots built in the test, with health,
 * drain and RTT set by hand: distributions (chi-square), hash stability, topology and ECS
 * scopes, failover groups, fallbacks, the guarantee of a non-empty answer, and GeoIP
 * topology on a real .mmdb built by tests/system/helpers/make-mmdb.pl. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <ldns/ldns.h>

#include "gslb/internal.h"
#include "lib/log.h"

#define N(s) ((const uint8_t *)(s))
#define A LDNS_RR_TYPE_A
#define AAAA LDNS_RR_TYPE_AAAA

static const char conf_text[] =
	"gslb:\n"
	"  pools:\n"
	"    w:\n"                      /* members 0..3: weights 1..4 */
	"      members:\n"
	"        - { name: m1, address: 192.0.2.1, weight: 1 }\n"
	"        - { name: m2, address: 192.0.2.2, weight: 2 }\n"
	"        - { name: m3, address: 192.0.2.3, weight: 3 }\n"
	"        - { name: m4, address: 192.0.2.4, weight: 4, address6: '2001:db8::4' }\n"
	"    two:\n"                    /* members 4..6 */
	"      max-answers: 2\n"
	"      members:\n"
	"        - { name: a, address: 198.51.100.1 }\n"
	"        - { name: b, address: 198.51.100.2 }\n"
	"        - { name: c, address: 198.51.100.3 }\n"
	"    fo:\n"                     /* members 7..10: two groups of two */
	"      max-answers: 2\n"
	"      min-healthy: 2\n"
	"      members:\n"
	"        - { name: p1, address: 10.0.1.1, priority: 1 }\n"
	"        - { name: p2, address: 10.0.1.2, priority: 1 }\n"
	"        - { name: b1, address: 10.0.2.1, priority: 2 }\n"
	"        - { name: b2, address: 10.0.2.2, priority: 2 }\n"
	"    h:\n"                      /* members 11..15 */
	"      members:\n"
	"        - { name: h1, address: 203.0.113.1, address6: '2001:db8:1::1' }\n"
	"        - { name: h2, address: 203.0.113.2, address6: '2001:db8:1::2' }\n"
	"        - { name: h3, address: 203.0.113.3, address6: '2001:db8:1::3' }\n"
	"        - { name: h4, address: 203.0.113.4, address6: '2001:db8:1::4' }\n"
	"        - { name: h5, address: 203.0.113.5, address6: '2001:db8:1::5' }\n"
	"    geo:\n"                    /* members 16..18 */
	"      members:\n"
	"        - { name: eu1, address: 192.0.2.101, region: eu }\n"
	"        - { name: us1, address: 192.0.2.102, region: us }\n"
	"        - { name: ap1, address: 192.0.2.103, region: ap }\n"
	"    quiet:\n"                  /* members 19..20 */
	"      fallback: none\n"
	"      members:\n"
	"        - { name: q1, address: 192.0.2.201 }\n"
	"        - { name: q2, address: 192.0.2.202 }\n"
	"    main:\n"                   /* members 21..22 */
	"      fallback: pool:sorry\n"
	"      members:\n"
	"        - { name: x1, address: 192.0.2.211 }\n"
	"        - { name: x2, address: 192.0.2.212 }\n"
	"    sorry:\n"                  /* member 23 */
	"      ttl: 5\n"
	"      members:\n"
	"        - { name: s1, address: 192.0.2.250 }\n"
	"  topology:\n"
	"    - { subnet: 10.0.0.0/8, region: eu }\n"
	"    - { subnet: 10.20.0.0/16, region: us }\n"
	"    - { subnet: '2001:db8:aa::/48', region: ap }\n"
	"  region-order:\n"
	"    eu: [eu, ap, us]\n"
	"  names:\n"
	"    - { name: w.example., pool: w, policy: weighted }\n"
	"    - { name: rr.example., pool: two, policy: round-robin }\n"
	"    - { name: two.example., pool: two, policy: weighted }\n"
	"    - { name: fo.example., pool: fo, policy: failover }\n"
	"    - { name: h.example., pool: h, policy: hash }\n"
	"    - { name: geo.example., pool: geo, policy: topology }\n"
	"    - { name: rtt.example., pool: h, policy: lowest-rtt }\n"
	"    - { name: quiet.example., pool: quiet, policy: weighted }\n"
	"    - { name: main.example., pool: main, policy: weighted }\n";

struct fx {
	struct gslb_conf *c;
	struct gslb_mstate m[64];
	struct gslb_state *st;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_int_equal(gslb_conf_load("pick.yaml", conf_text, &f->c), 0);
	assert_int_equal(f->c->n_members, 24);
	for (unsigned i = 0; i < f->c->n_members; i++)
		f->m[i] = (struct gslb_mstate){ .up = true, .weight = f->c->members[i].weight,
		                                .rtt_us = -1 };
	gslb_pick_seed(12345);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	gslb__state_free(f->st);
	gslb_conf_free(f->c);
	free(f);
	return 0;
}

/* (Re)builds the snapshot from f->m. */
static const struct gslb_state *
snap(struct fx *f)
{
	gslb__state_free(f->st);
	f->st = gslb__state_new(f->c, f->m);
	assert_non_null(f->st);
	return f->st;
}

static int
member_of(struct fx *f, const char *name)
{
	for (unsigned i = 0; i < f->c->n_members; i++) {
		if (strcmp(f->c->members[i].name, name) == 0)
			return (int)i;
	}
	fail_msg("no member %s", name);
	return -1;
}

static struct gslb_answer
pick(struct fx *f, const char *wire, uint16_t qtype, const struct gslb_client *cl)
{
	struct gslb_answer a;
	assert_int_equal(gslb_pick(f->st, N(wire), qtype, cl, &a), 0);
	return a;
}

static void
weighted_picks_follow_the_weights_within_chi_square(void **state)
{
	struct fx *f = *state;
	unsigned count[4] = {0};
	const unsigned n = 20000;

	snap(f);
	for (unsigned i = 0; i < n; i++) {
		struct gslb_answer a = pick(f, "\1w\7example", A, NULL);
		assert_int_equal(a.count, 1);
		assert_true(a.member[0] < 4);
		count[a.member[0]]++;
	}
	/* Pearson's statistic against weights 1:2:3:4; 3 degrees of freedom, critical value
	 * 16.266 at p = 0.001. */
	double chi2 = 0;
	for (unsigned i = 0; i < 4; i++) {
		double expect = n * (i + 1) / 10.0;
		chi2 += (count[i] - expect) * (count[i] - expect) / expect;
	}
	print_message("weighted counts %u %u %u %u chi2 %.2f\n", count[0], count[1], count[2],
	              count[3], chi2);
	assert_true(chi2 < 16.266);
	/* And the statistic can fail: equal weights would be far outside. */
	double chi2_equal = 0;
	for (unsigned i = 0; i < 4; i++)
		chi2_equal += (count[i] - n / 4.0) * (count[i] - n / 4.0) / (n / 4.0);
	assert_true(chi2_equal > 16.266);
}

static void
a_down_or_drained_member_is_never_answered(void **state)
{
	struct fx *f = *state;
	f->m[3].up = false;
	f->m[1].drained = true;
	snap(f);
	unsigned seen[4] = {0};
	for (unsigned i = 0; i < 2000; i++)
		seen[pick(f, "\1w\7example", A, NULL).member[0]]++;
	assert_int_equal(seen[1], 0);
	assert_int_equal(seen[3], 0);
	assert_true(seen[0] > 0 && seen[2] > 0);
}

static void
max_answers_gives_that_many_distinct_addresses(void **state)
{
	struct fx *f = *state;
	snap(f);
	for (unsigned i = 0; i < 500; i++) {
		struct gslb_answer a = pick(f, "\3two\7example", A, NULL);
		assert_int_equal(a.count, 2);
		assert_int_not_equal(a.member[0], a.member[1]);
		assert_int_equal(a.ttl, 30);
		uint8_t want[4] = { 198, 51, 100, (uint8_t)(a.member[0] - 4 + 1) };
		assert_memory_equal(a.addr[0], want, 4);
	}
	/* Only one healthy: one address, not a duplicate. */
	f->m[4].up = f->m[5].up = false;
	snap(f);
	struct gslb_answer a = pick(f, "\3two\7example", A, NULL);
	assert_int_equal(a.count, 1);
	assert_int_equal(a.member[0], 6);
	assert_int_equal(a.flags, 0);
}

static void
round_robin_rotates_the_order(void **state)
{
	struct fx *f = *state;
	unsigned first[3] = {0};
	snap(f);
	struct gslb_answer prev = pick(f, "\2rr\7example", A, NULL);
	for (unsigned i = 0; i < 300; i++) {
		struct gslb_answer a = pick(f, "\2rr\7example", A, NULL);
		assert_int_equal(a.count, 2);
		/* Each answer starts where the previous one's second address was. */
		assert_int_equal(a.member[0], prev.member[1]);
		first[a.member[0] - 4]++;
		prev = a;
	}
	assert_int_equal(first[0], 100);
	assert_int_equal(first[1], 100);
	assert_int_equal(first[2], 100);
}

static void
failover_answers_the_primary_group_while_it_is_healthy(void **state)
{
	struct fx *f = *state;
	snap(f);
	for (unsigned i = 0; i < 200; i++) {
		struct gslb_answer a = pick(f, "\2fo\7example", A, NULL);
		assert_int_equal(a.count, 2);
		for (unsigned j = 0; j < a.count; j++)
			assert_int_equal(f->c->members[a.member[j]].priority, 1);
	}
}

static void
failover_moves_to_backup_when_the_primary_lacks_min_healthy(void **state)
{
	struct fx *f = *state;
	f->m[member_of(f, "p1")].up = false;   /* one of two left: below min-healthy 2 */
	snap(f);
	for (unsigned i = 0; i < 200; i++) {
		struct gslb_answer a = pick(f, "\2fo\7example", A, NULL);
		assert_int_equal(a.count, 2);
		for (unsigned j = 0; j < a.count; j++)
			assert_int_equal(f->c->members[a.member[j]].priority, 2);
		assert_int_equal(a.flags, 0);
	}
	/* Backup also short: the first group with anyone healthy answers. */
	f->m[member_of(f, "b1")].up = false;
	snap(f);
	struct gslb_answer a = pick(f, "\2fo\7example", A, NULL);
	assert_int_equal(a.count, 1);
	assert_int_equal(a.member[0], member_of(f, "p2"));
}

static void
failover_with_everything_down_falls_back_to_all(void **state)
{
	struct fx *f = *state;
	for (int i = 7; i <= 10; i++)
		f->m[i].up = false;
	snap(f);
	struct gslb_answer a = pick(f, "\2fo\7example", A, NULL);
	assert_int_equal(a.flags, GSLB_ANSWER_FALLBACK);
	assert_int_equal(a.count, 2);
	/* Fail open still prefers the primary group. */
	for (unsigned j = 0; j < a.count; j++)
		assert_int_equal(f->c->members[a.member[j]].priority, 1);
}

static struct gslb_client
v4_client(struct sockaddr_in *sin, const char *addr)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
	return (struct gslb_client){ .addr = (struct sockaddr *)sin };
}

static struct gslb_client
ecs_client(const char *addr, uint8_t source)
{
	struct gslb_client cl = { .has_ecs = true, .ecs_source = source };
	if (inet_pton(AF_INET, addr, cl.ecs_addr) == 1) {
		cl.ecs_family = 1;
	} else {
		assert_int_equal(inet_pton(AF_INET6, addr, cl.ecs_addr), 1);
		cl.ecs_family = 2;
	}
	return cl;
}

static void
hash_keeps_a_subnet_on_one_member(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sin;
	char ip[32];
	snap(f);
	for (unsigned net = 0; net < 50; net++) {
		snprintf(ip, sizeof(ip), "100.64.%u.1", net);
		struct gslb_client cl = v4_client(&sin, ip);
		struct gslb_answer first = pick(f, "\1h\7example", A, &cl);
		assert_int_equal(first.scope, 0);       /* no ECS: no scope */
		for (unsigned host = 2; host < 255; host += 17) {
			snprintf(ip, sizeof(ip), "100.64.%u.%u", net, host);
			cl = v4_client(&sin, ip);
			assert_int_equal(pick(f, "\1h\7example", A, &cl).member[0], first.member[0]);
		}
	}
}

static void
hash_moves_only_the_subnets_of_a_failed_member(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sin;
	char ip[32];
	enum { NETS = 10000 };
	static uint16_t before[NETS];
	unsigned per[5] = {0}, moved = 0, victim = member_of(f, "h3");

	snap(f);
	for (unsigned i = 0; i < NETS; i++) {
		snprintf(ip, sizeof(ip), "%u.%u.%u.9", 11 + i / 65536, (i / 256) % 256, i % 256);
		struct gslb_client cl = v4_client(&sin, ip);
		before[i] = pick(f, "\1h\7example", A, &cl).member[0];
		per[before[i] - 11]++;
	}
	for (unsigned i = 0; i < 5; i++)
		assert_true(per[i] > NETS / 5 * 0.85 && per[i] < NETS / 5 * 1.15);
	f->m[victim].up = false;
	snap(f);
	for (unsigned i = 0; i < NETS; i++) {
		snprintf(ip, sizeof(ip), "%u.%u.%u.9", 11 + i / 65536, (i / 256) % 256, i % 256);
		struct gslb_client cl = v4_client(&sin, ip);
		uint16_t now = pick(f, "\1h\7example", A, &cl).member[0];
		assert_int_not_equal(now, victim);
		if (now != before[i]) {
			assert_int_equal(before[i], victim);    /* only the victim's clients move */
			moved++;
		}
	}
	assert_int_equal(moved, per[victim - 11]);
	double frac = (double)moved / NETS;
	print_message("hash: %.3f of subnets moved after one of 5 members failed\n", frac);
	assert_true(frac > 0.15 && frac < 0.25);
	/* And they come back when it recovers. */
	f->m[victim].up = true;
	snap(f);
	for (unsigned i = 0; i < NETS; i += 7) {
		snprintf(ip, sizeof(ip), "%u.%u.%u.9", 11 + i / 65536, (i / 256) % 256, i % 256);
		struct gslb_client cl = v4_client(&sin, ip);
		assert_int_equal(pick(f, "\1h\7example", A, &cl).member[0], before[i]);
	}
}

static void
hash_uses_ecs_and_answers_with_the_hashed_prefix_as_scope(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sin;
	snap(f);
	/* ECS of a /24 hashes like a client in it, whatever the resolver's address. */
	struct gslb_client direct = v4_client(&sin, "100.70.3.77");
	uint16_t want = pick(f, "\1h\7example", A, &direct).member[0];
	struct gslb_client cl = ecs_client("100.70.3.0", 24);
	struct gslb_answer a = pick(f, "\1h\7example", A, &cl);
	assert_int_equal(a.member[0], want);
	assert_int_equal(a.scope, 24);
	/* A longer source is cut to the configured /24; a shorter one is used as is. */
	cl = ecs_client("100.70.3.200", 32);
	a = pick(f, "\1h\7example", A, &cl);
	assert_int_equal(a.scope, 24);
	assert_int_equal(a.member[0], want);
	cl = ecs_client("100.70.0.0", 16);
	assert_int_equal(pick(f, "\1h\7example", A, &cl).scope, 16);
	/* IPv6 defaults to /56. */
	cl = ecs_client("2001:db8:5:100::", 64);
	a = pick(f, "\1h\7example", AAAA, &cl);
	assert_int_equal(a.scope, 56);
	assert_int_equal(a.count, 1);
	/* Source prefix 0: the client opted out (RFC 7871 7.1.2): scope 0. */
	cl = ecs_client("0.0.0.0", 0);
	assert_int_equal(pick(f, "\1h\7example", A, &cl).scope, 0);
}

static void
topology_maps_client_subnets_to_regions_by_longest_prefix(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sin;
	snap(f);
	struct gslb_client cl = v4_client(&sin, "10.1.2.3");
	struct gslb_answer a = pick(f, "\3geo\7example", A, &cl);
	assert_int_equal(a.member[0], member_of(f, "eu1"));
	assert_int_equal(a.scope, 0);
	cl = v4_client(&sin, "10.20.2.3");      /* inside 10/8 but 10.20/16 is longer */
	assert_int_equal(pick(f, "\3geo\7example", A, &cl).member[0], member_of(f, "us1"));
}

static void
topology_by_ecs_answers_with_the_matched_prefix_as_scope(void **state)
{
	struct fx *f = *state;
	snap(f);
	struct gslb_client cl = ecs_client("10.20.5.0", 24);
	struct gslb_answer a = pick(f, "\3geo\7example", A, &cl);
	assert_int_equal(a.member[0], member_of(f, "us1"));
	assert_int_equal(a.scope, 16);
	cl = ecs_client("10.99.0.0", 24);
	a = pick(f, "\3geo\7example", A, &cl);
	assert_int_equal(a.member[0], member_of(f, "eu1"));
	assert_int_equal(a.scope, 8);
	cl = ecs_client("2001:db8:aa:1::", 56);
	a = pick(f, "\3geo\7example", A, &cl);
	assert_int_equal(a.member[0], member_of(f, "ap1"));
	assert_int_equal(a.scope, 48);
	/* No entry matches: scope is the whole source prefix. */
	cl = ecs_client("192.0.2.0", 24);
	a = pick(f, "\3geo\7example", A, &cl);
	assert_int_equal(a.count, 1);
	assert_int_equal(a.scope, 24);
}

static void
topology_falls_back_along_the_region_order(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sin;
	struct gslb_client cl = v4_client(&sin, "10.1.2.3");   /* eu: [eu, ap, us] */
	f->m[member_of(f, "eu1")].up = false;
	snap(f);
	for (int i = 0; i < 50; i++)
		assert_int_equal(pick(f, "\3geo\7example", A, &cl).member[0], member_of(f, "ap1"));
	f->m[member_of(f, "ap1")].drained = true;
	snap(f);
	assert_int_equal(pick(f, "\3geo\7example", A, &cl).member[0], member_of(f, "us1"));
}

static void
lowest_rtt_prefers_the_fastest_measured_member(void **state)
{
	struct fx *f = *state;
	for (int i = 11; i <= 15; i++)
		f->m[i].rtt_us = 5000 + 1000 * i;
	f->m[member_of(f, "h4")].rtt_us = 800;
	f->m[member_of(f, "h2")].rtt_us = -1;   /* unmeasured goes last */
	snap(f);
	assert_int_equal(pick(f, "\3rtt\7example", A, NULL).member[0], member_of(f, "h4"));
	f->m[member_of(f, "h4")].up = false;
	snap(f);
	assert_int_equal(pick(f, "\3rtt\7example", A, NULL).member[0], member_of(f, "h1"));
}

static void
fallback_all_answers_when_everything_is_down(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < 4; i++)
		f->m[i].up = false;
	f->m[2].drained = true;
	snap(f);
	unsigned seen[4] = {0};
	for (int i = 0; i < 1000; i++) {
		struct gslb_answer a = pick(f, "\1w\7example", A, NULL);
		assert_int_equal(a.count, 1);
		assert_int_equal(a.flags, GSLB_ANSWER_FALLBACK);
		seen[a.member[0]]++;
	}
	assert_int_equal(seen[2], 0);   /* drained stays out even when failing open */
	assert_true(seen[0] && seen[1] && seen[3]);
	/* Every member drained: then the drained ones, rather than nothing. */
	for (int i = 0; i < 4; i++)
		f->m[i].drained = true;
	snap(f);
	assert_int_equal(pick(f, "\1w\7example", A, NULL).count, 1);
}

static void
fallback_none_and_the_sorry_pool(void **state)
{
	struct fx *f = *state;
	f->m[member_of(f, "q1")].up = f->m[member_of(f, "q2")].up = false;
	f->m[member_of(f, "x1")].up = f->m[member_of(f, "x2")].up = false;
	snap(f);
	struct gslb_answer a = pick(f, "\5quiet\7example", A, NULL);
	assert_int_equal(a.count, 0);
	assert_int_equal(a.flags, GSLB_ANSWER_FALLBACK);
	a = pick(f, "\4main\7example", A, NULL);
	assert_int_equal(a.count, 1);
	assert_int_equal(a.member[0], member_of(f, "s1"));
	assert_int_equal(a.flags, GSLB_ANSWER_FALLBACK | GSLB_ANSWER_SORRY);
	assert_int_equal(a.ttl, 5);
	/* The sorry pool down too: it still answers (fail open inside it). */
	f->m[member_of(f, "s1")].up = false;
	snap(f);
	assert_int_equal(pick(f, "\4main\7example", A, NULL).member[0], member_of(f, "s1"));
}

static void
families_and_types_are_respected(void **state)
{
	struct fx *f = *state;
	snap(f);
	struct gslb_answer a = pick(f, "\1w\7example", AAAA, NULL);
	assert_int_equal(a.count, 1);
	assert_int_equal(a.member[0], 3);       /* the only member with an IPv6 address */
	uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 4 };
	assert_memory_equal(a.addr[0], want, 16);
	assert_int_equal(pick(f, "\3two\7example", AAAA, NULL).count, 0);  /* no v6 at all */
	assert_int_equal(pick(f, "\3two\7example", AAAA, NULL).flags, 0);
	assert_int_equal(pick(f, "\1w\7example", LDNS_RR_TYPE_MX, NULL).count, 0);
	/* The v6 member down: fail open with it rather than answer nothing. */
	f->m[3].up = false;
	snap(f);
	a = pick(f, "\1w\7example", AAAA, NULL);
	assert_int_equal(a.count, 1);
	assert_int_equal(a.flags, GSLB_ANSWER_FALLBACK);
}

static void
names_are_found_in_any_case_and_others_are_not(void **state)
{
	struct fx *f = *state;
	struct gslb_answer a;
	snap(f);
	assert_non_null(gslb_name_find(f->st, N("\3GeO\7ExAmple")));
	assert_null(gslb_name_find(f->st, N("\3www\7example")));
	assert_null(gslb_name_find(f->st, N("\3geo\7example\3com")));
	assert_int_equal(gslb_pick(f->st, N("\4none\7example"), A, NULL, &a), -ENOENT);
	assert_int_equal(a.count, 0);
}

static void
no_mix_of_health_ever_gives_an_empty_answer(void **state)
{
	struct fx *f = *state;
	static const char *names[] = { "\1w\7example", "\2rr\7example", "\3two\7example",
	                               "\2fo\7example", "\1h\7example", "\3geo\7example",
	                               "\3rtt\7example", "\4main\7example" };
	struct sockaddr_in sin;
	struct gslb_client cl = v4_client(&sin, "10.20.1.1");
	for (int round = 0; round < 2000; round++) {
		for (unsigned i = 0; i < f->c->n_members; i++) {
			unsigned r = (unsigned)rand();
			f->m[i].up = r & 1;
			f->m[i].drained = (r & 6) == 6;
		}
		snap(f);
		for (unsigned n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
			struct gslb_answer a = pick(f, names[n], A, &cl);
			assert_true(a.count >= 1);
			for (unsigned j = 0; j < a.count; j++) {
				/* A healthy answer holds only healthy, undrained members. */
				if (!(a.flags & GSLB_ANSWER_FALLBACK))
					assert_true(f->m[a.member[j]].up && !f->m[a.member[j]].drained);
			}
		}
	}
}

/* gslb_explain() runs gslb_pick()'s decision code with a trace: for every policy, random
 * health, clients and ECS, the same seed gives the same answer, and the trace agrees with it
 * (answered members are marked, healthy answers hold candidates only, the hash winner has the
 * highest score, failover answers come from the chosen group). */
static void
explain_agrees_with_pick_for_every_policy(void **state)
{
	struct fx *f = *state;
	static const char *names[] = { "\1w\7example", "\2rr\7example", "\3two\7example",
	                               "\2fo\7example", "\1h\7example", "\3geo\7example",
	                               "\3rtt\7example", "\5quiet\7example", "\4main\7example" };
	static const char *clients[] = { "10.20.1.1", "10.1.2.3", "192.0.2.77", "198.51.100.9" };
	struct gslb_trace *tr = malloc(sizeof(*tr));
	assert_non_null(tr);
	for (int round = 0; round < 500; round++) {
		for (unsigned i = 0; i < f->c->n_members; i++) {
			unsigned r = (unsigned)rand();
			f->m[i].up = (r & 3) != 0;
			f->m[i].drained = (r & 12) == 12;
			f->m[i].rtt_us = (r >> 4) % 3 == 0 ? -1 : (int64_t)(r >> 6) % 5000;
		}
		snap(f);
		struct sockaddr_in sin;
		struct gslb_client cl = v4_client(&sin, clients[round % 4]);
		if (round % 3 == 0)
			cl = ecs_client(clients[(round / 3) % 4], (uint8_t)(8 + round % 25));
		for (unsigned n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
			for (int t = 0; t < 2; t++) {
				uint16_t qtype = t == 0 ? A : AAAA;
				struct gslb_answer a, b;
				uint64_t seed = (uint64_t)round * 977 + n;
				gslb_pick_seed(seed);
				assert_int_equal(gslb_pick(f->st, N(names[n]), qtype, &cl, &a), 0);
				gslb_pick_seed(seed);
				assert_int_equal(gslb_explain(f->st, N(names[n]), qtype, &cl, &b, tr), 0);
				assert_int_equal(a.count, b.count);
				assert_int_equal(a.flags, b.flags);
				assert_int_equal(a.scope, b.scope);
				assert_int_equal(a.ttl, b.ttl);
				assert_memory_equal(a.member, b.member, a.count * sizeof(a.member[0]));
				assert_int_equal(tr->flags, a.flags);
				unsigned marked = 0;
				double best = -1, won = -1;
				for (unsigned i = 0; i < tr->n; i++) {
					const struct gslb_trace_member *m = &tr->m[i];
					assert_int_equal(m->up, f->m[m->index].up);
					assert_int_equal(m->drained, f->m[m->index].drained);
					if (m->scored && m->score > best)
						best = m->score;
					if (m->answer < 0)
						continue;
					marked++;
					assert_true((unsigned)m->answer < a.count);
					assert_int_equal(a.member[m->answer], m->index);
					if (m->answer == 0 && m->scored)
						won = m->score;
					if (!(a.flags & GSLB_ANSWER_FALLBACK))
						assert_int_equal(m->state, GSLB_TM_CANDIDATE);
					if (tr->n_groups > 0 && !(a.flags & GSLB_ANSWER_FALLBACK))
						assert_int_equal(m->priority, tr->group);
				}
				assert_int_equal(marked, a.count);
				if (a.count > 0 && best >= 0)
					assert_true(won == best);
			}
		}
	}
	free(tr);
}

/* The trace of a failover pool whose primary group falls below min-healthy names the
 * groups, their healthy counts and the one that answered. */
static void
explain_names_the_failover_group_and_why(void **state)
{
	struct fx *f = *state;
	struct gslb_trace *tr = malloc(sizeof(*tr));
	struct gslb_answer a;
	assert_non_null(tr);
	f->m[member_of(f, "p2")].drained = true;
	snap(f);
	assert_int_equal(gslb_explain(f->st, N("\2fo\7example"), A, NULL, &a, tr), 0);
	assert_int_equal(tr->policy, GSLB_FAILOVER);
	assert_string_equal(tr->pool, "fo");
	assert_int_equal(tr->n_groups, 2);
	assert_int_equal(tr->groups[0].priority, 1);
	assert_int_equal(tr->groups[0].healthy, 1);
	assert_int_equal(tr->groups[1].priority, 2);
	assert_int_equal(tr->groups[1].healthy, 2);
	assert_true(tr->group_chosen && !tr->group_under_min);
	assert_int_equal(tr->group, 2);
	assert_int_equal(tr->drained, 1);
	assert_int_equal(a.count, 2);
	/* Not dynamic: -ENOENT and no trace to read. */
	assert_int_equal(gslb_explain(f->st, N("\4none\7example"), A, NULL, &a, tr), -ENOENT);
	free(tr);
}

/* ---- GeoIP (libmaxminddb) ------------------------------------------------------------------ */

/* A real .mmdb made by tests/system/helpers/make-mmdb.pl (MaxMind::DB::Writer): 127.0.1.0/24
 * and 2001:db8:1::/48 are DE, 127.0.2.0/24 US, 127.0.3.0/24 FR (no region below). The CIDR
 * entry 127.0.2.128/25 overrides GeoIP for half of the US network: CIDR entries come first. */
static const char geo_conf_fmt[] =
	"gslb:\n"
	"  pools:\n"
	"    geo:\n"
	"      members:\n"
	"        - { name: eu1, address: 192.0.2.101, region: eu }\n"
	"        - { name: us1, address: 192.0.2.102, region: us }\n"
	"        - { name: ap1, address: 192.0.2.103, region: ap }\n"
	"  topology:\n"
	"    - { subnet: 127.0.2.128/25, region: ap }\n"
	"  region-order: [ap]\n"
	"  geoip: %s\n"
	"  geoip-regions: { DE: eu, US: us }\n"
	"  names:\n"
	"    - { name: geo.example., pool: geo, policy: topology }\n";

struct geo_fx {
	char dir[64], mmdb[96];
	struct gslb_conf *c;
	struct gslb_state *st;
};

static int
geo_setup(void **state)
{
	struct geo_fx *g = calloc(1, sizeof(*g));
	assert_non_null(g);
	*state = g;
	return 0;
}

static int
geo_teardown(void **state)
{
	struct geo_fx *g = *state;
	gslb__state_free(g->st);
	gslb_conf_free(g->c);
	if (g->mmdb[0])
		unlink(g->mmdb);
	if (g->dir[0])
		rmdir(g->dir);
	free(g);
	return 0;
}

/* Builds the database and loads the configuration; false (the caller skips) when this build
 * has no libmaxminddb or perl lacks MaxMind::DB::Writer. */
static bool
geo_load(struct geo_fx *g)
{
#ifndef HAVE_MAXMINDDB
	print_message("skipped: built without libmaxminddb\n");
	return false;
#else
	char cmd[512], conf[2048];
	/* automake's test driver exports srcdir; run by hand from the build dir, ".." works. */
	const char *srcdir = getenv("srcdir") ? getenv("srcdir") : "..";
	if (system("perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null") != 0) {
		print_message("skipped: perl module MaxMind::DB::Writer::Tree missing "
		              "(apt-get install libmaxmind-db-writer-perl)\n");
		return false;
	}
	snprintf(g->dir, sizeof(g->dir), "/tmp/sp-geoip-XXXXXX");
	assert_non_null(mkdtemp(g->dir));
	snprintf(g->mmdb, sizeof(g->mmdb), "%s/geo.mmdb", g->dir);
	snprintf(cmd, sizeof(cmd), "perl %s/tests/system/helpers/make-mmdb.pl %s", srcdir, g->mmdb);
	assert_int_equal(system(cmd), 0);
	snprintf(conf, sizeof(conf), geo_conf_fmt, g->mmdb);
	assert_int_equal(gslb_conf_load("geo.yaml", conf, &g->c), 0);
	assert_non_null(g->c->geoip);
	struct gslb_mstate m[3];
	for (unsigned i = 0; i < 3; i++)
		m[i] = (struct gslb_mstate){ .up = true, .weight = g->c->members[i].weight,
		                             .rtt_us = -1 };
	g->st = gslb__state_new(g->c, m);
	assert_non_null(g->st);
	return true;
#endif
}

static int
geo_member(struct geo_fx *g, const char *name)
{
	for (unsigned i = 0; i < g->c->n_members; i++) {
		if (strcmp(g->c->members[i].name, name) == 0)
			return (int)i;
	}
	fail_msg("no member %s", name);
	return -1;
}

/* Picks geo.example. A for cl with a trace; returns the answered member's name. */
static const char *
geo_pick(struct geo_fx *g, const struct gslb_client *cl, struct gslb_answer *a,
         struct gslb_trace *tr)
{
	assert_int_equal(gslb_explain(g->st, N("\3geo\7example"), A, cl, a, tr), 0);
	assert_int_equal(a->count, 1);
	return g->c->members[a->member[0]].name;
}

static void
geoip_maps_source_addresses_to_regions_with_the_network_prefix(void **state)
{
	struct geo_fx *g = *state;
	if (!geo_load(g)) {
		skip();
		return;
	}
	struct gslb_trace *tr = calloc(1, sizeof(*tr));
	struct gslb_answer a;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	struct gslb_client cl = v4_client(&sin, "127.0.1.77");
	assert_string_equal(geo_pick(g, &cl, &a, tr), "eu1");
	assert_int_equal(tr->region_source, GSLB_REGION_GEOIP);
	assert_string_equal(tr->region_country, "DE");
	assert_string_equal(tr->region, "eu");
	/* The IPv4 network's own length, not its length in the IPv6 tree (/120). */
	assert_int_equal(tr->region_prefix, 24);
	assert_int_equal(a.scope, 0);                   /* no ECS, no scope */

	cl = v4_client(&sin, "127.0.2.5");
	assert_string_equal(geo_pick(g, &cl, &a, tr), "us1");
	assert_string_equal(tr->region_country, "US");
	assert_int_equal(tr->region_prefix, 24);

	/* The CIDR entry 127.0.2.128/25 is tried before GeoIP. */
	cl = v4_client(&sin, "127.0.2.200");
	assert_string_equal(geo_pick(g, &cl, &a, tr), "ap1");
	assert_int_equal(tr->region_source, GSLB_REGION_CIDR);
	assert_int_equal(tr->region_prefix, 25);

	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:ff::9", &sin6.sin6_addr), 1);
	cl = (struct gslb_client){ .addr = (struct sockaddr *)&sin6 };
	assert_string_equal(geo_pick(g, &cl, &a, tr), "eu1");
	assert_string_equal(tr->region_country, "DE");
	assert_int_equal(tr->region_prefix, 48);
	free(tr);
}

static void
geoip_outside_the_database_or_without_a_region_follows_the_region_order(void **state)
{
	struct geo_fx *g = *state;
	if (!geo_load(g)) {
		skip();
		return;
	}
	struct gslb_trace *tr = calloc(1, sizeof(*tr));
	struct gslb_answer a;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	/* FR is in the database but geoip-regions does not name it; 127.0.9.1, 2001:db8:2::1
	 * and 10.1.1.1 are in no network. All go to the global region-order: ap. */
	const char *v4[] = { "127.0.3.9", "127.0.9.1", "10.1.1.1", "127.0.0.1" };
	for (unsigned i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		struct gslb_client cl = v4_client(&sin, v4[i]);
		for (int k = 0; k < 20; k++)
			assert_string_equal(geo_pick(g, &cl, &a, tr), "ap1");
		assert_null(tr->region);
		assert_int_equal(tr->region_source, GSLB_REGION_NONE);
		assert_int_equal(tr->region_step, 1);
	}
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:2::1", &sin6.sin6_addr), 1);
	struct gslb_client cl = { .addr = (struct sockaddr *)&sin6 };
	assert_string_equal(geo_pick(g, &cl, &a, tr), "ap1");
	assert_null(tr->region);
	free(tr);
}

static void
geoip_by_ecs_answers_with_the_database_prefix_as_scope(void **state)
{
	struct geo_fx *g = *state;
	if (!geo_load(g)) {
		skip();
		return;
	}
	struct gslb_answer a;
	struct gslb_client cl = ecs_client("127.0.1.0", 24);
	assert_int_equal(gslb_pick(g->st, N("\3geo\7example"), A, &cl, &a), 0);
	assert_int_equal(a.member[0], geo_member(g, "eu1"));
	assert_int_equal(a.scope, 24);
	/* A /32 source inside a /24 network: the scope is the network, 24 (RFC 7871 7.2.1). */
	cl = ecs_client("127.0.2.9", 32);
	assert_int_equal(gslb_pick(g->st, N("\3geo\7example"), A, &cl, &a), 0);
	assert_int_equal(a.member[0], geo_member(g, "us1"));
	assert_int_equal(a.scope, 24);
	cl = ecs_client("2001:db8:1:4400::", 56);
	assert_int_equal(gslb_pick(g->st, N("\3geo\7example"), A, &cl, &a), 0);
	assert_int_equal(a.member[0], geo_member(g, "eu1"));
	assert_int_equal(a.scope, 48);
	/* A country without a region, and no network at all: scope is the source prefix. */
	cl = ecs_client("127.0.3.0", 24);
	assert_int_equal(gslb_pick(g->st, N("\3geo\7example"), A, &cl, &a), 0);
	assert_int_equal(a.member[0], geo_member(g, "ap1"));
	assert_int_equal(a.scope, 24);
	cl = ecs_client("198.51.0.0", 16);
	assert_int_equal(gslb_pick(g->st, N("\3geo\7example"), A, &cl, &a), 0);
	assert_int_equal(a.member[0], geo_member(g, "ap1"));
	assert_int_equal(a.scope, 16);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(weighted_picks_follow_the_weights_within_chi_square),
		T(a_down_or_drained_member_is_never_answered),
		T(max_answers_gives_that_many_distinct_addresses),
		T(round_robin_rotates_the_order),
		T(failover_answers_the_primary_group_while_it_is_healthy),
		T(failover_moves_to_backup_when_the_primary_lacks_min_healthy),
		T(failover_with_everything_down_falls_back_to_all),
		T(hash_keeps_a_subnet_on_one_member),
		T(hash_moves_only_the_subnets_of_a_failed_member),
		T(hash_uses_ecs_and_answers_with_the_hashed_prefix_as_scope),
		T(topology_maps_client_subnets_to_regions_by_longest_prefix),
		T(topology_by_ecs_answers_with_the_matched_prefix_as_scope),
		T(topology_falls_back_along_the_region_order),
		T(lowest_rtt_prefers_the_fastest_measured_member),
		T(fallback_all_answers_when_everything_is_down),
		T(fallback_none_and_the_sorry_pool),
		T(families_and_types_are_respected),
		T(names_are_found_in_any_case_and_others_are_not),
		T(no_mix_of_health_ever_gives_an_empty_answer),
		T(explain_agrees_with_pick_for_every_policy),
#define G(fn) cmocka_unit_test_setup_teardown(fn, geo_setup, geo_teardown)
		G(geoip_maps_source_addresses_to_regions_with_the_network_prefix),
		G(geoip_outside_the_database_or_without_a_region_follows_the_region_order),
		G(geoip_by_ecs_answers_with_the_database_prefix_as_scope),
		T(explain_names_the_failover_group_and_why),
	};
	log_init("test_gslb_pick", LOG_LVL_WARN, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
