#!/usr/bin/perl
# A stand-in git LFS server for the tests, run as a CGI behind the module's
# git routes: the batch API (basic transfer), object GET and PUT, verify,
# and the locks API, storing in the directory LFS_DIR names.  It records
# every request it is given (LFS_DIR/log: method, path, the batch's
# operation, body length, REMOTE_USER, BBTOKEN_PERMISSION), so a test can
# tell what reached it and what did not.  Only core Perl.
use strict;
use warnings;
use Digest::SHA ();
use Fcntl qw(:flock);
use JSON::PP ();

my $dir = $ENV{LFS_DIR} or die "no LFS_DIR\n";
my $J = JSON::PP->new->canonical;
my $path = $ENV{PATH_INFO} // '';
my $method = $ENV{REQUEST_METHOD} // '';
my $user = $ENV{REMOTE_USER} // '-';

my $body = '';
my $len = $ENV{CONTENT_LENGTH} // 0;
while (length($body) < $len) {
    my $n = read(STDIN, $body, $len - length($body), length($body));
    last unless $n;
}
my $req;
$req = eval { $J->decode($body) } if $body =~ /^\s*\{/;

# The repository's LFS URL as the client spelled it.
(my $base = $ENV{REQUEST_URI} // '') =~ s{/info/lfs/.*\z}{/info/lfs};
$base = "http://$ENV{HTTP_HOST}$base";
my ($repo) = $path =~ m{^/([^/]+/[^/]+)\.git/info/lfs/};
my $store = "$dir/objects/" . ($repo // 'none') =~ s{/}{_}r;
mkdir "$dir/objects";
mkdir $store;

sub record {
    open my $h, '>>', "$dir/log" or die "$dir/log: $!";
    flock $h, LOCK_EX;
    printf $h "%s %s op=%s len=%d user=%s perm=%s\n", $method, $path,
        (ref $req eq 'HASH' && defined $req->{operation} ? $req->{operation} : '-'),
        length $body, $user, $ENV{BBTOKEN_PERMISSION} // '-';
    close $h;
}

sub reply {
    my ($status, $data, $type) = @_;
    print "Status: $status\r\nContent-Type: " . ($type || 'application/vnd.git-lfs+json') . "\r\n\r\n";
    print ref $data ? $J->encode($data) : $data;
    exit 0;
}

# The locks, in one JSON file, under an exclusive lock while changed.
sub with_locks {
    my ($fn) = @_;
    open my $h, '+>>', "$dir/locks.json" or die "$dir/locks.json: $!";
    flock $h, LOCK_EX;
    seek $h, 0, 0;
    my $text = do { local $/; <$h> };
    my $locks = length $text ? $J->decode($text) : { next => 1, all => [] };
    my @r = $fn->($locks);
    truncate $h, 0;
    print $h $J->encode($locks);
    close $h;
    return @r;
}

record();
reply(400, { message => 'no repository in the path' }) unless $repo;

if ($method eq 'POST' && $path =~ m{/objects/batch\z}) {
    reply(422, { message => 'not a batch' }) unless ref $req eq 'HASH';
    my $op = $req->{operation} // '';
    my @out;
    for my $o (@{ $req->{objects} || [] }) {
        my ($oid, $size) = ($o->{oid} // '', $o->{size} // 0);
        # Not "authenticated": the client is to send its own credentials to
        # the hrefs, for the module to check (it hands the backend none).
        my %e = (oid => $oid, size => $size);
        my $have = $oid =~ /\A[0-9a-f]{64}\z/ && -f "$store/$oid";
        if ($op eq 'download') {
            if ($have) { $e{actions}{download} = { href => "$base/objects/$oid", expires_in => 3600 } }
            else { $e{error} = { code => 404, message => 'Object does not exist' } }
        } elsif ($op eq 'upload') {
            $e{actions} = { upload => { href => "$base/objects/$oid", expires_in => 3600 },
                            verify => { href => "$base/objects/verify", expires_in => 3600 } }
                unless $have;
        } else {
            reply(422, { message => "unknown operation $op" });
        }
        push @out, \%e;
    }
    reply(200, { transfer => 'basic', objects => \@out, hash_algo => 'sha256' });
}
if ($path =~ m{/objects/([0-9a-f]{64})\z}) {
    my $oid = $1;
    if ($method eq 'GET') {
        open my $h, '<', "$store/$oid" or reply(404, { message => 'Object does not exist' });
        binmode $h;
        my $data = do { local $/; <$h> };
        reply(200, $data, 'application/octet-stream');
    }
    if ($method eq 'PUT') {
        reply(422, { message => 'content does not match its oid' }) if Digest::SHA::sha256_hex($body) ne $oid;
        open my $h, '>', "$store/$oid.tmp" or die $!;
        binmode $h;
        print $h $body;
        close $h;
        rename "$store/$oid.tmp", "$store/$oid" or die $!;
        reply(200, '', 'text/plain');
    }
}
if ($method eq 'POST' && $path =~ m{/objects/verify\z}) {
    my $oid = ref $req eq 'HASH' ? $req->{oid} // '' : '';
    reply(404, { message => 'Object does not exist' })
        unless $oid =~ /\A[0-9a-f]{64}\z/ && -f "$store/$oid" && -s _ == ($req->{size} // -1);
    reply(200, {});
}
if ($path =~ m{/locks\z} && $method eq 'GET') {
    my %q = map { my ($k, $v) = split /=/, $_, 2; ($k => $v // '') } split /&/, $ENV{QUERY_STRING} // '';
    my ($locks) = with_locks(sub { return $_[0]{all} });
    my @l = grep { $_->{repo} eq $repo && (!defined $q{path} || $_->{path} eq $q{path})
                   && (!defined $q{id} || $_->{id} eq $q{id}) } @$locks;
    reply(200, { locks => [map { my %c = %$_; delete $c{repo}; \%c } @l] });
}
if ($path =~ m{/locks\z} && $method eq 'POST') {
    my $p = ref $req eq 'HASH' ? $req->{path} : undef;
    reply(422, { message => 'no path' }) unless defined $p;
    my ($status, $lock) = with_locks(sub {
        my ($locks) = @_;
        my ($old) = grep { $_->{repo} eq $repo && $_->{path} eq $p } @{ $locks->{all} };
        return (409, $old) if $old;
        my $l = { id => '' . $locks->{next}++, path => $p, repo => $repo,
                  locked_at => '2026-01-01T00:00:00Z', owner => { name => $user } };
        push @{ $locks->{all} }, $l;
        return (201, $l);
    });
    my %c = %$lock;
    delete $c{repo};
    reply($status, $status == 201 ? { lock => \%c } : { lock => \%c, message => 'already created lock' });
}
if ($path =~ m{/locks/verify\z} && $method eq 'POST') {
    my ($locks) = with_locks(sub { return $_[0]{all} });
    my (@ours, @theirs);
    for my $l (grep { $_->{repo} eq $repo } @$locks) {
        my %c = %$l;
        delete $c{repo};
        push @{ $l->{owner}{name} eq $user ? \@ours : \@theirs }, \%c;
    }
    reply(200, { ours => \@ours, theirs => \@theirs });
}
if ($path =~ m{/locks/([^/]+)/unlock\z} && $method eq 'POST') {
    my $id = $1;
    my ($lock) = with_locks(sub {
        my ($locks) = @_;
        my ($l) = grep { $_->{repo} eq $repo && $_->{id} eq $id } @{ $locks->{all} };
        $locks->{all} = [grep { $_ != $l } @{ $locks->{all} }] if $l;
        return $l;
    });
    reply(404, { message => 'no such lock' }) unless $lock;
    delete $lock->{repo};
    reply(200, { lock => $lock });
}
reply(404, { message => "nothing here: $method $path" });
