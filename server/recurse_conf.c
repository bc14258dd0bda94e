/* recurse_conf.c - the `resolver:` section of signpostd's configuration: hands the
 * section to resolver_conf_parse() (which reports file:line errors itself), and builds
 * the built-in default's section from server/default_conf.c's text. Main thread, while
 * the configuration loads. config.c reaches these through conf_resolver_hooks so that
 * programs linking the configuration loader without the resolver (signpostctl, unit
 * tests) need not link resolver/. */
#include <errno.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "resolver/resolver.h"
#include "server/recurse.h"

int
recurse_conf_parse(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c)
{
	struct resolver_conf *rc = NULL;
	int rc_ = resolver_conf_parse(cx->doc, node, cx->file, &rc);
	if (rc_ == -ENOMEM)
		return conf_error(cx, node, "resolver", "out of memory");
	if (rc_ != 0)
		return rc_;
	/* The hints file was read at parse time: a relative name was taken from the
	 * working directory (docs/resolver.md says to give it absolute). */
	resolver_conf_free(c->resolver);
	c->resolver = rc;
	return 0;
}

void
recurse_conf_free(struct daemon_conf *c)
{
	resolver_conf_free(c->resolver);
	c->resolver = NULL;
}

int
recurse_conf_builtin(struct daemon_conf *c)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc = SP_ECONFIG;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)daemon_default_resolver,
	                             strlen(daemon_default_resolver));
	if (!yaml_parser_load(&parser, &doc)) {
		log_err("built-in resolver configuration: %s", parser.problem ? parser.problem : "?");
		yaml_parser_delete(&parser);
		return SP_ECONFIG;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	struct resolver_conf *r = NULL;
	if (root != NULL)
		rc = resolver_conf_parse(&doc, root, "built-in configuration", &r);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc != 0)
		return rc;
	resolver_conf_free(c->resolver);
	c->resolver = r;
	return 0;
}

static const struct conf_resolver_hooks hooks = {
	.parse = recurse_conf_parse,
	.free = recurse_conf_free,
	.builtin = recurse_conf_builtin,
};

void
recurse_conf_register(void)
{
	conf_resolver_hooks = &hooks;
}
