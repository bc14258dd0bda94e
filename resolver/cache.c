/* cache.c - the resolver's cache: RRsets and negative entries (RFC 2308) in memory, in
 * shards of a hash table with a least-recently-used list each and a byte budget, with
 * TTL clamps, credibility ranks (RFC 2181 5.4.1) and stale entries kept for RFC 8767.
 *
 * Threads: the resolver thread inserts; any worker reads (resolver_cache_answer()). Each
 * shard has a mutex held only for a hash walk and a copy, never across I/O or malloc.
 * Why memory and not LMDB: entries live seconds to hours and are rewritten constantly;
 * LMDB's single writer and copy-on-write pages make each insert a page write and each
 * eviction a delete, while readers already copy the bytes out (docs/resolver.md). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "lib/wire.h"
#include "resolver/internal.h"

#define NSHARDS 16             /* hash % 16 picks the shard, hash >> 4 the bucket */
#define STALE_TTL 30            /* RFC 8767 4: TTL of stale records in answers */
#define PREFETCH_HITS 4         /* hits that make an entry "popular" */

struct shard {
	pthread_mutex_t lock;
	struct cache_entry **buckets;
	size_t nbuckets;
	struct cache_entry lru;     /* sentinel: lru.lnext is the most recently used */
	size_t bytes, max_bytes, entries;
	uint64_t hits, misses, evictions, inserts;
};

struct resolver_cache {
	struct shard shards[NSHARDS];
	_Atomic int64_t offset_ms;
	uint32_t ttl_min, ttl_max, neg_ttl_max, stale_max_age;
	bool prefetch;
	bool validating;
};

static uint32_t
name_hash(const uint8_t *name, size_t len, uint16_t type, uint16_t rclass)
{
	uint32_t h = 2166136261u;      /* FNV-1a over the lower-cased name and the type */

	for (size_t i = 0; i < len; i++) {
		uint8_t ch = name[i];
		if (ch >= 'A' && ch <= 'Z')
			ch += 32;
		h = (h ^ ch) * 16777619u;
	}
	h = (h ^ type) * 16777619u;
	h = (h ^ rclass) * 16777619u;
	return h;
}

int
resolver_cache_new(size_t max_bytes, struct resolver_cache **out)
{
	struct resolver_cache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	if (max_bytes < NSHARDS * 4096)
		max_bytes = NSHARDS * 4096;
	size_t nb = 64;
	while (nb * NSHARDS * 128 < max_bytes && nb < (1u << 20))
		nb <<= 1;
	for (int i = 0; i < NSHARDS; i++) {
		struct shard *s = &c->shards[i];
		pthread_mutex_init(&s->lock, NULL);
		s->nbuckets = nb;
		s->buckets = calloc(nb, sizeof(*s->buckets));
		s->lru.lnext = s->lru.lprev = &s->lru;
		s->max_bytes = max_bytes / NSHARDS;
		if (s->buckets == NULL) {
			resolver_cache_free(c);
			return -ENOMEM;
		}
	}
	c->ttl_max = 86400;
	c->neg_ttl_max = 3600;
	c->stale_max_age = 86400;
	*out = c;
	return 0;
}

void
resolver_cache_free(struct resolver_cache *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < NSHARDS; i++) {
		struct shard *s = &c->shards[i];
		if (s->buckets == NULL)
			continue;
		for (size_t b = 0; b < s->nbuckets; b++) {
			for (struct cache_entry *e = s->buckets[b], *nx; e != NULL; e = nx) {
				nx = e->hnext;
				free(e);
			}
		}
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	free(c);
}

int64_t
cache__now_ms(struct resolver_cache *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atomic_load(&c->offset_ms);
}

void
cache__advance(struct resolver_cache *c, int64_t ms)
{
	atomic_fetch_add(&c->offset_ms, ms);
}

void
cache__set_clamps(struct resolver_cache *c, uint32_t ttl_min, uint32_t ttl_max,
                  uint32_t neg_ttl_max, uint32_t stale_max_age)
{
	c->ttl_min = ttl_min;
	c->ttl_max = ttl_max;
	c->neg_ttl_max = neg_ttl_max;
	c->stale_max_age = stale_max_age;
}

void
cache__set_prefetch(struct resolver_cache *c, bool on)
{
	c->prefetch = on;
}

void
cache__set_validating(struct resolver_cache *c, bool on)
{
	c->validating = on;
}

static void
lru_unlink(struct cache_entry *e)
{
	e->lprev->lnext = e->lnext;
	e->lnext->lprev = e->lprev;
}

static void
lru_push(struct shard *s, struct cache_entry *e)
{
	e->lnext = s->lru.lnext;
	e->lprev = &s->lru;
	s->lru.lnext->lprev = e;
	s->lru.lnext = e;
}

static size_t
entry_bytes(const struct cache_entry *e)
{
	return sizeof(*e) + e->datalen + e->siglen + e->prooflen;
}

static void
entry_unref(struct cache_entry *e)
{
	if (atomic_fetch_sub(&e->refs, 1) == 1)
		free(e);
}

/* Unlinks e from its shard (lock held). */
static void
shard_drop(struct shard *s, struct cache_entry *e)
{
	struct cache_entry **pp = &s->buckets[(e->hash >> 4) & (s->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(e);
	s->bytes -= entry_bytes(e);
	s->entries--;
	e->linked = false;
	entry_unref(e);
}

static struct cache_entry *
shard_find(struct shard *s, uint32_t h, const uint8_t *name, uint16_t type, uint16_t rclass)
{
	struct cache_entry *e = s->buckets[(h >> 4) & (s->nbuckets - 1)];
	for (; e != NULL; e = e->hnext) {
		if (e->hash == h && e->type == type && e->rclass == rclass &&
		    dname_equal(e->name, name))
			return e;
	}
	return NULL;
}

static int
insert(struct resolver_cache *c, struct cache_entry *ne)
{
	ne->namelen = dname_copy_lower(ne->name, ne->name);
	ne->hash = name_hash(ne->name, ne->namelen, ne->type, ne->rclass);
	atomic_init(&ne->refs, 1);
	atomic_init(&ne->hits, 0);
	atomic_init(&ne->sec, CACHE_SEC_UNCHECKED);
	struct shard *s = &c->shards[ne->hash % NSHARDS];
	int64_t now = cache__now_ms(c);
	ne->expire_ms = now + (int64_t)ne->ttl * 1000;

	pthread_mutex_lock(&s->lock);
	struct cache_entry *old = shard_find(s, ne->hash, ne->name, ne->type, ne->rclass);
	if (old != NULL) {
		if (old->rank > ne->rank && old->expire_ms > now) {
			pthread_mutex_unlock(&s->lock);
			free(ne);
			return 1;
		}
		shard_drop(s, old);
	}
	struct cache_entry **b = &s->buckets[(ne->hash >> 4) & (s->nbuckets - 1)];
	ne->hnext = *b;
	*b = ne;
	ne->linked = true;
	lru_push(s, ne);
	s->bytes += entry_bytes(ne);
	s->entries++;
	s->inserts++;
	/* Evict from the cold end until the shard fits its budget again. */
	while (s->bytes > s->max_bytes && s->lru.lprev != ne) {
		shard_drop(s, s->lru.lprev);
		s->evictions++;
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static uint32_t
clamp(uint32_t v, uint32_t lo, uint32_t hi)
{
	if (v < lo)
		v = lo;
	return v > hi ? hi : v;
}

static int cache__put_rrset_ex(struct resolver_cache *c, const uint8_t *name, uint16_t type,
                               uint16_t rclass, uint32_t ttl, uint8_t rank,
                               const uint8_t *rdata, size_t rdatalen, uint16_t n,
                               const uint8_t *sigs, size_t siglen, uint16_t nsig,
                               unsigned synth_labels, const uint8_t *proof, size_t prooflen,
                               uint16_t nproof);

int
cache__put_rrset(struct resolver_cache *c, const uint8_t *name, uint16_t type, uint16_t rclass,
                 uint32_t ttl, uint8_t rank, const uint8_t *rdata, size_t rdatalen, uint16_t n)
{
	return cache__put_rrset_synth(c, name, type, rclass, ttl, rank, rdata, rdatalen, n, 0);
}

int
cache__put_rrset_synth(struct resolver_cache *c, const uint8_t *name, uint16_t type,
                       uint16_t rclass, uint32_t ttl, uint8_t rank, const uint8_t *rdata,
                       size_t rdatalen, uint16_t n, unsigned synth_labels)
{
	return cache__put_rrset_full(c, name, type, rclass, ttl, rank, rdata, rdatalen, n, NULL, 0,
	                             0, synth_labels);
}

int
cache__put_rrset_full(struct resolver_cache *c, const uint8_t *name, uint16_t type,
                      uint16_t rclass, uint32_t ttl, uint8_t rank, const uint8_t *rdata,
                      size_t rdatalen, uint16_t n, const uint8_t *sigs, size_t siglen,
                      uint16_t nsig, unsigned synth_labels)
{
	return cache__put_rrset_ex(c, name, type, rclass, ttl, rank, rdata, rdatalen, n, sigs,
	                           siglen, nsig, synth_labels, NULL, 0, 0);
}

int
cache__put_rrset_proven(struct resolver_cache *c, const uint8_t *name, uint16_t type,
                        uint16_t rclass, uint32_t ttl, uint8_t rank, const uint8_t *rdata,
                        size_t rdatalen, uint16_t n, const uint8_t *sigs, size_t siglen,
                        uint16_t nsig, const uint8_t *proof, size_t prooflen, uint16_t nproof)
{
	return cache__put_rrset_ex(c, name, type, rclass, ttl, rank, rdata, rdatalen, n, sigs,
	                           siglen, nsig, 0, proof, prooflen, nproof);
}

static int
cache__put_rrset_ex(struct resolver_cache *c, const uint8_t *name, uint16_t type,
                    uint16_t rclass, uint32_t ttl, uint8_t rank, const uint8_t *rdata,
                    size_t rdatalen, uint16_t n, const uint8_t *sigs, size_t siglen,
                    uint16_t nsig, unsigned synth_labels, const uint8_t *proof,
                    size_t prooflen, uint16_t nproof)
{
	if (sigs == NULL)
		siglen = 0;
	if (proof == NULL)
		prooflen = 0;
	struct cache_entry *e = calloc(1, sizeof(*e) + rdatalen + siglen + prooflen);
	if (e == NULL)
		return -ENOMEM;
	memcpy(e->name, name, dname_len(name));
	e->type = type;
	e->rclass = rclass;
	e->rank = rank;
	e->kind = CACHE_POS;
	e->synth_labels = (uint8_t)synth_labels;
	e->n = n;
	e->ttl = clamp(ttl, c->ttl_min, c->ttl_max);
	e->datalen = rdatalen;
	memcpy(e->data, rdata, rdatalen);
	if (sigs != NULL && siglen > 0) {
		memcpy(e->data + rdatalen, sigs, siglen);
		e->siglen = siglen;
		e->nsig = nsig;
	}
	if (prooflen > 0) {
		memcpy(e->data + rdatalen + e->siglen, proof, prooflen);
		e->prooflen = prooflen;
		e->nproof = nproof;
	}
	return insert(c, e);
}

uint32_t
rr__soa_minimum(const uint8_t *rdata, size_t rdlen)
{
	struct wire_reader r;
	uint32_t v[5];

	wire_reader_init(&r, rdata, rdlen);
	if (wire_skip_name(&r) != 0 || wire_skip_name(&r) != 0)
		return 0;
	for (int i = 0; i < 5; i++) {
		if (wire_read_u32(&r, &v[i]) != 0)
			return 0;
	}
	return v[4];
}

int
cache__put_negative(struct resolver_cache *c, const uint8_t *name, uint16_t type, uint16_t rclass,
                    uint8_t kind, const uint8_t *soa_owner, uint32_t soa_ttl,
                    const uint8_t *soa_rdata, size_t soa_rdlen, uint8_t rank,
                    const uint8_t *proof, size_t prooflen, uint16_t nproof)
{
	size_t olen = soa_owner ? dname_len(soa_owner) : 0;
	struct cache_entry *e = calloc(1, sizeof(*e) + olen + 2 + soa_rdlen + prooflen);
	if (e == NULL)
		return -ENOMEM;
	memcpy(e->name, name, dname_len(name));
	e->type = kind == CACHE_NXDOMAIN ? 0 : type;
	e->rclass = rclass;
	e->rank = rank;
	e->kind = kind;
	uint32_t ttl = 0;
	if (soa_owner != NULL) {
		/* RFC 2308 5: the negative TTL is the smaller of the SOA's TTL and MINIMUM. */
		uint32_t min = rr__soa_minimum(soa_rdata, soa_rdlen);
		ttl = soa_ttl < min ? soa_ttl : min;
		memcpy(e->data, soa_owner, olen);
		e->data[olen] = (uint8_t)(soa_rdlen >> 8);
		e->data[olen + 1] = (uint8_t)soa_rdlen;
		memcpy(e->data + olen + 2, soa_rdata, soa_rdlen);
		e->n = 1;
		e->datalen = olen + 2 + soa_rdlen;
	}
	if (proof != NULL && prooflen > 0) {
		memcpy(e->data + e->datalen, proof, prooflen);
		e->siglen = prooflen;
		e->nsig = nproof;
	}
	e->ttl = clamp(ttl, 0, c->neg_ttl_max);
	return insert(c, e);
}

static struct shard *
shard_of(struct resolver_cache *c, const uint8_t *name, uint16_t type, uint16_t rclass,
         uint32_t *h)
{
	*h = name_hash(name, dname_len(name), type, rclass);
	return &c->shards[*h % NSHARDS];
}

const struct cache_entry *
cache__get(struct resolver_cache *c, const uint8_t *name, uint16_t type, uint16_t rclass,
           uint8_t min_rank, int64_t stale_ms)
{
	uint32_t h;
	struct shard *s = shard_of(c, name, type, rclass, &h);
	int64_t now = cache__now_ms(c);

	pthread_mutex_lock(&s->lock);
	struct cache_entry *e = shard_find(s, h, name, type, rclass);
	if (e != NULL && (e->rank < min_rank || e->expire_ms + stale_ms <= now))
		e = NULL;
	if (e != NULL) {
		atomic_fetch_add(&e->refs, 1);
		lru_unlink(e);
		lru_push(s, e);
	}
	pthread_mutex_unlock(&s->lock);
	return e;
}

void
cache__put(struct resolver_cache *c, const struct cache_entry *e)
{
	(void)c;
	if (e != NULL)
		entry_unref((struct cache_entry *)e);
}

void
cache__remove(struct resolver_cache *c, const uint8_t *name, uint16_t type, uint16_t rclass)
{
	uint32_t h;
	struct shard *s = shard_of(c, name, type, rclass, &h);

	pthread_mutex_lock(&s->lock);
	struct cache_entry *e = shard_find(s, h, name, type, rclass);
	if (e != NULL)
		shard_drop(s, e);
	pthread_mutex_unlock(&s->lock);
}

void
cache__mark(struct resolver_cache *c, const uint8_t *name, uint16_t type, uint16_t rclass,
            uint8_t sec)
{
	uint32_t h;
	struct shard *s = shard_of(c, name, type, rclass, &h);

	pthread_mutex_lock(&s->lock);
	struct cache_entry *e = shard_find(s, h, name, type, rclass);
	if (e != NULL)
		atomic_store(&e->sec, sec);
	pthread_mutex_unlock(&s->lock);
}

void
resolver_cache_stats(struct resolver_cache *c, struct resolver_cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < NSHARDS; i++) {
		struct shard *s = &c->shards[i];
		pthread_mutex_lock(&s->lock);
		out->entries += s->entries;
		out->bytes += s->bytes;
		out->hits += s->hits;
		out->misses += s->misses;
		out->evictions += s->evictions;
		out->inserts += s->inserts;
		pthread_mutex_unlock(&s->lock);
	}
}

/* Drops every entry owned by name (all types), or everything when name is NULL. Entries a
 * resolution still holds stay alive through their references and die with them. Any
 * thread; one shard mutex at a time (a worker reading another shard is not held up). */
size_t
resolver_cache_flush(struct resolver_cache *c, const uint8_t *name)
{
	uint8_t lower[DNAME_MAXLEN];
	size_t n = 0;

	if (name != NULL)
		dname_copy_lower(lower, name);
	for (int i = 0; i < NSHARDS; i++) {
		struct shard *s = &c->shards[i];
		pthread_mutex_lock(&s->lock);
		for (size_t b = 0; b < s->nbuckets; b++) {
			for (struct cache_entry *e = s->buckets[b], *nx; e != NULL; e = nx) {
				nx = e->hnext;
				if (name == NULL || dname_equal(e->name, lower)) {
					shard_drop(s, e);
					n++;
				}
			}
		}
		pthread_mutex_unlock(&s->lock);
	}
	return n;
}

/* ---- composing answers ------------------------------------------------------------- */

struct compose {
	struct resolver_cache *c;
	struct wire_writer w;
	int64_t now, stale_ms;
	bool grace;                 /* expired entries get TTL 0 and are not "stale" */
	bool dnssec_ok;             /* DO: RRSIGs follow their RRsets (RFC 4035 3.2.1) */
	bool need_checked;          /* only entries validation has seen (secure or insecure) */
	bool all_secure;
	bool miss_forced;           /* an unchecked or bogus entry was found */
	bool cd;                    /* the client set CD */
	bool stale, prefetch;
	uint16_t an, ns;
};

static uint32_t
ttl_left(struct compose *k, const struct cache_entry *e)
{
	if (e->expire_ms <= k->now) {
		if (k->grace)
			return 0;
		k->stale = true;
		return STALE_TTL;
	}
	int64_t left = (e->expire_ms - k->now + 999) / 1000;
	/* Prefetch (like Unbound): a popular entry in the last tenth of its TTL. */
	if (k->c->prefetch && e->ttl >= 10 && left * 10 <= e->ttl &&
	    atomic_load(&e->hits) >= PREFETCH_HITS)
		k->prefetch = true;
	return (uint32_t)(left > e->ttl ? e->ttl : left);
}

static void
put_rrs(struct compose *k, const uint8_t *owner, uint16_t type, uint16_t rclass, uint32_t ttl,
        const uint8_t *data, size_t len, uint16_t n)
{
	size_t pos = 0;

	for (uint16_t i = 0; i < n && pos + 2 <= len; i++) {
		uint16_t rdlen = (uint16_t)(data[pos] << 8 | data[pos + 1]);
		wire_put_name_comp(&k->w, owner);
		wire_put_u16(&k->w, type);
		wire_put_u16(&k->w, rclass);
		wire_put_u32(&k->w, ttl);
		wire_put_u16(&k->w, rdlen);
		wire_put_bytes(&k->w, data + pos + 2, rdlen);
		pos += 2 + (size_t)rdlen;
		k->an++;
	}
}

/* Writes the RRs of e (lock held) as owner/type/class, and their RRSIGs for DO=1. */
static void
put_rrset(struct compose *k, const uint8_t *owner, const struct cache_entry *e)
{
	uint32_t ttl = ttl_left(k, e);

	put_rrs(k, owner, e->type, e->rclass, ttl, e->data, e->datalen, e->n);
	if (k->dnssec_ok && e->nsig > 0)
		put_rrs(k, owner, LDNS_RR_TYPE_RRSIG, e->rclass, ttl, e->data + e->datalen, e->siglen,
		        e->nsig);
}

/* Proof RRs (DO=1): whole RRs, TTL capped by the entry's. */
static void
put_proof_rrs(struct compose *k, const uint8_t *p, size_t len, uint16_t n, uint32_t ttl)
{
	struct wire_reader r;
	uint8_t owner[DNAME_MAXLEN];
	size_t olen;

	wire_reader_init(&r, p, len);
	for (uint16_t i = 0; i < n; i++) {
		uint16_t type, rclass, rdlen;
		uint32_t rrttl;
		const uint8_t *rd;
		if (wire_read_name(&r, owner, &olen) != 0 || wire_read_u16(&r, &type) != 0 ||
		    wire_read_u16(&r, &rclass) != 0 || wire_read_u32(&r, &rrttl) != 0 ||
		    wire_read_u16(&r, &rdlen) != 0 || wire_read_bytes(&r, rdlen, &rd) != 0)
			return;
		wire_put_name_comp(&k->w, owner);
		wire_put_u16(&k->w, type);
		wire_put_u16(&k->w, rclass);
		wire_put_u32(&k->w, rrttl < ttl ? rrttl : ttl);
		wire_put_u16(&k->w, rdlen);
		wire_put_bytes(&k->w, rd, rdlen);
		k->ns++;
	}
}

/* The proof RRs of a negative entry. */
static void
put_proof(struct compose *k, const struct cache_entry *e, uint32_t ttl)
{
	put_proof_rrs(k, e->data + e->datalen, e->siglen, e->nsig, ttl);
}

static void
put_soa(struct compose *k, const struct cache_entry *e)
{
	uint32_t ttl = ttl_left(k, e);
	if (k->dnssec_ok && e->nsig > 0)
		put_proof(k, e, ttl);
	if (e->n == 0)
		return;
	size_t olen = dname_len(e->data);
	uint16_t rdlen = (uint16_t)(e->data[olen] << 8 | e->data[olen + 1]);
	wire_put_name_comp(&k->w, e->data);
	wire_put_u16(&k->w, LDNS_RR_TYPE_SOA);
	wire_put_u16(&k->w, e->rclass);
	wire_put_u32(&k->w, ttl);
	wire_put_u16(&k->w, rdlen);
	wire_put_bytes(&k->w, e->data + olen + 2, rdlen);
	k->ns++;
}

/* Finds a usable entry with the shard locked; on success the caller unlocks *s. */
static struct cache_entry *
find_locked(struct compose *k, const uint8_t *name, uint16_t type, uint16_t rclass,
            struct shard **sp)
{
	uint32_t h;
	struct shard *s = shard_of(k->c, name, type, rclass, &h);

	pthread_mutex_lock(&s->lock);
	struct cache_entry *e = shard_find(s, h, name, type, rclass);
	if (e != NULL && e->rank >= RANK_ANSWER_NONAA && e->expire_ms + k->stale_ms > k->now) {
		uint8_t sec = atomic_load(&e->sec);
		/* Bogus data goes to CD=1 clients only (RFC 4035 3.2.2), stale or not. */
		if ((k->need_checked && sec != CACHE_SEC_SECURE && sec != CACHE_SEC_INSECURE) ||
		    (sec == CACHE_SEC_BOGUS && !k->cd)) {
			pthread_mutex_unlock(&s->lock);
			k->miss_forced = true;
			return NULL;
		}
		if (sec != CACHE_SEC_SECURE)
			k->all_secure = false;
		atomic_fetch_add(&e->hits, 1);
		*sp = s;
		return e;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

enum step { STEP_MISS, STEP_DONE, STEP_NEXT };

/* One link of the chain: the answer, a negative entry, or a CNAME to follow. */
static enum step
compose_name(struct compose *k, const struct resolver_question *q, uint8_t *name, uint8_t *rcode)
{
	struct shard *s;
	struct cache_entry *e;

	if ((e = find_locked(k, name, q->qtype, q->qclass, &s)) != NULL) {
		if (e->kind == CACHE_POS) {
			put_rrset(k, name, e);
			/* Last RRset of the answer section: a wildcard expansion's proof follows
			 * in the authority section (RFC 4035 3.1.3.3). */
			if (k->dnssec_ok && e->nproof > 0)
				put_proof_rrs(k, e->data + e->datalen + e->siglen, e->prooflen, e->nproof,
				              ttl_left(k, e));
		} else
			put_soa(k, e);
		pthread_mutex_unlock(&s->lock);
		return STEP_DONE;
	}
	if (k->miss_forced)
		return STEP_MISS;
	if ((e = find_locked(k, name, 0, q->qclass, &s)) != NULL) {
		put_soa(k, e);
		*rcode = LDNS_RCODE_NXDOMAIN;
		pthread_mutex_unlock(&s->lock);
		return STEP_DONE;
	}
	if (k->miss_forced || q->qtype == LDNS_RR_TYPE_CNAME ||
	    (e = find_locked(k, name, LDNS_RR_TYPE_CNAME, q->qclass, &s)) == NULL)
		return STEP_MISS;
	struct wire_reader r;
	size_t tlen;
	uint8_t target[DNAME_MAXLEN];
	uint32_t ttl = ttl_left(k, e);
	unsigned synth = e->synth_labels;
	uint8_t sigs[1024];
	size_t siglen = 0;
	uint16_t nsig = 0;
	if (k->dnssec_ok && e->nsig > 0 && e->siglen <= sizeof(sigs)) {
		memcpy(sigs, e->data + e->datalen, e->siglen);
		siglen = e->siglen;
		nsig = e->nsig;
	}
	wire_reader_init(&r, e->data + 2, e->datalen - 2);
	int rc = wire_read_name(&r, target, &tlen);
	pthread_mutex_unlock(&s->lock);
	if (rc != 0)
		return STEP_MISS;
	/* A CNAME synthesized from a DNAME follows the DNAME itself (RFC 6672 3.1); one
	 * shard lock at a time, so no lock order to keep. */
	if (synth > 0 && synth < dname_labels(name)) {
		const uint8_t *owner = dname_suffix(name, synth);
		if ((e = find_locked(k, owner, LDNS_RR_TYPE_DNAME, q->qclass, &s)) == NULL)
			return STEP_MISS;
		put_rrset(k, owner, e);
		pthread_mutex_unlock(&s->lock);
	}
	wire_put_name_comp(&k->w, name);
	wire_put_u16(&k->w, LDNS_RR_TYPE_CNAME);
	wire_put_u16(&k->w, q->qclass);
	wire_put_u32(&k->w, ttl);
	wire_put_u16(&k->w, (uint16_t)tlen);
	wire_put_bytes(&k->w, target, tlen);
	k->an++;
	put_rrs(k, name, LDNS_RR_TYPE_RRSIG, q->qclass, ttl, sigs, siglen, nsig);
	memcpy(name, target, tlen);
	return STEP_NEXT;
}

static size_t
compose_ex(struct resolver_cache *c, const struct resolver_question *q, uint8_t *buf, size_t cap,
           int64_t stale_ms, bool need_checked, uint8_t *rcode, bool *stale, bool *prefetch)
{
	struct compose k = { .c = c, .now = cache__now_ms(c), .stale_ms = stale_ms,
	                     .dnssec_ok = q->dnssec_ok, .need_checked = need_checked,
	                     .all_secure = true, .cd = q->checking_disabled };

	if (stale_ms < 0) {
		k.stale_ms = -stale_ms;
		k.grace = true;
	}
	uint8_t name[DNAME_MAXLEN];
	size_t qlen = dname_len(q->qname);

	*rcode = LDNS_RCODE_NOERROR;
	wire_writer_init(&k.w, buf, cap);
	/* Header: ID 0, QR RD RA, one question (the server patches ID and RD). */
	wire_put_u16(&k.w, 0);
	wire_put_u16(&k.w, 0x8180);
	wire_put_u16(&k.w, 1);
	wire_put_u16(&k.w, 0);
	wire_put_u16(&k.w, 0);
	wire_put_u16(&k.w, 0);
	wire_put_name(&k.w, q->qname);
	wire_writer_remember(&k.w, 12);
	wire_put_u16(&k.w, q->qtype);
	wire_put_u16(&k.w, q->qclass);
	memcpy(name, q->qname, qlen);

	enum step st = STEP_NEXT;
	/* A chain of at most 12 CNAMEs (the same limit the iterator follows). */
	for (int i = 0; i < 13 && st == STEP_NEXT; i++)
		st = compose_name(&k, q, name, rcode);
	struct shard *s0 = &c->shards[name_hash(q->qname, qlen, q->qtype, q->qclass) % NSHARDS];
	if (st != STEP_DONE || k.w.overflow) {
		__atomic_fetch_add(&s0->misses, 1, __ATOMIC_RELAXED);
		return 0;
	}
	__atomic_fetch_add(&s0->hits, 1, __ATOMIC_RELAXED);
	/* AD (RFC 4035 3.2.3) only where the answer path serves validated data. */
	bool ad = need_checked && k.all_secure;
	wire_patch_u16(&k.w, 2, (uint16_t)(0x8180 | (ad ? 0x20 : 0) | *rcode));
	wire_patch_u16(&k.w, 6, k.an);
	wire_patch_u16(&k.w, 8, k.ns);
	if (stale)
		*stale = k.stale;
	if (prefetch)
		*prefetch = k.prefetch;
	return k.w.len;
}

size_t
cache__compose(struct resolver_cache *c, const struct resolver_question *q, uint8_t *buf,
               size_t cap, int64_t stale_ms, uint8_t *rcode, bool *stale, bool *prefetch)
{
	return compose_ex(c, q, buf, cap, stale_ms, false, rcode, stale, prefetch);
}

size_t
resolver_cache_answer(struct resolver_cache *c, const struct resolver_question *q, uint8_t *buf,
                      size_t cap, uint8_t *rcode, bool *refresh)
{
	bool stale;
	/* CD=1 gets what is cached, checked or not (RFC 4035 3.2.2). */
	return compose_ex(c, q, buf, cap, 0, c->validating && !q->checking_disabled, rcode, &stale,
	                  refresh);
}
