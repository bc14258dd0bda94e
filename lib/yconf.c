/* yconf.c - typed values from libyaml document nodes and "file:line: path: problem"
 * errors, shared by the configuration parsers of server/, gslb/ and resolver/ so a value
 * is read, bounded and reported the same way in every section. Runs on the thread that
 * loads the configuration. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "lib/yconf.h"

/* ---- errors and nodes ------------------------------------------------------------------- */

int
yconf_error(struct yconf *y, const yaml_node_t *node, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rc = yconf_verror(y, node, path, fmt, ap);
	va_end(ap);
	return rc;
}

int
yconf_verror(struct yconf *y, const yaml_node_t *node, const char *path, const char *fmt,
             va_list ap)
{
	char msg[512];
	char line[640];

	y->errors++;
	if (y->err != NULL && (y->errlen == 0 || y->err[0] != '\0'))
		return SP_ECONFIG;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	unsigned ln = node != NULL ? (unsigned)node->start_mark.line + 1 : 1;
	bool has_path = path != NULL && path[0] != '\0';
	snprintf(line, sizeof(line), "%s:%u: %s%s%s", y->file, ln, has_path ? path : "",
	         has_path ? ": " : "", msg);
	if (y->err != NULL)
		snprintf(y->err, y->errlen, "%s", line);
	else
		log_err("%s", line);
	return SP_ECONFIG;
}

const char *
yconf_node_kind(const yaml_node_t *n)
{
	if (n == NULL)
		return "nothing";
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "empty";
	}
}

yaml_node_t *
yconf_node(struct yconf *y, int i)
{
	return yaml_document_get_node(y->doc, i);
}

const char *
yconf_text(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

const char *
yconf_scalar(struct yconf *y, yaml_node_t *n, const char *path)
{
	const char *s = yconf_text(n);
	if (s == NULL)
		yconf_error(y, n, path, "expected a value, found %s", yconf_node_kind(n));
	return s;
}

bool
yconf_is_null(const yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return false;
	/* A quoted "null" is a string, only the plain spelling is the null value. */
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *s = (const char *)n->data.scalar.value;
	return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

int
yconf_check_mapping(struct yconf *y, yaml_node_t *n, const char *path)
{
	if (n == NULL || n->type != YAML_MAPPING_NODE)
		return yconf_error(y, n, path, "not a mapping (found %s)", yconf_node_kind(n));
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yconf_node(y, p->key);
		if (yconf_text(k) == NULL)
			return yconf_error(y, k, path, "keys must be plain names");
		/* libyaml keeps repeated keys; the second would silently win. Quadratic,
		 * but a mapping in a configuration has tens of keys, not thousands. */
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = yconf_node(y, q->key);
			const char *t2 = yconf_text(k2);
			if (t2 != NULL && strcmp(yconf_text(k), t2) == 0)
				return yconf_error(y, k, path, "duplicate key '%s' (first on line %u)",
				                   t2, (unsigned)k2->start_mark.line + 1);
		}
	}
	return 0;
}

size_t
yconf_seq_len(const yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* ---- values ---------------------------------------------------------------------------- */

int
yconf_get_str(struct yconf *y, yaml_node_t *n, const char *path, char **out)
{
	const char *s = yconf_scalar(y, n, path);
	if (s == NULL)
		return SP_ECONFIG;
	if (s[0] == '\0')
		return yconf_error(y, n, path, "must not be empty");
	char *copy = strdup(s);
	if (copy == NULL)
		return yconf_error(y, n, path, "out of memory");
	free(*out);
	*out = copy;
	return 0;
}

/* Leading digits of s into *v; *end after them. Returns 0, -1 (negative), -2 (no digits),
 * -3 (overflow). strtoull alone would take " 5", "+5" and "-5" (as 2^64-5). */
static int
leading_number(const char *s, unsigned long long *v, char **end)
{
	if (s[0] == '-')
		return -1;
	if (s[0] < '0' || s[0] > '9')
		return -2;
	errno = 0;
	*v = strtoull(s, end, 10);
	return errno == ERANGE ? -3 : 0;
}

int
yconf_get_uint(struct yconf *y, yaml_node_t *n, const char *path, uint64_t min, uint64_t max,
               uint64_t *out)
{
	const char *s = yconf_scalar(y, n, path);
	unsigned long long v;
	char *end;

	if (s == NULL)
		return SP_ECONFIG;
	int rc = leading_number(s, &v, &end);
	if (rc == -1)
		return yconf_error(y, n, path, "must not be negative");
	if (rc == -2 || (rc == 0 && *end != '\0'))
		return yconf_error(y, n, path, "not a number: '%s'", s);
	if (rc == -3 || v < min || v > max)
		return yconf_error(y, n, path, "must be %" PRIu64 "..%" PRIu64, min, max);
	*out = v;
	return 0;
}

int
yconf_get_u32(struct yconf *y, yaml_node_t *n, const char *path, uint32_t min, uint32_t max,
              uint32_t *out)
{
	uint64_t v;
	int rc = yconf_get_uint(y, n, path, min, max, &v);
	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

int
yconf_get_size(struct yconf *y, yaml_node_t *n, const char *path, uint64_t min, uint64_t max,
               uint64_t *out)
{
	const char *s = yconf_scalar(y, n, path);
	unsigned long long v;
	uint64_t mult;
	char *end;

	if (s == NULL)
		return SP_ECONFIG;
	int rc = leading_number(s, &v, &end);
	if (rc == -1)
		return yconf_error(y, n, path, "must not be negative");
	if (rc == 0 && *end == '\0')
		mult = 1;
	else if (rc == 0 && (strcmp(end, "k") == 0 || strcmp(end, "K") == 0))
		mult = 1024;
	else if (rc == 0 && (strcmp(end, "m") == 0 || strcmp(end, "M") == 0))
		mult = 1024 * 1024;
	else if (rc == 0 && (strcmp(end, "g") == 0 || strcmp(end, "G") == 0))
		mult = 1024ull * 1024 * 1024;
	else if (rc == -3)
		mult = 0;
	else
		return yconf_error(y, n, path, "not a size: '%s' (use 1048576, 512k, 64m, 1g)", s);
	if (mult == 0 || v > max / mult || v * mult < min)
		return yconf_error(y, n, path, "must be %" PRIu64 "..%" PRIu64, min, max);
	*out = v * mult;
	return 0;
}

int
yconf_get_bool(struct yconf *y, yaml_node_t *n, const char *path, bool *out)
{
	static const char *yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On" };
	static const char *no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off" };
	const char *s = yconf_scalar(y, n, path);

	if (s == NULL)
		return SP_ECONFIG;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return yconf_error(y, n, path, "expected true or false, found '%s'", s);
}

/* ms in the largest unit that divides it: "10ms", "2s", "24h". */
static void
format_ms(uint64_t ms, char *out, size_t outlen)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(out, outlen, "%" PRIu64 "h", ms / 3600000);
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(out, outlen, "%" PRIu64 "m", ms / 60000);
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(out, outlen, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(out, outlen, "%" PRIu64 "ms", ms);
}

int
yconf_get_duration_ms(struct yconf *y, yaml_node_t *n, const char *path, uint64_t min_ms,
                      uint64_t max_ms, uint64_t *out)
{
	const char *s = yconf_scalar(y, n, path);
	unsigned long long v;
	uint64_t mult;
	char *end, bound[32];

	if (s == NULL)
		return SP_ECONFIG;
	int rc = leading_number(s, &v, &end);
	if (rc == -1)
		return yconf_error(y, n, path, "must not be negative");
	if (rc == -2)
		return yconf_error(y, n, path, "not a duration: '%s' (use 10, 10s, 500ms, 2m)", s);
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mult = 3600 * 1000;
	else
		return yconf_error(y, n, path, "not a duration: '%s' (use 10, 10s, 500ms, 2m)", s);
	/* Divide rather than multiply: v * mult may not fit. */
	if (rc == -3 || v > max_ms / mult) {
		format_ms(max_ms, bound, sizeof(bound));
		return yconf_error(y, n, path, "duration too long: '%s' (at most %s)", s, bound);
	}
	if (v * mult < min_ms) {
		format_ms(min_ms, bound, sizeof(bound));
		return yconf_error(y, n, path, "duration too short: '%s' (at least %s)", s, bound);
	}
	*out = v * mult;
	return 0;
}

/* ---- text ------------------------------------------------------------------------------- */

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
yconf_parse_hex(const char *s, size_t ndigits, uint8_t *out)
{
	for (size_t i = 0; i + 1 < ndigits; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
