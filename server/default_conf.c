/* default_conf.c - what signpostd serves when started without -c: the example zone
 * example.test. (RFC 6761 reserves .test) embedded in the binary, a GSLB pool behind
 * app.example.test. whose members are loopback addresses, and the dig commands printed
 * at start so that the first run shows something working.
 *
 * Main thread only. The zone text is written to <state-dir>/example.test.zone when that
 * file is absent (server/reload.c), so a user can edit it and send SIGHUP. */
#include <stdio.h>

#include "server/config.h"

const char daemon_example_zone_name[] = "example.test.";

/* Addresses come from the documentation ranges (RFC 5737, RFC 3849). */
const char daemon_example_zone[] =
	"; example.test. - the zone signpostd serves when started without a configuration.\n"
	"; Edit it, then send SIGHUP (kill -HUP <pid>) to load the new version.\n"
	"$ORIGIN example.test.\n"
	"$TTL 3600\n"
	"@        IN SOA   ns1.example.test. hostmaster.example.test. (\n"
	"                  2026010101 ; serial\n"
	"                  7200       ; refresh\n"
	"                  3600       ; retry\n"
	"                  1209600    ; expire\n"
	"                  300 )      ; negative-caching TTL (RFC 2308)\n"
	"         IN NS    ns1\n"
	"         IN NS    ns2\n"
	"         IN MX    10 mail\n"
	"         IN TXT   \"v=spf1 mx -all\"\n"
	"         IN A     192.0.2.1\n"
	"         IN AAAA  2001:db8::1\n"
	"ns1      IN A     192.0.2.53\n"
	"ns1      IN AAAA  2001:db8::53\n"
	"ns2      IN A     198.51.100.53\n"
	"www      IN A     192.0.2.10\n"
	"www      IN AAAA  2001:db8::10\n"
	"mail     IN A     192.0.2.25\n"
	"ftp      IN CNAME www\n"
	"*.apps   IN A     192.0.2.80\n"
	"         IN TXT   \"any name below apps.example.test. matches this wildcard\"\n"
	"info     IN TXT   \"Signpost example zone\" \"served from LMDB\"\n"
	"; app is dynamic (GSLB, see the built-in gslb: section): A and AAAA come from a\n"
	"; pool, other types from here\n"
	"app      IN TXT   \"dynamic name: A/AAAA answered by the GSLB pool 'app'\"\n"
	"; a delegation, with glue for the in-bailiwick name server\n"
	"sub      IN NS    ns.sub\n"
	"ns.sub   IN A     203.0.113.53\n";

/* The built-in gslb: section. Loopback addresses only: a demo must never steer anyone
 * to a real host. Two members are always up (no check); the third is checked by TCP
 * against this daemon's own listener on 127.0.0.1@5300, so it is up while we serve. */
const char daemon_example_gslb[] =
	"gslb:\n"
	"  checks:\n"
	"    self-tcp: { type: tcp, port: 5300, interval: 2s, timeout: 1s, rise: 1, fall: 2 }\n"
	"  pools:\n"
	"    app:\n"
	"      ttl: 10\n"
	"      max-answers: 2\n"
	"      members:\n"
	"        - { name: one, address: 127.0.0.10, address6: '::1', weight: 2 }\n"
	"        - { name: two, address: 127.0.0.11, weight: 1 }\n"
	"        - { name: three, address: 127.0.0.12, weight: 1, check: self-tcp,\n"
	"            check-address: 127.0.0.1 }\n"
	"  names:\n"
	"    - { name: app.example.test., pool: app, policy: weighted }\n";

void
daemon_conf_print_try(FILE *f, const struct daemon_conf *c)
{
	char host[80];
	unsigned port = CONF_DEFAULT_DEV_PORT;

	/* The first listen address: "ADDR@PORT". */
	snprintf(host, sizeof(host), "%s", c->nlisten > 0 ? c->listen[0].text : "127.0.0.1@5300");
	char *at = host;
	while (*at != '\0' && *at != '@')
		at++;
	if (*at == '@') {
		*at = '\0';
		sscanf(at + 1, "%u", &port);
	}
	fprintf(f,
	        "Signpost is serving the example zone %s (file %s).\n"
	        "Try:\n"
	        "  dig @%s -p %u www.example.test A\n"
	        "  dig @%s -p %u www.example.test AAAA\n"
	        "  dig @%s -p %u example.test SOA\n"
	        "  dig @%s -p %u example.test MX\n"
	        "  dig @%s -p %u ftp.example.test A        # CNAME to www\n"
	        "  dig @%s -p %u anything.apps.example.test A   # wildcard\n"
	        "  dig @%s -p %u info.example.test TXT\n"
	        "  dig @%s -p %u host.sub.example.test A   # referral to sub.example.test\n"
	        "  dig @%s -p %u +tcp www.example.test A\n"
	        "GSLB (pool 'app': 127.0.0.10 weight 2, .11, and .12 checked by TCP on %s@%u):\n"
	        "  dig @%s -p %u app.example.test A        # two of three, by weight\n"
	        "  dig @%s -p %u app.example.test AAAA\n"
	        "  dig @%s -p %u app.example.test TXT      # static data at a dynamic name\n"
	        "  dig @%s -p %u app.example.test A +subnet=198.51.100.0/24   # ECS echoed\n",
	        daemon_example_zone_name, c->nzones > 0 ? c->zones[0].file : "?",
	        host, port, host, port, host, port, host, port, host, port, host, port, host, port,
	        host, port, host, port, host, port, host, port, host, port, host, port, host, port);
	fflush(f);
}

/* The built-in default's resolver: section (a YAML mapping): recursion for localhost only
 * (the resolver's default ACL) from the IANA root servers, validating with the IANA root
 * trust anchor. The addresses are those of /usr/share/dns/root.hints and the DS records
 * those of /usr/share/dns/root.ds in Debian's dns-root-data 2024071801 (KSK-2017, key
 * tag 20326, and KSK-2024, key tag 38696): embedded, so the daemon needs no package at
 * run time; priming (RFC 8109) replaces the hints with the live root NS set. */
const char daemon_default_resolver[] =
	"enable: true\n"
	"root-hints:\n"
	"  - \"198.41.0.4\"   # a.root-servers.net. A\n"
	"  - \"2001:503:ba3e::2:30\"   # a.root-servers.net. AAAA\n"
	"  - \"170.247.170.2\"   # b.root-servers.net. A\n"
	"  - \"2801:1b8:10::b\"   # b.root-servers.net. AAAA\n"
	"  - \"192.33.4.12\"   # c.root-servers.net. A\n"
	"  - \"2001:500:2::c\"   # c.root-servers.net. AAAA\n"
	"  - \"199.7.91.13\"   # d.root-servers.net. A\n"
	"  - \"2001:500:2d::d\"   # d.root-servers.net. AAAA\n"
	"  - \"192.203.230.10\"   # e.root-servers.net. A\n"
	"  - \"2001:500:a8::e\"   # e.root-servers.net. AAAA\n"
	"  - \"192.5.5.241\"   # f.root-servers.net. A\n"
	"  - \"2001:500:2f::f\"   # f.root-servers.net. AAAA\n"
	"  - \"192.112.36.4\"   # g.root-servers.net. A\n"
	"  - \"2001:500:12::d0d\"   # g.root-servers.net. AAAA\n"
	"  - \"198.97.190.53\"   # h.root-servers.net. A\n"
	"  - \"2001:500:1::53\"   # h.root-servers.net. AAAA\n"
	"  - \"192.36.148.17\"   # i.root-servers.net. A\n"
	"  - \"2001:7fe::53\"   # i.root-servers.net. AAAA\n"
	"  - \"192.58.128.30\"   # j.root-servers.net. A\n"
	"  - \"2001:503:c27::2:30\"   # j.root-servers.net. AAAA\n"
	"  - \"193.0.14.129\"   # k.root-servers.net. A\n"
	"  - \"2001:7fd::1\"   # k.root-servers.net. AAAA\n"
	"  - \"199.7.83.42\"   # l.root-servers.net. A\n"
	"  - \"2001:500:9f::42\"   # l.root-servers.net. AAAA\n"
	"  - \"202.12.27.33\"   # m.root-servers.net. A\n"
	"  - \"2001:dc3::35\"   # m.root-servers.net. AAAA\n"
	"trust-anchor: |\n"
	"  . IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
	"  . IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16\n";
