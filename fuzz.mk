# libFuzzer targets (clang, ASan + UBSan): every parser that reads outside
# input. `make fuzz` runs each for FUZZ_TIME seconds on its seed corpus.
FUZZ_CC ?= clang
FUZZ_BUILD := build-fuzz
FUZZ_TIME ?= 60
FUZZ_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_CORE_OBJ := $(CORE_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)

.PHONY: fuzz-build fuzz

$(FUZZ_BUILD)/obj/%.o: %.c $(wildcard src/*.h src/*/*.h rules/*.h nfq/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -std=gnu11 $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/libmxfuzz.a: $(FUZZ_CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libmxfuzz.a
	$(FUZZ_CC) $(CPPFLAGS) -std=gnu11 $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< \
		$(FUZZ_BUILD)/libmxfuzz.a $(PKG_LIBS) -lresolv

fuzz-build: $(FUZZ_BIN)

# Findings land in build-fuzz/findings/NAME; the seed corpora stay as committed.
fuzz: fuzz-build
	@set -e; for f in $(FUZZ_BIN); do \
		n=$${f##*/fuzz_}; mkdir -p $(FUZZ_BUILD)/corpus/$$n $(FUZZ_BUILD)/findings/$$n; \
		echo "== $$f ($(FUZZ_TIME) s)"; \
		$$f -max_total_time=$(FUZZ_TIME) -artifact_prefix=$(FUZZ_BUILD)/findings/$$n/ \
			$(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n; \
	done
