/* errors.c - text for error codes (any thread). */
#include <string.h>
#include <uv.h>

#include "errors.h"

const char *
sp_strerror(int rc)
{
	switch (rc) {
	case 0:
		return "success";
	case SP_EZONE:
		return "zone file has errors";
	case SP_ESCHEMA:
		return "database schema version not supported";
	case SP_ESTOREFULL:
		return "database map is full (raise the map size)";
	case SP_ESTORE:
		return "database error";
	case SP_ECONFIG:
		return "invalid configuration";
	case SP_ENOZONE:
		return "no such zone";
	case SP_EPARSE:
		return "malformed input";
	case SP_EBUSY:
		return "resource busy";
	}
	if (rc < 0 && rc > -4096)
		return uv_strerror(rc);  /* UV_E* values are -errno on Unix */
	return "unknown error";
}
