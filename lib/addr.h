/* addr.h - IP addresses and prefixes as configuration text: "ADDR@PORT" to and from a
 * sockaddr, "10.0.0.0/8" to a prefix, and whether an address lies in a prefix (the
 * resolver's ACL, the GSLB topology table). No allocation; any thread, and
 * addr_in_prefix()/addr_prefix_match() are fit for the answer path. */
#ifndef SP_ADDR_H
#define SP_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Parses "ADDR" (port defport) or "ADDR@PORT", IPv4 or IPv6, into *ss and *len. Returns 0,
 * -1 (not an address) or -2 (bad port: not 1..65535). */
int addr_parse(const char *text, uint16_t defport, struct sockaddr_storage *ss, socklen_t *len);
/* Formats an AF_INET or AF_INET6 address as "ADDR@PORT" ("?@0" for others). */
void addr_format(const struct sockaddr *sa, char *out, size_t outlen);

/* An address prefix: family AF_INET or AF_INET6, the address in network order (4 or 16
 * octets used), and its length in bits. */
struct addr_prefix {
	uint8_t family;
	uint8_t bits;
	uint8_t addr[16];
};

/* Parses "10.0.0.0/8", "2001:db8::/32", or a bare address (a full-length prefix).
 * Returns 0, -1 (not an address or prefix) or -2 (host bits set). */
int addr_prefix_parse(const char *text, struct addr_prefix *out);
/* True when the first bits of addr and net are equal (both in network order). */
bool addr_in_prefix(const uint8_t *net, unsigned bits, const uint8_t *addr);
/* True when addr (4 or 16 octets, the family of p) lies in p. */
bool addr_prefix_match(const struct addr_prefix *p, const uint8_t *addr);

#endif
