package BBT::DebOlder;

# Older packages for the Debian tests (t/63-deb-older, t/63-deb-admin,
# t/63-deb-notice): the tree's .deb with what differs put back.  0.2.0's
# had dh_apache2's prerm alone, a postinst that made bbtoken-dbd.conf and
# recorded nothing, and a purge that removed that file alone, and nothing
# in /var/lib/libapache2-mod-bbtoken, which it did not know; the 0.3.0
# builds before migration 61 had the migrations up to 60.  Building those
# releases would cost minutes and a checkout.
#
#   my $v020 = deb_020($deb, $tmp);
#   my $v60 = deb_migrations_upto($deb, $tmp, 'old60', '0.3.0', 60);
#   my $other = older_deb($deb, $tmp, $name, $version, $postinst, $edit);
#
# Each is made in $tmp/$name (unpacked) and $tmp/$name.deb (returned).

use strict;
use warnings;
use Exporter 'import';
use BBT::Util qw(slurp spew);

our @EXPORT_OK = qw(older_deb deb_020 deb_migrations_upto);

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

# 0.2.0's postrm, before dh_apache2's part.
my $POSTRM_020_PURGE = <<'EOF';
if [ "$1" = "purge" ]; then
    rm -f /etc/apache2/bbtoken-dbd.conf /etc/apache2/bbtoken-dbd.conf.dpkg-tmp
fi
EOF

# The tree's package $deb as an older one, $name in $tmp: $version, the
# changes made by $edit (given the unpacked tree), and with $postinst (its
# text) dh_apache2's prerm alone, that postinst, and no preinst.
sub older_deb {
    my ($deb, $tmp, $name, $version, $postinst, $edit) = @_;
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

# 0.2.0's package, as $tmp/old020.deb.
sub deb_020 {
    my ($deb, $tmp) = @_;
    return older_deb($deb, $tmp, 'old020', '0.2.0', $POSTINST_020, sub {
        my ($dir) = @_;
        my $postrm = slurp("$dir/DEBIAN/postrm");
        $postrm =~ s/\A.*?(?=^# Automatically added by dh_apache2)//ms or die 'no dh_apache2 part in the postrm';
        spew("$dir/DEBIAN/postrm", "#!/bin/sh\nset -e\n$POSTRM_020_PURGE$postrm", 0755);
    });
}

# The tree's package as $version, with the migrations after $upto taken
# out: the schema version its postinst records (the module's and the
# CLI's aside, not run) is $upto.
sub deb_migrations_upto {
    my ($deb, $tmp, $name, $version, $upto) = @_;
    return older_deb($deb, $tmp, $name, $version, undef, sub {
        my ($dir) = @_;
        my $mig = "$dir/usr/share/mod-bbtoken/sql/migrations";
        my @later = grep { m{/0*(\d+)_[^/]*\.sql\z} && $1 > $upto } glob "$mig/*.sql";
        die "no migration after $upto" unless @later;
        unlink @later or die "$mig: $!";
        my $sums = slurp("$dir/DEBIAN/md5sums");
        $sums =~ s{^\S+\s+usr/share/mod-bbtoken/sql/migrations/0*(\d+)_\S*\n}{$1 > $upto ? '' : $&}gme;
        spew("$dir/DEBIAN/md5sums", $sums);
    });
}

1;
