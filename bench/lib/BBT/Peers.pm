package BBT::Peers;

# What the benchmarks (bench/bench.pl, bench/profile.pl) serve the same
# file through: a repository's files with no auth (/raw), behind the
# module (/dumb), behind mod_authn_dbd with a {SHA} password (/adbd),
# with mod_authn_socache in front of it (/adbdc), and with mod_authz_dbd
# asking the database for the user's group as well (/adbdz: like the
# module, the database both authenticates and authorizes each request,
# though in two queries, not one); and two measures of what
# httpd's own Basic authentication costs a location: mod_authn_file with a
# {SHA} password in a one-line file (/afile), and mod_authn_anon, which
# takes any password for "anonymous" and checks nothing (/anon): no
# module that authenticates and authorizes in httpd's phases can cost less.
#
#   extra_conf => BBT::Peers::conf() . ...,
#   modules    => [@BBT::Peers::MODULES, ...],
#   my $pw = BBT::Peers::setup($env);    # after start

use strict;
use warnings;
use Digest::SHA qw(sha1);
use MIME::Base64 qw(encode_base64);
use BBT::Httpd ();

our @MODULES = qw(auth_basic authn_dbd authn_socache authn_file authn_anon authz_user authz_dbd);
our $PASSWORD = 'correct horse battery staple';

sub conf {
    # /dumb as the tests have it; the Directory it opens serves the rest.
    # No .htaccess looked for anywhere, as a real server is configured
    # (Debian's apache2.conf, the README's examples): left unset, httpd
    # tries to open one at each step of the file's path (eight in a
    # suite's directory), a cost every case would pay and none adds.
    return $BBT::Httpd::DUMB_CONF . <<'EOC';
<Directory />
    AllowOverride None
</Directory>
Alias /raw/ "@DIR@/repos/"
Alias /adbd/ "@DIR@/repos/"
Alias /adbdc/ "@DIR@/repos/"
Alias /adbdz/ "@DIR@/repos/"
Alias /afile/ "@DIR@/repos/"
Alias /anon/ "@DIR@/repos/"
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
<Location /adbdz>
    AuthType Basic
    AuthName "dbd"
    AuthBasicProvider dbd
    AuthDBDUserPWQuery "SELECT password FROM bench_users WHERE name = %s"
    AuthzDBDQuery "SELECT grp FROM bench_groups WHERE name = %s"
    Require dbd-group readers
</Location>
<Location /afile>
    AuthType Basic
    AuthName "file"
    AuthBasicProvider file
    AuthUserFile "@DIR@/bench.htpasswd"
    Require valid-user
</Location>
<Location /anon>
    AuthType Basic
    AuthName "anon"
    AuthBasicProvider anon
    Anonymous anonymous
    Anonymous_NoUserID off
    Anonymous_MustGiveEmail off
    Anonymous_VerifyEmail off
    Require valid-user
</Location>
EOC
}

# mod_authn_dbd's table and mod_authn_file's file, each with alice's
# password, and mod_authz_dbd's, with alice in "readers"; returns the
# password.
sub setup {
    my ($env) = @_;
    my $sha = '{SHA}' . encode_base64(sha1($PASSWORD), '');
    $env->psql("CREATE TABLE bench_users (name text PRIMARY KEY, password text NOT NULL)");
    $env->psql("INSERT INTO bench_users VALUES ('alice', '$sha')");
    $env->psql("GRANT SELECT ON bench_users TO bbtoken_httpd");
    $env->psql("CREATE TABLE bench_groups (name text NOT NULL, grp text NOT NULL, PRIMARY KEY (name, grp))");
    $env->psql("INSERT INTO bench_groups VALUES ('alice', 'readers')");
    $env->psql("GRANT SELECT ON bench_groups TO bbtoken_httpd");
    my $file = $env->dir . '/bench.htpasswd';
    open my $h, '>', $file or die "$file: $!";
    print $h "alice:$sha\n";
    close $h or die "$file: $!";
    chmod 0644, $file;
    return $PASSWORD;
}

# The credential /anon takes.
sub anon {
    my ($env) = @_;
    return $env->basic('anonymous', 'bench');
}

1;
