# The module on a schema behind or ahead of the one it expects (the last
# migration's version, compiled in): it serves tokens all the same and says
# so once per start, whichever child connects first, not per request and
# not per child (BBT760 behind, at warn; BBT761 ahead, at notice); a
# graceful restart says it again; on the schema it expects, nothing.  The
# metrics show both versions: the database's 0 until a child has read it.
# The module reads only bbtoken_schema's version, so the version is set
# there; t/30-migrations upgrades real databases of every older version.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use BBT::Env;
use BBT::Assert;

my $ROOT = $BBT::Env::ROOT;
my ($LATEST) = (sort glob "$ROOT/sql/migrations/0*.sql")[-1] =~ m{/0*(\d+)_\w+\.sql\z};
ok($LATEST > 17, "the last migration is version $LATEST");

# Prefork: a kept-alive connection holds its child, so each client below
# is served by a child of its own.  No cache, so that every request asks
# the database.
my $env = BBT::Env->new(mpm => 'prefork', extra_conf => <<'EOC')->start;
BBTokenCache off
KeepAliveTimeout 120
<Location /metrics>
    SetHandler bbtoken-metrics
    Require all granted
</Location>
EOC
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $token = $env->token_create('alice');
my $UP = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';

sub set_version { $env->psql("UPDATE bbtoken_schema SET version = $_[0]") }

# Three clients, each on a connection of its own kept alive, so each by a
# child of its own, three requests each in turn: the number that got 200.
sub load {
    my @ua = map { HTTP::Tiny->new(keep_alive => 1, timeout => 60) } 1 .. 3;
    my $ok = 0;
    for my $round (1 .. 3) {
        for my $ua (@ua) {
            $ok++ if $ua->get($env->url($UP), { headers => { Authorization => "Bearer $token" } })->{status} == 200;
        }
    }
    return $ok;
}

# The schema gauges of a scrape: "database's expected".
sub schema_gauges {
    my $r = HTTP::Tiny->new(timeout => 30, keep_alive => 0)->get($env->url('/metrics'));
    my %v = ($r->{content} // '') =~ /^(bbtoken_schema_version(?:_expected)?) (-?\d+)$/mg;
    return join ' ', map { $_ // 'absent' } @v{qw(bbtoken_schema_version bbtoken_schema_version_expected)};
}

sub lines_since {
    my ($mark, $id) = @_;
    return grep {/\b$id: /} log_lines_since($env->error_log_path, $mark);
}

sub graceful {
    my $why = $env->httpd_graceful;
    is($why, '', 'apache2 -k graceful: the new generation started');
}

# The oldest schema the module serves (BBT_SCHEMA_MIN): below it the
# lookup cannot be prepared and the module says BBT770 (t/30-migrations).
my ($MIN) = BBT::Env::slurp("$ROOT/mod_bbtoken/bbt_schema.h") =~ /^#define BBT_SCHEMA_MIN (\d+)$/m;
ok($MIN && $MIN <= $LATEST, "the module serves schema $MIN on");
my $behind = $LATEST - 3 < $MIN ? $MIN : $LATEST - 3;
SKIP: {
skip "no schema is behind this module's and served by it (it needs $MIN, the latest)", 1 if $behind >= $LATEST;
subtest "schema version $behind: served, and said once per start" => sub {
    set_version($behind);
    $env->httpd_restart(graceful => 1);
    is(schema_gauges(), "0 $LATEST", 'metrics: the database\'s version 0 (not read yet), the expected one');
    my $mark = log_mark($env->error_log_path);
    is(load(), 9, 'every client is served (200)');
    is(schema_gauges(), "$behind $LATEST", 'metrics: the database\'s version as read, and the expected one');
    my %pids = map { /\[pid (\d+)/ ? ($1 => 1) : () } lines_since($mark, 'BBT037');
    is(scalar keys %pids, 3, 'by three children (the pids of their BBT037 lines)');
    my @told = lines_since($mark, 'BBT760');
    is(scalar @told, 1, 'BBT760 once, not per request or per child') or diag explain \@told;
    like($told[0] // '', qr/\[bbtoken:warn\] .*BBT760: the database's schema is version $behind, this module expects $LATEST: .*`bbtoken db upgrade`.*grants\.sql/,
         '  at warn: the two versions and what to run');
    is(scalar lines_since($mark, 'BBT761'), 0, '  and no BBT761');

    $mark = log_mark($env->error_log_path);
    graceful();
    is(load(), 9, 'after a graceful restart every client is served');
    is(scalar lines_since($mark, 'BBT760'), 1, '  and BBT760 is said again, once');
    is(schema_gauges(), "$behind $LATEST", '  metrics: the new generation read it again');
};
}

subtest "schema version $LATEST: nothing said" => sub {
    set_version($LATEST);
    $env->httpd_restart(graceful => 1);
    my $mark = log_mark($env->error_log_path);
    is(load(), 9, 'every client is served');
    is_deeply([lines_since($mark, 'BBT76\d')], [], 'no BBT760 or BBT761');
    is(schema_gauges(), "$LATEST $LATEST", 'metrics: the two versions agree');
};

my $ahead = $LATEST + 1;
subtest "schema version $ahead: served, and said once" => sub {
    set_version($ahead);
    $env->httpd_restart(graceful => 1);
    my $mark = log_mark($env->error_log_path);
    is(load(), 9, 'every client is served');
    my @told = lines_since($mark, 'BBT761');
    is(scalar @told, 1, 'BBT761 once') or diag explain \@told;
    like($told[0] // '', qr/\[bbtoken:notice\] .*BBT761: the database's schema is version $ahead, newer than this module knows \($LATEST\)/,
         '  at notice: the two versions');
    is(scalar lines_since($mark, 'BBT760'), 0, '  and no BBT760');
    is(schema_gauges(), "$ahead $LATEST", 'metrics: the database\'s version is ahead');
};

subtest 'the CLI: behind and ahead refused, with what to do' => sub {
    my $old = $LATEST - 3;
    set_version($old);
    my ($rc, undef, $err) = $env->cli('list', 'alice');
    ok($rc == 1 && $err =~ /version $old, this bbtoken needs $LATEST: run bbtoken db upgrade/,
       "behind: bbtoken says so and what to run") or diag $err;
    my ($r2, $out) = $env->cli('db', 'status');
    like($out, qr/^schema version: $old$/m, 'db status: the version');
    set_version($ahead);
    ($rc, undef, $err) = $env->cli('list', 'alice');
    ok($rc == 1 && $err =~ /version $ahead, newer than this bbtoken knows \($LATEST\)/, 'ahead: refused too')
        or diag $err;
    set_version($LATEST);
};

is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
