/* rrl.c - response rate limiting for the authoritative answers over UDP, in the style
 * of BIND's RRL, NSD's and Knot's rrl module: a token bucket per (client prefix,
 * response class, name), held in a fixed-size hashed table, and a slip that answers
 * every Nth limited query with an empty TC=1 message so that a real client behind a
 * spoofed flood still gets through over TCP (docs/abuse.md).
 *
 * Worker threads call rrl_check() on the answer path; abuse_publish() (main thread)
 * builds the table inside each published struct answer_conf.
 *
 * One table is shared by all workers and updated with atomics rather than one table per
 * worker with rate/workers each: SO_REUSEPORT spreads a client's queries over the
 * workers by its source port, so a flood from one port would land on one worker and
 * get only rate/workers, while a client using many ports would get the full rate per
 * worker. A shared bucket gives the configured rate exactly. The cost is a cache line
 * bouncing between cores for a slot that is hit from several workers at once, which
 * happens under a flood of one (prefix, name), exactly when the answers are cheap. */
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "lib/addr.h"
#include "lib/dname.h"
#include "server/abuse.h"

/* Slot state: | tag:12 | tokens:20 | ms:32 |. The tag is hash bits the index does not
 * use; a slot whose tag differs belongs to another key and is taken over (the table
 * forgets the quietest keys first only statistically, like Knot's: a fixed-size table
 * cannot do better without locks). */
#define TAG_BITS 12
#define TOKEN_BITS 20
#define TOKEN_MAX ((1u << TOKEN_BITS) - 1)
#define CAS_TRIES 8

static uint64_t
pack(uint32_t tag, uint32_t tokens, uint32_t ms)
{
	return (uint64_t)tag << 52 | (uint64_t)tokens << 32 | ms;
}

void
rrl_table_init(struct rrl_table *t, const struct rrl_conf *conf, const uint8_t seed[16])
{
	t->conf = *conf;
	if (t->conf.rate > TOKEN_MAX)
		t->conf.rate = TOKEN_MAX;
	memcpy(t->seed, seed, 16);
	t->mask = conf->table_size - 1;
	for (uint32_t i = 0; i < conf->table_size; i++) {
		atomic_init(&t->slots[i].state, 0);
		atomic_init(&t->slots[i].limited, 0);
	}
}

void
rrl__prefix(const struct rrl_table *t, const struct sockaddr *addr, uint8_t out[17])
{
	const uint8_t *a;
	unsigned bits, n;

	memset(out, 0, 17);
	if (addr->sa_family == AF_INET6) {
		a = (const uint8_t *)&((const struct sockaddr_in6 *)addr)->sin6_addr;
		bits = t->conf.ipv6_prefix;
		n = 16;
		out[0] = 6;
	} else {
		a = (const uint8_t *)&((const struct sockaddr_in *)addr)->sin_addr;
		bits = t->conf.ipv4_prefix;
		n = 4;
		out[0] = 4;
	}
	if (bits > n * 8)
		bits = n * 8;
	memcpy(out + 1, a, bits / 8);
	if (bits % 8 != 0)
		out[1 + bits / 8] = (uint8_t)(a[bits / 8] & (0xff00 >> (bits % 8)));
}

uint64_t
rrl__key(const struct rrl_table *t, const struct sockaddr *addr, enum rrl_class cls,
         const uint8_t *name, uint16_t qtype)
{
	/* prefix (17) | class | qtype (2) | name, lower-cased (at most 255) */
	uint8_t buf[17 + 1 + 2 + DNAME_MAXLEN];
	size_t n = 17;

	rrl__prefix(t, addr, buf);
	buf[n++] = (uint8_t)cls;
	/* Only answers and NODATA are per type: NXDOMAIN is per zone, referrals per
	 * delegation, errors per client (so random names or types do not spread them). */
	if (cls != RRL_ANSWER && cls != RRL_NODATA)
		qtype = 0;
	buf[n++] = (uint8_t)(qtype >> 8);
	buf[n++] = (uint8_t)qtype;
	if (cls != RRL_ERROR && name != NULL)
		n += dname_copy_lower(buf + n, name);
	uint8_t h[8];
	cookie_siphash24(t->seed, buf, n, h);
	uint64_t k = 0;
	for (int i = 7; i >= 0; i--)
		k = k << 8 | h[i];
	return k;
}

bool
rrl__whitelisted(const struct rrl_conf *c, const struct sockaddr *addr)
{
	for (unsigned i = 0; i < c->nwhitelist; i++) {
		const struct abuse_prefix *p = &c->whitelist[i];
		const uint8_t *a;
		if (p->family == AF_INET && addr->sa_family == AF_INET)
			a = (const uint8_t *)&((const struct sockaddr_in *)addr)->sin_addr;
		else if (p->family == AF_INET6 && addr->sa_family == AF_INET6)
			a = (const uint8_t *)&((const struct sockaddr_in6 *)addr)->sin6_addr;
		else
			continue;
		if (addr_in_prefix(p->addr, p->len, a))
			return true;
	}
	return false;
}

/* The bucket after elapsed time: rate tokens a second, at most rate (one second of
 * burst). Only whole tokens are credited and the clock advances by what they are worth,
 * so a slot hit more often than every 1/rate s loses no fraction. A slot idle for longer
 * than a second (or whose clock reading is from the future) is simply full again. */
static void
refill(uint32_t rate, uint32_t *tokens, uint32_t *ms, uint32_t now)
{
	uint32_t elapsed = now - *ms;
	if (elapsed >= 1000 || elapsed > 0x80000000u) {
		*tokens = rate;
		*ms = now;
		return;
	}
	uint64_t add = (uint64_t)elapsed * rate / 1000;
	if (add == 0)
		return;
	if (*tokens + add >= rate) {
		*tokens = rate;
		*ms = now;
		return;
	}
	*tokens += (uint32_t)add;
	*ms += (uint32_t)(add * 1000 / rate);
}

enum rrl_verdict
rrl__account(struct rrl_table *t, uint64_t key, uint32_t now_ms)
{
	struct rrl_slot *s = &t->slots[key & t->mask];
	/* The top tag bit always set: a used slot is never 0, whatever the key. */
	uint32_t tag = (uint32_t)(key >> (64 - TAG_BITS)) | 1u << (TAG_BITS - 1);
	uint32_t rate = t->conf.rate;
	bool fresh = false, limited = false;

	/* Bounded: if other workers keep winning the race, answer (failing open costs
	 * one response; the next query counts again). */
	for (int i = 0; i < CAS_TRIES; i++) {
		uint64_t old = atomic_load_explicit(&s->state, memory_order_relaxed);
		uint32_t tokens, ms;
		fresh = old == 0 || (uint32_t)(old >> 52) != tag;
		if (fresh) {
			tokens = rate;
			ms = now_ms;
		} else {
			tokens = (uint32_t)(old >> 32) & TOKEN_MAX;
			ms = (uint32_t)old;
			refill(rate, &tokens, &ms, now_ms);
		}
		limited = tokens == 0;
		if (!limited)
			tokens--;
		uint64_t new = pack(tag, tokens, ms);
		if (new == old || atomic_compare_exchange_weak_explicit(&s->state, &old, new,
		                                                        memory_order_relaxed,
		                                                        memory_order_relaxed))
			break;
	}
	if (fresh)
		atomic_store_explicit(&s->limited, 0, memory_order_relaxed);
	if (!limited)
		return RRL_PASS;
	uint32_t slip = t->conf.slip;
	if (slip == 0)
		return RRL_DROP;
	uint32_t n = atomic_fetch_add_explicit(&s->limited, 1, memory_order_relaxed) + 1;
	return n % slip == 0 ? RRL_SLIP : RRL_DROP;
}

static uint32_t
now_ms(void)
{
	struct timespec ts;
	/* The coarse clock is a vDSO read of the last tick (1-4 ms): plenty for buckets
	 * refilled in whole tokens. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

enum rrl_verdict
rrl_check(struct rrl_table *t, const struct sockaddr *addr, enum rrl_class cls,
          const uint8_t *name, uint16_t qtype)
{
	if (rrl__whitelisted(&t->conf, addr))
		return RRL_PASS;
	return rrl__account(t, rrl__key(t, addr, cls, name, qtype), now_ms());
}
