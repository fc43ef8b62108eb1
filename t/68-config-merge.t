# A section that sets routes (or AuthBBTokenProvider) replaces those of the
# sections merged before it, and httpd merges the <Location>s that match a
# URL in the order they are written, every one of them after every
# <Directory>.  So a narrower <Location> written before a broader one loses
# its stricter routes (a REPO_READ token reads the repository that asked
# for REPO_ADMIN) or its AuthBBTokenProvider none (a password gets into the
# tokens-only repository), and a <Directory> under a URL a <Location> with
# routes covers has its routes replaced always.  httpd warns at startup
# (BBT362), naming both sections, and README's order, the broader section
# first, does what it says.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use File::Path qw(make_path);
use BBT::Env qw(auth_basic auth_bearer);
use BBT::Util qw(free_port);

my $SECRET = <<'EOC';
<Location /scm/PROJ/secret.git>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoute GET,POST "/scm/(?<project>PROJ)/(?<repo>secret)\\.git/.*" REPO_ADMIN
    Require bbtoken
</Location>
<Location /scm/PROJ/tokensonly.git>
    AuthBBTokenProvider none
</Location>
EOC
my $PROJ = <<'EOC';
<Location /scm/PROJ>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    Require bbtoken
</Location>
EOC

# README's order: the broader section first.
my $env = BBT::Env->new(extra_conf => $PROJ . $SECRET, modules => [qw(authn_file)])->start;
my $d = $env->dir;
$env->htpasswd(carol => 'carol-Pa55-word');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', $_) for qw(secret tokensonly open);
my ($tok) = $env->token_create('carol', name => 'ci', perms => ['REPO_READ']);
my $refs = sub { $env->url("/scm/PROJ/$_[0].git/info/refs?service=git-upload-pack") };
my $get = sub { HTTP::Tiny->new->get($_[0], { headers => $_[1] })->{status} };
my $pw = auth_basic('carol', 'carol-Pa55-word');
is($get->($refs->('open'), auth_bearer($tok)), 200, 'broad section first: a REPO_READ token reads the project');
is($get->($refs->('secret'), auth_bearer($tok)), 403, '  but not secret.git, whose section asks for REPO_ADMIN');
is($get->($refs->('open'), $pw), 200, '  a password reads the project');
is($get->($refs->('tokensonly'), $pw), 401, '  but not tokensonly.git, whose section takes tokens only');

# The other order is what httpd makes of it: the broader section wins.
$env->httpd_restart(extra_conf => $SECRET . $PROJ);
is($get->($refs->('secret'), auth_bearer($tok)), 200, 'narrow section first: the REPO_READ token reads secret.git');
is($get->($refs->('tokensonly'), $pw), 200, '  and the password tokensonly.git');
# So does a <LocationMatch> after it that matches only below its path.
my $refsmatch = <<'EOC';
<LocationMatch "^/scm/[^/]+/[^/]+\.git/(info/refs|git-upload-pack)$">
    BBTokenRoutes git
</LocationMatch>
EOC
$env->httpd_restart(extra_conf => $PROJ . $SECRET . $refsmatch);
is($get->($refs->('secret'), auth_bearer($tok)), 200, 'a <LocationMatch> of info/refs after it: the REPO_READ token reads secret.git');
$env->httpd_restart(extra_conf => $PROJ . $refsmatch . $SECRET);
is($get->($refs->('secret'), auth_bearer($tok)), 403, '  but not with secret.git\'s section after it');
# httpd's location walk takes a URL for a plain <Location> that begins with
# its path where the path ends in a slash or the URL goes on with one or
# ends: secret.git/ takes only the URLs below secret.git, and secret.git
# takes those too.
my $SECRET_SLASH = <<'EOC';
<Location /scm/PROJ/secret.git/>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoute GET,POST "/scm/(?<project>PROJ)/(?<repo>secret)\\.git/.*" REPO_ADMIN
    Require bbtoken
</Location>
EOC
my $SECRET_GIT = "<Location /scm/PROJ/secret.git>\n    BBTokenRoutes git\n</Location>\n";
$env->httpd_restart(extra_conf => $SECRET_SLASH . $SECRET_GIT);
is($get->($refs->('secret'), auth_bearer($tok)), 200, 'secret.git/ before secret.git: the REPO_READ token reads secret.git');
$env->httpd_restart(extra_conf => $SECRET_GIT . $SECRET_SLASH);
is($get->($refs->('secret'), auth_bearer($tok)), 403, '  but not with secret.git/ after it');
# An empty regular expression matches every URL.
$env->httpd_restart(extra_conf => $SECRET . qq{<LocationMatch "">\n    BBTokenRoutes git\n</LocationMatch>\n});
is($get->($refs->('secret'), auth_bearer($tok)), 200, '<LocationMatch ""> after it: the REPO_READ token reads secret.git');
$env->httpd_restart(extra_conf => qq{<LocationMatch "">\n    BBTokenRoutes git\n</LocationMatch>\n} . $SECRET);
is($get->($refs->('secret'), auth_bearer($tok)), 403, '  but not with secret.git\'s section after it');
# One section replacing the providers does not hide a later one replacing
# the routes.
my $SPLIT = <<'EOC';
<Location /scm/PROJ/secret.git>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider none
    BBTokenRoute GET,POST "/scm/(?<project>PROJ)/(?<repo>secret)\\.git/.*" REPO_ADMIN
    Require bbtoken
</Location>
<Location /scm/PROJ>
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
</Location>
<Location /scm>
    BBTokenRoutes git
</Location>
EOC
$env->httpd_restart(extra_conf => $SPLIT);
is($get->($refs->('secret'), auth_bearer($tok)), 200, 'providers replaced by one section, routes by another: the REPO_READ token reads secret.git');
is($get->($refs->('secret'), $pw), 200, '  and the password');
$env->httpd_stop(graceful => 1);

my $conf = "$d/httpd-test.conf";
# The line of the test configuration that holds $needle.
sub line_of {
    my ($needle) = @_;
    my @l = split /\n/, BBT::Env::slurp($conf);
    for my $i (0 .. $#l) {
        return $i + 1 if index($l[$i], $needle) >= 0;
    }
    return -1;
}

# The BBT362 lines of a configuration test, each "<section> <section>":
# the one replaced and the one that replaces it.
sub check {
    my ($name, $text, $want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = $env->config_test($text);
    is($rc, 0, "$name: httpd starts") or diag $out;
    my @got;
    push @got, "$1 $2" while $out =~ /BBT362: \S+:\d+: (<\w+ [^>]*>) sets .*?, and (<\w+ [^>]*>) \(/g;
    is_deeply(\@got, $want, "$name: warnings") or diag $out;
    return $out;
}

my $out = check('a narrower <Location> before a broader one', $SECRET . $PROJ,
                ['<Location /scm/PROJ/secret.git> <Location /scm/PROJ>',
                 '<Location /scm/PROJ/tokensonly.git> <Location /scm/PROJ>']);
my ($n1, $n2, $n3) = map { line_of($_) } '<Location /scm/PROJ/secret.git>', '<Location /scm/PROJ>',
                                          '<Location /scm/PROJ/tokensonly.git>';
like($out, qr{BBT362: \Q$conf\E:$n1: <Location /scm/PROJ/secret\.git> sets routes, and <Location /scm/PROJ> \(\Q$conf\E:$n2\), merged after it .* write the narrower section after the broader one},
     'names both sections, file and line, and says what to do');
like($out, qr{BBT362: \Q$conf\E:$n3: <Location /scm/PROJ/tokensonly\.git> sets AuthBBTokenProvider, and <Location /scm/PROJ> \(\Q$conf\E:$n2\)},
     '  for AuthBBTokenProvider too');
unlike($out, qr/BBT35[23]/, '  and nothing else');
check('the broader one first', $PROJ . $SECRET, []);
check('paths that only share their first letters, or another project', <<'EOC', []);
<Location /scm/PROJ/x.git>
    BBTokenRoutes git
</Location>
<Location /scm/PROJECT>
    BBTokenRoutes git
</Location>
<Location /scm/OTHER>
    BBTokenRoutes git
</Location>
EOC
$out = check('providers replaced by one section, routes by a later one', $SPLIT,
             ['<Location /scm/PROJ/secret.git> <Location /scm/PROJ>',
              '<Location /scm/PROJ/secret.git> <Location /scm>']);
like($out, qr{<Location /scm/PROJ/secret\.git> sets AuthBBTokenProvider, and <Location /scm/PROJ> .*\n.*<Location /scm/PROJ/secret\.git> sets routes, and <Location /scm> }s,
     '  each named with what it replaces');
my $vport0 = free_port();
check('routes replaced in a virtual host, providers in the main server', <<"EOC",
<Location /scm/PROJ/secret.git>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider none
    BBTokenRoute GET,POST "/scm/(?<project>PROJ)/(?<repo>secret)\\.git/.*" REPO_ADMIN
    Require bbtoken
</Location>
<Location /scm/PROJ>
    AuthBBTokenProvider file
    AuthUserFile "\@DIR\@/htpasswd"
</Location>
Listen 127.0.0.1:$vport0
<VirtualHost 127.0.0.1:$vport0>
    <Location /scm>
        BBTokenRoutes git
    </Location>
</VirtualHost>
EOC
      ['<Location /scm/PROJ/secret.git> <Location /scm/PROJ>',
       '<Location /scm/PROJ/secret.git> <Location /scm>']);
check('settings of another kind', <<'EOC', []);
<Location /scm/PROJ/y.git>
    AuthBBTokenProvider none
</Location>
<Location /scm/PROJ>
    BBTokenRoutes git
</Location>
EOC
check('a <LocationMatch> after it that matches its path', $SECRET . <<'EOC',
<LocationMatch "^/scm/[A-Z]+/">
    BBTokenRoutes git
</LocationMatch>
<LocationMatch "^/scm/OTHER/">
    BBTokenRoutes git
</LocationMatch>
EOC
      ['<Location /scm/PROJ/secret.git> <LocationMatch "^/scm/[A-Z]+/">']);

# One that matches only URLs below the narrower section's path replaces
# its routes there too: a partial match of the path and a slash says it
# may.  One whose every match begins with a broader section's path and a
# slash (/scm/ here, the harness's <Location /scm>) is narrower than that,
# written after it as it should be.
my $refsonly = <<'EOC';
<LocationMatch "^/scm/[^/]+/[^/]+\.git/(info/refs|git-upload-pack)$">
    BBTokenRoutes git
</LocationMatch>
EOC
$out = check('a <LocationMatch> after it that matches only URLs below its path', $SECRET . $refsonly,
             # (the error log doubles a backslash)
             [qq{<Location /scm/PROJ/secret.git> <LocationMatch "^/scm/[^/]+/[^/]+\\\\.git/(info/refs|git-upload-pack)\$">}]);
like($out, qr{may match its path or URLs under it and sets routes too}, '  says it may match below its path');
check('a wildcard <Location> after it that matches URLs below its path', $SECRET . <<'EOC',
<Location /scm/*/*.git/info/refs>
    BBTokenRoutes git
</Location>
EOC
      ['<Location /scm/PROJ/secret.git> <Location /scm/*/*.git/info/refs>']);
check('but not one of a single component below /scm (* stops at a slash)', $SECRET . <<'EOC', []);
<Location /scm/*>
    BBTokenRoutes git
</Location>
EOC
check('nor a narrower <LocationMatch> after the broader section', $PROJ . <<'EOC', []);
<LocationMatch "^/scm/PROJ/secret\.git/">
    BBTokenRoutes git
</LocationMatch>
EOC
# Not anchored at the start, a pattern may match from anywhere in the rest
# of a URL: every section with routes before it may lose them.
check('an unanchored <LocationMatch>', $SECRET . <<'EOC',
<LocationMatch "/git-receive-pack$">
    BBTokenRoutes git
</LocationMatch>
EOC
      [map { qq{$_ <LocationMatch "/git-receive-pack\$">} }
           '<Location /scm>', '<Location /env>', '<Location /scm/PROJ/secret.git>']);

# An empty pattern, or an empty path, matches every URL: never narrower.
for my $empty ('<LocationMatch "">', '<Location ~ "">', '<Location "">') {
    (my $end = $empty) =~ s/^<(\w+).*/<\/$1>/;
    check("an empty $empty", $SECRET . "$empty\n    BBTokenRoutes git\n$end\n",
          [map { "$_ $empty" } '<Location /scm>', '<Location /env>', '<Location /scm/PROJ/secret.git>']);
}

# A <Location> whose path ends in a slash takes only the URLs below it:
# the same path without the slash is the broader one, to be written first
# (README's order); the same path again is no broader.
check('secret.git/ before secret.git', $SECRET_SLASH . $SECRET_GIT,
      ['<Location /scm/PROJ/secret.git/> <Location /scm/PROJ/secret.git>']);
$out = check('secret.git, then secret.git/ twice', $SECRET . <<'EOC', []);
<Location /scm/PROJ/secret.git/>
    BBTokenRoutes git
</Location>
<Location /scm/PROJ/secret.git/>
    BBTokenRoutes git
</Location>
EOC
unlike($out, qr/BBT35[23]/, '  and nothing else');
$out = check('an <If> inside secret.git/ after secret.git', $SECRET . <<'EOC', []);
<Location /scm/PROJ/secret.git/>
    <If "-n %{HTTP_HOST}">
        BBTokenRoutes git
    </If>
</Location>
EOC
unlike($out, qr/BBT35[23]/, '  and nothing else');
check('an <If> inside secret.git before secret.git/', $SECRET_SLASH . <<'EOC',
<Location /scm/PROJ/secret.git>
    <If "-n %{HTTP_HOST}">
        BBTokenRoutes git
    </If>
</Location>
EOC
      ['<Location /scm/PROJ/secret.git/> <If "-n %{HTTP_HOST}">']);

# A '|' outside any group splits a pattern into alternatives, and the
# second need not begin with the first's path.  What may hide a
# parenthesis from the count of groups (\Q...\E, a comment, a POSIX
# class) makes the pattern's beginning unknown: it may be broader.
my $P1 = <<'EOC';
<Location /t/P1/r.git>
    AuthType BBToken
    AuthName "t"
    BBTokenRoutes none
    Require bbtoken
</Location>
EOC
for my $re ('^/t/P1/r\.git/x\Q(\E|^/t/P1/', '^/t/P1/r\.git/x(?#()|^/t/P1/',
            '^/t/P1/r\.git/x[[:alpha:](]|^/t/P1/', '^/t/P1/r\.git/x\c(|^/t/P1/') {
    (my $logged = $re) =~ s/\\/\\\\/g;
    check("alternatives after $re", $P1 . qq{<LocationMatch "$re">\n    BBTokenRoutes git\n</LocationMatch>\n},
          [qq{<Location /t/P1/r.git> <LocationMatch "$logged">}]);
}
check('but not escaped parentheses in a group', $P1 . <<'EOC', []);
<LocationMatch "^/t/P1/r\.git/x(?:\(|[(]|y)">
    BBTokenRoutes git
</LocationMatch>
EOC

my $vport = free_port();
check('a virtual host\'s <Location> is merged after the main server\'s', $SECRET . <<"EOC",
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
    <Location /scm>
        BBTokenRoutes git
    </Location>
</VirtualHost>
EOC
      ['<Location /scm/PROJ/secret.git> <Location /scm>']);

# A <Directory> under a URL a <Location> with routes covers: the
# <Location> is merged after it, always.  BBT352 would say its routes do
# nothing for want of AuthType BBToken, which the <Location> gives it.
make_path("$d/dav/PROJ/secret", "$d/files/PROJ", "$d/htdocs/x", "$d/other");
my $dav = <<'EOC';
Alias /dav "@DIR@/dav"
<Location /dav>
    AuthType BBToken
    AuthName "Files"
    BBTokenRoutes dav
    Require bbtoken
</Location>
EOC
$out = check('a <Directory> served under a <Location> with routes', $dav . <<'EOC',
<Directory "@DIR@/dav/PROJ/secret">
    BBTokenRoute GET,HEAD "/dav/(?<project>PROJ)/(?<repo>secret)(/.*)?" REPO_ADMIN
</Directory>
EOC
             [qq{<Directory "$d/dav/PROJ/secret"> <Location /dav>}]);
like($out, qr{covers a URL it is served at, /dav/PROJ/secret \(Alias at \Q$conf\E:\d+ maps it there\).*every <Location> after every <Directory>},
     'names the URL and the Alias that maps it');
unlike($out, qr/BBT352/, '  and not BBT352');
check('a <Directory> served elsewhere', $dav . <<'EOC', []);
Alias /files "@DIR@/files"
<Directory "@DIR@/files/PROJ">
    AuthType BBToken
    AuthName "Files"
    BBTokenRoutes dav /files
    Require bbtoken
</Directory>
EOC
check('a <Directory> under DocumentRoot', <<'EOC', [qq{<Directory "$d/htdocs/x"> <Location /x>}]);
DocumentRoot "@DIR@/htdocs"
<Directory "@DIR@/htdocs/x">
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes dav /x
    Require bbtoken
</Directory>
<Location /x>
    BBTokenRoutes git /x
</Location>
EOC
check('but not where an Alias takes its URL', <<'EOC', []);
DocumentRoot "@DIR@/htdocs"
Alias /x "@DIR@/other"
<Directory "@DIR@/htdocs/x">
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes dav /x
    Require bbtoken
</Directory>
<Location /x>
    BBTokenRoutes git /x
</Location>
EOC

done_testing;
