# An error page at the very URL refused is decided again (bbt_inherit.c)
# as httpd decides a request: where the Require lines let it in without a
# login but a module insists on one all the same (the force_authn hook),
# the login is asked for.  mod_authz_svn is such a module: with anonymous
# access on and credentials presented, its access check lets the request
# through on the promise that authentication and its authorization run
# after.  A token that is not proven is then refused, not served the page
# as if nobody had sent it.  And mod_authz_svn's own authorization, which
# grants on its access file alone, never widens a token.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Util qw(spew);
use BBT::Assert;
use BBT::Token qw(mistype_token);

my $moddir = $BBT::Env::MODDIR;
plan skip_all => 'mod_authz_svn missing (apt-get install libapache2-mod-svn)'
    unless -f "$moddir/mod_authz_svn.so" && -f "$moddir/mod_dav_svn.so";

my $extra = <<'EOC';
ScriptAlias /fa/ "@DIR@/cgi-bin/fa.cgi/"
<Location /fa>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /fa
    AuthzSVNAccessFile "@DIR@/svn-authz"
    SVNPath "@DIR@/svn/repo"
    Require all granted
    ErrorDocument 401 /fa/PROJ/repo.git/info/refs?service=git-upload-pack
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_svn authz_svn)],
                        httpd => 0)->start;
my $d = $env->dir;
spew("$d/svn-authz", "[/]\n* = rw\n");
spew("$d/cgi-bin/fa.cgi", <<'EOS', 0755);
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
printf 'SERVED %s %s?%s to %s\n' "$REQUEST_METHOD" "$PATH_INFO" "$QUERY_STRING" "${REMOTE_USER:-nobody}"
EOS
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $read = $env->token_create('alice', name => 'read', perms => ['REPO_READ']);
my $bad = mistype_token($read);
my $refs = '/fa/PROJ/repo.git/info/refs';

# Control: the token is proven and served, as its owner.
my $r = $env->get("$refs?service=git-upload-pack", { Authorization => "Bearer $read" });
is_status($r, 200, 'control: the read token is served the read');
like($r->{content}, qr{^SERVED GET /PROJ/repo\.git/info/refs\?service=git-upload-pack to alice$}m,
     '  to its owner') or diag $r->{content};

# mod_authz_svn's authorization, which grants on its access file alone,
# does not widen the token: the module's gate runs first.
$r = $env->get("$refs?service=git-receive-pack", { Authorization => "Bearer $read" });
is_status($r, 403, 'the read token is refused the push advertisement, which the access file grants');
unlike($r->{content}, qr/SERVED/, '  and the CGI did not serve it') or diag $r->{content};

# A token not proven is refused (mod_authz_svn forces the login); its
# error page is that very URL, where the login is forced again.
$r = $env->get("$refs?service=git-upload-pack", { Authorization => "Bearer $bad" });
is($r->{status}, 401, 'a mistyped token is refused');
unlike($r->{content}, qr/SERVED/, '  and its error page, the URL refused, is not served to it')
    or diag $r->{content};
like($env->error_log_text, qr/BBT782: GET \Q$refs\E inherited a decision/,
     'the error page was decided again (BBT782)');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
