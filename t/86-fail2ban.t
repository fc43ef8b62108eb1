# The shipped fail2ban filter (conf/fail2ban/filter.d/bbtoken.conf), run
# with fail2ban-regex on the error log of a real httpd that refused logins
# and throttled an address: it finds every failure a guess makes, with
# the client's address, a right token from outside its allow-list too, as
# the throttle counts them; never a request without credentials, nor a
# token refused otherwise once its secret proved right (revoked, expired,
# its owner disabled, not the user's), which the throttle does not count
# either; and, in mode throttled, the throttle's one line per address.  Over HTTP/2 too, where
# httpd writes the client as [remote ADDRESS:PORT].
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use File::Copy qw(copy);
use IO::Socket::IP;
use MIME::Base64 ();
use POSIX ();
use BBT::Env qw(auth_bearer auth_basic mistype_token forge_token run_cmd);
use BBT::Assert;
use BBT::Cache qw(wait_log);

my $F2B = '/etc/fail2ban/filter.d';
plan skip_all => 'no fail2ban-regex (build/deps.sh installs fail2ban)'
    unless system('command -v fail2ban-regex >/dev/null') == 0 && -f "$F2B/apache-common.conf";

my $extra = <<'EOC';
<Location /scm>
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
</Location>
EOC
# LogLevel info: the lines a request without credentials gets (BBT031)
# are there, for the filter to leave alone; the failure lines are at error.
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file)], loglevel => 'info',
                        throttle => "BBTokenThrottleFailures 4\nBBTokenThrottleWindow 3600")->start;
$env->htpasswd(carol => 'carol-Pa55-word');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'repo');
my ($tok, $id) = $env->token_create('alice', name => 'ci');
my ($revoked, $rid) = $env->token_create('alice', name => 'revoked');
$env->cli_ok('revoke', $rid);
my ($expired, $eid) = $env->token_create('alice', name => 'expired', expiry_days => 1);
$env->expire_token($eid);
$env->user_add('dave');
$env->grant('dave', 'PROJECT_READ', 'PROJ');
my ($daves) = $env->token_create('dave', name => 'dave');
$env->cli_ok('user', 'disable', 'dave');
my $office = $env->cli_ok('create', 'alice', '--name', 'office', '--allow-from', '127.0.0.1');
chomp $office;
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

sub get {
    my ($from, $h) = @_;
    my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0, local_address => $from);
    return $ua->get($env->url($UP), { headers => $h || {} })->{status};
}

# 127.0.0.1: every kind of failure, throttled after four.
is(get('127.0.0.1', auth_basic('carol', 'wrong')), 401, '.1: a wrong password');
is(get('127.0.0.1', auth_basic('nobody', 'x')), 401, '.1: an unknown user');
is(get('127.0.0.1', auth_bearer(mistype_token($tok))), 401, '.1: a mistyped token');
is(get('127.0.0.1', auth_bearer(forge_token('999999999999'))), 401, '.1: an unknown token');
is(get('127.0.0.1', auth_basic('carol', 'carol-Pa55-word')), 429, '.1: throttled');
is(get('127.0.0.1', auth_bearer(mistype_token($tok))), 401, '.1: a token is still verified');
# 127.0.0.2: one failure; 127.0.0.3: only requests without credentials,
# as git's first, and a success.
is(get('127.0.0.2', auth_basic('carol', 'wrong')), 401, '.2: a wrong password');
is(get('127.0.0.3'), 401, '.3: no credentials') for 1 .. 5;
is(get('127.0.0.3', auth_basic('carol', 'carol-Pa55-word')), 200, '.3: the password');
# 127.0.0.4: a right token, but from outside its allow-list.
is(get('127.0.0.4', auth_bearer($office)), 401, '.4: a token from outside its allow-list');
# 127.0.0.6: CI jobs behind one NAT address retrying tokens whose secret
# is right, each three times: twelve refusals, no guess.  Counted, they
# would have the address throttled (four) and banned.
for my $t ([revoked => auth_bearer($revoked)], [expired => auth_basic('alice', $expired)],
           ['owner disabled' => auth_bearer($daves)], ['not the user\'s' => auth_basic('carol', $tok)]) {
    is(get('127.0.0.6', $t->[1]), 401, ".6: a token $t->[0]") for 1 .. 3;
}
is(get('127.0.0.6', auth_basic('carol', 'carol-Pa55-word')), 200, '.6: the password still works: not throttled');
# 127.0.0.7: guesses at tokens, each written its own way: a wrong secret
# (Bearer), an unknown id with a user name, and with one that is not a
# user name.
is(get('127.0.0.7', auth_bearer(forge_token($id))), 401, '.7: a wrong secret');
is(get('127.0.0.7', auth_basic('alice', forge_token('999999999998'))), 401, '.7: an unknown token, Basic');
is(get('127.0.0.7', auth_basic('no body', forge_token('999999999998'))), 401, '.7: with no user name');
ok(wait_log($env, 0, qr/BBT505: client 127\.0\.0\.1 throttled/), 'the throttle logged .1');
$env->httpd_stop;    # every line written

my $log = $env->error_log_text;
my %lines;
for (split /\n/, $log) {
    $lines{"$2 $1"}++ if /\[client (127\.0\.0\.\d+):\d+\] (BBT0(?:31|34|35|40)|BBT505|BBT600): /;
}
is_deeply(\%lines, {
    'BBT040 127.0.0.1' => 2, 'BBT034 127.0.0.1' => 2, 'BBT035 127.0.0.1' => 1,
    'BBT505 127.0.0.1' => 1, 'BBT040 127.0.0.2' => 1, 'BBT031 127.0.0.3' => 5,
    'BBT600 127.0.0.4' => 1, 'BBT035 127.0.0.6' => 12, 'BBT035 127.0.0.7' => 3,
}, 'the error log holds the lines the requests made') or diag explain \%lines;

# fail2ban's own includes, and the filter as shipped.
my $conf = "$env->{dir}/scratch/fail2ban";
mkdir $conf;
mkdir "$conf/filter.d";
copy("$F2B/$_", "$conf/filter.d/$_") or die "$_: $!" for 'common.conf', 'apache-common.conf';
copy("$BBT::Env::ROOT/conf/fail2ban/filter.d/bbtoken.conf", "$conf/filter.d/bbtoken.conf") or die $!;

# The addresses fail2ban-regex takes from the lines it matches.
sub hosts {
    my ($filter) = @_;
    my ($rc, $out, $err) = run_cmd(cmd => ['fail2ban-regex', '--config', $conf, '-o', '<ip>',
                                           $env->error_log_path, $filter], timeout => 120);
    is($rc, 0, "fail2ban-regex $filter") or diag "$out$err";
    my %h;
    $h{$_}++ for grep {/^\d+\.\d+\.\d+\.\d+$/} split /\n/, $out;
    return \%h;
}

like($log, qr/\[client 127\.0\.0\.7:\d+\] BBT035: token $id refused: wrong secret/, '.7: a wrong secret logged');
like($log, qr/BBT035: token 999999999998 refused for user \(not a user name\): unknown token/,
     '.7: a name that is no user name logged as such');
like($log, qr/\[client 127\.0\.0\.6:\d+\] BBT035: token $rid refused: token revoked/, '.6: a revoked token logged');
unlike($log, qr/BBT505: client 127\.0\.0\.6 /, '.6 was never throttled');
is_deeply(hosts('bbtoken'), { '127.0.0.1' => 5, '127.0.0.2' => 1, '127.0.0.4' => 1, '127.0.0.7' => 3 },
          'mode normal: every guess and the token from outside its allow-list, by address; '
          . 'no request without credentials, no other token whose secret was right');
is_deeply(hosts('bbtoken[mode=throttled]'), { '127.0.0.1' => 1 }, 'mode throttled: the throttle\'s line');
is_deeply(hosts('bbtoken[mode=aggressive]'), { '127.0.0.1' => 6, '127.0.0.2' => 1, '127.0.0.4' => 1, '127.0.0.7' => 3 },
          'mode aggressive: both');

my ($rc, $out) = run_cmd(cmd => ['fail2ban-regex', '--config', $conf, $env->error_log_path, 'bbtoken'],
                         timeout => 120);
like($out, qr/^Lines: \d+ lines, 0 ignored, 10 matched/m, 'fail2ban-regex\'s own count: 10 matched');

# A refusal a client request's sub-request repeats is logged at debug
# (README, Throttling failed logins): not counted, even under an
# ErrorLogFormat that writes no source position before [client ...].
{
    my $stamp = POSIX::strftime('[%a %b %d %H:%M:%S.000000 %Y]', localtime);
    my $lines = "$stamp [bbtoken:debug] [pid 1:tid 2] [client 192.0.2.77:1234] "
        . "BBT040: password refused for user carol: wrong password\n"
        . "$stamp [bbtoken:error] [pid 1:tid 2] [client 192.0.2.78:1234] "
        . "BBT040: password refused for user carol: wrong password\n";
    BBT::Util::spew("$conf/levels.log", $lines);
    my ($lrc, $lout, $lerr) = run_cmd(cmd => ['fail2ban-regex', '--config', $conf, '-o', '<ip>', "$conf/levels.log",
                                              'bbtoken'], timeout => 120);
    is_deeply([grep {/^\d+\.\d+\.\d+\.\d+$/} split /\n/, $lout], ['192.0.2.78'],
              'a refusal at debug is not counted, the same at error is') or diag "$lout$lerr";
}

# IPv6: httpd writes [client ADDRESS:PORT] with no brackets, so a client
# whose source port has four digits or fewer (its choice: any port over
# 1023 is free to bind) makes ::1:4321 look like one address.  Each try
# from another port would count for another address, never banned, and
# the ban would fall on an address the port spells.  The filter takes the
# port as httpd always writes it.
SKIP: {
    my $probe = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1);
    skip 'no IPv6 loopback', 3 unless $probe;
    close $probe;
    my $p6 = BBT::Env::free_port();
    my $env6 = BBT::Env->new(extra_conf => "$extra\nListen [::1]:$p6\n", modules => [qw(authn_file)])->start;
    $env6->htpasswd(carol => 'carol-Pa55-word');
    $env6->user_add('carol');
    my @ports;
    for (my $lp = 1024 + int(rand 8000); @ports < 3 && $lp < 9999; $lp++) {
        my $s = IO::Socket::IP->new(PeerHost => '::1', PeerPort => $p6, LocalHost => '::1', LocalPort => $lp,
                                    Proto => 'tcp') or next;
        print $s "GET $UP HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            . "Authorization: Basic " . MIME::Base64::encode_base64('carol:wrong', '') . "\r\n\r\n";
        my $line = <$s>;
        close $s;
        push @ports, $lp if $line && $line =~ m{^HTTP/1\.1 401 };
    }
    is(scalar @ports, 3, 'three wrong passwords from ::1, from ports under 10000');
    $env6->httpd_stop;
    like($env6->error_log_text, qr/\[client ::1:$ports[0]\] BBT040: /, 'httpd logs [client ::1:PORT]');
    my ($rc, $out, $err) = run_cmd(cmd => ['fail2ban-regex', '--config', $conf, '-o', '<ip>',
                                           $env6->error_log_path, 'bbtoken'], timeout => 120);
    my %h;
    $h{$_}++ for grep {/\S/ && !/^(?:Use|Results|Lines|$)/} split /\n/, $out;
    is_deeply(\%h, { '::1' => 3 }, 'fail2ban counts all three for ::1') or diag "$out$err";
}
# HTTP/2: httpd writes a stream's client as [remote ADDRESS:PORT], not
# [client ...] (a stream's connection has no scoreboard slot of its own).
# A filter that knew only [client ...] let every failure over HTTP/2 (h2
# by ALPN, which browsers and libcurl pick, or h2c) past fail2ban.
SKIP: {
    skip 'no mod_http2', 10 unless -f '/usr/lib/apache2/modules/mod_http2.so';
    my $env2 = BBT::Env->new(extra_conf => "$extra\nProtocols h2c http/1.1\nH2Direct on\n",
                             modules => [qw(authn_file http2)])->start;
    $env2->htpasswd(carol => 'carol-Pa55-word');
    $env2->user_add('carol');
    my ($rc, $out, $err);
    for (1 .. 3) {
        ($rc, $out, $err) = run_cmd(cmd => ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code} %{http_version}',
                                            '--http2-prior-knowledge', '--interface', '127.0.0.5',
                                            '-u', 'carol:wrong', $env2->url($UP)], timeout => 60);
        is($out, '401 2', "a wrong password over HTTP/2: 401") or diag "$out$err";
    }
    # A client writes a failure line of another address into its own: in a
    # URI, as a new line (%0A decodes into r->uri, which BBT031 logs), and
    # in a Referer, which httpd appends to the failure line.  httpd escapes
    # the newline, and the filter reads only the [client ...] httpd wrote.
    my $forged = POSIX::strftime('[%a %b %d %H:%M:%S.000000 %Y]', localtime) . ' [bbtoken:error] [pid 1:tid 2] '
        . '[client 192.0.2.66:1234] BBT034: credentials refused: not a token';
    (my $enc = $forged) =~ s/([^A-Za-z0-9.:_-])/sprintf('%%%02X', ord $1)/ge;
    is($env2->raw_get("/scm/PROJ/repo.git/info/refs%0A$enc%0A")->{status}, 401, 'a forged line in a URI: 401');
    is($env2->raw_get($UP, 'Authorization: Basic ' . MIME::Base64::encode_base64('carol:wrong', ''),
                      "Referer: http://x/ $forged")->{status}, 401, 'a forged line in a Referer: 401');
    $env2->httpd_stop;
    my $text2 = $env2->error_log_text;
    like($text2, qr/BBT031: no credentials for \S+\\n\[/, 'the URI\'s newline logged escaped');
    like($text2, qr/\Q$forged\E/, 'the forged line is in the log');
    unlike($text2, qr/^\Q$forged\E/m, '  but no line begins with it');
    my @lines = grep {/BBT040: /} split /\n/, $text2;
    is(scalar(grep {/\[(?:client|remote) 127\.0\.0\.5:\d+\] BBT040: /} @lines), 3, 'logged, each with 127.0.0.5')
        or diag join "\n", @lines;
    ($rc, $out, $err) = run_cmd(cmd => ['fail2ban-regex', '--config', $conf, '-o', '<ip>',
                                        $env2->error_log_path, 'bbtoken'], timeout => 120);
    my %h;
    $h{$_}++ for grep {/^\d+\.\d+\.\d+\.\d+$/} split /\n/, $out;
    is_deeply(\%h, { '127.0.0.5' => 3, '127.0.0.1' => 1 },
              'fail2ban counts all three for 127.0.0.5, the Referer\'s for its sender, none for the forged address')
        or diag "$out$err";
}
done_testing;
