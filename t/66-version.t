# One version, everywhere: VERSION is what the module logs when httpd
# starts (BBT404, at notice: written whatever the LogLevel), once per start
# and not for httpd's first, dry-run pass over the configuration, what
# `bbtoken --version` prints, and the Debian package's version (the top
# entry of debian/changelog, which `make deb` checks too).  The metrics'
# bbtoken_build_info is checked by t/65, the man pages get it from apxs.mk.
# And one latest schema version: where the README's upgrade steps and the
# package's changelog name it, it is the last migration's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;

my $version = BBT::Env::slurp("$BBT::Env::ROOT/VERSION");
chomp $version;
like($version, qr/^\d+\.\d+\.\d+$/, "VERSION holds a version ($version)");

my ($top) = BBT::Env::slurp("$BBT::Env::ROOT/debian/changelog") =~ /\A(.*)$/m;
like($top, qr/^libapache2-mod-bbtoken \(\Q$version\E\) /, "debian/changelog's top entry is $version")
    or diag $top;

my ($latest) = (sort map { m{/(\d{4})_[^/]*\.sql$} ? $1 : () } glob "$BBT::Env::ROOT/sql/migrations/*.sql")[-1];
ok($latest, "the last migration is $latest");
my $readme = BBT::Env::slurp("$BBT::Env::ROOT/README");
like($readme, qr/version 3, 0004 to \Q$latest\E pending/, "README's upgrade: 0004 to $latest pending");
like($readme, qr/N the version of its last migration, \Q${\($latest + 0)}\E in\s/,
     'README: the version the CLI asks for is the last migration\'s');
my ($entry) = BBT::Env::slurp("$BBT::Env::ROOT/debian/changelog") =~ /\A(.*?)^ -- /ms;
like($entry, qr/Schema versions 4 to \Q${\($latest + 0)}\E /, 'the top changelog entry names schema versions up to it');

my ($rc, $out) = BBT::Env::run_cmd(cmd => ["$BBT::Env::ROOT/build/out/bbtoken", '--version']);
is($rc, 0, 'bbtoken --version');
is($out, "bbtoken $version\n", "bbtoken --version prints VERSION");

# The default LogLevel: notice is written all the same.
my $env = BBT::Env->new(loglevel => 'warn')->start;
my @lines = grep {/BBT404/} split /\n/, $env->error_log_text;
is(scalar @lines, 1, 'the module logs its version once when httpd starts') or diag explain \@lines;
like($lines[0] // '', qr/\[bbtoken:notice\] .*BBT404: mod_bbtoken \Q$version\E started$/,
     "mod_bbtoken $version, at notice");
done_testing;
