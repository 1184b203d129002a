#!/usr/bin/env bash
# Offline validation of deploy/k8s (`make k8s`).
#
#   scripts/k8s/validate.sh            everything below, in order
#   scripts/k8s/validate.sh install    kustomize + kubeconform (go install, pinned, cached)
#   scripts/k8s/validate.sh schemas    JSON Schemas: Kubernetes built-ins + ../shared/crds
#   scripts/k8s/validate.sh render DIR kustomize build of every overlay into DIR/<overlay>.yaml
#
# Steps of the full run:
#   1. generated files up to date (scripts/k8s/gen_manifests.py services --check)
#   2. render overlays/dev and overlays/prod with kustomize
#   3. kubeconform -strict: built-in kinds against the Kubernetes OpenAPI schemas,
#      Strimzi/CloudNativePG kinds against their CRDs; missing schemas fail
#   4. policy tests (pytest tests/k8s) over the rendered YAML
#
# Nothing is fetched at validation time except Go modules from the module proxy
# (first run only): the kustomize and kubeconform sources, and k8s.io/kubernetes,
# whose api/openapi-spec/v3 documents are converted to JSON Schemas locally.
# kubeconform itself runs in a network namespace without network when
# `unshare -n` is permitted, which proves it never downloads a schema.
#
# Environment:
#   CRM_K8S_CACHE          cache of converted schemas (default ~/.cache/crm-k8s)
#   CRM_K8S_CRDS           CRD folder (default ../shared/crds from the repository root)
#   CRM_K8S_NO_TESTS=1     skip step 4 (when the caller runs pytest tests/k8s itself)
#   CRM_K8S_PYTEST         command that runs pytest (`make k8s` passes the project venv's)
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.2          # v5.8.3 needs Go >= 1.27
KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VERSION=v1.35.4        # schemas from k8s.io/kubernetes@this version
OVERLAYS=(dev prod)

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CRD_DIR="${CRM_K8S_CRDS:-$REPO/../shared/crds}"
[ -d "$CRD_DIR" ] && CRD_DIR="$(cd "$CRD_DIR" && pwd)"
CACHE="${CRM_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/crm-k8s}"
GOBIN_DIR="${GOBIN:-$HOME/go/bin}"
KUSTOMIZE="$GOBIN_DIR/kustomize"
KUBECONFORM="$GOBIN_DIR/kubeconform"

log() { printf '[k8s] %s\n' "$*" >&2; }
die() { printf '[k8s] error: %s\n' "$*" >&2; exit 1; }

# --- tools --------------------------------------------------------------------
installed_version() {  # module version baked into a Go binary, or nothing
    [ -x "$1" ] || return 0
    go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

go_install() {  # binary package version
    local bin="$1" pkg="$2" version="$3"
    if [ "$(installed_version "$GOBIN_DIR/$bin")" = "$version" ]; then
        return 0
    fi
    log "installing $bin $version (go install $pkg)"
    GOBIN="$GOBIN_DIR" GOFLAGS=-mod=mod GOTOOLCHAIN=local go install "$pkg@$version"
}

cmd_install() {
    command -v go >/dev/null || die "go is required to install kustomize and kubeconform"
    mkdir -p "$GOBIN_DIR"
    go_install kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"
    go_install kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
    printf 'KUSTOMIZE=%s\nKUBECONFORM=%s\n' "$KUSTOMIZE" "$KUBECONFORM"
}

# --- python (the CRD converter needs PyYAML) ------------------------------------
PYTHON=()
pick_python() {
    [ ${#PYTHON[@]} -gt 0 ] && return 0
    if python3 -c 'import yaml' 2>/dev/null; then
        PYTHON=(python3)
    elif command -v uv >/dev/null; then
        PYTHON=(uv run --no-project --quiet --with pyyaml python3)
    else
        die "python3 with PyYAML (or uv) is required"
    fi
}

# --- schemas ------------------------------------------------------------------
K8S_SCHEMAS=""
CRD_SCHEMAS=""
publish() {  # move DIR.tmp.PID into place atomically; a concurrent run may have won already
    local final="$1" staged="$1.tmp.$$"
    touch "$staged/.complete"
    rm -rf "$final.old.$$"
    if [ -d "$final" ]; then mv "$final" "$final.old.$$"; fi
    mv -T "$staged" "$final" 2>/dev/null || rm -rf "$staged"
    rm -rf "$final.old.$$"
}
cmd_schemas() {
    command -v go >/dev/null || die "go is required to fetch the Kubernetes OpenAPI documents"
    [ -d "$CRD_DIR" ] || die "CRDs not found at $CRD_DIR"
    pick_python
    local converter_hash module_dir
    converter_hash="$(sha256sum "$REPO/scripts/k8s/jsonschemas.py" | cut -c1-12)"

    K8S_SCHEMAS="$CACHE/kubernetes-$KUBERNETES_VERSION-$converter_hash"
    if [ ! -f "$K8S_SCHEMAS/.complete" ]; then
        log "fetching k8s.io/kubernetes@$KUBERNETES_VERSION (OpenAPI v3 documents) from the Go module proxy"
        module_dir="$(GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
            | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d.get("Error")) if d.get("Error") else print(d["Dir"])')"
        python3 "$REPO/scripts/k8s/jsonschemas.py" k8s --openapi-dir "$module_dir/api/openapi-spec/v3" \
            --out "$K8S_SCHEMAS.tmp.$$"
        publish "$K8S_SCHEMAS"
    fi

    CRD_SCHEMAS="$CACHE/crds-$(python3 "$REPO/scripts/k8s/jsonschemas.py" fingerprint "$CRD_DIR"/*/)"
    if [ ! -f "$CRD_SCHEMAS/.complete" ]; then
        log "converting the CRDs in $CRD_DIR"
        local args=()
        for dir in "$CRD_DIR"/*/; do args+=(--crd-dir "$dir"); done
        "${PYTHON[@]}" "$REPO/scripts/k8s/jsonschemas.py" crds "${args[@]}" --out "$CRD_SCHEMAS.tmp.$$"
        publish "$CRD_SCHEMAS"
    fi
    printf 'K8S_SCHEMAS=%s\nCRD_SCHEMAS=%s\n' "$K8S_SCHEMAS" "$CRD_SCHEMAS"
}

# --- render / validate ----------------------------------------------------------
cmd_render() {
    local out="${1:?render needs an output directory}"
    mkdir -p "$out"
    for overlay in "${OVERLAYS[@]}"; do
        "$KUSTOMIZE" build "$REPO/deploy/k8s/overlays/$overlay" > "$out/$overlay.yaml"
        log "rendered overlays/$overlay: $(grep -c '^kind:' "$out/$overlay.yaml") resources"
    done
}

kubeconform_offline() {
    local runner=()
    if unshare -n true 2>/dev/null; then
        runner=(unshare -n)  # no network at all: any schema download would fail
    fi
    "${runner[@]}" "$KUBECONFORM" -strict -summary -output text \
        -schema-location "$K8S_SCHEMAS/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
        -schema-location "$CRD_SCHEMAS/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
        "$@"
}

RENDER_DIR=""
cleanup() { if [ -n "$RENDER_DIR" ]; then rm -rf "$RENDER_DIR"; fi; }
trap cleanup EXIT

cmd_all() {
    local started=$SECONDS
    cmd_install >/dev/null
    cmd_schemas >/dev/null

    log "checking generated files"
    python3 "$REPO/scripts/k8s/gen_manifests.py" services --check

    RENDER_DIR="$(mktemp -d)"
    cmd_render "$RENDER_DIR"

    log "kubeconform (Kubernetes $KUBERNETES_VERSION schemas + CRDs)"
    kubeconform_offline "$RENDER_DIR"/*.yaml

    if [ "${CRM_K8S_NO_TESTS:-0}" != 1 ]; then
        log "policy tests"
        local pytest_cmd
        if [ -n "${CRM_K8S_PYTEST:-}" ]; then
            read -r -a pytest_cmd <<< "$CRM_K8S_PYTEST"
        elif [ -x "$REPO/.venv/bin/python" ]; then
            pytest_cmd=("$REPO/.venv/bin/python" -m pytest)
        else
            pytest_cmd=(python3 -m pytest)
        fi
        (cd "$REPO" && CRM_K8S_RENDERED_DIR="$RENDER_DIR" CRM_K8S_K8S_SCHEMAS="$K8S_SCHEMAS" \
            CRM_K8S_CRD_SCHEMAS="$CRD_SCHEMAS" "${pytest_cmd[@]}" -q tests/k8s)
    fi
    log "ok in $((SECONDS - started))s"
}

case "${1:-all}" in
    all) cmd_all ;;
    install) cmd_install ;;
    schemas) cmd_schemas ;;
    render) cmd_install >/dev/null; cmd_render "${2:-}" ;;
    -h|--help|help) sed -n '2,30p' "$0" ;;
    *) die "unknown command: $1 (all | install | schemas | render DIR)" ;;
esac
