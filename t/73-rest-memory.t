# The largest answers the access-tokens API makes, many at once, leave one
# httpd child's memory bounded: a page is at most 1000 tokens (a larger
# limit is 1000), and what a request builds (the rows, the JSON, the answer
# held until the connection is given back) is freed when it is written.
# 1500 tokens of one user, each as long as it may be (a name of 255 4-byte
# characters, 16 IPv6 networks, five last addresses) under a display name
# of 255 4-byte characters and a 254-byte e-mail address, as rows restored
# from elsewhere are (triggers off); the list and the inventory at the
# largest limit, 16 at a time, ten times over.  Every answer is whole; the
# child's resident size after the last round is within 96 MB of what it
# was after the second (malloc's arenas keep some of what was freed; a
# leak of one answer a request would be some 300 MB), and its peak within
# a generous bound.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX ();
use BBT::Assert;
use BBT::Util qw(slurp);
use BBT::Rest qw(rest_env);

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my $one_child = BBT::Util::one_child_mpm(16);
my $pw = 'alice-Pa55-word';
my $env = rest_env(login => 'bbtoken', env => { mpm_conf => $one_child }, passwords => [alice => $pw, root => $pw],
                   users => ['alice', [root => '--admin']]);
$env->psql("UPDATE bbtoken_users SET display_name = repeat(chr(128512), 255),"
           . " email = repeat('e', 242) || '\@example.org' WHERE name = 'alice'");
my $nets = join(',', map {"'2001:db8:$_\::/64'"} 1 .. 16);
my $addrs = join(',', map {"'2001:db8:ffff:ffff:ffff:ffff:ffff:fff$_'"} 1 .. 5);
$env->psql("SET session_replication_role = replica; INSERT INTO bbtoken_tokens (id, user_id, name, project_perm,"
           . " repo_perm, salt, secret_hash, allowed_nets, last_authenticated, last_addresses)"
           . " SELECT lpad((500000000000 + n)::text, 12, '0'), u.id, lpad(n::text, 5, '0') || repeat(chr(128512), 250),"
           . " 'PROJECT_READ', 'REPO_READ', substr(md5(n::text), 1, 32), md5(n::text) || md5(n::text || 'x'),"
           . " ARRAY[$nets]::cidr[], now(), ARRAY[$addrs]::inet[]"
           . " FROM bbtoken_users u, generate_series(1, 1500) n WHERE u.name = 'alice'");

my %CALL = (list => ['/rest/access-tokens/1.0/users/alice?limit=999999999', 'alice'],
            inventory => ['/rest/access-tokens/1.0/inventory?owner=alice&limit=999999999', 'root']);

# One call: (status, how many values, whether it says more follow, bytes).
sub call {
    my ($what) = @_;
    my ($path, $who) = @{ $CALL{$what} };
    my $res = HTTP::Tiny->new(timeout => 60)->get($env->url($path),
                                                  { headers => { Authorization => $env->basic($who, $pw) } });
    my $body = $res->{content} // '';
    # Counted, not decoded: JSON::PP takes seconds over a few megabytes.
    # Each token has one string id of 12 digits (a user's id is a number).
    my $n = () = $body =~ /"id":"\d{12}"/g;
    $n = -1 unless $body =~ /\A\{.*\}\z/s;
    my $more = $body =~ /"isLastPage":false/ ? 1 : 0;
    return ($res->{status}, $n, $more, length $body);
}

# The one child that serves (threaded: mod_cgid's daemon is a child too),
# and its resident size and peak, in kB.
sub child_mem {
    my $parent = slurp($env->dir . '/run/httpd.pid');
    chomp $parent;
    my @kids;
    for my $stat (glob('/proc/[0-9]*/stat')) {
        my $s = eval { slurp($stat) } // next;
        my ($kid, $ppid) = $s =~ /^(\d+) \(.*\) \S+ (\d+)/s or next;
        next unless $ppid == $parent;
        my %m = (eval { slurp("/proc/$kid/status") } // '') =~ /^(VmRSS|VmHWM|Threads):\s+(\d+)/mg;
        push @kids, [$kid, $m{VmRSS}, $m{VmHWM}] if ($m{Threads} // 0) > 1;
    }
    return @kids == 1 ? @{ $kids[0] } : (undef);
}

for my $what (sort keys %CALL) {
    my ($status, $n, $more, $bytes) = call($what);
    is($status, 200, "$what at the largest limit: 200");
    is($n, 1000, "  1000 tokens, however many were asked for");
    is($more, 1, '  and more follow');
    note "$what: $bytes bytes";
    cmp_ok($bytes, '<', 4_000_000, "  under 4 MB ($bytes bytes)");
}
my ($pid, $base) = child_mem();
ok($pid, "one child ($base kB)");

my @after;
for my $round (1 .. 10) {
    my @kids;
    for my $i (1 .. 16) {
        my $what = $i % 2 ? 'list' : 'inventory';
        my $k = fork // die "fork: $!";
        if (!$k) {
            my ($status, $n) = call($what);
            POSIX::_exit($status == 200 && $n == 1000 ? 0 : 1);
        }
        push @kids, $k;
    }
    my $whole = 0;
    for (@kids) { waitpid($_, 0); $whole++ if $? == 0 }
    is($whole, 16, "round $round: 16 whole answers at once");
    my ($p, $rss, $hwm) = child_mem();
    is($p, $pid, '  from the same child');
    note "round $round: $rss kB resident, $hwm kB at most";
    push @after, [$rss, $hwm];
}
my $growth = $after[-1][0] - $after[1][0];
cmp_ok($growth, '<', 96 * 1024, "the child grew by $growth kB from the second round to the last: under 96 MB");
cmp_ok($after[-1][1], '<', $base + 512 * 1024, "its peak, $after[-1][1] kB, is within 512 MB of the start");

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
