# The configure that follows a package which expected another schema
# version says what to run (t/63-deb-older checks when it speaks): the
# README's lines of "Upgrading from the previous release", as written
# there, the API's role made first after 0.2.0, which had none; and those
# lines, run as printed (as root, each as postgres: root is no role of the
# database), bring a database as that package left it to the latest
# version, with the grants.  On this machine, as t/63, under its lock,
# with the .deb t/63 built where the tree has not changed since; whatever
# happens, the package is purged and /etc/apache2 and /var/lib/apache2 are
# put back at the end.  The database is a test environment's, reached
# through its socket as Debian's cluster is (BBT::DbSetup).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Util qw(slurp);
use BBT::SysState qw(installed);
use BBT::DbSetup qw(run_setup);
use BBT::Migrations qw(latest_version db_at);
use BBT::DebOlder qw(deb_020 deb_migrations_upto);
use BBT::DebHarness qw($PKG run ok_run);

my $h = BBT::DebHarness->new('debnot', qw(psql runuser));
my $tmp = $h->tmp;
my ($deb) = $h->tree_deb;

my $latest = latest_version();
my $notice = "$PKG: notice: the module and bbtoken now expect database schema version $latest";

# The README's lines that upgrade the database and run the grants, from
# its block for the Debian package's upgrade (the one that installs the
# .deb), each without its indent and trailing comment.
my @readme;
for my $block (slurp('README') =~ /((?:^    \S.*\n)+)/mg) {
    next unless $block =~ /\A    apt-get install \S*\Q$PKG\E_/;
    @readme = grep { /\bdb upgrade$|^cd |\bgrants(?:-api)?\.sql$|\bcreateuser\b/ }
        map { s/^    //r =~ s/\s+#\s.*//r } split /\n/, $block;
    last;
}
ok(grep(/\bdb upgrade$/, @readme) && grep(/\bgrants-api\.sql$/, @readme),
   'the README\'s upgrade of the database, for the package') or diag explain \@readme;

# The lines the notice gives, indented under it.
sub notice_lines {
    my ($out) = @_;
    my ($lines) = $out =~ /^\Q$notice\E\b.*\n((?:    \S.*\n)+)/m;
    return map { s/^    //r } split /\n/, $lines // '';
}

# @$lines run as the admin would, on a database bbtoken at version $at,
# made as the release of that version made it, with the role bbtoken_api
# or not ($api): the schema then the latest, and each role's grants given.
sub run_lines {
    my ($lines, $at, $api) = @_;
    local $ENV{PGPASSFILE} = $ENV{PGPASSFILE};
    my $pg = BBT::Env->new(httpd => 0, db_password => 1)->start;
    $pg->psql('DROP DATABASE bbtoken', db => 'postgres');
    $pg->psql('DROP ROLE bbtoken_api', db => 'postgres') unless $api;
    is(db_at($pg, 'bbtoken', $at), $at, "control: a database at version $at");
    my %pw = (bbtoken_api => 'typed-' . join('', map { int rand 10 } 1 .. 12));
    for my $r (run_setup($pg, $lines, \%pw)) {
        my ($line, $rc, $o, $e) = @$r;
        is($rc, 0, "  $line") or diag "$o$e";
    }
    my ($rc, $out) = run(join ' ', '/usr/bin/bbtoken', '--db', "'" . $pg->superuser_conninfo . "'", 'db status');
    like($out, qr/^schema version: $latest$/m, '  the schema is the latest') or diag $out;
    for my $role (qw(bbtoken_httpd bbtoken_api)) {
        (undef, $out) = $pg->psql_try("SELECT has_database_privilege('$role', 'bbtoken', 'CONNECT')");
        is($out, "t\n", "  $role may connect (its grants ran)");
    }
    (undef, $out) = $pg->psql_try("SELECT has_database_privilege('public', 'bbtoken', 'CONNECT')");
    is($out, "f\n", '  other roles may not');
}

subtest 'after 0.2.0: the README\'s lines, the API\'s role made first, and they work as printed' => sub {
    ok_run("dpkg -i @{[ deb_020($deb, $tmp) ]}");
    my $out = ok_run("dpkg -i $deb");
    like($out, qr/^\Q$notice\E, and the package configured before \(0\.2\.0\)/m, 'the upgrade says so') or diag $out;
    my @lines = notice_lines($out);
    is_deeply(\@lines, \@readme, '  with the README\'s lines, as written') or diag $out;
    unlike($out, qr/\bas root, run bbtoken db upgrade\b/, '  not bbtoken db upgrade as root') or diag $out;
    run_lines(\@lines, 3, 0) if @lines;
    ok_run("dpkg --purge $PKG");
};

subtest 'after a 0.3.0 that expected 60: the same, its API\'s role there already' => sub {
    ok_run("dpkg -i @{[ deb_migrations_upto($deb, $tmp, 'old60', '0.3.0', 60) ]}");
    my $out = ok_run("dpkg -i $deb");
    like($out, qr/^\Q$notice\E, and the package configured before \(0\.3\.0\) expected 60/m, 'the upgrade says so')
        or diag $out;
    my @lines = notice_lines($out);
    is_deeply(\@lines, [grep { !/\bcreateuser\b/ } @readme], '  with the README\'s lines but createuser') or diag $out;
    run_lines(\@lines, 60, 1) if @lines;
    ok_run("dpkg --purge $PKG");
};

ok(!installed($PKG), "$PKG purged");
$h->as_before;

done_testing;
