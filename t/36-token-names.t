# One rule for token names, the same everywhere: 1 to 255 characters of
# UTF-8, no control character (Unicode's Cc: C0, DEL and C1), no invisible
# formatting character (U+202E and its kind, which make a name read as
# another: bbt_is_invisible), no white space first or last ("deploy " would
# read as "deploy").  The CLI, the
# REST API and the database refuse the same names with the same words; a
# refusal the database makes names no rule of the schema to the client,
# and none leaves the row (salt and hash) in PostgreSQL's log.  A database
# whose old rule let C1 names in is upgraded with those names made valid.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Encode qw(encode);
use POSIX ();
use JSON::PP ();
use BBT::Env;
use BBT::Assert;
use BBT::Rest qw(rest_env);

my $ROOT = $BBT::Env::ROOT;
my $CTL = qr/token name must not contain control characters/;
my $INV = qr/token name must not contain invisible formatting characters/;
my $EDGE = qr/token name must not begin or end with white space/;
# Unicode's White_Space from U+0080 up, as a condition on code point cp
# (its controls and separators are refused anywhere, as controls or
# invisible characters).
my $WHITE_CP = 'cp IN (160, 5760, 8239, 8287, 12288) OR cp BETWEEN 8192 AND 8202';
# The invisible formatting characters (bbt_is_invisible), as a condition on
# code point cp.
my $INVISIBLE_CP = join ' OR ', map { /-/ ? 'cp BETWEEN ' . join(' AND ', map { hex } split /-/) : 'cp = ' . hex }
    qw(00AD 034F 061C 115F-1160 17B4-17B5 180E 200B-200F 2028-202E 2060-206F 3164 FEFF FFA0 FFF0-FFFB
       1BCA0-1BCA3 1D173-1D17A E0000-E00FF E01F0-E0FFF);
my $env = rest_env(login => 'bbtoken', passwords => [alice => 'alice-Pa55-word'], users => ['alice']);
my $B = '/rest/access-tokens/1.0/users/alice';
my $J = JSON::PP->new->utf8->canonical;
sub put_name {
    my ($name) = @_;
    return $env->rest(PUT => $B, as => 'alice', json => $J->encode({ name => $name, permissions => ['REPO_READ'] }));
}
sub message { my $r = shift; return ref $r->{json} eq 'HASH' ? $r->{json}{errors}[0]{message} // '' : '' }

# Every code point there is (but the surrogates, which text cannot hold):
# how many the database's rule judges otherwise than "refused exactly when
# it is in Cc or invisible" inside a name, and otherwise than "refused
# exactly when it is in Cc, invisible or white space, in those words"
# first and last, the rule the module's unit test checks
# bbt_input_token_name against.  Three million calls of the rule, seconds
# of one backend's time, on a function no subtest changes: asked for now,
# in a process of its own, and read by the last subtest, while the others
# go on.
my $SWEEP_PID = open(my $SWEEP, '-|') // die "fork: $!";
if (!$SWEEP_PID) {
    my $wrong = eval { $env->psql(<<"EOS") } // "the sweep failed: $@";
SELECT count(*) FILTER (WHERE (bbtoken_token_name_problem('n' || chr(cp) || 'n') IS NOT NULL)
                              <> (cp < 32 OR cp BETWEEN 127 AND 159 OR $INVISIBLE_CP))
       || ' ' ||
       count(*) FILTER (WHERE bbtoken_token_name_problem(chr(cp) || 'n') IS DISTINCT FROM edge
                           OR bbtoken_token_name_problem('n' || chr(cp)) IS DISTINCT FROM edge)
  FROM (SELECT cp, CASE WHEN cp < 32 OR cp BETWEEN 127 AND 159 THEN 'token name must not contain control characters'
                        WHEN $INVISIBLE_CP THEN 'token name must not contain invisible formatting characters'
                        WHEN cp = 32 OR $WHITE_CP THEN 'token name must not begin or end with white space'
                   END edge
          FROM generate_series(1, 1114111) cp WHERE cp NOT BETWEEN 55296 AND 57343) s
EOS
    print $wrong;
    close STDOUT;
    POSIX::_exit(0);    # none of the parent's END blocks or destructors
}

subtest 'the schema holds the rule once: its CHECK and its trigger call the same function' => sub {
    is($env->psql("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'bbtoken_tokens_name'"),
       'CHECK ((bbtoken_token_name_problem(name) IS NULL))', 'the CHECK is bbtoken_token_name_problem');
    is($env->psql("SELECT count(*) FROM pg_constraint WHERE conrelid = 'bbtoken_tokens'::regclass"
                  . " AND pg_get_constraintdef(oid) ~ 'cntrl'"), 0, 'no locale-dependent [[:cntrl:]] left');
    is($env->psql("SELECT bbtoken_token_name_problem(repeat('é', 256))"),
       'token name is longer than 255 characters', 'length in characters, the same words as the module');
    is($env->psql("SELECT bbtoken_token_name_problem('')"), 'token name must not be empty', 'empty');
    is($env->psql("SELECT bbtoken_token_name_problem(NULL) IS NULL"), 't', 'no name: no problem (NOT NULL says it)');
    # PostgreSQL counts the calls of a SQL function it runs through the
    # function manager, never those of one it inlined (migration 37): a
    # million names a second sweep, not a sixth of that.
    is($env->psql("SET track_functions = 'all';"
                  . " SELECT count(*) FROM generate_series(1, 50) n WHERE bbtoken_token_name_problem('n' || n) IS NULL;"
                  . " SELECT COALESCE(pg_stat_get_xact_function_calls("
                  . "'bbtoken_token_name_problem(text)'::regprocedure), 0)", user => 'postgres'),
       "50\n0", 'the rule is inlined where a query calls it');
};

my @bad = (["U+0085 (NEL)", "build\x{85}bot"], ["U+009B (CSI)", "ci \x{9b}31m"], ["U+0080", "\x{80}"],
           ['a tab', "a\tb"], ['DEL', "x\x{7f}"]);
my @hidden = (["U+202E (right-to-left override)", "ci\x{202e}yolped"], ["U+200B (zero-width space)", "de\x{200b}ploy"],
              ["U+2066 and U+2069 (an isolate)", "x\x{2066}y\x{2069}"], ["U+2028", "line\x{2028}sep"],
              ["U+FEFF", "\x{feff}ci"], ['a tag character', "ci\x{e0041}"]);
my @edge = (['a space last', 'deploy '], ['a space first', ' deploy'], ['spaces alone', '   '],
            ['U+00A0 last', "ci\x{a0}"], ['U+3000 (ideographic space) first', "\x{3000}ci"]);
my @good = (["U+00A0", "no\x{a0}break"], ['a check mark', "deploy ✓"], ['a variation selector', "ok ✔\x{fe0f}"],
            ['Hebrew letters', "שלום ci"], ['spaces inside', 'a  b']);

subtest 'the CLI' => sub {
    for my $c (@bad) {
        $env->cli_is("create, name with $c->[0]", ['create', 'alice', '--name', encode('UTF-8', $c->[1])], 1,
                     stderr => $CTL);
    }
    for my $c (@hidden) {
        $env->cli_is("create, name with $c->[0]", ['create', 'alice', '--name', encode('UTF-8', $c->[1])], 1,
                     stderr => $INV);
    }
    for my $c (@edge) {
        $env->cli_is("create, name with $c->[0]", ['create', 'alice', '--name', encode('UTF-8', $c->[1])], 1,
                     stderr => $EDGE);
    }
    for my $c (@good) {
        $env->cli_is("create, name with $c->[0]", ['create', 'alice', '--name', encode('UTF-8', $c->[1])], 0,
                     shape => 0);
    }
    $env->cli_is('user set --display-name with U+202E',
                 ['user', 'set', 'alice', '--display-name', encode('UTF-8', "Mallory \x{202e}nimda")], 1,
                 stderr => qr/display name must not contain invisible formatting characters/);
    $env->cli_is('create, a name that is not UTF-8', ['create', 'alice', '--name', "caf\xe9"], 1,
                 stderr => qr/token name is not valid UTF-8/);
};

subtest 'the REST API' => sub {
    for my $c (@bad) {
        my $r = put_name($c->[1]);
        is_status($r, 400, "PUT, name with $c->[0]");
        like(message($r), $CTL, '  the module\'s words');
    }
    for my $c (@hidden) {
        my $r = put_name($c->[1]);
        is_status($r, 400, "PUT, name with $c->[0]");
        like(message($r), $INV, '  the module\'s words');
    }
    for my $c (@edge) {
        my $r = put_name($c->[1]);
        is_status($r, 400, "PUT, name with $c->[0]");
        like(message($r), $EDGE, '  the module\'s words');
    }
    for my $c (@good) {
        is_status(put_name("$c->[1] (REST)"), 200, "PUT, name with $c->[0]");
    }
    my $id = put_name('to rename')->{json}{id};
    my $r = $env->rest(POST => "$B/$id", as => 'alice', json => $J->encode({ name => "re\x{85}named" }));
    is_status($r, 400, 'POST, a rename to a C1 name');
    like(message($r), $CTL, '  the same words');
    $r = $env->rest(POST => "$B/$id", as => 'alice', json => $J->encode({ name => "deploy\x{202e}ic" }));
    is_status($r, 400, 'POST, a rename to a name with U+202E');
    like(message($r), $INV, '  the same words');
    $r = $env->rest(POST => "$B/$id", as => 'alice', json => $J->encode({ name => 'to rename ' }));
    is_status($r, 400, 'POST, a rename to the name with a space after it');
    like(message($r), $EDGE, '  the same words');
};

subtest 'the database, asked directly, says the same and logs no row' => sub {
    my $uid = $env->psql("SELECT id FROM bbtoken_users WHERE name = 'alice'");
    for my $c ((map { [@$_, $CTL] } @bad), (map { [@$_, $INV] } @hidden), (map { [@$_, $EDGE] } @edge)) {
        (my $lit = $c->[1]) =~ s/'/''/g;
        my ($rc, $out, $err) = $env->psql_try(
            "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
            . " VALUES ('100000000099', $uid, '" . encode('UTF-8', $lit) . "', 'PROJECT_READ', 'REPO_READ',"
            . " repeat('a', 32), repeat('b', 64))");
        ok($rc != 0 && $err =~ $c->[2], "INSERT, name with $c->[0]: refused in the module's words")
            or diag "exit $rc: $err";
        unlike($err, qr/Failing row/, '  with no row in the message');
    }
    my ($rc, $out, $err) = $env->psql_try(
        "UPDATE bbtoken_tokens SET name = 'x' || chr(133) WHERE user_id = $uid");
    ok($rc != 0 && $err =~ $CTL, 'UPDATE to a C1 name: refused') or diag "exit $rc: $err";
    # Until the log holds the last refusal (a minute at most).
    my $log;
    for (1 .. 1200) {
        $log = $env->pg_log_text;
        last if $log =~ /STATEMENT:  UPDATE bbtoken_tokens SET name = 'x' \|\| chr\(133\)/;
        select undef, undef, undef, 0.05;
    }
    unlike($log, qr/Failing row/, "PostgreSQL's log holds no failing row (no salt, no hash)");
    like($log, $CTL, '  but it does say why');
};

subtest 'a refusal the database makes names no rule of the schema to the client' => sub {
    # A rule of the database the module does not know: the CHECK made
    # stricter, the friendly trigger off.  What the client hears is ours.
    $env->psql("ALTER TABLE bbtoken_tokens DROP CONSTRAINT bbtoken_tokens_name;"
               . " ALTER TABLE bbtoken_tokens ADD CONSTRAINT bbtoken_tokens_name"
               . " CHECK (bbtoken_token_name_problem(name) IS NULL AND name <> 'forbidden') NOT VALID;"
               . " ALTER TABLE bbtoken_tokens DISABLE TRIGGER bbtoken_tokens_name;"
               . " ALTER TABLE bbtoken_tokens ADD CONSTRAINT bbtoken_test_rule CHECK (name <> 'ruled out') NOT VALID");
    my $r = put_name('forbidden');
    is_status($r, 400, 'REST: the CHECK refuses');
    like(message($r), qr/^token name must not be empty, longer than 255 characters, begin or end with white space or contain control/,
         '  in words');
    unlike(message($r), qr/bbtoken_|constraint|Failing/, '  naming no constraint');
    $r = put_name('ruled out');
    is_status($r, 400, 'REST: a CHECK this release does not know');
    is(message($r), 'the database refused the value: it breaks a rule of the schema', '  in general words');
    my ($rc, $out, $err) = $env->cli('create', 'alice', '--name', 'forbidden');
    ok($rc == 1 && $err =~ /token name must not be empty, longer/ && $err !~ /bbtoken_tokens|constraint/,
       'the CLI: in words, naming no constraint') or diag "exit $rc: $err";
    ($rc, $out, $err) = $env->cli('create', 'alice', '--name', 'ruled out');
    ok($rc == 1 && $err =~ /breaks a rule of the schema/ && $err !~ /bbtoken_test_rule/,
       'the CLI: a rule it does not know, in general words') or diag "exit $rc: $err";
    $env->psql("ALTER TABLE bbtoken_tokens DROP CONSTRAINT bbtoken_test_rule;"
               . " ALTER TABLE bbtoken_tokens DROP CONSTRAINT bbtoken_tokens_name;"
               . " ALTER TABLE bbtoken_tokens ADD CONSTRAINT bbtoken_tokens_name"
               . " CHECK (bbtoken_token_name_problem(name) IS NULL);"
               . " ALTER TABLE bbtoken_tokens ENABLE TRIGGER bbtoken_tokens_name");
};

subtest 'the upgrade makes old C1 names valid, and says so' => sub {
    # A database at version 3 whose old rule, [[:cntrl:]], let a C1 name in
    # (its meaning follows the locale; here the row is put in behind it).
    my $wrap = $env->dir . '/v3.sql';
    BBT::Env::spew($wrap, "\\ir $ROOT/sql/migrations/0001_initial.sql\n"
                   . "BEGIN;\n\\ir $ROOT/sql/migrations/0002_lifecycle.sql\nCOMMIT;\n"
                   . "BEGIN;\n\\ir $ROOT/sql/migrations/0003_rest.sql\nCOMMIT;\n");
    $env->psql('CREATE DATABASE old', db => 'postgres');
    $env->psql(undef, db => 'old', file => $wrap);
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('bob')", db => 'old');
    $env->psql("ALTER TABLE bbtoken_tokens DROP CONSTRAINT bbtoken_tokens_name_check;"
               . " INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
               . " SELECT '123456789012', id, 'ci' || chr(133) || 'bot', 'PROJECT_READ', 'REPO_READ',"
               . " repeat('a', 32), repeat('b', 64) FROM bbtoken_users;"
               . " ALTER TABLE bbtoken_tokens ADD CONSTRAINT bbtoken_tokens_name_check"
               . " CHECK (char_length(name) BETWEEN 1 AND 255 AND name !~ '[[:cntrl:]]') NOT VALID", db => 'old');
    my ($rc, $out, $err) = $env->cli_raw('--db', $env->superuser_conninfo('old'), 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    is($env->psql("SELECT name FROM bbtoken_tokens WHERE id = '123456789012'", db => 'old'),
       'ci?bot #123456789012', 'the control became "?", and the id makes the name unique');
    is($env->psql("SELECT source FROM bbtoken_audit WHERE token_id = '123456789012' AND event = 'renamed'",
                  db => 'old'), 'upgrade', 'the rename is in the audit trail, by the upgrade');
};

subtest 'every code point: the rule the database holds' => sub {
    my $wrong = do { local $/; <$SWEEP> };
    ok(close($SWEEP), 'the sweep ended');
    is($wrong, '0 0', 'the database refuses exactly the controls and the invisible formatting characters'
                      . ' inside a name, and white space too first and last, in the module\'s words, every'
                      . ' code point checked');
};

done_testing;
