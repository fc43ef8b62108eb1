#!/usr/bin/perl
# The access-tokens API's first request in a child after PostgreSQL
# restarted under the child's pooled connection, made at the child's start
# (DBDMin) and never used.  A taken connection's session and encoding are
# remembered for its backend and send nothing, so the dropped connection
# passes them, and the first statement it is sent is the child's one read
# of the schema's version: that read finds it dropped, a warning (BBT073,
# as for the token lookup's statements), and the connection is made again
# before the request uses it.  Without that, the API was handed the dropped
# connection and answered 503 (BBT200, "connecting to the database failed:
# FATAL: terminating connection due to administrator command"), where
# README says a restart costs the API no failed call.  t/50-rest restarts
# with the pools filled by earlier calls, whose child has read the schema:
# the API's own statements meet the dropped connections and are tried
# again (BBT280).
#
# One httpd child, its API host's pool one connection.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env;
use BBT::Cache qw(log_mark log_since);
use BBT::Rest qw(rest_location);
use BBT::Util qw(one_child_mpm);

my $env = BBT::Env->new(mpm_conf => one_child_mpm(4), extra_conf => "BBTokenCache off\n",
                        api_conf => rest_location('basic') . "DBDMin 1\nDBDKeep 1\nDBDMax 1\n",
                        modules => [qw(auth_basic authn_file authz_user)])->start;
$env->htpasswd(alice => 'alice-Pa55-word');
$env->user_add('alice');

# The child makes its API pool's connection when it starts (DBDMin 1).
my $count = "SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_api'";
my $until = time + 30;
my $pooled = 0;
while (time < $until) {
    $pooled = $env->psql($count);
    last if $pooled >= 1;
    sleep 0.1;
}
is($pooled, 1, 'the child holds its API pool\'s connection, no request served yet');

my $mark = log_mark($env);
$env->pg_restart;
my @st;
for my $i (1 .. 6) {
    my $r = $env->rest(GET => '/rest/access-tokens/1.0/users/alice', as => 'alice', api => 1);
    push @st, $r->{status};
    diag "call $i: $r->{status} $r->{content}" if $r->{status} != 200;
}
is("@st", '200 200 200 200 200 200', 'every API call after the restart is answered, the first too');
my @lines = grep { /bbtoken:/ } split /\n/, log_since($env, $mark);
is(scalar(grep { /BBT200: / } @lines), 0, 'no API call failed on the database (BBT200)')
    or diag join "\n", @lines;
my @retried = grep { /BBT073: / } @lines;
is(scalar(@retried), 1, 'one failure tried again (BBT073)') or diag join "\n", @lines;
like($retried[0] // '', qr/\[bbtoken:warn\] .*BBT073: reading the database's schema version .*failed/,
     '  a warning: the schema\'s read, on the dropped connection');
is(scalar(grep { /\[bbtoken:(?:error|crit|alert|emerg)\]/ } @lines), 0, 'no error logged')
    or diag join "\n", @lines;
is($env->psql($count), 1, 'one API connection, made again');
done_testing;
