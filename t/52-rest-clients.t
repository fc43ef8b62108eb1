# The access-tokens REST API as Bitbucket's clients use it: {userSlug} is
# Bitbucket's slug of the user name (carol.smith@corp is carol.smith_corp,
# as Eclipse Che's client builds it), scripts revoke with a plain DELETE (no
# X-Atlassian-Token; Che sends Content-Type: application/json) while a
# cross-site DELETE is still refused, and the user object carries
# Bitbucket's fields: emailAddress, displayName, slug, links.self.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Assert;
use BBT::Rest qw(rest_env);

my $CAROL = 'carol.smith@corp';
my @carol = ($CAROL, '--email', 'carol.smith@corp.example', '--display-name', "Carol Sm\x{c3}\x{ad}th");
my $env = rest_env(passwords => [$CAROL => 'carol-Pa55', bob => 'bob-Pa55', root => 'root-Pa55'],
                   users => [\@carol, 'bob', [root => '--admin']], repos => [[PROJ => 'repo']],
                   grants => [[$CAROL, 'PROJECT_READ', 'PROJ']]);

my $V1 = '/rest/access-tokens/1.0/users';
sub call { my ($m, $p, %o) = @_; return $env->rest($m, $p, as => $CAROL, %o) }
sub create {
    my ($path, $name) = @_;
    return call(PUT => $path, json => { name => $name, permissions => ['REPO_READ'] });
}
sub live_ids { return [map { $_->{id} } @{ call(GET => "$V1/carol.smith_corp")->{json}{values} || [] }] }

subtest 'Bitbucket\'s slug in every path' => sub {
    my $res = create("$V1/carol.smith_corp", 'by slug');
    is_ok_res($res, 'PUT users/carol.smith_corp creates a token for carol.smith@corp');
    my $id = $res->{json}{id};
    is($res->{json}{user}{name}, $CAROL, '  hers');
    is_ok_res(call(GET => "$V1/carol.smith_corp"), 'GET users/{slug}: the list');
    is_ok_res(call(GET => "$V1/carol.smith_corp/$id"), 'GET users/{slug}/{id}');
    is_ok_res(call(GET => "/rest/access-tokens/latest/users/carol.smith_corp/$id"), '  under latest too');
    is_ok_res(call(POST => "$V1/carol.smith_corp/$id", json => { name => 'renamed' }), 'POST users/{slug}/{id}');
    is_ok_res(call(GET => "$V1/carol.smith%40corp/$id"), 'the name itself (%40) names her as well');
    is_ok_res(call(GET => "$V1/Carol.Smith\@Corp/$id"), '  in any case');
    is_status(call(DELETE => "$V1/carol.smith_corp/$id"), 204, 'DELETE users/{slug}/{id}');
    is_deeply(live_ids(), [], 'revoked');
    my $r = $env->rest(GET => "$V1/carol.smith_corp", as => 'bob');
    is($r->{status}, 401, 'bob asking for her slug: 401, as for her name');
    $r = $env->rest(GET => "$V1/nobody_corp", as => 'root');
    is($r->{status}, 404, 'an admin asking for a slug nobody has: 404');
    like($r->{json}{errors}[0]{message} // '', qr/User nobody_corp does not exist/, '  saying so');
    is_ok_res($env->rest(GET => "$V1/carol.smith_corp", as => 'root'), 'an admin reads her tokens by slug');
};

subtest 'the user object' => sub {
    my $res = create("$V1/carol.smith_corp", 'fields');
    is_ok_res($res, 'created');
    my $u = $res->{json}{user} || {};
    is($u->{name}, $CAROL, 'name');
    is($u->{slug}, 'carol.smith_corp', 'slug: lower case, @ as _');
    is($u->{emailAddress}, 'carol.smith@corp.example', 'emailAddress');
    is($u->{displayName}, "Carol Sm\x{ed}th", 'displayName, in UTF-8');
    ok(JSON::PP::is_bool($u->{active}) && $u->{active}, 'active: true');
    is($u->{type}, 'NORMAL', 'type');
    like($u->{id} // '', qr/^\d+\z/, 'id');
    is_deeply($u->{links}, { self => [{ href => $env->base_url . '/users/carol.smith_corp' }] },
              'links.self: [{href}], Bitbucket\'s /users/{slug} on this server');
    is($env->psql("SELECT slug FROM bbtoken_users WHERE name = '$CAROL'"), $u->{slug},
       'the slug the API shows is the one the database keeps');
    is_deeply(call(GET => "$V1/carol.smith_corp/$res->{json}{id}")->{json}{user}, $u, 'the same when read back');
    my $list = call(GET => "$V1/carol.smith_corp")->{json};
    is_deeply($list->{values}[0]{user}, $u, 'and in a list');

    $env->cli_ok('user', 'set', $CAROL, '--no-email', '--no-display-name');
    $u = call(GET => "$V1/carol.smith_corp/$res->{json}{id}")->{json}{user} || {};
    ok(!exists $u->{emailAddress}, 'no e-mail address: emailAddress left out, as Bitbucket does');
    is($u->{displayName}, $CAROL, 'no display name: displayName is the name');
    $env->cli_ok('user', 'set', $CAROL, '--display-name', 'C. Smith');
    is(call(GET => "$V1/carol.smith_corp/$res->{json}{id}")->{json}{user}{displayName}, 'C. Smith',
       'a change through the CLI shows at once');
};

subtest 'revoking from a script: DELETE without X-Atlassian-Token' => sub {
    # Eclipse Che's client: Accept and Content-Type application/json, no
    # X-Atlassian-Token, no Origin.
    my $id = create("$V1/carol.smith_corp", 'che')->{json}{id};
    my $res = call(DELETE => "$V1/carol.smith_corp/$id",
                   headers => { Accept => 'application/json', 'Content-Type' => 'application/json' });
    is_status($res, 204, 'Content-Type: application/json alone: 204');
    ok(!grep({ $_ eq $id } @{ live_ids() }), '  revoked');
    $id = create("$V1/carol.smith_corp", 'curl')->{json}{id};
    is_status(call(DELETE => "$V1/carol.smith_corp/$id"), 204, 'no special header at all: 204');
    $id = create("$V1/carol.smith_corp", 'same site')->{json}{id};
    is_status(call(DELETE => "$V1/carol.smith_corp/$id",
                   headers => { Origin => $env->base_url, 'Sec-Fetch-Site' => 'same-origin' }), 204,
              'from this site\'s own page (Origin and Sec-Fetch-Site say so): 204');
};

subtest 'a cross-site DELETE is still refused' => sub {
    my $id = create("$V1/carol.smith_corp", 'target')->{json}{id};
    my %cross = (
        'another Origin'            => { Origin => 'http://evil.example' },
        'Origin: null'              => { Origin => 'null' },
        'Sec-Fetch-Site cross-site' => { 'Sec-Fetch-Site' => 'cross-site' },
        'Sec-Fetch-Site same-site'  => { 'Sec-Fetch-Site' => 'same-site', Origin => 'http://sub.example' },
        'another Origin with X-Atlassian-Token' => { Origin => 'http://evil.example',
                                                     'X-Atlassian-Token' => 'no-check' },
    );
    for my $k (sort keys %cross) {
        my $res = call(DELETE => "$V1/carol.smith_corp/$id", headers => $cross{$k});
        is($res->{status}, 403, "$k: 403");
        like($res->{json}{errors}[0]{message} // '', qr/XSRF check failed/, '  the XSRF refusal');
    }
    ok((grep { $_ eq $id } @{ live_ids() }), 'the token is still live');
    my $res = call(POST => "$V1/carol.smith_corp/$id", body => '{"name":"x"}',
                   headers => { 'Content-Type' => 'text/plain' });
    is($res->{status}, 403, 'a POST a cross-site form could send (text/plain): still 403');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
