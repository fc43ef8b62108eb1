# configtest (apache2 -t) refuses the mistakes that used to pass it and
# fail later: mod_dbd not loaded (Syntax OK, then the restart took the
# server down), AuthType BBToken (or the REST handler) in a server with no
# DBDriver or another driver than pgsql (every request 503), and a route
# whose method is not upper case or not known to httpd (never matched).
# Each message names the file and line and says what to do; correct
# configurations, virtual hosts with their own DBDriver among them, pass.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
my $dir = $env->dir;
my $conf = "$dir/httpd-test.conf";
$env->{port} = BBT::Env::free_port();    # the one config_test listens on

# The line of $file that holds $needle (the first, or the $nth).
sub line_of {
    my ($needle, $file, $nth) = @_;
    my @l = split /\n/, BBT::Env::slurp($file // $conf);
    for my $i (0 .. $#l) {
        next unless index($l[$i], $needle) >= 0;
        return $i + 1 unless $nth && --$nth;
    }
    return -1;
}

sub refused {
    my ($name, $rc, $out, @re) = @_;
    isnt($rc, 0, "$name: configtest fails");
    like($out, $_, "  $_") or diag $out for @re;
    unlike($out, qr/Syntax OK/, '  and does not say Syntax OK');
}

# The test configuration's text up to its database settings: what every
# server needs (modules, ports, logs), for a body of a test's own.
sub head_only {
    my ($text) = @_;
    $text =~ s/^DBDriver pgsql\n.*//ms or die "no DBDriver line in the harness's configuration";
    return $text;
}

my ($rc, $out) = $env->config_test('');
is($rc, 0, 'the harness\'s configuration passes') or diag $out;
like($out, qr/Syntax OK/, 'Syntax OK');
unlike($out, qr/BBT4\d\d/, 'with nothing to say');

subtest 'mod_dbd not loaded' => sub {
    my ($rc, $out) = $env->config_test('', sub {
        my $t = shift;
        $t =~ s/<IfModule !dbd_module>\n[^\n]*\n<\/IfModule>\n// or die 'no LoadModule dbd_module';
        $t =~ s/^(?:DBDriver|DBDParams) .*\n//mg;
        return $t;
    });
    refused('no mod_dbd', $rc, $out, qr/BBT400: mod_bbtoken needs mod_dbd, which is not loaded/,
            qr/a2enmod dbd, or LoadModule dbd_module/);
};

subtest 'no DBDriver' => sub {
    my ($rc, $out) = $env->config_test('', sub { my $t = shift; $t =~ s/^DBDriver pgsql\n//m or die; $t });
    my $n = line_of('AuthType BBToken');
    refused('AuthType BBToken without DBDriver', $rc, $out,
            qr/BBT401: \Q$conf\E:$n: AuthType BBToken \(the first of 2 such lines\), but the main server has no DBDriver:/,
            qr/Add "DBDriver pgsql" and DBDParams to the main server/);

    # The REST handler needs the database too; a section read from an
    # Included file is named by that file's own line.
    my $inc = "$dir/rest.conf";
    BBT::Env::spew($inc, "# the API\n<Location /rest/access-tokens>\n    SetHandler bbtoken-rest\n</Location>\n");
    ($rc, $out) = $env->config_test("Include $inc\n", sub { head_only(shift) . "\nInclude $inc\n" });
    refused('SetHandler bbtoken-rest without DBDriver', $rc, $out,
            qr/BBT401: \Q$inc\E:3: SetHandler bbtoken-rest, but the main server has no DBDriver:/);
};

# The README shows this refusal for the shipped bbtoken-git.conf: that is
# what httpd says for it, its line included.
subtest "the README's example: bbtoken-git.conf without DBDriver" => sub {
    my ($example) = BBT::Env::slurp("$FindBin::Bin/../README") =~ /^For example, with DBDriver missing:\n\n(.*?)\n\n/ms
        or die 'README: no example of BBT401';
    $example =~ s/\s+/ /g;
    $example =~ s/^ //;
    my $git = "$dir/bbtoken-git.conf";
    BBT::Env::spew($git, BBT::Env::slurp("$FindBin::Bin/../conf/bbtoken-git.conf.in"));
    my ($rc, $out) = $env->config_test("Include $git\n", sub { head_only(shift) . "\nInclude $git\n" });
    isnt($rc, 0, 'configtest fails');
    my ($said) = $out =~ /^(BBT401: .*)$/m;
    $said //= '';
    $said =~ s{\Q$git\E}{/etc/apache2/conf-enabled/bbtoken-git.conf};
    $said =~ s/\s+/ /g;
    is($said, $example, '  with the README\'s words and line') or diag $out;
};

# The README's configuration examples, each as a site pastes it into
# Debian's apache2: a code block is a run of lines indented by four or more
# (blank ones within), and these are the ones that are httpd's
# configuration.  Debian's envvars and default modules come first (and
# mod_dav's, for the example that adds git to the WebDAV section's).  Only
# what this machine cannot have is changed: the DBDParams files are the
# environment's, and TLS is left out.
subtest "the README's configuration examples pass configtest" => sub {
    my $readme = BBT::Env::slurp("$FindBin::Bin/../README");
    my @blocks = grep { /^    (?:LoadModule |DavLockDB |# The lookup role|<Location|<LocationMatch )/ }
        $readme =~ /(?:^|\n\n)((?: {4,}\S[^\n]*\n(?:\n(?= {4}))?)+)/g;
    cmp_ok(scalar @blocks, '>=', 8, 'the README has its examples') or diag scalar @blocks;
    BBT::Env::spew("$dir/dbd.conf", "DBDParams \"dbname=bbtoken\"\n");
    my $debian = "Define APACHE_LOG_DIR $dir/logs\n" . join '', map {
        "<IfModule !${_}_module>\n    LoadModule ${_}_module /usr/lib/apache2/modules/mod_$_.so\n</IfModule>\n"
    } qw(authn_file authz_user authz_host dav dav_fs);
    for my $block (@blocks) {
        (my $text = $block) =~ s/^    //mg;
        $text =~ s{/etc/apache2/bbtoken-(?:api-)?dbd\.conf}{$dir/dbd.conf}g;
        $text =~ s/^\s*SSLEngine on\n//mg;
        my ($rc, $out) = $env->config_test($debian . $text);
        my ($first) = $text =~ /^([^\n]*)/;
        is($rc, 0, "configtest: the example that starts '$first'") or diag "$text\n$out";
    }
};

SKIP: {
    skip 'no sqlite3 driver for apr_dbd (libaprutil1-dbd-sqlite3): mod_dbd would refuse the name itself', 2
        unless glob('/usr/lib/*/apr-util-1/apr_dbd_sqlite3*.so');
    subtest 'a DBDriver other than pgsql' => sub {
        my ($rc, $out) = $env->config_test('', sub { my $t = shift; $t =~ s/^DBDriver pgsql$/DBDriver sqlite3/m or die; $t });
        my ($n, $d) = (line_of('AuthType BBToken'), line_of('DBDriver sqlite3'));
        refused('DBDriver sqlite3', $rc, $out,
                qr/BBT402: \Q$conf\E:$n: AuthType BBToken \(the first of 2 such lines\), but the DBDriver of the main server is 'sqlite3' \(\Q$conf\E:$d\)/,
                qr/Use "DBDriver pgsql" there/);
    };

    subtest 'virtual hosts: their own DBDriver, or the main server\'s' => sub {
        my $port = $env->port;
        my $loc = "    <Location /x>\n        AuthType BBToken\n        AuthName \"x\"\n        Require bbtoken\n    </Location>\n";
        my $vhost = sub {
            my ($driver) = @_;
            return "<VirtualHost 127.0.0.1:$port>\n    ServerName vh.example\n"
                . ($driver ? "    DBDriver $driver\n" : '') . $loc . "</VirtualHost>\n";
        };
        my ($rc, $out) = $env->config_test('', sub { head_only(shift) . $vhost->('pgsql') });
        is($rc, 0, 'no DBDriver in the main server, pgsql in the virtual host that uses the module') or diag $out;
        ($rc, $out) = $env->config_test('', sub { head_only(shift) . "DBDriver pgsql\n" . $vhost->(undef) });
        is($rc, 0, 'a virtual host without DBDriver has the main server\'s') or diag $out;
        ($rc, $out) = $env->config_test('', sub { head_only(shift) . "DBDriver pgsql\n" . $vhost->('sqlite3') });
        my ($v, $n) = (line_of('<VirtualHost'), line_of('AuthType BBToken'));
        refused('sqlite3 in the virtual host, pgsql in the main server', $rc, $out,
                qr/BBT402: \Q$conf\E:$n: AuthType BBToken, but the DBDriver of the <VirtualHost 127\.0\.0\.1:$port> at \Q$conf\E:$v is 'sqlite3'/);
        ($rc, $out) = $env->config_test('', sub { head_only(shift) . "DBDriver sqlite3\n" . $vhost->('pgsql') });
        is($rc, 0, 'another driver in the main server, which does not use the module') or diag $out;

        # The main server's sections are every virtual host's too.
        my $other = "<VirtualHost 127.0.0.1:$port>\n    ServerName other.example\n    DBDriver sqlite3\n</VirtualHost>\n";
        ($rc, $out) = $env->config_test($other);
        ($v, $n) = (line_of('<VirtualHost'), line_of('AuthType BBToken'));
        refused('the main server\'s AuthType BBToken, and a virtual host with sqlite3', $rc, $out,
                qr/BBT402: \Q$conf\E:$n: AuthType BBToken \(the first of 2 such lines\), in the main server's configuration and so in every virtual host's, but the DBDriver of the <VirtualHost 127\.0\.0\.1:$port> at \Q$conf\E:$v is 'sqlite3'/);
        ($rc, $out) = $env->config_test($other =~ s/sqlite3/pgsql/r);
        is($rc, 0, 'the same virtual host with pgsql') or diag $out;
    };
}

subtest 'route methods' => sub {
    my $route = sub { "<Location /t>\n    AuthType BBToken\n    AuthName \"Git\"\n$_[0]\n    Require bbtoken\n</Location>\n" };
    my $all = 'GET,HEAD,POST,PUT,DELETE,CONNECT,OPTIONS,TRACE,PATCH,PROPFIND,PROPPATCH,MKCOL,COPY,MOVE,LOCK,'
        . 'UNLOCK,VERSION-CONTROL,CHECKOUT,UNCHECKOUT,CHECKIN,UPDATE,LABEL,REPORT,MKWORKSPACE,MKACTIVITY,'
        . 'BASELINE-CONTROL,MERGE';
    my ($rc, $out) = $env->config_test($route->("    BBTokenRoutes git\n    BBTokenRoutes dav /t\n"
        . "    BBTokenRoutes bitbucket-rest\n    BBTokenRoute $all \"/t/(?<project>[A-Z]+)\" PROJECT_READ"));
    is($rc, 0, 'the shipped sets, and every method httpd knows (HTTP, WebDAV, DeltaV)') or diag $out;

    my $line = '    BBTokenRoute GET,get "/t/(?<project>[A-Z]+)" PROJECT_READ';
    ($rc, $out) = $env->config_test($route->($line));
    my $n = line_of('GET,get');
    refused('a lower-case method', $rc, $out,
            qr/\Q$conf\E:$n: methods are case-sensitive: write them in upper case, as clients send them: 'GET,get'/);

    $line = '    BBTokenRoute GET,FETCH "/t/(?<project>[A-Z]+)" PROJECT_READ';
    ($rc, $out) = $env->config_test($route->($line));
    $n = line_of('GET,FETCH');
    refused('a method httpd does not know', $rc, $out,
            qr/BBT403: \Q$conf\E:$n: BBTokenRoute with the method 'FETCH', which httpd does not know/,
            qr/"RegisterHttpMethod FETCH"/);

    # Registered anywhere in the main server's configuration, even after
    # the route: the extension method is known.
    ($rc, $out) = $env->config_test($route->($line) . "RegisterHttpMethod FETCH\n");
    is($rc, 0, 'the same route with RegisterHttpMethod FETCH after it') or diag $out;

    # A route file used by two sections: its own line, said once.
    my $file = "$dir/ext-routes.conf";
    BBT::Env::spew($file, "# extension methods\nBBTokenRoute SEARCH \"\@PREFIX\@/(?<project>[A-Z]+)\" PROJECT_READ\n");
    ($rc, $out) = $env->config_test($route->("    BBTokenRoutes $file /t") . "<Location /u>\n    BBTokenRoutes $file /u\n</Location>\n");
    refused('an unknown method in a route file', $rc, $out, qr/BBT403: \Q$file\E:2: BBTokenRoute with the method 'SEARCH'/);
    my $times = () = $out =~ /BBT403/g;
    is($times, 1, '  said once for the file, though two sections read it');
};

# Route directives' messages say the rule that was broken, and no rule
# that is not one.
subtest 'route directives: what they take and what they say' => sub {
    my $route = sub { "<Location /t>\n    AuthType BBToken\n    AuthName \"Git\"\n$_[0]\n    Require bbtoken\n</Location>\n" };

    # A trailing slash is dropped, so it is no rule of a URL prefix.
    my ($rc, $out) = $env->config_test($route->('    BBTokenRoutes git scm'));
    refused('a URL prefix without its leading slash', $rc, $out,
            qr/^BBTokenRoutes: routes\/git\.conf: the URL prefix must start with '\/' and hold only letters, digits and \/\._~-: 'scm'$/m);
    ($rc, $out) = $env->config_test($route->('    BBTokenRoutes git /scm/'));
    is($rc, 0, 'a URL prefix with a trailing slash passes') or diag $out;

    # No token holds REPO_CREATE: a token reaches it with PROJECT_ADMIN.
    my $line = '    BBTokenRoute GET "/t/(?<project>[A-Z]+)" PROJECT_READ token=REPO_CREATE';
    ($rc, $out) = $env->config_test($route->($line));
    my $n = line_of('token=REPO_CREATE');
    refused('token=REPO_CREATE', $rc, $out,
            qr/^BBTokenRoute: \Q$conf\E:$n: token= takes a permission a token holds, and no token holds REPO_CREATE: a token reaches it with PROJECT_ADMIN \(token=PROJECT_ADMIN\)$/m);

    # A route that creates a repository in the project its body names.
    $line = '    BBTokenRoute POST "/t/(?<project>[A-Z]+)/(?<repo>[a-z]+)" REPO_READ token=PROJECT_ADMIN '
        . 'body-project=project.key:REPO_CREATE';
    ($rc, $out) = $env->config_test($route->($line));
    is($rc, 0, 'body-project= with REPO_CREATE passes') or diag $out;
    like($out, qr/Syntax OK/, '  Syntax OK');
};

done_testing;
