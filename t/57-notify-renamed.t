# bbtoken notify and a user renamed since a revocation or a rotation over
# the REST API: whether the owner did it themself is what the audit record
# says of that moment (its actor and its user, the names then), so their
# own is still not told as an administrator's, and a global admin's on
# their token still is.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Rest qw(rest_env);

my $env = rest_env(passwords => [alice => 'alice-Pa55-word', root => 'root-Pa55-word'],
                   users => [['alice', '--email', 'alice@example.com'], ['root', '--admin']]);
my $BASE = '/rest/access-tokens/latest/users';
my %NOCHECK = ('X-Atlassian-Token' => 'no-check');
my (undef, $own) = $env->token_create('alice', name => 'revoked by alice');
my (undef, $rot) = $env->token_create('alice', name => 'rotated by alice');
my (undef, $adm) = $env->token_create('alice', name => 'revoked by root');

my $res = $env->rest(DELETE => "$BASE/alice/$own", as => 'alice', headers => \%NOCHECK);
is($res->{status}, 204, 'alice revokes a token of hers over the REST API');
$res = $env->rest(POST => "$BASE/alice/$rot/rotate", as => 'alice', headers => \%NOCHECK);
is($res->{status}, 200, 'and rotates another');
$res = $env->rest(DELETE => "$BASE/alice/$adm", as => 'root', headers => \%NOCHECK);
is($res->{status}, 204, 'root, a global admin, revokes a third');
is($env->psql("SELECT string_agg(event || ' ' || source || ' ' || actor || ' ' || user_name, ',' ORDER BY id)"
              . " FROM bbtoken_audit WHERE token_id IN ('$own', '$rot', '$adm') AND event IN ('revoked', 'rotated')"),
   'revoked http alice alice,revoked http alice alice,rotated http alice alice,revoked http root alice',
   'control: the audit records, with the names then');

my @NOTIFY = ('notify', '--dry-run', '--from', 'tokens@git.example.com', '--sendmail', '/bin/true');
$env->psql("UPDATE bbtoken_users SET name = 'alicia' WHERE name = 'alice'");
my ($rc, $out, $err) = $env->cli(@NOTIFY);
is($rc, 0, 'alice renamed alicia: notify --dry-run, exit 0') or diag $err;
like($out, qr/^would mail alicia <alice\@example\.com>: 1 notice$/m, '  one notice for her') or diag $out;
like($out, qr/^Token "revoked by root" \(id $adm\)\n  was revoked by an administrator on /m,
     '  root\'s revocation told');
unlike($out, qr/\Q$own\E/, '  not her own revocation');
unlike($out, qr/\Q$rot\E/, '  nor her own rotation');
unlike($out, qr/rotated by an administrator/, '  nothing rotated by an administrator');
done_testing;
