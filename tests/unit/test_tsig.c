/* test_tsig.c - lib/tsig: TSIG (RFC 8945) against messages signed by dnspython 2.3
 * (vectors made with dns.message.use_tsig() at time 1700000000, fudge 300), and
 * round trips of requests and multi-message answers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/errors.h"
#include "lib/tsig.h"

#define T0 1700000000u
#define SECRET "c2lnbnBvc3QtdHNpZy10ZXN0LXNlY3JldC0zMmJ5dGVzIQ=="

/* dnspython: make_query("example.", "AXFR"), id 0x1234, key xfr-key. */
static const char q_sha256[] =
	"123401000001000000000001076578616d706c650000fc0001077866722d6b65790000fa00ff0000"
	"0000003d0b686d61632d7368613235360000006553f100012c0020f761b08948befd6db05f0b2332"
	"bbb1cb45b8172d593f64cae512b70d20157490123400000000";
static const char q_md5[] =
	"123401000001000000000001076578616d706c650000fc0001077866722d6b65790000fa00ff0000"
	"0000003a08484d41432d4d4435075349472d414c470352454703494e540000006553f100012c0010"
	"802e11eedaec030cd49694b1d38b3150123400000000";
static const char q_sha512[] =
	"123401000001000000000001076578616d706c650000fc0001077866722d6b65790000fa00ff0000"
	"0000005d0b686d61632d7368613531320000006553f100012c00402e7c3d777252dfab68f10dea3f"
	"de4cfe2e8c3cb25be083f3abb45072296a7d9c5651b4e0305b4330a4d9eeb7c2a2d9c334b8bcd884"
	"91e8cccf833a421c02a34a123400000000";
/* The answer (the SOA) before and after dnspython signed it. */
static const char r_plain[] =
	"123481000001000100000000076578616d706c650000fc0001c00c0006000100000e10001d026e73"
	"c00c0168c00c0000000100000002000000030000000400000005";
static const char r_sha256[] =
	"123481000001000100000001076578616d706c650000fc0001c00c0006000100000e10001d026e73"
	"c00c0168c00c0000000100000002000000030000000400000005077866722d6b65790000fa00ff00"
	"000000003d0b686d61632d7368613235360000006553f100012c00202dc4942eced4a5f3e147cca4"
	"c03e954dd0d78d31d9fe5d22b029a4b2f8728dcd123400000000";
static const char r_sha512[] =
	"123481000001000100000001076578616d706c650000fc0001c00c0006000100000e10001d026e73"
	"c00c0168c00c0000000100000002000000030000000400000005077866722d6b65790000fa00ff00"
	"000000005d0b686d61632d7368613531320000006553f100012c0040f3a9f76a7b843fae85211ed8"
	"6089208eb3011d5d970c1bb21abfa68e4b580fb928587666ae89a3bc9f53a67ce8a06d0332114b11"
	"a67297f0f3fbcd2f36cadea1123400000000";
static const char mac_md5_resp[] = "861fa6ce1aea0e759d52b7479f55b857";

static size_t
unhex(const char *h, uint8_t *out)
{
	size_t n = strlen(h) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void
key(struct tsig_key *k, const char *alg)
{
	char why[128];
	assert_int_equal(tsig_key_init(k, "XFR-Key", alg, SECRET, why, sizeof(why)), 0);
}

static void
dnspython_signed_requests_verify(void **state)
{
	(void)state;
	const char *vec[][2] = {{"hmac-sha256", q_sha256}, {"hmac-md5", q_md5},
	                        {"HMAC-SHA512.", q_sha512}};
	for (size_t i = 0; i < 3; i++) {
		struct tsig_key k;
		struct tsig_ctx c;
		struct tsig_rr rr;
		uint8_t msg[512];
		key(&k, vec[i][0]);
		size_t len = unhex(vec[i][1], msg);
		assert_int_equal(tsig_verify_request(&k, 1, msg, len, T0 + 10, &c, &rr), TSIG_OK);
		assert_int_equal(rr.fudge, 300);
		assert_int_equal(rr.orig_id, 0x1234);
		assert_int_equal(c.mac_len, tsig_mac_size(k.alg));
		tsig_ctx_deinit(&c);
	}
}

static void
answers_are_signed_as_dnspython_signs_them(void **state)
{
	(void)state;
	const char *vec[][3] = {{"hmac-sha256", q_sha256, r_sha256},
	                        {"hmac-sha512", q_sha512, r_sha512}};
	for (size_t i = 0; i < 2; i++) {
		struct tsig_key k;
		struct tsig_ctx c;
		struct tsig_rr rr;
		uint8_t q[512], r[512], want[512];
		key(&k, vec[i][0]);
		size_t qlen = unhex(vec[i][1], q), rlen = unhex(r_plain, r);
		size_t wlen = unhex(vec[i][2], want);
		assert_int_equal(tsig_verify_request(&k, 1, q, qlen, T0, &c, &rr), TSIG_OK);
		assert_int_equal(tsig_sign(&c, r, &rlen, sizeof(r), T0, 0), 0);
		assert_int_equal(rlen, wlen);
		assert_memory_equal(r, want, wlen);
		tsig_ctx_deinit(&c);
	}
}

static void
hmac_md5_answer_mac_matches_dnspython(void **state)
{
	(void)state;
	struct tsig_key k;
	struct tsig_ctx c;
	struct tsig_rr rr;
	uint8_t q[512], r[512], want[16];
	key(&k, "hmac-md5.sig-alg.reg.int.");
	size_t qlen = unhex(q_md5, q), rlen = unhex(r_plain, r);
	unhex(mac_md5_resp, want);
	assert_int_equal(tsig_verify_request(&k, 1, q, qlen, T0, &c, &rr), TSIG_OK);
	assert_int_equal(tsig_sign(&c, r, &rlen, sizeof(r), T0, 0), 0);
	assert_int_equal(tsig_find(r, rlen, &rr), 1);
	assert_int_equal(rr.mac_len, 16);
	assert_memory_equal(rr.mac, want, 16);
}

static void
a_changed_octet_is_badsig(void **state)
{
	(void)state;
	struct tsig_key k;
	struct tsig_ctx c;
	struct tsig_rr rr;
	uint8_t msg[512];
	key(&k, "hmac-sha256");
	size_t len = unhex(q_sha256, msg);
	msg[2] ^= 0x01;     /* RD */
	assert_int_equal(tsig_verify_request(&k, 1, msg, len, T0, &c, &rr), TSIG_ERR_BADSIG);
}

static void
a_wrong_secret_is_badsig(void **state)
{
	(void)state;
	struct tsig_key k;
	struct tsig_ctx c;
	struct tsig_rr rr;
	uint8_t msg[512];
	char why[128];
	assert_int_equal(tsig_key_init(&k, "xfr-key.", "hmac-sha256", "b3RoZXItc2VjcmV0", why,
	                               sizeof(why)), 0);
	size_t len = unhex(q_sha256, msg);
	assert_int_equal(tsig_verify_request(&k, 1, msg, len, T0, &c, &rr), TSIG_ERR_BADSIG);
}

static void
an_unknown_key_or_algorithm_is_badkey(void **state)
{
	(void)state;
	struct tsig_key k[2];
	struct tsig_ctx c;
	struct tsig_rr rr;
	uint8_t msg[512];
	char why[128];
	assert_int_equal(tsig_key_init(&k[0], "other-key", "hmac-sha256", SECRET, why,
	                               sizeof(why)), 0);
	key(&k[1], "hmac-sha512");   /* right name, other algorithm */
	size_t len = unhex(q_sha256, msg);
	assert_int_equal(tsig_verify_request(k, 2, msg, len, T0, &c, &rr), TSIG_ERR_BADKEY);
	/* The error answer is unsigned and names the request's key. */
	uint8_t r[512];
	size_t rlen = unhex(r_plain, r);
	assert_int_equal(tsig_append_error(&rr, r, &rlen, sizeof(r), T0, TSIG_BADKEY), 0);
	struct tsig_rr back;
	assert_int_equal(tsig_find(r, rlen, &back), 1);
	assert_int_equal(back.error, TSIG_BADKEY);
	assert_int_equal(back.mac_len, 0);
	assert_true(dname_equal(back.name, (const uint8_t *)"\7xfr-key"));
}

static void
a_time_outside_the_fudge_is_badtime_with_our_time(void **state)
{
	(void)state;
	struct tsig_key k;
	struct tsig_ctx c;
	struct tsig_rr rr;
	uint8_t msg[512];
	key(&k, "hmac-sha256");
	size_t len = unhex(q_sha256, msg);
	assert_int_equal(tsig_verify_request(&k, 1, msg, len, T0 + 301, &c, &rr), TSIG_ERR_BADTIME);
	assert_int_equal(tsig_verify_request(&k, 1, msg, len, T0 - 300, &c, &rr), TSIG_OK);
	uint8_t r[512];
	size_t rlen = unhex(r_plain, r);
	assert_int_equal(tsig_sign(&c, r, &rlen, sizeof(r), T0 + 1000, TSIG_BADTIME), 0);
	struct tsig_rr back;
	assert_int_equal(tsig_find(r, rlen, &back), 1);
	assert_int_equal(back.error, TSIG_BADTIME);
	assert_int_equal(back.other_len, 6);
	assert_int_equal(back.other[5], (uint8_t)(T0 + 1000));
}

static void
our_fudge_caps_the_requests_fudge(void **state)
{
	(void)state;
	struct tsig_key k;
	struct tsig_ctx c;
	struct tsig_rr rr;
	uint8_t msg[512];
	key(&k, "hmac-sha256");
	size_t len = unhex(q_sha256, msg);
	/* The request allows 300 s; we allow 60. */
	assert_int_equal(tsig_verify_request_fudge(&k, 1, msg, len, T0 + 61, 60, &c, &rr),
	                 TSIG_ERR_BADTIME);
	assert_int_equal(tsig_verify_request_fudge(&k, 1, msg, len, T0 + 60, 60, &c, &rr), TSIG_OK);
	assert_int_equal(tsig_verify_request_fudge(&k, 1, msg, len, T0 + 250, 0, &c, &rr), TSIG_OK);
}

static void
a_tsig_that_is_not_last_is_formerr(void **state)
{
	(void)state;
	struct tsig_key k;
	struct tsig_ctx c;
	struct tsig_rr rr;
	uint8_t msg[512];
	key(&k, "hmac-sha256");
	size_t len = unhex(q_sha256, msg);
	/* Append an OPT after the TSIG and count it. */
	static const uint8_t opt[] = {0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
	memcpy(msg + len, opt, sizeof(opt));
	len += sizeof(opt);
	msg[11] = 2;
	assert_int_equal(tsig_verify_request(&k, 1, msg, len, T0, &c, &rr), TSIG_FORMERR);
	/* And a message without one has none. */
	len = unhex(r_plain, msg);
	assert_int_equal(tsig_verify_request(&k, 1, msg, len, T0, &c, &rr), TSIG_NONE);
}

/* A client signs a request, the server verifies it and signs three answers; the
 * client verifies the chain, and a skipped message breaks it. */
static void
multi_message_answers_chain_their_macs(void **state)
{
	(void)state;
	struct tsig_key k;
	struct tsig_ctx client, server, client2;
	struct tsig_rr rr;
	uint8_t q[512], r[3][512];
	size_t rlen[3];
	uint16_t err;
	key(&k, "hmac-sha384");
	size_t qlen = unhex(r_plain, q);    /* any message will do as the request */
	q[2] &= 0x7f;
	tsig_ctx_init(&client, &k, 0);
	assert_int_equal(tsig_sign(&client, q, &qlen, sizeof(q), T0, 0), 0);
	memcpy(&client2, &client, sizeof(client));
	assert_int_equal(tsig_verify_request(&k, 1, q, qlen, T0 + 1, &server, &rr), TSIG_OK);
	for (int i = 0; i < 3; i++) {
		rlen[i] = unhex(r_plain, r[i]);
		r[i][40] = (uint8_t)i;      /* a different message each time (in the SOA) */
		assert_int_equal(tsig_sign(&server, r[i], &rlen[i], sizeof(r[i]), T0 + 1, 0), 0);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(tsig_verify_response(&client, r[i], rlen[i], T0 + 2, &err), TSIG_OK);
	assert_int_equal(tsig_verify_response(&client2, r[0], rlen[0], T0 + 2, &err), TSIG_OK);
	assert_int_equal(tsig_verify_response(&client2, r[2], rlen[2], T0 + 2, &err),
	                 TSIG_ERR_BADSIG);
	tsig_ctx_deinit(&client);
	tsig_ctx_deinit(&client2);
}

/* RFC 8945 5.3.1: messages between signed ones may be unsigned, and the next MAC
 * covers them: a signed message whose MAC leaves out the unsigned one before it fails.
 * (That the covering MAC verifies is tested against NSD, which signs every 100th.) */
static void
unsigned_messages_between_signed_ones_are_covered(void **state)
{
	(void)state;
	struct tsig_key k;
	struct tsig_ctx client, server;
	struct tsig_rr rr;
	uint8_t q[512], r1[512], r2[512], r3[512];
	size_t l1, l2, l3;
	uint16_t err;
	key(&k, "hmac-sha256");
	size_t qlen = unhex(r_plain, q);
	q[2] &= 0x7f;
	tsig_ctx_init(&client, &k, 0);
	assert_int_equal(tsig_sign(&client, q, &qlen, sizeof(q), T0, 0), 0);
	assert_int_equal(tsig_verify_request(&k, 1, q, qlen, T0, &server, &rr), TSIG_OK);
	l1 = unhex(r_plain, r1);
	assert_int_equal(tsig_sign(&server, r1, &l1, sizeof(r1), T0, 0), 0);
	l2 = unhex(r_plain, r2);
	r2[40] = 7;
	l3 = unhex(r_plain, r3);
	r3[40] = 9;
	assert_int_equal(tsig_verify_response(&client, r1, l1, T0, &err), TSIG_OK);
	assert_int_equal(tsig_verify_response(&client, r2, l2, T0, &err), TSIG_OK);
	assert_int_equal(client.unsigned_run, 1);
	/* r3 signed over r1's MAC alone does not verify: r2 is missing from it. */
	assert_int_equal(tsig_sign(&server, r3, &l3, sizeof(r3), T0, 0), 0);
	assert_int_equal(tsig_verify_response(&client, r3, l3, T0, &err), TSIG_ERR_BADSIG);
	tsig_ctx_deinit(&client);
}

static void
bad_keys_are_refused_with_a_reason(void **state)
{
	(void)state;
	struct tsig_key k;
	char why[128] = "";
	assert_int_equal(tsig_key_init(&k, "k.", "hmac-sha999", SECRET, why, sizeof(why)),
	                 SP_EPARSE);
	assert_non_null(strstr(why, "unknown algorithm"));
	assert_int_equal(tsig_key_init(&k, "k.", "hmac-sha256", "not base64!", why, sizeof(why)),
	                 SP_EPARSE);
	assert_non_null(strstr(why, "base64"));
	assert_int_equal(tsig_key_init(&k, "k.", "hmac-sha256", "", why, sizeof(why)), SP_EPARSE);
	assert_int_equal(tsig_key_init(&k, "k.", "hmac-sha256", "QUJD=", why, sizeof(why)),
	                 SP_EPARSE);
	assert_int_equal(tsig_key_init(&k, "k.", "hmac-sha256", "QUJD", why, sizeof(why)), 0);
	assert_int_equal(k.secret_len, 3);
	assert_memory_equal(k.secret, "ABC", 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dnspython_signed_requests_verify),
		cmocka_unit_test(answers_are_signed_as_dnspython_signs_them),
		cmocka_unit_test(hmac_md5_answer_mac_matches_dnspython),
		cmocka_unit_test(a_changed_octet_is_badsig),
		cmocka_unit_test(a_wrong_secret_is_badsig),
		cmocka_unit_test(an_unknown_key_or_algorithm_is_badkey),
		cmocka_unit_test(a_time_outside_the_fudge_is_badtime_with_our_time),
		cmocka_unit_test(our_fudge_caps_the_requests_fudge),
		cmocka_unit_test(a_tsig_that_is_not_last_is_formerr),
		cmocka_unit_test(multi_message_answers_chain_their_macs),
		cmocka_unit_test(unsigned_messages_between_signed_ones_are_covered),
		cmocka_unit_test(bad_keys_are_refused_with_a_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
