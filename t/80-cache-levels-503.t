# A token the cache answers whose owner's level on the target it has not
# has that level alone read from the database (BBT317, t/80-cache-levels):
# from the token's level map, the column levels of its lookup row
# (BBT322), or, for an owner with too many grants for a map, by a second
# statement (BBT320).  Either statement's failure is a database failure
# like any other: 503 with Retry-After, never 403 (the level unread taken
# for no level at all), and nothing kept: once the statement works again,
# the level is read again and the token let in.  A level of none kept
# from the failure would refuse the token there until the next change
# forgot it.
#
# The lookup reads the row's packed column alone.  The lookup role is left
# able to read that (and id) but not levels, so that the map's statement
# alone fails; or unable to read bbtoken_users, which the second statement
# alone reads.  A request the whole lookup answered instead (its entry not
# believed at that moment) proves nothing here and keeps the level on its
# target: another try is made on another project.  The error log says
# which statement failed, with the request, and never the token.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;
use BBT::Cache qw(log_since wait_log served_from_cache settle);
use BBT::Secrets qw(token_forms no_secrets_in);

my @TARGETS = map {"Q$_"} 1 .. 10;
my $env = BBT::Env->new->start;
$env->make_repo($_, 'repo') for 'PROJ', @TARGETS;
$env->user_add($_) for qw(alice many);
for my $u (qw(alice many)) {
    $env->grant($u, 'PROJECT_WRITE', $_) for 'PROJ', @TARGETS;
}
$env->psql("INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
           . " SELECT u.id, 'MANY', 'r' || g, 'REPO_READ' FROM bbtoken_users u,"
           . " generate_series(1, bbtoken_lookup_grants_max()) g WHERE u.name = 'many'");
is($env->psql("SELECT bbtoken_owner_level_map(u) IS NULL FROM bbtoken_users u WHERE name = 'many'"), 't',
   'many has too many grants for a level map');
my %secret;
my %tok;
for my $u (qw(alice many)) {
    $tok{$u} = [$env->token_create($u, name => "$u ci")];
    token_forms($u, $tok{$u}[0], \%secret);
}
sub up { return "/scm/$_[0]/repo.git/info/refs?service=git-upload-pack" }

ok(wait_log($env, 0, qr/BBT309: /), 'the listener hears PostgreSQL');
settle();

# $user's token, answered from the cache, on a target it has no level for
# while $break (SQL; $restore undoes it) is in force: 503, $said in the
# error log, and let in once restored.
sub level_unread {
    my ($name, $user, $break, $restore, $said) = @_;
    my ($tok, $id) = @{ $tok{$user} };
    my $asked = qr/BBT317: token \Q$id\E answered from the cache, its owner's level on the target not/;
    subtest $name => sub {
        ok(served_from_cache($env, up('PROJ'), auth_bearer($tok), $id), 'the token is answered from the cache');
        while (my $p = shift @TARGETS) {
            $env->psql($break);
            my $mark = log_mark($env->error_log_path);
            my $r = eval { $env->get(up($p), auth_bearer($tok)) };
            my $err = $@;
            $env->psql($restore);
            die $err unless $r;
            my $log = log_since($env, $mark);
            if ($log !~ $asked) {
                diag "$p: the token's entry not believed (status $r->{status}): another project";
                next;
            }
            is_503($r, "$p, the level unread");
            like($log, $said, '  the statement that failed, with the request') or diag $log;
            unlike($log, qr/\Q$id\E refused/, '  the token is not refused');
            $mark = log_mark($env->error_log_path);
            is_ok_res($env->get(up($p), auth_bearer($tok)), "$p, the statement working again: let in");
            # Read alone (BBT317), or with the whole row should the entry
            # not be believed then (BBT312): not a level the cache kept.
            like(log_since($env, $mark), qr/$asked|BBT312: token \Q$id\E /,
                 '  the level read again from the database: nothing was kept');
            return;
        }
        fail('a request answered from the cache met the failure');
    };
}

level_unread("the level map unread (alice's)", 'alice',
             'REVOKE SELECT ON bbtoken_lookup FROM bbtoken_httpd; '
             . 'GRANT SELECT (id, packed) ON bbtoken_lookup TO bbtoken_httpd',
             'GRANT SELECT ON bbtoken_lookup TO bbtoken_httpd',
             qr/\[client [^\]]+\] BBT322: the owner's level map failed: .*permission denied/);
level_unread("no level map, the owner's level unread (many's)", 'many',
             'REVOKE SELECT ON bbtoken_users FROM bbtoken_httpd',
             'GRANT SELECT ON bbtoken_users TO bbtoken_httpd',
             qr/\[client [^\]]+\] BBT320: the owner's level failed: .*permission denied/);

no_secrets_in('httpd error_log', $env->error_log_text, \%secret, 'no token');
is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
