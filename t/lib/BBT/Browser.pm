package BBT::Browser;
# What the tests that drive the page in headless Chromium share: what they
# need on the machine (Chromium, Node.js 20, t/browser's node_modules from
# `npm ci`), skipping the test, saying why, where any of it is missing;
# the specs run by node's test runner, and the TAP it prints relayed as
# the test's own.
#
#   BBT::Browser::need;                  # or plan skip_all
#   my $rc = BBT::Browser::run_specs($env, ['tokens.spec.mjs'], { BBT_BASE => ... });
use strict;
use warnings;
use Fcntl qw(:flock);
use Test::More;
use BBT::Env qw(run_cmd);

our $DIR = "$BBT::Env::ROOT/t/browser";

# Chromium's path, as need found it.
our $CHROMIUM;

# Chromium's path.  `npm ci` runs under a lock on t/browser's
# package-lock.json: two browser tests that start together on a fresh
# checkout would otherwise each delete the node_modules the other is
# installing.
sub need {
    my $chromium = $ENV{BBT_CHROMIUM} || '/usr/bin/chromium';
    plan skip_all => "no Chromium at $chromium (apt-get install chromium, or set BBT_CHROMIUM)"
        unless -x $chromium;
    my ($rc, $out, $err) = run_cmd(cmd => ['node', '--version'], timeout => 30);
    plan skip_all => 'no Node.js 20 (node) on this machine' if $rc;
    plan skip_all => "Node.js 20 or later needed, found $out" unless $out =~ /^v(\d+)/ && $1 >= 20;
    open my $lock, '<', "$DIR/package-lock.json" or die "$DIR/package-lock.json: $!";
    flock($lock, LOCK_EX) or die "locking $DIR/package-lock.json: $!";
    unless (-d "$DIR/node_modules/playwright-core") {
        ($rc, $out, $err) = run_cmd(cmd => ['npm', 'ci', '--prefix', $DIR, '--no-audit', '--no-fund'],
                                    timeout => 600);
        plan skip_all => "npm ci in t/browser failed ($rc): " . (split /\n/, $err)[-1]
            if $rc || !-d "$DIR/node_modules/playwright-core";
    }
    close $lock;
    return $CHROMIUM = $chromium;
}

# The specs (names in t/browser) run one at a time by node's test runner
# with $vars in their environment beside BBT_CHROMIUM, and none of the
# proxies or NODE_OPTIONS the caller's had; their TAP relayed (relay_tap).
# node's exit code.
sub run_specs {
    my ($env, $specs, $vars) = @_;
    my ($rc, $out, $err) = run_cmd(
        cmd => ['node', '--test', '--test-concurrency=1', '--test-reporter=tap', map {"$DIR/$_"} @$specs],
        cwd => $DIR, timeout => 300, tmp => $env->dir . '/run',
        env => {
            %$vars, BBT_CHROMIUM => $CHROMIUM,
            http_proxy => undef, https_proxy => undef, HTTP_PROXY => undef, HTTPS_PROXY => undef,
            NODE_OPTIONS => undef,
        });
    relay_tap($rc, $out, $err, $env);
    return $rc;
}

# node's TAP is the test's TAP, but with its YAML diagnostics (which
# prove's YAMLish reader cannot always parse) turned into comments.  A
# failure's line and diagnostics (the assertion, the locator that timed
# out, the stack) go to stderr too, which prove shows without -v: a run
# that failed once in CI says why in its log.  Then node's stderr, and
# where node failed, the end of $env's error_log.
sub relay_tap {
    my ($rc, $out, $err, $env) = @_;
    my ($in_yaml, $failed) = (0, 0);
    for my $line (split /\n/, $out) {
        next if $line =~ /^TAP version/;
        if ($line =~ /^\s*---\s*$/) { $in_yaml = 1; }
        if ($in_yaml) {
            print "# $line\n";
            print STDERR "# $line\n" if $failed;
            $in_yaml = 0 if $line =~ /^\s*\.\.\.\s*$/;
            next;
        }
        $failed = $line =~ /^\s*not ok\b/ ? 1 : $line =~ /^\s*ok\b/ ? 0 : $failed;
        print STDERR "# $line\n" if $failed && $line =~ /^\s*not ok\b/;
        print "$line\n";
    }
    print STDERR map {"# $_\n"} split /\n/, $err if defined $err && $err ne '';
    if ($rc) {
        my @l = split /\n/, $env->error_log_text;
        @l = @l[-40 .. -1] if @l > 40;
        print STDERR "# node exited $rc; last lines of error_log:\n", map {"#   $_\n"} @l;
    }
}

1;
