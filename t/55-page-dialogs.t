# The Personal access tokens page's dialogs in headless Chromium
# (t/browser/page-dialogs.spec.mjs), the page and the API served by the
# shipped snippets themselves (conf/bbtoken-rest.conf.in,
# bbtoken-page.conf.in) on a host of their own: the expiry chosen in the
# Create dialog is the token's (90 days by default; a custom 0 refused by
# the page, nothing sent); create, edit, rotate and revoke send the
# headers the API's cross-site check needs; Escape on the new token's
# dialog wipes the token from the page; names and refusals that are markup
# are shown as text; a token expiring within a week has a badge counting
# its days.  As a user of its own, whose list no other test touches.
# This file only sets the stack up and relays the TAP that node prints.
#
# Needs what t/55-browser.t needs (/usr/bin/chromium or BBT_CHROMIUM,
# Node.js 20, t/browser/node_modules from `npm ci`, run here when
# missing); skips, saying why, when any of it is missing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Browser;

BBT::Browser::need();

my ($user, $password) = ('sam', 'sam-Pa55-word');
my $api = "Define BBTOKEN_API_HOST\n" . BBT::Httpd::shipped_conf('rest') . BBT::Httpd::shipped_conf('page')
    . "UnDefine BBTOKEN_API_HOST\n";
my $env = BBT::Env->new(extra_conf => "TypesConfig /dev/null\n", api_conf => $api, httpd => 0,
                        modules => [qw(auth_basic authn_file authz_user include mime dir headers)])->start;
$env->install_page;
$env->htpasswd($user => $password);
$env->httpd_start;
# A project the user administers: the page then offers the list of the
# places it administers, whose refusal the spec replaces.
$env->make_repo('TEAM', 'app');
$env->user_add($user);
$env->grant($user, 'PROJECT_ADMIN', 'TEAM');

my $rc = BBT::Browser::run_specs($env, ['page-dialogs.spec.mjs'], {
    BBT_BASE => $env->api_base_url, BBT_USER => $user, BBT_PASSWORD => $password,
});
$env->httpd_stop;
undef $env;
exit($rc ? 1 : 0);
