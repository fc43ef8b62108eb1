#!/usr/bin/perl
# A pooled connection PostgreSQL dropped is connected again by PQreset,
# and DBDInitSQL must be run again on the new backend (t/26).  The new
# backend may have the process id of the one it replaces: PostgreSQL in a
# container starts its process ids afresh, and the kernel's wrap around
# pid_max (32768 by default) in time.  The session must be made again
# whatever the new backend's id.
#
# One httpd child, a pool of one connection; the schema in public and in
# bbt2, DBDInitSQL setting the search_path to bbt2, a token live in public
# and revoked in bbt2.  The test kills the pooled backend and asks again:
# the kernel (ns_last_pid, as root) gives the old id to the backend made
# for the reset (BBT::PidReuse: the postmaster held until the connection
# waits for it).  The token must stay refused.  Another process on the
# machine may still take the id first: it is tried again, and the test
# fails if the id is never reused; it is skipped only where ns_last_pid
# cannot be written.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer parse_token);
use BBT::Assert;
use BBT::SchemaCopy qw(schema_copy cli_in token_in copy_to_public);
use BBT::PidReuse qw(pid_reuse_unavailable backend_as_pid);

if (my $why = pid_reuse_unavailable()) {
    plan skip_all => "$why: no backend can be given the old one's process id";
}

my $env = BBT::Env->new(httpd => 0, mpm_conf => BBT::Util::one_child_mpm(4))->start;
schema_copy($env, 'bbt2');

sub cli2 { return cli_in($env, 'bbt2', @_) }

$env->make_repo('PROJ', 'repo');
cli2('user', 'add', 'alice');
cli2('grant', 'alice', 'PROJECT_WRITE', 'PROJ');
my $out = cli2('create', 'alice', '--name', 'in both');
chomp $out;
my $p = parse_token($out) or die "no token printed: $out";
my ($token, $id) = ($out, $p->{id});

# Every row of bbt2's tables into public's: the token live there, what a
# session without DBDInitSQL reads.
note 'public: db check --repair: ' . copy_to_public($env, 'bbt2');
cli2('revoke', $id);
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $h = auth_bearer($token);
my $pool = "BBTokenCache off\nDBDMin 1\nDBDKeep 1\nDBDMax 1\n";

# Control: without DBDInitSQL the token is read from public, live.
$env->{extra_conf} = $pool;
$env->httpd_start;
is($env->get($UP, $h)->{status}, 200, 'control: without DBDInitSQL the token is let in (public)');
$env->httpd_stop(graceful => 1);

$env->{extra_conf} = $pool . "DBDInitSQL \"SET search_path TO bbt2\"\n";
$env->httpd_start;
is($env->get($UP, $h)->{status}, 401, 'the token revoked in bbt2 is refused');

sub backend_pids {
    return grep { /^\d+$/ }
        split /\n/, $env->psql("SELECT pid FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'");
}

my ($reused, @seen) = (0);
my $tries = 20;
for my $try (1 .. $tries) {
    my @pids = backend_pids();
    if (@pids != 1) {
        # The pool's one connection is being made again: wait for it.
        isnt($env->get($UP, $h)->{status}, 200, 'not let in while the pool reconnects') or last;
        sleep 0.1;
        next;
    }
    my $old = $pids[0];
    $env->psql("SELECT pg_terminate_backend($old)");
    my $deadline = time + 30;
    sleep 0.05 while (-e "/proc/$old" && time < $deadline);
    my ($asked, $st) = backend_as_pid($env, $old, sub { $env->get_bg($UP, $h) });
    my @now = backend_pids();
    push @seen, "$old->@now:$st" . ($asked ? '' : ' (not asked: no connection seen waiting, or the id taken)');
    if (@now == 1 && $now[0] == $old) {
        $reused = 1;
        is($st, 401, "the backend's process id reused ($old): the token revoked in bbt2 stays refused");
        last;
    }
    isnt($st, 200, "a new process id: the token is not let in") or last;
}
note "tries: @seen";
ok($reused, "the backend's process id was reused within $tries tries") or diag "tries: @seen";
is($env->get($UP, $h)->{status}, 401, 'and after');

$env->httpd_stop(graceful => 1);
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
