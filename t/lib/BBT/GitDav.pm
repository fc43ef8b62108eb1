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
# %o: before (configuration put before the location's), after (after it:
# a <Location> inside /dgit that has the last word), modules (more).
sub start {
    my (%o) = @_;
    my $env = BBT::Env->new(extra_conf => ($o{before} // '') . $CONF . ($o{after} // ''),
                            modules => [qw(dav dav_fs), @{ $o{modules} || [] }])->start;
    make_path($env->dir . '/davlock');
    $env->give_to_httpd($env->dir . '/davlock');
    return $env;
}

# $env->commit_file's commit of $file, made again (trailing newlines added
# to $content) until the objects a push will send each lie in a directory
# of objects/ of their own.  git http-push makes a missing objects/xx/ for
# each object it sends, several requests at once: two objects of one new
# directory race, and mod_dav_fs answers the slower MKCOL 403 (mkdir's
# EEXIST; 405 would be "exists"), which git takes for a refusal and
# aborts the push.  That is git's and mod_dav_fs's, not the module's; a
# test of the module's routes must not fail on it now and then.
sub commit_to_push {
    my ($env, $wt, $file, $content) = @_;
    for my $k (0 .. 200) {
        my $c = $env->commit_file($wt, $file, $content . ("\n" x $k));
        my %dir;
        $dir{ substr($_, 0, 2) }++
            for map { /^([0-9a-f]{40})/ ? $1 : () }
            split /\n/, $env->git_ok({ cwd => $wt }, 'rev-list', '--objects', 'HEAD', '--not', '--remotes');
        return $c unless grep { $_ > 1 } values %dir;
        $env->git_ok({ cwd => $wt }, 'reset', '-q', '--hard', 'HEAD~1');
    }
    die "no commit of $file whose objects lie in directories of their own\n";
}

1;
