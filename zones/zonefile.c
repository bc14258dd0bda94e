/* zonefile.c - reads RFC 1035 master files into compact records for the compiler.
 *
 * This file splits the text into entries itself (comments, quotes, parentheses, line
 * numbers, $ORIGIN/$TTL/$INCLUDE) and hands each record entry to ldns for the RDATA,
 * then keeps only the canonical owner key and the wire RDATA in one arena: a million
 * ldns_rr objects would cost far more memory than the zone. Runs in the thread that
 * compiles (the signpost-zone tool or the daemon's reload thread), never the answer path. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <strings.h>

#include <ldns/ldns.h>

#include "lib/errors.h"
#include "zones/internal.h"

#define MAX_INCLUDE_DEPTH 8
#define MAX_ENTRY (256 * 1024)
/* Stop reading after this many errors: a wrong $ORIGIN would otherwise print one line
 * per record of a million-record file. */
#define MAX_ERRORS 1000

/* Where the parser is in one file; $INCLUDE nests these. */
struct pstate {
	struct zonefile *zf;
	uint16_t file;                /* index into zf->files */
	const char *dir;              /* directory of this file, for relative $INCLUDE */
	ldns_rdf *origin;
	ldns_rdf *prev;               /* previous owner, for entries starting with a blank */
	uint32_t default_ttl;
	unsigned depth;
	char **stack;                 /* real paths of the files being read: loop guard */
	ldns_buffer *buf;
};

void
zones__report(struct zones_report *rep, enum zones_severity sev, const char *file,
              unsigned line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sev == ZONES_ERROR)
		rep->errors++;
	else
		rep->warnings++;
	if (rep->fn != NULL) {
		rep->fn(rep->ctx, sev, file, line, msg);
		return;
	}
	const char *what = sev == ZONES_ERROR ? "error" : "warning";
	if (line > 0)
		fprintf(stderr, "%s:%u: %s: %s\n", file, line, what, msg);
	else
		fprintf(stderr, "%s: %s: %s\n", file, what, msg);
}

/* ---- the arena of records ----------------------------------------------------------- */

static struct zrec *
rec_alloc(struct zonefile *zf, size_t keylen, size_t rdlen)
{
	size_t need = sizeof(struct zrec) + keylen + rdlen;
	need = (need + 3) & ~(size_t)3;          /* keep struct zrec aligned */
	if (zf->used + need > zf->cap) {
		size_t cap = zf->cap ? zf->cap * 2 : 1 << 20;
		while (cap < zf->used + need)
			cap *= 2;
		uint8_t *a = realloc(zf->arena, cap);
		if (a == NULL)
			return NULL;
		zf->arena = a;
		zf->cap = cap;
	}
	if (zf->nrecs == zf->recs_cap) {
		size_t cap = zf->recs_cap ? zf->recs_cap * 2 : 4096;
		struct zrec **r = realloc(zf->recs, cap * sizeof(*r));
		if (r == NULL)
			return NULL;
		zf->recs = r;
		zf->recs_cap = cap;
	}
	/* Records are kept as offsets until the arena stops moving (zonefile_finish()). */
	struct zrec *rec = (struct zrec *)(zf->arena + zf->used);
	zf->recs[zf->nrecs++] = (struct zrec *)(uintptr_t)zf->used;
	zf->used += need;
	return rec;
}

static void
zonefile_finish(struct zonefile *zf)
{
	for (size_t i = 0; i < zf->nrecs; i++)
		zf->recs[i] = (struct zrec *)(zf->arena + (uintptr_t)zf->recs[i]);
}

/* ---- entries: one record or directive, parentheses joined, comments gone ------------- */

struct reader {
	const char *p, *end;
	unsigned line;                /* line of the next character */
};

/* Copies the next entry into out (NUL-terminated). Returns 1 with *start the line it
 * began on, 0 at the end, -1 for a syntax error (message in *why). */
static int
next_entry(struct reader *r, char *out, size_t cap, unsigned *start, const char **why)
{
	for (;;) {
		size_t o = 0;
		int depth = 0;
		bool quoted = false, blank = true;
		*start = r->line;
		while (r->p < r->end) {
			char c = *r->p++;
			if (o + 3 >= cap) {
				*why = "entry too long";
				return -1;
			}
			if (c == '\n') {
				r->line++;
				if (quoted) {
					*why = "unterminated quoted string";
					return -1;
				}
				if (depth == 0)
					break;
				out[o++] = ' ';
				continue;
			}
			if (c == '\\' && r->p < r->end && *r->p != '\n') {
				out[o++] = c;
				out[o++] = *r->p++;
				blank = false;
				continue;
			}
			if (quoted) {
				if (c == '"')
					quoted = false;
				out[o++] = c;
				continue;
			}
			if (c == ';') {
				while (r->p < r->end && *r->p != '\n')
					r->p++;
				continue;
			}
			if (c == '"') {
				quoted = true;
			} else if (c == '(' || c == ')') {
				depth += c == '(' ? 1 : -1;
				if (depth < 0) {
					*why = "')' without '('";
					return -1;
				}
				c = ' ';
			} else if (c == '\r' || c == '\t') {
				c = c == '\r' ? ' ' : c;
			}
			if (c != ' ' && c != '\t')
				blank = false;
			out[o++] = c;
		}
		if (depth > 0 || quoted) {
			*why = depth > 0 ? "'(' without ')'" : "unterminated quoted string";
			return -1;
		}
		out[o] = 0;
		if (!blank)
			return 1;
		if (r->p >= r->end)
			return 0;
	}
}

/* ---- records ------------------------------------------------------------------------ */

static const char *
file_name(const struct pstate *ps)
{
	return ps->zf->files[ps->file];
}

/* One record on its way into the arena. */
struct rrin {
	const uint8_t *owner;         /* wire */
	uint16_t type;
	uint16_t rrclass;
	uint32_t ttl;
	const uint8_t *rd;
	size_t rdlen;
};

static void
add_record(struct pstate *ps, const struct rrin *in, unsigned line)
{
	struct zonefile *zf = ps->zf;
	const char *fn = file_name(ps);
	char buf[1024], apex[1024];

	if (in->rrclass != LDNS_RR_CLASS_IN) {
		zones__report(zf->rep, ZONES_ERROR, fn, line, "class %u is not supported (only IN)",
		              in->rrclass);
		return;
	}
	/* ldns 1.8.3 appends the origin to a relative name without checking the result
	 * against RFC 1035 2.3.4; the lib/dname functions below need names that fit. */
	if (dname_len(in->owner) > DNAME_MAXLEN) {
		zones__report(zf->rep, ZONES_ERROR, fn, line,
		              "owner name longer than 255 octets with the origin appended");
		return;
	}
	if (!dname_is_subdomain(in->owner, zf->apex)) {
		/* named and Knot skip such records with a warning, NSD refuses the zone. A record
		 * outside the origin is most often a mistyped $ORIGIN or a missing final dot:
		 * refuse it rather than silently serve less than the file says. */
		zones__report(zf->rep, ZONES_ERROR, fn, line,
		              "out-of-zone data (%s is outside the zone %s)",
		              dname_to_str(in->owner, buf, sizeof(buf)),
		              dname_to_str(zf->apex, apex, sizeof(apex)));
		return;
	}
	if (in->ttl > zf->ttl_max) {
		zones__report(zf->rep, ZONES_ERROR, fn, line, "TTL %u is above the maximum %u",
		              in->ttl, zf->ttl_max);
		return;
	}
	uint8_t key[DNAME_KEY_MAXLEN];
	size_t keylen = dname_key(in->owner, key);
	if (keylen + ZONES_ID_LEN > ZONES_MAXKEY) {
		zones__report(zf->rep, ZONES_ERROR, fn, line, "owner name too long for the store");
		return;
	}
	uint16_t covers = 0;
	if (in->type == LDNS_RR_TYPE_RRSIG) {
		if (in->rdlen < 18) {
			zones__report(zf->rep, ZONES_ERROR, fn, line, "RRSIG too short");
			return;
		}
		covers = (uint16_t)(in->rd[0] << 8 | in->rd[1]);
	}
	struct zrec *r = rec_alloc(zf, keylen, in->rdlen);
	if (r == NULL) {
		zf->rc = -ENOMEM;
		return;
	}
	*r = (struct zrec){
		.line = line, .ttl = in->ttl, .file = ps->file, .type = in->type,
		.covers = covers, .rdlen = (uint16_t)in->rdlen, .keylen = (uint16_t)keylen,
		.labels = (uint8_t)dname_labels(in->owner),
	};
	memcpy((uint8_t *)(r + 1), key, keylen);
	memcpy((uint8_t *)(r + 1) + keylen, in->rd, in->rdlen);
}

static void
add_rr(struct pstate *ps, ldns_rr *rr, unsigned line)
{
	/* ldns 1.8.3 reads an unknown mnemonic without RDATA ("host FOO", "host A:") as a
	 * record of type 0, which is reserved (RFC 6895 3.1) and which it cannot read back. */
	if (ldns_rr_get_type(rr) == 0) {
		zones__report(ps->zf->rep, ZONES_ERROR, file_name(ps), line,
		              "unknown RR type (type 0 is reserved)");
		return;
	}
	/* ldns 1.8.3 can return fewer fields than the type has ("SOA \\# hostmaster 2 ..."
	 * gives 5 of 7): RDATA the answer path and the dump cannot read. */
	const ldns_rr_descriptor *d = ldns_rr_descript((uint16_t)ldns_rr_get_type(rr));
	if (d != NULL && d->_type == ldns_rr_get_type(rr) &&
	    ldns_rr_rd_count(rr) < ldns_rr_descriptor_minimum(d)) {
		zones__report(ps->zf->rep, ZONES_ERROR, file_name(ps), line,
		              "RDATA has %zu fields, the type needs at least %zu",
		              ldns_rr_rd_count(rr), ldns_rr_descriptor_minimum(d));
		return;
	}
	ldns_buffer_clear(ps->buf);
	if (ldns_rr_rdata2buffer_wire(ps->buf, rr) != LDNS_STATUS_OK ||
	    ldns_buffer_position(ps->buf) > 65535) {
		zones__report(ps->zf->rep, ZONES_ERROR, file_name(ps), line,
		              "RDATA cannot be encoded");
		return;
	}
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		if (ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME && ldns_rdf_size(f) > DNAME_MAXLEN) {
			zones__report(ps->zf->rep, ZONES_ERROR, file_name(ps), line,
			              "name in the RDATA longer than 255 octets with the origin appended");
			return;
		}
	}
	struct rrin in = {
		.owner = ldns_rdf_data(ldns_rr_owner(rr)), .type = (uint16_t)ldns_rr_get_type(rr),
		.rrclass = (uint16_t)ldns_rr_get_class(rr), .ttl = ldns_rr_ttl(rr),
		.rd = ldns_buffer_begin(ps->buf), .rdlen = ldns_buffer_position(ps->buf),
	};
	add_record(ps, &in, line);
}

/* Owner text to wire, relative names completed with the origin as ldns does. */
static bool
fast_owner(const struct pstate *ps, const char *tok, uint8_t *out)
{
	const uint8_t *origin = ldns_rdf_data(ps->origin);
	size_t olen = ldns_rdf_size(ps->origin);
	if (olen > DNAME_MAXLEN)
		return false;   /* ldns words the error */
	if (strcmp(tok, "@") == 0) {
		memcpy(out, origin, olen);
		return true;
	}
	size_t len = dname_from_str(tok, out);
	if (len == 0)
		return false;
	if (tok[strlen(tok) - 1] == '.')
		return true;
	if (len - 1 + olen > DNAME_MAXLEN)
		return false;
	memcpy(out + len - 1, origin, olen);
	return true;
}

/* Parses the commonest entries, "[owner] [TTL] [IN] A|AAAA address", without ldns: at a
 * million records ldns' general tokenizer is most of the compile time. Anything else, or
 * anything unusual about these (escapes, quotes, units in the TTL), returns false and goes
 * through ldns, which also words the errors. Same results as ldns_rr_new_frm_str(). */
static bool
fast_entry(struct pstate *ps, char *entry, unsigned line)
{
	char *tok[6], *save = NULL;
	unsigned n = 0, i = 0;
	uint8_t owner[DNAME_MAXLEN], rd[16];
	struct rrin in = {.rrclass = LDNS_RR_CLASS_IN, .rd = rd};

	if (ps->origin == NULL || strpbrk(entry, "\\\"();") != NULL)
		return false;
	bool blank = entry[0] == ' ' || entry[0] == '\t';
	char copy[256];
	if (strlen(entry) >= sizeof(copy))
		return false;
	strcpy(copy, entry);
	for (char *t = strtok_r(copy, " \t", &save); t != NULL; t = strtok_r(NULL, " \t", &save)) {
		if (n == 6)
			return false;
		tok[n++] = t;
	}
	if (blank) {
		if (ps->prev == NULL || ldns_rdf_size(ps->prev) > DNAME_MAXLEN)
			return false;
		memcpy(owner, ldns_rdf_data(ps->prev), ldns_rdf_size(ps->prev));
	} else if (n == 0 || !fast_owner(ps, tok[i++], owner)) {
		return false;
	}
	in.ttl = ps->default_ttl ? ps->default_ttl : 3600;   /* as ldns */
	if (i < n && tok[i][0] >= '0' && tok[i][0] <= '9') {
		char *end;
		unsigned long long ttl = strtoull(tok[i++], &end, 10);
		if (*end != 0 || ttl > UINT32_MAX)
			return false;
		in.ttl = (uint32_t)ttl;
	}
	if (i < n && strcasecmp(tok[i], "IN") == 0)
		i++;
	if (i + 2 != n)
		return false;
	if (strcasecmp(tok[i], "A") == 0 && inet_pton(AF_INET, tok[i + 1], rd) == 1) {
		in.type = LDNS_RR_TYPE_A;
		in.rdlen = 4;
	} else if (strcasecmp(tok[i], "AAAA") == 0 && inet_pton(AF_INET6, tok[i + 1], rd) == 1) {
		in.type = LDNS_RR_TYPE_AAAA;
		in.rdlen = 16;
	} else {
		return false;
	}
	in.owner = owner;
	size_t olen = dname_len(owner);
	if (ps->prev == NULL || ldns_rdf_size(ps->prev) != olen ||
	    memcmp(ldns_rdf_data(ps->prev), owner, olen) != 0) {
		ldns_rdf *p = ldns_dname_new_frm_data((uint16_t)olen, owner);
		if (p == NULL)
			return false;
		ldns_rdf_deep_free(ps->prev);
		ps->prev = p;
	}
	add_record(ps, &in, line);
	return true;
}

static int read_file(struct pstate *parent, const char *path, ldns_rdf *origin,
                     unsigned inc_line);

/* $INCLUDE file [origin]: RFC 1035 5.1. The origin given (or the current one) applies
 * inside the included file only. */
static void
do_include(struct pstate *ps, char *args, unsigned line)
{
	struct zonefile *zf = ps->zf;
	char *save = NULL;
	char *file = strtok_r(args, " \t", &save);
	char *org = strtok_r(NULL, " \t", &save);
	char path[PATH_MAX];

	if (file == NULL) {
		zones__report(zf->rep, ZONES_ERROR, file_name(ps), line, "$INCLUDE without a file");
		return;
	}
	if (file[0] == '/')
		snprintf(path, sizeof(path), "%s", file);
	else
		snprintf(path, sizeof(path), "%s/%s", ps->dir, file);
	ldns_rdf *origin = NULL;
	if (org != NULL) {
		if (ldns_str2rdf_dname(&origin, org) != LDNS_STATUS_OK) {
			zones__report(zf->rep, ZONES_ERROR, file_name(ps), line,
			              "bad origin '%s' in $INCLUDE", org);
			return;
		}
		if (!ldns_dname_str_absolute(org) && ps->origin != NULL &&
		    ldns_dname_cat(origin, ps->origin) != LDNS_STATUS_OK) {
			ldns_rdf_deep_free(origin);
			zones__report(zf->rep, ZONES_ERROR, file_name(ps), line, "bad $INCLUDE origin");
			return;
		}
	} else {
		origin = ldns_rdf_clone(ps->origin);
	}
	read_file(ps, path, origin, line);
}

static void
do_directive(struct pstate *ps, char *entry, unsigned line)
{
	struct zonefile *zf = ps->zf;
	char *save = NULL;
	char *word = strtok_r(entry, " \t", &save);
	char *arg = strtok_r(NULL, " \t", &save);

	if (strcasecmp(word, "$INCLUDE") == 0) {
		char *rest = arg;
		if (rest != NULL && save != NULL && *save != 0)
			rest[strlen(rest)] = ' ';      /* put the origin back after the file */
		do_include(ps, rest ? rest : (char *)"", line);
		return;
	}
	if (arg == NULL) {
		zones__report(zf->rep, ZONES_ERROR, file_name(ps), line, "%s needs an argument", word);
		return;
	}
	if (strcasecmp(word, "$ORIGIN") == 0) {
		ldns_rdf *o = NULL;
		if (ldns_str2rdf_dname(&o, arg) != LDNS_STATUS_OK) {
			zones__report(zf->rep, ZONES_ERROR, file_name(ps), line, "bad $ORIGIN '%s'", arg);
			return;
		}
		if (!ldns_dname_str_absolute(arg) && ps->origin != NULL &&
		    ldns_dname_cat(o, ps->origin) != LDNS_STATUS_OK) {
			ldns_rdf_deep_free(o);
			zones__report(zf->rep, ZONES_ERROR, file_name(ps), line, "bad $ORIGIN '%s'", arg);
			return;
		}
		ldns_rdf_deep_free(ps->origin);
		ps->origin = o;
	} else if (strcasecmp(word, "$TTL") == 0) {
		const char *end = NULL;
		uint32_t ttl = ldns_str2period(arg, &end);
		bool digits = strspn(arg, "0123456789") == strlen(arg);
		if (end == NULL || *end != 0 ||
		    (digits && (strlen(arg) > 10 || strtoull(arg, NULL, 10) > UINT32_MAX))) {
			zones__report(zf->rep, ZONES_ERROR, file_name(ps), line, "bad $TTL '%s'", arg);
			return;
		}
		ps->default_ttl = ttl;
	} else {
		zones__report(zf->rep, ZONES_ERROR, file_name(ps), line,
		              "unsupported directive %s", word);
	}
}

/* ldns 1.8.3 reads an owner token of at most 254 characters (LDNS_MAX_DOMAINLEN - 1), but a
 * name of 255 octets takes up to 1020 with \DDD escapes, which is how zones_dump() (ldns)
 * writes octets that are not printable: the dump of a good zone would not load again.
 * Such an owner is read here and handed to ldns as the previous owner, the token blanked
 * out. Returns false when the entry is done with (an error was reported). */
static bool
long_owner(struct pstate *ps, char *entry, unsigned line)
{
	char tok[4 * DNAME_MAXLEN + 8];
	uint8_t name[DNAME_MAXLEN];
	size_t n = 0;
	bool absolute = false;

	if (entry[0] == ' ' || entry[0] == '\t')
		return true;
	while (entry[n] != 0 && entry[n] != ' ' && entry[n] != '\t') {
		if (entry[n] == '\\' && entry[n + 1] != 0) {
			n += 2;                 /* an escaped dot does not end the name */
			absolute = false;
			continue;
		}
		absolute = entry[n] == '.';
		n++;
	}
	if (n < DNAME_MAXLEN || ps->origin == NULL)
		return true;
	size_t len = 0;
	if (n < sizeof(tok)) {
		memcpy(tok, entry, n);
		tok[n] = 0;
		len = dname_from_str(tok, name);
	}
	if (len != 0 && !absolute) {
		size_t olen = ldns_rdf_size(ps->origin);
		if (len - 1 + olen > DNAME_MAXLEN) {
			len = 0;
		} else {
			memcpy(name + len - 1, ldns_rdf_data(ps->origin), olen);
			len += olen - 1;
		}
	}
	if (len == 0) {
		zones__report(ps->zf->rep, ZONES_ERROR, file_name(ps), line,
		              "bad owner name (longer than 255 octets?)");
		return false;
	}
	ldns_rdf *p = ldns_dname_new_frm_data((uint16_t)len, name);
	if (p == NULL) {
		ps->zf->rc = -ENOMEM;
		return false;
	}
	ldns_rdf_deep_free(ps->prev);
	ps->prev = p;
	memset(entry, ' ', n);
	return true;
}

static void
parse_entry(struct pstate *ps, char *entry, unsigned line)
{
	struct zonefile *zf = ps->zf;
	ldns_rr *rr = NULL;

	if (entry[0] == '$') {
		do_directive(ps, entry, line);
		return;
	}
	if ((entry[0] == ' ' || entry[0] == '\t') && ps->prev == NULL) {
		zones__report(zf->rep, ZONES_ERROR, file_name(ps), line,
		              "record without an owner name and no previous owner");
		return;
	}
	if (!long_owner(ps, entry, line))
		return;
	zones__entry_normalize(entry);
	if (fast_entry(ps, entry, line))
		return;
	char why[256];
	if (!zones__rdata_strict(entry, why, sizeof(why))) {
		zones__report(zf->rep, ZONES_ERROR, file_name(ps), line, "%s", why);
		return;
	}
	ldns_status st = ldns_rr_new_frm_str(&rr, entry, ps->default_ttl, ps->origin, &ps->prev);
	if (st != LDNS_STATUS_OK) {
		zones__report(zf->rep, ZONES_ERROR, file_name(ps), line, "%s",
		              ldns_get_errorstr_by_id(st));
		return;
	}
	add_rr(ps, rr, line);
	ldns_rr_free(rr);
}

static char *
slurp(const char *path, size_t *len, int *err)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		*err = -errno;
		return NULL;
	}
	struct stat st;
	char *buf = NULL;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		*err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		*err = -ENOMEM;
		goto out;
	}
	*len = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		*err = -EIO;
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[*len] = 0;
out:
	fclose(f);
	return buf;
}

static int
add_file_name(struct zonefile *zf, const char *path)
{
	char **f = realloc(zf->files, (zf->nfiles + 1) * sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	zf->files = f;
	if ((f[zf->nfiles] = strdup(path)) == NULL)
		return -ENOMEM;
	if (zf->nfiles >= UINT16_MAX)
		return -E2BIG;
	return (int)zf->nfiles++;
}

static void
parse_text(struct pstate *ps, const char *text, size_t len)
{
	struct reader r = {.p = text, .end = text + len, .line = 1};
	char *entry = malloc(MAX_ENTRY);
	if (entry == NULL) {
		ps->zf->rc = -ENOMEM;
		return;
	}
	for (;;) {
		unsigned line;
		const char *why = NULL;
		int n = next_entry(&r, entry, MAX_ENTRY, &line, &why);
		if (n == 0)
			break;
		if (n < 0) {
			zones__report(ps->zf->rep, ZONES_ERROR, file_name(ps), line, "%s", why);
			/* Resynchronise at the next line: report more than one error per run. */
			while (r.p < r.end && *r.p != '\n')
				r.p++;
			continue;
		}
		parse_entry(ps, entry, line);
		if (ps->zf->rc != 0)
			break;
		if (ps->zf->rep->errors >= MAX_ERRORS) {
			if (!ps->zf->gave_up)
				zones__report(ps->zf->rep, ZONES_ERROR, file_name(ps), line,
				              "too many errors; stopped reading");
			ps->zf->gave_up = true;
			break;
		}
	}
	free(entry);
}

/* Reads one file (the main one when parent is NULL). Takes origin. */
static int
read_file(struct pstate *parent, const char *path, ldns_rdf *origin, unsigned inc_line)
{
	struct zonefile *zf = parent->zf;
	char real[PATH_MAX], dir[PATH_MAX];
	size_t len = 0;
	int err = 0, rc = 0;
	char *text = NULL;
	const char *who = parent->depth ? file_name(parent) : path;

	if (parent->depth > MAX_INCLUDE_DEPTH) {
		zones__report(zf->rep, ZONES_ERROR, who, inc_line,
		              "$INCLUDE nested deeper than %d", MAX_INCLUDE_DEPTH);
		goto out;
	}
	if (realpath(path, real) == NULL) {
		zones__report(zf->rep, ZONES_ERROR, who, inc_line, "cannot open %s: %s", path,
		              strerror(errno));
		goto out;
	}
	for (unsigned i = 0; i < parent->depth; i++) {
		if (strcmp(parent->stack[i], real) == 0) {
			zones__report(zf->rep, ZONES_ERROR, who, inc_line, "$INCLUDE loop: %s", path);
			goto out;
		}
	}
	text = slurp(path, &len, &err);
	if (text == NULL) {
		zones__report(zf->rep, ZONES_ERROR, who, inc_line, "cannot read %s: %s", path,
		              strerror(-err));
		goto out;
	}
	rc = add_file_name(zf, path);
	if (rc < 0) {
		zf->rc = rc;
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	struct pstate ps = {
		.zf = zf, .file = (uint16_t)rc, .dir = dirname(dir), .origin = origin,
		.default_ttl = parent->default_ttl, .depth = parent->depth + 1,
		.stack = parent->stack, .buf = parent->buf,
	};
	origin = NULL;
	parent->stack[parent->depth] = real;
	if (parent->depth == 0 || parent->prev == NULL)
		ps.prev = NULL;
	else
		ps.prev = ldns_rdf_clone(parent->prev);
	parse_text(&ps, text, len);
	ldns_rdf_deep_free(ps.origin);
	ldns_rdf_deep_free(ps.prev);
	rc = 0;
out:
	ldns_rdf_deep_free(origin);
	free(text);
	return rc;
}

void
zones__zonefile_free(struct zonefile *zf)
{
	if (zf == NULL)
		return;
	for (size_t i = 0; i < zf->nfiles; i++)
		free(zf->files[i]);
	free(zf->files);
	free(zf->arena);
	free(zf->recs);
	free(zf->nodes);
	free(zf);
}

int
zones__zonefile_read(const char *origin, const char *path, const struct zones_compile_opts *o,
                     struct zones_report *rep, struct zonefile **out)
{
	struct zonefile *zf = calloc(1, sizeof(*zf));
	char *stack[MAX_INCLUDE_DEPTH + 2];
	ldns_rdf *org = NULL;

	*out = zf;
	if (zf == NULL)
		return -ENOMEM;
	zf->rep = rep;
	zf->opts = o;
	zf->ttl_max = (o != NULL && o->ttl_max != 0) ? o->ttl_max : INT32_MAX;
	if (dname_from_str(origin, zf->apex) == 0 ||
	    ldns_str2rdf_dname(&org, origin) != LDNS_STATUS_OK) {
		zones__report(rep, ZONES_ERROR, path, 0, "bad zone origin '%s'", origin);
		return SP_EZONE;
	}
	if (!ldns_dname_str_absolute(origin)) {
		ldns_rdf *root = ldns_dname_new_frm_str(".");
		ldns_dname_cat(org, root);
		ldns_rdf_deep_free(root);
	}
	dname_copy_lower(zf->apex, zf->apex);
	zf->apex_keylen = dname_key(zf->apex, zf->apex_key);
	zf->apex_labels = dname_labels(zf->apex);

	struct pstate top = {
		.zf = zf, .stack = stack, .default_ttl = 3600, /* ldns' default without $TTL */
		.buf = ldns_buffer_new(1024),
	};
	if (top.buf == NULL) {
		ldns_rdf_deep_free(org);
		return -ENOMEM;
	}
	int rc = read_file(&top, path, org, 0);
	ldns_buffer_free(top.buf);
	zonefile_finish(zf);
	if (rc == 0)
		rc = zf->rc;
	if (rc == 0 && rep->errors > 0)
		rc = SP_EZONE;
	return rc;
}
