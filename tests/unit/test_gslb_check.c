/* test_gslb_check.c - gslb/check*.c, runtime.c and state.c against real backends on
 * loopback started here: a TCP listener, a small HTTP server thread (200, 500, a server
 * that never answers, a 10 MB body), and `openssl s_server` with a CA and certificates the
 * test makes with the openssl CLI. Also operator commands, persistence, reload and the
 * reclamation of snapshots. Intervals are 100-200 ms and every wait is bounded. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <ldns/ldns.h>

#include "gslb/internal.h"
#include "lib/log.h"

/* ---- helpers -------------------------------------------------------------------------- */

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* A listening socket on ::1 (port 0: any free port). */
static int
listen_on6(uint16_t *port)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(*port),
	                             .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t len = sizeof(sin6);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
	assert_int_equal(listen(fd, 64), 0);
	getsockname(fd, (struct sockaddr *)&sin6, &len);
	*port = ntohs(sin6.sin6_port);
	return fd;
}

/* A listening socket on 127.0.0.1 (port 0: any free port). */
static int
listen_on(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(*port) };
	socklen_t len = sizeof(sin);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 64), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	return fd;
}

struct seen {
	char member[GSLB_NAME_MAX + 1];
	bool found, up, drained;
	unsigned weight;
	int64_t rtt_us;
	char reason[GSLB_REASON_MAX], last[GSLB_REASON_MAX];
	unsigned members;
};

static void
status_cb(void *arg, const struct gslb_member_status *st)
{
	struct seen *s = arg;
	s->members++;
	if (strcmp(st->member, s->member) != 0)
		return;
	s->found = true;
	s->up = st->up;
	s->drained = st->drained;
	s->weight = st->weight;
	s->rtt_us = st->rtt_us;
	snprintf(s->reason, sizeof(s->reason), "%s", st->reason);
	snprintf(s->last, sizeof(s->last), "%s", st->last_result);
}

static struct seen
status_of(struct gslb_runtime *rt, const char *member)
{
	struct seen s = {0};
	snprintf(s.member, sizeof(s.member), "%s", member);
	assert_int_equal(gslb_status(rt, status_cb, &s), 0);
	return s;
}

/* Waits (at most timeout_ms) until member is up/down; returns its last status. */
static struct seen
wait_for(struct gslb_runtime *rt, const char *member, bool up, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	struct seen s;
	do {
		s = status_of(rt, member);
		assert_true(s.found);
		if (s.up == up)
			return s;
		sleep_ms(20);
	} while (now_ms() < end);
	fail_msg("%s did not go %s within %u ms (reason: %s)", member, up ? "up" : "down",
	         timeout_ms, s.reason);
	return s;
}

static struct gslb_runtime *
start(const char *yaml, const char *state_dir)
{
	struct gslb_conf *c;
	struct gslb_runtime *rt;
	struct gslb_runtime_opts o = { .state_dir = state_dir };
	assert_int_equal(gslb_conf_load("check.yaml", yaml, &c), 0);
	assert_int_equal(gslb_runtime_start(c, &o, &rt), 0);
	return rt;
}

/* ---- an HTTP backend in a thread -------------------------------------------------------- */

enum mode { M_OK, M_500, M_HANG, M_BIG };

struct backend {
	int lfd;
	uint16_t port;
	_Atomic int mode;
	_Atomic bool stop;
	_Atomic int requests;
	pthread_t th;
	pthread_mutex_t mu;
	char last[2048];
	int hung[64];
	int n_hung;
};

static void
serve_one(struct backend *b, int fd)
{
	char req[2048];
	size_t len = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timeval tv = { .tv_sec = 2 };

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (len < sizeof(req) - 1 && poll(&p, 1, 1000) == 1) {
		ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[len] = '\0';
	pthread_mutex_lock(&b->mu);
	snprintf(b->last, sizeof(b->last), "%s", req);
	pthread_mutex_unlock(&b->mu);
	atomic_fetch_add(&b->requests, 1);
	int mode = atomic_load(&b->mode);
	const char *r = mode == M_500 ?
		"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfail" :
		"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nall OK\n";
	if (mode != M_BIG) {
		send(fd, r, strlen(r), MSG_NOSIGNAL);
	} else {
		static char chunk[65536];
		const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\nConnection: close\r\n\r\n";
		memset(chunk, 'x', sizeof(chunk));
		send(fd, h, strlen(h), MSG_NOSIGNAL);
		for (int i = 0; i < 160; i++) {
			if (send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL) <= 0)
				break;
		}
	}
	close(fd);
}

static void *
backend_main(void *arg)
{
	struct backend *b = arg;
	struct pollfd p = { .fd = b->lfd, .events = POLLIN };

	while (!atomic_load(&b->stop)) {
		if (poll(&p, 1, 50) != 1)
			continue;
		int fd = accept(b->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (atomic_load(&b->mode) == M_HANG && b->n_hung < 64) {
			b->hung[b->n_hung++] = fd;      /* accept, never answer */
			continue;
		}
		serve_one(b, fd);
	}
	return NULL;
}

static struct backend *
backend_start_family(enum mode mode, int family)
{
	struct backend *b = calloc(1, sizeof(*b));
	b->lfd = family == AF_INET6 ? listen_on6(&b->port) : listen_on(&b->port);
	atomic_init(&b->mode, mode);
	pthread_mutex_init(&b->mu, NULL);
	assert_int_equal(pthread_create(&b->th, NULL, backend_main, b), 0);
	return b;
}

static struct backend *
backend_start(enum mode mode)
{
	return backend_start_family(mode, AF_INET);
}

static void
backend_stop(struct backend *b)
{
	atomic_store(&b->stop, true);
	pthread_join(b->th, NULL);
	close(b->lfd);
	for (int i = 0; i < b->n_hung; i++)
		close(b->hung[i]);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

/* ---- TCP ------------------------------------------------------------------------------- */

static void
tcp_check_follows_a_port_closing_and_reopening(void **state)
{
	char yaml[1024];
	uint16_t port = 0;
	int lfd = listen_on(&port);
	snprintf(yaml, sizeof(yaml),
	         "gslb:\n"
	         "  checks:\n"
	         "    t: { type: tcp, port: %u, interval: 100ms, timeout: 80ms, rise: 2, fall: 3,"
	         " initial: down }\n"
	         "  pools:\n"
	         "    p:\n"
	         "      members:\n"
	         "        - { name: m1, address: 127.0.0.1, check: t }\n"
	         "  names:\n"
	         "    - { name: t.example., pool: p }\n", port);
	struct gslb_runtime *rt = start(yaml, NULL);
	struct seen s = wait_for(rt, "m1", true, 3000);
	assert_string_equal(s.reason, "check passed");
	assert_string_equal(s.last, "ok");
	assert_true(s.rtt_us >= 0);
	close(lfd);
	uint64_t t0 = now_ms();
	s = wait_for(rt, "m1", false, 3000);
	assert_string_equal(s.reason, "connection refused");
	assert_true(now_ms() - t0 >= 150);     /* three failures 100 ms apart, not one */
	lfd = listen_on(&port);
	s = wait_for(rt, "m1", true, 3000);
	gslb_runtime_stop(rt);
	close(lfd);
}

/* ---- HTTP -------------------------------------------------------------------------------- */

static char *
http_yaml(char *buf, size_t len, uint16_t port, const char *extra)
{
	snprintf(buf, len,
	         "gslb:\n"
	         "  checks:\n"
	         "    h:\n"
	         "      type: http\n"
	         "      port: %u\n"
	         "      path: /health\n"
	         "      interval: 150ms\n"
	         "      timeout: 120ms\n"
	         "      rise: 1\n"
	         "      fall: 2\n"
	         "%s"
	         "  pools:\n"
	         "    p:\n"
	         "      members:\n"
	         "        - { name: m1, address: 127.0.0.1, check: h }\n"
	         "  names:\n"
	         "    - { name: h.example., pool: p }\n", port, extra);
	return buf;
}

static void
http_check_is_up_on_200_and_down_with_status_500(void **state)
{
	char yaml[2048];
	struct backend *b = backend_start(M_OK);
	struct gslb_runtime *rt = start(http_yaml(yaml, sizeof(yaml), b->port,
	                                          "      initial: down\n"
	                                          "      expect-body: OK\n"
	                                          "      host: www.example.test\n"
	                                          "      user-agent: ua-test/1\n"), NULL);
	struct seen s = wait_for(rt, "m1", true, 3000);
	pthread_mutex_lock(&b->mu);
	assert_non_null(strstr(b->last, "GET /health HTTP/1.1\r\n"));
	assert_non_null(strstr(b->last, "\r\nHost: www.example.test:"));
	assert_non_null(strstr(b->last, "\r\nUser-Agent: ua-test/1\r\n"));
	pthread_mutex_unlock(&b->mu);
	atomic_store(&b->mode, M_500);
	s = wait_for(rt, "m1", false, 3000);
	assert_string_equal(s.reason, "status 500");
	assert_string_equal(s.last, "status 500");
	atomic_store(&b->mode, M_OK);
	wait_for(rt, "m1", true, 3000);
	gslb_runtime_stop(rt);
	backend_stop(b);
}

static void
a_server_that_never_answers_times_out_without_blocking(void **state)
{
	char yaml[2048];
	struct backend *b = backend_start(M_HANG);
	struct gslb_runtime *rt = start(http_yaml(yaml, sizeof(yaml), b->port, ""), NULL);
	uint64_t t0 = now_ms();
	/* While checks hang, commands still answer at once. */
	for (int i = 0; i < 10; i++) {
		uint64_t c0 = now_ms();
		assert_int_equal(gslb_drain(rt, "p", "m1"), 0);
		assert_int_equal(gslb_restore(rt, "p", "m1"), 0);
		assert_true(now_ms() - c0 < 100);
		sleep_ms(20);
	}
	struct seen s = wait_for(rt, "m1", false, 3000);
	assert_string_equal(s.reason, "timeout");
	assert_true(now_ms() - t0 < 2000);
	gslb_runtime_stop(rt);
	backend_stop(b);
}

static void
a_10mb_body_is_read_only_within_bounds(void **state)
{
	char yaml[2048];
	struct backend *b = backend_start(M_BIG);
	uint64_t t0 = now_ms();
	/* Status only: the body is not read at all. */
	struct gslb_runtime *rt = start(http_yaml(yaml, sizeof(yaml), b->port,
	                                          "      initial: down\n"), NULL);
	wait_for(rt, "m1", true, 3000);
	gslb_runtime_stop(rt);
	/* Looking for a string that is not there: stop at 64 KiB, "body mismatch". */
	rt = start(http_yaml(yaml, sizeof(yaml), b->port, "      expect-body: NEEDLE\n"), NULL);
	struct seen s = wait_for(rt, "m1", false, 3000);
	assert_string_equal(s.reason, "body mismatch");
	assert_true(now_ms() - t0 < 3000);
	gslb_runtime_stop(rt);
	backend_stop(b);
}

static void
http_checks_reach_ipv6_members_with_a_host_name(void **state)
{
	char yaml[2048];
	struct backend *b = backend_start_family(M_OK, AF_INET6);
	snprintf(yaml, sizeof(yaml),
	         "gslb:\n"
	         "  checks:\n"
	         "    h: { type: http, port: %u, host: v6.example.test, interval: 150ms,"
	         " timeout: 120ms, rise: 1, initial: down }\n"
	         "    plain: { type: http, port: %u, interval: 150ms, timeout: 120ms, rise: 1,"
	         " initial: down }\n"
	         "  pools:\n"
	         "    p:\n"
	         "      members:\n"
	         "        - { name: m6, address6: '::1', check: h }\n"
	         "        - { name: via, address: 192.0.2.1, check: plain, check-address: '::1' }\n",
	         b->port, b->port);
	struct gslb_runtime *rt = start(yaml, NULL);
	wait_for(rt, "m6", true, 3000);
	wait_for(rt, "via", true, 3000);
	pthread_mutex_lock(&b->mu);
	assert_non_null(strstr(b->last, "\r\nHost: "));
	pthread_mutex_unlock(&b->mu);
	gslb_runtime_stop(rt);
	backend_stop(b);
}

static void
a_closed_http_port_is_connection_refused(void **state)
{
	char yaml[2048];
	uint16_t port = 0;
	close(listen_on(&port));
	struct gslb_runtime *rt = start(http_yaml(yaml, sizeof(yaml), port, ""), NULL);
	struct seen s = wait_for(rt, "m1", false, 3000);
	assert_string_equal(s.reason, "connection refused");
	gslb_runtime_stop(rt);
}

/* ---- HTTPS with certificates made here -------------------------------------------------------- */

static char tls_dir[64];

static void
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static void
make_certs(void)
{
	snprintf(tls_dir, sizeof(tls_dir), "/tmp/gslb-tls-XXXXXX");
	assert_non_null(mkdtemp(tls_dir));
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
	sh("cd %s && openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj '/CN=GSLB test CA'"
	   " 2>/dev/null", tls_dir, ec);
	sh("cd %s && openssl req -x509 %s -keyout other.key -out other.pem -days 2"
	   " -subj '/CN=Other CA' 2>/dev/null", tls_dir, ec);
	sh("cd %s && openssl req %s -keyout srv.key -out srv.csr -subj '/CN=www.example.test'"
	   " 2>/dev/null", tls_dir, ec);
	sh("cd %s && printf 'subjectAltName=DNS:www.example.test\\n' > ext.cnf && openssl x509 -req"
	   " -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2"
	   " -extfile ext.cnf 2>/dev/null", tls_dir);
}

static pid_t
tls_server(uint16_t *port)
{
	char accept_arg[32], cert[128], key[128];
	close(listen_on(port));     /* a free port */
	snprintf(accept_arg, sizeof(accept_arg), "127.0.0.1:%u", *port);
	snprintf(cert, sizeof(cert), "%s/srv.pem", tls_dir);
	snprintf(key, sizeof(key), "%s/srv.key", tls_dir);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execlp("openssl", "openssl", "s_server", "-accept", accept_arg, "-cert", cert, "-key",
		       key, "-www", "-quiet", (char *)NULL);
		_exit(127);
	}
	/* Wait until it listens (bounded). */
	for (int i = 0; i < 150; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(*port),
		                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		close(fd);
		if (rc == 0)
			return pid;
		sleep_ms(20);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	fail_msg("openssl s_server did not start");
	return -1;
}

static void
https_checks_verify_the_certificate_against_the_ca(void **state)
{
	char yaml[4096];
	uint16_t port = 0;
	make_certs();
	pid_t pid = tls_server(&port);
	snprintf(yaml, sizeof(yaml),
	         "gslb:\n"
	         "  checks:\n"
	         "    good: { type: https, port: %u, ca-file: %s/ca.pem, sni: www.example.test,"
	         " interval: 200ms, timeout: 150ms, rise: 1, fall: 1, initial: down }\n"
	         "    wrongca: { type: https, port: %u, ca-file: %s/other.pem, sni: www.example.test,"
	         " interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }\n"
	         "    wrongname: { type: https, port: %u, ca-file: %s/ca.pem, sni: bad.example.test,"
	         " interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }\n"
	         "    noverify: { type: https, port: %u, ca-file: %s/other.pem, tls-verify: false,"
	         " sni: www.example.test, interval: 200ms, timeout: 150ms, rise: 1, fall: 1,"
	         " initial: down }\n"
	         "  pools:\n"
	         "    p:\n"
	         "      members:\n"
	         "        - { name: good, address: 127.0.0.1, check: good }\n"
	         "        - { name: wrongca, address: 127.0.0.1, check: wrongca }\n"
	         "        - { name: wrongname, address: 127.0.0.1, check: wrongname }\n"
	         "        - { name: noverify, address: 127.0.0.1, check: noverify }\n",
	         port, tls_dir, port, tls_dir, port, tls_dir, port, tls_dir);
	struct gslb_runtime *rt = start(yaml, NULL);
	wait_for(rt, "good", true, 4000);
	wait_for(rt, "noverify", true, 4000);
	struct seen s = wait_for(rt, "wrongca", false, 4000);
	print_message("wrong CA: %s\n", s.reason);
	assert_memory_equal(s.reason, "TLS error: ", 11);
	s = wait_for(rt, "wrongname", false, 4000);
	print_message("wrong name: %s\n", s.reason);
	assert_memory_equal(s.reason, "TLS error: ", 11);
	gslb_runtime_stop(rt);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	sh("rm -rf %s", tls_dir);
}

/* ---- external state, operator commands, persistence, reload ----------------------------------- */

static const char ext_yaml[] =
	"gslb:\n"
	"  checks:\n"
	"    ext: { type: external }\n"
	"  pools:\n"
	"    p:\n"
	"      max-answers: 2\n"
	"      members:\n"
	"        - { name: m1, address: 192.0.2.1, check: ext }\n"
	"        - { name: m2, address: 192.0.2.2 }\n"
	"  names:\n"
	"    - { name: x.example., pool: p }\n";

static unsigned
answered_mask(struct gslb_runtime *rt, struct gslb_reader *r)
{
	struct gslb_answer a;
	gslb_reader_quiesce(r);
	const struct gslb_state *st = gslb_state_acquire(rt);
	assert_int_equal(gslb_pick(st, (const uint8_t *)"\1x\7example", LDNS_RR_TYPE_A, NULL, &a), 0);
	unsigned mask = 0;
	for (unsigned i = 0; i < a.count; i++)
		mask |= 1u << a.member[i];
	return mask;
}

static void
external_state_is_set_through_the_api(void **state)
{
	struct gslb_runtime *rt = start(ext_yaml, NULL);
	struct gslb_reader *r = gslb_reader_register(rt);
	assert_int_equal(answered_mask(rt, r), 3);
	assert_int_equal(gslb_set_external(rt, "p", "m1", false), 0);
	/* Published before the call returned. */
	assert_int_equal(answered_mask(rt, r), 2);
	assert_false(status_of(rt, "m1").up);
	assert_string_equal(status_of(rt, "m1").reason, "set down externally");
	assert_int_equal(gslb_set_external(rt, "p", "m1", true), 0);
	assert_int_equal(answered_mask(rt, r), 3);
	assert_int_equal(gslb_set_external(rt, "p", "m2", false), -EINVAL);  /* not external */
	assert_int_equal(gslb_set_external(rt, "p", "nope", false), -ENOENT);
	assert_int_equal(gslb_set_external(rt, "q", "m1", false), -ENOENT);
	gslb_reader_unregister(r);
	gslb_runtime_stop(rt);
}

static void
external_state_is_read_from_a_watched_file(void **state)
{
	char dir[] = "/tmp/gslb-ext-XXXXXX", path[128], yaml[1024];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	FILE *fp = fopen(path, "w");
	fprintf(fp, "# initial\nm1 down\n");
	fclose(fp);
	snprintf(yaml, sizeof(yaml),
	         "gslb:\n"
	         "  checks:\n"
	         "    ext: { type: external, file: %s, interval: 100ms, timeout: 100ms }\n"
	         "  pools:\n"
	         "    p:\n"
	         "      members:\n"
	         "        - { name: m1, address: 192.0.2.1, check: ext }\n"
	         "        - { name: m2, address: 192.0.2.2, check: ext }\n", path);
	struct gslb_runtime *rt = start(yaml, NULL);
	assert_false(status_of(rt, "m1").up);   /* read before the first snapshot */
	assert_true(status_of(rt, "m2").up);
	fp = fopen(path, "w");
	fprintf(fp, "p/m1 up\nm2 down   # maintenance\n");
	fclose(fp);
	wait_for(rt, "m2", false, 2000);
	assert_true(status_of(rt, "m1").up);
	/* A malformed file changes nothing, not even its good lines. */
	fp = fopen(path, "w");
	fprintf(fp, "m2 up\nm1 sideways\n");
	fclose(fp);
	sleep_ms(400);
	assert_false(status_of(rt, "m2").up);
	assert_true(status_of(rt, "m1").up);
	gslb_runtime_stop(rt);
	unlink(path);
	rmdir(dir);
}

static void
drain_weight_and_their_persistence(void **state)
{
	char dir[] = "/tmp/gslb-state-XXXXXX", path[128];
	assert_non_null(mkdtemp(dir));
	struct gslb_runtime *rt = start(ext_yaml, dir);
	struct gslb_reader *r = gslb_reader_register(rt);
	assert_int_equal(gslb_drain(rt, "p", "m2"), 0);
	assert_int_equal(answered_mask(rt, r), 1);
	assert_true(status_of(rt, "m2").drained);
	assert_int_equal(gslb_set_weight(rt, "p", "m1", 7), 0);
	assert_int_equal(gslb_set_weight(rt, "p", "m1", 0), -EINVAL);
	assert_int_equal(gslb_set_weight(rt, "p", "m1", 65536), -EINVAL);
	assert_int_equal(gslb_drain(rt, "p", "zz"), -ENOENT);
	assert_int_equal(gslb_restore(rt, "nopool", "m1"), -ENOENT);
	gslb_reader_unregister(r);
	gslb_runtime_stop(rt);

	/* A restart with the same state dir keeps the drain and the weight. */
	rt = start(ext_yaml, dir);
	r = gslb_reader_register(rt);
	assert_true(status_of(rt, "m2").drained);
	assert_int_equal(status_of(rt, "m1").weight, 7);
	assert_int_equal(answered_mask(rt, r), 1);
	assert_int_equal(gslb_restore(rt, "p", "m2"), 0);
	assert_int_equal(answered_mask(rt, r), 3);
	gslb_reader_unregister(r);
	gslb_runtime_stop(rt);
	rt = start(ext_yaml, dir);
	assert_false(status_of(rt, "m2").drained);
	gslb_runtime_stop(rt);
	snprintf(path, sizeof(path), "%s/gslb-state", dir);
	unlink(path);
	rmdir(dir);
}

static void
reload_keeps_the_health_of_members_that_stay(void **state)
{
	struct gslb_runtime *rt = start(ext_yaml, NULL);
	struct gslb_conf *c;
	assert_int_equal(gslb_set_external(rt, "p", "m1", false), 0);
	assert_int_equal(gslb_drain(rt, "p", "m2"), 0);
	assert_int_equal(gslb_conf_load("new.yaml",
		"gslb:\n"
		"  checks:\n"
		"    ext: { type: external }\n"
		"    t: { type: tcp, port: 9, interval: 100ms, timeout: 50ms }\n"
		"  pools:\n"
		"    p:\n"
		"      members:\n"
		"        - { name: m1, address: 192.0.2.1, check: ext }\n"
		"        - { name: m2, address: 192.0.2.2 }\n"
		"        - { name: m3, address: 192.0.2.3, check: ext }\n", &c), 0);
	assert_int_equal(gslb_runtime_apply(rt, c), 0);
	struct seen s = status_of(rt, "m1");
	assert_int_equal(s.members, 3);
	assert_false(s.up);
	assert_string_equal(s.reason, "set down externally");
	assert_true(status_of(rt, "m2").drained);
	assert_true(status_of(rt, "m3").up);
	/* The new name table is live: the old name is gone. */
	struct gslb_reader *r = gslb_reader_register(rt);
	const struct gslb_state *st = gslb_state_acquire(rt);
	assert_null(gslb_name_find(st, (const uint8_t *)"\1x\7example"));
	gslb_reader_unregister(r);
	gslb_runtime_stop(rt);
}

static void
an_old_snapshot_lives_until_its_reader_quiesces(void **state)
{
	struct gslb_runtime *rt = start(ext_yaml, NULL);
	struct gslb_reader *r = gslb_reader_register(rt);
	gslb_reader_quiesce(r);
	const struct gslb_state *old = gslb_state_acquire(rt);
	uint64_t gen = old->generation;
	assert_int_equal(gslb_drain(rt, "p", "m1"), 0);
	const struct gslb_state *cur = gslb_state_acquire(rt);
	assert_ptr_not_equal(cur, old);
	sleep_ms(250);          /* reclamation ticks run; old must survive them */
	assert_int_equal(old->generation, gen);         /* ASan would flag a freed read */
	assert_false(old->m[0].drained);
	assert_true(cur->m[0].drained);
	gslb_reader_quiesce(r);
	/* An offline reader does not hold frees back either. */
	gslb_reader_offline(r);
	assert_int_equal(gslb_restore(rt, "p", "m1"), 0);
	sleep_ms(250);
	status_of(rt, "m1");    /* a round trip through the loop orders its writes before ours */
	assert_null(rt->retired);
	gslb_reader_online(r);
	gslb_reader_unregister(r);
	gslb_runtime_stop(rt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tcp_check_follows_a_port_closing_and_reopening),
		cmocka_unit_test(http_check_is_up_on_200_and_down_with_status_500),
		cmocka_unit_test(a_server_that_never_answers_times_out_without_blocking),
		cmocka_unit_test(a_10mb_body_is_read_only_within_bounds),
		cmocka_unit_test(http_checks_reach_ipv6_members_with_a_host_name),
		cmocka_unit_test(a_closed_http_port_is_connection_refused),
		cmocka_unit_test(https_checks_verify_the_certificate_against_the_ca),
		cmocka_unit_test(external_state_is_set_through_the_api),
		cmocka_unit_test(external_state_is_read_from_a_watched_file),
		cmocka_unit_test(drain_weight_and_their_persistence),
		cmocka_unit_test(reload_keeps_the_health_of_members_that_stay),
		cmocka_unit_test(an_old_snapshot_lives_until_its_reader_quiesces),
	};
	signal(SIGPIPE, SIG_IGN);
	log_init("test_gslb_check", getenv("GSLB_TEST_VERBOSE") ? LOG_LVL_DEBUG : LOG_LVL_WARN,
	         false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
