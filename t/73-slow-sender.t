# A client that sends its request body slowly (a git push over a poor
# link) holds no pooled database connection while httpd waits for it: the
# module takes one for the login alone and gives it back before the
# handler reads the body.  With DBDMax 1 and the cache off (every token
# request needs the connection), a push whose body has stalled after its
# login does not keep the next request from being served (200), where a
# held connection would have it refused after BBTokenDBWait (503).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use BBT::Env;
use BBT::Assert;

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my $env = BBT::Env->new(mpm_conf => BBT::Util::one_child_mpm(8), extra_conf => <<'EOC')->start;
DBDMax 1
DBDKeep 1
BBTokenDBWait 2
BBTokenCache off
EOC
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $token = $env->token_create('alice', name => 'push');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $PUSH = '/scm/PROJ/repo.git/git-receive-pack';

is_ok_res($env->get($UP, { Authorization => "Bearer $token" }), 'the token is served');

# The push: headers, a few bytes of a large body, then nothing.
my $mark = log_mark($env->error_log_path);
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $env->port, Proto => 'tcp')
    or BAIL_OUT("connect: $!");
$s->autoflush(1);
print $s "POST $PUSH HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $token\r\n"
    . "Content-Type: application/x-git-receive-pack-request\r\nContent-Length: 1000000\r\n\r\n0000";
# Until the module has logged it in (BBT037 at debug): its connection
# would be held from then on, if it were.
my $in = 0;
for (my $deadline = time + 60; time < $deadline; sleep 0.05) {
    last if ($in = grep {m{BBT037: .* authenticated for \Q$PUSH\E}} log_lines_since($env->error_log_path, $mark));
}
ok($in, 'the stalled push is logged in');

my $res = $env->get($UP, { Authorization => "Bearer $token" });
is_ok_res($res, 'meanwhile another token request is served, not refused for want of a connection');
close $s;

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
