# A client at an IPv6 address that carries an IPv4 one (IPv4-mapped,
# NAT64 64:ff9b::/96, 6to4 2002::/16) is in the IPv4 address's /24, as
# httpd groups it, and the database records that group: a new_address
# audit record and a kept group, with the client's own address.  Clients
# reach httpd through mod_remoteip (X-Client-IP from 127.0.0.1).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer parse_token);
use BBT::Cache qw(settle log_mark log_since);

my $port = BBT::Util::free_port();
my $env = BBT::Env->new(modules => ['remoteip'],
                        extra_conf => "Listen 127.0.0.1:$port\n<VirtualHost 127.0.0.1:$port>\n"
                                    . "    RemoteIPHeader X-Client-IP\n    RemoteIPInternalProxy 127.0.0.1\n"
                                    . "</VirtualHost>\n")->start;
$env->make_repo('PROJ', 'repo');
my $url = "http://127.0.0.1:$port/scm/PROJ/repo.git/info/refs?service=git-upload-pack";
my $ua = HTTP::Tiny->new(timeout => 30, max_redirect => 0, local_address => '127.0.0.1');

# Client address, its group, and the address the database keeps.
my @cases = (['plain', '198.51.100.1', '198.51.100.0/24', '198.51.100.1'],
             ['mapped', '::ffff:198.51.101.1', '198.51.101.0/24', '198.51.101.1'],
             ['6to4', '2002:c633:6601::1', '198.51.102.0/24', '2002:c633:6601::1'],
             ['nat64', '64:ff9b::c633:6701', '198.51.103.0/24', '64:ff9b::c633:6701']);
for my $c (@cases) {
    my ($what, $ip, $net, $kept) = @$c;
    subtest "$what client $ip" => sub {
        my $tok = $env->cli_ok('create', '--project', 'PROJ', '--name', $what, '--perm', 'PROJECT_READ');
        chomp $tok;
        my $id = parse_token($tok)->{id};
        settle();
        my $m = log_mark($env);
        is($ua->get($url, { headers => auth_bearer($tok, { 'X-Client-IP' => $ip }) })->{status}, 200, '200');
        like(log_since($env, $m), qr/BBT601: token $id used from a new address group \Q$net\E \(client /,
             'BBT601 names the group');
        is($env->psql("SELECT string_agg(detail || ' ' || host(client_addr), ',') FROM bbtoken_audit"
                      . " WHERE token_id = '$id' AND event = 'new_address'"),
           "from $net $kept", 'audited as new_address from the group');
        is($env->psql("SELECT string_agg(net::text || ' ' || host(first_addr), ',') FROM bbtoken_token_nets"
                      . " WHERE token_id = '$id'"), "$net $kept", 'the group kept, with the client');
    };
}

done_testing;
