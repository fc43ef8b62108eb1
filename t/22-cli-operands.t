# Operands that begin with "-".  The CLI reads options before, between and
# after the operands (README documents `list NAME --json`), so a value a
# wrapper script passes on is an option when it looks like one: with
# ID=--user=conc, `bbtoken revoke "$ID"` is `bbtoken revoke --user=conc`,
# and revoked every token of conc.  No parser can tell those apart; "--"
# can, and every usage text says so.  What it can tell: a --help in place
# of an operand the command needs (`bbtoken user disable "$N"`, N=--help)
# did nothing and exited 0; now it exits 2.  An option that names what the
# operand would (revoke's --user, list's --all) given with an operand is
# bad usage, nothing done.  The README's usages with options after the
# operands keep working.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add('conc');
$env->user_add('alice');
my (undef, $c1) = $env->token_create('conc', name => 'one');
my (undef, $c2) = $env->token_create('conc', name => 'two');
my (undef, $a1) = $env->token_create('alice', name => 'ci');

sub live {
    my ($user) = @_;
    return $env->psql("SELECT count(*) FROM bbtoken_tokens t JOIN bbtoken_users u ON u.id = t.user_id"
                      . " WHERE u.name = '$user' AND t.revoked_at IS NULL");
}
sub active { $env->psql("SELECT active FROM bbtoken_users WHERE name = '$_[0]'") }
sub state {
    return $env->psql('SELECT string_agg(id || coalesce(revoked_at::text, \'\') || name, \',\' ORDER BY id)'
                      . ' FROM bbtoken_tokens') . ' ' . $env->psql('SELECT string_agg(name || active, \',\')'
                                                                   . ' FROM bbtoken_users');
}

subtest 'the reviewer\'s values, passed on after --: taken as operands' => sub {
    my $ID = '--user=conc';
    $env->cli_is('revoke -- "$ID"', ['revoke', '--', $ID], 1, stderr => qr/^bbtoken: not a token id/);
    is(live('conc'), 2, '  conc\'s tokens are live');
    my $N = '--help';
    $env->cli_is('user disable -- "$N"', ['user', 'disable', '--', $N], 1,
                 stderr => qr/^bbtoken: invalid user name: --help$/);
    my $NAME = '--all';
    $env->cli_is('list --json -- "$NAME"', ['list', '--json', '--', $NAME], 1,
                 stderr => qr/^bbtoken: invalid user name: --all$/);
};

# N=--help; bbtoken user disable "$N" printed the usage and exited 0,
# having disabled nobody.
subtest '--help in place of a needed operand: usage, exit 2, nothing done' => sub {
    my $before = state();
    for my $a (['user', 'disable', '--help'], ['user', 'enable', '-h'], ['user', 'add', '--help'],
               ['user', 'set', '--help', '--no-email'], ['user', 'show', '--help', '--json'], ['revoke', '--help'],
               ['rotate', '--help'], ['update', '--help', '--name', 'x'], ['grant', 'alice', 'REPO_READ', '--help'],
               ['grant', '--help', 'REPO_READ', 'PROJ/repo'], ['ungrant', 'alice', '--help'],
               ['create', '--help', '--name', 'x'], ['list', '--help', '--json'], ['project', '--help', '--json']) {
        my ($rc, $out, $err) = $env->cli(@$a);
        is($rc, 2, "bbtoken @$a: exit 2") or diag $err;
        like($out, qr/\AUsage: bbtoken /, '  the usage on stdout');
        like($err, qr/\Abbtoken: [^\n]* takes [^\n]*: only the usage was shown \(an operand that begins with - goes after --\)\n\z/,
             '  one line on stderr says nothing was done');
    }
    is(state(), $before, 'no token, user or grant changed');
    is(active('conc'), 't', 'conc is enabled');
};

subtest '--help with the operands given: usage, exit 0' => sub {
    for my $a (['user', 'disable', 'conc', '--help'], ['revoke', $c1, '--help'], ['revoke', '--user', 'conc', '-h'],
               ['list', '--all', '--help'], ['create', '--project', 'PROJ', '--help'], ['audit', '--help'],
               ['policy', '--help']) {
        $env->cli_is("bbtoken @$a", $a, 0, stdout => qr/\AUsage: bbtoken /);
    }
    is(live('conc'), 2, 'conc\'s tokens are live');
    is(active('conc'), 't', 'conc is enabled');
};

# An option naming what the operand would, beside an operand: which was
# meant cannot be known.
subtest 'an operand with an option that names another target: exit 2, nothing done' => sub {
    my $before = state();
    for my $a (['revoke', $c1, '--user=conc'], ['revoke', '--user=conc', $a1], ['revoke', $a1, '--project', 'PROJ'],
               ['revoke', $a1, '--repo', 'PROJ/repo'], ['list', 'alice', '--all'], ['list', '--all', 'alice', '--json'],
               ['list', 'alice', '--project', 'PROJ'], ['list', 'alice', '--repo', 'PROJ/repo'],
               ['list', 'alice', '--owner', 'conc'], ['create', 'alice', '--project', 'PROJ', '--name', 'x'],
               ['create', 'alice', '--repo', 'PROJ/repo', '--name', 'x'], ['audit', 'alice', '--project', 'PROJ']) {
        $env->cli_is("bbtoken @$a", $a, 2, stderr => qr/\Abbtoken: \S[^\n]*\n\nUsage: bbtoken /);
    }
    is(state(), $before, 'no token, user or grant changed');
};

subtest '-- ends the options: its options before it' => sub {
    $env->cli_is('grant -- alice REPO_READ PROJ/repo', ['grant', '--', 'alice', 'REPO_READ', 'PROJ/repo'], 0);
    my $out = $env->cli_is('list --json -- alice', ['list', '--json', '--', 'alice'], 0);
    is(scalar @{ decode_json($out) }, 1, '  alice\'s one token');
    $out = $env->cli_is('create --name deploy -- alice', ['create', '--name', 'deploy', '--', 'alice'], 0,
                        stdout => qr/\A\S+\n\z/);
    $env->cli_is('revoke -- ID', ['revoke', '--', $a1], 0);
    is(live('alice'), 1, '  revoked: alice has the new token alone');
    $env->cli_is('list -- alice --json: --json is an operand after --', ['list', '--', 'alice', '--json'], 2,
                 stderr => qr/\Abbtoken: list takes one NAME/);
};

# README's usages with options after the operands.
subtest 'options after the operands, as README writes them' => sub {
    $env->cli_is('user add NAME --admin --email', ['user', 'add', 'dora', '--admin', '--email', 'dora@example.com'], 0);
    $env->cli_is('user set NAME --no-admin --display-name',
                 ['user', 'set', 'dora', '--no-admin', '--display-name', 'Dora'], 0);
    my $out = $env->cli_is('user show NAME --json', ['user', 'show', 'dora', '--json'], 0);
    is_deeply([@{ decode_json($out) }{qw(name admin displayName)}], ['dora', JSON::PP::false, 'Dora'], '  as set');
    $env->cli_is('grant, ungrant', ['ungrant', 'alice', 'PROJ/repo'], 0);
    $out = $env->cli_is('create NAME --name --perm --expiry-days --allow-from',
                        ['create', 'dora', '--name', 'ci', '--perm', 'REPO_READ', '--expiry-days', '30',
                         '--allow-from', '10.0.0.0/8'], 0);
    $out = $env->cli_is('list NAME --json', ['list', 'dora', '--json'], 0);
    my ($t) = @{ decode_json($out) };
    is_deeply([$t->{name}, $t->{permissions}, $t->{allowedAddresses}],
              ['ci', ['PROJECT_READ', 'REPO_READ'], ['10.0.0.0/8']], '  the token as made');
    $env->cli_is('update ID --name', ['update', $t->{id}, '--name', 'ci2'], 0);
    $env->cli_is('rotate ID', ['rotate', $t->{id}], 0, shape => 0, stdout => qr/\A\S+\n\z/);
    $env->cli_is('project KEY --repo-admins-manage-tokens no --json',
                 ['project', 'PROJ', '--repo-admins-manage-tokens', 'no', '--json'], 0,
                 stdout => qr/"repoAdminsManageTokens": false/);
    $env->cli_is('audit NAME --since 1d --json', ['audit', 'dora', '--since', '1d', '--json'], 0,
                 stdout => qr/"event": "rotated"/);
    $env->cli_is('revoke ID', ['revoke', $c1], 0);
    $env->cli_is('user disable NAME', ['user', 'disable', 'conc'], 0);
    is(active('conc'), 'f', '  conc is disabled');
};

# Every usage the CLI prints says how to pass such a value.
subtest 'every usage text documents --' => sub {
    my ($rc, $main) = $env->cli('--help');
    like($main, qr/^  --  +end the options: each word after it is an operand/m, 'bbtoken --help');
    for my $c (['user'], ['grant'], ['ungrant'], ['create'], ['list'], ['update'], ['revoke'], ['rotate'],
               ['expiring'], ['purge'], ['audit'], ['policy'], ['project'], ['notify'], ['db']) {
        my ($rc, $out) = $env->cli(@$c, '--help');
        like($out, qr/-- ends\nthem: each word after it is an operand, even one that begins with -/,
             "bbtoken @$c --help");
    }
};

done_testing;
