/* internal.h - what the files of server/ share: the worker, the configuration the answer
 * path reads, and the answer entry point. Nothing outside server/ includes this. */
#ifndef SP_SERVER_INTERNAL_H
#define SP_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/dname.h"
#include "lib/wire.h"
#include "server/abuse.h"
#include "zones/zones.h"

/* ---- the answer path (server/query.c, server/answer*.c) ---------------------------- */

struct gslb_state;      /* gslb/gslb.h: answer.c alone calls into GSLB */

#define ANSWER_DEFAULT_EDNS_SIZE 1232

/* What the answer path needs from the configuration. Built at start and on reload,
 * then read-only; a reload publishes a new one (workers pick it up per batch). */
struct answer_conf {
	uint16_t edns_size;         /* our advertised UDP payload size (RFC 6891) */
	const char *identity;       /* id.server / hostname.bind TXT; NULL: REFUSED */
	const char *version;        /* version.bind / version.server TXT; NULL: REFUSED */
	const uint8_t *nsid;        /* NSID option payload (RFC 5001); NULL: not sent */
	size_t nsid_len;
	bool gslb;                  /* a gslb: section is in force: dynamic names answer */
	/* Abuse defences (server/abuse.h), NULL when off, in this conf's block: the rate-limit
	 * table (shared by the workers, updated with atomics) and the cookie settings. */
	struct rrl_table *rrl;
	const struct cookie_conf *cookies;
};

/* Per-worker counters: plain integers owned by the worker thread; readers (stats,
 * metrics) take a relaxed, possibly torn, view. */
struct answer_stats {
	uint64_t queries_udp, queries_tcp;
	uint64_t rcode[16];
	uint64_t dropped;           /* QR=1, unparseable headers, failed snapshots */
	uint64_t truncated;
	uint64_t edns;
	uint64_t badvers;           /* extended RCODE 16 (not in rcode[]) */
	uint64_t qtype[256];        /* by QTYPE for the types below 256; others in qtype_other */
	uint64_t qtype_other;
	uint64_t ecs;               /* queries with a well-formed EDNS Client Subnet option */
	uint64_t gslb_answers;      /* answers for dynamic names (A/AAAA from a pool) */
	uint64_t gslb_fallback;     /* ... of which nothing was healthy: the fallback answered */
	uint64_t gslb_sorry;        /* ... of which the sorry pool answered */
	uint64_t rrl_limited;       /* UDP answers over the rate limit (dropped or slipped) */
	uint64_t rrl_slipped;       /* ... of which sent truncated (TC=1, no records) */
	uint64_t cookies_valid;     /* queries with a valid server cookie of ours */
	uint64_t cookies_new;       /* ... with a client cookie alone, or a stale or foreign one */
	uint64_t badcookie;         /* BADCOOKIE answers (extended RCODE 23, not in rcode[]) */
};

/* Per-worker answer state (embedded in struct worker; answer_ctx_init()). */
struct answer_ctx {
	struct zones_snapshot *zsnap;       /* begun by the worker for each batch */
	const struct answer_conf *conf;
	struct answer_stats *stats;
	/* The GSLB snapshot of this batch (gslb_state_acquire()), NULL without GSLB. */
	const struct gslb_state *gslb;
	/* Set by answer_query() when the last query's name is in none of our zones (it
	 * answered REFUSED): server/recurse.c may resolve it instead. */
	bool not_ours;
};

/* A parsed query (server/query.c). Names are uncompressed; qname keeps the case it
 * arrived in (RFC 1035 7.2: the question is echoed as asked). */
struct query {
	uint16_t id;
	uint8_t opcode;
	bool rd, cd;
	bool has_question;          /* the question parsed (also set on some FORMERRs) */
	uint8_t qname[DNAME_MAXLEN];
	size_t qname_len;
	uint16_t qtype, qclass;
	bool edns;                  /* one OPT RR in the additional section */
	uint16_t edns_size;         /* the client's UDP payload size (OPT CLASS) */
	uint8_t edns_version;
	bool dnssec_ok;             /* DO (RFC 3225) */
	bool nsid;                  /* the NSID option was present (RFC 5001) */
	/* EDNS Client Subnet (RFC 7871 6), well-formed: family 1 or 2, the source prefix
	 * and the address padded with zeros to 16 octets (ecs_addr_len octets were sent). */
	bool ecs;
	uint16_t ecs_family;
	uint8_t ecs_source;
	uint8_t ecs_addr_len;
	uint8_t ecs_addr[16];
	/* DNS COOKIE (RFC 7873 4), well-formed: 8 or 16..40 octets; the first option counts
	 * (5.2: later ones are ignored). cookie_len 0: none. */
	uint8_t cookie_len;
	uint8_t cookie[40];
};

/* What query_parse() decided. */
enum query_verdict {
	QUERY_OK = 0,
	QUERY_DROP,                 /* QR=1 or shorter than a header: send nothing */
	QUERY_FORMERR,              /* malformed: answer FORMERR (the question if it parsed) */
	QUERY_BADVERS,              /* EDNS version > 0 (RFC 6891 6.1.3) */
	QUERY_NOTAUTH,              /* signed with TSIG: we have no keys (RFC 8945 5.2.2) */
};

/* Parses the header, question and EDNS OPT of pkt (len octets) into q. Accepts what
 * ldns_wire2pkt() accepts, except what RFC 6891 6.1.1 makes FORMERR (two OPT RRs, an
 * OPT outside the additional section or not owned by the root) and a QDCOUNT other than
 * 1; trailing octets after the last record are ignored like NSD and Knot do. A malformed
 * EDNS Client Subnet option is FORMERR (RFC 7871 6 and 7.1.2; see parse_ecs()). */
enum query_verdict query_parse(struct query *q, const uint8_t *pkt, size_t len);

struct answer_client {
	const struct sockaddr *addr;
	bool tcp;
};

/* ---- between the answer files (server/answer*.c) ------------------------------------- */

enum {
	TYPE_A = 1, TYPE_NS = 2, TYPE_MD = 3, TYPE_MF = 4, TYPE_CNAME = 5, TYPE_SOA = 6,
	TYPE_MB = 7, TYPE_MG = 8, TYPE_MR = 9, TYPE_PTR = 12, TYPE_MINFO = 14, TYPE_MX = 15,
	TYPE_TXT = 16, TYPE_AAAA = 28, TYPE_SRV = 33, TYPE_DNAME = 39, TYPE_OPT = 41,
	TYPE_DS = 43, TYPE_RRSIG = 46, TYPE_NSEC = 47, TYPE_DNSKEY = 48, TYPE_NSEC3 = 50,
	TYPE_TKEY = 249, TYPE_TSIG = 250, TYPE_IXFR = 251, TYPE_AXFR = 252, TYPE_MAILB = 253,
	TYPE_MAILA = 254, TYPE_ANY = 255,
};
enum { CLASS_IN = 1, CLASS_CH = 3, CLASS_ANY = 255 };
enum {
	RCODE_NOERROR = 0, RCODE_FORMERR = 1, RCODE_SERVFAIL = 2, RCODE_NXDOMAIN = 3,
	RCODE_NOTIMP = 4, RCODE_REFUSED = 5, RCODE_YXDOMAIN = 6, RCODE_NOTAUTH = 9,
	RCODE_BADVERS = 16,
};
#define OPT_NSID 3
#define OPT_ECS 8               /* EDNS Client Subnet, RFC 7871 */
#define ANSWER_MAX_CHAIN 16     /* CNAME/DNAME links followed in one answer */
#define ANSWER_MAX_ADDL 32      /* NS/MX/SRV targets looked up for the additional section */
#define ANSWER_MAX_PROOFS 4     /* deferred wildcard NSEC proofs */

/* A name whose addresses go to the additional section. */
struct addl {
	const uint8_t *name;        /* in the memory map */
	struct zones_zone zone;
	const uint8_t *cut;         /* referral NS targets: the cut (in-domain glue is required) */
};

/* A response being written (one per query, on the worker's stack). */
struct resp {
	struct wire_writer w;
	const struct query *q;
	struct answer_ctx *ctx;
	uint16_t count[3];          /* answer, authority, additional */
	unsigned section;           /* where answer__add() counts: 0, 1 or 2 */
	bool tc, aa, tcp;
	uint8_t ecs_scope;          /* SCOPE PREFIX-LENGTH echoed (RFC 7871 7.2.1): 0 for static data */
	const struct sockaddr *client;  /* the query's source (GSLB policies by client) */
	uint16_t rcode;             /* 12 bits: the upper 8 go to the OPT */
	uint16_t rrclass;           /* class of the records written (IN, or CH) */
	/* What rate limiting counts the answer under (answer_abuse.c): the zone's apex for
	 * NXDOMAIN, the cut for a referral; NULL otherwise. */
	const uint8_t *rrl_name;
	uint8_t cookie_len;         /* the COOKIE option to send (client + server), 0: none */
	uint8_t cookie[24];
	unsigned naddl;
	struct addl addl[ANSWER_MAX_ADDL];
	unsigned nproofs;           /* NSEC proving wildcard answers, written in authority */
	struct {
		struct zones_node node;
		uint8_t owner[DNAME_MAXLEN];
	} proofs[ANSWER_MAX_PROOFS];
};

/* answer.c: writes rr with owner and ttl, compressing; returns -1 (nothing written)
 * when it does not fit. answer__add() does the same for the answer and authority
 * sections, where not fitting sets TC and stops all later additions. */
int answer__put_rrset(struct resp *rs, const uint8_t *owner, const struct zones_rrset *rr,
                      uint32_t ttl);
bool answer__add(struct resp *rs, const uint8_t *owner, const struct zones_rrset *rr,
                 uint32_t ttl);

/* answer_dnssec.c (called only when the query has DO). */
/* The RRSIG covering type at node, with the covered RRset's ttl; required ones truncate
 * the message when they do not fit (RFC 4035 3.1.1), others are just left out. */
void answer__put_rrsig(struct resp *rs, const struct zones_node *node, const uint8_t *owner,
                       uint16_t type, uint32_t ttl, bool required);
/* Builds "*." + the suffix of name of labels labels (the wildcard at that closest
 * encloser, RFC 4592 2.1.1) in out (DNAME_MAXLEN octets); false if too long. Shared by
 * the NSEC and NSEC3 (answer_nsec3.c) proofs. */
bool answer__wildcard_at(const uint8_t *name, unsigned labels, uint8_t *out);
/* NSEC denial for NXDOMAIN or NODATA (RFC 4035 3.1.3). */
void answer__put_denial(struct resp *rs, const struct zones_result *res, const uint8_t *name,
                        int kind);
/* Finds (now) the NSEC proving no exact match for a wildcard answer (RFC 4035 3.1.3.3)
 * and keeps it for answer__put_proofs(), which writes them to authority at the end. */
void answer__want_wildcard_proof(struct resp *rs, const struct zones_result *res,
                                 const uint8_t *name);
void answer__put_proofs(struct resp *rs);

/* answer_abuse.c: DNS cookies and rate limiting of the response being written. */
/* Judges the query's COOKIE (when cookies are on) and sets the one to send back. */
enum cookie_state answer__cookie(struct resp *rs, const struct answer_client *cl);
/* With cookies.require, over UDP: BADCOOKIE (a client cookie without a valid server
 * cookie) or TC=1 (no cookie at all) instead of an answer. True when it did so. */
bool answer__cookie_required(struct resp *rs, const struct answer_client *cl,
                             enum cookie_state cs);
/* Rate limiting of the finished sections (UDP only): false when nothing is to be sent;
 * a slipped answer is cut back to qend (the end of the question) with TC set. */
bool answer__rrl(struct resp *rs, const struct answer_client *cl, enum cookie_state cs,
                 struct wire_mark qend);
/* DS of a signed referral, or the NSEC proving there is none (RFC 4035 3.1.4). */
void answer__put_referral_ds(struct resp *rs, const struct zones_result *res,
                             const uint8_t *cut);

/* Answers the query q (qlen octets) from client cl into out, which has room for cap
 * octets (65535 is always enough). Fits the answer to the UDP limit (512, or the
 * client's EDNS size capped by ours) with TC, or to 65535 for TCP. Returns the response
 * length, or 0 when nothing is to be sent (QR=1, fewer than 12 octets). The caller has
 * begun ctx->zsnap. Never allocates, never blocks. */
size_t answer_query(struct answer_ctx *ctx, const struct answer_client *cl,
                    const uint8_t *q, size_t qlen, uint8_t *out, size_t cap);

#endif
