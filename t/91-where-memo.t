# A connection's parsed allow-list is reused only for the very same list:
# two tokens with different lists on one kept-alive connection are each
# held to their own (the memo of the parsed list is keyed by its text).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(until_answer settle);

my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $here = $env->cli_ok('create', 'alice', '--name', 'here', '--allow-from', '127.0.0.0/8'); chomp $here;
my $there = $env->cli_ok('create', 'alice', '--name', 'there', '--allow-from', '10.0.0.0/8'); chomp $there;
settle();
my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 30);
my $get = sub { $ua->get($env->url($UP), { headers => auth_bearer($_[0]) })->{status} };
is($get->($here), 200, 'one connection: the token allowed from 127.0.0.0/8 is let in');
is($get->($there), 401, 'same connection: the token allowed from 10.0.0.0/8 only is refused');
is(HTTP::Tiny->new->get($env->url($UP), { headers => auth_bearer($there) })->{status}, 401,
   'a new connection: refused too');
done_testing;
