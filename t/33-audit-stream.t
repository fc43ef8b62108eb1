# The reports that grow with the site stream: `bbtoken audit` (and with it
# list --all and expiring, which print through the same code, cli/stream.c)
# holds a batch of rows, not the whole result, so its peak memory does not
# grow with the row count; its table is still laid out over every row (the
# rows are read twice); and a failure after the first rows are out exits
# non-zero with a message, after what was printed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(run_cmd);
use BBT::Util qw(slurp spew);
use JSON::PP;
use POSIX ();

my $env = BBT::Env->new(httpd => 0)->start;
plan skip_all => "$BBT::Cli::TIME is not installed" unless -x $BBT::Cli::TIME;

# n more audit records, each with a detail of some length, all old enough
# to come before anything the CLI records itself.
sub add_rows {
    my ($n, $wide) = @_;
    $env->psql("INSERT INTO bbtoken_audit (at, event, token_id, user_name, actor, db_role, source, detail) "
               . "SELECT now() - interval '1 day' + g * interval '1 ms', 'renamed', "
               . "lpad(g::text, 12, '0'), 'user' || (g % 5000), "
               . "CASE WHEN g = " . ($wide // 0) . " THEN repeat('w', 90) ELSE 'loader' END, 'postgres', 'sql', "
               . "'name ' || repeat('x', 60) || ' -> ' || g FROM generate_series(1, $n) g");
}

# (peak RSS in kB, exit code, stdout) of bbtoken @args.
sub peak { return ($env->cli_peak({}, @_))[0 .. 2] }

my %small;
add_rows(20_000);
for my $form ([], ['--json']) {
    my ($kb, $rc, $out) = peak('audit', @$form);
    is($rc, 0, join(' ', 'audit', @$form, 'of 20,000 rows'));
    $small{"@$form"} = $kb;
}
# One actor far wider than the rest, in the middle: every line's columns
# are as wide as it needs, as a table built from all rows at once would be.
add_rows(180_000, 90_000);
my $rows = $env->psql('SELECT count(*) FROM bbtoken_audit');
cmp_ok($rows, '>=', 200_000, 'loaded');

subtest 'text: the memory of a batch, and one layout over all rows' => sub {
    my ($kb, $rc, $out) = peak('audit');
    is($rc, 0, 'exit 0');
    my @lines = split /\n/, $out;
    is(scalar @lines, $rows + 1, 'the header and every row');
    my %at = map { index($_, ' ' x 2 . 'sql') => 1 } grep { /  sql  / } @lines[1 .. $#lines];
    is(scalar keys %at, 1, 'the FROM column starts at the same place on every line');
    is(index($lines[0], 'FROM') - index($lines[0], 'BY'), length('w' x 90 . ' (db postgres)') + 2,
       'the BY column as wide as its widest cell');
    $env->rss_below($kb, $small{''}, 2, '10x the rows, against 20,000');
};

subtest 'JSON: one document, streamed, the memory of a batch' => sub {
    my ($kb, $rc, $out) = peak('audit', '--json');
    is($rc, 0, 'exit 0');
    # Python's parser, in C: JSON::PP takes half a minute over 200,000
    # records.  It says whether the whole is one array, its length, and
    # the first record's members.
    my $f = "$env->{dir}/run/audit.json";
    spew($f, $out);
    my ($prc, $summary) = run_cmd(cmd => ['python3', '-c', 'import json, sys; d = json.load(open(sys.argv[1])); '
                                          . 'print(type(d).__name__, len(d), " ".join(sorted(d[0])))', $f],
                                  tmp => "$env->{dir}/run");
    is($prc, 0, 'one valid JSON document') or diag $summary;
    like($summary, qr/^list \Q$rows\E /, 'every row, one element each') or diag $summary;
    like($summary, qr/ actor dbRole detail event id source time tokenId user$/m, 'the members of a record')
        or diag $summary;
    unlink $f;
    $env->rss_below($kb, $small{'--json'}, 2, '10x the rows, against 20,000');
};

subtest 'list --all and expiring, through the same code, run' => sub {
    my ($kb, $rc) = peak('list', '--all');
    is($rc, 0, 'list --all');
    ($kb, $rc) = peak('expiring', '--json');
    is($rc, 0, 'expiring --json');
};

subtest 'the connection lost mid-stream: non-zero, after what was printed' => sub {
    my $err = "$env->{dir}/run/stream-err.$$";
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>', $err or POSIX::_exit(126);
        { exec $env->cli_path, '--db', $env->superuser_conninfo, 'audit', '--json' }
        POSIX::_exit(127);
    }
    # The pipe holds far less than the report: the CLI waits on it, its
    # cursor open, until this reads on.
    my $first = <$fh>;
    is($first, "[\n", 'the first rows are out');
    my $killed = $env->psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            . "WHERE application_name = 'bbtoken'");
    is($killed, 1, 'its backend terminated');
    my $rest = do { local $/; <$fh> };
    close $fh;
    my $rc = $? >> 8;
    isnt($rc, 0, "exit $rc, not 0");
    like(slurp($err), qr/^bbtoken: reading the audit trail: .+/m, 'a one-line reason on stderr');
    my $doc = eval { JSON::PP->new->decode($first . $rest) };
    ok(!$doc, 'what was printed is no whole document');
    my $n = () = ($first . $rest) =~ /"event"/g;
    cmp_ok($n, '<', $rows, "a partial listing: $n of $rows records");
};

done_testing;
