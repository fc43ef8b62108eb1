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
use BBT::BigSite qw(big_site_fill log_plans scans_since);

my $env = rest_env(passwords => [alice => 'alice-Pa55-word'], users => ['alice'],
                   grants => [[alice => PROJECT_ADMIN => 'P7'], [alice => REPO_ADMIN => 'P8/r3']]);

# The filler (BBT::BigSite); P7 gets tokens too.
big_site_fill($env);

# From here on, every statement of the API role's new sessions leaves its
# plan in PostgreSQL's log.
log_plans($env, 'bbtoken_api');
$env->httpd_restart;

my $R = '/rest/access-tokens/1.0';
for my $case (["places", "$R/places"], ["a project's tokens", "$R/projects/P7"],
              ["a repository's tokens", "$R/projects/P7/repos/r7"]) {
    my ($what, $path) = @$case;
    my $from = length $env->pg_log_text;
    my $res = $env->rest(GET => $path, as => 'alice');
    is $res->{status}, 200, "$what: 200";
    my @scans = scans_since($env, $from);
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
    my @big = grep { $_->[0] eq 'bbtoken_tokens' } scans_since($env, $from);
    ok @big >= 2, 'a repository\'s token: the plans were logged (' . scalar(@big) . ' scans)';
    my @wide = grep { $_->[1] > 50 } @big;
    ok !@wide, "a repository's token: no scan of bbtoken_tokens reads more than 50 rows"
        or diag join "\n", map {"$_->[0]: $_->[1] rows"} @wide;
}

# The CLI's lists and revocations of a project's and a repository's
# tokens: the same rule over its own statements (as the superuser),
# whether it finds tokens, finds none of a holder the database knows
# (QUIET, by a grant), or finds nothing that names the holder (exit 1).
$env->user_add('quiet');
$env->grant('quiet', 'PROJECT_READ', 'QUIET');
log_plans($env, 'postgres');
for my $case ([0, 'list', '--project', 'P7'], [0, 'list', '--repo', 'P7/r7'], [1, 'revoke', '--repo', 'P7/r9'],
              [0, 'list', '--project', 'QUIET'], [0, 'revoke', '--project', 'QUIET'],
              [1, 'list', '--project', 'NOPE'], [1, 'list', '--repo', 'P7/r9']) {
    my ($want, @args) = @$case;
    my $args = \@args;
    my $from = length $env->pg_log_text;
    my ($rc, $out, $err) = $env->cli(@$args);
    is $rc, $want, "bbtoken @$args: exit $want" or diag $err;
    my @big = grep { $_->[0] eq 'bbtoken_tokens' } scans_since($env, $from);
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
