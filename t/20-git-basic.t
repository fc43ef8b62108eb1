# Clone, fetch and push through mod_bbtoken with a real git client: HTTP
# Basic (token as the password) and Bearer (http.extraHeader), with and
# without the BBDC- prefix; a new token as it is in the URL, an older one
# with '+' and '/' percent-encoded; case-insensitive project keys; what the
# access log and the CGI see on success.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(pct parse_token);
use BBT::Assert;
use BBT::Cache qw(wait_lines);

my $env = BBT::Env->new->start;
my $port = $env->port;
my $root = $env->repo_root;

$env->make_repo('PROJ', 'repo');
$env->make_repo('OTHER', 'thing');
# A lower-case key in the URL names the same project: git-http-backend
# finds the repository through this link, the module must authorize it
# against the PROJ grant.
symlink('PROJ', "$root/proj") or die "symlink: $!";

$env->user_add('alice');
$env->grant('alice', 'PROJECT_WRITE', 'PROJ');
my ($tok, $id) = $env->token_create('alice', name => 'laptop');
note "token id $id";
my $bare = $tok =~ s/^BBDC-//r;

like($tok, qr{^BBDC-[A-Za-z0-9]{44}\z}, "token has the BBDC- shape, without '+' or '/'");
ok(parse_token($tok)->{checksum_ok}, 'token checksum is the documented one');

my $plain_url = "http://127.0.0.1:$port/scm/PROJ/repo.git";
my $bearer_hdr = sub { ('-c', "http.extraHeader=Authorization: Bearer $_[0]") };

# One round: clone twice, push from the second, fetch into the first.
sub round_trip {
    my ($label, $url, @pre) = @_;
    my $a = $env->workdir("$label-a");
    my $b = $env->workdir("$label-b");
    $env->git_is("$label: clone", 1, @pre, 'clone', '-q', $url, $a) or return;
    ok(-f "$a/README", "$label: clone has the README");
    $env->git_is("$label: second clone", 1, @pre, 'clone', '-q', $url, $b) or return;
    my $c = $env->commit_file($b, "file-$label.txt", "pushed with $label\n");
    $env->git_is("$label: push", 1, { cwd => $b }, @pre, 'push', '-q', 'origin', 'main') or return;
    is($env->repo_head('PROJ', 'repo'), $c, "$label: the push reached the repository");
    $env->git_is("$label: fetch", 1, { cwd => $a }, @pre, 'fetch', '-q', 'origin') or return;
    is($env->git_ok({ cwd => $a }, 'rev-parse', 'origin/main'), $c, "$label: fetch brought the new commit");
}

subtest 'Basic, token with prefix, as it is in the URL' => sub {
    round_trip('basic', $plain_url =~ s{^http://}{http://alice:$tok\@}r);
};

# A token of the previous releases (or any row made by hand) is random
# base64: one with '+' and '/', which the URL's password percent-encodes.
subtest "Basic, an older token with '+' and '/', percent-encoded in the URL" => sub {
    my ($old, $oid);
    # One forged token in nine has both: 500 tries all miss once in 10^25.
    for (1 .. 500) {
        ($old, $oid) = $env->token_insert('alice', name => "older $_");
        last if $old =~ m{\+} && $old =~ m{/};
    }
    ok($old =~ m{\+} && $old =~ m{/}, "an older token with both: $oid") or return;
    round_trip('basic-older', $env->clone_url('alice', $old, 'PROJ', 'repo'));
};

# Bitbucket's clone dialog gives the URL with the user's name in it, and
# git asks for the password (here its askpass answers, as a person would).
# Before it asks, libcurl sends the name with an empty password; git asks
# only when that is answered 401.
subtest 'Basic, the user in the URL, the token typed at git\'s prompt' => sub {
    my $askpass = $env->dir . '/run/askpass';
    BBT::Env::spew($askpass, "#!/bin/sh\ncase \"\$1\" in Password*) echo '$tok' ;; *) exit 1 ;; esac\n",
                   0700);
    round_trip('basic-prompt', $plain_url =~ s{^http://}{http://alice\@}r, '-c', "core.askPass=$askpass");
};

subtest 'Basic, token without the BBDC- prefix' => sub {
    round_trip('basic-noprefix', $env->clone_url('alice', $bare, 'PROJ', 'repo'));
};

subtest 'Bearer via http.extraHeader' => sub {
    round_trip('bearer', $plain_url, $bearer_hdr->($tok));
};

subtest 'Bearer, token without the BBDC- prefix' => sub {
    my $w = $env->workdir('bearer-noprefix');
    $env->git_is('clone', 1, $bearer_hdr->($bare), 'clone', '-q', $plain_url, $w) or return;
    my $c = $env->commit_file($w, 'noprefix.txt', "x\n");
    $env->git_is('push', 1, { cwd => $w }, $bearer_hdr->($bare), 'push', '-q', 'origin', 'main');
    is($env->repo_head('PROJ', 'repo'), $c, 'push reached the repository');
};

subtest 'Basic user name is matched case-insensitively; %u is the stored name' => sub {
    my $mark = log_mark($env->access_log_path);
    my ($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('ALICE', $tok, 'PROJ', 'repo'));
    is($rc, 0, 'ls-remote as ALICE works') or diag $err;
    my $adv = qr{/scm/PROJ/repo\.git/info/refs\?service=git-upload-pack};
    # Its line once the authenticated request's (200, whoever it names) is there.
    my @l = grep {/$adv/} wait_lines($env->access_log_path, $mark, qr{$adv[^"]*" 200 });
    ok((grep {/^127\.0\.0\.1 alice ".*" 200 \Q$id\E$/} @l), 'access log shows "alice", not "ALICE"')
        or diag explain \@l;
};

subtest 'lower-case project key in the URL is authorized against the PROJ grant' => sub {
    my $url = $env->clone_url('alice', $tok, 'proj', 'repo');
    my $w = $env->workdir('lower');
    $env->git_is('clone /scm/proj/repo.git', 1, 'clone', '-q', $url, $w) or return;
    my $c = $env->commit_file($w, 'lower.txt', "lower\n");
    $env->git_is('push to /scm/proj/repo.git', 1, { cwd => $w }, 'push', '-q', 'origin', 'main');
    is($env->repo_head('PROJ', 'repo'), $c, 'push through the lower-case URL reached PROJ/repo');

    # A repository grant is canonicalized the same way.
    $env->user_add('bob');
    $env->grant('bob', 'REPO_READ', 'PROJ/repo');
    my $btok = $env->token_create('bob', name => 'bob');
    my ($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('bob', $btok, 'proj', 'repo'));
    is($rc, 0, 'REPO_READ grant on PROJ/repo covers /scm/proj/repo.git') or diag $err;

    # ... and it does not leak into another project.
    is_403($env->get('/scm/other/thing.git/info/refs?service=git-upload-pack',
                     { Authorization => $env->bearer($btok) }),
           'bob on /scm/other/thing.git (no grant on OTHER)');
};

subtest 'global admin needs no grant' => sub {
    $env->user_add('root', '--admin');
    my $rtok = $env->token_create('root', name => 'admin');
    my ($rc, $out, $err) = $env->git('ls-remote', $env->clone_url('root', $rtok, 'OTHER', 'thing'));
    is($rc, 0, 'admin ls-remote OTHER/thing') or diag $err;
    like($out, qr{refs/heads/main}, 'refs listed');
};

subtest 'access log: %u is alice and the token id is logged' => sub {
    my @l = split /\n/, $env->access_log_text;
    ok((grep {m{^127\.0\.0\.1 alice "GET /scm/PROJ/repo\.git/info/refs\?service=git-upload-pack HTTP/1\.[01]" 200 \Q$id\E$}} @l),
       'upload-pack advertisement logged with user and token id');
    ok((grep {m{^127\.0\.0\.1 alice "POST /scm/PROJ/repo\.git/git-upload-pack HTTP/1\.[01]" 200 \Q$id\E$}} @l),
       'upload-pack POST logged with user and token id');
    ok((grep {m{^127\.0\.0\.1 alice "POST /scm/PROJ/repo\.git/git-receive-pack HTTP/1\.[01]" 200 \Q$id\E$}} @l),
       'receive-pack POST logged with user and token id');
    # git's first, credential-less request: no user, no token id.
    ok((grep {m{^127\.0\.0\.1 - "GET /scm/PROJ/repo\.git/info/refs\?service=git-upload-pack HTTP/1\.[01]" 401 -$}} @l),
       'the unauthenticated probe is logged as 401 with no user')
        or diag join "\n", @l[0 .. ($#l > 10 ? 10 : $#l)];
    ok(!(grep {/\Q$bare\E/} @l), 'the token is not in the access log');
};

subtest 'the CGI gets BBTOKEN_ID, BBTOKEN_NAME, REMOTE_USER, not the Authorization header' => sub {
    my $path = 'PROJ/repo.git/info/refs?service=git-upload-pack';

    # Control: without the module in the way, the header does reach the CGI
    # (CGIPassAuth On), so its absence below is the module's doing.
    my $ctl = $env->get('/open-env/whatever', { Authorization => $env->basic('alice', $tok) });
    is($ctl->{status}, 200, 'control CGI answers');
    like($ctl->{content}, qr/^HTTP_AUTHORIZATION=Basic /m, 'control CGI sees an Authorization header');

    for my $case (['Basic', $env->basic('alice', $tok)], ['Bearer', $env->bearer($tok)],
                  ['Bearer without prefix', $env->bearer($bare)]) {
        my ($name, $hdr) = @$case;
        my ($st, $v, $res) = $env->env_cgi($path, { Authorization => $hdr });
        is_ok_res($res, "$name: /env answers 200") or next;
        is($v->{BBTOKEN_ID}, $id, "$name: BBTOKEN_ID is the token id");
        is($v->{BBTOKEN_NAME}, 'laptop', "$name: BBTOKEN_NAME is the token name");
        is($v->{REMOTE_USER}, 'alice', "$name: REMOTE_USER is the owner");
        ok(exists $v->{HTTP_AUTHORIZATION} && !defined $v->{HTTP_AUTHORIZATION},
           "$name: HTTP_AUTHORIZATION is not passed on")
            or diag "CGI saw HTTP_AUTHORIZATION=" . ($v->{HTTP_AUTHORIZATION} // '(missing line)');
        is($v->{PATH_INFO}, '/PROJ/repo.git/info/refs', "$name: PATH_INFO as expected");
    }

    # The route applies under /env as well: a push advertisement with a
    # REPO_READ token is refused there too.
    my $rtok = $env->token_create('alice', name => 'ro', perms => ['REPO_READ']);
    is_403($env->get('/env/PROJ/repo.git/info/refs?service=git-receive-pack',
                     { Authorization => $env->bearer($rtok) }), '/env receive-pack with REPO_READ');
    is_401($env->get("/env/$path"), 0, '/env without credentials');
};

is(scalar($env->crash_lines), 0, 'no httpd child crashed') or diag join "\n", $env->crash_lines;

done_testing;
