# Password users and the AuthBBTokenProvider providers: what a provider is
# given and what it decides stays as it left it (t/keeper/mod_bbt_keeper.c,
# a test-only provider built here, keeps the password it was given and
# names the user itself, as mod_authnz_ldap can), and a password carried by
# an internal redirect into another section, whose own providers (and
# their settings: another AuthUserFile) are asked again.  Where
# mod_auth_basic is the measure (an answer outside the providers' contract,
# a UTF-8 user name), a location of AuthType Basic with the same provider
# answers beside the module's; mod_authnz_fcgi (with a stand-in FastCGI
# authenticator, t/keeper/fcgi-authn.pl) is asked for a user in r->user.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Assert;

my $extra = <<'EOC';
LoadModule bbt_keeper_module "@DIR@/mod_bbt_keeper.so"
# Require valid-user: the provider alone decides.
ScriptAlias /kv/ "@DIR@/cgi-bin/env.cgi/"
<Location /kv>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider keeper
    BBTokenRoutes git /kv
    Require valid-user
</Location>
# Require bbtoken: the user the provider named is held to its grants.
ScriptAlias /kp/ "@DIR@/cgi-bin/env.cgi/"
<Location /kp>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider keeper
    BBTokenRoutes git /kp
    Require bbtoken
    AuthzSendForbiddenOnFailure On
</Location>
# mod_auth_basic with the same providers, to compare the module with.
ScriptAlias /kb/ "@DIR@/cgi-bin/env.cgi/"
<Location /kb>
    AuthType Basic
    AuthName "Git"
    AuthBasicProvider keeper
    Require valid-user
</Location>
ScriptAlias /fb/ "@DIR@/cgi-bin/env.cgi/"
<Location /fb>
    AuthType Basic
    AuthName "Git"
    AuthBasicProvider file
    AuthUserFile "@DIR@/htpasswd"
    Require valid-user
</Location>
# mod_authnz_fcgi: its application reads the user from REMOTE_USER.
AuthnzFcgiDefineProvider authn fcauth fcgi://127.0.0.1:@FCPORT@/
ScriptAlias /fcb/ "@DIR@/cgi-bin/env.cgi/"
<Location /fcb>
    AuthType Basic
    AuthName "Git"
    AuthBasicProvider fcauth
    Require valid-user
</Location>
ScriptAlias /fck/ "@DIR@/cgi-bin/env.cgi/"
<Location /fck>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider fcauth
    BBTokenRoutes git /fck
    Require valid-user
</Location>
# A page missing here is answered by a CGI in /fck, whose providers are
# asked again for the password (another section): its status stays 404.
Alias /fce "@DIR@/scratch"
<Location /fce>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider fcauth
    Require valid-user
    ErrorDocument 404 /fck/PROJ/repo.git/info/refs?service=git-upload-pack
</Location>
# The same, where mod_authnz_fcgi logs at trace8: it dumps what it sends
# its application at trace5, the password among it.
ScriptAlias /fct/ "@DIR@/cgi-bin/env.cgi/"
<Location /fct>
    LogLevel authnz_fcgi:trace8
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider fcauth
    BBTokenRoutes git /fct
    Require valid-user
</Location>
<AuthnProviderAlias file file2>
    AuthUserFile "@DIR@/htpasswd"
</AuthnProviderAlias>
Alias /pwa "@DIR@/scratch"
<Location /pwa>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    Require valid-user
    ErrorDocument 404 /pwb/PROJ/repo.git/info/refs?service=git-upload-pack
</Location>
Alias /pwa2 "@DIR@/scratch"
<Location /pwa2>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    Require valid-user
    ErrorDocument 404 /pwc/PROJ/repo.git/info/refs?service=git-upload-pack
</Location>
Alias /pwa3 "@DIR@/scratch"
<Location /pwa3>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    Require valid-user
    ErrorDocument 404 /pwd/PROJ/repo.git/info/refs?service=git-upload-pack
</Location>
# The same provider, with a password file of its own that dave is not in.
ScriptAlias /pwd/ "@DIR@/cgi-bin/env.cgi/"
<Location /pwd>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd-admins"
    BBTokenRoutes git /pwd
    Require valid-user
</Location>
# The same provider list as /pwa, written again: a list of its own.
ScriptAlias /pwb/ "@DIR@/cgi-bin/env.cgi/"
<Location /pwb>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /pwb
    Require valid-user
</Location>
# Another list: the same file under another provider name.
ScriptAlias /pwc/ "@DIR@/cgi-bin/env.cgi/"
<Location /pwc>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file2
    BBTokenRoutes git /pwc
    Require valid-user
</Location>
EOC
my $fcport = BBT::Env::free_port();
$extra =~ s/\@FCPORT\@/$fcport/g;
my $env = BBT::Env->new(httpd => 0, extra_conf => $extra,
                        modules => [qw(auth_basic authn_file authz_user authnz_fcgi)])->start;

# The FastCGI authenticator, a child of this test's alone.
my $fclog = $env->dir . '/fcgi-users';
my $fcpid = fork() // BAIL_OUT("fork: $!");
if (!$fcpid) {
    exec($^X, "$FindBin::Bin/keeper/fcgi-authn.pl", $fcport, $fclog);
    exit 127;
}
END { kill 'TERM', $fcpid if $fcpid; }
for (1 .. 400) {
    last if BBT::Env::port_open($fcport);
    select(undef, undef, undef, 0.05);
}

# The test-only provider, built into this test's own directory.
$env->build_keeper;
$env->write_conf;
$env->httpd_start;
my $h = $env->dir . '/htpasswd';
system('htpasswd', '-b', '-c', '-B', $h, 'dave', 'dave-Pa55-word') == 0
    or BAIL_OUT('htpasswd failed');
chmod 0644, $h;
system('htpasswd', '-b', '-c', '-B', $env->dir . '/htpasswd-admins', 'root', 'root-Pa55-word') == 0
    or BAIL_OUT('htpasswd failed');
chmod 0644, $env->dir . '/htpasswd-admins';
$env->make_repo('PROJ', 'repo');
$env->user_add('kimberly');
$env->grant('kimberly', 'PROJECT_READ', 'PROJ');
$env->user_add('kim');
my $auth = { Authorization => $env->basic('dave', 'dave-Pa55-word') };
my $UP = 'PROJ/repo.git/info/refs?service=git-upload-pack';

sub cgi {
    my ($path, $h) = @_;
    my $res = $env->get("/$path", $h);
    my %v = map { /^([A-Z_]+)=(.*)$/ ? ($1 => $2) : () } split /\n/, ($res->{content} // '');
    return ($res, \%v);
}

subtest 'a provider that keeps the password reads it intact later' => sub {
    my ($res, $v) = cgi("kv/$UP", { Authorization => $env->basic('lee', 'lee-Pa55-word') });
    is_ok_res($res, 'lee logs in through the keeper provider');
    is($v->{REMOTE_USER}, 'lee', '  as lee');
    is($res->{headers}{'x-keeper-password'}, 'intact',
       '  the password the provider kept still reads the same in the fixups');
    ok(!defined $v->{HTTP_AUTHORIZATION}, '  and the backend does not get it');
};

subtest 'the user a provider names is the user' => sub {
    my $kim = { Authorization => $env->basic('kim', 'kim-Pa55-word') };
    my ($res, $v) = cgi("kv/$UP", $kim);
    is_ok_res($res, 'kim logs in through the keeper provider');
    is($v->{REMOTE_USER}, 'kimberly', '  as kimberly, the name the provider set');
    ($res, $v) = cgi("kp/$UP", $kim);
    is_ok_res($res, 'Require bbtoken: kimberly\'s grant lets kim\'s login read');
    is($v->{REMOTE_USER}, 'kimberly', '  as kimberly');
    ($res) = cgi("kp/PROJ/repo.git/info/refs?service=git-receive-pack", $kim);
    is($res->{status}, 403, '  and holds it to kimberly\'s grant (no push)')
        or diag res_summary($res);
    ($res) = cgi("kp/$UP", { Authorization => $env->basic('lee', 'lee-Pa55-word') });
    is($res->{status}, 403, 'lee, without grants, is refused under Require bbtoken')
        or diag res_summary($res);
    is_401($env->get("/kp/$UP", { Authorization => $env->basic('kim', 'wrong') }), 1,
           'a wrong password is 401');
    # project:KEY and repo:KEY/slug are project and repository tokens: a
    # name no Basic user name can be (it has a colon), but a provider can.
    my $proj = { Authorization => $env->basic('proj', 'proj-Pa55-word') };
    ($res, $v) = cgi("kv/$UP", $proj);
    is($res->{headers}{'x-keeper-asked'}, 'proj', 'the provider names proj project:PROJ');
    isnt($v->{REMOTE_USER} // '', 'project:PROJ', '  a name the module never lets a password user have')
        or diag res_summary($res);
    is($res->{status}, 500, '  the provider\'s answer is a server error') or diag res_summary($res);
    like($env->error_log_text, qr/BBT829: provider keeper names user proj with a colon/,
         '  and BBT829 says why');
};

subtest 'nothing shaped like a token reaches a provider' => sub {
    my $tok = $env->token_create('kimberly', name => 'shape', perms => ['PROJECT_READ']);
    my $typo = BBT::Env::mistype_token($tok);
    (my $bare = $typo) =~ s/^BBDC-//;
    my $res = $env->get("/kv/$UP", { Authorization => $env->basic('kim', 'wrong') });
    is($res->{headers}{'x-keeper-asked'}, 'kim',
       'a wrong password is asked of the provider (the test can see it)');
    (my $body = $tok) =~ s/^BBDC-//;
    # A token pasted with what surrounds it (a space, quotes, the scheme),
    # or with its prefix in another case, is still the token.
    for ([$typo, 'a mistyped token'], [$bare, 'a mistyped token without its BBDC- prefix'],
         ["$tok ", 'a token with a trailing space'], [" $tok", 'a token with a leading space'],
         ["$body ", 'a token without its prefix, with a trailing space'],
         ["bbdc-$body", 'a token with its prefix in lower case'],
         ["\"$tok\"", 'a token in quotes'], ["Bearer $tok", 'a token after its scheme'],
         ["  BBDC-x", 'a token\'s prefix after spaces']) {
        my ($secret, $what) = @$_;
        # The prefix alone is a password's mark of a token, but no token in
        # a user name (a user may be named BBDC-deploy).
        for my $user ('kim', $secret =~ /^ *BBDC-x$/ ? () : $secret) {
            my $pass = $user eq 'kim' ? $secret : 'kim-Pa55-word';
            my $as = $user eq 'kim' ? 'the password' : 'the user name';
            $res = $env->get("/kv/$UP", { Authorization => $env->basic($user, $pass) });
            is_401($res, 1, "$what as $as is 401");
            ok(!defined $res->{headers}{'x-keeper-asked'}, '  and never reaches the provider')
                or diag res_summary($res);
        }
    }
};

subtest 'a user name with the prefix and no token is asked of the provider' => sub {
    my $res = $env->get("/kv/$UP", { Authorization => $env->basic('BBDC-deploy', 'wrong') });
    is($res->{headers}{'x-keeper-asked'}, 'BBDC-deploy', 'BBDC-deploy is a user name the provider is asked of')
        or diag res_summary($res);
};

subtest 'a password carried into another section is asked of its providers again' => sub {
    is_ok_res($env->get("/pwb/$UP", $auth), '/pwb takes the password asked directly');
    is_ok_res($env->get("/pwc/$UP", $auth), '/pwc takes it too, through file2');
    my $r = $env->get('/pwa/nothing-here', $auth);
    like($r->{content} // '', qr/^REMOTE_USER=dave$/m,
        'an ErrorDocument redirect from /pwa to /pwb (the same list, written twice) '
        . 'carries dave') or diag res_summary($r);
    $r = $env->get('/pwa2/nothing-here', $auth);
    like($r->{content} // '', qr/^REMOTE_USER=dave$/m,
        'a redirect into /pwc (file2, the same file) lets dave in, asked again')
        or diag res_summary($r);
    is_status($env->get("/pwd/$UP", $auth), 401, '/pwd, whose own file has no dave, refuses him');
    $r = $env->get('/pwa3/nothing-here', $auth);
    unlike($r->{content} // '', qr/^REMOTE_USER=dave$/m,
        'a redirect into /pwd (the same provider, another file) does not carry dave');
    isnt($r->{status}, 200, '  and is no success') or diag res_summary($r);
};

subtest 'an answer outside the providers\' contract is a server error, as with mod_auth_basic' => sub {
    # httpd 2.4's authn_status has no AUTH_HANDLED (trunk's): the keeper's
    # user odd answers that value with r->status 503.
    my $odd = { Authorization => $env->basic('odd', 'odd-Pa55-word') };
    my ($basic) = cgi('kb/x', $odd);
    is($basic->{status}, 500, 'mod_auth_basic answers it 500') or diag res_summary($basic);
    my ($res) = cgi("kv/$UP", $odd);
    is($res->{headers}{'x-keeper-asked'}, 'odd', 'the module asked the provider');
    is($res->{status}, $basic->{status}, '  and answers it as mod_auth_basic does, not 401')
        or diag res_summary($res);
    ok(!grep({ /^Basic/i } challenges($res)),
       '  with no challenge (a client keeps its password)') or diag res_summary($res);
};

subtest 'a UTF-8 user name is a password user\'s, as with mod_auth_basic' => sub {
    my $zoe = "zo\xc3\xab";    # zoe with a diaeresis, in UTF-8
    system('htpasswd', '-b', '-B', $h, $zoe, 'zoe-Pa55-word') == 0
        or BAIL_OUT('htpasswd failed');
    my $ok = { Authorization => $env->basic($zoe, 'zoe-Pa55-word') };
    my ($basic, $bv) = cgi('fb/x', $ok);
    is_ok_res($basic, 'mod_auth_basic lets the UTF-8 user in');
    is($bv->{REMOTE_USER}, $zoe, '  as that user');
    my ($res, $v) = cgi("pwb/$UP", $ok);
    is_ok_res($res, 'so does AuthType BBToken with the same provider');
    is($v->{REMOTE_USER}, $zoe, '  as that user');
    is_401($env->get("/pwb/$UP", { Authorization => $env->basic($zoe, 'wrong') }), 1,
           'a wrong password for that user is 401, not 400');
    my $tok = $env->token_create('kimberly', name => 'utf8', perms => ['PROJECT_READ']);
    is_401($env->get("/kv/$UP", { Authorization => $env->basic($zoe, $tok) }), 1,
           'a token under that name is not its owner\'s: 401');
    is($env->get("/pwb/$UP", { Authorization => $env->basic("zo\xeb", 'zoe-Pa55-word') })->{status},
       400, 'a user name that is not UTF-8 is malformed');
};

subtest 'a provider that reads the user from the request gets it, as with mod_auth_basic' => sub {
    my $fc = { Authorization => $env->basic('fc', 'fc-Pa55-word') };
    my ($basic, $bv) = cgi('fcb/x', $fc);
    is_ok_res($basic, 'mod_auth_basic: mod_authnz_fcgi lets fc in');
    is($bv->{REMOTE_USER}, 'fc', '  as fc');
    my ($res, $v) = cgi("fck/$UP", $fc);
    is_ok_res($res, 'AuthType BBToken: so does the same provider');
    is($v->{REMOTE_USER}, 'fc', '  as fc');
    is_401($env->get("/fck/$UP", { Authorization => $env->basic('fc', 'wrong') }), 1,
           'a wrong password is still refused');
    my @asked = split /\n/, BBT::Env::slurp($fclog);
    is_deeply(\@asked, [qw(fc fc fc)], 'the application was given the user each time')
        or diag explain \@asked;
};

subtest 'a provider asked again in an error page leaves its status alone' => sub {
    # mod_authnz_fcgi sets r->status from its application's answer (200):
    # the 404 whose page this is must stay a 404, as under one section.
    my $fc = { Authorization => $env->basic('fc', 'fc-Pa55-word') };
    my $before = my @b = split /\n/, BBT::Env::slurp($fclog);
    my ($res, $v) = cgi('fce/nothing-here', $fc);
    is($v->{PATH_INFO}, '/PROJ/repo.git/info/refs', 'the error page is the CGI in /fck')
        or diag res_summary($res);
    is($v->{REMOTE_USER}, 'fc', '  which lets fc in');
    my $after = my @a = split /\n/, BBT::Env::slurp($fclog);
    is($after - $before, 2, '  asked of the provider again there (another section)');
    is($res->{status}, 404, '  and the answer is still the 404') or diag res_summary($res);
};

subtest 'mod_authnz_fcgi at trace8 does not log the password' => sub {
    my $fc = { Authorization => $env->basic('fc', 'fc-Pa55-word') };
    my $before = length $env->error_log_text;
    my ($res, $v) = cgi("fct/$UP", $fc);
    is_ok_res($res, 'fc logs in through mod_authnz_fcgi at trace8');
    ok(!defined $v->{REMOTE_PASSWD}, '  the backend is not given the password');
    my $log = substr($env->error_log_text, $before);
    like($log, qr/mod_authnz_fcgi\.c/, '  mod_authnz_fcgi did log (the test can see it)');
    # Its dumps are hex, 16 bytes a line: read them back into bytes.
    my $bytes = join '', map { pack 'H*', join '', split ' ', $_ }
        $log =~ /^\[[^\]]*\] \[authnz_fcgi:trace\d\].*?\b[0-9a-f]{4}: ((?:[0-9a-f]{2} ?){1,16})/mg;
    unlike($log . $bytes, qr/fc-Pa55-word/, '  nor in its dumps');
};

my $logs = $env->error_log_text . $env->access_log_text;
for my $pw (qw(kim-Pa55-word lee-Pa55-word dave-Pa55-word zoe-Pa55-word fc-Pa55-word)) {
    unlike($logs, qr/\Q$pw\E/, "the password $pw is in no log");
}
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
