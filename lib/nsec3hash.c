/* nsec3hash.c - the NSEC3 owner hash (RFC 5155 5) and base32hex (RFC 4648 7): one copy for
 * the zone store (compiler thread and the workers' answer path) and the resolver's NSEC3
 * proofs (resolver threads). No allocation, no locks, no logging. */

/* SHA1_Init/Update/Final hash on the caller's stack; OpenSSL 3's one-shot SHA1() and
 * EVP_Digest() fetch the algorithm and allocate a context per call, which the answer
 * path may not do (STYLE: no malloc per query). */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/sha.h>

#include "lib/nsec3hash.h"

void
nsec3hash_sha1(const uint8_t *name, size_t len, const uint8_t *salt, size_t salt_len,
               unsigned iterations, uint8_t *out)
{
	uint8_t lower[NSEC3HASH_NAME_MAX];
	SHA_CTX c;

	/* IH(salt, x, 0) = H(x || salt), x the canonical (lower-case) wire name;
	 * IH(salt, x, k) = H(IH(salt, x, k - 1) || salt). Length octets are below 64, never
	 * letters, so lower-casing every octet leaves them alone. */
	for (size_t i = 0; i < len; i++) {
		uint8_t o = name[i];
		lower[i] = o >= 'A' && o <= 'Z' ? (uint8_t)(o - 'A' + 'a') : o;
	}
	SHA1_Init(&c);
	SHA1_Update(&c, lower, len);
	SHA1_Update(&c, salt, salt_len);
	SHA1_Final(out, &c);
	for (unsigned k = 0; k < iterations; k++) {
		SHA1_Init(&c);
		SHA1_Update(&c, out, NSEC3HASH_SHA1_LEN);
		SHA1_Update(&c, salt, salt_len);
		SHA1_Final(out, &c);
	}
}

/* ---- base32hex (RFC 4648 7), as NSEC3 owner labels are written (RFC 5155 3.3) ------- */

static const char b32_digits[] = "0123456789abcdefghijklmnopqrstuv";

size_t
nsec3hash_b32_encode(const uint8_t *in, size_t len, char *out)
{
	size_t n = 0;
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8 | in[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[n++] = b32_digits[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[n++] = b32_digits[(acc << (5 - bits)) & 31];
	return n;
}

static int
b32_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'v')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'V')
		return c - 'A' + 10;
	return -1;
}

int
nsec3hash_b32_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned acc = 0, bits = 0;
	/* Lengths that no octet string encodes to (1, 3, 6 mod 8) are refused. */
	size_t rem = len % 8;
	if (rem == 1 || rem == 3 || rem == 6)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b32_val(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 5 | (unsigned)v) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero, so that each octet string has one encoding. */
	if ((acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (int)n;
}
