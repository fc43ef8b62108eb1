# A section of AuthType BBToken whose Require lines are all inside <Limit>
# has no requirement for the methods the <Limit> does not list: httpd lets
# them in without a login (a push, a PUT).  httpd warns at startup
# (BBT354), naming the section and the <Limit>; not for <LimitExcept>,
# which names the methods it leaves open, nor for a section with a Require
# outside any <Limit>.  The Require lines judged are those httpd merges
# for the section: a section with none of its own takes those of a
# <Location> of a leading part of its path, AuthMerging adds its own to
# them, and a section merged later replaces them: in a virtual host, the
# virtual host's <Location>s are merged after the main server's, so a
# virtual host is named where it leaves a main server's section open.  An
# <If> (merged after every <Location>), a <Files>, and a section matched by
# a wildcard or a regular expression are not placed among the sections
# they replace: one with Require lines only in <Limit> is warned about
# where a section of AuthType BBToken is.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Assert;
use BBT::Util qw(free_port);

my $vport = free_port();
my $extra = <<"EOC" . <<'EOC';
ScriptAlias /limv/git/ "\@DIR\@/cgi-bin/env.cgi/"
<Location /limv/git>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /limv/git
    Require bbtoken
</Location>
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
    ServerName vhost.example
    <Location /limv>
        <Limit OPTIONS>
            Require all granted
        </Limit>
    </Location>
</VirtualHost>
EOC
ScriptAlias /lim/ "@DIR@/cgi-bin/env.cgi/"
<Location /lim>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /lim
    <Limit GET HEAD>
        Require bbtoken
    </Limit>
</Location>
ScriptAlias /limx/ "@DIR@/cgi-bin/env.cgi/"
<Location /limx>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /limx
    <LimitExcept OPTIONS>
        Require bbtoken
    </LimitExcept>
</Location>
ScriptAlias /limi/x/ "@DIR@/cgi-bin/env.cgi/"
<Location /limi>
    <Limit GET>
        Require bbtoken
    </Limit>
</Location>
<Location /limi/x>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /limi/x
</Location>
ScriptAlias /limif/ "@DIR@/cgi-bin/env.cgi/"
<Location /limif>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /limif
    Require bbtoken
</Location>
<If "%{REQUEST_URI} =~ m#^/limif/#">
    <Limit GET>
        Require bbtoken
    </Limit>
</If>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authz_host authz_user authn_file)], httpd => 0)->start;
$env->write_cgi;
$env->httpd_start;
$env->make_repo('PROJ', 'repo');

# At the first start httpd checks its configuration before it opens the
# error log; a graceful restart checks it again into the log.
is($env->httpd_graceful, '', 'a graceful restart');
my $log = $env->error_log_text;
like($log, qr/BBT354: \S+httpd\.conf:\d+: <Location \/lim> is AuthType BBToken with Require lines only in <Limit GET HEAD> \(line \d+\): methods not listed there need no login.*use <LimitExcept> or no <Limit>/,
     'the running httpd warned about the <Limit>, with file and line');
like($log, qr/BBT354: \S+httpd\.conf:\d+: <Location \/limi\/x> is AuthType BBToken with Require lines only in <Limit GET> \(line \d+\) of <Location \/limi> in \S+httpd\.conf \(it has no Require lines of its own, so httpd gives it those\): methods not listed there need no login/,
     'and about the section that takes its Require lines from a leading part of its path');
like($log, qr/BBT354: \S+httpd\.conf:\d+: <Location \/limv\/git> in <VirtualHost 127\.0\.0\.1:$vport> \(ServerName vhost\.example, at \S+httpd\.conf:\d+\) is AuthType BBToken with Require lines only in <Limit OPTIONS> \(line \d+\) of <Location \/limv> in \S+httpd\.conf \(<Location \/limv>, merged after it, replaces its own\): methods not listed there need no login/,
     'and about the main server\'s section whose Require lines a virtual host\'s replace, naming the virtual host');
like($log, qr/BBT354: \S+httpd\.conf:\d+: <If "%\{REQUEST_URI\} =~ m#\^\/limif\/#"> has Require lines only in <Limit GET> \(line \d+\), and may be merged over a section of AuthType BBToken \(<Location \S+> at \S+httpd\.conf:\d+ is one\) and replace its Require lines.*: methods not listed there need no login/,
     'and about a top-level <If> with Require lines only in <Limit>');
my @w = $log =~ /BBT354: \S+ (<Location [^>]*>)(?! in <VirtualHost)/g;
is_deeply(\@w, ['<Location /lim>', '<Location /limi/x>'], 'and only about them (not the <LimitExcept>)');

# What the warning is about: the methods the <Limit> leaves out need no login.
my $push = '/lim/PROJ/repo.git/git-receive-pack';
is_status($env->get('/lim/PROJ/repo.git/info/refs?service=git-upload-pack'), 401, 'a GET is asked to log in');
my $r = $env->request('POST', $push, { 'Content-Type' => 'application/x-git-receive-pack-request' }, '0000');
like($r->{content} // '', qr/^REQUEST_METHOD=POST$/m, "a POST to git-receive-pack reaches the CGI with no login ($r->{status})");
is_status($env->request('POST', '/limx/PROJ/repo.git/git-receive-pack', {}, '0000'), 401,
          'under <LimitExcept> the same POST is asked to log in');
is_status($env->get('/limi/x/PROJ/repo.git/info/refs?service=git-upload-pack'), 401,
          'a section with no Require of its own takes the <Limit GET> of a leading part of its path');
$r = $env->request('POST', '/limi/x/PROJ/repo.git/git-receive-pack', { 'Content-Type' => 'application/x-git-receive-pack-request' }, '0000');
like($r->{content} // '', qr/^REQUEST_METHOD=POST$/m, "and a POST there reaches the CGI with no login ($r->{status})");

# The main server's section is closed on the main server, and open in the
# virtual host whose <Location /limv> replaces its Require lines.
my $vpush = '/limv/git/PROJ/repo.git/git-receive-pack';
is_status($env->request('POST', $vpush, { 'Content-Type' => 'application/x-git-receive-pack-request' }, '0000'), 401,
          'the main server asks a POST under <Location /limv/git> to log in');
$r = $env->http->request('POST', "http://127.0.0.1:$vport$vpush",
                         { headers => { 'Content-Type' => 'application/x-git-receive-pack-request' }, content => '0000' });
like($r->{content} // '', qr/^REQUEST_METHOD=POST$/m, "the virtual host lets the same POST reach the CGI ($r->{status})");
unlike($r->{content} // '', qr/^REMOTE_USER=./m, 'with no login');
# A top-level <If> is merged after every <Location>: its <Limit GET>
# replaces the Require bbtoken of <Location /limif>.
is_status($env->get('/limif/PROJ/repo.git/info/refs?service=git-upload-pack'), 401, 'under the <If>, a GET is asked to log in');
$r = $env->request('POST', '/limif/PROJ/repo.git/git-receive-pack', { 'Content-Type' => 'application/x-git-receive-pack-request' }, '0000');
like($r->{content} // '', qr/^REQUEST_METHOD=POST$/m, "and a POST reaches the CGI with no login ($r->{status})");

sub check {
    my ($name, $conf, $want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = $env->config_test($conf);
    is($rc, 0, "$name: httpd starts") or diag $out;
    my @got = $out =~ /\b(BBT354: \S+ <\w+ [^>]*>)/g;
    is_deeply([map { s/ \S+:\d+: / /r } @got], $want, "$name: warnings") or diag $out;
    return $out;
}

check('the harness\'s own configuration', '', []);
my $out = check('Require only in two <Limit>s, inside <RequireAny>', <<'EOC', ['BBT354: <Location /a>']);
<Location /a>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /a
    <Limit GET>
        <RequireAny>
            Require ip 192.0.2.1
            Require bbtoken
        </RequireAny>
    </Limit>
    <Limit PROPFIND>
        Require bbtoken
    </Limit>
</Location>
EOC
like($out, qr/only in <Limit GET> \(line \d+\), <Limit PROPFIND> \(line \d+\): methods not listed/,
     'every <Limit> is named');
check('AuthType BBToken inherited from a leading part of the path', <<'EOC', ['BBT354: <Location /b/sub>']);
<Location /b>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /b
    Require bbtoken
</Location>
<Location /b/sub>
    <Limit PUT DELETE>
        Require bbtoken
    </Limit>
</Location>
EOC
check('<LimitExcept>, a Require outside the <Limit>, no <Limit>', <<'EOC', []);
<Location /c>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /c
    <LimitExcept GET HEAD>
        Require bbtoken
    </LimitExcept>
</Location>
<Location /d>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /d
    Require bbtoken
    <Limit PUT>
        Require bbtoken
    </Limit>
</Location>
<Location /e>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /e
    Require bbtoken
</Location>
EOC
$out = check('no Require of its own, under a leading part of its path with <Limit> only', <<'EOC', ['BBT354: <Location /h/x>']);
<Location /h>
    <Limit GET>
        Require bbtoken
    </Limit>
</Location>
<Location /h/x>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /h/x
</Location>
EOC
like($out, qr/only in <Limit GET> \(line \d+\) of <Location \/h> in \S+ \(it has no Require lines of its own/,
     'the <Limit> is named with its section');
check('said once: where the <Limit> is, not again below it', <<'EOC', ['BBT354: <Location /i>']);
<Location /i>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /i
    <Limit GET>
        Require bbtoken
    </Limit>
</Location>
<Location /i/x>
    BBTokenRoutes git /i/x
</Location>
EOC
check('AuthMerging And: two <Limit>s leave the other methods open', <<'EOC', ['BBT354: <Location /j/x>']);
<Location /j>
    <Limit GET>
        Require bbtoken
    </Limit>
</Location>
<Location /j/x>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /j/x
    AuthMerging And
    <Limit PUT>
        Require bbtoken
    </Limit>
</Location>
EOC
$out = check('a leading part of its path written later replaces its Require lines', <<'EOC', ['BBT354: <Location /k/x>']);
<Location /k/x>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /k/x
    Require bbtoken
</Location>
<Location /k>
    <Limit GET>
        Require bbtoken
    </Limit>
</Location>
EOC
like($out, qr/only in <Limit GET> \(line \d+\) of <Location \/k> in \S+ \(<Location \/k>, merged after it, replaces its own\)/,
     'the later section is named');
check('a Require of its own, or one merged with AuthMerging Or or And, or another section\'s', <<'EOC', []);
<Location /l>
    <Limit GET>
        Require bbtoken
    </Limit>
</Location>
<Location /l/own>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /l/own
    Require bbtoken
</Location>
<Location /l/or>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /l/or
    AuthMerging Or
    Require bbtoken
</Location>
<Location /m>
    Require bbtoken
</Location>
<Location /m/and>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /m/and
    AuthMerging And
    <Limit GET>
        Require bbtoken
    </Limit>
</Location>
<Location /m/none>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /m/none
</Location>
EOC
# In a virtual host the main server's sections are merged first, its own
# after them.
my $vh = free_port();
$out = check('a virtual host\'s section gives a main server\'s <Limit> AuthType BBToken', <<"EOC", ['BBT354: <Location /n>']);
<Location /n>
    <Limit GET>
        Require bbtoken
    </Limit>
</Location>
<VirtualHost 127.0.0.1:$vh>
    <Location />
        AuthType BBToken
        AuthName "x"
        BBTokenRoutes git /
    </Location>
</VirtualHost>
EOC
like($out, qr/<Location \/n> in <VirtualHost 127\.0\.0\.1:$vh> \(at \S+:\d+\) is AuthType BBToken with Require lines only in <Limit GET> \(line \d+\): methods not listed/,
     'the virtual host is named');
check('a virtual host\'s section replaces a main server\'s Require lines', <<"EOC", ['BBT354: <Location /o/git>']);
<Location /o/git>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /o/git
    Require bbtoken
</Location>
<VirtualHost 127.0.0.1:$vh>
    ServerName o.example
    <Location /o>
        <Limit GET>
            Require all granted
        </Limit>
    </Location>
</VirtualHost>
EOC
check('a virtual host\'s section that adds to them (AuthMerging Or), or with <LimitExcept>', <<"EOC", []);
<Location /p/git>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /p/git
    Require bbtoken
</Location>
<Location /p2/git>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /p2/git
    Require bbtoken
</Location>
<VirtualHost 127.0.0.1:$vh>
    <Location /p>
        AuthMerging Or
        <Limit GET>
            Require all granted
        </Limit>
    </Location>
    <Location /p2>
        <LimitExcept GET>
            Require bbtoken
        </LimitExcept>
    </Location>
</VirtualHost>
EOC

# An <If> is merged after every <Location>, a <Files> after every
# <Directory>; where a wildcard or a regular expression matches is not
# worked out: with Require lines only in <Limit>, each may replace those
# of a section of AuthType BBToken (the harness has some).
$out = check('an <If>, an <Else>, a wildcard, a regular expression, a <Files>', <<'EOC',
<Location /q/git>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git /q/git
    Require bbtoken
</Location>
<Location /q*>
    <Limit GET>
        Require bbtoken
    </Limit>
</Location>
<LocationMatch "^/r/">
    <Limit GET>
        Require bbtoken
    </Limit>
</LocationMatch>
<If "%{REQUEST_URI} =~ m#^/s/#">
    Require all granted
</If>
<Else>
    <Limit GET>
        Require bbtoken
    </Limit>
</Else>
<Files "git-http-backend">
    <Limit GET HEAD>
        Require bbtoken
    </Limit>
</Files>
EOC
      ['BBT354: <Location /q*>', 'BBT354: <LocationMatch "^/r/">', 'BBT354: <Else >', 'BBT354: <Files "git-http-backend">']);
like($out, qr/<Location \/q\*> has Require lines only in <Limit GET> \(line \d+\), and may be merged over a section of AuthType BBToken \(<Location \S+> at \S+:\d+ is one\) and replace its Require lines/,
     'a section of AuthType BBToken is named');
check('an <If> with a Require outside <Limit>, with <LimitExcept>, or adding to the others', <<'EOC', []);
<If "%{REQUEST_URI} =~ m#^/t/#">
    Require bbtoken
    <Limit GET>
        Require bbtoken
    </Limit>
</If>
<If "%{REQUEST_URI} =~ m#^/u/#">
    <LimitExcept GET>
        Require bbtoken
    </LimitExcept>
</If>
<If "%{REQUEST_URI} =~ m#^/v/#">
    AuthMerging Or
    <Limit GET>
        Require all granted
    </Limit>
</If>
EOC
check('another AuthType', <<'EOC', []);
<Location /f>
    AuthType Basic
    AuthName "x"
    <Limit GET>
        Require valid-user
    </Limit>
</Location>
EOC

# The module's own directives hold for every method of their section, so
# httpd would take a route written inside <Limit GET> for a PUT too, and a
# sandbox turned off there for every method: each is refused.
for my $d ('BBTokenRoute GET "^/g/(?<project>[A-Z]+)/" PROJECT_READ', 'BBTokenRoutes git /g', 'BBTokenSandbox Off',
           'AuthBBTokenProvider file', 'BBTokenDAVLockMaxTimeout 60') {
    for my $section ('Limit GET HEAD', 'LimitExcept PUT') {
        my ($tag) = split / /, $section;
        my ($rc, $out) = $env->config_test(<<"EOC");
<Location /g>
    AuthType BBToken
    AuthName "x"
    Require bbtoken
    <$section>
        $d
    </$tag>
</Location>
EOC
        my ($name) = split / /, $d;
        my ($crc, $cout) = $env->config_test("<Location /g>\n    AuthType BBToken\n    AuthName \"x\"\n"
                                             . "    Require bbtoken\n    $d\n</Location>\n");
        is($crc, 0, "control: $name outside <$tag> is taken") or diag $cout;
        ok($rc != 0 && $out =~ /\Q$name\E cannot occur within <Limit> or <LimitExcept> section/,
           "$name inside <$section>: refused at startup") or diag "exit $rc: $out";
    }
}

done_testing;
