package BBT::Migrations;

# What the schema-upgrade tests (t/30-migrations.t,
# t/30-migrations-versions.t, and those that start httpd on an older
# schema) share: the migrations there are, databases
# made as the release of an earlier version made them, and the CLI run on
# one of them.  Each function that reaches the database takes the test's
# environment (BBT::Env) first.

use strict;
use warnings;
use Exporter 'import';
use BBT::Util ();
use Test::More ();

our @EXPORT_OK = qw(later_migrations latest_version cli_db psql_script create_db db_at env_before_skips);

my $ROOT = $BBT::Util::ROOT;

# Every migration's file, in the order they apply.
sub _files { return sort glob "$ROOT/sql/migrations/0*.sql" }

# The migrations after the first, as their names (0002_lifecycle, ...).
sub later_migrations {
    my @later = map { m{/(\d{4}_\w+)\.sql\z} ? $1 : () } _files();
    shift @later;
    return @later;
}

# The version the latest migration brings a database to.
sub latest_version {
    my ($v) = (later_migrations())[-1] =~ /^0*(\d+)_/;
    return $v;
}

# bbtoken --db <the superuser's conninfo for database $db> @args: (exit
# code, stdout, stderr).
sub cli_db {
    my ($env, $db, @args) = @_;
    return $env->cli_raw('--db', $env->superuser_conninfo($db), @args);
}

# Run psql script $text (saved as scratch/$name.sql), connected first to
# the database postgres: one psql where there would be several (each is a
# process and a connection, a fifth of a second and more on a busy
# machine).  Each statement commits on its own, as with one psql each.
sub psql_script {
    my ($env, $name, $text) = @_;
    my $file = $env->dir . "/scratch/$name.sql";
    BBT::Util::spew($file, $text);
    $env->psql(undef, db => 'postgres', file => $file);
}

# What psql runs to make new database $db: CREATE DATABASE with $how after
# the name, then a connection to it.
sub create_db {
    my ($db, $how) = @_;
    return "CREATE DATABASE $db" . ($how ? " $how" : '') . ";\n\\c $db\n";
}

# A new database $db as the release of version $v made it (sql/schema.sql of
# the day: the migrations up to $v); CREATE DATABASE takes $how after the
# name.  The version it is at.
sub db_at {
    my ($env, $db, $v, $how) = @_;
    my @upto = grep { m{/(\d{4})_} && $1 <= $v } _files();
    psql_script($env, $db, join '', create_db($db, $how), "\\ir $upto[0]\n",
                map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @upto[1 .. $#upto]);
    my ($at) = $upto[-1] =~ m{/0*(\d+)_};
    return $at;
}

# An environment (BBT::Env, %opt passed on) whose database is at version
# 58, the last before changes could skip their notification (0059), with
# the roles' grants as they were then (no bbtoken_notify_skips), and httpd
# started on it.  The test's assertion that it is there.
sub env_before_skips {
    my (%opt) = @_;
    require BBT::Env;
    my $from = 58;
    my @upto = grep { m{/(\d{4})_} && $1 > 1 && $1 <= $from } _files();
    my $env = BBT::Env->new(%opt, httpd => 0, grants => 0,
                            schema_files => ["$ROOT/sql/migrations/0001_initial.sql"])->start;
    BBT::Util::spew($env->dir . '/scratch/upto.sql', join '', map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @upto);
    $env->psql(undef, file => $env->dir . '/scratch/upto.sql');
    Test::More::is($env->psql('SELECT version FROM bbtoken_schema'), $from, "the database is at version $from");
    BBT::Util::spew($env->dir . '/scratch/grants-connect.sql', BBT::Util::slurp("$ROOT/sql/grants-connect.sql"));
    for my $f (['grants.sql', 'bbtoken_httpd'], ['grants-api.sql', 'bbtoken_api']) {
        my $sql = BBT::Util::slurp("$ROOT/sql/$f->[0]");
        $sql =~ s/^GRANT SELECT ON bbtoken_notify_skips TO :"role";\n//m
            or die "$f->[0]: no grant on bbtoken_notify_skips";
        BBT::Util::spew($env->dir . "/scratch/$f->[0]", $sql);
        $env->psql(undef, file => $env->dir . "/scratch/$f->[0]", vars => ["role=$f->[1]"]);
    }
    $env->write_cgi;
    $env->httpd_start;
    return $env;
}

1;
