# The access-tokens REST API answers in Bitbucket's JSON error envelope even
# where httpd would answer with its own HTML page: a body over the
# location's LimitRequestBody (with a Content-Length, or chunked), a chunked
# body that breaks, and a request that reaches the handler without a login
# (a location that forgot to require one).  A request that used a token
# still hears that tokens cannot manage tokens.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Assert;
use BBT::Rest qw(rest_env);

# /1.0 logs in with Basic; /latest is the same with a small LimitRequestBody.
# /1.0/users/carol forgets to require a login; /1.0/users/erin forgets it
# too but keeps AuthType Basic, so a challenge can be offered.
my $extra = <<'EOC';
<Location /rest/access-tokens/1.0/users/erin>
    Require all granted
</Location>
<Location /rest/access-tokens/1.0/revoke-by-value>
    Require all granted
</Location>
EOC
my $pw = 'alice-Pa55-word';
my $env = rest_env(error_paths => 1, extra_conf => $extra, passwords => [alice => $pw],
                   users => [qw(alice carol erin)]);

my $auth = $env->basic('alice', $pw);
my $host = '127.0.0.1:' . $env->port;

# The first error of a Bitbucket envelope, or undef.
sub envelope {
    my ($body) = @_;
    my $j = eval { decode_json($body // '') };
    return undef unless ref $j eq 'HASH' && ref $j->{errors} eq 'ARRAY' && @{ $j->{errors} } == 1;
    my $e = $j->{errors}[0];
    return undef unless ref $e eq 'HASH' && exists $e->{context} && !defined $e->{context};
    return $e;
}

sub is_envelope {
    my ($res, $status, $msg_re, $ex_re, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $body = $res->{content} // $res->{body};
    my $ct = $res->{headers}{'content-type'};
    $ct = $ct->[0] if ref $ct;
    my $e = envelope($body);
    my $ok = $res->{status} == $status && ($ct // '') =~ m{^application/json} && $e
        && ($e->{message} // '') =~ $msg_re && ($e->{exceptionName} // '') =~ $ex_re;
    ok($ok, "$name: $status, the JSON envelope") or diag res_summary($res);
    return $ok;
}

# A raw PUT with a body framed as given (the head's last line included).
sub raw_put {
    my ($path, $framing, $body) = @_;
    return $env->raw_request("PUT $path HTTP/1.1\r\nHost: $host\r\nAuthorization: $auth\r\n"
                             . "Content-Type: application/json\r\nConnection: close\r\n"
                             . "$framing\r\n\r\n$body");
}

my $json = '{"name":"' . ('x' x 150) . '","permissions":["REPO_READ"]}';
my $chunked = sub { join('', map { sprintf("%x\r\n%s\r\n", length $_, $_) } @_) . "0\r\n\r\n" };

subtest 'a body over LimitRequestBody: 413 in JSON' => sub {
    my $res = $env->request(PUT => '/rest/access-tokens/latest/users/alice',
                            { Authorization => $auth, 'Content-Type' => 'application/json' }, $json);
    is_envelope($res, 413, qr/too large/, qr/RequestTooLargeException/, 'Content-Length over the limit');
    $res = raw_put('/rest/access-tokens/latest/users/alice', 'Transfer-Encoding: chunked',
                   $chunked->(substr($json, 0, 80), substr($json, 80)));
    is_envelope($res, 413, qr/too large/, qr/RequestTooLargeException/, 'chunked, over the limit');
    my $small = '{"name":"small","permissions":["REPO_READ"]}';
    $res = raw_put('/rest/access-tokens/latest/users/alice', 'Transfer-Encoding: chunked',
                   $chunked->(substr($small, 0, 10), substr($small, 10)));
    is_status($res, 200, 'chunked, under the limit: 200');
    $res = raw_put('/rest/access-tokens/1.0/users/alice', 'Transfer-Encoding: chunked',
                   $chunked->(('x' x 40000) x 2));
    is_envelope($res, 413, qr/too large/, qr/RequestTooLargeException/, 'chunked, over 64 KiB');
    # Said to be over 64 KiB to a client that waits to be asked for it:
    # refused at once, rather than invited ("100 Continue") and cut off.
    $res = raw_put('/rest/access-tokens/1.0/users/alice', "Content-Length: 100000000\r\nExpect: 100-continue", '');
    is_envelope($res, 413, qr/too large/, qr/RequestTooLargeException/,
                'Content-Length over 64 KiB with Expect: 100-continue: no invitation');
    unlike($res->{raw}, qr{^HTTP/1\.1 100}, '  no 100 Continue');
};

subtest 'a body that cannot be read: 400 in JSON' => sub {
    my $res = raw_put('/rest/access-tokens/1.0/users/alice', 'Transfer-Encoding: chunked',
                      "zz\r\n{}\r\n0\r\n\r\n");
    is_envelope($res, 400, qr/could not be read/, qr/ArgumentValidationException/, 'a chunk size that is no number');
    $res = raw_put('/rest/access-tokens/1.0/users/alice', 'Transfer-Encoding: chunked',
                   "2\r\n{}XX\r\n0\r\n\r\n");
    is_envelope($res, 400, qr/could not be read/, qr/ArgumentValidationException/, 'a chunk longer than it said');
    is(scalar(grep { /^\d{12}/ } split /\n/, $env->cli_ok('list', 'alice')), 1, 'only the one good token was made');
};

subtest 'a body that is not the JSON asked for: 400 in JSON, never 500' => sub {
    my $U = '/rest/access-tokens/1.0/users/alice';
    my %h = (Authorization => $auth, 'Content-Type' => 'application/json');
    # Raw bytes: jansson's message quotes where it stopped, and a character
    # after a backslash is quoted by its first byte alone; a permission name
    # is quoted up to a length, which can fall inside a character.
    my @cases = (
        ['a backslash before a 2-byte character', PUT => $U, qq({"name":"\\\xc3\xa9","permissions":["REPO_READ"]}),
         qr/not a JSON object: invalid escape/],
        ['a backslash before a 4-byte character (update)', POST => "$U/123456789012", qq({"name":"\\\xf0\x9f\x98\x80"}),
         qr/not a JSON object: invalid escape/],
        ['an unknown permission of 2-byte characters', PUT => $U,
         qq({"name":"x","permissions":["a) . ("\xc3\xa9" x 40) . '"]}', qr/^unknown permission a(\x{e9})+: expected PROJECT_READ/],
        ['a backslash before a character, reported without a login', POST => '/rest/access-tokens/1.0/revoke-by-value',
         qq(["\\\xc3\xa9"]), qr/not a JSON array: invalid escape/, { 'Content-Type' => 'application/json' }],
        ['nested 60,000 deep', PUT => $U, '[' x 60000, qr/^the request body holds more than this call reads: arrays and objects nest more than 6 deep$/],
        ['a key twice', PUT => $U, '{"name":"a","name":"b","permissions":["REPO_READ"]}', qr/duplicate object key/],
        ['1e999', PUT => $U, '{"name":"a","permissions":["REPO_READ"],"expiryDays":1e999}', qr/real number overflow/],
        ['-0 days', PUT => $U, '{"name":"a","permissions":["REPO_READ"],"expiryDays":-0}', qr/expiryDays must be/],
        ['\\u0000 in a name', PUT => $U, '{"name":"a\\u0000b","permissions":["REPO_READ"]}', qr/\\u0000 is not allowed/],
        ['a lone surrogate', PUT => $U, '{"name":"\\ud800","permissions":["REPO_READ"]}', qr/invalid Unicode/],
        ['a byte that is no UTF-8', PUT => $U, qq({"name":"\xff","permissions":["REPO_READ"]}), qr/unable to decode byte/],
    );
    for my $c (@cases) {
        my ($name, $method, $path, $body, $msg_re, $hdrs) = @$c;
        my $res = $env->request($method => $path, $hdrs || \%h, $body);
        is_envelope($res, 400, $msg_re, qr/ArgumentValidationException/, $name);
    }
    is(scalar(grep { /^\d{12}/ } split /\n/, $env->cli_ok('list', 'alice')), 1, 'no token was made');
};

subtest 'a compressed body: 415 unread, Accept-Encoding: identity' => sub {
    my $U = '/rest/access-tokens/1.0/users/alice';
    my $body = '{"name":"coded","permissions":["REPO_READ"]}';
    require IO::Compress::Gzip;
    IO::Compress::Gzip::gzip(\$body => \my $gz) or die 'gzip';
    for my $c (['gzip', $gz], ['br', $body], ['identity, gzip', $gz]) {
        my $res = $env->request(PUT => $U, { Authorization => $auth, 'Content-Type' => 'application/json',
                                             'Content-Encoding' => $c->[0] }, $c->[1]);
        is_envelope($res, 415, qr/content coding/, qr/UnsupportedMediaType|Media/, "Content-Encoding: $c->[0]");
        is($res->{headers}{'accept-encoding'}, 'identity', '  Accept-Encoding: identity');
    }
    is(scalar(grep { /^\d{12}/ } split /\n/, $env->cli_ok('list', 'alice')), 1, 'no token was made');
    # Control: the API reads UTF-8 whatever the charset says, as before (an
    # ASCII body a Java client labels ISO-8859-1), and identity is no coding.
    my $res = $env->request(PUT => $U, { Authorization => $auth, 'Content-Type' => 'application/json; charset=ISO-8859-1',
                                         'Content-Encoding' => 'identity' }, $body);
    is_status($res, 200, 'identity, labelled ISO-8859-1: made');
    ok(!defined $res->{headers}{'accept-encoding'}, '  no Accept-Encoding');
    $env->cli_ok('revoke', decode_json($res->{content} // $res->{body})->{id});
    # An empty field is an empty list, no coding (RFC 9110 5.6.1, 8.4), and
    # the API was always the body's only reader: clients that send one were
    # served before the API asked about codings, and still are.
    for my $ce ('', ' ') {
        $res = $env->raw_request("PUT $U HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: $auth\r\n"
                                 . "Content-Type: application/json\r\nContent-Encoding:$ce\r\n"
                                 . 'Content-Length: ' . length($body) . "\r\nConnection: close\r\n\r\n$body");
        is($res->{status}, 200, "an empty Content-Encoding ('$ce'): made") or diag $res->{raw};
        $env->cli_ok('revoke', decode_json($res->{body})->{id}) if $res->{status} == 200;
    }
};

subtest 'no login: authentication is required' => sub {
    my $res = $env->get('/rest/access-tokens/1.0/users/carol');
    is_envelope($res, 401, qr/[Aa]uthentication is required/, qr/AuthorisationException/,
                'a location that requires no login');
    unlike($res->{content} // '', qr/[Tt]okens cannot/, '  says nothing of tokens');
    my @c = challenges($res);
    is(scalar(@c), 0, '  no challenge: the location has no AuthType');
    $res = $env->get('/rest/access-tokens/1.0/users/erin');
    is_envelope($res, 401, qr/[Aa]uthentication is required/, qr/AuthorisationException/,
                'AuthType Basic, but Require all granted');
    ok(grep({ /^Basic realm="Bitbucket"/ } challenges($res)), '  the location\'s Basic challenge');
    $res = $env->request(PUT => '/rest/access-tokens/1.0/users/carol',
                         { 'Content-Type' => 'application/json' }, '{"name":"x","permissions":["REPO_READ"]}');
    is_envelope($res, 401, qr/[Aa]uthentication is required/, qr/AuthorisationException/, 'PUT likewise');
    my $tok = $env->token_create('carol', name => 'ci', perms => ['REPO_READ']);
    $res = $env->get('/rest/access-tokens/1.0/users/carol', { Authorization => $env->bearer($tok) });
    is_envelope($res, 401, qr/tokens cannot be used/, qr/AuthorisationException/,
                'a token (Bearer) with no login: still the token message');
    $res = $env->get('/rest/access-tokens/1.0/users/carol', { Authorization => $env->basic('carol', $tok) });
    is_envelope($res, 401, qr/tokens cannot be used/, qr/AuthorisationException/, '  a token as a Basic password');
};

my $logs = $env->error_log_text;
my @ours = grep { /\[bbtoken:/ && /access-tokens API/ } split /\n/, $logs;
ok(@ours, 'the handler logged (' . scalar(@ours) . ' lines)');
is(scalar(grep { !/\] BBT2[0-4]\d: / } @ours), 0, 'each of its lines starts with a BBT2nn id')
    or diag join "\n", grep { !/\] BBT2[0-4]\d: / } @ours;
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
