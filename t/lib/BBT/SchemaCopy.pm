package BBT::SchemaCopy;
# The schema loaded a second time in one database, in a schema of its own
# (bbt2), with the lookup role's grants there: for the tests of a
# DBDInitSQL that sets the server's sessions to it while public holds
# another copy (the cache's listener, a reconnected pooled connection).
#
#   use BBT::SchemaCopy qw(schema_copy cli_in token_in copy_to_public);
#   schema_copy($env, 'bbt2');
#   my ($token, $id) = token_in($env, 'bbt2', 'alice', 'ci');
use strict;
use warnings;
use Exporter 'import';
use BBT::Env qw(parse_token);
use BBT::Util;

our @EXPORT_OK = qw(schema_copy cli_in token_in copy_to_public);

# sql/schema.sql and sql/grants.sql (for bbtoken_httpd) into schema $s.
sub schema_copy {
    my ($env, $s) = @_;
    my ($dir, $root) = ($env->dir, $BBT::Env::ROOT);
    BBT::Util::spew("$dir/run/$s.sql", "CREATE SCHEMA $s;\nSET search_path TO $s;\n\\i $root/sql/schema.sql\n");
    $env->psql(undef, file => "$dir/run/$s.sql");
    BBT::Util::spew("$dir/run/$s-grants.sql", "SET search_path TO $s;\n"
                    . "GRANT USAGE ON SCHEMA $s TO :\"role\";\n\\i $root/sql/grants.sql\n");
    $env->psql(undef, file => "$dir/run/$s-grants.sql", vars => ['role=bbtoken_httpd']);
}

# The CLI on schema $s, as the server's sessions read it; its output, or
# die.
sub cli_in {
    my ($env, $s, @args) = @_;
    my ($rc, $out, $err) = $env->cli_raw('--db', $env->superuser_conninfo . " options='-csearch_path=$s'", @args);
    die "bbtoken @args: $rc\n$out$err" if $rc;
    return $out;
}

# A new token of $owner's named $name in schema $s: (token, id).
sub token_in {
    my ($env, $s, $owner, $name) = @_;
    my $out = cli_in($env, $s, 'create', $owner, '--name', $name);
    chomp $out;
    my $p = parse_token($out) or die "no token printed: $out";
    return ($out, $p->{id});
}

# Every row of $s's tables into public's (emptied first), as they are:
# the triggers and foreign keys asleep, the generated columns made again,
# then the lookup rows as public's own triggers would have written them.
# What `db check --repair` said.
sub copy_to_public {
    my ($env, $s) = @_;
    my @tables = split /\n/, $env->psql("SELECT tablename FROM pg_tables WHERE schemaname = '$s' "
                                        . "AND tablename IN (SELECT tablename FROM pg_tables "
                                        . "WHERE schemaname = 'public') ORDER BY 1");
    my @sql = ('SET session_replication_role = replica',
               'TRUNCATE ' . join(', ', map { "public.$_" } @tables));
    for my $t (@tables) {
        my $cols = $env->psql("SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
                              . "WHERE attrelid = '$s.$t'::regclass AND attnum > 0 AND NOT attisdropped "
                              . "AND attgenerated = ''");
        push @sql, "INSERT INTO public.$t ($cols) OVERRIDING SYSTEM VALUE SELECT $cols FROM $s.$t";
    }
    $env->psql(join ";\n", @sql);
    my ($rc, $out, $err) = $env->cli_raw('--db', $env->superuser_conninfo, 'db', 'check', '--repair');
    return "$rc $out$err";
}

1;
