# A user's e-mail address, display name and slug through the CLI (user add
# --email --display-name, user set, user show) and in the database: the
# CLI's refusals come first, with bbt_input's messages, and the schema
# refuses the same values from plain SQL; the slug is the database's own,
# agrees with the C rule, and cannot be shared by two users.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;

sub row {
    my ($name) = @_;
    return $env->psql("SELECT slug || '|' || COALESCE(email, '-') || '|' || COALESCE(display_name, '-')"
                      . " FROM bbtoken_users WHERE lower(name) = lower('$name')");
}

subtest 'user add with an e-mail address and a display name' => sub {
    $env->cli_is('user add --email --display-name',
                 ['user', 'add', 'Carol.Smith@Corp', '--email', 'carol.smith@corp.example', '--display-name',
                  "Carol Sm\x{c3}\x{ad}th"], 0);
    is(row('carol.smith@corp'), "carol.smith_corp|carol.smith\@corp.example|Carol Sm\x{c3}\x{ad}th",
       'stored, with the slug the database made: lower case, @ as _');
    $env->cli_is('user add without them', ['user', 'add', 'dave'], 0);
    is(row('dave'), 'dave|-|-', 'none stored');
    $env->cli_is('a bad address', ['user', 'add', 'erin', '--email', 'erin at corp'], 1,
                 stderr => qr/^bbtoken: e-mail address must not contain spaces/);
    $env->cli_is('an address without a domain', ['user', 'add', 'erin', '--email', 'erin@'], 1,
                 stderr => qr/one \@ with a name before it and a domain after it/);
    $env->cli_is('an address of 255 bytes', ['user', 'add', 'erin', '--email', 'e@' . ('x' x 253)], 1,
                 stderr => qr/longer than 254 bytes/);
    $env->cli_is('a display name with a newline', ['user', 'add', 'erin', '--display-name', "a\nb"], 1,
                 stderr => qr/display name must not contain control characters/);
    $env->cli_is('a display name of 256 characters', ['user', 'add', 'erin', '--display-name', 'x' x 256], 1,
                 stderr => qr/display name is longer than 255 characters/);
    is($env->psql("SELECT count(*) FROM bbtoken_users WHERE name = 'erin'"), 0, 'no erin was added');
    $env->cli_is('--no-email is for user set', ['user', 'add', 'erin', '--no-email'], 2,
                 stderr => qr/user add does not take --no-email/);
};

subtest 'two users may not share a slug' => sub {
    $env->cli_is('the slug of another user', ['user', 'add', 'carol.smith_corp'], 1,
                 stderr => qr/^bbtoken: user Carol.Smith\@Corp has the slug carol.smith_corp already/);
    $env->cli_is('the same name in another case', ['user', 'add', 'DAVE'], 1,
                 stderr => qr/^bbtoken: user already exists: DAVE$/);
    my ($rc, $out, $err) = $env->psql_try("INSERT INTO bbtoken_users (name) VALUES ('CAROL.SMITH_corp')");
    ok($rc != 0 && $err =~ /bbtoken_users_slug_key/, 'plain SQL: refused by the unique index') or diag $err;
    ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_users SET slug = 'x' WHERE name = 'dave'");
    ok($rc != 0 && $err =~ /generated column/, 'the slug cannot be written') or diag $err;
};

subtest 'the schema\'s slug is bbt_input_user_slug\'s' => sub {
    # The C rule's cases (t/unit/test_input.c), through the database.
    my %want = ('Alice' => 'alice', 'x_y-z.0' => 'x_y-z.0', 'a@b@c' => 'a_b_c',
                'Z.Q@Corp.EXAMPLE' => 'z.q_corp.example');
    $env->cli_ok('user', 'add', $_) for sort keys %want;
    for my $n (sort keys %want) {
        is($env->psql("SELECT slug FROM bbtoken_users WHERE name = '$n'"), $want{$n}, "slug of $n: $want{$n}");
    }
};

subtest 'user set changes, clears and keeps' => sub {
    $env->cli_is('set both', ['user', 'set', 'dave', '--email', 'dave@corp.example', '--display-name', 'Dave'], 0);
    is(row('dave'), 'dave|dave@corp.example|Dave', 'both set');
    $env->cli_is('clear the e-mail, keep the name', ['user', 'set', 'DAVE', '--no-email'], 0);
    is(row('dave'), 'dave|-|Dave', 'e-mail cleared, display name kept');
    $env->cli_is('clear the name, set the e-mail',
                 ['user', 'set', 'dave', '--no-display-name', '--email', 'd@x'], 0);
    is(row('dave'), 'dave|d@x|-', 'as asked');
    $env->cli_is('nothing to change', ['user', 'set', 'dave'], 2,
                 stderr => qr/user set needs --email, --no-email, --display-name, --no-display-name, --admin or --no-admin/);
    $env->cli_is('both for one value', ['user', 'set', 'dave', '--email', 'a@b', '--no-email'], 2,
                 stderr => qr/^bbtoken: give --email or --no-email, not both$/m);
    $env->cli_is('an unknown user', ['user', 'set', 'nobody', '--no-email'], 1,
                 stderr => qr/^bbtoken: no such user: nobody$/);
    $env->cli_is('a bad address', ['user', 'set', 'dave', '--email', 'a@b@c'], 1, stderr => qr/one \@/);
    # What reorders or hides text makes an address read as another one:
    # right-to-left override, zero-width space, word joiner.
    for my $c ("\x{e2}\x{80}\x{ae}", "\x{e2}\x{80}\x{8b}", "\x{e2}\x{81}\x{a0}") {
        $env->cli_is('an address with an invisible formatting character',
                     ['user', 'set', 'dave', '--email', "dave\@corp${c}.example"], 1,
                     stderr => qr/^bbtoken: e-mail address must not contain invisible formatting characters$/);
    }
    $env->cli_is('user add likewise', ['user', 'add', 'erin', '--email', "er\x{e2}\x{80}\x{8b}in\@corp"], 1,
                 stderr => qr/^bbtoken: e-mail address must not contain invisible formatting characters$/);
    is(row('dave'), 'dave|d@x|-', 'unchanged by the refusals');
    # Kept (the REST API shows it), but notify cannot write it into a
    # header: said at once, not at the first notice that goes unmailed.
    my $warned = qr/\Abbtoken: warning: (\w+)'s e-mail address cannot go into a mail header as it is .*: notify will not mail \1\n\z/;
    my ($rc, $out, $err) = $env->cli_is('an address notify cannot mail',
                                        ['user', 'add', 'gus', '--email', "gus\@b\x{c3}\x{bc}cher.example"], 0,
                                        shape => 0, stderr => $warned);
    is($err =~ $warned && $1, 'gus', '  a warning naming gus, exit 0');
    is(row('gus'), "gus|gus\@b\x{c3}\x{bc}cher.example|-", '  stored all the same');
    $env->cli_is('user set likewise', ['user', 'set', 'gus', '--email', '"gus"@corp.example'], 0,
                 shape => 0, stderr => $warned);
    $env->cli_is('an address it can mail: no warning', ['user', 'set', 'gus', '--email', 'gus@corp.example'], 0);
};

# user set changes only what it is given: an administrator whose e-mail
# address or display name is changed stays one (and a user who is not
# stays not); only --admin and --no-admin touch the flag.
subtest 'user set keeps the admin flag' => sub {
    my $admin = sub { $env->psql("SELECT is_admin FROM bbtoken_users WHERE name = '$_[0]'") };
    $env->cli_is('user add ivy --admin', ['user', 'add', 'ivy', '--admin'], 0);
    is($admin->('ivy'), 't', 'ivy is an administrator');
    for my $set (['--email', 'ivy@corp.example'], ['--display-name', 'Ivy'], ['--no-email'],
                 ['--no-display-name']) {
        $env->cli_is("user set ivy @$set", ['user', 'set', 'ivy', @$set], 0);
        is($admin->('ivy'), 't', "  still one after @$set");
    }
    $env->cli_is('user set dave --email', ['user', 'set', 'dave', '--email', 'dave@corp.example'], 0);
    is($admin->('dave'), 'f', 'dave, not one, is not one after --email either');
    $env->cli_is('user set dave --email (back)', ['user', 'set', 'dave', '--email', 'd@x'], 0);
};

subtest 'user show' => sub {
    my $out = $env->cli_is('show', ['user', 'show', 'carol.smith@corp'], 0);
    is($out, "name: Carol.Smith\@Corp\nslug: carol.smith_corp\nactive: yes\nadmin: no\n"
           . "email: carol.smith\@corp.example\ndisplay-name: Carol Sm\x{c3}\x{ad}th\n", 'every field');
    my $j = $env->cli_json('user', 'show', 'dave');
    is_deeply($j, { name => 'dave', slug => 'dave', active => JSON::PP::true, admin => JSON::PP::false,
                    emailAddress => 'd@x' }, '--json: no displayName when there is none');
    $env->cli_is('an unknown user', ['user', 'show', 'nobody'], 1, stderr => qr/no such user: nobody/);
};

subtest 'the schema refuses what the CLI refuses' => sub {
    for my $bad ("'a b\@c'", "'abc'", "'\@c'", "'a\@'", "'a\@b\@c'", "'a\@' || repeat('x', 253)", "E'a\@b\\n'",
                 "E'a\@b\\u202e'", "E'a\\u200b\@b'") {
        my ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_users SET email = $bad WHERE name = 'dave'");
        ok($rc != 0 && $err =~ /bbtoken_users_email/, "email $bad: refused by the CHECK") or diag $err;
    }
    my ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_users SET email = 'a\@' || repeat('x', 252)"
                                          . " WHERE name = 'dave'");
    is($rc, 0, 'an address of 254 bytes is accepted') or diag $err;
    for my $bad ("''", "E'a\\tb'", "repeat('x', 256)") {
        ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_users SET display_name = $bad WHERE name = 'dave'");
        ok($rc != 0 && $err =~ /bbtoken_users_display_name/, "display name $bad: refused") or diag $err;
    }
    ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_users SET display_name = repeat('\x{c3}\x{a9}', 255)"
                                       . " WHERE name = 'dave'");
    is($rc, 0, '255 two-byte characters are accepted') or diag $err;
};

done_testing;
