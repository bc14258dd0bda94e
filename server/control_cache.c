/* control_cache.c - `signpostctl cache flush [NAME]`: drops the resolver cache's entries of
 * NAME (every type), or everything. Main thread, like every control command; the work is
 * resolver_cache_flush() through server/recurse.c (shard by shard: workers keep
 * answering). */
#include <errno.h>

#include "lib/errors.h"
#include "server/control.h"
#include "server/recurse.h"

void
control__cache_flush(struct req *r)
{
	char msg[512];
	size_t n = 0;
	const char *name = r->argc >= 3 ? r->argv[2] : NULL;

	if (recurse_flush(name, &n, msg, sizeof(msg)) != 0) {
		control__refuse(r, "%s", msg);
		return;
	}
	if (r->json) {
		ops_buf_printf(r->out, "{\"flushed\": %zu, \"name\": ", n);
		ops_buf_json_str(r->out, name);
		ops_buf_printf(r->out, "}\n");
	} else {
		ops_buf_printf(r->out, "%s\n", msg);
	}
}
