package BBT::BigSite;

# A site many times larger than what one request should read, and the
# plans PostgreSQL logs for a role's statements, read scan by scan: the
# tests that check what a request reads on a big site (t/88-rest-big-*).
#
#   big_site_fill($env);                  # the filler, then ANALYZE
#   log_plans($env, 'bbtoken_api');       # its new sessions log plans
#   my @scans = scans_since($env, $from); # [table, rows read], ...
#   my @scans = plan_scans($text);        # the same, of one plan
#   my $sql = admin_places_sql('root');   # a global admin's places, whole
#   my $text = place_text($value);        # KEY or KEY/slug, of a value
#   stale_site_fill($env, $n);            # the stale-statistics tests' site
#   spoil_stats($env);                    # statistics: pages, but no rows
#   my $from = write_read_bounded($env, %o); # a write's rows read, checked

use strict;
use warnings;
use Exporter 'import';
use Test::More ();

our @EXPORT_OK = qw(big_site_fill log_plans scans_since plan_scans admin_places_sql place_text stale_site_fill
                    spoil_stats write_read_bounded);

# 2,000 users; a project grant and a repository grant each, over 1,000
# projects of 10 repositories; 6,000 tokens (personal, of projects, of
# repositories), four in five revoked, as a real site keeps them.  $more:
# SQL run before the ANALYZE.
sub big_site_fill {
    my ($env, $more) = @_;
    $env->psql(<<'EOS' . ($more // '') . "\nANALYZE;\n");
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
EOS
}

# The site of the tests of stale statistics (t/57-cli-stale-stats,
# t/57-lookup-stale-stats, t/88-rest-stale-stats): owners owner1 ..
# owner$n, each with a personal token (a quarter revoked 200 days ago, the
# rest expiring from 10 days ago to 19 days on, a third used) and a
# project and a repository grant; big and big2 with 100 tokens each;
# project tokens, two of each of P0 .. P29 and 100 of BIGP; repository
# tokens, two of each P0/r0 .. P29/r4 and 50 of BIGP/r1.  Made without the
# triggers but bbtoken_lookup's, which fire always.  A user root (a test's
# admin) gets no grant.
sub stale_site_fill {
    my ($env, $n) = @_;
    $env->psql(<<"EOS");
SET session_replication_role = replica;
INSERT INTO bbtoken_users (name, email)
SELECT 'owner' || g, 'owner' || g || '\@example.com' FROM generate_series(1, $n) g;
INSERT INTO bbtoken_users (name, email) VALUES ('big', 'big\@example.com'), ('big2', 'big2\@example.com');
INSERT INTO bbtoken_project_grants (user_id, project_key, permission)
SELECT id, 'P' || (id % 30), CASE WHEN id % 3 = 0 THEN 'PROJECT_ADMIN' ELSE 'PROJECT_READ' END
  FROM bbtoken_users WHERE name <> 'root';
INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)
SELECT id, 'P' || ((id * 7) % 30), 'r' || (id % 5), 'REPO_WRITE' FROM bbtoken_users WHERE name <> 'root';
INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash, created_at, expires_at,
                            last_authenticated, revoked_at)
SELECT lpad((200000000000 + g)::text, 12, '0'), u.id, 'ci', 'PROJECT_READ', 'REPO_READ', md5('s' || g),
       md5('h' || g) || md5('k' || g), now() - interval '300 days', now() + (g % 30 - 10) * interval '1 day',
       CASE WHEN g % 3 = 0 THEN now() - (g % 60) * interval '1 day' END,
       CASE WHEN g % 4 = 0 THEN now() - interval '200 days' END
  FROM generate_series(1, $n) g JOIN bbtoken_users u ON u.name = 'owner' || g;
INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash, expires_at)
SELECT lpad((300000000000 + g)::text, 12, '0'), u.id, 'tok' || g, 'PROJECT_WRITE', 'REPO_WRITE', md5('s' || g),
       md5('h' || g) || md5('k' || g), now() + interval '60 days'
  FROM generate_series(1, 200) g JOIN bbtoken_users u ON u.name = CASE WHEN g <= 100 THEN 'big' ELSE 'big2' END;
INSERT INTO bbtoken_tokens (id, name, project_perm, repo_perm, salt, secret_hash, expires_at, project_key)
SELECT lpad((400000000000 + g)::text, 12, '0'), 'p' || g, 'PROJECT_READ', 'REPO_WRITE', md5('s' || g),
       md5('h' || g) || md5('k' || g), now() + interval '5 days', CASE WHEN g <= 60 THEN 'P' || (g % 30) ELSE 'BIGP' END
  FROM generate_series(1, 160) g;
INSERT INTO bbtoken_tokens (id, name, repo_perm, salt, secret_hash, project_key, repo_slug)
SELECT lpad((500000000000 + g)::text, 12, '0'), 'r' || g, 'REPO_WRITE', md5('s' || g), md5('h' || g) || md5('k' || g),
       CASE WHEN g <= 60 THEN 'P' || (g % 30) ELSE 'BIGP' END, CASE WHEN g <= 60 THEN 'r' || (g % 5) ELSE 'r1' END
  FROM generate_series(1, 110) g;
EOS
}

# Statistics as ANALYZE leaves them when it runs after every row was
# deleted and before VACUUM: every table of the schema with pages is
# reckoned to hold no rows.
sub spoil_stats {
    my ($env) = @_;
    my @tables = split /\n/, $env->psql("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
                                        . " AND relkind = 'r' AND relname LIKE 'bbtoken%' AND relpages > 0");
    $env->psql("UPDATE pg_class SET reltuples = 0 WHERE oid = '$_'::regclass") for @tables;
}

# From here on, every statement of $role's new sessions leaves its plan,
# with the rows each scan returned and removed, in PostgreSQL's log.
sub log_plans {
    my ($env, $role) = @_;
    $env->psql("ALTER ROLE $role SET session_preload_libraries = 'auto_explain'");
    $env->psql("ALTER ROLE $role SET auto_explain.$_") for
        'log_min_duration = 0', 'log_analyze = on', 'log_nested_statements = on', 'log_timing = off';
}

# Each scan of one of the schema's tables in the plans logged since $from
# (a length of the log): [table, rows read (returned and removed by its
# filter, times loops)].
sub scans_since {
    my ($env, $from) = @_;
    return plan_scans(substr($env->pg_log_text, $from));
}

# The same, of the plans in $text (a plan, or a stretch of the log).
# EXPLAIN's rows, returned and removed, are each a loop's average.
sub plan_scans {
    my ($text) = @_;
    my @lines = split /\n/, $text;
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

# The places of global admin $admin (a name in lower case) as one sort over
# everything, each as text (KEY or KEY/slug), in the list's order: the
# admin's personal project, its repositories, the other projects, the other
# repositories, each by key and slug in byte order.
sub admin_places_sql {
    my ($admin) = @_;
    die "admin_places_sql: bad name\n" unless $admin =~ /^[a-z0-9][a-z0-9._@-]*\z/;
    return "SELECT CASE WHEN s IS NULL THEN k ELSE k || '/' || s END FROM"
        . " (SELECT '~$admin', NULL UNION SELECT project_key, NULL FROM bbtoken_project_grants"
        . " UNION SELECT project_key, NULL FROM bbtoken_repo_grants UNION SELECT project_key, NULL FROM bbtoken_projects"
        . " UNION SELECT project_key, NULL FROM bbtoken_tokens WHERE project_key IS NOT NULL"
        . " UNION SELECT project_key, repo_slug FROM bbtoken_repo_grants"
        . " UNION SELECT project_key, repo_slug FROM bbtoken_tokens WHERE repo_slug IS NOT NULL) a (k, s)"
        . " ORDER BY k = '~$admin' DESC, s IS NOT NULL, k COLLATE \"C\", s COLLATE \"C\"";
}

# A value of GET .../places as text: KEY or KEY/slug.
sub place_text {
    my ($v) = @_;
    return $v->{project} ? $v->{project}{key} : "$v->{repository}{project}{key}/$v->{repository}{slug}";
}

# %o{what} done by %o{code}, writing %o{k} tokens' rows, on statistics
# spoilt (%o{stats} 'stale') or fresh (after VACUUM ANALYZE): checks that
# its plans were logged (log_plans) and that the rows they read stay under
# %o{limit} and 15 a token row written; %o{label} begins each check's
# name, %o{rows} (the site's tokens and users) goes in it.  Where the
# PostgreSQL log stood before the write, for more checks of its plans.
sub write_read_bounded {
    my ($env, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $name = "$o{label}, $o{stats}, $o{what}";
    $env->psql('VACUUM ANALYZE');
    if ($o{stats} eq 'stale') {
        spoil_stats($env);
        Test::More::like($env->psql('EXPLAIN SELECT * FROM bbtoken_tokens'), qr/\brows=1\b/,
                         "$name: the planner reckons one token");
    }
    my $from = length $env->pg_log_text;
    $o{code}->();
    my @scans = grep { $_->[0] =~ /^bbtoken_/ } scans_since($env, $from);
    my (%by, $read);
    $by{ $_->[0] } += $_->[1], $read += $_->[1] for @scans;
    Test::More::ok(@scans >= 3, "$name: the plans were logged (" . scalar(@scans) . ' scans)');
    Test::More::cmp_ok($read // 0, '<', $o{limit} + 15 * $o{k}, "$name: rows read, of $o{rows} tokens and users ("
                       . join(', ', map {"$_ $by{$_}"} sort keys %by) . ')');
    return $from;
}

1;
