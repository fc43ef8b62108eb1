package BBT::Assert;

# Test::More checks shared by the integration tests: the status codes and
# challenges the design fixes for each outcome.

use strict;
use warnings;
use Test::More;
use Exporter 'import';

our @EXPORT = qw(challenges is_status is_401 is_403 is_503 is_ok_res res_summary
                 log_lines_since log_mark);

# WWW-Authenticate values of an HTTP::Tiny or raw_request response.
sub challenges {
    my ($res) = @_;
    my $v = $res->{headers}{'www-authenticate'};
    return () unless defined $v;
    return ref $v ? @$v : ($v);
}

sub res_summary {
    my ($res) = @_;
    my $s = "status $res->{status}";
    $s .= " ($res->{reason})" if $res->{reason};
    my @c = challenges($res);
    $s .= "; WWW-Authenticate: " . join(' | ', @c) if @c;
    my $ra = $res->{headers}{'retry-after'};
    $s .= "; Retry-After: " . (ref $ra ? "@$ra" : $ra) if defined $ra;
    my $body = $res->{content} // $res->{body} // '';
    $body = substr($body, 0, 300) . '...' if length $body > 300;
    $body =~ s/\n/\\n/g;
    $s .= "; body: $body" if length $body;
    return $s;
}

sub is_status {
    my ($res, $want, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = is($res->{status}, $want, $name);
    diag(res_summary($res)) unless $ok;
    return $ok;
}

sub is_ok_res {
    my ($res, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return is_status($res, 200, $name);
}

# 401 with both challenges; $token_presented says whether the Bearer
# challenge must (1) or must not (0) carry error="invalid_token".
sub is_401 {
    my ($res, $token_presented, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @c = challenges($res);
    my $ok = $res->{status} == 401;
    my @basic = grep {/^Basic\s+realm="Git"/i} @c;
    my @bearer = grep {/^Bearer\s+realm="Git"/i} @c;
    $ok &&= @basic == 1 && @bearer == 1;
    if ($ok && $token_presented) {
        $ok &&= $bearer[0] =~ /\berror="invalid_token"/;
    } elsif ($ok) {
        $ok &&= $bearer[0] !~ /\berror=/;
    }
    ok($ok, $name . ' -> 401 with Basic and Bearer challenges'
            . ($token_presented ? ', error="invalid_token"' : ', no error'));
    diag(res_summary($res)) unless $ok;
    return $ok;
}

# 403 with WWW-Authenticate: Bearer realm="Git", error="insufficient_scope"
sub is_403 {
    my ($res, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @c = challenges($res);
    my $ok = $res->{status} == 403
        && (grep {/^Bearer\s+realm="Git".*\berror="insufficient_scope"/i} @c);
    ok($ok, "$name -> 403, Bearer error=\"insufficient_scope\"");
    diag(res_summary($res)) unless $ok;
    return $ok;
}

# 503 with a Retry-After header
sub is_503 {
    my ($res, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ra = $res->{headers}{'retry-after'};
    $ra = $ra->[0] if ref $ra;
    my $ok = $res->{status} == 503 && defined $ra && $ra =~ /^\s*\d+\s*$/;
    ok($ok, "$name -> 503 with Retry-After");
    diag(res_summary($res)) unless $ok;
    return $ok;
}

# Offsets into a log file, to look only at what a step wrote.
sub log_mark {
    my ($path) = @_;
    return -s $path || 0;
}

sub log_lines_since {
    my ($path, $mark) = @_;
    open my $h, '<', $path or return ();
    seek $h, $mark, 0;
    local $/;
    my $s = <$h> // '';
    close $h;
    return split /\n/, $s;
}

1;
