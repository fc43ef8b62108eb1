package BBT::Notify;
# bbtoken notify mailing through the stand-in sendmail (t/mail/sendmail,
# which keeps each message in a file), for the t/57-notify-* tests that
# read the messages back: the run, its messages parsed, the notices it
# recorded, tokens made with their values kept, and the check that no
# message holds a token, a salt or a hash.
#
#   use BBT::Notify;
#   notify_start($env);
#   my $id = mk('alice', 'ci', created => "now() - interval '100 days'");
#   my ($rc, $out, $err, $m) = notify();
#   ...
#   no_secrets_mailed(8, 40);
use strict;
use warnings;
use Exporter 'import';
use Test::More;
use MIME::Base64 qw(decode_base64);
use Encode qw(decode);
use File::Path qw(make_path);
use BBT::Env;

our @EXPORT = qw($SENDMAIL $MAILDIR $FROM @SECRETS notify_start notify new_mails to_of notices mk mk_cli
                 mk_scoped no_secrets_mailed);

our $SENDMAIL = "$BBT::Env::ROOT/t/mail/sendmail";
our $FROM = 'tokens@git.example.com';
our $MAILDIR;
our @SECRETS;    # every token made, and every salt and hash: none may be mailed
my %seen;        # mail files already read
my $env;

# The mail directory in $e's own; every call below runs against $e.
sub notify_start {
    ($env) = @_;
    $MAILDIR = $env->dir . '/mail';
    make_path($MAILDIR);
    return;
}

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

# A token of $user's written straight into the table (BBT::Pg's
# token_insert: its creation and expiry as given); its id.
sub mk {
    my ($user, $name, %o) = @_;
    my ($tok, $id) = $env->token_insert($user, name => $name, %o);
    push @SECRETS, $tok;
    return $id;
}

# The same, made by the CLI.
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

# Every message the test had written, none holding a token made, nor a
# salt or a hash in the table: at least $messages of them, and more than
# $secrets values looked for, so that the check is not an empty one.
sub no_secrets_mailed {
    my ($messages, $secrets) = @_;
    subtest 'no token value in any message' => sub {
        opendir my $d, $MAILDIR or die $!;
        my @files = grep {/\.eml\z/} readdir $d;
        cmp_ok(scalar @files, '>=', $messages, scalar(@files) . ' messages written');
        my $rows = $env->psql("SELECT salt || ' ' || secret_hash FROM bbtoken_tokens");
        my @secret = (@SECRETS, map { s/^BBDC-//r } @SECRETS);
        push @secret, map { split / / } split /\n/, $rows;
        cmp_ok(scalar @secret, '>', $secrets, 'tokens, salts and hashes to look for');
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
    return;
}

1;
