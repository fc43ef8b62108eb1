#!/usr/bin/perl
# What one run of a statement costs PostgreSQL's backend, counted in
# instructions (valgrind's callgrind), not timed: the module's token lookup
# for a verified token (its owner's level computed with it) and for a
# refusal, and, for comparison, mod_authn_dbd's and mod_authz_dbd's queries
# as bench/run.sh configures them, and SELECT 1 (the protocol's round and
# the transaction alone).
#
#   perl bench/pgprofile.pl [N]       (default 1000 runs per case)
#
# PostgreSQL runs under callgrind, each backend writing a file of its own.
# bench/pgrun.c, compiled here, prepares each statement as the pgsql driver
# does (parameters of type varchar) and runs it 300 times and then 300 + N
# times, on a connection of its own each time, as the lookup role (Bind,
# Describe, Execute and Sync for each run): the difference between the two
# backends' totals, over N, is one run's.  Like bench/profile.pl's count,
# it does not move with the machine's load.
#
# The lookup is read from mod_bbtoken/bbt_dblookup.c: one row of
# bbtoken_lookup by its id, for a token that exists (whether its secret is
# right is C's to say: the database does the same work either way) and for
# an unknown id.  Beside it: the same row with the database's clock asked
# too (what the lookup did until version 26; bbt_dblookup.c says why it
# no longer does), and the owner's level statement, which runs only for an
# owner with more grants than the level map holds.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib", "$FindBin::Bin/lib";
use BBT::Env qw(run_cmd);
use BBT::Peers;
use File::Temp qw(tempdir);

my $n = $ARGV[0] || 1000;
my $warm = 300;

# Statement $name, as bbt_dblookup.c spells it, with its $want placeholders.
sub module_sql {
    my ($name, $want) = @_;
    open my $h, '<', "$FindBin::Bin/../mod_bbtoken/bbt_dblookup.c" or die "bbt_dblookup.c: $!";
    my $src = do { local $/; <$h> };
    $src =~ /static const char \Q$name\E\[\] =\s*((?:"(?:[^"\\]|\\.)*"\s*)+);/
        or die "$name not found in bbt_dblookup.c\n";
    my $sql = join '', $1 =~ /"((?:[^"\\]|\\.)*)"/g;
    my $i = 0;
    $sql =~ s/%s/'$' . ++$i/ge;
    die "$name has $i placeholders, not $want\n" unless $i == $want;
    return $sql;
}

my $env = BBT::Env->new(httpd => 0, pg_conf => { autovacuum => 'off' })->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'REPO_READ', 'PROJ/repo');
my ($token, $id) = $env->token_create('alice', name => 'profile', perms => ['REPO_READ']);
BBT::Peers::setup($env);
my $uid = $env->psql("SELECT id FROM bbtoken_users WHERE name = 'alice'");
my $lookup = module_sql('bbt_sql_lookup', 1);
(my $clocked = $lookup) =~ s/ FROM /, (date_part('epoch', now()) * 1000000)::bigint FROM /
    or die "no FROM in the lookup\n";
my @cases = (
    ['token lookup (a token)', $lookup, [$id]],
    ['token lookup (an unknown id)', $lookup, ['000000000042']],
    ['token lookup, the database\'s clock too', $clocked, [$id]],
    ['owner\'s level (too many grants for a map)', module_sql('bbt_sql_owner_level', 3),
     ['PROJ', 'repo', $uid]],
    ['mod_authn_dbd: SELECT password', 'SELECT password FROM bench_users WHERE name = $1', ['alice']],
    ['mod_authz_dbd: SELECT grp', 'SELECT grp FROM bench_groups WHERE name = $1', ['alice']],
    ['SELECT 1', 'SELECT 1', []],
);

# PostgreSQL again, under callgrind.
my $out = tempdir('bbt-pgprofile-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);
chmod 0777, $out;
my $pgrun = "$out/pgrun";
my $inc = `pg_config --includedir`;
chomp $inc;
system('cc', '-O2', '-o', $pgrun, "-I$inc", "$FindBin::Bin/pgrun.c", '-lpq') == 0
    or die "cannot build bench/pgrun.c\n";
$env->pg_stop;
$env->{pg_running} = 1;    # stopped again by pg_ctl at the end, however it ends
my $pid = fork // die "fork: $!";
if (!$pid) {
    open STDOUT, '>', "$out/valgrind.log" or die $!;
    open STDERR, '>&', \*STDOUT or die $!;
    exec($env->_as_pg('valgrind', '--tool=callgrind', "--callgrind-out-file=$out/pg.%p",
                      "$BBT::Env::PGBIN/postgres", '-D', $env->{pgdata}));
    die "exec valgrind: $!";
}
my $up;
for (1 .. 240) {
    my ($rc) = $env->psql_try('SELECT 1');
    last if $up = $rc == 0;
    sleep 1;
}
die "PostgreSQL did not come up under callgrind\n" unless $up;

sub total {
    my ($f) = @_;
    open my $h, '<', $f or return 0;
    while (<$h>) { return $1 if /^(?:summary|totals):\s+(\d+)/ }
    return 0;
}

# The backend's total for $runs runs of the case: its file, which
# callgrind writes as the backend exits.
sub backend_total {
    my ($c, $runs) = @_;
    my $script = "$out/case.sql";
    open my $h, '>', $script or die "$script: $!";
    print $h $c->[1];
    close $h;
    my $conninfo = 'host=127.0.0.1 port=' . $env->pg_port . ' dbname=bbtoken user=bbtoken_httpd';
    my ($rc, $o, $err) = run_cmd(cmd => [$pgrun, $conninfo, $script, $runs, @{ $c->[2] }],
                                 tmp => $env->dir . '/run', timeout => 3600);
    die "pgrun: $o$err" if $rc || $o !~ /^(\d+)$/m;
    my $backend = $1;
    for (1 .. 120) {
        my $t = total("$out/pg.$backend");
        return $t if $t;
        sleep 1;
    }
    die "no file from backend $backend\n";
}

my @res;
for my $c (@cases) {
    my $short = backend_total($c, $warm);
    my $long = backend_total($c, $warm + $n);
    push @res, [$c->[0], ($long - $short) / $n];
}
$env->pg_stop;
waitpid $pid, 0;

printf "PostgreSQL backend instructions per run (callgrind, %d runs each, one client, prepared)\n\n", $n;
printf "%-42s %12s\n", $_->[0], sprintf('%.0f', $_->[1]) for @res;
