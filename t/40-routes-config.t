# The route language at configuration time: a bad route stops httpd from
# starting with a message that names the file and line; route files load
# with a prefix; the shipped sets load as they are.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
my $dir = $env->dir;

sub conf_with {
    my ($body) = @_;
    return "<Location /t>\n    AuthType BBToken\n    AuthName \"Git\"\n$body\n    Require bbtoken\n</Location>\n";
}

# The line of the test configuration that holds $needle.
sub line_of {
    my ($needle) = @_;
    my @l = split /\n/, BBT::Env::slurp("$dir/httpd-test.conf");
    for my $i (0 .. $#l) { return $i + 1 if index($l[$i], $needle) >= 0 }
    return -1;
}

my ($rc, $out) = $env->config_test(conf_with(
    "    BBTokenRoutes git\n    BBTokenRoutes dav /files\n    BBTokenRoutes bitbucket-rest\n"
    . "    BBTokenRoute GET,HEAD \"/t/(?<project>[A-Z]+)/(?<repo>[a-z]+)\" REPO_READ query=\n"
    . "    BBTokenRoute * \"/t/flat/(?<repo>[a-z]+)\\.git/.*\" REPO_WRITE project=FLAT\n"
    . "    BBTokenRoute COPY,MOVE \"/t/x/.*\" deny destination\n"
    . "    BBTokenRoute POST \"/t/(?<project>[A-Z]+)\" PROJECT_ADMIN token=REPO_ADMIN\n"));
is($rc, 0, 'shipped sets and hand-written routes load') or diag $out;

my @bad = (
    ['unknown permission', 'BBTokenRoute GET "/t/(?<project>[A-Z]+)/(?<repo>[a-z]+)" REPO_READS',
     qr/unknown permission.*REPO_READS/],
    ['lower-case permission', 'BBTokenRoute GET "/t/(?<project>[A-Z]+)/(?<repo>[a-z]+)" repo_read',
     qr/unknown permission/],
    ['REPO_ permission without a repo capture', 'BBTokenRoute GET "/t/(?<project>[A-Z]+)/x" REPO_WRITE',
     qr/REPO_ permission needs a \(\?<repo>/],
    ['permission without a project', 'BBTokenRoute GET "/t/(?<repo>[a-z]+)" REPO_READ',
     qr/needs a \(\?<project>\.\.\.\) capture or project=KEY/],
    ['both a project capture and project=', 'BBTokenRoute GET "/t/(?<project>[A-Z]+)/(?<repo>[a-z]+)" REPO_READ project=X',
     qr/both a \(\?<project>/],
    ['regex that does not compile', 'BBTokenRoute GET "/t/(?<project>[A-Z]+/(?<repo>[a-z]+)" REPO_READ',
     qr/pattern does not compile/],
    ['query regex that does not compile', 'BBTokenRoute GET "/t/(?<project>[A-Z]+)" PROJECT_READ "query=a("',
     qr/query pattern does not compile/],
    ['invalid fixed project', 'BBTokenRoute GET "/t/(?<repo>[a-z]+)" REPO_READ project=1X',
     qr/invalid project key/],
    ['unknown option', 'BBTokenRoute GET "/t/(?<project>[A-Z]+)" PROJECT_READ sevice=x',
     qr/unknown route option/],
    ['option twice', 'BBTokenRoute GET "/t/(?<project>[A-Z]+)" PROJECT_READ query= query=x',
     qr/route option given twice/],
    ['bad method list', 'BBTokenRoute GET,,HEAD "/t/(?<project>[A-Z]+)" PROJECT_READ',
     qr/empty method/],
    ['method with a space-less junk', 'BBTokenRoute "GET HEAD" "/t/(?<project>[A-Z]+)" PROJECT_READ',
     qr/invalid method list/],
    ['too few words', 'BBTokenRoute GET "/t/x"', qr/needs METHODS PATTERN PERMISSION/],
    ['unknown token= permission', 'BBTokenRoute POST "/t/(?<project>[A-Z]+)" PROJECT_READ token=ADMIN',
     qr/unknown permission 'ADMIN'/],
    ['unknown route set', 'BBTokenRoutes svn', qr/unknown route set 'svn'.*git, dav, bitbucket-rest/],
    ['none with a prefix', 'BBTokenRoutes none /x', qr/BBTokenRoutes: .*'none' takes no URL prefix/],
    # "Nothing here is open to tokens" must not be said of a section that
    # opens something: none appends nothing, so the routes before it stay.
    ['none after a route', 'BBTokenRoutes none', qr/BBTokenRoutes: .*'none' .*other routes before it/],
    ['prefix with a bad character', 'BBTokenRoutes git "/s(c)m"', qr/URL prefix must/],
    # httpd hands "" over as no prefix: git's own, /scm, was taken.
    ['empty prefix', 'BBTokenRoutes git ""', qr/BBTokenRoutes: .*the URL prefix is empty; it begins with '\/' \(the site's root is '\/'\)/],
    ['@PREFIX@ in a hand-written route', 'BBTokenRoute GET "@PREFIX@/(?<project>[A-Z]+)" PROJECT_READ',
     qr/\@PREFIX\@ without a prefix.*BBTokenRoute has none/],
    # In an option as in the pattern: a single route has no prefix.
    ['@PREFIX@ in a hand-written route\'s query=', 'BBTokenRoute GET "/t/(?<project>[A-Z]+)" PROJECT_READ query=p=@PREFIX@',
     qr/\@PREFIX\@ without a prefix.*BBTokenRoute has none.*'query=p=\@PREFIX\@'/],
);
for my $c (@bad) {
    my ($name, $line, $re) = @$c;
    my ($rc, $out) = $env->config_test(conf_with("    BBTokenRoute GET \"/t/(?<project>[A-Z]+)\" PROJECT_READ\n    $line"));
    my $n = line_of($line);
    isnt($rc, 0, "$name: httpd refuses the configuration");
    like($out, $re, "  the message says why");
    like($out, qr/(line $n\b.*httpd-test\.conf|httpd-test\.conf:$n\b)/, "  and names the line ($n)") or diag $out;
}

for my $later ('BBTokenRoutes dav /t', 'BBTokenRoute GET "/t/(?<project>[A-Z]+)" PROJECT_READ') {
    ($rc, $out) = $env->config_test(conf_with("    BBTokenRoutes none\n    $later"));
    my $n = line_of($later);
    isnt($rc, 0, "a route after 'BBTokenRoutes none' in the same section: refused ($later)");
    like($out, qr/httpd-test\.conf:$n: .*'(BBTokenRoutes )?none' .*other routes/, '  naming its line') or diag $out;
}
($rc, $out) = $env->config_test(conf_with("    BBTokenRoutes none\n    BBTokenRoutes none"));
is($rc, 0, "'BBTokenRoutes none' twice says the same thing") or diag $out;
($rc, $out) = $env->config_test(conf_with("    BBTokenRoutes git /"));
is($rc, 0, "the site's root as a URL prefix is '/'") or diag $out;

# A route file: its own lines are named, and @PREFIX@ is its prefix.
BBT::Env::spew("$dir/my-routes.conf", <<'EOR');
# comment

BBTokenRoute GET "@PREFIX@/(?<project>[A-Z]+)/(?<repo>[a-z]+)" REPO_READ
BBTokenRoute GET "@PREFIX@/(?<project>[A-Z]+)" REPO_WRITE
EOR
($rc, $out) = $env->config_test(conf_with("    BBTokenRoutes $dir/my-routes.conf /t"));
isnt($rc, 0, 'a route file with a bad route is refused');
like($out, qr{\Q$dir\E/my-routes\.conf:4: a REPO_ permission needs}, '  naming the file and its line 4') or diag $out;

BBT::Env::spew("$dir/my-routes.conf", "BBTokenRoute GET \"\@PREFIX\@/(?<project>[A-Z]+)\" PROJECT_READ\n");
($rc, $out) = $env->config_test(conf_with("    BBTokenRoutes $dir/my-routes.conf /t"));
is($rc, 0, 'a good route file loads with a prefix') or diag $out;
($rc, $out) = $env->config_test(conf_with("    BBTokenRoutes $dir/my-routes.conf"));
isnt($rc, 0, 'a route file using @PREFIX@ needs a prefix');
like($out, qr/my-routes\.conf:1: \@PREFIX\@ without a prefix/, '  and says so') or diag $out;
BBT::Env::spew("$dir/my-routes.conf", "BBTokenRoute GET \"/t/(?<project>[A-Z]+)\" PROJECT_READ query=p=\@PREFIX\@\n");
($rc, $out) = $env->config_test(conf_with("    BBTokenRoutes $dir/my-routes.conf"));
like($out, qr/my-routes\.conf:1: \@PREFIX\@ without a prefix/, '  in an option too') or diag $out;
BBT::Env::spew("$dir/other.conf", "Require all granted\n");
($rc, $out) = $env->config_test(conf_with("    BBTokenRoutes $dir/other.conf"));
like($out, qr/other\.conf:1: a route file holds only BBTokenRoute lines/, 'a route file holds nothing else')
    or diag $out;
# A file that holds no route (emptied, only comments) is a
# mistake until said otherwise: every token would be refused there.
for my $c (['empty', ''], ['only comments', "# BBTokenRoute GET \"/t/.*\" PROJECT_READ project=X\n\n"]) {
    BBT::Env::spew("$dir/empty.conf", $c->[1]);
    ($rc, $out) = $env->config_test(conf_with("    BBTokenRoutes $dir/empty.conf /t"));
    isnt($rc, 0, "a route file that is $c->[0] is refused");
    like($out, qr{BBTokenRoutes: \S+httpd-test\.conf:\d+: \Q$dir\E/empty\.conf holds no route \(say 'BBTokenRoutes none'},
         '  saying so') or diag $out;
}
# Only a regular file: opening a FIFO would wait for a writer, and httpd
# with it, before any message.
($rc, $out) = $env->config_test(conf_with("    BBTokenRoutes /dev/null"));
like($out, qr{BBTokenRoutes: \S+httpd-test\.conf:\d+: /dev/null is not a regular file}, '/dev/null is refused')
    or diag $out;
POSIX::mkfifo("$dir/fifo.conf", 0600) or die "mkfifo: $!";
mkdir "$dir/dir.conf";
for my $f ('fifo.conf', 'dir.conf') {
    ($rc, $out) = $env->config_test(conf_with("    BBTokenRoutes $dir/$f"));
    isnt($rc, 0, "a route file that is a " . ($f =~ /fifo/ ? 'FIFO' : 'directory') . ' is refused at once');
    like($out, qr{\Q$dir/$f\E is not a regular file}, '  saying so') or diag $out;
}
($rc, $out) = $env->config_test(conf_with("    BBTokenRoutes $dir/missing.conf"));
like($out, qr/cannot open/, 'a missing route file is refused') or diag $out;

# The shipped files are what the module has built in.
for my $set (qw(git dav bitbucket-rest)) {
    my $copy = "$dir/copy-$set.conf";
    BBT::Env::spew($copy, BBT::Env::slurp("$BBT::Env::ROOT/routes/$set.conf"));
    ($rc, $out) = $env->config_test(conf_with("    BBTokenRoutes $copy /t"));
    is($rc, 0, "routes/$set.conf loads as a copied route file") or diag $out;
}

done_testing;
