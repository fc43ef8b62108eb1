# A project's token with an allow-list behind a proxy (mod_remoteip): on one
# kept-alive connection, each request is judged by the address the proxy
# names for it, whether the token was read from the database or from the
# cache: a client inside the list is let in, one outside refused (401,
# BBT600) between two that are let in; an IPv4-mapped address named by
# the proxy is its IPv4 address, an IPv6 one outside the list is refused.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer parse_token);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since settle wait_log);

my $port_r = BBT::Util::free_port();
my $env = BBT::Env->new(pg_conf => $BBT::Cache::PG_CONF,
                        modules => ['remoteip'],
                        extra_conf => "Listen 127.0.0.1:$port_r\n"
                                    . "<VirtualHost 127.0.0.1:$port_r>\n    RemoteIPHeader X-Client-IP\n"
                                    . "    RemoteIPInternalProxy 127.0.0.1\n</VirtualHost>\n")->start;
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $out = $env->cli_ok('create', '--project', 'PROJ', '--name', 'ci', '--perm', 'PROJECT_READ',
                       '--allow-from', '10.1.1.0/24');
chomp $out;
my $p = parse_token($out) or die "no token printed: $out";
my ($tok, $id) = ($out, $p->{id});
# settle() lets the changes above be heard only once the listener hears
# PostgreSQL (BBT309), which may come after a second on a busy machine.
ok(wait_log($env, 0, qr/BBT309: /), 'the listener is up');
settle();

my $ua = HTTP::Tiny->new(timeout => 30, max_redirect => 0, keep_alive => 1);
my $url = "http://127.0.0.1:$port_r$UP";
my (%conns, %cached);
my @seq = (['10.1.1.1', 200], ['10.2.2.2', 401], ['10.1.1.7', 200], ['10.2.2.2', 401], ['10.1.1.1', 200],
           ['::ffff:10.1.1.9', 200], ['::ffff:10.2.2.9', 401], ['2001:db8::1', 401], ['10.1.1.1', 200],
           ['10.2.2.3', 401]);
for my $s (@seq) {
    my ($ip, $want) = @$s;
    my $m = log_mark($env);
    my $r = $ua->get($url, { headers => auth_bearer($tok, { 'X-Client-IP' => $ip }) });
    is($r->{status}, $want, "as $ip: $want");
    my $said = log_since($env, $m);
    $cached{$want}++ if $said =~ /\(from the cache\)/;
    (my $v4 = $ip) =~ s/^::ffff://;
    like($said, qr/BBT600: token $id refused from (::ffff:)?\Q$v4\E:/, '  BBT600 names the token and the client')
        if $want == 401;
    $conns{ $ua->{handle} // 'none' }++;
}
is(scalar(keys %conns), 1, 'all on one connection');
ok($cached{200}, 'some let in from the cache') or diag explain \%cached;
ok($cached{401}, 'some refused from the cache') or diag explain \%cached;
is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id = '$id' AND last_addresses::text ~ '10\\.2\\.2'"),
   0, 'no refused address counts as a use');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
