/* servers.c - what the resolver knows of upstream servers: smoothed RTT and retransmit
 * timeout per address (RFC 6298 arithmetic), EDNS failures, lame (zone, server) pairs,
 * and server choice by RTT band with exploration as Unbound does it. Resolver loop thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "resolver/iter.h"

uint16_t
iter__random16(struct resolver *r)
{
	uint16_t v;

	if (r->t->random16 != NULL)
		return r->t->random16(r->t->ctx);
	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint16_t)rand();
	return v;
}

static uint32_t
random32(struct resolver *r)
{
	return (uint32_t)iter__random16(r) << 16 | iter__random16(r);
}

static unsigned
addr_hash(const struct resolver_addr *a)
{
	const uint8_t *p = (const uint8_t *)&a->u;
	uint32_t h = 2166136261u;

	/* Family, port and address: the first len octets of the sockaddr, minus the
	 * sin6_flowinfo/scope fields which are zero for addresses we build. */
	for (socklen_t i = 0; i < a->len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % INFRA_BUCKETS;
}

static struct infra *
infra_find(struct resolver *r, const struct resolver_addr *a)
{
	for (struct infra *inf = r->infra[addr_hash(a)]; inf != NULL; inf = inf->hnext) {
		if (resolver_addr_equal(&inf->addr, a))
			return inf;
	}
	return NULL;
}

/* Frees one idle entry, scanning buckets round-robin from a cursor. */
static bool
infra_evict(struct resolver *r)
{
	for (unsigned n = 0; n < INFRA_BUCKETS; n++) {
		unsigned b = (r->infra_cursor + n) % INFRA_BUCKETS;
		for (struct infra **pp = &r->infra[b]; *pp != NULL; pp = &(*pp)->hnext) {
			struct infra *inf = *pp;
			if (inf->outstanding != 0)
				continue;
			*pp = inf->hnext;
			free(inf);
			r->ninfra--;
			r->infra_cursor = b + 1;
			return true;
		}
	}
	return false;
}

struct infra *
iter__infra(struct resolver *r, const struct resolver_addr *a)
{
	struct infra *inf = infra_find(r, a);
	if (inf != NULL)
		return inf;
	if (r->ninfra >= INFRA_MAX && !infra_evict(r))
		return NULL;
	inf = calloc(1, sizeof(*inf));
	if (inf == NULL)
		return NULL;
	inf->addr = *a;
	inf->srtt = ITER_RTT_UNKNOWN;
	inf->rto = r->conf->query_timeout_ms;
	unsigned b = addr_hash(a);
	inf->hnext = r->infra[b];
	r->infra[b] = inf;
	r->ninfra++;
	return inf;
}

void
iter__infra_free(struct resolver *r)
{
	for (unsigned b = 0; b < INFRA_BUCKETS; b++) {
		while (r->infra[b] != NULL) {
			struct infra *inf = r->infra[b];
			r->infra[b] = inf->hnext;
			free(inf);
		}
	}
	r->ninfra = 0;
}

void
iter__rtt_update(struct infra *inf, uint32_t rtt)
{
	/* RFC 6298 2.2/2.3 with alpha 1/8, beta 1/4. */
	if (!inf->known) {
		inf->srtt = rtt;
		inf->rttvar = rtt / 2;
		inf->known = true;
	} else {
		uint32_t d = rtt > inf->srtt ? rtt - inf->srtt : inf->srtt - rtt;
		inf->rttvar = (3 * inf->rttvar + d) / 4;
		inf->srtt = (7 * inf->srtt + rtt) / 8;
	}
	uint32_t rto = inf->srtt + 4 * inf->rttvar;
	inf->rto = rto < 50 ? 50 : rto > ITER_RTO_MAX ? ITER_RTO_MAX : rto;
	inf->timeouts = 0;
}

void
iter__timeout(struct infra *inf)
{
	/* Exponential back-off (RFC 6298 5.5): the next try waits longer, and the server
	 * falls out of the fast band so others are preferred. */
	inf->rto = inf->rto * 2 > ITER_RTO_MAX ? ITER_RTO_MAX : inf->rto * 2;
	inf->srtt = inf->rto;
	inf->timeouts++;
}

bool
iter__is_lame(struct resolver *r, const uint8_t *zone, const struct resolver_addr *a)
{
	struct infra *inf = infra_find(r, a);
	if (inf == NULL)
		return false;
	int64_t now = cache__now_ms(r->cache);
	for (int i = 0; i < ITER_LAME_SLOTS; i++) {
		if (inf->lame[i].until_ms > now && dname_equal(inf->lame[i].zone, zone))
			return true;
	}
	return false;
}

void
iter__set_lame(struct resolver *r, const uint8_t *zone, const struct resolver_addr *a)
{
	struct infra *inf = iter__infra(r, a);
	if (inf == NULL)
		return;
	int slot = 0;
	for (int i = 0; i < ITER_LAME_SLOTS; i++) {
		/* The same zone again, else the slot that expires first. */
		if (dname_equal(inf->lame[i].zone, zone) && inf->lame[i].until_ms != 0) {
			slot = i;
			break;
		}
		if (inf->lame[i].until_ms < inf->lame[slot].until_ms)
			slot = i;
	}
	memcpy(inf->lame[slot].zone, zone, dname_len(zone));
	inf->lame[slot].until_ms = cache__now_ms(r->cache) + ITER_LAME_TTL * 1000LL;
}

int
iter__select(struct resolver *r, struct task *t)
{
	int cand[ITER_MAX_SERVERS];
	unsigned ncand = 0, best = UINT32_MAX, min_tries = UINT32_MAX;

	/* Fewest tries first (each server gets a turn before one gets a second), then the
	 * band of servers within ITER_RTT_BAND of the fastest. Unknown servers count as
	 * ITER_RTT_UNKNOWN, which is how new servers get explored. */
	for (unsigned i = 0; i < t->nns; i++) {
		struct nserver *s = &t->ns[i];
		if (!s->has_addr || s->tries >= ITER_MAX_TRIES || iter__is_lame(r, t->zone, &s->addr))
			continue;
		struct infra *inf = iter__infra(r, &s->addr);
		if (inf == NULL || inf->outstanding >= r->conf->limits.max_per_server)
			continue;
		if (s->tries < min_tries)
			min_tries = s->tries;
	}
	for (unsigned i = 0; i < t->nns; i++) {
		struct nserver *s = &t->ns[i];
		if (!s->has_addr || s->tries != min_tries || iter__is_lame(r, t->zone, &s->addr))
			continue;
		struct infra *inf = iter__infra(r, &s->addr);
		if (inf == NULL || inf->outstanding >= r->conf->limits.max_per_server)
			continue;
		if (inf->srtt < best)
			best = inf->srtt;
	}
	if (best == UINT32_MAX)
		return -1;
	for (unsigned i = 0; i < t->nns; i++) {
		struct nserver *s = &t->ns[i];
		if (!s->has_addr || s->tries != min_tries || iter__is_lame(r, t->zone, &s->addr))
			continue;
		struct infra *inf = iter__infra(r, &s->addr);
		if (inf != NULL && inf->outstanding < r->conf->limits.max_per_server &&
		    inf->srtt <= best + ITER_RTT_BAND)
			cand[ncand++] = (int)i;
	}
	return ncand ? cand[random32(r) % ncand] : -1;
}
