# `bbtoken db check` and httpd's BBT720: bbtoken_lookup, what httpd's token
# lookup reads, goes stale when its triggers are disabled, and then a token
# revoked meanwhile is still accepted.  db check finds the row (by id, no
# secret, salt or hash in what it prints) and the triggers that do not fire
# always, and exits 1; once the triggers are enabled, --repair writes the
# row again and the token is refused; on a true database it exits 0.
# httpd says that the triggers do not all fire always: at start (the cache
# off, so no listener), once per start and per graceful restart with the
# cache on too (a child and the listener both read them then), and from the
# cache's listener when their number changes while it runs, once until it
# changes again.  A repair tells the
# caches: an entry made from a stale row is not believed after it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use BBT::Env qw(auth_bearer);
use BBT::Cache qw(wait_log log_mark log_since served_from_cache until_status settle);

my $env = BBT::Env->new(extra_conf => "BBTokenCache off\n")->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my ($tok, $id) = $env->token_create('alice', name => 'laptop');
my ($other, $other_id) = $env->token_create('alice', name => 'desktop');
sub status { $env->get($UP, auth_bearer($_[0]))->{status} }

# The tokens' triggers as they are (name and how each fires), to put back.
my $TRIGGERS = "SELECT string_agg(tgname || '=' || tgenabled::text, ' ' ORDER BY tgname) FROM pg_trigger"
             . " WHERE tgrelid = 'bbtoken_tokens'::regclass AND NOT tgisinternal";
my $before = $env->psql($TRIGGERS);
like($before, qr/bbtoken_tokens_lookup_upd=A/, 'the lookup\'s triggers fire always');

subtest 'a true database: exit 0' => sub {
    $env->cli_is('db check', ['db', 'check'], 0,
                 stdout => qr/\Abbtoken_lookup: 2 tokens, 0 rows wrong; 14 lookup triggers, 0 not firing always\n\z/);
    $env->cli_is('db check --repair', ['db', 'check', '--repair'], 0,
                 stdout => qr/\Arepaired 0 rows\n/);
    $env->cli_is('db check takes no operand', ['db', 'check', 'x'], 2);
};

subtest 'revoked with the triggers disabled: found, repaired, refused' => sub {
    is(status($tok), 200, 'the token is accepted');
    $env->psql("ALTER TABLE bbtoken_tokens DISABLE TRIGGER ALL;"
               . " UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$id'");
    is(status($tok), 200, 'revoked with the triggers disabled: still accepted (the lookup is stale)');

    my $secrets = $env->psql("SELECT salt || ' ' || secret_hash FROM bbtoken_tokens WHERE id = '$id'");
    my ($rc, $out, $err) = $env->cli_is('db check, stale', ['db', 'check'], 1, shape => 0,
                                        stdout => qr/^token \Q$id\E: differs \(packed, revoked\)$/m,
                                        stderr => qr/\Abbtoken: the lookup's triggers do not all fire always[^\n]*\n\z/);
    like($out, qr/^trigger bbtoken_tokens_lookup_upd on bbtoken_tokens: disabled$/m, 'a disabled trigger is named');
    my @triggers = $out =~ /^trigger /mg;
    is(scalar @triggers, 4, 'the tokens\' four lookup triggers, and no other');
    unlike($out, qr/\Q$other_id\E/, 'a true row is not named');
    for my $s (split / /, $secrets) {
        ok(index($out . $err, $s) < 0, 'no salt or hash in what it prints');
    }
    ok(index($out . $err, $tok) < 0, 'nor the token');

    my $mark = log_mark($env);
    $env->httpd_restart;
    is(status($other), 200, 'a request after a restart');
    ok(wait_log($env, $mark, qr/BBT720: 10 of the 14 triggers that keep bbtoken_lookup fire always/),
       'httpd says so at start (BBT720), the cache off');
    my @said = log_since($env, $mark) =~ /BBT720/g;
    is(scalar @said, 1, 'once');

    # As they were: ENABLE TRIGGER ALL, then the ALWAYS ones.
    $env->psql("ALTER TABLE bbtoken_tokens ENABLE TRIGGER ALL");
    for (split / /, $before) {
        my ($name, $how) = split /=/;
        $env->psql("ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER $name") if $how eq 'A';
    }
    is($env->psql($TRIGGERS), $before, 'the triggers put back as they were');
    $env->cli_is('db check, triggers back', ['db', 'check'], 1, shape => 0,
                 stdout => qr/^token \Q$id\E: differs \(packed, revoked\)$/m,
                 stderr => qr/\Abbtoken: bbtoken_lookup is not true: run bbtoken db check --repair\n\z/);
    # No request with the token here: its last use, written through the
    # triggers now firing, would write its row again.

    # The other token's use after the restart, its last use and address
    # group, went unwritten too.
    my $out2 = $env->cli_is('db check --repair', ['db', 'check', '--repair'], 0,
                            stdout => qr/^repaired 2 rows$/m);
    like($out2, qr/^token \Q$id\E: differs \(packed, revoked\)$/m, '  the revoked token\'s row');
    like($out2, qr/^token \Q$other_id\E: differs \(last_use_us, packed, seen_nets\)$/m, '  the other\'s last use');
    is(status($tok), 401, 'repaired: the revoked token is refused, the cache off');
    is(status($other), 200, 'the other still accepted');
    $env->cli_is('db check after the repair', ['db', 'check'], 0, stdout => qr/0 rows wrong/);
};

subtest 'a row missing, and one for no token' => sub {
    $env->psql("BEGIN; ALTER TABLE bbtoken_lookup DISABLE TRIGGER ALL;"
               . " DELETE FROM bbtoken_lookup WHERE id = '$other_id';"
               . " INSERT INTO bbtoken_lookup SELECT '999999999999', salt, secret_hash, token_name, user_name,"
               . " user_active, project_perm, repo_perm, revoked, user_id, expires_us, last_use_us, refused_us,"
               . " project_key, repo_slug, allowed_nets, seen_nets, levels FROM bbtoken_lookup WHERE id = '$id';"
               . " ALTER TABLE bbtoken_lookup ENABLE TRIGGER ALL;"
               # Its own notifying triggers back as they were, firing
               # always, or the cache is not believed (BBT710) after this.
               . join('', map { " ALTER TABLE bbtoken_lookup ENABLE ALWAYS TRIGGER bbtoken_lookup_notify_$_;" }
                          qw(row upd truncate))
               . " COMMIT");
    is(status($other), 401, 'a token without a row is unknown');
    $env->cli_is('db check', ['db', 'check'], 1, shape => 0,
                 stdout => qr/^token \Q$other_id\E: missing\ntoken 999999999999: extra\n/m);
    $env->cli_is('db check --repair', ['db', 'check', '--repair'], 0, stdout => qr/^repaired 2 rows$/m);
    is($env->psql("SELECT count(*) FROM bbtoken_lookup WHERE id = '999999999999'"), 0, 'the extra row gone');
    is(status($other), 200, 'the missing row back: accepted');
};

# A trigger dropped cannot be enabled, and neither --repair nor `db
# upgrade` makes it: db check names each missing one with the statements
# its migration made it with, and those, then --repair, put all back.
subtest 'triggers dropped: named, with the statements that make them again' => sub {
    my ($t4, $id4) = $env->token_create('alice', name => 'ci2');
    is(status($t4), 200, 'a token accepted');
    $env->psql("DROP TRIGGER bbtoken_tokens_lookup_upd ON bbtoken_tokens;"
               . " DROP TRIGGER bbtoken_users_lookup_del ON bbtoken_users;"
               . " ALTER TABLE bbtoken_project_grants DISABLE TRIGGER bbtoken_project_grants_lookup_ins");
    $env->cli_ok('revoke', $id4);
    is(status($t4), 200, 'revoked with its trigger dropped: still accepted');

    my $ADVICE = qr/\Abbtoken: 2 of the lookup's triggers are missing: bbtoken_lookup is not kept true; make them again with (.*), as the tables' owner in their schema, and enable the 1 that does not fire always \(ALTER TABLE \.\.\. ENABLE ALWAYS TRIGGER\), then run bbtoken db check --repair\n\z/;
    my ($rc, $out, $err) = $env->cli_is('db check', ['db', 'check'], 1, shape => 0,
                                        stdout => qr/^lookup triggers: 12 of the 14 the schema makes exist$/m,
                                        stderr => $ADVICE);
    like($err, qr/with the statements printed above,/, '  the statements printed above');
    like($out, qr/^bbtoken_lookup: \d+ tokens, 1 row wrong; 14 lookup triggers, 2 missing, 1 not firing always\n\z/m,
         '  the summary counts the missing apart from the disabled');
    like($out, qr/^trigger bbtoken_project_grants_lookup_ins on bbtoken_project_grants: disabled$/m,
         '  the disabled one named');
    my %made = $out =~ /^trigger (\S+ on \S+): missing; made again by: (.*)$/mg;
    is_deeply([sort keys %made], ['bbtoken_tokens_lookup_upd on bbtoken_tokens',
                                  'bbtoken_users_lookup_del on bbtoken_users'], '  each missing one named');

    my ($jout, $jerr);
    ($rc, $jout, $jerr) = $env->cli('db', 'check', '--json');
    is($rc, 1, 'JSON: exit 1');
    like($jerr, qr/with the statements in the report's triggers-missing finding \(its sql\),/, '  its line says where');
    my $j = JSON::PP::decode_json($jout);
    is_deeply([@$j{qw(triggersMissing triggersNotFiringAlways ok)}], [2, 1, JSON::PP::false()], 'JSON: the counts');
    my ($f) = grep { $_->{kind} eq 'triggers-missing' } @{ $j->{findings} };
    is_deeply({ map { ("$_->{trigger} on $_->{table}" => $_->{sql}) } @{ $f->{triggers} || [] } }, \%made,
              'JSON: the same triggers and statements');

    # The advice, as given.
    $env->psql(join(' ', values %made)
               . " ALTER TABLE bbtoken_project_grants ENABLE ALWAYS TRIGGER bbtoken_project_grants_lookup_ins");
    is($env->psql($TRIGGERS), $before, 'the tokens\' triggers back as the schema made them');
    is($env->psql("SELECT string_agg(tgname || '=' || tgenabled::text, ' ' ORDER BY tgname) FROM pg_trigger"
                  . " WHERE tgname IN ('bbtoken_users_lookup_del', 'bbtoken_project_grants_lookup_ins')"),
       'bbtoken_project_grants_lookup_ins=A bbtoken_users_lookup_del=A', 'the others fire always');
    $env->cli_is('db check, the triggers back', ['db', 'check'], 1, shape => 0,
                 stdout => qr/^token \Q$id4\E: differs \(packed, revoked\)$/m,
                 stderr => qr/\Abbtoken: bbtoken_lookup is not true: run bbtoken db check --repair\n\z/);
    $env->cli_is('db check --repair', ['db', 'check', '--repair'], 0, stdout => qr/^repaired 1 row$/m);
    is(status($t4), 401, 'repaired: the revoked token is refused');
    $env->cli_is('db check after the repair', ['db', 'check'], 0,
                 stdout => qr/0 rows wrong; 14 lookup triggers, 0 not firing always$/);
};

# The first child to read the schema and the cache's listener both read
# the count at start: once a request has been answered from the cache, the
# listener has read it (before its first heartbeat) and so has a child (on
# the miss that made the entry).  One of them says it.
sub said_once_since {
    my ($mark, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok(served_from_cache($env, $UP, auth_bearer($other), $other_id), "$name: a request answered from the cache");
    my @said = log_since($env, $mark) =~ /BBT720: 13 of the 14 triggers/g;
    is(scalar @said, 1, "$name: BBT720 said once, by a child or the listener, not by both");
}

subtest 'the cache on: said once per start, and once per graceful restart' => sub {
    $env->psql("ALTER TABLE bbtoken_users DISABLE TRIGGER bbtoken_users_lookup_upd");
    my $mark = log_mark($env);
    $env->httpd_restart(extra_conf => '');
    said_once_since($mark, 'a start');
    $mark = log_mark($env);
    is($env->httpd_graceful, '', 'apache2 -k graceful: the new generation started') or return;
    said_once_since($mark, 'a graceful restart');
    $env->psql("ALTER TABLE bbtoken_users ENABLE ALWAYS TRIGGER bbtoken_users_lookup_upd");
};

subtest 'the listener says it when their number changes' => sub {
    my $mark = log_mark($env);
    $env->httpd_restart(extra_conf => '');
    ok(wait_log($env, $mark, qr/BBT309: the token cache's listener hears PostgreSQL/), 'the listener is up');
    is(status($other), 200, 'a request');
    $env->psql("ALTER TABLE bbtoken_users DISABLE TRIGGER bbtoken_users_lookup_upd");
    ok(wait_log($env, $mark, qr/BBT720: 13 of the 14 triggers/), 'one disabled while running: said');
    $env->psql("ALTER TABLE bbtoken_project_grants ENABLE TRIGGER bbtoken_project_grants_lookup_ins");
    ok(wait_log($env, $mark, qr/BBT720: 12 of the 14 triggers/), 'one more enabled for ordinary sessions only: said');
    $env->psql("ALTER TABLE bbtoken_users ENABLE ALWAYS TRIGGER bbtoken_users_lookup_upd;"
               . " ALTER TABLE bbtoken_project_grants ENABLE ALWAYS TRIGGER bbtoken_project_grants_lookup_ins");
    $env->cli_is('db check, all back', ['db', 'check'], 0);
    # Many heartbeats later, each count was said once.
    sleep 2;
    my $log = log_since($env, $mark);
    my @thirteen = $log =~ /BBT720: 13 of/g;
    my @twelve = $log =~ /BBT720: 12 of/g;
    is(scalar @thirteen + scalar @twelve, 2, 'once each, not with every heartbeat');
    is(status($other), 200, 'the cache is believed all the same') ;
};

subtest 'the cache on: a repair forgets the entries made from a stale row' => sub {
    my ($t3, $id3) = $env->token_create('alice', name => 'ci');
    ok(served_from_cache($env, $UP, auth_bearer($t3), $id3), 'a token answered from the cache');
    # Only the lookup's trigger off: the revocation still notifies, the
    # entry is forgotten, and the next request reads the stale row.
    $env->psql("ALTER TABLE bbtoken_tokens DISABLE TRIGGER bbtoken_tokens_lookup_upd");
    $env->cli_ok('revoke', $id3);
    settle();
    ok(served_from_cache($env, $UP, auth_bearer($t3), $id3), 'revoked: answered from an entry of the stale row');
    $env->psql("ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER bbtoken_tokens_lookup_upd");
    $env->cli_is('db check --repair', ['db', 'check', '--repair'], 0, stdout => qr/^repaired 1 row$/m);
    my ($ok, $tries, $seen) = until_status($env, $UP, auth_bearer($t3), 401);
    ok($ok, 'the repair notified: the entry is forgotten and the token refused') or diag "statuses: $seen";
};

done_testing;
