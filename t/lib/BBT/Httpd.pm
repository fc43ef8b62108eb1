package BBT::Httpd;

# The httpd part of BBT::Env: a standalone httpd (event MPM, or another) on loopback
# with the module, git-http-backend and a CGI stand-in behind it; its
# configuration, start, stop and `apache2 -t`; the files it reads (a
# password file) and its logs.
#
# Methods of the environment's object (BBT::Env inherits them).  They read
# its dir, module, loglevel, extra_conf, mpm, mpm_conf, modules and the
# PostgreSQL part's pgport, and keep their own state in port, conf,
# httpd_pid and passwords.

use strict;
use warnings;
use Time::HiRes qw(sleep time);
use File::Copy qw(copy);
use File::Path qw(make_path);
use BBT::Util qw(run_cmd free_port port_open slurp spew exited);

our $APACHE = $ENV{BBT_APACHE} || '/usr/sbin/apache2';
our $MODDIR = $ENV{BBT_MODDIR} || '/usr/lib/apache2/modules';
our $GIT_BACKEND = '/usr/lib/git-core/git-http-backend';
our $RUN_USER = 'www-data';
# What a test adds (extra_conf) to have the module guard a repository's
# files that httpd serves itself (/dumb, the git routes): a request that
# costs little besides the module's work, where git-http-backend's answer
# is not what is tested and a CGI per request would be most of the time.
our $DUMB_CONF = <<'EOC';
Alias /dumb/ "@DIR@/repos/"
<Directory "@DIR@/repos">
    Require all granted
</Directory>
<Location /dumb>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /dumb
    Require bbtoken
</Location>
EOC

sub port { $_[0]{port} }
sub base_url { "http://127.0.0.1:$_[0]{port}" }
sub url { $_[0]->base_url . $_[1] }
# The virtual host of api_conf (the REST API's and the page's host name, as
# the README configures it), on a port of its own.
sub api_port { $_[0]{api_port} }
sub api_base_url { "http://127.0.0.1:$_[0]{api_port}" }
sub api_url { $_[0]->api_base_url . $_[1] }
# The MPM httpd runs with: the mpm option, else BBT_MPM, else event.
sub mpm {
    my ($self) = @_;
    my $m = $self->{mpm} || $ENV{BBT_MPM} || 'event';
    die "unknown MPM '$m' (event, worker or prefork)\n" unless $m =~ /^(?:event|worker|prefork)\z/;
    return $m;
}
sub error_log_path { "$_[0]{dir}/logs/error_log" }
sub access_log_path { "$_[0]{dir}/logs/access_log" }
sub error_log_text { slurp($_[0]->error_log_path) }
sub access_log_text { slurp($_[0]->access_log_path) }
sub repo_root { "$_[0]{dir}/repos" }

# BBT_SANITIZE=1: the module of `make -f apxs.mk asan` (ASan and UBSan),
# and httpd, which is not instrumented, with ASan's runtime preloaded (it
# must come first).  Reports go to BBT_SANITIZER_LOG (a path prefix: files
# PREFIX.PID), else logs/sanitizer in the test's directory.  Leak detection
# is off for httpd: it lets its pools go at exit by design.
sub module_path {
    return $ENV{BBT_MODULE_SO} if $ENV{BBT_MODULE_SO};
    return "$BBT::Util::ROOT/build/" . ($ENV{BBT_SANITIZE} ? 'asan/out' : 'out') . '/mod_bbtoken.so';
}

my $LIBASAN;
sub httpd_env {
    my ($self) = @_;
    return { %{ $self->{httpd_vars} || {} } } unless $ENV{BBT_SANITIZE};
    $LIBASAN //= do { my $p = `gcc -print-file-name=libasan.so`; chomp $p; $p };
    my $log = $ENV{BBT_SANITIZER_LOG} || "$self->{dir}/logs/sanitizer";
    return { %{ $self->{httpd_vars} || {} }, LD_PRELOAD => $LIBASAN,
             ASAN_OPTIONS => "detect_leaks=0:halt_on_error=1:log_path=$log",
             UBSAN_OPTIONS => "halt_on_error=1:print_stacktrace=1:log_path=$log" };
}

# Error-log lines of crashed children.
sub crash_lines {
    my ($self) = @_;
    return grep { /exit signal|Segmentation|Aborted|stack smashing|double free/i }
        split /\n/, $self->error_log_text;
}

# Hand files and directories (recursively) to httpd's user, as root; as
# anyone else they are httpd's already.
sub give_to_httpd {
    my ($self, @paths) = @_;
    return unless $BBT::Util::IS_ROOT;
    run_cmd(cmd => ['chown', '-R', "$RUN_USER:$RUN_USER", @paths], tmp => "$self->{dir}/run");
}

# The tokens page's files as they are shipped (every file in www/, as make
# install and the package take them all) in dir/www, where httpd's User can
# read them (a checkout may sit where it cannot): what shipped_conf('page')
# serves.
sub install_page {
    my ($self) = @_;
    my $www = "$self->{dir}/www";
    make_path($www);
    chmod 0755, $www;
    for my $f (map { s{.*/}{}r } glob "$BBT::Util::ROOT/www/*") {
        copy("$BBT::Util::ROOT/www/$f", "$www/$f") or die "copy www/$f: $!\n";
        chmod 0644, "$www/$f";
    }
    return $www;
}

# Add users to dir/htpasswd (made on first use), the file a test's
# AuthUserFile "@DIR@/htpasswd" names: htpasswd(NAME => PASSWORD, ...),
# bcrypt, readable by httpd.  The passwords are kept for rest(as => NAME).
# Returns the file's path.
sub htpasswd {
    my ($self, @pairs) = @_;
    my $file = "$self->{dir}/htpasswd";
    while (my ($user, $pw) = splice @pairs, 0, 2) {
        my ($rc, $out, $err) = run_cmd(cmd => ['htpasswd', '-b', (-e $file ? () : '-c'), '-B', $file,
                                               $user, $pw],
                                       tmp => "$self->{dir}/run", timeout => 60);
        if ($rc) {
            require Test::More;
            Test::More::BAIL_OUT("htpasswd failed ($rc): $err");
        }
        $self->{passwords}{$user} = $pw;
    }
    chmod 0644, $file;
    return $file;
}

# Build t/keeper/mod_bbt_keeper.c, the test-only authn provider, into dir
# (the "@DIR@/mod_bbt_keeper.so" a test's LoadModule names), before
# write_conf.
sub build_keeper {
    my ($self) = @_;
    require File::Basename;
    my $src = File::Basename::dirname(__FILE__) . '/../../keeper/mod_bbt_keeper.c';
    chomp(my $apr_config = `apxs -q APR_CONFIG`);
    chomp(my $incdir = `apxs -q INCLUDEDIR`);
    my @inc = ("-I$incdir", split ' ', `$apr_config --includes --cppflags`);
    my ($rc, $out, $err) = run_cmd(
        cmd => ['cc', '-shared', '-fPIC', '-O2', '-Wall', @inc, '-o',
                "$self->{dir}/mod_bbt_keeper.so", $src],
        tmp => "$self->{dir}/run", timeout => 120);
    if ($rc) {
        require Test::More;
        Test::More::BAIL_OUT("cc mod_bbt_keeper.c failed ($rc): $out$err");
    }
}

sub write_cgi {
    my ($self) = @_;
    my $cgi = "$self->{dir}/cgi-bin/env.cgi";
    spew($cgi, <<'EOS', 0755);
#!/bin/sh
# Shows the test what the CGI was given.  "NAME unset" when absent.
# A path with /slow in it is held (a stand-in for a long clone): it says it
# has begun in ../gate/started.PID, then waits until the test makes
# ../gate/open (a minute at most, so nothing waits for ever).
case "$PATH_INFO" in
    */slow*)
        g="$(dirname "$0")/../gate"
        : > "$g/started.$$"
        n=0
        while [ ! -e "$g/open" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done ;;
esac
# A body is read, unused: a CGI that leaves it unread has its answer cut
# off by the connection reset its exit causes.
[ -n "${CONTENT_LENGTH:-}" ] && head -c "$CONTENT_LENGTH" > /dev/null
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
         BBTOKEN_PERMISSION BBTOKEN_TARGET BBTOKEN_TOKEN_PERMISSIONS \
         REDIRECT_BBTOKEN_TOKEN_PERMISSIONS; do
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

# A path as httpd's configuration names it: in double quotes, so that a
# space in it (a checkout in "/home/me/my work") is not an argument's end.
# Inside the quotes httpd reads a backslash as an escape, and the file's
# lines end at a line break: a path holding either, or a double quote,
# cannot be written at all, and is refused in words.
sub conf_path {
    my ($p) = @_;
    die "$p: httpd's configuration cannot name a path holding a double quote, a backslash or a control"
        . " character (a line break): use one without\n" if $p =~ /["\\[:cntrl:]]/;
    return qq{"$p"};
}

sub _conf_text {
    my ($self) = @_;
    my $d = $self->{dir};
    conf_path($d);    # every path of the environment's is under it, quoted below
    my $port = $self->{port};
    my $pgport = $self->{pgport};
    my $m = $MODDIR;
    my $user = $BBT::Util::IS_ROOT ? "User $RUN_USER\nGroup $RUN_USER\n" : '';
    my ($auth_scm, $auth_env, $loadmod) = ('', '', '');
    my $loglevel = $self->{loglevel};
    $loglevel =~ s/\s*\bbbtoken:\S+//g unless $self->{module};
    if ($self->{module}) {
        my $so = $self->module_path;
        die "$so not built (make -f apxs.mk), or run with BBT_NO_MODULE=1\n" unless -f $so;
        $loadmod = "LoadModule bbtoken_module " . conf_path($so) . "\n";
        # Tests refuse credentials by the dozen from one address; the
        # throttle's own tests turn it on.
        $loadmod .= ($self->{throttle} // "BBTokenThrottle off") . "\n";
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
    my $dbd_user = $self->{dbd_user} || 'bbtoken_httpd';
    my $dbd_options = $self->{dbd_options} // '-cstatement_timeout=5000';
    $dbd_options = " options=$dbd_options" if length $dbd_options;
    my $dbd_pw = $self->{db_role_pw} ? " password=$self->{db_role_pw}" : '';
    my @dbd_ports = @{ $self->{dbd_ports} || [$pgport] };
    my $dbd_hosts = join ',', ('127.0.0.1') x @dbd_ports;
    my $dbd_port = join ',', @dbd_ports;
    my $dbd_more = $self->{dbd_conninfo} ? " $self->{dbd_conninfo}" : '';
    if (defined $self->{api_conf}) {
        (my $api = $self->{api_conf}) =~ s/\@DIR\@/$d/g;
        $self->{api_port} ||= free_port();
        $extra .= <<"EOV";

# The access-tokens API's host: its own virtual host, its own role.
Listen 127.0.0.1:$self->{api_port}
<VirtualHost 127.0.0.1:$self->{api_port}>
    ServerName 127.0.0.1:$self->{api_port}
    DBDParams "host=127.0.0.1 port=$pgport dbname=bbtoken user=bbtoken_api$dbd_pw connect_timeout=2 options=-cstatement_timeout=5000"
$api
</VirtualHost>
EOV
    }
    my $mpm_name = $self->mpm;
    my $mpm = $self->{mpm_conf} // ($mpm_name eq 'prefork' ? <<'EOP' : <<'EOM');
StartServers 4
MinSpareServers 2
MaxSpareServers 8
ServerLimit 16
MaxRequestWorkers 16
EOP
StartServers 2
ServerLimit 2
ThreadLimit 8
ThreadsPerChild 8
MinSpareThreads 4
MaxSpareThreads 16
MaxRequestWorkers 16
EOM
    # Debian builds some of these in (log_config): load only what is missing.
    # socache_shmcb holds the module's cache.
    my $loadmods = '';
    for my $mod ("mpm_$mpm_name", qw(authz_core authn_core alias env cgid dbd log_config socache_shmcb),
                 @{ $self->{modules} }) {
        $loadmods .= "<IfModule !${mod}_module>\n    LoadModule ${mod}_module " . conf_path("$m/mod_$mod.so")
            . "\n</IfModule>\n";
    }
    return <<"EOS";
# Generated by t/lib/BBT/Httpd.pm -- standalone, no /etc/apache2 includes.
ServerRoot "$d"
DefaultRuntimeDir "$d/run"
PidFile "$d/run/httpd.pid"
Listen 127.0.0.1:$port
ServerName 127.0.0.1:$port
${user}
${loadmods}${loadmod}
$mpm
Timeout 30
# For httpd_stop(graceful => 1): a graceful stop ends within this.
GracefulShutdownTimeout 10

ErrorLog "$d/logs/error_log"
LogLevel $loglevel
LogFormat "%h %u \\"%r\\" %>s %{BBTOKEN_ID}e" bbt
CustomLog "$d/logs/access_log" bbt
ScriptSock "$d/run/cgid.sock"

DBDriver pgsql
DBDParams "host=$dbd_hosts port=$dbd_port dbname=bbtoken user=$dbd_user$dbd_pw connect_timeout=2$dbd_options$dbd_more"

SetEnv GIT_PROJECT_ROOT "$d/repos"
SetEnv GIT_HTTP_EXPORT_ALL
ScriptAlias /scm/ "$GIT_BACKEND/"
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
    # With the database's password in it, root's alone (httpd reads it as
    # root).
    my $mode = $self->{db_role_pw} ? 0600 : 0644;
    my $old = umask($self->{db_role_pw} ? 077 : umask);
    spew($self->{conf}, $self->_conf_text, $mode);
    umask $old;
}

# Write httpd.conf and the CGI without starting httpd (for a test that runs
# httpd its own way, e.g. under valgrind); returns the config's path.
sub write_conf {
    my ($self) = @_;
    $self->{port} ||= free_port();
    $self->write_cgi;
    $self->_write_conf;
    return $self->{conf};
}

sub httpd_start {
    my ($self) = @_;
    $self->{port} ||= free_port();
    $self->_write_conf;
    my ($rc, $out, $err) = run_cmd(cmd => [$APACHE, '-f', $self->{conf}, '-k', 'start'],
                                   tmp => "$self->{dir}/run", timeout => 60, env => $self->httpd_env);
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
        sleep 0.01;
    }
    die "httpd did not come up on port $self->{port}\n--- error_log ---\n" . $self->error_log_text;
}

sub httpd_stop {
    my ($self, %o) = @_;
    my $pid = $self->{httpd_pid} or return $self;
    # What apache2 -k stop (or graceful-stop) does, without an httpd of its
    # own to read the configuration and load the modules first.  An
    # ungraceful stop of the event MPM can crash a child in httpd's own
    # code (its main thread closing a worker's socket in
    # close_worker_sockets just as the worker frees that connection), now
    # and then: a test that counts crashed children after its stop, and is
    # not about the ungraceful stop, stops gracefully.  Then the client's
    # kept connection goes first: a graceful stop would otherwise linger
    # on it for two seconds.
    delete $self->{ua} if $o{graceful};
    kill $o{graceful} ? 'WINCH' : 'TERM', $pid;
    my $deadline = time + ($o{graceful} ? 25 : 15);
    while (time < $deadline) {
        last if exited($pid);
        sleep 0.01;
    }
    if (!exited($pid)) {
        warn "# httpd pid $pid still alive, killing it\n";
        kill 'KILL', $pid;
        sleep 0.5;
    }
    delete $self->{httpd_pid};
    # The listening port is free again when connections are refused.
    $deadline = time + 10;
    sleep 0.01 while time < $deadline && port_open($self->{port});
    return $self;
}

# The process httpd's PidFile names now, and when it started: "PID START"
# (START is /proc/PID/stat's 22nd field, clock ticks after boot), or why
# there is none.  What the harness remembers (httpd_pid) cannot tell that
# httpd was stopped and started again; the PidFile can, and the start time
# tells apart a new process given the old one's pid.
sub httpd_main_process {
    my ($self) = @_;
    my $pidf = "$self->{dir}/run/httpd.pid";
    my $pid = slurp($pidf);
    chomp $pid;
    return "no pid in $pidf" unless $pid =~ /^\d+\z/;
    # After the command's name, which may hold spaces and parentheses.
    my ($rest) = slurp("/proc/$pid/stat") =~ /^\d+ \(.*\) (.*)\z/s;
    return "pid $pid: no such process" unless defined $rest;
    my @f = split ' ', $rest;
    return "pid $pid: exited (state $f[0])" if $f[0] eq 'Z' || $f[0] eq 'X';
    return "$pid $f[19]";
}

# Rewrite the configuration with new options and start httpd again;
# graceful => 1 stops it as httpd_stop(graceful => 1) does.
sub httpd_restart {
    my ($self, %o) = @_;
    my $graceful = delete $o{graceful};
    $self->{$_} = $o{$_} for keys %o;
    $self->httpd_stop(graceful => $graceful);
    return $self->httpd_start;
}

# /proc/PID/stat's fields after the command's name (which may hold spaces
# and parentheses): state, ppid, ... ([19] the start, in clock ticks after
# boot, which tells a process apart from a later one given its pid); ()
# when there is no such process.
sub _proc_stat {
    my ($pid) = @_;
    my ($rest) = slurp("/proc/$pid/stat") =~ /^\d+ \(.*\) (.*)\z/s;
    return defined $rest ? split(' ', $rest) : ();
}

# `apache2 -k graceful`, then wait (60 s at most) for the new generation to
# say it started (BBT404) and for the old one's children to be gone: '' once
# they are, else what went wrong.  An old child finishes what it serves and
# may answer a request sent meanwhile: on the connection the client keeps
# alive to it, or as the only child there is (ServerLimit 1) until it
# exits.  A request sent at BBT404 may still be the old generation's.
sub httpd_graceful {
    my ($self) = @_;
    my $started = () = $self->error_log_text =~ /BBT404: /g;
    # httpd's children (mod_cgid's daemon among them), "PID START" each.
    my @old = map { my $pid = m{/(\d+)/stat\z} ? $1 : 0; my @f = _proc_stat($pid);
                    @f && $f[1] == $self->{httpd_pid} ? "$pid $f[19]" : () } glob '/proc/[0-9]*/stat';
    my ($rc, $out, $err) = run_cmd(cmd => [$APACHE, '-f', $self->{conf}, '-k', 'graceful'],
                                   tmp => "$self->{dir}/run", timeout => 60, env => $self->httpd_env);
    return "apache2 -k graceful: exit $rc: $out$err" if $rc;
    # The connection kept alive is an old child's.
    delete $self->{ua};
    my $born = sub { my $n = () = $self->error_log_text =~ /BBT404: /g; return $n };
    my $deadline = time + 60;
    sleep 0.1 while $born->() <= $started && time < $deadline;
    return 'the new generation did not start (no BBT404) within 60 s' if $born->() <= $started;
    my $alive = sub {
        grep { my ($pid, $start) = split ' '; !exited($pid) && ((_proc_stat($pid))[19] // '') eq $start } @old;
    };
    sleep 0.05 while $alive->() && time < $deadline;
    my @left = map { (split ' ')[0] } $alive->();
    return "the old generation's children (@left) still run after 60 s" if @left;
    return '';
}

# `apache2 -t` on the configuration this environment would write with
# extra_conf replaced: (exit code, output).  httpd need not be running.
# $edit, if given, gets the configuration's text and returns it changed;
# $prefix, if given, is a command (and its arguments) that runs apache2.
# It is killed after 60 s, or $self->{config_test_timeout}'s seconds (a
# test whose configuration takes seconds of CPU, on a loaded machine).
sub config_test {
    my ($self, $extra, $edit, $prefix) = @_;
    local $self->{extra_conf} = $extra;
    local $self->{port} = $self->{port} || free_port();
    my $conf = "$self->{dir}/httpd-test.conf";
    my $text = $self->_conf_text;
    $text = $edit->($text) if $edit;
    spew($conf, $text, 0644);
    my ($rc, $out, $err) = run_cmd(cmd => [@{ $prefix || [] }, $APACHE, '-t', '-f', $conf],
                                   tmp => "$self->{dir}/run", timeout => $self->{config_test_timeout} || 60,
                                   env => $self->httpd_env);
    return ($rc, $out . $err);
}

# A configuration snippet as the package ships it (conf/bbtoken-NAME.conf.in,
# which the README's sections show), with its paths made local to an
# environment's dir (@DIR@): the password file, the page's files, the git
# and WebDAV trees.  Dies on a path left unmade, so a snippet that gains one
# is never tested half-made.
sub shipped_conf {
    my ($name) = @_;
    my $t = slurp("$BBT::Util::ROOT/conf/bbtoken-$name.conf.in");
    die "no conf/bbtoken-$name.conf.in\n" if $t eq '';
    $t =~ s{\@APACHE_CONFDIR\@/bitbucket\.htpasswd}{"\@DIR\@/htpasswd"}g;
    $t =~ s{\@SHAREDIR\@/www}{"\@DIR\@/www"}g;
    $t =~ s{(?<=\s)/srv/git(?=[\s>])}{"\@DIR\@/repos"}g;
    $t =~ s{(?<=\s)/srv/dav(?=[\s>])}{"\@DIR\@/dav"}g;
    my ($left) = join("\n", grep { !/^\s*#/ } split /\n/, $t) =~ /(\@(?!DIR\@)[A-Z_]+\@)/;
    die "bbtoken-$name.conf: $left is not made local\n" if $left;
    return $t;
}

1;
