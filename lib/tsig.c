/* tsig.c - TSIG (RFC 8945): finding the TSIG RR of a message, computing and checking its
 * MAC with OpenSSL's EVP_MAC (HMAC), and appending TSIG RRs to requests and answers.
 *
 * Callers: the daemon's transfer thread and workers' TCP transfer code, tools. Any
 * thread; allocates an EVP_MAC_CTX per MAC, so never on the answer path. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "lib/errors.h"
#include "lib/tsig.h"
#include "lib/wire.h"

#define TYPE_TSIG 250
#define CLASS_ANY 255

struct alg_info {
	enum tsig_alg alg;
	const char *text;
	const uint8_t *wire;
	const char *digest;
	size_t size;
};

static const struct alg_info algs[] = {
	{ TSIG_HMAC_MD5, "hmac-md5", (const uint8_t *)"\10hmac-md5\7sig-alg\3reg\3int", "MD5", 16 },
	{ TSIG_HMAC_SHA1, "hmac-sha1", (const uint8_t *)"\11hmac-sha1", "SHA1", 20 },
	{ TSIG_HMAC_SHA224, "hmac-sha224", (const uint8_t *)"\13hmac-sha224", "SHA224", 28 },
	{ TSIG_HMAC_SHA256, "hmac-sha256", (const uint8_t *)"\13hmac-sha256", "SHA256", 32 },
	{ TSIG_HMAC_SHA384, "hmac-sha384", (const uint8_t *)"\13hmac-sha384", "SHA384", 48 },
	{ TSIG_HMAC_SHA512, "hmac-sha512", (const uint8_t *)"\13hmac-sha512", "SHA512", 64 },
};

static const struct alg_info *
alg_info(enum tsig_alg alg)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (algs[i].alg == alg)
			return &algs[i];
	}
	return NULL;
}

const uint8_t *
tsig_alg_wire(enum tsig_alg alg)
{
	const struct alg_info *a = alg_info(alg);
	return a ? a->wire : NULL;
}

const char *
tsig_alg_text(enum tsig_alg alg)
{
	const struct alg_info *a = alg_info(alg);
	return a ? a->text : "unknown";
}

size_t
tsig_mac_size(enum tsig_alg alg)
{
	const struct alg_info *a = alg_info(alg);
	return a ? a->size : 0;
}

enum tsig_alg
tsig_alg_from_wire(const uint8_t *name)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (dname_equal(name, algs[i].wire))
			return algs[i].alg;
	}
	return 0;
}

/* ---- keys ------------------------------------------------------------------------------ */

static int
b64val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int
tsig_base64_decode(const char *text, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	unsigned bits = 0, pad = 0;
	size_t n = 0, chars = 0;

	for (const char *p = text; *p != '\0'; p++) {
		if (isspace((unsigned char)*p))
			continue;
		if (*p == '=') {
			pad++;
			chars++;
			continue;
		}
		int v = b64val((unsigned char)*p);
		if (v < 0 || pad > 0)
			return -1;  /* a foreign character, or data after the padding */
		chars++;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (chars % 4 != 0 || pad > 2)
		return -1;
	return (int)n;
}

int
tsig_key_init(struct tsig_key *k, const char *name, const char *alg, const char *secret,
              char *why, size_t whylen)
{
	char a[64];
	memset(k, 0, sizeof(*k));
	if (name == NULL || dname_from_str(name, k->name) == 0) {
		snprintf(why, whylen, "not a key name: '%s'", name ? name : "");
		return SP_EPARSE;
	}
	dname_copy_lower(k->name, k->name);
	dname_to_str(k->name, k->text, sizeof(k->text));
	snprintf(a, sizeof(a), "%s", alg ? alg : "");
	size_t al = strlen(a);
	if (al > 0 && a[al - 1] == '.')
		a[al - 1] = '\0';
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (strcasecmp(a, algs[i].text) == 0 ||
		    (algs[i].alg == TSIG_HMAC_MD5 && strcasecmp(a, "hmac-md5.sig-alg.reg.int") == 0))
			k->alg = algs[i].alg;
	}
	if (k->alg == 0) {
		snprintf(why, whylen, "unknown algorithm '%s' (hmac-sha256, hmac-sha384, "
		         "hmac-sha512, hmac-sha224, hmac-sha1, hmac-md5)", alg ? alg : "");
		return SP_EPARSE;
	}
	int n = secret ? tsig_base64_decode(secret, k->secret, sizeof(k->secret)) : -1;
	if (n <= 0) {
		snprintf(why, whylen, "the secret is not base64 of 1 to %d octets",
		         TSIG_SECRET_MAX);
		return SP_EPARSE;
	}
	k->secret_len = (size_t)n;
	return 0;
}

/* ---- finding the TSIG RR -------------------------------------------------------------- */

static int
skip_rr(struct wire_reader *r, uint16_t *type, const uint8_t **rdata, uint16_t *rdlen)
{
	uint16_t class;
	uint32_t ttl;
	if (wire_skip_name(r) != 0 || wire_read_u16(r, type) != 0 || wire_read_u16(r, &class) != 0 ||
	    wire_read_u32(r, &ttl) != 0 || wire_read_u16(r, rdlen) != 0 ||
	    wire_read_bytes(r, *rdlen, rdata) != 0)
		return SP_EPARSE;
	return 0;
}

static int
parse_tsig_rdata(const uint8_t *msg, size_t rdstart, uint16_t rdlen, struct tsig_rr *rr)
{
	struct wire_reader r;
	size_t alen;
	uint16_t hi;
	uint32_t lo;

	/* The algorithm name may not be compressed (RFC 8945 4.2), but reading it with
	 * the general reader over the whole message is harmless and bounds-checked. */
	wire_reader_init(&r, msg, rdstart + rdlen);
	r.pos = rdstart;
	if (wire_read_name(&r, rr->alg, &alen) != 0 || wire_read_u16(&r, &hi) != 0 ||
	    wire_read_u32(&r, &lo) != 0 || wire_read_u16(&r, &rr->fudge) != 0 ||
	    wire_read_u16(&r, &rr->mac_len) != 0 || wire_read_bytes(&r, rr->mac_len, &rr->mac) != 0 ||
	    wire_read_u16(&r, &rr->orig_id) != 0 || wire_read_u16(&r, &rr->error) != 0 ||
	    wire_read_u16(&r, &rr->other_len) != 0 ||
	    wire_read_bytes(&r, rr->other_len, &rr->other) != 0 || wire_reader_left(&r) != 0)
		return SP_EPARSE;
	dname_copy_lower(rr->alg, rr->alg);
	rr->time = (uint64_t)hi << 32 | lo;
	return 0;
}

int
tsig_find(const uint8_t *msg, size_t len, struct tsig_rr *rr)
{
	struct wire_reader r;
	uint16_t counts[4], type, rdlen;
	const uint8_t *rdata, *skip;

	if (len < 12)
		return SP_EPARSE;
	wire_reader_init(&r, msg, len);
	(void)wire_read_bytes(&r, 4, &skip);
	for (int i = 0; i < 4; i++)
		(void)wire_read_u16(&r, &counts[i]);
	for (unsigned i = 0; i < counts[0]; i++) {
		if (wire_skip_name(&r) != 0 || wire_read_bytes(&r, 4, &skip) != 0)
			return SP_EPARSE;
	}
	for (int s = 1; s <= 3; s++) {
		for (unsigned i = 0; i < counts[s]; i++) {
			size_t start = r.pos;
			if (skip_rr(&r, &type, &rdata, &rdlen) != 0)
				return SP_EPARSE;
			if (type != TYPE_TSIG)
				continue;
			/* RFC 8945 5.1: the TSIG RR is the last of the additional section. */
			if (s != 3 || i + 1 != counts[3])
				return SP_EPARSE;
			struct wire_reader nr;
			size_t nlen;
			wire_reader_init(&nr, msg, len);
			nr.pos = start;
			if (wire_read_name(&nr, rr->name, &nlen) != 0)
				return SP_EPARSE;
			dname_copy_lower(rr->name, rr->name);
			rr->offset = start;
			return parse_tsig_rdata(msg, (size_t)(rdata - msg), rdlen, rr) == 0 ? 1 : SP_EPARSE;
		}
	}
	return 0;
}

/* ---- MACs ----------------------------------------------------------------------------- */

static EVP_MAC_CTX *
mac_begin(const struct tsig_key *k)
{
	const struct alg_info *a = alg_info(k->alg);
	if (a == NULL)
		return NULL;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		return NULL;
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);      /* the ctx holds its own reference */
	if (ctx == NULL)
		return NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)a->digest, 0),
		OSSL_PARAM_construct_end(),
	};
	if (EVP_MAC_init(ctx, k->secret, k->secret_len, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void
mac_u16(EVP_MAC_CTX *m, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	EVP_MAC_update(m, b, 2);
}

/* The prior MAC, with its length (RFC 8945 4.3.1 and 4.3.2). */
static void
mac_prior(EVP_MAC_CTX *m, const struct tsig_ctx *c)
{
	if (c->mac_len == 0)
		return;
	mac_u16(m, (uint16_t)c->mac_len);
	EVP_MAC_update(m, c->mac, c->mac_len);
}

/* The message as it was before the TSIG RR was added: ARCOUNT one less and the
 * original ID (RFC 8945 4.3.3 / 5.2). */
static void
mac_message(EVP_MAC_CTX *m, const uint8_t *msg, size_t upto, uint16_t orig_id, bool had_tsig)
{
	uint8_t hdr[12];
	memcpy(hdr, msg, 12);
	hdr[0] = (uint8_t)(orig_id >> 8);
	hdr[1] = (uint8_t)orig_id;
	if (had_tsig) {
		uint16_t ar = (uint16_t)((hdr[10] << 8 | hdr[11]) - 1);
		hdr[10] = (uint8_t)(ar >> 8);
		hdr[11] = (uint8_t)ar;
	}
	EVP_MAC_update(m, hdr, 12);
	EVP_MAC_update(m, msg + 12, upto - 12);
}

static void
mac_time(EVP_MAC_CTX *m, uint64_t t, uint16_t fudge)
{
	uint8_t b[8] = {(uint8_t)(t >> 40), (uint8_t)(t >> 32), (uint8_t)(t >> 24),
	                (uint8_t)(t >> 16), (uint8_t)(t >> 8), (uint8_t)t,
	                (uint8_t)(fudge >> 8), (uint8_t)fudge};
	EVP_MAC_update(m, b, 8);
}

/* The TSIG variables (RFC 8945 4.3.3): all of them for a request or a first answer,
 * only the timers for a later message of a multi-message answer (4.3.2). */
static void
mac_variables(EVP_MAC_CTX *m, const struct tsig_key *k, bool full, uint64_t t, uint16_t fudge,
              uint16_t error, const uint8_t *other, uint16_t other_len)
{
	if (full) {
		const uint8_t *alg = tsig_alg_wire(k->alg);
		uint8_t alg_lower[DNAME_MAXLEN];
		size_t alen = dname_copy_lower(alg_lower, alg);
		EVP_MAC_update(m, k->name, dname_len(k->name));
		mac_u16(m, CLASS_ANY);
		uint8_t ttl[4] = {0};
		EVP_MAC_update(m, ttl, 4);
		EVP_MAC_update(m, alg_lower, alen);
	}
	mac_time(m, t, fudge);
	if (full) {
		mac_u16(m, error);
		mac_u16(m, other_len);
		if (other_len > 0)
			EVP_MAC_update(m, other, other_len);
	}
}

static bool
mac_end(EVP_MAC_CTX *m, uint8_t *out, size_t *outlen)
{
	size_t n = 0;
	bool ok = EVP_MAC_final(m, out, &n, TSIG_MAC_MAX) == 1;
	EVP_MAC_CTX_free(m);
	*outlen = n;
	return ok;
}

/* ---- conversations ------------------------------------------------------------------------ */

void
tsig_ctx_init(struct tsig_ctx *c, const struct tsig_key *key, uint16_t fudge)
{
	memset(c, 0, sizeof(*c));
	c->key = key;
	c->fudge = fudge ? fudge : TSIG_DEFAULT_FUDGE;
}

void
tsig_ctx_deinit(struct tsig_ctx *c)
{
	if (c->running != NULL)
		EVP_MAC_CTX_free(c->running);
	c->running = NULL;
}

static const struct tsig_key *
key_find(const struct tsig_key *keys, size_t nkeys, const struct tsig_rr *rr)
{
	for (size_t i = 0; i < nkeys; i++) {
		if (dname_equal(keys[i].name, rr->name) && tsig_alg_from_wire(rr->alg) == keys[i].alg)
			return &keys[i];
	}
	return NULL;
}

/* RFC 8945 5.2.2.1: a MAC longer than the digest, or shorter than both 10 octets and
 * half the digest, is FORMERR; a shorter one than the digest is a truncation we accept
 * when it is at least half of it (and at least 10 octets). */
static enum tsig_verdict
check_mac_len(const struct tsig_key *k, uint16_t mac_len)
{
	size_t full = tsig_mac_size(k->alg);
	size_t min = full / 2 > 10 ? full / 2 : 10;
	if (mac_len > full || mac_len < (full < 10 ? full : 10))
		return TSIG_FORMERR;
	if (mac_len < min)
		return TSIG_ERR_BADTRUNC;
	return TSIG_OK;
}

static bool
time_ok(uint64_t now, uint64_t t, uint16_t fudge)
{
	uint64_t d = now > t ? now - t : t - now;
	return d <= fudge;
}

enum tsig_verdict
tsig_verify_request(const struct tsig_key *keys, size_t nkeys, const uint8_t *msg, size_t len,
                    uint64_t now, struct tsig_ctx *c, struct tsig_rr *rr)
{
	return tsig_verify_request_fudge(keys, nkeys, msg, len, now, 0, c, rr);
}

/* The smaller of the message's fudge and our limit (0: none). */
static uint16_t
fudge_of(uint16_t theirs, uint16_t ours)
{
	return ours != 0 && ours < theirs ? ours : theirs;
}

enum tsig_verdict
tsig_verify_request_fudge(const struct tsig_key *keys, size_t nkeys, const uint8_t *msg,
                          size_t len, uint64_t now, uint16_t max_fudge, struct tsig_ctx *c,
                          struct tsig_rr *rr)
{
	int found = tsig_find(msg, len, rr);
	if (found == 0)
		return TSIG_NONE;
	if (found < 0)
		return TSIG_FORMERR;
	const struct tsig_key *k = key_find(keys, nkeys, rr);
	if (k == NULL)
		return TSIG_ERR_BADKEY;
	enum tsig_verdict v = check_mac_len(k, rr->mac_len);
	if (v != TSIG_OK)
		return v;
	EVP_MAC_CTX *m = mac_begin(k);
	if (m == NULL)
		return TSIG_ERR_BADKEY;
	uint8_t mac[TSIG_MAC_MAX];
	size_t mlen;
	mac_message(m, msg, rr->offset, rr->orig_id, true);
	mac_variables(m, k, true, rr->time, rr->fudge, rr->error, rr->other, rr->other_len);
	if (!mac_end(m, mac, &mlen) || CRYPTO_memcmp(mac, rr->mac, rr->mac_len) != 0)
		return TSIG_ERR_BADSIG;
	tsig_ctx_init(c, k, rr->fudge);
	memcpy(c->mac, rr->mac, rr->mac_len);
	c->mac_len = rr->mac_len;
	/* 5.2.3: the time is checked after the MAC, and the answer is still signed. */
	if (!time_ok(now, rr->time, fudge_of(rr->fudge, max_fudge)))
		return TSIG_ERR_BADTIME;
	return TSIG_OK;
}

static int
put_tsig_rr(const uint8_t *name, const uint8_t *alg, uint8_t *msg, size_t *len, size_t cap,
            uint64_t t, uint16_t fudge, const uint8_t *mac, size_t mac_len, uint16_t error,
            const uint8_t *other, uint16_t other_len)
{
	struct wire_writer w;
	wire_writer_init(&w, msg, cap);
	w.len = *len;
	wire_put_name(&w, name);
	wire_put_u16(&w, TYPE_TSIG);
	wire_put_u16(&w, CLASS_ANY);
	wire_put_u32(&w, 0);
	size_t rdl_at = w.len;
	wire_put_u16(&w, 0);
	wire_put_name(&w, alg);
	wire_put_u16(&w, (uint16_t)(t >> 32));
	wire_put_u32(&w, (uint32_t)t);
	wire_put_u16(&w, fudge);
	wire_put_u16(&w, (uint16_t)mac_len);
	if (mac_len > 0)
		wire_put_bytes(&w, mac, mac_len);
	wire_put_u16(&w, (uint16_t)(msg[0] << 8 | msg[1]));     /* original ID */
	wire_put_u16(&w, error);
	wire_put_u16(&w, other_len);
	if (other_len > 0)
		wire_put_bytes(&w, other, other_len);
	if (w.overflow)
		return SP_EPARSE;
	wire_patch_u16(&w, rdl_at, (uint16_t)(w.len - rdl_at - 2));
	uint16_t ar = (uint16_t)((msg[10] << 8 | msg[11]) + 1);
	msg[10] = (uint8_t)(ar >> 8);
	msg[11] = (uint8_t)ar;
	*len = w.len;
	return 0;
}

size_t
tsig_sign_size(const struct tsig_ctx *c, uint16_t other_len)
{
	/* owner, TYPE CLASS TTL RDLENGTH, algorithm, time 6 fudge 2 MAC size 2, MAC,
	 * original ID 2 error 2 other length 2, other data (RFC 8945 4.2) */
	return dname_len(c->key->name) + 10 + dname_len(tsig_alg_wire(c->key->alg)) + 10 +
	       tsig_mac_size(c->key->alg) + 6 + other_len;
}

int
tsig_sign(struct tsig_ctx *c, uint8_t *msg, size_t *len, size_t cap, uint64_t now,
          uint16_t error)
{
	uint8_t other[6], mac[TSIG_MAC_MAX];
	uint16_t other_len = 0;
	size_t mlen;

	if (*len < 12)
		return SP_EPARSE;
	if (error == TSIG_BADTIME) {
		/* 5.2.3: other data carries our time so the client can see the skew. */
		for (int i = 0; i < 6; i++)
			other[i] = (uint8_t)(now >> (40 - 8 * i));
		other_len = 6;
	}
	EVP_MAC_CTX *m = mac_begin(c->key);
	if (m == NULL)
		return SP_EPARSE;
	bool full = c->nsigned == 0;
	mac_prior(m, c);
	mac_message(m, msg, *len, (uint16_t)(msg[0] << 8 | msg[1]), false);
	mac_variables(m, c->key, full, now, c->fudge, error, other, other_len);
	if (!mac_end(m, mac, &mlen))
		return SP_EPARSE;
	int rc = put_tsig_rr(c->key->name, tsig_alg_wire(c->key->alg), msg, len, cap, now,
	                     c->fudge, mac, mlen, error, other, other_len);
	if (rc != 0)
		return rc;
	memcpy(c->mac, mac, mlen);
	c->mac_len = mlen;
	c->nsigned++;
	return 0;
}

int
tsig_append_error(const struct tsig_rr *rr, uint8_t *msg, size_t *len, size_t cap, uint64_t now,
                  uint16_t error)
{
	return put_tsig_rr(rr->name, rr->alg, msg, len, cap, now, rr->fudge, NULL, 0, error,
	                   NULL, 0);
}

enum tsig_verdict
tsig_verify_response(struct tsig_ctx *c, const uint8_t *msg, size_t len, uint64_t now,
                     uint16_t *error)
{
	struct tsig_rr rr;
	*error = 0;
	int found = tsig_find(msg, len, &rr);
	if (found < 0)
		return TSIG_FORMERR;
	if (found == 0) {
		/* 5.3.1: up to 99 unsigned messages may follow a signed one; the next
		 * signed message's MAC covers them. The first answer must be signed. */
		if (c->nverified == 0 || c->unsigned_run >= 99)
			return TSIG_ERR_BADSIG;
		if (c->running == NULL) {
			c->running = mac_begin(c->key);
			if (c->running == NULL)
				return TSIG_ERR_BADKEY;
			mac_prior(c->running, c);
		}
		EVP_MAC_update(c->running, msg, len);
		c->unsigned_run++;
		return TSIG_OK;
	}
	*error = rr.error;
	if (!dname_equal(rr.name, c->key->name) || tsig_alg_from_wire(rr.alg) != c->key->alg)
		return TSIG_ERR_BADKEY;
	if (rr.mac_len == 0) {
		/* An unsigned error answer (BADKEY, BADSIG). */
		return rr.error == TSIG_BADKEY ? TSIG_ERR_BADKEY : TSIG_ERR_BADSIG;
	}
	enum tsig_verdict v = check_mac_len(c->key, rr.mac_len);
	if (v != TSIG_OK)
		return v;
	EVP_MAC_CTX *m = c->running;
	c->running = NULL;
	if (m == NULL) {
		m = mac_begin(c->key);
		if (m == NULL)
			return TSIG_ERR_BADKEY;
		mac_prior(m, c);
	}
	uint8_t mac[TSIG_MAC_MAX];
	size_t mlen;
	mac_message(m, msg, rr.offset, rr.orig_id, true);
	mac_variables(m, c->key, c->nverified == 0, rr.time, rr.fudge, rr.error, rr.other,
	              rr.other_len);
	if (!mac_end(m, mac, &mlen) || CRYPTO_memcmp(mac, rr.mac, rr.mac_len) != 0)
		return TSIG_ERR_BADSIG;
	memcpy(c->mac, rr.mac, rr.mac_len);
	c->mac_len = rr.mac_len;
	c->nverified++;
	c->unsigned_run = 0;
	if (!time_ok(now, rr.time, fudge_of(rr.fudge, c->fudge)))
		return TSIG_ERR_BADTIME;
	return TSIG_OK;
}
