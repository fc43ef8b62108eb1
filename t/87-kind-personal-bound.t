# Users made, renamed and deleted on a site of thousands of project and
# repository tokens: the triggers that keep a personal project's tokens in
# step with its owner (a new user's slug forgets what earlier tokens of
# ~slug did, a deletion or a rename revokes the old slug's tokens) find
# that project's tokens by its key, so each user costs reads of its own
# project's tokens, not of every project's and repository's token (until
# schema 57 each user read them all, a new one twice).  Work is counted,
# not timed: the rows each plan node read (auto_explain, no timing),
# nested statements included.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Explain;

my $env = BBT::Env->new(httpd => 0)->start;

my $SCOPED = 6_000;    # project and repository tokens of ordinary projects
my $USERS = 40;        # users made, renamed, deleted at once

# The site, as bench/bigsite.sql makes its rows (the triggers off): half
# the tokens of projects P1 .. P300, half of their repositories r0 .. r9;
# users dev1 .. dev40, each with a token of ~devN and one of ~devN/home;
# and a revoked token of each ~newN, left by an earlier newN who is gone.
# Then every token's lookup row, as the triggers would have written it.
my $half = $SCOPED / 2;
$env->psql("SET session_replication_role = replica; "
           . "INSERT INTO bbtoken_users (name, active) "
           . "SELECT 'dev' || g, true FROM generate_series(1, $USERS) g; "
           . "INSERT INTO bbtoken_tokens (id, user_id, project_key, repo_slug, name, project_perm, "
           . "repo_perm, salt, secret_hash, created_at, expires_at, revoked_at) "
           . "SELECT lpad((400000000000 + g)::text, 12, '0'), NULL, 'P' || (1 + g % 300), "
           . "CASE WHEN g > $half THEN 'r' || (g % 10) END, 'ci ' || g, "
           . "CASE WHEN g <= $half THEN 'PROJECT_READ' END, 'REPO_READ', md5('s' || g), "
           . "md5('h' || g) || md5('k' || g), now() - interval '1 day', NULL, NULL "
           . "FROM generate_series(1, $SCOPED) g; "
           . "INSERT INTO bbtoken_tokens (id, user_id, project_key, repo_slug, name, project_perm, "
           . "repo_perm, salt, secret_hash, created_at, expires_at, revoked_at) "
           . "SELECT lpad((500000000000 + g * 3 + k)::text, 12, '0'), NULL, "
           . "CASE WHEN k = 2 THEN '~new' ELSE '~dev' END || g, "
           . "CASE WHEN k = 1 THEN 'home' END, 'mine ' || k, "
           . "CASE WHEN k <> 1 THEN 'PROJECT_WRITE' END, 'REPO_WRITE', md5('s' || g), "
           . "md5('h' || g) || md5('k' || g), now() - interval '1 day', NULL, "
           . "CASE WHEN k = 2 THEN now() - interval '1 hour' END "
           . "FROM generate_series(1, $USERS) g, generate_series(0, 2) k; "
           . "SELECT bbtoken_lookup_write(ARRAY(SELECT id FROM bbtoken_tokens ORDER BY id))");
$env->psql('ANALYZE');
is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE user_id IS NULL"), $SCOPED + 3 * $USERS,
   'the site: its scoped tokens');

# $sql run with every statement explained, those of the triggers too: the
# rows of bbtoken_tokens it read, at most 20 a user, whatever the number
# of other tokens (a user's project here has two tokens at most).
sub reads_bounded {
    my ($what, $sql) = @_;
    my $from = length $env->pg_log_text;
    $env->psql(BBT::Explain::sql(nested => 1) . " $sql");
    my @plans = map { [$_->[0], $_->[2]{bbtoken_tokens} // 0] } BBT::Explain::plans_since($env, $from);
    cmp_ok(scalar @plans, '>', $USERS, "$what: the triggers' statements were explained");
    my $total = 0;
    $total += $_->[1] for @plans;
    note("$what: " . scalar(@plans) . " statements read $total rows of bbtoken_tokens");
    cmp_ok($total, '<=', 20 * $USERS, "$what: $USERS users read at most 20 tokens each")
        or diag(explain([map { [substr($_->[0], 0, 300), $_->[1]] }
                         (sort { $b->[1] <=> $a->[1] } @plans)[0 .. 2]]));
}

reads_bounded('made', "INSERT INTO bbtoken_users (name, active) "
                      . "SELECT 'new' || g, true FROM generate_series(1, $USERS) g");
is($env->psql("SELECT count(*) FROM bbtoken_notices n JOIN bbtoken_tokens k ON k.id = n.token_id "
              . "WHERE n.kind = 'revoked' AND k.project_key LIKE '~new%'"), $USERS,
   "  the revocation of each newN's predecessor's token is no news to newN");

reads_bounded('renamed', "UPDATE bbtoken_users SET name = 'moved' || substr(name, 4) "
                         . "WHERE name LIKE 'dev%'");
is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE project_key LIKE '~dev%' AND revoked_at IS NULL"),
   0, "  the old slugs' tokens revoked");

reads_bounded('deleted', "DELETE FROM bbtoken_users WHERE name LIKE 'new%'");
is($env->psql("SELECT count(*) FROM bbtoken_users"), $USERS, '  only the renamed users left');

is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NOT NULL AND project_key ~ '^P'"),
   0, "no ordinary project's token revoked");

done_testing;
