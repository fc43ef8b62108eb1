# The global admin's inventory over REST on statistics that call the
# tables empty, as t/57-notify-stale-stats writes them (ANALYZE after
# every row was deleted and before VACUUM, then the rows back).  The API's
# role cannot ANALYZE (it owns no table), so the statement itself must
# hold: each user's tokens, and each token of the page, are found by key
# (a LATERAL look-up kept whole by OFFSET 0).  As joins, PostgreSQL,
# reckoning one row a side, made the user's id a join filter on the index
# instead of its condition and read every live token again for each user:
# 5 million rows a page at 2,500 owners, a 503 (statement_timeout) at
# 5,000.  Counted in rows read, from the plans PostgreSQL logs
# (auto_explain, as t/88-rest-big-admin reads them), not in time.
#
# Which loop such statistics set off depends on the tables' pages: between
# about 1,200 and 5,000 owners with this fill (PostgreSQL 15).  Two sites:
# at 2,500 owners every form of the page below read millions of rows
# before; at 1,200 the page's tokens and owners, joined to it, were read
# whole again for each of its rows as well.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Rest qw(rest_env);
use BBT::BigSite qw(log_plans scans_since stale_site_fill spoil_stats);

# The list in its order, as one sort over everything, with a filter.
sub want {
    my ($env, $where, $start, $count) = @_;
    return $env->psql("SELECT string_agg(id, ' ') FROM (SELECT t.id FROM bbtoken_tokens t"
                      . " LEFT JOIN bbtoken_users u ON u.id = t.user_id WHERE t.revoked_at IS NULL$where"
                      . " ORDER BY COALESCE(u.name, bbtoken_scope_name(t.project_key, t.repo_slug)),"
                      . " t.created_at, t.id LIMIT $count OFFSET $start) a");
}

# A site of $n owners, its statistics spoilt before each request, and a
# page of each form of the inventory: the page the list's own order, its
# plans reading fewer than 10 x (tokens + users) rows.  A healthy plan
# reads each table at most once, or by key.
sub site {
    my ($n) = @_;
    # Autovacuum off: its ANALYZE would mend the statistics this test spoils.
    my $env = rest_env(passwords => [root => 'root-Pa55-word'], users => [[root => '--admin']],
                       env => { pg_conf => { autovacuum => 'off' } });

    stale_site_fill($env, $n);
    log_plans($env, 'bbtoken_api');
    $env->httpd_restart;

    my $rows = $env->psql('SELECT (SELECT count(*) FROM bbtoken_tokens) + (SELECT count(*) FROM bbtoken_users)');
    my $limit = 10 * $rows;
    my $live = $env->psql('SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL');
    $env->psql('VACUUM ANALYZE');
    spoil_stats($env);
    like($env->psql('EXPLAIN SELECT * FROM bbtoken_tokens'), qr/\brows=1\b/, "$n owners, spoilt: the planner reckons one row");

    my $R = '/rest/access-tokens/1.0/inventory';
    my $mid = int($live / 2);
    for my $case (['', 0, 25, ''], ['', $mid, 25, ''], ['', 0, 1000, ''],
                  ['&expired=true', 0, 25, ' AND t.expires_at <= now()'],
                  ['&minPermission=REPO_WRITE', 0, 25, ' AND bbtoken_perm_level(t.repo_perm) >= 2'],
                  ['&unusedDays=30', 0, 25,
                   " AND COALESCE(t.last_authenticated, t.created_at) <= now() - interval '30 days'"],
                  ['&kind=repository', 0, 25, ' AND t.user_id IS NULL AND t.repo_slug IS NOT NULL'],
                  ['&project=P1', 0, 25, undef], ['&owner=owner5', 0, 25, ' AND u.name = \'owner5\'']) {
        my ($args, $start, $count, $where) = @$case;
        my $path = "$R?start=$start&limit=$count$args";
        my $what = "$n owners, $path";
        $env->psql('VACUUM ANALYZE');
        my $want = defined $where ? want($env, $where, $start, $count) : undef;
        # The statistics spoilt again before each request.
        spoil_stats($env);
        my $from = length $env->pg_log_text;
        my $res = $env->rest(GET => $path, as => 'root');
        is($res->{status}, 200, "$what: 200");
        my @got = map { $_->{id} } @{ ($res->{json} || {})->{values} || [] };
        if (defined $want) {
            is("@got", $want, "$what: the list's own order");
        } else {
            ok(@got, "$what: some tokens (" . scalar(@got) . ')');
        }
        my @scans = grep { $_->[0] =~ /^bbtoken_/ } scans_since($env, $from);
        my (%by, $read);
        $by{ $_->[0] } += $_->[1], $read += $_->[1] for @scans;
        ok(@scans >= 2, "$what: the plans were logged (" . scalar(@scans) . ' scans)');
        cmp_ok($read // 0, '<', $limit, "$what: rows read, of $rows tokens and users ("
               . join(', ', map {"$_ $by{$_}"} grep { $by{$_} > 500 } sort keys %by) . ')');
    }
}

site($_) for 1200, 2500;

done_testing;
