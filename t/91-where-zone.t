# A link-local IPv6 client carries its zone (fe80::1%lo) in the address
# httpd reports, here named by a proxy mod_remoteip trusts.  Its use of a
# token is recorded like any other: its address group is new (audited
# new_address, "from fe80::/64", with the address) and its address is the
# token's last, both without the zone, which is no part of an address the
# database or an address group can hold; the allow-list matches it by
# its address.  Real PostgreSQL and httpd.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer parse_token);
use BBT::Cache qw(settle);

my $port_r = BBT::Util::free_port();
my $env = BBT::Env->new(modules => ['remoteip'],
                        extra_conf => "Listen 127.0.0.1:$port_r\n<VirtualHost 127.0.0.1:$port_r>\n"
                                    . "    RemoteIPHeader X-Client-IP\n    RemoteIPInternalProxy 127.0.0.1\n"
                                    . "</VirtualHost>\n")->start;
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $url = "http://127.0.0.1:$port_r$UP";
my $ua = HTTP::Tiny->new(timeout => 30, max_redirect => 0, local_address => '127.0.0.1');

sub token {
    my ($name, @more) = @_;
    my $out = $env->cli_ok('create', '--project', 'PROJ', '--name', $name, '--perm', 'PROJECT_READ', @more);
    chomp $out;
    my $p = parse_token($out) or die "no token printed: $out";
    return ($out, $p->{id});
}

my ($tok, $id) = token('ci', '--allow-from', 'fe80::/64');
settle();
is($ua->get($url, { headers => auth_bearer($tok, { 'X-Client-IP' => 'fe80::1%lo' }) })->{status}, 200,
   'a link-local client with its zone, inside the list: let in');
is($ua->get($url, { headers => auth_bearer($tok, { 'X-Client-IP' => '2001:db8::1' }) })->{status}, 401,
   '  one outside it: refused');
is($env->psql("SELECT string_agg(detail || ' ' || host(client_addr), ',' ORDER BY id) FROM bbtoken_audit"
              . " WHERE token_id = '$id' AND event = 'new_address'") // '',
   'from fe80::/64 fe80::1', 'its group is audited as new_address, with its address');
is($env->psql("SELECT array_to_string(last_addresses, ' ') FROM bbtoken_tokens WHERE id = '$id'") // '', 'fe80::1',
   'its address is the last one the token was used from');
is($env->psql("SELECT string_agg(net::text, ' ') FROM bbtoken_token_nets WHERE token_id = '$id'") // '', 'fe80::/64',
   'the group is known');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
