# A right token from a client outside its allow-list counts for the
# failed-login throttle as a wrong token does.  Its 401 is a wrong token's;
# were it not counted, the throttle would still tell them apart: after
# BBTokenThrottleFailures - 1 failures, a wrong token throttles the address
# and a fenced right one does not, so the next password's answer (429 or
# not) would tell whoever holds a stolen token, from outside its list,
# that it is right and live.  From the cache's entry and from the database
# (a virtual host with BBTokenCache off) alike.  A throttled address's
# token is still verified (BBTokenThrottleTokens verify): the fenced one
# refused 401, as a wrong one.  Real PostgreSQL, httpd, HTTP clients bound
# to loopback addresses of their own.  Sent with a Basic user name that is
# not its owner's, the fenced token is refused for the address and counted
# all the same: refused as "not the owner", uncounted, it would be told
# apart from a wrong secret sent so.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer auth_basic mistype_token forge_token parse_token);
use BBT::Cache qw(log_mark log_since served_from_cache);

my $FAILS = 3;
my $port_nc = BBT::Util::free_port();
my $extra = <<"EOC" . <<'EOC';
Listen 127.0.0.1:$port_nc
<VirtualHost 127.0.0.1:$port_nc>
    BBTokenCache off
</VirtualHost>
EOC
<Location /scm>
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file)],
                        throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600")->start;
$env->htpasswd(carol => 'carol-Pa55-word');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $good_pw = auth_basic('carol', 'carol-Pa55-word');

# Taken from 127.0.0.1 alone: every other loopback address is outside.
my $fenced = $env->cli_ok('create', 'alice', '--name', 'fenced', '--allow-from', '127.0.0.1/32');
chomp $fenced;
my $id = parse_token($fenced)->{id};

# A GET from $from (a connection of its own), to the virtual host without
# the cache when $nocache.
sub from {
    my ($from, $h, $nocache) = @_;
    my $url = $nocache ? "http://127.0.0.1:$port_nc$UP" : $env->url($UP);
    return HTTP::Tiny->new(timeout => 30, keep_alive => 0, max_redirect => 0, local_address => $from)
        ->get($url, { headers => $h })->{status};
}

# BBTokenThrottleFailures - 1 guesses from $from, then the credentials
# $h: its status and what the error log said of it.
sub probe {
    my ($from, $h, $nocache) = @_;
    is(from($from, auth_bearer(mistype_token($fenced)), $nocache), 401, "$from: a mistyped token")
        for 1 .. $FAILS - 1;
    my $m = log_mark($env);
    my $st = from($from, $h, $nocache);
    return ($st, log_since($env, $m));
}

# The fenced token in $h from outside its list, after
# BBTokenThrottleFailures - 1 guesses, from "$net.$first" on: refused 401
# (BBT600) from the cache's entry, or from the database when $nocache.
# From the cache only once its entry is there and is believed (any change
# in the database makes every entry older): a fresh address for each try.
# The address it was, or undef.
sub fenced_probe {
    my ($net, $first, $h, $nocache) = @_;
    for my $n ($first .. $first + 4) {
        ok(served_from_cache($env, $UP, auth_bearer($fenced), $id), 'in the cache, from 127.0.0.1')
            unless $nocache;
        my ($st, $said) = probe("$net.$n", $h, $nocache);
        is($st, 401, "$net.$n: the right token, from outside its allow-list: 401");
        like($said, qr/BBT600: token $id refused from \Q$net.$n\E: not in the token's allow-list/,
             '  logged as BBT600');
        my $cached = $said =~ /BBT600: [^\n]*\(from the cache\)/;
        return "$net.$n" if $nocache ? !$cached : $cached;
    }
    return undef;
}

for my $nocache (0, 1) {
    my $where = $nocache ? 'from the database' : 'from the cache';
    my $net = $nocache ? '127.0.4' : '127.0.3';
    subtest "the throttle's answers, $where" => sub {
        # What a guess at the token's secret leaves: the address throttled.
        my ($st, $said) = probe("$net.1", auth_bearer(forge_token($id)), $nocache);
        is($st, 401, "$net.1: a wrong secret for the token's id: 401");
        like($said, qr/BBT035: token $id refused: wrong secret/, '  logged as a wrong secret');
        is(from("$net.1", $good_pw, $nocache), 429, "$net.1: then the right password: 429");

        # The right token from outside its list: the same.
        my $at = fenced_probe($net, 2, auth_bearer($fenced), $nocache);
        ok($at, "refused $where") or return;
        is(from($at, $good_pw, $nocache), 429, "$at: then the right password: 429, as after a wrong secret");
        # Tokens from a throttled address are still verified
        # (BBTokenThrottleTokens verify), and the fenced one is still
        # refused as a wrong one.
        is(from($at, auth_bearer($fenced), $nocache), 401, "$at: the fenced token: 401");
        is(from($at, auth_bearer(forge_token($id)), $nocache), 401, "$at: a wrong one: 401");
        is(from('127.0.0.1', auth_bearer($fenced), $nocache), 200, 'from inside its list: 200');

        # With another user's name: a wrong secret so throttles, and the
        # right one as well.
        ($st, $said) = probe("$net.10", auth_basic('carol', forge_token($id)), $nocache);
        is($st, 401, "$net.10: a wrong secret, as carol: 401");
        is(from("$net.10", $good_pw, $nocache), 429, "$net.10: then the right password: 429");
        $at = fenced_probe($net, 11, auth_basic('carol', $fenced), $nocache);
        ok($at, "as carol, refused $where for the address, not as a name that is not the owner's") or return;
        is(from($at, $good_pw, $nocache), 429, "$at: then the right password: 429");
        is(from('127.0.0.1', auth_basic('carol', $fenced), $nocache), 401,
           'as carol from inside its list: 401, not the owner');
    };
}

# Revoked, expired or its owner disabled, a right token from outside its
# list is refused and counted as a live one is: were it refused as
# revoked (BBT035, uncounted), the throttle's next answer would tell a
# stolen token's holder whether the token is still live.
$env->user_add('dave');
$env->grant('dave', 'PROJECT_READ', 'PROJ');
my %dead;
for my $how (qw(revoked expired disabled)) {
    my $owner = $how eq 'disabled' ? 'dave' : 'alice';
    my $t = $env->cli_ok('create', $owner, '--name', "fenced-$how", '--allow-from', '127.0.0.1/32');
    chomp $t;
    $dead{$how} = $t;
}
$env->cli_ok('revoke', parse_token($dead{revoked})->{id});
$env->expire_token(parse_token($dead{expired})->{id});
$env->cli_ok('user', 'disable', 'dave');
for my $nocache (0, 1) {
    my $where = $nocache ? 'from the database' : 'from the cache or the database';
    my $net = $nocache ? '127.0.6' : '127.0.5';
    subtest "a dead token from outside its list, $where" => sub {
        my $n = 1;
        for my $how (qw(revoked expired disabled)) {
            my $did = parse_token($dead{$how})->{id};
            # Twice, from two addresses: the second may find the entry the
            # first made.
            for (1 .. 2) {
                my $at = "$net." . $n++;
                my ($st, $said) = probe($at, auth_bearer($dead{$how}), $nocache);
                is($st, 401, "$at: the $how token, from outside its allow-list: 401");
                like($said, qr/BBT600: token $did refused from \Q$at\E: not in the token's allow-list/,
                     '  logged as BBT600, as a live one') or diag $said;
                unlike($said, qr/BBT035: token $did/, '  not as BBT035, which says why') or diag $said;
                is(from($at, $good_pw, $nocache), 429, "$at: then the right password: 429, as after a live one");
            }
            is(from('127.0.0.1', auth_bearer($dead{$how}), $nocache), 401, "the $how token from inside its list: 401");
        }
    };
}

done_testing;
