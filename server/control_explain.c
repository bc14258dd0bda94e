/* control_explain.c - `signpostctl explain NAME TYPE --client ADDR [--ecs SUBNET]`: which
 * answer the daemon would give that client, and why.
 *
 * Builds the query that client (or a resolver with that ECS subnet, RFC 7871) would send
 * and answers it with the real answer_query() on the control socket's own zone snapshot and,
 * with GSLB, a snapshot read as a worker reads it; then decodes the response with ldns and
 * adds the lookup's zone and result kind and the GSLB pick with its members' health.
 * Main thread (the control socket's loop). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "gslb/gslb.h"
#include "lib/dname.h"
#include "server/control.h"

/* ---- explain --------------------------------------------------------------------------------- */

struct explain_args {
	const char *name, *type, *client, *ecs;
	uint8_t qname[LDNS_MAX_DOMAINLEN + 1];
	size_t qname_len;
	uint16_t qtype;
	struct sockaddr_storage addr;
	bool has_ecs;
	uint16_t ecs_family;
	uint8_t ecs_source;
	uint8_t ecs_addr[16];
};

static bool
explain_parse(struct req *r, struct explain_args *x)
{
	for (int i = 1; i < r->argc; i++) {
		if (strcmp(r->argv[i], "--client") == 0 && i + 1 < r->argc)
			x->client = r->argv[++i];
		else if (strcmp(r->argv[i], "--ecs") == 0 && i + 1 < r->argc)
			x->ecs = r->argv[++i];
		else if (x->name == NULL && r->argv[i][0] != '-')
			x->name = r->argv[i];
		else if (x->type == NULL && r->argv[i][0] != '-')
			x->type = r->argv[i];
		else {
			control__refuse(r, "explain: unexpected argument '%s'", r->argv[i]);
			return false;
		}
	}
	if (x->name == NULL || x->type == NULL || x->client == NULL) {
		control__refuse(r, "usage: explain NAME TYPE --client ADDR [--ecs SUBNET]");
		return false;
	}
	ldns_rdf *d = NULL;
	if (ldns_str2rdf_dname(&d, x->name) != LDNS_STATUS_OK || ldns_rdf_size(d) > sizeof(x->qname)) {
		ldns_rdf_deep_free(d);
		control__refuse(r, "explain: not a domain name: '%s'", x->name);
		return false;
	}
	x->qname_len = ldns_rdf_size(d);
	memcpy(x->qname, ldns_rdf_data(d), x->qname_len);
	ldns_rdf_deep_free(d);
	x->qtype = (uint16_t)ldns_get_rr_type_by_name(x->type);
	if (x->qtype == 0) {
		control__refuse(r, "explain: unknown record type '%s'", x->type);
		return false;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&x->addr;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&x->addr;
	if (inet_pton(AF_INET, x->client, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, x->client, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
	} else {
		control__refuse(r, "explain: --client needs an IPv4 or IPv6 address, not '%s'", x->client);
		return false;
	}
	if (x->ecs == NULL)
		return true;
	char a[64];
	const char *slash = strchr(x->ecs, '/');
	size_t alen = slash != NULL ? (size_t)(slash - x->ecs) : strlen(x->ecs);
	if (alen >= sizeof(a))
		goto bad_ecs;
	memcpy(a, x->ecs, alen);
	a[alen] = '\0';
	unsigned long prefix;
	if (inet_pton(AF_INET, a, x->ecs_addr) == 1) {
		x->ecs_family = 1;
		prefix = 32;
	} else if (inet_pton(AF_INET6, a, x->ecs_addr) == 1) {
		x->ecs_family = 2;
		prefix = 128;
	} else {
		goto bad_ecs;
	}
	if (slash != NULL) {
		char *end;
		unsigned long max = prefix;
		prefix = strtoul(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || prefix > max)
			goto bad_ecs;
	}
	x->ecs_source = (uint8_t)prefix;
	x->has_ecs = true;
	return true;
bad_ecs:
	control__refuse(r, "explain: --ecs needs ADDRESS/PREFIX (e.g. 192.0.2.0/24), not '%s'", x->ecs);
	return false;
}

/* Builds the query a resolver would send: RD clear, EDNS (RFC 6891) and, with --ecs, an
 * EDNS Client Subnet option whose address is cut to the source prefix (RFC 7871 6). */
static size_t
explain_query(const struct explain_args *x, uint8_t *q, size_t cap)
{
	size_t n = 0;
	static const uint8_t hdr[12] = { 0x5e, 0x1f, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1 };
	memcpy(q, hdr, sizeof(hdr));
	n = sizeof(hdr);
	memcpy(q + n, x->qname, x->qname_len);
	n += x->qname_len;
	q[n++] = (uint8_t)(x->qtype >> 8);
	q[n++] = (uint8_t)x->qtype;
	q[n++] = 0;
	q[n++] = 1;  /* IN */
	size_t addr_len = x->has_ecs ? (x->ecs_source + 7u) / 8u : 0;
	size_t optlen = x->has_ecs ? 4 + 4 + addr_len : 0;
	uint8_t opt[11] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, (uint8_t)(optlen >> 8),
	                    (uint8_t)optlen };
	memcpy(q + n, opt, sizeof(opt));
	n += sizeof(opt);
	if (x->has_ecs && n + optlen <= cap) {
		q[n++] = 0;
		q[n++] = 8;  /* EDNS Client Subnet */
		q[n++] = (uint8_t)((4 + addr_len) >> 8);
		q[n++] = (uint8_t)(4 + addr_len);
		q[n++] = (uint8_t)(x->ecs_family >> 8);
		q[n++] = (uint8_t)x->ecs_family;
		q[n++] = x->ecs_source;
		q[n++] = 0;  /* scope: 0 in queries */
		memcpy(q + n, x->ecs_addr, addr_len);
		if (addr_len > 0 && x->ecs_source % 8 != 0)
			q[n + addr_len - 1] &= (uint8_t)(0xff << (8 - x->ecs_source % 8));
		n += addr_len;
	}
	return n;
}

static const char *
kind_name(int kind)
{
	switch (kind) {
	case ZONES_NOT_OURS: return "not ours (no served zone contains the name: REFUSED)";
	case ZONES_FOUND: return "found";
	case ZONES_CNAME: return "CNAME";
	case ZONES_NODATA: return "NODATA (the name exists, the type does not)";
	case ZONES_NXDOMAIN: return "NXDOMAIN";
	case ZONES_DELEGATION: return "delegation (referral)";
	case ZONES_DNAME: return "DNAME";
	default: return "lookup error";
	}
}

/* The "why" of a dynamic name: which members the policy picks for this client now (one
 * draw: weighted and round-robin policies differ from draw to draw) and their health. */
struct explain_gslb {
	struct req *r;
	const struct gslb_answer *ans;
	struct ops_buf picked;
	char pool[GSLB_NAME_MAX + 1];   /* copied: status strings die with the callback */
	unsigned idx;
};

static void
explain_member(void *arg, const struct gslb_member_status *st)
{
	struct explain_gslb *eg = arg;
	for (unsigned i = 0; i < eg->ans->count; i++) {
		if (eg->ans->member[i] != eg->idx)
			continue;
		if (eg->pool[0] == '\0')
			snprintf(eg->pool, sizeof(eg->pool), "%s", st->pool);
		if (eg->r->json) {
			ops_buf_printf(&eg->picked, "%s{\"pool\":", eg->picked.len > 0 ? "," : "");
			ops_buf_json_str(&eg->picked, st->pool);
			ops_buf_printf(&eg->picked, ",\"member\":");
			ops_buf_json_str(&eg->picked, st->member);
			ops_buf_printf(&eg->picked, ",\"up\":%s,\"drained\":%s,\"weight\":%u,\"reason\":",
			               st->up ? "true" : "false", st->drained ? "true" : "false",
			               st->weight);
			ops_buf_json_str(&eg->picked, st->reason);
			ops_buf_printf(&eg->picked, "}");
		} else {
			ops_buf_printf(&eg->picked, "  picked %s/%s: %s%s, weight %u%s%s\n", st->pool,
			               st->member, st->up ? "up" : "DOWN", st->drained ? ", drained" : "",
			               st->weight, st->reason != NULL && st->reason[0] ? ", " : "",
			               st->reason != NULL ? st->reason : "");
		}
		break;
	}
	eg->idx++;
}

/* gs: the snapshot the answer below is computed from (NULL without GSLB); seed: the
 * generator seed the answer will use, so this pick and the answer's are the same draw. */
static void
explain_gslb(struct req *r, const struct explain_args *x, const struct gslb_state *gs,
             uint64_t seed)
{
	struct gslb_runtime *rt = control__gslb(r->ctl);
	if (rt == NULL || gs == NULL) {
		if (r->json)
			ops_buf_printf(r->out, ",\"gslb\":null");
		return;
	}
	struct gslb_client gc = { .addr = (const struct sockaddr *)&x->addr, .has_ecs = x->has_ecs,
	                          .ecs_family = x->ecs_family, .ecs_source = x->ecs_source };
	memcpy(gc.ecs_addr, x->ecs_addr, sizeof(gc.ecs_addr));
	struct gslb_answer ans;
	gslb_pick_seed(seed);
	int rc = gslb_pick(gs, x->qname, x->qtype, &gc, &ans);
	if (rc != 0) {
		if (r->json)
			ops_buf_printf(r->out, ",\"gslb\":{\"dynamic\":false}");
		else
			ops_buf_printf(r->out, "gslb:    not a dynamic name\n");
		return;
	}
	struct explain_gslb eg = { .r = r, .ans = &ans };
	gslb_status(rt, explain_member, &eg);
	const char *fb = (ans.flags & GSLB_ANSWER_SORRY) != 0      ? "sorry pool"
	                 : (ans.flags & GSLB_ANSWER_FALLBACK) != 0 ? "fallback"
	                                                            : NULL;
	if (r->json) {
		ops_buf_printf(r->out, ",\"gslb\":{\"dynamic\":true,\"pool\":");
		ops_buf_json_str(r->out, eg.pool[0] != '\0' ? eg.pool : NULL);
		ops_buf_printf(r->out, ",\"addresses\":%u,\"ttl\":%" PRIu32 ",\"ecs_scope\":%u,"
		               "\"fallback\":", ans.count, ans.ttl, ans.scope);
		ops_buf_json_str(r->out, fb);
		ops_buf_printf(r->out, ",\"picked\":[%s]}", eg.picked.s != NULL ? eg.picked.s : "");
	} else {
		ops_buf_printf(r->out, "gslb:    dynamic name of pool %s: %u address(es), TTL %" PRIu32
		               ", ECS scope /%u%s%s\n%s", eg.pool[0] != '\0' ? eg.pool : "?", ans.count,
		               ans.ttl, ans.scope, fb != NULL ? ", answered by the " : "",
		               fb != NULL ? fb : "", eg.picked.s != NULL ? eg.picked.s : "");
	}
	ops_buf_free(&eg.picked);
}

static void
explain_print_answer(struct req *r, const uint8_t *resp, size_t len)
{
	ldns_pkt *p = NULL;
	if (len == 0 || ldns_wire2pkt(&p, resp, len) != LDNS_STATUS_OK) {
		if (r->json)
			ops_buf_printf(r->out, ",\"response\":null");
		else
			ops_buf_printf(r->out, "answer:  (no response: the query would be dropped)\n");
		return;
	}
	char *rc = ldns_pkt_rcode2str(ldns_pkt_get_rcode(p));
	ldns_rr_list *sec[3] = { ldns_pkt_answer(p), ldns_pkt_authority(p), ldns_pkt_additional(p) };
	static const char *names[3] = { "answer", "authority", "additional" };
	if (r->json) {
		ops_buf_printf(r->out, ",\"response\":{\"rcode\":\"%s\",\"aa\":%s,\"tc\":%s", rc,
		               ldns_pkt_aa(p) ? "true" : "false", ldns_pkt_tc(p) ? "true" : "false");
	} else {
		ops_buf_printf(r->out, "rcode:   %s%s%s\n", rc, ldns_pkt_aa(p) ? ", authoritative" : "",
		               ldns_pkt_tc(p) ? ", truncated" : "");
	}
	for (int s = 0; s < 3; s++) {
		if (r->json)
			ops_buf_printf(r->out, ",\"%s\":[", names[s]);
		else if (ldns_rr_list_rr_count(sec[s]) > 0)
			ops_buf_printf(r->out, "%s:\n", names[s]);
		for (size_t i = 0; i < ldns_rr_list_rr_count(sec[s]); i++) {
			char *t = ldns_rr2str(ldns_rr_list_rr(sec[s], i));
			if (t == NULL)
				continue;
			t[strcspn(t, "\n")] = '\0';
			if (r->json) {
				ops_buf_printf(r->out, "%s", i > 0 ? "," : "");
				ops_buf_json_str(r->out, t);
			} else {
				ops_buf_printf(r->out, "  %s\n", t);
			}
			free(t);
		}
		if (r->json)
			ops_buf_printf(r->out, "]");
	}
	if (r->json)
		ops_buf_printf(r->out, "}");
	free(rc);
	ldns_pkt_free(p);
}

void
control__explain(struct req *r)
{
	struct control *ctl = r->ctl;
	struct explain_args x = { 0 };
	if (!explain_parse(r, &x))
		return;
	if (ctl->zsnap == NULL || zones_snapshot_begin(ctl->zsnap) != 0) {
		control__refuse(r, "explain: cannot read the zone database");
		return;
	}
	struct zones_result res;
	int kind = zones_lookup(ctl->zsnap, x.qname, x.qtype, &res);
	char apex[LDNS_MAX_DOMAINLEN * 4 + 2] = "-";
	if (kind > ZONES_NOT_OURS) {
		ldns_rdf *a = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, dname_len(res.zone.apex),
		                                    res.zone.apex);
		char *s = a != NULL ? ldns_rdf2str(a) : NULL;
		if (s != NULL)
			snprintf(apex, sizeof(apex), "%s", s);
		free(s);
		ldns_rdf_deep_free(a);
	}

	/* The real answer path, as a worker runs it, on this client's query (over "TCP" so
	 * the whole answer shows, not a truncated one), with a GSLB snapshot read like a
	 * worker reads it: this thread registers as a reader for the moment. */
	static uint8_t q[512], resp[TCP_MSG_MAX];
	struct answer_stats scratch = { 0 };
	struct answer_ctx actx = { .zsnap = ctl->zsnap, .conf = atomic_load(&ctl->env.sh->conf),
	                           .stats = &scratch };
	struct answer_client cl = { .addr = (const struct sockaddr *)&x.addr, .tcp = true };
	struct gslb_runtime *rt = control__gslb(ctl);
	struct gslb_reader *rd = rt != NULL && actx.conf->gslb ? gslb_reader_register(rt) : NULL;
	if (rd != NULL)
		actx.gslb = gslb_state_acquire(rt);
	uint64_t seed = (uint64_t)time(NULL) * 2654435761u + (uint64_t)getpid();
	gslb_pick_seed(seed);
	size_t qlen = explain_query(&x, q, sizeof(q));
	size_t rlen = answer_query(&actx, &cl, q, qlen, resp, sizeof(resp));
	zones_snapshot_end(ctl->zsnap);

	char type[16];
	const char *tn = stats_type_name(x.qtype);
	snprintf(type, sizeof(type), tn != NULL ? "%s" : "TYPE%s", tn != NULL ? tn : x.type);
	if (r->json) {
		ops_buf_printf(r->out, "{\"name\":");
		ops_buf_json_str(r->out, x.name);
		ops_buf_printf(r->out, ",\"type\":");
		ops_buf_json_str(r->out, x.type);
		ops_buf_printf(r->out, ",\"client\":");
		ops_buf_json_str(r->out, x.client);
		ops_buf_printf(r->out, ",\"ecs\":");
		ops_buf_json_str(r->out, x.ecs);
		ops_buf_printf(r->out, ",\"zone\":");
		ops_buf_json_str(r->out, kind > ZONES_NOT_OURS ? apex : NULL);
		if (kind > ZONES_NOT_OURS)
			ops_buf_printf(r->out, ",\"serial\":%" PRIu32 ",\"wildcard\":%s", res.zone.serial,
			               res.wildcard ? "true" : "false");
		ops_buf_printf(r->out, ",\"result\":");
		ops_buf_json_str(r->out, kind_name(kind));
	} else {
		ops_buf_printf(r->out, "query:   %s %s from %s%s%s\n", x.name, x.type, x.client,
		               x.ecs != NULL ? " with ECS " : "", x.ecs != NULL ? x.ecs : "");
		if (kind > ZONES_NOT_OURS)
			ops_buf_printf(r->out, "zone:    %s (serial %" PRIu32 ")\nresult:  %s%s\n", apex,
			               res.zone.serial, kind_name(kind),
			               res.wildcard ? " (from a wildcard)" : "");
		else
			ops_buf_printf(r->out, "zone:    none\nresult:  %s\n", kind_name(kind));
	}
	explain_gslb(r, &x, actx.gslb, seed);
	gslb_reader_unregister(rd);     /* nothing of the snapshot is used below */
	explain_print_answer(r, resp, rlen);
	if (r->json)
		ops_buf_printf(r->out, "}\n");
}
