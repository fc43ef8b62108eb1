# Build mod_bbtoken.so, the bbtoken CLI and the C unit tests.
#   make -f apxs.mk            module and CLI into build/out/
#   make -f apxs.mk unit       unit-test binaries into build/out/t/
#   make -f apxs.mk fuzz       libFuzzer targets into build/out/fuzz/ (clang)
#   make -f apxs.mk asan       module and CLI with AddressSanitizer and
#                              UndefinedBehaviorSanitizer into build/asan/out/
#   make -f apxs.mk man        man pages bbtoken.1 and mod_bbtoken.5 (from the README)
#                              into build/out/man/
#   make -f apxs.mk install    module into `apxs -q LIBEXECDIR`, CLI into $(PREFIX)/bin,
#                              sql/, routes/ and www/ into $(PREFIX)/share/mod-bbtoken,
#                              man pages, bash completion, the cron example, and the
#                              .load, .conf and snippets into /etc/apache2 (when that
#                              layout exists, or under DESTDIR), with the fail2ban
#                              filter and jail into /etc/fail2ban, an edited one
#                              kept and the new one put beside it (.dist); honours
#                              DESTDIR
#   make -f apxs.mk uninstall  removes what install put there
#                              (both refuse to touch a Debian package's files
#                              unless FORCE=1)
#   make -f apxs.mk deb        build/out/libapache2-mod-bbtoken_VERSION_ARCH.deb,
#                              with dpkg-buildpackage from a copy of the tree
# apxs supplies httpd's and APR's flags; compiling ourselves keeps libtool's
# droppings out of the source tree.

APXS    ?= apxs
PREFIX  ?= /usr/local
CC      ?= cc
OUT     := build/out
OBJ     := build/obj

# What the helper programs (apxs, a perl script, apr-1-config, pkg-config,
# pg_config) answer is asked the first time a recipe needs it, and kept:
# `VAR = $(eval VAR := ...)$(VAR)` turns itself into a simple variable on
# first use.  Asking them all while reading this file cost some twenty
# processes on every make run, install, uninstall and clean included.
APR_CONFIG = $(eval APR_CONFIG := $$(firstword $$(subst ;, ,$$(shell $$(APXS) -q APR_CONFIG))))$(APR_CONFIG)
APU_CONFIG = $(eval APU_CONFIG := $$(lastword $$(subst ;, ,$$(shell $$(APXS) -q APU_CONFIG))))$(APU_CONFIG)
LIBEXECDIR = $(eval LIBEXECDIR := $$(shell $$(APXS) -q LIBEXECDIR))$(LIBEXECDIR)

# The one place the version is written; the module and the CLI get it as
# BBT_VERSION, debian/changelog must agree (make deb checks).
VERSION := $(strip $(file < VERSION))
VERSION_DEF := -DBBT_VERSION='"$(VERSION)"'
# The schema version this release's migrations end at, which the module
# expects (bbt_schema.c says when the database is behind or ahead of it); the
# CLI counts its compiled-in migrations instead.
MIGRATION_FILES := $(sort $(wildcard sql/migrations/*.sql))
SCHEMA_LATEST = $(eval SCHEMA_LATEST := $$(shell echo $$(notdir $$(lastword $$(MIGRATION_FILES))) \
                | sed 's/^0*\([0-9][0-9]*\)_.*/\1/'))$(SCHEMA_LATEST)
SCHEMA_DEF = -DBBT_SCHEMA_LATEST=$(SCHEMA_LATEST)

# Warnings are errors here and in CI; a packager whose compiler warns where
# ours does not can build with `make -f apxs.mk WERROR=`.
WERROR   ?= -Werror
WARN     := -Wall -Wextra $(WERROR)
# Only the module record leaves mod_bbtoken.so (see mod_bbtoken.c).
# CPPFLAGS, CFLAGS and LDFLAGS from the environment (dpkg-buildflags' hardening
# when built as a Debian package) come on top of ours.
# SANITIZE=1 (make asan) builds with ASan and UBSan instead of _FORTIFY_SOURCE
# (which ASan replaces), every fault fatal.
# _FORTIFY_SOURCE=2 unless CPPFLAGS or CFLAGS set a level of their own
# (dpkg-buildflags gives 3 on Ubuntu 24.04): a second definition of the
# macro is a warning, which -Werror made the build's failure.
FORTIFY_DEF = $(if $(findstring _FORTIFY_SOURCE,$(CPPFLAGS) $(CFLAGS)),,-D_FORTIFY_SOURCE=2)
# Linked as dpkg-buildflags' hardening links the package, from source too:
# the GOT read-only once loaded (relro, now), and the CLI position
# independent whatever the compiler's default.  LDFLAGS come after, so
# they may still say otherwise.
HARDEN_LDFLAGS := -Wl,-z,relro -Wl,-z,now
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# The sanitized CLI carries both runtimes inside it: at every exit its leak
# check scans each runtime's own zeroed globals, some 6 MB apiece, which
# linked as two shared libraries was two thirds of a command's time.  The
# module stays linked to the shared runtime that httpd preloads.
ifeq ($(SANITIZE),1)
OPTFLAGS  := -O1 -g $(SAN_FLAGS)
SAN_LDFLAGS := $(SAN_FLAGS)
SAN_CLI_LDFLAGS := $(SAN_FLAGS) -static-libasan -static-libubsan
else
OPTFLAGS  := -O2 -g $(FORTIFY_DEF)
SAN_LDFLAGS :=
SAN_CLI_LDFLAGS :=
endif
BASEFLAGS := $(OPTFLAGS) -fPIC -fstack-protector-strong \
             -fvisibility=hidden -pthread $(WARN) $(VERSION_DEF) $(CPPFLAGS) $(CFLAGS)
HTTPD_INC = $(eval HTTPD_INC := -I$$(shell $$(APXS) -q INCLUDEDIR) \
            $$(shell $$(APR_CONFIG) --includes --cppflags) $$(shell $$(APU_CONFIG) --includes))$(HTTPD_INC)
JANSSON_CFLAGS = $(eval JANSSON_CFLAGS := $$(shell pkg-config --cflags jansson))$(JANSSON_CFLAGS)
JANSSON_LIBS = $(eval JANSSON_LIBS := $$(shell pkg-config --libs jansson))$(JANSSON_LIBS)
# The one core file that needs APR is bbt_keymac.c (APR-util's SipHash):
# APR's headers and the definitions they need (apr.h may name off64_t),
# for it alone, and libaprutil-1 for what links it outside httpd.
APU_INC = $(eval APU_INC := $$(shell $$(APR_CONFIG) --includes --cppflags) \
          $$(shell $$(APU_CONFIG) --includes))$(APU_INC)
APU_LIBS = $(eval APU_LIBS := $$(shell $$(APU_CONFIG) --link-ld))$(APU_LIBS)
APR_LIBS = $(eval APR_LIBS := $$(shell $$(APR_CONFIG) --link-ld))$(APR_LIBS)
PQ_INC = $(eval PQ_INC := -I$$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql))$(PQ_INC)

CORE    := bbt_input bbt_token bbt_tokshape bbt_perm bbt_cred bbt_route bbt_rules bbt_sqlstate \
           bbt_rules_load bbt_decide bbt_cachectl bbt_rest_req bbt_expo bbt_body \
           bbt_verdict bbt_centry bbt_kind bbt_clockcmp
CORE    += bbt_inventory bbt_agroup bbt_levelmap bbt_lookuprow bbt_rowmemo
CORE    += bbt_rmemo bbt_tls
CORE    += bbt_bodyproj bbt_jshape bbt_rules_opts bbt_namedrepo
CORE    += bbt_tset bbt_keymac bbt_vmemo
CORE    += bbt_mono bbt_twindow
CORE    += bbt_override
CORE    += bbt_locktime
CORE    += bbt_cmark bbt_chint
CORE    += bbt_gitobj
CORE    += bbt_jwipe
CORE    += bbt_backread
CORE    += bbt_query
GLUE    := mod_bbtoken bbt_config bbt_confroutes bbt_confcheck bbt_confreq bbt_confmerge bbt_confmap bbt_confpat \
           bbt_confhtac \
           bbt_request bbt_routing \
           bbt_authn bbt_authz bbt_db bbt_dblookup bbt_dbgate bbt_logguard bbt_private \
           bbt_rest bbt_rest_json bbt_rest_db bbt_rest_tokens bbt_configtest \
           bbt_stats bbt_metrics bbt_reqbody bbt_verify bbt_cache bbt_cachefp bbt_listen bbt_lback bbt_ltrig bbt_lprobe bbt_lsession bbt_nqueue \
           bbt_socache bbt_throttle
GLUE    += bbt_rest_leaked bbt_rest_inventory bbt_where
GLUE    += bbt_rest_rotate bbt_rest_places bbt_rest_commit
GLUE    += bbt_rest_refuse
GLUE    += bbt_rest_args
GLUE    += bbt_schema
GLUE    += bbt_dbenc
GLUE    += bbt_dbsession
GLUE    += bbt_dbwrite bbt_dbstmt
GLUE    += bbt_clock
GLUE    += bbt_davlock
GLUE    += bbt_inherit
GLUE    += bbt_htaccess
GLUE    += bbt_wdcall
GLUE    += bbt_overglue
GLUE    += bbt_bodyread
GLUE    += bbt_cshared bbt_cseg
GLUE    += bbt_destcheck
GLUE    += bbt_vlevel bbt_vwrite
# Shared by the module and the CLI: libpq and jansson, nothing of httpd.
PGJSON  := bbt_pgjson
PGJSON  += bbt_inventory_json
# What became of a transaction whose COMMIT's answer was lost.
PGJSON  += bbt_xact
# The built-in route sets are routes/*.conf, compiled in as C strings.
SETS_C  := $(OBJ)/bbt_sets.c
CORE_SO := $(CORE:%=$(OBJ)/%.o)
CORE_O  := $(CORE_SO) $(OBJ)/bbt_sets.o
# The core as an archive, for what links only the objects it calls.
CORE_A  := $(OBJ)/libbbtcore.a
GLUE_O  := $(GLUE:%=$(OBJ)/%.o)
PGJSON_O := $(PGJSON:%=$(OBJ)/%.o)
# The CLI: main and dispatch, the command line, the checks of its values,
# help texts, output, mail (composed, and handed to sendmail), the
# database session, the compiled-in migrations and the commands.  CLI_NOPQ
# are built without libpq's headers, so they cannot come to need it.
CLI      := bbtoken args values usage out mail sendmail db dbarg migrations cmd_users \
            cmd_tokens cmd_reports cmd_admin cmd_notify
CLI      += cmd_inventory
CLI      += cmd_rotate
CLI      += cmd_dbcheck dbtrig
CLI      += cmd_db
CLI      += mint
CLI      += tx
CLI      += xact
CLI      += stream
CLI      += notify_unused notify_lock notify_notes notify_record notify_message
CLI      += notify_owner notify_dry
CLI      += lookup
CLI      += dbmask
CLI      += owner
CLI      += interrupt
CLI_NOPQ := args values usage out mail sendmail
CLI_O    := $(CLI:%=$(OBJ)/cli/%.o)
CLI_NOPQ_O := $(CLI_NOPQ:%=$(OBJ)/cli/%.o)
CLI_PQ_O := $(filter-out $(CLI_NOPQ_O),$(CLI_O))
CLI_HEADERS := $(wildcard cli/*.h)
MIGRATIONS_H := $(OBJ)/bbtoken_migrations.h
UNITS   := $(patsubst t/unit/%.c,$(OUT)/t/%,$(filter-out t/unit/tap.c,$(wildcard t/unit/test_*.c)))
HEADERS := $(wildcard mod_bbtoken/*.h)
FUZZ_CC ?= clang
FUZZERS := $(patsubst t/fuzz/%.c,$(OUT)/fuzz/%,$(wildcard t/fuzz/fuzz_*.c))

all: $(OUT)/mod_bbtoken.so $(OUT)/bbtoken

$(OBJ) $(OBJ)/cli $(OUT) $(OUT)/t $(OUT)/fuzz:
	mkdir -p $@

$(CORE_SO): $(OBJ)/%.o: mod_bbtoken/%.c $(HEADERS) | $(OBJ)
	$(CC) $(BASEFLAGS) $(JANSSON_CFLAGS) $(CORE_EXTRA) -c -o $@ $<

$(OBJ)/bbt_keymac.o $(OBJ)/fuzz/bbt_keymac.o: CORE_EXTRA = $(APU_INC)
# So does bbt_query.c (APR's pools, hash tables and URL decoder): linked
# outside httpd, it takes libapr-1.
$(OBJ)/bbt_query.o $(OBJ)/fuzz/bbt_query.o: CORE_EXTRA = $(APU_INC)

# A removed file leaves nothing newer behind it, so what embeds a set of
# files also depends on the set's list, a file rewritten only when the
# list changes: removing a migration or a route file remakes what held it.
ROUTE_FILES := $(sort $(wildcard routes/*.conf))
$(OBJ)/migrations.list: FORCE | $(OBJ)
	@echo '$(MIGRATION_FILES)' | cmp -s - $@ || echo '$(MIGRATION_FILES)' > $@
$(OBJ)/routes.list: FORCE | $(OBJ)
	@echo '$(ROUTE_FILES)' | cmp -s - $@ || echo '$(ROUTE_FILES)' > $@

$(SETS_C): build/gen-sets.pl $(ROUTE_FILES) $(OBJ)/routes.list | $(OBJ)
	perl build/gen-sets.pl > $@.$$$$.tmp && mv $@.$$$$.tmp $@ || { rm -f $@.$$$$.tmp; false; }

$(OBJ)/bbt_sets.o: $(SETS_C) mod_bbtoken/bbt_rules.h
	$(CC) $(BASEFLAGS) -Imod_bbtoken -c -o $@ $<

$(GLUE_O): $(OBJ)/%.o: mod_bbtoken/%.c $(HEADERS) | $(OBJ)
	$(CC) $(BASEFLAGS) $(SCHEMA_DEF) $(HTTPD_INC) $(PQ_INC) $(JANSSON_CFLAGS) -c -o $@ $<

# A new migration moves the version the module expects.
$(OBJ)/bbt_schema.o: $(MIGRATION_FILES) $(OBJ)/migrations.list

$(PGJSON_O): $(OBJ)/%.o: mod_bbtoken/%.c $(HEADERS) | $(OBJ)
	$(CC) $(BASEFLAGS) $(PQ_INC) $(JANSSON_CFLAGS) -c -o $@ $<

$(OUT)/mod_bbtoken.so: $(GLUE_O) $(PGJSON_O) $(CORE_O) | $(OUT)
	$(CC) -shared $(HARDEN_LDFLAGS) $(LDFLAGS) $(SAN_LDFLAGS) -o $@ $^ -lpq -lcrypto -lpcre2-8 -lz $(JANSSON_LIBS)

# The CLI embeds sql/migrations/*.sql (generated header in $(OBJ)), so the
# installed bbtoken can create and upgrade the schema on its own.
$(MIGRATIONS_H): cli/embed-sql.sh $(MIGRATION_FILES) $(OBJ)/migrations.list | $(OBJ)
	sh cli/embed-sql.sh $(MIGRATION_FILES) > $@.$$$$.tmp && mv $@.$$$$.tmp $@ || { rm -f $@.$$$$.tmp; false; }

$(CLI_NOPQ_O): $(OBJ)/cli/%.o: cli/%.c $(CLI_HEADERS) $(HEADERS) | $(OBJ)/cli
	$(CC) $(BASEFLAGS) -Imod_bbtoken -Icli $(JANSSON_CFLAGS) -c -o $@ $<

$(CLI_PQ_O): $(OBJ)/cli/%.o: cli/%.c $(CLI_HEADERS) $(HEADERS) | $(OBJ)/cli
	$(CC) $(BASEFLAGS) -Imod_bbtoken -Icli -I$(OBJ) $(PQ_INC) $(JANSSON_CFLAGS) -c -o $@ $<

$(OBJ)/cli/migrations.o: $(MIGRATIONS_H)

# The core from its archive: the CLI links only what it calls (not the
# keyed SipHash, nor so libaprutil-1).
$(OUT)/bbtoken: $(CLI_O) $(PGJSON_O) $(CORE_A) | $(OUT)
	$(CC) -pie $(HARDEN_LDFLAGS) $(LDFLAGS) $(SAN_CLI_LDFLAGS) -o $@ $(CLI_O) $(PGJSON_O) $(CORE_A) -lpq -lcrypto -lpcre2-8 $(JANSSON_LIBS)

# The unit tests take the core from an archive: each links the objects it
# calls, not all of them with their debug information (half the time of
# linking some thirty tests, here and in the package's build).  CORE_A is
# defined above, before the CLI's rule names it.
$(CORE_A): $(CORE_O)
	rm -f $@
	$(AR) rcs $@ $^

$(OUT)/t/%: t/unit/%.c t/unit/tap.h t/unit/rules_fixture.h t/unit/jshape_oracle.h t/unit/token_fixture.h $(CORE_A) | $(OUT)/t
	$(CC) $(BASEFLAGS) -Imod_bbtoken -It/unit $(JANSSON_CFLAGS) -o $@ $< $(CORE_A) -lcrypto -lpcre2-8 -lz $(JANSSON_LIBS) $(APU_LIBS)

# The CLI's command line and output, without libpq or a database.
$(OUT)/t/test_cli_%: t/unit/test_cli_%.c t/unit/tap.h t/unit/cli_capture.h $(CLI_NOPQ_O) $(CORE_A) | $(OUT)/t
	$(CC) $(BASEFLAGS) -Imod_bbtoken -Icli -It/unit $(JANSSON_CFLAGS) -o $@ $< $(CLI_NOPQ_O) $(CORE_A) -lcrypto -lpcre2-8 $(JANSSON_LIBS) $(APU_LIBS)

# The CLI's check of --db (dbarg.c): libpq's parser, no server.
$(OUT)/t/test_cli_dbarg: t/unit/test_cli_dbarg.c t/unit/tap.h t/unit/cli_capture.h $(OBJ)/cli/dbarg.o $(CLI_NOPQ_O) $(CORE_A) | $(OUT)/t
	$(CC) $(BASEFLAGS) -Imod_bbtoken -Icli -It/unit $(PQ_INC) $(JANSSON_CFLAGS) -o $@ $< $(OBJ)/cli/dbarg.o $(CLI_NOPQ_O) $(CORE_A) -lpq -lcrypto -lpcre2-8 $(JANSSON_LIBS) $(APU_LIBS)

unit: $(UNITS)

# The fuzzers link the core (and the CLI's code without libpq) built with
# sanitizers of their own and libFuzzer's coverage (fuzzer-no-link: the
# instrumentation -fsanitize=fuzzer gives, without libFuzzer's main), in a
# tree of their own.  Compiled once for every fuzzer: compiling it again for
# each of them was most of the build's time.
FUZZ_OBJ   := $(OBJ)/fuzz
FUZZ_FLAGS = -g -O1 -pthread $(VERSION_DEF) -fno-sanitize-recover=undefined -Imod_bbtoken -Icli -It/unit \
              $(JANSSON_CFLAGS)
FUZZ_CORE_O := $(CORE:%=$(FUZZ_OBJ)/%.o) $(FUZZ_OBJ)/bbt_sets.o
FUZZ_CLI_O := $(CLI_NOPQ:%=$(FUZZ_OBJ)/cli/%.o)
FUZZ_LIBS  = -lcrypto -lpcre2-8 -lz $(JANSSON_LIBS) $(APU_LIBS) $(APR_LIBS)

$(FUZZ_OBJ) $(FUZZ_OBJ)/cli:
	mkdir -p $@

$(CORE:%=$(FUZZ_OBJ)/%.o): $(FUZZ_OBJ)/%.o: mod_bbtoken/%.c $(HEADERS) | $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(CORE_EXTRA) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

$(FUZZ_OBJ)/bbt_sets.o: $(SETS_C) $(HEADERS) | $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

$(FUZZ_CLI_O): $(FUZZ_OBJ)/cli/%.o: cli/%.c $(CLI_HEADERS) $(HEADERS) | $(FUZZ_OBJ)/cli
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

# From an archive, as the unit tests: each fuzzer links what it calls.
FUZZ_A := $(FUZZ_OBJ)/libbbtfuzz.a
$(FUZZ_A): $(FUZZ_CORE_O) $(FUZZ_CLI_O)
	rm -f $@
	$(AR) rcs $@ $^

$(OUT)/fuzz/%: t/fuzz/%.c $(FUZZ_A) $(HEADERS) t/unit/jshape_oracle.h t/fuzz/fuzz_fields.h t/fuzz/fuzz_query.h | $(OUT)/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) $(CORE_EXTRA) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_A) $(FUZZ_LIBS)

# The query's readers take APR's headers (bbt_query.h).
$(OUT)/fuzz/fuzz_restargs $(OUT)/fuzz/fuzz_qparams: CORE_EXTRA = $(APU_INC)

# The CLI's fuzzers (fuzz_cli_*) take its code without libpq as well.
$(OUT)/fuzz/fuzz_cli_%: t/fuzz/fuzz_cli_%.c $(FUZZ_A) $(HEADERS) $(CLI_HEADERS) | $(OUT)/fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_A) $(FUZZ_LIBS)

fuzz: $(FUZZERS)

# ---- sanitizers -------------------------------------------------------------
# The module and the CLI with AddressSanitizer and UndefinedBehaviorSanitizer,
# in a tree of their own.  httpd itself is not instrumented: it must run with
# ASan's runtime preloaded (the harness does it with BBT_SANITIZE=1; see the
# README, Sanitizers).
ASAN_DIR := build/asan

asan:
	$(MAKE) -f apxs.mk all OUT=$(ASAN_DIR)/out OBJ=$(ASAN_DIR)/obj SANITIZE=1

# How the sanitized CLI is linked is written here: a tree's CLI linked
# otherwise is linked again.
ifeq ($(SANITIZE),1)
$(OUT)/bbtoken: apxs.mk
endif

# Everything compiled carries VERSION (objects that do not exist yet are
# built anyway).
$(wildcard $(OBJ)/*.o $(OBJ)/*/*.o $(OBJ)/*/*/*.o $(OUT)/t/* $(OUT)/fuzz/*) $(OUT)/bbtoken: VERSION

# ---- man pages --------------------------------------------------------------
# bbtoken(1) and mod_bbtoken(5) are sections of the README turned into roff
# by build/man.pl, so they say what the README says.

MANPAGES := $(OUT)/man/bbtoken.1 $(OUT)/man/mod_bbtoken.5

$(OUT)/man:
	mkdir -p $@

$(OUT)/man/%: README build/man.pl VERSION | $(OUT)/man
	perl build/man.pl $* README $(VERSION) > $@.$$$$.tmp && mv $@.$$$$.tmp $@ || { rm -f $@.$$$$.tmp; false; }

man: $(MANPAGES)

# ---- install, uninstall -----------------------------------------------------

BINDIR   ?= $(PREFIX)/bin
SHAREDIR ?= $(PREFIX)/share/mod-bbtoken
MANDIR   ?= $(PREFIX)/share/man
DOCDIR   ?= $(PREFIX)/share/doc/mod-bbtoken
COMPLETIONSDIR ?= $(PREFIX)/share/bash-completion/completions
APACHE_CONFDIR ?= /etc/apache2
# Debian's layout of httpd's configuration gets the .load, the .conf and the
# snippets when it exists here, or under DESTDIR (a package being staged).
APACHE_CONF = $(if $(DESTDIR)$(wildcard $(APACHE_CONFDIR)/mods-available),yes)
# The fail2ban filter and its disabled jail go with them, where fail2ban is
# installed (or into a package being staged).
FAIL2BAN_DIR ?= /etc/fail2ban
FAIL2BAN_CONF = $(if $(APACHE_CONF),$(if $(DESTDIR)$(wildcard $(FAIL2BAN_DIR)/filter.d),yes))
FAIL2BAN_FILES := filter.d/bbtoken.conf jail.d/bbtoken.conf

SHARE_FILES := $(wildcard sql/*.sql sql/migrations/*.sql routes/*.conf www/*)
# One install a directory, not one a file.
SHARE_DIRS := $(sort $(dir $(SHARE_FILES)))
share_in = $(foreach f,$(SHARE_FILES),$(if $(filter $(1),$(dir $(f))),$(f)))
SNIPPETS := bbtoken-git bbtoken-dav bbtoken-svn bbtoken-rest bbtoken-page bbtoken-metrics
# conf/*.in with the installed paths filled in.
# DBDParams: the lookup role's (server-wide) and the API role's (its host).
DBD_CONF := bbtoken-dbd.conf bbtoken-api-dbd.conf
CONF_GEN := bbtoken.load bbtoken.conf $(DBD_CONF) bbtoken.cron $(SNIPPETS:%=%.conf)
SUBST = sed -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' -e 's|@SHAREDIR@|$(SHAREDIR)|g' \
	-e 's|@BINDIR@|$(BINDIR)|g' -e 's|@APACHE_CONFDIR@|$(APACHE_CONFDIR)|g' \
	-e 's|@DOCDIR@|$(DOCDIR)|g'
# The files in /etc are the administrator's once installed: build/conffile.sh
# keeps an edited one (the new one beside it, .dist), as dpkg keeps a
# conffile, telling edited from untouched by what install recorded here.
CONFFILE  = sh build/conffile.sh
CONFFILES = $(SHAREDIR)/conffiles.sha256
APACHE_ENABLED := mods-enabled/bbtoken.load mods-enabled/bbtoken.conf $(SNIPPETS:%=conf-enabled/%.conf)
APACHE_FILES := mods-available/bbtoken.load mods-available/bbtoken.conf $(SNIPPETS:%=conf-available/%.conf)
# The module and the CLI, which install records as it records the files in
# /etc: uninstall takes them only while they are what it put there, never
# one it did not install (the Debian package's, which has the same path).
INSTALL_BIN = $(LIBEXECDIR)/mod_bbtoken.so $(BINDIR)/bbtoken
# Every file install writes, and uninstall may delete, as the system sees it.
INSTALL_FILES = $(INSTALL_BIN) $(MANDIR)/man1/bbtoken.1 $(MANDIR)/man5/mod_bbtoken.5 \
	$(COMPLETIONSDIR)/bbtoken $(DOCDIR)/examples/bbtoken.cron $(CONFFILES) \
	$(DBD_CONF:%=$(SHAREDIR)/%) $(SHARE_FILES:%=$(SHAREDIR)/%) \
	$(if $(APACHE_CONF),$(APACHE_FILES:%=$(APACHE_CONFDIR)/%) $(DBD_CONF:%=$(APACHE_CONFDIR)/%)) \
	$(if $(FAIL2BAN_CONF),$(FAIL2BAN_FILES:%=$(FAIL2BAN_DIR)/%))

# A file a Debian package owns is dpkg's: the module's path is `apxs -q
# LIBEXECDIR` whatever PREFIX is, libapache2-mod-bbtoken's too, and its
# files in /etc are conffiles.  install would overwrite them from under
# dpkg, uninstall delete them (the module disabled, dpkg -V finding them
# missing): both refuse, saying which and why, unless FORCE=1, and before
# anything is built.  A staged install (DESTDIR) touches no file of this
# system's.
ifeq ($(DESTDIR),)
$(foreach g,$(filter install uninstall,$(MAKECMDGOALS)),$(if \
	$(shell sh build/dpkg-owned.sh $(g) "$(FORCE)" $(INSTALL_FILES) >&2 || echo refused),\
	$(error $(g) refused: files of a Debian package)))
endif

install: all man
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHAREDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(COMPLETIONSDIR) \
		$(DESTDIR)$(DOCDIR)/examples
	install -m 0644 $(OUT)/mod_bbtoken.so $(DESTDIR)$(LIBEXECDIR)/mod_bbtoken.so
	install -m 0755 $(OUT)/bbtoken $(DESTDIR)$(BINDIR)/bbtoken
	for f in $(INSTALL_BIN); do $(CONFFILE) record "$(DESTDIR)" $$f $(CONFFILES) || exit 1; done
	install -d $(SHARE_DIRS:%=$(DESTDIR)$(SHAREDIR)/%)
	$(foreach d,$(SHARE_DIRS),install -m 0644 -t $(DESTDIR)$(SHAREDIR)/$(d) $(call share_in,$(d)) &&) true
	install -m 0644 $(OUT)/man/bbtoken.1 $(DESTDIR)$(MANDIR)/man1/bbtoken.1
	install -m 0644 $(OUT)/man/mod_bbtoken.5 $(DESTDIR)$(MANDIR)/man5/mod_bbtoken.5
	install -m 0644 completion/bbtoken.bash $(DESTDIR)$(COMPLETIONSDIR)/bbtoken
	mkdir -p $(OUT)/conf
	for f in $(CONF_GEN); do $(SUBST) conf/$$f.in > $(OUT)/conf/$$f || exit 1; done
	install -m 0644 $(OUT)/conf/bbtoken.cron $(DESTDIR)$(DOCDIR)/examples/bbtoken.cron
	for f in $(DBD_CONF); do install -m 0644 $(OUT)/conf/$$f $(DESTDIR)$(SHAREDIR)/$$f || exit 1; done
ifeq ($(APACHE_CONF),yes)
	for f in bbtoken.load bbtoken.conf; do $(CONFFILE) install 0644 $(OUT)/conf/$$f "$(DESTDIR)" \
		$(APACHE_CONFDIR)/mods-available/$$f $(CONFFILES) || exit 1; done
	for f in $(SNIPPETS:%=%.conf); do $(CONFFILE) install 0644 $(OUT)/conf/$$f "$(DESTDIR)" \
		$(APACHE_CONFDIR)/conf-available/$$f $(CONFFILES) || exit 1; done
	@# DBDParams will hold a password: root's alone, and never overwritten,
	@# nor a link put in its place (to a secret not mounted yet, say).  One
	@# made here is recorded, so that uninstall knows it from the admin's.
	for f in $(DBD_CONF); do test -e $(DESTDIR)$(APACHE_CONFDIR)/$$f || \
		test -L $(DESTDIR)$(APACHE_CONFDIR)/$$f || \
		{ install -m 0600 $(OUT)/conf/$$f $(DESTDIR)$(APACHE_CONFDIR)/$$f && \
		$(CONFFILE) record "$(DESTDIR)" $(APACHE_CONFDIR)/$$f $(CONFFILES); } || exit 1; done
else
	@echo "install: no $(APACHE_CONFDIR)/mods-available, so no .load, .conf or snippets (see the README's Configuration)"
endif
ifeq ($(FAIL2BAN_CONF),yes)
	for f in $(FAIL2BAN_FILES); do $(CONFFILE) install 0644 conf/fail2ban/$$f "$(DESTDIR)" \
		$(FAIL2BAN_DIR)/$$f $(CONFFILES) || exit 1; done
endif

# What install put there, and nothing else: each file it recorded (the
# module, the CLI, those in /etc, the DBDParams files it made) only while
# it is still that, so an edited one stays (a DBDParams file once it holds
# the site's DBDParams), and so does one install did not put there.  An
# enabled link goes once what it leads to is gone, or the module is, so
# that httpd still starts (a snippet without the module stops it).
uninstall:
	for f in $(INSTALL_BIN); do $(CONFFILE) remove "$(DESTDIR)" $$f $(CONFFILES) || exit 1; done
ifeq ($(APACHE_CONF),yes)
	for f in $(APACHE_FILES); do $(CONFFILE) remove "$(DESTDIR)" $(APACHE_CONFDIR)/$$f $(CONFFILES) || exit 1; done
	for f in $(DBD_CONF); do $(CONFFILE) remove "$(DESTDIR)" $(APACHE_CONFDIR)/$$f $(CONFFILES) || exit 1; done
	for l in $(APACHE_ENABLED); do \
		if [ -L $(DESTDIR)$(APACHE_CONFDIR)/$$l ] && { [ ! -e $(DESTDIR)$(APACHE_CONFDIR)/$$l ] || \
			[ ! -e $(DESTDIR)$(LIBEXECDIR)/mod_bbtoken.so ]; }; then \
			rm -f $(DESTDIR)$(APACHE_CONFDIR)/$$l && echo "uninstall: removed $$l"; fi; \
	done
endif
ifeq ($(FAIL2BAN_CONF),yes)
	for f in $(FAIL2BAN_FILES); do $(CONFFILE) remove "$(DESTDIR)" $(FAIL2BAN_DIR)/$$f $(CONFFILES) || exit 1; done
endif
	rm -f $(DESTDIR)$(CONFFILES) \
		$(DESTDIR)$(MANDIR)/man1/bbtoken.1 $(DESTDIR)$(MANDIR)/man5/mod_bbtoken.5 \
		$(DESTDIR)$(COMPLETIONSDIR)/bbtoken $(DESTDIR)$(DOCDIR)/examples/bbtoken.cron \
		$(DBD_CONF:%=$(DESTDIR)$(SHAREDIR)/%) $(SHARE_FILES:%=$(DESTDIR)$(SHAREDIR)/%)
	for d in $(SHAREDIR)/sql/migrations $(SHAREDIR)/sql $(SHAREDIR)/routes $(SHAREDIR)/www \
		$(SHAREDIR) $(DOCDIR)/examples $(DOCDIR); do \
		if [ -d $(DESTDIR)$$d ]; then rmdir --ignore-fail-on-non-empty $(DESTDIR)$$d; fi; \
	done

# ---- the Debian package -----------------------------------------------------
# dpkg-buildpackage on a copy of this tree (its results land next to the
# tree it builds, so in build/deb/ rather than beside the checkout).

DEB_PACKAGE := libapache2-mod-bbtoken
DEB_DIR := build/deb
DEB_ARCH = $(shell dpkg-architecture -qDEB_HOST_ARCH)

deb:
	@v=$$(dpkg-parsechangelog -S Version) && [ "$$v" = "$(VERSION)" ] || \
		{ echo "deb: debian/changelog is at version $$v, VERSION says $(VERSION)" >&2; exit 1; }
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src $(OUT)
	tar -cf - --exclude=./.git --exclude=./build/out --exclude=./build/obj --exclude=./build/deb --exclude=./build/asan \
		--exclude=./t/browser/node_modules . | tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc -jauto
	cp $(DEB_DIR)/$(DEB_PACKAGE)_$(VERSION)_$(DEB_ARCH).deb $(OUT)/

clean:
	rm -rf $(OUT) $(OBJ) $(DEB_DIR) $(ASAN_DIR)

.PHONY: all unit fuzz asan man install uninstall deb clean FORCE
