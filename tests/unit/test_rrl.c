/* test_rrl.c - server/rrl.c: the token bucket, the slip sequence, client prefixes and
 * the slot key, the whitelist, and the rrl: section of the configuration. The clock is
 * passed in (rrl__account()), so every test is exact. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "lib/errors.h"
#include "server/abuse.h"
#include "server/config.h"

#define N(s) ((const uint8_t *)(s))

static struct rrl_table *
table_new(uint32_t rate, uint32_t slip, uint32_t size)
{
	struct rrl_conf c = {
		.enabled = true, .rate = rate, .slip = slip, .ipv4_prefix = 24, .ipv6_prefix = 56,
		.table_size = size,
	};
	struct rrl_table *t = calloc(1, sizeof(*t) + size * sizeof(struct rrl_slot));
	assert_non_null(t);
	static const uint8_t seed[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	rrl_table_init(t, &c, seed);
	return t;
}

static struct sockaddr_in
v4(const char *text)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(5353) };
	assert_int_equal(inet_pton(AF_INET, text, &sin.sin_addr), 1);
	return sin;
}

static struct sockaddr_in6
v6(const char *text)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(5353) };
	assert_int_equal(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1);
	return sin6;
}

static void
a_fresh_bucket_allows_one_second_of_burst_then_limits(void **state)
{
	struct rrl_table *t = table_new(10, 0, 1024);
	for (int i = 0; i < 10; i++)
		assert_int_equal(rrl__account(t, 42, 1000), RRL_PASS);
	assert_int_equal(rrl__account(t, 42, 1000), RRL_DROP);
	assert_int_equal(rrl__account(t, 42, 1050), RRL_DROP);    /* half a token */
	free(t);
}

static void
tokens_come_back_at_the_rate_without_losing_fractions(void **state)
{
	struct rrl_table *t = table_new(10, 0, 1024);
	for (int i = 0; i < 10; i++)
		rrl__account(t, 7, 5000);
	/* One token per 100 ms, even when asked every 60 ms (fractions carried). */
	unsigned passed = 0;
	for (uint32_t ms = 5000 + 60; ms <= 5000 + 900; ms += 60)
		passed += rrl__account(t, 7, ms) == RRL_PASS;
	assert_int_equal(passed, 9);
	/* Idle for more than a second: full again, no more. */
	passed = 0;
	for (int i = 0; i < 20; i++)
		passed += rrl__account(t, 7, 10000) == RRL_PASS;
	assert_int_equal(passed, 10);
	free(t);
}

static void
a_steady_flood_gets_the_rate_and_no_more(void **state)
{
	struct rrl_table *t = table_new(50, 0, 1024);
	unsigned passed = 0;
	/* 1000 queries a second for 10 s: 50/s plus the first second's burst. */
	for (uint32_t ms = 0; ms < 10000; ms++)
		passed += rrl__account(t, 99, 100000 + ms) == RRL_PASS;
	assert_in_range(passed, 50 * 10, 50 * 10 + 50);
	free(t);
}

static void
slip_two_truncates_every_second_limited_answer(void **state)
{
	struct rrl_table *t = table_new(1, 2, 1024);
	assert_int_equal(rrl__account(t, 5, 0), RRL_PASS);
	enum rrl_verdict want[] = { RRL_DROP, RRL_SLIP, RRL_DROP, RRL_SLIP, RRL_DROP, RRL_SLIP };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(rrl__account(t, 5, 10), want[i]);
	free(t);
}

static void
slip_one_truncates_all_and_zero_drops_all(void **state)
{
	struct rrl_table *one = table_new(1, 1, 1024), *zero = table_new(1, 0, 1024);
	rrl__account(one, 5, 0);
	rrl__account(zero, 5, 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(rrl__account(one, 5, 10), RRL_SLIP);
		assert_int_equal(rrl__account(zero, 5, 10), RRL_DROP);
	}
	free(one);
	free(zero);
}

static void
slip_three_truncates_every_third(void **state)
{
	struct rrl_table *t = table_new(1, 3, 1024);
	rrl__account(t, 5, 0);
	unsigned slips = 0;
	for (int i = 0; i < 300; i++)
		slips += rrl__account(t, 5, 10) == RRL_SLIP;
	assert_int_equal(slips, 100);
	free(t);
}

static void
keys_in_other_slots_have_their_own_buckets(void **state)
{
	struct rrl_table *t = table_new(2, 0, 1024);
	assert_int_equal(rrl__account(t, 1, 0), RRL_PASS);
	assert_int_equal(rrl__account(t, 1, 0), RRL_PASS);
	assert_int_equal(rrl__account(t, 1, 0), RRL_DROP);
	assert_int_equal(rrl__account(t, 2, 0), RRL_PASS);
	/* Same slot (low bits), other tag: the newcomer takes the slot with a full bucket. */
	uint64_t other = 1 | (uint64_t)0x5 << 60;
	assert_int_equal(rrl__account(t, other, 0), RRL_PASS);
	free(t);
}

static void
addresses_in_one_prefix_share_a_key(void **state)
{
	struct rrl_table *t = table_new(10, 2, 1024);
	struct sockaddr_in a = v4("192.0.2.1"), b = v4("192.0.2.250"), c = v4("192.0.3.1");
	const uint8_t *www = N("\3www\7example");
	uint64_t ka = rrl__key(t, (struct sockaddr *)&a, RRL_ANSWER, www, 1);
	assert_int_equal(ka, rrl__key(t, (struct sockaddr *)&b, RRL_ANSWER, www, 1));
	assert_int_not_equal(ka, rrl__key(t, (struct sockaddr *)&c, RRL_ANSWER, www, 1));

	uint8_t p[17];
	rrl__prefix(t, (struct sockaddr *)&b, p);
	static const uint8_t want4[17] = { 4, 192, 0, 2, 0 };
	assert_memory_equal(p, want4, 17);

	struct sockaddr_in6 x = v6("2001:db8:1:ff::1"), y = v6("2001:db8:1:1::2"),
	                    z = v6("2001:db8:1:100::1");
	rrl__prefix(t, (struct sockaddr *)&x, p);
	static const uint8_t want6[17] = { 6, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0 };
	assert_memory_equal(p, want6, 17);
	uint64_t kx = rrl__key(t, (struct sockaddr *)&x, RRL_ANSWER, www, 1);
	assert_int_equal(kx, rrl__key(t, (struct sockaddr *)&y, RRL_ANSWER, www, 1));
	assert_int_not_equal(kx, rrl__key(t, (struct sockaddr *)&z, RRL_ANSWER, www, 1));
	free(t);
}

static void
key_depends_on_class_name_and_type_but_not_case(void **state)
{
	struct rrl_table *t = table_new(10, 2, 1024);
	struct sockaddr_in a = v4("198.51.100.7");
	const struct sockaddr *sa = (struct sockaddr *)&a;
	const uint8_t *www = N("\3www\7example"), *WwW = N("\3WwW\7eXample"), *ftp = N("\3ftp\7example");
	uint64_t k = rrl__key(t, sa, RRL_ANSWER, www, 1);
	assert_int_equal(k, rrl__key(t, sa, RRL_ANSWER, WwW, 1));
	assert_int_not_equal(k, rrl__key(t, sa, RRL_ANSWER, ftp, 1));
	assert_int_not_equal(k, rrl__key(t, sa, RRL_ANSWER, www, 28));
	assert_int_not_equal(k, rrl__key(t, sa, RRL_NODATA, www, 1));
	/* Errors are per client alone; NXDOMAIN per zone whatever the type. */
	assert_int_equal(rrl__key(t, sa, RRL_ERROR, www, 1), rrl__key(t, sa, RRL_ERROR, ftp, 16));
	const uint8_t *zone = N("\7example");
	assert_int_equal(rrl__key(t, sa, RRL_NXDOMAIN, zone, 1),
	                 rrl__key(t, sa, RRL_NXDOMAIN, zone, 28));
	free(t);
}

static void
whitelisted_prefixes_match_by_their_length(void **state)
{
	struct rrl_conf c = { 0 };
	assert_true(abuse_parse_prefix("10.0.0.0/8", &c.whitelist[0]));
	assert_true(abuse_parse_prefix("2001:db8::/32", &c.whitelist[1]));
	assert_true(abuse_parse_prefix("192.0.2.7", &c.whitelist[2]));
	c.nwhitelist = 3;
	struct sockaddr_in in = v4("10.200.3.4"), out = v4("11.0.0.1"), host = v4("192.0.2.7"),
	                   near = v4("192.0.2.8");
	struct sockaddr_in6 in6 = v6("2001:db8:ffff::1"), out6 = v6("2001:db9::1");
	assert_true(rrl__whitelisted(&c, (struct sockaddr *)&in));
	assert_false(rrl__whitelisted(&c, (struct sockaddr *)&out));
	assert_true(rrl__whitelisted(&c, (struct sockaddr *)&host));
	assert_false(rrl__whitelisted(&c, (struct sockaddr *)&near));
	assert_true(rrl__whitelisted(&c, (struct sockaddr *)&in6));
	assert_false(rrl__whitelisted(&c, (struct sockaddr *)&out6));
}

static void
bad_prefixes_are_refused(void **state)
{
	struct abuse_prefix p;
	assert_false(abuse_parse_prefix("10.0.0.1/8", &p));     /* host bits */
	assert_false(abuse_parse_prefix("10.0.0.0/33", &p));
	assert_false(abuse_parse_prefix("10.0.0.0/", &p));
	assert_false(abuse_parse_prefix("10.0.0.0/-1", &p));
	assert_false(abuse_parse_prefix("example.com/24", &p));
	assert_false(abuse_parse_prefix("::/129", &p));
	assert_true(abuse_parse_prefix("::/0", &p));
	assert_int_equal(p.len, 0);
}

static struct daemon_conf *
parse(const char *text, char *err)
{
	struct daemon_conf *c = NULL;
	int rc = daemon_conf_parse("t.conf", NULL, text, strlen(text), &c, err, CONF_ERRLEN);
	if (rc != 0)
		return NULL;
	return c;
}

static void
rrl_section_sets_every_key(void **state)
{
	char err[CONF_ERRLEN] = "";
	struct daemon_conf *c = parse("rrl:\n  responses-per-second: 7\n  slip: 3\n"
	                              "  ipv4-prefix: 32\n  ipv6-prefix: 64\n  table-size: 3000\n"
	                              "  whitelist: [127.0.0.0/8, '::1/128']\n"
	                              "  exempt-valid-cookies: true\n", err);
	assert_non_null(c);
	assert_true(c->abuse.rrl.enabled);
	assert_int_equal(c->abuse.rrl.rate, 7);
	assert_int_equal(c->abuse.rrl.slip, 3);
	assert_int_equal(c->abuse.rrl.ipv4_prefix, 32);
	assert_int_equal(c->abuse.rrl.ipv6_prefix, 64);
	assert_int_equal(c->abuse.rrl.table_size, 4096);   /* the next power of two */
	assert_int_equal(c->abuse.rrl.nwhitelist, 2);
	assert_true(c->abuse.rrl.exempt_cookies);
	daemon_conf_free(c);

	c = parse("server:\n  workers: 1\n", err);
	assert_non_null(c);
	assert_false(c->abuse.rrl.enabled);     /* off without the section */
	assert_false(c->abuse.cookies.enabled);
	daemon_conf_free(c);
}

static void
rrl_mistakes_name_the_line_and_key(void **state)
{
	char err[CONF_ERRLEN];
	static const struct { const char *text, *msg; } bad[] = {
		{ "rrl:\n  responses-per-second: 0\n", "t.conf:2: rrl.responses-per-second: must be 1..100000" },
		{ "rrl:\n  slip: 11\n", "t.conf:2: rrl.slip: must be 0..10" },
		{ "rrl:\n  ipv4-prefix: 33\n", "t.conf:2: rrl.ipv4-prefix: must be 8..32" },
		{ "rrl:\n  whitelist: [10.0.0.1/8]\n", "t.conf:2: rrl.whitelist[0]: not a prefix" },
		{ "rrl:\n  colour: red\n", "t.conf:2: unknown key 'colour' in 'rrl'" },
		{ "rrl:\n  slip: 1\n  slip: 2\n", "t.conf:3: rrl: duplicate key 'slip'" },
		{ "rrl: 5\n", "t.conf:1: rrl: not a mapping (found a scalar)" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_null(parse(bad[i].text, err));
		if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0)
			fail_msg("'%s' gave '%s', want '%s...'", bad[i].text, err, bad[i].msg);
	}
}

/* A reload with the same settings keeps the buckets (abuse_rrl_keep()); other settings
 * start afresh. */
static void
a_reload_with_the_same_settings_keeps_the_buckets(void **state)
{
	struct rrl_table *run = table_new(10, 0, 1024);
	for (int i = 0; i < 10; i++)
		assert_int_equal(rrl__account(run, 42, 1000), RRL_PASS);
	assert_int_equal(rrl__account(run, 42, 1000), RRL_DROP);

	/* Same settings, another seed (each publication draws one): the old seed and the
	 * empty bucket go along, so the key is still limited. */
	struct rrl_table *next = table_new(10, 0, 1024);
	next->seed[0] ^= 0xff;
	assert_true(abuse_rrl_keep(next, run));
	assert_memory_equal(next->seed, run->seed, 16);
	assert_int_equal(rrl__account(next, 42, 1010), RRL_DROP);
	struct sockaddr_in a = v4("192.0.2.1");
	assert_true(rrl__key(next, (struct sockaddr *)&a, RRL_ANSWER, N("\3www\0"), 1) ==
	            rrl__key(run, (struct sockaddr *)&a, RRL_ANSWER, N("\3www\0"), 1));
	free(next);

	/* Another rate, slip, size or whitelist: not kept, the new table stays empty. */
	next = table_new(11, 0, 1024);
	assert_false(abuse_rrl_keep(next, run));
	assert_int_equal(rrl__account(next, 42, 1010), RRL_PASS);
	free(next);
	next = table_new(10, 1, 1024);
	assert_false(abuse_rrl_keep(next, run));
	free(next);
	next = table_new(10, 0, 2048);
	assert_false(abuse_rrl_keep(next, run));
	free(next);
	next = table_new(10, 0, 1024);
	next->conf.nwhitelist = 1;
	assert_true(abuse_parse_prefix("10.0.0.0/8", &next->conf.whitelist[0]));
	assert_false(abuse_rrl_keep(next, run));
	free(next);
	/* Off before or after: nothing to keep. */
	assert_false(abuse_rrl_keep(NULL, run));
	next = table_new(10, 0, 1024);
	assert_false(abuse_rrl_keep(next, NULL));
	free(next);
	free(run);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_fresh_bucket_allows_one_second_of_burst_then_limits),
		cmocka_unit_test(tokens_come_back_at_the_rate_without_losing_fractions),
		cmocka_unit_test(a_steady_flood_gets_the_rate_and_no_more),
		cmocka_unit_test(slip_two_truncates_every_second_limited_answer),
		cmocka_unit_test(slip_one_truncates_all_and_zero_drops_all),
		cmocka_unit_test(slip_three_truncates_every_third),
		cmocka_unit_test(keys_in_other_slots_have_their_own_buckets),
		cmocka_unit_test(a_reload_with_the_same_settings_keeps_the_buckets),
		cmocka_unit_test(addresses_in_one_prefix_share_a_key),
		cmocka_unit_test(key_depends_on_class_name_and_type_but_not_case),
		cmocka_unit_test(whitelisted_prefixes_match_by_their_length),
		cmocka_unit_test(bad_prefixes_are_refused),
		cmocka_unit_test(rrl_section_sets_every_key),
		cmocka_unit_test(rrl_mistakes_name_the_line_and_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
