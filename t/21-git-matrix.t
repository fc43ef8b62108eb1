# The seed's permission table, row by row, with a real git client: each of
# the six combinations a token may hold clones ("Pull and clone
# repositories"), and pushes exactly when its repository level is write or
# admin ("Push, pull, and clone repositories"); the project level adds
# nothing to git.  The owner is a project admin, so the token's own level is
# what decides; then the same full token of an owner who may only read
# pushes nothing (the owner's live access is the ceiling).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Assert;

my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_ADMIN', 'PROJ');
$env->user_add('bob');
$env->grant('bob', 'PROJECT_READ', 'PROJ');

# project level, repository level, whether git may push.
my @table = (
    ['PROJECT_READ',  'REPO_READ',  0],
    ['PROJECT_READ',  'REPO_WRITE', 1],
    ['PROJECT_READ',  'REPO_ADMIN', 1],
    ['PROJECT_WRITE', 'REPO_WRITE', 1],
    ['PROJECT_WRITE', 'REPO_ADMIN', 1],
    ['PROJECT_ADMIN', 'REPO_ADMIN', 1],
);

# Clone with the token in the URL (Basic), then push one commit as it.
sub clone_and_push {
    my ($user, $tok, $label, $may_push) = @_;
    my $url = $env->clone_url($user, $tok, 'PROJ', 'repo');
    my $w = $env->workdir('matrix');
    $env->git_is("$label: clone", 1, 'clone', '-q', $url, $w) or return;
    ok(-f "$w/README", "$label: the clone has the README");
    my $before = $env->repo_head('PROJ', 'repo');
    (my $file = "$label.txt") =~ s/[^A-Za-z0-9.]+/-/g;
    my $c = $env->commit_file($w, $file, "pushed by $label\n");
    if ($may_push) {
        $env->git_is("$label: push", 1, { cwd => $w }, 'push', '-q', 'origin', 'main') or return;
        is($env->repo_head('PROJ', 'repo'), $c, "$label: the push reached the repository");
    } else {
        $env->git_is("$label: push refused with 403", qr/\b403\b/, { cwd => $w }, 'push', '-q', 'origin', 'main');
        is($env->repo_head('PROJ', 'repo'), $before, "$label: the repository is unchanged");
    }
}

for my $row (@table) {
    my ($p, $r, $push) = @$row;
    my $label = "$p $r";
    subtest $label => sub {
        my ($tok, $id) = $env->token_create('alice', name => $label, perms => [$p, $r]);
        is(join(' ', @{ $env->token_row($id) }{qw(project_perm repo_perm)}), $label, 'the token holds it');
        clone_and_push('alice', $tok, $label, $push);
    };
}

subtest 'the owner\'s live access caps the token: a full token of a reader' => sub {
    my ($tok, $id) = $env->token_create('bob', name => 'full');
    is(join(' ', @{ $env->token_row($id) }{qw(project_perm repo_perm)}), 'PROJECT_ADMIN REPO_ADMIN',
       'the token holds the full level');
    clone_and_push('bob', $tok, 'bob full', 0);
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
