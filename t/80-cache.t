# The token cache on one server: a repeated token is answered from memory
# (PostgreSQL counts no lookup for it), refusals are remembered too, so a
# flood of made-up tokens costs one lookup per distinct token; an expiry is
# honoured from memory to the second; memory stays within
# BBTokenCacheSize (old entries are pushed out, and then cost a lookup
# again); and last use is still written, once per interval.  A virtual
# host that reads another database is never answered from the cache.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use BBT::Env qw(forge_token mistype_token auth_bearer parse_token);
use BBT::Assert;
use BBT::Cache qw(lookup_calls log_mark log_since wait_log served_from_cache until_status settle);

my $env = BBT::Env->new(pg_conf => $BBT::Cache::PG_CONF, httpd => 0)->start;
# A virtual host on a port of its own, reading another database with the
# same schema.
my $port2 = BBT::Util::free_port();
$env->psql('CREATE DATABASE other', db => 'postgres');
$env->psql(undef, db => 'other', file => "$BBT::Env::ROOT/sql/schema.sql");
$env->psql(undef, db => 'other', file => "$BBT::Env::ROOT/sql/grants.sql", vars => ['role=bbtoken_httpd']);
$env->{extra_conf} = "BBTokenCacheSize 65536\nListen 127.0.0.1:$port2\n<VirtualHost 127.0.0.1:$port2>\n"
    . "    DBDParams \"host=127.0.0.1 port=" . $env->pg_port
    . " dbname=other user=bbtoken_httpd connect_timeout=2\"\n</VirtualHost>\n";
$env->write_cgi;
$env->httpd_start;
$env->stat_statements_on;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my ($tok, $id) = $env->token_create('alice', name => 'ci');

subtest 'BBTokenCache and BBTokenCacheSize are checked at startup' => sub {
    for my $bad ("BBTokenCacheSize 1000\n", "BBTokenCacheSize 8192\n", "BBTokenCacheSize 65535\n",
                 "BBTokenCacheSize 64k\n", "BBTokenCacheSize 67108864\n",
                 "BBTokenCacheSize\n", "<VirtualHost 127.0.0.1:1>\n    BBTokenCacheSize 65536\n</VirtualHost>\n",
                 "BBTokenCache maybe\n", "<Location /x>\n    BBTokenCache off\n</Location>\n") {
        my ($rc, $out) = $env->config_test($bad);
        (my $name = $bad) =~ s/\s+/ /g;
        ok($rc != 0 && $out =~ /BBTokenCache/, "refused: $name") or diag $out;
    }
    my ($rc, $out) = $env->config_test("BBTokenCacheSize 65535\n");
    like($out, qr/BBTokenCacheSize: '65535' is not a number of bytes from 65536 to 67108863/, '  saying the bounds');
    for my $good ("BBTokenCacheSize 65536\n", "BBTokenCacheSize 67108863\n", "BBTokenCache off\n",
                  "<VirtualHost 127.0.0.1:1>\n    BBTokenCache off\n</VirtualHost>\n") {
        my ($rc, $out) = $env->config_test($good);
        (my $name = $good) =~ s/\s+/ /g;
        is($rc, 0, "accepted: $name") or diag $out;
    }
};

subtest 'the error log says the cache and its listener are on' => sub {
    like($env->error_log_text, qr/BBT304: token cache on: 65536 bytes of shmcb/,
         'BBT304: on, with the size BBTokenCacheSize set');
    ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/),
       'BBT309: the listener hears PostgreSQL');
    unlike($env->error_log_text, qr/password|BBDC-/i, 'no secret in those lines');
};

subtest 'a repeated token is answered from the cache' => sub {
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'a 200 from the cache');
    my $before = lookup_calls($env);
    my $mark = log_mark($env);
    my $ok = grep { $env->get($UP, auth_bearer($tok))->{status} == 200 } 1 .. 20;
    is($ok, 20, '20 more requests, all 200');
    is(lookup_calls($env) - $before, 0, 'PostgreSQL ran no token lookup for them');
    my $hits = () = log_since($env, $mark) =~ /BBT037: token \Q$id\E .*\(from the cache\)/g;
    is($hits, 20, 'the module says each came from the cache');
    isnt($env->token_row($id)->{last_authenticated}, '', 'last use was written all the same');
    is_401($env->get($UP, { Authorization => $env->basic('bob', $tok) }), 1,
           'from the cache too, a Basic user name that is not the owner is refused');
    is_ok_res($env->get($UP, { Authorization => $env->basic('ALICE', $tok) }),
              'and the owner in another case is let in');
};

subtest 'a mistyped token: refused by its checksum, never from the cache nor a lookup' => sub {
    # The checksum is not checked again for a token the cache knows; a
    # mistyped one is never known to it, so it is checked every time.
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the real token is in the cache');
    my $typo = mistype_token($tok);
    my $before = lookup_calls($env);
    my $mark = log_mark($env);
    is_401($env->get($UP, auth_bearer($typo)), 1, "mistyped ($_): 401") for 1 .. 3;
    is(lookup_calls($env) - $before, 0, 'no lookup');
    my $log = log_since($env, $mark);
    my $n = () = $log =~ /BBT034: credentials refused: token checksum does not match/g;
    is($n, 3, 'each refused by its checksum (BBT034)');
    unlike($log, qr/BBT035: /, 'never as a token the database or the cache refused');
};

subtest 'a flood of made-up tokens costs one lookup per distinct token' => sub {
    my @forged = ((map { forge_token(sprintf '%012d', 900000000000 + $_) } 1 .. 60),   # unknown ids
                  (map { forge_token($id) } 1 .. 60));                                  # known id, wrong secret
    my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 20);
    my $before = lookup_calls($env);
    my ($n, $refused) = (0, 0);
    for my $round (1 .. 5) {
        for my $f (@forged) {
            $n++;
            $refused++ if $ua->get($env->url($UP), { headers => auth_bearer($f) })->{status} == 401;
        }
    }
    is($refused, $n, "all $n requests refused (401)");
    my $calls = lookup_calls($env) - $before;
    ok($calls <= @forged, "$calls lookups for " . scalar(@forged) . " distinct tokens sent $n times")
        or diag "PostgreSQL counted $calls lookups";
    my $mark = log_mark($env);
    is_401($env->get($UP, auth_bearer($forged[0])), 1, 'an unknown id again');
    is_401($env->get($UP, auth_bearer($forged[-1])), 1, 'a wrong secret again');
    my $log = log_since($env, $mark);
    like($log, qr/refused: unknown token \(from the cache\)/, 'refused from the cache: unknown token');
    like($log, qr/refused: wrong secret \(from the cache\)/, 'refused from the cache: wrong secret');
    is_ok_res($env->get($UP, auth_bearer($tok)), 'the real token still works');
};

subtest 'an expiry is honoured from the cache, to the second' => sub {
    my ($short, $sid) = $env->token_insert('alice', name => 'short', expires => "now() + interval '4 seconds'");
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($short), $sid), 'served from the cache before it expires');
    my $mark = log_mark($env);
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($short), 401);
    ok($ok, "refused once it expired ($tries requests)") or diag $seen;
    ok(time >= $env->psql("SELECT extract(epoch FROM expires_at) FROM bbtoken_tokens WHERE id = '$sid'"),
       'not before its expiry');
    my ($first) = log_since($env, $mark) =~ /^(.*BBT035: token \Q$sid\E refused.*)$/m;
    like($first // '', qr/refused: token expired \(from the cache\)/,
         'the first refusal came from the cache, from the expiry it holds: no notification was needed');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$sid' AND event = 'expired_refused'"),
       1, 'the refusal is audited (once per interval) from the cache as well');
    is_401($env->get($UP, auth_bearer($short)), 1, 'and stays refused');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$sid' AND event = 'expired_refused'"),
       1, 'still one audit record');
};

subtest 'memory stays within BBTokenCacheSize: old entries are pushed out' => sub {
    my @forged = map { forge_token(sprintf '%012d', 800000000000 + $_) } 1 .. 2000;
    my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 20);
    my $refused = grep { $ua->get($env->url($UP), { headers => auth_bearer($_) })->{status} == 401 } @forged;
    is($refused, scalar @forged, '2000 distinct made-up tokens, all refused');
    my $rss = sub {
        my $total = 0;
        for my $pid (split /\s+/, `pgrep -P $env->{httpd_pid}`) {
            open my $h, '<', "/proc/$pid/status" or next;
            while (<$h>) { $total += $1 if /^RssShmem:\s+(\d+)/ }
        }
        return $total;
    };
    my $shm = $rss->();
    my $before = lookup_calls($env);
    is_401($env->get($UP, auth_bearer($forged[-1])), 1, 'the newest again');
    is(lookup_calls($env) - $before, 0, 'the newest is still in the cache');
    $before = lookup_calls($env);
    is_401($env->get($UP, auth_bearer($forged[0])), 1, 'the oldest again');
    is(lookup_calls($env) - $before, 1, 'the oldest was pushed out: it costs a lookup again');
    my $more = grep {
        my $f = forge_token(sprintf '%012d', 810000000000 + $_);
        $ua->get($env->url($UP), { headers => auth_bearer($f) })->{status} == 401
    } 1 .. 2000;
    is($more, 2000, '2000 more');
    my $shm2 = $rss->();
    note "children's shared memory resident: $shm kB, then $shm2 kB";
    ok($shm2 <= $shm + 256, 'the shared memory the children touch did not grow with them');
};

subtest 'a virtual host with DBDParams of its own is never answered from the cache' => sub {
    my @other = ('--db', $env->superuser_conninfo('other'));
    $env->cli_raw(@other, 'user', 'add', 'olga');
    $env->cli_raw(@other, 'grant', 'olga', 'PROJECT_READ', 'PROJ');
    my ($rc, $tok2) = $env->cli_raw(@other, 'create', 'olga', '--name', 'other');
    chomp $tok2;
    my $id2 = parse_token($tok2)->{id};
    my $url = "http://127.0.0.1:$port2$UP";
    my $ua = HTTP::Tiny->new(timeout => 20);
    my $mark = log_mark($env);
    my $ok = grep { $ua->get($url, { headers => auth_bearer($tok2) })->{status} == 200 } 1 .. 10;
    is($ok, 10, 'its token, ten times: 200');
    is($ua->get($url, { headers => auth_bearer($tok) })->{status}, 401,
       "the main server's token is unknown there");
    my $log = log_since($env, $mark);
    like($log, qr/BBT306: virtual host .*reads another database/, 'BBT306 says the host is not cached');
    unlike($log, qr/BBT037: token \Q$id2\E .*\(from the cache\)/, 'never from the cache');
    # Its database notifies no listener: a cache there could never learn this.
    $env->cli_raw(@other, 'revoke', $id2);
    is($ua->get($url, { headers => auth_bearer($tok2) })->{status}, 401, 'revoked there: refused at once');
    is_ok_res($env->get($UP, auth_bearer($tok)), 'the main server still answers its own token');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
