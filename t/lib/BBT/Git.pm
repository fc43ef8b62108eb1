package BBT::Git;

# The git part of BBT::Env: the real git client with a home of its own and
# nothing of the caller's environment, bare repositories that httpd serves,
# work trees, commits and clone URLs.
#
# Methods of the environment's object (BBT::Env inherits them).  They read
# its dir and the httpd part's port, and keep their own state in git_n.

use strict;
use warnings;
use Carp qw(confess);
use File::Path qw(make_path remove_tree);
use BBT::Util qw(run_cmd spew);
use BBT::Token qw(pct);

# dir/home/.gitconfig: the only git configuration the tests' git reads.
sub write_git_home {
    my ($self) = @_;
    my $h = "$self->{dir}/home";
    spew("$h/.gitconfig", <<'EOS', 0644);
[user]
	name = BBT Test
	email = bbt@example.invalid
[init]
	defaultBranch = main
[safe]
	directory = *
[advice]
	detachedHead = false
[protocol]
	version = 2
EOS
}

sub git_env {
    my ($self) = @_;
    return {
        HOME                => "$self->{dir}/home",
        XDG_CONFIG_HOME     => "$self->{dir}/home/.config",
        GIT_CONFIG_NOSYSTEM => 1,
        GIT_TERMINAL_PROMPT => 0,
        GIT_ASKPASS         => undef,
        SSH_ASKPASS         => undef,
        GIT_CONFIG_GLOBAL   => undef,
        GIT_DIR             => undef,
        GIT_WORK_TREE       => undef,
        http_proxy          => undef, https_proxy => undef, HTTP_PROXY => undef,
        no_proxy            => '127.0.0.1,localhost',
        LC_ALL              => 'C',
        GIT_TRACE           => undef, GIT_TRACE_CURL => undef, GIT_CURL_VERBOSE => undef,
    };
}

# git @args: (rc, stdout, stderr).  With {cwd => dir} as first arg, runs there.
sub git {
    my ($self, @args) = @_;
    my %o = ref $args[0] eq 'HASH' ? %{ shift @args } : ();
    return run_cmd(cmd => ['git', @args], env => $self->git_env, tmp => "$self->{dir}/run",
                   timeout => $o{timeout} || ($self->{http_timeout} || 0) + 60, cwd => $o{cwd});
}

sub git_ok {
    my ($self, @args) = @_;
    my ($rc, $out, $err) = $self->git(@args);
    confess "git @args failed ($rc): $err" if $rc;
    chomp $out;
    return $out;
}

# $env->git_is(NAME, WANT, @args): a Test::More check of one git run.  WANT
# is 1 (it succeeds), 0 (it fails) or a qr// (it fails, saying so on
# stderr).  @args as for git().  Returns whether the check passed.
sub git_is {
    my ($self, $name, $want, @args) = @_;
    require Test::More;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out, $err) = $self->git(@args);
    my $ok = ref $want ? ($rc != 0 && $err =~ $want) : $want ? $rc == 0 : $rc != 0;
    my @shown = grep { !ref } @args;
    Test::More::ok($ok, $name) or Test::More::diag("git @shown\nexit $rc, stderr:\n$err");
    return $ok;
}

# A fresh directory under work/ for a clone.
sub workdir {
    my ($self, $name) = @_;
    $self->{git_n}++;
    return "$self->{dir}/work/" . ($name || 'w') . ".$self->{git_n}";
}

# Create repos/KEY/slug.git (bare) with one commit on main, owned by the
# httpd user so pushes work.  Returns the path.
sub make_repo {
    my ($self, $key, $slug) = @_;
    my $bare = "$self->{dir}/repos/$key/$slug.git";
    make_path("$self->{dir}/repos/$key");
    chmod 0755, "$self->{dir}/repos/$key";
    my $scratch = "$self->{dir}/scratch/$key-$slug";
    make_path($scratch);
    spew("$scratch/README", "repository $key/$slug\n");
    # Committed straight into the bare repository from a work tree of
    # files (the suite makes some ninety: a clone and a push cost two git
    # runs more each).  It is left as a push would leave it: no index,
    # no COMMIT_EDITMSG, no reflog.
    my @into = ('-c', 'core.logAllRefUpdates=false', '--git-dir', $bare, '--work-tree', $scratch);
    $self->git_ok('init', '-q', '--bare', '-b', 'main', $bare);
    $self->git_ok(@into, 'add', 'README');
    $self->git_ok(@into, 'commit', '-q', '-m', "initial commit of $key/$slug");
    unlink "$bare/index", "$bare/COMMIT_EDITMSG";
    remove_tree($scratch);
    $self->give_to_httpd($bare);
    return $bare;
}

# Head commit of a branch in a bare repo (read straight from disk).
sub repo_head {
    my ($self, $key, $slug, $branch) = @_;
    my ($rc, $out) = $self->git('--git-dir', "$self->{dir}/repos/$key/$slug.git", 'rev-parse',
                                '--verify', '-q', "refs/heads/" . ($branch || 'main'));
    chomp $out;
    return $rc ? undef : $out;
}

# http://USER:TOKEN@host:port/scm/KEY/slug.git, the token percent-encoded.
sub clone_url {
    my ($self, $user, $token, $key, $slug, $prefix) = @_;
    my $auth = defined $user ? pct($user) . ':' . pct($token) . '@' : '';
    return "http://${auth}127.0.0.1:$self->{port}/" . ($prefix || 'scm') . "/$key/$slug.git";
}

# Make a commit in a work tree; returns its id.
sub commit_file {
    my ($self, $wt, $file, $content) = @_;
    spew("$wt/$file", $content);
    $self->git_ok({ cwd => $wt }, 'add', $file);
    $self->git_ok({ cwd => $wt }, 'commit', '-q', '-m', "change $file");
    return $self->git_ok({ cwd => $wt }, 'rev-parse', 'HEAD');
}

1;
