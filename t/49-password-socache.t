# A password user's internal requests under other per-dir configurations
# (each member of a WebDAV PROPFIND is a sub-request) ask the
# AuthBBTokenProvider providers again, as mod_auth_basic does.
# mod_authn_socache, listed first ("AuthBBTokenProvider socache keeper",
# "AuthnCacheProvideFor keeper"), answers them from what the provider
# stored (t/keeper/mod_bbt_keeper.c stores through ap_authn_cache_store, as
# mod_authn_file does, and logs each call so that the calls are counted).
# A wrong password is refused from the cache, a disabled user is refused
# by the module as without it, a name the provider gives the user is not
# cached; with mod_authn_file, a changed password is not seen until
# AuthnCacheTimeout.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Assert;

my $N = 12;    # members of the collection listed
my $extra = <<'EOC';
LoadModule bbt_keeper_module "@DIR@/mod_bbt_keeper.so"
LogLevel bbt_keeper:notice
AuthnCacheSOCache shmcb
DavLockDB "@DIR@/davlock/lockdb"
# The provider alone.
Alias /dav "@DIR@/dav"
<Location /dav>
    Dav On
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider keeper
    BBTokenRoutes dav
    Require bbtoken
</Location>
# The same tree, the provider's answers cached.
Alias /cdav "@DIR@/dav"
<Location /cdav>
    Dav On
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider socache keeper
    AuthnCacheProvideFor keeper
    AuthnCacheTimeout 3600
    BBTokenRoutes dav /cdav
    Require bbtoken
</Location>
# mod_authn_file, cached.
Alias /fdav "@DIR@/dav"
<Location /fdav>
    Dav On
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider socache file
    AuthUserFile "@DIR@/htpasswd"
    AuthnCacheProvideFor file
    AuthnCacheTimeout 3600
    BBTokenRoutes dav /fdav
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(httpd => 0, extra_conf => $extra,
                        modules => [qw(dav dav_fs authn_file authn_socache socache_shmcb)])->start;
my $d = $env->dir;

$env->build_keeper;
# Each collection is a context of its own in the cache (AuthnCacheContext
# directory, the default): a user is cached afresh under each.
make_path("$d/dav/PROJ/$_", "$d/davlock") for qw(repo other named);
for my $c (qw(repo other named)) {
    BBT::Env::spew("$d/dav/PROJ/$c/f$_.txt", "f$_\n") for 1 .. $N;
}
$env->give_to_httpd("$d/dav", "$d/davlock");
$env->htpasswd(dave => 'dave-Pa55-word');
$env->write_conf;
$env->httpd_start;
for my $u (qw(lee kimberly dave)) {
    $env->user_add($u);
    $env->grant($u, 'PROJECT_READ', 'PROJ');
}

# The keeper's calls for a user since the log was $from characters long.
sub asked {
    my ($user, $from) = @_;
    my $log = substr($env->error_log_text, $from);
    return scalar(() = $log =~ /keeper asked for \Q$user\E$/mg);
}

my ($last_body, $last_log) = ('', '');

sub propfind {
    my ($path, $user, $pw) = @_;
    my $from = length $env->error_log_text;
    my ($st, $body) = $env->curl($path, method => 'PROPFIND', depth => 1,
                                 auth => $env->basic($user, $pw));
    my $members = () = ($body // '') =~ /<D:href>/g;
    my $read = () = ($body // '') =~ /<lp1:getcontentlength>/g;
    ($last_body, $last_log) = ($body // '', substr($env->error_log_text, $from));
    return ($st, $members, asked($user, $from), $read);
}

subtest 'without the cache, each member asks the provider again' => sub {
    my ($st, $members, $calls) = propfind('/dav/PROJ/repo/', 'lee', 'lee-Pa55-word');
    is($st, 207, 'lee lists the collection');
    is($members, $N + 1, "  the collection and its $N members");
    cmp_ok($calls, '>', $N, "  asking the provider more than $N times ($calls)");
};

subtest 'with mod_authn_socache first, the provider is asked once' => sub {
    my ($st, $members, $calls) = propfind('/cdav/PROJ/repo/', 'lee', 'lee-Pa55-word');
    is($st, 207, 'lee lists the collection');
    is($members, $N + 1, "  the collection and its $N members");
    is($calls, 1, '  asking the provider once: the members are answered from the cache');
    ($st, $members, $calls) = propfind('/cdav/PROJ/repo/', 'lee', 'lee-Pa55-word');
    is($st, 207, 'again');
    is($calls, 0, '  now without asking the provider at all');
};

subtest 'a wrong password is never answered from the cache' => sub {
    my ($st, $members, $calls) = propfind('/cdav/PROJ/repo/', 'lee', 'wrong');
    is($st, 401, 'a wrong password for a cached user is 401');
    is($calls, 0, '  refused by the cache (it holds the hash, not a verdict)');
    ($st, $members, $calls) = propfind('/cdav/PROJ/other/', 'lee', 'wrong');
    is($st, 401, 'a wrong password for a user not yet cached there is 401');
    is($calls, 1, '  refused by the provider');
    ($st, $members, $calls) = propfind('/cdav/PROJ/other/', 'lee', 'lee-Pa55-word');
    is($st, 207, 'the right one, after it, lists the collection');
    is($members, $N + 1, "  the collection and its $N members");
    is($calls, 0, '  from the hash the provider stored on refusing');
};

subtest 'the module\'s own checks are not cached' => sub {
    $env->cli_ok('user', 'disable', 'lee');
    my ($st, $members, $calls) = propfind('/cdav/PROJ/repo/', 'lee', 'lee-Pa55-word');
    is($st, 401, 'lee disabled is refused at once, his password cached or not '
       . '(401: no AuthzSendForbiddenOnFailure)');
    is($calls, 0, '  the password answered from the cache');
    like($last_log, qr/BBT054: user lee: PROPFIND \/cdav\/PROJ\/repo\/ needs REPO_READ/,
         '  by the module\'s authorization (a disabled user has no level)')
        or diag $last_log;
};

subtest 'a name the provider gives the user is not in the cache' => sub {
    # The keeper names kim "kimberly" (as AuthLDAPRemoteUserAttribute
    # would); only kimberly has a grant.  A member answered from the cache
    # is kim's: the cache keeps a hash, not the provider's name.
    my $refused = qr/BBT054: user kim: GET \/c?dav\/PROJ\/named\/f/;
    my ($st, $members, $calls) = propfind('/dav/PROJ/named/', 'kim', 'kim-Pa55-word');
    is($st, 207, 'without the cache, kim lists the collection as kimberly');
    is(scalar(() = $last_log =~ /$refused/g), 0, '  each member as kimberly too');
    ($st, $members, $calls) = propfind('/cdav/PROJ/named/', 'kim', 'kim-Pa55-word');
    is($st, 207, 'with it, the collection itself is kimberly\'s');
    is($calls, 1, '  the provider asked once');
    is(scalar(() = $last_log =~ /$refused/g), $N,
       '  but each member is kim\'s, who has no grant (refused)')
        or diag $last_log;
};

subtest 'mod_authn_file: a changed password is not seen until AuthnCacheTimeout' => sub {
    my ($st, $members) = propfind('/fdav/PROJ/repo/', 'dave', 'dave-Pa55-word');
    is($st, 207, 'dave lists the collection through socache and file');
    is($members, $N + 1, "  the collection and its $N members");
    is((propfind('/fdav/PROJ/repo/', 'dave', 'wrong'))[0], 401, 'a wrong password is 401');
    $env->htpasswd(dave => 'new-Pa55-word');
    is((propfind('/fdav/PROJ/repo/', 'dave', 'dave-Pa55-word'))[0], 207,
       'after the password file changes, the old password still works (cached hash)');
    is((propfind('/fdav/PROJ/repo/', 'dave', 'new-Pa55-word'))[0], 401,
       '  and the new one is refused, until the entry expires');
};

my $logs = $env->error_log_text . $env->access_log_text;
for my $pw (qw(kim-Pa55-word lee-Pa55-word dave-Pa55-word new-Pa55-word)) {
    unlike($logs, qr/\Q$pw\E/, "the password $pw is in no log");
}
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
