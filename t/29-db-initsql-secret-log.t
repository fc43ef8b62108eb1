#!/usr/bin/perl
# DBDInitSQL may hold a secret (a password, a key given to set_config),
# and PostgreSQL's message for a statement it refuses may quote part of
# the statement ("unterminated quoted string at or near ...", "invalid
# input syntax for type integer: ...").  When the pool's DBDInitSQL fails
# on a connection the module is to use, the request is 503 (BBT080) and
# the log says why without any of the statement's text: cache off and on
# (the listener reads a pooled session too).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since);

my $secret = 'hunter2-s3cr3t';
my $env = BBT::Env->new(httpd => 0)->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my ($tok) = $env->token_create('alice', name => 'ci');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

for my $cache (qw(off on)) {
    for my $sql ("SET bbtoken_test.key = '$secret", "SELECT set_config('bbtoken_test.key', '$secret'::int::text, false)") {
        subtest "$sql, cache $cache" => sub {
            my $mark = log_mark($env);
            $env->{extra_conf} = "BBTokenCache $cache\nDBDInitSQL \"$sql\"\n";
            $env->httpd_start;
            my @seen = map { $env->get($UP, auth_bearer($tok))->{status} } 1 .. 3;
            is("@seen", '503 503 503', 'DBDInitSQL fails: 503');
            my @ours = grep { /bbtoken/ } split /\n/, log_since($env, $mark);
            my ($said) = grep { /BBT080: .*SQLSTATE/ } @ours;
            ok($said, 'BBT080 says the SQLSTATE') or diag join "\n", @ours;
            note $said if $said;
            my @leaks = grep { /\Q$secret\E/ } @ours;
            is(scalar(@leaks), 0, "no line of the module's quotes the statement") or diag join "\n", @leaks;
            $env->httpd_stop(graceful => 1);
        };
    }
}
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
