# No configuration the README recommends logs a token, at any LogLevel.
# The configurations are the shipped snippets (conf/bbtoken-*.conf.in, which
# the README's Configuration and Self-service sections show), with paths
# made local: git, WebDAV, the access-tokens API and the tokens page on a
# virtual host of their own; and the README's password users beside tokens.
# Each gets a token in every field a client can put one (the Basic user
# name, the password, both, Bearer, Proxy-Authorization; with and without
# its prefix, mistyped in its secret or in its id, a character of its id
# left out, cut short), at LogLevel trace8, and no log may hold it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env qw(b64 mistype_token);
use BBT::Assert;
use BBT::Secrets qw(token_forms no_secrets_in);

sub snippet { BBT::Httpd::shipped_conf(@_) }

# The README's "password users beside tokens", on a prefix of its own.
my $password_users = <<'EOC';
ScriptAlias /pscm/ /usr/lib/git-core/git-http-backend/
<Location /pscm>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /pscm
    Require bbtoken
    AuthzSendForbiddenOnFailure On
</Location>
EOC
my $main = "TypesConfig /dev/null\nDavLockDB \"\@DIR\@/davlock/lockdb\"\n" . snippet('git') . snippet('dav')
    . $password_users;
my $api = "Define BBTOKEN_API_HOST\n" . snippet('rest') . snippet('page') . "UnDefine BBTOKEN_API_HOST\n";
my $env = BBT::Env->new(loglevel => 'trace8', extra_conf => $main, api_conf => $api, httpd => 0,
                        modules => [qw(auth_basic authn_file authz_user include mime dir headers dav dav_fs)])->start;
my $d = $env->dir;
make_path("$d/dav/PROJ/repo", "$d/davlock");
$env->install_page;
BBT::Env::spew("$d/dav/PROJ/repo/a.txt", "a\n");
$env->give_to_httpd("$d/dav", "$d/davlock");
my $pw = 'alice-Pa55-word';
$env->htpasswd(alice => $pw);
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'everywhere');
my $bare = $tok =~ s/^BBDC-//r;
my $typo = mistype_token($tok);
my $typo_bare = $typo =~ s/^BBDC-//r;
# Its id's fourth character, which no longer makes a digit: without its
# prefix, nothing about it is a well-formed token's.
my $typo_id = mistype_token($bare, 3);
my $dropped = substr($bare, 0, 5) . substr($bare, 6);
my $cut = substr($bare, 0, 40);
is_ok_res($env->get('/scm/PROJ/repo.git/info/refs?service=git-upload-pack', { Authorization => "Bearer $tok" }),
          'control: the token works on git');
is_status($env->rest(GET => '/rest/access-tokens/1.0/users/alice', as => 'alice', api => 1), 200,
          'control: the password works on the API');

my %where = (
    'git'            => [0, '/scm/PROJ/repo.git/info/refs?service=git-upload-pack'],
    'password users' => [0, '/pscm/PROJ/repo.git/info/refs?service=git-upload-pack'],
    'dav'            => [0, '/dav/PROJ/repo/a.txt'],
    'REST'           => [1, '/rest/access-tokens/1.0/users/alice'],
    'page'           => [1, '/account/tokens/'],
);
# [user, password] of every Basic credential that carries a token somewhere.
my @basic = ([$tok, $pw], [$tok, $tok], [$bare, 'x'], [$typo, 'x'], [$typo_bare, 'x'], ['alice', $tok],
             ['alice', $bare], ['alice', $typo], [$tok, ''], [$typo_id, 'x'], ['alice', $typo_id],
             [$dropped, 'x'], ['alice', $dropped], [$cut, 'x'], ['alice', $cut]);
my %secret;
token_forms('the token', $tok, \%secret, 'alice');
token_forms('the mistyped token', $typo, \%secret, 'alice');
for my $c (@basic) {
    my $b = b64("$c->[0]:$c->[1]");
    $secret{"Basic $c->[0]:..."} = $b;
    for (my $i = 0; $i + 16 <= length $b; $i += 4) {
        $secret{"Basic $c->[0]:... [$i..]"} = substr($b, $i, 16) if $c->[0] ne 'alice' || $i >= 8;
    }
}

for my $name (sort keys %where) {
    my ($on_api, $path) = @{ $where{$name} };
    my $url = $on_api ? $env->api_url($path) : $env->url($path);
    my @headers = ((map { { Authorization => 'Basic ' . b64("$_->[0]:$_->[1]") } } @basic),
                   { Authorization => "Bearer $tok" }, { Authorization => "Bearer $typo" },
                   { Authorization => "Bearer $bare" },
                   { 'Proxy-Authorization' => 'Basic ' . b64("alice:$tok"), Authorization => "Bearer $typo" });
    my $answered = 0;
    for my $h (@headers) {
        for my $method ($on_api && $name eq 'REST' ? ('GET', 'PUT') : ('GET')) {
            my %o = (headers => { %$h });
            if ($method eq 'PUT') {
                $o{headers}{'Content-Type'} = 'application/json';
                $o{content} = '{"name":"x","permissions":["REPO_READ"]}';
            }
            my $res = $env->http->request($method, $url, \%o);
            $answered++ if $res->{status} >= 200 && $res->{status} < 600 && $res->{status} != 599;
        }
    }
    ok($answered >= @headers, "$name: every credential answered");
}
my $r = $env->http->request('GET', $env->api_url('/rest/access-tokens/1.0/users/alice'),
                            { headers => { Authorization => 'Basic ' . b64("$tok:$pw") } });
is($r->{status}, 401, 'a token as the API\'s user name: refused (401), never shown to mod_authn_file');

sleep 1;
my %logs;
opendir my $dh, "$d/logs" or die $!;
for my $f (grep { !/^\./ } readdir $dh) {
    $logs{"httpd $f"} = BBT::Env::slurp("$d/logs/$f");
}
closedir $dh;
$logs{'postgres log'} = $env->pg_log_text;
cmp_ok(length $logs{'httpd error_log'}, '>', 10_000, 'error_log is written (trace8)');
unlike($logs{'httpd error_log'}, qr/BBT35[23]/, 'the snippets draw no startup warning');
like($logs{'httpd error_log'}, qr/\b$id\b/, 'and names the token by its id');
for my $log (sort keys %logs) {
    no_secrets_in($log, $logs{$log}, \%secret, 'no token in any field, any form');
}

done_testing;
