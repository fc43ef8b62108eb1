# The access-tokens REST API and a token where a name belongs.  README: a
# token is shown once, by create, and nowhere else.  A token (right or
# wrong, cut short, with words around it) given as a token's name is
# refused on create and update, 400 in Bitbucket's envelope, in words that
# do not repeat it, and nothing is stored.  A user named like a token (one
# made before `bbtoken user add` refused such names) is not repeated where
# the answer's words are the database's ("user NAME already has ..."), nor
# in the error log where a failed statement's text quotes the name, nor a
# token with a space typed into it, either half.  The prefix alone is no
# token: BBDC-deploy is a name, and the database's words repeat it whole.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Assert;
use BBT::Env qw(mistype_token);
use BBT::Rest qw(rest_env is_rest_envelope);
use BBT::Secrets qw(holds_token);

my %pw = (alice => 'alice-Pa55-word', root => 'root-Pa55-word');
my $env = rest_env(passwords => [%pw], users => ['alice', [root => '--admin']]);
my $BASE = '/rest/access-tokens/1.0/users';
my $XSRF = { 'X-Atlassian-Token' => 'no-check' };
my ($tok, $id) = $env->token_create('alice', name => 'laptop');
(my $body = $tok) =~ s/^BBDC-//;
my $typo = mistype_token($tok);
my $NOT = qr/\(not repeated: it looks like a token\)/;

sub refused {
    my ($res, $status, $msg_re, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_rest_envelope($res, $status, qr/ArgumentException|Exception$/, $msg_re, $name, qr/\Q$body\E/);
    ok(!holds_token($res->{content} // '', $tok, $typo), "$name: nothing of the token in the answer");
}

subtest 'a token as a token\'s name: 400, not repeated, nothing stored' => sub {
    my $LABEL = qr/^token name must not look like a token: a name is listed and kept in the audit trail, and a token is a secret$/;
    for my $n ($tok, $body, $typo, substr($tok, 0, 40), "ci $tok") {
        my $shown = $n eq "ci $tok" ? 'ci TOKEN' : 'TOKEN';
        refused($env->rest(PUT => "$BASE/alice", as => 'alice', json => { name => $n, permissions => ['REPO_READ'] }),
                400, $LABEL, "create named $shown");
        refused($env->rest(POST => "$BASE/alice/$id", as => 'alice', json => { name => $n }),
                400, $LABEL, "update to $shown");
    }
    is($env->user_live_tokens('alice'), 1, 'no token made');
    my $res = $env->rest(GET => "$BASE/alice/$id", as => 'alice');
    is($res->{json}{name}, 'laptop', 'the name unchanged');
    ok(!holds_token($env->cli_ok('audit', 'alice'), $tok, $typo), 'nothing of it in the audit trail');
};

# $u is named like a token, made before such names were refused; it logs
# in with a password (mod_authn_file, not the module).
my $u = "${tok}2";
$env->psql("INSERT INTO bbtoken_users (name) VALUES ('$u')");
$env->htpasswd($u => 'u-Pa55-word');
my $slug = lc $u;
my (undef, $a) = $env->token_create($u, name => 'a');
my (undef, $b) = $env->token_create($u, name => 'b');

subtest 'the database\'s words: a user named like a token not repeated' => sub {
    refused($env->rest(POST => "$BASE/$slug/$b", as => 'root', json => { name => 'a' }), 400,
            qr/^user $NOT already has a token named 'a': token $a$/, 'an admin renames it to a name in use');
    $env->cli_ok('policy', '--max-tokens', '2');
    refused($env->rest(PUT => "$BASE/$slug", as => $u, json => { name => 'c', permissions => ['REPO_READ'] }),
            400, qr/^user $NOT already has 2 live tokens, the most the token policy allows/,
            'its owner over the policy\'s maximum');
    $env->cli_ok('policy', '--max-tokens', '100');
};

# A failure the API cannot name (a fault, 503) is logged with the failed
# statement's text (BBT200), which here quotes the user's name.
subtest 'a failed statement\'s text in the error log: the name not repeated' => sub {
    $env->psql(<<'SQL');
CREATE FUNCTION t50_fault() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name = 'boom' THEN
        RAISE EXCEPTION 'test fault for user %',
            (SELECT name FROM bbtoken_users WHERE id = NEW.user_id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER t50_fault BEFORE UPDATE ON bbtoken_tokens
    FOR EACH ROW EXECUTE FUNCTION t50_fault();
SQL
    my $mark = log_mark($env->error_log_path);
    my $res = $env->rest(POST => "$BASE/$slug/$b", as => 'root', json => { name => 'boom' });
    is_503($res, 'a fault: 503');
    my @lines = grep { /BBT200: / } log_lines_since($env->error_log_path, $mark);
    ok((grep { /test fault for user $NOT/ } @lines), '  BBT200 says the fault, the name not repeated')
        or diag join "\n", @lines;
    ok(!holds_token(join("\n", log_lines_since($env->error_log_path, $mark)), $tok, $typo),
       '  nothing of the token logged');
    $env->psql('DROP TRIGGER t50_fault ON bbtoken_tokens; DROP FUNCTION t50_fault()');
};

# A name may hold the prefix where no token follows it (BBDC-deploy): taken,
# and repeated whole where the database's words quote it, as any name.
subtest 'the prefix without a token: a name, repeated whole' => sub {
    for my $n ('BBDC-deploy', 'BBDC-prod read-only', 'deploy (BBDC-1234)') {
        my $res = $env->rest(PUT => "$BASE/alice", as => 'alice', json => { name => $n, permissions => ['REPO_READ'] });
        is($res->{status}, 200, "create named '$n': 200") or diag $res->{content};
        my $made = $res->{json}{id} // '';
        $res = $env->rest(PUT => "$BASE/alice", as => 'alice', json => { name => $n, permissions => ['REPO_READ'] });
        is_rest_envelope($res, 400, qr/ArgumentValidationException$/,
                         qr/^user alice already has a token named '\Q$n\E': token $made$/,
                         "  again: the name in use, said whole", qr/\Q$body\E/);
        $env->cli_ok('revoke', $made) if $made;
    }
};

# A name stored before names were read for a token: one with a space typed
# into it after the prefix and 17 of its characters.  Quoted by the
# database (a refusal of the policy's kind, 400; a fault, 503 and BBT200),
# neither half is repeated.
subtest 'a stored name with a token split in it: neither half repeated' => sub {
    my (undef, $split_id) = $env->token_create('alice', name => 'to-split');
    (my $split = $tok) =~ s/^(.{22})/$1 /;
    $env->psql("UPDATE bbtoken_tokens SET name = '$split' WHERE id = '$split_id'");
    $env->psql(<<'SQL');
CREATE FUNCTION t50_split() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.project_perm = 'PROJECT_READ' THEN
        RAISE EXCEPTION 'refused for token %', NEW.name
            USING ERRCODE = 'check_violation', CONSTRAINT = 'bbtoken_policy_t50';
    ELSIF NEW.project_perm = 'PROJECT_WRITE' THEN
        RAISE EXCEPTION 'test fault for token %', NEW.name;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER t50_split BEFORE UPDATE ON bbtoken_tokens
    FOR EACH ROW EXECUTE FUNCTION t50_split();
SQL
    refused($env->rest(POST => "$BASE/alice/$split_id", as => 'alice', json => { permissions => ['PROJECT_READ'] }),
            400, qr/^refused for token $NOT$/, 'a refusal quoting it');
    my $mark = log_mark($env->error_log_path);
    my $res = $env->rest(POST => "$BASE/alice/$split_id", as => 'alice', json => { permissions => ['PROJECT_WRITE'] });
    is_503($res, 'a fault: 503');
    my @lines = grep { /BBT200: / } log_lines_since($env->error_log_path, $mark);
    ok((grep { /test fault for token $NOT$/ } @lines), '  BBT200 says the fault, the name not repeated')
        or diag join "\n", @lines;
    ok(!holds_token(join("\n", log_lines_since($env->error_log_path, $mark)), $tok, $typo),
       '  nothing of the token logged');
    $env->psql('DROP TRIGGER t50_split ON bbtoken_tokens; DROP FUNCTION t50_split()');
    $env->cli_ok('revoke', $split_id);
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
