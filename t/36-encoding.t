# Every connection the module and the CLI make speaks UTF-8, whatever the
# database's encoding, a role's or a database's client_encoding, or
# PGCLIENTENCODING say: a name goes in and comes out as the characters it
# is, never as mojibake.  A database in LATIN1 holds fewer characters than
# a name may have: one it cannot hold is refused in words (REST 400 in
# Bitbucket's envelope, the CLI's exit 1), never answered 500 or 503.  The
# schema is not made in SQL_ASCII, which checks no text; a database an
# earlier release made there still works, and httpd says what it is.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Encode qw(encode decode);
use JSON::PP;
use File::Temp ();
use BBT::Env qw(run_cmd);
use BBT::Rest qw(rest_env);
use BBT::Assert;

my $ROOT = $BBT::Env::ROOT;
my $J = JSON::PP->new->utf8->canonical;
my $B = '/rest/access-tokens/1.0/users/alice';
my $LATIN = "Jürgen's laptop";    # every character is in LATIN1
my $CJK = '日本 CI';             # none of these two is
my $MACRON = 'Ā dev';            # U+0100: its UTF-8 bytes, C4 80, read as
                                 # LATIN1, end in a C1 control

# Password users beside tokens, on git's routes.
my $PASSWORDS = <<'EOC';
ScriptAlias /pw/ "@DIR@/cgi-bin/env.cgi/"
<Location /pw>
    AuthType BBToken
    AuthName "Git"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes git /pw
    Require bbtoken
    AuthzSendForbiddenOnFailure On
</Location>
EOC

sub put_name {
    my ($env, $name) = @_;
    return $env->rest(PUT => $B, as => 'alice', json => $J->encode({ name => $name, permissions => ['REPO_READ'] }));
}
sub rename_to {
    my ($env, $id, $name) = @_;
    return $env->rest(POST => "$B/$id", as => 'alice', json => $J->encode({ name => $name }));
}
sub message { my $r = shift; return ref $r->{json} eq 'HASH' ? $r->{json}{errors}[0]{message} // '' : '' }
sub exception { my $r = shift; return ref $r->{json} eq 'HASH' ? $r->{json}{errors}[0]{exceptionName} // '' : '' }

# A token's name as the database holds it, as the hex of its UTF-8 bytes:
# what psql's own client_encoding cannot garble.
sub stored {
    my ($env, $id) = @_;
    return $env->psql("SELECT encode(convert_to(name, 'UTF8'), 'hex') FROM bbtoken_tokens WHERE id = '$id'");
}
sub hex_of { return unpack('H*', encode('UTF-8', $_[0])) }

# The names the REST API lists, decoded.
sub listed {
    my ($env) = @_;
    my $r = $env->rest(GET => $B, as => 'alice');
    return ['status ' . $r->{status}] unless $r->{status} == 200 && ref $r->{json} eq 'HASH';
    return [sort map { $_->{name} } @{ $r->{json}{values} }];
}

# The lines of the error log that say something failed: errors but a
# refused request's (BBT054: a user without the grant a route needs).
sub failures {
    my ($env) = @_;
    return grep { /\] \[bbtoken:(error|crit)\]/ && !/ BBT054: / } split /\n/, $env->error_log_text;
}

# bbtoken's output as text (it writes UTF-8), with a CLI environment.
sub cli_text {
    my ($env, $vars, @args) = @_;
    my ($rc, $out, $err) = $env->cli_env($vars, '--db', $env->superuser_conninfo, @args);
    return ($rc, decode('UTF-8', $out), decode('UTF-8', $err));
}

subtest 'a database in LATIN1: the characters it has are kept, the others refused in words' => sub {
    my $env = rest_env(passwords => [alice => 'pw', encode('UTF-8', '日本') => 'pw'], users => ['alice'],
                       env => { db_encoding => 'LATIN1' }, extra_conf => $PASSWORDS);
    is($env->psql('SELECT getdatabaseencoding()'), 'LATIN1', 'control: the database is LATIN1');

    my $r = put_name($env, $LATIN);
    is_status($r, 200, "REST PUT, a name of LATIN1's characters");
    my $id = $r->{json}{id};
    is($r->{json}{name}, $LATIN, '  answered with the name as sent');
    is(stored($env, $id), hex_of($LATIN), '  stored as those characters, not as their UTF-8 bytes read as LATIN1');
    is($env->psql("SELECT char_length(name) FROM bbtoken_tokens WHERE id = '$id'"), length($LATIN),
       '  and its length is in characters');
    is_deeply(listed($env), [$LATIN], '  listed as it is');

    for my $c (['CJK', $CJK], ['U+0100', $MACRON]) {
        $r = put_name($env, $c->[1]);
        is_status($r, 400, "REST PUT, a name with $c->[0], which LATIN1 has not");
        like(message($r), qr/^The token name cannot be stored: it holds a character that the token database's encoding \(LATIN1\) does not have\.$/,
             '  says the name cannot be stored, and why');
        is(exception($r), 'com.atlassian.bitbucket.validation.ArgumentValidationException',
           "  in Bitbucket's envelope");
    }
    is($env->psql('SELECT count(*) FROM bbtoken_tokens'), 1, '  no token was made');

    $r = rename_to($env, $id, 'Zoë');
    is_status($r, 200, 'REST POST, a rename to a name of LATIN1\'s characters');
    is(stored($env, $id), hex_of('Zoë'), '  stored as those characters');
    $r = rename_to($env, $id, $CJK);
    is_status($r, 400, 'REST POST, a rename to a name LATIN1 cannot hold');
    like(message($r), qr/^The token name cannot be stored: .*\(LATIN1\)/, '  the same words');
    is(stored($env, $id), hex_of('Zoë'), '  the name is as it was');
    is_deeply(listed($env), ['Zoë'], '  and listed so');

    # The CLI: its output is UTF-8, whatever its environment asks of libpq.
    for my $vars ({}, { PGCLIENTENCODING => 'LATIN1' }) {
        my $how = %$vars ? ' (PGCLIENTENCODING=LATIN1)' : '';
        my ($rc, $out, $err) = cli_text($env, $vars, 'list', 'alice');
        is($rc, 0, "bbtoken list$how") or diag $err;
        like($out, qr/^$id  Zoë /m, '  the name as it is');
        ($rc, $out, $err) = cli_text($env, $vars, 'user', 'set', 'alice', '--display-name', encode('UTF-8', 'Zoë Jürgen'));
        is($rc, 0, "bbtoken user set --display-name$how, LATIN1's characters") or diag $err;
        ($rc, $out, $err) = cli_text($env, $vars, 'user', 'show', 'alice');
        is($rc, 0, "bbtoken user show$how") or diag $err;
        like($out, qr/^display-name: Zoë Jürgen$/m, '  the display name as it is');
        ($rc, $out, $err) = cli_text($env, $vars, 'user', 'set', 'alice', '--display-name', encode('UTF-8', $CJK));
        is($rc, 1, "bbtoken user set --display-name$how, a name LATIN1 cannot hold: refused");
        like($err, qr/^bbtoken: .*: a character of the text has no equivalent in the database's encoding \(LATIN1\)/,
             '  in words');
        ($rc, $out, $err) = cli_text($env, $vars, 'create', 'alice', '--name', encode('UTF-8', "$LATIN (cli)"));
        is($rc, 0, "bbtoken create$how, a name of LATIN1's characters") or diag $err;
        ($rc, $out, $err) = cli_text($env, $vars, 'create', 'alice', '--name', encode('UTF-8', "$CJK (cli)"));
        is($rc, 1, "bbtoken create$how, a name LATIN1 cannot hold: refused");
        is($err, "bbtoken: creating the token: a character of the text has no equivalent in the database's"
                 . " encoding (LATIN1): a database in UTF8 holds every character\n", '  in words');
        $env->psql("DELETE FROM bbtoken_tokens WHERE name LIKE '% (cli)'");
    }
    # What the module hands a CGI: the name in UTF-8.
    $env->make_repo('PROJ', 'repo');
    $env->grant('alice', 'PROJECT_READ', 'PROJ');
    my ($tok) = $env->token_create('alice', name => encode('UTF-8', 'Zoë ci'), perms => ['REPO_READ']);
    my (undef, $v) = $env->env_cgi('PROJ/repo.git/info/refs?service=git-upload-pack',
                                   { Authorization => "Bearer $tok" });
    is($v->{BBTOKEN_NAME}, encode('UTF-8', 'Zoë ci'), 'the CGI gets BBTOKEN_NAME in UTF-8');
    $env->psql("DELETE FROM bbtoken_tokens WHERE name = 'Zo' || chr(235) || ' ci'");
    # A login name that no user can have (the users' names are ASCII) and
    # that LATIN1 cannot even hold: nobody, not a database failure.
    $r = $env->rest(GET => $B, as => encode('UTF-8', '日本'));
    is_status($r, 401, 'REST, a login that no user can have, in characters LATIN1 has not: not permitted');
    is_status($env->get('/pw/PROJ/repo.git/info/refs?service=git-upload-pack',
                        { Authorization => $env->basic(encode('UTF-8', '日本'), 'pw') }),
              403, '  and so on git\'s routes, as a password user: no grant');
    my $list = $env->list_json('alice');
    is_deeply([map { $_->{name} } @{ $list || [] }], ['Zoë'], 'bbtoken list --json: the name as it is');
    is_deeply([failures($env)], [], 'no error logged: nothing failed');
};

# The environment of the UTF8 database, whose PostgreSQL the SQL_ASCII
# subtest borrows for a database of its own (a cluster less to copy, start
# and stop).
my $UTF8_ENV;

subtest 'a UTF8 database, httpd with PGCLIENTENCODING=LATIN1, then its role with client_encoding WIN1252' => sub {
    my $env = $UTF8_ENV = rest_env(passwords => [alice => 'pw'], users => ['alice'],
                       env => { httpd_vars => { PGCLIENTENCODING => 'LATIN1' },
                                pg_conf => { log_statement => "'all'" } });
    my ($requests, @names) = (0);
    for my $round (['PGCLIENTENCODING', '', sub { }],
                   ['the role\'s client_encoding', ' 2', sub {
                        $env->psql("ALTER ROLE bbtoken_api SET client_encoding = 'WIN1252'");
                        $env->httpd_restart(httpd_vars => {});
                    }]) {
        $round->[2]->();
        my %id;
        for my $name (map { $_ . $round->[1] } $LATIN, $CJK, $MACRON) {
            my $r = put_name($env, $name);
            $requests++;
            is_status($r, 200, "$round->[0]: REST PUT '$name'") or next;
            $id{$name} = $r->{json}{id};
            is($r->{json}{name}, $name, '  answered with the name as sent');
            is(stored($env, $id{$name}), hex_of($name), '  stored as its characters');
        }
        my $id = $id{ $LATIN . $round->[1] } or next;
        my $new = "$MACRON$CJK$round->[1]";
        is_status(rename_to($env, $id, $new), 200, "$round->[0]: REST POST, a rename");
        is(stored($env, $id), hex_of($new), '  stored as its characters');
        push @names, $new, map { $_ . $round->[1] } $CJK, $MACRON;
        is_deeply(listed($env), [sort @names], '  listed as they are');
        $requests += 2;
    }
    my ($rc, $out, $err) = cli_text($env, { PGCLIENTENCODING => 'LATIN1' }, 'list', 'alice');
    like($out, qr/ \Q$CJK\E /, 'bbtoken list (PGCLIENTENCODING=LATIN1) shows the name as it is');
    is_deeply([failures($env)], [], 'no error logged: nothing failed');

    # One SET on each connection that needs it, not one a request.
    my %sets;
    my $log = $env->pg_log_text;
    $sets{$1}++ while $log =~ /\[(\d+)\] bbtoken_api\@bbtoken LOG:  statement: set client_encoding to 'UTF8'/g;
    ok(%sets, 'the module set client_encoding (' . scalar(keys %sets) . ' connections)');
    is_deeply([grep { $sets{$_} > 1 } sort keys %sets], [], '  once on each connection');
    ok(scalar(keys %sets) < $requests, "  on fewer connections than requests ($requests)");
};

subtest 'SQL_ASCII: no schema is made there; a database an earlier release made there works, and is named' => sub {
    my $env = BBT::Env->new(httpd => 0, pg_from => $UTF8_ENV)->start;
    $env->psql('CREATE DATABASE ascii' . $env->db_create_options('SQL_ASCII'), db => 'postgres');
    my ($rc, $out, $err) = $env->psql_try(undef, db => 'ascii', file => "$ROOT/sql/schema.sql");
    isnt($rc, 0, 'psql -v ON_ERROR_STOP=1 -f sql/schema.sql: refused');
    like($err, qr/this database's encoding is SQL_ASCII, which stores any bytes unchecked/, '  says why');
    like($err, qr/createdb -E UTF8 -T template0/, '  and what to do');
    # Without ON_ERROR_STOP psql goes on after an error: the file stops itself.
    my @psql = ("$BBT::Env::PGBIN/psql", '-X', '-q', '-h', '127.0.0.1', '-p', $env->pg_port, '-U', 'postgres');
    ($rc, $out, $err) = run_cmd(cmd => [@psql, '-d', 'ascii', '-f', "$ROOT/sql/schema.sql"], tmp => $env->dir . '/run');
    is($env->psql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bbtoken%'", db => 'ascii'), 0,
       '  without ON_ERROR_STOP too: no table made');
    $env->cli_is('bbtoken db upgrade --init', ['--db', $env->superuser_conninfo('ascii'), 'db', 'upgrade', '--init'], 1,
                 raw => 1, stderr => qr/--init: this database's encoding is SQL_ASCII.*createdb -E UTF8/);
    is($env->psql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bbtoken%'", db => 'ascii'), 0,
       '  no table made');
};

subtest 'SQL_ASCII made by an earlier release: httpd warns once, and names go in as UTF-8' => sub {
    # The migrations one by one, as the releases before this one applied them.
    my $file = "$BBT::Env::ROOT/sql/migrations";
    my @m = sort glob "$file/0*.sql";
    my $tmp = File::Temp->new(SUFFIX => '.sql');
    print $tmp join '', "\\ir $m[0]\n", map {"BEGIN;\n\\ir $_\nCOMMIT;\n"} @m[1 .. $#m];
    close $tmp;
    my $env = rest_env(passwords => [alice => 'pw'], users => ['alice'],
                       env => { db_encoding => 'SQL_ASCII', schema_files => ["$tmp"] });
    is($env->psql('SELECT getdatabaseencoding()'), 'SQL_ASCII', 'control: the database is SQL_ASCII');
    for my $name ($LATIN, $CJK) {
        my $r = put_name($env, $name);
        is_status($r, 200, "REST PUT '$name'");
        is($env->psql("SELECT encode(convert_to(name, 'SQL_ASCII'), 'hex') FROM bbtoken_tokens WHERE id = '$r->{json}{id}'"),
           hex_of($name), '  stored as its UTF-8 bytes');
    }
    is_deeply(listed($env), [sort $LATIN, $CJK], '  listed as they are');
    my @warned = grep { /BBT751: the token database's encoding is SQL_ASCII/ } split /\n/, $env->error_log_text;
    ok(@warned >= 1 && @warned <= 2, 'BBT751 said, once per child (' . scalar(@warned) . ')');

    # Bytes that are not UTF-8, as a client in LATIN1 would store them.
    $env->token_insert('alice', name => "caf\xe9 (latin1)");
    my $r = $env->rest(GET => $B, as => 'alice');
    is_status($r, 503, 'a name that is not UTF-8: the list fails, never taken for text');
    like($env->error_log_text, qr/BBT200: access-tokens API: listing tokens failed: .*invalid byte sequence for encoding "UTF8": 0xe9/,
         "  logged in the database's words");
    $env->cli_is('bbtoken list', ['list', 'alice'], 1, stderr => qr/invalid byte sequence for encoding "UTF8": 0xe9/);
};

done_testing;
