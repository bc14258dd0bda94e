/* xfr_in.c - secondary zones: a zone listed with primaries: and no file is pulled from its
 * primaries. The SOA's refresh, retry and expire drive a timer per zone (RFC 1034 4.3.5);
 * an allowed NOTIFY (RFC 1996) makes the check immediate. A check asks each primary's SOA
 * (TSIG-signed when a key is given) and, when the primary's serial is newer (RFC 1982),
 * transfers: IXFR (RFC 1995) applied to the zone we have, else AXFR (RFC 5936). The
 * result is written as a master file under <state-dir>/secondary/ and compiled into LMDB
 * in one transaction: a failed, partial or invalid transfer changes nothing. A zone whose
 * primaries stay unreachable past expire answers SERVFAIL. The state (serial, last and
 * next refresh, expiry, last error) is kept in LMDB and survives restarts.
 *
 * Threads: timers, NOTIFY wake-ups and compiles on the main loop; the network part of a
 * check (blocking sockets with timeouts) runs in libuv's thread pool, one job per zone
 * at a time. Workers answer NOTIFY (xfr_notify_answer()) and wake the main loop through
 * an atomic flag and uv_async_send(). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "server/xfr.h"

#define STATE_VERSION 1
#define NOTIFY_SLOTS 1024
#define IO_TIMEOUT_MS 10000
#define SOA_TIMEOUT_MS 2000
#define TIMER_MIN_S 1u
#define TIMER_MAX_S (7u * 86400)

/* What is kept in LMDB per secondary zone (host byte order, like the rest of the file). */
struct sec_state {
	uint32_t version;
	uint32_t serial;
	int64_t last_refresh;       /* last successful check (Unix time) */
	int64_t next_refresh;
	int64_t expire_at;          /* 0: never had the zone */
	uint32_t refresh, retry, expire;
	uint8_t have;               /* a version is compiled */
	uint8_t expired;
	char last_error[200];
};

struct sec_zone {
	struct xfr_in *in;
	uint8_t apex[DNAME_MAXLEN];
	char name[DNAME_MAXLEN * 4 + 2];
	const struct xfr_zone *conf;    /* in the published conf (lives until exit) */
	const struct xfr_conf *xc;
	uv_timer_t timer;
	bool busy, again, gone;
	bool closed;                    /* its timer closed (at stop): freed when idle */
	struct sec_zone *catalog_of;    /* a member: the catalog zone that lists it */
	struct sec_state st;
};

struct xfr_in {
	uv_loop_t *loop;
	struct zones_db *db;
	struct notify_sender *notify;   /* our secondaries' NOTIFY (xfr.c owns it) */
	char dir[PATH_MAX];
	uv_async_t wake;
	struct sec_zone **zones;
	size_t nzones;
	bool stopping;
	unsigned open_handles;
	unsigned jobs;
};

/* NOTIFY from workers: a flag per hashed apex, and the main loop's wake-up handle. */
static _Atomic uint8_t notify_flags[NOTIFY_SLOTS];
static _Atomic(uv_async_t *) wake_handle;

/* Expired zones, published for the answer path (xfr_zone_expired()). */
_Atomic(const struct xfr_expired *) xfr__expired;
static struct xfr_expired **expired_history;
static size_t nexpired_history;

static unsigned
apex_slot(const uint8_t *apex)
{
	uint32_t h = 2166136261u;
	for (const uint8_t *p = apex; p < apex + dname_len(apex); p++)
		h = (h ^ (uint8_t)(*p | (*p >= 'A' && *p <= 'Z' ? 0x20 : 0))) * 16777619u;
	return h % NOTIFY_SLOTS;
}

static bool
serial_lt(uint32_t s1, uint32_t s2)
{
	return s1 != s2 && (uint32_t)(s2 - s1) < 0x80000000u;
}

static uint32_t
clamp(uint32_t v)
{
	return v < TIMER_MIN_S ? TIMER_MIN_S : v > TIMER_MAX_S ? TIMER_MAX_S : v;
}

/* ---- the job: SOA check and transfer (thread pool) ---------------------------------------- */

struct job {
	uv_work_t req;
	struct sec_zone *z;
	/* inputs */
	struct zones_db *db;
	uint8_t apex[DNAME_MAXLEN];
	char name[DNAME_MAXLEN * 4 + 2];
	struct xfr_remote prim[16];
	struct tsig_key keys[16];
	size_t nprim;
	uint16_t fudge;                 /* transfers.tsig-fudge */
	bool have;
	uint32_t serial;
	char path[PATH_MAX];
	/* outputs */
	bool ok, updated, ixfr;
	bool refused;                   /* the last answer was an error rcode */
	uint32_t new_serial, refresh, retry, expire;
	uint64_t records, msgs;
	char from[80];
	char err[200];
};

static int
connect_to(const struct conf_listen *to, int type)
{
	int fd = socket(to->addr.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&to->addr, to->addrlen) != 0 &&
	    errno != EINPROGRESS) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (type == SOCK_STREAM) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int e = 0;
		socklen_t el = sizeof(e);
		if (poll(&p, 1, IO_TIMEOUT_MS) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0) {
			close(fd);
			return e ? -e : -ETIMEDOUT;
		}
	}
	return fd;
}

/* Set at stop: checks in the thread pool give up within half a second, so the daemon's
 * exit does not wait for a slow primary. */
static _Atomic bool jobs_cancelled;

static int
wait_io(int fd, short ev, int ms)
{
	struct pollfd p = {.fd = fd, .events = ev};
	for (int waited = 0; waited < ms; waited += 500) {
		if (atomic_load(&jobs_cancelled))
			return -ECANCELED;
		int r = poll(&p, 1, ms - waited < 500 ? ms - waited : 500);
		if (r == 1)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
	return -ETIMEDOUT;
}

static int
read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		int rc = wait_io(fd, POLLIN, IO_TIMEOUT_MS);
		if (rc != 0)
			return rc;
		ssize_t r = read(fd, buf + got, n - got);
		if (r == 0)
			return -ECONNRESET;     /* the primary closed mid-message */
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	return 0;
}

static int
write_full(int fd, const uint8_t *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		int rc = wait_io(fd, POLLOUT, IO_TIMEOUT_MS);
		if (rc != 0)
			return rc;
		ssize_t w = write(fd, buf + done, n - done);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)w;
	}
	return 0;
}

/* A query for apex/type, with the SOA of serial in authority for IXFR, signed with key. */
static size_t
build_query(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *apex, uint16_t type,
            uint32_t serial, struct tsig_ctx *tc)
{
	struct wire_writer w;
	wire_writer_init(&w, buf, cap - TSIG_RR_MAX);
	wire_put_u16(&w, id);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, 1);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, type == TYPE_IXFR ? 1 : 0);
	wire_put_u16(&w, 0);
	wire_put_name(&w, apex);
	wire_put_u16(&w, type);
	wire_put_u16(&w, CLASS_IN);
	if (type == TYPE_IXFR) {
		/* RFC 1995 3: our SOA; only its serial matters to the primary. */
		wire_put_name(&w, apex);
		wire_put_u16(&w, TYPE_SOA);
		wire_put_u16(&w, CLASS_IN);
		wire_put_u32(&w, 0);
		wire_put_u16(&w, 22);
		wire_put_u8(&w, 0);
		wire_put_u8(&w, 0);
		wire_put_u32(&w, serial);
		for (int i = 0; i < 4; i++)
			wire_put_u32(&w, 0);
	}
	if (w.overflow)
		return 0;
	size_t len = w.len;
	if (tc != NULL && tsig_sign(tc, buf, &len, cap, (uint64_t)time(NULL), 0) != 0)
		return 0;
	return len;
}

static uint16_t
rand16(void)
{
	uint16_t v;
	if (getentropy(&v, sizeof(v)) != 0)
		v = (uint16_t)time(NULL);
	return v;
}

/* Checks an answer: our id, QR, NOERROR, and its TSIG. */
static bool
answer_ok(struct job *j, const uint8_t *m, size_t n, uint16_t id, struct tsig_ctx *tc)
{
	if (n < 12 || (m[0] << 8 | m[1]) != id || (m[2] & 0x80) == 0) {
		snprintf(j->err, sizeof(j->err), "%s: malformed answer", j->from);
		return false;
	}
	/* An error answer is taken as a refusal whether or not it is signed (RFC 8945
	 * 5.3.2 lets BADKEY/BADSIG go unsigned, and servers refuse unsigned): it never
	 * gives us data. */
	if ((m[3] & 0xf) != 0) {
		snprintf(j->err, sizeof(j->err), "%s: answered rcode %u", j->from, m[3] & 0xf);
		j->refused = true;
		return false;
	}
	if (tc != NULL) {
		uint16_t e;
		enum tsig_verdict v = tsig_verify_response(tc, m, n, (uint64_t)time(NULL), &e);
		if (v != TSIG_OK) {
			snprintf(j->err, sizeof(j->err), "%s: answer fails TSIG (verdict %d, error %u)",
			         j->from, (int)v, e);
			return false;
		}
	}
	return true;
}

static bool
soa_fields(const ldns_rr *rr, uint32_t *serial, uint32_t *refresh, uint32_t *retry,
           uint32_t *expire)
{
	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 7)
		return false;
	*serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
	if (refresh != NULL) {
		*refresh = ldns_rdf2native_int32(ldns_rr_rdf(rr, 3));
		*retry = ldns_rdf2native_int32(ldns_rr_rdf(rr, 4));
		*expire = ldns_rdf2native_int32(ldns_rr_rdf(rr, 5));
	}
	return true;
}

/* The primary's SOA over UDP (two tries). */
static bool
soa_query(struct job *j, size_t pi, uint32_t *serial)
{
	uint8_t q[512 + TSIG_RR_MAX], a[4096];
	const struct tsig_key *key = j->prim[pi].key >= 0 ? &j->keys[pi] : NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct tsig_ctx tc;
		uint16_t id = rand16();
		if (key != NULL)
			tsig_ctx_init(&tc, key, j->fudge);
		size_t qlen = build_query(q, sizeof(q), id, j->apex, TYPE_SOA, 0, key ? &tc : NULL);
		int fd = connect_to(&j->prim[pi].addr, SOCK_DGRAM);
		bool ok = false;
		if (fd >= 0 && qlen > 0 && send(fd, q, qlen, 0) == (ssize_t)qlen &&
		    wait_io(fd, POLLIN, SOA_TIMEOUT_MS) == 0) {
			ssize_t n = recv(fd, a, sizeof(a), 0);
			ldns_pkt *pkt = NULL;
			if (n > 0 && answer_ok(j, a, (size_t)n, id, key ? &tc : NULL) &&
			    ldns_wire2pkt(&pkt, a, (size_t)n) == LDNS_STATUS_OK &&
			    ldns_rr_list_rr_count(ldns_pkt_answer(pkt)) > 0 &&
			    soa_fields(ldns_rr_list_rr(ldns_pkt_answer(pkt), 0), serial, &j->refresh,
			               &j->retry, &j->expire))
				ok = true;
			else if (n > 0 && j->err[0] == '\0')
				snprintf(j->err, sizeof(j->err), "%s: no SOA in the answer", j->from);
			ldns_pkt_free(pkt);
		} else if (j->err[0] == '\0') {
			snprintf(j->err, sizeof(j->err), "%s: no answer to the SOA query", j->from);
		}
		if (fd >= 0)
			close(fd);
		if (key != NULL)
			tsig_ctx_deinit(&tc);
		if (ok)
			return true;
		if (j->err[0] != '\0' && strstr(j->err, "TSIG") != NULL)
			return false;       /* a key problem does not go away by asking again */
	}
	return false;
}

/* ---- applying what arrives ---------------------------------------------------------------- */

struct line {
	char *key;      /* the record without TTL, canonical: what IXFR deletes by */
	char *text;     /* the record as written to the file */
	bool deleted;
};

struct rrset_file {
	FILE *out;
	struct line *base;      /* IXFR: the version we have, sorted by key */
	size_t nbase;
	struct line *added;
	size_t nadded, added_cap;
	bool oom;
};

static char *
rr_key(const ldns_rr *rr)
{
	ldns_rr *c = ldns_rr_clone(rr);
	if (c == NULL)
		return NULL;
	ldns_rr_set_ttl(c, 0);
	ldns_rr2canonical(c);
	char *s = ldns_rr2str(c);
	ldns_rr_free(c);
	return s;
}

static int
line_cmp(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->key, ((const struct line *)b)->key);
}

/* The zone we have, from the database (zones_dump()), as sorted lines. */
static int
load_base(struct job *j, struct rrset_file *f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (mem == NULL)
		return -ENOMEM;
	int rc = zones_dump(j->db, j->name, mem);
	fclose(mem);
	size_t cap = 0;
	for (char *line = buf, *next; rc == 0 && line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		ldns_rr *rr = NULL;
		if (line[0] == ';' || line[0] == '\0' ||
		    ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL) != LDNS_STATUS_OK)
			continue;
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA) {
			if (f->nbase == cap) {
				cap = cap ? cap * 2 : 1024;
				struct line *n = realloc(f->base, cap * sizeof(*n));
				if (n == NULL) {
					rc = -ENOMEM;
					ldns_rr_free(rr);
					break;
				}
				f->base = n;
			}
			struct line *l = &f->base[f->nbase++];
			l->key = rr_key(rr);
			l->text = ldns_rr2str(rr);
			l->deleted = false;
			if (l->key == NULL || l->text == NULL)
				rc = -ENOMEM;
		}
		ldns_rr_free(rr);
	}
	free(buf);
	if (rc == 0 && f->nbase > 0)
		qsort(f->base, f->nbase, sizeof(*f->base), line_cmp);
	return rc;
}

static bool
ixfr_delete(struct rrset_file *f, const ldns_rr *rr)
{
	struct line k = {.key = rr_key(rr)};
	if (k.key == NULL)
		return false;
	struct line *l = bsearch(&k, f->base, f->nbase, sizeof(*f->base), line_cmp);
	bool ok = l != NULL && !l->deleted;
	if (ok)
		l->deleted = true;
	else {
		/* Deleting what an earlier step of this answer added. */
		for (size_t i = 0; i < f->nadded && !ok; i++) {
			if (!f->added[i].deleted && strcmp(f->added[i].key, k.key) == 0) {
				f->added[i].deleted = true;
				ok = true;
			}
		}
	}
	free(k.key);
	return ok;
}

static bool
ixfr_add(struct rrset_file *f, const ldns_rr *rr)
{
	if (f->nadded == f->added_cap) {
		size_t cap = f->added_cap ? f->added_cap * 2 : 256;
		struct line *n = realloc(f->added, cap * sizeof(*n));
		if (n == NULL)
			return false;
		f->added = n;
		f->added_cap = cap;
	}
	struct line *l = &f->added[f->nadded++];
	l->key = rr_key(rr);
	l->text = ldns_rr2str(rr);
	l->deleted = false;
	return l->key != NULL && l->text != NULL;
}

static void
lines_free(struct line *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].key);
		free(l[i].text);
	}
	free(l);
}

/* The receiving state machine (RFC 1995 4 and RFC 5936 2.2). */
struct rx {
	enum { RX_FIRST, RX_SECOND, RX_AXFR, RX_DEL, RX_ADD, RX_DONE } st;
	uint32_t final, step_new;
	ldns_rr *soa;               /* the first SOA (the new version's) */
};

static bool
put_line(struct rrset_file *f, const ldns_rr *rr)
{
	char *s = ldns_rr2str(rr);
	if (s == NULL)
		return false;
	fputs(s, f->out);
	free(s);
	return true;
}

/* Feeds one record; false on an inconsistency (err set). */
static bool
rx_rr(struct job *j, struct rx *x, struct rrset_file *f, const ldns_rr *rr)
{
	uint32_t serial = 0;
	bool is_soa = soa_fields(rr, &serial, NULL, NULL, NULL);
	switch (x->st) {
	case RX_FIRST:
		if (!is_soa) {
			snprintf(j->err, sizeof(j->err), "%s: the transfer does not start with the SOA",
			         j->from);
			return false;
		}
		x->final = serial;
		x->soa = ldns_rr_clone(rr);
		soa_fields(rr, &serial, &j->refresh, &j->retry, &j->expire);
		x->st = RX_SECOND;
		/* IXFR answered by the SOA alone: up to date (RFC 1995 4). */
		return true;
	case RX_SECOND:
		if (j->ixfr && is_soa && serial != x->final) {
			/* Incremental: this is the first step's old SOA. */
			if (serial != j->serial) {
				snprintf(j->err, sizeof(j->err), "%s: IXFR starts at serial %u, we have %u",
				         j->from, serial, j->serial);
				return false;
			}
			x->st = RX_DEL;
			return true;
		}
		j->ixfr = false;        /* a whole zone (AXFR, or IXFR falling back to it) */
		x->st = RX_AXFR;
		put_line(f, x->soa);
		/* fall through */
	case RX_AXFR:
		if (is_soa && serial == x->final) {
			x->st = RX_DONE;
			return true;
		}
		j->records++;
		return put_line(f, rr);
	case RX_DEL:
		if (is_soa) {
			x->step_new = serial;
			x->st = RX_ADD;
			return true;
		}
		j->records++;
		if (!ixfr_delete(f, rr)) {
			snprintf(j->err, sizeof(j->err), "%s: IXFR deletes a record we do not have",
			         j->from);
			return false;
		}
		return true;
	case RX_ADD:
		if (is_soa) {
			if (serial == x->final && x->step_new == x->final) {
				x->st = RX_DONE;
			} else {
				x->st = RX_DEL;     /* the next step's old SOA */
			}
			return true;
		}
		j->records++;
		return ixfr_add(f, rr);
	case RX_DONE:
		snprintf(j->err, sizeof(j->err), "%s: records after the closing SOA", j->from);
		return false;
	}
	return false;
}

static bool
write_ixfr_result(struct rx *x, struct rrset_file *f)
{
	put_line(f, x->soa);
	for (size_t i = 0; i < f->nbase; i++) {
		if (!f->base[i].deleted)
			fputs(f->base[i].text, f->out);
	}
	for (size_t i = 0; i < f->nadded; i++) {
		if (!f->added[i].deleted)
			fputs(f->added[i].text, f->out);
	}
	return !ferror(f->out);
}

/* One transfer from primary pi into j->path; type AXFR or IXFR. */
static bool
transfer(struct job *j, size_t pi, uint16_t type)
{
	uint8_t q[512 + TSIG_RR_MAX];
	uint8_t *m = malloc(65535);
	const struct tsig_key *key = j->prim[pi].key >= 0 ? &j->keys[pi] : NULL;
	struct tsig_ctx tc;
	struct rrset_file f = {0};
	struct rx x = {.st = RX_FIRST};
	char tmp[PATH_MAX + 8];
	bool ok = false;
	int fd = -1;

	j->ixfr = type == TYPE_IXFR;
	j->records = j->msgs = 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
	if (key != NULL)
		tsig_ctx_init(&tc, key, j->fudge);
	uint16_t id = rand16();
	size_t qlen = build_query(q + 2, sizeof(q) - 2, id, j->apex, type, j->serial,
	                          key ? &tc : NULL);
	q[0] = (uint8_t)(qlen >> 8);
	q[1] = (uint8_t)qlen;
	f.out = fopen(tmp, "w");
	if (m == NULL || qlen == 0 || f.out == NULL) {
		snprintf(j->err, sizeof(j->err), "cannot start a transfer: %s", strerror(errno));
		goto out;
	}
	if (j->ixfr && load_base(j, &f) != 0) {
		snprintf(j->err, sizeof(j->err), "cannot read our version for IXFR");
		goto out;
	}
	fd = connect_to(&j->prim[pi].addr, SOCK_STREAM);
	if (fd < 0 || write_full(fd, q, qlen + 2) != 0) {
		snprintf(j->err, sizeof(j->err), "%s: cannot connect (TCP)", j->from);
		goto out;
	}
	while (x.st != RX_DONE) {
		uint8_t lb[2];
		if (read_full(fd, lb, 2) != 0 || read_full(fd, m, (size_t)(lb[0] << 8 | lb[1])) != 0) {
			snprintf(j->err, sizeof(j->err), "%s: the transfer broke off after %llu "
			         "messages", j->from, (unsigned long long)j->msgs);
			goto out;
		}
		size_t n = (size_t)(lb[0] << 8 | lb[1]);
		ldns_pkt *pkt = NULL;
		if (!answer_ok(j, m, n, id, key ? &tc : NULL))
			goto out;
		if (ldns_wire2pkt(&pkt, m, n) != LDNS_STATUS_OK) {
			snprintf(j->err, sizeof(j->err), "%s: malformed message", j->from);
			goto out;
		}
		j->msgs++;
		ldns_rr_list *ans = ldns_pkt_answer(pkt);
		bool good = true;
		for (size_t i = 0; good && i < ldns_rr_list_rr_count(ans); i++)
			good = rx_rr(j, &x, &f, ldns_rr_list_rr(ans, i));
		ldns_pkt_free(pkt);
		if (!good)
			goto out;
		if (x.st == RX_SECOND && j->ixfr && !serial_lt(j->serial, x.final)) {
			x.st = RX_DONE;     /* up to date: nothing to write */
			j->new_serial = x.final;
			ok = true;
			goto out;
		}
	}
	if (j->ixfr && !write_ixfr_result(&x, &f)) {
		snprintf(j->err, sizeof(j->err), "cannot write %.150s", tmp);
		goto out;
	}
	if (fclose(f.out) != 0 || rename(tmp, j->path) != 0) {
		f.out = NULL;
		snprintf(j->err, sizeof(j->err), "cannot write %.120s: %s", j->path, strerror(errno));
		goto out;
	}
	f.out = NULL;
	j->new_serial = x.final;
	j->updated = true;
	ok = true;
out:
	if (f.out != NULL)
		fclose(f.out);
	if (!j->updated)
		unlink(tmp);
	if (fd >= 0)
		close(fd);
	if (key != NULL)
		tsig_ctx_deinit(&tc);
	ldns_rr_free(x.soa);
	lines_free(f.base, f.nbase);
	lines_free(f.added, f.nadded);
	free(m);
	return ok;
}

static void
job_work(uv_work_t *req)
{
	struct job *j = req->data;
	for (size_t i = 0; i < j->nprim && !j->ok; i++) {
		uint32_t serial;
		j->err[0] = '\0';
		snprintf(j->from, sizeof(j->from), "%s", j->prim[i].addr.text);
		j->refused = false;
		if (!soa_query(j, i, &serial)) {
			/* Knot refuses queries for the catalog zones it generates: those are
			 * only transferred. A refused SOA query is followed by the transfer,
			 * which says itself whether we are up to date. */
			if (!j->refused)
				continue;
			serial = j->serial + 1;
		}
		if (j->have && !serial_lt(j->serial, serial)) {
			j->new_serial = j->serial;
			j->ok = true;       /* up to date */
			break;
		}
		/* IXFR first when we have a version; AXFR when IXFR fails. */
		if (j->have && transfer(j, i, TYPE_IXFR)) {
			j->ok = true;
			break;
		}
		if (j->have)
			log_info("xfr-in: %s: IXFR from %s failed (%s); trying AXFR", j->name, j->from,
			         j->err);
		j->err[0] = '\0';
		j->ok = transfer(j, i, TYPE_AXFR);
	}
}

/* ---- the main loop's side ----------------------------------------------------------------------- */

static void schedule(struct sec_zone *z, uint64_t in_s);
static void check_now(struct sec_zone *z);

static void
state_save(struct sec_zone *z)
{
	int rc = zones_xfr_state_put(z->in->db, z->apex, &z->st, sizeof(z->st));
	if (rc != 0)
		log_warn("xfr-in: %s: cannot save the secondary state: %s", z->name, sp_strerror(rc));
}

/* ---- catalog zones (RFC 9432), consumer side --------------------------------------------- */

_Atomic(const struct xfr_members *) xfr__members;
static struct xfr_members **members_history;
static size_t nmembers_history;

static void
publish_members(struct xfr_in *in)
{
	size_t n = 0;
	for (size_t i = 0; i < in->nzones; i++)
		n += in->zones[i]->catalog_of != NULL && !in->zones[i]->gone;
	struct xfr_members *m = calloc(1, sizeof(*m) + n * sizeof(m->e[0]));
	struct xfr_members **h = realloc(members_history, (nmembers_history + 1) * sizeof(*h));
	if (h != NULL)
		members_history = h;
	if (m == NULL || h == NULL) {
		free(m);
		log_err("xfr-in: out of memory publishing catalog members");
		return;
	}
	for (size_t i = 0; i < in->nzones; i++) {
		struct sec_zone *z = in->zones[i];
		if (z->catalog_of == NULL || z->gone)
			continue;
		memcpy(m->e[m->n].apex, z->apex, dname_len(z->apex));
		m->e[m->n++].catalog = z->catalog_of->conf;
	}
	members_history[nmembers_history++] = m;
	atomic_store(&xfr__members, m);
}

static struct sec_zone *zone_add_named(struct xfr_in *in, const struct xfr_conf *xc,
                                       const struct xfr_zone *c, const uint8_t *apex);
static struct sec_zone *zone_find(struct xfr_in *in, const uint8_t *apex);
static void check_now(struct sec_zone *z);
static void schedule(struct sec_zone *z, uint64_t in_s);

/* The member zones a catalog lists now: the PTR targets of <id>.zones.<catalog>
 * (RFC 9432 4.1), at most max of them, into names (DNAME_MAXLEN each). */
static size_t
catalog_members(struct xfr_in *in, const struct sec_zone *cat, uint8_t (*names)[DNAME_MAXLEN],
                size_t max)
{
	struct zones_iter *it = NULL;
	uint8_t owner[DNAME_MAXLEN], zones_apex[DNAME_MAXLEN + 6] = "\5zones";
	struct zones_node node;
	struct zones_rrset rr;
	size_t n = 0;
	unsigned labels = dname_labels(cat->apex);

	memcpy(zones_apex + 6, cat->apex, dname_len(cat->apex));
	if (zones_iter_new(in->db, cat->apex, &it) != 0)
		return 0;
	while (n < max && zones_iter_next(it, owner, &node) == 1) {
		if (dname_labels(owner) != labels + 2 ||
		    !dname_equal(dname_suffix(owner, labels + 1), zones_apex) ||
		    !zones_node_rrset(&node, 12 /* PTR */, 0, &rr) || rr.count != 1)
			continue;       /* RFC 9432 4.1: exactly one PTR per member node */
		const uint8_t *target = rr.rdata + 2;
		dname_copy_lower(names[n], target);
		if (dname_is_subdomain(names[n], cat->apex))
			continue;       /* a member inside the catalog would shadow it */
		n++;
	}
	zones_iter_free(it);
	return n;
}

/* Brings the members of catalog cat in line with what it lists: new members become
 * secondary zones from the catalog's primaries, members no longer listed are removed
 * (RFC 9432 5.3, 5.4). A name that is also configured as a zone is left alone. */
static void
catalog_sync(struct sec_zone *cat)
{
	struct xfr_in *in = cat->in;
	const size_t max = 10000;
	uint8_t (*names)[DNAME_MAXLEN] = malloc(max * DNAME_MAXLEN);
	if (names == NULL)
		return;
	size_t n = catalog_members(in, cat, names, max);
	const struct xfr_conf *xc = xfr_published();
	bool changed = false;
	for (size_t i = 0; i < in->nzones; i++) {
		struct sec_zone *z = in->zones[i];
		if (z->catalog_of != cat || z->gone)
			continue;
		bool listed = false;
		for (size_t k = 0; k < n && !listed; k++)
			listed = dname_equal(names[k], z->apex);
		if (!listed) {
			z->gone = true;
			uv_timer_stop(&z->timer);
			(void)zones_delete(in->db, z->name);
			log_notice("xfr-in: catalog %s no longer lists %s: removed", cat->name, z->name);
			changed = true;
		}
	}
	for (size_t k = 0; k < n; k++) {
		struct zones_info info;
		char text[DNAME_MAXLEN * 4 + 2];
		if (zone_find(in, names[k]) != NULL || xfr_conf_zone(xc, names[k]) != NULL)
			continue;
		dname_to_str(names[k], text, sizeof(text));
		/* A configured primary zone of that name (compiled from a file) wins. */
		if (zones_info_get(in->db, text, &info) == 0 &&
		    strstr(info.source, "/secondary/") == NULL)
			continue;
		struct sec_zone *z = zone_add_named(in, xc, cat->conf, names[k]);
		if (z == NULL)
			break;
		z->catalog_of = cat;
		changed = true;
		log_notice("xfr-in: catalog %s provisions %s", cat->name, z->name);
		int64_t now = (int64_t)time(NULL);
		if (z->st.have && z->st.next_refresh > now)
			schedule(z, (uint64_t)(z->st.next_refresh - now));
		else
			check_now(z);
	}
	free(names);
	if (changed)
		publish_members(in);
}

static void
publish_expired(struct xfr_in *in)
{
	size_t n = 0;
	for (size_t i = 0; i < in->nzones; i++)
		n += in->zones[i]->st.expired && !in->zones[i]->gone;
	struct xfr_expired *e = calloc(1, sizeof(*e) + n * sizeof(e->apex[0]));
	struct xfr_expired **h = realloc(expired_history,
	                                 (nexpired_history + 1) * sizeof(*h));
	if (e == NULL || h == NULL) {
		free(e);
		if (h != NULL)
			expired_history = h;
		log_err("xfr-in: out of memory publishing expired zones");
		return;
	}
	expired_history = h;
	for (size_t i = 0; i < in->nzones; i++) {
		struct sec_zone *z = in->zones[i];
		if (z->st.expired && !z->gone)
			memcpy(e->apex[e->n++], z->apex, dname_len(z->apex));
	}
	expired_history[nexpired_history++] = e;
	atomic_store(&xfr__expired, e);
}

static void
on_job_done(uv_work_t *req, int status)
{
	struct job *j = req->data;
	struct sec_zone *z = j->z;
	struct xfr_in *in = z->in;
	int64_t now = (int64_t)time(NULL);
	bool was_expired = z->st.expired;

	in->jobs--;
	z->busy = false;
	if (z->closed) {
		/* Stopped while the job ran: the zone (and perhaps the runtime) go now. */
		free(j);
		free(z);
		if (--in->open_handles == 0)
			free(in);
		return;
	}
	if (status == 0 && j->ok && j->updated && !in->stopping && !z->gone) {
		struct zones_report rep = {0};
		struct zones_compile_opts opts = {0};
		struct zones_iter *old = NULL;
		/* Passed on to our own secondaries: the version replaced is read for the
		 * IXFR journal step, as a reload does for a zone from a file. */
		if (z->conf->nprovide > 0 && z->st.have && z->xc->journal_versions > 0 &&
		    zones_iter_new(in->db, z->apex, &old) != 0)
			old = NULL;
		int rc = zones_compile_file(in->db, z->name, j->path, &opts, &rep);
		if (rc == 0 && old != NULL &&
		    zones_journal_add(in->db, old, z->xc->journal_versions, z->xc->journal_size) != 0)
			log_warn("xfr-in: %s: IXFR journal not updated: IXFR falls back to AXFR",
			         z->name);
		zones_iter_free(old);
		if (rc == 0 && z->catalog_of == NULL && z->conf->nnotify > 0 && in->notify != NULL) {
			struct zones_iter *cur = NULL;
			if (zones_iter_new(in->db, z->apex, &cur) == 0) {
				struct zones_zone nz;
				struct zones_rrset soa;
				zones_iter_zone(cur, &nz, &soa);
				notify_send(in->notify, z->xc, z->conf, &soa, nz.serial);
				zones_iter_free(cur);
			}
		}
		if (rc != 0) {
			j->ok = false;
			snprintf(j->err, sizeof(j->err), "%s: the transferred zone is invalid (%s)",
			         j->from, sp_strerror(rc));
		} else {
			log_notice("xfr-in: %s serial %u from %s by %s: %llu records, %llu messages",
			           z->name, j->new_serial, j->from, j->ixfr ? "IXFR" : "AXFR",
			           (unsigned long long)j->records, (unsigned long long)j->msgs);
		}
	}
	if (in->stopping || z->gone) {
		free(j);
		return;
	}
	if (j->ok) {
		z->st.serial = j->new_serial;
		z->st.have = 1;
		z->st.last_refresh = now;
		z->st.refresh = clamp(j->refresh);
		z->st.retry = clamp(j->retry);
		z->st.expire = clamp(j->expire);
		z->st.expire_at = now + z->st.expire;
		z->st.next_refresh = now + z->st.refresh;
		z->st.expired = 0;
		z->st.last_error[0] = '\0';
		if (!j->updated)
			log_info("xfr-in: %s serial %u is current (%s)", z->name, j->new_serial, j->from);
	} else {
		snprintf(z->st.last_error, sizeof(z->st.last_error), "%s", j->err);
		uint32_t retry = z->st.retry ? z->st.retry : 10;
		z->st.next_refresh = now + retry;
		log_warn("xfr-in: %s: refresh failed: %s; retry in %us", z->name, j->err, retry);
		if (z->st.have && z->st.expire_at != 0 && now >= z->st.expire_at && !z->st.expired) {
			z->st.expired = 1;
			log_err("xfr-in: %s expired: no primary answered for %us; answering SERVFAIL",
			        z->name, z->st.expire);
		}
	}
	if (was_expired != (bool)z->st.expired)
		publish_expired(in);
	state_save(z);
	if (j->ok && j->updated && z->conf->catalog && z->catalog_of == NULL)
		catalog_sync(z);
	bool again = z->again;
	z->again = false;
	free(j);
	if (again)
		check_now(z);
	else
		schedule(z, (uint64_t)(z->st.next_refresh > now ? z->st.next_refresh - now : 0));
}

static void
check_now(struct sec_zone *z)
{
	struct xfr_in *in = z->in;
	if (in->stopping || z->gone)
		return;
	if (z->busy) {
		z->again = true;
		return;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		schedule(z, 10);
		return;
	}
	j->req.data = j;
	j->z = z;
	j->db = in->db;
	memcpy(j->apex, z->apex, dname_len(z->apex));
	snprintf(j->name, sizeof(j->name), "%s", z->name);
	for (size_t i = 0; i < z->conf->nprimaries && j->nprim < 16; i++) {
		j->prim[j->nprim] = z->conf->primaries[i];
		if (z->conf->primaries[i].key >= 0)
			j->keys[j->nprim] = z->xc->keys[z->conf->primaries[i].key];
		j->nprim++;
	}
	j->have = z->st.have;
	j->fudge = z->xc->fudge;
	j->serial = z->st.serial;
	j->refresh = z->st.refresh;
	j->retry = z->st.retry;
	j->expire = z->st.expire;
	snprintf(j->path, sizeof(j->path), "%.3000s/%.1000szone", in->dir, z->name);
	if (uv_queue_work(in->loop, &j->req, job_work, on_job_done) != 0) {
		free(j);
		schedule(z, 10);
		return;
	}
	z->busy = true;
	in->jobs++;
}

static void
on_timer(uv_timer_t *t)
{
	check_now(t->data);
}

static void
schedule(struct sec_zone *z, uint64_t in_s)
{
	/* The expiry deadline may come before the next refresh. */
	int64_t now = (int64_t)time(NULL);
	if (z->st.have && !z->st.expired && z->st.expire_at > now &&
	    (uint64_t)(z->st.expire_at - now) < in_s)
		in_s = (uint64_t)(z->st.expire_at - now);
	uv_timer_start(&z->timer, on_timer, in_s * 1000, 0);
}

static void
on_wake(uv_async_t *a)
{
	struct xfr_in *in = a->data;
	for (size_t i = 0; i < in->nzones; i++) {
		struct sec_zone *z = in->zones[i];
		if (!z->gone && atomic_exchange(&notify_flags[apex_slot(z->apex)], 0) != 0)
			check_now(z);
	}
}

static void
on_zone_closed(uv_handle_t *h)
{
	struct sec_zone *z = h->data;
	struct xfr_in *in = z->in;
	z->closed = true;
	if (z->busy)
		return;         /* on_job_done() frees it */
	free(z);
	if (--in->open_handles == 0)
		free(in);
}

static struct sec_zone *
zone_add(struct xfr_in *in, const struct xfr_conf *xc, const struct xfr_zone *c)
{
	return zone_add_named(in, xc, c, c->apex);
}

/* A secondary zone apex taking its settings (primaries, keys, allow-notify) from c. */
static struct sec_zone *
zone_add_named(struct xfr_in *in, const struct xfr_conf *xc, const struct xfr_zone *c,
               const uint8_t *apex)
{
	struct sec_zone **zs = realloc(in->zones, (in->nzones + 1) * sizeof(*zs));
	struct sec_zone *z = calloc(1, sizeof(*z));
	if (zs != NULL)
		in->zones = zs;
	if (zs == NULL || z == NULL) {
		free(z);
		return NULL;
	}
	z->in = in;
	memcpy(z->apex, apex, dname_len(apex));
	dname_to_str(apex, z->name, sizeof(z->name));
	z->conf = c;
	z->xc = xc;
	uv_timer_init(in->loop, &z->timer);
	z->timer.data = z;
	in->open_handles++;
	in->zones[in->nzones++] = z;
	size_t len = 0;
	struct sec_state st;
	if (zones_xfr_state_get(in->db, z->apex, &st, sizeof(st), &len) == 0 &&
	    len == sizeof(st) && st.version == STATE_VERSION) {
		z->st = st;
		struct zones_info info;
		if (zones_info_get(in->db, z->name, &info) != 0)
			z->st.have = 0;     /* the state outlived the zone (deleted by hand) */
	}
	z->st.version = STATE_VERSION;
	return z;
}

static struct sec_zone *
zone_find(struct xfr_in *in, const uint8_t *apex)
{
	for (size_t i = 0; i < in->nzones; i++) {
		if (!in->zones[i]->gone && dname_equal(in->zones[i]->apex, apex))
			return in->zones[i];
	}
	return NULL;
}

/* Brings the set of secondary zones in line with the published configuration. */
void
xfr_in_apply(struct xfr_in *in)
{
	const struct xfr_conf *xc = xfr_published();
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < in->nzones; i++) {
		struct sec_zone *z = in->zones[i];
		if (z->gone || z->catalog_of != NULL)
			continue;
		const struct xfr_zone *c = xfr_conf_zone(xc, z->apex);
		if (c == NULL || !c->secondary) {
			z->gone = true;
			uv_timer_stop(&z->timer);
			int rc = zones_delete(in->db, z->name);
			log_notice("xfr-in: %s is no longer a secondary zone%s", z->name,
			           rc == 0 ? ": removed" : "");
			continue;
		}
		z->conf = c;
		z->xc = xc;
	}
	/* Members follow their catalog: its new settings, or its removal. */
	for (size_t i = 0; i < in->nzones; i++) {
		struct sec_zone *z = in->zones[i];
		if (z->gone || z->catalog_of == NULL)
			continue;
		if (z->catalog_of->gone || !z->catalog_of->conf->catalog) {
			z->gone = true;
			uv_timer_stop(&z->timer);
			(void)zones_delete(in->db, z->name);
			log_notice("xfr-in: %s: its catalog is gone: removed", z->name);
			continue;
		}
		z->conf = z->catalog_of->conf;
		z->xc = xc;
	}
	for (size_t i = 0; xc != NULL && i < xc->nzones; i++) {
		const struct xfr_zone *c = &xc->zones[i];
		if (!c->secondary || zone_find(in, c->apex) != NULL)
			continue;
		struct sec_zone *z = zone_add(in, xc, c);
		if (z == NULL) {
			log_err("xfr-in: out of memory");
			return;
		}
		log_info("xfr-in: %s: secondary of %s%s", z->name, c->primaries[0].addr.text,
		         z->st.have ? "" : " (no copy yet)");
		if (z->st.have && z->st.next_refresh > now)
			schedule(z, (uint64_t)(z->st.next_refresh - now));
		else
			check_now(z);
		if (c->catalog && z->st.have)
			catalog_sync(z);    /* the members the stored catalog lists */
	}
	publish_expired(in);
	publish_members(in);
}

int
xfr_in_start(uv_loop_t *loop, struct zones_db *db, const char *state_dir,
             struct notify_sender *notify, struct xfr_in **out)
{
	struct xfr_in *in = calloc(1, sizeof(*in));
	*out = NULL;
	if (in == NULL)
		return -ENOMEM;
	in->loop = loop;
	in->db = db;
	in->notify = notify;
	snprintf(in->dir, sizeof(in->dir), "%s/secondary", state_dir);
	if (mkdir(in->dir, 0750) != 0 && errno != EEXIST) {
		int rc = -errno;
		log_err("xfr-in: cannot create %s: %s", in->dir, strerror(errno));
		free(in);
		return rc;
	}
	int rc = uv_async_init(loop, &in->wake, on_wake);
	if (rc != 0) {
		free(in);
		return rc;
	}
	in->wake.data = in;
	in->open_handles = 1;
	atomic_store(&jobs_cancelled, false);
	atomic_store(&wake_handle, &in->wake);
	*out = in;
	return 0;
}

static void
on_wake_closed(uv_handle_t *h)
{
	struct xfr_in *in = h->data;
	if (--in->open_handles == 0)
		free(in);
}

void
xfr_in_stop(struct xfr_in *in)
{
	if (in == NULL)
		return;
	in->stopping = true;
	in->notify = NULL;      /* closed right after us */
	atomic_store(&jobs_cancelled, true);
	atomic_store(&wake_handle, NULL);
	/* Jobs still in the pool finish on their own (bounded by the I/O timeouts); their
	 * completions run before the loop closes and find stopping set. */
	for (size_t i = 0; i < in->nzones; i++)
		uv_close((uv_handle_t *)&in->zones[i]->timer, on_zone_closed);
	free(in->zones);
	in->zones = NULL;
	in->nzones = 0;
	uv_close((uv_handle_t *)&in->wake, on_wake_closed);
}

void
xfr_in_unpublish_all(void)
{
	atomic_store(&xfr__members, NULL);
	for (size_t i = 0; i < nmembers_history; i++)
		free(members_history[i]);
	free(members_history);
	members_history = NULL;
	nmembers_history = 0;
	atomic_store(&xfr__expired, NULL);
	for (size_t i = 0; i < nexpired_history; i++)
		free(expired_history[i]);
	free(expired_history);
	expired_history = NULL;
	nexpired_history = 0;
}

/* ---- NOTIFY in (a worker's thread) ------------------------------------------------------------ */

static bool
notify_allowed(const struct xfr_conf *xc, const struct xfr_zone *z, const struct sockaddr *from,
               const struct tsig_key *key)
{
	if (z->nallow_notify > 0)
		return xfr_acl_allows(xc, z->allow_notify, z->nallow_notify, from, key);
	/* By default the primaries may, with their keys (RFC 1996 3.10: only from a
	 * known primary). */
	for (size_t i = 0; i < z->nprimaries; i++) {
		struct xfr_acl a = {.addr = z->primaries[i].addr.addr, .key = z->primaries[i].key};
		a.prefix = a.addr.ss_family == AF_INET ? 32 : 128;
		if (xfr_acl_allows(xc, &a, 1, from, key))
			return true;
	}
	return false;
}

size_t
xfr_notify_answer(const struct answer_client *cl, const uint8_t *q, size_t qlen, uint8_t *out,
                  size_t cap)
{
	const struct xfr_conf *xc = xfr_published();
	struct wire_reader r;
	uint8_t qname[DNAME_MAXLEN], apex[DNAME_MAXLEN];
	size_t nlen;
	uint16_t qtype, qclass;
	struct tsig_ctx tc;
	struct tsig_rr rr;
	char from[80], zname[DNAME_MAXLEN * 4 + 2];

	if (qlen < 12 || cap < 512 + TSIG_RR_MAX || (q[4] << 8 | q[5]) != 1)
		return 0;
	wire_reader_init(&r, q, qlen);
	r.pos = 12;
	if (wire_read_name(&r, qname, &nlen) != 0 || wire_read_u16(&r, &qtype) != 0 ||
	    wire_read_u16(&r, &qclass) != 0)
		return 0;
	conf_format_addr(cl->addr, from, sizeof(from));
	dname_to_str(qname, zname, sizeof(zname));
	enum tsig_verdict v = tsig_verify_request_fudge(xc ? xc->keys : NULL, xc ? xc->nkeys : 0, q,
	                                                qlen, (uint64_t)time(NULL),
	                                                xc ? xc->fudge : 0, &tc, &rr);
	uint16_t rcode = RCODE_NOERROR;
	dname_copy_lower(apex, qname);
	const struct xfr_zone *z = xfr_conf_zone(xc, apex);
	const struct xfr_members *mem = atomic_load(&xfr__members);
	for (size_t i = 0; z == NULL && mem != NULL && i < mem->n; i++) {
		if (dname_equal(mem->e[i].apex, apex))
			z = mem->e[i].catalog;  /* a catalog member: its catalog's rules */
	}
	if (v == TSIG_FORMERR) {
		rcode = RCODE_FORMERR;
	} else if (v != TSIG_OK && v != TSIG_NONE) {
		rcode = RCODE_NOTAUTH;
		log_notice("xfr-in: NOTIFY for %s from %s ignored: bad TSIG", zname, from);
	} else if (z == NULL || !z->secondary) {
		rcode = RCODE_NOTAUTH;      /* not a secondary for that zone (RFC 1996 3.10) */
		log_notice("xfr-in: NOTIFY for %s from %s ignored: not a secondary zone here",
		           zname, from);
	} else if (!notify_allowed(xc, z, cl->addr, v == TSIG_OK ? tc.key : NULL)) {
		rcode = RCODE_REFUSED;
		log_notice("xfr-in: NOTIFY for %s from %s ignored: not allowed (allow-notify)",
		           zname, from);
	} else {
		log_info("xfr-in: NOTIFY for %s from %s: checking now", zname, from);
		atomic_store(&notify_flags[apex_slot(apex)], 1);
		uv_async_t *wake = atomic_load(&wake_handle);
		if (wake != NULL)
			uv_async_send(wake);
	}
	/* The answer: the header with QR (and AA when accepted), the question. */
	struct wire_writer w;
	wire_writer_init(&w, out, cap - TSIG_RR_MAX);
	wire_put_bytes(&w, q, 2);
	wire_put_u16(&w, (uint16_t)(0x8000 | 4 << 11 | (rcode == 0 ? 0x0400 : 0) | rcode));
	wire_put_u16(&w, 1);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, 0);
	wire_put_u16(&w, 0);
	wire_put_name(&w, qname);
	wire_put_u16(&w, qtype);
	wire_put_u16(&w, qclass);
	size_t len = w.len;
	uint64_t now = (uint64_t)time(NULL);
	if (v == TSIG_OK)
		(void)tsig_sign(&tc, out, &len, cap, now, 0);
	else if (v == TSIG_ERR_BADTIME)
		(void)tsig_sign(&tc, out, &len, cap, now, TSIG_BADTIME);
	else if (v == TSIG_ERR_BADKEY || v == TSIG_ERR_BADSIG)
		(void)tsig_append_error(&rr, out, &len, cap, now,
		                        v == TSIG_ERR_BADKEY ? TSIG_BADKEY : TSIG_BADSIG);
	if (v == TSIG_OK || v == TSIG_ERR_BADTIME)
		tsig_ctx_deinit(&tc);
	return len;
}

/* ---- status for the control tool ------------------------------------------------------------- */

int
xfr_secondary_status(struct zones_db *db, const uint8_t *apex, struct xfr_secondary_status *out)
{
	struct sec_state st;
	size_t len = 0;
	int rc = zones_xfr_state_get(db, apex, &st, sizeof(st), &len);
	if (rc != 0)
		return rc;
	if (len != sizeof(st) || st.version != STATE_VERSION)
		return SP_ENOZONE;
	*out = (struct xfr_secondary_status){
		.serial = st.serial, .have = st.have, .expired = st.expired,
		.last_refresh = st.last_refresh, .next_refresh = st.next_refresh,
		.expire_at = st.expire_at,
	};
	snprintf(out->last_error, sizeof(out->last_error), "%s", st.last_error);
	return 0;
}
