/* errors.h - Signpost's own error codes. Functions return 0 for success and a negative
 * value for failure: -errno, a libuv UV_E* code, or one of the SP_E* codes below. */
#ifndef SP_ERRORS_H
#define SP_ERRORS_H

enum {
	SP_EZONE = -1001,       /* a zone file failed validation (details went to the report) */
	SP_ESCHEMA = -1002,     /* the database has a schema version this build does not know */
	SP_ESTOREFULL = -1003,  /* the LMDB map is full */
	SP_ESTORE = -1004,      /* any other LMDB failure */
	SP_ECONFIG = -1005,     /* the configuration is invalid (details were logged) */
	SP_ENOZONE = -1006,     /* no such zone in the database */
	SP_EPARSE = -1007,      /* malformed input */
	SP_EBUSY = -1008,       /* another writer holds the resource */
};

/* Returns a static description of rc (any negative code above, -errno or UV_E*). */
const char *sp_strerror(int rc);

#endif
