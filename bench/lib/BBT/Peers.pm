package BBT::Peers;

# What the benchmarks (bench/bench.pl, bench/profile.pl) serve the same
# file through: a repository's files with no auth (/raw), behind the
# module (/dumb), behind mod_authn_dbd with a {SHA} password (/adbd) and
# with mod_authn_socache in front of it (/adbdc).
#
#   extra_conf => BBT::Peers::conf() . ...,
#   modules    => [@BBT::Peers::MODULES, ...],
#   my $pw = BBT::Peers::setup($env);    # after start

use strict;
use warnings;
use Digest::SHA qw(sha1);
use MIME::Base64 qw(encode_base64);

our @MODULES = qw(auth_basic authn_dbd authn_socache authz_user);
our $PASSWORD = 'correct horse battery staple';

sub conf {
    return <<'EOC';
Alias /raw/ "@DIR@/repos/"
Alias /dumb/ "@DIR@/repos/"
Alias /adbd/ "@DIR@/repos/"
Alias /adbdc/ "@DIR@/repos/"
<Directory "@DIR@/repos">
    Require all granted
</Directory>
<Location /dumb>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /dumb
    Require bbtoken
</Location>
<Location /adbd>
    AuthType Basic
    AuthName "dbd"
    AuthBasicProvider dbd
    AuthDBDUserPWQuery "SELECT password FROM bench_users WHERE name = %s"
    Require valid-user
</Location>
AuthnCacheSOCache shmcb
<Location /adbdc>
    AuthType Basic
    AuthName "dbd"
    AuthBasicProvider socache dbd
    AuthnCacheProvideFor dbd
    AuthnCacheContext bench
    AuthDBDUserPWQuery "SELECT password FROM bench_users WHERE name = %s"
    Require valid-user
</Location>
EOC
}

# mod_authn_dbd's table, with alice's password; returns the password.
sub setup {
    my ($env) = @_;
    $env->psql("CREATE TABLE bench_users (name text PRIMARY KEY, password text NOT NULL)");
    $env->psql("INSERT INTO bench_users VALUES ('alice', '{SHA}" . encode_base64(sha1($PASSWORD), '') . "')");
    $env->psql("GRANT SELECT ON bench_users TO bbtoken_httpd");
    return $PASSWORD;
}

1;
