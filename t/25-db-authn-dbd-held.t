# A password user checked by mod_authn_dbd (AuthBBTokenProvider dbd) on a
# server whose mod_dbd pool it shares: mod_authn_dbd holds its connection
# until the request ends (ap_dbd_acquire), and the module then reads the
# user's grants.  Asking the pool for a second connection there waits for
# ever once every connection is so held (mod_dbd's pool has no deadline,
# and BBTokenDBWait counts only the module's own): with DBDMax 1, the very
# first request; with more, as many such requests at once.  The module
# uses the connection the request holds already.  Under prefork too:
# Debian's APR has threads, so mod_dbd keeps a pool of DBDMax there as
# well.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha1_base64);
use HTTP::Tiny;
use POSIX ();
use BBT::Env;
use BBT::Assert;

my $pw_hash = '{SHA}' . sha1_base64('password') . '=';
my %MPM = (event   => BBT::Util::one_child_mpm(8),
           prefork => "StartServers 1\nServerLimit 1\nMinSpareServers 1\nMaxSpareServers 1\n"
                    . "MaxRequestWorkers 1\n");
for my $mpm ('event', 'prefork') {
    subtest "$mpm MPM" => sub { run($mpm) };
}
done_testing;

sub run {
    my ($mpm) = @_;
    my $env = BBT::Env->new(
        mpm        => $mpm,
        modules    => [qw(auth_basic authn_dbd authz_user)],
        mpm_conf   => $MPM{$mpm},
        extra_conf => <<"EOC",
BBTokenCache off
BBTokenDBWait 2
DBDMin 0
DBDKeep 1
DBDMax 1
ScriptAlias /pw/ "\@DIR\@/cgi-bin/env.cgi/"
<Location /pw>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider dbd
    AuthDBDUserPWQuery "SELECT '$pw_hash' WHERE %s IS NOT NULL"
    BBTokenRoutes git /pw
    Require bbtoken
</Location>
EOC
    )->start;

    $env->user_add('alice');
    $env->grant('alice', 'PROJECT_READ', 'PROJ');
    $env->make_repo('PROJ', 'repo');
    my $auth = $env->basic('alice', 'password');
    # A client's limit, not an assertion of time: a request that waits for
    # a second connection never ends, and 599 says so.
    my $http = HTTP::Tiny->new(timeout => 30);
    my $get = sub {
        my ($path) = @_;
        return $http->get($env->url($path), { headers => { Authorization => $auth } });
    };

    my $r = $get->('/pw/PROJ/repo.git/info/refs?service=git-upload-pack');
    is($r->{status}, 200, 'DBDMax 1: a password user\'s read is answered (200), not left waiting')
        or diag "$r->{status} $r->{reason}";
    $r = $get->('/pw/PROJ/repo.git/info/refs?service=git-receive-pack');
    # A password user refused is asked again (401), as httpd asks one.
    is($r->{status}, 401, '  and a push refused: the grants read on the connection the request holds')
        or diag "$r->{status} $r->{reason}";
    like($env->error_log_text, qr/BBT054: user alice: GET \S+ needs REPO_WRITE on PROJ\/repo/,
         '  for want of REPO_WRITE (BBT054)');

    # Several at once, each holding mod_authn_dbd's one connection in turn.
    my @kids;
    for my $i (1 .. 6) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $st = $get->('/pw/PROJ/repo.git/info/refs?service=git-upload-pack')->{status};
            POSIX::_exit($st == 200 ? 0 : 1);
        }
        push @kids, $pid;
    }
    my $bad = 0;
    for my $pid (@kids) {
        waitpid $pid, 0;
        $bad++ if $?;
    }
    is($bad, 0, 'six at once: each answered 200');
    is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
}
