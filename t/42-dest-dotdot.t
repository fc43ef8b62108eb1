# A COPY's or MOVE's Destination is read as httpd reads a request's own
# path on the same server: normalized first, slashes merged in the same
# pass as MergeSlashes says, so that under On a ".." pops the segment
# before a "//" and not the empty one between its slashes; a ".." above
# the root refused, as httpd refuses such a request (400); then decoded.
# A backend that moves by itself (a CGI here; a proxied DAV server that
# normalizes as httpd does) writes where the module decided: read the
# other way, PROJ/other//../repo would be PROJ/other's (a token of
# PROJ/other moving into PROJ/repo), and PROJ/x//../../OTHER/secret
# PROJ's (a user of PROJ alone moving into OTHER).  Under MergeSlashes Off
# httpd pops the empty segment, and so does the module.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer cgi_vars);
use BBT::Assert;

my $extra = <<'EOC';
ScriptAlias /dav/ "@DIR@/cgi-bin/env.cgi/"
<Location /dav>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes dav
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra)->start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $alice = $env->token_create('alice', name => 'w', perms => ['REPO_WRITE']);
my $other = $env->scoped_token_create('--repo', 'PROJ/other', perms => ['REPO_WRITE']);

sub move {
    my ($tok, $from, $dest) = @_;
    my $h = auth_bearer($tok);
    $h->{Destination} = $env->url($dest);
    return ($env->cgi_call('MOVE', $from, $h))[0];
}

# What httpd makes of a request's own path: (status, BBTOKEN_TARGET).
sub get_target {
    my ($tok, $path) = @_;
    my ($res, $v) = $env->cgi_call('GET', $path, auth_bearer($tok));
    return ($res->{status}, $v->{BBTOKEN_TARGET});
}

# The error log's lines since $mark hold $re.
sub logged {
    my ($mark, $re, $name) = @_;
    like(join('', log_lines_since($env->error_log_path, $mark)), $re, $name);
}

# MergeSlashes On, httpd's default.
is_deeply([get_target($other, '/dav/PROJ/other/a.txt')], [200, 'PROJ/other'],
          'control: GET /dav/PROJ/other/a.txt with the PROJ/other token');
is((get_target($other, '/dav/PROJ/other//../repo/a.txt'))[0], 403,
   'control: GET /dav/PROJ/other//../repo/a.txt with it: 403 (httpd reads PROJ/repo)');
is((get_target($alice, '/dav/PROJ/x//../../OTHER/secret/a.txt'))[0], 403,
   'control: GET /dav/PROJ/x//../../OTHER/secret/a.txt as alice: 403 (httpd reads OTHER/secret)');
is((get_target($other, '/dav//../../dav/PROJ/other/a.txt'))[0], 400,
   'control: GET /dav//../../dav/PROJ/other/a.txt: 400 (above the root to httpd)');
is_ok_res(move($other, '/dav/PROJ/other/a.txt', '/dav/PROJ/other/b.txt'),
          'control: the PROJ/other token moves within PROJ/other');
is_ok_res(move($other, '/dav/PROJ/other/a.txt', '/dav/PROJ/other//b.txt'),
          'control: and onto PROJ/other//b.txt');
is_403(move($other, '/dav/PROJ/other/a.txt', '/dav/PROJ/repo/b.txt'), 'control: not into PROJ/repo');
is_403(move($alice, '/dav/PROJ/repo/a.txt', '/dav/OTHER/secret/b.txt'), 'control: alice not into OTHER');

for my $c ([$other, 'the PROJ/other token', '/dav/PROJ/other//../repo/b.txt', 'PROJ/repo'],
           [$other, 'the PROJ/other token', '/dav/PROJ/other//%2e%2e/repo/b.txt', 'PROJ/repo'],
           [$other, 'the PROJ/other token', '/dav/PROJ/other/x//..//../repo/b.txt', 'PROJ/repo'],
           [$alice, 'alice (PROJ only)', '/dav/PROJ/x//../../OTHER/secret/b.txt', 'OTHER/secret']) {
    my ($tok, $who, $dest, $is) = @$c;
    my $from = $tok eq $other ? '/dav/PROJ/other/a.txt' : '/dav/PROJ/repo/a.txt';
    is_403(move($tok, $from, $dest), "$who, Destination $dest ($is to httpd): refused");
}

# Above the root: httpd answers such a request 400, and a backend that
# reads the header so moves nothing; the module decides nothing on it.
for my $dest ('/../dav/PROJ/other/b.txt', '/dav//../../dav/PROJ/other/b.txt',
              '/dav/PROJ/other/../../../../dav/PROJ/other/b.txt') {
    my $mark = log_mark($env->error_log_path);
    is_403(move($other, '/dav/PROJ/other/a.txt', $dest), "Destination $dest, above the root: refused");
    logged($mark, qr/Destination above the root, or not a plain URL/, '  the log says why');
}

# MergeSlashes Off: httpd keeps a "//", and a ".." after it pops the empty
# segment; the module reads the Destination the same way (and merges the
# slashes left afterwards, as the filesystem reads them).
$env->httpd_restart(extra_conf => "MergeSlashes Off\n$extra");
is_deeply([get_target($other, '/dav/PROJ/other//../repo/a.txt')], [200, 'PROJ/other'],
          'MergeSlashes Off: GET /dav/PROJ/other//../repo/a.txt is PROJ/other/repo\'s to httpd');
is_deeply([get_target($alice, '/dav/PROJ/x//../../OTHER/secret/a.txt')], [200, 'PROJ/OTHER'],
          '  and /dav/PROJ/x//../../OTHER/secret/a.txt PROJ/OTHER/secret\'s');
is_ok_res(move($other, '/dav/PROJ/other/a.txt', '/dav/PROJ/other//../repo/b.txt'),
          '  the PROJ/other token moves onto PROJ/other//../repo/b.txt (PROJ/other/repo to httpd)');
is_ok_res(move($alice, '/dav/PROJ/repo/a.txt', '/dav/PROJ/x//../../OTHER/secret/b.txt'),
          '  alice onto PROJ/x//../../OTHER/secret/b.txt (PROJ/OTHER/secret to httpd)');
is_ok_res(move($other, '/dav/PROJ/other/a.txt', '/dav//../../dav/PROJ/other/b.txt'),
          '  the PROJ/other token onto /dav//../../dav/PROJ/other/b.txt (PROJ/other to httpd)');
is_ok_res(move($other, '/dav/PROJ/other/a.txt', '/dav/PROJ/other//b.txt'),
          '  and onto PROJ/other//b.txt, a doubled slash the filesystem reads as one');
is_403(move($other, '/dav/PROJ/other/a.txt', '/dav/PROJ/other/x//../../../repo/b.txt'),
       '  not onto PROJ/other/x//../../../repo/b.txt (PROJ/repo to httpd)');
my $mark = log_mark($env->error_log_path);
is_403(move($other, '/dav/PROJ/other/a.txt', '/dav/PROJ//../../../../dav/PROJ/other/b.txt'),
       '  nor onto /dav/PROJ//../../../../dav/PROJ/other/b.txt (above the root to httpd)');
logged($mark, qr/Destination above the root, or not a plain URL/, '  the log says why');

done_testing;
