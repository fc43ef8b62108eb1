# bbtoken expiring without --within is --within 7d, the window the cron
# job in Install mails every morning: a token made to live 7 days is in
# it from its first second, one made to live 8 days is not (a day longer
# window would mail its owner a day early, a shorter one would miss the
# 7-day token).  No clock is waited on: a token's expiry is its creation
# plus its days, and every later now() is past its creation.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');

my (undef, $seven) = $env->token_create('alice', name => 'seven', expiry_days => 7);
my (undef, $eight) = $env->token_create('alice', name => 'eight', expiry_days => 8);

sub ids { [map { $_->{id} } @{ $env->cli_json('expiring', @_) }] }

is_deeply(ids(), [$seven], 'expiring: the 7-day token, not the 8-day one');
is_deeply(ids('--within', '7d'), [$seven], '--within 7d: the same');
is_deeply(ids('--within', '8d'), [$seven, $eight], '--within 8d: both');

my ($rc, $out, $err) = $env->cli('expiring');
is($rc, 0, 'the table: exit 0') or diag $err;
my @rows = grep { !/^EXPIRES/ } split /\n/, $out;
is(scalar @rows, 1, 'the table: one row') or diag $out;
like($rows[0] // '', qr/\s\Q$seven\E\s+seven\s/, '  the 7-day token');

done_testing();
