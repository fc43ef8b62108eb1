# litmus, Debian's WebDAV conformance suite, through the dav route set in
# front of mod_dav_fs: a REPO_WRITE token passes every suite exactly as the
# same tree without the module does; a REPO_READ token's writes are all
# refused, and a wrong token gets nowhere.  Basic with the token as the
# password, the way WebDAV clients (neon, here) send it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use BBT::Env qw(run_cmd);
use BBT::Assert;
use BBT::Cache qw(wait_lines);

plan skip_all => 'litmus is not installed (apt-get install litmus)' unless -x '/usr/bin/litmus';

my $extra = <<'EOC';
DavLockDB "@DIR@/davlock/lockdb"
Alias /dav "@DIR@/dav"
<Location /dav>
    Dav On
    AuthType BBToken
    AuthName "Files"
    BBTokenRoutes dav
    Require bbtoken
</Location>
# The same mod_dav_fs, without the module: what litmus says of it is what
# it must say through the module.
Alias /plain "@DIR@/plain"
<Location /plain>
    Dav On
    Require all granted
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, modules => [qw(dav dav_fs)])->start;
my $d = $env->dir;
make_path("$d/dav/PROJ/files", "$d/dav/OTHER/files", "$d/plain", "$d/davlock");
$env->give_to_httpd("$d/dav", "$d/plain", "$d/davlock");

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $wtok = $env->token_create('alice', name => 'rw', perms => ['REPO_WRITE']);
my $rtok = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);

my $cwd = tempdir('litmus-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);

# Runs every suite (-k: on after a failing one) and reads its summaries:
# { suite => [run, passed, failed] }.
sub litmus {
    my ($path, @creds) = @_;
    my ($rc, $out, $err) = run_cmd(cmd => ['litmus', '-k', $env->url($path), @creds], cwd => $cwd,
                                   timeout => 600);
    my %s;
    while ($out =~ /<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed/g) {
        $s{$1} = [$2, $3, $4];
    }
    return (\%s, "$out$err");
}

my ($plain, $pout) = litmus('/plain/');
my @suites = sort keys %$plain;
is_deeply(\@suites, [qw(basic copymove http locks props)], 'without the module: every suite ran')
    or diag $pout;
my ($pass_plain, $fail_plain) = (0, 0);
for (values %$plain) { $pass_plain += $_->[1]; $fail_plain += $_->[2] }
cmp_ok($pass_plain, '>', 50, "without the module: $pass_plain tests passed");

my ($with, $wout) = litmus('/dav/PROJ/files/', 'alice', $wtok);
is_deeply($with, $plain, 'a REPO_WRITE token: every suite, test for test, as without the module')
    or diag $wout;
is($fail_plain, 0, 'and nothing failed there') or diag $pout;

# The same token outside its owner's grants: litmus cannot even begin.
my ($other, $oout) = litmus('/dav/OTHER/files/', 'alice', $wtok);
ok(!grep({ $_->[1] > 1 } values %$other), 'outside its owner\'s projects: refused from the start')
    or diag $oout;
my $mkcol = qr/"MKCOL \/dav\/OTHER\/files\/litmus\/ [^"]*" 403 /;
like(join("\n", wait_lines($env->access_log_path, 0, $mkcol)), $mkcol, 'its MKCOL answered 403');

my $mark = BBT::Assert::log_mark($env->access_log_path);
my ($ro, $rout) = litmus('/dav/PROJ/files/', 'alice', $rtok);
ok($ro->{basic} && $ro->{basic}[2] > 0, 'a REPO_READ token: litmus\'s writes fail') or diag $rout;
my $writes = qr/"(?:PUT|MKCOL|DELETE|COPY|MOVE|PROPPATCH|LOCK) \/dav\/PROJ\/files\//;
my @lines = wait_lines($env->access_log_path, $mark, qr/$writes[^"]*" 403 /);
ok(scalar(grep { /$writes[^"]*" 403 / } @lines), 'its writes were answered 403');
is_deeply([grep { /$writes[^"]*" 2\d\d / } @lines], [], 'and none of them succeeded');

$mark = BBT::Assert::log_mark($env->access_log_path);
my ($bad, $bout) = litmus('/dav/PROJ/files/', 'alice', $wtok =~ s/.$/($& eq 'A' ? 'B' : 'A')/er);
ok(!grep({ $_->[1] > 1 } values %$bad), 'a mistyped token: refused from the start') or diag $bout;
# The REPO_READ run's last lines may still come after the mark (a line is
# written once its answer is sent): they name its token, which a mistyped
# token's request never does.
my $rid = BBT::Env::parse_token($rtok)->{id};
my $theirs = sub { grep { !/ \Q$rid\E$/ } @_ };
@lines = $theirs->(wait_lines($env->access_log_path, $mark, sub { $theirs->(@_) > 0 }));
ok(@lines > 0 && !grep({ !/" 401 / } @lines), 'every request with the mistyped token: 401')
    or diag join "\n", @lines;
unlike($env->error_log_text . $env->access_log_text, qr/\Q$wtok\E|\Q$rtok\E/, 'no token in the logs');

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
