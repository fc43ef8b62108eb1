package BBT::DbSetup;

# The README's commands that make the database (Install), taken from the
# README and run as they are written, so that the manual cannot say what
# does not work: as root, one line at a time, each in the directory the
# last cd named (at first one of root's own, which postgres may not
# enter), each createuser --pwprompt given its password on stdin (setsid:
# no terminal to ask on).  Against a test environment's PostgreSQL
# (BBT::Env) reached through its socket, as Debian's cluster is, where
# only the system's user postgres is its superuser (db_password => 1:
# peer through the socket, passwords over TCP).

use strict;
use warnings;
use Exporter 'import';
use File::Temp ();
use BBT::Util qw(run_cmd);

our @EXPORT_OK = qw(setup_lines run_setup);

# The lines of the README's indented block that makes the database
# bbtoken (its createdb line ends with the name: the move's ends in &&),
# each without its indent and trailing comment.
sub setup_lines {
    my ($readme) = @_;
    for my $block ($readme =~ /((?:^    \S.*\n)+)/mg) {
        next unless $block =~ /^    .*\bcreatedb\b.*\bbbtoken$/m;
        return map { (my $l = $_) =~ s/^    //; $l =~ s/\s+#\s.*//; $l } split /\n/, $block;
    }
    return;
}

# Run @$lines for $env; $passwords maps a role to the password its
# createuser is given.  Returns [line, exit code, stdout, stderr] for each
# line run, stopping after the first that fails.
sub run_setup {
    my ($env, $lines, $passwords) = @_;
    my $cwd = File::Temp::tempdir('root-XXXXXX', DIR => $env->dir . '/scratch');
    chmod 0700, $cwd;
    my %pgenv = (PGHOST => $env->pg_sock, PGPORT => $env->pg_port, PGCONNECT_TIMEOUT => 5,
                 map { $_ => undef } qw(PGUSER PGDATABASE PGPASSFILE PGPASSWORD PGSERVICE));
    my @done;
    for my $line (@$lines) {
        my $stdin = '';
        if ($line =~ /\bcreateuser\b.*(?:--pwprompt|\s-P\b).*\s(\w+)$/) {
            my $pw = $passwords->{$1} // die "no password for role $1";
            $stdin = "$pw\n$pw\n";
        }
        my ($rc, $out, $err) = run_cmd(cmd => ['setsid', '-w', 'sh', '-c', $line], cwd => $cwd, env => \%pgenv,
                                       stdin => $stdin, tmp => $env->dir . '/run', timeout => 120);
        push @done, [$line, $rc, $out, $err];
        last if $rc;
        if ($line =~ /^cd\s+(\S+)$/) {
            my $to = $1;
            $cwd = $to =~ m{^/} ? $to : "$cwd/$to";
        }
    }
    return @done;
}

1;
