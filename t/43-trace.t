# TRACE in the module's sections.  httpd answers TRACE before
# authentication (TraceEnable is on by default): it echoes the request,
# its Authorization header and whatever a proxy in front added included,
# to anyone, and no route that names TRACE would ever decide.  In a
# section of AuthType BBToken, whether a <Location> or a <Directory> makes
# it one, TRACE is refused (405, BBT044) with or without credentials,
# its Allow the one httpd's own refusal sends with TraceEnable off (TRACE
# not in it, though TraceEnable is on); elsewhere httpd answers it as
# before.
#
# And with an ErrorDocument 405 of a local path (server-wide, as the
# refusal's page is the server's): httpd makes the refused request a GET
# for the document's internal redirect, and where that request fails (the
# document in the module's section, asked for without credentials: 401;
# no such document: 404) sends the canned 405 itself while the request is
# still a GET.  Its Allow named TRACE then; now it does not.  A document
# served sends no Allow of its own.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env qw(auth_bearer);
use BBT::Assert;

# A virtual host of its own for each ErrorDocument 405, the sections
# those of the main server: in the module's section, missing, served.
my %edport = map { $_ => BBT::Util::free_port() } qw(section missing served);
my %eddoc = (section => '/dav/PROJ/repo/405.html', missing => '/plain/PROJ/repo/none.html',
             served => '/plain/PROJ/repo/405.html');
my $edhosts = join '', map { "Listen 127.0.0.1:$edport{$_}\n<VirtualHost 127.0.0.1:$edport{$_}>\n"
                             . "    ErrorDocument 405 $eddoc{$_}\n</VirtualHost>\n" } sort keys %edport;
my $extra = $edhosts . <<'EOC';
Alias /dav "@DIR@/dav"
Alias /dirsec "@DIR@/dirsec"
Alias /plain "@DIR@/plain"
<Directory "@DIR@/dav">
    Require all granted
</Directory>
<Location /dav>
    AuthType BBToken
    AuthName "Files"
    BBTokenRoutes dav
    Require bbtoken
</Location>
<Directory "@DIR@/dirsec">
    AuthType BBToken
    AuthName "Files"
    BBTokenRoutes dav /dirsec
    Require bbtoken
</Directory>
<Directory "@DIR@/plain">
    Require all granted
</Directory>
EOC
# A host where httpd refuses TRACE itself: what its refusal's Allow is.
my $api = <<'EOC';
    TraceEnable off
    <Location /dav>
        AuthType BBToken
        AuthName "Files"
        BBTokenRoutes dav
        Require bbtoken
    </Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, api_conf => $api)->start;
my $d = $env->dir;
for my $top (qw(dav dirsec plain)) {
    make_path("$d/$top/PROJ/repo");
    BBT::Env::spew("$d/$top/PROJ/repo/a.txt", "A\n");
    BBT::Env::spew("$d/$top/PROJ/repo/405.html", "ERRDOC 405\n");
}
$env->give_to_httpd("$d/dav", "$d/dirsec", "$d/plain");
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'trace', perms => ['REPO_WRITE']);

my $off = $env->http->request('TRACE', $env->api_url('/plain/PROJ/repo/a.txt'));
is($off->{status}, 405, 'TraceEnable off: httpd refuses TRACE (405)');
my @off_allow = BBT::Http::header_list($off, 'Allow');
is(scalar(@off_allow), 1, '  with an Allow');
my $httpd_allow = $off_allow[0] // '<none>';
unlike($httpd_allow, qr/\bTRACE\b/, "  that does not name TRACE ('$httpd_allow')");
my $off_dav = $env->http->request('TRACE', $env->api_url('/dav/PROJ/repo/a.txt'));
is($off_dav->{status}, 405, '  the module refuses it first in its section there (405)');
is(join('|', BBT::Http::header_list($off_dav, 'Allow')), $httpd_allow, '    with the same Allow');

for my $top (qw(dav dirsec)) {
    my $path = "/$top/PROJ/repo/a.txt";
    is_ok_res($env->get($path, auth_bearer($tok)), "$top: the token reads the file (the section works)");
    for my $h ([none => {}], [token => auth_bearer($tok)]) {
        my ($what, $hdr) = @$h;
        my $res = $env->request('TRACE', $path, { %$hdr, 'X-Bbt-Probe' => 'echoed-if-answered' });
        is($res->{status}, 405, "$top: TRACE, credentials: $what: 405");
        is(join('|', BBT::Http::header_list($res, 'Allow')), $httpd_allow,
           "  its Allow httpd's own refusal's, not naming TRACE");
        unlike($res->{content} // '', qr/echoed-if-answered|Bearer/, '  nothing of the request echoed');
    }
}
like($env->error_log_text, qr{BBT044: TRACE /dirsec/PROJ/repo/a\.txt refused \(405\)}, 'the log says so (BBT044)');
like($env->error_log_text, qr{BBT044: TRACE /dav/PROJ/repo/a\.txt refused \(405\)}, '  for both sections');

# ErrorDocument 405: the refusal's Allow whatever became of the document.
my $edurl = sub { "http://127.0.0.1:$edport{$_[0]}/dav/PROJ/repo/a.txt" };
for my $c ([section => 401, {}], [missing => 404, {}]) {
    my ($what, $failed, $hdr) = @$c;
    my $res = $env->http->request('TRACE', $edurl->($what), { headers => $hdr });
    is($res->{status}, 405, "ErrorDocument 405 $eddoc{$what}: TRACE in the section: 405");
    # httpd's page says the request's method then, and its status as the
    # document's failed request inherited it.
    like($res->{content} // '',
         qr/method GET is not allowed.*Additionally, a 405 Method Not Allowed\s+error was encountered while trying/s,
         "  the document's request failed ($failed): httpd's own page, the request a GET");
    is(join('|', BBT::Http::header_list($res, 'Allow')), $httpd_allow,
       "  its Allow httpd's own refusal's, not naming TRACE");
}
like($env->error_log_text, qr{BBT044: TRACE /dav/PROJ/repo/a\.txt refused \(405\)[^\n]*\n(?:.*\n)*?.*BBT031: no credentials for /dav/PROJ/repo/405\.html},
     '  the log: the refusal (BBT044), then the document asked for without credentials (BBT031)');
for my $c (['served', {}], ['section', auth_bearer($tok)]) {
    my ($what, $hdr) = @$c;
    my $res = $env->http->request('TRACE', $edurl->($what), { headers => $hdr });
    is($res->{status}, 405, "ErrorDocument 405 $eddoc{$what}" . (%$hdr ? ', with the token' : '')
       . ': TRACE in the section: 405');
    is($res->{content}, "ERRDOC 405\n", '  the document served');
    unlike(join('|', BBT::Http::header_list($res, 'Allow')), qr/\bTRACE\b/, '  no Allow naming TRACE');
}
is($env->http->request('TRACE', "http://127.0.0.1:$edport{served}/plain/PROJ/repo/a.txt",
                       { headers => { 'X-Bbt-Probe' => 'echoed-if-answered' } })->{status},
   200, '  elsewhere on that host httpd answers TRACE');

# Outside the module's sections, httpd's own answer, as before.
my $res = $env->request('TRACE', '/plain/PROJ/repo/a.txt', { 'X-Bbt-Probe' => 'echoed-if-answered' });
is($res->{status}, 200, 'elsewhere: httpd answers TRACE (TraceEnable is its own)');
like($res->{content} // '', qr/echoed-if-answered/, '  echoing the request');
# httpd's other Allow headers still name TRACE where TraceEnable is on.
$res = $env->request('PUT', '/plain/PROJ/repo/a.txt', {}, "B\n");
is($res->{status}, 405, 'elsewhere: PUT refused by the core (405)');
like(join('|', BBT::Http::header_list($res, 'Allow')), qr/\bTRACE\b/, '  its Allow naming TRACE, as httpd makes it');
$res = $env->request('OPTIONS', '/plain/PROJ/repo/a.txt');
like(join('|', BBT::Http::header_list($res, 'Allow')), qr/\bTRACE\b/, "  and OPTIONS' Allow too");
is($env->request('HEAD', '/dav/PROJ/repo/a.txt', auth_bearer($tok))->{status}, 200, 'HEAD in the section: 200 with the token');
# And the sections' other methods still see their own configuration.
is_ok_res($env->get('/plain/PROJ/repo/a.txt'), 'elsewhere: GET without a login');
is($env->get('/dirsec/PROJ/repo/a.txt')->{status}, 401, 'the <Directory> section: GET without a login 401');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
