#!/usr/bin/perl
# The cache's listener on a schema older than the module reads: on version
# 3, which has no notifying triggers, it says so (BBT310) and looks again
# now and then; once the schema is upgraded under it (to version 20, which
# has them and not yet bbtoken_lookup, made by version 26) it subscribes,
# httpd not restarted.  Neither is a connection failure: no BBT308, which
# a statement naming a table of a later version would give instead, and
# which reads as PostgreSQL out of reach.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Cache qw(log_mark log_since wait_log wait_lines);

my $ROOT = $BBT::Env::ROOT;
my @MIGRATIONS = sort glob "$ROOT/sql/migrations/0*.sql";

my $env = BBT::Env->new(httpd => 0, grants => 0, schema_files => [$MIGRATIONS[0]])->start;

# The migrations after version $from up to $to, each in its own
# transaction, as `bbtoken db upgrade` runs them (the CLI wants the latest
# schema's roles, which these versions have not made yet).
sub upgrade {
    my ($from, $to) = @_;
    my @files = grep { m{/(\d{4})_} && $1 > $from && $1 <= $to } @MIGRATIONS;
    BBT::Util::spew($env->dir . "/scratch/upto-$to.sql", join '', map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @files);
    $env->psql(undef, file => $env->dir . "/scratch/upto-$to.sql");
    is($env->psql('SELECT max(version) FROM bbtoken_schema'), $to, "the database is at version $to");
}

upgrade(1, 3);
# What the listener reads, as the grants of those days gave it.
$env->psql('GRANT SELECT ON bbtoken_users, bbtoken_project_grants, bbtoken_repo_grants, '
           . 'bbtoken_tokens, bbtoken_schema TO bbtoken_httpd');
$env->write_cgi;
$env->httpd_start;

my $old = qr/BBT310: the database's schema is version 3, without the notifications the token cache needs \(4\)/;
my $lines = join "\n", wait_lines($env->error_log_path, 0, qr/$old(?s:.*)$old/);
like($lines, qr/\[bbtoken:warn\][^\n]*$old/, 'version 3: the listener says the schema is too old (BBT310, at warn)');
like($lines, qr/$old(?s:.*)\[bbtoken:debug\][^\n]*$old/, '  and looks again (BBT310, then at debug)');
unlike($lines, qr/BBT308/, '  not that it cannot reach PostgreSQL (no BBT308)');
unlike($lines, qr/BBT309/, '  nor that it hears it (no BBT309)');

# Upgraded under it: the next look finds the triggers.
upgrade(3, 20);
is($env->psql("SELECT to_regclass('bbtoken_lookup') IS NULL"), 't', 'version 20 has no bbtoken_lookup yet');
my $mark = log_mark($env);
ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL/),
   'version 20: the listener subscribes, httpd not restarted (BBT309)');
my $log = log_since($env, $mark);
unlike($log, qr/BBT308/, '  no BBT308') or diag $log;
unlike($log, qr/BBT710/, '  the six triggers of those versions all fire (no BBT710)') or diag $log;

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
