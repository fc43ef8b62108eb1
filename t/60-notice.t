# NOTICE names every library the built module and CLI are linked against
# (debian/copyright points to it for their licences): a library added to
# the link line and not to NOTICE makes this fail, naming it.
use strict;
use warnings;
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
open my $h, '<', "$root/NOTICE" or die "NOTICE: $!";
my $notice = do { local $/; <$h> };

# A shared object's soname, as readelf says it, to the name NOTICE gives
# its project.  The C library and the dynamic loader are the system's.
my %project = (
    qr/^libpq\.so/         => 'libpq',
    qr/^libcrypto\.so/     => 'OpenSSL',
    qr/^libssl\.so/        => 'OpenSSL',
    qr/^libpcre2-8\.so/    => 'PCRE2',
    qr/^libz\.so/          => 'zlib',
    qr/^libjansson\.so/    => 'Jansson',
    qr/^libapr(?:util)?-1\.so/ => 'APR',
);
my $system = qr/^(?:libc|libm|libpthread|libdl|ld-linux[-\w.]*)\.so/;

for my $bin ('build/out/mod_bbtoken.so', 'build/out/bbtoken') {
    ok(-f "$root/$bin", "$bin is built (make -f apxs.mk all)") or next;
    my @needed = map { /\(NEEDED\).*\[(.+)\]/ ? $1 : () } `readelf -d $root/$bin`;
    ok(@needed, "$bin: readelf names what it needs") or next;
    for my $so (@needed) {
        next if $so =~ $system;
        my ($name) = map { $so =~ $_ ? $project{$_} : () } keys %project;
        ok(defined $name, "$bin: $so is a library this test knows") or next;
        like($notice, qr/^\s+- [^\n]*\b\Q$name\E\b/m, "$bin: NOTICE names $name, for $so");
    }
}
done_testing();
