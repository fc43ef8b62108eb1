package BBT::Pg;

# The PostgreSQL part of BBT::Env: a throw-away cluster on loopback, psql as
# its superuser, the schema and grants, and token rows written or read
# behind the CLI's back.
#
# Methods of the environment's object (BBT::Env inherits them).  They read
# its dir, pg_conf, schema_files and grants, and keep their own state in
# pgdata, pgsock, pglog, pgport and pg_running.

use strict;
use warnings;
use Carp qw(croak confess);
use Digest::SHA ();
use Fcntl qw(:flock);
use POSIX ();
use File::Path qw(make_path remove_tree);
use BBT::Util qw(run_cmd free_port slurp spew);
use BBT::Token qw(forge_token parse_token);
use BBT::PgDirect ();

our $PGBIN = $ENV{BBT_PGBIN} || '/usr/lib/postgresql/15/bin';

# Run a server program as postgres (as root) or as ourselves.
sub _pg_run {
    my ($self, $timeout, @cmd) = @_;
    return run_cmd(cmd => \@cmd, user => ($BBT::Util::IS_ROOT ? 'postgres' : undef),
                   tmp => "$self->{dir}/run", timeout => $timeout, env => $self->{pg_vars});
}

# initdb a cluster under dir/pg, listening on a free loopback port.
sub pg_init {
    my ($self) = @_;
    my $d = $self->{dir};
    my $pg = "$d/pg";
    make_path("$pg/sock");
    if ($BBT::Util::IS_ROOT) {
        my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
        die "no postgres user" unless defined $uid;
        chown $uid, $gid, $pg, "$pg/sock";
    }
    chmod 0755, $pg;
    $self->{pgdata} = "$pg/data";
    $self->{pgsock} = "$pg/sock";
    $self->{pglog} = "$pg/postgres.log";
    $self->{pgport} = free_port();
    my @auth = ('--auth=trust');
    my $pwfile;
    if ($self->{db_password}) {
        # Over TCP, the password; through the socket, postgres alone (peer).
        # The password is in dir/pgpass, root's alone, which every client
        # started from here finds through PGPASSFILE.
        # httpd's two roles get a password of their own: httpd.conf holds
        # it, and so do httpd's children, which must not hold the
        # superuser's.
        open my $r, '<:raw', '/dev/urandom' or die "/dev/urandom: $!";
        read($r, my $bytes, 48) == 48 or die "/dev/urandom: short read";
        close $r;
        ($self->{db_pw}, $self->{db_role_pw}) = unpack('(H48)2', $bytes);
        my $old = umask 077;
        spew("$d/pgpass", join('', map {"127.0.0.1:$self->{pgport}:*:$_:$self->{db_role_pw}\n"} qw(bbtoken_httpd bbtoken_api))
                          . "127.0.0.1:$self->{pgport}:*:*:$self->{db_pw}\n", 0600);
        $pwfile = "$pg/pwfile";
        spew($pwfile, "$self->{db_pw}\n", 0600);
        umask $old;
        chown((getpwnam('postgres'))[2, 3], $pwfile) if $BBT::Util::IS_ROOT;
        $ENV{PGPASSFILE} = "$d/pgpass";
        @auth = ('--auth-local=peer', '--auth-host=scram-sha-256', "--pwfile=$pwfile");
    }
    # WAL in segments of 1 MB, not 16: a new cluster holds one, and every
    # test copies the template and removes its copy at the end.
    my @initdb = ('-U', 'postgres', @auth, '-E', 'UTF8', '--locale=C', '--no-instructions',
                  '--wal-segsize=1');
    if ($pwfile || !$ENV{BBT_TMPDIR}) {
        $self->_initdb($self->{pgdata}, @initdb);
    } else {
        $self->_pg_copy_template(\@initdb, $self->_pg_schema_default);
    }
    unlink $pwfile if $pwfile;
    my %conf = (
        listen_addresses        => "'127.0.0.1'",
        port                    => $self->{pgport},
        unix_socket_directories => "'$self->{pgsock}'",
        fsync                   => 'off',
        synchronous_commit      => 'off',
        full_page_writes        => 'off',
        max_connections         => 60,
        # Logical replication's launcher starts as a session of its own (a
        # backend's start, some tens of milliseconds of CPU on a slow
        # machine) and no test uses it.  Autovacuum stays: without its
        # ANALYZE the planner has no statistics for the tables a long test
        # fills, and such a test ran slower with it off.
        max_logical_replication_workers => 0,
        shared_buffers          => "'32MB'",
        log_line_prefix         => "'%m [%p] %u@%d '",
        %{ $self->{pg_conf} },
    );
    open my $h, '>>', "$self->{pgdata}/postgresql.conf" or die $!;
    print $h "\n# bbt test harness\n";
    print $h "$_ = $conf{$_}\n" for sort keys %conf;
    close $h;
}

sub _initdb {
    my ($self, $data, @args) = @_;
    my ($rc, $out, $err) = $self->_pg_run(120, "$PGBIN/initdb", '-D', $data, @args);
    die "initdb failed ($rc):\n$out$err" if $rc;
}

# The cluster initdb makes with these arguments, copied from a template
# that the first test of a run (one BBT_TMPDIR) to need it makes.  initdb
# writes the same files each time, and takes a second and a half of CPU
# on a slow machine; the suite makes well over a hundred clusters.  With
# $schema, the template holds what pg_load_schema makes too (the default
# schema, roles and grants: six psql runs and a CREATE DATABASE), and the
# copy is marked so that start() skips it.  Each test still gets a cluster
# of its own, which no test has started before.  Not for a cluster with a
# password: that is made anew each time.
sub _pg_copy_template {
    my ($self, $args, $schema) = @_;
    my @key = ($PGBIN, @$args);
    push @key, map { Digest::SHA->new(256)->addfile($_)->hexdigest } $self->_pg_schema_inputs if $schema;
    my $tpl = "$ENV{BBT_TMPDIR}/pg-template-" . Digest::SHA::sha1_hex(join "\0", @key);
    open my $lock, '>>', "$tpl.lock" or die "$tpl.lock: $!";
    flock($lock, LOCK_EX) or die "flock $tpl.lock: $!";
    if (!-e "$tpl/ready") {
        remove_tree($tpl);
        make_path("$tpl/sock");
        chown((getpwnam('postgres'))[2, 3], $tpl, "$tpl/sock") if $BBT::Util::IS_ROOT;
        chmod 0755, $tpl, "$tpl/sock";
        $self->_initdb("$tpl/data", @$args);
        $self->_pg_template_schema($tpl) if $schema;
        spew("$tpl/ready", "");
    }
    close $lock;
    # cp -a keeps the owner (postgres) and the modes initdb gave.
    my ($rc, $out, $err) = run_cmd(cmd => ['cp', '-a', "$tpl/data", $self->{pgdata}],
                                   tmp => "$self->{dir}/run", timeout => 120);
    die "copying the cluster template $tpl failed ($rc):\n$out$err" if $rc;
    $self->{pg_schema_copied} = 1 if $schema;
}

# Whether this environment's database is the default one: the schema of
# sql/schema.sql, in the cluster's encoding, with the grants.
sub _pg_schema_default {
    my ($self) = @_;
    my $f = $self->{schema_files};
    return @$f == 1 && $f->[0] eq "$BBT::Util::ROOT/sql/schema.sql" && !$self->{db_encoding}
        && !$self->{db_locale} && $self->{grants} ? 1 : 0;
}

# What the default schema is made from: schema.sql includes the
# migrations (\ir), so a migration edited between two runs in one
# BBT_TMPDIR must make a new template too.
sub _pg_schema_inputs {
    return (map({"$BBT::Util::ROOT/sql/$_"} qw(schema.sql grants.sql grants-api.sql)),
            sort glob("$BBT::Util::ROOT/sql/migrations/*.sql"));
}

# pg_load_schema on the template at $tpl: started on a port of its own,
# loaded, and stopped cleanly (its copies start without recovery).
sub _pg_template_schema {
    my ($self, $tpl) = @_;
    local @$self{qw(pgdata pglog pgport)} = ("$tpl/data", "$tpl/postgres.log", free_port());
    $self->_pg_ctl('start', '-l', $self->{pglog}, '-o',
                   "-c listen_addresses=127.0.0.1 -c port=$self->{pgport} -c unix_socket_directories=$tpl/sock"
                   . " -c fsync=off");
    my $ok = eval { $self->pg_load_schema; 1 };
    my $why = $@;
    $self->_pg_ctl('stop', '-m', 'fast');
    die $why unless $ok;
    unlink "$tpl/data/postmaster.opts";
}

# pg_ctl with these arguments; dies with what it said on failure.
sub _pg_ctl {
    my ($self, $what, @args) = @_;
    # Not a session of ours to wait for or to be cut off.
    BBT::PgDirect::disconnect($self->{pgport}) if $what ne 'start';
    my ($rc, $out, $err) = $self->_pg_run(90, "$PGBIN/pg_ctl", '-D', $self->{pgdata}, @args, '-w', '-t', '60', $what);
    return unless $rc;
    my $msg = "pg_ctl $what failed ($rc):\n$out$err";
    $msg .= "\n" . slurp($self->{pglog}) if $what eq 'start';
    die $msg;
}

sub pg_start {
    my ($self) = @_;
    # Running before pg_ctl starts it: the server leaves pg_ctl's process
    # group, and when the start is cut short (SIGINT while pg_ctl waits)
    # the cleanup must still stop it.
    $self->{pg_running} = 1;
    $self->_pg_ctl('start', '-l', $self->{pglog});
    return $self;
}

sub pg_stop {
    my ($self, $mode) = @_;
    $self->_pg_ctl('stop', '-m', $mode || 'fast');
    $self->{pg_running} = 0;
    return $self;
}

# Restart in one go (same data dir and port): connections httpd holds die.
sub pg_restart {
    my ($self) = @_;
    $self->_pg_ctl('restart', '-l', $self->{pglog}, '-m', 'fast');
    $self->{pg_running} = 1;
    return $self;
}

sub pg_port { $_[0]{pgport} }

# The directory of the cluster's socket, where the system's user postgres
# is let in as the superuser without a password.
sub pg_sock { $_[0]{pgsock} }

# A hot standby of the cluster, on a port of its own: a base backup with
# streaming replication set up (pg_basebackup -R), started.  Returns its
# port; pg_standby_psql queries it, and it is stopped with the cluster.
sub pg_standby {
    my ($self) = @_;
    croak 'one standby at most' if $self->{pg_standby};
    my $data = "$self->{dir}/pg/standby";
    my $port = free_port();
    my ($rc, $out, $err) = $self->_pg_run(120, "$PGBIN/pg_basebackup", '-h', '127.0.0.1', '-p', $self->{pgport},
                                          '-U', 'postgres', '-D', $data, '-R', '-X', 'stream', '-c', 'fast');
    die "pg_basebackup failed ($rc):\n$out$err" if $rc;
    open my $h, '>>', "$data/postgresql.conf" or die "$data/postgresql.conf: $!";
    print $h "\n# bbt test harness: the standby\nport = $port\nhot_standby = on\n";
    close $h;
    $self->{pg_standby} = { data => $data, port => $port, log => "$self->{dir}/pg/standby.log" };
    $self->_pg_on_standby(sub { $self->_pg_ctl('start', '-l', $self->{pglog}) });
    return $port;
}

# $code with the cluster's data, log and port the standby's.
sub _pg_on_standby {
    my ($self, $code) = @_;
    my $sb = $self->{pg_standby} or croak 'no standby';
    local @$self{qw(pgdata pglog pgport)} = @$sb{qw(data log port)};
    return $code->();
}

# psql as superuser on the standby, as psql on the cluster.
sub pg_standby_psql {
    my ($self, $sql, %o) = @_;
    return $self->_pg_on_standby(sub { $self->psql($sql, %o) });
}

# Promote the standby (pg_ctl promote, which waits until it is done): a
# server of its own from then on, with the rows the cluster had, its
# postmaster's start not the cluster's.
sub pg_standby_promote {
    my ($self) = @_;
    $self->_pg_on_standby(sub { $self->_pg_ctl('promote') });
}

sub pg_standby_stop {
    my ($self) = @_;
    $self->_pg_on_standby(sub { $self->_pg_ctl('stop', '-m', 'immediate') });
    delete $self->{pg_standby};
}

# Wait (polling, up to a minute) until the standby has replayed the WAL the
# primary had when called (inserted: with synchronous_commit off, what is
# written may be short of the last commit): 1, or 0.
sub pg_standby_caught_up {
    my ($self) = @_;
    my $lsn = $self->psql('SELECT pg_current_wal_insert_lsn()');
    for (1 .. 1200) {
        return 1 if $self->pg_standby_psql("SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn") eq 't';
        select undef, undef, undef, 0.05;
    }
    return 0;
}

# pg_stat_statements (the cluster must preload it: pg_conf =>
# { shared_preload_libraries => "'pg_stat_statements'" }).
sub stat_statements_on {
    my ($self) = @_;
    $self->psql('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
}

# How many times PostgreSQL ran statements whose text contains $text
# (every database, every role), as pg_stat_statements counts them.
sub statement_calls {
    my ($self, $text) = @_;
    return $self->psql("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                       . "WHERE strpos(query, " . sql_text($text) . ") > 0");
}

# $text as an SQL expression, string literals joined by chr(36) for each $:
# pg_stat_statements spells parameters $1, $2..., and a statement with a $
# and a digit would go to a psql of its own (psql_try), a process and a
# connection each time.  Each literal is a constant to pg_stat_statements,
# so a statement comparing with this text does not contain it.
sub sql_text {
    my ($text) = @_;
    return "''" if $text eq '';
    return join ' || chr(36) || ', map { (my $s = $_) =~ s/'/''/g; "'$s'" } split /\$/, $text, -1;
}

sub pg_log_text { slurp($_[0]{pglog}) }

sub superuser_conninfo {
    my ($self, $db) = @_;
    return "host=127.0.0.1 port=$self->{pgport} dbname=" . ($db || 'bbtoken')
        . " user=postgres connect_timeout=5";
}

# psql as superuser: (rc, stdout, stderr).  Unaligned, tuples only.  Over
# this process's own connection where that gives the same (BBT::PgDirect).
sub psql_try {
    my ($self, $sql, %o) = @_;
    if (!defined $o{user} && !defined $o{file} && !$o{vars}) {
        my @r = BBT::PgDirect::query($self->{pgport}, $o{db} || 'bbtoken', $sql, $o{sep});
        return @r if @r;
    }
    my @cmd = ("$PGBIN/psql", '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
               '-h', '127.0.0.1', '-p', $self->{pgport}, '-U', $o{user} || 'postgres',
               '-d', $o{db} || 'bbtoken');
    push @cmd, '-F', $o{sep} if defined $o{sep};
    push @cmd, map { ('-v', $_) } @{ $o{vars} || [] };
    if (defined $o{file}) { push @cmd, '-f', $o{file} }
    else { push @cmd, '-c', $sql }
    return run_cmd(cmd => \@cmd, tmp => "$self->{dir}/run", timeout => 60,
                   env => { PGCONNECT_TIMEOUT => 5 });
}

# psql as superuser; dies on failure, returns stdout without the last newline.
sub psql {
    my ($self, $sql, %o) = @_;
    my ($rc, $out, $err) = $self->psql_try($sql, %o);
    confess "psql failed ($rc): $sql\n$err" if $rc;
    chomp $out;
    return $out;
}

# What CREATE DATABASE takes after the name for the environment's
# db_encoding and db_locale ('' for the cluster's own, UTF8 and C): another
# encoding or locale needs template0; the C locale suits every encoding.
sub db_create_options {
    my ($self, $enc) = @_;
    $enc //= $self->{db_encoding};
    my $loc = $self->{db_locale};
    return '' unless $enc || $loc;
    $enc ||= 'UTF8';
    $loc ||= 'C';
    croak "bad encoding $enc" unless $enc =~ /^\w+\z/;
    croak "bad locale $loc" unless $loc =~ /^[\w.\@-]+\z/;
    return " ENCODING '$enc' TEMPLATE template0 LC_COLLATE '$loc' LC_CTYPE '$loc'";
}

# The bbtoken database from schema_files, httpd's two roles, and their
# grants: bbtoken_httpd looks tokens up (sql/grants.sql), bbtoken_api
# serves the access-tokens REST API (sql/grants-api.sql).
sub pg_load_schema {
    my ($self) = @_;
    $self->psql('CREATE DATABASE bbtoken' . $self->db_create_options, db => 'postgres');
    $self->psql(undef, file => $_) for @{ $self->{schema_files} };
    if (my $pw = $self->{db_role_pw}) {
        # From a file of root's, not psql's command line, which anyone may
        # read in /proc while it runs.
        my $f = "$self->{dir}/run/roles.sql";
        my $old = umask 077;
        spew($f, "CREATE ROLE bbtoken_httpd LOGIN PASSWORD '$pw';\n"
                 . "CREATE ROLE bbtoken_api LOGIN PASSWORD '$pw';\n");
        umask $old;
        $self->psql(undef, file => $f);
        unlink $f;
    } else {
        $self->psql('CREATE ROLE bbtoken_httpd LOGIN');
        $self->psql('CREATE ROLE bbtoken_api LOGIN');
    }
    $self->grants_apply if $self->{grants};
}

sub grants_apply {
    my ($self) = @_;
    $self->psql(undef, file => "$BBT::Util::ROOT/sql/grants.sql", vars => ['role=bbtoken_httpd']);
    $self->psql(undef, file => "$BBT::Util::ROOT/sql/grants-api.sql", vars => ['role=bbtoken_api']);
}

# Make token $id expired, created $days_ago days ago (default 3) and expired
# a second ago.  Expiry is fixed by a trigger that refuses every UPDATE of
# it; a superuser session with session_replication_role = replica skips
# triggers (a deliberate act no client of the module can perform).
sub expire_token {
    my ($self, $id, $days_ago) = @_;
    croak "bad id" unless $id =~ /^[0-9]{12}\z/;
    $days_ago ||= 3;
    $self->psql("SET session_replication_role = replica; "
                . "UPDATE bbtoken_tokens SET created_at = now() - interval '$days_ago days', "
                . "expires_at = now() - interval '1 second' WHERE id = '$id'");
}

# Hold @tables locked (ACCESS EXCLUSIVE) from a session of our own until
# unlock_tables, so that the module's statements on them wait: the first
# table is granted when this returns (or 10 seconds have passed).  No
# statement_timeout on the module's connections, or theirs ends the wait.
sub lock_tables {
    my ($self, @tables) = @_;
    croak 'lock_tables: one lock at a time' if $self->{locker};
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        { exec("$PGBIN/psql", '-X', '-q', '-h', '127.0.0.1', '-p', $self->{pgport}, '-U', 'postgres',
               '-d', 'bbtoken', '-c', 'BEGIN; LOCK TABLE ' . join(', ', @tables)
               . ' IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(300); COMMIT;') }
        POSIX::_exit(127);
    }
    $self->{locker} = $pid;
    for (1 .. 100) {
        last if $self->psql("SELECT count(*) FROM pg_locks WHERE relation = '$tables[0]'::regclass"
                            . " AND mode = 'AccessExclusiveLock' AND granted") > 0;
        select(undef, undef, undef, 0.1);
    }
}

sub unlock_tables {
    my ($self) = @_;
    my $pid = delete $self->{locker} or return;
    $self->psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(300)%'"
                . " AND pid <> pg_backend_pid()");
    waitpid($pid, 0);
}

# How many sessions of database role $role wait for a lock.
sub waiting_on_lock {
    my ($self, $role) = @_;
    return $self->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = '$role'"
                       . " AND wait_event_type = 'Lock'");
}

# Insert a token row straight into the database, hashing it as the CLI does
# (HMAC-SHA-256 keyed with the salt's bytes over the raw 33 bytes), as the
# previous release's CLI or a hand-made row would.  Options: id (12 digits;
# random when not given), name, project, repo, created (SQL expression),
# expires (SQL expression or undef), revoked (SQL expression or undef;
# given, the row skips the triggers).  Returns (token, id).
sub token_insert {
    my ($self, $user, %o) = @_;
    my ($sql, $tok, $id) = $self->_token_insert_sql($user, $self->_token_insert_audited(%o), %o);
    $self->psql($sql);
    return wantarray ? ($tok, $id) : $tok;
}

# $n such rows for $user, named "NAME 1" to "NAME $n", in one psql (each
# is a process and a connection: a tenth of a second and more on a slow
# machine).  Returns their ids.
sub tokens_insert {
    my ($self, $user, $n, %o) = @_;
    my $audited = $self->_token_insert_audited(%o);
    my $base = $o{name} // 'inserted';
    my (@sql, @ids);
    for my $i (1 .. $n) {
        my ($sql, undef, $id) = $self->_token_insert_sql($user, $audited, %o, name => "$base $i");
        push @sql, $sql;
        push @ids, $id;
    }
    $self->psql(join ";\n", @sql);
    return @ids;
}

# Whether a row inserted with these options records its creation by hand:
# a row from the past (created given) where there is an audit trail.
sub _token_insert_audited {
    my ($self, %o) = @_;
    return defined $o{created}
        && $self->psql("SELECT to_regproc('bbtoken_audit_write') IS NOT NULL") eq 't';
}

# The INSERT that token_insert runs, for a test that runs it itself (in a
# session of its own, in a transaction of its own): ($sql, token, id).
sub token_insert_sql {
    my ($self, $user, %o) = @_;
    return $self->_token_insert_sql($user, 0, %o);
}

sub _token_insert_sql {
    my ($self, $user, $audited, %o) = @_;
    my $id = $o{id} // sprintf('%012d', int(rand(1e12)));
    my $tok = forge_token($id);
    my $p = parse_token($tok);
    my $salt = join '', map { sprintf '%02x', int rand 256 } 1 .. 16;
    my $hash = Digest::SHA::hmac_sha256_hex($p->{raw}, pack('H*', $salt));
    my $name = $o{name} // 'inserted';
    $name =~ s/'/''/g;
    my $created = $o{created} // 'now()';
    my $expires = $o{expires} // 'NULL';
    my $revoked = $o{revoked} // 'NULL';
    # A row from the past: the policy trigger would stamp it "now", so it is
    # written as the table owner restoring data would, with triggers off.
    my $replica = defined $o{created} ? 'SET session_replication_role = replica; ' : '';
    # ... and its creation is recorded by hand where there is an audit trail.
    my $sql = $replica . "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, "
        . "secret_hash, created_at, expires_at, revoked_at) SELECT '$id', id, '$name', '"
        . ($o{project} || 'PROJECT_ADMIN') . "', '" . ($o{repo} || 'REPO_ADMIN')
        . "', '$salt', '$hash', $created, $expires, $revoked FROM bbtoken_users "
        . "WHERE lower(name) = lower('$user')"
        . ($audited ? "; SELECT bbtoken_audit_write('created', '$id', u.name, "
                      . "'restored row', 'sql') FROM bbtoken_users u "
                      . "WHERE lower(u.name) = lower('$user')" : '');
    return ($sql, $tok, $id);
}

# One token row as a hash (all columns as text).
sub token_row {
    my ($self, $id) = @_;
    croak "bad id" unless $id =~ /^[0-9]{12}\z/;
    my @cols = qw(id user_id name project_perm repo_perm salt secret_hash created_at
                  expires_at last_authenticated revoked_at);
    my $out = $self->psql("SELECT " . join(',', map {"coalesce($_\::text,'')"} @cols)
                          . " FROM bbtoken_tokens WHERE id = '$id'", sep => "\t");
    return undef if $out eq '';
    my %h;
    @h{@cols} = split /\t/, $out, -1;
    return \%h;
}


# A psql session of its own, fed one statement at a time, for tests of
# what sessions do at once: send() writes SQL to it, done() waits until it
# has run everything sent so far, blocked() until its backend waits for a
# lock, out() is what it printed (errors too).  Its backend is the one
# whose application_name is bbt-NAME; its role postgres, or $o{user}.
sub pg_session {
    my ($self, $name, %o) = @_;
    my $out = "$self->{dir}/run/session-$name.out";
    my @cmd = ("$PGBIN/psql", '-X', '-q', '-A', '-t', '-h', '127.0.0.1', '-p', $self->{pgport},
               '-U', $o{user} || 'postgres', '-d', 'bbtoken');
    my $pid = open(my $h, '|-') // die "fork: $!";
    if (!$pid) {
        $ENV{PGAPPNAME} = "bbt-$name";
        open STDOUT, '>', $out or die "$out: $!";
        open STDERR, '>&', \*STDOUT or die "stderr: $!";
        exec @cmd or die "psql: $!";
    }
    $h->autoflush(1);
    return bless { env => $self, name => $name, h => $h, out => $out, n => 0 }, 'BBT::Pg::Session';
}

# Wait (up to a minute, polling) until SQL $cond about the backends of
# application_name $app (a LIKE pattern) holds for $n of them (default 1):
# 1, or 0.
sub pg_wait_backend {
    my ($self, $app, $cond, $n) = @_;
    my $sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '$app' AND ($cond)";
    for (1 .. 1200) {
        return 1 if $self->psql($sql, db => 'postgres') >= ($n || 1);
        select undef, undef, undef, 0.05;
    }
    return 0;
}

# Wait until a backend running a statement like $pattern waits for a lock.
sub pg_wait_blocked {
    my ($self, $pattern) = @_;
    $pattern =~ s/'/''/g;
    return $self->pg_wait_backend('%', "wait_event_type = 'Lock' AND query LIKE '$pattern'");
}

# Wait (up to a minute, polling) until $n (default 1) requests for a lock
# on table $table of this database wait, not granted (a session holds it
# under LOCK TABLE): 1, or 0.
sub pg_wait_table_waiters {
    my ($self, $table, $n) = @_;
    my $sql = "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'relation'"
            . " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            . " AND relation = '$table'::regclass";
    for (1 .. 1200) {
        return 1 if $self->psql($sql) >= ($n || 1);
        select undef, undef, undef, 0.05;
    }
    return 0;
}

# Commits of the API's sessions wait for a synchronous standby named
# nosuch ($on), or not: synchronous_standby_names and synchronous_commit
# (the harness's clusters commit without waiting) set and reloaded, then
# waited for until a new session sees the setting, which the postmaster has
# by then signalled to every backend (each reads it before its next
# statement).  A test's own sessions commit without it when it sets
# PGOPTIONS='-c synchronous_commit=local'.  Dies after a minute.
sub pg_syncrep {
    my ($self, $on) = @_;
    $self->psql($on ? "ALTER SYSTEM SET synchronous_standby_names = 'nosuch'"
                    : 'ALTER SYSTEM RESET synchronous_standby_names');
    $self->psql($on ? 'ALTER SYSTEM SET synchronous_commit = on' : 'ALTER SYSTEM RESET synchronous_commit');
    $self->psql('SELECT pg_reload_conf()');
    my $want = $on ? 'nosuch' : '';
    for (1 .. 1200) {
        my ($rc, $out) = $self->psql_try('SHOW synchronous_standby_names', user => 'postgres');
        chomp $out;
        return 1 if !$rc && $out eq $want;
        select undef, undef, undef, 0.05;
    }
    die "synchronous_standby_names is not '$want' after a minute\n";
}

package BBT::Pg::Session;

use BBT::Util qw(slurp);

sub send {
    my ($self, $sql) = @_;
    print { $self->{h} } "$sql\n";
    return $self;
}

# Every statement sent so far has run: 1, or 0 after a minute.
sub done {
    my ($self) = @_;
    my $mark = "bbt-mark-" . ++$self->{n};
    $self->send("\\echo $mark");
    for (1 .. 1200) {
        return 1 if slurp($self->{out}) =~ /^\Q$mark\E$/m;
        select undef, undef, undef, 0.05;
    }
    return 0;
}

# Everything sent so far has run, or its backend waits for a lock:
# 'done', 'blocked', or '' after a minute.
sub settled {
    my ($self) = @_;
    my $mark = "bbt-mark-" . ++$self->{n};
    $self->send("\\echo $mark");
    my $sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bbt-$self->{name}'"
            . " AND wait_event_type = 'Lock'";
    for (1 .. 1200) {
        return 'done' if slurp($self->{out}) =~ /^\Q$mark\E$/m;
        return 'blocked' if $self->{env}->psql($sql, db => 'postgres') > 0;
        select undef, undef, undef, 0.05;
    }
    return '';
}

# Its backend waits for a lock: 1, or 0 after a minute.
sub blocked {
    my ($self) = @_;
    return $self->{env}->pg_wait_backend("bbt-$self->{name}", "wait_event_type = 'Lock'");
}

# What it printed, the marks left out.
sub out {
    my ($self) = @_;
    my $o = slurp($self->{out});
    $o =~ s/^bbt-mark-\d+\n//mg;
    return $o;
}

# Ends it (psql quits at the end of its input): what it printed.
sub finish {
    my ($self) = @_;
    close $self->{h} if $self->{h};
    delete $self->{h};
    return $self->out;
}

sub DESTROY { my ($self) = @_; close $self->{h} if $self->{h} }

1;
