#!/usr/bin/perl
# The tables in schemas of the site's own whose names SQL must quote, each
# in the database beside public's copy, set up as Install says (the search
# path of psql, the CLI and httpd's sessions set to it).  "BBT", beside a
# schema bbt, made by `db upgrade --init` as its owner: migration 26 once
# found its schema by reading the name as SQL, took bbt for it, and left
# 13 of "BBT"'s 14 lookup triggers firing for ordinary sessions only (db
# check said so).  "Tok-Ens Old" (a dash and a space), made as the
# release of version 20 made it, with a token, then brought up by `db
# upgrade`: there 26 stopped the upgrade ("schema "tok-ens" does not
# exist" for "Tok-Ens").  Its search path is given to psql and the CLI
# with the backslashes Install writes before the space (PostgreSQL cuts
# PGOPTIONS and options= at white space; libpq reads --db's backslashes
# first).  The grants files give
# their roles the schema the tables are in (they named public); httpd's
# sessions set to it (DBDInitSQL), the old token authenticates, from the
# cache, and its revocation by the CLI is heard; notify reads the
# schema's tokens.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer run_cmd);
use BBT::Util;
use BBT::Cache qw(served_from_cache until_status wait_log settle log_mark);
use BBT::Migrations qw(latest_version);

my $env = BBT::Env->new(httpd => 0)->start;
my $dir = $env->dir;
my $root = $BBT::Env::ROOT;
my $LATEST = latest_version();

# Install's words: a backslash before each white space (and backslash)
# of PGOPTIONS' and options=' words, "Tok-Ens\ Old"; in --db, one more
# before each of those for libpq, "Tok-Ens\\\ Old".
sub pg_word { (my $w = $_[0]) =~ s/([\s\\])/\\$1/g; return $w }

# The CLI with its search path set to schema $q (quoted) when it connects,
# as Install says.
sub cli_in {
    my ($q, @args) = @_;
    return $env->cli_raw('--db', $env->superuser_conninfo . ' options=-csearch_path=' . pg_word(pg_word($q)), @args);
}

# psql on file $file (with @vars), its search path schema $q (quoted),
# set through PGOPTIONS as Install says: (exit code, stdout, stderr).
sub psql_in {
    my ($q, $file, @vars) = @_;
    return psql_pgoptions('-c search_path=' . pg_word($q), $file, @vars);
}

sub psql_pgoptions {
    my ($pgoptions, $file, @vars) = @_;
    return run_cmd(cmd => ["$BBT::Env::PGBIN/psql", '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1',
                           '-p', $env->pg_port, '-U', 'postgres', '-d', 'bbtoken', (map { ('-v', $_) } @vars),
                           '-f', $file],
                   tmp => "$dir/run", env => { PGOPTIONS => $pgoptions });
}

# The lookup's triggers in schema $s that fire always, of how many.
sub lookup_always {
    my ($s) = @_;
    return $env->psql("SELECT count(*) FILTER (WHERE g.tgenabled = 'A') || '/' || count(*) FROM pg_trigger g "
                      . "JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                      . "WHERE n.nspname = '$s' AND g.tgname LIKE 'bbtoken\\_%\\_lookup\\_%'");
}

# ---- "BBT" beside bbt ----------------------------------------------------
# Its owner a role that is no superuser, whose search path the database
# sets (ALTER ROLE ... IN DATABASE), as Install says.
$env->psql('CREATE SCHEMA bbt; CREATE ROLE bbt_owner LOGIN; CREATE SCHEMA "BBT" AUTHORIZATION bbt_owner; '
           . 'ALTER ROLE bbt_owner IN DATABASE bbtoken SET search_path = "BBT"; '
           . 'GRANT CONNECT ON DATABASE bbtoken TO bbt_owner');
my ($rc, $out, $err) = $env->cli_as('bbt_owner', undef, 'db', 'upgrade', '--init');
is($rc, 0, 'db upgrade --init in "BBT", as its owner') or diag $err;
is(lookup_always('BBT'), '14/14', "  the lookup's triggers fire always");
($rc, $out, $err) = $env->cli_as('bbt_owner', undef, 'db', 'check');
is("$rc $out$err", "0 bbtoken_lookup: 0 tokens, 0 rows wrong; 14 lookup triggers, 0 not firing always\n",
   '  db check: all well');
is($env->psql("SELECT count(*) FROM pg_class WHERE relnamespace = 'bbt'::regnamespace"), 0, '  bbt left empty');
# A superuser's upgrade there is refused (the owner is no superuser), and
# first gives the owner what superusers made there of ours.
$env->psql('CREATE FUNCTION "BBT".bbtoken_extra() RETURNS integer LANGUAGE sql AS $$SELECT 1$$');
($rc, $out, $err) = cli_in('"BBT"', 'db', 'upgrade');
is($rc, 1, "a superuser's db upgrade in \"BBT\": refused");
like($err, qr/^bbtoken: the schema's tables belong to role bbt_owner, which is no superuser/, '  says why');
like($out, qr/^gave 1 of the schema's objects that superusers owned to bbt_owner\b/,
     '  after giving its function to the owner') or diag $out;
is($env->psql(q{SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE oid = '"BBT".bbtoken_extra()'::regprocedure}),
   'bbt_owner', '  which owns it');

# ---- "Tok-Ens Old" at version 20, upgraded -------------------------------
my $S = 'Tok-Ens Old';
my $Q = qq{"$S"};
is(pg_word($Q), '"Tok-Ens\\ Old"', "PGOPTIONS' word as Install writes it");
is(pg_word(pg_word($Q)), '"Tok-Ens\\\\\\ Old"', "  and --db's options=");
my @upto = grep { m{/(\d{4})_} && $1 <= 20 } sort glob "$root/sql/migrations/0*.sql";
$env->psql("CREATE SCHEMA $Q");
BBT::Util::spew("$dir/run/at20.sql", join '', "\\ir $upto[0]\n", map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @upto[1 .. $#upto]);
($rc, $out, $err) = psql_pgoptions("-c search_path=$Q", "$dir/run/at20.sql");
isnt($rc, 0, 'PGOPTIONS without the backslash: psql is refused');
like($err, qr/FATAL:  invalid value for parameter "search_path": ""Tok-Ens"/, '  as Install says') or diag $err;
is($env->psql(qq{SELECT count(*) FROM pg_class WHERE relnamespace = '$Q'::regnamespace}), 0, '  nothing made');
($rc, $out, $err) = psql_in($Q, "$dir/run/at20.sql");
is($rc, 0, "the release of version 20 makes its schema in $Q") or diag $err;
is($env->psql(qq{SELECT version FROM $Q.bbtoken_schema}), 20, "$Q is at version 20");
my ($ins, $tok, $id) = $env->token_insert_sql('alice', project => 'PROJECT_READ', repo => 'REPO_READ');
$env->psql(qq{BEGIN; SET LOCAL search_path TO $Q; INSERT INTO bbtoken_users (name) VALUES ('alice'); }
           . qq{INSERT INTO bbtoken_project_grants SELECT id, 'PROJ', 'PROJECT_WRITE' FROM bbtoken_users; $ins; COMMIT});

($rc, $out, $err) = cli_in($Q, 'db', 'upgrade');
is($rc, 0, "db upgrade in $Q") or diag $err;
like($out, qr/^applied 0026_lookup$/m, '  through migration 26');
is($env->psql(qq{SELECT version FROM $Q.bbtoken_schema}), $LATEST, "  to version $LATEST");
is(lookup_always($S), '14/14', "  the lookup's triggers fire always");
($rc, $out, $err) = cli_in($Q, 'db', 'check');
is("$rc $out$err", "0 bbtoken_lookup: 1 token, 0 rows wrong; 14 lookup triggers, 0 not firing always\n",
   '  db check: all well');
# Or with psql's PGOPTIONS and no options= in --db.
($rc, $out, $err) = $env->cli_env({ PGOPTIONS => '-c search_path=' . pg_word($Q) }, '--db', $env->superuser_conninfo,
                                  'db', 'check');
is("$rc $out$err", "0 bbtoken_lookup: 1 token, 0 rows wrong; 14 lookup triggers, 0 not firing always\n",
   '  the same with PGOPTIONS in its environment');
# A role's own search path, set once (ALTER ROLE), as SQL.
$env->psql(qq{CREATE ROLE tok_reader LOGIN; GRANT CONNECT ON DATABASE bbtoken TO tok_reader; }
           . qq{GRANT USAGE ON SCHEMA $Q TO tok_reader; ALTER ROLE tok_reader IN DATABASE bbtoken SET search_path = $Q});
is($env->psql('SELECT current_schemas(false)', user => 'tok_reader'), qq({$Q}), "ALTER ROLE: its sessions find $Q");

# The grants files as Install runs them, with the same search path;
# nothing more.  They take CREATE there from their roles.
$env->psql(qq{GRANT CREATE ON SCHEMA $Q TO bbtoken_httpd, bbtoken_api});
for (['grants.sql', 'bbtoken_httpd'], ['grants-api.sql', 'bbtoken_api']) {
    my ($f, $role) = @$_;
    ($rc, $out, $err) = psql_in($Q, "$root/sql/$f", "role=$role");
    is($rc, 0, $f) or diag $err;
    is($env->psql("SELECT has_schema_privilege('$role', '$S', 'USAGE') "
                  . "|| ' ' || has_schema_privilege('$role', '$S', 'CREATE')"),
       'true false', "  $role may use $Q, and create nothing there");
}

# ---- httpd's sessions in "Tok-Ens Old" -----------------------------------
$env->{extra_conf} = "DBDInitSQL \"SET search_path TO \\\"$S\\\"\"\n";
my $mark = log_mark($env);
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up (BBT309)');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
is($env->psql('SELECT count(*) FROM public.bbtoken_tokens'), 0, 'public holds no token');
is($env->get($UP, auth_bearer($tok))->{status}, 200, "version 20's token authenticates");
settle();
ok(served_from_cache($env, $UP, auth_bearer($tok), $id), '  from the cache');
($rc, $out, $err) = cli_in($Q, 'revoke', $id);
is($rc, 0, 'revoked by the CLI') or diag $err;
my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($tok), 401);
ok($ok, "  heard: refused ($tries requests)") or diag $seen;

($rc, $out, $err) = cli_in($Q, 'user', 'set', 'alice', '--email', 'alice@example.com');
is($rc, 0, 'an e-mail address for alice') or diag $err;
($rc, $out, $err) = cli_in($Q, 'create', 'alice', '--name', 'soon', '--expiry-days', '5');
is($rc, 0, 'a token that expires in 5 days') or diag $err;
($rc, $out, $err) = cli_in($Q, 'notify', '--dry-run', '--sendmail', '/bin/true', '--from', 'tokens@example.com');
is($rc, 0, 'notify --dry-run') or diag $err;
like($out, qr/\bwould mail alice\b/, '  would tell alice of it') or diag $out;

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
