# Names that hold a backslash or a ";": the module reads a path as a
# backend may (a backslash as a slash, a ;parameter dropped), and that
# reading, its slashes merged, must be the same route on the same
# repository.  mod_dav_svn takes such a name as bytes: "\lead.txt" in
# trunk reads "trunk//lead.txt", still the repository's, so it is
# exported, read and deleted as any file (each path mod_dav_svn checks is
# a sub-request the module routes, and one it refused was left out of a
# checkout without a word).  One whose reading holds a dot segment
# ("in\..\place.txt", "..;x") stays refused: a backend that applies only
# part of the reading would resolve it elsewhere (t/43).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Svn qw(svn_missing svn_conf svn_repo);
use BBT::Env qw(run_cmd);

if (my $why = svn_missing()) {
    plan skip_all => $why;
}

my $env = BBT::Env->new(modules => [qw(dav dav_svn)], extra_conf => svn_conf('PROJ'))->start;
my $d = $env->dir;
make_path("$d/work");
my @names = ('\lead.txt', 'two\\\\slashes.txt', 'ok;name.txt');
my @refused = ('in\..\place.txt', '..;x');
svn_repo($env, 'PROJ');
my ($rc, $out, $err) = run_cmd(cmd => ['svn', 'co', '-q', "file://$d/svn/PROJ/repo", "$d/work/f"]);
make_path("$d/work/f/trunk");
BBT::Env::spew("$d/work/f/trunk/$_", "$_\n") for @names, @refused;
($rc, $out, $err) = run_cmd(cmd => ['svn', 'add', '-q', 'trunk'], cwd => "$d/work/f");
is($rc, 0, 'added locally') or diag $err;
($rc, $out, $err) = run_cmd(cmd => ['svn', 'ci', '-q', '-m', 'names'], cwd => "$d/work/f");
is($rc, 0, 'committed locally (file://)') or diag $err;
$env->give_to_httpd("$d/svn");
$env->user_add('alice');
$env->grant('alice', 'PROJECT_ADMIN', 'PROJ');
my $tok = $env->token_create('alice', name => 'svn', perms => ['PROJECT_ADMIN']);
# The password from a file: not among svn's arguments.
BBT::Env::spew("$d/work/pw", $tok, 0600);
my @svn = ('svn', '--non-interactive', '--no-auth-cache', '--config-dir', "$d/svnconf", '--username', 'alice',
           '--password-from-stdin');
sub svn { my @a = @_; return run_cmd(cmd => [@svn, @a], stdin => "$tok\n", timeout => 120) }

($rc, $out, $err) = svn('export', '-q', $env->url('/svn/PROJ/repo/trunk'), "$d/work/ex");
is($rc, 0, 'export over HTTP exits 0') or diag $err;
ok(-f "$d/work/ex/$_", "  $_ exported") or diag `ls -A $d/work/ex` for @names;
ok(!-e "$d/work/ex/$_", "  $_, read with a dot segment, is not") for @refused;
($rc, $out, $err) = svn('cat', $env->url('/svn/PROJ/repo/trunk/%5Clead.txt'));
is($out, "\\lead.txt\n", 'svn cat \lead.txt') or diag $err;
($rc, $out, $err) = svn('rm', '-q', '-m', 'rm', $env->url('/svn/PROJ/repo/trunk/%5Clead.txt'));
is($rc, 0, 'and a PROJECT_ADMIN token deletes it') or diag $err;
($rc, $out, $err) = svn('ls', $env->url('/svn/PROJ/repo/trunk'));
unlike($out, qr/^\\lead\.txt$/m, '  gone');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
