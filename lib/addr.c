/* addr.c - "ADDR@PORT" and "ADDR/BITS" text for the configuration parsers (server/,
 * gslb/, resolver/), and prefix matching for the resolver's ACL and the GSLB topology.
 * Parsing runs on the thread that loads the configuration; matching on workers' answer
 * path, so nothing here allocates, locks or logs. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"

/* Leading decimal digits of s into *v, *end after them: 0, or -1 when s does not start
 * with a digit or overflows. strtoull alone would take " 5", "+5" and "-5". */
static int
leading_number(const char *s, unsigned long long *v, char **end)
{
	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, end, 10);
	return errno == ERANGE ? -1 : 0;
}

/* Copies the text before sep (or all of it) into host; false when empty or too long. */
static bool
split_host(const char *text, const char *sep, char *host, size_t hostlen)
{
	size_t hl = sep != NULL ? (size_t)(sep - text) : strlen(text);
	if (hl == 0 || hl >= hostlen)
		return false;
	memcpy(host, text, hl);
	host[hl] = '\0';
	return true;
}

int
addr_parse(const char *text, uint16_t defport, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned long long port = defport;
	const char *at = strchr(text, '@');
	char *end;

	if (!split_host(text, at, host, sizeof(host)))
		return -1;
	if (at != NULL && (leading_number(at + 1, &port, &end) != 0 || *end != '\0' ||
	                   port == 0 || port > 65535))
		return -2;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
	} else {
		return -1;
	}
	return 0;
}

void
addr_format(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
	}
	snprintf(out, outlen, "%s@%u", host, port);
}

int
addr_prefix_parse(const char *text, struct addr_prefix *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	unsigned max;

	if (!split_host(text, slash, host, sizeof(host)))
		return -1;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	unsigned long long bits = max;
	char *end;
	if (slash != NULL && (leading_number(slash + 1, &bits, &end) != 0 || *end != '\0' ||
	                      bits > max))
		return -1;
	out->bits = (uint8_t)bits;
	/* Host bits must be zero: "10.1.2.3/8" is a typo more often than an intent. */
	for (unsigned i = (unsigned)bits; i < max; i++) {
		if (out->addr[i / 8] & (0x80 >> (i % 8)))
			return -2;
	}
	return 0;
}

bool
addr_in_prefix(const uint8_t *net, unsigned bits, const uint8_t *addr)
{
	unsigned full = bits / 8, rest = bits % 8;
	if (memcmp(net, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (net[full] & mask) == (addr[full] & mask);
}

bool
addr_prefix_match(const struct addr_prefix *p, const uint8_t *addr)
{
	return addr_in_prefix(p->addr, p->bits, addr);
}
