/* xfr_in_fetch.c - the network part of a secondary zone's check, run in libuv's thread
 * pool: the SOA query to each primary (UDP, TSIG when keyed), then IXFR (RFC 1995) applied
 * to the version we have, or AXFR (RFC 5936), received over TCP with blocking sockets and
 * timeouts, TSIG verified on every message (RFC 8945 5.3.1), written as a master file that
 * the main loop compiles (xfr_in.c). Nothing here touches the database except reading our
 * version (zones_dump()) for IXFR. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "lib/wire.h"
#include "server/xfr_in.h"

bool
xfr_in__serial_lt(uint32_t s1, uint32_t s2)
{
	return s1 != s2 && (uint32_t)(s2 - s1) < 0x80000000u;
}

/* ---- the job: SOA check and transfer (thread pool) ---------------------------------------- */


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
_Atomic bool xfr_in__cancelled;

static int
wait_io(int fd, short ev, int ms)
{
	struct pollfd p = {.fd = fd, .events = ev};
	for (int waited = 0; waited < ms; waited += 500) {
		if (atomic_load(&xfr_in__cancelled))
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
answer_ok(struct xfr_job *j, const uint8_t *m, size_t n, uint16_t id, struct tsig_ctx *tc)
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
soa_query(struct xfr_job *j, size_t pi, uint32_t *serial)
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
			else if (n < 0 && j->err[0] == '\0')
				/* e.g. ICMP port unreachable: ECONNREFUSED on the connected socket */
				snprintf(j->err, sizeof(j->err), "%s: no answer to the SOA query (%s)",
				         j->from, strerror(errno));
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
load_base(struct xfr_job *j, struct rrset_file *f)
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
rx_rr(struct xfr_job *j, struct rx *x, struct rrset_file *f, const ldns_rr *rr)
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
transfer(struct xfr_job *j, size_t pi, uint16_t type)
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
		if (x.st == RX_SECOND && j->ixfr && !xfr_in__serial_lt(j->serial, x.final)) {
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

void
xfr_in__job_work(uv_work_t *req)
{
	struct xfr_job *j = req->data;
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
		if (j->have && !xfr_in__serial_lt(j->serial, serial)) {
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
