# The git LFS server where the shipped configuration puts it
# (bbtoken-git.conf's ScriptAliasMatch line, which the README shows too) is
# reached only through the module's location.  On Debian, the platform the
# package is for, serve-cgi-bin.conf is enabled by default: it runs every
# program in /usr/lib/cgi-bin for anyone at /cgi-bin/, with no login.  So
# the test loads Debian's own serve-cgi-bin.conf beside the shipped line,
# both with their filesystem paths moved under a directory of the test's
# (the same move for both), puts the stand-in LFS server (t/lfs/lfs.cgi)
# where the line says, and asks for it at every URL but the module's.  And
# the line hands the server only what the git routes decide as LFS.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path);
use BBT::Env qw(auth_bearer);
use BBT::Util qw(slurp);
use BBT::Assert;

my $SERVE_CGI_BIN = '/etc/apache2/conf-available/serve-cgi-bin.conf';
plan skip_all => "no $SERVE_CGI_BIN (Debian's apache2 ships it)" unless -r $SERVE_CGI_BIN;

my $ROOT = $BBT::Env::ROOT;
my $conf = slurp("$ROOT/conf/bbtoken-git.conf.in") // '';
my ($line) = $conf =~ /^#(ScriptAliasMatch .*)$/m;
ok(defined $line, 'bbtoken-git.conf shows where an LFS server goes') or BAIL_OUT('no LFS line');
my $readme = slurp("$ROOT/README") // '';
like($readme, qr/^ +\Q$line\E$/m, 'the README shows the same line');
my ($script) = $line =~ m{^ScriptAliasMatch +"[^"]+" +"(/[^"\$]+)/\$1"$};
ok(defined $script, "the line aliases onto a program: $script") or BAIL_OUT('cannot read the line');

# Filesystem paths moved under @DIR@/root; the module's prefix /scm moved to
# /lscm, since the harness's own ScriptAlias /scm/ comes first.
my $local = sub {
    my ($t) = @_;
    $t =~ s{(?<=["\s])(/usr/(?!lib/git-core/)[^"\s]*)}{\@DIR\@/root$1}g;
    $t =~ s{/srv/git\b}{\@DIR\@/repos}g;
    $t =~ s{\^?/scm\b}{$& eq '^/scm' ? '^/lscm' : '/lscm'}ge;
    $t =~ s{^(\s*BBTokenRoutes git)\s*$}{$1 /lscm}m;
    return $t;
};
my $git = $conf;
$git =~ s/^#\Q$line\E$/$line/m;
$git = $local->($git);
my $cgibin = $local->(slurp($SERVE_CGI_BIN));
like($cgibin, qr{ScriptAlias /cgi-bin/ \@DIR\@/root/usr/lib/cgi-bin/}, 'serve-cgi-bin.conf, its path made local');

my $env = BBT::Env->new(extra_conf => "SetEnv LFS_DIR \"\@DIR\@/lfs\"\n$cgibin\n$git", httpd => 0)->start;
my $D = $env->dir;
make_path("$D/root/usr/lib/cgi-bin", "$D/lfs", dirname("$D/root$script"));
copy("$FindBin::Bin/lfs/lfs.cgi", "$D/root$script") or die "copy: $!";
chmod 0755, "$D/root$script";
chmod 0755, "$D/root";
$env->give_to_httpd("$D/lfs");
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $read = $env->token_create('alice', name => 'r', perms => ['REPO_READ']);
my $write = $env->token_create('alice', name => 'w', perms => ['REPO_WRITE']);

sub backend { my $t = slurp("$D/lfs/log") // ''; return [split /\n/, $t] }
my $LFS = '/PROJ/repo.git/info/lfs';
my $upload = '{"operation":"upload","objects":[{"oid":"' . ('a' x 64) . '","size":1}]}';
my $download = '{"operation":"download","objects":[{"oid":"' . ('a' x 64) . '","size":1}]}';
my %json = ('Content-Type' => 'application/vnd.git-lfs+json');

# Control: the shipped line serves the LFS server behind the module.
is_ok_res($env->request('POST', "/lscm$LFS/objects/batch", auth_bearer($read, \%json), $download),
          'control: a download batch with a read token, through the module: 200');
like(join("\n", @{ backend() }), qr{^POST \Q$LFS\E/objects/batch op=download .* user=alice perm=REPO_READ$}m,
     '  it reached the LFS server, decided');
is_403($env->request('POST', "/lscm$LFS/objects/batch", auth_bearer($read, \%json), $upload),
       'control: an upload batch with the read token: 403');

# Every other URL that runs the same program: none may reach it.
(my $under = $script) =~ s{^/usr/lib/cgi-bin}{};
my %around = map { $_ => 1 } ($under ne $script ? ("/cgi-bin$under") : ()), '/cgi-bin/' . ($script =~ s{.*/}{}r);
my @around = sort keys %around;
my $n = @{ backend() };
for my $url (@around) {
    for my $req (['POST', "$url$LFS/objects/batch", $upload], ['POST', "$url$LFS/locks", '{"path":"x"}'],
                 ['GET', "$url$LFS/locks", undef]) {
        my $res = $env->request($req->[0], $req->[1], {%json}, $req->[2]);
        cmp_ok($res->{status}, ">=", 400, "$req->[0] $req->[1] without credentials: not served ($res->{status})");
    }
}
is_deeply([@{ backend() }[$n .. $#{ backend() }]], [], 'the LFS server was given none of them');

# A path under PROJ/repo's refs/ holding OTHER/secret.git/info/lfs/ must
# not reach the LFS server, which would read another repository into it:
# the git set refuses to write such a name under refs/ (a component ending
# in .git, or info), but a GET of one that is there is a read of a ref
# (the last below); the alias's capture is the routes' shape,
# {KEY}/{slug}.git/info/lfs/..., and no more.
my $oid = 'b' x 64;
$n = @{ backend() };
for my $req (['GET', 'read', "/lscm/PROJ/repo.git/refs/OTHER/secret.git/info/lfs/objects/$oid"],
             ['PUT', 'write', "/lscm/PROJ/repo.git/refs/OTHER/secret.git/info/lfs/objects/$oid"],
             ['GET', 'read', '/lscm/PROJ/repo.git/refs/heads/x.git/info/lfs/locks']) {
    my ($method, $t, $url) = @$req;
    $env->request($method, $url, auth_bearer($t eq 'read' ? $read : $write), $method eq 'PUT' ? 'x' : undef);
}
is_deeply([@{ backend() }[$n .. $#{ backend() }]], [],
          'ref paths ending in .git/info/lfs/...: the LFS server was given none of them');

done_testing;
