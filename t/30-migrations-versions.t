# What each migration that mends rows does to a database at the version
# before it, made as that version's release made it (sql/schema.sql of the
# day) and holding the rows that release took: version 21 revokes the live
# tokens of, and removes the grants on, a personal project without a user;
# 22 takes invisible formatting characters out of token and display names
# (and a personal project's settings leave with its owner); 23 keeps every
# owner's level on every target; 25 takes invisible formatting characters
# out of e-mail addresses; 44 removes grants on a personal project without
# a user, made since 21; 45 takes white space off the ends of token names;
# 56 stores a personal project's keys under its owner's slug; 60 keeps
# one row of bbtoken_schema, the largest version's (a data-only restore
# into a new schema added the dump's); 61 makes a policy's maximum expiry
# a required one, audited, and leaves the tokens' expiries as they were;
# and in a database in SQL_ASCII a control character is read as the
# database stores it.  What they take out is
# audited, by the upgrade, and refused from then on: of every code point
# from U+0080 up, the database refuses the same ones as the module's input
# rules (bbt_input_token_name, bbt_input_email), in UTF8 and in SQL_ASCII.
# The upgrade of the previous release's data, and the schema every path
# makes, are t/30-migrations.t's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use BBT::Env;
use BBT::Migrations qw(cli_db db_at latest_version);

# No httpd: what is checked is in the databases and the CLI's answers.
my $env = BBT::Env->new(httpd => 0)->start;

# Each in a database of its own; the sweeps they ask for run while the
# next ones go on.

subtest 'version 21: live tokens of, and grants on, a personal project without a user are gone after the upgrade' => sub {
    db_at($env, 'orphans', 20);
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('Alice')", db => 'orphans');
    # ~ghost's user was deleted, or never existed; ~alice's is Alice.
    $env->psql("INSERT INTO bbtoken_tokens (id, project_key, repo_slug, name, project_perm, repo_perm, salt,"
               . " secret_hash) VALUES ('300000000001', '~ghost', NULL, 'g', 'PROJECT_READ', 'REPO_READ',"
               . " repeat('a', 32), repeat('c', 64)), ('300000000002', '~ghost', 'x', 'g', NULL, 'REPO_READ',"
               . " repeat('a', 32), repeat('d', 64)), ('300000000003', '~alice', NULL, 'a', 'PROJECT_READ',"
               . " 'REPO_READ', repeat('a', 32), repeat('e', 64))", db => 'orphans');
    # Bob's grants on ~ghost, left by its deleted user, and on Alice's.
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('bob')", db => 'orphans');
    $env->psql("INSERT INTO bbtoken_project_grants (user_id, project_key, permission) SELECT id, k, 'PROJECT_READ'"
               . " FROM bbtoken_users, unnest(ARRAY['~ghost', '~alice']) k WHERE name = 'bob'", db => 'orphans');
    $env->psql("INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
               . " SELECT id, k, 'x', 'REPO_WRITE' FROM bbtoken_users, unnest(ARRAY['~ghost', '~alice']) k"
               . " WHERE name = 'bob'", db => 'orphans');
    my ($rc, $out, $err) = cli_db($env, 'orphans', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    is($env->psql("SELECT (SELECT string_agg(project_key, ',') FROM bbtoken_project_grants) || ' '"
                  . " || (SELECT string_agg(project_key || '/' || repo_slug, ',') FROM bbtoken_repo_grants)",
                  db => 'orphans'),
       '~alice ~alice/x', "bob's grants on ~ghost removed, on Alice's ~alice kept");
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'ungranted' AND source = 'upgrade'",
                  db => 'orphans'),
       2, '  audited, by the upgrade');
    is($env->psql("SELECT string_agg(id || ' ' || (revoked_at IS NOT NULL), ',' ORDER BY id) FROM bbtoken_tokens",
                  db => 'orphans'),
       '300000000001 true,300000000002 true,300000000003 false', "~ghost's two revoked, Alice's ~alice kept");
    is($env->psql("SELECT string_agg(token_id || ' ' || source, ',' ORDER BY token_id) FROM bbtoken_audit"
                  . " WHERE event = 'revoked'", db => 'orphans'),
       '300000000001 upgrade,300000000002 upgrade', 'audited, by the upgrade');
};

# The invisible formatting characters (bbt_is_invisible), written out again.
my $INVISIBLE = '00AD 034F 061C 115F-1160 17B4-17B5 180E 200B-200F 2028-202E 2060-206F 3164 FEFF FFA0 FFF0-FFFB'
              . ' 1BCA0-1BCA3 1D173-1D17A E0000-E00FF E01F0-E0FFF';
# What the rule says of a code point first and of it last, when it says the
# same of both, as name_rule_sweep's rule (each asked once: the sweep is a
# million of them); and what it should say from U+0080 up (white space from
# version 45: Unicode's White_Space that is neither a control nor
# invisible).
my $EDGE_RULE = "(SELECT CASE WHEN f IS NOT DISTINCT FROM l THEN f ELSE 'first and last judged apart' END"
              . " FROM (SELECT bbtoken_token_name_problem(c || 'n') f, bbtoken_token_name_problem('n' || c) l"
              . " OFFSET 0) e)";
my $EDGE_WANT = "token name must not contain control characters: 0080-009F; token name must not begin or end"
              . " with white space: 00A0 1680 2000-200A 202F 205F 3000; token name must not contain invisible"
              . " formatting characters: $INVISIBLE";

# What bbtoken_token_name_problem says of each code point from U+0080 up
# inside a name ("n", it, "n"), in $db, each given as its UTF-8 bytes
# whatever the database's encoding: "reason: ranges" per reason.  $rule, if
# given, is another rule of c (the code point as text) whose result is the
# reason or NULL.
sub name_rule_sweep {
    my ($db, $rule) = @_;
    $rule //= "bbtoken_token_name_problem('n' || c || 'n')";
    my $b = sub { "(128 + ((cp >> $_[0]) & 63))" };
    my $utf8 = "CASE WHEN cp < 2048 THEN decode(lpad(to_hex(((192 + (cp >> 6)) << 8) + ${\ $b->(0)}), 4, '0'), 'hex')"
             . " WHEN cp < 65536 THEN decode(lpad(to_hex(((224 + (cp >> 12)) << 16) + (${\ $b->(6)} << 8)"
             . " + ${\ $b->(0)}), 6, '0'), 'hex')"
             . " ELSE decode(lpad(to_hex(((240 + (cp >> 18))::bigint << 24) + (${\ $b->(12)} << 16)"
             . " + (${\ $b->(6)} << 8) + ${\ $b->(0)}), 8, '0'), 'hex') END";
    my $rows = $env->psql("SELECT cp, p FROM (SELECT cp, $rule p FROM generate_series(128, 1114111) cp,"
                          . " convert_from($utf8, getdatabaseencoding()) c"
                          . " WHERE cp NOT BETWEEN 55296 AND 57343) s WHERE p IS NOT NULL ORDER BY cp",
                          db => $db, sep => '|');
    my (%r, @order);
    for (split /\n/, $rows) {
        my ($cp, $why) = split /\|/;
        push @order, $why unless $r{$why};
        my $l = $r{$why} ||= [];
        if (@$l && $l->[-1][1] == $cp - 1) { $l->[-1][1] = $cp } else { push @$l, [$cp, $cp] }
    }
    return join '; ', map {
        my $why = $_;
        "$why: " . join ' ', map { $_->[0] == $_->[1] ? sprintf('%04X', $_->[0]) : sprintf('%04X-%04X', @$_) }
                                 @{ $r{$why} }
    } @order;
}

# A sweep is a million calls of the rule, seconds of one backend's time,
# and what it reads (the functions of a database no later subtest
# changes) is settled when it is asked for: it runs in a process of its
# own, one of two that take the sweeps in turn (a backend each, one sweep
# after another), while the subtests go on, and the last subtest asserts
# what each found.  sweep_later($db, $rule, $want, $name) asks for
# is(name_rule_sweep($db, $rule), $want, $name).
my (@SWEEPERS, @SWEEPS);
sub sweep_later {
    my ($db, $rule, $want, $name) = @_;
    my $SWEEPER = $SWEEPERS[@SWEEPS % 2];
    if (!$SWEEPER) {
        my $pid = open($SWEEPER, '|-') // die "fork: $!";
        if (!$pid) {
            # The other's input is not this one's to hold open.
            POSIX::close(fileno $_) for grep {defined} @SWEEPERS;
            # One line per sweep: its result file, the database, the rule.
            while (my $line = <STDIN>) {
                chomp $line;
                my ($file, $d, $r) = split /\t/, $line, 3;
                my $found = eval { name_rule_sweep($d, $r eq '' ? undef : $r) } // "the sweep failed: $@";
                BBT::Util::spew("$file.part", $found);
                rename "$file.part", $file or die "$file: $!";
            }
            POSIX::_exit(0);    # none of the parent's END blocks or destructors
        }
        $SWEEPER->autoflush(1);
        $SWEEPERS[@SWEEPS % 2] = $SWEEPER;
    }
    my $file = $env->dir . '/run/sweep-' . @SWEEPS;
    push @SWEEPS, [$file, $want, $name];
    print $SWEEPER join("\t", $file, $db, $rule // ''), "\n";
}

subtest 'version 45: white space leaves the ends of token names, in UTF8 and in SQL_ASCII' => sub {
    for my $c (['edges', undef], ['edges_ascii', "ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"]) {
        my ($db, $how) = @$c;
        db_at($env, $db, 44, $how);
        $env->psql("INSERT INTO bbtoken_users (name) VALUES ('alice')", db => $db);
        # U+3000 and U+00A0 as their UTF-8 bytes, and a name of 252
        # characters whose 241st is a two-byte one (e with acute).
        my $long = ('a' x 240) . "\xc3\xa9" . ('b' x 10) . ' ';
        my %names = ('500000000001' => 'deploy', '500000000002' => 'deploy ', '500000000003' => ' ci ',
                     '500000000004' => '   ', '500000000005' => "\xe3\x80\x80laptop\xc2\xa0",
                     '500000000006' => $long, '500000000007' => 'a  b', '500000000008' => 'deploy ',
                     # A live name the rename would take, and the one after.
                     '500000000009' => 'ci ', '500000000010' => 'ci #500000000009',
                     '500000000011' => 'ci #500000000009-2');
        $env->psql("INSERT INTO bbtoken_tokens (id, user_id, project_key, name, project_perm, repo_perm, salt,"
                   . " secret_hash, revoked_at) SELECT v.id, CASE WHEN v.id <> '500000000008' THEN u.id END,"
                   . " CASE WHEN v.id = '500000000008' THEN 'PROJ' END, v.n, 'PROJECT_READ', 'REPO_READ',"
                   . " repeat('a', 32), repeat('c', 64), CASE WHEN v.id = '500000000003' THEN now() END"
                   . " FROM bbtoken_users u, (VALUES "
                   . join(', ', map { "('$_', '$names{$_}')" } sort keys %names) . ") v(id, n)", db => $db);
        is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name IN ('deploy', 'deploy ')"
                      . " AND revoked_at IS NULL AND user_id IS NOT NULL", db => $db),
           2, "$db: control: version 44 took 'deploy' and 'deploy ' for one owner, both live");
        my ($rc, $out, $err) = cli_db($env, $db, 'db', 'upgrade');
        is($rc, 0, "$db: db upgrade") or diag $err;
        my $cut = $db eq 'edges' ? ('a' x 240) . "\xc3\xa9" : 'a' x 240;
        is($env->psql("SELECT string_agg(id || '=' || name, '|' ORDER BY id) FROM bbtoken_tokens", db => $db),
           join('|', '500000000001=deploy', '500000000002=deploy #500000000002', '500000000003=ci #500000000003',
                '500000000004=#500000000004', '500000000005=laptop #500000000005',
                "500000000006=$cut #500000000006", '500000000007=a  b', '500000000008=deploy #500000000008',
                '500000000009=ci #500000000009-3', '500000000010=ci #500000000009',
                '500000000011=ci #500000000009-2'),
           "$db: white space taken off the ends, the id put after (a two-byte character the cut split"
           . ' dropped whole; a number after it where the name is taken); white space inside, and the'
           . ' names without, kept');
        is($env->psql("SELECT string_agg(token_id, ',' ORDER BY token_id) FROM bbtoken_audit"
                      . " WHERE event = 'renamed' AND source = 'upgrade'", db => $db),
           join(',', (map {"50000000000$_"} 2 .. 6, 8, 9)), "$db: each rename audited, by the upgrade");
        ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_tokens SET name = 'deploy\xe2\x80\x83'"
                                           . " WHERE id = '500000000001'", db => $db);
        ok($rc != 0 && $err =~ /token name must not begin or end with white space/,
           "$db: and refused from then on, as its bytes (U+2003 last)") or diag "exit $rc: $out$err";
    }
};

subtest 'version 44: grants on a personal project without a user, made since version 21, are gone' => sub {
    db_at($env, 'pgrants', 43);
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('Alice'), ('bob')", db => 'pgrants');
    # Version 43 took a grant on ~nobody, whose user does not exist.
    $env->psql("INSERT INTO bbtoken_project_grants (user_id, project_key, permission) SELECT id, k, 'PROJECT_READ'"
               . " FROM bbtoken_users, unnest(ARRAY['~nobody', '~alice']) k WHERE name = 'bob'", db => 'pgrants');
    $env->psql("INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
               . " SELECT id, k, 'x', 'REPO_WRITE' FROM bbtoken_users, unnest(ARRAY['~nobody', '~alice']) k"
               . " WHERE name = 'bob'", db => 'pgrants');
    is($env->psql("SELECT count(*) FROM bbtoken_project_grants WHERE project_key = '~nobody'", db => 'pgrants'), 1,
       'control: version 43 took a grant on ~nobody');
    my ($rc, $out, $err) = cli_db($env, 'pgrants', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    is($env->psql("SELECT (SELECT string_agg(project_key, ',') FROM bbtoken_project_grants) || ' '"
                  . " || (SELECT string_agg(project_key || '/' || repo_slug, ',') FROM bbtoken_repo_grants)",
                  db => 'pgrants'),
       '~alice ~alice/x', "bob's grants on ~nobody removed, on Alice's ~alice kept");
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE event = 'ungranted' AND source = 'upgrade'",
                  db => 'pgrants'), 2, '  audited, by the upgrade');
    ($rc, $out, $err) = $env->psql_try("INSERT INTO bbtoken_project_grants (user_id, project_key, permission)"
                                       . " SELECT id, '~nobody', 'PROJECT_READ' FROM bbtoken_users WHERE name = 'bob'",
                                       db => 'pgrants');
    ok($rc != 0 && $err =~ /personal project ~nobody has no user/, '  and refused from then on') or diag "$out$err";
};

subtest 'version 56: a personal project\'s keys stored under the name are found under the slug' => sub {
    db_at($env, 'pslug', 55);
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('Carol.Smith\@Corp'), ('bob'), ('dave')", db => 'pslug');
    # What the release of version 55 stored for carol.smith@corp's project:
    # a project's and a repository's token, bob's and dave's grants, its
    # settings, all under ~carol.smith@corp; and her own token.
    $env->psql("INSERT INTO bbtoken_tokens (id, user_id, project_key, repo_slug, name, project_perm, repo_perm, salt,"
               . " secret_hash) SELECT '300000000011', NULL::bigint, '~carol.smith\@corp', NULL, 'ci', 'PROJECT_READ',"
               . " 'REPO_READ', repeat('a', 32), repeat('c', 64) UNION ALL SELECT '300000000012', NULL,"
               . " '~carol.smith\@corp', 'home', 'deploy', NULL, 'REPO_READ', repeat('a', 32), repeat('d', 64)"
               . " UNION ALL SELECT '300000000013', id, NULL, NULL, 'mine', 'PROJECT_READ', 'REPO_READ',"
               . " repeat('a', 32), repeat('e', 64) FROM bbtoken_users WHERE name = 'Carol.Smith\@Corp'",
               db => 'pslug');
    $env->psql("INSERT INTO bbtoken_project_grants (user_id, project_key, permission)"
               . " SELECT id, '~carol.smith\@corp', 'PROJECT_WRITE' FROM bbtoken_users WHERE name = 'bob'",
               db => 'pslug');
    $env->psql("INSERT INTO bbtoken_repo_grants (user_id, project_key, repo_slug, permission)"
               . " SELECT id, '~carol.smith\@corp', 'home', 'REPO_ADMIN' FROM bbtoken_users WHERE name = 'dave'",
               db => 'pslug');
    $env->psql("INSERT INTO bbtoken_projects (project_key, repo_admins_manage_tokens)"
               . " VALUES ('~carol.smith\@corp', false)", db => 'pslug');
    my ($rc, $out, $err) = cli_db($env, 'pslug', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    is($env->psql("SELECT string_agg(k, ' ' ORDER BY k) FROM (SELECT project_key || COALESCE('/' || repo_slug, '') k"
                  . " FROM bbtoken_tokens WHERE project_key IS NOT NULL UNION ALL SELECT project_key"
                  . " FROM bbtoken_project_grants UNION ALL SELECT project_key || '/' || repo_slug"
                  . " FROM bbtoken_repo_grants UNION ALL SELECT project_key FROM bbtoken_projects) x", db => 'pslug'),
       '~carol.smith_corp ~carol.smith_corp ~carol.smith_corp ~carol.smith_corp/home ~carol.smith_corp/home',
       'the tokens, the grants and the settings are stored under ~carol.smith_corp');
    is($env->psql("SELECT string_agg(id || ' ' || (revoked_at IS NOT NULL), ',' ORDER BY id) FROM bbtoken_tokens",
                  db => 'pslug'),
       '300000000011 false,300000000012 false,300000000013 false', '  none of the tokens revoked');
    is($env->psql("SELECT string_agg(u.name || ' ' || bbtoken_owner_level(u.id, '~carol.smith_corp', 'home'), ','"
                  . " ORDER BY u.name) FROM bbtoken_users u", db => 'pslug'),
       'Carol.Smith@Corp 3,bob 2,dave 3', "  each user's level on ~carol.smith_corp/home is what it was");
    is($env->psql("SELECT string_agg(l.id || ' ' || COALESCE(l.project_key, '-') || ' ' || COALESCE(l.levels, '-'),"
                  . " ',' ORDER BY l.id) FROM bbtoken_lookup l", db => 'pslug'),
       '300000000011 ~carol.smith_corp -,300000000012 ~carol.smith_corp -,300000000013 - ~carol.smith_corp:3',
       "  what httpd's lookup reads says so too");
    ($rc, $out, $err) = cli_db($env, 'pslug', 'db', 'check');
    is($rc, 0, '  db check finds the lookup true') or diag "$out$err";
    ($rc, $out, $err) = cli_db($env, 'pslug', 'list', '--project', '~Carol.Smith@Corp');
    like($out, qr/300000000011/, '  list --project ~Carol.Smith@Corp finds the project token') or diag "$out$err";
    is($env->psql("SELECT bbtoken_valid_key('~carol.smith\@corp') || ' ' || bbtoken_valid_key('~carol.smith_corp')",
                  db => 'pslug'), 'false true', '  a personal key with "@" is no key from then on');
};

subtest 'version 56: the tokens of a personal project whose owner left are no news to the user it names now' => sub {
    my @notify = ('notify', '--dry-run', '--from', 'tokens@git.example.com', '--sendmail', '/bin/true');
    # a@b deleted (its project token revoked with it), a_b made since; and
    # a_b deleted, a@b made since: after the upgrade ~a_b is the new
    # user's project, and the old token's revocation is not theirs to hear.
    for my $case (['pslug_a', 'a@b', 'a_b', '~a@b'], ['pslug_b', 'a_b', 'a@b', '~a_b']) {
        my ($db, $gone, $new, $key) = @$case;
        db_at($env, $db, 55);
        $env->psql("INSERT INTO bbtoken_users (name) VALUES ('$gone')", db => $db);
        $env->psql("INSERT INTO bbtoken_tokens (id, project_key, name, project_perm, repo_perm, salt, secret_hash)"
                   . " VALUES ('300000000021', '$key', 'of-$gone', 'PROJECT_READ', 'REPO_READ', repeat('a', 32),"
                   . " repeat('c', 64))", db => $db);
        $env->psql("DELETE FROM bbtoken_users WHERE name = '$gone'", db => $db);
        $env->psql("INSERT INTO bbtoken_users (name, email) VALUES ('$new', 'new\@example.com')", db => $db);
        my ($rc, $out, $err) = cli_db($env, $db, 'db', 'upgrade');
        is($rc, 0, "$gone left, $new came: db upgrade") or diag $err;
        is($env->psql("SELECT project_key || ' ' || (revoked_at IS NOT NULL) FROM bbtoken_tokens", db => $db),
           '~a_b true', '  the revoked token is under ~a_b, the new user\'s project');
        ($rc, $out, $err) = cli_db($env, $db, @notify);
        is($rc, 0, '  notify --dry-run') or diag "$out$err";
        unlike($out, qr/of-\Q$gone\E/, "  $new is not mailed the revocation of $gone\'s token") or diag $out;
    }
};

subtest 'version 60: bbtoken_schema of two rows keeps one, and takes no second' => sub {
    db_at($env, 'tworows', 59);
    $env->psql('INSERT INTO bbtoken_schema VALUES (59), (3)', db => 'tworows');
    my ($rc, $out, $err) = cli_db($env, 'tworows', 'db', 'upgrade');
    is($rc, 0, 'db upgrade of a database whose bbtoken_schema holds 59, 59 and 3') or diag $err;
    is($env->psql('SELECT string_agg(version::text, \' \') FROM bbtoken_schema', db => 'tworows'), latest_version(),
       '  one row, the latest version');
    my ($irc, undef, $ierr) = $env->psql_try('INSERT INTO bbtoken_schema VALUES (60)', db => 'tworows');
    isnt($irc, 0, '  a second row is refused');
    like($ierr, qr/bbtoken_schema_one/, '  by bbtoken_schema_one');
};

subtest 'version 61: a maximum without a required expiry becomes one; tokens keep theirs' => sub {
    db_at($env, 'maxonly', 60);
    $env->psql("UPDATE bbtoken_policy SET expiry_required = false, max_expiry_days = 30", db => 'maxonly');
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('alice')", db => 'maxonly');
    my $ins = sub {
        my ($id) = @_;
        $env->psql("INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
                   . " SELECT '$id', id, 't$id', 'PROJECT_READ', 'REPO_READ', repeat('a', 32), repeat('b', 64)"
                   . " FROM bbtoken_users WHERE name = 'alice'", db => 'maxonly');
    };
    my $expires = sub {
        $env->psql("SELECT COALESCE(round(extract(epoch FROM expires_at - created_at) / 86400)::text, 'never')"
                   . " FROM bbtoken_tokens WHERE id = '$_[0]'", db => 'maxonly');
    };
    $ins->('300000000061');
    is($expires->('300000000061'), 'never', 'control: at version 60 a token without an expiry never expires');
    my ($rc, $out, $err) = cli_db($env, 'maxonly', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    ($rc, $out, $err) = cli_db($env, 'maxonly', 'policy');
    like($out, qr/\Aexpiry-required: yes\nmax-expiry-days: 30\n/, '  the policy requires an expiry of at most 30 days')
        or diag "$out$err";
    is($env->psql("SELECT concat_ws(' ', source, detail) FROM bbtoken_audit"
                  . " WHERE event = 'policy_changed' AND source = 'upgrade'", db => 'maxonly'),
       'upgrade expiry required, maximum expiry 30 days, at most 100 live tokens per user',
       '  audited, by the upgrade');
    is($expires->('300000000061'), 'never', '  the token made before still never expires');
    $ins->('300000000062');
    is($expires->('300000000062'), 30, '  a new one without an expiry gets the maximum');
};

subtest 'version 22: invisible formatting characters leave names; a personal project\'s settings leave with its owner' => sub {
    db_at($env, 'invisible', 21);
    # Characters that reorder or hide text, in names version 21 took.
    $env->psql("INSERT INTO bbtoken_users (name, display_name) VALUES ('alice', E'Mallory \\u202enimda'),"
               . " ('bob', E'\\u200b'), ('carl', E'Carl \\u2714\\ufe0f')", db => 'invisible');
    $env->psql("INSERT INTO bbtoken_tokens (id, user_id, project_key, name, project_perm, repo_perm, salt, secret_hash)"
               . " SELECT '40000000000' || n, CASE WHEN n <> 4 THEN (SELECT id FROM bbtoken_users WHERE name = 'alice')"
               . " END, CASE WHEN n = 4 THEN 'PROJ' END, v, 'PROJECT_READ', 'REPO_READ', repeat('a', 32),"
               . " repeat(n::text, 64) FROM (VALUES (1, 'deploy-ci'), (2, E'deploy-ci\\u200b'),"
               . " (3, E'ci\\u202eyolped'), (4, E'\\u2066\\u2069'), (5, E'ok \\u2714\\ufe0f'),"
               . " (6, repeat('x', 250) || E'\\U000e0041')) t(n, v)", db => 'invisible');
    $env->psql("UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '400000000003'", db => 'invisible');
    $env->psql("INSERT INTO bbtoken_projects VALUES ('~ghost', false), ('~alice', false), ('PROJ', false)",
               db => 'invisible');
    is($env->psql("SELECT count(*) FROM bbtoken_tokens WHERE name ~ '[\\u200b\\u202e\\u2066\\U000e0041]'",
                  db => 'invisible'), 4, 'control: version 21 took four such token names');
    my ($rc, $out, $err) = cli_db($env, 'invisible', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    my $x241 = 'x' x 241;
    is($env->psql("SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM bbtoken_tokens", db => 'invisible'),
       "400000000001=deploy-ci,400000000002=deploy-ci #400000000002,400000000003=ciyolped #400000000003,"
       . "400000000004=#400000000004,400000000005=ok \xe2\x9c\x94\xef\xb8\x8f,400000000006=$x241 #400000000006",
       'the characters are removed and the id appended (no two live names meet, 255 at most); a variation'
       . ' selector and clean names are kept');
    is($env->psql("SELECT string_agg(token_id, ',' ORDER BY token_id) FROM bbtoken_audit WHERE event = 'renamed'"
                  . " AND source = 'upgrade'", db => 'invisible'),
       '400000000002,400000000003,400000000004,400000000006', '  each rename audited, by the upgrade');
    is($env->psql("SELECT detail = E'''deploy-ci\\u200b'' -> ''deploy-ci #400000000002''' FROM bbtoken_audit"
                  . " WHERE event = 'renamed' AND token_id = '400000000002'", db => 'invisible'),
       't', '  with the old name as it was');
    ($rc, $out, $err) = cli_db($env, 'invisible', 'audit', '--token', '400000000003');
    ok($rc == 0 && $out =~ /'ci\?yolped' -> 'ciyolped #400000000003'/ && $out =~ /name 'ci\?yolped'/
       && $out !~ /\xe2\x80\xae/, '  which `bbtoken audit` shows with "?" for U+202E, in the rename and before it')
        or diag "exit $rc: $out$err";
    is($env->psql("SELECT string_agg(name || '=' || COALESCE(display_name, '-'), ',' ORDER BY name)"
                  . " FROM bbtoken_users", db => 'invisible'),
       "alice=Mallory nimda,bob=-,carl=Carl \xe2\x9c\x94\xef\xb8\x8f",
       'display names: the characters removed, none when nothing is left');
    is($env->psql("SELECT string_agg(user_name, ',' ORDER BY user_name) FROM bbtoken_audit"
                  . " WHERE event = 'user_details_changed' AND source = 'upgrade'", db => 'invisible'),
       'alice,bob', '  audited, by the upgrade');
    is($env->psql("SELECT string_agg(conname || ' ' || convalidated, ',' ORDER BY conname) FROM pg_constraint"
                  . " WHERE conname IN ('bbtoken_tokens_name', 'bbtoken_users_display_name')", db => 'invisible'),
       'bbtoken_tokens_name true,bbtoken_users_display_name true', 'both CHECKs hold for every row (not NOT VALID)');
    for my $c (["UPDATE bbtoken_tokens SET name = E'deploy\\u202eic' WHERE id = '400000000001'",
                qr/token name must not contain invisible formatting characters/],
               ["INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
                . " SELECT '400000000007', id, E'\\ufeffci', 'PROJECT_READ', 'REPO_READ', repeat('a', 32),"
                . " repeat('7', 64) FROM bbtoken_users WHERE name = 'carl'",
                qr/token name must not contain invisible formatting characters/],
               ["UPDATE bbtoken_users SET display_name = E'Carl \\u2066x' WHERE name = 'carl'",
                qr/bbtoken_users_display_name/],
               ["INSERT INTO bbtoken_projects VALUES ('~nobody', true)", qr/personal project ~nobody has no user/]) {
        ($rc, $out, $err) = $env->psql_try($c->[0], db => 'invisible');
        ok($rc != 0 && $err =~ $c->[1], "refused: $c->[0]") or diag "exit $rc: $out$err";
    }
    is($env->psql("SELECT string_agg(project_key, ',' ORDER BY project_key) FROM bbtoken_projects",
                  db => 'invisible'),
       'PROJ,~alice', "~ghost's settings (no such user) deleted; alice's and PROJ's kept");
    is($env->psql("SELECT string_agg(user_name || ' ' || source, ',') FROM bbtoken_audit"
                  . " WHERE event = 'project_changed' AND detail = 'repository admins may manage repository tokens'",
                  db => 'invisible'),
       'project:~ghost upgrade', '  audited, by the upgrade');
    sweep_later('invisible', undef,
                "token name must not contain control characters: 0080-009F; token name must not contain"
                . " invisible formatting characters: $INVISIBLE",
                'every code point from U+0080 inside a name: the database refuses the C1 controls and the'
                . ' invisible characters, and nothing else, as bbt_input_token_name');
    sweep_later('invisible', $EDGE_RULE, $EDGE_WANT,
                'every code point from U+0080 first and last: white space refused too, as bbt_input_token_name');
};

# An owner's level on target (t.k, t.s) read from u's level map as httpd
# reads it (mod_bbtoken/bbt_levelmap.c): the largest of the entries "*",
# key and key/slug.
our $MAP_LEVEL = "(SELECT COALESCE(max(split_part(e, ':', 2)::integer), 0)"
    . " FROM unnest(string_to_array(bbtoken_owner_level_map(u), ' ')) e"
    . " WHERE t.k IS NOT NULL AND split_part(e, ':', 1) IN ('*', t.k, t.k || '/' || t.s))";

subtest 'version 23: each grant keeps its level; every owner\'s level is what it was' => sub {
    db_at($env, 'levels', 22);
    $env->psql("INSERT INTO bbtoken_users (name, active, is_admin) VALUES ('alice', true, false),"
               . " ('Bob', true, false), ('carol', false, false), ('root', true, true)", db => 'levels');
    $env->psql("INSERT INTO bbtoken_project_grants SELECT u.id, g.k, g.p FROM bbtoken_users u JOIN (VALUES"
               . " ('alice', 'PROJ', 'PROJECT_WRITE'), ('Bob', '~alice', 'PROJECT_READ'),"
               . " ('carol', 'PROJ', 'PROJECT_ADMIN'), ('Bob', 'OTHER', 'PROJECT_ADMIN')) g(n, k, p) ON u.name = g.n",
               db => 'levels');
    $env->psql("INSERT INTO bbtoken_repo_grants SELECT u.id, g.k, g.s, g.p FROM bbtoken_users u JOIN (VALUES"
               . " ('alice', 'PROJ', 'repo', 'REPO_ADMIN'), ('alice', 'OTHER', 'x', 'REPO_READ'),"
               . " ('Bob', 'PROJ', 'repo', 'REPO_WRITE'), ('Bob', 'OTHER', 'x', 'REPO_READ')) g(n, k, s, p)"
               . " ON u.name = g.n", db => 'levels');
    # Every user on every kind of target, by bbtoken_owner_levels and by the
    # level map httpd reads (version 26; before it, bbtoken_owner_level_of,
    # which it replaced).
    my $v22_level = "bbtoken_owner_level_of(u, t.k, t.s)";
    my $levels = "SELECT string_agg(u.name || ' ' || COALESCE(t.k, '-') || '/' || COALESCE(t.s, '-') || '='"
               . " || (SELECT l.level FROM bbtoken_owner_levels(u, t.k, t.s) l) || ','"
               . " || $MAP_LEVEL, ' ' ORDER BY u.name, t.k, t.s)"
               . " FROM bbtoken_users u, (VALUES ('PROJ', NULL), ('PROJ', 'repo'), ('PROJ', 'other'),"
               . " ('OTHER', NULL), ('OTHER', 'x'), ('~alice', NULL), ('~alice', 'x'), ('~bob', NULL),"
               . " (NULL, NULL)) t(k, s)";
    my $before = $env->psql($levels =~ s/\Q$MAP_LEVEL\E/$v22_level/r, db => 'levels');
    my @t = ('OTHER/x', 'OTHER/-', 'PROJ/other', 'PROJ/repo', 'PROJ/-', '~alice/x', '~alice/-', '~bob/-', '-/-');
    my %want = (Bob => [3, 3, 0, 2, 0, 1, 1, 3, 0], alice => [1, 0, 2, 3, 2, 3, 3, 0, 0],
                carol => [(0) x 9], root => [(3) x 8, 0]);
    is($before, join(' ', map { my $n = $_; map {"$n $t[$_]=$want{$n}[$_],$want{$n}[$_]"} 0 .. $#t }
                              qw(Bob alice carol root)),
       'control: version 22 computes them (grants, the personal project\'s owner, an admin, a disabled user)');
    my ($rc, $out, $err) = cli_db($env, 'levels', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    is($env->psql($levels, db => 'levels'), $before, 'every owner\'s level on every target is what it was');
    is($env->psql("SELECT count(*) FROM (SELECT permission, perm_level FROM bbtoken_project_grants UNION ALL"
                  . " SELECT permission, perm_level FROM bbtoken_repo_grants) g"
                  . " WHERE g.perm_level IS DISTINCT FROM bbtoken_perm_level(g.permission)", db => 'levels'),
       0, 'each grant\'s perm_level is its permission\'s level');
    $env->psql("UPDATE bbtoken_repo_grants SET permission = 'REPO_READ' WHERE project_key = 'PROJ'"
               . " AND user_id = (SELECT id FROM bbtoken_users WHERE name = 'alice')", db => 'levels');
    $env->psql("INSERT INTO bbtoken_project_grants VALUES ((SELECT id FROM bbtoken_users WHERE name = 'Bob'),"
               . " 'PROJ', 'PROJECT_ADMIN')", db => 'levels');
    is($env->psql("SELECT string_agg(u.name || '=' || l.level, ' ' ORDER BY u.name) FROM bbtoken_users u,"
                  . " bbtoken_owner_levels(u, 'PROJ', 'repo') l", db => 'levels'),
       'Bob=3 alice=2 carol=0 root=3', 'a grant changed or made (by a plain INSERT) is read at its new level');
    ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_project_grants SET perm_level = 3", db => 'levels');
    ok($rc != 0 && $err =~ /generated column/, 'perm_level cannot be written') or diag "exit $rc: $out$err";
};

# bbtoken_valid_email of "a" c "@b", as name_rule_sweep's rule.
my $EMAIL_RULE = "CASE WHEN NOT bbtoken_valid_email('a' || c || '\@b') THEN 'refused' END";

subtest 'version 25: no invisible formatting character in an e-mail address' => sub {
    # An address is shown to administrators and mailed to by notify: what
    # reorders or hides text makes it read as another address.
    db_at($env, 'invmail', 24);
    $env->psql("INSERT INTO bbtoken_users (name, email) VALUES ('alice', E'alice\@corp\\u202eelpmaxe.'),"
               . " ('bob', E'b\\u200bob\@corp.example'), ('carl', E'carl\@corp.example\\U000e0041'),"
               . " ('dave', 'dave\@corp.example'), ('erin', E'erin\\u2714\\ufe0f\@corp.example'), ('fred', NULL)",
               db => 'invmail');
    is($env->psql("SELECT count(*) FROM bbtoken_users WHERE email ~ '[\\u200b\\u202e\\U000e0041]'", db => 'invmail'),
       3, 'control: version 24 took three such addresses');
    my ($rc, $out, $err) = cli_db($env, 'invmail', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    is($env->psql("SELECT string_agg(name || '=' || COALESCE(email, '-'), ' ' ORDER BY name) FROM bbtoken_users",
                  db => 'invmail'),
       "alice=- bob=- carl=- dave=dave\@corp.example erin=erin\xe2\x9c\x94\xef\xb8\x8f\@corp.example fred=-",
       'the three became none; the others, a variation selector too, are as they were');
    is($env->psql("SELECT string_agg(user_name || ' ' || source || ' ' || detail, ', ' ORDER BY user_name)"
                  . " FROM bbtoken_audit WHERE event = 'user_details_changed'", db => 'invmail'),
       "alice upgrade e-mail none (was 'alice\@corp?elpmaxe.'), bob upgrade e-mail none (was 'b?ob\@corp.example'),"
       . " carl upgrade e-mail none (was 'carl\@corp.example?')",
       'recorded by the upgrade, each such character shown as "?"');
    is($env->psql("SELECT count(*) FROM bbtoken_audit WHERE detail ~ '[\\u200b\\u202e\\U000e0041]'",
                  db => 'invmail'), 0, 'none of them in the audit trail');
    is($env->psql("SELECT convalidated FROM pg_constraint WHERE conname = 'bbtoken_users_email'", db => 'invmail'),
       't', 'the CHECK holds for every row');
    for my $e ("E'dave\@corp\\u202eelpmaxe.'", "E'da\\u200bve\@corp.example'", "E'\\ufeffdave\@corp.example'") {
        ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_users SET email = $e WHERE name = 'dave'",
                                           db => 'invmail');
        ok($rc != 0 && $err =~ /bbtoken_users_email/, "refused from then on: $e") or diag "exit $rc: $out$err";
    }
    sweep_later('invmail', $EMAIL_RULE, "refused: 0080-009F $INVISIBLE",
                'every code point from U+0080: the database refuses the C1 controls and the invisible'
                . ' characters in an address, as bbt_input_email does, and nothing else');
};

subtest 'SQL_ASCII: a control character is read as the database stores it, and other characters pass' => sub {
    # What initdb makes under the C locale without -E: the database holds
    # the CLI's UTF-8 bytes as they come, and its regular expressions read
    # bytes.  A C1 control is C2 80 to C2 9F there; a lone byte in 80 to
    # 9F is part of another character (S with acute, C5 9A), which the old
    # rules refused as a control: a display name, a token name, and (with
    # the new rule read as in UTF8) an address.
    my ($S, $s, $nel) = ("\xc5\x9a", "\xc5\x9b", "\xc2\x85");
    db_at($env, 'ascii', 19, "ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'");
    is($env->psql('SELECT getdatabaseencoding()', db => 'ascii'), 'SQL_ASCII', 'control: the database is SQL_ASCII');
    $env->psql("INSERT INTO bbtoken_users (name, email) VALUES ('zofia', '${s}liwa\@example.pl'),"
               . " ('bad', 'bad${nel}x\@example.pl'), ('ok', 'ok\@example.pl')", db => 'ascii');
    my ($rc, $out, $err) = cli_db($env, 'ascii', 'db', 'upgrade');
    is($rc, 0, 'db upgrade') or diag $err;
    is($env->psql("SELECT string_agg(name || '=' || COALESCE(email, '-'), ' ' ORDER BY name) FROM bbtoken_users",
                  db => 'ascii'),
       "bad=- ok=ok\@example.pl zofia=${s}liwa\@example.pl",
       'the address with a control became none; one with a non-ASCII letter is kept');
    is($env->psql("SELECT detail FROM bbtoken_audit WHERE event = 'user_details_changed'", db => 'ascii'),
       "e-mail none (was 'bad?x\@example.pl')", '  recorded, the control (both its bytes) as "?"');
    ($rc, $out, $err) = cli_db($env, 'ascii', 'user', 'set', 'zofia', '--display-name', "Zofia ${S}liwa");
    is($rc, 0, "user set --display-name 'Zofia Sliwa' (S with acute)") or diag $err;
    ($rc, $out, $err) = cli_db($env, 'ascii', 'user', 'set', 'ok', '--email', "${s}\@example.pl");
    is($rc, 0, 'user set --email with a non-ASCII letter') or diag $err;
    ($rc, $out, $err) = cli_db($env, 'ascii', 'create', 'zofia', '--name', "${S}liwa laptop");
    is($rc, 0, "create --name 'Sliwa laptop' (S with acute)") or diag $err;
    for my $sql ("UPDATE bbtoken_users SET display_name = 'Zofia${nel}' WHERE name = 'zofia'",
                 "UPDATE bbtoken_users SET email = 'ok${nel}\@example.pl' WHERE name = 'ok'",
                 "UPDATE bbtoken_tokens SET name = 'laptop${nel}'") {
        ($rc, $out, $err) = $env->psql_try($sql, db => 'ascii');
        ok($rc != 0 && $err =~ /display_name|users_email|control characters/, 'a C1 control is still refused')
            or diag "exit $rc: $out$err";
    }
    # The invisible formatting characters as their bytes: U+FEFF, U+202E,
    # U+200B; from before version 22, and from then on.
    db_at($env, 'ascii21', 21, "ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'");
    $env->psql("INSERT INTO bbtoken_users (name, display_name) VALUES ('ok', 'O\xef\xbb\xbfK')", db => 'ascii21');
    $env->psql("INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash)"
               . " SELECT '500000000001', id, 'laptop\xe2\x80\xae', 'PROJECT_READ', 'REPO_READ', repeat('a', 32),"
               . " repeat('c', 64) FROM bbtoken_users", db => 'ascii21');
    ($rc, $out, $err) = cli_db($env, 'ascii21', 'db', 'upgrade');
    is($rc, 0, 'db upgrade of a database in SQL_ASCII at version 21') or diag $err;
    is($env->psql("SELECT display_name || ',' || (SELECT name FROM bbtoken_tokens) FROM bbtoken_users",
                  db => 'ascii21'), 'OK,laptop #500000000001',
       '  the characters, as their bytes, removed from a display name and a token name');
    for my $sql ("UPDATE bbtoken_users SET display_name = 'Zofia\xe2\x80\xae' WHERE name = 'zofia'",
                 "UPDATE bbtoken_tokens SET name = 'laptop\xe2\x80\x8b'") {
        ($rc, $out, $err) = $env->psql_try($sql, db => 'ascii');
        ok($rc != 0 && $err =~ /display_name|invisible formatting characters/,
           'an invisible formatting character is refused as its bytes') or diag "exit $rc: $out$err";
    }
    sweep_later('ascii', undef,
                "token name must not contain control characters: 0080-009F; token name must not contain"
                . " invisible formatting characters: $INVISIBLE",
                'SQL_ASCII: every code point from U+0080 as its UTF-8 bytes: the same refusals as in UTF8');
    sweep_later('ascii', $EDGE_RULE, $EDGE_WANT,
                'SQL_ASCII: every code point from U+0080 first and last, as its UTF-8 bytes: the same refusals'
                . ' as in UTF8');
    # An address, likewise from before version 25 and from then on.
    db_at($env, 'ascii24', 24, "ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'");
    $env->psql("INSERT INTO bbtoken_users (name, email) VALUES ('rlo', 'rlo\@corp\xe2\x80\xae.example'),"
               . " ('zofia', '${s}liwa\@example.pl')", db => 'ascii24');
    ($rc, $out, $err) = cli_db($env, 'ascii24', 'db', 'upgrade');
    is($rc, 0, 'db upgrade of a database in SQL_ASCII at version 24') or diag $err;
    is($env->psql("SELECT string_agg(name || '=' || COALESCE(email, '-'), ' ' ORDER BY name) FROM bbtoken_users",
                  db => 'ascii24'), "rlo=- zofia=${s}liwa\@example.pl",
       '  the address with U+202E, as its bytes, became none; one with a non-ASCII letter is kept');
    is($env->psql("SELECT detail FROM bbtoken_audit WHERE event = 'user_details_changed'", db => 'ascii24'),
       "e-mail none (was 'rlo\@corp?.example')", '  recorded, the character (its three bytes) as "?"');
    sweep_later('ascii', $EMAIL_RULE, "refused: 0080-009F $INVISIBLE",
                'SQL_ASCII: every code point from U+0080 in an address, as its UTF-8 bytes: the same refusals'
                . ' as in UTF8');
};

subtest 'every code point from U+0080, swept while the subtests above ran' => sub {
    if (@SWEEPERS) {
        my @ended = map { close($_) ? 1 : 0 } @SWEEPERS;
        ok(!grep({ !$_ } @ended), 'the sweeps ended');
    }
    is(scalar @SWEEPS, 6, 'control: six were asked for');
    for my $s (@SWEEPS) {
        my ($file, $want, $name) = @$s;
        is(BBT::Util::slurp($file), $want, $name);
    }
};

done_testing;
