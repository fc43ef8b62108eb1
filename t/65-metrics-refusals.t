# Every request to a section of AuthType BBToken is counted once, under
# what the module made of it, whichever phase refused it: TRACE (405,
# refused before authentication, BBT044), a method override (400, BBT043,
# a fixup's), a request decided, then changed in place by a
# per-directory RewriteRule (500, BBT783, refused in the module's last
# fixup after it had passed: not "allowed"), and a request to a section
# without an AuthName (500, BBT030: check_authn's, before any record).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env;
use BBT::Util qw(spew slurp);

my $extra = <<'EOC';
<Location /metrics>
    SetHandler bbtoken-metrics
    Require ip 127.0.0.1
</Location>
ScriptAlias /rwi/ "@DIR@/cgi-rwi/env.cgi/"
<Location /rwi>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /rwi
    Require bbtoken
</Location>
<Location /noname>
    AuthType BBToken
    BBTokenRoutes git /noname
    Require bbtoken
</Location>
<Directory "@DIR@/cgi-rwi">
    RewriteEngine On
    RewriteCond %{QUERY_STRING} ^service=git-upload-pack$
    RewriteRule ^env\.cgi/ env.cgi?service=git-receive-pack
</Directory>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => ['rewrite', 'authz_host'], httpd => 0)->start;
my $d = $env->dir;
$env->write_cgi;
mkdir "$d/cgi-rwi" or die "$d/cgi-rwi: $!";
spew("$d/cgi-rwi/env.cgi", slurp("$d/cgi-bin/env.cgi"), 0755);
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($read) = $env->token_create('alice', name => 'read', perms => ['REPO_READ']);
my $URL = '/rwi/PROJ/repo.git/info/refs?service=git-upload-pack';

sub scrape {
    my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url('/metrics'));
    my %v;
    for (split /\n/, $r->{content} // '') {
        $v{$1} = $2 if /^bbtoken_requests_total\{outcome="(\w+)"\} (\S+)$/;
    }
    return \%v;
}

# The counters' moves from $before, once they have moved by one in all
# (requests are counted in their log phase, after the response): a
# generous limit, then what moved, exact.
sub moved {
    my ($before) = @_;
    my ($v, %d, $sum);
    for (1 .. 300) {
        $v = scrape();
        %d = map { $_ => $v->{$_} - ($before->{$_} // 0) } keys %$v;
        $sum = 0;
        $sum += $_ for values %d;
        last if $sum >= 1;
        select undef, undef, undef, 0.1;
    }
    return join ',', map {"$_=$d{$_}"} grep { $d{$_} } sort keys %d;
}

my $ua = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
my $auth = { Authorization => "Bearer $read" };
my $NONAME = '/noname/PROJ/repo.git/info/refs?service=git-upload-pack';
for my $c (['TRACE', 'TRACE', {}, 405, 'other=1'],
           ['a method override', 'GET', { 'X-HTTP-Method-Override' => 'PUT' }, 400, '400=1'],
           ['a request changed in place after it was decided', 'GET', {}, 500, '500=1'],
           ['a section without an AuthName', 'GET', {}, 500, '500=1', $NONAME]) {
    my ($what, $method, $h, $status, $want, $url) = @$c;
    my $before = scrape();
    my $r = $ua->request($method, $env->url($url // $URL), { headers => { %$auth, %$h } });
    is($r->{status}, $status, "$what: $status");
    is(moved($before), $want, "  counted once, as $want");
}
like($env->error_log_text, qr/BBT044: .*BBT043: .*BBT783: .*BBT030: /s, 'the four refusals, each in its words');

done_testing;
