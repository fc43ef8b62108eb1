#!/usr/bin/perl
# DBDInitSQL may hold a secret (a password, a key given to set_config),
# and PostgreSQL's message for a statement it refuses may quote part of
# the statement ("unterminated quoted string at or near ...", "invalid
# input syntax for type integer: ...").  When the pool's DBDInitSQL fails
# on a connection the module is to use, the request is 503 (BBT080) and
# the log says why without any of the statement's text: cache off and on
# (the listener reads a pooled session too); and with PostgreSQL's messages
# in German (lc_messages, as initdb sets it on a German system), which
# quotes with >>...<< rather than "...".
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since);
use BBT::Util qw(run_cmd);

my $secret = 'hunter2-s3cr3t';
my $env = BBT::Env->new(httpd => 0)->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my ($tok) = $env->token_create('alice', name => 'ci');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

sub refused_unsaid {
    my ($cache, $sql) = @_;
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

for my $cache (qw(off on)) {
    refused_unsaid($cache, $_)
        for "SET bbtoken_test.key = '$secret", "SELECT set_config('bbtoken_test.key', '$secret'::int::text, false)";
}

# A German locale of the test's own (LOCPATH), for PostgreSQL to translate
# its messages with.
my $loc = "$env->{dir}/locale";
mkdir $loc;
my ($rc, $out, $err) = run_cmd(cmd => ['localedef', '-i', 'de_DE', '-f', 'UTF-8', "$loc/de_DE.UTF-8"], timeout => 120);
# build/deps.sh installs what it needs (locales).
if (ok($rc <= 1 && -d "$loc/de_DE.UTF-8", 'a German locale built') || diag $err) {
    run_cmd(cmd => ['chmod', '-R', 'a+rX', $loc]);
    local $ENV{LOCPATH} = $loc;
    $env->pg_restart;
    $env->psql("ALTER SYSTEM SET lc_messages = 'de_DE.UTF-8'");
    $env->psql('SELECT pg_reload_conf()');
    sleep 1;
    my (undef, undef, $said) = $env->psql_try(q{SELECT 'x'::int}, user => 'postgres');
    like($said, qr/Eingabesyntax/, "PostgreSQL's messages are in German") or diag $said;
    refused_unsaid($_, "SELECT set_config('bbtoken_test.key', '$secret'::int::text, false)") for qw(off on);
}
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
