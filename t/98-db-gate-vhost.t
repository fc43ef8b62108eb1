# mod_dbd gives two servers one pool when their pool's settings have the
# same values, however they are spelled: an explicit "DBDPersist On", or a
# DBDMax equal to the default, or "02" for "2", is the same pool as the
# main server's unset one.  The module's bound on the wait for a pooled
# connection (BBTokenDBWait) counts per pool, so it must see them as one:
# else each counts half the truth, together they ask for more connections
# than the pool has, and the rest wait in mod_dbd without end.  One child,
# DBDMax 2, a virtual host that spells the main server's pool otherwise;
# the token table locked (no statement_timeout) so that two requests hold
# both connections: a request to the virtual host is 503 with Retry-After
# after BBTokenDBWait, never left hanging, and the metrics count it among
# the requests that had no database connection.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(sleep);
use BBT::Env qw(auth_bearer in_children);
use BBT::Assert;

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my @port = map { BBT::Util::free_port() } 1 .. 3;
# The token cache off: every request needs a pooled connection.
my $extra = "BBTokenCache off\nDBDMax 2\nBBTokenDBWait 2\n"
    . "<Location /metrics>\n    SetHandler bbtoken-metrics\n</Location>\n"
    . "Listen 127.0.0.1:$port[0]\n<VirtualHost 127.0.0.1:$port[0]>\n    DBDPersist On\n</VirtualHost>\n"
    . "Listen 127.0.0.1:$port[1]\n<VirtualHost 127.0.0.1:$port[1]>\n    DBDMax 02\n</VirtualHost>\n"
    . "Listen 127.0.0.1:$port[2]\n<VirtualHost 127.0.0.1:$port[2]>\n    DBDKeep 2\n    DBDMin 1\n</VirtualHost>\n";
my $one_child = BBT::Util::one_child_mpm(32);
# No statement_timeout: a query behind a lock waits for the lock.
my $env = BBT::Env->new(extra_conf => $extra, mpm_conf => $one_child, dbd_options => '')->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'ci');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
sub url_on { my ($port) = @_; return "http://127.0.0.1:$port$UP" }
# The metrics' count of requests that had no database connection.
sub connection_errors {
    my $m = HTTP::Tiny->new(timeout => 20)->get($env->url('/metrics'))->{content} // '';
    return $m =~ /^bbtoken_db_errors_total\{kind="connection"\} (\d+)$/m ? $1 : -1;
}

sub lock_tokens { $env->lock_tables('bbtoken_lookup') }
sub unlock_tokens { $env->unlock_tables }
sub waiting_on_lock { $env->waiting_on_lock('bbtoken_httpd') }

for my $i (0 .. $#port) {
    is_ok_res(HTTP::Tiny->new(timeout => 20)->get(url_on($port[$i]), { headers => auth_bearer($tok) }),
              "control: the virtual host on port $i answers");
}

for my $i (0 .. $#port) {
    subtest "both connections held by the main server; a request to virtual host $i" => sub {
        lock_tokens();
        my @holders;
        for (1 .. 2) {
            my $pid = fork // die "fork: $!";
            if (!$pid) {
                my $r = HTTP::Tiny->new(timeout => 120, keep_alive => 0)
                    ->get($env->url($UP), { headers => auth_bearer($tok) });
                POSIX::_exit($r->{status} == 200 ? 0 : 1);
            }
            push @holders, $pid;
        }
        my $n = 0;
        for (1 .. 100) { last if ($n = waiting_on_lock()) >= 2; sleep 0.1 }
        is($n, 2, 'two requests hold both connections, waiting for the lock');
        my $before = connection_errors();
        # A client that gives up after 15 s, seven times the bound, met a hang.
        my $r = HTTP::Tiny->new(timeout => 15, keep_alive => 0)->get(url_on($port[$i]), { headers => auth_bearer($tok) });
        is_503($r, 'the virtual host: 503 after BBTokenDBWait, not a hang');
        is(connection_errors() - $before, 1, '  counted as a request without a database connection (the metrics)');
        unlock_tokens();
        my $ok = 0;
        for my $pid (@holders) { waitpid($pid, 0); $ok++ if $? == 0 }
        is($ok, 2, 'the lock gone, the two holders are served');
    };
}

is(scalar($env->crash_lines), 0, 'no child crashed') or diag join "\n", $env->crash_lines;
done_testing;
