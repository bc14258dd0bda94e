/* main.c - signpostd: reads the configuration, binds the sockets, becomes a daemon,
 * compiles the zones, drops privileges, starts the workers and then runs the main loop:
 * SIGHUP reloads (configuration and zones), SIGTERM/SIGINT stop.
 *
 * The main thread owns the configuration, the database writer (server/reload.c) and the
 * publication of new answer configurations; the workers (server/worker.c) answer. The
 * GSLB runtime (gslb/gslb.h) runs its health checks on its own thread; the main thread
 * starts it, hands it each reloaded gslb: section and stops it after the workers. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "server/daemon.h"
#include "server/ops.h"
#include "server/recurse.h"
#include "server/xfr.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#define RETIRE_MAX 64
#define RETIRE_POLL_MS 20

struct retired {
	struct answer_conf *ac;
	uint64_t gen;       /* freed once every worker is past this generation */
};

struct daemon {
	struct daemon_conf *conf;
	bool builtin;               /* no -c: the built-in default */
	struct zones_db *db;
	struct daemon_shared sh;
	struct worker *workers;
	unsigned nworkers;
	unsigned ninit, nstarted;   /* workers initialised, threads running */
	int *udp_fds, *tcp_fds;     /* [worker * nlisten + listen] until the workers take them */

	uv_loop_t *loop;
	uv_signal_t sig_hup, sig_term, sig_int;
	uv_timer_t retire_timer;
	struct retired retired[RETIRE_MAX];
	unsigned nretired;
	bool gslb_on;               /* the published answer conf answers dynamic names */
	int ready_fd;               /* daemonizing: tells the parent start-up worked */

	struct control *control;    /* the control socket (server/control.c) */
	struct metrics *metrics;    /* HTTP metrics and status (server/metrics.c) */
	struct xfr_runtime *xfr;    /* IXFR journal, NOTIFY (server/xfr.c) */
	time_t started;
};

struct options {
	const char *config;
	bool foreground;
	bool check;
};

/* ---- command line ------------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
	        "Usage: signpostd [-c FILE] [-f] [--check-config]\n"
	        "Signpost DNS server (authoritative).\n\n"
	        "  -c, --config FILE   read the YAML configuration FILE\n"
	        "                      (without -c: serve the example zone example.test. on\n"
	        "                      127.0.0.1@5300 and ::1@5300, in the foreground, with\n"
	        "                      state in $SIGNPOST_STATE_DIR or $XDG_STATE_HOME/signpost\n"
	        "                      or ~/.local/state/signpost)\n"
	        "  -f, --foreground    do not become a daemon\n"
	        "      --check-config  check the configuration and exit (0: valid, 1: invalid)\n"
	        "  -h, --help          show this help\n"
	        "  -V, --version       show the version\n\n"
	        "Signals: SIGHUP reloads the configuration and changed zone files;\n"
	        "SIGTERM and SIGINT stop (in-flight TCP answers get %d ms).\n"
	        "See signpostd(8) and docs/configuration.md.\n",
	        SHUTDOWN_GRACE_MS);
}

static int
parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_CHECK = 256 };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:fhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->foreground = true;
			break;
		case OPT_CHECK:
			o->check = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("signpostd %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "signpostd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* ---- configuration -------------------------------------------------------------------- */

static struct daemon_conf *
load_config(const struct options *o)
{
	char err[CONF_ERRLEN];
	struct daemon_conf *c = NULL;

	if (o->config == NULL) {
		char *dir = daemon_conf_default_state_dir();
		if (dir != NULL)
			c = daemon_conf_default(dir);
		free(dir);
		if (c == NULL)
			fprintf(stderr, "signpostd: out of memory\n");
		return c;
	}
	/* Absolute, so that the daemon can leave its working directory and a reload
	 * still finds the file and the zone files relative to it. */
	char abs[PATH_MAX];
	const char *path = o->config;
	if (o->config[0] != '/' && realpath(o->config, abs) != NULL)
		path = abs;
	if (daemon_conf_load(path, &c, err, sizeof(err)) != 0) {
		/* Name the file as the user wrote it. */
		if (path != o->config && strncmp(err, path, strlen(path)) == 0)
			fprintf(stderr, "%s%s\n", o->config, err + strlen(path));
		else
			fprintf(stderr, "%s\n", err);
		return NULL;
	}
	return c;
}

static unsigned
worker_count(const struct daemon_conf *c)
{
	unsigned n = c->workers;
	if (n == 0)
		n = uv_available_parallelism();
	if (n == 0)
		n = 1;
	return n > CONF_MAX_WORKERS ? CONF_MAX_WORKERS : n;
}

/* ---- start-up ------------------------------------------------------------------------------- */

static int
mkdir_p(const char *dir, mode_t mode)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Built-in default only: skips IPv6 addresses when the host has no IPv6. */
static int
probe_ipv6(struct daemon_conf *c)
{
	for (size_t l = 0; l < c->nlisten;) {
		if (c->listen[l].addr.ss_family != AF_INET6) {
			l++;
			continue;
		}
		int fd = udp_socket_open(&c->listen[l]);
		if (fd >= 0) {
			close(fd);
			l++;
			continue;
		}
		if (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL)
			return 0;  /* open_sockets() reports it */
		log_warn("%s: IPv6 is not available (%s); not listening there", c->listen[l].text,
		         strerror(-fd));
		memmove(&c->listen[l], &c->listen[l + 1], (c->nlisten - l - 1) * sizeof(c->listen[0]));
		c->nlisten--;
	}
	return 0;
}

/* SO_REUSEPORT would let us share a port with a signpostd already running there (same
 * user), splitting its traffic without a word. A socket without it cannot bind beside
 * another process's sockets, so one probe per protocol finds them. */
static int
probe_in_use(const struct conf_listen *l)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	for (int i = 0; i < 2; i++) {
		int on = 1, rc = 0;
		int fd = socket(l->addr.ss_family, types[i] | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return 0;  /* the real open reports it */
		if (types[i] == SOCK_STREAM)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));  /* TIME_WAIT is fine */
		if (l->addr.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) != 0 && errno == EADDRINUSE)
			rc = -EADDRINUSE;
		close(fd);
		if (rc != 0) {
			log_err("%s: cannot listen: %s port already in use (another server running?)",
			        l->text, types[i] == SOCK_DGRAM ? "UDP" : "TCP");
			return rc;
		}
	}
	return 0;
}

/* Binds every worker's UDP and TCP socket for every listen address. */
static int
open_sockets(struct daemon *d)
{
	struct daemon_conf *c = d->conf;

	for (size_t l = 0; l < c->nlisten; l++) {
		int rc = probe_in_use(&c->listen[l]);
		if (rc != 0)
			return rc;
		for (unsigned w = 0; w < d->nworkers; w++) {
			int u = udp_socket_open(&c->listen[l]);
			int t = u >= 0 ? tcp_socket_open(&c->listen[l]) : u;
			if (t < 0) {
				if (u >= 0)
					close(u);
				log_err("%s: cannot listen: %s", c->listen[l].text, strerror(-t));
				return t;
			}
			d->udp_fds[w * c->nlisten + l] = u;
			d->tcp_fds[w * c->nlisten + l] = t;
		}
	}
	return 0;
}

static int
daemonize(struct daemon *d)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		/* The parent waits until the child says it is serving, so that a failed
		 * start shows in our exit code. */
		char ok;
		close(fds[1]);
		ssize_t n;
		do {
			n = read(fds[0], &ok, 1);
		} while (n < 0 && errno == EINTR);
		if (n == 1)
			_exit(0);
		int status;
		waitpid(pid, &status, 0);
		_exit(WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1);
	}
	close(fds[0]);
	d->ready_fd = fds[1];
	setsid();
	if (chdir("/") != 0)
		log_warn("chdir /: %s", strerror(errno));
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (d->conf->log_syslog)
			dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	return 0;
}

static int
write_pid_file(const char *path)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		log_err("%s: cannot write the pid file: %s", path, strerror(errno));
		return -errno;
	}
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) == 0 ? 0 : -EIO;
}

/* The database must stay writable by the user we become (SIGHUP compiles). */
static void
chown_state(const struct daemon_conf *c, uid_t uid, gid_t gid)
{
	static const char *files[] = { "", "/db", "/db/data.mdb", "/db/lock.mdb", "/" "zones.daemon" };
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", c->state_dir, files[i]);
		if (chown(path, uid, gid) != 0 && errno != ENOENT)
			log_warn("%s: chown: %s", path, strerror(errno));
	}
}

static int
drop_privileges(const struct daemon_conf *c)
{
	if (c->user == NULL)
		return 0;
	struct passwd *pw = getpwnam(c->user);
	if (pw == NULL) {
		log_err("server.user: no such user '%s'", c->user);
		return -ENOENT;
	}
	chown_state(c, pw->pw_uid, pw->pw_gid);
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_err("cannot become user '%s': %s", c->user, strerror(errno));
		return -errno;
	}
	log_info("running as user %s", c->user);
	return 0;
}

static int
open_database(struct daemon *d)
{
	char path[PATH_MAX];
	int rc = mkdir_p(d->conf->state_dir, 0755);
	if (rc != 0) {
		log_err("%s: cannot create the state directory: %s", d->conf->state_dir,
		        sp_strerror(rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/db", d->conf->state_dir);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		rc = -errno;
		log_err("%s: cannot create the database directory: %s", path, strerror(errno));
		return rc;
	}
	rc = zones_db_open(path, 0, 0, &d->db);
	if (rc != 0)
		log_err("%s: cannot open the zone database: %s", path, sp_strerror(rc));
	return rc;
}

static void
apply_tcp_limits(struct daemon *d)
{
	atomic_store(&d->sh.tcp_idle_ms, d->conf->tcp_idle_timeout_ms);
	atomic_store(&d->sh.tcp_max_connections, d->conf->tcp_max_connections);
	atomic_store(&d->sh.tcp_max_per_client, d->conf->tcp_max_per_client);
}

/* ---- publishing the answer configuration ---------------------------------------------------- */

static void
on_retire_timer(uv_timer_t *t)
{
	struct daemon *d = t->data;
	unsigned keep = 0;
	for (unsigned i = 0; i < d->nretired; i++) {
		if (workers_past(d->workers, d->nworkers, d->retired[i].gen))
			free(d->retired[i].ac);
		else
			d->retired[keep++] = d->retired[i];
	}
	d->nretired = keep;
	if (keep == 0)
		uv_timer_stop(t);
}

/* Swaps in a new answer configuration; the old one is freed once no worker can be
 * using it (on_retire_timer). */
static int
publish_answer_conf(struct daemon *d)
{
	struct answer_conf *ac = daemon_answer_conf_new(d->conf);
	if (ac == NULL)
		return -ENOMEM;
	/* Only this thread publishes, so the running conf stays alive until retired. */
	struct answer_conf *cur = atomic_load(&d->sh.conf);
	if (cur != NULL && abuse_rrl_keep(ac->rrl, cur->rrl))
		log_debug("reload: rrl: settings unchanged, the rate-limit table stays");
	while (d->nretired == RETIRE_MAX) {
		/* Dozens of reloads within milliseconds: wait for the workers. */
		uv_sleep(RETIRE_POLL_MS);
		on_retire_timer(&d->retire_timer);
	}
	struct answer_conf *old = atomic_exchange(&d->sh.conf, ac);
	uint64_t gen = atomic_fetch_add(&d->sh.gen, 1) + 1;
	if (old != NULL) {
		d->retired[d->nretired++] = (struct retired){ .ac = old, .gen = gen };
		uv_timer_start(&d->retire_timer, on_retire_timer, RETIRE_POLL_MS, RETIRE_POLL_MS);
	}
	return 0;
}

/* ---- GSLB --------------------------------------------------------------------------------------- */

struct gslb_zone_check {
	struct zones_snapshot *snap;
	const char *file;
	unsigned errors;
};

/* A dynamic name must be answerable as the zone stands: not at or below a cut (the
 * referral would win), not below a DNAME, and not the owner of a CNAME (which can have
 * no other data, RFC 1034 3.6.2). config.c already checked that a zone holds it. */
static int
gslb_check_name(void *arg, const uint8_t *wire, const char *text, int line)
{
	struct gslb_zone_check *zc = arg;
	struct zones_result res;
	const char *why = NULL;

	switch (zones_lookup(zc->snap, wire, TYPE_A, &res)) {
	case ZONES_DELEGATION:
		why = "is at or below a delegation (NS) of its zone";
		break;
	case ZONES_DNAME:
		why = "is below a DNAME of its zone";
		break;
	case ZONES_CNAME:
		why = "owns a CNAME in its zone (a CNAME cannot have other data)";
		break;
	case ZONES_NOT_OURS:
		log_warn("%s:%d: gslb.names: '%s': its zone is not loaded; answered once it is",
		         zc->file, line, text);
		break;
	default:
		break;
	}
	if (why != NULL) {
		log_err("%s:%d: gslb.names: '%s' %s", zc->file, line, text, why);
		zc->errors++;
	}
	return 0;
}

static int
gslb_check_zones(struct daemon *d, const struct gslb_conf *g)
{
	struct gslb_zone_check zc = {
		.snap = zones_snapshot_new(d->db),
		.file = d->conf->path != NULL ? d->conf->path : "built-in configuration",
	};
	if (zc.snap == NULL || zones_snapshot_begin(zc.snap) != 0) {
		zones_snapshot_free(zc.snap);
		log_err("gslb: cannot read the zone database to check the dynamic names");
		return -EIO;
	}
	gslb_conf_foreach_name(g, gslb_check_name, &zc);
	zones_snapshot_end(zc.snap);
	zones_snapshot_free(zc.snap);
	return zc.errors > 0 ? SP_ECONFIG : 0;
}

/* Start-up, or the first reload with a gslb: section: checks the names against the
 * compiled zones and starts the runtime (which takes the configuration). */
static int
gslb_start(struct daemon *d)
{
	struct daemon_conf *c = d->conf;
	struct gslb_runtime_opts opts = { .state_dir = c->state_dir };
	struct gslb_runtime *rt = NULL;

	int rc = gslb_check_zones(d, c->gslb);
	if (rc != 0) {
		gslb_conf_free(c->gslb);
	} else {
		rc = gslb_runtime_start(c->gslb, &opts, &rt);
		if (rc != 0)
			log_err("gslb: cannot start: %s", sp_strerror(rc));
	}
	c->gslb = NULL;
	c->gslb_enabled = rc == 0;
	if (rc == 0)
		atomic_store(&d->sh.gslb, rt);
	return rc;
}

/* SIGHUP with a configuration file: the new gslb: section replaces the running one
 * (members that stay keep their health and drains); one that fails the zone checks
 * leaves the running one in force. */
static void
gslb_reload(struct daemon *d)
{
	struct daemon_conf *c = d->conf;
	struct gslb_runtime *rt = atomic_load(&d->sh.gslb);

	if (c->gslb == NULL) {
		if (rt != NULL && d->gslb_on)
			log_notice("gslb: the gslb section is gone: dynamic names now answer from "
			           "their zones (health checks stop at the next restart)");
		return;
	}
	if (rt == NULL) {
		if (gslb_start(d) != 0)
			log_err("gslb: reload failed: no GSLB configuration is in force");
		return;
	}
	if (gslb_check_zones(d, c->gslb) != 0) {
		log_err("gslb: reload failed: the running GSLB configuration stays in force");
		gslb_conf_free(c->gslb);
		c->gslb = NULL;
		c->gslb_enabled = d->gslb_on;
		return;
	}
	int rc = gslb_runtime_apply(rt, c->gslb);
	c->gslb = NULL;
	if (rc != 0)
		log_err("gslb: reload: %s", sp_strerror(rc));
}

/* ---- signals ----------------------------------------------------------------------------------- */

/* Tells systemd (Type=notify) where we are; nothing without libsystemd or NOTIFY_SOCKET. */
static void
notify(const char *state)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

static void
reload(struct daemon *d, const char *path)
{
	char err[CONF_ERRLEN];
	struct daemon_conf *c = NULL;

	log_notice("SIGHUP: reloading%s%s", path != NULL ? " " : "", path != NULL ? path : "");
	if (path != NULL) {
		if (daemon_conf_load(path, &c, err, sizeof(err)) != 0) {
			log_err("%s", err);
			log_err("reload failed: the running configuration stays in force");
			return;
		}
		if (daemon_conf_needs_restart(d->conf, c))
			log_warn("reload: listen, workers, user, state-dir, pid-file, control or "
			         "metrics changed; restart signpostd to apply those (the rest applies "
			         "now)");
		/* Keep what only a restart can change. */
		struct daemon_conf *old = d->conf;
		if (abuse_conf_keep_secret(&old->abuse, &c->abuse))
			log_debug("reload: cookies: the running secret (auto) stays");
		struct conf_listen *l = c->listen;
		size_t nl = c->nlisten;
		c->listen = old->listen;
		c->nlisten = old->nlisten;
		old->listen = l;
		old->nlisten = nl;
		c->workers = old->workers;
		char *tmp = c->state_dir;
		c->state_dir = old->state_dir;
		old->state_dir = tmp;
		tmp = c->user;
		c->user = old->user;
		old->user = tmp;
		tmp = c->pid_file;
		c->pid_file = old->pid_file;
		old->pid_file = tmp;
		d->conf = c;
		daemon_conf_free(old);
		log_init("signpostd", (enum log_level)c->log_level, c->log_syslog);
		apply_tcp_limits(d);
	}
	xfr_runtime_before_reload(d->xfr);
	unsigned failed = reload_zones(d->db, d->conf);
	xfr_runtime_after_reload(d->xfr, d->conf);
	if (path != NULL) {
		/* After the zones: dynamic names are checked against what they now hold. */
		gslb_reload(d);
		recurse_reload(d->conf);
		if (publish_answer_conf(d) != 0)
			log_err("reload: out of memory; the previous answer settings stay");
		else
			d->gslb_on = d->conf->gslb_enabled;
	}
	reload_log_zones(d->db, d->conf);
	if (failed > 0)
		log_err("reload: %u zone(s) failed to load and keep their previous version", failed);
	else
		log_notice("reload complete");
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	if (signum == SIGHUP) {
		notify("RELOADING=1");
		reload(d, d->conf->path);
		metrics_set_conf(d->metrics, d->conf);
		notify("READY=1");
		return;
	}
	log_notice("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	notify("STOPPING=1");
	metrics_set_serving(d->metrics, false);
	control_stop(d->control);
	d->control = NULL;
	for (unsigned i = 0; i < d->nstarted; i++)
		worker_stop(&d->workers[i]);
	uv_stop(d->loop);
}

/* ---- operations: control socket, metrics ------------------------------------------------------ */

/* `signpostctl reload`: the same reload as SIGHUP. */
static void
control_reload(void *arg)
{
	struct daemon *d = arg;
	notify("RELOADING=1");
	reload(d, d->conf->path);
	metrics_set_conf(d->metrics, d->conf);
	notify("READY=1");
}

/* Neither failing stops the daemon: answering DNS matters more than being watched. */
static void
start_ops(struct daemon *d)
{
	static struct ops_env env;
	env = (struct ops_env){
		.db = d->db,
		.sh = &d->sh,
		.workers = d->workers,
		.nworkers = d->nworkers,
		.conf = &d->conf,
		.reload = control_reload,
		.arg = d,
		.started = d->started,
	};
	if (control_start(d->loop, &env, &d->control) != 0)
		log_err("control socket unavailable: signpostctl cannot reach this daemon");
	metrics_start(d->conf, &env, &d->metrics);
	metrics_set_serving(d->metrics, true);
}

/* ---- main ---------------------------------------------------------------------------------------- */

static void
log_startup(const struct daemon *d)
{
	char addrs[600];
	size_t len = 0;

	addrs[0] = '\0';
	for (size_t i = 0; i < d->conf->nlisten && len < sizeof(addrs); i++)
		len += (size_t)snprintf(addrs + len, sizeof(addrs) - len, "%s%s", i > 0 ? ", " : "",
		                        d->conf->listen[i].text);
	log_notice("signpostd %s started: listening on %s (UDP and TCP), %u workers, state %s",
	           PACKAGE_VERSION, addrs, d->nworkers, d->conf->state_dir);
	reload_log_zones(d->db, d->conf);
}

static int
start_workers(struct daemon *d)
{
	size_t nl = d->conf->nlisten;
	d->workers = calloc(d->nworkers, sizeof(*d->workers));
	if (d->workers == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < d->nworkers; i++) {
		int rc = worker_init(&d->workers[i], i, &d->sh, d->db, d->conf, &d->udp_fds[i * nl],
		                     &d->tcp_fds[i * nl]);
		d->ninit = i + 1;
		if (rc != 0) {
			log_err("worker %u: cannot start: %s", i, sp_strerror(rc));
			/* Workers after this one never got their sockets. */
			for (size_t j = (i + 1) * nl; j < d->nworkers * nl; j++) {
				close(d->udp_fds[j]);
				close(d->tcp_fds[j]);
			}
			return rc;
		}
	}
	for (unsigned i = 0; i < d->nworkers; i++) {
		int rc = worker_start(&d->workers[i]);
		if (rc != 0) {
			log_err("worker %u: cannot start a thread: %s", i, sp_strerror(rc));
			for (unsigned j = 0; j < i; j++)
				worker_stop(&d->workers[j]);
			return rc;
		}
		d->nstarted = i + 1;
	}
	return 0;
}

static int
setup(struct daemon *d, const struct options *o)
{
	int rc;
	struct daemon_conf *c = d->conf;

	d->nworkers = worker_count(c);
	if (d->builtin)
		probe_ipv6(c);
	if (c->nlisten == 0) {
		log_err("no address to listen on");
		return -EADDRNOTAVAIL;
	}
	d->udp_fds = malloc((size_t)d->nworkers * c->nlisten * sizeof(int));
	d->tcp_fds = malloc((size_t)d->nworkers * c->nlisten * sizeof(int));
	if (d->udp_fds == NULL || d->tcp_fds == NULL)
		return -ENOMEM;
	rc = open_sockets(d);
	if (rc != 0)
		return rc;
	if (!o->foreground && !d->builtin) {
		rc = daemonize(d);
		if (rc != 0) {
			log_err("cannot become a daemon: %s", strerror(-rc));
			return rc;
		}
	}
	if (c->pid_file != NULL && (rc = write_pid_file(c->pid_file)) != 0)
		return rc;
	if ((rc = open_database(d)) != 0)
		return rc;
	if (d->builtin)
		reload_write_example(c);
	if ((rc = xfr_runtime_start(uv_default_loop(), d->db, c, &d->xfr)) != 0)
		return rc;
	xfr_runtime_before_reload(d->xfr);
	reload_zones(d->db, c);
	xfr_runtime_after_reload(d->xfr, c);
	if ((rc = drop_privileges(c)) != 0)
		return rc;
	/* After the privilege drop: the checker thread needs no privilege. */
	if (c->gslb != NULL && (rc = gslb_start(d)) != 0)
		return rc;
	d->gslb_on = c->gslb_enabled;
	/* Before the workers: each gets a reply queue when the resolver runs. */
	if ((rc = recurse_start(c)) != 0)
		return rc;
	apply_tcp_limits(d);
	atomic_store(&d->sh.gen, 1);
	if ((rc = publish_answer_conf(d)) != 0)
		return rc;
	return start_workers(d);
}

static void
teardown(struct daemon *d)
{
	for (unsigned i = 0; i < d->nstarted; i++)
		worker_join(&d->workers[i]);
	recurse_stop();     /* before the workers' reply queues go */
	for (unsigned i = 0; i < d->ninit; i++)
		worker_deinit(&d->workers[i]);
	xfr_unpublish_all();        /* no transfer can be starting any more */
	free(d->workers);
	/* The workers unregistered their readers as their threads ended. */
	gslb_runtime_stop(atomic_exchange(&d->sh.gslb, NULL));
	for (unsigned i = 0; i < d->nretired; i++)
		free(d->retired[i].ac);
	free(atomic_load(&d->sh.conf));
	zones_db_close(d->db);
	if (d->conf->pid_file != NULL)
		unlink(d->conf->pid_file);
	free(d->udp_fds);
	free(d->tcp_fds);
	daemon_conf_free(d->conf);
}

static void
close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	static struct daemon d;

	log_init("signpostd", LOG_LVL_INFO, false);
	recurse_conf_register();    /* the resolver: section (server/recurse_conf.c) */
	if (parse_args(argc, argv, &o) != 0)
		return 1;
	d.conf = load_config(&o);
	if (d.conf == NULL)
		return 1;
	if (o.check) {
		printf("%s: configuration is valid\n", o.config != NULL ? o.config : "built-in default");
		daemon_conf_free(d.conf);
		return 0;
	}
	d.builtin = o.config == NULL;
	d.ready_fd = -1;
	log_init("signpostd", (enum log_level)d.conf->log_level, d.conf->log_syslog);
	signal(SIGPIPE, SIG_IGN);
	/* Until the main loop handles them, hold the signals: workers inherit the mask
	 * (so the main thread takes them), and a SIGTERM during start-up still ends in
	 * an orderly stop. */
	sigset_t held, prev;
	sigemptyset(&held);
	sigaddset(&held, SIGHUP);
	sigaddset(&held, SIGTERM);
	sigaddset(&held, SIGINT);
	pthread_sigmask(SIG_BLOCK, &held, &prev);

	int rc = setup(&d, &o);
	if (rc != 0) {
		teardown(&d);
		return 1;
	}
	d.loop = uv_default_loop();
	uv_timer_init(d.loop, &d.retire_timer);
	d.retire_timer.data = &d;
	uv_signal_t *sigs[] = { &d.sig_hup, &d.sig_term, &d.sig_int };
	int signums[] = { SIGHUP, SIGTERM, SIGINT };
	for (int i = 0; i < 3; i++) {
		uv_signal_init(d.loop, sigs[i]);
		sigs[i]->data = &d;
		uv_signal_start(sigs[i], on_signal, signums[i]);
	}
	pthread_sigmask(SIG_SETMASK, &prev, NULL);
	d.started = time(NULL);
	start_ops(&d);
	log_startup(&d);
	if (d.builtin)
		daemon_conf_print_try(stdout, d.conf);
	if (d.ready_fd >= 0) {
		ssize_t n = write(d.ready_fd, "1", 1);
		(void)n;
		close(d.ready_fd);
	}
	notify("READY=1");

	uv_run(d.loop, UV_RUN_DEFAULT);

	control_stop(d.control);    /* stopped by something other than a signal */
	d.control = NULL;
	metrics_stop(d.metrics);    /* before the workers and the database go away */
	d.metrics = NULL;
	xfr_runtime_stop(d.xfr);    /* its handles close in the loop run below */
	d.xfr = NULL;
	uv_walk(d.loop, close_walk, NULL);
	uv_run(d.loop, UV_RUN_DEFAULT);
	uv_loop_close(d.loop);
	teardown(&d);
	log_notice("stopped");
	return 0;
}
