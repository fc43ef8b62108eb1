# OpenSSL failing to hash a token (out of memory): a right token is
# answered 503 with Retry-After (BBT058), never 401 (git would erase it
# from its credential store), whether its checksum's SHA-256 or its HMAC
# failed; nothing of it is kept in the cache as a refusal and nothing is
# counted by the failed-login throttle, so once OpenSSL works again the
# same token is let in at once.  httpd runs with a preloaded OpenSSL that
# fails on demand (t/dso/cryptofail.c); the throttle refuses tokens from a
# held-back address after 10 failures, so a count would show as 429.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(log_mark log_since served_from_cache);
use BBT::CryptoFault qw(crypto_fault_preload crypto_fail);

my $FAILS = 10;
crypto_fault_preload();
my $env = BBT::Env->new(throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600\n"
                                    . "BBTokenThrottleTokens refuse")->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my %tok;
for my $name (qw(ci fresh many warm)) {
    @{ $tok{$name} }{qw(secret id)} = $env->token_create('alice', name => $name);
}
sub as { return auth_bearer($tok{ $_[0] }{secret}) }

# The cache keeps what it is told (its listener is up): a refusal kept
# there would be answered after the fault.
ok(served_from_cache($env, $UP, as('warm'), $tok{warm}{id}), 'the cache answers tokens');

# Token $name, right, presented $n times while $what fails: each answer
# 503 with Retry-After; what the log said of them.
sub during {
    my ($what, $name, $n, $label) = @_;
    crypto_fail($env, $what);
    my $mark = log_mark($env);
    is_503($env->get($UP, as($name)), "$label, try $_") for 1 .. $n;
    crypto_fail($env);
    return log_since($env, $mark);
}

subtest 'the HMAC fails' => sub {
    my $log = during('hmac', 'ci', 1, 'the right token while its HMAC fails');
    like($log, qr/BBT058: token \Q$tok{ci}{id}\E could not be checked: its HMAC failed/,
         'BBT058 names the token and what failed');
    unlike($log, qr/BBT03[45]: /, 'no refusal logged (BBT034, BBT035)');
    is_ok_res($env->get($UP, as('ci')), 'OpenSSL working again: let in at once, no refusal kept in the cache');
};

subtest "the checksum's SHA-256 fails" => sub {
    # A token never presented: neither the cache nor a thread knows it,
    # so its checksum is computed.
    my $log = during('checksum', 'fresh', 1, "the right token while its checksum's SHA-256 fails");
    like($log, qr/BBT058: a token could not be checked: its checksum's SHA-256 failed/,
         'BBT058 says what failed, naming no token');
    unlike($log, qr/BBT03[45]: /, 'no refusal logged (BBT034, BBT035)');
    is_ok_res($env->get($UP, as('fresh')), 'OpenSSL working again: let in at once');
};

subtest 'nothing counted by the throttle' => sub {
    # More than the throttle lets fail; a checksum's answer is never kept,
    # so each of them computes it again.
    during('checksum', 'many', $FAILS + 1, 'the right token, again and again');
    is_ok_res($env->get($UP, as('many')), 'OpenSSL working again: let in, not held back (429)');
    is_ok_res($env->get($UP, as('ci')), 'and so is another token');
};
done_testing;
