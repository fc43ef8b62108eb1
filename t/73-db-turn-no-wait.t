# With BBTokenDBWait 0 ("0 answers at once" when all DBDMax places are in
# use) and places free, a request is not refused for another thread's
# turn at mod_dbd's pool.  One thread of a child asks the pool at a time
# (t/73-db-connect-turns), and a request whose BBTokenDBWait was up gave
# up at once whenever another was inside the pool, taking an idle
# connection (microseconds) or making one (milliseconds): on a healthy
# database, clients got 503 and an ERROR BBT360 saying that another
# request was connecting all that time.  Now a turn is waited for past
# BBTokenDBWait until its holder has held it for a second (a database
# that does not answer a connect).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env;
use BBT::Assert;

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my ($N, $M) = (8, 50);    # keep-alive clients at once, requests each
# mod_dbd's pool starts with one connection (DBDMin): the clients' first
# requests at once make theirs, one turn after another.
my $env = BBT::Env->new(
    extra_conf => "$BBT::Env::DUMB_CONF\nBBTokenCache off\nBBTokenDBWait 0\nDBDMax 10\n",
    mpm_conf   => BBT::Util::one_child_mpm(2 * $N),
)->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $U = '/dumb/PROJ/repo.git/HEAD';
my @tok = map { scalar $env->token_create('alice', name => "t$_") } 1 .. $N;
# Each token used once, one after another: its first use's writes made,
# its last use not due again for a minute.
is($env->get($U, { Authorization => "Bearer $_" })->{status}, 200, 'a token used once') for @tok;

my $mark = log_mark($env->error_log_path);
my @w = map {
    my $t = $_;
    BBT::Util::in_background($env->dir . '/run', sub {
        my $h = HTTP::Tiny->new(timeout => 60, keep_alive => 1);
        my %c;
        $c{ $h->get($env->url($U), { headers => { Authorization => "Bearer $t" } })->{status} }++ for 1 .. $M;
        return join ',', map {"$_=$c{$_}"} sort keys %c;
    });
} @tok;
my @r = map { $_->() } @w;
my @log = log_lines_since($env->error_log_path, $mark);
is_deeply([grep { $_ ne "200=$M" } @r], [], "$N clients with $M requests each, fewer than DBDMax: every request served")
    or diag "statuses per client: @r";
my @turns = grep {/BBT360/} @log;
is(scalar @turns, 0, "no request refused for another's turn at the pool (BBT360)") or diag $turns[0];
is_deeply([grep {/BBT350/} @log], [], 'nor for want of a place (BBT350)');
done_testing;
