# bench.mk: `make bench` (root, network namespaces): each benchmark against
# its baseline in the same run; prints a table of figures and ratios and
# writes tests/bench/results.json. BENCH_QUICK=1 for a smaller, faster run
# (results in build/bench/results-quick.json). See tests/bench/run.sh.
.PHONY: bench bench-quick

bench: all
	./tests/bench/run.sh

bench-quick: all
	BENCH_QUICK=1 ./tests/bench/run.sh

# `make bench-outbound`: only the outbound lock's goals (O1, O2; also phase O
# of `make bench`), in their own lab; results in build/bench/results-outbound.json.
.PHONY: bench-outbound
bench-outbound: all
	./tests/bench/outbound.sh

# `make bench-seal`: the audit writer with and without sealing, taking turns
# in one run (tests/bench/audit_seal.c); no root, no lab.
.PHONY: bench-seal
$(BUILD)/bench/audit_seal: tests/bench/audit_seal.c $(BUILD)/libmxcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libmxcore.a $(LDFLAGS) $(LDLIBS)

bench-seal: $(BUILD)/bench/audit_seal
	$(BUILD)/bench/audit_seal
