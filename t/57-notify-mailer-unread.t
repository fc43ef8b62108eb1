# bbtoken notify and a mailer that exits 0 without reading the whole
# message (a broken wrapper, --sendmail /bin/true): that is no delivery,
# however short the message.  A notice of 1-2 kB fits in the pipe's
# buffer, so the write succeeded whether the mailer read it or not, and
# its exit status 0 had every notice recorded as told, an unused token's
# warning too, whose revocation then followed with nobody warned.  Now
# the message counts as refused: exit 1, saying why, nothing recorded, and
# the next run with a mailer that reads it sends it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
my $SENDMAIL = "$BBT::Env::ROOT/t/mail/sendmail";
my $MAILDIR = $env->dir . '/mail';
make_path($MAILDIR);
my $FROM = 'tokens@git.example.com';

# Wrappers that say yes having read nothing, or the first line alone.
my $DEAF = $env->dir . '/deaf-sendmail';
BBT::Env::spew($DEAF, "#!/bin/sh\nexit 0\n", 0755);
my $HEAD = $env->dir . '/head-sendmail';
BBT::Env::spew($HEAD, "#!/bin/sh\nread -r line\nexit 0\n", 0755);

sub notify {
    my ($mailer) = @_;
    return $env->cli_env({ BBT_MAILDIR => $MAILDIR }, '--db', $env->superuser_conninfo,
                         'notify', '--sendmail', $mailer, '--from', $FROM);
}

sub mails {
    opendir my $d, $MAILDIR or die $!;
    return scalar grep {/\.eml\z/} readdir $d;
}

$env->user_add('gina', '--email', 'gina@example.com');
$env->cli_ok('policy', '--revoke-unused-after', '30d');
my (undef, $g) = $env->token_create('gina', name => 'g');
# gina's token falls idle: a warning to mail, which its revocation waits
# for.
$env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '35 days' WHERE id = '$g'");

for my $mailer ('/bin/true', $DEAF, $HEAD) {
    my ($rc, $out, $err) = notify($mailer);
    is($rc, 1, "$mailer: exit 1") or diag "$rc $out $err";
    is($out, "not mailed: sendmail failed for gina <gina\@example.com> (1 notice kept for the next run)\n",
       '  gina said not mailed');
    like($err, qr/\Abbtoken: sendmail \S+ failed for 1 message \(it exited without reading the whole message\); their notices go out on the next run\n\z/,
         '  one line on stderr saying why') or diag $err;
    is($env->psql("SELECT count(*) FROM bbtoken_notice_copies WHERE token_id = '$g'"), 0, '  no copy recorded');
    is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE token_id = '$g'"), 0, '  nothing recorded as told');
    is($env->token_row($g)->{revoked_at}, '', '  the token is not revoked');
}
is(mails(), 0, 'nothing mailed');

my ($rc, $out, $err) = notify($SENDMAIL);
is($rc, 0, 'the next run, with a mailer that reads it: exit 0') or diag $err;
is($out, "mailed gina <gina\@example.com>: 1 notice\n", '  gina mailed');
is(mails(), 1, '  one message kept');
is($env->psql("SELECT kind FROM bbtoken_notices WHERE token_id = '$g'"), 'unused', '  her warning recorded');

done_testing;
