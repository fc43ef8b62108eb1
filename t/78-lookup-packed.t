# httpd's token lookup reads one column of bbtoken_lookup, packed
# (sql/migrations/0027_lookup_packed.sql), and parses it strictly
# (mod_bbtoken/bbt_lookuprow.c).  A row whose packed column the module
# cannot read (a field of the wrong shape, an owner's field missing, a
# later format's version) is refused with 503, as a database fault, never
# 401 and never access; it is logged by the token's id alone (BBT075, or
# BBT790 for another format), and no child crashes.  `bbtoken db check`
# names the row and --repair writes it again, and then the token works;
# `db check --json` reports the same as one JSON document.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since);
use JSON::PP ();

my $env = BBT::Env->new(extra_conf => "BBTokenCache off\n")->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my ($tok, $id) = $env->token_create('alice', name => 'laptop');
my ($other, $other_id) = $env->token_create('alice', name => 'desktop');
sub get { $env->get($UP, auth_bearer($_[0])) }

is(get($tok)->{status}, 200, 'the token is accepted');
like($env->psql("SELECT packed FROM bbtoken_lookup WHERE id = '$id'"),
     qr/\A1 [0-9a-f]{32} [0-9a-f]{64} f t [1-9]\d* (?:-|\d+) [1-9]\d* - \d+:PROJECT_\w+ \d+:REPO_\w+ 6:laptop 5:alice - - - 12:127\.0\.0\.0\/24 \d+:~alice:3 .+\z/,
     'its packed column: version 1, then the row\'s fields');
my $secrets = $env->psql("SELECT salt || ' ' || secret_hash FROM bbtoken_tokens WHERE id = '$id'");

# A request with the token: 503, the line that says why (by id), nothing
# secret in the log.
sub refused_as_broken {
    my ($msg, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $mark = log_mark($env);
    is_503(get($tok), "$name: 503, not 401, not access");
    my $log = log_since($env, $mark);
    like($log, qr/\Q$msg\E: token \Q$id\E: its row of bbtoken_lookup /, "  $msg names the token by id");
    my @leaks = grep { index($log, $_) >= 0 } (split(/ /, $secrets), $tok, 'laptop');
    is_deeply(\@leaks, [], '  no salt, hash, token or token name in the log');
    is(get($other)->{status}, 200, '  another token of the same owner is still accepted');
    return $log;
}

# Repaired by db check --repair, which names the row: then accepted.
sub repaired {
    my ($cols, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    $env->cli_is("$name: db check", ['db', 'check'], 1, shape => 0,
                 stdout => qr/^token \Q$id\E: differs \(\Q$cols\E\)$/m);
    $env->cli_is("$name: db check --repair", ['db', 'check', '--repair'], 0, stdout => qr/^repaired 1 row$/m);
    is(get($tok)->{status}, 200, "$name: repaired, the token is accepted");
}

# bbtoken_lookup has no trigger of its own: a plain UPDATE of a field
# makes its packed column (generated from the fields) what httpd reads.
my %broken = (
    'a hash of the wrong length' => ["secret_hash = 'abc'", 'packed, secret_hash'],
    'a salt that is not hex' => ["salt = repeat('z', 32)", 'packed, salt'],
    'an empty token name' => ["token_name = ''", 'packed, token_name'],
    'an owner without a state' => ['user_active = NULL', 'packed, user_active'],
    'a personal token with a project\'s key' => ["project_key = 'PROJ'", 'packed, project_key'],
    'an unknown permission' => ["repo_perm = 'REPO_ROOT'", 'packed, repo_perm'],
    'an empty allow-list' => ["allowed_nets = ''", 'allowed_nets, packed'],
);
for my $what (sort keys %broken) {
    my ($set, $cols) = @{ $broken{$what} };
    subtest $what => sub {
        $env->psql("UPDATE bbtoken_lookup SET $set WHERE id = '$id'");
        refused_as_broken('BBT075', $what);
        repaired($cols, $what);
    };
}

subtest 'on an older schema: BBT075 says to upgrade it first' => sub {
    # A row the schema's later migrations rewrite (a personal project's key
    # by its owner's name with "@" before 56) reads as malformed, and only
    # db upgrade ends it: the line says so while the schema is behind.
    my ($latest) = (sort glob "$BBT::Env::ROOT/sql/migrations/0*.sql")[-1] =~ m{/0*(\d+)_\w+\.sql\z};
    my $was = $env->psql('SELECT version FROM bbtoken_schema');
    $env->psql('UPDATE bbtoken_schema SET version = ' . ($latest - 1));
    is($env->httpd_graceful, '', 'restarted on a schema one version behind');
    $env->psql("UPDATE bbtoken_lookup SET project_key = 'PROJ' WHERE id = '$id'");
    like(refused_as_broken('BBT075', 'behind'),
         qr/BBT075: [^\n]*version ${\($latest - 1)}, older than this module's\): run `bbtoken db upgrade`/,
         '  BBT075 names the version and says db upgrade');
    # db upgrade restarts nothing: the child reads the version again.
    $env->psql("UPDATE bbtoken_schema SET version = $was");
    unlike(refused_as_broken('BBT075', 'up to date'), qr/db upgrade/, '  brought up to date, BBT075 says only --repair');
    repaired('packed, project_key', 'behind');
};

subtest 'another format\'s version' => sub {
    # packed as a later schema might write it: bbtoken_lookup_pack made to
    # write version 2 for one update of the row, then put back.
    my $def = $env->psql("SELECT pg_get_functiondef('bbtoken_lookup_pack'::regproc)");
    (my $v2 = $def) =~ s/SELECT '1 '/SELECT '2 '/ or BAIL_OUT('no version in bbtoken_lookup_pack');
    $env->psql("BEGIN; $v2; UPDATE bbtoken_lookup SET token_name = token_name WHERE id = '$id'; $def; COMMIT");
    like($env->psql("SELECT packed FROM bbtoken_lookup WHERE id = '$id'"), qr/\A2 /, 'the row is in format 2');
    like(refused_as_broken('BBT790', 'format 2'), qr/BBT790: .*format this module does not know.*upgrade the module/,
         '  BBT790 says what to do');
    repaired('packed', 'format 2');
};

# db check --json: one document for monitoring, read here by a real JSON
# parser; the exit status as without --json.
sub check_json {
    my ($name, $args, $rc_want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out, $err) = $env->cli(@$args, '--json');
    is($rc, $rc_want, "$name: exit $rc_want");
    like($err, $rc_want ? qr/\Abbtoken: [^\n]+\n\z/ : qr/\A\z/, "$name: stderr as without --json");
    my $j = eval { JSON::PP->new->utf8->decode($out) };
    ok(ref $j eq 'HASH', "$name: stdout is one JSON object") or diag "$@$out";
    return $j || {};
}

subtest 'db check --json: the broken row and a trigger, then repaired' => sub {
    my $j = check_json('a true database', ['db', 'check'], 0);
    is_deeply($j->{findings}, [], '  no findings');
    ok($j->{ok}, '  ok');
    is($j->{tokens}, 2, '  two tokens');

    $env->psql("UPDATE bbtoken_lookup SET secret_hash = 'abc' WHERE id = '$id';"
               . " ALTER TABLE bbtoken_users DISABLE TRIGGER bbtoken_users_lookup_upd");
    $j = check_json('broken', ['db', 'check'], 1);
    is_deeply($j->{findings},
              [{ kind => 'trigger', trigger => 'bbtoken_users_lookup_upd', table => 'bbtoken_users',
                 fires => 'disabled', repaired => JSON::PP::false },
               { kind => 'differs', token => $id, columns => ['packed', 'secret_hash'],
                 repaired => JSON::PP::false }],
              '  the trigger and the row (by id, the columns by name)') or diag explain $j;
    is_deeply([@$j{qw(rowsWrong rowsRepaired triggersNotFiringAlways lookupTriggers)}], [1, 0, 1, 14],
              '  the counts');
    ok(!$j->{ok}, '  not ok');
    my $text = JSON::PP->new->encode($j);
    is_deeply([grep { index($text, $_) >= 0 } split(/ /, $secrets), $tok], [], '  no salt, hash or token in it');

    $env->psql("ALTER TABLE bbtoken_users ENABLE ALWAYS TRIGGER bbtoken_users_lookup_upd");
    $j = check_json('--repair', ['db', 'check', '--repair'], 0);
    is_deeply($j->{findings}, [{ kind => 'differs', token => $id, columns => ['packed', 'secret_hash'],
                                 repaired => JSON::PP::true }],
              '  the row, repaired') or diag explain $j;
    is_deeply([@$j{qw(rowsWrong rowsRepaired triggersNotFiringAlways)}], [0, 1, 0], '  the counts');
    ok($j->{ok}, '  ok');
    is(get($tok)->{status}, 200, 'the token is accepted');
    is_deeply(check_json('after', ['db', 'check'], 0)->{findings}, [], 'no findings after');
};

is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
