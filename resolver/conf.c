/* conf.c - the `resolver:` YAML section -> struct resolver_conf, root hints files,
 * addresses and the recursion ACL (prefix lists, IPv4 and IPv6). Parsing runs on the
 * thread that loads the configuration; resolver_acl_match() is called by workers on the
 * answer path (no allocation). Errors name file:line and the key path like gslb/conf.c;
 * a section with errors is refused whole. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/errors.h"
#include "lib/log.h"
#include "lib/yconf.h"
#include "resolver/dnssec.h"
#include "resolver/resolver.h"

/* ---- addresses and prefixes ------------------------------------------------------------ */

int
resolver_addr_parse(const char *text, uint16_t default_port, struct resolver_addr *out)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (addr_parse(text, default_port, &ss, &len) != 0)
		return SP_EPARSE;
	memset(out, 0, sizeof(*out));
	memcpy(&out->u, &ss, len);
	out->len = len;
	return 0;
}

bool
resolver_addr_equal(const struct resolver_addr *a, const struct resolver_addr *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return false;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.sin.sin_port == b->u.sin.sin_port &&
		       a->u.sin.sin_addr.s_addr == b->u.sin.sin_addr.s_addr;
	if (a->u.sa.sa_family == AF_INET6)
		return a->u.sin6.sin6_port == b->u.sin6.sin6_port &&
		       memcmp(&a->u.sin6.sin6_addr, &b->u.sin6.sin6_addr, 16) == 0;
	return false;
}

bool
resolver_addr_is_loopback(const struct resolver_addr *a)
{
	if (a->u.sa.sa_family == AF_INET)
		return (ntohl(a->u.sin.sin_addr.s_addr) >> 24) == 127;
	if (a->u.sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&a->u.sin6.sin6_addr);
	return false;
}

char *
resolver_addr_str(const struct resolver_addr *a, char *out, size_t outlen)
{
	addr_format(&a->u.sa, out, outlen);
	return out;
}

int
resolver_prefix_parse(const char *text, struct resolver_prefix *out)
{
	/* Host bits must be zero: "10.1.2.3/8" is a typo more often than an intent. */
	return addr_prefix_parse(text, &out->p) == 0 ? 0 : SP_EPARSE;
}

bool
resolver_acl_match(const struct resolver_acl *acl, const struct sockaddr *sa)
{
	const uint8_t *a4 = NULL, *a6 = NULL;

	if (sa->sa_family == AF_INET) {
		a4 = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		a6 = in6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(in6))
			a4 = in6->s6_addr + 12;     /* ::ffff:127.0.0.1 is 127.0.0.1 */
	} else {
		return false;
	}
	for (size_t i = 0; i < acl->n; i++) {
		const struct addr_prefix *p = &acl->v[i].p;
		if ((p->family == AF_INET && a4 != NULL && addr_prefix_match(p, a4)) ||
		    (p->family == AF_INET6 && a6 != NULL && addr_prefix_match(p, a6)))
			return true;
	}
	return false;
}

/* ---- defaults ------------------------------------------------------------------------ */

static int
conf_init(struct resolver_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->enable = false;
	c->allow.v = calloc(2, sizeof(*c->allow.v));
	if (c->allow.v == NULL)
		return -ENOMEM;
	resolver_prefix_parse("127.0.0.0/8", &c->allow.v[0]);
	resolver_prefix_parse("::1", &c->allow.v[1]);
	c->allow.n = 2;
	c->validation = true;
	c->qname_minimisation = true;
	c->use_0x20 = false;
	c->cache_size = 64u << 20;
	c->ttl_min = 0;
	c->ttl_max = 86400;
	c->neg_ttl_max = 3600;
	c->serve_stale = true;
	c->stale_max_age = 86400;
	c->stale_answer_timeout_ms = 1800;
	c->prefetch = false;
	c->query_timeout_ms = 400;
	c->request_timeout_ms = 10000;
	c->limits = (struct resolver_limits){
		.max_upstream_queries = 64, .max_referrals = 30, .max_cname = 12,
		.max_ns_fetch = 4, .max_ns_fetch_total = 12, .max_validations = 64,
		.max_per_server = 64, .max_per_client = 32, .max_pending = 10000,
	};
	return 0;
}

int
resolver_conf_new(struct resolver_conf **out)
{
	struct resolver_conf *c = malloc(sizeof(*c));
	if (c == NULL || conf_init(c) != 0) {
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void
resolver_conf_free(struct resolver_conf *c)
{
	if (c == NULL)
		return;
	free(c->allow.v);
	free(c->hints_file);
	free(c->trust_anchor);
	dnssec_anchors_free(c->anchors);
	free(c);
}

/* ---- hints files ------------------------------------------------------------------- */

int
resolver_hints_load(const char *path, struct resolver_addr *out, size_t max)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	unsigned lineno = 0;
	size_t n = 0;

	if (f == NULL) {
		log_err("%s: %s", path, strerror(errno));
		return -errno;
	}
	int rc = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *semi = strchr(line, ';');
		if (semi != NULL)
			*semi = 0;
		char *tok[8];
		int nt = 0;
		for (char *s = strtok(line, " \t\r\n"); s != NULL && nt < 8; s = strtok(NULL, " \t\r\n"))
			tok[nt++] = s;
		if (nt == 0)
			continue;
		/* "ADDR[@PORT]" alone, or an A/AAAA record: the address is the last field. */
		const char *type = nt >= 3 ? tok[nt - 2] : NULL;
		if (type != NULL && strcasecmp(type, "NS") == 0)
			continue;
		if (nt != 1 && (type == NULL || (strcasecmp(type, "A") != 0 &&
		                                 strcasecmp(type, "AAAA") != 0))) {
			log_err("%s:%u: expected NS, A or AAAA records or ADDR[@PORT]", path, lineno);
			rc = SP_ECONFIG;
			break;
		}
		if (n == max) {
			log_err("%s:%u: more than %zu root server addresses", path, lineno, max);
			rc = SP_ECONFIG;
			break;
		}
		if (resolver_addr_parse(tok[nt - 1], 53, &out[n]) != 0) {
			log_err("%s:%u: %s: not an address", path, lineno, tok[nt - 1]);
			rc = SP_ECONFIG;
			break;
		}
		n++;
	}
	fclose(f);
	if (rc == 0 && n == 0) {
		log_err("%s: no root server addresses", path);
		rc = SP_ECONFIG;
	}
	return rc != 0 ? rc : (int)n;
}

/* ---- YAML ------------------------------------------------------------------------------ */

/* Every error is logged (lib/yconf.c with no err buffer) so a user sees all of them. */

/* "1800ms", "2s", "2" (seconds), at most an hour: these bound a client's wait. */
static void
get_ms(struct yconf *y, yaml_node_t *n, const char *path, uint32_t *out)
{
	uint64_t ms;
	if (yconf_get_duration_ms(y, n, path, 0, 3600 * 1000, &ms) == 0)
		*out = (uint32_t)ms;
}

static void
parse_allow(struct yconf *y, yaml_node_t *v, struct resolver_conf *c)
{
	if (v->type != YAML_SEQUENCE_NODE) {
		yconf_error(y, v, "resolver.allow", "must be a list of prefixes");
		return;
	}
	size_t n = yconf_seq_len(v);
	struct resolver_prefix *pv = calloc(n ? n : 1, sizeof(*pv));
	if (pv == NULL) {
		yconf_error(y, v, "resolver.allow", "out of memory");
		return;
	}
	size_t k = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yconf_node(y, *it);
		const char *s = yconf_text(e);
		if (s == NULL || resolver_prefix_parse(s, &pv[k]) != 0)
			yconf_error(y, e, "resolver.allow",
			            "%s: not an address or prefix (host bits must be zero)",
			            s ? s : "(not a scalar)");
		else
			k++;
	}
	free(c->allow.v);
	c->allow.v = pv;
	c->allow.n = k;
}

/* A file named in the configuration: relative names are relative to the directory of the
 * configuration file, like zone files and every other path in it (server/config.c). A file
 * name without a '/' (the built-in configuration, "test.conf") leaves the path as given.
 * Returns a malloc()ed path or NULL (out of memory). */
static char *
conf_path(const struct yconf *y, const char *path)
{
	const char *slash = y->file != NULL ? strrchr(y->file, '/') : NULL;
	if (path[0] == '/' || slash == NULL)
		return strdup(path);
	size_t dl = (size_t)(slash - y->file), n = dl + 1 + strlen(path) + 1;
	char *p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%.*s/%s", (int)dl, y->file, path);
	return p;
}

static void
parse_hints(struct yconf *y, yaml_node_t *v, struct resolver_conf *c)
{
	const char *s = yconf_text(v);
	if (s != NULL) {
		char *path = conf_path(y, s);
		if (path == NULL) {
			yconf_error(y, v, "resolver.root-hints", "out of memory");
			return;
		}
		int n = resolver_hints_load(path, c->hints, RESOLVER_MAX_HINTS);
		if (n < 0) {
			yconf_error(y, v, "resolver.root-hints",
			            "%s: cannot use this hints file (see above)", path);
			free(path);
			return;
		}
		c->nhints = (size_t)n;
		free(c->hints_file);
		c->hints_file = path;
		return;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		yconf_error(y, v, "resolver.root-hints", "must be a file name or a list of ADDR[@PORT]");
		return;
	}
	c->nhints = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yconf_node(y, *it);
		const char *a = yconf_text(e);
		if (c->nhints == RESOLVER_MAX_HINTS) {
			yconf_error(y, e, "resolver.root-hints", "at most %d addresses",
			            RESOLVER_MAX_HINTS);
			return;
		}
		if (a == NULL || resolver_addr_parse(a, 53, &c->hints[c->nhints]) != 0)
			yconf_error(y, e, "resolver.root-hints", "%s: not ADDR or ADDR@PORT",
			            a ? a : "(not a scalar)");
		else
			c->nhints++;
	}
}

static void
parse_limits(struct yconf *y, yaml_node_t *v, struct resolver_limits *l)
{
	static const struct {
		const char *key;
		size_t off;
		unsigned lo, hi;
	} keys[] = {
		{ "upstream-queries", offsetof(struct resolver_limits, max_upstream_queries), 1, 1000 },
		{ "referrals", offsetof(struct resolver_limits, max_referrals), 1, 100 },
		{ "cname-chain", offsetof(struct resolver_limits, max_cname), 0, 32 },
		{ "ns-fetch", offsetof(struct resolver_limits, max_ns_fetch), 0, 32 },
		{ "ns-fetch-total", offsetof(struct resolver_limits, max_ns_fetch_total), 0, 128 },
		{ "validations", offsetof(struct resolver_limits, max_validations), 1, 10000 },
		{ "per-server", offsetof(struct resolver_limits, max_per_server), 1, 100000 },
		{ "per-client", offsetof(struct resolver_limits, max_per_client), 1, 100000 },
		{ "pending", offsetof(struct resolver_limits, max_pending), 1, 1000000 },
	};
	if (v->type != YAML_MAPPING_NODE) {
		yconf_error(y, v, "resolver.limits", "must be a mapping");
		return;
	}
	for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = yconf_node(y, pr->key);
		yaml_node_t *val = yconf_node(y, pr->value);
		const char *ks = yconf_text(k);
		size_t i;
		for (i = 0; ks != NULL && i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strcmp(ks, keys[i].key) == 0)
				break;
		}
		char path[96];
		snprintf(path, sizeof(path), "resolver.limits.%s", ks ? ks : "?");
		if (ks == NULL || i == sizeof(keys) / sizeof(keys[0])) {
			yconf_error(y, k, path, "unknown key");
			continue;
		}
		yconf_get_u32(y, val, path, keys[i].lo, keys[i].hi,
		              (uint32_t *)((char *)l + keys[i].off));
	}
}

/* A file name, or DS/DNSKEY records inline (they have a record type in them; a file name
 * has no blank). Loaded now, so a bad anchor is a configuration error with its line. */
static void
parse_anchor(struct yconf *y, yaml_node_t *v, struct resolver_conf *c)
{
	const char *s = yconf_text(v);
	char err[256] = "";

	if (s == NULL || *s == 0) {
		yconf_error(y, v, "resolver.trust-anchor", "must be a file name or DS/DNSKEY records");
		return;
	}
	free(c->trust_anchor);
	dnssec_anchors_free(c->anchors);
	c->trust_anchor = strdup(s);
	c->trust_anchor_inline = strpbrk(s, " \t\n") != NULL;
	c->anchors = dnssec_anchors_new();
	if (c->trust_anchor == NULL || c->anchors == NULL) {
		yconf_error(y, v, "resolver.trust-anchor", "out of memory");
		return;
	}
	if (!c->trust_anchor_inline) {
		/* A file: relative to the configuration file's directory, like root-hints. */
		char *path = conf_path(y, s);
		if (path == NULL) {
			yconf_error(y, v, "resolver.trust-anchor", "out of memory");
			return;
		}
		free(c->trust_anchor);
		c->trust_anchor = path;
	}
	int rc = c->trust_anchor_inline
	         ? dnssec_anchors_add_text(c->anchors, s, err, sizeof(err))
	         : dnssec_anchors_add_file(c->anchors, c->trust_anchor, err, sizeof(err));
	if (rc != 0)
		yconf_error(y, v, "resolver.trust-anchor", "%s", err[0] ? err : sp_strerror(rc));
	else if (dnssec_anchors_count(c->anchors) == 0)
		yconf_error(y, v, "resolver.trust-anchor", "no DS or DNSKEY records");
}

static void
parse_pair(struct yconf *y, const char *ks, yaml_node_t *k, yaml_node_t *v,
           struct resolver_conf *c)
{
	char path[96];
	uint64_t u64;

	snprintf(path, sizeof(path), "resolver.%s", ks);
	if (!strcmp(ks, "enable")) {
		yconf_get_bool(y, v, path, &c->enable);
	} else if (!strcmp(ks, "allow")) {
		parse_allow(y, v, c);
	} else if (!strcmp(ks, "root-hints")) {
		parse_hints(y, v, c);
	} else if (!strcmp(ks, "trust-anchor")) {
		parse_anchor(y, v, c);
	} else if (!strcmp(ks, "validation")) {
		yconf_get_bool(y, v, path, &c->validation);
	} else if (!strcmp(ks, "qname-minimisation")) {
		yconf_get_bool(y, v, path, &c->qname_minimisation);
	} else if (!strcmp(ks, "use-0x20")) {
		yconf_get_bool(y, v, path, &c->use_0x20);
	} else if (!strcmp(ks, "cache-size")) {
		if (yconf_get_size(y, v, path, 1u << 20, 1ull << 40, &u64) == 0)
			c->cache_size = (size_t)u64;
	} else if (!strcmp(ks, "ttl-min")) {
		yconf_get_u32(y, v, path, 0, 86400, &c->ttl_min);
	} else if (!strcmp(ks, "ttl-max")) {
		yconf_get_u32(y, v, path, 1, 604800, &c->ttl_max);
	} else if (!strcmp(ks, "negative-ttl-max")) {
		yconf_get_u32(y, v, path, 0, 86400, &c->neg_ttl_max);
	} else if (!strcmp(ks, "serve-stale")) {
		yconf_get_bool(y, v, path, &c->serve_stale);
	} else if (!strcmp(ks, "stale-max-age")) {
		yconf_get_u32(y, v, path, 0, 604800, &c->stale_max_age);
	} else if (!strcmp(ks, "stale-answer-timeout")) {
		get_ms(y, v, path, &c->stale_answer_timeout_ms);
	} else if (!strcmp(ks, "prefetch")) {
		yconf_get_bool(y, v, path, &c->prefetch);
	} else if (!strcmp(ks, "query-timeout")) {
		get_ms(y, v, path, &c->query_timeout_ms);
	} else if (!strcmp(ks, "resolution-timeout")) {
		get_ms(y, v, path, &c->request_timeout_ms);
	} else if (!strcmp(ks, "limits")) {
		parse_limits(y, v, &c->limits);
	} else {
		yconf_error(y, k, path, "unknown key");
	}
}

int
resolver_conf_parse(yaml_document_t *doc, yaml_node_t *node, const char *file,
                    struct resolver_conf **out)
{
	struct yconf y = { .doc = doc, .file = file };
	struct resolver_conf *c;

	if (resolver_conf_new(&c) != 0)
		return -ENOMEM;
	if (node == NULL || node->type != YAML_MAPPING_NODE) {
		yconf_error(&y, node, "resolver", "must be a mapping");
		resolver_conf_free(c);
		return SP_ECONFIG;
	}
	yaml_node_t *ttlmin = NULL;
	for (yaml_node_pair_t *pr = node->data.mapping.pairs.start; pr < node->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = yconf_node(&y, pr->key);
		yaml_node_t *v = yconf_node(&y, pr->value);
		const char *ks = yconf_text(k);
		if (ks == NULL) {
			yconf_error(&y, k, "resolver.?", "keys must be scalars");
			continue;
		}
		if (!strcmp(ks, "ttl-min"))
			ttlmin = v;
		parse_pair(&y, ks, k, v, c);
	}
	if (y.errors == 0 && c->ttl_min > c->ttl_max)
		yconf_error(&y, ttlmin, "resolver.ttl-min", "is above ttl-max (%u)", c->ttl_max);
	if (y.errors == 0 && c->enable && c->nhints == 0)
		yconf_error(&y, node, "resolver.root-hints", "required when the resolver is enabled");
	if (y.errors != 0) {
		resolver_conf_free(c);
		return SP_ECONFIG;
	}
	*out = c;
	return 0;
}
