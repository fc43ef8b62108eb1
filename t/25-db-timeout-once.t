# A token lookup that waits its whole statement_timeout (the lookup table
# locked, as a migration locks it) is answered 503 after that one wait: not
# tried again, which would wait as long once more to prepare it afresh
# (DEALLOCATE and PREPARE need the lock too) and again to run it.  The
# statement stays prepared for the requests after the lock; and a schema
# read that waited out its limit is made again.  A new connection's first
# PREPARE that waits out its limit is not made again either.  Counted in
# the logs, not timed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(log_mark);
use BBT::Util;

# One child: the schema's read is the child's, and a second child would
# read it for the first time whatever the first one did.
my $env = BBT::Env->new(
    mpm_conf    => BBT::Util::one_child_mpm(4),
    dbd_options => '-cstatement_timeout=1000',
    extra_conf  => "BBTokenCache off\n",
)->start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->make_repo('PROJ', 'repo');
my $tok = $env->token_create('alice', name => 'waits');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# The child's first request reads the schema's version (BBT760 if it is
# behind) once.  That read waiting out its limit is not the last word:
# the next request reads it again.
$env->lock_tables('bbtoken_schema');
is_ok_res($env->get($UP, auth_bearer($tok)), 'the version table locked: the token served all the same');
$env->unlock_tables;
my $version = $env->psql('SELECT max(version) FROM bbtoken_schema');
$env->psql('UPDATE bbtoken_schema SET version = version - 1');
is_ok_res($env->get($UP, auth_bearer($tok)), 'unlocked, the version one behind: 200');
like($env->error_log_text, qr/BBT760: the database's schema is version ${\ ($version - 1)}, this module expects $version/,
     '  and the version read again: BBT760');
$env->psql("UPDATE bbtoken_schema SET version = $version");
is_ok_res($env->get($UP, auth_bearer($tok)), 'before the lock: 200');

my $mark = log_mark($env);
$env->lock_tables('bbtoken_lookup');
my $res = $env->get($UP, auth_bearer($tok));
$env->unlock_tables;
is($res->{status}, 503, 'the lookup table locked past statement_timeout: 503');
my @lines = grep {/statement timeout/} split /\n/, substr($env->error_log_text, $mark);
is(scalar @lines, 1, 'one wait, one timeout logged') or diag join "\n", @lines;
unlike($lines[0] // '', qr/will retry/, '  not tried again') or diag $lines[0];
like($lines[0] // '', qr/BBT0\d\d: .*token lookup/, '  the lookup\'s failure');
is_ok_res($env->get($UP, auth_bearer($tok)), 'after the lock: 200, the statement as it was');
unlike(substr($env->error_log_text, $mark), qr/BBT072/, 'and nothing prepared again');

# A new child's connection prepares the lookup on its first request: a
# PREPARE that waits out its limit behind the lock is not made again
# either (PostgreSQL's log holds one cancel of it, and no DEALLOCATE).
is($env->httpd_graceful, '', 'a graceful restart: a new child, new connections');
$mark = log_mark($env);
my $pgmark = length $env->pg_log_text;
$env->lock_tables('bbtoken_lookup');
$res = $env->get($UP, auth_bearer($tok));
$env->unlock_tables;
is($res->{status}, 503, 'its first lookup, the table locked past statement_timeout: 503');
my $pg = substr($env->pg_log_text, $pgmark);
my @prepares = $pg =~ /canceling statement due to statement timeout[^\n]*\n(?:[^\n]*\n)??[^\n]*STATEMENT:\s+PREPARE bbtoken_lookup/g;
is(scalar @prepares, 1, '  its PREPARE waited once') or diag $pg;
unlike($pg, qr/DEALLOCATE/, '  and nothing was dropped to prepare it again');
like(substr($env->error_log_text, $mark), qr/BBT072: preparing the token lookup failed: .*statement timeout/,
     '  BBT072 says why');
is_ok_res($env->get($UP, auth_bearer($tok)), 'after the lock: 200');
done_testing;
