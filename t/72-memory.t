# Memory stays bounded: one httpd child's resident size after 100,000
# malformed and refused requests (bench/memory.pl, which prints the
# figures) grows by less than 8 MB, a generous bound: a leak of 84 bytes a
# request would pass it.  The same child serves them all.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(run_cmd);

my $ROOT = $BBT::Env::ROOT;
my ($rc, $out, $err) = run_cmd(cmd => ['perl', "$ROOT/bench/memory.pl", 100_000], timeout => 900);
is($rc, 0, 'bench/memory.pl ran') or diag "$out$err";
note $out;
my %r = $out =~ /^RESULT (.*)$/m ? ($1 =~ /(\w+)=(-?\d+)/g) : ();
ok(($r{requests} // 0) >= 99_990, "about 100,000 requests after the warm-up ($r{requests})");
is($r{same_child}, 1, 'all served by the same child');
cmp_ok($r{growth_kb} // 1e9, '<', 8192, "the child grew by $r{growth_kb} kB: under 8 MB");
done_testing;
