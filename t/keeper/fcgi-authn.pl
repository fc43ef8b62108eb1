#!/usr/bin/perl
# A stand-in FastCGI authenticator for mod_authnz_fcgi (t/49): it listens on
# 127.0.0.1:PORT and, as mod_authnz_fcgi's documentation has such an
# application do, reads the Basic user from REMOTE_USER and the password
# from REMOTE_PASSWD.  It grants user fc with password fc-Pa55-word (200)
# and refuses anything else (401).  Each request's REMOTE_USER, or "(none)",
# is appended to the file LOG, one a line, so a test can tell what the
# application was given.  Core Perl only; never run it outside the tests.
use strict;
use warnings;
use IO::Socket::INET;

my ($port, $log) = @ARGV;
die "usage: $0 PORT LOG\n" unless $port && $log;
my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                Listen => 16, ReuseAddr => 1)
    or die "listen: $!\n";

sub read_n {
    my ($c, $n) = @_;
    my $buf = '';
    while (length($buf) < $n) {
        my $got = sysread($c, $buf, $n - length($buf), length($buf));
        return undef unless $got;
    }
    return $buf;
}

sub record {
    my ($c) = @_;
    my $h = read_n($c, 8) // return;
    my (undef, $type, $id, $len, $pad) = unpack('CCnnC', $h);
    my $body = $len ? read_n($c, $len) : '';
    read_n($c, $pad) if $pad;
    return ($type, $id, $body);
}

sub pairs {
    my ($s) = @_;
    my %p;
    while (length $s) {
        my @l;
        for (1 .. 2) {
            my $b = unpack('C', $s);
            if ($b & 0x80) {
                push @l, unpack('N', $s) & 0x7fffffff;
                substr($s, 0, 4) = '';
            } else {
                push @l, $b;
                substr($s, 0, 1) = '';
            }
        }
        my $k = substr($s, 0, $l[0], '');
        $p{$k} = substr($s, 0, $l[1], '');
    }
    return %p;
}

sub send_record {
    my ($c, $type, $id, $body) = @_;
    syswrite($c, pack('CCnnCC', 1, $type, $id, length $body, 0, 0) . $body);
}

while (my $c = $srv->accept) {
    my ($params, $id, $done) = ('', 1, 0);
    while (my ($type, $rid, $body) = record($c)) {
        $id = $rid;
        $done = 1, last if $type == 4 && $body eq '';
        $params .= $body if $type == 4;
    }
    # A connection that asked nothing (the test's check that we listen).
    if (!$done) {
        close $c;
        next;
    }
    my %env = pairs($params);
    my $user = $env{REMOTE_USER};
    if (open my $fh, '>>', $log) {
        print $fh (defined $user ? $user : '(none)'), "\n";
        close $fh;
    }
    my $ok = defined $user && $user eq 'fc' && ($env{REMOTE_PASSWD} // '') eq 'fc-Pa55-word';
    send_record($c, 6, $id, 'Status: ' . ($ok ? 200 : 401) . "\r\n\r\n");
    send_record($c, 6, $id, '');
    send_record($c, 3, $id, pack('NCCCC', 0, 0, 0, 0, 0));
    close $c;
}
