# What PostgreSQL's auto_explain logged, for the tests that bound the work
# a statement does (rows read, never time): the settings that make it log
# every statement with the rows each plan node made, and the plans logged
# since a point of a test's PostgreSQL log.
package BBT::Explain;
use strict;
use warnings;
use JSON::PP ();

# auto_explain's settings, as [name, value]: every statement, with the
# rows of each node and no timing, as JSON; with nested => 1 the
# statements of functions and triggers too.
sub settings {
    my (%o) = @_;
    return (['auto_explain.log_min_duration', 0], ['auto_explain.log_analyze', 'on'],
            ['auto_explain.log_timing', 'off'], ['auto_explain.log_format', 'json'],
            $o{nested} ? (['auto_explain.log_nested_statements', 'on']) : ());
}

# The same for PGOPTIONS, auto_explain loaded by the session (a
# superuser's: session_preload_libraries is theirs to set).
sub pgoptions {
    my (%o) = @_;
    return join ' ', map {"-c $_->[0]=$_->[1]"} ['session_preload_libraries', 'auto_explain'], settings(%o);
}

# ... and as SQL, for a session of psql's: LOAD and SET.
sub sql {
    my (%o) = @_;
    return join ' ', "LOAD 'auto_explain';", map {"SET $_->[0] = $_->[1];"} settings(%o);
}

# The plans logged in $env's PostgreSQL log since byte $from, in the order
# they ran: [query text, the most rows one node made over all its loops,
# { table => the rows its scans read (returned or filtered out) over all
# their loops }].
sub plans_since {
    my ($env, $from) = @_;
    my $log = substr($env->pg_log_text, $from);
    my @out;
    # Each entry starts a line with its time; a plan's JSON lines follow it.
    for my $entry (split /^(?=\d{4}-\d\d-\d\d \d\d:)/m, $log) {
        next unless $entry =~ /\bplan:\s*(\{.*\})\s*\z/s;
        my $plan = JSON::PP::decode_json($1);
        my ($most, %read) = (0);
        my @nodes = ($plan->{Plan});
        while (my $n = shift @nodes) {
            my $loops = $n->{'Actual Loops'} // 0;
            my $made = ($n->{'Actual Rows'} // 0) * $loops;
            $most = $made if $made > $most;
            if (defined $n->{'Relation Name'} && $n->{'Node Type'} =~ /Scan\z/) {
                $read{ $n->{'Relation Name'} } += $made
                    + (($n->{'Rows Removed by Filter'} // 0) + ($n->{'Rows Removed by Index Recheck'} // 0)) * $loops;
            }
            push @nodes, @{ $n->{Plans} // [] };
        }
        push @out, [$plan->{'Query Text'}, $most, \%read];
    }
    return @out;
}

1;
