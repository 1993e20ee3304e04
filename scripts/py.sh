#!/bin/sh
# Runs the PyTorch twin's Python: the first of $MEDRANK_PYTHON, Debian's /usr/bin/python3
# (python3-torch) and the python3 on PATH that imports torch, with python/ on PYTHONPATH.
here=$(cd "$(dirname "$0")/.." && pwd)
for p in "${MEDRANK_PYTHON:-}" /usr/bin/python3 python3; do
  if [ -n "$p" ] && "$p" -c "import torch" 2>/dev/null; then
    PYTHONPATH="$here/python${PYTHONPATH:+:$PYTHONPATH}" exec "$p" "$@"
  fi
done
echo "no python3 with torch: apt-get install python3-torch libopenblas0-pthread python3-pytest (or set MEDRANK_PYTHON)" >&2
exit 2
