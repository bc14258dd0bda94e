/* config.c - loads the YAML configuration (schema: docs/configuration.md) into struct
 * daemon_conf with libyaml's document API, and checks every value.
 *
 * Runs on the main thread, at start and on SIGHUP; a file that fails changes nothing
 * (the caller keeps the running configuration). Every error names the file, the line
 * of the offending node and the key path ("signpost.conf:12: server.listen[0]: not an
 * address"). Top-level sections are dispatched through the table `sections`, so a
 * module (gslb, resolver, ...) adds its section by adding one row whose parser gets the
 * section node while the document is still alive. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gslb/gslb.h"
#include "lib/addr.h"
#include "lib/dname.h"
#include "lib/errors.h"
#include "lib/log.h"
#include "lib/yconf.h"
#include "server/config.h"
#include "server/internal.h"
#include "server/xfr.h"

#define CONF_MAX_FILE (16u << 20)       /* a configuration larger than 16 MiB is a mistake */

static int parse_server(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c);
static int parse_log(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c);
static int parse_zones(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c);
static int parse_gslb(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c);
static int parse_resolver(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c);

const struct conf_resolver_hooks *conf_resolver_hooks;

/* The top-level sections. Later modules add a row here. */
static const struct conf_section sections[] = {
	{ "server", parse_server },
	{ "log", parse_log },
	{ "zones", parse_zones },
	{ "gslb", parse_gslb },
	{ "rrl", abuse_conf_parse_rrl },
	{ "cookies", abuse_conf_parse_cookies },
	{ "control", ops_conf_parse_control },
	{ "metrics", ops_conf_parse_metrics },
	{ "keys", xfr_conf_parse_keys },
	{ "transfers", xfr_conf_parse_transfers },
	{ "resolver", parse_resolver },
};

/* ---- errors and scalars ------------------------------------------------------------- */

/* The section parsers keep struct conf_ctx; the helpers are lib/yconf.c's, which keep
 * the first error in cx->err like this loader always did. */
static struct yconf
yc(struct conf_ctx *cx)
{
	return (struct yconf){ .doc = cx->doc, .file = cx->file, .err = cx->err,
	                       .errlen = cx->errlen };
}

int
conf_error(struct conf_ctx *cx, const yaml_node_t *node, const char *path, const char *fmt,
           ...)
{
	struct yconf y = yc(cx);
	va_list ap;

	if (cx->err == NULL)
		return SP_ECONFIG;
	va_start(ap, fmt);
	yconf_verror(&y, node, path, fmt, ap);
	va_end(ap);
	return SP_ECONFIG;
}

static const char *
node_type_name(const yaml_node_t *n)
{
	return yconf_node_kind(n);
}

/* The text of a scalar node, or NULL (with an error) for lists and mappings. */
static const char *
scalar(struct conf_ctx *cx, yaml_node_t *n, const char *path)
{
	struct yconf y = yc(cx);
	return yconf_scalar(&y, n, path);
}

static bool
is_null(const yaml_node_t *n)
{
	return yconf_is_null(n);
}

int
conf_get_str(struct conf_ctx *cx, yaml_node_t *n, const char *path, char **out)
{
	struct yconf y = yc(cx);
	return yconf_get_str(&y, n, path, out);
}

int
conf_get_uint(struct conf_ctx *cx, yaml_node_t *n, const char *path, uint64_t min, uint64_t max,
              uint64_t *out)
{
	struct yconf y = yc(cx);
	return yconf_get_uint(&y, n, path, min, max, out);
}

int
conf_get_bool(struct conf_ctx *cx, yaml_node_t *n, const char *path, bool *out)
{
	struct yconf y = yc(cx);
	return yconf_get_bool(&y, n, path, out);
}

int
conf_get_duration_ms(struct conf_ctx *cx, yaml_node_t *n, const char *path, uint64_t *out)
{
	struct yconf y = yc(cx);
	/* A week bounds every timeout we have. */
	return yconf_get_duration_ms(&y, n, path, 0, (uint64_t)7 * 86400 * 1000, out);
}

void
conf_format_addr(const struct sockaddr *addr, char *out, size_t outlen)
{
	addr_format(addr, out, outlen);
}

int
conf_parse_listen(const char *text, uint16_t defport, struct conf_listen *out)
{
	memset(out, 0, sizeof(*out));
	int rc = addr_parse(text, defport, &out->addr, &out->addrlen);
	if (rc == 0)
		addr_format((struct sockaddr *)&out->addr, out->text, sizeof(out->text));
	return rc;
}

int
conf_get_listen(struct conf_ctx *cx, yaml_node_t *n, const char *path, uint16_t defport,
                struct conf_listen *out)
{
	const char *s = scalar(cx, n, path);
	if (s == NULL)
		return SP_ECONFIG;
	switch (conf_parse_listen(s, defport, out)) {
	case 0:
		return 0;
	case -2:
		return conf_error(cx, n, path, "bad port in '%s' (1..65535 after '@')", s);
	default:
		return conf_error(cx, n, path, "not an address: '%s' (ADDR or ADDR@PORT)", s);
	}
}

/* ---- mappings ------------------------------------------------------------------------ */

int
conf_check_mapping(struct conf_ctx *cx, yaml_node_t *n, const char *path)
{
	struct yconf y = yc(cx);
	return yconf_check_mapping(&y, n, path);
}

static int
check_mapping(struct conf_ctx *cx, yaml_node_t *n, const char *path)
{
	return conf_check_mapping(cx, n, path);
}

static int
unknown_key(struct conf_ctx *cx, yaml_node_t *k, const char *section)
{
	return conf_error(cx, k, NULL, "unknown key '%s' in '%s'", (char *)k->data.scalar.value,
	                  section);
}

/* ---- server: ---------------------------------------------------------------------------- */

static int
parse_listen_list(struct conf_ctx *cx, yaml_node_t *v, struct daemon_conf *c)
{
	char path[64];
	if (v->type == YAML_SCALAR_NODE) {
		/* One address may be written without the list. */
		c->listen = calloc(1, sizeof(*c->listen));
		if (c->listen == NULL)
			return conf_error(cx, v, "server.listen", "out of memory");
		c->nlisten = 1;
		return conf_get_listen(cx, v, "server.listen", CONF_DEFAULT_PORT, &c->listen[0]);
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return conf_error(cx, v, "server.listen", "expected a list of addresses, found %s",
		                  node_type_name(v));
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0)
		return conf_error(cx, v, "server.listen", "needs at least one address");
	free(c->listen);
	c->nlisten = 0;
	c->listen = calloc(n, sizeof(*c->listen));
	if (c->listen == NULL)
		return conf_error(cx, v, "server.listen", "out of memory");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yaml_document_get_node(cx->doc, v->data.sequence.items.start[i]);
		snprintf(path, sizeof(path), "server.listen[%zu]", i);
		int rc = conf_get_listen(cx, item, path, CONF_DEFAULT_PORT, &c->listen[i]);
		if (rc != 0)
			return rc;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(c->listen[j].text, c->listen[i].text) == 0)
				return conf_error(cx, item, path, "'%s' is listed twice",
				                  c->listen[i].text);
		}
		c->nlisten++;
	}
	return 0;
}

/* NSID payload (RFC 5001 2.3): text as is, or "0x" followed by hex octets. */
static int
parse_nsid(struct conf_ctx *cx, yaml_node_t *v, struct daemon_conf *c)
{
	const char *s = scalar(cx, v, "server.nsid");
	if (s == NULL)
		return SP_ECONFIG;
	size_t len = strlen(s);
	if (len == 0)
		return conf_error(cx, v, "server.nsid", "must not be empty");
	bool hex = len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	size_t n = hex ? (len - 2) / 2 : len;
	if (hex && (len - 2) % 2 != 0)
		return conf_error(cx, v, "server.nsid", "odd number of hex digits");
	if (n > 512)
		return conf_error(cx, v, "server.nsid", "longer than 512 octets");
	uint8_t *buf = malloc(n);
	if (buf == NULL)
		return conf_error(cx, v, "server.nsid", "out of memory");
	if (!hex) {
		memcpy(buf, s, n);
	} else if (yconf_parse_hex(s + 2, 2 * n, buf) != 0) {
		free(buf);
		return conf_error(cx, v, "server.nsid", "not a hex string: '%s'", s);
	}
	free(c->nsid);
	c->nsid = buf;
	c->nsid_len = n;
	return 0;
}

/* An optional string: null clears it. */
static int
opt_str(struct conf_ctx *cx, yaml_node_t *v, const char *path, char **out)
{
	if (is_null(v)) {
		free(*out);
		*out = NULL;
		return 0;
	}
	return conf_get_str(cx, v, path, out);
}

static int
parse_server_key(struct conf_ctx *cx, const char *key, yaml_node_t *k, yaml_node_t *v,
                 struct daemon_conf *c)
{
	uint64_t u;
	int rc;

	if (strcmp(key, "listen") == 0)
		return parse_listen_list(cx, v, c);
	if (strcmp(key, "workers") == 0) {
		rc = conf_get_uint(cx, v, "server.workers", 0, CONF_MAX_WORKERS, &u);
		c->workers = (unsigned)u;
		return rc;
	}
	if (strcmp(key, "state-dir") == 0)
		return conf_get_str(cx, v, "server.state-dir", &c->state_dir);
	if (strcmp(key, "pid-file") == 0)
		return opt_str(cx, v, "server.pid-file", &c->pid_file);
	if (strcmp(key, "user") == 0)
		return opt_str(cx, v, "server.user", &c->user);
	if (strcmp(key, "edns-size") == 0) {
		rc = conf_get_uint(cx, v, "server.edns-size", 512, 4096, &u);
		c->edns_size = (uint16_t)u;
		return rc;
	}
	if (strcmp(key, "identity") == 0)
		return opt_str(cx, v, "server.identity", &c->identity);
	if (strcmp(key, "version") == 0)
		return opt_str(cx, v, "server.version", &c->version);
	if (strcmp(key, "nsid") == 0) {
		if (is_null(v)) {
			free(c->nsid);
			c->nsid = NULL;
			c->nsid_len = 0;
			return 0;
		}
		return parse_nsid(cx, v, c);
	}
	if (strcmp(key, "tcp-idle-timeout") == 0) {
		rc = conf_get_duration_ms(cx, v, "server.tcp-idle-timeout", &c->tcp_idle_timeout_ms);
		if (rc == 0 && c->tcp_idle_timeout_ms == 0)
			return conf_error(cx, v, "server.tcp-idle-timeout", "must be above 0");
		return rc;
	}
	if (strcmp(key, "tcp-max-connections") == 0) {
		rc = conf_get_uint(cx, v, "server.tcp-max-connections", 1, 1000000, &u);
		c->tcp_max_connections = (unsigned)u;
		return rc;
	}
	if (strcmp(key, "tcp-max-per-client") == 0) {
		rc = conf_get_uint(cx, v, "server.tcp-max-per-client", 1, 1000000, &u);
		c->tcp_max_per_client = (unsigned)u;
		return rc;
	}
	return unknown_key(cx, k, "server");
}

static int
parse_server(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c)
{
	int rc = check_mapping(cx, node, "server");
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
	     rc == 0 && p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
		rc = parse_server_key(cx, (const char *)k->data.scalar.value, k, v, c);
	}
	if (rc == 0 && c->tcp_max_per_client > c->tcp_max_connections)
		rc = conf_error(cx, node, "server.tcp-max-per-client",
		                "larger than server.tcp-max-connections (%u)", c->tcp_max_connections);
	return rc;
}

/* ---- log: ------------------------------------------------------------------------------- */

static int
parse_log(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c)
{
	int rc = check_mapping(cx, node, "log");
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
	     rc == 0 && p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
		const char *key = (const char *)k->data.scalar.value;
		if (strcmp(key, "level") == 0) {
			const char *s = scalar(cx, v, "log.level");
			if (s == NULL)
				return SP_ECONFIG;
			c->log_level = log_level_parse(s);
			if (c->log_level < 0)
				rc = conf_error(cx, v, "log.level",
				                "'%s' is not one of error, warning, notice, info, debug", s);
		} else if (strcmp(key, "syslog") == 0) {
			rc = conf_get_bool(cx, v, "log.syslog", &c->log_syslog);
		} else {
			rc = unknown_key(cx, k, "log");
		}
	}
	return rc;
}

/* ---- zones: ----------------------------------------------------------------------------- */

/* Relative zone files are relative to the configuration file's directory. */
static char *
resolve_path(const char *basedir, const char *file)
{
	if (file[0] == '/' || basedir == NULL || basedir[0] == '\0')
		return strdup(file);
	size_t n = strlen(basedir) + strlen(file) + 2;
	char *p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%s/%s", basedir, file);
	return p;
}

static bool
make_relative_to(const char *basedir, char **path)
{
	if (*path == NULL || (*path)[0] == '/')
		return true;
	char *p = resolve_path(basedir, *path);
	if (p == NULL)
		return false;
	free(*path);
	*path = p;
	return true;
}

static int
parse_zone(struct conf_ctx *cx, yaml_node_t *item, size_t i, struct daemon_conf *c)
{
	char path[64], kpath[80];
	yaml_node_t *name_node = NULL, *file_node = NULL;

	snprintf(path, sizeof(path), "zones[%zu]", i);
	int rc = check_mapping(cx, item, path);
	if (rc != 0)
		return rc;
	for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
		const char *key = (const char *)k->data.scalar.value;
		if (strcmp(key, "name") == 0)
			name_node = v;
		else if (strcmp(key, "file") == 0)
			file_node = v;
		else if (xfr_conf_is_zone_key(key)) {
			if ((rc = xfr_conf_zone_key(cx, c, c->nzones, path, key, v)) != 0)
				return rc;
		} else
			return conf_error(cx, k, NULL, "unknown key '%s' in '%s'", key, path);
	}
	if (name_node == NULL)
		return conf_error(cx, item, path, "zone without 'name'");
	snprintf(kpath, sizeof(kpath), "%s.name", path);
	const char *name = scalar(cx, name_node, kpath);
	if (name == NULL)
		return SP_ECONFIG;
	uint8_t wire[DNAME_MAXLEN];
	if (dname_from_str(name, wire) == 0)
		return conf_error(cx, name_node, kpath, "not a domain name: '%s'", name);
	if (file_node == NULL && xfr_conf_is_secondary(c, c->nzones))
		return xfr_conf_secondary(cx, c, c->nzones, name_node, wire);
	if (file_node == NULL)
		return conf_error(cx, item, path, "zone '%s' without 'file'", name);
	snprintf(kpath, sizeof(kpath), "%s.file", path);
	const char *file = scalar(cx, file_node, kpath);
	if (file == NULL)
		return SP_ECONFIG;
	if (file[0] == '\0')
		return conf_error(cx, file_node, kpath, "must not be empty");

	char text[DNAME_MAXLEN * 4 + 2];
	dname_to_str(wire, text, sizeof(text));
	for (size_t j = 0; j < c->nzones; j++) {
		if (strcasecmp(c->zones[j].name, text) == 0)
			return conf_error(cx, name_node, path, "duplicate zone '%s'", text);
	}
	struct conf_zone *z = &c->zones[c->nzones];
	z->name = strdup(text);
	z->file = resolve_path(cx->basedir, file);
	c->nzones++;
	if (z->name == NULL || z->file == NULL)
		return conf_error(cx, item, path, "out of memory");
	return 0;
}

static int
parse_zones(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c)
{
	if (is_null(node))
		return 0;
	if (node->type != YAML_SEQUENCE_NODE)
		return conf_error(cx, node, "zones", "expected a list of zones, found %s",
		                  node_type_name(node));
	size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
	c->zones = calloc(n + 1, sizeof(*c->zones));
	if (c->zones == NULL)
		return conf_error(cx, node, "zones", "out of memory");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yaml_document_get_node(cx->doc, node->data.sequence.items.start[i]);
		int rc = parse_zone(cx, item, i, c);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- gslb: ------------------------------------------------------------------------------ */

/* The GSLB module parses its own section and logs its errors as file:line itself. */
static int
parse_gslb(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c)
{
	struct gslb_conf *g = NULL;
	int rc = gslb_conf_parse(cx->doc, node, cx->file, &g);
	if (rc == -ENOMEM)
		return conf_error(cx, node, "gslb", "out of memory");
	if (rc != 0)
		return rc;
	gslb_conf_free(c->gslb);
	c->gslb = g;
	c->gslb_enabled = true;
	return 0;
}

/* ---- resolver: ---------------------------------------------------------------------------- */

static int
parse_resolver(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c)
{
	if (conf_resolver_hooks == NULL)
		return 0;
	return conf_resolver_hooks->parse(cx, node, c);
}

struct gslb_zone_check {
	struct conf_ctx *cx;
	const struct daemon_conf *c;
};

/* A dynamic name must lie inside a zone we serve: its SOA, NS and negative answers come
 * from that zone (docs/gslb.md). Whether it sits below a cut is known only once the
 * zone is compiled (main.c checks that). A secondary zone of this file counts: the
 * answer path treats it like any zone (cuts, DNAMEs and expiry are looked at per
 * query); catalog zones and their members (provisioned at run time) do not. */
static int
gslb_name_in_zone(void *arg, const uint8_t *wire, const char *text, int line)
{
	struct gslb_zone_check *zc = arg;
	uint8_t apex[DNAME_MAXLEN];

	for (size_t i = 0; i < zc->c->nzones; i++) {
		if (dname_from_str(zc->c->zones[i].name, apex) != 0 &&
		    dname_is_subdomain(wire, apex))
			return 0;
	}
	for (size_t i = 0; zc->c->xfr != NULL && i < zc->c->xfr->nzones; i++) {
		const struct xfr_zone *z = &zc->c->xfr->zones[i];
		if (z->secondary && !z->catalog && dname_is_subdomain(wire, z->apex))
			return 0;
	}
	struct conf_ctx *cx = zc->cx;
	if (cx->err != NULL && cx->errlen > 0 && cx->err[0] == '\0')
		snprintf(cx->err, cx->errlen, "%s:%d: gslb.names: '%s' is not inside a zone "
		         "served by this configuration (zones:)", cx->file, line, text);
	return SP_ECONFIG;
}

/* ---- the document ------------------------------------------------------------------------ */

static struct daemon_conf *
conf_new_defaults(void)
{
	struct daemon_conf *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->edns_size = ANSWER_DEFAULT_EDNS_SIZE;
	c->tcp_idle_timeout_ms = 10 * 1000;
	c->tcp_max_connections = 1000;
	c->tcp_max_per_client = 32;
	c->log_level = LOG_LVL_INFO;
	ops_conf_defaults(c);
	return c;
}

/* Fills what the file left out. */
static int
conf_finish(struct conf_ctx *cx, struct daemon_conf *c)
{
	if (c->nlisten == 0) {
		/* Loopback only: a server exposed to the network is a decision to write down. */
		c->listen = calloc(2, sizeof(*c->listen));
		if (c->listen == NULL)
			return conf_error(cx, NULL, NULL, "out of memory");
		conf_parse_listen("127.0.0.1", CONF_DEFAULT_PORT, &c->listen[0]);
		conf_parse_listen("::1", CONF_DEFAULT_PORT, &c->listen[1]);
		c->nlisten = 2;
	}
	if (c->gslb != NULL) {
		struct gslb_zone_check zc = { .cx = cx, .c = c };
		int rc = gslb_conf_foreach_name(c->gslb, gslb_name_in_zone, &zc);
		if (rc != 0)
			return rc;
	}
	if (xfr_conf_finish(cx, c) != 0)
		return SP_ECONFIG;
	if (c->state_dir == NULL && (c->state_dir = strdup(SP_STATEDIR)) == NULL)
		return conf_error(cx, NULL, NULL, "out of memory");
	/* Paths in the file are relative to the file, like the zone files, so the daemon
	 * can chdir("/") and a reload finds the same files. */
	if (!make_relative_to(cx->basedir, &c->state_dir) ||
	    !make_relative_to(cx->basedir, &c->pid_file) ||
	    !make_relative_to(cx->basedir, &c->control_socket))
		return conf_error(cx, NULL, NULL, "out of memory");
	return 0;
}

static int
parse_document(struct conf_ctx *cx, struct daemon_conf *c)
{
	yaml_node_t *root = yaml_document_get_root_node(cx->doc);
	if (root == NULL || is_null(root))
		return 0;  /* an empty file: every default */
	int rc = check_mapping(cx, root, "");
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     rc == 0 && p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
		const char *key = (const char *)k->data.scalar.value;
		const struct conf_section *s = NULL;
		for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
			if (strcmp(sections[i].name, key) == 0)
				s = &sections[i];
		}
		if (s == NULL)
			rc = conf_error(cx, k, NULL, "unknown key '%s' at the top level", key);
		else
			rc = s->parse(cx, v, c);
		/* A module that logs its own errors leaves err empty: still say where. */
		if (rc != 0 && s != NULL)
			conf_error(cx, v, s->name, "invalid (see the messages above)");
	}
	return rc;
}

int
daemon_conf_parse(const char *name, const char *basedir, const char *text, size_t len,
                  struct daemon_conf **out, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct conf_ctx cx = { .doc = &doc, .file = name, .basedir = basedir, .err = err,
	                       .errlen = errlen };
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	*out = NULL;
	struct daemon_conf *c = conf_new_defaults();
	if (c == NULL || !yaml_parser_initialize(&parser)) {
		free(c);
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		unsigned line = (unsigned)parser.problem_mark.line + 1;
		snprintf(err, errlen, "%s:%u: YAML syntax: %s%s%s", name, line,
		         parser.problem != NULL ? parser.problem : "error",
		         parser.context != NULL ? " " : "",
		         parser.context != NULL ? parser.context : "");
		yaml_parser_delete(&parser);
		daemon_conf_free(c);
		return SP_ECONFIG;
	}
	rc = parse_document(&cx, c);
	if (rc == 0)
		rc = conf_finish(&cx, c);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc != 0) {
		daemon_conf_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int
daemon_conf_load(const char *path, struct daemon_conf **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL, *base = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (f == NULL) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	text = malloc(CONF_MAX_FILE + 1);
	if (text == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	len = fread(text, 1, CONF_MAX_FILE + 1, f);
	if (ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	if (len > CONF_MAX_FILE) {
		rc = SP_ECONFIG;
		snprintf(err, errlen, "%s: larger than %u octets", path, CONF_MAX_FILE);
		goto out;
	}
	base = dir_of(path);
	rc = daemon_conf_parse(path, base, text, len, out, err, errlen);
	if (rc == 0 && ((*out)->path = strdup(path)) == NULL) {
		rc = -ENOMEM;
		daemon_conf_free(*out);
		*out = NULL;
	}
out:
	free(base);
	free(text);
	fclose(f);
	return rc;
}

void
daemon_conf_free(struct daemon_conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nzones; i++) {
		free(c->zones[i].name);
		free(c->zones[i].file);
	}
	free(c->zones);
	gslb_conf_free(c->gslb);
	xfr_conf_free(c->xfr);
	if (c->resolver != NULL && conf_resolver_hooks != NULL)
		conf_resolver_hooks->free(c);
	free(c->listen);
	free(c->path);
	free(c->state_dir);
	free(c->pid_file);
	free(c->user);
	free(c->identity);
	free(c->version);
	free(c->nsid);
	free(c->control_socket);
	free(c->control_group);
	free(c);
}

static bool
str_differ(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

bool
daemon_conf_needs_restart(const struct daemon_conf *a, const struct daemon_conf *b)
{
	if (a->nlisten != b->nlisten || a->workers != b->workers)
		return true;
	for (size_t i = 0; i < a->nlisten; i++) {
		if (strcmp(a->listen[i].text, b->listen[i].text) != 0)
			return true;
	}
	return str_differ(a->state_dir, b->state_dir) || str_differ(a->user, b->user) ||
	       str_differ(a->pid_file, b->pid_file) ||
	       str_differ(a->control_socket, b->control_socket) ||
	       str_differ(a->control_group, b->control_group) ||
	       a->control_mode != b->control_mode || a->metrics_enabled != b->metrics_enabled ||
	       strcmp(a->metrics_listen.text, b->metrics_listen.text) != 0;
}

/* ---- the built-in default ---------------------------------------------------------------- */

char *
daemon_conf_default_state_dir(void)
{
	const char *s = getenv("SIGNPOST_STATE_DIR");
	char buf[PATH_MAX];

	if (s != NULL && s[0] != '\0')
		return strdup(s);
	s = getenv("XDG_STATE_HOME");
	if (s != NULL && s[0] != '\0') {
		snprintf(buf, sizeof(buf), "%s/signpost", s);
		return strdup(buf);
	}
	s = getenv("HOME");
	snprintf(buf, sizeof(buf), "%s/.local/state/signpost", s != NULL && s[0] != '\0' ? s : ".");
	return strdup(buf);
}

struct daemon_conf *
daemon_conf_default(const char *state_dir)
{
	struct daemon_conf *c = conf_new_defaults();
	if (c == NULL)
		return NULL;
	c->listen = calloc(2, sizeof(*c->listen));
	c->zones = calloc(1, sizeof(*c->zones));
	c->state_dir = strdup(state_dir);
	if (c->listen == NULL || c->zones == NULL || c->state_dir == NULL)
		goto fail;
	conf_parse_listen("127.0.0.1", CONF_DEFAULT_DEV_PORT, &c->listen[0]);
	conf_parse_listen("::1", CONF_DEFAULT_DEV_PORT, &c->listen[1]);
	c->nlisten = 2;
	size_t n = strlen(state_dir) + strlen(daemon_example_zone_name) + 8;
	c->zones[0].name = strdup(daemon_example_zone_name);
	c->zones[0].file = malloc(n);
	c->nzones = 1;
	if (c->zones[0].name == NULL || c->zones[0].file == NULL)
		goto fail;
	/* "example.test." -> "<dir>/example.test.zone" */
	snprintf(c->zones[0].file, n, "%s/%.*szone", state_dir,
	         (int)strlen(daemon_example_zone_name), daemon_example_zone_name);
	if (gslb_conf_load("built-in configuration", daemon_example_gslb, &c->gslb) != 0)
		goto fail;
	c->gslb_enabled = true;
	if (conf_resolver_hooks != NULL && conf_resolver_hooks->builtin(c) != 0)
		goto fail;
	return c;
fail:
	daemon_conf_free(c);
	return NULL;
}
