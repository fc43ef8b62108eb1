# bbtoken db check --json on a site whose every lookup row is missing (a
# restore without bbtoken_lookup): the findings are printed one at a time,
# so the JSON costs no more memory than the text report of the same rows
# (both hold the rows found wrong, not a JSON tree of them), and the
# document is whole: every row a finding.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Util qw(run_cmd slurp spew);

my $env = BBT::Env->new(httpd => 0)->start;
my $TIME = '/usr/bin/time';
plan skip_all => "$TIME is not installed" unless -x $TIME;
plan skip_all => 'the sanitizers keep freed memory' if $ENV{BBT_SANITIZE};

# 20,000 tokens, made as bench/bigsite.sql makes its rows (the policy's
# trigger off), 500 users at a time.
for (my $i = 1; $i < 2000; $i += 500) {
    my $to = $i + 499;
    $env->psql("SET session_replication_role = replica; "
               . "INSERT INTO bbtoken_users (name, active) SELECT 'owner' || g, true "
               . "FROM generate_series($i, $to) g; "
               . "INSERT INTO bbtoken_tokens (id, user_id, name, project_perm, repo_perm, salt, secret_hash, "
               . "created_at, expires_at) "
               . "SELECT lpad((200000000000 + g * 10 + k)::text, 12, '0'), u.id, 'tok ' || k, 'PROJECT_READ', "
               . "'REPO_READ', md5('s' || g), md5('h' || g) || md5('k' || g), now() - interval '10 days', "
               . "now() + interval '200 days' FROM generate_series($i, $to) g "
               . "JOIN bbtoken_users u ON u.name = 'owner' || g, generate_series(0, 9) k");
}
my $tokens = $env->psql('SELECT count(*) FROM bbtoken_tokens');
is($tokens, 20_000, 'loaded');
$env->psql('DELETE FROM bbtoken_lookup');

# (peak RSS in kB, exit code, stdout) of bbtoken db check @args.
sub peak {
    my (@args) = @_;
    my $f = "$env->{dir}/run/time.$$";
    my ($rc, $out, $err) = run_cmd(cmd => [$TIME, '-f', '%M', '-o', $f, $env->cli_path, '--db',
                                           $env->superuser_conninfo, 'db', 'check', @args],
                                   tmp => "$env->{dir}/run", timeout => 600);
    my ($kb) = slurp($f) =~ /(\d+)\s*\z/;
    return ($kb, $rc, $out);
}

my ($text, $rc, $out) = peak();
is($rc, 1, 'text: exit 1');
is(scalar(() = $out =~ /^token \d+: missing$/mg), $tokens, 'text: a line per row');
my $json;
($json, $rc, $out) = peak('--json');
is($rc, 1, 'JSON: exit 1');
my $f = "$env->{dir}/run/check.json";
spew($f, $out);
my ($prc, $summary) = run_cmd(cmd => ['python3', '-c', 'import json, sys; d = json.load(open(sys.argv[1])); '
                                      . 'print(d["rowsWrong"], len(d["findings"]), '
                                      . 'len([x for x in d["findings"] if x["kind"] == "missing"]))', $f],
                              tmp => "$env->{dir}/run");
is($prc, 0, 'JSON: one valid document') or diag $summary;
is($summary, "$tokens $tokens $tokens\n", 'JSON: every row wrong, each a finding');
unlink $f;
# A JSON tree of the findings held whole took three times the text's.
cmp_ok($json, '<', 1.3 * $text, "JSON: peak RSS $json kB, against $text kB for the text");

done_testing;
