#!/usr/bin/env bash
# Deploy (or upgrade) the CRM with plain kubectl, migrations first.
#
#   scripts/k8s/deploy.sh dev|prod [--rendered FILE] [--no-create-secrets]
#
# 1. render the overlay (kustomize build), unless --rendered gives the output
# 2. apply everything except the migration Jobs and the Deployments
#    (namespace, Kafka, PostgreSQL, topics, users, config, services, policies)
# 3. create the database role Secrets that do not exist yet (random passwords,
#    URL-safe); --no-create-secrets fails instead (production: your secret manager)
# 4. wait until Kafka, the PostgreSQL cluster, topics, users and databases are ready
# 5. replace the migration Jobs (Jobs are immutable) and wait for each to complete;
#    a failed migration stops here and the running version keeps serving
# 6. apply the Deployments and wait for every rollout
#
# Environment: KUBECTL (default "kubectl"; e.g. "kubectl --context prod"),
# CRM_DEPLOY_TIMEOUT (seconds per wait, default 900).
# Argo CD users need none of this: the manifests carry sync waves and a Sync hook.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NAMESPACE=crm
PHASE=crm/deploy-phase
TIMEOUT="${CRM_DEPLOY_TIMEOUT:-900}"
read -r -a KUBECTL <<< "${KUBECTL:-kubectl}"

log() { printf '[deploy] %s\n' "$*" >&2; }
die() { printf '[deploy] error: %s\n' "$*" >&2; exit 1; }
k() { "${KUBECTL[@]}" "$@"; }

overlay="${1:-}"
[ -n "$overlay" ] || die "usage: deploy.sh dev|prod [--rendered FILE] [--no-create-secrets]"
shift
rendered=""
create_secrets=1
while [ $# -gt 0 ]; do
    case "$1" in
        --rendered) rendered="${2:?--rendered needs a file}"; shift 2 ;;
        --no-create-secrets) create_secrets=0; shift ;;
        *) die "unknown option $1" ;;
    esac
done

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
if [ -z "$rendered" ]; then
    [ -d "$REPO/deploy/k8s/overlays/$overlay" ] || die "no overlay $overlay"
    bash "$REPO/scripts/k8s/validate.sh" render "$workdir" >/dev/null
    rendered="$workdir/$overlay.yaml"
fi
[ -s "$rendered" ] || die "nothing rendered at $rendered"

apply() {  # label selector
    k apply --server-side --field-manager=crm-deploy -f "$rendered" -l "$1"
}

# --- 2. everything that is neither a migration nor a Deployment ----------------------------
log "applying infrastructure, configuration and policies"
apply "!$PHASE"

# --- 3. database role Secrets ------------------------------------------------------------
# The role Secrets named by the Cluster's managed roles: crm-<svc>-db-<owner|app>.
secrets="$(sed -n 's/^ *name: \(crm-[a-z0-9-]*-db-\(owner\|app\)\)$/\1/p' "$rendered" | sort -u)"
[ -n "$secrets" ] || die "no database role Secrets found in the rendered Cluster"
for secret in $secrets; do
    if k -n "$NAMESPACE" get secret "$secret" >/dev/null 2>&1; then
        continue
    fi
    [ "$create_secrets" = 1 ] || die "Secret $secret is missing (created by your secret manager?)"
    role="$(printf '%s' "$secret" | sed 's/-db-/_/; s/-/_/g')"  # crm-contacts-db-app -> crm_contacts_app
    password_file="$workdir/password"
    (umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > "$password_file")
    log "creating Secret $secret for role $role"
    k -n "$NAMESPACE" create secret generic "$secret" --type=kubernetes.io/basic-auth \
        --from-literal=username="$role" --from-file=password="$password_file"
    k -n "$NAMESPACE" label secret "$secret" cnpg.io/reload=true app.kubernetes.io/part-of=crm
    rm -f "$password_file"
done

# --- 4. wait for the platform ------------------------------------------------------------
log "waiting for Kafka, PostgreSQL, topics, users and databases"
k -n "$NAMESPACE" wait --for=condition=Ready kafka/crm-kafka --timeout="${TIMEOUT}s"
k -n "$NAMESPACE" wait --for=condition=Ready cluster.postgresql.cnpg.io/crm-pg --timeout="${TIMEOUT}s"
k -n "$NAMESPACE" wait --for=condition=Ready kafkatopic -l strimzi.io/cluster=crm-kafka --timeout="${TIMEOUT}s"
k -n "$NAMESPACE" wait --for=condition=Ready kafkauser -l strimzi.io/cluster=crm-kafka --timeout="${TIMEOUT}s"
k -n "$NAMESPACE" wait --for=jsonpath='{.status.applied}'=true database.postgresql.cnpg.io --all --timeout="${TIMEOUT}s"

# --- 5. migrations -----------------------------------------------------------------------
log "running migrations"
k -n "$NAMESPACE" delete job -l "$PHASE=migrate" --ignore-not-found --wait=true
apply "$PHASE=migrate"
jobs="$(k -n "$NAMESPACE" get job -l "$PHASE=migrate" -o name)"
[ -n "$jobs" ] || die "no migration Job was created"
deadline=$((SECONDS + TIMEOUT))
for job in $jobs; do
    while :; do
        state="$(k -n "$NAMESPACE" get "$job" -o jsonpath='{.status.conditions[?(@.status=="True")].type}')"
        case " $state " in
            *" Complete "*) log "$job complete"; break ;;
            *" Failed "*)
                k -n "$NAMESPACE" logs "$job" --all-containers --tail=100 >&2 || true
                die "$job failed: nothing was rolled out"
                ;;
        esac
        [ "$SECONDS" -lt "$deadline" ] || die "$job did not finish within ${TIMEOUT}s"
        sleep 5
    done
done

# --- 6. rollout --------------------------------------------------------------------------
log "rolling out"
apply "$PHASE=rollout"
for deployment in $(k -n "$NAMESPACE" get deployment -l "$PHASE=rollout" -o name); do
    k -n "$NAMESPACE" rollout status "$deployment" --timeout="${TIMEOUT}s"
done
log "deployed overlays/$overlay"
