#!/usr/bin/perl
# `bbtoken db upgrade` on a large site, timed, with the locks it holds and
# what requests see meanwhile (README: Install, Upgrading).
#
#   perl bench/upgrade.pl [FROM [RUNS]]        (default 20 and 2)
#
# A database as the release of schema version FROM made it (the migrations
# up to it, as t/30-migrations.t makes one) is filled by bench/bigsite.sql
# (20,000 users, 100,000 tokens, 50,000 grants, 1,010,000 audit records)
# and kept as a template; each run upgrades a fresh copy of it with this
# tree's CLI, on a cluster configured as a default installation is where
# it matters here (fsync and full-page writes on, shared_buffers 128MB).
# Printed, per run: the upgrade's wall time; each migration's transaction
# (PostgreSQL's own log of each statement's duration, asked of the CLI's
# session alone through PGOPTIONS); and the table locks the CLI's session
# held, sampled from pg_locks every 20 ms: each table's strongest mode,
# and when in the run it was first and last seen.
#
# With BBT_OLD_MODULE=path/to/mod_bbtoken.so and BBT_OLD_GRANTS=path/to/
# grants.sql (of a release that serves schema FROM: for 20, the tree before
# the commit that added migration 21, `git archive 5067dc9^ | tar -x -C DIR`
# and `make -f apxs.mk` there), httpd runs
# that module through every run: a vhost with the token cache on and one
# with it off (BBTokenCache off), each asked in a loop for a file behind
# the module with a good token and with a revoked one; every status is
# recorded, and after the upgrade this tree's sql/grants.sql runs, as the
# README says.  A good token must see only 200 or 503, a revoked one never
# 200.  The loop costs CPU the upgrade would otherwise have, on a small
# machine: time the upgrade without it too.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use BBT::Env qw(run_cmd);
use DBI;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(time sleep);

my $FROM = $ARGV[0] // 20;
my $RUNS = $ARGV[1] // 2;
my $ROOT = $BBT::Env::ROOT;
my $OLD = $ENV{BBT_OLD_MODULE};
local $ENV{BBT_MODULE_SO} = $OLD if $OLD;

my $port2 = BBT::Util::free_port();
my $extra = $BBT::Env::DUMB_CONF . "Listen 127.0.0.1:$port2\n<VirtualHost 127.0.0.1:$port2>\n"
          . "    BBTokenCache off\n</VirtualHost>\n";
my $env = BBT::Env->new(httpd => 0, grants => 0, extra_conf => $extra,
                        schema_files => ["$ROOT/sql/migrations/0001_initial.sql"],
                        pg_conf => { fsync => 'on', synchronous_commit => 'on', full_page_writes => 'on',
                                     shared_buffers => "'128MB'", max_wal_size => "'1GB'" })->start;
my $dir = $env->dir;

sub psql_file {
    my ($name, $text, $db) = @_;
    my $f = "$dir/scratch/$name.sql";
    BBT::Util::spew($f, $text);
    return $env->psql(undef, db => $db || 'bbtoken', file => $f);
}

# ---- the site, at version FROM ------------------------------------------
my @upto = grep { m{/(\d{4})_} && $1 <= $FROM && $1 > 1 } sort glob "$ROOT/sql/migrations/0*.sql";
psql_file('upto', join '', map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @upto);
my $t0 = time;
$env->psql(undef, file => "$FindBin::Bin/bigsite.sql");
printf "site filled in %.1f s: %s\n", time - $t0,
    $env->psql("SELECT (SELECT count(*) FROM bbtoken_users) || ' users, '"
               . " || (SELECT count(*) FROM bbtoken_tokens) || ' tokens, '"
               . " || (SELECT count(*) FROM bbtoken_project_grants) + (SELECT count(*) FROM bbtoken_repo_grants)"
               . " || ' grants, ' || (SELECT count(*) FROM bbtoken_audit) || ' audit records, '"
               . " || pg_size_pretty(pg_database_size('bbtoken'))");

# A good token (user21's, who holds PROJECT_READ or more on P879) and a
# revoked one of the same user, with secrets known here.
my ($good, $revoked);
if ($OLD) {
    $env->psql(undef, file => $ENV{BBT_OLD_GRANTS}, vars => ['role=bbtoken_httpd']);
    ($good) = $env->token_insert('user21', name => 'bench good', project => 'PROJECT_READ', repo => 'REPO_READ');
    ($revoked) = $env->token_insert('user21', name => 'bench revoked', project => 'PROJECT_READ',
                                    repo => 'REPO_READ', created => "now() - interval '2 days'",
                                    revoked => "now() - interval '1 day'");
    $env->make_repo('P879', 'r1');
}
$env->psql('CHECKPOINT');
$env->psql('CREATE DATABASE bigsite TEMPLATE bbtoken', db => 'postgres');

# ---- the lock sampler -----------------------------------------------------
# A child polling the CLI's backend every 20 ms: "time mode table" lines.
sub sampler {
    my ($out) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    my $dbh = DBI->connect("dbi:Pg:dbname=bbtoken;host=127.0.0.1;port=" . $env->pg_port, 'postgres', '',
                           { RaiseError => 1, AutoCommit => 1 });
    my $sth = $dbh->prepare(<<'EOS');
SELECT c.relname, l.mode, l.granted FROM pg_stat_activity a
  JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'relation'
  JOIN pg_class c ON c.oid = l.relation AND c.relkind = 'r' AND c.relname LIKE 'bbtoken\_%'
 WHERE a.application_name = 'bbtoken' AND a.datname = 'bbtoken'
EOS
    open my $h, '>', $out or die $!;
    $h->autoflush(1);
    my $stop = 0;
    local $SIG{TERM} = sub { $stop = 1 };
    while (!$stop) {
        my $t = time;
        $sth->execute;
        while (my $r = $sth->fetchrow_arrayref) {
            printf $h "%.3f %s %s%s\n", $t, $r->[1], $r->[0], $r->[2] ? '' : ' (waiting)';
        }
        sleep 0.02;
    }
    POSIX::_exit(0);
}

# ---- the request loop -----------------------------------------------------
# A child asking each vhost with each token in turn: "time port token
# status seconds" lines.
sub traffic {
    my ($out) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    my $ua = HTTP::Tiny->new(timeout => 60, keep_alive => 0);
    my %tok = (good => $good, revoked => $revoked);
    open my $h, '>', $out or die $!;
    $h->autoflush(1);
    my $stop = 0;
    local $SIG{TERM} = sub { $stop = 1 };
    while (!$stop) {
        for my $port ($env->port, $port2) {
            for my $which (qw(good revoked)) {
                my $t = time;
                my $r = $ua->get("http://127.0.0.1:$port/dumb/P879/r1.git/HEAD",
                                 { headers => { Authorization => "Bearer $tok{$which}" } });
                printf $h "%.3f %s %s %d %.3f\n", $t, $port == $port2 ? 'off' : 'on', $which,
                    $r->{status}, time - $t;
            }
        }
        sleep 0.05;
    }
    POSIX::_exit(0);
}

sub stop_child { my ($pid) = @_; kill 'TERM', $pid; waitpid $pid, 0 }

# ---- the runs ------------------------------------------------------------
my $cpus = `nproc`;
chomp $cpus;
printf "%s, %s CPUs, PostgreSQL %s, from version %d\n", POSIX::strftime('%Y-%m-%d %H:%M UTC', gmtime),
    $cpus, $env->psql('SHOW server_version'), $FROM;
for my $run (1 .. $RUNS) {
    if ($run > 1) {
        $env->httpd_stop if $env->{httpd_pid};
        $env->psql('DROP DATABASE bbtoken', db => 'postgres');
        $env->psql('CREATE DATABASE bbtoken TEMPLATE bigsite', db => 'postgres');
    }
    my ($tpid, $traffic);
    if ($OLD) {
        $env->httpd_start;
        $traffic = "$dir/run/traffic-$run";
        $tpid = traffic($traffic);
        sleep 3;
    }
    my $locks = "$dir/run/locks-$run";
    my $spid = sampler($locks);
    my $logpos = -s $env->{pglog};
    local $ENV{PGOPTIONS} = '-c log_min_duration_statement=0';
    $t0 = time;
    my ($rc, $out, $err) = $env->cli_raw('--db', $env->superuser_conninfo, 'db', 'upgrade');
    my $t1 = time;
    stop_child($spid);
    die "db upgrade: $rc\n$out$err" if $rc;
    printf "\nrun %d: db upgrade %d -> %s in %.2f s\n", $run, $FROM, $out =~ /schema version: (\d+)/, $t1 - $t0;
    if ($OLD) {
        $env->grants_apply;
        my $t2 = time;
        sleep 5;
        stop_child($tpid);
        report_traffic($traffic, $t0, $t1, $t2);
    }

    # Each statement's duration, from the server's log: a migration is one
    # statement (its whole file), in a transaction of BEGIN, the LOCK of
    # bbtoken_schema, version reads, the file, COMMIT.
    open my $lh, '<', $env->{pglog} or die $!;
    seek $lh, $logpos, 0;
    my $log = do { local $/; <$lh> };
    my ($mig, %ms) = ('-');
    while ($log =~ /duration: ([\d.]+) ms  statement: (.*?)(?=^\S+ \S+ \S+ \[|\z)/msg) {
        my ($d, $stmt) = ($1, $2);
        if ($stmt =~ /SET version = (\d+);\s*\z/) { $mig = sprintf '%04d', $1 }
        $ms{$mig}{script} += $d if $stmt =~ /SET version = \d+;\s*\z/;
        $ms{$mig}{commit} += $d if $stmt =~ /^COMMIT/;
        $ms{$mig}{wait} += $d if $stmt =~ /^LOCK TABLE bbtoken_schema/;
    }
    printf "  %-6s %9s %9s\n", 'migr.', 'script', 'commit';
    printf "  %-6s %7.0fms %7.0fms\n", $_, $ms{$_}{script} // 0, $ms{$_}{commit} // 0
        for grep { $_ ne '-' } sort keys %ms;

    # The strongest lock seen on each table, and when (seconds into the run).
    my %rank = ('AccessShareLock' => 1, 'RowShareLock' => 2, 'RowExclusiveLock' => 3,
                'ShareUpdateExclusiveLock' => 4, 'ShareLock' => 5, 'ShareRowExclusiveLock' => 6,
                'ExclusiveLock' => 7, 'AccessExclusiveLock' => 8);
    my %held;
    open my $sh, '<', $locks or die $!;
    while (<$sh>) {
        my ($t, $mode, $table, $waiting) = /^(\S+) (\S+) (\S+)( \(waiting\))?/ or next;
        next if $waiting;
        $t -= $t0;
        # Spans of each (table, mode): a gap of more than 0.2 s ends one.
        my $spans = $held{$table}{$mode} ||= [];
        if (@$spans && $t - $spans->[-1][1] < 0.2) { $spans->[-1][1] = $t }
        else { push @$spans, [$t, $t] }
    }
    print "  table locks the CLI held (seconds into the run, sampled every 20 ms):\n";
    for my $table (sort keys %held) {
        for my $mode (sort { $rank{$b} <=> $rank{$a} } keys %{ $held{$table} }) {
            next if $rank{$mode} < 4;
            printf "    %-24s %-24s %s\n", $table, $mode,
                join ', ', map { sprintf '%.2f-%.2f', @$_ } @{ $held{$table}{$mode} };
        }
    }
}

# Every status each (vhost, token) got during the upgrade and after it,
# the slowest answer, and the spans of 503.
sub report_traffic {
    my ($file, $t0, $t1, $t2) = @_;
    my (%n, %slow, %spans);
    open my $h, '<', $file or die $!;
    while (<$h>) {
        my ($t, $cache, $which, $st, $secs) = split;
        my $when = $t < $t0 ? 'before' : $t < $t1 ? 'during' : $t < $t2 ? 'grants' : 'after';
        $n{"$cache $which"}{$when}{$st}++;
        my $k = "$cache $which $when";
        $slow{$k} = $secs if !defined $slow{$k} || $secs > $slow{$k};
        if ($st == 503) {
            my $s = $spans{"$cache $which"} ||= [];
            if (@$s && $t - $s->[-1][1] < 1) { $s->[-1][1] = $t + $secs } else { push @$s, [$t, $t + $secs] }
        }
    }
    print "  requests (cache on/off, token): statuses before, during the upgrade, while grants.sql ran, after;"
        . " slowest answer:\n";
    for my $k (sort keys %n) {
        printf "    %-12s %s\n", $k, join '; ', map {
            my $w = $_;
            my $s = $n{$k}{$w} || {};
            sprintf '%s %s (%.2f s)', $w, join(' ', map {"$_ x$s->{$_}"} sort keys %$s) || '-',
                $slow{"$k $w"} // 0;
        } qw(before during grants after);
        printf "      503 from %s\n", join ', ', map { sprintf '%.2f-%.2f', $_->[0] - $t0, $_->[1] - $t0 }
            @{ $spans{$k} } if $spans{$k};
    }
}
