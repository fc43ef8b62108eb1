# Every BBTokenCacheSize the module accepts keeps its largest entries in
# the shared cache.  shmcb cuts each of the cache's four segments into
# subcaches by the object size the module tells it, and an entry must fit
# in one: told an average entry's size, shmcb made subcaches too small for a
# token with a long owner name, a long name, a full allow-list and many
# address groups at the smallest sizes (65536 to 124255 bytes) and where it
# goes from 8 subcaches to 16 (164192 to 248159 bytes).  Such an entry was
# never kept (shmcb's AH00844, "inserting socache entry larger than
# subcache data area", and AH00833, on each try), so every child's first
# request with that token read the database.  Here a token entry of over
# 2,100 bytes is used on one prefork child and then by another, which must
# find it in the shared cache, at a size in each of those ranges
# (t/unit/test_chint.c checks every size against shmcb's arithmetic).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer);
use BBT::Assert ();
use BBT::Cache qw(wait_log wait_lines log_mark log_since settle);

# Three children, no more and no fewer; a kept-alive connection holds its
# child until it closes, so two connections are two children.
my $MPM = "StartServers 3\nMinSpareServers 3\nMaxSpareServers 3\nServerLimit 3\n"
        . "MaxRequestWorkers 3\nKeepAlive On\nKeepAliveTimeout 300\nMaxKeepAliveRequests 0\n";
my $LOGS = "LogFormat \"%P %>s %U\" pids\nCustomLog \"\@DIR\@/logs/pid_log\" pids\n"
         . "BBTokenLastUseInterval 86400\n";
my $env = BBT::Env->new(mpm => 'prefork', mpm_conf => $MPM, httpd => 0)->start;
$env->make_repo('PROJ', 'repo');
my $user = 'u' x 255;
$env->user_add($user);
$env->grant($user, 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create($user, name => 'big');
# The longest name (255 characters of four bytes each), sixteen networks
# whose text is as long as PostgreSQL writes it (the test's own address
# among them), and sixteen address groups, the client's among them, so no
# request records a new one and changes the entry.
my @nets = map { sprintf 'abcd:ef01:2345:6789:abcd:ef01:2345:%04x/128', 0x1000 + $_ } 1 .. 15;
push @nets, '127.0.0.0/8';
$env->psql("UPDATE bbtoken_tokens SET name = repeat(chr(131072), 255), "
           . "allowed_nets = '{" . join(',', @nets) . "}' WHERE id = '$id'");
for my $i (1 .. 15) {
    $env->psql("INSERT INTO bbtoken_token_nets (token_id, net, first_seen) "
               . "VALUES ('$id', '10.$i.0.0/24', now() - interval '$i days')");
}
$env->psql("INSERT INTO bbtoken_token_nets (token_id, net) VALUES ('$id', '127.0.0.0/24')");
# Its encoded size (bbt_centry_encode): 90 bytes and its strings, 9 a group.
my $bytes = $env->psql("SELECT 90 + octet_length(u.name) + octet_length(t.name) "
                       . "+ octet_length(array_to_string(t.allowed_nets, ' ')) + cardinality(t.seen_nets) * 9 "
                       . "FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id WHERE t.id = '$id'");
cmp_ok($bytes, '>', 2100, "the token's entry is over 2,100 bytes ($bytes)");
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

my $PIDS = "$env->{dir}/logs/pid_log";

# The child that served the first request after $mark of the pid log (its
# line may come a moment after the answer).
sub served_by {
    my ($mark) = @_;
    my ($line) = wait_lines($PIDS, $mark, sub { @_ >= 1 });
    return $line ? (split / /, $line)[0] : undef;
}

for my $size (65536, 172032) {
    subtest "BBTokenCacheSize $size: the largest entry is kept in the shared cache" => sub {
        my $start = log_mark($env);
        $env->httpd_restart(extra_conf => "BBTokenCacheSize $size\n$LOGS");
        like(log_since($env, $start), qr/BBT304: token cache on: \Q$size\E bytes/, 'BBT304: on, at that size');
        ok(wait_log($env, $start, qr/BBT309: /), 'the listener hears PostgreSQL');
        settle();
        my $mark = log_mark($env);
        my ($one, $two) = map { HTTP::Tiny->new(keep_alive => 1, timeout => 20) } 1 .. 2;
        # The first child looks the token up and keeps its entry; once it
        # answers from the cache, the entry was made while the cache was
        # believed (its own copy, at least).
        my $first = BBT::Assert::log_mark($PIDS);
        my ($cached, $sent) = (0, 0);
        for (1 .. 40) {
            $sent++;
            my $m = log_mark($env);
            my $r = $one->get($env->url($UP), { headers => auth_bearer($tok) });
            is($r->{status}, 200, 'connection 1: 200') or last;
            if (log_since($env, $m) =~ /BBT037: token \Q$id\E [^\n]*\(from the cache\)/) {
                $cached = 1;
                last;
            }
            sleep 1;
        }
        ok($cached, 'connection 1 is answered from the cache');
        # Its requests' lines in the pid log first, then connection 2's.
        my @one = wait_lines($PIDS, $first, sub { @_ >= $sent });
        my $m2 = log_mark($env);
        my $from = BBT::Assert::log_mark($PIDS);
        is($two->get($env->url($UP), { headers => auth_bearer($tok) })->{status}, 200,
           'connection 2: 200');
        my ($p1, $p2) = ((split / /, $one[0] // '')[0], served_by($from));
        ok(defined $p1 && defined $p2 && $p1 != $p2, 'the two connections are two children')
            or diag "pids: " . ($p1 // '?') . ', ' . ($p2 // '?') . "\n" . join("\n", BBT::Assert::log_lines_since($PIDS, $first));
        like(log_since($env, $m2), qr/BBT037: token \Q$id\E [^\n]*\(from the cache\)/,
             "the other child's first request is answered from the shared cache");
        my $log = log_since($env, $mark);
        unlike($log, qr/AH00844|AH00833/, 'shmcb stored the entry: no AH00844, no AH00833')
            or diag join "\n", grep { /AH008/ } split /\n/, $log;
    };
}

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
$env->httpd_stop;
done_testing;
