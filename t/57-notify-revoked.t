# bbtoken notify: owners told of tokens revoked by an administrator (the
# CLI, or a global admin over the REST API's function) or as leaked, and
# rotated by an administrator (told as rotated, not revoked; not the
# owner's own rotation over the REST API's function), each notice once; a
# token's UTF-8 name in the Subject (RFC 2047) and the body (base64); no
# token value in any message.  Mail goes through the stand-in sendmail
# (BBT::Notify, t/mail/sendmail).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Encode qw(decode);
use BBT::Env;
use BBT::Notify;

my $env = BBT::Env->new(httpd => 0)->start;
notify_start($env);

$env->user_add('alice', '--email', 'alice@example.com');
$env->user_add('carol', '--email', 'carol@example.com');
$env->user_add('dave', '--email', 'dave@example.com');
$env->user_add('erin', '--email', 'erin@example.com');
$env->user_add('root', '--admin', '--email', 'root@example.com');

# A live token, never due: the one an unknown revocation reason must leave
# alone.
my $far = mk('alice', 'far', created => "now() - interval '100 days'", expires => "now() + interval '60 days'");

subtest 'revoked by an administrator: the CLI, a global admin over HTTP; not the owner' => sub {
    my $cli = mk_cli('dave', 'by cli');
    my $own = mk_cli('dave', 'by dave');
    my $adm = mk_cli('dave', 'by root');
    my $utf = mk_cli('erin', "cl\x{c3}\x{a9} \x{e2}\x{82}\x{ac} " . "\x{f0}\x{9f}\x{94}\x{91} d\x{c3}\x{a9}ploiement");
    $env->cli_ok('revoke', $cli);
    $env->cli_ok('revoke', $utf);
    # What httpd's REST API calls, as the owner and as a global admin.
    $env->psql("SELECT set_config('bbtoken.client_addr', '192.0.2.1', false), bbtoken_api_revoke('dave', 'dave', '$own')");
    $env->psql("SELECT set_config('bbtoken.client_addr', '192.0.2.2', false), bbtoken_api_revoke('root', 'dave', '$adm')");
    is($env->psql("SELECT source || ' ' || actor FROM bbtoken_audit WHERE event = 'revoked' AND token_id = '$adm'"),
       'http root', 'control: the audit says root revoked it over HTTP');
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    my ($d) = grep { to_of($_) eq 'dave@example.com' } @$m;
    ok($d, 'dave is mailed') or return;
    is($d->{subject}, '2 notices about your access tokens', 'two notices');
    like($d->{body}, qr/^Token "by cli" \(id $cli\)\n  was revoked by an administrator on \S+Z\.  It no longer works\.$/m,
         'revoked with the CLI');
    like($d->{body}, qr/^Token "by root" \(id $adm\)\n  was revoked by an administrator on /m,
         'revoked by a global admin over HTTP');
    unlike($d->{body}, qr/$own/, 'not the one dave revoked himself');
    is($d->{headers}{'content-transfer-encoding'}[0], '7bit', 'an ASCII body goes as it is');
    my ($e) = grep { to_of($_) eq 'erin@example.com' } @$m;
    ok($e, 'erin is mailed') or return;
    my $name = decode('UTF-8', "cl\x{c3}\x{a9} \x{e2}\x{82}\x{ac} \x{f0}\x{9f}\x{94}\x{91} d\x{c3}\x{a9}ploiement");
    is($e->{subject}, "Access token \"$name\" was revoked by an administrator",
       'a UTF-8 name in the Subject, RFC 2047 encoded');
    like($e->{headers}{subject}[0], qr/\A=\?UTF-8\?B\?[A-Za-z0-9+\/=]+\?=(?:\n =\?UTF-8\?B\?[A-Za-z0-9+\/=]+\?=)*\z/,
         'as encoded words, folded');
    ok(!grep({ length > 76 } split /\n/, (split /\n\n/, $e->{raw}, 2)[0]), 'no header line over 76 characters');
    is($e->{headers}{'content-transfer-encoding'}[0], 'base64', 'a UTF-8 body goes base64');
    like(decode('UTF-8', $e->{body}), qr/^Token "\Q$name\E" \(id $utf\)$/m, 'the body names it in UTF-8');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && @$m == 0, 'once') or diag $out;
};

subtest 'rotated by an administrator: told as rotated; not the owner\'s own rotation' => sub {
    my $rot = mk_cli('carol', 'rotated by cli');
    my $own = mk_cli('carol', 'rotated by carol');
    my $out = $env->cli_ok('rotate', $rot);
    chomp $out;
    push @SECRETS, $out;
    my $p = BBT::Env::parse_token($out) or die "no token printed: $out";
    my $new = $p->{id};
    # What httpd's REST API calls when carol rotates her own token.
    my $own_new = '900000000057';
    $env->psql("SELECT set_config('bbtoken.source', 'http', false), set_config('bbtoken.actor', 'carol', false),"
               . " bbtoken_api_rotate('carol', 'carol', NULL, NULL, '$own', '$own_new', salt, secret_hash)"
               . " FROM bbtoken_tokens WHERE id = '$own'");
    is($env->psql("SELECT string_agg(event, ',' ORDER BY id) FROM bbtoken_audit WHERE token_id = '$rot'"
                  . " AND event IN ('revoked', 'rotated')"),
       'revoked,rotated', 'control: the old token has a revoked and then a rotated record');
    my ($rc, $err, $m);
    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is(scalar @$m, 1, 'one message') or return;
    is(to_of($m->[0]), 'carol@example.com', 'to carol');
    is($m->[0]{subject}, 'Access token "rotated by cli" was rotated by an administrator', 'the Subject says rotated');
    like($m->[0]{body}, qr/^Token "rotated by cli" \(id $rot\)\n  was rotated by an administrator on \S+Z: a new token with the same name\n  and permissions replaces it, and this one no longer works\.$/m,
         'the body says rotated, and by whom');
    unlike($m->[0]{body}, qr/revoked/, 'not revoked');
    unlike($m->[0]{body}, qr/$own|$own_new|$new/, 'not the one carol rotated herself, nor the new tokens');
    is_deeply(notices($rot), { revoked => 'carol@example.com' }, 'recorded');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && @$m == 0, 'once') or diag $out;
    # The new token, revoked later: its own rotated record does not make
    # it rotated.
    $env->cli_ok('revoke', $new);
    ($rc, $out, $err, $m) = notify();
    is(scalar @$m, 1, 'the new token revoked: one message') or return;
    is($m->[0]{subject}, 'Access token "rotated by cli" was revoked by an administrator', 'told as revoked');
    like($m->[0]{body}, qr/^Token "rotated by cli" \(id $new\)\n  was revoked by an administrator on /m, 'the new id');
};

subtest 'revoked as leaked: the event the revoke-by-value API will write' => sub {
    my $l1 = mk_cli('dave', 'leaked one');
    my $l2 = mk_cli('dave', 'leaked two');
    # The reason given in the revoking transaction: the trigger writes
    # revoked_leaked instead of revoked.
    $env->psql("BEGIN; SELECT set_config('bbtoken.source', 'http', true), set_config('bbtoken.actor', 'leak report', true),"
               . " set_config('bbtoken.client_addr', '203.0.113.9', true),"
               . " set_config('bbtoken.revoke_reason', 'leaked', true);"
               . " UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$l1'; COMMIT");
    is($env->psql("SELECT string_agg(event || ' ' || source || ' ' || host(client_addr) || ' ' || detail, ',')"
                  . " FROM bbtoken_audit WHERE token_id = '$l1' AND event LIKE 'revoked%'"),
       "revoked_leaked http 203.0.113.9 name 'leaked one'", 'audit: revoked_leaked, with the address');
    # A record written straight into the audit beside a plain revocation:
    # the leak is what the owner is told.
    $env->psql("SELECT bbtoken_audit_write('revoked_leaked', '$l2', 'dave', 'name ''leaked two''', 'http',"
               . " 'leak report', '198.51.100.7'); UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$l2'");
    my ($rc, $out, $err) = $env->psql_try("BEGIN; SET LOCAL bbtoken.revoke_reason = 'bored';"
                                          . " UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$far'; COMMIT");
    ok($rc != 0 && $err =~ /unknown revocation reason 'bored'/, 'an unknown reason is refused') or diag $err;
    is($env->token_row($far)->{revoked_at}, '', '... and the token is not revoked');
    my $m;
    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is(scalar @$m, 1, 'one message') or return;
    like($m->[0]{body}, qr/^Token "leaked one" \(id $l1\)\n  was revoked on \S+Z because its value was reported as leaked \(reported from 203\.0\.113\.9\)\.$/m,
         'leaked one: revoked as leaked, reported from its address');
    like($m->[0]{body}, qr/^Token "leaked two" \(id $l2\)\n  was revoked on \S+Z because its value was reported as leaked \(reported from 198\.51\.100\.7\)\.$/m,
         'leaked two: as leaked, not as by an administrator');
    unlike($m->[0]{body}, qr/administrator on/, 'no administrator revocation');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && @$m == 0, 'once') or diag $out;
};

no_secrets_mailed(5, 30);

done_testing;
