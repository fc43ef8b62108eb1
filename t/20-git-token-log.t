# The README's log of who used which token (the lines after "Who used which
# token" in its git-http-backend example), where the request is served by a
# virtual host that has a CustomLog of its own, as every Debian site has
# (000-default): httpd does not use a server's CustomLog for such a host,
# so a CustomLog there logged nothing of the token; the README's lines must
# log its id all the same.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Token;

open my $fh, '<', "$FindBin::Bin/../README" or die "README: $!";
my $readme = do { local $/; <$fh> };
close $fh;
my ($lines) = $readme =~ /^(    # Who used which token.*?)\n\n/ms or die "README: no token log\n";
$lines =~ s/^    //mg;
$lines =~ s/\$\{APACHE_LOG_DIR\}/\@DIR\@\/logs/g;

my $env = BBT::Env->new(extra_conf => <<"EOC")->start;
$lines
<VirtualHost *>
    ServerName site.example
    CustomLog "\@DIR\@/logs/site_log" "%h %u \\"%r\\" %>s"
</VirtualHost>
EOC

$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'REPO_READ', 'PROJ/repo');
my $tok = $env->token_create('alice', name => 'ci', perms => ['REPO_READ']);
my $id = BBT::Token::parse_token($tok)->{id};

my $w = $env->workdir('clone');
my ($rc, $out, $err) = $env->git('clone', '-q', $env->clone_url('alice', $tok, 'PROJ', 'repo'), $w);
is($rc, 0, 'a clone with a token, served by a virtual host with its own CustomLog') or diag $err;
like(BBT::Env::slurp($env->dir . '/logs/site_log'), qr{GET /scm/PROJ/repo\.git/info/refs},
     '  the virtual host logged it in its own log');

my ($file) = $lines =~ m{^\w+Log\s+(\S+)}m;
my $log = $env->dir . '/logs/' . ($file =~ s{.*/}{}r);
like(BBT::Env::slurp($log), qr{"GET /scm/PROJ/repo\.git/info/refs\S* HTTP/1\.1" 200 \d+ token=$id\b},
     "  and the README's token log names the token's id");
unlike(BBT::Env::slurp($log), qr/\Q$tok\E|\Q${\ substr($tok, 5)}\E/, '  never the token');

done_testing;
