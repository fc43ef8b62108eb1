package BBT::PgDirect;

# psql -c without the process: BBT::Pg::psql_try's statements run over a
# connection this process keeps (DBD::Pg), one per cluster and database.
# The suite runs psql some two thousand times; each run is a process and a
# new backend, a twentieth of a second and more on a slow machine, where
# this is a round trip or three.
#
# What a test sees stays what psql -X -q -A -t -v ON_ERROR_STOP=1 -c would
# give it: rows by newline, columns by the separator, NULL empty, every
# value as the server's text (booleans t/f, arrays and bytea as text), the
# server's error and notices on stderr as psql prints them, exit 1 on an
# error.  Several statements, as psql -c sends them (one query string, one
# transaction unless it says BEGIN and COMMIT or ROLLBACK itself, the rows
# of each printed in turn), run one by one in a transaction of DBD::Pg's,
# where the text splits without a doubt (no $, comment or backslash): the
# same rows, now() the same throughout, only statement_timestamp() each
# statement's own.  If one fails, the transaction is rolled back and psql
# runs the text again, to fail as it does and say so in its words.  What
# psql alone can give exactly is left to psql (query() returns nothing):
# backslash commands, COPY, a file, variables, another user.  Statements
# about databases and roles go to psql too, and close these
# connections first: CREATE DATABASE from a template, DROP DATABASE and
# ALTER ... SET (read when a session starts) each need a session of their
# own, or none at all.
#
# A session lasts from one statement to the next, so what a statement
# leaves in it (settings, temporary tables, advisory locks, LISTEN,
# prepared statements, an open transaction) is discarded after it: DISCARD
# ALL, or the connection closed.  A connection the server has closed
# (a restart, a terminated backend) is made anew; a forked child makes its
# own and never touches its parent's.  BBT_PSQL_PROCESS=1 runs psql every
# time, as before.

use strict;
use warnings;

# Loaded at the first statement, not with the harness: DBD::Pg brings
# libpq and its libraries (Kerberos, LDAP, GnuTLS), some fifty
# milliseconds of CPU to link, and most test files never send one.
my $HAVE_DBD;
sub _have_dbd {
    $HAVE_DBD //= !$ENV{BBT_PSQL_PROCESS} && eval { require DBI; require DBD::Pg; 1 } ? 1 : 0;
    return $HAVE_DBD;
}

my %CONN;    # "pid port db env" => database handle

# What psql alone can run as a test wrote it (see above).
sub _needs_psql {
    my ($sql) = @_;
    return $sql =~ /\\|\$\d|\bcopy\b/i ? 1 : 0;
}

# The statements of $sql, split at its semicolons outside quotes, or
# nothing where that could split them otherwise than the server does
# (dollar quoting, comments).
sub _statements {
    my ($sql) = @_;
    return ($sql) unless $sql =~ /;/;
    return if $sql =~ /\$|--|\/\*/;
    my @st = ('');
    for my $tok ($sql =~ /('[^']*'|"[^"]*"|;|[^'";]+)/g) {
        if ($tok eq ';') { push @st, '' }
        else { $st[-1] .= $tok }
    }
    # Unbalanced quotes: the tokens do not spell the text again.
    return unless join(';', @st) eq $sql;
    return grep {/\S/} @st;
}

my $TXN = qr/\A\s*(?:begin|start|commit|end|rollback|abort|savepoint|release|prepare\s+transaction)\b/i;

sub _needs_new_sessions {
    my ($sql) = @_;
    return $sql =~ /\b(?:database|role|user)\b/i ? 1 : 0;
}

sub _key {
    my ($port, $db) = @_;
    # libpq reads these when it connects, as each psql run would.
    my $env = join ',', map {"$_=$ENV{$_}"} sort grep {/^PG/} keys %ENV;
    return "$$ $port $db $env";
}

sub _connect {
    my ($port, $db) = @_;
    # Named as psql's sessions are.  A server that is down is psql's to
    # report, in its words: no connection here, and psql runs.
    my $dbh = eval {
        DBI->connect("dbi:Pg:host=127.0.0.1;port=$port;dbname=$db;connect_timeout=5;"
                     . "application_name=psql;options=-cstatement_timeout=60s",
                     'postgres', '',
                     { RaiseError => 0, PrintError => 0, PrintWarn => 0, AutoCommit => 1,
                       AutoInactiveDestroy => 1, pg_enable_utf8 => 0, pg_bool_tf => 1,
                       pg_expand_array => 0, pg_server_prepare => 0 });
    };
    return $dbh;
}

# Close this process's connections to the cluster on $port (all when
# undef): before it stops, or a statement that needs no other session.
sub disconnect {
    my ($port) = @_;
    for my $k (keys %CONN) {
        my ($pid, $p) = split ' ', $k;
        next if defined $port && $p ne $port;
        my $dbh = delete $CONN{$k};
        $dbh->disconnect if $pid == $$;
    }
}

# psql -c $sql against database $db of the cluster on $port, as
# postgres, columns separated by $sep: (rc, stdout, stderr), or nothing
# when psql must run it.
sub query {
    my ($port, $db, $sql, $sep) = @_;
    return unless defined $sql && $sql =~ /\S/ && _have_dbd();
    if (_needs_new_sessions($sql)) {
        disconnect($port);
        return;
    }
    return if _needs_psql($sql);
    # The bytes exec would hand psql: a string of characters in Perl's
    # encoding of them, UTF-8.
    utf8::encode($sql) if utf8::is_utf8($sql);
    my @st = _statements($sql) or return;
    # Several statements are one transaction: the server's implicit one,
    # or the text's own from its BEGIN to its COMMIT or ROLLBACK.
    my $end;
    if (@st > 1) {
        $end = 'commit';
        if ($st[0] =~ $TXN) {
            return unless $st[0] =~ /\A\s*begin(?:\s+(?:work|transaction))?\s*\z/i
                && $st[-1] =~ /\A\s*(commit|end|rollback|abort)(?:\s+(?:work|transaction))?\s*\z/i;
            $end = $1 =~ /\A(?:rollback|abort)\z/i ? 'rollback' : 'commit';
            @st = @st[1 .. $#st - 1];
        }
        return if grep { $_ =~ $TXN } @st;
    }
    my $key = _key($port, $db);
    my $dbh = $CONN{$key};
    if (!$dbh || !$dbh->ping) {
        delete $CONN{$key};
        $dbh = _connect($port, $db) or return;
        $CONN{$key} = $dbh;
    }
    my $err = '';
    local $SIG{__WARN__} = sub { $err .= $_[0] };
    my ($rc, $out) = (0, '');
    # Without the transaction, a statement that fails would leave the ones
    # before it done, and psql would run them again.
    if ($end && !$dbh->begin_work) {
        _discard($key, $dbh);
        return;
    }
    for my $s (@st) {
        my $o = _run($dbh, $s, $sep);
        if (!defined $o) {
            $rc = 1;
            $out = '';
            my $e = $dbh->errstr // 'unknown error';
            $err .= $e =~ /\n\z/ ? $e : "$e\n";
            last;
        }
        $out .= $o;
    }
    if ($end) {
        my $ok = !$rc && ($end eq 'commit' ? $dbh->commit : $dbh->rollback);
        if (!$ok) {
            # Nothing of it stays (psql's transaction would end the same
            # way): psql runs it again, for its own output of the failure.
            $dbh->rollback if !$dbh->{AutoCommit};
            _discard($key, $dbh);
            return;
        }
    }
    # A connection lost: psql's exit code for it.
    $rc = 2 if !_discard($key, $dbh) && $rc;
    return ($rc, $out, $err);
}

# One statement's rows as psql -A -t prints them ('' for none), or undef
# when it fails.
sub _run {
    my ($dbh, $sql, $sep) = @_;
    my $sth = $dbh->prepare($sql, { pg_placeholder_dollaronly => 1, pg_placeholder_nocolons => 1 });
    return undef unless $sth && $sth->execute;
    my $out = '';
    if ($sth->{NUM_OF_FIELDS}) {
        my @bytea = map { $_ eq 'bytea' } @{ $sth->{pg_type} };
        $sep //= '|';
        while (my $r = $sth->fetchrow_arrayref) {
            # DBD::Pg hands bytea over decoded; psql prints it hex.
            $out .= join($sep, map {
                !defined $r->[$_] ? '' : $bytea[$_] ? '\\x' . unpack('H*', $r->[$_]) : $r->[$_]
            } 0 .. $#$r) . "\n";
        }
    }
    $sth->finish;
    return $out;
}

# The session as psql's next run would find it; where that fails (an
# open transaction, a connection lost: psql's session would have ended
# here too), none, and whether the connection is alive.
sub _discard {
    my ($key, $dbh) = @_;
    return 1 if $dbh->do('DISCARD ALL');
    my $alive = $dbh->ping;
    delete $CONN{$key};
    $dbh->disconnect;
    return $alive;
}

1;
