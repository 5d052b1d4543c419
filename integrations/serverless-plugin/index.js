'use strict';

// serverless-plugin-lambdascope: instruments the Python functions of a Serverless Framework
// service with lambdascope (library + extension layers, handler redirect, DD_* variables).
//
// The rules of instrumenting a function live once, in Rust (crate lambdascope-instrument). This
// plugin does not re-implement them: once the Framework has compiled the CloudFormation
// template, it runs `lambdascope cfn transform` on it and takes the result. So a function
// deployed with `serverless deploy` gets exactly what `lambdascope lambda instrument` or the
// CloudFormation macro would give it.

const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

// custom.lambdascope keys handled here rather than passed to the transform.
const PLUGIN_KEYS = new Set(['enabled', 'binary', 'exclude']);

class LambdascopePlugin {
  constructor(serverless, options, { log } = {}) {
    this.serverless = serverless;
    this.options = options || {};
    this.log = log || { info: (m) => serverless.cli.log(m), warning: (m) => serverless.cli.log(m) };
    if (serverless.configSchemaHandler && serverless.configSchemaHandler.defineCustomProperties) {
      serverless.configSchemaHandler.defineCustomProperties({
        type: 'object',
        properties: { lambdascope: { type: 'object' } },
      });
    }
    this.hooks = {
      // The compiled template is complete here; package:finalize writes it to .serverless/.
      'before:package:finalize': () => this.instrument(),
    };
  }

  config() {
    const custom = this.serverless.service.custom || {};
    return custom.lambdascope || {};
  }

  /** The transform parameters: custom.lambdascope, with region/service/env defaults. */
  transformParams() {
    const config = this.config();
    const service = this.serverless.service;
    const provider = this.serverless.getProvider('aws');
    const params = {
      region: provider.getRegion(),
      service: typeof service.service === 'string' ? service.service : service.service.name,
      env: provider.getStage(),
    };
    for (const [key, value] of Object.entries(config)) {
      if (!PLUGIN_KEYS.has(key) && value !== undefined && value !== null) {
        params[key] = Array.isArray(value) ? value.join(',') : String(value);
      }
    }
    const exclude = config.exclude || [];
    if (exclude.length > 0) {
      // Function names in serverless.yml become logical ids (`hello` -> `HelloLambdaFunction`).
      params.exclude = exclude.map((name) => provider.naming.getLambdaLogicalId(name)).join(',');
    }
    return params;
  }

  binary() {
    return this.config().binary || process.env.LAMBDASCOPE_BIN || 'lambdascope';
  }

  instrument() {
    if (this.config().enabled === false) {
      this.log.info('lambdascope: disabled (custom.lambdascope.enabled: false)');
      return;
    }
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lambdascope-sls-'));
    const input = path.join(dir, 'template.json');
    const output = path.join(dir, 'instrumented.json');
    try {
      fs.writeFileSync(input, JSON.stringify(template, null, 2));
      const args = ['cfn', 'transform', input, '-o', output];
      for (const [key, value] of Object.entries(this.transformParams())) {
        args.push('--param', `${key}=${value}`);
      }
      try {
        execFileSync(this.binary(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        if (err.code === 'ENOENT') {
          throw new this.serverless.classes.Error(
            `lambdascope: the lambdascope binary was not found (${this.binary()}); install it, or set custom.lambdascope.binary or LAMBDASCOPE_BIN`
          );
        }
        const stderr = (err.stderr || '').toString().trim();
        throw new this.serverless.classes.Error(`lambdascope: ${stderr || err.message}`);
      }
      const instrumented = JSON.parse(fs.readFileSync(output, 'utf8'));
      // Replace the contents in place: other plugins hold references to this object.
      for (const key of Object.keys(template)) delete template[key];
      Object.assign(template, instrumented);
      this.log.info('lambdascope: instrumented the Python functions of the compiled template');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

module.exports = LambdascopePlugin;
