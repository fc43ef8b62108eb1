# The access-tokens REST API behind a port mapping (a container's 443 to
# 8443, 80 to 8080) or a TLS-terminating proxy: the browser's page is
# https://tokens.example.com, its Host names no port, and httpd, listening
# on another port over plain HTTP, builds its own URL as
# http://tokens.example.com:PORT.  The page's changes (create, rename,
# rotate, revoke) pass the cross-site check by the Host; another site's
# (one whose host is the Host's with more after it, or only its start),
# another port's and an http page's to an https request still do not.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Assert;
use BBT::Rest qw(rest_env);

my $pw = 'alice-Pa55-word';
my $env = rest_env(passwords => [alice => $pw], users => ['alice']);
my $port = $env->port;
my $auth = $env->basic('alice', $pw);
my $A = '/rest/access-tokens/1.0/users/alice';
my $PUB = 'tokens.example.com';

# $method $path as alice with Host $host and headers $h, the body $json
# (declared JSON) if given: the answer of BBT::Http's raw_request.
sub as_host {
    my ($method, $path, $host, $h, $json) = @_;
    my %h = (%{ $h || {} }, defined $json ? ('Content-Type' => 'application/json') : ());
    my $body = $json // '';
    return $env->raw_request("$method $path HTTP/1.1\r\nHost: $host\r\nAuthorization: $auth\r\n"
                             . join('', map { "$_: $h{$_}\r\n" } sort keys %h)
                             . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body");
}

sub live { $env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL") }
sub id_of { $env->psql("SELECT id FROM bbtoken_tokens WHERE name = '$_[0]' AND revoked_at IS NULL") }

my $https = { Origin => "https://$PUB" };

subtest 'the public host\'s page: every change passes' => sub {
    my $res = as_host(GET => $A, $PUB, $https);
    is($res->{status}, 200, 'the list loads');
    $res = as_host(PUT => $A, $PUB, $https, '{"name":"from-page","permissions":["REPO_READ"]}');
    is($res->{status}, 200, 'create from the https page, Host without a port: 200')
        or diag res_summary($res);
    my $id = id_of('from-page');
    ok($id, '  the token is made');
    $res = as_host(POST => "$A/$id", $PUB, $https, '{"name":"renamed"}');
    is($res->{status}, 200, 'rename: 200') or diag res_summary($res);
    is(id_of('renamed'), $id, '  under its new name');
    $res = as_host(POST => "$A/$id/rotate", $PUB, { %$https, 'X-Atlassian-Token' => 'no-check' });
    is($res->{status}, 200, 'rotate: 200') or diag res_summary($res);
    my $new = id_of('renamed');
    isnt($new, $id, '  a new token in its place');
    $res = as_host(DELETE => "$A/$new", $PUB, $https);
    ok($res->{status} =~ /^20[04]$/, "revoke: $res->{status}") or diag res_summary($res);
    is(id_of('renamed'), '', '  revoked');

    # The page over plain HTTP on the mapped port 80, and the Referer of an
    # old browser that sends no Origin.
    for my $h ({ Origin => "http://$PUB" }, { Referer => "https://$PUB/account/tokens/" },
               { Origin => "HTTPS://TOKENS.example.com" }, { Origin => "https://$PUB", 'Sec-Fetch-Site' => 'same-origin' }) {
        my $d = join ', ', map { "$_: $h->{$_}" } sort keys %$h;
        $res = as_host(DELETE => "$A/000000000000", $PUB, $h);
        is($res->{status}, 404, "DELETE with $d, Host $PUB: past the check, 404") or diag res_summary($res);
    }
    $res = as_host(DELETE => "$A/000000000000", "$PUB:443", $https);
    is($res->{status}, 404, 'Host with the port 443 written out: 404') or diag res_summary($res);
    $res = as_host(DELETE => "$A/000000000000", "$PUB:$port", { Origin => "http://$PUB:$port" });
    is($res->{status}, 404, "httpd's own URL, as before: 404") or diag res_summary($res);
};

subtest 'another site, port or scheme: still refused' => sub {
    my $n = live();
    for my $c ([$PUB, { Origin => 'https://evil.example' }], [$PUB, { Origin => "https://$PUB:8443" }],
               ["$PUB:$port", { Origin => "https://$PUB" }], ["$PUB:443", { Origin => "http://$PUB" }],
               ['evil.example', { Origin => "https://$PUB" }], [$PUB, { Origin => 'null' }],
               [$PUB, { Origin => "https://$PUB.evil.example" }], [$PUB, { Referer => "https://$PUB.evil.example/" }],
               [$PUB, { Referer => "https://$PUB\@evil.example/" }], [$PUB, { Referer => "https://$PUB:8443/" }],
               # A host that is only the start of the Host's: another
               # site (whoever holds example.co serves tokens.example.co).
               [$PUB, { Origin => 'https://tokens.example.co' }], [$PUB, { Origin => 'https://tokens' }],
               [$PUB, { Referer => 'https://tokens.example.co/account/tokens/' }],
               ["$PUB:8443", { Origin => 'https://tokens.example.c:8443' }],
               [$PUB, { Origin => "https://$PUB", 'Sec-Fetch-Site' => 'cross-site' }]) {
        my ($host, $h) = @$c;
        my $d = join ', ', map { "$_: $h->{$_}" } sort keys %$h;
        my $res = as_host(PUT => $A, $host, $h, '{"name":"csrf","permissions":["REPO_READ"]}');
        is($res->{status}, 403, "PUT with $d, Host $host: 403") or diag res_summary($res);
        $res = as_host(DELETE => "$A/000000000000", $host, $h);
        ok($res->{status} == 403 && ($res->{body} // '') =~ /XSRF check failed/,
           "DELETE with $d, Host $host: 403, the cross-site check's") or diag res_summary($res);
    }
    is(live(), $n, 'nothing made');
};

done_testing;
