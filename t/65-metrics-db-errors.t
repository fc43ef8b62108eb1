# The database's metrics count each try of a statement, its PREPARE
# included, once: bbtoken_db_queries_total moves by one per try, with its
# time in the histogram, and bbtoken_db_errors_total{kind="query"} by one
# per try that failed, never more than the statements counted.  With the
# token lookup's table renamed under the server (BBTokenCache off, so
# every request asks), each request's lookup fails twice, preparing it or
# running it and then preparing it again (BBT073, then BBT072 or BBT074):
# each of those tries is one statement and one error.  And a pooled
# connection PostgreSQL dropped that cannot be connected again when a
# statement meets it (PostgreSQL stopped: BBT074 names libpq's reason)
# counts under kind="connection", as it does where the connection is
# taken: the request had none.  One child, so that the connection the
# lookup was prepared on, and the schema's version read on, is the one
# every request takes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env;
use BBT::Assert;
use BBT::Cache qw(log_mark log_since);

my $env = BBT::Env->new(
    mpm        => 'event',
    mpm_conf   => BBT::Util::one_child_mpm(4),
    modules    => ['authz_host'],
    extra_conf => <<'EOC',
BBTokenCache off
<Location /metrics>
    SetHandler bbtoken-metrics
    Require ip 127.0.0.1
</Location>
EOC
)->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok) = $env->token_create('alice', name => 'reader', perms => ['REPO_READ']);
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
my $get = sub { $ua->get($env->url($UP), { headers => { Authorization => "Bearer $tok" } }) };

my $QUERIES = 'bbtoken_db_queries_total';
my $QERR    = 'bbtoken_db_errors_total{kind="query"}';
my $CERR    = 'bbtoken_db_errors_total{kind="connection"}';
my $COUNT   = 'bbtoken_db_query_duration_seconds_count';

my $last_text;
sub scrape {
    my $r = $ua->get($env->url('/metrics'));
    is($r->{status}, 200, 'GET /metrics') or diag res_summary($r);
    $last_text = $r->{content} // '';
    my %v = map { /^(\S+) (\S+)$/ ? ($1 => $2) : () } grep { !/^#/ } split /\n/, $last_text;
    return \%v;
}

sub delta {
    my ($b, $a, $s) = @_;
    return ($a->{$s} // 0) - ($b->{$s} // 0);
}

# Requests are counted in their log phase, after the response: scrape
# until outcome="503" has moved by $n (a generous limit).
sub scrape_after_503 {
    my ($b, $n) = @_;
    my $a = scrape();
    for (1 .. 300) {
        last if delta($b, $a, 'bbtoken_requests_total{outcome="503"}') >= $n;
        select(undef, undef, undef, 0.1);
        $a = scrape();
    }
    return $a;
}

# The lookup prepared on the child's connection, the schema's version read.
is_ok_res($get->(), 'the token, before: 200') for 1 .. 2;

subtest 'the lookup\'s table renamed: each failed try one statement and one error' => sub {
    my $b = scrape();
    my $mark = log_mark($env);
    $env->psql('ALTER TABLE bbtoken_lookup RENAME TO bbtoken_lookup_x');
    is_503($get->(), "request $_: 503") for 1 .. 3;
    my $a = scrape_after_503($b, 3);
    is(delta($b, $a, 'bbtoken_requests_total{outcome="503"}'), 3, 'three 503s counted');
    # Each try that failed says so once: BBT073 (tried again), or the
    # last word, BBT072 (its PREPARE) or BBT074 (run).
    my @tries = grep { /BBT07[234]: .*token lookup/ } split /\n/, log_since($env, $mark);
    cmp_ok(scalar @tries, '>=', 6, 'two failed tries a request, at least') or diag join "\n", @tries;
    my ($q, $e) = (delta($b, $a, $QUERIES), delta($b, $a, $QERR));
    is($e, scalar @tries, "kind=\"query\": one error for each failed try ($e)");
    is($q, scalar @tries, "$QUERIES: each try counted, its PREPARE's too ($q)");
    cmp_ok($e, '<=', $q, 'never more errors than statements');
    is(delta($b, $a, $COUNT), $q, 'the histogram counted each');
    is(delta($b, $a, $CERR), 0, 'kind="connection": none, the connection was fine');
    $env->psql('ALTER TABLE bbtoken_lookup_x RENAME TO bbtoken_lookup');
    is_ok_res($get->(), 'the table back: 200');
};

subtest 'PostgreSQL stopped under a pooled connection: kind="connection" too' => sub {
    is_ok_res($get->(), 'the token: 200');
    my $b = scrape();
    my $mark = log_mark($env);
    $env->pg_stop;
    is_503($get->(), 'the token, PostgreSQL stopped: 503');
    my $a = scrape_after_503($b, 1);
    my $log = log_since($env, $mark);
    like($log, qr/BBT074: the token lookup failed: the connection PostgreSQL dropped could not be connected again/,
         'BBT074: the dropped connection could not be connected again') or diag $log;
    # Every way a request is left without a connection says so once.
    my @none = grep { /BBT07[01]: |BBT3[56]0: |could not be connected again/ } split /\n/, $log;
    is(delta($b, $a, $CERR), scalar @none, 'kind="connection": one for each request left without one')
        or diag join "\n", @none;
    cmp_ok(delta($b, $a, $QERR), '<=', delta($b, $a, $QUERIES), 'never more query errors than statements');
    $env->pg_start;
};

subtest 'the page passes promtool check metrics' => sub {
    plan skip_all => 'no promtool (build/deps.sh installs Debian\'s prometheus)'
        if system('command -v promtool >/dev/null') != 0;
    scrape();
    my $file = "$env->{dir}/scratch/metrics.txt";
    BBT::Env::spew($file, $last_text);
    my $out = qx{promtool check metrics < $file 2>&1};
    is($?, 0, 'promtool check metrics') or diag $out;
    is($out, '', 'no complaint') or diag $out;
};

is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
