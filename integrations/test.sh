#!/usr/bin/env bash
# End-to-end tests of the deployment integrations against the real tools, offline:
#   - `serverless package` (Serverless Framework v3) with serverless-plugin-lambdascope
#   - `cdk synth` (aws-cdk-lib + aws-cdk CLI) with the LambdaScope construct
# Each instrumented function is compared with what `lambdascope cfn transform` (the CLI) gives
# the same function: handler, variables, layers and tag must be identical.
# Needs node/npm; runs `npm ci` (committed package-lock.json files). LAMBDASCOPE_BIN may point
# at a built binary; otherwise target/debug/lambdascope is built.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
if [[ -z "${LAMBDASCOPE_BIN:-}" ]]; then
  (cd "$root" && cargo build -q -p lambdascope)
  LAMBDASCOPE_BIN="$root/target/debug/lambdascope"
fi
export LAMBDASCOPE_BIN
export SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off SLS_DEPRECATION_DISABLE='*'
export CDK_DISABLE_VERSION_CHECK=1
# The tools read credentials even when they make no AWS call; these are fake.
export AWS_ACCESS_KEY_ID=AKIAFAKEFAKEFAKEFAKE AWS_SECRET_ACCESS_KEY=fake AWS_REGION=eu-west-1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

params=(--param layers=datadog --param region=eu-west-1 --param site=datadoghq.eu
  --param apiKeySecretArn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:dd-api-key
  --param service=shop --param env=staging --param version=1.4.0 --param tags=team:orders)
"$LAMBDASCOPE_BIN" cfn transform "$here/expected/orders.template.json" -o "$work/cli.json" "${params[@]}"

echo "== serverless package (serverless-plugin-lambdascope)"
(cd "$here/serverless-plugin" && npm ci --no-audit --no-fund --loglevel=error)
service="$here/serverless-plugin/test/service"
rm -rf "$service/.serverless"
(cd "$service" && "$here/serverless-plugin/node_modules/.bin/serverless" package)
python3 "$here/compare.py" "$service/.serverless/cloudformation-template-update-stack.json" \
  orders.handler "$work/cli.json" Orders --untouched legacy.handler index.handler
rm -rf "$service/.serverless"

echo "== cdk synth (LambdaScope construct)"
cdk="$here/cdk"
(cd "$cdk" && npm ci --no-audit --no-fund --loglevel=error && npx tsc -p .)
(cd "$cdk/test/app" && "$cdk/node_modules/.bin/cdk" synth --app "node app.js" -o "$work/cdk.out" --no-notices --quiet)
python3 "$here/compare.py" "$work/cdk.out/Shop.template.json" orders.handler "$work/cli.json" Orders \
  --untouched index.handler
echo "integrations: ok"
