# mod_dav_fs keeps a resource's dead properties (and a collection's
# lock-null list) in the .DAV directory beside it; a repository's own
# properties, its settings, which only REPO_ADMIN may PROPPATCH, live in the
# repository's .DAV/.state_for_dir.  httpd before 2.4.69 served and wrote
# .DAV like any file (a GET read the properties, a PUT rewrote them), so a
# writer of the repository could change its settings.  The dav route set refuses every .DAV path itself,
# whatever mod_dav_fs would do: each probe is answered 403 by the module
# (BBT050 names it), and the properties are as the admin set them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Assert;

my $extra = <<'EOC';
DavLockDB "@DIR@/davlock/lockdb"
Alias /dav "@DIR@/dav"
<Directory "@DIR@/dav">
    Options None
    AllowOverride None
    Require all granted
</Directory>
<Location /dav>
    Dav On
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes dav
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_fs)])->start;
my $d = $env->dir;
my $root = "$d/dav";
make_path("$root/PROJ/repo/sub", "$d/davlock");
BBT::Env::spew("$root/PROJ/repo/a.txt", "A\n");
BBT::Env::spew("$root/PROJ/repo/sub/b.txt", "B\n");
$env->give_to_httpd($root, "$d/davlock");

$env->user_add('alice');
$env->grant('alice', 'PROJECT_ADMIN', 'PROJ');
my $admin = $env->token_create('alice', name => 'admin', perms => ['REPO_ADMIN']);
my $write = $env->token_create('alice', name => 'write', perms => ['REPO_WRITE']);
my $base = $env->base_url;

sub dav {
    my ($tok, $method, $path, $body, %h) = @_;
    return $env->request($method, $path, { Authorization => $env->bearer($tok), %h }, $body);
}
sub setting {
    my ($v) = @_;
    return '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:bbt-test"><D:set><D:prop>'
        . "<Z:setting>$v</Z:setting></D:prop></D:set></D:propertyupdate>";
}
sub repo_setting {
    my $res = dav($admin, 'PROPFIND', '/dav/PROJ/repo/', '<?xml version="1.0"?><D:propfind xmlns:D="DAV:">'
                  . '<D:prop><Z:setting xmlns:Z="urn:bbt-test"/></D:prop></D:propfind>', Depth => '0');
    return ($res->{content} // '') =~ /<\w+:setting[^>]*>([^<]*)</ ? $1 : undef;
}

# Controls: the admin sets the repository's property (its .DAV appears),
# and a file's; the writer may not set the repository's.
is(dav($admin, 'PROPPATCH', '/dav/PROJ/repo/', setting('by-admin'))->{status}, 207,
   'control: the admin sets a property of the repository');
is(dav($write, 'PROPPATCH', '/dav/PROJ/repo/sub/b.txt', setting('file'))->{status}, 207,
   'control: the writer sets one of a file in it');
is_403(dav($write, 'PROPPATCH', '/dav/PROJ/repo/', setting('by-writer')),
       'control: the writer may not set the repository\'s own');
is(repo_setting(), 'by-admin', 'the repository\'s property is the admin\'s');
ok(-d "$root/PROJ/repo/.DAV", 'mod_dav_fs keeps it in the repository\'s .DAV');
my @state = map { substr($_, length "$root/PROJ/repo/.DAV/") } glob("$root/PROJ/repo/.DAV/.state_for_dir*");
ok(@state, "  in @state");

my $lockinfo = '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    . '<D:locktype><D:write/></D:locktype></D:lockinfo>';
my $bytes = '';
{ open my $h, '<:raw', "$root/PROJ/repo/.DAV/$state[0]" or die $!; local $/; $bytes = <$h> }
my @probes = (
    ['GET', '/dav/PROJ/repo/.DAV/'],
    (map { (['GET', "/dav/PROJ/repo/.DAV/$_"], ['PUT', "/dav/PROJ/repo/.DAV/$_", $bytes],
            ['DELETE', "/dav/PROJ/repo/.DAV/$_"]) } @state),
    ['GET', '/dav/PROJ/repo/sub/.DAV/b.txt'],
    ['PROPFIND', '/dav/PROJ/repo/.DAV/', undef, Depth => '1'],
    ['PROPPATCH', '/dav/PROJ/repo/.DAV/', setting('x')],
    ['MKCOL', '/dav/PROJ/repo/sub/x/.DAV/'],
    ['MKCOL', '/dav/PROJ/repo/sub/x/.dav'],
    ['DELETE', '/dav/PROJ/repo/.DAV'],
    ['LOCK', '/dav/PROJ/repo/.DAV/new', $lockinfo],
    ['MOVE', '/dav/PROJ/repo/.DAV', undef, Destination => "$base/dav/PROJ/repo/moved"],
    ['COPY', '/dav/PROJ/repo/.DAV/', undef, Destination => "$base/dav/PROJ/repo/copied"],
    ['COPY', '/dav/PROJ/repo/a.txt', undef, Destination => "$base/dav/PROJ/repo/.DAV/$state[0]", Overwrite => 'T'],
    ['MOVE', '/dav/PROJ/repo/a.txt', undef, Destination => "$base/dav/PROJ/repo/sub/.DAV/b.txt", Overwrite => 'T'],
    ['COPY', '/dav/PROJ/repo/a.txt', undef, Destination => "$base/dav/PROJ/repo/sub/%2EDAV/x"],
);
for my $p (@probes) {
    my ($m, $path, $body, %h) = @$p;
    my $mark = BBT::Assert::log_mark($env->error_log_path);
    my $res = dav($write, $m, $path, $body, %h);
    my $by = join "\n", BBT::Assert::log_lines_since($env->error_log_path, $mark);
    ok($res->{status} == 403 && $by =~ /BBT050: token \S+ of alice: no route for \Q$m\E /,
       "$m $path" . ($h{Destination} ? " to $h{Destination}" : '') . ': 403 from the module')
        or diag "status $res->{status}\n$by";
}
is(repo_setting(), 'by-admin', 'the repository\'s property is still the admin\'s');
ok(-f "$root/PROJ/repo/a.txt" && !-e "$root/PROJ/repo/moved" && !-e "$root/PROJ/repo/sub/x",
   'nothing moved, copied or made');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
