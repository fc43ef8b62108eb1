# A body a route reads is refused unread (415) when it is declared in a
# content coding or a charset but UTF-8 (t/39-git-lfs).  With MergeTrailers
# On, httpd adds a chunked body's trailer fields to the request's headers
# once the body is read, which the module does in the auth phase, after it
# looked at the headers: a Content-Encoding or a Content-Type sent as a
# trailer would reach the backend as though the client had declared it,
# beside bytes the module decided by as UTF-8.  Such a body is refused too,
# and the backend never sees it.  So is a method override sent as a
# trailer (README, Method overrides): a backend that honours it would run
# a method no route decided.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Util qw(spew);
use BBT::Assert;

my $extra = <<'EOC';
MergeTrailers On
ScriptAlias /git/ "@DIR@/cgi-bin/show.cgi/"
<Location /git>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /git
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra)->start;
my $D = $env->dir;
# What the backend was handed: the declared coding and type, and the body.
spew("$D/cgi-bin/show.cgi", <<'EOS', 0755);
#!/bin/sh
body=$(head -c "${CONTENT_LENGTH:-0}")
printf 'Content-Type: text/plain\r\n\r\n'
printf 'CE=%s\nCT=%s\nNOTE=%s\nBODY=%s\n' "${HTTP_CONTENT_ENCODING:--}" "${CONTENT_TYPE:--}" \
    "${HTTP_X_NOTE:--}" "$body"
EOS
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'r', perms => ['REPO_READ']);
my $batch = '/git/PROJ/repo.git/info/lfs/objects/batch';
my $json = '{"operation":"download","objects":[]}';

# A chunked batch with these trailer lines (each "Name: value").
sub chunked {
    my (@trailers) = @_;
    return $env->raw_request("POST $batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $tok\r\n"
                             . "Content-Type: application/vnd.git-lfs+json\r\n"
                             . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                             . sprintf('%x', length $json) . "\r\n$json\r\n0\r\n"
                             . join('', map {"$_\r\n"} @trailers) . "\r\n");
}

my $res = chunked();
is($res->{status}, 200, 'control: a chunked batch without trailers is decided and handed on');
like($res->{body} // '', qr/^CE=-\nCT=application\/vnd\.git-lfs\+json\nNOTE=-\nBODY=\Q$json\E$/m, '  as it was sent') or diag $res->{raw};
$res = chunked('X-Note: fine');
is($res->{status}, 200, 'control: another trailer field is harmless');
like($res->{body} // '', qr/^NOTE=fine$/m, '  and reaches the backend as a header (MergeTrailers On)') or diag $res->{raw};

for my $t (['Content-Encoding: br', 'a content coding'],
           ['Content-Type: application/json; charset=utf-7', 'a charset but UTF-8'],
           ['Content-Type: application/json', 'a second Content-Type (it may be read instead of the first)']) {
    $res = chunked($t->[0]);
    is($res->{status}, 415, "a trailer naming $t->[1] ($t->[0]): 415") or diag $res->{raw};
    like($res->{raw} // '', qr/^Accept-Encoding: identity\r?$/mi, '  saying Accept-Encoding: identity');
    unlike($res->{body} // '', qr/^BODY=/m, '  the backend never saw it');
}
like($env->error_log_text, qr/BBT825: the request body of POST \S+ is refused: its trailer/,
     'logged (BBT825)');

for my $t (['X-HTTP-Method-Override: DELETE', 'X-HTTP-Method-Override'],
           ['X-HTTP-Method: PUT', 'X-HTTP-Method'],
           ['x-method-override: delete', 'x-method-override']) {
    $res = chunked($t->[0]);
    is($res->{status}, 400, "a method override as a trailer ($t->[0]): 400") or diag $res->{raw};
    unlike($res->{body} // '', qr/^BODY=/m, '  the backend never saw it');
    like($env->error_log_text, qr/BBT043: POST \S+ refused: its trailer field \Q$t->[1]\E names another method/,
         '  logged (BBT043), by the field\'s name');
}
$res = chunked('X-HTTP-Method-Override: POST');
is($res->{status}, 200, 'control: an override naming the request\'s own method is harmless') or diag $res->{raw};
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
