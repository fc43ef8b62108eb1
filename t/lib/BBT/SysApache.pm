package BBT::SysApache;

# The system's apache2 on a copy of /etc/apache2 as it is now, for a test
# that has changed the system's configuration the Debian way (t/63): the
# copy listens on a free loopback port, and its runtime files (pid file,
# sockets, locks, logs, a2enmod's state) are under a directory of the
# test's, so the system's own apache2 and its files are left alone.
#
#   my $i = BBT::SysApache->new("$tmp/label");   # the copy, not started
#   my ($rc, $out) = $i->a2('a2enmod -q cgid');   # a2* on the copy
#   my ($up, $log) = $i->start;                   # up: it listens
#   $i->status('/path', $authorization);          # the HTTP status, or 0
#   $i->stop;
#   BBT::SysApache->stop_all;                     # every one started
#
# $i->{conf} is the copy of /etc/apache2, $i->{dir} the directory that
# holds it and log/ (error.log, the access logs), $i->{port} its port.
# Nothing stops one when the object goes: the test's END calls stop_all
# (BBT::DebHarness's at_end) before it purges the package whose module
# they load.

use strict;
use warnings;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);
use BBT::Util qw(free_port port_open slurp spew);

my @started;

# A command's exit code and output (stdout and stderr), through the shell,
# with %env set for it.
sub _run {
    my ($cmd, %env) = @_;
    local @ENV{ keys %env } = values %env;
    my $out = qx{$cmd 2>&1};
    return ($? >> 8, $out);
}

sub new {
    my ($class, $d) = @_;
    mkdir $d or die "$d: $!";
    system('cp', '-a', '/etc/apache2', "$d/apache2") == 0 or die 'cp';
    my $port = free_port();
    spew("$d/apache2/ports.conf", "Listen 127.0.0.1:$port\n");
    # As apache2ctl makes them.
    my ($uid, $gid) = (getpwnam 'www-data')[2, 3];
    for my $sub (qw(run run/socks lock log state)) {
        mkdir "$d/$sub" or die $!;
    }
    chown $uid, $gid, "$d/run/socks", "$d/lock";
    open my $h, '>>', "$d/apache2/envvars" or die $!;
    print $h "export APACHE_PID_FILE=$d/run/apache2.pid APACHE_RUN_DIR=$d/run "
        . "APACHE_LOCK_DIR=$d/lock APACHE_LOG_DIR=$d/log\n";
    close $h;
    return bless { dir => $d, conf => "$d/apache2", port => $port, state => "$d/state" }, $class;
}

# apache2 itself on the copy, as apache2ctl runs it (its envvars first).
sub httpd {
    my ($self, @args) = @_;
    return _run(q{sh -c '. "$0/envvars" && exec /usr/sbin/apache2 -d "$0" "$@"' } . "$self->{conf} @args");
}

# a2enmod, a2enconf and the others, on the copy.
sub a2 {
    my ($self, $cmd) = @_;
    return _run($cmd, APACHE_CONFDIR => $self->{conf}, APACHE_STATE_DIRECTORY => $self->{state});
}

# Whether it listens within 30 seconds, and what it said (with its error
# log).  Remembered for stop_all even when it did not start.
sub start {
    my ($self) = @_;
    my ($rc, $out) = $self->httpd('-k start');
    push @started, $self unless grep { $_ == $self } @started;
    return (0, $out) if $rc;
    my $deadline = time + 30;
    sleep 0.1 until port_open($self->{port}) || time > $deadline;
    return (port_open($self->{port}), $out . slurp("$self->{dir}/log/error.log"));
}

# Waits (up to 30 seconds) for its pid file to go.
sub stop {
    my ($self) = @_;
    my $pidfile = "$self->{dir}/run/apache2.pid";
    return unless -f $pidfile;
    $self->httpd('-k stop');
    my $deadline = time + 30;
    sleep 0.1 while -f $pidfile && time < $deadline;
}

sub stop_all { $_->stop for @started }

# The status of a GET of $path, with an Authorization header if $auth: 0
# when there is no answer.
sub status {
    my ($self, $path, $auth) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Timeout => 10) or return 0;
    print $s "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        . ($auth ? "Authorization: $auth\r\n" : '') . "\r\n";
    my $line = <$s> // '';
    close $s;
    return $line =~ m{^HTTP/1\.\d (\d{3})} ? $1 : 0;
}

1;
