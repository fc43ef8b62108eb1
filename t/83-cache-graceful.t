# A graceful restart does not leave the old generation's listener
# connected.  The old children finish the requests they are serving, which
# may take long (a big clone, a slow client); their listener stops at the
# restart, and its connection must go with it, not stay open, LISTENing
# with nobody reading, for as long as the last of them lives: one more
# 'mod_bbtoken listener' in pg_stat_activity for every restart that met a
# long request.  Under every MPM, the old children are held by requests
# whose headers are not finished (Timeout 300), and answered at the end,
# which proves they were alive all along.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use BBT::Env qw(run_cmd);
use BBT::Cache qw(wait_log log_mark);

my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
# Every worker of the old generation: whichever child holds the listener
# is kept.
my $HELD = 16;

for my $mpm (qw(prefork worker event)) {
    subtest $mpm => sub {
        my %o = (mpm => $mpm, extra_conf => "Timeout 300\n");
        # Every child started at once: the one that holds the listener
        # takes one of the held requests.
        $o{mpm_conf} = "StartServers $HELD\nMinSpareServers 1\nMaxSpareServers $HELD\nServerLimit $HELD\n"
            . "MaxRequestWorkers $HELD\n" if $mpm eq 'prefork';
        my $env = BBT::Env->new(%o)->start;
        ok(wait_log($env, 0, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');
        my $q = "SELECT pid FROM pg_stat_activity WHERE application_name = 'mod_bbtoken listener'";
        my $old = $env->psql($q);
        like($old, qr/^\d+$/, "one listener connection (backend $old)");
        my @held;
        for (1 .. $HELD) {
            my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$env->{port}", Timeout => 10)
                or die "connect: $!";
            print $s "GET $UP HTTP/1.1\r\nHost: 127.0.0.1\r\n";
            push @held, $s;
        }
        # Let the workers take them.
        sleep 1;
        my $mark = log_mark($env);
        my ($rc, $out, $err) = run_cmd(cmd => [$BBT::Env::APACHE, '-f', $env->{conf}, '-k', 'graceful'],
                                       tmp => "$env->{dir}/run", timeout => 60);
        is($rc, 0, 'apache2 -k graceful') or diag "$out$err";
        ok(wait_log($env, $mark, qr/resuming normal operations/), 'the new generation runs');
        my ($gone, $deadline) = (0, time + 30);
        while (time < $deadline) {
            my %now = map { $_ => 1 } split /\n/, $env->psql($q);
            $gone = !$now{$old};
            last if $gone;
            sleep 0.1;
        }
        ok($gone, "the old generation's listener connection is closed (backend $old)")
            or diag "listeners now: " . join(' ', split /\n/, $env->psql($q));
        my $answered = 0;
        for my $s (@held) {
            print $s "\r\n";
            my $line = <$s>;
            $answered++ if defined $line && $line =~ m{^HTTP/1\.1 401 };
        }
        is($answered, $HELD, 'and every held request is answered by its old child (401: no credentials)');
        cmp_ok($env->psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mod_bbtoken listener'"),
               '<=', 1, 'at most one listener connection');
        is_deeply([$env->crash_lines], [], 'no child crashed');
    };
}
done_testing;
