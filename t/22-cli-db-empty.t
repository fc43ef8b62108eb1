# A --db whose connection string leaves libpq to choose the database, as an
# empty --db would (refused as bad usage: t/22-cli): a keyword given an
# empty value, or none ("password= dbname=x" is the password "dbname=x"),
# a place of the host and hostaddr lists that neither names, a URI naming
# no host and no database, a URI whose database after its "/" is empty.
# Each is what a template gives with a variable unset (postgresql://$H/$D
# is postgresql:/// or, $D alone unset, postgresql://h/; dbname=$D is
# dbname=), and each connected to what PGHOST and PGDATABASE name, or to
# libpq's default (the database named after the login, the local socket):
# the command acted there.  Now each is refused (exit 1, the keyword or
# the form named, never a value), and the forms that name what they mean
# still connect: an empty item of one list where the other names the host
# (libpq takes it from there), a quoted password that looks like a
# setting, a URI with no "/" after its host (the database not given, as
# host= alone: PGDATABASE's).  The unit test
# t/unit/test_cli_dbarg.c reads many more without a server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
my $port = $env->pg_port;
# The environment a bad --db would fall back on: the test's database.
local $env->{cli_env} = { PGHOST => '127.0.0.1', PGPORT => $port, PGDATABASE => 'bbtoken', PGUSER => 'postgres' };
my $n = 0;

sub added { $env->psql("SELECT count(*) FROM bbtoken_users WHERE name = '$_[0]'") }

subtest 'a --db that names nothing: refused, nothing done' => sub {
    for my $c (['postgresql:///', qr/the URI names no host and no database/],
               ['postgres://', qr/the URI names no host and no database/],
               ["postgresql://:$port/", qr/the URI names no host and no database/],
               ['postgresql://postgres@/', qr/the URI names no host and no database/],
               ["postgresql://127.0.0.1:$port/", qr/the URI's database is empty \(a "\/" after the host/],
               ["postgresql://postgres\@127.0.0.1:$port/?sslmode=disable", qr/the URI's database is empty/],
               ["postgresql:///?host=127.0.0.1&port=$port", qr/the URI's database is empty/],
               ['dbname=', qr/dbname is empty, so libpq would use its default instead/],
               ["dbname='' host=127.0.0.1", qr/dbname is empty/],
               ['dbname=bbtoken host=', qr/host is empty, so libpq would use its default/],
               ['postgresql://127.0.0.1/bbtoken?host=', qr/host is empty/],
               ["postgresql:///bbtoken?port=&host=127.0.0.1", qr/port is empty/],
               ['host=127.0.0.1 password= dbname=bbtoken',
                qr/password= is followed by a blank and another keyword's setting, which libpq would take for password's value/],
               ['host=127.0.0.1, dbname=bbtoken', qr/item 2 of host is empty and hostaddr gives none there/],
               ['postgresql://127.0.0.1,/bbtoken', qr/item 2 of host is empty and hostaddr gives none there/],
               # host not given: PGHOST's item there, or libpq's default.
               ['hostaddr=127.0.0.1, dbname=bbtoken', qr/item 2 of hostaddr is empty and host gives none there/],
               ['host=127.0.0.1,,127.0.0.1 hostaddr=127.0.0.1,,127.0.0.1 dbname=bbtoken',
                qr/item 2 of hostaddr is empty and host gives none there/]) {
        my ($db, $why) = @$c;
        my $user = 'nodb' . ++$n;
        $env->cli_is("--db '$db' user add", ['--db', $db, 'user', 'add', $user], 1, raw => 1,
                     stderr => qr/\Abbtoken: --db: .*$why/);
        is(added($user), 0, '  nobody added');
    }
};

subtest 'the value is never repeated' => sub {
    # libpq's password is "user=S3CRETpw" in the second.
    for my $db ('host=127.0.0.1 password= dbname=S3CRETdb', 'host=127.0.0.1 dbname=bbtoken password= user=S3CRETpw',
                'host=127.0.0.1, dbname=bbtoken password=S3CRETpw', 'password=S3CRETpw hostaddr=127.0.0.1, dbname=bbtoken',
                "dbname='' password=S3CRETpw", 'postgresql://postgres:S3CRETpw@/',
                'postgresql://postgres:S3CRETpw@127.0.0.1,/bbtoken',
                'postgresql://u:S3CRETpw@h:5432/?sslmode=require') {
        my ($rc, undef, $err) = $env->cli_raw('--db', $db, 'list', 'alice');
        is($rc, 1, "--db '$db': refused");
        unlike($err, qr/S3CRET|user=/, '  no byte of a value') or diag $err;
    }
};

subtest 'a --db that names what it means: connects' => sub {
    for my $db ("postgresql://127.0.0.1:$port/bbtoken?user=postgres", "postgresql:///bbtoken?host=127.0.0.1&port=$port",
                # No "/": the database not given, as host= alone; PGDATABASE's.
                "postgresql://127.0.0.1:$port", "host=127.0.0.1 port=$port", 'dbname=bbtoken',
                "postgresql://127.0.0.1:$port/?dbname=bbtoken", "postgres://127.0.0.1:$port?user=postgres",
                "postgresql://127.0.0.1,127.0.0.1/bbtoken?port=$port,$port",
                # An empty item of one list takes the other's: the address
                # for a host, the host (its name looked up) for an address.
                "host=localhost,127.0.0.1 hostaddr=127.0.0.1, port=$port dbname=bbtoken user=postgres",
                "host=,localhost hostaddr=127.0.0.1, port=$port dbname=bbtoken user=postgres",
                # Nothing listens at 127.0.0.2: the second place, the one
                # with an empty item, is where it connects.
                "host=127.0.0.1,127.0.0.1 hostaddr=127.0.0.2, port=$port dbname=bbtoken user=postgres",
                "host=,127.0.0.1 hostaddr=127.0.0.2, port=$port dbname=bbtoken user=postgres",
                "postgresql:///bbtoken?host=127.0.0.1,127.0.0.1&hostaddr=127.0.0.2,&port=$port",
                "host='' hostaddr=127.0.0.1 port=$port dbname=bbtoken") {
        my $user = 'named' . ++$n;
        $env->cli_is("--db '$db' user add", ['--db', $db, 'user', 'add', $user], 0, raw => 1);
        is(added($user), 1, '  added');
    }
};

subtest 'a password that looks like a setting: the password' => sub {
    # A role of its own whose password is checked: the cluster trusts the
    # rest.  pg_hba.conf is read at the restart.
    $env->psql(q{CREATE ROLE bbt_pw LOGIN SUPERUSER PASSWORD 'user=x'});
    my $hba = "$env->{pgdata}/pg_hba.conf";
    open my $h, '<', $hba or die "$hba: $!";
    my $rules = do { local $/; <$h> };
    close $h;
    open $h, '>', $hba or die "$hba: $!";
    print $h "host all bbt_pw 127.0.0.1/32 scram-sha-256\n", $rules;
    close $h or die "$hba: $!";
    $env->pg_restart;
    my $base = "host=127.0.0.1 port=$port dbname=bbtoken user=bbt_pw";
    for my $db ("$base password='user=x'", "password='user=x' $base", "$base password=user=x",
                "$base password= 'user=x'", "$base password= user\\=x") {
        my $user = 'pw' . ++$n;
        $env->cli_is("--db '$db' user add", ['--db', $db, 'user', 'add', $user], 0, raw => 1);
        is(added($user), 1, '  added');
    }
    my $user = 'pw' . ++$n;
    my ($rc, undef, $err) = $env->cli_raw('--db', "$base password='user=y'", 'user', 'add', $user);
    is($rc, 1, 'another password: refused by the server');
    like($err, qr/cannot connect to the database/, '  as a failed login') or diag $err;
    is(added($user), 0, '  nobody added');
};

done_testing;
