# Tokens beside TLS client certificates (mod_ssl).  SSLVerifyClient and a
# certificate the client presents take nothing from a token: the request
# is the token's.  SSLOptions +FakeBasicAuth is another matter: mod_ssl's
# own check_authn, which httpd runs before every other, replaces the
# Authorization header with Basic "subject:password" whenever the client
# presents a certificate, so a token sent with a certificate never reaches
# the module and the request is refused (README, Security model: TLS
# client certificates).  Without a certificate the token is read as
# anywhere.  Real clients: curl with and without a client certificate.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(run_cmd cgi_vars);
use BBT::Util qw(slurp);

my $plain_port = BBT::Util::free_port();
my $fake_port = BBT::Util::free_port();
my $vhost = sub {
    my ($port, $more) = @_;
    return <<"EOC";
Listen 127.0.0.1:$port
<VirtualHost 127.0.0.1:$port>
    ServerName 127.0.0.1:$port
    SSLEngine on
    SSLCertificateFile "\@DIR\@/tls/server.pem"
    SSLCertificateKeyFile "\@DIR\@/tls/server.key"
    SSLCACertificateFile "\@DIR\@/tls/ca.pem"
    SSLVerifyClient optional
    SSLVerifyDepth 1
$more</VirtualHost>
EOC
};
my $extra = $vhost->($plain_port, '') . $vhost->($fake_port, "    SSLOptions +FakeBasicAuth\n");

# The certificates must exist before httpd starts: the environment first,
# without httpd, then the files, then httpd.
my $env = BBT::Env->new(extra_conf => $extra, httpd => 0, modules => [qw(ssl)])->start;
my $d = $env->dir;
my $t = "$d/tls";
mkdir $t;
for my $cmd (
    # A CA, the server's certificate and a client's, each signed by it.
    [qw(openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bbtoken-test-ca),
     '-keyout', "$t/ca.key", '-out', "$t/ca.pem"],
    [qw(openssl req -new -newkey rsa:2048 -nodes -subj /CN=127.0.0.1),
     '-keyout', "$t/server.key", '-out', "$t/server.csr"],
    [qw(openssl x509 -req -days 2 -set_serial 2), '-in', "$t/server.csr", '-CA', "$t/ca.pem",
     '-CAkey', "$t/ca.key", '-out', "$t/server.pem", '-extfile', "$t/server.ext"],
    [qw(openssl req -new -newkey rsa:2048 -nodes -subj /CN=carol),
     '-keyout', "$t/client.key", '-out', "$t/client.csr"],
    [qw(openssl x509 -req -days 2 -set_serial 3), '-in', "$t/client.csr", '-CA', "$t/ca.pem",
     '-CAkey', "$t/ca.key", '-out', "$t/client.pem"],
    ) {
    BBT::Util::spew("$t/server.ext", "subjectAltName=IP:127.0.0.1\n") unless -e "$t/server.ext";
    my ($rc, undef, $err) = run_cmd(cmd => $cmd, tmp => "$d/run");
    is($rc, 0, "openssl $cmd->[1] " . join(' ', grep { m{^/CN=} } @$cmd)) or BAIL_OUT("openssl: $err");
}
chmod 0644, glob("$t/*");
$env->write_cgi;
$env->httpd_start;

$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $tok = $env->token_create('alice', name => 'tls');

my $UP = 'env/PROJ/repo.git/info/refs?service=git-upload-pack';

# curl: (status, body, stderr).
sub curl {
    my ($port, @opt) = @_;
    my $body = "$d/run/curl.body";
    unlink $body;
    my ($rc, $out, $err) = run_cmd(cmd => ['curl', '-s', '-o', $body, '-w', '%{http_code}',
                                           '--cacert', "$t/ca.pem", @opt,
                                           "https://127.0.0.1:$port/$UP"],
                                   tmp => "$d/run", timeout => 30,
                                   env => { http_proxy => undef, https_proxy => undef,
                                            HTTP_PROXY => undef, HTTPS_PROXY => undef });
    return ($rc == 0 ? $out : 0, slurp($body), $err);
}

my $id;
my @cert = ('--cert', "$t/client.pem", '--key', "$t/client.key");
my %cred = (
    'Bearer' => ['-H', "Authorization: Bearer $tok"],
    'Basic'  => ['-u', "alice:$tok"],
);

for my $c (sort keys %cred) {
    # A certificate beside the token, no FakeBasicAuth: the token's
    # request (the FakeBasicAuth case below shows curl presents it).
    my ($code, $body, $err) = curl($plain_port, @cert, @{ $cred{$c} });
    is($code, 200, "$c token with a client certificate: 200") or diag "$err\n$body";
    my $v = cgi_vars($body);
    is($v->{REMOTE_USER}, 'alice', "$c token with a client certificate: the token's owner");
    ok(length($v->{BBTOKEN_ID} // ''), "$c token with a client certificate: the token's id");
    $id //= $v->{BBTOKEN_ID};

    # FakeBasicAuth, no certificate: mod_ssl leaves the header alone.
    ($code, $body, $err) = curl($fake_port, @{ $cred{$c} });
    is($code, 200, "$c token under FakeBasicAuth without a certificate: 200") or diag "$err\n$body";
    is(cgi_vars($body)->{REMOTE_USER}, 'alice',
       "$c token under FakeBasicAuth without a certificate: the token's owner");

    # FakeBasicAuth with a certificate: the token was replaced before the
    # module ran, so nothing proves the request and it is refused.
    ($code, $body, $err) = curl($fake_port, @cert, @{ $cred{$c} });
    is($code, 401, "$c token under FakeBasicAuth with a certificate: 401 (mod_ssl replaced it)")
        or diag "$err\n$body";
}

# The module never saw the token in the refused requests: it verified the
# token four times (the 200s), and twice refused what mod_ssl put in its
# place (the subject's "password", no token's length); no line holds the
# token.
my $log = slurp("$d/logs/error_log");
is(scalar(() = $log =~ /BBT037: token \Q$id\E of alice authenticated/g), 4,
   'the token was verified for the four requests that carried it to the module');
is(scalar(() = $log =~ /BBT034: credentials refused: token has the wrong length/g), 2,
   "the two FakeBasicAuth requests reached the module as mod_ssl's Basic pair");
unlike($log, qr/\Q$tok\E/, 'the error log never holds the token');

done_testing;
