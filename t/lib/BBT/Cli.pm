package BBT::Cli;

# The bbtoken CLI part of BBT::Env: running the real CLI against the
# environment's database, the set-up steps the tests take through it, and
# the checks of its exit-code contract and its --json output.
#
# Methods of the environment's object (BBT::Env inherits them).  They need
# the PostgreSQL part (superuser_conninfo) and dir.

use strict;
use warnings;
use Carp qw(confess);
use POSIX ();
use BBT::Util qw(run_cmd slurp);
use BBT::Token qw(parse_token);

# What measures a command's peak memory (cli_peak); a test skips without it.
our $TIME = '/usr/bin/time';

# BBT_SANITIZE=1: the CLI of `make -f apxs.mk asan`, its reports (leaks
# included) where httpd's go (BBT::Httpd::httpd_env).
sub cli_path { "$BBT::Util::ROOT/build/" . ($ENV{BBT_SANITIZE} ? 'asan/out' : 'out') . '/bbtoken' }
sub _cli_san_env {
    my ($self) = @_;
    return {} unless $ENV{BBT_SANITIZE};
    my $log = $ENV{BBT_SANITIZER_LOG} || "$self->{dir}/logs/sanitizer";
    return { ASAN_OPTIONS => "halt_on_error=1:log_path=$log",
             UBSAN_OPTIONS => "halt_on_error=1:print_stacktrace=1:log_path=$log" };
}

# bbtoken --db <superuser conninfo> @args: (exit code, stdout, stderr)
sub cli {
    my ($self, @args) = @_;
    return $self->cli_raw('--db', $self->superuser_conninfo, @args);
}

# bbtoken @args with no --db added; %env via cli_env; killed after
# $self->{cli_timeout} seconds (60 unless a test sets it: local).
sub cli_raw {
    my ($self, @args) = @_;
    return run_cmd(cmd => [$self->cli_path, @args], tmp => "$self->{dir}/run", timeout => $self->{cli_timeout} || 60,
                   env => { %{ $self->_cli_san_env }, %{ $self->{cli_env} || {} } });
}

# bbtoken --db <superuser conninfo> @args with its stdout /dev/full, as
# cli_raw runs it otherwise: (exit code, stdout (empty), stderr).  What a
# command does when the disk its output goes to is full.
sub cli_to_full {
    my ($self, @args) = @_;
    return run_cmd(cmd => ['sh', '-c', 'exec "$@" >/dev/full', 'sh', $self->cli_path, '--db',
                           $self->superuser_conninfo, @args],
                   tmp => "$self->{dir}/run", timeout => $self->{cli_timeout} || 60,
                   env => { %{ $self->_cli_san_env }, %{ $self->{cli_env} || {} } });
}

# The CLI connected as role $user (with a password-less login from
# loopback, as the test cluster allows) to database $db (bbtoken).
sub cli_as {
    my ($self, $user, $db, @args) = @_;
    return $self->cli_raw('--db', 'host=127.0.0.1 port=' . $self->pg_port . ' dbname=' . ($db || 'bbtoken')
                          . " user=$user connect_timeout=5", @args);
}

sub cli_env {
    my ($self, $env, @args) = @_;
    local $self->{cli_env} = $env;
    return $self->cli_raw(@args);
}

# bbtoken --db <superuser conninfo> @args in the background, with %$env in
# its environment and its backend named bbt-$app (application_name): a
# function that waits for it and returns (exit code, stdout, stderr).
sub cli_bg {
    my ($self, $app, $env, @args) = @_;
    my $f = "$self->{dir}/run/cli-$app";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my ($rc, $out, $err) = $self->cli_env({ %$env, PGAPPNAME => "bbt-$app" }, '--db',
                                              $self->superuser_conninfo, @args);
        BBT::Util::spew($f, "$rc\n$out\0$err");
        POSIX::_exit(0);
    }
    return sub {
        waitpid($pid, 0);
        my ($rc, $rest) = split /\n/, slurp($f), 2;
        return ($rc, split(/\0/, $rest, 2));
    };
}

# bbtoken --db <superuser conninfo of database $db (bbtoken when undef)>
# @args, the answer to its first COMMIT that waits lost as a failover
# loses it: commits wait for a synchronous standby named nosuch
# (pg_syncrep), and the CLI's backend, ended while its COMMIT waits there
# (pg_terminate_backend), has committed it locally.  A transaction that
# took no id does not wait.  (exit code, stdout, stderr, whether a COMMIT
# was cut so); where it finds that transaction done, the CLI says the
# standby did not confirm it.
#
# The standby is given up (pg_syncrep(0)) only once that backend is gone,
# though before the CLI ends, whose later commits wait too: ended, a
# backend may take the signal late (a loaded machine), and the setting
# emptied meanwhile releases its COMMIT (the checkpointer then wakes every
# waiter), which is answered as committed before the backend dies: no cut
# the CLI sees.  A cut is said only where the server logged the wait
# cancelled by the termination; else why not, as a diagnostic.
sub cli_commit_cut {
    my ($self, $db, @args) = @_;
    return $self->cli_commit_cut_at($db, {}, @args);
}

# cli_commit_cut, the COMMIT cut one after those the CLI makes first:
# $at->{at}, a function called once the CLI has started, its commits not
# waiting yet, returns when the CLI has come to that transaction (waits
# for a lock the test holds, say); the standby is named only then, and
# $at->{go} (if any) lets the CLI go on.  Without $at->{at}, the first.
# The CLI's process is forked before either runs: a pipe the test opened
# before (a pg_session's) is open in it too until the CLI ends.
sub cli_commit_cut_at {
    my ($self, $db, $at, @args) = @_;
    local $ENV{PGOPTIONS} = '-c synchronous_commit=local';
    my $f = "$self->{dir}/run/cli-commit-cut";
    unlink $f;
    $self->pg_syncrep(1) unless $at->{at};
    my $mark = length $self->pg_log_text;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my @r = $self->cli_env({ PGAPPNAME => 'bbt-commit-cut', PGOPTIONS => undef }, '--db',
                               $self->superuser_conninfo($db), @args);
        BBT::Util::spew($f, join("\0", @r));
        POSIX::_exit(0);
    }
    if ($at->{at}) {
        $at->{at}->();
        $self->pg_syncrep(1);
        $at->{go}->() if $at->{go};
    }
    my ($backend, $why) = $self->_commit_cut;
    $self->pg_syncrep(0);
    waitpid($pid, 0);
    if (!$why && substr($self->pg_log_text, $mark)
        !~ /\[$backend\] [^\n]*WARNING:  canceling the wait for synchronous replication and terminating/) {
        $why = "backend $backend ended, but the server did not log its wait for the standby cancelled";
    }
    Test::More::diag("bbtoken @args: its COMMIT not cut: $why") if $why;
    return (split(/\0/, slurp($f), -1), $why ? 0 : 1);
}

# Ends the backend of bbt-commit-cut whose COMMIT waits for the standby,
# and waits until it is gone: (its pid, '') or (pid or 0, why not).
sub _commit_cut {
    my ($self) = @_;
    my $waits = "wait_event = 'SyncRep' AND query = 'COMMIT'";
    $self->pg_wait_backend('bbt-commit-cut', $waits) or return (0, 'no COMMIT of its waited for the standby');
    my $backend = $self->psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'bbt-commit-cut'"
                              . " AND $waits", db => 'postgres');
    $self->psql("SELECT pg_terminate_backend($backend)", db => 'postgres') eq 't'
        or return ($backend, "backend $backend could not be ended");
    for (1 .. 1200) {
        return ($backend, '')
            unless $self->psql("SELECT count(*) FROM pg_stat_activity WHERE pid = $backend", db => 'postgres');
        select undef, undef, undef, 0.05;
    }
    return ($backend, "backend $backend still there a minute after it was ended");
}

# (peak RSS in kB, exit code, stdout, stderr) of bbtoken --db <superuser
# conninfo> @args, with %$env_of in its environment, as $TIME measures it:
# the tests that the CLI's memory stays the same on a big site.
sub cli_peak {
    my ($self, $env_of, @args) = @_;
    my $f = "$self->{dir}/run/time.$$";
    my ($rc, $out, $err) = run_cmd(cmd => [$TIME, '-f', '%M', '-o', $f, $self->cli_path, '--db',
                                           $self->superuser_conninfo, @args],
                                   env => { %{ $self->_cli_san_env }, %$env_of },
                                   tmp => "$self->{dir}/run", timeout => 600);
    my ($kb) = slurp($f) =~ /(\d+)\s*\z/;
    Test::More::diag("bbtoken @args: $err") if $rc;
    return ($kb, $rc, $out, $err);
}

# A Test::More check: peak RSS $kb is below $factor times $small kB, the
# same command's on a smaller site.  Skipped under the sanitizers: their
# quarantine keeps freed memory, so the RSS grows with what was ever
# allocated.
sub rss_below {
    my ($self, $kb, $small, $factor, $what) = @_;
    require Test::More;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
  SKIP: {
        Test::More::skip('the sanitizers keep freed memory', 1) if $ENV{BBT_SANITIZE};
        Test::More::cmp_ok($kb, '<', $factor * $small, "$what: peak RSS $kb kB, against $small kB");
    }
}

# Like cli but dies on a non-zero exit; returns stdout.
sub cli_ok {
    my ($self, @args) = @_;
    my ($rc, $out, $err) = $self->cli(@args);
    confess "bbtoken @args failed ($rc): $err" if $rc;
    return $out;
}

sub user_add { my ($s, @a) = @_; $s->cli_ok('user', 'add', @a) }
sub grant    { my ($s, @a) = @_; $s->cli_ok('grant', @a) }

# New user $who with $n tokens named "$who N", ids from $base + 1, made by
# one INSERT with the ordinary triggers off (the limit on live tokens would
# refuse them): what a bulk command's batches are tried on.
sub user_add_bulk_tokens {
    my ($self, $who, $n, $base) = @_;
    $self->user_add($who);
    $self->psql("SET session_replication_role = replica;"
              . " INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
              . " SELECT lpad(($base + g)::text, 12, '0'), u.id, '$who ' || g, 'PROJECT_READ', 'REPO_READ',"
              . " md5('s' || g), md5('h' || g) || md5('k' || g)"
              . " FROM generate_series(1, $n) g, bbtoken_users u WHERE u.name = '$who'");
}

# How many of user $who's tokens are not revoked.
sub user_live_tokens {
    my ($self, $who) = @_;
    return $self->psql("SELECT count(*) FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id"
                     . " WHERE u.name = '$who' AND t.revoked_at IS NULL");
}

# create a token; returns (token, id)
sub token_create {
    my ($self, $user, %o) = @_;
    my @args = ('create', $user, '--name', $o{name} || 'test token');
    push @args, map { ('--perm', $_) } @{ $o{perms} || [] };
    push @args, '--expiry-days', $o{expiry_days} if defined $o{expiry_days};
    my $out = $self->cli_ok(@args);
    chomp $out;
    my $p = parse_token($out) or confess "bbtoken create printed no token: '$out'";
    return wantarray ? ($out, $p->{id}) : $out;
}

# $env->cli_is(NAME, [ARGS], RC, %o): a Test::More check of one run of the
# CLI.  It checks the exit code and the shape of the output the contract
# fixes for that code:
#   0  nothing on stderr
#   1  one line "bbtoken: reason" on stderr, nothing on stdout
#   2  "bbtoken: reason" on stderr, nothing on stdout
# Options: stdout => qr//, stderr => qr// check the text as well; raw => 1
# runs the arguments as given (cli_raw: no --db added); shape => 0 checks
# the exit code (and the patterns) only, for a step whose other output is
# beside the point (a note on stderr, say).  Returns (rc, stdout, stderr),
# or stdout in scalar context.
sub cli_is {
    my ($self, $name, $args, $want, %o) = @_;
    require Test::More;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out, $err) = $o{raw} ? $self->cli_raw(@$args) : $self->cli(@$args);
    my $ok = Test::More::is($rc, $want, "$name: exit $want");
    if ($o{shape} // 1) {
        if ($want == 0) {
            $ok &= Test::More::is($err, '', "$name: nothing on stderr");
        } elsif ($want == 1) {
            $ok &= Test::More::like($err, qr/\Abbtoken: [^\n]+\n\z/,
                                    "$name: one line 'bbtoken: reason' on stderr");
            $ok &= Test::More::is($out, '', "$name: nothing on stdout");
        } elsif ($want == 2) {
            $ok &= Test::More::like($err, qr/\Abbtoken: \S/, "$name: reason on stderr");
            $ok &= Test::More::is($out, '', "$name: nothing on stdout");
        }
    }
    $ok &= Test::More::like($out, $o{stdout}, "$name: stdout") if $o{stdout};
    $ok &= Test::More::like($err, $o{stderr}, "$name: stderr says why") if $o{stderr};
    Test::More::diag("bbtoken @$args\nexit $rc\nstdout: $out\nstderr: $err") unless $ok;
    return wantarray ? ($rc, $out, $err) : $out;
}

# create a project's or a repository's token: scoped_token_create('--repo',
# 'PROJ/repo', name => ..., perms => [...]); returns the token.
sub scoped_token_create {
    my ($self, $opt, $what, %o) = @_;
    my $out = $self->cli_ok('create', $opt, $what, '--name', $o{name} || "t $what",
                            map { ('--perm', $_) } @{ $o{perms} || [] });
    chomp $out;
    parse_token($out) or confess "bbtoken create printed no token: '$out'";
    return $out;
}

# bbtoken @args --json, decoded; dies when the CLI fails.
sub cli_json {
    my ($self, @args) = @_;
    require JSON::PP;
    return JSON::PP->new->utf8->decode(scalar $self->cli_ok(@args, '--json'));
}

# A user's tokens from `bbtoken list USER --json`, without dying: (list,
# output) or (undef, what went wrong), for a test that reports it.  In
# scalar context the list (or undef).
sub list_json {
    my ($self, $user) = @_;
    my ($j, $why) = $self->_list_json($user);
    return wantarray ? ($j, $why) : $j;
}

sub _list_json {
    my ($self, $user) = @_;
    my ($rc, $out, $err) = $self->cli('list', $user, '--json');
    return (undef, "exit $rc: $err") if $rc;
    my $j = eval { require JSON::PP; JSON::PP->new->utf8->decode($out) };
    return (undef, "invalid JSON: $@\n$out") unless $j;
    $j = $j->{values} if ref $j eq 'HASH' && $j->{values};
    return (undef, "not a list: $out") unless ref $j eq 'ARRAY';
    return ($j, $out);
}

1;
