#!/usr/bin/perl
# Each pooled connection prepares the module's statements (the lookup, the
# owner's level, a personal project's owner) on first use, and again once
# the connection has a new backend: PQreset after PostgreSQL dropped it.
# The new backend may have the process id of the one it replaces
# (t/27-db-initsql-pid-reuse), and then too the module must know that the
# statements are gone, rather than run them, be told "prepared statement
# ... does not exist" and try once more (BBT073).
#
# One httpd child, a pool of one connection, no token cache: every
# request runs its statements on that connection.  The owner's level is
# asked for a token of an owner with more grants than the lookup's level
# map holds; the personal project's owner for a project token of ~alice.
# The test has both run, kills the pooled backend and asks both again: the
# kernel (ns_last_pid, as root) gives the old id to the backend made for
# the reset (BBT::PidReuse: the postmaster held until the connection waits
# for it).  Another process on the machine may still take the id first:
# it is tried again, and the test fails if the id is never reused; it is
# skipped only where ns_last_pid cannot be written.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env qw(auth_bearer parse_token);
use BBT::Assert;
use BBT::PidReuse qw(pid_reuse_unavailable backend_as_pid);

if (my $why = pid_reuse_unavailable()) {
    plan skip_all => "$why: no backend can be given the old one's process id";
}

my $env = BBT::Env->new(
    mpm_conf   => BBT::Util::one_child_mpm(4),
    extra_conf => "BBTokenCache off\nDBDMin 1\nDBDKeep 1\nDBDMax 1\n",
)->start;

$env->make_repo('PROJ', 'repo');
$env->make_repo('~alice', 'home');
$env->user_add('alice');
$env->user_add('many');
$env->grant('many', 'PROJECT_WRITE', 'PROJ');
my ($mt, $mid) = $env->token_create('many', name => 'many', perms => ['REPO_WRITE']);
# One grant more than the lookup's map holds: the level is asked apart.
my $max = $env->psql('SELECT bbtoken_lookup_grants_max()');
$env->psql("INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
           . " SELECT u.id, 'PROJ', 'r' || g, 'REPO_READ' FROM bbtoken_users u, generate_series(1, $max) g"
           . " WHERE u.name = 'many'");
is($env->psql("SELECT count(*) FROM bbtoken_lookup WHERE id = '$mid' AND levels IS NULL"), 1,
   "many's token has no level map");
my $pt = $env->scoped_token_create('--project', '~alice', name => 'home ci');

my $RP = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';
my $HOME = '/scm/~alice/home.git/info/refs?service=git-upload-pack';
my ($hm, $hp) = (auth_bearer($mt), auth_bearer($pt));

# Both statements run on the pooled connection's backend: 1, or 0.
sub both_answer {
    my ($what) = @_;
    my $ok = is($env->get($RP, $hm)->{status}, 200, "$what: the owner's level asked: a push advertisement");
    return is($env->get($HOME, $hp)->{status}, 200, "$what: ~alice's owner asked: ~alice/home read") && $ok;
}

sub backend_pids {
    return grep { /^\d+$/ }
        split /\n/, $env->psql("SELECT pid FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'");
}

both_answer('before') or BAIL_OUT('the requests do not work at all');

my ($reused, @seen) = (0);
my $tries = 20;
for my $try (1 .. $tries) {
    my @pids = backend_pids();
    if (@pids != 1) {
        # The pool's one connection is being made again: wait for it.
        sleep 0.1;
        next;
    }
    # Both prepared on this backend (a try before may have run them on
    # another).
    both_answer('warm') or last;
    my $old = $pids[0];
    $env->psql("SELECT pg_terminate_backend($old)");
    my $deadline = time + 30;
    sleep 0.05 while (-e "/proc/$old" && time < $deadline);
    my $mark = log_mark($env->error_log_path);
    my ($asked, $st_m) = backend_as_pid($env, $old, sub { $env->get_bg($RP, $hm) });
    my $st_p = $env->get($HOME, $hp)->{status};
    my @now = backend_pids();
    push @seen, "$old->@now:$st_m,$st_p" . ($asked ? '' : ' (not asked: no connection seen waiting, or the id taken)');
    is("$st_m $st_p", '200 200', "try $try: both answer after the reset") or last;
    next unless @now == 1 && $now[0] == $old;
    $reused = 1;
    my @lines = log_lines_since($env->error_log_path, $mark);
    my @gone = grep { /does not exist/ } @lines;
    is(scalar(@gone), 0, "the backend's process id reused ($old): no statement was believed prepared there")
        or diag join "\n", @gone;
    # The lookup, the reset's first statement, fails once with the dropped
    # connection: that is the BBT073 to expect, and the only one.
    my @retried = grep { /BBT073/ && !/the token lookup \(will retry once\)/ } @lines;
    is(scalar(@retried), 0, '  and neither the owner\'s level nor ~alice\'s owner was tried twice')
        or diag join "\n", @retried;
    last;
}
note "tries: @seen";
ok($reused, "the backend's process id was reused within $tries tries") or diag "tries: @seen";
both_answer('after');

$env->httpd_stop(graceful => 1);
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
