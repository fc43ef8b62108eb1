# BBT010: where a module logs request bytes out of mod_bbtoken's reach,
# startup warns from the LogLevel at which that module first writes a
# header's value, and not below it.  Each case is a restart of one httpd
# with a LogLevel (and the modules loaded) of its own:
#
#   - mod_http2 logs a request header field it refuses (AH03456), value
#     and all, at debug: an Authorization field with a control byte in
#     it (a token read from a file with a CRLF line ending, say) sent over
#     h2 puts the token in the error log at http2:debug, not at
#     http2:info.  So http2:debug warns and http2:info does not.
#   - core dumps a header line with a NUL byte at debug, mod_dumpio logs
#     what it reads at trace7, mod_log_forensic logs every request: each
#     warns from its level on.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use BBT::Env qw(run_cmd);
use BBT::Util qw(spew slurp);
use BBT::Secrets qw(token_forms no_secrets_in);

my $PY = '/usr/bin/python3';
plan skip_all => "python3-h2 is not installed (build/deps.sh installs it)"
    unless -x $PY && system($PY, '-c', 'import h2') == 0;

my $env = BBT::Env->new(extra_conf => "Protocols h2c http/1.1\nH2Direct on\n", modules => ['http2'])->start;
my $d = $env->dir;
$env->user_add('alice');
my $tok = $env->token_create('alice', name => 'h2 log');
my %secret;
token_forms('h2', $tok, \%secret);

# Restart httpd with these options; the error log's lines from its start.
sub restart {
    my (%o) = @_;
    my $mark = length $env->error_log_text;
    $env->httpd_restart(%o);
    return substr($env->error_log_text, $mark);
}
sub warned { my ($log, $what) = @_; grep { /BBT010: \Q$what\E/ } split /\n/, $log }

# One stream over h2c with prior knowledge (t/lib/h2raw.py) carrying
# $auth as its Authorization field: its answer.
sub h2_auth {
    my ($auth) = @_;
    spew("$d/run/h2.json", encode_json([{ headers => [[':method', 'GET'], [':scheme', 'http'],
                                                      [':authority', '127.0.0.1:' . $env->port],
                                                      [':path', '/scm/x'], ['authorization', $auth]] }]));
    my ($rc, $out, $err) = run_cmd(cmd => [$PY, "$FindBin::Bin/lib/h2raw.py", '127.0.0.1', $env->port, 30],
                                   stdin => slurp("$d/run/h2.json"), tmp => "$d/run", timeout => 90);
    my $res = eval { decode_json($out) };
    diag "h2raw: rc $rc: $err" if $rc || !$res;
    return ($res || [])->[0] || {};
}

# The forms of the token found in $text.
sub found { my ($text) = @_; grep { index($text, $secret{$_}) >= 0 } sort keys %secret }

my $H2 = 'mod_http2 logs';
is_deeply([warned(restart(loglevel => 'warn bbtoken:debug'), '')], [], 'warn bbtoken:debug: no BBT010');

subtest 'mod_http2 at info: no warning, and no token in the log' => sub {
    my $log = restart(loglevel => 'warn http2:info');
    is_deeply([warned($log, $H2)], [], 'no BBT010 for mod_http2');
    my $mark = length $env->error_log_text;
    for my $end ("\x01", "\r", "\n", "\0") {
        my $a = h2_auth("Bearer $tok$end");
        ok(defined $a->{reset} && !defined $a->{status}, 'the stream is reset, never a request');
    }
    no_secrets_in('error_log', substr($env->error_log_text, $mark), \%secret, 'no token at http2:info');
};

subtest 'mod_http2 at debug: the warning, and the leak it warns of' => sub {
    my $log = restart(loglevel => 'warn http2:debug');
    ok(scalar(warned($log, $H2)), 'BBT010 for mod_http2') or diag $log;
    for my $end ("\x01", "\r", "\n", "\0") {
        my $mark = length $env->error_log_text;
        my $a = h2_auth("Bearer $tok$end");
        ok(defined $a->{reset} && !defined $a->{status}, 'the stream is reset, never a request');
        my $text = substr($env->error_log_text, $mark);
        like($text, qr/AH03456: .*invalid header 'authorization: Bearer /, 'mod_http2 logs the refused field');
        ok(scalar(found($text)), 'the token is in the error log: the warning is due');
    }
};

# The other modules, each just below its level and at it: LogLevel, the
# modules loaded, the warning's words, whether it is given.
for my $c (['warn http2:trace2', [], $H2, 1],
           ['warn core:info', [], "httpd's core dumps", 0],
           ['warn core:debug', [], "httpd's core dumps", 1],
           ['warn dumpio:trace6', ['dumpio'], 'mod_dumpio logs', 0],
           ['warn dumpio:trace7', ['dumpio'], 'mod_dumpio logs', 1],
           ['warn', ['log_forensic'], 'mod_log_forensic writes', 1]) {
    my ($level, $mods, $what, $want) = @$c;
    my $log = restart(loglevel => $level, modules => ['http2', @$mods]);
    my $name = "LogLevel $level" . (@$mods ? " with mod_@$mods" : '');
    if ($want) {
        ok(scalar(warned($log, $what)), "$name: BBT010 ($what)") or diag $log;
    } else {
        is_deeply([warned($log, $what)], [], "$name: no BBT010 ($what)");
    }
}

done_testing;
