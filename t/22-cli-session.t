# The settings the schema's triggers read are the CLI's own, whatever the
# session was given before its first statement: PGOPTIONS in its
# environment, ALTER ROLE ... SET, ALTER DATABASE ... SET.  The CLI set
# bbtoken.source and bbtoken.actor, and left the rest as they came:
# session_replication_role = replica (a superuser's) skipped the policy,
# the id-never-reused check and every audit trigger (a token for 100 years
# under a 30-day policy, exit 0, nothing audited); bbtoken.revoke_reason
# made a plain revocation revoked_leaked or revoked_unused; and
# bbtoken.client_addr, bbtoken.notify_at and bbtoken.notified put another
# address in the audit, skipped the change's notification, and dropped
# its token's own.  Now each bbtoken.* setting the schema reads is set in
# the session's first statement, and session_replication_role is set to
# origin, or the command refused where the role may not (exit 1, nothing
# done).  Every bbtoken.* setting sql/ reads is one the session sets
# (mod_bbtoken/bbt_sessionsql.h, which the access-tokens API's
# transactions take too).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Util qw(slurp);

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add('alice');
$env->user_add('bob');
$env->cli_ok('policy', '--max-expiry-days', '30');

sub pgoptions { return { PGOPTIONS => join ' ', map {"-c $_"} @_ } }
sub last_audit {
    my ($cols) = @_;
    return $env->psql("SELECT $cols FROM bbtoken_audit ORDER BY id DESC LIMIT 1");
}

subtest 'every bbtoken.* setting the schema reads is set by the sessions' => sub {
    my %read;
    for my $f (glob "$BBT::Util::ROOT/sql/*.sql $BBT::Util::ROOT/sql/migrations/*.sql") {
        $read{$_} = 1 for slurp($f) =~ /current_setting\(\s*'bbtoken\.([a-z_]+)'/g;
    }
    my $h = slurp("$BBT::Util::ROOT/mod_bbtoken/bbt_sessionsql.h");
    cmp_ok(scalar(keys %read), '>=', 6, 'sql/ reads bbtoken.* settings') or diag join ' ', sort keys %read;
    for my $name (sort keys %read) {
        like($h, qr/set_config\('bbtoken\.\Q$name\E',/, "bbtoken.$name is set");
    }
};

subtest 'session_replication_role = replica from PGOPTIONS: origin again' => sub {
    my $env_of = pgoptions('session_replication_role=replica');
    my ($rc, $out, $err) = $env->cli_env($env_of, '--db', $env->superuser_conninfo, 'create', 'bob', '--name',
                                         'srr', '--expiry-days', '36500');
    is($rc, 1, 'a token past the policy\'s 30 days: refused') or diag $out, $err;
    like($err, qr/\Abbtoken: [^\n]*30[^\n]*\n\z/, '  by the policy') or diag $err;
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name = 'srr'"), 0, '  nothing stored');
    ($rc, $out, $err) = $env->cli_env($env_of, '--db', $env->superuser_conninfo, 'create', 'bob', '--name',
                                      'srr7', '--expiry-days', '7');
    is($rc, 0, 'one within it: made') or diag $err;
    my $id = $env->psql("SELECT id FROM bbtoken_tokens WHERE name = 'srr7'");
    is(last_audit('event || \' \' || token_id'), "created $id", '  and audited');
    is($env->psql("SELECT count(*) FROM bbtoken_lookup WHERE id = '$id'"), 1, '  and in the lookup');
};

subtest 'replica where the role may not set it back: refused, nothing done' => sub {
    $env->psql('CREATE ROLE srr_role LOGIN', db => 'postgres');
    $env->psql('GRANT CONNECT ON DATABASE bbtoken TO srr_role', db => 'postgres');
    $env->psql('ALTER ROLE srr_role SET session_replication_role = replica', db => 'postgres');
    my $before = $env->psql('SELECT count(*) FROM bbtoken_audit');
    my ($rc, $out, $err) = $env->cli_as('srr_role', undef, 'user', 'add', 'carol');
    is($rc, 1, 'exit 1') or diag $err;
    like($err, qr/\Abbtoken: session_replication_role is replica[^\n]*may not set it to origin[^\n]*\n\z/,
         '  saying why') or diag $err;
    is($out, '', '  nothing on stdout');
    is($env->psql("SELECT count(*) FROM bbtoken_users WHERE name = 'carol'"), 0, '  nobody added');
    is($env->psql('SELECT count(*) FROM bbtoken_audit'), $before, '  nothing audited');
    $env->psql('REVOKE CONNECT ON DATABASE bbtoken FROM srr_role; DROP ROLE srr_role', db => 'postgres');
};

subtest 'bbtoken.revoke_reason from PGOPTIONS or the database: a plain revocation' => sub {
    my (undef, $id) = $env->token_create('alice', name => 'leak?', expiry_days => 7);
    my ($rc, undef, $err) = $env->cli_env(pgoptions('bbtoken.revoke_reason=leaked'), '--db',
                                          $env->superuser_conninfo, 'revoke', $id);
    is($rc, 0, 'revoked') or diag $err;
    is(last_audit('event || \' \' || token_id'), "revoked $id", '  recorded as revoked');
    (undef, $id) = $env->token_create('alice', name => 'unused?', expiry_days => 7);
    $env->psql("ALTER DATABASE bbtoken SET bbtoken.revoke_reason = 'unused'", db => 'postgres');
    ($rc, undef, $err) = $env->cli('revoke', $id);
    $env->psql('ALTER DATABASE bbtoken RESET bbtoken.revoke_reason', db => 'postgres');
    is($rc, 0, 'revoked under ALTER DATABASE ... SET bbtoken.revoke_reason') or diag $err;
    is(last_audit('event || \' \' || token_id'), "revoked $id", '  recorded as revoked');
};

subtest 'bbtoken.client_addr from PGOPTIONS: the connection\'s address' => sub {
    my ($rc, undef, $err) = $env->cli_env(pgoptions('bbtoken.client_addr=203.0.113.9'), '--db',
                                          $env->superuser_conninfo, 'user', 'set', 'alice', '--display-name', 'Al');
    is($rc, 0, 'user set') or diag $err;
    is(last_audit('event || \' \' || source || \' \' || host(client_addr)'), 'user_details_changed cli 127.0.0.1',
       '  audited from cli 127.0.0.1');
};

subtest 'bbtoken.notify_at and bbtoken.notified from PGOPTIONS: the change notifies' => sub {
    my $listen = $env->pg_session('listen');
    $listen->send('LISTEN bbtoken;');
    ok($listen->done, 'a session listens on bbtoken');
    my $heard = sub {
        my ($from) = @_;
        $listen->send('SELECT 1;');
        $listen->done;
        my $all = slurp($listen->{out});
        return (length $all, join ' ', substr($all, $from)
                    =~ /Asynchronous notification "bbtoken" with payload "([^"]*)"/g);
    };
    my $skips = $env->psql('SELECT n FROM bbtoken_notify_skips');
    my (undef, $id) = $env->token_create('alice', name => 'notify_at', expiry_days => 7);
    my ($rc, undef, $err) = $env->cli_env(pgoptions('bbtoken.notify_at=0'), '--db', $env->superuser_conninfo,
                                          'revoke', $id);
    is($rc, 0, 'revoked under bbtoken.notify_at=0') or diag $err;
    is($env->psql('SELECT n FROM bbtoken_notify_skips'), $skips, '  its notification not skipped');
    (undef, $id) = $env->token_create('alice', name => 'notified', expiry_days => 7);
    my ($from) = $heard->(0);
    ($rc, undef, $err) = $env->cli_env(pgoptions('bbtoken.notified=1000'), '--db', $env->superuser_conninfo,
                                       'revoke', $id);
    is($rc, 0, 'revoked under bbtoken.notified=1000') or diag $err;
    my (undef, $got) = $heard->($from);
    like($got, qr/(?:^| )t:$id(?: |$)/, '  its token\'s own notification sent') or diag $got;
    $listen->finish;
};

done_testing;
