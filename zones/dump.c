/* dump.c - writes a stored zone back out as a master file: the SOA first, then every
 * record in canonical owner order (RFC 4034 6.1), one record a line, absolute names,
 * formatted by ldns so that ldns-read-zone (and the other tools) read it back.
 * Runs in tools (signpost-zone dump), never on the answer path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "lib/errors.h"
#include "zones/internal.h"

/* True when a name in the RDATA of rr holds a '"', which ldns would print bare. */
static bool
quote_in_names(const ldns_rr *rr)
{
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		if (ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME &&
		    memchr(ldns_rdf_data(f), '"', ldns_rdf_size(f)) != NULL)
			return true;
	}
	return false;
}

/* Prints one record given as owner + RR header fields + RDATA. */
static int
print_rr(FILE *out, const uint8_t *owner, uint16_t type, uint32_t ttl, const uint8_t *rd,
         uint16_t rdlen)
{
	uint8_t wire[DNAME_MAXLEN + 10 + 65535];
	size_t ol = dname_len(owner), pos = 0;
	ldns_rr *rr = NULL;

	memcpy(wire, owner, ol);
	uint8_t *p = wire + ol;
	p[0] = (uint8_t)(type >> 8);
	p[1] = (uint8_t)type;
	p[2] = 0;
	p[3] = 1;                   /* IN */
	p[4] = (uint8_t)(ttl >> 24);
	p[5] = (uint8_t)(ttl >> 16);
	p[6] = (uint8_t)(ttl >> 8);
	p[7] = (uint8_t)ttl;
	p[8] = (uint8_t)(rdlen >> 8);
	p[9] = (uint8_t)rdlen;
	memcpy(p + 10, rd, rdlen);
	if (ldns_wire2rr(&rr, wire, ol + 10 + rdlen, &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
		return SP_ESTORE;
	char *line = ldns_rr2str(rr);
	char *hdr = line ? strchr(line, '\t') : NULL;
	if (hdr == NULL) {
		free(line);
		ldns_rr_free(rr);
		return line ? SP_ESTORE : -ENOMEM;
	}
	/* ldns 1.8.3 prints '"', '$' and '@' inside names as they are, and reads them back
	 * as a quote, a directive or the origin: the owner is written by dname_to_str(),
	 * which escapes them (RFC 1035 5.1), and so are names in the RDATA when needed. */
	char name[4 * DNAME_MAXLEN + 2];
	fputs(dname_to_str(owner, name, sizeof(name)), out);
	if (!quote_in_names(rr)) {
		fputs(hdr, out);
	} else {
		const char *rdata = hdr;
		for (int tabs = 0; *rdata != 0 && tabs < 4; rdata++)
			tabs += *rdata == '\t';         /* TTL, class and type, as ldns wrote them */
		fwrite(hdr, 1, (size_t)(rdata - hdr), out);
		for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
			const ldns_rdf *f = ldns_rr_rdf(rr, i);
			if (i > 0)
				fputc(' ', out);
			if (ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME) {
				fputs(dname_to_str(ldns_rdf_data(f), name, sizeof(name)), out);
			} else {
				char *t = ldns_rdf2str(f);
				fputs(t ? t : "", out);
				free(t);
			}
		}
		fputc('\n', out);
	}
	free(line);
	ldns_rr_free(rr);
	return ferror(out) ? -EIO : 0;
}

static int
print_rrset(FILE *out, const uint8_t *owner, const struct zones_rrset *rr)
{
	const uint8_t *p = rr->rdata, *end = rr->rdata + rr->len;
	for (unsigned i = 0; i < rr->count && p + 2 <= end; i++) {
		uint16_t rdlen = (uint16_t)(p[0] << 8 | p[1]);
		if (p + 2 + rdlen > end)
			return SP_ESTORE;
		int rc = print_rr(out, owner, rr->type, rr->ttl, p + 2, rdlen);
		if (rc != 0)
			return rc;
		p += 2 + rdlen;
	}
	return 0;
}

static int
dump_nodes(struct zones_db *db, MDB_txn *txn, const struct zones_zone *z, FILE *out)
{
	MDB_cursor *cur;
	uint8_t prefix[ZONES_ID_LEN] = {z->id >> 24, z->id >> 16, z->id >> 8, z->id};
	MDB_val k = {sizeof(prefix), prefix}, v;
	int rc = mdb_cursor_open(txn, db->nodes, &cur);
	if (rc != 0)
		return zones__mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < ZONES_ID_LEN || memcmp(k.mv_data, prefix, ZONES_ID_LEN) != 0)
			break;
		uint8_t owner[DNAME_MAXLEN];
		struct zones_node node;
		struct zones_rrset rr;
		size_t pos = 0;
		if (dname_from_key((const uint8_t *)k.mv_data + ZONES_ID_LEN,
		                   k.mv_size - ZONES_ID_LEN, owner) == 0 ||
		    !zones__node_decode(&v, &node)) {
			rc = SP_ESTORE;
			goto out;
		}
		while (zones_node_next(&node, &pos, &rr)) {
			if ((node.flags & ZONES_NODE_APEX) && rr.type == LDNS_RR_TYPE_SOA)
				continue;   /* printed first */
			if ((rc = print_rrset(out, owner, &rr)) != 0)
				goto out;
		}
	}
	rc = rc == MDB_NOTFOUND ? 0 : zones__mdb_err(rc);
out:
	mdb_cursor_close(cur);
	return rc;
}

int
zones_dump(struct zones_db *db, const char *origin, FILE *out)
{
	uint8_t name[DNAME_MAXLEN], key[DNAME_KEY_MAXLEN + 1];
	MDB_txn *txn = NULL;
	struct zones_zone z;
	struct zones_rrset soa;

	if (dname_from_str(origin, name) == 0)
		return SP_EPARSE;
	size_t kl = zones__zone_key(name, key);
	int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return zones__mdb_err(rc);
	MDB_val k = {kl, key}, v;
	rc = mdb_get(txn, db->zones, &k, &v);
	if (rc != 0) {
		rc = zones__mdb_err(rc);
		goto out;
	}
	if (!zones__zone_decode(&v, &z, &soa, NULL)) {
		rc = SP_ESTORE;
		goto out;
	}
	rc = print_rrset(out, z.apex, &soa);
	if (rc == 0)
		rc = dump_nodes(db, txn, &z, out);
	if (rc == 0 && fflush(out) != 0)
		rc = -errno;
out:
	mdb_txn_abort(txn);
	return rc;
}
