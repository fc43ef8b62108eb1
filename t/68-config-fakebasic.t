# mod_ssl's SSLOptions +FakeBasicAuth replaces the Authorization header of
# a client that presents a certificate before any other module reads it:
# in a section of AuthType BBToken that client's token never reaches the
# module (t/84-tls-client-cert shows it).  httpd warns at startup (BBT356),
# naming the section, where AuthType BBToken and FakeBasicAuth meet: set in
# the section, around it, in a section of a leading part of its path, or
# by a virtual host over the main server's sections (said once, at the
# virtual host, BBT357); not where a later SSLOptions takes FakeBasicAuth away.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Util;

my $env = BBT::Env->new(modules => [qw(ssl)], httpd => 0)->start;
my $vport = BBT::Util::free_port();

sub check {
    my ($name, $conf, $want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = $env->config_test($conf);
    is($rc, 0, "$name: httpd starts") or diag $out;
    my @got = $out =~ /\b(BBT35[67]: \S+ <\w+ [^>]*>)/g;
    is_deeply([map { s/ \S+:\d+: / /r } @got], $want, "$name: warnings") or diag $out;
    return $out;
}

my $section = sub {
    my ($path, $more) = @_;
    return <<"EOC";
<Location $path>
    AuthType BBToken
    AuthName "x"
    BBTokenRoutes git $path
$more    Require bbtoken
</Location>
EOC
};

check('the harness\'s own configuration', '', []);
my $out = check('FakeBasicAuth in the section', $section->('/f', "    SSLOptions +FakeBasicAuth\n"),
                ['BBT356: <Location /f>']);
like($out, qr/BBT356: \S+httpd-test\.conf:\d+: <Location \/f> is AuthType BBToken with SSLOptions \+FakeBasicAuth: mod_ssl replaces the Authorization header of a client that presents a certificate, so its token never reaches the module \(401\); remove FakeBasicAuth there/,
     'it says what happens and what to do, with file and line');
check('FakeBasicAuth without a sign, among other options',
      $section->('/f', "    SSLOptions StdEnvVars FakeBasicAuth\n"), ['BBT356: <Location /f>']);
check('FakeBasicAuth around the section, by its path', <<'EOC' . $section->('/g/sub', ''), ['BBT356: <Location /g/sub>']);
<Location /g>
    SSLOptions +FakeBasicAuth
</Location>
EOC
check('FakeBasicAuth below a section of AuthType BBToken', $section->('/h', '') . <<'EOC', ['BBT356: <Location /h/sub>']);
<Location /h/sub>
    SSLOptions +StdEnvVars +FakeBasicAuth
</Location>
EOC
check('FakeBasicAuth taken away again (-FakeBasicAuth, or a list without it)',
      <<'EOC' . $section->('/i/a', "    SSLOptions -FakeBasicAuth\n") . $section->('/i/b', "    SSLOptions StdEnvVars\n"), []);
<Location /i>
    SSLOptions +FakeBasicAuth
</Location>
EOC
check('other options, and FakeBasicAuth where no section is AuthType BBToken',
      $section->('/j', "    SSLOptions +StdEnvVars +ExportCertData\n") . <<'EOC', []);
<Location /k>
    SSLOptions +FakeBasicAuth
    AuthType Basic
    AuthName "k"
    Require all granted
</Location>
EOC
check('a virtual host\'s FakeBasicAuth over the main server\'s sections', <<"EOC", ["BBT357: <VirtualHost 127.0.0.1:$vport>"]);
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
    SSLOptions +FakeBasicAuth
</VirtualHost>
EOC
check('a virtual host\'s FakeBasicAuth over its own section too', <<"EOC", ["BBT356: <Location /v>", "BBT357: <VirtualHost 127.0.0.1:$vport>"]);
Listen 127.0.0.1:$vport
<VirtualHost 127.0.0.1:$vport>
    SSLOptions +FakeBasicAuth
@{[ $section->('/v', '') =~ s/^/    /gmr ]}</VirtualHost>
EOC

done_testing;
