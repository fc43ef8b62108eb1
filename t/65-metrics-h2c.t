# The metrics over an h2c upgrade (Upgrade: h2c): core's upgrade handler
# answers the request 101 after authorization, and mod_http2 replays it
# as stream 1 of the new session, which is authenticated and answered
# anew.  The client got one response, stream 1's: bbtoken_requests_total
# counts it once, by stream 1 (the README: once per HTTP request, by the
# response the client got), a token's and one let in without a login
# alike.  Each of the two authentications looks the token up, and the
# cache's counters say so (two lookups a request).  Controls: a refused
# upgrade is answered 401 over HTTP/1.1 and counted once; HTTP/1.1 and h2c
# with prior knowledge, once; a handler's own 101 (no switch) counts as
# allowed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(run_cmd forge_token);
use BBT::Util qw(slurp spew);
use BBT::Assert;
use BBT::Cache qw(wait_log settle);

my $extra = <<'EOC';
Protocols h2c http/1.1
H2Direct on
LogFormat "%H %>s %m %U" proto
CustomLog "@DIR@/logs/proto_log" proto
# A section of the module's that lets everyone in without a login.
ScriptAlias /free/ "@DIR@/cgi-bin/env.cgi/"
<Location /free>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /free
    Require all granted
</Location>
# A CGI that answers 101 itself: a handler's answer, with no switch of
# the connection and nothing replayed, counted as allowed.
ScriptAlias /s101/ "@DIR@/cgi-bin/s101.cgi/"
<Location /s101>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /s101
    Require bbtoken
</Location>
<Location /metrics>
    SetHandler bbtoken-metrics
    Require local
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(http2 authz_host)], httpd => 0)->start;
my $d = $env->dir;
spew("$d/cgi-bin/s101.cgi", <<'EOS', 0755);
#!/bin/sh
printf 'Status: 101\r\nUpgrade: bbt-test\r\nConnection: Upgrade\r\n\r\n'
EOS
$env->write_cgi;
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'h2c');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# One scrape, over a connection of its own: {series => value}.
sub scrape {
    my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url('/metrics'));
    diag 'GET /metrics: ' . res_summary($r) unless $r->{status} == 200;
    return { map { /^(\S+) (\S+)$/ ? ($1 => $2) : () } grep { !/^#/ } split /\n/, $r->{content} // '' };
}

# How far each series of requests and lookups moved between two scrapes.
sub moved {
    my ($b, $a) = @_;
    my %m;
    for my $k (keys %$a) {
        next unless $k =~ /^bbtoken_(requests_total|cache_hits_total|cache_misses_total)/;
        my $n = $a->{$k} - ($b->{$k} // 0);
        $m{$k} = $n if $n;
    }
    return \%m;
}

# The lookups the cache counted: hits and misses of every reason.
sub lookups {
    my ($m) = @_;
    my $n = 0;
    $n += $m->{$_} for grep { /^bbtoken_cache_(hits_total|misses_total)/ } keys %$m;
    return $n;
}

# curl, one connection: (status, HTTP version).
sub curl {
    my ($path, @opt) = @_;
    my ($rc, $out, $err) = run_cmd(cmd => ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code} %{http_version}',
                                           @opt, $env->url($path)],
                                   tmp => "$d/run", timeout => 60,
                                   env => { http_proxy => undef, HTTP_PROXY => undef });
    diag "curl: $rc: $err" if $rc;
    return split / /, $out // '';
}

# What the requests of $code moved: once the access log has $lines of
# theirs (the 101 of an upgrade is logged when its connection ends, after
# stream 1), and bbtoken_requests_total has moved by at least $n (a
# request is counted in its log phase, just after its line is written).
sub measure {
    my ($lines, $n, $code) = @_;
    my $mark = -s "$d/logs/proto_log" // 0;
    my $b = scrape();
    $code->();
    my ($log, $m) = ('', {});
    for (1 .. 300) {
        $log = substr(slurp("$d/logs/proto_log"), $mark);
        # The scrapes are in the log as well.
        last if (() = $log =~ m{^(?!.* /metrics$)}mg) >= $lines;
        select(undef, undef, undef, 0.1);
    }
    for (1 .. 300) {
        $m = moved($b, scrape());
        my $moved = 0;
        $moved += $m->{$_} for grep { /^bbtoken_requests_total/ } keys %$m;
        last if $moved >= $n;
        select(undef, undef, undef, 0.1);
    }
    return ($m, $log);
}

ok(wait_log($env, 0, qr/BBT309: /), 'the listener is up');
settle();

subtest 'a token over an h2c upgrade: one request, two lookups' => sub {
    my ($m, $log) = measure(6, 3, sub {
        for (1 .. 3) {
            my ($code, $ver) = curl($UP, '--http2', '-H', "Authorization: Bearer $tok");
            is("$code $ver", '200 2', 'curl --http2: answered 200 over HTTP/2');
        }
    });
    is((() = $log =~ m{^HTTP/1\.1 101 GET /scm/}mg), 3, 'each upgraded with a 101') or diag $log;
    is((() = $log =~ m{^HTTP/2\.0 200 GET /scm/}mg), 3, 'and answered by its stream 1') or diag $log;
    is_deeply({ map { /^bbtoken_requests_total/ ? ($_ => $m->{$_}) : () } keys %$m },
              { 'bbtoken_requests_total{outcome="allowed"}' => 3 }, 'three requests counted, allowed')
        or diag explain $m;
    is(lookups($m), 6, 'each authenticated twice: six lookups') or diag explain $m;
};

subtest 'let in without a login over an h2c upgrade: counted once' => sub {
    my ($m, $log) = measure(4, 2, sub {
        for (1 .. 2) {
            my ($code, $ver) = curl('/free/x', '--http2');
            is("$code $ver", '200 2', 'curl --http2: answered 200 over HTTP/2');
        }
    });
    is((() = $log =~ m{^HTTP/1\.1 101 GET /free/}mg), 2, 'each upgraded with a 101') or diag $log;
    is_deeply($m, { 'bbtoken_requests_total{outcome="allowed"}' => 2 }, 'two requests counted, allowed')
        or diag explain $m;
};

subtest 'controls: counted once each' => sub {
    my ($m, $log) = measure(4, 4, sub {
        my ($code, $ver) = curl($UP, '--http2', '-H', 'Authorization: Bearer ' . forge_token($id));
        is("$code $ver", '401 1.1', 'a wrong secret asking for the upgrade: 401, over HTTP/1.1');
        ($code, $ver) = curl($UP, '--http1.1', '-H', "Authorization: Bearer $tok");
        is("$code $ver", '200 1.1', 'HTTP/1.1: 200');
        ($code, $ver) = curl($UP, '--http2-prior-knowledge', '-H', "Authorization: Bearer $tok");
        is("$code $ver", '200 2', 'h2c with prior knowledge: 200');
        my $r = $env->raw_get('/s101/PROJ/repo.git/info/refs?service=git-upload-pack', "Authorization: Bearer $tok");
        is($r->{status}, 101, "the CGI's own 101") or diag $r->{raw};
    });
    like($log, qr{^HTTP/1\.1 101 GET /s101/}m, "the CGI's 101 logged as such") or diag $log;
    is_deeply({ map { /^bbtoken_requests_total/ ? ($_ => $m->{$_}) : () } keys %$m },
              { 'bbtoken_requests_total{outcome="allowed"}' => 3,
                'bbtoken_requests_total{outcome="401"}' => 1 }, 'three allowed, one 401')
        or diag explain $m;
    is(lookups($m), 4, 'one lookup each') or diag explain $m;
};

done_testing;
