# The counters across restarts into another build of the module, as an
# upgrade brings: the README says they survive graceful and plain
# restarts, but a build whose counters are laid out otherwise cannot read
# the last generation's segment, so they start again at zero (Prometheus
# takes it as a counter reset), and the restart says so once, at notice
# (BBT406).  The other build is this tree's with another number of
# stripes (BBT_STATS_STRIPES), made in this test's own directory; httpd
# loads the module from a path of the test's, replaced between restarts.
# A restart into the same layout keeps the counters and says nothing; a
# restart back into the first build starts at zero again, not at the
# counts that build had before.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use BBT::Env qw(run_cmd);
use BBT::Util qw(slurp);
use BBT::Assert;

my $root = "$FindBin::Bin/..";
my $tmp = tempdir('bbt-layout-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);
my $this = BBT::Httpd::module_path();
ok(-f $this, "this tree's module is built ($this)") or BAIL_OUT('make -f apxs.mk first');

my ($rc, $out, $err) = run_cmd(
    cmd => ['make', '-j2', '-f', 'apxs.mk', "OBJ=$tmp/obj", "OUT=$tmp/out", 'CFLAGS=-DBBT_STATS_STRIPES=8',
            "$tmp/out/mod_bbtoken.so"],
    cwd => $root, tmp => $tmp, timeout => 900);
is($rc, 0, 'the other build, 8 stripes: made') or BAIL_OUT("$out$err");
my $other = "$tmp/out/mod_bbtoken.so";

# What httpd loads: a copy, replaced (a new file, not written over the
# one the running parent has mapped) before each restart.
my $so = "$tmp/mod_bbtoken.so";
sub load {
    my ($from) = @_;
    unlink $so;
    copy($from, $so) or die "copy $from: $!";
}
load($this);
$ENV{BBT_MODULE_SO} = $so;

my $env = BBT::Env->new(modules => ['authz_host'], extra_conf => <<'EOC')->start;
<Location /metrics>
    SetHandler bbtoken-metrics
    Require local
</Location>
EOC
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok) = $env->token_create('alice', name => 'layout');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# bbtoken_requests_total{outcome="allowed"}, over a connection of its own
# (undef while httpd answers no 200).
sub allowed {
    my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url('/metrics'));
    return undef unless $r->{status} == 200;
    return $r->{content} =~ /^bbtoken_requests_total\{outcome="allowed"\} (\d+)$/m ? $1 : undef;
}

# $n clones' advertisements, and the counter once it has them all (each
# is counted in its log phase, after the client has its answer).
sub requests {
    my ($n, $from) = @_;
    for (1 .. $n) {
        my $r = $env->get($UP, { Authorization => "Bearer $tok" });
        is($r->{status}, 200, 'a token request: 200') or diag res_summary($r);
    }
    my $v;
    for (1 .. 300) {
        $v = allowed() // 0;
        last if $v >= $from + $n;
        select(undef, undef, undef, 0.1);
    }
    return $v;
}

sub bbt406 { grep { /BBT406: / } split /\n/, $env->error_log_text }

# apache2 -k restart: '' once the new generation answers the metrics.
sub plain_restart {
    my $started = () = $env->error_log_text =~ /BBT404: /g;
    my ($rc, $out, $err) = run_cmd(cmd => [$BBT::Env::APACHE, '-f', $env->{conf}, '-k', 'restart'],
                                   tmp => "$tmp", timeout => 60, env => $env->httpd_env);
    return "apache2 -k restart: exit $rc: $out$err" if $rc;
    delete $env->{ua};
    for (1 .. 600) {
        my $n = () = $env->error_log_text =~ /BBT404: /g;
        return '' if $n > $started && defined allowed();
        select(undef, undef, undef, 0.1);
    }
    return 'the new generation did not answer within 60 s';
}

is(requests(5, 0), 5, 'this build: five requests allowed');
is(scalar(bbt406()), 0, 'no BBT406 at the start');

is($env->httpd_graceful, '', 'a graceful restart into the same build');
is(allowed(), 5, '  the counters go on');
is(scalar(bbt406()), 0, '  no BBT406');

load($other);
is($env->httpd_graceful, '', 'a graceful restart into the build laid out otherwise');
my @said = bbt406();
is(scalar @said, 1, '  BBT406, once') or diag explain \@said;
like($said[0] // '', qr/\[bbtoken:notice\] .*BBT406: the module's counters are laid out otherwise than the last generation's \(bbtoken-stats-\S+-s16-l64, now bbtoken-stats-\S+-s8-l64\): they start again at zero$/,
     '  at notice, with both layouts');
is(allowed(), 0, '  the counters start again at zero');
is(requests(2, 0), 2, '  and count from there');

is(plain_restart(), '', 'a plain restart into the same (other) build');
is(allowed(), 2, '  the counters go on');
is(scalar(bbt406()), 1, '  no BBT406 more');

load($this);
is($env->httpd_graceful, '', 'a graceful restart back into the first build');
@said = bbt406();
is(scalar @said, 2, '  BBT406 once more') or diag explain \@said;
is(allowed(), 0, '  zero again, not the first build\'s count of five');

my ($metrics) = slurp("$root/README") =~ /\nMetrics\n-+\n(.*?)\n\S[^\n]*\n-+\n/s;
like($metrics // '', qr/\bBBT406\b/, "README's Metrics names BBT406");
done_testing;
