# edgeplane: `make up` runs the main job, `make test` runs every check. Both install what
# they need (npm packages, Debian packages, servers built from Go modules) and cache it.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export ONNXRUNTIME_NODE_INSTALL := skip
export EDGEPLANE_CACHE ?= $(HOME)/.cache/edgeplane
NPX := npx --no-install

.PHONY: help deps npm-deps apt-deps servers python-env dashboard typecheck crds check-crds test test-unit test-integration test-cluster up bench agent-binary control-plane-binary images clean

help:
	@echo "make up            run the main job: servers, CRDs, control plane, agents, live table"
	@echo "make test          install what is missing, type-check, check crds/, run every test"
	@echo "make agent-binary  build dist/edgeplane-agent (Node single-executable application)"
	@echo "make images        build OCI images (layout + k3s archive) under dist/images/"
	@echo "make crds          regenerate crds/ from the zod schemas"

deps: npm-deps apt-deps servers python-env

# npm ci only when package-lock.json changed since the last install.
npm-deps: node_modules/.installed
node_modules/.installed: package-lock.json package.json */package.json
	npm ci --no-audit --no-fund
	@touch $@

# redis-server for the tests' Redis; shellcheck for the agent install script's check; openssl
# for the test cluster's kubelet certificates.
APT_TOOLS := redis-server:redis-server shellcheck:shellcheck openssl:openssl
# The test cluster (docs/cluster.md): runc's seccomp (libseccomp-dev), the pod network's
# masquerade and kube-proxy (iptables), the probe image's static busybox.
# The dashboard's browser tests: Debian's Chromium, driven by playwright-core.
APT_FILES := /usr/include/seccomp.h:libseccomp-dev /usr/sbin/iptables:iptables /usr/share/doc/busybox-static:busybox-static /usr/bin/chromium:chromium
apt-deps:
	@missing=""; for pair in $(APT_TOOLS); do command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	for pair in $(APT_FILES); do [ -e $${pair%%:*} ] || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then echo "[deps] installing from Debian:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@# Debian's package starts a system redis on 6379; the tests start their own on free ports.

servers:
	@bash env/build-servers.sh

# The Python clients the conformance suite drives the agent with (Triton's, KServe's,
# perf_analyzer), in a virtualenv under the cache keyed by their pinned versions. Without one
# the suite skips and says why, so this never fails the build.
python-env:
	@bash env/python/python-env.sh >/dev/null || echo "[deps] no Python client environment: the conformance suite will be skipped"

# The dashboard's page (dashboard/dist/), which the control plane serves. The build skips
# itself when the content hash of its inputs matches the last build's.
dashboard: npm-deps
	@npm run --silent -w @edgeplane/dashboard build

# The dashboard's browser code has DOM types, not Node's: its own tsconfig.
typecheck: npm-deps
	$(NPX) tsc -p tsconfig.json --noEmit
	$(NPX) tsc -p dashboard/tsconfig.json --noEmit

crds: npm-deps
	npm run --silent gen:crds

check-crds: npm-deps
	npm run --silent check:crds

# vitest's own summary is not a line every CI reads, so end with "tests: N passed, N failed; files: ...".
# The previous report is deleted first so that a run that writes none is never summarised by it.
# images: the cluster suite installs the chart from dist/images (without them it is skipped).
# The type-check (one core's work) runs beside the CRD check and the builds, which are one at a
# time on the other core; its output is printed after theirs, and either failing stops here.
test: deps
	@mkdir -p .cache; $(MAKE) --no-print-directory typecheck > .cache/typecheck.log 2>&1 & typecheck=$$!; \
	status=0; $(MAKE) --no-print-directory check-crds dashboard images || status=$$?; \
	wait $$typecheck || status=$$?; cat .cache/typecheck.log; exit $$status
	@mkdir -p .cache; rm -f .cache/vitest-report.json; status=0; \
	$(NPX) vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest-report.json || status=$$?; \
	npx --no-install tsx scripts/test-summary.ts .cache/vitest-report.json --vitest-exit $$status || status=1; \
	exit $$status

test-unit: npm-deps
	$(NPX) vitest run --project unit

test-integration: deps
	$(NPX) vitest run --project integration

# The single-node cluster suite alone (make test runs it too: the vitest project `cluster`):
# the node, the product images as pods, and the chart installed from dist/images (test/cluster/).
# Without root, cgroups, overlayfs or iptables it is skipped with the reason in its name.
test-cluster: deps images
	$(NPX) vitest run --project cluster

up: deps dashboard
	npm run --silent up

bench: deps
	npm run --silent bench -- $(ARGS)

agent-binary: npm-deps
	npm run --silent -w @edgeplane/agent build:binary

control-plane-binary: npm-deps dashboard
	npm run --silent -w @edgeplane/control-plane build:binary

# OCI image layouts dist/images/<name>/ and archives dist/images/<name>.oci.tar (k3s air-gap
# folder, ctr images import) for control-plane, agent, nats-server and redis-server.
images: agent-binary control-plane-binary servers
	$(NPX) tsx images/src/build.ts

clean:
	rm -rf dist node_modules/.installed
