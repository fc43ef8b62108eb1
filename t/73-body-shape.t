# A request body the module could not use is refused for its shape, before
# jansson builds it: nesting, items in one array or object, and values in
# all, bounded per kind of body.  The access-tokens API's object (create,
# update): 6 deep, 32 items, 128 values; revoke-by-value's array: 1 deep,
# 100 items; a body a route reads (git LFS's batch): 16 deep, 1,024 items,
# 4,096 values.  Each refusal is 400 (the API's in Bitbucket's envelope,
# saying which bound), and nothing is made; a body with every documented
# member at its largest still works, and so do a token sent back as the API
# answered it (members the API does not read are ignored) and the largest
# LFS batch 64 KiB holds.  A member named twice is 400.  Then memory: 16
# clients at once send 64 KiB of 21,845 empty objects (jansson builds some
# 5 MB from that) to revoke-by-value, which needs no login, to update, and
# to the LFS batch with a made-up token (its body is read before the token
# is checked); one httpd child's peak resident size grows by less than
# 16 MB over what small refused bodies brought it to (without the bound:
# some 80 MB).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use BBT::Assert;
use BBT::Token qw(forge_token);
use BBT::Util qw(slurp);
use BBT::Rest qw(rest_env);

plan skip_all => 'one child with threads: the event or worker MPM' if ($ENV{BBT_MPM} // '') eq 'prefork';

my $extra = <<'EOC';
<LocationMatch "^/rest/access-tokens/(1\.0|latest)/revoke-by-value/?$">
    Require all granted
</LocationMatch>
ScriptAlias /lfs/ "@DIR@/cgi-bin/env.cgi/"
<Location /lfs>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /lfs
    Require bbtoken
</Location>
EOC
my $pw = 'alice-Pa55-word';
my $env = rest_env(login => 'bbtoken', env => { mpm_conf => BBT::Util::one_child_mpm(16) }, extra_conf => $extra,
                   passwords => [alice => $pw], users => ['alice'], repos => [[PROJ => 'repo']],
                   grants => [[alice => PROJECT_WRITE => 'PROJ']]);
my $write = $env->token_create('alice', name => 'lfs', perms => ['REPO_WRITE']);
my $BATCH = '/lfs/PROJ/repo.git/info/lfs/objects/batch';
my $U = '/rest/access-tokens/1.0/users/alice';
my $LEAK = '/rest/access-tokens/latest/revoke-by-value';
my $JSON = JSON::PP->new->canonical->utf8;

# $login: 1 (or undef) alice's password, 0 none, or an Authorization value.
sub call {
    my ($method, $path, $body, $login) = @_;
    my %h = ('Content-Type' => 'application/json');
    $login //= 1;
    $h{Authorization} = $login eq '1' ? $env->basic(alice => $pw) : $login if $login;
    my $res = HTTP::Tiny->new(timeout => 60)->request($method, $env->url($path), { headers => \%h, content => $body });
    $res->{json} = eval { decode_json($res->{content}) };
    return $res;
}

sub is_refused {
    my ($res, $msg_re, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $e = ref $res->{json} eq 'HASH' ? ($res->{json}{errors} // [])->[0] // {} : {};
    my $ok = $res->{status} == 400 && ($res->{headers}{'content-type'} // '') =~ m{^application/json}
        && ($e->{message} // '') =~ $msg_re
        && ($e->{exceptionName} // '') eq 'com.atlassian.bitbucket.validation.ArgumentValidationException';
    ok($ok, "$name: 400, the envelope says why") or diag "$res->{status} $res->{content}";
}

sub tokens { return scalar grep { /^\d{12}/ } split /\n/, $env->cli_ok('list', 'alice') }

subtest 'every documented member at its largest: accepted' => sub {
    my $name = "\x{1F600}" x 255;
    my @nets = map {"2001:db8:$_\::/64"} 1 .. 16;
    my $res = call(PUT => $U, $JSON->encode({ name => $name, permissions => ['PROJECT_READ', 'REPO_WRITE'],
                                              expiryDays => 36500, allowedAddresses => \@nets }));
    is($res->{status}, 200, 'create with name, two permissions, expiryDays and 16 networks: 200')
        or diag $res->{content};
    is(scalar @{ $res->{json}{allowedAddresses} // [] }, 16, '  the 16 networks kept');
    my $id = $res->{json}{id} // '';
    $res = call(POST => "$U/$id", $JSON->encode({ name => 'renamed', permissions => ['PROJECT_WRITE', 'REPO_ADMIN'],
                                                  allowedAddresses => [reverse @nets], expiryDays => undef }));
    is($res->{status}, 200, 'update with name, permissions, 16 networks and a null expiryDays: 200')
        or diag $res->{content};
    is($res->{json}{name}, 'renamed', '  renamed');
    # What the API answered, sent back whole under a new name: 5 deep
    # (user.links.self[0]), every member it does not read ignored.
    my $again = $res->{json};
    $again->{name} = 'sent back';
    delete $again->{expiryDays};
    $res = call(PUT => $U, $JSON->encode($again));
    is($res->{status}, 200, 'a token as the API answers it, sent back to create: 200') or diag $res->{content};
    my @hundred = map { forge_token(sprintf '%012d', 900000000000 + $_) } 1 .. 100;
    $res = call(POST => $LEAK, $JSON->encode(\@hundred), 0);
    is($res->{status}, 202, 'revoke-by-value with 100 tokens: 202') or diag $res->{content};
    is($res->{json}{received}, 100, '  all 100 received');
};

subtest 'more than any request holds: 400 before jansson, nothing made' => sub {
    my $before = tokens();
    my $ok = '"name":"shape","permissions":["REPO_READ"]';
    is_refused(call(PUT => $U, "{$ok,\"x\":[[[[[[0]]]]]]}"), qr/^the request body holds more than this call reads: arrays and objects nest more than 6 deep$/,
               'create, 7 deep');
    is(call(PUT => $U, "{\"name\":\"six deep\",\"permissions\":[\"REPO_READ\"],\"x\":[[[[[0]]]]]}")->{status}, 200,
       'create, 6 deep (a member it ignores): 200');
    is_refused(call(PUT => $U, "{$ok,\"allowedAddresses\":[" . join(',', ('"10.0.0.0/8"') x 33) . ']}'),
               qr/an array or object holds more than 32 items$/, 'create, 33 networks');
    is_refused(call(PUT => $U, "{$ok,\"allowedAddresses\":[" . join(',', ('"10.0.0.0/8"') x 17) . ']}'),
               qr/at most 16 networks/, 'create, 17 networks: the endpoint\'s own reason, within the bound');
    is_refused(call(PUT => $U, '{' . join(',', map {"\"m$_\":0"} 1 .. 33) . '}'),
               qr/an array or object holds more than 32 items$/, 'create, 33 members');
    is_refused(call(PUT => $U, "{$ok," . join(',', map { "\"a$_\":[" . join(',', (0) x 30) . ']' } 1 .. 5) . '}'),
               qr/it holds more than 128 values$/, 'create, 5 arrays of 30');
    is_refused(call(POST => "$U/123456789012", '{"name":[[[[[[["x"]]]]]]]}'),
               qr/nest more than 6 deep$/, 'update, 8 deep');
    is_refused(call(PUT => $U, '[' x 60000), qr/nest more than 6 deep$/, 'create, 60,000 brackets');
    is_refused(call(POST => $LEAK, '[' . join(',', ('"BBDC-x"') x 101) . ']', 0),
               qr/an array or object holds more than 100 items$/, 'revoke-by-value, 101 strings');
    is_refused(call(POST => $LEAK, '[["BBDC-x"]]', 0), qr/nest more than 1 deep$/, 'revoke-by-value, a list in the list');
    is_refused(call(POST => $LEAK, '[{},{}', 0), qr/nest more than 1 deep$/, 'revoke-by-value, unclosed and too deep');
    is(tokens(), $before + 1, 'only the 6-deep one was made');
};

subtest 'a member named twice: 400, whichever a proxy would read' => sub {
    my $before = tokens();
    is_refused(call(PUT => $U, '{"name":"a","permissions":["REPO_READ"],"name":"b"}'), qr/duplicate object key/,
               'create, "name" twice');
    is_refused(call(PUT => $U, '{"name":"a","permissions":["REPO_READ"],"n\u0061me":"b"}'), qr/duplicate object key/,
               'create, "name" and "n\\u0061me"');
    is_refused(call(POST => "$U/123456789012", '{"permissions":["REPO_READ"],"permissions":["REPO_ADMIN"]}'),
               qr/duplicate object key/, 'update, "permissions" twice');
    is_refused(call(PUT => $U, '{"name":"a","permissions":["REPO_READ"],"x":{"k":1,"k":2}}'), qr/duplicate object key/,
               'create, twice in a member it does not read');
    is(tokens(), $before, 'nothing made');
};

subtest 'a member name in two cases: 400, saying which' => sub {
    my $before = tokens();
    is_refused(call(PUT => $U, '{"name":"a","Name":"b","permissions":["REPO_READ"]}'),
               qr/^the request body is refused: the member names "name" and "Name" are one name but for case$/,
               'create, "name" and "Name"');
    is_refused(call(PUT => $U, '{"PERMISSIONS":["REPO_ADMIN"],"name":"a","permissions":["REPO_READ"]}'),
               qr/"PERMISSIONS" and "permissions"/, 'create, "PERMISSIONS" before "permissions"');
    is_refused(call(PUT => $U, qq({"name":"a","permissions":["REPO_READ"],"\x{e2}\x{84}\x{aa}ey":1,"key":2})),
               qr/are one name but for case/, 'create, "key" and the Kelvin sign\'s "\x{212a}ey"');
    is_refused(call(POST => "$U/123456789012", '{"expiryDays":1,"expirydays":null}'),
               qr/"expiryDays" and "expirydays"/, 'update, "expiryDays" and "expirydays"');
    is_refused(call(PUT => $U, '{"name":"a","permissions":["REPO_READ"],"x":[{"k":1,"K":2}]}'),
               qr/"k" and "K"/, 'create, in a member it does not read, deeper');
    is(tokens(), $before, 'nothing made');
    is(call(PUT => $U, '{"name":"two cases","permissions":["REPO_READ"],"x":{"name":1}}')->{status}, 200,
       'one name in two objects: 200');
    is(call(POST => $BATCH, '{"operation":"upload","x":{"k":1,"K":2}}', "Bearer $write")->{status}, 200,
       'a route\'s body: twins only of the members it reads are refused (git LFS\'s batch: 200)');
};

subtest 'a body a route reads (git LFS\'s batch)' => sub {
    my $objects = join(',', map { sprintf '{"oid":"%064x","size":%d}', $_, $_ } 1 .. 740);
    my $batch = qq({"operation":"upload","transfers":["basic"],"ref":{"name":"refs/heads/main"},"objects":[$objects]});
    cmp_ok(length $batch, '<=', 65536, 'a batch of 740 objects fits in 64 KiB');
    my $res = call(POST => $BATCH, $batch, "Bearer $write");
    is($res->{status}, 200, 'the largest batch 64 KiB holds: routed') or diag $res->{content};
    like($res->{content}, qr/^BBTOKEN_PERMISSION=REPO_WRITE$/m, '  as an upload');
    $res = call(POST => $BATCH, '{"operation":"upload","objects":[' . join(',', ('0') x 1025) . ']}', "Bearer $write");
    is($res->{status}, 400, '1,025 items in the list: 400');
    like($env->error_log_text, qr/BBT452: .*holds more than any route reads: an array or object holds more than 1024 items/,
         '  logged, saying why (BBT452)');
    is(call(POST => $BATCH, '{"operation":"upload","objects":[' . join(',', ('0') x 1024) . ']}', "Bearer $write")->{status},
       200, '1,024: routed');
    $res = call(POST => $BATCH, '{"operation":"upload","objects":[' . join(',', ('[0,0,0,0]') x 1000) . ']}',
                "Bearer $write");
    is($res->{status}, 400, '1,000 lists of 4 in the list: 400');
    like($env->error_log_text, qr/BBT452: .*holds more than any route reads: it holds more than 4096 values/,
         '  logged, saying why (BBT452)');
    is(call(POST => $BATCH, '{"operation":"upload","x":' . ('[' x 16) . (']' x 16) . '}', "Bearer $write")->{status},
       400, '17 deep: 400');
    is(call(POST => $BATCH, '{"operation":"upload","x":' . ('[' x 15) . (']' x 15) . '}', "Bearer $write")->{status},
       200, '16 deep: routed');
    is(call(POST => $BATCH, '{"operation":"upload","operation":"download"}', "Bearer $write")->{status}, 400,
       '"operation" twice: 400');
};

# Anyone may send these, before any token is checked: at error each would
# write a line at the default LogLevel, so they are at info, as httpd logs
# a bad request.
subtest 'a client\'s malformed body or Authorization header is logged at info' => sub {
    is(call(POST => $BATCH, 'not json', 'Bearer made-up')->{status}, 400, 'a batch that is not JSON: 400');
    is(call(POST => $BATCH, '{"operation":"upload","Operation":"download"}', 'Bearer made-up')->{status}, 400,
       'a batch whose operation has a twin: 400');
    is(call(GET => $BATCH, undef, 'Basic !!!')->{status}, 400, 'a malformed Authorization header: 400');
    my $log = $env->error_log_text;
    like($log, qr/\[bbtoken:info\] [^\n]*BBT452: [^\n]*not JSON/, 'the body that is not JSON: BBT452 at info');
    like($log, qr/\[bbtoken:info\] [^\n]*BBT453: /, 'the twin: BBT453 at info');
    like($log, qr/\[bbtoken:info\] [^\n]*BBT033: /, 'the header: BBT033 at info');
    unlike($log, qr/\[bbtoken:error\] [^\n]*BBT(?:033|45[0-3]|740): /, 'none of them at error');
};

# The one child that serves (threaded: mod_cgid's daemon is a child too):
# its pid and peak resident size in kB.
sub child_peak {
    my $parent = slurp($env->dir . '/run/httpd.pid');
    chomp $parent;
    my @kids;
    for my $stat (glob('/proc/[0-9]*/stat')) {
        my $s = eval { slurp($stat) } // next;
        my ($kid, $ppid) = $s =~ /^(\d+) \(.*\) \S+ (\d+)/s or next;
        next unless $ppid == $parent;
        my %m = (eval { slurp("/proc/$kid/status") } // '') =~ /^(VmHWM|Threads):\s+(\d+)/mg;
        push @kids, [$kid, $m{VmHWM}] if ($m{Threads} // 0) > 1;
    }
    return @kids == 1 ? @{ $kids[0] } : (undef);
}

# 16 clients, each a process of its own, made once and given every storm:
# a fork of this test for each client of each storm cost more than all
# their requests.  Each client sends job $key's body (%$jobs: $key =>
# [path, body, login]) to its path 4 times when told $key.
sub clients {
    my ($jobs) = @_;
    my @c;
    for (1 .. 16) {
        pipe(my $job_r, my $job_w) or die "pipe: $!";
        pipe(my $res_r, my $res_w) or die "pipe: $!";
        my $k = fork // die "fork: $!";
        if (!$k) {
            close $job_w;
            close $res_r;
            $res_w->autoflush(1);
            while (defined(my $key = <$job_r>)) {
                chomp $key;
                my ($path, $body, $login) = @{ $jobs->{$key} };
                my $n = 0;
                for (1 .. 4) { $n++ if eval { call(POST => $path, $body, $login)->{status} == 400 } }
                print $res_w "$n\n";
            }
            POSIX::_exit(0);
        }
        close $job_r;
        close $res_w;
        $job_w->autoflush(1);
        push @c, { pid => $k, job => $job_w, res => $res_r };
    }
    return \@c;
}

sub clients_end {
    my ($c) = @_;
    close $_->{job} for @$c;
    waitpid($_->{pid}, 0) for @$c;
}

# The 16 clients at once, each sending job $key's body 4 times; how many
# had all 4 refused (400).
sub storm {
    my ($c, $key) = @_;
    print { $_->{job} } "$key\n" for @$c;
    my $all = 0;
    for (@$c) {
        my $n = readline($_->{res});
        $all++ if defined $n && $n == 4;
    }
    return $all;
}

subtest 'one child\'s memory under 64 KiB of empty objects, 16 at a time' => sub {
    my $objects = '[' . join(',', ('{}') x 21845) . ']';
    my $member = '{"x":[' . join(',', ('{}') x 21842) . ']}';
    cmp_ok(length $objects, '<=', 65536, 'the array fits in 64 KiB');
    cmp_ok(length $member, '<=', 65536, 'the object too');
    # Small bodies refused the same way bring the threads, their stacks and
    # malloc's arenas to what serving costs anyway.
    my $batch = '{"operation":"upload","objects":[' . join(',', ('{}') x 21825) . ']}';
    cmp_ok(length $batch, '<=', 65536, 'and the batch');
    my $c = clients({
        small_leak => [$LEAK, '[{}]', 0],
        small_update => ["$U/123456789012", '{"x":[[[[[[{}]]]]]]}', 1],
        small_batch => [$BATCH, '{"x":' . ('[' x 16) . (']' x 16) . '}', 'Bearer made-up'],
        leak => [$LEAK, $objects, 0],
        update => ["$U/123456789012", $member, 1],
        batch => [$BATCH, $batch, 'Bearer made-up'],
    });
    for (1 .. 3) {
        is(storm($c, 'small_leak'), 16, 'small: every client refused 4 times');
        is(storm($c, 'small_update'), 16, '  and for update');
        is(storm($c, 'small_batch'), 16, '  and for the batch');
    }
    my ($pid, $base) = child_peak();
    ok($pid, "one child, peak $base kB");
    for (1 .. 3) {
        is(storm($c, 'leak'), 16, '64 KiB: every client refused 4 times (revoke-by-value)');
        is(storm($c, 'update'), 16, '  and for update');
        is(storm($c, 'batch'), 16, '  and for the batch, with a made-up token');
    }
    clients_end($c);
    my ($pid2, $peak) = child_peak();
    is($pid2, $pid, 'the same child');
    my $growth = $peak - $base;
    cmp_ok($growth, '<', 16 * 1024, "its peak grew by $growth kB: under 16 MB");
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;
done_testing;
