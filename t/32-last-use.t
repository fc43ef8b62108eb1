# Last use (issue 3): lastAuthenticated and the last client addresses, written
# at most once per BBTokenLastUseInterval per token.  The number of writes is
# counted by PostgreSQL itself (pg_stat_user_tables.n_tup_upd, flushed when
# httpd's connections end), not taken from the module's word.  The client
# address is r->useragent_ip (here set through mod_remoteip).  An expired
# token's refusal is audited, at most once per interval per token.  A
# token's first use also copies its first address group to its row
# (seen_nets, sql/migrations/0013): one more row update, once per group,
# counted in the totals below.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(sleep time);
use BBT::Env qw(mistype_token auth_bearer);
use BBT::Assert;
use BBT::Cache ();

# The requests ask for a file httpd serves itself behind the git routes
# (/dumb: a read, as a clone's info/refs is), not git-http-backend: what
# is counted is the module's writes, and a CGI per request would be most
# of the test's time.
my $REMOTEIP = "RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n$BBT::Env::DUMB_CONF";
my $env = BBT::Env->new(modules => ['remoteip'], extra_conf => $REMOTEIP)->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/dumb/PROJ/repo.git/HEAD';

# PostgreSQL's count of row updates/inserts on a table, once every backend
# has reported: httpd is stopped first (its backends flush their statistics
# as they exit, before they leave pg_stat_activity), then the count is read
# until it stays put, a check on that, not a wait for it.  The test's own
# session (BBT::PgDirect keeps one) reports what its statements changed
# (an UPDATE of a subtest's) at most once a second, when it next goes idle
# after that, or 10 s on: a count read sooner would leave that UPDATE to
# the next count, as one more write of httpd's.  It is told to report now.
sub pg_count {
    my ($col, $table) = @_;
    my $sql = "SELECT $col FROM pg_stat_user_tables WHERE relname = '$table'";
    my ($last, $same) = (-1, 0);
    my $deadline = time + 20;
    sleep 0.1 while time < $deadline
        && $env->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'") > 0;
    $env->psql('SELECT pg_stat_force_next_flush()');
    while (time < $deadline) {
        my $v = $env->psql($sql);
        $same = $v == $last ? $same + 1 : 0;
        return $v if $same >= 3;
        $last = $v;
        sleep 0.1;
    }
    return $last;
}
sub stopped_count {
    my ($col, $table) = @_;
    $env->httpd_stop;
    my $v = pg_count($col, $table);
    return $v;
}

subtest 'default interval: 30 requests, one write; refusals write nothing' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'busy');
    my ($tok2, $id2) = $env->token_create('alice', name => 'other');
    my ($tok3, $id3) = $env->token_create('alice', name => 'refused');
    my $before = stopped_count('n_tup_upd', 'bbtoken_tokens');
    $env->httpd_start;
    my $ok = 0;
    for my $i (1 .. 30) {
        $ok++ if $env->get($UP, auth_bearer($i % 2 ? $tok : $tok2))->{status} == 200;
    }
    is($ok, 30, '30 authenticated requests, two tokens');
    is_401($env->get($UP, auth_bearer(mistype_token($tok3))), 1, 'wrong secret') for 1 .. 3;
    is_401($env->get($UP, { Authorization => $env->basic('bob', $tok3) }), 1, 'wrong user') for 1 .. 3;
    my $after = stopped_count('n_tup_upd', 'bbtoken_tokens');
    is($after - $before, 4,
       'PostgreSQL counted exactly two row updates per token (last use, its first address group), none for the refusals');
    $env->httpd_start;
    isnt($env->token_row($id)->{last_authenticated}, '', 'last_authenticated is set');
    is($env->token_row($id3)->{last_authenticated}, '', 'not for the refused token');
    my ($e) = grep { $_->{id} eq $id } @{ $env->list_json('alice') };
    ok($e && abs($e->{lastAuthenticated} - time * 1000) < 120_000, 'list --json: lastAuthenticated now-ish');
    is_deeply($e && $e->{lastAddresses}, ['127.0.0.1'], 'list --json: lastAddresses');
    my ($line) = grep {/^\Q$id\E\b/} split /\n/, $env->cli_ok('list', 'alice');
    like($line, qr/\b127\.0\.0\.1\s*$/, 'list: the address in the FROM column') or diag $line;
    like($env->cli_ok('list', 'alice'), qr/^ID .* LAST USED\s+FROM\s*$/m, 'list: header has LAST USED and FROM');
};

subtest 'a concurrent burst: still one write' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'burst');
    my $before = stopped_count('n_tup_upd', 'bbtoken_tokens');
    $env->httpd_start;
    my @pids;
    for my $i (1 .. 12) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            my $ok = 0;
            for (1 .. 3) {
                $ok++ if HTTP::Tiny->new(timeout => 20)->get($env->url($UP), { headers => auth_bearer($tok) })
                    ->{status} == 200;
            }
            POSIX::_exit($ok == 3 ? 0 : 1);
        }
        push @pids, $pid;
    }
    my $failed = grep { waitpid($_, 0); $? != 0 } @pids;
    is($failed, 0, '12 clients x 3 requests at once, all 200');
    is(stopped_count('n_tup_upd', 'bbtoken_tokens') - $before, 2,
       'PostgreSQL counted one last-use update and one address group copy (concurrent writers re-check under the row lock)');
    $env->httpd_start;
};

# The default is a minute: a last use 60.5 s old is written again, one
# 59.5 s old is not.  The latter only where the request follows the row's
# change within half a second (by then the use would be due): a try
# slower than that proves nothing, and another is made.
subtest 'default interval: 60 s' => sub {
    my $written = sub {
        my ($id) = @_;
        $env->psql("SELECT last_authenticated > now() - interval '30 seconds' FROM bbtoken_tokens WHERE id = '$id'");
    };
    my $used = sub {
        my ($secs, $name) = @_;
        my ($tok, $id) = $env->token_create('alice', name => $name);
        my $t0 = time;
        $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '$secs seconds' WHERE id = '$id'");
        my $st = $env->get($UP, auth_bearer($tok))->{status};
        return ($st, $id, time - $t0);
    };
    my ($st, $id) = $used->(60.5, 'minute-past');
    is($st, 200, 'a token last used 60.5 s ago: served');
    my $deadline = time + $BBT::Cache::LIMIT;
    sleep 0.1 while time < $deadline && $written->($id) ne 't';
    is($written->($id), 't', '  its last use written again');
    my ($tries, $took) = (0, 1);
    while ($took >= 0.5 && $tries++ < 20) {
        ($st, $id, $took) = $used->(59.5, "minute-within-$tries");
        is($st, 200, "a token last used 59.5 s ago: served (try $tries, within ${took}s)");
    }
    cmp_ok($took, '<', 0.5, '  a try whose request followed within half a second');
    # Written before the answer: the lookup's own connection makes it.
    is($written->($id), 'f', '  its last use not written again');
};

subtest 'BBTokenLastUseInterval 1: about one write per second' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'timed');
    $env->httpd_stop;
    $env->{extra_conf} = "$REMOTEIP\nBBTokenLastUseInterval 1\n";
    my $before = pg_count('n_tup_upd', 'bbtoken_tokens');
    $env->httpd_start;
    # At least 3.5 s and at least 20 requests, however slow the machine
    # (a request may take a second when it is loaded): the bound below is
    # on the time it took.
    my $t0 = time;
    my ($n, $sent) = (0, 0);
    while ((time - $t0 < 3.5 || $sent < 20) && time - $t0 < 120) {
        $sent++;
        $n++ if $env->get($UP, auth_bearer($tok))->{status} == 200;
        sleep 0.05;
    }
    my $elapsed = time - $t0;
    # Less the one copy of the token's first address group.
    my $writes = stopped_count('n_tup_upd', 'bbtoken_tokens') - $before - 1;
    note "$n requests in ${elapsed}s, $writes writes";
    ok($sent >= 20 && $n == $sent, "$n of $sent requests succeeded");
    ok($writes >= 3 && $writes <= int($elapsed) + 1, "$writes writes for $n requests in ${elapsed}s at one per s");
};

subtest 'the last five client addresses, most recent first' => sub {
    $env->{extra_conf} = "$REMOTEIP\nBBTokenLastUseInterval 0\n";
    $env->httpd_start;
    my ($tok, $id) = $env->token_create('alice', name => 'roaming');
    for my $a (qw(192.0.2.1 192.0.2.2 2001:db8::7 192.0.2.3 192.0.2.4 192.0.2.5 192.0.2.6 192.0.2.3)) {
        is_ok_res($env->get($UP, auth_bearer($tok, { 'X-Forwarded-For' => $a })), "request from $a");
        sleep 0.05;
    }
    my ($e) = grep { $_->{id} eq $id } @{ $env->list_json('alice') };
    is_deeply($e->{lastAddresses}, [qw(192.0.2.3 192.0.2.6 192.0.2.5 192.0.2.4 2001:db8::7)],
              'five distinct addresses, the latest first, a repeated one moved to the front')
        or diag explain $e;
    my ($line) = grep {/^\Q$id\E\b/} split /\n/, $env->cli_ok('list', 'alice');
    like($line, qr{192\.0\.2\.3,192\.0\.2\.6,192\.0\.2\.5,192\.0\.2\.4,2001:db8::7\s*$}, 'list shows them')
        or diag $line;
};

subtest 'an expired token: refused, audited at most once per interval' => sub {
    $env->httpd_restart(extra_conf => "$REMOTEIP\nBBTokenLastUseInterval 60\n");
    my ($tok, $id) = $env->token_create('alice', name => 'stale', expiry_days => 1);
    $env->expire_token($id);
    my $audit = sub { $env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$id' "
                                 . "AND event = 'expired_refused'") };
    $env->httpd_stop;
    my $ins0 = pg_count('n_tup_ins', 'bbtoken_audit');
    $env->httpd_start;
    is_401($env->get($UP, auth_bearer(mistype_token($tok))), 1, 'expired token with a wrong secret');
    is($audit->(), 0, 'a wrong secret is not audited as the owner');
    for my $i (1 .. 25) {
        my $res = $env->get($UP, auth_bearer($tok, { 'X-Forwarded-For' => '198.51.100.9' }));
        is_401($res, 1, "expired token, request $i") if $i <= 2 || $res->{status} != 401;
    }
    my $ins = stopped_count('n_tup_ins', 'bbtoken_audit') - $ins0;
    is($ins, 1, 'PostgreSQL counted one audit insert for 25 refusals');
    is($audit->(), 1, 'one expired_refused record');
    my $r = $env->psql("SELECT actor, source, host(client_addr), user_name, db_role FROM bbtoken_audit "
                       . "WHERE token_id = '$id' AND event = 'expired_refused'", sep => '|');
    is($r, 'alice|http|198.51.100.9|alice|bbtoken_httpd',
       'by the owner, from http and the client address, as httpd\'s role');
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET expired_refused_at = "
               . "now() - interval '61 seconds' WHERE id = '$id'");
    $env->httpd_start;
    is_401($env->get($UP, auth_bearer($tok)), 1, 'a refusal after the interval');
    my $deadline = time + $BBT::Cache::LIMIT;
    sleep 0.1 while time < $deadline && $audit->() < 2;
    is($audit->(), 2, 'is audited again');
};

# The interval is the caller's: httpd's BBTokenLastUseInterval 0 audits
# every refusal, and whoever holds the lookup role can pass 0 itself.
# Either way at most 16 expired_refused records a token in any hour
# (version 50), as new_address is bounded.
subtest 'expired_refused: at most 16 a token an hour, whatever the interval' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'stale-flood', expiry_days => 1);
    $env->expire_token($id);
    my $audit = sub { $env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$id' "
                                 . "AND event = 'expired_refused'") };
    # A file: each statement a transaction of its own, as httpd's calls are.
    my $f = "$env->{dir}/run/note-expired.sql";
    BBT::Util::spew($f, join '', map {"SELECT bbtoken_note_expired('$id', '198.51.100.9', 0);\n"} 1 .. 40);
    my ($rc, $out, $err) = $env->psql_try(undef, user => 'bbtoken_httpd', file => $f);
    is($rc, 0, '40 calls as the lookup role, interval 0') or diag $err;
    is($audit->(), 16, '16 records');
    my @said = split /\n/, $out;
    is(scalar(grep { $_ eq 't' } @said), 16, '  each call says whether it audited');
    $env->psql('ALTER TABLE bbtoken_audit DISABLE TRIGGER bbtoken_audit_fixed; '
               . "UPDATE bbtoken_audit SET at = at - interval '61 minutes' WHERE token_id = '$id'; "
               . 'ALTER TABLE bbtoken_audit ENABLE TRIGGER bbtoken_audit_fixed');
    ($rc, $out, $err) = $env->psql_try(undef, user => 'bbtoken_httpd', file => $f);
    is($audit->(), 32, 'an hour on: 16 more');
};

subtest 'BBTokenLastUseInterval: syntax and context' => sub {
    for my $ok ('0', '60', '86400') {
        my ($rc, $msg) = $env->config_test("BBTokenLastUseInterval $ok\n");
        is($rc, 0, "BBTokenLastUseInterval $ok: accepted") or diag $msg;
    }
    for my $bad ('-1', '86401', '60s', 'abc', '1.5', '') {
        my ($rc, $msg) = $env->config_test("BBTokenLastUseInterval $bad\n");
        ok($rc != 0 && $msg =~ /BBTokenLastUseInterval/, "BBTokenLastUseInterval '$bad': refused") or diag $msg;
    }
    my ($rc, $msg) = $env->config_test("<Location /x>\nBBTokenLastUseInterval 5\n</Location>\n");
    ok($rc != 0 && $msg =~ /not allowed/, 'not allowed in <Location>') or diag $msg;
    ($rc, $msg) = $env->config_test("<VirtualHost 127.0.0.1:1>\nBBTokenLastUseInterval 5\n</VirtualHost>\n");
    is($rc, 0, 'allowed in <VirtualHost>') or diag $msg;
};

done_testing;
