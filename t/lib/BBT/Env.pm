package BBT::Env;

# Integration-test harness for mod_bbtoken: a throw-away PostgreSQL 15 and
# a standalone httpd (event MPM) on loopback, git-http-backend behind the
# module, the real bbtoken CLI and the real git client.
#
#   use lib 't/lib';
#   use BBT::Env;
#   my $env = BBT::Env->new(%opts)->start;
#
# Options:
#   module   => 0|1   load build/out/mod_bbtoken.so (default 1, or 0 when
#                     BBT_NO_MODULE=1: the /scm and /env locations are then
#                     unprotected, useful only while developing the harness)
#   httpd    => 0|1   start httpd too (default 1)
#   loglevel => STR   httpd LogLevel (default "warn bbtoken:debug")
#   extra_conf => STR appended to httpd.conf; @DIR@ is replaced by the temp dir
#   pg_conf  => {k => v} extra postgresql.conf settings
#   mpm_conf => STR   replaces the default MPM sizing (2 children x 8 threads)
#   modules  => [..]  more httpd modules to load (names as in mod_NAME.so)
#   dir      => PATH  use this directory (must not exist) instead of a temp dir
#   port     => N     httpd's port instead of a free one
#   schema_files => [..] SQL files that make the schema, in order (default
#                     sql/schema.sql; the upgrade test loads an old release)
#   grants   => 0|1   run sql/grants.sql for bbtoken_httpd (default 1)
#
# BBT_MODULE_SO=path tests another build of the module.
#
# Everything lives in one temp dir under $BBT_TMPDIR (default /tmp); it is
# removed at the end unless BBT_KEEP=1.  Servers are stopped even when a
# test dies, unless detach() was called (the demo does).
#
# Only core Perl modules are used.

use strict;
use warnings;
use Carp qw(croak confess);
use Cwd qw(abs_path);
use Digest::SHA qw(sha256);
use Errno qw(ESRCH);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use Exporter 'import';
our @EXPORT_OK = qw(pct forge_token parse_token mistype_token b64 run_cmd);

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');
our $PGBIN = $ENV{BBT_PGBIN} || '/usr/lib/postgresql/15/bin';
our $APACHE = $ENV{BBT_APACHE} || '/usr/sbin/apache2';
our $MODDIR = $ENV{BBT_MODDIR} || '/usr/lib/apache2/modules';
our $GIT_BACKEND = '/usr/lib/git-core/git-http-backend';
our $IS_ROOT = ($> == 0);
our $RUN_USER = 'www-data';

my @LIVE;    # every started environment, for the END block

# ---------------------------------------------------------------------------
# Small helpers (also exported)

# Percent-encode for the userinfo part of a URL: everything but unreserved.
sub pct {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub b64 { return encode_base64($_[0], '') }

# Build a token the way the spec says (bbt_token.h): a well-formed token with
# a valid checksum for any id.  With $rand16 omitted, random bytes.
sub forge_token {
    my ($id, $rand16) = @_;
    croak "bad id" unless defined $id && $id =~ /^[0-9]{12}\z/;
    $rand16 = join '', map { chr int rand 256 } 1 .. 16 unless defined $rand16;
    croak "rand16 must be 16 bytes" unless length $rand16 == 16;
    my $chk = substr(sha256("bbtoken-v1:$id:$rand16"), 0, 4);
    return 'BBDC-' . b64("$id:$rand16$chk");
}

# Decode a token; returns a hash (id, rand, check, raw, b64, checksum_ok) or
# undef if it is not of the documented shape.
sub parse_token {
    my ($tok) = @_;
    return undef unless defined $tok;
    my $b = $tok;
    $b =~ s/^BBDC-//;
    return undef unless $b =~ m{^[A-Za-z0-9+/]{44}\z};
    my $raw = decode_base64($b);
    return undef unless length $raw == 33;
    return undef unless $raw =~ /^([0-9]{12}):(.{16})(.{4})\z/s;
    my ($id, $rand, $chk) = ($1, $2, $3);
    return {
        id => $id, rand => $rand, check => $chk, raw => $raw, b64 => $b,
        checksum_ok => (substr(sha256("bbtoken-v1:$id:$rand"), 0, 4) eq $chk) ? 1 : 0,
    };
}

# The same token with one base64 character of its secret part changed.
sub mistype_token {
    my ($tok) = @_;
    my ($prefix, $b) = $tok =~ /^(BBDC-)?(.*)\z/s;
    $prefix //= '';
    my $pos = 30;    # inside the secret, away from the id's characters
    my $c = substr($b, $pos, 1);
    substr($b, $pos, 1) = ($c eq 'A' ? 'B' : 'A');
    return $prefix . $b;
}

# Run a command: (exit code, stdout, stderr).  Options: cmd => [...],
# env => {K => V or undef to delete}, stdin => string, cwd => dir,
# timeout => seconds (default 120), tmp => dir for the capture files.
sub run_cmd {
    my (%o) = @_;
    my @cmd = @{ $o{cmd} };
    my $tmp = $o{tmp} || File::Spec->tmpdir;
    my $tag = "$$." . int(rand(1e9));
    my ($fo, $fe, $fi) = map { "$tmp/.run.$tag.$_" } qw(out err in);
    if (defined $o{stdin}) {
        open my $h, '>', $fi or die "$fi: $!";
        print $h $o{stdin};
        close $h;
    }
    print STDERR "# run: @cmd\n" if $ENV{BBT_VERBOSE};
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        setpgrp(0, 0);
        open STDIN, '<', (defined $o{stdin} ? $fi : '/dev/null') or POSIX::_exit(126);
        open STDOUT, '>', $fo or POSIX::_exit(126);
        open STDERR, '>', $fe or POSIX::_exit(126);
        if ($o{cwd}) { chdir $o{cwd} or POSIX::_exit(126) }
        if ($o{env}) {
            for my $k (keys %{ $o{env} }) {
                if (defined $o{env}{$k}) { $ENV{$k} = $o{env}{$k} }
                else { delete $ENV{$k} }
            }
        }
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        print STDERR "exec $cmd[0]: $!\n";
        POSIX::_exit(127);
    }
    my $deadline = time + ($o{timeout} || 120);
    my $status;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) { $status = $?; last }
        if (time > $deadline) {
            kill 'TERM', -$pid;
            sleep 1;
            kill 'KILL', -$pid;
            waitpid($pid, 0);
            $status = -1;
            last;
        }
        sleep 0.02;
    }
    my $slurp = sub { my $f = shift; open my $h, '<', $f or return ''; local $/; my $s = <$h>; close $h; $s // '' };
    my ($out, $err) = ($slurp->($fo), $slurp->($fe));
    unlink $fo, $fe, $fi;
    my $rc = $status == -1 ? -1 : ($status & 127) ? 128 + ($status & 127) : $status >> 8;
    $err .= "\n[timed out after " . ($o{timeout} || 120) . "s]\n" if $status == -1;
    print STDERR "# rc=$rc\n" if $ENV{BBT_VERBOSE};
    return ($rc, $out, $err);
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "cannot bind a free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub port_open {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

sub slurp {
    my ($f) = @_;
    open my $h, '<', $f or return '';
    local $/;
    my $s = <$h>;
    close $h;
    return $s // '';
}

sub spew {
    my ($f, $s, $mode) = @_;
    open my $h, '>', $f or die "$f: $!";
    print $h $s;
    close $h;
    chmod $mode, $f if defined $mode;
}

# ---------------------------------------------------------------------------
# Construction and lifetime

sub new {
    my ($class, %o) = @_;
    my $self = bless {
        module     => exists $o{module} ? $o{module} : ($ENV{BBT_NO_MODULE} ? 0 : 1),
        httpd      => exists $o{httpd} ? $o{httpd} : 1,
        loglevel   => $o{loglevel} || 'warn bbtoken:debug',
        extra_conf => $o{extra_conf} || '',
        pg_conf    => $o{pg_conf} || {},
        mpm_conf   => $o{mpm_conf},
        modules    => $o{modules} || [],
        fixed_dir  => $o{dir},
        port       => $o{port},
        schema_files => $o{schema_files} || ["$ROOT/sql/schema.sql"],
        grants     => exists $o{grants} ? $o{grants} : 1,
        owner_pid  => $$,
        git_n      => 0,
    }, $class;
    return $self;
}

sub start {
    my ($self) = @_;
    # Under /tmp, not the checkout: httpd's User and postgres must reach
    # every directory on the way, and a checkout may sit under /root.
    if ($self->{fixed_dir}) {
        die "$self->{fixed_dir} exists: stop and remove it first\n" if -e $self->{fixed_dir};
        make_path($self->{fixed_dir});
        $self->{dir} = $self->{fixed_dir};
    } else {
        my $base = $ENV{BBT_TMPDIR} || '/tmp';
        $self->{dir} = tempdir('bbt-XXXXXX', DIR => $base);
    }
    chmod 0755, $self->{dir};
    push @LIVE, $self;
    my $d = $self->{dir};
    for my $sub (qw(logs run repos work home cgi-bin scratch)) {
        make_path("$d/$sub");
        chmod 0755, "$d/$sub";
    }
    $self->_write_home;
    $self->_init_pg;
    $self->pg_start;
    $self->_load_schema;
    if ($self->{httpd}) {
        $self->_write_cgi;
        $self->httpd_start;
    }
    return $self;
}

sub dir { $_[0]{dir} }

# Leave PostgreSQL and httpd running and the directory in place when this
# process ends (the demo); stop them later with `apache2 -k stop` and
# `pg_ctl stop` on the files in dir().
sub detach {
    my ($self) = @_;
    $self->{cleaned} = 1;
    @LIVE = grep { $_ != $self } @LIVE;
    return $self;
}

sub DESTROY {
    my ($self) = @_;
    $self->cleanup;
}

END {
    my $rc = $?;
    $_->cleanup for grep { defined } @LIVE;
    @LIVE = ();
    $? = $rc;
}

for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub { die "caught SIG$sig\n" };
}

sub cleanup {
    my ($self) = @_;
    return if $self->{cleaned} || !$self->{dir};
    return unless $$ == $self->{owner_pid};
    $self->{cleaned} = 1;
    local ($@, $!, $?);
    my $failed = 0;
    eval {
        require Test::More;
        my $tb = Test::More->builder;
        $failed = !$tb->is_passing;
    };
    if ($failed && -s "$self->{dir}/logs/error_log") {
        my @l = split /\n/, slurp("$self->{dir}/logs/error_log");
        @l = @l[-40 .. -1] if @l > 40;
        print STDERR "# --- last lines of error_log ---\n", map {"#   $_\n"} @l;
    }
    eval { $self->httpd_stop if $self->{httpd_pid} };
    eval { $self->pg_stop if $self->{pg_running} };
    if ($ENV{BBT_KEEP}) {
        print STDERR "# BBT_KEEP: kept $self->{dir}\n";
    } else {
        remove_tree($self->{dir});
    }
}

# ---------------------------------------------------------------------------
# PostgreSQL

sub _as_pg {
    my ($self, @cmd) = @_;
    return $IS_ROOT ? ('runuser', '-u', 'postgres', '--', @cmd) : @cmd;
}

sub _init_pg {
    my ($self) = @_;
    my $d = $self->{dir};
    my $pg = "$d/pg";
    make_path("$pg/sock");
    if ($IS_ROOT) {
        my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
        die "no postgres user" unless defined $uid;
        chown $uid, $gid, $pg, "$pg/sock";
    }
    chmod 0755, $pg;
    $self->{pgdata} = "$pg/data";
    $self->{pgsock} = "$pg/sock";
    $self->{pglog} = "$pg/postgres.log";
    $self->{pgport} = free_port();
    my ($rc, $out, $err) = run_cmd(
        cmd => [$self->_as_pg("$PGBIN/initdb", '-D', $self->{pgdata}, '-U', 'postgres',
                              '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-instructions')],
        tmp => "$d/run", timeout => 120);
    die "initdb failed ($rc):\n$out$err" if $rc;
    my %conf = (
        listen_addresses        => "'127.0.0.1'",
        port                    => $self->{pgport},
        unix_socket_directories => "'$self->{pgsock}'",
        fsync                   => 'off',
        synchronous_commit      => 'off',
        full_page_writes        => 'off',
        max_connections         => 60,
        shared_buffers          => "'32MB'",
        log_line_prefix         => "'%m [%p] %u@%d '",
        %{ $self->{pg_conf} },
    );
    open my $h, '>>', "$self->{pgdata}/postgresql.conf" or die $!;
    print $h "\n# bbt test harness\n";
    print $h "$_ = $conf{$_}\n" for sort keys %conf;
    close $h;
}

sub pg_start {
    my ($self) = @_;
    my ($rc, $out, $err) = run_cmd(
        cmd => [$self->_as_pg("$PGBIN/pg_ctl", '-D', $self->{pgdata}, '-l', $self->{pglog},
                              '-w', '-t', '60', 'start')],
        tmp => "$self->{dir}/run", timeout => 90);
    die "pg_ctl start failed ($rc):\n$out$err\n" . slurp($self->{pglog}) if $rc;
    $self->{pg_running} = 1;
    return $self;
}

sub pg_stop {
    my ($self, $mode) = @_;
    my ($rc, $out, $err) = run_cmd(
        cmd => [$self->_as_pg("$PGBIN/pg_ctl", '-D', $self->{pgdata}, '-m', $mode || 'fast',
                              '-w', '-t', '60', 'stop')],
        tmp => "$self->{dir}/run", timeout => 90);
    die "pg_ctl stop failed ($rc):\n$out$err" if $rc;
    $self->{pg_running} = 0;
    return $self;
}

# Restart in one go (same data dir and port): connections httpd holds die.
sub pg_restart {
    my ($self) = @_;
    my ($rc, $out, $err) = run_cmd(
        cmd => [$self->_as_pg("$PGBIN/pg_ctl", '-D', $self->{pgdata}, '-l', $self->{pglog},
                              '-m', 'fast', '-w', '-t', '60', 'restart')],
        tmp => "$self->{dir}/run", timeout => 90);
    die "pg_ctl restart failed ($rc):\n$out$err" if $rc;
    $self->{pg_running} = 1;
    return $self;
}

sub pg_port { $_[0]{pgport} }
sub pg_log_text { slurp($_[0]{pglog}) }

sub superuser_conninfo {
    my ($self, $db) = @_;
    return "host=127.0.0.1 port=$self->{pgport} dbname=" . ($db || 'bbtoken')
        . " user=postgres connect_timeout=5";
}

# psql as superuser: (rc, stdout, stderr).  Unaligned, tuples only.
sub psql_try {
    my ($self, $sql, %o) = @_;
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

sub _load_schema {
    my ($self) = @_;
    $self->psql('CREATE DATABASE bbtoken', db => 'postgres');
    $self->psql(undef, file => $_) for @{ $self->{schema_files} };
    $self->psql('CREATE ROLE bbtoken_httpd LOGIN');
    $self->grants_apply if $self->{grants};
}

sub grants_apply {
    my ($self) = @_;
    $self->psql(undef, file => "$ROOT/sql/grants.sql", vars => ['role=bbtoken_httpd']);
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

# Insert a token row straight into the database, hashing it as the CLI does
# (HMAC-SHA-256 keyed with the salt's bytes over the raw 33 bytes), as the
# previous release's CLI or a hand-made row would.  Options: name, project,
# repo, created (SQL expression), expires (SQL expression or undef), revoked
# (SQL expression or undef; given, the row skips the triggers).  Returns
# (token, id).
sub token_insert {
    my ($self, $user, %o) = @_;
    my $id = sprintf('%012d', int(rand(1e12)));
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
    my $audited = $replica
        && $self->psql("SELECT to_regproc('bbtoken_audit_write') IS NOT NULL") eq 't';
    $self->psql($replica . "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, "
                . "secret_hash, created_at, expires_at, revoked_at) SELECT '$id', id, '$name', '"
                . ($o{project} || 'PROJECT_ADMIN') . "', '" . ($o{repo} || 'REPO_ADMIN')
                . "', '$salt', '$hash', $created, $expires, $revoked FROM bbtoken_users "
                . "WHERE lower(name) = lower('$user')"
                . ($audited ? "; SELECT bbtoken_audit_write('created', '$id', u.name, "
                              . "'restored row', 'sql') FROM bbtoken_users u "
                              . "WHERE lower(u.name) = lower('$user')" : ''));
    return wantarray ? ($tok, $id) : $tok;
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

# ---------------------------------------------------------------------------
# CLI

sub cli_path { "$ROOT/build/out/bbtoken" }

# bbtoken --db <superuser conninfo> @args: (exit code, stdout, stderr)
sub cli {
    my ($self, @args) = @_;
    return $self->cli_raw('--db', $self->superuser_conninfo, @args);
}

# bbtoken @args with no --db added; %env via cli_env.
sub cli_raw {
    my ($self, @args) = @_;
    return run_cmd(cmd => [$self->cli_path, @args], tmp => "$self->{dir}/run", timeout => 60,
                   env => $self->{cli_env} || {});
}

sub cli_env {
    my ($self, $env, @args) = @_;
    local $self->{cli_env} = $env;
    return $self->cli_raw(@args);
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

# ---------------------------------------------------------------------------
# httpd

sub port { $_[0]{port} }
sub base_url { "http://127.0.0.1:$_[0]{port}" }
sub url { $_[0]->base_url . $_[1] }
sub error_log_path { "$_[0]{dir}/logs/error_log" }
sub access_log_path { "$_[0]{dir}/logs/access_log" }
sub error_log_text { slurp($_[0]->error_log_path) }
sub access_log_text { slurp($_[0]->access_log_path) }
sub repo_root { "$_[0]{dir}/repos" }

sub module_path { $ENV{BBT_MODULE_SO} || "$ROOT/build/out/mod_bbtoken.so" }

sub _write_cgi {
    my ($self) = @_;
    my $cgi = "$self->{dir}/cgi-bin/env.cgi";
    spew($cgi, <<'EOS', 0755);
#!/bin/sh
# Shows the test what the CGI was given.  "NAME unset" when absent.
# A path with /slow in it takes 4 seconds (a stand-in for a long clone).
case "$PATH_INFO" in */slow*) sleep 4 ;; esac
# A path with /redirect-to-push/ in it answers with a local Location, which
# httpd follows as an internal redirect to the push advertisement of
# PROJ/repo (tests that a route is checked for every URI, not once).
case "$PATH_INFO" in
    */redirect-to-push*)
        printf 'Location: /env/PROJ/repo.git/info/refs?service=git-receive-pack\r\n\r\n'; exit 0 ;;
    */redirect-to-config*)
        printf 'Location: /env/PROJ/repo.git/config\r\n\r\n'; exit 0 ;;
esac
printf 'Content-Type: text/plain\r\n\r\n'
for v in BBTOKEN_ID BBTOKEN_NAME REMOTE_USER AUTH_TYPE HTTP_AUTHORIZATION \
         PATH_INFO QUERY_STRING REQUEST_METHOD BBTOKEN_ROUTE \
         BBTOKEN_PERMISSION BBTOKEN_TARGET; do
    eval "isset=\${$v+x}"
    if [ -n "$isset" ]; then
        eval "val=\$$v"
        printf '%s=%s\n' "$v" "$val"
    else
        printf '%s unset\n' "$v"
    fi
done
EOS
}

sub _conf_text {
    my ($self) = @_;
    my $d = $self->{dir};
    my $port = $self->{port};
    my $pgport = $self->{pgport};
    my $m = $MODDIR;
    my $user = $IS_ROOT ? "User $RUN_USER\nGroup $RUN_USER\n" : '';
    my ($auth_scm, $auth_env, $loadmod) = ('', '', '');
    my $loglevel = $self->{loglevel};
    $loglevel =~ s/\s*\bbbtoken:\S+//g unless $self->{module};
    if ($self->{module}) {
        my $so = $self->module_path;
        die "$so not built (make -f apxs.mk), or run with BBT_NO_MODULE=1\n" unless -f $so;
        $loadmod = "LoadModule bbtoken_module $so\n";
        $auth_scm = <<"EOS";
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git
    Require bbtoken
EOS
        $auth_env = <<"EOS";
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /env
    Require bbtoken
EOS
    }
    (my $extra = $self->{extra_conf}) =~ s/\@DIR\@/$d/g;
    my $mpm = $self->{mpm_conf} // <<'EOM';
StartServers 2
ServerLimit 2
ThreadLimit 8
ThreadsPerChild 8
MinSpareThreads 4
MaxSpareThreads 16
MaxRequestWorkers 16
EOM
    # Debian builds some of these in (log_config): load only what is missing.
    my $loadmods = '';
    for my $mod (qw(mpm_event authz_core authn_core alias env cgid dbd log_config),
                 @{ $self->{modules} }) {
        $loadmods .= "<IfModule !${mod}_module>\n    LoadModule ${mod}_module $m/mod_$mod.so\n</IfModule>\n";
    }
    return <<"EOS";
# Generated by t/lib/BBT/Env.pm -- standalone, no /etc/apache2 includes.
ServerRoot "$d"
DefaultRuntimeDir "$d/run"
PidFile "$d/run/httpd.pid"
Listen 127.0.0.1:$port
ServerName 127.0.0.1:$port
${user}
${loadmods}${loadmod}
$mpm
Timeout 30

ErrorLog "$d/logs/error_log"
LogLevel $loglevel
LogFormat "%h %u \\"%r\\" %>s %{BBTOKEN_ID}e" bbt
CustomLog "$d/logs/access_log" bbt
ScriptSock "$d/run/cgid.sock"

DBDriver pgsql
DBDParams "host=127.0.0.1 port=$pgport dbname=bbtoken user=bbtoken_httpd connect_timeout=2 options=-cstatement_timeout=5000"

SetEnv GIT_PROJECT_ROOT $d/repos
SetEnv GIT_HTTP_EXPORT_ALL
ScriptAlias /scm/ $GIT_BACKEND/
<Location /scm>
$auth_scm</Location>

# /env/KEY/slug.git/...: the same route set over a CGI that prints what it
# was given.  ScriptAlias onto a file: the rest of the URL is PATH_INFO.
# CGIPassAuth On would hand the Authorization header to the CGI, so only the
# module removing it keeps it away.
ScriptAlias /env/ "$d/cgi-bin/env.cgi/"
<Location /env>
    CGIPassAuth On
$auth_env</Location>

# Control: the same CGI with no authentication; shows that an Authorization
# header does reach the CGI when nobody removes it.
ScriptAlias /open-env/ "$d/cgi-bin/env.cgi/"
<Location /open-env>
    CGIPassAuth On
</Location>

$extra
EOS
}

sub _write_conf {
    my ($self) = @_;
    $self->{conf} = "$self->{dir}/httpd.conf";
    spew($self->{conf}, $self->_conf_text, 0644);
}

# Write httpd.conf and the CGI without starting httpd (for a test that runs
# httpd its own way, e.g. under valgrind); returns the config's path.
sub write_conf {
    my ($self) = @_;
    $self->{port} ||= free_port();
    $self->_write_cgi;
    $self->_write_conf;
    return $self->{conf};
}

sub httpd_start {
    my ($self) = @_;
    $self->{port} ||= free_port();
    $self->_write_conf;
    my ($rc, $out, $err) = run_cmd(cmd => [$APACHE, '-f', $self->{conf}, '-k', 'start'],
                                   tmp => "$self->{dir}/run", timeout => 60);
    if ($rc) {
        die "httpd failed to start ($rc):\n$out$err\n--- error_log ---\n" . $self->error_log_text;
    }
    my $deadline = time + 20;
    my $pidf = "$self->{dir}/run/httpd.pid";
    while (time < $deadline) {
        if (-s $pidf && port_open($self->{port})) {
            my $pid = slurp($pidf);
            chomp $pid;
            $self->{httpd_pid} = $pid if $pid =~ /^\d+$/;
            return $self if $self->{httpd_pid};
        }
        sleep 0.1;
    }
    die "httpd did not come up on port $self->{port}\n--- error_log ---\n" . $self->error_log_text;
}

sub httpd_stop {
    my ($self) = @_;
    my $pid = $self->{httpd_pid} or return $self;
    run_cmd(cmd => [$APACHE, '-f', $self->{conf}, '-k', 'stop'], tmp => "$self->{dir}/run",
            timeout => 30);
    my $deadline = time + 15;
    while (time < $deadline) {
        last unless kill(0, $pid) || $! != ESRCH;
        sleep 0.1;
    }
    if (kill 0, $pid) {
        warn "# httpd pid $pid still alive, killing it\n";
        kill 'KILL', $pid;
        sleep 0.5;
    }
    delete $self->{httpd_pid};
    # The listening port is free again when connections are refused.
    $deadline = time + 10;
    sleep 0.1 while time < $deadline && port_open($self->{port});
    return $self;
}

# `apache2 -t` on the configuration this environment would write with
# extra_conf replaced: (exit code, output).  httpd need not be running.
sub config_test {
    my ($self, $extra) = @_;
    local $self->{extra_conf} = $extra;
    local $self->{port} = $self->{port} || free_port();
    my $conf = "$self->{dir}/httpd-test.conf";
    spew($conf, $self->_conf_text, 0644);
    my ($rc, $out, $err) = run_cmd(cmd => [$APACHE, '-t', '-f', $conf],
                                   tmp => "$self->{dir}/run", timeout => 60);
    return ($rc, $out . $err);
}

# curl as a WebDAV client: (status, body).  %o: method, auth (an
# Authorization value), headers => [...], data (a string, sent as the body),
# depth.
sub curl {
    my ($self, $path, %o) = @_;
    my $body = "$self->{dir}/run/curl.$$." . int(rand(1e9));
    my $m = $o{method} || 'GET';
    my @cmd = ('curl', '-s', '-g', '--path-as-is', '-o', $body, '-w', '%{http_code}',
               $m eq 'HEAD' ? ('-I') : ('-X', $m));
    push @cmd, '-H', "Authorization: $o{auth}" if defined $o{auth};
    push @cmd, '-H', "Depth: $o{depth}" if defined $o{depth};
    push @cmd, map { ('-H', $_) } @{ $o{headers} || [] };
    if (defined $o{data}) {
        my $in = "$body.in";
        spew($in, $o{data});
        push @cmd, '--data-binary', "\@$in";
    }
    push @cmd, $self->url($path);
    my ($rc, $out, $err) = run_cmd(cmd => \@cmd, tmp => "$self->{dir}/run", timeout => 30,
                                   env => { http_proxy => undef, HTTP_PROXY => undef });
    my $content = slurp($body);
    unlink $body, "$body.in";
    return ($rc == 0 ? $out + 0 : 0, $content);
}

# Rewrite the configuration with new options and start httpd again.
sub httpd_restart {
    my ($self, %o) = @_;
    $self->{$_} = $o{$_} for keys %o;
    $self->httpd_stop;
    return $self->httpd_start;
}

# ---------------------------------------------------------------------------
# HTTP

sub http {
    my ($self) = @_;
    return $self->{ua} ||= HTTP::Tiny->new(timeout => 20, max_redirect => 0,
                                           agent => 'bbt-test/1');
}

sub basic { my ($s, $u, $t) = @_; return 'Basic ' . b64("$u:$t") }
sub bearer { my ($s, $t) = @_; return "Bearer $t" }

# request(METHOD, PATH, {headers}, content) -> HTTP::Tiny response hash
sub request {
    my ($self, $method, $path, $hdrs, $content) = @_;
    my %o = (headers => $hdrs || {});
    $o{content} = $content if defined $content;
    return $self->http->request($method, $self->url($path), \%o);
}

sub get { my ($s, $p, $h) = @_; return $s->request('GET', $p, $h) }

# Header values as a list (HTTP::Tiny folds repeats into an array ref).
sub header_list {
    my ($res, $name) = @_;
    my $v = $res->{headers}{ lc $name };
    return () unless defined $v;
    return ref $v ? @$v : ($v);
}

# Send bytes as they are; returns {status, headers => {lc name => [values]},
# body, raw}.  Connection: close is the caller's to include.
sub raw_request {
    my ($self, $bytes) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                  Proto => 'tcp', Timeout => 10)
        or return { status => 0, error => "connect: $!", raw => '' };
    $s->autoflush(1);
    print $s $bytes;
    my $raw = '';
    my $deadline = time + 15;
    $s->blocking(1);
    while (time < $deadline) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $raw .= $buf;
    }
    close $s;
    my %r = (raw => $raw, status => 0, headers => {});
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    $r{body} = $body;
    return \%r unless defined $head && $head =~ m{^HTTP/1\.[01] (\d{3})};
    $r{status} = $1;
    for my $line (split /\r\n/, $head) {
        next unless $line =~ /^([^:\s]+):\s*(.*)$/;
        push @{ $r{headers}{ lc $1 } }, $2;
    }
    return \%r;
}

# A GET with arbitrary header lines (each "Name: value", no CRLF).
sub raw_get {
    my ($self, $path, @lines) = @_;
    my $req = "GET $path HTTP/1.1\r\nHost: 127.0.0.1:$self->{port}\r\n"
        . join('', map {"$_\r\n"} @lines) . "Connection: close\r\n\r\n";
    return $self->raw_request($req);
}

# The CGI's view: GET /env/<path> with headers; returns (status, {var => value
# or undef if unset}, response).
sub env_cgi {
    my ($self, $path, $hdrs) = @_;
    my $res = $self->get("/env/$path", $hdrs);
    my %v;
    if ($res->{status} == 200) {
        for my $l (split /\n/, $res->{content}) {
            if ($l =~ /^([A-Z_]+)=(.*)$/) { $v{$1} = $2 }
            elsif ($l =~ /^([A-Z_]+) unset$/) { $v{$1} = undef }
        }
    }
    return ($res->{status}, \%v, $res);
}

# Error-log lines of crashed children.
sub crash_lines {
    my ($self) = @_;
    return grep { /exit signal|Segmentation|Aborted|stack smashing|double free/i }
        split /\n/, $self->error_log_text;
}

# ---------------------------------------------------------------------------
# git

sub _write_home {
    my ($self) = @_;
    my $h = "$self->{dir}/home";
    spew("$h/.gitconfig", <<'EOS', 0644);
[user]
	name = BBT Test
	email = bbt@example.invalid
[init]
	defaultBranch = main
[safe]
	directory = *
[advice]
	detachedHead = false
[protocol]
	version = 2
EOS
}

sub git_env {
    my ($self) = @_;
    return {
        HOME                => "$self->{dir}/home",
        XDG_CONFIG_HOME     => "$self->{dir}/home/.config",
        GIT_CONFIG_NOSYSTEM => 1,
        GIT_TERMINAL_PROMPT => 0,
        GIT_ASKPASS         => undef,
        SSH_ASKPASS         => undef,
        GIT_CONFIG_GLOBAL   => undef,
        GIT_DIR             => undef,
        GIT_WORK_TREE       => undef,
        http_proxy          => undef, https_proxy => undef, HTTP_PROXY => undef,
        no_proxy            => '127.0.0.1,localhost',
        LC_ALL              => 'C',
        GIT_TRACE           => undef, GIT_TRACE_CURL => undef, GIT_CURL_VERBOSE => undef,
    };
}

# git @args: (rc, stdout, stderr).  With {cwd => dir} as first arg, runs there.
sub git {
    my ($self, @args) = @_;
    my %o = ref $args[0] eq 'HASH' ? %{ shift @args } : ();
    return run_cmd(cmd => ['git', @args], env => $self->git_env, tmp => "$self->{dir}/run",
                   timeout => $o{timeout} || 60, cwd => $o{cwd});
}

sub git_ok {
    my ($self, @args) = @_;
    my ($rc, $out, $err) = $self->git(@args);
    confess "git @args failed ($rc): $err" if $rc;
    chomp $out;
    return $out;
}

# A fresh directory under work/ for a clone.
sub workdir {
    my ($self, $name) = @_;
    $self->{git_n}++;
    return "$self->{dir}/work/" . ($name || 'w') . ".$self->{git_n}";
}

# Create repos/KEY/slug.git (bare) with one commit on main, owned by the
# httpd user so pushes work.  Returns the path.
sub make_repo {
    my ($self, $key, $slug) = @_;
    my $bare = "$self->{dir}/repos/$key/$slug.git";
    make_path("$self->{dir}/repos/$key");
    chmod 0755, "$self->{dir}/repos/$key";
    my $scratch = "$self->{dir}/scratch/$key-$slug";
    $self->git_ok('init', '-q', '--bare', '-b', 'main', $bare);
    $self->git_ok('init', '-q', '-b', 'main', $scratch);
    spew("$scratch/README", "repository $key/$slug\n");
    $self->git_ok({ cwd => $scratch }, 'add', 'README');
    $self->git_ok({ cwd => $scratch }, 'commit', '-q', '-m', "initial commit of $key/$slug");
    $self->git_ok({ cwd => $scratch }, 'push', '-q', $bare, 'main');
    remove_tree($scratch);
    if ($IS_ROOT) {
        my ($uid, $gid) = (getpwnam($RUN_USER))[2, 3];
        run_cmd(cmd => ['chown', '-R', "$uid:$gid", $bare], tmp => "$self->{dir}/run");
    }
    return $bare;
}

# Head commit of a branch in a bare repo (read straight from disk).
sub repo_head {
    my ($self, $key, $slug, $branch) = @_;
    my ($rc, $out) = $self->git('--git-dir', "$self->{dir}/repos/$key/$slug.git", 'rev-parse',
                                '--verify', '-q', "refs/heads/" . ($branch || 'main'));
    chomp $out;
    return $rc ? undef : $out;
}

# http://USER:TOKEN@host:port/scm/KEY/slug.git, the token percent-encoded.
sub clone_url {
    my ($self, $user, $token, $key, $slug, $prefix) = @_;
    my $auth = defined $user ? pct($user) . ':' . pct($token) . '@' : '';
    return "http://${auth}127.0.0.1:$self->{port}/" . ($prefix || 'scm') . "/$key/$slug.git";
}

# Make a commit in a work tree; returns its id.
sub commit_file {
    my ($self, $wt, $file, $content) = @_;
    spew("$wt/$file", $content);
    $self->git_ok({ cwd => $wt }, 'add', $file);
    $self->git_ok({ cwd => $wt }, 'commit', '-q', '-m', "change $file");
    return $self->git_ok({ cwd => $wt }, 'rev-parse', 'HEAD');
}

1;
