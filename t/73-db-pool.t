# mod_dbd's pool never makes a login wait without end.  One child, DBDMax 2:
#   - a dozen slow PUTs to the access-tokens API (headers sent, the body
#     trickling in) hold no pooled connection while their bodies arrive, so
#     token and password requests on the same child still answer;
#   - with every pooled connection stuck in the database (a table locked, no
#     statement_timeout), further requests wait BBTokenDBWait for one and
#     are answered 503 with Retry-After, never left hanging;
#   - a table locked past statement_timeout: 503 with Retry-After;
#   - BBTokenDBWait unset waits its default of 5 s (the log says the
#     wait), and takes 0 to 300 seconds, digits only.
# "Hanging" is seen as a client giving up long after the module's bounds.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);
use BBT::Env qw(b64 in_children);
use BBT::Assert;
use BBT::Rest qw(rest_env);

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

# The token cache off: a token answered from memory takes no pooled
# connection, and this is about what happens when one is needed.
my $extra = <<'EOC';
BBTokenCache off
DBDMax 2
BBTokenDBWait 2
# Password users beside tokens on the git location: their grants are read
# from the database too.
<Location /scm>
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
</Location>
EOC
my $one_child = BBT::Util::one_child_mpm(32);
# No statement_timeout: a query behind a lock waits for the lock.
my $pw = 'alice-Pa55-word';
my $env = rest_env(login => 'bbtoken', extra_conf => $extra, env => { mpm_conf => $one_child, dbd_options => '' },
                   passwords => [alice => $pw], repos => [['PROJ', 'repo']], users => ['alice'],
                   grants => [['alice', 'PROJECT_WRITE', 'PROJ']]);
my $tok = $env->token_create('alice', name => 'ci');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my %probe = (token => { Authorization => "Bearer $tok" }, password => { Authorization => $env->basic('alice', $pw) });

# 200, or 503 with Retry-After: an answer.  A client that gives up (599)
# after 20 seconds, ten times the module's bound, met a hang.
sub answers {
    my ($res, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = $res->{status} == 200 || ($res->{status} == 503 && ($res->{headers}{'retry-after'} // '') =~ /^\d+$/);
    ok($ok, "$name: answered ($res->{status})") or diag res_summary($res);
}
my $ua = HTTP::Tiny->new(timeout => 20, keep_alive => 0);
sub probe { return $ua->get($env->url($UP), { headers => $probe{ $_[0] } }) }

subtest 'a dozen slow request bodies hold no database connection' => sub {
    my $body = JSON::PP->new->encode({ name => 'slow', permissions => ['REPO_READ'] });
    my @slow;
    for my $i (1 .. 12) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $env->port, Proto => 'tcp')
            or BAIL_OUT("connect: $!");
        $s->autoflush(1);
        print $s "PUT /rest/access-tokens/1.0/users/alice HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            . "Authorization: " . $env->basic('alice', $pw) . "\r\nContent-Type: application/json\r\n"
            . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n" . substr($body, 0, 1);
        push @slow, $s;
    }
    # The bodies trickle on, a byte each, while the probes run.
    my $sent = 1;
    my $trickle = sub { print $_ substr($body, $sent, 1) for @slow; $sent++ };
    sleep 1;
    for my $round (1 .. 3) {
        $trickle->();
        answers(probe('token'), "round $round, a token request");
        answers(probe('password'), "round $round, a password request");
    }
    is(probe('token')->{status}, 200, 'token requests are served, not refused');
    # Now let them finish: each is a good request.
    for my $s (@slow) { print $s substr($body, $sent) }
    my $done = 0;
    for my $s (@slow) {
        local $/;
        my $reply = <$s> // '';
        $done++ if $reply =~ m{^HTTP/1\.1 (200|400) };
        close $s;
    }
    is($done, 12, 'and the slow PUTs are answered once their bodies are in');
};

# Tables locked (the token lookup's, and the users' that a password user's
# grants are read with) from a session of our own until released.
sub lock_tables { $env->lock_tables(@_) }
sub unlock_tables { $env->unlock_tables }
sub waiting_on_lock { $env->waiting_on_lock('bbtoken_api') }

subtest 'every pooled connection stuck: 503 with Retry-After after BBTokenDBWait, never a hang' => sub {
    lock_tables('bbtoken_lookup');
    # Two requests take both of the child's connections and wait in the
    # database for the lock.
    my @holders;
    for my $i (1 .. 2) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $r = HTTP::Tiny->new(timeout => 120, keep_alive => 0)
                ->get($env->url($UP), { headers => $probe{token} });
            POSIX::_exit($r->{status} == 200 ? 0 : 1);
        }
        push @holders, $pid;
    }
    my $n = 0;
    for (1 .. 100) { last if ($n = waiting_on_lock()) >= 2; sleep 0.1 }
    is($n, 2, 'two requests hold both connections, waiting for the lock');
    my $mark = log_mark($env->error_log_path);
    my @st = in_children(4, sub {
        my $r = HTTP::Tiny->new(timeout => 20, keep_alive => 0)
            ->get($env->url($UP), { headers => $probe{ $_[0] % 2 ? 'token' : 'password' } });
        return $r->{status} == 503 && ($r->{headers}{'retry-after'} // '') =~ /^\d+$/ ? 0 : 1;
    });
    is(scalar(grep { $_ != 0 } @st), 0, 'four more requests (tokens and passwords): each 503 with Retry-After');
    like(join("\n", log_lines_since($env->error_log_path, $mark)),
         qr/BBT350: no database connection within 2 s \(BBTokenDBWait\): all 2 of this child's \(DBDMax\)/,
         'logged: the wait, and the pool\'s size');
    unlock_tables();
    my $ok = 0;
    for my $pid (@holders) { waitpid($pid, 0); $ok++ if $? == 0 }
    is($ok, 2, 'the lock gone, the two holding connections are served (200)');
    is(probe('token')->{status}, 200, 'and the pool serves again');
};

subtest 'a table locked past statement_timeout: 503' => sub {
    $env->httpd_restart(graceful => 1, dbd_options => '-cstatement_timeout=1000');
    lock_tables('bbtoken_lookup', 'bbtoken_users');
    my $r = probe('token');
    is_503($r, 'a token request');
    is_503(probe('password'), 'a password request (its user\'s grants are read too)');
    unlock_tables();
    is_ok_res(probe('token'), 'unlocked: 200');
};

subtest 'BBTokenDBWait: 5 s unless set; 0 to 300' => sub {
    (my $conf = $env->{extra_conf}) =~ s/^BBTokenDBWait 2\n//m or die 'no BBTokenDBWait 2';
    $env->httpd_restart(graceful => 1, dbd_options => '', extra_conf => $conf);
    lock_tables('bbtoken_lookup');
    my @holders = map {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $r = HTTP::Tiny->new(timeout => 120, keep_alive => 0)->get($env->url($UP), { headers => $probe{token} });
            POSIX::_exit($r->{status} == 200 ? 0 : 1);
        }
        $pid;
    } 1 .. 2;
    my $n = 0;
    for (1 .. 100) { last if ($n = waiting_on_lock()) >= 2; sleep 0.1 }
    is($n, 2, 'two requests hold both connections, waiting for the lock');
    my $mark = log_mark($env->error_log_path);
    is_503(HTTP::Tiny->new(timeout => 60, keep_alive => 0)->get($env->url($UP), { headers => $probe{token} }),
           'another: 503');
    like(join("\n", log_lines_since($env->error_log_path, $mark)),
         qr/BBT350: no database connection within 5 s \(BBTokenDBWait\)/, '  after the default wait, 5 s (BBT350)');
    unlock_tables();
    is(scalar(grep { waitpid($_, 0); $? == 0 } @holders), 2, 'the lock gone, the two holders are served');

    for my $ok (0, 300) {
        my ($rc, $out) = $env->config_test("BBTokenDBWait $ok\n");
        is($rc, 0, "BBTokenDBWait $ok: accepted") or diag $out;
    }
    for my $bad ('301', '-1', '5s', '1.5') {
        my ($rc, $out) = $env->config_test("BBTokenDBWait $bad\n");
        ok($rc != 0 && $out =~ /BBTokenDBWait: .* from 0 to 300/, "BBTokenDBWait $bad: refused") or diag $out;
    }
    my ($rc, $out) = $env->config_test("<Location /x>\n    BBTokenDBWait 5\n</Location>\n");
    ok($rc != 0 && $out =~ /not allowed/, 'not in a <Location>') or diag $out;
};

is(scalar($env->crash_lines), 0, 'no child crashed') or diag join "\n", $env->crash_lines;
done_testing;
