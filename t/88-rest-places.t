# The access-tokens REST API's list of the places whose tokens the caller
# may manage, GET .../places: the caller's personal project first, then
# projects, then repositories, each sorted; for a user with no admin rights,
# for a project's admin, for a repository's admin in a project that lets
# them manage its tokens and in one that does not, for the owner of a
# personal project, and for a global admin (every project and repository
# the database knows of).  The list and the per-place check agree: for
# every user and every place, the place is listed exactly when the user may
# list and create its tokens.  Bitbucket's paging, its error envelope for
# bad paging arguments, and a login (401 without one, or with a token).
# A project's Create repository grant (REPO_CREATE) manages none of its
# tokens: it is below admin, though the database numbers it 4.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Assert;
use BBT::Rest qw(rest_env);

my @people = qw(plain padmin radmin carol dave maker root);
# /latest logs in with AuthType BBToken, and a route lets a token in to
# latest/places: the handler itself must refuse it.
my $extra = <<'EOC';
<Location /rest/access-tokens/latest/places>
    BBTokenRoute * "/rest/access-tokens/.*" PROJECT_READ project=PROJ
</Location>
EOC
my $env = rest_env(latest_bbtoken => 1, extra_conf => $extra, passwords => [map { ($_ => "$_-Pa55-word") } @people],
                   users => [qw(plain padmin radmin carol dave maker), [root => '--admin']],
                   grants => [[plain => PROJECT_WRITE => 'PROJ'], [plain => REPO_WRITE => 'PROJ/one'],
                              [plain => REPO_READ => 'PROJ/two'], [padmin => PROJECT_ADMIN => 'PROJ'],
                              [radmin => REPO_ADMIN => 'PROJ/one'], [radmin => REPO_ADMIN => 'SHUT/web'],
                              [dave => REPO_ADMIN => '~carol/notes'], [maker => REPO_CREATE => 'PROJ'],
                              [maker => REPO_ADMIN => 'PROJ/two']]);
$env->cli_ok('project', 'SHUT', '--repo-admins-manage-tokens', 'no');

my $R = '/rest/access-tokens/1.0';
sub call { my ($as, $method, $path, %o) = @_; return $env->rest($method, $path, as => $as, %o) }

# A place as text: KEY or KEY/slug, from a value of the list.
sub place_text {
    my ($v) = @_;
    return "?" unless ref $v eq 'HASH' && keys %$v == 1;
    return $v->{project}{key} // '?' if $v->{project};
    return ($v->{repository}{project}{key} // '?') . '/' . ($v->{repository}{slug} // '?') if $v->{repository};
    return '?';
}

# Every place the caller's list holds, page by page ($limit a page): undef
# if a page is not a 200 page.
sub places {
    my ($as, $limit) = @_;
    my (@all, $start);
    $start = 0;
    for (1 .. 50) {
        my $res = call($as => GET => "$R/places?start=$start" . ($limit ? "&limit=$limit" : ''));
        unless ($res->{status} == 200 && ref $res->{json} eq 'HASH' && ref $res->{json}{values} eq 'ARRAY') {
            diag res_summary($res);
            return undef;
        }
        push @all, map { place_text($_) } @{ $res->{json}{values} };
        return \@all if $res->{json}{isLastPage};
        $start = $res->{json}{nextPageStart};
        return undef unless defined $start;
    }
    return undef;
}

# The API path of a place's tokens.
sub tokens_path {
    my ($place) = @_;
    my ($key, $slug) = split m{/}, $place, 2;
    return "$R/projects/$key" . (defined $slug ? "/repos/$slug" : '');
}

sub is_error {
    my ($res, $status, $re, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $e = ref $res->{json} eq 'HASH' && ref $res->{json}{errors} eq 'ARRAY' ? $res->{json}{errors}[0] : undef;
    my $ok = $res->{status} == $status && $e && defined $e->{message} && $e->{message} =~ $re
        && defined $e->{exceptionName} && exists $e->{context};
    ok($ok, "$name: $status, the error envelope") or diag res_summary($res);
    return $ok;
}

# What each caller is expected to see, in order.
my %want = (
    plain => ['~plain'],
    padmin => ['~padmin', 'PROJ', 'PROJ/one', 'PROJ/two'],
    radmin => ['~radmin', 'PROJ/one'],
    carol => ['~carol', '~carol/notes'],
    dave => ['~dave', '~carol/notes'],
    maker => ['~maker', 'PROJ/two'],
    root => ['~root', 'PROJ', 'SHUT', '~carol', 'PROJ/one', 'PROJ/two', 'SHUT/web', '~carol/notes'],
);

subtest 'each caller\'s places' => sub {
    is_deeply(places('plain'), $want{plain}, 'no admin rights: only the personal project');
    is_deeply(places('padmin'), $want{padmin},
              'PROJECT_ADMIN: the project and the repositories of it the database knows of');
    is_deeply(places('radmin'), $want{radmin},
              'REPO_ADMIN: PROJ/one, not SHUT/web (SHUT lets only its admins manage them)');
    is_deeply(places('carol'), $want{carol}, 'the owner of ~carol: it and its repository');
    is_deeply(places('dave'), $want{dave}, 'REPO_ADMIN in another\'s personal project');
    is_deeply(places('maker'), $want{maker},
              'REPO_CREATE on PROJ: not PROJ, nor its repositories but the one of her REPO_ADMIN');
    is_deeply(places('root'), $want{root}, 'a global admin: every place the database knows of');
};

subtest 'the answer\'s shape' => sub {
    my $res = call(padmin => GET => "/rest/access-tokens/latest/places");
    is_ok_res($res, 'GET latest/places') or return;
    my $j = $res->{json};
    like($res->{headers}{'content-type'} // '', qr{^application/json}, 'JSON');
    is($j->{start}, 0, 'start 0');
    is($j->{limit}, 25, 'limit 25 by default');
    is($j->{size}, 4, 'size 4');
    ok($j->{isLastPage}, 'isLastPage') and ok(!exists $j->{nextPageStart}, 'no nextPageStart');
    my ($p, $r) = @{ $j->{values} }[1, 2];
    is_deeply([sort keys %$p], ['project'], 'a project: {project}');
    is($p->{project}{key}, 'PROJ', '  its key');
    like($p->{project}{links}{self}[0]{href} // '', qr{^http://127\.0\.0\.1:\d+/projects/PROJ\z},
         '  links.self, as a token\'s project has');
    is_deeply([sort keys %$r], ['repository'], 'a repository: {repository}');
    is($r->{repository}{slug}, 'one', '  its slug');
    is($r->{repository}{project}{key}, 'PROJ', '  its project');
    like($r->{repository}{links}{self}[0]{href} // '', qr{/projects/PROJ/repos/one/browse\z}, '  links.self');
    is(call(padmin => GET => "$R/places/")->{status}, 200, 'a trailing slash');
};

subtest 'paging' => sub {
    my $res = call(root => GET => "$R/places?limit=3");
    is_ok_res($res, 'limit=3') or return;
    is(scalar @{ $res->{json}{values} }, 3, 'three places');
    ok(!$res->{json}{isLastPage}, 'not the last page');
    is($res->{json}{nextPageStart}, 3, 'nextPageStart 3');
    $res = call(root => GET => "$R/places?start=6&limit=3");
    is_deeply([map { place_text($_) } @{ $res->{json}{values} || [] }], [@{ $want{root} }[6, 7]],
              'start=6: the last two');
    ok($res->{json}{isLastPage}, 'the last page');
    is_deeply(places('root', 2), $want{root}, 'two by two: the same list');
    is_deeply(places('root', 1), $want{root}, 'one by one: the same list');
    $res = call(root => GET => "$R/places?start=100");
    is_deeply($res->{json}{values}, [], 'past the end: no places');
};

subtest 'bad arguments, no login, a token, another method' => sub {
    is_error(call(root => GET => "$R/places?start=x"), 400, qr/start and limit/, 'start=x');
    is_error(call(root => GET => "$R/places?limit=-1"), 400, qr/start and limit/, 'limit=-1');
    is_error(call(root => GET => "$R/places?start=1234567890"), 400, qr/start and limit/, 'start of 10 digits');
    is_error(call(root => GET => "$R/places?limit="), 400, qr/start and limit/, 'an empty limit');
    my $res = $env->rest(GET => "$R/places", noauth => 1);
    is($res->{status}, 401, 'no login: 401') or diag res_summary($res);
    ok(grep({ /^Basic / } challenges($res)), '  with the login\'s challenge');
    is($env->rest(GET => "$R/places", auth => $env->basic('plain', 'wrong'))->{status}, 401,
       'a wrong password: 401');
    my $tok = $env->token_create('plain', name => 'ci', perms => ['PROJECT_READ']);
    is_error($env->rest(GET => "/rest/access-tokens/latest/places", auth => "Bearer $tok"), 401,
             qr/cannot be used/, 'a token, where it authenticates');
    is_error($env->rest(GET => "/rest/access-tokens/latest/places", auth => $env->basic('plain', $tok)), 401,
             qr/cannot be used/, '  as the Basic password too');
    $res = call(root => PUT => "$R/places", json => {});
    is_error($res, 405, qr/not allowed/, 'PUT');
    is($res->{headers}{allow}, 'GET, HEAD', '  Allow: GET, HEAD');
};

subtest 'the list and the per-place check agree' => sub {
    # Every place the database knows of, and everyone's personal project:
    # the API's own check decides each, for each caller, and the list says
    # the same.
    my @known = (@{ $want{root} }, map {"~$_"} grep { $_ ne 'root' } @people);
    for my $who (grep { $_ ne 'root' } @people) {
        my %listed = map { ($_ => 1) } @{ places($who) || [] };
        for my $place (@known) {
            my $st = call($who => GET => tokens_path($place))->{status};
            is($st, $listed{$place} ? 200 : 401,
               "$who, $place: " . ($listed{$place} ? 'listed, may list its tokens' : 'not listed, may not'));
        }
        for my $place (sort keys %listed) {
            my $perm = $place =~ m{/} ? 'REPO_READ' : 'PROJECT_READ';
            is_ok_res(call($who => PUT => tokens_path($place), json => { name => "by $who", permissions => [$perm] }),
                      "$who creates a token of $place, which is listed");
        }
        my ($unlisted) = grep { !$listed{$_} } @known;
        is_error(call($who => PUT => tokens_path($unlisted), json => { name => "by $who", permissions => ['REPO_READ'] }),
                 401, qr/not permitted/, "$who cannot create one of $unlisted, which is not listed");
    }
    my %root = map { ($_ => 1) } @{ places('root') || [] };
    for my $place (@known) {
        is(call(root => GET => tokens_path($place))->{status}, 200, "root, $place: may list its tokens");
        # Each personal project holds a token by now: all are known.
        ok($root{$place}, "root, $place: listed");
    }

    # Places the database has never heard of are listed for nobody, though
    # a global admin may manage them all, and a project's admin its
    # repositories: those they type.
    for my $place ('ZZZ', 'PROJ/three', '~nobody') {
        for my $who (@people) {
            my $may = $who eq 'root' || ($who eq 'padmin' && $place eq 'PROJ/three');
            is(call($who => GET => tokens_path($place))->{status}, $may ? 200 : 401,
               "$who, $place (unknown): " . ($may ? 'may' : 'may not') . ' manage it');
            ok(!grep({ $_ eq $place } @{ places($who) || [] }), "  not listed for $who");
        }
    }
    is_ok_res(call(root => PUT => tokens_path('ZZZ/app'), json => { name => 'z', permissions => ['REPO_READ'] }),
              'root makes a token of ZZZ/app');
    my $after = places('root') || [];
    ok((grep { $_ eq 'ZZZ' } @$after) && (grep { $_ eq 'ZZZ/app' } @$after),
       'now ZZZ and ZZZ/app are listed for root: a token names them') or diag "@$after";
    ok(!grep({ $_ eq 'ZZZ' || $_ eq 'ZZZ/app' } @{ places('padmin') || [] }), 'but not for padmin');
    # A personal project without its user: no token would have an owner
    # to follow, and the user later given the name would inherit it.
    for my $place ('~nobody', '~nobody/x') {
        is_error(call(root => PUT => tokens_path($place), json => { name => 'n', permissions => ['REPO_READ'] }),
                 400, qr/the personal project ~nobody has no user/, "root makes no token of $place");
    }
};

subtest 'the project\'s setting changes the list at once' => sub {
    $env->cli_ok('project', 'PROJ', '--repo-admins-manage-tokens', 'no');
    is_deeply(places('radmin'), ['~radmin'], 'PROJ says no: radmin lists only ~radmin');
    is(call(radmin => GET => tokens_path('PROJ/one'))->{status}, 401, '  and may not manage PROJ/one');
    is_deeply(places('padmin'), $want{padmin}, '  padmin still lists PROJ and its repositories');
    $env->cli_ok('project', 'PROJ', '--repo-admins-manage-tokens', 'yes');
    is_deeply(places('radmin'), $want{radmin}, 'yes again: PROJ/one is back');
    $env->cli_ok('user', 'disable', 'padmin');
    is_error(call(padmin => GET => "$R/places"), 401, qr/not permitted/, 'a disabled user: 401');
    $env->cli_ok('user', 'enable', 'padmin');
};

subtest 'the personal project\'s repositories come before the other projects' => sub {
    is_ok_res(call(padmin => PUT => tokens_path('~padmin/mine'), json => { name => 'm', permissions => ['REPO_READ'] }),
              'padmin makes a token of her own ~padmin/mine');
    is_deeply(places('padmin'), ['~padmin', '~padmin/mine', @{ $want{padmin} }[1 .. $#{ $want{padmin} }]],
              '~padmin, its repository, then PROJ and its repositories');
};

my @leaked = grep { my $t = $_; $env->error_log_text =~ /\Q$t\E/ || $env->access_log_text =~ /\Q$t\E/ }
    $env->rest_tokens;
is(scalar @leaked, 0, 'no raw token in the logs');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
