# The install after dpkg -r enables again what the removal disabled (t/63),
# but leaves no snippet enabled that stops httpd: none while the module is
# off (the admin's a2dismod -p after the removal, as the README says to
# keep it off), each said and its record dropped; and none that fails
# apache2ctl configtest (a module it needs turned off since), disabled
# again, alone (the others stay), said, and enabled by the next install
# once it passes.  Before, those were enabled: configtest failed, the
# install skipped the reload and succeeded, and the next start or reload
# left httpd down.  The purge at the end removes a DBDParams file the
# postinst made and the .dpkg-tmp a configure cut short left, not the
# admin's link put in place of the other one it made.  On this
# machine, as t/63, under its lock, with the .deb t/63 built where the tree
# has not changed since; whatever happens, the package is purged and
# /etc/apache2 and /var/lib/apache2 are put back at the end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Util qw(slurp spew);
use BBT::SysState qw(installed a2query);
use BBT::DebHarness qw($PKG run ok_run);

my $h = BBT::DebHarness->new('debre');
my $tmp = $h->tmp;
my ($deb, $rc, $out) = $h->tree_deb;
note $out if $rc == 0 && length $out < 200;

sub dpkg_i { my ($deb) = @_; return run("dpkg -i $deb", DEBIAN_FRONTEND => 'noninteractive') }

($rc, $out) = run("apt-get install -y --no-install-recommends ./$deb", DEBIAN_FRONTEND => 'noninteractive');
is($rc, 0, 'apt-get install ./the.deb') or diag $out;
ok(installed($PKG), "$PKG installed") or BAIL_OUT('not installed');

my $warn = "$PKG: warning:";
my $made = "/var/lib/$PKG";
my $version = slurp('VERSION') =~ s/\s+\z//r;

subtest 'the module kept off after dpkg -r: no snippet enabled again' => sub {
    ok_run($_) for 'a2enmod -q bbtoken', 'a2enconf -q bbtoken-metrics', 'apache2ctl configtest';
    ok_run("dpkg -r $PKG");
    is(a2query('-c', 'bbtoken-metrics'), 33, 'control: bbtoken-metrics disabled by the removal');
    ok(-e "$made/enabled-conf-bbtoken-metrics", '  and recorded as enabled before it');
    # As the README says, to keep the module off.
    ok_run('a2dismod -p -q bbtoken');
    my ($rc, $out) = dpkg_i($deb);
    is($rc, 0, 'dpkg -i the.deb') or diag $out;
    ok(!-e '/etc/apache2/mods-enabled/bbtoken.load', '  the module stays off');
    ok(!-e '/etc/apache2/conf-enabled/bbtoken-metrics.conf', '  and so does bbtoken-metrics, which needs it');
    like($out, qr/^\Q$warn\E not enabled again, since each needs the module bbtoken, which is not enabled: bbtoken-metrics \(/m,
         '  said, naming it') or diag $out;
    unlike($out, qr/Your configuration is broken/, '  apache2_invoke found nothing broken') or diag $out;
    ($rc, $out) = run('apache2ctl configtest');
    is($rc, 0, 'apache2ctl configtest') or diag $out;
    ok(!-e "$made/enabled-conf-bbtoken-metrics", 'its record dropped');
    ($rc, $out) = run("/var/lib/dpkg/info/$PKG.postinst configure $version");
    is($rc, 0, 'the postinst, configure, again') or diag $out;
    unlike($out, qr/warning/, '  says nothing more') or diag $out;
    ok(!-e '/etc/apache2/conf-enabled/bbtoken-metrics.conf', '  and enables nothing');
};

subtest 'a snippet whose module went since: disabled again, alone, enabled by the next install' => sub {
    ok_run($_) for 'a2enmod -q bbtoken dav_fs', 'a2enconf -q bbtoken-dav bbtoken-metrics', 'apache2ctl configtest';
    ok_run("dpkg -r $PKG");
    # The admin's, since: bbtoken-dav needs it (its Error).
    ok_run('a2dismod -q dav_fs');
    my ($rc, $out) = dpkg_i($deb);
    is($rc, 0, 'dpkg -i the.deb') or diag $out;
    ok(-l '/etc/apache2/mods-enabled/bbtoken.load', '  the module enabled again');
    ok(!-e '/etc/apache2/conf-enabled/bbtoken-dav.conf', '  bbtoken-dav disabled again');
    ok(-l '/etc/apache2/conf-enabled/bbtoken-metrics.conf', '  bbtoken-metrics, which passes, stays enabled');
    like($out, qr/^\Q$warn\E disabled again, since apache2ctl configtest fails with each enabled .*: bbtoken-dav \(/m,
         '  said, naming bbtoken-dav alone') or diag $out;
    ($rc, $out) = run('apache2ctl configtest');
    is($rc, 0, 'apache2ctl configtest') or diag $out;
    is(a2query('-c', 'bbtoken-dav'), 33, 'bbtoken-dav disabled as the removal left it');
    is(slurp("$made/enabled-conf-bbtoken-dav"), "$version\n", "  and recorded for the next install, by $version");
    ok(!-e "$made/enabled-conf-bbtoken-metrics", '  bbtoken-metrics not');

    ok_run('a2enmod -q dav_fs');
    ($rc, $out) = dpkg_i($deb);
    is($rc, 0, 'dav_fs enabled again: dpkg -i the.deb') or diag $out;
    ok(-l "/etc/apache2/conf-enabled/bbtoken-$_.conf", "  bbtoken-$_ enabled") for qw(dav metrics);
    unlike($out, qr/warning|Your configuration is broken/, '  nothing said') or diag $out;
    ($rc, $out) = run('apache2ctl configtest');
    is($rc, 0, 'apache2ctl configtest') or diag $out;
};

# The postinst's cp then mv of a DBDParams file, cut short between them,
# leaves the .dpkg-tmp.  A link in place of a file the postinst made (to a
# secret kept elsewhere, a mount not there yet) is the admin's.
subtest 'purge: what the postinst made goes, the admin\'s link in place of one stays' => sub {
    my ($dbd, $api) = map {"/etc/apache2/bbtoken-$_.conf"} 'dbd', 'api-dbd';
    ok(-e "$made/made-bbtoken-$_.conf", "control: $made/made-bbtoken-$_.conf, the postinst made it") for 'dbd', 'api-dbd';
    my $to = "$tmp/not-mounted-yet/bbtoken-api-dbd.conf";
    unlink $api or die "$api: $!";
    symlink $to, $api or die "$api: $!";
    spew("$dbd.dpkg-tmp", "# half made\n", 0600);
    my ($rc, $out) = run("dpkg --purge $PKG");
    is($rc, 0, 'dpkg --purge') or diag $out;
    ok(!-e $made, "$made gone");
    ok(!-e $dbd && !-l $dbd, "$dbd gone");
    ok(!-e "$dbd.dpkg-tmp", "  and $dbd.dpkg-tmp");
    is(readlink($api) // '(gone)', $to, "$api, the admin's link, stays");
    unlink $api, "$dbd.dpkg-tmp";
};

# mod_dbd and the others a2enmod enabled: the admin's to undo.
$h->mods_back;
$h->as_before;

done_testing;
