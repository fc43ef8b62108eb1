# A refused login counts once per request the client sent, however many
# sub-requests of it refuse the same credentials.  A request the module
# does not authenticate (a public mod_autoindex listing, mod_dir's
# DirectoryIndex probes) makes a sub-request into each section of
# AuthType BBToken it looks at, and each reads the client's Authorization
# header: counted each, one stale password would be one failure per
# protected sub-directory, one error line each for fail2ban, and a listing
# of as many as BBTokenThrottleFailures would hold the address back (429
# to its right password).  The first refusal of a request is counted and
# logged at error, the later ones at debug.  A DirectoryIndex of one name
# passes its sub-request's 401 back to the client: one failure too, its
# error page in a section of the module's included.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use File::Path qw(make_path);
use BBT::Env qw(auth_basic auth_bearer forge_token mistype_token);
use BBT::Assert;

my $FAILS = 3;
my $SUBDIRS = 5;
my $extra = <<'EOC';
Alias /pub "@DIR@/pub"
<Directory "@DIR@/pub">
    Options +Indexes
    Require all granted
</Directory>
<Directory "@DIR@/pub/sub/*">
    AuthType BBToken
    AuthName "pub"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    Require valid-user
</Directory>
<Directory "@DIR@/pub/idx">
    Options -Indexes
    DirectoryIndex index.html index.htm index.txt
    <Files "index.*">
        AuthType BBToken
        AuthName "pub"
        AuthBBTokenProvider file
        AuthUserFile "@DIR@/htpasswd"
        Require valid-user
    </Files>
</Directory>
<Directory "@DIR@/pub/one">
    Options -Indexes
    DirectoryIndex index.html
    ErrorDocument 401 /pub/err/401.html
    <Files "index.html">
        AuthType BBToken
        AuthName "pub"
        AuthBBTokenProvider file
        AuthUserFile "@DIR@/htpasswd"
        Require valid-user
    </Files>
</Directory>
<Directory "@DIR@/pub/err">
    AuthType BBToken
    AuthName "pub"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    Require valid-user
</Directory>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(authn_file authz_user autoindex dir)],
                        throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600")->start;
$env->htpasswd(carol => 'carol-Pa55-word');
my $d = $env->dir;
make_path(map { "$d/pub/sub/$_" } ('a' .. 'e')[0 .. $SUBDIRS - 1]);
make_path("$d/pub/idx", "$d/pub/one", "$d/pub/err");
for my $f ('idx/index.html', 'one/index.html', 'err/401.html') {
    BBT::Env::spew("$d/pub/$f", "$f\n");
}
system('chmod', '-R', 'a+rX', "$d/pub") == 0 or die "chmod: $?";

my $good = auth_basic('carol', 'carol-Pa55-word');
my $stale = auth_basic('carol', 'stale-password');

# A client of its own address (a loopback alias): the throttle counts
# per address.
sub get {
    my ($from, $path, $h) = @_;
    my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0, max_redirect => 0, local_address => $from);
    return $ua->get($env->url($path), { headers => $h || {} });
}

# The error log's lines about client $from matching $re, at $level
# (error, debug) or any.
sub lines {
    my ($from, $re, $level) = @_;
    my $lv = $level ? qr/\[bbtoken:\Q$level\E\]/ : qr/\[bbtoken:\w+\]/;
    return scalar grep { /$lv .*\[client \Q$from\E:\d+\] $re/ } split /\n/, $env->error_log_text;
}

# $from's count is one: $FAILS - 2 more refused requests leave it short of
# the limit, and the one after reaches it.
sub counted_once {
    my ($from, $what) = @_;
    for (1 .. $FAILS - 2) {
        is_status(get($from, '/pub/sub/a/', $stale), 401, "$what, then a stale password straight: 401");
    }
    is(lines($from, qr/BBT505: /), 0, "$what: not throttled yet, so it counted no more than one");
    is_status(get($from, '/pub/sub/a/', $stale), 401, "$what, then one more: 401");
    is(lines($from, qr/BBT505: client \Q$from\E throttled: $FAILS failed logins/), 1,
       "$what: throttled now, so it counted one");
    is_status(get($from, '/pub/sub/a/', $good), 429, "$what: then the right password is 429");
}

subtest 'a listing of protected sub-directories, a stale password' => sub {
    my $from = '127.0.0.1';
    is_status(get($from, '/pub/sub/', $good), 200, 'the listing, the right password: 200');
    is_status(get($from, '/pub/sub/', $stale), 200, 'the listing, a stale password: 200');
    is(lines($from, qr/BBT040: password refused for user carol: wrong password/, 'error'), 1,
       'one BBT040 line at error (what fail2ban counts)');
    is(lines($from, qr/BBT040: password refused for user carol: wrong password/, 'debug'), $SUBDIRS - 1,
       'the other sub-requests\' refusals at debug');
    is(lines($from, qr/BBT50[56]: /), 0, 'the address is not throttled');
    is_status(get($from, '/pub/sub/a/', $good), 200, 'the right password next: 200, not 429');
    counted_once($from, 'the listing');
};

subtest 'a listing of protected sub-directories, tokens (BBTokenThrottleTokens verify)' => sub {
    my $from = '127.0.0.2';
    is_status(get($from, '/pub/sub/', auth_bearer(mistype_token(forge_token('999999999999')))), 200,
              'the listing, a mistyped token: 200');
    is(lines($from, qr/BBT034: credentials refused/, 'error'), 1, 'one BBT034 line at error');
    is(lines($from, qr/BBT034: credentials refused/, 'debug'), $SUBDIRS - 1, 'the others at debug');
    is_status(get($from, '/pub/sub/', auth_bearer(forge_token('999999999999'))), 200,
              'the listing, an unknown token: 200');
    is(lines($from, qr/BBT035: token 999999999999 refused: unknown token/, 'error'), 1,
       'one BBT035 line at error');
    is(lines($from, qr/BBT035: token 999999999999 refused: unknown token/, 'debug'), $SUBDIRS - 1,
       'the others at debug');
    is(lines($from, qr/BBT50[56]: /), 0, 'the address is not throttled');
    is_status(get($from, '/pub/sub/a/', $good), 200, 'the right password next: 200, not 429');
    # Two counted: one more reaches the limit.
    is_status(get($from, '/pub/sub/a/', $stale), 401, 'a stale password straight: 401');
    is(lines($from, qr/BBT505: client \Q$from\E throttled: $FAILS failed logins/), 1,
       'throttled now: the two listings counted one each');
};

subtest 'DirectoryIndex probes of several names, each protected' => sub {
    my $from = '127.0.0.3';
    is_status(get($from, '/pub/idx/', $good), 200, 'the right password: the index, 200');
    is_status(get($from, '/pub/idx/', $stale), 401, 'a stale password: 401 (mod_dir passes a probe\'s back)');
    is(lines($from, qr/BBT040: /, 'error'), 1, 'one BBT040 line at error');
    is(lines($from, qr/BBT040: /, 'debug'), 2, 'the other two probes\' at debug');
    is_status(get($from, '/pub/sub/a/', $good), 200, 'the right password next: 200, not 429');
    counted_once($from, 'the probes');
};

subtest 'DirectoryIndex of one name passes its 401 back, its error page protected too' => sub {
    my $from = '127.0.0.4';
    is_status(get($from, '/pub/one/', $good), 200, 'the right password: the index, 200');
    is_status(get($from, '/pub/one/', $stale), 401, 'a stale password: 401');
    is(lines($from, qr/BBT040: /, 'error'), 1, 'one BBT040 line at error');
    is(lines($from, qr/BBT040: /, 'debug'), 1, 'its error page\'s at debug');
    counted_once($from, 'the 401 passed back');
};

done_testing;
