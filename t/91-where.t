# Where a token is used from.  An allow-list (bbtoken create/update
# --allow-from) lets a token in only from its networks: from elsewhere it is
# refused 401 with the same challenge as a wrong token, and logged (BBT600)
# with its id and the client's address, from the database and from the
# cache alike, and a changed list reaches the cache at once.  A token used
# from an address group (IPv4 /24, IPv6 /64) it was not used from before is
# audited (new_address) once per group, without a write per request
# (pg_stat_statements counts the writes), with the cache and without it (a
# virtual host with BBTokenCache off).  An IPv4-mapped client (an IPv6
# socket on ::ffff:127.0.0.1) is matched as its IPv4 address.  The CLI and
# the database refuse what APR cannot match (an IPv4-mapped network, /0);
# such a network in a list set before the database refused it refuses the
# token from everywhere (BBT603).  The created record carries the list.
# Real PostgreSQL, httpd (on 127.0.0.1, [::1] and [::ffff:127.0.0.1]), HTTP
# clients bound to 127.0.0.1 and 127.0.0.2, curl over IPv6.  Clients
# behind a proxy (mod_remoteip) on one kept-alive connection are grouped
# each by its own address.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use HTTP::Tiny;
use BBT::Env qw(auth_bearer forge_token run_cmd);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since served_from_cache until_status settle);

my $port6 = BBT::Util::free_port();
# And a virtual host without the cache: every request reads the token.
my $port_nc = BBT::Util::free_port();
# And an IPv6 socket on 127.0.0.1 (httpd is built with IPv4-mapped
# addresses, as on a dual-stack [::] listener): its IPv4 clients are
# ::ffff:127.0.0.x to APR.
my $port_m = BBT::Util::free_port();
# And a virtual host behind which a proxy (this client) names the client.
my $port_r = BBT::Util::free_port();
my $env = BBT::Env->new(pg_conf => $BBT::Cache::PG_CONF,
                        modules => ['remoteip'],
                        extra_conf => "Listen [::1]:$port6\nListen 127.0.0.1:$port_nc\n"
                                    . "Listen [::ffff:127.0.0.1]:$port_m\nListen 127.0.0.1:$port_r\n"
                                    . "<VirtualHost 127.0.0.1:$port_nc>\n    BBTokenCache off\n</VirtualHost>\n"
                                    . "<VirtualHost 127.0.0.1:$port_r>\n    RemoteIPHeader X-Client-IP\n"
                                    . "    RemoteIPInternalProxy 127.0.0.1\n</VirtualHost>\n")->start;
$env->stat_statements_on;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# A request from 127.0.0.x, on a connection of its own (to the virtual
# host without the cache when $nocache).
sub from4 {
    my ($addr, $tok, $nocache) = @_;
    my $url = $nocache ? "http://127.0.0.1:$port_nc$UP" : $env->url($UP);
    return HTTP::Tiny->new(timeout => 30, max_redirect => 0, local_address => $addr)
        ->get($url, { headers => auth_bearer($tok) });
}

# The module's writes of address groups so far.
sub note_calls { $env->statement_calls('bbtoken_note_net') }

# A request from ::1: its status.
sub from6 {
    my ($tok) = @_;
    my ($rc, $out) = run_cmd(cmd => ['curl', '-s', '-g', '-o', '/dev/null', '-w', '%{http_code}',
                                     '-H', "Authorization: Bearer $tok", "http://[::1]:$port6$UP"]);
    return $out;
}

sub create {
    my ($name, @nets) = @_;
    my $out = $env->cli_ok('create', 'alice', '--name', $name, map { ('--allow-from', $_) } @nets);
    chomp $out;
    my $p = BBT::Env::parse_token($out) or die "no token printed: $out";
    return ($out, $p->{id});
}

sub created_detail {
    my ($id) = @_;
    return $env->psql("SELECT detail FROM bbtoken_audit WHERE token_id = '$id' AND event = 'created'");
}

sub nets_of {
    my ($id) = @_;
    return $env->psql("SELECT COALESCE(array_to_string(allowed_nets, ' '), '-') FROM bbtoken_tokens WHERE id = '$id'");
}

subtest 'an IPv4 allow-list: in from 127.0.0.1, refused from 127.0.0.2 and ::1' => sub {
    my ($tok, $id) = create('ci-v4', '127.0.0.1');
    is(nets_of($id), '127.0.0.1/32', 'stored as a network');
    like(created_detail($id), qr{, allowed from 127\.0\.0\.1/32$}, 'the created record carries the list');
    is(from4('127.0.0.1', $tok)->{status}, 200, 'from 127.0.0.1: 200');
    my $m = log_mark($env);
    my $r = from4('127.0.0.2', $tok);
    is($r->{status}, 401, 'from 127.0.0.2: 401');
    like(log_since($env, $m), qr/BBT600: token $id refused from 127\.0\.0\.2: not in the token's allow-list/,
         'BBT600 names the token and the client');
    my $wrong = from4('127.0.0.2', forge_token($id));
    is($wrong->{status}, 401, 'a wrong secret for the same id: 401');
    is_deeply([sort(BBT::Http::header_list($r, 'www-authenticate'))],
              [sort(BBT::Http::header_list($wrong, 'www-authenticate'))],
              'the same challenge as a wrong token');
    is($r->{content}, $wrong->{content}, 'and the same body');
    is(from6($tok), '401', 'from ::1: 401');

    # The refusal from the cache: the entry made by an allowed request.
    # Any change in the database (another token's write, this one's first
    # address group) makes every entry older than it, so the entry is made
    # again until the refusal comes from it (a few tries at most).
    my ($cached, $from_cache, $status) = (0, 0, 0);
    for (1 .. 5) {
        $cached = served_from_cache($env, $UP, auth_bearer($tok), $id) or last;
        $m = log_mark($env);
        $status = from4('127.0.0.2', $tok)->{status};
        last if $status != 401;
        my $said = log_since($env, $m);
        $from_cache = $said =~ /BBT600: token $id refused from 127\.0\.0\.2: .*\(from the cache\)/;
        last if $from_cache || $said !~ /BBT312: token $id not answered from the cache: its entry is older/;
    }
    ok($cached, 'the token is in the cache');
    is($status, 401, 'from 127.0.0.2 again: 401');
    ok($from_cache, 'refused from the cache');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id = '$id' AND '127.0.0.2' = ANY(last_addresses)"),
       0, 'a refused request is not a use');

    # A changed list reaches the cache (its NOTIFY), both ways.
    $env->cli_ok('update', $id, '--allow-from', '127.0.0.0/24');
    is(nets_of($id), '127.0.0.0/24', 'the list replaced');
    settle();
    is(from4('127.0.0.2', $tok)->{status}, 200, 'from 127.0.0.2 once the list holds it: 200');
    $env->cli_ok('update', $id, '--allow-from', '127.0.0.3');
    settle();
    $m = log_mark($env);
    is(from4('127.0.0.1', $tok)->{status}, 401, 'from 127.0.0.1 once it does not: 401');
    like(log_since($env, $m), qr/BBT600: token $id refused from 127\.0\.0\.1/, 'BBT600');
    $env->cli_ok('update', $id, '--allow-from-any');
    is(nets_of($id), '-', 'no list');
    settle();
    is(from6($tok), '200', 'from ::1 with no list: 200');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$id' AND event = 'allowed_nets_changed'"),
       3, 'each change of the list in the audit trail');
};

subtest 'an IPv6 allow-list' => sub {
    my ($tok, $id) = create('ci-v6', '::1/128');
    is(from6($tok), '200', 'from ::1 in ::1/128: 200');
    my $m = log_mark($env);
    is(from4('127.0.0.1', $tok)->{status}, 401, 'from 127.0.0.1: 401');
    like(log_since($env, $m), qr/BBT600: token $id refused from 127\.0\.0\.1/, 'BBT600');
    my ($tok2, $id2) = create('ci-doc', '2001:db8::/32', '10.0.0.0/8');
    is(nets_of($id2), '2001:db8::/32 10.0.0.0/8', 'two networks, in order');
    like(created_detail($id2), qr{, allowed from 2001:db8::/32 10\.0\.0\.0/8$}, '  both in the created record');
    $m = log_mark($env);
    is(from6($tok2), '401', 'from ::1 outside 2001:db8::/32: 401');
    like(log_since($env, $m), qr/BBT600: token $id2 refused from ::1/, 'BBT600 with the IPv6 client');
    is(from4('127.0.0.1', $tok2)->{status}, 401, 'from 127.0.0.1 outside 10.0.0.0/8: 401');
};

subtest 'an IPv4-mapped client is its IPv4 address' => sub {
    # The listener is an IPv6 socket bound to ::ffff:127.0.0.1, so its
    # peers are IPv4-mapped (/proc/net/tcp6: the address as four 32-bit
    # words in host order, the port in hex, 0A for LISTEN).
    my $listening = 0;
    if (open my $fh, '<', '/proc/net/tcp6') {
        my $want = sprintf('0000000000000000FFFF00000100007F:%04X', $port_m);
        $listening = grep { /^\s*\d+:\s+\Q$want\E\s+\S+\s+0A\s/ } <$fh>;
    }
    ok($listening, "control: an IPv6 socket listens on [::ffff:127.0.0.1]:$port_m") or return;
    my $mapped = sub {
        my ($addr, $tok) = @_;
        return HTTP::Tiny->new(timeout => 30, max_redirect => 0, local_address => $addr)
            ->get("http://127.0.0.1:$port_m$UP", { headers => auth_bearer($tok) })->{status};
    };
    my ($tok, $id) = create('ci-mapped', '127.0.0.1');
    is($mapped->('127.0.0.1', $tok), 200, 'a list of 127.0.0.1, from ::ffff:127.0.0.1: 200');
    my $m = log_mark($env);
    is($mapped->('127.0.0.2', $tok), 401, 'from ::ffff:127.0.0.2: 401');
    like(log_since($env, $m), qr/BBT600: token $id refused from 127\.0\.0\.2: not in the token's allow-list/,
         'BBT600 names the client as IPv4');
    unlike(log_since($env, $m), qr/BBT603/, 'no BBT603');
    my ($tok24) = create('ci-mapped-24', '127.0.0.0/24');
    is($mapped->('127.0.0.2', $tok24), 200, 'a list of 127.0.0.0/24, from ::ffff:127.0.0.2: 200');
    my ($tok6) = create('ci-mapped-v6', '::1/128', '2001:db8::/32');
    is($mapped->('127.0.0.1', $tok6), 401, 'an IPv6-only list, from ::ffff:127.0.0.1: 401');
};

subtest 'a rotated token keeps its allow-list' => sub {
    my ($tok, $id) = create('ci-rotated', '127.0.0.1');
    my $out = $env->cli_ok('rotate', $id);
    chomp $out;
    my $p = BBT::Env::parse_token($out) or die "no token printed: $out";
    isnt($p->{id}, $id, 'a new token');
    is(nets_of($p->{id}), '127.0.0.1/32', 'with the old one\'s list');
    like(created_detail($p->{id}), qr{, allowed from 127\.0\.0\.1/32$}, '  in its created record');
    is(from4('127.0.0.1', $out)->{status}, 200, 'from 127.0.0.1: 200');
    is(from4('127.0.0.2', $out)->{status}, 401, 'from 127.0.0.2: 401');
};

subtest 'the CLI refuses what is not a network' => sub {
    for my $bad ('10.0.0.1/8', '10.0.0.0/33', '300.1.2.3', 'nonsense', '10.0.0.0/8,10.1.0.0/16', '', '::1/129') {
        $env->cli_is("--allow-from '$bad'", ['create', 'alice', '--name', "bad <$bad>", '--allow-from', $bad], 1,
                     stderr => qr/network|cidr/i);
    }
    $env->cli_is('17 networks', ['create', 'alice', '--name', 'many',
                                 map { ('--allow-from', "10.$_.0.0/16") } 1 .. 17], 2,
                 stderr => qr/too many --allow-from/);
    $env->cli_is('a list and any', ['update', '000000000001', '--allow-from', '10.0.0.0/8', '--allow-from-any'], 2,
                 stderr => qr/^bbtoken: give --allow-from or --allow-from-any, not both$/m);
    my (undef, $id) = create('fine', '10.0.0.0/8');
    $env->cli_is('update to a bad one', ['update', $id, '--allow-from', '10.0.0.1/8'], 1, stderr => qr/cidr/i);
    # What cidr takes but APR cannot match: the token would be refused
    # from everywhere (BBT603).
    for my $bad ('::ffff:10.0.0.0/104', '::ffff:127.0.0.1', '0:0:0:0:0:ffff:7f00:1/128') {
        $env->cli_is("--allow-from $bad", ['create', 'alice', '--name', "bad $bad", '--allow-from', '10.1.0.0/16',
                                           '--allow-from', $bad], 1,
                     stderr => qr{^bbtoken: --allow-from \Q$bad\E: an IPv4-mapped IPv6 network, which httpd cannot match: write it as IPv4 \(::ffff:10\.0\.0\.0/104 is 10\.0\.0\.0/8\)});
    }
    for my $bad ('0.0.0.0/0', '::/0') {
        $env->cli_is("--allow-from $bad", ['create', 'alice', '--name', "bad <$bad>", '--allow-from', $bad], 1,
                     stderr => qr{^bbtoken: --allow-from \Q$bad\E: a /0 network, which httpd cannot match});
    }
    $env->cli_is('update to an IPv4-mapped one', ['update', $id, '--allow-from', '::ffff:10.0.0.0/104'], 1,
                 stderr => qr/IPv4-mapped/);
    is(nets_of($id), '10.0.0.0/8', 'the list unchanged');
    # The database refuses them too, however written (the CLI's owner
    # writing SQL).
    for my $bad ('::ffff:a00:0/104', '0.0.0.0/0') {
        my ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_tokens SET allowed_nets = '{$bad}' WHERE id = '$id'");
        ok($rc != 0 && $err =~ /(?:IPv4-mapped IPv6|\/0) network, which httpd cannot match/, "SQL: $bad refused")
            or diag "$rc $out $err";
    }
    is(nets_of($id), '10.0.0.0/8', 'still unchanged');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name LIKE 'bad %' OR name = 'many'"), 0,
       'no token made');
};

# A list set before version 14 may hold what cidr takes and APR cannot
# read (an IPv4-mapped network: README, Install): migration 14 leaves it
# as it is, and its token refused from everywhere (BBT603), from inside
# the list's good networks too, so that nothing of a list httpd reads only
# in part lets the token in; the owner replaces the list.  Written here
# as such an old list was, with the check that now refuses it off; the bad
# network first and last (a list read up to it, or past it, would let
# 127.0.0.1 in either way).  Without the cache (the row's list) and from
# the cache (the entry's copy of it).
subtest 'a list written before version 14 that APR cannot read: refused from everywhere' => sub {
    for my $c (['first', '::ffff:10.0.0.0/104', '127.0.0.0/8'], ['last', '127.0.0.0/8', '::ffff:10.0.0.0/104']) {
        my ($where, @nets) = @$c;
        my $list = join ' ', @nets;
        my ($tok, $id) = create("pre-14 $where", '10.1.0.0/16');
        $env->psql('ALTER TABLE bbtoken_tokens DISABLE TRIGGER bbtoken_tokens_nets_check; '
                   . "UPDATE bbtoken_tokens SET allowed_nets = '{" . join(',', @nets) . "}' WHERE id = '$id'; "
                   . 'ALTER TABLE bbtoken_tokens ENABLE TRIGGER bbtoken_tokens_nets_check');
        is(nets_of($id), $list, "the list $list stored");
        is($env->psql("SELECT allowed_nets FROM bbtoken_lookup WHERE id = '$id'"), $list,
           '  and in the lookup row');
        settle();
        my $m = log_mark($env);
        is(from4('127.0.0.1', $tok, 1)->{status}, 401, '  without the cache, from 127.0.0.1 in 127.0.0.0/8: 401');
        my $said = log_since($env, $m);
        like($said, qr{BBT603: the token's allow-list holds ::ffff:10\.0\.0\.0/104, which is not a network: refused},
             '  BBT603 names the network APR refused');
        like($said, qr/BBT600: token $id refused from 127\.0\.0\.1: not in the token's allow-list$/m,
             '  BBT600, not from the cache');
        # Until the refusal comes from the entry the first request here
        # made (one older than the last change is looked up again: a few
        # tries at most).
        my ($from_cache, @status);
        for (1 .. 5) {
            $m = log_mark($env);
            push @status, from4('127.0.0.1', $tok)->{status};
            $said = log_since($env, $m);
            $from_cache = $said =~ /BBT600: token $id refused from 127\.0\.0\.1: .*\(from the cache\)/;
            last if $from_cache || $status[-1] != 401;
        }
        is("@status", join(' ', (401) x @status), '  with the cache, from 127.0.0.1: 401 each time');
        ok($from_cache, '  refused from the cache') or diag $said;
        like($said, qr/BBT603/, '  BBT603 there too');
        is(from6($tok), '401', '  from ::1: 401');
    }
    is($env->psql("SELECT count(*) FROM bbtoken_audit a JOIN bbtoken_tokens t ON t.id = a.token_id "
                  . "WHERE t.name LIKE 'pre-14 %' AND a.event = 'new_address'"), 0, 'no use recorded');
};

subtest 'a new address group is audited once' => sub {
    my ($tok, $id) = create('roaming');
    my $events = sub {
        $env->psql("SELECT string_agg(detail || ' ' || host(client_addr), ',' ORDER BY id) FROM bbtoken_audit"
                   . " WHERE token_id = '$id' AND event = 'new_address'") // '';
    };
    is($events->(), '', 'none before use');
    my $calls = note_calls();
    is(from4('127.0.0.1', $tok)->{status}, 200, 'from 127.0.0.1: 200');
    is($events->(), 'from 127.0.0.0/24 127.0.0.1', 'new_address for 127.0.0.0/24');
    is(from4('127.0.0.1', $tok)->{status}, 200, 'again') for 1 .. 3;
    is(from4('127.0.0.2', $tok)->{status}, 200, 'from 127.0.0.2, the same /24');
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'answered from the cache');
    is($events->(), 'from 127.0.0.0/24 127.0.0.1', 'not again');
    is(from6($tok), '200', 'from ::1: 200');
    is($events->(), 'from 127.0.0.0/24 127.0.0.1,from ::/64 ::1', 'new_address for ::/64');
    is(from6($tok), '200', 'from ::1 again') for 1 .. 3;
    is(from4('127.0.0.1', $tok)->{status}, 200, 'from 127.0.0.1 again');
    is($events->(), 'from 127.0.0.0/24 127.0.0.1,from ::/64 ::1', 'once per group');
    is(note_calls() - $calls, 2, 'two writes in all: one per new group, none per request');
    is($env->psql("SELECT string_agg(net::text, ' ' ORDER BY first_seen) FROM bbtoken_token_nets WHERE token_id = '$id'"),
       '127.0.0.0/24 ::/64', 'the groups kept');
    for my $c (['10.9.9.0/24', '10.9.8.7', 'a group must hold the address'],
               ['10.9.8.0/23', '10.9.8.7', 'and be a /24'],
               ['10.9.8.0/24', '64:ff9b::a09:907', 'a NAT64 client carrying another /24'],
               ['10.9.8.0/24', '2002:a09:907::1', 'a 6to4 client carrying another /24'],
               ['2001:db8::/48', '2001:db8::1', 'an IPv6 group is a /64']) {
        my ($rc, undef, $err) = $env->psql_try("SELECT bbtoken_note_net('$id', '$c->[0]', '$c->[1]')",
                                               user => 'postgres');
        ok($rc != 0 && $err =~ /address \Q$c->[1]\E is not in address group \Q$c->[0]\E/,
           "$c->[2]: an error, not a false answer httpd would take for another child's") or diag $err;
    }
    is($env->psql("SELECT bbtoken_note_net('$id', '10.9.8.0/24', '::ffff:10.9.8.7')"), 't',
       'an IPv4-mapped address is its IPv4 address');
    is($env->psql("SELECT bbtoken_note_net('$id', '10.9.8.0/24', '10.9.8.8')"), 'f', 'a known group: no write');
    my $seen = sub { $env->psql("SELECT array_to_string(seen_nets, ' ') FROM bbtoken_tokens WHERE id = '$id'") };
    is($seen->(), '127.0.0.0/24 ::/64 10.9.8.0/24', 'the token row has the groups the lookup reads');
    $env->psql("DELETE FROM bbtoken_token_nets WHERE net = '10.9.8.0/24'");
    is($seen->(), '127.0.0.0/24 ::/64', '  and follows a group deleted by hand');
    like($env->cli_ok('audit', '--token', $id), qr/new_address\s.*from ::\/64/, 'bbtoken audit shows it');
    my ($j) = grep { $_->{id} eq $id } @{ $env->list_json('alice') };
    is($j->{addressGroups}, 2, 'list --json: addressGroups');
    ok(!exists $j->{allowedAddresses}, 'list --json: no allowedAddresses without a list');
    my $out = $env->cli_ok('list', 'alice');
    like($out, qr/^ID .* EXPIRES\s+ALLOWED\s+GROUPS\s+LAST USED\s+FROM\s*$/m, 'list: ALLOWED and GROUPS');
    like($out, qr/^$id .*\bany\s+2\s/m, '  any, 2 groups');
    like($out, qr/ci-doc .*2001:db8::\/32,10\.0\.0\.0\/8\s+0\s/m, '  a list, 0 groups');
};

# The group of the connection's client is remembered with the connection:
# a proxy's connection carries many clients, each its own group.
subtest 'one kept-alive connection, two clients behind a proxy' => sub {
    my ($tok, $id) = create('proxied');
    my $ua = HTTP::Tiny->new(timeout => 30, max_redirect => 0, keep_alive => 1);
    my $url = "http://127.0.0.1:$port_r$UP";
    my $calls = note_calls();
    my %conns;
    for my $ip ('10.1.1.1', '10.1.1.1', '10.2.2.2', '10.2.2.2', '10.1.1.1') {
        is($ua->get($url, { headers => auth_bearer($tok, { 'X-Client-IP' => $ip }) })->{status}, 200,
           "as $ip: 200");
        $conns{ $ua->{handle} // 'none' }++;
    }
    is(scalar(keys %conns), 1, 'all on one connection');
    is(note_calls() - $calls, 2, 'a write for each group, none per request');
    is($env->psql("SELECT string_agg(detail || ' ' || host(client_addr), ',' ORDER BY id) FROM bbtoken_audit"
                  . " WHERE token_id = '$id' AND event = 'new_address'"),
       'from 10.1.1.0/24 10.1.1.1,from 10.2.2.0/24 10.2.2.2', 'new_address for each, with its address');
};

subtest 'without the cache: the lookup knows the groups, no write per request' => sub {
    my ($tok, $id) = create('uncached', '127.0.0.0/24');
    my $calls = note_calls();
    is(from4('127.0.0.1', $tok, 1)->{status}, 200, "from 127.0.0.1: 200") for 1 .. 3;
    is(from4('127.0.0.2', $tok, 1)->{status}, 200, 'from 127.0.0.2, the same /24: 200');
    is(note_calls() - $calls, 1, 'one write');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$id' AND event = 'new_address'"), 1,
       'one new_address record');
    my $m = log_mark($env);
    $env->cli_ok('update', $id, '--allow-from', '10.0.0.0/8');
    is(from4('127.0.0.1', $tok, 1)->{status}, 401, 'the list changed: 401 at once');
    like(log_since($env, $m), qr/BBT600: token $id refused from 127\.0\.0\.1: not in the token's allow-list$/m,
         'BBT600, not from the cache');
};

# A client that cycles through more groups than a token keeps (16) finds
# each one new again: at most 16 new_address records in an hour, the
# groups kept all the same (version 47).  Through the virtual host
# without the cache, where each such request writes.
subtest 'a client cycling through many groups: 16 records an hour, no more' => sub {
    my ($tok, $id) = create('cycling');
    my $events = sub {
        $env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$id' AND event = 'new_address'");
    };
    my $kept = sub {
        $env->psql("SELECT count(*) || ' ' || bool_or(net = '127.0.40.0/24') FROM bbtoken_token_nets "
                   . "WHERE token_id = '$id'");
    };
    my $ok = grep { from4("127.0.$_.1", $tok, 1)->{status} == 200 } 21 .. 40;
    is($ok, 20, 'from 20 groups (127.0.21.0/24 to 127.0.40.0/24): 200 each');
    is($events->(), 16, 'the first 16 recorded');
    is($kept->(), '16 true', 'the 16 most recent kept, the last among them');
    $ok = grep { from4("127.0.$_.1", $tok, 1)->{status} == 200 } 21 .. 25;
    is($ok, 5, 'the first five again (four of them new again): 200');
    is($events->(), 16, '  not recorded');
    is($env->psql("SELECT count(*) FROM bbtoken_token_nets WHERE token_id = '$id' "
                  . "AND net IN ('127.0.21.0/24', '127.0.25.0/24')"), 2, '  kept as the most recent');
    # An hour on, the cycling still going: the records moved back by hand
    # (the audit refuses updates: its trigger off meanwhile); the groups
    # kept are as recent as ever.
    $env->psql('ALTER TABLE bbtoken_audit DISABLE TRIGGER bbtoken_audit_fixed; '
               . "UPDATE bbtoken_audit SET at = at - interval '61 minutes' WHERE token_id = '$id'; "
               . 'ALTER TABLE bbtoken_audit ENABLE TRIGGER bbtoken_audit_fixed');
    $ok = grep { from4("127.0.$_.1", $tok, 1)->{status} == 200 } 26 .. 45;
    is($ok, 20, 'an hour on, cycling on through 20 groups, each new again: 200 each');
    is($events->(), 32, '  16 more recorded');
    is($env->psql("SELECT string_agg(detail, ',' ORDER BY id) FROM (SELECT id, detail FROM bbtoken_audit "
                  . "WHERE token_id = '$id' AND event = 'new_address' ORDER BY id DESC LIMIT 2) l"),
       'from 127.0.40.0/24,from 127.0.41.0/24', '  the hour\'s first 16, each with its group');
};

# Two new groups of one token recorded at once: the second write waits for
# the first's row lock and then reads the groups again, so the token's row
# ends with both (a copy made from the second's first snapshot would lose
# the first's).  The first session holds its transaction open until
# PostgreSQL shows the second waiting for a lock (pg_stat_activity read
# afresh each time: a transaction keeps its first view of it).  The second
# starts only once the first sleeps in its loop, past its write: its
# statements show in pg_stat_activity from the start, and a second that
# came first would write, commit and leave the first waiting for nothing.
subtest 'concurrent new groups: the token row keeps both' => sub {
    my (undef, $id) = create('two-at-once');
    my $hold = "BEGIN; SELECT bbtoken_note_net('$id', '10.7.1.0/24', '10.7.1.1'); "
             . "DO \$\$ BEGIN FOR i IN 1 .. 1200 LOOP PERFORM pg_stat_clear_snapshot(); "
             . "EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
             . "AND query LIKE '%10.7.2.0/24%' AND pid <> pg_backend_pid()); "
             . "PERFORM pg_sleep(0.05); END LOOP; END \$\$; COMMIT;";
    # What the first session's psql said, for the parent to show if it failed.
    my $said = $env->dir . '/scratch/first-session.err';
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my ($rc, undef, $err) = $env->psql_try($hold);
        BBT::Env::spew($said, $err // '');
        POSIX::_exit($rc ? 1 : 0);
    }
    my $held;
    for (1 .. 600) {
        last if $held = $env->psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%10.7.1.0/24%' "
                                   . "AND query LIKE '%pg_sleep%' AND wait_event = 'PgSleep' "
                                   . "AND pid <> pg_backend_pid()");
        select(undef, undef, undef, 0.05);
    }
    ok($held, 'the first session holds its write open (it sleeps in its loop)');
    is($env->psql("SELECT bbtoken_note_net('$id', '10.7.2.0/24', '10.7.2.1')"), 't', 'the second writes');
    waitpid($pid, 0);
    is($?, 0, 'the first committed') or diag 'the first session said: ' . BBT::Env::slurp($said);
    is($env->psql("SELECT array_to_string(seen_nets, ' ') FROM bbtoken_tokens WHERE id = '$id'"),
       '10.7.1.0/24 10.7.2.0/24', 'the token row has both groups');
};

done_testing;
