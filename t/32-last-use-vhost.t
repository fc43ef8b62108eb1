# BBTokenLastUseInterval may differ between virtual hosts, which share the
# cache's entries.  A throttled write one host could not make (a lock given
# up on, BBT085) is tried again a few seconds later by a host of another
# interval too: here it fails on a virtual host of 60 s and is made by a
# use on the main server, whose interval is an hour.  Kept as a write made
# an interval less the retry ago by the host that tried it, it read on the
# main server as a write made 55 s ago: the last use, or the new address
# group, was not written for an hour, and `bbtoken notify` could revoke as
# unused a token in use.  Once through the database's answer (the token's
# first use, its last use), once through the cache's (a new address group
# of a token the cache answers).  And each host judges by its own
# interval: a last use ten minutes old is written again by a use on the
# virtual host, not by one on the main server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use HTTP::Tiny;
use BBT::Env;
use BBT::Cache qw(log_mark log_since wait_log served_from_cache);

my $U = '/dumb/PROJ/repo.git/HEAD';
my $port2 = BBT::Util::free_port();
# One child, so that both hosts' requests meet in one child's view of the
# cache; the main server's interval is one no test waits out.
my $env = BBT::Env->new(
    mpm => 'event',
    modules => ['remoteip'],
    extra_conf => "$BBT::Env::DUMB_CONF\nRemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n"
        . "BBTokenLastUseInterval 3600\nLogLevel bbtoken:debug\n"
        . "Listen 127.0.0.1:$port2\n<VirtualHost 127.0.0.1:$port2>\n    BBTokenLastUseInterval 60\n</VirtualHost>\n",
    mpm_conf => BBT::Util::one_child_mpm(4))->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my %t;
for my $name (qw(warm idle roaming ten-main ten-vhost)) {
    my ($tok, $id) = $env->token_create('alice', name => $name);
    $t{$name} = { tok => $tok, id => $id };
}
$env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '9 days' WHERE id = '$t{idle}{id}'");
BBT::Cache::settle();

sub headers {
    my ($name, $from) = @_;
    my %h = (Authorization => "Bearer $t{$name}{tok}");
    $h{'X-Forwarded-For'} = $from if $from;
    return \%h;
}
sub use_main { $env->get($U, headers(@_))->{status} }
sub use_vhost {
    return HTTP::Tiny->new(timeout => 30, keep_alive => 0)
        ->get("http://127.0.0.1:$port2$U", { headers => headers(@_) })->{status};
}

# Use token $name on the main server (from $from) until $cond holds: 1, or
# 0 after a generous limit (far less than the main server's interval).
sub main_until {
    my ($name, $from, $cond) = @_;
    my $deadline = time + $BBT::Cache::LIMIT;
    while (time < $deadline) {
        use_main($name, $from);
        return 1 if $cond->();
        sleep 0.3;
    }
    return 0;
}

# Hold $table in $mode while $code runs: the writes to it give up their
# lock.
my $held = 0;
sub held {
    my ($table, $mode, $code) = @_;
    my $hold = $env->pg_session('hold' . ++$held);
    $hold->send("BEGIN; LOCK TABLE $table IN $mode MODE;");
    ok($hold->done, "$table held");
    $code->();
    $hold->send('ROLLBACK;');
    ok($hold->done, "$table released");
    $hold->finish;
}

ok(served_from_cache($env, $U, headers('warm'), $t{warm}{id}), 'the cache answers (its listener is up)');
# The child's first request for the virtual host asks the database (it
# learns there whether the host may use the cache); a later one is answered
# from the entries the main server keeps.
my ($shared, @st) = (0);
for (1 .. 10) {
    my $mark = log_mark($env);
    push @st, use_vhost('warm');
    my @l = BBT::Cache::wait_lines($env->error_log_path, $mark, qr/BBT03[57]: token \Q$t{warm}{id}\E /, 10);
    last if $shared = grep { /\(from the cache\)/ } @l;
    sleep 0.3;
}
is(scalar(grep { $_ != 200 } @st), 0, 'the virtual host answers the token');
ok($shared, 'from the cache the main server shares');

subtest 'each host its own interval' => sub {
    my $at = sub {
        $env->psql("SELECT last_authenticated > now() - interval '5 minutes' FROM bbtoken_tokens "
                   . "WHERE id = '$t{$_[0]}{id}'");
    };
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '10 minutes' "
               . "WHERE id IN ('$t{'ten-main'}{id}', '$t{'ten-vhost'}{id}')");
    is(use_main('ten-main'), 200, 'a token last used ten minutes ago, on the main server (an hour)');
    is($at->('ten-main'), 'f', '  its last use not written again');
    is(use_vhost('ten-vhost'), 200, 'another, on the virtual host (a minute)');
    my $deadline = time + $BBT::Cache::LIMIT;
    sleep 0.1 while time < $deadline && $at->('ten-vhost') ne 't';
    is($at->('ten-vhost'), 't', '  its last use written again');
};

subtest 'a last use given up on the virtual host is written by a use on the main server' => sub {
    held('bbtoken_tokens', 'SHARE ROW EXCLUSIVE', sub {
        my $mark = log_mark($env);
        is(use_vhost('idle'), 200, 'a use on the virtual host while bbtoken_tokens is held');
        ok(wait_log($env, $mark, qr/BBT085: recording last use: not made, a lock/), 'its last use given up (BBT085)')
            or diag log_since($env, $mark);
    });
    my $mark = log_mark($env);
    my $t0 = time;
    my $ok = main_until('idle', undef, sub {
        $env->psql("SELECT last_authenticated > now() - interval '1 hour' FROM bbtoken_tokens "
                   . "WHERE id = '$t{idle}{id}'") eq 't';
    });
    my $cached = () = log_since($env, $mark) =~ /BBT037: token \Q$t{idle}{id}\E .*\(from the cache\)/g;
    ok($ok, sprintf('uses on the main server write it, well within its interval (%.1f s, %d from the cache)',
                    time - $t0, $cached));
};

subtest 'a new address group given up on the virtual host is recorded by a use on the main server' => sub {
    my $nets = sub {
        $env->psql("SELECT count(*) FROM bbtoken_token_nets WHERE token_id = '$t{roaming}{id}' AND net = '$_[0]'");
    };
    ok(served_from_cache($env, $U, headers('roaming', '198.51.100.1'), $t{roaming}{id}),
       'a token used, answered from the cache');
    is($nets->('198.51.100.0/24'), 1, 'its first group recorded');
    held('bbtoken_token_nets', 'SHARE', sub {
        my $mark = log_mark($env);
        is(use_vhost('roaming', '203.0.113.5'), 200, 'a use on the virtual host from a new group');
        ok(wait_log($env, $mark, qr/BBT085: recording a new address group: not made, a lock/),
           'its record given up (BBT085)') or diag log_since($env, $mark);
    });
    is($nets->('203.0.113.0/24'), 0, 'the group is not recorded');
    my $t0 = time;
    ok(main_until('roaming', '203.0.113.5', sub { $nets->('203.0.113.0/24') == 1 }),
       sprintf('uses from it on the main server record it, well within its interval (%.1f s)', time - $t0));
};

done_testing;
