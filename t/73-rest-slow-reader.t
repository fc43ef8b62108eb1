# A client that asks the access-tokens API for a large answer and reads
# none of it holds no pooled database connection while the answer waits to
# be written: with DBDMax 1, the next API request is served (200), not
# refused after BBTokenDBWait (503).  The answer is built whole, the
# connection given back, and only then written.  SendBufferSize keeps the
# kernel from taking the whole answer at once, so the writing does wait
# for the reader.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use JSON::PP;
use BBT::Env;
use BBT::Assert;
use BBT::Rest qw(rest_env);

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my $one_child = BBT::Util::one_child_mpm(16);
my $pw = 'alice-Pa55-word';
my $env = rest_env(login => 'bbtoken', env => { mpm_conf => $one_child }, passwords => [alice => $pw],
                   users => ['alice'], extra_conf => <<'EOC');
DBDMax 1
DBDKeep 1
BBTokenDBWait 2
SendBufferSize 4096
EOC
# A thousand tokens with long names, as rows restored from elsewhere are
# (triggers off): a page of them is several hundred kilobytes of JSON.
$env->psql("SET session_replication_role = replica; INSERT INTO bbtoken_tokens (id, user_id, name, project_perm,"
           . " repo_perm, salt, secret_hash) SELECT lpad((400000000000 + n)::text, 12, '0'), u.id,"
           . " 'slow reader ' || n || ' ' || repeat('x', 230), 'PROJECT_READ', 'REPO_READ', substr(md5(n::text), 1, 32),"
           . " md5(n::text) || md5(n::text || 'x') FROM bbtoken_users u, generate_series(1, 1000) n"
           . " WHERE u.name = 'alice'");
my $LIST = '/rest/access-tokens/1.0/users/alice';

my $small = $env->rest(GET => "$LIST?limit=1", as => 'alice');
is($small->{status}, 200, 'the API answers') or diag res_summary($small);

# The slow reader: a small receive buffer, the request sent, then only the
# status line read (so the answer has begun), and nothing more.
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $env->port, Proto => 'tcp', Blocking => 1)
    or BAIL_OUT("connect: $!");
setsockopt($s, SOL_SOCKET, SO_RCVBUF, 16384);
$s->autoflush(1);
print $s "GET $LIST?limit=1000 HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: " . $env->basic('alice', $pw)
    . "\r\n\r\n";
my $head = '';
my $sel = IO::Select->new($s);
while (length($head) < 12 && $sel->can_read(30)) {
    sysread($s, $head, 12 - length($head), length($head)) or last;
}
like($head, qr{^HTTP/1\.1 200}, 'the large answer has begun');

my $next = $env->rest(GET => "$LIST?limit=1", as => 'alice');
is($next->{status}, 200, 'meanwhile another API request is served, not refused for want of a connection')
    or diag res_summary($next);

# The reader reads at last: the whole answer, as it was built.
my $rest = '';
while ($sel->can_read(30)) {
    my $n = sysread($s, $rest, 65536, length($rest));
    last unless $n;
}
close $s;
my ($body) = ($head . $rest) =~ /\r\n\r\n(.*)\z/s;
my $json = eval { JSON::PP::decode_json($body // '') };
is(ref $json eq 'HASH' ? scalar @{ $json->{values} || [] } : -1, 1000, 'the slow reader gets all 1000 tokens');
ok(length($body // '') > 200_000, '  in more than 200 kB (' . length($body // '') . ' bytes)');

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
