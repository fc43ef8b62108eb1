# The failed-login throttle: failures from one client address are counted
# in shared memory across all children; after BBTokenThrottleFailures of
# them within the window, that address's passwords are answered 429 with
# Retry-After, before any provider or database work, until the window
# ends.  A token is still verified (its failures count too, unless its
# secret proved right: revoked, expired and the like are no guess), unless
# BBTokenThrottleTokens refuse.  git's first request, without
# credentials, is not a failure; another address is not affected.  Real
# httpd (prefork, several children), PostgreSQL, curl and git.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer auth_basic mistype_token forge_token run_cmd);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since wait_log);

my $FAILS = 5;
# IPv6 too, on the loopback's ::1.
my $port6 = BBT::Util::free_port();
my $extra = <<"EOC" . <<'EOC';
Listen [::1]:$port6
EOC
BBTokenCache off
<Location /scm>
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    AuthzSendForbiddenOnFailure On
</Location>
<Location /metrics>
    SetHandler bbtoken-metrics
</Location>
EOC
# Eight children, no fewer: a kept-alive connection holds its child.
my $mpm = "StartServers 8\nMinSpareServers 8\nMaxSpareServers 8\nServerLimit 8\n"
        . "MaxRequestWorkers 8\nKeepAlive On\nKeepAliveTimeout 300\nMaxKeepAliveRequests 0\n";
my $env = BBT::Env->new(mpm => 'prefork', mpm_conf => $mpm, extra_conf => $extra,
                        modules => [qw(authn_file)],
                        throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600")->start;
$env->htpasswd(carol => 'carol-Pa55-word');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->make_repo('PROJ', 'repo');
my ($tok, $id) = $env->token_create('alice', name => 'ci', perms => ['REPO_READ']);
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $good_pw = auth_basic('carol', 'carol-Pa55-word');

ok(wait_log($env, 0, qr/BBT503: failed-login throttle on: $FAILS failures from one address in 3600 s/),
   'the throttle is on, with the configured numbers');

# A client of its own, from address $from (a loopback alias), over one
# kept-alive connection.
sub ua {
    my ($from) = @_;
    return HTTP::Tiny->new(timeout => 30, keep_alive => 1, max_redirect => 0,
                           ($from ? (local_address => $from) : ()));
}

sub scrape {
    my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url('/metrics'));
    my %v;
    for (split /\n/, $r->{content} // '') {
        $v{$1} = $2 if /^(\S+) (\S+)$/ && !/^#/;
    }
    return \%v;
}

# Requests are counted in their log phase, after the client has its
# response: a scrape right after a request may come before its count.
# Scrape until series has reached want (a generous limit; the assertions
# that follow are exact).
sub scrape_until {
    my ($series, $want) = @_;
    my $v = scrape();
    for (1 .. 300) {
        last if ($v->{$series} // 0) >= $want;
        sleep 0.1;
        $v = scrape();
    }
    return $v;
}

# A scrape once the requests before it have all been counted: series the
# same in two scrapes half a second apart.
sub scrape_quiet {
    my ($series) = @_;
    my $v = scrape();
    for (1 .. 60) {
        sleep 0.5;
        my $w = scrape();
        return $w if ($w->{$series} // 0) == ($v->{$series} // 0);
        $v = $w;
    }
    return $v;
}

my $R429 = 'bbtoken_requests_total{outcome="429"}';
my $DBQ = 'bbtoken_db_queries_total';

subtest 'the directives are checked at startup' => sub {
    for my $bad ("BBTokenThrottleFailures 0\n", "BBTokenThrottleFailures 100001\n",
                 "BBTokenThrottleFailures 5x\n", "BBTokenThrottleWindow 0\n",
                 "BBTokenThrottleWindow 3601\n", "BBTokenThrottleWindow -1\n",
                 "BBTokenThrottleTokens maybe\n", "BBTokenThrottle sometimes\n",
                 "<VirtualHost 127.0.0.1:1>\n    BBTokenThrottleWindow 10\n</VirtualHost>\n",
                 "<Location /x>\n    BBTokenThrottle off\n</Location>\n") {
        my ($rc, $out) = $env->config_test($bad);
        (my $name = $bad) =~ s/\s+/ /g;
        ok($rc != 0 && $out =~ /BBTokenThrottle/, "refused: $name") or diag $out;
    }
    # One throttle for the whole server: BBTokenThrottle alone is per host.
    for my $d ('BBTokenThrottleFailures 10', 'BBTokenThrottleWindow 10', 'BBTokenThrottleTokens refuse',
               'BBTokenThrottleTokens verify') {
        my ($rc, $out) = $env->config_test("<VirtualHost 127.0.0.1:1>\n    $d\n</VirtualHost>\n");
        my ($name) = split ' ', $d;
        ok($rc != 0 && $out =~ /\Q$name\E cannot occur within <VirtualHost> section/,
           "refused in a virtual host: $d") or diag $out;
    }
    for my $good ("BBTokenThrottleFailures 100000\nBBTokenThrottleWindow 3600\n",
                  "BBTokenThrottleTokens refuse\n",
                  "<VirtualHost 127.0.0.1:1>\n    BBTokenThrottle off\n</VirtualHost>\n") {
        my ($rc, $out) = $env->config_test($good);
        (my $name = $good) =~ s/\s+/ /g;
        is($rc, 0, "accepted: $name") or diag $out;
    }
};

subtest 'requests without credentials are not failures' => sub {
    my $ua = ua();
    for (1 .. 3 * $FAILS) {
        my $r = $ua->get($env->url($UP));
        is($r->{status}, 401, 'no credentials: 401') if $_ == 1;
    }
    # git's first request carries none; it then sends the password.
    my ($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('carol', 'carol-Pa55-word', 'PROJ', 'repo'));
    is($rc, 0, 'git ls-remote with a password after many credential-less requests') or diag $err;
    my $r = $ua->get($env->url($UP), { headers => $good_pw });
    is($r->{status}, 200, 'the password still works: nothing was counted');
};

my $mark = log_mark($env);
subtest "$FAILS failures, each in a child of its own, throttle the address" => sub {
    # Every kind of failure: a wrong password, an unknown user, a
    # token-shaped string with a bad checksum, a wrong secret, an unknown id.
    my @bad = (auth_basic('carol', 'wrong'), auth_basic('nobody', 'x'),
               auth_bearer('BBDC-' . ('A' x 44)), auth_bearer(mistype_token($tok)),
               auth_bearer(forge_token('999999999999')));
    is(scalar @bad, $FAILS, "$FAILS kinds of failure");
    my @held;
    my $i = 0;
    for my $h (@bad) {
        my $ua = ua();
        push @held, $ua;    # its connection holds its child
        my $r = $ua->get($env->url($UP), { headers => $h });
        is($r->{status}, 401, 'refused: failure ' . ++$i);
        ok(!$r->{headers}{'retry-after'}, 'no Retry-After yet');
    }
    my %pids;
    for (split /\n/, log_since($env, $mark)) {
        $pids{$1}++ if /\[pid (\d+)[^\]]*\].*BBT0(?:34|35|40): /;
    }
    is(scalar keys %pids, $FAILS, "the $FAILS failures were seen by $FAILS different children")
        or diag explain \%pids;
    ok(wait_log($env, $mark, qr/\[client 127\.0\.0\.1:\d+\] BBT505: client 127\.0\.0\.1 throttled: $FAILS failed logins in 3600 s/),
       'one warning names the client address');
    my $lines = log_since($env, $mark);
    unlike($lines, qr/\Q$tok\E|carol-Pa55-word|:wrong/, 'no secret in the log');

    my $r = ua()->get($env->url($UP), { headers => $good_pw });
    is($r->{status}, 429, 'the right password, from a new child: 429');
    like($r->{headers}{'retry-after'} // '', qr/^\d+$/, 'with Retry-After in seconds');
    cmp_ok($r->{headers}{'retry-after'} // 0, '>', 0, 'Retry-After > 0');
    cmp_ok($r->{headers}{'retry-after'} // 9999, '<=', 3600, 'Retry-After <= the window');
    like($r->{content}, qr/Too many failed logins from your address/, 'the body says why');
    $r = $held[0]->get($env->url($UP), { headers => $good_pw });
    is($r->{status}, 429, 'and from a child that counted one failure: 429');
};

subtest 'while throttled, passwords cost nothing: no provider, no database' => sub {
    my $m = log_mark($env);
    my $b = scrape_quiet($R429);
    my $ua = ua();
    for (1 .. 3) {
        is($ua->get($env->url($UP), { headers => $good_pw })->{status}, 429, 'the right password: 429');
        is($ua->get($env->url($UP), { headers => auth_basic('carol', 'wrong') })->{status}, 429,
           'a wrong one: 429');
    }
    my $a = scrape_until($R429, ($b->{$R429} // 0) + 6);
    is(($a->{$DBQ} // 0) - ($b->{$DBQ} // 0), 0, 'no statement ran on the database');
    is(($a->{$R429} // 0) - ($b->{$R429} // 0), 6, 'requests_total{outcome="429"} counted six');
    is($a->{bbtoken_throttled_clients}, 1, 'one throttled client');
    my $l = log_since($env, $m);
    unlike($l, qr/BBT04[01]: /, 'no password was checked');
    like($l, qr/BBT506: a password from throttled client 127\.0\.0\.1 refused \(429\)/, 'each 429 logged at info');
    unlike($l, qr/BBT505: /, 'the warning is not repeated');
    # curl sees the same.
    my ($rc, $out) = run_cmd(cmd => ['curl', '-s', '-i', '-u', 'carol:carol-Pa55-word', $env->url($UP)]);
    like($out, qr{^HTTP/1\.1 429 }m, 'curl: 429');
    like($out, qr/^Retry-After: \d+\r?$/m, 'curl: Retry-After');
};

subtest 'tokens from a throttled address are still verified, and their failures count' => sub {
    my $ua = ua();
    my $r = $ua->get($env->url($UP), { headers => auth_bearer($tok) });
    is($r->{status}, 200, 'the right token: 200');
    $r = $ua->get($env->url($UP), { headers => auth_basic('alice', $tok) });
    is($r->{status}, 200, 'as a Basic password: 200');
    my ($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('alice', $tok, 'PROJ', 'repo'));
    is($rc, 0, 'git ls-remote with the token') or diag $err;
    my $m = log_mark($env);
    $r = $ua->get($env->url($UP), { headers => auth_bearer(mistype_token($tok)) });
    is($r->{status}, 401, 'a mistyped one (its checksum wrong): 401');
    $r = $ua->get($env->url($UP), { headers => auth_bearer(forge_token('999999999999')) });
    is($r->{status}, 401, 'an unknown one: 401');
    like(log_since($env, $m), qr/BBT035: token 999999999999 refused/, 'verified, and refused');
    $r = $ua->get($env->url($UP), { headers => auth_bearer('hunter2') });
    is($r->{status}, 429, 'a Bearer that is not shaped like a token: 429');
    # Shaped like one (its prefix), though no token parses from it: a token
    # mistyped or cut short gets its 401, not the passwords' 429.
    $r = $ua->get($env->url($UP), { headers => auth_bearer('BBDC-' . ('A' x 20)) });
    is($r->{status}, 401, 'a Bearer token cut short: answered as a token, 401');
    $r = $ua->get($env->url($UP), { headers => auth_basic('alice', 'BBDC-' . ('A' x 50)) });
    is($r->{status}, 401, 'a Basic password of a token\'s prefix and too long: answered as a token, 401');
    ($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('carol', 'carol-Pa55-word', 'PROJ', 'repo'));
    isnt($rc, 0, 'git with the right password fails');
    like($err, qr/429/, 'and says 429') or diag $err;
};

subtest 'another address is not affected' => sub {
    for my $from ('127.0.0.2', '127.0.0.3') {
        my $r = ua($from)->get($env->url($UP), { headers => $good_pw });
        is($r->{status}, 200, "the right password from $from: 200") or diag res_summary($r);
    }
    my ($rc, $out) = run_cmd(cmd => ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}',
                                     '--interface', '127.0.0.2', '-u', 'carol:carol-Pa55-word',
                                     $env->url($UP)]);
    is($out, '200', 'curl from 127.0.0.2: 200');
    my $a = scrape();
    is($a->{bbtoken_throttled_clients}, 1, 'still one throttled client');
};

subtest 'an IPv6 address is counted apart' => sub {
    my $url6 = "http://[::1]:$port6$UP";
    my $curl6 = sub {
        my ($rc, $out) = run_cmd(cmd => ['curl', '-s', '-g', '-o', '/dev/null', '-w', '%{http_code}',
                                         '-u', $_[0], $url6]);
        return $out;
    };
    is($curl6->('carol:carol-Pa55-word'), '200', '::1: the right password: 200');
    my $m = log_mark($env);
    is($curl6->('carol:wrong'), '401', "::1: failure $_") for 1 .. $FAILS;
    like(log_since($env, $m), qr/BBT505: client ::1 throttled: $FAILS failed logins/, '::1 throttled');
    is($curl6->('carol:carol-Pa55-word'), '429', '::1: the right password: 429');
    is(scrape()->{bbtoken_throttled_clients}, 2, 'two throttled clients');
};

subtest 'a token whose secret proved right is no guess: not counted' => sub {
    # A CI job behind an office's NAT address retrying a revoked or
    # expired token: counted, it held back every password behind that
    # address.  Only what a guess can get counts (and a right token from
    # outside its allow-list, which must look like a wrong one:
    # t/91-where-throttle).
    my ($revoked, $rid) = $env->token_create('alice', name => 'revoked');
    $env->cli_ok('revoke', $rid);
    my ($expired, $eid) = $env->token_create('alice', name => 'expired', expiry_days => 1);
    $env->expire_token($eid);
    $env->user_add('dave');
    $env->grant('dave', 'PROJECT_READ', 'PROJ');
    my ($daves) = $env->token_create('dave', name => 'dave');
    $env->cli_ok('user', 'disable', 'dave');
    my %proven = ('revoked' => auth_bearer($revoked), 'expired' => auth_basic('alice', $expired),
                  'its owner disabled' => auth_bearer($daves), 'not the user\'s' => auth_basic('carol', $tok));
    my $m = log_mark($env);
    my $ua = ua('127.0.0.8');
    for my $what (sort keys %proven) {
        my %st;
        $st{ $ua->get($env->url($UP), { headers => $proven{$what} })->{status} }++ for 1 .. 2 * $FAILS;
        is_deeply(\%st, { 401 => 2 * $FAILS }, "a token $what, " . 2 * $FAILS . ' times: 401 each');
    }
    my $l = log_since($env, $m);
    is(scalar(() = $l =~ /\[client 127\.0\.0\.8:\d+\] BBT035: /g), 8 * $FAILS, 'each refusal logged');
    is($ua->get($env->url($UP), { headers => $good_pw })->{status}, 200, 'the right password from there: 200');
    unlike(log_since($env, $m), qr/BBT505: client 127\.0\.0\.8 /, 'the address was never throttled');

    # What a guess gets still counts, from the same address.
    my @guess = (auth_bearer(forge_token($id)), auth_basic('alice', forge_token($id)),
                 auth_bearer(forge_token('999999999998')), auth_basic('no body', forge_token('999999999998')),
                 auth_basic('carol', 'wrong'));
    is(scalar @guess, $FAILS, "$FAILS guesses");
    is($ua->get($env->url($UP), { headers => $_ })->{status}, 401, 'a guess: 401') for @guess;
    like(log_since($env, $m), qr/BBT035: token $id refused for user alice: wrong secret/, 'a wrong secret among them');
    ok(wait_log($env, $m, qr/BBT505: client 127\.0\.0\.8 throttled: $FAILS failed logins/),
       "throttled after $FAILS guesses");
    is($ua->get($env->url($UP), { headers => $good_pw })->{status}, 429, 'the right password: 429');
};

subtest 'the window ends; a success resets no count' => sub {
    $env->httpd_restart(graceful => 1, throttle => "BBTokenThrottleFailures 3\nBBTokenThrottleWindow 5");
    my $m = log_mark($env);
    my $ua = ua('127.0.0.4');
    is($ua->get($env->url($UP), { headers => auth_basic('carol', 'wrong') })->{status}, 401, 'failure 1');
    is($ua->get($env->url($UP), { headers => $good_pw })->{status}, 200, 'a success between');
    is($ua->get($env->url($UP), { headers => auth_basic('carol', 'wrong') })->{status}, 401, 'failure 2');
    my $r = $ua->get($env->url($UP), { headers => auth_basic('carol', 'wrong') });
    # The window is five seconds: the machine may be slow enough to close it
    # between requests.  Then start again until three land in one window.
    my $tries = 0;
    while (log_since($env, $m) !~ /BBT505: client 127\.0\.0\.4 throttled/ && $tries++ < 20) {
        $ua->get($env->url($UP), { headers => auth_basic('carol', 'wrong') });
    }
    ok(log_since($env, $m) =~ /BBT505: client 127\.0\.0\.4 throttled: 3 failed logins in 5 s/,
       'throttled after three failures in spite of the success between them');
    my $deadline = time + 60;
    my $status = 0;
    while (time < $deadline) {
        $status = $ua->get($env->url($UP), { headers => $good_pw })->{status};
        last if $status == 200;
        sleep 0.25;
    }
    is($status, 200, 'once the window has ended the password works again');
    $deadline = time + 60;
    my $g;
    while (time < $deadline) {
        $g = scrape()->{bbtoken_throttled_clients};
        last if defined $g && $g == 0;
        sleep 0.25;
    }
    is($g, 0, 'and the gauge goes back to 0');
};

subtest 'BBTokenThrottleTokens refuse: tokens are refused too, without the database' => sub {
    $env->httpd_restart(graceful => 1, throttle => "BBTokenThrottleFailures 2\nBBTokenThrottleWindow 3600\nBBTokenThrottleTokens refuse");
    my $ua = ua('127.0.0.5');
    is($ua->get($env->url($UP), { headers => auth_bearer(mistype_token($tok)) })->{status}, 401, 'failure 1');
    is($ua->get($env->url($UP), { headers => auth_basic('carol', 'wrong') })->{status}, 401, 'failure 2');
    my $b = scrape();
    my $r = $ua->get($env->url($UP), { headers => auth_bearer($tok) });
    is($r->{status}, 429, 'the right token: 429');
    ok($r->{headers}{'retry-after'}, 'with Retry-After');
    my $a = scrape();
    is(($a->{$DBQ} // 0) - ($b->{$DBQ} // 0), 0, 'no statement ran on the database');
    is(ua('127.0.0.6')->get($env->url($UP), { headers => auth_bearer($tok) })->{status}, 200,
       'from another address: 200');
};

subtest 'a graceful restart into BBTokenThrottle off: the gauge holds nobody back' => sub {
    # The counters outlive a graceful restart; the throttle's counts do not.
    is(scrape()->{bbtoken_throttled_clients}, 1, 'before: 127.0.0.5 is held back');
    my $m = log_mark($env);
    $env->{throttle} = "BBTokenThrottle off";
    $env->_write_conf;
    my ($rc, $out, $err) = run_cmd(cmd => [$BBT::Env::APACHE, '-f', $env->{conf}, '-k', 'graceful'],
                                   tmp => "$env->{dir}/run", timeout => 60, env => $env->httpd_env);
    is($rc, 0, 'apache2 -k graceful') or diag "$out$err";
    ok(wait_log($env, $m, qr/BBT500: failed-login throttle off/), 'the new generation has no throttle');
    # A scrape by a child of the new generation (the old ones were idle and
    # have gone): the throttle the old one had is gone with them.
    my $v = scrape();
    for (1 .. 300) {
        last if defined $v->{bbtoken_throttled_clients} && $v->{bbtoken_throttled_clients} == 0;
        sleep 0.1;
        $v = scrape();
    }
    is($v->{bbtoken_throttled_clients}, 0, 'bbtoken_throttled_clients: 0');
    is(ua('127.0.0.5')->get($env->url($UP), { headers => auth_bearer($tok) })->{status}, 200,
       'and the address it held back is served');
};

subtest 'BBTokenThrottle off' => sub {
    $env->httpd_restart(graceful => 1, throttle => "BBTokenThrottle off");
    ok(wait_log($env, 0, qr/BBT500: failed-login throttle off/), 'BBT500 at startup');
    my $ua = ua('127.0.0.7');
    $ua->get($env->url($UP), { headers => auth_basic('carol', 'wrong') }) for 1 .. 40;
    is($ua->get($env->url($UP), { headers => $good_pw })->{status}, 200, 'off: 40 failures, then 200');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
