# The token policy (issue 3): bbtoken policy shows and changes it; every
# refusal, by the CLI and by the database for a plain SQL INSERT; the default
# expiry, the maximum, for a token of any kind whether or not the policy
# was told to require one; the per-user limit; names unique among a user's tokens that are not
# revoked; expiry fixed for good (CLI and plain SQL UPDATE); name and
# permissions changeable, effective on the next request.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Env qw(parse_token in_children);
use BBT::Assert;
use BBT::Cache qw(settle);

my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $RP = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';

sub ntokens { $env->psql("SELECT count(*) FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id "
                         . "WHERE u.name = '$_[0]'") }

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');

subtest 'policy: defaults, --help, show and change' => sub {
    my ($rc, $out, $err) = $env->cli('policy', '--help');
    ok($rc == 0 && $out =~ /\AUsage: bbtoken policy/, 'policy --help');
    $env->cli_is('policy', ['policy'], 0,
           stdout => qr/\Aexpiry-required: no\nmax-expiry-days: none\nmax-tokens: 100\nrevoke-unused-after: none\n\z/);
    is_deeply($env->cli_json('policy'), { expiryRequired => JSON::PP::false, maxExpiryDays => undef,
                               maxTokensPerUser => 100, revokeUnusedAfterSeconds => undef },
              'policy --json: the defaults');
    $env->cli_is('--expiry-required without any maximum', ['policy', '--expiry-required'], 1,
           stderr => qr/maximum/);
    $env->cli_is('--expiry-required and --expiry-optional', ['policy', '--expiry-required', '--expiry-optional'], 2, shape => 0);
    for my $bad (['--max-expiry-days', '0'], ['--max-expiry-days', '36501'], ['--max-expiry-days', 'x'],
                 ['--max-tokens', '0'], ['--max-tokens', '-1'], ['--max-tokens', '1.5']) {
        $env->cli_is("policy @$bad", ['policy', @$bad], 1);
    }
    is($env->cli_json('policy')->{maxTokensPerUser}, 100, 'refused changes changed nothing');
    $env->cli_is('set a maximum of 30 days, required', ['policy', '--expiry-required', '--max-expiry-days', '30'], 0, shape => 0,
           stdout => qr/expiry-required: yes\nmax-expiry-days: 30\n/);
    # The maximum is what requires an expiry: without it none is required.
    $env->cli_is('--max-expiry-days none alone', ['policy', '--max-expiry-days', 'none'], 0, shape => 0,
           stdout => qr/\Aexpiry-required: no\nmax-expiry-days: none\n/);
    $env->cli_is('--expiry-required --max-expiry-days none', ['policy', '--expiry-required', '--max-expiry-days', 'none'],
           1, stderr => qr/maximum/);
    # The database keeps expiry_required to the maximum, whoever writes it.
    my ($r2, $o2, $e2) = $env->psql_try("UPDATE bbtoken_policy SET expiry_required = false, max_expiry_days = 30");
    is($r2, 0, 'SQL: a maximum with expiry_required false') or diag $e2;
    is($env->psql("SELECT expiry_required FROM bbtoken_policy"), 't', '  reads required');
    $env->psql("UPDATE bbtoken_policy SET max_expiry_days = NULL");
    is($env->psql("SELECT expiry_required FROM bbtoken_policy"), 'f', 'SQL: the maximum removed, not required');
    $env->cli_is('required again, at most 30 days', ['policy', '--expiry-required', '--max-expiry-days', '30'], 0,
           shape => 0, stdout => qr/expiry-required: yes\nmax-expiry-days: 30\n/);
    ($r2, $o2, $e2) = $env->psql_try("DELETE FROM bbtoken_policy");
    ok($r2 != 0, 'the policy row cannot be deleted') or diag $o2;
};

subtest 'expiry required: default is the maximum, said on stderr; more is refused' => sub {
    my ($rc, $out, $err) = $env->cli_is('create without --expiry-days', ['create', 'alice', '--name', 'default'], 0, shape => 0,
                                  stdout => qr{\ABBDC-[A-Za-z0-9+/]{44}\n\z},
                                  stderr => qr/\Abbtoken: [^\n]*policy[^\n]*30 days[^\n]*\n\z/);
    chomp $out;
    my $p = parse_token($out);
    is($env->psql("SELECT round(extract(epoch FROM expires_at - created_at) / 86400) FROM bbtoken_tokens "
                  . "WHERE id = '$p->{id}'"), 30, 'it expires 30 days after creation');
    is_ok_res($env->get($UP, { Authorization => "Bearer $out" }), 'and it works');
    my $before = ntokens('alice');
    $env->cli_is('create --expiry-days 31 (over the maximum)', ['create', 'alice', '--name', 'long', '--expiry-days', '31'],
           1, stderr => qr/at most 30 days/);
    $env->cli_is('create --expiry-days 30 (the maximum)', ['create', 'alice', '--name', 'max', '--expiry-days', '30'], 0);
    $env->cli_is('create --expiry-days 1', ['create', 'alice', '--name', 'short', '--expiry-days', '1'], 0);
    is(ntokens('alice'), $before + 2, 'only the refused one is missing');

    # The same rules for a plain SQL INSERT (a future REST API, a hand-made row).
    my $ins = sub {
        my ($id, $name, $exp) = @_;
        return $env->psql_try("INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, "
                              . "secret_hash, expires_at) SELECT '$id', id, '$name', 'PROJECT_READ', 'REPO_READ', "
                              . "repeat('a', 32), repeat('b', 64), $exp FROM bbtoken_users WHERE name = 'alice'");
    };
    my ($r, $o, $e) = $ins->('200000000001', 'sql long', "now() + interval '40 days'");
    ok($r != 0 && $e =~ /at most 30 days/, 'SQL INSERT with a 40-day expiry: refused') or diag $e;
    ($r, $o, $e) = $ins->('200000000002', 'sql none', 'NULL');
    is($r, 0, 'SQL INSERT without expiry: accepted') or diag $e;
    is($env->psql("SELECT round(extract(epoch FROM expires_at - created_at) / 86400) FROM bbtoken_tokens "
                  . "WHERE id = '200000000002'"), 30, '... with the default expiry of 30 days');
    $env->cli_ok('revoke', '200000000002');

    $env->cli_is('expiry optional again, no maximum', ['policy', '--expiry-optional', '--max-expiry-days', 'none'], 0, shape => 0);
    $env->cli_is('create without expiry: never expires, no note', ['create', 'alice', '--name', 'forever'], 0);
};

# A maximum set without --expiry-required is the bound of every new token
# too: one asked without an expiry gets it, of every kind and by SQL, and
# the policy says an expiry is required.  A token made before keeps none.
subtest 'a maximum alone: every new token expires within it' => sub {
    my (undef, $before) = $env->token_create('alice', name => 'before the maximum');
    $env->cli_is('--max-expiry-days 30 alone', ['policy', '--max-expiry-days', '30'], 0, shape => 0,
           stdout => qr/\Aexpiry-required: yes\nmax-expiry-days: 30\n/);
    my $p = $env->cli_json('policy');
    ok($p->{expiryRequired} && $p->{maxExpiryDays} == 30, 'policy --json: expiryRequired true, maxExpiryDays 30')
        or diag explain $p;
    my $days = sub {
        $env->psql("SELECT COALESCE(round(extract(epoch FROM expires_at - created_at) / 86400)::text, 'never') "
                   . "FROM bbtoken_tokens WHERE id = '$_[0]'");
    };
    for my $c ([personal => 'alice'], [project => '--project', 'PROJ'], [repository => '--repo', 'PROJ/repo']) {
        my ($kind, @holder) = @$c;
        my ($rc, $out, $err) = $env->cli_is("create, a $kind token without --expiry-days",
                                            ['create', @holder, '--name', "capped $kind"], 0, shape => 0,
                                            stdout => qr{\ABBDC-[A-Za-z0-9+/]{44}\n\z},
                                            stderr => qr/\Abbtoken: [^\n]*policy[^\n]*30 days[^\n]*\n\z/);
        chomp $out;
        is($out && $days->(parse_token($out)->{id}), 30, '  it expires 30 days after creation');
        $env->cli_is("create, a $kind token of 31 days", ['create', @holder, '--name', "long $kind",
                                                         '--expiry-days', '31'], 1, stderr => qr/at most 30 days/);
    }
    my ($r, $o, $e) = $env->psql_try("INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, "
                                     . "secret_hash) SELECT '200000000004', id, 'sql capped', 'PROJECT_READ', "
                                     . "'REPO_READ', repeat('a', 32), repeat('b', 64) FROM bbtoken_users "
                                     . "WHERE name = 'alice'");
    is($r, 0, 'SQL INSERT without expiry: accepted') or diag $e;
    is($days->('200000000004'), 30, '  with the maximum, 30 days');
    $env->cli_ok('revoke', '200000000004');
    is($days->($before), 'never', 'the token made before the maximum still never expires');
    $env->cli_is('--expiry-optional while the maximum stays', ['policy', '--expiry-optional'], 1,
           stderr => qr/--max-expiry-days none/);
    $env->cli_is('--expiry-optional with another maximum', ['policy', '--expiry-optional', '--max-expiry-days', '20'],
           1, stderr => qr/--max-expiry-days none/);
    is($env->cli_json('policy')->{maxExpiryDays}, 30, '  refused, nothing changed');
    $env->cli_is('--expiry-required: as it was', ['policy', '--expiry-required'], 0, shape => 0,
           stdout => qr/\Aexpiry-required: yes\nmax-expiry-days: 30\n/);
    $env->cli_is('the maximum dropped', ['policy', '--expiry-optional', '--max-expiry-days', 'none'], 0, shape => 0,
           stdout => qr/\Aexpiry-required: no\nmax-expiry-days: none\n/);
    my $out = $env->cli_is('create without expiry: never expires, no note', ['create', 'alice', '--name', 'forever 2'],
                           0);
    chomp $out;
    is($out && $days->(parse_token($out)->{id}), 'never', '  no expiry');
};

subtest 'per-user limit of live tokens' => sub {
    $env->user_add('lim');
    $env->cli_is('limit 3', ['policy', '--max-tokens', '3'], 0, shape => 0);
    my @ids;
    for my $i (1 .. 3) {
        my (undef, $id) = $env->token_create('lim', name => "t$i");
        push @ids, $id;
    }
    $env->cli_is('the 4th token is refused', ['create', 'lim', '--name', 't4'], 1,
           stderr => qr/lim already has 3 live tokens/);
    is(ntokens('lim'), 3, 'no row for it');
    $env->cli_ok('revoke', $ids[0]);
    $env->cli_is('after a revocation there is room', ['create', 'lim', '--name', 't4'], 0, shape => 0);
    $env->cli_is('full again', ['create', 'lim', '--name', 't5'], 1);
    # An expired token is not live: it does not count.
    $env->expire_token($ids[1]);
    $env->cli_is('an expired token frees its place', ['create', 'lim', '--name', 't5'], 0, shape => 0);
    my ($r, $o, $e) = $env->psql_try("INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, "
                                     . "salt, secret_hash) SELECT '200000000003', id, 'sql', 'PROJECT_READ', "
                                     . "'REPO_READ', repeat('a', 32), repeat('b', 64) FROM bbtoken_users "
                                     . "WHERE name = 'lim'");
    ok($r != 0 && $e =~ /live tokens/, 'the database refuses a plain SQL INSERT over the limit too') or diag $e;
    $env->cli_is('lowering the limit below what a user holds', ['policy', '--max-tokens', '2'], 0, shape => 0);
    is($env->psql("SELECT count(*) FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id "
                  . "WHERE u.name = 'lim' AND revoked_at IS NULL AND expires_at IS NULL"), 3,
       '... leaves their tokens alone');
    $env->cli_is('back to 100', ['policy', '--max-tokens', '100'], 0, shape => 0);
};

# Run bbtoken @args in $n processes at once; returns their exit codes.
sub concurrently {
    my ($n, @args) = @_;
    return map { $_ >> 8 } in_children($n, sub {
        my ($i) = @_;
        my ($rc) = $env->cli(map { s/\@N\@/$i/gr } @args);
        return $rc;
    });
}

subtest 'concurrent creations cannot overrun the limit or share a name' => sub {
    $env->user_add('race');
    $env->cli_is('limit 3', ['policy', '--max-tokens', '3'], 0, shape => 0);
    $env->token_create('race', name => "r$_") for 1 .. 2;
    my @rc = concurrently(8, 'create', 'race', '--name', 'c@N@');
    is(scalar(grep { $_ == 0 } @rc), 1, 'eight at once for the last place: exactly one succeeds') or diag "@rc";
    is(ntokens('race'), 3, 'three tokens');
    $env->cli_is('back to 100', ['policy', '--max-tokens', '100'], 0, shape => 0);
    @rc = concurrently(8, 'create', 'race', '--name', 'same');
    is(scalar(grep { $_ == 0 } @rc), 1, 'eight at once with the same name: exactly one succeeds') or diag "@rc";
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name = 'same'"), 1, 'one token named so');
};

subtest 'names are unique among a user\'s tokens that are not revoked' => sub {
    $env->user_add('nm');
    $env->user_add('other');
    my (undef, $id) = $env->token_create('nm', name => 'ci');
    $env->cli_is('same name again', ['create', 'nm', '--name', 'ci'], 1, stderr => qr/already has a token named 'ci'.*$id/);
    $env->cli_is('same name, another user', ['create', 'other', '--name', 'ci'], 0, shape => 0);
    $env->cli_is('same name in another case is another name', ['create', 'nm', '--name', 'CI'], 0, shape => 0);
    my (undef, $id2) = $env->token_create('nm', name => 'deploy');
    $env->cli_is('rename to a taken name', ['update', $id2, '--name', 'ci'], 1, stderr => qr/already has a token named/);
    is($env->token_row($id2)->{name}, 'deploy', 'not renamed');
    my ($r, $o, $e) = $env->psql_try("UPDATE bbtoken_tokens SET name = 'ci' WHERE id = '$id2'");
    ok($r != 0 && $e =~ /already has a token named/, 'the database refuses the rename too') or diag $e;
    # An expired token keeps its name until it is revoked or purged: a
    # script looking its token up by name finds exactly one.
    $env->expire_token($id);
    $env->cli_is('name of an expired token', ['create', 'nm', '--name', 'ci'], 1, stderr => qr/expired.*revoke/);
    $env->cli_ok('revoke', $id);
    $env->cli_is('free again once the old token is revoked', ['create', 'nm', '--name', 'ci'], 0, shape => 0);
    # The partial unique index is the last guard, even without the trigger.
    ($r, $o, $e) = $env->psql_try("SET session_replication_role = replica; UPDATE bbtoken_tokens SET name = 'ci' "
                                  . "WHERE id = '$id2'");
    ok($r != 0 && $e =~ /bbtoken_tokens_live_name/, 'the unique index refuses a duplicate without triggers')
        or diag $e;
};

subtest 'expiry is fixed once the token exists: CLI and database' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'fixed', expiry_days => 10);
    my $exp = $env->token_row($id)->{expires_at};
    $env->cli_is('update --expiry-days', ['update', $id, '--expiry-days', '5'], 1, stderr => qr/expiry.*cannot be changed/);
    $env->cli_is('update --expiry-days with --name', ['update', $id, '--name', 'x', '--expiry-days', '5'], 1);
    is($env->token_row($id)->{name}, 'fixed', 'nothing was changed');
    my ($never, $nid) = $env->token_create('alice', name => 'never');
    for my $c (["expires_at = expires_at + interval '1 day'", $id, 'later'],
               ["expires_at = expires_at - interval '1 day'", $id, 'earlier'],
               ["expires_at = NULL", $id, 'removed'],
               ["expires_at = now() + interval '1 day'", $nid, 'set on a token without expiry']) {
        my ($r, $o, $e) = $env->psql_try("UPDATE bbtoken_tokens SET $c->[0] WHERE id = '$c->[1]'");
        ok($r != 0 && $e =~ /expiry date cannot be changed/, "superuser SQL UPDATE, expiry $c->[2]: refused")
            or diag "exit $r: $e";
    }
    my ($r, $o, $e) = $env->psql_try("UPDATE bbtoken_tokens SET expires_at = now() - interval '1 second', "
                                     . "name = 'sneaky' WHERE user_id = (SELECT id FROM bbtoken_users "
                                     . "WHERE name = 'alice')");
    ok($r != 0, 'a bulk UPDATE touching expiry fails as a whole') or diag $o;
    is($env->token_row($id)->{expires_at}, $exp, 'expiry unchanged');
    is($env->token_row($nid)->{expires_at}, '', 'no expiry added');
    is($env->token_row($id)->{name}, 'fixed', 'and the name in the same statement unchanged');
    ($r, $o, $e) = $env->psql_try("UPDATE bbtoken_tokens SET expires_at = expires_at WHERE id = '$id'");
    is($r, 0, 'an UPDATE that leaves expires_at as it is passes') or diag $e;
    for my $c (["salt = repeat('c', 32)", 'salt'], ["secret_hash = repeat('c', 64)", 'hash'],
               ["created_at = created_at - interval '1 day'", 'creation time'],
               ["user_id = (SELECT id FROM bbtoken_users WHERE name = 'other')", 'owner'],
               ["id = '999999999999'", 'id']) {
        ($r, $o, $e) = $env->psql_try("UPDATE bbtoken_tokens SET $c->[0] WHERE id = '$id'");
        ok($r != 0 && $e =~ /bbtoken_tokens_fixed/, "SQL UPDATE of the $c->[1]: refused") or diag $e;
    }
    $env->cli_ok('revoke', $id);
    ($r, $o, $e) = $env->psql_try("UPDATE bbtoken_tokens SET revoked_at = NULL WHERE id = '$id'");
    ok($r != 0 && $e =~ /revocation is for good/, 'un-revoking by SQL: refused') or diag $e;
    is_401($env->get($UP, { Authorization => "Bearer $tok" }), 1, 'the token stays revoked');
};

subtest 'no other way around a fixed expiry: a chosen creation time, a reused id' => sub {
    $env->cli_ok('policy', '--expiry-required', '--max-expiry-days', '30');
    my $ins = sub {
        my ($id, $cols, $vals) = @_;
        return $env->psql_try("INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, "
                              . "secret_hash$cols) SELECT '$id', id, 'n$id', 'PROJECT_READ', 'REPO_READ', "
                              . "repeat('a', 32), repeat('b', 64)$vals FROM bbtoken_users WHERE name = 'alice'");
    };
    # A creation time in the future would move the 30-day window with it.
    my ($r, $o, $e) = $ins->('300000000001', ', created_at, expires_at',
                             ", now() + interval '1000 days', now() + interval '1010 days'");
    ok($r != 0 && $e =~ /at most 30 days/, 'INSERT with a future created_at: the window stays now()')
        or diag "exit $r: $e";
    ($r, $o, $e) = $ins->('300000000002', ', created_at', ", now() - interval '5 days'");
    is($r, 0, 'INSERT with a past created_at is accepted...') or diag $e;
    my $age = $env->psql("SELECT extract(epoch FROM now() - created_at) < 60 FROM bbtoken_tokens "
                         . "WHERE id = '300000000002'");
    is($age, 't', '... and stamped with the time of the insert');
    # Deleting a token and inserting it again under the same id would give
    # it a new expiry with the same secret.
    my $row = $env->token_row('300000000002');
    ($r, $o, $e) = $env->psql_try("DELETE FROM bbtoken_tokens WHERE id = '300000000002'");
    is($r, 0, 'the token row can be deleted') or diag $e;
    ($r, $o, $e) = $ins->('300000000002', ', expires_at', ", now() + interval '29 days'");
    ok($r != 0 && $e =~ /ids are never reused/, 'inserting it again under its old id: refused')
        or diag "exit $r: $e";
    $env->cli_ok('policy', '--expiry-optional', '--max-expiry-days', 'none');
};

subtest 'name and permissions change, effective within the cache\'s bound' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'mutable');
    my ($st, $v) = $env->env_cgi('PROJ/repo.git/info/refs?service=git-upload-pack', { Authorization => "Bearer $tok" });
    is($v->{BBTOKEN_NAME}, 'mutable', 'the CGI sees the name');
    is_ok_res($env->get($RP, { Authorization => "Bearer $tok" }), 'push allowed');
    $env->cli_ok('update', $id, '--name', 'renamed', '--perm', 'REPO_READ');
    settle();    # the token cache's bound: half a second
    ($st, $v) = $env->env_cgi('PROJ/repo.git/info/refs?service=git-upload-pack', { Authorization => "Bearer $tok" });
    is($v->{BBTOKEN_NAME}, 'renamed', 'the next request sees the new name');
    is_403($env->get($RP, { Authorization => "Bearer $tok" }), 'and the lowered permission: push refused');
};

subtest 'a disabled user gets no token; --help of the new commands' => sub {
    $env->user_add('gone');
    $env->cli_ok('user', 'disable', 'gone');
    my ($r, $o, $e) = $env->psql_try("INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, "
                                     . "secret_hash) SELECT '200000000009', id, 'x', 'PROJECT_READ', 'REPO_READ', "
                                     . "repeat('a', 32), repeat('b', 64) FROM bbtoken_users WHERE name = 'gone'");
    ok($r != 0 && $e =~ /disabled/, 'the database refuses a token for a disabled user') or diag $e;
    for my $c (['policy'], ['audit'], ['expiring'], ['purge'], ['db'], ['db', 'status'], ['db', 'upgrade'],
               ['revoke', '--user', 'gone']) {
        my ($rc, $out, $err) = $env->cli_raw('--db', 'host=127.0.0.1 port=1 dbname=x connect_timeout=1', @$c,
                                             '--help');
        ok($rc == 0 && $out =~ /\AUsage: bbtoken/ && $err eq '', "bbtoken @$c --help")
            or diag "exit $rc: $out $err";
    }
    my ($rc, $out) = $env->cli('--help');
    like($out, qr/^\s+policy /m, 'the main usage lists policy') and like($out, qr/^\s+expiring /m, '... and expiring');

    # Whose tokens: every holder's, a project's and a repository's too, as
    # the README says (The CLI, Token lifecycle), not "every user's".
    my $help = sub { (my $t = ($env->cli(@_, '--help'))[1]) =~ s/\s+/ /g; $t };
    my %says = (
        'list --all' => [[], qr/list --all \[FILTER\]\.\.\. \[--json\] \[--revoke \[--dry-run\]\] every token not revoked \(users', projects' and repositories'\); revoke a selection/],
        'expiring' => [['expiring'], qr/List every token \(users', projects' and repositories'\) that expires within DURATION/],
        'policy --max-tokens' => [['policy'], qr/--max-tokens N at most N live \(neither revoked nor expired\) tokens per user, and as many per project and per repository/],
    );
    for my $what (sort keys %says) {
        my $t = $help->(@{ $says{$what}[0] });
        like($t, $says{$what}[1], "$what: its help says whose tokens");
        unlike($t, qr/every user's tokens/, '  not "every user\'s tokens"');
    }
};

done_testing;
