# The cache's listener learns the database from a pooled connection of
# mod_dbd's, in a call of mod_watchdog's, each time it connects.  A pooled
# connection whose backend stopped answering with its socket still open (a
# frozen database host; here the backends stopped with SIGSTOP) used to hold
# that call for as long as the kernel keeps a silent connection (many
# minutes): no other child could take the listener over, and a child that
# exited meanwhile waited 5 s for the call (BBT313), then tore its pools
# down under it (an abort, a core).  The listener waits 2 s for those
# answers, says so and tries again later; the child exits cleanly.  So
# does its probe, a NOTIFY from a pooled connection every ten seconds.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Cache qw(wait_log log_mark log_since);

for my $mpm (qw(event prefork)) {
    subtest "$mpm MPM" => sub {
        my $env = BBT::Env->new(mpm => $mpm)->start;
        ok(wait_log($env, 0, qr/BBT309: /), 'the listener is up');
        my $listener = $env->psql("SELECT pid FROM pg_stat_activity"
                                  . " WHERE application_name = 'mod_bbtoken listener'");
        my @pooled = split ' ', $env->psql("SELECT string_agg(pid::text, ' ') FROM pg_stat_activity"
                                           . " WHERE usename = 'bbtoken_httpd'"
                                           . " AND application_name <> 'mod_bbtoken listener'");
        ok($listener && @pooled, 'the listener\'s connection and a pooled one') or return;
        kill 'STOP', @pooled;
        my $mark = log_mark($env);
        $env->psql("SELECT pg_terminate_backend($listener)");
        ok(wait_log($env, $mark, qr/BBT307: /), 'the listener lost its connection');
        # Met by the listener's reading of the pooled session when it
        # connects again (BBT308), or, first, by its probe (BBT713).
        ok(wait_log($env, $mark, qr/BBT(308|713): [^\n]*did not answer in time/),
           'a pooled connection that does not answer: said, and tried again later (BBT308, BBT713)');
        $env->httpd_stop(graceful => 1);
        kill 'CONT', @pooled;
        my $log = log_since($env, $mark);
        unlike($log, qr/BBT313: /, 'no call of the listener\'s outlived the child\'s wait for it');
        is(scalar($env->crash_lines), 0, 'no child crashed') or diag join "\n", $env->crash_lines;
    };
}
done_testing;
