/* test_config.c - server/config.c: the YAML configuration parses to the right values,
 * and every kind of mistake is reported with the right file, line and key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "lib/errors.h"
#include "lib/log.h"
#include "server/config.h"

static char err[CONF_ERRLEN];

static struct daemon_conf *
parse_ok(const char *text)
{
	struct daemon_conf *c = NULL;
	int rc = daemon_conf_parse("signpost.conf", "/etc/signpost", text, strlen(text), &c, err,
	                           sizeof(err));
	if (rc != 0)
		fail_msg("unexpected error: %s", err);
	assert_non_null(c);
	return c;
}

/* Parses text that must fail, and checks the message starts with want. */
static void
parse_fails(const char *text, const char *want)
{
	struct daemon_conf *c = NULL;
	int rc = daemon_conf_parse("signpost.conf", "/etc/signpost", text, strlen(text), &c, err,
	                           sizeof(err));
	assert_int_equal(rc, SP_ECONFIG);
	assert_null(c);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("expected '%s...', got '%s'", want, err);
}

static void
full_config_parses_to_the_right_values(void **state)
{
	struct daemon_conf *c = parse_ok(
		"server:\n"
		"  listen:\n"
		"    - 127.0.0.1@5300\n"
		"    - ::1@5301\n"
		"    - 192.0.2.1\n"
		"  workers: 3\n"
		"  state-dir: /var/lib/signpost\n"
		"  pid-file: /run/signpost/signpostd.pid\n"
		"  user: signpost\n"
		"  edns-size: 1400\n"
		"  identity: ns1.example\n"
		"  version: \"signpost 0.1\"\n"
		"  nsid: ns1\n"
		"  tcp-idle-timeout: 7\n"
		"  tcp-max-connections: 900\n"
		"  tcp-max-per-client: 20\n"
		"log:\n"
		"  level: debug\n"
		"  syslog: true\n"
		"zones:\n"
		"  - name: example.\n"
		"    file: example.zone\n"
		"  - name: Other.Example\n"
		"    file: /srv/zones/other.zone\n");

	assert_int_equal(c->nlisten, 3);
	assert_string_equal(c->listen[0].text, "127.0.0.1@5300");
	assert_int_equal(c->listen[0].addr.ss_family, AF_INET);
	assert_string_equal(c->listen[1].text, "::1@5301");
	assert_int_equal(c->listen[1].addr.ss_family, AF_INET6);
	assert_string_equal(c->listen[2].text, "192.0.2.1@53");
	assert_int_equal(c->workers, 3);
	assert_string_equal(c->state_dir, "/var/lib/signpost");
	assert_string_equal(c->pid_file, "/run/signpost/signpostd.pid");
	assert_string_equal(c->user, "signpost");
	assert_int_equal(c->edns_size, 1400);
	assert_string_equal(c->identity, "ns1.example");
	assert_string_equal(c->version, "signpost 0.1");
	assert_int_equal(c->nsid_len, 3);
	assert_memory_equal(c->nsid, "ns1", 3);
	assert_int_equal(c->tcp_idle_timeout_ms, 7000);
	assert_int_equal(c->tcp_max_connections, 900);
	assert_int_equal(c->tcp_max_per_client, 20);
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	assert_true(c->log_syslog);
	assert_int_equal(c->nzones, 2);
	assert_string_equal(c->zones[0].name, "example.");
	assert_string_equal(c->zones[0].file, "/etc/signpost/example.zone");
	assert_string_equal(c->zones[1].name, "Other.Example.");
	assert_string_equal(c->zones[1].file, "/srv/zones/other.zone");
	daemon_conf_free(c);
}

static void
absent_keys_take_the_documented_defaults(void **state)
{
	struct daemon_conf *c = parse_ok("zones:\n  - name: a.\n    file: a.zone\n");
	assert_int_equal(c->workers, 0);
	assert_int_equal(c->edns_size, 1232);
	assert_null(c->identity);
	assert_null(c->version);
	assert_null(c->nsid);
	assert_null(c->user);
	assert_null(c->pid_file);
	assert_int_equal(c->tcp_idle_timeout_ms, 10000);
	assert_int_equal(c->tcp_max_connections, 1000);
	assert_int_equal(c->tcp_max_per_client, 32);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_false(c->log_syslog);
	/* Loopback only, port 53, when listen is absent. */
	assert_int_equal(c->nlisten, 2);
	assert_string_equal(c->listen[0].text, "127.0.0.1@53");
	assert_string_equal(c->listen[1].text, "::1@53");
	assert_non_null(c->state_dir);
	daemon_conf_free(c);
}

static void
an_empty_file_is_all_defaults(void **state)
{
	struct daemon_conf *c = parse_ok("");
	assert_int_equal(c->nzones, 0);
	assert_int_equal(c->nlisten, 2);
	daemon_conf_free(c);
}

static void
durations_accept_seconds_and_suffixes(void **state)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} cases[] = { { "10", 10000 }, { "10s", 10000 }, { "500ms", 500 }, { "2m", 120000 },
		      { "1h", 3600000 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "server:\n  tcp-idle-timeout: %s\n", cases[i].text);
		struct daemon_conf *c = parse_ok(text);
		assert_int_equal(c->tcp_idle_timeout_ms, cases[i].ms);
		daemon_conf_free(c);
	}
}

static void
nsid_in_hex_is_decoded(void **state)
{
	struct daemon_conf *c = parse_ok("server:\n  nsid: 0x00ff10\n");
	assert_int_equal(c->nsid_len, 3);
	assert_memory_equal(c->nsid, "\x00\xff\x10", 3);
	daemon_conf_free(c);
}

static void
relative_state_dir_is_relative_to_the_file(void **state)
{
	struct daemon_conf *c = parse_ok("server:\n  state-dir: state\n  pid-file: run/s.pid\n");
	assert_string_equal(c->state_dir, "/etc/signpost/state");
	assert_string_equal(c->pid_file, "/etc/signpost/run/s.pid");
	daemon_conf_free(c);
}

static void
a_single_listen_address_may_be_a_scalar(void **state)
{
	struct daemon_conf *c = parse_ok("server:\n  listen: 0.0.0.0@8053\n");
	assert_int_equal(c->nlisten, 1);
	assert_string_equal(c->listen[0].text, "0.0.0.0@8053");
	daemon_conf_free(c);
}

static void
unknown_key_names_the_key_the_section_and_the_line(void **state)
{
	parse_fails("server:\n  workers: 2\n  colour: blue\n",
	            "signpost.conf:3: unknown key 'colour' in 'server'");
	parse_fails("log:\n  level: info\n  file: x\n", "signpost.conf:3: unknown key 'file' in 'log'");
	parse_fails("\n\nfrobnicate: 1\n", "signpost.conf:3: unknown key 'frobnicate' at the top level");
	parse_fails("zones:\n  - name: a.\n    file: a\n    type: primary\n",
	            "signpost.conf:4: unknown key 'type' in 'zones[0]'");
}

static void
bad_address_is_reported_with_its_line_and_index(void **state)
{
	parse_fails("server:\n  listen:\n    - 127.0.0.1@5300\n    - 300.1.2.3@53\n",
	            "signpost.conf:4: server.listen[1]: not an address: '300.1.2.3@53'");
	parse_fails("server:\n  listen:\n    - localhost\n",
	            "signpost.conf:3: server.listen[0]: not an address");
}

static void
bad_port_is_reported(void **state)
{
	parse_fails("server:\n  listen:\n    - 127.0.0.1@70000\n",
	            "signpost.conf:3: server.listen[0]: bad port");
	parse_fails("server:\n  listen:\n    - 127.0.0.1@0\n", "signpost.conf:3: server.listen[0]: bad port");
	parse_fails("server:\n  listen:\n    - ::1@http\n", "signpost.conf:3: server.listen[0]: bad port");
	parse_fails("server:\n  listen:\n    - 127.0.0.1@\n", "signpost.conf:3: server.listen[0]: bad port");
}

static void
the_same_address_twice_is_an_error(void **state)
{
	parse_fails("server:\n  listen:\n    - 127.0.0.1@53\n    - 127.0.0.1\n",
	            "signpost.conf:4: server.listen[1]: '127.0.0.1@53' is listed twice");
}

static void
negative_workers_is_an_error(void **state)
{
	parse_fails("server:\n  workers: -1\n", "signpost.conf:2: server.workers: must not be negative");
	parse_fails("server:\n  workers: many\n", "signpost.conf:2: server.workers: not a number");
	parse_fails("server:\n  workers: 100000\n", "signpost.conf:2: server.workers: must be 0..256");
	parse_fails("server:\n  workers: 2.5\n", "signpost.conf:2: server.workers: not a number");
}

static void
bad_duration_is_an_error(void **state)
{
	parse_fails("server:\n  tcp-idle-timeout: soon\n",
	            "signpost.conf:2: server.tcp-idle-timeout: not a duration");
	parse_fails("server:\n  tcp-idle-timeout: 10x\n",
	            "signpost.conf:2: server.tcp-idle-timeout: not a duration");
	parse_fails("server:\n  tcp-idle-timeout: -5\n",
	            "signpost.conf:2: server.tcp-idle-timeout: must not be negative");
	parse_fails("server:\n  tcp-idle-timeout: 0\n",
	            "signpost.conf:2: server.tcp-idle-timeout: must be above 0");
}

static void
values_out_of_range_are_errors(void **state)
{
	parse_fails("server:\n  edns-size: 511\n", "signpost.conf:2: server.edns-size: must be 512..4096");
	parse_fails("server:\n  edns-size: 4097\n", "signpost.conf:2: server.edns-size: must be 512..4096");
	parse_fails("server:\n  tcp-max-connections: 0\n",
	            "signpost.conf:2: server.tcp-max-connections: must be 1..");
	parse_fails("server:\n  tcp-max-connections: 10\n  tcp-max-per-client: 11\n",
	            "signpost.conf:2: server.tcp-max-per-client: larger than");
	parse_fails("server:\n  nsid: 0xabc\n", "signpost.conf:2: server.nsid: odd number of hex digits");
	parse_fails("server:\n  nsid: 0xzz\n", "signpost.conf:2: server.nsid: not a hex string");
	parse_fails("log:\n  level: loud\n", "signpost.conf:2: log.level: 'loud' is not one of");
	parse_fails("log:\n  syslog: maybe\n", "signpost.conf:2: log.syslog: expected true or false");
}

static void
zone_without_file_is_an_error(void **state)
{
	parse_fails("zones:\n  - name: a.\n    file: a.zone\n  - name: b.\n",
	            "signpost.conf:4: zones[1]: zone 'b.' without 'file'");
	parse_fails("zones:\n  - file: a.zone\n", "signpost.conf:2: zones[0]: zone without 'name'");
}

static void
duplicate_zone_is_an_error(void **state)
{
	parse_fails("zones:\n  - name: a.\n    file: a.zone\n  - name: A\n    file: b.zone\n",
	            "signpost.conf:4: zones[1]: duplicate zone 'A.'");
}

static void
bad_zone_name_is_an_error(void **state)
{
	parse_fails("zones:\n  - name: a..b\n    file: a.zone\n",
	            "signpost.conf:2: zones[0].name: not a domain name");
}

static void
not_a_mapping_is_an_error(void **state)
{
	parse_fails("server:\n  - listen\n", "signpost.conf:2: server: not a mapping (found a list)");
	parse_fails("log: debug\n", "signpost.conf:1: log: not a mapping (found a scalar)");
	parse_fails("- server\n", "signpost.conf:1: not a mapping (found a list)");
	parse_fails("zones:\n  - example.\n", "signpost.conf:2: zones[0]: not a mapping");
	parse_fails("zones:\n  name: a.\n", "signpost.conf:2: zones: expected a list of zones");
}

static void
wrong_types_are_errors(void **state)
{
	parse_fails("server:\n  listen:\n    a: b\n",
	            "signpost.conf:3: server.listen: expected a list of addresses, found a mapping");
	parse_fails("server:\n  state-dir: [a, b]\n",
	            "signpost.conf:2: server.state-dir: expected a value, found a list");
	parse_fails("server:\n  workers: {a: 1}\n",
	            "signpost.conf:2: server.workers: expected a value, found a mapping");
}

static void
duplicate_key_is_an_error(void **state)
{
	parse_fails("server:\n  workers: 1\n  workers: 2\n",
	            "signpost.conf:3: server: duplicate key 'workers' (first on line 2)");
}

static void
yaml_syntax_error_names_the_line(void **state)
{
	parse_fails("server:\n  workers: 1\n  listen: [127.0.0.1\n\nlog:\n", "signpost.conf:");
	assert_non_null(strstr(err, "YAML syntax"));
	parse_fails("server:\n  workers: 1\n bad: indentation\n", "signpost.conf:3: YAML syntax");
}

static void
missing_file_is_reported_with_errno(void **state)
{
	struct daemon_conf *c = NULL;
	int rc = daemon_conf_load("/nonexistent/signpost.conf", &c, err, sizeof(err));
	assert_true(rc < 0 && rc != SP_ECONFIG);
	assert_null(c);
	assert_non_null(strstr(err, "/nonexistent/signpost.conf: cannot open"));
}

static void
load_reads_a_file_and_resolves_relative_paths(void **state)
{
	char dir[] = "/tmp/test_config.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/signpost.conf", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("server:\n  listen: [127.0.0.1@5399]\nzones:\n  - name: t.\n    file: t.zone\n"
	      "  - name: u.\n    file: u.zone\n    extra: 1\n", f);
	fclose(f);

	struct daemon_conf *c = NULL;
	int rc = daemon_conf_load(path, &c, err, sizeof(err));
	assert_int_equal(rc, SP_ECONFIG);
	char want[200];
	snprintf(want, sizeof(want), "%s:8: unknown key 'extra' in 'zones[1]'", path);
	assert_string_equal(err, want);

	f = fopen(path, "w");
	fputs("server:\n  listen: [127.0.0.1@5399]\nzones:\n  - name: t.\n    file: t.zone\n", f);
	fclose(f);
	assert_int_equal(daemon_conf_load(path, &c, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/t.zone", dir);
	assert_string_equal(c->zones[0].file, want);
	assert_string_equal(c->path, path);
	daemon_conf_free(c);
	unlink(path);
	rmdir(dir);
}

static void
restart_is_needed_only_for_sockets_threads_and_identity(void **state)
{
	struct daemon_conf *a = parse_ok("server:\n  listen: [127.0.0.1@5300]\n  workers: 2\n");
	struct daemon_conf *b = parse_ok("server:\n  listen: [127.0.0.1@5300]\n  workers: 2\n"
	                                 "  identity: x\n  edns-size: 512\nlog:\n  level: debug\n");
	struct daemon_conf *c = parse_ok("server:\n  listen: [127.0.0.1@5301]\n  workers: 2\n");
	struct daemon_conf *d = parse_ok("server:\n  listen: [127.0.0.1@5300]\n  workers: 3\n");
	assert_false(daemon_conf_needs_restart(a, b));
	assert_true(daemon_conf_needs_restart(a, c));
	assert_true(daemon_conf_needs_restart(a, d));
	daemon_conf_free(a);
	daemon_conf_free(b);
	daemon_conf_free(c);
	daemon_conf_free(d);
}

static void
builtin_default_serves_the_example_zone_on_5300(void **state)
{
	struct daemon_conf *c = daemon_conf_default("/tmp/sp-state");
	assert_non_null(c);
	assert_int_equal(c->nlisten, 2);
	assert_string_equal(c->listen[0].text, "127.0.0.1@5300");
	assert_string_equal(c->listen[1].text, "::1@5300");
	assert_int_equal(c->workers, 0);
	assert_int_equal(c->nzones, 1);
	assert_string_equal(c->zones[0].name, "example.test.");
	assert_string_equal(c->zones[0].file, "/tmp/sp-state/example.test.zone");
	assert_non_null(strstr(daemon_example_zone, "SOA"));
	daemon_conf_free(c);
}

static void
default_state_dir_follows_the_environment(void **state)
{
	setenv("SIGNPOST_STATE_DIR", "/x/state", 1);
	char *s = daemon_conf_default_state_dir();
	assert_string_equal(s, "/x/state");
	free(s);
	unsetenv("SIGNPOST_STATE_DIR");
	setenv("XDG_STATE_HOME", "/xdg", 1);
	s = daemon_conf_default_state_dir();
	assert_string_equal(s, "/xdg/signpost");
	free(s);
	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "/home/u", 1);
	s = daemon_conf_default_state_dir();
	assert_string_equal(s, "/home/u/.local/state/signpost");
	free(s);
}

/* control: and metrics: once read a key that was a list as text and let a repeated key
 * win silently; every section now checks its mapping like server: does. */
static void
every_section_refuses_odd_and_repeated_keys(void **state)
{
	parse_fails("control:\n  ? [x, y]\n  : 1\n", "signpost.conf:2: control: keys must be plain names");
	parse_fails("metrics:\n  enabled: false\n  enabled: true\n",
	            "signpost.conf:3: metrics: duplicate key 'enabled' (first on line 2)");
	parse_fails("control: 0660\n", "signpost.conf:1: control: not a mapping (found a scalar)");
	parse_fails("cookies:\n  - secret\n", "signpost.conf:2: cookies: not a mapping (found a list)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_config_parses_to_the_right_values),
		cmocka_unit_test(absent_keys_take_the_documented_defaults),
		cmocka_unit_test(an_empty_file_is_all_defaults),
		cmocka_unit_test(durations_accept_seconds_and_suffixes),
		cmocka_unit_test(nsid_in_hex_is_decoded),
		cmocka_unit_test(relative_state_dir_is_relative_to_the_file),
		cmocka_unit_test(a_single_listen_address_may_be_a_scalar),
		cmocka_unit_test(unknown_key_names_the_key_the_section_and_the_line),
		cmocka_unit_test(bad_address_is_reported_with_its_line_and_index),
		cmocka_unit_test(bad_port_is_reported),
		cmocka_unit_test(the_same_address_twice_is_an_error),
		cmocka_unit_test(negative_workers_is_an_error),
		cmocka_unit_test(bad_duration_is_an_error),
		cmocka_unit_test(values_out_of_range_are_errors),
		cmocka_unit_test(zone_without_file_is_an_error),
		cmocka_unit_test(duplicate_zone_is_an_error),
		cmocka_unit_test(bad_zone_name_is_an_error),
		cmocka_unit_test(not_a_mapping_is_an_error),
		cmocka_unit_test(wrong_types_are_errors),
		cmocka_unit_test(duplicate_key_is_an_error),
		cmocka_unit_test(yaml_syntax_error_names_the_line),
		cmocka_unit_test(missing_file_is_reported_with_errno),
		cmocka_unit_test(load_reads_a_file_and_resolves_relative_paths),
		cmocka_unit_test(restart_is_needed_only_for_sockets_threads_and_identity),
		cmocka_unit_test(builtin_default_serves_the_example_zone_on_5300),
		cmocka_unit_test(default_state_dir_follows_the_environment),
		cmocka_unit_test(every_section_refuses_odd_and_repeated_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
