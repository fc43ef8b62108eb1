# The access-tokens API on a site many times larger than what a caller
# owns: what a normal user's request reads must not grow with the site.
# A few thousand users, grants and tokens (most of them revoked, as a
# real site keeps them) fill the tables; then, as a user with one project
# grant, GET .../places, a project's and a repository's token list (and
# the CLI's list and revoke of a project's or a repository's tokens, and
# the policy's checks when a repository's token is created).  The
# API role's sessions log each statement's plan with the rows each scan
# returned and removed (auto_explain, log_analyze): no scan of
# bbtoken_users, bbtoken_repo_grants or bbtoken_tokens may read more than
# a few dozen rows, where the site has thousands.
#
# Why the plans are stable: ANALYZE runs after the load, and what each
# statement asks for is a thousandth of each table (one user of 2,000,
# one project of 1,000), so an index scan is cheaper than a pass over the
# table by two orders of magnitude; enable_seqscan is left alone.  Before
# schema 29 there was no index to take (the caller's exact name, a
# project's repository grants and tokens), and a project's list spelled
# its slug IS NOT DISTINCT FROM, which no index serves: each read every
# row of its table.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Rest qw(rest_env);

my $env = rest_env(passwords => [alice => 'alice-Pa55-word'], users => ['alice'],
                   grants => [[alice => PROJECT_ADMIN => 'P7'], [alice => REPO_ADMIN => 'P8/r3']]);

# The filler: 2,000 users; a project grant and a repository grant each,
# over 1,000 projects of 10 repositories; 6,000 tokens (personal, of
# projects, of repositories), four in five revoked.  P7 gets tokens too.
$env->psql(<<'EOS');
INSERT INTO bbtoken_users (name) SELECT 'filler' || i FROM generate_series(1, 2000) i;
INSERT INTO bbtoken_project_grants (user_id, project_key, permission)
SELECT id, 'P' || (id % 1000), 'PROJECT_READ' FROM bbtoken_users WHERE name LIKE 'filler%';
INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)
SELECT id, 'P' || ((id * 7) % 1000), 'r' || (id % 10), 'REPO_READ' FROM bbtoken_users WHERE name LIKE 'filler%';
INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash, expires_at,
                            project_key, repo_slug, revoked_at)
SELECT lpad((500000000000 + i)::text, 12, '0'),
       CASE WHEN i % 3 = 0 THEN (SELECT id FROM bbtoken_users WHERE name = 'filler' || (1 + i % 2000)) END,
       'filler ' || i, CASE WHEN i % 3 <> 2 THEN 'PROJECT_READ' END, 'REPO_READ',
       md5('s' || i), md5('h' || i) || md5('k' || i), now() + interval '30 days',
       CASE WHEN i % 3 <> 0 THEN 'P' || (i % 1000) END,
       CASE WHEN i % 3 = 2 THEN 'r' || (i % 10) END,
       CASE WHEN i % 5 <> 0 THEN now() END
  FROM generate_series(1, 6000) i;
ANALYZE;
EOS

# From here on, every statement of the API role's new sessions leaves its
# plan in PostgreSQL's log.
$env->psql("ALTER ROLE bbtoken_api SET session_preload_libraries = 'auto_explain'");
$env->psql("ALTER ROLE bbtoken_api SET auto_explain.$_") for
    'log_min_duration = 0', 'log_analyze = on', 'log_nested_statements = on', 'log_timing = off';
$env->httpd_restart;

# Each scan of one of the tables in the plans logged since $from: [table,
# rows read (returned and removed by its filter, times loops)].
sub scans_since {
    my ($from) = @_;
    my @lines = split /\n/, substr($env->pg_log_text, $from);
    my @scans;
    for my $i (0 .. $#lines) {
        next unless $lines[$i] =~ /\bScan (?:using \S+ )?on (bbtoken_\w+)\b.*\(actual rows=(\d+) loops=(\d+)\)/;
        my ($table, $rows, $loops) = ($1, $2, $3);
        for my $j ($i + 1 .. $#lines) {
            last if $lines[$j] =~ /->|^\S/;
            $rows += $1 if $lines[$j] =~ /Rows Removed by (?:Filter|Index Recheck): (\d+)/;
        }
        push @scans, [$table, $rows * $loops];
    }
    return @scans;
}

my $R = '/rest/access-tokens/1.0';
for my $case (["places", "$R/places"], ["a project's tokens", "$R/projects/P7"],
              ["a repository's tokens", "$R/projects/P7/repos/r7"]) {
    my ($what, $path) = @$case;
    my $from = length $env->pg_log_text;
    my $res = $env->rest(GET => $path, as => 'alice');
    is $res->{status}, 200, "$what: 200";
    my @scans = scans_since($from);
    my @big = grep { $_->[0] =~ /^bbtoken_(?:users|repo_grants|project_grants|tokens)$/ } @scans;
    ok @big >= 2, "$what: the plans were logged (" . scalar(@big) . " scans)";
    my @wide = grep { $_->[1] > 50 } @big;
    ok !@wide, "$what: no scan reads more than 50 rows"
        or diag join "\n", map {"$_->[0]: $_->[1] rows"} @wide;
}

# Creating a repository's token: the policy's trigger counts the holder's
# live tokens and looks for a clash of names among them, not among every
# project's and repository's token (0.7 ms a token on a site of 60,000
# such tokens where it took 34 ms before schema 29).
{
    my $from = length $env->pg_log_text;
    my $res = $env->rest(PUT => "$R/projects/P7/repos/r7", as => 'alice',
                         json => { name => 'ci', permissions => ['REPO_READ'], expiryDays => 30 });
    is $res->{status}, 200, "a repository's token: created";
    my @big = grep { $_->[0] eq 'bbtoken_tokens' } scans_since($from);
    ok @big >= 2, 'a repository\'s token: the plans were logged (' . scalar(@big) . ' scans)';
    my @wide = grep { $_->[1] > 50 } @big;
    ok !@wide, "a repository's token: no scan of bbtoken_tokens reads more than 50 rows"
        or diag join "\n", map {"$_->[0]: $_->[1] rows"} @wide;
}

# The CLI's lists and revocations of a project's and a repository's
# tokens: the same rule over its own statements (as the superuser).
$env->psql("ALTER ROLE postgres SET session_preload_libraries = 'auto_explain'");
$env->psql("ALTER ROLE postgres SET auto_explain.$_") for
    'log_min_duration = 0', 'log_analyze = on', 'log_nested_statements = on', 'log_timing = off';
for my $args (['list', '--project', 'P7'], ['list', '--repo', 'P7/r7'], ['revoke', '--repo', 'P7/r9']) {
    my $from = length $env->pg_log_text;
    my ($rc, $out, $err) = $env->cli(@$args);
    is $rc, 0, "bbtoken @$args: exit 0" or diag $err;
    my @big = grep { $_->[0] eq 'bbtoken_tokens' } scans_since($from);
    ok @big >= 1, "bbtoken @$args: the plans were logged";
    my @wide = grep { $_->[1] > 50 } @big;
    ok !@wide, "bbtoken @$args: no scan of bbtoken_tokens reads more than 50 rows"
        or diag join "\n", map {"$_->[0]: $_->[1] rows"} @wide;
}

# What alice's list holds: her project first, then repositories, the
# filler's as well as the grant's (the indexes changed no answer).
my $res = $env->rest(GET => "$R/places?limit=100", as => 'alice');
my @places = map { $_->{project} ? $_->{project}{key} : "$_->{repository}{project}{key}/$_->{repository}{slug}" }
             @{ $res->{json}{values} || [] };
my $want = $env->psql("SELECT string_agg(k, ' ' ORDER BY k COLLATE \"C\") FROM"
                      . " (SELECT project_key || '/' || repo_slug FROM bbtoken_repo_grants WHERE project_key = 'P7'"
                      . " UNION SELECT project_key || '/' || repo_slug FROM bbtoken_tokens"
                      . " WHERE project_key = 'P7' AND repo_slug IS NOT NULL) s (k)");
is "@places", "~alice P7 $want P8/r3", 'places: her personal project, P7, every repository known in P7, and P8/r3';

done_testing;
