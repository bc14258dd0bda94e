/* yconf.h - helpers for the YAML configuration parsers (server/config.c and its section
 * files, gslb/conf.c, resolver/conf.c): typed values read from libyaml document nodes
 * and errors as "file:line: key.path: problem" (address text: lib/addr.h).
 *
 * One struct yconf per parse, on the thread that loads the configuration (start-up or
 * reload); nothing here is for the answer path. Two ways to report, chosen by err:
 * keep the first error in a buffer (the daemon's loader, which shows one), or log every
 * error with log_err() (the gslb and resolver sections, which show them all). Either
 * way errors counts them and every failing call returns SP_ECONFIG. */
#ifndef SP_YCONF_H
#define SP_YCONF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

struct yconf {
	yaml_document_t *doc;   /* borrowed: alive for the parse */
	const char *file;       /* the name in messages */
	char *err;              /* NULL: log every error; else the first error is kept here */
	size_t errlen;
	unsigned errors;        /* how many were reported */
};

/* Reports "file:line: path: message" (line of node; 1 without a node; no "path: " when
 * path is NULL or empty) and returns SP_ECONFIG. With an err buffer only the first error
 * is kept: it is the one worth reading, later ones often follow from it. */
int yconf_error(struct yconf *y, const yaml_node_t *node, const char *path, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
int yconf_verror(struct yconf *y, const yaml_node_t *node, const char *path, const char *fmt,
                 va_list ap) __attribute__((format(printf, 4, 0)));

/* "a scalar", "a list", "a mapping" or "nothing" (n NULL), for messages. */
const char *yconf_node_kind(const yaml_node_t *n);
/* The node for index i of y's document, or NULL. */
yaml_node_t *yconf_node(struct yconf *y, int i);
/* The text of a scalar node; NULL for anything else (no error). */
const char *yconf_text(const yaml_node_t *n);
/* The text of a scalar node; for anything else reports "expected a value, found a list"
 * and returns NULL. Valid while the document is. */
const char *yconf_scalar(struct yconf *y, yaml_node_t *n, const char *path);
/* A plain ~, null, Null, NULL or empty value: YAML's null (YAML 1.2 core schema). */
bool yconf_is_null(const yaml_node_t *n);
/* Checks n is a mapping whose keys are scalars, none repeated. Errors: "not a mapping
 * (found a list)", "keys must be plain names", "duplicate key 'k' (first on line 3)". */
int yconf_check_mapping(struct yconf *y, yaml_node_t *n, const char *path);
/* Number of items of a sequence node (0 for anything else). */
size_t yconf_seq_len(const yaml_node_t *n);

/* A non-empty string, malloc'd into *out (the old *out is freed on success). */
int yconf_get_str(struct yconf *y, yaml_node_t *n, const char *path, char **out);
/* A decimal integer in min..max. Errors: "must not be negative", "not a number: 'x'",
 * "must be MIN..MAX". */
int yconf_get_uint(struct yconf *y, yaml_node_t *n, const char *path, uint64_t min,
                   uint64_t max, uint64_t *out);
int yconf_get_u32(struct yconf *y, yaml_node_t *n, const char *path, uint32_t min,
                  uint32_t max, uint32_t *out);
/* A size in octets: a number with an optional k, m or g (KiB, MiB, GiB), in min..max. */
int yconf_get_size(struct yconf *y, yaml_node_t *n, const char *path, uint64_t min,
                   uint64_t max, uint64_t *out);
/* true/false, yes/no, on/off (YAML 1.1 spellings, as people write them). */
int yconf_get_bool(struct yconf *y, yaml_node_t *n, const char *path, bool *out);
/* A duration in min_ms..max_ms: integer seconds, or a number with ms, s, m or h ("500ms",
 * "10s", "2m", "1h"). Errors: "must not be negative", "not a duration: 'x' (use ...)",
 * "duration too short: 'x' (at least ...)", "duration too long: 'x' (at most ...)". */
int yconf_get_duration_ms(struct yconf *y, yaml_node_t *n, const char *path, uint64_t min_ms,
                          uint64_t max_ms, uint64_t *out);

/* Decodes ndigits hex digits of s (either case; ndigits even) into ndigits / 2 octets of
 * out. Returns 0, or -1 at a character that is not a hex digit. */
int yconf_parse_hex(const char *s, size_t ndigits, uint8_t *out);

#endif
