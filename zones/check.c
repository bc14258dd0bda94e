/* check.c - turns the parsed records of a zone file into sorted nodes and runs the
 * semantic checks on them before anything is written (the compiler's thread).
 *
 * Errors and warnings follow named-checkzone and kzonecheck: a missing or extra SOA, no
 * NS at the apex, CNAME beside other data, two CNAMEs or DNAMEs at a name, DNAME beside
 * NS and a missing address for an in-zone NS target are errors (the zone is refused);
 * data below a delegation that is not glue, data below a DNAME, TTLs that differ inside
 * an RRset and NS/MX/SRV targets that are CNAMEs are warnings. Duplicate records are
 * merged silently, as ldns, NSD and named do. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "lib/errors.h"
#include "zones/internal.h"

static int
keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

static int
rec_cmp(const void *pa, const void *pb)
{
	const struct zrec *a = *(const struct zrec *const *)pa;
	const struct zrec *b = *(const struct zrec *const *)pb;
	int c = keycmp(zrec_key(a), a->keylen, zrec_key(b), b->keylen);
	if (c != 0)
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if (a->covers != b->covers)
		return a->covers < b->covers ? -1 : 1;
	c = keycmp(zrec_rdata(a), a->rdlen, zrec_rdata(b), b->rdlen);
	if (c != 0)
		return c;
	/* Equal records: keep file order so the first one is the one reported and kept. */
	if (a->file != b->file)
		return a->file < b->file ? -1 : 1;
	return (a->line > b->line) - (a->line < b->line);
}

size_t
zones__key_common(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen, common = 0;
	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i])
			break;
		if (a[i] == 1) {         /* escape pair: compare both octets */
			if (i + 1 >= n || a[i + 1] != b[i + 1])
				break;
			i++;
		} else if (a[i] == 0) {
			common = i + 1;
		}
	}
	return common;
}

struct cnode *
zones__cnode_find(struct zonefile *zf, const uint8_t *key, size_t keylen)
{
	size_t lo = 0, hi = zf->nnodes;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct cnode *n = &zf->nodes[mid];
		int c = keycmp(n->key, n->keylen, key, keylen);
		if (c == 0)
			return n;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const char *
rfile(const struct zonefile *zf, const struct zrec *r)
{
	return zf->files[r->file];
}

static void
key_str(const uint8_t *key, size_t keylen, char *out, size_t outlen)
{
	uint8_t name[DNAME_MAXLEN];
	if (dname_from_key(key, keylen, name) == 0)
		snprintf(out, outlen, "?");
	else
		dname_to_str(name, out, outlen);
}

static const char *
type_str(uint16_t type, char *buf, size_t len)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	if (d != NULL && d->_name != NULL)
		snprintf(buf, len, "%s", d->_name);
	else
		snprintf(buf, len, "TYPE%u", type);
	return buf;
}

static struct cnode *
node_push(struct zonefile *zf, const uint8_t *key, size_t keylen)
{
	if (zf->nnodes == zf->nodes_cap) {
		size_t cap = zf->nodes_cap ? zf->nodes_cap * 2 : 1024;
		struct cnode *n = realloc(zf->nodes, cap * sizeof(*n));
		if (n == NULL)
			return NULL;
		zf->nodes = n;
		zf->nodes_cap = cap;
	}
	struct cnode *n = &zf->nodes[zf->nnodes++];
	*n = (struct cnode){
		.key = key, .keylen = (uint16_t)keylen, .redirect = ZONES_NO_REDIRECT,
		.labels = (uint8_t)dname_key_labels(key, keylen),
	};
	return n;
}

/* Merges duplicates and settles RRset TTLs (RFC 2181 5.2: differing TTLs inside an RRset
 * are an error in the data; treat them all as the lowest, and warn). */
static void
merge_rrsets(struct zonefile *zf)
{
	char tb[16];
	size_t i = 0;
	zf->nunique = 0;
	while (i < zf->nrecs) {
		struct zrec *first = zf->recs[i];
		size_t j = i + 1;
		uint32_t ttl = first->ttl;
		for (; j < zf->nrecs; j++) {
			struct zrec *r = zf->recs[j];
			if (r->type != first->type || r->covers != first->covers ||
			    keycmp(zrec_key(r), r->keylen, zrec_key(first), first->keylen) != 0)
				break;
			if (ttl != r->ttl) {
				zones__report(zf->rep, ZONES_WARNING, rfile(zf, r), r->line,
				              "TTL %u differs from %u in the same %s RRset; using the lowest",
				              r->ttl, ttl, type_str(r->type, tb, sizeof(tb)));
				if (r->ttl < ttl)
					ttl = r->ttl;
			}
			struct zrec *p = zf->recs[j - 1];
			if (p->rdlen == r->rdlen && memcmp(zrec_rdata(p), zrec_rdata(r), r->rdlen) == 0)
				r->dup = 1;
		}
		for (size_t k = i; k < j; k++) {
			zf->recs[k]->ttl = ttl;
			zf->nunique += !zf->recs[k]->dup;
		}
		i = j;
	}
}

/* Groups records into nodes, adding an empty non-terminal for every missing ancestor so
 * that the closest encloser is found from the predecessor key (docs/lmdb-schema.md). */
static int
build_nodes(struct zonefile *zf)
{
	const uint8_t *prev = NULL;
	size_t prevlen = 0;
	size_t i = 0;

	while (i < zf->nrecs) {
		struct zrec *r = zf->recs[i];
		const uint8_t *key = zrec_key(r);
		size_t j = i + 1;
		while (j < zf->nrecs && keycmp(zrec_key(zf->recs[j]), zf->recs[j]->keylen, key,
		                               r->keylen) == 0)
			j++;
		/* Ancestors of key up to the common labels with the previous name exist already
		 * (they are ancestors of that name); the others are empty non-terminals. */
		size_t common = prev ? zones__key_common(prev, prevlen, key, r->keylen) : 0;
		for (unsigned l = zf->apex_labels; l < r->labels; l++) {
			size_t plen = dname_key_prefix(key, r->keylen, l);
			if (prev != NULL && plen <= common)
				continue;
			struct cnode *e = node_push(zf, key, plen);
			if (e == NULL)
				return -ENOMEM;
			e->flags = ZONES_NODE_ENT;
		}
		struct cnode *n = node_push(zf, key, r->keylen);
		if (n == NULL)
			return -ENOMEM;
		n->first = i;
		n->count = j - i;
		uint16_t last = 0, lastcov = 0;
		for (size_t k = i; k < j; k++) {
			struct zrec *x = zf->recs[k];
			if (k == i || x->type != last || x->covers != lastcov)
				n->nrrsets++;
			last = x->type;
			lastcov = x->covers;
		}
		prev = key;
		prevlen = r->keylen;
		i = j;
	}
	return 0;
}

static size_t
type_count(const struct zonefile *zf, const struct cnode *n, uint16_t type, struct zrec **first)
{
	size_t c = 0;
	for (size_t k = n->first; k < n->first + n->count; k++) {
		struct zrec *r = zf->recs[k];
		if (r->type == type && !r->dup) {
			if (c == 0 && first != NULL)
				*first = r;
			c++;
		}
	}
	return c;
}

static struct zrec *
nth_of_type(const struct zonefile *zf, const struct cnode *n, uint16_t type, size_t nth)
{
	for (size_t k = n->first; k < n->first + n->count; k++) {
		struct zrec *r = zf->recs[k];
		if (r->type == type && !r->dup && nth-- == 0)
			return r;
	}
	return NULL;
}

/* The node's name, formatted only when a message needs it. */
#define NODE_NAME() (key_str(n->key, n->keylen, nb, sizeof(nb)), nb)

static bool
is_wildcard_key(const struct cnode *n)
{
	return n->keylen >= 2 && n->key[n->keylen - 1] == 0 && n->key[n->keylen - 2] == '*' &&
	       (n->keylen == 2 || n->key[n->keylen - 3] == 0);
}

/* Sets n's flags and redirect; redir is the highest cut or DNAME owner whose subtree the
 * walk is in (nodes come in canonical order, so a subtree is a run). Returns the new one. */
static struct cnode *
node_flags(struct zonefile *zf, struct cnode *n, struct cnode *redir)
{
	bool apex = n->keylen == zf->apex_keylen;
	if (apex)
		n->flags |= ZONES_NODE_APEX;
	if (!apex && type_count(zf, n, LDNS_RR_TYPE_NS, NULL) > 0)
		n->flags |= ZONES_NODE_CUT;
	if (type_count(zf, n, LDNS_RR_TYPE_DNAME, NULL) > 0)
		n->flags |= ZONES_NODE_DNAME;
	/* RFC 5155 7.1: NSEC3 owners are not names of the zone for lookups. */
	if (type_count(zf, n, LDNS_RR_TYPE_NSEC3, NULL) > 0)
		n->flags |= ZONES_NODE_NSEC3;
	if (n->labels > zf->apex_labels && is_wildcard_key(n)) {
		struct cnode *p = zones__cnode_find(zf, n->key, n->keylen - 2);
		if (p != NULL)
			p->flags |= ZONES_NODE_WILDKID;
	}
	if (redir != NULL &&
	    zones__key_common(redir->key, redir->keylen, n->key, n->keylen) == redir->keylen) {
		n->redirect = redir->labels;
		n->flags |= ZONES_NODE_OCCLUDED;
		return redir;
	}
	return (n->flags & (ZONES_NODE_CUT | ZONES_NODE_DNAME)) ? n : NULL;
}

/* Reports the second record of a singleton type at n. */
static void
second_of_type(struct zonefile *zf, struct cnode *n, uint16_t type, const char *what)
{
	char nb[1024];
	if (type_count(zf, n, type, NULL) < 2)
		return;
	struct zrec *r = nth_of_type(zf, n, type, 1);
	zones__report(zf->rep, ZONES_ERROR, rfile(zf, r), r->line, "more than one %s record at %s",
	              what, NODE_NAME());
}

/* SOA placement, CNAME and DNAME exclusivity at one node. */
static void
check_node_types(struct zonefile *zf, struct cnode *n)
{
	char nb[1024], tb[16];
	bool apex = n->flags & ZONES_NODE_APEX;
	struct zrec *cname = NULL, *dname = NULL, *soa = NULL;

	if (type_count(zf, n, LDNS_RR_TYPE_SOA, &soa) > 0 && !apex)
		zones__report(zf->rep, ZONES_ERROR, rfile(zf, soa), soa->line,
		              "SOA record at %s, which is not the zone apex", NODE_NAME());
	second_of_type(zf, n, LDNS_RR_TYPE_SOA, "SOA");
	second_of_type(zf, n, LDNS_RR_TYPE_CNAME, "CNAME");
	second_of_type(zf, n, LDNS_RR_TYPE_DNAME, "DNAME");
	if (type_count(zf, n, LDNS_RR_TYPE_CNAME, &cname) > 0) {
		/* RFC 1034 3.6.2, RFC 2181 10.1; DNSSEC adds RRSIG and NSEC (RFC 4035 2.5). */
		for (size_t k = n->first; k < n->first + n->count; k++) {
			uint16_t t = zf->recs[k]->type;
			if (t != LDNS_RR_TYPE_CNAME && t != LDNS_RR_TYPE_RRSIG && t != LDNS_RR_TYPE_NSEC) {
				zones__report(zf->rep, ZONES_ERROR, rfile(zf, cname), cname->line,
				              "CNAME and other data (%s) at %s",
				              type_str(t, tb, sizeof(tb)), NODE_NAME());
				break;
			}
		}
	}
	if (type_count(zf, n, LDNS_RR_TYPE_DNAME, &dname) > 0 && (n->flags & ZONES_NODE_CUT))
		zones__report(zf->rep, ZONES_ERROR, rfile(zf, dname), dname->line,
		              "DNAME and NS at %s", NODE_NAME());
}

/* Data hidden by a delegation or a DNAME: a warning, once per node. */
static void
check_occluded(struct zonefile *zf, struct cnode *n, const struct cnode *redir)
{
	char nb[1024], rb[1024], tb[16];
	bool at_cut = (n->flags & (ZONES_NODE_CUT | ZONES_NODE_OCCLUDED)) == ZONES_NODE_CUT;
	if (!at_cut && !(n->flags & ZONES_NODE_OCCLUDED))
		return;
	if (at_cut)
		redir = n;
	bool by_cut = (redir->flags & ZONES_NODE_CUT) && !(redir->flags & ZONES_NODE_DNAME);
	for (size_t k = n->first; k < n->first + n->count; k++) {
		struct zrec *r = zf->recs[k];
		/* Glue is fine below a cut; at the cut NS, DS and the DNSSEC records are the
		 * parent's own (RFC 1034 4.2.1, RFC 4035 2.4). */
		if (by_cut && (r->type == LDNS_RR_TYPE_A || r->type == LDNS_RR_TYPE_AAAA))
			continue;
		if (at_cut && (r->type == LDNS_RR_TYPE_NS || r->type == LDNS_RR_TYPE_DS ||
		               r->type == LDNS_RR_TYPE_RRSIG || r->type == LDNS_RR_TYPE_NSEC))
			continue;
		key_str(redir->key, redir->keylen, rb, sizeof(rb));
		zones__report(zf->rep, ZONES_WARNING, rfile(zf, r), r->line,
		              "%s %s is occluded by the %s at %s", NODE_NAME(),
		              type_str(r->type, tb, sizeof(tb)), by_cut ? "delegation" : "DNAME", rb);
		break;
	}
}

/* An NSEC3 owner is the base32hex hash of a name as a label of the apex (RFC 5155 3),
 * and holds nothing but NSEC3 and its signatures: the store keeps such a node out of the
 * normal namespace (RFC 5155 7.1), so other data there could never be answered. */
static void
check_nsec3_owner(struct zonefile *zf, struct cnode *n)
{
	char nb[1024], tb[16];
	uint8_t hash[ZONES_NSEC3_HASH_MAX];
	struct zrec *first = NULL;

	if (!(n->flags & ZONES_NODE_NSEC3))
		return;
	type_count(zf, n, LDNS_RR_TYPE_NSEC3, &first);
	if (zones__nsec3_owner_hash(zf, n, hash) <= 0) {
		zones__report(zf->rep, ZONES_ERROR, rfile(zf, first), first->line,
		              "NSEC3 owner %s is not a base32hex hash label directly below the zone apex "
		              "(RFC 5155 3)", NODE_NAME());
		return;
	}
	for (size_t k = n->first; k < n->first + n->count; k++) {
		struct zrec *r = zf->recs[k];
		if (r->type == LDNS_RR_TYPE_NSEC3 ||
		    (r->type == LDNS_RR_TYPE_RRSIG && r->covers == LDNS_RR_TYPE_NSEC3))
			continue;
		zones__report(zf->rep, ZONES_ERROR, rfile(zf, r), r->line,
		              "%s record at the NSEC3 owner %s (only NSEC3 and its RRSIG may be there)",
		              type_str(r->type, tb, sizeof(tb)), NODE_NAME());
		break;
	}
}

/* The chain the apex NSEC3PARAM names must be there for NSEC3 denial to be served. */
static void
check_nsec3_chain(struct zonefile *zf)
{
	struct zones_nsec3_params p;
	const char *main = zf->files[0];
	size_t owners = 0;

	for (size_t i = 0; i < zf->nnodes; i++)
		owners += (zf->nodes[i].flags & ZONES_NODE_NSEC3) != 0;
	if (!zones__nsec3_zone_params(zf, &p)) {
		if (owners > 0)
			zones__report(zf->rep, ZONES_WARNING, main, 0,
			              "NSEC3 records but no usable NSEC3PARAM (hash 1, flags 0) at the apex: "
			              "answers carry no NSEC3 denial");
		return;
	}
	if (owners == 0)
		zones__report(zf->rep, ZONES_WARNING, main, 0,
		              "NSEC3PARAM at the apex but no NSEC3 records: answers carry no NSEC3 denial");
	if (p.iterations > ZONES_NSEC3_MAX_ITERATIONS)
		zones__report(zf->rep, ZONES_WARNING, main, 0,
		              "NSEC3PARAM iterations %u above %u (RFC 5155 10.3): answers carry no NSEC3 "
		              "denial (RFC 9276 3.1 recommends 0)", p.iterations, ZONES_NSEC3_MAX_ITERATIONS);
}

/* Flags, redirects and the checks that look at one node and its ancestors. */
static void
check_structure(struct zonefile *zf)
{
	struct cnode *redir = NULL;
	for (size_t i = 0; i < zf->nnodes; i++) {
		struct cnode *n = &zf->nodes[i];
		redir = node_flags(zf, n, redir);
		check_node_types(zf, n);
		check_occluded(zf, n, redir);
		check_nsec3_owner(zf, n);
	}
	check_nsec3_chain(zf);
}

#undef NODE_NAME

/* Looks name (wire, in RDATA) up among the nodes: NULL when not in the zone. */
static struct cnode *
find_target(struct zonefile *zf, const uint8_t *name)
{
	uint8_t key[DNAME_KEY_MAXLEN];
	if (!dname_is_subdomain(name, zf->apex))
		return NULL;
	size_t kl = dname_key(name, key);
	return zones__cnode_find(zf, key, kl);
}

/* Targets of NS, MX and SRV: RFC 2181 10.3 says they must not be aliases; an NS target
 * inside the zone needs an address (named: "has no address records"; kzonecheck:
 * "missing glue record"). */
static void
check_targets(struct zonefile *zf)
{
	char nb[1024], tb[16];
	for (size_t i = 0; i < zf->nrecs; i++) {
		struct zrec *r = zf->recs[i];
		const uint8_t *target;
		const uint8_t *rd = zrec_rdata(r);
		if (r->dup)
			continue;
		if (r->type == LDNS_RR_TYPE_NS)
			target = rd;
		else if (r->type == LDNS_RR_TYPE_MX && r->rdlen > 2)
			target = rd + 2;
		else if (r->type == LDNS_RR_TYPE_SRV && r->rdlen > 6)
			target = rd + 6;
		else
			continue;
		struct cnode *t = find_target(zf, target);
		bool in_zone = dname_is_subdomain(target, zf->apex);
		if (t != NULL && type_count(zf, t, LDNS_RR_TYPE_CNAME, NULL) > 0) {
			zones__report(zf->rep, ZONES_WARNING, rfile(zf, r), r->line,
			              "%s target %s is a CNAME", type_str(r->type, tb, sizeof(tb)),
			              dname_to_str(target, nb, sizeof(nb)));
			continue;
		}
		if (r->type != LDNS_RR_TYPE_NS || !in_zone)
			continue;
		if (t == NULL || (type_count(zf, t, LDNS_RR_TYPE_A, NULL) == 0 &&
		                  type_count(zf, t, LDNS_RR_TYPE_AAAA, NULL) == 0))
			zones__report(zf->rep, ZONES_ERROR, rfile(zf, r), r->line,
			              "NS target %s has no address records (A or AAAA): missing glue",
			              dname_to_str(target, nb, sizeof(nb)));
	}
}

static void
check_apex(struct zonefile *zf)
{
	const char *main = zf->files[0];
	struct cnode *apex = zf->nnodes > 0 && zf->nodes[0].keylen == zf->apex_keylen
	                     ? &zf->nodes[0] : NULL;
	if (apex == NULL || type_count(zf, apex, LDNS_RR_TYPE_SOA, NULL) == 0)
		zones__report(zf->rep, ZONES_ERROR, main, 0, "no SOA record at the zone apex");
	if (apex == NULL || type_count(zf, apex, LDNS_RR_TYPE_NS, NULL) == 0)
		zones__report(zf->rep, ZONES_ERROR, main, 0, "no NS records at the zone apex");
}

static void
check_rrset_sizes(struct zonefile *zf)
{
	char nb[1024], tb[16];
	for (size_t i = 0; i < zf->nnodes; i++) {
		struct cnode *n = &zf->nodes[i];
		size_t len = 0, cnt = 0;
		for (size_t k = n->first; k < n->first + n->count; k++) {
			struct zrec *r = zf->recs[k];
			if (k > n->first && (r->type != zf->recs[k - 1]->type ||
			                     r->covers != zf->recs[k - 1]->covers))
				len = cnt = 0;
			if (r->dup)
				continue;
			len += 2u + r->rdlen;
			if (++cnt > 65535 || len > 65535) {
				key_str(n->key, n->keylen, nb, sizeof(nb));
				zones__report(zf->rep, ZONES_ERROR, rfile(zf, r), r->line,
				              "%s %s RRset is larger than a DNS message", nb,
				              type_str(r->type, tb, sizeof(tb)));
				break;
			}
		}
	}
}

int
zones__zonefile_check(struct zonefile *zf)
{
	if (zf->nrecs > 1)
		qsort(zf->recs, zf->nrecs, sizeof(zf->recs[0]), rec_cmp);
	merge_rrsets(zf);
	int rc = build_nodes(zf);
	if (rc != 0)
		return rc;
	check_apex(zf);
	check_structure(zf);
	check_targets(zf);
	check_rrset_sizes(zf);
	if (zf->rep->errors > 0)
		return SP_EZONE;
	if (zf->opts != NULL && zf->opts->warnings_fatal && zf->rep->warnings > 0)
		return SP_EZONE;
	return 0;
}
