# A database an earlier release made in SQL_ASCII, moved into one in UTF8
# by the README's commands, run as they are written (Install, after the
# encodings): a name that is not UTF-8 stops the dump, named, where a dump
# without -E UTF8 carried its bytes into the new database unchecked (and
# failed bbtoken_lookup's rows whole); once
# it is mended the new database is in UTF8 and serves the old tokens, and
# it is as closed as the old one was.  pg_dump without --create carries
# neither the database's privileges nor its settings: restored alone
# (the control), the new database lets every role of the cluster connect
# (CONNECT to PUBLIC, which grants.sql revoked on the old one) and keeps
# none of the ALTER DATABASE settings Install asks for (log_error_verbosity
# terse, log_parameter_max_length and its _on_error 0), which keep hashes
# and parameters out of PostgreSQL's log.  The README's steps run
# grants.sql and grants-api.sql again and make the settings again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp ();
use BBT::Env qw(auth_bearer run_cmd);

my $ROOT = $BBT::Env::ROOT;

# The README's block of commands that moves the database: the indented
# lines from its pg_dump on.
my $readme = BBT::Util::slurp("$ROOT/README");
my ($block) = $readme =~ /^((?:    pg_dump .*-f bbtoken\.dump bbtoken\n)(?:    \S.*\n)+)/m;
ok($block, "the README's commands that move the database") or BAIL_OUT('no such block in the README');
$block =~ s/^    //mg;
my @steps = split /\n/, $block;
like($steps[0], qr/^pg_dump -E UTF8 /, '  a dump in UTF-8');
like($steps[2], qr/^createdb -E UTF8 /, '  a new database in UTF8');

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

my $dir = $env->dir . '/scratch/move';
mkdir $dir or die "$dir: $!";
symlink "$ROOT/sql", "$dir/sql" or die "$dir/sql: $!";
my %pgenv = (PGHOST => '127.0.0.1', PGPORT => $env->pg_port, PGUSER => 'postgres', PGCONNECT_TIMEOUT => 5,
             PATH => "$BBT::Env::PGBIN:$ENV{PATH}");
sub sh {
    my ($line) = @_;
    my ($rc, $out, $err) = run_cmd(cmd => ['sh', '-c', $line], cwd => $dir, env => \%pgenv,
                                   tmp => $env->dir . '/run', timeout => 120);
    return $rc ? "exit $rc: $err" : 'ok';
}

$env->httpd_stop;
BBT::PgDirect::disconnect($env->pg_port);

subtest 'a name that is not UTF-8' => sub {
    like(sh($steps[0]), qr/^exit 1: .*Dumping the contents of table "bbtoken_\w+" failed.*invalid byte sequence for encoding "UTF8": 0xe9/s,
         "the README's pg_dump refuses it, naming the table");
    is(sh('pg_dump -Fc -f latin1.dump bbtoken'), 'ok', 'control: without -E UTF8 it is dumped');
    is(sh('createdb -E UTF8 -T template0 bbtoken_bytes'), 'ok', '  a new database in UTF8');
    like(sh('pg_restore -d bbtoken_bytes latin1.dump'), qr/^exit 1: .*COPY failed for table "bbtoken_lookup"/s,
         '  restored there, bbtoken_lookup\'s rows refused');
    is($env->psql("SELECT encode(textsend(name), 'hex') FROM bbtoken_tokens WHERE id = '$bad'", db => 'bbtoken_bytes'),
       unpack('H*', "caf\xe9 (latin1)"), "  the token's row holds its bytes, unchecked");
    is($env->psql('SELECT count(*) FROM bbtoken_lookup', db => 'bbtoken_bytes'), 0, '  bbtoken_lookup none');
    BBT::PgDirect::disconnect($env->pg_port);
    is(sh('dropdb bbtoken_bytes'), 'ok', '  dropped');
    # Mended in the old database, as the README says: the name, and its
    # audit records deleted.
    $env->psql("UPDATE bbtoken_tokens SET name = 'cafe (mended)' WHERE id = '$bad'");
    $env->psql("DELETE FROM bbtoken_audit WHERE token_id = '$bad'");
    BBT::PgDirect::disconnect($env->pg_port);
};

subtest 'control: the dump restored alone carries neither the privileges nor the settings' => sub {
    is(sh($steps[0]), 'ok', $steps[0]);
    is(sh('createdb -E UTF8 -T template0 bbtoken_alone'), 'ok', 'a new database in UTF8');
    is(sh('pg_restore -d bbtoken_alone bbtoken.dump'), 'ok', 'the dump restored there');
    is(connects('other', 'bbtoken_alone'), 1, 'another role of the cluster may connect');
    is(db_settings('bbtoken_alone'), '', 'no setting of its own');
    is(setting('log_error_verbosity', 'bbtoken_alone'), 'default', '  log_error_verbosity is not terse');
    BBT::PgDirect::disconnect($env->pg_port);
    is(sh('dropdb bbtoken_alone'), 'ok', 'dropped');
};

for my $step (@steps) {
    is(sh($step), 'ok', $step);
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
