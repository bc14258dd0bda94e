/* iter.c - iterative resolution of one name/type (RFC 1034 5.3.3): the closest cached
 * zone cut, server choice, the query (QNAME minimisation RFC 9156 relaxed, 0x20, EDNS with
 * fallback), and what a reply means: answer, CNAME/DNAME chain, negative answer (RFC 2308),
 * referral (bailiwick-checked, glue only from inside the asking server's zone), or a lame
 * or broken server to skip. Glueless NS names are resolved by sub-tasks, capped per
 * delegation and per client query (NXNS). Everything worth keeping goes to the cache;
 * resolver.c composes the client's answer from it. Resolver loop thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/wire.h"
#include "resolver/iter.h"

static void task_next(struct task *t);
static void task_finish(struct task *t, bool ok);

struct task *
iter__task_new(struct request *req, struct task *parent, const uint8_t *qname, uint16_t qtype,
               uint16_t qclass)
{
	if (req->ntasks >= REQ_MAX_TASKS)
		return NULL;
	struct task *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->req = req;
	t->parent = parent;
	dname_copy_lower(t->qname, qname);
	t->qtype = qtype;
	t->qclass = qclass;
	req->tasks[req->ntasks++] = t;
	return t;
}

void
iter__task_cancel(struct task *t)
{
	struct resolver *r = t->req->r;

	if (t->handle != NULL) {
		r->t->cancel(r->t->ctx, t->handle);
		t->handle = NULL;
		struct infra *inf = iter__infra(r, &t->ns[t->cur].addr);
		if (inf != NULL && inf->outstanding > 0)
			inf->outstanding--;
	}
	t->done = true;
}

/* ---- where to ask ------------------------------------------------------------------- */

/* A hint given with a port keeps it when the same address comes back as root glue from
 * priming (so a private root on 127.0.0.1:PORT survives priming). */
static void
addr_from_rdata(struct resolver *r, uint16_t type, const uint8_t *rd, size_t len,
                struct resolver_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (type == LDNS_RR_TYPE_A && len == 4) {
		a->u.sin.sin_family = AF_INET;
		a->u.sin.sin_port = htons(53);
		memcpy(&a->u.sin.sin_addr, rd, 4);
		a->len = sizeof(a->u.sin);
	} else if (type == LDNS_RR_TYPE_AAAA && len == 16) {
		a->u.sin6.sin6_family = AF_INET6;
		a->u.sin6.sin6_port = htons(53);
		memcpy(&a->u.sin6.sin6_addr, rd, 16);
		a->len = sizeof(a->u.sin6);
	} else {
		return;
	}
	for (size_t i = 0; i < r->conf->nhints; i++) {
		struct resolver_addr h = r->conf->hints[i];
		uint16_t port = h.u.sin.sin_port;   /* same offset in sin and sin6 */
		h.u.sin.sin_port = htons(53);
		if (resolver_addr_equal(&h, a))
			a->u.sin.sin_port = port;
	}
}

/* Adds the cached addresses of ns name to t (from index at, or appended). */
static bool
add_cached_addrs(struct task *t, const uint8_t *name, int at)
{
	struct resolver *r = t->req->r;
	static const uint16_t types[] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA };
	bool any = false;

	for (int k = 0; k < 2; k++) {
		const struct cache_entry *e = cache__get(r->cache, name, types[k], t->qclass,
		                                         RANK_GLUE, 0);
		if (e == NULL)
			continue;
		size_t pos = 0;
		for (uint16_t i = 0; e->kind == CACHE_POS && i < e->n && pos + 2 <= e->datalen; i++) {
			uint16_t rdlen = (uint16_t)(e->data[pos] << 8 | e->data[pos + 1]);
			struct nserver *s;
			if (at >= 0) {
				s = &t->ns[at];
				at = -1;
			} else if (t->nns < ITER_MAX_SERVERS) {
				s = &t->ns[t->nns++];
				memset(s, 0, sizeof(*s));
				memcpy(s->name, name, dname_len(name));
				s->fetched = true;
			} else {
				break;
			}
			addr_from_rdata(r, types[k], e->data + pos + 2, rdlen, &s->addr);
			s->has_addr = s->addr.len != 0;
			any |= s->has_addr;
			pos += 2 + (size_t)rdlen;
		}
		cache__put(r->cache, e);
	}
	return any;
}

static void
use_hints(struct task *t)
{
	const struct resolver_conf *c = t->req->r->conf;

	t->zone[0] = 0;
	t->nns = 0;
	for (size_t i = 0; i < c->nhints && t->nns < ITER_MAX_SERVERS; i++) {
		struct nserver *s = &t->ns[t->nns++];
		memset(s, 0, sizeof(*s));
		s->addr = c->hints[i];
		s->has_addr = true;
		s->fetched = true;
	}
}

/* The servers of the deepest cached zone cut at or above the task's name (RFC 1034 5.3.3
 * step 2); the root hints when nothing is cached. */
static void
find_cut(struct task *t)
{
	struct resolver *r = t->req->r;

	t->ns_fetches = 0;
	t->qmin_labels = 0;
	for (int labels = (int)dname_labels(t->qname); labels >= 0; labels--) {
		const uint8_t *zone = dname_suffix(t->qname, (unsigned)labels);
		/* A delegation to the name itself does not serve DS: ask the parent. */
		if (t->qtype == LDNS_RR_TYPE_DS && labels == (int)dname_labels(t->qname) && labels > 0)
			continue;
		const struct cache_entry *e = cache__get(r->cache, zone, LDNS_RR_TYPE_NS, t->qclass,
		                                         RANK_AUTH_NONAA, 0);
		if (e == NULL)
			continue;
		t->nns = 0;
		memcpy(t->zone, zone, dname_len(zone));
		size_t pos = 0;
		for (uint16_t i = 0; i < e->n && pos + 2 <= e->datalen; i++) {
			uint16_t rdlen = (uint16_t)(e->data[pos] << 8 | e->data[pos + 1]);
			struct wire_reader rd;
			uint8_t nsname[DNAME_MAXLEN];
			size_t nlen;
			wire_reader_init(&rd, e->data + pos + 2, rdlen);
			pos += 2 + (size_t)rdlen;
			if (wire_read_name(&rd, nsname, &nlen) != 0 || t->nns >= ITER_MAX_SERVERS)
				continue;
			struct nserver *s = &t->ns[t->nns++];
			memset(s, 0, sizeof(*s));
			dname_copy_lower(s->name, nsname);
			add_cached_addrs(t, s->name, (int)(t->nns - 1));
		}
		cache__put(r->cache, e);
		/* Usable when a server has an address or a name we may look up; else the
		 * parent's servers are the next best (a root NS set without addresses falls
		 * back to the hints). */
		for (unsigned i = 0; i < t->nns; i++) {
			if (t->ns[i].has_addr || !dname_is_subdomain(t->ns[i].name, t->zone))
				return;
		}
	}
	use_hints(t);
}

/* ---- asking ----------------------------------------------------------------------- */

static void on_reply(void *arg, int status, const uint8_t *reply, size_t len);

/* The name to send: with QNAME minimisation one label below the zone cut at a time
 * (RFC 9156 2.3), QTYPE A for the hidden type (RFC 9156 2.1). */
static void
query_name(struct task *t, uint8_t *out, uint16_t *type)
{
	unsigned full = dname_labels(t->qname), zl = dname_labels(t->zone);
	unsigned want = zl + 1 + t->qmin_labels;

	if (!t->req->r->conf->qname_minimisation || t->qmin_off || want >= full ||
	    t->qtype == LDNS_RR_TYPE_DS) {
		memcpy(out, t->qname, dname_len(t->qname));
		*type = t->qtype;
		return;
	}
	const uint8_t *s = dname_suffix(t->qname, want);
	memcpy(out, s, dname_len(s));
	*type = LDNS_RR_TYPE_A;
}

/* 0x20 (draft-vixie-dnsext-dns0x20): random case on every letter; the reply must echo it. */
static void
mix_case(struct resolver *r, uint8_t *name)
{
	uint16_t bits = 0;
	unsigned nb = 0;

	for (size_t i = 0; name[i] != 0; i += (size_t)name[i] + 1) {
		for (size_t j = i + 1; j <= i + name[i]; j++) {
			uint8_t ch = name[j] | 0x20;
			if (ch < 'a' || ch > 'z')
				continue;
			if (nb == 0) {
				bits = iter__random16(r);
				nb = 16;
			}
			name[j] = (bits & 1) ? (uint8_t)(ch & ~0x20) : ch;
			bits >>= 1;
			nb--;
		}
	}
}

static void
send_to(struct task *t, unsigned idx, bool tcp)
{
	struct request *req = t->req;
	struct resolver *r = req->r;
	struct nserver *s = &t->ns[idx];

	if (++req->queries > r->conf->limits.max_upstream_queries) {
		r->stats.limit_hits++;
		log_debug("resolver: upstream query limit reached");
		task_finish(t, false);
		return;
	}
	struct infra *inf = iter__infra(r, &s->addr);
	if (inf == NULL) {
		task_finish(t, false);
		return;
	}
	s->tries++;
	t->cur = idx;
	t->tcp = tcp;
	t->edns = !inf->no_edns && !t->probe_noedns;
	query_name(t, t->sname, &t->stype);
	if (r->conf->use_0x20)
		mix_case(r, t->sname);
	t->sid = iter__random16(r);

	struct wire_writer w;
	wire_writer_init(&w, t->sent, sizeof(t->sent));
	wire_put_u16(&w, t->sid);
	wire_put_u16(&w, 0);                    /* RD=0: we iterate */
	wire_put_u16(&w, 1);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, t->edns ? 1 : 0);
	wire_put_name(&w, t->sname);
	wire_put_u16(&w, t->stype);
	wire_put_u16(&w, t->qclass);
	if (t->edns) {
		/* OPT (RFC 6891 6.1.2): 1232-octet buffer (DNS flag day 2020), DO when validating. */
		wire_put_u8(&w, 0);
		wire_put_u16(&w, LDNS_RR_TYPE_OPT);
		wire_put_u16(&w, 1232);
		wire_put_u32(&w, r->conf->validation ? 0x8000 : 0);
		wire_put_u16(&w, 0);
	}
	t->sentlen = w.len;
	struct resolver_upstream_query uq = {
		.server = &s->addr, .wire = t->sent, .len = w.len, .tcp = tcp,
		.timeout_ms = tcp ? inf->rto * 2 + 1000 : inf->rto,
	};
	t->sent_at_ms = (uint64_t)cache__now_ms(r->cache);
	t->handle = r->t->send(r->t->ctx, &uq, on_reply, t);
	r->stats.upstream_queries++;
	if (t->handle == NULL) {
		task_next(t);
		return;
	}
	inf->outstanding++;
}

/* Starts resolving the address of glueless NS idx (RFC 1034 5.3.3 step 3 sub-query). */
static bool
fetch_ns(struct task *t, unsigned idx)
{
	struct request *req = t->req;
	const struct resolver_limits *lim = &req->r->conf->limits;
	struct nserver *s = &t->ns[idx];

	if (t->ns_fetches >= lim->max_ns_fetch || req->ns_fetches >= lim->max_ns_fetch_total) {
		req->r->stats.limit_hits++;
		return false;
	}
	/* A name below the zone it serves needs glue; without it, asking would loop. */
	if (dname_is_subdomain(s->name, t->zone))
		return false;
	for (struct task *p = t; p != NULL; p = p->parent) {
		if (dname_equal(p->qname, s->name))
			return false;
	}
	struct task *sub = iter__task_new(req, t, s->name,
	                                  s->want_aaaa ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A,
	                                  t->qclass);
	s->fetching = true;
	if (sub == NULL) {
		s->fetched = true;
		return false;
	}
	sub->parent_ns = idx;
	t->ns_fetches++;
	req->ns_fetches++;
	t->pending++;
	iter__task_start(sub);
	return true;
}

static void
task_next(struct task *t)
{
	if (t->done)
		return;
	int idx = iter__select(t->req->r, t);
	if (idx >= 0) {
		send_to(t, (unsigned)idx, false);
		return;
	}
	if (t->pending > 0)
		return;
	for (unsigned i = 0; i < t->nns && !t->done; i++) {
		struct nserver *s = &t->ns[i];
		if (s->has_addr || s->fetching || s->fetched)
			continue;
		s->fetched = true;
		if (fetch_ns(t, i))
			return;
	}
	if (!t->done && t->pending == 0)
		task_finish(t, false);
}

static void
task_finish(struct task *t, bool ok)
{
	if (t->done)
		return;
	t->done = true;
	t->failed = !ok;
	struct task *p = t->parent;
	if (p == NULL) {
		resolver__request_done(t->req, ok);
		return;
	}
	struct nserver *s = &p->ns[t->parent_ns];
	s->fetching = false;
	s->fetched = true;
	if (ok)
		add_cached_addrs(p, s->name, (int)t->parent_ns);
	if (!s->has_addr && t->qtype == LDNS_RR_TYPE_A) {
		/* No IPv4 address: an IPv6-only name server is asked for next (counted as
		 * another fetch against the NXNS caps). */
		s->want_aaaa = true;
		s->fetched = false;
	}
	p->pending--;
	task_next(p);
}

/* ---- the cache first ---------------------------------------------------------------- */

/* Follows what the cache already knows of the task's name: an answer or a negative entry
 * ends the task, a CNAME moves it on (RFC 1034 5.3.3 step 1). */
void
iter__task_start(struct task *t)
{
	struct request *req = t->req;
	struct resolver *r = req->r;

	for (;;) {
		const struct cache_entry *e = NULL;
		if (t->refresh) {
			t->refresh = false;
			break;
		}
		e = cache__get(r->cache, t->qname, t->qtype, t->qclass, RANK_ANSWER_NONAA, 0);
		if (e == NULL)
			e = cache__get(r->cache, t->qname, 0, t->qclass, RANK_ANSWER_NONAA, 0);
		if (e != NULL) {
			cache__put(r->cache, e);
			task_finish(t, true);
			return;
		}
		if (t->qtype == LDNS_RR_TYPE_CNAME ||
		    (e = cache__get(r->cache, t->qname, LDNS_RR_TYPE_CNAME, t->qclass,
		                    RANK_ANSWER_NONAA, 0)) == NULL) {
			/* Nothing cached for the name itself: validated NSEC/NSEC3 ranges may
			 * still prove it absent (RFC 8198); the client's task only, as address
			 * fetches for NS names are not validated. */
			if (t->parent == NULL && secure__aggressive(t)) {
				task_finish(t, true);
				return;
			}
			break;
		}
		struct wire_reader rd;
		uint8_t target[DNAME_MAXLEN];
		size_t tl;
		wire_reader_init(&rd, e->data + 2, e->datalen - 2);
		int rc = wire_read_name(&rd, target, &tl);
		cache__put(r->cache, e);
		if (rc != 0 || ++req->cnames > r->conf->limits.max_cname) {
			task_finish(t, false);
			return;
		}
		dname_copy_lower(t->qname, target);
	}
	find_cut(t);
	task_next(t);
}

/* ---- what a reply means -------------------------------------------------------------- */

struct rrset {
	uint8_t data[65535];
	size_t len;
	uint16_t n;
	uint32_t ttl;
	uint8_t sig[65535];         /* the RRSIGs covering it, same layout */
	size_t siglen;
	uint16_t nsig;
};

/* Appends rr's RDATA to buf in the [u16 rdlen][rdata] layout; false if it does not fit. */
static bool
append_rdata(ldns_buffer *b, const ldns_rr *rr, uint8_t *buf, size_t cap, size_t *len)
{
	ldns_buffer_clear(b);
	if (ldns_rr_rdata2buffer_wire(b, rr) != LDNS_STATUS_OK)
		return false;
	size_t rl = ldns_buffer_position(b);
	if (*len + 2 + rl > cap)
		return false;
	buf[*len] = (uint8_t)(rl >> 8);
	buf[*len + 1] = (uint8_t)rl;
	memcpy(buf + *len + 2, ldns_buffer_begin(b), rl);
	*len += 2 + rl;
	return true;
}

/* Collects the RRs of list with owner/type/class into out (POS layout); false if none. */
static bool
collect(const ldns_rr_list *list, const uint8_t *owner, uint16_t type, uint16_t rclass,
        struct rrset *out)
{
	ldns_buffer *b = ldns_buffer_new(512);
	out->len = out->siglen = 0;
	out->n = out->nsig = 0;
	out->ttl = UINT32_MAX;
	for (size_t i = 0; b != NULL && i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		ldns_rdf *o = ldns_rr_owner(rr);
		if (ldns_rr_get_class(rr) != rclass || !dname_equal(ldns_rdf_data(o), owner))
			continue;
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG) {
			/* Kept for DO=1 clients and the validator: RRSIGs covering this type. */
			if (ldns_rr_rd_count(rr) > 0 && ldns_rdf_size(ldns_rr_rdf(rr, 0)) == 2 &&
			    ldns_rdf2rr_type(ldns_rr_rdf(rr, 0)) == type && out->nsig < 16 &&
			    append_rdata(b, rr, out->sig, sizeof(out->sig), &out->siglen))
				out->nsig++;
			continue;
		}
		if (ldns_rr_get_type(rr) != type)
			continue;
		if (!append_rdata(b, rr, out->data, sizeof(out->data), &out->len))
			break;
		out->n++;
		if (ldns_rr_ttl(rr) < out->ttl)
			out->ttl = ldns_rr_ttl(rr);
	}
	ldns_buffer_free(b);
	return out->n > 0;
}

static void
cache_rrset(struct task *t, const uint8_t *owner, uint16_t type, struct rrset *s, uint8_t rank)
{
	cache__put_rrset_full(t->req->r->cache, owner, type, t->qclass, s->ttl, rank, s->data,
	                      s->len, s->n, s->sig, s->siglen, s->nsig, 0);
}

/* True when an RRSIG of s has fewer labels than owner: the RRset was expanded from a
 * wildcard (RFC 4034 3.1.3), and its answer carries the proof that owner itself does not
 * exist (RFC 4035 3.1.3.3), which validation needs (RFC 4035 5.3.4). */
static bool
wildcard_signed(const uint8_t *owner, const struct rrset *s)
{
	size_t pos = 0;
	unsigned labels = dname_labels(owner);

	for (uint16_t i = 0; i < s->nsig && pos + 2 <= s->siglen; i++) {
		size_t rdlen = (size_t)(s->sig[pos] << 8 | s->sig[pos + 1]);
		if (rdlen >= 4 && pos + 2 + rdlen <= s->siglen && s->sig[pos + 2 + 3] < labels)
			return true;
		pos += 2 + rdlen;
	}
	return false;
}

static uint8_t *denial_proof(struct task *t, const ldns_pkt *p, size_t *len, uint16_t *n);

/* An answer RRset; a wildcard expansion keeps the authority section's denial records. */
static void
cache_answer_rrset(struct task *t, const ldns_pkt *p, const uint8_t *owner, uint16_t type,
                   struct rrset *s, uint8_t rank)
{
	size_t prooflen = 0;
	uint16_t nproof = 0;
	uint8_t *proof = wildcard_signed(owner, s) ? denial_proof(t, p, &prooflen, &nproof) : NULL;

	if (proof != NULL && nproof > 0)
		cache__put_rrset_proven(t->req->r->cache, owner, type, t->qclass, s->ttl, rank, s->data,
		                        s->len, s->n, s->sig, s->siglen, s->nsig, proof, prooflen,
		                        nproof);
	else
		cache_rrset(t, owner, type, s, rank);
	free(proof);
}

/* The SOA in auth that can prove a negative answer for name: owned by the zone asked or a
 * zone below it that is an ancestor of name (RFC 2308 3). */
/* The NSEC, NSEC3 and RRSIG records of the authority section inside the zone asked:
 * what a validator needs to check the denial (RFC 4035 3.1.3, RFC 5155 7.2). */
static uint8_t *
denial_proof(struct task *t, const ldns_pkt *p, size_t *len, uint16_t *n)
{
	ldns_rr_list *auth = ldns_pkt_authority(p);
	ldns_buffer *b = ldns_buffer_new(512);
	uint8_t *out = malloc(16384);

	*len = 0;
	*n = 0;
	for (size_t i = 0; b != NULL && out != NULL && i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		ldns_rr_type ty = ldns_rr_get_type(rr);
		const uint8_t *o = ldns_rdf_data(ldns_rr_owner(rr));
		if ((ty != LDNS_RR_TYPE_NSEC && ty != LDNS_RR_TYPE_NSEC3 && ty != LDNS_RR_TYPE_RRSIG) ||
		    !dname_is_subdomain(o, t->zone) || *n >= 32)
			continue;
		size_t ol = dname_len(o), rdl;
		uint8_t rd[4096];
		size_t rdlen = 0;
		if (!append_rdata(b, rr, rd, sizeof(rd), &rdlen) || *len + ol + 10 + rdlen > 16384)
			continue;
		rdl = rdlen - 2;
		memcpy(out + *len, o, ol);
		uint8_t *h = out + *len + ol;
		h[0] = (uint8_t)(ty >> 8);
		h[1] = (uint8_t)ty;
		h[2] = (uint8_t)(ldns_rr_get_class(rr) >> 8);
		h[3] = (uint8_t)ldns_rr_get_class(rr);
		uint32_t ttl = ldns_rr_ttl(rr);
		h[4] = (uint8_t)(ttl >> 24);
		h[5] = (uint8_t)(ttl >> 16);
		h[6] = (uint8_t)(ttl >> 8);
		h[7] = (uint8_t)ttl;
		memcpy(h + 8, rd, rdlen);      /* [u16 rdlen][rdata] */
		*len += ol + 8 + 2 + rdl;
		(*n)++;
	}
	ldns_buffer_free(b);
	return out;
}

static void
cache_negative(struct task *t, const ldns_pkt *p, const uint8_t *name, uint8_t kind, uint8_t rank)
{
	ldns_rr_list *auth = ldns_pkt_authority(p);
	ldns_buffer *b = ldns_buffer_new(256);
	size_t prooflen;
	uint16_t nproof;
	uint8_t *proof = denial_proof(t, p, &prooflen, &nproof);

	for (size_t i = 0; b != NULL && i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		const uint8_t *o = ldns_rdf_data(ldns_rr_owner(rr));
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || !dname_is_subdomain(name, o) ||
		    !dname_is_subdomain(o, t->zone))
			continue;
		if (ldns_rr_rdata2buffer_wire(b, rr) != LDNS_STATUS_OK)
			break;
		uint8_t lo[DNAME_MAXLEN];
		dname_copy_lower(lo, o);
		cache__put_negative(t->req->r->cache, name, t->qtype, t->qclass, kind, lo,
		                    ldns_rr_ttl(rr), ldns_buffer_begin(b), ldns_buffer_position(b), rank,
		                    proof, prooflen, nproof);
		ldns_buffer_free(b);
		free(proof);
		return;
	}
	ldns_buffer_free(b);
	/* No usable SOA: remember nothing for longer than this resolution (RFC 2308 5). */
	cache__put_negative(t->req->r->cache, name, t->qtype, t->qclass, kind, NULL, 0, NULL, 0, rank,
	                    proof, prooflen, nproof);
	free(proof);
}

static bool
has_soa(const ldns_pkt *p)
{
	ldns_rr_list *auth = ldns_pkt_authority(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		if (ldns_rr_get_type(ldns_rr_list_rr(auth, i)) == LDNS_RR_TYPE_SOA)
			return true;
	}
	return false;
}

/* The NS owner of a referral: below the zone asked, at or above the name. */
static const uint8_t *
referral_cut(struct task *t, const ldns_pkt *p, const uint8_t *name)
{
	ldns_rr_list *auth = ldns_pkt_authority(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		const uint8_t *o = ldns_rdf_data(ldns_rr_owner(rr));
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS && dname_is_subdomain(name, o) &&
		    dname_is_subdomain(o, t->zone) && !dname_equal(o, t->zone))
			return o;
	}
	return NULL;
}

/* Follows a referral to cut: caches its NS (parent's copy) and the glue that lies inside
 * the zone of the server that sent it (RFC 2181 5.4.1, the bailiwick rule); addresses of
 * other names are ignored, so a server can only vouch for names it is authoritative for. */
static void
follow_referral(struct task *t, const ldns_pkt *p, const uint8_t *cut_in)
{
	struct request *req = t->req;
	struct resolver *r = req->r;
	struct rrset *s = malloc(sizeof(*s));
	uint8_t cut[DNAME_MAXLEN], oldzone[DNAME_MAXLEN];

	if (s == NULL || ++req->referrals > r->conf->limits.max_referrals) {
		if (s != NULL)
			r->stats.limit_hits++;
		free(s);
		task_finish(t, false);
		return;
	}
	dname_copy_lower(cut, cut_in);
	memcpy(oldzone, t->zone, dname_len(t->zone));
	collect(ldns_pkt_authority(p), cut, LDNS_RR_TYPE_NS, t->qclass, s);
	cache_rrset(t, cut, LDNS_RR_TYPE_NS, s, RANK_AUTH_NONAA);

	memcpy(t->zone, cut, dname_len(cut));
	t->nns = 0;
	t->ns_fetches = 0;
	t->qmin_labels = 0;
	ldns_rr_list *auth = ldns_pkt_authority(p), *add = ldns_pkt_additional(p);
	for (size_t i = 0; i < ldns_rr_list_rr_count(auth) && t->nns < ITER_MAX_SERVERS; i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS ||
		    !dname_equal(ldns_rdf_data(ldns_rr_owner(rr)), cut) || ldns_rr_rd_count(rr) != 1)
			continue;
		uint8_t nsname[DNAME_MAXLEN];
		dname_copy_lower(nsname, ldns_rdf_data(ldns_rr_rdf(rr, 0)));
		if (dname_is_subdomain(nsname, oldzone)) {
			static const uint16_t types[] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA };
			for (int k = 0; k < 2; k++) {
				if (collect(add, nsname, types[k], t->qclass, s))
					cache_rrset(t, nsname, types[k], s, RANK_GLUE);
			}
		}
		struct nserver *ns = &t->ns[t->nns++];
		memset(ns, 0, sizeof(*ns));
		memcpy(ns->name, nsname, dname_len(nsname));
		add_cached_addrs(t, nsname, (int)(t->nns - 1));
	}
	free(s);
	task_next(t);
}

/* Synthesizes the CNAME target of name under a DNAME owner -> target (RFC 6672 2.2). */
static bool
dname_substitute(const uint8_t *name, const uint8_t *owner, const uint8_t *target, uint8_t *out)
{
	size_t nl = dname_len(name), ol = dname_len(owner), tl = dname_len(target);
	size_t prefix = nl - ol;

	if (prefix + tl > DNAME_MAXLEN)
		return false;
	memcpy(out, name, prefix);
	memcpy(out + prefix, target, tl);
	return true;
}

/* An NS answer (priming, RFC 8109 4.1, or any zone's own NS): the addresses of the NS
 * names that lie inside the zone asked, as glue. ns is reused as scratch. */
static void
cache_ns_addresses(struct task *t, const ldns_pkt *p, const uint8_t *owner, struct rrset *ns)
{
	ldns_rr_list *an = ldns_pkt_answer(p), *add = ldns_pkt_additional(p);
	uint8_t names[ITER_MAX_SERVERS][DNAME_MAXLEN];
	unsigned n = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(an) && n < ITER_MAX_SERVERS; i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS && ldns_rr_rd_count(rr) == 1 &&
		    dname_equal(ldns_rdf_data(ldns_rr_owner(rr)), owner))
			dname_copy_lower(names[n++], ldns_rdf_data(ldns_rr_rdf(rr, 0)));
	}
	for (unsigned i = 0; i < n; i++) {
		static const uint16_t types[] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA };
		if (!dname_is_subdomain(names[i], t->zone))
			continue;
		for (int k = 0; k < 2; k++) {
			if (collect(add, names[i], types[k], t->qclass, ns))
				cache_rrset(t, names[i], types[k], ns, RANK_GLUE);
		}
	}
}

enum chain { CHAIN_DONE, CHAIN_MOVED, CHAIN_FAIL };

/* Walks the answer section from cur along CNAMEs and DNAMEs inside the zone asked,
 * caching each link; stops at the data, or where the response says no more. */
static enum chain
walk_answer(struct task *t, const ldns_pkt *p, uint8_t *cur, struct rrset *s)
{
	struct request *req = t->req;
	const struct resolver_limits *lim = &req->r->conf->limits;
	ldns_rr_list *an = ldns_pkt_answer(p);
	uint8_t rank = ldns_pkt_aa(p) ? RANK_ANSWER_AA : RANK_ANSWER_NONAA;

	for (unsigned hop = 0; hop <= lim->max_cname; hop++) {
		/* Only data for names inside the zone asked may be believed (bailiwick). */
		if (!dname_is_subdomain(cur, t->zone))
			return CHAIN_MOVED;
		if (collect(an, cur, t->qtype, t->qclass, s)) {
			cache_answer_rrset(t, p, cur, t->qtype, s, rank);
			if (t->qtype == LDNS_RR_TYPE_NS)
				cache_ns_addresses(t, p, cur, s);
			return CHAIN_DONE;
		}
		if (t->qtype != LDNS_RR_TYPE_CNAME && collect(an, cur, LDNS_RR_TYPE_CNAME, t->qclass, s)) {
			cache_answer_rrset(t, p, cur, LDNS_RR_TYPE_CNAME, s, rank);
			if (++req->cnames > lim->max_cname)
				return CHAIN_FAIL;
			struct wire_reader rd;
			size_t tl;
			uint8_t target[DNAME_MAXLEN];
			wire_reader_init(&rd, s->data + 2, s->len - 2);
			if (wire_read_name(&rd, target, &tl) != 0)
				return CHAIN_FAIL;
			dname_copy_lower(cur, target);
			continue;
		}
		bool moved = false;
		for (size_t i = 0; i < ldns_rr_list_rr_count(an) && !moved; i++) {
			ldns_rr *rr = ldns_rr_list_rr(an, i);
			const uint8_t *o = ldns_rdf_data(ldns_rr_owner(rr));
			if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNAME || ldns_rr_rd_count(rr) != 1 ||
			    dname_equal(cur, o) || !dname_is_subdomain(cur, o) ||
			    !dname_is_subdomain(o, t->zone))
				continue;
			uint8_t owner[DNAME_MAXLEN], target[DNAME_MAXLEN];
			dname_copy_lower(owner, o);
			if (!collect(an, owner, LDNS_RR_TYPE_DNAME, t->qclass, s))
				continue;
			cache_rrset(t, owner, LDNS_RR_TYPE_DNAME, s, rank);
			if (++req->cnames > lim->max_cname ||
			    !dname_substitute(cur, owner, ldns_rdf_data(ldns_rr_rdf(rr, 0)), target))
				return CHAIN_FAIL;
			/* The synthesized CNAME carries the DNAME's TTL (RFC 6672 3.1). */
			uint32_t ttl = s->ttl;
			size_t tl = dname_copy_lower(target, target);
			s->data[0] = (uint8_t)(tl >> 8);
			s->data[1] = (uint8_t)tl;
			memcpy(s->data + 2, target, tl);
			s->len = 2 + tl;
			s->n = 1;
			s->ttl = ttl;
			cache__put_rrset_synth(req->r->cache, cur, LDNS_RR_TYPE_CNAME, t->qclass, s->ttl,
			                       rank, s->data, s->len, s->n, dname_labels(owner));
			memcpy(cur, target, tl);
			moved = true;
		}
		if (!moved)
			return CHAIN_MOVED;
	}
	return CHAIN_FAIL;
}

static void
handle_answer(struct task *t, const ldns_pkt *p)
{
	uint8_t cur[DNAME_MAXLEN];
	uint8_t rcode = ldns_pkt_get_rcode(p);
	uint8_t rank = ldns_pkt_aa(p) ? RANK_AUTH_AA : RANK_AUTH_NONAA + 1;
	struct rrset *s = malloc(sizeof(*s));

	if (s == NULL) {
		task_finish(t, false);
		return;
	}
	dname_copy_lower(cur, t->qname);
	enum chain c = walk_answer(t, p, cur, s);
	free(s);
	if (c == CHAIN_FAIL) {
		task_finish(t, false);
		return;
	}
	if (c == CHAIN_DONE) {
		task_finish(t, true);
		return;
	}
	bool moved = !dname_equal(cur, t->qname);
	if (dname_is_subdomain(cur, t->zone)) {
		if (rcode == LDNS_RCODE_NXDOMAIN) {
			cache_negative(t, p, cur, CACHE_NXDOMAIN, rank);
			task_finish(t, true);
			return;
		}
		const uint8_t *cut = moved ? NULL : referral_cut(t, p, cur);
		if (cut != NULL && !has_soa(p)) {
			follow_referral(t, p, cut);
			return;
		}
		if (ldns_pkt_aa(p) || has_soa(p)) {
			cache_negative(t, p, cur, CACHE_NODATA, rank);
			task_finish(t, true);
			return;
		}
		if (!moved) {
			/* Neither answer nor referral nor authoritative: lame (RFC 4697 2.8). */
			iter__set_lame(t->req->r, t->zone, &t->ns[t->cur].addr);
			task_next(t);
			return;
		}
	}
	/* The chain left the zone: start over from the cache for the new name. */
	dname_copy_lower(t->qname, cur);
	iter__task_start(t);
}

/* A reply to a minimised question: go one label deeper, or follow the referral. */
static void
handle_minimised(struct task *t, const ldns_pkt *p)
{
	uint8_t sname[DNAME_MAXLEN];
	dname_copy_lower(sname, t->sname);
	const uint8_t *cut = referral_cut(t, p, sname);

	if (ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN) {
		/* Relaxed mode (RFC 9156 2.3): some servers answer NXDOMAIN for empty
		 * non-terminals, so ask the full name instead of believing it. */
		t->qmin_off = true;
	} else if (cut != NULL && ldns_pkt_ancount(p) == 0 && !has_soa(p)) {
		follow_referral(t, p, cut);
		return;
	} else if (ldns_pkt_aa(p) || has_soa(p) || ldns_pkt_ancount(p) > 0) {
		t->qmin_labels++;
	} else {
		iter__set_lame(t->req->r, t->zone, &t->ns[t->cur].addr);
		task_next(t);
		return;
	}
	/* Progress: every server of the zone may be asked again. */
	for (unsigned i = 0; i < t->nns; i++)
		t->ns[i].tries = 0;
	task_next(t);
}

/* True when p answers exactly what t sent: the ID, and the question octet for octet
 * (0x20 case included); RFC 5452 9.1. */
static bool
matches(const struct task *t, const uint8_t *reply, size_t len)
{
	size_t qlen = t->sentlen - 12 - (t->edns ? 11 : 0);
	if (len < 12 + qlen || reply[0] != (t->sid >> 8) || reply[1] != (t->sid & 0xff) ||
	    reply[4] != 0 || reply[5] != 1)
		return false;
	return memcmp(reply + 12, t->sent + 12, qlen) == 0;
}

static void
on_reply(void *arg, int status, const uint8_t *reply, size_t len)
{
	struct task *t = arg;
	struct resolver *r = t->req->r;
	struct nserver *s = &t->ns[t->cur];
	struct infra *inf = iter__infra(r, &s->addr);

	t->handle = NULL;
	if (inf != NULL && inf->outstanding > 0)
		inf->outstanding--;
	if (status != 0) {
		r->stats.upstream_timeouts++;
		if (inf != NULL) {
			iter__timeout(inf);
			/* A server never heard that ignores a query with OPT may sit behind a
			 * middlebox that drops EDNS: probe it once without (RFC 6891 7). */
			t->probe_noedns = t->edns && !inf->known;
		}
		task_next(t);
		return;
	}
	ldns_pkt *p = NULL;
	if (!matches(t, reply, len) || ldns_wire2pkt(&p, reply, len) != LDNS_STATUS_OK ||
	    !ldns_pkt_qr(p)) {
		r->stats.rejected_replies++;
		ldns_pkt_free(p);
		task_next(t);
		return;
	}
	if (inf != NULL) {
		uint64_t now = (uint64_t)cache__now_ms(r->cache);
		iter__rtt_update(inf, (uint32_t)(now - t->sent_at_ms));
		if (t->probe_noedns && !t->edns) {
			/* Silent with EDNS, answers without: remember (and count) the fallback. */
			inf->no_edns = true;
			r->stats.edns_fallbacks++;
		}
	}
	t->probe_noedns = false;
	uint8_t rcode = ldns_pkt_get_rcode(p);
	if (t->edns && inf != NULL && (rcode == LDNS_RCODE_FORMERR || rcode == LDNS_RCODE_NOTIMPL)) {
		/* RFC 6891 7: a server that does not know EDNS; ask again without OPT. */
		inf->no_edns = true;
		r->stats.edns_fallbacks++;
		ldns_pkt_free(p);
		send_to(t, t->cur, t->tcp);
		return;
	}
	if (ldns_pkt_tc(p) && !t->tcp) {
		/* RFC 7766 5: truncated over UDP, so ask the same server over TCP. */
		r->stats.tcp_retries++;
		ldns_pkt_free(p);
		send_to(t, t->cur, true);
		return;
	}
	if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
		iter__set_lame(r, t->zone, &s->addr);
		ldns_pkt_free(p);
		task_next(t);
		return;
	}
	if (!dname_equal(t->sname, t->qname) || t->stype != t->qtype)
		handle_minimised(t, p);
	else
		handle_answer(t, p);
	ldns_pkt_free(p);
}
