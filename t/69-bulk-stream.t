# The CLI's bulk revocations on a big site: `list --all --revoke` reads
# what its filters select a batch at a time from a cursor the server holds
# and revokes each batch in a transaction of its own before printing it,
# so the CLI's peak memory does not grow with the tokens revoked;
# `revoke --project` revokes in batches too; each revocation is audited
# as one; killed midway it leaves whole batches revoked, and run again it
# revokes the rest; each batch selects again (a token used or revoked
# meanwhile is left out, and not printed), so two runs at once revoke,
# print and audit each token once; and a revoke or list of a project, a
# repository or an owner the database knows nothing of fails, as one of
# an unknown user or token does.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Util qw(slurp);

my $env = BBT::Env->new(httpd => 0)->start;
plan skip_all => "$BBT::Cli::TIME is not installed" unless -x $BBT::Cli::TIME;

$env->user_add('bulk');
$env->user_add('other');
my $bulk = $env->psql("SELECT id FROM bbtoken_users WHERE name = 'bulk'");

# Tokens $from .. $to of user bulk (or, with project => KEY, of project
# KEY), never used, named 'bulk N' and dots to 200 characters (a wide row
# is what the CLI held whole), made as bench/bigsite.sql makes its rows: one INSERT,
# the ordinary triggers off (the limit on live tokens would refuse them;
# those that keep the lookup table fire always).
sub add_tokens {
    my ($from, $to, %o) = @_;
    my ($uid, $key) = $o{project} ? ('NULL', "'$o{project}'") : ($bulk, 'NULL');
    $env->psql("SET session_replication_role = replica; "
               . "INSERT INTO bbtoken_tokens (id, user_id, project_key, name, project_perm, repo_perm, "
               . "salt, secret_hash) "
               . "SELECT lpad((300000000000 + g)::text, 12, '0'), $uid, $key, rpad('bulk ' || g, 200, '.'), "
               . "'PROJECT_READ', 'REPO_READ', md5('s' || g), md5('h' || g) || md5('k' || g) "
               . "FROM generate_series($from, $to) g");
}

# (peak RSS in kB, exit code, stdout) of bbtoken @args.
sub peak { return ($env->cli_peak({}, @_))[0 .. 2] }

# Not half as much again for 20x the tokens (holding the rows whole, it
# was 1.6 times as much).
sub rss_ok {
    my ($kb, $small, $what) = @_;
    $env->rss_below($kb, $small, 1.5, "$what, 20x the tokens");
}

my $live = "SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL";
my $audited = "SELECT count(*) FROM bbtoken_audit WHERE event = 'revoked' AND source = 'cli'";

subtest 'unknown targets: a failure, as an unknown user is' => sub {
    $env->cli_is('revoke --project of nothing', ['revoke', '--project', 'NOPE'], 1,
                 stderr => qr/^bbtoken: no such project NOPE: /);
    $env->cli_is('revoke --repo of nothing', ['revoke', '--repo', 'NOPE/x'], 1,
                 stderr => qr/^bbtoken: no such repository NOPE\/x: /);
    $env->cli_is('revoke --user of nobody', ['revoke', '--user', 'nobody'], 1,
                 stderr => qr/^bbtoken: no such user: nobody$/);
    # Known without a live token: none revoked is no failure.
    $env->grant('other', 'PROJECT_READ', 'KNOWN');
    $env->grant('other', 'REPO_READ', 'KNOWN/r');
    $env->cli_is('revoke --project known by a grant', ['revoke', '--project', 'KNOWN'], 0,
                 stdout => qr/^revoked 0 tokens of project KNOWN$/);
    $env->cli_is('revoke --repo known by a grant', ['revoke', '--repo', 'KNOWN/r'], 0,
                 stdout => qr/^revoked 0 tokens of repository KNOWN\/r$/);
    $env->cli_is('revoke --project ~other, a user\'s', ['revoke', '--project', '~other'], 0,
                 stdout => qr/^revoked 0 tokens of project ~OTHER$/i);
    $env->cli_is('revoke --user without tokens', ['revoke', '--user', 'other'], 0,
                 stdout => qr/^revoked 0 tokens of other$/);
};

subtest 'list of an unknown target: a failure, as list nobody is' => sub {
    $env->cli_is('list nobody', ['list', 'nobody'], 1, stderr => qr/^bbtoken: no such user: nobody$/);
    for my $json ([], ['--json']) {
        my $j = @$json ? ' --json' : '';
        $env->cli_is("list --project of nothing$j", ['list', '--project', 'NOPE', @$json], 1,
                     stderr => qr/^bbtoken: no such project NOPE: /);
        $env->cli_is("list --repo of nothing$j", ['list', '--repo', 'NOPE/x', @$json], 1,
                     stderr => qr/^bbtoken: no such repository NOPE\/x: /);
        $env->cli_is("list --all --owner nobody$j", ['list', '--all', '--owner', 'nobody', @$json], 1,
                     stderr => qr/^bbtoken: no such user: nobody$/);
        $env->cli_is("list --all --project of nothing$j",
                     ['list', '--all', '--project', 'nope', @$json], 1,
                     stderr => qr/^bbtoken: no such project NOPE: /);
    }
    for my $rev (['--revoke'], ['--revoke', '--dry-run']) {
        $env->cli_is("list --all --owner nobody @$rev", ['list', '--all', '--owner', 'nobody', @$rev], 1,
                     stderr => qr/^bbtoken: no such user: nobody$/);
        $env->cli_is("list --all --project of nothing @$rev",
                     ['list', '--all', '--project', 'NOPE', @$rev], 1,
                     stderr => qr/^bbtoken: no such project NOPE: /);
    }
    $env->cli_is('list --all --project ~nobody', ['list', '--all', '--project', '~nobody'], 1,
                 stderr => qr/^bbtoken: no such project ~NOBODY: /i);
    # Known without a live token: an empty listing, no failure.
    $env->cli_is('list --project known by a grant', ['list', '--project', 'KNOWN'], 0,
                 stdout => qr/^ID .*\n\z/);
    $env->cli_is('list --repo known by a grant', ['list', '--repo', 'KNOWN/r', '--json'], 0,
                 stdout => qr/^\[\]\n\z/);
    $env->cli_is('list --all --owner of a user without tokens', ['list', '--all', '--owner', 'OTHER'], 0,
                 stdout => qr/^ID .*\n\z/);
    $env->cli_is('list --all --project ~other, a user\'s', ['list', '--all', '--project', '~other',
                 '--kind', 'project', '--revoke'], 0, stdout => qr/\nrevoked 0 tokens\n\z/);
    $env->cli_is('list --all --project known by a grant', ['list', '--all', '--project', 'known',
                 '--kind', 'repository', '--revoke', '--dry-run'], 0,
                 stdout => qr/\nwould revoke 0 tokens\n\z/);
};

subtest 'list --all --revoke: the same peak memory for 20x the tokens' => sub {
    add_tokens(1, 500);
    my ($small, $rc, $out) = peak('list', '--all', '--owner', 'bulk', '--revoke');
    is($rc, 0, 'revoked 500');
    like($out, qr/\nrevoked 500 tokens\n\z/, '  says so');
    add_tokens(501, 10_500);
    my $kb;
    ($kb, $rc, $out) = peak('list', '--all', '--owner', 'bulk', '--revoke');
    is($rc, 0, 'revoked 10,000');
    my @lines = split /\n/, $out;
    is(scalar @lines, 10_002, 'a header, a line per token, the count');
    like($lines[0], qr/^ID\s+OWNER\s+NAME\s/, '  the header');
    is($lines[-1], 'revoked 10000 tokens', '  the count');
    is(scalar(grep { /^3000000\d{5}\s+bulk\s+bulk \d+\.+\s/ } @lines), 10_000, '  each token once');
    is($env->psql($live), 0, 'every token revoked');
    is($env->psql($audited), 10_500, 'each audited as a revocation from the CLI');
    rss_ok($kb, $small, 'list --all --revoke');
    ($kb, $rc, $out) = peak('list', '--all', '--owner', 'bulk', '--revoke');
    is($rc, 0, 'again');
    like($out, qr/\Arevoked 0 tokens\n\z|\nrevoked 0 tokens\n\z/, '  nothing left');
};

subtest 'list --all --revoke --json: a batch at a time, one document' => sub {
    add_tokens(20_001, 22_500);
    my $j = $env->cli_json('list', '--all', '--owner', 'bulk', '--revoke');
    is(scalar @$j, 2_500, 'each revoked token once, over three batches');
    is(scalar(grep { $_->{user}{name} eq 'bulk' } @$j), 2_500, '  as the inventory shows it');
    is($env->psql($live), 0, 'every token revoked');
};

subtest 'list --all --revoke killed midway: whole batches revoked, run again for the rest' => sub {
    add_tokens(50_001, 52_500);
    # The second batch waits for a token another session holds; then the
    # CLI is killed and its connection ends.
    my $h = $env->pg_session('holder');
    $h->send("BEGIN; SELECT id FROM bbtoken_tokens WHERE id = '300000051500' FOR UPDATE;");
    ok($h->done, 'a session holds a token of the second batch');
    my $out = "$env->{dir}/run/killed.out";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $ENV{PGAPPNAME} = 'bbt-killed';
        open STDOUT, '>', $out or die "$out: $!";
        exec $env->cli_path, '--db', $env->superuser_conninfo, 'list', '--all', '--owner', 'bulk', '--revoke'
            or die "exec: $!";
    }
    ok($env->pg_wait_backend('bbt-killed', "wait_event_type = 'Lock'"), 'the CLI waits in its second batch');
    kill 'KILL', $pid;
    waitpid($pid, 0);
    $env->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bbt-killed'",
               db => 'postgres');
    my $gone = 0;
    for (1 .. 1200) {
        last if $gone = $env->psql("SELECT count(*) = 0 FROM pg_stat_activity"
                                   . " WHERE application_name = 'bbt-killed'", db => 'postgres') eq 't';
        select undef, undef, undef, 0.05;
    }
    ok($gone, 'its connection ended');
    $h->send('ROLLBACK;');
    ok($h->done, 'the token let go');
    $h->finish;
    my @printed = map { /^(3000000\d{5})\s/ ? $1 : () } split /\n/, slurp($out);
    is(scalar @printed, 1_000, 'the first batch printed');
    my $range = "id BETWEEN '300000050001' AND '300000052500'";
    is($env->psql("SELECT string_agg(id, ' ' ORDER BY id) FROM bbtoken_tokens"
                  . " WHERE $range AND revoked_at IS NOT NULL"), join(' ', sort @printed),
       'those revoked, and only those');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens t WHERE $range AND (t.revoked_at IS NOT NULL)"
                  . " <> EXISTS (SELECT 1 FROM bbtoken_audit a WHERE a.token_id = t.id AND a.event = 'revoked')"),
       0, 'each token revoked and audited, or neither');
    $env->cli_is('db check: the lookup table agrees', ['db', 'check'], 0);
    $env->cli_is('run again', ['list', '--all', '--owner', 'bulk', '--revoke'], 0,
                 stdout => qr/\nrevoked 1500 tokens\n\z/);
    is($env->psql("$live AND $range"), 0, 'every token revoked');
};

# A listing that cannot be written (a full disk) ends the revocation at
# once, not after every token was revoked while the list went nowhere; and
# the reason is the write's.  The table's header, written after the pass
# that measures the columns, is what fails: before the first batch is
# revoked.
subtest 'list --all --revoke to a full disk: it stops at the first write' => sub {
    add_tokens(40_001, 42_500);
    my $range = "id BETWEEN '300000040001' AND '300000042500'";
    local $env->{cli_timeout} = 120;
    my ($rc, $out, $err) = $env->cli_to_full('list', '--all', '--owner', 'bulk', '--revoke');
    is($rc, 1, 'exit 1');
    like($err, qr/^bbtoken: listing tokens: cannot write to stdout: No space left on device$/m,
         '  the write\'s reason') or diag $err;
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE $range AND revoked_at IS NOT NULL"), 0,
       '  none of the three batches revoked');
    $env->cli_is('run again', ['list', '--all', '--owner', 'bulk', '--revoke'], 0,
                 stdout => qr/\nrevoked 2500 tokens\n\z/);
};

subtest 'reports to a full disk: the write\'s reason' => sub {
    for my $cmd (['audit'], ['audit', '--json'], ['list', 'bulk']) {
        local $env->{cli_timeout} = 120;
        my ($rc, $out, $err) = $env->cli_to_full(@$cmd);
        is($rc, 1, "@$cmd: exit 1");
        like($err, qr/cannot write to stdout: No space left on device$/m, '  the write\'s reason') or diag $err;
    }
};

# A closed pipe (`| head`) is a failed write like a full disk: exit 1 and
# the reason, not a death by SIGPIPE that a pipeline without pipefail
# hides.  Standard output is a pipe whose reader is gone before the CLI
# starts, so that the first write fails whatever the output's size, and
# SIGPIPE is the default for it whatever the harness ignores (an ignored
# signal is inherited across exec).
subtest 'reports to a closed pipe: the write\'s reason' => sub {
    my $closed = 'pipe(my $r, my $w) or die "pipe: $!"; close $r; open STDOUT, ">&", $w or die "dup: $!";'
               . ' $SIG{PIPE} = "DEFAULT"; exec @ARGV or exit 127';
    for my $cmd (['audit'], ['list', '--all'], ['list', 'bulk', '--json']) {
        my ($rc, $out, $err) = BBT::Util::run_cmd(
            cmd => ['perl', '-e', $closed, $env->cli_path, '--db', $env->superuser_conninfo, @$cmd],
            tmp => "$env->{dir}/run", timeout => 120);
        is($rc, 1, "@$cmd: exit 1, not killed by SIGPIPE");
        like($err, qr/^bbtoken: .*cannot write to stdout: Broken pipe$/m, '  the write\'s reason')
            or diag $err;
        is(($err =~ tr/\n//), 1, '  one line');
    }
};

subtest 'two list --all --revoke at once: each token revoked, printed and audited once' => sub {
    add_tokens(60_001, 62_500);
    my $range = "id BETWEEN '300000060001' AND '300000062500'";
    # Both wait on a token of the first batch, so that they go on together.
    my $h = $env->pg_session('holder2');
    $h->send("BEGIN; SELECT id FROM bbtoken_tokens WHERE id = '300000060500' FOR UPDATE;");
    ok($h->done, 'a session holds a token of the first batch');
    my %run;
    for my $name ('bbt-twin-a', 'bbt-twin-b') {
        my $out = "$env->{dir}/run/$name.out";
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            $ENV{PGAPPNAME} = $name;
            open STDOUT, '>', $out or die "$out: $!";
            open STDERR, '>', "$out.err" or die "$out.err: $!";
            exec $env->cli_path, '--db', $env->superuser_conninfo, 'list', '--all', '--owner', 'bulk', '--revoke'
                or die "exec: $!";
        }
        $run{$name} = [$pid, $out];
    }
    ok($env->pg_wait_backend('bbt-twin-%', "wait_event_type = 'Lock'", 2), 'both wait in their first batch');
    $h->send('ROLLBACK;');
    ok($h->done, 'the token let go');
    $h->finish;
    my (%seen, $total);
    for my $name (sort keys %run) {
        my ($pid, $out) = @{ $run{$name} };
        waitpid($pid, 0);
        is($? >> 8, 0, "$name: exit 0");
        is(slurp("$out.err"), '', "$name: nothing on stderr");
        my $text = slurp($out);
        my @ids = map { /^(3000000\d{5})\s/ ? $1 : () } split /\n/, $text;
        my ($said) = $text =~ /\nrevoked (\d+) tokens?\n\z/;
        is($said, scalar @ids, "$name: says how many it printed");
        $seen{$_}++ for @ids;
        $total += @ids;
    }
    is($total, 2_500, 'together they printed every token');
    is(scalar(grep { $_ > 1 } values %seen), 0, 'none printed twice');
    is($env->psql("$live AND $range"), 0, 'every token revoked');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'revoked' AND token_id BETWEEN"
                  . " '300000060001' AND '300000062500'"), 2_500, 'each audited once');
};

subtest 'list --all --revoke: the filters again at each batch, and only what it did printed' => sub {
    add_tokens(80_001, 82_500);
    my ($used, $gone) = ('300000081500', '300000081600');
    # Between the listing and the second batch: one token used, another
    # revoked by someone else.
    my $h = $env->pg_session('changer');
    $h->send("BEGIN; UPDATE bbtoken_tokens SET last_authenticated = now() WHERE id = '$used';"
             . " UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$gone';");
    ok($h->done, 'a session uses one token and revokes another, not committed');
    my $out = "$env->{dir}/run/recheck.out";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $ENV{PGAPPNAME} = 'bbt-recheck';
        open STDOUT, '>', $out or die "$out: $!";
        open STDERR, '>', "$out.err" or die "$out.err: $!";
        exec $env->cli_path, '--db', $env->superuser_conninfo, 'list', '--all', '--owner', 'bulk',
            '--never-used', '--revoke' or die "exec: $!";
    }
    ok($env->pg_wait_backend('bbt-recheck', "wait_event_type = 'Lock'"), 'the CLI waits in its second batch');
    $h->send('COMMIT;');
    ok($h->done, 'the session commits');
    $h->finish;
    waitpid($pid, 0);
    is($? >> 8, 0, 'exit 0');
    is(slurp("$out.err"), '', 'nothing on stderr');
    my $text = slurp($out);
    my @printed = map { /^(3000000\d{5})\s/ ? $1 : () } split /\n/, $text;
    like($text, qr/\nrevoked 2498 tokens\n\z/, 'says 2,498 revoked');
    is(scalar @printed, 2_498, '  and prints as many');
    ok(!(grep { $_ eq $used || $_ eq $gone } @printed), 'neither the used one nor the one revoked meanwhile printed');
    is($env->psql("SELECT revoked_at IS NULL FROM bbtoken_tokens WHERE id = '$used'"), 't', 'the used one live');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$gone' AND event = 'revoked'"), 1,
       'the other revoked and audited once, by the other session');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'revoked' AND source = 'cli'"
                  . " AND token_id BETWEEN '300000080001' AND '300000082500'"), 2_498, 'each printed one audited');
    $env->cli_ok('revoke', $used);
};

subtest 'revoke --user: a batch that another revocation took whole is not the end' => sub {
    $env->user_add('twice');
    my $uid = $env->psql("SELECT id FROM bbtoken_users WHERE name = 'twice'");
    $env->psql("SET session_replication_role = replica; "
               . "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash) "
               . "SELECT lpad((300000000000 + g)::text, 12, '0'), $uid, 'twice ' || g, "
               . "'PROJECT_READ', 'REPO_READ', md5('s' || g), md5('h' || g) || md5('k' || g) "
               . "FROM generate_series(70001, 71500) g");
    # Another revocation holds the lowest thousand, which the CLI's first
    # batch picks and then finds revoked when it gets them.
    my $h = $env->pg_session('other-revoke');
    $h->send("BEGIN; UPDATE bbtoken_tokens SET revoked_at = now()"
             . " WHERE id BETWEEN '300000070001' AND '300000071000';");
    ok($h->done, 'another session revokes the first thousand, not committed');
    my $out = "$env->{dir}/run/twice.out";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $ENV{PGAPPNAME} = 'bbt-twice';
        open STDOUT, '>', $out or die "$out: $!";
        open STDERR, '>', "$out.err" or die "$out.err: $!";
        exec $env->cli_path, '--db', $env->superuser_conninfo, 'revoke', '--user', 'twice' or die "exec: $!";
    }
    ok($env->pg_wait_backend('bbt-twice', "wait_event_type = 'Lock'"), 'the CLI waits for them');
    $h->send('COMMIT;');
    ok($h->done, 'the other revocation commits');
    $h->finish;
    waitpid($pid, 0);
    is($? >> 8, 0, 'exit 0');
    is(slurp($out), "revoked 500 tokens of twice\n", 'it revoked the other 500');
    is($env->psql("$live AND user_id = $uid"), 0, 'no token of the user left live');
};

subtest 'revoke --project: in batches, every one' => sub {
    add_tokens(30_001, 32_500, project => 'BULK');
    $env->cli_is('revoke --project', ['revoke', '--project', 'BULK'], 0,
                 stdout => qr/^revoked 2500 tokens of project BULK$/);
    is($env->psql($live), 0, 'every token revoked');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'revoked'"
                  . " AND token_id BETWEEN '300000030001' AND '300000032500'"),
       2_500, 'each audited');
    $env->cli_is('again', ['revoke', '--project', 'BULK'], 0,
                 stdout => qr/^revoked 0 tokens of project BULK$/);
};

done_testing;
