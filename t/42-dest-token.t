# A destination route's token= minimum holds where no sub-request routes
# the Destination again: a backend of its own (a CGI here) that moves or
# copies, rather than mod_dav.  The Destination is decided on the request
# itself, and every condition of its route counts, token= included; and
# it is held to what the request's path is held to (t/43-encoded-slashes):
# a backend that takes a backslash for a slash, or drops a segment's
# ;parameter, must read it as the same repository too.  Such a backend acts
# on the Destination as the client wrote it, so only a plain URL is decided
# (one with a query or a fragment, which a backend may take for more of
# the path, is refused), and its project key must be spelled canonically:
# the module maps the request's own URL to the canonical key, never the
# header, and a directory named proj is none of PROJ's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(auth_bearer);
use BBT::Assert;

my $extra = <<'EOC';
ScriptAlias /mv/ "@DIR@/cgi-bin/env.cgi/"
<Location /mv>
    AuthType BBToken
    AuthName "Git"
    BBTokenRoute COPY,MOVE "/mv/(?<project>~?[A-Za-z]+)/(?<repo>[a-z]+)/.+" REPO_WRITE
    BBTokenRoute COPY,MOVE "/mv/(?<project>~?[A-Za-z]+)/(?<repo>[a-z]+)/.+" REPO_WRITE destination token=PROJECT_ADMIN
    Require bbtoken
</Location>
EOC
my $env = BBT::Env->new(extra_conf => $extra)->start;
$env->user_add('alice');
$env->grant('alice', 'PROJECT_ADMIN', 'PROJ');
my $write = $env->token_create('alice', name => 'w', perms => ['REPO_WRITE']);
my $admin = $env->token_create('alice', name => 'a', perms => ['PROJECT_ADMIN']);

sub move {
    my ($tok, $dest) = @_;
    my $h = auth_bearer($tok);
    $h->{Destination} = $env->url($dest) if defined $dest;
    return ($env->cgi_call('MOVE', '/mv/PROJ/repo/a.txt', $h))[0];
}

is_ok_res(move($admin, '/mv/PROJ/other/b.txt'),
          'a token with PROJECT_ADMIN moves: the Destination route holds');
is_403(move($write, '/mv/PROJ/other/b.txt'),
       'a REPO_WRITE token: the Destination route asks the token for PROJECT_ADMIN');
is_403(move($admin), 'no Destination: refused');

# alice administers PROJ alone: OTHER/x is not hers to write.
is_403(move($admin, '/mv/OTHER/x/b.txt'), 'a Destination in another project: refused');
for my $c (['backslashes (%5C) up into OTHER', '/mv/PROJ/repo/y%5C..%5C..%5C..%5COTHER%5Cx%5Cb.txt'],
           ['backslashes up into OTHER', '/mv/PROJ/repo/y\\..\\..\\..\\OTHER\\x\\b.txt'],
           [';parameters up into OTHER', '/mv/PROJ/repo/..;/..;/..;/OTHER/x/b.txt'],
           [';parameters (%3B) up into OTHER', '/mv/PROJ/repo/..%3B/..%3B/..%3B/OTHER/x/b.txt'],
           ['%252e%252e up into OTHER', '/mv/PROJ/repo/y/%252e%252e/%252e%252e/%252e%252e/OTHER/x/b.txt'],
           ['%253B.. up into OTHER', '/mv/PROJ/repo/..%253B/..%253B/..%253B/OTHER/x/b.txt']) {
    my ($what, $dest) = @$c;
    my $r = move($admin, $dest);
    is_403($r, "a Destination of $what, which such a backend reads as OTHER/x's: refused");
}
like($env->error_log_text, qr/makes the Destination another one's/,
     'the error log says why');
is_ok_res(move($admin, '/mv/PROJ/repo/sub%5Cb;v=1.txt'),
          'a backslash and a ;parameter that stay in PROJ/repo: moves');

# A query or a fragment: decided on the path before it, the move would be
# PROJ/other's, where a backend that reads the header's text as a path
# moves into OTHER/x.  An encoded slash or NUL, whatever it decodes to: a
# backend may keep %2F in a segment's name (OTHER/x's), or decode it
# where the module would not.
for my $c (['a query', '/mv/PROJ/other/b.txt?x=1'],
           ['a fragment', '/mv/PROJ/other/b.txt#x'],
           ['a query up into OTHER', '/mv/PROJ/other/b.txt?/../../../OTHER/x/b.txt'],
           ['a fragment up into OTHER', '/mv/PROJ/other/b.txt#/../../../OTHER/x/b.txt'],
           ['%2F, decoded PROJ/other\'s', '/mv/PROJ/other%2Fb.txt'],
           ['%2F, decoded and resolved PROJ/other\'s', '/mv/OTHER/x%2F..%2F..%2FPROJ/other/b.txt'],
           ['%00', '/mv/PROJ/other/b.txt%00.x']) {
    my ($what, $dest) = @$c;
    my $mark = log_mark($env->error_log_path);
    is_403(move($admin, $dest), "a Destination with $what: refused");
    like(join('', log_lines_since($env->error_log_path, $mark)),
         qr/Destination missing or not a plain URL/, '  the log says why');
}

# The key in another case: the same project, but not the directory the
# backend would move into.  The route takes any case, as Bitbucket's keys
# are; only the spelling is refused.
is_ok_res(move($admin, '/mv/~alice/r/b.txt'), "a Destination in alice's own ~alice: moves");
for my $dest ('/mv/proj/other/b.txt', '/mv/Proj/other/b.txt', '/mv/~ALICE/r/b.txt') {
    my $mark = log_mark($env->error_log_path);
    is_403(move($admin, $dest), "a Destination spelled $dest: refused");
    like(join('', log_lines_since($env->error_log_path, $mark)),
         qr/Destination's project key not spelled canonically/, '  the log says why');
}

done_testing;
