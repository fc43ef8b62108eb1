# No way around the dav routes for a read token.  Hostile spellings of
# methods, method-override headers, Destinations, If headers and paths,
# sent byte for byte to mod_dav_fs behind `BBTokenRoutes dav`, by a token
# that may only read: alice's REPO_READ token (alice has PROJECT_WRITE on
# PROJ, nothing on OTHER) and a repository token for PROJ/repo alone.  The
# oracle is the tree itself: nothing in it may change, and no response may
# carry what lies outside what the token reads.  Then a writer: no request
# of a REPO_WRITE token reaches mod_dav_fs's .DAV property store.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Find;
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
    AuthName "Files"
    BBTokenRoutes dav
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_fs)])->start;
my $d = $env->dir;
my $root = "$d/dav";
make_path("$root/$_") for qw(PROJ/repo/sub PROJ/other OTHER/secret proj/repo);
BBT::Env::spew("$root/PROJ/repo/a.txt", "PROJ-REPO-A\n");
BBT::Env::spew("$root/PROJ/other/o.txt", "PROJ-OTHER-CONTENT\n");
BBT::Env::spew("$root/OTHER/secret/s.txt", "OTHER-SECRET-CONTENT\n");
BBT::Env::spew("$root/proj/repo/a.txt", "LOWER-TWIN-CONTENT\n");
make_path("$d/davlock");
$env->give_to_httpd($root, "$d/davlock");

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my %tok = (user => scalar $env->token_create('alice', name => 'read', perms => ['REPO_READ']),
           repo => $env->scoped_token_create('--repo', 'PROJ/repo', perms => ['REPO_READ']));
my $host = 'Host: 127.0.0.1:' . $env->port;
my $base = 'http://127.0.0.1:' . $env->port;

sub tree {
    my %t;
    find({ no_chdir => 1, wanted => sub {
        my $p = substr($File::Find::name, length $root);
        $t{$p} = -d $_ ? 'dir' : do { local (@ARGV, $/) = ($_); <> };
    } }, $root);
    return join "\n", map {"$_=" . $t{$_}} sort keys %t;
}
my $before = tree();

sub raw {
    my ($who, $method, $target, $body, @hdr) = @_;
    $body //= '';
    push @hdr, 'Content-Length: ' . length $body if length $body;
    return $env->raw_request("$method $target HTTP/1.1\r\n$host\r\nAuthorization: "
                             . $env->bearer($tok{$who}) . "\r\n"
                             . join('', map {"$_\r\n"} @hdr) . "Connection: close\r\n\r\n$body");
}

my $lockinfo = '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    . '<D:locktype><D:write/></D:locktype></D:lockinfo>';
my $propupdate = '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:t"><D:set><D:prop>'
    . '<Z:x>1</Z:x></D:prop></D:set></D:propertyupdate>';
my $a = '/dav/PROJ/repo/a.txt';
my @probes = (
    # controls
    ['control: GET', 'GET', $a, '', 200],
    ['control: PUT', 'PUT', '/dav/PROJ/repo/new.txt', 'x', 403],
    # method spellings: httpd and mod_dav take a method by its exact name
    (map { ["method $_", $_, '/dav/PROJ/repo/new.txt', 'x'] } qw(put Put pUT)),
    (map { ["method $_", $_, '/dav/PROJ/repo/newcol/'] } qw(mkcol Mkcol)),
    (map { ["method $_", $_, $a] } qw(delete Delete)),
    ['method proppatch', 'proppatch', $a, $propupdate],
    ['method lock', 'lock', '/dav/PROJ/repo/new.txt', $lockinfo],
    (map { ["extension method $_", $_, $a] }
     qw(BIND REBIND UNBIND ACL SEARCH PATCH ORDERPATCH MKCALENDAR MKREDIRECTREF UPDATEREDIRECTREF)),
    # method overrides: nothing in httpd or mod_dav honours them
    (map { ["GET with $_: PUT", 'GET', '/dav/PROJ/repo/new.txt', 'x', undef, "$_: PUT"] }
     qw(X-HTTP-Method-Override X-HTTP-Method X-Method-Override)),
    ['POST with X-HTTP-Method-Override: DELETE', 'POST', $a, 'x', undef, 'X-HTTP-Method-Override: DELETE'],
    ['PROPFIND with X-HTTP-Method-Override: MKCOL', 'PROPFIND', '/dav/PROJ/repo/newcol/', '', undef,
     'X-HTTP-Method-Override: MKCOL'],
    # COPY, which reads its source, to Destinations a read token may not write
    ['COPY into its own repository', 'COPY', $a, '', 403, "Destination: $base/dav/PROJ/repo/copy.txt"],
    ['COPY into PROJ/other', 'COPY', $a, '', 403, "Destination: $base/dav/PROJ/other/copy.txt"],
    ['COPY into OTHER', 'COPY', $a, '', 403, "Destination: $base/dav/OTHER/secret/copy.txt"],
    ['COPY, Destination with %2e%2e', 'COPY', $a, '', 403,
     "Destination: $base/dav/PROJ/repo/%2e%2e/other/copy.txt"],
    ['COPY, Destination with a lower-case key', 'COPY', $a, '', 403,
     "Destination: $base/dav/proj/repo/copy.txt"],
    ['COPY, Destination with //', 'COPY', $a, '', 403, "Destination: $base//dav//OTHER/secret/copy.txt"],
    ['COPY, relative Destination', 'COPY', $a, '', 403, 'Destination: /dav/OTHER/secret/copy.txt'],
    ['COPY, Destination on another port', 'COPY', $a, '', 403,
     'Destination: http://127.0.0.1:1/dav/PROJ/repo/copy.txt'],
    ['COPY, two Destinations', 'COPY', $a, '', 403, "Destination: $base/dav/PROJ/repo/x/../../../PROJ/repo/c.txt",
     "Destination: $base/dav/OTHER/secret/copy.txt"],
    ['COPY of the repository over OTHER', 'COPY', '/dav/PROJ/repo/', '', 403,
     "Destination: $base/dav/OTHER/secret/", 'Overwrite: T', 'Depth: infinity'],
    ['COPY of OTHER into PROJ/repo', 'COPY', '/dav/OTHER/secret/s.txt', '', 403,
     "Destination: $base/dav/PROJ/repo/s.txt"],
    # If headers naming other resources, on requests a read token may make
    ['PROPFIND with an If naming OTHER', 'PROPFIND', '/dav/PROJ/repo/', '', undef, 'Depth: 1',
     "If: <$base/dav/OTHER/secret/s.txt> (<opaquelocktoken:00000000-0000-0000-0000-000000000000>)"],
    ['LOCK with an If naming OTHER', 'LOCK', '/dav/PROJ/repo/a.txt', $lockinfo, 403,
     "If: <$base/dav/OTHER/secret/s.txt> ([\"x\"])"],
    # paths
    ['PROPFIND Depth: infinity of the project', 'PROPFIND', '/dav/PROJ/', '', undef, 'Depth: infinity'],
    ['PROPFIND Depth: infinity of the prefix', 'PROPFIND', '/dav/', '', 403, 'Depth: infinity'],
    ['GET a trailing dot on the slug', 'GET', '/dav/PROJ/repo./a.txt'],
    ['GET a ; parameter', 'GET', '/dav/PROJ/repo;/../other/o.txt'],
    ['GET %2f', 'GET', '/dav/PROJ/repo/..%2f..%2fother/o.txt'],
    ['GET the lower-case twin', 'GET', '/dav/proj/repo/a.txt'],
    ['GET a lower-case key of PROJ/other', 'GET', '/dav/proj/other/o.txt'],
    ['PUT with Expect: 100-continue', 'PUT', '/dav/PROJ/repo/new.txt', 'x', 403, 'Expect: 100-continue'],
    ['OPTIONS *', 'OPTIONS', '*'],
    ['absolute-form target on OTHER', 'GET', "$base/dav/OTHER/secret/s.txt", '', 403],
);

my $n = 0;
for my $who (qw(user repo)) {
    for my $p (@probes) {
        my ($name, $m, $target, $body, $want, @hdr) = @$p;
        my $res = raw($who, $m, $target, $body, @hdr);
        my $txt = ($res->{body} // '');
        my @bad;
        push @bad, 'no response' unless $res->{status};
        push @bad, "status $res->{status}, wanted $want" if defined $want && $res->{status} != $want;
        push @bad, 'OTHER content' if $txt =~ /OTHER-SECRET-CONTENT|\/OTHER\/secret\/s\.txt/;
        push @bad, 'the lower-case twin' if $txt =~ /LOWER-TWIN-CONTENT/;
        push @bad, 'PROJ/other, to the repository token'
            if $who eq 'repo' && $txt =~ /PROJ-OTHER-CONTENT|\/PROJ\/other\//;
        push @bad, "a $m answered 2xx" if $res->{status} =~ /^2/ && $m !~ /^(GET|HEAD|OPTIONS|PROPFIND)$/;
        ok(!@bad, "$who: $name (status $res->{status})") or diag join('; ', @bad) . "\n" . substr($res->{raw} // '', 0, 600);
        $n++;
    }
}
cmp_ok($n, '>=', 80, "$n probes sent");
is(tree(), $before, 'the tree is as it was: no probe wrote anything');

# mod_dav_fs keeps a resource's dead properties (and a collection's
# lock-null list) in the .DAV directory beside it; a repository's own
# properties, its settings, which only REPO_ADMIN may PROPPATCH, live in the
# repository's .DAV/.state_for_dir.  httpd before 2.4.69 served and wrote
# .DAV like any file (a GET read the properties, a PUT rewrote them), so a
# writer of the repository could change its settings.  The dav set refuses
# every .DAV path itself, whatever mod_dav_fs would do, and every file
# named .state_for_dir, whose properties mod_dav_fs keeps where its
# directory's own are (on every httpd): each probe of a
# REPO_WRITE token is answered 403 by the module (BBT050 names it), and the
# properties are as the admin set them.
subtest 'a writer reaches no .DAV, mod_dav_fs\'s property store' => sub {
    $env->user_add('carol');
    $env->grant('carol', 'PROJECT_ADMIN', 'PROJ');
    my $admin = $env->token_create('carol', name => 'admin', perms => ['REPO_ADMIN']);
    my $write = $env->token_create('carol', name => 'write', perms => ['REPO_WRITE']);

    my $dav = sub {
        my ($tok, $method, $path, $body, %h) = @_;
        return $env->request($method, $path, { Authorization => $env->bearer($tok), %h }, $body);
    };
    my $setting = sub {
        my ($v) = @_;
        return '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:bbt-test"><D:set><D:prop>'
            . "<Z:setting>$v</Z:setting></D:prop></D:set></D:propertyupdate>";
    };
    my $repo_setting = sub {
        my $res = $dav->($admin, 'PROPFIND', '/dav/PROJ/repo/', '<?xml version="1.0"?><D:propfind xmlns:D="DAV:">'
                      . '<D:prop><Z:setting xmlns:Z="urn:bbt-test"/></D:prop></D:propfind>', Depth => '0');
        return ($res->{content} // '') =~ /<\w+:setting[^>]*>([^<]*)</ ? $1 : undef;
    };

    # Controls: the admin sets the repository's property (its .DAV appears),
    # and a file's; the writer may not set the repository's.
    is($dav->($admin, 'PROPPATCH', '/dav/PROJ/repo/', $setting->('by-admin'))->{status}, 207,
       'control: the admin sets a property of the repository');
    is($dav->($write, 'PROPPATCH', '/dav/PROJ/repo/a.txt', $setting->('file'))->{status}, 207,
       'control: the writer sets one of a file in it');
    is($dav->($write, 'PROPPATCH', '/dav/PROJ/repo/', $setting->('by-writer'))->{status}, 403,
       'control: the writer may not set the repository\'s own');
    is($repo_setting->(), 'by-admin', 'the repository\'s property is the admin\'s');
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
        ['GET', '/dav/PROJ/repo/sub/.DAV/a.txt'],
        ['PROPFIND', '/dav/PROJ/repo/.DAV/', undef, Depth => '1'],
        ['PROPPATCH', '/dav/PROJ/repo/.DAV/', $setting->('x')],
        ['MKCOL', '/dav/PROJ/repo/sub/x/.DAV/'],
        ['MKCOL', '/dav/PROJ/repo/sub/x/.dav'],
        ['DELETE', '/dav/PROJ/repo/.DAV'],
        ['LOCK', '/dav/PROJ/repo/.DAV/new', $lockinfo],
        ['MOVE', '/dav/PROJ/repo/.DAV', undef, Destination => "$base/dav/PROJ/repo/moved"],
        ['COPY', '/dav/PROJ/repo/.DAV/', undef, Destination => "$base/dav/PROJ/repo/copied"],
        ['COPY', '/dav/PROJ/repo/a.txt', undef, Destination => "$base/dav/PROJ/repo/.DAV/$state[0]", Overwrite => 'T'],
        ['MOVE', '/dav/PROJ/repo/a.txt', undef, Destination => "$base/dav/PROJ/repo/sub/.DAV/a.txt", Overwrite => 'T'],
        ['COPY', '/dav/PROJ/repo/a.txt', undef, Destination => "$base/dav/PROJ/repo/sub/%2EDAV/x"],
        # A file's dead properties live in .DAV/NAME beside it, and the
        # directory's own in .DAV/.state_for_dir: a file named
        # .state_for_dir shares the repository's property store, so its
        # PROPPATCH, COPY, MOVE or DELETE would be the repository's.
        ['PUT', '/dav/PROJ/repo/.state_for_dir', 'x'],
        ['PROPPATCH', '/dav/PROJ/repo/.state_for_dir', $setting->('by-writer')],
        ['PUT', '/dav/PROJ/repo/.STATE_FOR_DIR', 'x'],
        ['COPY', '/dav/PROJ/repo/a.txt', undef, Destination => "$base/dav/PROJ/repo/.state_for_dir", Overwrite => 'T'],
        ['MOVE', '/dav/PROJ/repo/a.txt', undef, Destination => "$base/dav/PROJ/repo/%2Estate_for_dir", Overwrite => 'T'],
        ['DELETE', '/dav/PROJ/repo/sub/.state_for_dir'],
    );
    for my $p (@probes) {
        my ($m, $path, $body, %h) = @$p;
        my $mark = BBT::Assert::log_mark($env->error_log_path);
        my $res = $dav->($write, $m, $path, $body, %h);
        my $by = join "\n", BBT::Assert::log_lines_since($env->error_log_path, $mark);
        ok($res->{status} == 403 && $by =~ /BBT050: token \S+ of carol: no route for \Q$m\E /,
           "$m $path" . ($h{Destination} ? " to $h{Destination}" : '') . ': 403 from the module')
            or diag "status $res->{status}\n$by";
    }
    is($repo_setting->(), 'by-admin', 'the repository\'s property is still the admin\'s');
    ok(-f "$root/PROJ/repo/a.txt" && !-e "$root/PROJ/repo/moved" && !-e "$root/PROJ/repo/sub/x"
       && !-e "$root/PROJ/repo/.state_for_dir", 'nothing moved, copied or made');
};
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
