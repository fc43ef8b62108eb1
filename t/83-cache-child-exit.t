# A child exits while the token cache's listener is in a call.  httpd 2.4's
# mod_watchdog never joins its thread when a child exits: the child
# destroys its pool (mod_dbd's with it) and runs the process's exit
# handlers while the thread may still be in the listener's code (a prefork
# child then died of a segmentation fault; event's and worker's went on
# in mod_dbd's freed pool).  The child must wait for the call, end the
# listener, let no call run once its pool goes, and exit only once that
# thread has ended.
#
# Made certain, not left to chance: DBDParams names an address that takes
# connections and never answers, so each of the listener's tries to learn
# the database from mod_dbd's pool waits out connect_timeout (2 s) inside
# a call, and httpd is stopped while one does.  Every process of httpd that
# exits with threads still running is held a few seconds before it exits
# (t/dso/exithold.c), long enough for that call to end; the hold's line in
# the error log marks the moment the child's pool was gone, and that a
# thread still ran then.  Each MPM.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use File::Temp qw(tempdir);
use BBT::Env qw(run_cmd);
use BBT::Cache qw(wait_log);

my $HOLD = 4;
my $so = tempdir('bbt-exithold-XXXXXX', TMPDIR => 1, CLEANUP => 1) . '/exithold.so';
my ($rc, $out, $err) = run_cmd(cmd => ['cc', '-shared', '-fPIC', '-O2', '-o', $so,
                                       "$BBT::Env::ROOT/t/dso/exithold.c", '-ldl']);
is($rc, 0, 'the exit hold builds') or BAIL_OUT("cc: $out$err");

# Takes connections (the kernel completes them) and never answers: libpq
# sends its startup packet and waits.  The connections are kept open.
my $tarpit = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Proto => 'tcp', ReuseAddr => 1) or die "listen: $!";
my $sel = IO::Select->new($tarpit);
my @held;
# Connections taken since the last call; waits up to $limit for one.
sub taken {
    my ($limit) = @_;
    my $n = 0;
    while ($sel->can_read($n ? 0 : $limit)) {
        push @held, $tarpit->accept;
        $n++;
    }
    return $n;
}

my $env = BBT::Env->new(httpd => 0, dbd_ports => [$tarpit->sockport],
                        httpd_vars => { LD_PRELOAD => $so, BBT_EXIT_HOLD => $HOLD },
                        # No connection made when a child starts: the
                        # listener's are the only ones.
                        extra_conf => "DBDMin 0\n")->start;
$env->write_cgi;

for my $mpm (qw(event worker prefork)) {
    subtest $mpm => sub {
        $env->{mpm} = $mpm;
        truncate $env->error_log_path, 0;
        taken(0);
        $env->httpd_start;
        my $tries = 0;
        ok(wait_log($env, 0, qr/BBT311: /), 'the listener tries mod_dbd\'s pool, and fails');
        $tries += taken(0);
        # Its next try: inside a call that waits out connect_timeout.
        my $next = taken($BBT::Cache::LIMIT);
        ok($next, 'the listener is in its next try') or return;
        $tries += $next;
        $env->httpd_stop;
        $tries += taken(0);
        my @lines = split /\n/, $env->error_log_text;
        my ($pid) = map { /\[pid (\d+)/ } grep { /BBT311: / } @lines;
        my @mine = grep { /\[pid \Q$pid\E[:\]]/ || /bbt-exithold: pid \Q$pid\E / } @lines;
        my $said = () = join("\n", @mine) =~ /BBT311: /g;
        is($said, $tries, "the listener's child ($pid) said how each of its $tries tries ended")
            or diag join "\n", @mine;
        # The hold's line: this child's pool was gone, and a thread of it
        # still ran.
        my ($gone) = grep { $mine[$_] =~ /bbt-exithold: / } 0 .. $#mine;
        my @after = defined $gone ? grep { /BBT3\d\d: / } @mine[$gone + 1 .. $#mine] : ();
        is(scalar(@after), 0, 'none of the listener\'s calls ran once the child\'s pool was gone')
            or diag join "\n", @mine;
        ok(!defined $gone, 'the child exited once mod_watchdog\'s thread had ended')
            or diag join "\n", @mine;
        is(scalar($env->crash_lines), 0, 'no child crashed') or diag join "\n", $env->crash_lines;
    };
}

# The listener up: a stop finds it between calls, while mod_watchdog's
# thread sleeps out its 100 ms.  A prefork child learns that it is stopping
# only as it exits: without the wait for that thread it would exit with
# the thread still there.
$env->{dbd_ports} = undef;
for my $mpm (qw(prefork event worker)) {
    subtest "$mpm, the listener up" => sub {
        $env->{mpm} = $mpm;
        truncate $env->error_log_path, 0;
        $env->httpd_start;
        ok(wait_log($env, 0, qr/BBT309: /), 'the listener hears PostgreSQL');
        $env->httpd_stop;
        my @lines = split /\n/, $env->error_log_text;
        my ($pid) = map { /\[pid (\d+)/ } grep { /BBT309: / } @lines;
        my @mine = grep { /\[pid \Q$pid\E[:\]]/ || /bbt-exithold: pid \Q$pid\E / } @lines;
        ok(!(grep { /bbt-exithold: / } @mine), "the listener's child ($pid) exited once mod_watchdog's thread had ended")
            or diag join "\n", @mine;
        is(scalar($env->crash_lines), 0, 'no child crashed') or diag join "\n", $env->crash_lines;
    };
}
done_testing;
