# A token's expiry is a date the lookup can read.  PostgreSQL's timestamptz
# also holds 'infinity', '-infinity' and dates up to the year 294276, which
# plain SQL could store when the policy sets no maximum (the CLI and the
# REST API never make them): httpd's lookup, which reads the expiry as
# microseconds since the epoch, failed on each of them ("bigint out of
# range"), so such a token was answered 503 on every request, for ever.
# The schema refuses an expiry that is not a date before the year 100000
# (version 19), and the upgrade to it turns an existing one into "never
# expires" (NULL), which is what it meant, past the trigger that keeps an
# expiry fixed, which is then in force again.  The latest expiry the
# schema takes is read by the lookup.  A token's last use and an expired
# token's last refusal, read by the lookup alike, are bounded alike; the
# upgrade makes an existing one past the end now (a last use, so that the
# token is not taken for unused) or none, one before the start none.  An expiry at the epoch itself, which
# the lookup read as 0, "never expires", is expired.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;

my $ROOT = $BBT::Env::ROOT;
my $env = BBT::Env->new->start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

# token_insert's row with this expiry: the token, or undef if refused.
sub try_insert {
    my ($expires) = @_;
    my $tok = eval { scalar $env->token_insert('alice', name => "exp $expires", expires => $expires) };
    return ($tok, $@);
}

for my $bad ("'infinity'", "'-infinity'", "'294250-01-01 00:00:00+00'", "'100000-01-01 00:00:00+00'") {
    subtest "expires_at $bad" => sub {
        my ($tok, $err) = try_insert($bad);
        ok(!defined $tok, 'the schema refuses it');
        like($err, qr/violates check constraint "bbtoken_tokens_(?:check|expires_finite)"/,
             '  by a CHECK on the expiry');
        # Had it been stored, the lookup must still have answered.
        isnt($env->get($UP, auth_bearer($tok))->{status}, 503, '  (stored, it would not be 503)') if defined $tok;
    };
}

# Last use and an expired token's last refusal are read the same way.
for my $col (qw(last_authenticated expired_refused_at)) {
    subtest "$col past what the lookup reads" => sub {
        my ($tok, $id) = $env->token_create('alice', name => "use $col");
        for my $bad ("'infinity'", "'-infinity'", "'294250-01-01 00:00:00+00'") {
            my ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_tokens SET $col = $bad WHERE id = '$id'");
            ok($rc != 0 && $err =~ /violates check constraint "bbtoken_tokens_use_finite"/, "$bad: refused by the CHECK")
                or diag $err;
        }
        is_ok_res($env->get($UP, auth_bearer($tok)), 'the token is taken');
    };
}

subtest 'the latest expiry the schema takes: the lookup reads it' => sub {
    my ($tok, $err) = try_insert("'99999-12-31 23:59:59+00'");
    ok(defined $tok, 'stored') or diag $err;
    is_ok_res($env->get($UP, auth_bearer($tok)), 'the token is taken');
};

subtest "a '9999-12-31' token rotates (the new one keeps its lifetime)" => sub {
    my ($tok, $id) = $env->token_insert('alice', name => 'never-ish', expires => "'9999-12-31 23:59:59+00'");
    my ($rc, $out, $err) = $env->cli('rotate', $id);
    is($rc, 0, 'bbtoken rotate') or diag $err;
    my ($new) = $out =~ /(BBDC-\S+)/;
    ok($new, 'printed the new token') or diag $out;
    is_ok_res($env->get($UP, auth_bearer($new)), 'the new token is taken') if $new;
};

# The lookup reads no expiry (NULL) as 0, never: a stored expiry at the
# epoch itself is a time, long past, not none.  (Only a row written with
# triggers off can be made before 1970.)
subtest 'an expiry at the epoch is expired, not never' => sub {
    my ($tok, $id) = $env->token_insert('alice', name => 'epoch', created => "'1969-12-31 00:00:00+00'",
                                        expires => "'1970-01-01 00:00:00+00'");
    is_401($env->get($UP, auth_bearer($tok)), 1, 'refused as expired');
    is_401($env->get($UP, auth_bearer($tok)), 1, 'again (from the cache, if kept)');
    my ($old) = $env->token_insert('alice', name => 'before', created => "'1969-12-30 00:00:00+00'",
                                   expires => "'1969-12-31 23:59:59+00'");
    is_401($env->get($UP, auth_bearer($old)), 1, 'control: a second before the epoch, expired too');
};

subtest 'the upgrade turns an existing one into never, and the expiry stays fixed' => sub {
    my ($late, $late_id) = $env->token_create('alice', name => 'late');
    my ($early, $early_id) = $env->token_create('alice', name => 'early');
    my ($refd, $refd_id) = $env->token_create('alice', name => 'refused');
    $env->expire_token($refd_id);
    # The database before migration 19: no such CHECKs, a row of each kind.
    $env->psql('ALTER TABLE bbtoken_tokens DROP CONSTRAINT bbtoken_tokens_expires_finite; '
               . 'ALTER TABLE bbtoken_tokens DROP CONSTRAINT bbtoken_tokens_use_finite; '
               . 'UPDATE bbtoken_schema SET version = 18');
    # Even so, the lookup's triggers (version 26) refuse a time httpd could
    # not read: the row they would write has no such number.
    my ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_tokens SET last_authenticated = 'infinity'"
                                          . " WHERE id = '$late_id'");
    ok($rc != 0 && $err =~ /bigint out of range/, 'without the CHECKs, the lookup\'s row refuses infinity')
        or diag $err;
    ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_tokens SET expired_refused_at = '294250-01-01 00:00:00+00'"
                                       . " WHERE id = '$refd_id'");
    ok($rc != 0 && $err =~ /bigint out of range/, '  and the year 294250') or diag $err;
    # Before version 26 there was no lookup table to write.
    $env->psql("ALTER TABLE bbtoken_tokens DISABLE TRIGGER $_") for qw(bbtoken_tokens_lookup_ins bbtoken_tokens_lookup_upd);
    my ($inf, $inf_id) = $env->token_insert('alice', name => 'inf', expires => "'infinity'");
    my ($far, $far_id) = $env->token_insert('alice', name => 'far', expires => "'294250-01-01 00:00:00+00'");
    my ($ok, $ok_id) = $env->token_insert('alice', name => 'ok', expires => "now() + interval '1 day'");
    my $ok_exp = $env->token_row($ok_id)->{expires_at};
    # Used at the end of time, at its beginning, and refused at its end.
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = 'infinity' WHERE id = '$late_id'; "
               . "UPDATE bbtoken_tokens SET last_authenticated = '-infinity' WHERE id = '$early_id'; "
               . "UPDATE bbtoken_tokens SET expired_refused_at = 'infinity' WHERE id = '$refd_id'");
    my $file = $env->dir . '/scratch/upgrade19.sql';
    BBT::Util::spew($file, "BEGIN;\n\\ir $ROOT/sql/migrations/0019_expiry_finite.sql\nCOMMIT;\n");
    $env->psql(undef, file => $file);
    is($env->psql('SELECT version FROM bbtoken_schema'), '19', 'upgraded to 19');
    # And on to 26: the lookup's rows of every token.
    $env->psql("ALTER TABLE bbtoken_tokens ENABLE ALWAYS TRIGGER $_") for qw(bbtoken_tokens_lookup_ins bbtoken_tokens_lookup_upd);
    $env->psql('SELECT bbtoken_lookup_write(ARRAY(SELECT id FROM bbtoken_tokens ORDER BY id))');
    is($env->token_row($inf_id)->{expires_at}, '', 'infinity became NULL: never expires');
    is($env->token_row($far_id)->{expires_at}, '', 'the year 294250 became NULL');
    is($env->token_row($ok_id)->{expires_at}, $ok_exp, 'a finite expiry is unchanged');
    is_ok_res($env->get($UP, auth_bearer($inf)), 'after: the infinity token is 200');
    is_ok_res($env->get($UP, auth_bearer($far)), 'after: the far token is 200');
    is($env->psql("SELECT last_authenticated > now() - interval '1 hour' FROM bbtoken_tokens WHERE id = '$late_id'"),
       't', 'last use at infinity became now (never revoked as unused for it)');
    is($env->token_row($early_id)->{last_authenticated}, '', 'last use at -infinity became never (NULL)');
    is($env->psql("SELECT expired_refused_at IS NULL FROM bbtoken_tokens WHERE id = '$refd_id'"), 't',
       'a refusal at infinity became none');
    is_ok_res($env->get($UP, auth_bearer($late)), 'after: the late token is 200');
    is_ok_res($env->get($UP, auth_bearer($early)), 'after: the early token is 200');
    is_401($env->get($UP, auth_bearer($refd)), 1, 'after: the expired token is 401');
    ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_tokens SET expires_at = now() + interval '2 days' WHERE id = '$inf_id'");
    ok($rc != 0 && $err =~ /bbtoken_tokens_fixed/, 'the expiry is fixed again (the trigger is back on)') or diag $err;
    is($env->psql("SELECT tgenabled FROM pg_trigger WHERE tgname = 'bbtoken_tokens_fixed'"), 'O',
       '  and fires as before');
};

is(scalar($env->crash_lines), 0, 'no child crashed');
done_testing;
