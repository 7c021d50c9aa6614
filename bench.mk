# bench.mk: `make bench` (root, network namespaces): each benchmark against
# its baseline in the same run; prints a table of figures and ratios and
# writes tests/bench/results.json. BENCH_QUICK=1 for a smaller, faster run
# (results in build/bench/results-quick.json). See tests/bench/run.sh.
.PHONY: bench bench-quick

bench: all
	./tests/bench/run.sh

bench-quick: all
	BENCH_QUICK=1 ./tests/bench/run.sh
