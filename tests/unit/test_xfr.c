/* test_xfr.c - zones/xfr.c and zones/journal.c: walking a zone version for AXFR, the IXFR
 * journal computed from two compiled versions (chains, trimming, broken chains; written by
 * the compile's hook in the zone's own transaction, or after it), and the
 * secondary state kept in the xfr DBI. Each test compiles zones into a fresh temporary
 * database. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/errors.h"
#include "zones/zones.h"

#define APEX ((const uint8_t *)"\7example")

struct fixture {
	char dir[64];
	char file[96];
	struct zones_db *db;
};

static void
write_zone(struct fixture *f, uint32_t serial, const char *extra)
{
	FILE *fp = fopen(f->file, "w");
	assert_non_null(fp);
	fprintf(fp, "$ORIGIN example.\n$TTL 300\n@ SOA ns hostmaster %u 3600 600 86400 300\n"
	        "@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.2\nmail MX 10 ns\n%s", serial, extra);
	fclose(fp);
}

static void
compile(struct fixture *f, uint32_t serial, const char *extra)
{
	struct zones_compile_opts o = {0};
	struct zones_report rep = {0};
	write_zone(f, serial, extra);
	assert_int_equal(zones_compile_file(f->db, "example.", f->file, &o, &rep), 0);
}

/* Recompiles as the daemon does: the journal hook writes the step in the compile's own
 * write transaction. */
static void
step(struct fixture *f, uint32_t serial, const char *extra, unsigned versions, uint64_t size)
{
	struct zones_journal_limits lim = {versions, size};
	struct zones_compile_opts o = {.on_write = zones_journal_hook, .on_write_ctx = &lim};
	struct zones_report rep = {0};
	write_zone(f, serial, extra);
	assert_int_equal(zones_compile_file(f->db, "example.", f->file, &o, &rep), 0);
}

/* The older way, still offered: snapshot the old version, compile, journal the step in a
 * transaction of its own. */
static void
step_after(struct fixture *f, uint32_t serial, const char *extra, unsigned versions,
           uint64_t size)
{
	struct zones_iter *old = NULL;
	assert_int_equal(zones_iter_new(f->db, APEX, &old), 0);
	compile(f, serial, extra);
	assert_int_equal(zones_journal_add(f->db, old, versions, size), 0);
	zones_iter_free(old);
}

/* A hook that journals the step and then fails, as a crash before the commit would:
 * counts its calls and remembers the ids it was given. */
struct failing {
	struct zones_journal_limits lim;
	unsigned calls;
	uint32_t old_id, new_id;
};

static int
journal_then_fail(void *ctx, struct zones_db *db, struct MDB_txn *txn, const uint8_t *apex,
                  uint32_t old_id, uint32_t new_id)
{
	struct failing *fl = ctx;
	fl->calls++;
	fl->old_id = old_id;
	fl->new_id = new_id;
	int rc = zones_journal_hook(&fl->lim, db, txn, apex, old_id, new_id);
	return rc != 0 ? rc : SP_ESTORE;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_xfr.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->file, sizeof(f->file), "%s/example.zone", f->dir);
	char db[96];
	snprintf(db, sizeof(db), "%s/db", f->dir);
	assert_int_equal(zones_db_open(db, 0, 64u << 20, &f->db), 0);
	assert_int_equal(zones_journal_init(f->db), 0);
	compile(f, 1, "");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	zones_db_close(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* The records of the journal from serial from, as "owner type" strings joined by ",". */
static int
journal_text(struct fixture *f, uint32_t from, char *out, size_t cap)
{
	struct zones_iter *it = NULL;
	struct zones_journal *j = NULL;
	struct zones_journal_rr rr;
	assert_int_equal(zones_iter_new(f->db, APEX, &it), 0);
	int rc = zones_journal_open(it, from, &j);
	out[0] = '\0';
	if (rc == 0) {
		size_t len = 0;
		while (zones_journal_peek(j, &rr) == 1) {
			char name[256];
			if (rr.type == 6)   /* SOA: the serial */
				snprintf(name, sizeof(name), "SOA%u,", (unsigned)(rr.rdata[rr.rdlen - 20] << 24 |
				         rr.rdata[rr.rdlen - 19] << 16 | rr.rdata[rr.rdlen - 18] << 8 |
				         rr.rdata[rr.rdlen - 17]));
			else
				snprintf(name, sizeof(name), "%.*s/%u,", rr.owner[0], rr.owner + 1, rr.type);
			len += (size_t)snprintf(out + len, cap - len, "%s", name);
			zones_journal_advance(j);
		}
		zones_journal_close(j);
	}
	zones_iter_free(it);
	return rc;
}

static void
the_walk_gives_every_node_of_one_version(void **state)
{
	struct fixture *f = *state;
	struct zones_iter *it = NULL;
	uint8_t owner[255];
	struct zones_node node;
	assert_int_equal(zones_iter_new(f->db, APEX, &it), 0);
	compile(f, 2, "new A 192.0.2.9\n");     /* replaced while the walk is open */
	unsigned n = 0;
	bool saw_new = false;
	while (zones_iter_next(it, owner, &node) == 1) {
		n++;
		saw_new |= memcmp(owner, "\3new", 4) == 0;
	}
	assert_int_equal(n, 4);     /* example. mail ns www: the version the walk began with */
	assert_false(saw_new);
	struct zones_zone z;
	zones_iter_zone(it, &z, NULL);
	assert_int_equal(z.serial, 1);
	zones_iter_free(it);
}

static void
a_step_holds_the_deleted_and_added_records_between_the_soas(void **state)
{
	struct fixture *f = *state;
	char text[512];
	step(f, 2, "new A 192.0.2.9\n", 10, 1 << 20);
	assert_int_equal(journal_text(f, 1, text, sizeof(text)), 0);
	assert_string_equal(text, "SOA1,SOA2,new/1,");
}

static void
steps_chain_and_a_changed_ttl_is_delete_and_add(void **state)
{
	struct fixture *f = *state;
	char text[512];
	step(f, 2, "new A 192.0.2.9\n", 10, 1 << 20);
	step(f, 3, "new 60 A 192.0.2.9\n", 10, 1 << 20);
	assert_int_equal(journal_text(f, 1, text, sizeof(text)), 0);
	assert_string_equal(text, "SOA1,SOA2,new/1,SOA2,new/1,SOA3,new/1,");
	assert_int_equal(journal_text(f, 2, text, sizeof(text)), 0);
	assert_string_equal(text, "SOA2,new/1,SOA3,new/1,");
	assert_int_equal(journal_text(f, 3, text, sizeof(text)), SP_ENOZONE);
}

static void
old_steps_are_trimmed_to_the_versions_kept(void **state)
{
	struct fixture *f = *state;
	char text[512];
	step(f, 2, "a A 192.0.2.10\n", 2, 1 << 20);
	step(f, 3, "b A 192.0.2.11\n", 2, 1 << 20);
	step(f, 4, "c A 192.0.2.12\n", 2, 1 << 20);
	assert_int_equal(journal_text(f, 1, text, sizeof(text)), SP_ENOZONE);
	assert_int_equal(journal_text(f, 2, text, sizeof(text)), 0);
	assert_string_equal(text, "SOA2,a/1,SOA3,b/1,SOA3,b/1,SOA4,c/1,");
}

static void
a_version_compiled_behind_the_journals_back_breaks_the_chain(void **state)
{
	struct fixture *f = *state;
	char text[512];
	step(f, 2, "a A 192.0.2.10\n", 10, 1 << 20);
	compile(f, 3, "b A 192.0.2.11\n");     /* no journal step (the tool, say) */
	/* The chain from 1 ends at 2, not at the zone's 3: no IXFR from it. */
	assert_int_equal(journal_text(f, 1, text, sizeof(text)), SP_ENOZONE);
	step(f, 4, "c A 192.0.2.12\n", 10, 1 << 20);
	assert_int_equal(journal_text(f, 1, text, sizeof(text)), SP_ENOZONE);
	assert_int_equal(journal_text(f, 3, text, sizeof(text)), 0);
	assert_string_equal(text, "SOA3,b/1,SOA4,c/1,");
}

static void
a_step_kept_after_the_compile_still_chains(void **state)
{
	struct fixture *f = *state;
	char text[512];
	step_after(f, 2, "new A 192.0.2.9\n", 10, 1 << 20);
	step(f, 3, "new 60 A 192.0.2.9\n", 10, 1 << 20);
	assert_int_equal(journal_text(f, 1, text, sizeof(text)), 0);
	assert_string_equal(text, "SOA1,SOA2,new/1,SOA2,new/1,SOA3,new/1,");
}

static void
the_step_commits_with_the_zone_or_not_at_all(void **state)
{
	struct fixture *f = *state;
	char text[512];
	struct zones_iter *it = NULL;
	struct zones_zone z;
	struct failing fl = {.lim = {10, 1 << 20}};
	struct zones_compile_opts o = {.on_write = journal_then_fail, .on_write_ctx = &fl};
	struct zones_report rep = {0};
	assert_int_equal(zones_iter_new(f->db, APEX, &it), 0);
	zones_iter_zone(it, &z, NULL);
	uint32_t id1 = z.id;
	zones_iter_free(it);

	/* The hook saw both versions in the compile's transaction, wrote the step, then
	 * failed: the compile fails and neither the zone nor the step is there. */
	write_zone(f, 2, "new A 192.0.2.9\n");
	assert_int_equal(zones_compile_file(f->db, "example.", f->file, &o, &rep), SP_ESTORE);
	assert_int_equal(fl.calls, 1);
	assert_int_equal(fl.old_id, id1);
	assert_true(fl.new_id > id1);
	assert_int_equal(zones_iter_new(f->db, APEX, &it), 0);
	zones_iter_zone(it, &z, NULL);
	assert_int_equal(z.serial, 1);
	assert_int_equal(z.id, id1);
	zones_iter_free(it);
	assert_int_equal(journal_text(f, 1, text, sizeof(text)), SP_ENOZONE);

	/* The same compile with the plain hook: zone and step are there together, with
	 * no call after the compile. */
	step(f, 2, "new A 192.0.2.9\n", 10, 1 << 20);
	assert_int_equal(journal_text(f, 1, text, sizeof(text)), 0);
	assert_string_equal(text, "SOA1,SOA2,new/1,");
}

static void
a_recompile_with_the_same_serial_clears_the_journal(void **state)
{
	struct fixture *f = *state;
	char text[512];
	step(f, 2, "a A 192.0.2.10\n", 10, 1 << 20);
	assert_int_equal(journal_text(f, 1, text, sizeof(text)), 0);
	step(f, 2, "b A 192.0.2.11\n", 10, 1 << 20);    /* new data, same serial */
	assert_int_equal(journal_text(f, 1, text, sizeof(text)), SP_ENOZONE);
}

static void
a_step_larger_than_the_size_limit_is_not_kept(void **state)
{
	struct fixture *f = *state;
	char text[512];
	step(f, 2, "a A 192.0.2.10\n", 10, 16);
	assert_int_equal(journal_text(f, 1, text, sizeof(text)), SP_ENOZONE);
}

static void
secondary_state_is_stored_and_read_back(void **state)
{
	struct fixture *f = *state;
	char buf[64] = "", want[] = "serial 7, next refresh at noon";
	size_t len = 0;
	assert_int_equal(zones_xfr_state_get(f->db, APEX, buf, sizeof(buf), &len), SP_ENOZONE);
	assert_int_equal(zones_xfr_state_put(f->db, APEX, want, sizeof(want)), 0);
	assert_int_equal(zones_xfr_state_get(f->db, APEX, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_string_equal(buf, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(the_walk_gives_every_node_of_one_version, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(
			a_step_holds_the_deleted_and_added_records_between_the_soas, setup, teardown),
		cmocka_unit_test_setup_teardown(steps_chain_and_a_changed_ttl_is_delete_and_add,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(old_steps_are_trimmed_to_the_versions_kept, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(
			a_version_compiled_behind_the_journals_back_breaks_the_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(a_step_larger_than_the_size_limit_is_not_kept, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(a_step_kept_after_the_compile_still_chains, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(the_step_commits_with_the_zone_or_not_at_all, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(a_recompile_with_the_same_serial_clears_the_journal,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(secondary_state_is_stored_and_read_back, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
