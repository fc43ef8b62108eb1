# The module and the CLI built with AddressSanitizer and
# UndefinedBehaviorSanitizer (make -f apxs.mk asan), and the integration
# suite's core run against that build: httpd with ASan's runtime preloaded
# (BBT_SANITIZE=1, see BBT::Httpd::httpd_env), the CLI with leak detection
# too.  No test may fail and no sanitizer may report anything.  The core:
# clone, fetch and push; the refusals; the CLI; a database outage; token
# names; WebDAV; the REST API and its errors; the pool's bounded wait; the
# failed-login throttle's shared memory.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp qw(tempdir);
use BBT::Env qw(run_cmd);

my $ROOT = $BBT::Env::ROOT;
my @core = qw(t/20-git-basic.t t/21-git-denied.t t/22-cli.t t/23-db-outage.t t/36-token-names.t
              t/42-dav.t t/50-rest.t t/51-rest-errors.t t/73-db-pool.t t/85-throttle.t);
my $libasan = `gcc -print-file-name=libasan.so`;
chomp $libasan;
plan skip_all => "no ASan runtime ($libasan)" unless -e $libasan;

# As many compilers at a time as there are processors, as build/test.sh
# builds the rest: on a fresh checkout the instrumented tree is built from
# nothing, some eighty files, one after the other otherwise.
my $ncpu = `nproc 2>/dev/null` =~ /^(\d+)/ ? $1 : 1;
my ($rc, $out, $err) = run_cmd(cmd => ['make', "-j$ncpu", '-f', 'apxs.mk', 'asan'], cwd => $ROOT,
                               timeout => 600);
is($rc, 0, 'make -f apxs.mk asan') or BAIL_OUT("$out$err");
my $so = "$ROOT/build/asan/out/mod_bbtoken.so";
like(`ldd $so`, qr/libasan/, 'the module is instrumented');
# The CLI carries both runtimes inside it (apxs.mk says why), so ldd shows
# neither: its code calls them, and they are in it.
my $cli_calls = `nm -u $ROOT/build/asan/obj/cli/*.o`;
like($cli_calls, qr/\b__asan_report_/, 'the CLI is instrumented: ASan');
like($cli_calls, qr/\b__ubsan_handle_/, '  and UBSan');
my $cli_syms = `nm $ROOT/build/asan/out/bbtoken`;
like($cli_syms, qr/ T __asan_init\b/, "  with ASan's runtime in it");
like($cli_syms, qr/ T __ubsan_handle_add_overflow\b/, "  and UBSan's");

my $dir = tempdir('sanitizer-XXXXXX', DIR => $ENV{BBT_TMPDIR} || '/tmp', CLEANUP => 1);
chmod 0777, $dir;    # httpd's children write reports as httpd's user

subtest 'the reports are written where the suite looks' => sub {
    # A heap overflow in an instrumented program, with the harness's options.
    BBT::Env::spew("$dir/overflow.c", "#include <stdlib.h>\nint main(void) { char *p = malloc(4); "
                   . "p[4] = 1; return p[0]; }\n");
    ($rc, $out, $err) = run_cmd(cmd => ['gcc', '-fsanitize=address', '-g', '-o', "$dir/overflow",
                                        "$dir/overflow.c"], timeout => 120);
    is($rc, 0, 'an overflowing program built') or diag $err;
    run_cmd(cmd => ["$dir/overflow"], env => { ASAN_OPTIONS => "log_path=$dir/control" });
    my @r = glob "$dir/control.*";
    ok(@r && BBT::Env::slurp($r[0]) =~ /heap-buffer-overflow/, 'ASan reported it to log_path') or diag "@r";
    unlink @r, "$dir/overflow", "$dir/overflow.c";
    # httpd loads the instrumented module only with ASan's runtime first.
    my $env = BBT::Env->new(httpd => 0)->start;
    local $ENV{BBT_MODULE_SO} = $so;
    my $conf = $env->write_conf;
    ($rc, $out, $err) = run_cmd(cmd => [$BBT::Env::APACHE, '-t', '-f', $conf], timeout => 60);
    ok($rc != 0 && "$out$err" =~ /ASan runtime does not come first|AddressSanitizer/,
       'without the preload httpd refuses the module: it is the instrumented one') or diag "$out$err";
    local $ENV{BBT_SANITIZE} = 1;
    ($rc, $out) = $env->config_test('');
    is($rc, 0, 'with it, httpd reads the configuration') or diag $out;
};

($rc, $out, $err) = run_cmd(cmd => ['prove', '-j3', @core], cwd => $ROOT, timeout => 1200,
                            env => { BBT_SANITIZE => 1, BBT_SANITIZER_LOG => "$dir/report" });
is($rc, 0, 'the core of the suite passes against the sanitized build') or diag "$out$err";
note $out;
my @reports = glob "$dir/report.*";
is(scalar(@reports), 0, 'and no sanitizer reported anything')
    or diag join "\n", map { "--- $_\n" . BBT::Env::slurp($_) } @reports[0 .. ($#reports > 2 ? 2 : $#reports)];
done_testing;
