/* signpostctl.c - the operator's client for a running signpostd: sends one command over
 * the daemon's control socket (protocol in server/ops.h) and prints the answer.
 *
 * The socket is found from -s PATH, else from the configuration (-c FILE, else
 * $SIGNPOST_CONFIG, else SP_SYSCONFDIR/signpost.conf if it exists: control.socket or
 * <state-dir>/control.sock), else the built-in default's state directory. Exit codes:
 * 0 done, 1 refused by the daemon (bad argument, unknown zone/pool/member: nothing
 * changed), 2 the daemon cannot be reached, 64 usage. Single-threaded. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "server/config.h"
#include "server/ops.h"

#define EXIT_REFUSED 1
#define EXIT_UNREACHABLE 2
#define EXIT_USAGE 64
#define TIMEOUT_MS 30000    /* a reload of large zones takes a while */

static void
usage(FILE *f)
{
	fprintf(f,
	        "Usage: signpostctl [-s SOCKET | -c CONFIG] [--json] COMMAND [ARGS]\n"
	        "Controls a running signpostd over its control socket.\n\n"
	        "Commands:\n"
	        "  status                          version, uptime, zones, queries\n"
	        "  stats                           query counters by protocol, type and rcode\n"
	        "  reload [ZONE]                   reload the configuration and changed zones,\n"
	        "                                  or re-read one zone's file now\n"
	        "  zone list                       zones with serials and load state\n"
	        "  zone status ZONE                serial, loaded at, file, last error\n"
	        "  gslb status [POOL]              members: health, last check, drain, weight\n"
	        "  gslb drain POOL MEMBER          stop answering with MEMBER (persists)\n"
	        "  gslb restore POOL MEMBER        undo drain\n"
	        "  gslb weight POOL MEMBER N       set MEMBER's weight (1..65535)\n"
	        "  explain NAME TYPE --client ADDR [--ecs SUBNET]\n"
	        "                                  the answer that client would get, and why\n"
	        "  cache flush [NAME]              empty the resolver cache\n\n"
	        "Options:\n"
	        "  -s, --socket PATH   the control socket\n"
	        "  -c, --config FILE   find the socket from signpostd's configuration\n"
	        "  -j, --json          JSON output (one object) for scripts\n"
	        "  -h, --help          show this help\n"
	        "  -V, --version       show the version\n\n"
	        "Exit status: 0 done, 1 refused (nothing changed), 2 daemon unreachable.\n"
	        "See signpostctl(8).\n");
}

/* Finds the socket path from the configuration. Returns 0, or EXIT_UNREACHABLE with a
 * message printed. */
static int
socket_from_config(const char *config, bool explicit_config, char *out, size_t outlen)
{
	char err[CONF_ERRLEN];
	struct daemon_conf *c = NULL;
	if (config == NULL) {
		char *dir = daemon_conf_default_state_dir();
		int n = snprintf(out, outlen, "%s/%s", dir != NULL ? dir : ".", CONF_CONTROL_SOCKET_NAME);
		free(dir);
		return n > 0 && (size_t)n < outlen ? 0 : EXIT_UNREACHABLE;
	}
	if (daemon_conf_load(config, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "signpostctl: %s\n", err);
		if (!explicit_config)
			fprintf(stderr, "signpostctl: (use -s SOCKET or -c CONFIG)\n");
		return EXIT_UNREACHABLE;
	}
	bool ok = ops_conf_control_path(c, out, outlen);
	daemon_conf_free(c);
	if (!ok) {
		fprintf(stderr, "signpostctl: %s: control socket path too long\n", config);
		return EXIT_UNREACHABLE;
	}
	return 0;
}

static int
connect_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "signpostctl: %s: path longer than %zu characters\n", path,
		        sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "signpostctl: socket: %s\n", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		fprintf(stderr, "signpostctl: cannot connect to %s: %s\n", path, strerror(e));
		if (e == ENOENT || e == ECONNREFUSED)
			fprintf(stderr, "signpostctl: is signpostd running? (or give its socket "
			                "with -s, its configuration with -c)\n");
		else if (e == EACCES || e == EPERM)
			fprintf(stderr, "signpostctl: the socket's permissions do not let you in "
			                "(control.mode and control.group in signpost.conf)\n");
		close(fd);
		return -1;
	}
	return fd;
}

static bool
write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		s += n;
		len -= (size_t)n;
	}
	return true;
}

/* Reads until the daemon closes; false on timeout or error. */
static bool
read_all(int fd, struct ops_buf *b)
{
	char chunk[4096];
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		if (n == 0)
			return !b->oom;
		ops_buf_printf(b, "%.*s", (int)n, chunk);
	}
}

static int
run(const char *path, bool json, int argc, char **argv)
{
	struct ops_buf req = { 0 }, resp = { 0 };
	ops_buf_printf(&req, "%s", json ? "json" : "text");
	for (int i = 0; i < argc; i++) {
		if (strchr(argv[i], '\t') != NULL || strchr(argv[i], '\n') != NULL) {
			fprintf(stderr, "signpostctl: arguments cannot contain tabs or newlines\n");
			ops_buf_free(&req);
			return EXIT_USAGE;
		}
		ops_buf_printf(&req, "\t%s", argv[i]);
	}
	ops_buf_printf(&req, "\n");
	if (req.oom || req.len > CONTROL_REQUEST_MAX) {
		fprintf(stderr, "signpostctl: command too long\n");
		ops_buf_free(&req);
		return EXIT_USAGE;
	}
	int fd = connect_socket(path);
	if (fd < 0) {
		ops_buf_free(&req);
		return EXIT_UNREACHABLE;
	}
	bool ok = write_all(fd, req.s, req.len) && read_all(fd, &resp);
	close(fd);
	ops_buf_free(&req);
	char *nl = ok && resp.s != NULL ? memchr(resp.s, '\n', resp.len) : NULL;
	if (nl == NULL) {
		fprintf(stderr, "signpostctl: %s: no answer from signpostd (%s)\n", path,
		        ok ? "connection closed" : "timed out or failed");
		ops_buf_free(&resp);
		return EXIT_UNREACHABLE;
	}
	int status = atoi(resp.s);
	const char *body = nl + 1;
	fputs(body, status == 0 ? stdout : stderr);
	ops_buf_free(&resp);
	return status == 0 ? 0 : status == 1 ? EXIT_REFUSED : EXIT_UNREACHABLE;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *config = NULL;
	bool json = false;
	int ch;

	/* "+": stop at the command, so "explain ... --client X" reaches the daemon as is. */
	while ((ch = getopt_long(argc, argv, "+s:c:jhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("signpostctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	/* --json is also accepted after the command. */
	int n = 0;
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			argv[optind + n++] = argv[i];
	}
	if (n == 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	if (sock != NULL) {
		snprintf(path, sizeof(path), "%s", sock);
	} else {
		bool explicit_config = config != NULL;
		if (config == NULL)
			config = getenv("SIGNPOST_CONFIG");
		if (config == NULL && access(SP_SYSCONFDIR "/signpost.conf", R_OK) == 0)
			config = SP_SYSCONFDIR "/signpost.conf";
		int rc = socket_from_config(config, explicit_config, path, sizeof(path));
		if (rc != 0)
			return rc;
	}
	return run(path, json, n, argv + optind);
}
