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

struct infra *
iter__infra(struct resolver *r, const struct resolver_addr *a)
{
	for (size_t i = 0; i < r->ninfra; i++) {
		if (resolver_addr_equal(&r->infra[i].addr, a))
			return &r->infra[i];
	}
	if (r->ninfra == r->cinfra) {
		/* Bounded: past 4096 addresses forget the oldest half rather than grow. */
		if (r->cinfra >= 4096) {
			for (size_t i = 0; i < r->ninfra / 2; i++) {
				if (r->infra[i].outstanding != 0)
					return NULL;
			}
			memmove(r->infra, r->infra + r->ninfra / 2,
			        (r->ninfra - r->ninfra / 2) * sizeof(*r->infra));
			r->ninfra -= r->ninfra / 2;
		} else {
			size_t nc = r->cinfra ? r->cinfra * 2 : 64;
			struct infra *ni = realloc(r->infra, nc * sizeof(*ni));
			if (ni == NULL)
				return NULL;
			r->infra = ni;
			r->cinfra = nc;
		}
	}
	struct infra *inf = &r->infra[r->ninfra++];
	memset(inf, 0, sizeof(*inf));
	inf->addr = *a;
	inf->srtt = ITER_RTT_UNKNOWN;
	inf->rto = r->conf->query_timeout_ms;
	return inf;
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
	int64_t now = cache__now_ms(r->cache);

	for (size_t i = 0; i < r->nlames; i++) {
		struct lame *l = &r->lames[i];
		if (l->until_ms > now && resolver_addr_equal(&l->addr, a) && dname_equal(l->zone, zone))
			return true;
	}
	return false;
}

void
iter__set_lame(struct resolver *r, const uint8_t *zone, const struct resolver_addr *a)
{
	int64_t now = cache__now_ms(r->cache);
	size_t slot = r->nlames;

	for (size_t i = 0; i < r->nlames; i++) {
		if (r->lames[i].until_ms <= now) {
			slot = i;
			break;
		}
	}
	if (slot == r->nlames) {
		if (r->nlames == r->clames) {
			size_t nc = r->clames ? r->clames * 2 : 32;
			if (nc > 4096)
				return;     /* full of live entries: stop remembering, still skip per task */
			struct lame *nl = realloc(r->lames, nc * sizeof(*nl));
			if (nl == NULL)
				return;
			r->lames = nl;
			r->clames = nc;
		}
		r->nlames++;
	}
	struct lame *l = &r->lames[slot];
	memcpy(l->zone, zone, dname_len(zone));
	l->addr = *a;
	l->until_ms = now + ITER_LAME_TTL * 1000LL;
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
