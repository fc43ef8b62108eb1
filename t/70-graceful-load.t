# Graceful restarts under load: `apache2 -k graceful` twice during a stream
# of token requests (Bearer and Basic, a password user too) and git clones.
# No request is answered with an error status and every clone succeeds; the
# module's state (routes, the database pool's bound) comes back with each
# new generation.  Bounded in requests: the restarts happen after so many
# have been served, not after a time.
#
# git is served over dumb HTTP here (the repositories' files, through the
# git route set), not through git-http-backend: mod_cgid restarts its CGI
# daemon with every graceful restart, and a CGI request meeting that moment
# is answered 503 by mod_cgid itself ("unable to connect to cgi daemon"),
# whatever module stands in front of it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);
use BBT::Env qw(run_cmd);
use BBT::Assert;

my $extra = <<'EOC';
Alias /dgit "@DIR@/repos"
<Directory "@DIR@/repos">
    Require all granted
</Directory>
<Location /dgit>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /dgit
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => ['authn_file'], loglevel => 'warn')->start;
my $pw = 'alice-Pa55-word';
$env->htpasswd(alice => $pw);
my $bare = $env->make_repo('PROJ', 'repo');
$env->git_ok('--git-dir', $bare, 'update-server-info');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'ci');
my $UP = '/dgit/PROJ/repo.git/info/refs';
my @auth = ("Bearer $tok", $env->basic('alice', $tok), $env->basic('alice', $pw));
my ($CLIENTS, $EACH, $CLONERS, $CLONES) = (4, 150, 2, 5);
my $d = $env->dir;

# Clients: each writes one line per answer (the status) to a file of its own.
my @pids;
for my $c (1 .. $CLIENTS) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
        open my $out, '>', "$d/run/client.$c" or POSIX::_exit(2);
        $out->autoflush(1);
        for my $i (1 .. $EACH) {
            my $r = $ua->get($env->url($UP), { headers => { Authorization => $auth[ $i % @auth ] } });
            print $out "$r->{status}\n";
        }
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
for my $c (1 .. $CLONERS) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open my $out, '>', "$d/run/cloner.$c" or POSIX::_exit(2);
        $out->autoflush(1);
        for my $i (1 .. $CLONES) {
            my ($rc, undef, $err) = $env->git('clone', '-q',
                                              $env->clone_url('alice', $tok, 'PROJ', 'repo', 'dgit'),
                                              "$d/work/g$c.$i");
            $err =~ s/\n/ /g;
            print $out "$rc $err\n";
        }
        POSIX::_exit(0);
    }
    push @pids, $pid;
}

sub served { my $n = 0; for my $f (glob "$d/run/client.*") { $n += () = BBT::Env::slurp($f) =~ /\n/g } $n }
sub graceful {
    my ($rc, $out, $err) = run_cmd(cmd => [$BBT::Env::APACHE, '-f', "$d/httpd.conf", '-k', 'graceful'],
                                   tmp => "$d/run", env => $env->httpd_env);
    return $rc == 0;
}
sub wait_served {
    my ($n) = @_;
    while (served() < $n) {
        last unless grep { waitpid($_, WNOHANG) == 0 } @pids;
        sleep 0.05;
    }
}

my $total = $CLIENTS * $EACH;
wait_served(int($total / 4));
ok(graceful(), 'apachectl -k graceful, after a quarter of the requests');
wait_served(int($total / 2));
ok(graceful(), 'and again, after half');
waitpid($_, 0) for @pids;

my (%st, @bad);
for my $f (glob "$d/run/client.*") {
    $st{$_}++ for split /\n/, BBT::Env::slurp($f);
}
is(served(), $total, "$total requests answered");
is_deeply(\%st, { 200 => $total }, 'every one 200: no error status through the restarts') or diag explain \%st;
for my $f (glob "$d/run/cloner.*") {
    push @bad, grep { !/^0 / } split /\n/, BBT::Env::slurp($f);
}
is(scalar(@bad), 0, 'every clone succeeded (' . $CLONERS * $CLONES . ')') or diag join "\n", @bad;
like($env->error_log_text, qr/resuming normal operations/, 'httpd restarted');
is(scalar(() = $env->error_log_text =~ /SIGUSR1|Graceful restart requested/g), 2, 'gracefully, twice');
is_ok_res($env->get($UP, { Authorization => "Bearer $tok" }), 'the new generation serves tokens');
is(scalar($env->crash_lines), 0, 'no child crashed') or diag join "\n", $env->crash_lines;
done_testing;
