# "A database connection is used only for the query, never held for the
# length of a request: a long clone must not pin one."
#
# One httpd child, a mod_dbd pool of exactly one connection (DBDMax 1), and
# a CGI that takes 4 seconds.  While one slow request is being served, a
# second request that needs the database must not wait for it.
#
# Control: mod_authn_dbd does pin its connection (ap_dbd_acquire holds it
# until the request ends).  Behind it, the same second request does wait,
# which shows that this test can tell the two apart.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha1_base64);
use Time::HiRes qw(sleep time);
use BBT::Env;
use BBT::Assert;

my $pw_hash = '{SHA}' . sha1_base64('password') . '=';
my $env = BBT::Env->new(
    modules  => [qw(auth_basic authn_dbd authz_user)],
    mpm_conf => <<'EOM',
StartServers 1
ServerLimit 1
ThreadLimit 8
ThreadsPerChild 8
MinSpareThreads 1
MaxSpareThreads 8
MaxRequestWorkers 8
EOM
    extra_conf => <<"EOC",
# Off, so that every request with the token really needs the database.
BBTokenCache off
DBDMin 0
DBDKeep 1
DBDMax 1

# Control: plain Basic auth through mod_authn_dbd, which holds its
# connection until the request ends.
ScriptAlias /pinned/ "\@DIR\@/cgi-bin/env.cgi/"
<Location /pinned>
    AuthType Basic
    AuthName "control"
    AuthBasicProvider dbd
    AuthDBDUserPWQuery "SELECT '$pw_hash' WHERE %s IS NOT NULL"
    Require valid-user
</Location>
EOC
)->start;

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->make_repo('PROJ', 'repo');
my $tok = $env->token_create('alice', name => 'pin');
my $fast = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $auth = { Authorization => "Bearer $tok" };

is_ok_res($env->get($fast, $auth), 'control: a fast request');
is_ok_res($env->get('/pinned/x', { Authorization => $env->basic('alice', 'password') }),
          'control: mod_authn_dbd location works');

# Start a slow request in the background; return its pid.
sub slow_request {
    my ($path, $hdr) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url($path), { headers => $hdr });
        POSIX::_exit($r->{status} == 200 ? 0 : 1);
    }
    return $pid;
}

# How long a database-needing request takes while $path is being served.
sub time_behind {
    my ($path, $hdr) = @_;
    my $pid = slow_request($path, $hdr);
    sleep 1;    # let it authenticate and reach the CGI
    my $t0 = time;
    my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url($fast), { headers => $auth });
    my $dt = time - $t0;
    waitpid($pid, 0);
    my $slow_ok = $? == 0;
    return ($dt, $r, $slow_ok);
}

my ($dt, $r, $slow_ok) = time_behind('/pinned/slow', { Authorization => $env->basic('alice', 'password') });
ok($slow_ok, 'control: the slow mod_authn_dbd request succeeded');
is_ok_res($r, 'control: the request behind it succeeded');
cmp_ok($dt, '>', 2, sprintf('control: behind a pinned connection it waited (%.1f s)', $dt));

($dt, $r, $slow_ok) = time_behind('/env/PROJ/slow.git/info/refs?service=git-upload-pack', $auth);
ok($slow_ok, 'the slow request through mod_bbtoken succeeded');
is_ok_res($r, 'the request behind it succeeded');
cmp_ok($dt, '<', 1.5, sprintf('mod_bbtoken does not pin its connection: the second request took %.2f s', $dt));

done_testing;
