# The CLI's sessions run without JIT: on a big site the planner's estimates
# for its reports and bulk statements pass jit_above_cost, and compiling a
# statement cost more than running it (README, The CLI).  What it checks:
# with jit_above_cost at 0, which has every statement planned with JIT on
# compiled, and every plan logged (auto_explain, through PGOPTIONS, which
# libpq sends in the startup packet: only the session that gets it logs),
# no statement of a command after the session's first shows a "JIT:"
# section.  The first statement turns JIT off, so it is planned before its
# own setting and left out.  A psql session with the same options shows
# JIT, so the check can tell; without an LLVM-enabled server it skips.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Util qw(run_cmd);

my $env = BBT::Env->new(httpd => 0)->start;
plan skip_all => 'this PostgreSQL has no JIT (pg_jit_available)'
    unless $env->psql('SELECT pg_jit_available()') eq 't';

$env->user_add('alice', '--email', 'alice@example.com');
$env->cli_ok('create', 'alice', '--name', 'ci', '--expiry-days', '3');
$env->cli_ok('create', 'alice', '--name', 'old');
$env->cli_ok('create', '--project', 'PROJ', '--name', 'deploy');

my $OPTIONS = join ' ', map {"-c $_"} 'jit_above_cost=0', 'session_preload_libraries=auto_explain',
    'auto_explain.log_min_duration=0', 'auto_explain.log_analyze=on';

# The plans logged since $from (a length of the log), each as its text.
sub plans_since {
    my ($from) = @_;
    return grep {/\bplan:\n/} split /^(?=\d{4}-\d\d-\d\d )/m, substr($env->pg_log_text, $from);
}

# The check can tell: a session that plans with JIT on logs "JIT:".
my $from = length $env->pg_log_text;
my ($rc, $out, $err) = run_cmd(cmd => ["$BBT::Env::PGBIN/psql", '-X', '-q', '-A', '-t', '-h', '127.0.0.1',
                                       '-p', $env->{pgport}, '-U', 'postgres', '-d', 'bbtoken', '-c',
                                       'SELECT count(*) FROM bbtoken_tokens WHERE name <> \'x\''],
                               tmp => $env->dir . '/run', timeout => 60, env => { PGOPTIONS => $OPTIONS });
is $rc, 0, 'psql with the options runs' or diag $err;
my @control = plans_since($from);
ok @control && (grep {/\bJIT:/} @control), 'psql\'s session plans with JIT: the check can tell'
    or diag @control;

my $db = $env->superuser_conninfo;
for my $cmd (['list', 'alice'], ['list', '--all'], ['list', '--all', '--json'], ['audit'],
             ['expiring', '--within', '30d'], ['db', 'check'],
             ['notify', '--dry-run', '--sendmail', '/bin/true', '--from', 'tokens@example.com'],
             ['list', '--all', '--project', 'PROJ', '--revoke'], ['revoke', '--user', 'alice']) {
    $from = length $env->pg_log_text;
    my ($rc, $out, $err) = $env->cli_env({ PGOPTIONS => $OPTIONS }, '--db', $db, @$cmd);
    is $rc, 0, "bbtoken @$cmd runs" or diag $err;
    my @plans = grep { !/set_config\('jit', 'off', false\)/ } plans_since($from);
    cmp_ok scalar(@plans), '>', 0, "bbtoken @$cmd: its statements' plans are logged";
    my @jit = grep {/\bJIT:/} @plans;
    is scalar(@jit), 0, "bbtoken @$cmd: no statement after the first compiled with JIT"
        or diag $jit[0];
}

done_testing;
