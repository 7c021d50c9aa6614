# mxlock: build, test, install. See README.md.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/mxlock
SYSCONFDIR ?= /etc
DESTDIR ?=

CC ?= cc
PKGS := libmnl libnftnl libnetfilter_queue libcap zlib libsodium
# pkg-config runs when a compile or link first needs the flags, never when
# this file is read: `make demo` and `make check` install the -dev packages
# (deps) first, and on a fresh machine the flags must be read after that.
# Each is asked once and kept. A missing library stops the build with a
# message that says what to do, not with undefined references.
PKG_OK = $(eval PKG_OK := $$(shell pkg-config --exists $(PKGS) && echo yes))$(PKG_OK)
pkg_flags = $(if $(PKG_OK),$(shell pkg-config $(1) $(PKGS)),$(error pkg-config does not find all of $(PKGS): run `make deps` as root (or with sudo) first))
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(call pkg_flags,--cflags))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $$(call pkg_flags,--libs))$(PKG_LIBS)

WARN := -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
        -Wpointer-arith -Wcast-qual -Wsign-compare -Wno-unused-parameter
ifeq ($(CI),true)
WERROR ?= 1
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif

ifeq ($(SANITIZE),1)
BUILD ?= build-san
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1 -g
else
BUILD ?= build
SAN :=
OPT := -O2 -g
endif

CPPFLAGS += -D_GNU_SOURCE -DMXLOCK_DATADIR='"$(DATADIR)"' -Isrc -Isrc/net -Irules -Infq
CFLAGS += -std=gnu11 $(OPT) $(WARN) $(SAN) $(PKG_CFLAGS)
LDFLAGS += $(SAN)
LDLIBS += $(PKG_LIBS) -lresolv

MAINS := src/mxlockd.c src/mxlock.c
CORE_SRC := $(filter-out $(MAINS),$(wildcard src/*.c src/*/*.c rules/*.c nfq/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all clean check unit e2e deps deps-demo demo fuzz bench unit-bins

all: $(BUILD)/mxlockd $(BUILD)/mxlock

$(BUILD)/%.o: %.c $(wildcard src/*.h src/*/*.h rules/*.h nfq/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libmxcore.a: $(CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/mxlockd: $(BUILD)/src/mxlockd.o $(BUILD)/libmxcore.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/mxlock: $(BUILD)/src/mxlock.o $(BUILD)/libmxcore.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libmxcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libmxcore.a $(LDFLAGS) $(LDLIBS) -lcmocka

unit-bins: $(UNIT_BIN)

# Manual pages, one scdoc source each (docs/man/NAME.SECTION.scd).
MAN_SRC := $(wildcard docs/man/*.scd)
MAN_OUT := $(MAN_SRC:docs/man/%.scd=$(BUILD)/man/%)
.PHONY: man
man: $(MAN_OUT)
$(BUILD)/man/%: docs/man/%.scd
	@mkdir -p $(dir $@)
	scdoc <$< >$@.tmp && mv $@.tmp $@

# Debian packages (idempotent): deps for the tests, deps-demo for the demo.
deps:
	./tests/deps.sh test
deps-demo:
	./tests/deps.sh demo

# Unit tests only (no root needed).
unit: $(UNIT_BIN)
	./tests/run --unit $(BUILD)

# All tests: unit (plain and sanitized), fuzz smoke, end-to-end.
# Each step after deps is a new make, so that it reads the flags of the
# packages deps has just installed.
check: deps
	$(MAKE) all unit-bins
	$(MAKE) SANITIZE=1 all unit-bins
	$(MAKE) fuzz-build
	./tests/run --all

demo: deps-demo
	$(MAKE) all
	./tests/demo.sh

clean:
	rm -rf build build-san build-fuzz

-include fuzz.mk
-include packaging.mk
-include bench.mk
