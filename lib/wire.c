/* wire.c - bounds-checked reading and compressing writing of DNS wire form (any thread,
 * no allocation). The reader is the first code that touches untrusted packets. */
#include <string.h>

#include "lib/dname.h"
#include "lib/errors.h"
#include "lib/wire.h"

static inline uint8_t
lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Walks the name at r->pos; out may be NULL (skip). The verdicts follow
 * ldns_wire2dname() so that the hand parser and ldns agree on what is malformed. */
static int
read_name(struct wire_reader *r, uint8_t *out, size_t *outlen)
{
	const uint8_t *buf = r->buf;
	size_t len = r->len, pos = r->pos, end = 0, n = 0;
	/* Pointers go strictly backwards, so chains end; the hop bound is a second
	 * guard that costs nothing. */
	size_t hops = 0, maxhops = len / 2 + 1;

	for (;;) {
		if (pos >= len)
			return SP_EPARSE;
		uint8_t c = buf[pos];
		if ((c & 0xc0) == 0xc0) {
			if (pos + 2 > len)
				return SP_EPARSE;
			size_t target = (size_t)(c & 0x3f) << 8 | buf[pos + 1];
			/* RFC 1035 4.1.4: a pointer refers to a prior occurrence. NSD and
			 * Knot reject forward pointers (ldns accepts them); pointing
			 * strictly backwards also makes every chain end. */
			if (target == 0 || target >= pos || ++hops > maxhops)
				return SP_EPARSE;
			if (end == 0)
				end = pos + 2;
			pos = target;
			continue;
		}
		if (c > 63)
			return SP_EPARSE;  /* 01 and 10 label types (RFC 6891 obsoleted them) */
		if (c == 0)
			break;
		if (pos + 1 + c > len || n + 1 + c >= DNAME_MAXLEN)
			return SP_EPARSE;
		if (out != NULL)
			memcpy(out + n, buf + pos, 1 + (size_t)c);
		n += 1 + (size_t)c;
		pos += 1 + (size_t)c;
	}
	if (out != NULL)
		out[n] = 0;
	if (outlen != NULL)
		*outlen = n + 1;
	r->pos = end != 0 ? end : pos + 1;
	return 0;
}

int
wire_read_name(struct wire_reader *r, uint8_t *out, size_t *outlen)
{
	return read_name(r, out, outlen);
}

int
wire_skip_name(struct wire_reader *r)
{
	return read_name(r, NULL, NULL);
}

/* ---- writing ------------------------------------------------------------------------ */

void
wire_writer_init(struct wire_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = false;
	w->ncomp = 0;
}

static inline bool
room(struct wire_writer *w, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return false;
	}
	return true;
}

void
wire_put_u8(struct wire_writer *w, uint8_t v)
{
	if (room(w, 1))
		w->buf[w->len++] = v;
}

void
wire_put_u16(struct wire_writer *w, uint16_t v)
{
	if (!room(w, 2))
		return;
	w->buf[w->len] = (uint8_t)(v >> 8);
	w->buf[w->len + 1] = (uint8_t)v;
	w->len += 2;
}

void
wire_put_u32(struct wire_writer *w, uint32_t v)
{
	if (!room(w, 4))
		return;
	uint8_t *p = w->buf + w->len;
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	w->len += 4;
}

void
wire_put_bytes(struct wire_writer *w, const void *p, size_t n)
{
	if (room(w, n)) {
		memcpy(w->buf + w->len, p, n);
		w->len += n;
	}
}

void
wire_put_name(struct wire_writer *w, const uint8_t *name)
{
	wire_put_bytes(w, name, dname_len(name));
}

void
wire_patch_u16(struct wire_writer *w, size_t off, uint16_t v)
{
	w->buf[off] = (uint8_t)(v >> 8);
	w->buf[off + 1] = (uint8_t)v;
}

/* True when the (possibly compressed) name at off in what was written equals the
 * uncompressed name, ignoring case. Only our own output is read here, but the walk is
 * bounded anyway. */
static bool
match_at(const struct wire_writer *w, size_t off, const uint8_t *name)
{
	for (unsigned hops = 0; hops < 2 * DNAME_MAXLABELS; hops++) {
		if (off >= w->len)
			return false;
		uint8_t c = w->buf[off];
		if ((c & 0xc0) == 0xc0) {
			off = (size_t)(c & 0x3f) << 8 | w->buf[off + 1];
			continue;
		}
		if (c != *name)
			return false;
		if (c == 0)
			return true;
		for (unsigned i = 1; i <= c; i++) {
			/* Equal octets first: names mostly come in one case. */
			uint8_t a = w->buf[off + i], b = name[i];
			if (a != b && lower(a) != lower(b))
				return false;
		}
		off += 1 + (size_t)c;
		name += 1 + (size_t)c;
	}
	return false;
}

/* Adds the label positions of the name at off (stopping at a pointer: its target is
 * already known) while the table has room and offsets fit a pointer's 14 bits. */
void
wire_writer_remember(struct wire_writer *w, size_t off)
{
	while (off < w->len && off < 0x4000 && w->ncomp < WIRE_COMP_MAX) {
		uint8_t c = w->buf[off];
		if (c == 0 || (c & 0xc0) != 0)
			return;
		w->comp[w->ncomp++] = (uint16_t)off;
		off += 1 + (size_t)c;
	}
}

void
wire_put_name_comp(struct wire_writer *w, const uint8_t *name)
{
	const uint8_t *p = name;
	size_t start = w->len;

	/* Longest suffix first: the first hit is the best one. The root is never
	 * worth a pointer (one octet against two). */
	for (; *p != 0; p += *p + 1) {
		/* Every entry is a label (length octet, then at least one octet), so the
		 * length and first character rule out most entries before the full walk:
		 * the walk was a third of the encoder's cost. */
		uint8_t c0 = *p, c1 = lower(p[1]);
		for (unsigned i = 0; i < w->ncomp; i++) {
			const uint8_t *e = w->buf + w->comp[i];
			if (e[0] != c0 || lower(e[1]) != c1 || !match_at(w, w->comp[i], p))
				continue;
			wire_put_bytes(w, name, (size_t)(p - name));
			wire_put_u16(w, (uint16_t)(0xc000 | w->comp[i]));
			if (!w->overflow)
				wire_writer_remember(w, start);
			return;
		}
	}
	wire_put_name(w, name);
	if (!w->overflow)
		wire_writer_remember(w, start);
}
