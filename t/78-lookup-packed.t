# httpd's token lookup reads one column of bbtoken_lookup, packed
# (sql/migrations/0027_lookup_packed.sql), and parses it strictly
# (mod_bbtoken/bbt_lookuprow.c).  A row whose packed column the module
# cannot read (a field of the wrong shape, an owner's field missing, a
# later format's version) is refused with 503, as a database fault, never
# 401 and never access; it is logged by the token's id alone (BBT075, or
# BBT790 for another format), and no child crashes.  `bbtoken db check`
# names the row and --repair writes it again, and then the token works.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since);

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

is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
