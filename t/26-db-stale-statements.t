#!/usr/bin/perl
# A pooled connection prepares the module's statements on first use.  The
# backend it lands on may have them already, made where its memo cannot
# know: a session-pooling proxy (PgBouncer, pool_mode=session) with
# server_reset_query emptied gives a new client a server connection that an
# earlier client (httpd before a restart, another module) left its
# statements on.  PostgreSQL then answers "prepared statement ... already
# exists", and a module that only prepares would answer 503 on every
# request that connection ever serves.  The module drops the statement of
# its own name and prepares it again: every request is answered, by the
# statement as this module wrote it (the stale one is a bare SELECT).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::PgBouncer;
use BBT::Util qw(slurp one_child_mpm);

plan skip_all => BBT::PgBouncer::missing() if BBT::PgBouncer::missing();

# The statements' names, as the module's source spells them.
my @labels = slurp("$BBT::Util::ROOT/mod_bbtoken/bbt_dblookup.c") =~ /"(bbtoken_\w+_v\d+)"/g;
ok(scalar(@labels) >= 3, "the module's statements: @labels");

my $a = BBT::Env->new(httpd => 0)->start;
my $pgb = BBT::PgBouncer->start($a, pool_mode => 'session', server_reset_query => '', default_pool_size => 2);
my $pport = $pgb->port;
ok($pgb->listening, 'PgBouncer listens');

# Both of the pool's server connections, held at once by two clients, are
# left with a statement of each of the module's names.
my $seed = join '', map { "PREPARE $_ AS SELECT 1;\n" } @labels;
my @kids;
for (1 .. 2) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        exec("$BBT::Env::PGBIN/psql", '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $pport,
             '-U', 'bbtoken_httpd', '-d', 'bbtoken', '-c', $seed, '-c', 'SELECT pg_sleep(1)') or die "psql: $!";
    }
    push @kids, $pid;
}
for (@kids) { waitpid $_, 0; is($?, 0, 'a client leaves the statements on its server connection') }
sub server_pids {
    return join ' ', sort split /\n/, $a->psql("SELECT pid FROM pg_stat_activity WHERE usename = 'bbtoken_httpd'"
                                              . " AND backend_type = 'client backend'");
}
my $seeded = server_pids();
is(scalar(split / /, $seeded), 2, '  both server connections stay, with them');

my $b = BBT::Env->new(pg_from => $a, dbd_ports => [$pport], dbd_options => '',
                      mpm_conf => one_child_mpm(2),
                      extra_conf => "BBTokenCache off\nDBDMin 1\nDBDKeep 1\nDBDMax 1\n")->start;
$b->make_repo('PROJ', 'repo');
$b->make_repo('~alice', 'home');
$a->user_add('alice');
$a->user_add('many');
$a->grant('many', 'PROJECT_WRITE', 'PROJ');
# All three statements run: the lookup; the owner's level, for an owner
# with one grant more than the lookup's level map holds; a personal
# project's owner, for a project token of ~alice.
my ($mt) = $a->token_create('many', name => 'many', perms => ['REPO_WRITE']);
my $max = $a->psql('SELECT bbtoken_lookup_grants_max()');
$a->psql("INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
         . " SELECT u.id, 'PROJ', 'r' || g, 'REPO_READ' FROM bbtoken_users u, generate_series(1, $max) g"
         . " WHERE u.name = 'many'");
my $pt = $a->scoped_token_create('--project', '~alice', name => 'home ci');

my @st;
for (1 .. 3) {
    push @st, $b->get('/scm/PROJ/repo.git/info/refs?service=git-receive-pack', auth_bearer($mt))->{status},
        $b->get('/scm/~alice/home.git/info/refs?service=git-upload-pack', auth_bearer($pt))->{status};
}
is("@st", '200 200 200 200 200 200', 'every request is answered (each statement prepared again)');
my $log = $b->error_log_text;
unlike($log, qr/BBT072/, 'no statement is refused (BBT072)');
is(server_pids(), $seeded, '  on the server connections the clients left them on');

$b->httpd_stop;
done_testing;
