# The Personal access tokens page (www/tokens.*) in headless Chromium,
# against the real stack: httpd with the bbtoken-rest handler, PostgreSQL,
# git-http-backend, configured as the README says (the page and the API on
# a host of their own, with the API role; git on another).
# t/browser/tokens.spec.mjs (node:test, playwright-core) logs in with a
# password, creates a token through the page (an impossible permission
# combination is disabled), copies it, clones with the real git client,
# renames it, rotates it after a confirmation dialog (the new token shown
# once, same name and permissions, cloning; the old one refused by git),
# sets and drops its allow-list, revokes it after the confirmation dialog
# and sees git refused; then, as a project's admin, makes that project's
# token and a repository's there, clones with the first (x-token-auth),
# and is told where it administers nothing; finds the places it
# administers, and only those, in the page's list, goes through it with
# the arrow keys (no place shown until Enter), and choosing one and
# pressing Show shows that place's tokens as typing it does, the list's
# heading and caption naming it (a list that answers after another place
# was chosen is dropped); an expired token has no Rotate.  It saves
# screenshots (see below).  t/browser/sandbox.spec.mjs
# plays a page uploaded over WebDAV onto the page's host that drives the
# API in its reader's name: BBTokenSandbox stops it, and without it the
# attack works.  t/browser/answers.spec.mjs, as a user of its own, holds
# back or replaces some of the API's answers: a paging that goes nowhere is
# not followed for ever, a row's buttons work while the list reloads and an
# older list does not come back over a newer one, and editing a token's
# permissions leaves its name as it is; a maximum expiry shorter than every
# choice is the number of days filled in, and a maximum takes "Never" away
# even where the list's policy says no expiry is required; "Show more
# tokens", the focus going on to the first row it adds; names and
# refusals that are markup shown as text; Back to the page does not bring a
# new token back (nor does a back/forward cache that keeps the page: it
# comes back wiped, its dialog closed); a new token answered while another is shown waits for it,
# with its own holder's clone lines, a change answered after the page
# turned to another holder leaves that holder's list alone, and the Edit
# dialog of a token a reload no longer lists (revoked elsewhere, or
# rotated) closes, saying why, while one pushed down the list by new tokens
# stays open; a rotation answered 503 with an outcome not known keeps
# that message in the page's alert and asks for the list again, which
# shows the token it names.  t/browser/names.spec.mjs, as a user of its
# own, has a token whose 255-character name has no space: the row's
# buttons stay inside the list's card, the name inside the status line and
# the dialogs; at 320 pixels wide the page does not scroll sideways.
# t/browser/profile.spec.mjs, as a user of its own, creates and rotates a
# token, leaves the page and closes the tab with its dialog open, and
# finds it in no file of the browser's profile.
# t/browser/dialogs.spec.mjs, as a user of its own, reads Chromium's
# accessibility tree: what the page says while a dialog is open (the new
# token shown once, a late error) is in a live region a screen reader
# hears, and the new token's dialog is described by its notice; Save
# leaves focus on the row's Edit button; a refused Create, Save, Rotate or
# Revoke leaves it on the error, announced; an edit, rotation or revocation
# of a token revoked elsewhere takes its row away, saying why; every focus
# ring, field border and placeholder has the contrast WCAG asks for.  This file
# only sets the stack up and relays the TAP that node prints.
#
# Needs /usr/bin/chromium (Debian's chromium; BBT_CHROMIUM elsewhere) and
# Node.js 20 with npm; runs `npm ci` in t/browser when node_modules is
# missing.  Skips, saying why, when any of it is missing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env qw(run_cmd);
use BBT::Browser;
use BBT::Rest qw(rest_location);
use File::Path qw(make_path);
use File::Spec::Functions qw(rel2abs);

my $ROOT = $BBT::Env::ROOT;
BBT::Browser::need();

my ($user, $password) = ('alice', 'alice-Pa55-word');
# t/browser/answers.spec.mjs's user, whose list no other spec touches.
my ($user2, $password2) = ('carol', 'carol-Pa55-word');
# t/browser/names.spec.mjs's.
my ($user3, $password3) = ('dave', 'dave-Pa55-word');
# t/browser/profile.spec.mjs's.
my ($user4, $password4) = ('erin', 'erin-Pa55-word');
# t/browser/dialogs.spec.mjs's.
my ($user5, $password5) = ('frank', 'frank-Pa55-word');

# The page as the README serves it: on the API's host, behind the site's
# ordinary login (AuthType BBToken with mod_authn_file), the user's name
# filled in by mod_include, and the REST API behind the same login.  Also on
# that host, against the README's advice: a WebDAV tree users write, under
# /dav (BBTokenSandbox on, the default) and /dav-open (Off).
my $api = rest_location('bbtoken', 'Example Corp') . <<'EOC';
Alias /account/tokens "@DIR@/www"
<Directory "@DIR@/www">
    Options +IncludesNOEXEC
    AllowOverride None
    DirectoryIndex tokens.html
    AddType text/html .html
    AddCharset utf-8 .html .css .js
    AddOutputFilter INCLUDES .html
    AddType text/css .css
    AddType text/javascript .js
@PAGE_HEADERS@
</Directory>
<Location /account/tokens>
    AuthType BBToken
    AuthName "Example Corp"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes none
    Require valid-user
</Location>
Alias /dav "@DIR@/dav"
Alias /dav-open "@DIR@/dav"
<Directory "@DIR@/dav">
    AddType text/html .html
</Directory>
<Location /dav>
    Dav On
    AuthType BBToken
    AuthName "Example Corp"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes dav
    Require bbtoken
</Location>
<Location /dav-open>
    Dav On
    AuthType BBToken
    AuthName "Example Corp"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes dav /dav-open
    BBTokenSandbox Off
    Require bbtoken
</Location>
EOC
# The page's response headers as the package ships them (its
# Content-Security-Policy, framing and caching): the spec checks them, and
# the page must work under them.
my @headers = grep { /^\s*Header\s/ } split /\n/, BBT::Env::slurp("$ROOT/conf/bbtoken-page.conf.in");
BAIL_OUT('no Header lines in conf/bbtoken-page.conf.in') unless @headers;
$api =~ s{\@PAGE_HEADERS\@}{join "\n", @headers}e;
# Git is on the main server's port: the page learns its URL from the
# configuration (SetEnv, through mod_include), as a packaged page whose file
# an upgrade replaces must; its clone lines then clone from there.
my $port = BBT::Env::free_port();
$api =~ s{(<Directory "\@DIR\@/www">\n)}{$1    SetEnv BBTOKEN_PAGE_SCM http://127.0.0.1:$port/scm\n}
    or BAIL_OUT('no page <Directory> to set the git URL in');
my $env = BBT::Env->new(api_conf => $api, extra_conf => "DavLockDB \"\@DIR\@/davlock/lockdb\"\n"
                            # Only the types the page needs: no mime.types file is assumed.
                            . "TypesConfig /dev/null\n",
                        port => $port,
                        modules => [qw(authn_file authz_user include mime dir headers env dav dav_fs)],
                        httpd => 0)->start;
my $d = $env->dir;

$env->install_page;
make_path("$d/dav/PROJ/site", "$d/davlock");
$env->give_to_httpd("$d/dav", "$d/davlock");
$env->htpasswd($user => $password, $user2 => $password2, $user3 => $password3, $user4 => $password4,
               $user5 => $password5);
$env->httpd_start;

$env->make_repo('PROJ', 'repo');
$env->user_add($user);
$env->user_add($user2);
$env->user_add($user3);
$env->user_add($user4);
$env->user_add($user5);
$env->grant($user, 'PROJECT_READ', 'PROJ');
# A project the user administers, for its tokens' view.
$env->make_repo('TEAM', 'app');
$env->grant($user, 'PROJECT_ADMIN', 'TEAM');
# For the list of the places the user administers: TEAM/app, which bob's
# grant names (the project's admin manages it), and OPS/web, where the user
# is a repository's admin; not PROJ (read only) nor PROJ/site (mallory's).
$env->user_add('bob');
$env->grant('bob', 'REPO_WRITE', 'TEAM/app');
$env->grant($user, 'REPO_ADMIN', 'OPS/web');
my $places = "~$user TEAM OPS/web TEAM/app";
# Two tokens made by an administrator with the CLI, for the list: one used
# once (it has a last-authenticated time), one expired.
my ($used) = $env->token_create($user, name => 'Jenkins CI', perms => ['PROJECT_READ', 'REPO_WRITE'],
                                expiry_days => 60);
my ($rc0) = $env->git('ls-remote', $env->clone_url($user, $used, 'PROJ', 'repo'));
BAIL_OUT('the CLI-made token does not work with git') if $rc0;
my (undef, $old_id) = $env->token_create($user, name => 'Old deploy key', perms => ['REPO_READ']);
$env->expire_token($old_id, 40);

# The attacker may write a repository of the WebDAV tree, and uploads a
# page whose script makes a token in its reader's name through the API and
# uploads it beside itself, where the attacker reads it.
$env->user_add('mallory');
$env->grant('mallory', 'REPO_WRITE', 'PROJ/site');
my $mallory = $env->token_create('mallory', name => 'site', perms => ['REPO_WRITE']);
my $evil = <<"EOH";
<!doctype html>
<html><head><title>evil</title></head><body>
<p>Nothing to see here.</p>
<script>
document.title = 'ran';
const variant = location.pathname.split('/')[1];
fetch('/rest/access-tokens/latest/users/$user', {
  method: 'PUT',
  headers: { 'Content-Type': 'application/json', 'X-Atlassian-Token': 'no-check' },
  body: JSON.stringify({ name: 'pwned ' + variant, permissions: ['PROJECT_ADMIN', 'REPO_ADMIN'] }),
}).then((r) => r.json()).then((j) => fetch('/' + variant + '/PROJ/site/loot-' + variant + '.txt', {
  method: 'PUT', headers: { Authorization: 'Bearer $mallory' }, body: j.token || 'none',
})).then(() => { document.title = 'done'; }, (e) => { document.title = 'failed ' + e; });
</script>
</body></html>
EOH
my $api_base = $env->api_base_url;
{
    my $in = "$d/run/evil.html";
    BBT::Env::spew($in, $evil);
    my ($rc, $code) = run_cmd(cmd => ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT',
                                      '-H', "Authorization: Bearer $mallory", '--data-binary', "\@$in",
                                      "$api_base/dav/PROJ/site/evil.html"], timeout => 30);
    BAIL_OUT("the attacker's upload failed: $rc $code") unless $code eq '201';
}

# Into the test's own directory: every run renders new pixels (times,
# names), and t/browser/screenshots/ holds the reviewed set.  To refresh
# that set: BBT_BROWSER_SHOTS=t/browser/screenshots build/test.sh t/55-browser.t
# The specs run in t/browser: a relative name is the caller's.
my $shots = $ENV{BBT_BROWSER_SHOTS} ? rel2abs($ENV{BBT_BROWSER_SHOTS}) : "$d/screenshots";
my $rc = BBT::Browser::run_specs($env, [qw(tokens.spec.mjs sandbox.spec.mjs answers.spec.mjs names.spec.mjs
                                             profile.spec.mjs dialogs.spec.mjs)], {
    BBT_BASE => $api_base, BBT_SCM_BASE => $env->base_url, BBT_USER => $user, BBT_PASSWORD => $password,
    BBT_ANSWERS_USER => $user2, BBT_ANSWERS_PASSWORD => $password2,
    BBT_NAMES_USER => $user3, BBT_NAMES_PASSWORD => $password3,
    BBT_PROFILE_USER => $user4, BBT_PROFILE_PASSWORD => $password4,
    BBT_DIALOGS_USER => $user5, BBT_DIALOGS_PASSWORD => $password5,
    BBT_ATTACKER_TOKEN => $mallory, BBT_EVIL => '/PROJ/site/evil.html',
    BBT_PROJECT => 'PROJ', BBT_REPO => 'repo', BBT_ADMIN_PROJECT => 'TEAM', BBT_ADMIN_REPO => 'app',
    BBT_PLACES => $places,
    BBT_USED_NAME => 'Jenkins CI', BBT_EXPIRED_NAME => 'Old deploy key',
    BBT_GIT_HOME => "$d/home", BBT_WORK => "$d/work", BBT_SHOTS => $shots,
    BBT_NO_GIT => undef,
    BBT_CLI => $env->cli_path, BBT_DB => $env->superuser_conninfo,
});
$env->httpd_stop;
undef $env;
exit($rc ? 1 : 0);
