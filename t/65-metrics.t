# The metrics: the handler bbtoken-metrics serves Prometheus's text format
# (promtool checks it), and after known requests its counters have moved by
# exactly what those requests did, summed over the children that served
# them: prefork children, each held by a kept-alive connection, so every
# connection is served by a child of its own, and the scrape by yet another.
# The token cache is on (the default), shared by the children: a token
# seen before is answered from it, so the database is asked once per
# distinct token; a virtual host with BBTokenCache off asks it every time.
# Then a database outage (503, database errors), mod_status's section, and
# no token, user name or path anywhere in the metrics, nor what a token id
# that exists is (a wrong secret for it counts as an unknown id does); a
# graceful restart keeps the counters, scraped whole all through it, and
# one into BBTokenCache off leaves no listener counted.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(forge_token mistype_token);
use BBT::Assert;
use BBT::Cache qw(wait_log settle until_status);

plan skip_all => 'no promtool (build/deps.sh installs Debian\'s prometheus)'
    if system('command -v promtool >/dev/null') != 0;

# Four children, no more and no fewer; a kept-alive connection holds its
# child until it closes.
my $off_port = BBT::Util::free_port();
my $env = BBT::Env->new(
    mpm      => 'prefork',
    mpm_conf => "StartServers 4\nMinSpareServers 4\nMaxSpareServers 4\nServerLimit 4\n"
              . "MaxRequestWorkers 4\nKeepAlive On\nKeepAliveTimeout 300\nMaxKeepAliveRequests 0\n",
    modules    => ['status', 'authz_host'],
    extra_conf => <<"EOC",
LogFormat "%P %>s %m %U" pids
CustomLog "\@DIR\@/logs/pid_log" pids
BBTokenLastUseInterval 86400
<Location /metrics>
    SetHandler bbtoken-metrics
    Require ip 127.0.0.1
</Location>
<Location /server-status>
    SetHandler server-status
    Require ip 127.0.0.1
</Location>
Listen 127.0.0.1:$off_port
<VirtualHost 127.0.0.1:$off_port>
    BBTokenCache off
</VirtualHost>
EOC
)->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
# Never presented before the outage: the cache cannot hold it.
my ($tok2) = $env->token_create('alice', name => 'outage', perms => ['REPO_READ']);
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

# Requests are counted in their log phase, after the client has its
# response: scrape until bbtoken_requests_total, all outcomes, has moved by
# n since $before (a generous limit; what is asserted after is exact).
sub scrape_after {
    my ($before, $n) = @_;
    my $moved = sub {
        my ($v) = @_;
        my $d = 0;
        $d += delta($before, $v, $_) for grep { /^bbtoken_requests_total\{/ } keys %$v;
        return $d;
    };
    my ($r, $v) = scrape();
    for (1 .. 300) {
        last if $moved->($v) >= $n;
        select(undef, undef, undef, 0.1);
        ($r, $v) = scrape();
    }
    return ($r, $v);
}

# The cache is believed once its listener hears PostgreSQL.
ok(wait_log($env, 0, qr/BBT309: /), 'the cache\'s listener is up (BBT309)');

my ($r0, $first) = scrape();
is($r0->{headers}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8',
   'the text format\'s content type, version 0.0.4');
is($first->{"bbtoken_build_info{version=\"$version\"}"}, 1, "bbtoken_build_info names VERSION ($version)");

# The measured window: a token made for it, then eight requests over
# three connections held open at once (three children).  Its cache
# figures are exact only with the listener heard throughout: a machine
# that stalls it past the cache's half-second bound makes a miss stale or
# untrusted.  Such a window is measured again from the start, with a
# token of its own (its first use is counted: the last-use and
# new-address records), a few times at most; the figures are asserted on
# the last, which must be clean.
my (@conn, $tok, $id, $bearer, $before, $r1, $after, %miss, $log_from);
my $get = sub {
    my ($c, $path, $auth) = @_;
    return $conn[$c]->get($env->url($path), { headers => $auth ? { Authorization => $auth } : {} });
};
my $windows = 5;
for my $try (1 .. $windows) {
    ($tok, $id) = $env->token_create('alice', name => "reader $try", perms => ['REPO_READ']);
    $bearer = "Bearer $tok";
    # The notifications of the setup and of the token made (each forgets
    # what it names) are in.
    settle();
    $log_from = () = BBT::Env::slurp("$env->{dir}/logs/pid_log") =~ /\n/g;
    (undef, $before) = scrape();
    @conn = map { HTTP::Tiny->new(timeout => 30, keep_alive => 1) } 1 .. 3;
    is_ok_res($get->(0, $UP, $bearer), 'connection 1: a clone\'s first request (allowed)');
    is_ok_res($get->(0, $UP, $bearer), 'connection 1: again (allowed)');
    is_403($get->(1, $RP, $bearer), 'connection 2: a push with a read-only token (403)');
    is_401($get->(2, $UP, 'Bearer ' . mistype_token($tok)), 1, 'connection 3: a mistyped token (401)');
    is_401($get->(2, $UP, 'Bearer ' . forge_token($id)), 1, 'connection 3: the token\'s id, a wrong secret (401)');
    is_401($get->(2, $UP, 'Bearer ' . forge_token('000000000042')), 1, 'connection 3: an unknown token (401)');
    is_401($get->(2, $UP), 0, 'connection 3: no credentials (401)');
    # httpd closes the connection after a 400: the last on it.
    is_status($get->(2, $UP, 'Basic !!!!'), 400, 'connection 3: a malformed header (400)');
    ($r1, $after) = scrape_after($before, 8);
    %miss = map { $_ => delta($before, $after, "bbtoken_cache_misses_total{reason=\"$_\"}") } qw(absent stale untrusted);
    last unless $miss{stale} || $miss{untrusted};
    note "window $try: the listener was not heard throughout (stale $miss{stale}, untrusted $miss{untrusted})";
}
is("$miss{stale} $miss{untrusted}", '0 0', "a window with the listener heard throughout, in $windows at most");

my %want = (
    'bbtoken_requests_total{outcome="allowed"}' => 2,
    'bbtoken_requests_total{outcome="403"}'     => 1,
    'bbtoken_requests_total{outcome="401"}'     => 4,
    'bbtoken_requests_total{outcome="400"}'     => 1,
    'bbtoken_requests_total{outcome="429"}'     => 0,
    'bbtoken_requests_total{outcome="500"}'     => 0,
    'bbtoken_requests_total{outcome="503"}'     => 0,
    'bbtoken_requests_total{outcome="other"}'   => 0,
    'bbtoken_db_errors_total{kind="connection"}'    => 0,
    'bbtoken_db_errors_total{kind="query"}'         => 0,
    'bbtoken_cache_store_failures_total'            => 0,
    'bbtoken_cache_notifications_total'             => 0,
);
for my $s (sort keys %want) {
    is(delta($before, $after, $s), $want{$s}, "$s moved by $want{$s}") or diag "before $before->{$s}, after $after->{$s}";
}
# The schema's version, read by the children that asked the database
# (t/30-schema-behind: before any has, and behind or ahead).
my ($latest) = (sort glob "$BBT::Env::ROOT/sql/migrations/0*.sql")[-1] =~ m{/0*(\d+)_\w+\.sql\z};
is($after->{bbtoken_schema_version}, $latest, "bbtoken_schema_version: the database's, $latest");
is($after->{bbtoken_schema_version_expected}, $latest, 'bbtoken_schema_version_expected: the last migration\'s');
# Five requests carried a token that reached a lookup (a mistyped token
# is refused by its checksum, before the cache): each was answered by the
# cache or sent to the database.  The good token missed once (the lookup,
# the last-use record, the new-address record: BBTokenLastUseInterval is
# a day, and its first address group is audited once) and stored its
# entry and its owner's level; the other two requests with it were
# answered from the cache (the push's 403 too: the same repository's
# level); each forged token missed once (the lookup; a refusal asks
# nothing more) and stored its refusal.
my $hits = delta($before, $after, 'bbtoken_cache_hits_total');
is($hits, 2, 'bbtoken_cache_hits_total moved by 2');
# Connection 1's second request, in the child that stored the entry,
# from that thread's copy; connection 2's from the shared cache.
is(delta($before, $after, 'bbtoken_cache_thread_hits_total'), 1,
   'bbtoken_cache_thread_hits_total moved by 1: the repeat on the same connection');
is($miss{absent}, 3, 'bbtoken_cache_misses_total{reason="absent"} moved by 3');
my $queries = delta($before, $after, 'bbtoken_db_queries_total');
is($queries, 5, 'bbtoken_db_queries_total moved by 5: three lookups, one last-use record, one new-address record');
is(delta($before, $after, 'bbtoken_db_query_duration_seconds_count'), $queries, 'the histogram counted each');
is(delta($before, $after, 'bbtoken_db_query_duration_seconds_bucket{le="+Inf"}'), $queries, 'its +Inf bucket too');
is(delta($before, $after, 'bbtoken_cache_stores_total'), 4, 'bbtoken_cache_stores_total moved by 4');
is($after->{bbtoken_cache_listeners}, 1, 'bbtoken_cache_listeners is 1');
cmp_ok($after->{bbtoken_cache_resyncs_total} // 0, '>=', 1, 'the listener\'s first sync counted');
ok(delta($before, $after, 'bbtoken_db_query_duration_seconds_sum') > 0, 'the statements took some time');

# Who served what: every counted request's child held its connection, so
# three children served them.  The scrape whose figures were read (the
# last: a scrape too early is made again, maybe by connection 3's child,
# free once the 400 closed it) counted requests other children served.
my @log = map { [split / /] } split /\n/, BBT::Env::slurp("$env->{dir}/logs/pid_log");
splice @log, 0, $log_from;    # the lines before the window measured
my %by_conn;
my @scm = grep { $_->[3] =~ m{^/scm/} } @log;
is(scalar @scm, 8, 'eight requests logged');
my %scm_pids = map { $_->[0] => 1 } @scm;
is(scalar keys %scm_pids, 3, 'served by three children') or diag explain \@scm;
my @scrapes = grep { $_->[3] eq '/metrics' } @log;
my $own = grep { $_->[0] eq $scrapes[-1][0] } @scm;
cmp_ok($own, '<', scalar @scm, "the scrape's child served $own of them: the counts read are every child's")
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
    is_deeply([sort keys %labels], [qw(kind le outcome reason version)], 'labels: only kind, le, outcome, reason, version');
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

# Whoever reads the metrics cannot tell a token id that exists from one
# that does not: a wrong secret for a real id moves every counter as an
# unknown id does (each distinct token is a miss, a statement and a stored
# refusal alike).  Timings aside (the histogram's buckets and sum), and the
# misses by reason summed (a late heartbeat makes one "untrusted").
subtest 'a wrong secret for a real id moves the counters as an unknown id does' => sub {
    my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    my $moved = sub {
        my ($what, @tokens) = @_;
        my (undef, $b) = scrape();
        is_401($ua->get($env->url($UP), { headers => { Authorization => "Bearer $_" } }), 1, $what)
            for @tokens;
        my (undef, $a) = scrape_after($b, scalar @tokens);
        my %d;
        for my $s (keys %$a) {
            next if $s =~ /^bbtoken_db_query_duration_seconds_(?:bucket|sum)\b/;
            (my $k = $s) =~ s/^(bbtoken_cache_misses_total)\{.*\}\z/$1/;
            $d{$k} += delta($b, $a, $s);
        }
        return \%d;
    };
    my $known = $moved->('the real id, a wrong secret', forge_token($id), forge_token($id));
    my $unknown = $moved->('an unknown id', forge_token('000000000043'), forge_token('000000000044'));
    is($known->{'bbtoken_requests_total{outcome="401"}'}, 2, 'two 401s counted');
    is_deeply($known, $unknown, 'every series moved alike') or diag explain [$known, $unknown];
};

subtest 'BBTokenCache off: every token request asks the database' => sub {
    my (undef, $b) = scrape();
    my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    my $url = "http://127.0.0.1:$off_port$UP";
    my $wrong = 'Bearer ' . forge_token($id);
    is_ok_res($ua->get($url, { headers => { Authorization => $bearer } }), "the token ($_)") for 1 .. 2;
    is_401($ua->get($url, { headers => { Authorization => $wrong } }), 1, "a wrong secret ($_)") for 1 .. 2;
    my (undef, $a) = scrape_after($b, 4);
    is(delta($b, $a, 'bbtoken_db_queries_total'), 4,
       'bbtoken_db_queries_total moved by 4: a lookup each (the good token\'s level from its row)');
    is(delta($b, $a, 'bbtoken_cache_hits_total'), 0, 'no cache hit');
    is(delta($b, $a, "bbtoken_cache_misses_total{reason=\"$_\"}"), 0, "no cache miss ($_): the cache was not asked")
        for qw(absent stale untrusted);
    is(delta($b, $a, 'bbtoken_cache_stores_total'), 0, 'nothing stored');
};

subtest 'a database outage: 503, and the errors counted' => sub {
    my (undef, $b) = scrape();
    $env->pg_stop;
    my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    # A token the cache never saw; one it holds may still be answered
    # until the listener notices (the README's half-second bound).
    is_503($ua->get($env->url($UP), { headers => { Authorization => "Bearer $tok2" } }),
           'a token while PostgreSQL is down');
    my (undef, $a) = scrape_after($b, 1);
    is(delta($b, $a, 'bbtoken_requests_total{outcome="503"}'), 1, 'outcome="503" moved by 1');
    is(delta($b, $a, 'bbtoken_requests_total{outcome="allowed"}'), 0, 'allowed did not move');
    my $errors = delta($b, $a, 'bbtoken_db_errors_total{kind="connection"}')
        + delta($b, $a, 'bbtoken_db_errors_total{kind="query"}');
    cmp_ok($errors, '>=', 1, "database errors counted ($errors)");
    # The token the cache held: once the listener has noticed, 503 too,
    # and never a 401 meanwhile.
    my @seen;
    for (1 .. 300) {
        my $st = $ua->get($env->url($UP), { headers => { Authorization => $bearer } })->{status};
        push @seen, $st;
        last if $st == 503;
        select(undef, undef, undef, 0.1);
    }
    is($seen[-1], 503, 'the cached token: 503 once the listener noticed');
    is_deeply([grep { $_ != 200 && $_ != 503 } @seen], [], 'meanwhile only 200 (the cache) or 503')
        or diag "@seen";
    my (undef, $c) = scrape();
    is($c->{bbtoken_cache_listeners}, 0, 'bbtoken_cache_listeners is 0');
    cmp_ok(delta($b, $c, 'bbtoken_cache_listener_losses_total'), '>=', 1, 'the listener\'s loss counted');
    $env->pg_start;
};

subtest 'mod_status shows the same counters' => sub {
    my (undef, $m) = scrape();
    my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    my $r = $ua->get($env->url('/server-status?auto'));
    is($r->{status}, 200, '/server-status?auto');
    my $allowed = $m->{'bbtoken_requests_total{outcome="allowed"}'};
    my $forbidden = $m->{'bbtoken_requests_total{outcome="403"}'};
    like($r->{content}, qr/^BBTokenRequestsAllowed: \Q$allowed\E$/m, "BBTokenRequestsAllowed: $allowed");
    like($r->{content}, qr/^BBTokenRequests503: 2$/m, 'BBTokenRequests503: 2 (the outage\'s two)');
    like($r->{content}, qr/^BBTokenDBQueries: \d+$/m, 'BBTokenDBQueries');
    $r = $ua->get($env->url('/server-status'));
    is($r->{status}, 200, '/server-status');
    like($r->{content}, qr{<h2>mod_bbtoken</h2>}, 'the HTML page has the module\'s section');
    like($r->{content}, qr{<tr><td>BBTokenRequests403</td><td>\Q$forbidden\E</td></tr>},
         "with its counters (403: $forbidden, every window's push)");
    # The cache's entries, as shmcb counts them: the tokens seen are there,
    # in one of its segments.
    like($r->{content}, qr{<p>token cache \(segment \d of \d\): .*current entries: <b>[1-9]\d*</b>}s,
         'and the token cache\'s shared memory with its entries');
};

subtest 'a graceful restart keeps the counters' => sub {
    @conn = ();
    my (undef, $b) = scrape();
    my $started = () = $env->error_log_text =~ /BBT404: /g;
    my ($rc, $out, $err) = BBT::Env::run_cmd(cmd => [$BBT::Env::APACHE, '-f', $env->{conf}, '-k', 'graceful'],
                                             tmp => "$env->{dir}/run", timeout => 60);
    is($rc, 0, 'apache2 -k graceful') or diag "$out$err";
    # Scraped while the restart is under way, and until the new generation
    # says it has started: every scrape answered in full, and no counter
    # goes back.
    my ($n, @bad) = (0);
    my $last = $b;
    for (1 .. 300) {
        my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url('/metrics'));
        my %v = map { /^(\S+) (\S+)$/ ? ($1 => $2) : () } grep { !/^#/ } split /\n/, $r->{content} // '';
        push @bad, "status $r->{status}" if $r->{status} != 200;
        push @bad, 'no bbtoken_db_queries_total' unless defined $v{bbtoken_db_queries_total};
        push @bad, map {"$_ went from $last->{$_} to $v{$_}"}
            grep { /_total(?:\{|\z)/ && defined $v{$_} && $v{$_} < $last->{$_} } keys %$last;
        $last = \%v if $r->{status} == 200;
        $n = () = $env->error_log_text =~ /BBT404: /g;
        last if $n > $started;
        select(undef, undef, undef, 0.05);
    }
    is($n, $started + 1, 'restarted (BBT404 once more)');
    is_deeply(\@bad, [], 'each scrape meanwhile: 200, whole, no counter going back');
    my (undef, $a) = scrape();
    for my $s ('bbtoken_requests_total{outcome="allowed"}', 'bbtoken_db_queries_total') {
        is($a->{$s}, $b->{$s}, "$s as before ($b->{$s})");
    }
};

subtest 'a graceful restart into BBTokenCache off: no listener, and the gauge says so' => sub {
    # The generation the restart above made: its listener comes up soon.
    my $b;
    for (1 .. 100) {
        (undef, $b) = scrape();
        last if ($b->{bbtoken_cache_listeners} // 0) == 1;
        select(undef, undef, undef, 0.1);
    }
    is($b->{bbtoken_cache_listeners}, 1, 'before: the listener is up');
    my $mark = BBT::Cache::log_mark($env);
    $env->{extra_conf} = "BBTokenCache off\n$env->{extra_conf}";
    $env->_write_conf;
    my ($rc, $out, $err) = BBT::Env::run_cmd(cmd => [$BBT::Env::APACHE, '-f', $env->{conf}, '-k', 'graceful'],
                                             tmp => "$env->{dir}/run", timeout => 60);
    is($rc, 0, 'apache2 -k graceful') or diag "$out$err";
    ok(wait_log($env, $mark, qr/BBT300: token cache off/), 'the new generation has no cache');
    my $a;
    for (1 .. 100) {
        (undef, $a) = scrape();
        last if defined $a->{bbtoken_cache_listeners} && $a->{bbtoken_cache_listeners} == 0;
        select(undef, undef, undef, 0.1);
    }
    is($a->{bbtoken_cache_listeners}, 0, 'bbtoken_cache_listeners: 0');
    is($a->{'bbtoken_requests_total{outcome="allowed"}'}, $b->{'bbtoken_requests_total{outcome="allowed"}'},
       'the counters went on');
};

is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
