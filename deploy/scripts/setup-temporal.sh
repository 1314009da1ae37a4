#!/bin/sh
# One shot (temporalio/admin-tools): create the namespace if missing and register every custom
# search attribute in $SEARCH_ATTRIBUTES ("Name=Type ...") that the namespace lacks.
set -eu

: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}" "${SEARCH_ATTRIBUTES:?}"

echo "waiting for Temporal at $TEMPORAL_ADDRESS"
tries=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "Temporal did not become healthy"; exit 1; }
  sleep 2
done

if ! temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" >/dev/null 2>&1; then
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" \
    --retention "${NAMESPACE_RETENTION:-30d}"
  echo "created namespace $NAMESPACE"
fi

# A new namespace reaches every service's cache within about 10 s.
tries=0
until existing=$(temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" -o json); do
  tries=$((tries + 1))
  [ "$tries" -lt 30 ] || { echo "namespace $NAMESPACE did not become usable"; exit 1; }
  sleep 2
done
for pair in $SEARCH_ATTRIBUTES; do
  name=${pair%%=*}
  type=${pair#*=}
  if printf '%s' "$existing" | grep -q "\"$name\""; then
    echo "search attribute $name exists"
  else
    temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" \
      --name "$name" --type "$type"
    echo "registered search attribute $name ($type)"
  fi
done
