#!/usr/bin/perl
# A pooled connection on which the lookup was never prepared (made at the
# child's start, DBDMin, and not used yet) when PostgreSQL restarts: its
# first PREPARE fails on the dropped connection ("no connection to the
# server"), the driver connects it again, and the lookup is prepared and
# run there.  The request is answered, and what was tried again is a
# warning (BBT073), as for a statement that failed so: not an error
# (BBT072), which is for a PREPARE that fails once more, or that waited
# out its limit (t/25-db-timeout-once).  So a restart costs a warning, as
# README says, whichever statement first meets the dropped connection.
# The child reads the schema's version once, with its first connection
# (t/26-db-restart-rest-first, where that read meets the dropped one): an
# API call on the API host's pool reads it here before the restart.
#
# One httpd child, a pool of one connection on each host, no token cache.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(log_mark log_since);
use BBT::Rest qw(rest_location);
use BBT::Util qw(one_child_mpm);

my $env = BBT::Env->new(mpm_conf => one_child_mpm(4),
                        extra_conf => "BBTokenCache off\nDBDMin 1\nDBDKeep 1\nDBDMax 1\n",
                        api_conf => rest_location('basic'), modules => [qw(auth_basic authn_file authz_user)])->start;
$env->htpasswd(alice => 'alice-Pa55-word');
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my ($tok) = $env->token_create('alice', name => 'ci');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# The child makes its pool's connection when it starts (DBDMin 1).
my $until = time + 30;
my $pooled = 0;
while (time < $until) {
    $pooled = $env->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'");
    last if $pooled >= 1;
    sleep 0.1;
}
is($pooled, 1, 'the child holds its pooled connection, no request served yet');
is($env->rest(GET => '/rest/access-tokens/1.0/users/alice', as => 'alice', api => 1)->{status}, 200,
   'an API call: the child reads the schema\'s version on the API host\'s pool');

my $mark = log_mark($env);
$env->pg_restart;
my @st = map { $env->get($UP, auth_bearer($tok))->{status} } 1 .. 6;
is("@st", '200 200 200 200 200 200', 'after the restart every request is answered');
my @lines = grep { /bbtoken:/ } split /\n/, log_since($env, $mark);
is(scalar(grep { /BBT072: / } @lines), 0, 'no PREPARE is said to have failed for good (BBT072)')
    or diag join "\n", @lines;
my @retried = grep { /BBT073: / } @lines;
is(scalar(@retried), 1, 'one failure tried again (BBT073)') or diag join "\n", @lines;
like($retried[0] // '', qr/\[bbtoken:warn\] .*BBT073: preparing the token lookup .*failed/,
     '  a warning: preparing the lookup, on the dropped connection');
is(scalar(grep { /\[bbtoken:(?:error|crit|alert|emerg)\]/ } @lines), 0, 'no error logged')
    or diag join "\n", @lines;
done_testing;
