# ztna build. One Makefile, no generated build system: the tree is small and
# every target is spelled out here.
#
#   make            libztna, the three daemons and the ztna tool (build/)
#   make SAN=1      the same under ASan+UBSan (build-san/)
#   make SAN=thread the same under ThreadSanitizer (build-tsan/)
#   make ARCH=arm64 cross-built for arm64 with Debian's cross toolchain and
#                   :arm64 libraries (build-arm64/); `make ARCH=arm64 unit`
#                   runs the unit and simulator tests under qemu-user
#                   (scripts/arm64.sh installs what it needs)
#   make test       installs Debian deps, runs unit, sim, fuzz and netns tests,
#                   plain and sanitized (scripts/test.sh)
#   make check      the fast suites only, no apt: plain build, unit and
#                   simulator tests, then make mutants
#   make mutants    every mutant in tests/mutants.list must fail make unit
#                   (scripts/mutants.sh)
#   make demo       whole system in network namespaces (scripts/demo.sh)
#   make bench      throughput and RTT beside peer tunnels (bench/run.sh)
#   make bench-flood  spoofed-Initial flood vs. an established session
#   make bench-steer  cost of the workers' steering program (loopback)
#   make bench-workers  the relay with 1 and 2 Intermediate workers
#   make bench-scale  thousands of peers at one Intermediate (bench/scale.sh)
#   make bench-lossy  TCP/UDP with and without the tunnel on a lossy link
#   make soak       an hour of traffic with faults (scripts/soak.sh)
#   make install    PREFIX=/usr/local DESTDIR= (binaries, example configs,
#                   systemd units)
#   make deb        the Debian package in dist/ (debian/, docs/deploy-systemd.md)

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?= 0
ARCH    ?=

# Cross-building (ARCH=arm64): the Debian cross compiler, pkg-config
# reading only the :arm64 multiarch .pc files, and the tests run through
# qemu-user (RUN prefixes each test binary in `make unit`).
PKG_CONFIG ?= pkg-config
RUN     :=
ifeq ($(ARCH),arm64)
CC      := aarch64-linux-gnu-gcc
AR      := aarch64-linux-gnu-ar
PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config
# timeout: a test that hangs under emulation fails the run instead of
# holding it forever.
RUN     := env ZT_UNDER_QEMU=qemu-aarch64 timeout 600 qemu-aarch64 -L /usr/aarch64-linux-gnu
else ifneq ($(ARCH),)
$(error ARCH=$(ARCH): only ARCH=arm64 (or none, the host) is supported)
endif

PKGS    := libngtcp2 libngtcp2_crypto_gnutls gnutls libnftables libnetfilter_conntrack \
	libmicrohttpd \
	libmnl
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

# CFLAGS, LDFLAGS and LDLIBS belong to the user (`make CFLAGS=-O0`
# replaces them whole); what the tree needs to build at all lives in the
# ZT_ variables, which are always added.
CFLAGS  ?= -O2 -g
ZT_CFLAGS  := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Icore -Iplatform \
	$(PKG_CFLAGS)
ZT_LDFLAGS :=
ZT_LDLIBS  := $(PKG_LIBS)

ifeq ($(ARCH),arm64)
BUILD   := build-arm64
else ifeq ($(SAN),1)
BUILD   := build-san
ZT_CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
ZT_LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SAN),thread)
# The Intermediate's workers (tests/netns/workers.sh) under ThreadSanitizer.
BUILD   := build-tsan
ZT_CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer
ZT_LDFLAGS += -fsanitize=thread
else
BUILD   := build
endif
ALL_CFLAGS  = $(ZT_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(ZT_LDFLAGS) $(LDFLAGS)
ALL_LDLIBS  = $(LDLIBS) $(ZT_LDLIBS)

CORE_SRC := $(wildcard core/*.c)
PLAT_SRC := $(wildcard platform/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
PLAT_OBJ := $(PLAT_SRC:%.c=$(BUILD)/%.o)
LIBZTNA  := $(BUILD)/libztna.a
LIBPLAT  := $(BUILD)/libztna-platform.a
DASH_ASSETS := dashboard/index.html dashboard/dashboard.css dashboard/dashboard.js
DASH_SRC := $(BUILD)/gen/dashboard_assets.c
DASH_OBJ := $(BUILD)/gen/dashboard_assets.o

DAEMONS  := intermediate connector agent
BINS     := $(DAEMONS:%=$(BUILD)/ztna-%) $(BUILD)/ztna
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
CERT_CMD_TEST := $(BUILD)/tests/test_cert_cmd
PING_CMD_TEST := $(BUILD)/tests/test_ping_cmd
SIM_SRC  := $(wildcard tests/sim/test_*.c)
SIM_BIN  := $(SIM_SRC:tests/sim/%.c=$(BUILD)/tests/%)
# The simulator's shared parts: every tests/sim/*.c that is not a test.
SIM_LIB_OBJ := $(patsubst %.c,$(BUILD)/%.o,\
	$(filter-out $(SIM_SRC),$(wildcard tests/sim/*.c)))
# The namespace tests' delay-and-loss bridge (tests/tools/delayfwd.c): no
# netem on the test machines. Links with nothing of ours.
DELAYFWD := $(BUILD)/tests/delayfwd

.PHONY: all bins deb test unit check mutants demo bench bench-flood bench-steer bench-scale bench-workers bench-lossy bench-profile soak install clean fuzz
all: $(BINS) $(UNIT_BIN) $(SIM_BIN) $(DELAYFWD)
# The shipped programs only (debian/rules builds these).
bins: $(BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The version is written once, in VERSION; `--version` of the daemons and of
# the ztna tool prints it, and `make deb` checks debian/changelog against it.
VERSION := $(shell cat VERSION)
$(BUILD)/platform/daemon.o $(BUILD)/tools/ztna.o: ZT_CFLAGS += -DZTNA_VERSION='"$(VERSION)"'
$(BUILD)/platform/daemon.o $(BUILD)/tools/ztna.o: VERSION

$(LIBZTNA): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBPLAT): $(PLAT_OBJ) $(DASH_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# The dashboard's page, style and script, compiled into the platform
# library as byte arrays (scripts/embed.sh): the daemon reads no files and
# fetches nothing to serve them (docs/dashboard.md).
$(DASH_SRC): $(DASH_ASSETS) scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $@ $(DASH_ASSETS)
$(DASH_OBJ): $(DASH_SRC)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Each daemon is every .c file in its directory, linked with both libraries.
define daemon_rule
$(BUILD)/ztna-$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard daemons/$(1)/*.c)) $(LIBPLAT) $(LIBZTNA)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(ALL_LDLIBS)
endef
$(foreach d,$(DAEMONS),$(eval $(call daemon_rule,$(d))))

$(BUILD)/ztna: $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/*.c)) $(LIBPLAT) $(LIBZTNA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

# Static pattern rules, not implicit chains: with a chain (binary <- %.o
# <- %.c) make treats the test objects as intermediate and deletes them
# after linking, and the next run, which learns of them from their .d
# files, compiled them all again.
$(filter-out $(CERT_CMD_TEST) $(PING_CMD_TEST),$(UNIT_BIN)): $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBPLAT) $(LIBZTNA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

# The ztna tool's commands are tested as functions, without a shell: its
# objects other than main() link into that test.
$(CERT_CMD_TEST): $(BUILD)/tests/unit/test_cert_cmd.o $(BUILD)/tools/cert_cmd.o $(BUILD)/tools/pemfile.o $(LIBPLAT) $(LIBZTNA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(PING_CMD_TEST): $(BUILD)/tests/unit/test_ping_cmd.o $(BUILD)/tools/ping_cmd.o $(BUILD)/tools/ctlclient.o $(LIBPLAT) $(LIBZTNA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(SIM_BIN): $(BUILD)/tests/%: $(BUILD)/tests/sim/%.o $(SIM_LIB_OBJ) $(LIBPLAT) $(LIBZTNA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(DELAYFWD): $(BUILD)/tests/tools/delayfwd.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

unit: $(UNIT_BIN) $(SIM_BIN)
	@set -e; for t in $(UNIT_BIN) $(SIM_BIN); do echo "== $$t"; $(RUN) $$t; done

# One after the other: unit must not start before the build is done, and
# the mutants build a copy of the tree of their own.
check:
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) mutants

mutants:
	bash scripts/mutants.sh

# libFuzzer targets: clang, core sources only, ASan+UBSan.
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Icore $(PKG_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz: $(FUZZ_BIN)
build-fuzz/%: fuzz/%.c $(CORE_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^ $(PKG_LIBS)

# The rtnetlink parser is Linux's, so it lives in platform/; it is pure all
# the same and fuzzed like the core's parsers.
build-fuzz/fuzz_netlink: fuzz/fuzz_netlink.c platform/nlparse.c $(CORE_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Iplatform -o $@ $^ $(PKG_LIBS)

# Worker steering: the model against the classic BPF program it describes
# (pure, in platform/ because it is Linux's socket filter format).
build-fuzz/fuzz_steer: fuzz/fuzz_steer.c platform/steerprog.c $(CORE_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Iplatform -o $@ $^ $(PKG_LIBS)

# Node-level targets drive a whole node: every core source but the real
# QUIC layer, which fuzz/mock_quic.c replaces (a handshake per input would
# be far too slow), plus the drivers' shared helpers.
FUZZ_NODE_BIN := build-fuzz/fuzz_intermediate build-fuzz/fuzz_connector
FUZZ_NODE_SRC := $(filter-out core/quic.c,$(CORE_SRC)) fuzz/mock_quic.c fuzz/node_input.c
$(FUZZ_NODE_BIN): build-fuzz/%: fuzz/%.c $(FUZZ_NODE_SRC) $(wildcard fuzz/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Wall -Wextra -Werror -Ifuzz -o $@ $(filter %.c,$^) $(PKG_LIBS)

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

bench:
	bash bench/run.sh

# The handshake flood against the real daemons (bench/flood.sh).
$(BUILD)/bench/flood: $(BUILD)/bench/flood.o $(LIBZTNA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

bench-flood:
	bash bench/flood.sh

# What the Intermediate workers' steering program costs per datagram, and
# how evenly it spreads keys (bench/steer.c; docs/performance.md).
$(BUILD)/bench/steer: $(BUILD)/bench/steer.o $(LIBPLAT) $(LIBZTNA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

bench-steer: $(BUILD)/bench/steer
	$(BUILD)/bench/steer

# Thousands of agents and connectors from one process against the real
# Intermediate (bench/loadgen.c, bench/scale.sh; docs/performance.md).
$(BUILD)/bench/loadgen: $(BUILD)/bench/loadgen.o $(LIBZTNA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

bench-scale:
	bash bench/scale.sh

# The relayed path with 1 and 2 Intermediate workers in one run
# (bench/workers.sh; docs/performance.md).
bench-workers: bins
	bash bench/workers.sh

# Loss and delay on the Intermediate's link, per QUIC congestion controller
# (bench/lossy.sh; docs/performance.md).
bench-lossy:
	bash bench/lossy.sh

# Where the relay path's time goes: CPU per MB, syscalls per packet, perf
# shares per library (bench/profile.sh; docs/performance.md).
bench-profile:
	bash bench/profile.sh

# An hour of mixed traffic with a fault every few minutes (scripts/soak.sh);
# figures in docs/reliability.md. Not part of make test.
soak: all
	bash scripts/soak.sh

# systemd units go where systemd looks for a PREFIX's units, with the
# binaries' real path filled in.
# The units run as the ztna user: its sysusers.d entry goes where
# systemd-sysusers reads it (run `systemd-sysusers` after installing).
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/ztna/examples $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(SYSUSERSDIR)
	install -m 0644 deploy/systemd/ztna.sysusers $(DESTDIR)$(SYSUSERSDIR)/ztna.conf
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 deploy/config/*.json $(DESTDIR)/etc/ztna/examples/
	for u in deploy/systemd/*.service; do \
	  sed 's|@BINDIR@|$(PREFIX)/bin|' $$u >$(DESTDIR)$(UNITDIR)/$$(basename $$u) && \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u) || exit 1; \
	done

# The Debian package (debian/), built in build-deb/ with Debian's hardening
# flags, moved to dist/. debian/changelog must carry the version of VERSION.
deb:
	bash scripts/deps.sh deb
	@v=$$(dpkg-parsechangelog -S Version); [ "$$v" = "$(VERSION)" ] || \
	  { echo "make deb: debian/changelog says $$v, VERSION says $(VERSION)" >&2; exit 1; }
	dpkg-buildpackage -b -us -uc
	@mkdir -p dist
	mv ../ztna_$(VERSION)_*.buildinfo ../ztna_$(VERSION)_*.changes ../ztna*_$(VERSION)_*.deb dist/
	lintian --info dist/ztna_$(VERSION)_*.changes || true
	@ls -l dist/ztna_$(VERSION)_*.deb

clean:
	rm -rf build build-san build-arm64 build-fuzz build-deb dist

# This build's dependency files only (the other build's name other targets).
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
