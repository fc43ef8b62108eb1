# A user's slug, and a user's name in any case, by ASCII's case whatever
# the database's locale.  In a database whose LC_CTYPE is Turkish, lower()
# makes "I" a dotless i (U+0131); the module reads the access-tokens API's
# paths and personal keys by A-Z alone (bbt_input_user_slug).  There Ivan's
# slug is ivan all the same: he manages his own tokens and his personal
# project ~ivan, a global admin's /users/Ivan reaches him, and no user ivan
# may join him (the two would share every URL); the CLI finds him by his
# name in any case.  A database made there by version 57 is mended by the
# upgrade: Ivan's slug, and the level map his tokens' lookup rows carry;
# users Ivan and ivan stop it, named.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use BBT::Env qw(run_cmd);
use BBT::Rest qw(rest_env);
use BBT::Migrations qw(cli_db db_at);

# The locale built where PostgreSQL's server finds it (LOCPATH): the
# machine need not have generated it.  localedef comes with libc (libc-bin);
# build/deps.sh installs the definitions it reads (locales).
my ($localedef) = grep { -x } map {"$_/localedef"} split /:/, $ENV{PATH};
plan skip_all => 'no localedef to build a Turkish locale with' unless $localedef;
my $loc = tempdir('bbt-locale-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);
my ($rc, $out, $err) = run_cmd(cmd => [$localedef, '-i', 'tr_TR', '-f', 'UTF-8', "$loc/tr_TR.UTF-8"],
                               timeout => 120);
if (!ok($rc <= 1 && -d "$loc/tr_TR.UTF-8", 'localedef builds tr_TR.UTF-8')) {
    diag "($rc) $out$err";
    done_testing;
    exit;
}
run_cmd(cmd => ['chmod', '-R', 'a+rX', $loc]);
my $TR = 'tr_TR.UTF-8';

my $A = '/rest/access-tokens/1.0';
my $env = rest_env(env => { db_locale => $TR, pg_vars => { LOCPATH => $loc } },
                   passwords => [Ivan => 'Ivan-Pa55', ivan => 'ivan-Pa55', root => 'root-Pa55'],
                   users => ['Ivan', [root => '--admin']]);
is($env->psql("SELECT current_setting('lc_ctype') || ' ' || (lower('I') = U&'\\0131')"), "$TR true",
   "the database's LC_CTYPE is $TR, whose lower() makes I a dotless i");
is($env->psql("SELECT slug FROM bbtoken_users WHERE name = 'Ivan'"), 'ivan', "Ivan's slug is ivan");

my $ids = sub { join ',', sort map { $_->{id} } @{ (($_[0]{json} || {})->{values}) || [] } };
my $r = $env->rest(PUT => "$A/users/Ivan", as => 'Ivan', json => { name => 'laptop', permissions => ['REPO_READ'] });
is($r->{status}, 200, 'PUT users/Ivan as Ivan: he creates a token of his own') or diag $r->{content};
my $mine = ($r->{json} || {})->{id} // 'none';
for my $path ("$A/users/Ivan", "$A/users/ivan") {
    $r = $env->rest(GET => $path, as => 'Ivan');
    is($r->{status}, 200, "GET $path as Ivan") or diag $r->{content};
    is($ids->($r), $mine, '  lists his token');
}
$r = $env->rest(GET => "$A/users/Ivan", as => 'root');
is($r->{status}, 200, 'GET users/Ivan as the global admin') or diag $r->{content};
is($ids->($r), $mine, "  lists Ivan's token");

$r = $env->rest(PUT => "$A/projects/~Ivan", as => 'Ivan',
                json => { name => 'home', permissions => ['PROJECT_READ', 'REPO_READ'] });
is($r->{status}, 200, 'PUT projects/~Ivan as Ivan: a token of his personal project') or diag $r->{content};
my $home = ($r->{json} || {})->{id} // 'none';
is($env->psql("SELECT project_key FROM bbtoken_tokens WHERE id = '$home'"), '~ivan', '  stored under ~ivan');
is($env->psql("SELECT levels FROM bbtoken_lookup WHERE id = '$mine'"), '~ivan:3',
   "his own token's lookup row carries his personal project as ~ivan");

($rc, $out, $err) = $env->cli('user', 'add', 'ivan');
ok($rc == 1 && $err =~ /user already exists: ivan/, 'user add ivan beside Ivan: refused') or diag "$rc $out$err";
($rc, $out, $err) = $env->psql_try("INSERT INTO bbtoken_users (name) VALUES ('ivan')");
ok($rc != 0 && $err =~ /bbtoken_users_(?:slug|name)_key/, '  by plain SQL too, by a unique index') or diag $err;
is($env->psql("SELECT string_agg(name, ',') FROM bbtoken_users WHERE lower(name COLLATE \"C\") = 'ivan'"), 'Ivan',
   '  Ivan alone');
like($env->cli_ok('user', 'show', 'IVAN'), qr/^name: Ivan\nslug: ivan\n/, 'user show IVAN finds Ivan');
like($env->cli_ok('user', 'show', 'ivan'), qr/^name: Ivan\n/, 'user show ivan too');
like($env->cli_ok('list', 'ivan'), qr/^\Q$mine\E\b/m, "list ivan: Ivan's token");

subtest 'the upgrade to version 58 of a database made in this locale' => sub {
    my $how = "ENCODING 'UTF8' TEMPLATE template0 LC_COLLATE '$TR' LC_CTYPE '$TR'";
    db_at($env, 'trslug', 57, $how);
    # A user ivan, whose personal project had a token, left; Ivan came.
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('ivan')", db => 'trslug');
    $env->psql("INSERT INTO bbtoken_tokens (id, project_key, name, project_perm, repo_perm, salt, secret_hash)"
               . " VALUES ('300000000001', '~ivan', 'of-ivan', 'PROJECT_READ', 'REPO_READ', repeat('a', 32),"
               . " repeat('c', 64))", db => 'trslug');
    $env->psql("DELETE FROM bbtoken_users WHERE name = 'ivan'", db => 'trslug');
    $env->psql("INSERT INTO bbtoken_users (name, email) VALUES ('Ivan', 'ivan\@example.com')", db => 'trslug');
    $env->psql("INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
               . " SELECT '300000000002', id, 'laptop', 'PROJECT_READ', 'REPO_READ', repeat('a', 32),"
               . " repeat('d', 64) FROM bbtoken_users WHERE name = 'Ivan'", db => 'trslug');
    is($env->psql("SELECT (slug = U&'\\0131van') || ' ' || (levels = U&'~\\0131van:3') FROM bbtoken_users,"
                  . " bbtoken_lookup l WHERE l.id = '300000000002'", db => 'trslug'),
       'true true', 'control: version 57 made Ivan\'s slug with a dotless i, and his level map');
    my ($rc, $out, $err) = cli_db($env, 'trslug', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    is($env->psql("SELECT slug FROM bbtoken_users", db => 'trslug'), 'ivan', "Ivan's slug is ivan");
    is($env->psql("SELECT levels FROM bbtoken_lookup WHERE id = '300000000002'", db => 'trslug'), '~ivan:3',
       "  his token's lookup row carries ~ivan");
    ($rc, $out, $err) = cli_db($env, 'trslug', 'db', 'check');
    is($rc, 0, '  db check finds the lookup true') or diag "$out$err";
    ($rc, $out, $err) = cli_db($env, 'trslug', 'notify', '--dry-run', '--from', 'tokens@git.example.com',
                               '--sendmail', '/bin/true');
    is($rc, 0, '  notify --dry-run') or diag "$out$err";
    unlike($out, qr/of-ivan/, "  Ivan is not mailed the revocation of the departed ivan's token") or diag $out;

    db_at($env, 'trclash', 57, $how);
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('Ivan'), ('ivan'), ('bob')", db => 'trclash');
    ($rc, $out, $err) = cli_db($env, 'trclash', 'db', 'upgrade');
    ok($rc == 1 && $err =~ /share a slug[^\n]*\Q$TR\E[^\n]*: Ivan, ivan; rename/, 'users Ivan and ivan: refused, named')
        or diag "$rc $out$err";
    is($env->psql('SELECT version FROM bbtoken_schema', db => 'trclash'), 57, '  still version 57');
};

done_testing;
