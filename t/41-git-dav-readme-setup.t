# The README's commands that ready the repositories for git over mod_dav
# (git update-server-info in each, and receive.updateServerInfo where
# /scm pushes to them too), taken from the README and run as root, as an
# administrator following it does.  The README said to run them in each
# repository, which root did as root, and git refuses a repository
# httpd's User owns ("detected dubious ownership", exit 128): the tests'
# own git trusts every directory (safe.directory = *), so none noticed.
# Here git reads no configuration but what the README's lines set: they
# make info/refs and the setting, httpd's User's files; a dumb clone
# over /dgit then works, and a smart push over /scm updates info/refs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Util qw(run_cmd slurp);
use BBT::Env;
use BBT::GitDav;

plan skip_all => 'as root only: the README\'s lines run as root, through runuser' unless $BBT::Util::IS_ROOT;
plan skip_all => 'no runuser' unless grep { -x "$_/runuser" } split /:/, "$ENV{PATH}:/usr/sbin:/sbin";
plan skip_all => "no user $BBT::Httpd::RUN_USER" unless defined getpwnam $BBT::Httpd::RUN_USER;

# The README's indented block that runs update-server-info, its indent
# taken off.
my $readme = slurp("$BBT::Env::ROOT/README");
my ($block) = grep {/\bupdate-server-info\b/} $readme =~ /((?:^    [^\n]*\S[^\n]*\n)+)/mg;
ok(defined $block, 'the README has the lines that run update-server-info') or BAIL_OUT('no such block');
$block =~ s/^    //mg;
like($block, qr/\bconfig receive\.updateServerInfo true\b/, '  and set receive.updateServerInfo');
like($block, qr{/srv/git\b}, '  in /srv/git\'s repositories');

my $env = BBT::GitDav::start();
my $root = $env->repo_root;
my @repos = ($env->make_repo('PROJ', 'repo'), $env->make_repo('OTHER', 'thing'), $env->make_repo('~alice', 'home'));
ok(!-e "$_/info/refs", "no info/refs in $_ yet") for @repos;

# As root, in a directory of root's own, with no git configuration of the
# system's or of root's (no safe.directory); runuser gives the user's
# HOME, where www-data has none.
my $home = $env->dir . '/scratch/root-home';
make_path($home);
chmod 0700, $home;
my %genv = (HOME => $home, GIT_CONFIG_NOSYSTEM => 1, XDG_CONFIG_HOME => undef, GIT_CONFIG_GLOBAL => undef,
            GIT_DIR => undef, GIT_WORK_TREE => undef, LC_ALL => 'C');

# What the README's lines are for: root's git refuses such a repository.
my ($rc, $out, $err) = run_cmd(cmd => ['git', '-C', $repos[0], 'update-server-info'], env => \%genv, cwd => $home,
                               tmp => $env->dir . '/run');
SKIP: {
    skip 'this git does not check ownership', 1 if $rc == 0;
    ok($rc == 128 && $err =~ /dubious ownership/, 'root\'s own git run refuses it (exit 128)') or diag "$rc $err";
    unlink "$repos[0]/info/refs";
}

(my $script = $block) =~ s{/srv/git\b}{$root}g;
$script =~ s/\bwww-data\b/$BBT::Httpd::RUN_USER/g;
($rc, $out, $err) = run_cmd(cmd => ['sh', '-c', $script], env => \%genv, cwd => $home, tmp => $env->dir . '/run');
is($rc, 0, 'the README\'s lines, as root: exit 0') or diag $err;
is($err, '', '  nothing on stderr') or diag $err;
my $uid = (getpwnam $BBT::Httpd::RUN_USER)[2];
for my $bare (@repos) {
    (my $name = $bare) =~ s{^\Q$root\E/}{};
    my $head = $env->git_ok('--git-dir', $bare, 'rev-parse', 'main');
    my $refs = -f "$bare/info/refs" ? slurp("$bare/info/refs") : '';
    like($refs, qr/^\Q$head\E\trefs\/heads\/main$/m, "$name: info/refs made");
    is((stat "$bare/info/refs")[4], $uid, "  owned by $BBT::Httpd::RUN_USER, who rewrites it");
    is($env->git_ok('--git-dir', $bare, 'config', 'receive.updateServerInfo'), 'true',
       '  receive.updateServerInfo true');
}

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);
my $w = $env->workdir('dumb');
$env->git_is('a dumb clone over /dgit', 1, 'clone', '-q', $env->clone_url('alice', $tok, 'PROJ', 'repo', 'dgit'), $w);
my $s = $env->workdir('smart');
$env->git_is('a clone over /scm', 1, 'clone', '-q', $env->clone_url('alice', $tok, 'PROJ', 'repo'), $s);
my $c = $env->commit_file($s, 'smart.txt', "pushed through git-http-backend\n");
$env->git_is('a smart push over /scm', 1, { cwd => $s }, 'push', '-q', 'origin', 'main');
like(slurp("$repos[0]/info/refs"), qr/^\Q$c\E\trefs\/heads\/main$/m, '  info/refs has it (receive.updateServerInfo)');
my $w2 = $env->workdir('dumb-again');
$env->git_is('a dumb clone after it', 1, 'clone', '-q', $env->clone_url('alice', $tok, 'PROJ', 'repo', 'dgit'), $w2);
ok(-f "$w2/smart.txt", '  sees the smart push');

done_testing;
