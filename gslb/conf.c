/* conf.c - the `gslb:` YAML node -> struct gslb_conf: checks, pools and members, topology,
 * region order, GeoIP and dynamic names. Runs on the thread that loads the configuration
 * (start-up or reload); the result is immutable and shared by the snapshots built from it.
 * Every error names file:line and the key path; a configuration with errors is refused
 * whole, so a reload never half-applies. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef HAVE_MAXMINDDB
#include <maxminddb.h>
#endif

#include "gslb/internal.h"
#include "lib/addr.h"
#include "lib/errors.h"
#include "lib/log.h"
#include "lib/yconf.h"

#define PATH_MAX_LEN 256

/* Errors go through lib/yconf.c without an err buffer: each is logged, so a user sees
 * every problem of the section at once, and y.errors counts them. */
struct pctx {
	struct yconf y;
	struct gslb_conf *c;
	bool nomem;
};

/* Key paths for messages ("gslb.pools.web.members[2].weight"), truncated if absurd. */
static void
path_fmt(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
path_fmt(char *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, PATH_MAX_LEN, fmt, ap);
	va_end(ap);
}

static int
line_of(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

/* ---- scalar conversions ------------------------------------------------------------ */

/* The parsers below test these as conditions: true when the value was stored. */
static bool
want_scalar(struct pctx *p, yaml_node_t *n, const char *path, const char **out)
{
	*out = yconf_scalar(&p->y, n, path);
	return *out != NULL;
}

static bool
get_uint(struct pctx *p, yaml_node_t *n, const char *path, unsigned lo, unsigned hi,
         unsigned *out)
{
	return yconf_get_u32(&p->y, n, path, lo, hi, out) == 0;
}

static bool
get_bool(struct pctx *p, yaml_node_t *n, const char *path, bool *out)
{
	return yconf_get_bool(&p->y, n, path, out) == 0;
}

/* "5" and "5s" are seconds, "500ms" milliseconds, "2m" minutes; 10ms..1 day: a check
 * more often than every 10ms is load, not monitoring. */
static bool
get_duration(struct pctx *p, yaml_node_t *n, const char *path, uint32_t *ms)
{
	uint64_t v;
	if (yconf_get_duration_ms(&p->y, n, path, 10, 86400 * 1000, &v) != 0)
		return false;
	*ms = (uint32_t)v;
	return true;
}

static bool
get_str(struct pctx *p, yaml_node_t *n, const char *path, char **out)
{
	const char *s;

	if (!want_scalar(p, n, path, &s))
		return false;
	free(*out);
	*out = strdup(s);
	if (*out == NULL)
		p->nomem = true;
	return *out != NULL;
}

static bool
valid_ident(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > GSLB_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

static bool
get_ident(struct pctx *p, yaml_node_t *n, const char *path, char out[GSLB_NAME_MAX + 1])
{
	const char *s;

	if (!want_scalar(p, n, path, &s))
		return false;
	if (!valid_ident(s)) {
		yconf_error(&p->y, n, path, "'%s' is not a name (1..%d of A-Z a-z 0-9 - _ .)", s, GSLB_NAME_MAX);
		return false;
	}
	strcpy(out, s);
	return true;
}

/* ---- regions ------------------------------------------------------------------------ */

static int
region_intern(struct pctx *p, yaml_node_t *n, const char *path)
{
	char name[GSLB_NAME_MAX + 1];
	struct gslb_conf *c = p->c;

	if (!get_ident(p, n, path, name))
		return -1;
	for (unsigned i = 0; i < c->n_regions; i++) {
		if (strcmp(c->regions[i], name) == 0)
			return (int)i;
	}
	if (c->n_regions == GSLB_MAX_REGIONS) {
		yconf_error(&p->y, n, path, "more than %d regions", GSLB_MAX_REGIONS);
		return -1;
	}
	strcpy(c->regions[c->n_regions], name);
	return (int)c->n_regions++;
}

/* ---- mapping walks -------------------------------------------------------------------- */

typedef void pair_fn(struct pctx *p, const char *key, yaml_node_t *k, yaml_node_t *v,
                     const char *path, void *obj);

/* Calls fn for each key of mapping n with path "<path>.<key>"; fn reports unknown keys. */
static void
each_pair(struct pctx *p, yaml_node_t *n, const char *path, pair_fn *fn, void *obj)
{
	char sub[PATH_MAX_LEN];

	if (n->type != YAML_MAPPING_NODE) {
		yconf_error(&p->y, n, path, "must be a mapping");
		return;
	}
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = yconf_node(&p->y, pr->key), *v = yconf_node(&p->y, pr->value);
		const char *key = yconf_text(k);
		if (key == NULL) {
			yconf_error(&p->y, k, path, "keys must be scalars");
			continue;
		}
		path_fmt(sub, "%s.%s", path, key);
		fn(p, key, k, v, sub, obj);
	}
}

static bool
is_seq(struct pctx *p, yaml_node_t *n, const char *path)
{
	if (n->type != YAML_SEQUENCE_NODE) {
		yconf_error(&p->y, n, path, "must be a list");
		return false;
	}
	return true;
}

#define SEQ_EACH(p, n, item) \
	for (yaml_node_item_t *item##_it = (n)->data.sequence.items.start; \
	     item##_it < (n)->data.sequence.items.top; item##_it++)

/* ---- checks --------------------------------------------------------------------------- */

static void
check_pair(struct pctx *p, const char *key, yaml_node_t *k, yaml_node_t *v, const char *path,
           void *obj)
{
	struct gslb_check_conf *ck = obj;
	const char *s;
	unsigned u;

	if (strcmp(key, "type") == 0) {
		if (!want_scalar(p, v, path, &s))
			return;
		if (strcmp(s, "tcp") == 0)
			ck->type = GSLB_CHECK_TCP;
		else if (strcmp(s, "http") == 0)
			ck->type = GSLB_CHECK_HTTP;
		else if (strcmp(s, "https") == 0)
			ck->type = GSLB_CHECK_HTTPS;
		else if (strcmp(s, "external") == 0)
			ck->type = GSLB_CHECK_EXTERNAL;
		else
			yconf_error(&p->y, v, path, "must be tcp, http, https or external");
	} else if (strcmp(key, "path") == 0) {
		if (get_str(p, v, path, &ck->path) && ck->path[0] != '/')
			yconf_error(&p->y, v, path, "must start with /");
	} else if (strcmp(key, "host") == 0) {
		get_str(p, v, path, &ck->host);
	} else if (strcmp(key, "sni") == 0) {
		get_str(p, v, path, &ck->sni);
	} else if (strcmp(key, "expect-body") == 0) {
		if (get_str(p, v, path, &ck->expect_body) && ck->expect_body[0] == '\0')
			yconf_error(&p->y, v, path, "must not be empty");
	} else if (strcmp(key, "user-agent") == 0) {
		get_str(p, v, path, &ck->user_agent);
	} else if (strcmp(key, "ca-file") == 0) {
		get_str(p, v, path, &ck->ca_file);
	} else if (strcmp(key, "file") == 0) {
		get_str(p, v, path, &ck->file);
	} else if (strcmp(key, "tls-verify") == 0) {
		get_bool(p, v, path, &ck->tls_verify);
	} else if (strcmp(key, "interval") == 0) {
		get_duration(p, v, path, &ck->interval_ms);
	} else if (strcmp(key, "timeout") == 0) {
		get_duration(p, v, path, &ck->timeout_ms);
	} else if (strcmp(key, "rise") == 0) {
		if (get_uint(p, v, path, 1, 100, &u))
			ck->rise = u;
	} else if (strcmp(key, "fall") == 0) {
		if (get_uint(p, v, path, 1, 100, &u))
			ck->fall = u;
	} else if (strcmp(key, "port") == 0) {
		if (get_uint(p, v, path, 1, 65535, &u))
			ck->port = (uint16_t)u;
	} else if (strcmp(key, "initial") == 0) {
		if (!want_scalar(p, v, path, &s))
			return;
		if (strcmp(s, "up") == 0 || strcmp(s, "down") == 0)
			ck->initial_up = s[0] == 'u';
		else
			yconf_error(&p->y, v, path, "must be up or down");
	} else if (strcmp(key, "expect-status") == 0) {
		char sub[PATH_MAX_LEN];
		if (v->type == YAML_SCALAR_NODE) {
			if (get_uint(p, v, path, 100, 599, &u)) {
				ck->expect_status[0] = (uint16_t)u;
				ck->n_expect = 1;
			}
			return;
		}
		if (!is_seq(p, v, path))
			return;
		ck->n_expect = 0;
		SEQ_EACH(p, v, it) {
			path_fmt(sub, "%s[%u]", path, ck->n_expect);
			if (ck->n_expect == GSLB_MAX_STATUS) {
				yconf_error(&p->y, v, path, "at most %d status codes", GSLB_MAX_STATUS);
				return;
			}
			if (get_uint(p, yconf_node(&p->y, *it_it), sub, 100, 599, &u))
				ck->expect_status[ck->n_expect] = (uint16_t)u;
			ck->n_expect++;
		}
		if (ck->n_expect == 0)
			yconf_error(&p->y, v, path, "must list at least one status");
	} else {
		yconf_error(&p->y, k, path, "unknown key");
	}
}

static void
parse_check(struct pctx *p, const char *key, yaml_node_t *k, yaml_node_t *v, const char *path,
            void *obj)
{
	struct gslb_conf *c = p->c;
	struct gslb_check_conf *ck = &c->checks[c->n_checks++];

	*ck = (struct gslb_check_conf){
		.line = line_of(k), .type = -1, .tls_verify = true, .interval_ms = 5000,
		.timeout_ms = 2000, .rise = 2, .fall = 3, .initial_up = true,
	};
	if (!valid_ident(key))
		yconf_error(&p->y, k, path, "'%s' is not a name", key);
	snprintf(ck->name, sizeof(ck->name), "%s", key);
	for (unsigned i = 0; i + 1 < c->n_checks; i++) {
		if (strcmp(c->checks[i].name, ck->name) == 0)
			yconf_error(&p->y, k, path, "duplicate check (first at line %d)", c->checks[i].line);
	}
	unsigned before = p->y.errors;
	each_pair(p, v, path, check_pair, ck);
	if (p->y.errors != before)
		return;
	if ((int)ck->type == -1) {
		yconf_error(&p->y, k, path, "type is required (tcp, http, https or external)");
		return;
	}
	if (ck->timeout_ms > ck->interval_ms)
		yconf_error(&p->y, k, path, "timeout (%ums) must not exceed interval (%ums)", ck->timeout_ms,
		     ck->interval_ms);
	bool web = ck->type == GSLB_CHECK_HTTP || ck->type == GSLB_CHECK_HTTPS;
	if (!web && (ck->path || ck->host || ck->expect_body || ck->n_expect || ck->user_agent))
		yconf_error(&p->y, k, path,
		            "path, host, expect-status, expect-body and user-agent are for http(s)");
	if (ck->type != GSLB_CHECK_HTTPS && (ck->ca_file || ck->sni))
		yconf_error(&p->y, k, path, "ca-file and sni are for https");
	if (ck->type != GSLB_CHECK_EXTERNAL && ck->file)
		yconf_error(&p->y, k, path, "file is for external checks");
	if (web && ck->n_expect == 0) {
		ck->expect_status[0] = 200;
		ck->n_expect = 1;
	}
	if (web && ck->path == NULL && (ck->path = strdup("/")) == NULL)
		p->nomem = true;
}

/* ---- pools and members --------------------------------------------------------------- */

struct member_ctx {
	struct gslb_member_conf *m;
	char check_name[GSLB_NAME_MAX + 1];
	yaml_node_t *check_node;
};

static uint64_t
fnv1a(const void *data, size_t len, uint64_t h)
{
	const uint8_t *b = data;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
member_pair(struct pctx *p, const char *key, yaml_node_t *k, yaml_node_t *v, const char *path,
            void *obj)
{
	struct member_ctx *mx = obj;
	struct gslb_member_conf *m = mx->m;
	const char *s;
	unsigned u;

	if (strcmp(key, "name") == 0) {
		get_ident(p, v, path, m->name);
	} else if (strcmp(key, "address") == 0) {
		if (want_scalar(p, v, path, &s) && !(m->has4 = inet_pton(AF_INET, s, m->addr4) == 1))
			yconf_error(&p->y, v, path, "'%s' is not an IPv4 address", s);
	} else if (strcmp(key, "address6") == 0) {
		if (want_scalar(p, v, path, &s) && !(m->has6 = inet_pton(AF_INET6, s, m->addr6) == 1))
			yconf_error(&p->y, v, path, "'%s' is not an IPv6 address", s);
	} else if (strcmp(key, "weight") == 0) {
		if (get_uint(p, v, path, 1, 65535, &u))
			m->weight = u;
	} else if (strcmp(key, "priority") == 0) {
		if (get_uint(p, v, path, 0, 65535, &u))
			m->priority = u;
	} else if (strcmp(key, "region") == 0) {
		m->region = region_intern(p, v, path);
	} else if (strcmp(key, "check") == 0) {
		get_ident(p, v, path, mx->check_name);
		mx->check_node = v;
	} else if (strcmp(key, "check-address") == 0) {
		if (!want_scalar(p, v, path, &s))
			return;
		if (inet_pton(AF_INET, s, m->check_addr) == 1)
			m->check_family = AF_INET;
		else if (inet_pton(AF_INET6, s, m->check_addr) == 1)
			m->check_family = AF_INET6;
		else
			yconf_error(&p->y, v, path, "'%s' is not an IP address", s);
		m->has_check_addr = m->check_family != 0;
	} else if (strcmp(key, "check-port") == 0) {
		if (get_uint(p, v, path, 1, 65535, &u))
			m->check_port = (uint16_t)u;
	} else {
		yconf_error(&p->y, k, path, "unknown key");
	}
}

static int
check_find(const struct gslb_conf *c, const char *name)
{
	for (unsigned i = 0; i < c->n_checks; i++) {
		if (strcmp(c->checks[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

static void
parse_member(struct pctx *p, struct gslb_pool_conf *pool, yaml_node_t *v, const char *path)
{
	struct gslb_conf *c = p->c;
	struct gslb_member_conf *m = &c->members[c->n_members];
	struct member_ctx mx = { .m = m };

	*m = (struct gslb_member_conf){
		.line = line_of(v), .pool = (unsigned)(pool - c->pools), .weight = 1, .region = -1,
		.check = -1,
	};
	unsigned before = p->y.errors;
	each_pair(p, v, path, member_pair, &mx);
	if (p->y.errors != before)
		return;
	if (m->name[0] == '\0')
		yconf_error(&p->y, v, path, "name is required");
	if (!m->has4 && !m->has6)
		yconf_error(&p->y, v, path, "address or address6 is required");
	for (unsigned i = pool->first; i < c->n_members; i++) {
		if (strcmp(c->members[i].name, m->name) == 0)
			yconf_error(&p->y, v, path, "duplicate member '%s' (first at line %d)", m->name,
			     c->members[i].line);
	}
	if (mx.check_node) {
		m->check = check_find(c, mx.check_name);
		if (m->check < 0) {
			yconf_error(&p->y, mx.check_node, path, "unknown check '%s'", mx.check_name);
		} else {
			const struct gslb_check_conf *ck = &c->checks[m->check];
			if (ck->type == GSLB_CHECK_TCP && ck->port == 0 && m->check_port == 0)
				yconf_error(&p->y, v, path, "check '%s' is tcp: give it a port or set check-port",
				     ck->name);
		}
	}
	char id[2 * GSLB_NAME_MAX + 2];
	snprintf(id, sizeof(id), "%s/%s", pool->name, m->name);
	m->id_hash = fnv1a(id, strlen(id), 0xcbf29ce484222325ULL);
	c->n_members++;
}

static void
pool_pair(struct pctx *p, const char *key, yaml_node_t *k, yaml_node_t *v, const char *path,
          void *obj)
{
	struct gslb_pool_conf *pool = obj;
	const char *s;
	unsigned u;

	if (strcmp(key, "ttl") == 0) {
		if (get_uint(p, v, path, 0, 86400, &u))
			pool->ttl = u;
	} else if (strcmp(key, "max-answers") == 0) {
		if (get_uint(p, v, path, 1, GSLB_MAX_ANSWERS, &u))
			pool->max_answers = u;
	} else if (strcmp(key, "min-healthy") == 0) {
		if (get_uint(p, v, path, 1, GSLB_MAX_MEMBERS, &u))
			pool->min_healthy = u;
	} else if (strcmp(key, "fallback") == 0) {
		if (!want_scalar(p, v, path, &s))
			return;
		if (strcmp(s, "all") == 0) {
			pool->fallback = GSLB_FALLBACK_ALL;
		} else if (strcmp(s, "none") == 0) {
			pool->fallback = GSLB_FALLBACK_NONE;
		} else if (strncmp(s, "pool:", 5) == 0) {
			pool->fallback = GSLB_FALLBACK_POOL;
			pool->sorry = -2 - line_of(v);  /* resolved once all pools are known */
		} else {
			yconf_error(&p->y, v, path, "must be all, none or pool:<name>");
		}
	} else if (strcmp(key, "members") == 0) {
		char sub[PATH_MAX_LEN];
		if (!is_seq(p, v, path))
			return;
		unsigned i = 0;
		SEQ_EACH(p, v, it) {
			path_fmt(sub, "%s[%u]", path, i++);
			if (pool->n == GSLB_MAX_MEMBERS) {
				yconf_error(&p->y, v, path, "at most %d members per pool", GSLB_MAX_MEMBERS);
				return;
			}
			unsigned before = p->c->n_members;
			parse_member(p, pool, yconf_node(&p->y, *it_it), sub);
			pool->n += p->c->n_members - before;
		}
	} else {
		yconf_error(&p->y, k, path, "unknown key");
	}
}

static void
parse_pool(struct pctx *p, const char *key, yaml_node_t *k, yaml_node_t *v, const char *path,
           void *obj)
{
	struct gslb_conf *c = p->c;
	struct gslb_pool_conf *pool = &c->pools[c->n_pools++];

	*pool = (struct gslb_pool_conf){
		.line = line_of(k), .ttl = 30, .max_answers = 1, .min_healthy = 1, .sorry = -1,
		.first = c->n_members,
	};
	if (!valid_ident(key))
		yconf_error(&p->y, k, path, "'%s' is not a name", key);
	snprintf(pool->name, sizeof(pool->name), "%s", key);
	for (unsigned i = 0; i + 1 < c->n_pools; i++) {
		if (strcmp(c->pools[i].name, pool->name) == 0)
			yconf_error(&p->y, k, path, "duplicate pool (first at line %d)", c->pools[i].line);
	}
	each_pair(p, v, path, pool_pair, pool);
	if (pool->n == 0 && v->type == YAML_MAPPING_NODE)
		yconf_error(&p->y, v, path, "members: at least one member is required");
}

static int
pool_find(const struct gslb_conf *c, const char *name)
{
	if (name == NULL)
		return -1;      /* a key that is not a scalar (already reported) */
	for (unsigned i = 0; i < c->n_pools; i++) {
		if (strcmp(c->pools[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

/* Second pass over pools: sorry-pool references, now that every pool is known. */
static void
resolve_sorry(struct pctx *p, yaml_node_t *pools)
{
	struct gslb_conf *c = p->c;
	char path[PATH_MAX_LEN];

	for (yaml_node_pair_t *pr = pools->data.mapping.pairs.start;
	     pr < pools->data.mapping.pairs.top; pr++) {
		int pi = pool_find(c, yconf_text(yconf_node(&p->y, pr->key)));
		if (pi < 0 || c->pools[pi].fallback != GSLB_FALLBACK_POOL)
			continue;
		yaml_node_t *pn = yconf_node(&p->y, pr->value);
		if (pn->type != YAML_MAPPING_NODE)
			continue;
		for (yaml_node_pair_t *q = pn->data.mapping.pairs.start; q < pn->data.mapping.pairs.top;
		     q++) {
			yaml_node_t *vn = yconf_node(&p->y, q->value);
			const char *key = yconf_text(yconf_node(&p->y, q->key));
			if (key == NULL || strcmp(key, "fallback") != 0 || yconf_text(vn) == NULL ||
			    strncmp(yconf_text(vn), "pool:", 5) != 0)
				continue;
			const char *target = yconf_text(vn) + 5;
			path_fmt(path, "gslb.pools.%s.fallback", c->pools[pi].name);
			int t = pool_find(c, target);
			if (t < 0)
				yconf_error(&p->y, vn, path, "unknown pool '%s'", target);
			else if (t == pi)
				yconf_error(&p->y, vn, path, "a pool cannot be its own fallback");
			c->pools[pi].sorry = t;
		}
	}
}

/* ---- topology, region order, GeoIP ----------------------------------------------------- */

/* "10.0.0.0/8" into e. The length is required: an entry names a network. Returns 0, -1
 * (not a subnet) or -2 (host bits set), like addr_prefix_parse(). */
static int
parse_subnet(const char *s, struct gslb_topo_entry *e)
{
	struct addr_prefix ap;

	if (strchr(s, '/') == NULL)
		return -1;
	int rc = addr_prefix_parse(s, &ap);
	if (rc != 0)
		return rc;
	e->family = ap.family == AF_INET ? 4 : 6;
	e->prefix = ap.bits;
	memcpy(e->addr, ap.addr, sizeof(e->addr));
	return 0;
}

static void
parse_topology(struct pctx *p, yaml_node_t *v)
{
	struct gslb_conf *c = p->c;
	char path[PATH_MAX_LEN];
	unsigned i = 0;

	if (!is_seq(p, v, "gslb.topology"))
		return;
	SEQ_EACH(p, v, it) {
		yaml_node_t *item = yconf_node(&p->y, *it_it);
		struct gslb_topo_entry *e = &c->topo[c->n_topo];
		path_fmt(path, "gslb.topology[%u]", i++);
		*e = (struct gslb_topo_entry){ .region = -1, .line = line_of(item) };
		if (item->type != YAML_MAPPING_NODE) {
			yconf_error(&p->y, item, path, "must be a mapping with subnet and region");
			continue;
		}
		bool have_subnet = false;
		for (yaml_node_pair_t *pr = item->data.mapping.pairs.start;
		     pr < item->data.mapping.pairs.top; pr++) {
			const char *key = yconf_text(yconf_node(&p->y, pr->key));
			yaml_node_t *val = yconf_node(&p->y, pr->value);
			char sub[PATH_MAX_LEN];
			path_fmt(sub, "%s.%s", path, key ? key : "?");
			if (key && strcmp(key, "subnet") == 0) {
				const char *s;
				if (!want_scalar(p, val, sub, &s))
					continue;
				int rc = parse_subnet(s, e);
				if (rc == -1)
					yconf_error(&p->y, val, sub, "'%s' is not a subnet like 10.0.0.0/8", s);
				else if (rc == -2)
					yconf_error(&p->y, val, sub, "'%s' has host bits set", s);
				else
					have_subnet = true;
			} else if (key && strcmp(key, "region") == 0) {
				e->region = region_intern(p, val, sub);
			} else {
				yconf_error(&p->y, yconf_node(&p->y, pr->key), sub, "unknown key");
			}
		}
		if (!have_subnet || e->region < 0) {
			if (p->y.errors == 0)
				yconf_error(&p->y, item, path, "subnet and region are required");
			continue;
		}
		c->n_topo++;
	}
}

static void
parse_order_list(struct pctx *p, yaml_node_t *v, const char *path, struct gslb_region_order *o)
{
	char sub[PATH_MAX_LEN];

	if (!is_seq(p, v, path))
		return;
	o->n = 0;
	SEQ_EACH(p, v, it) {
		path_fmt(sub, "%s[%u]", path, o->n);
		int r = region_intern(p, yconf_node(&p->y, *it_it), sub);
		if (r < 0)
			continue;
		if (o->n == GSLB_MAX_REGIONS) {
			yconf_error(&p->y, v, path, "too long");
			return;
		}
		o->order[o->n++] = r;
	}
}

static void
order_pair(struct pctx *p, const char *key, yaml_node_t *k, yaml_node_t *v, const char *path,
           void *obj)
{
	int r = region_intern(p, k, path);
	if (r >= 0)
		parse_order_list(p, v, path, &p->c->order[r]);
}

static void
country_pair(struct pctx *p, const char *key, yaml_node_t *k, yaml_node_t *v, const char *path,
             void *obj)
{
	struct gslb_conf *c = p->c;
	if (strlen(key) != 2 || !isalpha((unsigned char)key[0]) || !isalpha((unsigned char)key[1])) {
		yconf_error(&p->y, k, path, "must be a two-letter ISO 3166 country code");
		return;
	}
	int r = region_intern(p, v, path);
	if (r < 0)
		return;
	/* GeoIP2 databases spell country.iso_code in upper case and pick.c compares bytes:
	 * a lower-case "de" would otherwise be accepted and silently never match. */
	c->countries[c->n_countries].cc[0] = (char)toupper((unsigned char)key[0]);
	c->countries[c->n_countries].cc[1] = (char)toupper((unsigned char)key[1]);
	c->countries[c->n_countries].cc[2] = '\0';
	c->countries[c->n_countries++].region = r;
}

static int
topo_cmp(const void *a, const void *b)
{
	const struct gslb_topo_entry *x = a, *y = b;
	if (x->prefix != y->prefix)
		return x->prefix > y->prefix ? -1 : 1;
	return x->line - y->line;
}

/* ---- names ---------------------------------------------------------------------------- */

static const struct { const char *name; enum gslb_policy policy; } policies[] = {
	{ "weighted", GSLB_WEIGHTED }, { "round-robin", GSLB_ROUND_ROBIN },
	{ "failover", GSLB_FAILOVER }, { "hash", GSLB_HASH }, { "topology", GSLB_TOPOLOGY },
	{ "lowest-rtt", GSLB_LOWEST_RTT },
};

static void
name_pair(struct pctx *p, const char *key, yaml_node_t *k, yaml_node_t *v, const char *path,
          void *obj)
{
	struct gslb_name *nm = obj;
	struct gslb_conf *c = p->c;
	const char *s;
	unsigned u;

	if (strcmp(key, "name") == 0) {
		uint8_t wire[DNAME_MAXLEN];
		if (!want_scalar(p, v, path, &s))
			return;
		if (dname_from_str(s, wire) == 0 || wire[0] == 0) {
			yconf_error(&p->y, v, path, "'%s' is not a domain name", s);
			return;
		}
		dname_copy_lower(nm->wire, wire);
		dname_to_str(nm->wire, nm->text, sizeof(nm->text));
	} else if (strcmp(key, "pool") == 0) {
		if (!want_scalar(p, v, path, &s))
			return;
		int pi = pool_find(c, s);
		if (pi < 0)
			yconf_error(&p->y, v, path, "unknown pool '%s'", s);
		else
			nm->pool = (unsigned)pi;
	} else if (strcmp(key, "policy") == 0) {
		if (!want_scalar(p, v, path, &s))
			return;
		for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
			if (strcmp(s, policies[i].name) == 0) {
				nm->policy = policies[i].policy;
				return;
			}
		}
		yconf_error(&p->y, v, path,
		            "must be weighted, round-robin, failover, hash, topology or lowest-rtt");
	} else if (strcmp(key, "hash-prefix4") == 0) {
		if (get_uint(p, v, path, 0, 32, &u))
			nm->hash4 = (uint8_t)u;
	} else if (strcmp(key, "hash-prefix6") == 0) {
		if (get_uint(p, v, path, 0, 128, &u))
			nm->hash6 = (uint8_t)u;
	} else {
		yconf_error(&p->y, k, path, "unknown key");
	}
}

static void
parse_names(struct pctx *p, yaml_node_t *v)
{
	struct gslb_conf *c = p->c;
	char path[PATH_MAX_LEN];
	unsigned i = 0;

	if (!is_seq(p, v, "gslb.names"))
		return;
	SEQ_EACH(p, v, it) {
		yaml_node_t *item = yconf_node(&p->y, *it_it);
		struct gslb_name *nm = &c->names[c->n_names];
		path_fmt(path, "gslb.names[%u]", i++);
		*nm = (struct gslb_name){ .line = line_of(item), .pool = UINT32_MAX, .hash4 = 24,
		                          .hash6 = 56 };
		unsigned before = p->y.errors;
		each_pair(p, item, path, name_pair, nm);
		if (p->y.errors != before)
			continue;
		if (nm->wire[0] == 0 || nm->pool == UINT32_MAX) {
			yconf_error(&p->y, item, path, "name and pool are required");
			continue;
		}
		for (unsigned j = 0; j < c->n_names; j++) {
			if (dname_equal(c->names[j].wire, nm->wire))
				yconf_error(&p->y, item, path, "duplicate name %s (first at line %d)", nm->text,
				     c->names[j].line);
		}
		if (nm->policy == GSLB_TOPOLOGY && c->n_topo == 0 && c->geoip_path == NULL)
			yconf_error(&p->y, item, path, "policy topology needs gslb.topology or gslb.geoip");
		c->n_names++;
	}
}

uint64_t
gslb__name_hash(const uint8_t *wire)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t len = dname_len(wire);
	for (size_t i = 0; i < len; i++) {
		uint8_t b = wire[i];
		if (b >= 'A' && b <= 'Z')
			b += 'a' - 'A';
		h ^= b;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int
build_name_table(struct gslb_conf *c)
{
	uint32_t size = 8;
	while (size < 2 * c->n_names)
		size *= 2;
	c->name_slots = calloc(size, sizeof(*c->name_slots));
	if (c->name_slots == NULL)
		return -ENOMEM;
	c->name_mask = size - 1;
	for (unsigned i = 0; i < c->n_names; i++) {
		uint32_t s = (uint32_t)gslb__name_hash(c->names[i].wire) & c->name_mask;
		while (c->name_slots[s] != 0)
			s = (s + 1) & c->name_mask;
		c->name_slots[s] = i + 1;
	}
	return 0;
}

/* ---- top level --------------------------------------------------------------------------- */

static size_t
count_items(struct pctx *p, yaml_node_t *n, bool nested_members)
{
	if (n == NULL)
		return 0;
	if (n->type == YAML_SEQUENCE_NODE)
		return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (n->type != YAML_MAPPING_NODE)
		return 0;
	size_t total = 0;
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		if (!nested_members) {
			total++;
			continue;
		}
		yaml_node_t *pool = yconf_node(&p->y, pr->value);
		if (pool->type != YAML_MAPPING_NODE)
			continue;
		for (yaml_node_pair_t *q = pool->data.mapping.pairs.start;
		     q < pool->data.mapping.pairs.top; q++) {
			const char *k = yconf_text(yconf_node(&p->y, q->key));
			if (k && strcmp(k, "members") == 0)
				total += count_items(p, yconf_node(&p->y, q->value), false);
		}
	}
	return total;
}

static int
open_geoip(struct pctx *p, yaml_node_t *n)
{
#ifdef HAVE_MAXMINDDB
	MMDB_s *mmdb = calloc(1, sizeof(*mmdb));
	if (mmdb == NULL)
		return -ENOMEM;
	int rc = MMDB_open(p->c->geoip_path, MMDB_MODE_MMAP, mmdb);
	if (rc != MMDB_SUCCESS) {
		yconf_error(&p->y, n, "gslb.geoip", "%s: %s", p->c->geoip_path, MMDB_strerror(rc));
		free(mmdb);
		return 0;
	}
	p->c->geoip = mmdb;
#else
	yconf_error(&p->y, n, "gslb.geoip", "this build has no libmaxminddb support");
#endif
	return 0;
}

int
gslb_conf_parse(yaml_document_t *doc, yaml_node_t *root, const char *file,
                struct gslb_conf **out)
{
	struct pctx p = { .y = { .doc = doc, .file = file } };
	yaml_node_t *checks = NULL, *pools = NULL, *topo = NULL, *order = NULL, *names = NULL,
	            *geoip = NULL, *countries = NULL;
	struct gslb_conf *c;

	*out = NULL;
	c = p.c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	atomic_init(&c->refs, 1);
	c->file = strdup(file);
	if (root->type != YAML_MAPPING_NODE) {
		yconf_error(&p.y, root, "gslb", "must be a mapping");
		goto out;
	}
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = yconf_node(&p.y, pr->key), *v = yconf_node(&p.y, pr->value);
		const char *key = yconf_text(k);
		struct { const char *name; yaml_node_t **slot; } tops[] = {
			{ "checks", &checks }, { "pools", &pools }, { "topology", &topo },
			{ "region-order", &order }, { "names", &names }, { "geoip", &geoip },
			{ "geoip-regions", &countries },
		};
		size_t i;
		for (i = 0; key && i < sizeof(tops) / sizeof(tops[0]); i++) {
			if (strcmp(key, tops[i].name) == 0) {
				*tops[i].slot = v;
				break;
			}
		}
		if (key == NULL || i == sizeof(tops) / sizeof(tops[0]))
			yconf_error(&p.y, k, "gslb", "unknown key '%s'", key ? key : "?");
	}
	c->checks = calloc(count_items(&p, checks, false) + 1, sizeof(*c->checks));
	c->pools = calloc(count_items(&p, pools, false) + 1, sizeof(*c->pools));
	c->members = calloc(count_items(&p, pools, true) + 1, sizeof(*c->members));
	c->topo = calloc(count_items(&p, topo, false) + 1, sizeof(*c->topo));
	c->names = calloc(count_items(&p, names, false) + 1, sizeof(*c->names));
	c->countries = calloc(count_items(&p, countries, false) + 1, sizeof(*c->countries));
	if (!c->file || !c->checks || !c->pools || !c->members || !c->topo || !c->names ||
	    !c->countries) {
		p.nomem = true;
		goto out;
	}
	if (checks)
		each_pair(&p, checks, "gslb.checks", parse_check, NULL);
	if (pools == NULL)
		yconf_error(&p.y, root, "gslb.pools", "at least one pool is required");
	else
		each_pair(&p, pools, "gslb.pools", parse_pool, NULL);
	if (pools && pools->type == YAML_MAPPING_NODE)
		resolve_sorry(&p, pools);
	if (topo)
		parse_topology(&p, topo);
	qsort(c->topo, c->n_topo, sizeof(*c->topo), topo_cmp);
	if (order && order->type == YAML_SEQUENCE_NODE)
		parse_order_list(&p, order, "gslb.region-order", &c->global_order);
	else if (order)
		each_pair(&p, order, "gslb.region-order", order_pair, NULL);
	if (countries)
		each_pair(&p, countries, "gslb.geoip-regions", country_pair, NULL);
	if (geoip && get_str(&p, geoip, "gslb.geoip", &c->geoip_path) && open_geoip(&p, geoip) != 0)
		p.nomem = true;
	if (names)
		parse_names(&p, names);
	if (p.y.errors == 0 && !p.nomem && build_name_table(c) != 0)
		p.nomem = true;
out:
	if (p.y.errors || p.nomem) {
		gslb_conf_free(c);
		return p.nomem && p.y.errors == 0 ? -ENOMEM : SP_ECONFIG;
	}
	*out = c;
	return 0;
}

int
gslb_conf_load(const char *file, const char *text, struct gslb_conf **out)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *fp = NULL;
	int rc = SP_ECONFIG;

	*out = NULL;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	if (text) {
		yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	} else {
		fp = fopen(file, "r");
		if (fp == NULL) {
			rc = -errno;
			log_err("%s: %s", file, strerror(errno));
			yaml_parser_delete(&parser);
			return rc;
		}
		yaml_parser_set_input_file(&parser, fp);
	}
	if (!yaml_parser_load(&parser, &doc)) {
		log_err("%s:%lu: %s", file, (unsigned long)parser.problem_mark.line + 1,
		        parser.problem ? parser.problem : "YAML syntax error");
		goto out;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	yaml_node_t *g = NULL;
	if (root && root->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
		     pr < root->data.mapping.pairs.top; pr++) {
			const char *k = yconf_text(yaml_document_get_node(&doc, pr->key));
			if (k && strcmp(k, "gslb") == 0)
				g = yaml_document_get_node(&doc, pr->value);
		}
	}
	if (g == NULL)
		log_err("%s:1: gslb: missing", file);
	else
		rc = gslb_conf_parse(&doc, g, file, out);
	yaml_document_delete(&doc);
out:
	yaml_parser_delete(&parser);
	if (fp)
		fclose(fp);
	return rc;
}

struct gslb_conf *
gslb__conf_ref(struct gslb_conf *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

void
gslb_conf_free(struct gslb_conf *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	for (unsigned i = 0; c->checks && i < c->n_checks; i++) {
		struct gslb_check_conf *ck = &c->checks[i];
		free(ck->path);
		free(ck->host);
		free(ck->expect_body);
		free(ck->user_agent);
		free(ck->ca_file);
		free(ck->sni);
		free(ck->file);
	}
#ifdef HAVE_MAXMINDDB
	if (c->geoip) {
		MMDB_close(c->geoip);
		free(c->geoip);
	}
#endif
	free(c->checks);
	free(c->members);
	free(c->pools);
	free(c->names);
	free(c->name_slots);
	free(c->topo);
	free(c->countries);
	free(c->geoip_path);
	free(c->file);
	free(c);
}

int
gslb_conf_foreach_name(const struct gslb_conf *c, gslb_name_fn *fn, void *arg)
{
	for (unsigned i = 0; i < c->n_names; i++) {
		int rc = fn(arg, c->names[i].wire, c->names[i].text, c->names[i].line);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
gslb__member_find(const struct gslb_conf *c, const char *pool, const char *member)
{
	int pi = pool_find(c, pool);
	if (pi < 0)
		return -1;
	const struct gslb_pool_conf *pc = &c->pools[pi];
	for (unsigned i = pc->first; i < pc->first + pc->n; i++) {
		if (strcmp(c->members[i].name, member) == 0)
			return (int)i;
	}
	return -1;
}
