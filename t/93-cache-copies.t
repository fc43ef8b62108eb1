# Each thread's copies of the cache's entries (mod_bbtoken/bbt_centry.h,
# bbt_cnear_get): a request answered from them takes no lock, and they are
# believed by the shared entries' rule, so a change reaches every thread
# at once; what a copy may lag on (the record of throttled writes) is
# checked against the shared entry before anything is written.  And a
# write that fails is not remembered as made.  Real PostgreSQL, httpd
# (event MPM, two children of 32 threads) and ab's concurrent connections;
# pg_stat_statements counts the statements.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(time);
use BBT::Env qw(auth_bearer run_cmd);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since served_from_cache until_status settle);

my $port_nc = BBT::Util::free_port();
my $env = BBT::Env->new(
    pg_conf    => $BBT::Cache::PG_CONF,
    mpm_conf   => "StartServers 2\nServerLimit 2\nThreadsPerChild 32\nThreadLimit 32\nMaxRequestWorkers 64\n",
    extra_conf => "BBTokenLastUseInterval 2\nListen 127.0.0.1:$port_nc\n"
                . "<VirtualHost 127.0.0.1:$port_nc>\n    BBTokenCache off\n</VirtualHost>\n"
                # A repository's files served by httpd itself: requests
                # that cost little but the module's work.
                . $BBT::Env::DUMB_CONF,
)->start;
$env->stat_statements_on;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

sub create {
    my ($name) = @_;
    my $out = $env->cli_ok('create', 'alice', '--name', $name);
    chomp $out;
    my $p = BBT::Env::parse_token($out) or die "no token printed: $out";
    return ($out, $p->{id});
}

# $n requests for $path, $c at once (ab; kept-alive unless $c is 1, so
# that each request is a new connection, handed to whichever thread is
# free): (completed, non-2xx).
sub flood {
    my ($tok, $n, $c, $path) = @_;
    my ($rc, $out, $err) = run_cmd(cmd => ['ab', '-q', ($c > 1 ? '-k' : ()), '-n', $n, '-c', $c,
                                           '-H', "Authorization: Bearer $tok", $env->url($path || $UP)]);
    die "ab failed: $err$out" if $rc;
    my ($done) = $out =~ /Complete requests:\s+(\d+)/;
    my ($bad) = $out =~ /Non-2xx responses:\s+(\d+)/;
    return ($done // 0, $bad // 0);
}

subtest 'a revoked token is refused by every thread at once' => sub {
    my ($tok, $id) = create('many threads');
    my $file = '/dumb/PROJ/repo.git/HEAD';
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'answered from the cache');
    # Every thread of both children serves it, and keeps its copies: the
    # same token's and the same repository's as git's requests, on a file
    # httpd serves itself (4000 of git-http-backend's take minutes on a
    # slow machine, and prove nothing more).
    my ($done, $bad) = flood($tok, 4000, 16, $file);
    is($done, 4000, '4000 requests');
    is($bad, 0, 'all 200');
    $env->psql("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id'");
    my ($ok) = until_status($env, $UP, auth_bearer($tok), 401);
    ok($ok, 'refused');
    ($done, $bad) = flood($tok, 4000, 16, $file);
    is($done, 4000, '4000 requests more');
    is($bad, 4000, 'every one refused: no thread answered from its copy');
};

subtest 'last use: a copy behind the shared entry writes nothing' => sub {
    my ($tok, $id) = create('last use');
    my $file = '/dumb/PROJ/repo.git/HEAD';
    ok(served_from_cache($env, $file, auth_bearer($tok), $id), 'answered from the cache');
    # Every thread of both children serves it and keeps its copies; then
    # the copies grow older than the interval (2 s), and each says last
    # use is due.  One request at a time, each on a new connection, goes
    # to thread after thread: the first writes, and every other finds in
    # the shared entry that it was written.  Without that check each
    # thread would write.
    my ($done, $bad) = flood($tok, 6400, 64, $file);
    is($bad, 0, "$done requests from 64 connections, all 200");
    sleep 3;
    my $before = $env->statement_calls('bbtoken_touch');
    my $t0 = time;
    ($done, $bad) = flood($tok, 1000, 1, $file);
    my $secs = time - $t0;
    is($bad, 0, "$done requests one at a time, all 200");
    my $calls = $env->statement_calls('bbtoken_touch') - $before;
    cmp_ok($calls, '<=', int($secs / 2) + 2,
           sprintf('%d writes in %.1f s: at most one per interval', $calls, $secs));
    cmp_ok($calls, '>=', 1, 'and at least one');
    my $last = $env->psql("SELECT extract(epoch FROM last_authenticated)::bigint FROM bbtoken_tokens WHERE id = '$id'");
    cmp_ok($last, '>=', int($t0), 'last use recorded');
};

# A new address group's record cannot be written (httpd's role may not
# call the function): the request is served, the failure logged, and the
# group is not remembered, so the next request from it writes the record.
sub address_group_retried {
    my ($nocache) = @_;
    my ($tok, $id) = create($nocache ? 'group, no cache' : 'group, cache');
    my $url = ($nocache ? "http://127.0.0.1:$port_nc" : $env->base_url) . $UP;
    my $from = sub {
        HTTP::Tiny->new(timeout => 30, local_address => $_[0])->get($url, { headers => auth_bearer($tok) })->{status};
    };
    is($from->('127.0.0.1'), 200, 'from 127.0.0.1: 200');
    ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'answered from the cache') unless $nocache;
    my $events = sub {
        $env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$id' AND event = 'new_address'"
                   . " AND detail = 'from 127.0.7.0/24'");
    };
    $env->psql('REVOKE EXECUTE ON FUNCTION bbtoken_note_net(text, text, text) FROM bbtoken_httpd, PUBLIC');
    my $m = log_mark($env);
    my $t0 = time;
    is($from->('127.0.7.1'), 200, 'from 127.0.7.1 while the record cannot be written: 200');
    like(log_since($env, $m), qr/BBT602: /, 'the failed write is logged (BBT602)');
    unless ($nocache) {
        # The cache's entry remembers the failure: the group is tried
        # again once per interval (2 s here), not by every request.
        is($from->('127.0.7.3'), 200, "from 127.0.7.3: 200") for 1 .. 10;
        my $secs = time - $t0;
        # Counted among the requests the cache answered (BBT037 says so,
        # with the client's port): one that found the listener's
        # heartbeat late went to the database, which tries each time.
        my $log = log_since($env, $m);
        my %cached = map { $_ => 1 } $log =~ /\[client 127\.0\.7\.\d+:(\d+)\] BBT037: .*\(from the cache\)/g;
        my $tries = grep { $cached{$_} } $log =~ /\[client 127\.0\.7\.\d+:(\d+)\] BBT602: /g;
        cmp_ok(scalar(keys %cached), '>=', 5, 'most of them answered from the cache');
        cmp_ok($tries, '<=', int($secs / 2) + 1,
               sprintf('%d tries in %.1f s: at most one per interval', $tries, $secs));
    }
    is($events->(), 0, 'no record');
    $env->psql('GRANT EXECUTE ON FUNCTION bbtoken_note_net(text, text, text) TO bbtoken_httpd');
    # Tried again (at once without the cache, after the interval with it).
    my $deadline = time + 30;
    my @st;
    do { push @st, $from->('127.0.7.2') } until $events->() || time > $deadline;
    is_deeply([grep { $_ != 200 } @st], [], 'from 127.0.7.2, the same group: 200 each time');
    is($events->(), 1, 'now recorded: the group was not remembered as written');
    is($env->psql("SELECT count(*) FROM bbtoken_token_nets WHERE token_id = '$id' AND net = '127.0.7.0/24'"), 1,
       'and kept');
}

subtest 'a failed address-group write is tried again (cache)' => sub { address_group_retried(0) };
subtest 'a failed address-group write is tried again (BBTokenCache off)' => sub { address_group_retried(1) };

done_testing;
