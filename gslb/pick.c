/* pick.c - the answer path of GSLB: find a dynamic name, then choose addresses from its
 * pool by policy (weighted, round-robin, failover, hash, topology, lowest-rtt), among the
 * members the snapshot says are healthy, falling back as the pool says when none is.
 * Runs on worker threads: no allocation, no lock, no logging, and every loop is bounded by
 * GSLB_MAX_MEMBERS, GSLB_MAX_REGIONS or the size of the topology table. The generator and
 * the round-robin counter are per thread. gslb_explain() runs the same decision code (decide())
 * on the control thread with a struct gslb_trace to fill; the answer path passes NULL. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <ldns/ldns.h>

#ifdef HAVE_MAXMINDDB
#include <maxminddb.h>
#endif

#include "gslb/internal.h"
#include "lib/addr.h"

/* ---- per-thread generator: xoshiro256** seeded by splitmix64 ---------------------------- */

static _Thread_local uint64_t rng[4];
static _Thread_local bool rng_seeded;
static _Thread_local uint64_t rr_counter;

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
gslb_pick_seed(uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng[i] = splitmix64(&seed);
	rr_counter = seed;
	rng_seeded = true;
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(void)
{
	if (!rng_seeded) {
		uint64_t seed = 0;
		/* Once per thread; getrandom() does not allocate and the pool is long
		 * initialised by the time a worker answers. Fall back to clock and address. */
		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed)) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uintptr_t)&seed;
		}
		gslb_pick_seed(seed);
	}
	uint64_t result = rotl(rng[1] * 5, 7) * 9;
	uint64_t t = rng[1] << 17;
	rng[2] ^= rng[0];
	rng[3] ^= rng[1];
	rng[1] ^= rng[2];
	rng[0] ^= rng[3];
	rng[2] ^= t;
	rng[3] = rotl(rng[3], 45);
	return result;
}

/* Uniform in [0, n) for n < 2^32 (Lemire's multiply-shift; bias below 2^-32). */
static uint32_t
rand_below(uint32_t n)
{
	return (uint32_t)(((rng_next() >> 32) * (uint64_t)n) >> 32);
}

/* ---- candidates --------------------------------------------------------------------- */

struct cand {
	unsigned n;
	uint16_t idx[GSLB_MAX_MEMBERS];
};

struct ctx {
	const struct gslb_state *st;
	const struct gslb_conf *c;
	const struct gslb_name *name;
	const struct gslb_pool_conf *pool;
	const struct gslb_client *cl;
	int family;                 /* 4 or 6 */
	unsigned k;                 /* answers wanted */
	struct gslb_answer *out;
	struct gslb_trace *tr;      /* gslb_explain(): why; NULL on the answer path */
};

/* The trace entry of global member midx (explain only: a bounded linear search). */
static struct gslb_trace_member *
trace_member(const struct ctx *x, unsigned midx)
{
	for (unsigned i = 0; i < x->tr->n; i++) {
		if (x->tr->m[i].index == midx)
			return &x->tr->m[i];
	}
	return NULL;
}

static bool
has_family(const struct gslb_member_conf *m, int family)
{
	return family == 4 ? m->has4 : m->has6;
}

enum { HEALTHY, OPEN };

/* HEALTHY: up, not drained, weight > 0. OPEN (fail open): every member not drained, or
 * every member when all are drained (an answer of drained members beats an empty one). */
static void
collect(const struct ctx *x, const struct gslb_pool_conf *pool, int mode, struct cand *cd)
{
	cd->n = 0;
	for (unsigned i = pool->first; i < pool->first + pool->n; i++) {
		const struct gslb_mstate *ms = &x->st->m[i];
		if (!has_family(&x->c->members[i], x->family) || ms->drained)
			continue;
		if (mode == HEALTHY && (!ms->up || ms->weight == 0))
			continue;
		cd->idx[cd->n++] = (uint16_t)i;
	}
	if (cd->n > 0 || mode == HEALTHY)
		return;
	for (unsigned i = pool->first; i < pool->first + pool->n; i++) {
		if (has_family(&x->c->members[i], x->family))
			cd->idx[cd->n++] = (uint16_t)i;
	}
}

static void
emit(const struct ctx *x, unsigned midx)
{
	struct gslb_answer *out = x->out;
	const struct gslb_member_conf *m = &x->c->members[midx];

	if (out->count >= x->k || out->count >= GSLB_MAX_ANSWERS)
		return;
	if (x->family == 4)
		memcpy(out->addr[out->count], m->addr4, 4);
	else
		memcpy(out->addr[out->count], m->addr6, 16);
	if (x->tr != NULL) {
		struct gslb_trace_member *tm = trace_member(x, midx);
		if (tm != NULL)
			tm->answer = (int)out->count;
	}
	out->member[out->count++] = (uint16_t)midx;
}

static unsigned
weight_of(const struct ctx *x, unsigned midx)
{
	unsigned w = x->st->m[midx].weight;
	return w ? w : 1;  /* fail-open sets may hold weight-0 members */
}

/* Weighted sampling without replacement: each draw is in proportion to weight among the
 * members not drawn yet. */
static void
pick_weighted(const struct ctx *x, struct cand *cd)
{
	uint32_t total = 0;
	for (unsigned i = 0; i < cd->n; i++)
		total += weight_of(x, cd->idx[i]);
	while (cd->n > 0 && x->out->count < x->k) {
		uint32_t r = rand_below(total);
		unsigned i = 0;
		for (; i + 1 < cd->n; i++) {
			uint32_t w = weight_of(x, cd->idx[i]);
			if (r < w)
				break;
			r -= w;
		}
		emit(x, cd->idx[i]);
		total -= weight_of(x, cd->idx[i]);
		cd->idx[i] = cd->idx[--cd->n];
	}
}

static void
pick_round_robin(const struct ctx *x, struct cand *cd)
{
	unsigned start = (unsigned)(rr_counter++ % cd->n);
	for (unsigned i = 0; i < cd->n; i++)
		emit(x, cd->idx[(start + i) % cd->n]);
}

/* The first priority group (lowest number) with at least min-healthy candidates answers;
 * when no group has that many, the first group with any does. */
static void
pick_failover(const struct ctx *x, const struct gslb_pool_conf *pool, struct cand *cd)
{
	unsigned best = UINT32_MAX, first_any = UINT32_MAX, prev = 0;
	bool have_prev = false;

	/* Visit priorities in ascending order: at most cd->n distinct values. */
	for (unsigned round = 0; round < cd->n; round++) {
		unsigned p = UINT32_MAX, count = 0;
		for (unsigned i = 0; i < cd->n; i++) {
			unsigned pr = x->c->members[cd->idx[i]].priority;
			if ((!have_prev || pr > prev) && pr < p)
				p = pr;
		}
		if (p == UINT32_MAX)
			break;
		for (unsigned i = 0; i < cd->n; i++)
			count += x->c->members[cd->idx[i]].priority == p;
		if (x->tr != NULL && x->tr->n_groups < GSLB_MAX_MEMBERS) {
			x->tr->groups[x->tr->n_groups].priority = p;
			x->tr->groups[x->tr->n_groups++].healthy = count;
		}
		if (first_any == UINT32_MAX)
			first_any = p;
		if (count >= pool->min_healthy) {
			best = p;
			break;
		}
		prev = p;
		have_prev = true;
	}
	if (x->tr != NULL && cd->n > 0) {
		x->tr->group_chosen = true;
		x->tr->group_under_min = best == UINT32_MAX;
		x->tr->group = best == UINT32_MAX ? first_any : best;
	}
	if (best == UINT32_MAX)
		best = first_any;
	unsigned n = 0;
	for (unsigned i = 0; i < cd->n; i++) {
		if (x->c->members[cd->idx[i]].priority == best)
			cd->idx[n++] = cd->idx[i];
	}
	cd->n = n;
	pick_weighted(x, cd);
}

/* ---- client address -------------------------------------------------------------------- */

struct caddr {
	int family;             /* 0: unknown client */
	uint8_t addr[16];
	uint8_t source;         /* bits known: ECS source prefix, else the full address */
	bool ecs;
};

static void
client_addr(const struct gslb_client *cl, struct caddr *ca)
{
	memset(ca, 0, sizeof(*ca));
	if (cl == NULL)
		return;
	/* RFC 7871 7.1.2: a source prefix of 0 means the client opted out; answer from the
	 * resolver's address, with scope 0. */
	if (cl->has_ecs && cl->ecs_source > 0 && (cl->ecs_family == 1 || cl->ecs_family == 2)) {
		ca->family = cl->ecs_family == 1 ? 4 : 6;
		ca->source = cl->ecs_source;
		if (ca->source > (ca->family == 4 ? 32 : 128))
			ca->source = ca->family == 4 ? 32 : 128;
		memcpy(ca->addr, cl->ecs_addr, ca->family == 4 ? 4 : 16);
		ca->ecs = true;
		return;
	}
	if (cl->addr == NULL)
		return;
	if (cl->addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)cl->addr;
		ca->family = 4;
		ca->source = 32;
		memcpy(ca->addr, &sin->sin_addr, 4);
	} else if (cl->addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)cl->addr;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			ca->family = 4;
			ca->source = 32;
			memcpy(ca->addr, sin6->sin6_addr.s6_addr + 12, 4);
		} else {
			ca->family = 6;
			ca->source = 128;
			memcpy(ca->addr, sin6->sin6_addr.s6_addr, 16);
		}
	}
}

static void
mask_prefix(uint8_t *addr, unsigned bytes, unsigned prefix)
{
	for (unsigned i = 0; i < bytes; i++) {
		unsigned bit0 = i * 8;
		if (bit0 >= prefix)
			addr[i] = 0;
		else if (prefix - bit0 < 8)
			addr[i] &= (uint8_t)(0xff << (8 - (prefix - bit0)));
	}
}

/* ---- hash: weighted rendezvous (HRW) ------------------------------------------------ */

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdULL;
	z = (z ^ (z >> 33)) * 0xc4ceb9fe1a85ec53ULL;
	return z ^ (z >> 33);
}

/* -ln(u) for u = x / 2^53, x in [1, 2^53): exponent from the bit length, the mantissa's
 * logarithm by the atanh series (|t| <= 1/3, so 14 terms are exact to double precision).
 * Local so the answer path needs no libm. */
static double
neg_ln_unit(uint64_t x)
{
	static const double ln2 = 0.69314718055994530942;
	int e = 63 - __builtin_clzll(x);
	double m = (double)x / (double)(1ULL << e);        /* [1, 2) */
	double t = (m - 1) / (m + 1), t2 = t * t, term = t, sum = 0;
	for (int i = 1; i < 30; i += 2) {
		sum += term / i;
		term *= t2;
	}
	return -((double)(e - 53) * ln2 + 2 * sum);
}

/* Each member scores weight / -ln(u), u uniform from hash(client subnet, member id): the
 * highest score wins, which gives each member a share in proportion to its weight, and
 * removing a member moves only the clients it had (Thaler and Ravishankar; the weighted
 * form as in Resch's "logarithmic method"). */
static void
pick_hash(const struct ctx *x, struct cand *cd)
{
	struct caddr ca;
	uint64_t key = 0x6a09e667f3bcc909ULL;
	double score[GSLB_MAX_MEMBERS];

	client_addr(x->cl, &ca);
	if (ca.family != 0) {
		unsigned cfg = ca.family == 4 ? x->name->hash4 : x->name->hash6;
		unsigned prefix = ca.source < cfg ? ca.source : cfg;
		mask_prefix(ca.addr, ca.family == 4 ? 4 : 16, prefix);
		key = mix64(key ^ (uint64_t)ca.family << 8 ^ prefix);
		for (unsigned i = 0; i < 16; i += 8) {
			uint64_t w;
			memcpy(&w, ca.addr + i, 8);
			key = mix64(key ^ w);
		}
		if (ca.ecs)
			x->out->scope = (uint8_t)prefix;
		if (x->tr != NULL)
			x->tr->hash_prefix = (uint8_t)prefix;
	}
	if (x->tr != NULL)
		x->tr->hash_key = key;
	for (unsigned i = 0; i < cd->n; i++) {
		uint64_t h = mix64(key ^ x->c->members[cd->idx[i]].id_hash) >> 11;
		if (h == 0)
			h = 1;
		score[i] = weight_of(x, cd->idx[i]) / neg_ln_unit(h);
		if (x->tr != NULL) {
			struct gslb_trace_member *tm = trace_member(x, cd->idx[i]);
			if (tm != NULL) {
				tm->scored = true;
				tm->score = score[i];
			}
		}
	}
	while (cd->n > 0 && x->out->count < x->k) {
		unsigned best = 0;
		for (unsigned i = 1; i < cd->n; i++) {
			if (score[i] > score[best])
				best = i;
		}
		emit(x, cd->idx[best]);
		cd->n--;
		cd->idx[best] = cd->idx[cd->n];
		score[best] = score[cd->n];
	}
}

/* ---- topology ------------------------------------------------------------------------ */

/* entry: the index of the matched CIDR entry, or -2 - i for GeoIP country i (explain). */
static int
topo_region(const struct gslb_conf *c, int family, const uint8_t *addr, uint8_t *prefix,
            int *entry)
{
	/* Sorted longest prefix first, so the first match is the longest. */
	for (unsigned i = 0; i < c->n_topo; i++) {
		const struct gslb_topo_entry *e = &c->topo[i];
		if (e->family == family && addr_in_prefix(e->addr, e->prefix, addr)) {
			*prefix = e->prefix;
			*entry = (int)i;
			return e->region;
		}
	}
#ifdef HAVE_MAXMINDDB
	if (c->geoip && c->n_countries) {
		struct sockaddr_storage ss = {0};
		int err = 0;
		if (family == 4) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, addr, 4);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, addr, 16);
		}
		MMDB_lookup_result_s res = MMDB_lookup_sockaddr(c->geoip, (struct sockaddr *)&ss, &err);
		MMDB_entry_data_s d;
		if (err == MMDB_SUCCESS && res.found_entry &&
		    MMDB_get_value(&res.entry, &d, "country", "iso_code", NULL) == MMDB_SUCCESS &&
		    d.has_data && d.type == MMDB_DATA_TYPE_UTF8_STRING && d.data_size == 2) {
			for (unsigned i = 0; i < c->n_countries; i++) {
				if (memcmp(c->countries[i].cc, d.utf8_string, 2) == 0) {
					/* netmask counts bits of the IPv6 tree for IPv4 lookups. */
					unsigned nm = res.netmask;
					if (family == 4 && nm >= 96)
						nm -= 96;
					*prefix = (uint8_t)nm;
					*entry = -2 - (int)i;
					return c->countries[i].region;
				}
			}
		}
	}
#endif
	*entry = -1;
	return -1;
}

int
gslb__topo_region(const struct gslb_conf *c, int family, const uint8_t *addr, uint8_t *prefix)
{
	int entry;
	return topo_region(c, family, addr, prefix, &entry);
}

/* Records where the client's region came from and the first step of the answer. */
static void
trace_region(const struct ctx *x, int region, int entry)
{
	struct gslb_trace *tr = x->tr;
	tr->region = region >= 0 ? x->c->regions[region] : NULL;
	if (entry >= 0) {
		const struct gslb_topo_entry *e = &x->c->topo[entry];
		tr->region_source = GSLB_REGION_CIDR;
		tr->region_prefix = e->prefix;
		memcpy(tr->region_net, e->addr, 16);
		tr->region_line = e->line;
	} else if (entry <= -2) {
		tr->region_source = GSLB_REGION_GEOIP;
		memcpy(tr->region_country, x->c->countries[-2 - entry].cc, 2);
		tr->region_country[2] = '\0';
	}
}

static void
keep_region(const struct ctx *x, const struct cand *all, int region, struct cand *cd)
{
	cd->n = 0;
	for (unsigned i = 0; i < all->n; i++) {
		if (x->c->members[all->idx[i]].region == region)
			cd->idx[cd->n++] = all->idx[i];
	}
}

/* Client -> region (longest matching subnet, then GeoIP); members of that region, then of
 * the regions in its region-order; then any candidate. */
static void
pick_topology(const struct ctx *x, struct cand *all)
{
	struct caddr ca;
	struct cand cd;
	uint8_t matched = 0;
	int region = -1, entry = -1;

	client_addr(x->cl, &ca);
	if (ca.family != 0) {
		uint8_t masked[16];
		memcpy(masked, ca.addr, 16);
		mask_prefix(masked, ca.family == 4 ? 4 : 16, ca.source);
		region = topo_region(x->c, ca.family, masked, &matched, &entry);
		if (x->tr != NULL)
			x->tr->region_prefix = matched;
		/* RFC 7871 7.2.1: the scope is the prefix the answer was decided on; for no
		 * match, the whole source prefix (the longest claim we can make). */
		if (ca.ecs)
			x->out->scope = region >= 0 ? matched : ca.source;
	}
	const struct gslb_region_order *o = NULL;
	if (region >= 0 && x->c->order[region].n > 0)
		o = &x->c->order[region];
	else if (x->c->global_order.n > 0)
		o = &x->c->global_order;
	if (x->tr != NULL) {
		trace_region(x, region, entry);
		x->tr->order_global = o == &x->c->global_order;
		x->tr->region_step = GSLB_STEP_ANY;
		x->tr->answered_region = NULL;
	}
	if (region >= 0) {
		keep_region(x, all, region, &cd);
		if (cd.n > 0) {
			if (x->tr != NULL) {
				x->tr->region_step = 0;
				x->tr->answered_region = x->c->regions[region];
			}
			pick_weighted(x, &cd);
			return;
		}
	}
	for (unsigned i = 0; o && i < o->n; i++) {
		keep_region(x, all, o->order[i], &cd);
		if (cd.n > 0) {
			if (x->tr != NULL) {
				x->tr->region_step = (int)i + 1;
				x->tr->answered_region = x->c->regions[o->order[i]];
			}
			pick_weighted(x, &cd);
			return;
		}
	}
	pick_weighted(x, all);
}

/* ---- lowest RTT ---------------------------------------------------------------------------- */

static void
pick_lowest_rtt(const struct ctx *x, struct cand *cd)
{
	/* Insertion sort by RTT (unmeasured last), stable so ties keep configuration order. */
	for (unsigned i = 1; i < cd->n; i++) {
		uint16_t v = cd->idx[i];
		int64_t rv = x->st->m[v].rtt_us < 0 ? INT64_MAX : x->st->m[v].rtt_us;
		unsigned j = i;
		for (; j > 0; j--) {
			int64_t rj = x->st->m[cd->idx[j - 1]].rtt_us;
			if ((rj < 0 ? INT64_MAX : rj) <= rv)
				break;
			cd->idx[j] = cd->idx[j - 1];
		}
		cd->idx[j] = v;
	}
	for (unsigned i = 0; i < cd->n; i++)
		emit(x, cd->idx[i]);
}

/* ---- entry points ---------------------------------------------------------------------------- */

static void
run_policy(struct ctx *x, const struct gslb_pool_conf *pool, struct cand *cd)
{
	x->k = pool->max_answers;
	x->out->ttl = pool->ttl;
	switch (x->name->policy) {
	case GSLB_ROUND_ROBIN:
		pick_round_robin(x, cd);
		break;
	case GSLB_FAILOVER:
		pick_failover(x, pool, cd);
		break;
	case GSLB_HASH:
		pick_hash(x, cd);
		break;
	case GSLB_TOPOLOGY:
		pick_topology(x, cd);
		break;
	case GSLB_LOWEST_RTT:
		pick_lowest_rtt(x, cd);
		break;
	case GSLB_WEIGHTED:
	default:
		pick_weighted(x, cd);
		break;
	}
}

static bool
pool_has_family(const struct ctx *x, const struct gslb_pool_conf *pool)
{
	for (unsigned i = pool->first; i < pool->first + pool->n; i++) {
		if (has_family(&x->c->members[i], x->family))
			return true;
	}
	return false;
}

/* Appends pool's members to the trace with their state as collect() judges it. */
static void
trace_pool(const struct ctx *x, const struct gslb_pool_conf *pool)
{
	struct gslb_trace *tr = x->tr;
	for (unsigned i = pool->first; i < pool->first + pool->n && tr->n < GSLB_TRACE_MAX; i++) {
		const struct gslb_member_conf *m = &x->c->members[i];
		const struct gslb_mstate *ms = &x->st->m[i];
		struct gslb_trace_member *tm = &tr->m[tr->n++];
		*tm = (struct gslb_trace_member){
			.pool = pool->name, .name = m->name, .index = i, .up = ms->up,
			.drained = ms->drained, .weight = ms->weight, .priority = m->priority,
			.rtt_us = ms->rtt_us, .answer = -1,
			.region = m->region >= 0 ? x->c->regions[m->region] : NULL,
		};
		if (!has_family(m, x->family))
			tm->state = GSLB_TM_NO_FAMILY;
		else if (ms->drained)
			tm->state = GSLB_TM_DRAINED;
		else if (!ms->up)
			tm->state = GSLB_TM_DOWN;
		else if (ms->weight == 0)
			tm->state = GSLB_TM_ZERO_WEIGHT;
		else
			tm->state = GSLB_TM_CANDIDATE;
		if (pool == x->pool && tm->state == GSLB_TM_DRAINED)
			tr->drained++;
	}
}

/* The decision, shared by gslb_pick_name() (tr NULL) and gslb_explain(). */
static void
decide(const struct gslb_state *st, const struct gslb_name *name, uint16_t qtype,
       const struct gslb_client *cl, struct gslb_answer *out, struct gslb_trace *tr)
{
	const struct gslb_conf *c = st->conf;
	const struct gslb_pool_conf *pool = &c->pools[name->pool];
	struct ctx x = { .st = st, .c = c, .name = name, .pool = pool, .cl = cl, .out = out,
	                 .tr = tr };
	struct cand cd;

	out->count = 0;
	out->qtype = qtype;
	out->ttl = pool->ttl;
	out->scope = 0;
	out->flags = 0;
	if (qtype != LDNS_RR_TYPE_A && qtype != LDNS_RR_TYPE_AAAA) {
		if (tr != NULL)
			tr->not_address_type = true;
		return;
	}
	x.family = qtype == LDNS_RR_TYPE_A ? 4 : 6;
	if (tr != NULL)
		trace_pool(&x, pool);
	if (!pool_has_family(&x, pool)) {
		if (tr != NULL)
			tr->no_family = true;
		return;
	}
	collect(&x, pool, HEALTHY, &cd);
	if (tr != NULL)
		tr->candidates = cd.n;
	if (cd.n > 0 && (name->policy == GSLB_FAILOVER || cd.n >= pool->min_healthy)) {
		run_policy(&x, pool, &cd);
		return;
	}
	out->flags = GSLB_ANSWER_FALLBACK;
	if (pool->fallback == GSLB_FALLBACK_NONE) {
		if (tr != NULL)
			tr->fallback_none = true;
		return;
	}
	if (pool->fallback == GSLB_FALLBACK_POOL && pool->sorry >= 0) {
		const struct gslb_pool_conf *sorry = &c->pools[pool->sorry];
		if (pool_has_family(&x, sorry)) {
			if (tr != NULL) {
				tr->sorry_pool = sorry->name;
				trace_pool(&x, sorry);
			}
			collect(&x, sorry, HEALTHY, &cd);
			if (cd.n == 0) {
				collect(&x, sorry, OPEN, &cd);
				if (tr != NULL)
					tr->fail_open = true;
			}
			out->flags |= GSLB_ANSWER_SORRY;
			run_policy(&x, sorry, &cd);
			return;
		}
	}
	/* Fail open (Route 53 does the same): when every member looks down, the checks are
	 * more likely wrong than every server, and an address beats no answer. */
	if (tr != NULL)
		tr->fail_open = true;
	collect(&x, pool, OPEN, &cd);
	run_policy(&x, pool, &cd);
}

void
gslb_pick_name(const struct gslb_state *st, const struct gslb_name *name, uint16_t qtype,
               const struct gslb_client *cl, struct gslb_answer *out)
{
	decide(st, name, qtype, cl, out, NULL);
}

int
gslb_explain(const struct gslb_state *st, const uint8_t *qname, uint16_t qtype,
             const struct gslb_client *cl, struct gslb_answer *out, struct gslb_trace *tr)
{
	const struct gslb_name *name = gslb_name_find(st, qname);

	if (name == NULL) {
		out->count = 0;
		return -ENOENT;
	}
	if (tr == NULL) {
		decide(st, name, qtype, cl, out, NULL);
		return 0;
	}
	memset(tr, 0, sizeof(*tr));
	tr->policy = name->policy;
	tr->name = name->text;
	tr->pool = st->conf->pools[name->pool].name;
	tr->min_healthy = st->conf->pools[name->pool].min_healthy;
	tr->max_answers = st->conf->pools[name->pool].max_answers;
	tr->region_step = GSLB_STEP_NONE;
	struct caddr ca;
	client_addr(cl, &ca);
	tr->client_family = ca.family;
	tr->client_ecs = ca.ecs;
	tr->client_source = ca.source;
	memcpy(tr->client_addr, ca.addr, sizeof(tr->client_addr));
	decide(st, name, qtype, cl, out, tr);
	tr->flags = out->flags;
	tr->scope = out->scope;
	return 0;
}

const struct gslb_name *
gslb_name_find(const struct gslb_state *st, const uint8_t *qname)
{
	const struct gslb_conf *c = st->conf;
	uint32_t s = (uint32_t)gslb__name_hash(qname) & c->name_mask;

	/* The table is at most half full, so an empty slot ends every probe sequence. */
	for (uint32_t n = 0; n <= c->name_mask; n++) {
		uint32_t v = c->name_slots[s];
		if (v == 0)
			return NULL;
		if (dname_equal(c->names[v - 1].wire, qname))
			return &c->names[v - 1];
		s = (s + 1) & c->name_mask;
	}
	return NULL;
}

int
gslb_pick(const struct gslb_state *st, const uint8_t *qname, uint16_t qtype,
          const struct gslb_client *cl, struct gslb_answer *out)
{
	const struct gslb_name *name = gslb_name_find(st, qname);

	if (name == NULL) {
		out->count = 0;
		return -ENOENT;
	}
	gslb_pick_name(st, name, qtype, cl, out);
	return 0;
}
