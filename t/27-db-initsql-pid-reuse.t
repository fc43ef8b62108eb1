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
# and revoked in bbt2.  The test kills the pooled backend and asks the
# kernel (ns_last_pid, as root) to give its process id to the next process
# made, then asks, without making a process of its own, over the HTTP
# connection it keeps: the reset backend has the old id.  The token must
# stay refused.  Other processes on the machine may take the id first; it
# is tried again until the id was reused (or skipped when it never is).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer parse_token);
use BBT::Assert;
use BBT::SchemaCopy qw(schema_copy cli_in token_in copy_to_public);

my $last_pid = '/proc/sys/kernel/ns_last_pid';
plan skip_all => "needs root and a writable $last_pid" unless $> == 0 && -w $last_pid;

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
for my $try (1 .. 40) {
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
    # Nothing of the test's own makes a process from here to the answer:
    # the request goes over the connection HTTP::Tiny keeps.
    if (open(my $fh, '>', $last_pid)) {
        print $fh $old - 1;
        close $fh;
    }
    my $st = $env->get($UP, $h)->{status};
    my @now = backend_pids();
    push @seen, "$old->@now:$st";
    if (@now == 1 && $now[0] == $old) {
        $reused = 1;
        is($st, 401, "the backend's process id reused ($old): the token revoked in bbt2 stays refused");
        last;
    }
    isnt($st, 200, "a new process id: the token is not let in") or last;
}
note "tries: @seen";
SKIP: {
    skip 'the process id was never reused (a busy machine)', 1 unless $reused;
    is($env->get($UP, $h)->{status}, 401, 'and after');
}

$env->httpd_stop(graceful => 1);
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
