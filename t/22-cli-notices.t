# What the server sends the CLI besides its answers (NoticeResponse: a
# WARNING, a NOTICE) went to libpq's default notice processor, which
# prints it whole on stderr: a COMMIT whose backend was ended while it
# waited for a synchronous standby (README's example of a lost COMMIT)
# gave "WARNING:  canceling the wait for synchronous replication ..." and
# its "DETAIL:" before the CLI's own line, and where the CLI could not
# connect again it said so on a line of its own, the last line ending
# "(said above)": exit 1 with four lines on stderr, where README promises
# one.  A trigger's RAISE reached the terminal with its bytes as they
# were.  Now no notice is shown once the connection is made: the schema
# raises none (checked below), what the CLI must say of a lost COMMIT it
# says in its line, and another role's trigger may quote a row; the
# server's log keeps them.  The failure to connect again is part of the
# one line.  A warning the server gives as the session starts (a
# database's collation version recorded and not the system's) asks the
# administrator to act: libpq prints it as psql's connection does, and
# the CLI's one line follows it.
#
# One warning is the CLI's to tell, in its words: a commit's wait for the
# synchronous standby given up.  Cancelled (pg_cancel_backend, a
# statement_timeout), the COMMIT is answered all the same, committed on
# this server alone, and the CLI said nothing, exit 0: a failover to that
# standby brings a revoked token back, and the administrator was not
# told.  Now one line says so, and the command's output and exit status
# stay.  Its backend ended there, the "done" line of the lost COMMIT says
# it too.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use BBT::Env;
use BBT::Util qw(slurp);

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add('alice');

# This test's own sessions commit without the standby; the CLI's wait.
$ENV{PGOPTIONS} = '-c synchronous_commit=local';
my $SYNC = { PGOPTIONS => '-c synchronous_commit=on' };

sub lines { my ($s) = @_; return scalar(() = $s =~ /\n/g) }
sub live_id { $env->psql("SELECT id FROM bbtoken_tokens WHERE name = '$_[0]' AND revoked_at IS NULL") }

# What the CLI says of a commit the standby did not confirm.
my $UNCONFIRMED = 'the synchronous standby did not confirm it: a failover may lose it';

# The backend of the CLI run bbt-$app waiting for the standby at its
# COMMIT: its pid, or 0 if none does within a minute.
sub committing {
    my ($app) = @_;
    for (1 .. 1200) {
        my $pid = $env->psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'bbt-$app'"
                             . " AND wait_event = 'SyncRep'");
        return $pid if $pid;
        sleep 0.05;
    }
    return 0;
}

# bbtoken @args with its COMMIT's backend ended while it waits for the
# standby (with cancel => 1, its wait cancelled instead); with refuse =>
# 1, the database accepting no new connection meanwhile: (rc, stdout,
# stderr).
my $n = 0;
sub cut {
    my ($o, @args) = @_;
    my $app = 'cut' . ++$n;
    $env->pg_syncrep(1);
    my $wait = $env->cli_bg($app, $SYNC, @args);
    my $pid = committing($app);
    ok($pid, "bbtoken @args: its COMMIT waits for the standby");
    $env->psql('ALTER DATABASE bbtoken ALLOW_CONNECTIONS false', db => 'postgres') if $o->{refuse};
    my $end = $o->{cancel} ? 'pg_cancel_backend' : 'pg_terminate_backend';
    $env->psql("SELECT $end($pid)", db => 'postgres') if $pid;
    my @r = $wait->();
    $env->psql('ALTER DATABASE bbtoken ALLOW_CONNECTIONS true', db => 'postgres') if $o->{refuse};
    $env->pg_syncrep(0);
    return @r;
}

subtest 'the schema raises no notice the CLI would drop' => sub {
    my @raised;
    for my $f (glob "$BBT::Util::ROOT/sql/*.sql $BBT::Util::ROOT/sql/migrations/*.sql") {
        push @raised, "$f: $1" while slurp($f) =~ /\bRAISE\s+((?:NOTICE|WARNING|INFO|LOG|DEBUG)\b[^;]*)/gi;
    }
    is_deeply(\@raised, [], 'no RAISE below EXCEPTION in sql/: what an administrator must see fails the statement')
        or diag join "\n", @raised;
};

subtest 'a COMMIT ended while it waits for the standby: done, one line' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'ci-1');
    my ($rc, $out, $err) = cut({}, 'revoke', $id);
    is($rc, 0, 'exit 0') or diag $err;
    is(lines($err), 1, '  one line on stderr') or diag $err;
    like($err, qr/^bbtoken: revoking the token: done, though the connection was lost at its COMMIT \([^\n]*\): connected again, the database says its transaction \d+ committed, and it holds its records in the audit trail; but $UNCONFIRMED\n\z/,
         '  saying it is done, and that the standby did not confirm it') or diag $err;
    unlike($err, qr/WARNING|DETAIL/, '  and nothing of the server\'s warning as it is');
    is($env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$id'"), 't', '  revoked');
};

subtest 'a COMMIT whose wait for the standby is cancelled: committed, one line' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'ci-c');
    my ($rc, $out, $err) = cut({ cancel => 1 }, 'revoke', $id);
    is($rc, 0, 'revoke: exit 0, as without the cancel') or diag $err;
    is($out, '', '  nothing on stdout, as without it');
    is($err, "bbtoken: revoking the token: committed on this server, but $UNCONFIRMED\n",
       '  one line on stderr: the standby did not confirm it') or diag $err;
    is($env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$id'"), 't', '  revoked');

    ($rc, $out, $err) = cut({ cancel => 1 }, 'create', 'alice', '--name', 'ci-d');
    is($rc, 0, 'create: exit 0') or diag $err;
    like($out, qr/^BBDC-\S+\n\z/, '  the token printed');
    is($err, "bbtoken: creating the token (the token printed is valid): committed on this server, but $UNCONFIRMED\n",
       '  one line on stderr: the standby did not confirm it') or diag $err;
    ok(live_id('ci-d'), '  the token stored');
};

subtest 'the same, not connected again: exit 1, one line' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'ci-2');
    my ($rc, $out, $err) = cut({ refuse => 1 }, 'revoke', $id);
    is($rc, 1, 'exit 1') or diag $err;
    is(lines($err), 1, '  one line on stderr') or diag $err;
    like($err, qr/^bbtoken: revoking the token: the connection was lost at its COMMIT \([^\n]*\), so whether it took effect is not known \(look before running it again\); the database could not say: not connected again: cannot connect to the database: [^\n]*is not currently accepting connections\n\z/,
         '  saying it is not known, and why it could not ask') or diag $err;
    unlike($err, qr/said above|WARNING|DETAIL/, '  nothing said elsewhere') or diag $err;

    ($rc, $out, $err) = cut({ refuse => 1 }, 'create', 'alice', '--name', 'ci-3');
    is($rc, 1, 'create: exit 1') or diag $err;
    like($out, qr/^BBDC-\S+\n\z/, '  the token printed');
    is(lines($err), 1, '  one line on stderr') or diag $err;
    like($err, qr/^bbtoken: the connection was lost at the token's COMMIT, so whether it was created is not known: [^\n]*; the database could not say: not connected again: cannot connect to the database: [^\n]*not currently accepting connections\n\z/,
         '  saying it is not known') or diag $err;
};

# A write that changed nothing lost nothing, but cannot go on: its
# failure to connect again ends its one line.
subtest 'a write that changed nothing, not connected again: exit 1, one line' => sub {
    $env->user_add('nora');
    $env->cli_ok('user', 'disable', 'nora');
    my ($rc, $out, $err) = cut({ refuse => 1 }, 'user', 'disable', 'nora');
    is($rc, 1, 'exit 1') or diag $err;
    is(lines($err), 1, '  one line on stderr') or diag $err;
    like($err, qr/^bbtoken: changing the user: the connection was lost at its COMMIT \([^\n]*\), but it had changed nothing: nothing was changed \(safe to run again\); not connected again: cannot connect to the database: [^\n]*is not currently accepting connections\n\z/,
         '  saying it changed nothing, and why it could not go on') or diag $err;
    unlike($err, qr/said above|not known|WARNING|DETAIL/, '  nothing said elsewhere') or diag $err;
};

subtest 'a trigger\'s notices are not shown' => sub {
    $env->psql(q{CREATE FUNCTION bbt_chatty() RETURNS trigger LANGUAGE plpgsql AS
                 $$BEGIN RAISE WARNING 'chatty %', chr(27) || '[2J' || NEW.name USING DETAIL = 'row ' || NEW::text;
                 RAISE NOTICE 'chatty notice'; RETURN NEW; END$$});
    $env->psql('CREATE TRIGGER bbt_chatty BEFORE INSERT ON bbtoken_users FOR EACH ROW EXECUTE FUNCTION bbt_chatty()');
    my ($rc, $out, $err) = $env->cli('user', 'add', 'carol');
    is($rc, 0, 'user add: exit 0') or diag $err;
    is($err, '', '  nothing on stderr') or diag $err;
    ($rc, $out, $err) = $env->cli('user', 'add', 'carol');
    is($rc, 1, 'again: exit 1');
    is(lines($err), 1, '  one line on stderr') or diag $err;
    unlike($err, qr/chatty|\e/, '  none of the trigger\'s') or diag $err;
    $env->psql('DROP TRIGGER bbt_chatty ON bbtoken_users; DROP FUNCTION bbt_chatty()');
};

subtest 'a warning as the session starts: as psql shows it, then the one line' => sub {
    $env->psql('CREATE DATABASE bbt_warned', db => 'postgres');
    $env->psql("UPDATE pg_database SET datcollversion = '0.bbt' WHERE datname = 'bbt_warned'", db => 'postgres');
    my ($rc, $out, $warned) = $env->psql_try('SELECT 1', db => 'bbt_warned', user => 'postgres');
    like($warned, qr/\AWARNING:  [^\n]*collation version[^\n]*\n(?:(?:DETAIL|HINT):  [^\n]*\n)*\z/,
         'psql is warned as it connects, and says nothing else') or diag $warned;
    my $db = $env->superuser_conninfo('bbt_warned');
    my $err;
    ($rc, $out, $err) = $env->cli_raw('--db', $db, 'list', 'alice');
    is($rc, 1, 'a command against that database: exit 1');
    is($err, $warned . "bbtoken: this database has no mod_bbtoken schema (bbtoken db upgrade --init creates it)\n",
       '  the warning as psql shows it, then its one line') or diag $err;
    ($rc, $out, $err) = $env->cli_raw('--db', $db, 'db', 'upgrade', '--init');
    is($rc, 0, 'db upgrade --init: exit 0') or diag $err;
    is($err, $warned, '  the warning, nothing else on stderr') or diag $err;
    ($rc, $out, $err) = $env->cli_raw('--db', $db, 'user', 'add', 'dave');
    is($rc, 0, 'user add: exit 0') or diag $err;
    is($err, $warned, '  the warning, nothing else on stderr') or diag $err;
    ($rc, $out, $err) = $env->cli_raw('--db', $db, 'user', 'add', 'dave');
    is($rc, 1, '  and again: exit 1');
    is($err, $warned . "bbtoken: user already exists: dave\n", '  the warning, then its one line') or diag $err;
};

is($env->psql('SHOW synchronous_standby_names'), '', 'synchronous_standby_names is reset');
done_testing;
