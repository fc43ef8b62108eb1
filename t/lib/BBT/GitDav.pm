package BBT::GitDav;
# The git route set on a WebDAV location over the repositories' tree, as
# README's mod_dav configuration for git http-push has it: /dgit, mod_dav_fs
# with its lock database, beside git-http-backend at /scm on the same tree.
use strict;
use warnings;
use File::Path qw(make_path);
use BBT::Env;

my $CONF = <<'EOC';
DavLockDB "@DIR@/davlock/lockdb"
Alias /dgit "@DIR@/repos"
<Directory "@DIR@/repos">
    Options None
    AllowOverride None
    Require all granted
</Directory>
<Location /dgit>
    Dav On
    SetHandler default-handler
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /dgit
    Require bbtoken
</Location>
EOC

# A started BBT::Env with that location, its lock database's directory
# (httpd's to write) made.
# %o: before (configuration put before the location's), modules (more).
sub start {
    my (%o) = @_;
    my $env = BBT::Env->new(extra_conf => ($o{before} // '') . $CONF,
                            modules => [qw(dav dav_fs), @{ $o{modules} || [] }])->start;
    make_path($env->dir . '/davlock');
    $env->give_to_httpd($env->dir . '/davlock');
    return $env;
}

1;
