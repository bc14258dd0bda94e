/* ops_conf.c - the `control:` and `metrics:` sections of the configuration
 * (docs/configuration.md): where the control socket lives and who may use it, and where
 * the HTTP metrics endpoint listens.
 *
 * Runs on the main thread inside daemon_conf_load() (the section table of config.c);
 * kept apart from control.c and metrics.c so that what links the configuration loader
 * (signpostctl, unit tests) does not pull in libmicrohttpd or the GSLB runtime. */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "lib/errors.h"
#include "server/config.h"

void
ops_conf_defaults(struct daemon_conf *c)
{
	c->control_mode = 0660;
	c->metrics_enabled = true;
	conf_parse_listen(CONF_DEFAULT_METRICS, 9153, &c->metrics_listen);
}

bool
ops_conf_control_path(const struct daemon_conf *c, char *out, size_t outlen)
{
	int n;
	if (c->control_socket != NULL)
		n = snprintf(out, outlen, "%s", c->control_socket);
	else
		n = snprintf(out, outlen, "%s/%s", c->state_dir != NULL ? c->state_dir : ".",
		             CONF_CONTROL_SOCKET_NAME);
	return n > 0 && (size_t)n < outlen;
}

/* The socket mode is written in octal ("0660" or 660); anything that would let other
 * users in (the "other" bits) is refused: the socket drains pools and reloads zones. */
static int
parse_mode(struct conf_ctx *cx, yaml_node_t *v, unsigned *out)
{
	if (v->type != YAML_SCALAR_NODE)
		return conf_error(cx, v, "control.mode", "expected an octal mode like 0660");
	const char *s = (const char *)v->data.scalar.value;
	char *end;
	unsigned long m = strtoul(s, &end, 8);
	if (s[0] == '\0' || *end != '\0' || m > 0777)
		return conf_error(cx, v, "control.mode", "not an octal mode: '%s' (e.g. 0660)", s);
	if ((m & 0007) != 0)
		return conf_error(cx, v, "control.mode",
		                  "%04lo gives every local user control of the server; use 0660 "
		                  "and control.group", m);
	if ((m & 0600) != 0600)
		return conf_error(cx, v, "control.mode",
		                  "%04lo: the owner needs read and write (0600 at least)", m);
	*out = (unsigned)m;
	return 0;
}

int
ops_conf_parse_control(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c)
{
	int rc = conf_check_mapping(cx, node, "control");
	for (yaml_node_pair_t *p = rc == 0 ? node->data.mapping.pairs.start : NULL;
	     rc == 0 && p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
		const char *key = (const char *)k->data.scalar.value;
		if (strcmp(key, "socket") == 0) {
			rc = conf_get_str(cx, v, "control.socket", &c->control_socket);
			/* sun_path is 108 octets on Linux; a longer path cannot be bound. */
			if (rc == 0 && strlen(c->control_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
				rc = conf_error(cx, v, "control.socket", "longer than %zu characters",
				                sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		} else if (strcmp(key, "mode") == 0) {
			rc = parse_mode(cx, v, &c->control_mode);
		} else if (strcmp(key, "group") == 0) {
			rc = conf_get_str(cx, v, "control.group", &c->control_group);
		} else {
			rc = conf_error(cx, k, NULL, "unknown key '%s' in 'control' (socket, mode, group)",
			                key);
		}
	}
	return rc;
}

int
ops_conf_parse_metrics(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c)
{
	int rc = conf_check_mapping(cx, node, "metrics");
	for (yaml_node_pair_t *p = rc == 0 ? node->data.mapping.pairs.start : NULL;
	     rc == 0 && p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(cx->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(cx->doc, p->value);
		const char *key = (const char *)k->data.scalar.value;
		if (strcmp(key, "listen") == 0)
			rc = conf_get_listen(cx, v, "metrics.listen", 9153, &c->metrics_listen);
		else if (strcmp(key, "enabled") == 0)
			rc = conf_get_bool(cx, v, "metrics.enabled", &c->metrics_enabled);
		else
			rc = conf_error(cx, k, NULL, "unknown key '%s' in 'metrics' (listen, enabled)",
			                key);
	}
	return rc;
}
