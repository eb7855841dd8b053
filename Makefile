# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall top-level Makefile.
#
#   make            build build/landfall
#   make check      unit tests, integration tests and fuzz-corpus replay,
#                   and all of it again built with ASan+UBSan (build-asan/),
#                   the two passes running side by side
#   make check-unit, check-integration, check-fuzz-corpus
#                   one part, one build (BUILD=build-asan SAN=1 for ASan);
#                   TESTS="test-a.sh ..." picks integration scripts
#   make demo       install dependencies, convert a built-in sample, show it
#   make bench      benchmarks against qemu-img (timings only here)
#   make fuzz       libFuzzer targets (clang) in build-fuzz/
#   make deps       install build and test dependencies (Debian 12, root)
#   make install    PREFIX=/usr/local DESTDIR=

BUILD   ?= build
PREFIX  ?= /usr/local
CC      ?= cc

# Each directory is one layer (DESIGN.md); only supervisor/ holds mains.
LIBDIRS := common convert guest initramfs hw bootfix bootfix/linux bootfix/windows verify

PKGS    := libcrypto zlib libdeflate libzstd jansson blkid fdisk ext2fs com_err libntfs-3g hivex liblzma liblz4 \
           devmapper
TESTPKGS := check

# A missing -dev package fails here, by name, before anything compiles.
# Goals that compile nothing in this make are exempt: deps installs the
# packages, and demo runs deps first and then builds in a new make (a
# fresh machine's first command must reach its own install step).
NOPKG_GOALS := deps clean demo
ifneq ($(filter-out $(NOPKG_GOALS),$(or $(MAKECMDGOALS),all)),)
PKG_CHECK := $(shell pkg-config --exists --print-errors $(PKGS) 2>&1)
ifneq ($(PKG_CHECK),)
$(error $(PKG_CHECK) -- run 'make deps' (as root) first)
endif
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lbz2  # bzip2 has no .pc
# libguestfs is optional (a workstation backend): compiled in when present,
# unless GUESTFS=no (the appliance: it would pull libvirt and ICU in).
GUESTFS ?= auto
ifeq ($(GUESTFS)$(shell pkg-config --exists libguestfs && echo yes),autoyes)
PKG_CFLAGS += $(shell pkg-config --cflags libguestfs) -DHAVE_LIBGUESTFS
PKG_LIBS   += $(shell pkg-config --libs libguestfs)
endif

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wshadow -Wvla -Werror \
           -Wformat=2 -Wmissing-prototypes -Wno-format-nonliteral \
           -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread \
           -DLF_HW_DIR='"$(PREFIX)/share/landfall/hw"' \
           -I. -I$(BUILD) $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -pthread

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

LIBSRCS  := $(foreach d,$(LIBDIRS),$(filter-out $(d)/test-%.c,$(wildcard $(d)/*.c)))
LIBOBJS  := $(patsubst %.c,$(BUILD)/%.o,$(LIBSRCS))
MAINSRCS := $(wildcard supervisor/*.c)
MAINOBJS := $(patsubst %.c,$(BUILD)/%.o,$(filter-out supervisor/test-%.c,$(MAINSRCS)))
# The job (parser, runner) without the CLI, for unit tests and fuzz targets.
SUPOBJS  := $(patsubst %.c,$(BUILD)/%.o,$(filter-out supervisor/main.c supervisor/cmd-%.c supervisor/test-%.c,$(MAINSRCS)))
UNITSRCS := $(foreach d,$(LIBDIRS) supervisor,$(wildcard $(d)/test-*.c))
UNITBINS := $(patsubst %.c,$(BUILD)/%,$(UNITSRCS))
FUZZSRCS := $(wildcard tests/fuzz/fuzz-*.c)
FUZZBINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZSRCS))
HEADERS  := $(foreach d,$(LIBDIRS) supervisor,$(wildcard $(d)/*.h))

.PHONY: all check check-one check-unit check-integration check-fuzz-corpus \
        demo bench fuzz deps install clean appliance

all: $(BUILD)/landfall

# V=1 shows the full commands.
Q := $(if $(V),,@)

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/liblandfall.a: $(LIBOBJS)
	@rm -f $@-t
	$(Q)$(AR) rcs $@-t $^
	$(Q)mv $@-t $@

$(BUILD)/libsupervisor.a: $(SUPOBJS)
	@rm -f $@-t
	$(Q)$(AR) rcs $@-t $^
	$(Q)mv $@-t $@

$(BUILD)/landfall: $(MAINOBJS) $(BUILD)/liblandfall.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit suites live beside the code they test (convert/test-vhd.c).
$(UNITBINS): $(BUILD)/%: %.c $(BUILD)/libsupervisor.a $(BUILD)/liblandfall.a $(HEADERS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CFLAGS) $(shell pkg-config --cflags $(TESTPKGS)) $(LDFLAGS) \
	  -o $@ $< $(BUILD)/libsupervisor.a $(BUILD)/liblandfall.a $(LDLIBS) $(shell pkg-config --libs $(TESTPKGS))

# Fuzz targets built without FUZZ_TARGET are corpus replayers.
$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/libsupervisor.a $(BUILD)/liblandfall.a $(HEADERS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libsupervisor.a $(BUILD)/liblandfall.a $(LDLIBS)

# check: everything normally and under ASan+UBSan, the two passes side by
# side (tests/check-both.sh says why).
check:
	MAKE="$(MAKE)" tests/check-both.sh

# SAN tells the tests which build this is: a QEMU boot under ASan adds
# minutes and proves nothing the normal build's boot does not.
check-one: $(BUILD)/landfall $(UNITBINS) $(FUZZBINS)
	BUILD=$(BUILD) SAN=$(SAN) tests/run-tests.sh

check-unit: $(UNITBINS)
	BUILD=$(BUILD) SAN=$(SAN) PARTS=unit tests/run-tests.sh

check-fuzz-corpus: $(FUZZBINS)
	BUILD=$(BUILD) SAN=$(SAN) PARTS=fuzz tests/run-tests.sh

check-integration: $(BUILD)/landfall
	BUILD=$(BUILD) SAN=$(SAN) PARTS=integration tests/run-tests.sh

# demo.sh builds (make all) itself, after deps: a $(MAKE) line here would
# run even under make -n and check packages that deps has yet to install.
demo: deps
	tests/demo.sh

bench: all
	tests/bench/bench-convert.sh
	tests/bench/bench-fix.sh
	tests/bench/bench-guestfs.sh
	tests/bench/bench-appliance.sh

# The bootable appliance (images/): its own landfall build, without
# libguestfs, then the kernel, initramfs and fixed VHD in images/out/.
appliance:
	$(MAKE) BUILD=build-appliance GUESTFS=no build-appliance/landfall
	images/mk-appliance.sh build-appliance/landfall images/out

# libFuzzer builds need clang.  The library is compiled once with fuzzer
# instrumentation (fuzzer-no-link) into build-fuzz/, then each target is
# linked with libFuzzer's main.  The tree also builds every target as a
# corpus replayer (above), which make check runs.
ifeq ($(FUZZ),1)
CC      := clang
CFLAGS  := -g -O1 $(filter-out -O2 -g -Werror,$(CFLAGS)) -DFUZZ_TARGET \
           -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
LDFLAGS += -fsanitize=fuzzer,address,undefined
endif

fuzz:
	$(MAKE) FUZZ=1 BUILD=build-fuzz $(patsubst $(BUILD)/%,build-fuzz/%,$(FUZZBINS))
	@echo "run e.g.: build-fuzz/fuzz/fuzz-vhd -max_total_time=60 tests/fuzz/corpus/vhd"

deps:
	tests/install-deps.sh

install: all
	install -D -m 0755 $(BUILD)/landfall $(DESTDIR)$(PREFIX)/bin/landfall
	install -d $(DESTDIR)$(PREFIX)/share/landfall/hw
	install -m 0644 hw/*.json $(DESTDIR)$(PREFIX)/share/landfall/hw/

clean:
	rm -rf build build-asan build-fuzz build-appliance images/out
