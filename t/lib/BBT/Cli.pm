package BBT::Cli;

# The bbtoken CLI part of BBT::Env: running the real CLI against the
# environment's database, and the set-up steps the tests take through it.
#
# Methods of the environment's object (BBT::Env inherits them).  They need
# the PostgreSQL part (superuser_conninfo) and dir.

use strict;
use warnings;
use Carp qw(confess);
use BBT::Util qw(run_cmd);
use BBT::Token qw(parse_token);

sub cli_path { "$BBT::Util::ROOT/build/out/bbtoken" }

# bbtoken --db <superuser conninfo> @args: (exit code, stdout, stderr)
sub cli {
    my ($self, @args) = @_;
    return $self->cli_raw('--db', $self->superuser_conninfo, @args);
}

# bbtoken @args with no --db added; %env via cli_env.
sub cli_raw {
    my ($self, @args) = @_;
    return run_cmd(cmd => [$self->cli_path, @args], tmp => "$self->{dir}/run", timeout => 60,
                   env => $self->{cli_env} || {});
}

sub cli_env {
    my ($self, $env, @args) = @_;
    local $self->{cli_env} = $env;
    return $self->cli_raw(@args);
}

# Like cli but dies on a non-zero exit; returns stdout.
sub cli_ok {
    my ($self, @args) = @_;
    my ($rc, $out, $err) = $self->cli(@args);
    confess "bbtoken @args failed ($rc): $err" if $rc;
    return $out;
}

sub user_add { my ($s, @a) = @_; $s->cli_ok('user', 'add', @a) }
sub grant    { my ($s, @a) = @_; $s->cli_ok('grant', @a) }

# create a token; returns (token, id)
sub token_create {
    my ($self, $user, %o) = @_;
    my @args = ('create', $user, '--name', $o{name} || 'test token');
    push @args, map { ('--perm', $_) } @{ $o{perms} || [] };
    push @args, '--expiry-days', $o{expiry_days} if defined $o{expiry_days};
    my $out = $self->cli_ok(@args);
    chomp $out;
    my $p = parse_token($out) or confess "bbtoken create printed no token: '$out'";
    return wantarray ? ($out, $p->{id}) : $out;
}

1;
