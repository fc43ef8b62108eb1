# The metrics: the handler bbtoken-metrics serves Prometheus's text format
# (promtool checks it), and after known requests its counters have moved by
# exactly what those requests did, summed over the children that served
# them: prefork children, each held by a kept-alive connection, so every
# connection is served by a child of its own, and the scrape by yet another.
# Then a database outage (503, database errors), mod_status's section, and
# no token, user name or path anywhere in the metrics.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(forge_token mistype_token);
use BBT::Assert;

plan skip_all => 'no promtool (build/deps.sh installs Debian\'s prometheus)'
    if system('command -v promtool >/dev/null') != 0;

# Four children, no more and no fewer; a kept-alive connection holds its
# child until it closes.
my $env = BBT::Env->new(
    mpm      => 'prefork',
    mpm_conf => "StartServers 4\nMinSpareServers 4\nMaxSpareServers 4\nServerLimit 4\n"
              . "MaxRequestWorkers 4\nKeepAlive On\nKeepAliveTimeout 300\nMaxKeepAliveRequests 0\n",
    modules    => ['status', 'authz_host'],
    extra_conf => <<'EOC',
LogFormat "%P %>s %m %U" pids
CustomLog "@DIR@/logs/pid_log" pids
BBTokenLastUseInterval 86400
<Location /metrics>
    SetHandler bbtoken-metrics
    Require ip 127.0.0.1
</Location>
<Location /server-status>
    SetHandler server-status
    Require ip 127.0.0.1
</Location>
EOC
)->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'reader', perms => ['REPO_READ']);
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $RP = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';

my $version = BBT::Env::slurp("$BBT::Env::ROOT/VERSION");
chomp $version;

# One scrape, over a connection of its own: (text, {series => value}).
sub scrape {
    my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url('/metrics'));
    is($r->{status}, 200, 'GET /metrics') or diag res_summary($r);
    my %v;
    for (split /\n/, $r->{content} // '') {
        next if /^#/;
        $v{$1} = $2 if /^(\S+) (\S+)$/;
    }
    return ($r, \%v);
}

sub delta {
    my ($before, $after, $series) = @_;
    return ($after->{$series} // 0) - ($before->{$series} // 0);
}

my ($r0, $before) = scrape();
is($r0->{headers}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8',
   'the text format\'s content type, version 0.0.4');
is($before->{"bbtoken_build_info{version=\"$version\"}"}, 1, "bbtoken_build_info names VERSION ($version)");

# Three connections held open at once: three children.
my @conn = map { HTTP::Tiny->new(timeout => 30, keep_alive => 1) } 1 .. 3;
my $get = sub {
    my ($c, $path, $auth) = @_;
    return $conn[$c]->get($env->url($path), { headers => $auth ? { Authorization => $auth } : {} });
};
my $bearer = "Bearer $tok";
is_ok_res($get->(0, $UP, $bearer), 'connection 1: a clone\'s first request (allowed)');
is_ok_res($get->(0, $UP, $bearer), 'connection 1: again (allowed)');
is_403($get->(1, $RP, $bearer), 'connection 2: a push with a read-only token (403)');
is_401($get->(2, $UP, 'Bearer ' . mistype_token($tok)), 1, 'connection 3: a mistyped token (401)');
is_401($get->(2, $UP, 'Bearer ' . forge_token($id)), 1, 'connection 3: the token\'s id, a wrong secret (401)');
is_401($get->(2, $UP, 'Bearer ' . forge_token('000000000042')), 1, 'connection 3: an unknown token (401)');
is_401($get->(2, $UP), 0, 'connection 3: no credentials (401)');
# httpd closes the connection after a 400: the last on it.
is_status($get->(2, $UP, 'Basic !!!!'), 400, 'connection 3: a malformed header (400)');

my ($r1, $after) = scrape();
my %want = (
    'bbtoken_requests_total{outcome="allowed"}' => 2,
    'bbtoken_requests_total{outcome="403"}'     => 1,
    'bbtoken_requests_total{outcome="401"}'     => 4,
    'bbtoken_requests_total{outcome="400"}'     => 1,
    'bbtoken_requests_total{outcome="429"}'     => 0,
    'bbtoken_requests_total{outcome="500"}'     => 0,
    'bbtoken_requests_total{outcome="503"}'     => 0,
    'bbtoken_requests_total{outcome="other"}'   => 0,
    # A token's lookup each (a wrong secret and an unknown id too), and the
    # first use of the token records it: 2 + 1 + 1 + 1 + 1.  A mistyped
    # token (its checksum), no credentials and a malformed header cost
    # none.
    'bbtoken_db_queries_total'                      => 6,
    'bbtoken_db_query_duration_seconds_count'       => 6,
    'bbtoken_db_query_duration_seconds_bucket{le="+Inf"}' => 6,
    'bbtoken_db_errors_total{kind="connection"}'    => 0,
    'bbtoken_db_errors_total{kind="query"}'         => 0,
    'bbtoken_cache_hits_total'                      => 0,
);
for my $s (sort keys %want) {
    is(delta($before, $after, $s), $want{$s}, "$s moved by $want{$s}") or diag "before $before->{$s}, after $after->{$s}";
}
ok(delta($before, $after, 'bbtoken_db_query_duration_seconds_sum') > 0, 'the statements took some time');

# Who served what: every counted request's child held its connection, so
# three children served them, and the scrapes were served by another.
my @log = map { [split / /] } split /\n/, BBT::Env::slurp("$env->{dir}/logs/pid_log");
my %by_conn;
my @scm = grep { $_->[3] =~ m{^/scm/} } @log;
is(scalar @scm, 8, 'eight requests logged');
my %scm_pids = map { $_->[0] => 1 } @scm;
is(scalar keys %scm_pids, 3, 'served by three children') or diag explain \@scm;
my @scrapes = grep { $_->[3] eq '/metrics' } @log;
ok(!$scm_pids{ $scrapes[-1][0] }, 'the scrape by a fourth, which served none of them: the counts are every child\'s')
    or diag explain \@log;

subtest 'the page passes promtool check metrics' => sub {
    my $file = "$env->{dir}/scratch/metrics.txt";
    BBT::Env::spew($file, $r1->{content});
    my $out = qx{promtool check metrics < $file 2>&1};
    is($?, 0, 'promtool check metrics') or diag $out;
    is($out, '', 'no complaint, not even a lint warning') or diag $out;
};

subtest 'no token, user name or path in the metrics' => sub {
    my $text = $r1->{content};
    my ($secret) = $tok =~ /^BBDC-(.{20})/;
    unlike($text, qr/\Q$secret\E/, 'no token');
    unlike($text, qr/alice/, 'no user name');
    unlike($text, qr{/scm|PROJ}, 'no path');
    my %labels;
    $labels{$1}++ while $text =~ /[{,](\w+)="/g;
    is_deeply([sort keys %labels], [qw(kind le outcome version)], 'labels: only kind, le, outcome, version');
};

subtest 'only GET and HEAD' => sub {
    my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    my $r = $ua->request('POST', $env->url('/metrics'), { content => 'x' });
    is($r->{status}, 405, 'POST: 405');
    like($r->{headers}{allow} // '', qr/\bGET\b/, 'Allow: GET') or diag explain $r->{headers};
    $r = $ua->request('HEAD', $env->url('/metrics'));
    is($r->{status}, 200, 'HEAD: 200');
    is($r->{content} // '', '', 'with no body');
};

subtest 'a database outage: 503, and the errors counted' => sub {
    my (undef, $b) = scrape();
    $env->pg_stop;
    my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    is_503($ua->get($env->url($UP), { headers => { Authorization => $bearer } }), 'a token while PostgreSQL is down');
    my (undef, $a) = scrape();
    is(delta($b, $a, 'bbtoken_requests_total{outcome="503"}'), 1, 'outcome="503" moved by 1');
    is(delta($b, $a, 'bbtoken_requests_total{outcome="allowed"}'), 0, 'allowed did not move');
    my $errors = delta($b, $a, 'bbtoken_db_errors_total{kind="connection"}')
        + delta($b, $a, 'bbtoken_db_errors_total{kind="query"}');
    cmp_ok($errors, '>=', 1, "database errors counted ($errors)");
    $env->pg_start;
};

subtest 'mod_status shows the same counters' => sub {
    my (undef, $m) = scrape();
    my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    my $r = $ua->get($env->url('/server-status?auto'));
    is($r->{status}, 200, '/server-status?auto');
    my $allowed = $m->{'bbtoken_requests_total{outcome="allowed"}'};
    like($r->{content}, qr/^BBTokenRequestsAllowed: \Q$allowed\E$/m, "BBTokenRequestsAllowed: $allowed");
    like($r->{content}, qr/^BBTokenRequests503: 1$/m, 'BBTokenRequests503: 1');
    like($r->{content}, qr/^BBTokenDBQueries: \d+$/m, 'BBTokenDBQueries');
    $r = $ua->get($env->url('/server-status'));
    is($r->{status}, 200, '/server-status');
    like($r->{content}, qr{<h2>mod_bbtoken</h2>}, 'the HTML page has the module\'s section');
    like($r->{content}, qr{<tr><td>BBTokenRequests403</td><td>1</td></tr>}, 'with its counters');
};

subtest 'a graceful restart keeps the counters' => sub {
    @conn = ();
    my (undef, $b) = scrape();
    my $started = () = $env->error_log_text =~ /BBT404: /g;
    my ($rc, $out, $err) = BBT::Env::run_cmd(cmd => [$BBT::Env::APACHE, '-f', $env->{conf}, '-k', 'graceful'],
                                             tmp => "$env->{dir}/run", timeout => 60);
    is($rc, 0, 'apache2 -k graceful') or diag "$out$err";
    # The new generation says so when it has started.
    my $n = 0;
    for (1 .. 300) {
        $n = () = $env->error_log_text =~ /BBT404: /g;
        last if $n > $started;
        select(undef, undef, undef, 0.1);
    }
    is($n, $started + 1, 'restarted (BBT404 once more)');
    my (undef, $a) = scrape();
    for my $s ('bbtoken_requests_total{outcome="allowed"}', 'bbtoken_db_queries_total') {
        is($a->{$s}, $b->{$s}, "$s as before ($b->{$s})");
    }
};

is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
