# The access-tokens REST API's reads and writes of one token never cross
# a holder: a token's id under a path that is not its holder's (another
# project, a repository of another project with the same slug, another
# repository, a repository's token under its project, a project's token
# under one of its repositories, a person's token under a project, a
# project's token under a person) or a revoked token's is 404 to GET,
# POST (a new name; a new allow-list) and DELETE alike, the caller a
# global admin (so that only the token's own conditions refuse it, in the
# module's read and in the API role's functions) or the project's admin,
# and no row changes.  Each token answers under its own path first.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Assert;
use BBT::Rest qw(rest_env);

my @people = qw(padmin alice root);
my $env = rest_env(passwords => [map { ($_ => "$_-Pa55-word") } @people],
                   repos => [[PROJ => 'one'], [PROJ => 'two'], [OTHER => 'one']],
                   users => [qw(padmin alice), [root => '--admin']],
                   grants => [[padmin => PROJECT_ADMIN => 'PROJ'], [alice => PROJECT_WRITE => 'PROJ']]);

my $T = '/rest/access-tokens/1.0';
sub call { my ($as, $method, $path, %o) = @_; return $env->rest($method, $path, as => $as, %o) }

# Token NAME made by AS under PATH with PERMS: its id.
sub made {
    my ($as, $path, $name, @perms) = @_;
    my $res = call($as => PUT => "$T/$path", json => { name => $name, permissions => \@perms });
    is_ok_res($res, "PUT $path: $name") or BAIL_OUT('no token made');
    return $res->{json}{id};
}

my %id = (proj => made(root => 'projects/PROJ', 'proj', 'PROJECT_WRITE'),
          other => made(root => 'projects/OTHER', 'other', 'PROJECT_WRITE'),
          one => made(root => 'projects/PROJ/repos/one', 'one', 'REPO_WRITE'),
          otherone => made(root => 'projects/OTHER/repos/one', 'otherone', 'REPO_WRITE'),
          alice => made(alice => 'users/alice', 'laptop', 'REPO_WRITE'),
          gone => made(root => 'projects/PROJ', 'gone', 'PROJECT_WRITE'),
          gonerepo => made(root => 'projects/PROJ/repos/one', 'gonerepo', 'REPO_WRITE'));
my %home = (proj => 'projects/PROJ', other => 'projects/OTHER', one => 'projects/PROJ/repos/one',
            otherone => 'projects/OTHER/repos/one', alice => 'users/alice');
for my $k (qw(gone gonerepo)) {
    my $path = $k eq 'gone' ? 'projects/PROJ' : 'projects/PROJ/repos/one';
    is(call(root => DELETE => "$T/$path/$id{$k}")->{status}, 204, "$k: revoked");
}

# Every token's row, as the crossings must leave it.
my $rows_sql = "SELECT string_agg(concat_ws('|', id, name, project_perm, repo_perm,"
    . " allowed_nets::text, revoked_at::text), E'\\n' ORDER BY id) FROM bbtoken_tokens";
my $before = $env->psql($rows_sql);

subtest 'each token under its own path' => sub {
    for my $k (sort keys %home) {
        my $as = $k eq 'alice' ? 'alice' : 'root';
        is_ok_res(call($as => GET => "$T/$home{$k}/$id{$k}"), "GET $home{$k}/$k");
    }
};

my @crossings = (
    [root => 'projects/PROJ', 'other', 'another project\'s token'],
    [padmin => 'projects/PROJ', 'other', 'another project\'s token, by the project\'s admin'],
    [root => 'projects/PROJ', 'one', 'a repository\'s token under its project'],
    [root => 'projects/PROJ/repos/one', 'proj', 'a project\'s token under its repository'],
    [root => 'projects/PROJ/repos/two', 'one', 'another repository\'s token'],
    [root => 'projects/PROJ/repos/one', 'otherone', 'the same slug in another project'],
    [root => 'projects/OTHER/repos/one', 'one', 'the same slug in another project, the reverse'],
    [root => 'projects/PROJ', 'alice', 'a person\'s token under a project'],
    [padmin => 'projects/PROJ', 'alice', 'a person\'s token under her project, by its admin'],
    [root => 'projects/PROJ/repos/one', 'alice', 'a person\'s token under a repository'],
    [root => 'users/alice', 'proj', 'a project\'s token under a person'],
    [root => 'users/alice', 'one', 'a repository\'s token under a person'],
    [root => 'projects/PROJ', 'gone', 'a revoked project token'],
    [root => 'projects/PROJ/repos/one', 'gonerepo', 'a revoked repository token'],
);
for my $c (@crossings) {
    my ($as, $path, $k, $what) = @$c;
    subtest "$what ($as: $path/$k)" => sub {
        my $u = "$T/$path/$id{$k}";
        for my $try ([GET => {}], [POST => { json => { name => 'crossed' } }],
                     [POST => { json => { permissions => [$path =~ m{/repos/} ? 'REPO_ADMIN' : 'PROJECT_ADMIN'] } }],
                     [POST => { json => { allowedAddresses => ['10.0.0.0/8'] } }],
                     [DELETE => { headers => { 'Content-Type' => 'application/json' } }]) {
            my ($m, $o) = @$try;
            my $res = call($as => $m => $u, %$o);
            is($res->{status}, 404, "$m " . join(',', keys %{ $o->{json} || {} }) . ': 404')
                or diag res_summary($res);
        }
    };
}

# Another holder's token that a third session holds: refused at once, as
# any other, not waited for (a write that locked the row it found by id
# before it checked the holder would wait, and lock any token of the site
# for whoever manages one project, their own personal one included).
subtest 'another holder\'s token another session holds: 404 at once, never waited for' => sub {
    for my $c (['projects/PROJ', 'alice'], ['projects/PROJ', 'other'], ['projects/PROJ/repos/one', 'otherone']) {
        my ($path, $k) = @$c;
        my $h = $env->pg_session("hold$k");
        $h->send("BEGIN; SELECT 1 FROM bbtoken_tokens WHERE id = '$id{$k}' FOR UPDATE;");
        ok($h->done, "a session holds $k");
        for my $try ([POST => { json => { name => 'crossed' } }],
                     [DELETE => { headers => { 'Content-Type' => 'application/json' } }]) {
            my ($m, $o) = @$try;
            my $res = call(padmin => $m => "$T/$path/$id{$k}", %$o);
            is($res->{status}, 404, "padmin: $m $path/$k: 404") or diag res_summary($res);
        }
        $h->send('ROLLBACK;');
        ok($h->done, '  the session lets it go');
        $h->finish;
    }
};

is($env->psql($rows_sql), $before, 'no token row changed');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
