# A section of AuthType BBToken whose Require lines are all inside <Limit>
# has no requirement for the methods the <Limit> does not list: httpd lets
# them in without a login (a push, a PUT).  httpd warns at startup
# (BBT354), naming the section and the <Limit>; not for <LimitExcept>,
# which names the methods it leaves open, nor for a section with a Require
# outside any <Limit>.
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
my @w = $log =~ /BBT354: \S+ (<Location [^>]*>)/g;
is_deeply(\@w, ['<Location /lim>'], 'and only about it (not the <LimitExcept>)');

# What the warning is about: the methods the <Limit> leaves out need no login.
my $push = '/lim/PROJ/repo.git/git-receive-pack';
is_status($env->get('/lim/PROJ/repo.git/info/refs?service=git-upload-pack'), 401, 'a GET is asked to log in');
my $r = $env->request('POST', $push, { 'Content-Type' => 'application/x-git-receive-pack-request' }, '0000');
like($r->{content} // '', qr/^REQUEST_METHOD=POST$/m, "a POST to git-receive-pack reaches the CGI with no login ($r->{status})");
is_status($env->request('POST', '/limx/PROJ/repo.git/git-receive-pack', {}, '0000'), 401,
          'under <LimitExcept> the same POST is asked to log in');

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
