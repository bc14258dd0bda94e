/* xfr_conf.c - the transfer part of the configuration (docs/configuration.md, "keys"
 * and "transfers", and the zone keys provide-xfr and notify): TSIG keys, ACLs, the
 * secondaries to NOTIFY; and its publication to the workers.
 *
 * Parsing runs on the main thread inside daemon_conf_load() (config.c calls in here);
 * workers read the published copy (xfr_published()) when a transfer starts. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/addr.h"
#include "lib/errors.h"
#include "lib/log.h"
#include "server/xfr.h"

/* ---- small YAML helpers ------------------------------------------------------------------ */

static struct xfr_conf *
conf_of(struct daemon_conf *c)
{
	if (c->xfr == NULL) {
		c->xfr = calloc(1, sizeof(*c->xfr));
		if (c->xfr != NULL) {
			c->xfr->fudge = TSIG_DEFAULT_FUDGE;
			c->xfr->journal_versions = XFR_JOURNAL_VERSIONS;
			c->xfr->journal_size = XFR_JOURNAL_SIZE;
			c->xfr->notify_retries = XFR_NOTIFY_RETRIES;
			c->xfr->notify_timeout_ms = XFR_NOTIFY_TIMEOUT_MS;
		}
	}
	return c->xfr;
}

static const char *
scalar_of(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static size_t
seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *
seq_item(struct conf_ctx *cx, const yaml_node_t *n, size_t i)
{
	return yaml_document_get_node(cx->doc, n->data.sequence.items.start[i]);
}

/* ---- keys: ---------------------------------------------------------------------------- */

static int
parse_key(struct conf_ctx *cx, yaml_node_t *item, const char *path, struct xfr_conf *x)
{
	const char *name = NULL, *alg = NULL, *secret = NULL;
	yaml_node_t *name_node = item;
	char why[160];

	if (item->type != YAML_MAPPING_NODE)
		return conf_error(cx, item, path, "expected a mapping {name, algorithm, secret}");
	for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
		const char *key = scalar_of(k), *val = scalar_of(v);
		if (key == NULL)
			return conf_error(cx, k, path, "keys must be plain names");
		if (strcmp(key, "name") != 0 && strcmp(key, "algorithm") != 0 &&
		    strcmp(key, "secret") != 0)
			return conf_error(cx, k, NULL, "unknown key '%s' in '%s'", key, path);
		if (val == NULL || val[0] == '\0')
			return conf_error(cx, v, path, "'%s' needs a value", key);
		if (strcmp(key, "name") == 0) {
			name = val;
			name_node = v;
		} else if (strcmp(key, "algorithm") == 0) {
			alg = val;
		} else {
			secret = val;
		}
	}
	if (name == NULL || alg == NULL || secret == NULL)
		return conf_error(cx, item, path, "a key needs name, algorithm and secret");
	struct tsig_key *k = &x->keys[x->nkeys];
	if (tsig_key_init(k, name, alg, secret, why, sizeof(why)) != 0)
		return conf_error(cx, name_node, path, "%s", why);
	for (size_t i = 0; i < x->nkeys; i++) {
		if (dname_equal(x->keys[i].name, k->name))
			return conf_error(cx, name_node, path, "duplicate key '%s'", k->text);
	}
	x->nkeys++;
	return 0;
}

int
xfr_conf_parse_keys(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c)
{
	struct xfr_conf *x = conf_of(c);
	char path[48];

	if (x == NULL)
		return conf_error(cx, node, "keys", "out of memory");
	if (node->type == YAML_SCALAR_NODE && scalar_of(node)[0] == '\0')
		return 0;
	if (node->type != YAML_SEQUENCE_NODE)
		return conf_error(cx, node, "keys", "expected a list of {name, algorithm, secret}");
	size_t n = seq_len(node);
	free(x->keys);
	x->nkeys = 0;
	x->keys = calloc(n + 1, sizeof(*x->keys));
	if (x->keys == NULL)
		return conf_error(cx, node, "keys", "out of memory");
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "keys[%zu]", i);
		int rc = parse_key(cx, seq_item(cx, node, i), path, x);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- transfers: ------------------------------------------------------------------------ */

int
xfr_conf_parse_transfers(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c)
{
	struct xfr_conf *x = conf_of(c);
	char path[64];

	if (x == NULL)
		return conf_error(cx, node, "transfers", "out of memory");
	if (node->type != YAML_MAPPING_NODE)
		return conf_error(cx, node, "transfers", "expected a mapping");
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
		const char *key = scalar_of(k);
		uint64_t u;
		int rc;
		if (key == NULL)
			return conf_error(cx, k, "transfers", "keys must be plain names");
		snprintf(path, sizeof(path), "transfers.%s", key);
		if (strcmp(key, "tsig-fudge") == 0) {
			rc = conf_get_uint(cx, v, path, 1, 3600, &u);
			x->fudge = (uint16_t)u;
		} else if (strcmp(key, "ixfr-versions") == 0) {
			rc = conf_get_uint(cx, v, path, 0, 10000, &u);
			x->journal_versions = (unsigned)u;
		} else if (strcmp(key, "ixfr-size") == 0) {
			rc = conf_get_uint(cx, v, path, 0, (uint64_t)1 << 40, &u);
			x->journal_size = u;
		} else if (strcmp(key, "notify-retries") == 0) {
			rc = conf_get_uint(cx, v, path, 0, 100, &u);
			x->notify_retries = (unsigned)u;
		} else if (strcmp(key, "notify-timeout") == 0) {
			rc = conf_get_duration_ms(cx, v, path, &u);
			if (rc == 0 && (u < 10 || u > 600000))
				rc = conf_error(cx, v, path, "must be 10ms..10m");
			x->notify_timeout_ms = u;
		} else {
			rc = conf_error(cx, k, NULL, "unknown key '%s' in 'transfers'", key);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- zone keys ----------------------------------------------------------------------------- */

static struct xfr_zone *
zone_slot(struct xfr_conf *x, size_t zi)
{
	for (size_t i = 0; i < x->nzones; i++) {
		if (x->zones[i].conf_index == zi)
			return &x->zones[i];
	}
	struct xfr_zone *z = realloc(x->zones, (x->nzones + 1) * sizeof(*z));
	if (z == NULL)
		return NULL;
	x->zones = z;
	z = &x->zones[x->nzones++];
	memset(z, 0, sizeof(*z));
	z->conf_index = zi;
	return z;
}

/* "ADDR" or "ADDR/PREFIX" (v4 or v6), or "any". */
static bool
parse_prefix(const char *text, struct xfr_acl *a)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (strcasecmp(text, "any") == 0) {
		a->any_addr = true;
		return true;
	}
	snprintf(buf, sizeof(buf), "%s", text);
	char *slash = strchr(buf, '/');
	long prefix = -1;
	if (slash != NULL) {
		char *end;
		*slash = '\0';
		prefix = strtol(slash + 1, &end, 10);
		if (*end != '\0' || slash[1] == '\0' || prefix < 0)
			return false;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->addr;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->addr;
	if (inet_pton(AF_INET, buf, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		a->prefix = prefix < 0 ? 32 : (unsigned)prefix;
		return prefix <= 32;
	}
	if (inet_pton(AF_INET6, buf, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		a->prefix = prefix < 0 ? 128 : (unsigned)prefix;
		return prefix <= 128;
	}
	return false;
}

/* An entry: "ADDR[/PREFIX]" or {address: ADDR[/PREFIX], key: NAME}. For remotes the
 * address is "ADDR[@PORT]" instead. */
static int
parse_entry(struct conf_ctx *cx, yaml_node_t *n, const char *path, const char **addr,
            yaml_node_t **addr_node, char **key_name)
{
	*addr = scalar_of(n);
	*addr_node = n;
	*key_name = NULL;
	if (*addr != NULL)
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return conf_error(cx, n, path, "expected an address or {address, key}");
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
		const char *key = scalar_of(k);
		if (key != NULL && strcmp(key, "address") == 0) {
			*addr = scalar_of(v);
			*addr_node = v;
			if (*addr == NULL)
				return conf_error(cx, v, path, "address: expected a value");
		} else if (key != NULL && strcmp(key, "key") == 0) {
			if (conf_get_str(cx, v, path, key_name) != 0)
				return SP_ECONFIG;
		} else {
			return conf_error(cx, k, NULL, "unknown key '%s' in '%s' (address, key)",
			                  key ? key : "?", path);
		}
	}
	return 0;
}

/* Fills one element of a provide-xfr/allow-notify ACL or a primaries/notify list from the
 * list item n (path ipath): parse_entry() and what follows for that element's type. */
typedef int entry_fn(struct conf_ctx *cx, yaml_node_t *n, const char *ipath, void *elem);

/* The list zpath.key (v) of {address, key} entries into a calloc'd array of n + 1
 * elements of size octets, each filled by entry. *arr is set as soon as it is allocated
 * and *nout counts every element entry was called on, the failing one included, so that
 * the caller's free releases what was parsed before an error. */
static int
parse_list(struct conf_ctx *cx, yaml_node_t *v, const char *zpath, const char *key,
           const char *expected, size_t size, entry_fn *entry, void **arr, size_t *nout)
{
	char path[96];
	snprintf(path, sizeof(path), "%s.%s", zpath, key);
	if (v->type != YAML_SEQUENCE_NODE)
		return conf_error(cx, v, path, "expected a list of %s or {address, key}", expected);
	size_t n = seq_len(v);
	char *a = calloc(n + 1, size);
	if (a == NULL)
		return conf_error(cx, v, path, "out of memory");
	*arr = a;
	*nout = 0;
	for (size_t i = 0; i < n; i++) {
		char ipath[136];
		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		(*nout)++;
		int rc = entry(cx, seq_item(cx, v, i), ipath, a + i * size);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
acl_entry(struct conf_ctx *cx, yaml_node_t *n, const char *ipath, void *elem)
{
	struct xfr_acl *acl = elem;
	const char *addr;
	yaml_node_t *an;
	int rc = parse_entry(cx, n, ipath, &addr, &an, &acl->key_name);
	if (rc != 0)
		return rc;
	acl->key = -1;
	if (addr == NULL)
		acl->any_addr = true;
	else if (!parse_prefix(addr, acl))
		return conf_error(cx, an, ipath, "not an address or prefix: '%s'", addr);
	return 0;
}

static int
parse_acl(struct conf_ctx *cx, yaml_node_t *v, const char *zpath, const char *key,
          struct xfr_acl **out, size_t *nout)
{
	void *arr = NULL;
	int rc = parse_list(cx, v, zpath, key, "addresses", sizeof(**out), acl_entry, &arr, nout);
	if (arr != NULL)
		*out = arr;
	return rc;
}

static int
remote_entry(struct conf_ctx *cx, yaml_node_t *n, const char *ipath, void *elem)
{
	struct xfr_remote *r = elem;
	const char *addr;
	yaml_node_t *an;
	int rc = parse_entry(cx, n, ipath, &addr, &an, &r->key_name);
	if (rc != 0)
		return rc;
	r->key = -1;
	if (addr == NULL)
		return conf_error(cx, an, ipath, "needs an address");
	if (conf_parse_listen(addr, 53, &r->addr) != 0)
		return conf_error(cx, an, ipath, "not ADDR or ADDR@PORT: '%s'", addr);
	return 0;
}

static int
parse_remotes(struct conf_ctx *cx, yaml_node_t *v, const char *zpath, const char *key,
              struct xfr_remote **out, size_t *nout)
{
	void *arr = NULL;
	int rc = parse_list(cx, v, zpath, key, "ADDR@PORT", sizeof(**out), remote_entry, &arr,
	                    nout);
	if (arr != NULL)
		*out = arr;
	return rc;
}

bool
xfr_conf_is_zone_key(const char *key)
{
	return strcmp(key, "provide-xfr") == 0 || strcmp(key, "notify") == 0 ||
	       strcmp(key, "primaries") == 0 || strcmp(key, "allow-notify") == 0 ||
	       strcmp(key, "catalog") == 0 || strcmp(key, "catalog-zone") == 0;
}

bool
xfr_conf_is_secondary(struct daemon_conf *c, size_t zi)
{
	if (c->xfr == NULL)
		return false;
	for (size_t i = 0; i < c->xfr->nzones; i++) {
		if (c->xfr->zones[i].conf_index == zi)
			return c->xfr->zones[i].nprimaries > 0 || c->xfr->zones[i].producer;
	}
	return false;
}

int
xfr_conf_secondary(struct conf_ctx *cx, struct daemon_conf *c, size_t zi, yaml_node_t *name_node,
                   const uint8_t *wire)
{
	struct xfr_conf *x = c->xfr;
	struct xfr_zone *z = zone_slot(x, zi);
	char text[DNAME_MAXLEN * 4 + 2];
	if (z == NULL)
		return conf_error(cx, name_node, "zones", "out of memory");
	dname_to_str(wire, text, sizeof(text));
	for (size_t j = 0; j < c->nzones; j++) {
		if (strcasecmp(c->zones[j].name, text) == 0)
			return conf_error(cx, name_node, "zones", "duplicate zone '%s'", text);
	}
	for (size_t j = 0; j < x->nzones; j++) {
		if (&x->zones[j] != z && x->zones[j].detached &&
		    strcasecmp(x->zones[j].name, text) == 0)
			return conf_error(cx, name_node, "zones", "duplicate zone '%s'", text);
	}
	if (z->producer && z->nprimaries > 0)
		return conf_error(cx, name_node, "zones", "zone '%s': a catalog producer has no "
		                  "primaries", text);
	z->conf_index = XFR_NO_INDEX;
	z->secondary = !z->producer;
	z->detached = true;
	z->name = strdup(text);
	if (z->name == NULL)
		return conf_error(cx, name_node, "zones", "out of memory");
	dname_copy_lower(z->apex, wire);
	return 0;
}

int
xfr_conf_zone_key(struct conf_ctx *cx, struct daemon_conf *c, size_t zi, const char *path,
                  const char *key, yaml_node_t *v)
{
	struct xfr_conf *x = conf_of(c);
	struct xfr_zone *z = x != NULL ? zone_slot(x, zi) : NULL;
	if (z == NULL)
		return conf_error(cx, v, path, "out of memory");
	if (strcmp(key, "provide-xfr") == 0) {
		if (z->provide != NULL)
			return conf_error(cx, v, path, "provide-xfr given twice");
		return parse_acl(cx, v, path, key, &z->provide, &z->nprovide);
	}
	if (strcmp(key, "catalog") == 0) {
		const char *val = scalar_of(v);
		if (val != NULL && strcmp(val, "consumer") == 0)
			z->catalog = true;
		else if (val != NULL && strcmp(val, "producer") == 0)
			z->producer = true;
		else
			return conf_error(cx, v, path, "catalog: 'consumer' (with primaries) or "
			                  "'producer' (no file: generated from the zones that name it "
			                  "in catalog-zone)");
		return 0;
	}
	if (strcmp(key, "catalog-zone") == 0)
		return conf_get_str(cx, v, path, &z->catalog_zone);
	if (strcmp(key, "allow-notify") == 0) {
		if (z->allow_notify != NULL)
			return conf_error(cx, v, path, "allow-notify given twice");
		return parse_acl(cx, v, path, key, &z->allow_notify, &z->nallow_notify);
	}
	if (strcmp(key, "primaries") == 0) {
		if (z->primaries != NULL)
			return conf_error(cx, v, path, "primaries given twice");
		int rc = parse_remotes(cx, v, path, key, &z->primaries, &z->nprimaries);
		if (rc == 0 && z->nprimaries == 0)
			rc = conf_error(cx, v, path, "primaries: at least one address");
		return rc;
	}
	if (z->notify != NULL)
		return conf_error(cx, v, path, "notify given twice");
	return parse_remotes(cx, v, path, key, &z->notify, &z->nnotify);
}

static int
key_index(const struct xfr_conf *x, const char *name)
{
	uint8_t wire[DNAME_MAXLEN];
	if (dname_from_str(name, wire) == 0)
		return -1;
	for (size_t i = 0; i < x->nkeys; i++) {
		if (dname_equal(x->keys[i].name, wire))
			return (int)i;
	}
	return -1;
}

static int
resolve_key(struct conf_ctx *cx, const struct xfr_conf *x, const char *zone, const char *name,
            int *out)
{
	if (name == NULL) {
		*out = -1;
		return 0;
	}
	*out = key_index(x, name);
	if (*out < 0)
		return conf_error(cx, NULL, NULL, "zone '%s': key '%s' is not in keys:", zone, name);
	return 0;
}

static int check_catalog_members(struct conf_ctx *cx, struct xfr_conf *x);

int
xfr_conf_finish(struct conf_ctx *cx, struct daemon_conf *c)
{
	struct xfr_conf *x = c->xfr;
	if (x == NULL)
		return 0;
	for (size_t i = 0; i < x->nzones; i++) {
		struct xfr_zone *z = &x->zones[i];
		if (!z->detached) {
			if (z->conf_index >= c->nzones)
				return conf_error(cx, NULL, NULL, "transfer settings for an unnamed zone");
			z->name = strdup(c->zones[z->conf_index].name);
			if (z->name == NULL)
				return conf_error(cx, NULL, NULL, "out of memory");
			dname_from_str(z->name, z->apex);
			dname_copy_lower(z->apex, z->apex);
			if (z->nprimaries > 0)
				return conf_error(cx, NULL, NULL, "zone '%s': a zone with primaries "
				                  "is a secondary and has no file", z->name);
			if (z->catalog || z->producer)
				return conf_error(cx, NULL, NULL, "zone '%s': a catalog zone (consumer "
				                  "or producer) has no file", z->name);
		}
		for (size_t j = 0; j < z->nprimaries; j++) {
			if (resolve_key(cx, x, z->name, z->primaries[j].key_name,
			                &z->primaries[j].key) != 0)
				return SP_ECONFIG;
		}
		for (size_t j = 0; j < z->nallow_notify; j++) {
			if (resolve_key(cx, x, z->name, z->allow_notify[j].key_name,
			                &z->allow_notify[j].key) != 0)
				return SP_ECONFIG;
		}
		if (i + 1 == x->nzones && check_catalog_members(cx, x) != 0)
			return SP_ECONFIG;
		for (size_t j = 0; j < z->nprovide; j++) {
			if (resolve_key(cx, x, z->name, z->provide[j].key_name, &z->provide[j].key) != 0)
				return SP_ECONFIG;
		}
		for (size_t j = 0; j < z->nnotify; j++) {
			if (resolve_key(cx, x, z->name, z->notify[j].key_name, &z->notify[j].key) != 0)
				return SP_ECONFIG;
		}
	}
	return 0;
}

static void
zone_free(struct xfr_zone *z)
{
	for (size_t j = 0; j < z->nprovide; j++)
		free(z->provide[j].key_name);
	for (size_t j = 0; j < z->nnotify; j++)
		free(z->notify[j].key_name);
	for (size_t j = 0; j < z->nprimaries; j++)
		free(z->primaries[j].key_name);
	for (size_t j = 0; j < z->nallow_notify; j++)
		free(z->allow_notify[j].key_name);
	free(z->provide);
	free(z->notify);
	free(z->primaries);
	free(z->allow_notify);
	free(z->catalog_zone);
	free(z->name);
}

void
xfr_conf_free(struct xfr_conf *x)
{
	if (x == NULL)
		return;
	for (size_t i = 0; i < x->nzones; i++)
		zone_free(&x->zones[i]);
	free(x->zones);
	free(x->keys);
	free(x);
}

/* catalog-zone: must name a producer of this configuration. */
static int
check_catalog_members(struct conf_ctx *cx, struct xfr_conf *x)
{
	for (size_t i = 0; i < x->nzones; i++) {
		struct xfr_zone *z = &x->zones[i];
		uint8_t cat[DNAME_MAXLEN];
		if (z->catalog_zone == NULL)
			continue;
		const struct xfr_zone *p = NULL;
		if (dname_from_str(z->catalog_zone, cat) != 0)
			p = xfr_conf_zone(x, cat);
		if (p == NULL || !p->producer)
			return conf_error(cx, NULL, NULL, "zone '%s': catalog-zone '%s' is not a zone "
			                  "with catalog: producer", z->name, z->catalog_zone);
		if (z->detached)
			return conf_error(cx, NULL, NULL, "zone '%s': only zones from a file can be "
			                  "catalog members here", z->name);
	}
	return 0;
}

/* ---- lookups (any thread, read-only) ------------------------------------------------------- */

const struct xfr_zone *
xfr_conf_zone(const struct xfr_conf *x, const uint8_t *apex)
{
	if (x == NULL)
		return NULL;
	for (size_t i = 0; i < x->nzones; i++) {
		if (dname_equal(x->zones[i].apex, apex))
			return &x->zones[i];
	}
	return NULL;
}

static bool
addr_match(const struct xfr_acl *r, const struct sockaddr *addr)
{
	if (r->any_addr)
		return true;
	const uint8_t *want, *have;
	struct in6_addr mapped;
	if (r->addr.ss_family == AF_INET) {
		want = (const uint8_t *)&((const struct sockaddr_in *)&r->addr)->sin_addr;
		if (addr->sa_family == AF_INET) {
			have = (const uint8_t *)&((const struct sockaddr_in *)addr)->sin_addr;
		} else if (addr->sa_family == AF_INET6 &&
		           IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)addr)->sin6_addr)) {
			mapped = ((const struct sockaddr_in6 *)addr)->sin6_addr;
			have = mapped.s6_addr + 12;
		} else {
			return false;
		}
	} else {
		if (addr->sa_family != AF_INET6)
			return false;
		want = (const uint8_t *)&((const struct sockaddr_in6 *)&r->addr)->sin6_addr;
		have = (const uint8_t *)&((const struct sockaddr_in6 *)addr)->sin6_addr;
	}
	return addr_in_prefix(want, r->prefix, have);
}

bool
xfr_acl_allows(const struct xfr_conf *x, const struct xfr_acl *acl, size_t n,
               const struct sockaddr *addr, const struct tsig_key *key)
{
	for (size_t i = 0; i < n; i++) {
		if (!addr_match(&acl[i], addr))
			continue;
		/* A rule with a key admits only requests signed with it; a rule without one
		 * admits the address whatever it signed with (the signature was checked). */
		if (acl[i].key < 0)
			return true;
		if (key != NULL && dname_equal(x->keys[acl[i].key].name, key->name) &&
		    x->keys[acl[i].key].alg == key->alg)
			return true;
	}
	return false;
}

/* ---- publication -------------------------------------------------------------------------- */

/* Every copy ever published, freed at exit: a worker may use one for the length of a
 * transfer, and reloads are rare enough that keeping them costs little. */
static _Atomic(struct xfr_conf *) published;
static struct xfr_conf **history;
static size_t nhistory;

static struct xfr_conf *
conf_copy(const struct xfr_conf *x)
{
	struct xfr_conf *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if (x == NULL) {
		c->fudge = TSIG_DEFAULT_FUDGE;
		return c;
	}
	*c = *x;
	c->keys = calloc(x->nkeys + 1, sizeof(*c->keys));
	c->zones = calloc(x->nzones + 1, sizeof(*c->zones));
	bool ok = c->keys != NULL && c->zones != NULL;
	if (ok && x->nkeys > 0)
		memcpy(c->keys, x->keys, x->nkeys * sizeof(*c->keys));
	for (size_t i = 0; ok && i < x->nzones; i++) {
		const struct xfr_zone *s = &x->zones[i];
		struct xfr_zone *d = &c->zones[i];
		*d = *s;
		d->name = NULL;
		d->catalog_zone = NULL;
		d->provide = NULL;
		d->notify = NULL;
		d->primaries = NULL;
		d->allow_notify = NULL;
		d->name = strdup(s->name ? s->name : "");
		d->provide = calloc(s->nprovide + 1, sizeof(*d->provide));
		d->notify = calloc(s->nnotify + 1, sizeof(*d->notify));
		d->primaries = calloc(s->nprimaries + 1, sizeof(*d->primaries));
		d->allow_notify = calloc(s->nallow_notify + 1, sizeof(*d->allow_notify));
		ok = d->name != NULL && d->provide != NULL && d->notify != NULL &&
		     d->primaries != NULL && d->allow_notify != NULL;
		if (ok) {
			if (s->nprovide > 0)
				memcpy(d->provide, s->provide, s->nprovide * sizeof(*d->provide));
			if (s->nnotify > 0)
				memcpy(d->notify, s->notify, s->nnotify * sizeof(*d->notify));
			for (size_t j = 0; j < s->nprovide; j++)
				d->provide[j].key_name = NULL;
			for (size_t j = 0; j < s->nnotify; j++)
				d->notify[j].key_name = NULL;
			if (s->nprimaries > 0)
				memcpy(d->primaries, s->primaries, s->nprimaries * sizeof(*d->primaries));
			if (s->nallow_notify > 0)
				memcpy(d->allow_notify, s->allow_notify,
				       s->nallow_notify * sizeof(*d->allow_notify));
			d->catalog_zone = s->catalog_zone ? strdup(s->catalog_zone) : NULL;
			for (size_t j = 0; j < s->nprimaries; j++)
				d->primaries[j].key_name = NULL;
			for (size_t j = 0; j < s->nallow_notify; j++)
				d->allow_notify[j].key_name = NULL;
		}
	}
	if (!ok) {
		xfr_conf_free(c);
		return NULL;
	}
	return c;
}

int
xfr_publish(const struct daemon_conf *c)
{
	struct xfr_conf **h = realloc(history, (nhistory + 1) * sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	history = h;
	struct xfr_conf *x = conf_copy(c->xfr);
	if (x == NULL)
		return -ENOMEM;
	history[nhistory++] = x;
	atomic_store(&published, x);
	return 0;
}

const struct xfr_conf *
xfr_published(void)
{
	return atomic_load(&published);
}

void
xfr_unpublish_all(void)
{
	atomic_store(&published, NULL);
	for (size_t i = 0; i < nhistory; i++)
		xfr_conf_free(history[i]);
	free(history);
	history = NULL;
	nhistory = 0;
	xfr_in_unpublish_all();
}
