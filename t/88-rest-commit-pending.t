# A write of the access-tokens API whose COMMIT's answer is lost while its
# backend lives on, the transaction still in progress: a network cut that
# only httpd's side of the connection saw (or a pooler that dropped it)
# while the COMMIT waited for a synchronous standby.  No other session
# sees the write's rows until the wait ends, so the handler, connected
# again and looking for them, answered 503 "try again later" (BBT200, "not
# done") and wiped a create's or a rotation's new secret; then the standby
# came and the write landed: a live token nobody had the secret of, or an
# old token revoked and its replacement's secret lost.  Now the handler
# asks PostgreSQL what became of the write's transaction, and asks again
# while it is in progress, for BBTokenDBWait's seconds: committed by then,
# the write is answered as done, with the new secret (BBT281); still in
# progress, 503 saying that whether it took effect is not known, naming
# the tokens (BBT282).
#
# httpd reaches PostgreSQL through a relay here, a child per connection;
# told to (SIGUSR1), a child closes httpd's side and keeps PostgreSQL's
# open, untouched, as a cut the server does not notice.  The COMMIT waits
# for a standby named nosuch that never comes (synchronous_standby_names,
# reset once the case is over); pg_stat_activity says when it waits, and
# when the handler asks about its transaction: no sleep decides anything.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep);
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Rest qw(rest_location rest_writes);
use BBT::Util qw(free_port slurp spew listen_forking);

my $REST = rest_location('basic');
my $env = BBT::Env->new(httpd => 0, api_conf => "BBTokenDBWait 300\n$REST",
                        modules => [qw(auth_basic authn_file authz_user)])->start;
my $RUN = $env->dir . '/run';
my $port = free_port();
my $pgport = $env->pg_port;

# The relay: each connection in a child of its own, which notes its pid
# under the port of its connection to PostgreSQL (pg_stat_activity's
# client_port of the backend).
my $relay = listen_forking($port, \&relay);

sub relay {
    my ($c) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $pgport) or return;
    my $cut = 0;
    local $SIG{USR1} = sub { $cut = 1 };
    local $SIG{TERM} = 'DEFAULT';
    spew("$RUN/relay-" . $s->sockport, $$);
    my $sel = IO::Select->new($c, $s);
    until ($cut) {
        for my $h ($sel->can_read) {
            last if $cut;
            my $n = sysread($h, my $buf, 65536);
            return if !$n;
            syswrite($h == $s ? $c : $s, $buf) // return;
        }
    }
    # httpd's side closed; PostgreSQL's drained and kept until the server
    # closes it.
    close $c;
    1 while sysread($s, my $buf, 65536);
    unlink "$RUN/relay-" . $s->sockport;
}

END {
    if ($relay) {
        kill 'TERM', $relay;
        kill 'TERM', map { slurp($_) } glob("$RUN/relay-*");
    }
}

# httpd's pools connect through the relay.
sub httpd_via_relay {
    my (%o) = @_;
    local $env->{pgport} = $port;
    return $env->{httpd_pid} ? $env->httpd_restart(%o) : $env->httpd_start;
}
httpd_via_relay();

$env->htpasswd(alice => 'alice-Pa55-word');
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $W = rest_writes($env, 'alice');
$ENV{PGOPTIONS} = '-c synchronous_commit=local';

# Polls $sql (a count) until it is positive or $done() holds: 1 if it
# was, else 0; a minute at most.
sub until_seen {
    my ($sql, $done) = @_;
    for (1 .. 1200) {
        return 1 if $env->psql($sql) > 0;
        return 0 if $done->();
        sleep 0.05;
    }
    return 0;
}

# $call (a REST call) with its COMMIT waiting for the standby when the
# relay cuts httpd's side of the connection.  back => 1: the standby
# comes once the handler asks what became of the transaction; else only
# after the answer.  Returns the answer {status, json, message} and the
# error log's lines meanwhile.
my $n = 0;
sub pending {
    my ($what, $call, %o) = @_;
    $env->pg_syncrep(1);
    my $mark = log_mark($env->error_log_path);
    my $file = "$RUN/answer-" . ++$n;
    my $child = fork // die "fork: $!";
    if (!$child) {
        my $r = $call->();
        spew("$file.part", encode_json({ status => $r->{status}, content => $r->{content} // '' }));
        rename "$file.part", $file;
        POSIX::_exit(0);
    }
    my $answered = sub { -e $file };
    my $pid = 0;
    ok(until_seen("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_api' AND wait_event = 'SyncRep'",
                  $answered), "$what: its COMMIT waits for the standby")
        and $pid = $env->psql("SELECT pid FROM pg_stat_activity WHERE usename = 'bbtoken_api'"
                              . " AND wait_event = 'SyncRep' LIMIT 1");
    if ($pid) {
        my $cport = $env->psql("SELECT client_port FROM pg_stat_activity WHERE pid = $pid");
        kill 'USR1', slurp("$RUN/relay-$cport");
    }
    if ($o{back}) {
        ok(until_seen("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_api' AND pid <> $pid"
                      . " AND query LIKE '%pg_xact_status%'", $answered),
           '  the handler asks what became of its transaction');
        is($env->psql("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND wait_event = 'SyncRep'"), 1,
           '  while the old backend still waits for the standby');
        $env->pg_syncrep(0);
    }
    waitpid $child, 0;
    my $r = decode_json(slurp($file));
    $env->pg_syncrep(0) unless $o{back};
    $r->{json} = eval { decode_json($r->{content}) } || {};
    $r->{message} = join ' ', map { $_->{message} // '' } @{ $r->{json}{errors} || [] };
    return ($r, join("\n", log_lines_since($env->error_log_path, $mark)));
}

sub live_id { $env->psql("SELECT id FROM bbtoken_tokens WHERE name = '$_[0]' AND revoked_at IS NULL") }
sub revoked { $env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$_[0]'") eq 't' }
sub git { $env->get($UP, auth_bearer($_[0]))->{status} }

subtest 'control: through the relay, uncut, the API writes' => sub {
    my $r = $W->{create}->('control')->();
    is($r->{status}, 200, 'create 200') or diag res_summary($r);
    is(git($r->{json}{token}), 200, '  its token works');
};

subtest 'the standby comes while the handler asks: answered as done' => sub {
    my ($r, $log) = pending('create', $W->{create}->('made'), back => 1);
    my $id = live_id('made');
    ok($id, "in the database: token $id");
    is($r->{status}, 200, 'create: 200, not 503') or diag $r->{content};
    is($r->{json}{id}, $id, '  the token made');
    is(git($r->{json}{token}), 200, '  whose secret, in the answer, works');
    like($log, qr/BBT281: access-tokens API: creating a token: the connection was lost at its COMMIT .*says its transaction \d+ committed \(token $id\)/,
         '  BBT281') or diag $log;
    unlike($log, qr/BBT200|BBT282/, '  no BBT200, no BBT282');

    my ($old, $old_id) = $env->token_create('alice', name => 'ci');
    ($r, $log) = pending('rotate', $W->{rotate}->($old_id), back => 1);
    my $new_id = $env->psql("SELECT id FROM bbtoken_tokens WHERE rotated_from = '$old_id' AND revoked_at IS NULL");
    ok(revoked($old_id) && $new_id, "in the database: $old_id revoked, $new_id made");
    is($r->{status}, 200, 'rotate: 200, not 503') or diag $r->{content};
    is($r->{json}{id}, $new_id, '  the new token');
    is(git($r->{json}{token}), 200, '  whose secret, in the answer, works');
    is(git($old), 401, '  the old one is refused');
    like($log, qr/BBT281: access-tokens API: rotating a token: .*committed \(token $old_id into token $new_id\)/, '  BBT281')
        or diag $log;
};

subtest 'the standby comes after BBTokenDBWait: not known, naming the tokens' => sub {
    httpd_via_relay(api_conf => "BBTokenDBWait 1\n$REST");
    my ($r, $log) = pending('create', $W->{create}->('late'));
    ok(until_seen("SELECT count(*) FROM bbtoken_tokens WHERE name = 'late'", sub { 0 }),
       'the create lands once the standby comes');
    my $id = live_id('late');
    ok($id, "  in the database: token $id");
    is($r->{status}, 503, 'create: 503');
    like($r->{message}, qr/whether token $id was created is not known\. If it is listed, it was, but its secret cannot be shown again: revoke it/,
         '  saying that the outcome is not known, naming the token') or diag $r->{content};
    ok(!exists $r->{json}{token}, '  no secret');
    like($log, qr/BBT282: access-tokens API: creating a token: .*whether it took effect is not known \(token $id\): the database could not say: transaction \d+ was still in progress after 1 s \(BBTokenDBWait\)/,
         '  BBT282, with why') or diag $log;
    unlike($log, qr/BBT200|BBT281/, '  no BBT200, no BBT281');

    my ($old, $old_id) = $env->token_create('alice', name => 'ci2');
    ($r, $log) = pending('rotate', $W->{rotate}->($old_id));
    ok(until_seen("SELECT count(*) FROM bbtoken_tokens WHERE id = '$old_id' AND revoked_at IS NOT NULL", sub { 0 }),
       'the rotation lands once the standby comes');
    my $new_id = $env->psql("SELECT id FROM bbtoken_tokens WHERE rotated_from = '$old_id'");
    ok(revoked($old_id) && $new_id, "  in the database: $old_id revoked, $new_id made");
    is($r->{status}, 503, 'rotate: 503');
    like($r->{message}, qr/whether token $old_id was rotated into token $new_id is not known\. If token $old_id is still listed, it was not rotated and is still valid; if token $new_id is listed instead, its secret cannot be shown again/,
         '  saying that the outcome is not known, naming both tokens') or diag $r->{content};
    like($log, qr/BBT282: access-tokens API: rotating a token: .*\(token $old_id into token $new_id\): .*still in progress/,
         '  BBT282') or diag $log;
};

is($env->psql('SHOW synchronous_standby_names'), '', 'synchronous_standby_names is reset');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
