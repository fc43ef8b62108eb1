# mod_remoteip with RemoteIPHeader and no RemoteIPInternalProxy or
# RemoteIPTrustedProxy believes the header from every client, as from a
# trusted proxy: a client anywhere names a public address of its choice,
# and that is the address a token's allow-list and the failed-login
# throttle judge.  Shown here with real requests (a token allowed from
# 198.51.100.0/24 let in from 127.0.0.2 that names 198.51.100.7; another
# client's address throttled by failures that name it), and httpd warns
# about it at startup (BBT358, the configuration test's output: it is said
# before the error log is opened), once per server where it holds and a
# section of AuthType BBToken applies: not where proxies are named (in the
# server, or in the main server for a virtual host), nor for a virtual host
# that only inherits the main server's header, said at the main server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_basic auth_bearer get_from parse_token);
use BBT::Util;

my $FAILS = 3;
my $vport = BBT::Util::free_port();
my $vhost = sub {
    my ($body) = @_;
    return "Listen 127.0.0.1:$vport\n<VirtualHost 127.0.0.1:$vport>\n$body</VirtualHost>\n";
};
my $open_vhost = $vhost->("    RemoteIPHeader X-Forwarded-For\n");
my $env = BBT::Env->new(modules => [qw(authn_file remoteip)],
                        extra_conf => "<Location /scm>\n    AuthBBTokenProvider file\n"
                                    . "    AuthUserFile \"\@DIR\@/htpasswd\"\n</Location>\n$open_vhost",
                        throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600")->start;
$env->htpasswd(carol => 'carol-Pa55-word');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $OPEN = "http://127.0.0.1:$vport$UP";

# The allow-list: the client is 127.0.0.2, no proxy at all.
my $out = $env->cli_ok('create', 'carol', '--name', 'office', '--perm', 'PROJECT_READ',
                       '--allow-from', '198.51.100.0/24', '--allow-from', '10.1.1.0/24');
chomp $out;
my $tok = $out;
parse_token($tok) or die "no token printed: $out";
is(get_from('127.0.0.2', $env->url($UP), auth_bearer($tok), '198.51.100.7'), 401, 'without mod_remoteip the header names nobody');
is(get_from('127.0.0.2', $OPEN, auth_bearer($tok)), 401, 'the client itself is outside the list');
is(get_from('127.0.0.2', $OPEN, auth_bearer($tok), '198.51.100.7'), 200, '  naming a public address inside it, it is let in');
is(get_from('127.0.0.2', $OPEN, auth_bearer($tok), '10.1.1.7'), 401, '  (a private one mod_remoteip does not believe)');

# The throttle: failures naming another client's address hold that client back.
is(get_from('127.0.0.3', $OPEN, auth_basic('carol', 'wrong'), '203.0.113.9'), 401, "failure $_ naming 203.0.113.9") for 1 .. $FAILS;
is(get_from('127.0.0.3', $OPEN, auth_basic('carol', 'carol-Pa55-word'), '203.0.113.9'), 429, '  203.0.113.9 is throttled');
is(get_from('127.0.0.3', $OPEN, auth_basic('carol', 'carol-Pa55-word')), 200, '  the sender is not');
$env->httpd_stop(graceful => 1);
is(scalar($env->crash_lines), 0, 'no httpd child crashed');

# Which configurations are warned about.
sub check {
    my ($name, $conf, $want) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = $env->config_test($conf);
    is($rc, 0, "$name: httpd starts") or diag $out;
    my @got = $out =~ /\bBBT358: \S+:\d+: (RemoteIPHeader \S+ without .*? \([^)]*\))/g;
    is_deeply(\@got, $want, "$name: warnings") or diag $out;
}
my $W = 'RemoteIPHeader %s without RemoteIPInternalProxy or RemoteIPTrustedProxy (%s)';
my $V = "<VirtualHost 127.0.0.1:$vport>";
check('the harness\'s own configuration', '', []);
check('the main server, header alone', "RemoteIPHeader X-Real-IP\n", [sprintf($W, 'X-Real-IP', 'the main server')]);
check('inside <IfModule>', "<IfModule remoteip_module>\n    RemoteIPHeader X-Real-IP\n</IfModule>\n",
      [sprintf($W, 'X-Real-IP', 'the main server')]);
check('the main server, with internal proxies', "RemoteIPHeader X-Real-IP\nRemoteIPInternalProxy 127.0.0.7\n", []);
check('the main server, with trusted proxies', "RemoteIPHeader X-Real-IP\nRemoteIPTrustedProxy 192.0.2.1\n", []);
check('a virtual host, header alone', $vhost->("    RemoteIPHeader X-Forwarded-For\n"),
      [sprintf($W, 'X-Forwarded-For', $V)]);
check('a virtual host, proxies from the main server',
      "RemoteIPInternalProxy 127.0.0.7\n" . $vhost->("    RemoteIPHeader X-Forwarded-For\n"), []);
check('a virtual host, header from the main server, proxies of its own',
      "RemoteIPHeader X-Real-IP\n" . $vhost->("    RemoteIPTrustedProxy 192.0.2.1\n"),
      [sprintf($W, 'X-Real-IP', 'the main server')]);
check('a virtual host that only inherits the main server\'s header: said once',
      "RemoteIPHeader X-Real-IP\n" . $vhost->("    ServerName v.example\n"),
      [sprintf($W, 'X-Real-IP', 'the main server')]);
check('a virtual host with its own header over the main server\'s',
      "RemoteIPHeader X-Real-IP\n" . $vhost->("    RemoteIPHeader X-Forwarded-For\n"),
      [sprintf($W, 'X-Real-IP', 'the main server'), sprintf($W, 'X-Forwarded-For', $V)]);
done_testing;
