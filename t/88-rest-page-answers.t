# The admin's paged lists over REST give, page by page, exactly the list
# as it is read whole: the inventory (GET .../inventory) against
# `bbtoken list --all --json` (the CLI reads the list in one sorted
# statement, not by the page's two halves), with every filter and some
# pairs of them; and a global admin's places (GET .../places) against the
# list spelled as one sort over everything.  Each page at the boundaries
# (start 0, 1, half-way, the end minus two and one, the end, past it) for
# limits 1, 2, 5 and the most: its values, isLastPage and nextPageStart.
# The rows are made to tie: tokens of one holder created at one instant
# (the id decides), user names that sort among the projects' and
# repositories' holder names, a user's, a project's and a repository's
# tokens on one key.  Past 10,000 places, where a page first counts the
# rows that can name a place, a page that holds places still shows them.
# Hostile paging arguments are a 400 on both lists, and so is the
# inventory's minPermission=REPO_CREATE, a level no token holds.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Rest qw(rest_env);
use BBT::BigSite qw(admin_places_sql place_text);

my $env = rest_env(passwords => [root => 'root-Pa55-word'], users => [[root => '--admin']]);

# Users whose names sort among 'project:...' and 'repo:...' (':' is
# between '.' and '@'); a project grant, a repository grant; live,
# revoked, expired, used and never used tokens of users, projects
# (personal ones too) and repositories, a few per instant of creation.
$env->psql(<<'EOS');
INSERT INTO bbtoken_users (name) VALUES ('alice'), ('Bob'), ('project'), ('project.a'), ('project@z'),
    ('repo'), ('repo-x'), ('zed');
INSERT INTO bbtoken_project_grants (user_id, project_key, permission)
SELECT id, 'P1', 'PROJECT_ADMIN' FROM bbtoken_users WHERE name = 'alice';
INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)
SELECT id, 'P2', 'r', 'REPO_READ' FROM bbtoken_users WHERE name = 'Bob'
UNION ALL SELECT u.id, k, s, 'REPO_ADMIN' FROM bbtoken_users u,
       (VALUES ('P1', 'A'), ('P1', 'a.b'), ('P3', 'z'), ('~root', 'Y'), ('~zed', 'w')) g (k, s)
 WHERE u.name = 'zed';
INSERT INTO bbtoken_projects (project_key) VALUES ('P1'), ('S');
SET session_replication_role = replica;
INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash, created_at,
                            expires_at, last_authenticated, revoked_at, project_key, repo_slug)
SELECT lpad((700000000000 + (i * 7919) % 100000)::text, 12, '0'),
       CASE WHEN i % 5 IN (0, 1, 4) THEN (SELECT id FROM bbtoken_users ORDER BY id OFFSET i % 9 LIMIT 1) END,
       'tok ' || i,
       CASE WHEN i % 5 <> 3 THEN (ARRAY['PROJECT_READ', 'PROJECT_WRITE', 'PROJECT_ADMIN'])[1 + i % 3] END,
       (ARRAY['REPO_READ', 'REPO_WRITE', 'REPO_ADMIN'])[CASE WHEN i % 5 = 3 THEN 1 + i % 3
                                                        ELSE greatest(1 + i % 3, 1 + (i / 3) % 3) END],
       md5('s' || i), md5('h' || i) || md5('k' || i),
       now() - make_interval(days => (i % 7) * 20),
       CASE WHEN i % 6 = 0 THEN now() - make_interval(days => (i % 7) * 20) + interval '10 days' END,
       CASE WHEN i % 3 <> 0 THEN now() - make_interval(days => (i % 7) * 20) + interval '1 day' END,
       CASE WHEN i % 8 = 7 THEN now() END,
       CASE i % 5 WHEN 2 THEN (ARRAY['P1', 'P2', '~alice', '~root', 'Q'])[1 + (i / 5) % 5]
                  WHEN 3 THEN (ARRAY['P1', 'P2', '~alice', '~root', 'P1'])[1 + (i / 5) % 5] END,
       CASE WHEN i % 5 = 3 THEN (ARRAY['a', 'r', 'notes', 'x', 'b'])[1 + (i / 5) % 5] END
  FROM generate_series(1, 400) i;
RESET session_replication_role;
ANALYZE;
EOS

my $R = '/rest/access-tokens/1.0';

# The pages of $path (query $args) against the whole list @$want (as the
# list's entries, by $key of a value): at each boundary, for each limit.
sub pages_match {
    my ($what, $path, $args, $key, $want) = @_;
    my $n = @$want;
    my %starts = map { $_ => 1 } grep { $_ >= 0 } 0, 1, int($n / 2), $n - 2, $n - 1, $n, $n + 1;
    my @bad;
    for my $limit (1, 2, 5, 1000) {
        for my $start (sort { $a <=> $b } keys %starts) {
            my $q = join '&', grep {length} $args, "start=$start", "limit=$limit";
            my $res = $env->rest(GET => "$R/$path?$q", as => 'root');
            my $j = $res->{status} == 200 && ref $res->{json} eq 'HASH' ? $res->{json} : undef;
            my $end = $start + $limit < $n ? $start + $limit : $n;
            my @page = @$want[$start .. $end - 1];
            my $last = $start + $limit >= $n ? 1 : 0;
            my $got = $j ? join(' ', map { $key->($_) } @{ $j->{values} || [] }) : "status $res->{status}";
            my $ok = $j && $got eq "@page" && ($j->{isLastPage} ? 1 : 0) == $last && $j->{size} == @page
                && $j->{start} == $start
                && ($last ? !defined $j->{nextPageStart} : ($j->{nextPageStart} // -1) == $start + @page);
            push @bad, "?$q: got [$got] last=" . ($j && $j->{isLastPage} ? 1 : 0)
                . " next=" . ($j && defined $j->{nextPageStart} ? $j->{nextPageStart} : '-')
                . "; want [@page] last=$last" unless $ok;
        }
    }
    ok !@bad, "$what ($n entries): every page at every boundary is the whole list's"
        or diag join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)];
}

# The inventory: each filter as the REST API spells it and as the CLI does.
for my $f (['', ''], ['owner=alice', '--owner', 'alice'], ['owner=BOB', '--owner', 'BOB'],
           ['project=P1', '--project', 'P1'], ['project=P2', '--project', 'P2'],
           ['project=%7Ealice', '--project', '~alice'], ['kind=personal', '--kind', 'personal'],
           ['kind=project', '--kind', 'project'], ['kind=repository', '--kind', 'repository'],
           ['expired=true', '--expired'], ['neverUsed=true', '--never-used'],
           ['unusedDays=30', '--unused-for', '30d'], ['minPermission=PROJECT_WRITE', '--min-perm', 'PROJECT_WRITE'],
           ['minPermission=REPO_ADMIN', '--min-perm', 'REPO_ADMIN'],
           ['project=P2&kind=personal', '--project', 'P2', '--kind', 'personal'],
           ['owner=alice&project=P1', '--owner', 'alice', '--project', 'P1'],
           ['kind=repository&minPermission=REPO_WRITE', '--kind', 'repository', '--min-perm', 'REPO_WRITE'],
           ['kind=project&neverUsed=true', '--kind', 'project', '--never-used'],
           ['project=P1&unusedDays=50', '--project', 'P1', '--unused-for', '50d']) {
    my ($args, @cli) = @$f;
    @cli = grep {length} @cli;
    my @want = map { $_->{id} } @{ $env->cli_json('list', '--all', @cli) };
    pages_match("inventory ?$args", 'inventory', $args, sub { $_[0]{id} }, \@want);
}
my @every = @{ $env->cli_json('list', '--all') };
cmp_ok scalar(@every), '>', 200, 'the inventory is longer than the most a page holds';
ok((grep { !defined $_->{user} } @every) && (grep { defined $_->{user} } @every),
   'it holds users\' tokens and the others\'');

# A global admin's places, as one sort over everything.
my $PLACES = admin_places_sql('root');
my @places = split / /, $env->psql("SELECT string_agg(x, ' ') FROM ($PLACES) a (x)");
ok((grep { m{^~root/} } @places) && (grep { m{^~alice/} } @places), 'places: the admin\'s repositories and another\'s');
pages_match('places', 'places', '', \&place_text, \@places);

# Past 10,000 places a page first compares start with a bound on their
# number: a page among them still holds them, and the end is where it is.
$env->psql("INSERT INTO bbtoken_projects (project_key) SELECT 'K' || lpad(i::text, 5, '0')"
           . " FROM generate_series(1, 10040) i; ANALYZE");
my $n = $env->psql("SELECT count(*) FROM ($PLACES) a");
cmp_ok $n, '>', 10040, "places: $n";
for my $start (9999, 10000, 10001, $n - 30, $n - 1, $n, $n + 1) {
    my @want = split / /, $env->psql("SELECT coalesce(string_agg(x, ' '), '') FROM ($PLACES LIMIT 26 OFFSET $start) a (x)");
    my $res = $env->rest(GET => "$R/places?start=$start&limit=25", as => 'root');
    my $j = $res->{json} || {};
    my $more = @want > 25;
    splice @want, 25;
    is join(' ', map { place_text($_) } @{ $j->{values} || [] }), "@want", "places from $start of $n: the list's";
    ok(($j->{isLastPage} ? 1 : 0) == ($more ? 0 : 1), "places from $start of $n: the last page or not");
}

# Paging arguments the API refuses: never a 500 or a 503 from the database.
for my $path ('inventory', 'places') {
    for my $bad ('start=9223372036854775807', 'start=9223372036854775808', 'start=1000000000', 'start=-1',
                 'start=%2B1', 'start=1e3', 'start=0x10', 'start=', 'start=%201', 'start=1%00',
                 'limit=-1', 'limit=9223372036854775807') {
        my $res = $env->rest(GET => "$R/$path?$bad", as => 'root');
        is $res->{status}, 400, "$path?$bad: 400";
    }
    if ($path eq 'inventory') {
        # A project's Create repository is a grant's, never a token's.
        my $res = $env->rest(GET => "$R/$path?minPermission=REPO_CREATE&start=1", as => 'root');
        is $res->{status}, 400, "$path?minPermission=REPO_CREATE: 400";
    }
    my $res = $env->rest(GET => "$R/$path?start=999999999&limit=1000", as => 'root');
    ok $res->{status} == 200 && $res->{json}{isLastPage} && $res->{json}{size} == 0,
        "$path: the furthest start and the largest limit, an empty last page";
}

done_testing;
