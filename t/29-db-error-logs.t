# A database error met while serving a request is logged with that request
# (its client, under its message id), not as a bare server line; and the
# 503 it causes carries Retry-After.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Assert;
use BBT::Cache ();

my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'ci');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

is_ok_res($env->get($UP, { Authorization => "Bearer $tok" }), 'the token works');
my $mark = log_mark($env->error_log_path);
my $cache_mark = BBT::Cache::log_mark($env);
$env->pg_stop;
# Until the token cache's listener has seen the database go, the cache may
# still answer the token it holds: it says it lost its connection
# (BBT307), or, when PostgreSQL went before it had connected at all, that
# it cannot reach it (BBT308; the cache was never believed).
ok(BBT::Cache::wait_log($env, $cache_mark, qr/BBT30[78]: /), "the cache's listener knows the database is gone");
# The first request meets a pooled connection PostgreSQL dropped; the next
# ones find no connection at all.
for my $n (1 .. 3) {
    is_503($env->get($UP, { Authorization => "Bearer $tok" }), "database down: 503 ($n)");
}
my @lines = grep { /BBT07\d: / } log_lines_since($env->error_log_path, $mark);
ok(@lines >= 2, 'the error log says what failed, under the database ids (BBT07x)')
    or diag join "\n", log_lines_since($env->error_log_path, $mark);
ok((grep { /BBT070: no database connection available/ } @lines), '  that no connection was to be had');
# One check over every line, not one a line: how many lines the requests
# log is the timing's, and the suite's count of checks must not be.
is_deeply([grep { !/\[client 127\.0\.0\.1:\d+\] BBT07\d: / } @lines], [],
          '  each on a line of the request, naming its client');
# libpq ends its messages with a newline and breaks longer ones with
# newline and tab, which the error log would write as "\n" and "\t".
is_deeply([grep { /\\[nt]/ } @lines], [], '  each on one line, with no escaped newline or tab');
$env->pg_start;
done_testing;
