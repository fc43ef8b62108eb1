# A personal project's tokens follow its owner, as everything in a personal
# project does in Bitbucket: a project token of ~alice and a repository
# token of ~alice/home are refused (401, "owner disabled") while alice is
# disabled or once she is deleted, through the cache as from the database,
# and work again when she is enabled; a token of an ordinary project is
# stopped by nobody.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(parse_token);
use BBT::Assert;
use BBT::Cache qw(until_status);

my $env = BBT::Env->new->start;
$env->make_repo('~alice', 'home');
$env->make_repo('PROJ', 'one');
$env->user_add('alice');

sub scope_token {
    my ($opt, $what, $name) = @_;
    my $out = $env->cli_ok('create', $opt, $what, '--name', $name);
    chomp $out;
    my $p = parse_token($out) or die "no token printed: $out";
    return ($out, $p->{id});
}

my ($pt, $pt_id) = scope_token('--project', '~alice', 'home ci');
my ($rt, $rt_id) = scope_token('--repo', '~alice/home', 'home deploy');
my ($ot) = scope_token('--project', 'PROJ', 'proj ci');
my $home = '/scm/~alice/home.git/info/refs?service=git-upload-pack';
my $one = '/scm/PROJ/one.git/info/refs?service=git-upload-pack';

for my $c (['project', $pt], ['repository', $rt]) {
    is($env->get($home, { Authorization => $env->bearer($c->[1]) })->{status}, 200,
       "the $c->[0] token of ~alice reads ~alice/home");
}

$env->cli_ok('user', 'disable', 'alice');
for my $c (['project', $pt, $pt_id], ['repository', $rt, $rt_id]) {
    my $mark = log_mark($env->error_log_path);
    my ($ok, $n, $seen) = until_status($env, $home, { Authorization => $env->bearer($c->[1]) }, 401);
    ok($ok, "alice disabled: the $c->[0] token of ~alice is refused") or diag $seen;
    like(join("\n", log_lines_since($env->error_log_path, $mark)), qr/\Q$c->[2]\E.*owner disabled/,
         '  the log says why');
    is_401($env->get($home, { Authorization => $env->basic('x-token-auth', $c->[1]) }), 1,
           '  in Basic too');
    my $from_cache = 0;
    for (1 .. 50) {
        $mark = log_mark($env->error_log_path);
        my $st = $env->get($home, { Authorization => $env->bearer($c->[1]) })->{status};
        last if $st != 401;
        $from_cache = join("\n", log_lines_since($env->error_log_path, $mark))
            =~ /\Q$c->[2]\E refused: owner disabled \(from the cache\)/ and last;
    }
    ok($from_cache, '  refused from the cache too');
}
is($env->get($one, { Authorization => $env->bearer($ot) })->{status}, 200,
   'a token of an ordinary project is not stopped');

$env->cli_ok('user', 'enable', 'alice');
my ($ok, $n, $seen) = until_status($env, $home, { Authorization => $env->bearer($pt) }, 200);
ok($ok, 'alice enabled: the project token works again') or diag $seen;

$env->psql("DELETE FROM bbtoken_users WHERE name = 'alice'");
for my $c (['project', $pt], ['repository', $rt]) {
    ($ok, $n, $seen) = until_status($env, $home, { Authorization => $env->bearer($c->[1]) }, 401);
    ok($ok, "alice deleted: the $c->[0] token of ~alice is refused") or diag $seen;
}
is($env->get($one, { Authorization => $env->bearer($ot) })->{status}, 200,
   'the ordinary project\'s token still works');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
