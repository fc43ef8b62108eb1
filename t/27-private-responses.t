# A response to a token-authenticated request is for the token's holder
# only.  The module strips Authorization before the handler, and the header
# is what mod_cache and shared caches downstream look for to leave an
# answer alone; git-http-backend even marks objects "Cache-Control: public".
# This test puts mod_cache in front of token-protected files and
# git-http-backend and checks that nothing authenticated is ever served to
# an anonymous client, and that caches are told "private".
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Assert;

my $extra = $BBT::Env::DUMB_CONF . <<'EOC';
# The control: the same files with no authentication at all.
Alias /open-files/ "@DIR@/repos/"
CacheRoot "@DIR@/cache"
CacheEnable disk /dumb
CacheEnable disk /scm
CacheEnable disk /open-files
CacheHeader on
CacheIgnoreNoLastMod On
EOC
my $env = BBT::Env->new(
    extra_conf => $extra,
    modules    => [qw(cache cache_disk)],
)->start;
my $cache = $env->dir . '/cache';
mkdir $cache;
system('chown', '-R', 'www-data:www-data', $cache) if $> == 0;

$env->make_repo('PROJ', 'repo');
# Old enough for mod_cache's heuristic freshness.
system('touch', '-d', '10 days ago', $env->dir . '/repos/PROJ/repo.git/HEAD');
$env->user_add('alice');
$env->grant('alice', 'PROJECT_READ', 'PROJ');
my $token = $env->token_create('alice', name => 'cache test', perms => ['REPO_READ']);
my %auth = (Authorization => "Bearer $token");

# Control: an open file is cached, so the cache really works here.
my $open = '/open-files/PROJ/repo.git/HEAD';
is_status($env->get($open), 200, 'control: open file served');
sleep 1;
my $r = $env->get($open);
like($r->{headers}{'x-cache'} // '', qr/HIT/, 'control: the open file is a cache hit the second time');

my $file = '/dumb/PROJ/repo.git/HEAD';
is_status($env->get($file), 401, 'anonymous request for the protected file: 401');
$r = $env->get($file, \%auth);
is_status($r, 200, 'with the token: 200');
like($r->{headers}{'cache-control'} // '', qr/\bprivate\b/, 'the response says Cache-Control: private');
sleep 1;
$r = $env->get($file);
is_status($r, 401, 'anonymous request after the token one: still 401, not served from the cache');
unlike($r->{content} // '', qr{ref: refs/heads/main}, 'the file content is not leaked');

# git-http-backend: loose objects come with "Cache-Control: public,
# max-age=31536000"; the module turns that private.
my $obj = `git --git-dir=${\ $env->dir}/repos/PROJ/repo.git rev-parse HEAD`;
chomp $obj;
my $opath = '/scm/PROJ/repo.git/objects/' . substr($obj, 0, 2) . '/' . substr($obj, 2);
$r = $env->get($opath, \%auth);
is_status($r, 200, 'dumb-HTTP object fetched with the token');
my $cc = join(", ", map { ref $_ ? @$_ : $_ } $r->{headers}{"cache-control"} // ());
diag "Cache-Control: $cc";
like($cc, qr/\bprivate\b/, "object response is private ($cc)");
unlike($cc, qr/\bpublic\b/, 'and no longer public');
like($cc, qr/max-age=31536000/, "the backend's max-age is kept for the private cache");
sleep 1;
is_status($env->get($opath), 401, 'anonymous request for the object: 401, not a cache hit');

done_testing;
