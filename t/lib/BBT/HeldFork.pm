package BBT::HeldFork;

# The scene of the tests of a fork's second target while the one pooled
# connection is held (t/80-cache-dest-wait, t/80-cache-dest-503): one
# threaded child with one pooled connection, bitbucket-rest in front of a
# stand-in CGI, the metrics page, bob who administers PROJ and OTHER and
# forks PROJ/repo into OTHER, and carol whose new tokens' requests are the
# ones that hold the connection (BBT::Cache::hold_pooled_connection).
#
#   use BBT::HeldFork qw(held_fork_env fork_status $REPO);
#   my $env = held_fork_env(cache => 'on', wait => 3, threads => 4);

use strict;
use warnings;
use HTTP::Tiny;
use BBT::Env qw(auth_bearer);
use BBT::Util ();

use Exporter 'import';
our @EXPORT_OK = qw(held_fork_conf held_fork_env fork_status $REPO $INTO_OTHER);

our $REPO = '/rest/api/latest/projects/PROJ/repos/repo';
our $INTO_OTHER = '{"name":"f","project":{"key":"OTHER"}}';

# The configuration: BBTokenCache $o{cache}, BBTokenDBWait $o{wait}.  No
# statement_timeout: a held lookup waits as long as it is held.
sub held_fork_conf {
    my (%o) = @_;
    return "BBTokenCache $o{cache}\nBBTokenDBWait $o{wait}\n" . <<'EOC';
DBDMin 0
DBDKeep 1
DBDMax 1
ScriptAlias /rest/ "@DIR@/cgi-bin/env.cgi/"
<Location /rest>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes bitbucket-rest
    Require bbtoken
</Location>
<Location /metrics>
    SetHandler bbtoken-metrics
    Require all granted
</Location>
EOC
}

# The environment, started, with held_fork_conf(%o), one child of
# $o{threads} threads, and its users.
sub held_fork_env {
    my (%o) = @_;
    my $env = BBT::Env->new(extra_conf => held_fork_conf(%o), mpm_conf => BBT::Util::one_child_mpm($o{threads}),
                            dbd_options => '')->start;
    $env->make_repo('PROJ', 'repo');
    $env->user_add($_) for qw(bob carol);
    $env->grant('bob', 'PROJECT_ADMIN', $_) for qw(PROJ OTHER);
    $env->grant('carol', 'PROJECT_READ', 'PROJ');
    return $env;
}

# The fork of PROJ/repo into OTHER with token $tok: its status.
sub fork_status {
    my ($env, $tok) = @_;
    my $h = auth_bearer($tok);
    $h->{'Content-Type'} = 'application/json';
    return HTTP::Tiny->new(timeout => 120, keep_alive => 0)
        ->request('POST', $env->url($REPO), { headers => $h, content => $INTO_OTHER })->{status};
}

1;
