/* stats.c - sums the workers' answer counters and latency buckets for the control socket
 * (`signpostctl stats`) and the metrics server, and the small text buffers both format
 * their answers in.
 *
 * Runs on whatever thread asks (main loop or the metrics thread). The workers write their
 * counters with plain increments and never wait for us: we read each 64-bit counter with
 * a relaxed atomic load, so a sum may miss the batch being counted, never more. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ops.h"

/* Upper bounds of the answer latency buckets (worker.c counts into them). In-server
 * answer times are a few microseconds; the upper buckets catch a stalled worker. */
const uint32_t latency_bucket_us[LATENCY_BUCKETS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000, 100000, UINT32_MAX,
};

static_assert(sizeof(struct answer_stats) % sizeof(uint64_t) == 0,
              "answer_stats must be made of uint64_t counters");
static_assert(sizeof(struct worker_latency) % sizeof(uint64_t) == 0,
              "worker_latency must be made of uint64_t counters");

/* Adds n counters at src to dst, reading src relaxed. */
static void
add_counters(uint64_t *dst, const uint64_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void
stats_sum(struct worker *ws, unsigned n, struct stats_total *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < n; i++) {
		add_counters((uint64_t *)&out->a, (const uint64_t *)&ws[i].stats,
		             sizeof(out->a) / sizeof(uint64_t));
		add_counters((uint64_t *)&out->lat, (const uint64_t *)&ws[i].lat,
		             sizeof(out->lat) / sizeof(uint64_t));
	}
}

const char *
stats_type_name(unsigned type)
{
	switch (type) {
	case 1: return "A";
	case 2: return "NS";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 12: return "PTR";
	case 13: return "HINFO";
	case 15: return "MX";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 29: return "LOC";
	case 33: return "SRV";
	case 35: return "NAPTR";
	case 39: return "DNAME";
	case 43: return "DS";
	case 46: return "RRSIG";
	case 47: return "NSEC";
	case 48: return "DNSKEY";
	case 50: return "NSEC3";
	case 51: return "NSEC3PARAM";
	case 52: return "TLSA";
	case 64: return "SVCB";
	case 65: return "HTTPS";
	case 99: return "SPF";
	case 251: return "IXFR";
	case 252: return "AXFR";
	case 255: return "ANY";
	case 257: return "CAA";
	default: return NULL;
	}
}

const char *
stats_rcode_name(unsigned rcode)
{
	static const char *names[16] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
		"YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI",
	};
	return rcode < 16 ? names[rcode] : NULL;
}

/* ---- text buffers --------------------------------------------------------------------------- */

static bool
reserve(struct ops_buf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap != 0 ? b->cap : 1024;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (s == NULL) {
		b->oom = true;
		return false;
	}
	b->s = s;
	b->cap = cap;
	return true;
}

void
ops_buf_printf(struct ops_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
ops_buf_metric(struct ops_buf *b, const char *name, const char *type, const char *help,
               uint64_t v)
{
	ops_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type,
	               name, v);
}

void
ops_buf_json_str(struct ops_buf *b, const char *s)
{
	if (s == NULL) {
		ops_buf_printf(b, "null");
		return;
	}
	ops_buf_printf(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			ops_buf_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			ops_buf_printf(b, "\\u%04x", *p);  /* RFC 8259 7: controls must be escaped */
		else
			ops_buf_printf(b, "%c", *p);
	}
	ops_buf_printf(b, "\"");
}

void
ops_buf_html(struct ops_buf *b, const char *s)
{
	for (const char *p = s != NULL ? s : ""; *p != '\0'; p++) {
		switch (*p) {
		case '<': ops_buf_printf(b, "&lt;"); break;
		case '>': ops_buf_printf(b, "&gt;"); break;
		case '&': ops_buf_printf(b, "&amp;"); break;
		case '"': ops_buf_printf(b, "&quot;"); break;
		case '\'': ops_buf_printf(b, "&#39;"); break;
		default: ops_buf_printf(b, "%c", *p); break;
		}
	}
}

void
ops_buf_free(struct ops_buf *b)
{
	free(b->s);
	*b = (struct ops_buf){ 0 };
}
