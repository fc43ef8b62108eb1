# The access-tokens REST API's query arguments, read one way for every
# endpoint: percent-decoded (names too), "+" a space, a repeated name's first
# value (as Bitbucket's Jersey reads it), names matched exactly, a name without "=" an empty value; paging
# (start, limit) and the inventory's filters alike.  A bad escape, a %00,
# or a name or value that is not UTF-8 text is 400 in the API's error
# envelope, before anything is done (a PUT with one creates nothing), and
# never a crash or a value cut short at the NUL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Assert;
use BBT::Rest qw(rest_env);

my $env = rest_env(passwords => [alice => 'alice-Pa55-word', bob => 'bob-Pa55-word', root => 'root-Pa55-word'],
                   users => ['alice', 'bob', [root => '--admin']],
                   grants => [[alice => PROJECT_ADMIN => 'PROJ'], [alice => REPO_ADMIN => 'OTHER/x']]);
my $U = '/rest/access-tokens/1.0/users/alice';
my $INV = '/rest/access-tokens/1.0/inventory';
my $PLACES = '/rest/access-tokens/1.0/places';

$env->token_create('alice', name => "a$_", perms => ['REPO_READ']) for 1 .. 3;
$env->token_create('bob', name => 'b1', perms => ['REPO_READ']);

sub page {
    my ($path, $as) = @_;
    my $res = $env->rest(GET => $path, as => $as // 'alice');
    is_ok_res($res, "GET $path") or return {};
    return $res->{json} || {};
}

# A 400 in the envelope, ArgumentValidationException, saying $re.
sub is_refused {
    my ($res, $re, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $e = ref $res->{json} eq 'HASH' && ref $res->{json}{errors} eq 'ARRAY' ? $res->{json}{errors}[0] : {};
    ok($res->{status} == 400 && ($e->{message} // '') =~ $re
           && ($e->{exceptionName} // '') eq 'com.atlassian.bitbucket.validation.ArgumentValidationException',
       "$name: 400, $re") or diag res_summary($res);
}

my $ESC = qr/a % must be followed by two hexadecimal digits/;
my $NUL = qr/%00 \(a NUL byte\) is not allowed/;
my $UTF8 = qr/not UTF-8 text, or holds a control character/;

subtest 'paging: decoded, the first of a repeated name, names exact' => sub {
    my $p = page("$U?limit=%32");
    is_deeply([$p->{limit}, $p->{size}, $p->{isLastPage} ? 1 : 0], [2, 2, 0], 'limit=%32 is limit=2');
    $p = page("$U?%6cimit=%32&%73tart=%31");
    is_deeply([$p->{start}, $p->{limit}, $p->{size}], [1, 2, 2], 'encoded names: start=1, limit=2');
    $p = page("$U?limit=1&limit=2");
    is($p->{limit}, 1, 'limit=1&limit=2: the first counts');
    $p = page("$U?limit=2&limit=x");
    is($p->{limit}, 2, 'limit=2&limit=x: a malformed later one is not read');
    is_refused($env->rest(GET => "$U?limit=x&limit=2", as => 'alice'), qr/start and limit/,
               'limit=x&limit=2: the first, malformed');
    $p = page("$U?Limit=1&LIMIT=1");
    is($p->{limit}, 25, 'Limit and LIMIT are not limit');
    is_refused($env->rest(GET => "$U?limit", as => 'alice'), qr/start and limit/, 'limit without =: empty');
    $p = page("$PLACES?limit=%31");
    is_deeply([$p->{limit}, $p->{size}], [1, 1], 'places: limit=%31 is limit=1');
};

subtest 'malformed queries: 400, whatever the endpoint reads' => sub {
    for my $c (["limit=%zz", $ESC], ["limit=%", $ESC], ["limit=%3", $ESC], ["limit=2%", $ESC],
               ["x=%zz", $ESC], ["%zz=1", $ESC], ["limit=%G1", $ESC],
               ["limit=2%00", $NUL], ["x=%00", $NUL], ["%00=1", $NUL], ["x=a%00b", $NUL],
               ["x=%FF", $UTF8], ["x=%C3%28", $UTF8], ["x=%C0%AF", $UTF8], ["%FF=1", $UTF8],
               ["x=%ED%A0%80", $UTF8], ["x=%0A", $UTF8], ["x=%7F", $UTF8]) {
        my ($q, $re) = @$c;
        is_refused($env->rest(GET => "$U?$q", as => 'alice'), $re, "?$q");
    }
    my $p = page("$U?x=%C3%A9&y=a+b&z");
    is($p->{size}, 3, 'UTF-8 text, a +, a bare name in arguments it does not read: ignored');
    my $res = $env->rest(PUT => "$U?x=%zz", as => 'alice', json => { name => 'never', permissions => ['REPO_READ'] });
    is_refused($res, $ESC, 'a PUT with a bad escape');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name = 'never'"), 0, '  created nothing');
    is_refused($env->rest(POST => '/rest/access-tokens/1.0/revoke-by-value?x=%00', as => 'alice', json => []),
               $NUL, 'revoke-by-value, which reads no argument, refuses it too');
};

subtest 'inventory: filters and paging by the same rule' => sub {
    my $names = sub { [sort map { $_->{name} } @{ $_[0]{values} || [] }] };
    my $p = page("$INV?owner=%61lice", 'root');
    is_deeply($names->($p), [qw(a1 a2 a3)], 'owner=%61lice');
    $p = page("$INV?owner=alice&owner=bob", 'root');
    is_deeply($names->($p), [qw(a1 a2 a3)], 'owner=alice&owner=bob: the first counts');
    $p = page("$INV?owner=bob&owner=alice", 'root');
    is_deeply($names->($p), [qw(b1)], 'owner=bob&owner=alice: the first counts');
    $p = page("$INV?owner=alice&limit=%31", 'root');
    is_deeply([$p->{limit}, $p->{size}], [1, 1], 'limit=%31 beside a filter: limit=1');
    is_refused($env->rest(GET => "$INV?owner=alice%00bob", as => 'root'), $NUL,
               'owner=alice%00bob: refused, not cut to alice');
    is_refused($env->rest(GET => "$INV?owner=%FF", as => 'root'), $UTF8, 'owner=%FF');
    is_refused($env->rest(GET => "$INV?owner=%zz", as => 'root'), $ESC, 'owner=%zz');
    is_refused($env->rest(GET => "$INV?OWNER=alice", as => 'root'), qr/unknown query argument/,
               'OWNER is not owner: an unknown argument');
    is_refused($env->rest(GET => "$INV?unusedDays", as => 'root'), qr/unusedDays must be/,
               'unusedDays without =: empty, not 1');
    is_refused($env->rest(GET => "$INV?expired", as => 'root'), qr/true or false/, 'expired without =: empty');
    is_refused($env->rest(GET => "$INV?owner=ali+ce", as => 'root'), qr/owner is not a user name/,
               'owner=ali+ce: + is a space, no user name');
};

is(scalar($env->crash_lines), 0, 'no child crashed');
done_testing();
