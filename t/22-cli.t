# The bbtoken CLI against a real database: every subcommand's success and
# failure (exit 0 / 1 with one line on stderr / 2 for bad usage), --help
# everywhere, the permission rules, what create stores, list and list
# --json, and the database enforcing the same invariants on its own.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use JSON::PP;
use Encode ();
use BBT::Env qw(parse_token);
use BBT::Assert;
use BBT::Cache qw(settle);

my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $RP = '/scm/PROJ/repo.git/info/refs?service=git-receive-pack';

sub user_row {
    my ($name) = @_;
    my $r = $env->psql("SELECT id, name, active, is_admin FROM bbtoken_users WHERE lower(name) = lower('$name')",
                       sep => "\t");
    return undef if $r eq '';
    my %h;
    @h{qw(id name active is_admin)} = split /\t/, $r;
    return \%h;
}
sub count_tokens { $env->psql('SELECT count(*) FROM bbtoken_tokens') }

my $dead_db = 'host=127.0.0.1 port=' . BBT::Env::free_port() . ' dbname=bbtoken user=postgres connect_timeout=2';

# A command that lacks an operand it needs shows its usage too, but exits
# 2: the --help may be a value a script passed on for that operand.
subtest '--help everywhere: usage on stdout, no database needed' => sub {
    my @cmds = ([], ['user'], ['user', 'add', 'x'], ['user', 'disable', 'x'], ['user', 'enable', 'x'],
                ['grant', 'x', 'REPO_READ', 'P/r'], ['ungrant', 'x', 'P'], ['create', 'x'],
                ['create', '--project', 'P'], ['list', 'x'], ['list', '--all'], ['update', '123456789012'],
                ['revoke', '123456789012'], ['revoke', '--user', 'x'], ['project', 'P'], ['audit']);
    for my $c (@cmds) {
        for my $h ('--help', ($c->[0] ? () : ('-h'))) {
            my @args = ('--db', $dead_db, @$c, $h);
            my ($rc, $out, $err) = $env->cli_raw(@args);
            ok($rc == 0 && $out =~ /\AUsage: bbtoken/ && $err eq '', "bbtoken @$c $h: exit 0")
                or diag "exit $rc\nstdout: $out\nstderr: $err";
        }
    }
    for my $c (['user', 'add'], ['user', 'disable'], ['user', 'enable'], ['grant'], ['grant', 'x', 'REPO_READ'],
               ['ungrant'], ['create'], ['list'], ['update'], ['revoke'], ['rotate'], ['project']) {
        my @args = ('--db', $dead_db, @$c, '--help');
        my ($rc, $out, $err) = $env->cli_raw(@args);
        ok($rc == 2 && $out =~ /\AUsage: bbtoken/ && $err =~ /\Abbtoken: .* only the usage was shown [^\n]*\n\z/,
           "bbtoken @$c --help: exit 2") or diag "exit $rc\nstdout: $out\nstderr: $err";
    }
};

subtest 'bad usage: exit 2' => sub {
    $env->user_add('usage');
    my @bad = (
        [], ['frobnicate'], ['--bogus', 'list', 'usage'], ['user'], ['user', 'frob', 'x'],
        ['user', 'add'], ['user', 'add', 'a', 'b'], ['user', 'add', 'x', '--bogus'], ['user', 'disable'],
        ['grant'], ['grant', 'usage'], ['grant', 'usage', 'PROJECT_READ'],
        ['grant', 'usage', 'PROJECT_READ', 'PROJ', 'extra'], ['ungrant', 'usage'],
        ['ungrant', 'usage', 'PROJ', 'extra'], ['create'], ['create', 'usage'],
        ['create', 'usage', '--name'], ['create', 'usage', '--name', 'x', '--bogus'],
        ['create', 'usage', '--name', 'x', '--perm'], ['create', 'usage', '--name', 'x', 'extra'],
        ['list'], ['list', 'usage', '--bogus'], ['list', 'usage', 'extra'], ['update'],
        ['update', '123456789012'], ['update', '123456789012', '--bogus'], ['revoke'],
        ['revoke', '123456789012', 'extra'],
    );
    my $before = count_tokens();
    for my $a (@bad) {
        $env->cli_is("bbtoken @$a", $a, 2);
    }
    # An option given twice: the second would replace the first, unseen
    # (`revoke --user a --user b` revoked b's tokens alone).  --perm and
    # --allow-from add to a list.
    for my $twice (['user', 'revoke', '--user', 'usage', '--user', 'usage2'],
                   ['user', 'revoke', '--us', 'usage', '--user=usage2'],
                   ['project', 'revoke', '--project', 'A', '--project', 'B'],
                   ['repo', 'revoke', '--repo', 'A/x', '--repo', 'A/y'],
                   ['owner', 'list', '--all', '--owner', 'usage', '--owner', 'usage2', '--revoke'],
                   ['kind', 'list', '--all', '--kind', 'project', '--kind', 'personal', '--revoke'],
                   ['project', 'create', '--project', 'A', '--project', 'B', '--name', 'x'],
                   ['name', 'create', 'usage', '--name', 'a', '--name', 'b'],
                   ['expiry-days', 'create', 'usage', '--name', 'x', '--expiry-days', '1', '--expiry-days', '2'],
                   ['name', 'update', '123456789012', '--name', 'a', '--name', 'b'],
                   ['since', 'audit', '--since', '1d', '--since', '2d'],
                   ['max-tokens', 'policy', '--max-tokens', '5', '--max-tokens', '6'],
                   ['expiry-required', 'policy', '--expiry-required', '--expiry-required'],
                   ['email', 'user', 'set', 'usage', '--email', 'a@example.com', '--email', 'b@example.com'],
                   ['sendmail', 'notify', '--dry-run', '--sendmail', '/bin/true', '--sendmail', '/bin/false'],
                   ['from', 'notify', '--dry-run', '--from', 'a@example.com', '--from', 'b@example.com'],
                   ['json', 'list', '--all', '--json', '--json'],
                   ['dry-run', 'list', '--all', '--owner', 'usage', '--revoke', '--dry-run', '--dry-run']) {
        my ($opt, @a) = @$twice;
        $env->cli_is("bbtoken @a", \@a, 2, stderr => qr/\Abbtoken: --\Q$opt\E given twice\n\nUsage:/);
    }
    $env->cli_is('--db twice', ['--db', $env->superuser_conninfo, '--db', 'dbname=nowhere', 'list', 'usage'], 2,
                 raw => 1, stderr => qr/\Abbtoken: --db given twice\n\nUsage:/);
    $env->cli_is('--db without a value', ['--db'], 2, raw => 1);
    $env->cli_is('a mistyped command is named', ['lsit'], 2, stderr => qr/unknown command: lsit$/m);
    my (undef, undef, $err) = $env->cli_is('a connection string for a command', ['postgresql://u:s3cretPW\@127.0.0.1:1/db', 'list'], 2,
        raw => 1, stderr => qr/unknown command/);
    unlike($err, qr/s3cretPW/, 'the connection string is not repeated: its password stays off stderr');
    $env->cli_is('a mistyped db subcommand is named', ['db', 'stauts'], 2,
                 stderr => qr/unknown db subcommand: stauts$/m);
    (undef, undef, $err) = $env->cli_is('db typed for --db', ['db', 'postgresql://u:s3cretPW@127.0.0.1:1/db', 'status'],
                                        2, raw => 1, stderr => qr/unknown db subcommand/);
    unlike($err, qr/s3cretPW/, '  its connection string is not repeated either');
    is(count_tokens(), $before, 'no token was created by a bad command line');
};

# A connection string where an operand or an option's value belongs (its
# --db forgotten: `bbtoken audit "$CONN"` in a cron job, whose stderr is
# mailed) is refused without being repeated, whichever check refuses it.
subtest 'a connection string as an operand or a value: not repeated' => sub {
    my @conn = ('postgresql://admin:s3cretPW@db/bbtoken', 'host=db password=s3cretPW');
    for my $c (@conn) {
        for my $a (['audit', $c], ['list', $c], ['revoke', $c], ['create', $c, '--name', 'x'],
                   ['list', '--project', $c], ['list', '--repo', $c], ['list', '--all', '--kind', $c],
                   ['list', '--all', '--unused-for', $c], ['expiring', '--within', $c],
                   ['grant', 'usage', $c, 'PROJ'], ['grant', 'usage', 'PROJECT_READ', $c],
                   ['project', $c], ['project', 'PROJ', '--repo-admins-manage-tokens', $c],
                   ['create', 'usage', '--name', 'x', '--expiry-days', $c],
                   ['create', 'usage', '--name', 'x', '--allow-from', $c],
                   ['create', 'usage', '--name', 'x', '--perm', $c], ['purge', '--expired-before', $c],
                   ['audit', '--since', $c], ['policy', '--revoke-unused-after', $c],
                   ['list', '--all', '--project', $c]) {
            my $shown = join ' ', map { $_ eq $c ? 'CONN' : $_ } @$a;
            my ($rc, $out, $err) = $env->cli(@$a);
            is($rc, 1, "$shown: exit 1") or diag $err;
            unlike($err, qr/s3cretPW/, '  not repeated');
            like($err, qr/^bbtoken: .*\(not repeated: a connection string without its --db\?\)/, '  says why')
                or diag $err;
        }
    }
};

# The reason on stderr goes to an administrator's terminal, and may repeat
# what a wrapper script passed on (a user name someone typed into a form):
# a C1 control (CSI, OSC and ST in UTF-8), an invisible formatting
# character or a byte that is not UTF-8 is shown as "?", as in a table.
subtest 'stderr: no terminal control sequence from the command line' => sub {
    my %bad = (CSI => "\xc2\x9b2J", OSC => "\xc2\x9d0;x\xc2\x9c", RLO => "\xe2\x80\xae", 'not UTF-8' => "\xff",
               NEL => "\xc2\x85");
    for my $k (sort keys %bad) {
        my (undef, undef, $err) = $env->cli_is("user add with $k in the name", ['user', 'add', "zz$bad{$k}y"], 1,
                                               stderr => qr/^bbtoken: invalid user name: zz\?/);
        unlike($err, qr/\Q$bad{$k}\E/, "  $k is not written to the terminal");
    }
};

subtest 'database unreachable: exit 1, one line' => sub {
    for my $a (['list', 'usage'], ['user', 'add', 'zed'], ['create', 'usage', '--name', 'x']) {
        $env->cli_is("@$a against a closed port", ['--db', $dead_db, @$a], 1, raw => 1);
    }
};

# A --db that libpq parses, but with a piece of the password read as
# another setting (an unencoded "/" or "@" in a URI's password, a missing
# space): libpq's message quotes that setting, and a cron job mails
# stderr.  Every value of the string is masked; the reason stays.
subtest 'cannot connect: no value of --db in the message' => sub {
    my ($closed, $port) = (BBT::Env::free_port(), $env->pg_port);
    my @cases = (['postgresql://bob:S3C/RET@127.0.0.1:18115/bbtoken', qr/connection option "port"/],
                 ['postgresql://bob:pa@ss@127.0.0.1:1/x', qr/could not translate host name/],
                 ['host=127.0.0.1 port=5432password=S3CRET', qr/connection option "port"/],
                 ["host=RET,127.0.0.1 port=$closed dbname=S3C connect_timeout=2", qr/Connection refused/],
                 # The server quotes a setting of options apart: its value,
                 # its name (a "-" in it as "_"), and without "=" what
                 # follows -c (after a space) or --.
                 ["host=127.0.0.1 port=$port dbname=bbtoken user=postgres options=-cwork_mem=64MBpassword=S3CRET",
                  qr/invalid value for parameter "\(a value from --db\)"/],
                 ["host=127.0.0.1 port=$port dbname=bbtoken user=postgres options='-c work_mem=S3CRET -c geqo=on'",
                  qr/invalid value for parameter "\(a value from --db\)"/],
                 ["host=127.0.0.1 port=$port dbname=bbtoken user=postgres options=-cS3CRETpw",
                  qr/-c \(a value from --db\) requires a value/],
                 ["host=127.0.0.1 port=$port dbname=bbtoken user=postgres options=--S3CRETpw",
                  qr/FATAL: +\(a value from --db\) requires a value/],
                 ["host=127.0.0.1 port=$port dbname=bbtoken user=postgres options=-cHunter2S3CRET=on",
                  qr/unrecognized configuration parameter "\(a value from --db\)"/],
                 ["host=127.0.0.1 port=$port dbname=bbtoken user=postgres options='-c S3C-RETpw=on'",
                  qr/unrecognized configuration parameter "\(a value from --db\)"/],
                 # A backslash in options escapes the character after it
                 # (the server's words: "S3CRET pass", "Hun2ter secret",
                 # "S3CRETpw"); libpq's own takes "\\" for one.
                 ["host=127.0.0.1 port=$port dbname=bbtoken user=postgres options='-c work_mem=S3CRET\\\\ pass'",
                  qr/invalid value for parameter "\(a value from --db\)": "\(a value from --db\)"$/m, qr/pass/],
                 ["host=127.0.0.1 port=$port dbname=bbtoken user=postgres options='-c Hun2ter\\\\ secret=on'",
                  qr/unrecognized configuration parameter "\(a value from --db\)"$/m, qr/Hun2|secret/],
                 ["host=127.0.0.1 port=$port dbname=bbtoken user=postgres options=-cwork_mem=S3\\\\CRETpw",
                  qr/invalid value for parameter "\(a value from --db\)": "\(a value from --db\)"$/m]);
    for my $c (@cases) {
        my ($db, $why, $more) = @$c;
        my (undef, undef, $err) = $env->cli_is("--db '$db'", ['--db', $db, 'list', 'alice'], 1, raw => 1,
                                               stderr => qr/\Abbtoken: cannot connect to the database: /);
        like($err, $why, "  libpq's reason is kept");
        like($err, qr/\(a value from --db\)/, '  the value it quoted is masked');
        unlike($err, qr/S3C|RET|ss@|\Q$closed\E/, '  no piece of the password (nor any other value)');
        unlike($err, $more, '  nor of the rest of the word') if $more;
        unlike($err, qr/[\x00-\x09\x0b-\x1f\x7f]/, '  no control character');
    }
};

# A --db that is no connection string to libpq (a URI's scheme in
# capitals, a slash short, a space before it) is a database's name, which
# the server quotes in its FATAL, whole, or cut at 63 bytes when longer.
subtest 'cannot connect: a --db read as a database name is not quoted either' => sub {
    local $env->{cli_env} = { PGHOST => '127.0.0.1', PGPORT => $env->pg_port, PGUSER => 'postgres' };
    for my $db ('POSTGRESQL://postgres:S3CRET@localhost/bbt1', 'postgresql:/postgres:S3CRET@localhost/bbt1',
                'postgresql//postgres:S3CRET@localhost/bbt1', ' postgresql://postgres:S3CRET@localhost/bbt1',
                'POSTGRESQL://postgres:S3CRET@localhost/' . ('d' x 40)) {
        my (undef, undef, $err) = $env->cli_is("--db '$db'", ['--db', $db, 'list', 'alice'], 1, raw => 1,
                                               stderr => qr/\Abbtoken: cannot connect to the database: /);
        like($err, qr/database " ?\(a value from --db\)" does not exist/, "  the server's reason, its name masked");
        unlike($err, qr/S3CRET/, '  no password');
    }
};

# libpq skips an empty dbname and takes its environment's: `--db "$DB"`
# with DB unset would act on the database PGDATABASE names.
subtest '--db "": refused, not the libpq environment' => sub {
    local $env->{cli_env} = { PGHOST => '127.0.0.1', PGPORT => $env->pg_port, PGDATABASE => 'bbtoken',
                              PGUSER => 'postgres' };
    $env->cli_is('--db "" db status', ['--db', '', 'db', 'status'], 2, raw => 1,
                 stderr => qr/\Abbtoken: --db must not be empty\n\nUsage:/);
    $env->cli_is('--db= user add', ['--db=', 'user', 'add', 'emptydb'], 2, raw => 1,
                 stderr => qr/\Abbtoken: --db must not be empty\n/);
    ok(!user_row('emptydb'), '  and the user was not added');
};

subtest 'libpq environment instead of --db' => sub {
    my ($rc, $out, $err) = $env->cli_env({ PGHOST => '127.0.0.1', PGPORT => $env->pg_port,
                                           PGDATABASE => 'bbtoken', PGUSER => 'postgres' },
                                         'user', 'add', 'envuser');
    is($rc, 0, 'user add through PGHOST/PGPORT/PGDATABASE/PGUSER') or diag $err;
    ok(user_row('envuser'), 'the user is in the database');
};

subtest 'user add / disable / enable' => sub {
    $env->cli_is('user add alice', ['user', 'add', 'alice'], 0);
    my $u = user_row('alice');
    ok($u && $u->{name} eq 'alice' && $u->{active} eq 't' && $u->{is_admin} eq 'f', 'alice stored, active, not admin')
        or diag explain $u;
    $env->cli_is('user add alice again', ['user', 'add', 'alice'], 1, stderr => qr/alice/i);
    $env->cli_is('user add ALICE (names are unique regardless of case)', ['user', 'add', 'ALICE'], 1);
    $env->cli_is('user add Bob.Smith@x-1', ['user', 'add', 'Bob.Smith@x-1'], 0);
    for my $n ('x-token-auth', 'X-Token-Auth') {
        $env->cli_is("user add $n: the Basic name of project and repository tokens", ['user', 'add', $n], 1,
                     stderr => qr/^bbtoken: user name \Q$n\E is reserved: project and repository tokens/);
    }
    is($env->psql("SELECT count(*) FROM bbtoken_users WHERE lower(name) = 'x-token-auth'"), 0, '  and not added');
    my ($rc, undef, $err) = $env->psql_try("INSERT INTO bbtoken_users (name) VALUES ('X-Token-Auth')");
    ok($rc != 0 && $err =~ /user name X-Token-Auth is reserved/, '  and refused by the schema from plain SQL') or diag $err;
    ($rc, undef, $err) = $env->psql_try("UPDATE bbtoken_users SET name = 'x-token-auth' WHERE name = 'Bob.Smith\@x-1'");
    ok($rc != 0 && $err =~ /is reserved/, '  as a new name too') or diag $err;
    # A user so named before the rule keeps the name and can be managed.
    $env->psql("SET session_replication_role = replica; INSERT INTO bbtoken_users (name) VALUES ('x-token-auth')");
    $env->cli_is('an old x-token-auth user can be disabled', ['user', 'disable', 'x-token-auth'], 0);
    $env->psql("DELETE FROM bbtoken_users WHERE name = 'x-token-auth'");
    $env->cli_is('user add x-token-auth2', ['user', 'add', 'x-token-auth2'], 0);
    is(user_row('bob.smith@x-1')->{name}, 'Bob.Smith@x-1', 'the name is stored as typed');
    $env->cli_is('user add root --admin', ['user', 'add', 'root', '--admin'], 0);
    is(user_row('root')->{is_admin}, 't', 'root is a global admin');
    for my $bad ('bad name', '.alice', 'a/b', 'caf' . "\xc3\xa9", 'x' x 256, '~tilde') {
        $env->cli_is("user add '$bad' (invalid)", ['user', 'add', $bad], 1);
        ok(!user_row($bad), "  '$bad' not stored") unless length $bad > 255;
    }
    $env->cli_is('user add with a 255-character name', ['user', 'add', 'l' x 255], 0);

    $env->cli_is('user disable nobody', ['user', 'disable', 'nobody'], 1, stderr => qr/nobody/);
    $env->cli_is('user enable nobody', ['user', 'enable', 'nobody'], 1, stderr => qr/nobody/);
    $env->cli_is('user disable alice', ['user', 'disable', 'alice'], 0);
    is(user_row('alice')->{active}, 'f', 'alice is disabled');
    $env->cli_is('user disable alice again', ['user', 'disable', 'alice'], 0);
    $env->cli_is('user enable ALICE (case-insensitive)', ['user', 'enable', 'ALICE'], 0);
    is(user_row('alice')->{active}, 't', 'alice is enabled again');
};

subtest 'grant / ungrant' => sub {
    my $uid = user_row('alice')->{id};
    my $pg = sub { $env->psql("SELECT project_key || ' ' || permission FROM bbtoken_project_grants "
                              . "WHERE user_id = $uid ORDER BY 1") };
    my $rg = sub { $env->psql("SELECT project_key || '/' || repo_slug || ' ' || permission "
                              . "FROM bbtoken_repo_grants WHERE user_id = $uid ORDER BY 1") };

    $env->cli_is('grant alice PROJECT_READ proj', ['grant', 'alice', 'PROJECT_READ', 'proj'], 0);
    is($pg->(), 'PROJ PROJECT_READ', 'stored with the canonical key PROJ');
    $env->cli_is('grant alice PROJECT_WRITE PROJ (raise)', ['grant', 'alice', 'PROJECT_WRITE', 'PROJ'], 0);
    is($pg->(), 'PROJ PROJECT_WRITE', 'the grant was replaced, not added');
    $env->cli_is('grant alice PROJECT_READ PROJ (lower)', ['grant', 'alice', 'PROJECT_READ', 'PROJ'], 0);
    is($pg->(), 'PROJ PROJECT_READ', 'the grant was lowered');

    $env->cli_is('grant alice REPO_WRITE PROJ/repo', ['grant', 'alice', 'REPO_WRITE', 'PROJ/repo'], 0);
    $env->cli_is('grant alice REPO_READ proj/Repo', ['grant', 'alice', 'REPO_READ', 'proj/Repo'], 0);
    is($rg->(), "PROJ/Repo REPO_READ\nPROJ/repo REPO_WRITE", 'key canonicalized, slug kept exactly');
    $env->cli_is('grant alice REPO_ADMIN ~Bob.Smith@x-1/x', ['grant', 'alice', 'REPO_ADMIN', '~Bob.Smith@x-1/x'], 0);
    like($rg->(), qr{^~bob\.smith_x-1/x REPO_ADMIN$}m, 'personal key stored as ~ and the slug');

    my @fail = (
        ['project TARGET with a REPO_ permission', ['grant', 'alice', 'REPO_READ', 'PROJ'],
         qr{^bbtoken: REPO_READ is a repository permission: TARGET must be KEY/slug, not PROJ$}],
        ['repository TARGET with a PROJECT_ permission', ['grant', 'alice', 'PROJECT_READ', 'PROJ/repo'],
         qr{^bbtoken: PROJECT_READ is a project permission: TARGET must be a project KEY, not PROJ/repo$}],
        ['unknown permission', ['grant', 'alice', 'PROJECT_SUPER', 'PROJ']],
        ['lower-case permission', ['grant', 'alice', 'project_read', 'PROJ']],
        ['unknown user', ['grant', 'nobody', 'PROJECT_READ', 'PROJ'], qr/nobody/],
        ['invalid key', ['grant', 'alice', 'PROJECT_READ', '1BAD']],
        ['empty key', ['grant', 'alice', 'PROJECT_READ', '']],
        ['slug ending in .git', ['grant', 'alice', 'REPO_READ', 'PROJ/x.git']],
        ['slug starting with -', ['grant', 'alice', 'REPO_READ', 'PROJ/-x']],
        ['nested slug', ['grant', 'alice', 'REPO_READ', 'PROJ/a/b']],
        ['empty slug', ['grant', 'alice', 'REPO_READ', 'PROJ/']],
    );
    my ($p0, $r0) = ($pg->(), $rg->());
    for my $f (@fail) {
        $env->cli_is("grant: $f->[0]", $f->[1], 1, $f->[2] ? (stderr => $f->[2]) : ());
    }
    is($pg->() . $rg->(), $p0 . $r0, 'failed grants changed nothing');

    # A grant on another project, to show ungrant KEY removes that key's
    # grant alone.
    $env->cli_is('grant alice PROJECT_WRITE OTHER', ['grant', 'alice', 'PROJECT_WRITE', 'OTHER'], 0);
    $env->cli_is('ungrant alice PROJ', ['ungrant', 'alice', 'PROJ'], 0);
    is($pg->(), 'OTHER PROJECT_WRITE', 'project grant gone, the grant on OTHER kept');
    is($rg->(), $r0, 'repository grants untouched');
    $env->cli_is('ungrant alice OTHER', ['ungrant', 'alice', 'OTHER'], 0);
    is($pg->(), '', '  and that one gone by its own ungrant');
    $env->cli_is('ungrant alice PROJ again (none left)', ['ungrant', 'alice', 'PROJ'], 1);
    $env->cli_is('ungrant alice proj/Repo', ['ungrant', 'alice', 'proj/Repo'], 0);
    unlike($rg->(), qr{PROJ/Repo}, 'repository grant gone');
    $env->cli_is('ungrant nobody PROJ', ['ungrant', 'nobody', 'PROJ'], 1, stderr => qr/nobody/);
    $env->cli_is('ungrant alice 1BAD', ['ungrant', 'alice', '1BAD'], 1);
};

my %tokens;    # label => [token, id]

subtest 'create' => sub {
    my $before = count_tokens();
    my ($rc, $out, $err) = $env->cli_is('create alice --name laptop', ['create', 'alice', '--name', 'laptop'], 0);
    like($out, qr{\ABBDC-[A-Za-z0-9+/]{44}\n\z}, 'stdout is exactly one line: the token');
    chomp(my $tok = $out);
    my $p = parse_token($tok);
    ok($p && $p->{checksum_ok}, 'token decodes to 12 digits ":" 20 bytes with the documented checksum');
    $tokens{laptop} = [$tok, $p->{id}];
    is(count_tokens(), $before + 1, 'one row added');

    my $row = $env->token_row($p->{id});
    is($row->{name}, 'laptop', 'name stored');
    is("$row->{project_perm} $row->{repo_perm}", 'PROJECT_ADMIN REPO_ADMIN', 'no --perm: the full level');
    like($row->{salt}, qr/^[0-9a-f]{32}$/, 'salt is 16 bytes of hex');
    is($row->{secret_hash}, hmac_sha256_hex($p->{raw}, pack('H*', $row->{salt})),
       'secret_hash = HMAC-SHA-256(salt, raw token)');
    is($row->{user_id}, user_row('alice')->{id}, 'owned by alice');
    is($row->{expires_at}, '', 'no expiry by default');
    is($row->{last_authenticated} . $row->{revoked_at}, '', 'never used, not revoked');
    my $dump = $env->psql('SELECT row_to_json(t)::text FROM bbtoken_tokens t');
    my $secret_b64 = substr($p->{b64}, 16);
    ok(index($dump, $secret_b64) < 0 && index($dump, unpack('H*', substr($p->{raw}, 13))) < 0,
       'the database holds no token and no raw secret');

    my @perm_cases = (
        [['REPO_WRITE'], 'PROJECT_READ REPO_WRITE'],
        [['REPO_READ'], 'PROJECT_READ REPO_READ'],
        [['PROJECT_WRITE'], 'PROJECT_WRITE REPO_WRITE'],
        [['PROJECT_READ'], 'PROJECT_READ REPO_READ'],
        [['PROJECT_ADMIN'], 'PROJECT_ADMIN REPO_ADMIN'],
        [['REPO_ADMIN', 'PROJECT_WRITE'], 'PROJECT_WRITE REPO_ADMIN'],
        [['PROJECT_READ', 'REPO_WRITE'], 'PROJECT_READ REPO_WRITE'],
        # Bitbucket's rule, as the REST API's: repository permissions are
        # inherited from the project permission, so a lower one is raised.
        [['PROJECT_WRITE', 'REPO_READ'], 'PROJECT_WRITE REPO_WRITE'],
        [['PROJECT_ADMIN', 'REPO_WRITE'], 'PROJECT_ADMIN REPO_ADMIN'],
        [['REPO_READ', 'PROJECT_ADMIN'], 'PROJECT_ADMIN REPO_ADMIN'],
    );
    for my $c (@perm_cases) {
        my @a = ('create', 'alice', '--name', "perm @{$c->[0]}", map { ('--perm', $_) } @{ $c->[0] });
        my (undef, $o) = $env->cli_is("create --perm @{$c->[0]}", \@a, 0, stdout => qr{\ABBDC-\S{44}\n\z});
        chomp $o;
        my $pp = parse_token($o) or next;
        my $r = $env->token_row($pp->{id});
        is("$r->{project_perm} $r->{repo_perm}", $c->[1], "  stored as $c->[1]");
        $tokens{"@{$c->[0]}"} = [$o, $pp->{id}];
    }

    $before = count_tokens();
    my @refused = (
        [['REPO_READ', 'REPO_WRITE'], 'two repository permissions'],
        [['PROJECT_READ', 'PROJECT_WRITE'], 'two project permissions'],
        [['REPO_READ', 'REPO_READ'], 'the same permission twice'],
        [['REPO_SUPER'], 'unknown permission'],
    );
    for my $c (@refused) {
        $env->cli_is("create --perm @{$c->[0]} ($c->[1])",
               ['create', 'alice', '--name', 'no', map { ('--perm', $_) } @{ $c->[0] }], 1);
    }
    $env->cli_is('create for an unknown user', ['create', 'nobody', '--name', 'x'], 1, stderr => qr/nobody/);
    $env->user_add('ghost');
    $env->cli_ok('user', 'disable', 'ghost');
    $env->cli_is('create for a disabled user', ['create', 'ghost', '--name', 'x'], 1);
    $env->cli_is('create with an empty name', ['create', 'alice', '--name', ''], 1);
    $env->cli_is('create with a control character in the name', ['create', 'alice', '--name', "a\tb"], 1);
    $env->cli_is('create with a 256-character name', ['create', 'alice', '--name', 'n' x 256], 1);
    for my $d ('0', '-1', 'abc', '36501', '1.5') {
        $env->cli_is("create --expiry-days $d", ['create', 'alice', '--name', 'x', '--expiry-days', $d], 1);
    }
    is(count_tokens(), $before, 'no refused create left a row');

    (undef, $out) = $env->cli_is('create --expiry-days 30', ['create', 'alice', '--name', 'monthly',
                                                       '--expiry-days', '30'], 0, stdout => qr{\ABBDC-\S{44}\n\z});
    chomp $out;
    my $e = parse_token($out);
    $tokens{monthly} = [$out, $e->{id}];
    is($env->psql("SELECT abs(extract(epoch FROM expires_at - created_at) - 30*86400) < 60 "
                  . "FROM bbtoken_tokens WHERE id = '$e->{id}'"), 't', 'expires 30 days after creation');

    (undef, $out) = $env->cli_is('create with a 255-character name', ['create', 'alice', '--name', 'n' x 255], 0);
    $env->cli_is('create for ALICE (case-insensitive owner)', ['create', 'ALICE', '--name', 'upper'], 0);

    my %ids;
    for (1 .. 5) {
        my $o = $env->cli_ok('create', 'alice', '--name', "batch $_");
        $ids{ parse_token($o =~ s/\n//r)->{id} }++;
    }
    is(scalar(keys %ids), 5, 'five tokens, five different ids');
};

subtest 'list (text)' => sub {
    my ($t, $id) = @{ $tokens{'REPO_WRITE'} };
    my $out = $env->cli_is('list alice', ['list', 'alice'], 0);
    my @lines = split /\n/, $out;
    like($lines[0], qr/\bID\b.*\bNAME\b.*\bPERMISSIONS\b.*\bCREATED\b.*\bEXPIRES\b.*\bLAST\b/i,
         'a header naming the columns');
    my ($line) = grep {/^\Q$id\E\b/} @lines;
    ok($line, 'the token has a line starting with its id') or return diag $out;
    like($line, qr/perm REPO_WRITE/, 'its name');
    like($line, qr/PROJECT_READ/, 'its project permission');
    like($line, qr/REPO_WRITE/, 'its repository permission');
    like($line, qr/\d{4}-\d\d-\d\d/, 'its creation date');
    my ($mline) = grep {/^\Q$tokens{monthly}[1]\E\b/} @lines;
    my @dates = ($mline // '') =~ /(\d{4}-\d\d-\d\dT?[\d:]*)/g;
    is(scalar(@dates), 2, 'the expiring token shows created and expires') or diag $mline;
    $env->cli_is('list nobody', ['list', 'nobody'], 1, stderr => qr/nobody/);
    $env->user_add('empty');
    $env->cli_is('list of a user without tokens', ['list', 'empty'], 0);
};

subtest 'list --json' => sub {
    my ($j, $raw) = $env->list_json('alice');
    ok($j, 'valid JSON list') or return diag $raw;
    my %by = map { ($_->{id} // '') => $_ } @$j;
    my $now_ms = time * 1000;
    my ($tok, $id) = @{ $tokens{'PROJECT_WRITE'} };
    my $e = $by{$id};
    ok($e, 'the token is listed by its id (a string of 12 digits)') or return diag $raw;
    ok(!ref $e->{id} && $e->{id} =~ /^\d{12}$/, 'id is a 12-digit string');
    is($e->{name}, 'perm PROJECT_WRITE', 'name');
    is_deeply([sort @{ $e->{permissions} || [] }], ['PROJECT_WRITE', 'REPO_WRITE'], 'permissions');
    ok(defined $e->{createdDate} && $e->{createdDate} =~ /^\d+$/
       && abs($e->{createdDate} - $now_ms) < 600_000, 'createdDate is epoch ms, now-ish')
        or diag "createdDate " . ($e->{createdDate} // 'absent');
    ok(!exists $e->{expiryDate}, 'no expiryDate without expiry');
    ok(!exists $e->{lastAuthenticated}, 'no lastAuthenticated before use');
    is($e->{user}{name}, 'alice', 'user.name');
    my $m = $by{ $tokens{monthly}[1] };
    ok($m && defined $m->{expiryDate}
       && abs($m->{expiryDate} - $m->{createdDate} - 30 * 86400_000) < 60_000,
       'expiryDate is createdDate + 30 days') or diag explain $m;
    ok(!$by{ $tokens{laptop}[1] }{token} && $raw !~ /BBDC-/, 'list never shows a token');

    my ($ej, $eraw) = $env->list_json('empty');
    is_deeply($ej, [], 'no tokens: an empty list') or diag $eraw;

    # JSON escaping of a name with quotes, a backslash and non-ASCII
    my $name = "q\"uote \\ caf\xc3\xa9 \xe2\x9c\x93";
    my $o = $env->cli_ok('create', 'alice', '--name', $name);
    my $qid = parse_token($o =~ s/\n//r)->{id};
    ($j, $raw) = $env->list_json('alice');
    my ($q) = grep { $_->{id} eq $qid } @{ $j || [] };
    is($q && $q->{name}, Encode::decode('UTF-8', $name), 'name with quotes, backslash and UTF-8 round-trips')
        or diag $raw;
};

subtest 'last authenticated is set by an authenticated request' => sub {
    $env->grant('alice', 'PROJECT_WRITE', 'PROJ');
    my ($tok, $id) = @{ $tokens{laptop} };
    my ($j) = $env->list_json('alice');
    my ($e) = grep { $_->{id} eq $id } @{ $j || [] };
    ok($e && !exists $e->{lastAuthenticated}, 'not set before use');
    is_ok_res($env->get($UP, { Authorization => "Bearer $tok" }), 'an authenticated request');
    my $deadline = time + $BBT::Cache::LIMIT;
    while (time < $deadline) {
        last if $env->token_row($id)->{last_authenticated} ne '';
        select undef, undef, undef, 0.1;
    }
    isnt($env->token_row($id)->{last_authenticated}, '', 'last_authenticated set in the database');
    ($j) = $env->list_json('alice');
    ($e) = grep { $_->{id} eq $id } @{ $j || [] };
    ok($e && defined $e->{lastAuthenticated} && abs($e->{lastAuthenticated} - time * 1000) < 600_000,
       'list --json shows lastAuthenticated, now-ish') or diag explain $e;
    my ($line) = grep {/^\Q$id\E\b/} split /\n/, $env->cli_ok('list', 'alice');
    my @dates = ($line // '') =~ /(\d{4}-\d\d-\d\d)/g;
    is(scalar(@dates), 2, 'text list shows created and last used') or diag $line;
    # Written at most once a minute per token.
    my $t1 = $env->token_row($id)->{last_authenticated};
    is_ok_res($env->get($UP, { Authorization => "Bearer $tok" }), 'a second request at once');
    sleep 1;
    is($env->token_row($id)->{last_authenticated}, $t1, 'last_authenticated not rewritten within the minute');
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '2 minutes' WHERE id = '$id'");
    # Two minutes pass for the database; the token cache remembers when it
    # wrote last use, so it must forget too (last-use columns notify
    # nothing: it is told directly).
    $env->psql("NOTIFY bbtoken, 'test'");
    settle();
    my $old = $env->token_row($id)->{last_authenticated};
    is_ok_res($env->get($UP, { Authorization => "Bearer $tok" }), 'a request two minutes later');
    $deadline = time + $BBT::Cache::LIMIT;
    while (time < $deadline) {
        last if $env->token_row($id)->{last_authenticated} ne $old;
        select undef, undef, undef, 0.1;
    }
    isnt($env->token_row($id)->{last_authenticated}, $old, 'then it is written again');
    # A failed attempt does not count as an authentication.
    my ($t2, $id2) = @{ $tokens{'REPO_READ'} };
    $env->get($UP, { Authorization => $env->basic('bob', $t2) });
    is($env->token_row($id2)->{last_authenticated}, '', 'a refused attempt (wrong user) does not set it');
};

subtest 'update' => sub {
    my ($tok, $id) = @{ $tokens{laptop} };
    my $r0 = $env->token_row($id);
    $env->cli_is('update --name', ['update', $id, '--name', 'renamed'], 0);
    my $r = $env->token_row($id);
    is($r->{name}, 'renamed', 'renamed');
    is("$r->{project_perm} $r->{repo_perm} $r->{salt} $r->{secret_hash}",
       "$r0->{project_perm} $r0->{repo_perm} $r0->{salt} $r0->{secret_hash}", 'nothing else changed');

    is_ok_res($env->get($RP, { Authorization => "Bearer $tok" }), 'admin-level token may push');
    $env->cli_is('update --perm REPO_READ', ['update', $id, '--perm', 'REPO_READ'], 0);
    settle();    # the token cache's bound: half a second
    $r = $env->token_row($id);
    is("$r->{project_perm} $r->{repo_perm}", 'PROJECT_READ REPO_READ', 'both levels replaced');
    is_403($env->get($RP, { Authorization => "Bearer $tok" }), 'after update to REPO_READ: push advertisement');
    is_ok_res($env->get($UP, { Authorization => "Bearer $tok" }), 'after update to REPO_READ: reads still fine');

    $env->cli_is('update --perm PROJECT_WRITE --name both', ['update', $id, '--perm', 'PROJECT_WRITE', '--name', 'both'], 0);
    $r = $env->token_row($id);
    is("$r->{name} $r->{project_perm} $r->{repo_perm}", 'both PROJECT_WRITE REPO_WRITE', 'name and levels');

    $env->cli_is('update --perm PROJECT_ADMIN --perm REPO_READ', ['update', $id, '--perm', 'PROJECT_ADMIN', '--perm', 'REPO_READ'], 0);
    $r = $env->token_row($id);
    is("$r->{project_perm} $r->{repo_perm}", 'PROJECT_ADMIN REPO_ADMIN', '  the repository level inherited');
    $env->cli_is('update --perm PROJECT_WRITE again', ['update', $id, '--perm', 'PROJECT_WRITE'], 0);
    $env->cli_is('update with two repository permissions', ['update', $id, '--perm', 'REPO_READ', '--perm', 'REPO_ADMIN'], 1);
    $env->cli_is('update with an unknown permission', ['update', $id, '--perm', 'NOPE'], 1);
    $env->cli_is('update with an empty name', ['update', $id, '--name', ''], 1);
    $r = $env->token_row($id);
    is("$r->{name} $r->{project_perm} $r->{repo_perm}", 'both PROJECT_WRITE REPO_WRITE', 'failed updates changed nothing');

    $env->cli_is('update an unknown token', ['update', '000000000001', '--name', 'x'], 1);
    $env->cli_is('update a malformed id', ['update', 'abc', '--name', 'x'], 1);
};

subtest 'revoke' => sub {
    my ($tok, $id) = @{ $tokens{'PROJECT_READ'} };
    is_ok_res($env->get($UP, { Authorization => "Bearer $tok" }), 'token works before revoke');
    $env->cli_is('revoke', ['revoke', $id], 0);
    settle();    # the token cache's bound: half a second
    my $r = $env->token_row($id);
    ok($r, 'row kept');
    isnt($r->{revoked_at}, '', 'revoked_at set');
    is_401($env->get($UP, { Authorization => "Bearer $tok" }), 1, 'revoked token');
    my ($j) = $env->list_json('alice');
    ok(!(grep { $_->{id} eq $id } @{ $j || [] }), 'list --json no longer shows it');
    unlike($env->cli_ok('list', 'alice'), qr/^\Q$id\E\b/m, 'list no longer shows it');
    $env->cli_is('revoke again', ['revoke', $id], 1);
    is($env->token_row($id)->{revoked_at}, $r->{revoked_at}, 'first revocation time kept');
    $env->cli_is('update a revoked token', ['update', $id, '--name', 'zombie'], 1);
    $env->cli_is('revoke an unknown token', ['revoke', '000000000001'], 1);
    $env->cli_is('revoke a malformed id', ['revoke', '12345'], 1);
};

subtest 'the database enforces the permission combination itself' => sub {
    my $uid = user_row('alice')->{id};
    my $ins = sub {
        my ($id, $pp, $rp) = @_;
        return $env->psql_try("INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash) "
                              . "VALUES ('$id', $uid, 'direct', '$pp', '$rp', repeat('a', 32), repeat('b', 64))");
    };
    my ($rc, $out, $err) = $ins->('100000000001', 'PROJECT_READ', 'REPO_READ');
    is($rc, 0, 'control: a valid row inserts') or diag $err;
    for my $c (['PROJECT_WRITE', 'REPO_READ'], ['PROJECT_ADMIN', 'REPO_READ'], ['PROJECT_ADMIN', 'REPO_WRITE']) {
        ($rc, $out, $err) = $ins->('100000000002', @$c);
        ok($rc != 0 && $err =~ /bbtoken_tokens_combination/, "INSERT @$c fails the check constraint")
            or diag "exit $rc: $err";
    }
    ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_tokens SET project_perm = 'PROJECT_WRITE' "
                                       . "WHERE id = '100000000001'");
    ok($rc != 0 && $err =~ /bbtoken_tokens_combination/, 'UPDATE to PROJECT_WRITE + REPO_READ fails the check')
        or diag "exit $rc: $err";
    ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_tokens SET repo_perm = 'REPO_READ' "
                                       . "WHERE id = '$tokens{'PROJECT_WRITE'}[1]'");
    ok($rc != 0 && $err =~ /bbtoken_tokens_combination/, 'UPDATE a CLI-made PROJECT_WRITE token to REPO_READ fails')
        or diag "exit $rc: $err";

    my @other = (
        ['unknown permission', "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash) VALUES ('100000000003', $uid, 'x', 'PROJECT_READ', 'REPO_SUPER', repeat('a', 32), repeat('b', 64))"],
        ['salt not hex', "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash) VALUES ('100000000004', $uid, 'x', 'PROJECT_READ', 'REPO_READ', repeat('z', 32), repeat('b', 64))"],
        ['id not 12 digits', "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash) VALUES ('12345', $uid, 'x', 'PROJECT_READ', 'REPO_READ', repeat('a', 32), repeat('b', 64))"],
        ['expiry before creation', "UPDATE bbtoken_tokens SET expires_at = created_at - interval '1 day' WHERE id = '100000000001'"],
        ['lower-case project key in a grant', "INSERT INTO bbtoken_project_grants VALUES ($uid, 'proj', 'PROJECT_READ')"],
        ['REPO_ permission in a project grant', "INSERT INTO bbtoken_project_grants VALUES ($uid, 'ZZZ', 'REPO_READ')"],
        ['slug ending in .git', "INSERT INTO bbtoken_repo_grants VALUES ($uid, 'PROJ', 'x.git', 'REPO_READ')"],
        ['user name differing only in case', "INSERT INTO bbtoken_users (name) VALUES ('Alice')"],
    );
    for my $c (@other) {
        ($rc, $out, $err) = $env->psql_try($c->[1]);
        ok($rc != 0 && $err =~ /violates/, "database refuses: $c->[0]") or diag "exit $rc: $err";
    }
    $env->psql("DELETE FROM bbtoken_tokens WHERE id = '100000000001'");
};

subtest 'user set --admin / --no-admin: a global admin made and demoted, at once on httpd' => sub {
    $env->cli_ok('user', 'add', 'gina', '--email', 'gina@corp.example');
    my $out = $env->cli_ok('create', 'gina', '--name', 'ops');
    chomp(my $tok = $out);
    my $h = { Authorization => "Bearer $tok" };
    # No grant: gina's token reads nothing of PROJ until she is an admin.
    is($env->get($UP, $h)->{status}, 403, 'no grant, no admin flag: 403');
    $env->cli_is('user set gina --admin', ['user', 'set', 'gina', '--admin'], 0);
    is(user_row('gina')->{is_admin}, 't', 'gina is a global admin');
    is($env->psql("SELECT email FROM bbtoken_users WHERE name = 'gina'"), 'gina@corp.example',
       'her e-mail address kept');
    my ($ok, $n, $seen) = BBT::Cache::until_status($env, $RP, $h, 200);
    ok($ok, 'her token pushes to PROJ/repo now (the admin flag reaches httpd)') or diag "$n tries: $seen";
    is($env->psql("SELECT event || ' ' || source FROM bbtoken_audit WHERE user_name = 'gina'"
                  . " ORDER BY id DESC LIMIT 1"), 'user_admin_changed cli', 'audited, from the CLI');
    $env->cli_is('user set GINA --no-admin (case-insensitive)', ['user', 'set', 'GINA', '--no-admin'], 0);
    is(user_row('gina')->{is_admin}, 'f', 'gina is not an admin any more');
    ($ok, $n, $seen) = BBT::Cache::until_status($env, $UP, $h, 403);
    ok($ok, 'her token is refused again, without restarting httpd (cache on)') or diag "$n tries: $seen";
    $env->cli_is('both at once', ['user', 'set', 'gina', '--admin', '--no-admin'], 2,
                 stderr => qr/^bbtoken: give --admin or --no-admin, not both$/m);
    $env->cli_is('--no-admin is for user set', ['user', 'add', 'hal', '--no-admin'], 2,
                 stderr => qr/user add does not take --no-admin/);
    $env->cli_is('an unknown user', ['user', 'set', 'nobody', '--admin'], 1, stderr => qr/^bbtoken: no such user: nobody$/);
    is(user_row('gina')->{is_admin}, 'f', 'unchanged by the refusals');
};

# The actor goes to the database as UTF-8, which refuses the whole
# session for one byte that is not: the sudo user is cut between
# characters, and a byte that is not UTF-8 is "?".
subtest 'the actor: the sudo user, as UTF-8' => sub {
    plan skip_all => 'SUDO_USER counts for root alone' unless $BBT::Util::IS_ROOT;
    my $me = getpwuid($<);
    my @cases = (['a' x 63 . "\xc3\xa9", 'a' x 63, 'a character across the 64th byte is left out'],
                 ['b' x 62 . "\xc3\xa9x", 'b' x 62 . "\xc3\xa9", 'one ending at the 64th byte is kept'],
                 ['c' x 62 . "\xe2\x82\xac", 'c' x 62, 'a three-byte one across it is left out'],
                 ["d\xffe\xc3", 'd?e?', 'a byte that is not UTF-8 is "?"'],
                 ["\xe2\x80\xae" x 70, '?' x 64, 'an invisible character is "?", 64 of them kept']);
    for my $i (0 .. $#cases) {
        my ($sudo, $want, $what) = @{ $cases[$i] };
        my ($rc, undef, $err) = $env->cli_env({ SUDO_USER => $sudo }, '--db', $env->superuser_conninfo,
                                              'user', 'add', "sudo$i");
        is($rc, 0, "user add sudo$i under SUDO_USER") or diag $err;
        is($env->psql("SELECT encode(convert_to(actor, 'UTF8'), 'hex') FROM bbtoken_audit"
                      . " WHERE user_name = 'sudo$i' AND event = 'user_added'"),
           unpack('H*', "$me (sudo from $want)"), "  $what");
    }
};

subtest 'the httpd role has least privilege' => sub {
    my %o = (user => 'bbtoken_httpd');
    my ($rc, $out, $err) = $env->psql_try('SELECT count(*) FROM bbtoken_tokens', %o);
    is($rc, 0, 'bbtoken_httpd reads tokens') or diag $err;
    my $id = $tokens{monthly}[1];
    ($rc, $out, $err) = $env->psql_try("SELECT bbtoken_touch('$id', '192.0.2.1', 60)", %o);
    is($rc, 0, 'bbtoken_httpd records last use through bbtoken_touch()') or diag $err;
    for my $sql ("UPDATE bbtoken_tokens SET last_authenticated = now() WHERE id = '$id'","UPDATE bbtoken_tokens SET repo_perm = 'REPO_ADMIN' WHERE id = '$id'",
                 "UPDATE bbtoken_tokens SET revoked_at = NULL",
                 "DELETE FROM bbtoken_tokens",
                 "INSERT INTO bbtoken_users (name) VALUES ('mallory')",
                 "UPDATE bbtoken_users SET is_admin = true",
                 "INSERT INTO bbtoken_project_grants VALUES (1, 'PROJ', 'PROJECT_ADMIN')") {
        ($rc, $out, $err) = $env->psql_try($sql, %o);
        ok($rc != 0 && $err =~ /permission denied/, "bbtoken_httpd may not: $sql") or diag "exit $rc: $err";
    }
    ($rc, $out, $err) = $env->cli_raw('--db', 'host=127.0.0.1 port=' . $env->pg_port
                                      . ' dbname=bbtoken user=bbtoken_httpd', 'create', 'alice', '--name', 'x');
    ok($rc == 1 && $out eq '', 'the CLI run as bbtoken_httpd cannot create a token') or diag "exit $rc: $out $err";
};

done_testing;
