# Proxy-Authorization is for a proxy: httpd reads it only as the client's
# forward proxy, yet CGIPassAuth On hands it to a CGI (HTTP_PROXY_AUTHORIZATION)
# and mod_proxy forwards it from a request with no user.  A token sent in
# it (git told this server is its proxy, the token as the proxy password)
# is taken away wherever the module is loaded, as for an error page's
# Authorization header; a password in it is left alone.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(b64);
use BBT::Util qw(spew);
use BBT::Assert;

my $extra = <<'EOC';
ErrorDocument 404 /pa/error404
ScriptAlias /pa/ "@DIR@/cgi-bin/pa.cgi/"
<Location /pa>
    CGIPassAuth On
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, httpd => 0)->start;
my $d = $env->dir;
spew("$d/cgi-bin/pa.cgi", <<'EOS', 0755);
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
printf 'PATH_INFO=%s\n' "$PATH_INFO"
printf 'HTTP_PROXY_AUTHORIZATION=%s\n' "${HTTP_PROXY_AUTHORIZATION-(unset)}"
EOS
$env->write_cgi;
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $tok = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);
(my $bare = $tok) =~ s/^BBDC-//;
my $pw = 'Basic ' . b64('carol:carol-Pa55-word');

my $r = $env->get('/pa/page', { 'Proxy-Authorization' => $pw });
is_status($r, 200, 'control: a CGI outside the module\'s sections');
like($r->{content}, qr/^HTTP_PROXY_AUTHORIZATION=\Q$pw\E$/m, '  is handed a password in Proxy-Authorization');
# A user may be named with the prefix: its password is a password.
for my $u ('BBDC-deploy', 'bbdc-deploy') {
    my $h = 'Basic ' . b64("$u:carol-Pa55-word");
    $r = $env->get('/pa/page', { 'Proxy-Authorization' => $h });
    like($r->{content}, qr/^HTTP_PROXY_AUTHORIZATION=\Q$h\E$/m, "  and ${u}'s password")
        or diag $r->{content};
}

for my $c (['a token as the Basic password', 'Basic ' . b64("alice:$tok")],
           ['a Bearer token', "Bearer $tok"],
           ['a token without its prefix', "Bearer $bare"]) {
    my ($name, $h) = @$c;
    $r = $env->get('/pa/page', { 'Proxy-Authorization' => $h });
    is_status($r, 200, "$name in Proxy-Authorization: the CGI answers");
    like($r->{content}, qr/^HTTP_PROXY_AUTHORIZATION=\(unset\)$/m, '  and is not handed it')
        or diag $r->{content};
    # The error page of a request refused before its section was known.
    $r = $env->get('/env/PROJ/repo.git%2Finfo/refs', { 'Proxy-Authorization' => $h });
    is($r->{status}, 404, "$name in Proxy-Authorization, a %2F: refused");
    like($r->{content}, qr{^PATH_INFO=/error404$}m, '  the error page\'s CGI answered') or diag $r->{content};
    like($r->{content}, qr/^HTTP_PROXY_AUTHORIZATION=\(unset\)$/m, '  and was not handed it')
        or diag $r->{content};
}

# In the module's own section, with the token in Authorization too.
$r = $env->get('/env/PROJ/repo.git/info/refs?service=git-upload-pack',
               { Authorization => "Bearer $tok", 'Proxy-Authorization' => "Bearer $tok" });
is_status($r, 200, 'a read with the token in both headers is served');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
