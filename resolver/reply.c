/* reply.c - turns a resolver response (struct resolver_result, or what
 * resolver_cache_answer() wrote) into the reply for one client, in place: the client's ID,
 * RD and CD, AD only for clients that can use it, the OPT record with the caller's options
 * (NSID, COOKIE) and the Extended DNS Error, and truncation to the client's UDP size. Any thread; no allocation (the answer
 * path calls it on its own buffer). */
#include <string.h>

#include "lib/wire.h"
#include "resolver/resolver.h"

#define EDE_OPTION 15           /* RFC 8914 */

/* The end of the question section (a response from this module has exactly one
 * uncompressed question), or 0. */
static size_t
question_end(const uint8_t *buf, size_t len)
{
	size_t pos = 12;
	while (pos < len && buf[pos] != 0) {
		if (buf[pos] > 63)
			return 0;
		pos += (size_t)buf[pos] + 1;
	}
	pos += 1 + 4;
	return pos <= len ? pos : 0;
}

size_t
resolver_reply_finish(uint8_t *buf, size_t len, size_t cap, const struct resolver_reply_params *p,
                      int ede)
{
	size_t qend = question_end(buf, len);
	if (len < 12 || qend == 0 || len > cap)
		return 0;
	buf[0] = (uint8_t)(p->id >> 8);
	buf[1] = (uint8_t)p->id;
	buf[2] = (uint8_t)(0x80 | (p->rd ? 0x01 : 0));                       /* QR, RD */
	/* RA; AD kept only for clients that set DO or AD (RFC 6840 5.8); CD echoed. */
	bool ad = (buf[3] & 0x20) && p->ad_ok;
	buf[3] = (uint8_t)(0x80 | (ad ? 0x20 : 0) | (p->cd ? 0x10 : 0) | (buf[3] & 0x0f));

	size_t extra = p->opts_len <= sizeof(p->opts) ? p->opts_len : 0;
	size_t optlen = p->edns ? 11 + extra + (ede >= 0 ? 6 : 0) : 0;
	size_t limit = p->max_size;     /* the caller applies RFC 6891 6.2.5's 512 floor */
	if (limit > cap)
		limit = cap;
	if (len + optlen > limit) {
		/* RFC 1035 4.2.1 / RFC 6891 7: too large, so header and question with TC; the
		 * client asks again over TCP. */
		len = qend;
		buf[2] |= 0x02;
		memset(buf + 6, 0, 6);
	}
	if (!p->edns || len + optlen > cap)
		return len;
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	w.len = len;
	wire_put_u8(&w, 0);                         /* root owner */
	wire_put_u16(&w, 41);                       /* OPT */
	wire_put_u16(&w, p->our_edns_size);
	wire_put_u32(&w, p->dnssec_ok ? 0x8000 : 0);  /* ext. RCODE 0, version 0, DO echoed */
	wire_put_u16(&w, (uint16_t)(extra + (ede >= 0 ? 6 : 0)));
	wire_put_bytes(&w, p->opts, extra);
	if (ede >= 0) {
		wire_put_u16(&w, EDE_OPTION);
		wire_put_u16(&w, 2);
		wire_put_u16(&w, (uint16_t)ede);
	}
	uint16_t ar = (uint16_t)(buf[10] << 8 | buf[11]);
	wire_patch_u16(&w, 10, (uint16_t)(ar + 1));
	return w.overflow ? 0 : w.len;
}
