# "A database connection is used only for the query, never held for the
# length of a request: a long clone must not pin one."
#
# One httpd child, a mod_dbd pool of exactly one connection (DBDMax 1), and
# a CGI that holds its request until the test lets it go.  While one such
# request is held, a second request that needs the database must be
# answered: nothing is timed, only the order of events.
#
# Control: mod_authn_dbd does pin its connection (ap_dbd_acquire holds it
# until the request ends).  Behind it, the same second request is not
# answered until the first one is let go, which shows that this test can
# tell the two apart.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha1_base64);
use File::Path qw(make_path remove_tree);
use Time::HiRes qw(sleep);
use BBT::Env;
use BBT::Assert;

my $pw_hash = '{SHA}' . sha1_base64('password') . '=';
my $env = BBT::Env->new(
    modules  => [qw(auth_basic authn_dbd authz_user)],
    mpm_conf => BBT::Util::one_child_mpm(8),
    extra_conf => <<"EOC",
# Off, so that every request with the token really needs the database.
BBTokenCache off
DBDMin 0
DBDKeep 1
DBDMax 1

# Control: plain Basic auth through mod_authn_dbd, which holds its
# connection until the request ends.
ScriptAlias /pinned/ "\@DIR\@/cgi-bin/env.cgi/"
<Location /pinned>
    AuthType Basic
    AuthName "control"
    AuthBasicProvider dbd
    AuthDBDUserPWQuery "SELECT '$pw_hash' WHERE %s IS NOT NULL"
    Require valid-user
</Location>
EOC
)->start;

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->make_repo('PROJ', 'repo');
my $tok = $env->token_create('alice', name => 'pin');
my $fast = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $auth = { Authorization => "Bearer $tok" };

is_ok_res($env->get($fast, $auth), 'control: a fast request');
is_ok_res($env->get('/pinned/x', { Authorization => $env->basic('alice', 'password') }),
          'control: mod_authn_dbd location works');

my $gate = $env->dir . '/gate';

# Run one GET in the background; its status lands in $file.
sub get_bg {
    my ($path, $hdr, $file) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $r = HTTP::Tiny->new(timeout => 90, keep_alive => 0)->get($env->url($path), { headers => $hdr });
        BBT::Env::spew($file, $r->{status});
        POSIX::_exit(0);
    }
    return $pid;
}

sub wait_for {
    my ($cond, $limit) = @_;
    for (1 .. $limit * 10) {
        return 1 if $cond->();
        sleep 0.1;
    }
    return $cond->();
}

# Hold a request on $path in the CGI; while it is held, ask for a token
# request that needs the database and wait up to $limit seconds for its
# answer.  Then let the held one go.  Returns whether the second request
# was answered while the first was held, its status, and the first's.
sub while_held {
    my ($path, $hdr, $limit) = @_;
    remove_tree($gate);
    make_path($gate);
    $env->give_to_httpd($gate);
    my $held = get_bg($path, $hdr, "$gate/../held.status");
    ok(wait_for(sub { scalar glob("$gate/started.*") }, 60), "the request on $path is held in the CGI");
    my $second = get_bg($fast, $auth, "$gate/../second.status");
    my $answered = wait_for(sub { -s "$gate/../second.status" }, $limit);
    BBT::Env::spew("$gate/open", '');
    waitpid($_, 0) for $held, $second;
    my ($s1, $s2) = map { BBT::Env::slurp("$gate/../$_.status") } qw(held second);
    unlink map { "$gate/../$_.status" } qw(held second);
    return ($answered, $s2, $s1);
}

# The control waits a little for what must not come; the module's case
# waits long for what must.
my ($answered, $st, $held_st) = while_held('/pinned/slow', { Authorization => $env->basic('alice', 'password') }, 3);
ok(!$answered, 'control: behind mod_authn_dbd\'s pinned connection, the second request waits');
is($st, 200, 'control: and is answered once the first one is let go');
is($held_st, 200, 'control: the held mod_authn_dbd request succeeded');

($answered, $st, $held_st) = while_held('/env/PROJ/slow.git/info/refs?service=git-upload-pack', $auth, 60);
ok($answered, 'mod_bbtoken does not pin its connection: the second request is answered while the first is held');
is($st, 200, 'with 200');
is($held_st, 200, 'the held request through mod_bbtoken succeeded');

done_testing;
