package BBT::Svn;

# Subversion behind the module, as the svn tests serve it: the gate at
# /svn (AuthType BBToken, the dav route set), each project a location of
# mod_dav_svn's under it, and repositories made with svnadmin.

use strict;
use warnings;
use Test::More;
use File::Path qw(make_path);
use BBT::Env qw(run_cmd);

use Exporter 'import';
our @EXPORT_OK = qw(svn_missing svn_conf svn_repo);

# Why the svn client and mod_dav_svn cannot be driven here, or undef;
# authz => 1: mod_authz_svn is needed too.
sub svn_missing {
    my (%o) = @_;
    my $moddir = $BBT::Env::MODDIR;
    return 'svn or svnadmin is not installed (build/deps.sh installs subversion)'
        unless -x '/usr/bin/svn' && -x '/usr/bin/svnadmin';
    return 'mod_dav_svn is not installed (build/deps.sh installs libapache2-mod-svn)'
        unless -f "$moddir/mod_dav_svn.so";
    return 'mod_authz_svn is not installed (build/deps.sh installs libapache2-mod-svn)'
        if $o{authz} && !-f "$moddir/mod_authz_svn.so";
    return undef;
}

# The configuration: the gate, then for each project (a name, or
# [name, directives...]) a parent path of mod_dav_svn's at /svn/NAME.
sub svn_conf {
    my (@projects) = @_;
    my $conf = <<'EOC';
<Location /svn>
    AuthType BBToken
    AuthName "Subversion"
    BBTokenRoutes dav /svn
    Require bbtoken
</Location>
EOC
    for my $p (@projects) {
        my ($name, @more) = ref $p ? @$p : ($p);
        $conf .= "<Location /svn/$name>\n    DAV svn\n    SVNParentPath \"\@DIR\@/svn/$name\"\n";
        $conf .= "    $_\n" for @more;
        $conf .= "</Location>\n";
    }
    return $conf;
}

# A repository NAME (default repo) of PROJECT, made with svnadmin: a test
# of its own.  The caller gives it to httpd (give_to_httpd) once filled.
sub svn_repo {
    my ($env, $project, $name) = @_;
    $name //= 'repo';
    my $dir = $env->dir . "/svn/$project";
    make_path($dir);
    my ($rc, undef, $err) = run_cmd(cmd => ['svnadmin', 'create', "$dir/$name"]);
    return is($rc, 0, "svnadmin create $project/$name") || diag $err;
}

1;
