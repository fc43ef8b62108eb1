# A personal project's tokens follow its owner, as everything in a personal
# project does in Bitbucket: a project token of ~alice and a repository
# token of ~alice/home are refused (401, "owner disabled") while alice is
# disabled or once she is deleted, through the cache as from the database,
# and work again when she is enabled; a token of an ordinary project is
# stopped by nobody.  Deleting or renaming the owner revokes them and
# removes other users' grants on the project and its repositories (each
# audited as ungranted), so a new user given the name never inherits
# them, nor shares the project with the grantees, and no token is made for
# the personal project of a user who does not exist, nor a grant on it,
# even while the user is being deleted.  Its settings' row
# (bbtoken_projects) goes with the owner, or follows a rename.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use BBT::Env qw(parse_token);
use BBT::Assert;
use BBT::Cache qw(until_status);

my $env = BBT::Env->new->start;
$env->make_repo('~alice', 'home');
$env->make_repo('PROJ', 'one');
$env->user_add('alice');

sub scope_token {
    my ($opt, $what, $name) = @_;
    my $out = $env->cli_ok('create', $opt, $what, '--name', $name);
    chomp $out;
    my $p = parse_token($out) or die "no token printed: $out";
    return ($out, $p->{id});
}

# Asks until the token is refused for being revoked (the cache may answer
# from what it knew for its bound); letting it in once is a failure.
sub refused_as_revoked {
    my ($path, $token, $id) = @_;
    my $deadline = time + $BBT::Cache::LIMIT;
    while (time < $deadline) {
        my $mark = log_mark($env->error_log_path);
        my $st = $env->get($path, { Authorization => $env->bearer($token) })->{status};
        if ($st != 401) {
            diag "token $id: $st";
            return 0;
        }
        return 1 if join("\n", log_lines_since($env->error_log_path, $mark)) =~ /\Q$id\E refused: token revoked/;
        sleep 0.02;
    }
    diag "token $id: never refused as revoked";
    return 0;
}

my ($pt, $pt_id) = scope_token('--project', '~alice', 'home ci');
my ($rt, $rt_id) = scope_token('--repo', '~alice/home', 'home deploy');
my ($ot) = scope_token('--project', 'PROJ', 'proj ci');
my $home = '/scm/~alice/home.git/info/refs?service=git-upload-pack';
my $one = '/scm/PROJ/one.git/info/refs?service=git-upload-pack';

for my $c (['project', $pt], ['repository', $rt]) {
    is($env->get($home, { Authorization => $env->bearer($c->[1]) })->{status}, 200,
       "the $c->[0] token of ~alice reads ~alice/home");
}

$env->cli_ok('user', 'disable', 'alice');
for my $c (['project', $pt, $pt_id], ['repository', $rt, $rt_id]) {
    my $mark = log_mark($env->error_log_path);
    my ($ok, $n, $seen) = until_status($env, $home, { Authorization => $env->bearer($c->[1]) }, 401);
    ok($ok, "alice disabled: the $c->[0] token of ~alice is refused") or diag $seen;
    like(join("\n", log_lines_since($env->error_log_path, $mark)), qr/\Q$c->[2]\E.*owner disabled/,
         '  the log says why');
    is_401($env->get($home, { Authorization => $env->basic('x-token-auth', $c->[1]) }), 1,
           '  in Basic too');
    # Until the refusal is kept and believed: the listener must have heard
    # the disabling first, which takes its own time.
    my $from_cache = 0;
    my $deadline = time + $BBT::Cache::LIMIT;
    while (time < $deadline) {
        $mark = log_mark($env->error_log_path);
        my $st = $env->get($home, { Authorization => $env->bearer($c->[1]) })->{status};
        last if $st != 401;
        $from_cache = join("\n", log_lines_since($env->error_log_path, $mark))
            =~ /\Q$c->[2]\E refused: owner disabled \(from the cache\)/ and last;
        sleep 0.05;
    }
    ok($from_cache, '  refused from the cache too');
}
is($env->get($one, { Authorization => $env->bearer($ot) })->{status}, 200,
   'a token of an ordinary project is not stopped');

$env->cli_ok('user', 'enable', 'alice');
my ($ok, $n, $seen) = until_status($env, $home, { Authorization => $env->bearer($pt) }, 200);
ok($ok, 'alice enabled: the project token works again') or diag $seen;

$env->psql("DELETE FROM bbtoken_users WHERE name = 'alice'");
for my $c (['project', $pt], ['repository', $rt]) {
    ($ok, $n, $seen) = until_status($env, $home, { Authorization => $env->bearer($c->[1]) }, 401);
    ok($ok, "alice deleted: the $c->[0] token of ~alice is refused") or diag $seen;
}
is($env->get($one, { Authorization => $env->bearer($ot) })->{status}, 200,
   'the ordinary project\'s token still works');

# A new person given the name is not the old owner: ~alice's tokens were
# revoked with her row, in the same transaction, and stay revoked.
$env->user_add('alice');
my ($nt) = scope_token('--project', '~alice', 'new home ci');
($ok, $n, $seen) = until_status($env, $home, { Authorization => $env->bearer($nt) }, 200);
ok($ok, 'a new alice: a token of ~alice made now works') or diag $seen;
for my $c (['project', $pt, $pt_id], ['repository', $rt, $rt_id]) {
    ok(refused_as_revoked($home, @$c[1, 2]), "a new alice: the old $c->[0] token of ~alice is refused, as revoked");
}
is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id IN ('$pt_id', '$rt_id') AND revoked_at IS NOT NULL"),
   2, '  both are revoked in the database');

# Renamed: Bitbucket moves a personal project with its owner (~carol becomes
# ~dave), and a new carol gets a new, empty ~carol.  Here a token is held by
# its key, not by a project's identity, and the repositories stay where they
# are on disk: the rename revokes ~carol's tokens, so neither the new carol
# nor dave's ~dave reaches anything with them.
$env->make_repo('~carol', 'home');
$env->make_repo('~dave', 'home');
$env->user_add('carol');
my ($ct, $ct_id) = scope_token('--project', '~carol', 'carol ci');
my ($crt, $crt_id) = scope_token('--repo', '~carol/home', 'carol deploy');
my $chome = '/scm/~carol/home.git/info/refs?service=git-upload-pack';
my $dhome = '/scm/~dave/home.git/info/refs?service=git-upload-pack';
is($env->get($chome, { Authorization => $env->bearer($ct) })->{status}, 200, 'the token of ~carol reads ~carol/home');
$env->psql("UPDATE bbtoken_users SET name = 'Carol' WHERE name = 'carol'");
is($env->get($chome, { Authorization => $env->bearer($ct) })->{status}, 200,
   'carol renamed Carol (the same name in another case): her project\'s token still works');
is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id IN ('$ct_id', '$crt_id') AND revoked_at IS NULL"),
   2, '  and neither is revoked');
$env->psql("UPDATE bbtoken_users SET name = 'dave' WHERE name = 'Carol'");
for my $c (['project', $ct], ['repository', $crt]) {
    ($ok, $n, $seen) = until_status($env, $chome, { Authorization => $env->bearer($c->[1]) }, 401);
    ok($ok, "carol renamed dave: the $c->[0] token of ~carol is refused") or diag $seen;
}
$env->user_add('carol');
my ($nct) = scope_token('--project', '~carol', 'new carol ci');
($ok, $n, $seen) = until_status($env, $chome, { Authorization => $env->bearer($nct) }, 200);
ok($ok, 'a new carol: a token of ~carol made now works') or diag $seen;
for my $c (['project', $ct, $ct_id], ['repository', $crt, $crt_id]) {
    ok(refused_as_revoked($chome, @$c[1, 2]), "a new carol: the old $c->[0] token of ~carol is refused, as revoked");
    ok(refused_as_revoked($dhome, @$c[1, 2]), '  and on ~dave/home');
}

# Other users' grants on a personal project go with its owner too: bob's
# grant on the old erin's project must not open the new erin's to him.  A
# rename takes them the same way (frank to gina).
$env->make_repo('~erin', 'home');
$env->make_repo('~frank', 'home');
$env->user_add($_) for qw(erin frank bob);
$env->cli_ok('grant', 'bob', 'PROJECT_READ', '~erin');
$env->cli_ok('grant', 'bob', 'REPO_WRITE', '~erin/home');
$env->cli_ok('grant', 'bob', 'REPO_READ', '~frank/home');
$env->cli_ok('grant', 'bob', 'PROJECT_READ', 'PROJ');
my $bob = $env->cli_ok('create', 'bob', '--name', 'bob laptop');
chomp $bob;
my $ehome = '/scm/~erin/home.git/info/refs?service=git-upload-pack';
my $fhome = '/scm/~frank/home.git/info/refs?service=git-upload-pack';
for my $p ($ehome, $fhome, $one) {
    is($env->get($p, { Authorization => $env->bearer($bob) })->{status}, 200, "bob's token reads $p");
}
$env->psql("DELETE FROM bbtoken_users WHERE name = 'erin'");
$env->psql("UPDATE bbtoken_users SET name = 'gina' WHERE name = 'frank'");
# Taken by the deletion and the rename themselves, the repositories'
# grants with the project's, each audited as ungranted: the arrival of a
# new erin or frank clears what is left too (version 53), so the checks
# after it cannot tell which did.
is($env->psql("SELECT count(*) FROM bbtoken_project_grants WHERE project_key IN ('~erin', '~frank')"), 0,
   'erin deleted, frank renamed: no project grant on ~erin or ~frank is left');
is($env->psql("SELECT count(*) FROM bbtoken_repo_grants WHERE project_key IN ('~erin', '~frank')"), 0,
   '  nor a repository grant on their repositories');
is($env->psql("SELECT string_agg(detail, ', ' ORDER BY detail) FROM bbtoken_audit"
              . " WHERE event = 'ungranted' AND user_name = 'bob'"),
   'PROJECT_READ on ~erin, REPO_READ on ~frank/home, REPO_WRITE on ~erin/home', '  each audited as ungranted');
$env->user_add('erin');
$env->user_add('frank');
for my $p ($ehome, $fhome) {
    ($ok, $n, $seen) = until_status($env, $p, { Authorization => $env->bearer($bob) }, 403);
    ok($ok, "erin deleted and frank renamed, both names given anew: bob's token is refused on $p") or diag $seen;
}
is($env->get($one, { Authorization => $env->bearer($bob) })->{status}, 200, '  his grant on PROJ is kept');
is($env->psql("SELECT count(*) FROM bbtoken_project_grants WHERE project_key IN ('~erin', '~frank')")
       + $env->psql("SELECT count(*) FROM bbtoken_repo_grants WHERE project_key IN ('~erin', '~frank')"),
   0, '  no grant on ~erin or ~frank is left');
is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'ungranted' AND user_name = 'bob'"), 3,
   '  and no removal audited twice');

# Only an existing user's personal project may hold a token: one made for
# ~nobody would otherwise wait for whoever is given the name.
my ($rc, $out, $err) = $env->cli('create', '--project', '~nobody', '--name', 'early');
ok($rc == 1 && $err =~ /personal project ~nobody has no user/, 'a token of ~nobody (no such user): refused')
    or diag "exit $rc: $out$err";
($rc, $out, $err) = $env->cli('create', '--repo', '~nobody/x', '--name', 'early');
ok($rc == 1 && $err =~ /personal project ~nobody has no user/, 'a token of ~nobody/x: refused')
    or diag "exit $rc: $out$err";

# Nor a grant: bob's grant on ~nemo would open the project of whoever is
# given the name later.
sub personal_grants {
    my ($key) = @_;
    return $env->psql("SELECT count(*) FROM bbtoken_project_grants WHERE project_key = '$key'")
        + $env->psql("SELECT count(*) FROM bbtoken_repo_grants WHERE project_key = '$key'");
}
($rc, $out, $err) = $env->cli('grant', 'bob', 'PROJECT_READ', '~nemo');
ok($rc == 1 && $err =~ /personal project ~nemo has no user/, 'a grant on ~nemo (no such user): refused')
    or diag "exit $rc: $out$err";
($rc, $out, $err) = $env->cli('grant', 'bob', 'REPO_WRITE', '~nemo/home');
ok($rc == 1 && $err =~ /personal project ~nemo has no user/, 'a grant on ~nemo/home: refused')
    or diag "exit $rc: $out$err";
is(personal_grants('~nemo'), 0, '  none stored');
$env->make_repo('~nemo', 'home');
$env->user_add('nemo');
is($env->get('/scm/~nemo/home.git/info/refs?service=git-upload-pack', { Authorization => $env->bearer($bob) })
       ->{status}, 403, "  a user nemo made now: bob's token reads nothing of ~nemo");

# A grant while its owner is deleted, in either order: the one that waits
# sees the other.  The deletion first: the grant waits for it, then finds no
# owner.
$env->user_add($_) for qw(kate lena);
my $del = $env->pg_session('del-kate');
$del->send("BEGIN; DELETE FROM bbtoken_users WHERE name = 'kate';");
ok($del->done, 'kate deleted, not committed');
my $wait = $env->cli_bg('grant-kate', {}, 'grant', 'bob', 'PROJECT_READ', '~kate');
ok($env->pg_wait_backend('bbt-grant-kate', "wait_event_type = 'Lock'"), '  a grant on ~kate waits for it');
$del->send('COMMIT;');
ok($del->done, '  the deletion committed');
$del->finish;
($rc, $out, $err) = $wait->();
ok($rc == 1 && $err =~ /personal project ~kate has no user/, '  the grant is refused: no owner')
    or diag "exit $rc: $out$err";
$env->user_add('kate');
is(personal_grants('~kate'), 0, '  a new kate: no grant of bob on ~kate');
# The grant first: the deletion waits for it, then removes it.
my $g = $env->pg_session('grant-lena');
$g->send("BEGIN; INSERT INTO bbtoken_project_grants (user_id, project_key, permission)"
         . " SELECT id, '~lena', 'PROJECT_READ' FROM bbtoken_users WHERE name = 'bob';");
ok($g->done, 'a grant of bob on ~lena, not committed');
$del = $env->pg_session('del-lena');
$del->send("DELETE FROM bbtoken_users WHERE name = 'lena';");
ok($env->pg_wait_backend('bbt-del-lena', "wait_event_type = 'Lock'"), '  lena\'s deletion waits for it');
$g->send('COMMIT;');
ok($g->done, '  the grant committed');
$g->finish;
ok($del->done, '  the deletion done');
$del->finish;
$env->user_add('lena');
is(personal_grants('~lena'), 0, '  a new lena: the grant went with the old one');

# A personal project's settings (who manages its repositories' tokens) go
# with its owner as well: a new hank starts with the default, not with what
# the old hank chose; a renamed ivan takes his to ~jack.  None is kept for
# ~nobody, to wait for whoever is given the name.
$env->user_add($_) for qw(hank ivan);
$env->cli_ok('project', "~$_", '--repo-admins-manage-tokens', 'no') for qw(hank ivan);
like($env->cli_ok('project', '~hank'), qr/^repo-admins-manage-tokens: no$/m, 'control: ~hank says no');
$env->psql("DELETE FROM bbtoken_users WHERE name = 'hank'");
is($env->psql("SELECT count(*) FROM bbtoken_projects WHERE project_key = '~hank'"), 0,
   "hank deleted: ~hank's settings are gone with him");
like($env->psql("SELECT detail FROM bbtoken_audit WHERE event = 'project_changed' AND user_name = 'project:~hank'"
                . " ORDER BY id DESC LIMIT 1"),
     qr/^repository admins may manage repository tokens$/, '  audited, back to the default');
$env->user_add('hank');
like($env->cli_ok('project', '~hank'), qr/^repo-admins-manage-tokens: yes$/m,
     '  a new hank starts with the default');
$env->psql("UPDATE bbtoken_users SET name = 'jack' WHERE name = 'ivan'");
like($env->cli_ok('project', '~jack'), qr/^repo-admins-manage-tokens: no$/m, 'ivan renamed jack: ~jack says no');
is($env->psql("SELECT string_agg(project_key, ',') FROM bbtoken_projects WHERE project_key IN ('~ivan', '~jack')"),
   '~jack', "  ivan's row moved to ~jack, none left for ~ivan");
$env->user_add('ivan');
like($env->cli_ok('project', '~ivan'), qr/^repo-admins-manage-tokens: yes$/m, '  a new ivan starts with the default');
($rc, $out, $err) = $env->cli('project', '~nobody', '--repo-admins-manage-tokens', 'no');
ok($rc == 1 && $err =~ /personal project ~nobody has no user/, 'settings for ~nobody (no such user): refused')
    or diag "exit $rc: $out$err";
is($env->psql("SELECT count(*) FROM bbtoken_projects WHERE project_key = '~nobody'"), 0, '  and none stored');

# A user deleted where the ordinary triggers do not fire (a hand edit
# under session_replication_role = replica, a logical replica's apply)
# leaves ~name's tokens, others' grants on it and its settings; the next
# user given the name, added or renamed to it, starts with none of them.
$env->user_add($_, '--email', "$_\@example.com") for qw(mona nils olga);
$env->make_repo("~$_", 'home') for qw(mona nils);
$env->cli_ok('project', "~$_", '--repo-admins-manage-tokens', 'no') for qw(mona nils olga);
my %left;
for my $who (qw(mona nils)) {
    my ($tok, $id) = scope_token('--project', "~$who", "$who ci");
    $env->cli_ok('grant', 'bob', 'PROJECT_READ', "~$who");
    $left{$who} = [$tok, $id];
    $env->psql("SET session_replication_role = replica; DELETE FROM bbtoken_users WHERE name = '$who'");
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id = '$id' AND revoked_at IS NULL"), 1,
       "${who} deleted under replica: ~${who}'s token is left live (control)");
}
$env->user_add('mona', '--email', 'mona2@example.com');
$env->psql("UPDATE bbtoken_users SET name = 'nils' WHERE name = 'olga'");
my ($nrc, $nout, $nerr) = $env->cli('notify', '--dry-run', '--from', 'tokens@git.example.com', '--sendmail', '/bin/true');
is($nrc, 0, 'notify --dry-run') or diag $nerr;
unlike($nout, qr/mona2\@example\.com|olga\@example\.com/, '  mails neither new holder of a name about the old one\'s tokens')
    or diag $nout;
for my $who (qw(mona nils)) {
    my ($tok, $id) = @{ $left{$who} };
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE id = '$id' AND revoked_at IS NOT NULL"), 1,
       "a new $who: the old ~$who token is revoked");
    my ($ok, $n, $seen) = until_status($env, "/scm/~$who/home.git/info/refs?service=git-upload-pack",
                                       { Authorization => $env->bearer($tok) }, 401);
    ok($ok, '  and refused') or diag $seen;
    is(personal_grants("~$who"), 0, "  bob's grant on ~$who is gone");
    my $settings = $who eq 'nils' ? 'no' : 'yes';
    like($env->cli_ok('project', "~$who"), qr/^repo-admins-manage-tokens: $settings$/m,
         $who eq 'nils' ? "  olga's own settings came with her" : '  the settings are the default');
}
is($env->psql("SELECT count(*) FROM bbtoken_projects WHERE project_key = '~olga'"), 0, "  none left for ~olga");
is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'revoked' AND token_id IN ('$left{mona}[1]', '$left{nils}[1]')"),
   2, '  both revocations audited');

# Adding a user takes the grantees of the leftover grants before the
# grants, as a deletion of a grantee does (its row, then its grants):
# the other way round the two deadlock.
$env->user_add($_) for qw(pete quin);
$env->cli_ok('grant', 'pete', 'PROJECT_READ', '~quin');
$env->psql("SET session_replication_role = replica; DELETE FROM bbtoken_users WHERE name = 'quin'");
$del = $env->pg_session('del-pete');
$del->send("BEGIN; SELECT 1 FROM bbtoken_users WHERE name = 'pete' FOR UPDATE;");
ok($del->done, 'a deletion of pete holds his row');
my $add = $env->pg_session('add-quin');
$add->send("INSERT INTO bbtoken_users (name) VALUES ('quin');");
ok($add->blocked, '  a new quin waits for it');
$del->send("DELETE FROM bbtoken_users WHERE name = 'pete'; COMMIT;");
$del->settled;
$add->settled;
my $said = $add->finish . $del->finish;
unlike($said, qr/deadlock detected/, '  neither deadlocks') or diag $said;
is($env->psql("SELECT count(*) FROM bbtoken_users WHERE name IN ('quin', 'pete')"), 1,
   '  quin added, pete deleted');
$env->psql("UPDATE bbtoken_users SET name = 'Quin' WHERE name = 'quin'");
$env->cli_ok('project', '~quin', '--repo-admins-manage-tokens', 'no');
$env->psql("UPDATE bbtoken_users SET name = 'quin' WHERE name = 'Quin'");
like($env->cli_ok('project', '~quin'), qr/^repo-admins-manage-tokens: no$/m, 'a rename in case only keeps the settings');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
