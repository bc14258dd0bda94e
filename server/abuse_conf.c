/* abuse_conf.c - the rrl: and cookies: sections of the configuration (docs/abuse.md,
 * docs/configuration.md), and their publication into struct answer_conf.
 *
 * Runs on the main thread: parsing inside daemon_conf_load() (the section table of
 * config.c), abuse_publish() inside daemon_answer_conf_new() at start and on SIGHUP. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/addr.h"
#include "lib/errors.h"
#include "lib/yconf.h"
#include "server/abuse.h"
#include "server/config.h"

/* ---- helpers ------------------------------------------------------------------------------ */

bool
abuse_parse_prefix(const char *text, struct abuse_prefix *out)
{
	struct addr_prefix p;

	/* Host bits set below the length are a typing mistake more often than not
	 * (10.0.0.1/8): addr_prefix_parse() refuses rather than guess. */
	if (addr_prefix_parse(text, &p) != 0)
		return false;
	out->family = p.family;
	out->len = p.bits;
	memcpy(out->addr, p.addr, sizeof(out->addr));
	return true;
}

static int
parse_whitelist(struct conf_ctx *cx, yaml_node_t *v, struct rrl_conf *r)
{
	if (v->type == YAML_SCALAR_NODE) {
		if (!abuse_parse_prefix((const char *)v->data.scalar.value, &r->whitelist[0]))
			return conf_error(cx, v, "rrl.whitelist", "not a prefix: '%s' (ADDR/LEN)",
			                  (const char *)v->data.scalar.value);
		r->nwhitelist = 1;
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return conf_error(cx, v, "rrl.whitelist", "expected a list of ADDR/LEN prefixes");
	unsigned n = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(cx->doc, *it);
		char path[32];
		snprintf(path, sizeof(path), "rrl.whitelist[%u]", n);
		if (n >= ABUSE_WHITELIST_MAX)
			return conf_error(cx, e, path, "at most %d prefixes", ABUSE_WHITELIST_MAX);
		if (e->type != YAML_SCALAR_NODE ||
		    !abuse_parse_prefix((const char *)e->data.scalar.value, &r->whitelist[n]))
			return conf_error(cx, e, path, "not a prefix: '%s' (ADDR/LEN, no host bits)",
			                  e->type == YAML_SCALAR_NODE ? (const char *)e->data.scalar.value
			                                              : "(not a scalar)");
		n++;
	}
	r->nwhitelist = n;
	return 0;
}

/* ---- rrl: --------------------------------------------------------------------------------- */

int
abuse_conf_parse_rrl(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c)
{
	struct rrl_conf *r = &c->abuse.rrl;
	uint64_t u;

	memset(r, 0, sizeof(*r));
	/* A rrl: section means "on" unless it says enabled: false. */
	r->enabled = true;
	r->rate = RRL_DEFAULT_RATE;
	r->slip = RRL_DEFAULT_SLIP;
	r->ipv4_prefix = 24;
	r->ipv6_prefix = 56;
	r->table_size = RRL_DEFAULT_TABLE;

	int rc = conf_check_mapping(cx, node, "rrl");
	for (yaml_node_pair_t *p = rc == 0 ? node->data.mapping.pairs.start : NULL;
	     rc == 0 && p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
		const char *key = (const char *)k->data.scalar.value;
		if (strcmp(key, "enabled") == 0) {
			rc = conf_get_bool(cx, v, "rrl.enabled", &r->enabled);
		} else if (strcmp(key, "responses-per-second") == 0) {
			rc = conf_get_uint(cx, v, "rrl.responses-per-second", 1, RRL_MAX_RATE, &u);
			r->rate = (uint32_t)u;
		} else if (strcmp(key, "slip") == 0) {
			rc = conf_get_uint(cx, v, "rrl.slip", 0, 10, &u);
			r->slip = (uint32_t)u;
		} else if (strcmp(key, "ipv4-prefix") == 0) {
			rc = conf_get_uint(cx, v, "rrl.ipv4-prefix", 8, 32, &u);
			r->ipv4_prefix = (uint8_t)u;
		} else if (strcmp(key, "ipv6-prefix") == 0) {
			rc = conf_get_uint(cx, v, "rrl.ipv6-prefix", 16, 128, &u);
			r->ipv6_prefix = (uint8_t)u;
		} else if (strcmp(key, "table-size") == 0) {
			rc = conf_get_uint(cx, v, "rrl.table-size", 1024, 1u << 24, &u);
			/* A power of two: the slot is the hash's low bits. */
			uint32_t size = 1024;
			while (size < u)
				size <<= 1;
			r->table_size = size;
		} else if (strcmp(key, "whitelist") == 0) {
			rc = parse_whitelist(cx, v, r);
		} else if (strcmp(key, "exempt-valid-cookies") == 0) {
			rc = conf_get_bool(cx, v, "rrl.exempt-valid-cookies", &r->exempt_cookies);
		} else {
			rc = conf_error(cx, k, NULL, "unknown key '%s' in 'rrl' (enabled, "
			                "responses-per-second, slip, ipv4-prefix, ipv6-prefix, "
			                "whitelist, table-size, exempt-valid-cookies)", key);
		}
	}
	return rc;
}

/* ---- cookies: ------------------------------------------------------------------------------- */

static int
parse_secret(struct conf_ctx *cx, yaml_node_t *v, struct cookie_conf *k, bool *given)
{
	if (v->type != YAML_SCALAR_NODE)
		return conf_error(cx, v, "cookies.secret", "expected 32 hex digits or 'auto'");
	const char *s = (const char *)v->data.scalar.value;
	if (strcmp(s, "auto") == 0) {
		*given = false;
		return 0;
	}
	if (strncmp(s, "0x", 2) == 0)
		s += 2;
	if (strlen(s) != 32)
		return conf_error(cx, v, "cookies.secret",
		                  "expected 32 hex digits (a 128-bit SipHash key) or 'auto'");
	if (yconf_parse_hex(s, 32, k->secret) != 0)
		return conf_error(cx, v, "cookies.secret", "not a hex digit in '%s'", s);
	*given = true;
	return 0;
}

/* 0 (off), or a duration of at least an hour: "1d", "24h", "86400". */
static int
parse_rotate(struct conf_ctx *cx, yaml_node_t *v, uint32_t *out)
{
	uint64_t ms = 0;
	const char *s = v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
	size_t n = s != NULL ? strlen(s) : 0;
	if (n > 1 && s[n - 1] == 'd') {
		char *end;
		unsigned long d = strtoul(s, &end, 10);
		if (s[0] < '0' || s[0] > '9' || end != s + n - 1 || d > 366)
			return conf_error(cx, v, "cookies.rotate", "not a duration: '%s'", s);
		ms = (uint64_t)d * 86400 * 1000;
	} else if (conf_get_duration_ms(cx, v, "cookies.rotate", &ms) != 0) {
		return SP_ECONFIG;
	}
	if (ms != 0 && ms < (uint64_t)COOKIE_MIN_ROTATE_S * 1000)
		return conf_error(cx, v, "cookies.rotate",
		                  "0 (off) or at least 1h (a server cookie is valid for an hour)");
	*out = (uint32_t)(ms / 1000);
	return 0;
}

int
abuse_conf_parse_cookies(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c)
{
	struct cookie_conf *k = &c->abuse.cookies;
	bool given = false, rotate_set = false;

	memset(k, 0, sizeof(*k));
	k->enabled = true;
	int rc = conf_check_mapping(cx, node, "cookies");
	for (yaml_node_pair_t *p = rc == 0 ? node->data.mapping.pairs.start : NULL;
	     rc == 0 && p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *key_node = yaml_document_get_node(cx->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
		const char *key = (const char *)key_node->data.scalar.value;
		if (strcmp(key, "enabled") == 0) {
			rc = conf_get_bool(cx, v, "cookies.enabled", &k->enabled);
		} else if (strcmp(key, "secret") == 0) {
			rc = parse_secret(cx, v, k, &given);
		} else if (strcmp(key, "rotate") == 0) {
			rc = parse_rotate(cx, v, &k->rotate_s);
			rotate_set = true;
		} else if (strcmp(key, "require") == 0) {
			rc = conf_get_bool(cx, v, "cookies.require", &k->require);
		} else {
			rc = conf_error(cx, key_node, NULL, "unknown key '%s' in 'cookies' (enabled, "
			                "secret, rotate, require)", key);
		}
	}
	if (rc != 0)
		return rc;
	/* A configured secret is used as it is unless told to rotate, so that an anycast
	 * set with other implementations (RFC 9018 6) shares it; an automatic one is
	 * random per start and rotates daily. The one drawn here on a reload is replaced
	 * by the running one (abuse_conf_keep_secret()). */
	k->secret_auto = !given;
	if (!rotate_set)
		k->rotate_s = given ? 0 : COOKIE_DEFAULT_ROTATE_S;
	if (!given && getrandom(k->secret, sizeof(k->secret), 0) != (ssize_t)sizeof(k->secret))
		return conf_error(cx, node, "cookies.secret", "cannot read random octets: %s",
		                  strerror(errno));
	return 0;
}

bool
abuse_conf_keep_secret(const struct abuse_conf *old, struct abuse_conf *c)
{
	/* Without this every reload invalidated every server cookie: with require: true
	 * each client got one BADCOOKIE (RFC 7873 5.2.3) after each SIGHUP. A configured
	 * secret is the operator's to change, so only auto carries over; a change of
	 * rotate: keeps the master secret too (the derived keys follow the new period, as
	 * a restart with the same secret would). Without a cookies: section the defaults
	 * (enabled: false) still hold a secret_auto of false: nothing to keep. */
	if (!old->cookies.secret_auto || !c->cookies.secret_auto)
		return false;
	memcpy(c->cookies.secret, old->cookies.secret, sizeof(c->cookies.secret));
	return true;
}

static bool
prefix_equal(const struct abuse_prefix *a, const struct abuse_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* Field by field: struct assignment (rrl_table_init()) need not copy padding. */
static bool
rrl_conf_equal(const struct rrl_conf *a, const struct rrl_conf *b)
{
	if (a->enabled != b->enabled || a->rate != b->rate || a->slip != b->slip ||
	    a->ipv4_prefix != b->ipv4_prefix || a->ipv6_prefix != b->ipv6_prefix ||
	    a->table_size != b->table_size || a->exempt_cookies != b->exempt_cookies ||
	    a->nwhitelist != b->nwhitelist)
		return false;
	for (unsigned i = 0; i < a->nwhitelist; i++)
		if (!prefix_equal(&a->whitelist[i], &b->whitelist[i]))
			return false;
	return true;
}

bool
abuse_rrl_keep(struct rrl_table *t, const struct rrl_table *old)
{
	/* Another rate, prefix or size gives the buckets another meaning (or another
	 * slot): those start afresh, as documented. */
	if (t == NULL || old == NULL || !rrl_conf_equal(&t->conf, &old->conf))
		return false;
	/* The slots are found by a hash keyed with the seed: the old seed goes along. */
	memcpy(t->seed, old->seed, sizeof(t->seed));
	for (uint32_t i = 0; i <= t->mask; i++) {
		atomic_store_explicit(&t->slots[i].state,
		                      atomic_load_explicit(&old->slots[i].state,
		                                           memory_order_relaxed),
		                      memory_order_relaxed);
		atomic_store_explicit(&t->slots[i].limited,
		                      atomic_load_explicit(&old->slots[i].limited,
		                                           memory_order_relaxed),
		                      memory_order_relaxed);
	}
	return true;
}

/* ---- publication ------------------------------------------------------------------------------ */

#define ALIGN64(n) (((n) + 63) & ~(size_t)63)

size_t
abuse_publish_size(const struct abuse_conf *c)
{
	size_t n = 0;
	if (c->cookies.enabled)
		n += ALIGN64(sizeof(struct cookie_conf));
	if (c->rrl.enabled)
		n += ALIGN64(sizeof(struct rrl_table) +
		             (size_t)c->rrl.table_size * sizeof(struct rrl_slot));
	return n;
}

void
abuse_publish(const struct abuse_conf *c, void *mem, struct rrl_table **rrl,
              const struct cookie_conf **cookies)
{
	uint8_t *p = mem;

	*rrl = NULL;
	*cookies = NULL;
	if (c->cookies.enabled) {
		memcpy(p, &c->cookies, sizeof(c->cookies));
		*cookies = (const struct cookie_conf *)p;
		p += ALIGN64(sizeof(struct cookie_conf));
	}
	if (c->rrl.enabled) {
		uint8_t seed[16];
		/* The seed only needs to be unknown to clients; should the kernel have no
		 * entropy yet, the address of the table still varies per run. */
		if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
			uintptr_t a = (uintptr_t)p;
			memset(seed, 0x5a, sizeof(seed));
			memcpy(seed, &a, sizeof(a));
		}
		struct rrl_table *t = (struct rrl_table *)p;
		rrl_table_init(t, &c->rrl, seed);
		*rrl = t;
	}
}
