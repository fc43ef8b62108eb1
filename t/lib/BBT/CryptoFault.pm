package BBT::CryptoFault;

# httpd whose OpenSSL fails to hash on demand, as when memory runs short:
# t/dso/cryptofail.c, built once per test and preloaded into every httpd
# the test starts (on top of what the harness preloads: the sanitizers'
# runtime, with BBT_SANITIZE).  A file of the environment's directory says
# what fails, read at every call: a token's HMAC (every EVP_MAC_final), an
# HMAC under a key set earlier (an EVP_MAC_init without a key: a leak
# report's hash of a token found, not its check), or its checksum's SHA-256
# (EVP_DigestUpdate of that message alone).
#
#   use BBT::CryptoFault qw(crypto_fault_preload crypto_fail);
#   crypto_fault_preload();          # before the first httpd starts
#   crypto_fail($env, 'hmac');       # the tokens' HMAC fails from now on
#   crypto_fail($env, 'hmac-reused'); # only an HMAC under a key reused
#   crypto_fail($env, 'checksum');   # their checksum does
#   crypto_fail($env);               # nothing fails
#
# Functions, not methods: BBT::Env stays as it is.

use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More ();
use BBT::Util qw(run_cmd spew);

use Exporter 'import';
our @EXPORT_OK = qw(crypto_fault_preload crypto_fail);

sub crypto_fault_preload {
    my $so = tempdir('bbt-cryptofail-XXXXXX', TMPDIR => 1, CLEANUP => 1) . '/cryptofail.so';
    my ($rc, $out, $err) = run_cmd(cmd => ['cc', '-shared', '-fPIC', '-O2', '-o', $so,
                                           "$BBT::Util::ROOT/t/dso/cryptofail.c", '-ldl']);
    Test::More::is($rc, 0, "httpd's failing OpenSSL builds") or Test::More::BAIL_OUT("cc: $out$err");
    no warnings 'redefine';
    my $harness = \&BBT::Httpd::httpd_env;
    *BBT::Httpd::httpd_env = sub {
        my %e = %{ $harness->(@_) };
        $e{LD_PRELOAD} = join ' ', grep { defined } $e{LD_PRELOAD}, $so;
        $e{BBT_CRYPTO_FAIL} = "$_[0]{dir}/crypto-fail";
        return \%e;
    };
    return $so;
}

# From now on, $what fails in httpd ('hmac', 'hmac-reused' or 'checksum');
# none: nothing.
sub crypto_fail {
    my ($env, $what) = @_;
    spew("$env->{dir}/crypto-fail", ($what // 'none') . "\n", 0644);
}

1;
