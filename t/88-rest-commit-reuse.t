# A write of the access-tokens API whose COMMIT's answer is lost, and whose
# transaction's id PostgreSQL, asked afterwards, says committed, though the
# write never was.  A backend's crash makes the postmaster end every
# backend and recover from the WAL without restarting itself (its start
# time unchanged), and it gives again the ids of transactions whose
# records never reached the disk: another transaction may commit with the
# lost write's id before the handler, connected again, asks about it.  The
# handler took "committed" as the write's: a create answered 200 with a
# secret for a token that does not exist, a revocation 204 while the token
# still works.  Now "committed" counts only with what the rows show of the
# write (the new token, the token revoked, the values the update asked),
# and otherwise the answer is 503 saying that whether it took effect is
# not known, naming the token (BBT282).
#
# The crash itself, and the id given again, cannot be timed here; what the
# handler meets then is made instead.  httpd reaches PostgreSQL through a
# relay, a child per connection.  Told to (a file, swap, naming a
# transaction that committed), the child that carries the write's result
# row gives httpd that transaction's id in place of the write's own
# (pg_current_xact_id's column, the one before the server's start), then
# keeps the COMMIT from PostgreSQL and closes PostgreSQL's side: the
# write's transaction aborts, and the handler, once the relay closes
# httpd's side too (a file, release), asks about an id that committed.
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
use BBT::Util qw(free_port in_background slurp spew listen_forking);

my $env = BBT::Env->new(httpd => 0, api_conf => rest_location('basic'),
                        modules => [qw(auth_basic authn_file authz_user)])->start;
my $RUN = $env->dir . '/run';
my $port = free_port();
my $pgport = $env->pg_port;
# The server's start as the write's statement reads it (BBT_XACT_SERVER):
# the column after the transaction's id.
my $START = $env->psql('SELECT extract(epoch FROM pg_postmaster_start_time())::text');

my $relay = listen_forking($port, \&relay);
END { kill 'TERM', $relay if $relay; }

# $buf from PostgreSQL with the write's transaction id (a text column of
# its own, followed by the server's start, the row's last) made $y,
# the row's and the column's lengths with it: the new buffer and the id
# replaced, or $buf and undef where it holds no such row.
sub swap {
    my ($buf, $y) = @_;
    return ($buf) unless $buf =~ /\0\0\0(.)(\d+)\0\0\0(.)\Q$START\E/s
        && ord($1) == length($2) && ord($3) == length($START);
    my ($x, $at, $end) = ($2, $-[2], $+[0]);
    for (my $q = $at - 5; $q >= 0; $q--) {
        # The DataRow ('D', its length counting itself) ending at $end.
        next unless substr($buf, $q, 1) eq 'D' && unpack('N', substr($buf, $q + 1, 4)) == $end - $q - 1;
        substr($buf, $at, length($x), $y);
        substr($buf, $at - 1, 1, chr(length($y)));
        substr($buf, $q + 1, 4, pack('N', $end - $q - 1 + length($y) - length($x)));
        return ($buf, $x);
    }
    return ($buf);
}

sub relay {
    my ($c) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $pgport) or return;
    local $SIG{TERM} = 'DEFAULT';
    my $swapped;
    my $sel = IO::Select->new($c, $s);
    while (1) {
        for my $h ($sel->can_read) {
            my $n = sysread($h, my $buf, 65536);
            return if !$n;
            if ($h == $s && !$swapped && -e "$RUN/swap") {
                ($buf, $swapped) = swap($buf, slurp("$RUN/swap"));
                if ($swapped) {
                    unlink "$RUN/swap";
                    spew("$RUN/swapped", $swapped);
                }
            } elsif ($h == $c && $swapped && index($buf, "COMMIT\0") >= 0) {
                close $s;
                spew("$RUN/cut", $$);
                sleep 0.05 until -e "$RUN/release";
                unlink "$RUN/release";
                close $c;
                return;
            }
            syswrite($h == $s ? $c : $s, $buf) // return;
        }
    }
}

{
    local $env->{pgport} = $port;
    $env->httpd_start;
}

$env->htpasswd(alice => 'alice-Pa55-word');
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $API = '/rest/access-tokens/1.0/users/alice';
my $W = rest_writes($env, 'alice');

# Polls $cond until it holds: whether it did within a minute.
sub until_true {
    my ($cond) = @_;
    for (1 .. 1200) {
        return 1 if $cond->();
        sleep 0.05;
    }
    return 0;
}

# $call (a REST call) with its transaction's id swapped for that of a
# transaction that committed ($y, or one of its own), and its COMMIT kept
# from PostgreSQL; $meanwhile->() run once the write's transaction has
# aborted, before the handler asks.  Returns the answer {status, json,
# message} and the error log's lines meanwhile.
sub lost_to {
    my ($what, $call, $meanwhile, $y) = @_;
    $y //= $env->psql('SELECT pg_current_xact_id()');
    is($env->psql("SELECT pg_xact_status('$y')"), 'committed', "$what: transaction $y committed");
    unlink "$RUN/swapped", "$RUN/cut";
    spew("$RUN/swap", $y);
    my $mark = log_mark($env->error_log_path);
    my $answer = in_background($RUN, sub {
        my $r = $call->();
        return encode_json({ status => $r->{status}, content => $r->{content} // '' });
    });
    ok(until_true(sub { -e "$RUN/cut" }), "  the write's COMMIT is kept from PostgreSQL");
    my $x = -e "$RUN/swapped" ? slurp("$RUN/swapped") : 0;
    ok($x && $x ne $y, "  its transaction $x given to httpd as $y");
    ok(until_true(sub { $env->psql("SELECT count(*) FROM pg_stat_activity WHERE backend_xid::text = '$x'") == 0 }),
       '  its backend ended');
    is($env->psql("SELECT pg_xact_status('$x')"), 'aborted', "  transaction $x aborted");
    $meanwhile->() if $meanwhile;
    spew("$RUN/release", 1);
    my $r = decode_json($answer->());
    $r->{json} = eval { decode_json($r->{content}) } || {};
    $r->{message} = join ' ', map { $_->{message} // '' } @{ $r->{json}{errors} || [] };
    return ($r, join("\n", log_lines_since($env->error_log_path, $mark)));
}

sub revoked { $env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$_[0]'") eq 't' }
sub git { $env->get($UP, auth_bearer($_[0]))->{status} }

subtest 'control: through the relay, untouched, the API writes' => sub {
    my $r = $W->{create}->('control')->();
    is($r->{status}, 200, 'create 200') or diag res_summary($r);
    is(git($r->{json}{token}), 200, '  its token works');
};

subtest "another transaction's id said committed: not known, naming the token" => sub {
    my ($r, $log) = lost_to('create', $W->{create}->('ghost'));
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name = 'ghost'"), 0, 'no such token');
    is($r->{status}, 503, 'create: 503, not 200') or diag $r->{content};
    ok(!exists $r->{json}{token}, '  no secret');
    my ($id) = $r->{message} =~ /whether token (\d+) was created is not known\. If it is listed, it was/;
    ok($id, '  saying that the outcome is not known, naming the token') or diag $r->{content};
    $id //= 'none';
    like($log, qr/BBT282: access-tokens API: creating a token: .*\(token $id\): the database could not say: transaction \d+ committed, but token $id is not in the database/,
         '  BBT282, with why') or diag $log;
    unlike($log, qr/BBT200|BBT281/, '  no BBT200, no BBT281');

    my ($old, $old_id) = $env->token_create('alice', name => 'ci');
    ($r, $log) = lost_to('rotate', $W->{rotate}->($old_id));
    ok(!revoked($old_id), "in the database: $old_id not revoked");
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE rotated_from = '$old_id'"), 0, '  no new token');
    is($r->{status}, 503, 'rotate: 503, not 200') or diag $r->{content};
    ok(!exists $r->{json}{token}, '  no secret');
    like($r->{message}, qr/whether token $old_id was rotated into token \d+ is not known\. If token $old_id is still listed, it was not rotated and is still valid/,
         '  not known, naming the tokens') or diag $r->{content};
    is(git($old), 200, '  the old token still works');
    like($log, qr/BBT282: access-tokens API: rotating a token: .*\(token $old_id into token (\d+)\): the database could not say: transaction \d+ committed, but token \1 is not in the database, or token $old_id is not revoked/,
         '  BBT282') or diag $log;

    my (undef, $uid) = $env->token_create('alice', name => 'before');
    ($r, $log) = lost_to('update', $W->{update}->($uid, 'after'));
    is($env->psql("SELECT name FROM bbtoken_tokens WHERE id = '$uid'"), 'before', 'in the database: not renamed');
    is($r->{status}, 503, 'update: 503, not 200') or diag $r->{content};
    like($r->{message}, qr/whether token $uid was changed is not known/, '  not known, naming the token')
        or diag $r->{content};
    like($log, qr/BBT282: access-tokens API: updating a token: .*\(token $uid\): the database could not say: transaction \d+ committed, but token $uid is revoked or does not hold what the update asked/,
         '  BBT282') or diag $log;

    my ($tok, $rid) = $env->token_create('alice', name => 'victim');
    ($r, $log) = lost_to('revoke', $W->{revoke}->($rid));
    ok(!revoked($rid), 'in the database: not revoked');
    is($r->{status}, 503, 'revoke: 503, not 204') or diag $r->{content};
    like($r->{message}, qr/whether token $rid was revoked is not known: if it is still listed, revoke it again/,
         '  not known, naming the token') or diag $r->{content};
    is(git($tok), 200, '  the token still works, as the answer lets one think');
    like($log, qr/BBT282: access-tokens API: revoking a token: .*\(token $rid\): the database could not say: transaction \d+ committed, but token $rid is not revoked/,
         '  BBT282') or diag $log;
};

# The first transaction after a crash's recovery may well be the module's
# last-use write (bbtoken_touch, whenever a token is used) of the very
# token whose update was lost: it writes the token's row, whose xmin is
# then the lost update's id, so the row's xmin is no evidence (it was
# taken for the update's: 200 with the name asked, the old one kept).
# The token holds none of the values asked: the outcome is not known.  An
# update that asked for what the token holds already is done, as the
# database holds it.
subtest "the lost update's id given to its token's last use" => sub {
    my $touch = sub {
        return $env->psql("WITH t AS (SELECT bbtoken_touch('$_[0]', '192.0.2.7', 0) AS done)"
                          . ' SELECT pg_current_xact_id() FROM t WHERE t.done');
    };
    my $update = sub {
        my ($id, $json) = @_;
        return sub { $env->rest(POST => "$API/$id", as => 'alice', api => 1, json => $json) };
    };

    my (undef, $id) = $env->token_create('alice', name => 'in use');
    my $y = $touch->($id);
    ok($y, "the token's last use noted, by transaction $y");
    my ($r, $log) = lost_to('update', $update->($id, { name => 'after' }), undef, $y);
    is($env->psql("SELECT name FROM bbtoken_tokens WHERE id = '$id'"), 'in use', 'in the database: not renamed');
    is($r->{status}, 503, 'update: 503, not 200') or diag $r->{content};
    ok(!exists $r->{json}{name}, '  no token shown');
    like($r->{message}, qr/whether token $id was changed is not known: look at it before trying again/,
         '  not known, naming the token') or diag $r->{content};
    like($log, qr/BBT282: access-tokens API: updating a token: .*\(token $id\): the database could not say: transaction $y committed, but token $id is revoked or does not hold what the update asked/,
         '  BBT282, with why') or diag $log;
    unlike($log, qr/BBT200|BBT281/, '  no BBT200, no BBT281');

    # Its permissions alone asked for.
    $y = $touch->($id);
    ($r, $log) = lost_to('permissions', $update->($id, { permissions => ['PROJECT_READ'] }), undef, $y);
    is($env->psql("SELECT project_perm FROM bbtoken_tokens WHERE id = '$id'"), 'PROJECT_ADMIN',
       'in the database: its permission as it was');
    is($r->{status}, 503, 'update: 503, not 200') or diag $r->{content};
    like($log, qr/BBT282: access-tokens API: updating a token: .*\(token $id\): .*does not hold what the update asked/,
         '  BBT282') or diag $log;

    # Its allow-list alone asked for.
    $y = $touch->($id);
    ($r, $log) = lost_to('allow-list', $update->($id, { allowedAddresses => ['10.9.0.0/16'] }), undef, $y);
    is($env->psql("SELECT COALESCE(allowed_nets::text, 'none') FROM bbtoken_tokens WHERE id = '$id'"), 'none',
       'in the database: no allow-list');
    is($r->{status}, 503, 'update: 503, not 200') or diag $r->{content};
    like($log, qr/BBT282: access-tokens API: updating a token: .*\(token $id\): .*does not hold what the update asked/,
         '  BBT282') or diag $log;

    # What the token holds already, sent back as read.
    my $was = $env->rest(GET => "$API/$id", as => 'alice', api => 1)->{json};
    $y = $touch->($id);
    ($r, $log) = lost_to('unchanged', $update->($id, { map { ($_ => $was->{$_}) } qw(name permissions allowedAddresses) }),
                         undef, $y);
    is($r->{status}, 200, 'update asking for what the token holds: 200') or diag $r->{content};
    is_deeply([@{ $r->{json} }{qw(name permissions allowedAddresses)}], [@$was{qw(name permissions allowedAddresses)}],
              '  the token as it is') or diag $r->{content};
    like($log, qr/BBT281: access-tokens API: updating a token: .*\(token $id\), the rows show it/, '  BBT281')
        or diag $log;
};

subtest 'a token revoked by someone else meanwhile is revoked: done' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'twice');
    my ($r, $log) = lost_to('revoke', $W->{revoke}->($id), sub {
        $env->psql("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id'");
    });
    ok(revoked($id), 'in the database: revoked');
    is($r->{status}, 204, 'revoke: 204') or diag $r->{content};
    is(git($tok), 401, '  the token is refused');
    like($log, qr/BBT281: access-tokens API: revoking a token: .*\(token $id\), the rows show it/, '  BBT281')
        or diag $log;
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
