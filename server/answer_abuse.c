/* answer_abuse.c - where the answer path meets the abuse defences of server/abuse.h:
 * the COOKIE option of a query judged and answered (RFC 7873 5.2, RFC 9018), the
 * cookies.require policy, and response rate limiting of the finished answer by its
 * class (answer, NODATA, NXDOMAIN, referral, error) and name.
 *
 * Worker threads, called by answer_query() (answer.c); no allocation, no lock. */
#include <time.h>

#include "server/internal.h"

enum cookie_state
answer__cookie(struct resp *rs, const struct answer_client *cl)
{
	const struct cookie_conf *cc = rs->ctx->conf->cookies;
	const struct query *q = rs->q;

	/* Cookies off: the option is ignored, as by a server that does not know it
	 * (RFC 7873 5.2.1); a malformed one was FORMERR already (query.c). */
	if (cc == NULL || q->cookie_len == 0 || cl->addr == NULL)
		return COOKIE_NONE;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	enum cookie_state st = cookie_check(cc, cl->addr, q->cookie, q->cookie_len,
	                                    (uint32_t)ts.tv_sec, rs->cookie);
	rs->cookie_len = COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN;
	if (st == COOKIE_VALID)
		rs->ctx->stats->cookies_valid++;
	else
		rs->ctx->stats->cookies_new++;
	return st;
}

bool
answer__cookie_required(struct resp *rs, const struct answer_client *cl, enum cookie_state cs)
{
	const struct cookie_conf *cc = rs->ctx->conf->cookies;

	/* TCP proves the address by itself (RFC 7873 5.2.3 asks to answer normally). */
	if (cc == NULL || !cc->require || cl->tcp || cs == COOKIE_VALID || !rs->q->has_question)
		return false;
	if (cs == COOKIE_CLIENT) {
		/* 5.2.3 choice (2): BADCOOKIE with a fresh server cookie; the client
		 * retries with it at once (5.3). */
		rs->rcode = RCODE_BADCOOKIE;
		rs->ctx->stats->badcookie++;
	} else {
		/* No cookie at all: a client that knows none cannot be sent BADCOOKIE in a
		 * way it understands, so, like BIND's require-server-cookie, an empty TC=1
		 * answer sends it to TCP, where nothing is spoofed. */
		rs->tc = true;
	}
	return true;
}

/* The class and name a finished answer is counted under (BIND's and Knot's classes):
 * errors per client prefix alone, NXDOMAIN per zone, referrals per delegation, answers
 * and NODATA per qname and qtype. */
static enum rrl_class
classify(const struct resp *rs, const uint8_t **name)
{
	*name = rs->q->qname;
	if (!rs->q->has_question || (rs->rcode != RCODE_NOERROR && rs->rcode != RCODE_NXDOMAIN)) {
		*name = NULL;
		return RRL_ERROR;
	}
	if (rs->rcode == RCODE_NXDOMAIN) {
		*name = rs->rrl_name;
		return RRL_NXDOMAIN;
	}
	if (rs->count[0] > 0)
		return RRL_ANSWER;
	if (!rs->aa && rs->rrl_name != NULL) {
		*name = rs->rrl_name;
		return RRL_REFERRAL;
	}
	return RRL_NODATA;
}

bool
answer__rrl(struct resp *rs, const struct answer_client *cl, enum cookie_state cs,
            struct wire_mark qend)
{
	struct rrl_table *t = rs->ctx->conf->rrl;

	/* TCP is never limited: its source address is not spoofed, and it is where the
	 * slipped answers send real clients. */
	if (t == NULL || cl->tcp || cl->addr == NULL)
		return true;
	if (cs == COOKIE_VALID && t->conf.exempt_cookies)
		return true;
	const uint8_t *name;
	enum rrl_class cls = classify(rs, &name);
	enum rrl_verdict v = rrl_check(t, cl->addr, cls, name, rs->q->qtype);
	if (v == RRL_PASS)
		return true;
	rs->ctx->stats->rrl_limited++;
	if (v == RRL_DROP)
		return false;
	/* The slip: the question alone with TC=1, no larger than the query, so it is
	 * worthless for amplification and a real client retries over TCP. */
	rs->ctx->stats->rrl_slipped++;
	wire_writer_rollback(&rs->w, qend);
	rs->count[0] = rs->count[1] = rs->count[2] = 0;
	rs->tc = true;
	rs->aa = false;
	return true;
}
