/* test_cookies.c - server/cookies.c: SipHash-2-4, RFC 9018 server cookies (the
 * test vectors of its appendix A), their validation and lifetime, secret rotation, and
 * the cookies: section of the configuration. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "server/abuse.h"
#include "server/config.h"

static void
hex(const char *s, uint8_t *out)
{
	size_t n = strlen(s) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static struct sockaddr_storage
addr(const char *text)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
	}
	return ss;
}

static struct cookie_conf
conf(const char *secret, uint32_t rotate)
{
	struct cookie_conf c = { .enabled = true, .rotate_s = rotate };
	hex(secret, c.secret);
	return c;
}

#define SECRET "e5e973e5a6b2a43f48e7dc849e37bfcf"

static void
siphash24_matches_the_paper_vector(void **state)
{
	/* SipHash paper, appendix A: key 00..0f, message 00..0e -> a129ca6149be45e5. */
	uint8_t key[16], msg[64], out[8];
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	cookie_siphash24(key, msg, 15, out);
	static const uint8_t want15[8] = { 0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1 };
	assert_memory_equal(out, want15, 8);
	/* The empty message and a whole block: first and ninth lines of vectors.h. */
	cookie_siphash24(key, msg, 0, out);
	static const uint8_t want0[8] = { 0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72 };
	assert_memory_equal(out, want0, 8);
	cookie_siphash24(key, msg, 8, out);
	static const uint8_t want8[8] = { 0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93 };
	assert_memory_equal(out, want8, 8);
}

static void
server_cookies_match_rfc9018_appendix_a(void **state)
{
	static const struct {
		const char *client, *ip, *want;
		uint32_t ts;
	} v[] = {
		{ "2464c4abcf10c957", "198.51.100.100", "010000005cf79f111f8130c3eee29480", 1559731985 },
		{ "2464c4abcf10c957", "198.51.100.100", "010000005cf7a871d4a564a1442aca77", 1559734385 },
		{ "fc93fc62807ddb86", "203.0.113.203", "010000005cf7a9acf73a7810aca2381e", 1559734700 },
	};
	uint8_t secret[16], client[8], want[16], out[16];
	hex(SECRET, secret);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sockaddr_storage a = addr(v[i].ip);
		hex(v[i].client, client);
		hex(v[i].want, want);
		cookie_make(secret, client, (struct sockaddr *)&a, v[i].ts, out);
		assert_memory_equal(out, want, 16);
	}
}

static void
a_client_cookie_alone_gets_a_fresh_server_cookie(void **state)
{
	struct cookie_conf c = conf(SECRET, 0);
	struct sockaddr_storage a = addr("198.51.100.100");
	uint8_t q[8], out[24], want[24];
	hex("2464c4abcf10c957", q);
	hex("2464c4abcf10c957010000005cf79f111f8130c3eee29480", want);
	assert_int_equal(cookie_check(&c, (struct sockaddr *)&a, q, 8, 1559731985, out), COOKIE_CLIENT);
	assert_memory_equal(out, want, 24);
}

static void
a_valid_cookie_is_renewed_after_half_an_hour(void **state)
{
	/* RFC 9018 A.2: 40 minutes later, the same client: valid, and renewed. */
	struct cookie_conf c = conf(SECRET, 0);
	struct sockaddr_storage a = addr("198.51.100.100");
	uint8_t q[24], out[24], want[24];
	hex("2464c4abcf10c957010000005cf79f111f8130c3eee29480", q);
	hex("2464c4abcf10c957010000005cf7a871d4a564a1442aca77", want);
	assert_int_equal(cookie_check(&c, (struct sockaddr *)&a, q, 24, 1559734385, out), COOKIE_VALID);
	assert_memory_equal(out, want, 24);
	/* Ten minutes after it was made: valid and sent back unchanged. */
	assert_int_equal(cookie_check(&c, (struct sockaddr *)&a, q, 24, 1559731985 + 600, out),
	                 COOKIE_VALID);
	assert_memory_equal(out, q, 24);
}

static void
stale_future_wrong_or_foreign_cookies_are_not_valid(void **state)
{
	struct cookie_conf c = conf(SECRET, 0);
	struct sockaddr_storage a = addr("198.51.100.100"), other = addr("198.51.100.101");
	uint8_t q[24], out[24], fresh[16];
	hex("2464c4abcf10c957010000005cf79f111f8130c3eee29480", q);
	uint32_t made = 1559731985;
	const struct sockaddr *sa = (struct sockaddr *)&a;
	/* Older than an hour, or more than five minutes ahead. */
	assert_int_equal(cookie_check(&c, sa, q, 24, made + 3601, out), COOKIE_CLIENT);
	assert_int_equal(cookie_check(&c, sa, q, 24, made - 301, out), COOKIE_CLIENT);
	assert_int_equal(cookie_check(&c, sa, q, 24, made - 299, out), COOKIE_VALID);
	/* A fresh cookie comes back for the stale one, made now. */
	assert_int_equal(cookie_check(&c, sa, q, 24, made + 4000, out), COOKIE_CLIENT);
	cookie_make(c.secret, q, sa, made + 4000, fresh);
	assert_memory_equal(out + 8, fresh, 16);
	/* Another address, a flipped hash bit, another secret, another client cookie. */
	assert_int_equal(cookie_check(&c, (struct sockaddr *)&other, q, 24, made, out), COOKIE_CLIENT);
	q[23] ^= 1;
	assert_int_equal(cookie_check(&c, sa, q, 24, made, out), COOKIE_CLIENT);
	q[23] ^= 1;
	struct cookie_conf c2 = conf("00112233445566778899aabbccddeeff", 0);
	assert_int_equal(cookie_check(&c2, sa, q, 24, made, out), COOKIE_CLIENT);
	q[0] ^= 1;
	assert_int_equal(cookie_check(&c, sa, q, 24, made, out), COOKIE_CLIENT);
	q[0] ^= 1;
	/* Reserved octets must be zero, the version 1, the length ours (16). */
	q[9] = 1;
	assert_int_equal(cookie_check(&c, sa, q, 24, made, out), COOKIE_CLIENT);
	q[9] = 0;
	q[8] = 2;
	assert_int_equal(cookie_check(&c, sa, q, 24, made, out), COOKIE_CLIENT);
	q[8] = 1;
	assert_int_equal(cookie_check(&c, sa, q, 20, made, out), COOKIE_CLIENT);
	assert_int_equal(cookie_check(&c, sa, q, 24, made, out), COOKIE_VALID);
}

static void
rotation_accepts_the_previous_key_and_changes_the_current(void **state)
{
	struct cookie_conf c = conf(SECRET, 3600);
	struct sockaddr_storage a = addr("2001:db8::53");
	const struct sockaddr *sa = (struct sockaddr *)&a;
	uint8_t cur[16], prev[16], later_cur[16], later_prev[16], q[24], out[24];
	uint32_t t = 1700000000 - 1700000000 % 3600 + 3500;    /* 100 s before a period ends */

	cookie__keys(&c, t, cur, prev);
	assert_memory_not_equal(cur, prev, 16);
	assert_memory_not_equal(cur, c.secret, 16);
	cookie__keys(&c, t + 200, later_cur, later_prev);
	assert_memory_equal(later_prev, cur, 16);       /* the period turned */

	hex("0102030405060708", q);
	assert_int_equal(cookie_check(&c, sa, q, 8, t, out), COOKIE_CLIENT);
	memcpy(q, out, 24);
	assert_int_equal(cookie_check(&c, sa, q, 24, t + 10, out), COOKIE_VALID);
	/* After the turn the cookie (made with what is now the previous key) still holds. */
	assert_int_equal(cookie_check(&c, sa, q, 24, t + 200, out), COOKIE_VALID);
	/* Without rotation the secret is the key, unchanged. */
	struct cookie_conf fixed = conf(SECRET, 0);
	cookie__keys(&fixed, t, cur, prev);
	assert_memory_equal(cur, fixed.secret, 16);
}

static struct daemon_conf *
parse(const char *text, char *err)
{
	struct daemon_conf *c = NULL;
	if (daemon_conf_parse("t.conf", NULL, text, strlen(text), &c, err, CONF_ERRLEN) != 0)
		return NULL;
	return c;
}

static void
cookies_section_sets_secret_rotation_and_policy(void **state)
{
	char err[CONF_ERRLEN] = "";
	struct daemon_conf *c = parse("cookies:\n  secret: " SECRET "\n  require: true\n", err);
	assert_non_null(c);
	assert_true(c->abuse.cookies.enabled);
	assert_true(c->abuse.cookies.require);
	assert_int_equal(c->abuse.cookies.rotate_s, 0);     /* a given secret: as is */
	uint8_t s[16];
	hex(SECRET, s);
	assert_memory_equal(c->abuse.cookies.secret, s, 16);
	daemon_conf_free(c);

	c = parse("cookies:\n  secret: auto\n", err);
	assert_non_null(c);
	assert_int_equal(c->abuse.cookies.rotate_s, 86400);
	assert_false(c->abuse.cookies.require);
	daemon_conf_free(c);

	c = parse("cookies:\n  rotate: 2d\n", err);
	assert_non_null(c);
	assert_int_equal(c->abuse.cookies.rotate_s, 2 * 86400);
	daemon_conf_free(c);
}

static void
cookies_mistakes_name_the_line_and_key(void **state)
{
	char err[CONF_ERRLEN];
	static const struct { const char *text, *msg; } bad[] = {
		{ "cookies:\n  secret: abc\n", "t.conf:2: cookies.secret: expected 32 hex digits" },
		{ "cookies:\n  secret: e5e973e5a6b2a43f48e7dc849e37bfcg\n", "t.conf:2: cookies.secret: not a hex digit" },
		{ "cookies:\n  rotate: 10m\n", "t.conf:2: cookies.rotate: 0 (off) or at least 1h" },
		{ "cookies:\n  rotate: soon\n", "t.conf:2: cookies.rotate: not a duration" },
		{ "cookies:\n  require: maybe\n", "t.conf:2: cookies.require: expected true or false" },
		{ "cookies:\n  flavour: oat\n", "t.conf:2: unknown key 'flavour' in 'cookies'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_null(parse(bad[i].text, err));
		if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0)
			fail_msg("'%s' gave '%s', want '%s...'", bad[i].text, err, bad[i].msg);
	}
}

/* A reload keeps the running auto secret (so cookies stay valid), and only that. */
static void
a_reload_keeps_the_auto_secret_and_nothing_else(void **state)
{
	char err[CONF_ERRLEN] = "";
	struct daemon_conf *run = parse("cookies:\n  secret: auto\n", err);
	struct daemon_conf *next = parse("cookies:\n  secret: auto\n  require: true\n", err);
	assert_non_null(run);
	assert_non_null(next);
	assert_true(run->abuse.cookies.secret_auto);
	/* Two draws differ (2^-128 that they do not)... */
	assert_memory_not_equal(run->abuse.cookies.secret, next->abuse.cookies.secret, 16);
	/* ... and the reload keeps the first, with the new policy. */
	assert_true(abuse_conf_keep_secret(&run->abuse, &next->abuse));
	assert_memory_equal(run->abuse.cookies.secret, next->abuse.cookies.secret, 16);
	assert_true(next->abuse.cookies.require);
	/* So a cookie made before it is valid after it. */
	struct sockaddr_storage a = addr("192.0.2.7");
	uint8_t client[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, opt[24], out[24];
	uint32_t now = 1700000000;
	memcpy(opt, client, 8);
	assert_int_equal(cookie_check(&run->abuse.cookies, (struct sockaddr *)&a, client, 8, now,
	                              opt), COOKIE_CLIENT);
	assert_int_equal(cookie_check(&next->abuse.cookies, (struct sockaddr *)&a, opt, 24,
	                              now + 10, out), COOKIE_VALID);
	daemon_conf_free(next);

	/* A configured secret replaces the auto one, and is not replaced by it. */
	next = parse("cookies:\n  secret: " SECRET "\n", err);
	assert_non_null(next);
	assert_false(next->abuse.cookies.secret_auto);
	assert_false(abuse_conf_keep_secret(&run->abuse, &next->abuse));
	uint8_t s[16];
	hex(SECRET, s);
	assert_memory_equal(next->abuse.cookies.secret, s, 16);
	assert_false(abuse_conf_keep_secret(&next->abuse, &run->abuse));
	assert_memory_not_equal(run->abuse.cookies.secret, s, 16);
	daemon_conf_free(next);

	/* No cookies: section before: nothing to keep. */
	next = parse("server:\n  workers: 1\n", err);
	assert_non_null(next);
	assert_false(abuse_conf_keep_secret(&next->abuse, &run->abuse));
	daemon_conf_free(next);
	daemon_conf_free(run);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(siphash24_matches_the_paper_vector),
		cmocka_unit_test(server_cookies_match_rfc9018_appendix_a),
		cmocka_unit_test(a_client_cookie_alone_gets_a_fresh_server_cookie),
		cmocka_unit_test(a_valid_cookie_is_renewed_after_half_an_hour),
		cmocka_unit_test(stale_future_wrong_or_foreign_cookies_are_not_valid),
		cmocka_unit_test(rotation_accepts_the_previous_key_and_changes_the_current),
		cmocka_unit_test(cookies_section_sets_secret_rotation_and_policy),
		cmocka_unit_test(cookies_mistakes_name_the_line_and_key),
		cmocka_unit_test(a_reload_keeps_the_auto_secret_and_nothing_else),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
