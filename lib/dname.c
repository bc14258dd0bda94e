/* dname.c - wire-form domain names and their canonical LMDB keys (any thread). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "dname.h"

static inline uint8_t
lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

size_t
dname_len(const uint8_t *name)
{
	const uint8_t *p = name;
	while (*p != 0)
		p += *p + 1;
	return (size_t)(p - name) + 1;
}

unsigned
dname_labels(const uint8_t *name)
{
	unsigned n = 0;
	for (const uint8_t *p = name; *p != 0; p += *p + 1)
		n++;
	return n;
}

const uint8_t *
dname_suffix(const uint8_t *name, unsigned labels)
{
	unsigned skip = dname_labels(name) - labels;
	while (skip-- > 0)
		name += *name + 1;
	return name;
}

bool
dname_equal(const uint8_t *a, const uint8_t *b)
{
	for (;;) {
		if (*a != *b)
			return false;
		if (*a == 0)
			return true;
		for (unsigned i = 1; i <= *a; i++) {
			if (lower(a[i]) != lower(b[i]))
				return false;
		}
		a += *a + 1;
		b += *b + 1;
	}
}

bool
dname_is_subdomain(const uint8_t *name, const uint8_t *parent)
{
	unsigned nl = dname_labels(name), pl = dname_labels(parent);
	if (nl < pl)
		return false;
	return dname_equal(dname_suffix(name, pl), parent);
}

bool
dname_is_wildcard(const uint8_t *name)
{
	return name[0] == 1 && name[1] == '*';
}

size_t
dname_copy_lower(uint8_t *out, const uint8_t *name)
{
	size_t len = dname_len(name);
	for (size_t i = 0; i < len; i++)
		out[i] = lower(name[i]);
	/* Length octets are below 64, so lower() left them alone. */
	return len;
}

size_t
dname_key(const uint8_t *name, uint8_t *key)
{
	const uint8_t *label[DNAME_MAXLABELS];
	unsigned n = 0;
	size_t k = 0;

	for (const uint8_t *p = name; *p != 0 && n < DNAME_MAXLABELS; p += *p + 1)
		label[n++] = p;
	while (n-- > 0) {
		const uint8_t *l = label[n];
		/* A local bound: key may alias name as far as the compiler knows, so l[0]
		 * would be reloaded after every store into key. */
		unsigned len = l[0];
		for (unsigned i = 1; i <= len; i++) {
			uint8_t c = lower(l[i]);
			if (c <= 1) {
				key[k++] = 1;
				key[k++] = (uint8_t)(c + 1);
			} else {
				key[k++] = c;
			}
		}
		key[k++] = 0;
	}
	return k;
}

size_t
dname_from_key(const uint8_t *key, size_t keylen, uint8_t *name)
{
	uint8_t tmp[DNAME_MAXLEN];
	size_t starts[DNAME_MAXLABELS], lens[DNAME_MAXLABELS];
	unsigned n = 0;
	size_t t = 0, start = 0;

	for (size_t i = 0; i < keylen; i++) {
		uint8_t c = key[i];
		if (c == 0) {
			if (n == DNAME_MAXLABELS || t == start || t - start > 63)
				return 0;
			starts[n] = start;
			lens[n++] = t - start;
			start = t;
			continue;
		}
		if (c == 1) {
			if (++i >= keylen || key[i] < 1 || key[i] > 2)
				return 0;
			c = (uint8_t)(key[i] - 1);
		}
		if (t >= sizeof(tmp))
			return 0;
		tmp[t++] = c;
	}
	if (start != t)
		return 0;           /* key does not end on a separator */
	size_t o = 0;
	while (n-- > 0) {
		if (o + lens[n] + 2 > DNAME_MAXLEN)
			return 0;
		name[o++] = (uint8_t)lens[n];
		memcpy(name + o, tmp + starts[n], lens[n]);
		o += lens[n];
	}
	name[o++] = 0;
	return o;
}

unsigned
dname_key_labels(const uint8_t *key, size_t keylen)
{
	unsigned n = 0;
	for (size_t i = 0; i < keylen; i++) {
		if (key[i] == 1)
			i++;
		else if (key[i] == 0)
			n++;
	}
	return n;
}

size_t
dname_key_prefix(const uint8_t *key, size_t keylen, unsigned labels)
{
	size_t i = 0;
	for (unsigned n = 0; n < labels && i < keylen; i++) {
		if (key[i] == 1)
			i++;
		else if (key[i] == 0)
			n++;
	}
	return i;
}

char *
dname_to_str(const uint8_t *name, char *out, size_t outlen)
{
	size_t o = 0;
	char esc[8];

	if (outlen == 0)
		return out;
	if (*name == 0) {
		snprintf(out, outlen, ".");
		return out;
	}
	for (const uint8_t *p = name; *p != 0; p += *p + 1) {
		for (unsigned i = 1; i <= *p; i++) {
			uint8_t c = p[i];
			if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' ||
			    c == '$' || c == '@')
				snprintf(esc, sizeof(esc), "\\%c", c);
			else if (c <= 0x20 || c >= 0x7f)
				snprintf(esc, sizeof(esc), "\\%03u", c);
			else
				snprintf(esc, sizeof(esc), "%c", c);
			for (char *e = esc; *e != 0 && o + 1 < outlen; e++)
				out[o++] = *e;
		}
		if (o + 1 < outlen)
			out[o++] = '.';
	}
	out[o] = 0;
	return out;
}

size_t
dname_from_str(const char *text, uint8_t *name)
{
	size_t o = 1, lenpos = 0;
	const char *s = text;

	if (strcmp(text, ".") == 0) {
		name[0] = 0;
		return 1;
	}
	name[0] = 0;
	while (*s != 0) {
		unsigned c = (unsigned char)*s++;
		if (c == '.') {
			if (name[lenpos] == 0)
				return 0;  /* empty label */
			if (*s == 0)
				break;
			lenpos = o++;
			if (o > DNAME_MAXLEN)
				return 0;
			name[lenpos] = 0;
			continue;
		}
		if (c == '\\') {
			if (isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
			    isdigit((unsigned char)s[2])) {
				c = (unsigned)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
				if (c > 255)
					return 0;
				s += 3;
			} else if (*s != 0) {
				c = (unsigned char)*s++;
			} else {
				return 0;
			}
		}
		if (name[lenpos] == 63 || o + 1 >= DNAME_MAXLEN)
			return 0;
		name[o++] = (uint8_t)c;
		name[lenpos]++;
	}
	if (name[lenpos] == 0)
		return 0;
	name[o++] = 0;
	return o;
}
