# A pooled connection whose session is inside a transaction once DBDInitSQL
# has run (here, a DBDInitSQL that begins one, REPEATABLE READ).  The
# module's statements run in it would read its snapshot, which sees no
# revocation, and keep the row lock of a last-use write until it ends, so
# that a revocation waits for it without end (and the token keeps
# working).  Such a session is not used: 503, and the log says why
# (BBT083).  One that a module gave back inside its own transaction is
# rolled back and DBDInitSQL run again (BBT082); here the list begins one
# again, and so it is refused.
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

is($env->get($UP, auth_bearer($tok))->{status}, 503, 'the token: 503, not served from inside the transaction');
like($env->error_log_text, qr/BBT083: the session is inside a transaction after DBDInitSQL/,
     '  and the log says why (BBT083)');
is($env->psql("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
              . " WHERE a.usename = 'bbtoken_httpd' AND l.locktype = 'transactionid'"), 0,
   'no write of httpd\'s holds a lock');
local $env->{cli_timeout} = 30;
my ($rc, $out, $err) = $env->cli('revoke', $id);
is($rc, 0, 'the CLI revokes the token (no row lock of httpd\'s in its way)') or diag "exit $rc: $err";
isnt($env->get($UP, auth_bearer($tok))->{status}, 200, 'and it is not served');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
