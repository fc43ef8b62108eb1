# A personal project's ~name typed unquoted where a local account of that
# name exists: the shell gives the CLI that account's home directory
# (Debian's nobody: /nonexistent), and `bbtoken grant bob PROJECT_READ
# ~nobody` said "invalid project key: " and nothing more, the key being
# what comes before the first '/'.  Now the refusal names the value it
# was given, and for one that begins with '/' asks whether the shell
# expanded a ~name, and says to quote it; --project's own refusal of a
# repository leaves such a value to it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use BBT::Env;
use BBT::Util qw(run_cmd);

my $env = BBT::Env->new(httpd => 0)->start;
$env->user_add('bob');

my $hint = q{ \(the shell's expansion of an unquoted ~name, where a local account of that name exists\? quote it: '~name'\)};

subtest 'a value that begins with /: named, and the hint' => sub {
    for my $c (['grant', 'bob', 'PROJECT_READ', '/nonexistent'],
               ['grant', 'bob', 'REPO_READ', '/nonexistent/repo'],
               ['ungrant', 'bob', '/nonexistent'],
               ['create', '--project', '/nonexistent', '--name', 'x'],
               ['create', '--repo', '/nonexistent/repo', '--name', 'x'],
               ['list', '--project', '/nonexistent'],
               ['list', '--all', '--project', '/nonexistent'],
               ['revoke', '--project', '/nonexistent'],
               ['project', '/nonexistent', '--repo-admins-manage-tokens', 'no']) {
        my $v = (grep {m{^/}} @$c)[0];
        $env->cli_is("@$c", $c, 1, stderr => qr{\Abbtoken: invalid project key: \Q$v\E$hint\n\z});
    }
};

subtest 'other invalid keys: named, no hint' => sub {
    $env->cli_is('a key starting with a digit', ['grant', 'bob', 'PROJECT_READ', '1BAD'], 1,
                 stderr => qr{\Abbtoken: invalid project key: 1BAD\n\z});
    $env->cli_is('a bad key before a slug', ['grant', 'bob', 'REPO_READ', '1BAD/repo'], 1,
                 stderr => qr{\Abbtoken: invalid project key: 1BAD/repo\n\z});
    $env->cli_is('--project with a repository', ['create', '--project', 'PROJ/repo', '--name', 'x'], 1,
                 stderr => qr{\Abbtoken: --project takes a project KEY \(a repository is --repo KEY/slug\): PROJ/repo\n\z});
};

# As the README's examples are typed, where the system has a user nobody
# (Debian's, whose home is /nonexistent): unquoted, the shell's path and
# the hint; quoted, the CLI's own refusal of a personal project no user has.
SKIP: {
    my $home = (getpwnam 'nobody')[7];
    skip 'no local user nobody with a home', 1 unless defined $home && $home =~ m{^/};
    subtest 'through the shell: ~nobody and \'~nobody\'' => sub {
        my $cli = join ' ', map { "'$_'" } $env->cli_path, '--db', $env->superuser_conninfo;
        my ($rc, $out, $err) = run_cmd(cmd => ['sh', '-c', "$cli grant bob PROJECT_READ ~nobody"],
                                       tmp => $env->dir . '/run', timeout => 60);
        is($rc, 1, 'unquoted: exit 1');
        like($err, qr{\Abbtoken: invalid project key: \Q$home\E$hint\n\z}, '  the expanded value named, and the hint')
            or diag $err;
        ($rc, $out, $err) = run_cmd(cmd => ['sh', '-c', "$cli grant bob PROJECT_READ '~nobody'"],
                                    tmp => $env->dir . '/run', timeout => 60);
        is($rc, 1, 'quoted: exit 1');
        like($err, qr{\Abbtoken: the personal project ~nobody has no user}, '  the README\'s refusal') or diag $err;
    };
}

done_testing;
