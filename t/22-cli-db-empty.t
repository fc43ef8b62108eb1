# A --db whose connection string leaves libpq to choose the database, as an
# empty --db would (refused as bad usage: t/22-cli): a keyword given an
# empty value, or none ("password= dbname=x" is the password "dbname=x"),
# an empty item of a host list, a URI naming no host and no database.
# Each is what a template gives with a variable unset (postgresql://$H/$D
# is postgresql:///, dbname=$D is dbname=), and each connected to what
# PGHOST and PGDATABASE name, or to libpq's default (the database named
# after the login, the local socket): the command acted there.  Now each is refused (exit 1, the keyword named,
# never a value), and the forms that name what they mean still connect.
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
               ['dbname=', qr/dbname is empty, so libpq would use its default instead/],
               ["dbname='' host=127.0.0.1", qr/dbname is empty/],
               ['dbname=bbtoken host=', qr/host is empty, so libpq would use its default/],
               ['postgresql://127.0.0.1/bbtoken?host=', qr/host is empty/],
               ["postgresql:///bbtoken?port=&host=127.0.0.1", qr/port is empty/],
               ['host=127.0.0.1 password= dbname=bbtoken',
                qr/password is given no value: libpq reads "password= dbname=\.\.\." as password "dbname=\.\.\.", and no dbname/],
               ['host=127.0.0.1, dbname=bbtoken', qr/an item of host is empty/],
               ['postgresql://127.0.0.1,/bbtoken', qr/an item of host is empty/]) {
        my ($db, $why) = @$c;
        my $user = 'nodb' . ++$n;
        $env->cli_is("--db '$db' user add", ['--db', $db, 'user', 'add', $user], 1, raw => 1,
                     stderr => qr/\Abbtoken: --db: .*$why/);
        is(added($user), 0, '  nobody added');
    }
};

subtest 'the value is never repeated' => sub {
    my (undef, undef, $err) = $env->cli_raw('--db', 'host=127.0.0.1 password= dbname=S3CRETdb', 'list', 'alice');
    unlike($err, qr/S3CRET/, 'a value after an empty one: not quoted') or diag $err;
};

subtest 'a --db that names what it means: connects' => sub {
    for my $db ("postgresql://127.0.0.1:$port/bbtoken?user=postgres", "postgresql:///bbtoken?host=127.0.0.1&port=$port",
                "postgresql://127.0.0.1:$port", "host=127.0.0.1 port=$port", 'dbname=bbtoken',
                "postgresql://127.0.0.1,127.0.0.1/bbtoken?port=$port,$port") {
        my $user = 'named' . ++$n;
        $env->cli_is("--db '$db' user add", ['--db', $db, 'user', 'add', $user], 0, raw => 1);
        is(added($user), 1, '  added');
    }
};

done_testing;
