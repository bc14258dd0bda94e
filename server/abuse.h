/* abuse.h - the answer path's defences against abuse: response rate limiting (RRL,
 * server/rrl.c) and DNS cookies (RFC 7873 with RFC 9018 server cookies,
 * server/cookies.c), and their configuration sections rrl: and cookies:
 * (server/abuse_conf.c).
 *
 * Threads: the configuration is parsed on the main thread; daemon_answer_conf_new()
 * (main thread) places the rate-limit table and the cookie settings inside the
 * published struct answer_conf (abuse_publish()), and the workers then only read the
 * settings and update the table's slots with atomics: no lock, no allocation. */
#ifndef SP_SERVER_ABUSE_H
#define SP_SERVER_ABUSE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <yaml.h>

#define ABUSE_WHITELIST_MAX 64

/* An address prefix: family AF_INET or AF_INET6, len bits of addr (the rest zero). */
struct abuse_prefix {
	uint8_t family;
	uint8_t len;
	uint8_t addr[16];
};

/* rrl: (docs/abuse.md). Off unless a rrl: section says otherwise. */
struct rrl_conf {
	bool enabled;
	uint32_t rate;              /* responses per second per (prefix, class, name) */
	uint32_t slip;              /* 0: drop every limited answer; N: every Nth is TC=1 */
	uint8_t ipv4_prefix;        /* client prefix lengths the limits apply to */
	uint8_t ipv6_prefix;
	uint32_t table_size;        /* slots, a power of two */
	bool exempt_cookies;        /* a valid server cookie proves the address: no limit */
	unsigned nwhitelist;
	struct abuse_prefix whitelist[ABUSE_WHITELIST_MAX];
};

#define RRL_DEFAULT_RATE 20
#define RRL_DEFAULT_SLIP 2
#define RRL_DEFAULT_TABLE 65536
#define RRL_MAX_RATE 100000

/* cookies: (docs/abuse.md). */
struct cookie_conf {
	bool enabled;
	bool require;               /* over UDP, only a valid server cookie gets an answer */
	uint8_t secret[16];         /* SipHash-2-4 key, or the master key when rotating */
	uint32_t rotate_s;          /* 0: secret is the key, as is (RFC 9018 anycast sets) */
	bool secret_auto;           /* secret: auto (drawn at start, kept across reloads) */
};

#define COOKIE_DEFAULT_ROTATE_S 86400
#define COOKIE_MIN_ROTATE_S 3600    /* a cookie lives an hour: one previous key suffices */

/* What the daemon's configuration holds (struct daemon_conf.abuse). */
struct abuse_conf {
	struct rrl_conf rrl;
	struct cookie_conf cookies;
};

/* ---- the published part (inside struct answer_conf) ------------------------------------ */

struct rrl_slot {
	/* tag (12 bits) | tokens (20 bits) | time in ms (32 bits), see rrl.c: one word, so
	 * one compare-and-swap updates the bucket as a whole. 0: never used. */
	_Atomic uint64_t state;
	_Atomic uint32_t limited;   /* limited answers since the slot was taken: the slip */
	uint32_t pad;
};

struct rrl_table {
	struct rrl_conf conf;
	uint8_t seed[16];           /* hash key: random per table, so slots cannot be aimed at */
	uint32_t mask;              /* table_size - 1 */
	struct rrl_slot slots[];
};

/* Bytes abuse_publish() needs after the struct answer_conf for c (a multiple of 64). */
size_t abuse_publish_size(const struct abuse_conf *c);
/* Builds the table (a fresh, empty one; abuse_rrl_keep() may then carry the running
 * table's buckets over on a reload) and the cookie settings in mem (abuse_publish_size()
 * octets, zeroed, 16-aligned) and points *rrl and *cookies at them, or at NULL where the
 * feature is off. Main thread. */
void abuse_publish(const struct abuse_conf *c, void *mem, struct rrl_table **rrl,
                   const struct cookie_conf **cookies);

/* ---- response rate limiting (rrl.c) ---------------------------------------------------- */

enum rrl_class {
	RRL_ANSWER = 1,             /* per qname and qtype */
	RRL_NODATA,                 /* per qname and qtype */
	RRL_NXDOMAIN,               /* per zone */
	RRL_REFERRAL,               /* per delegation */
	RRL_ERROR,                  /* per client prefix alone */
};

enum rrl_verdict {
	RRL_PASS = 0,
	RRL_DROP,                   /* send nothing */
	RRL_SLIP,                   /* send the question back with TC=1 and no records */
};

/* Initialises a table for conf in mem (sizeof(struct rrl_table) + table_size slots,
 * zeroed) with the given hash key. */
void rrl_table_init(struct rrl_table *t, const struct rrl_conf *conf, const uint8_t seed[16]);

/* The client's prefix as hashed: family, then the address cut to the configured prefix
 * length (17 octets). */
void rrl__prefix(const struct rrl_table *t, const struct sockaddr *addr, uint8_t out[17]);
/* The slot key of (client prefix, class, name, qtype): SipHash-2-4 with the table's
 * seed; the name is lower-cased first, so 0x20 case games do not spread a flood. */
uint64_t rrl__key(const struct rrl_table *t, const struct sockaddr *addr, enum rrl_class cls,
                  const uint8_t *name, uint16_t qtype);
/* The token bucket of key at now_ms (a monotonic clock in milliseconds). */
enum rrl_verdict rrl__account(struct rrl_table *t, uint64_t key, uint32_t now_ms);
/* True when addr lies in a whitelisted prefix. */
bool rrl__whitelisted(const struct rrl_conf *c, const struct sockaddr *addr);

/* The verdict on one UDP answer of class cls for name/qtype to addr (whitelist, then
 * the bucket). Worker threads; lock-free. */
enum rrl_verdict rrl_check(struct rrl_table *t, const struct sockaddr *addr, enum rrl_class cls,
                           const uint8_t *name, uint16_t qtype);

/* ---- cookies (cookies.c) ----------------------------------------------------------------- */

#define OPT_COOKIE 10
#define COOKIE_CLIENT_LEN 8
#define COOKIE_SERVER_LEN 16        /* RFC 9018: version, reserved, timestamp, hash */
#define COOKIE_MAX_LEN 40           /* client 8 + server 8..32 (RFC 7873 4) */
#define RCODE_BADCOOKIE 23          /* RFC 7873 8 */

/* SipHash-2-4 (Aumasson and Bernstein) of msg with a 16-octet key: the 64-bit result
 * as 8 octets, least significant first (the reference implementation's output). */
void cookie_siphash24(const uint8_t key[16], const uint8_t *msg, size_t len, uint8_t out[8]);

/* RFC 9018 4.2: the server cookie for client (8 octets) at addr, timestamp ts, made
 * with secret: 1, 0, 0, 0, ts (32 bits, big-endian), SipHash-2-4(client | 1 0 0 0 |
 * ts | client IP). */
void cookie_make(const uint8_t secret[16], const uint8_t client[8], const struct sockaddr *addr,
                 uint32_t ts, uint8_t out[16]);

enum cookie_state {
	COOKIE_NONE = 0,            /* the query had no COOKIE option */
	COOKIE_CLIENT,              /* a client cookie alone, or a server cookie we did not make
	                             * (or one that is stale): a fresh one is sent back */
	COOKIE_VALID,               /* a server cookie of ours, within its lifetime */
};

/* Judges the well-formed COOKIE option opt (len 8 or 16..40 octets) of a query from
 * addr at time now (seconds since the epoch) and writes the option to send back to out
 * (client cookie + server cookie, 24 octets): the same server cookie while it is young,
 * a new one otherwise (RFC 9018 4.3). With rotation, the keys are derived from the
 * master secret per period and the previous period's key is still accepted. */
enum cookie_state cookie_check(const struct cookie_conf *cc, const struct sockaddr *addr,
                               const uint8_t *opt, size_t len, uint32_t now, uint8_t out[24]);
/* The key cookies are made with at now, and the one before (rotation). */
void cookie__keys(const struct cookie_conf *cc, uint32_t now, uint8_t cur[16], uint8_t prev[16]);

/* ---- configuration (abuse_conf.c) ---------------------------------------------------------- */

struct conf_ctx;
struct daemon_conf;

int abuse_conf_parse_rrl(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c);
int abuse_conf_parse_cookies(struct conf_ctx *cx, yaml_node_t *node, struct daemon_conf *c);
/* Parses "ADDR/LEN" (or a bare address: the full length). Returns false when bad. */
bool abuse_parse_prefix(const char *text, struct abuse_prefix *out);
/* On reload, before the new configuration is published: where both the running (old)
 * and the new cookies: sections say secret: auto, the new one takes over the running
 * secret, so that the keys (current, previous, and the rotation schedule, all derived
 * from it and the clock) and the server cookies clients hold stay valid. Returns true
 * when it did. Main thread. */
bool abuse_conf_keep_secret(const struct abuse_conf *old, struct abuse_conf *c);
/* On reload, with the new answer conf built but not yet published: when the rrl:
 * settings are the same, t (fresh) takes over the running table's seed and buckets, so a
 * reload does not hand every limited client a full bucket again. Returns true when it
 * did. Main thread, while workers still write to old: each slot is copied as it stands
 * (answers accounted in the meantime are lost, which only errs towards answering). */
bool abuse_rrl_keep(struct rrl_table *t, const struct rrl_table *old);

#endif
