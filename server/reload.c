/* reload.c - keeps the zone database in line with the configuration: at start and on
 * SIGHUP, compiles the configured zones whose files changed and deletes the zones this
 * daemon compiled before that the configuration no longer lists.
 *
 * Main thread only: the daemon's one writer (workers only read, through snapshots, and
 * see each compiled zone whole at their next batch). The list of zones the daemon
 * compiled lives in <state-dir>/zones.daemon, so zones compiled by hand with
 * signpost-zone into the same database are never deleted by a reload. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "server/daemon.h"
#include "server/xfr.h"

#define OWNED_LIST "zones.daemon"

/* ---- the last error of each zone (signpostctl zone status, /status) ------------------- */

/* Written by the main thread at each load; read by the control socket (main thread) and
 * the metrics thread, hence the mutex (neither is on the answer path). */
struct zone_error {
	char name[256];
	char msg[RELOAD_ERRLEN];
	time_t when;
};

static pthread_mutex_t errors_lock = PTHREAD_MUTEX_INITIALIZER;
static struct zone_error *errors;
static size_t nerrors, errors_cap;

static struct zone_error *
zone_error_find(const char *name)
{
	for (size_t i = 0; i < nerrors; i++) {
		if (strcasecmp(errors[i].name, name) == 0)
			return &errors[i];
	}
	return NULL;
}

/* msg NULL: the zone loaded; forget its error. */
static void
zone_error_set(const char *name, const char *msg)
{
	pthread_mutex_lock(&errors_lock);
	struct zone_error *e = zone_error_find(name);
	if (msg == NULL) {
		if (e != NULL)
			*e = errors[--nerrors];
	} else {
		if (e == NULL && nerrors == errors_cap) {
			size_t cap = errors_cap != 0 ? errors_cap * 2 : 16;
			struct zone_error *n = realloc(errors, cap * sizeof(*n));
			if (n != NULL) {
				errors = n;
				errors_cap = cap;
			}
		}
		if (e == NULL && nerrors < errors_cap)
			e = &errors[nerrors++];
		if (e != NULL) {
			snprintf(e->name, sizeof(e->name), "%s", name);
			snprintf(e->msg, sizeof(e->msg), "%s", msg);
			e->when = time(NULL);
		}
	}
	pthread_mutex_unlock(&errors_lock);
}

bool
reload_zone_error(const char *name, char *msg, size_t msglen, time_t *when)
{
	bool found = false;
	pthread_mutex_lock(&errors_lock);
	struct zone_error *e = zone_error_find(name);
	if (e != NULL) {
		snprintf(msg, msglen, "%s", e->msg);
		*when = e->when;
		found = true;
	}
	pthread_mutex_unlock(&errors_lock);
	return found;
}

/* The first error of a compile, kept as the zone's last error. */
struct first_error {
	char msg[RELOAD_ERRLEN];
};

static void
report_to_log(void *ctx, enum zones_severity sev, const char *file, unsigned line,
              const char *msg)
{
	struct first_error *fe = ctx;
	if (sev == ZONES_ERROR)
		log_err("%s:%u: %s", file, line, msg);
	else
		log_warn("%s:%u: %s", file, line, msg);
	if (sev == ZONES_ERROR && fe != NULL && fe->msg[0] == '\0')
		snprintf(fe->msg, sizeof(fe->msg), "%s:%u: %s", file, line, msg);
}

/* True when the database's copy of zone z came from this file as it is now. */
static bool
zone_current(struct zones_db *db, const struct conf_zone *z, const struct stat *st)
{
	struct zones_info info;
	if (zones_info_get(db, z->name, &info) != 0)
		return false;
	int64_t mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	return strcmp(info.source, z->file) == 0 && info.source_mtime_ns == mtime_ns &&
	       info.source_size == (int64_t)st->st_size;
}

/* Compiles z if its file changed. Returns 0 (current or compiled) or a negative code. */
static int
reload_zone(struct zones_db *db, const struct conf_zone *z, bool force)
{
	struct stat st;
	char msg[RELOAD_ERRLEN];
	if (stat(z->file, &st) != 0) {
		int rc = -errno;
		log_err("%s: zone %s: cannot read the file: %s (the previous version, if any, "
		        "keeps serving)", z->file, z->name, strerror(errno));
		snprintf(msg, sizeof(msg), "%s: cannot read the file: %s", z->file, strerror(errno));
		zone_error_set(z->name, msg);
		return rc;
	}
	if (!force && zone_current(db, z, &st)) {
		zone_error_set(z->name, NULL);  /* e.g. the file was put back as it was */
		return 0;
	}

	struct first_error fe = { .msg = "" };
	struct zones_report rep = { .fn = report_to_log, .ctx = &fe };
	struct zones_compile_opts opts = { 0 };
	struct zones_journal_limits lim;
	(void)xfr_journal_opts(z->name, &opts, &lim);     /* IXFR step in the same txn */
	int rc = zones_compile_file(db, z->name, z->file, &opts, &rep);
	if (rc != 0) {
		log_err("%s: zone %s not loaded: %s (%u errors); the previous version, if any, "
		        "keeps serving", z->file, z->name, sp_strerror(rc), rep.errors);
		snprintf(msg, sizeof(msg), "%s (%u errors)%s%.400s", sp_strerror(rc), rep.errors,
		         fe.msg[0] != '\0' ? "; first: " : "", fe.msg);
		zone_error_set(z->name, msg);
		return rc;
	}
	zone_error_set(z->name, NULL);
	struct zones_info info;
	if (zones_info_get(db, z->name, &info) == 0)
		log_info("zone %s: compiled %s, serial %" PRIu32 ", %" PRIu64 " records", z->name,
		         z->file, info.serial, info.records);
	return 0;
}

static bool
configured(const struct daemon_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nzones; i++) {
		if (strcasecmp(c->zones[i].name, name) == 0)
			return true;
	}
	return false;
}

static char *
owned_path(const struct daemon_conf *c)
{
	size_t n = strlen(c->state_dir) + sizeof(OWNED_LIST) + 2;
	char *p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%s/%s", c->state_dir, OWNED_LIST);
	return p;
}

/* Deletes zones listed in the old owned list that c no longer configures. */
static void
delete_unconfigured(struct zones_db *db, const struct daemon_conf *c, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1100];

	if (f == NULL)
		return;  /* first start: nothing compiled by us yet */
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#' || configured(c, line))
			continue;
		int rc = zones_delete(db, line);
		if (rc == 0)
			log_notice("zone %s: removed (no longer in the configuration)", line);
		else if (rc != SP_ENOZONE)
			log_err("zone %s: cannot remove: %s", line, sp_strerror(rc));
	}
	fclose(f);
}

/* Records the configured zones as ours: written whole, then renamed over the old list,
 * so a crash leaves one version or the other. */
static void
write_owned(const struct daemon_conf *c, const char *path)
{
	size_t n = strlen(path) + 5;
	char *tmp = malloc(n);
	if (tmp == NULL)
		return;
	snprintf(tmp, n, "%s.new", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL) {
		log_err("%s: cannot write: %s", tmp, strerror(errno));
		free(tmp);
		return;
	}
	fprintf(f, "# zones signpostd compiled from its configuration (removed on reload when\n"
	           "# no longer configured); do not edit\n");
	for (size_t i = 0; i < c->nzones; i++)
		fprintf(f, "%s\n", c->zones[i].name);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		log_err("%s: cannot write: %s", path, strerror(errno));
	free(tmp);
}

unsigned
reload_zones(struct zones_db *db, const struct daemon_conf *c)
{
	unsigned failed = 0;
	char *owned = owned_path(c);

	if (owned != NULL)
		delete_unconfigured(db, c, owned);
	for (size_t i = 0; i < c->nzones; i++) {
		if (reload_zone(db, &c->zones[i], false) != 0)
			failed++;
	}
	if (owned != NULL)
		write_owned(c, owned);
	free(owned);
	return failed;
}

int
reload_one_zone(struct zones_db *db, const struct daemon_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nzones; i++) {
		if (strcasecmp(c->zones[i].name, name) == 0)
			return reload_zone(db, &c->zones[i], true);
	}
	return SP_ENOZONE;
}

void
reload_log_zones(struct zones_db *db, const struct daemon_conf *c)
{
	char line[900];
	size_t len = 0;

	line[0] = '\0';
	for (size_t i = 0; i < c->nzones && len < sizeof(line); i++) {
		struct zones_info info;
		if (zones_info_get(db, c->zones[i].name, &info) == 0)
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s (serial %" PRIu32 ")",
			                        len > 0 ? ", " : "", c->zones[i].name, info.serial);
		else
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s (not loaded)",
			                        len > 0 ? ", " : "", c->zones[i].name);
	}
	log_notice("zones: %s", c->nzones > 0 ? line : "none configured");
}

int
reload_write_example(const struct daemon_conf *c)
{
	if (c->nzones == 0 || access(c->zones[0].file, F_OK) == 0)
		return 0;
	FILE *f = fopen(c->zones[0].file, "w");
	if (f == NULL) {
		int rc = -errno;
		log_err("%s: cannot write the example zone: %s", c->zones[0].file, strerror(errno));
		return rc;
	}
	fputs(daemon_example_zone, f);
	if (fclose(f) != 0) {
		int rc = -errno;
		log_err("%s: cannot write the example zone: %s", c->zones[0].file, strerror(errno));
		return rc;
	}
	log_notice("wrote the example zone to %s", c->zones[0].file);
	return 0;
}
