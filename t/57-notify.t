# bbtoken notify: owners mailed through a stand-in sendmail (t/mail/sendmail,
# which keeps each message in a file) about tokens 30 days, 7 days and 0
# days from expiry, revoked by an administrator (the CLI, or a global admin
# over the REST API's function) or as leaked, rotated by an administrator
# (told as rotated, not revoked; not the owner's own rotation over the REST
# API's function), and unused tokens, which are revoked after a warning;
# each notice once, and again after sendmail
# failed; owners without an address or disabled are reported, not mailed;
# no token value in any message; headers that nothing can be injected into;
# the dry run changes and sends nothing; the policy's
# --revoke-unused-after; a project's and a repository's tokens, told to
# the project's active admins (one without an address does not settle a
# notice another admin's sendmail refused; a project with no active admin
# is reported and settled, so its unused tokens are still revoked); a run
# started with SIGCHLD ignored records what the mailer took; no --from or
# --sendmail value like a connection string repeated, and no empty one
# taken.  Last use and creation are faked with SQL as the
# table's owner (creation and expiry only with the triggers off).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use Encode qw(decode);
use File::Path qw(make_path);
use Sys::Hostname ();
use BBT::Env;

my $env = BBT::Env->new(httpd => 0)->start;
my $SENDMAIL = "$BBT::Env::ROOT/t/mail/sendmail";
my $MAILDIR = $env->dir . '/mail';
make_path($MAILDIR);
my $FROM = 'tokens@git.example.com';
my @SECRETS;    # every token made, and every salt and hash: none may be mailed
my %seen;       # mail files already read

# Run notify; (exit, stdout, stderr, [new messages]).
sub notify {
    my (%o) = @_;
    my @args = ('--db', $env->superuser_conninfo, 'notify');
    push @args, '--sendmail', $o{sendmail} // $SENDMAIL unless $o{sendmail_env};
    push @args, '--from', $FROM unless $o{no_from};
    push @args, @{ $o{args} || [] };
    my ($rc, $out, $err) = $env->cli_env({ BBT_MAILDIR => $MAILDIR, %{ $o{env} || {} } }, @args);
    return ($rc, $out, $err, new_mails());
}

# The messages written since the last look, parsed: {file, raw, headers
# (name => [values]), body (decoded), args}.
sub new_mails {
    my @m;
    opendir my $d, $MAILDIR or die $!;
    for my $f (sort grep { /\.eml\z/ && !$seen{$_}++ } readdir $d) {
        open my $h, '<:raw', "$MAILDIR/$f" or die $!;
        my $raw = do { local $/; <$h> };
        my ($head, $body) = split /\n\n/, $raw, 2;
        my %hd;
        for my $l (split /\n(?![ \t])/, $head) {
            my ($k, $v) = $l =~ /\A([A-Za-z-]+): (.*)\z/s or die "bad header line in $f: $l";
            push @{ $hd{ lc $k } }, $v;
        }
        my $cte = $hd{'content-transfer-encoding'}[0] // '';
        $body = decode_base64($body) if $cte eq 'base64';
        (my $args = $f) =~ s/\.eml\z/.args/;
        open my $a, '<', "$MAILDIR/$args" or die $!;
        push @m, { file => $f, raw => $raw, headers => \%hd, body => $body, args => join('', <$a>),
                   subject => decode('MIME-Header', $hd{subject}[0] // '') };
    }
    return \@m;
}

sub to_of { return $_[0]{headers}{to}[0] }

# Notices recorded for a token: kind => mailed_to ('' when not mailed).
sub notices {
    my ($id) = @_;
    my %n = map { split /\|/, $_, 2 } grep {length} split /\n/,
        $env->psql("SELECT kind || '|' || COALESCE(mailed_to, '') FROM bbtoken_notices WHERE token_id = '$id'");
    return \%n;
}

sub mk {
    my ($user, $name, %o) = @_;
    my ($tok, $id) = $env->token_insert($user, name => $name, %o);
    push @SECRETS, $tok;
    return $id;
}

sub mk_cli {
    my ($user, $name, %o) = @_;
    my ($tok, $id) = $env->token_create($user, name => $name, %o);
    push @SECRETS, $tok;
    return $id;
}

# A project's (--project KEY) or a repository's (--repo KEY/slug) token
# named $name, made by the CLI with @more; its id.
sub mk_scoped {
    my ($opt, $what, $name, @more) = @_;
    my $tok = $env->cli_ok('create', $opt, $what, '--name', $name, @more);
    chomp $tok;
    push @SECRETS, $tok;
    return $env->psql("SELECT id FROM bbtoken_tokens WHERE name = '$name' AND user_id IS NULL");
}

$env->user_add('alice', '--email', 'alice@example.com', '--display-name', "Alice Lid\x{c3}\x{a9}n");
$env->user_add('bob');
$env->user_add('carol', '--email', 'carol@example.com');
$env->user_add('dave', '--email', 'dave@example.com');
$env->user_add('erin', '--email', 'erin@example.com');
$env->user_add('root', '--admin', '--email', 'root@example.com');

subtest 'nothing due: nothing sent, nothing said' => sub {
    mk_cli('alice', 'fresh');
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is("$out$err", '', 'silent');
    is(scalar @$m, 0, 'no mail');
};

my %t;
subtest 'expiry: 30 days, 7 days, expired, each once, one message per owner' => sub {
    $t{a30} = mk('alice', 'deploy', created => "now() - interval '100 days'", expires => "now() + interval '20 days'");
    $t{a7} = mk('alice', 'laptop', created => "now() - interval '100 days'", expires => "now() + interval '3 days'");
    $t{a0} = mk('alice', 'old ci', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    $t{short} = mk_cli('alice', 'short', expiry_days => 20);
    $t{week} = mk_cli('alice', 'a week', expiry_days => 7);
    $t{far} = mk('alice', 'far', created => "now() - interval '100 days'", expires => "now() + interval '60 days'");
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is($err, '', 'nothing on stderr');
    is($out, "mailed alice <alice\@example.com>: 3 notices\n", 'says whom it mailed');
    is(scalar @$m, 1, 'one message') or return;
    my $msg = $m->[0];
    is(to_of($msg), 'alice@example.com', 'To: her address');
    is($msg->{subject}, '3 notices about your access tokens', 'Subject counts them');
    is($msg->{args}, "-f\n$FROM\n-t\n-oi\n", 'sendmail ran as -f FROM -t -oi: the envelope sender is --from');
    like($msg->{body}, qr/^Hello Alice Lid\x{c3}\x{a9}n,$/m, 'greets her by her display name');
    like($msg->{body}, qr/^Token "deploy" \(id $t{a30}\)\n  expires on \S+Z, in less than 30 days\.$/m,
         '30 days: deploy');
    like($msg->{body}, qr/^Token "laptop" \(id $t{a7}\)\n  expires on \S+Z, in less than 7 days\.$/m,
         '7 days: laptop');
    like($msg->{body}, qr/^Token "old ci" \(id $t{a0}\)\n  expired on \S+Z and no longer works\.$/m,
         'expired: old ci');
    ok($msg->{body} =~ /old ci.*laptop.*deploy/s, 'the expired one first, then by urgency');
    unlike($msg->{body}, qr/$t{short}|$t{week}|$t{far}/,
           'none for a token made inside its window (20 days, 7 days) or expiring in 60 days');
    is_deeply(notices($t{a30}), { expires_30d => 'alice@example.com' }, 'recorded, with the address');
    is_deeply(notices($t{a0}), { expired => 'alice@example.com' }, 'and the expired one');

    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && $out eq '' && @$m == 0, 'run again: nothing sent, nothing said') or diag "$rc $out $err";

    # Time passes for deploy: its expiry moves (the triggers, off, would
    # refuse it) into the 7-day window, then past.
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET expires_at = now() + "
               . "interval '2 days' WHERE id = '$t{a30}'");
    ($rc, $out, $err, $m) = notify();
    is(scalar @$m, 1, '7 days before: one message') or return;
    like($m->[0]{subject}, qr/\AAccess token "deploy" expires on \d{4}-\d\d-\d\d\z/, 'a single notice names the token');
    like($m->[0]{body}, qr/id $t{a30}\)\n  expires on \S+, in less than 7 days/, 'the 7-day notice');
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET expires_at = now() - "
               . "interval '1 minute' WHERE id = '$t{a30}'");
    ($rc, $out, $err, $m) = notify();
    is(scalar @$m, 1, 'expired: one message') or return;
    is($m->[0]{subject}, 'Access token "deploy" has expired', 'the expiry notice');
    is_deeply(notices($t{a30}), { map { $_ => 'alice@example.com' } qw(expires_30d expires_7d expired) },
              'each of the three recorded once');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && @$m == 0, 'and nothing more');
};

subtest 'owners who cannot be mailed: reported, settled' => sub {
    my $b = mk('bob', 'bob ci', created => "now() - interval '100 days'", expires => "now() + interval '3 days'");
    my $c = mk('carol', 'carol ci', created => "now() - interval '100 days'", expires => "now() + interval '3 days'");
    $env->cli_ok('user', 'disable', 'carol');
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is($out, "not mailed: bob has no e-mail address (1 notice)\nnot mailed: carol is disabled (1 notice)\n",
       'both said on stdout');
    is(scalar @$m, 0, 'no mail');
    is_deeply(notices($b), { expires_7d => '' }, "bob's notice counts as told, mailed to no one");
    is_deeply(notices($c), { expires_7d => '' }, "carol's too");
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && $out eq '', 'not said again') or diag $out;
    $env->cli_ok('user', 'enable', 'carol');
};

subtest 'an address that would put more into a header is not used' => sub {
    # The schema accepts a comma before the @; sendmail -t would read two
    # recipients from it.
    $env->user_add('frank', '--email', 'root,frank@example.com');
    my $f = mk('frank', 'f', created => "now() - interval '100 days'", expires => "now() + interval '3 days'");
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is($out, "not mailed: frank's address cannot go into a mail header: root,frank\@example.com (1 notice)\n",
       'reported');
    is(scalar @$m, 0, 'nothing sent');
    ($rc, $out, $err) = $env->cli('notify', '--dry-run', '--from', "x\@example.com\nBcc: y\@example.net");
    ok($rc == 1 && $err =~ /\Abbtoken: the sender: not an address for a From: header/, 'a --from with a newline: refused')
        or diag "$rc $err";
    ($rc, $out, $err) = $env->cli('notify', '--dry-run', '--from', 'a@b, c@d');
    ok($rc == 1 && $err =~ /From: header/, 'a --from with a comma: refused') or diag "$rc $err";
    # An address that reads like an option is only ever a header's value:
    # sendmail's arguments are fixed (but -f's, the sender), and -t reads
    # the recipients.
    $env->user_add('hank', '--email', '-oQ/tmp/q@example.com');
    mk('hank', 'h', created => "now() - interval '100 days'", expires => "now() + interval '3 days'");
    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'an address starting with "-": mailed') or diag $err;
    is(scalar @$m, 1, '  one message') or return;
    is($m->[0]{args}, "-f\n$FROM\n-t\n-oi\n", '  sendmail run with -f FROM -t -oi alone');
    is(to_of($m->[0]), '-oQ/tmp/q@example.com', '  the address in To: only');
    # Gone, token and all, so that the later runs have no news of hank.
    $env->psql("DELETE FROM bbtoken_users WHERE name = 'hank'");
};

subtest 'revoked by an administrator: the CLI, a global admin over HTTP; not the owner' => sub {
    my $cli = mk_cli('dave', 'by cli');
    my $own = mk_cli('dave', 'by dave');
    my $adm = mk_cli('dave', 'by root');
    my $utf = mk_cli('erin', "cl\x{c3}\x{a9} \x{e2}\x{82}\x{ac} " . "\x{f0}\x{9f}\x{94}\x{91} d\x{c3}\x{a9}ploiement");
    $env->cli_ok('revoke', $cli);
    $env->cli_ok('revoke', $utf);
    # What httpd's REST API calls, as the owner and as a global admin.
    $env->psql("SELECT set_config('bbtoken.client_addr', '192.0.2.1', false), bbtoken_api_revoke('dave', 'dave', '$own')");
    $env->psql("SELECT set_config('bbtoken.client_addr', '192.0.2.2', false), bbtoken_api_revoke('root', 'dave', '$adm')");
    is($env->psql("SELECT source || ' ' || actor FROM bbtoken_audit WHERE event = 'revoked' AND token_id = '$adm'"),
       'http root', 'control: the audit says root revoked it over HTTP');
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    my ($d) = grep { to_of($_) eq 'dave@example.com' } @$m;
    ok($d, 'dave is mailed') or return;
    is($d->{subject}, '2 notices about your access tokens', 'two notices');
    like($d->{body}, qr/^Token "by cli" \(id $cli\)\n  was revoked by an administrator on \S+Z\.  It no longer works\.$/m,
         'revoked with the CLI');
    like($d->{body}, qr/^Token "by root" \(id $adm\)\n  was revoked by an administrator on /m,
         'revoked by a global admin over HTTP');
    unlike($d->{body}, qr/$own/, 'not the one dave revoked himself');
    is($d->{headers}{'content-transfer-encoding'}[0], '7bit', 'an ASCII body goes as it is');
    my ($e) = grep { to_of($_) eq 'erin@example.com' } @$m;
    ok($e, 'erin is mailed') or return;
    my $name = decode('UTF-8', "cl\x{c3}\x{a9} \x{e2}\x{82}\x{ac} \x{f0}\x{9f}\x{94}\x{91} d\x{c3}\x{a9}ploiement");
    is($e->{subject}, "Access token \"$name\" was revoked by an administrator",
       'a UTF-8 name in the Subject, RFC 2047 encoded');
    like($e->{headers}{subject}[0], qr/\A=\?UTF-8\?B\?[A-Za-z0-9+\/=]+\?=(?:\n =\?UTF-8\?B\?[A-Za-z0-9+\/=]+\?=)*\z/,
         'as encoded words, folded');
    ok(!grep({ length > 76 } split /\n/, (split /\n\n/, $e->{raw}, 2)[0]), 'no header line over 76 characters');
    is($e->{headers}{'content-transfer-encoding'}[0], 'base64', 'a UTF-8 body goes base64');
    like(decode('UTF-8', $e->{body}), qr/^Token "\Q$name\E" \(id $utf\)$/m, 'the body names it in UTF-8');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && @$m == 0, 'once') or diag $out;
};

subtest 'rotated by an administrator: told as rotated; not the owner\'s own rotation' => sub {
    my $rot = mk_cli('carol', 'rotated by cli');
    my $own = mk_cli('carol', 'rotated by carol');
    my $out = $env->cli_ok('rotate', $rot);
    chomp $out;
    push @SECRETS, $out;
    my $p = BBT::Env::parse_token($out) or die "no token printed: $out";
    my $new = $p->{id};
    # What httpd's REST API calls when carol rotates her own token.
    my $own_new = '900000000057';
    $env->psql("SELECT set_config('bbtoken.source', 'http', false), set_config('bbtoken.actor', 'carol', false),"
               . " bbtoken_api_rotate('carol', 'carol', NULL, NULL, '$own', '$own_new', salt, secret_hash)"
               . " FROM bbtoken_tokens WHERE id = '$own'");
    is($env->psql("SELECT string_agg(event, ',' ORDER BY id) FROM bbtoken_audit WHERE token_id = '$rot'"
                  . " AND event IN ('revoked', 'rotated')"),
       'revoked,rotated', 'control: the old token has a revoked and then a rotated record');
    my ($rc, $err, $m);
    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is(scalar @$m, 1, 'one message') or return;
    is(to_of($m->[0]), 'carol@example.com', 'to carol');
    is($m->[0]{subject}, 'Access token "rotated by cli" was rotated by an administrator', 'the Subject says rotated');
    like($m->[0]{body}, qr/^Token "rotated by cli" \(id $rot\)\n  was rotated by an administrator on \S+Z: a new token with the same name\n  and permissions replaces it, and this one no longer works\.$/m,
         'the body says rotated, and by whom');
    unlike($m->[0]{body}, qr/revoked/, 'not revoked');
    unlike($m->[0]{body}, qr/$own|$own_new|$new/, 'not the one carol rotated herself, nor the new tokens');
    is_deeply(notices($rot), { revoked => 'carol@example.com' }, 'recorded');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && @$m == 0, 'once') or diag $out;
    # The new token, revoked later: its own rotated record does not make
    # it rotated.
    $env->cli_ok('revoke', $new);
    ($rc, $out, $err, $m) = notify();
    is(scalar @$m, 1, 'the new token revoked: one message') or return;
    is($m->[0]{subject}, 'Access token "rotated by cli" was revoked by an administrator', 'told as revoked');
    like($m->[0]{body}, qr/^Token "rotated by cli" \(id $new\)\n  was revoked by an administrator on /m, 'the new id');
};

subtest 'revoked as leaked: the event the revoke-by-value API will write' => sub {
    my $l1 = mk_cli('dave', 'leaked one');
    my $l2 = mk_cli('dave', 'leaked two');
    # The reason given in the revoking transaction: the trigger writes
    # revoked_leaked instead of revoked.
    $env->psql("BEGIN; SELECT set_config('bbtoken.source', 'http', true), set_config('bbtoken.actor', 'leak report', true),"
               . " set_config('bbtoken.client_addr', '203.0.113.9', true),"
               . " set_config('bbtoken.revoke_reason', 'leaked', true);"
               . " UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$l1'; COMMIT");
    is($env->psql("SELECT string_agg(event || ' ' || source || ' ' || host(client_addr) || ' ' || detail, ',')"
                  . " FROM bbtoken_audit WHERE token_id = '$l1' AND event LIKE 'revoked%'"),
       "revoked_leaked http 203.0.113.9 name 'leaked one'", 'audit: revoked_leaked, with the address');
    # A record written straight into the audit beside a plain revocation:
    # the leak is what the owner is told.
    $env->psql("SELECT bbtoken_audit_write('revoked_leaked', '$l2', 'dave', 'name ''leaked two''', 'http',"
               . " 'leak report', '198.51.100.7'); UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$l2'");
    my ($rc, $out, $err) = $env->psql_try("BEGIN; SET LOCAL bbtoken.revoke_reason = 'bored';"
                                          . " UPDATE bbtoken_tokens SET revoked_at = now() WHERE id = '$t{far}'; COMMIT");
    ok($rc != 0 && $err =~ /unknown revocation reason 'bored'/, 'an unknown reason is refused') or diag $err;
    is($env->token_row($t{far})->{revoked_at}, '', '... and the token is not revoked');
    my $m;
    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is(scalar @$m, 1, 'one message') or return;
    like($m->[0]{body}, qr/^Token "leaked one" \(id $l1\)\n  was revoked on \S+Z because its value was reported as leaked \(reported from 203\.0\.113\.9\)\.$/m,
         'leaked one: revoked as leaked, reported from its address');
    like($m->[0]{body}, qr/^Token "leaked two" \(id $l2\)\n  was revoked on \S+Z because its value was reported as leaked \(reported from 198\.51\.100\.7\)\.$/m,
         'leaked two: as leaked, not as by an administrator');
    unlike($m->[0]{body}, qr/administrator on/, 'no administrator revocation');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && @$m == 0, 'once') or diag $out;
};

subtest 'sendmail failing: notices kept for the next run' => sub {
    my $d = mk('dave', 'soon', created => "now() - interval '100 days'", expires => "now() + interval '5 days'");
    my $e = mk('erin', 'soon too', created => "now() - interval '100 days'", expires => "now() + interval '5 days'");
    my ($rc, $out, $err, $m) = notify(env => { BBT_SENDMAIL_EXIT => 1 });
    is($rc, 1, 'exit 1');
    like($err, qr/\Abbtoken: sendmail \S+ failed for 2 messages \(exit status 1\); their notices go out on the next run\n\z/,
         'one line on stderr');
    is($out, "not mailed: sendmail failed for dave <dave\@example.com> (1 notice kept for the next run)\n"
           . "not mailed: sendmail failed for erin <erin\@example.com> (1 notice kept for the next run)\n",
       'every owner tried, each said');
    is(scalar @$m, 0, 'nothing kept by the mailer');
    is_deeply(notices($d), {}, 'nothing recorded');
    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'next run: exit 0') or diag $err;
    is(scalar @$m, 2, 'both sent now');
    is_deeply(notices($d), { expires_7d => 'dave@example.com' }, 'and recorded');
    ($rc, $out, $err) = notify(sendmail => $env->dir . '/no-such-sendmail');
    ok($rc == 1 && $err =~ /\Abbtoken: cannot run sendmail \S+no-such-sendmail: No such file/,
       'a sendmail that is not there: exit 1 before anything') or diag "$rc $err";
};

# notify runs from cron or under sudo as root: the mailer it runs is the
# one named, never one that the working directory happens to hold, and it
# is not handed the database password that PGPASSWORD gave bbtoken.  Nor
# the CLI's own ignored SIGPIPE (an ignored signal is inherited across
# exec): the mailer has the default, as from a shell.
subtest 'the mailer: an absolute path, and no database password' => sub {
    my $wrap = $env->dir . '/env-sendmail';
    BBT::Env::spew($wrap, "#!/bin/sh\nenv > \"\$BBT_MAILDIR/env\"\n"
                   . "grep '^SigIgn:' /proc/\$\$/status > \"\$BBT_MAILDIR/sigign\"\n"
                   . "exec '$SENDMAIL' \"\$@\"\n", 0755);
    mk('dave', 'pw', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    my ($rc, $out, $err, $m) = notify(sendmail => $wrap, env => { PGPASSWORD => 'pg-S3cret-pw' });
    is($rc, 0, 'mailed with PGPASSWORD set') or diag $err;
    is(scalar @$m, 1, '  one message');
    my $seen = BBT::Env::slurp("$MAILDIR/env");
    like($seen, qr/^BBT_MAILDIR=/m, '  the mailer has the rest of the environment');
    ok(index($seen, 'pg-S3cret-pw') < 0, '  but not PGPASSWORD');
    my ($ign) = BBT::Env::slurp("$MAILDIR/sigign") =~ /^SigIgn:\s*([0-9a-f]+)$/m;
    # SIGPIPE is signal 13: bit 12 of the mask, in its last hex digits (the
    # whole mask is 64 bits, more than hex() reads without a warning).
    ok(defined $ign && !(hex(substr($ign, -8)) & (1 << (13 - 1))), '  SIGPIPE not ignored in the mailer')
        or diag "SigIgn: " . ($ign // 'none');

    my $cwd = $env->dir . '/cwd';
    make_path($cwd);
    BBT::Env::spew("$cwd/sendmail", "#!/bin/sh\ntouch '$cwd/ran'\ncat >/dev/null\n", 0755);
    mk('erin', 'pw', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    for my $how ('--sendmail', 'BBTOKEN_SENDMAIL') {
        my @args = ('--db', $env->superuser_conninfo, 'notify', '--from', $FROM);
        my %e = (BBT_MAILDIR => $MAILDIR);
        if ($how eq '--sendmail') { push @args, '--sendmail', 'sendmail' } else { $e{BBTOKEN_SENDMAIL} = 'sendmail' }
        for my $dry (0, 1) {
            ($rc, $out, $err) = BBT::Util::run_cmd(cmd => [$env->cli_path, @args, $dry ? '--dry-run' : ()],
                                                   cwd => $cwd, tmp => $env->dir . '/run', timeout => 60, env => \%e);
            is($rc, 1, "$how sendmail" . ($dry ? ' --dry-run' : '') . ': exit 1');
            like($err, qr/\Abbtoken: sendmail: not an absolute path: sendmail \(give --sendmail \/PATH\)\n\z/,
                 '  saying why') or diag $err;
            is($out, '', '  nothing done');
        }
        ok(!-e "$cwd/ran", '  the working directory\'s sendmail did not run');
    }
    is(scalar @{ new_mails() }, 0, 'nothing mailed');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && @$m == 1, 'the notice goes out through an absolute path') or diag "$rc $err";
};

# A scheduler or a wrapper may start notify with SIGCHLD ignored, which
# its children inherit: the kernel then reaps the mailer itself, and a
# message sendmail took must still count as sent, once.
subtest 'started with SIGCHLD ignored: a message taken is recorded, once' => sub {
    my $id = mk('dave', 'sigchld', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    my @args = ('--db', $env->superuser_conninfo, 'notify', '--sendmail', $SENDMAIL, '--from', $FROM);
    for my $run (1, 2) {
        my ($rc, $out, $err) = BBT::Util::run_cmd(
            cmd => ['perl', '-e', '$SIG{CHLD} = "IGNORE"; exec @ARGV or die $!', $env->cli_path, @args],
            tmp => $env->dir . '/run', timeout => 60, env => { BBT_MAILDIR => $MAILDIR });
        is($rc, 0, "run $run: exit 0") or diag $err;
        is(scalar @{ new_mails() }, 2 - $run, $run == 1 ? '  one message' : '  nothing sent again');
        is_deeply(notices($id), { expired => 'dave@example.com' }, '  recorded as mailed');
    }
};

# notify's own values are repeated in its errors, but never one that looks
# like a connection string given in the wrong place (README: The CLI).
subtest 'a connection string as --from or --sendmail: not repeated' => sub {
    my $hidden = qr/\(not repeated: a connection string without its --db\?\)/;
    for my $c ([['--from', 'host=db password=hunter2']],
               [['--sendmail', 'postgresql://u:hunter2@h/db']],
               [[], { BBTOKEN_SENDMAIL => 'postgres://u:hunter2@h/db' }],
               [['--sendmail', '/x password=hunter2']],
               [['--from', 'tokens@example.com', '--sendmail', $env->dir . '/x password=hunter2']]) {
        my ($more, $e) = @$c;
        my @args = ('--db', $env->superuser_conninfo, 'notify');
        push @args, '--from', $FROM unless grep { $_ eq '--from' } @$more;
        my ($rc, $out, $err) = $env->cli_env({ BBT_MAILDIR => $MAILDIR, %{ $e || {} } }, @args, @$more);
        my $what = join(' ', @$more) || join(' ', %$e);
        is($rc, 1, "$what: exit 1");
        unlike($err, qr/hunter2/, '  the password is not repeated');
        like($err, $hidden, '  says why') or diag $err;
    }
};

# An empty --sendmail or --from is refused: taken as none, it would pass
# over BBTOKEN_SENDMAIL / BBTOKEN_MAIL_FROM to the built-in defaults (cron's
# `notify --sendmail "$SM"` with SM unset mailing through the system's
# sendmail, not the site's wrapper).
subtest 'an empty --sendmail or --from: refused, the environment\'s not passed over' => sub {
    my $id = mk('erin', 'empty-opt', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    my %e = (BBT_MAILDIR => $MAILDIR, BBTOKEN_SENDMAIL => $SENDMAIL, BBTOKEN_MAIL_FROM => $FROM);
    for my $c (['--sendmail', '--dry-run'], ['--from', '--dry-run'], ['--from']) {
        my ($opt, @more) = @$c;
        my ($rc, $out, $err) = $env->cli_env(\%e, '--db', $env->superuser_conninfo, 'notify', $opt, '', @more);
        is($rc, 1, "notify $opt '' @more: exit 1") or diag $out;
        is($err, "bbtoken: $opt must not be empty\n", '  saying why');
        is($out, '', '  nothing done');
    }
    is(scalar @{ new_mails() }, 0, 'nothing mailed');
    my ($rc, $out, $err) = $env->cli_env(\%e, '--db', $env->superuser_conninfo, 'notify');
    my $m = new_mails();
    ok($rc == 0 && @$m == 1, 'without them, the environment\'s mailer and sender') or diag "$rc $err";
    is($m->[0]{headers}{from}[0], $FROM, '  From: BBTOKEN_MAIL_FROM') if @$m;
};

subtest 'the policy: --revoke-unused-after' => sub {
    $env->cli_is('the default', ['policy'], 0, stdout => qr/^revoke-unused-after: none\n\z/m);
    is($env->cli_json('policy')->{revokeUnusedAfterSeconds}, undef, '--json: null');
    $env->cli_is('2160h', ['policy', '--revoke-unused-after', '2160h'], 0, stdout => qr/^revoke-unused-after: 90d$/m);
    is($env->cli_json('policy')->{revokeUnusedAfterSeconds}, 90 * 86400, '--json: seconds');
    like($env->psql("SELECT detail FROM bbtoken_audit WHERE event = 'policy_changed' ORDER BY id DESC LIMIT 1"),
         qr/, unused tokens revoked after 90 days\z/, 'policy_changed says so');
    $env->cli_is('200h', ['policy', '--revoke-unused-after', '200h'], 0, stdout => qr/^revoke-unused-after: 200h$/m);
    $env->cli_is('8d', ['policy', '--revoke-unused-after', '8d'], 0, stdout => qr/^revoke-unused-after: 8d$/m);
    # The warning comes 7 days before: a shorter policy would warn every
    # token the moment it is used.
    for my $bad ('7d', '191h', '1w', '36h', '12h', '0d', '36501d', 'x', '') {
        $env->cli_is("'$bad'", ['policy', '--revoke-unused-after', $bad], 1,
                     stderr => qr/--revoke-unused-after must be a duration from 8d to 36500d/);
    }
    my ($rc, $out, $err) = $env->psql_try("UPDATE bbtoken_policy SET revoke_unused_after = interval '191 hours'");
    ok($rc != 0 && $err =~ /bbtoken_policy_revoke_unused_after/, 'the database refuses less than 8 days') or diag $err;
    $env->cli_is('none', ['policy', '--revoke-unused-after', 'none'], 0, stdout => qr/^revoke-unused-after: none$/m);
};

subtest 'unused tokens: warned, then revoked' => sub {
    $env->user_add('gina', '--email', 'gina@example.com');
    my %u;
    $u{never} = mk('gina', 'never used', created => "now() - interval '40 days'");
    $u{old} = mk('gina', 'used long ago', created => "now() - interval '40 days'");
    $u{recent} = mk('gina', 'used yesterday', created => "now() - interval '40 days'");
    $u{young} = mk('gina', 'young', created => "now() - interval '20 days'");
    $u{edge} = mk('gina', 'nearly', created => "now() - interval '25 days'");
    $u{expiring} = mk('gina', 'expiring', created => "now() - interval '40 days'", expires => "now() + interval '2 days'");
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '35 days' WHERE id = '$u{old}'");
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '1 day' WHERE id = '$u{recent}'");
    my ($rc, $out, $err, $m) = notify();
    ok(!grep({ to_of($_) eq 'gina@example.com' && $_->{body} =~ /unused/i } @$m), 'policy off: no warnings')
        or diag explain $m;
    $env->cli_ok('policy', '--revoke-unused-after', '30d');

    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    unlike($out, qr/^revoked/m, 'nothing revoked without a warning first');
    my ($g) = grep { to_of($_) eq 'gina@example.com' } @$m;
    ok($g, 'gina is warned') or return;
    like($g->{body}, qr/^Token "never used" \(id $u{never}\)\n  has never been used since it was created on \S+Z\.\n  Tokens unused for 30 days are revoked: this one will be revoked\n  on or after \S+Z unless it is used before then\.$/m,
         'never used: warned');
    like($g->{body}, qr/^Token "used long ago" \(id $u{old}\)\n  has not been used since \S+Z\./m, 'used long ago: warned');
    like($g->{body}, qr/^Token "nearly" \(id $u{edge}\)/m, '25 days idle (revoked in 5, so warned now)');
    unlike($g->{body}, qr/$u{recent}|$u{young}|id $u{expiring}\)\n  has/, 'not the used, the young, nor one expiring first');
    ok($env->token_row($u{never})->{revoked_at} eq '', 'not revoked yet');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && !grep({ to_of($_) eq 'gina@example.com' } @$m), 'warned once') or diag $out;

    # A week later (the warning's time moved back): due ones go.  "nearly",
    # warned just now, is idle 25 days, not 30: it stays.
    $env->psql("UPDATE bbtoken_notices SET sent_at = now() - interval '8 days' WHERE kind = 'unused'"
               . " AND token_id = '$u{never}'");
    # "used long ago" was used after its warning, then fell idle again.
    $env->psql("UPDATE bbtoken_notices SET sent_at = now() - interval '30 days' WHERE kind = 'unused'"
               . " AND token_id = '$u{old}'");
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '25 days' WHERE id = '$u{old}'");

    ($rc, $out, $err, $m) = notify(args => ['--dry-run']);
    is($rc, 0, 'dry run: exit 0') or diag $err;
    like($out, qr/^would revoke $u{never} of gina \("never used"\): unused since \S+Z$/m, 'dry run: would revoke');
    like($out, qr/^would mail gina <gina\@example\.com>: 2 notices\nFrom: tokens\@git\.example\.com\nTo: gina\@example\.com\n/m,
         'dry run: prints the message');
    like($out, qr/^Token "never used" \(id $u{never}\)\n  was revoked on \S+Z because it had not been used for 40 days\.$/m,
         'dry run: the revocation told in it');
    is(scalar @$m, 0, 'dry run: nothing sent');
    is($env->token_row($u{never})->{revoked_at}, '', 'dry run: nothing revoked');
    is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE token_id = '$u{old}' AND sent_at > now() - interval '1 day'"),
       0, 'dry run: nothing recorded');

    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    like($out, qr/^revoked $u{never} of gina \("never used"\): unused since \S+Z$/m, 'revoked, and said');
    unlike($out, qr/revoked ($u{edge}|$u{old})/, 'not the one idle 25 days, nor the one used after its warning');
    isnt($env->token_row($u{never})->{revoked_at}, '', 'the token is revoked');
    my $aud = $env->psql("SELECT event || '|' || source || '|' || actor || '|' || detail FROM bbtoken_audit"
                         . " WHERE token_id = '$u{never}' AND event LIKE 'revoked%'");
    my $me = getpwuid($<);
    like($aud, qr/\Arevoked_unused\|cli\|\Q$me\E[^|]*\|name 'never used', unused since \S+Z\z/,
         "the audit: revoked_unused by the CLI's user") or diag $aud;
    ($g) = grep { to_of($_) eq 'gina@example.com' } @$m;
    ok($g, 'gina is mailed') or return;
    like($g->{body}, qr/^Token "never used" \(id $u{never}\)\n  was revoked on \S+Z because it had not been used for 40 days\.$/m,
         'told it was revoked for not being used');
    like($g->{body}, qr/^Token "used long ago" \(id $u{old}\)\n  has not been used since /m,
         'warned again: it was used after the first warning');
    is($env->psql("SELECT sent_at > now() - interval '1 hour' FROM bbtoken_notices WHERE token_id = '$u{old}'"
                  . " AND kind = 'unused'"), 't', 'its warning rewritten');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && $out eq '' && @$m == 0, 'then nothing') or diag $out;
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
};

# A warning promises a date: the policy raised since, that warning no
# longer stands for the revocation the new policy gives, a year on.  The
# owner is warned again in the week before it, and only then revoked.
subtest 'unused tokens: a warning under a shorter policy does not stand for a longer one' => sub {
    $env->user_add('hal', '--email', 'hal@example.com');
    my $id = mk('hal', 'nightly', created => "now() - interval '400 days'");
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '31 days' WHERE id = '$id'");
    $env->cli_ok('policy', '--revoke-unused-after', '30d');
    my ($rc, $out, $err, $m) = notify();
    ok(grep({ to_of($_) eq 'hal@example.com' && $_->{body} =~ /id $id\)\n  has not been used since/ } @$m),
       'warned under 30 days') or diag explain $m;
    $env->cli_ok('policy', '--revoke-unused-after', '365d');
    ($rc, $out, $err, $m) = notify();
    ok(!grep({ to_of($_) eq 'hal@example.com' } @$m), 'raised to 365 days: nothing yet') or diag $out;
    # 340 days on: idle 371 days, the warning 340 days old.
    my $back = "interval '340 days'";
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = last_authenticated - $back WHERE id = '$id'");
    $env->psql("UPDATE bbtoken_notices SET sent_at = sent_at - $back WHERE token_id = '$id'");
    ($rc, $out, $err, $m) = notify(args => ['--dry-run']);
    unlike($out, qr/^would revoke $id/m, 'idle 371 days: not revoked on the old warning (dry run)') or diag $out;
    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    unlike($out, qr/^revoked $id/m, '  nor for real');
    my ($h) = grep { to_of($_) eq 'hal@example.com' } @$m;
    like($h && $h->{body}, qr/id $id\)\n  has not been used since .*\n  Tokens unused for 365 days are revoked/,
         '  warned again, of 365 days') or diag explain $m;
    is($env->token_row($id)->{revoked_at}, '', '  still live');
    # A week after that warning: revoked.
    $env->psql("UPDATE bbtoken_notices SET sent_at = sent_at - interval '8 days' WHERE token_id = '$id'");
    ($rc, $out, $err, $m) = notify();
    like($out, qr/^revoked $id of hal/m, 'a week after it: revoked') or diag "$out$err";

    # Switched off after a warning, and on again 100 days later: that
    # warning's date is long past, and does not stand for a revocation the
    # day the policy is back.
    my $id2 = mk('hal', 'weekly', created => "now() - interval '400 days'");
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '31 days' WHERE id = '$id2'");
    $env->cli_ok('policy', '--revoke-unused-after', '30d');
    ($rc, $out, $err, $m) = notify();
    ok(grep({ to_of($_) eq 'hal@example.com' && $_->{body} =~ /id $id2\)/ } @$m), 'warned under 30 days again')
        or diag explain $m;
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
    $back = "interval '100 days'";
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = last_authenticated - $back WHERE id = '$id2'");
    $env->psql("UPDATE bbtoken_notices SET sent_at = sent_at - $back WHERE token_id = '$id2'");
    $env->cli_ok('policy', '--revoke-unused-after', '30d');
    ($rc, $out, $err, $m) = notify();
    unlike($out, qr/^revoked $id2/m, 'off, and on 100 days later: not revoked on the old warning') or diag $out;
    ok(grep({ to_of($_) eq 'hal@example.com' && $_->{body} =~ /id $id2\)\n  has not been used since/ } @$m),
       '  warned again') or diag explain $m;
    $env->psql("UPDATE bbtoken_notices SET sent_at = sent_at - interval '8 days' WHERE token_id = '$id2'");
    ($rc, $out, $err, $m) = notify();
    like($out, qr/^revoked $id2 of hal/m, '  a week after it: revoked') or diag "$out$err";
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
};

# A warning counts once received: a mailer refusing an owner's message (a
# mailbox gone, a relay down) leaves their unused tokens alive, notify
# failing each run; without an address the warning is told to nobody and
# the token goes a week later.
subtest 'unused tokens of an owner whose mail is refused: kept until the address goes' => sub {
    $env->user_add('ivy', '--email', 'ivy@example.com');
    my $id = mk('ivy', 'forgotten', created => "now() - interval '400 days'");
    $env->psql("UPDATE bbtoken_tokens SET last_authenticated = now() - interval '40 days' WHERE id = '$id'");
    $env->cli_ok('policy', '--revoke-unused-after', '30d');
    for my $run (1, 2) {
        my ($rc, $out, $err, $m) = notify(env => { BBT_SENDMAIL_REFUSE => 'ivy@example.com' });
        isnt($rc, 0, "run $run: the mailer refuses ivy's message: notify fails") or diag $out;
        is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE token_id = '$id'"), 0, '  nothing recorded');
        $env->psql("UPDATE bbtoken_tokens SET last_authenticated = last_authenticated - interval '30 days'"
                   . " WHERE id = '$id'");
    }
    is($env->token_row($id)->{revoked_at}, '', 'idle 100 days, never warned: not revoked');
    $env->cli_ok('user', 'set', 'ivy', '--no-email');
    my ($rc, $out, $err, $m) = notify();
    is($env->psql("SELECT count(*) FROM bbtoken_notices WHERE token_id = '$id' AND kind = 'unused'"), 1,
       'without an address: the warning told to nobody') or diag "$out$err";
    is($env->token_row($id)->{revoked_at}, '', '  not revoked yet');
    $env->psql("UPDATE bbtoken_notices SET sent_at = sent_at - interval '8 days' WHERE token_id = '$id'");
    ($rc, $out, $err, $m) = notify();
    like($out, qr/^revoked $id of ivy/m, 'a week on: revoked') or diag "$out$err";
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
};

subtest 'a project\'s and a repository\'s tokens: their project\'s admins are told' => sub {
    $env->user_add('pa1', '--email', 'pa1@example.com');
    $env->user_add('pa2', '--email', 'pa2@example.com');
    $env->user_add('pa3', '--email', 'pa3@example.com');
    $env->user_add('ra', '--email', 'ra@example.com');
    $env->grant('pa1', 'PROJECT_ADMIN', 'TEAM');
    $env->grant('pa2', 'PROJECT_ADMIN', 'TEAM');
    $env->grant('pa3', 'PROJECT_ADMIN', 'TEAM');
    $env->cli_ok('user', 'disable', 'pa3');
    $env->grant('ra', 'REPO_ADMIN', 'TEAM/app');
    $env->grant('dave', 'PROJECT_WRITE', 'TEAM');
    my %k;
    $k{pipeline} = mk_scoped('--project', 'TEAM', 'pipeline', '--expiry-days', 5);
    $k{deploy} = mk_scoped('--repo', 'TEAM/app', 'deploy', '--expiry-days', 5);
    # Made long ago (a token made inside its window gets no notice).
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET created_at = now() - "
               . "interval '100 days' WHERE user_id IS NULL");
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    is($out, "mailed pa1 <pa1\@example.com>: 2 notices\nmailed pa2 <pa2\@example.com>: 2 notices\n",
       'each active project admin, once: not the disabled one, not a repository admin, not a writer');
    is_deeply([sort map { to_of($_) } @$m], ['pa1@example.com', 'pa2@example.com'], 'two messages');
    my $msg = $m->[0] or return;
    like($msg->{body}, qr/^this is about access tokens you own or whose project you administer\n\(user pa\d\)\.$/m,
         'the opening does not call them the reader\'s own');
    like($msg->{body}, qr/^Token "pipeline" \(id $k{pipeline}\) of project TEAM\n  expires on \S+Z, in less than 7 days\.$/m,
         'the project\'s token, named with its project');
    like($msg->{body}, qr/^Token "deploy" \(id $k{deploy}\) of repository TEAM\/app\n  expires on/m,
         'the repository\'s, with its repository');
    is_deeply(notices($k{pipeline}), { expires_7d => 'pa1@example.com, pa2@example.com' },
              'recorded once, with both addresses');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && $out eq '' && @$m == 0, 'run again: nothing') or diag "$rc $out $err";
    $env->cli_ok('revoke', '--repo', 'TEAM/app');
    ($rc, $out, $err, $m) = notify();
    is(scalar @$m, 2, 'revoked by the CLI: the admins are told') or return;
    like($m->[0]{subject}, qr/^Access token "deploy" was revoked by an administrator$/, 'the revocation');
};

subtest 'no token value in any message' => sub {
    opendir my $d, $MAILDIR or die $!;
    my @files = grep {/\.eml\z/} readdir $d;
    cmp_ok(scalar @files, '>=', 8, scalar(@files) . ' messages written');
    my $rows = $env->psql("SELECT salt || ' ' || secret_hash FROM bbtoken_tokens");
    my @secret = (@SECRETS, map { s/^BBDC-//r } @SECRETS);
    push @secret, map { split / / } split /\n/, $rows;
    cmp_ok(scalar @secret, '>', 40, 'tokens, salts and hashes to look for');
    my $bad = 0;
    for my $f (@files) {
        open my $h, '<:raw', "$MAILDIR/$f" or die $!;
        my $raw = do { local $/; <$h> };
        my ($head, $body) = split /\n\n/, $raw, 2;
        my $text = $raw . ($raw =~ /^Content-Transfer-Encoding: base64$/m ? decode_base64($body) : '');
        for my $s (@secret) {
            $bad++, diag("$f holds a secret") if index($text, $s) >= 0;
        }
    }
    is($bad, 0, 'none of them holds a token, a salt or a hash');
};

subtest 'headers' => sub {
    my $id = mk('alice', 'hdr', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    my $ex = mk('erin', 'hdr', created => "now() - interval '100 days'", expires => "now() - interval '1 hour'");
    my $host = Sys::Hostname::hostname();
    my ($rc, $out, $err, $m) = notify(no_from => 1, args => ['--dry-run'], env => { BBTOKEN_MAIL_FROM => undef });
    is($rc, 0, 'dry run without --from') or diag $err;
    like($out, qr/^From: bbtoken\@\Q$host\E$/m, "the sender is bbtoken\@ this host's name ($host)");
    ($rc, $out, $err, $m) = notify(no_from => 1, sendmail_env => 1,
                                   env => { BBTOKEN_MAIL_FROM => 'noreply@example.org',
                                            BBTOKEN_SENDMAIL => $SENDMAIL });
    is($rc, 0, 'BBTOKEN_MAIL_FROM and BBTOKEN_SENDMAIL instead of the options') or diag $err;
    is(scalar @$m, 2, 'two messages, through the BBTOKEN_SENDMAIL') or return;
    for my $msg (@$m) {
        my $h = $msg->{headers};
        is_deeply([sort keys %$h], [sort qw(from to subject date message-id mime-version content-type
                                             content-transfer-encoding auto-submitted)], 'these headers, each once')
            or diag explain $h;
        ok(!grep({ @$_ != 1 } values %$h), 'none twice');
        is($h->{from}[0], 'noreply@example.org', 'From: BBTOKEN_MAIL_FROM');
        is($msg->{args}, "-f\nnoreply\@example.org\n-t\n-oi\n", 'and the envelope sender');
        like($h->{date}[0], qr/\A(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d \+0000\z/,
             'Date: RFC 5322');
        like($h->{'message-id'}[0], qr/\A<bbtoken\.\d+\.[0-9a-f]{24}\@example\.org>\z/, 'Message-ID at the sender\'s domain');
        is($h->{'mime-version'}[0], '1.0', 'MIME-Version');
        is($h->{'content-type'}[0], 'text/plain; charset=UTF-8', 'Content-Type');
        is($h->{'auto-submitted'}[0], 'auto-generated', 'Auto-Submitted: no auto-replies');
    }
    isnt($m->[0]{headers}{'message-id'}[0], $m->[1]{headers}{'message-id'}[0], 'Message-IDs differ');
};

subtest 'a shared token: an admin who cannot be mailed does not settle a notice another admin\'s sendmail refused' => sub {
    $env->user_add('sa1');                             # no address
    $env->user_add('sa2', '--email', 'sa2@example.com');
    $env->grant('sa1', 'PROJECT_ADMIN', 'SHARED');
    $env->grant('sa2', 'PROJECT_ADMIN', 'SHARED');
    my $id = mk_scoped('--project', 'SHARED', 'nightly', '--expiry-days', 5);
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET created_at = now() - "
               . "interval '100 days' WHERE id = '$id'");
    my ($rc, $out, $err, $m) = notify(env => { BBT_SENDMAIL_EXIT => 75 });
    is($rc, 1, 'sendmail refused: exit 1') or diag $err;
    like($out, qr/^not mailed: sa1 has no e-mail address \(1 notice\)$/m, 'the admin without an address: said');
    like($out, qr/^not mailed: sendmail failed for sa2 <sa2\@example\.com> \(1 notice kept for the next run\)$/m,
         'the admin whose mail failed: kept, it says');
    is_deeply(notices($id), {}, 'so nothing is recorded yet');
    ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'next run: exit 0') or diag $err;
    is_deeply([map { to_of($_) } @$m], ['sa2@example.com'], 'the admin with an address is told now');
    is_deeply(notices($id), { expires_7d => 'sa2@example.com' }, 'and it is recorded as mailed to them');
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && $out eq '' && @$m == 0, 'then nothing') or diag "$rc $out $err";
};

subtest 'a project with no admin to tell: reported, settled, and the unused-token policy still applies' => sub {
    # LONE has a repository admin and no project admin: its tokens' notices
    # have nobody to go to, yet must not be left undecided for ever (the
    # policy's revocation waits for a recorded warning).
    $env->user_add('lra', '--email', 'lra@example.com');
    $env->grant('lra', 'REPO_ADMIN', 'LONE/app');
    $env->cli_ok('policy', '--revoke-unused-after', '30d');
    my %k = (LONE => mk_scoped('--project', 'LONE', 'lone pipeline'),
             'LONE/app' => mk_scoped('--repo', 'LONE/app', 'lone deploy'));
    $env->psql("SET session_replication_role = replica; UPDATE bbtoken_tokens SET created_at = now() - "
               . "interval '40 days' WHERE project_key = 'LONE'");
    my ($rc, $out, $err, $m) = notify();
    is($rc, 0, 'exit 0') or diag $err;
    like($out, qr/^not mailed: project LONE has no active project admin \(1 notice\)$/m, 'the project\'s: said')
        or diag $out;
    like($out, qr/^not mailed: repository LONE\/app has no active project admin \(1 notice\)$/m,
         'the repository\'s: said') or diag $out;
    ok(!grep({ to_of($_) eq 'lra@example.com' } @$m), 'the repository admin is not mailed (README: project admins)');
    is_deeply(notices($k{$_}), { unused => '' }, "$_: the warning counts as told, mailed to no one")
        for sort keys %k;
    ($rc, $out, $err, $m) = notify();
    ok($rc == 0 && $out !~ /LONE/, 'not said again') or diag $out;
    $env->psql("UPDATE bbtoken_notices SET sent_at = now() - interval '8 days' WHERE kind = 'unused'"
               . " AND token_id IN ('$k{LONE}', '$k{'LONE/app'}')");
    ($rc, $out, $err, $m) = notify();
    my ($pid, $rid) = ($k{LONE}, $k{'LONE/app'});
    is($rc, 0, 'a week later: exit 0') or diag $err;
    like($out, qr/^revoked $pid of project:LONE \("lone pipeline"\): unused since \S+Z$/m,
         'the project\'s unused token is revoked') or diag $out;
    like($out, qr/^revoked $rid of repo:LONE\/app \("lone deploy"\): unused since \S+Z$/m,
         'the repository\'s too') or diag $out;
    isnt($env->token_row($k{$_})->{revoked_at}, '', "$_: revoked") for sort keys %k;
    $env->cli_ok('policy', '--revoke-unused-after', 'none');
    notify();
};

done_testing;
