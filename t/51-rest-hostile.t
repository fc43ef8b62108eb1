# The access-tokens REST API against a hostile caller: another user's or
# another place's tokens asked for by id and by a path spelled otherwise,
# a change from another site, and bodies and query strings no client
# should send.  Each must be refused, and change nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Assert;
use BBT::Rest qw(rest_env);

my @people = qw(padmin radmin writer carol alice);
my $env = rest_env(passwords => [map { ($_ => "$_-Pa55-word") } @people],
                   repos => [[PROJ => 'one'], [OTHER => 'thing']],
                   users => [qw(padmin radmin writer carol alice)],
                   grants => [[padmin => PROJECT_ADMIN => 'PROJ'], [radmin => REPO_ADMIN => 'PROJ/one'],
                              [writer => PROJECT_WRITE => 'PROJ']]);

my $A = '/rest/access-tokens/1.0';
sub call { my ($as, $method, $path, %o) = @_; return $env->rest($method, $path, as => $as, %o) }
sub live { $env->psql("SELECT count(*) FROM bbtoken_tokens WHERE revoked_at IS NULL") }

my $mk = sub {
    my ($as, $path, $perm) = @_;
    my $res = call($as => PUT => $path, json => { name => "t" . int(rand(1e9)), permissions => [$perm] });
    is($res->{status}, 200, "$as made a token at $path") or diag res_summary($res);
    return $res->{json}{id} // 'none';
};
my $alice = $mk->(alice => "$A/users/alice", 'REPO_READ');
my $proj = $mk->(padmin => "$A/projects/PROJ", 'PROJECT_READ');
my $repo = $mk->(radmin => "$A/projects/PROJ/repos/one", 'REPO_READ');
my $n = live();

subtest 'another user\'s tokens, by id and by a path spelled otherwise' => sub {
    for my $p ("users/alice", "users/ALICE", "users/Alice/", "users/%61lice", "users/alice/$alice",
               "users/ALICE/$alice/", "users/carol/$alice", "projects/~alice", "projects/~ALICE/") {
        for my $m (qw(GET PUT POST DELETE)) {
            my $res = call(carol => $m => "$A/$p", json => { name => 'x', permissions => ['REPO_ADMIN'] });
            ok($res->{status} =~ /^(401|403|404|405)$/, "carol: $m $p: $res->{status}") or diag res_summary($res);
            ok(!($res->{content} // '') =~ /"token"/, "no token") if $res->{status} == 200;
        }
        my $res = call(carol => POST => "$A/$p/rotate", headers => { 'X-Atlassian-Token' => 'no-check' });
        ok($res->{status} =~ /^(401|403|404|405)$/, "carol: rotate $p: $res->{status}") or diag res_summary($res);
    }
    # carol's own id-space: alice's id under carol's path is no token of hers.
    my $res = call(carol => POST => "$A/users/carol/$alice/rotate", headers => { 'X-Atlassian-Token' => 'no-check' });
    is($res->{status}, 404, "alice's id under carol's path: 404");
    is(live(), $n, 'nothing changed');
};

subtest 'a place where the caller is not admin' => sub {
    for my $as (qw(writer carol radmin)) {
        for my $p ("projects/PROJ", "projects/proj/", "projects/PROJ/$proj", "projects/OTHER/repos/thing",
                   "projects/PROJ/repos/one/$proj", "projects/PROJ/repos/one/$proj/rotate",
                   "projects/~padmin", "projects/PROJ/repos/two") {
            for my $m (qw(GET PUT POST DELETE)) {
                my $res = call($as => $m => "$A/$p", json => { name => 'x', permissions => ['REPO_ADMIN'] });
                ok($res->{status} =~ /^(400|401|403|404|405)$/, "$as: $m $p: $res->{status}")
                    or diag res_summary($res);
            }
        }
    }
    # the repository admin reaches the project's token through no path of theirs
    for my $p ("projects/PROJ/repos/one/$proj", "projects/PROJ/repos/one/$proj/rotate") {
        my $res = call(radmin => POST => "$A/$p", json => { permissions => ['REPO_ADMIN'] });
        is($res->{status}, 404, "radmin: POST $p: 404") or diag res_summary($res);
    }
    is(live(), $n, 'nothing changed');
};

subtest 'a change from another site' => sub {
    my %body = (json => { name => 'csrf', permissions => ['REPO_READ'] });
    for my $h ({ Origin => 'https://evil.example' }, { Origin => 'null' },
               { 'Sec-Fetch-Site' => 'cross-site' }, { 'Sec-Fetch-Site' => 'same-site' },
               { 'Content-Type' => 'text/plain' }, { 'Content-Type' => 'application/x-www-form-urlencoded' },
               { 'Content-Type' => 'multipart/form-data; boundary=x' },
               { 'Content-Type' => 'application/jsonx' }, { 'Content-Type' => 'text/plain; a=application/json' },
               { Origin => 'https://evil.example', 'X-Atlassian-Token' => 'no-check' },
               # No Origin (an old browser, or one told to send none), but
               # the page it comes from in Referer.
               { Referer => 'https://evil.example/page' },
               { Referer => $env->base_url . '.evil.example/' },
               { Referer => 'https://evil.example/', 'X-Atlassian-Token' => 'no-check' }) {
        my $d = join ', ', map { "$_: $h->{$_}" } sort keys %$h;
        my $res = call(alice => PUT => "$A/users/alice", %body, headers => $h);
        ok($res->{status} =~ /^(403|415)$/, "PUT with $d: $res->{status}") or diag res_summary($res);
        $res = call(alice => POST => "$A/users/alice/$alice/rotate", headers => $h);
        ok($res->{status} =~ /^(403)$/, "rotate with $d: $res->{status}") or diag res_summary($res);
        # A DELETE names no body: only where a browser says it comes from
        # another site (no form can send one; fetch would need a preflight).
        next unless exists $h->{Origin} || exists $h->{'Sec-Fetch-Site'} || exists $h->{Referer};
        $res = call(alice => DELETE => "$A/users/alice/$alice", headers => $h);
        is($res->{status}, 403, "DELETE with $d: 403") or diag res_summary($res);
    }
    my $res = call(alice => POST => "$A/users/alice/$alice", json => { name => 'from the page' },
                   headers => { Referer => $env->base_url . '/account/tokens/' });
    is($res->{status}, 200, "no Origin, a Referer of this site's page: the change is made")
        or diag res_summary($res);
    $res = call(alice => OPTIONS => "$A/users/alice",
                headers => { Origin => 'https://evil.example', 'Access-Control-Request-Method' => 'DELETE' });
    ok(!grep(/^access-control-/i, keys %{ $res->{headers} }), "no CORS grant: $res->{status}");
    is(live(), $n, 'nothing changed');
};

subtest 'hostile bodies' => sub {
    my $alice_name = $env->psql("SELECT name FROM bbtoken_tokens WHERE id = '$alice'");
    for my $b ('{"name":"a","name":"b","permissions":["REPO_READ"]}',
               '{"name":"a","permissions":["REPO_READ"],"permissions":["REPO_ADMIN"]}',
               '{"name":["a"],"permissions":["REPO_READ"]}', '{"name":{"a":1},"permissions":["REPO_READ"]}',
               '{"name":"a","permissions":"REPO_READ"}', '{"name":"a","permissions":[["REPO_READ"]]}',
               '{"name":"a","permissions":["REPO_READ"],"expiryDays":1e300}',
               '{"name":"a","permissions":["REPO_READ"],"expiryDays":9223372036854775808}',
               '{"name":"a","permissions":["REPO_READ"],"expiryDays":-9223372036854775808}',
               '{"name":"a","permissions":["REPO_READ"],"expiryDays":2147483648}',
               '{"name":"a","permissions":["REPO_READ"],"expiryDays":30.0}',
               '{"name":"a","permissions":["REPO_READ"],"expiryDays":"30"}',
               '{"name":"a","permissions":["REPO_READ"],"expiryDays":0}',
               qq({"name":"a\\u200b","permissions":["REPO_READ"]}), qq({"name":"\\u202egnp.exe","permissions":["REPO_READ"]}),
               qq({"name":"a\\u0000b","permissions":["REPO_READ"]}), qq({"name":"\\ud800","permissions":["REPO_READ"]}),
               qq({"name":"a\\u2028b","permissions":["REPO_READ"]}), qq({"name":"a\\u00adb","permissions":["REPO_READ"]}),
               qq({"name":"a","permissions":["REPO_READ\\u0000"]}), qq({"name":"a","Name":"b","permissions":["REPO_READ"]}),
               '[{"name":"a","permissions":["REPO_READ"]}]', '"x"', '1', 'null', '{', '{}' x 2,
               '{"name":"a","permissions":["REPO_READ"],"allowedAddresses":"0.0.0.0/0"}',
               '{"name":"a","permissions":["REPO_READ"],"allowedAddresses":[["10.0.0.0/8"]]}') {
        my $res = call(alice => PUT => "$A/users/alice", body => $b,
                       headers => { 'Content-Type' => 'application/json' });
        is($res->{status}, 400, "PUT $b: 400") or diag res_summary($res);
        $res = call(alice => POST => "$A/users/alice/$alice", body => $b,
                    headers => { 'Content-Type' => 'application/json' });
        is($res->{status}, 400, "POST $b: 400") or diag res_summary($res);
    }
    is(live(), $n, 'nothing made');
    is($env->psql("SELECT name FROM bbtoken_tokens WHERE id = '$alice'"), $alice_name, "alice's token keeps its name");
    is($env->psql("SELECT name || ' ' || coalesce(repo_perm,'') FROM bbtoken_tokens WHERE id = '$alice'") =~ /REPO_READ/,
       1, 'alice\'s token is still REPO_READ');
};

# A token holds at most two permissions, and the handler reads at most
# eight names (into a list of eight): eight are read and refused for what
# they say, more are refused by their count before any is read, up to the
# 32 items the body's shape allows and beyond it.  The child lives on.
subtest 'more permission names than the handler reads' => sub {
    my $perms = $env->psql("SELECT coalesce(project_perm, '') || ' ' || coalesce(repo_perm, '')"
                           . " FROM bbtoken_tokens WHERE id = '$alice'");
    my $msg = sub { my ($res) = @_; ref $res->{json} eq 'HASH' ? ($res->{json}{errors}[0]{message} // '') : '' };
    my $many = [qr/^invalid permissions: too many\z/, 'refused as too many, none read'];
    my $shape = [qr/^the request body holds more than this call reads/, "refused by the body's shape"];
    my %want = (8 => [qr/^invalid permissions: more than one repository permission\z/, 'read, and refused for what they say'],
                9 => $many, 16 => $many, 32 => $many, 33 => $shape, 1000 => $shape);
    for my $count (sort { $a <=> $b } keys %want) {
        my ($re, $why) = @{ $want{$count} };
        my @p = ('REPO_READ') x $count;
        my $res = call(alice => PUT => "$A/users/alice", json => { name => "many $count", permissions => \@p });
        is($res->{status}, 400, "create, $count permission names: 400") or diag res_summary($res);
        like($msg->($res), $re, "  $why");
        $res = call(alice => POST => "$A/users/alice/$alice", json => { permissions => \@p });
        is($res->{status}, 400, "update, $count permission names: 400") or diag res_summary($res);
        like($msg->($res), $re, "  $why");
        is_ok_res(call(alice => GET => "$A/users/alice/$alice"), '  the next request is answered');
    }
    is(live(), $n, 'nothing made');
    is($env->psql("SELECT coalesce(project_perm, '') || ' ' || coalesce(repo_perm, '')"
                  . " FROM bbtoken_tokens WHERE id = '$alice'"), $perms, "alice's token keeps its permissions");
    is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
};

subtest 'a byte-order mark before the body, as Windows tools write one' => sub {
    my $bom = "\xef\xbb\xbf";
    my $res = call(alice => PUT => "$A/users/alice", body => $bom . '{"name":"from-windows","permissions":["REPO_READ"]}',
                   headers => { 'Content-Type' => 'application/json' });
    is($res->{status}, 200, 'one mark: made, as Bitbucket reads it') or diag res_summary($res);
    is($env->psql("SELECT name FROM bbtoken_tokens WHERE id = '" . ($res->{json}{id} // 0) . "'"), 'from-windows',
       'under the name the body gives');
    for my $b ($bom x 2 . '{"name":"twice","permissions":["REPO_READ"]}',
               '{"name":"after","permissions":["REPO_READ"]}' . $bom, $bom) {
        $res = call(alice => PUT => "$A/users/alice", body => $b, headers => { 'Content-Type' => 'application/json' });
        is($res->{status}, 400, 'a mark twice, after the value, or alone: 400') or diag res_summary($res);
    }
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name IN ('twice', 'after')"), 0, 'nothing else made');
};

subtest 'a token exceeds itself: it manages no tokens, and rotation widens nothing' => sub {
    my $res = call(alice => PUT => "$A/users/alice", json => { name => 'bearer', permissions => ['REPO_READ'] });
    my $tok = $res->{json}{token} // '';
    my $id = $res->{json}{id} // '';
    my $ptok = call(padmin => PUT => "$A/projects/PROJ", json => { name => 'p2', permissions => ['PROJECT_READ'] })->{json}{token} // '';
    my $live = live();
    for my $auth ("Bearer $tok", $env->basic(alice => $tok), "Bearer $ptok", $env->basic(padmin => $ptok),
                  $env->basic('x-token-auth' => $ptok)) {
        for my $p ("users/alice", "projects/PROJ", "users/alice/$id/rotate") {
            $res = $env->rest(($p =~ /rotate/ ? 'POST' : 'PUT') => "$A/$p", auth => $auth,
                              json => { name => 'up', permissions => ['REPO_ADMIN'] });
            ok($res->{status} =~ /^(401|403)$/, "a token's login: $p: $res->{status}") or diag res_summary($res);
        }
    }
    # A rotation reads no body: what it asks for is not given.
    $res = call(alice => POST => "$A/users/alice/$id/rotate",
                json => { permissions => ['REPO_ADMIN'], expiryDays => 3650, name => 'wider' });
    is($res->{status}, 200, 'rotate with a body asking for more: 200') or diag res_summary($res);
    is_deeply($res->{json}{permissions}, ['PROJECT_READ', 'REPO_READ'], 'still REPO_READ (and the PROJECT_READ it implies)');
    is($res->{json}{name}, 'bearer', 'the same name');
    ok(!defined $res->{json}{expiryDays}, 'no expiry was given');
    is(live(), $live, 'one token for one');
};

subtest 'hostile query strings' => sub {
    for my $q ('start=-1', 'limit=-1', 'start=99999999999', 'limit=99999999999', 'start=1e3', 'limit=0x10',
               'start=%2B1', 'start=%201', 'start=1%00', 'limit=%', 'start=%ff', 'start=', 'limit=1.5') {
        my $res = call(alice => GET => "$A/users/alice?$q");
        is($res->{status}, 400, "?$q: 400") or diag res_summary($res);
    }
    for my $q ('limit=1&limit=999', 'start=0&start=-1', 'limit=999999999&start=999999999') {
        my $res = call(alice => GET => "$A/users/alice?$q");
        is($res->{status}, 200, "?$q: 200") or diag res_summary($res);
    }
};

done_testing;
