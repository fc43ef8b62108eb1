# A CLI write that changed nothing, its COMMIT's answer lost in a
# failover.  "Changed nothing" is judged by the rows of the server that
# ran it; connected again, the CLI went on saying "nothing was lost"
# without looking at which server it had reached, where every write it
# asks about compares the server's start with the one read before the
# COMMIT.  With --db naming a primary and then another server, a user
# disabled on the first and active on the second: `user disable carol`,
# a no-op on the first, said "so nothing was lost: connected again",
# exit 0, and carol was active on the server it now used.  Now the
# server connected to again is compared first: another one, and whether
# the write took effect is not known, exit 1, as for any write asked
# about there.  The failover: a standby of the cluster promoted (the rows
# it had then, carol active); the write's COMMIT waits on the cluster for
# a synchronous standby that never comes, and the CLI's connection to the
# cluster, through a relay that serves one connection and listens no
# more once it has it, is cut there, so that libpq's next try goes to the
# second server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use BBT::Env;
use BBT::Util qw(free_port slurp spew);

my $env = BBT::Env->new(httpd => 0)->start;
my $CUT = $env->dir . '/run/cut-relay';
$env->user_add('carol');

my $bport = $env->pg_standby;
ok($env->pg_standby_caught_up, 'a standby, caught up: carol active there') or BAIL_OUT('no standby');
$env->pg_standby_promote;
is($env->pg_standby_psql('SELECT pg_is_in_recovery()'), 'f', 'promoted: a server of its own');
$env->cli_ok('user', 'disable', 'carol');
is($env->psql("SELECT active FROM bbtoken_users WHERE name = 'carol'"), 'f', 'carol disabled on the first server');
is($env->pg_standby_psql("SELECT active FROM bbtoken_users WHERE name = 'carol'"), 't',
   '  and active on the second');

# A relay from a port of its own to the cluster for one connection: the
# port refuses any other once it has it, and it ends (both sockets
# closed) once $CUT exists.  Its pid.
sub relay_once {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $_[0], Listen => 1, ReuseAddr => 1)
        or die "listen: $!";
    my $pid = fork // die "fork: $!";
    if ($pid) {
        close $l;
        return $pid;
    }
    my $c = $l->accept or POSIX::_exit(1);
    close $l;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $env->pg_port) or POSIX::_exit(1);
    my $sel = IO::Select->new($c, $s);
    until (-e $CUT) {
        for my $h ($sel->can_read(0.05)) {
            my $n = sysread($h, my $buf, 65536);
            POSIX::_exit(0) if !$n;
            syswrite($h == $c ? $s : $c, $buf) // POSIX::_exit(0);
        }
    }
    POSIX::_exit(0);
}

subtest 'a user disabled again, its COMMIT lost, then the other server: not known' => sub {
    local $ENV{PGOPTIONS} = '-c synchronous_commit=local';
    my $rport = free_port();
    my $relay = relay_once($rport);
    # Both servers, the first first, as libpq tries them.
    my $db = "host=127.0.0.1,127.0.0.1 port=$rport,$bport dbname=bbtoken user=postgres"
           . ' sslmode=disable gssencmode=disable connect_timeout=5';
    my $f = $env->dir . '/run/cli-failover';
    $env->pg_syncrep(1);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my @r = $env->cli_env({ PGAPPNAME => 'bbt-failover', PGOPTIONS => undef }, '--db', $db,
                              'user', 'disable', 'carol');
        spew($f, join("\0", @r));
        POSIX::_exit(0);
    }
    ok($env->pg_wait_backend('bbt-failover', "wait_event = 'SyncRep'"),
       'its COMMIT waits for the standby on the first server');
    spew($CUT, '');
    waitpid($relay, 0);
    waitpid($pid, 0);
    $env->pg_syncrep(0);
    my ($rc, $out, $err) = split /\0/, slurp($f), -1;
    is($rc, 1, 'exit 1') or diag $err;
    like($err, qr/^bbtoken: changing the user: the connection was lost at its COMMIT \([^\n]*\), so whether it took effect is not known \(look before running it again\); the database could not say: the server connected to is not the one that ran transaction \d+ \(started at another time: another server, or restarted\)\n\z/,
         '  saying whether it took effect is not known, and why') or diag $err;
    unlike($err, qr/nothing was lost/, '  not that nothing was lost');
    is($env->pg_standby_psql("SELECT active FROM bbtoken_users WHERE name = 'carol'"), 't',
       'carol is active on the server it reached');
};

is($env->psql('SHOW synchronous_standby_names'), '', 'synchronous_standby_names is reset');
done_testing;
