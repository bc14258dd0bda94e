/* wire.h - DNS messages in wire form: a bounds-checked reader (with compression pointers
 * followed safely) and a writer into a caller's buffer with a name-compression table.
 *
 * Both work on memory the caller provides and never allocate; any thread. The reader is
 * what the answer path parses untrusted queries with, so every read checks its bounds
 * and a name's pointers must point backwards (so no chain loops). */
#ifndef SP_WIRE_H
#define SP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/errors.h"

/* ---- reading ------------------------------------------------------------------------ */

struct wire_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

static inline void
wire_reader_init(struct wire_reader *r, const uint8_t *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->pos = 0;
}

static inline size_t
wire_reader_left(const struct wire_reader *r)
{
	return r->len - r->pos;
}

/* Each returns 0 and advances, or SP_EPARSE (position unchanged) if too few octets are
 * left. Inline: the query parser calls them for every field. */
static inline int
wire_read_u8(struct wire_reader *r, uint8_t *v)
{
	if (wire_reader_left(r) < 1)
		return SP_EPARSE;
	*v = r->buf[r->pos++];
	return 0;
}

static inline int
wire_read_u16(struct wire_reader *r, uint16_t *v)
{
	if (wire_reader_left(r) < 2)
		return SP_EPARSE;
	*v = (uint16_t)(r->buf[r->pos] << 8 | r->buf[r->pos + 1]);
	r->pos += 2;
	return 0;
}

static inline int
wire_read_u32(struct wire_reader *r, uint32_t *v)
{
	if (wire_reader_left(r) < 4)
		return SP_EPARSE;
	const uint8_t *p = r->buf + r->pos;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	r->pos += 4;
	return 0;
}

/* Sets *p to the next n octets (borrowed from the buffer). */
static inline int
wire_read_bytes(struct wire_reader *r, size_t n, const uint8_t **p)
{
	if (wire_reader_left(r) < n)
		return SP_EPARSE;
	*p = r->buf + r->pos;
	r->pos += n;
	return 0;
}

/* Reads a possibly compressed name (RFC 1035 4.1.4) into out (DNAME_MAXLEN octets),
 * uncompressed, case kept, and sets *outlen to its wire length. Rejects with SP_EPARSE
 * what ldns_wire2dname() rejects: a label type other than 00 and 11, a pointer to
 * offset 0 or past the end, a loop, labels running past the end, a name longer than
 * 255 octets; and, like NSD and Knot, a pointer that does not point before itself.
 * The position ends after the first pointer or the root label. */
int wire_read_name(struct wire_reader *r, uint8_t *out, size_t *outlen);
/* Skips a possibly compressed name with the same checks as wire_read_name(). */
int wire_skip_name(struct wire_reader *r);

/* ---- writing ------------------------------------------------------------------------ */

/* How many name offsets the compression table remembers. Names past that are still
 * written, just compressed against the first ones only. */
#define WIRE_COMP_MAX 96

struct wire_writer {
	uint8_t *buf;
	size_t cap;             /* the limit: writes past it set overflow and write nothing */
	size_t len;
	bool overflow;
	unsigned ncomp;
	uint16_t comp[WIRE_COMP_MAX];   /* offsets of names (and their suffixes) written */
};

/* A point to roll back to (wire_writer_mark(), wire_writer_rollback()). */
struct wire_mark {
	size_t len;
	unsigned ncomp;
};

void wire_writer_init(struct wire_writer *w, uint8_t *buf, size_t cap);
/* The writers below do nothing once overflow is set; check it after a sequence. */
void wire_put_u8(struct wire_writer *w, uint8_t v);
void wire_put_u16(struct wire_writer *w, uint16_t v);
void wire_put_u32(struct wire_writer *w, uint32_t v);
void wire_put_bytes(struct wire_writer *w, const void *p, size_t n);
/* Writes the uncompressed name as is (e.g. inside RDATA that must not be compressed). */
void wire_put_name(struct wire_writer *w, const uint8_t *name);
/* Writes name compressed against the names written before with wire_put_name_comp()
 * (case-insensitive match, RFC 1035 4.1.4), and remembers its suffixes as targets.
 * The octets written keep the case of name up to the pointer. */
void wire_put_name_comp(struct wire_writer *w, const uint8_t *name);
/* Remembers the name already at offset off (written uncompressed, e.g. the question)
 * as a compression target, with its suffixes. */
void wire_writer_remember(struct wire_writer *w, size_t off);
/* Overwrites a 16-bit value at off (< len), e.g. a count or an RDLENGTH. */
void wire_patch_u16(struct wire_writer *w, size_t off, uint16_t v);

static inline struct wire_mark
wire_writer_mark(const struct wire_writer *w)
{
	return (struct wire_mark){ .len = w->len, .ncomp = w->ncomp };
}

/* Forgets everything written after m, including compression targets, and clears
 * overflow. */
static inline void
wire_writer_rollback(struct wire_writer *w, struct wire_mark m)
{
	w->len = m.len;
	w->ncomp = m.ncomp;
	w->overflow = false;
}

#endif
