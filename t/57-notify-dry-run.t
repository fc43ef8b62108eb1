# bbtoken notify --dry-run shows what the run would do: the unused tokens
# it would revoke, and the messages it would send, those revocations told
# in them as the run tells them.  An owner whose only news is such a
# revocation is shown their message, and a token due for revocation and
# inside its expiry's 30 days is told as revoked, not as expiring.  Each of
# the dry run's lines is the run's, "would revoke" for "revoked" and
# "would mail" for "mailed", and each message the one mailed (but its Date
# and Message-ID).  The dry run leaves every row as it was (the tokens
# live, no audit record, no notice), and httpd's caches hear nothing of
# it.  As a superuser and as the tables' owner that is no superuser.  Last
# use, creation and expiry are faked with SQL, the triggers off.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
my $SENDMAIL = "$BBT::Env::ROOT/t/mail/sendmail";
my $FROM = 'tokens@git.example.com';

$env->psql('CREATE ROLE bbowner LOGIN');
$env->psql('CREATE DATABASE owned OWNER bbowner', db => 'postgres');

# Every row the dry run could change, as text.
my $ROWS = 'SELECT md5(string_agg(r, E\'\n\' ORDER BY r)) FROM ('
    . join(' UNION ALL ', map {"SELECT '$_ ' || x::text AS r FROM $_ x"}
           qw(bbtoken_tokens bbtoken_audit bbtoken_notices bbtoken_notice_copies bbtoken_lookup bbtoken_locks))
    . ') s';

# A message as mailed or printed, without the headers each message has
# its own of, nor the time of a revocation (the dry run's, a moment
# before the run's).
sub stable {
    my ($m) = @_;
    $m =~ s/^(?:Date|Message-ID): [^\n]*\n//mg;
    $m =~ s/^(  was revoked on )\S+Z/$1TIME/mg;
    return $m;
}

# The site in database $db, the CLI run by $cli: fred's token is due for
# revocation and expires in 25 days, gus's due for revocation alone.
sub site {
    my ($name, $db, $cli) = @_;
    my $maildir = $env->dir . "/mail-$name";
    make_path($maildir);
    my $psql = sub { $env->psql($_[0], db => $db) };
    my $run = sub {
        my ($rc, $out, $err) = $cli->(sub { $env->cli_env({ BBT_MAILDIR => $maildir }, @_) },
                                      'notify', '--sendmail', $SENDMAIL, '--from', $FROM, @_);
        opendir my $d, $maildir or die $!;
        my @m;
        for my $f (sort grep {/\.eml\z/} readdir $d) {
            open my $h, '<:raw', "$maildir/$f" or die $!;
            push @m, do { local $/; <$h> };
            unlink "$maildir/$f", "$maildir/" . ($f =~ s/\.eml\z/.args/r);
        }
        return ($rc, $out, $err, \@m);
    };
    my $ok = sub {
        my ($rc, $out, $err) = $cli->(sub { $env->cli_raw(@_) }, @_);
        die "bbtoken @_: exit $rc: $err" if $rc;
        return $out;
    };
    $ok->('policy', '--revoke-unused-after', '8d');
    $ok->('user', 'add', 'fred', '--email', 'fred@example.com');
    $ok->('user', 'add', 'gus', '--email', 'gus@example.com');
    $ok->('create', 'fred', '--name', 'both');
    $ok->('create', 'gus', '--name', 'idle');
    my %id = map { $_ => $psql->("SELECT id FROM bbtoken_tokens WHERE name = '$_'") } qw(both idle);
    $psql->("SET session_replication_role = replica; UPDATE bbtoken_tokens SET created_at = now() - interval"
            . " '60 days', last_authenticated = now() - interval '20 days', expires_at = CASE name WHEN 'both'"
            . " THEN now() + interval '45 days' END");
    return ($psql, $run, \%id);
}

sub scenario {
    my ($name, $db, $cli, $listen) = @_;
    my ($psql, $run, $id) = site($name, $db, $cli);
    my ($rc, $out, $err, $m) = $run->();
    is($rc, 0, "$name: the first run") or diag $err;
    is(scalar(grep {/^Token "(both|idle)" \(id \d+\)\n  has not been used since /m} @$m), 2,
       "$name: fred and gus are warned") or diag explain $m;
    # A week and a day on.
    $psql->("UPDATE bbtoken_notices SET sent_at = sent_at - interval '8 days'");
    $psql->("SET session_replication_role = replica; UPDATE bbtoken_tokens SET"
            . " expires_at = expires_at - interval '20 days',"
            . " last_authenticated = last_authenticated - interval '8 days'");
    my $before = $psql->($ROWS);

    $listen->send('LISTEN bbtoken;')->done if $listen;
    my ($drc, $dry, $derr, $dm) = $run->('--dry-run');
    is($drc, 0, "$name: the dry run, exit 0") or diag $derr;
    is(scalar @$dm, 0, "$name: the dry run sends nothing");
    like($dry, qr/^would revoke $id->{both} of fred \("both"\): unused since \S+Z$/m, "$name: would revoke fred's");
    like($dry, qr/^would revoke $id->{idle} of gus \("idle"\): unused since \S+Z$/m, "$name: would revoke gus's");
    my ($gus) = $dry =~ /^would mail gus <gus\@example\.com>: 1 notice\n(.*?)(?=^would mail |\z)/ms;
    like($gus // '', qr/^Token "idle" \(id $id->{idle}\)\n  was revoked on \S+Z because it had not been used for 28 days\.$/m,
         "$name: gus, whose only news is the revocation, is shown his message") or diag $dry;
    like($dry, qr/^Token "both" \(id $id->{both}\)\n  was revoked on \S+Z because it had not been used for 28 days\.$/m,
         "$name: fred's token is told as revoked");
    unlike($dry, qr/expires on/, "$name: not as expiring");
    is($psql->($ROWS), $before, "$name: the dry run left every row as it was");
    is($psql->("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL AND id IN ('$id->{both}', '$id->{idle}')"),
       2, "$name: both tokens live");
    if ($listen) {
        $listen->send('SELECT 1;');
        $listen->done;
        unlike(BBT::Util::slurp($listen->{out}), qr/Asynchronous notification/, "$name: no NOTIFY delivered");
    }

    ($rc, $out, $err, $m) = $run->();
    is($rc, 0, "$name: the run") or diag $err;
    is($psql->("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL AND id IN ('$id->{both}', '$id->{idle}')"),
       0, "$name: it revoked both");
    if ($listen) {
        $listen->send('SELECT 1;');
        $listen->done;
        like(BBT::Util::slurp($listen->{out}), qr/Asynchronous notification "bbtoken"/,
             "$name: control: its NOTIFY heard");
    }
    (my $said = $dry) =~ s/^would revoke /revoked /mg;
    my @msgs;
    $said =~ s/^would mail ([^\n]*)\n(.*?)\n(?=would mail |\z)/push @msgs, $2; "mailed $1\n"/mesg;
    is($out, $said, "$name: the dry run's lines are the run's");
    is_deeply([map { stable($_) } @msgs], [map { stable($_) } @$m], "$name: its messages are those mailed")
        or diag "dry run:\n$dry\nmailed:\n" . join("\n", @$m);
    is(scalar @$m, 2, "$name: two messages");
}

scenario('superuser', 'bbtoken', sub { my ($cli, @args) = @_; $cli->('--db', $env->superuser_conninfo, @args) },
         $env->pg_session('listen'));

# A read-only session (a hot standby's) takes no revocation, even one
# rolled back: the dry run says so, rather than show messages that the run
# would not send.
{
    my ($rc, $out, $err) = $env->cli_env({ PGOPTIONS => '-c default_transaction_read_only=on' }, '--db',
                                         $env->superuser_conninfo, 'notify', '--dry-run', '--from', $FROM);
    is($rc, 1, 'a read-only session: the dry run, exit 1');
    like($err, qr/\Abbtoken: notify --dry-run: this session is read-only .*: run it on the primary\n\z/,
         '  saying why');
    is($out, '', '  nothing shown');
}

# The tables' owner, no superuser, runs the CLI on its own database.
my $owner = 'host=127.0.0.1 port=' . $env->pg_port . ' dbname=owned user=bbowner connect_timeout=5';
my ($rc, $out, $err) = $env->cli_raw('--db', $owner, 'db', 'upgrade', '--init');
is($rc, 0, 'the owner makes its schema') or diag $err;
scenario('owner', 'owned', sub { my ($cli, @args) = @_; $cli->('--db', $owner, @args) });

done_testing;
