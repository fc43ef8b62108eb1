# The README's commands never put a password into a command line: not a
# role's (CREATE ROLE ... PASSWORD in psql -c is in ps, the shell's history
# and, with log_statement ddl or all, the server's log), not the CLI's
# (--db password=..., PGPASSWORD=... before a command).  The way the README
# makes httpd's roles instead, createuser --pwprompt, is run here against
# a cluster that logs every statement: the role logs in with the password
# typed, and no log holds it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Util qw(run_cmd);

my $root = "$FindBin::Bin/..";

sub slurp { my ($f) = @_; open my $h, '<', $f or die "$f: $!"; local $/; return <$h> }

# The command lines of a text: its indented lines, a trailing comment off.
# A DBDParams line is configuration, read from a root-only file.
sub command_lines {
    my ($text) = @_;
    my @l;
    my $n = 0;
    for my $line (split /\n/, $text) {
        $n++;
        next unless $line =~ /^\s{2,}\S/;
        (my $cmd = $line) =~ s/\s+#\s.*$//;
        next if $cmd =~ /^\s*#?\s*DBDParams\b/;
        push @l, [$n, $cmd];
    }
    return @l;
}

for my $f ('README', 'debian/NEWS') {
    my @bad = grep { $_->[1] =~ /\bPASSWORD\s+'|\bpassword\s*=|\bPGPASSWORD=/i } command_lines(slurp("$root/$f"));
    is_deeply([map {"$f:$_->[0]: $_->[1]"} @bad], [], "$f: no command line holds a password");
}

my @create = map { $_->[1] } grep { $_->[1] =~ /\bcreateuser\b.*\bbbtoken_httpd\b/ }
    command_lines(slurp("$root/README"));
ok(@create, 'the README makes the lookup role with createuser') or BAIL_OUT('no createuser line in the README');
my @argv = split ' ', $create[0];
ok((grep { $_ eq '--pwprompt' || $_ eq '-P' } @argv), '  which asks for the password');

my $env = BBT::Env->new(httpd => 0, db_password => 1, pg_conf => { log_statement => "'all'" })->start;
my $port = $env->pg_port;
my $pgbin = $BBT::Pg::PGBIN;
my $pw = 'readme-Role-pw-' . join('', map { int rand 10 } 1 .. 12);
my $role = 'bbt_readme_role';

# The README's command, for a role of this test's, over TCP as the
# superuser.  setsid: createuser reads the password from the terminal when
# there is one, and from stdin without.
@argv = map { $_ eq 'bbtoken_httpd' ? $role : $_ } @argv;
shift @argv while @argv && $argv[0] ne 'createuser';
splice @argv, 1, 0, '-h', '127.0.0.1', '-p', $port, '-U', 'postgres';
$argv[0] = "$pgbin/createuser";
my ($rc, $out, $err) = run_cmd(cmd => ['setsid', '-w', @argv], stdin => "$pw\n$pw\n", timeout => 60);
is($rc, 0, "the README's createuser, the password on its terminal") or diag "$out$err";

sub login {
    my ($user, $pass) = @_;
    my ($rc, $out, $err) = run_cmd(cmd => ["$pgbin/psql", '-X', '-A', '-t', '-h', '127.0.0.1', '-p', $port, '-U', $user,
                                           '-d', 'bbtoken', '-c', 'SELECT current_user'],
                                   env => { PGPASSWORD => $pass, PGPASSFILE => '/dev/null', PGCONNECT_TIMEOUT => 5 },
                                   timeout => 60);
    chomp $out;
    return $rc == 0 ? $out : '';
}
# And its grants, as the README's next line gives them (CONNECT among them).
$env->psql(undef, file => "$root/sql/grants.sql", vars => ["role=$role"]);
is(login($role, $pw), $role, 'the role logs in with the password typed');
is(login($role, "$pw-x"), '', '  and not with another');

my $log = $env->pg_log_text;
like($log, qr/CREATE ROLE/, 'the server logged the statement createuser sent (log_statement = all)');
unlike($log, qr/\Q$pw\E/, '  and no log line holds the password');

# What the README no longer says, for contrast: that password is logged.
my $old = "$pw-old";
$env->psql("CREATE ROLE ${role}_old LOGIN PASSWORD '$old'", user => 'postgres');
like($env->pg_log_text, qr/\Q$old\E/, "psql -c \"CREATE ROLE ... PASSWORD '...'\" leaves the password in the log");

done_testing;
