/* cookies.c - DNS cookies (RFC 7873) with interoperable server cookies (RFC 9018):
 * SipHash-2-4, the server cookie's construction and its validation with a rotating
 * secret. answer.c decides what a verdict means for the answer (BADCOOKIE, TC, exemption
 * from rate limiting); query.c refuses malformed options (FORMERR).
 *
 * Worker threads, on the answer path: no allocation, no lock, a few SipHash runs.
 *
 * SipHash is written out here rather than taken from OpenSSL's EVP_MAC "SIPHASH": the
 * EVP route allocates a context per call (or needs one per worker kept across reloads)
 * and costs more than the twenty lines below for an 8-octet MAC over ~30 octets. */
#include <string.h>

#include <netinet/in.h>

#include "server/abuse.h"

/* ---- SipHash-2-4 ------------------------------------------------------------------------ */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define SIPROUND(v0, v1, v2, v3)                                                      \
	do {                                                                              \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                     \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                        \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                        \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                     \
	} while (0)

void
cookie_siphash24(const uint8_t key[16], const uint8_t *msg, size_t len, uint8_t out[8])
{
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	size_t full = len - len % 8;

	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = le64(msg + i);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	/* The last block: the remaining octets and the length's low byte on top. */
	uint64_t b = (uint64_t)len << 56;
	for (size_t i = 0; i < len % 8; i++)
		b |= (uint64_t)msg[full + i] << (8 * i);
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		SIPROUND(v0, v1, v2, v3);
	uint64_t h = v0 ^ v1 ^ v2 ^ v3;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(h >> (8 * i));
}

/* ---- RFC 9018 server cookies ----------------------------------------------------------- */

void
cookie_make(const uint8_t secret[16], const uint8_t client[8], const struct sockaddr *addr,
            uint32_t ts, uint8_t out[16])
{
	/* RFC 9018 4.2: Hash = SipHash-2-4(Client Cookie | Version | Reserved | Timestamp
	 * | Client-IP, Server Secret), the address as 4 or 16 octets in network order. */
	uint8_t in[8 + 8 + 16];
	size_t n = 0;

	memcpy(in, client, 8);
	n = 8;
	out[0] = 1;             /* Version */
	out[1] = out[2] = out[3] = 0;   /* Reserved */
	out[4] = (uint8_t)(ts >> 24);
	out[5] = (uint8_t)(ts >> 16);
	out[6] = (uint8_t)(ts >> 8);
	out[7] = (uint8_t)ts;
	memcpy(in + n, out, 8);
	n += 8;
	if (addr->sa_family == AF_INET6) {
		memcpy(in + n, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
		n += 16;
	} else {
		memcpy(in + n, &((const struct sockaddr_in *)addr)->sin_addr, 4);
		n += 4;
	}
	cookie_siphash24(secret, in, n, out + 8);
}

/* Key of rotation period p: SipHash of the master secret over ("signpost cookie key",
 * p, half), twice for 16 octets. Every server given the same master secret and a clock
 * within the lifetime derives the same keys, so an anycast set of Signpost nodes shares
 * cookies without distributing new secrets. */
static void
derive(const uint8_t master[16], uint32_t period, uint8_t out[16])
{
	uint8_t in[24] = "signpost cookie key";
	in[20] = (uint8_t)(period >> 24);
	in[21] = (uint8_t)(period >> 16);
	in[22] = (uint8_t)(period >> 8);
	in[23] = (uint8_t)period;
	in[19] = 0;
	cookie_siphash24(master, in, sizeof(in), out);
	in[19] = 1;
	cookie_siphash24(master, in, sizeof(in), out + 8);
}

void
cookie__keys(const struct cookie_conf *cc, uint32_t now, uint8_t cur[16], uint8_t prev[16])
{
	if (cc->rotate_s == 0) {
		memcpy(cur, cc->secret, 16);
		memcpy(prev, cc->secret, 16);
		return;
	}
	uint32_t period = now / cc->rotate_s;
	derive(cc->secret, period, cur);
	derive(cc->secret, period - 1, prev);
}

/* Serial-number difference a - b (RFC 1982), as RFC 9018 4.3 asks for the timestamp. */
static int64_t
serial_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static bool
hash_equal(const uint8_t *a, const uint8_t *b)
{
	/* Not early-exit: the time would tell an attacker how many octets were right. */
	uint8_t d = 0;
	for (int i = 0; i < 8; i++)
		d |= (uint8_t)(a[i] ^ b[i]);
	return d == 0;
}

enum cookie_state
cookie_check(const struct cookie_conf *cc, const struct sockaddr *addr, const uint8_t *opt,
             size_t len, uint32_t now, uint8_t out[24])
{
	uint8_t cur[16], prev[16], want[16];
	enum cookie_state st = COOKIE_CLIENT;

	cookie__keys(cc, now, cur, prev);
	memcpy(out, opt, COOKIE_CLIENT_LEN);
	/* Ours are 16 octets of version 1 (RFC 9018 4.1); anything else is somebody
	 * else's (or from before a change of method) and gets a fresh one (RFC 7873
	 * 5.2.4). */
	if (len == COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN && opt[8] == 1) {
		const uint8_t *sc = opt + 8;
		uint32_t ts = (uint32_t)sc[4] << 24 | (uint32_t)sc[5] << 16 |
		              (uint32_t)sc[6] << 8 | sc[7];
		int64_t age = serial_diff(now, ts);
		/* 4.3: valid for an hour, and up to five minutes from the future (clock
		 * skew within an anycast set). */
		if (age <= 3600 && age >= -300) {
			cookie_make(cur, opt, addr, ts, want);
			/* We make them with zero reserved octets (4.2): others are not ours. */
			if (sc[1] != 0 || sc[2] != 0 || sc[3] != 0)
				st = COOKIE_CLIENT;
			else if (hash_equal(want + 8, sc + 8))
				st = COOKIE_VALID;
			else if (cc->rotate_s != 0) {
				cookie_make(prev, opt, addr, ts, want);
				if (hash_equal(want + 8, sc + 8))
					st = COOKIE_VALID;
			}
		}
		/* 4.3: a valid cookie younger than half an hour is sent back as it is (made
		 * with the key of its period); an older one is renewed. */
		if (st == COOKIE_VALID && age <= 1800 && age >= 0) {
			memcpy(out + 8, sc, COOKIE_SERVER_LEN);
			return st;
		}
	}
	cookie_make(cur, opt, addr, now, out + 8);
	return st;
}
