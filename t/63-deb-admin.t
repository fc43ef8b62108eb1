# What is the admin's stays so through the package's removal, its install
# again and its purge (t/63).  The DBDParams files the admin made after
# 0.2.0's purge, which left this package's record of the ones it made,
# stay through the next purge: the first install drops that record, and
# so do a downgrade to 0.2.0 and the upgrade from it, for
# bbtoken-api-dbd.conf (a 0.2.0 purged and installed again in between
# leaves no trace).  The record of bbtoken-dbd.conf stays through them:
# back from a 0.2.0 never configured, the purge removes the file the
# package made, and leaves one of the admin's.  A removal tried again
# (its prerm run twice) keeps what the first run recorded as enabled, and
# the install after it enables that again.  With apache2ctl configtest
# failing before for a reason of the admin's (a site), the snippets
# enabled again are left enabled, not blamed and disabled, unless
# configtest's error then names one: that one is disabled again.  A
# module bbtoken.load depends on that the admin disabled since the
# removal is not enabled again with bbtoken: bbtoken stays off, said.
# On this machine, as t/63, under its lock, with the .deb t/63 built where
# the tree has not changed since; whatever happens, the package is purged
# and /etc/apache2 and /var/lib/apache2 are put back at the end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Util qw(slurp spew);
use BBT::SysState qw(installed a2query);
use BBT::DebOlder qw(deb_020);
use BBT::DebHarness qw($PKG run ok_run);

my $h = BBT::DebHarness->new('debadm');
my $tmp = $h->tmp;
my ($deb) = $h->tree_deb;

my $made = "/var/lib/$PKG";
my $warn = "$PKG: warning:";
my $v020 = deb_020($deb, $tmp);
my $version = (run("dpkg-deb -f $deb Version"))[1] =~ s/\s+\z//r;

subtest 'the admin\'s DBDParams files, made after 0.2.0\'s purge, stay through the next purge' => sub {
    my @dbd = map {"/etc/apache2/bbtoken-$_.conf"} 'dbd', 'api-dbd';
    ok(!-e $_, "control: no $_ yet") for @dbd;
    ok_run("dpkg -i $deb");
    ok(-e "$made/made-$_", "control: $made/made-$_, the package made it") for 'bbtoken-dbd.conf', 'bbtoken-api-dbd.conf';
    # Removed, then 0.2.0 in its place (whose install runs none of this
    # package's scripts), and purged: its purge removes bbtoken-dbd.conf,
    # knows nothing of bbtoken-api-dbd.conf, and leaves $made.
    ok_run("dpkg -r $PKG");
    ok_run("dpkg -i $v020");
    ok_run("dpkg --purge $PKG");
    ok(-e "$made/made-bbtoken-dbd.conf", "control: 0.2.0's purge leaves $made/made-bbtoken-dbd.conf");
    unlink $dbd[1];
    # The admin's own, made before the package is installed again.
    my %mine = map { $_ => "DBDParams \"host=db.invalid user=u password=admins-own-$$\" # $_\n" } @dbd;
    spew($_, $mine{$_}, 0600) for @dbd;
    ok_run("dpkg -i $deb");
    is(slurp($_), $mine{$_}, "the install leaves $_ as it was") for @dbd;
    ok(!-e "$made/made-$_", "  and records none as made by it") for 'bbtoken-dbd.conf', 'bbtoken-api-dbd.conf';
    ok_run("dpkg --purge $PKG");
    is(slurp($_), $mine{$_}, "the purge leaves $_") for @dbd;
    unlink @dbd;
};

# 0.2.0 made bbtoken-dbd.conf, recorded nothing, and its purge removed that
# file alone; a record of this package's that outlived it there cannot be
# told from one of the same life of the package.
subtest 'the admin\'s bbtoken-api-dbd.conf, made under 0.2.0, stays through the purge after the upgrade' => sub {
    my @dbd = map {"/etc/apache2/bbtoken-$_.conf"} 'dbd', 'api-dbd';
    for my $way ('a downgrade', 'a removal') {
        ok_run("dpkg -i $deb");
        ok_run("dpkg -r $PKG") if $way eq 'a removal';
        ok_run("dpkg -i $v020");
        if ($way eq 'a removal') {
            ok(-e "$made/made-bbtoken-api-dbd.conf", "control: $way and 0.2.0 in its place leave $made/made-bbtoken-api-dbd.conf");
        } else {
            is(join(' ', map { s{.*/}{}r } glob("$made/*")), 'made-bbtoken-dbd.conf',
               "$way to 0.2.0 leaves in $made the record of bbtoken-dbd.conf alone");
        }
        # Purged, and installed again: nothing of this package's runs.
        ok_run("dpkg --purge $PKG");
        unlink @dbd;
        ok_run("dpkg -i $v020");
        ok(-e $dbd[0], "control: 0.2.0 made $dbd[0]");
        my $mine = "DBDParams \"host=db.invalid user=bbtoken_api password=admins-own-$$\"\n";
        spew($dbd[1], $mine, 0600);
        ok_run("dpkg -i $deb");
        is(slurp($dbd[1]), $mine, "after $way: the upgrade from 0.2.0 leaves the admin's $dbd[1]");
        ok(!-e "$made/made-bbtoken-api-dbd.conf", '  and does not record it as made by the package');
        ok_run("dpkg --purge $PKG");
        is(-e $dbd[1] ? slurp($dbd[1]) : undef, $mine, "  the purge leaves it");
        ok(!-e $dbd[0], "  and removes $dbd[0], as 0.2.0's purge did");
        unlink @dbd;
    }
    # Without a purge in between nothing tells the two apart: the file this
    # release made before the downgrade stays too.
    ok_run("dpkg -i $deb");
    ok_run("dpkg -i $v020");
    ok_run("dpkg -i $deb");
    ok_run("dpkg --purge $PKG");
    ok(-e $dbd[1], "a downgrade to 0.2.0 and back: the purge leaves $dbd[1], which this release made");
    unlink @dbd;
};

# dpkg gives the postinst the version last configured: back from a 0.2.0
# only unpacked (a downgrade stopped before its configure, or one whose
# configure failed), that is this package's, and the postinst records
# nothing of 0.2.0's again.  What stands is this package's record from
# before: the file it made goes on purge, and one of the admin's that was
# there before it stays.
subtest 'a downgrade to 0.2.0 never configured, and back: the purge removes bbtoken-dbd.conf the package made' => sub {
    my @dbd = map {"/etc/apache2/bbtoken-$_.conf"} 'dbd', 'api-dbd';
    for my $whose ('the package\'s', 'the admin\'s') {
        ok(!-e $_, "control: no $_ yet") for @dbd;
        my $mine = "DBDParams \"host=db.invalid user=u password=admins-own-$$\"\n";
        spew($dbd[0], $mine, 0600) if $whose eq 'the admin\'s';
        ok_run("dpkg -i $deb");
        ok_run("dpkg --unpack $v020");
        my ($rc, $st) = run("dpkg-query -W -f='\${Version} \${Config-Version}' $PKG");
        is($st, "0.2.0 $version", "control: 0.2.0 unpacked, $version configured last");
        ok_run("dpkg -i $deb");
        ok_run("dpkg --purge $PKG");
        if ($whose eq 'the package\'s') {
            ok(!-e $dbd[0] && !-l $dbd[0], "$whose $dbd[0]: the purge removes it");
        } else {
            is(-e $dbd[0] ? slurp($dbd[0]) : undef, $mine, "$whose $dbd[0]: the purge leaves it");
        }
        # Already there at the upgrade from 0.2.0: the purge leaves it.
        ok(-e $dbd[1], "  and leaves $dbd[1], which this release made before 0.2.0 came");
        unlink @dbd;
    }
};

subtest 'a removal tried again keeps what its first try recorded as enabled' => sub {
    ok_run("dpkg -i $deb");
    ok_run($_) for 'a2enmod -q bbtoken cgid', 'a2enconf -q bbtoken-git bbtoken-metrics';
    # The API's site, as Self-service has it: it includes bbtoken-rest,
    # which stops httpd without the module.
    my $site = "bbtoken-api-t63-$$";
    spew("/etc/apache2/sites-available/$site.conf",
         "<VirtualHost 127.0.0.1:80>\n    ServerName tokens.invalid\n    Define BBTOKEN_API_HOST\n"
         . "    Include conf-available/bbtoken-rest.conf\n    UnDefine BBTOKEN_API_HOST\n</VirtualHost>\n");
    ok_run("a2ensite -q $site");
    ok_run('apache2ctl configtest');
    # dpkg's first try: the prerm runs to its end, and the removal stops
    # there (interrupted; or a later step failed).
    ok_run("DPKG_MAINTSCRIPT_NAME=prerm DPKG_MAINTSCRIPT_PACKAGE=$PKG /var/lib/dpkg/info/$PKG.prerm remove");
    is(a2query('-m', 'bbtoken'), 33, 'control: the first try disabled the module');
    ok(-e "$made/enabled-$_", "control: and recorded $_ as enabled")
        for 'mod-bbtoken', 'conf-bbtoken-git', 'conf-bbtoken-metrics';
    # The admin keeps bbtoken-metrics off, as the README says.
    ok_run('a2disconf -p -q bbtoken-metrics');
    # The removal again: the prerm runs again.
    ok_run("dpkg -r $PKG");
    ok(-e "$made/enabled-$_", "the second try keeps the record of $_") for 'mod-bbtoken', 'conf-bbtoken-git';
    ok(!-e "$made/enabled-conf-bbtoken-metrics", '  not of bbtoken-metrics, which the admin disabled since');
    my $out = ok_run("dpkg -i $deb");
    ok(-l '/etc/apache2/mods-enabled/bbtoken.load', 'the install after it enables the module again');
    ok(-l '/etc/apache2/conf-enabled/bbtoken-git.conf', '  and bbtoken-git');
    ok(!-e '/etc/apache2/conf-enabled/bbtoken-metrics.conf', '  not bbtoken-metrics');
    my ($rc, $ct) = run('apache2ctl configtest');
    is($rc, 0, 'apache2ctl configtest, with the API\'s site') or diag $ct;
    ok_run("a2dissite -q $site");
    unlink "/etc/apache2/sites-available/$site.conf";
    ok_run("dpkg --purge $PKG");
};

subtest 'configtest failing already, for a site of the admin\'s: the snippets enabled again stay' => sub {
    ok_run("dpkg -i $deb");
    ok_run($_) for 'a2enmod -q bbtoken cgid', 'a2enconf -q bbtoken-git bbtoken-metrics';
    ok_run("dpkg -r $PKG");
    my $site = "zz-broken-t63-$$";
    spew("/etc/apache2/sites-available/$site.conf",
         "<VirtualHost 127.0.0.1:80>\n    NoSuchDirectiveOfThisTest on\n</VirtualHost>\n");
    ok_run("a2ensite -q $site");
    my ($rc, $ct) = run('apache2ctl configtest');
    isnt($rc, 0, 'control: apache2ctl configtest fails, for the site') or diag $ct;
    my $out = ok_run("dpkg -i $deb");
    ok(-l '/etc/apache2/mods-enabled/bbtoken.load', 'the module enabled again');
    ok(-l "/etc/apache2/conf-enabled/bbtoken-$_.conf", "  and bbtoken-$_, not disabled again") for qw(git metrics);
    unlike($out, qr/disabled again/, '  none blamed') or diag $out;
    like($out, qr/^\Q$warn\E enabled again, though apache2ctl configtest fails: it failed already before .*: bbtoken-git bbtoken-metrics \(/m,
         '  said, naming them') or diag $out;
    ok(!-e "$made/enabled-conf-bbtoken-$_", "  the record of bbtoken-$_ gone") for qw(git metrics);
    ok_run("a2dissite -q $site");
    unlink "/etc/apache2/sites-available/$site.conf";
    ($rc, $ct) = run('apache2ctl configtest');
    is($rc, 0, 'the site gone, apache2ctl configtest passes') or diag $ct;
    ok_run("dpkg --purge $PKG");
};

# httpd reads conf-enabled before sites-enabled, and configtest stops at
# the first error: a snippet's hides the site's.
subtest 'configtest failing already, for a site: a snippet its error names once enabled is disabled again' => sub {
    ok_run("dpkg -i $deb");
    ok_run($_) for 'a2enmod -q bbtoken dav_fs cgid', 'a2enconf -q bbtoken-dav bbtoken-git';
    ok_run('apache2ctl configtest');
    ok_run("dpkg -r $PKG");
    ok_run('a2dismod -q dav_fs');
    my $site = "zz-broken-t63-$$";
    spew("/etc/apache2/sites-available/$site.conf",
         "<VirtualHost 127.0.0.1:80>\n    NoSuchDirectiveOfThisTest on\n</VirtualHost>\n");
    ok_run("a2ensite -q $site");
    my ($rc, $ct) = run('apache2ctl configtest');
    like($ct, qr{sites-enabled/\Q$site\E\.conf:}, 'control: apache2ctl configtest fails, for the site') or diag $ct;
    my $out = ok_run("dpkg -i $deb");
    ok(!-e '/etc/apache2/conf-enabled/bbtoken-dav.conf', 'bbtoken-dav, which needs mod_dav_fs, disabled again');
    is(a2query('-c', 'bbtoken-dav'), 33, '  as the removal left it');
    ok(-e "$made/enabled-conf-bbtoken-dav", '  and recorded for the next install');
    like($out, qr/^\Q$warn\E disabled again, since apache2ctl configtest fails with each enabled .*: bbtoken-dav \(/m,
         '  said') or diag $out;
    ok(-l '/etc/apache2/conf-enabled/bbtoken-git.conf', 'bbtoken-git, which configtest does not name, stays enabled');
    like($out, qr/^\Q$warn\E enabled again, though apache2ctl configtest fails: .*: bbtoken-git \(/m,
         '  said') or diag $out;
    ok_run("a2dissite -q $site");
    unlink "/etc/apache2/sites-available/$site.conf";
    ($rc, $ct) = run('apache2ctl configtest');
    is($rc, 0, 'the site gone, apache2ctl configtest passes') or diag $ct;
    ok_run("dpkg --purge $PKG");
};

subtest 'a module bbtoken depends on, disabled by the admin since the removal: bbtoken stays off' => sub {
    ok_run("dpkg -i $deb");
    ok_run($_) for 'a2enmod -q bbtoken', 'a2enconf -q bbtoken-metrics';
    ok(-l '/etc/apache2/mods-enabled/socache_shmcb.load', 'control: a2enmod bbtoken enabled socache_shmcb');
    ok_run("dpkg -r $PKG");
    ok_run('a2dismod -q socache_shmcb');
    is(a2query('-m', 'socache_shmcb'), 32, 'control: socache_shmcb disabled by the admin');
    my $out = ok_run("dpkg -i $deb");
    is(a2query('-m', 'socache_shmcb'), 32, 'socache_shmcb stays disabled');
    is(a2query('-m', 'bbtoken'), 33, 'bbtoken stays off, as the removal left it');
    like($out, qr/^\Q$warn\E bbtoken, disabled by the removal, is not enabled again: .*: socache_shmcb \(enabling the module bbtoken enables them together\)/m,
         '  said, naming socache_shmcb') or diag $out;
    ok(!-e '/etc/apache2/conf-enabled/bbtoken-metrics.conf', 'bbtoken-metrics, which needs it, stays off');
    like($out, qr/^\Q$warn\E not enabled again, since each needs the module bbtoken, which is not enabled: bbtoken-metrics \(/m,
         '  said') or diag $out;
    my ($rc, $ct) = run('apache2ctl configtest');
    is($rc, 0, 'apache2ctl configtest') or diag $ct;
    ok_run("dpkg --purge $PKG");
};

ok_run("dpkg --purge $PKG");
ok(!-e $made, "$made gone");
# mod_dbd and the others a2enmod enabled, and socache_shmcb where the
# admin had it: the admin's to undo.
$h->mods_back('again');
$h->as_before;

done_testing;
