package BBT::DebHarness;

# What every test that installs the Debian package on this machine
# (t/63-deb, -admin, -notice, -older, -reinstall) does first and last: it
# skips where it must not install the package (deb_missing; foreign,
# asked once the others are waited for), works from the tree's top in a
# directory of its own, holds the system's state (BBT::SysState:
# /etc/apache2 locked, it and /var/lib/apache2 saved) and
# at its exit, however it ends (done, a failed test, die, BAIL_OUT),
# stops what it started and puts that state back, the package purged.
#
#   use BBT::DebHarness qw($PKG run ok_run);
#   my $h = BBT::DebHarness->new('debadm', @tools);  # or plan skip_all
#   my $tmp = $h->tmp;
#   $h->at_end(sub { ... });       # what the test started, stopped first
#   my ($deb) = $h->tree_deb;      # the .deb t/63 built, or built: tested
#   ...
#   $h->mods_back;                 # the test's a2enmod undone: tested
#   $h->as_before;                 # /etc/apache2 as it was: tested
#
# The END below runs before File::Temp's (loaded first), which removes
# the directory that holds what restore puts back, and before Test::More's
# verdict; a test uses this module after the others whose END it must
# precede, as it would have placed its own END after them.

use strict;
use warnings;
use FindBin;
use Test::More;
use File::Temp qw(tempdir);
use BBT::SysState qw(deb_missing run_out);

use Exporter 'import';
our @EXPORT_OK = qw($PKG run ok_run);

our $PKG = 'libapache2-mod-bbtoken';

# What every such test needs of this machine, before its own @tools.
my @TOOLS = qw(dpkg-buildpackage dh_apache2 apt-get a2enmod);

# The harnesses made, each put back at the exit whatever happened; each
# holds its lock (in its BBT::SysState) to then, through the restore.
my @held;
END {
    local $?;
    $_->cleanup for reverse @held;
}

# A shell command's exit code and its output (stderr too), with %env set
# for it alone.
sub run { return run_out(@_) }

# A command that must succeed, as one test named by it; its output.
sub ok_run {
    my ($cmd) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = run($cmd, DEBIAN_FRONTEND => 'noninteractive');
    is($rc, 0, $cmd) or diag $out;
    return $out;
}

# The test skipped (plan skip_all, which exits) where it must not install
# the package here; else the system held, in $tmp, a new directory named
# bbt-$name-XXXXXX, and the modules enabled now noted.
sub new {
    my ($class, $name, @tools) = @_;
    if (my $why = deb_missing($PKG, @TOOLS, @tools)) {
        plan skip_all => $why;
    }
    my $root = "$FindBin::Bin/..";
    chdir $root or die "$root: $!";
    my $tmp = tempdir("bbt-$name-XXXXXX", DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => !$ENV{BBT_KEEP});
    chmod 0755, $tmp;
    my $self = bless { tmp => $tmp, at_end => [], sys => BBT::SysState->new($tmp, $PKG) }, $class;
    # Known to END before hold changes anything: restore puts back
    # whatever hold got to.  Another run of a t/63 test, or t/62 copying
    # /etc/apache2, is waited for; only then is the package asked about:
    # one a t/63 running meanwhile installed is purged by then.
    # policy-rc.d and man-db's trigger: see BBT::SysState.
    push @held, $self;
    $self->{sys}->wait_lock;
    if (my $why = $self->{sys}->foreign) {
        $self->{sys}->unlock;
        plan skip_all => $why;
    }
    $self->{sys}->hold;
    $self->{mods_before} = { map { $_ => 1 } enabled_mods() };
    return $self;
}

sub tmp { $_[0]{tmp} }

# The modules enabled now (each one's .load in mods-enabled).
sub enabled_mods { return map { m{/([^/]+)\.load$} ? $1 : () } glob '/etc/apache2/mods-enabled/*.load' }

# $code run at the exit before the package is purged: it stops what the
# test started that uses the package.
sub at_end {
    my ($self, $code) = @_;
    push @{ $self->{at_end} }, $code;
}

# What the test started stopped, then the package purged and the system
# put back; once.  A stop that dies does not keep the rest from running.
sub cleanup {
    my ($self) = @_;
    return if $self->{cleaned}++;
    local $?;
    for my $code (@{ $self->{at_end} }) {
        eval { $code->(); 1 } or warn "stopping what the test started: $@";
    }
    $self->{sys}->restore;
}

# The .deb of the tree (BBT::SysState's tree_deb: the one t/63 built where
# the tree has not changed since), two tests: built, and there (else the
# test bails out); it, make deb's exit code and its output.
sub tree_deb {
    my ($self) = @_;
    my ($deb, $rc, $out) = BBT::SysState::tree_deb($PKG);
    is($rc, 0, 'the .deb of this tree') or diag substr($out, -3000);
    ok(-f $deb, $deb) or BAIL_OUT('no package');
    return ($deb, $rc, $out);
}

# The modules enabled now that were not when the test began: mod_dbd and
# the others the test's a2enmod enabled, the admin's to undo, not the
# package's.
sub mods_added {
    my ($self) = @_;
    return grep { !$self->{mods_before}{$_} } enabled_mods();
}

# Those disabled again, each a test (ok_run); with $again, the modules
# enabled when the test began and since disabled (as the admin may) are
# enabled again too.
sub mods_back {
    my ($self, $again) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok_run("a2dismod -q $_") for $self->mods_added;
    return unless $again;
    for my $m (sort keys %{ $self->{mods_before} }) {
        ok_run("a2enmod -q $m") unless -e "/etc/apache2/mods-enabled/$m.load";
    }
}

# A test: /etc/apache2 is as it was when the test began.
sub as_before {
    my ($self) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_deeply([$self->{sys}->changed('/etc/apache2')], [], '/etc/apache2 is as it was');
}

1;
