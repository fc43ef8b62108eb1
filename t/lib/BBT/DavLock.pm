package BBT::DavLock;
# WebDAV LOCK requests as a client sends them, and the timeout mod_dav's
# answer grants: for the tests of the module's bound on a lock's life.
#
#   use BBT::DavLock qw(dav_lock lock_granted);
#   my $res = dav_lock($env, "Bearer $tok", '/dav/PROJ/repo/a/', 'Infinite');
#   my $secs = lock_granted($res);
use strict;
use warnings;
use Exporter 'import';

our @EXPORT_OK = qw(dav_lock lock_granted);

my $BODY = '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
    . '<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>'
    . '<D:owner><D:href>x</D:href></D:owner></D:lockinfo>';

# LOCK path (Depth: infinity) as $auth, asking $timeout (no Timeout header
# when undef); %h: more headers.  A refresh (an If header) has no body.
sub dav_lock {
    my ($env, $auth, $path, $timeout, %h) = @_;
    my %hd = (Authorization => $auth, Depth => 'infinity', 'Content-Type' => 'application/xml', %h);
    $hd{Timeout} = $timeout if defined $timeout;
    return $env->request('LOCK', $path, \%hd, exists $h{If} ? undef : $BODY);
}

# The timeout the answer says mod_dav granted: seconds, 'Infinite', or
# 'none' when it says none.
sub lock_granted {
    my ($res) = @_;
    my ($t) = ($res->{content} // '') =~ m{<D:timeout>\s*([^<\s]+)\s*</D:timeout>};
    return 'none' unless defined $t;
    return $t =~ /^Second-(\d+)$/ ? $1 : $t;
}

1;
