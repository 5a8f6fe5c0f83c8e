#!/usr/bin/env bash
# Dependency audit: pip-audit over the packages installed in .venv, against the PyPI advisory
# service (or AUDIT_SERVICE=osv). Fails on a known vulnerability unless scripts/audit-allowlist.txt
# lists it with a reason; when the service cannot be reached it says so and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."

PIP_AUDIT=.venv/bin/pip-audit
ALLOWLIST=scripts/audit-allowlist.txt
SERVICE=${AUDIT_SERVICE:-pypi}

if [[ ! -x $PIP_AUDIT ]]; then
  echo "audit: pip-audit is not installed; run: .venv/bin/pip install pip-audit" >&2
  exit 2
fi

report=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$report" "$errors"' EXIT

# Exit status 1 means "vulnerabilities found" or "could not run"; the JSON report tells which.
"$PIP_AUDIT" --vulnerability-service "$SERVICE" --skip-editable --progress-spinner off \
  --format json --output "$report" 2>"$errors" || true

exec .venv/bin/python - "$report" "$errors" "$ALLOWLIST" "$SERVICE" <<'PY'
"""Read pip-audit's JSON report, apply the reviewed allowlist, print a verdict, set the exit."""

import json
import sys
from pathlib import Path

report_path, errors_path, allowlist_path, service = sys.argv[1:5]


def unreachable(detail: str) -> None:
    print(f"audit: SKIPPED, the {service} vulnerability service could not be used: {detail}")
    print("audit: nothing was checked; run scripts/audit.sh again where it is reachable.")
    sys.exit(0)


allowed: dict[str, str] = {}
for number, line in enumerate(Path(allowlist_path).read_text().splitlines(), 1):
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    fields = line.split(None, 2)
    if len(fields) < 3:
        print(f"audit: {allowlist_path}:{number}: need '<id> <package> <reason>', got {line!r}")
        sys.exit(1)
    allowed[fields[0]] = f"{fields[1]}: {fields[2]}"

try:
    dependencies = json.loads(Path(report_path).read_text())["dependencies"]
except (OSError, ValueError, KeyError):
    errors = Path(errors_path).read_text().strip().splitlines()
    unreachable(errors[-1] if errors else "pip-audit wrote no report")

audited = [d for d in dependencies if "skip_reason" not in d]
if dependencies and not audited:
    unreachable(f"none of {len(dependencies)} packages was found there")

failures, accepted = [], []
for dep in audited:
    for vuln in dep.get("vulns", []):
        ids = [vuln["id"], *vuln.get("aliases", [])]
        reason = next((allowed[i] for i in ids if i in allowed), None)
        fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
        line = f"{dep['name']} {dep['version']}: {' / '.join(ids)} (fixed in {fixed})"
        (accepted if reason else failures).append(line + (f" -- allowed: {reason}" if reason else ""))

skipped = len(dependencies) - len(audited)
print(f"audit: {len(audited)} packages checked against {service}, {skipped} not found there")
for line in accepted:
    print(f"audit: accepted  {line}")
for line in failures:
    print(f"audit: VULNERABLE {line}")
if failures:
    print(f"audit: FAILED, {len(failures)} known vulnerabilities; upgrade, or review and add "
          f"them to {allowlist_path} with a reason")
    sys.exit(1)
print("audit: OK, no known vulnerability outside the allowlist")
PY
