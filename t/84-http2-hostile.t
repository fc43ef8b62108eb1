# HTTP/2 as an attacker uses it: many streams on one connection, each a
# request of its own on a secondary connection that mod_http2's workers
# run; fields HTTP/1.1 cannot send (a header field twice, upper-case
# names, HEADERS after DATA, a header block in CONTINUATION frames); a
# body sent in pieces, longer than declared, or reset half-way.  A small
# h2 client (t/lib/h2raw.py, on Debian's python3-h2) sends them over h2c
# with prior knowledge, or after an Upgrade: h2c; real httpd (the worker
# MPM, which keeps an upgraded connection open), PostgreSQL.
#
#   - One connection's streams are each their own: a token on one stream
#     is not carried to the stream beside it, nor is the upgrade's.
#   - A header field twice is refused (400) as HTTP/1.1's two lines are;
#     an upper-case name is a protocol error, never a request; a 60 KB
#     header block is refused before the module reads it.
#   - A body a route reads, over h2 flow control: in slow pieces, without
#     a length, longer than declared, behind LimitRequestBody, and with a
#     trailer that declares a Content-Encoding or a Content-Type (415, as
#     for HTTP/1.1's chunked trailers: t/39-lfs-trailers).
#   - The failed-login throttle counts every stream: concurrent streams on
#     one connection and on several, tokens and passwords; a 429 on a
#     stream carries its Retry-After.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use BBT::Env qw(run_cmd auth_basic mistype_token);
use BBT::Util qw(spew slurp);
use BBT::Assert;

my $PY = '/usr/bin/python3';
plan skip_all => "python3-h2 is not installed (build/deps.sh installs it)"
    unless -x $PY && system($PY, '-c', 'import h2') == 0;

my $FAILS = 5;
my $extra = <<'EOC';
Protocols h2c http/1.1
H2Direct on
MergeTrailers On
<Location /scm>
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
</Location>
# The git route set over a CGI that shows what it was handed.
ScriptAlias /git/ "@DIR@/cgi-bin/show.cgi/"
<Location /git>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /git
    Require bbtoken
</Location>
ScriptAlias /lim/ "@DIR@/cgi-bin/show.cgi/"
<Location /lim>
    LimitRequestBody 100
    AuthType BBToken
    AuthName "Git"
    BBTokenRoutes git /lim
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra, mpm => 'worker', modules => [qw(http2 authn_file)],
                        httpd => 0,
                        throttle => "BBTokenThrottleFailures $FAILS\nBBTokenThrottleWindow 3600")->start;
my $d = $env->dir;
spew("$d/cgi-bin/show.cgi", <<'EOS', 0755);
#!/bin/sh
body=$(head -c "${CONTENT_LENGTH:-0}")
printf 'Content-Type: text/plain\r\n\r\n'
printf 'CE=%s\nCT=%s\nCL=%s\nNOTE=%s\nAUTH=%s\nUSER=%s\nBODY=%s\n' "${HTTP_CONTENT_ENCODING:--}" \
    "${CONTENT_TYPE:--}" "${CONTENT_LENGTH:--}" "${HTTP_X_NOTE:--}" "${HTTP_AUTHORIZATION:--}" \
    "${REMOTE_USER:--}" "$body"
EOS
$env->write_cgi;
$env->httpd_start;
$env->make_repo('PROJ', 'repo');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
$env->user_add('carol');
$env->grant('carol', 'PROJECT_READ', 'PROJ');
my $pw = 'carol-Pa55-word';
$env->htpasswd(carol => $pw);
my $tok = $env->token_create('alice', name => 'h2');
(my $secret = $tok) =~ s/^BBDC-//;
my $bad = mistype_token($tok);
my $port = $env->port;
my $UP = '/env/PROJ/repo.git/info/refs?service=git-upload-pack';
my $SCM = '/scm/PROJ/repo.git/info/refs?service=git-upload-pack';
my $BATCH = '/git/PROJ/repo.git/info/lfs/objects/batch';
my $LIM = '/lim/PROJ/repo.git/info/lfs/objects/batch';
my $json = '{"operation":"download","objects":[]}';

# The streams of one connection (see t/lib/h2raw.py), from address $from:
# their answers, in order.
sub h2 {
    my ($streams, %o) = @_;
    my $in = "$d/run/h2.json";
    spew($in, encode_json($streams));
    my ($rc, $out, $err) = run_cmd(cmd => [$PY, "$FindBin::Bin/lib/h2raw.py", '127.0.0.1', $port,
                                           $o{timeout} // 30, ($o{from} ? ($o{from}) : ())],
                                   stdin => slurp($in), tmp => "$d/run", timeout => 90);
    my $res = eval { decode_json($out) };
    diag "h2raw: rc $rc: $err" if $rc || !$res;
    return $res || [];
}

# A GET's header list, and a POST's with a body's type.
sub get { my ($path, @h) = @_;
          return [[':method', 'GET'], [':scheme', 'http'], [':authority', "127.0.0.1:$port"],
                  [':path', $path], @h] }
sub post { my ($path, @h) = @_;
           return [[':method', 'POST'], [':scheme', 'http'], [':authority', "127.0.0.1:$port"],
                   [':path', $path], ['authorization', "Bearer $tok"],
                   ['content-type', 'application/vnd.git-lfs+json'], @h] }
sub bearer { ['authorization', "Bearer $_[0]"] }
sub basic { ['authorization', auth_basic(@_)->{Authorization}] }
sub hdr { my ($a, $n) = @_; my ($v) = map { $_->[1] } grep { $_->[0] eq $n } @{ $a->{headers} }; $v }
sub statuses { join ' ', map { $_->{status} // ('reset ' . ($_->{reset} // '-')) } @{ $_[0] } }
# A stream whose trailer declares a coding and a type, with a length:
# 415, or 200 and the backend (show.cgi) handed neither field.
sub kept_out { my $s = $_[0]{status} // 0;
               $s == 415 || ($s == 200 && $_[0]{body} =~ /^CE=-\nCT=application\/vnd\.git-lfs\+json\n/) }
# Under load mod_http2 now and then resets such a stream (INTERNAL_ERROR)
# before its body: the trailer frame comes after mod_http2 has sent the
# response's header (or queued it) and before its body, and mod_http2
# refuses any header field of a stream it has answered
# (h2_stream_add_header), so nghttp2 resets the stream and never delivers
# the frame (the debug log shows the module's read of the body, the 200,
# the reset).  Without the body, the backend's words, the stream says
# nothing either way.
sub cut_short { (($_[0]{status} // 200) == 200) && defined $_[0]{reset} && $_[0]{reset} =~ /^\d+$/
                && $_[0]{body} eq '' }

subtest 'one connection, its streams each their own' => sub {
    # Interleaved: a token on every other stream, nothing on the others.
    my $a = h2([map { { headers => get($UP, $_ % 2 ? () : bearer($tok)) } } 0 .. 39]);
    is(scalar(@$a), 40, '40 streams answered');
    my @with = map { $a->[$_] } grep { $_ % 2 == 0 } 0 .. $#$a;
    my @without = map { $a->[$_] } grep { $_ % 2 } 0 .. $#$a;
    is_deeply([grep { ($_->{status} // 0) != 200 || $_->{body} !~ /^REMOTE_USER=alice$/m } @with], [],
              'each stream with the token: 200, the CGI runs as alice');
    is_deeply([grep { $_->{body} !~ /^HTTP_AUTHORIZATION unset$/m } @with], [],
              '... and is handed no Authorization');
    is_deeply([grep { ($_->{status} // 0) != 401 } @without], [],
              'each stream without credentials beside them: 401') or diag statuses(\@without);

    # The upgrade's request carries the token, and is answered as stream 1
    # (the module gives the header back to it alone): the streams the
    # client opens after it carry nothing.
    $a = h2([{ upgrade => { path => $UP, headers => [['Authorization', "Bearer $tok"]] } },
             map { { headers => get($UP) } } 1 .. 4]);
    like($a->[0]{switch} // '', qr{^HTTP/1\.1 101 }, 'Upgrade: h2c is answered 101');
    is($a->[0]{status}, 200, 'stream 1, the upgraded request: 200');
    like($a->[0]{body}, qr/^REMOTE_USER=alice$/m, '... as alice');
    my @later = @$a[1 .. $#$a];
    is_deeply([map { $_->{status} } @later], [401, 401, 401, 401],
              'streams 3 to 9 of that connection, without credentials: 401 each');
};

subtest 'header fields only HTTP/2 sends' => sub {
    my $a = h2([{ headers => get($UP, bearer($tok), bearer($tok)) },
                { headers => get($UP, bearer($tok), bearer($bad)) },
                { headers => get($UP, bearer($bad), bearer($tok)) },
                { headers => get($UP, ['Authorization', "Bearer $tok"]) },
                { headers => get($UP, ['authorization', 'Bearer ' . ('A' x 61440)]) },
                { headers => get($UP, ['authorization', 'Bearer ' . ('A' x 8000)]) },
                { headers => get($UP, bearer($tok)) }]);
    # mod_http2 joins a field sent twice as HTTP/1.1's two lines are: the
    # module sees two credentials, whichever comes first.
    is_deeply([map { $_->{status} } @$a[0 .. 2]], [400, 400, 400],
              'Authorization twice (the token twice, then a right and a wrong one either way): 400');
    like($a->[1]{body}, qr/more than one credential/, '... saying why');
    my $h1 = $env->raw_request("GET $UP HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $tok\r\n"
                               . "Authorization: Bearer $tok\r\nConnection: close\r\n\r\n");
    is($h1->{status}, 400, 'as over HTTP/1.1 (control)');
    ok(!defined $a->[3]{status} && defined $a->[3]{reset},
       'an upper-case field name: the stream is reset, no request is made of it')
        or diag explain $a->[3];
    is($a->[4]{status}, 431, 'a 60 KB Authorization in CONTINUATION frames: 431, by mod_http2');
    is($a->[5]{status}, 400, 'an 8 KB one: 400, by the module');
    is($a->[6]{status}, 200, 'the connection still serves a token after them');
    like($a->[6]{body}, qr/^REMOTE_USER=alice$/m, '... as alice');
};

subtest 'a body a route reads, over HTTP/2' => sub {
    my $len = length $json;
    my $a = h2([
        { headers => post($BATCH), data => [[0, substr($json, 0, 10)], [0.5, substr($json, 10, 10)],
                                            [0.5, substr($json, 20)]] },
        # Sent once the module has asked for the body (100 Continue): sent
        # at once, nghttp2 resets the stream on its arrival, and httpd
        # 2.4.71's mod_http2 kills the child when that reset meets the
        # moment a worker takes the stream, with or without the module
        # (README, Security model: HTTP/2).  Here the module is reading
        # the body when the excess comes.
        { headers => post($BATCH, ['content-length', 10], ['expect', '100-continue']), data => [[0, $json]],
          data_on_interim => JSON::PP::true },
        { headers => post($BATCH), data => [[0, $json]], trailers => [['content-encoding', 'gzip']] },
        { headers => post($BATCH), data => [[0, $json]],
          trailers => [['content-type', 'application/json; charset=utf-7']] },
        { headers => post($BATCH, ['content-length', $len]), data => [[0, $json]],
          trailers => [['content-encoding', 'gzip']] },
        { headers => post($BATCH), data => [[0, $json]], trailers => [['x-note', 'fine']] },
    ]);
    is($a->[0]{status}, 200, 'in three pieces half a second apart, without a length: 200');
    like($a->[0]{body}, qr/^CL=$len\nNOTE=-\nAUTH=-\nUSER=alice\nBODY=\Q$json\E$/m,
         '... the backend is handed it whole, with its length') or diag $a->[0]{body};
    is_deeply($a->[1]{interim}, [100], 'the module asked for the body of one longer than its content-length')
        or diag explain $a->[1];
    ok(($a->[1]{status} // 0) != 200 && $a->[1]{body} !~ /^BODY=/m,
       '... refused, the backend never runs (' . statuses([$a->[1]]) . ')');
    is_deeply([map { $_->{status} } @$a[2 .. 3]], [415, 415],
              'a trailer declaring a Content-Encoding or a Content-Type, without a length: 415');
    is_deeply([grep { $_->{body} =~ /^BODY=/m } @$a[2 .. 3]], [], '... the backend never runs');
    # With a length, the body ends with its last byte: a trailer that
    # comes after the module read it is never read by anyone (the handler
    # reads the kept bytes), so it is not merged into the headers either.
    # One that has come by then is seen, and refused.
    ok(kept_out($a->[4]) || cut_short($a->[4]),
       'with a length: 415, or the backend is handed neither field (' . statuses([$a->[4]])
       . (cut_short($a->[4]) ? ', reset before its body' : '') . ')')
        or diag $a->[4]{body};
    # The same, many times: whichever way the race goes; most answered
    # whole, so that a leak cannot hide in the ones cut short.
    my $many = h2([map { { headers => post($BATCH, ['content-length', $len]), data => [[0, $json]],
                          trailers => [['content-encoding', 'gzip'], ['content-type', 'text/plain']] } } 1 .. 20]);
    is(scalar(@$many), 20, 'twenty streams answered');
    my @cut = grep { cut_short($_) } @$many;
    my @odd = grep { !kept_out($_) && !cut_short($_) } @$many;
    is(scalar(@odd), 0, 'twenty such streams: none hands the backend the trailer\'s fields')
        or diag statuses($many), "\n", explain \@odd;
    cmp_ok(20 - @cut, '>=', 15, '... at least fifteen of them answered whole (' . scalar(@cut)
           . ' reset by mod_http2 before their body)');
    note('of those, ' . scalar(grep { ($_->{status} // 0) == 415 } @$many) . ' answered 415');
    # The trailer held back a second after the body: the module has read
    # the body by then (on a loaded machine it may still be 415), and a
    # trailer read by nobody reaches no backend.
    $many = h2([map { { headers => post($BATCH, ['content-length', $len]), data => [[0, $json], [1, '']],
                       trailers => [['content-encoding', 'gzip'], ['content-type', 'text/plain']] } } 1 .. 10]);
    @odd = grep { !kept_out($_) } @$many;
    is(scalar(@odd), 0, 'ten streams whose trailer comes a second after the body: 415, or neither field')
        or diag statuses($many), "\n", explain \@odd;
    note('of those, ' . scalar(grep { ($_->{status} // 0) == 200 } @$many) . ' answered 200');
    is($a->[5]{status}, 200, 'another trailer field: 200');
    like($a->[5]{body}, qr/^NOTE=fine$/m, '... and reaches the backend (MergeTrailers On)');

    my $big = '{"operation":"download","objects":[],"x":"' . ('a' x 200) . '"}';
    $a = h2([
        { headers => post($LIM), data => [[0, $json]] },
        { headers => post($LIM, ['content-length', length $big]), data => [[0, $big]] },
        { headers => post($LIM), data => [[0, $big]] },
        { headers => post($LIM), data => [[0, substr($big, 0, 90)], [0.5, substr($big, 90)]] },
    ]);
    is_deeply([map { $_->{status} } @$a], [200, 413, 413, 413],
              'LimitRequestBody 100: within 200; over it with a length, without, and in pieces: 413');

    # Half a body, then RST_STREAM while the module reads it; the same
    # connection's next stream is served.  The reset waits for the 100
    # Continue that httpd sends when the module first asks for the body
    # (Expect: 100-continue), not for a clock: on a loaded machine a stream
    # reset before its request ran would prove nothing.
    my $mark = length $env->error_log_text;
    $a = h2([{ headers => post($BATCH, ['expect', '100-continue']), data => [[0, substr($json, 0, 10)]],
               end => JSON::PP::false, reset_on_interim => JSON::PP::true },
             { headers => post($BATCH, ['content-length', $len]), data => [[1, $json]] }]);
    is_deeply($a->[0]{interim}, [100], 'the module asked for the body (100 Continue)') or diag explain $a->[0];
    is($a->[0]{reset}, 'sent', '... and the stream was reset half-way through it');
    is($a->[1]{status}, 200, '... the next stream on that connection: 200');
    # mod_http2 either fails the reset stream's read (connection aborted:
    # BBT451) or ends it as though the body were done, whichever way the
    # reset meets the worker's read; then the module decides by the ten
    # bytes it got (not JSON: BBT452), and whatever a handler would read is
    # those same bytes.  Its line comes when the read returns: polled for.
    my $re = qr/BBT45[12]: the request body of POST \S+ (?:could not be read|is refused)/;
    my $deadline = time + 30;
    sleep 0.1 until substr($env->error_log_text, $mark) =~ $re || time > $deadline;
    like(substr($env->error_log_text, $mark), $re, 'the module refused the half body it got');
    note($_) for grep { $_ =~ $re } split /\n/, substr($env->error_log_text, $mark);
};

subtest 'the failed-login throttle counts every stream' => sub {
    # Twenty wrong passwords at once, as streams of one connection.
    my $a = h2([map { { headers => get($SCM, basic('carol', "wrong-$_")) } } 1 .. 20], from => '127.0.0.2');
    my $n401 = grep { ($_->{status} // 0) == 401 } @$a;
    my $n429 = grep { ($_->{status} // 0) == 429 } @$a;
    is($n401 + $n429, 20, 'twenty wrong passwords on one connection: each 401 or 429');
    cmp_ok($n401, '>=', $FAILS, "at least $FAILS of them 401 (counted before the limit)");
    note("$n401 answered 401, $n429 answered 429");
    $a = h2([{ headers => get($SCM, basic('carol', $pw)) }], from => '127.0.0.2');
    is($a->[0]{status}, 429, 'then the right password, on a new connection: 429');
    my $ra = hdr($a->[0], 'retry-after') // '';
    ok($ra =~ /^\d+$/ && $ra > 0 && $ra <= 3600, "... with Retry-After ($ra)");

    # Four connections at once, five wrong passwords each.
    my @pids;
    for my $k (1 .. 4) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $in = "$d/run/h2-$k.json";
            spew($in, encode_json([map { { headers => get($SCM, basic('carol', "w$k-$_")) } } 1 .. 5]));
            open(STDIN, '<', $in) or die "$in: $!";
            open(STDOUT, '>', '/dev/null') or die "/dev/null: $!";
            exec($PY, "$FindBin::Bin/lib/h2raw.py", '127.0.0.1', $port, 30, '127.0.0.3');
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;
    $a = h2([{ headers => get($SCM, basic('carol', $pw)) }], from => '127.0.0.3');
    is($a->[0]{status}, 429, 'four connections of five wrong passwords each, at once: the right one is 429');

    # Wrong tokens are verified (not refused 429) and count.
    $a = h2([map { { headers => get($UP, bearer($bad)) } } 1 .. 10], from => '127.0.0.4');
    is_deeply([map { $_->{status} } @$a], [(401) x 10], 'ten wrong tokens as streams: 401 each');
    $a = h2([{ headers => get($SCM, basic('carol', $pw)) }, { headers => get($UP, bearer($tok)) }],
            from => '127.0.0.4');
    is($a->[0]{status}, 429, '... they counted: the right password is 429');
    is($a->[1]{status}, 200, '... and the right token still 200 (BBTokenThrottleTokens verify)');

    $a = h2([{ headers => get($SCM, basic('carol', $pw)) }], from => '127.0.0.5');
    is($a->[0]{status}, 200, 'another address is not held back');
};

for my $log ($env->error_log_path, $env->access_log_path) {
    unlike(slurp($log), qr/\Q$secret\E/, "the token is in no log (" . ($log =~ s{.*/}{}r) . ')');
}
unlike($env->error_log_text, qr/\Q$pw\E/, 'nor the password');
is_deeply([$env->crash_lines], [], 'no child crashed');
done_testing;
