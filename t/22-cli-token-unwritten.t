# A token is shown once, by `create` (and `rotate`), on stdout: if stdout
# cannot take it (a full disk, a closed pipe) the token is not made, and
# rotate leaves the old token live.  A token committed that nobody saw
# would be a live credential that no one holds, and the administrator,
# told nothing went wrong, would hand out nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
my $RUN = $env->dir . '/run';

# bbtoken --db <superuser> @args, its stdout /dev/full: (exit code,
# stderr).
sub to_full {
    my ($rc, undef, $err) = $env->cli_to_full(@_);
    return ($rc, $err);
}

sub count { $env->psql($_[0]) }

$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');

subtest 'create, stdout full: exit 1, no token made' => sub {
    my ($rc, $err) = to_full('create', 'alice', '--name', 'unseen');
    is($rc, 1, 'exit 1') or diag $err;
    like($err, qr/\Abbtoken: cannot write the token to stdout \(No space left on device\); no token was created\n\z/,
         'one line: the write failed, nothing made');
    is(count("SELECT count(*) FROM bbtoken_tokens WHERE name = 'unseen'"), 0, 'no row in bbtoken_tokens');
    is(count("SELECT count(*) FROM bbtoken_audit WHERE event = 'created'"), 0, 'no created record in the audit trail');

    ($rc, $err) = to_full('create', '--project', 'PROJ', '--name', 'unseen');
    is($rc, 1, 'a project\'s token: exit 1') or diag $err;
    is(count("SELECT count(*) FROM bbtoken_tokens WHERE name = 'unseen'"), 0, '  no row');
};

subtest 'rotate, stdout full: exit 1, the old token still live, no new one' => sub {
    my (undef, $id) = $env->token_create('alice', name => 'kept');
    my ($rc, $err) = to_full('rotate', $id);
    is($rc, 1, 'exit 1') or diag $err;
    like($err, qr/\Abbtoken: cannot write the token to stdout \(No space left on device\); token $id was not rotated\n\z/,
         'one line: the write failed, not rotated');
    is(count("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL AND id = '$id'"), 1, 'the old token is live');
    is(count("SELECT count(*) FROM bbtoken_tokens WHERE rotated_from = '$id'"), 0, 'no successor');
    is(count("SELECT count(*) FROM bbtoken_tokens WHERE user_id IS NOT NULL"), 1, 'alice holds one token');
};

done_testing();
