// CDK app synthesized by integrations/test.sh: one Python function instrumented by the
// LambdaScope construct, one Node.js function it must leave alone.
const cdk = require('aws-cdk-lib');
const lambda = require('aws-cdk-lib/aws-lambda');
const { LambdaScope } = require('../../lib');

const app = new cdk.App();
const stack = new cdk.Stack(app, 'Shop', { env: { account: '123456789012', region: 'eu-west-1' } });
const orders = new lambda.Function(stack, 'Orders', {
  runtime: lambda.Runtime.PYTHON_3_11,
  architecture: lambda.Architecture.ARM_64,
  handler: 'orders.handler',
  code: lambda.Code.fromInline('def handler(event, context):\n    return {"ok": True}\n'),
  environment: { LOG_FORMAT: 'json', TABLE: 'orders' },
});
new lambda.Function(stack, 'Frontend', {
  runtime: lambda.Runtime.NODEJS_20_X,
  handler: 'index.handler',
  code: lambda.Code.fromInline('exports.handler = async () => ({ ok: true });'),
});
const lambdascope = new LambdaScope(stack, 'LambdaScope', {
  layers: 'datadog',
  site: 'datadoghq.eu',
  apiKeySecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:dd-api-key',
  service: 'shop',
  env: 'staging',
  version: '1.4.0',
  tags: 'team:orders',
});
lambdascope.addLambdaFunctions([orders]);
app.synth();
