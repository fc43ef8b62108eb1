package BBT::SysState;

# What a test that installs a Debian package on this machine (t/63)
# changes of the system, held and put back: /etc/apache2 locked (another
# run of t/63, or t/62 copying /etc/apache2, waits for the lock), it and
# /var/lib/apache2 saved (a snapshot and a tar), invoke-rc.d kept from
# restarting the system's apache2, and man-db's trigger off; at the end
# the package purged and all of that put back.  And what dpkg says of
# this machine and of a .deb: installed, dpkg_excludes, deb_files; what
# a2query says of a module or a snippet; and the package built from the
# tree (tree_deb).
#
#   my $sys = BBT::SysState->new($tmp, $pkg);   # changes nothing yet
#   END { ...; $sys->restore }                  # whatever happened
#   $sys->wait_lock;                            # another t/62, t/63 done
#   if (my $why = $sys->foreign) { $sys->unlock; plan skip_all => $why }
#   $sys->hold;
#   $sys->changed('/etc/apache2');              # what differs from before
#
# new and hold are apart so that the END knows the object before hold
# changes anything: restore puts back whatever hold got to, and does
# nothing before hold's snapshot (plan skip_all exits through END too).
# wait_lock and hold are apart so that whether the package is installed
# is asked with the lock held: another t/63 that holds it may have
# installed the package, and purges it before it lets go, so that one
# found installed once the lock is had is the machine's own.  The END
# stops what the test started that uses the package before restore
# purges it.  The lock is held as long as the object is (to the test's
# exit), unless the test lets go of it to skip.  BBT::DebHarness does all
# this for the t/63-deb tests.

use strict;
use warnings;
use Fcntl qw(:flock);
use File::Find ();
use BBT::Util qw(slurp spew snapshot snapshot_diff);

use Exporter 'import';
our @EXPORT_OK = qw(installed dpkg_excludes deb_files a2query tree_deb deb_missing run_out);

my @DIRS = ('/etc/apache2', '/var/lib/apache2');
my $POLICY = '/usr/sbin/policy-rc.d';
my $MANDB_AUTO = '/var/lib/man-db/auto-update';

# Whether dpkg has $pkg, in any state but not-installed.
sub installed {
    my ($pkg) = @_;
    my $s = qx{dpkg-query -W -f='\${Status}' $pkg 2>/dev/null};
    return $s =~ /\binstalled\b|\bunpacked\b|half|config-files/ ? 1 : 0;
}

# Why a test that installs $pkg on this machine cannot run here, or undef:
# it must be root and have each of @tools.  Whether $pkg is installed is
# asked later, with the lock held (foreign).
sub deb_missing {
    my ($pkg, @tools) = @_;
    return 'installs a package on this machine: run as root' if $> != 0;
    for my $tool (@tools) {
        return "no $tool (build/deps.sh installs it)" if system("command -v $tool >/dev/null") != 0;
    }
    return undef;
}

# A shell command's exit code and its output (stderr too), with %env set
# for it alone.
sub run_out {
    my ($cmd, %env) = @_;
    local @ENV{ keys %env } = values %env;
    my $out = qx{$cmd 2>&1};
    return ($? >> 8, $out);
}

# dpkg may be told to leave out documentation (Debian's slim images):
# then those files are rightly missing.
sub dpkg_excludes {
    my ($path) = @_;
    my $out = 0;
    for my $f (glob '/etc/dpkg/dpkg.cfg.d/*') {
        for (split /\n/, slurp($f)) {
            next unless /^\s*path-(exclude|include)[=\s]+(\S+)/;
            my ($what, $re) = ($1, quotemeta $2);
            $re =~ s/\\\*/.*/g;
            $re =~ s/\\\?/./g;
            $out = $what eq 'exclude' if $path =~ /^$re\z/;
        }
    }
    return $out;
}

# The files of the .deb $deb (not its directories), as installed: paths
# from /, as dpkg-deb -c lists them (a link's followed by " -> " and its
# target).
sub deb_files {
    my ($deb) = @_;
    return map { (split ' ', $_, 6)[5] =~ s{^\.}{}r } grep { !/^d/ } split /\n/, qx{dpkg-deb -c $deb};
}

# a2query's exit code for a module (-m) or a snippet (-c): 0 enabled, 32
# disabled by the admin, 33 by a maintainer script, 1 neither.
sub a2query {
    my ($sw, $name) = @_;
    system("a2query -q $sw $name >/dev/null 2>&1");
    return $? >> 8;
}

# The .deb of $pkg that make deb makes from the tree (the current
# directory), and make deb's exit code and output.  One already in build/out
# is taken where it is newer than every file make deb copies (modified or
# put there: mtime and ctime), so that a test run after t/63, which builds
# it under the same lock, does not build it again; else it is built.
sub tree_deb {
    my ($pkg) = @_;
    chomp(my $version = slurp('VERSION'));
    chomp(my $arch = qx{dpkg-architecture -qDEB_HOST_ARCH});
    my $deb = "build/out/${pkg}_${version}_${arch}.deb";
    if (-f $deb) {
        my $built = (stat _)[9];
        my %skip = map { $_ => 1 } qw(./.git ./build/out ./build/obj ./build/deb ./build/asan ./t/browser/node_modules);
        my $newer;
        File::Find::find({ no_chdir => 1, wanted => sub {
            return $File::Find::prune = 1 if $skip{$_} || $newer;
            my @st = lstat $_;
            $newer = $_ if @st && ($st[9] >= $built || $st[10] >= $built);
        } }, '.');
        return ($deb, 0, "$deb is newer than the tree: not built again\n") unless $newer;
    }
    unlink $deb;
    my $out = qx{make -f apxs.mk deb 2>&1};
    return ($deb, $? >> 8, $out);
}

sub new {
    my ($class, $tmp, $pkg) = @_;
    return bless { pkg => $pkg, saved => "$tmp/apache2-state.tar", before => {} }, $class;
}

# /etc/apache2 locked: another run of a t/63 test, or t/62 copying
# /etc/apache2, holds it meanwhile, and is waited for.
sub wait_lock {
    my ($self) = @_;
    open my $lock, '<', '/etc/apache2' or die "/etc/apache2: $!";
    flock($lock, LOCK_EX) or die "flock /etc/apache2: $!";
    $self->{lock} = $lock;
    return $self;
}

# The lock let go of, by a test that skips: it has changed nothing.
sub unlock {
    my ($self) = @_;
    die 'unlock after hold' if $self->saved;
    close delete $self->{lock} if $self->{lock};
}

# Why, with the lock held, the test must leave the package alone, or
# undef: it is installed, and so not by another t/63 (which purges it
# before it lets go of the lock) but by whoever runs this machine.
sub foreign {
    my ($self) = @_;
    die 'foreign asked without the lock' unless $self->{lock};
    return installed($self->{pkg}) ? "$self->{pkg} is installed on this machine: the test would remove it" : undef;
}

# The system saved, and changed for the test; the lock taken first where
# it is not held yet.
sub hold {
    my ($self) = @_;
    $self->wait_lock unless $self->{lock};
    $self->{before} = { map { $_ => snapshot($_) } @DIRS };
    system('tar', '-cf', $self->{saved}, '-C', '/', map { s{^/}{}r } @DIRS) == 0 or die 'tar';

    # Maintainer scripts restart the system's apache2 through invoke-rc.d:
    # not here.
    if (!-e $POLICY) {
        spew($POLICY, "#!/bin/sh\nexit 101\n", 0755);
        $self->{made_policy} = 1;
    }

    # man-db's trigger re-indexes every manual page on the machine after
    # the install and again after dpkg -r: seconds each, and it can fail
    # nothing (its postinst runs mandb "|| true").  man finds the package's
    # pages without the index (t/63 checks); the file that turns the
    # trigger on is put back at the end (man-db only asks whether it is
    # there; it is empty), the index being as it was.
    my @mandb_auto = -z $MANDB_AUTO ? stat _ : ();
    $self->{mandb_auto} = \@mandb_auto;
    unlink $MANDB_AUTO or die "$MANDB_AUTO: $!" if @mandb_auto;
    return $self;
}

# Whether hold has taken its snapshot: before that it has changed nothing,
# and restore has nothing to put back.
sub saved { keys %{ $_[0]{before} } ? 1 : 0 }

# What differs in $dir (/etc/apache2 or /var/lib/apache2) from hold's
# snapshot.
sub changed { my ($self, $dir) = @_; return snapshot_diff($self->{before}{$dir}, snapshot($dir)) }

# The package purged (a package installed before hold is not the test's),
# then the system as hold found it.
sub restore {
    my ($self) = @_;
    return unless $self->saved;
    local $?;
    system("dpkg --purge $self->{pkg} >/dev/null 2>&1") if installed($self->{pkg});
    # Put back what a failure may have left.
    for my $dir (@DIRS) {
        my $now = snapshot($dir);
        for my $p (sort { length $b <=> length $a } grep { !exists $self->{before}{$dir}{$_} } keys %$now) {
            (-d $p && !-l $p) ? rmdir $p : unlink $p;
        }
    }
    system('tar', '-xf', $self->{saved}, '-C', '/') == 0 or warn "restoring /etc/apache2 and /var/lib/apache2 failed\n";
    for my $dir (@DIRS) {
        my @d = $self->changed($dir);
        warn "# $dir still differs:\n", map {"#   $_\n"} @d if @d;
    }
    unlink $POLICY if $self->{made_policy};
    my @mandb_auto = @{ $self->{mandb_auto} // [] };
    if (@mandb_auto && !-e $MANDB_AUTO) {
        if (open my $h, '>', $MANDB_AUTO) {
            close $h;
            chmod $mandb_auto[2] & 07777, $MANDB_AUTO;
            chown @mandb_auto[4, 5], $MANDB_AUTO;
            utime @mandb_auto[8, 9], $MANDB_AUTO;
        } else {
            warn "putting back $MANDB_AUTO failed: $!\n";
        }
    }
}

1;
