# ztna build. One Makefile, no generated build system: the tree is small and
# every target is spelled out here.
#
#   make            libztna, the three daemons and the ztna tool (build/)
#   make SAN=1      the same under ASan+UBSan (build-san/)
#   make test       installs Debian deps, runs unit, sim, fuzz and netns tests,
#                   plain and sanitized (scripts/test.sh)
#   make demo       whole system in network namespaces (scripts/demo.sh)
#   make bench      throughput and RTT beside peer tunnels (bench/run.sh)
#   make bench-flood  spoofed-Initial flood vs. an established session
#   make install    PREFIX=/usr/local DESTDIR= (binaries, example configs,
#                   systemd units)

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?= 0

PKGS    := libngtcp2 libngtcp2_crypto_gnutls gnutls
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Icore -Iplatform $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS)

ifeq ($(SAN),1)
BUILD   := build-san
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
else
BUILD   := build
endif

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
SIM_SRC  := $(wildcard tests/sim/test_*.c)
SIM_BIN  := $(SIM_SRC:tests/sim/%.c=$(BUILD)/tests/%)

.PHONY: all test unit demo bench bench-flood install clean fuzz
all: $(BINS) $(UNIT_BIN) $(SIM_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBZTNA): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBPLAT): $(PLAT_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# Each daemon is every .c file in its directory, linked with both libraries.
define daemon_rule
$(BUILD)/ztna-$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard daemons/$(1)/*.c)) $(LIBPLAT) $(LIBZTNA)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach d,$(DAEMONS),$(eval $(call daemon_rule,$(d))))

$(BUILD)/ztna: $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/*.c)) $(LIBPLAT) $(LIBZTNA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBPLAT) $(LIBZTNA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_sim%: $(BUILD)/tests/sim/test_sim%.o $(BUILD)/tests/sim/simnet.o $(BUILD)/tests/sim/world.o $(LIBPLAT) $(LIBZTNA)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit: $(UNIT_BIN) $(SIM_BIN)
	@set -e; for t in $(UNIT_BIN) $(SIM_BIN); do echo "== $$t"; $$t; done

# libFuzzer targets: clang, core sources only, ASan+UBSan.
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Icore $(PKG_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz: $(FUZZ_BIN)
build-fuzz/%: fuzz/%.c $(CORE_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^ $(PKG_LIBS)

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

bench:
	bash bench/run.sh

# The handshake flood against the real daemons (bench/flood.sh).
$(BUILD)/bench/flood: $(BUILD)/bench/flood.o $(LIBZTNA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-flood:
	bash bench/flood.sh

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

-include $(shell find build build-san -name '*.d' 2>/dev/null)
