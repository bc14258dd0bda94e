/* internal.h - what the files of server/ share: the worker, the configuration the answer
 * path reads, and the answer entry point. Nothing outside server/ includes this. */
#ifndef SP_SERVER_INTERNAL_H
#define SP_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "zones/zones.h"

/* ---- the answer path (server/query.c, server/answer*.c) ---------------------------- */

#define ANSWER_DEFAULT_EDNS_SIZE 1232

/* What the answer path needs from the configuration. Built at start and on reload,
 * then read-only; a reload publishes a new one (workers pick it up per batch). */
struct answer_conf {
	uint16_t edns_size;         /* our advertised UDP payload size (RFC 6891) */
	const char *identity;       /* id.server / hostname.bind TXT; NULL: REFUSED */
	const char *version;        /* version.bind / version.server TXT; NULL: REFUSED */
	const uint8_t *nsid;        /* NSID option payload (RFC 5001); NULL: not sent */
	size_t nsid_len;
};

/* Per-worker counters: plain integers owned by the worker thread; readers (stats,
 * metrics) take a relaxed, possibly torn, view. */
struct answer_stats {
	uint64_t queries_udp, queries_tcp;
	uint64_t rcode[16];
	uint64_t dropped;           /* QR=1, unparseable headers, failed snapshots */
	uint64_t truncated;
	uint64_t edns;
	uint64_t qtype[256];        /* by QTYPE for the types below 256; others in qtype_other */
	uint64_t qtype_other;
};

/* Per-worker answer state (embedded in struct worker; answer_ctx_init()). */
struct answer_ctx {
	struct zones_snapshot *zsnap;       /* begun by the worker for each batch */
	const struct answer_conf *conf;
	struct answer_stats *stats;
};

struct answer_client {
	const struct sockaddr *addr;
	bool tcp;
};

/* Answers the query q (qlen octets) from client cl into out, which has room for cap
 * octets (65535 is always enough). Fits the answer to the UDP limit (512, or the
 * client's EDNS size capped by ours) with TC, or to 65535 for TCP. Returns the response
 * length, or 0 when nothing is to be sent (QR=1, fewer than 12 octets). The caller has
 * begun ctx->zsnap. Never allocates, never blocks. */
size_t answer_query(struct answer_ctx *ctx, const struct answer_client *cl,
                    const uint8_t *q, size_t qlen, uint8_t *out, size_t cap);

#endif
