/* dname.h - domain names in uncompressed wire form ("\3www\7example\0").
 *
 * Functions here take names that are already known to be well formed (at most 255 octets,
 * labels of at most 63); the parsers that accept names from the network or from files check
 * that (wire_read_name(), ldns). Pure functions, any thread, no allocation. */
#ifndef SP_DNAME_H
#define SP_DNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNAME_MAXLEN 255
#define DNAME_MAXLABELS 127
/* Largest canonical key: every octet escaped to two, plus one separator per label. */
#define DNAME_KEY_MAXLEN 512

/* Wire length of name, root label included. */
size_t dname_len(const uint8_t *name);
/* Number of labels, not counting the root: "\3www\7example" has 2. */
unsigned dname_labels(const uint8_t *name);
/* The suffix of name that has labels labels (labels <= dname_labels(name)). */
const uint8_t *dname_suffix(const uint8_t *name, unsigned labels);
/* Case-insensitive equality (ASCII only, RFC 4343). */
bool dname_equal(const uint8_t *a, const uint8_t *b);
/* True when name is parent or below it. */
bool dname_is_subdomain(const uint8_t *name, const uint8_t *parent);
/* True when the first label is "*". */
bool dname_is_wildcard(const uint8_t *name);
/* Copies name to out lower-cased; returns its length. */
size_t dname_copy_lower(uint8_t *out, const uint8_t *name);

/* Canonical key (RFC 4034 section 6.1 order as a byte string): labels from the root
 * down, lower-cased, each followed by 0x00, with 0x00 and 0x01 inside a label escaped
 * as 0x01 0x01 and 0x01 0x02. memcmp() on keys sorts names canonically, and the key of
 * an ancestor is a prefix of the key of every name below it. Writes at most
 * DNAME_KEY_MAXLEN octets to key and returns the length (0 for the root). */
size_t dname_key(const uint8_t *name, uint8_t *key);
/* Inverse of dname_key(): writes the wire name (lower case) and returns its length,
 * or 0 if key is not a valid key. */
size_t dname_from_key(const uint8_t *key, size_t keylen, uint8_t *name);
/* Number of labels encoded in key. */
unsigned dname_key_labels(const uint8_t *key, size_t keylen);
/* Length of the prefix of key that holds its first (rootmost) labels labels. */
size_t dname_key_prefix(const uint8_t *key, size_t keylen, unsigned labels);

/* Presentation form with a trailing dot, escaping as RFC 1035 5.1 (\. and \DDD).
 * out needs at most 4 * 255 + 2 octets; shorter buffers truncate. Returns out. */
char *dname_to_str(const uint8_t *name, char *out, size_t outlen);
/* Parses a presentation name (relative names are taken as absolute). Returns the wire
 * length, or 0 if text is not a valid name. */
size_t dname_from_str(const char *text, uint8_t *name);

#endif
