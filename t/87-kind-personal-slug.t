# A personal project is keyed as Bitbucket keys it, by "~" and its owner's
# slug (the name in lower case, "@" as "_"), and every Bitbucket client
# builds its URLs so: for carol.smith@corp, /scm/~carol.smith_corp/home.git
# and /rest/access-tokens/1.0/projects/~carol.smith_corp.  Her own token
# clones there, a token of her personal project reaches it, a grant on it
# opens it to bob, and the tokens API finds the project's tokens there;
# the name itself (~carol.smith@corp, in any case) names the same project
# everywhere: the URL is rewritten to the slug's directory, the CLI and the
# API store the slug's key.  A rename that keeps the slug keeps the
# project's tokens.  The upgrade of keys stored under the name is
# t/30-migrations-versions.t's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(pct parse_token);
use BBT::Rest qw(rest_env);
use BBT::Cache qw(until_status);

my $C = 'carol.smith@corp';
my $env = rest_env(passwords => [$C => 'carol-Pa55', bob => 'bob-Pa55'], users => [$C, 'bob', 'dave'],
                   extra_conf => <<'EOC');
<Location /scm>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git
    Require bbtoken
</Location>
ScriptAlias /scm/ /usr/lib/git-core/git-http-backend/
EOC
# Where Bitbucket keeps it, and where the module serves it from.
$env->make_repo('~carol.smith_corp', 'home');
my @spellings = ('~carol.smith_corp', '~CAROL.SMITH_CORP', "~$C", '~Carol.Smith%40Corp');
my $refs = sub { "/scm/$_[0]/home.git/info/refs?service=git-upload-pack" };

my ($tok) = $env->token_create($C, name => 'home', perms => ['REPO_READ']);
for my $key (@spellings) {
    is($env->get($refs->($key), { Authorization => $env->bearer($tok) })->{status}, 200,
       "carol's own token reads $key/home");
}
my $w = $env->workdir('clone');
my ($rc, $o, $e) = $env->git('clone', '-q', 'http://' . pct($C) . ':' . pct($tok) . '@127.0.0.1:' . $env->port
                             . '/scm/~carol.smith_corp/home.git', $w);
is($rc, 0, 'git clone of /scm/~carol.smith_corp/home.git with her token') or diag "$o$e";
ok(-f "$w/README", '  and the clone has the repository\'s file');

my ($dt) = $env->token_create('dave', name => 'dave', perms => ['REPO_READ']);
is($env->get($refs->('~carol.smith_corp'), { Authorization => $env->bearer($dt) })->{status}, 403,
   "control: dave's token is refused ~carol.smith_corp/home");

# A token of her personal project, named by her name in another case.
my $pt = $env->scoped_token_create('--project', '~Carol.Smith@Corp', name => 'home ci',
                                   perms => ['PROJECT_READ', 'REPO_READ']);
my $pt_id = parse_token($pt)->{id};
is($env->psql("SELECT project_key FROM bbtoken_tokens WHERE id = '$pt_id'"), '~carol.smith_corp',
   'create --project ~Carol.Smith@Corp stores the key ~carol.smith_corp');
for my $key (@spellings) {
    is($env->get($refs->($key), { Authorization => $env->bearer($pt) })->{status}, 200,
       "the project token of her personal project reads $key/home");
}

# bob's grant, given on the name, opens the slug's URLs.
$env->cli_ok('grant', 'bob', 'REPO_READ', "~$C/home");
my ($bt) = $env->token_create('bob', name => 'bob', perms => ['REPO_READ']);
my ($ok, $n, $seen) = until_status($env, $refs->('~carol.smith_corp'), { Authorization => $env->bearer($bt) }, 200);
ok($ok, "bob's grant on ~$C/home: his token reads ~carol.smith_corp/home") or diag $seen;

# The tokens API: the project's tokens under either spelling, one list.
my %ids;
for my $key ('~carol.smith_corp', "~$C", '~CAROL.SMITH%40CORP') {
    my $r = $env->rest(GET => "/rest/access-tokens/1.0/projects/$key", as => $C);
    is($r->{status}, 200, "GET projects/$key as carol") or diag $r->{content};
    $ids{$key} = join ',', sort map { $_->{id} } @{ ($r->{json} || {})->{values} || [] };
    is($ids{$key}, $pt_id, '  lists the project token');
}
my $r = $env->rest(PUT => '/rest/access-tokens/1.0/projects/~carol.smith_corp/repos/home', as => $C,
                   json => { name => 'deploy', permissions => ['REPO_READ'] });
is($r->{status}, 200, 'PUT projects/~carol.smith_corp/repos/home as carol') or diag $r->{content};
my $rt = $r->{json} || {};
is($env->psql("SELECT project_key || '/' || repo_slug FROM bbtoken_tokens WHERE id = '$rt->{id}'"),
   '~carol.smith_corp/home', '  stored under the slug');
$r = $env->rest(GET => "/rest/access-tokens/1.0/projects/~$C/repos/home", as => $C);
is(join(',', map { $_->{id} } @{ ($r->{json} || {})->{values} || [] }), $rt->{id},
   "  and listed at projects/~$C/repos/home");
is($env->get($refs->('~carol.smith_corp'), { Authorization => $env->bearer($rt->{token}) })->{status}, 200,
   '  it reads ~carol.smith_corp/home');
$r = $env->rest(GET => '/rest/access-tokens/1.0/projects/~carol.smith_corp', as => 'bob');
ok($r->{status} == 401 || $r->{status} == 403, "control: bob may not list the tokens of carol's project")
    or diag "$r->{status} $r->{content}";

# The name changed to one of the same slug: the same project, tokens kept.
$env->psql("UPDATE bbtoken_users SET name = 'Carol.Smith_Corp' WHERE name = '$C'");
is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id IN ('$pt_id', '$rt->{id}') AND revoked_at IS NULL"),
   2, 'renamed Carol.Smith_Corp (the same slug): her project\'s tokens are not revoked');
is($env->get($refs->('~carol.smith_corp'), { Authorization => $env->bearer($pt) })->{status}, 200,
   '  and the project token still reads ~carol.smith_corp/home');

done_testing;
