# PostgreSQL unreachable: 503 with Retry-After, never 401 and never access
# (once the token cache's listener has seen the database go: until then,
# at most half a second, the cache may still answer what it holds).
# PostgreSQL back (started again, or restarted under httpd's pooled
# connections): the module works again without an httpd restart.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env qw(forge_token parse_token mistype_token in_children);
use BBT::Assert;
use BBT::Cache qw(wait_log log_mark);

my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $RP = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'ci');
my $typo = mistype_token($tok);
my $unknown = forge_token('000000000042');    # valid checksum, no such row
# httpd's main process, by its PidFile, and the generations it has
# started (BBT404 each, a graceful restart's too): the module must recover
# by itself, httpd never started again.
my $httpd_main = $env->httpd_main_process;
like($httpd_main, qr/^\d+ \d+\z/, "httpd's main process and its start time: $httpd_main");
my $generations = () = $env->error_log_text =~ /BBT404: /g;

my %auth = (
    'valid Bearer'          => { Authorization => "Bearer $tok" },
    'valid Basic'           => { Authorization => $env->basic('alice', $tok) },
    'well-formed unknown'   => { Authorization => "Bearer $unknown" },
    'valid token, bad user' => { Authorization => $env->basic('mallory', $tok) },
);

# Is this response an authenticated success?  git-http-backend's
# advertisement carries the service line.
sub served { my $r = shift; return $r->{status} == 200 && ($r->{content} // '') =~ /# service=git-/ }

subtest 'control: everything works with the database up' => sub {
    is_ok_res($env->get($UP, $auth{'valid Bearer'}), 'valid token');
    is_401($env->get($UP, $auth{'well-formed unknown'}), 1, 'unknown token');
};

# Several concurrent requests, so each child holds pooled connections.
# Returns how many of the $n clients saw anything but 200.
sub burst {
    my ($n, $hdr) = @_;
    return scalar grep { $_ != 0 } in_children($n, sub {
        my $ua = HTTP::Tiny->new(timeout => 20, keep_alive => 0);
        my $bad = 0;
        for (1 .. 3) {
            my $r = $ua->get($env->url($UP), { headers => $hdr });
            $bad++ unless $r->{status} == 200;
        }
        return $bad ? 1 : 0;
    });
}

subtest 'PostgreSQL stopped: 503 + Retry-After, never 401, never access' => sub {
    is(burst(6, $auth{'valid Bearer'}), 0, 'warm-up: concurrent requests all succeed');
    my $mark = log_mark($env);
    $env->pg_stop;
    ok(wait_log($env, $mark, qr/BBT30[78]: /), "the cache's listener knows the database is gone");
    for my $round (1 .. 3) {
        for my $name ('valid Bearer', 'valid Basic', 'well-formed unknown') {
            my $r = $env->get($UP, $auth{$name});
            is_503($r, "round $round, $name");
            ok(!served($r), "  $name: nothing served");
        }
        my $r = $env->get($RP, $auth{'valid Bearer'});
        is_503($r, "round $round, receive-pack advertisement");
        # The user name can only be compared once the row is read.
        $r = $env->get($UP, $auth{'valid token, bad user'});
        is_503($r, "round $round, valid token with another user name");
    }
    my ($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('alice', $tok, 'PROJ', 'repo'));
    ok($rc != 0 && $err =~ /\b503\b/, 'git sees 503') or diag "exit $rc\n$err";
    unlike($err, qr/Authentication failed/, 'git does not think the credentials are wrong');

    # Refusals that need no database still work.
    is_401($env->get($UP, { Authorization => "Bearer $typo" }), 1, 'checksum-failing token (no lookup needed)');
    is_401($env->get($UP), 0, 'no credentials');
    is_status($env->raw_get($UP, "Authorization: Basic !!!!"), 400, 'malformed header');
};

subtest 'PostgreSQL started again: works again without an httpd restart' => sub {
    $env->pg_start;
    my (@st, $first_ok);
    for my $i (1 .. 20) {
        my $r = $env->get($UP, $auth{'valid Bearer'});
        push @st, $r->{status};
        if (served($r)) { $first_ok //= $i; last if $i - $first_ok >= 4 }
        sleep 0.25 unless served($r);
    }
    note "statuses after start: @st";
    ok(defined $first_ok, 'at least one request succeeded') or diag "@st";
    ok(!(grep { $_ != 200 && $_ != 503 } @st), 'only 200 or 503 while recovering (no 401, no 500)') or diag "@st";
    my @tail = @st[($first_ok // 1) - 1 .. $#st];
    ok(!(grep { $_ != 200 } @tail), 'once recovered, every request succeeds') or diag "@st";
    is_401($env->get($UP, $auth{'well-formed unknown'}), 1, 'an unknown token is 401 again');
    is_401($env->get($UP), 0, 'no credentials is still 401');
    my ($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('alice', $tok, 'PROJ', 'repo'));
    is($rc, 0, 'git works again') or diag $err;
};

subtest 'PostgreSQL restarted under pooled connections' => sub {
    is(burst(8, $auth{'valid Bearer'}), 0, 'concurrent requests fill the pools');
    my $pg_before = $env->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'");
    note "bbtoken_httpd connections before restart: $pg_before";
    $env->pg_restart;
    my @st;
    my $streak = 0;
    for my $i (1 .. 30) {
        my $r = $env->get($UP, $auth{ $i % 2 ? 'valid Bearer' : 'valid Basic' });
        push @st, $r->{status};
        $streak = served($r) ? $streak + 1 : 0;
        last if $streak >= 10;
        sleep 0.2 unless served($r);
    }
    note "statuses after restart: @st";
    ok(!(grep { $_ != 200 && $_ != 503 } @st), 'only 200 or 503 (never 401)') or diag "@st";
    ok((grep { $_ == 200 } @st), 'at least one request succeeded') or diag "@st";
    ok($streak >= 10, 'ten successes in a row: every pooled connection recovered') or diag "@st";
    is(burst(8, $auth{'valid Bearer'}), 0, 'a concurrent burst after the restart all succeeds');
    is_401($env->get($UP, { Authorization => "Bearer $unknown" }), 1, 'unknown token still 401');
    is_403($env->get($RP, { Authorization => "Bearer "
                                . $env->token_create('alice', name => 'ro', perms => ['REPO_READ']) }),
           'a REPO_READ token made after the restart is still held to its scope');
    my $w = $env->workdir('after');
    my ($rc, $out, $err) = $env->git('clone', '-q', $env->clone_url('alice', $tok, 'PROJ', 'repo'), $w);
    is($rc, 0, 'clone after the restart') or diag $err;
    my $c = $env->commit_file($w, 'after.txt', "after restart\n");
    ($rc, $out, $err) = $env->git({ cwd => $w }, 'push', '-q', 'origin', 'main');
    is($rc, 0, 'push after the restart') or diag $err;
    is($env->repo_head('PROJ', 'repo'), $c, 'push arrived');
};

is($env->httpd_main_process, $httpd_main,
   'httpd was never restarted: its PidFile names the same process, started at the same time');
ok(!BBT::Util::exited((split ' ', $httpd_main)[0]), 'and that process is still running');
is(scalar(() = $env->error_log_text =~ /BBT404: /g), $generations, 'nor restarted gracefully: no new generation');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
