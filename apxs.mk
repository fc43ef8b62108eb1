# Build mod_bbtoken.so, the bbtoken CLI and the C unit tests.
#   make -f apxs.mk            module and CLI into build/out/
#   make -f apxs.mk unit       unit-test binaries into build/out/t/
#   make -f apxs.mk fuzz       libFuzzer targets into build/out/fuzz/ (clang)
#   make -f apxs.mk install    module into `apxs -q LIBEXECDIR`, CLI into $(PREFIX)/bin,
#                              the tokens page into $(PREFIX)/share/mod_bbtoken/www
# apxs supplies httpd's and APR's flags; compiling ourselves keeps libtool's
# droppings out of the source tree.

APXS    ?= apxs
PREFIX  ?= /usr/local
CC      ?= cc
OUT     := build/out
OBJ     := build/obj

APR_CONFIG := $(firstword $(subst ;, ,$(shell $(APXS) -q APR_CONFIG)))
APU_CONFIG := $(lastword $(subst ;, ,$(shell $(APXS) -q APU_CONFIG)))
LIBEXECDIR := $(shell $(APXS) -q LIBEXECDIR)

# Warnings are errors here and in CI; a packager whose compiler warns where
# ours does not can build with `make -f apxs.mk WERROR=`.
WERROR   ?= -Werror
WARN     := -Wall -Wextra $(WERROR)
# Only the module record leaves mod_bbtoken.so (see mod_bbtoken.c).
BASEFLAGS := -O2 -g -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
             -fvisibility=hidden -pthread $(WARN)
HTTPD_INC := -I$(shell $(APXS) -q INCLUDEDIR) $(shell $(APR_CONFIG) --includes --cppflags) $(shell $(APU_CONFIG) --includes)
JANSSON  := $(shell pkg-config --cflags --libs jansson)
JANSSON_CFLAGS := $(shell pkg-config --cflags jansson)
JANSSON_LIBS := $(shell pkg-config --libs jansson)
PQ_INC   := -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

CORE    := bbt_input bbt_token bbt_perm bbt_cred bbt_route bbt_rules bbt_sqlstate \
           bbt_rules_load bbt_decide bbt_cachectl
GLUE    := mod_bbtoken bbt_config bbt_request bbt_routing bbt_authn bbt_authz \
           bbt_db bbt_logguard bbt_private bbt_rest
# Shared by the module and the CLI: libpq and jansson, nothing of httpd.
PGJSON  := bbt_pgjson
# The built-in route sets are routes/*.conf, compiled in as C strings.
SETS_C  := $(OBJ)/bbt_sets.c
CORE_SO := $(CORE:%=$(OBJ)/%.o)
CORE_O  := $(CORE_SO) $(OBJ)/bbt_sets.o
GLUE_O  := $(GLUE:%=$(OBJ)/%.o)
PGJSON_O := $(PGJSON:%=$(OBJ)/%.o)
UNITS   := $(patsubst t/unit/%.c,$(OUT)/t/%,$(filter-out t/unit/tap.c,$(wildcard t/unit/test_*.c)))
HEADERS := $(wildcard mod_bbtoken/*.h)
FUZZ_CC ?= clang
FUZZERS := $(patsubst t/fuzz/%.c,$(OUT)/fuzz/%,$(wildcard t/fuzz/fuzz_*.c))

all: $(OUT)/mod_bbtoken.so $(OUT)/bbtoken

$(OBJ) $(OUT) $(OUT)/t $(OUT)/fuzz:
	mkdir -p $@

$(CORE_SO): $(OBJ)/%.o: mod_bbtoken/%.c $(HEADERS) | $(OBJ)
	$(CC) $(BASEFLAGS) -c -o $@ $<

$(SETS_C): build/gen-sets.pl $(wildcard routes/*.conf) | $(OBJ)
	perl build/gen-sets.pl > $@.tmp
	mv $@.tmp $@

$(OBJ)/bbt_sets.o: $(SETS_C) mod_bbtoken/bbt_rules.h
	$(CC) $(BASEFLAGS) -Imod_bbtoken -c -o $@ $<

$(GLUE_O): $(OBJ)/%.o: mod_bbtoken/%.c $(HEADERS) | $(OBJ)
	$(CC) $(BASEFLAGS) $(HTTPD_INC) $(PQ_INC) $(JANSSON_CFLAGS) -c -o $@ $<

$(PGJSON_O): $(OBJ)/%.o: mod_bbtoken/%.c $(HEADERS) | $(OBJ)
	$(CC) $(BASEFLAGS) $(PQ_INC) $(JANSSON_CFLAGS) -c -o $@ $<

$(OUT)/mod_bbtoken.so: $(GLUE_O) $(PGJSON_O) $(CORE_O) | $(OUT)
	$(CC) -shared -o $@ $^ -lpq -lcrypto -lpcre2-8 $(JANSSON_LIBS)

# The CLI embeds sql/migrations/*.sql (generated header in $(OBJ)), so the
# installed bbtoken can create and upgrade the schema on its own.
$(OUT)/bbtoken: cli/bbtoken.c cli/embed-sql.sh $(sort $(wildcard sql/migrations/*.sql)) $(CORE_O) $(PGJSON_O) $(HEADERS) | $(OUT) $(OBJ)
	sh cli/embed-sql.sh $(sort $(wildcard sql/migrations/*.sql)) > $(OBJ)/bbtoken_migrations.h.tmp
	mv $(OBJ)/bbtoken_migrations.h.tmp $(OBJ)/bbtoken_migrations.h
	$(CC) $(BASEFLAGS) -Imod_bbtoken -I$(OBJ) $(PQ_INC) -o $@ cli/bbtoken.c $(CORE_O) $(PGJSON_O) -lpq -lcrypto -lpcre2-8 $(JANSSON)

$(OUT)/t/%: t/unit/%.c t/unit/tap.h $(CORE_O) | $(OUT)/t
	$(CC) $(BASEFLAGS) -Imod_bbtoken -It/unit -o $@ $< $(CORE_O) -lcrypto -lpcre2-8

unit: $(UNITS)

# The fuzzers compile the core from source with sanitizers of their own.
$(OUT)/fuzz/%: t/fuzz/%.c $(CORE:%=mod_bbtoken/%.c) $(SETS_C) $(HEADERS) | $(OUT)/fuzz
	$(FUZZ_CC) -g -O1 -pthread -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Imod_bbtoken -o $@ $< $(CORE:%=mod_bbtoken/%.c) $(SETS_C) -lcrypto -lpcre2-8

fuzz: $(FUZZERS)

install: all
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/mod_bbtoken/www
	install -m 0644 $(OUT)/mod_bbtoken.so $(DESTDIR)$(LIBEXECDIR)/mod_bbtoken.so
	install -m 0755 $(OUT)/bbtoken $(DESTDIR)$(PREFIX)/bin/bbtoken
	install -m 0644 www/tokens.html www/tokens.css www/tokens.js $(DESTDIR)$(PREFIX)/share/mod_bbtoken/www/

clean:
	rm -rf $(OUT) $(OBJ)

.PHONY: all unit fuzz install clean
