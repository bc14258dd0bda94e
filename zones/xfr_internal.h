/* xfr_internal.h - what zones/xfr.c and zones/journal.c share: the transfer iterator
 * and the handle of the `xfr` DBI (docs/lmdb-schema.md). Nothing outside zones/. */
#ifndef SP_ZONES_XFR_INTERNAL_H
#define SP_ZONES_XFR_INTERNAL_H

#include "zones/internal.h"

struct zones_iter {
	struct zones_db *db;
	MDB_txn *txn;
	bool own_txn;            /* false for zones_iter_new_at(): the base's transaction */
	MDB_cursor *cur;
	struct zones_zone zone;
	struct zones_rrset soa;
	uint8_t prefix[ZONES_ID_LEN];
	bool started, done;
};

/* Key prefixes in the `xfr` DBI. */
#define XFR_KEY_JOURNAL 'j'
#define XFR_KEY_STATE 's'

/* The `xfr` DBI of db, or false when it was never created (zones_journal_init()). */
bool zones__xfr_dbi(struct zones_db *db, MDB_dbi *dbi);

#endif
