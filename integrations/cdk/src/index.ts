/**
 * lambdascope-cdk: the `LambdaScope` construct instruments Python Lambda functions with
 * lambdascope (library + extension layers, handler redirect, DD_* variables).
 *
 * The rules of instrumenting a function live once, in Rust (crate lambdascope-instrument). This
 * construct does not re-implement them: during synthesis (an aspect, before the template is
 * written) it renders each function's CloudFormation resource, runs `lambdascope cfn transform`
 * on them and writes the result back as property overrides. A function deployed with CDK gets
 * exactly what `lambdascope lambda instrument`, the macro or the Serverless plugin give it.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { Aspects, IAspect, Stack, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct, IConstruct } from 'constructs';

/** Transform parameters, named as for `lambdascope cfn transform --param` (see docs/install.md). */
export interface LambdaScopeProps {
  /** `lambdascope` (layers from `lambdascope layer publish`, default) or `datadog`. */
  readonly layers?: 'lambdascope' | 'datadog';
  /** Library layer version, or `none`. Required with `layers: 'lambdascope'` unless an ARN is given. */
  readonly libraryLayerVersion?: number | 'none';
  /** Extension layer version, or `none`. */
  readonly extensionLayerVersion?: number | 'none';
  readonly libraryLayerArn?: string;
  readonly extensionLayerArn?: string;
  /** Account that published our layers (default: the deploying account). */
  readonly layerAccount?: string;
  readonly site?: string;
  readonly apiKeySecretArn?: string;
  readonly apiKeySsmArn?: string;
  readonly apiKmsKey?: string;
  /** Plain-text key: for tests only; use a secret. */
  readonly apiKey?: string;
  readonly tracing?: boolean;
  readonly mergeXrayTraces?: boolean;
  readonly flushMetricsToLogs?: boolean;
  readonly captureLambdaPayload?: boolean;
  readonly logging?: boolean;
  readonly logLevel?: string;
  readonly service?: string;
  readonly env?: string;
  readonly version?: string;
  /** `key:value,key:value`, added to DD_TAGS. */
  readonly tags?: string;
  readonly apmFlushDeadline?: string;
  /** Path of the lambdascope binary (default: `LAMBDASCOPE_BIN`, else `lambdascope` on PATH). */
  readonly binary?: string;
}

const NOT_PARAMETERS = new Set(['binary']);

export class LambdaScope extends Construct {
  private readonly functions: lambda.Function[] = [];
  private done = false;

  constructor(scope: Construct, id: string, private readonly props: LambdaScopeProps = {}) {
    super(scope, id);
    const owner = this;
    const aspect: IAspect = {
      visit(node: IConstruct) {
        if (node === owner) {
          owner.instrument();
        }
      },
    };
    Aspects.of(this).add(aspect);
  }

  /** Instruments these functions when the app is synthesized. */
  public addLambdaFunctions(functions: lambda.Function[]): void {
    this.functions.push(...functions);
  }

  private transformParams(): string[] {
    const args: string[] = [];
    const region = Stack.of(this).region;
    if (!Token.isUnresolved(region)) {
      args.push('--param', `region=${region}`);
    }
    for (const [key, value] of Object.entries(this.props)) {
      if (!NOT_PARAMETERS.has(key) && value !== undefined && value !== null) {
        args.push('--param', `${key}=${String(value)}`);
      }
    }
    return args;
  }

  private instrument(): void {
    if (this.done || this.functions.length === 0) {
      return;
    }
    this.done = true;
    const stack = Stack.of(this);
    const resources: Record<string, unknown> = {};
    const byId = new Map<string, lambda.CfnFunction>();
    for (const fn of this.functions) {
      const cfn = fn.node.defaultChild as lambda.CfnFunction;
      const id = stack.getLogicalId(cfn);
      const rendered = stack.resolve((cfn as any)._toCloudFormation()) as { Resources: Record<string, unknown> };
      Object.assign(resources, rendered.Resources);
      byId.set(id, cfn);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lambdascope-cdk-'));
    try {
      const input = path.join(dir, 'template.json');
      const output = path.join(dir, 'instrumented.json');
      fs.writeFileSync(input, JSON.stringify({ Resources: resources }, null, 2));
      const binary = this.props.binary ?? process.env.LAMBDASCOPE_BIN ?? 'lambdascope';
      try {
        execFileSync(binary, ['cfn', 'transform', input, '-o', output, ...this.transformParams()], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (err: any) {
        const detail = err.code === 'ENOENT'
          ? `the lambdascope binary was not found (${binary}); install it, or set the binary prop or LAMBDASCOPE_BIN`
          : (err.stderr || '').toString().trim() || err.message;
        throw new Error(`lambdascope: ${detail}`);
      }
      const result = JSON.parse(fs.readFileSync(output, 'utf8')) as { Resources: Record<string, any> };
      for (const [id, cfn] of byId) {
        const props = result.Resources[id]?.Properties ?? {};
        if (props.Handler !== undefined) cfn.addPropertyOverride('Handler', props.Handler);
        if (props.Environment?.Variables !== undefined) {
          cfn.addPropertyOverride('Environment.Variables', props.Environment.Variables);
        }
        if (props.Layers !== undefined) cfn.addPropertyOverride('Layers', props.Layers);
        for (const tag of (props.Tags ?? []) as { Key: string; Value: string }[]) {
          cfn.tags.setTag(tag.Key, tag.Value);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}
