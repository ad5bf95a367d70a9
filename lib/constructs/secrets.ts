import { RemovalPolicy } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface SecretsProps {
  /** Create the secret CloudFront sends to the API as `x-origin-verify`. */
  readonly originVerify: boolean;
}

/** A random string of letters and digits (no punctuation: it travels in URLs, headers and ACL commands). */
function generated(scope: Construct, id: string, description: string, length: number): secretsmanager.Secret {
  return new secretsmanager.Secret(scope, id, {
    description,
    generateSecretString: { passwordLength: length, excludePunctuation: true, includeSpace: false },
  });
}

/**
 * The stack's generated secrets, in Secrets Manager. None is ever written into the template: the
 * services read them as ECS secrets or at start, and CloudFormation resolves the two it must pass
 * on (the Valkey user's password, CloudFront's origin header) through dynamic references.
 */
export class Secrets extends Construct {
  /** Valkey RBAC password of the `blipline` user (worker: ECS secret; API: read at cold start). */
  readonly redisPassword: secretsmanager.Secret;
  /** Key of the HMAC that turns a dropped object's key into its image id (worker). Never rotated: ids depend on it. */
  readonly objectIdSecret: secretsmanager.Secret;
  /** Value of CloudFront's `x-origin-verify` origin header; the API refuses requests without it. */
  readonly originVerify: secretsmanager.Secret | undefined;

  constructor(scope: Construct, id: string, props: SecretsProps) {
    super(scope, id);
    this.redisPassword = generated(this, 'RedisPassword', 'blipline: password of the Valkey user blipline', 32);
    this.objectIdSecret = generated(this, 'ObjectIdSecret', 'blipline: HMAC key of dropped objects image ids (changing it changes every such id)', 64);
    // Losing it would change every dropped object's image id: keep it when the stack goes.
    this.objectIdSecret.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.originVerify = props.originVerify ? generated(this, 'OriginVerify', 'blipline: x-origin-verify header CloudFront sends to the API', 48) : undefined;
  }

  /** Every secret the services read at run time (for the Secrets Manager endpoint's policy). */
  get runtimeSecrets(): secretsmanager.ISecret[] {
    return [this.redisPassword, this.objectIdSecret];
  }
}
