/* test_gslb_conf.c - gslb/conf.c: the gslb: YAML node, good and bad, with the file:line
 * and key path of every error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <cmocka.h>

#include "gslb/internal.h"
#include "lib/errors.h"
#include "lib/log.h"

static const char good[] =
	"gslb:\n"                                               /* 1 */
	"  checks:\n"
	"    web-http:\n"
	"      type: http\n"
	"      path: /health\n"                                 /* 5 */
	"      host: www.example.com\n"
	"      expect-status: [200, 204]\n"
	"      expect-body: \"OK\"\n"
	"      interval: 500ms\n"
	"      timeout: 200ms\n"                                /* 10 */
	"      rise: 2\n"
	"      fall: 3\n"
	"      initial: down\n"
	"      port: 8080\n"
	"    tls:\n"                                            /* 15 */
	"      type: https\n"
	"      ca-file: /etc/ssl/ca.pem\n"
	"      sni: www.example.com\n"
	"    ext:\n"
	"      type: external\n"                                /* 20 */
	"  pools:\n"
	"    web:\n"
	"      ttl: 20\n"
	"      max-answers: 2\n"
	"      fallback: pool:sorry\n"                          /* 25 */
	"      members:\n"
	"        - name: web1\n"
	"          address: 192.0.2.10\n"
	"          address6: 2001:db8::10\n"
	"          weight: 3\n"                                 /* 30 */
	"          priority: 1\n"
	"          region: eu\n"
	"          check: web-http\n"
	"          check-address: 10.0.0.10\n"
	"          check-port: 8081\n"                          /* 35 */
	"        - name: web2\n"
	"          address: 192.0.2.11\n"
	"          region: us\n"
	"          check: tls\n"
	"    sorry:\n"                                          /* 40 */
	"      members:\n"
	"        - { name: s1, address: 192.0.2.99 }\n"
	"  topology:\n"
	"    - { subnet: 10.0.0.0/8, region: eu }\n"
	"    - { subnet: 10.1.0.0/16, region: us }\n"          /* 45 */
	"    - { subnet: '2001:db8::/32', region: us }\n"
	"  region-order:\n"
	"    eu: [eu, us]\n"
	"    us: [us, eu]\n"
	"  names:\n"                                            /* 50 */
	"    - name: www.Example.test.\n"
	"      pool: web\n"
	"      policy: hash\n"
	"      hash-prefix4: 20\n"
	"    - name: geo.example.test\n"                        /* 55 */
	"      pool: web\n"
	"      policy: topology\n";

/* Parses text with stderr captured; returns the parse result, *log gets what was logged. */
static int
parse_capture(const char *text, struct gslb_conf **out, char *log, size_t loglen)
{
	char path[] = "/tmp/gslb-conf-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	assert_true(fd >= 0);
	fflush(stderr);
	dup2(fd, 2);
	int rc = gslb_conf_load("test.yaml", text, out);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, log, loglen - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return rc;
}

static void
the_documented_example_parses_with_every_field(void **state)
{
	struct gslb_conf *c;
	char log[4096];

	assert_int_equal(parse_capture(good, &c, log, sizeof(log)), 0);
	assert_int_equal(c->n_checks, 3);
	const struct gslb_check_conf *ck = &c->checks[0];
	assert_int_equal(ck->type, GSLB_CHECK_HTTP);
	assert_string_equal(ck->path, "/health");
	assert_int_equal(ck->n_expect, 2);
	assert_int_equal(ck->expect_status[1], 204);
	assert_int_equal(ck->interval_ms, 500);
	assert_int_equal(ck->timeout_ms, 200);
	assert_false(ck->initial_up);
	assert_int_equal(ck->port, 8080);
	assert_true(c->checks[1].tls_verify);
	assert_int_equal(c->checks[1].expect_status[0], 200);   /* default */
	assert_int_equal(c->checks[1].interval_ms, 5000);
	assert_int_equal(c->n_pools, 2);
	assert_int_equal(c->pools[0].ttl, 20);
	assert_int_equal(c->pools[0].max_answers, 2);
	assert_int_equal(c->pools[0].fallback, GSLB_FALLBACK_POOL);
	assert_int_equal(c->pools[0].sorry, 1);
	assert_int_equal(c->pools[1].ttl, 30);                  /* defaults */
	assert_int_equal(c->pools[1].max_answers, 1);
	assert_int_equal(c->pools[1].fallback, GSLB_FALLBACK_ALL);
	assert_int_equal(c->n_members, 3);
	const struct gslb_member_conf *m = &c->members[0];
	assert_true(m->has4 && m->has6);
	assert_int_equal(m->weight, 3);
	assert_string_equal(c->regions[m->region], "eu");
	assert_int_equal(m->check, 0);
	assert_int_equal(m->check_port, 8081);
	assert_int_equal(m->check_family, AF_INET);
	assert_int_equal(c->members[1].weight, 1);
	assert_int_equal(c->members[2].check, -1);
	/* Topology sorted longest prefix first. */
	assert_int_equal(c->n_topo, 3);
	assert_int_equal(c->topo[0].prefix, 32);
	assert_int_equal(c->topo[1].prefix, 16);
	assert_int_equal(c->topo[2].prefix, 8);
	int eu = c->members[0].region, us = c->members[1].region;
	assert_int_equal(c->order[eu].n, 2);
	assert_int_equal(c->order[eu].order[1], us);
	assert_int_equal(c->n_names, 2);
	assert_memory_equal(c->names[0].wire, "\3www\7example\4test", 18);  /* lower-cased */
	assert_int_equal(c->names[0].policy, GSLB_HASH);
	assert_int_equal(c->names[0].hash4, 20);
	assert_int_equal(c->names[0].hash6, 56);
	assert_int_equal(c->names[1].line, 55);
	gslb_conf_free(c);
}

static int
collect_name(void *arg, const uint8_t *wire, const char *text, int line)
{
	char *out = arg;
	char buf[64];
	snprintf(buf, sizeof(buf), "%s@%d;", text, line);
	strcat(out, buf);
	return 0;
}

static int
stop_at_first(void *arg, const uint8_t *wire, const char *text, int line)
{
	(*(int *)arg)++;
	return 7;
}

static void
dynamic_names_can_be_listed_for_the_zone_check(void **state)
{
	struct gslb_conf *c;
	char log[4096], names[256] = "";
	int calls = 0;

	assert_int_equal(parse_capture(good, &c, log, sizeof(log)), 0);
	assert_int_equal(gslb_conf_foreach_name(c, collect_name, names), 0);
	assert_string_equal(names, "www.example.test.@51;geo.example.test.@55;");
	assert_int_equal(gslb_conf_foreach_name(c, stop_at_first, &calls), 7);
	assert_int_equal(calls, 1);
	gslb_conf_free(c);
}

/* Replaces the first occurrence of from in the good example by to, parses, and expects
 * SP_ECONFIG with want in the log. */
static void
expect_error(const char *from, const char *to, const char *want)
{
	char text[sizeof(good) + 512], log[8192];
	struct gslb_conf *c = (void *)1;
	const char *at = strstr(good, from);

	assert_non_null(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
	int rc = parse_capture(text, &c, log, sizeof(log));
	if (strstr(log, want) == NULL)
		fail_msg("wanted \"%s\" in the log, got:\n%s", want, log);
	assert_int_equal(rc, SP_ECONFIG);
	assert_null(c);
}

static void
a_bad_weight_names_file_line_and_key_path(void **state)
{
	expect_error("weight: 3", "weight: 0",
	             "test.yaml:30: gslb.pools.web.members[0].weight: must be 1..65535");
	expect_error("weight: 3", "weight: 70000",
	             "test.yaml:30: gslb.pools.web.members[0].weight: must be 1..65535");
	expect_error("weight: 3", "weight: heavy",
	             "test.yaml:30: gslb.pools.web.members[0].weight: not a number: 'heavy'");
}

static void
unknown_references_are_errors_with_lines(void **state)
{
	expect_error("check: tls", "check: nope",
	             "test.yaml:39: gslb.pools.web.members[1]: unknown check 'nope'");
	expect_error("pool:sorry", "pool:nowhere",
	             "test.yaml:25: gslb.pools.web.fallback: unknown pool 'nowhere'");
	expect_error("      pool: web\n      policy: topology", "      pool: webb\n      policy: topology",
	             "test.yaml:56: gslb.names[1].pool: unknown pool 'webb'");
	expect_error("pool:sorry", "pool:web",
	             "test.yaml:25: gslb.pools.web.fallback: a pool cannot be its own fallback");
}

static void
malformed_values_are_rejected(void **state)
{
	expect_error("interval: 500ms", "interval: soon",
	             "test.yaml:9: gslb.checks.web-http.interval: not a duration: 'soon'");
	expect_error("timeout: 200ms", "timeout: 2s",
	             "test.yaml:3: gslb.checks.web-http: timeout (2000ms) must not exceed interval");
	expect_error("type: https", "type: icmp",
	             "test.yaml:16: gslb.checks.tls.type: must be tcp, http, https or external");
	expect_error("address: 192.0.2.11", "address: 192.0.2.300",
	             "test.yaml:37: gslb.pools.web.members[1].address: '192.0.2.300' is not an IPv4");
	expect_error("10.1.0.0/16", "10.1.0.1/16",
	             "test.yaml:45: gslb.topology[1].subnet: '10.1.0.1/16' has host bits set");
	expect_error("10.1.0.0/16", "10.1.0.0/33",
	             "test.yaml:45: gslb.topology[1].subnet: '10.1.0.0/33' is not a subnet");
	expect_error("policy: hash", "policy: fastest",
	             "test.yaml:53: gslb.names[0].policy: must be weighted, round-robin");
	expect_error("name: geo.example.test", "name: www.EXAMPLE.test",
	             "test.yaml:55: gslb.names[1]: duplicate name www.example.test.");
	expect_error("max-answers: 2", "max-answers: 17",
	             "test.yaml:24: gslb.pools.web.max-answers: must be 1..16");
	expect_error("expect-status: [200, 204]", "expect-status: [200, 999]",
	             "test.yaml:7: gslb.checks.web-http.expect-status[1]: must be 100..599");
	expect_error("        - name: web2\n", "        - name: web1\n",
	             "test.yaml:36: gslb.pools.web.members[1]: duplicate member 'web1'");
}

static void
unknown_keys_and_missing_parts_are_errors(void **state)
{
	expect_error("      rise: 2\n", "      rize: 2\n",
	             "test.yaml:11: gslb.checks.web-http.rize: unknown key");
	expect_error("  topology:\n", "  topolgy:\n", "test.yaml:43: gslb: unknown key 'topolgy'");
	expect_error("          address: 192.0.2.11\n", "",
	             "test.yaml:36: gslb.pools.web.members[1]: address or address6 is required");
	expect_error("      type: external\n", "      port: 1\n",
	             "test.yaml:19: gslb.checks.ext: type is required");
}

static void
a_tcp_check_needs_a_port(void **state)
{
	char log[4096];
	struct gslb_conf *c;
	static const char text[] =
		"gslb:\n"
		"  checks:\n"
		"    t: { type: tcp }\n"
		"  pools:\n"
		"    p:\n"
		"      members:\n"
		"        - { name: a, address: 192.0.2.1, check: t }\n"
		"        - { name: b, address: 192.0.2.2, check: t, check-port: 25 }\n";
	assert_int_equal(parse_capture(text, &c, log, sizeof(log)), SP_ECONFIG);
	assert_non_null(strstr(log, "test.yaml:7: gslb.pools.p.members[0]: check 't' is tcp"));
	assert_null(strstr(log, "members[1]"));
}

static void
yaml_syntax_errors_and_a_missing_section_are_reported(void **state)
{
	char log[4096];
	struct gslb_conf *c;
	assert_int_equal(parse_capture("gslb:\n  pools: [\n", &c, log, sizeof(log)), SP_ECONFIG);
	assert_non_null(strstr(log, "test.yaml:"));
	assert_int_equal(parse_capture("server: {}\n", &c, log, sizeof(log)), SP_ECONFIG);
	assert_non_null(strstr(log, "gslb: missing"));
	assert_int_equal(parse_capture("gslb:\n  names: []\n", &c, log, sizeof(log)), SP_ECONFIG);
	assert_non_null(strstr(log, "gslb.pools: at least one pool is required"));
}

/* Found by tests/fuzz/fuzz_gslb_conf: a pool key that is not a scalar reached
 * strcmp(name, NULL) in the second (fallback) pass: a crash without UBSan. */
static void
a_pool_key_that_is_not_a_scalar_is_an_error_not_a_crash(void **state)
{
	char log[4096];
	struct gslb_conf *c = NULL;
	static const char text[] =
		"gslb:\n"
		"  pools:\n"
		"    web:\n"
		"      fallback: pool:sorry\n"
		"      members:\n"
		"        - { name: a, address: 192.0.2.1 }\n"
		"    ? [x]\n"                                          /* 7 */
		"    : {}\n"
		"    sorry:\n"
		"      members:\n"
		"        - { name: b, address: 192.0.2.2 }\n"
		"  names:\n"
		"    - { name: www.example.test., pool: web }\n";
	assert_int_equal(parse_capture(text, &c, log, sizeof(log)), SP_ECONFIG);
	assert_null(c);
	assert_non_null(strstr(log, "test.yaml:7: gslb.pools: keys must be scalars"));
}

/* Bad input of every kind: random cuts, duplications and byte flips of the example
 * either parse or fail with SP_ECONFIG; never a crash (run under ASan in CI). */
static void
mangled_configurations_fail_cleanly(void **state)
{
	static const char junk[] = ":-[]{}#'\"\n 0x9.,/*&!|>";
	char text[sizeof(good) * 2];
	unsigned ok = 0, bad = 0;

	srand(7);
	fflush(stderr);
	int saved = dup(2), null = open("/dev/null", O_WRONLY);
	dup2(null, 2);
	for (int round = 0; round < 3000; round++) {
		size_t len = sizeof(good) - 1;
		memcpy(text, good, len + 1);
		for (int k = 0, edits = 1 + rand() % 4; k < edits; k++) {
			size_t at = (size_t)rand() % len;
			switch (rand() % 3) {
			case 0:     /* cut a run */
			{
				size_t n = 1 + (size_t)rand() % 20;
				if (at + n > len)
					n = len - at;
				memmove(text + at, text + at + n, len - at - n + 1);
				len -= n;
				break;
			}
			case 1:     /* duplicate a run */
			{
				size_t n = 1 + (size_t)rand() % 40;
				if (at + n > len)
					n = len - at;
				if (len + n >= sizeof(text))
					break;
				memmove(text + at + n, text + at, len - at + 1);
				len += n;
				break;
			}
			default:    /* flip a byte to something YAML cares about */
				text[at] = junk[rand() % (sizeof(junk) - 1)];
				break;
			}
		}
		struct gslb_conf *c = NULL;
		int rc = gslb_conf_load("fuzz.yaml", text, &c);
		if (rc == 0) {
			assert_non_null(c);
			ok++;
		} else {
			assert_int_equal(rc, SP_ECONFIG);
			assert_null(c);
			bad++;
		}
		gslb_conf_free(c);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(null);
	print_message("mangled configurations: %u accepted, %u refused\n", ok, bad);
	assert_true(bad > 1000);
}

/* geoip-regions keys are ISO codes: lower case is the same country (GeoIP2 databases spell
 * them in upper case, which pick.c compares byte for byte); anything else is an error. */
static void
geoip_region_country_codes_are_upper_cased_and_checked(void **state)
{
	static const char text[] =
		"gslb:\n"
		"  pools:\n"
		"    p:\n"
		"      members:\n"
		"        - { name: eu1, address: 192.0.2.1, region: eu }\n"
		"  topology:\n"
		"    - { subnet: 10.0.0.0/8, region: eu }\n"
		"  geoip-regions: { de: eu, Us: us, FR: eu }\n"
		"  names:\n"
		"    - { name: g.example., pool: p, policy: topology }\n";
	struct gslb_conf *c;
	char log[4096];

	assert_int_equal(parse_capture(text, &c, log, sizeof(log)), 0);
	assert_int_equal(c->n_countries, 3);
	assert_string_equal(c->countries[0].cc, "DE");
	assert_string_equal(c->countries[1].cc, "US");
	assert_string_equal(c->countries[2].cc, "FR");
	gslb_conf_free(c);

	char bad[sizeof(text)];
	memcpy(bad, text, sizeof(text));
	memcpy(strstr(bad, "FR:"), "F1:", 3);
	c = (void *)1;
	assert_int_equal(parse_capture(bad, &c, log, sizeof(log)), SP_ECONFIG);
	if (strstr(log, "gslb.geoip-regions.F1: must be a two-letter ISO 3166 country code") == NULL)
		fail_msg("got:\n%s", log);
	assert_null(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_documented_example_parses_with_every_field),
		cmocka_unit_test(dynamic_names_can_be_listed_for_the_zone_check),
		cmocka_unit_test(a_bad_weight_names_file_line_and_key_path),
		cmocka_unit_test(unknown_references_are_errors_with_lines),
		cmocka_unit_test(malformed_values_are_rejected),
		cmocka_unit_test(unknown_keys_and_missing_parts_are_errors),
		cmocka_unit_test(a_tcp_check_needs_a_port),
		cmocka_unit_test(geoip_region_country_codes_are_upper_cased_and_checked),
		cmocka_unit_test(yaml_syntax_errors_and_a_missing_section_are_reported),
		cmocka_unit_test(mangled_configurations_fail_cleanly),
		cmocka_unit_test(a_pool_key_that_is_not_a_scalar_is_an_error_not_a_crash),
	};
	log_init("test_gslb_conf", LOG_LVL_INFO, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
