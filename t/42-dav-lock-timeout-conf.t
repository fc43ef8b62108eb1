# How long a WebDAV lock taken through the module may last is the
# section's to say (BBTokenDAVLockMaxTimeout seconds, 1 to 604800): a LOCK
# asking more, Infinite or nothing is granted that many seconds, a nested
# section without the directive keeps its parent's, and where no section
# says it stays an hour (t/42-dav-lock-timeout); mod_dav's DAVMinTimeout
# still raises a new lock past it.  A value out of range, or
# not a plain number, stops httpd at configtest with the line that holds
# it; a .htaccess file cannot set it (a writer must not make their own
# locks last).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;
use BBT::Httpd;
use BBT::Assert;
use BBT::DavLock qw(dav_lock lock_granted);

# /dav is the shipped bbtoken-dav.conf's, with no cap of its own.
my $sections = <<'EOC';
<Location /dav/PROJ/short>
    BBTokenDAVLockMaxTimeout 120
</Location>
<Location /dav/PROJ/short/in>
    BBTokenSandbox On
</Location>
<Location /dav/PROJ/long>
    BBTokenDAVLockMaxTimeout 86400
</Location>
<Location /dav/PROJ/long/in>
    BBTokenDAVLockMaxTimeout 300
</Location>
<Location /dav/PROJ/min>
    BBTokenDAVLockMaxTimeout 120
    DAVMinTimeout 600
</Location>
<Directory "@DIR@/dav/PROJ/ht">
    AllowOverrideList BBTokenDAVLockMaxTimeout
</Directory>
EOC
my $extra = "TypesConfig /dev/null\nDavLockDB \"\@DIR\@/davlock/lockdb\"\n" . BBT::Httpd::shipped_conf('dav')
    . $sections;
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_fs mime)], httpd => 0)->start;
my $d = $env->dir;
make_path(map {"$d/dav/PROJ/$_"} qw(plain/a plain/b plain/c short/a short/b short/c short/d short/in/a
                                    short/in/b long/a long/b long/in/a min/a ht/a));
make_path("$d/davlock");
BBT::Env::spew("$d/dav/PROJ/ht/.htaccess", "BBTokenDAVLockMaxTimeout 604800\n");
$env->give_to_httpd("$d/dav", "$d/davlock");
$env->httpd_start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $alice = 'Bearer ' . $env->token_create('alice', name => 'a');

sub lock_it { return dav_lock($env, $alice, @_) }

# mod_dav counts down from the moment it took the lock: what its answer
# says is $want, or a little less on a slow machine (never more).
sub granted_ok {
    my ($res, $want, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $g = lock_granted($res);
    ok($g =~ /^\d+$/ && $g <= $want && $g >= $want - 60, "  $name: granted $want s (got $g)");
}

my %token;
my @cases = (
    ['short/a', 'Second-3600', 120, 'cap 120, asking Second-3600'],
    ['short/b', 'Infinite', 120, 'cap 120, asking Infinite'],
    ['short/c', undef, 120, 'cap 120, no Timeout (mod_dav: infinite)'],
    ['short/d', 'Second-60', 60, 'cap 120, asking Second-60'],
    ['short/in/a', 'Second-3600', 120, 'a nested section that sets no cap, asking Second-3600'],
    ['short/in/b', 'Infinite', 120, 'the nested section, asking Infinite'],
    ['long/a', 'Second-7200', 7200, 'cap 86400, asking Second-7200'],
    ['long/b', 'Infinite', 86400, 'cap 86400, asking Infinite'],
    ['long/in/a', 'Infinite', 300, 'a nested section with a cap of its own (300), asking Infinite'],
    # mod_dav's own lower bound, applied after the module's (README).
    ['min/a', 'Infinite', 600, 'cap 120 and DAVMinTimeout 600, asking Infinite'],
    ['plain/a', 'Second-7200', 3600, 'no cap said, asking Second-7200'],
    ['plain/b', 'Infinite', 3600, 'no cap said, asking Infinite'],
    ['plain/c', 'Second-600', 600, 'no cap said, asking Second-600'],
);
for my $c (@cases) {
    my ($dir, $timeout, $want, $name) = @$c;
    my $res = lock_it("/dav/PROJ/$dir/", $timeout);
    is_status($res, 200, "LOCK $dir/: $name");
    granted_ok($res, $want, $name);
    $token{$dir} = $res->{headers}{'lock-token'};
}

# A refresh (LOCK with If) asking Infinite gets the section's cap too.
for my $c (['short/d', 120], ['long/a', 86400]) {
    my ($dir, $want) = @$c;
    my $res = lock_it("/dav/PROJ/$dir/", 'Infinite', If => "(<" . ($token{$dir} =~ s/^<|>$//gr) . ">)");
    is_status($res, 200, "a refresh of $dir/ asking Infinite");
    granted_ok($res, $want, 'the refresh');
}

# What lockdiscovery says the lock has left.
my $res = $env->request('PROPFIND', '/dav/PROJ/short/b/', { Authorization => $alice, Depth => 0,
                        'Content-Type' => 'application/xml' },
                        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>');
granted_ok($res, 120, 'lockdiscovery of short/b/');

subtest 'a .htaccess file cannot set it' => sub {
    my $mark = log_mark($env->error_log_path);
    my $res = lock_it('/dav/PROJ/ht/a/', 'Infinite');
    is_status($res, 500, 'LOCK under a .htaccess that says 604800: 500');
    isnt(lock_granted($res), 'Infinite', '  no lock of Infinite');
    like(join('', log_lines_since($env->error_log_path, $mark)),
         qr/\.htaccess: BBTokenDAVLockMaxTimeout cannot occur within htaccess files/, '  the log says why');
};

subtest 'configtest' => sub {
    my $conf = "$d/httpd-test.conf";
    for my $bad ('0', '-1', '604801', '5s', '" 5"', '1e3', 'Infinite', '99999999999999999999', '18446744073709551737') {
        my ($rc, $out) = $env->config_test("<Location /x>\n    BBTokenDAVLockMaxTimeout $bad\n</Location>\n");
        (my $shown = $bad) =~ s/^"|"$//g;
        my @l = split /\n/, BBT::Env::slurp($conf);
        my ($n) = grep { $l[$_ - 1] eq "    BBTokenDAVLockMaxTimeout $bad" } 1 .. @l;
        isnt($rc, 0, "refused: $bad");
        like($out, qr/line \Q${\($n \/\/ -1)}\E of \Q$conf\E:\s+BBTokenDAVLockMaxTimeout: '\Q$shown\E' is not a number of seconds from 1 to 604800/,
             '  with the file, the line and the range') or diag $out;
        unlike($out, qr/Syntax OK/, '  and no Syntax OK');
    }
    my ($rc, $out) = $env->config_test("<Location /x>\n    BBTokenDAVLockMaxTimeout 60 120\n</Location>\n");
    ok($rc != 0 && $out =~ /BBTokenDAVLockMaxTimeout takes one argument/, 'refused: two values') or diag $out;
    for my $good ("<Location /x>\n    BBTokenDAVLockMaxTimeout 1\n</Location>\n",
                  "<Directory /x>\n    BBTokenDAVLockMaxTimeout 604800\n</Directory>\n",
                  "BBTokenDAVLockMaxTimeout 600\n",
                  "<VirtualHost 127.0.0.1:1>\n    BBTokenDAVLockMaxTimeout 600\n</VirtualHost>\n") {
        my ($rc, $out) = $env->config_test($good);
        (my $name = $good) =~ s/\s+/ /g;
        is($rc, 0, "accepted: $name") or diag $out;
    }
};

done_testing;
