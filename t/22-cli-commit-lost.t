# A COMMIT whose answer the connection loses: the server may have
# committed it.  `bbtoken rotate` and `create` print the token before they
# commit, and said on such a loss that the token printed was not valid
# (and, for rotate, that the old one still was) although both had been
# committed: whoever believed it threw the only copy of the live token
# away.  They came to say that the outcome was not known; now every write
# reads its transaction's id before its COMMIT, and after the loss the CLI
# connects again and asks PostgreSQL what became of it: committed, with
# the rows showing it (the token made or rotated, else the audit trail's
# records of the transaction), it is done, exit 0, and the token printed
# works.  (Aborted and still in progress: t/22-cli-commit-asked.)  The
# connection goes through a relay between the CLI and PostgreSQL which,
# once armed, hands the server the next simple-protocol COMMIT, waits for
# the server to be done with it, and then closes the CLI's side without
# its answer.
#
# A command that held state in its database session (notify's lock, the
# held cursor of list --all --revoke) went on in the new session without
# it: notify's lock named a session gone, so a second notify took it and
# mailed the same notice; list --revoke failed at its cursor's next read
# and never said what it had revoked.  Now such a command says the
# transaction was done and stops there, exit 3, saying the rest was not
# done; a command of one transaction goes on (the policy's, below).  So
# does list --all --revoke at its cursor's last batch, which leaves
# nothing to do: it stopped there too, without its summary, and its
# --json without the array's end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use JSON::PP;
use BBT::Env qw(auth_bearer);
use BBT::Util qw(free_port spew listen_forking);

my $env = BBT::Env->new->start;
my $ARM = $env->dir . '/run/cut-next-commit';
# Armed with a statement's start: the first COMMIT after that statement
# is cut (a batch's, of a command of many transactions).
my $AFTER = $env->dir . '/run/cut-commit-after';
my $port = free_port();
my $pgport = $env->superuser_conninfo =~ /port=(\d+)/ ? $1 : die "no port in the conninfo\n";

# The relay: each connection in a child of its own.
my $relay = listen_forking($port, \&relay);

sub relay {
    my ($c) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $pgport) or return;
    my $sel = IO::Select->new($c, $s);
    my ($from_client, $started, $cutting, $answer, $after) = ('', 0, 0, '', 0);
    while (1) {
        for my $h ($sel->can_read) {
            my $n = sysread($h, my $buf, 65536);
            return if !$n;
            if ($h == $s) {
                # Once cutting, the server's answers up to its
                # ReadyForQuery are kept from the client, and then both
                # sockets close as the child exits.
                syswrite($c, $buf) // return unless $cutting;
                $answer .= $buf if $cutting;
                return if $cutting && $answer =~ /Z\0\0\0\x05[ITE]\z/;
                next;
            }
            # The client's messages, whole: the startup packet (no type
            # byte), then a type byte and a length each.  A COMMIT comes
            # as a simple query (Q) or an extended one's Parse (P).
            $from_client .= $buf;
            while (1) {
                my $head = $started ? 5 : 4;
                last if length($from_client) < $head;
                my $len = unpack('N', substr($from_client, $started ? 1 : 0, 4)) + ($started ? 1 : 0);
                last if length($from_client) < $len;
                my $msg = substr($from_client, 0, $len, '');
                # The armed file may name another statement, by its start.
                my $cut = -e $ARM ? (BBT::Util::slurp($ARM) || "COMMIT\0") : undef;
                if ($started && !$cutting && defined $cut && $msg =~ /\A(?:Q....|P....[^\0]*\0)\Q$cut\E/s) {
                    unlink $ARM;
                    $cutting = 1;
                }
                my $then = -e $AFTER ? BBT::Util::slurp($AFTER) : undef;
                if ($started && !$after && defined $then && $msg =~ /\A(?:Q....|P....[^\0]*\0)\Q$then\E/s) {
                    unlink $AFTER;
                    $after = 1;
                }
                $cutting = 1 if $started && $after && $msg =~ /\AQ....COMMIT\0/s;
                $started = 1;
                syswrite($s, $msg) // return;
            }
        }
    }
}

END { kill 'TERM', $relay if $relay; }

my $CUT = "host=127.0.0.1 port=$port dbname=bbtoken user=postgres sslmode=disable gssencmode=disable"
        . ' connect_timeout=5';
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
sub git { $env->get($UP, auth_bearer($_[0]))->{status} }

subtest 'control: through the relay, unarmed, a rotation works' => sub {
    my $old = $env->token_create('alice', name => 'ci-0');
    my $id = $env->psql("SELECT id FROM bbtoken_tokens WHERE name = 'ci-0'");
    my ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'rotate', $id);
    is($rc, 0, 'rotate') or diag $err;
    like($out, qr/^BBDC-/, '  a token printed');
};

subtest 'rotate: the rotation committed, its answer lost: done' => sub {
    my ($old) = $env->token_create('alice', name => 'ci-1');
    my $id = $env->psql("SELECT id FROM bbtoken_tokens WHERE name = 'ci-1' AND revoked_at IS NULL");
    spew($ARM, '');
    my ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'rotate', $id);
    ok(!-e $ARM, 'the relay cut the COMMIT\'s answer');
    is($rc, 0, 'exit 0') or diag $err;
    like($out, qr/^BBDC-\S+\n\z/, 'the new token printed');
    chomp(my $tok = $out);
    my $new = $env->psql("SELECT id FROM bbtoken_tokens WHERE rotated_from = '$id' AND revoked_at IS NULL");
    is($env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$id'"), 't',
       'in the database: the old token revoked');
    ok($new, "  and its replacement $new live");
    like($err, qr/^bbtoken: rotating the token \(the token printed is valid; the old one is revoked\): done, though the connection was lost at its COMMIT \([^\n]*\): connected again, the database says its transaction \d+ committed, and it holds token \Q$new\E, and token \Q$id\E revoked\n/,
         'it says it is done, naming both tokens') or diag $err;
    like($err, qr/token \Q$id\E is revoked; its replacement is token \Q$new\E/, '  and what a rotation says');
    unlike($err, qr/not known|not valid/, '  nothing about an unknown outcome or a token not valid');
    is(git($tok), 200, 'the token printed works');
};

subtest 'create: the token committed, its answer lost: done' => sub {
    spew($ARM, '');
    my ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'create', 'alice', '--name', 'ci-2');
    ok(!-e $ARM, 'the relay cut the COMMIT\'s answer');
    is($rc, 0, 'exit 0') or diag $err;
    like($out, qr/^BBDC-\S+\n\z/, 'the token printed');
    chomp(my $tok = $out);
    my $id = $env->psql("SELECT id FROM bbtoken_tokens WHERE name = 'ci-2' AND revoked_at IS NULL");
    ok($id, "in the database: the token $id, live");
    like($err, qr/^bbtoken: creating the token \(the token printed is valid\): done, though the connection was lost at its COMMIT \([^\n]*\): connected again, the database says its transaction \d+ committed, and it holds token \Q$id\E\n\z/,
         'it says it is done, naming the token') or diag $err;
    is(git($tok), 200, 'the token printed works');
};

subtest 'another transaction (the policy\'s): done, by its audit records' => sub {
    spew($ARM, '');
    my ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'policy', '--max-tokens', '77');
    ok(!-e $ARM, 'the relay cut the COMMIT\'s answer') or return;
    is($rc, 0, 'exit 0') or diag $err;
    like($err, qr/^bbtoken: changing the policy: done, though the connection was lost at its COMMIT \([^\n]*\): connected again, the database says its transaction \d+ committed, and it holds its records in the audit trail\n\z/,
         'it says so') or diag $err;
    like($out, qr/\b77\b/, '  and the command goes on, on the new connection: the policy shown');
    is($env->psql('SELECT max_tokens_per_user FROM bbtoken_policy'), 77, '  the change was committed');
};

subtest 'a write sent alone runs in a transaction of its own' => sub {
    my ($tok) = $env->token_create('alice', name => 'ci-3');
    my $id = $env->psql("SELECT id FROM bbtoken_tokens WHERE name = 'ci-3' AND revoked_at IS NULL");
    spew($ARM, 'UPDATE bbtoken_tokens SET revoked_at');
    my ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'revoke', $id);
    ok(!-e $ARM, 'the relay cut the UPDATE\'s answer') or return;
    is($rc, 1, 'exit 1');
    is($env->psql("SELECT revoked_at IS NULL FROM bbtoken_tokens WHERE id = '$id'"), 't',
       'in the database: not revoked, its COMMIT never sent');
    like($err, qr/^bbtoken: revoking the token: not done: the connection was lost before its transaction's COMMIT, so nothing was changed \(safe to run again\)/,
         'it says it was not done') or diag $err;
    is(git($tok), 200, '  the token still works');

    spew($ARM, '');
    ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'revoke', $id);
    ok(!-e $ARM, 'run again, the relay cut its COMMIT\'s answer') or return;
    is($rc, 0, '  exit 0') or diag $err;
    like($err, qr/^bbtoken: revoking the token: done, though the connection was lost at its COMMIT \([^\n]*\): connected again, the database says its transaction \d+ committed, and it holds its records in the audit trail\n/,
         '  done, by its audit records') or diag $err;
    is($env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$id'"), 't',
       '  in the database: revoked');

    # A read's lost answer is a plain failure.
    spew($ARM, 'SELECT name, slug, active');
    ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'user', 'show', 'alice');
    ok(!-e $ARM, 'a read\'s answer cut') or return;
    is($rc, 1, '  exit 1');
    unlike($err, qr/not known|not done/, '  not said to be of unknown outcome, nor not done') or diag $err;
};

subtest 'a write that wrote nothing, its answer lost: ends as it would have' => sub {
    my ($tok) = $env->token_create('alice', name => 'ci-4');
    my $id = $env->psql("SELECT id FROM bbtoken_tokens WHERE name = 'ci-4' AND revoked_at IS NULL");
    $env->cli_ok('revoke', $id);
    spew($ARM, '');
    my ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'revoke', $id);
    ok(!-e $ARM, 'revoked again, the relay cut its COMMIT\'s answer') or return;
    is($rc, 1, 'exit 1, as without the cut');
    like($err, qr/^bbtoken: revoking the token: the connection was lost at its COMMIT \([^\n]*\), but it had written nothing, so nothing was lost: connected again\nbbtoken: token already revoked: \Q$id\E\n\z/,
         'nothing was lost, then what it says without the cut') or diag $err;
};

# The lines a command holding session state ends with after such a loss.
sub stopped_re {
    my ($what, $held) = @_;
    return qr/^bbtoken: \Q$what\E: done, though the connection was lost at its COMMIT \([^\n]*\): connected again, the database says its transaction \d+ committed, and it holds its records in the audit trail\nbbtoken: stopped there: the database session that held \Q$held\E was lost with the connection, and a new one does not hold it: the rest was not done \(run the command again\)\n\z/;
}

# The line of a batch revoked, done though its COMMIT's answer was lost.
my $DONE = qr/bbtoken: revoking the tokens: done, though the connection was lost at its COMMIT \([^\n]*\): connected again, the database says its transaction \d+ committed, and it holds its records in the audit trail\n/;

subtest 'list --all --revoke: its only batch revoked, its answer lost: done, and the pass ends' => sub {
    $env->user_add('carol');
    $env->token_create('carol', name => "c$_") for 1 .. 3;
    spew($AFTER, 'BEGIN ISOLATION LEVEL READ COMMITTED');
    my ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'list', '--all', '--owner', 'carol', '--revoke');
    ok(!-e $AFTER, 'the relay cut the batch\'s COMMIT\'s answer') or return;
    is($rc, 0, 'exit 0') or diag $err;
    like($err, qr/\A$DONE\z/, 'done, and nothing more said') or diag $err;
    is($env->user_live_tokens('carol'), 0, 'in the database: the three revoked');
    like($out, qr/^ID\b.*\n(?:.*\bc[123]\b.*\n){3}revoked 3 tokens\n\z/, 'the three listed, and the summary')
        or diag $out;
    ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'list', '--all', '--owner', 'carol', '--revoke');
    is($rc, 0, 'run again: exit 0') or diag $err;
    like($out, qr/^revoked 0 tokens\n\z/m, '  nothing was left');
};

subtest 'list --all --revoke --json: its only batch\'s answer lost: a whole document' => sub {
    $env->user_add('dora');
    $env->token_create('dora', name => "d$_") for 1 .. 3;
    spew($AFTER, 'BEGIN ISOLATION LEVEL READ COMMITTED');
    my ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'list', '--all', '--owner', 'dora', '--revoke', '--json');
    ok(!-e $AFTER, 'the relay cut the batch\'s COMMIT\'s answer') or return;
    is($rc, 0, 'exit 0') or diag $err;
    like($err, qr/\A$DONE\z/, 'done, and nothing more said') or diag $err;
    my $doc = eval { decode_json($out) };
    is(ref $doc, 'ARRAY', 'stdout is one JSON array') or diag "$@$out";
    is(join(' ', sort map { $_->{name} } @{ $doc || [] }), 'd1 d2 d3', '  of the three revoked');
    is($env->user_live_tokens('dora'), 0, 'in the database: the three revoked');
};

subtest 'list --all --revoke: a last batch of a whole batch\'s rows, its answer lost: done' => sub {
    $env->user_add_bulk_tokens('erin', 1000, 310000000000);
    spew($AFTER, 'BEGIN ISOLATION LEVEL READ COMMITTED');
    my ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'list', '--all', '--owner', 'erin', '--revoke');
    ok(!-e $AFTER, 'the relay cut the batch\'s COMMIT\'s answer') or return;
    is($rc, 0, 'exit 0') or diag $err;
    like($err, qr/\A$DONE\z/, 'done, and nothing more said') or diag $err;
    like($out, qr/\nrevoked 1000 tokens\n\z/, 'the summary');
    is(scalar(() = $out =~ /\berin \d+\b/g), 1000, '  after the thousand listed');
    is($env->user_live_tokens('erin'), 0, 'in the database: the thousand revoked');
};

subtest 'list --all --revoke: a batch before the last revoked, its answer lost: done, then stopped' => sub {
    $env->user_add_bulk_tokens('frank', 1001, 320000000000);
    spew($AFTER, 'BEGIN ISOLATION LEVEL READ COMMITTED');
    my ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'list', '--all', '--owner', 'frank', '--revoke');
    ok(!-e $AFTER, 'the relay cut the first batch\'s COMMIT\'s answer') or return;
    is($rc, 3, 'exit 3') or diag $err;
    like($err, stopped_re('revoking the tokens', 'its listing\'s cursor'), 'done, then stopped, saying why')
        or diag $err;
    is($env->user_live_tokens('frank'), 1, 'in the database: the first thousand revoked, one left');
    is(scalar(() = $out =~ /\bfrank \d+\b/g), 1000, 'the batch revoked listed');
    unlike($out, qr/^revoked \d/m, '  no summary: the command did not end');
    ($rc, $out, $err) = $env->cli_raw('--db', $CUT, 'list', '--all', '--owner', 'frank', '--revoke', '--json');
    is($rc, 0, 'run again: exit 0') or diag $err;
    my $doc = eval { decode_json($out) } || [];
    is(scalar @$doc, 1, '  the one left revoked');
    is($env->user_live_tokens('frank'), 0, '  none left');
};

subtest 'notify: unused tokens revoked, the answer lost: done, then stopped, mailed once' => sub {
    my $SM = "$BBT::Env::ROOT/t/mail/sendmail";
    $env->user_add('bob', '--email', 'bob@example.com');
    $env->token_create('bob', name => 'old');
    my $id = $env->psql("SELECT t.id FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id"
                      . " WHERE u.name = 'bob' AND t.name = 'old'");
    $env->cli_ok('policy', '--revoke-unused-after', '90d');
    # Unused for a year, and warned of it 8 days ago: due.
    $env->psql("SET session_replication_role = replica;"
             . " UPDATE bbtoken_tokens SET created_at = now() - interval '1 year', expires_at = NULL"
             . " WHERE id = '$id';"
             . " INSERT INTO bbtoken_notices (token_id, kind, sent_at)"
             . " VALUES ('$id', 'unused', now() - interval '8 days')");
    my $RUN = $env->dir . '/run';
    my @md = map { my $d = "$RUN/notify-mail-$_"; mkdir $d or die "$d: $!"; $d } 1 .. 3;
    my $go = "$RUN/notify-go";
    my @notify = ('notify', '--from', 'bbtoken@example.com', '--sendmail', $SM);
    spew($AFTER, 'WITH r AS (UPDATE bbtoken_tokens');
    # The first run, through the relay, whose mailer keeps a message and
    # then waits for $go: a run that went on would be held mid-run.
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my ($rc, $out, $err) = $env->cli_env({ BBT_MAILDIR => $md[0], BBT_SENDMAIL_WAIT => $go },
                                             '--db', $CUT, @notify);
        spew("$RUN/notify-1", join("\0", $rc, $out, $err));
        POSIX::_exit(0);
    }
    my $reaped = 0;
    for (1 .. 1200) {
        last if ($reaped = waitpid($pid, POSIX::WNOHANG()) == $pid) || glob("$md[0]/*.eml");
        select undef, undef, undef, 0.1;
    }
    # A second run meanwhile, straight to PostgreSQL.
    my ($rc2, $out2, $err2) = $env->cli_env({ BBT_MAILDIR => $md[1] }, '--db', $env->superuser_conninfo, @notify);
    spew($go, '');
    waitpid($pid, 0) unless $reaped;
    my ($rc, $out, $err) = split /\0/, BBT::Util::slurp("$RUN/notify-1"), -1;
    ok(!-e $AFTER, 'the relay cut the revocation\'s COMMIT\'s answer') or return;
    is($rc, 3, 'the first run: exit 3') or diag $err;
    like($err, stopped_re('revoking unused tokens', 'notify\'s lock'), '  done, then stopped, saying why')
        or diag $err;
    like($out, qr/^revoked \Q$id\E of bob \("old"\): unused since /m, '  the revocation done told');
    is(scalar(() = glob("$md[0]/*.eml")), 0, '  nothing mailed');
    ok($rc2 == 0 || $err2 =~ /^bbtoken: another bbtoken notify is running/,
       'the second run: it found the lock, or did the rest') or diag "$rc2 $err2";
    # And one more, which finds the work done or does it.
    my ($rc3, $out3, $err3) = $env->cli_env({ BBT_MAILDIR => $md[2] }, '--db', $env->superuser_conninfo, @notify);
    is($rc3, 0, 'a third run: exit 0') or diag $err3;
    is($env->psql("SELECT revoked_at IS NOT NULL FROM bbtoken_tokens WHERE id = '$id'"), 't',
       'in the database: revoked');
    my @copies = grep { BBT::Util::slurp($_) =~ /^To: bob\@example\.com$/m } map { glob("$_/*.eml") } @md;
    is(scalar(@copies), 1, 'bob was told once') or diag join "\n", map { BBT::Util::slurp($_) } @copies;
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
};

done_testing;
