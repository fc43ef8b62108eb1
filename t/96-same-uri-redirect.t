# httpd runs no authentication or authorization for an internal redirect
# or a sub-request whose configuration is the very one of the request
# before it (the same URI in the same sections): it copies that request's
# user.  A route depends on the method and the query string too: a CGI
# answering a read of info/refs with a local Location to its own path and
# another query string (git's push advertisement) must not be served on
# the read's decision, nor an error page that is the refused URL (with
# another query string, or the very same) to a client that was refused.
# The redirected request is decided as if it had been sent: a writer's is
# served.  So is a redirect to the very same URL: decided again, it is the
# token's to the backend (BBTOKEN_*; httpd renamed the first request's
# REDIRECT_BBTOKEN_*) and its answer is kept private.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Util qw(spew slurp);
use BBT::Assert;

my $extra = <<'EOC';
ScriptAlias /rd/ "@DIR@/cgi-bin/rd.cgi/"
<Location /rd>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /rd
    Require bbtoken
    ErrorDocument 401 /rd/PROJ/repo.git/info/refs?service=git-upload-pack
</Location>
ScriptAlias /rd403/ "@DIR@/cgi-bin/rd.cgi/"
<Location /rd403>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /rd403
    Require bbtoken
    ErrorDocument 403 /rd403/PROJ/repo.git/info/refs?service=git-receive-pack
</Location>
# A per-directory RewriteRule (the fixups' internal redirect) that
# changes the query string alone.
ScriptAlias /rwq/ "@DIR@/cgi-bin/env.cgi/"
<Location /rwq>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /rwq
    Require bbtoken
    RewriteEngine On
    RewriteCond %{QUERY_STRING} ^service=git-upload-pack$
    RewriteRule ^ /rwq/PROJ/repo.git/info/refs?service=git-receive-pack [PT]
</Location>
# A per-directory RewriteRule to the very same file with another query
# string: mod_rewrite serves it in place, with no internal redirect.
ScriptAlias /rwi/ "@DIR@/cgi-rwi/env.cgi/"
<Location /rwi>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /rwi
    Require bbtoken
</Location>
<Directory "@DIR@/cgi-rwi">
    RewriteEngine On
    RewriteCond %{QUERY_STRING} ^service=git-upload-pack$
    RewriteRule ^env\.cgi/ env.cgi?service=git-receive-pack
</Directory>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => ['rewrite'], httpd => 0)->start;
my $d = $env->dir;
# Asked for the upload-pack advertisement, it sends the client on to the
# push advertisement of the same repository, at the same path.
# With X-Self, it sends the client to the very URL it asked for, once.
spew("$d/cgi-bin/rd.cgi", <<'EOS', 0755);
#!/bin/sh
if [ -n "${HTTP_X_SELF:-}" ]; then
    if [ -z "${REDIRECT_STATUS:-}" ]; then
        printf 'Location: %s?%s\r\n\r\n' "$SCRIPT_NAME$PATH_INFO" "$QUERY_STRING"
        exit 0
    fi
elif [ "$QUERY_STRING" = "service=git-upload-pack" ] && [ "${REDIRECT_STATUS:-200}" = 200 ]; then
    printf 'Location: %s?service=git-receive-pack\r\n\r\n' "$SCRIPT_NAME$PATH_INFO"
    exit 0
fi
printf 'Content-Type: text/plain\r\nCache-Control: public, max-age=31536000\r\n\r\n'
printf 'SERVED %s %s?%s to %s\n' "$REQUEST_METHOD" "$PATH_INFO" "$QUERY_STRING" "${REMOTE_USER:-nobody}"
printf 'BBTOKEN_ID=%s\nBBTOKEN_TOKEN_PERMISSIONS=%s\n' "${BBTOKEN_ID-(unset)}" "${BBTOKEN_TOKEN_PERMISSIONS-(unset)}"
EOS
$env->write_cgi;
mkdir "$d/cgi-rwi" or die "$d/cgi-rwi: $!";
spew("$d/cgi-rwi/env.cgi", slurp("$d/cgi-bin/env.cgi"), 0755);
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $read = $env->token_create('alice', name => 'read', perms => ['REPO_READ']);
my $write = $env->token_create('alice', name => 'write', perms => ['REPO_WRITE']);
my $refs = '/rd/PROJ/repo.git/info/refs';

my $r = $env->get("$refs?service=git-receive-pack", { Authorization => "Bearer $read" });
is_status($r, 403, 'control: the read token is refused the push advertisement');

$r = $env->get("$refs?service=git-upload-pack", { Authorization => "Bearer $read" });
is_status($r, 403, 'redirected to it at the same path, the read token is refused it too');
unlike($r->{content}, qr/SERVED/, '  and the CGI did not serve it') or diag $r->{content};

$r = $env->get("$refs?service=git-upload-pack", { Authorization => "Bearer $write" });
is_status($r, 200, 'the write token is redirected to it and served');
like($r->{content}, qr{^SERVED GET /PROJ/repo\.git/info/refs\?service=git-receive-pack to alice$}m,
     '  the push advertisement, to its owner') or diag $r->{content};

# The read token's read, sent on to itself: the backend knows it is a
# token's, a read token's (its owner may write), and no shared cache may
# keep the answer.
$r = $env->get("$refs?service=git-upload-pack", { Authorization => "Bearer $read", 'X-Self' => 1 });
is_status($r, 200, 'a read redirected to the very same URL is served');
like($r->{content}, qr/^SERVED GET .* to alice\nBBTOKEN_ID=\d{12}\nBBTOKEN_TOKEN_PERMISSIONS=(?:PROJECT_READ )?REPO_READ$/m,
     '  with the token for the backend to see') or diag $r->{content};
like($r->{headers}{'cache-control'} // '', qr/\bprivate\b/, '  its answer private');
unlike($r->{headers}{'cache-control'} // '', qr/\bpublic\b/, '  not the public the backend said')
    or diag $r->{headers}{'cache-control'};

# Refused for want of credentials, the client is sent the error page: the
# same URL with the query string of a read, which is not its to read.
$r = $env->get($refs);
is($r->{status}, 401, 'a request without credentials is refused');
unlike($r->{content}, qr/SERVED/, '  and its error page, the read at the same path, is not served to it')
    or diag $r->{content};
like($env->error_log_text, qr/BBT782: GET \Q$refs\E inherited a decision/,
     'the error page was decided again (BBT782)');

# The error page of a push refused for want of permission is the very URL
# refused: not served either.
$r = $env->get('/rd403/PROJ/repo.git/info/refs?service=git-receive-pack',
               { Authorization => "Bearer $read" });
is($r->{status}, 403, 'the read token is refused the push advertisement at /rd403');
unlike($r->{content}, qr/SERVED/, '  and its error page, that very URL, is not served to it')
    or diag $r->{content};

$r = $env->get('/rwq/PROJ/repo.git/info/refs?service=git-upload-pack', { Authorization => "Bearer $read" });
is_status($r, 403, 'rewritten to the push advertisement in the fixups, the read token is refused it');
unlike($r->{content}, qr/QUERY_STRING=service=git-receive-pack/, '  and the CGI did not serve it')
    or diag $r->{content};
$r = $env->get('/rwq/PROJ/repo.git/info/refs?service=git-upload-pack', { Authorization => "Bearer $write" });
like($r->{content}, qr/^QUERY_STRING=service=git-receive-pack$/m, '  the write token is served it')
    or diag $r->{content};

# The same query string rewritten in place, the file unchanged: no new
# request is decided, and the read token's request is refused rather than
# served the push advertisement on the read's decision.
$r = $env->get('/rwi/PROJ/repo.git/info/refs', { Authorization => "Bearer $read" });
is_status($r, 200, 'control: where the rule does not apply the read token is served');
$r = $env->get('/rwi/PROJ/repo.git/info/refs?service=git-upload-pack', { Authorization => "Bearer $read" });
is($r->{status}, 500, 'rewritten in place to the push advertisement, the read is refused');
unlike($r->{content}, qr/QUERY_STRING=service=git-receive-pack/, '  and the CGI did not serve it')
    or diag $r->{content};
like($env->error_log_text, qr{BBT783: GET /rwi/PROJ/repo\.git/info/refs was decided, then a fixup changed it},
     '  the error log says why (BBT783)');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
