# Every request to a section of AuthType BBToken is counted once, under
# what the module made of it, whichever phase refused it: TRACE (405,
# refused before authentication, BBT044), a method override (400, BBT043,
# a fixup's), a request decided, then changed in place by a
# per-directory RewriteRule (500, BBT783, refused in the module's last
# fixup after it had passed: not "allowed"), and a request to a section
# without an AuthName (500, BBT030: check_authn's, before any record).
# Those httpd decides there without the module count too: refused before
# authentication by a Require ip in a <RequireAll> (403, with or without
# credentials, whatever an ErrorDocument's page then made of them: one let
# in without a login, one a token would have been allowed), and let in
# without a login by Require all granted (allowed).  A request let in so,
# or allowed with a token, then handed by DirectoryIndex to a section
# whose Require refuses it (403, decided again there) counts as that
# refusal.  So does one a fixup refuses after authorization passed,
# before its handler: handed by DirectoryIndex to a section that needs a
# login (401, mod_dir passes the sub-request's refusal back, with or
# without a local ErrorDocument 401), or refused by a RewriteRule [F] in a
# <Directory> (403, let in or allowed with a token), or by mod_rewrite
# itself for a <Directory> without FollowSymLinks (403); the same
# sections' requests that reach their handler count as allowed, and one a
# fixup redirects (mod_dir's DirectorySlash, 301) as "other".  A request
# outside the module's sections still counts for nothing, nor does its
# error page in one.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env;
use File::Path qw(make_path);
use BBT::Util qw(spew slurp);

my $extra = <<'EOC';
<Location /metrics>
    SetHandler bbtoken-metrics
    Require ip 127.0.0.1
</Location>
ScriptAlias /rwi/ "@DIR@/cgi-rwi/env.cgi/"
<Location /rwi>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /rwi
    Require bbtoken
</Location>
<Location /noname>
    AuthType BBToken
    BBTokenRoutes git /noname
    Require bbtoken
</Location>
ScriptAlias /byip/ "@DIR@/cgi-bin/env.cgi/"
<Location /byip>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /byip
    <RequireAll>
        Require ip 10.9.9.9
        Require bbtoken
    </RequireAll>
</Location>
<Location /byip/PROJ/open.git>
    ErrorDocument 403 /open/error
</Location>
<Location /byip/PROJ/env.git>
    ErrorDocument 403 "/env/PROJ/repo.git/info/refs?service=git-upload-pack"
</Location>
ScriptAlias /open/ "@DIR@/cgi-bin/env.cgi/"
<Location /open>
    AuthType BBToken
    AuthName "Git"
    Require all granted
</Location>
ScriptAlias /getonly/ "@DIR@/cgi-bin/env.cgi/"
<Location /getonly>
    AuthType BBToken
    AuthName "Git"
    Require method GET
</Location>
Alias /wopen "@DIR@/www"
Alias /wtok "@DIR@/www"
<Directory "@DIR@/www">
    Options None
    AllowOverride None
    Require all granted
</Directory>
<Location /wopen>
    AuthType BBToken
    AuthName "Git"
    Require all granted
    DirectoryIndex /getonly/index
</Location>
<Location /wtok>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoute POST "/wtok/(?<project>[A-Z][A-Z0-9_]*)/(?<repo>[a-z0-9][a-z0-9._-]*)/" REPO_READ
    Require bbtoken
    DirectoryIndex /getonly/index
</Location>
ScriptAlias /tokidx/ "@DIR@/cgi-bin/env.cgi/"
<Location /tokidx>
    AuthType BBToken
    AuthName "Git"
    Require valid-user
</Location>
Alias /wlogin "@DIR@/www"
<Location /wlogin>
    AuthType BBToken
    AuthName "Git"
    Require all granted
    DirectoryIndex /tokidx/index
</Location>
<Location /wlogin/err>
    ErrorDocument 401 /wlogin/PROJ/e.html
</Location>
Alias /wforb "@DIR@/wforb"
Alias /wftok "@DIR@/wforb"
Alias /wnofollow "@DIR@/wnofollow"
<Directory "@DIR@/wforb">
    Options FollowSymLinks
    AllowOverride None
    Require all granted
    RewriteEngine On
    RewriteRule (^|/)secret$ - [F]
</Directory>
<Directory "@DIR@/wnofollow">
    Options None
    AllowOverride None
    Require all granted
    RewriteEngine On
    RewriteRule (^|/)secret$ - [F]
</Directory>
<Location /wforb>
    AuthType BBToken
    AuthName "Git"
    Require all granted
</Location>
<Location /wnofollow>
    AuthType BBToken
    AuthName "Git"
    Require all granted
</Location>
<Location /wftok>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoute GET "/wftok/(?<project>[A-Z][A-Z0-9_]*)/(?<repo>[a-z0-9][a-z0-9._-]*)/(secret|pub)" REPO_READ
    Require bbtoken
</Location>
<Location /open-env/denied>
    Require ip 10.9.9.9
    ErrorDocument 403 /open/error
</Location>
<Directory "@DIR@/cgi-rwi">
    RewriteEngine On
    RewriteCond %{QUERY_STRING} ^service=git-upload-pack$
    RewriteRule ^env\.cgi/ env.cgi?service=git-receive-pack
</Directory>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => ['rewrite', 'authz_host', 'authz_user', 'dir'], httpd => 0)->start;
my $d = $env->dir;
$env->write_cgi;
mkdir "$d/cgi-rwi" or die "$d/cgi-rwi: $!";
make_path("$d/www/PROJ/repo", "$d/www/err/x", "$d/wforb/PROJ/repo", "$d/wnofollow");
spew("$d/www/PROJ/e.html", "an error page\n");
for my $f ("wforb/secret", "wforb/pub", "wforb/PROJ/repo/secret", "wforb/PROJ/repo/pub", "wnofollow/secret") {
    spew("$d/$f", "a file\n");
}
spew("$d/cgi-rwi/env.cgi", slurp("$d/cgi-bin/env.cgi"), 0755);
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($read) = $env->token_create('alice', name => 'read', perms => ['REPO_READ']);
my $URL = '/rwi/PROJ/repo.git/info/refs?service=git-upload-pack';

sub scrape {
    my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url('/metrics'));
    my %v;
    for (split /\n/, $r->{content} // '') {
        $v{$1} = $2 if /^bbtoken_requests_total\{outcome="(\w+)"\} (\S+)$/;
    }
    return \%v;
}

# The counters' moves from $before, once they have moved by one in all
# (requests are counted in their log phase, after the response): a
# generous limit, then what moved, exact.
sub moved {
    my ($before) = @_;
    my ($v, %d, $sum);
    for (1 .. 300) {
        $v = scrape();
        %d = map { $_ => $v->{$_} - ($before->{$_} // 0) } keys %$v;
        $sum = 0;
        $sum += $_ for values %d;
        last if $sum >= 1;
        select undef, undef, undef, 0.1;
    }
    return join ',', map {"$_=$d{$_}"} grep { $d{$_} } sort keys %d;
}

my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
my $auth = { Authorization => "Bearer $read" };
my $NONAME = '/noname/PROJ/repo.git/info/refs?service=git-upload-pack';
for my $c (['TRACE', 'TRACE', {}, 405, 'other=1'],
           ['a method override', 'GET', { 'X-HTTP-Method-Override' => 'PUT' }, 400, '400=1'],
           ['a request changed in place after it was decided', 'GET', {}, 500, '500=1'],
           ['a section without an AuthName', 'GET', {}, 500, '500=1', $NONAME]) {
    my ($what, $method, $h, $status, $want, $url) = @$c;
    my $before = scrape();
    my $r = $ua->request($method, $env->url($url // $URL), { headers => { %$auth, %$h } });
    is($r->{status}, $status, "$what: $status");
    is(moved($before), $want, "  counted once, as $want");
}
like($env->error_log_text, qr/BBT044: .*BBT043: .*BBT783: .*BBT030: /s, 'the four refusals, each in its words');

# Decided by httpd alone, in the module's sections.
my $BYIP = '/byip/PROJ/repo.git/info/refs?service=git-upload-pack';
for my $c (['Require ip in a <RequireAll>, with a token', $BYIP, $auth, 403, '403=1'],
           ['Require ip in a <RequireAll>, no credentials', $BYIP, {}, 403, '403=1'],
           ['that, its error page let in without a login', '/byip/PROJ/open.git/info/refs', $auth, 403, '403=1'],
           ['that, its error page one the token is allowed', '/byip/PROJ/env.git/info/refs', $auth, 403, '403=1'],
           ['Require all granted, no credentials', '/open/x', {}, 200, 'allowed=1'],
           ['Require all granted, with a token', '/open/x', $auth, 200, 'allowed=1'],
           ['a POST let in, handed to a section that takes only GET', '/wopen/PROJ/repo/', {}, 403, '403=1', 'POST'],
           ['a POST allowed, handed to that section', '/wtok/PROJ/repo/', $auth, 403, '403=1', 'POST']) {
    my ($what, $url, $h, $status, $want, $method) = @$c;
    my $before = scrape();
    my $r = $ua->request($method // 'GET', $env->url($url),
                         { headers => $h, ($method ? (content => 'x=1') : ()) });
    is($r->{status}, $status, "$what: $status");
    is(moved($before), $want, "  counted once, as $want");
}
like($env->error_log_text, qr/AH01630: /, 'httpd refused by address (AH01630)');

# Refused by a fixup after authorization passed, before the handler: by
# that refusal, not as allowed.
my $noredirect = HTTP::Tiny->new(timeout => 30, keep_alive => 0, max_redirect => 0);
for my $c (['let in, handed by DirectoryIndex to a section that needs a login', '/wlogin/PROJ/repo/', {}, 401, '401=1'],
           ['that, with a local ErrorDocument 401', '/wlogin/err/x/', {}, 401, '401=1', qr/^an error page$/],
           ['let in, refused by a RewriteRule [F]', '/wforb/secret', {}, 403, '403=1'],
           ['let in, not refused by it', '/wforb/pub', {}, 200, 'allowed=1'],
           ['allowed with a token, refused by a RewriteRule [F]', '/wftok/PROJ/repo/secret', $auth, 403, '403=1'],
           ['allowed with a token, not refused by it', '/wftok/PROJ/repo/pub', $auth, 200, 'allowed=1'],
           ['let in, its RewriteRule refused without FollowSymLinks', '/wnofollow/secret', {}, 403, '403=1'],
           ['let in, redirected by mod_dir to add a slash', '/wforb/PROJ', {}, 301, 'other=1']) {
    my ($what, $url, $h, $status, $want, $body) = @$c;
    my $before = scrape();
    my $r = $noredirect->get($env->url($url), { headers => $h });
    is($r->{status}, $status, "$what: $status");
    like($r->{content}, $body, '  its error page') if $body;
    is(moved($before), $want, "  counted once, as $want");
}
like($env->error_log_text, qr/AH00670: /, 'mod_rewrite refused the rules without FollowSymLinks (AH00670)');

# Outside the module's sections: nothing.  Each is followed by a request
# the module allows, on the same connection, so that it was logged before
# that one was even read: the counters move by that one alone.
for my $c (['a request outside the module\'s sections', '/open-env/x', 200],
           ['one refused there, its error page in a section of the module\'s', '/open-env/denied', 403]) {
    my ($what, $url, $status) = @$c;
    my $kept = HTTP::Tiny->new(timeout => 30, keep_alive => 1);
    my $before = scrape();
    is($kept->get($env->url($url), { headers => $auth })->{status}, $status, "$what: $status");
    is($kept->get($env->url('/env/PROJ/repo.git/info/refs?service=git-upload-pack'), { headers => $auth })->{status},
       200, '  then one the module allows, on the same connection');
    is(moved($before), 'allowed=1', '  only that one counted');
}

done_testing;
