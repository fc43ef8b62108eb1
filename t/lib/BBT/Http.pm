package BBT::Http;

# The HTTP client part of BBT::Env: requests to the environment's httpd
# through HTTP::Tiny, as raw bytes, and through curl (a WebDAV client); the
# CGI stand-in's answer read back; calls of the JSON REST API.
#
# Methods of the environment's object (BBT::Env inherits them).  They need
# the httpd part (port, url, dir, passwords) and keep their own state in ua
# and rest_tokens.  A few plain functions are exported too.

use strict;
use warnings;
use Carp qw(croak);
use HTTP::Tiny;
use IO::Socket::INET;
use Time::HiRes qw(time);
use BBT::Util qw(run_cmd slurp spew);
use BBT::Token qw(b64);

use Exporter 'import';
our @EXPORT_OK = qw(auth_bearer auth_basic header_list cgi_vars get_from);

sub http {
    my ($self) = @_;
    return $self->{ua} ||= HTTP::Tiny->new(timeout => $self->{http_timeout} || 20, max_redirect => 0,
                                           agent => 'bbt-test/1');
}

# Authorization values ...
sub basic { my ($s, $u, $t) = @_; return 'Basic ' . b64("$u:$t") }
sub bearer { my ($s, $t) = @_; return "Bearer $t" }

# ... and request headers that carry them (with more headers, for Bearer).
sub auth_bearer { my ($t, $more) = @_; return { Authorization => "Bearer $t", %{ $more || {} } } }
sub auth_basic { my ($u, $t) = @_; return { Authorization => 'Basic ' . b64("$u:$t") } }

# request(METHOD, PATH, {headers}, content) -> HTTP::Tiny response hash
sub request {
    my ($self, $method, $path, $hdrs, $content) = @_;
    my %o = (headers => $hdrs || {});
    $o{content} = $content if defined $content;
    my $res = $self->http->request($method, $self->url($path), \%o);
    # HTTP::Tiny keeps the connection unless Connection is exactly
    # "close"; httpd with h2c says "Upgrade, close" and closes it, and the
    # next request, sent on it before the close arrived, would get 599.
    my $c = $res->{headers}{connection};
    delete $self->{ua}
        if defined $c && grep { /^\s*close\s*$/i } split /,/, ref $c ? join(',', @$c) : $c;
    return $res;
}

sub get { my ($s, $p, $h) = @_; return $s->request('GET', $p, $h) }

# A GET of $url from the loopback address $from (a client of its own),
# with headers $h and, if defined, X-Forwarded-For $xff: its status.
sub get_from {
    my ($from, $url, $h, $xff) = @_;
    return HTTP::Tiny->new(timeout => 30, keep_alive => 0, local_address => $from)
        ->get($url, { headers => { %{ $h || {} }, (defined $xff ? ('X-Forwarded-For' => $xff) : ()) } })->{status};
}

# A GET from a child process of its own, on a connection of its own (one
# a test holds, behind a lock, while it goes on): a sub that waits for it
# and gives its status.
sub get_bg {
    my ($self, $path, $hdrs) = @_;
    my $url = $self->url($path);
    return BBT::Util::in_background($self->dir . '/run', sub {
        HTTP::Tiny->new(timeout => 120, keep_alive => 0)->get($url, { headers => $hdrs || {} })->{status} });
}

# Header values as a list (HTTP::Tiny folds repeats into an array ref).
sub header_list {
    my ($res, $name) = @_;
    my $v = $res->{headers}{ lc $name };
    return () unless defined $v;
    return ref $v ? @$v : ($v);
}

# Send bytes as they are; returns {status, headers => {lc name => [values]},
# body, raw}.  Connection: close is the caller's to include.
sub raw_request {
    my ($self, $bytes) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
                                  Proto => 'tcp', Timeout => 10)
        or return { status => 0, error => "connect: $!", raw => '' };
    $s->autoflush(1);
    print $s $bytes;
    my $raw = '';
    my $deadline = time + ($self->{http_timeout} || 15);
    $s->blocking(1);
    while (time < $deadline) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $raw .= $buf;
    }
    close $s;
    my %r = (raw => $raw, status => 0, headers => {});
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    $r{body} = $body;
    return \%r unless defined $head && $head =~ m{^HTTP/1\.[01] (\d{3})};
    $r{status} = $1;
    for my $line (split /\r\n/, $head) {
        next unless $line =~ /^([^:\s]+):\s*(.*)$/;
        push @{ $r{headers}{ lc $1 } }, $2;
    }
    return \%r;
}

# A GET with arbitrary header lines (each "Name: value", no CRLF).
sub raw_get {
    my ($self, $path, @lines) = @_;
    my $req = "GET $path HTTP/1.1\r\nHost: 127.0.0.1:$self->{port}\r\n"
        . join('', map {"$_\r\n"} @lines) . "Connection: close\r\n\r\n";
    return $self->raw_request($req);
}

# What the CGI stand-in (env.cgi) printed: {VAR => value, or undef where it
# says "VAR unset"}.  Lines of any other shape are passed over.
sub cgi_vars {
    my ($text) = @_;
    my %v;
    for my $l (split /\r?\n/, $text // '') {
        if ($l =~ /^([A-Z_]+)=(.*)$/) { $v{$1} = $2 }
        elsif ($l =~ /^([A-Z_]+) unset$/) { $v{$1} = undef }
    }
    return \%v;
}

# A request to wherever the CGI stand-in answers: (response, cgi_vars of
# its body, whatever the status).
sub cgi_call {
    my ($self, $method, $path, $hdrs, $content) = @_;
    my $res = $self->request($method, $path, $hdrs, $content);
    return ($res, cgi_vars($res->{content}));
}

# The CGI's view: GET /env/<path> with headers; returns (status, {var => value
# or undef if unset}, response); the variables only for a 200.
sub env_cgi {
    my ($self, $path, $hdrs) = @_;
    my $res = $self->get("/env/$path", $hdrs);
    my $v = $res->{status} == 200 ? cgi_vars($res->{content}) : {};
    return ($res->{status}, $v, $res);
}

# curl as a WebDAV client: (status, body).  %o: method, auth (an
# Authorization value), headers => [...], data (a string, sent as the body),
# depth.
sub curl {
    my ($self, $path, %o) = @_;
    my $body = "$self->{dir}/run/curl.$$." . int(rand(1e9));
    my $m = $o{method} || 'GET';
    my @cmd = ('curl', '-s', '-g', '--path-as-is', '-o', $body, '-w', '%{http_code}',
               $m eq 'HEAD' ? ('-I') : ('-X', $m));
    push @cmd, '-H', "Authorization: $o{auth}" if defined $o{auth};
    push @cmd, '-H', "Depth: $o{depth}" if defined $o{depth};
    push @cmd, map { ('-H', $_) } @{ $o{headers} || [] };
    if (defined $o{data}) {
        my $in = "$body.in";
        spew($in, $o{data});
        push @cmd, '--data-binary', "\@$in";
    }
    push @cmd, $self->url($path);
    my ($rc, $out, $err) = run_cmd(cmd => \@cmd, tmp => "$self->{dir}/run",
                                   timeout => $self->{http_timeout} || 30,
                                   env => { http_proxy => undef, HTTP_PROXY => undef });
    my $content = slurp($body);
    unlink $body, "$body.in";
    return ($rc == 0 ? $out + 0 : 0, $content);
}

# JSON::PP at the first call, not with the harness: most test files make
# none.
my $JSON;
sub _json {
    require JSON::PP;
    return $JSON //= JSON::PP->new->canonical;
}

# A call of a JSON REST API (the access-tokens API): rest(METHOD, PATH, %o).
#   as => NAME    Basic with the password htpasswd() was given for NAME
#   auth => VALUE the Authorization value (instead of as)
#   noauth => 1   no Authorization at all
#   json => DATA  sent as application/json (a structure is encoded)
#   body => BYTES sent as they are (instead of json's)
#   headers => {} more headers, which have the last word
#   api => 1      to the api_conf virtual host (api_url) instead
# Returns the HTTP::Tiny response with json => its body decoded, if any.
# Every raw token a response shows is kept for rest_tokens().
sub rest {
    my ($self, $method, $path, %o) = @_;
    my %h;
    if (!$o{noauth}) {
        if (defined $o{auth}) {
            $h{Authorization} = $o{auth};
        } else {
            croak "rest: as, auth or noauth" unless defined $o{as};
            my $pw = $self->{passwords}{ $o{as} };
            croak "rest: no password for $o{as} (htpasswd)" unless defined $pw;
            $h{Authorization} = $self->basic($o{as}, $pw);
        }
    }
    my $content;
    if (exists $o{json}) {
        $content = ref $o{json} ? _json()->encode($o{json}) : $o{json};
        $h{'Content-Type'} = 'application/json';
    }
    $content = $o{body} if exists $o{body};
    %h = (%h, %{ $o{headers} || {} });
    my $res = $o{api} ? $self->http->request($method, $self->api_url($path),
                                             { headers => \%h, defined $content ? (content => $content) : () })
                      : $self->request($method, $path, \%h, $content);
    $res->{json} = eval { require JSON::PP; JSON::PP::decode_json($res->{content}) } if length($res->{content} // '');
    push @{ $self->{rest_tokens} }, $res->{json}{token}
        if ref $res->{json} eq 'HASH' && $res->{json}{token};
    return $res;
}

# The raw tokens REST responses have shown so far (none may be logged).
sub rest_tokens { @{ $_[0]{rest_tokens} || [] } }

1;
