/* signpost-zone.c - the zone compiler and checker: checks master files, compiles them into
 * the zone database, lists, dumps and deletes compiled zones.
 *
 * A thin command-line front end over the zones/ write side (zones/zones.h): parsing,
 * validation and the one-transaction replace all happen in libzones; this file parses the
 * command line, prints what the library reports, and maps results to exit codes
 * (0 ok, 1 zone errors, 2 usage or system error). Single-threaded, short-lived. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lib/dname.h"
#include "lib/errors.h"
#include "zones/zones.h"

#define PROG "signpost-zone"

/* The daemon and this tool share the zone database: signpostd opens <state-dir>/db
 * (server/main.c). The state directory defaults to configure's --localstatedir, and
 * SIGNPOST_STATE_DIR moves it, as it does for the daemon (tests, tools/quickstart). */
#define DB_SUBDIR "/db"

enum exit_code { EXIT_OK = 0, EXIT_ZONE = 1, EXIT_USAGE = 2 };

struct cmd_opts {
	const char *db;
	struct zones_compile_opts compile;
	bool json;
	bool quiet;
};

struct command {
	const char *name;
	int nargs;
	const char *args;       /* for usage lines */
	const char *summary;
	unsigned opts;          /* which options apply: OPT_* */
	int (*run)(const struct cmd_opts *o, char **argv);
};

enum {
	OPT_DB = 1 << 0,
	OPT_TTLMAX = 1 << 1,
	OPT_WFATAL = 1 << 2,
	OPT_JSON = 1 << 3,
	OPT_QUIET = 1 << 4,
};

static char default_db[4096];

static const char *
db_default(void)
{
	const char *state = getenv("SIGNPOST_STATE_DIR");

	if (state == NULL || state[0] == '\0')
		state = SP_STATEDIR;
	snprintf(default_db, sizeof(default_db), "%s%s", state, DB_SUBDIR);
	return default_db;
}

/* ---- reporting ----------------------------------------------------------------------- */

/* Prints each problem as "file:line: error: message", the form editors and compilers use,
 * so that a problem in an $INCLUDEd file names that file. Line 0 means "the file as a
 * whole" (it could not be opened, or a zone-wide check such as a missing SOA). */
static void
print_problem(void *ctx, enum zones_severity sev, const char *file, unsigned line,
              const char *msg)
{
	const char *what = sev == ZONES_ERROR ? "error" : "warning";

	(void)ctx;
	if (file == NULL || file[0] == '\0')
		file = "(zone)";
	if (line > 0)
		fprintf(stderr, "%s:%u: %s: %s\n", file, line, what, msg);
	else
		fprintf(stderr, "%s: %s: %s\n", file, what, msg);
}

static void
print_summary(const char *origin, const struct zones_report *rep)
{
	fprintf(stderr, "%s: %s: %u error%s, %u warning%s\n", PROG, origin, rep->errors,
	        rep->errors == 1 ? "" : "s", rep->warnings, rep->warnings == 1 ? "" : "s");
}

/* Maps a library result to an exit code, printing what the report did not. */
static int
finish(int rc, const char *what, const char *subject)
{
	if (rc == 0)
		return EXIT_OK;
	if (rc == SP_EZONE)
		return EXIT_ZONE;
	if (rc == SP_ENOZONE) {
		fprintf(stderr, "%s: %s: zone %s is not in the database\n", PROG, what, subject);
		return EXIT_ZONE;
	}
	fprintf(stderr, "%s: %s %s: %s\n", PROG, what, subject, sp_strerror(rc));
	return EXIT_USAGE;
}

/* ---- the database ---------------------------------------------------------------------- */

enum db_mode { DB_READ, DB_WRITE, DB_CREATE };

/* mkdir -p: the state directory may not exist yet on a fresh install. */
static int
make_dirs(const char *dir)
{
	char path[4096];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int
open_db(const char *dir, enum db_mode mode, struct zones_db **db)
{
	struct stat st;
	int rc;

	/* Only compile creates: list, dump and delete must not leave an empty database where
	 * the operator mistyped a path. */
	if (mode != DB_CREATE && stat(dir, &st) != 0) {
		fprintf(stderr, "%s: cannot open database %s: %s\n", PROG, dir, strerror(errno));
		return EXIT_USAGE;
	}
	if (mode == DB_CREATE && stat(dir, &st) != 0) {
		if (errno != ENOENT || make_dirs(dir) != 0) {
			fprintf(stderr, "%s: cannot create database directory %s: %s\n", PROG, dir,
			        strerror(errno));
			return EXIT_USAGE;
		}
	}
	rc = zones_db_open(dir, mode == DB_READ ? ZONES_DB_RDONLY : 0, 0, db);
	if (rc != 0) {
		if (rc == SP_ESCHEMA) {
			fprintf(stderr, "%s: cannot open database %s: %s (was it written by "
			        "another version of Signpost?)\n", PROG, dir, sp_strerror(rc));
		} else {
			fprintf(stderr, "%s: cannot open database %s: %s\n", PROG, dir,
			        sp_strerror(rc));
		}
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* A missing or unreadable master file is the operator's mistake about the file system,
 * not a problem inside the zone: say so plainly and exit 2 before touching the database. */
static int
check_readable(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "%s: cannot read %s: %s\n", PROG, path, strerror(errno));
		return EXIT_USAGE;
	}
	if (S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: cannot read %s: %s\n", PROG, path, strerror(EISDIR));
		return EXIT_USAGE;
	}
	if (access(path, R_OK) != 0) {
		fprintf(stderr, "%s: cannot read %s: %s\n", PROG, path, strerror(errno));
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* ---- commands -------------------------------------------------------------------------- */

static int
cmd_check(const struct cmd_opts *o, char **argv)
{
	struct zones_report rep = { .fn = print_problem };
	const char *origin = argv[0], *path = argv[1];
	int ex = check_readable(path);

	if (ex != EXIT_OK)
		return ex;
	int rc = zones_check_file(origin, path, &o->compile, &rep);
	if (rc == 0 && !o->quiet)
		printf("%s: ok (%u warning%s)\n", origin, rep.warnings, rep.warnings == 1 ? "" : "s");
	if (rc == SP_EZONE)
		print_summary(origin, &rep);
	return finish(rc, "check", origin);
}

static int
cmd_compile(const struct cmd_opts *o, char **argv)
{
	struct zones_report rep = { .fn = print_problem };
	const char *origin = argv[0], *path = argv[1];
	struct zones_db *db = NULL;
	int ex = check_readable(path);

	if (ex != EXIT_OK)
		return ex;
	ex = open_db(o->db, DB_CREATE, &db);
	if (ex != EXIT_OK)
		return ex;
	int rc = zones_compile_file(db, origin, path, &o->compile, &rep);
	if (rc == 0 && !o->quiet) {
		struct zones_info info;
		if (zones_info_get(db, origin, &info) == 0) {
			printf("%s: compiled serial %" PRIu32 ", %" PRIu64 " records (%u warning%s)\n",
			       info.name, info.serial, info.records, rep.warnings,
			       rep.warnings == 1 ? "" : "s");
		} else {
			printf("%s: compiled\n", origin);
		}
	}
	if (rc == SP_EZONE) {
		print_summary(origin, &rep);
		fprintf(stderr, "%s: %s: database unchanged\n", PROG, origin);
	}
	zones_db_close(db);
	return finish(rc, "compile", origin);
}

static void
format_time(int64_t t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outlen, "%" PRId64, t);
}

static void
json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

struct list_ctx {
	bool json;
	unsigned n;
};

static int
list_one(void *ctx, const struct zones_info *info)
{
	struct list_ctx *lc = ctx;
	char when[64];

	format_time(info->compiled_at, when, sizeof(when));
	if (lc->json) {
		printf("%s\n  {\"name\": ", lc->n == 0 ? "" : ",");
		json_string(stdout, info->name);
		printf(", \"serial\": %" PRIu32 ", \"records\": %" PRIu64
		       ", \"compiled_at\": \"%s\", \"compiled_at_unix\": %" PRId64 ", \"source\": ",
		       info->serial, info->records, when, info->compiled_at);
		json_string(stdout, info->source);
		printf("}");
	} else {
		printf("%-30s %10" PRIu32 " %10" PRIu64 "  %-20s  %s\n", info->name, info->serial,
		       info->records, when, info->source);
	}
	lc->n++;
	return 0;
}

static int
cmd_list(const struct cmd_opts *o, char **argv)
{
	struct list_ctx lc = { .json = o->json };
	struct zones_db *db = NULL;
	int ex = open_db(o->db, DB_READ, &db);

	(void)argv;
	if (ex != EXIT_OK)
		return ex;
	if (o->json)
		printf("[");
	else
		printf("%-30s %10s %10s  %-20s  %s\n", "NAME", "SERIAL", "RECORDS", "COMPILED-AT",
		       "SOURCE");
	int rc = zones_list(db, list_one, &lc);
	if (o->json)
		printf("%s]\n", lc.n == 0 ? "" : "\n");
	zones_db_close(db);
	return finish(rc, "list", o->db);
}

static int
cmd_dump(const struct cmd_opts *o, char **argv)
{
	struct zones_db *db = NULL;
	int ex = open_db(o->db, DB_READ, &db);

	if (ex != EXIT_OK)
		return ex;
	int rc = zones_dump(db, argv[0], stdout);
	zones_db_close(db);
	if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
		fprintf(stderr, "%s: dump %s: writing output: %s\n", PROG, argv[0], strerror(errno));
		return EXIT_USAGE;
	}
	return finish(rc, "dump", argv[0]);
}

static int
cmd_delete(const struct cmd_opts *o, char **argv)
{
	struct zones_db *db = NULL;
	int ex = open_db(o->db, DB_WRITE, &db);

	if (ex != EXIT_OK)
		return ex;
	int rc = zones_delete(db, argv[0]);
	zones_db_close(db);
	if (rc == 0 && !o->quiet)
		printf("%s: deleted\n", argv[0]);
	return finish(rc, "delete", argv[0]);
}

/* A TSIG key (RFC 8945) for keys: in signpostd's configuration: 32 random octets
 * (the HMAC-SHA256 block is 64; RFC 8945 6 asks for at least the output size, 32), as
 * YAML ready to paste. NSD's key: and Knot's key: take the same name, algorithm and
 * base64 secret. */
static int
cmd_tsig_keygen(const struct cmd_opts *o, char **argv)
{
	uint8_t secret[32];
	unsigned char b64[64];
	uint8_t wire[DNAME_MAXLEN];
	char name[DNAME_MAXLEN * 4 + 2];

	(void)o;
	if (dname_from_str(argv[0], wire) == 0) {
		fprintf(stderr, "%s: tsig-keygen: not a key name: '%s'\n", PROG, argv[0]);
		return EXIT_USAGE;
	}
	if (getentropy(secret, sizeof(secret)) != 0) {
		fprintf(stderr, "%s: tsig-keygen: no randomness: %s\n", PROG, strerror(errno));
		return EXIT_USAGE;
	}
	EVP_EncodeBlock(b64, secret, sizeof(secret));
	dname_to_str(wire, name, sizeof(name));
	printf("keys:\n  - name: %s\n    algorithm: hmac-sha256\n    secret: \"%s\"\n", name,
	       (const char *)b64);
	return EXIT_OK;
}

static const struct command commands[] = {
	{ "check", 2, "ORIGIN FILE", "parse and validate a master file; the database is not used",
	  OPT_TTLMAX | OPT_WFATAL | OPT_QUIET, cmd_check },
	{ "compile", 2, "ORIGIN FILE",
	  "validate a master file and replace the zone in the database in one transaction",
	  OPT_DB | OPT_TTLMAX | OPT_WFATAL | OPT_QUIET, cmd_compile },
	{ "list", 0, "", "list compiled zones: name, serial, records, compiled-at, source",
	  OPT_DB | OPT_JSON, cmd_list },
	{ "dump", 1, "ORIGIN", "print a compiled zone as a canonical master file",
	  OPT_DB, cmd_dump },
	{ "delete", 1, "ORIGIN", "remove a zone from the database", OPT_DB | OPT_QUIET,
	  cmd_delete },
	{ "tsig-keygen", 1, "NAME", "print a new random HMAC-SHA256 TSIG key as a keys: entry",
	  0, cmd_tsig_keygen },
};

/* ---- command line ---------------------------------------------------------------------- */

static void
usage_options(FILE *f, unsigned opts)
{
	if (opts & OPT_DB) {
		fprintf(f, "  --db DIR            zone database directory (default: %s;\n"
		        "                      $SIGNPOST_STATE_DIR/db when that is set)\n",
		        SP_STATEDIR DB_SUBDIR);
	}
	if (opts & OPT_TTLMAX) {
		fprintf(f, "  --ttl-max TTL       refuse records with a TTL above TTL (seconds, or with\n"
		        "                      a unit: 1h, 2d, 1w; default 2147483647, RFC 2181 8)\n");
	}
	if (opts & OPT_WFATAL)
		fprintf(f, "  --warnings-fatal    treat warnings as errors\n");
	if (opts & OPT_JSON)
		fprintf(f, "  --json              print a JSON array instead of a table\n");
	if (opts & OPT_QUIET)
		fprintf(f, "  -q, --quiet         print nothing on success\n");
	fprintf(f, "  -h, --help          show this help\n");
}

static void
usage_exit_codes(FILE *f)
{
	fprintf(f, "\nExit status: 0 success; 1 the zone has errors (or is not in the database);\n"
	        "2 usage or system error (bad arguments, unreadable file, database error).\n"
	        "Problems are printed as FILE:LINE: error: MESSAGE.\n");
}

static void
usage_command(FILE *f, const struct command *c)
{
	fprintf(f, "Usage: %s %s [OPTIONS]%s%s\n\n%s.\n\nOptions:\n", PROG, c->name,
	        c->args[0] != '\0' ? " " : "", c->args, c->summary);
	usage_options(f, c->opts);
	usage_exit_codes(f);
}

static void
usage(FILE *f)
{
	fprintf(f, "Usage: %s COMMAND [OPTIONS] ARGS...\n\nCommands:\n", PROG);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char head[64];
		snprintf(head, sizeof(head), "%s %s", commands[i].name, commands[i].args);
		fprintf(f, "  %-20s %s\n", head, commands[i].summary);
	}
	fprintf(f, "\nOptions:\n");
	usage_options(f, OPT_DB | OPT_TTLMAX | OPT_WFATAL | OPT_JSON | OPT_QUIET);
	fprintf(f, "  --version           print the version\n\n"
	        "'%s COMMAND --help' describes one command.\n", PROG);
	usage_exit_codes(f);
}

/* Parses a TTL as RFC 1035 seconds or with BIND-style units (1w2d3h4m5s). Accepts
 * 1 .. 2^31 - 1 (RFC 2181 section 8). */
static bool
parse_ttl(const char *s, uint32_t *out)
{
	uint64_t total = 0, num = 0;
	bool digits = false;

	if (*s == '\0')
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p >= '0' && *p <= '9') {
			num = num * 10 + (uint64_t)(*p - '0');
			digits = true;
			if (num > INT32_MAX)
				return false;
			continue;
		}
		uint64_t mult;
		switch (*p) {
		case 's': case 'S': mult = 1; break;
		case 'm': case 'M': mult = 60; break;
		case 'h': case 'H': mult = 3600; break;
		case 'd': case 'D': mult = 86400; break;
		case 'w': case 'W': mult = 604800; break;
		default: return false;
		}
		if (!digits)
			return false;
		total += num * mult;
		num = 0;
		digits = false;
		if (total > INT32_MAX)
			return false;
	}
	total += num;
	if (total == 0 || total > INT32_MAX)
		return false;
	*out = (uint32_t)total;
	return true;
}

static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

static const char *
opt_name(unsigned bit)
{
	switch (bit) {
	case OPT_DB: return "--db";
	case OPT_TTLMAX: return "--ttl-max";
	case OPT_WFATAL: return "--warnings-fatal";
	case OPT_JSON: return "--json";
	case OPT_QUIET: return "--quiet";
	}
	return "?";
}

int
main(int argc, char **argv)
{
	enum { O_DB = 256, O_TTLMAX, O_WFATAL, O_JSON, O_VERSION };
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, O_DB },
		{ "ttl-max", required_argument, NULL, O_TTLMAX },
		{ "warnings-fatal", no_argument, NULL, O_WFATAL },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { .db = NULL };
	unsigned given = 0;
	bool help = false;
	int c;

	/* Options may come before or after the command (GNU getopt permutes): the command is
	 * the first operand, and each command accepts only the options that mean something
	 * to it. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hq", longopts, NULL)) != -1) {
		switch (c) {
		case O_DB:
			o.db = optarg;
			given |= OPT_DB;
			break;
		case O_TTLMAX:
			if (!parse_ttl(optarg, &o.compile.ttl_max)) {
				fprintf(stderr, "%s: --ttl-max: '%s' is not a TTL between 1 and "
				        "2147483647 seconds\n", PROG, optarg);
				return EXIT_USAGE;
			}
			given |= OPT_TTLMAX;
			break;
		case O_WFATAL:
			o.compile.warnings_fatal = true;
			given |= OPT_WFATAL;
			break;
		case O_JSON:
			o.json = true;
			given |= OPT_JSON;
			break;
		case 'q':
			o.quiet = true;
			given |= OPT_QUIET;
			break;
		case 'h':
			help = true;
			break;
		case O_VERSION:
			printf("%s (%s) %s\n", PROG, PACKAGE_NAME, PACKAGE_VERSION);
			return EXIT_OK;
		case ':':
			fprintf(stderr, "%s: option %s needs an argument\n", PROG, argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "%s: unknown option %s (try --help)\n", PROG,
			        argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		if (help) {
			usage(stdout);
			return EXIT_OK;
		}
		usage(stderr);
		return EXIT_USAGE;
	}
	const struct command *cmd = find_command(argv[optind]);
	if (cmd == NULL) {
		fprintf(stderr, "%s: unknown command '%s' (try --help)\n", PROG, argv[optind]);
		return EXIT_USAGE;
	}
	if (help) {
		usage_command(stdout, cmd);
		return EXIT_OK;
	}
	for (unsigned bit = 1; bit <= OPT_QUIET; bit <<= 1) {
		if ((given & bit) && !(cmd->opts & bit)) {
			fprintf(stderr, "%s %s: option %s does not apply to this command\n", PROG,
			        cmd->name, opt_name(bit));
			return EXIT_USAGE;
		}
	}
	int nargs = argc - optind - 1;
	if (nargs != cmd->nargs) {
		fprintf(stderr, "%s %s: expected %d argument%s (%s), got %d\n", PROG, cmd->name,
		        cmd->nargs, cmd->nargs == 1 ? "" : "s",
		        cmd->nargs == 0 ? "none" : cmd->args, nargs);
		usage_command(stderr, cmd);
		return EXIT_USAGE;
	}
	if (o.db == NULL)
		o.db = db_default();
	return cmd->run(&o, argv + optind + 1);
}
