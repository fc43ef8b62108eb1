# TRACE in the module's sections.  httpd answers TRACE before
# authentication (TraceEnable is on by default): it echoes the request,
# its Authorization header and whatever a proxy in front added included,
# to anyone, and no route that names TRACE would ever decide.  In a
# section of AuthType BBToken, whether a <Location> or a <Directory> makes
# it one, TRACE is refused (405, BBT044) with or without credentials;
# elsewhere httpd answers it as before.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env qw(auth_bearer);
use BBT::Assert;

my $extra = <<'EOC';
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
my $env = BBT::Env->new(extra_conf => $extra)->start;
my $d = $env->dir;
for my $top (qw(dav dirsec plain)) {
    make_path("$d/$top/PROJ/repo");
    BBT::Env::spew("$d/$top/PROJ/repo/a.txt", "A\n");
}
$env->give_to_httpd("$d/dav", "$d/dirsec", "$d/plain");
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $tok = $env->token_create('alice', name => 'trace', perms => ['REPO_WRITE']);

for my $top (qw(dav dirsec)) {
    my $path = "/$top/PROJ/repo/a.txt";
    is_ok_res($env->get($path, auth_bearer($tok)), "$top: the token reads the file (the section works)");
    for my $h ([none => {}], [token => auth_bearer($tok)]) {
        my ($what, $hdr) = @$h;
        my $res = $env->request('TRACE', $path, { %$hdr, 'X-Bbt-Probe' => 'echoed-if-answered' });
        is($res->{status}, 405, "$top: TRACE, credentials: $what: 405");
        unlike($res->{content} // '', qr/echoed-if-answered|Bearer/, '  nothing of the request echoed');
    }
}
like($env->error_log_text, qr{BBT044: TRACE /dirsec/PROJ/repo/a\.txt refused \(405\)}, 'the log says so (BBT044)');
like($env->error_log_text, qr{BBT044: TRACE /dav/PROJ/repo/a\.txt refused \(405\)}, '  for both sections');

# Outside the module's sections, httpd's own answer, as before.
my $res = $env->request('TRACE', '/plain/PROJ/repo/a.txt', { 'X-Bbt-Probe' => 'echoed-if-answered' });
is($res->{status}, 200, 'elsewhere: httpd answers TRACE (TraceEnable is its own)');
like($res->{content} // '', qr/echoed-if-answered/, '  echoing the request');
# And the sections' other methods still see their own configuration.
is_ok_res($env->get('/plain/PROJ/repo/a.txt'), 'elsewhere: GET without a login');
is($env->get('/dirsec/PROJ/repo/a.txt')->{status}, 401, 'the <Directory> section: GET without a login 401');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
