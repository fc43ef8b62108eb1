# make -f apxs.mk install and uninstall: exactly the documented files, with
# the installed paths filled in, honouring DESTDIR, PREFIX and the Debian
# layout; DBDParams root's alone and never overwritten; uninstall takes back
# what install put there.  Then each configuration snippet in a copy of
# Debian's /etc/apache2, enabled the Debian way (a2enmod, a2enconf): httpd's
# configtest passes with what it needs, and refuses, saying what is missing,
# without it (never a location served unguarded).  The system's /etc/apache2
# and /etc/fail2ban are left as they were.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Fcntl qw(:flock);
use File::Find;
use File::Temp qw(tempdir);
use Digest::SHA ();
use BBT::Util qw(snapshot snapshot_diff);

my $root = "$FindBin::Bin/..";
chdir $root or die "$root: $!";
my $tmp = tempdir('bbt-install-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => !$ENV{BBT_KEEP});
chmod 0755, $tmp;
# Everything here installs into DESTDIR, a prefix and a copy of
# /etc/apache2 of its own: the system's configuration is left as it was.
# The package test, which changes it, waits meanwhile, and so do we for it.
open my $lock, '<', '/etc/apache2' or die "/etc/apache2: $!";
flock($lock, LOCK_SH) or die "flock /etc/apache2: $!";
my @system = ('/etc/apache2', '/etc/fail2ban');
my %system_before = map { $_ => snapshot($_) } @system;

my $libexec = qx{apxs -q LIBEXECDIR};
chomp $libexec;
my @snippets = map {"bbtoken-$_.conf"} qw(git dav svn rest page metrics);

sub make_ {
    my $out = qx{make -f apxs.mk @_ 2>&1};
    return ($? >> 8, $out);
}

# Files and links under $dir (not directories), as absolute paths without $dir.
sub files {
    my ($dir) = @_;
    my @f;
    return [] unless -d $dir;
    find({ no_chdir => 1, wanted => sub {
        return if -d $_ && !-l $_;
        push @f, substr($File::Find::name, length $dir);
    } }, $dir);
    return [sort @f];
}

sub dirs {
    my ($dir) = @_;
    my @d;
    find({ no_chdir => 1, wanted => sub { push @d, substr($_, length $dir) if -d $_ && !-l $_ } }, $dir);
    return \@d;
}

sub slurp { my ($f) = @_; open my $h, '<', $f or return ''; local $/; return <$h> // '' }

sub spew {
    my ($f, $s) = @_;
    open my $h, '>', $f or die "$f: $!";
    print $h $s;
    close $h or die "$f: $!";
}

my @share = map {"/share/mod-bbtoken/$_"} glob '{sql/*.sql,sql/migrations/*.sql,routes/*.conf,www/*}';
ok(@share >= 10, 'share files: sql, routes, www');
my @apache = ('/etc/apache2/mods-available/bbtoken.load', '/etc/apache2/mods-available/bbtoken.conf',
              (map {"/etc/apache2/conf-available/$_"} @snippets), '/etc/apache2/bbtoken-dbd.conf',
              '/etc/apache2/bbtoken-api-dbd.conf', '/etc/fail2ban/filter.d/bbtoken.conf',
              '/etc/fail2ban/jail.d/bbtoken.conf');
my @expected = sort("$libexec/mod_bbtoken.so", '/opt/bbt/bin/bbtoken',
                    '/opt/bbt/share/man/man1/bbtoken.1', '/opt/bbt/share/man/man5/mod_bbtoken.5',
                    '/opt/bbt/share/bash-completion/completions/bbtoken',
                    '/opt/bbt/share/doc/mod-bbtoken/examples/bbtoken.cron',
                    '/opt/bbt/share/mod-bbtoken/bbtoken-dbd.conf',
                    '/opt/bbt/share/mod-bbtoken/bbtoken-api-dbd.conf',
                    '/opt/bbt/share/mod-bbtoken/conffiles.sha256', (map {"/opt/bbt$_"} @share), @apache);

# The first two subtests start from the same install into an empty
# DESTDIR: one make install, and a copy of what it put there for the
# second (what each proves of that install is still checked in each).
my $fresh = "$tmp/dest";
my ($fresh_rc, $fresh_out) = make_("install DESTDIR=$fresh PREFIX=/opt/bbt");
system('cp', '-a', $fresh, "$tmp/conffiles") == 0 or die 'cp' if -d $fresh;

subtest 'DESTDIR and PREFIX' => sub {
    my $d = $fresh;
    my ($rc, $out) = ($fresh_rc, $fresh_out);
    is($rc, 0, 'make install DESTDIR PREFIX=/opt/bbt') or diag $out;
    is_deeply(files($d), \@expected, 'exactly the documented files');
    my %mode = map { $_ => (stat "$d$_")[2] & 07777 } @expected;
    is(sprintf('%o', $mode{'/opt/bbt/bin/bbtoken'}), '755', 'bbtoken 0755');
    is(sprintf('%o', $mode{'/etc/apache2/bbtoken-dbd.conf'}), '600', 'bbtoken-dbd.conf 0600: it will hold a password');
    is(sprintf('%o', $mode{'/etc/apache2/bbtoken-api-dbd.conf'}), '600', 'bbtoken-api-dbd.conf 0600 too');
    my %special = map { $_ => 1 } '/opt/bbt/bin/bbtoken', '/etc/apache2/bbtoken-dbd.conf',
        '/etc/apache2/bbtoken-api-dbd.conf';
    is_deeply([grep { !$special{$_} && $mode{$_} != 0644 } @expected], [], 'everything else 0644');
    my @placeholders = grep { slurp("$d$_") =~ /\@(?:LIBEXECDIR|SHAREDIR|BINDIR|APACHE_CONFDIR|DOCDIR)\@/ }
        grep { !/\.so$|bin\/bbtoken$/ } @expected;
    is_deeply(\@placeholders, [], 'every installed path filled in');
    my $load = slurp("$d/etc/apache2/mods-available/bbtoken.load");
    like($load, qr{^LoadModule bbtoken_module \Q$libexec\E/mod_bbtoken\.so$}m, '.load loads from LIBEXECDIR');
    like($load, qr{^# Depends: dbd\b}m, '.load depends on dbd, so a2enmod enables mod_dbd');
    like(slurp("$d/etc/apache2/mods-available/bbtoken.conf"), qr{^IncludeOptional bbtoken-dbd\.conf$}m,
         'bbtoken.conf reads DBDParams from bbtoken-dbd.conf');
    like(slurp("$d/etc/apache2/bbtoken-dbd.conf"), qr{^#DBDParams .*user=bbtoken_httpd }m,
         'the template holds no live DBDParams (the lookup role)');
    like(slurp("$d/etc/apache2/bbtoken-api-dbd.conf"), qr{^#DBDParams .*user=bbtoken_api }m,
         'nor does the API\'s (its own role)');
    like(slurp("$d/etc/apache2/conf-available/bbtoken-rest.conf"), qr{^IncludeOptional bbtoken-api-dbd\.conf$}m,
         'the API\'s snippet reads the API role\'s DBDParams');
    like(slurp("$d/etc/apache2/conf-available/bbtoken-page.conf"),
         qr{^Alias /account/tokens /opt/bbt/share/mod-bbtoken/www$}m, 'the page snippet serves PREFIX/share');
    my $cron = slurp("$d/opt/bbt/share/doc/mod-bbtoken/examples/bbtoken.cron");
    like($cron, qr{^[0-9].* /opt/bbt/bin/bbtoken --db \S+ expiring}m, 'the cron example runs PREFIX/bin/bbtoken');
    like($cron, qr{^[0-9].* /opt/bbt/bin/bbtoken --db \S+ notify$}m, '... and bbtoken notify');
    # Each job's command line is one the CLI takes (--help after it: the
    # options before are read first, and nothing connects).
    my @jobs = $cron =~ m{^[0-9][^\n]*? /opt/bbt/bin/bbtoken (--db [^\n>]*?)\s*(?:>/dev/null)?$}mg;
    is(scalar @jobs, 3, 'three jobs');
    # Debian's rule for a cron job a package's files run: nothing once the
    # package is removed (the copy in /etc/cron.d stays), not a mail a day.
    my @lines = $cron =~ m{^([0-9][^\n]*)$}mg;
    is(scalar(grep { m{^[^\[]*\[ -x /opt/bbt/bin/bbtoken \] && /opt/bbt/bin/bbtoken --db } } @lines), 3,
       'each job runs the CLI only where it is there') or diag $cron;
    for my $j (@jobs) {
        my $out = qx{build/out/bbtoken $j --help 2>&1};
        is($?, 0, "bbtoken $j: the CLI takes it") or diag $out;
    }
    for my $f (@apache) {
        my $c = slurp("$d$f");
        unlike($c, qr/%\{Authorization\}|SetEnvIf\s+Authorization|Proxy-Authorization/i,
               "$f: nothing that copies or logs credentials");
    }
    for my $s (@snippets) {
        my $c = slurp("$d/etc/apache2/conf-available/$s");
        like($c, qr/<IfModule !bbtoken_module>\s*Error /, "$s: an error, not an open location, without the module");
        next if $s =~ /rest|page|metrics/;
        like($c, qr/^\s*AuthType BBToken$/m, "$s: AuthType BBToken");
        like($c, qr/^\s*AuthName "\w+"$/m, "$s: AuthName");
        like($c, qr/^\s*BBTokenRoutes \w+/m, "$s: BBTokenRoutes");
        like($c, qr/^\s*Require bbtoken$/m, "$s: Require bbtoken");
    }
    is(system("$d/opt/bbt/bin/bbtoken --help >/dev/null"), 0, 'the installed bbtoken runs');

    # The site's DBDParams are never overwritten, and uninstall keeps them.
    my $dbd = "$d/etc/apache2/bbtoken-dbd.conf";
    spew($dbd, qq{DBDParams "host=db.example dbname=bbtoken password=s3cret"\n});
    ($rc, $out) = make_("install DESTDIR=$d PREFIX=/opt/bbt");
    is($rc, 0, 'install again');
    like(slurp($dbd), qr/s3cret/, 'a second install leaves the DBDParams alone');
    # The admin enabled the module and a snippet.
    mkdir "$d/etc/apache2/$_" for 'mods-enabled', 'conf-enabled';
    symlink('../mods-available/bbtoken.load', "$d/etc/apache2/mods-enabled/bbtoken.load");
    symlink('../mods-available/bbtoken.conf', "$d/etc/apache2/mods-enabled/bbtoken.conf");
    symlink('../conf-available/bbtoken-git.conf', "$d/etc/apache2/conf-enabled/bbtoken-git.conf");
    ($rc, $out) = make_("uninstall DESTDIR=$d PREFIX=/opt/bbt");
    is($rc, 0, 'make uninstall') or diag $out;
    like($out, qr/kept \S*bbtoken-dbd\.conf/, 'uninstall says it kept the edited DBDParams');
    is_deeply(files($d), ['/etc/apache2/bbtoken-dbd.conf'],
              'uninstall removed everything else, enabled links included');
    is_deeply([grep {m{mod-bbtoken}} @{ dirs($d) }], [], 'and the directories that are the project\'s own');

    # An untouched template is install's own: uninstall takes it too.
    unlink $dbd;
    ($rc, $out) = make_("install DESTDIR=$d PREFIX=/opt/bbt");
    is($rc, 0, 'install into the emptied DESTDIR');
    ($rc, $out) = make_("uninstall DESTDIR=$d PREFIX=/opt/bbt");
    is($rc, 0, 'uninstall') or diag $out;
    is_deeply(files($d), [], 'nothing left at all');
};

# The files in /etc are kept as dpkg keeps conffiles: an edited one stays,
# the new one beside it (.dist), and install says so; one still as an
# earlier install put it is replaced; uninstall keeps an edited one.
subtest 'an edited configuration file is kept' => sub {
    my $d = "$tmp/conffiles";
    my $git = '/etc/apache2/conf-available/bbtoken-git.conf';
    my $dav = '/etc/apache2/conf-available/bbtoken-dav.conf';
    my $jail = '/etc/fail2ban/jail.d/bbtoken.conf';
    my $manifest = "$d/opt/bbt/share/mod-bbtoken/conffiles.sha256";
    my ($rc, $out) = ($fresh_rc, $fresh_out);
    is($rc, 0, 'make install') or diag $out;
    unlike($out, qr/kept/, 'a first install keeps nothing');
    my %new = map { $_ => slurp("$d$_") } grep {m{^/etc/}} @expected;
    like(slurp($manifest), qr{^[0-9a-f]{64}  \Q$git\E$}m, 'what install put there is recorded');

    # The administrator enables the jail and edits the git snippet; the
    # dav snippet is still as an earlier release put it (its record says so).
    (my $enabled = $new{$jail}) =~ s/^enabled\s*=\s*false$/enabled = true/m or die 'the jail is not disabled';
    spew("$d$jail", $enabled);
    spew("$d$git", "$new{$git}# mine\n");
    my $old = "# an earlier release's\n$new{$dav}";
    spew("$d$dav", $old);
    my $old_sum = Digest::SHA::sha256_hex($old);
    my $m = slurp($manifest);
    $m =~ s{^[0-9a-f]{64}(  \Q$dav\E)$}{$old_sum$1}m or die 'no record of the dav snippet';
    spew($manifest, $m);

    my $before = files($d);
    ($rc, $out) = make_("install DESTDIR=$d PREFIX=/opt/bbt");
    is($rc, 0, 'install again') or diag $out;
    is(slurp("$d$jail"), $enabled, 'the edited jail is kept');
    is(slurp("$d$git"), "$new{$git}# mine\n", 'the edited snippet is kept');
    is(slurp("$d$jail.dist"), $new{$jail}, 'the new jail is beside it, .dist');
    is(slurp("$d$git.dist"), $new{$git}, 'the new snippet too');
    like($out, qr{^install: kept \Q$git\E, .*the new one is \Q$git\E\.dist$}m, 'install says so');
    like($out, qr{^install: kept \Q$jail\E, .*the new one is \Q$jail\E\.dist$}m, '  for each');
    is(slurp("$d$dav"), $new{$dav}, 'a snippet as the earlier install put it is replaced');
    is_deeply(files($d), [sort @$before, "$git.dist", "$jail.dist"], 'no other file kept or added');
    is(() = $out =~ /^install: kept/mg, 2, 'and nothing else is said to be kept');
    is(sprintf('%o', (stat "$d$git.dist")[2] & 07777), '644', '.dist 0644');

    # A file an install before this one put there, with no record: it
    # cannot be told from an edited one, so it is kept.
    spew("$d$dav", $old);
    $m = slurp($manifest);
    $m =~ s{^[0-9a-f]{64}  \Q$dav\E\n}{}m or die 'no record of the dav snippet';
    spew($manifest, $m);
    ($rc, $out) = make_("install DESTDIR=$d PREFIX=/opt/bbt");
    is($rc, 0, 'install over a snippet it has no record of') or diag $out;
    is(slurp("$d$dav"), $old, 'it is kept');
    like($out, qr{^install: kept \Q$dav\E,}m, 'and said so');

    # The administrator takes the new snippet in: the next install says
    # nothing of it, and the spent .dist goes.
    spew("$d$dav", $new{$dav});
    ($rc, $out) = make_("install DESTDIR=$d PREFIX=/opt/bbt");
    is($rc, 0, 'install once the new dav snippet is taken in') or diag $out;
    unlike($out, qr{kept \Q$dav\E}, 'nothing said of it');
    ok(!-e "$d$dav.dist", 'its .dist is gone');

    # uninstall: the edited ones stay, said so; their .dist and everything
    # else go, enabled links too.
    mkdir "$d/etc/apache2/conf-enabled";
    symlink('../conf-available/bbtoken-git.conf', "$d/etc/apache2/conf-enabled/bbtoken-git.conf");
    ($rc, $out) = make_("uninstall DESTDIR=$d PREFIX=/opt/bbt");
    is($rc, 0, 'make uninstall') or diag $out;
    like($out, qr{^uninstall: kept \Q$git\E}m, 'uninstall keeps the edited snippet, and says so');
    like($out, qr{^uninstall: kept \Q$jail\E}m, 'and the edited jail');
    is_deeply(files($d), [sort $git, $jail], 'they alone are left: no .dist, no record')
        or diag explain files($d);
};

# A link in /etc where install puts a file is the administrator's,
# wherever it leads: a DBDParams file kept elsewhere (a secret mounted
# later), a snippet from configuration management.  install and
# uninstall leave it, even when what it leads to is not there yet.
subtest 'a link where install puts a file is kept' => sub {
    my $d = "$tmp/links";
    my %link = ('/etc/apache2/bbtoken-dbd.conf' => '/run/secrets/bbtoken-dbd.conf',
                '/etc/apache2/bbtoken-api-dbd.conf' => '/run/secrets/bbtoken-api-dbd.conf',
                '/etc/apache2/conf-available/bbtoken-git.conf' => '/srv/config/bbtoken-git.conf');
    for my $f (sort keys %link) {
        (my $dir = "$d$f") =~ s{/[^/]+$}{};
        system('mkdir', '-p', $dir) == 0 or die "mkdir $dir";
        symlink($link{$f}, "$d$f") or die "symlink $d$f: $!";
    }
    my ($rc, $out) = make_("install DESTDIR=$d PREFIX=/opt/bbt");
    is($rc, 0, 'make install') or diag $out;
    is(readlink("$d$_") // '(not a link)', $link{$_}, "$_: the link is left as it is") for sort keys %link;
    my $git = '/etc/apache2/conf-available/bbtoken-git.conf';
    ok(-f "$d$git.dist", 'the new snippet is beside its link, .dist');
    like($out, qr{^install: kept \Q$git\E, a link}m, 'install says so');
    ($rc, $out) = make_("uninstall DESTDIR=$d PREFIX=/opt/bbt");
    is($rc, 0, 'make uninstall') or diag $out;
    is(readlink("$d$git") // '(gone)', $link{$git}, 'uninstall leaves the link too');
    like($out, qr{^uninstall: kept \Q$git\E, a link}m, '  and says so');
};

# uninstall takes back what install put there, and nothing else: with no
# install before it, a module at LIBEXECDIR (the Debian package's has that
# path whatever PREFIX is), a CLI, a .load, a snippet and a DBDParams file
# that is the template are someone else's, and stay, and so do the links
# enabling them (the module is still there).
subtest 'uninstall leaves what install did not put there' => sub {
    my $d = "$tmp/not-installed";
    my $dbd = slurp('conf/bbtoken-dbd.conf.in');
    my %file = ("$libexec/mod_bbtoken.so" => "another's module\n", '/opt/bbt/bin/bbtoken' => "#!/bin/sh\n",
                '/etc/apache2/mods-available/bbtoken.load' => "LoadModule bbtoken_module $libexec/mod_bbtoken.so\n",
                '/etc/apache2/conf-available/bbtoken-git.conf' => "# another's\n",
                '/etc/apache2/bbtoken-dbd.conf' => $dbd, '/opt/bbt/share/mod-bbtoken/bbtoken-dbd.conf' => $dbd);
    my %link = ('/etc/apache2/mods-enabled/bbtoken.load' => '../mods-available/bbtoken.load',
                '/etc/apache2/conf-enabled/bbtoken-git.conf' => '../conf-available/bbtoken-git.conf');
    for my $f (sort keys %file, sort keys %link) {
        (my $dir = "$d$f") =~ s{/[^/]+$}{};
        system('mkdir', '-p', $dir) == 0 or die "mkdir $dir";
        $link{$f} ? symlink($link{$f}, "$d$f") : spew("$d$f", $file{$f}) or die "$d$f: $!";
    }
    my ($rc, $out) = make_("uninstall DESTDIR=$d PREFIX=/opt/bbt");
    is($rc, 0, 'make uninstall, install never run') or diag $out;
    for my $f (sort keys %file) {
        next if $f =~ m{^/opt/bbt/share/};
        is(slurp("$d$f"), $file{$f}, "$f is left as it was");
    }
    is(readlink("$d$_") // '(gone)', $link{$_}, "$_ is left enabled") for sort keys %link;
    like($out, qr{^uninstall: kept \Q$libexec\E/mod_bbtoken\.so, which install has no record of putting there$}m,
         'uninstall says why it kept the module') or diag $out;
};

subtest 'no Debian layout, no DESTDIR: no httpd configuration files' => sub {
    my $p = "$tmp/plain";
    my ($rc, $out) = make_("install PREFIX=$p LIBEXECDIR=$p/modules APACHE_CONFDIR=$tmp/no-apache2");
    is($rc, 0, 'make install') or diag $out;
    like($out, qr{no \Q$tmp\E/no-apache2/mods-available}, 'it says why');
    ok(!-e "$tmp/no-apache2", 'nothing written to APACHE_CONFDIR');
    ok(-x "$p/bin/bbtoken" && -f "$p/modules/mod_bbtoken.so", 'module and CLI installed');
    ($rc, $out) = make_("uninstall PREFIX=$p LIBEXECDIR=$p/modules APACHE_CONFDIR=$tmp/no-apache2");
    is($rc, 0, 'make uninstall') or diag $out;
    is_deeply(files($p), [], 'nothing left');
};

# make install and uninstall leave a file a Debian package owns alone
# (build/dpkg-owned.sh, before anything is built) unless FORCE=1: no other
# value of FORCE overrides it.  A stand-in dpkg-query says the package
# owns the module; the script alone, since a make install let through
# would write to the system's LIBEXECDIR.
subtest 'a file a Debian package owns: refused unless FORCE=1' => sub {
    my $bin = "$tmp/owned-bin";
    mkdir $bin or die "$bin: $!";
    my $so = "$libexec/mod_bbtoken.so";
    spew("$bin/dpkg-query", "#!/bin/sh\necho 'libapache2-mod-bbtoken: $so'\n");
    chmod 0755, "$bin/dpkg-query" or die $!;
    local $ENV{PATH} = "$bin:$ENV{PATH}";
    for my $force ('', '0', 'no') {
        my $out = qx{sh build/dpkg-owned.sh install '$force' $so 2>&1};
        is($? >> 8, 1, "FORCE='$force': refused") or diag $out;
        like($out, qr/^install: refused: dpkg keeps those files/m, '  saying so') or diag $out;
    }
    my $out = qx{sh build/dpkg-owned.sh install 1 $so 2>&1};
    is($? >> 8, 0, 'FORCE=1: overridden') or diag $out;
    like($out, qr/^install: FORCE=1: overwriting them all the same/m, '  saying so') or diag $out;
};

SKIP: {
    skip 'no dpkg-parsechangelog (dpkg-dev)', 3 if system('command -v dpkg-parsechangelog >/dev/null') != 0;
    my $v = slurp('VERSION');
    chomp $v;
    is(qx{dpkg-parsechangelog -S Version}, "$v\n", "debian/changelog is at VERSION ($v)");
    my ($rc, $out) = make_('deb VERSION=9.9.9');
    isnt($rc, 0, 'make deb refuses to build a version debian/changelog does not have');
    like($out, qr/debian\/changelog is at version \Q$v\E, VERSION says 9\.9\.9/, 'saying so');
}

SKIP: {
    skip 'no Debian httpd layout in /etc/apache2', 1 unless -d '/etc/apache2/mods-available' && -x '/usr/sbin/a2enmod';
    subtest 'snippets in Debian\'s layout' => \&snippets;
}

sub snippets {
    # A copy of this machine's httpd configuration.
    my $conf = "$tmp/etc/apache2";
    mkdir "$tmp/etc";
    system('cp', '-a', '/etc/apache2', $conf) == 0 or die 'cp /etc/apache2';
    unlink glob "$conf/$_" for 'mods-enabled/bbtoken.*', 'conf-enabled/bbtoken-*';
    unlink "$conf/bbtoken-dbd.conf";
    for my $sub (qw(run lock log state)) { mkdir "$tmp/$sub" }
    open my $h, '>>', "$conf/envvars" or die $!;
    print $h "export APACHE_PID_FILE=$tmp/run/apache2.pid APACHE_RUN_DIR=$tmp/run "
        . "APACHE_LOCK_DIR=$tmp/lock APACHE_LOG_DIR=$tmp/log\n";
    close $h;
    local $ENV{APACHE_CONFDIR} = $conf;
    local $ENV{APACHE_STATE_DIRECTORY} = "$tmp/state";

    # FAIL2BAN_DIR names a directory that is not there, so no filter or
    # jail is installed: the system's /etc/fail2ban is not this test's.
    my ($rc, $out) = make_("install PREFIX=$tmp/usr LIBEXECDIR=$tmp/modules APACHE_CONFDIR=$conf FAIL2BAN_DIR=$tmp/etc/fail2ban");
    is($rc, 0, 'make install into the copy') or diag $out;
    ok(-f "$conf/mods-available/bbtoken.load", 'the layout exists, so the .load is installed');

    my $a2 = sub { my $o = qx{@_ 2>&1}; is($?, 0, "@_") or diag $o };
    my $test = sub { my $o = qx{sh -c '. "\$APACHE_CONFDIR/envvars" && /usr/sbin/apache2 -d "\$APACHE_CONFDIR" -t' 2>&1}; return ($? >> 8, $o) };
    my $ok = sub {
        my ($name) = @_;
        my ($r, $o) = $test->();
        is($r, 0, "configtest: $name") or diag $o;
    };
    my $refused = sub {
        my ($name, $re) = @_;
        my ($r, $o) = $test->();
        isnt($r, 0, "configtest refuses: $name");
        like($o, $re, 'saying what is missing');
    };

    # Start from what the snippets need being off.
    $a2->('a2dismod -q -f cgid cgi dav_fs dav include headers') ;
    $ok->('before');
    $a2->('a2enmod -q bbtoken');
    ok(-l "$conf/mods-enabled/dbd.load", 'a2enmod bbtoken enabled mod_dbd too');
    $ok->('the module, DBDParams not yet set');

    $a2->('a2enconf -q bbtoken-git');
    $refused->('git without mod_cgid', qr/bbtoken-git\.conf needs mod_cgid/);
    $a2->('a2enmod -q cgid');
    $ok->('git');
    # Without git (its git-http-backend elsewhere, as if not installed).
    my $gitconf = "$conf/conf-available/bbtoken-git.conf";
    my $gittext = slurp($gitconf);
    (my $nogit = $gittext) =~ s{/usr/lib/git-core/git-http-backend}{$tmp/no-git/git-http-backend}g;
    spew($gitconf, $nogit);
    $refused->('git without git-http-backend', qr/bbtoken-git\.conf needs git-http-backend \(\Q$tmp\E\/no-git\/git-http-backend\): apt-get install git/);
    spew($gitconf, $gittext);
    $ok->('git, with git-http-backend');

    $a2->('a2enconf -q bbtoken-dav');
    $refused->('dav without mod_dav_fs', qr/bbtoken-dav\.conf needs mod_dav_fs/);
    $a2->('a2enmod -q dav_fs');
    $ok->('git and dav');

    # The API and the page only in a virtual host of their own, which alone
    # gets the API role's DBDParams.
    $a2->('a2enconf -q bbtoken-rest');
    $refused->('rest enabled server-wide', qr/bbtoken-rest\.conf goes inside the access-tokens API's own/);
    $a2->('a2disconf -q bbtoken-rest');
    $a2->('a2enconf -q bbtoken-page');
    $refused->('page enabled server-wide', qr/bbtoken-page\.conf goes inside the access-tokens API's own/);
    $a2->('a2disconf -q bbtoken-page');
    spew("$conf/sites-available/bbtoken-api.conf", <<'EOS');
<VirtualHost 127.0.0.1:8443>
    ServerName tokens.example.test
    Define BBTOKEN_API_HOST
    Include conf-available/bbtoken-rest.conf
    Include conf-available/bbtoken-page.conf
    UnDefine BBTOKEN_API_HOST
</VirtualHost>
EOS
    $a2->('a2ensite -q bbtoken-api');
    $refused->('page without mod_include', qr/bbtoken-page\.conf needs mod_(include|headers)/);
    $a2->('a2enmod -q include headers');
    $ok->('git, dav, and the API\'s host with rest and page');

    $a2->('a2enconf -q bbtoken-metrics');
    $ok->('git, dav, rest, page and metrics');
    like(slurp("$conf/conf-available/bbtoken-metrics.conf"), qr{<Location /bbtoken-metrics>\s*SetHandler bbtoken-metrics\s*Require local\s*</Location>},
         'the metrics answer this host alone');

    $a2->('a2enconf -q bbtoken-svn');
    if (-f "$libexec/mod_dav_svn.so") {
        $a2->('a2enmod -q dav_svn');
        $ok->('all five');
    } else {
        $refused->('svn without mod_dav_svn', qr/bbtoken-svn\.conf needs mod_dav_svn/);
    }
    $a2->('a2disconf -q bbtoken-svn');

    # The module off, a snippet on: httpd refuses to start rather than
    # serve the location without it.
    $a2->('a2dismod -q bbtoken');
    $refused->('a snippet without the module', qr/bbtoken-\w+\.conf needs mod_bbtoken/);
}

for my $dir (@system) {
    is_deeply([snapshot_diff($system_before{$dir}, snapshot($dir))], [], "$dir is as it was");
}

done_testing;
