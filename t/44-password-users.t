# Password users beside token users: AuthBBTokenProvider hands a Basic
# password that is not a token to mod_authn_file.  Under Require bbtoken a
# password user is held to the same routes, with the user's own grants;
# under Require valid-user existing users keep working as before, while a
# token is still capped by its routes, and a database outage leaves them
# so (their grants are not read there).  The password is never logged.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(b64 auth_basic);
use BBT::Assert;

my $extra = <<'EOC';
ScriptAlias /pw/ "@DIR@/cgi-bin/env.cgi/"
<Location /pw>
    CGIPassAuth On
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /pw
    Require bbtoken
    # Variables under the module's names, set before it authenticates,
    # are taken away.
    SetEnvIf Request_URI "^/pw/" BBTOKEN_ID=spoofed BBTOKEN_NAME=spoofed
    # 403, not 401, for a password user's missing grant (git keeps the
    # password); tokens get 403 regardless.
    AuthzSendForbiddenOnFailure On
</Location>
ScriptAlias /pwv/ "@DIR@/cgi-bin/env.cgi/"
<Location /pwv>
    CGIPassAuth On
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /pwv
    Require valid-user
</Location>
# Require bbtoken without AuthzSendForbiddenOnFailure: too few grants are
# httpd's 401.
ScriptAlias /pwn/ "@DIR@/cgi-bin/env.cgi/"
<Location /pwn>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /pwn
    Require bbtoken
</Location>
# A password file that cannot be read: mod_authn_file's AUTH_GENERAL_ERROR.
ScriptAlias /pwx/ "@DIR@/cgi-bin/env.cgi/"
<Location /pwx>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/no-such-htpasswd"
    BBTokenRoutes git /pwx
    Require valid-user
</Location>
# A project within /pw that takes tokens only: its section takes the
# parent's providers away.
<Location /pw/NOPW>
    AuthBBTokenProvider none
</Location>
# The git location of the harness, with passwords too.
<Location /scm>
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    AuthzSendForbiddenOnFailure On
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file authz_user setenvif)])->start;
# Carol is another user than carol to the password file, which tells
# case apart; the module's users are carol alone.
my %pw = (carol => 'carol-Pa55-word', dave => 'dave-Pa55-word', Carol => 'Carol-Pa55-word');
$env->htpasswd(%pw);

$env->make_repo('PROJ', 'repo');
$env->make_repo('OTHER', 'thing');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
# dave is in the password file only: no grants in the module's database.
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $rtok = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);

my $UP = 'PROJ/repo.git/info/refs?service=git-upload-pack';
my $RP = 'PROJ/repo.git/info/refs?service=git-receive-pack';

subtest 'Require bbtoken: a password user gets the routes, with the user\'s grants' => sub {
    my ($res, $v) = $env->cgi_call(GET => "/pw/$UP", auth_basic('carol', $pw{carol}));
    is_ok_res($res, 'carol reads PROJ/repo with her password (PROJECT_READ)');
    is($v->{REMOTE_USER}, 'carol', '  REMOTE_USER is carol');
    ok(!defined $v->{BBTOKEN_ID}, '  no BBTOKEN_ID, not even the one SetEnvIf set');
    ok(!defined $v->{BBTOKEN_NAME}, '  nor the BBTOKEN_NAME SetEnvIf set');
    ok(!defined $v->{HTTP_AUTHORIZATION}, '  the backend does not get her password');
    is($v->{BBTOKEN_PERMISSION}, 'REPO_READ', '  the route\'s permission is passed on');
    is($v->{BBTOKEN_TARGET}, 'PROJ/repo', '  and its target');
    ($res) = $env->cgi_call(GET => "/pw/$RP", auth_basic('carol', $pw{carol}));
    is($res->{status}, 403, 'carol cannot push: her grant is PROJECT_READ') or diag res_summary($res);
    ($res) = $env->cgi_call(GET => '/pw/OTHER/thing.git/info/refs?service=git-upload-pack', auth_basic('carol', $pw{carol}));
    is($res->{status}, 403, 'carol cannot read OTHER');
    ($res) = $env->cgi_call(GET => '/pw/PROJ/repo.git/config', auth_basic('carol', $pw{carol}));
    is($res->{status}, 403, 'no route: 403');
    ($res) = $env->cgi_call(GET => "/pw/$UP", auth_basic('dave', $pw{dave}));
    is($res->{status}, 403, 'dave (no grants) is refused under Require bbtoken');
    ($res) = $env->cgi_call(GET => "/pw/PROJ/redirect-to-push.git/info/refs?service=git-upload-pack", auth_basic('carol', $pw{carol}));
    ok($res->{status} != 200 || ($res->{content} // '') !~ /receive-pack/,
       'an internal redirect to a push does not widen a password user');
};

subtest 'AuthBBTokenProvider none in a nested section: no password there, tokens as before' => sub {
    $env->make_repo('NOPW', 'repo');
    $env->grant('carol', 'PROJECT_READ', 'NOPW');
    my $tok = $env->token_create('carol', name => 'nopw', perms => ['REPO_READ']);
    my $path = '/pw/NOPW/repo.git/info/refs?service=git-upload-pack';
    is_401($env->get($path, auth_basic('carol', $pw{carol})), 1,
           "carol's password is refused under /pw/NOPW, where she may read");
    my ($res) = $env->cgi_call(GET => $path, auth_basic('carol', $tok));
    is_ok_res($res, '  her token reads it');
    ($res) = $env->cgi_call(GET => "/pw/$UP", auth_basic('carol', $pw{carol}));
    is_ok_res($res, '  and her password still reads PROJ/repo under /pw');
};

# none is an empty list, not a provider: beside one it would take it away
# on one order of the lines and be lost on the other.
subtest 'AuthBBTokenProvider: none stands alone in its section' => sub {
    for my $bad (['file none'], ['none file'], ['none none'], ['file', 'none'], ['none', 'file']) {
        my $lines = join '', map { "    AuthBBTokenProvider $_\n" } @$bad;
        my ($rc, $out) = $env->config_test("<Location /x>\n$lines</Location>\n");
        ok($rc != 0 && $out =~ /AuthBBTokenProvider: 'none' stands alone/,
           join(', then ', map {"'$_'"} @$bad) . ': httpd does not start') or diag $out;
    }
    my ($rc, $out) = $env->config_test("<Location /x>\n    AuthBBTokenProvider none\n</Location>\n");
    is($rc, 0, 'none alone: it starts') or diag $out;
    ($rc, $out) = $env->config_test("<Location /x>\n    AuthBBTokenProvider nosuch\n</Location>\n");
    ok($rc != 0 && $out =~ /unknown authn provider 'nosuch'/, 'an unknown provider: httpd does not start')
        or diag $out;
};

subtest 'wrong passwords' => sub {
    is_401($env->get("/pw/$UP", auth_basic('carol', 'wrong')), 1, 'wrong password');
    is_401($env->get("/pw/$UP", auth_basic('nobody', 'x')), 1, 'unknown user');
    is_401($env->get("/pw/$UP", auth_basic('carol', $pw{dave})), 1, "another user's password");
    is_401($env->get("/pw/$UP", { Authorization => "Bearer $pw{carol}" }), 1,
           'a password as a Bearer token');
    # Whether the user exists is not told: the same answer, header for header.
    my $shape = sub {
        my ($res) = @_;
        my %h = %{ $res->{headers} };
        delete @h{qw(date)};
        return [ $res->{status}, $res->{content} // '',
                 map { my $v = $h{$_}; "$_: " . (ref $v ? join('|', @$v) : $v) } sort keys %h ];
    };
    is_deeply($shape->($env->get("/pw/$UP", auth_basic('nobody', 'x'))),
              $shape->($env->get("/pw/$UP", auth_basic('carol', 'x'))),
              'an unknown user and a wrong password get the same answer');
};

subtest 'a right password with too few grants: httpd\'s 401 calls no credentials invalid' => sub {
    my ($res) = $env->cgi_call(GET => "/pwn/$UP", auth_basic('dave', $pw{dave}));
    is_401($res, 0, 'dave (no grants), without AuthzSendForbiddenOnFailure');
    ($res) = $env->cgi_call(GET => "/pwn/$UP", auth_basic('carol', $pw{carol}));
    is_ok_res($res, 'carol (PROJECT_READ) reads there');
    is_401($env->get("/pwn/$UP", auth_basic('carol', 'wrong')), 1, '  a wrong password still is invalid');
};

subtest 'a password user is the name the provider accepted, and the grants are live' => sub {
    my ($res, $v) = $env->cgi_call(GET => "/pw/$UP", auth_basic('Carol', $pw{Carol}));
    is($res->{status}, 403, "Carol (the file's other user) does not get carol's grant")
        or diag res_summary($res);
    ($res) = $env->cgi_call(GET => "/pw/$UP", auth_basic('CAROL', $pw{carol}));
    is_401($res, 1, "carol's password under another case of her name is not hers");
    $env->cli_ok('user', 'disable', 'carol');
    ($res) = $env->cgi_call(GET => "/pw/$UP", auth_basic('carol', $pw{carol}));
    is($res->{status}, 403, 'carol disabled: refused at once') or diag res_summary($res);
    ($res) = $env->cgi_call(GET => "/pwv/$UP", auth_basic('carol', $pw{carol}));
    is_ok_res($res, '  but let in under Require valid-user, as before the module');
    $env->cli_ok('user', 'enable', 'carol');
    ($res) = $env->cgi_call(GET => "/pw/$UP", auth_basic('carol', $pw{carol}));
    is_ok_res($res, 'enabled again: she reads at once');
    $env->cli_ok('ungrant', 'carol', 'PROJ');
    ($res) = $env->cgi_call(GET => "/pw/$UP", auth_basic('carol', $pw{carol}));
    is($res->{status}, 403, 'her grant taken away: refused at once') or diag res_summary($res);
    $env->grant('carol', 'PROJECT_READ', 'PROJ');
    ($res) = $env->cgi_call(GET => "/pw/$UP", auth_basic('carol', $pw{carol}));
    is_ok_res($res, 'given back: she reads at once');
};

subtest 'a provider that fails is 500, never a pass' => sub {
    my ($res) = $env->cgi_call(GET => "/pwx/$UP", auth_basic('carol', $pw{carol}));
    is($res->{status}, 500, 'an unreadable password file is 500') or diag res_summary($res);
    ok(!grep({ /^Basic/i } challenges($res)), '  with no challenge (git keeps the password)');
    like($env->error_log_text, qr/BBT039: password check for user carol failed in its provider/,
         '  and BBT039 says so');
};

subtest 'Require valid-user: existing users keep working, tokens stay capped' => sub {
    my ($res, $v) = $env->cgi_call(GET => "/pwv/$RP", auth_basic('dave', $pw{dave}));
    is_ok_res($res, 'dave (no grants) reaches the push advertisement as before');
    is($v->{REMOTE_USER}, 'dave', '  as dave');
    ($res) = $env->cgi_call(GET => "/pwv/$UP", { Authorization => $env->bearer($rtok) });
    is_ok_res($res, 'a REPO_READ token reads');
    ($res) = $env->cgi_call(GET => "/pwv/$RP", { Authorization => $env->bearer($rtok) });
    is_403($res, 'a REPO_READ token is still refused the push');
};

subtest 'git with a password beside tokens' => sub {
    my $url = 'http://carol:' . $pw{carol} . '@127.0.0.1:' . $env->port . '/scm/PROJ/repo.git';
    my $w = $env->workdir('carol');
    my ($rc, $out, $err) = $env->git('clone', '-q', $url, $w);
    is($rc, 0, 'carol clones with her password') or diag $err;
    $env->commit_file($w, 'c.txt', "c\n");
    ($rc, $out, $err) = $env->git({ cwd => $w }, 'push', 'origin', 'main');
    isnt($rc, 0, 'carol cannot push (PROJECT_READ)');
    like($err, qr/403/, '  refused with 403');
    ($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('alice', $rtok, 'PROJ', 'repo'));
    is($rc, 0, 'tokens still work there') or diag $err;
};

# Under Require valid-user a password user's own grants decide nothing,
# so they are not read, and the database down leaves such users as they
# were; under Require bbtoken they decide, and the database down is 503,
# never a grant assumed.
subtest 'the database down: Require valid-user as before, Require bbtoken 503' => sub {
    is($env->get("/pwv/$UP", auth_basic('dave', $pw{dave}))->{status}, 200, 'Require valid-user: dave reads');
    is($env->get("/pwn/$UP", auth_basic('carol', $pw{carol}))->{status}, 200, 'Require bbtoken: carol reads, by her grant');
    $env->pg_stop;
    is($env->get("/pwv/$UP", auth_basic('dave', $pw{dave}))->{status}, 200,
       'the database down: Require valid-user, dave still reads');
    is($env->get("/pwv/$UP", auth_basic('carol', $pw{carol}))->{status}, 200, '  and carol');
    is_status($env->get("/pwn/$UP", auth_basic('carol', $pw{carol})), 503, 'Require bbtoken: 503, no grant assumed');
    is_status($env->get("/pwn/$UP", auth_basic('dave', $pw{dave})), 503, '  for dave too');
    $env->pg_start;
    is($env->get("/pwn/$UP", auth_basic('carol', $pw{carol}))->{status}, 200, 'the database back: carol reads again');
};

my $logs = $env->error_log_text . $env->access_log_text;
for my $u (sort keys %pw) {
    unlike($logs, qr/\Q$pw{$u}\E/, "the password of $u is in no log");
    my $b = b64("$u:$pw{$u}");
    unlike($logs, qr/\Q$b\E/, "  nor its base64");
}
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
