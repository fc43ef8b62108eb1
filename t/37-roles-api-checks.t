# The API role's functions check the caller themselves, whatever httpd
# checked first: the API role (sql/grants-api.sql) changes tokens only
# through them, and they decide who may manage whose tokens for the
# caller httpd names, so a session of that role that skips the REST
# handlers' own checks (a compromised httpd, say) gets no further than
# the database lets that caller.  Each call below is one the handlers
# refuse before they ask the database, so only the function's own check
# refuses it: a disabled caller (bbtoken_api_target); a user without
# admin on a project or a repository revoking its token
# (bbtoken_api_scope_revoke asks bbtoken_api_may); a global admin
# rotating another user's token, refused as creating one is
# (bbtoken_api_rotate asks bbtoken_api_target for a creation).  Each is
# refused with BT001 and the function's message, and leaves every token
# and the audit trail as they were; the same calls by a caller who may
# go through, so the refusals are the checks', not the calls'.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(parse_token);

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add($_) for qw(alice carol writer radmin);
$env->user_add($_, '--admin') for qw(root boss);
$env->grant('writer', 'PROJECT_WRITE', 'PROJ');
$env->grant('radmin', 'REPO_ADMIN', 'PROJ/repo');
my (undef, $alice) = $env->token_create('alice', name => 'alice laptop');
my (undef, $carol) = $env->token_create('carol', name => 'carol laptop');
my $proj = parse_token($env->scoped_token_create('--project', 'PROJ', name => 'deploy',
                                                 perms => ['PROJECT_READ', 'REPO_READ']))->{id};
my $repo = parse_token($env->scoped_token_create('--repo', 'PROJ/repo', name => 'ci',
                                                 perms => ['REPO_READ']))->{id};
my $other = parse_token($env->scoped_token_create('--repo', 'PROJ/other', name => 'ci',
                                                  perms => ['REPO_READ']))->{id};
my $KEYS = "repeat('a', 32), repeat('b', 64)";

# Every token as it is, and the audit trail's length: what a refused call
# must leave alone.
sub snapshot {
    return $env->psql("SELECT string_agg(concat_ws(' ', id, name, project_perm, repo_perm, allowed_nets,"
                      . " revoked_at IS NULL), ', ' ORDER BY id) || '; audit '"
                      . " || (SELECT count(*) FROM bbtoken_audit) FROM bbtoken_tokens");
}

# $sql as the API role, with the SQLSTATE in the error: (rc, what psql said).
sub as_api {
    my ($sql) = @_;
    my ($rc, $out, $err) = $env->psql_try($sql, user => 'bbtoken_api', vars => ['VERBOSITY=verbose']);
    return ($rc, $err . $out);
}

# $sql refused with BT001 and exactly $msg, nothing changed.
sub refused {
    my ($sql, $msg, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $before = snapshot();
    my ($rc, $said) = as_api($sql);
    ok($rc != 0 && $said =~ /^ERROR:  BT001: \Q$msg\E$/m, "$name: BT001 $msg") or diag "exit $rc: $said";
    is(snapshot(), $before, "$name: no token changed or made, no audit row");
}

# $sql goes through, and writes the audit trail.
sub allowed {
    my ($sql, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $audit = $env->psql('SELECT count(*) FROM bbtoken_audit');
    my ($rc, $said) = as_api($sql);
    is($rc, 0, $name) or diag $said;
    cmp_ok($env->psql('SELECT count(*) FROM bbtoken_audit'), '>', $audit, "$name: recorded");
}

sub live { $env->psql("SELECT revoked_at IS NULL FROM bbtoken_tokens WHERE id = '$_[0]'") eq 't' }

subtest 'a disabled caller is refused by the function itself, on their own tokens and as an admin' => sub {
    $env->cli_ok('user', 'disable', $_) for qw(carol boss);
    my $no = 'not permitted: carol is not an active user';
    refused("SELECT bbtoken_api_create('carol', 'carol', '000000000101', 'new', 'PROJECT_READ', 'REPO_READ',"
            . " $KEYS, NULL)", $no, 'create');
    refused("SELECT bbtoken_api_update('carol', 'carol', '$carol', 'renamed', NULL, NULL)", $no, 'update');
    refused("SELECT bbtoken_api_set_nets('carol', 'carol', NULL, NULL, '$carol', '10.0.0.0/8')", $no,
            'set_nets');
    refused("SELECT bbtoken_api_rotate('carol', 'carol', NULL, NULL, '$carol', '000000000102', $KEYS)", $no,
            'rotate');
    refused("SELECT bbtoken_api_revoke('carol', 'carol', '$carol')", $no, 'revoke');
    refused("SELECT bbtoken_api_revoke('boss', 'alice', '$alice')",
            'not permitted: boss is not an active user', 'a disabled global admin revoking alice\'s');
    refused("SELECT bbtoken_api_update('boss', 'alice', '$alice', 'renamed', NULL, NULL)",
            'not permitted: boss is not an active user', 'a disabled global admin renaming alice\'s');
    ok(live($carol) && live($alice), 'carol\'s token and alice\'s are live');
    $env->cli_ok('user', 'enable', 'carol');
    allowed("SELECT bbtoken_api_update('carol', 'carol', '$carol', 'renamed', NULL, NULL)",
            'enabled again, carol renames her token');
};

subtest 'revoking a project\'s or a repository\'s token takes its admin' => sub {
    my $not = 'not permitted to manage the access tokens of';
    refused("SELECT bbtoken_api_scope_revoke('writer', 'PROJ', NULL, '$proj')", "$not project PROJ",
            'PROJECT_WRITE on PROJ, the project\'s token');
    refused("SELECT bbtoken_api_scope_revoke('writer', 'PROJ', 'repo', '$repo')", "$not repository PROJ/repo",
            'PROJECT_WRITE on PROJ, a repository\'s token');
    refused("SELECT bbtoken_api_scope_revoke('radmin', 'PROJ', NULL, '$proj')", "$not project PROJ",
            'REPO_ADMIN on PROJ/repo, the project\'s token');
    refused("SELECT bbtoken_api_scope_revoke('radmin', 'PROJ', 'other', '$other')",
            "$not repository PROJ/other", 'REPO_ADMIN on PROJ/repo, another repository\'s token');
    refused("SELECT bbtoken_api_scope_revoke('alice', 'PROJ', NULL, '$proj')", "$not project PROJ",
            'no grant at all, the project\'s token');
    ok(live($proj) && live($repo) && live($other), 'the three tokens are live');
    allowed("SELECT bbtoken_api_scope_revoke('radmin', 'PROJ', 'repo', '$repo')",
            'REPO_ADMIN on PROJ/repo revokes its token');
    allowed("SELECT bbtoken_api_scope_revoke('root', 'PROJ', NULL, '$proj')",
            'a global admin revokes the project\'s');
    ok(!live($repo) && !live($proj), '  both revoked');
};

subtest 'rotating a user\'s token takes its owner, a global admin too is refused' => sub {
    refused("SELECT bbtoken_api_rotate('root', 'alice', NULL, NULL, '$alice', '000000000103', $KEYS)",
            'not permitted to create the tokens of alice', 'a global admin rotating alice\'s');
    refused("SELECT bbtoken_api_rotate('writer', 'alice', NULL, NULL, '$alice', '000000000104', $KEYS)",
            'not permitted to create the tokens of alice', 'another user rotating alice\'s');
    ok(live($alice), 'alice\'s token is live');
    allowed("SELECT bbtoken_api_rotate('alice', 'alice', NULL, NULL, '$alice', '000000000105', $KEYS)",
            'alice rotates it');
    ok(!live($alice) && live('000000000105'), '  the old one revoked, the new one live');
};

done_testing;
