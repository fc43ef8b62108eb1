# X-Atlassian-Token: nocheck, the spelling Bitbucket's REST framework
# deprecated in its 3.0 and still takes: old scripts send it, and it lets a
# change through the cross-site check as no-check does, in any case, with
# a warning (BBT208) at httpd's default LogLevel naming the user and the
# request, never a secret.  Only where it is what lets the change through:
# a change without a body (a rotate), never beside a JSON Content-Type,
# on a DELETE, on a body refused for not being JSON, or for a request
# without a login (revoke-by-value), however many.  Any other value is
# refused, and another site's page is refused with it as without it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Assert;
use BBT::Rest qw(rest_env);
use BBT::Secrets qw(token_forms no_secrets_in);

my %pw = (alice => 'alice-Pa55-word');
# httpd's default LogLevel, so that the warning is seen where admins look.
my $env = rest_env(env => { loglevel => 'warn' }, revoke_by_value => 1, passwords => [%pw], users => ['alice'],
                   repos => [[PROJ => 'repo']], grants => [[alice => PROJECT_READ => 'PROJ']]);
my $B = '/rest/access-tokens/1.0/users/alice';
my $LOG = $env->error_log_path;

sub call { my ($m, $p, %o) = @_; return $env->rest($m, $p, as => 'alice', %o) }
sub xsrf { my ($v) = @_; return (headers => { 'X-Atlassian-Token' => $v }) }
sub create { return call(PUT => $B, json => { name => $_[0], permissions => ['REPO_READ'] })->{json}{id} }
sub warned { my ($mark) = @_; return grep { /BBT208: / } log_lines_since($LOG, $mark) }

subtest 'nocheck lets a change through, with one warning' => sub {
    my $n = 0;
    # White space around a header's value is httpd's to strip.
    for my $v ('nocheck', 'NOCHECK', 'NoCheck', ' nocheck ') {
        my $id = create('rotate ' . ++$n) or return fail('created');
        my $mark = log_mark($LOG);
        my $res = call(POST => "$B/$id/rotate", xsrf($v));
        is_ok_res($res, "POST rotate, no body, X-Atlassian-Token: $v");
        like($res->{json}{token} // '', qr/^BBDC-/, '  the new token');
        my @w = warned($mark);
        is(scalar @w, 1, '  one BBT208 line') or diag explain \@w;
        like($w[0] // '', qr/\[\w*:warn\].*BBT208: .*nocheck.*\buser alice, POST \Q$B\E\/$id\/rotate\b/,
             '  at warn, with the user and the request');
    }
};

subtest 'a body that is not JSON: 415, and no warning' => sub {
    # A create or an update must send JSON whatever the header says: past
    # the cross-site check by nocheck, it is refused all the same, so the
    # header let nothing through.
    my $id = create('update target') or return fail('created');
    my $mark = log_mark($LOG);
    my %h = (headers => { 'Content-Type' => 'text/plain', 'X-Atlassian-Token' => 'nocheck' });
    my $res = call(PUT => $B, body => '{"name":"plain","permissions":["REPO_READ"]}', %h);
    is($res->{status}, 415, 'a create sent as text/plain with nocheck: 415 as with no-check');
    like($res->{json}{errors}[0]{message} // '', qr{application/json}, '  saying the body must be JSON');
    $res = call(POST => "$B/$id", body => '{"name":"renamed"}', %h);
    is($res->{status}, 415, 'an update sent as text/plain with nocheck: 415');
    $res = call(PUT => $B, headers => { 'X-Atlassian-Token' => 'nocheck' });
    is($res->{status}, 415, 'a create with no Content-Type and no body, with nocheck: 415');
    is_deeply([warned($mark)], [], 'no BBT208 for any of them');
};

subtest 'revoke-by-value, without a login: no warning, however many' => sub {
    # Anyone may report a leaked token, and is answered before any count
    # of reports: a line per request here would be a log anyone can fill.
    my $N = 100;
    my $mark = log_mark($LOG);
    my %status;
    for my $i (1 .. $N) {
        my $res = $env->rest(POST => '/rest/access-tokens/1.0/revoke-by-value', noauth => 1, body => '["x"]',
                             headers => { 'Content-Type' => 'text/plain', 'X-Atlassian-Token' => 'nocheck' });
        $status{ $res->{status} }++;
    }
    is_deeply(\%status, { 415 => $N }, "$N anonymous reports as text/plain with nocheck: each 415");
    my $res = $env->rest(POST => '/rest/access-tokens/latest/revoke-by-value', noauth => 1,
                         headers => { 'X-Atlassian-Token' => 'NOCHECK' });
    is($res->{status}, 415, 'one with no Content-Type and no body: 415');
    is_deeply([warned($mark)], [], 'no BBT208 line for any of them');
};

subtest 'nocheck where something else lets it through: no warning' => sub {
    my $mark = log_mark($LOG);
    my $res = call(PUT => $B, json => { name => 'json', permissions => ['REPO_READ'] }, xsrf('nocheck'));
    is_ok_res($res, 'a JSON create with nocheck');
    is_status(call(DELETE => "$B/$res->{json}{id}", xsrf('nocheck')), 204, 'a DELETE with nocheck');
    is_ok_res(call(GET => $B, xsrf('nocheck')), 'a GET with nocheck');
    my $id = create('no-check');
    is_ok_res(call(POST => "$B/$id/rotate", xsrf('no-check')), 'a rotate with no-check');
    is_deeply([warned($mark)], [], 'no BBT208 for any of them');
};

subtest 'any other value, or another site, is refused' => sub {
    my $id = create('target');
    my $mark = log_mark($LOG);
    for my $v ('nocheckx', 'no-check x', 'no_check', 'no check', 'nocheck, no-check', 'check', '') {
        my $res = call(POST => "$B/$id/rotate", xsrf($v));
        is($res->{status}, 403, "X-Atlassian-Token \"$v\": 403");
        like($res->{json}{errors}[0]{message} // '', qr/XSRF check failed/, '  the XSRF refusal');
    }
    for my $h ({ Origin => 'http://evil.example' }, { 'Sec-Fetch-Site' => 'cross-site' },
               { Referer => 'http://evil.example/page' }) {
        my ($k) = keys %$h;
        my $res = call(POST => "$B/$id/rotate", headers => { %$h, 'X-Atlassian-Token' => 'nocheck' });
        is($res->{status}, 403, "nocheck with another site's $k: 403");
    }
    ok((grep { $_->{id} eq $id } @{ call(GET => $B)->{json}{values} || [] }),
       'the token is still live: not rotated');
    is_deeply([warned($mark)], [], 'no BBT208 for a refused request');
};

subtest 'no secret in the logs' => sub {
    my %secret = ('alice password' => $pw{alice});
    token_forms('REST', $_, \%secret, 'alice') for $env->rest_tokens;
    ok(scalar $env->rest_tokens, 'tokens were shown');
    no_secrets_in('httpd error_log', $env->error_log_text, \%secret, 'no token or password in the error log');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed');
done_testing;
