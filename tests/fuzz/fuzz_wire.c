/* fuzz_wire.c - libFuzzer target for lib/wire: the name reader on arbitrary octets,
 * differentially against ldns_wire2dname(), and the compressing writer on the names
 * read. Input: octet 0 picks where reading starts, octet 1 the writer's room and
 * whether the names are written past offset 0x3fff (beyond which no compression pointer
 * can point), the rest is the message. Checks:
 *   - wire_read_name() and wire_skip_name() agree (verdict and position);
 *   - what we accept, ldns accepts as the same octets ending at the same position;
 *   - what ldns accepts and we refuse has a pointer that does not point backwards (our
 *     deliberate stricter rule, as NSD and Knot);
 *   - a refused read leaves the position alone;
 *   - names written with wire_put_name_comp() read back equal (RFC 4343 case rules),
 *     and a writer that runs out of room rolls back cleanly.
 * One thread (the fuzzer's). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "lib/dname.h"
#include "lib/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, what) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: invariant failed: %s: %s\n", __FILE__, __LINE__, \
			        #cond, what); \
			abort(); \
		} \
	} while (0)

#define MAX_NAMES 24

/* True when the name at pos contains a compression pointer to itself or forwards
 * (what ldns follows and wire_read_name() refuses). */
static bool
has_forward_pointer(const uint8_t *p, size_t len, size_t pos)
{
	for (unsigned hops = 0; hops < 256 && pos < len; hops++) {
		uint8_t c = p[pos];
		if (c == 0)
			return false;
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return false;
			size_t ptr = (size_t)(c & 0x3f) << 8 | p[pos + 1];
			if (ptr >= pos)
				return true;
			pos = ptr;
			continue;
		}
		pos += 1u + c;
	}
	return false;
}

static uint8_t names[MAX_NAMES][DNAME_MAXLEN];
static uint8_t wbuf[20000];

static void
write_names(unsigned nnames, uint8_t knob)
{
	struct wire_writer w;
	size_t offs[MAX_NAMES];
	size_t pad = (knob & 1) ? 0x3ff0 : 12;
	size_t cap = pad + (size_t)(knob >> 1) * 24;

	wire_writer_init(&w, wbuf, cap);
	memset(wbuf, 0, pad);
	wire_put_bytes(&w, wbuf, pad);
	CHECK(!w.overflow && w.len == pad, "padding");
	unsigned written = 0;
	for (unsigned i = 0; i < nnames; i++) {
		struct wire_mark m = wire_writer_mark(&w);
		offs[i] = w.len;
		wire_put_name_comp(&w, names[i]);
		wire_put_u16(&w, (uint16_t)i);
		if (w.overflow) {
			CHECK(w.len <= w.cap, "overflow wrote past the cap");
			wire_writer_rollback(&w, m);
			CHECK(w.len == m.len && !w.overflow, "rollback");
			break;
		}
		CHECK(w.len <= w.cap, "length past the cap");
		written++;
	}
	/* Read everything back: each name where it was written, then the marker. */
	for (unsigned i = 0; i < written; i++) {
		struct wire_reader r;
		uint8_t back[DNAME_MAXLEN];
		size_t blen;
		uint16_t marker;
		wire_reader_init(&r, wbuf, w.len);
		r.pos = offs[i];
		CHECK(wire_read_name(&r, back, &blen) == 0, "a written name does not read back");
		CHECK(blen == dname_len(names[i]) && dname_equal(back, names[i]),
		      "a written name reads back different");
		CHECK(wire_read_u16(&r, &marker) == 0 && marker == i, "name length on the wire");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	const uint8_t *buf = data + 2;
	size_t len = size - 2;
	size_t pos = data[0] % len;
	unsigned nnames = 0;

	for (unsigned round = 0; round < 64 && pos < len; round++) {
		struct wire_reader r, s;
		uint8_t name[DNAME_MAXLEN];
		size_t nlen = 0;
		wire_reader_init(&r, buf, len);
		r.pos = pos;
		s = r;
		int rc = wire_read_name(&r, name, &nlen);
		int src = wire_skip_name(&s);
		CHECK(rc == src && r.pos == s.pos, "read and skip disagree");

		size_t lpos = pos;
		ldns_rdf *rdf = NULL;
		ldns_status st = ldns_wire2dname(&rdf, buf, len, &lpos);
		if (rc == 0) {
			CHECK(nlen >= 1 && nlen <= DNAME_MAXLEN && dname_len(name) == nlen,
			      "name length");
			CHECK(st == LDNS_STATUS_OK, "we accept a name ldns refuses");
			CHECK(ldns_rdf_size(rdf) == nlen &&
			      memcmp(ldns_rdf_data(rdf), name, nlen) == 0, "ldns reads another name");
			CHECK(lpos == r.pos, "ldns ends the name elsewhere");
			CHECK(r.pos > pos, "no progress");
			if (nnames < MAX_NAMES)
				memcpy(names[nnames++], name, nlen);
			pos = r.pos;
		} else {
			CHECK(r.pos == pos, "a refused read moved the position");
			if (st == LDNS_STATUS_OK)
				CHECK(has_forward_pointer(buf, len, pos),
				      "we refuse a name ldns accepts without a forward pointer");
			pos++;
		}
		ldns_rdf_deep_free(rdf);
	}
	if (nnames > 0)
		write_names(nnames, data[1]);
	return 0;
}
