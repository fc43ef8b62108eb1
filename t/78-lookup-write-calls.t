# A bulk revocation rewrites its tokens' rows in bbtoken_lookup (the
# trigger's bbtoken_lookup_write), and the stored column packed is
# computed by bbtoken_lookup_pack for each row written.  Its nine field
# texts are bbtoken_lookup_text's, which PostgreSQL inlines into
# bbtoken_lookup_pack's plan since migration 36; called through the
# function manager instead, they took most of a 1,000-token revocation's
# time on a big site (sql/migrations/0036_lookup_write_plan.sql).
# PostgreSQL counts (track_functions) the calls of a SQL function it runs
# and never those of one it inlined: the revocation calls
# bbtoken_lookup_pack and never bbtoken_lookup_text.  The rows written are
# the ones the live tables give, a name's length counted in UTF-8 bytes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $N = 20;
my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add('alice');
my @ids = $env->tokens_insert('alice', $N, name => "caf\xc3\xa9");
my $in = join ', ', map {"'$_'"} @ids;

# One session (psql, not this process's connection): the counts are the
# transaction's own.
my $pack = 'bbtoken_lookup_pack(text, text, boolean, boolean, bigint, bigint,'
         . ' bigint, bigint, text, text, text, text, text, text, text, text, text)';
my $calls = $env->psql("SET track_functions = 'all';"
                       . " UPDATE bbtoken_tokens SET revoked_at = now() WHERE id IN ($in);"
                       . " SELECT pg_stat_get_xact_function_calls('$pack'::regprocedure)"
                       . " || ' ' || COALESCE(pg_stat_get_xact_function_calls("
                       . "'bbtoken_lookup_text(text)'::regprocedure), 0)",
                       user => 'postgres');
my ($pack_calls, $text_calls) = split / /, $calls;
cmp_ok($pack_calls, '>=', $N, "revoking $N tokens runs bbtoken_lookup_pack for each row");
is($text_calls, 0, 'and never runs bbtoken_lookup_text through the function manager (inlined)');

is($env->psql("SELECT count(*) FROM bbtoken_lookup WHERE id IN ($in) AND revoked"), $N,
   'every revoked token\'s row says so');
is($env->psql("SELECT count(*) FROM bbtoken_lookup l JOIN bbtoken_lookup_rows(ARRAY[$in]) r"
              . ' USING (id) WHERE l IS DISTINCT FROM r'), 0,
   'each row, packed included, is what the live tables give');
like($env->psql("SELECT packed FROM bbtoken_lookup WHERE id = '$ids[0]'"),
     qr/ 7:caf\xc3\xa9 1 5:alice /, 'a name\'s length in packed is its UTF-8 bytes\'');

done_testing;
