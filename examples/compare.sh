#!/usr/bin/env bash
# Measures zhengyin against its peers in one run, on the same files, and prints a markdown
# table of medians and ratios (peer / zhengyin):
#   sealing at PAdES B-B with a visible widget, ECDSA P-256 on both sides, three corpus files
#     (sf-google-docs.pdf, 78 KB: the file nearest 100 KB that pyHanko can sign, as
#     pdfjs-signed-qualified-2011.pdf's XMP makes pyHanko fail; pdfjs-pdkids-55p.pdf, 55
#     pages; pdfjs-a3-landscape-1.3.pdf, A3):
#     - whole commands: `zhengyin seal IN OUT --dept CODE --level B-B` on a fresh installation
#       vs `pyhanko sign addsig --use-pades ... pemder` with an EC P-256 key under a small root
#       made here with openssl;
#     - in-process, warm: examples/compare_inprocess.rs (the library's zhengyin::seal::stamp,
#       no service) vs examples/compare_pyhanko.py (pyHanko's PdfSigner in one interpreter);
#   verifying sf-google-docs.pdf sealed by `zhengyin seal` (default level B-T):
#     - whole commands: `zhengyin verify` (service path, audit record included) vs `pdfsig`
#       (trusting the root through an NSS database) vs `pyhanko sign validate
#       --no-revocation-check --trust ROOT`;
#     - in-process: zhengyin::pdf::validate::verify_pdf vs pyHanko's validate_pdf_signature.
# Every output is checked, so that the times are of real work: pdfsig must call each signature
# valid and trusted (with `zhengyin serve` answering OCSP at the certificates' URL meanwhile,
# as NSS reports "Unknown issue with Certificate" when it cannot ask); each verifier must say
# valid. pdfsig is timed with -no-ocsp, as pyHanko is with --no-revocation-check.
#
# Usage: bash examples/compare.sh   (from the repository; RUNS=N sets the runs of every
# measurement, default 20 for whole commands and 50 in-process; SHARED= the shared folder,
# default ../shared; KIT_VENV= the validators' venv). Builds the release binary and example
# with cargo (CARGO_TARGET_DIR is honoured). Needs cargo, openssl, pdfsig, certutil and the
# validators' venv (bash ../shared/validate/install.sh).
set -euo pipefail
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
CORPUS="$SHARED/corpus"
VENV="${KIT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/zhengyin-validators/venv}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
WHOLE_RUNS="${RUNS:-20}"
IN_PROCESS_RUNS="${RUNS:-50}"
FILES=(sf-google-docs.pdf pdfjs-pdkids-55p.pdf pdfjs-a3-landscape-1.3.pdf)
VERIFY_FILE=sf-google-docs.pdf
CREDIT_CODE=11350200MB0D00002U

die() {
  echo "compare.sh: $*" >&2
  exit 1
}

[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 or later (EPOCHREALTIME)"
for tool in cargo openssl pdfsig certutil; do
  command -v "$tool" >/dev/null || die "$tool is missing (pdfsig: poppler-utils; certutil: libnss3-tools)"
done
for tool in python pyhanko; do
  [ -x "$VENV/bin/$tool" ] || die "$VENV/bin/$tool is missing: run bash ../shared/validate/install.sh"
done
for file in "${FILES[@]}"; do
  [ -f "$CORPUS/$file" ] || die "$CORPUS/$file is missing (set SHARED=)"
done

echo "building the release binary and examples/compare_inprocess.rs..." >&2
(cd "$ROOT" && cargo build --quiet --release --bin zhengyin --example compare_inprocess) ||
  die "cargo build failed"
ZHENGYIN="$TARGET/release/zhengyin"
INPROCESS="$TARGET/release/examples/compare_inprocess"
PYHANKO="$VENV/bin/pyhanko"
PEER_PY=("$VENV/bin/python" "$ROOT/examples/compare_pyhanko.py")

WORK="$(mktemp -d)"
SERVER=""
trap '[ -z "$SERVER" ] || kill "$SERVER"; rm -rf "$WORK"' EXIT
DATA="$WORK/data"
PKI="$WORK/pki"
NSS="sql:$WORK/nss"
mkdir -p "$PKI" "$WORK/nss" "$WORK/ours-in-process" "$WORK/theirs-in-process"

# A fresh installation with one department, its certificates naming a free local port.
PORT="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export ZHENGYIN_PUBLIC_URL="http://127.0.0.1:$PORT"
"$ZHENGYIN" --data-dir "$DATA" dept add --name 厦门市市场监督管理局 --credit-code "$CREDIT_CODE" \
  --division-code 350200 --seal-name 行政审批专用章 --seal-code 3502000012345 >/dev/null 2>&1 ||
  die "could not make a fresh installation with zhengyin dept add"
OUR_ROOT="$DATA/certs/root.pem"

# The peer's key: ECDSA P-256 like ours, under a small root.
(
  cd "$PKI"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key \
    -out root.pem -days 30 -sha256 -subj "/CN=compare.sh Root CA (test)" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout signer.key \
    -out signer.csr -subj "/CN=compare.sh Signer (test)"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n' >signer.ext
  openssl x509 -req -in signer.csr -CA root.pem -CAkey root.key -CAcreateserial -out signer.pem \
    -days 30 -sha256 -extfile signer.ext
) >/dev/null 2>&1 || die "openssl could not make the EC P-256 test PKI"

# pdfsig trusts both roots.
certutil -N --empty-password -d "$NSS" >/dev/null
certutil -A -n zhengyin -t C,C,C -d "$NSS" -i "$OUR_ROOT"
certutil -A -n peer -t C,C,C -d "$NSS" -i "$PKI/root.pem"

# check_pdfsig FILE: pdfsig (with OCSP) finds at least one signature, and calls every one valid and trusted.
check_pdfsig() {
  local report signatures
  report="$(pdfsig -nssdir "$NSS" "$1" 2>&1)" || die "pdfsig failed on $1: $report"
  signatures="$(grep -c '^Signature #' <<<"$report" || true)"
  if [ "$signatures" -eq 0 ] ||
    [ "$(grep -c 'Signature is Valid' <<<"$report")" -ne "$signatures" ] ||
    [ "$(grep -c 'Certificate is Trusted' <<<"$report")" -ne "$signatures" ]; then
    die "pdfsig does not call every signature of $1 valid and trusted: $report"
  fi
}

# median_ms N COMMAND...: runs COMMAND once to warm up (it must succeed), then N times; prints
# the (upper) median wall time in ms.
median_ms() {
  local runs="$1" i started
  shift
  "$@" >"$WORK/last.out" 2>&1 || die "failed: $* — $(cat "$WORK/last.out")"
  for ((i = 0; i < runs; i++)); do
    started="$EPOCHREALTIME"
    "$@" >/dev/null 2>&1 || die "failed: $*"
    echo "$started $EPOCHREALTIME"
  done | awk '{ print ($2 - $1) * 1000 }' | sort -g | awk '{ t[NR] = $1 } END { print t[int(NR / 2) + 1] }'
}

# in_process_ms OUTPUT FILE: the median the in-process helpers printed for FILE.
in_process_ms() {
  awk -F '\t' -v file="$2" '$1 == file { print $2 }' <<<"$1"
}

TO_CHECK=()
ROWS=()
# row TASK HOW FILE OURS PEER THEIRS
row() {
  ROWS+=("$(awk -v task="$1" -v how="$2" -v file="$3" -v ours="$4" -v peer="$5" -v theirs="$6" \
    'BEGIN { printf "| %s | %s | %s | %.2f ms | %s | %.2f ms | %.1f× |", task, how, file, ours, peer, theirs, theirs / ours }')")
}

size_of() {
  echo "$1 ($(($(stat -c %s "$CORPUS/$1") / 1024)) KB)"
}

for file in "${FILES[@]}"; do
  echo "sealing $file, whole commands, $WHOLE_RUNS runs each..." >&2
  ours="$(median_ms "$WHOLE_RUNS" "$ZHENGYIN" --data-dir "$DATA" seal "$CORPUS/$file" \
    "$WORK/ours-$file" --dept "$CREDIT_CODE" --level B-B)"
  theirs="$(median_ms "$WHOLE_RUNS" "$PYHANKO" sign addsig --field "1/360,40,560,120/Sig" \
    --use-pades pemder --key "$PKI/signer.key" --cert "$PKI/signer.pem" \
    --chain "$PKI/root.pem" --no-pass "$CORPUS/$file" "$WORK/theirs-$file")"
  TO_CHECK+=("$WORK/ours-$file" "$WORK/theirs-$file")
  row "seal B-B" "whole command" "$(size_of "$file")" "$ours" "pyHanko \`sign addsig\`" "$theirs"
done

echo "sealing in-process, $IN_PROCESS_RUNS runs per file each..." >&2
paths=("${FILES[@]/#/$CORPUS/}")
ours="$("$INPROCESS" seal "$IN_PROCESS_RUNS" "$WORK/ours-in-process" "${paths[@]}")" ||
  die "compare_inprocess seal failed"
certutil -A -n zhengyin-in-process -t C,C,C -d "$NSS" -i "$WORK/ours-in-process/root.der"
theirs="$("${PEER_PY[@]}" sign "$IN_PROCESS_RUNS" "$PKI/signer.key" "$PKI/signer.pem" \
  "$PKI/root.pem" "$WORK/theirs-in-process" "${paths[@]}")" || die "compare_pyhanko.py sign failed"
for file in "${FILES[@]}"; do
  TO_CHECK+=("$WORK/ours-in-process/$file" "$WORK/theirs-in-process/$file")
  row "seal B-B" "in-process, warm" "$(size_of "$file")" "$(in_process_ms "$ours" "$file")" \
    "pyHanko \`PdfSigner\`" "$(in_process_ms "$theirs" "$file")"
done

SEALED="$WORK/sealed.pdf"
"$ZHENGYIN" --data-dir "$DATA" seal "$CORPUS/$VERIFY_FILE" "$SEALED" --dept "$CREDIT_CODE" \
  >/dev/null 2>&1 || die "zhengyin seal (B-T) failed on $VERIFY_FILE"
TO_CHECK+=("$SEALED")
sealed_label="$VERIFY_FILE sealed B-T ($(($(stat -c %s "$SEALED") / 1024)) KB)"
echo "verifying, whole commands, $WHOLE_RUNS runs each..." >&2
ours="$(median_ms "$WHOLE_RUNS" "$ZHENGYIN" --data-dir "$DATA" verify "$SEALED")"
pdfsig_ms="$(median_ms "$WHOLE_RUNS" pdfsig -no-ocsp -nssdir "$NSS" "$SEALED")"
theirs="$(median_ms "$WHOLE_RUNS" "$PYHANKO" sign validate --no-revocation-check \
  --trust "$OUR_ROOT" "$SEALED")"
row "verify" "whole command" "$sealed_label" "$ours" "poppler \`pdfsig -no-ocsp\`" "$pdfsig_ms"
row "verify" "whole command" "$sealed_label" "$ours" "pyHanko \`sign validate\`" "$theirs"
echo "verifying in-process, $IN_PROCESS_RUNS runs each..." >&2
ours="$("$INPROCESS" verify "$IN_PROCESS_RUNS" "$OUR_ROOT" "$SEALED")" ||
  die "compare_inprocess verify failed"
theirs="$("${PEER_PY[@]}" validate "$IN_PROCESS_RUNS" "$OUR_ROOT" "$SEALED")" ||
  die "compare_pyhanko.py validate failed"
row "verify" "in-process, warm" "$sealed_label" "$(in_process_ms "$ours" sealed.pdf)" \
  "pyHanko \`validate_pdf_signature\`" "$(in_process_ms "$theirs" sealed.pdf)"

echo "checking every output with pdfsig, zhengyin serving OCSP..." >&2
"$ZHENGYIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in {1..100}; do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
for file in "${TO_CHECK[@]}"; do
  check_pdfsig "$file"
done
kill "$SERVER"
SERVER=""

echo "## zhengyin vs peers"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "- zhengyin $("$ZHENGYIN" --version | awk '{ print $2 }') ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no git')), release build"
echo "- $("$PYHANKO" --version) on Python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())'); $(pdfsig -v 2>&1 | head -1)"
echo "- runs: $WHOLE_RUNS per whole command (after one warm-up run), $IN_PROCESS_RUNS in-process (after one warm-up); medians; ratio = peer / zhengyin"
echo
echo "| task | how | file | zhengyin | peer | peer's time | ratio |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
