# The REST API's writes on statistics that call the tables empty, as
# t/57-notify-stale-stats writes them (ANALYZE after every row was deleted
# and before VACUUM, then the rows back): a token created, renamed, its
# permissions and allowed networks changed, a project's token
# created, changed and revoked, a leaked token reported by its value, and
# a first use on a site whose tokens each know three address groups
# (bbtoken_token_nets), on a site of 3,000 more project and repository
# tokens.  The API's role cannot ANALYZE, so each statement,
# and each trigger it fires, must find its rows by key whatever the
# statistics say.  Then `bbtoken purge` of thousands of tokens, on the
# statistics it makes fresh itself: the work per token it deletes.
# Counted in rows read, from the plans PostgreSQL logs (auto_explain, as
# t/57-lookup-stale-stats reads them), never in time.
#
# Two sites, as t/57-lookup-stale-stats: which scan such statistics set
# off depends on the tables' pages.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Rest qw(rest_env);
use BBT::BigSite qw(log_plans scans_since stale_site_fill spoil_stats write_read_bounded);

my $XT = { 'X-Atlassian-Token' => 'no-check' };

sub site {
    my ($n) = @_;
    # Autovacuum off: its ANALYZE would mend the statistics this test spoils.
    my $env = rest_env(login => 'bbtoken', revoke_by_value => 1, extra_conf => $BBT::Env::DUMB_CONF,
                       env => { api_conf => '', pg_conf => { autovacuum => 'off' } });
    $env->make_repo('PROJ', 'repo');
    stale_site_fill($env, $n);
    # Three address groups for each token of the owners, and 3,000 live
    # tokens of projects and repositories (Q0 .. Q999).  The groups'
    # trigger, which keeps each token's seen_nets one row at a time (and
    # each time its lookup row), is off for the fill, and seen_nets made in
    # one statement after, as migration 13 made it: row by row, 24,000 of
    # them took over the harness's 60 s on a busy machine.
    $env->psql(<<'EOS');
ALTER TABLE bbtoken_token_nets DISABLE TRIGGER bbtoken_token_nets_keep;
INSERT INTO bbtoken_token_nets (token_id, net, first_addr)
SELECT t.id, ('10.' || k || '.' || (t.id::bigint % 250) || '.0/24')::cidr, NULL
  FROM bbtoken_tokens t, generate_series(1, 3) k WHERE t.id LIKE '2%';
ALTER TABLE bbtoken_token_nets ENABLE ALWAYS TRIGGER bbtoken_token_nets_keep;
UPDATE bbtoken_tokens t
   SET seen_nets = ARRAY(SELECT n.net FROM bbtoken_token_nets n
                          WHERE n.token_id = t.id ORDER BY n.first_seen, n.net)
 WHERE EXISTS (SELECT 1 FROM bbtoken_token_nets n WHERE n.token_id = t.id);
SET session_replication_role = replica;
INSERT INTO bbtoken_tokens (id, name, project_perm, repo_perm, salt, secret_hash, expires_at, project_key, repo_slug)
SELECT lpad((600000000000 + g)::text, 12, '0'), 'q' || g, CASE WHEN g % 2 = 0 THEN 'PROJECT_READ' END, 'REPO_WRITE',
       md5('s' || g), md5('h' || g) || md5('k' || g), now() + interval '5 days', 'Q' || (g % 1000),
       CASE WHEN g % 2 = 1 THEN 'r1' END
  FROM generate_series(1, 3000) g;
EOS
    $env->htpasswd(owner13 => 'owner13-Pa55-word');
    $env->grant('owner13', 'PROJECT_READ', 'PROJ');
    $env->grant('owner13', 'PROJECT_ADMIN', 'PADM');
    my $UP = '/dumb/PROJ/repo.git/HEAD';
    my $U = '/rest/access-tokens/1.0/users/owner13';
    my $P = '/rest/access-tokens/1.0/projects/PADM';

    log_plans($env, $_) for qw(bbtoken_httpd bbtoken_api postgres);
    $env->httpd_restart;

    my $rows = $env->psql('SELECT (SELECT count(*) FROM bbtoken_tokens) + (SELECT count(*) FROM bbtoken_users)');
    my $live = $env->psql('SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL');
    my $nets = $env->psql('SELECT count(*) FROM bbtoken_token_nets');
    # A write by key reads some 15 rows per token row it writes; one that
    # scans the live tokens reads $live more, the address groups $nets.
    my $limit = int($live / 4);
    cmp_ok($limit, '>', 500, "$n owners, $live live tokens, $nets address groups: the bound, $limit rows");

    my $bounded = sub {
        my ($stats, $what, $k, $code, $scope) = @_;
        my $from = write_read_bounded($env, label => "$n owners", stats => $stats, what => $what, k => $k,
                                      limit => $limit, rows => $rows, code => $code);
        # The index of live project and repository tokens, whose first
        # column is the holder's name, serves a write of one such token
        # only by walking it whole (its id a condition on the last column):
        # the rows it filters there are not counted above.
        if ($scope) {
            my @walks = substr($env->pg_log_text, $from) =~ /(Scan using bbtoken_tokens_live_scope\b[^\n]*)/g;
            is(scalar(@walks), 0, "$n owners, $stats, $what: no walk of the live project and repository tokens' index")
                or diag join "\n", @walks;
        }
    };
    my $ok = sub {
        my ($res, $want, $what) = @_;
        is($res->{status}, $want, "$what: $want") or diag $res->{content};
        return ref $res->{json} eq 'HASH' ? $res->{json} : {};
    };

    for my $stats (qw(stale fresh)) {
        my $w = "$n owners, $stats";
        my ($id, $tok, $pid);
        $bounded->($stats, 'a token created', 1, sub {
            my $j = $ok->($env->rest(PUT => $U, as => 'owner13', api => 1, headers => $XT,
                                     json => { name => "$stats ci", permissions => ['REPO_READ'], expiryDays => 30,
                                               allowedAddresses => ['127.0.0.1', '2001:db8::/32'] }),
                          200, "$w: created");
            ($id, $tok) = ($j->{id} // '', $j->{token} // '');
        });
        is($env->psql("SELECT count(*) FROM bbtoken_lookup WHERE id = '$id' AND allowed_nets <> ''"), 1,
           "$w: its lookup row, with its networks");
        $bounded->($stats, 'a token renamed', 1, sub {
            $ok->($env->rest(POST => "$U/$id", as => 'owner13', api => 1, headers => $XT,
                             json => { name => "$stats ci 2" }), 200, "$w: renamed");
        });
        $bounded->($stats, 'a token\'s permissions changed', 1, sub {
            $ok->($env->rest(POST => "$U/$id", as => 'owner13', api => 1, headers => $XT,
                             json => { permissions => ['PROJECT_READ'] }), 200, "$w: permissions");
        });
        $bounded->($stats, 'a token\'s allowed networks changed', 1, sub {
            $ok->($env->rest(POST => "$U/$id", as => 'owner13', api => 1, headers => $XT,
                             json => { allowedAddresses => ['127.0.0.0/24'] }), 200, "$w: networks");
        });
        is($env->psql("SELECT token_name || ' ' || project_perm || ' ' || allowed_nets FROM bbtoken_lookup"
                      . " WHERE id = '$id'"), "$stats ci 2 PROJECT_READ 127.0.0.0/24", "$w: its lookup row follows");
        $bounded->($stats, 'a first use, among many address groups', 1, sub {
            is($env->get($UP, auth_bearer($tok))->{status}, 200, "$w: the token's first use: 200");
        });
        is($env->psql("SELECT count(*) FROM bbtoken_token_nets WHERE token_id = '$id'"), 1,
           "$w: its first address group written");
        $bounded->($stats, 'a token\'s allowed networks removed', 1, sub {
            $ok->($env->rest(POST => "$U/$id", as => 'owner13', api => 1, headers => $XT,
                             json => { allowedAddresses => undef }), 200, "$w: networks removed");
        });
        $bounded->($stats, 'a leaked token reported', 1, sub {
            $ok->($env->rest(POST => '/rest/access-tokens/latest/revoke-by-value', noauth => 1, api => 1,
                             json => [$tok]), 202, "$w: reported");
        });
        is($env->psql("SELECT revoked FROM bbtoken_lookup WHERE id = '$id'"), 't', "$w: its lookup row revoked");

        $bounded->($stats, 'a project\'s token created', 1, sub {
            my $j = $ok->($env->rest(PUT => $P, as => 'owner13', api => 1, headers => $XT,
                                     json => { name => "$stats deploy", permissions => ['PROJECT_READ'] }),
                          200, "$w: project token created");
            $pid = $j->{id} // '';
        }, 1);
        $bounded->($stats, 'a project\'s token changed', 1, sub {
            $ok->($env->rest(POST => "$P/$pid", as => 'owner13', api => 1, headers => $XT,
                             json => { name => "$stats deploy 2", allowedAddresses => ['10.0.0.0/8'] }),
                 200, "$w: project token changed");
        }, 1);
        $bounded->($stats, 'a project\'s token revoked', 1, sub {
            is($env->rest(DELETE => "$P/$pid", as => 'owner13', api => 1, headers => $XT)->{status}, 204,
               "$w: project token revoked: 204");
        }, 1);
        is($env->psql("SELECT token_name || ' ' || revoked FROM bbtoken_lookup WHERE id = '$pid'"),
           "$stats deploy 2 true", "$w: its lookup row follows");
    }

    # bbtoken purge, on statistics spoilt before it (it ANALYZEs them
    # first): its statement reads the tokens once, and the triggers of its
    # deletion (the lookup rows, the address groups, the notices) read a
    # table once at most, and each deleted token's rows by key.
    $env->psql('VACUUM ANALYZE');
    spoil_stats($env);
    my $dead = $env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at < now() - interval '1 day'"
                          . " OR expires_at < now() - interval '1 day'");
    cmp_ok($dead, '>', 1000, "$n owners: $dead tokens to purge");
    my $from = length $env->pg_log_text;
    my ($rc, $out, $err) = $env->cli('purge', '--expired-before', '1d');
    like($out, qr/^purged $dead tokens$/m, "$n owners: purged") or diag $err;
    my @scans = grep { $_->[0] =~ /^bbtoken_/ } scans_since($env, $from);
    my (%by, $read);
    $by{ $_->[0] } += $_->[1], $read += $_->[1] for @scans;
    $rows = $env->psql('SELECT (SELECT count(*) FROM bbtoken_tokens) + (SELECT count(*) FROM bbtoken_users)') + $dead;
    cmp_ok($read // 0, '<', 2 * $rows + 20 * $dead, "$n owners: purge of $dead tokens, rows read, of $rows tokens and"
           . ' users (' . join(', ', map {"$_ $by{$_}"} sort keys %by) . ')');
    return $env;
}

site($_) for 4000, 8000;

done_testing;
