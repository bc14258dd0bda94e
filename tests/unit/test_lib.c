/* test_lib.c - lib/: names and their canonical keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/dname.h"
#include "lib/errors.h"

#define N(s) ((const uint8_t *)(s))

static int
keycmp(const char *a, const char *b)
{
	uint8_t wa[DNAME_MAXLEN], wb[DNAME_MAXLEN], ka[DNAME_KEY_MAXLEN], kb[DNAME_KEY_MAXLEN];
	assert_true(dname_from_str(a, wa) > 0);
	assert_true(dname_from_str(b, wb) > 0);
	size_t la = dname_key(wa, ka), lb = dname_key(wb, kb);
	int c = memcmp(ka, kb, la < lb ? la : lb);
	if (c == 0)
		c = (la > lb) - (la < lb);
	return c;
}

static void
keys_sort_in_rfc4034_canonical_order(void **state)
{
	/* The example list of RFC 4034 section 6.1, in order. */
	static const char *order[] = {
		"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.",
		"zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.",
		"\\200.z.example.",
	};
	for (size_t i = 0; i + 1 < sizeof(order) / sizeof(order[0]); i++)
		assert_true(keycmp(order[i], order[i + 1]) < 0);
}

static void
key_of_an_ancestor_is_a_prefix(void **state)
{
	uint8_t k1[DNAME_KEY_MAXLEN], k2[DNAME_KEY_MAXLEN];
	size_t l1 = dname_key(N("\7example"), k1);
	size_t l2 = dname_key(N("\3www\7EXAMPLE"), k2);
	assert_true(l1 < l2);
	assert_memory_equal(k1, k2, l1);
	assert_int_equal(dname_key_prefix(k2, l2, 1), l1);
	assert_int_equal(dname_key_labels(k2, l2), 2);
}

static void
key_round_trips_with_zero_and_one_octets(void **state)
{
	static const uint8_t name[] = "\3a\0\1\4b.\2c\7Example";
	uint8_t key[DNAME_KEY_MAXLEN], back[DNAME_MAXLEN];
	size_t kl = dname_key(name, key);
	size_t nl = dname_from_key(key, kl, back);
	assert_int_equal(nl, sizeof(name));
	assert_true(dname_equal(back, name));
	assert_int_equal(back[nl - 8], 'e');    /* lower-cased */
}

static void
presentation_escapes_round_trip(void **state)
{
	uint8_t w[DNAME_MAXLEN];
	char s[1024];
	assert_int_equal(dname_from_str("a\\.b.c\\032d.example", w), 17);
	assert_int_equal(w[0], 3);
	assert_memory_equal(w + 1, "a.b", 3);
	assert_string_equal(dname_to_str(w, s, sizeof(s)), "a\\.b.c\\032d.example.");
	assert_int_equal(dname_from_str("a..b", w), 0);
	assert_int_equal(dname_from_str(".", w), 1);
}

static void
subdomain_and_equality_ignore_case(void **state)
{
	assert_true(dname_equal(N("\3WWW\7example"), N("\3www\7EXAMPLE")));
	assert_true(dname_is_subdomain(N("\3www\7Example"), N("\7example")));
	assert_false(dname_is_subdomain(N("\7example"), N("\3www\7example")));
	assert_false(dname_is_subdomain(N("\3www\10xexample"), N("\7example")));
	assert_true(dname_is_subdomain(N("\3www"), N("")));
}

static void
overlong_names_are_rejected(void **state)
{
	char text[400];
	uint8_t w[DNAME_MAXLEN];
	memset(text, 'a', 64);
	text[64] = 0;
	assert_int_equal(dname_from_str(text, w), 0);  /* 64-octet label */
	for (int i = 0; i < 130; i++) {
		text[2 * i] = 'a';
		text[2 * i + 1] = '.';
	}
	text[260] = 0;
	assert_int_equal(dname_from_str(text, w), 0);  /* 261 octets on the wire */
	assert_string_equal(sp_strerror(SP_ESCHEMA), "database schema version not supported");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keys_sort_in_rfc4034_canonical_order),
		cmocka_unit_test(key_of_an_ancestor_is_a_prefix),
		cmocka_unit_test(key_round_trips_with_zero_and_one_octets),
		cmocka_unit_test(presentation_escapes_round_trip),
		cmocka_unit_test(subdomain_and_equality_ignore_case),
		cmocka_unit_test(overlong_names_are_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
