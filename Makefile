# ztna build. One Makefile, no generated build system: the tree is small and
# every target is spelled out here.
#
#   make            libztna, the three daemons and the ztna tool (build/)
#   make SAN=1      the same under ASan+UBSan (build-san/)
#   make test       installs Debian deps, runs unit, sim, fuzz and netns tests,
#                   plain and sanitized (scripts/test.sh)
#   make check      the fast suites only, no apt: plain build, unit and
#                   simulator tests, then make mutants
#   make mutants    every mutant in tests/mutants.list must fail make unit
#                   (scripts/mutants.sh)
#   make demo       whole system in network namespaces (scripts/demo.sh)
#   make bench      throughput and RTT beside peer tunnels (bench/run.sh)
#   make bench-flood  spoofed-Initial flood vs. an established session
#   make bench-lossy  TCP/UDP with and without the tunnel on a lossy link
#   make soak       an hour of traffic with faults (scripts/soak.sh)
#   make install    PREFIX=/usr/local DESTDIR= (binaries, example configs,
#                   systemd units)

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?= 0

PKGS    := libngtcp2 libngtcp2_crypto_gnutls gnutls libnftables libnetfilter_conntrack \
	libmicrohttpd \
	libmnl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# CFLAGS, LDFLAGS and LDLIBS belong to the user (`make CFLAGS=-O0`
# replaces them whole); what the tree needs to build at all lives in the
# ZT_ variables, which are always added.
CFLAGS  ?= -O2 -g
ZT_CFLAGS  := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Icore -Iplatform \
	$(PKG_CFLAGS)
ZT_LDFLAGS :=
ZT_LDLIBS  := $(PKG_LIBS)

ifeq ($(SAN),1)
BUILD   := build-san
ZT_CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
ZT_LDFLAGS += -fsanitize=address,undefined
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

.PHONY: all test unit check mutants demo bench bench-flood bench-lossy soak install clean fuzz
all: $(BINS) $(UNIT_BIN) $(SIM_BIN) $(DELAYFWD)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIBZTNA): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBPLAT): $(PLAT_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

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
	@set -e; for t in $(UNIT_BIN) $(SIM_BIN); do echo "== $$t"; $$t; done

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

# Loss and delay on the Intermediate's link, per QUIC congestion controller
# (bench/lossy.sh; docs/performance.md).
bench-lossy:
	bash bench/lossy.sh

# An hour of mixed traffic with a fault every few minutes (scripts/soak.sh);
# figures in docs/reliability.md. Not part of make test.
soak: all
	bash scripts/soak.sh

# systemd units go where systemd looks for a PREFIX's units, with the
# binaries' real path filled in.
UNITDIR ?= $(PREFIX)/lib/systemd/system
install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/ztna/examples $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 deploy/config/*.json $(DESTDIR)/etc/ztna/examples/
	for u in deploy/systemd/*.service; do \
	  sed 's|@BINDIR@|$(PREFIX)/bin|' $$u >$(DESTDIR)$(UNITDIR)/$$(basename $$u) && \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u) || exit 1; \
	done

clean:
	rm -rf build build-san build-fuzz

# This build's dependency files only (the other build's name other targets).
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
