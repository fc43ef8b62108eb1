# Sections httpd merges after others wherever they are written: every
# <If>, <ElseIf> and <Else> after every <Location> (an <If> inside a
# section applies where that section does), every <DirectoryMatch> and
# <Directory ~> after every plain <Directory>, every <Files> and
# <FilesMatch> after every <Directory>.  One that sets routes replaces
# those of a narrower section it is merged over, however the two are
# written: a REPO_READ token reads what asked for REPO_ADMIN.  httpd warns
# at startup (BBT362) naming both, and not BBT352 ("they do nothing there")
# about routes that do replace others or are replaced themselves; an <If>,
# <DirectoryMatch> or <Files> inside the narrower section itself, or
# narrower than it, is what the narrower section is written with.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use File::Path qw(make_path);
use BBT::Env qw(auth_bearer);

my $env = BBT::Env->new(extra_conf => '')->start;
my $d = $env->dir;
make_path("$d/dav/PROJ/secret");
BBT::Util::spew("$d/dav/PROJ/secret/f.txt", "hello\n", 0644);
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'secret');
my ($tok) = $env->token_create('carol', name => 'ci', perms => ['REPO_READ']);

# The BBT362 lines of a configuration test, each "<section> <section>":
# the one replaced and the one that replaces it.  With the BBT352 lines.
sub check {
    my ($name, $text, $want, $want352) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = $env->config_test($text);
    is($rc, 0, "$name: httpd starts") or diag $out;
    my @got;
    push @got, "$1 $2" while $out =~ /BBT362: \S+:\d+: (<\w+ [^>]*>) sets .*?, and (<\w+[^>]*>) \(/g;
    is_deeply(\@got, $want, "$name: warnings") or diag $out;
    my @b352 = $out =~ /BBT352: \S+:\d+: (<\w+[^>]*>)/g;
    is_deeply(\@b352, $want352 || [], "$name: BBT352") or diag $out;
    return $out;
}

# What a REPO_READ token gets from a URL under that configuration.
sub status {
    my ($conf, $path) = @_;
    $env->httpd_restart(extra_conf => $conf);
    return HTTP::Tiny->new->get($env->url($path), { headers => auth_bearer($tok) })->{status};
}

my $SECRET = <<'EOC';
<Location /scm/PROJ/secret.git>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoute GET,POST "/scm/(?<project>PROJ)/(?<repo>secret)\\.git/.*" REPO_ADMIN
    Require bbtoken
</Location>
EOC
my $refs = '/scm/PROJ/secret.git/info/refs?service=git-upload-pack';

# An <If> inside a broader <Location> written before the narrower one.
my $if_in_proj = <<'EOC';
<Location /scm/PROJ>
    AuthType BBToken
    AuthName "Git"
    Require bbtoken
    <If "-n %{HTTP_HOST}">
        BBTokenRoutes git
    </If>
</Location>
EOC
my $out = check('an <If> in a broader <Location>, written before', $if_in_proj . $SECRET,
                ['<Location /scm/PROJ/secret.git> <If "-n %{HTTP_HOST}">']);
like($out, qr{<If "-n %\{HTTP_HOST\}"> \(\S+\), inside <Location /scm/PROJ> \(\S+\), which covers its path, sets routes too: httpd merges every <If>, <ElseIf> and <Else> after every <Location>, wherever it is written},
     '  names the section it is in and says why');
is(status($if_in_proj . $SECRET, $refs), 200, '  and the REPO_READ token reads secret.git');
is(status($if_in_proj =~ s/<If "-n %\{HTTP_HOST\}">\n\s*(BBTokenRoutes git)\n\s*<\/If>/$1/r . $SECRET, $refs), 403,
   '  which it does not with the routes outside the <If>');
check('an <If> and an <Else> in the narrower section itself', <<'EOC', []);
<Location /scm/PROJ>
    BBTokenRoutes git
</Location>
<Location /scm/PROJ/secret.git>
    BBTokenRoutes git
    <If "-n %{HTTP_HOST}">
        BBTokenRoute GET "/scm/(?<project>PROJ)/(?<repo>secret)\\.git/.*" REPO_ADMIN
    </If>
    <Else>
        BBTokenRoutes none
    </Else>
</Location>
EOC
check('an <If> in a narrower section than the one with routes', <<'EOC', []);
<Location /scm/PROJ>
    BBTokenRoutes git
</Location>
<Location /scm/PROJ/secret.git>
    <If "-n %{HTTP_HOST}">
        BBTokenRoute GET "/scm/(?<project>PROJ)/(?<repo>secret)\\.git/.*" REPO_ADMIN
    </If>
</Location>
EOC
$out = check('an <Else> at the top of the main server', $SECRET . <<'EOC',
<If "-z %{HTTP_HOST}">
</If>
<Else>
    BBTokenRoutes git
</Else>
EOC
             ['<Location /scm> <Else>', '<Location /env> <Else>', '<Location /scm/PROJ/secret.git> <Else>']);
like($out, qr{<Else> \(\S+\), at the top of the main server's configuration, sets routes too}, '  says where it is');
check('an <If> with routes where nothing is AuthType BBToken', <<'EOC', [], ['<If "-n %{HTTP_HOST}">']);
<Location /x>
    <If "-n %{HTTP_HOST}">
        BBTokenRoutes git /x
    </If>
</Location>
EOC

# A <Directory> with a stricter route, served at /dav: what replaces it.
my $DIR = <<'EOC';
Alias /dav "@DIR@/dav"
<Directory "@DIR@/dav/PROJ/secret">
    AuthType BBToken
    AuthName "Files"
    Require bbtoken
    BBTokenRoute GET,HEAD "/dav/(?<project>PROJ)/(?<repo>secret)(/.*)?" REPO_ADMIN
</Directory>
EOC
my $secret = qq{<Directory "$d/dav/PROJ/secret">};
my $file = '/dav/PROJ/secret/f.txt';
is(status($DIR, $file), 403, 'the <Directory> alone: the REPO_READ token does not read its file');

my $top_if = <<'EOC';
<If "%{REQUEST_URI} =~ m#^/dav/#">
    BBTokenRoutes dav
</If>
EOC
check('an <If> at the top of the main server', $DIR . $top_if,
      [map { "$_ <If \"%{REQUEST_URI} =~ m#^/dav/#\">" } '<Location /scm>', '<Location /env>', $secret]);
is(status($DIR . $top_if, $file), 200, '  and the REPO_READ token reads its file');

my $dirmatch = <<'EOC';
<DirectoryMatch "^@DIR@/dav/">
    AuthType BBToken
    AuthName "Files"
    Require bbtoken
    BBTokenRoutes dav
</DirectoryMatch>
EOC
$out = check('a <DirectoryMatch> written after it', $DIR . $dirmatch, ["$secret <DirectoryMatch \"^$d/dav/\">"]);
like($out, qr{may match its directory or one under it and sets routes too: httpd merges every <DirectoryMatch> and <Directory ~> after every plain <Directory>},
     '  says a regular expression is merged after every plain <Directory>');
check('or before it', $dirmatch . $DIR, ["$secret <DirectoryMatch \"^$d/dav/\">"]);
is(status($dirmatch . $DIR, $file), 200, '  and the REPO_READ token reads its file');
check('a <Directory ~> after it', $DIR . ($dirmatch =~ s/<DirectoryMatch (.*)>/<Directory ~ $1>/r =~ s/DirectoryMatch>/Directory>/r),
      ["$secret <Directory ~ \"^$d/dav/\">"]);
check('not a <DirectoryMatch> narrower than a <Directory>', <<'EOC', []);
<Directory "@DIR@/dav">
    AuthType BBToken
    AuthName "Files"
    Require bbtoken
    BBTokenRoutes dav
</Directory>
<DirectoryMatch "^@DIR@/dav/PROJ/secret/">
    AuthType BBToken
    AuthName "Files"
    Require bbtoken
    BBTokenRoute GET,HEAD "/dav/(?<project>PROJ)/(?<repo>secret)(/.*)?" REPO_ADMIN
</DirectoryMatch>
EOC

# A <Files> with routes is merged after every <Directory> and before every
# <Location>: replaced by a <Location> covering its directory's URL, and
# replacing a narrower <Directory>'s routes.
my $files = <<'EOC';
Alias /dav "@DIR@/dav"
<Directory "@DIR@/dav/PROJ/secret">
    <Files "*.txt">
        BBTokenRoute GET,HEAD "/dav/(?<project>PROJ)/(?<repo>secret)(/.*)?" REPO_ADMIN
    </Files>
</Directory>
<Location /dav>
    AuthType BBToken
    AuthName "Files"
    Require bbtoken
    BBTokenRoutes dav
</Location>
EOC
$out = check('a <Files> in a <Directory> under a <Location> with routes', $files, ['<Files "*.txt"> <Location /dav>']);
like($out, qr{covers a URL it is served at, /dav/PROJ/secret \(Alias at \S+ maps it there\), and sets routes too: httpd merges every <Location> after every <Directory> and <Files>},
     '  names the URL, and says why');
is(status($files, $file), 200, '  and the REPO_READ token reads the file');
my $files_over = <<'EOC';
<Directory "@DIR@/dav">
    <Files "*">
        BBTokenRoutes dav
    </Files>
</Directory>
EOC
$out = check('a <Files> in a broader <Directory>', $DIR . $files_over, ["$secret <Files \"*\">"]);
like($out, qr{<Files "\*"> \(\S+\), inside <Directory "\Q$d\E/dav"> \(\S+\), which covers its directory, sets routes too: httpd merges every <Files> and <FilesMatch> after every <Directory>},
     '  names the <Directory> it is in');
is(status($DIR . $files_over, $file), 200, '  and the REPO_READ token reads the file');
# httpd gives a plain <Directory>'s path a trailing slash: with one or
# without, it is the same directory, and a <Files> in a second section for
# it is written with the first.
check('a <Files> in a <Directory> for the same path with a slash', $DIR . <<'EOC', []);
<Directory "@DIR@/dav/PROJ/secret/">
    <Files "*">
        BBTokenRoutes dav
    </Files>
</Directory>
EOC
check('but one in its parent\'s, with a slash, replaces it', $DIR . <<'EOC', ["$secret <Files \"*\">"]);
<Directory "@DIR@/dav/PROJ/">
    <Files "*">
        BBTokenRoutes dav
    </Files>
</Directory>
EOC
check('a <Files> in the <Directory> itself', <<'EOC', []);
<Directory "@DIR@/dav">
    AuthType BBToken
    AuthName "Files"
    Require bbtoken
    BBTokenRoutes dav
</Directory>
<Directory "@DIR@/dav/PROJ/secret">
    BBTokenRoutes dav
    <Files "*.txt">
        BBTokenRoute GET,HEAD "/dav/(?<project>PROJ)/(?<repo>secret)(/.*)?" REPO_ADMIN
    </Files>
</Directory>
EOC

done_testing;
