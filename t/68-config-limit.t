# A section of AuthType BBToken whose Require lines are all inside <Limit>
# has no requirement for the methods the <Limit> does not list: httpd lets
# them in without a login (a push, a PUT).  httpd warns at startup
# (BBT354), naming the section and the <Limit>; not for <LimitExcept>,
# which names the methods it leaves open, nor for a section with a Require
# outside any <Limit>.  The Require lines judged are those httpd merges
# for the section: a section with none of its own takes those of a
# <Location> of a leading part of its path, AuthMerging adds its own to
# them, and a section merged later replaces them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Assert;

my $extra = <<'EOC';
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
my @w = $log =~ /BBT354: \S+ (<Location [^>]*>)/g;
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
