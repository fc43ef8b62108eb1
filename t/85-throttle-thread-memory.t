# The failed-login throttle counts an address, and holds a throttled one
# back, whatever memory a thread can have: an address's set is made with
# no memory of the thread's own.  Once httpd has started, every block of
# the size of a thread's copy of keys (bbt_keymac.h) that the module asks
# for fails, as when memory is short (t/dso/keycopyfail.c, preloaded into
# httpd): an address is counted and refused all the same, throttled before
# the memory ran short or while it was.  Real httpd and PostgreSQL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use BBT::Env qw(auth_basic get_from run_cmd);
use BBT::Cache qw(wait_log);
use BBT::Util qw(spew);

# ASan's calloc, preloaded first, would be the one httpd calls.
plan skip_all => "the sanitizers' calloc comes before the preload's" if $ENV{BBT_SANITIZE};

my $FAILS = 3;
my $dir = tempdir('bbt-keycopyfail-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir or die "chmod $dir: $!"; # httpd's user looks for the fault here
my $so = "$dir/keycopyfail.so";
my $fault = "$dir/fail";
my ($rc, $out, $err) = run_cmd(cmd => ['cc', '-shared', '-fPIC', '-O2', "-I$BBT::Env::ROOT/mod_bbtoken",
                                       '-o', $so, "$BBT::Env::ROOT/t/dso/keycopyfail.c", '-ldl']);
is($rc, 0, 'the fault builds') or BAIL_OUT("cc: $out$err");

my $extra = <<'EOC';
BBTokenCache off
<Location /scm>
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file)],
                        httpd_vars => { LD_PRELOAD => $so, BBT_KEYCOPY_FAIL => $fault },
                        throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600")->start;
$env->htpasswd(carol => 'carol-Pa55-word');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'repo');
my $url = $env->url('/scm/PROJ/repo.git/info/refs?service=git-upload-pack');
my $bad = auth_basic('carol', 'wrong');
my $good = auth_basic('carol', 'carol-Pa55-word');
ok(wait_log($env, 0, qr/BBT503: failed-login throttle on/), 'the throttle is on');

# Before any request: no thread has had its first yet.
spew($fault, "1\n", 0644);
is(get_from('127.0.0.5', $url, $bad), 401, "no memory: failure $_") for 1 .. $FAILS;
is(get_from('127.0.0.5', $url, $good), 429, '  the address is throttled, the right password too');
is(get_from('127.0.0.6', $url, $good), 200, '  another address is not');

# An address throttled while there was memory stays so without it.
unlink $fault or die "unlink $fault: $!";
is(get_from('127.0.0.7', $url, $bad), 401, "memory again: failure $_") for 1 .. $FAILS;
is(get_from('127.0.0.7', $url, $good), 429, '  throttled');
spew($fault, "1\n", 0644);
is(get_from('127.0.0.7', $url, $good), 429, "no memory: still throttled ($_)") for 1 .. 8;

$env->httpd_stop(graceful => 1);
my $log = $env->error_log_text;
like($log, qr/BBT505: client 127\.0\.0\.5 throttled/, 'the address throttled without memory is logged');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
