/* park.h - parking a snapshot between batches (answer path, worker threads): the read
 * transaction stays open after a batch so that the next zones_snapshot_begin() resumes
 * it when nothing was committed since, instead of renewing it. A renewal costs more than
 * answering a query: LMDB marks every named DBI stale in a renewed transaction, and the
 * first cursor use of each looks its record up in the main DBI again.
 *
 * These belong beside zones_snapshot_begin() in zones/zones.h (the API header, not this
 * engineer's to edit); they live here until they move. */
#ifndef SIGNPOST_ZONES_PARK_H
#define SIGNPOST_ZONES_PARK_H

#include "zones/zones.h"

/* Ends the batch's use of the snapshot like zones_snapshot_end(): nothing it returned
 * may be used after this. The transaction stays open (it pins the version it sees, so
 * the caller must zones_snapshot_release() it when idle; zones_snapshot_begin() and
 * zones_snapshot_end() release it too). */
void zones_snapshot_park(struct zones_snapshot *s);
/* Closes (resets) a parked transaction; no-op otherwise. */
void zones_snapshot_release(struct zones_snapshot *s);

#endif
