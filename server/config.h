/* config.h - the daemon's configuration: the YAML file (docs/configuration.md) parsed
 * with libyaml into struct daemon_conf, and the built-in default used without -c.
 *
 * Loading runs on the main thread (at start and on SIGHUP); the result is immutable
 * once returned. Sections other than server/log/zones (gslb, resolver, control,
 * metrics) plug in through struct conf_section: the loader keeps the yaml_document
 * alive while it calls the section's parser with the section's node and the file name,
 * so the module reports errors as "file:line: section.key: message" itself. */
#ifndef SP_SERVER_CONFIG_H
#define SP_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <yaml.h>

#include "server/abuse.h"

#define CONF_DEFAULT_PORT 53
#define CONF_DEFAULT_DEV_PORT 5300          /* the built-in default configuration's port */
#define CONF_MAX_WORKERS 256
#define CONF_ERRLEN 512

struct conf_listen {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char text[80];          /* as written, normalised: "ADDR@PORT" */
};

struct conf_zone {
	char *name;             /* presentation form, absolute (trailing dot) */
	char *file;             /* absolute, or relative to the working directory */
};

struct daemon_conf {
	char *path;             /* the file it came from; NULL for the built-in default */

	struct conf_listen *listen;
	size_t nlisten;
	unsigned workers;       /* 0: one per CPU */
	char *state_dir;
	char *pid_file;         /* NULL: none */
	char *user;             /* NULL: keep the user we started as */

	/* What the answer path reads (copied into a struct answer_conf on publish). */
	uint16_t edns_size;
	char *identity;
	char *version;
	uint8_t *nsid;
	size_t nsid_len;

	uint64_t tcp_idle_timeout_ms;
	unsigned tcp_max_connections;
	unsigned tcp_max_per_client;

	int log_level;          /* enum log_level */
	bool log_syslog;

	struct conf_zone *zones;
	size_t nzones;

	/* gslb: (gslb/gslb.h), parsed by gslb_conf_parse(); every dynamic name lies in
	 * one of the zones above. main.c hands it to the GSLB runtime (which takes it, so
	 * the pointer is NULL afterwards); gslb_enabled stays true while a gslb: section
	 * is in force. */
	struct gslb_conf *gslb;
	bool gslb_enabled;

	/* keys:, transfers: and the zones' provide-xfr/notify (server/xfr_conf.c); NULL
	 * when the file has none of them. */
	struct xfr_conf *xfr;

	/* rrl: and cookies: (server/abuse_conf.c; published with the answer conf). */
	struct abuse_conf abuse;

	/* control: and metrics: (server/ops_conf.c; used by control.c and metrics.c). */
	char *control_socket;       /* NULL: <state-dir>/control.sock */
	unsigned control_mode;      /* permission bits of the socket file (default 0660) */
	char *control_group;        /* NULL: the daemon's own group */
	bool metrics_enabled;       /* default true */
	struct conf_listen metrics_listen;  /* default 127.0.0.1@9153 */

	/* resolver: (resolver/resolver.h, parsed by server/recurse_conf.c); NULL when
	 * absent. main.c hands it to the resolver (server/recurse.c), which takes it. */
	struct resolver_conf *resolver;
};

#define CONF_DEFAULT_METRICS "127.0.0.1@9153"
#define CONF_CONTROL_SOCKET_NAME "control.sock"


/* ---- loading ------------------------------------------------------------------------ */

/* Reads and validates the YAML file path. Returns 0 and sets *out (the caller owns it:
 * daemon_conf_free()), SP_ECONFIG with the first problem in err as
 * "path:line: key: message", or -errno if the file cannot be read (also in err). */
int daemon_conf_load(const char *path, struct daemon_conf **out, char *err, size_t errlen);
/* Same, from text in memory; name is used in messages and relative zone files are
 * taken relative to basedir (NULL: the working directory). */
int daemon_conf_parse(const char *name, const char *basedir, const char *text, size_t len,
                      struct daemon_conf **out, char *err, size_t errlen);
void daemon_conf_free(struct daemon_conf *c);

/* The built-in default (no -c): 127.0.0.1@5300 and ::1@5300, one worker per CPU,
 * state_dir as given, and the example zone example.test. read from
 * <state_dir>/example.test.zone. Returns NULL when out of memory. */
struct daemon_conf *daemon_conf_default(const char *state_dir);
/* ${SIGNPOST_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/signpost}, malloc'd. */
char *daemon_conf_default_state_dir(void);
/* Text of the embedded example zone (server/default_conf.c). */
extern const char daemon_example_zone[];
extern const char daemon_example_zone_name[];
/* The built-in gslb: section (a YAML document): a pool behind app.example.test. */
extern const char daemon_example_gslb[];
/* The built-in resolver: section (a YAML mapping): the IANA root hints and trust anchor. */
extern const char daemon_default_resolver[];
/* Writes the dig commands that try the example zone on port to f. */
void daemon_conf_print_try(FILE *f, const struct daemon_conf *c);

/* True when a and b differ in what only a restart can change (sockets, threads, user,
 * state directory, pid file). */
bool daemon_conf_needs_restart(const struct daemon_conf *a, const struct daemon_conf *b);

/* ---- helpers for section parsers ------------------------------------------------------ */

/* What a section parser gets: the document (alive for the call), the file name and a
 * place for the first error. Parsers write errors with conf_error() and return
 * SP_ECONFIG; they keep no pointer into the document. */
struct conf_ctx {
	yaml_document_t *doc;
	const char *file;
	const char *basedir;
	char *err;
	size_t errlen;
};

/* A section below the top level. parse() fills its part of conf (or a module's own
 * struct reached from it); node is the section's value. */
struct conf_section {
	const char *name;
	int (*parse)(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *conf);
};

/* Records "file:line: path: message" (the first error wins) and returns SP_ECONFIG. */
int conf_error(struct conf_ctx *cx, const yaml_node_t *node, const char *path,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Value parsers: each checks the node's type and range and reports with path. */
int conf_get_str(struct conf_ctx *cx, yaml_node_t *n, const char *path, char **out);
int conf_get_uint(struct conf_ctx *cx, yaml_node_t *n, const char *path, uint64_t min,
                  uint64_t max, uint64_t *out);
int conf_get_bool(struct conf_ctx *cx, yaml_node_t *n, const char *path, bool *out);
/* A mapping whose keys are plain names, none repeated ("not a mapping (found a list)",
 * "duplicate key 'k' (first on line 3)"). */
int conf_check_mapping(struct conf_ctx *cx, yaml_node_t *n, const char *path);
/* Integer seconds, or "10s", "500ms", "2m", "1h". */
int conf_get_duration_ms(struct conf_ctx *cx, yaml_node_t *n, const char *path,
                         uint64_t *out);
/* "ADDR" (port defport) or "ADDR@PORT", v4 or v6. */
int conf_get_listen(struct conf_ctx *cx, yaml_node_t *n, const char *path, uint16_t defport,
                    struct conf_listen *out);

/* Parses "ADDR" or "ADDR@PORT" text. Returns 0, -1 (bad address) or -2 (bad port). */
int conf_parse_listen(const char *text, uint16_t defport, struct conf_listen *out);
/* Formats addr as "ADDR@PORT" into out. */
void conf_format_addr(const struct sockaddr *addr, char *out, size_t outlen);

/* ---- resolver: (server/recurse_conf.c) ---------------------------------------------- */

/* Only signpostd links the resolver: it plugs the section in (recurse_conf_register())
 * before loading. Without hooks (tools, unit tests) a resolver: section is accepted
 * unchecked and the built-in default has none. */
struct conf_resolver_hooks {
	int (*parse)(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c);
	void (*free)(struct daemon_conf *c);
	int (*builtin)(struct daemon_conf *c);
};
extern const struct conf_resolver_hooks *conf_resolver_hooks;

/* ---- control: and metrics: (server/ops_conf.c) ------------------------------------- */

/* Section parsers of control: and metrics:, and their defaults (conf_new_defaults()). */
int ops_conf_parse_control(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c);
int ops_conf_parse_metrics(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c);
void ops_conf_defaults(struct daemon_conf *c);
/* The control socket path c uses (control.socket or <state-dir>/control.sock) into out;
 * returns false when it does not fit. */
bool ops_conf_control_path(const struct daemon_conf *c, char *out, size_t outlen);

#endif
