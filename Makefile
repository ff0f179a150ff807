# `make demo` and `make test` do all set-up on a fresh machine (ci/setup), then build and run.
.PHONY: setup build test demo demo-java clean

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

clean:
	rm -rf build dist target
