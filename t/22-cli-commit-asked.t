# A CLI write whose COMMIT's answer the connection loses, and what the CLI,
# connected again, learns of it from PostgreSQL (cli/xact.c).  It said
# "whether it took effect is not known (look before running it again)"
# whatever had become of the transaction; for `create` and `rotate`, whose
# token is printed before the COMMIT, the administrator could not tell a
# live token from one that never was.  Now:
#   aborted       "not done", nothing changed, safe to run again: the
#                 token printed is refused, a rotated one still works;
#   in progress   (its COMMIT waiting for a synchronous standby) past the
#                 session's lock_timeout: not known, as before, saying why;
#   committed     but the rows do not show this write (another
#                 transaction given its id, as after a backend's crash):
#                 not known, not "done".
# (Committed and shown: t/22-cli-commit-lost.)
#
# The CLI reaches PostgreSQL through a relay, a child per connection.  The
# child of the CLI's first connection after the test arms it (a file) acts
# on the CLI's first COMMIT:
#   drop          keeps it from PostgreSQL and closes PostgreSQL's side,
#                 then the CLI's: the transaction aborts;
#   hang          hands it to PostgreSQL and closes the CLI's side at once,
#                 keeping PostgreSQL's until the COMMIT is answered;
#   swap ID       drop, having given the CLI transaction ID's id in place
#                 of its own where it read it.
# The CLI's connection made again goes through an unarmed child.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep);
use BBT::Env qw(auth_bearer);
use BBT::Util qw(free_port slurp spew listen_forking);

my $env = BBT::Env->new->start;
my $RUN = $env->dir . '/run';
my $ARM = "$RUN/arm";
my $port = free_port();
my $pgport = $env->pg_port;
# The server's start, as the CLI reads it before its COMMIT (BBT_XACT_SERVER).
my $START = $env->psql('SELECT extract(epoch FROM pg_postmaster_start_time())::text');

my $relay = listen_forking($port, \&relay);
END { kill 'TERM', $relay if $relay; }

# $buf from PostgreSQL with the row the CLI reads before its COMMIT (four
# columns: the transaction's id, the server's start, its own start, and
# whether it wrote to the audit trail where that is asked) made
# to say $y for the id: the new buffer and the id replaced, or $buf alone
# where it holds no such row.
sub swap {
    my ($buf, $y) = @_;
    return ($buf) unless $buf =~ /D(....)\0\x04\0\0\0(.)(\d+)\0\0\0(.)\Q$START\E/s
        && ord($2) == length($3) && ord($4) == length($START);
    my ($len, $x, $q, $at) = (unpack('N', $1), $3, $-[0], $-[3]);
    substr($buf, $at, length($x), $y);
    substr($buf, $at - 1, 1, chr(length($y)));
    substr($buf, $q + 1, 4, pack('N', $len + length($y) - length($x)));
    return ($buf, $x);
}

sub relay {
    my ($c) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $pgport) or return;
    local $SIG{TERM} = 'DEFAULT';
    my $arm = -e $ARM ? slurp($ARM) : '';
    unlink $ARM if $arm;
    my ($mode, $y) = split ' ', $arm;
    $mode //= '';
    my ($from_client, $started, $swapped, $answer) = ('', 0, 0, '');
    my $sel = IO::Select->new($c, $s);
    while (1) {
        for my $h ($sel->can_read) {
            my $n = sysread($h, my $buf, 65536);
            return if !$n;
            if ($h == $s) {
                if ($mode eq 'swap' && !$swapped) {
                    ($buf, $swapped) = swap($buf, $y);
                    spew("$RUN/swapped", $swapped) if $swapped;
                }
                if ($mode eq 'hung') {
                    # The CLI's side is closed: PostgreSQL's answers are
                    # read until the COMMIT's is done.
                    $answer .= $buf;
                    return if $answer =~ /Z\0\0\0\x05[ITE]\z/;
                    next;
                }
                syswrite($c, $buf) // return;
                next;
            }
            # The client's messages, whole: the startup packet (no type
            # byte), then a type byte and a length each.
            $from_client .= $buf;
            while (1) {
                my $head = $started ? 5 : 4;
                last if length($from_client) < $head;
                my $len = unpack('N', substr($from_client, $started ? 1 : 0, 4)) + ($started ? 1 : 0);
                last if length($from_client) < $len;
                my $msg = substr($from_client, 0, $len, '');
                if ($started && $msg =~ /\AQ....COMMIT\0/s && $mode =~ /\A(?:drop|swap|hang)\z/) {
                    spew("$RUN/cut", $mode);
                    if ($mode eq 'hang') {
                        syswrite($s, $msg) // return;
                        close $c;
                        $sel->remove($c);
                        $mode = 'hung';
                        last;
                    }
                    close $s;
                    close $c;
                    return;
                }
                $started = 1;
                syswrite($s, $msg) // return;
            }
        }
    }
}

my $CUT = "host=127.0.0.1 port=$port dbname=bbtoken user=postgres sslmode=disable gssencmode=disable"
        . ' connect_timeout=5';
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
sub git { $env->get($UP, auth_bearer($_[0]))->{status} }
sub live_id { $env->psql("SELECT id FROM bbtoken_tokens WHERE name = '$_[0]' AND revoked_at IS NULL") }

# bbtoken @args through the relay armed with $arm: (rc, stdout, stderr),
# and whether the relay acted.
sub cut {
    my ($arm, @args) = @_;
    unlink "$RUN/cut", "$RUN/swapped";
    spew($ARM, $arm);
    my @r = $env->cli_raw('--db', $CUT, @args);
    ok(-e "$RUN/cut", "the relay acted on the COMMIT ($arm)");
    return @r;
}

subtest 'control: through the relay, unarmed, create works' => sub {
    my ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'create', 'alice', '--name', 'control');
    is($rc, 0, 'create') or diag $err;
    chomp $out;
    is(git($out), 200, '  its token works');
};

subtest 'the COMMIT kept from PostgreSQL: not done' => sub {
    my ($rc, $out, $err) = cut('drop', 'create', 'alice', '--name', 'dropped');
    is($rc, 1, 'create: exit 1');
    like($out, qr/^BBDC-\S+\n\z/, '  the token printed');
    chomp(my $tok = $out);
    like($err, qr/^bbtoken: committing the token \(the token printed is not valid\): not done: the connection was lost at its COMMIT \([^\n]*\), and connected again, the database says its transaction \d+ did not commit: nothing was changed \(safe to run again\)\n\z/,
         '  it says not done, safe to run again') or diag $err;
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name = 'dropped'"), 0, '  in the database: no token');
    is(git($tok), 401, '  the token printed is refused');
    ($rc, $out, $err) = $env->cli('create', 'alice', '--name', 'dropped');
    is($rc, 0, '  run again, it is made') or diag $err;

    my ($old) = $env->token_create('alice', name => 'ci');
    my $old_id = live_id('ci');
    ($rc, $out, $err) = cut('drop', 'rotate', $old_id);
    is($rc, 1, 'rotate: exit 1');
    chomp(my $new = $out);
    like($err, qr/^bbtoken: committing the rotation \(the token printed is not valid; the old one still is\): not done: .*database says its transaction \d+ did not commit: nothing was changed \(safe to run again\)\n\z/,
         '  it says not done') or diag $err;
    is(live_id('ci'), $old_id, '  in the database: the old token live');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE rotated_from = '$old_id'"), 0, '  and no new one');
    is(git($old), 200, '  the old token works');
    is(git($new), 401, '  the token printed is refused');

    ($rc, $out, $err) = cut('drop', 'revoke', $old_id);
    is($rc, 1, 'revoke: exit 1');
    like($err, qr/^bbtoken: revoking the token: not done: .*database says its transaction \d+ did not commit: nothing was changed \(safe to run again\)\n\z/,
         '  it says not done') or diag $err;
    is(git($old), 200, '  the token still works');
};

subtest 'the COMMIT waits for a synchronous standby past lock_timeout: not known' => sub {
    local $ENV{PGOPTIONS} = '-c synchronous_commit=local';
    $env->pg_syncrep(1);
    unlink "$RUN/cut";
    spew($ARM, 'hang');
    my ($rc, $out, $err) = $env->cli_env({ PGOPTIONS => '-c lock_timeout=1s' }, '--db', $CUT, 'create', 'alice',
                                         '--name', 'pending');
    ok(-e "$RUN/cut", 'the relay cut the CLI\'s side at its COMMIT');
    is($env->psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"), 1,
       '  whose backend still waits for the standby');
    is($rc, 1, 'create: exit 1');
    chomp(my $tok = $out);
    my ($id) = $err =~ /the token printed is token (\d+)/;
    like($err, qr/^bbtoken: the connection was lost at the token's COMMIT, so whether it was created is not known: if `bbtoken audit --token ID` shows it created, the token printed is valid; the token printed is token \d+ \([^\n]*\); the database could not say: transaction \d+ was still in progress after 1s \(lock_timeout\)\n\z/,
         '  it says not known, and why') or diag $err;
    $env->pg_syncrep(0);
    my $made = 0;
    for (1 .. 1200) {
        last if ($made = $env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name = 'pending'")) > 0;
        sleep 0.05;
    }
    is($made, 1, 'the standby given up, the create lands');
    is(live_id('pending'), $id // 'none', '  as the token the message named');
    is(git($tok), 200, '  and the token printed works, as the message allowed');
};

subtest 'another transaction committed with its id: not known, not done' => sub {
    my $y = $env->psql('SELECT pg_current_xact_id()');
    my ($rc, $out, $err) = cut("swap $y", 'create', 'alice', '--name', 'ghost');
    my $x = slurp("$RUN/swapped");
    ok($x && $x ne $y, "its transaction $x given to the CLI as $y, which committed");
    is($rc, 1, 'create: exit 1');
    chomp(my $tok = $out);
    like($err, qr/^bbtoken: the connection was lost at the token's COMMIT, so whether it was created is not known: .*the token printed is token (\d+) \([^\n]*\); the database could not say: transaction $y committed, but the database does not hold token \1: its id may have been given again to another transaction after a crash lost this one\n\z/,
         '  it says not known, and why') or diag $err;
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name = 'ghost'"), 0, '  in the database: no token');
    is(git($tok), 401, '  the token printed is refused');

    my ($old) = $env->token_create('alice', name => 'victim');
    my $old_id = live_id('victim');
    $y = $env->psql('SELECT pg_current_xact_id()');
    ($rc, $out, $err) = cut("swap $y", 'revoke', $old_id);
    is($rc, 1, 'revoke: exit 1');
    like($err, qr/^bbtoken: revoking the token: the connection was lost at its COMMIT \([^\n]*\), so whether it took effect is not known \(look before running it again\); the database could not say: transaction $y committed, but the database does not hold its records in the audit trail/,
         '  it says not known, and why') or diag $err;
    is(git($old), 200, '  the token still works');
};

is($env->psql('SHOW synchronous_standby_names'), '', 'synchronous_standby_names is reset');
done_testing;
