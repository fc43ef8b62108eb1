package BBT::PgBouncer;

# A PgBouncer in front of an environment's PostgreSQL, for httpd's role
# (bbtoken_httpd, trusted), on a loopback port of its own:
#   my $pgb = BBT::PgBouncer->start($env, pool_mode => 'session', ...);
#   $pgb->port; ... (stopped when the object goes, or with $pgb->stop)
# Settings given are written into its [pgbouncer] section as they are
# ('' writes "name =", an empty value); listen_port given, it listens on
# that port rather than a free one (in place of one stopped).  None is set
# that a site's would not be: ignore_startup_parameters stays empty unless
# a test gives it, so a client sending libpq's options (DBDParams'
# options=, PGOPTIONS) is refused, as a stock PgBouncer refuses it.
# Tests skip where it is not installed: BBT::PgBouncer::missing() says
# why.

use strict;
use warnings;
use Time::HiRes qw(sleep time);
use BBT::Util qw(free_port port_open slurp spew);

our $PGB = '/usr/sbin/pgbouncer';

sub missing { return -x $PGB ? '' : "no $PGB (build/deps.sh installs it)" }

sub start {
    my ($class, $env, %set) = @_;
    my $port = delete $set{listen_port};
    # Each one started in an environment has a directory of its own.
    my ($d, $n) = ("$env->{dir}/pgb", 1);
    $d = "$env->{dir}/pgb" . ++$n while -e $d;
    my $self = bless { port => $port // free_port(), dir => $d, owner => $$ }, $class;
    mkdir $d or die "$d: $!";
    spew("$d/users.txt", qq("bbtoken_httpd" ""\n));
    my $more = join '', map { "$_ = $set{$_}\n" } sort keys %set;
    spew("$d/pgb.ini", <<"EOI");
[databases]
bbtoken = host=127.0.0.1 port=$env->{pgport} dbname=bbtoken
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $self->{port}
auth_type = trust
auth_file = $d/users.txt
logfile = $d/pgb.log
pidfile = $d/pgb.pid
unix_socket_dir =
$more
EOI
    # PgBouncer will not run as root.
    system('chown', '-R', 'postgres', $d) if $> == 0;
    my @start = ($PGB, '-d', "$d/pgb.ini");
    system($> == 0 ? ('runuser', '-u', 'postgres', '--', @start) : @start) == 0 or die "pgbouncer: $?";
    my $until = time + 30;
    sleep 0.05 until port_open($self->{port}) || time > $until;
    return $self;
}

sub port { $_[0]{port} }
sub listening { port_open($_[0]{port}) }

# Stopped once, and only by the process that started it (not by a child
# forked meanwhile, whose copy of the object goes when it exits).
sub stop {
    my ($self) = @_;
    return if $self->{stopped} || $$ != $self->{owner} || !-e "$self->{dir}/pgb.pid";
    my ($pid) = slurp("$self->{dir}/pgb.pid") =~ /(\d+)/;
    kill 'TERM', $pid if $pid;
    $self->{stopped} = 1;
}

sub DESTROY { $_[0]->stop }

1;
