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

/* The "why" of a dynamic name: gslb_explain() runs the pick's own decision code with a
 * trace (same snapshot, same generator seed as the answer below, so the same draw), and the
 * members' check reasons come from gslb_status(). */
struct explain_gslb {
	struct gslb_trace tr;
	struct gslb_answer ans;
	char reason[GSLB_TRACE_MAX][GSLB_REASON_MAX];  /* copied: status strings die */
	struct ops_buf why;                            /* one sentence per line */
};

static void
explain_member(void *arg, const struct gslb_member_status *st)
{
	struct explain_gslb *eg = arg;
	for (unsigned i = 0; i < eg->tr.n; i++) {
		if (strcmp(eg->tr.m[i].pool, st->pool) != 0 || strcmp(eg->tr.m[i].name, st->member) != 0)
			continue;
		/* The reason of the last change, and what the last check said when that
		 * differs (a member still down from its initial state: "connection refused"). */
		const char *why = st->reason != NULL ? st->reason : "";
		const char *last = st->last_result;
		if (st->check == NULL)
			snprintf(eg->reason[i], sizeof(eg->reason[i]), "no check");
		else if (last != NULL && last[0] != '\0' && strcmp(last, why) != 0 &&
		         strcmp(last, "none yet") != 0)
			snprintf(eg->reason[i], sizeof(eg->reason[i]), "%.60s; last check: %.60s", why, last);
		else
			snprintf(eg->reason[i], sizeof(eg->reason[i]), "%s", why);
	}
}

static const char *
policy_name(enum gslb_policy p)
{
	switch (p) {
	case GSLB_ROUND_ROBIN: return "round-robin";
	case GSLB_FAILOVER: return "failover";
	case GSLB_HASH: return "hash";
	case GSLB_TOPOLOGY: return "topology";
	case GSLB_LOWEST_RTT: return "lowest-rtt";
	case GSLB_WEIGHTED:
	default: return "weighted";
	}
}

static const char *
tm_state_name(enum gslb_trace_state s)
{
	switch (s) {
	case GSLB_TM_CANDIDATE: return "candidate";
	case GSLB_TM_DOWN: return "down";
	case GSLB_TM_DRAINED: return "drained";
	case GSLB_TM_NO_FAMILY: return "no-address";
	case GSLB_TM_ZERO_WEIGHT: return "weight-0";
	default: return "?";
	}
}

static void
fmt_prefix(int family, const uint8_t *addr, unsigned prefix, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, prefix);
}

/* The sentences of the decision, in the order it was taken. */
static void
explain_why(struct explain_gslb *eg, uint16_t qtype)
{
	const struct gslb_trace *tr = &eg->tr;
	struct ops_buf *w = &eg->why;
	char net[INET6_ADDRSTRLEN + 8];

	if (tr->not_address_type) {
		ops_buf_printf(w, "%s is not A or AAAA: the name answers NODATA for it\n",
		               stats_type_name(qtype) != NULL ? stats_type_name(qtype) : "the type");
		return;
	}
	if (tr->no_family) {
		ops_buf_printf(w, "no member of pool %s has an %s address: NODATA\n", tr->pool,
		               qtype == LDNS_RR_TYPE_A ? "IPv4" : "IPv6");
		return;
	}
	for (unsigned i = 0; i < tr->n; i++) {
		if (tr->m[i].state == GSLB_TM_DRAINED)
			ops_buf_printf(w, "%s/%s skipped: drained by an operator\n", tr->m[i].pool,
			               tr->m[i].name);
		else if (tr->m[i].state == GSLB_TM_DOWN)
			ops_buf_printf(w, "%s/%s skipped: down (%s)\n", tr->m[i].pool, tr->m[i].name,
			               eg->reason[i][0] != '\0' ? eg->reason[i] : "health check");
	}
	ops_buf_printf(w, "%u healthy member(s) of pool %s (min-healthy %u)\n", tr->candidates,
	               tr->pool, tr->min_healthy);
	if (tr->n_groups > 0) {
		for (unsigned g = 0; g < tr->n_groups; g++) {
			bool chosen = tr->group_chosen && tr->groups[g].priority == tr->group;
			/* Failing open, the groups are counted over every undrained member. */
			ops_buf_printf(w, "failover group %u: %u %s, min-healthy %u: %s\n",
			               tr->groups[g].priority, tr->groups[g].healthy,
			               tr->fail_open ? "undrained (fail open)" : "healthy", tr->min_healthy,
			               chosen && !tr->group_under_min ? "answers"
			               : chosen ? "answers (no group has min-healthy members; the "
			                          "first group with any does)"
			                        : "failed (below min-healthy), next group");
		}
	}
	if (tr->policy == GSLB_TOPOLOGY && tr->region_step != GSLB_STEP_NONE) {
		if (tr->region_source == GSLB_REGION_CIDR) {
			fmt_prefix(tr->client_family, tr->region_net, tr->region_prefix, net, sizeof(net));
			ops_buf_printf(w, "client matched topology subnet %s (line %d): region %s\n", net,
			               tr->region_line, tr->region);
		} else if (tr->region_source == GSLB_REGION_GEOIP) {
			ops_buf_printf(w, "client matched GeoIP country %s (network /%u): region %s\n",
			               tr->region_country, tr->region_prefix, tr->region);
		} else {
			ops_buf_printf(w, "client matched no topology subnet and no GeoIP entry\n");
		}
		if (tr->region_step == 0)
			ops_buf_printf(w, "region %s has healthy members: it answers\n", tr->answered_region);
		else if (tr->region_step > 0)
			ops_buf_printf(w, "%s%s has no healthy member; step %d of the %s region-order: "
			               "region %s answers\n", tr->region != NULL ? "region " : "no region",
			               tr->region != NULL ? tr->region : "", tr->region_step,
			               tr->order_global ? "global" : "region's", tr->answered_region);
		else
			ops_buf_printf(w, "no region in the region-order has a healthy member: any "
			               "candidate answers\n");
	}
	if (tr->policy == GSLB_HASH) {
		if (tr->client_family != 0) {
			uint8_t a[16];
			memcpy(a, tr->client_addr, 16);
			unsigned bytes = tr->client_family == 4 ? 4 : 16;
			for (unsigned i = 0; i < bytes; i++) {
				unsigned b0 = i * 8;
				if (b0 >= tr->hash_prefix)
					a[i] = 0;
				else if (tr->hash_prefix - b0 < 8)
					a[i] &= (uint8_t)(0xff << (8 - (tr->hash_prefix - b0)));
			}
			fmt_prefix(tr->client_family, a, tr->hash_prefix, net, sizeof(net));
			ops_buf_printf(w, "hash of client subnet %s (key %016" PRIx64 "): the highest "
			               "rendezvous score wins\n", net, tr->hash_key);
		} else {
			ops_buf_printf(w, "no client address: every client hashes alike\n");
		}
	}
	if (tr->flags & GSLB_ANSWER_SORRY)
		ops_buf_printf(w, "%s: sorry pool %s answers%s\n",
		               tr->candidates == 0 ? "no healthy member" : "fewer healthy members than "
		               "min-healthy", tr->sorry_pool, tr->fail_open ? " (fail open: none of "
		               "its members is healthy either)" : "");
	else if (tr->fallback_none)
		ops_buf_printf(w, "%s and the pool says fallback: none: NODATA\n",
		               tr->candidates == 0 ? "no healthy member" : "fewer healthy members "
		               "than min-healthy");
	else if (tr->fail_open)
		ops_buf_printf(w, "%s: fallback, fail open: the pool's undrained members answer "
		               "(every member when all are drained)\n", tr->candidates == 0 ?
		               "no healthy member" : "fewer healthy members than min-healthy");
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
	struct explain_gslb *eg = calloc(1, sizeof(*eg));
	if (eg == NULL) {
		control__refuse(r, "explain: out of memory");
		return;
	}
	gslb_pick_seed(seed);
	if (gslb_explain(gs, x->qname, x->qtype, &gc, &eg->ans, &eg->tr) != 0) {
		if (r->json)
			ops_buf_printf(r->out, ",\"gslb\":{\"dynamic\":false}");
		else
			ops_buf_printf(r->out, "gslb:    not a dynamic name\n");
		free(eg);
		return;
	}
	const struct gslb_trace *tr = &eg->tr;
	const struct gslb_answer *ans = &eg->ans;
	gslb_status(rt, explain_member, eg);
	explain_why(eg, x->qtype);
	const char *fb = (ans->flags & GSLB_ANSWER_SORRY) != 0      ? "sorry pool"
	                 : (ans->flags & GSLB_ANSWER_FALLBACK) != 0 ? "fallback"
	                                                             : NULL;
	char client[INET6_ADDRSTRLEN + 8] = "";
	if (tr->client_family != 0)
		fmt_prefix(tr->client_family, tr->client_addr, tr->client_source, client,
		           sizeof(client));
	if (r->json) {
		ops_buf_printf(r->out, ",\"gslb\":{\"dynamic\":true,\"pool\":");
		ops_buf_json_str(r->out, tr->pool);
		ops_buf_printf(r->out, ",\"policy\":\"%s\",\"addresses\":%u,\"ttl\":%" PRIu32
		               ",\"ecs_scope\":%u,\"fallback\":", policy_name(tr->policy), ans->count,
		               ans->ttl, ans->scope);
		ops_buf_json_str(r->out, fb);
		ops_buf_printf(r->out, ",\"sorry_pool\":");
		ops_buf_json_str(r->out, tr->sorry_pool);
		ops_buf_printf(r->out, ",\"client\":");
		ops_buf_json_str(r->out, client[0] != '\0' ? client : NULL);
		ops_buf_printf(r->out, ",\"client_from_ecs\":%s,\"candidates\":%u,\"min_healthy\":%u,"
		               "\"drained_skipped\":%u,\"picked\":[", tr->client_ecs ? "true" : "false",
		               tr->candidates, tr->min_healthy, tr->drained);
		for (unsigned k = 0, n = 0; k < ans->count; k++) {
			for (unsigned i = 0; i < tr->n; i++) {
				const struct gslb_trace_member *m = &tr->m[i];
				if (m->answer != (int)k)
					continue;
				ops_buf_printf(r->out, "%s{\"pool\":", n++ > 0 ? "," : "");
				ops_buf_json_str(r->out, m->pool);
				ops_buf_printf(r->out, ",\"member\":");
				ops_buf_json_str(r->out, m->name);
				ops_buf_printf(r->out, ",\"up\":%s,\"drained\":%s,\"weight\":%u,\"reason\":",
				               m->up ? "true" : "false", m->drained ? "true" : "false",
				               m->weight);
				ops_buf_json_str(r->out, eg->reason[i]);
				ops_buf_printf(r->out, "}");
			}
		}
		ops_buf_printf(r->out, "],\"members\":[");
		for (unsigned i = 0; i < tr->n; i++) {
			const struct gslb_trace_member *m = &tr->m[i];
			ops_buf_printf(r->out, "%s{\"pool\":", i > 0 ? "," : "");
			ops_buf_json_str(r->out, m->pool);
			ops_buf_printf(r->out, ",\"member\":");
			ops_buf_json_str(r->out, m->name);
			ops_buf_printf(r->out, ",\"state\":\"%s\",\"up\":%s,\"drained\":%s,\"weight\":%u,"
			               "\"priority\":%u,\"rtt_us\":%" PRId64 ",\"region\":",
			               tm_state_name(m->state), m->up ? "true" : "false",
			               m->drained ? "true" : "false", m->weight, m->priority, m->rtt_us);
			ops_buf_json_str(r->out, m->region);
			ops_buf_printf(r->out, ",\"reason\":");
			ops_buf_json_str(r->out, eg->reason[i]);
			if (m->scored)
				ops_buf_printf(r->out, ",\"score\":%.6g", m->score);
			else
				ops_buf_printf(r->out, ",\"score\":null");
			if (m->answer >= 0)
				ops_buf_printf(r->out, ",\"answer\":%d}", m->answer + 1);
			else
				ops_buf_printf(r->out, ",\"answer\":null}");
		}
		ops_buf_printf(r->out, "],\"failover\":");
		if (tr->n_groups > 0) {
			ops_buf_printf(r->out, "{\"groups\":[");
			for (unsigned g = 0; g < tr->n_groups; g++)
				ops_buf_printf(r->out, "%s{\"priority\":%u,\"healthy\":%u}", g > 0 ? "," : "",
				               tr->groups[g].priority, tr->groups[g].healthy);
			ops_buf_printf(r->out, "],\"chosen\":%u,\"below_min_healthy\":%s}", tr->group,
			               tr->group_under_min ? "true" : "false");
		} else {
			ops_buf_printf(r->out, "null");
		}
		ops_buf_printf(r->out, ",\"topology\":");
		if (tr->region_step != GSLB_STEP_NONE) {
			char match[INET6_ADDRSTRLEN + 8] = "";
			if (tr->region_source == GSLB_REGION_CIDR)
				fmt_prefix(tr->client_family, tr->region_net, tr->region_prefix, match,
				           sizeof(match));
			ops_buf_printf(r->out, "{\"source\":\"%s\",\"region\":",
			               tr->region_source == GSLB_REGION_CIDR    ? "cidr"
			               : tr->region_source == GSLB_REGION_GEOIP ? "geoip"
			                                                        : "none");
			ops_buf_json_str(r->out, tr->region);
			ops_buf_printf(r->out, ",\"subnet\":");
			ops_buf_json_str(r->out, match[0] != '\0' ? match : NULL);
			ops_buf_printf(r->out, ",\"line\":%d,\"country\":", tr->region_line);
			ops_buf_json_str(r->out, tr->region_country[0] != '\0' ? tr->region_country : NULL);
			ops_buf_printf(r->out, ",\"step\":%d,\"order\":\"%s\",\"answered_region\":",
			               tr->region_step, tr->order_global ? "global" : "region");
			ops_buf_json_str(r->out, tr->answered_region);
			ops_buf_printf(r->out, "}");
		} else {
			ops_buf_printf(r->out, "null");
		}
		ops_buf_printf(r->out, ",\"hash\":");
		if (tr->policy == GSLB_HASH && !tr->not_address_type && !tr->no_family)
			ops_buf_printf(r->out, "{\"prefix\":%u,\"key\":\"%016" PRIx64 "\"}",
			               tr->hash_prefix, tr->hash_key);
		else
			ops_buf_printf(r->out, "null");
		ops_buf_printf(r->out, ",\"why\":[");
		const char *s = eg->why.s != NULL ? eg->why.s : "";
		for (unsigned n = 0; *s != '\0'; n++) {
			size_t len = strcspn(s, "\n");
			char line[512];
			snprintf(line, sizeof(line), "%.*s", (int)len, s);
			ops_buf_printf(r->out, "%s", n > 0 ? "," : "");
			ops_buf_json_str(r->out, line);
			s += len + (s[len] != '\0');
		}
		ops_buf_printf(r->out, "]}");
	} else {
		ops_buf_printf(r->out, "gslb:    dynamic name of pool %s, policy %s: %u address(es), "
		               "TTL %" PRIu32 ", ECS scope /%u%s%s\n", tr->pool, policy_name(tr->policy),
		               ans->count, ans->ttl, ans->scope, fb != NULL ? ", answered by the " : "",
		               fb != NULL ? fb : "");
		if (client[0] != '\0')
			ops_buf_printf(r->out, "client:  %s (%s)\n", client,
			               tr->client_ecs ? "from ECS" : "source address");
		ops_buf_printf(r->out, "members:\n");
		for (unsigned i = 0; i < tr->n; i++) {
			const struct gslb_trace_member *m = &tr->m[i];
			ops_buf_printf(r->out, "  %s/%s: %s, %s, weight %u, priority %u%s%s", m->pool,
			               m->name, tm_state_name(m->state), m->up ? "up" : "DOWN",
			               m->weight, m->priority,
			               m->region != NULL ? ", region " : "", m->region != NULL ? m->region : "");
			if (m->rtt_us >= 0)
				ops_buf_printf(r->out, ", rtt %.1fms", (double)m->rtt_us / 1000.0);
			if (m->scored)
				ops_buf_printf(r->out, ", score %.4g", m->score);
			if (eg->reason[i][0] != '\0')
				ops_buf_printf(r->out, " (%s)", eg->reason[i]);
			ops_buf_printf(r->out, "\n");
		}
		ops_buf_printf(r->out, "why:\n");
		const char *s = eg->why.s != NULL ? eg->why.s : "";
		while (*s != '\0') {
			size_t len = strcspn(s, "\n");
			ops_buf_printf(r->out, "  %.*s\n", (int)len, s);
			s += len + (s[len] != '\0');
		}
		for (unsigned k = 0; k < ans->count; k++) {
			for (unsigned i = 0; i < tr->n; i++) {
				const struct gslb_trace_member *m = &tr->m[i];
				if (m->answer == (int)k)
					ops_buf_printf(r->out, "  picked %s/%s: %s%s, weight %u%s%s\n", m->pool,
					               m->name, m->up ? "up" : "DOWN",
					               m->drained ? ", drained" : "", m->weight,
					               eg->reason[i][0] != '\0' ? ", " : "", eg->reason[i]);
			}
		}
	}
	ops_buf_free(&eg->why);
	free(eg);
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
	/* A dynamic name has no records in the zone: the store says NXDOMAIN or NODATA, and
	 * the answer path asks GSLB instead. */
	const char *result = kind_name(kind);
	if (kind > ZONES_NOT_OURS && actx.gslb != NULL && gslb_name_find(actx.gslb, x.qname) != NULL)
		result = "dynamic (a GSLB name: its pool answers, see below)";

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
		ops_buf_json_str(r->out, result);
	} else {
		ops_buf_printf(r->out, "query:   %s %s from %s%s%s\n", x.name, x.type, x.client,
		               x.ecs != NULL ? " with ECS " : "", x.ecs != NULL ? x.ecs : "");
		if (kind > ZONES_NOT_OURS)
			ops_buf_printf(r->out, "zone:    %s (serial %" PRIu32 ")\nresult:  %s%s\n", apex,
			               res.zone.serial, result, res.wildcard ? " (from a wildcard)" : "");
		else
			ops_buf_printf(r->out, "zone:    none\nresult:  %s\n", kind_name(kind));
	}
	explain_gslb(r, &x, actx.gslb, seed);
	gslb_reader_unregister(rd);     /* nothing of the snapshot is used below */
	explain_print_answer(r, resp, rlen);
	if (r->json)
		ops_buf_printf(r->out, "}\n");
}
