#!/usr/bin/perl
# A virtual host with the main server's DBDParams but DBDInitSQL of its own
# (its own pool settings, so mod_dbd gives it a pool of its own that runs
# that SQL) may read other data through the very same connection options:
# here its sessions find another schema's bbtoken_lookup first, which holds
# no token.  libpq's options are the same as the listener's, so only the
# configuration tells the two apart: such a host must not use the cache,
# neither to believe the main server's entries (a token its own database
# does not know would be let in) nor to leave its own there (the main
# server's token would be refused).  mod_dbd runs one host's DBDInitSQL
# for every host of the same pool settings: a host with those settings and
# none of its own reads as that host does, and is not cached either.  A
# host with the main server's settings still is.  One child, so that the
# hosts' requests meet in one child's view of the cache.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer parse_token);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since wait_log settle);

my $env = BBT::Env->new(httpd => 0, mpm => 'event', mpm_conf => BBT::Util::one_child_mpm(8))->start;
my ($port2, $port3, $port4) = map { BBT::Util::free_port() } 1 .. 3;
$env->psql('CREATE SCHEMA tenantb; CREATE TABLE tenantb.bbtoken_lookup (LIKE public.bbtoken_lookup);'
           . ' GRANT USAGE ON SCHEMA tenantb TO bbtoken_httpd;'
           . ' GRANT SELECT ON tenantb.bbtoken_lookup TO bbtoken_httpd');
# httpd lists virtual hosts last defined first, and mod_dbd runs the
# DBDInitSQL of the first host of a pool it meets: the sibling ($port4),
# defined first, reads as the other host ($port2) does.
$env->{extra_conf} = "Listen 127.0.0.1:$port4\n<VirtualHost 127.0.0.1:$port4>\n    DBDMin 0\n</VirtualHost>\n"
    . "Listen 127.0.0.1:$port2\n<VirtualHost 127.0.0.1:$port2>\n"
    . "    DBDMin 0\n    DBDInitSQL \"SET search_path TO tenantb, public\"\n</VirtualHost>\n"
    . "Listen 127.0.0.1:$port3\n<VirtualHost 127.0.0.1:$port3>\n</VirtualHost>\n";
my $mark = log_mark($env);
$env->write_cgi;
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL/),
   'the listener is up (BBT309)');

my $path = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $main = "http://127.0.0.1:" . $env->port . $path;
my $other = "http://127.0.0.1:$port2$path";
my $ua = HTTP::Tiny->new(timeout => 20);

sub token {
    my ($name) = @_;
    my $out = $env->cli_ok('create', '--project', 'PROJ', '--name', $name, '--perm', 'PROJECT_READ');
    chomp $out;
    my $p = parse_token($out) or die "no token printed: $out";
    settle();
    return ($out, $p->{id});
}

# Three times $tok on $url: each answered $want, and never from the cache
# when $cache is 0.
sub thrice {
    my ($url, $tok, $want, $cache, $name) = @_;
    for my $i (1 .. 3) {
        my $mark = log_mark($env);
        my $st = $ua->get($url, { headers => auth_bearer($tok) })->{status};
        my $log = log_since($env, $mark);
        ok($st == $want && ($cache || $log !~ /\(from the cache\)/), "$name ($i): $want")
            or diag "$st\n$log";
    }
}

# The host first: its database does not know the token.
my ($tok) = token('first');
is($ua->get($other, { headers => auth_bearer($tok) })->{status}, 401,
   "the other host's database knows no such token: 401");
thrice($main, $tok, 200, 1, "the main server's token after the other host refused it");

# The main server first: its entry is its own.
my ($tok2, $id2) = token('second');
ok(BBT::Cache::served_from_cache($env, $path, auth_bearer($tok2), $id2),
   "the main server's token is answered from the cache");
thrice($other, $tok2, 401, 0, 'the same token on the other host, after the main server cached it');

# The other hosts.
my $plain = "http://127.0.0.1:$port3$path";
my $sibling = "http://127.0.0.1:$port4$path";
my $deadline = time + 60;
my $cached = 0;
while (!$cached && time < $deadline) {
    $mark = log_mark($env);
    my $st = $ua->get($plain, { headers => auth_bearer($tok2) })->{status};
    $cached = $st == 200 && log_since($env, $mark) =~ /BBT037: token \Q$id2\E .*\(from the cache\)/;
    sleep 0.05 unless $cached;
}
ok($cached, "a host with the main server's settings is answered from the cache");
thrice($sibling, $tok2, 401, 0, "a host with the other host's pool settings reads as it does, not from the cache");

for my $p ($port2, $port4) {
    my @warned = $env->error_log_text =~ /(BBT810: virtual host \S*:$p sets its database sessions up itself)/g;
    is(scalar @warned, 1, "BBT810 says, once, that the host on $p is not cached");
}
unlike($env->error_log_text, qr/BBT810: virtual host \S*:$port3 /, 'nor of the host with the main settings');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
