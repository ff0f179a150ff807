# `make demo`, `make test` and `make bench` do all set-up on a fresh machine (ci/setup), then build and run.
.PHONY: setup build test demo demo-java bench clean

setup:
	bash ci/setup

build: setup
	bash ci/build

test: build
	bash ci/test

demo: build
	bash ci/demo

demo-java: build
	bash ci/demo-java

# Not part of `make test`: minutes of timing. BENCH_QUICK=1 for a short development run.
bench: build
	bash ci/bench

clean:
	rm -rf build dist target
