package BBT::Cache;

# What the cache's tests share: counting the module's token lookups in
# PostgreSQL (pg_stat_statements), reading the error log from a point on,
# and waiting, with a generous limit, for something to happen (the tests
# assert what happens, never how fast).
#
#   use BBT::Cache qw(...);
#   my $env = BBT::Env->new(pg_conf => $BBT::Cache::PG_CONF)->start;
#   $env->stat_statements_on;
#
# Functions of an environment ($env first), not methods: BBT::Env stays as
# it is.

use strict;
use warnings;
use Time::HiRes qw(sleep time);
use BBT::Assert ();
use BBT::Util qw(run_cmd);

use Exporter 'import';
our @EXPORT_OK = qw(lookup_calls log_mark log_since wait_log wait_lines served_from_cache
                    until_answer until_status listener_count settle level_probe_on
                    level_computed cache_counts counts_since hold_pooled_connection
                    until_heard listener_pid freeze_idle);

# PostgreSQL settings for counting statements.
our $PG_CONF = { shared_preload_libraries => "'pg_stat_statements'" };

# Words of the module's token lookup (mod_bbtoken/bbt_dblookup.c) that no other
# statement has (the owner's level map alone is SELECT levels FROM
# bbtoken_lookup WHERE id: t/80-cache-levels).
our $LOOKUP = 'SELECT packed FROM bbtoken_lookup WHERE id';

# How long to wait for anything before calling it a failure: generous,
# because the machine may be busy; the tests pass as soon as it happens.
our $LIMIT = 30;

sub lookup_calls {
    my ($env) = @_;
    return $env->statement_calls($LOOKUP);
}

# Make bbtoken_owner_levels, the one definition of an owner's level, bump a
# sequence each time it runs, whichever statement runs it: the same
# function around a nextval.  No longer inlined (it calls a volatile
# function), it still runs only where a statement asks for it.
sub level_probe_on {
    my ($env) = @_;
    $env->psql('CREATE SEQUENCE bbt_level_probe');
    $env->psql('GRANT USAGE ON SEQUENCE bbt_level_probe TO PUBLIC');
    my $body = $env->psql("SELECT prosrc FROM pg_proc WHERE proname = 'bbtoken_owner_levels'");
    $body =~ s/;\s*\z//;
    $env->psql("CREATE OR REPLACE FUNCTION bbtoken_owner_levels(u bbtoken_users, key text, slug text) "
               . "RETURNS TABLE (level integer) LANGUAGE sql STABLE PARALLEL SAFE AS \$probe\$ "
               . "SELECT x.level FROM (SELECT nextval('bbt_level_probe')) p, LATERAL ($body) x(level) "
               . "\$probe\$");
}

# How many times an owner's level has been computed since level_probe_on.
sub level_computed {
    my ($env) = @_;
    return $env->psql("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bbt_level_probe");
}

# A point in the error log, and what was written after it (BBT::Assert's,
# for an environment).
sub log_mark {
    my ($env) = @_;
    return BBT::Assert::log_mark($env->error_log_path);
}

sub log_since {
    my ($env, $mark) = @_;
    return join "\n", BBT::Assert::log_lines_since($env->error_log_path, $mark);
}

# The lines of the log file $path after $mark, once they hold what is
# wanted ($want: a pattern for the lines joined by newlines, or code given
# the lines), or as they are after the limit: the caller asserts on them.
# A line may come after the answer it is about: httpd writes a request's
# access log line (log_transaction) once its response has been sent, so a
# client can have read the answer before the line is there.
sub wait_lines {
    my ($path, $mark, $want, $limit) = @_;
    my $ok = ref $want eq 'CODE' ? $want : sub { join("\n", @_) =~ $want };
    my $deadline = time + ($limit || $LIMIT);
    while (1) {
        my @l = BBT::Assert::log_lines_since($path, $mark);
        return @l if $ok->(@l) || time >= $deadline;
        sleep 0.05;
    }
}

# Wait until the error log, after $mark, matches $re: 1, or 0 after the
# limit.
sub wait_log {
    my ($env, $mark, $re, $limit) = @_;
    my $found = 0;
    wait_lines($env->error_log_path, $mark, sub { $found = join("\n", @_) =~ $re }, $limit);
    return $found ? 1 : 0;
}

# Let the notifications of changes just made reach the cache: each one
# forgets every entry, so a test that counts lookups starts after them.
# The cache's bound (half a second) says when they have arrived, as long
# as the listener is up; twice that, to be sure.
sub settle {
    sleep 1;
}

# Request $path with headers $h until a 200 comes from the cache (the
# module's debug line for token $id says so): 1, or 0 after the limit.
# The listener must be up and the entry made first, so this may take a few
# requests.
sub served_from_cache {
    my ($env, $path, $h, $id, $limit) = @_;
    my $deadline = time + ($limit || $LIMIT);
    while (time < $deadline) {
        my $mark = log_mark($env);
        my $r = $env->get($path, $h);
        return 1 if $r->{status} == 200
            && log_since($env, $mark) =~ /BBT037: token \Q$id\E .*\(from the cache\)/;
        sleep 0.05;
    }
    return 0;
}

# Ask (code that makes a request and returns its status) until the status
# is $want: (1, tries, every status seen), or (0, tries, the last
# statuses).  A change reaches a cached entry within the cache's bound, not
# at once.
sub until_answer {
    my ($ask, $want, $limit) = @_;
    my $deadline = time + ($limit || $LIMIT);
    my @seen;
    while (time < $deadline) {
        my $st = $ask->();
        push @seen, $st;
        return (1, scalar @seen, join ' ', @seen) if $st == $want;
        sleep 0.02;
    }
    return (0, scalar @seen, join ' ', @seen > 10 ? @seen[-10 .. -1] : @seen);
}

# GET $path with headers $h until the status is $want, as until_answer.
sub until_status {
    my ($env, $path, $h, $want, $limit) = @_;
    return until_answer(sub { $env->get($path, $h)->{status} }, $want, $limit);
}

# The cache's counters as a scrape of /metrics (a location with the
# bbtoken-metrics handler) gives them: hits_total, level_lookups_total,
# and the misses by reason (absent, stale, untrusted).
sub cache_counts {
    my ($env) = @_;
    my %h = map { $_ => 0 } qw(hits_total level_lookups_total absent stale untrusted);
    for (split /\n/, $env->get('/metrics')->{content}) {
        $h{ $2 // $1 } = $3 if /^bbtoken_cache_(hits_total|level_lookups_total|misses_total\{reason="(\w+)"\})\s+(\d+)$/;
    }
    return \%h;
}

# What each of those counted since $before (cache_counts' answer then).
sub counts_since {
    my ($env, $before) = @_;
    my $now = cache_counts($env);
    return { map { $_ => $now->{$_} - $before->{$_} } keys %$now };
}

# Connections of the cache's listener to this database.
sub listener_count {
    my ($env) = @_;
    return $env->psql("SELECT count(*) FROM pg_stat_activity "
                      . "WHERE application_name = 'mod_bbtoken listener'");
}

# The PostgreSQL backend of the cache's listener (its pid), '' for none.
sub listener_pid {
    my ($env) = @_;
    return $env->psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'mod_bbtoken listener'");
}

# Backend $pid of $env's database stopped (SIGSTOP) while it waits for its
# client: the tries it took, or 0.  SIGSTOP lands wherever the backend is.
# Stopped inside a heartbeat's transaction it may hold a lock every other
# session needs (ProcArrayLock, which a new connection takes; the lock
# NOTIFY takes at commit), and the test's own changes would wait on it: a
# hang of the test's making.  Stopped while it waits for its client (idle,
# wait event ClientRead) it holds none; anywhere else it is let go and
# stopped again.  The look is a psql of its own with a short limit, since
# it could be the one left waiting.  The caller sends SIGCONT.
sub freeze_idle {
    my ($env, $pid) = @_;
    my @psql = ("$BBT::Pg::PGBIN/psql", '-X', '-q', '-A', '-t', '-F', ' ', '-h', '127.0.0.1',
                '-p', $env->{pgport}, '-U', 'postgres', '-d', 'bbtoken', '-c',
                "SELECT state, wait_event FROM pg_stat_activity WHERE pid = $pid");
    for my $try (1 .. 100) {
        kill('STOP', $pid) or return 0;
        my ($rc, $out) = run_cmd(cmd => \@psql, tmp => "$env->{dir}/run", timeout => 5,
                                 env => { PGCONNECT_TIMEOUT => 3 });
        return $try if !$rc && $out =~ /\Aidle ClientRead\n?\z/;
        Test::More::note("stopped where it was not waiting for its client: $out");
        kill 'CONT', $pid;
        sleep 0.01 + rand 0.05;
    }
    return 0;
}

# The child's one pooled connection (DBDMax 1) taken by a request of
# $url with headers $auth, a token new to the cache whose lookup waits
# on a lock the test holds on bbtoken_lookup; its backend then stopped
# and the lock let go, so that nothing else takes the connection (the
# listener's probe included) until the test sends the backend SIGCONT.
# The request's status sub, and the backend's pid.
sub hold_pooled_connection {
    my ($env, $url, $auth) = @_;
    $env->lock_tables('bbtoken_lookup');
    my $hold = $env->get_bg($url, $auth);
    my $pid = '';
    for (1 .. 1200) {
        $pid = $env->psql("SELECT pid FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'"
                          . " AND application_name <> 'mod_bbtoken listener'"
                          . " AND wait_event_type = 'Lock' AND query LIKE '%bbtoken_lookup%'");
        last if $pid =~ /^\d+$/;
        sleep 0.05;
    }
    Test::More::like($pid, qr/^\d+$/, "a request holds the pooled connection (backend $pid), waiting for the lock");
    Test::More::is(kill('STOP', $pid), 1, '  its backend stopped');
    $env->unlock_tables;
    return ($hold, $pid);
}

# Requests of $url with headers $auth (token $id's), one after another,
# until one finds the token's entry out of date (BBT312): the change
# heard.  Those before it were answered from the cache; that one waits
# for the connection: its status sub (undef if none did).
sub until_heard {
    my ($env, $url, $auth, $id) = @_;
    my $heard = qr/BBT312: token \Q$id\E not answered from the cache: its entry is older than the last change/;
    for (1 .. 600) {
        my $mark = log_mark($env);
        my $bg = $env->get_bg($url, $auth);
        my $says = join "\n", wait_lines($env->error_log_path, $mark,
                                          qr/$heard|BBT037: token \Q$id\E .*\(from the cache\)/);
        return $bg if $says =~ $heard;
        $bg->();
    }
    return undef;
}
# A guard: its code runs when the guard goes (out of scope, or at the
# script's end, a death included), so that a test that stops midway still
# thaws the backend it froze and puts back the clock or triggers it
# changed.
package BBT::Cache::Guard;
sub new { my ($c, $f) = @_; return bless { f => $f }, $c }
sub DESTROY { $_[0]{f}->() }

package BBT::Cache;

1;
