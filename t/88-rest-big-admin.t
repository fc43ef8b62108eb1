# The admin's lists over REST on a site many times larger than a page:
# the inventory (every live token) and GET .../places (every project and
# repository the database knows of).  A page of either must read about
# what the page needs, the entries of start + limit places or tokens, not
# build and sort the whole list: the first page and one half-way, from
# the plans PostgreSQL logs (auto_explain, log_analyze, as
# t/88-rest-big-site.t reads them): no scan of tokens, grants or projects
# reads more than start + limit rows and a few, where the tables hold
# 2,000 to 6,000.  Past the end, a page is empty and quick, never a 503.
# The answers are the lists' own order, checked against it spelled as
# one sort over everything.  On a schema older than 31, without the
# indexes the walk probes, the places are built whole instead.
#
# Why the plans are stable: each half of the inventory is read through an
# index in the list's order (schema 31), cut at start + limit by a query
# whose value the planner does not see, so the plan does not change with
# start; the places are walked one at a time, each the least next of its
# sources by an index probe (min, or ORDER BY ... LIMIT 1), which no size
# of table makes a sort.  Before schema 31 each
# page read every token, grant and project (a sort, or a hash of them).
#
# What is not bounded by the page: the inventory finds a user's live
# tokens user by user in name order, so it may walk users that have none
# (every user, once the page is past the users' tokens); that reads
# users, not tokens, and is not checked here.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Rest qw(rest_env);
use BBT::BigSite qw(big_site_fill log_plans scans_since admin_places_sql place_text);

my $env = rest_env(passwords => [root => 'root-Pa55-word'], users => [[root => '--admin']]);

# The filler (BBT::BigSite).  Half the projects have settings; the admin's
# own personal project has a repository token.
big_site_fill($env, <<'EOS');
INSERT INTO bbtoken_projects (project_key) SELECT 'P' || (2 * i) FROM generate_series(0, 499) i;
INSERT INTO bbtoken_tokens (id, user_id, name, repo_perm, salt, secret_hash, expires_at, project_key, repo_slug)
VALUES ('599999999999', NULL, 'mine', 'REPO_READ', md5('m'), md5('m') || md5('n'), now() + interval '30 days',
        '~root', 'own');
EOS
log_plans($env, 'bbtoken_api');
$env->httpd_restart;

# The lists in their order, as one sort over everything.
my $INVENTORY = "SELECT t.id FROM bbtoken_tokens t LEFT JOIN bbtoken_users u ON u.id = t.user_id"
    . " WHERE t.revoked_at IS NULL"
    . " ORDER BY COALESCE(u.name, bbtoken_scope_name(t.project_key, t.repo_slug)), t.created_at, t.id";
my $PLACES = admin_places_sql('root');
my $live = $env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL");
my $places = $env->psql("SELECT count(*) FROM ($PLACES) a");
cmp_ok $live, '>', 1000, "the inventory: $live live tokens";
cmp_ok $places, '>', 2000, "places: $places";

my $R = '/rest/access-tokens/1.0';
for my $case (['the inventory', 'inventory', $INVENTORY, sub { $_[0]{id} }, 0, int($live / 2)],
              ['places', 'places', $PLACES,
               \&place_text,
               0, int($places / 2)]) {
    my ($what, $path, $sql, $name, @starts) = @$case;
    for my $start (@starts) {
        my $from = length $env->pg_log_text;
        my $res = $env->rest(GET => "$R/$path?start=$start&limit=25", as => 'root');
        is $res->{status}, 200, "$what from $start: 200";
        my $json = $res->{json} || {};
        my $want = $env->psql("SELECT string_agg(x, ' ') FROM ($sql LIMIT 26 OFFSET $start) a (x)");
        my @want = split / /, $want;
        my $more = @want > 25;
        splice @want, 25;
        is join(' ', map { $name->($_) } @{ $json->{values} || [] }), "@want",
            "$what from $start: the list's own order";
        ok !$json->{isLastPage} && $json->{nextPageStart} == $start + 25, "$what from $start: the next page"
            if $more;
        my @scans = grep { $_->[0] =~ /^bbtoken_(?:repo_grants|project_grants|projects|tokens)$/ }
                    scans_since($env, $from);
        ok @scans >= 2, "$what from $start: the plans were logged (" . scalar(@scans) . ' scans)';
        my $bound = $start + 26 + 50;
        my @wide = grep { $_->[1] > $bound } @scans;
        ok !@wide, "$what from $start: no scan of tokens, grants or projects reads more than $bound rows"
            or diag join "\n", map {"$_->[0]: $_->[1] rows"} @wide;
    }
    my $res = $env->rest(GET => "$R/$path?start=1000000", as => 'root');
    is $res->{status}, 200, "$what past the end: 200";
    ok $res->{json} && $res->{json}{isLastPage} && $res->{json}{size} == 0, "$what past the end: an empty last page";
}

# On a schema older than 31 (the module serves from version 27 on), the
# indexes the places' walk probes are not there: each step of it would
# read whole tables, and a page thousands of them (minutes on a big site).
# There a global admin's page is the one statement of every caller, which
# reads each table a few times over, whatever the page.
$env->psql("DROP INDEX bbtoken_project_grants_key_c, bbtoken_repo_grants_place_c, bbtoken_projects_key_c,"
           . " bbtoken_tokens_project_c, bbtoken_tokens_repo_c; UPDATE bbtoken_schema SET version = 30");
my $tokens = $env->psql("SELECT count(*) FROM bbtoken_tokens");
for my $start (0, int($places / 2)) {
    my $from = length $env->pg_log_text;
    my $res = $env->rest(GET => "$R/places?start=$start&limit=25", as => 'root');
    my $want = $env->psql("SELECT string_agg(x, ' ') FROM ($PLACES LIMIT 25 OFFSET $start) a (x)");
    is join(' ', map { place_text($_) } @{ ($res->{json} || {})->{values} || [] }), $want,
        "schema 30, places from $start: the list's own order";
    my @scans = grep { $_->[0] eq 'bbtoken_tokens' } scans_since($env, $from);
    my $read = 0;
    $read += $_->[1] for @scans;
    ok @scans && $read <= 3 * $tokens, "schema 30, places from $start: tokens read $read times, at most 3 x $tokens";
}

done_testing;
