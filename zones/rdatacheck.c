/* rdatacheck.c - stricter checks on RDATA text than ldns 1.8.3 makes, run before a record
 * entry is handed to ldns (the compiler's thread).
 *
 * ldns accepts some malformed fields silently: an 8- or 16-bit number that overflows is
 * truncated (CAA flags 256 becomes 0, an SRV port 70000 becomes 4464), a hex field with an
 * odd number of digits is padded, and RFC 3597 "\#" data is not checked to be hex. A zone
 * compiler must refuse those rather than serve something else than the file says. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#include "zones/internal.h"

#define MAX_TOKENS 64

struct tokens {
	const char *s[MAX_TOKENS];
	size_t len[MAX_TOKENS];
	unsigned n;
	bool owner;             /* the first token is the owner (no leading blank) */
};

/* Splits entry at blanks outside quotes; backslash escapes the next character. */
static void
tokenize(const char *entry, struct tokens *t)
{
	const char *p = entry;
	t->n = 0;
	t->owner = !(*p == ' ' || *p == '\t');
	while (*p != 0 && t->n < MAX_TOKENS) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == 0)
			break;
		const char *start = p;
		bool quoted = false;
		while (*p != 0 && (quoted || (*p != ' ' && *p != '\t'))) {
			if (*p == '\\' && p[1] != 0)
				p++;
			else if (*p == '"')
				quoted = !quoted;
			p++;
		}
		t->s[t->n] = start;
		t->len[t->n++] = (size_t)(p - start);
	}
}

static bool
tok_is(const struct tokens *t, unsigned i, const char *word)
{
	return t->len[i] == strlen(word) && strncasecmp(t->s[i], word, t->len[i]) == 0;
}

static bool
is_class(const char *s, size_t len)
{
	static const char *names[] = {"IN", "CH", "CS", "HS", "NONE", "ANY"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (len == strlen(names[i]) && strncasecmp(s, names[i], len) == 0)
			return true;
	}
	return len > 5 && strncasecmp(s, "CLASS", 5) == 0 && isdigit((unsigned char)s[5]);
}

static bool
all_digits(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* Counts hex digits of tokens [from, n); false if a character is not a hex digit. */
static bool
hex_digits(const struct tokens *t, unsigned from, size_t *count)
{
	*count = 0;
	for (unsigned i = from; i < t->n; i++) {
		for (size_t k = 0; k < t->len[i]; k++) {
			if (!isxdigit((unsigned char)t->s[i][k]))
				return false;
			(*count)++;
		}
	}
	return true;
}

static bool
check_generic(const struct tokens *t, unsigned rd, const char *tname, char *why, size_t wlen)
{
	size_t digits;
	if (rd + 1 >= t->n + 0u)
		return true;            /* ldns reports the missing length */
	if (!all_digits(t->s[rd + 1], t->len[rd + 1])) {
		/* ldns does not: it reads the fields that follow as something else. */
		snprintf(why, wlen, "bad rdata: %s: RFC 3597 data needs a length after \\#", tname);
		return false;
	}
	if (!hex_digits(t, rd + 2, &digits)) {
		snprintf(why, wlen, "bad rdata: %s: RFC 3597 data is not hex", tname);
		return false;
	}
	unsigned long len = strtoul(t->s[rd + 1], NULL, 10);
	if (digits % 2 != 0 || digits / 2 != len) {
		snprintf(why, wlen, "bad rdata: %s: RFC 3597 data has %zu hex digits for length %lu",
		         tname, digits, len);
		return false;
	}
	return true;
}

bool
zones__rdata_strict(const char *entry, char *why, size_t wlen)
{
	struct tokens t;
	unsigned i;
	char tname[32];

	tokenize(entry, &t);
	i = t.owner ? 1 : 0;
	/* [TTL] [class] or [class] [TTL] before the type (RFC 1035 5.1). */
	for (unsigned k = 0; k < 2 && i < t.n; k++) {
		if (all_digits(t.s[i], t.len[i]) &&
		    (t.len[i] > 10 || strtoull(t.s[i], NULL, 10) > 4294967295ull)) {
			/* ldns would take it modulo 2^32. */
			snprintf(why, wlen, "bad TTL %.*s: out of range (0-4294967295)",
			         (int)(t.len[i] > 20 ? 20 : t.len[i]), t.s[i]);
			return false;
		}
		if (is_class(t.s[i], t.len[i]) || isdigit((unsigned char)t.s[i][0]))
			i++;
	}
	if (i >= t.n || t.len[i] >= sizeof(tname))
		return true;
	memcpy(tname, t.s[i], t.len[i]);
	tname[t.len[i]] = 0;
	for (char *c = tname; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	ldns_rr_type type = ldns_get_rr_type_by_name(tname);
	const ldns_rr_descriptor *d = ldns_rr_descript((uint16_t)type);
	unsigned rd = i + 1;
	if (type == 0 || d == NULL || rd >= t.n)
		return true;
	if (tok_is(&t, rd, "\\#"))
		return check_generic(&t, rd, tname, why, wlen);
	size_t max = ldns_rr_descriptor_maximum(d);
	for (size_t f = 0; f < max && rd + f < t.n; f++) {
		ldns_rdf_type ft = ldns_rr_descriptor_field_type(d, f);
		const char *s = t.s[rd + f];
		size_t len = t.len[rd + f];
		unsigned long limit = ft == LDNS_RDF_TYPE_INT8 ? 255ul
		                      : ft == LDNS_RDF_TYPE_INT16 ? 65535ul
		                      : ft == LDNS_RDF_TYPE_INT32 ? 4294967295ul : 0;
		if (limit != 0 && all_digits(s, len) &&
		    (len > 10 || strtoull(s, NULL, 10) > limit)) {
			snprintf(why, wlen, "bad rdata: %s field %zu: %.*s is out of range (0-%lu)",
			         tname, f + 1, (int)(len > 20 ? 20 : len), s, limit);
			return false;
		}
		/* ldns reads the CERT type (RFC 4398 2.1; its CERT_ALG field) with strtol()
		 * into 16 bits, so a sign or a value past 65535 wraps silently, and it refuses
		 * 0 (reserved) only after allocating the field, which ldns 1.8.3 then leaks. */
		if (ft == LDNS_RDF_TYPE_CERT_ALG && len > 0) {
			size_t sign = (s[0] == '+' || s[0] == '-') ? 1 : 0;
			if (all_digits(s + sign, len - sign) &&
			    (sign || len > 10 || strtoull(s, NULL, 10) - 1 >= 65535ull)) {
				snprintf(why, wlen,
				         "bad rdata: %s field %zu: %.*s is out of range (1-65535)",
				         tname, f + 1, (int)(len > 20 ? 20 : len), s);
				return false;
			}
		}
		if (ft == LDNS_RDF_TYPE_HEX && f + 1 == max) {
			/* The last field may be split by blanks (RFC 4034 5.3 for DS). */
			size_t digits;
			if (!hex_digits(&t, rd + (unsigned)f, &digits) || digits % 2 != 0) {
				snprintf(why, wlen, "bad rdata: %s field %zu: not an even number of hex digits",
				         tname, f + 1);
				return false;
			}
		}
	}
	return true;
}

void
zones__entry_normalize(char *entry)
{
	struct tokens t;
	tokenize(entry, &t);
	unsigned i = t.owner ? 1 : 0;
	if (i + 1 >= t.n || !is_class(t.s[i], t.len[i]) || !isdigit((unsigned char)t.s[i + 1][0]))
		return;
	/* RFC 1035 5.1 allows "<class> <TTL>" as well as "<TTL> <class>"; ldns only reads the
	 * latter, so swap them (the text between them becomes one blank: never longer). */
	char cls[16], ttl[64];
	if (t.len[i] >= sizeof(cls) || t.len[i + 1] >= sizeof(ttl))
		return;
	memcpy(cls, t.s[i], t.len[i]);
	cls[t.len[i]] = 0;
	memcpy(ttl, t.s[i + 1], t.len[i + 1]);
	ttl[t.len[i + 1]] = 0;
	char *start = (char *)t.s[i];
	const char *after = t.s[i + 1] + t.len[i + 1];
	size_t rest = strlen(after) + 1;
	size_t lt = strlen(ttl), lc = strlen(cls);
	memmove(start + lt + 1 + lc, after, rest);       /* moves left or stays */
	memcpy(start, ttl, lt);
	start[lt] = ' ';
	memcpy(start + lt + 1, cls, lc);
}
