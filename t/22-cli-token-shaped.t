# A token where an operand or an option's value belongs.  README: a token
# is shown once, by create, on stdout, and nowhere else; an administrator
# with a leaked token types `bbtoken revoke TOKEN`, and from cron the line
# on stderr goes out by mail.  Whichever check refuses the value (an id, a
# user name, a key, a number, a command word) and whatever the database
# then says of it (no such user), the token is not repeated, nor a key or
# slug made of its characters; the line says why.  Where a token id
# belongs (revoke, update, rotate, audit --token) the line tells the id the
# token carries, when its checksum says the id is the one it was made with:
# the id is no secret, and with it the token is revoked.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Token qw(forge_token mistype_token);
use BBT::Secrets qw(holds_token);

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add('alice');
my ($tok, $id) = $env->token_create('alice', name => 'laptop');
(my $body = $tok) =~ s/^BBDC-//;
# A token of the older shape, its secret holding base64's '+' and '/'
# (none is made so now: bbt_token_generate), its checksum right.
my $slashed = forge_token('000123456789', "\xfb\xff\xbf" x 5 . 'x');
like($slashed, qr{[+/]}, 'a token with + and /');
my $typo = mistype_token($tok);
my $NOT = qr/\(not repeated: it looks like a token\)/;

sub refused {
    my ($name, $args, $want, $why) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out, $err) = $env->cli_is($name, $args, $want, stderr => $why);
    ok(!holds_token($out . $err, $tok, $slashed, $typo), "$name: nothing of the token printed") or diag $err;
    return $err;
}

subtest 'where a token id belongs: the id the token carries, not the token' => sub {
    my $ID_TOLD = qr/\Abbtoken: not a token id \(12 digits\) but a token \(not repeated: it is secret\); its id is \Q$id\E\n\z/;
    for my $a (['revoke', $tok], ['revoke', $body], ['update', $tok, '--name', 'x'], ['rotate', $tok],
               ['audit', '--token', $tok], ['revoke', '--', $tok]) {
        my $shown = join ' ', map { $_ eq $tok ? 'TOKEN' : $_ eq $body ? 'BODY' : $_ } @$a;
        refused($shown, $a, 1, $ID_TOLD);
    }
    refused('revoke SLASHED', ['revoke', $slashed], 1, qr/its id is 000123456789$/);
    # Its checksum wrong, the id may be mistyped too: none is told.
    my $err = refused('revoke MISTYPED', ['revoke', $typo], 1,
                      qr/\Abbtoken: not a token id \(12 digits\): $NOT\n\z/);
    unlike($err, qr/\Q$id\E/, '  no id told for a token whose checksum is wrong');
    refused('revoke, a token cut short', ['revoke', substr($tok, 0, 40)], 1, $NOT);
    is($env->user_live_tokens('alice'), 1, 'nothing revoked');
    $env->cli_is('revoke the id told', ['revoke', $id], 0);
    is($env->user_live_tokens('alice'), 0, 'the token revoked by its id');
};

subtest 'where a user name, a key or another value belongs: not repeated' => sub {
    for my $t ($tok, $slashed, $typo) {
        for my $a (['list', $t], ['list', $t, '--json'], ['user', 'show', $t], ['user', 'disable', $t],
                   ['user', 'enable', $t], ['user', 'set', $t, '--email', 'a@example.com'], ['audit', $t],
                   ['revoke', '--user', $t], ['create', $t, '--name', 'x'], ['grant', $t, 'REPO_READ', 'PROJ/repo'],
                   ['ungrant', $t, 'PROJ'], ['list', '--all', '--owner', $t], ['list', '--project', $t],
                   ['list', '--repo', "PROJ/$t"], ['list', '--project', $body], ['project', $body],
                   ['grant', 'alice', 'REPO_READ', "PROJ/$t"], ['grant', 'alice', 'PROJECT_READ', $body],
                   ['create', '--repo', "PROJ/$t", '--name', 'x'], ['revoke', '--project', $body],
                   ['audit', '--repo', "PROJ/$t"], ['expiring', '--within', $t], ['audit', '--since', $t],
                   ['list', '--all', '--kind', $t], ['list', '--all', '--min-perm', $t],
                   ['create', 'alice', '--name', 'x', '--perm', $t],
                   ['create', 'alice', '--name', 'x', '--expiry-days', $t],
                   ['create', 'alice', '--name', 'x', '--allow-from', $t], ['policy', '--max-tokens', $t],
                   ['notify', '--dry-run', '--sendmail', $t], ['notify', '--dry-run', '--from', $t]) {
            my $shown = join ' ', map { $_ eq $t ? 'TOKEN' : $_ eq $body ? 'BODY' : $_ } @$a;
            refused($shown, $a, 1, $NOT);
        }
    }
};

subtest 'where a command word or an option belongs: not repeated' => sub {
    my $cut = substr($tok, 0, 31);
    for my $a ([$cut], ['user', $cut], ['db', $cut], ['list', "--$tok"], ['list', 'alice', "--$tok"],
               ['list', 'alice', "--$tok=1"]) {
        my $shown = join ' ', map { s/\Q$body\E|\Q$cut\E/TOKEN/r } @$a;
        refused($shown, $a, 2, $NOT);
    }
};

# A token as a token's name, or a display name: a name is listed, shown and
# kept in the audit trail for ever, so it is refused, in words that do not
# repeat it, and nothing of it is stored.
subtest 'a token where a name belongs: refused, not repeated, nothing stored' => sub {
    my (undef, $kept) = $env->token_create('alice', name => 'kept');
    my $LABEL_NOT = qr/^bbtoken: token name must not look like a token: a name is listed and kept in the audit trail, and a token is a secret$/;
    # White space typed into it is Unicode's: a no-break space (U+00A0) or an
    # ideographic one (U+3000), in UTF-8, is read past as a space is.
    (my $nbsp = $tok) =~ s/^(.{25})/$1\xc2\xa0/;
    (my $ideo = $tok) =~ s/^(.{40})/$1\xe3\x80\x80/;
    for my $n ($tok, $body, $slashed, $typo, substr($tok, 0, 40), "ci $tok", $nbsp, $ideo) {
        my $shown = $n eq "ci $tok" ? 'ci TOKEN' : $n eq $nbsp ? 'TOK\xa0EN' : $n eq $ideo ? 'TOK\x{3000}EN' : 'TOKEN';
        refused("create --name $shown", ['create', 'alice', '--name', $n], 1, $LABEL_NOT);
        refused("update --name $shown", ['update', $kept, '--name', $n], 1, $LABEL_NOT);
        refused("create --project --name $shown", ['create', '--project', 'PROJ', '--name', $n], 1, $LABEL_NOT);
        refused("user set --display-name $shown", ['user', 'set', 'alice', '--display-name', $n], 1,
                qr/^bbtoken: display name must not look like a token: /);
    }
    refused('user add --display-name TOKEN', ['user', 'add', 'dora', '--display-name', $tok], 1,
            qr/^bbtoken: display name must not look like a token: /);
    is($env->user_live_tokens('alice'), 1, 'no token made');
    my $text = join '', map { scalar $env->cli_ok(@$_) }
        ['list', 'alice'], ['list', '--all', '--json'], ['audit', 'alice'], ['audit', '--token', $kept],
        ['user', 'show', 'alice'];
    ok(!holds_token($text, $tok, $slashed, $typo) && index($text, substr($tok, 25)) < 0,
       'nothing of it in list, audit or user show');
    $env->cli_is('revoke the token kept', ['revoke', $kept], 0);
};

# A user under a token's name: its name is in the access log of each of
# its requests, in the audit trail and in the REST API's answers, so `user
# add` refuses one.  One made before that is served as any other user, and
# not repeated where the CLI names it, nor where the database's message
# quotes it.
subtest 'a user named like a token: refused now; one made before not repeated' => sub {
    for my $t ($tok, $body, $typo) {
        refused('user add TOKEN', ['user', 'add', $t], 1,
                qr/^bbtoken: invalid user name: it looks like a token \(not repeated\): /);
    }
    is($env->psql("SELECT count(*) FROM bbtoken_users WHERE name LIKE 'BBDC%' OR name LIKE 'MDAw%'"), 0,
       '  no user added');
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('$tok')");
    my ($rc, $out, $err) = $env->cli('user', 'set', $tok, '--email', '"q"@example.com');
    is($rc, 0, 'an address notify cannot mail: exit 0');
    like($err, qr/^bbtoken: warning: this user's e-mail address [^\n]*: notify will not mail this user$/,
         '  the warning names no token');
    ok(!holds_token($out . $err, $tok), '  nothing of the token printed');
    $env->cli_is('user disable TOKEN', ['user', 'disable', $tok], 0);
    refused('create TOKEN: disabled', ['create', $tok, '--name', 'x'], 1, qr/^bbtoken: user is disabled: $NOT$/);
    $env->cli_is('user enable TOKEN', ['user', 'enable', $tok], 0);
    $env->token_create($tok, name => 'one');
    ($rc, $out, $err) = $env->cli_is('revoke --user TOKEN', ['revoke', '--user', $tok], 0,
                                     stdout => qr/^revoked 1 token of $NOT$/);
    ok(!holds_token($out . $err, $tok), '  nothing of the token printed');
};

# The schema's refusals quote the holder ("user NAME already has ..."): a
# user named like a token is not repeated there either, whichever branch of
# the CLI says the server's message.  The word after the name may be hidden
# with it: a token's id repeats its character classes every four
# characters, so some tokens (about one in 750) read as one
# again from their fifth character with one edit, and what is hidden then
# runs on over the characters such a token would still have ("already").
my $ALREADY = qr/(?:already )?/;
subtest 'the database\'s messages: a user named like a token not repeated' => sub {
    my $u = "${tok}2";
    $env->psql("INSERT INTO bbtoken_users (name) VALUES ('$u')");
    $env->cli_ok('policy', '--max-tokens', '1');
    my (undef, $a) = $env->token_create($u, name => 'a');
    refused('create over the policy\'s maximum', ['create', $u, '--name', 'b'], 1,
            qr/^bbtoken: user $NOT ${ALREADY}has 1 live tokens, the most the token policy allows/);
    $env->cli_ok('policy', '--max-tokens', '100');
    refused('create: a name in use', ['create', $u, '--name', 'a'], 1,
            qr/^bbtoken: user $NOT ${ALREADY}has a token named 'a': token $a$/);
    my (undef, $b) = $env->token_create($u, name => 'b');
    refused('update: a name in use', ['update', $b, '--name', 'a'], 1,
            qr/^bbtoken: user $NOT ${ALREADY}has a token named 'a': token $a$/);
    $env->cli_ok('revoke', '--user', $u);
};

# The prefix alone is no token: a name may hold it (BBDC-deploy), a user
# may be named with it, whatever its case, and the database's words that
# quote such a name are said whole.
subtest 'the prefix without a token: a name, said whole' => sub {
    for my $n ('BBDC-deploy', 'BBDC-prod read-only', 'deploy (BBDC-1234)') {
        my (undef, $made) = $env->token_create('alice', name => $n);
        ok($made, "create --name '$n'");
        $env->cli_is("create --name '$n' again", ['create', 'alice', '--name', $n], 1,
                     stderr => qr/^bbtoken: user alice already has a token named '\Q$n\E': token $made$/);
        $env->cli_ok('revoke', $made);
    }
    $env->cli_is('user add BBDC-svc', ['user', 'add', 'BBDC-svc'], 0);
    $env->cli_is('user add BBDC-svc again: named', ['user', 'add', 'BBDC-svc'], 1,
                 stderr => qr/^bbtoken: user already exists: BBDC-svc$/);
    $env->cli_is('user disable BBDC-nosuch: named', ['user', 'disable', 'BBDC-nosuch'], 1,
                 stderr => qr/^bbtoken: no such user: BBDC-nosuch$/);
    $env->cli_is('user add bbdc-svc: the same user', ['user', 'add', 'bbdc-svc'], 1,
                 stderr => qr/^bbtoken: user already exists: bbdc-svc$/);
    $env->cli_is('user set --display-name BBDC-Jenkins', ['user', 'set', 'BBDC-svc', '--display-name', 'BBDC-Jenkins'], 0);
};

# A name stored before names were read for a token: one with a space typed
# into it after the prefix and 17 of its characters.  Quoted by the
# database, neither half is said.
subtest 'a stored name with a token split in it: neither half said' => sub {
    my (undef, $split_id) = $env->token_create('alice', name => 'to-split');
    (my $split = $tok) =~ s/^(.{22})/$1 /;
    $env->psql("UPDATE bbtoken_tokens SET name = '$split' WHERE id = '$split_id'");
    $env->psql(<<'SQL');
CREATE FUNCTION t22_split() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.project_perm = 'PROJECT_WRITE' THEN
        RAISE EXCEPTION 'test fault for token %', NEW.name;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER t22_split BEFORE UPDATE ON bbtoken_tokens
    FOR EACH ROW EXECUTE FUNCTION t22_split();
SQL
    refused('update a token so named', ['update', $split_id, '--perm', 'PROJECT_WRITE'], 1,
            qr/^bbtoken: updating the token: test fault for token $NOT$/);
    $env->psql('DROP TRIGGER t22_split ON bbtoken_tokens; DROP FUNCTION t22_split()');
    $env->cli_ok('revoke', $split_id);
};

done_testing;
