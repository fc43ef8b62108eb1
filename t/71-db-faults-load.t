# Database faults under load: PostgreSQL stopped and started again while a
# stream of token requests (Bearer and Basic) and password requests runs.
# Every answer is 200 or 503 (with Retry-After): never 401, never 500,
# never access without the database.  Bounded in requests: PostgreSQL
# stops after so many answers, and starts again after so many more.  A
# refused connection is answered fast, so a client can run out of
# requests while pg_ctl is still starting the server: each one ends with
# one request of each kind made after the parent says PostgreSQL is back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);
use BBT::Env;
use BBT::Assert;

my $extra = <<'EOC';
<Location /scm>
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => ['authn_file'], loglevel => 'warn')->start;
my $pw = 'alice-Pa55-word';
$env->htpasswd(alice => $pw);
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'ci');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my @auth = ("Bearer $tok", $env->basic('alice', $tok), $env->basic('alice', $pw));
my ($CLIENTS, $EACH) = (4, 250);
my $d = $env->dir;
my $back = "$d/run/pg-back";

# Each client writes a line per answer: the status, whether it carried
# Retry-After, and whether git-http-backend's advertisement was served.
my @pids;
for my $c (1 .. $CLIENTS) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
        open my $out, '>', "$d/run/client.$c" or POSIX::_exit(2);
        $out->autoflush(1);
        my $ask = sub {
            my $r = $ua->get($env->url($UP), { headers => { Authorization => $_[0] } });
            printf $out "%d %d %d\n", $r->{status}, defined $r->{headers}{'retry-after'} ? 1 : 0,
                ($r->{content} // '') =~ /# service=git-upload-pack/ ? 1 : 0;
        };
        $ask->($auth[ $_ % @auth ]) for 1 .. $EACH;
        # A bound, not a timing: the parent says so long before.
        for (1 .. 6000) { last if -e $back; sleep 0.05 }
        $ask->($_) for @auth;
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
sub answers { my @a; push @a, split /\n/, BBT::Env::slurp($_) for glob "$d/run/client.*"; return @a }
sub wait_answers {
    my ($n) = @_;
    while (answers() < $n) {
        last unless grep { waitpid($_, WNOHANG) == 0 } @pids;
        sleep 0.05;
    }
}

my $total = $CLIENTS * ($EACH + @auth);
wait_answers(int($total / 5));
$env->pg_stop;
my $stopped_at = answers();
wait_answers($stopped_at + int($total / 5));
$env->pg_start;
BBT::Env::spew($back, "1\n");
waitpid($_, 0) for @pids;

my @a = answers();
is(scalar(@a), $total, "$total requests answered");
my %st;
$st{ (split ' ', $_)[0] }++ for @a;
is_deeply([sort grep { $_ != 200 && $_ != 503 } keys %st], [], 'only 200 and 503: never 401, never 500')
    or diag explain \%st;
ok($st{503}, "503 while PostgreSQL was down ($st{503})");
is(scalar(grep { /^503 0/ } @a), 0, 'every 503 with Retry-After');
is(scalar(grep { /^503 \d 1/ } @a), 0, 'no 503 served the backend\'s answer');
is(scalar(grep { /^200 \d 0/ } @a), 0, 'every 200 is the backend\'s answer');
# Each client's answers are in its own order: its last few were asked
# after pg_ctl said the server was up, one with each credential.
my @last = map { my @l = split /\n/, BBT::Env::slurp($_); @l[ -@auth .. -1 ] } glob "$d/run/client.*";
is(scalar(grep { defined && /^200 / } @last), $CLIENTS * @auth,
    'and 200 again once it was back: each client\'s answers after the start, Bearer, token and password')
    or diag join ', ', map { $_ // 'none' } @last;
is_ok_res($env->get($UP, { Authorization => "Bearer $tok" }), 'a token request afterwards');
is(scalar($env->crash_lines), 0, 'no child crashed') or diag join "\n", $env->crash_lines;
done_testing;
