# Sourced by scripts/run and scripts/test: find Python 3.11+, make .venv, install.
# Usage: setup_venv ""      (the service)   or   setup_venv "[test]" (with test tools)

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "PayFlow needs Python 3.11 or newer on PATH" >&2
  return 1
}

setup_venv() {
  local extra="$1"
  if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv ..." >&2
    "$(find_python)" -m venv .venv
  fi
  # Versions are pinned by scripts/constraints.txt. Reinstall only when the packaging
  # files change (or the extra asked for is new).
  local stamp=".venv/.payflow-installed${extra}"
  local wanted
  wanted="$(cat setup.cfg pyproject.toml scripts/constraints.txt | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "Installing PayFlow${extra} into .venv ..." >&2
    .venv/bin/python -m pip install --quiet --upgrade pip >&2
    .venv/bin/python -m pip install --quiet -c scripts/constraints.txt -e ".${extra}" >&2
    echo "$wanted" >"$stamp"
    if [ -n "$extra" ]; then echo "$wanted" >".venv/.payflow-installed"; fi  # service too
  fi
}
