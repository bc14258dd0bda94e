/* check_http.c - HTTP and HTTPS health checks with libcurl's multi interface driven by the
 * checker thread's libuv loop: curl tells us which sockets to watch (uv_poll) and when to
 * wake it (uv_timer), we hand events back with curl_multi_socket_action(). Nothing blocks
 * and nothing resolves names: the URL names the SNI/Host name and CURLOPT_CONNECT_TO sends
 * the connection to the member's address. At most GSLB_BODY_MAX octets of a body are read. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "gslb/internal.h"
#include "lib/log.h"

struct gslb_http {
	struct gslb_runtime *rt;
	CURLM *multi;
	uv_timer_t timer;
};

struct http_op {
	struct gslb_http *h;
	CURL *easy;
	const struct gslb_check_conf *ck;
	gslb_http_done_fn *done;
	void *arg;
	struct curl_slist *headers, *connect_to;
	char errbuf[CURL_ERROR_SIZE];
	char *body;
	size_t body_len;
	bool body_found, stopped;   /* stopped: we ended the transfer on purpose */
};

struct sock_ctx {
	uv_poll_t poll;
	curl_socket_t fd;
	struct gslb_http *h;
};

static void check_done(struct gslb_http *h);

/* ---- loop glue ------------------------------------------------------------------------ */

static void
on_poll(uv_poll_t *p, int status, int events)
{
	struct sock_ctx *sc = p->data;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	struct gslb_http *h = sc->h;
	curl_multi_socket_action(h->multi, sc->fd, flags, &running);
	check_done(h);
}

static void
sock_closed(uv_handle_t *hd)
{
	free(hd->data);
}

static int
on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct gslb_http *h = userp;
	struct sock_ctx *sc = socketp;

	if (what == CURL_POLL_REMOVE) {
		if (sc) {
			uv_poll_stop(&sc->poll);
			uv_close((uv_handle_t *)&sc->poll, sock_closed);
			curl_multi_assign(h->multi, s, NULL);
		}
		return 0;
	}
	if (sc == NULL) {
		sc = calloc(1, sizeof(*sc));
		if (sc == NULL)
			return -1;
		sc->fd = s;
		sc->h = h;
		if (uv_poll_init_socket(&h->rt->loop, &sc->poll, s) != 0) {
			free(sc);
			return -1;
		}
		sc->poll.data = sc;
		curl_multi_assign(h->multi, s, sc);
	}
	int events = 0;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;
	uv_poll_start(&sc->poll, events, on_poll);
	return 0;
}

static void
on_timer(uv_timer_t *t)
{
	struct gslb_http *h = t->data;
	int running;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct gslb_http *h = userp;
	if (timeout_ms < 0)
		uv_timer_stop(&h->timer);
	else
		uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

/* ---- one check ------------------------------------------------------------------------------ */

static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_op *op = userp;
	size_t n = size * nmemb;

	/* Without expect-body the status is all we need; with it, stop at the first match or
	 * at GSLB_BODY_MAX octets, so a huge body costs neither time nor memory. Returning
	 * less than n ends the transfer with CURLE_WRITE_ERROR, which we recognise by stopped. */
	if (op->ck->expect_body == NULL) {
		op->stopped = true;
		return 0;
	}
	size_t room = GSLB_BODY_MAX - op->body_len;
	size_t take = n < room ? n : room;
	memcpy(op->body + op->body_len, data, take);
	op->body_len += take;
	op->body[op->body_len] = '\0';
	if (memmem(op->body, op->body_len, op->ck->expect_body, strlen(op->ck->expect_body))) {
		op->body_found = true;
		op->stopped = true;
		return 0;
	}
	if (op->body_len == GSLB_BODY_MAX) {
		op->stopped = true;
		return 0;
	}
	return n;
}

static void
op_free(struct http_op *op)
{
	if (op->easy) {
		curl_multi_remove_handle(op->h->multi, op->easy);
		curl_easy_cleanup(op->easy);
	}
	curl_slist_free_all(op->headers);
	curl_slist_free_all(op->connect_to);
	free(op->body);
	free(op);
}

static bool
status_expected(const struct gslb_check_conf *ck, long code)
{
	for (unsigned i = 0; i < ck->n_expect; i++) {
		if (ck->expect_status[i] == code)
			return true;
	}
	return false;
}

static bool
is_tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
		return true;
	default:
		return false;
	}
}

/* Reasons are short by design; a long curl message is cut, not an error. */
static void
reason_fmt(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
reason_fmt(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

/* Turns a finished transfer into ok/reason. */
static bool
judge(struct http_op *op, CURLcode rc, char *reason, size_t len)
{
	long code = 0, oserr = 0;

	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && op->stopped)) {
		curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &code);
		if (!status_expected(op->ck, code)) {
			reason_fmt(reason, len, "status %ld", code);
			return false;
		}
		if (op->ck->expect_body && !op->body_found) {
			reason_fmt(reason, len, "body mismatch");
			return false;
		}
		reason_fmt(reason, len, "status %ld", code);
		return true;
	}
	const char *detail = op->errbuf[0] ? op->errbuf : curl_easy_strerror(rc);
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		reason_fmt(reason, len, "timeout");
	} else if (rc == CURLE_COULDNT_CONNECT) {
		curl_easy_getinfo(op->easy, CURLINFO_OS_ERRNO, &oserr);
		reason_fmt(reason, len, "%s", oserr == ECONNREFUSED ? "connection refused" :
		         oserr ? strerror((int)oserr) : detail);
	} else if (is_tls_error(rc)) {
		reason_fmt(reason, len, "TLS error: %s", detail);
	} else {
		reason_fmt(reason, len, "%s", detail);
	}
	return false;
}

static void
check_done(struct gslb_http *h)
{
	CURLMsg *msg;
	int left;
	char reason[GSLB_REASON_MAX];

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct http_op *op = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&op);
		CURLcode rc = msg->data.result;
		bool ok = judge(op, rc, reason, sizeof(reason));
		curl_off_t connect_us = -1;
		if (ok && curl_easy_getinfo(op->easy, CURLINFO_CONNECT_TIME_T, &connect_us) != CURLE_OK)
			connect_us = -1;
		gslb_http_done_fn *done = op->done;
		void *arg = op->arg;
		op_free(op);   /* before the callback: the multi handle must not see op again */
		done(arg, ok, reason, ok ? (int64_t)connect_us : -1);
	}
}

static void
addr_text(const struct sockaddr *sa, char *out, size_t len, uint16_t *port)
{
	char ip[INET6_ADDRSTRLEN];
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s", ip);
		*port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]", ip);
		*port = ntohs(sin6->sin6_port);
	}
}

static int
setup(struct http_op *op, const struct gslb_check_conf *ck, const struct sockaddr *addr)
{
	char ip[INET6_ADDRSTRLEN + 2], url[2048], line[1024];
	uint16_t port;
	CURL *e = op->easy;
	bool https = ck->type == GSLB_CHECK_HTTPS;

	addr_text(addr, ip, sizeof(ip), &port);
	/* The URL names what TLS verifies and what Host says: sni, else host, else the address.
	 * CONNECT_TO then connects to the member's address without a DNS lookup. */
	const char *urlhost = ck->sni ? ck->sni : ck->host ? ck->host : ip;
	snprintf(url, sizeof(url), "%s://%s:%u%s", https ? "https" : "http", urlhost, port,
	         ck->path ? ck->path : "/");
	if (urlhost != ip) {
		snprintf(line, sizeof(line), "%s:%u:%s:%u", urlhost, port, ip, port);
		if ((op->connect_to = curl_slist_append(NULL, line)) == NULL)
			return -ENOMEM;
	}
	if (ck->host && urlhost != ck->host) {
		snprintf(line, sizeof(line), "Host: %s", ck->host);
		if ((op->headers = curl_slist_append(NULL, line)) == NULL)
			return -ENOMEM;
	}
	int bad = 0;
	bad |= curl_easy_setopt(e, CURLOPT_URL, url);
	bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, op);
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op->errbuf);
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)ck->timeout_ms);
	bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)ck->timeout_ms);
	bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	bad |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_PROXY, "");
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
	bad |= curl_easy_setopt(e, CURLOPT_USERAGENT,
	                        ck->user_agent ? ck->user_agent : "signpost-health/" PACKAGE_VERSION);
	if (op->connect_to)
		bad |= curl_easy_setopt(e, CURLOPT_CONNECT_TO, op->connect_to);
	if (op->headers)
		bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, op->headers);
#if LIBCURL_VERSION_NUM >= 0x075500
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	if (https) {
		bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, ck->tls_verify ? 1L : 0L);
		bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, ck->tls_verify ? 2L : 0L);
		if (ck->ca_file)
			bad |= curl_easy_setopt(e, CURLOPT_CAINFO, ck->ca_file);
	}
	return bad ? -EINVAL : 0;
}

void *
gslb__http_start(struct gslb_runtime *rt, const struct gslb_check_conf *ck,
                 const struct sockaddr *addr, gslb_http_done_fn *done, void *arg)
{
	struct gslb_http *h = rt->http;
	struct http_op *op = calloc(1, sizeof(*op));
	int rc = -ENOMEM;

	if (op == NULL)
		goto fail;
	*op = (struct http_op){ .h = h, .ck = ck, .done = done, .arg = arg };
	if (ck->expect_body && (op->body = malloc(GSLB_BODY_MAX + 1)) == NULL)
		goto fail;
	if ((op->easy = curl_easy_init()) == NULL)
		goto fail;
	if ((rc = setup(op, ck, addr)) != 0)
		goto fail;
	if (curl_multi_add_handle(h->multi, op->easy) != CURLM_OK) {
		rc = -EINVAL;
		goto fail;
	}
	return op;
fail:
	if (op) {
		CURL *e = op->easy;
		op->easy = NULL;
		curl_easy_cleanup(e);
		op_free(op);
	}
	done(arg, false, rc == -ENOMEM ? "out of memory" : "cannot set up the request", -1);
	return NULL;
}

void
gslb__http_cancel(struct gslb_runtime *rt, void *op)
{
	op_free(op);
}

static void
global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
gslb__http_init(struct gslb_runtime *rt)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct gslb_http *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return -ENOMEM;
	/* curl_global_init() is not thread-safe before 7.84; once per process is enough. */
	pthread_once(&once, global_init);
	h->rt = rt;
	h->multi = curl_multi_init();
	if (h->multi == NULL) {
		free(h);
		return -ENOMEM;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	uv_timer_init(&rt->loop, &h->timer);
	h->timer.data = h;
	rt->http = h;
	return 0;
}

static void
http_closed(uv_handle_t *hd)
{
	free(hd->data);
}

/* After gslb__checks_stop(): no transfer is left. */
void
gslb__http_deinit(struct gslb_runtime *rt)
{
	struct gslb_http *h = rt->http;
	if (h == NULL)
		return;
	curl_multi_cleanup(h->multi);
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, http_closed);
	rt->http = NULL;
}
