# The demo from a checkout whose path holds a space: httpd.conf names the
# module built there, and every path it writes, in double quotes (unquoted,
# httpd read "LoadModule bbtoken_module /tmp/a" and "checkout/...", and
# refused to start).  A checkout whose path holds a double quote, a
# backslash or a line break, which httpd.conf cannot quote, is refused in
# words before anything is made, by build/demo.sh and by the harness.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use BBT::Env qw(run_cmd);
use BBT::Util qw(free_port port_open slurp);
use BBT::Httpd ();

plan skip_all => 'the demo runs as root' unless $> == 0;
my $ROOT = $BBT::Env::ROOT;
plan skip_all => 'not a git checkout: its files are listed by git' unless -e "$ROOT/.git";
my $base = tempdir('demo-checkout-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);
chmod 0755, $base;

# A copy of this checkout under a name with a space: its files (git's list,
# untracked ones too), and the build's objects and outputs with their
# times, so that the demo's make finds them up to date.
my $copy = "$base/a checkout";
make_path($copy);
my ($rc, $out, $err) = run_cmd(cmd => ['sh', '-c', <<'EOS', 'sh', $ROOT, $copy], timeout => 300);
set -e
cd "$1"
{ git ls-files -z --cached --others --exclude-standard
  printf 'build/obj\0build/out/mod_bbtoken.so\0build/out/bbtoken\0'; } |
    tar --null --ignore-failed-read -T - -cf - | tar -C "$2" -xpf -
EOS
is($rc, 0, 'the checkout copied to a path with a space') or BAIL_OUT("$out$err");

my $dir = "$base/demo";
my $port = free_port();
my $started = 1;
END { run_cmd(cmd => ['bash', "$copy/build/demo.sh", 'stop'], timeout => 600, env => { BBTOKEN_DEMO_DIR => $dir }) if $started && -e $dir }
($rc, $out, $err) = run_cmd(cmd => ['bash', "$copy/build/demo.sh"], timeout => 600,
                            env => { BBTOKEN_DEMO_DIR => $dir, BBTOKEN_DEMO_PORT => $port });
is($rc, 0, 'demo.sh starts from it') or diag "$out$err";
ok(port_open($port), '  httpd answers on the port');
like(slurp("$dir/httpd.conf"), qr{^LoadModule bbtoken_module "\Q$copy\E/build/out/mod_bbtoken\.so"$}m,
     '  httpd.conf loads the module built there, its path quoted');
my ($list) = $out =~ /^\s+(\S.*\blist demo)$/m;
($rc, my $lout, my $lerr) = run_cmd(cmd => ['sh', '-c', $list // 'false'], timeout => 60, env => { PGPASSFILE => undef });
is($rc, 0, '  the printed list command, with the CLI built there, lists') or diag "$out\n$lout$lerr";
like($lout, qr/demo clone/, '  the demo\'s token');
($rc, $out, $err) = run_cmd(cmd => ['bash', "$copy/build/demo.sh", 'stop'], timeout => 600,
                            env => { BBTOKEN_DEMO_DIR => $dir });
is($rc, 0, 'demo.sh stop') or diag "$out$err";
ok(!-e $dir, '  removes its directory');
ok(!port_open($port), '  httpd is gone');

# A checkout whose path httpd.conf cannot quote: refused before anything
# is installed, built or made.
for my $bad (qw(q"uote back\slash), "line\nbreak") {
    my $odd = "$base/$bad";
    make_path("$odd/build");
    symlink("$copy/build/demo.sh", "$odd/build/demo.sh") or die "$odd/build/demo.sh: $!";
    my $d = "$base/demo-" . ($bad =~ s/\W/-/gr);
    ($rc, $out, $err) = run_cmd(cmd => ['bash', "$odd/build/demo.sh"], timeout => 60,
                                env => { BBTOKEN_DEMO_DIR => $d, BBTOKEN_DEMO_PORT => free_port() });
    my $name = $bad =~ s/\n/\\n/r;
    is($rc, 2, "a checkout named $name: refused");
    like($err, qr/the checkout's path, .* may hold no double quote, backslash or control character/s,
         '  in words') or diag "$out$err";
    ok(!-e $d, '  nothing made');
}

# The harness too, for a test's directory or a module elsewhere.
for my $bad ('/tmp/q"uote', '/tmp/back\slash', "/tmp/line\nbreak") {
    ok(!eval { BBT::Httpd::conf_path($bad); 1 }, 'the harness refuses to write ' . ($bad =~ s/\n/\\n/r));
    like($@, qr/httpd's configuration cannot name a path holding a double quote, a backslash or a control/,
         '  in words');
}
is(BBT::Httpd::conf_path('/tmp/a b'), '"/tmp/a b"', 'and quotes one with a space');
done_testing;
