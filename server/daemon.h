/* daemon.h - what the daemon's files share (main.c, worker.c, udp.c, tcp.c, reload.c):
 * the workers, the state every worker reads, the sockets and the zone reloader.
 *
 * Threads: the main thread owns struct daemon_shared, opens the sockets, compiles
 * zones and publishes configuration; each worker thread runs its own libuv loop over
 * its own sockets and only reads what the main thread published (atomic loads). */
#ifndef SP_SERVER_DAEMON_H
#define SP_SERVER_DAEMON_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <uv.h>

#include "gslb/gslb.h"
#include "server/config.h"
#include "server/internal.h"
#include "zones/zones.h"

#define WORKER_BATCH 64             /* datagrams per recvmmsg/sendmmsg */
#define WORKER_BATCHES_PER_WAKE 8   /* then yield to the loop: TCP gets its turn */
#define UDP_RX_SIZE 4096            /* larger queries are dropped (none is legitimate) */
#define UDP_TX_SIZE 4096            /* = the largest edns-size we allow */
#define TCP_MSG_MAX 65535
#define TCP_MSG_TIMEOUT_MS 5000     /* a started message must complete in this time */
#define TCP_FLUSH_AT 16384          /* write pipelined answers once this many are queued */
#define TCP_CLIENT_BUCKETS 16384    /* per-client connection counters (hashed address) */
#define SHUTDOWN_GRACE_MS 2000      /* in-flight TCP answers get this long at exit */

/* ---- shared, read by every worker ----------------------------------------------------- */

struct daemon_shared {
	/* The answer configuration in force. Workers load it at the start of each batch
	 * after announcing the generation they saw (struct worker.active_gen), so the
	 * main thread knows when nobody can still hold an older one. */
	_Atomic(struct answer_conf *) conf;
	_Atomic uint64_t gen;

	/* The GSLB runtime (gslb/gslb.h): NULL while the configuration has no gslb:
	 * section. Set by the main thread (at start, or on the first reload that adds the
	 * section) and then never changed until exit, when it is stopped after the workers
	 * are joined; control commands (drain, restore, weight, status) use it from the
	 * main thread, workers register a reader on it and read its snapshots. */
	_Atomic(struct gslb_runtime *) gslb;

	/* TCP limits: reloadable, so atomics. */
	_Atomic uint64_t tcp_idle_ms;
	_Atomic unsigned tcp_max_connections;
	_Atomic unsigned tcp_max_per_client;
	_Atomic unsigned tcp_total;
	/* Connections per client address, by hash; a collision makes two clients share
	 * one limit, which errs on the side of refusing. */
	_Atomic uint16_t tcp_per_client[TCP_CLIENT_BUCKETS];
};

/* A published answer_conf with the strings it points to in the same allocation. */
struct answer_conf *daemon_answer_conf_new(const struct daemon_conf *c);

/* ---- workers (worker.c) ------------------------------------------------------------------ */

struct udp_sock {
	struct worker *w;
	uv_poll_t poll;
	int fd;
	int family;
	bool pktinfo;               /* bound to a wildcard: answer from the query's address */
};

struct tcp_listener {
	struct worker *w;
	uv_tcp_t h;
	int fd;
};

struct tcp_conn;
struct recurse_worker;      /* server/recurse.c */

/* Answer latency per worker (server/stats.c reads it): the time from a batch's start to
 * its last answer, divided over the batch's queries, counted into buckets whose upper
 * bounds in microseconds are latency_bucket_us[] (the last one is +Inf). Written only by
 * the worker; readers take a relaxed view like struct answer_stats. */
#define LATENCY_BUCKETS 12
extern const uint32_t latency_bucket_us[LATENCY_BUCKETS];
struct worker_latency {
	uint64_t bucket[LATENCY_BUCKETS];
	uint64_t sum_ns;
	uint64_t count;
};

/* Control-message room for IP_PKTINFO or IPV6_PKTINFO. */
union udp_ctrl {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
};

struct worker {
	unsigned id;
	struct daemon_shared *sh;
	uv_thread_t thread;
	uv_loop_t loop;
	uv_async_t wake;            /* main -> worker: stop */
	uv_timer_t grace;           /* bounds the TCP drain at stop */
	_Atomic bool stop_requested;
	bool stopping;

	/* The generation of the conf this worker is using, 0 between batches. */
	_Atomic uint64_t active_gen;

	struct zones_snapshot *zsnap;
	/* This thread's GSLB reader: registered when the thread starts (or at the first
	 * batch after a reload brought GSLB in), online only inside a batch, so an idle
	 * worker never holds back the reclamation of old snapshots. */
	struct gslb_reader *greader;
	struct answer_ctx actx;
	struct answer_stats stats;
	struct worker_latency lat;
	uint64_t batch_t0_ns;       /* monotonic time at worker_batch_begin() */
	uint64_t batch_q0;          /* queries counted before this batch */

	size_t nsock;
	struct udp_sock *udp;
	struct tcp_listener *tcpl;
	struct tcp_conn *conns;     /* open TCP connections (doubly linked) */
	unsigned nconns;

	/* UDP batch buffers, allocated once (no allocation on the answer path). */
	struct mmsghdr rx_msgs[WORKER_BATCH], tx_msgs[WORKER_BATCH];
	struct iovec rx_iov[WORKER_BATCH], tx_iov[WORKER_BATCH];
	struct sockaddr_storage peer[WORKER_BATCH];
	union udp_ctrl rx_ctrl[WORKER_BATCH], tx_ctrl[WORKER_BATCH];
	uint8_t (*rxbuf)[UDP_RX_SIZE];
	uint8_t (*txbuf)[UDP_TX_SIZE];
	uint8_t *tcp_scratch;       /* TCP_MSG_MAX: one answer before it is queued */
	struct recurse_worker *rw;  /* replies from the resolver thread; NULL without one */
};

/* Sets up worker w (loop, snapshot, buffers, handles on the given sockets; takes the
 * fds: udp_fds[i] and tcp_fds[i] for listen address i). Main thread, before start. */
int worker_init(struct worker *w, unsigned id, struct daemon_shared *sh, struct zones_db *db,
                const struct daemon_conf *c, const int *udp_fds, const int *tcp_fds);
int worker_start(struct worker *w);
/* Asks the worker to stop: UDP stops at once, TCP connections get SHUTDOWN_GRACE_MS
 * to finish the answers they owe. Any thread. */
void worker_stop(struct worker *w);
void worker_join(struct worker *w);
void worker_deinit(struct worker *w);

/* Brackets the answering of a batch (UDP) or of a read (TCP): picks up the published
 * conf and renews the zone snapshot. Returns false when the snapshot failed. */
bool worker_batch_begin(struct worker *w);
void worker_batch_end(struct worker *w);

/* True when no worker can still use a conf older than generation gen. */
bool workers_past(struct worker *ws, unsigned n, uint64_t gen);

/* ---- sockets (udp.c, tcp.c) --------------------------------------------------------------- */

/* Opens and binds a socket for l (SO_REUSEPORT, v6only for v6). Returns the fd or a
 * negative errno. Main thread, before privileges are dropped. */
int udp_socket_open(const struct conf_listen *l);
int tcp_socket_open(const struct conf_listen *l);

int udp_sock_init(struct worker *w, struct udp_sock *u, int fd);
void udp_sock_close(struct udp_sock *u);

int tcp_listener_init(struct worker *w, struct tcp_listener *t, int fd);
int tcp_listener_start(struct tcp_listener *t);
void tcp_listener_close(struct tcp_listener *t);
/* At stop: stops reading; each connection closes once its answers are written. */
void tcp_conns_drain(struct worker *w);
/* At the end of the grace period: closes what is left. */
void tcp_conns_close_all(struct worker *w);

/* ---- zones (reload.c) ----------------------------------------------------------------------- */

/* Brings the database in line with c's zone list: compiles each configured zone whose
 * file changed (path, mtime or size differ from what the database recorded, or the
 * zone is absent), and deletes zones this daemon compiled earlier that c no longer
 * lists (remembered in <state-dir>/zones.daemon). A zone that fails keeps its previous
 * version; errors are logged as file:line. Returns the number of zones that failed.
 * Main thread only (the only writer in the daemon). */
unsigned reload_zones(struct zones_db *db, const struct daemon_conf *c);
/* Logs the served zones with their serials, one line. */
void reload_log_zones(struct zones_db *db, const struct daemon_conf *c);
/* Writes the example zone to its file if the file does not exist. */
int reload_write_example(const struct daemon_conf *c);

#define RELOAD_ERRLEN 512
/* Compiles the configured zone name (presentation form, any case) now, even if its file
 * did not change. Returns 0, SP_ENOZONE when the configuration does not list it, or the
 * compile's error (the previous version keeps serving). Main thread only. */
int reload_one_zone(struct zones_db *db, const struct daemon_conf *c, const char *name);
/* The last load error of zone name ("file:line: message") and when it happened; false
 * when the zone's last load worked (or none was tried). Any thread (takes a mutex: never
 * from the answer path). */
bool reload_zone_error(const char *name, char *msg, size_t msglen, time_t *when);

#endif
