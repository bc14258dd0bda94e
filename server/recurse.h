/* recurse.h - the recursive resolver inside signpostd: the `resolver:` section, the
 * resolver thread, and the dispatch between the workers' answer path and that thread
 * (server/recurse.c, server/recurse_conf.c; design in docs/resolver.md "In the daemon").
 *
 * Threads. The main thread configures (recurse_start(), recurse_reload(),
 * recurse_stop()); one resolver thread runs resolver/'s struct resolver on its own libuv
 * loop; each worker answers cache hits itself (recurse_udp(), recurse_tcp()) and gets the
 * misses back through its struct recurse_worker (a mutex-protected list and a uv_async_t
 * on the worker's loop). Control and metrics read counters and flush the cache from the
 * main and metrics threads. */
#ifndef SP_SERVER_RECURSE_H
#define SP_SERVER_RECURSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "server/config.h"
#include "server/daemon.h"
#include "server/internal.h"

struct recurse_worker;
struct ops_buf;

/* ---- configuration (recurse_conf.c) -------------------------------------------------- */

/* The `resolver:` section (resolver_conf_parse()) into c->resolver; NULL when absent. */
int recurse_conf_parse(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c);
void recurse_conf_free(struct daemon_conf *c);
/* The built-in default's resolver: enabled for localhost, the IANA root hints and root
 * trust anchor (server/default_conf.c). 0 or a negative code. */
int recurse_conf_builtin(struct daemon_conf *c);
/* Plugs the three above into the configuration loader (config.c calls them through
 * conf_resolver_hooks; only signpostd links the resolver). Call before loading. */
void recurse_conf_register(void);

/* ---- the daemon side (recurse.c, main thread) ----------------------------------------- */

/* Starts the resolver thread for c->resolver when enabled (a no-op otherwise): takes
 * c->resolver. Returns 0 or a negative code (logged). */
int recurse_start(struct daemon_conf *c);
/* SIGHUP: applies the new section's ACL and limits (takes c->resolver); what needs a
 * restart is logged. */
void recurse_reload(struct daemon_conf *c);
/* After the workers are joined: stops the resolver thread, frees everything. */
void recurse_stop(void);
/* True when the resolver runs. */
bool recurse_enabled(void);

/* `signpostctl cache flush [NAME]` (main thread): writes the answer into msg. Returns
 * 0, or -ENOENT with no resolver, -EINVAL for a bad name. */
int recurse_flush(const char *name, size_t *flushed, char *msg, size_t msglen);
/* The resolver's Prometheus counters (any thread; nothing without a resolver). */
void recurse_metrics(struct ops_buf *b);

/* ---- the worker side (recurse.c, worker thread) ---------------------------------------- */

/* worker_init(): the worker's reply queue on its loop (nothing without a resolver). */
int recurse_worker_init(struct worker *w);
/* on_wake() at stop: no more replies are delivered; closes the async handle. */
void recurse_worker_stop(struct worker *w);
void recurse_worker_deinit(struct worker *w);

/* After answer_query() wrote len octets to out for the query q (qlen) from cl: sets RA
 * for clients allowed recursion, and for a name in none of our zones answers from the
 * cache (returns the new length) or hands the question to the resolver (returns 0: the
 * reply comes later, from fd to the same peer and from the same local address, rx being
 * the received message with its IP_PKTINFO). Clients outside the ACL keep REFUSED. */
size_t recurse_udp(struct worker *w, int fd, const struct msghdr *rx, const struct answer_client *cl,
                   const uint8_t *q, size_t qlen, uint8_t *out, size_t cap, size_t len);
/* The same over TCP; *later is set when the reply will come later, to the connection
 * conn_id (tcp_conn_deliver(), or tcp_conn_release() when there is none to send). */
size_t recurse_tcp(struct worker *w, uint64_t conn_id, const struct answer_client *cl,
                   const uint8_t *q, size_t qlen, uint8_t *out, size_t cap, size_t len,
                   bool *later);

/* tcp.c: queues msg on the worker's connection conn_id and writes it when the connection
 * is not busy; false when that connection is gone. One resolution fewer is waited for. */
bool tcp_conn_deliver(struct worker *w, uint64_t conn_id, const uint8_t *msg, size_t len);
/* tcp.c: the connection is gone or failed to submit: one resolution fewer to wait for. */
void tcp_conn_release(struct worker *w, uint64_t conn_id);
/* udp.c: the control message that makes a reply leave from the address rx came to. */
socklen_t udp__reply_pktinfo(const struct msghdr *rx, union udp_ctrl *tx);

#endif
