#!/usr/bin/perl
# The working demonstration: PostgreSQL and httpd with mod_bbtoken on
# loopback, a sample repository, a user with a grant, and a token; prints a
# git clone command that works.  Run through build/demo.sh, which builds
# first.  It reuses the test harness, so the demo runs exactly what the
# tests test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use BBT::Env;

my $dir = $ENV{BBTOKEN_DEMO_DIR} || '/tmp/bbtoken-demo';
my $port = $ENV{BBTOKEN_DEMO_PORT} || 8080;

if (BBT::Env::port_open($port)) {
    die "demo: port $port is taken; set BBTOKEN_DEMO_PORT to another\n";
}
# The demo stays up on a machine that may have other users: its database
# takes a password (root's alone, in $dir/pgpass), not every local user as
# its superuser.
my $env = BBT::Env->new(dir => $dir, port => $port, loglevel => 'warn bbtoken:info',
                        db_password => 1)->start;

$env->make_repo('DEMO', 'hello');
$env->user_add('demo');
$env->grant('demo', 'REPO_WRITE', 'DEMO/hello');
my $token = $env->token_create('demo', name => 'demo clone', perms => ['PROJECT_READ', 'REPO_WRITE']);
$env->detach;

my $base = $env->base_url;
# The user's name in the clone URL, as Bitbucket's clone dialog gives it,
# and not the token: git keeps a clone's URL in its .git/config, which
# other users may read.  git asks for the password instead.
my $plain_url = $env->clone_url(undef, undef, 'DEMO', 'hello');
(my $url = $plain_url) =~ s{^http://}{http://demo\@};
# A word as a shell reads it back, quoted where it must be.
sub shq { my ($w) = @_; return $w =~ m{^[\w/.,:+-]+$} ? $w : "'" . ($w =~ s/'/'\\''/gr) . "'" }
my $cli = 'PGPASSFILE=' . shq("$dir/pgpass") . ' ' . shq($env->cli_path);
my $db = $env->superuser_conninfo;
# stop finds the demo where BBTOKEN_DEMO_DIR says, as start did.
my $stop = $dir eq '/tmp/bbtoken-demo' ? '' : 'BBTOKEN_DEMO_DIR=' . shq($dir) . ' ';
print <<"EOT";

mod_bbtoken demo is running (state in $dir).

  httpd:      $base  (config: $dir/httpd.conf, log: $dir/logs/error_log)
  PostgreSQL: $db
              (its password in $dir/pgpass, for PGPASSFILE)
  user:       demo, with REPO_WRITE on DEMO/hello
  token:      $token
              (PROJECT_READ + REPO_WRITE, named "demo clone")

Clone it (git asks for the password: paste the token.  Not in the URL:
git would keep it in the clone's .git/config, which other users may read):

  git clone $url

or with the token alone, as a Bearer token (in git's environment, not its
arguments, which any local user can read with ps; for this repository's URL
alone, since git-lfs gives a header that names no URL to any host a
repository's .lfsconfig names):

  GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.$plain_url.extraHeader GIT_CONFIG_VALUE_0="Authorization: Bearer $token" git clone $plain_url

Manage tokens:

  $cli --db "$db" list demo
  $cli --db "$db" create demo --name "my laptop" --perm REPO_READ
  $cli --db "$db" revoke ID
  $cli --db "$db" audit demo
  $cli --db "$db" policy
  $cli --db "$db" expiring --within 30d

Stop it with: ${stop}build/demo.sh stop
EOT
