# A database an earlier release made in SQL_ASCII, moved into one in UTF8
# by the README's commands, run as they are written (Install, after the
# encodings): as root, in a directory of root's as the package's
# /usr/share/mod-bbtoken is (postgres may not write there), each command
# as postgres by runuser, the sql/ files by their absolute path (a copy of
# sql/ in another such directory stands for the package's) and the dump
# in a directory of postgres's alone (made in a directory like /var/tmp).
# A name that is not UTF-8 stops the dump, named, and nothing after it
# runs: the old database is not renamed (the steps are one command,
# chained by &&).  A dump without -E UTF8 carried its bytes into the new
# database unchecked (and failed bbtoken_lookup's rows whole).  Once it is
# mended the new database is in UTF8 and serves the old tokens, and it is
# as closed as the old one was.  pg_dump without --create carries neither
# the database's privileges nor its settings: restored alone (the
# control), the new database lets every role of the cluster connect
# (CONNECT to PUBLIC, which grants.sql revoked on the old one) and keeps
# none of the ALTER DATABASE settings Install asks for
# (log_error_verbosity terse, log_parameter_max_length and its _on_error
# 0), which keep hashes and parameters out of PostgreSQL's log.  The
# README's steps run grants.sql and grants-api.sql again and make the
# settings again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp ();
use File::Path qw(make_path);
use BBT::Env qw(auth_bearer run_cmd);

my $ROOT = $BBT::Env::ROOT;

# The README's block of commands that moves the database: the indented
# lines from the one that makes the dump's directory on, one command.
my $readme = BBT::Util::slurp("$ROOT/README");
my ($block) = $readme =~ /^((?:    D=\$\(runuser .*mktemp -d .*\n)(?:    \S.*\n)+)/m;
ok($block, "the README's commands that move the database") or BAIL_OUT('no such block in the README');
$block =~ s/^    //mg;
my @steps = split /\n/, $block;
is(scalar(grep { !/ &&\z/ } @steps[0 .. $#steps - 1]), 0, '  each line but the last ends in &&');
is(scalar(grep { !/^(?:D=\$\()?runuser -u postgres -- / } @steps), 0, '  each runs as postgres');
like($steps[1], qr/^runuser -u postgres -- pg_dump -E UTF8 -Fc -f "\$D\/bbtoken\.dump" bbtoken &&\z/, '  a dump in UTF-8, into $D');
like($steps[3], qr/^runuser -u postgres -- createdb -E UTF8 /, '  a new database in UTF8');
like($block, qr{ -f /usr/share/mod-bbtoken/sql/grants\.sql }, "  the package's sql/ by its path");
unlike($block, qr{ -f (?!/|"\$D/)}, '  every file by its absolute path');

# The migrations one by one, as the releases before this one applied them
# (sql/schema.sql refuses SQL_ASCII).
my @m = sort glob "$ROOT/sql/migrations/0*.sql";
my $tmp = File::Temp->new(SUFFIX => '.sql');
print $tmp join '', "\\ir $m[0]\n", map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @m[1 .. $#m];
close $tmp;
my $env = BBT::Env->new(db_encoding => 'SQL_ASCII', schema_files => ["$tmp"])->start;
is($env->psql('SELECT getdatabaseencoding()'), 'SQL_ASCII', 'control: the database is in SQL_ASCII');
# Install's settings, on the old database.
my %SET = (log_error_verbosity => 'terse', log_parameter_max_length => '0',
           log_parameter_max_length_on_error => '0');
$env->psql("ALTER DATABASE bbtoken SET $_ = $SET{$_}") for sort keys %SET;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'moved');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
is($env->get($UP, auth_bearer($tok))->{status}, 200, 'the token works');
$env->psql('CREATE ROLE other LOGIN');
# Bytes that are not UTF-8, as a client in LATIN1 would store them.
my (undef, $bad) = $env->token_insert('alice', name => "caf\xe9 (latin1)");

# Whether role $role may connect to database $db, and a setting as a new
# session of it reads it.
sub connects {
    my ($role, $db) = @_;
    my ($rc) = $env->psql_try('SELECT 1', user => $role, db => $db);
    return $rc == 0 ? 1 : 0;
}
sub setting { my ($name, $db) = @_; return $env->psql("SELECT current_setting('$name')", user => 'postgres', db => $db) }
# The settings of database $db's own (ALTER DATABASE ... SET), sorted.
sub db_settings {
    my ($db) = @_;
    return $env->psql("SELECT COALESCE(string_agg(c, ' ' ORDER BY c), '') FROM pg_db_role_setting s,"
                      . " unnest(s.setconfig) c WHERE s.setrole = 0"
                      . " AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = '$db')");
}
my $SETTINGS = join ' ', map {"$_=$SET{$_}"} sort keys %SET;
is(db_settings('bbtoken'), $SETTINGS, "control: the old database's settings");

is(connects('other', 'bbtoken'), 0, 'control: on the old database, another role may not connect');

# Root's directories, which postgres may read and not write: the one the
# commands run in, and a copy of sql/ where the package keeps it; and one
# that stands for /var/tmp.
my $scratch = $env->dir . '/scratch';
my $share = "$scratch/share/mod-bbtoken";
my $vartmp = "$scratch/vartmp";
make_path("$share/sql/migrations", $vartmp);
chmod 0755, "$scratch/share", $share, "$share/sql", "$share/sql/migrations";
chmod 01777, $vartmp;
for my $f (glob("$ROOT/sql/*.sql"), glob("$ROOT/sql/migrations/*.sql")) {
    (my $to = $f) =~ s{^\Q$ROOT\E/}{$share/};
    BBT::Util::spew($to, BBT::Util::slurp($f), 0644);
}
(my $moved = $block) =~ s{/usr/share/mod-bbtoken/}{$share/}g;
$moved =~ s{/var/tmp/}{$vartmp/}g;
my %pgenv = (PGHOST => '127.0.0.1', PGPORT => $env->pg_port, PGUSER => undef, PGCONNECT_TIMEOUT => 5,
             PATH => "$BBT::Env::PGBIN:$ENV{PATH}");
# Shell command $line as root in the package's directory (as ourselves,
# postgres's role by PGUSER, where we are not root).
sub sh {
    my ($line) = @_;
    $line =~ s/\brunuser -u postgres -- /env PGUSER=postgres /g unless $BBT::Util::IS_ROOT;
    my ($rc, $out, $err) = run_cmd(cmd => ['sh', '-c', $line], cwd => $share, env => \%pgenv,
                                   tmp => $env->dir . '/run', timeout => 120);
    return $rc ? "exit $rc: $err" : 'ok';
}
# The same, as postgres, in a directory of its own.
my $own = "$vartmp/own";
mkdir $own or die "$own: $!";
chown((getpwnam('postgres'))[2, 3], $own) if $BBT::Util::IS_ROOT;
sub pgsh { my ($line) = @_; return sh("cd $own && runuser -u postgres -- $line") }
sub exists_db { $env->psql("SELECT count(*) FROM pg_database WHERE datname = '$_[0]'", db => 'postgres') }

$env->httpd_stop;
BBT::PgDirect::disconnect($env->pg_port);

subtest 'a name that is not UTF-8' => sub {
    like(sh($moved), qr/^exit 1: .*Dumping the contents of table "bbtoken_\w+" failed.*invalid byte sequence for encoding "UTF8": 0xe9/s,
         "the README's commands: the dump refuses it, naming the table");
    BBT::PgDirect::disconnect($env->pg_port);
    is(exists_db('bbtoken_old'), 0, '  and nothing ran after it: the old database not renamed');
    is($env->psql('SELECT getdatabaseencoding()'), 'SQL_ASCII', '  bbtoken is the old one');
    is(pgsh('pg_dump -Fc -f latin1.dump bbtoken'), 'ok', 'control: without -E UTF8 it is dumped');
    is(pgsh('createdb -E UTF8 -T template0 bbtoken_bytes'), 'ok', '  a new database in UTF8');
    like(pgsh('pg_restore -d bbtoken_bytes latin1.dump'), qr/^exit 1: .*COPY failed for table "bbtoken_lookup"/s,
         '  restored there, bbtoken_lookup\'s rows refused');
    is($env->psql("SELECT encode(textsend(name), 'hex') FROM bbtoken_tokens WHERE id = '$bad'", db => 'bbtoken_bytes'),
       unpack('H*', "caf\xe9 (latin1)"), "  the token's row holds its bytes, unchecked");
    is($env->psql('SELECT count(*) FROM bbtoken_lookup', db => 'bbtoken_bytes'), 0, '  bbtoken_lookup none');
    BBT::PgDirect::disconnect($env->pg_port);
    is(pgsh('dropdb bbtoken_bytes'), 'ok', '  dropped');
    # Mended in the old database, as the README says: the name, and its
    # audit records deleted.
    $env->psql("UPDATE bbtoken_tokens SET name = 'cafe (mended)' WHERE id = '$bad'");
    $env->psql("DELETE FROM bbtoken_audit WHERE token_id = '$bad'");
    BBT::PgDirect::disconnect($env->pg_port);
};

subtest 'control: the dump restored alone carries neither the privileges nor the settings' => sub {
    is(pgsh('pg_dump -E UTF8 -Fc -f alone.dump bbtoken'), 'ok', 'dumped');
    is(pgsh('createdb -E UTF8 -T template0 bbtoken_alone'), 'ok', 'a new database in UTF8');
    is(pgsh('pg_restore -d bbtoken_alone alone.dump'), 'ok', 'the dump restored there');
    is(connects('other', 'bbtoken_alone'), 1, 'another role of the cluster may connect');
    is(db_settings('bbtoken_alone'), '', 'no setting of its own');
    is(setting('log_error_verbosity', 'bbtoken_alone'), 'default', '  log_error_verbosity is not terse');
    BBT::PgDirect::disconnect($env->pg_port);
    is(pgsh('dropdb bbtoken_alone'), 'ok', 'dropped');
};

is(sh($moved), 'ok', "the README's commands");
my @dirs = glob "$vartmp/bbtoken-move.*";
is(scalar @dirs, 2, 'a directory of the dump each time');
for my $d (@dirs) {
    my @st = stat $d;
    is(sprintf('%o', $st[2] & 07777), '700', "  $d: postgres's alone");
    is(scalar getpwuid($st[4]), 'postgres', '  its owner') if $BBT::Util::IS_ROOT;
}
is($env->psql('SELECT getdatabaseencoding()'), 'UTF8', 'the new database is in UTF8');
is($env->psql('SELECT getdatabaseencoding()', db => 'bbtoken_old'), 'SQL_ASCII', '  the old one, renamed, as it was');
is($env->psql("SELECT has_database_privilege('public', 'bbtoken', 'CONNECT')"), 'f', 'PUBLIC may not connect');
is(connects('other', 'bbtoken'), 0, '  another role may not');
is(connects('bbtoken_httpd', 'bbtoken'), 1, '  the lookup role may');
is(connects('bbtoken_api', 'bbtoken'), 1, "  the API's role may");
is(db_settings('bbtoken'), $SETTINGS, "the old database's settings");
is(setting($_, 'bbtoken'), $SET{$_}, "  $_ is $SET{$_} in a new session") for sort keys %SET;

$env->httpd_start;
is($env->get($UP, auth_bearer($tok))->{status}, 200, 'the token works on the new database');
is($env->psql("SELECT name FROM bbtoken_tokens WHERE id = '$bad'"), 'cafe (mended)', '  the mended name is there');
my ($rc, $out, $err) = $env->cli_raw('--db', $env->superuser_conninfo, 'db', 'check');
is($rc, 0, 'bbtoken db check') or diag "$out$err";
$env->cli_ok('revoke', $id);
is($env->get($UP, auth_bearer($tok))->{status}, 401, 'revoked there: refused');
is_deeply([$env->crash_lines], [], 'no httpd child crashed');
done_testing;
