# Who may manage a project's or a repository's tokens is asked on every
# call, never remembered: a project admin who is demoted (a lower grant, or
# none) and a repository admin whose grant is taken away can no longer
# list, read, create, rename, rotate, restrict or revoke them (401), while
# the tokens they made keep working, as Bitbucket's do.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Assert;
use BBT::Rest qw(rest_env);

my @people = qw(padmin radmin);
my $env = rest_env(passwords => [map { ($_ => "$_-Pa55-word") } @people],
                   repos => [[PROJ => 'one']],
                   users => [@people],
                   grants => [[padmin => PROJECT_ADMIN => 'PROJ'], [radmin => REPO_ADMIN => 'PROJ/one']]);

my $P = '/rest/access-tokens/1.0/projects';
sub call { my ($as, $method, $path, %o) = @_; return $env->rest($method, $path, as => $as, %o) }

my %tok;
for my $c ([padmin => "$P/PROJ", 'PROJECT_READ'], [radmin => "$P/PROJ/repos/one", 'REPO_READ']) {
    my ($who, $base, $perm) = @$c;
    my $res = call($who => PUT => $base, json => { name => "by $who", permissions => [$perm] });
    is_ok_res($res, "$who, an admin, creates a token at $base") or BAIL_OUT('no token');
    $tok{$who} = $res->{json};
    my $id = $res->{json}{id};
    is_ok_res(call($who => GET => $base), '  control: lists them');
    is_ok_res(call($who => GET => "$base/$id"), '  control: reads it');
    is_ok_res(call($who => POST => "$base/$id", json => { name => "by $who" }), '  control: renames it');
}

$env->cli_ok('grant', 'padmin', 'PROJECT_WRITE', 'PROJ');
$env->cli_ok('ungrant', 'radmin', 'PROJ/one');

for my $c ([padmin => "$P/PROJ", 'PROJECT_READ'], [radmin => "$P/PROJ/repos/one", 'REPO_READ']) {
    my ($who, $base, $perm) = @$c;
    my $id = $tok{$who}{id};
    my @calls = (['GET the list', GET => $base],
                 ['GET one', GET => "$base/$id"],
                 ['PUT a new one', PUT => $base, json => { name => 'again', permissions => [$perm] }],
                 ['POST a new name', POST => "$base/$id", json => { name => 'renamed' }],
                 ['POST an allow-list', POST => "$base/$id", json => { allowedAddresses => ['10.0.0.0/8'] }],
                 ['POST rotate', POST => "$base/$id/rotate", json => {}],
                 ['DELETE', DELETE => "$base/$id"]);
    for my $k (@calls) {
        my ($label, $method, $path, @o) = @$k;
        my $res = call($who => $method => $path, @o);
        is($res->{status}, 401, "$who, no longer an admin: $label is refused") or diag res_summary($res);
    }
    is($env->get('/scm/PROJ/one.git/info/refs?service=git-upload-pack',
                 { Authorization => "Bearer $tok{$who}{token}" })->{status}, 200,
       "  the token $who made still works");
}
is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL AND allowed_nets IS NULL"
              . " AND name LIKE 'by %'"), 2, 'both tokens unchanged: live, named as made, no allow-list');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
