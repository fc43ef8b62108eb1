#!/usr/bin/perl
# A pooled connection PostgreSQL dropped is connected again (PQreset) and
# its statement tried once more (BBT073, BBT280).  When that connection
# is refused (here the role's password changed; pg_hba, NOLOGIN or a
# connection limit refuse it alike), the request is 503 and its error line
# says why the connection could not be made again, in libpq's words: the
# token lookup under BBT074, the access-tokens API under BBT200, which
# does not quote the lost connection's "terminating connection" instead.
# DBDParams holds the role's password, which no line holds.  Given its
# password back, the server answers again without a restart.
#
# One httpd child, a pool of one connection each, no token cache: each
# request meets the pooled connection that was dropped.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since until_answer);
use BBT::Rest qw(rest_location);
use BBT::Util qw(one_child_mpm);

my $env = BBT::Env->new(db_password => 1, mpm_conf => one_child_mpm(4),
                        extra_conf => "BBTokenCache off\nDBDMin 1\nDBDKeep 1\nDBDMax 1\n",
                        api_conf => rest_location('basic'), modules => [qw(auth_basic authn_file authz_user)])
    ->start;
my $role_pw = $env->{db_role_pw};
ok(length($role_pw // '') >= 24, "httpd's roles have a password, in DBDParams");
$env->htpasswd(alice => 'alice-Pa55-word');
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my ($tok) = $env->token_create('alice', name => 'ci');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $API = '/rest/access-tokens/1.0/users/alice';

sub token_status { return $env->get($UP, auth_bearer($tok))->{status} }
sub api_status { return $env->rest(GET => $API, as => 'alice', api => 1)->{status} }

sub passwords {
    my ($pw) = @_;
    $env->psql("ALTER ROLE $_ PASSWORD '$pw'") for qw(bbtoken_httpd bbtoken_api);
}

is(token_status(), 200, 'a token request: 200');
is(api_status(), 200, 'the API: 200');
my $held = $env->psql("SELECT count(*) FROM pg_stat_activity WHERE usename IN ('bbtoken_httpd', 'bbtoken_api')");
is($held, 2, 'one pooled connection of each role');

my $mark = log_mark($env);
passwords('not-the-one-in-dbdparams');
is($env->psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
              . " WHERE usename IN ('bbtoken_httpd', 'bbtoken_api')"), 2, 'both pooled connections dropped');

my $r = $env->get($UP, auth_bearer($tok));
is_503($r, 'the token request on the dropped connection, not connected again');
my @lines = split /\n/, log_since($env, $mark);
ok((grep { /\[bbtoken:warn\] .*BBT073: / } @lines), '  tried once more (BBT073)') or diag join "\n", @lines;
my ($why) = grep { /BBT074: / } @lines;
like($why // '', qr/\[bbtoken:error\] .*\[client 127\.0\.0\.1:\d+\] BBT074: the token lookup failed: .*could not be connected again: .*password authentication failed for user "bbtoken_httpd"/,
     '  BBT074, an error of the request, says why the connection could not be made again')
    or diag join "\n", @lines;

$mark = log_mark($env);
$r = $env->rest(GET => $API, as => 'alice', api => 1);
is_503($r, 'the API on the dropped connection, not connected again');
@lines = split /\n/, log_since($env, $mark);
ok((grep { /\[bbtoken:warn\] .*BBT280: / } @lines), '  tried once more (BBT280)') or diag join "\n", @lines;
($why) = grep { /BBT200: / } @lines;
like($why // '', qr/\[bbtoken:error\] .*BBT200: access-tokens API: .* failed: .*could not be connected again: .*password authentication failed for user "bbtoken_api"/,
     '  BBT200 says why the connection could not be made again') or diag join "\n", @lines;
unlike($why // '', qr/terminating connection|server closed the connection/, '  not how the old one was lost');

unlike($env->error_log_text, qr/\Q$role_pw\E/, "no line holds DBDParams' password");

passwords($role_pw);
my ($ok, $n, $seen) = until_answer(\&token_status, 200);
ok($ok, 'the password given back: token requests are answered again') or diag $seen;
($ok, $n, $seen) = until_answer(\&api_status, 200);
ok($ok, '  and the API') or diag $seen;
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
