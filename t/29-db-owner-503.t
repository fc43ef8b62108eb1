# With BBTokenCache off, a token whose row the lookup has read and whose
# secret is right may need one more statement about its owner before it
# is judged: a token of a personal project ~name, whose owner (found by
# the slug, with whether the token is still live) is read apart (BBT321);
# an owner with too many grants for a level map, whose level on the
# target is read apart (BBT320); and a request with a second target, a
# COPY's or MOVE's Destination, where the owner's level there is read
# (BBT320).  Such a statement's failure is a database failure like any
# other: 503 with Retry-After, never 401 (git's credential helpers would
# erase a right token) and never 403.  Taken for an answer, the owner
# unread is an owner not active (401), and a level unread is no level at
# all (403).
#
# The lookup reads bbtoken_lookup alone; the owner's statement and the
# level's read bbtoken_users, which the lookup role is made unable to
# read (REVOKE SELECT): they alone fail, and a token that needs neither
# is let in meanwhile.  The error log says which statement failed, with the
# request, and never the token.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer parse_token);
use BBT::Assert;
use BBT::Cache qw(log_since);
use BBT::Secrets qw(token_forms no_secrets_in);

my $env = BBT::Env->new(extra_conf => <<'EOC')->start;
BBTokenCache off
ScriptAlias /mv/ "@DIR@/cgi-bin/env.cgi/"
<Location /mv>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoute GET "/mv/(?<project>[A-Z]+)/(?<repo>[a-z]+)/.+" REPO_READ
    BBTokenRoute COPY,MOVE "/mv/(?<project>[A-Z]+)/(?<repo>[a-z]+)/.+" REPO_WRITE
    BBTokenRoute COPY,MOVE "/mv/(?<project>[A-Z]+)/(?<repo>[a-z]+)/.+" REPO_WRITE destination
    Require bbtoken
</Location>
EOC
$env->make_repo('~alice', 'home');
$env->make_repo('PROJ', 'repo');
$env->user_add($_) for qw(alice many);
$env->grant($_, 'PROJECT_WRITE', 'PROJ') for qw(alice many);
$env->psql("INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
           . " SELECT u.id, 'MANY', 'r' || g, 'REPO_READ' FROM bbtoken_users u,"
           . " generate_series(1, bbtoken_lookup_grants_max()) g WHERE u.name = 'many'");
is($env->psql("SELECT bbtoken_owner_level_map(u) IS NULL FROM bbtoken_users u WHERE name = 'many'"), 't',
   'many has too many grants for a level map');

my %secret;
sub project_token {
    my ($project, $name) = @_;
    my $out = $env->cli_ok('create', '--project', $project, '--name', $name);
    chomp $out;
    my $p = parse_token($out) or die "no token printed: $out";
    token_forms($name, $out, \%secret);
    return ($out, $p->{id});
}
my ($home, $home_id) = project_token('~alice', 'home ci');
my ($proj) = project_token('PROJ', 'proj ci');
# alice's own token: its level on PROJ is in the map the lookup reads;
# the Destination's is asked apart.
my ($mine, $mine_id) = $env->token_create('alice', name => 'mover', perms => ['REPO_WRITE']);
token_forms('mover', $mine, \%secret);
my ($many, $many_id) = $env->token_create('many', name => 'many ci', perms => ['REPO_WRITE']);
token_forms('many', $many, \%secret);

my $HOME = '/scm/~alice/home.git/info/refs?service=git-upload-pack';
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

sub move {
    my ($dest) = @_;
    my $h = auth_bearer($mine);
    $h->{Destination} = $env->url($dest);
    return ($env->cgi_call('MOVE', '/mv/PROJ/repo/a.txt', $h))[0];
}

# $code's requests while the lookup role may not read bbtoken_users.
sub users_unread {
    my ($code) = @_;
    $env->psql('REVOKE SELECT ON bbtoken_users FROM bbtoken_httpd');
    my $ok = eval { $code->(); 1 };
    my $err = $@;
    $env->psql('GRANT SELECT ON bbtoken_users TO bbtoken_httpd');
    die $err unless $ok;
}

is_ok_res($env->get($HOME, auth_bearer($home)), 'the ~alice token reads ~alice/home');
is_ok_res($env->get($UP, auth_bearer($proj)), 'the PROJ token reads PROJ/repo');
is_ok_res(move('/mv/PROJ/other/b.txt'), "alice's token moves within PROJ");
is_ok_res($env->get($UP, auth_bearer($many)), "many's token reads PROJ/repo");

subtest "the personal project's owner unread: 503, never 401" => sub {
    my $mark = log_mark($env->error_log_path);
    users_unread(sub {
        is_503($env->get($HOME, auth_bearer($home)), 'the ~alice token');
        is_ok_res($env->get($UP, auth_bearer($proj)), 'the PROJ token, whose owner is not asked: let in');
    });
    my $log = log_since($env, $mark);
    like($log, qr/\[client [^\]]+\] BBT321: the personal project's owner failed: .*permission denied/,
         'BBT321: the statement that failed, with the request') or diag $log;
    unlike($log, qr/\Q$home_id\E refused/, 'the token is not refused');
    is_ok_res($env->get($HOME, auth_bearer($home)), 'bbtoken_users readable again: let in');
};

subtest "no level map, the owner's level on the target unread: 503, never 403" => sub {
    my $mark = log_mark($env->error_log_path);
    users_unread(sub {
        is_503($env->get($UP, auth_bearer($many)), "many's token");
        is_ok_res($env->get($UP, auth_bearer($mine)), "alice's token, whose level the map holds: let in");
    });
    my $log = log_since($env, $mark);
    like($log, qr/\[client [^\]]+\] BBT320: the owner's level failed: .*permission denied/,
         'BBT320: the statement that failed, with the request') or diag $log;
    unlike($log, qr/\Q$many_id\E refused/, 'the token is not refused');
    is_ok_res($env->get($UP, auth_bearer($many)), 'bbtoken_users readable again: let in');
};

subtest "the owner's level on the Destination unread: 503, never 403" => sub {
    my $mark = log_mark($env->error_log_path);
    users_unread(sub {
        is_503(move('/mv/PROJ/other/b.txt'), 'a MOVE within PROJ');
        is_ok_res(($env->cgi_call('GET', '/mv/PROJ/repo/a.txt', auth_bearer($mine)))[0],
                  'a GET, with no Destination, by the same token: let in');
    });
    my $log = log_since($env, $mark);
    like($log, qr/\[client [^\]]+\] BBT320: the owner's level failed: .*permission denied/,
         'BBT320: the statement that failed, with the request') or diag $log;
    unlike($log, qr/\Q$mine_id\E refused/, 'the token is not refused');
    is_ok_res(move('/mv/PROJ/other/b.txt'), 'bbtoken_users readable again: moves');
};

no_secrets_in('httpd error_log', $env->error_log_text, \%secret, 'no token');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
