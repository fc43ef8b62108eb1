# The Debian package, used on this machine the way an administrator would:
# make deb; lintian (errors and warnings fail, overrides only where the
# README explains them); apt-get install ./the.deb; a2enmod bbtoken (which
# enables mod_dbd) cgid; a2enconf bbtoken-git; DBDParams; then the system's
# apache2, with the installed configuration on a free loopback port, serves
# a git clone with a token made by the installed bbtoken; the README's
# commands that make the database run as written; a reinstall keeps
# the admin's DBDParams files (mode 0600) and what was enabled, and warns
# (and changes nothing) when one is readable by another user, or may be
# changed by one (the file, or a directory on its way).  make install and
# uninstall from the source tree refuse to touch the package's files.
# dpkg -r leaves a configuration that passes configtest and starts; the
# install after it enables again what the removal disabled, not what the
# admin disabled; dpkg --purge removes the DBDParams files the package
# made, and no other, and leaves /etc/apache2 as it was (an install after
# it enables nothing).  Whatever happens, the package is purged
# and /etc/apache2 and /var/lib/apache2 are put back at the end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Find;
use File::Copy qw(move);
use MIME::Base64 qw(encode_base64);
use POSIX ();
use BBT::Env;
use BBT::Util qw(slurp spew);
use BBT::SysApache;
use BBT::SysState qw(installed dpkg_excludes deb_files a2query);
use BBT::DbSetup qw(setup_lines run_setup);
use BBT::Migrations qw(latest_version);
use Digest::SHA ();
use BBT::DebHarness qw($PKG run);

my $h = BBT::DebHarness->new('deb', 'lintian');
my $tmp = $h->tmp;

# What the test starts that uses the package, the system's apache2 on a
# copy of /etc/apache2 and lintian (which runs while the package is
# installed), is stopped at the exit before the package is purged.
my $lintian;
$h->at_end(sub {
    BBT::SysApache->stop_all;
    if ($lintian) {
        kill 'TERM', $lintian;
        waitpid $lintian, 0;
    }
});

# ---------------------------------------------------------------------------

chomp(my $version = slurp('VERSION'));
chomp(my $arch = qx{dpkg-architecture -qDEB_HOST_ARCH});
my $deb = "build/out/${PKG}_${version}_${arch}.deb";
unlink $deb;
my ($rc, $out) = run('make -f apxs.mk deb');
is($rc, 0, 'make -f apxs.mk deb') or diag substr($out, -3000);
ok(-f $deb, "built $deb") or BAIL_OUT('no package');

# lintian reads nothing but the .deb: it runs while the package is
# installed and used, and its verdict is read after.
$lintian = fork // die "fork: $!";
if (!$lintian) {
    open STDOUT, '>', "$tmp/lintian.out" and open STDERR, '>&', \*STDOUT
        and exec 'lintian', '--show-overrides', $deb;
    warn "lintian: $!\n";
    POSIX::_exit(127);
}

subtest 'the package holds what make install installs' => sub {
    my $staged = "$tmp/staged";
    my ($rc, $out) = run("make -f apxs.mk install DESTDIR=$staged PREFIX=/usr "
                         . "DOCDIR=/usr/share/doc/$PKG APACHE_CONFDIR=/etc/apache2");
    is($rc, 0, 'make install DESTDIR PREFIX=/usr') or diag $out;
    my @inst;
    find({ no_chdir => 1, wanted => sub { push @inst, substr($_, length $staged) unless -d $_ } }, $staged);
    # the postinst makes them; dpkg, not make install's record, keeps the
    # conffiles
    my %skip = map { $_ => 1 } '/etc/apache2/bbtoken-dbd.conf', '/etc/apache2/bbtoken-api-dbd.conf',
        '/usr/share/mod-bbtoken/conffiles.sha256';
    my @want = sort grep { !$skip{$_} } @inst;
    my @got;
    for my $p (deb_files($deb)) {
        next if $p =~ m{^/usr/share/doc/$PKG/(?:changelog|copyright|README|NOTICE|NEWS\.Debian)}
             || $p =~ m{^/usr/share/lintian/overrides/};
        push @got, $p =~ m{^/usr/share/man/} ? $p =~ s{\.gz$}{}r : $p;
    }
    is_deeply([sort @got], \@want, 'same files in the .deb as make install puts there');
    # The README's list of the package's files names the manual as it is
    # installed (debhelper compresses it).
    my ($doc_line) = slurp('README') =~ m{^ +/usr/share/doc/\Q$PKG\E/ +(\S+)}m;
    (my $doc = $doc_line // '') =~ s/,$//;
    ok($doc ne '' && grep({ $_ eq "/usr/share/doc/$PKG/$doc" } deb_files($deb)),
       "the README's package list names the manual as installed ($doc)");
    # What apt-listchanges shows before an upgrade: the steps it needs.
    my $news = qx{dpkg-deb --fsys-tarfile $deb | tar -xOf - ./usr/share/doc/$PKG/NEWS.Debian.gz | gzip -dc};
    like($news, qr/^libapache2-mod-bbtoken \(\Q$version\E\)/, 'NEWS.Debian, for this version');
    like($news, qr/bbtoken --db dbname=bbtoken db upgrade/, '  says to upgrade the database');
    # bbtoken notify, in the cron example, hands its mail to /usr/sbin/sendmail.
    like(qx{dpkg-deb -f $deb Suggests}, qr/(?:^|[,|]\s*)default-mta \| mail-transport-agent(?:,|$)/m,
         'Suggests an MTA, for bbtoken notify\'s sendmail');
    # The README's setup and upgrade steps run psql and createuser.
    like(qx{dpkg-deb -f $deb Recommends}, qr/(?:^|,\s*)postgresql-client(?:,|$)/m,
         'Recommends postgresql-client, for the upgrade\'s psql and createuser');
    unlike(qx{dpkg-deb -f $deb Suggests}, qr/postgresql-client/, '  and no longer only suggests it');
};

($rc, $out) = run("apt-get install -y --no-install-recommends ./$deb", DEBIAN_FRONTEND => 'noninteractive');
is($rc, 0, 'apt-get install ./the.deb') or diag $out;
ok(installed($PKG), "$PKG installed") or BAIL_OUT('not installed');

subtest 'installed files' => sub {
    ok(-x '/usr/bin/bbtoken', '/usr/bin/bbtoken');
    ok(-f '/usr/lib/apache2/modules/mod_bbtoken.so', 'the module in /usr/lib/apache2/modules');
    ok(-f "/etc/apache2/mods-available/bbtoken.$_", "mods-available/bbtoken.$_") for 'load', 'conf';
    ok(-f "/etc/apache2/conf-available/bbtoken-$_.conf", "conf-available/bbtoken-$_.conf") for qw(git dav svn rest page metrics);
    ok(!-e '/etc/apache2/mods-enabled/bbtoken.load', 'the module is not enabled by the package');
    ok(!glob('/etc/apache2/conf-enabled/bbtoken-*'), 'no snippet is enabled by the package');
    for my $f ('/etc/apache2/bbtoken-dbd.conf', '/etc/apache2/bbtoken-api-dbd.conf') {
        my @st = stat $f;
        ok(@st, "the postinst made $f");
        is(sprintf('%o', ($st[2] // 0) & 07777), '600', '  mode 0600') if @st;
        is($st[4], 0, '  owned by root') if @st;
    }
    # The page's every file: it loads each of its scripts.
    ok(-f "/usr/share/mod-bbtoken/$_", "/usr/share/mod-bbtoken/$_")
        for 'sql/schema.sql', 'sql/grants.sql', 'sql/grants-api.sql', 'sql/grants-connect.sql', 'routes/git.conf',
            glob 'www/*';
    my $cron = "/usr/share/doc/$PKG/examples/bbtoken.cron";
    ok(-f $cron, 'the cron example') unless dpkg_excludes($cron);
    ok(-f "/etc/fail2ban/$_", "/etc/fail2ban/$_") for 'filter.d/bbtoken.conf', 'jail.d/bbtoken.conf';
    my $conffiles = qx{dpkg-query -W -f='\${Conffiles}' $PKG};
    like($conffiles, qr{^ /etc/fail2ban/filter\.d/bbtoken\.conf }m, 'the fail2ban filter is a conffile');
    # Every file the package puts into /etc is dpkg's to keep an edit of.
    my @etc = grep {m{^/etc/}} deb_files($deb);
    is(scalar @etc, 10, 'ten files in /etc: the .load, the .conf, six snippets, the filter and the jail')
        or diag explain \@etc;
    for my $f (@etc) {
        like($conffiles, qr{^ \Q$f\E }m, "$f is a conffile");
    }
    for (['bbtoken', 1, 'bbtoken - '], ['mod_bbtoken', 5, 'mod_bbtoken - ']) {
        my ($name, $sec, $re) = @$_;
        if (dpkg_excludes("/usr/share/man/man$sec/$name.$sec.gz")) {
            note "dpkg leaves out man pages here: $name($sec) not checked installed";
            next;
        }
        my $path = qx{man -w $sec $name 2>/dev/null};
        like($path, qr{^/usr/share/man/man$sec/$name\.$sec\.gz$}, "man $sec $name finds the installed page");
        my $text = qx{LC_ALL=C MANWIDTH=80 man -l /usr/share/man/man$sec/$name.$sec.gz 2>&1};
        like($text, qr/\Q$re\E/, "man -l renders $name($sec)");
    }
    my $c = qx{bash --norc --noprofile -c '. /usr/share/bash-completion/bash_completion; _completion_loader bbtoken; complete -p bbtoken' 2>&1};
    like($c, qr/^complete -F _bbtoken bbtoken$/m, 'bash-completion loads the completion for bbtoken');
};

# The administrator's part: a2enmod, a2enconf.
($rc, $out) = run('a2enmod bbtoken cgid');
is($rc, 0, 'a2enmod bbtoken cgid (bbtoken-git needs mod_cgid)') or diag $out;
ok(-l '/etc/apache2/mods-enabled/dbd.load', 'mod_dbd enabled with it');
($rc, $out) = run('a2enconf bbtoken-git');
is($rc, 0, 'a2enconf bbtoken-git') or diag $out;

my $env = BBT::Env->new(httpd => 0)->start;
my $db = $env->superuser_conninfo;
my $cli = sub {
    my ($rc, $out) = run(join ' ', '/usr/bin/bbtoken', '--db', "'$db'", @_);
    is($rc, 0, "bbtoken @_") or diag $out;
    chomp $out;
    return $out;
};
$cli->('user add alice');
$cli->('grant alice PROJECT_WRITE PROJ');
my $token = $cli->('create alice --name deb-test');
like($token, qr{^BBDC-[A-Za-z0-9+/]{44}$}, 'the installed bbtoken made a token');
$env->make_repo('PROJ', 'repo');

subtest 'the installed configuration serves a clone' => sub {
    my $i = BBT::SysApache->new("$tmp/enabled");
    # The repositories of this test, not /srv/git.
    my $git = "$i->{conf}/conf-available/bbtoken-git.conf";
    my $snippet = slurp($git);
    ok($snippet =~ s{SetEnv GIT_PROJECT_ROOT /srv/git$}{SetEnv GIT_PROJECT_ROOT @{[ $env->repo_root ]}}m,
       'the git snippet serves /srv/git (here: the test\'s repositories)');
    spew($git, $snippet);

    my ($up, $log) = $i->start;
    ok($up, 'apache2 starts with the module and DBDParams not set') or diag $log;
    my $basic = 'Basic ' . encode_base64("alice:$token", '');
    is($i->status('/scm/PROJ/repo.git/info/refs?service=git-upload-pack', $basic), 503,
       'without DBDParams: 503, never access');
    $i->stop;

    my $dbd = "$i->{conf}/bbtoken-dbd.conf";
    spew($dbd, slurp($dbd) . 'DBDParams "host=127.0.0.1 port=' . $env->pg_port
         . ' dbname=bbtoken user=bbtoken_httpd connect_timeout=3 options=-cstatement_timeout=5000"' . "\n");
    ($up, $log) = $i->start;
    ok($up, 'apache2 starts with DBDParams') or diag $log;
    (my $pct = $token) =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ge;
    my $url = "http://alice:$pct\@127.0.0.1:$i->{port}/scm/PROJ/repo.git";
    my $w = "$tmp/clone";
    my ($grc, undef, $gerr) = $env->git('clone', '-q', $url, $w);
    is($grc, 0, 'git clone with the token') or diag $gerr . slurp("$i->{dir}/log/error.log");
    ok(-f "$w/README", 'the clone has the repository\'s README');
    is($i->status('/scm/PROJ/repo.git/info/refs?service=git-upload-pack'), 401, 'no token: 401');
    # One character of the secret mistyped.
    my $wrong = $token;
    substr($wrong, 40, 1) = substr($wrong, 40, 1) eq 'A' ? 'B' : 'A';
    is($i->status('/scm/PROJ/repo.git/info/refs?service=git-upload-pack',
                  'Basic ' . encode_base64("alice:$wrong", '')), 401, 'a mistyped token: 401');
    unlike(slurp("$i->{dir}/log/error.log") . join('', map { slurp($_) } glob "$i->{dir}/log/*access*"),
           qr/\Q@{[ substr($token, -20) ]}\E/, 'the token is in no log');
    $i->stop;
};

# The README's commands that make the database, as they are written, with
# the package installed: as root, each as postgres, with the package's
# sql/ files; against a cluster of this test's that lets in the system's
# postgres through its socket, and no one else without a password, as
# Debian's does.  The schema is the latest, and httpd's two roles log in
# with the passwords typed, to a database only they may connect to.
subtest 'the README\'s database setup, run as written' => sub {
    my @lines = setup_lines(slurp('README'));
    ok(@lines, 'the README\'s block that makes the database') or return;
    note "  $_" for @lines;
    # The cluster's superuser's password, for this subtest's clients.
    local $ENV{PGPASSFILE} = $ENV{PGPASSFILE};
    my $pg = BBT::Env->new(httpd => 0, db_password => 1)->start;
    $pg->psql('DROP DATABASE bbtoken', db => 'postgres');
    $pg->psql('DROP ROLE bbtoken_httpd, bbtoken_api', db => 'postgres');
    my %pw = map { $_ => "typed-$_-" . join('', map { int rand 10 } 1 .. 12) } qw(bbtoken_httpd bbtoken_api);
    for my $r (run_setup($pg, \@lines, \%pw)) {
        my ($line, $rc, $o, $e) = @$r;
        is($rc, 0, $line) or diag "$o$e";
    }
    my ($rc, $out) = run(join ' ', '/usr/bin/bbtoken', '--db', "'" . $pg->superuser_conninfo . "'", 'db status');
    like($out, qr/^schema version: @{[ latest_version() ]}$/m, 'the schema is the latest') or diag $out;
    for my $role (sort keys %pw) {
        ($rc, $out) = run("psql -X -A -t -h 127.0.0.1 -p @{[ $pg->pg_port ]} -U $role -d bbtoken -c 'SELECT current_user'",
                          PGPASSWORD => $pw{$role}, PGPASSFILE => '/dev/null');
        is($out, "$role\n", "$role logs in with the password typed") or diag $out;
    }
    (undef, $out) = $pg->psql_try("SELECT has_database_privilege('public', 'bbtoken', 'CONNECT')");
    is($out, "f\n", 'other roles may not connect (the grants ran)');
};

# A source install puts the module where the package has it (apxs's
# LIBEXECDIR, whatever PREFIX is) and its configuration where the
# package's conffiles are: make install and uninstall in the source tree
# refuse to overwrite or delete what dpkg keeps, before building anything,
# and change nothing; with FORCE=1, uninstall removes only what install put
# there, none of it here.
subtest 'make install and uninstall leave the package\'s files alone' => sub {
    my $so = '/usr/lib/apache2/modules/mod_bbtoken.so';
    my $sum = Digest::SHA->new(256)->addfile($so)->hexdigest;
    my (undef, $verify) = run("dpkg -V $PKG");
    my @enabled = ('/etc/apache2/mods-enabled/bbtoken.load', '/etc/apache2/mods-enabled/bbtoken.conf',
                   '/etc/apache2/conf-enabled/bbtoken-git.conf');
    my %link = map { $_ => readlink($_) // '(not a link)' } @enabled;
    my @dbd = ('/etc/apache2/bbtoken-dbd.conf', '/etc/apache2/bbtoken-api-dbd.conf');
    my %dbd = map { $_ => slurp($_) } @dbd;
    my $prefix = "$tmp/usr-local";
    my $unchanged = sub {
        ok(-f $so && Digest::SHA->new(256)->addfile($so)->hexdigest eq $sum, "  $so is the package's");
        is(readlink($_) // '(gone)', $link{$_}, "  $_ still enabled") for @enabled;
        is(slurp($_), $dbd{$_}, "  $_ as it was") for @dbd;
        my (undef, $now) = run("dpkg -V $PKG");
        is($now, $verify, '  dpkg -V says what it said before');
        ok(!-e $prefix, '  nothing written under PREFIX');
    };
    for my $t ('uninstall', 'install') {
        my ($rc, $out) = run("make -f apxs.mk $t PREFIX=$prefix");
        isnt($rc, 0, "make $t refuses") or diag $out;
        like($out, qr{^$t: \Q$so\E belongs to the Debian package $PKG$}m, '  naming the module and the package')
            or diag $out;
        like($out, qr{^$t: /etc/apache2/mods-available/bbtoken\.load belongs to the Debian package $PKG$}m,
             '  and each of its conffiles');
        like($out, qr{^$t: refused: dpkg keeps those files, of $PKG\b.*apt-get purge $PKG\b.*FORCE=1}m,
             '  saying why, and what to do (purge: a removed package keeps its conffiles)');
        unlike($out, qr{apt-get remove}, '  not remove, which frees none of them');
        unlike($out, qr{^(?:install -|rm -f|for )}m, '  running no step of it') or diag $out;
        $unchanged->();
    }
    my ($rc, $out) = run("make -f apxs.mk uninstall PREFIX=$prefix FORCE=1");
    is($rc, 0, 'make uninstall FORCE=1') or diag $out;
    like($out, qr{^uninstall: kept \Q$so\E, which install has no record of putting there$}m,
         '  keeps the module, which install did not put there') or diag $out;
    $unchanged->();
};

# The postinst again (a reinstall, as an upgrade runs it): the admin's
# DBDParams files are theirs, kept as they are, root's alone, and what the
# admin enabled stays enabled.
subtest 'a reinstall keeps the admin\'s DBDParams and what was enabled' => sub {
    my %was;
    for my $f ('/etc/apache2/bbtoken-dbd.conf', '/etc/apache2/bbtoken-api-dbd.conf') {
        spew($f, slurp($f) . "# the admin's edit\n#DBDParams \"user=x password=admin-secret-$$\"\n");
        $was{$f} = slurp($f);
    }
    my ($rc, $out) = run("dpkg -i $deb", DEBIAN_FRONTEND => 'noninteractive');
    is($rc, 0, 'dpkg -i the.deb again') or diag $out;
    unlike($out, qr/readable by every local user/, '  with no warning about files of mode 0600') or diag $out;
    for my $f (sort keys %was) {
        is(slurp($f), $was{$f}, "$f as the admin left it");
        my @st = stat $f;
        is(sprintf('%o', ($st[2] // 0) & 07777), '600', '  mode 0600');
        is($st[4], 0, '  owned by root');
    }
    ok(!glob('/etc/apache2/*.dpkg-tmp'), 'no .dpkg-tmp left');
    ok(-l '/etc/apache2/mods-enabled/bbtoken.load', 'the module still enabled');
    ok(-l '/etc/apache2/conf-enabled/bbtoken-git.conf', 'bbtoken-git still enabled');
    ($rc, $out) = run("runuser -u nobody -- grep -rlsF admin-secret-$$ /etc/apache2 /usr/share/mod-bbtoken");
    is($out, '', 'no file another user may read holds the password');

    # One the admin made readable by every local user: configure says so,
    # and how to fix it, and leaves the file as it is.
    my $open = '/etc/apache2/bbtoken-dbd.conf';
    chmod 0644, $open or die "$open: $!";
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure $version");
    is($rc, 0, 'the postinst, configure, with bbtoken-dbd.conf of mode 0644') or diag $out;
    like($out, qr{^libapache2-mod-bbtoken: warning: \Q$open\E is readable by every local user, and it holds the database password: chown root:root \Q$open\E; chmod 0600 \Q$open\E}m,
         '  warns, and says the chown and chmod that fix it') or diag $out;
    unlike($out, qr/bbtoken-api-dbd\.conf/, '  and nothing about bbtoken-api-dbd.conf (0600)') or diag $out;
    is(sprintf('%o', (stat $open)[2] & 07777), '644', '  the mode left as it was');
    is(slurp($open), $was{$open}, '  and the file');
    chmod 0600, $open or die "$open: $!";
    # Not every local user, but httpd's: its owner, or its group.
    my ($wuid, $wgid) = (getpwnam('www-data'))[2, 3];
    for my $c (['its owner www-data', $wuid, 0, 0600], ['the group www-data', 0, $wgid, 0640]) {
        my ($who, $uid, $gid, $mode) = @$c;
        chown $uid, $gid, $open or die "$open: $!";
        chmod $mode, $open or die "$open: $!";
        ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure $version");
        is($rc, 0, sprintf('the postinst, configure, with bbtoken-dbd.conf %d:%d %04o', $uid, $gid, $mode)) or diag $out;
        like($out, qr{^libapache2-mod-bbtoken: warning: \Q$open\E is readable by \Q$who\E, and it holds the database password: chown root:root \Q$open\E; chmod 0600 \Q$open\E}m,
             "  warns: readable by $who") or diag $out;
        is(sprintf('%o', (stat $open)[2] & 07777), sprintf('%o', $mode), '  the mode left as it was');
    }
    chown 0, 0, $open or die "$open: $!";
    # root:root 0640 is root's alone: nothing to say.
    chmod 0640, $open or die "$open: $!";
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure $version");
    unlike($out, qr/warning/, '  root:root 0640: no warning') or diag $out;
    chmod 0600, $open or die "$open: $!";
    # root:root 0600, but an ACL lets www-data read it: the mode bits
    # alone say nothing of that.
    ($rc, $out) = run("setfacl -m u:www-data:r $open");
    is($rc, 0, 'an ACL for www-data on bbtoken-dbd.conf') or diag $out;
    ($rc, $out) = run("runuser -u www-data -- cat $open");
    is($rc, 0, '  which lets www-data read it');
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure $version");
    is($rc, 0, 'the postinst, configure, with that ACL') or diag $out;
    like($out, qr{^libapache2-mod-bbtoken: warning: \Q$open\E has an ACL \(getfacl \Q$open\E\), which may let other users read or change it, and it holds the database password: setfacl -b \Q$open\E}m,
         '  warns, and says the setfacl that fixes it') or diag $out;
    ($rc, $out) = run("setfacl -b $open");
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure $version");
    unlike($out, qr/warning/, '  without it: no warning') or diag $out;
    is(sprintf('%o', (stat $open)[2] & 07777), '600', '  the mode as it was');
    # Changed by another user, httpd (which reads it as root) would load
    # what they put there: said for the file, and for a directory on the
    # way to what a link leads to.
    my $wdir = "$tmp/www-data-owns";
    mkdir $wdir or die $!;
    chown $wuid, $wgid, $wdir or die $!;
    my $moved = "$wdir/bbtoken-dbd.conf";
    for my $c (['every local user', 0, 0, 0602], ['the group www-data', 0, $wgid, 0620],
               ["whoever may change $wdir, on its way", 0, 0, 0600, $moved]) {
        my ($who, $uid, $gid, $mode, $to) = @$c;
        if ($to) {
            move($open, $to) or die "$to: $!";
            symlink $to, $open or die "$open: $!";
        }
        chown $uid, $gid, $open or die "$open: $!";
        chmod $mode, $open or die "$open: $!";
        ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure $version");
        is($rc, 0, sprintf('the postinst, configure, with bbtoken-dbd.conf %d:%d %04o%s', $uid, $gid, $mode,
                           $to ? " through a link into $wdir" : '')) or diag $out;
        like($out, qr{^libapache2-mod-bbtoken: warning: \Q$open\E may be changed by \Q$who\E, and httpd reads it as root}m,
             "  warns: may be changed by $who") or diag $out;
        unlike($out, qr/is readable by/, '  and not that it is readable') or diag $out;
        if ($to) {
            unlink $open or die $!;
            move($to, $open) or die $!;
        }
    }
    chown 0, 0, $open or die "$open: $!";
    chmod 0600, $open or die "$open: $!";
    is(slurp($open), $was{$open}, 'the file as it was');
    # Through a link in a directory another user may change (the link can
    # be pointed elsewhere), though what it leads to is root's alone; and a
    # link that leads nowhere yet, into a sticky directory anyone may make
    # the name in.
    my $safedir = "$tmp/safe";
    mkdir $safedir or die $!;
    chmod 0755, $safedir;
    my $safe = "$safedir/dbd.conf";
    move($open, $safe) or die "$safe: $!";
    # Across file systems (a run's directory in /dev/shm) move copies, and
    # the copy's mode is the umask's.
    chmod 0600, $safe or die "$safe: $!";
    symlink($safe, "$wdir/hop") or die $!;
    symlink($safedir, "$wdir/dirlink") or die $!;
    my $sticky = "$tmp/sticky";
    mkdir $sticky or die $!;
    chmod 01777, $sticky;
    symlink($safe, "$sticky/nobodys") or die $!;
    system('chown', '-h', 'nobody', "$sticky/nobodys") == 0 or die 'chown -h';
    # Root's, but every user may write it and it is not sticky: anyone may
    # rename root's link there away and put their own in its place.
    my $open777 = "$tmp/open";
    mkdir $open777 or die $!;
    chmod 0777, $open777 or die $!;
    symlink($safe, "$open777/roots") or die $!;
    for my $c (["$wdir/hop", $wdir, 'a link through a link in a directory www-data owns'],
               ["$wdir/dirlink/dbd.conf", $wdir, 'a link through a directory\'s link in a directory www-data owns'],
               ["$sticky/not-yet", $sticky, 'a link to a name not there yet in a sticky directory'],
               ["$sticky/nobodys", $sticky, 'a link another user owns in a sticky directory (they may replace it)'],
               ["$open777/roots", $open777, 'a link root owns in a directory root owns, of mode 0777, not sticky']) {
        my ($to, $dir, $what) = @$c;
        unlink $open;
        symlink($to, $open) or die "$open: $!";
        ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure $version");
        is($rc, 0, "the postinst, configure, with $what") or diag $out;
        like($out, qr{^libapache2-mod-bbtoken: warning: \Q$open\E may be changed by whoever may change \Q$dir\E, on its way}m,
             '  warns, naming the directory') or diag $out;
    }
    # That directory sticky, as /tmp is: root's link there is root's alone.
    chmod 01777, $open777 or die $!;
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure $version");
    unlike($out, qr/warning/, 'the same directory sticky: no warning') or diag $out;
    unlink $open;
    move($safe, $open) or die $!;
    chown 0, 0, $open or die "$open: $!";
    # root:root 0660: the group root is root's; nothing to say.
    chmod 0660, $open or die "$open: $!";
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure $version");
    unlike($out, qr/warning/, 'root:root 0660: no warning') or diag $out;
    chmod 0600, $open or die "$open: $!";
    is(slurp($open), $was{$open}, 'the file as it was');

    # The admin's link to where the secret will be (a mount not there
    # yet) is theirs as the file is: configure again leaves it.
    my $f = '/etc/apache2/bbtoken-api-dbd.conf';
    my $kept = $was{$f};
    my $to = "$tmp/not-mounted-yet/bbtoken-api-dbd.conf";
    unlink $f or die "$f: $!";
    symlink $to, $f or die "$f: $!";
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure $version");
    is($rc, 0, 'the postinst, configure, with a dangling link for bbtoken-api-dbd.conf') or diag $out;
    is(readlink($f), $to, '  the link is left as it is');
    unlike($out, qr/warning/, '  and nothing is said of it') or diag $out;
    unlink $f;
    my $umask = umask 077;
    spew($f, $kept);
    umask $umask;
};

# 0.2.0 said to enable the API and the tokens page with a2enconf; this
# release's stop httpd so (their Error), and an upgrade from 0.2.0 leaves
# them disabled rather than an httpd that no longer starts.  The postinst as
# dpkg runs it for that upgrade (building 0.2.0 here would cost minutes).
subtest 'an upgrade from 0.2.0 disables the API\'s and the page\'s snippets' => sub {
    # As the upgrade finds them: 0.2.0 made bbtoken-dbd.conf and recorded
    # nothing (its purge removed the file whoever had made it), and had no
    # bbtoken-api-dbd.conf.  The purge below removes both.
    system('rm', '-rf', "/var/lib/$PKG") == 0 or die "rm /var/lib/$PKG";
    unlink '/etc/apache2/bbtoken-api-dbd.conf' or die "bbtoken-api-dbd.conf: $!";
    my ($rc, $out) = run('a2enconf -q bbtoken-rest bbtoken-page');
    is($rc, 0, 'a2enconf bbtoken-rest bbtoken-page, as 0.2.0 said') or diag $out;
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure 0.2.0");
    is($rc, 0, 'the postinst, configure 0.2.0') or diag $out;
    ok(-f '/etc/apache2/bbtoken-api-dbd.conf', 'bbtoken-api-dbd.conf made, new since 0.2.0');
    ok(!-e "/etc/apache2/conf-enabled/$_.conf", "$_ disabled") for qw(bbtoken-rest bbtoken-page);
    like($out, qr/disabled bbtoken-rest, which now goes inside/, 'and it says why');
    ok(-e '/var/lib/apache2/conf/disabled_by_maint/bbtoken-rest'
           && !-e '/var/lib/apache2/conf/disabled_by_admin/bbtoken-rest',
       '  recorded as the package\'s doing, not the admin\'s (a2query)');
    # The mark a removal leaves too; but no removal disabled these, and the
    # next configure (the next upgrade) must not enable them again.
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure $version");
    is($rc, 0, 'the postinst, configure, after it') or diag $out;
    ok(!-e "/etc/apache2/conf-enabled/$_.conf", "  $_ stays disabled") for qw(bbtoken-rest bbtoken-page);
    unlike($out, qr/lacks "SetHandler default-handler"/, '  this release\'s dav snippet: no warning') or diag $out;
    ok(-l '/etc/apache2/conf-enabled/bbtoken-git.conf', 'bbtoken-git still enabled');
    ($rc, $out) = run('a2enconf -q bbtoken-rest');
    is($rc, 0, 'a2enconf bbtoken-rest again') or diag $out;
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure $version");
    ok(-l '/etc/apache2/conf-enabled/bbtoken-rest.conf', 'a reinstall of this release changes nothing enabled');
    ($rc, $out) = run('a2disconf -q bbtoken-rest');
    is($rc, 0, 'a2disconf bbtoken-rest') or diag $out;

    # One the admin edited and kept is still 0.2.0's (the new one beside it
    # as .dpkg-dist), with no guard that stops httpd: left as it was.
    my $f = '/etc/apache2/conf-available/bbtoken-page.conf';
    my $new = slurp($f);
    (my $kept = $new) =~ s{^<IfDefine !BBTOKEN_API_HOST>\n.*?^</IfDefine>\n}{}ms;
    isnt($kept, $new, 'the page\'s snippet without its guard, as 0.2.0\'s was');
    spew($f, $kept);
    ($rc, $out) = run('a2enconf -q bbtoken-page');
    is($rc, 0, 'a2enconf bbtoken-page, edited and kept') or diag $out;
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure 0.2.0");
    is($rc, 0, 'the postinst, configure 0.2.0') or diag $out;
    ok(-l '/etc/apache2/conf-enabled/bbtoken-page.conf', 'the edited one is left enabled');
    unlike($out, qr/disabled bbtoken-page/, '  and not said to be disabled');
    run('a2disconf -q bbtoken-page');
    spew($f, $new);

    # A copy in conf-enabled rather than a2enconf's link is the admin's,
    # left alone as an edited one is: a2disconf leaves it enabled with an
    # ERROR (and exit 0), and the postinst said it had disabled it.
    my $copy = '/etc/apache2/conf-enabled/bbtoken-rest.conf';
    (my $old = slurp('/etc/apache2/conf-available/bbtoken-rest.conf'))
        =~ s{^<IfDefine !BBTOKEN_API_HOST>\n.*?^</IfDefine>\n}{}ms;
    spew($copy, $old);
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure 0.2.0");
    is($rc, 0, 'the postinst, configure 0.2.0, with bbtoken-rest copied into conf-enabled') or diag $out;
    is(slurp($copy), $old, '  the copy is left as it is');
    unlike($out, qr/disabled bbtoken-rest|^ERROR:/m, '  and nothing says it was disabled') or diag $out;
    unlink $copy;

    # 0.2.0's dav snippet, edited and kept, has no SetHandler
    # default-handler: a security fix the upgrade must not pass over.
    $f = '/etc/apache2/conf-available/bbtoken-dav.conf';
    $new = slurp($f);
    ($kept = $new) =~ s{^\s*SetHandler default-handler\n}{}m;
    isnt($kept, $new, 'the dav snippet without SetHandler default-handler, as 0.2.0\'s was');
    spew($f, $kept);
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure 0.2.0");
    is($rc, 0, 'the postinst, configure 0.2.0, with that dav snippet') or diag $out;
    like($out, qr/warning: \Q$f\E lacks "SetHandler default-handler"/, '  warns of it');
    spew($f, $new);
};

subtest 'lintian' => sub {
    waitpid $lintian, 0;
    my $status = $?;
    undef $lintian;
    my $out = slurp("$tmp/lintian.out");
    is($status, 0, 'lintian ran and passed') or diag $out;
    my @tags = $out =~ /^([EWO]): $PKG[^:]*: (\S+)/mg;
    my (%errors, %explain);
    while (my ($sev, $tag) = splice @tags, 0, 2) {
        if ($sev eq 'E') { $errors{$tag} = 1 } else { $explain{$tag} = 1 }
    }
    is_deeply([sort keys %errors], [], 'no lintian errors') or diag $out;
    ok($out !~ /^E:/m, 'lintian reports no error at all') or diag $out;
    # The README says no errors and no warnings: one not overridden (W:,
    # where an override prints O:) would make it untrue.
    is_deeply([$out =~ /^([EW]: .*)$/mg], [], 'no error or warning that is not overridden') or diag $out;
    my $readme = slurp('README');
    for my $tag (sort keys %explain) {
        like($readme, qr/\b\Q$tag\E\b/, "lintian's $tag is explained in the README");
    }
    note $out;
};

($rc, $out) = run("dpkg -r $PKG");
is($rc, 0, 'dpkg -r') or diag $out;
subtest 'after dpkg -r' => sub {
    ok(!-e "/etc/apache2/mods-enabled/bbtoken.$_", "mods-enabled/bbtoken.$_ gone") for 'load', 'conf';
    ok(!-e '/etc/apache2/conf-enabled/bbtoken-git.conf', 'conf-enabled/bbtoken-git.conf gone');
    my @dangling = grep { -l $_ && !-e $_ } glob '/etc/apache2/{mods,conf,sites}-enabled/*';
    is_deeply(\@dangling, [], 'no dangling enabled links');
    my ($rc, $out) = run('apache2ctl configtest');
    is($rc, 0, 'apache2ctl configtest') or diag $out;
    # Removed, not purged: dpkg still owns the conffiles, so make install
    # still refuses, and names what frees them.
    my $prefix = "$tmp/usr-local-removed";
    ($rc, $out) = run("make -f apxs.mk install PREFIX=$prefix");
    isnt($rc, 0, 'make install still refuses') or diag $out;
    like($out, qr{^install: /etc/apache2/mods-available/bbtoken\.load belongs to the Debian package $PKG$}m,
         '  the conffiles still the package\'s') or diag $out;
    like($out, qr{^install: refused: .*purge the package first \(apt-get purge $PKG\b}m,
         '  and says purge, which frees them') or diag $out;
    ok(!-e $prefix, '  nothing written under PREFIX');
    my $i = BBT::SysApache->new("$tmp/removed");
    my ($up, $log) = $i->start;
    ok($up, 'apache2 starts') or diag $log;
    ok($i->status('/'), 'and answers') if $up;
    $i->stop;
};

# The removal disabled the module and each snippet (dh_apache2's prerm,
# through apache2_invoke: a2query says 33, disabled by a maintainer
# script); the install after it enables again those that were enabled,
# and no other: not one the admin disabled (32), and nothing at a first
# install.  Left disabled, the admin's site that includes a snippet
# stopped httpd.  What stays off: t/63-deb-reinstall.t.
subtest 'the install after dpkg -r enables again what the removal disabled' => sub {
    is(a2query('-m', 'bbtoken'), 33, 'control: the module disabled by a maintainer script');
    my ($rc, $out) = run("dpkg -i $deb", DEBIAN_FRONTEND => 'noninteractive');
    is($rc, 0, 'dpkg -i the.deb') or diag $out;
    ok(-l "/etc/apache2/mods-enabled/bbtoken.$_", "  mods-enabled/bbtoken.$_ again") for 'load', 'conf';
    ok(-l '/etc/apache2/conf-enabled/bbtoken-git.conf', '  bbtoken-git again');
    ok(!-e "/etc/apache2/conf-enabled/bbtoken-$_.conf", "  bbtoken-$_, not enabled then, is not")
        for qw(dav svn rest page metrics);
    ($rc, $out) = run('apache2ctl configtest');
    is($rc, 0, '  apache2ctl configtest passes') or diag $out;

    # The admin's deployment: dav, the API's site (which includes
    # bbtoken-rest.conf), and metrics enabled and then disabled by the admin.
    # (dav_fs, which bbtoken-dav needs, is disabled again after the
    # purge, with the others a2enmod enabled.)
    for my $c ('a2enmod -q dav_fs', 'a2enconf -q bbtoken-dav', 'a2enconf -q bbtoken-metrics',
               'a2disconf -q bbtoken-metrics') {
        ($rc, $out) = run($c);
        is($rc, 0, $c) or diag $out;
    }
    is(a2query('-c', 'bbtoken-metrics'), 32, 'control: bbtoken-metrics disabled by the admin');
    my $site = '/etc/apache2/sites-available/bbtoken-api-t63.conf';
    spew($site, "<VirtualHost 127.0.0.1:80>\n    ServerName tokens.invalid\n    Define BBTOKEN_API_HOST\n"
                . "    Include conf-available/bbtoken-rest.conf\n    UnDefine BBTOKEN_API_HOST\n</VirtualHost>\n");
    ($rc, $out) = run('a2ensite -q bbtoken-api-t63');
    is($rc, 0, 'a2ensite, a site that includes bbtoken-rest.conf') or diag $out;
    ($rc, $out) = run('apache2ctl configtest');
    is($rc, 0, 'apache2ctl configtest') or diag $out;

    ($rc, $out) = run("dpkg -r $PKG");
    is($rc, 0, 'dpkg -r') or diag $out;
    ok(!-e $_, "  $_ disabled") for '/etc/apache2/mods-enabled/bbtoken.load',
        map {"/etc/apache2/conf-enabled/bbtoken-$_.conf"} qw(git dav);
    ($rc, $out) = run('apache2ctl configtest');
    like($out, qr{bbtoken-rest\.conf needs mod_bbtoken: a2enmod bbtoken}, '  the site stops httpd (README)') or diag $out;
    # Kept off by the admin after the removal: a2disconf alone says it is
    # already disabled, and leaves the removal's mark; -p takes it away.
    ($rc, $out) = run('a2disconf -p -q bbtoken-git');
    is($rc, 0, 'a2disconf -p bbtoken-git') or diag $out;

    ($rc, $out) = run("dpkg -i $deb", DEBIAN_FRONTEND => 'noninteractive');
    is($rc, 0, 'dpkg -i the.deb') or diag $out;
    ok(-l "/etc/apache2/mods-enabled/bbtoken.$_", "  mods-enabled/bbtoken.$_ again") for 'load', 'conf';
    ok(-l '/etc/apache2/conf-enabled/bbtoken-dav.conf', '  bbtoken-dav again');
    ok(!-e "/etc/apache2/conf-enabled/bbtoken-$_.conf", "  bbtoken-$_, the admin's to enable, is not") for qw(git metrics);
    is(a2query('-c', 'bbtoken-metrics'), 32, '  and still disabled by the admin');
    is(a2query('-m', 'bbtoken'), 0, '  a2query: the module enabled');
    ok(!-e "/var/lib/apache2/$_", "  no $_ left") for 'module/disabled_by_maint/bbtoken',
        'conf/disabled_by_maint/bbtoken-dav';
    ($rc, $out) = run('apache2ctl configtest');
    is($rc, 0, '  apache2ctl configtest passes again') or diag $out;

    run('a2dissite -q bbtoken-api-t63');
    unlink $site;
};

($rc, $out) = run("dpkg --purge $PKG");
is($rc, 0, 'dpkg --purge') or diag $out;
ok(!installed($PKG), 'purged');
ok(!-e $_ && !-l $_, "purge removed $_, which the postinst made")
    for '/etc/apache2/bbtoken-dbd.conf', '/etc/apache2/bbtoken-api-dbd.conf';
ok(!-e "/var/lib/$PKG", "and /var/lib/$PKG, its record of them");
# The administrator's own a2enmod turned on mod_dbd too (and cgid and
# dav_fs above); that is theirs to undo, not the package's.
for my $m ($h->mods_added) {
    ($rc, $out) = run("a2dismod -q $m");
    is($rc, 0, "a2dismod $m (enabled by the admin's a2enmod)") or diag $out;
}

# A DBDParams file that was there before the package is the admin's, and
# so is a link to a secret kept elsewhere (not there yet): an install
# leaves them, and so does purge.
subtest 'purge leaves the DBDParams files the package did not make' => sub {
    my $dbd = '/etc/apache2/bbtoken-dbd.conf';
    my $api = '/etc/apache2/bbtoken-api-dbd.conf';
    my $mine = "# the admin's, from before the package\n";
    my $umask = umask 077;
    spew($dbd, $mine);
    umask $umask;
    my $to = "$tmp/not-mounted-yet/bbtoken-api-dbd.conf";
    symlink($to, $api) or die "$api: $!";
    my ($rc, $out) = run("dpkg -i $deb", DEBIAN_FRONTEND => 'noninteractive');
    is($rc, 0, 'dpkg -i the.deb, the admin\'s bbtoken-dbd.conf and link to bbtoken-api-dbd.conf there') or diag $out;
    # Purged before: a first install again, which enables nothing.
    ok(!-e '/etc/apache2/mods-enabled/bbtoken.load', 'the module is not enabled');
    ok(!glob('/etc/apache2/conf-enabled/bbtoken-*'), 'no snippet is enabled');
    ($rc, $out) = run("dpkg --purge $PKG");
    is($rc, 0, 'dpkg --purge') or diag $out;
    is(slurp($dbd), $mine, "$dbd is left");
    is(readlink($api) // '(gone)', $to, "$api, a link, is left");
    ok(!-e "/var/lib/$PKG", "/var/lib/$PKG is gone");
    unlink $dbd, $api;
};

$h->as_before;

done_testing;
