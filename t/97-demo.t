# The demo (build/demo.sh) on a machine with other users: it runs as root
# and stays up, so nobody else may steer it or get into what it leaves
# running.  A directory someone else made where the demo's goes (in /tmp,
# by default) is refused, never read: its httpd.conf would have root load
# modules or signal any process, and its pg/data have postgres stop any
# cluster.  The demo's PostgreSQL lets in only those who hold the password
# it made (root's alone), not every local user as its superuser, and
# httpd's password (which its children hold) is not the superuser's; it and
# httpd listen on loopback alone, and no file others may read holds the
# token; the clone and management commands it prints work as printed, and
# a clone keeps no token in its files (.git/config, which others may read);
# a second start replaces the running demo; stop removes it all, stopping
# its servers even where its httpd.conf no longer reads, and never removes
# a directory of root's that is not a demo's, nor starts or stops one under a
# directory another user may change.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use BBT::Env qw(run_cmd pct);
use BBT::Util qw(free_port port_open slurp spew);

plan skip_all => 'the demo runs as root' unless $> == 0;
my $ROOT = $BBT::Env::ROOT;
my $OTHER = 'nobody';
my $base = tempdir('demo-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);
chmod 0755, $base;
# A /tmp of this test's own: anyone may make a directory in it.
my $tmp = "$base/tmp";
mkdir $tmp or die $!;
chmod 01777, $tmp;

sub demo {
    my ($dir, $what, $port) = @_;
    return run_cmd(cmd => ['bash', "$ROOT/build/demo.sh", $what], timeout => 600,
                   env => { BBTOKEN_DEMO_DIR => $dir, BBTOKEN_DEMO_PORT => $port });
}
# Running, not a zombie (a child of this test's stays one until waited for).
sub alive {
    my ($pid) = @_;
    my $stat = slurp("/proc/$pid/stat");
    return $stat =~ /^\d+ \(.*\) ([A-Z])/ && $1 ne 'Z';
}
sub as_other {
    my (@cmd) = @_;
    return run_cmd(cmd => ['runuser', '-u', $OTHER, '--', @cmd], timeout => 60, cwd => '/');
}

# Another user's directory where the demo's goes: a configuration whose
# PidFile names a process of root's, and a "cluster" whose postmaster.pid
# names one of postgres's.
my $victim = fork // die $!;
if (!$victim) { exec 'sleep', '600' }
my $pg_victim = fork // die $!;
if (!$pg_victim) {
    # runuser says "Terminated" when its sleep is, below: not the test's word.
    open STDERR, '>', '/dev/null';
    exec 'runuser', '-u', 'postgres', '--', 'sleep', '600';
}
sleep 1;
my $pg_victim_pid = slurp("/proc/$pg_victim/task/$pg_victim/children") =~ s/\s+//gr || $pg_victim;
my $planted = "$tmp/bbtoken-demo";
my ($rc, $out, $err) = as_other('sh', '-c', <<"EOS");
set -e
mkdir -p $planted/pg/data $planted/run
cat > $planted/httpd.conf <<EOF
ServerRoot $planted
ServerName localhost
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
PidFile $planted/run/httpd.pid
ErrorLog /dev/null
Listen 127.0.0.1:1
EOF
echo $victim > $planted/run/httpd.pid
echo 15 > $planted/pg/data/PG_VERSION
printf '%s\\n' $pg_victim_pid $planted/pg/data 0 0 > $planted/pg/data/postmaster.pid
EOS
is($rc, 0, "$OTHER plants a demo directory") or diag $err;
for my $what (qw(stop start)) {
    my ($rc, $out, $err) = demo($planted, $what, free_port());
    isnt($rc, 0, "demo.sh $what: refused, another user's directory") or diag "$out$err";
    like($err, qr/\Q$planted\E/, "  and says which directory");
    ok(alive($victim), '  root\'s process is not signalled through its httpd.conf');
    ok(alive($pg_victim_pid), '  postgres\'s process is not signalled through its pg/data');
    ok(-e "$planted/httpd.conf", '  nothing in it removed');
}
# A directory of root's made for something else: stop (and a start, which
# stops what is there first) would remove it with all it holds.
my $elsewhere = "$base/elsewhere";
mkdir $elsewhere or die $!;
spew("$elsewhere/important", "data\n");
for my $what (qw(stop start)) {
    my ($rc, $out, $err) = demo($elsewhere, $what, free_port());
    isnt($rc, 0, "demo.sh $what: refused, a directory of root's that is not a demo's") or diag "$out$err";
    like($err, qr/\Q$elsewhere\E is not the demo's/, '  and says which directory');
    ok(-e "$elsewhere/important", '  nothing in it removed');
}
($rc, $out, $err) = demo("$base/none", 'stop', 0);
is($rc, 0, 'demo.sh stop where there is no demo');
like($err, qr/no demo in \Q$base\E\/none/, '  says there is none there');
unlike($out, qr/demo stopped/, '  and not that it stopped one');
# A link there, even to a directory of root's, is not followed.
my $roots = "$base/roots";
mkdir $roots or die $!;
symlink($roots, "$tmp/linked") or die $!;
($rc, $out, $err) = demo("$tmp/linked", 'start', free_port());
isnt($rc, 0, 'demo.sh start: refused, a symbolic link') or diag "$out$err";
ok(!-e "$roots/httpd.conf", '  nothing made through it');
# A directory above the demo's that another user may change: they could
# put a directory of their own in the demo's place once it is made, and
# root's httpd would load their httpd.conf.  Refused before anything is
# made, wherever a link on the way leads.
my $others = "$base/others";
mkdir $others or die $!;
chown scalar(getpwnam($OTHER)), -1, $others or die $!;
my $open = "$base/open";
mkdir $open or die $!;
chmod 0777, $open;
my $group = "$base/group";
mkdir $group or die $!;
chmod 0775, $group;
symlink($others, "$base/to-others") or die $!;
for my $c (["$others/demo", $others, "another user's"], ["$open/demo", $open, 'one anyone may write, not sticky'],
           ["$group/demo", $group, 'one its group may write'], ["$base/to-others/demo", $others, 'a link to another user\'s']) {
    my ($d, $above, $what) = @$c;
    for my $how (qw(start stop)) {
        my ($rc, $out, $err) = demo($d, $how, free_port());
        is($rc, 1, "demo.sh $how under $what: refused") or diag "$out$err";
        like($err, qr/^demo: \Q$above\E, above \S+\/demo, may be changed by another user/m, '  and says which');
    }
    ok(!-e "$above/demo", '  nothing made there');
}
kill 'TERM', $victim, $pg_victim_pid;
waitpid $_, 0 for $victim, $pg_victim;

# The demo itself, in a directory of its own, right under BBT_TMPDIR, where
# build/test.sh stops whatever a killed test left running.
my $dir = ($ENV{BBT_TMPDIR} || '/tmp') . "/bbt-demo-$$";
my $port = free_port();
my $started = 1;
END { demo($dir, 'stop', 0) if $started && -e $dir }
($rc, $out, $err) = demo($dir, 'start', $port);
is($rc, 0, 'demo.sh start') or diag "$out$err";
my ($clone) = $out =~ /^\s+(git clone \S+)$/m;
my ($bearer) = $out =~ /^\s+(GIT_CONFIG_COUNT=\S.* git clone \S+)$/m;
my ($token) = $out =~ /^\s+token:\s+(\S+)$/m;
my ($pgport) = $out =~ /PostgreSQL:.*\bport=(\d+)/;
my ($list) = $out =~ /^\s+(\S.*\blist demo)$/m;
ok($clone && $bearer && $token && $pgport && $list,
   'it prints the token, a clone command, its Bearer form, the database and how to list tokens') or diag $out;
ok(port_open($port), 'httpd answers on the port');
# Any local user can read a running command's arguments (ps): the Bearer
# form hands git the token in its environment.
my ($assigned, $args) = ($bearer // '') =~ /^((?:[A-Z_0-9]+=(?:"[^"]*"|[^\s"]+) )+)(git .*)$/;
ok($assigned && $token && index($assigned, $token) >= 0 && index($args, $token) < 0,
   'the Bearer form: the token in git\'s environment, not its arguments') or diag $bearer;

# Each printed clone command, as printed, by someone who answers git's
# prompt with the token.  A clone keeps its URL in
# .git/config, which other users may read: the token must not be kept
# there, or in any file of the clone.
my $work = tempdir('clone-XXXXXX', DIR => $base);
my $askpass = "$work/askpass";
spew($askpass, "#!/bin/sh\necho \"\$1\" >> \"\$BBT_ASKED\"\n"
     . "case \"\$1\" in Username*) echo demo ;; Password*) echo '$token' ;; *) exit 1 ;; esac\n",
     0700);
for ([clone => $clone], [Bearer => $bearer]) {
    my ($what, $cmd) = @$_;
    ($rc, my $gout, my $gerr) = run_cmd(cmd => ['sh', '-c', "$cmd $work/$what"], timeout => 120,
                                        env => { GIT_ASKPASS => $askpass, GIT_TERMINAL_PROMPT => 0,
                                                 GIT_CONFIG_NOSYSTEM => 1, HOME => $work,
                                                 BBT_ASKED => "$work/asked.$what" });
    is($rc, 0, "the printed $what command clones") or diag "$gout$gerr";
    # The Bearer form's header authenticates alone: git never asks.
    is(-s "$work/asked.$what" ? 'asked' : 'not asked', $what eq 'Bearer' ? 'not asked' : 'asked',
       "  git asks for the password: " . ($what eq 'Bearer' ? 'no' : 'yes'));
    ok(-f "$work/$what/README", '  the repository\'s README');
    ($rc, $gout) = run_cmd(cmd => ['grep', '-rlF', '-e', $token, '-e', pct($token), "$work/$what"],
                           timeout => 60);
    is($gout, '', '  no file of the clone holds the token, as it is or percent-encoded');
}
($rc, my $lout, my $lerr) = run_cmd(cmd => ['sh', '-c', $list], timeout => 60, env => { PGPASSFILE => undef });
is($rc, 0, 'the printed list command lists') or diag "$lout$lerr";
like($lout, qr/demo clone/, '  the demo\'s token');

# Another local user, as the database's superuser or as httpd's role, over
# TCP and through the socket.
for my $role (qw(postgres bbtoken_httpd bbtoken_api)) {
    for my $host ('127.0.0.1', "$dir/pg/sock") {
        my ($rc, $out, $err) = as_other('/usr/lib/postgresql/15/bin/psql', '-X', '-At', '-h', $host,
                                        '-p', $pgport, '-U', $role, '-d', 'bbtoken', '-w', '-c',
                                        'SELECT count(*) FROM bbtoken_tokens');
        isnt($rc, 0, "$OTHER cannot connect as $role through $host") or diag $out;
    }
}
# Nothing under the demo's directory that another user may write, or read
# the database's password from.
my @open = split /\n/, `find '$dir' -xdev \\( -perm -0002 -o -perm -0020 \\) ! -type l ! -type s -print`;
is_deeply(\@open, [], 'nothing in it is group- or world-writable');
# The superuser's password and httpd's roles'.
my %pw = map { $_ => 1 } slurp("$dir/pgpass") =~ /:([0-9a-f]{32,})$/mg;
is(scalar keys %pw, 2, 'the passwords are in pgpass: the superuser\'s, and httpd\'s roles\'');
for my $pw (sort keys %pw) {
    ($rc, $out, $err) = as_other('grep', '-rsl', '--', $pw, $dir);
    is($out, '', "no file $OTHER may read holds either");
}
for my $f ("$dir/httpd.conf", "$dir/pgpass") {
    my ($rc) = as_other('sh', '-c', "cat '$f' >/dev/null 2>&1");
    isnt($rc, 0, "$OTHER cannot read $f");
}
like(slurp("/proc/net/tcp"), qr/:\s*0100007F:\Q${\ sprintf('%04X', $port)}\E /, 'httpd listens on 127.0.0.1');
# Every socket httpd and PostgreSQL listen on, whatever their
# configurations say: loopback, or a Unix socket.
my @procs = grep { defined && /^\d+$/ } (slurp("$dir/run/httpd.pid") =~ /(\d+)/, slurp("$dir/pg/data/postmaster.pid") =~ /\A(\d+)/);
is(scalar @procs, 2, 'httpd\'s and the postmaster\'s pids') or diag "@procs";
my %inode;
for my $pid (@procs) {
    for my $fd (glob "/proc/$pid/fd/*") {
        my $l = readlink($fd) // next;
        $inode{$1} = $pid if $l =~ /^socket:\[(\d+)\]$/;
    }
}
my @listening;
for my $f ('/proc/net/tcp', '/proc/net/tcp6', '/proc/net/udp', '/proc/net/udp6') {
    for (split /\n/, slurp($f)) {
        my @c = split ' ';
        my ($addr, $p) = @c > 9 && $inode{ $c[9] } ? $c[1] =~ /^([0-9A-F]+):([0-9A-F]{4})$/ : ();
        # TCP's LISTEN (0A); any bound UDP socket.
        next if !$addr || ($f =~ /tcp/ && $c[3] ne '0A');
        push @listening, "$f $addr:" . hex($p);
    }
}
ok(@listening >= 2, 'found the sockets httpd and PostgreSQL listen on') or diag explain \@listening;
# 127.0.0.1; ::1 and ::ffff:127.0.0.1 (as /proc writes them: 32-bit words,
# each in the host's order).
is_deeply([grep { !m{^/proc/net/(?:tcp 0100007F|tcp6 (?:0{24}01000000|0{16}FFFF00000100007F)):} } @listening], [],
          'each on loopback, none on every address') or diag explain \@listening;
# The token is printed, never written where another user may read it.
($rc, $out, $err) = as_other('grep', '-rslF', '--', $token, $dir);
is($out, '', "no file $OTHER may read holds the token");
# httpd's children hold their roles' password (from httpd.conf); it must
# not be the superuser's, which would let code in a child do anything in
# the database (and, through it, run commands as postgres).
my ($role_pw) = slurp("$dir/httpd.conf") =~ /\bpassword=(\S+?)[\s"]/;
ok($role_pw, 'httpd.conf holds the roles\' password');
for my $role (qw(bbtoken_httpd postgres)) {
    my ($rc, $out, $err) = run_cmd(cmd => ['/usr/lib/postgresql/15/bin/psql', '-X', '-At', '-h', '127.0.0.1', '-p', $pgport,
                                           '-U', $role, '-d', 'bbtoken', '-w', '-c', 'SELECT 1'],
                                   timeout => 60, env => { PGPASSWORD => $role_pw, PGPASSFILE => '/dev/null' });
    if ($role eq 'postgres') {
        isnt($rc, 0, 'httpd\'s password does not log in as the superuser') or diag $out;
    } else {
        is($rc, 0, 'httpd\'s password logs in as bbtoken_httpd') or diag $err;
    }
}

# A second start over the running demo replaces it: the old servers
# stopped, new ones on the same port, a new token.
($rc, $out, $err) = demo($dir, 'start', $port);
is($rc, 0, 'demo.sh start again, over the running demo') or diag "$out$err";
my ($token2) = $out =~ /^\s+token:\s+(\S+)$/m;
ok($token2 && $token2 ne $token, '  a new token');
ok(!alive($_), "  the old server $_ is gone") for @procs;
ok(port_open($port), '  httpd answers on the port');
like($out, qr/^Stop it with: BBTOKEN_DEMO_DIR=\Q$dir\E build\/demo\.sh stop$/m,
     '  the stop command it prints names the directory');
# httpd's configuration no longer reads (its module gone after make
# clean, say): stop stops it all the same, and removes the directory only
# once nothing runs on it.
my @procs2 = grep { defined && /^\d+$/ } (slurp("$dir/run/httpd.pid") =~ /(\d+)/, slurp("$dir/pg/data/postmaster.pid") =~ /\A(\d+)/);
is(scalar @procs2, 2, 'httpd\'s and the postmaster\'s pids') or diag "@procs2";
spew("$dir/httpd.conf", slurp("$dir/httpd.conf") . "LoadModule gone_module $dir/gone.so\n", 0600);
# Nor is the mark needed where its httpd.conf, pgpass and cluster are (a
# demo started before there was one).
unlink "$dir/.bbt-env" or die "$dir/.bbt-env: $!";
($rc, $out, $err) = demo($dir, 'stop', $port);
is($rc, 0, 'demo.sh stop, its httpd.conf broken') or diag "$out$err";
ok(!-e $dir, '  removes its directory');
ok(!port_open($port), '  httpd is gone');
ok(!alive($_), "  $_ is gone") for @procs2;

# A directory whose name holds a space: httpd's configuration quotes it,
# and the commands printed are the shell's words.  One with a quote is
# refused in words.
subtest 'a directory named with a space' => sub {
    my ($rc, $out, $err) = demo("$tmp/o'dd", 'start', free_port());
    is($rc, 2, 'a quote in the name: refused');
    like($err, qr/BBTOKEN_DEMO_DIR may hold no quote/, '  in words');
    ok(!-e "$tmp/o'dd", '  nothing made');
    # pg_ctl's shell would expand a $ or a ` in the log's path (as
    # postgres), and unix_socket_directories would split it at a comma.
    for my $bad ('d$HOME', 'd`id`', 'd,x') {
        ($rc, $out, $err) = demo("$tmp/$bad", 'start', free_port());
        is($rc, 2, "$bad in the name: refused");
        like($err, qr/BBTOKEN_DEMO_DIR may hold no quote, backslash, \$, `, comma/, '  in words');
        ok(!-e "$tmp/$bad", '  nothing made');
    }
    my $odd = "$tmp/demo with space";
    ($rc, $out, $err) = demo($odd, 'start', free_port());
    is($rc, 0, 'demo.sh start') or return diag "$out$err";
    my ($list) = $out =~ /^\s+(\S.*\blist demo)$/m;
    my ($stop) = $out =~ /^Stop it with: (.*)$/m;
    ok($list && $stop, 'the list and stop commands printed') or return diag $out;
    my ($lrc, $lout, $lerr) = run_cmd(cmd => ['sh', '-c', $list], timeout => 60, env => { PGPASSFILE => undef });
    is($lrc, 0, 'the printed list command lists') or diag "$list\n$lout$lerr";
    like($lout, qr/demo clone/, '  the demo\'s token');
    my ($src, $sout, $serr) = run_cmd(cmd => ['sh', '-c', "cd $ROOT && $stop"], timeout => 600,
                                      env => { BBTOKEN_DEMO_DIR => undef });
    is($src, 0, 'the printed stop command stops it') or diag "$stop\n$sout$serr";
    ok(!-e $odd, '  and removes its directory');
};
done_testing;
