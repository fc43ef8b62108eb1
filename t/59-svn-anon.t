# Anonymous readers of Subversion and mod_authz_svn's
# AuthzSVNNoAuthWhenAnonymousAllowed On, driven by the real svn client.
# Where the access file allows a request anonymously (`* = r`), that
# directive ends the login before the module reads any credentials, and
# with no user httpd answers 500 (AH00027): anonymous users and tokens
# alike, so svn gets no further than its first OPTIONS.  It fails closed:
# no commit lands, with a token or without, and a path the access file
# closes to anonymous users (`* =`) still asks for a token (401).  httpd
# warns at startup (BBT361).  What the README says to do instead works:
# without the directive every request needs a token, which the access
# file narrows by path, and anonymous readers get a location of their own
# that is not AuthType BBToken, where the access file alone lets them read
# what `*` may and write nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Svn qw(svn_missing svn_conf svn_repo);
use BBT::Env qw(run_cmd);

if (my $why = svn_missing(authz => 1)) {
    plan skip_all => $why;
}

# OPEN: the access file opens the whole repository to anonymous readers;
# SUB: all but /secret; PLAIN: SUB's access file without the directive.
my $extra = svn_conf(
    ['OPEN',  'AuthzSVNAccessFile "@DIR@/authz-open"', 'AuthzSVNNoAuthWhenAnonymousAllowed On'],
    ['SUB',   'AuthzSVNAccessFile "@DIR@/authz-sub"',  'AuthzSVNNoAuthWhenAnonymousAllowed On'],
    ['PLAIN', 'AuthzSVNAccessFile "@DIR@/authz-sub"']) . <<'EOC';
<Location /anon>
    DAV svn
    SVNParentPath "@DIR@/svn/PLAIN"
    AuthzSVNAccessFile "@DIR@/authz-sub"
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_svn authz_svn)])->start;
my $d = $env->dir;
BBT::Env::spew("$d/authz-open", "[/]\n* = r\n\$authenticated = rw\n", 0644);
BBT::Env::spew("$d/authz-sub", "[/]\n* = r\n\$authenticated = rw\n[/secret]\n* =\n\$authenticated = rw\n", 0644);
make_path("$d/src/secret", "$d/work");
BBT::Env::spew("$d/src/a.txt", "open\n");
BBT::Env::spew("$d/src/secret/s.txt", "SECRET-CONTENT\n");
for my $p (qw(OPEN SUB PLAIN)) {
    svn_repo($env, $p);
    my ($rc, undef, $err) = run_cmd(cmd => ['svn', 'import', '-q', '-m', 'init', "$d/src", "file://$d/svn/$p/repo"]);
    is($rc, 0, "$p/repo has a.txt and secret/s.txt (r1)") or diag $err;
}
$env->give_to_httpd("$d/svn");

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', $_) for qw(OPEN SUB PLAIN);
my $wtok = $env->token_create('alice', name => 'svn rw', perms => ['REPO_WRITE']);
my $rtok = $env->token_create('alice', name => 'svn ro', perms => ['REPO_READ']);

sub svn {
    my ($tok, @args) = @_;
    my @auth = defined $tok ? ('--username', 'alice', '--password', $tok) : ();
    my ($rc, $out, $err) = run_cmd(
        cmd => ['svn', '--non-interactive', '--no-auth-cache', '--config-dir', "$d/svnconf", @auth, @args],
        cwd => "$d/work", timeout => 120);
    return ($rc, "$out$err");
}
sub svn_is {
    my ($name, $re, @a) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = svn(@a);
    if (defined $re) {
        ok($rc != 0 && $out =~ $re, $name) or diag "rc=$rc: $out";
    } else {
        is($rc, 0, $name) or diag $out;
    }
    return $out;
}
sub youngest {
    my (undef, $o) = run_cmd(cmd => ['svnlook', 'youngest', "$d/svn/$_[0]/repo"]);
    return $o =~ s/\s+//gr;
}

my (undef, $startup) = $env->config_test($extra);
for my $p (qw(OPEN SUB)) {
    like($startup, qr/BBT361: \S+:\d+: <Location \/svn\/$p> is AuthType BBToken with mod_authz_svn's AuthzSVNNoAuthWhenAnonymousAllowed On/,
         "httpd warns at startup about /svn/$p (BBT361)");
}
unlike($startup, qr/BBT361: \S+ <Location \/(?:svn\/PLAIN|anon)>/, '  and not about /svn/PLAIN or /anon');

my $e500 = qr/\b500\b/;
for my $p (qw(OPEN SUB)) {
    subtest "/svn/$p: AuthzSVNNoAuthWhenAnonymousAllowed On fails closed" => sub {
        my $url = $env->url("/svn/$p/repo");
        svn_is('(a) an anonymous ls: 500', $e500, undef, 'ls', $url);
        svn_is('(b) a checkout with a REPO_READ token: 500 (svn sends it after a 401)', $e500, $rtok,
               'checkout', $url, "$d/work/co-$p");
        svn_is('(c) an anonymous commit: refused', qr/\b500\b|\b401\b|[Aa]uthoriz|[Aa]uthentic/, undef,
               'mkdir', '-m', 'anon', "$url/anon");
        svn_is('(d) a commit with a REPO_READ token: refused', $e500, $rtok, 'mkdir', '-m', 'ro', "$url/ro");
        svn_is('(e) a commit with a REPO_WRITE token: refused too', $e500, $wtok, 'mkdir', '-m', 'rw', "$url/rw");
        is(youngest($p), '1', '  no commit landed');
        for my $h (['anonymous', {}], ['with a REPO_WRITE token (Basic)', { Authorization => $env->basic('alice', $wtok) }]) {
            my $res = $env->request('GET', "/svn/$p/repo/a.txt", $h->[1]);
            is($res->{status}, 500, "a GET of a file the access file opens, $h->[0]: 500");
        }
        like($env->error_log_text, qr/AH00027: No authentication done .* for \/svn\/$p\/repo/,
             '  httpd says why: no user (AH00027)');
        return unless $p eq 'SUB';
        svn_is('(f) an anonymous read of the path the access file closes: 401', qr/\b401\b|[Aa]uthoriz|[Aa]uthentic/,
               undef, 'cat', "$url/secret/s.txt");
        my $res = $env->request('GET', "/svn/$p/repo/secret/s.txt");
        is($res->{status}, 401, '  a GET of it: 401');
        unlike($res->{content} // '', qr/SECRET-CONTENT/, '  and nothing of it');
        like(svn_is('  with a REPO_READ token: read', undef, $rtok, 'cat', "$url/secret/s.txt"), qr/SECRET-CONTENT/,
             '  its content');
    };
}

subtest '/svn/PLAIN, the access file without the directive: a token everywhere, narrowed by path' => sub {
    my $url = $env->url('/svn/PLAIN/repo');
    svn_is('an anonymous ls: 401', qr/\b401\b|[Aa]uthoriz|[Aa]uthentic/, undef, 'ls', $url);
    svn_is('a checkout with a REPO_READ token', undef, $rtok, 'checkout', $url, "$d/work/co-PLAIN");
    ok(-f "$d/work/co-PLAIN/secret/s.txt", '  with the path closed to anonymous users');
    svn_is('a commit with a REPO_READ token: 403', qr/403|[Ff]orbidden/, $rtok, 'mkdir', '-m', 'ro', "$url/ro");
    svn_is('a commit with a REPO_WRITE token', undef, $wtok, 'mkdir', '-m', 'rw', "$url/rw");
    is(youngest('PLAIN'), '2', '  the one commit');
    is($env->request('GET', '/svn/PLAIN/repo/secret/s.txt')->{status}, 401, 'an anonymous GET of the closed path: 401');
};

subtest '/anon, a location that is not AuthType BBToken: the access file alone' => sub {
    my $url = $env->url('/anon/repo');
    like(svn_is('an anonymous ls', undef, undef, 'ls', $url), qr/^a\.txt$/m, '  lists what * may read');
    svn_is('an anonymous read of the closed path: 403', qr/403|[Ff]orbidden/, undef, 'cat', "$url/secret/s.txt");
    svn_is('an anonymous commit: 403', qr/403|[Ff]orbidden/, undef, 'mkdir', '-m', 'anon', "$url/anon");
    svn_is('a commit with a REPO_WRITE token: 403 (no one logs in there)', qr/403|[Ff]orbidden/, $wtok,
           'mkdir', '-m', 'rw', "$url/rw2");
    is(youngest('PLAIN'), '2', '  no commit landed');
};

unlike($env->error_log_text . $env->access_log_text, qr/\Q$wtok\E|\Q$rtok\E/, 'no token in the logs');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
