# A token's id is 12 random decimal digits, and one in ten starts with a
# zero: Bitbucket's REST id is that text, leading zeros and all
# (shared/notes/bitbucket.md).  Tokens planted under chosen ids, end to
# end: git takes them (Basic and Bearer), the CGI and the access log name
# them with their zeros, the access-tokens API shows each id as that string
# and reads, renames and revokes the token by it, the CLI too; a revoked
# one is refused by git, also after it was cached.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_basic auth_bearer);
use BBT::Assert;
use BBT::Cache qw(settle);
use BBT::Rest qw(rest_env);

my $env = rest_env(passwords => [alice => 'alice-Pa55-word'], users => ['alice'],
                   repos => [[PROJ => 'repo']], grants => [[alice => PROJECT_WRITE => 'PROJ']]);
my $BASE = '/rest/access-tokens/1.0/users/alice';
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

sub call { my ($method, $path, %o) = @_; return $env->rest($method, $path, as => 'alice', %o) }

# Every id here would lose something as a number; the last has no zero.
my @ids = ('000000000000', '000000004207', '012345678901', '987654321000');
my %tok;
for my $id (@ids) {
    ($tok{$id}) = $env->token_insert('alice', id => $id, name => "t$id", project => 'PROJECT_READ',
                                     repo => 'REPO_WRITE');
}

for my $id (@ids) {
    subtest "token $id" => sub {
        my $t = $tok{$id};
        my ($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('alice', $t, 'PROJ', 'repo'));
        is($rc, 0, 'git ls-remote with it in the URL (Basic)') or diag $err;
        is_ok_res($env->get($UP, auth_bearer($t)), 'Bearer');
        my ($st, $v) = $env->env_cgi('PROJ/repo.git/info/refs?service=git-upload-pack', auth_basic('alice', $t));
        is($v->{BBTOKEN_ID}, $id, 'the CGI is given the id as it is');
        ok((grep { m{ 200 \Q$id\E$} } split /\n/, $env->access_log_text), 'the access log names it as it is');

        my $res = call(GET => $BASE);
        is_ok_res($res, 'the API lists alice\'s tokens');
        my ($listed) = grep { ($_->{id} // '') eq $id } @{ $res->{json}{values} || [] };
        ok($listed, '  this one under its id');
        like($res->{content}, qr/"id"\s*:\s*"\Q$id\E"/, '  a JSON string, zeros kept');
        $res = call(GET => "$BASE/$id");
        is_ok_res($res, 'GET users/alice/{id}');
        is($res->{json}{id}, $id, '  the same id');
        ok(defined $res->{json}{lastAuthenticated}, '  its use was recorded under it');
        $res = call(POST => "$BASE/$id", json => { name => "renamed $id" });
        is_ok_res($res, 'POST renames it by its id');
        is($res->{json}{name}, "renamed $id", '  renamed');
        like($env->cli_ok('list', 'alice'), qr/^\Q$id\E\s+renamed \Q$id\E\s/m, 'bbtoken list shows the id as it is');
        $env->cli_ok('update', $id, '--name', "cli $id");
        is(call(GET => "$BASE/$id")->{json}{name}, "cli $id", 'bbtoken update finds it by the id');
    };
}

subtest 'revoked by its id (API and CLI), refused by git, cached or not' => sub {
    # Cached first: the revocation must reach the cache under this id.
    is_ok_res($env->get($UP, auth_bearer($tok{$_})), "$_ works before") for @ids;
    for my $id (@ids[0, 1]) {
        my $res = call(DELETE => "$BASE/$id");
        is_status($res, 204, "DELETE users/alice/$id: 204");
    }
    $env->cli_ok('revoke', $ids[2]);
    settle();    # the token cache's bound: half a second
    for my $id (@ids[0 .. 2]) {
        is_401($env->get($UP, auth_bearer($tok{$id})), 1, "$id: refused once revoked");
        is(call(GET => "$BASE/$id")->{status}, 404, "$id: no longer a live token of the API");
    }
    is_ok_res($env->get($UP, auth_bearer($tok{ $ids[3] })), 'the token not revoked still works');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
