package BBT::Rest;

# The access-tokens REST API's tests share one set-up: the handler
# (bbtoken-rest) at /rest/access-tokens behind a login from the password
# file, httpd with the modules that login needs, the API's own database
# role (sql/grants-api.sql), and the people, repositories and grants a
# test calls it with.
#
#   use BBT::Rest qw(rest_env);
#   my $env = rest_env(passwords => [alice => 'pw'], users => ['alice', [root => '--admin']],
#                      repos => [[PROJ => 'repo']], grants => [[alice => PROJECT_WRITE => 'PROJ']]);
#
# Options:
#   login      => 'basic'    AuthType Basic with mod_authn_file (default)
#                 'bbtoken'  AuthType BBToken with passwords beside tokens
#                            and no routes, so the handler sees tokens too
#   latest_bbtoken => 1      /rest/access-tokens/latest logs in with
#                            AuthType BBToken (passwords beside tokens): a
#                            token authenticates there, and the handler must
#                            refuse it
#   revoke_by_value => 1     revoke-by-value (the leak report) asks for no
#                            login, as the README's example has it
#   error_paths => 1         /rest/access-tokens/latest takes bodies of at
#                            most 100 bytes and /rest/access-tokens/1.0/users/carol
#                            forgets to require a login: where httpd, not the
#                            handler, would have the first word
#   extra_conf => STR        more configuration after the API's locations
#   env        => {..}       more options of BBT::Env->new (httpd => 0, ...)
#   passwords  => [NAME => PASSWORD, ..]  the password file, in order
#   repos      => [[KEY, slug], ..]       repositories, made in order
#   users      => [NAME or [NAME, ARGS..], ..]  `bbtoken user add`, in order
#   grants     => [[NAME, PERMISSION, RESOURCE], ..]  `bbtoken grant`, in order
#
# Returns the started environment.  rest_location($login, $realm) is the
# API's <Location> alone, for a test that sets its environment up itself
# (another database role, a realm of its own).

use strict;
use warnings;
use BBT::Env;
use BBT::Assert ();
use JSON::PP ();
use Test::More ();

use Exporter 'import';
our @EXPORT_OK = qw(rest_env rest_location rest_writes rest_header is_rest_envelope);

my %LOGIN = (
    basic => <<'EOC',
    AuthType Basic
    AuthName "Bitbucket"
    AuthBasicProvider file
    AuthUserFile "@DIR@/htpasswd"
EOC
    bbtoken => <<'EOC',
    AuthType BBToken
    AuthName "Bitbucket"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    BBTokenRoutes none
EOC
);
my %MODULES = (basic => [qw(auth_basic authn_file authz_user)], bbtoken => [qw(authn_file authz_user)]);

my $LATEST_BBTOKEN = <<'EOC';
<Location /rest/access-tokens/latest>
    AuthType BBToken
    AuthName "Bitbucket"
    AuthBBTokenProvider file
    AuthUserFile "@DIR@/htpasswd"
    Require valid-user
</Location>
EOC

my $REVOKE_BY_VALUE = <<'EOC';
<LocationMatch "^/rest/access-tokens/(1\.0|latest)/revoke-by-value/?$">
    Require all granted
</LocationMatch>
EOC

my $ERROR_PATHS = <<'EOC';
<Location /rest/access-tokens/latest>
    LimitRequestBody 100
</Location>
<Location /rest/access-tokens/1.0/users/carol>
    AuthType None
    Require all granted
</Location>
EOC

# The handler at /rest/access-tokens behind login $login ('basic' or
# 'bbtoken', above), in realm $realm ("Bitbucket" unless given).
sub rest_location {
    my ($login, $realm) = @_;
    my $how = $LOGIN{$login} // die "BBT::Rest: no login '$login'\n";
    $how =~ s/"Bitbucket"/"$realm"/ if defined $realm;
    return "<Location /rest/access-tokens>\n    SetHandler bbtoken-rest\n$how    Require valid-user\n</Location>\n";
}

sub rest_env {
    my (%o) = @_;
    my $login = $o{login} // 'basic';
    my $conf = rest_location($login) . ($o{latest_bbtoken} ? $LATEST_BBTOKEN : '')
        . ($o{revoke_by_value} ? $REVOKE_BY_VALUE : '') . ($o{error_paths} ? $ERROR_PATHS : '')
        . ($o{extra_conf} // '');
    my $env = BBT::Env->new(%{ $o{env} || {} }, extra_conf => $conf,
                            modules => [@{ $MODULES{$login} || [] }, @{ $o{modules} || [] }],
                            dbd_user => 'bbtoken_api')->start;
    $env->htpasswd(@{ $o{passwords} }) if $o{passwords};
    $env->make_repo(@$_) for @{ $o{repos} || [] };
    $env->user_add(ref $_ ? @$_ : $_) for @{ $o{users} || [] };
    $env->grant(@$_) for @{ $o{grants} || [] };
    return $env;
}

# The API's writes as $user (the password login, the API's host), each
# made now and called later (in_background, or where a test cuts its
# connection): $w->{create}->(NAME) a token of PROJECT_READ,
# $w->{rotate}->(ID), $w->{update}->(ID, NAME), $w->{revoke}->(ID), each
# a sub giving $env->rest's answer.
sub rest_writes {
    my ($env, $user) = @_;
    my $api = "/rest/access-tokens/1.0/users/$user";
    my @as = (as => $user, api => 1);
    return {
        create => sub { my ($name) = @_;
                        sub { $env->rest(PUT => $api, @as, json => { name => $name, permissions => ['PROJECT_READ'] }) } },
        rotate => sub { my ($id) = @_;
                        sub { $env->rest(POST => "$api/$id/rotate", @as, headers => { 'X-Atlassian-Token' => 'no-check' }) } },
        update => sub { my ($id, $name) = @_; sub { $env->rest(POST => "$api/$id", @as, json => { name => $name }) } },
        revoke => sub { my ($id) = @_; sub { $env->rest(DELETE => "$api/$id", @as) } },
    };
}


# Response header $name (lower case) of an HTTP::Tiny answer, its values
# joined as one.
sub rest_header {
    my ($res, $name) = @_;
    my $v = $res->{headers}{$name};
    return ref $v ? join(', ', @$v) : $v;
}

# $res is Bitbucket's error envelope with this status, one error whose
# exceptionName and message match $ex_re and $msg_re, context null, as
# application/json;charset=UTF-8 with nosniff and no-store (as every
# answer of the handler: no browser sniffs HTML out of it, no cache keeps
# it), and its body matches nothing of $secret_re (what the request
# carried).  Five assertions named $name; the first's outcome.
sub is_rest_envelope {
    my ($res, $status, $ex_re, $msg_re, $name, $secret_re) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $body = $res->{content} // $res->{body} // '';
    my $j = eval { JSON::PP::decode_json($body) };
    my $e = ref $j eq 'HASH' && ref $j->{errors} eq 'ARRAY' && @{ $j->{errors} } == 1 ? $j->{errors}[0] : undef;
    my $ok = $res->{status} == $status && (rest_header($res, 'content-type') // '') eq 'application/json;charset=UTF-8'
        && ref $e eq 'HASH' && exists $e->{context} && !defined $e->{context}
        && ($e->{exceptionName} // '') =~ $ex_re && ($e->{message} // '') =~ $msg_re;
    Test::More::ok($ok, "$name: $status in the JSON envelope, application/json")
        or Test::More::diag(BBT::Assert::res_summary($res));
    Test::More::is(rest_header($res, 'x-content-type-options'), 'nosniff', "$name: X-Content-Type-Options: nosniff");
    Test::More::is(rest_header($res, 'cache-control'), 'no-store', "$name: Cache-Control: no-store");
    Test::More::unlike($body, $secret_re, "$name: the body names nothing of the request");
    return $ok;
}
1;
