# The realm Subversion shows and saves is the AuthName alone.  svn asks
# for a password on a terminal (t/lib/pty_answer.py gives it one), is
# answered a mistyped token, asks again and is answered the right one:
# each prompt names the realm as "<http://HOST:PORT> AuthName", and so
# does the svn:realmstring of the credentials it saves, which a later
# command finds by that string.  serf, Subversion's HTTP library, reads a
# Basic challenge's realm up to its last quote, so a parameter after the
# realm (charset="UTF-8") would be shown and saved as part of it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Svn qw(svn_missing svn_conf svn_repo);
use BBT::Env qw(run_cmd mistype_token);

if (my $why = svn_missing()) {
    plan skip_all => $why;
}
plan skip_all => 'python3 is not installed' unless -x '/usr/bin/python3';

my $env = BBT::Env->new(modules => [qw(dav dav_svn)], extra_conf => svn_conf('PROJ'))->start;
my $d = $env->dir;
make_path("$d/svnconf");
svn_repo($env, 'PROJ');
my ($rc, $out, $err);
$env->give_to_httpd("$d/svn");
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $tok = $env->token_create('alice', name => 'svn', perms => ['REPO_READ']);
my $url = $env->url('/svn/PROJ/repo');
my $realm = '<' . $env->base_url . '> Subversion';

# Credentials are saved in the config directory, the password not (no
# keyring, none in plain text): the username and the realm they are for.
BBT::Env::spew("$d/svnconf/config", "[auth]\npassword-stores =\n");
BBT::Env::spew("$d/svnconf/servers", "[global]\nstore-plaintext-passwords = no\n");
my @svn = ('svn', '--config-dir', "$d/svnconf");

($rc, $out, $err) = run_cmd(cmd => ['/usr/bin/python3', "$FindBin::Bin/lib/pty_answer.py", 120,
                                    @svn, '--username', 'alice', 'ls', $url],
                            stdin => join("\n", mistype_token($tok), 'alice', $tok, ''), timeout => 180);
is($rc, 0, 'svn ls, a mistyped token and then the right one: exits 0') or diag "$out$err";
my @shown = $out =~ /^Authentication realm: (.*)$/mg;
cmp_ok(scalar(@shown), '>=', 2, 'svn names the realm when it asks, and again after the mistyped token')
    or diag $out;
is($_, $realm, "  it shows \"$realm\"") for @shown;

my @saved = glob("$d/svnconf/auth/svn.simple/*");
is(scalar(@saved), 1, 'svn saved credentials for one realm');
my $file = @saved ? BBT::Env::slurp($saved[0]) : '';
my ($string) = $file =~ /^K 15\nsvn:realmstring\nV \d+\n(.*)\n/m;
is($string, $realm, '  for that realm') or diag $file;
unlike($file, qr/\Q$tok\E/, '  without the token');

# The saved username is found by that string: asked for the password
# alone (no "Username:" prompt), and answered the token, svn gets in.
($rc, $out, $err) = run_cmd(cmd => ['/usr/bin/python3', "$FindBin::Bin/lib/pty_answer.py", 120,
                                    @svn, 'ls', $url],
                            stdin => "$tok\n", timeout => 180);
is($rc, 0, 'a second svn ls with the saved username exits 0') or diag "$out$err";
like($out, qr/^Password for 'alice': /m, '  svn asked the password for alice, whom it saved');
unlike($out, qr/^Username:/m, '  not who the user is');

unlike($env->error_log_text . $env->access_log_text, qr/\Q$tok\E/, 'the token is in no log');
is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
