# The audit trail (issue 3): a record for each lifecycle event, saying who
# (OS user and database role for the CLI, the role alone for plain SQL),
# when, from where (cli/sql and the client address) and which token; never a
# token, salt or hash; append-only; kept when tokens are purged; `bbtoken
# audit` with its filters and --json; httpd's role can neither read nor
# write it except through its two functions.  (The expired-and-refused
# record made over HTTP is tested in t/32-last-use.t.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(parse_token run_cmd);
use JSON::PP;
use BBT::Assert;

my $env = BBT::Env->new(httpd => 0)->start;
my $ME = (getpwuid($<))[0];

sub audit_rows {
    my ($where) = @_;
    my $out = $env->psql("SELECT event, coalesce(token_id, '-'), coalesce(user_name, '-'), actor, db_role, source, "
                         . "coalesce(host(client_addr), '-'), coalesce(detail, ''), "
                         . "abs(extract(epoch FROM at - now())) < 120 FROM bbtoken_audit "
                         . ($where ? "WHERE $where " : '') . "ORDER BY id", sep => '|');
    return [map { [split /\|/, $_, -1] } grep {length} split /\n/, $out];
}
sub last_event {
    my $r = audit_rows();
    return $r->[-1];
}

my @CLI = ($ME, 'postgres', 'cli', '127.0.0.1');

subtest 'each CLI event is recorded: who, when, from where, which token' => sub {
    my @cases;
    my $check = sub {
        my ($name, $event, $token, $user, $detail) = @_;
        my $e = last_event() || [];
        my $ok = is_deeply($e, [$event, $token // '-', $user // '-', @CLI, $detail, 't'], $name);
        diag explain audit_rows() unless $ok;
    };
    $env->user_add('alice');
    $check->('user add', 'user_added', undef, 'alice', '');
    $env->user_add('root', '--admin');
    $check->('user add --admin', 'user_added', undef, 'root', 'global admin');
    $env->grant('alice', 'PROJECT_READ', 'proj');
    $check->('grant', 'granted', undef, 'alice', 'PROJECT_READ on PROJ');
    $env->grant('alice', 'PROJECT_WRITE', 'PROJ');
    $check->('grant changed', 'granted', undef, 'alice', 'PROJECT_READ -> PROJECT_WRITE on PROJ');
    my $n = scalar @{ audit_rows() };
    $env->grant('alice', 'PROJECT_WRITE', 'PROJ');
    is(scalar @{ audit_rows() }, $n, 'granting the same again records nothing');
    $env->grant('alice', 'REPO_ADMIN', 'PROJ/repo');
    $env->cli_ok('ungrant', 'alice', 'PROJ/repo');
    $check->('ungrant', 'ungranted', undef, 'alice', 'REPO_ADMIN on PROJ/repo');
    my ($tok, $id) = $env->token_create('alice', name => 'laptop', perms => ['REPO_WRITE'], expiry_days => 30);
    my $exp = $env->psql("SELECT to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                         . "FROM bbtoken_tokens WHERE id = '$id'");
    $check->('create', 'created', $id, 'alice', "name 'laptop', PROJECT_READ,REPO_WRITE, expires $exp");
    $env->cli_ok('update', $id, '--name', 'desk');
    $check->('rename', 'renamed', $id, 'alice', "'laptop' -> 'desk'");
    $env->cli_ok('update', $id, '--perm', 'REPO_READ');
    $check->('permissions', 'permissions_changed', $id, 'alice', 'PROJECT_READ,REPO_WRITE -> PROJECT_READ,REPO_READ');
    $n = scalar @{ audit_rows() };
    $env->cli_ok('update', $id, '--name', 'both', '--perm', 'PROJECT_WRITE');
    my $r = audit_rows();
    is(scalar @$r, $n + 2, 'rename and permission change at once: two records');
    is("$r->[-2][0] $r->[-1][0]", 'renamed permissions_changed', '... renamed, permissions_changed');
    $env->cli_ok('revoke', $id);
    $check->('revoke', 'revoked', $id, 'alice', "name 'both'");
    my (undef, $id2) = $env->token_create('alice', name => 'two');
    my (undef, $id3) = $env->token_create('alice', name => 'three');
    $env->cli_ok('revoke', '--user', 'alice');
    $r = audit_rows("event = 'revoked'");
    is_deeply([sort map { $_->[1] } @$r[-2, -1]], [sort $id2, $id3], 'revoke --user: one record per token');
    $env->cli_ok('user', 'disable', 'alice');
    $check->('user disable', 'user_disabled', undef, 'alice', '');
    $n = scalar @{ audit_rows() };
    $env->cli_ok('user', 'disable', 'alice');
    is(scalar @{ audit_rows() }, $n, 'disabling a disabled user records nothing');
    $env->cli_ok('user', 'enable', 'alice');
    $check->('user enable', 'user_enabled', undef, 'alice', '');
    $env->cli_ok('policy', '--max-tokens', '50');
    $check->('policy', 'policy_changed', undef, undef, 'expiry optional, maximum expiry none, at most 50 live tokens per user');
    $env->cli_ok('purge', '--expired-before', '2099-12-31');
    $r = audit_rows("event = 'deleted'");
    is(scalar @$r, 3, 'purge: a deleted record per purged token');
    like($r->[0][7], qr/^name '[a-z]+', revoked \d{4}-/, '... saying it was revoked');
    is(join(',', map { $_->[0] } @{ audit_rows("token_id = '$id'") }),
       'created,renamed,permissions_changed,renamed,permissions_changed,revoked,deleted',
       'the purged token keeps its whole history');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id = '$id'"), 0, 'though its row is gone');
};

subtest 'plain SQL is audited too, as the database role' => sub {
    $env->psql("UPDATE bbtoken_users SET active = false WHERE name = 'root'");
    is_deeply(last_event(), ['user_disabled', '-', 'root', 'postgres', 'postgres', 'sql', '127.0.0.1', '', 't'],
              'user disabled by SQL: actor and role postgres, source sql');
    $env->psql("SET bbtoken.source = 'http'; SET bbtoken.actor = 'api-user'; SET bbtoken.client_addr = '203.0.113.5'; "
               . "UPDATE bbtoken_users SET active = true WHERE name = 'root'");
    is_deeply(last_event(), ['user_enabled', '-', 'root', 'api-user', 'postgres', 'http', '203.0.113.5', '', 't'],
              'a client (a future REST API) names the actor, the source and the address; the role is recorded');
    $env->psql("SET bbtoken.source = 'forged'; UPDATE bbtoken_users SET is_admin = false WHERE name = 'root'");
    is(last_event()->[5], 'sql', 'an unknown source counts as sql');
    is(last_event()->[0], 'user_admin_changed', 'admin flag change recorded');
    $env->psql("DELETE FROM bbtoken_users WHERE name = 'root'");
    is(last_event()->[0], 'user_deleted', 'user deletion recorded');
};

subtest 'a user\'s e-mail address and display name: each change recorded, with the old and new values' => sub {
    my $n = sub { $env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'user_details_changed'") };
    $env->cli_ok('user', 'add', 'erin');
    my $before = $n->();
    $env->cli_ok('user', 'set', 'erin', '--email', 'erin@example.org');
    is_deeply(last_event(), ['user_details_changed', '-', 'erin', @CLI, "e-mail 'erin\@example.org' (was none)", 't'],
              'e-mail set by the CLI: who, from where, now and before');
    $env->cli_ok('user', 'set', 'erin', '--email', 'mallory@example.net', '--display-name', "Erin O'Brien");
    is_deeply(last_event(), ['user_details_changed', '-', 'erin', @CLI,
                             "e-mail 'mallory\@example.net' (was 'erin\@example.org'), "
                             . "display name 'Erin O''Brien' (was none)", 't'],
              'both at once: one record naming both');
    $env->cli_ok('user', 'set', 'erin', '--no-email');
    is(last_event()->[7], "e-mail none (was 'mallory\@example.net')", 'e-mail removed');
    $env->psql("UPDATE bbtoken_users SET display_name = 'E' WHERE name = 'erin'");
    is_deeply([@{ last_event() }[0, 2, 3, 5, 7]],
              ['user_details_changed', 'erin', 'postgres', 'sql', "display name 'E' (was 'Erin O''Brien')"],
              'plain SQL too');
    is($n->(), $before + 4, 'one record per change');
    $env->psql("UPDATE bbtoken_users SET display_name = 'E', email = NULL WHERE name = 'erin'");
    $env->cli_ok('user', 'disable', 'erin');
    is($n->(), $before + 4, 'no record when neither changes (the same values, or another column)');
};

subtest 'no token, salt or hash in any audit record' => sub {
    my @toks;
    for my $i (1 .. 3) {
        my ($t, $id) = $env->token_create('alice', name => "secret $i");
        push @toks, $t;
        $env->cli_ok('update', $id, '--name', "renamed $i");
        $env->cli_ok('revoke', $id) if $i == 2;
    }
    my $audit = $env->psql("SELECT string_agg(row_to_json(a)::text, E'\\n') FROM bbtoken_audit a");
    my $secrets = $env->psql("SELECT string_agg(salt || ' ' || secret_hash, ' ') FROM bbtoken_tokens");
    my $leak = 0;
    for my $s (split / /, $secrets) {
        $leak++ if index($audit, $s) >= 0;
    }
    for my $t (@toks) {
        my $p = parse_token($t);
        $leak++ if index($audit, $p->{b64}) >= 0 || index($audit, substr($p->{b64}, 16)) >= 0;
    }
    ok(length $secrets > 100, 'control: there are salts and hashes to look for');
    is($leak, 0, 'none of them, nor any token, is in the audit table');
    unlike($audit, qr/[0-9a-f]{32}/, 'nothing in it even looks like a salt or a hash');
};

subtest "the README's PostgreSQL log advice keeps salts and hashes out of the log" => sub {
    $env->psql("ALTER SYSTEM SET log_statement = 'all'");
    $env->psql('SELECT pg_reload_conf()');
    sleep 1;
    my $hashes = sub { $env->psql("SELECT string_agg(salt || ' ' || secret_hash, ' ') FROM bbtoken_tokens "
                                  . "WHERE name LIKE 'logged%'") };
    my $found = sub {
        my $log = $env->pg_log_text;
        return scalar grep { index($log, $_) >= 0 } split / /, $hashes->();
    };
    $env->token_create('alice', name => 'logged 1');
    ok($found->() > 0, 'control: without it, statement logging shows the INSERT\'s salt and hash');
    $env->psql("ALTER DATABASE bbtoken SET log_parameter_max_length = 0");
    $env->psql("ALTER DATABASE bbtoken SET log_parameter_max_length_on_error = 0");
    $env->cli_ok('revoke', '--user', 'alice');
    $env->psql("SET session_replication_role = replica; DELETE FROM bbtoken_tokens WHERE name = 'logged 1'");
    $env->token_create('alice', name => "logged $_") for 2 .. 4;
    is($found->(), 0, 'with log_parameter_max_length = 0: none of them');
    $env->psql("ALTER SYSTEM RESET log_statement");
    $env->psql('SELECT pg_reload_conf()');
};

subtest 'append-only; httpd\'s roles have no access but through their functions' => sub {
    my ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_audit SET actor = 'someone else'");
    ok($rc != 0 && $err =~ /append-only/, 'rewriting a record is refused, even for a superuser') or diag $err;
    my %h = (user => 'bbtoken_httpd');
    for my $sql ("SELECT count(*) FROM bbtoken_audit", "INSERT INTO bbtoken_audit (event, actor, db_role, source) "
                 . "VALUES ('revoked', 'x', 'x', 'cli')", "DELETE FROM bbtoken_audit",
                 "SELECT bbtoken_audit_write('revoked', NULL, 'alice', 'forged')",
                 "UPDATE bbtoken_policy SET max_tokens_per_user = 1") {
        ($rc, $out, $err) = $env->psql_try($sql, %h);
        ok($rc != 0 && $err =~ /permission denied/, "bbtoken_httpd may not: $sql") or diag "exit $rc: $err";
    }
    # The lookup role has no use for the policy; the API's role reads it
    # (the REST API reports it to the tokens page).
    ($rc, $out, $err) = $env->psql_try("SELECT expiry_required FROM bbtoken_policy", %h);
    ok($rc != 0 && $err =~ /permission denied/, 'bbtoken_httpd may not read the policy') or diag "exit $rc: $err";
    ($rc, $out, $err) = $env->psql_try("SELECT expiry_required FROM bbtoken_policy", user => 'bbtoken_api');
    is($rc, 0, 'bbtoken_api may read the policy') or diag $err;
    for my $sql ("SELECT count(*) FROM bbtoken_audit",
                 "SELECT bbtoken_audit_write('revoked', NULL, 'alice', 'forged')",
                 "UPDATE bbtoken_policy SET max_tokens_per_user = 1") {
        ($rc, $out, $err) = $env->psql_try($sql, user => 'bbtoken_api');
        ok($rc != 0 && $err =~ /permission denied/, "bbtoken_api may not: $sql") or diag "exit $rc: $err";
    }
    ($rc, $out, $err) = $env->psql_try("SELECT bbtoken_note_expired('000000000000', '192.0.2.1', 60)", %h);
    ok($rc == 0 && $out =~ /^f/, 'bbtoken_httpd may call bbtoken_note_expired (which writes nothing for a non-token)')
        or diag "$out $err";
};

subtest 'bbtoken audit: filters, --json, errors' => sub {
    my ($rc, $out, $err) = $env->cli('audit');
    is($rc, 0, 'audit') or diag $err;
    like($out, qr/\ATIME\s+EVENT\s+TOKEN\s+USER\s+BY\s+FROM\s+DETAIL\n/, 'a header');
    like($out, qr/^\S+Z\s+user_added\s+-\s+alice\s+\Q$ME\E \(db postgres\)\s+cli 127\.0\.0\.1\s*$/m,
         'a row: time, event, no token, user, OS user and role, source and address');
    # The role is named once where it acted itself (plain SQL, no actor
    # given); a client's actor comes with the role it connected as.
    like($out, qr/^\S+Z\s+user_disabled\s+-\s+root\s+postgres\s+sql 127\.0\.0\.1\s*$/m,
         'plain SQL: BY the role alone');
    unlike($out, qr/postgres \(db postgres\)/, '  never the role twice');
    like($out, qr/^\S+Z\s+user_enabled\s+-\s+root\s+api-user \(db postgres\)\s+http 203\.0\.113\.5\s*$/m,
         'a client\'s actor: BY actor and role');
    my $all = $env->cli_json('audit');
    ok(@$all > 20, scalar(@$all) . ' records in --json');
    my ($c) = grep { $_->{event} eq 'created' } @$all;
    is_deeply([sort keys %$c], [sort qw(id time event tokenId user actor dbRole source clientAddress detail)],
              'JSON fields of a token record');
    ok($c->{tokenId} =~ /^\d{12}$/ && $c->{time} =~ /^\d{13}$/, 'tokenId 12 digits, time epoch ms');
    my ($u) = grep { $_->{event} eq 'user_added' } @$all;
    ok(!exists $u->{tokenId} && !exists $u->{detail}, 'absent fields are left out');
    # actor is what the client said, dbRole who the database knew it as:
    # two fields, never the one twice.
    my ($api) = grep { $_->{event} eq 'user_enabled' && $_->{actor} eq 'api-user' } @$all;
    is_deeply($api && [@$api{qw(actor dbRole source clientAddress)}], ['api-user', 'postgres', 'http', '203.0.113.5'],
              'a client\'s record: actor, dbRole, source, clientAddress')
        or diag explain $api;
    my $a = $env->cli_json('audit', 'ALICE');
    ok(@$a && !(grep { lc($_->{user} // '') ne 'alice' } @$a), 'NAME filter, regardless of case');
    my $t = $env->cli_json('audit', '--token', $c->{tokenId});
    ok(@$t && !(grep { $_->{tokenId} ne $c->{tokenId} } @$t), '--token filter');
    is(scalar @{ $env->cli_json('audit', '--since', '2099-01-01') }, 0, '--since a future date: nothing');
    is(scalar @{ $env->cli_json('audit', '--since', '1h') }, scalar @$all, '--since 1h: everything (all made just now)');
    is(scalar @{ $env->cli_json('audit', '--since', '2000-01-01T00:00:00Z') }, scalar @$all, '--since an ISO time');
    is_deeply($env->cli_json('audit', 'alice', '--since', '2099-01-01'), [], 'a user without records since: empty');
    # Nothing names them, in the trail or the database: most likely a
    # typing mistake, a failure as list of one is.
    $env->cli_is('audit of an unknown user', ['audit', 'nobody'], 1, stderr => qr/^bbtoken: no such user: nobody$/);
    $env->cli_is('audit of an unknown project', ['audit', '--project', 'nope', '--json'], 1,
                 stderr => qr/^bbtoken: no such project NOPE: /);
    $env->cli_is('audit of an unknown repository', ['audit', '--repo', 'NOPE/x'], 1,
                 stderr => qr/^bbtoken: no such repository NOPE\/x: /);
    $env->cli_is('audit of an unknown token', ['audit', '--token', '999999999999'], 1,
                 stderr => qr/^bbtoken: no such token: 999999999999: /);
    $env->cli_is('audit of a user with an unknown token', ['audit', 'alice', '--token', '999999999999', '--json'],
                 1, stderr => qr/^bbtoken: no such token: 999999999999: /);
    # A token row written with the triggers off (a bulk load, a restore)
    # has no record, but the database names it: an empty report.
    $env->user_add_bulk_tokens('loaded', 1, 700000000000);
    $env->cli_is('audit of a token without records', ['audit', '--token', '700000000001', '--json'], 0,
                 stdout => qr/\A\[\]\n\z/);
    # Gone from the database, still in the trail: its records.
    $env->user_add('gone');
    $env->psql("DELETE FROM bbtoken_users WHERE name = 'gone'");
    $env->cli_is('audit of a deleted user', ['audit', 'gone'], 0, stdout => qr/\buser_added\b.*\bgone\b/);
    # A repository's tokens by its slug exactly, as list takes it: TEAM/App
    # is another repository than TEAM/app, and a spelling that names none
    # is none.
    $env->grant('alice', 'PROJECT_ADMIN', 'TEAM');
    $env->scoped_token_create('--repo', 'TEAM/app', name => 'mine');
    $env->scoped_token_create('--repo', 'TEAM/App', name => 'theirs');
    my $app = $env->cli_json('audit', '--repo', 'TEAM/app');
    ok(@$app && !(grep { ($_->{user} // '') ne 'repo:TEAM/app' } @$app),
       'a repository\'s records, not those of one whose slug differs in case')
        or diag explain $app;
    $env->cli_is('audit of a repository named in another case', ['audit', '--repo', 'TEAM/APP'], 1,
                 stderr => qr/^bbtoken: no such repository TEAM\/APP: /);
    # Known to the database, no record: an empty report.
    $env->grant('alice', 'PROJECT_READ', 'QUIET');
    $env->cli_is('audit of a project without records', ['audit', '--project', 'QUIET', '--json'], 0,
                 stdout => qr/^\[\]\n\z/);
    $env->cli_is('  as a table: its header alone', ['audit', '--project', 'QUIET'], 0,
                 stdout => qr/\ATIME\s+EVENT\s+TOKEN\s+USER\s+BY\s+FROM\s+DETAIL\n\z/);
    for my $bad (['--since', 'yesterday'], ['--since', '2026-1-1'], ['--token', '123'], ['bad name!']) {
        ($rc, $out, $err) = $env->cli('audit', @$bad);
        ok($rc == 1 && $err =~ /\Abbtoken: [^\n]+\n\z/ && $out eq '', "audit @$bad: exit 1") or diag "$rc $err";
    }
    # NAME is a user's, checked as one before the database is asked.
    $env->cli_is('audit of an invalid name', ['audit', 'bad name!'], 1, stderr => qr/^bbtoken: invalid user name: /);
    # A role that may not read the trail fails at the holder's check, with
    # that one reason, and no report after it.
    my $api_db = $env->superuser_conninfo =~ s/user=postgres/user=bbtoken_api/r;
    $env->cli_is('audit as a role that may not read the trail', ['--db', $api_db, 'audit', 'alice'], 1, raw => 1,
                 stderr => qr/^bbtoken: reading the audit trail: permission denied for table bbtoken_audit$/);
    ($rc, $out, $err) = $env->cli('audit', 'a', 'b');
    is($rc, 2, 'two names: usage');
};

# An audit record quotes a name as it was, so text from before the
# database's CHECKs (or a superuser's) may hold a C1 control or a
# bidirectional override.  A table shows them as '?'; --json on a terminal
# writes them as \u escapes (the same string to a JSON reader), and into a
# pipe as UTF-8.
subtest 'audit: terminal controls from the database are not written to a terminal' => sub {
    my $detail = "was \x{9b}31m\x{202e}evil";
    my $raw = qr/\xc2\x9b|\xe2\x80\xae/;
    $env->psql("INSERT INTO bbtoken_audit (event, user_name, actor, db_role, source, detail) "
               . "VALUES ('renamed', 'ctrluser', 'x', 'x', 'sql', E'was \\u009b31m\\u202eevil')");
    my ($rc, $out, $err) = $env->cli('audit', 'ctrluser');
    ok($rc == 0 && $out =~ /was \?31m\?evil/ && $out !~ $raw, 'the table shows ? for each') or diag "$rc $out $err";
    ($rc, $out, $err) = $env->cli('audit', 'ctrluser', '--json');
    ok($rc == 0 && $out =~ $raw, '--json into a pipe: UTF-8 as it is') or diag "$rc $out $err";
    my $j = eval { JSON::PP->new->utf8->decode($out) };
    is($j && $j->[0]{detail}, $detail, '  the detail, whole');
    # script(1) gives the command a terminal for its standard output.
    my $q = sub { my $s = shift; $s =~ s/'/'\\''/g; "'$s'" };
    my $cmd = join ' ', map { $q->($_) } $env->cli_path, '--db', $env->superuser_conninfo, 'audit', 'ctrluser', '--json';
    ($rc, $out, $err) = run_cmd(cmd => ['script', '-qec', $cmd, '/dev/null'], tmp => $env->dir . '/run',
                                          timeout => 60);
    $out =~ s/\r\n/\n/g;
    ok($rc == 0 && $out !~ $raw && $out =~ /\\u009b31m\\u202eevil/i, '--json on a terminal: \u escapes')
        or diag "$rc $out $err";
    $j = eval { JSON::PP->new->utf8->decode($out) };
    is($j && $j->[0]{detail}, $detail, '  the same detail to a JSON reader');
};

# A record's time is the transaction's start, and a long transaction's ids
# come after those of shorter ones begun later: the trail is read in time
# order, whatever order its rows were written in.  Rows with times of
# their own, as a superuser restoring the trail would write them.
subtest 'audit: in time order; --since takes its own second' => sub {
    my $record = sub {
        my ($user, $at, $detail) = @_;
        $env->psql("INSERT INTO bbtoken_audit (at, event, user_name, actor, db_role, source, detail) "
                   . "VALUES ('$at', 'renamed', '$user', 'x', 'x', 'sql', '$detail')");
    };
    $record->('orderuser', '2031-01-02 00:00:00+00', 'second in time');
    $record->('orderuser', '2031-01-01 00:00:00+00', 'first in time');
    is_deeply([map { $_->{detail} } @{ $env->cli_json('audit', 'orderuser') }], ['first in time', 'second in time'],
              '--json: the earlier first, though written last');
    my @lines = grep {/in time/} split /\n/, $env->cli_ok('audit', 'orderuser');
    like($lines[0] // '', qr/^2031-01-01T00:00:00Z\s.*first in time/, '  and the table');
    $record->('sinceuser', '2031-02-03 04:05:06+00', 'at the second');
    is(scalar @{ $env->cli_json('audit', 'sinceuser', '--since', '2031-02-03T04:05:06Z') }, 1,
       '--since a record\'s very second: it is in');
    is(scalar @{ $env->cli_json('audit', 'sinceuser', '--since', '2031-02-03T04:05:07Z') }, 0, '  a second later: out');
};

subtest 'what less common changes record' => sub {
    my $last = sub { my $r = audit_rows($_[0]); [@{ $r->[-1] || [] }[0, 3, 4, 5, 7]] };
    my $count = sub { $env->psql("SELECT count(*) FROM bbtoken_audit WHERE $_[0]") };
    # A client names its actor; a name past the column's 255 characters is
    # cut, not a failed change.
    $env->psql("BEGIN; SELECT set_config('bbtoken.actor', repeat('x', 300), true); "
               . "UPDATE bbtoken_users SET display_name = 'A' WHERE name = 'alice'; COMMIT");
    is(audit_rows()->[-1][3], 'x' x 255, 'an actor of 300 characters: its first 255');
    # A session that once set bbtoken.actor locally (as the REST API's do)
    # reads '' after, not NULL: no actor, so the role acts.
    $env->psql("BEGIN; SELECT set_config('bbtoken.actor', '', true); "
               . "UPDATE bbtoken_users SET display_name = 'B' WHERE name = 'alice'; COMMIT");
    is_deeply($last->(), ['user_details_changed', 'postgres', 'postgres', 'sql', "display name 'B' (was 'A')"],
              'an empty actor: the role');
    # Only a change of active is user_enabled or user_disabled.
    my $n = $count->("event = 'user_enabled'");
    $env->cli_ok('user', 'set', 'alice', '--email', 'alice@example.org');
    is($count->("event = 'user_enabled'"), $n, 'an enabled user\'s e-mail set: no user_enabled');
    is($last->()->[0], 'user_details_changed', '  the details changed');
    # A revoked token may still be renamed (by SQL; an upgrade once renamed
    # revoked tokens too): that is no second revocation.
    my (undef, $id) = $env->token_create('alice', name => 'twice');
    $env->cli_ok('revoke', $id);
    $env->psql("UPDATE bbtoken_tokens SET name = 'twice #$id' WHERE id = '$id'");
    is_deeply($last->("token_id = '$id'"), ['renamed', 'postgres', 'postgres', 'sql', "'twice' -> 'twice #$id'"],
              'a revoked token renamed: renamed');
    is($count->("token_id = '$id' AND event = 'revoked'"), 1, '  and revoked once still');
    # The list a token is allowed from, and "any" once it is dropped.
    (undef, $id) = $env->token_create('alice', name => 'nets');
    $env->cli_ok('update', $id, '--allow-from', '10.0.0.0/8');
    is_deeply($last->("token_id = '$id'"), ['allowed_nets_changed', $ME, 'postgres', 'cli', '10.0.0.0/8'],
              'an allow-list set: the list');
    $env->cli_ok('update', $id, '--allow-from-any');
    is($last->("token_id = '$id'")->[4], 'any', '  dropped: any');
    # Revoked as unused without ever being used: unused since it was made.
    (undef, $id) = $env->token_insert('alice', name => 'idle', created => "'2030-01-01 00:00:00+00'");
    $env->psql("BEGIN; SET LOCAL bbtoken.revoke_reason = 'unused'; "
               . "UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id'; COMMIT");
    is_deeply([@{ $last->("token_id = '$id'") }[0, 4]],
              ['revoked_unused', "name 'idle', unused since 2030-01-01T00:00:00Z"],
              'revoked as unused, never used: unused since its creation');
    # A purged token that had expired, unrevoked, says so and since when.
    (undef, $id) = $env->token_create('alice', name => 'old', expiry_days => 1);
    $env->expire_token($id, 10);
    $env->cli_ok('purge', '--expired-before', '2099-12-31');
    my $del = $last->("token_id = '$id'");
    ok($del->[0] eq 'deleted' && $del->[4] =~ /^name 'old', expired \d{4}-\d\d-\d\dT/,
       'a purged expired token: expired WHEN')
        or diag explain $del;
};

done_testing;
