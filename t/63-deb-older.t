# The package after an older one, through dpkg on this machine.  An older
# package's prerm (0.2.0's, or 0.3.0's before it recorded anything) is
# dh_apache2's part alone: it disables what is enabled, leaving a2query's
# "disabled by maintainer script" (33), and records nothing.  The install
# after such a removal enables again the module and each snippet so marked
# (bbtoken-rest and bbtoken-page, which now go inside the API's own host,
# stay off, said), and says so; not one the admin disabled (32).  An
# upgrade, and the install after this package's own removal, which
# recorded nothing enabled, enable nothing.
# And each configure says when the schema version the module and bbtoken
# expect is not the one the package configured before expected (an older
# package recorded none), never on a reinstall of the same one.  0.2.0
# neither reads nor clears what this package records in
# /var/lib/libapache2-mod-bbtoken: a downgrade to it clears the records
# (this package's postrm), but for that of bbtoken-dbd.conf, which
# 0.2.0's purge removes whoever made it, and whatever is left there
# through 0.2.0 (this package removed before it was installed, its purge)
# the package back after it takes none of, nor enables from: each record
# names the version that wrote it, and the preinst of an install or
# upgrade from before 0.3.0~ clears that of bbtoken-api-dbd.conf, which
# names none.  Where a snippet
# enabled again fails apache2ctl configtest, it alone is disabled again.
#
# The older packages are the tree's .deb with what differs put back
# (BBT::DebOlder): 0.2.0's, a 0.3.0 that records nothing, and one whose
# migrations end at 60, as the 0.3.0 builds before 61 had.  On this
# machine, as t/63, under its
# lock; whatever happens, the package is purged and /etc/apache2 and
# /var/lib/apache2 are put back at the end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Util qw(slurp);
use BBT::SysState qw(installed a2query);
use BBT::Migrations qw(latest_version);
use BBT::DebOlder qw(older_deb deb_020 deb_migrations_upto);
use BBT::DebHarness qw($PKG run ok_run);

my $h = BBT::DebHarness->new('debold');
my $tmp = $h->tmp;
my ($deb) = $h->tree_deb;

my $made = "/var/lib/$PKG";
my $latest = latest_version();
my $version = slurp('VERSION') =~ s/\s+\z//r;
my $notice = "$PKG: notice: the module and bbtoken";

my $v020 = deb_020($deb, $tmp);
# A 0.3.0 that records nothing of what was enabled (nor makes the DBDParams
# files: this package's configure makes them, and records them for purge).
my $v030 = older_deb($deb, $tmp, 'old030', '0.3.0', "#!/bin/sh\nexit 0\n");
my $v60 = deb_migrations_upto($deb, $tmp, 'old60', '0.3.0', 60);

subtest 'the install after 0.2.0\'s removal enables again what it disabled' => sub {
    ok_run("dpkg -i $v020");
    ok(!-e $made, "0.2.0's install records nothing in $made");
    # 0.2.0's deployment: bbtoken-rest for every host, as 0.2.0 said (this
    # release's copy of it would stop httpd there: not started here), and
    # bbtoken-metrics the admin's to keep off.
    ok_run($_) for 'a2enmod -q bbtoken cgid', 'a2enconf -q bbtoken-git bbtoken-rest bbtoken-metrics',
        'a2disconf -q bbtoken-metrics';
    ok_run("dpkg -r $PKG");
    is(a2query('-m', 'bbtoken'), 33, 'control: the module disabled by the removal');
    is(a2query('-c', "bbtoken-$_"), 33, "control: bbtoken-$_ disabled by the removal") for qw(git rest);
    ok(!-e "$made/enabled-mod-bbtoken", '  and nothing recorded');
    my $out = ok_run("dpkg -i $deb");
    note $out;
    ok(-l "/etc/apache2/mods-enabled/bbtoken.$_", "  mods-enabled/bbtoken.$_ again") for 'load', 'conf';
    ok(-l '/etc/apache2/conf-enabled/bbtoken-git.conf', '  bbtoken-git again');
    like($out, qr/^\Q$PKG\E: the removal of the package before kept no record of what it disabled: .*: bbtoken bbtoken-git \(/m,
         '  said, naming them') or diag $out;
    ok(!-e '/etc/apache2/conf-enabled/bbtoken-rest.conf', 'bbtoken-rest, now only for the API\'s host, is not');
    like($out, qr/^\Q$PKG\E: left disabled by a maintainer script: bbtoken-rest \(bbtoken-rest and bbtoken-page now go inside the access-tokens API's own <VirtualHost>/m,
         '  said') or diag $out;
    is(a2query('-c', 'bbtoken-metrics'), 32, 'bbtoken-metrics, disabled by the admin, is not');
    my ($rc, $ct) = run('apache2ctl configtest');
    is($rc, 0, 'apache2ctl configtest') or diag $ct;
    ok_run("dpkg --purge $PKG");
};

# a2query tells the admin's a2dismod (32) from the removal's (33): the
# module the admin disabled before that removal is not taken as its.
subtest 'after 0.2.0\'s removal, the module the admin disabled before it stays off, not named' => sub {
    ok_run("dpkg -i $v020");
    ok_run($_) for 'a2enmod -q bbtoken cgid', 'a2enconf -q bbtoken-git', 'a2dismod -q bbtoken';
    ok_run("dpkg -r $PKG");
    is(a2query('-m', 'bbtoken'), 32, 'control: the module disabled by the admin');
    is(a2query('-c', 'bbtoken-git'), 33, 'control: bbtoken-git disabled by the removal');
    my $out = ok_run("dpkg -i $deb");
    like($out, qr/^\Q$PKG\E: the removal of the package before kept no record of what it disabled: .*: bbtoken-git \(/m,
         'the install names bbtoken-git alone as the removal\'s') or diag $out;
    is(a2query('-m', 'bbtoken'), 32, 'the module stays disabled by the admin');
    ok(!-e '/etc/apache2/conf-enabled/bbtoken-git.conf', '  and bbtoken-git, which needs it, off');
    ok_run("dpkg --purge $PKG");
};

subtest 'the schema: said after 0.2.0, and not on a reinstall' => sub {
    ok_run("dpkg -i $v020");
    my $out = ok_run("dpkg -i $deb");
    like($out, qr/^\Q$notice\E now expect database schema version $latest, and the package configured before \(0\.2\.0\) kept no record of the version it expected: right after the package, upgrade the database and run the grants again/m,
         'the upgrade from 0.2.0 says to upgrade the database, and run the grants again') or diag $out;
    is(slurp("$made/schema-version"), "$latest $version\n", "  $made/schema-version: $latest, by $version");
    $out = ok_run("dpkg -i $deb");
    unlike($out, qr/notice/, 'a reinstall says nothing') or diag $out;
    ok_run("dpkg -r $PKG");
    $out = ok_run("dpkg -i $deb");
    unlike($out, qr/notice/, 'nor does the install after its removal') or diag $out;
    ok_run("dpkg --purge $PKG");
    $out = ok_run("dpkg -i $v60");
    unlike($out, qr/notice/, 'a first install says nothing');
    is(slurp("$made/schema-version"), "60 0.3.0\n", "  $made/schema-version: 60, by 0.3.0");
    $out = ok_run("dpkg -i $deb");
    note $out;
    like($out, qr/^\Q$notice\E now expect database schema version $latest, and the package configured before \(0\.3\.0\) expected 60: right after the package, upgrade the database and run the grants again/m,
         "the upgrade from the one that expected 60 says so") or diag $out;
    $out = ok_run("dpkg -i $deb");
    unlike($out, qr/notice/, 'a reinstall says nothing') or diag $out;
    $out = ok_run("dpkg -i $v60");
    like($out, qr/^\Q$notice\E expect database schema version 60, older than the $latest the package configured before \(0\.3\.0\) expected: nothing takes the database back/m,
         'back to the one that expected 60: said, and not to upgrade') or diag $out;
    ok_run("dpkg --purge $PKG");
};

# bbtoken-api-dbd.conf, which this package made before 0.2.0 came in its
# place: the upgrade from 0.2.0 cannot tell it from one the admin made
# since, and the purge after it leaves it (README, "Install").
my $api = '/etc/apache2/bbtoken-api-dbd.conf';
sub purge_after_020 {
    ok_run("dpkg --purge $PKG");
    ok(-e $api, "  the purge leaves $api, made before 0.2.0 came");
    unlink $api;
}

# 0.2.0 neither reads nor clears what this package keeps in $made, and its
# purge leaves it there: kept through it, each is the record of another
# life of the package, and counts for nothing.
subtest 'this removal\'s records, then 0.2.0: the upgrade from it enables nothing' => sub {
    ok_run("dpkg -i $deb");
    ok_run($_) for 'a2enmod -q bbtoken cgid', 'a2enconf -q bbtoken-git';
    ok_run("dpkg -r $PKG");
    ok(-e "$made/enabled-$_", "control: the removal recorded $_ enabled") for 'mod-bbtoken', 'conf-bbtoken-git';
    # Back to 0.2.0, which enables nothing: the admin lives with the
    # module off, and upgrades.
    ok_run("dpkg -i $v020");
    is(a2query('-m', 'bbtoken'), 33, 'control: the module still disabled by the removal');
    my $out = ok_run("dpkg -i $deb");
    ok(!-e '/etc/apache2/mods-enabled/bbtoken.load', 'the upgrade leaves the module off');
    ok(!-e '/etc/apache2/conf-enabled/bbtoken-git.conf', '  and bbtoken-git');
    unlike($out, qr/kept no record of what it disabled/, '  and says nothing of it') or diag $out;
    ok(!glob("$made/enabled-*"), "  the records gone from $made");
    purge_after_020();
};

subtest 'unpacked after 0.2.0\'s removal, then 0.2.0 again: the upgrade from it enables nothing' => sub {
    ok_run("dpkg -i $v020");
    ok_run($_) for 'a2enmod -q bbtoken cgid', 'a2enconf -q bbtoken-git';
    ok_run("dpkg -r $PKG");
    ok_run("dpkg --unpack $deb");
    ok(-e "$made/after-removal", 'control: the unpack marked the install after a removal');
    ok_run("dpkg -i $v020");
    ok(!-e "$made/after-removal", 'back to 0.2.0, configured: the mark gone');
    is(a2query('-m', 'bbtoken'), 33, 'control: the module still disabled by the removal');
    my $out = ok_run("dpkg -i $deb");
    ok(!-e '/etc/apache2/mods-enabled/bbtoken.load', 'the upgrade leaves the module off');
    ok(!-e '/etc/apache2/conf-enabled/bbtoken-git.conf', '  and bbtoken-git');
    unlike($out, qr/kept no record of what it disabled/, '  and says nothing of it') or diag $out;
    ok_run("dpkg --purge $PKG");
};

subtest 'a record older than 0.2.0\'s removal: that removal taken as unrecorded' => sub {
    ok_run("dpkg -i $deb");
    ok_run($_) for 'a2enmod -q bbtoken cgid', 'a2enconf -q bbtoken-git';
    ok_run("dpkg -r $PKG");
    ok(-e "$made/removal-recorded", 'control: this removal recorded');
    ok_run("dpkg -i $v020");
    ok_run($_) for 'a2enmod -q bbtoken', 'a2enconf -q bbtoken-git bbtoken-metrics';
    ok_run("dpkg -r $PKG");
    is(a2query('-c', 'bbtoken-metrics'), 33, 'control: 0.2.0\'s removal disabled bbtoken-metrics');
    my $out = ok_run("dpkg -i $deb");
    ok(-l '/etc/apache2/mods-enabled/bbtoken.load', 'the module enabled again');
    ok(-l "/etc/apache2/conf-enabled/bbtoken-$_.conf", "  and bbtoken-$_") for qw(git metrics);
    like($out, qr/^\Q$PKG\E: the removal of the package before kept no record of what it disabled: .*: bbtoken bbtoken-git bbtoken-metrics \(/m,
         '  said, naming them') or diag $out;
    purge_after_020();
};

subtest 'through 0.2.0\'s purge: its records count for nothing, the schema\'s neither' => sub {
    ok_run("dpkg -i $deb");
    ok_run('a2enmod -q bbtoken');
    ok_run("dpkg -r $PKG");
    ok_run("dpkg -i $v020");
    ok_run("dpkg --purge $PKG");
    ok(-e "$made/$_", "control: 0.2.0's purge leaves $made/$_") for 'schema-version', 'enabled-mod-bbtoken';
    # A first install of 0.2.0, which expects schema version 3 and
    # enables nothing, and the upgrade from it.
    ok_run("dpkg -i $v020");
    my $out = ok_run("dpkg -i $deb");
    like($out, qr/^\Q$notice\E now expect database schema version $latest, and the package configured before \(0\.2\.0\) kept no record of the version it expected: right after the package, upgrade the database/m,
         'the upgrade says to upgrade the database') or diag $out;
    ok(!-e '/etc/apache2/mods-enabled/bbtoken.load', '  and enables nothing');
    purge_after_020();
};

# Older code, found again: where the snippets enabled again fail
# configtest, only those that fail are disabled again.
subtest 'after 0.2.0\'s removal, a snippet that fails configtest is disabled again, alone' => sub {
    ok_run("dpkg -i $v020");
    ok_run($_) for 'a2enmod -q bbtoken cgid dav_fs', 'a2enconf -q bbtoken-git bbtoken-dav';
    ok_run("dpkg -r $PKG");
    # The admin's, since: bbtoken-dav needs it (its Error).
    ok_run('a2dismod -q dav_fs');
    my $out = ok_run("dpkg -i $deb");
    ok(-l '/etc/apache2/mods-enabled/bbtoken.load', 'the module enabled again');
    ok(-l '/etc/apache2/conf-enabled/bbtoken-git.conf', '  and bbtoken-git, which passes configtest');
    ok(!-e '/etc/apache2/conf-enabled/bbtoken-dav.conf', 'bbtoken-dav, which fails it, is not');
    is(a2query('-c', 'bbtoken-dav'), 33, '  disabled as the removal left it');
    like($out, qr/^\Q$PKG\E: warning: disabled again, since apache2ctl configtest fails with .*: bbtoken-dav \(/m,
         '  said, naming it alone') or diag $out;
    my ($rc, $ct) = run('apache2ctl configtest');
    is($rc, 0, 'apache2ctl configtest') or diag $ct;
    ok_run("dpkg --purge $PKG");
};

subtest 'an upgrade enables nothing; nor does the install after this package\'s removal' => sub {
    ok_run("dpkg -i $v030");
    ok_run('a2enmod -q bbtoken');
    ok_run("dpkg -r $PKG");
    # The older package again, which enables nothing: the admin lives with
    # the module off, and upgrades.
    ok_run("dpkg -i $v030");
    is(a2query('-m', 'bbtoken'), 33, 'control: the module still disabled by the removal');
    my $out = ok_run("dpkg -i $deb");
    ok(!-e '/etc/apache2/mods-enabled/bbtoken.load', 'the upgrade leaves the module off');
    unlike($out, qr/kept no record of what it disabled/, '  and says nothing of it') or diag $out;
    ok_run("dpkg -r $PKG");
    ok(-e "$made/removal-recorded", 'this removal recorded (nothing enabled)');
    $out = ok_run("dpkg -i $deb");
    ok(!-e '/etc/apache2/mods-enabled/bbtoken.load', 'the install after it leaves the module off');
    unlike($out, qr/kept no record of what it disabled/, '  and says nothing of it') or diag $out;
    ok(!-e "$made/$_", "  $made/$_ gone") for 'after-removal', 'removal-recorded';
};

ok_run("dpkg --purge $PKG");
ok(!-e $made, "$made gone");
# mod_dbd and the others a2enmod enabled: the admin's to undo.
$h->mods_back;
$h->as_before;

done_testing;
