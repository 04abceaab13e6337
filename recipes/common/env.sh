# Puts the project's `asr` on PATH: the .venv made by `make install` at the repository root.
_asr_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -x "$_asr_root/.venv/bin/asr" ]; then
  export PATH="$_asr_root/.venv/bin:$PATH"
elif ! command -v asr >/dev/null 2>&1; then
  echo "error: asr is not installed: run 'make install' in $_asr_root" >&2
  exit 1
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
