/* tcppipe.c - TCP pipelining load for the authoritative benchmark (tests/bench/auth):
 * opens a connection to 127.0.0.1:PORT, writes PER_CONN length-prefixed queries in one go
 * (RFC 7766 6.2.1.1 pipelining), reads the PER_CONN answers, closes, and repeats for SECONDS.
 * Queries come from a dnsperf-style file ("name TYPE" lines; A AAAA MX TXT NS SOA CNAME).
 * Prints "connections C queries Q answers A seconds S good G": G counts answers with QR set,
 * the ID of a query sent on that connection, and RCODE NOERROR or NXDOMAIN, so a server that
 * answers fast with errors does not look fast. Single thread; run it pinned.
 * Usage: tcppipe PORT QUERYFILE SECONDS [PER_CONN] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXQ 20000

static uint8_t queries[MAXQ][300];
static size_t qlens[MAXQ];

static int
qtype_of(const char *t)
{
	static const struct { const char *n; int v; } tab[] = {
		{"A", 1}, {"NS", 2}, {"CNAME", 5}, {"SOA", 6}, {"MX", 15}, {"TXT", 16},
		{"AAAA", 28},
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcasecmp(t, tab[i].n) == 0)
			return tab[i].v;
	return 1;
}

/* Builds a framed query (2-octet length first) for name/type; returns its length or 0. */
static size_t
build(uint8_t *b, const char *name, int type, uint16_t id)
{
	uint8_t *p = b + 2;
	const uint8_t hdr[12] = { id >> 8, id & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	memcpy(p, hdr, 12);
	p += 12;
	const char *s = name;
	while (*s && *s != '.') {
		const char *e = strchr(s, '.');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		if (l == 0 || l > 63 || (size_t)(p - b) + l + 8 > 290)
			return 0;
		*p++ = (uint8_t)l;
		memcpy(p, s, l);
		p += l;
		s += l + (e ? 1 : 0);
	}
	*p++ = 0;
	*p++ = 0; *p++ = (uint8_t)type; *p++ = 0; *p++ = 1;
	size_t len = (size_t)(p - b - 2);
	b[0] = (uint8_t)(len >> 8);
	b[1] = (uint8_t)len;
	return len + 2;
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: tcppipe PORT QUERYFILE SECONDS [PER_CONN]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	double secs = atof(argv[3]);
	int per_conn = argc > 4 ? atoi(argv[4]) : 100;
	FILE *f = fopen(argv[2], "r");
	if (!f) {
		perror("tcppipe: query file");
		return 1;
	}
	size_t nq = 0;
	char name[256], type[16];
	while (nq < MAXQ && fscanf(f, "%255s %15s", name, type) == 2) {
		qlens[nq] = build(queries[nq], name, qtype_of(type), (uint16_t)nq);
		if (qlens[nq])
			nq++;
	}
	fclose(f);
	if (nq == 0 || per_conn < 1)
		return 1;

	static uint8_t out[100 * 300 * 4], in[1 << 20];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	unsigned long conns = 0, sent = 0, answers = 0, good = 0;
	size_t qi = 0;
	double t0 = now();
	while (now() - t0 < secs) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			close(fd);
			usleep(1000);
			continue;
		}
		conns++;
		size_t olen = 0, first = qi;
		for (int i = 0; i < per_conn && olen + 300 < sizeof(out); i++) {
			memcpy(out + olen, queries[qi], qlens[qi]);
			olen += qlens[qi];
			qi = (qi + 1) % nq;
		}
		size_t w = 0;
		while (w < olen) {
			ssize_t r = write(fd, out + w, olen - w);
			if (r <= 0)
				break;
			w += (size_t)r;
		}
		sent += (unsigned long)per_conn;
		/* Read until every answer has arrived (count length-prefixed messages). */
		size_t have = 0, pos = 0;
		int got = 0;
		while (got < per_conn) {
			ssize_t r = read(fd, in + have, sizeof(in) - have);
			if (r <= 0)
				break;
			have += (size_t)r;
			while (have - pos >= 2) {
				size_t ml = ((size_t)in[pos] << 8) | in[pos + 1];
				if (have - pos < ml + 2)
					break;
				const uint8_t *m = in + pos + 2;
				if (ml >= 12 && (m[2] & 0x80) && ((m[3] & 0x0f) == 0 || (m[3] & 0x0f) == 3)) {
					size_t id = ((size_t)m[0] << 8) | m[1];
					size_t span = (qi + nq - first) % nq;  /* ids first..qi-1 (mod nq) */
					if ((id + nq - first) % nq < span || span == 0)
						good++;
				}
				pos += ml + 2;
				got++;
			}
			if (pos == have)
				have = pos = 0;
			else if (have > sizeof(in) / 2) {
				memmove(in, in + pos, have - pos);
				have -= pos;
				pos = 0;
			}
		}
		answers += (unsigned long)got;
		close(fd);
	}
	printf("connections %lu queries %lu answers %lu seconds %.3f good %lu\n", conns, sent,
	       answers, now() - t0, good);
	return 0;
}
