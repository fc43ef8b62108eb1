# An allow-list names each network once (migration 65): a list that names
# one network twice, however it is written ("10.0.0.0/8" twice,
# "127.0.0.1" and "127.0.0.1/32", "10.1" and "10.1.0.0/16",
# "2001:db8::/32" and "2001:0DB8:0::/32"), is refused alike by the CLI
# (create, update: exit 1) and the REST API (create, update, a personal, a
# project's and a repository's token: 400), naming the network as
# PostgreSQL writes it back, and nothing changes: no token, the old list
# kept, no audit record.  Networks that only overlap are two networks.  A
# list stored twice before version 65 is left as it is: its token still
# matches, is rotated with it (CLI and API), and its list can be replaced;
# given again as it is stored (CLI and API) it is no change and is taken,
# but any other list naming a network twice is refused.
# Real PostgreSQL and httpd.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Assert;
use BBT::Rest qw(rest_env);

my $env = rest_env(passwords => [alice => 'alice-Pa55-word'], repos => [[PROJ => 'repo']], users => ['alice'],
                   grants => [[alice => PROJECT_ADMIN => 'PROJ']]);
my $U = '/rest/access-tokens/1.0/users/alice';
my %XSRF = (headers => { 'X-Atlassian-Token' => 'no-check' });

sub call { my ($m, $p, %o) = @_; return $env->rest($m, $p, as => 'alice', %o) }
sub nets_of { return $env->psql("SELECT array_to_string(allowed_nets, ' ') FROM bbtoken_tokens WHERE id = '$_[0]'") }
sub count_of { return $env->psql($_[0]) }
sub audit_count { return count_of('SELECT count(*) FROM bbtoken_audit') }

# Each list names its network twice; the network as PostgreSQL writes it.
my @twice = ([['10.0.0.0/8', '10.0.0.0/8'], '10.0.0.0/8'],
             [['127.0.0.1', '127.0.0.1/32'], '127.0.0.1/32'],
             [['192.168.1.0/24', '10.1', '10.1.0.0/16'], '10.1.0.0/16'],
             [['2001:db8::/32', '2001:0DB8:0::/32'], '2001:db8::/32']);

sub twice_re { my ($net) = @_; return qr/^\Q$net\E: listed twice \(one network, however it is written\): an allow-list names each network once$/ }

sub is_refused_400 {
    my ($res, $net, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $msg = ref $res->{json} eq 'HASH' ? $res->{json}{errors}[0]{message} // '' : '';
    ok($res->{status} == 400 && $msg =~ twice_re($net), "$name: 400 naming $net") or diag "$res->{status} $msg";
}

subtest 'the REST API refuses a network twice' => sub {
    my $id = call(PUT => $U, json => { name => 'kept', permissions => ['REPO_READ'],
                                         allowedAddresses => ['192.0.2.0/24'] })->{json}{id};
    ok($id, 'a token with a list');
    for my $t (@twice) {
        my ($list, $net) = @$t;
        my ($tokens, $audit) = (count_of('SELECT count(*) FROM bbtoken_tokens'), audit_count());
        for my $p ($U, '/rest/access-tokens/1.0/projects/PROJ', '/rest/access-tokens/1.0/projects/PROJ/repos/repo') {
            is_refused_400(call(PUT => $p, json => { name => 'twice', permissions => ['REPO_READ'],
                                                     allowedAddresses => $list }),
                           $net, "create at $p with [@$list]");
        }
        is_refused_400(call(POST => "$U/$id", json => { name => 'renamed', allowedAddresses => $list }), $net,
                       "update with [@$list]");
        is(count_of('SELECT count(*) FROM bbtoken_tokens'), $tokens, '  no token made');
        is(nets_of($id), '192.0.2.0/24', '  the list kept');
        is(count_of("SELECT name FROM bbtoken_tokens WHERE id = '$id'"), 'kept', '  nor the rest of the update');
        is(audit_count(), $audit, '  no audit record');
    }
    my $res = call(POST => "$U/$id", json => { allowedAddresses => ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.3'] });
    is_ok_res($res, 'networks that overlap are as many networks');
    is_deeply($res->{json}{allowedAddresses}, ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.3/32'], '  stored as given');
};

subtest 'the CLI refuses it alike' => sub {
    my $id = $env->psql("SELECT id FROM bbtoken_tokens WHERE name = 'kept'");
    for my $t (@twice) {
        my ($list, $net) = @$t;
        my @from = map { ('--allow-from', $_) } @$list;
        my $audit = audit_count();
        my ($rc, $out, $err) = $env->cli('create', 'alice', '--name', 'twice', '--perm', 'REPO_READ', @from);
        is($rc, 1, "create with @from: exit 1");
        is($out, '', '  no token printed');
        like($err, qr/^bbtoken: creating the token: \Q$net\E: listed twice /, "  naming $net") or diag $err;
        ($rc, $out, $err) = $env->cli('update', $id, @from);
        is($rc, 1, "update with @from: exit 1");
        like($err, qr/^bbtoken: updating the token: \Q$net\E: listed twice /, "  naming $net") or diag $err;
        is(count_of("SELECT count(*) FROM bbtoken_tokens WHERE name = 'twice'"), 0, '  no token made');
        is(nets_of($id), '10.0.0.0/8 10.1.0.0/16 10.1.2.3/32', '  the list kept');
        is(audit_count(), $audit, '  no audit record');
    }
};

# Written as a list of before version 65 was, with the check off.
subtest 'a list stored twice before is left as it is' => sub {
    my ($tok, $id) = $env->token_create('alice', name => 'old', perms => ['REPO_READ']);
    $env->psql('ALTER TABLE bbtoken_tokens DISABLE TRIGGER bbtoken_tokens_nets_check; '
               . "UPDATE bbtoken_tokens SET allowed_nets = '{127.0.0.0/8,127.0.0.0/8}' WHERE id = '$id'; "
               . 'ALTER TABLE bbtoken_tokens ENABLE TRIGGER bbtoken_tokens_nets_check');
    is(nets_of($id), '127.0.0.0/8 127.0.0.0/8', 'stored twice');
    is($env->get('/scm/PROJ/repo.git/info/refs?service=git-upload-pack',
                  { Authorization => $env->bearer($tok) })->{status}, 200, 'the token still matches');
    $env->cli_ok('update', $id, '--name', 'old renamed');
    is(nets_of($id), '127.0.0.0/8 127.0.0.0/8', 'another change leaves the list as it is');
    my $res = call(POST => "$U/$id/rotate", %XSRF);
    is_ok_res($res, 'rotated over REST');
    my $new = $res->{json}{id} // '';
    is(nets_of($new), '127.0.0.0/8 127.0.0.0/8', '  the new token has the list as it was');
    my ($rc, $out, $err) = $env->cli('rotate', $new);
    is($rc, 0, 'rotated by the CLI') or diag $err;
    my $newer = $env->psql("SELECT id FROM bbtoken_tokens WHERE rotated_from = '$new'");
    is(nets_of($newer), '127.0.0.0/8 127.0.0.0/8', '  likewise');
    # Given again as it is stored, the list is no new list, and no change:
    # a client that sends a token back as it read it, with a field changed,
    # is served (the database checks a list that changes).
    my @same = ('--allow-from', '127.0.0.0/8', '--allow-from', '127.0.0.0/8');
    my $audit = audit_count();
    ($rc, $out, $err) = $env->cli('update', $newer, @same);
    is($rc, 0, 'the CLI given the stored list again, twice as it is: exit 0') or diag $err;
    is(nets_of($newer), '127.0.0.0/8 127.0.0.0/8', '  the list as it was');
    is(audit_count(), $audit, '  no audit record: nothing changed');
    ($rc, $out, $err) = $env->cli('update', $newer, '--name', 'same list', @same);
    is($rc, 0, '  with a new name: exit 0') or diag $err;
    is(count_of("SELECT name FROM bbtoken_tokens WHERE id = '$newer'"), 'same list', '  renamed');
    is_ok_res(call(POST => "$U/$newer", json => { name => 'sent back', allowedAddresses => ['127.0.0.0/8', '127.0.0.0/8'] }),
              'the REST API given it again with a new name');
    is(nets_of($newer), '127.0.0.0/8 127.0.0.0/8', '  the list as it was');
    # Any other list naming a network twice is a new one, and refused.
    ($rc, $out, $err) = $env->cli('update', $newer, @same, '--allow-from', '10.0.0.0/8');
    is($rc, 1, 'the stored list with a network more: exit 1');
    like($err, qr/^bbtoken: updating the token: 127\.0\.0\.0\/8: listed twice /, '  naming 127.0.0.0/8') or diag $err;
    is_refused_400(call(POST => "$U/$newer", json => { allowedAddresses => ['127.0.0.0/8', '10.0.0.0/8', '127.0.0.0/8'] }),
                   '127.0.0.0/8', '  over REST, a network more between them');
    is(nets_of($newer), '127.0.0.0/8 127.0.0.0/8', '  the list as it was');
    $env->cli_ok('update', $newer, '--allow-from', '127.0.0.0/8');
    is(nets_of($newer), '127.0.0.0/8', 'the list replaced by one naming it once');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
