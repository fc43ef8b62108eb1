# The package after an older one, through dpkg on this machine.  An older
# package's prerm (0.2.0's, or 0.3.0's before it recorded anything) is
# dh_apache2's part alone: it disables what is enabled, leaving a2query's
# "disabled by maintainer script" (33), and records nothing.  The install
# after such a removal enables again the module and each snippet so marked
# (bbtoken-rest and bbtoken-page, which now go inside the API's own host,
# stay off, said), and says so; an upgrade, and the install after this
# package's own removal, which recorded nothing enabled, enable nothing.
# And each configure says when the schema version the module and bbtoken
# expect is not the one the package configured before expected (an older
# package recorded none), never on a reinstall of the same one.
#
# The older packages are the tree's .deb with what differs put back: its
# version, dh_apache2's prerm alone and a postinst that records nothing,
# as 0.2.0's did (it made bbtoken-dbd.conf); and one whose migrations end
# at 60, as the 0.3.0 builds before 61 had.  Building those releases
# would cost minutes and a checkout.  On this machine, as t/63, under its
# lock; whatever happens, the package is purged and /etc/apache2 and
# /var/lib/apache2 are put back at the end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use BBT::Util qw(slurp spew);
use BBT::SysState qw(installed a2query tree_deb);
use BBT::Migrations qw(latest_version);

my $PKG = 'libapache2-mod-bbtoken';

my ($sys, $cleaned);
sub cleanup {
    return if $cleaned++ || !$sys;
    local $?;
    $sys->restore;
}
END { cleanup() }

plan skip_all => 'installs a package on this machine: run as root' if $> != 0;
for my $tool (qw(dpkg-buildpackage dh_apache2 apt-get a2enmod)) {
    plan skip_all => "no $tool (build/deps.sh installs it)" if system("command -v $tool >/dev/null") != 0;
}
plan skip_all => "$PKG is installed on this machine: the test would remove it" if installed($PKG);

my $root = "$FindBin::Bin/..";
chdir $root or die "$root: $!";
my $tmp = tempdir('bbt-debold-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => !$ENV{BBT_KEEP});
chmod 0755, $tmp;

sub run {
    my ($cmd, %env) = @_;
    local @ENV{ keys %env } = values %env;
    my $out = qx{$cmd 2>&1};
    return ($? >> 8, $out);
}

sub ok_run {
    my ($cmd) = @_;
    my ($rc, $out) = run($cmd, DEBIAN_FRONTEND => 'noninteractive');
    is($rc, 0, $cmd) or diag $out;
    return $out;
}

$sys = BBT::SysState->new($tmp, $PKG);
$sys->hold;
my %mods_before = map { m{/([^/]+)\.load$} ? ($1 => 1) : () } glob '/etc/apache2/mods-enabled/*.load';

my ($deb, $rc, $out) = tree_deb($PKG);
is($rc, 0, 'the .deb of this tree') or diag substr($out, -3000);
ok(-f $deb, $deb) or BAIL_OUT('no package');

my $made = "/var/lib/$PKG";
my $latest = latest_version();
my $notice = "$PKG: notice: the module and bbtoken";

# 0.2.0's postinst: it made bbtoken-dbd.conf, and recorded nothing.
my $POSTINST_020 = <<'EOF';
#!/bin/sh
set -e
if [ "$1" = "configure" ] && [ ! -e /etc/apache2/bbtoken-dbd.conf ]; then
    (umask 077 && cp /usr/share/mod-bbtoken/bbtoken-dbd.conf /etc/apache2/bbtoken-dbd.conf.dpkg-tmp)
    mv /etc/apache2/bbtoken-dbd.conf.dpkg-tmp /etc/apache2/bbtoken-dbd.conf
fi
exit 0
EOF

# The tree's package as an older one: $version, the changes made by $edit
# (given the unpacked tree), and with $postinst (its text) dh_apache2's
# prerm alone, that postinst, and no preinst.
sub older_deb {
    my ($name, $version, $postinst, $edit) = @_;
    my $dir = "$tmp/$name";
    system('dpkg-deb', '-R', $deb, $dir) == 0 or die 'dpkg-deb -R';
    my $control = slurp("$dir/DEBIAN/control");
    $control =~ s/^Version: .*$/Version: $version/m or die 'no Version';
    spew("$dir/DEBIAN/control", $control);
    if (defined $postinst) {
        my $prerm = slurp("$dir/DEBIAN/prerm");
        $prerm =~ s/\A.*?(?=^# Automatically added by dh_apache2)//ms or die 'no dh_apache2 part in the prerm';
        spew("$dir/DEBIAN/prerm", "#!/bin/sh\nset -e\n$prerm", 0755);
        spew("$dir/DEBIAN/postinst", $postinst, 0755);
        unlink "$dir/DEBIAN/preinst";
    }
    $edit->($dir) if $edit;
    my $out = "$tmp/$name.deb";
    system("dpkg-deb -b $dir $out >/dev/null") == 0 or die 'dpkg-deb -b';
    return $out;
}

my $v020 = older_deb('old020', '0.2.0', $POSTINST_020);
# A 0.3.0 that records nothing of what was enabled (nor makes the DBDParams
# files: this package's configure makes them, and records them for purge).
my $v030 = older_deb('old030', '0.3.0', "#!/bin/sh\nexit 0\n");
# The migrations after 60 taken out: the schema version its postinst
# records, the module's and the CLI's aside (not run here), is 60.
my $v60 = older_deb('old60', '0.3.0', undef, sub {
    my ($dir) = @_;
    my $mig = "$dir/usr/share/mod-bbtoken/sql/migrations";
    my @later = grep { m{/0*(\d+)_[^/]*\.sql\z} && $1 > 60 } glob "$mig/*.sql";
    die 'no migration after 60' unless @later;
    unlink @later or die "$mig: $!";
    my $sums = slurp("$dir/DEBIAN/md5sums");
    $sums =~ s{^\S+\s+usr/share/mod-bbtoken/sql/migrations/0*(\d+)_\S*\n}{$1 > 60 ? '' : $&}gme;
    spew("$dir/DEBIAN/md5sums", $sums);
});

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
    ($rc, $out) = run('apache2ctl configtest');
    is($rc, 0, 'apache2ctl configtest') or diag $out;
    ok_run("dpkg --purge $PKG");
};

subtest 'the schema: said after 0.2.0, and not on a reinstall' => sub {
    ok_run("dpkg -i $v020");
    my $out = ok_run("dpkg -i $deb");
    like($out, qr/^\Q$notice\E now expect database schema version $latest, and the package configured before \(0\.2\.0\) kept no record of the version it expected: .*bbtoken db upgrade, then grants\.sql and grants-api\.sql/m,
         'the upgrade from 0.2.0 says to upgrade the database, then run the grants') or diag $out;
    is(slurp("$made/schema-version"), "$latest\n", "  $made/schema-version: $latest");
    $out = ok_run("dpkg -i $deb");
    unlike($out, qr/notice/, 'a reinstall says nothing') or diag $out;
    ok_run("dpkg -r $PKG");
    $out = ok_run("dpkg -i $deb");
    unlike($out, qr/notice/, 'nor does the install after its removal') or diag $out;
    ok_run("dpkg --purge $PKG");
    $out = ok_run("dpkg -i $v60");
    unlike($out, qr/notice/, 'a first install says nothing');
    is(slurp("$made/schema-version"), "60\n", "  $made/schema-version: 60");
    $out = ok_run("dpkg -i $deb");
    note $out;
    like($out, qr/^\Q$notice\E now expect database schema version $latest, and the package configured before \(0\.3\.0\) expected 60: .*bbtoken db upgrade, then grants\.sql and grants-api\.sql/m,
         "the upgrade from the one that expected 60 says so") or diag $out;
    $out = ok_run("dpkg -i $deb");
    unlike($out, qr/notice/, 'a reinstall says nothing') or diag $out;
    $out = ok_run("dpkg -i $v60");
    like($out, qr/^\Q$notice\E expect database schema version 60, older than the $latest the package configured before \(0\.3\.0\) expected: nothing takes the database back/m,
         'back to the one that expected 60: said, and not to upgrade') or diag $out;
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
for my $m (map { m{/([^/]+)\.load$} ? $1 : () } glob '/etc/apache2/mods-enabled/*.load') {
    ok_run("a2dismod -q $m") unless $mods_before{$m};
}
is_deeply([$sys->changed('/etc/apache2')], [], '/etc/apache2 is as it was');

done_testing;
