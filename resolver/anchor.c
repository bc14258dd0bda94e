/* anchor.c - DNSSEC trust anchors: DS and DNSKEY records read from a master file or from
 * text in the configuration, grouped by owner so the validator can find the anchor that
 * covers a name. RFC 5011 rollover is not done: anchors change when the operator reloads.
 *
 * Loaded at start-up or reload on the main thread; after that read-only, so resolver
 * threads may call dnssec_anchors_find() at once. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/errors.h"
#include "resolver/dnssec.h"

struct anchor_zone {
	ldns_rdf *owner;
	ldns_rr_list *rrs;      /* DS and DNSKEY records of owner */
};

struct dnssec_anchors {
	struct anchor_zone *z;
	size_t nz;
	size_t count;
};

struct dnssec_anchors *
dnssec_anchors_new(void)
{
	return calloc(1, sizeof(struct dnssec_anchors));
}

void
dnssec_anchors_free(struct dnssec_anchors *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nz; i++) {
		ldns_rdf_deep_free(a->z[i].owner);
		ldns_rr_list_deep_free(a->z[i].rrs);
	}
	free(a->z);
	free(a);
}

size_t
dnssec_anchors_count(const struct dnssec_anchors *a)
{
	return a->count;
}

/* Reads every record of fp into a new list; only DS and DNSKEY records are anchors. */
static int
read_records(FILE *fp, const char *src, ldns_rr_list **out, char *err, size_t errlen)
{
	ldns_rr_list *list = ldns_rr_list_new();
	uint32_t ttl = 3600;
	ldns_rdf *origin = NULL, *prev = NULL;
	int line = 1, rc = 0;

	if (list == NULL)
		return -ENOMEM;
	while (!feof(fp)) {
		ldns_rr *rr = NULL;
		int start = line;
		ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &prev, &line);
		/* ldns counts the newline that ended the record: report the record's line. */
		int at = line > start ? line - 1 : line;
		if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL ||
		    s == LDNS_STATUS_SYNTAX_ORIGIN)
			continue;       /* blank line, comment, $TTL, $ORIGIN */
		if (s != LDNS_STATUS_OK) {
			if (feof(fp) && s == LDNS_STATUS_SYNTAX_ERR && rr == NULL)
				break;  /* trailing white space at the end of the input */
			snprintf(err, errlen, "%s:%d: %s", src, at, ldns_get_errorstr_by_id(s));
			rc = SP_EPARSE;
			break;
		}
		ldns_rr_type t = ldns_rr_get_type(rr);
		if ((t != LDNS_RR_TYPE_DS && t != LDNS_RR_TYPE_DNSKEY) ||
		    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
			snprintf(err, errlen, "%s:%d: a trust anchor is a DS or DNSKEY record of "
			         "class IN", src, at);
			ldns_rr_free(rr);
			rc = SP_EPARSE;
			break;
		}
		ldns_rr_list_push_rr(list, rr);
	}
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	if (rc == 0 && ldns_rr_list_rr_count(list) == 0) {
		snprintf(err, errlen, "%s: no DS or DNSKEY record", src);
		rc = SP_EPARSE;
	}
	if (rc != 0) {
		ldns_rr_list_deep_free(list);
		return rc;
	}
	*out = list;
	return 0;
}

/* Takes the records of list into a (all or nothing). */
static int
merge(struct dnssec_anchors *a, ldns_rr_list *list)
{
	size_t n = ldns_rr_list_rr_count(list);
	struct anchor_zone *z = realloc(a->z, (a->nz + n) * sizeof(*z));

	if (z == NULL) {
		ldns_rr_list_deep_free(list);
		return -ENOMEM;
	}
	a->z = z;
	/* Every record gets a slot up front, so nothing below can fail half way. */
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		ldns_rdf *owner = ldns_rr_owner(rr);
		ldns_dname2canonical(owner);
		size_t j = 0;
		while (j < a->nz && ldns_dname_compare(a->z[j].owner, owner) != 0)
			j++;
		if (j == a->nz) {
			a->z[j].owner = ldns_rdf_clone(owner);
			a->z[j].rrs = ldns_rr_list_new();
			if (a->z[j].owner == NULL || a->z[j].rrs == NULL) {
				ldns_rdf_deep_free(a->z[j].owner);
				ldns_rr_list_free(a->z[j].rrs);
				ldns_rr_list_deep_free(list);
				return -ENOMEM;
			}
			a->nz++;
		}
		ldns_rr_list_push_rr(a->z[j].rrs, rr);
		a->count++;
	}
	ldns_rr_list_free(list);        /* the records now belong to the zones */
	return 0;
}

int
dnssec_anchors_add_file(struct dnssec_anchors *a, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	ldns_rr_list *list = NULL;

	if (fp == NULL) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	int rc = read_records(fp, path, &list, err, errlen);
	fclose(fp);
	return rc != 0 ? rc : merge(a, list);
}

int
dnssec_anchors_add_text(struct dnssec_anchors *a, const char *text, char *err, size_t errlen)
{
	ldns_rr_list *list = NULL;

	if (text[0] == '\0') {
		snprintf(err, errlen, "trust anchor text: empty");
		return SP_EPARSE;
	}
	FILE *fp = fmemopen((void *)text, strlen(text), "r");
	if (fp == NULL) {
		int e = errno;
		snprintf(err, errlen, "trust anchor text: %s", strerror(e));
		return -e;
	}
	int rc = read_records(fp, "trust anchor text", &list, err, errlen);
	fclose(fp);
	return rc != 0 ? rc : merge(a, list);
}

const ldns_rr_list *
dnssec_anchors_find(const struct dnssec_anchors *a, const ldns_rdf *name)
{
	const struct anchor_zone *best = NULL;

	for (size_t i = 0; i < a->nz; i++) {
		const struct anchor_zone *z = &a->z[i];
		if (ldns_dname_compare(z->owner, name) != 0 && !ldns_dname_is_subdomain(name, z->owner))
			continue;
		if (best == NULL || ldns_dname_label_count(z->owner) > ldns_dname_label_count(best->owner))
			best = z;
	}
	return best != NULL ? best->rrs : NULL;
}
