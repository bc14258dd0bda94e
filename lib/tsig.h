/* tsig.h - TSIG (RFC 8945): keys, signing and verifying DNS messages with HMAC-MD5,
 * HMAC-SHA1, HMAC-SHA256/384/512 (OpenSSL's EVP_MAC).
 *
 * Used by the daemon's transfer code (server/xfr_*.c, server/notify.c) and by tools.
 * A struct tsig_ctx follows one conversation: a request and its responses, where
 * each MAC covers the MAC before it (RFC 8945 4.3). Nothing here touches sockets or
 * the clock: callers pass the time. Any thread; a ctx belongs to one thread at a time.
 * Not for the answer path: a ctx allocates (tsig_ctx_init()). */
#ifndef SP_TSIG_H
#define SP_TSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/dname.h"

enum tsig_alg {
	TSIG_HMAC_MD5 = 1,      /* hmac-md5.sig-alg.reg.int. (old estates only) */
	TSIG_HMAC_SHA1,
	TSIG_HMAC_SHA224,
	TSIG_HMAC_SHA256,
	TSIG_HMAC_SHA384,
	TSIG_HMAC_SHA512,
};

#define TSIG_SECRET_MAX 256     /* octets of a decoded secret */
#define TSIG_MAC_MAX 64         /* SHA-512 */
#define TSIG_DEFAULT_FUDGE 300  /* seconds, RFC 8945 10 recommends 300 */
#define TSIG_RR_MAX (DNAME_MAXLEN * 2 + 10 + 16 + TSIG_MAC_MAX + 6)  /* a TSIG RR we write */

/* Extended RCODEs of the TSIG error field (RFC 8945 3 and 5.2). */
enum {
	TSIG_BADSIG = 16,
	TSIG_BADKEY = 17,
	TSIG_BADTIME = 18,
	TSIG_BADTRUNC = 22,
};

struct tsig_key {
	char text[DNAME_MAXLEN * 4 + 2];    /* the name as configured, absolute */
	uint8_t name[DNAME_MAXLEN];         /* wire form, lower case (canonical, 4.3.3) */
	enum tsig_alg alg;
	uint8_t secret[TSIG_SECRET_MAX];
	size_t secret_len;
};

/* Fills k from a key name, an algorithm ("hmac-sha256", case-insensitive, trailing dot
 * allowed, or "hmac-md5.sig-alg.reg.int") and a base64 secret. Returns 0, or SP_EPARSE
 * with a reason in why (whylen octets). */
int tsig_key_init(struct tsig_key *k, const char *name, const char *alg, const char *secret,
                  char *why, size_t whylen);
/* The algorithm's name as written in TSIG RRs (wire form), its text and MAC size. */
const uint8_t *tsig_alg_wire(enum tsig_alg alg);
const char *tsig_alg_text(enum tsig_alg alg);
size_t tsig_mac_size(enum tsig_alg alg);
/* The algorithm named by the wire name, or 0. */
enum tsig_alg tsig_alg_from_wire(const uint8_t *name);

/* A TSIG RR found at the end of a message (pointers into the message). */
struct tsig_rr {
	size_t offset;          /* where the RR starts: the message without it is [0, offset) */
	uint8_t name[DNAME_MAXLEN];   /* lower case */
	uint8_t alg[DNAME_MAXLEN];    /* lower case */
	uint64_t time;          /* 48 bits */
	uint16_t fudge;
	uint16_t mac_len;
	const uint8_t *mac;
	uint16_t orig_id;
	uint16_t error;
	uint16_t other_len;
	const uint8_t *other;
};

/* Looks at the last record of the additional section of msg. Returns 1 with rr filled
 * when it is a well-formed TSIG, 0 when the message has no TSIG, SP_EPARSE when the
 * message or the TSIG is malformed (FORMERR). */
int tsig_find(const uint8_t *msg, size_t len, struct tsig_rr *rr);

/* One signed conversation. The key is borrowed: it must outlive the ctx. */
struct tsig_ctx {
	const struct tsig_key *key;
	uint16_t fudge;
	uint8_t mac[TSIG_MAC_MAX];  /* the last MAC (request's, then each signed response's) */
	size_t mac_len;
	unsigned nsigned;           /* messages signed with this ctx */
	unsigned nverified;         /* answers verified with this ctx (client side) */
	unsigned unsigned_run;      /* unsigned messages since the last signed (verify) */
	void *running;              /* EVP_MAC_CTX over unsigned messages (verify side) */
};

void tsig_ctx_init(struct tsig_ctx *c, const struct tsig_key *key, uint16_t fudge);
void tsig_ctx_deinit(struct tsig_ctx *c);

/* Outcome of verifying a request. */
enum tsig_verdict {
	TSIG_OK = 0,            /* signed and verified: ctx is set up to sign the answers */
	TSIG_NONE,              /* no TSIG RR */
	TSIG_FORMERR,           /* a malformed or misplaced TSIG RR */
	TSIG_ERR_BADKEY,        /* unknown key or algorithm: answer unsigned, BADKEY */
	TSIG_ERR_BADSIG,        /* wrong MAC: answer unsigned, BADSIG */
	TSIG_ERR_BADTIME,       /* MAC fine, time outside fudge: answer signed, BADTIME */
	TSIG_ERR_BADTRUNC,      /* truncated MAC below the allowed size (5.2.2.1) */
};

/* Verifies a request against the keys (nkeys of them) at time now (seconds). On
 * TSIG_OK and TSIG_ERR_BADTIME c is initialised with the key and the request's MAC
 * (tsig_ctx_deinit() it); rr is filled whenever a TSIG was found. */
enum tsig_verdict tsig_verify_request(const struct tsig_key *keys, size_t nkeys,
                                      const uint8_t *msg, size_t len, uint64_t now,
                                      struct tsig_ctx *c, struct tsig_rr *rr);

/* The same, with the accepted clock difference capped at max_fudge seconds (the smaller of
 * the request's fudge and ours; 0: the request's). */
enum tsig_verdict tsig_verify_request_fudge(const struct tsig_key *keys, size_t nkeys,
                                            const uint8_t *msg, size_t len, uint64_t now,
                                            uint16_t max_fudge, struct tsig_ctx *c,
                                            struct tsig_rr *rr);

/* Signs the message msg (len octets, room for cap) with c's key at time now, appending
 * a TSIG RR and counting it in ARCOUNT: a request, the first answer (which covers the
 * request's MAC and all variables) or a later message of a multi-message answer (which
 * covers the previous MAC and only the timers, RFC 8945 5.3.1). error goes in the
 * error field (BADTIME adds our time as other data). Returns 0 or SP_EPARSE (no room). */
/* Octets of the TSIG RR tsig_sign() appends with c's key (other data: other_len octets),
 * so a caller can leave room for it before it fills a size-limited message. */
size_t tsig_sign_size(const struct tsig_ctx *c, uint16_t other_len);
int tsig_sign(struct tsig_ctx *c, uint8_t *msg, size_t *len, size_t cap, uint64_t now,
              uint16_t error);
/* Appends an unsigned TSIG RR (MAC size 0) naming rr's key and algorithm with error
 * (BADKEY, BADSIG: RFC 8945 5.3.2). Returns 0 or SP_EPARSE. */
int tsig_append_error(const struct tsig_rr *rr, uint8_t *msg, size_t *len, size_t cap,
                      uint64_t now, uint16_t error);

/* Verifies one message of the answer to a request signed with c (client side; the time
 * may differ by the smaller of the answer's fudge and c's): the
 * first must be signed; later ones may be unsigned for up to 99 messages (5.3.1),
 * and the next signed one covers them. Returns 0 (verified, or unsigned and allowed),
 * or a TSIG_ERR_* / TSIG_FORMERR verdict. *error gets the TSIG error field. */
enum tsig_verdict tsig_verify_response(struct tsig_ctx *c, const uint8_t *msg, size_t len,
                                       uint64_t now, uint16_t *error);

/* Decodes base64 text into out (cap octets); returns the length, or -1. */
int tsig_base64_decode(const char *text, uint8_t *out, size_t cap);

#endif
