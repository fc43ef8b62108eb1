package BBT::Env;

# Integration-test harness for mod_bbtoken: a throw-away PostgreSQL 15 and
# a standalone httpd (event MPM) on loopback, git-http-backend behind the
# module, the real bbtoken CLI and the real git client.
#
#   use lib 't/lib';
#   use BBT::Env;
#   my $env = BBT::Env->new(%opts)->start;
#
# Options:
#   module   => 0|1   load build/out/mod_bbtoken.so (default 1, or 0 when
#                     BBT_NO_MODULE=1: the /scm and /env locations are then
#                     unprotected, useful only while developing the harness)
#   httpd    => 0|1   start httpd too (default 1)
#   loglevel => STR   httpd LogLevel (default "warn bbtoken:debug")
#   extra_conf => STR appended to httpd.conf; @DIR@ is replaced by the temp dir
#   pg_conf  => {k => v} extra postgresql.conf settings
#   mpm      => STR   event, worker or prefork (default: BBT_MPM, else event)
#   mpm_conf => STR   replaces the default MPM sizing (2 children x 8 threads;
#                     prefork: up to 16 children)
#   dbd_user => STR   the role of the main server's DBDParams (default
#                     bbtoken_httpd, the lookup role; bbtoken_api is the API's)
#   dbd_options => STR  libpq's options= of the main server's DBDParams
#                     (default -cstatement_timeout=5000; '' for none)
#   dbd_ports => [..] the main server's DBDParams name these PostgreSQL
#                     ports on loopback, in order (host=127.0.0.1,...),
#                     not the cluster's alone: a standby's (pg_standby) and
#                     the primary's
#   dbd_conninfo => STR  more of libpq's keyword=value for the main
#                     server's DBDParams (target_session_attrs=any)
#   api_conf => STR   configuration for a virtual host of its own, on a port
#                     of its own (api_port, api_url), whose DBDParams use
#                     the API role: where the README puts the REST API and
#                     the tokens page.  @DIR@ is replaced as in extra_conf
#   modules  => [..]  more httpd modules to load (names as in mod_NAME.so)
#   throttle => STR   the failed-login throttle's directives, at server level
#                     (default "BBTokenThrottle off": tests refuse credentials
#                     by the dozen from one address)
#   dir      => PATH  use this directory (must not exist) instead of a temp dir
#   db_password => 0|1  PostgreSQL lets in only those who hold a password made
#                     here (dir/pgpass, root's alone; PGPASSFILE names it):
#                     one for the superuser, another for httpd's roles, which
#                     httpd.conf holds (root's alone too): for the demo,
#                     which stays up on a machine with other users
#                     (default 0: trust, for throw-away clusters)
#   port     => N     httpd's port instead of a free one
#   http_timeout => S how long a request may wait for its answer before the
#                     client gives up (default 20 s; 15 s for raw requests,
#                     30 s for curl; git gets 60 s more than this):
#                     a guard against a hang, never a measure.  An httpd
#                     under valgrind on a loaded machine needs minutes
#   schema_files => [..] SQL files that make the schema, in order (default
#                     sql/schema.sql; the upgrade test loads an old release)
#   db_encoding => STR  the bbtoken database's encoding (CREATE DATABASE
#                     ... ENCODING, from template0 under the C locale), e.g.
#                     LATIN1 or SQL_ASCII (default: the cluster's, UTF8)
#   db_locale => STR  the bbtoken database's LC_COLLATE and LC_CTYPE (in
#                     UTF8 unless db_encoding says otherwise, from
#                     template0), e.g. tr_TR.UTF-8 (default: the cluster's, C)
#   pg_vars  => {k => v}  more environment variables for PostgreSQL's server
#                     (LOCPATH, where localedef built db_locale)
#   httpd_vars => {k => v}  more environment variables for httpd (a
#                     PGCLIENTENCODING its libpq would take as the default)
#   grants   => 0|1   run sql/grants.sql for bbtoken_httpd and
#                     sql/grants-api.sql for bbtoken_api (default 1)
#   pg_from  => ENV   no PostgreSQL of its own: use (and never stop) that
#                     started environment's, database and all; for a second
#                     httpd on the same database
#
# BBT_MODULE_SO=path tests another build of the module.
#
# Everything lives in one temp dir under $BBT_TMPDIR (default /tmp); it is
# removed at the end unless BBT_KEEP=1.  Servers are stopped even when a
# test dies, unless detach() was called (the demo does).
#
# The environment is one object, one hash; its methods come from the parts
# it inherits, each a module of its own:
#   BBT::Pg     the PostgreSQL cluster, psql, schema, token rows
#   BBT::Cli    the bbtoken CLI, cli_is, list_json, cli_json
#   BBT::Httpd  httpd's configuration, start/stop, config_test, htpasswd
#   BBT::Http   requests to it (HTTP::Tiny, raw, curl), the CGI's view, rest
#   BBT::Git    git, repositories, work trees, clone URLs
# and the plain functions from BBT::Token (token codecs) and BBT::Util
# (commands, ports, files) are exported from here as well.
#
# Only core Perl modules are used, and DBI with DBD::Pg where installed
# (BBT::PgDirect).

use strict;
use warnings;
use File::Path qw(make_path remove_tree);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use BBT::Util ();
use BBT::Token ();
use BBT::Pg ();
use BBT::Cli ();
use BBT::Httpd ();
use BBT::Http ();
use BBT::Git ();

our @ISA = qw(BBT::Pg BBT::Cli BBT::Httpd BBT::Http BBT::Git);

use Exporter 'import';
our @EXPORT_OK = qw(pct forge_token parse_token mistype_token b64 run_cmd
                    auth_bearer auth_basic cgi_vars get_from in_children);

# The functions and settings tests have always reached as BBT::Env::NAME
# and $BBT::Env::NAME, from their homes.
BEGIN {
    no strict 'refs';
    for my $f (qw(run_cmd free_port port_open slurp spew in_children)) {
        *{$f} = \&{"BBT::Util::$f"};
    }
    for my $f (qw(pct b64 forge_token parse_token mistype_token)) {
        *{$f} = \&{"BBT::Token::$f"};
    }
    for my $f (qw(auth_bearer auth_basic header_list cgi_vars get_from)) {
        *{$f} = \&{"BBT::Http::$f"};
    }
}
our ($ROOT, $IS_ROOT, $PGBIN, $APACHE, $MODDIR, $GIT_BACKEND, $RUN_USER, $DUMB_CONF);
*ROOT = \$BBT::Util::ROOT;
*IS_ROOT = \$BBT::Util::IS_ROOT;
*PGBIN = \$BBT::Pg::PGBIN;
*APACHE = \$BBT::Httpd::APACHE;
*MODDIR = \$BBT::Httpd::MODDIR;
*GIT_BACKEND = \$BBT::Httpd::GIT_BACKEND;
*RUN_USER = \$BBT::Httpd::RUN_USER;
*DUMB_CONF = \$BBT::Httpd::DUMB_CONF;

my @LIVE;    # every started environment, for the END block

sub new {
    my ($class, %o) = @_;
    my $self = bless {
        module     => exists $o{module} ? $o{module} : ($ENV{BBT_NO_MODULE} ? 0 : 1),
        httpd      => exists $o{httpd} ? $o{httpd} : 1,
        loglevel   => $o{loglevel} || 'warn bbtoken:debug',
        extra_conf => $o{extra_conf} || '',
        pg_conf    => $o{pg_conf} || {},
        mpm        => $o{mpm},
        mpm_conf   => $o{mpm_conf},
        dbd_user   => $o{dbd_user},
        dbd_options => $o{dbd_options},
        dbd_ports  => $o{dbd_ports},
        dbd_conninfo => $o{dbd_conninfo},
        api_conf   => $o{api_conf},
        modules    => $o{modules} || [],
        throttle   => $o{throttle},
        fixed_dir  => $o{dir},
        db_password => $o{db_password},
        port       => $o{port},
        http_timeout => $o{http_timeout},
        schema_files => $o{schema_files} || ["$ROOT/sql/schema.sql"],
        grants     => exists $o{grants} ? $o{grants} : 1,
        db_encoding => $o{db_encoding},
        db_locale  => $o{db_locale},
        pg_vars    => $o{pg_vars} || {},
        httpd_vars => $o{httpd_vars} || {},
        pg_from    => $o{pg_from},
        owner_pid  => $$,
        git_n      => 0,
    }, $class;
    return $self;
}

sub start {
    my ($self) = @_;
    # Under /tmp, not the checkout: httpd's User and postgres must reach
    # every directory on the way, and a checkout may sit under /root.
    if ($self->{fixed_dir}) {
        # mkdir, not a test then make_path: a directory someone else makes
        # meanwhile (under /tmp) is refused, never used.
        make_path(dirname($self->{fixed_dir}));
        mkdir $self->{fixed_dir}
            or die "$self->{fixed_dir}: $!: stop and remove it first\n";
        # The mark of a directory made here, by which build/demo.sh tells
        # one it may remove from one it did not make.
        BBT::Util::spew("$self->{fixed_dir}/.bbt-env", "made by t/lib/BBT/Env.pm\n", 0644);
        $self->{dir} = $self->{fixed_dir};
    } else {
        my $base = $ENV{BBT_TMPDIR} || '/tmp';
        $self->{dir} = tempdir('bbt-XXXXXX', DIR => $base);
    }
    chmod 0755, $self->{dir};
    push @LIVE, $self;
    my $d = $self->{dir};
    for my $sub (qw(logs run repos work home cgi-bin scratch)) {
        make_path("$d/$sub");
        chmod 0755, "$d/$sub";
    }
    $self->write_git_home;
    if (my $o = $self->{pg_from}) {
        $self->{$_} = $o->{$_} for qw(pgdata pgsock pglog pgport);
    } else {
        $self->pg_init;
        $self->pg_start;
        $self->pg_load_schema unless $self->{pg_schema_copied};
    }
    if ($self->{httpd}) {
        $self->write_cgi;
        $self->httpd_start;
    }
    return $self;
}

sub dir { $_[0]{dir} }

# Leave PostgreSQL and httpd running and the directory in place when this
# process ends (the demo); stop them later with `apache2 -k stop` and
# `pg_ctl stop` on the files in dir().
sub detach {
    my ($self) = @_;
    $self->{cleaned} = 1;
    @LIVE = grep { $_ != $self } @LIVE;
    return $self;
}

sub DESTROY {
    my ($self) = @_;
    $self->cleanup;
}

END {
    my $rc = $?;
    $_->cleanup for grep { defined } @LIVE;
    @LIVE = ();
    $? = $rc;
}

for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub { die "caught SIG$sig\n" };
}

sub cleanup {
    my ($self) = @_;
    return if $self->{cleaned} || !$self->{dir};
    return unless $$ == $self->{owner_pid};
    $self->{cleaned} = 1;
    local ($@, $!, $?);
    my $failed = 0;
    eval {
        require Test::More;
        my $tb = Test::More->builder;
        $failed = !$tb->is_passing;
    };
    if ($failed && -s $self->error_log_path) {
        my @all = split /\n/, $self->error_log_text;
        # What explains a refusal a test did not expect may come long
        # before the last lines: every line at warn or above too.
        my @bad = grep { /\[[a-z_0-9]+:(?:warn|error|crit|alert|emerg)\]/ } @all;
        @bad = @bad[-200 .. -1] if @bad > 200;
        print STDERR "# --- error_log at warn or above ---\n", map {"#   $_\n"} @bad if @bad;
        my @l = @all > 40 ? @all[-40 .. -1] : @all;
        print STDERR "# --- last lines of error_log ---\n", map {"#   $_\n"} @l;
    }
    eval { $self->httpd_stop if $self->{httpd_pid} };
    eval { $self->pg_standby_stop if $self->{pg_standby} };
    # The cluster is thrown away: no shutdown checkpoint, unless it is kept.
    eval { $self->pg_stop($ENV{BBT_KEEP} ? 'fast' : 'immediate') if $self->{pg_running} };
    if ($ENV{BBT_KEEP}) {
        print STDERR "# BBT_KEEP: kept $self->{dir}\n";
    } else {
        _remove_dir($self->{dir});
    }
}

# Remove $d, its mark (.bbt-env) last: build/demo.sh removes a directory
# that holds the mark and refuses one that holds anything else, so a
# removal that fails half-way must leave the mark with what is left.
sub _remove_dir {
    my ($d) = @_;
    my $others = sub {
        opendir(my $h, $d) or return ();
        return map {"$d/$_"} grep { !/\A(?:\.\.?|\.bbt-env)\z/ } readdir $h;
    };
    remove_tree($others->());
    if (my @left = $others->()) {
        warn "# $d not removed, it still holds @left\n";
        return;
    }
    unlink "$d/.bbt-env";
    rmdir $d;
}

1;
