/* nsec3hash.h - the NSEC3 owner hash (RFC 5155 5) and base32hex (RFC 4648 7), which the
 * zone store (compiler and answer path) and the resolver's NSEC3 validation both need.
 * No allocation, no locks, no logging: any thread, fit for the answer path. */
#ifndef SP_NSEC3HASH_H
#define SP_NSEC3HASH_H

#include <stddef.h>
#include <stdint.h>

#define NSEC3HASH_SHA1_LEN 20   /* SHA-1, hash algorithm 1, the only one (RFC 5155 11) */
#define NSEC3HASH_NAME_MAX 256  /* a wire name is at most 255 octets; the resolver's bound */

/* The iterated SHA-1 IH(salt, name, iterations) of RFC 5155 5 into out (20 octets).
 * name is a wire name of len octets in any case (hashed lower-cased); len must be at most
 * NSEC3HASH_NAME_MAX. Hashes on the caller's stack. */
void nsec3hash_sha1(const uint8_t *name, size_t len, const uint8_t *salt, size_t salt_len,
                    unsigned iterations, uint8_t *out);

/* RFC 4648 base32hex without padding, lower case: encodes len octets into out
 * (ceil(len * 8 / 5) characters, no NUL) and returns the character count. */
size_t nsec3hash_b32_encode(const uint8_t *in, size_t len, char *out);
/* Decodes len base32hex characters (either case, no padding, unused trailing bits zero)
 * into out (cap octets). Returns the octet count, or -1 for anything else. */
int nsec3hash_b32_decode(const char *in, size_t len, uint8_t *out, size_t cap);

#endif
