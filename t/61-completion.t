# bash completion for bbtoken (completion/bbtoken.bash): sourced in bash,
# the completion function is called with COMP_WORDS as bash would set them.
# Its commands, subcommands and options are exactly those of the CLI's usage
# texts (bbtoken --help, bbtoken COMMAND --help), so the two cannot drift.
use strict;
use warnings;
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
chdir $root or die "$root: $!";
# Built by build/test.sh before any test runs: building here, while other
# tests run, could rewrite a binary they are using.
my $cli = 'build/out/bbtoken';
ok(-x $cli, "$cli is built") or BAIL_OUT('build first: make -f apxs.mk all');
my $script = 'completion/bbtoken.bash';

# The words bash would offer for the command line @words, the last being
# the word under the cursor.
sub complete {
    my (@words) = @_;
    my $prog = 'source "$1" || exit 9; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
        . '_bbtoken; printf "%s\n" "${COMPREPLY[@]}"';
    open my $h, '-|', 'bash', '--norc', '--noprofile', '-c', $prog, 'bash', $script, 'bbtoken', @words
        or die "bash: $!";
    my @r = grep { length } map { chomp; $_ } <$h>;
    close $h;
    die "bash failed: $?" if $?;
    return [sort @r];
}

sub set { return [sort { $a cmp $b } keys %{ { map { $_ => 1 } @_ } }] }

my @perms = qw(PROJECT_READ PROJECT_WRITE PROJECT_ADMIN REPO_READ REPO_WRITE REPO_ADMIN);

# What the CLI says it takes.
my $help = qx{$cli --help};
is($?, 0, 'bbtoken --help');
my ($list) = $help =~ /^Commands:\n(.*?)\n\n/ms;
ok($list, '--help has a Commands: list');
my (%cmds, %subs);
for (split /\n/, $list // '') {
    next unless /^  ([a-z]+)/;
    my $c = $1;
    $cmds{$c} = 1;
    $subs{$c}{$_} = 1 for /(?:^  |\| )$c ([a-z]+)/g;
}
cmp_ok(scalar keys %cmds, '>=', 10, 'commands read from --help: ' . join(' ', sort keys %cmds));

# Options named on a command's Usage lines (up to the first blank line):
# for a group, the lines of that subcommand.
sub usage_opts {
    my ($cmd, $sub) = @_;
    # Without the operands it needs --help exits 2, its usage on stdout.
    my $text = qx{$cli $cmd @{[ $sub // '' ]} --help 2>/dev/null};
    my ($usage) = $text =~ /\A(Usage:.*?)\n\n/s or return undef;
    my ($mine, @o) = (1);
    for my $l (split /\n/, $usage) {
        $mine = !defined $sub || $l =~ /bbtoken \Q$cmd $sub\E\b/ if $l =~ /bbtoken /;
        push @o, $l =~ /(--[a-z][a-z-]*)/g if $mine;
    }
    return set(@o, '--help');
}

is_deeply(complete(''), set(keys %cmds), 'first word: exactly the commands of --help');
my ($main_usage) = $help =~ /\A(Usage:.*?)\n\n/s;
is_deeply(complete('--'), set(($main_usage // '') =~ /(--[a-z][a-z-]*)/g),
          'first word --: exactly the options of the main usage');
for my $c (sort keys %cmds) {
    if ($subs{$c}) {
        is_deeply(complete($c, ''), set(keys %{ $subs{$c} }), "$c: exactly its subcommands");
        for my $s (sort keys %{ $subs{$c} }) {
            my $want = usage_opts($c, $s);
            ok($want, "usage of $c $s") or next;
            is_deeply(complete($c, $s, '--'), $want, "$c $s --: " . join(' ', @$want));
        }
    } else {
        my $want = usage_opts($c);
        ok($want, "usage of $c") or next;
        is_deeply(complete($c, 'x', '--'), $want, "$c --: " . join(' ', @$want));
    }
}

# A few completions as a user meets them.
is_deeply(complete('cr'), ['create'], 'cr -> create');
is_deeply(complete('u'), ['ungrant', 'update', 'user'], 'u -> ungrant update user');
is_deeply(complete('user', 'd'), ['disable'], 'user d -> disable');
is_deeply(complete('db', 'up'), ['upgrade'], 'db up -> upgrade');
is_deeply(complete('--db', 'dbname=x', 'li'), ['list'], '--db and its value are skipped');
is_deeply(complete('create', 'alice', '--perm', ''), set(@perms), '--perm offers the permissions');
is_deeply(complete('create', 'alice', '--perm', 'REPO_'), set(grep {/^REPO_/} @perms), '--perm REPO_');
is_deeply(complete('grant', 'alice', ''), set(@perms, 'REPO_CREATE'), 'grant NAME: the permission comes next');
is_deeply(complete('grant', 'alice', 'REPO_C'), ['REPO_CREATE'], 'grant NAME REPO_C: a project\'s Create repository');
is_deeply(complete('grant', 'alice', 'PROJECT_R'), ['PROJECT_READ'], 'grant NAME PROJECT_R');
is_deeply(complete('grant', 'alice', 'REPO_READ', ''), [], 'grant NAME PERMISSION: no guessing the target');
is_deeply(complete('create', 'alice', '--name', ''), [], '--name LABEL: nothing offered');
is_deeply(complete('policy', '--max-expiry-days', ''), ['none'], '--max-expiry-days offers none');
is_deeply(complete('policy', '--expiry-r'), ['--expiry-required'], 'policy --expiry-r');
is_deeply(complete('policy', '--revoke-unused-after', ''), ['none'], '--revoke-unused-after offers none');
is_deeply(complete('policy', '--revoke-unused-after', '90d', '--j'), ['--json'],
          '--revoke-unused-after and its value are skipped');
is_deeply(complete('notify', '--d'), ['--dry-run'], 'notify --d');
is_deeply(complete('notify', '--from', ''), [], '--from ADDRESS: nothing offered');
is_deeply(complete('update', '123456789012', '--name', 'x', '--p'), ['--perm'], 'update ID --name x --p');
is_deeply(complete('list', 'alice', ''), [], 'list NAME: user names are not guessed');
is_deeply(complete('list', '--all', '--min-perm', 'PROJECT_'), set(grep {/^PROJECT_/} @perms),
          'list --all --min-perm PROJECT_: the permissions');
is_deeply(complete('list', '--all', '--owner', ''), [], '--owner NAME: nothing offered');
is_deeply(complete('create', 'alice', '--allow-from', ''), [], '--allow-from ADDRESS: nothing offered');
is_deeply(complete('grant', '--allow-from', '10.0.0.0/8', 'alice', ''), set(@perms, 'REPO_CREATE'),
          '--allow-from and its value are skipped: not an operand');
is_deeply(complete('list', '--all', '--unused-for', '90d', '--dr'), ['--dry-run'],
          '--unused-for and its value are skipped');

# Registered for the command name, as bash-completion's loader expects.
my $reg = qx{bash --norc --noprofile -c 'source $script && complete -p bbtoken'};
like($reg, qr/^complete -F _bbtoken bbtoken$/m, 'complete -F _bbtoken bbtoken');

done_testing;
