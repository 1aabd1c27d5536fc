# dealchat — `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# pytest-xdist processes for make test (one per CPU; 0 runs in this process)
PYTEST_WORKERS ?= auto

CHROMIUM ?= /usr/bin/chromium
NOTO_CJK ?= /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
# ClamAV's daemon: the tests and the demo start their own clamd on the project's signatures
CLAMD ?= /usr/sbin/clamd
# xmlsec1 verifies and makes the XML signatures of SAML (pysaml2 calls the binary)
XMLSEC1 ?= /usr/bin/xmlsec1
# OpenLDAP's slapd: the directory sync tests start their own (tests/ldap), never the system one
SLAPD ?= /usr/sbin/slapd
# Samba's AD domain controller: tests/ldap/samba.py provisions one in a temporary directory (root)
SAMBA ?= /usr/sbin/samba
# Synapse (the Matrix homeserver the tests start) in its own virtualenv: its pins may clash with ours
SYNAPSE_VENV ?= .venv-synapse
SYNAPSE_STAMP := $(SYNAPSE_VENV)/.installed-stamp
SYNAPSE_SPEC ?= matrix-synapse>=1.100

# The OpenID provider (npm oidc-provider) the federation tests start, pinned by its package-lock
OIDC_DIR := tests/oidc
OIDC_STAMP := $(OIDC_DIR)/node_modules/.installed-stamp

# QuickFIX's own example acceptor `executor` (Debian's libquickfix-doc ships its C++ source), built
# against Debian's libquickfix-dev: the FIX counterparty the execution tests and bench/execution.py
# start (it fills every limit NewOrderSingle at its limit price; it rejects other order types).
EXECUTOR_SRC ?= /usr/share/doc/libquickfix-doc/examples/executor/C++
EXECUTOR ?= build/quickfix-executor/executor

.PHONY: help venv browser fonts clamav saml ldap synapse oidc executor faketime demo serve test test-clock lint fmt bench clean

help: ## list every target
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' ; test $${PIPESTATUS[0]} -eq 0
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install dealchat with its dev tools

demo: venv fonts ## start the platform on SQLite with demo data
	$(VENV)/bin/dealchat demo

serve: venv ## start the platform (settings from DEALCHAT_* variables)
	$(VENV)/bin/dealchat serve

lint: venv ## ruff and mypy
	$(VENV)/bin/ruff check src tests bench migrations
	$(VENV)/bin/ruff format --check src tests bench migrations
	$(VENV)/bin/mypy

fmt: venv ## format and autofix
	$(VENV)/bin/ruff format src tests bench migrations
	$(VENV)/bin/ruff check --fix src tests bench migrations

browser: ## install Debian's chromium for the browser tests (root), if it is missing
	@if [ -x $(CHROMIUM) ]; then echo "chromium: $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium missing and not root: browser tests will skip (fail under CI=true)"; fi

fonts: ## install Debian's fonts-noto-cjk (root) so evidence PDFs show Chinese, Japanese and Korean, if missing
	@if [ -f $(NOTO_CJK) ]; then echo "CJK font: $(NOTO_CJK)"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null \
	  && echo "CJK font: $(NOTO_CJK)"; \
	else echo "fonts-noto-cjk missing and not root: PDFs show CJK as '?', their tests skip (fail under CI=true)"; fi

clamav: ## install Debian's clamav-daemon (root) for the scanner tests and the demo, if missing
	@if [ -x $(CLAMD) ]; then echo "clamd: $(CLAMD)"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clamav-daemon >/dev/null \
	  && echo "clamd: $(CLAMD) (the tests and the demo start their own; the system clamd and freshclam are not used)"; \
	else echo "clamd missing and not root: install clamav-daemon; virus scanner tests will skip (fail under CI=true), the demo refuses uploads"; fi

saml: ## install Debian's xmlsec1 (root) for SAML single sign-on and its tests, if missing
	@if [ -x $(XMLSEC1) ]; then echo "xmlsec1: $(XMLSEC1)"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xmlsec1 >/dev/null \
	  && echo "xmlsec1: $(XMLSEC1)"; \
	else echo "xmlsec1 missing and not root: install xmlsec1; SAML login fails, its tests skip (fail under CI=true)"; fi

ldap: ## install Debian's slapd and samba (root) for the directory tests, if missing
	@if [ -x $(SLAPD) ]; then echo "slapd: $(SLAPD)"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd >/dev/null \
	  && echo "slapd: $(SLAPD) (the tests start their own; the system slapd is not used)"; \
	else echo "slapd missing and not root: install slapd; directory sync tests skip (fail under CI=true)"; fi
	@if [ -x $(SAMBA) ]; then echo "samba: $(SAMBA)"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq samba >/dev/null \
	  && echo "samba: $(SAMBA) (the Samba AD tests provision and start their own domain controller)"; \
	else echo "samba missing and not root: install samba; the Samba AD tests skip (fail under CI=true)"; fi

$(EXECUTOR): Makefile
	@set -e; if [ ! -f $(EXECUTOR_SRC)/executor.cpp ] || [ ! -f /usr/include/quickfix/Application.h ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq libquickfix-dev libquickfix-doc g++ pkg-config >/dev/null; \
	  else echo "libquickfix-dev/-doc missing and not root: FIX tests will skip (fail under CI=true)"; \
	    exit 0; fi; fi; \
	mkdir -p $(@D); \
	zcat -f $(EXECUTOR_SRC)/Application.cpp.gz > $(@D)/Application.cpp; \
	cp $(EXECUTOR_SRC)/Application.h $(EXECUTOR_SRC)/executor.cpp $(@D)/; \
	: > $(@D)/config.h; \
	g++ -std=c++11 -O2 -w -I$(@D) $$(pkg-config --cflags quickfix) $(@D)/Application.cpp \
	  $(@D)/executor.cpp -o $@ $$(pkg-config --libs quickfix) -lpthread; \
	echo "executor: $@ (QuickFIX's example from $(EXECUTOR_SRC), against libquickfix-dev)"

executor: $(EXECUTOR) ## build QuickFIX's executor example (Debian libquickfix-doc/-dev; root installs them)

$(SYNAPSE_STAMP): Makefile
	test -x $(SYNAPSE_VENV)/bin/python || python3 -m venv $(SYNAPSE_VENV)
	$(SYNAPSE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check '$(SYNAPSE_SPEC)' 2>&1 | grep -v '^WARNING: Location' ; test $${PIPESTATUS[0]} -eq 0
	touch $(SYNAPSE_STAMP)

synapse: $(SYNAPSE_STAMP) ## install the Matrix homeserver the tests start, in .venv-synapse

$(OIDC_STAMP): $(OIDC_DIR)/package.json $(OIDC_DIR)/package-lock.json
	@if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else echo "node/npm missing and not root: federation tests will skip (fail under CI=true)"; exit 0; fi; fi
	cd $(OIDC_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(OIDC_STAMP)

oidc: $(OIDC_STAMP) ## install the OpenID provider (npm oidc-provider) the federation tests start

test: lint browser fonts clamav saml ldap synapse oidc executor ## lint, then the whole test suite
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The tests that involve desk calendars, stated rates, holds and expiry, run under libfaketime at a
# Saturday and at Christmas (SQLite): what the wall clock's day must not change. Monotonic time is
# faked too: libfaketime 0.9.10 fails sleep() with EINVAL under FAKETIME_DONT_FAKE_MONOTONIC=1.
FAKETIME_LIB ?= /usr/lib/$(shell uname -m)-linux-gnu/faketime/libfaketime.so.1
CLOCK_TIMES ?= 2026-11-28 12:00:00,2026-12-25 10:00:00
CLOCK_TESTS ?= tests/controls tests/conversations tests/cli/test_commands.py tests/cli/test_demo_tour.py \
  tests/api/test_controls_views.py

faketime: ## install Debian's faketime for make test-clock (root), if it is missing
	@if [ -f $(FAKETIME_LIB) ]; then echo "faketime: $(FAKETIME_LIB)"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null; \
	else echo "faketime missing and not root: apt-get install faketime"; exit 1; fi

test-clock: venv faketime ## calendar-sensitive tests under faketime at a weekend and a holiday (apt: faketime)
	@set -e; times="$(CLOCK_TIMES)"; IFS=','; for at in $$times; do echo "== at $$at UTC"; \
	  LD_PRELOAD=$(FAKETIME_LIB) FAKETIME="@$$at" TZ=UTC \
	  $(VENV)/bin/pytest -q -p no:cacheprovider -k "not postgresql" $(CLOCK_TESTS); done

bench: venv executor ## run the benchmarks, results in bench/results/*.json (records.py: a few minutes)
	@set -e; for b in bench/[a-z]*.py; do echo "== $$b"; $(PY) $$b; done

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) $(SYNAPSE_VENV) $(OIDC_DIR)/node_modules build .pytest_cache .mypy_cache .ruff_cache
