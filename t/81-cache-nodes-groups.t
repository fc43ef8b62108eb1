# Two httpd servers on one PostgreSQL, each with its cache on: an address
# group the database dropped (a token keeps its 16 most recent) is new
# again on both, not only on the server whose write dropped it.  A token
# used on B from a group, then on A from 16 newer ones, comes back to B
# from the first group: B records it again (a kept group, BBT601, a
# new_address record).  Before version 62 B's entry still listed the
# group, and B never wrote it: the token's return from an old network went
# unrecorded for as long as B's entry lived.  A control token used on A
# alone gets its group recorded again too.  Clients reach httpd through
# mod_remoteip (X-Forwarded-For from 127.0.0.1).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(settle served_from_cache wait_log log_mark log_since);

my $xff = "RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n";
my $a = BBT::Env->new(modules => ['remoteip'], extra_conf => $xff)->start;
my $b = BBT::Env->new(pg_from => $a, modules => ['remoteip'], extra_conf => $xff)->start;
$_->make_repo('PROJ', 'repo') for $a, $b;
$a->user_add('bob');
$a->grant('bob', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my ($tok, $id) = $a->token_create('bob', name => 'roams', perms => ['REPO_READ']);
my ($ctl, $cid) = $a->token_create('bob', name => 'control', perms => ['REPO_READ']);
settle();

sub use_from {
    my ($env, $t, $ip) = @_;
    return $env->get($UP, auth_bearer($t, { 'X-Forwarded-For' => $ip }))->{status};
}
sub kept {
    my ($tid, $net) = @_;
    return $a->psql("SELECT COALESCE(string_agg(host(first_addr), ','), 'none') FROM bbtoken_token_nets"
                    . " WHERE token_id = '$tid' AND net = '$net'");
}
# Requests of token $t from $ip on $env until its group $net is kept
# again: the address kept, or 'none' after the limit.  A server hears of
# the dropped group within the cache's bound, not at once.
sub until_kept {
    my ($env, $t, $tid, $ip, $net) = @_;
    my $deadline = time + $BBT::Cache::LIMIT;
    my $got = 'none';
    while (time < $deadline) {
        use_from($env, $t, $ip);
        last if ($got = kept($tid, $net)) ne 'none';
        sleep 0.2;
    }
    return $got;
}

my $G1 = '10.9.0.0/24';
subtest 'the first group: the token on B, the control on A' => sub {
    ok(served_from_cache($b, $UP, auth_bearer($tok, { 'X-Forwarded-For' => '10.9.0.1' }), $id),
       'B answers the token from its cache, its entry made with the group');
    is(use_from($a, $ctl, '10.9.0.1'), 200, 'A: the control, 200');
    is(kept($id, $G1), '10.9.0.1', 'the token\'s group kept');
    is(kept($cid, $G1), '10.9.0.1', 'the control\'s group kept');
};

subtest '16 newer groups, on A' => sub {
    for my $i (1 .. 16) {
        is(use_from($a, $_, "10.1.$i.1"), 200, "10.1.$i.1: 200") for $tok, $ctl;
    }
    is(kept($id, $G1), 'none', 'the token\'s first group dropped by the database');
    is(kept($cid, $G1), 'none', 'the control\'s too');
    is($a->psql("SELECT count(*) FROM bbtoken_token_nets WHERE token_id = '$id'"), 16, '  16 kept');
    # 17 new_address records of the hour: the return would be kept and
    # said, not audited (at most 16 an hour).  Deleted, so that it is.
    $a->psql("DELETE FROM bbtoken_audit WHERE event = 'new_address' AND token_id IN ('$id', '$cid')");
};
sub audited {
    my ($tid) = @_;
    return $a->psql("SELECT COALESCE(string_agg(detail || ' ' || host(client_addr), ','), 'none')"
                    . " FROM bbtoken_audit WHERE token_id = '$tid' AND event = 'new_address'");
}

subtest 'the first group comes back: recorded on B' => sub {
    my $m = log_mark($b);
    is(until_kept($b, $tok, $id, '10.9.0.2', $G1), '10.9.0.2', 'B: the group kept again, with the client');
    ok(wait_log($b, $m, qr/BBT601: token \Q$id\E used from a new address group \Q$G1\E \(client 10\.9\.0\.2\)/),
       'B: BBT601 names it') or diag log_since($b, $m);
    is(audited($id), "from $G1 10.9.0.2", 'audited as new_address from the group, with the client');
    is(use_from($b, $tok, '10.9.0.3'), 200, 'B: the token still 200');
};

subtest 'the control comes back on A: recorded' => sub {
    my $m = log_mark($a);
    is(until_kept($a, $ctl, $cid, '10.9.0.2', $G1), '10.9.0.2', 'A: the group kept again');
    ok(wait_log($a, $m, qr/BBT601: token \Q$cid\E used from a new address group \Q$G1\E/), 'A: BBT601');
    is(audited($cid), "from $G1 10.9.0.2", '  audited');
};

done_testing;
