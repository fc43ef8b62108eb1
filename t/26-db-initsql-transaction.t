# A pooled connection whose session is inside a transaction: a DBDInitSQL
# that begins one (here REPEATABLE READ), as another module that gives its
# connection back inside its own would leave it.  The module's statements
# run in it would read its snapshot, which sees no revocation, and keep
# the row lock of a last-use write until it ends, so that a revocation
# waits for it without end.  The module rolls such a transaction back
# before its first statement, and says so (BBT082).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Util;

my $env = BBT::Env->new(
    mpm_conf   => BBT::Util::one_child_mpm(4),
    extra_conf => "BBTokenCache off\nDBDMin 1\nDBDKeep 1\nDBDMax 1\n"
                . "DBDInitSQL \"BEGIN ISOLATION LEVEL REPEATABLE READ\"\n",
)->start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->make_repo('PROJ', 'repo');
my ($tok, $id) = $env->token_create('alice', name => 'in a transaction');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

is_ok_res($env->get($UP, auth_bearer($tok)), 'the token: 200');
like($env->error_log_text, qr/BBT082: a pooled connection was inside a transaction .*rolled back/,
     'the transaction DBDInitSQL began: rolled back, and said so (BBT082)');
is($env->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'"
              . " AND state LIKE 'idle in transaction%'"), 0, 'no session of httpd\'s is left in a transaction');
local $env->{cli_timeout} = 30;
my ($rc, $out, $err) = $env->cli('revoke', $id);
is($rc, 0, 'the CLI revokes it (no row lock of httpd\'s in its way)') or diag "exit $rc: $err";
is($env->get($UP, auth_bearer($tok))->{status}, 401, 'and the token is refused at once (no old snapshot)');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
