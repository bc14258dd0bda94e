/* test_lib.c - lib/: names and their canonical keys; YAML configuration values (yconf);
 * address and prefix text (addr). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "lib/addr.h"
#include "lib/dname.h"
#include "lib/errors.h"
#include "lib/yconf.h"

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

/* ---- lib/yconf: YAML configuration values ------------------------------------------------ */

/* A parsed document whose root is a mapping; value() finds a key's node. */
struct ydoc {
	yaml_parser_t parser;
	yaml_document_t doc;
	struct yconf y;
	char err[256];
};

static void
ydoc_load(struct ydoc *d, const char *text)
{
	memset(d, 0, sizeof(*d));
	assert_true(yaml_parser_initialize(&d->parser));
	yaml_parser_set_input_string(&d->parser, (const unsigned char *)text, strlen(text));
	assert_true(yaml_parser_load(&d->parser, &d->doc));
	d->y = (struct yconf){ .doc = &d->doc, .file = "t.conf", .err = d->err,
	                       .errlen = sizeof(d->err) };
}

static void
ydoc_free(struct ydoc *d)
{
	yaml_document_delete(&d->doc);
	yaml_parser_delete(&d->parser);
}

static yaml_node_t *
value(struct ydoc *d, const char *key)
{
	yaml_node_t *root = yaml_document_get_root_node(&d->doc);
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		if (strcmp(yconf_text(yconf_node(&d->y, p->key)), key) == 0)
			return yconf_node(&d->y, p->value);
	}
	fail_msg("no key %s", key);
	return NULL;
}

/* Clears the kept error so the next call reports its own. */
static const char *
err_of(struct ydoc *d)
{
	static char last[256];
	snprintf(last, sizeof(last), "%s", d->err);
	d->err[0] = '\0';
	return last;
}

static void
integers_are_checked_for_sign_digits_and_range(void **state)
{
	struct ydoc d;
	uint64_t u = 7;
	uint32_t u32 = 7;
	ydoc_load(&d, "a: 42\nb: -1\nc: many\nd: 2.5\ne: 300\nf: [1]\ng: 99999999999999999999\n"
	              "h: ' 5'\n");
	assert_int_equal(yconf_get_uint(&d.y, value(&d, "a"), "x.a", 0, 100, &u), 0);
	assert_int_equal(u, 42);
	assert_int_equal(yconf_get_uint(&d.y, value(&d, "b"), "x.b", 0, 100, &u), SP_ECONFIG);
	assert_string_equal(err_of(&d), "t.conf:2: x.b: must not be negative");
	yconf_get_uint(&d.y, value(&d, "c"), "x.c", 0, 100, &u);
	assert_string_equal(err_of(&d), "t.conf:3: x.c: not a number: 'many'");
	yconf_get_uint(&d.y, value(&d, "d"), "x.d", 0, 100, &u);
	assert_string_equal(err_of(&d), "t.conf:4: x.d: not a number: '2.5'");
	assert_int_equal(yconf_get_u32(&d.y, value(&d, "e"), "x.e", 1, 255, &u32), SP_ECONFIG);
	assert_string_equal(err_of(&d), "t.conf:5: x.e: must be 1..255");
	yconf_get_uint(&d.y, value(&d, "f"), "x.f", 0, 100, &u);
	assert_string_equal(err_of(&d), "t.conf:6: x.f: expected a value, found a list");
	yconf_get_uint(&d.y, value(&d, "g"), "x.g", 0, UINT64_MAX, &u);
	assert_string_equal(err_of(&d), "t.conf:7: x.g: must be 0..18446744073709551615");
	yconf_get_uint(&d.y, value(&d, "h"), "x.h", 0, 100, &u);
	assert_string_equal(err_of(&d), "t.conf:8: x.h: not a number: ' 5'");
	assert_int_equal(u, 42);        /* failures leave the value alone */
	assert_int_equal(u32, 7);
	assert_int_equal(d.y.errors, 7);
	ydoc_free(&d);
}

static void
sizes_take_k_m_and_g_suffixes_within_bounds(void **state)
{
	struct ydoc d;
	uint64_t u = 0;
	ydoc_load(&d, "a: 64m\nb: 1G\nc: 512k\nd: 3x\ne: 2g\nf: 100\n");
	assert_int_equal(yconf_get_size(&d.y, value(&d, "a"), "s", 1 << 20, 1ull << 31, &u), 0);
	assert_int_equal(u, 64u << 20);
	assert_int_equal(yconf_get_size(&d.y, value(&d, "b"), "s", 1 << 20, 1ull << 31, &u), 0);
	assert_int_equal(u, 1u << 30);
	assert_int_equal(yconf_get_size(&d.y, value(&d, "c"), "s", 1 << 10, 1ull << 31, &u), 0);
	assert_int_equal(u, 512u << 10);
	yconf_get_size(&d.y, value(&d, "d"), "s", 0, 1ull << 31, &u);
	assert_string_equal(err_of(&d), "t.conf:4: s: not a size: '3x' (use 1048576, 512k, 64m, 1g)");
	yconf_get_size(&d.y, value(&d, "e"), "s", 0, 1ull << 30, &u);
	assert_string_equal(err_of(&d), "t.conf:5: s: must be 0..1073741824");
	yconf_get_size(&d.y, value(&d, "f"), "s", 1 << 20, 1ull << 30, &u);
	assert_string_equal(err_of(&d), "t.conf:6: s: must be 1048576..1073741824");
	ydoc_free(&d);
}

static void
durations_take_units_and_report_their_bounds(void **state)
{
	struct ydoc d;
	uint64_t ms = 0;
	ydoc_load(&d, "a: 10\nb: 500ms\nc: 2m\nd: 1h\ne: 5 minutes\nf: -3s\ng: 5ms\nh: 2d\n"
	              "i: 2h\nj: soon\n");
	struct { const char *key; uint64_t want; } ok[] = {
		{ "a", 10000 }, { "b", 500 }, { "c", 120000 }, { "d", 3600000 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(yconf_get_duration_ms(&d.y, value(&d, ok[i].key), "t", 0,
		                                       86400000, &ms), 0);
		assert_int_equal(ms, ok[i].want);
	}
	yconf_get_duration_ms(&d.y, value(&d, "e"), "t", 0, 86400000, &ms);
	assert_string_equal(err_of(&d),
	                    "t.conf:5: t: not a duration: '5 minutes' (use 10, 10s, 500ms, 2m)");
	yconf_get_duration_ms(&d.y, value(&d, "f"), "t", 0, 86400000, &ms);
	assert_string_equal(err_of(&d), "t.conf:6: t: must not be negative");
	yconf_get_duration_ms(&d.y, value(&d, "g"), "t", 10, 86400000, &ms);
	assert_string_equal(err_of(&d), "t.conf:7: t: duration too short: '5ms' (at least 10ms)");
	yconf_get_duration_ms(&d.y, value(&d, "h"), "t", 10, 86400000, &ms);
	assert_string_equal(err_of(&d), "t.conf:8: t: not a duration: '2d' (use 10, 10s, 500ms, 2m)");
	yconf_get_duration_ms(&d.y, value(&d, "i"), "t", 0, 3600000, &ms);
	assert_string_equal(err_of(&d), "t.conf:9: t: duration too long: '2h' (at most 1h)");
	yconf_get_duration_ms(&d.y, value(&d, "j"), "t", 0, 3600000, &ms);
	assert_string_equal(err_of(&d), "t.conf:10: t: not a duration: 'soon' (use 10, 10s, 500ms, 2m)");
	assert_int_equal(ms, 3600000);
	ydoc_free(&d);
}

static void
booleans_strings_and_nulls_read_as_yaml_writes_them(void **state)
{
	struct ydoc d;
	bool b = false;
	char *s = NULL;
	ydoc_load(&d, "a: yes\nb: Off\nc: maybe\nd: hello\ne: ''\nf: ~\ng: 'null'\n");
	assert_int_equal(yconf_get_bool(&d.y, value(&d, "a"), "a", &b), 0);
	assert_true(b);
	assert_int_equal(yconf_get_bool(&d.y, value(&d, "b"), "b", &b), 0);
	assert_false(b);
	yconf_get_bool(&d.y, value(&d, "c"), "c", &b);
	assert_string_equal(err_of(&d), "t.conf:3: c: expected true or false, found 'maybe'");
	assert_int_equal(yconf_get_str(&d.y, value(&d, "d"), "d", &s), 0);
	assert_string_equal(s, "hello");
	yconf_get_str(&d.y, value(&d, "e"), "e", &s);
	assert_string_equal(err_of(&d), "t.conf:5: e: must not be empty");
	assert_string_equal(s, "hello");
	free(s);
	assert_true(yconf_is_null(value(&d, "f")));
	assert_false(yconf_is_null(value(&d, "g")));    /* quoted: the string "null" */
	assert_false(yconf_is_null(value(&d, "d")));
	ydoc_free(&d);
}

static void
mappings_with_repeated_or_odd_keys_are_refused(void **state)
{
	struct ydoc d;
	ydoc_load(&d, "m:\n  a: 1\n  b: 2\n  a: 3\nl: [1, 2]\nk:\n  ? [x]\n  : 1\nok: {x: 1}\n");
	assert_int_equal(yconf_check_mapping(&d.y, value(&d, "m"), "m"), SP_ECONFIG);
	assert_string_equal(err_of(&d), "t.conf:4: m: duplicate key 'a' (first on line 2)");
	yconf_check_mapping(&d.y, value(&d, "l"), "l");
	assert_string_equal(err_of(&d), "t.conf:5: l: not a mapping (found a list)");
	yconf_check_mapping(&d.y, value(&d, "k"), "k");
	assert_string_equal(err_of(&d), "t.conf:7: k: keys must be plain names");
	assert_int_equal(yconf_check_mapping(&d.y, value(&d, "ok"), "ok"), 0);
	assert_int_equal(yconf_seq_len(value(&d, "l")), 2);
	assert_int_equal(yconf_seq_len(value(&d, "ok")), 0);
	ydoc_free(&d);
}

static void
the_first_error_is_kept_and_every_error_counted(void **state)
{
	struct ydoc d;
	uint64_t u;
	ydoc_load(&d, "a: x\nb: y\n");
	yconf_get_uint(&d.y, value(&d, "a"), "a", 0, 1, &u);
	yconf_get_uint(&d.y, value(&d, "b"), "b", 0, 1, &u);
	assert_string_equal(d.err, "t.conf:1: a: not a number: 'x'");
	assert_int_equal(d.y.errors, 2);
	/* Without a path the message follows the line; without a node the line is 1. */
	d.err[0] = '\0';
	yconf_error(&d.y, NULL, NULL, "out of %s", "memory");
	assert_string_equal(d.err, "t.conf:1: out of memory");
	/* Without a buffer each error is logged (to stderr here) and still counted. */
	d.y.err = NULL;
	assert_int_equal(yconf_error(&d.y, value(&d, "b"), "b", "logged"), SP_ECONFIG);
	assert_int_equal(d.y.errors, 4);
	ydoc_free(&d);
}

static void
hex_digits_decode_in_either_case_and_stop_at_a_non_digit(void **state)
{
	uint8_t out[4] = { 0 };
	assert_int_equal(yconf_parse_hex("00fFa5C3", 8, out), 0);
	assert_memory_equal(out, "\x00\xff\xa5\xc3", 4);
	assert_int_equal(yconf_parse_hex("12g4", 4, out), -1);
	assert_int_equal(yconf_parse_hex("1 ", 2, out), -1);
	assert_int_equal(out[0], 0x12);        /* octets before the bad digit are written */
}

/* ---- lib/addr: address and prefix text --------------------------------------------------- */

static void
addresses_parse_with_default_or_given_port_and_format_back(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[80];

	assert_int_equal(addr_parse("192.0.2.1", 53, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.1@53");
	assert_int_equal(addr_parse("2001:DB8::1@5300", 53, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1@5300");
	assert_int_equal(addr_parse("300.1.2.3", 53, &ss, &len), -1);
	assert_int_equal(addr_parse("", 53, &ss, &len), -1);
	assert_int_equal(addr_parse("@53", 53, &ss, &len), -1);
	assert_int_equal(addr_parse("example.com@53", 53, &ss, &len), -1);
	static const char *badport[] = { "127.0.0.1@0", "127.0.0.1@65536", "127.0.0.1@", "::1@http",
		                         "::1@+53", "::1@-1", "::1@53x", "::1@99999999999999999999" };
	for (size_t i = 0; i < sizeof(badport) / sizeof(badport[0]); i++)
		assert_int_equal(addr_parse(badport[i], 53, &ss, &len), -2);
}

static void
prefixes_need_zero_host_bits_and_match_to_the_bit(void **state)
{
	struct addr_prefix p;
	const uint8_t in[4] = { 10, 191, 1, 1 }, out[4] = { 10, 192, 1, 1 };

	assert_int_equal(addr_prefix_parse("10.128.0.0/10", &p), 0);
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(p.bits, 10);
	assert_true(addr_prefix_match(&p, in));
	assert_false(addr_prefix_match(&p, out));
	assert_int_equal(addr_prefix_parse("10.128.0.1/10", &p), -2);
	assert_int_equal(addr_prefix_parse("10.0.0.0/33", &p), -1);
	assert_int_equal(addr_prefix_parse("10.0.0.0/", &p), -1);
	assert_int_equal(addr_prefix_parse("10.0.0.0/+8", &p), -1);
	assert_int_equal(addr_prefix_parse("/8", &p), -1);
	assert_int_equal(addr_prefix_parse("nonsense", &p), -1);
	assert_int_equal(addr_prefix_parse("192.0.2.7", &p), 0);     /* a host: all 32 bits */
	assert_int_equal(p.bits, 32);
	assert_int_equal(addr_prefix_parse("2001:db8:8000::/33", &p), 0);
	assert_int_equal(p.family, AF_INET6);
	uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x80 };
	assert_true(addr_prefix_match(&p, a6));
	a6[4] = 0x7f;
	assert_false(addr_prefix_match(&p, a6));
	assert_int_equal(addr_prefix_parse("::/0", &p), 0);
	assert_true(addr_prefix_match(&p, a6));
	assert_true(addr_in_prefix(in, 0, out));
	assert_true(addr_in_prefix(in, 9, out));        /* 191 = 1011 1111, 192 = 1100 0000 */
	assert_false(addr_in_prefix(in, 10, out));
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
		cmocka_unit_test(integers_are_checked_for_sign_digits_and_range),
		cmocka_unit_test(sizes_take_k_m_and_g_suffixes_within_bounds),
		cmocka_unit_test(durations_take_units_and_report_their_bounds),
		cmocka_unit_test(booleans_strings_and_nulls_read_as_yaml_writes_them),
		cmocka_unit_test(mappings_with_repeated_or_odd_keys_are_refused),
		cmocka_unit_test(the_first_error_is_kept_and_every_error_counted),
		cmocka_unit_test(hex_digits_decode_in_either_case_and_stop_at_a_non_digit),
		cmocka_unit_test(addresses_parse_with_default_or_given_port_and_format_back),
		cmocka_unit_test(prefixes_need_zero_host_bits_and_match_to_the_bit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
