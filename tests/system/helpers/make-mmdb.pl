#!/usr/bin/perl
# make-mmdb.pl - writes a tiny GeoIP2-Country-shaped MaxMind database for the GSLB GeoIP tests
# (tests/unit/test_gslb_pick.c and tests/system/test_gslb.py). Run by the tests themselves;
# needs libmaxmind-db-writer-perl (tools/install-deps).
#
# Usage: make-mmdb.pl OUT.mmdb
#
# Records have the GeoIP2 shape { country => { iso_code => "DE" } }: gslb/pick.c looks up the
# path country/iso_code. The networks are loopback and documentation ranges, so the writer's
# default of dropping reserved networks is turned off.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV or die "usage: $0 OUT.mmdb\n";

my %types = (
	country  => 'map',
	iso_code => 'utf8_string',
);

my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version               => 6,
	record_size              => 24,
	database_type            => 'GeoIP2-Country',
	languages                => ['en'],
	description              => { en => 'Signpost GSLB test database' },
	remove_reserved_networks => 0,
	map_key_type_callback    => sub { $types{ $_[0] } },
);

# 127.0.3.0/24 is FR, a country the tests leave without a region (the fallback case).
my @nets = (
	[ '127.0.1.0/24',     'DE' ],
	[ '127.0.2.0/24',     'US' ],
	[ '127.0.3.0/24',     'FR' ],
	[ '2001:db8:1::/48',  'DE' ],
);
for my $n (@nets) {
	$tree->insert_network($n->[0], { country => { iso_code => $n->[1] } });
}

open my $fh, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($fh);
close $fh or die "$out: $!\n";
