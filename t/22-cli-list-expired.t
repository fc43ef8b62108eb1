# `bbtoken list NAME` holds a holder's expired tokens (until purge) with
# the live ones: --json says which is which by "expired" (a boolean), and
# the table by "(expired)" after the date.  A script that revokes or
# warns by that flag must not take a dead token for a live one, nor a
# live one for dead.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my (undef, $live) = $env->token_create('alice', name => 'live', expiry_days => 30);
my (undef, $never) = $env->token_create('alice', name => 'never');
my (undef, $dead) = $env->token_create('alice', name => 'dead', expiry_days => 30);
$env->expire_token($dead);

my %by = map { $_->{id} => $_ } @{ $env->cli_json('list', 'alice') };
is(scalar keys %by, 3, 'list --json: the three tokens');
ok(JSON::PP::is_bool($by{$_}{expired}), "$_: expired is a boolean") for $live, $never, $dead;
ok(!$by{$live}{expired}, 'the live token with an expiry: not expired');
ok(!$by{$never}{expired}, 'the token without an expiry: not expired');
ok($by{$dead}{expired}, 'the expired token: expired');

my %row = map { /^(\d{12})\s/ ? ($1 => $_) : () } split /\n/, $env->cli_ok('list', 'alice');
like($row{$dead} // '', qr/\(expired\)/, 'the table: the expired token marked (expired)');
unlike($row{$live} // '', qr/\(expired\)/, '  the live one not');
like($row{$never} // '', qr/\snever\s/, '  the one without an expiry: never');

done_testing();
