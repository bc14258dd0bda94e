/* fuzz_gslb_conf.c - libFuzzer target for the GSLB configuration parser: each input is
 * a YAML document given to gslb_conf_load() (libyaml, then gslb_conf_parse() on the
 * `gslb:` node). It must never crash, hang or leak; a configuration it accepts must
 * list its dynamic names as valid wire names and free cleanly. Nothing is started: the
 * runtime would send health checks to the addresses in the input. Inputs are kept small
 * (run with -max_len=4096, the default). Errors are logged through syslog(3), not to
 * stderr, so the fuzzer's own output stays readable. One thread (the fuzzer's). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gslb/gslb.h"
#include "lib/dname.h"
#include "lib/errors.h"
#include "lib/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_gslb_conf", getenv("FUZZ_VERBOSE") ? LOG_LVL_DEBUG : LOG_LVL_ERR,
	         getenv("FUZZ_VERBOSE") == NULL);
	return 0;
}

static int
check_name(void *arg, const uint8_t *wire, const char *text, int line)
{
	unsigned *count = arg;
	size_t len = dname_len(wire);
	uint8_t again[DNAME_MAXLEN];
	if (len < 1 || len > DNAME_MAXLEN || text == NULL || line < 0 ||
	    dname_from_str(text, again) != len || !dname_equal(again, wire)) {
		fprintf(stderr, "gslb name '%s' (line %d) and its wire form disagree\n",
		        text ? text : "(null)", line);
		abort();
	}
	(*count)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384)
		return -1;
	/* gslb_conf_load() takes a C string: an embedded NUL ends the document. */
	char *text = malloc(size + 1);
	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = 0;

	struct gslb_conf *conf = NULL;
	int rc = gslb_conf_load("fuzz.yaml", text, &conf);
	if (rc == 0) {
		if (conf == NULL) {
			fprintf(stderr, "gslb_conf_load returned 0 without a configuration\n");
			abort();
		}
		unsigned count = 0;
		if (gslb_conf_foreach_name(conf, check_name, &count) != 0)
			abort();
	} else if (rc != SP_ECONFIG && rc != -ENOMEM) {
		fprintf(stderr, "gslb_conf_load: unexpected %d (%s)\n", rc, sp_strerror(rc));
		abort();
	} else if (conf != NULL) {
		fprintf(stderr, "gslb_conf_load failed (%d) but set a configuration\n", rc);
		abort();
	}
	gslb_conf_free(conf);
	free(text);
	return 0;
}
