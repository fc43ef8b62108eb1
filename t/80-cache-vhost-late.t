# A virtual host that reads another database is told of (BBT306) even when
# a child's first token request for it comes before the cache's listener
# has connected: the warning waits until the listener's database is known,
# then comes once.  One child, so that the request that would warn is
# served by the child that saw the host before the listener was up.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer parse_token);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since wait_log);

my $env = BBT::Env->new(httpd => 0, mpm => 'event', mpm_conf => BBT::Util::one_child_mpm(8))->start;
my $port2 = BBT::Util::free_port();
$env->psql('CREATE DATABASE other', db => 'postgres');
$env->psql(undef, db => 'other', file => "$BBT::Env::ROOT/sql/schema.sql");
$env->psql(undef, db => 'other', file => "$BBT::Env::ROOT/sql/grants.sql", vars => ['role=bbtoken_httpd']);
$env->{extra_conf} = "Listen 127.0.0.1:$port2\n<VirtualHost 127.0.0.1:$port2>\n"
    . "    DBDParams \"host=127.0.0.1 port=" . $env->pg_port
    . " dbname=other user=bbtoken_httpd connect_timeout=2\"\n</VirtualHost>\n";
# The listener cannot subscribe yet: it may not read the schema's version.
$env->psql('REVOKE SELECT ON bbtoken_schema FROM bbtoken_httpd');
$env->write_cgi;
$env->httpd_start;
$env->make_repo('PROJ', 'repo');

my @other = ('--db', $env->superuser_conninfo('other'));
$env->cli_raw(@other, 'user', 'add', 'olga');
$env->cli_raw(@other, 'grant', 'olga', 'PROJECT_READ', 'PROJ');
my ($rc, $tok) = $env->cli_raw(@other, 'create', 'olga', '--name', 'other');
chomp $tok;
my $url = "http://127.0.0.1:$port2/scm/PROJ/repo.git/info/refs?service=git-upload-pack";
my $ua = HTTP::Tiny->new(timeout => 20);

ok(wait_log($env, 0, qr/BBT308: the token cache's listener cannot reach PostgreSQL/),
   'the listener cannot subscribe yet (BBT308)');
is($ua->get($url, { headers => auth_bearer($tok) })->{status}, 200,
   "the host's token, before the listener is up: 200");
unlike($env->error_log_text, qr/BBT306/, 'nothing to compare the host with yet: no BBT306');

my $mark = log_mark($env);
$env->psql('GRANT SELECT ON bbtoken_schema TO bbtoken_httpd');
ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL/),
   'the listener is up (BBT309)');
is($ua->get($url, { headers => auth_bearer($tok) })->{status}, 200, 'the token again: 200') for 1 .. 3;
my $log = log_since($env, $mark);
my @warned = $log =~ /(BBT306: virtual host .*reads another database)/g;
is(scalar @warned, 1, 'now BBT306 says the host is not cached, once') or diag $log;
unlike($log, qr/\(from the cache\)/, 'and it was not answered from the cache');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
