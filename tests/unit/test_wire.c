/* test_wire.c - lib/wire: the bounds-checked reader (compression pointers, loops, short
 * input) and the writer's compression table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/dname.h"
#include "lib/errors.h"
#include "lib/wire.h"

#define N(s) ((const uint8_t *)(s))

static int
read_name_at(const uint8_t *buf, size_t len, size_t pos, uint8_t *out, size_t *outlen,
             size_t *endpos)
{
	struct wire_reader r;
	wire_reader_init(&r, buf, len);
	r.pos = pos;
	int rc = wire_read_name(&r, out, outlen);
	if (endpos != NULL)
		*endpos = r.pos;
	return rc;
}

static void
reading_integers_past_the_end_fails_and_keeps_the_position(void **state)
{
	static const uint8_t buf[] = { 1, 2, 3 };
	struct wire_reader r;
	uint16_t v16;
	uint32_t v32;
	wire_reader_init(&r, buf, sizeof(buf));
	assert_int_equal(wire_read_u16(&r, &v16), 0);
	assert_int_equal(v16, 0x0102);
	assert_int_equal(wire_read_u16(&r, &v16), SP_EPARSE);
	assert_int_equal(r.pos, 2);
	assert_int_equal(wire_read_u32(&r, &v32), SP_EPARSE);
	const uint8_t *p;
	assert_int_equal(wire_read_bytes(&r, 2, &p), SP_EPARSE);
	assert_int_equal(wire_read_bytes(&r, 1, &p), 0);
	assert_int_equal(*p, 3);
}

static void
a_plain_name_is_read_with_its_case(void **state)
{
	static const uint8_t buf[] = "\3WwW\7example";
	uint8_t out[DNAME_MAXLEN];
	size_t len, end;
	assert_int_equal(read_name_at(buf, sizeof(buf), 0, out, &len, &end), 0);
	assert_int_equal(len, sizeof(buf));
	assert_memory_equal(out, buf, sizeof(buf));
	assert_int_equal(end, sizeof(buf));
}

static void
a_backward_pointer_is_followed_and_the_position_ends_after_it(void **state)
{
	/* offset 0: junk octet, 1: "example", 10: "www" + pointer to 1 */
	static const uint8_t buf[] = { 0xff, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0,
	                               3, 'w', 'w', 'w', 0xc0, 1, 0xaa };
	uint8_t out[DNAME_MAXLEN];
	size_t len, end;
	assert_int_equal(read_name_at(buf, sizeof(buf), 10, out, &len, &end), 0);
	assert_memory_equal(out, "\3www\7example", 13);
	assert_int_equal(len, 13);
	assert_int_equal(end, 16);
}

static void
a_forward_pointer_is_rejected_like_nsd_and_knot_do(void **state)
{
	static const uint8_t buf[] = { 0xff, 0xc0, 4, 0xff, 3, 'c', 'o', 'm', 0 };
	uint8_t out[DNAME_MAXLEN];
	assert_int_equal(read_name_at(buf, sizeof(buf), 1, out, NULL, NULL), SP_EPARSE);
}

static void
a_pointer_to_itself_is_a_loop(void **state)
{
	static const uint8_t buf[] = { 0xff, 0xff, 0xc0, 2 };
	uint8_t out[DNAME_MAXLEN];
	assert_int_equal(read_name_at(buf, sizeof(buf), 2, out, NULL, NULL), SP_EPARSE);
}

static void
two_pointers_to_each_other_are_a_loop(void **state)
{
	static const uint8_t buf[] = { 0xff, 0xc0, 3, 0xc0, 1 };
	uint8_t out[DNAME_MAXLEN];
	assert_int_equal(read_name_at(buf, sizeof(buf), 1, out, NULL, NULL), SP_EPARSE);
}

static void
a_loop_through_labels_is_rejected(void **state)
{
	static const uint8_t buf[] = { 0xff, 1, 'a', 0xc0, 1 };
	uint8_t out[DNAME_MAXLEN];
	assert_int_equal(read_name_at(buf, sizeof(buf), 1, out, NULL, NULL), SP_EPARSE);
}

static void
a_pointer_past_the_end_or_to_zero_is_rejected(void **state)
{
	static const uint8_t past[] = { 0xff, 0xc0, 9 };
	static const uint8_t zero[] = { 0, 0xc0, 0 };
	static const uint8_t half[] = { 0xff, 0xc0 };
	uint8_t out[DNAME_MAXLEN];
	assert_int_equal(read_name_at(past, sizeof(past), 1, out, NULL, NULL), SP_EPARSE);
	assert_int_equal(read_name_at(zero, sizeof(zero), 1, out, NULL, NULL), SP_EPARSE);
	assert_int_equal(read_name_at(half, sizeof(half), 1, out, NULL, NULL), SP_EPARSE);
}

static void
a_label_running_past_the_end_is_rejected(void **state)
{
	static const uint8_t buf[] = { 5, 'a', 'b' };
	static const uint8_t noroot[] = { 2, 'a', 'b' };
	uint8_t out[DNAME_MAXLEN];
	assert_int_equal(read_name_at(buf, sizeof(buf), 0, out, NULL, NULL), SP_EPARSE);
	assert_int_equal(read_name_at(noroot, sizeof(noroot), 0, out, NULL, NULL), SP_EPARSE);
}

static void
extended_label_types_are_rejected(void **state)
{
	static const uint8_t b01[] = { 0x41, 'a', 0 };
	static const uint8_t b10[] = { 0x81, 'a', 0 };
	uint8_t out[DNAME_MAXLEN];
	assert_int_equal(read_name_at(b01, sizeof(b01), 0, out, NULL, NULL), SP_EPARSE);
	assert_int_equal(read_name_at(b10, sizeof(b10), 0, out, NULL, NULL), SP_EPARSE);
}

static void
a_name_of_255_octets_is_read_and_256_is_rejected(void **state)
{
	/* 4 labels of 63 octets + root = 257; 3 of 63 + one of 61 + root = 255. */
	uint8_t buf[300], out[DNAME_MAXLEN];
	size_t len, n = 0;
	for (int i = 0; i < 4; i++) {
		unsigned l = i < 3 ? 63 : 61;
		buf[n++] = (uint8_t)l;
		memset(buf + n, 'a', l);
		n += l;
	}
	buf[n++] = 0;
	assert_int_equal(n, 255);
	assert_int_equal(read_name_at(buf, n, 0, out, &len, NULL), 0);
	assert_int_equal(len, 255);
	buf[192] = 62;  /* the last label one octet longer: 256 */
	memmove(buf + 193 + 62, buf + 193 + 61, 1);
	buf[193 + 61] = 'a';
	assert_int_equal(read_name_at(buf, 256, 0, out, NULL, NULL), SP_EPARSE);
}

static void
a_name_made_long_by_pointers_is_rejected(void **state)
{
	/* "a" repeated through a chain of backward pointers, each adding a label:
	 * a legal pointer graph whose name exceeds 255 octets. */
	uint8_t buf[600], out[DNAME_MAXLEN];
	size_t n = 0;
	buf[n++] = 0xff;
	buf[n++] = 0;               /* offset 1: root */
	size_t prev = 1;
	for (int i = 0; i < 140; i++) {
		size_t here = n;
		buf[n++] = 1;
		buf[n++] = 'a';
		buf[n++] = (uint8_t)(0xc0 | prev >> 8);
		buf[n++] = (uint8_t)prev;
		prev = here;
	}
	assert_int_equal(read_name_at(buf, n, prev, out, NULL, NULL), SP_EPARSE);
	assert_int_equal(read_name_at(buf, n, 2 + 4 * 100, out, NULL, NULL), 0);
}

static void
the_writer_compresses_a_name_against_an_earlier_one(void **state)
{
	uint8_t buf[128];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_name_comp(&w, N("\3www\7Example\3com"));
	size_t first = w.len;
	assert_int_equal(first, 17);
	wire_put_name_comp(&w, N("\4mail\7EXAMPLE\3COM"));
	/* "mail" then a pointer to "Example.com" at offset 4 */
	assert_int_equal(w.len, first + 5 + 2);
	assert_memory_equal(buf + first, "\4mail\xc0\x04", 7);
	wire_put_name_comp(&w, N("\3www\7example\3com"));
	assert_memory_equal(buf + first + 7, "\xc0\x00", 2);
	assert_false(w.overflow);
}

static void
the_writer_keeps_the_case_of_the_uncompressed_labels(void **state)
{
	uint8_t buf[128];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_name_comp(&w, N("\3org"));
	wire_put_name_comp(&w, N("\3WwW\3ORG"));
	assert_memory_equal(buf + 5, "\3WwW\xc0\x00", 6);
}

static void
the_writer_compresses_against_a_remembered_question(void **state)
{
	uint8_t buf[128];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_bytes(&w, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
	wire_put_name(&w, N("\3Foo\3bar"));
	wire_writer_remember(&w, 12);
	size_t at = w.len;
	wire_put_name_comp(&w, N("\3foo\3BAR"));
	assert_memory_equal(buf + at, "\xc0\x0c", 2);
	wire_put_name_comp(&w, N("\1x\3bar"));
	assert_memory_equal(buf + at + 2, "\1x\xc0\x10", 4);
}

static void
an_overflowing_write_sets_overflow_and_rollback_forgets_it(void **state)
{
	uint8_t buf[20];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_name_comp(&w, N("\3abc"));
	struct wire_mark m = wire_writer_mark(&w);
	wire_put_name_comp(&w, N("\7example\3xyz"));   /* 13 octets: 5 + 13 > 20? no */
	wire_put_name_comp(&w, N("\7example\3net"));   /* 13 more: does not fit */
	assert_true(w.overflow);
	wire_writer_rollback(&w, m);
	assert_false(w.overflow);
	assert_int_equal(w.len, 5);
	assert_int_equal(w.ncomp, 1);
	/* The forgotten names are no compression targets any more. */
	wire_put_name_comp(&w, N("\3xyz"));
	assert_memory_equal(buf + 5, "\3xyz\0", 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reading_integers_past_the_end_fails_and_keeps_the_position),
		cmocka_unit_test(a_plain_name_is_read_with_its_case),
		cmocka_unit_test(a_backward_pointer_is_followed_and_the_position_ends_after_it),
		cmocka_unit_test(a_forward_pointer_is_rejected_like_nsd_and_knot_do),
		cmocka_unit_test(a_pointer_to_itself_is_a_loop),
		cmocka_unit_test(two_pointers_to_each_other_are_a_loop),
		cmocka_unit_test(a_loop_through_labels_is_rejected),
		cmocka_unit_test(a_pointer_past_the_end_or_to_zero_is_rejected),
		cmocka_unit_test(a_label_running_past_the_end_is_rejected),
		cmocka_unit_test(extended_label_types_are_rejected),
		cmocka_unit_test(a_name_of_255_octets_is_read_and_256_is_rejected),
		cmocka_unit_test(a_name_made_long_by_pointers_is_rejected),
		cmocka_unit_test(the_writer_compresses_a_name_against_an_earlier_one),
		cmocka_unit_test(the_writer_keeps_the_case_of_the_uncompressed_labels),
		cmocka_unit_test(the_writer_compresses_against_a_remembered_question),
		cmocka_unit_test(an_overflowing_write_sets_overflow_and_rollback_forgets_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
