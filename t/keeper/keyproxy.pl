#!/usr/bin/perl
# A stand-in for a session-pooling proxy (PgBouncer, pool_mode=session)
# between libpq and PostgreSQL: every byte is forwarded both ways, as it
# is, but for the BackendKeyData the server sends at login, which the
# client is given with a made-up pid and key, as PgBouncer gives each
# client a cancel key of its own.  libpq's PQbackendPID is then not the
# pid a notification carries.  For clients that ask for no SSL or GSS
# encryption (the server's first message is then a typed one).
#   keyproxy.pl LISTEN_PORT POSTGRESQL_PORT
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;

my ($lport, $pport) = @ARGV;
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $lport, Listen => 64, ReuseAddr => 1)
    or die "listen on $lport: $!";
$SIG{CHLD} = 'IGNORE';
while (my $c = $l->accept) {
    my $pid = fork // die "fork: $!";
    if ($pid) { close $c; next }
    close $l;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $pport) or exit 1;
    my $sel = IO::Select->new($c, $s);
    my $from_server = '';
    LOOP: while (1) {
        for my $h ($sel->can_read) {
            my $n = sysread($h, my $buf, 65536);
            last LOOP if !$n;
            if ($h == $c) {
                syswrite_all($s, $buf) or last LOOP;
                next;
            }
            # The server's messages, whole ones only: type, length, body.
            $from_server .= $buf;
            my $out = '';
            while (length($from_server) >= 5) {
                my $len = unpack('N', substr($from_server, 1, 4));
                last if length($from_server) < 1 + $len;
                my $m = substr($from_server, 0, 1 + $len, '');
                if (substr($m, 0, 1) eq 'K' && $len == 12) {
                    $m = 'K' . pack('N', 12) . pack('N', 1 + int(rand(2**30))) . pack('N', int(rand(2**31)));
                }
                $out .= $m;
            }
            syswrite_all($c, $out) or last LOOP if length $out;
        }
    }
    exit 0;
}

sub syswrite_all {
    my ($h, $data) = @_;
    while (length $data) {
        my $n = syswrite($h, $data);
        return 0 if !defined $n;
        substr($data, 0, $n, '');
    }
    return 1;
}
