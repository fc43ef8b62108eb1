# A thread's copies of the cache's entries (bbt_cnear_get) are keyed by
# the token alone, whichever virtual host made them: a host that reads
# another database must never be answered from them.  One child with one
# thread serves both hosts in turn, so the virtual host's request always
# finds the main server's copy of the token's entry.  The other database
# is a copy of the main one in which the token is revoked: the very same
# token bytes, live on one host and refused on the other.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since served_from_cache);

my $env = BBT::Env->new(mpm_conf => BBT::Util::one_child_mpm(1), httpd => 0)->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'two hosts');
# Made from the main database before httpd connects to it (a template
# must have no other session).
$env->psql('CREATE DATABASE other TEMPLATE bbtoken', db => 'postgres');
$env->psql("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id'", db => 'other');
my $port2 = BBT::Util::free_port();
$env->{extra_conf} = "Listen 127.0.0.1:$port2\n<VirtualHost 127.0.0.1:$port2>\n"
    . "    DBDParams \"host=127.0.0.1 port=" . $env->pg_port
    . " dbname=other user=bbtoken_httpd connect_timeout=2\"\n</VirtualHost>\n";
$env->write_cgi;
$env->httpd_start;
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# One request, on a connection of its own: the child's one thread.
sub status {
    my ($base) = @_;
    return HTTP::Tiny->new(timeout => 30, keep_alive => 0)
        ->get($base . $UP, { headers => auth_bearer($tok) })->{status};
}

ok(served_from_cache($env, $UP, auth_bearer($tok), $id), 'the main server answers the token from the cache');
my $m = log_mark($env);
my @got = map { (status($env->base_url), status("http://127.0.0.1:$port2")) } 1 .. 5;
is("@got", join(' ', ('200 401') x 5),
   'main server: 200; the virtual host, where it is revoked: 401; in turn, on one thread');
my $log = log_since($env, $m);
like($log, qr/BBT035: token \Q$id\E refused: token revoked\n/, 'refused by its own database');
my $cached = () = $log =~ /BBT03[57]: token \Q$id\E [^\n]*\(from the cache\)/g;
cmp_ok($cached, '<=', 5, "$cached answered from the cache: the main server's alone");

done_testing;
