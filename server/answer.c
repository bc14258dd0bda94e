/* answer.c - placeholder: answers every query REFUSED until the answer path lands. */
#include <string.h>

#include "server/internal.h"

size_t
answer_query(struct answer_ctx *ctx, const struct answer_client *cl, const uint8_t *q,
             size_t qlen, uint8_t *out, size_t cap)
{
	if (qlen < 12 || (q[2] & 0x80) != 0 || cap < 12)
		return 0;
	memcpy(out, q, 12);
	out[2] = (uint8_t)(0x80 | (q[2] & 0x79));
	out[3] = 5;  /* REFUSED */
	memset(out + 4, 0, 8);
	return 12;
}
