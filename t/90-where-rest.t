# A token's allow-list over the access-tokens REST API: allowedAddresses
# in the token JSON on create, update and get, validated (a clear 400 for
# what is not a network, for too many, for a host part beside a mask, for
# an IPv4-mapped network and /0, which APR cannot match), null to drop it;
# the created record in the audit trail carries it; and the list holds on the API's own routes: a token presented
# from outside it is refused 401 there too (BBT600), before the API's
# handler.  The token JSON also says how many address groups a token was
# used from and its last address.  Personal, project and repository
# tokens.  Real PostgreSQL, httpd, HTTP clients bound to 127.0.0.1 and
# 127.0.0.2.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Rest qw(rest_env);
use BBT::Cache qw(log_mark log_since settle);

my $extra = <<'EOC';
<Location /rest/access-tokens/latest/users/alice>
    BBTokenRoute * "/rest/access-tokens/.*" PROJECT_READ project=PROJ
</Location>
EOC
my $env = rest_env(latest_bbtoken => 1, extra_conf => $extra, passwords => [alice => 'alice-Pa55-word'],
                   repos => [[PROJ => 'repo']], users => ['alice'],
                   grants => [[alice => PROJECT_ADMIN => 'PROJ']]);
my $BASE = '/rest/access-tokens/1.0/users/alice';

sub call { my ($method, $path, %o) = @_; return $env->rest($method, $path, as => 'alice', %o) }

sub is_400 {
    my ($res, $re, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $msg = ref $res->{json} eq 'HASH' ? $res->{json}{errors}[0]{message} // '' : '';
    ok($res->{status} == 400 && $msg =~ $re, "$name: 400") or diag "$res->{status} $msg";
}

# The created record's detail of token $id, and how many $event records it has.
sub created_detail {
    my ($id) = @_;
    return $env->psql("SELECT detail FROM bbtoken_audit WHERE token_id = '$id' AND event = 'created'");
}
sub audits {
    my ($id, $event) = @_;
    return $env->psql("SELECT count(*) FROM bbtoken_audit WHERE token_id = '$id' AND event = '$event'");
}

my ($tok, $id);
subtest 'create, get, update with allowedAddresses' => sub {
    my $res = call(PUT => $BASE, json => { name => 'ci', permissions => ['REPO_READ'],
                                           allowedAddresses => ['127.0.0.1', '2001:db8::/32'] });
    is($res->{status}, 200, 'created') or diag $res->{content};
    ($tok, $id) = ($res->{json}{token}, $res->{json}{id});
    is_deeply($res->{json}{allowedAddresses}, ['127.0.0.1/32', '2001:db8::/32'], 'the list, as networks');
    is($res->{json}{addressGroups}, 0, 'addressGroups: 0, never used');
    ok(!exists $res->{json}{lastAddress}, 'lastAddress: omitted');
    is_deeply(call(GET => "$BASE/$id")->{json}{allowedAddresses}, ['127.0.0.1/32', '2001:db8::/32'], 'GET shows it');
    like(created_detail($id), qr{^name 'ci', [A-Z_,]+, (?:never expires|expires \S+), allowed from 127\.0\.0\.1/32 2001:db8::/32$},
         'the created record carries the list');
    is(audits($id, 'allowed_nets_changed'), 0, '  which came with the creation, not as a change');
    $res = call(PUT => $BASE, json => { name => 'open', permissions => ['REPO_READ'] });
    is_deeply($res->{json}{allowedAddresses}, [], 'a token without one: []');
    unlike(created_detail($res->{json}{id}), qr/allowed from/, '  its created record names none');

    $res = call(POST => "$BASE/$id", json => { allowedAddresses => ['127.0.0.0/24'] });
    is($res->{status}, 200, 'update: 200') or diag $res->{content};
    is_deeply($res->{json}{allowedAddresses}, ['127.0.0.0/24'], 'replaced');
    is($res->{json}{name}, 'ci', 'the name unchanged');
    $res = call(POST => "$BASE/$id", json => { name => 'ci-2' });
    is_deeply($res->{json}{allowedAddresses}, ['127.0.0.0/24'], 'an update without it leaves it');
    $res = call(POST => "$BASE/$id", json => { allowedAddresses => undef });
    is_deeply($res->{json}{allowedAddresses}, [], 'null drops it');
    $res = call(POST => "$BASE/$id", json => { allowedAddresses => ['127.0.0.1'] });
    is_deeply($res->{json}{allowedAddresses}, ['127.0.0.1/32'], 'set again');
};

subtest 'a project\'s and a repository\'s token too' => sub {
    for my $p ('/rest/access-tokens/1.0/projects/PROJ', '/rest/access-tokens/1.0/projects/PROJ/repos/repo') {
        my $res = call(PUT => $p, json => { name => 'deploy', permissions => ['REPO_READ'],
                                            allowedAddresses => ['::1'] });
        is($res->{status}, 200, "$p: created") or diag $res->{content};
        is_deeply($res->{json}{allowedAddresses}, ['::1/128'], '  with its list');
        my $tid = $res->{json}{id};
        like(created_detail($tid), qr{, allowed from ::1/128$}, '  in its created record');
        $res = call(POST => "$p/$tid", json => { allowedAddresses => [] });
        is_deeply($res->{json}{allowedAddresses}, [], '  [] drops it');
        is($env->psql("SELECT allowed_nets IS NULL FROM bbtoken_tokens WHERE id = '$tid'"), 't', '  NULL in the table');
    }
};

subtest 'what is not a network: 400, nothing changed' => sub {
    is_400(call(PUT => $BASE, json => { name => 'x1', permissions => ['REPO_READ'], allowedAddresses => ['nonsense'] }),
           qr/allowedAddresses: item 1 is not a network/, 'a word');
    is_400(call(PUT => $BASE, json => { name => 'x2', permissions => ['REPO_READ'],
                                        allowedAddresses => ['10.0.0.0/8', '10.0.0.1/8'] }),
           qr/cidr/i, 'a host part beside a mask (the database)');
    is_400(call(PUT => $BASE, json => { name => 'x3', permissions => ['REPO_READ'], allowedAddresses => '10.0.0.0/8' }),
           qr/allowedAddresses must be a list/, 'not a list');
    is_400(call(PUT => $BASE, json => { name => 'x4', permissions => ['REPO_READ'],
                                        allowedAddresses => [map { "10.$_.0.0/16" } 1 .. 17] }),
           qr/at most 16/, '17 networks');
    is_400(call(PUT => $BASE, json => { name => 'x5', permissions => ['REPO_READ'], allowedAddresses => [8] }),
           qr/item 1 is not a network/, 'a number');
    is_400(call(POST => "$BASE/$id", json => { allowedAddresses => ['300.0.0.0/8'] }), qr/cidr/i, 'update: 300.0.0.0/8');
    # What cidr takes but APR cannot match at request time.
    is_400(call(PUT => $BASE, json => { name => 'x6', permissions => ['REPO_READ'],
                                        allowedAddresses => ['::ffff:10.0.0.0/104'] }),
           qr{^allowedAddresses: item 1 is an IPv4-mapped IPv6 network, which httpd cannot match: write it as IPv4 \(::ffff:10\.0\.0\.0/104 is 10\.0\.0\.0/8\)},
           'an IPv4-mapped network');
    is_400(call(POST => "$BASE/$id", json => { allowedAddresses => ['127.0.0.2', '::ffff:127.0.0.1'] }),
           qr/^allowedAddresses: item 2 is an IPv4-mapped IPv6 network/, 'update: an IPv4-mapped address');
    is_400(call(POST => "$BASE/$id", json => { allowedAddresses => ['0.0.0.0/0'] }),
           qr{^allowedAddresses: item 1 is a /0 network}, 'update: /0');
    is_400(call(PUT => $BASE, json => { name => 'x7', permissions => ['REPO_READ'], allowedAddresses => ['::/0'] }),
           qr{item 1 is a /0 network}, 'create: ::/0');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name LIKE 'x_'"), 0, 'no token made');
    is_deeply(call(GET => "$BASE/$id")->{json}{allowedAddresses}, ['127.0.0.1/32'], 'the list unchanged');
};

subtest 'on the API\'s own routes too' => sub {
    settle();
    my $path = "/rest/access-tokens/latest/users/alice/$id";
    my $ua = sub {
        HTTP::Tiny->new(timeout => 30, local_address => $_[0])->get($env->url($path), { headers => auth_bearer($tok) });
    };
    # The API takes no token to manage tokens: past authentication, its
    # handler says so; from outside the list, authentication refuses.
    my $res = $ua->('127.0.0.1');
    like($res->{content}, qr/Access tokens cannot be used to manage access tokens/,
         'from 127.0.0.1: authenticated, then the handler refuses') or diag "$res->{status} $res->{content}";
    is(call(GET => "$BASE/$id")->{json}{addressGroups}, 1, 'used from one address group');
    my $m = log_mark($env);
    $res = $ua->('127.0.0.2');
    is($res->{status}, 401, 'from 127.0.0.2: 401');
    unlike($res->{content}, qr/Access tokens cannot be used/, 'refused by authentication');
    like(log_since($env, $m), qr/BBT600: token $id refused from 127\.0\.0\.2/, 'BBT600');
    is(call(GET => "$BASE/$id")->{json}{lastAddress}, '127.0.0.1', 'lastAddress');
};

done_testing;
