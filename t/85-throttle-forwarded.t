# The failed-login throttle counts the client httpd names (r->useragent_ip),
# never an address the client claims.  Without mod_remoteip, X-Forwarded-For
# is only a header: failures each claiming another address still throttle
# the sender.  With mod_remoteip, an untrusted sender's header is ignored
# too; through a trusted proxy each forwarded client is counted apart, and
# an address prepended to the header (the client's own claim) does not
# move the count; an IPv4 client behind NAT64 or with 6to4 is counted as
# its IPv4 address, an IPv6 one by its /64.  Real httpd and PostgreSQL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_basic get_from);

my $FAILS = 3;
my $p2 = BBT::Env::free_port();
my $extra = <<"EOC";
Listen 127.0.0.1:$p2
<Location /scm>
    AuthBBTokenProvider file
    AuthUserFile "\@DIR\@/htpasswd"
</Location>
<VirtualHost *:$p2>
    RemoteIPHeader X-Forwarded-For
    RemoteIPInternalProxy 127.0.0.7
</VirtualHost>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file remoteip)],
                        throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600")->start;
$env->htpasswd(carol => 'carol-Pa55-word');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $BEHIND = "http://127.0.0.1:$p2$UP";
my $bad = auth_basic('carol', 'wrong');
my $good = auth_basic('carol', 'carol-Pa55-word');

is(get_from('127.0.0.5', $env->url($UP), $bad, "192.0.2.$_"), 401, "no mod_remoteip: failure $_, claiming 192.0.2.$_")
    for 1 .. $FAILS;
is(get_from('127.0.0.5', $env->url($UP), $good, '192.0.2.99'), 429, '  the sender is throttled, whatever it claims');

is(get_from('127.0.0.8', $BEHIND, $bad, "192.0.2.$_"), 401, "untrusted sender: failure $_, claiming 192.0.2.$_")
    for 1 .. $FAILS;
is(get_from('127.0.0.8', $BEHIND, $good, '192.0.2.98'), 429, '  the sender is throttled');

is(get_from('127.0.0.7', $BEHIND, $bad, '198.51.100.1'), 401, "through the trusted proxy: failure $_ of 198.51.100.1")
    for 1 .. $FAILS;
is(get_from('127.0.0.7', $BEHIND, $good, '198.51.100.1'), 429, '  198.51.100.1 is throttled');
is(get_from('127.0.0.7', $BEHIND, $good, '198.51.100.2'), 200, '  198.51.100.2 is not, nor the proxy');
is(get_from('127.0.0.7', $BEHIND, $good, '198.51.100.2, 198.51.100.1'), 429,
   '  198.51.100.1 claiming to forward for another: still throttled');
# An IPv4 client seen through a NAT64 translator (64:ff9b::/96) or with
# 6to4 (2002::/16) carries its IPv4 address: counted as that address, not
# by the /64 every translated client shares (one failing would hold back
# all), nor by 6to4's, of which one host has 65,536 (a guess from each).
is(get_from('127.0.0.7', $BEHIND, $bad, '64:ff9b::cb00:7109'), 401, "203.0.113.9 through NAT64: failure $_")
    for 1 .. $FAILS;
is(get_from('127.0.0.7', $BEHIND, $good, '64:ff9b::c633:6464'), 200, '  198.51.100.100 through NAT64 is not throttled');
is(get_from('127.0.0.7', $BEHIND, $good, '203.0.113.9'), 429, '  203.0.113.9 is, as itself');
is(get_from('127.0.0.7', $BEHIND, $bad, "2002:cb00:710a:$_\:\:1"), 401, "203.0.113.10 by 6to4, subnet $_: failure")
    for 1 .. $FAILS;
is(get_from('127.0.0.7', $BEHIND, $good, '2002:cb00:710a:99::1'), 429, '  throttled in another of its subnets');
is(get_from('127.0.0.7', $BEHIND, $good, '203.0.113.10'), 429, '  and as itself');
is(get_from('127.0.0.7', $BEHIND, $good, '2002:cb00:710b::1'), 200, '  203.0.113.11 by 6to4 is not');
# An IPv6 client by its /64, which one host commonly holds whole: failures
# from addresses of one /64 add up and hold back every address of it; an
# address of another /64 is apart, though its last 64 bits are a throttled
# one's.
is(get_from('127.0.0.7', $BEHIND, $bad, "2001:db8:1:2::$_"), 401, "2001:db8:1:2::$_: a failure") for 1 .. $FAILS;
is(get_from('127.0.0.7', $BEHIND, $good, '2001:db8:1:2:aaaa:bbbb:cccc:dddd'), 429,
   '  another address of that /64 is throttled');
is(get_from('127.0.0.7', $BEHIND, $good, '2001:db8:1:3::1'), 200, '  one of the next /64 is not');
is(get_from('127.0.0.7', $BEHIND, $bad, '2001:db8:1:4::7'), 401, "2001:db8:1:4::7: failure $_") for 1 .. $FAILS;
is(get_from('127.0.0.7', $BEHIND, $good, '2001:db8:1:4::7'), 429, '  throttled');
is(get_from('127.0.0.7', $BEHIND, $good, '2001:db8:1:5::7'), 200, '  2001:db8:1:5::7, of another /64, is not');
$env->httpd_stop(graceful => 1);
like($env->error_log_text, qr/\[client 198\.51\.100\.1:\d+\] BBT505: client 198\.51\.100\.1 throttled/,
     'the log names the forwarded client, as the fail2ban filter reads it');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
