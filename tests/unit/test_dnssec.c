/* test_dnssec.c - resolver/ DNSSEC validation: RRset signatures, DS->DNSKEY, NSEC and
 * NSEC3 denial, aggressive NSEC, trust anchors, KeyTrap/NSEC3 work caps.
 *
 * Fixtures are made at test time: keys generated and RRsets signed with ldns
 * (ldns_key_new_frm_algorithm, ldns_sign_public), NSEC3 owner names hashed with ldns'
 * own ldns_nsec3_hash_name(), so the validator is checked against an independent signer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/errors.h"
#include "resolver/dnssec.h"

static uint32_t now;

/* A zone key pair: the ldns signing key and its DNSKEY record. */
struct zkey {
	ldns_key *k;
	ldns_rr *dnskey;
};

static struct zkey
key_make(ldns_signing_algorithm alg, uint16_t bits, const char *owner, uint16_t flags)
{
	struct zkey z;
	z.k = ldns_key_new_frm_algorithm(alg, bits);
	assert_non_null(z.k);
	ldns_key_set_pubkey_owner(z.k, ldns_dname_new_frm_str(owner));
	ldns_key_set_flags(z.k, flags);
	ldns_key_set_use(z.k, true);
	ldns_key_set_inception(z.k, now - 3600);
	ldns_key_set_expiration(z.k, now + 86400);
	z.dnskey = ldns_key2rr(z.k);
	assert_non_null(z.dnskey);
	ldns_key_set_keytag(z.k, ldns_calc_keytag(z.dnskey));
	return z;
}

static void
key_free(struct zkey *z)
{
	ldns_key_deep_free(z->k);
	ldns_rr_free(z->dnskey);
}

/* Records from text, one per line. */
static ldns_rr_list *
rrs(const char *text)
{
	ldns_rr_list *l = ldns_rr_list_new();
	char *copy = strdup(text), *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ldns_rr *rr = NULL;
		ldns_status s = ldns_rr_new_frm_str(&rr, line, 300, NULL, NULL);
		if (s != LDNS_STATUS_OK)
			fail_msg("bad fixture record '%s': %s", line, ldns_get_errorstr_by_id(s));
		ldns_rr_list_push_rr(l, rr);
	}
	free(copy);
	return l;
}

/* RRSIGs over rrset by the given keys (NULL-terminated), with the keys' validity. */
static ldns_rr_list *
sign(ldns_rr_list *rrset, struct zkey *k, ...)
{
	ldns_key_list *kl = ldns_key_list_new();
	va_list ap;
	va_start(ap, k);
	for (; k != NULL; k = va_arg(ap, struct zkey *))
		ldns_key_list_push_key(kl, k->k);
	va_end(ap);
	ldns_rr_list *sigs = ldns_sign_public(rrset, kl);
	assert_non_null(sigs);
	ldns_key_list_set_key_count(kl, 0);     /* the keys stay with their owners */
	ldns_key_list_free(kl);
	return sigs;
}

static ldns_rr_list *
keyset(struct zkey *k, ...)
{
	ldns_rr_list *l = ldns_rr_list_new();
	va_list ap;
	va_start(ap, k);
	for (; k != NULL; k = va_arg(ap, struct zkey *))
		ldns_rr_list_push_rr(l, ldns_rr_clone(k->dnskey));
	va_end(ap);
	return l;
}

static void
append(ldns_rr_list *to, const ldns_rr_list *from)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(from); i++)
		ldns_rr_list_push_rr(to, ldns_rr_clone(ldns_rr_list_rr(from, i)));
}

static ldns_rdf *
dn(const char *s)
{
	ldns_rdf *r = ldns_dname_new_frm_str(s);
	assert_non_null(r);
	return r;
}

static struct dnssec_config cfg;

static enum dnssec_result
verify(const ldns_rr_list *set, const ldns_rr_list *sigs, const ldns_rr_list *keys,
       struct dnssec_status *st)
{
	struct dnssec_budget b;
	dnssec_budget_init(&b);
	return dnssec_verify_rrset(&cfg, &b, set, sigs, keys, now, st);
}

/* --- RRset signatures ------------------------------------------------------------- */

static void
check_algorithm(ldns_signing_algorithm alg, uint16_t bits)
{
	struct zkey z = key_make(alg, bits, "example.", 256);
	ldns_rr_list *set = rrs("www.example. 300 IN A 192.0.2.1\nwww.example. 300 IN A 192.0.2.2");
	ldns_rr_list *sigs = sign(set, &z, NULL);
	ldns_rr_list *keys = keyset(&z, NULL);
	struct dnssec_status st;

	assert_int_equal(verify(set, sigs, keys, &st), DNSSEC_SECURE);
	assert_false(st.wildcard);
	assert_true(st.ttl_limit > 0 && st.ttl_limit <= 300);
	/* The same signature must not verify other data. */
	ldns_rdf_deep_free(ldns_rr_set_rdf(ldns_rr_list_rr(set, 1),
	                   ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "192.0.2.3"), 0));
	assert_int_equal(verify(set, sigs, keys, &st), DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_BOGUS);
	assert_non_null(strstr(st.reason, "does not verify"));
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_deep_free(keys);
	key_free(&z);
}

static void
rsasha256_rrset_is_secure_and_tampered_rdata_bogus(void **state)
{
	(void)state;
	check_algorithm(LDNS_SIGN_RSASHA256, 1024);
}

static void
rsasha512_rrset_is_secure_and_tampered_rdata_bogus(void **state)
{
	(void)state;
	check_algorithm(LDNS_SIGN_RSASHA512, 1024);
}

static void
ecdsap256_rrset_is_secure_and_tampered_rdata_bogus(void **state)
{
	(void)state;
	check_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);
}

static void
ecdsap384_rrset_is_secure_and_tampered_rdata_bogus(void **state)
{
	(void)state;
	check_algorithm(LDNS_SIGN_ECDSAP384SHA384, 384);
}

static void
ed25519_rrset_is_secure_and_tampered_rdata_bogus(void **state)
{
	(void)state;
	check_algorithm(LDNS_SIGN_ED25519, 256);
}

static void
ed448_rrset_is_secure_and_tampered_rdata_bogus(void **state)
{
	(void)state;
	check_algorithm(LDNS_SIGN_ED448, 456);
}

/* Fixture for the tests below: one ECDSA zone key of example. */
struct fx {
	struct zkey ksk, zsk;
	ldns_rr_list *keys;     /* DNSKEY RRset */
};

static int
fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->ksk = key_make(LDNS_SIGN_ECDSAP256SHA256, 256, "example.", 257);
	f->zsk = key_make(LDNS_SIGN_ECDSAP256SHA256, 256, "example.", 256);
	f->keys = keyset(&f->ksk, &f->zsk, NULL);
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;
	key_free(&f->ksk);
	key_free(&f->zsk);
	ldns_rr_list_deep_free(f->keys);
	free(f);
	return 0;
}

static void
canonical_form_ignores_case_order_and_duplicates(void **state)
{
	struct fx *f = *state;
	ldns_rr_list *set = rrs("Mail.Example. 300 IN MX 10 MX1.Example.\n"
	                        "Mail.Example. 300 IN MX 5 mx2.example.");
	ldns_rr_list *sigs = sign(set, &f->zsk, NULL);
	/* Same RRset as a resolver may receive it: other case, other order, a duplicate,
	 * a decremented TTL. RFC 4034 6.2/6.3 make all of these the same signed data. */
	ldns_rr_list *got = rrs("mail.example. 120 IN MX 5 MX2.EXAMPLE.\n"
	                        "MAIL.example. 120 IN MX 10 mx1.example.\n"
	                        "mail.example. 120 IN MX 5 mx2.example.");
	struct dnssec_status st;
	assert_int_equal(verify(got, sigs, f->keys, &st), DNSSEC_SECURE);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_deep_free(got);
}

static void
expired_signature_is_bogus_with_ede_7(void **state)
{
	struct fx *f = *state;
	ldns_rr_list *set = rrs("www.example. 300 IN A 192.0.2.1");
	ldns_key_set_inception(f->zsk.k, now - 86400);
	ldns_key_set_expiration(f->zsk.k, now - 3600);
	ldns_rr_list *sigs = sign(set, &f->zsk, NULL);
	ldns_key_set_inception(f->zsk.k, now - 3600);
	ldns_key_set_expiration(f->zsk.k, now + 86400);
	struct dnssec_status st;

	assert_int_equal(verify(set, sigs, f->keys, &st), DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_SIG_EXPIRED);
	assert_non_null(strstr(st.reason, "expired"));
	/* Within the allowed clock skew it still validates. */
	cfg.skew = 7200;
	assert_int_equal(verify(set, sigs, f->keys, &st), DNSSEC_SECURE);
	dnssec_config_default(&cfg);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
}

static void
signature_not_yet_valid_is_bogus_with_ede_8(void **state)
{
	struct fx *f = *state;
	ldns_rr_list *set = rrs("www.example. 300 IN A 192.0.2.1");
	ldns_key_set_inception(f->zsk.k, now + 3600);
	ldns_key_set_expiration(f->zsk.k, now + 86400);
	ldns_rr_list *sigs = sign(set, &f->zsk, NULL);
	ldns_key_set_inception(f->zsk.k, now - 3600);
	struct dnssec_status st;

	assert_int_equal(verify(set, sigs, f->keys, &st), DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_SIG_NOT_YET_VALID);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
}

static void
validity_window_uses_serial_arithmetic_across_2106(void **state)
{
	struct fx *f = *state;
	/* RFC 4034 3.1.5: 32-bit times wrap; a window around the wrap is still a window. */
	uint32_t saved = now;
	now = 0xffffff00u;
	ldns_key_set_inception(f->zsk.k, now - 3600);
	ldns_key_set_expiration(f->zsk.k, now + 86400);     /* wraps past zero */
	ldns_rr_list *set = rrs("www.example. 300 IN A 192.0.2.1");
	ldns_rr_list *sigs = sign(set, &f->zsk, NULL);
	struct dnssec_status st;
	assert_int_equal(verify(set, sigs, f->keys, &st), DNSSEC_SECURE);
	now = saved;
	ldns_key_set_inception(f->zsk.k, now - 3600);
	ldns_key_set_expiration(f->zsk.k, now + 86400);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
}

static void
signature_by_an_unknown_key_tag_is_bogus_with_ede_9(void **state)
{
	struct fx *f = *state;
	struct zkey other = key_make(LDNS_SIGN_ECDSAP256SHA256, 256, "example.", 256);
	ldns_rr_list *set = rrs("www.example. 300 IN A 192.0.2.1");
	ldns_rr_list *sigs = sign(set, &other, NULL);
	struct dnssec_status st;

	assert_int_equal(verify(set, sigs, f->keys, &st), DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_DNSKEY_MISSING);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
	key_free(&other);
}

static void
key_without_zone_flag_is_not_used(void **state)
{
	(void)state;
	struct zkey z = key_make(LDNS_SIGN_ED25519, 256, "example.", 256);
	ldns_rr_list *set = rrs("www.example. 300 IN A 192.0.2.1");
	ldns_rr_list *sigs = sign(set, &z, NULL);
	ldns_rr_list *keys = keyset(&z, NULL);
	ldns_rr *k = ldns_rr_list_rr(keys, 0);
	uint16_t tag = ldns_calc_keytag(k);
	/* Clear the Zone Key flag (RFC 4034 2.1.1) and add the 0x100 back to the first key
	 * octet so the key tag stays the same: were the key tried, it would fail as a bad
	 * signature (EDE 6); not being a zone key it is not even a candidate (EDE 9). */
	ldns_rdf_deep_free(ldns_rr_set_rdf(k, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 0), 0));
	ldns_rdf_data(ldns_rr_rdf(k, 3))[0]++;
	assert_int_equal(ldns_calc_keytag(k), tag);
	struct dnssec_status st;
	assert_int_equal(verify(set, sigs, keys, &st), DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_DNSKEY_MISSING);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_deep_free(keys);
	key_free(&z);
}

static void
missing_rrsig_is_bogus_with_ede_10(void **state)
{
	struct fx *f = *state;
	ldns_rr_list *set = rrs("www.example. 300 IN A 192.0.2.1");
	/* An RRSIG for another type at the same name does not count. */
	ldns_rr_list *other = rrs("www.example. 300 IN TXT \"x\"");
	ldns_rr_list *sigs = sign(other, &f->zsk, NULL);
	struct dnssec_status st;

	assert_int_equal(verify(set, sigs, f->keys, &st), DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_RRSIGS_MISSING);
	assert_int_equal(verify(set, NULL, f->keys, &st), DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_RRSIGS_MISSING);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(other);
	ldns_rr_list_deep_free(sigs);
}

static void
signer_outside_the_owner_is_bogus(void **state)
{
	(void)state;
	/* A key of other.example. must not sign www.example. (RFC 4035 5.3.1). */
	struct zkey z = key_make(LDNS_SIGN_ED25519, 256, "other.example.", 256);
	ldns_rr_list *set = rrs("www.example. 300 IN A 192.0.2.1");
	ldns_rr_list *sigs = sign(set, &z, NULL);
	ldns_rr_list *keys = keyset(&z, NULL);
	struct dnssec_status st;
	assert_int_equal(verify(set, sigs, keys, &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_deep_free(keys);
	key_free(&z);
}

static void
rsasha1_validates_by_default_and_is_insecure_when_disabled(void **state)
{
	struct fx *f = *state;
	struct zkey z = key_make(LDNS_SIGN_RSASHA1, 1024, "example.", 256);
	ldns_rr_list *set = rrs("www.example. 300 IN A 192.0.2.1");
	ldns_rr_list *sigs = sign(set, &z, NULL);
	ldns_rr_list *keys = keyset(&z, NULL);
	struct dnssec_status st;

	assert_int_equal(verify(set, sigs, keys, &st), DNSSEC_SECURE);
	cfg.allow_sha1 = false;
	/* The zone has no key we validate: treated as unsigned (RFC 4035 5.2). */
	assert_int_equal(verify(set, sigs, keys, &st), DNSSEC_INSECURE);
	assert_int_equal(st.ede, DNSSEC_EDE_UNSUPPORTED_ALG);
	/* Beside a key we do validate, SHA-1-only signatures mean the good ones are missing. */
	ldns_rr_list_push_rr(keys, ldns_rr_clone(f->zsk.dnskey));
	assert_int_equal(verify(set, sigs, keys, &st), DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_RRSIGS_MISSING);
	dnssec_config_default(&cfg);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_deep_free(keys);
	key_free(&z);
}

static void
ttl_limit_is_bounded_by_the_signature_expiration(void **state)
{
	struct fx *f = *state;
	ldns_rr_list *set = rrs("www.example. 86400 IN A 192.0.2.1");
	ldns_key_set_expiration(f->zsk.k, now + 100);
	ldns_rr_list *sigs = sign(set, &f->zsk, NULL);
	ldns_key_set_expiration(f->zsk.k, now + 86400);
	struct dnssec_status st;
	assert_int_equal(verify(set, sigs, f->keys, &st), DNSSEC_SECURE);
	assert_int_equal(st.ttl_limit, 100);    /* RFC 4035 5.3.3 */
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
}

static void
oversized_rsa_key_is_not_used(void **state)
{
	(void)state;
	/* An 8192-bit RSA key (above RFC 3110's 4096) would make each check slow; it is not
	 * a candidate (EDE 9), where a 1024-bit key of the same shape is tried (EDE 6). */
	for (int big = 0; big < 2; big++) {
		size_t mod = big ? 1024 : 128;
		uint8_t *rd = malloc(4 + mod);
		rd[0] = 3; rd[1] = 1; rd[2] = 0; rd[3] = 1;    /* exponent 65537 */
		for (size_t i = 4; i < 4 + mod; i++)
			rd[i] = (uint8_t)rand() | 0x80;
		char text[512];
		ldns_rr *k = ldns_rr_new();
		ldns_rr_set_type(k, LDNS_RR_TYPE_DNSKEY);
		ldns_rr_set_owner(k, dn("example."));
		ldns_rr_push_rdf(k, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 256));
		ldns_rr_push_rdf(k, ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8, 3));
		ldns_rr_push_rdf(k, ldns_native2rdf_int8(LDNS_RDF_TYPE_ALG, 8));
		ldns_rr_push_rdf(k, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_B64, 4 + mod, rd));
		ldns_rr_list *keys = ldns_rr_list_new();
		ldns_rr_list_push_rr(keys, k);
		uint16_t tag = ldns_calc_keytag(ldns_rr_list_rr(keys, 0));
		snprintf(text, sizeof(text), "www.example. 300 IN RRSIG A 8 2 300 %u %u %u example. "
		         "AAAA", now + 3600, now - 3600, tag);
		ldns_rr_list *sigs = rrs(text);
		ldns_rr_list *set = rrs("www.example. 300 IN A 192.0.2.1");
		struct dnssec_status st;
		assert_int_equal(verify(set, sigs, keys, &st), DNSSEC_BOGUS);
		assert_int_equal(st.ede, big ? DNSSEC_EDE_DNSKEY_MISSING : DNSSEC_EDE_BOGUS);
		ldns_rr_list_deep_free(keys);
		ldns_rr_list_deep_free(sigs);
		ldns_rr_list_deep_free(set);
		free(rd);
	}
}

/* --- DS -> DNSKEY ------------------------------------------------------------------ */

static enum dnssec_result
chain(struct fx *f, ldns_rr_list *trust, struct dnssec_status *st)
{
	ldns_rr_list *sigs = sign(f->keys, &f->ksk, NULL);
	struct dnssec_budget b;
	dnssec_budget_init(&b);
	enum dnssec_result r = dnssec_verify_dnskeys(&cfg, &b, trust, f->keys, sigs, now, st);
	ldns_rr_list_deep_free(sigs);
	return r;
}

static ldns_rr_list *
ds_of(struct zkey *k, ldns_hash h)
{
	ldns_rr_list *l = ldns_rr_list_new();
	ldns_rr *ds = ldns_key_rr2ds(k->dnskey, h);
	assert_non_null(ds);
	ldns_rr_list_push_rr(l, ds);
	return l;
}

static void
ds_sha256_and_sha384_vouch_for_the_dnskey_set(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *ds2 = ds_of(&f->ksk, LDNS_SHA256), *ds4 = ds_of(&f->ksk, LDNS_SHA384);
	assert_int_equal(chain(f, ds2, &st), DNSSEC_SECURE);
	assert_int_equal(chain(f, ds4, &st), DNSSEC_SECURE);
	/* A DS of the ZSK, which did not sign the DNSKEY set, does not. */
	ldns_rr_list *dsz = ds_of(&f->zsk, LDNS_SHA256);
	assert_int_equal(chain(f, dsz, &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(ds2);
	ldns_rr_list_deep_free(ds4);
	ldns_rr_list_deep_free(dsz);
}

static void
ds_digest_mismatch_is_bogus(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *ds = ds_of(&f->ksk, LDNS_SHA256);
	ldns_rdf_data(ldns_rr_rdf(ldns_rr_list_rr(ds, 0), 3))[5] ^= 0x01;
	assert_int_equal(chain(f, ds, &st), DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_DNSKEY_MISSING);
	ldns_rr_list_deep_free(ds);
}

static void
ds_with_only_unsupported_digest_is_insecure(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	char text[256];
	/* Digest type 3 (GOST) is not implemented: RFC 4035 5.2 says treat as unsigned. */
	snprintf(text, sizeof(text), "example. 300 IN DS %u 13 3 %064d", ldns_calc_keytag(f->ksk.dnskey), 0);
	ldns_rr_list *ds = rrs(text);
	assert_int_equal(chain(f, ds, &st), DNSSEC_INSECURE);
	assert_int_equal(st.ede, DNSSEC_EDE_UNSUPPORTED_DIGEST);
	ldns_rr_list_deep_free(ds);
	/* RSAMD5, DSA, DSA-NSEC3-SHA1 (RFC 8624 MUST NOT), GOST and an unknown algorithm give
	 * the same answer with EDE 1. */
	static const unsigned algs[] = { 1, 3, 6, 12, 253 };
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		snprintf(text, sizeof(text), "example. 300 IN DS %u %u 2 %064d",
		         ldns_calc_keytag(f->ksk.dnskey), algs[i], 0);
		ds = rrs(text);
		assert_int_equal(chain(f, ds, &st), DNSSEC_INSECURE);
		assert_int_equal(st.ede, DNSSEC_EDE_UNSUPPORTED_ALG);
		ldns_rr_list_deep_free(ds);
	}
}

static void
sha1_ds_is_ignored_next_to_a_sha256_ds(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	/* A good SHA-1 DS beside a SHA-256 DS that matches nothing: RFC 4509 3 says the
	 * SHA-1 one is ignored, so the set is bogus. Alone, SHA-1 validates (RFC 8624). */
	ldns_rr_list *ds = ds_of(&f->ksk, LDNS_SHA1);
	assert_int_equal(chain(f, ds, &st), DNSSEC_SECURE);
	ldns_rr_list *ds2 = ds_of(&f->zsk, LDNS_SHA256);
	append(ds, ds2);
	assert_int_equal(chain(f, ds, &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(ds);
	ldns_rr_list_deep_free(ds2);
}

static void
dnskey_trust_anchor_vouches_for_the_dnskey_set(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *ta = keyset(&f->ksk, NULL);
	assert_int_equal(chain(f, ta, &st), DNSSEC_SECURE);
	ldns_rr_list_deep_free(ta);
	struct zkey other = key_make(LDNS_SIGN_ECDSAP256SHA256, 256, "example.", 257);
	ta = keyset(&other, NULL);
	assert_int_equal(chain(f, ta, &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(ta);
	key_free(&other);
}

/* --- trust anchors ------------------------------------------------------------------- */

static void
anchors_load_from_file_and_text_and_find_the_closest(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/test_dnssec_XXXXXX", err[256];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *fp = fdopen(fd, "w");
	ldns_rr *ds = ldns_key_rr2ds(f->ksk.dnskey, LDNS_SHA256);
	fprintf(fp, "; root-style anchor file\n$TTL 3600\n");
	ldns_rr_print(fp, ds);
	fclose(fp);

	struct dnssec_anchors *a = dnssec_anchors_new();
	assert_int_equal(dnssec_anchors_add_file(a, path, err, sizeof(err)), 0);
	char *key = ldns_rr2str(f->zsk.dnskey);
	assert_int_equal(dnssec_anchors_add_text(a, key, err, sizeof(err)), 0);
	assert_int_equal(dnssec_anchors_count(a), 2);

	ldns_rdf *n = dn("www.sub.EXAMPLE.");
	const ldns_rr_list *found = dnssec_anchors_find(a, n);
	assert_non_null(found);
	assert_int_equal(ldns_rr_list_rr_count(found), 2);
	struct dnssec_status st;
	assert_int_equal(chain(f, (ldns_rr_list *)found, &st), DNSSEC_SECURE);
	ldns_rdf *out = dn("example.org.");
	assert_null(dnssec_anchors_find(a, out));

	/* Bad input: a clear error naming file and line, and nothing changes. */
	fp = fopen(path, "w");
	fprintf(fp, "example. 3600 IN DS 1 13 2 00\nexample. 3600 IN A 192.0.2.1\n");
	fclose(fp);
	assert_int_equal(dnssec_anchors_add_file(a, path, err, sizeof(err)), SP_EPARSE);
	assert_non_null(strstr(err, ":2:"));
	assert_int_equal(dnssec_anchors_add_text(a, "example. IN DS garbage", err, sizeof(err)),
	                 SP_EPARSE);
	assert_true(dnssec_anchors_add_file(a, "/nonexistent/anchor", err, sizeof(err)) < 0);
	assert_int_equal(dnssec_anchors_count(a), 2);

	unlink(path);
	free(key);
	ldns_rr_free(ds);
	ldns_rdf_deep_free(n);
	ldns_rdf_deep_free(out);
	dnssec_anchors_free(a);
}

/* --- NSEC ---------------------------------------------------------------------------- */

/* example. holds: a (A), b.c (A; c is an empty non-terminal), sec (NS, DS), sub (NS,
 * insecure delegation), *.w (TXT). The NSEC chain in canonical order: */
static const char *nsec_chain[] = {
	"example. 300 IN NSEC a.example. SOA NS RRSIG NSEC DNSKEY",
	"a.example. 300 IN NSEC b.c.example. A RRSIG NSEC",
	"b.c.example. 300 IN NSEC sec.example. A RRSIG NSEC",
	"sec.example. 300 IN NSEC sub.example. NS DS RRSIG NSEC",
	"sub.example. 300 IN NSEC *.w.example. NS RRSIG NSEC",
	"*.w.example. 300 IN NSEC example. TXT RRSIG NSEC",
};
#define NSEC_N (sizeof(nsec_chain) / sizeof(nsec_chain[0]))

/* Authority section with the NSEC records whose index bits are set in mask, each with its
 * RRSIG by the zsk. */
static ldns_rr_list *
nsec_auth(struct fx *f, unsigned mask)
{
	ldns_rr_list *auth = ldns_rr_list_new();
	for (size_t i = 0; i < NSEC_N; i++) {
		if (!(mask & (1u << i)))
			continue;
		ldns_rr_list *one = rrs(nsec_chain[i]);
		ldns_rr_list *sig = sign(one, &f->zsk, NULL);
		append(auth, one);
		append(auth, sig);
		ldns_rr_list_deep_free(one);
		ldns_rr_list_deep_free(sig);
	}
	return auth;
}

static enum dnssec_result
deny(struct fx *f, enum dnssec_denial want, const char *qname, ldns_rr_type t, unsigned labels,
     const ldns_rr_list *auth, struct dnssec_status *st)
{
	struct dnssec_budget b;
	dnssec_budget_init(&b);
	ldns_rdf *q = dn(qname);
	enum dnssec_result r = dnssec_prove_denial(&cfg, &b, want, q, t, labels, auth,
	                                           f != NULL ? f->keys : NULL, now, st);
	ldns_rdf_deep_free(q);
	return r;
}

#define ALL 0xffffu
#define BIT(i) (1u << (i))

static void
nsec_nxdomain_needs_name_and_wildcard_proof(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	/* nx.example. falls between b.c and sec; *.example. between the apex and a. */
	ldns_rr_list *auth = nsec_auth(f, BIT(2) | BIT(0));
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "nx.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_SECURE);
	assert_int_equal(st.denial, DNSSEC_DENY_NXDOMAIN);
	ldns_rr_list_deep_free(auth);

	auth = nsec_auth(f, BIT(2));    /* the wildcard proof is missing */
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "nx.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_NSEC_MISSING);
	ldns_rr_list_deep_free(auth);

	auth = nsec_auth(f, BIT(0));    /* the name proof is missing */
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "nx.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_BOGUS);
	ldns_rr_list_deep_free(auth);
}

static void
nsec_nxdomain_fails_for_existing_names(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *auth = nsec_auth(f, ALL);
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "a.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_BOGUS);
	/* c.example. is an empty non-terminal: it exists. */
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "c.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_BOGUS);
	/* x.sub.example. is below a delegation: the parent's NSEC cannot deny it. */
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "x.sub.example.", LDNS_RR_TYPE_A, 0, auth,
	                      &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(auth);
}

static void
nsec_with_a_broken_signature_proves_nothing(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *auth = nsec_auth(f, BIT(2) | BIT(0));
	/* Change the next name of the b.c NSEC after signing: it now claims more. */
	ldns_rr *n = ldns_rr_list_rr(auth, 0);
	assert_int_equal(ldns_rr_get_type(n), LDNS_RR_TYPE_NSEC);
	ldns_rdf_deep_free(ldns_rr_set_rdf(n, dn("zzz.example."), 0));
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "x.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_BOGUS);
	assert_non_null(strstr(st.reason, "bogus"));
	ldns_rr_list_deep_free(auth);
}

static void
nsec_nodata_at_name_and_empty_non_terminal(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *auth = nsec_auth(f, BIT(1));
	assert_int_equal(deny(f, DNSSEC_DENY_NODATA, "a.example.", LDNS_RR_TYPE_AAAA, 0, auth, &st),
	                 DNSSEC_SECURE);
	assert_int_equal(st.denial, DNSSEC_DENY_NODATA);
	/* The NSEC lists A: no NODATA for A. */
	assert_int_equal(deny(f, DNSSEC_DENY_NODATA, "a.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_BOGUS);
	/* c.example. is between a and b.c: an empty non-terminal, NODATA for any type. */
	assert_int_equal(deny(f, DNSSEC_DENY_NODATA, "c.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_SECURE);
	ldns_rr_list_deep_free(auth);
	/* A parent-side NSEC at a delegation only denies DS (RFC 6840 4.4). */
	auth = nsec_auth(f, BIT(4));
	assert_int_equal(deny(f, DNSSEC_DENY_NODATA, "sub.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_BOGUS);
	ldns_rr_list_deep_free(auth);
}

static void
nsec_wildcard_nodata_needs_both_records(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	/* x.w.example. sorts after *.w.example.: covered by the last NSEC, which is also the
	 * wildcard's own NSEC (TXT only). */
	ldns_rr_list *auth = nsec_auth(f, BIT(5));
	assert_int_equal(deny(f, DNSSEC_DENY_NODATA, "x.w.example.", LDNS_RR_TYPE_AAAA, 0, auth,
	                      &st), DNSSEC_SECURE);
	assert_int_equal(deny(f, DNSSEC_DENY_NODATA, "x.w.example.", LDNS_RR_TYPE_TXT, 0, auth,
	                      &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(auth);
	/* The NSEC before the wildcard neither covers x.w.example. nor matches *.w. */
	auth = nsec_auth(f, BIT(4));
	assert_int_equal(deny(f, DNSSEC_DENY_NODATA, "x.w.example.", LDNS_RR_TYPE_AAAA, 0, auth,
	                      &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(auth);
}

static void
nsec_proves_insecure_delegation_only_without_ds(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *auth = nsec_auth(f, ALL);
	assert_int_equal(deny(f, DNSSEC_DENY_NO_DS, "sub.example.", 0, 0, auth, &st),
	                 DNSSEC_INSECURE);
	assert_int_equal(st.denial, DNSSEC_DENY_NO_DS);
	assert_int_equal(deny(f, DNSSEC_DENY_NO_DS, "sec.example.", 0, 0, auth, &st), DNSSEC_BOGUS);
	/* No NS at a.example.: no cut, and securely no DS. */
	assert_int_equal(deny(f, DNSSEC_DENY_NO_DS, "a.example.", 0, 0, auth, &st), DNSSEC_SECURE);
	assert_int_equal(st.denial, DNSSEC_DENY_NODATA);
	ldns_rr_list_deep_free(auth);
	/* The child's apex NSEC (SOA) cannot deny the parent's DS. */
	auth = rrs("sub.example. 300 IN NSEC a.sub.example. NS SOA RRSIG NSEC DNSKEY");
	ldns_rr_list *sig = sign(auth, &f->zsk, NULL);
	append(auth, sig);
	assert_int_equal(deny(f, DNSSEC_DENY_NO_DS, "sub.example.", 0, 0, auth, &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(auth);
	ldns_rr_list_deep_free(sig);
}

/* A TXT RRset at *.w.example. signed, then expanded to qname the way a server does. */
static void
wildcard_answer(struct fx *f, const char *qname, ldns_rr_list **set, ldns_rr_list **sigs)
{
	*set = rrs("*.w.example. 300 IN TXT \"wild\"");
	*sigs = sign(*set, &f->zsk, NULL);
	assert_int_equal(ldns_rdf2native_int8(ldns_rr_rrsig_labels(ldns_rr_list_rr(*sigs, 0))), 2);
	ldns_rr *rr = ldns_rr_list_rr(*set, 0), *sig = ldns_rr_list_rr(*sigs, 0);
	ldns_rdf_deep_free(ldns_rr_owner(rr));
	ldns_rr_set_owner(rr, dn(qname));
	ldns_rdf_deep_free(ldns_rr_owner(sig));
	ldns_rr_set_owner(sig, dn(qname));
}

static void
wildcard_expansion_is_accepted_only_with_the_proof(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *set, *sigs;
	wildcard_answer(f, "x.w.example.", &set, &sigs);
	assert_int_equal(verify(set, sigs, f->keys, &st), DNSSEC_SECURE);
	assert_true(st.wildcard);
	assert_int_equal(st.wildcard_labels, 2);

	ldns_rr_list *auth = nsec_auth(f, BIT(5));
	assert_int_equal(deny(f, DNSSEC_DENY_WILDCARD, "x.w.example.", LDNS_RR_TYPE_TXT,
	                      st.wildcard_labels, auth, &st), DNSSEC_SECURE);
	assert_int_equal(st.denial, DNSSEC_DENY_WILDCARD);
	ldns_rr_list_deep_free(auth);
	/* No proof: the RRset alone must not be accepted. */
	auth = nsec_auth(f, BIT(1));
	assert_int_equal(deny(f, DNSSEC_DENY_WILDCARD, "x.w.example.", LDNS_RR_TYPE_TXT, 2, auth,
	                      &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(auth);
	/* A proof for the wrong closest encloser (claims *.example. matched). */
	auth = nsec_auth(f, BIT(5));
	assert_int_equal(deny(f, DNSSEC_DENY_WILDCARD, "x.w.example.", LDNS_RR_TYPE_TXT, 1, auth,
	                      &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(auth);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
}

static void
wildcard_signature_on_an_existing_name_gets_no_proof(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *set, *sigs;
	/* An attacker replays the wildcard RRset as if a.example. (which exists) had it. */
	wildcard_answer(f, "q.a.example.", &set, &sigs);
	/* The RRSIG (labels 2) covers *.w.example.; rebuilt for q.a.example. the signed
	 * owner is *.a.example., so the signature cannot verify. */
	assert_int_equal(verify(set, sigs, f->keys, &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(sigs);
}

static void
aggressive_nsec_answers_from_cached_records(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *cache = nsec_auth(f, ALL);
	ldns_rdf *q = dn("y.example.");
	/* y.example. sorts after the w subtree: covered by the last NSEC; *.example. by the
	 * apex NSEC. No question needs to be sent. */
	assert_int_equal(dnssec_aggressive_nsec(&cfg, q, LDNS_RR_TYPE_A, cache, &st), DNSSEC_SECURE);
	assert_int_equal(st.denial, DNSSEC_DENY_NXDOMAIN);
	ldns_rdf_deep_free(q);
	q = dn("b.c.example.");
	assert_int_equal(dnssec_aggressive_nsec(&cfg, q, LDNS_RR_TYPE_MX, cache, &st), DNSSEC_SECURE);
	assert_int_equal(st.denial, DNSSEC_DENY_NODATA);
	assert_int_equal(dnssec_aggressive_nsec(&cfg, q, LDNS_RR_TYPE_A, cache, &st),
	                 DNSSEC_INDETERMINATE);
	ldns_rr_list_deep_free(cache);
	/* Without the apex NSEC the wildcard is not ruled out: ask upstream. */
	cache = nsec_auth(f, ALL & ~BIT(0));
	ldns_rdf_deep_free(q);
	q = dn("y.example.");
	assert_int_equal(dnssec_aggressive_nsec(&cfg, q, LDNS_RR_TYPE_A, cache, &st),
	                 DNSSEC_INDETERMINATE);
	assert_int_equal(st.denial, DNSSEC_DENY_NONE);
	ldns_rdf_deep_free(q);
	ldns_rr_list_deep_free(cache);
}

/* --- NSEC3 --------------------------------------------------------------------------- */

struct n3name {
	const char *name, *types;
};

/* The zone of the NSEC tests as NSEC3; sub.example. (insecure delegation) is left out
 * when opt-out is used, as a signer would. */
static const struct n3name n3zone[] = {
	{ "example.", "SOA NS RRSIG DNSKEY NSEC3PARAM" },
	{ "a.example.", "A RRSIG" },
	{ "c.example.", "" },
	{ "b.c.example.", "A RRSIG" },
	{ "sec.example.", "NS DS RRSIG" },
	{ "sub.example.", "NS" },
	{ "w.example.", "" },
	{ "*.w.example.", "TXT RRSIG" },
};
#define N3_N (sizeof(n3zone) / sizeof(n3zone[0]))

struct n3rec {
	char hash[40];
	const char *types;
	const char *name;
};

static int
n3cmp(const void *a, const void *b)
{
	return strcmp(((const struct n3rec *)a)->hash, ((const struct n3rec *)b)->hash);
}

static void
hash_of(const char *name, uint16_t iter, char out[40])
{
	static const uint8_t salt[] = { 0xab, 0xcd };
	ldns_rdf *n = dn(name);
	ldns_rdf *h = ldns_nsec3_hash_name(n, 1, iter, sizeof(salt), salt);
	char *s = ldns_rdf2str(h);
	snprintf(out, 40, "%.*s", (int)strcspn(s, "."), s);
	free(s);
	ldns_rdf_deep_free(h);
	ldns_rdf_deep_free(n);
}

/* The signed NSEC3 chain; records for names in skip are omitted (opt-out). */
static ldns_rr_list *
n3_auth(struct fx *f, uint16_t iter, bool optout, const char *skip, const char *drop)
{
	struct n3rec r[N3_N];
	size_t n = 0;
	for (size_t i = 0; i < N3_N; i++) {
		if (skip != NULL && strcmp(n3zone[i].name, skip) == 0)
			continue;
		hash_of(n3zone[i].name, iter, r[n].hash);
		r[n].types = n3zone[i].types;
		r[n].name = n3zone[i].name;
		n++;
	}
	qsort(r, n, sizeof(r[0]), n3cmp);
	ldns_rr_list *auth = ldns_rr_list_new();
	for (size_t i = 0; i < n; i++) {
		if (drop != NULL && strcmp(r[i].name, drop) == 0)
			continue;
		char text[512];
		snprintf(text, sizeof(text), "%s.example. 300 IN NSEC3 1 %d %u abcd %s %s", r[i].hash,
		         optout ? 1 : 0, iter, r[(i + 1) % n].hash, r[i].types);
		ldns_rr_list *one = rrs(text);
		ldns_rr_list *sig = sign(one, &f->zsk, NULL);
		append(auth, one);
		append(auth, sig);
		ldns_rr_list_deep_free(one);
		ldns_rr_list_deep_free(sig);
	}
	return auth;
}

static void
nsec3_nxdomain_needs_the_closest_encloser_proof(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *auth = n3_auth(f, 0, false, NULL, NULL);
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "nx.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_SECURE);
	assert_int_equal(st.denial, DNSSEC_DENY_NXDOMAIN);
	/* Below an empty non-terminal: closest encloser c.example. */
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "x.y.c.example.", LDNS_RR_TYPE_A, 0, auth,
	                      &st), DNSSEC_SECURE);
	/* Existing names cannot be denied. */
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "a.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_BOGUS);
	/* Nor names below a delegation (the closest encloser would be the cut). */
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "x.sec.example.", LDNS_RR_TYPE_A, 0, auth,
	                      &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(auth);
	/* Without the NSEC3 matching the apex there is no closest encloser. */
	auth = n3_auth(f, 0, false, NULL, "example.");
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "nx.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_NSEC_MISSING);
	ldns_rr_list_deep_free(auth);
}

static void
nsec3_nodata_and_wildcard_nodata(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *auth = n3_auth(f, 5, false, NULL, NULL);
	assert_int_equal(deny(f, DNSSEC_DENY_NODATA, "a.example.", LDNS_RR_TYPE_AAAA, 0, auth, &st),
	                 DNSSEC_SECURE);
	assert_int_equal(deny(f, DNSSEC_DENY_NODATA, "a.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_BOGUS);
	assert_int_equal(deny(f, DNSSEC_DENY_NODATA, "c.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_SECURE);
	assert_int_equal(deny(f, DNSSEC_DENY_NODATA, "x.w.example.", LDNS_RR_TYPE_AAAA, 0, auth,
	                      &st), DNSSEC_SECURE);
	assert_int_equal(deny(f, DNSSEC_DENY_NODATA, "x.w.example.", LDNS_RR_TYPE_TXT, 0, auth,
	                      &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(auth);
}

static void
nsec3_wildcard_answer_needs_next_closer_cover(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *auth = n3_auth(f, 0, false, NULL, NULL);
	assert_int_equal(deny(f, DNSSEC_DENY_WILDCARD, "x.w.example.", LDNS_RR_TYPE_TXT, 2, auth,
	                      &st), DNSSEC_SECURE);
	/* If a.example. was claimed to be the wildcard's source, a.example. exists (matched,
	 * not covered): no proof. */
	assert_int_equal(deny(f, DNSSEC_DENY_WILDCARD, "a.example.", LDNS_RR_TYPE_TXT, 1, auth,
	                      &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(auth);
}

static void
nsec3_opt_out_makes_an_unsigned_delegation_insecure(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *auth = n3_auth(f, 0, true, "sub.example.", NULL);
	assert_int_equal(deny(f, DNSSEC_DENY_NO_DS, "sub.example.", 0, 0, auth, &st),
	                 DNSSEC_INSECURE);
	assert_int_equal(st.denial, DNSSEC_DENY_NO_DS);
	/* sec.example. has DS: no denial. */
	assert_int_equal(deny(f, DNSSEC_DENY_NO_DS, "sec.example.", 0, 0, auth, &st), DNSSEC_BOGUS);
	/* A name error in an opt-out span is not authenticated: the next closer name could
	 * be an unsigned delegation hidden by opt-out (as Unbound: insecure). */
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "nx.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_INSECURE);
	assert_int_equal(st.denial, DNSSEC_DENY_NXDOMAIN);
	ldns_rr_list_deep_free(auth);
	/* The same gap without the opt-out flag proves nothing about sub.example. */
	auth = n3_auth(f, 0, false, "sub.example.", NULL);
	assert_int_equal(deny(f, DNSSEC_DENY_NO_DS, "sub.example.", 0, 0, auth, &st), DNSSEC_BOGUS);
	ldns_rr_list_deep_free(auth);
	/* Without opt-out the delegation has its NSEC3: NS, no DS. */
	auth = n3_auth(f, 0, false, NULL, NULL);
	assert_int_equal(deny(f, DNSSEC_DENY_NO_DS, "sub.example.", 0, 0, auth, &st),
	                 DNSSEC_INSECURE);
	ldns_rr_list_deep_free(auth);
}

static void
nsec3_iterations_above_the_limit_are_insecure_with_ede_27(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *auth = n3_auth(f, 200, false, NULL, NULL);
	struct dnssec_budget b;
	dnssec_budget_init(&b);
	ldns_rdf *q = dn("nx.example.");
	assert_int_equal(dnssec_prove_denial(&cfg, &b, DNSSEC_DENY_NXDOMAIN, q, LDNS_RR_TYPE_A, 0,
	                                     auth, f->keys, now, &st), DNSSEC_INSECURE);
	assert_int_equal(st.ede, DNSSEC_EDE_UNSUPPORTED_NSEC3_ITER);
	assert_int_equal(b.hash_used, 0);       /* nothing was hashed */
	cfg.nsec3_bogus_iter = 180;
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "nx.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_UNSUPPORTED_NSEC3_ITER);
	cfg.nsec3_bogus_iter = 0;
	cfg.nsec3_max_iter = 250;
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "nx.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_SECURE);
	dnssec_config_default(&cfg);
	ldns_rdf_deep_free(q);
	ldns_rr_list_deep_free(auth);
	/* A forged (unsigned) high-iteration record must not downgrade the zone. */
	auth = rrs("0123456789abcdefghijklmnopqrstuv.example. 300 IN NSEC3 1 0 500 - "
	           "0123456789abcdefghijklmnopqrstvv A");
	assert_int_equal(deny(f, DNSSEC_DENY_NXDOMAIN, "nx.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 DNSSEC_BOGUS);
	ldns_rr_list_deep_free(auth);
}

static void
nsec3_hash_budget_stops_the_proof(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rr_list *auth = n3_auth(f, 100, false, NULL, NULL);
	struct dnssec_budget b;
	dnssec_budget_init(&b);
	b.hash_left = 2;
	ldns_rdf *q = dn("a.b.c.d.e.nx.example.");
	assert_int_equal(dnssec_prove_denial(&cfg, &b, DNSSEC_DENY_NXDOMAIN, q, LDNS_RR_TYPE_A, 0,
	                                     auth, f->keys, now, &st), DNSSEC_INDETERMINATE);
	assert_int_equal(b.hash_used, 2);
	assert_int_equal(b.hash_left, 0);
	assert_non_null(strstr(st.reason, "budget"));
	/* The per-call cap: a deep name needs more hashes than one call may spend. */
	dnssec_budget_init(&b);
	cfg.max_nsec3_hash_per_call = 3;
	assert_int_equal(dnssec_prove_denial(&cfg, &b, DNSSEC_DENY_NXDOMAIN, q, LDNS_RR_TYPE_A, 0,
	                                     auth, f->keys, now, &st), DNSSEC_BOGUS);
	assert_int_equal(b.hash_used, 3);
	dnssec_config_default(&cfg);
	ldns_rdf_deep_free(q);
	ldns_rr_list_deep_free(auth);
}

static void
aggressive_nsec3_answers_only_without_opt_out(void **state)
{
	struct fx *f = *state;
	struct dnssec_status st;
	ldns_rdf *q = dn("nx.example.");
	ldns_rr_list *cache = n3_auth(f, 3, false, NULL, NULL);
	assert_int_equal(dnssec_aggressive_nsec(&cfg, q, LDNS_RR_TYPE_A, cache, &st), DNSSEC_SECURE);
	assert_int_equal(st.denial, DNSSEC_DENY_NXDOMAIN);
	ldns_rdf *a = dn("a.example.");
	assert_int_equal(dnssec_aggressive_nsec(&cfg, a, LDNS_RR_TYPE_TXT, cache, &st), DNSSEC_SECURE);
	assert_int_equal(st.denial, DNSSEC_DENY_NODATA);
	assert_int_equal(dnssec_aggressive_nsec(&cfg, a, LDNS_RR_TYPE_A, cache, &st),
	                 DNSSEC_INDETERMINATE);
	ldns_rr_list_deep_free(cache);
	/* In an opt-out span the name might be an unsigned delegation: ask. */
	cache = n3_auth(f, 3, true, "sub.example.", NULL);
	assert_int_equal(dnssec_aggressive_nsec(&cfg, q, LDNS_RR_TYPE_A, cache, &st),
	                 DNSSEC_INDETERMINATE);
	ldns_rr_list_deep_free(cache);
	ldns_rdf_deep_free(q);
	ldns_rdf_deep_free(a);
}

/* --- KeyTrap ------------------------------------------------------------------------- */

/* A DNSKEY of algorithm 13 with random key bytes whose key tag is tag (RFC 4034 App. B):
 * the last 16-bit word of the RDATA is chosen to make the sum come out right. */
static ldns_rr *
colliding_key(uint16_t tag)
{
	uint8_t rd[4 + 64];
	rd[0] = 1; rd[1] = 0; rd[2] = 3; rd[3] = 13;        /* flags 256, protocol 3, alg 13 */
	for (size_t i = 4; i < sizeof(rd) - 2; i++)
		rd[i] = (uint8_t)rand();
	uint32_t base = 0;
	for (size_t i = 0; i < sizeof(rd) - 2; i++)
		base += (i & 1) ? rd[i] : (uint32_t)rd[i] << 8;
	for (uint32_t w = 0; w < 65536; w++) {
		uint32_t ac = base + w;
		ac += (ac >> 16) & 0xffff;
		if ((ac & 0xffff) == tag) {
			rd[sizeof(rd) - 2] = (uint8_t)(w >> 8);
			rd[sizeof(rd) - 1] = (uint8_t)w;
			break;
		}
	}
	ldns_rr *rr = ldns_rr_new();
	ldns_rr_set_type(rr, LDNS_RR_TYPE_DNSKEY);
	ldns_rr_set_owner(rr, dn("example."));
	ldns_rr_set_ttl(rr, 300);
	ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 256));
	ldns_rr_push_rdf(rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_INT8, 3));
	ldns_rr_push_rdf(rr, ldns_native2rdf_int8(LDNS_RDF_TYPE_ALG, 13));
	ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_B64, 64, rd + 4));
	assert_int_equal(ldns_calc_keytag(rr), tag);
	return rr;
}

static void
keytrap_colliding_keys_and_signatures_stop_at_the_budget(void **state)
{
	struct fx *f = *state;
	uint16_t tag = ldns_calc_keytag(f->zsk.dnskey);
	ldns_rr_list *keys = ldns_rr_list_new();
	for (int i = 0; i < 200; i++)
		ldns_rr_list_push_rr(keys, colliding_key(tag));
	/* 100 RRSIGs, all claiming the colliding tag, none valid. */
	ldns_rr_list *set = rrs("www.example. 300 IN A 192.0.2.1");
	ldns_rr_list *good = sign(set, &f->zsk, NULL);
	ldns_rr_list *sigs = ldns_rr_list_new();
	for (int i = 0; i < 100; i++) {
		ldns_rr *s = ldns_rr_clone(ldns_rr_list_rr(good, 0));
		ldns_rdf_data(ldns_rr_rrsig_sig(s))[i % 60] ^= 0x5a;
		ldns_rr_list_push_rr(sigs, s);
	}
	struct dnssec_budget b;
	dnssec_budget_init(&b);
	struct dnssec_status st;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(dnssec_verify_rrset(&cfg, &b, set, sigs, keys, now, &st), DNSSEC_BOGUS);
	assert_int_equal(b.verify_used, cfg.max_verify_per_call);
	assert_non_null(strstr(st.reason, "too many"));
	/* The client query keeps asking: the query budget ends it. */
	enum dnssec_result r = DNSSEC_BOGUS;
	for (int i = 0; i < 100 && r == DNSSEC_BOGUS; i++)
		r = dnssec_verify_rrset(&cfg, &b, set, sigs, keys, now, &st);
	assert_int_equal(r, DNSSEC_INDETERMINATE);
	assert_int_equal(b.verify_used, 64);
	assert_int_equal(b.verify_left, 0);
	assert_non_null(strstr(st.reason, "budget"));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 2.0);        /* unbounded, this was 200 x 100 x 100 verifications */
	/* Colliding keys are capped per RRSIG: the real key placed after them is not reached,
	 * so the RRset is bogus rather than costing 200 checks. */
	ldns_rr_list_push_rr(keys, ldns_rr_clone(f->zsk.dnskey));
	dnssec_budget_init(&b);
	assert_int_equal(dnssec_verify_rrset(&cfg, &b, set, good, keys, now, &st), DNSSEC_BOGUS);
	assert_true(b.verify_used <= cfg.max_key_collisions);
	ldns_rr_list_deep_free(keys);
	ldns_rr_list_deep_free(set);
	ldns_rr_list_deep_free(good);
	ldns_rr_list_deep_free(sigs);
}

static void
stuffed_denial_with_bogus_nsecs_stops_at_the_proof_cap(void **state)
{
	struct fx *f = *state;
	ldns_rr_list *auth = ldns_rr_list_new();
	/* 16 NSECs that all cover nx.example., each with two RRSIGs, all altered after
	 * signing: unbounded that is 32 verifications for one answer. */
	for (int i = 0; i < 16; i++) {
		char text[128];
		snprintf(text, sizeof(text), "a%d.example. 300 IN NSEC z%d.example. A RRSIG NSEC", i, i);
		ldns_rr_list *one = rrs(text);
		ldns_rr_list *sig = sign(one, &f->zsk, &f->zsk, NULL);
		ldns_rdf_deep_free(ldns_rr_set_rdf(ldns_rr_list_rr(one, 0), dn("zz.example."), 0));
		append(auth, one);
		append(auth, sig);
		ldns_rr_list_deep_free(one);
		ldns_rr_list_deep_free(sig);
	}
	struct dnssec_budget b;
	dnssec_budget_init(&b);
	struct dnssec_status st;
	ldns_rdf *q = dn("nx.example.");
	assert_int_equal(dnssec_prove_denial(&cfg, &b, DNSSEC_DENY_NXDOMAIN, q, LDNS_RR_TYPE_A, 0,
	                                     auth, f->keys, now, &st), DNSSEC_BOGUS);
	assert_true(b.verify_used <= cfg.max_verify_per_denial);
	assert_true(b.verify_used >= 2);
	ldns_rdf_deep_free(q);
	ldns_rr_list_deep_free(auth);
}

/* --- a zone signed by ldns-signzone ------------------------------------------------ */

static const char signzone_zone[] =
	"$ORIGIN example.\n$TTL 300\n"
	"@ IN SOA ns.example. admin.example. 1 3600 600 86400 300\n"
	"@ IN NS ns.example.\nns IN A 192.0.2.53\nwww IN A 192.0.2.1\n"
	"*.w IN TXT \"wild\"\nsub IN NS ns.sub.example.\nns.sub IN A 192.0.2.54\n";

/* Signs signzone_zone with the ldns-signzone tool (signflags: "" for NSEC, "-n ..." for
 * NSEC3) and returns every record of the signed zone; *ds gets the KSK's DS. */
static ldns_rr_list *
signzone(const char *dir, const char *signflags, ldns_rr_list **ds)
{
	char cmd[1024], path[512];
	snprintf(path, sizeof(path), "%s/example.zone", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(signzone_zone, fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "cd %s && ldns-keygen -a ECDSAP256SHA256 -k example. > ksk && "
	         "ldns-keygen -a ECDSAP256SHA256 example. > zsk && "
	         "ldns-signzone %s -f signed example.zone $(cat ksk) $(cat zsk) && "
	         "cp $(cat ksk).ds ds", dir, signflags);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/signed", dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	ldns_zone *z = NULL;
	assert_int_equal(ldns_zone_new_frm_fp(&z, fp, NULL, 300, LDNS_RR_CLASS_IN), LDNS_STATUS_OK);
	fclose(fp);
	ldns_rr_list *all = ldns_rr_list_clone(ldns_zone_rrs(z));
	ldns_rr_list_push_rr(all, ldns_rr_clone(ldns_zone_soa(z)));
	ldns_zone_deep_free(z);
	snprintf(path, sizeof(path), "%s/ds", dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	ldns_rr *d = NULL;
	assert_int_equal(ldns_rr_new_frm_fp(&d, fp, NULL, NULL, NULL), LDNS_STATUS_OK);
	fclose(fp);
	*ds = ldns_rr_list_new();
	ldns_rr_list_push_rr(*ds, d);
	return all;
}

/* The records of all with the given owner (NULL: any) and type. */
static ldns_rr_list *
pick(const ldns_rr_list *all, const char *owner, ldns_rr_type t)
{
	ldns_rr_list *out = ldns_rr_list_new();
	ldns_rdf *o = owner != NULL ? dn(owner) : NULL;
	for (size_t i = 0; i < ldns_rr_list_rr_count(all); i++) {
		ldns_rr *rr = ldns_rr_list_rr(all, i);
		if (ldns_rr_get_type(rr) == t &&
		    (o == NULL || ldns_dname_compare(ldns_rr_owner(rr), o) == 0))
			ldns_rr_list_push_rr(out, ldns_rr_clone(rr));
	}
	ldns_rdf_deep_free(o);
	return out;
}

static void
check_signed_zone(const char *signflags, bool optout)
{
	char dir[] = "/tmp/test_dnssec_zone_XXXXXX", cmd[600];
	assert_non_null(mkdtemp(dir));
	ldns_rr_list *ds = NULL, *all = signzone(dir, signflags, &ds);
	ldns_rr_list *keys = pick(all, "example.", LDNS_RR_TYPE_DNSKEY);
	ldns_rr_list *sigs = pick(all, NULL, LDNS_RR_TYPE_RRSIG);
	ldns_rr_list *auth = pick(all, NULL, LDNS_RR_TYPE_NSEC);
	ldns_rr_list *n3 = pick(all, NULL, LDNS_RR_TYPE_NSEC3);
	append(auth, n3);
	append(auth, sigs);
	struct dnssec_budget b;
	struct dnssec_status st;
	dnssec_budget_init(&b);
	struct fx f = { .keys = keys };

	assert_int_equal(dnssec_verify_dnskeys(&cfg, &b, ds, keys, sigs, now, &st), DNSSEC_SECURE);
	ldns_rr_list *www = pick(all, "www.example.", LDNS_RR_TYPE_A);
	assert_int_equal(verify(www, sigs, keys, &st), DNSSEC_SECURE);
	/* Glue below the delegation is not signed. */
	ldns_rr_list *glue = pick(all, "ns.sub.example.", LDNS_RR_TYPE_A);
	assert_int_equal(verify(glue, sigs, keys, &st), DNSSEC_BOGUS);
	assert_int_equal(st.ede, DNSSEC_EDE_RRSIGS_MISSING);

	enum dnssec_result proven = optout ? DNSSEC_INSECURE : DNSSEC_SECURE;
	assert_int_equal(deny(&f, DNSSEC_DENY_NXDOMAIN, "nx.example.", LDNS_RR_TYPE_A, 0, auth, &st),
	                 proven);
	assert_int_equal(st.denial, DNSSEC_DENY_NXDOMAIN);
	assert_int_equal(deny(&f, DNSSEC_DENY_NXDOMAIN, "www.example.", LDNS_RR_TYPE_A, 0, auth,
	                      &st), DNSSEC_BOGUS);
	assert_int_equal(deny(&f, DNSSEC_DENY_NODATA, "www.example.", LDNS_RR_TYPE_AAAA, 0, auth,
	                      &st), DNSSEC_SECURE);
	assert_int_equal(deny(&f, DNSSEC_DENY_NO_DS, "sub.example.", 0, 0, auth, &st),
	                 DNSSEC_INSECURE);
	assert_int_equal(st.denial, DNSSEC_DENY_NO_DS);

	ldns_rr_list *wild = pick(all, "*.w.example.", LDNS_RR_TYPE_TXT);
	ldns_rr_list *wsig = ldns_rr_list_new();
	for (size_t i = 0; i < ldns_rr_list_rr_count(sigs); i++) {
		ldns_rr *sg = ldns_rr_list_rr(sigs, i);
		ldns_rdf *o = dn("*.w.example.");
		if (ldns_dname_compare(ldns_rr_owner(sg), o) == 0 &&
		    ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(sg)) == LDNS_RR_TYPE_TXT)
			ldns_rr_list_push_rr(wsig, ldns_rr_clone(sg));
		ldns_rdf_deep_free(o);
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(wild); i++) {
		ldns_rdf_deep_free(ldns_rr_owner(ldns_rr_list_rr(wild, i)));
		ldns_rr_set_owner(ldns_rr_list_rr(wild, i), dn("a.b.w.example."));
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(wsig); i++) {
		ldns_rdf_deep_free(ldns_rr_owner(ldns_rr_list_rr(wsig, i)));
		ldns_rr_set_owner(ldns_rr_list_rr(wsig, i), dn("a.b.w.example."));
	}
	assert_int_equal(verify(wild, wsig, keys, &st), DNSSEC_SECURE);
	assert_true(st.wildcard);
	assert_int_equal(st.wildcard_labels, 2);
	assert_int_equal(deny(&f, DNSSEC_DENY_WILDCARD, "a.b.w.example.", LDNS_RR_TYPE_TXT,
	                      st.wildcard_labels, auth, &st), proven);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	ldns_rr_list *lists[] = { ds, all, keys, sigs, auth, n3, www, glue, wild, wsig };
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		ldns_rr_list_deep_free(lists[i]);
}

static void
ldns_signzone_nsec_zone_validates_end_to_end(void **state)
{
	(void)state;
	check_signed_zone("", false);
}

static void
ldns_signzone_nsec3_zone_validates_end_to_end(void **state)
{
	(void)state;
	check_signed_zone("-n -s abcd -t 5", false);
}

static void
ldns_signzone_nsec3_opt_out_zone_validates_end_to_end(void **state)
{
	(void)state;
	check_signed_zone("-n -p -s abcd -t 1", true);
}

int
main(void)
{
	now = (uint32_t)time(NULL);
	dnssec_config_default(&cfg);
	const struct CMUnitTest algs[] = {
		cmocka_unit_test(rsasha256_rrset_is_secure_and_tampered_rdata_bogus),
		cmocka_unit_test(rsasha512_rrset_is_secure_and_tampered_rdata_bogus),
		cmocka_unit_test(ecdsap256_rrset_is_secure_and_tampered_rdata_bogus),
		cmocka_unit_test(ecdsap384_rrset_is_secure_and_tampered_rdata_bogus),
		cmocka_unit_test(ed25519_rrset_is_secure_and_tampered_rdata_bogus),
		cmocka_unit_test(ed448_rrset_is_secure_and_tampered_rdata_bogus),
	};
	const struct CMUnitTest zone[] = {
		cmocka_unit_test(canonical_form_ignores_case_order_and_duplicates),
		cmocka_unit_test(expired_signature_is_bogus_with_ede_7),
		cmocka_unit_test(signature_not_yet_valid_is_bogus_with_ede_8),
		cmocka_unit_test(validity_window_uses_serial_arithmetic_across_2106),
		cmocka_unit_test(signature_by_an_unknown_key_tag_is_bogus_with_ede_9),
		cmocka_unit_test(key_without_zone_flag_is_not_used),
		cmocka_unit_test(missing_rrsig_is_bogus_with_ede_10),
		cmocka_unit_test(signer_outside_the_owner_is_bogus),
		cmocka_unit_test(rsasha1_validates_by_default_and_is_insecure_when_disabled),
		cmocka_unit_test(ttl_limit_is_bounded_by_the_signature_expiration),
		cmocka_unit_test(oversized_rsa_key_is_not_used),
		cmocka_unit_test(ds_sha256_and_sha384_vouch_for_the_dnskey_set),
		cmocka_unit_test(ds_digest_mismatch_is_bogus),
		cmocka_unit_test(ds_with_only_unsupported_digest_is_insecure),
		cmocka_unit_test(sha1_ds_is_ignored_next_to_a_sha256_ds),
		cmocka_unit_test(dnskey_trust_anchor_vouches_for_the_dnskey_set),
		cmocka_unit_test(anchors_load_from_file_and_text_and_find_the_closest),
		cmocka_unit_test(nsec_nxdomain_needs_name_and_wildcard_proof),
		cmocka_unit_test(nsec_nxdomain_fails_for_existing_names),
		cmocka_unit_test(nsec_with_a_broken_signature_proves_nothing),
		cmocka_unit_test(nsec_nodata_at_name_and_empty_non_terminal),
		cmocka_unit_test(nsec_wildcard_nodata_needs_both_records),
		cmocka_unit_test(nsec_proves_insecure_delegation_only_without_ds),
		cmocka_unit_test(wildcard_expansion_is_accepted_only_with_the_proof),
		cmocka_unit_test(wildcard_signature_on_an_existing_name_gets_no_proof),
		cmocka_unit_test(aggressive_nsec_answers_from_cached_records),
		cmocka_unit_test(nsec3_nxdomain_needs_the_closest_encloser_proof),
		cmocka_unit_test(nsec3_nodata_and_wildcard_nodata),
		cmocka_unit_test(nsec3_wildcard_answer_needs_next_closer_cover),
		cmocka_unit_test(nsec3_opt_out_makes_an_unsigned_delegation_insecure),
		cmocka_unit_test(nsec3_iterations_above_the_limit_are_insecure_with_ede_27),
		cmocka_unit_test(nsec3_hash_budget_stops_the_proof),
		cmocka_unit_test(aggressive_nsec3_answers_only_without_opt_out),
		cmocka_unit_test(keytrap_colliding_keys_and_signatures_stop_at_the_budget),
		cmocka_unit_test(stuffed_denial_with_bogus_nsecs_stops_at_the_proof_cap),
		cmocka_unit_test(ldns_signzone_nsec_zone_validates_end_to_end),
		cmocka_unit_test(ldns_signzone_nsec3_zone_validates_end_to_end),
		cmocka_unit_test(ldns_signzone_nsec3_opt_out_zone_validates_end_to_end),
	};
	int failed = cmocka_run_group_tests_name("dnssec algorithms", algs, NULL, NULL);
	failed += cmocka_run_group_tests_name("dnssec", zone, fx_setup, fx_teardown);
	return failed;
}
